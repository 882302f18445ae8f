//! Property tests of whole runs: random small but valid scenarios, written as TOML with
//! every parameter inside its documented range, validate and run without a panic or an
//! error, and their reports keep the accounting identities.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chipmarket_engine::calendar::Date;
use chipmarket_engine::{run, RunOptions, RunReport, Scenario};
use chrono::{Datelike, Days, Months, NaiveDate};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct GenChip {
    launch: i64,
    end_of_sale: Option<i64>,
    tflops: f64,
    tpp: Option<f64>,
    dies_per_wafer: f64,
    hbm_stacks: f64,
    unit_cost: f64,
    price_markup: Option<f64>,
}

#[derive(Debug, Clone)]
struct GenNextGen {
    cycle_years: f64,
    cycle_shape: f64,
    rd_reference: f64,
    rd_elasticity: f64,
    gain_median: f64,
    gain_sigma: f64,
    max_tflops: Option<f64>,
    cost_growth: f64,
}

#[derive(Debug, Clone)]
struct GenFunding {
    kind: &'static str,
    date: i64,
    amount: f64,
    ev_sales: f64,
    premium: f64,
    float_share: f64,
}

#[derive(Debug, Clone)]
struct GenFirm {
    foreign: bool,
    cash: f64,
    rd_intensity: f64,
    rd_floor: f64,
    fixed_costs: f64,
    ecosystem: f64,
    margin_target: f64,
    floor_fraction: f64,
    supply_risk: f64,
    capacity: f64,
    capacity_growth: f64,
    slip_sd: f64,
    chips: Vec<GenChip>,
    next_gen: Option<GenNextGen>,
    funding: Vec<GenFunding>,
}

#[derive(Debug, Clone)]
struct GenCustomer {
    kind: &'static str,
    weight: f64,
    tenders: Option<f64>,
    weights: [f64; 5],
    noise: f64,
    max_vendor_share: f64,
    mandate: f64,
    /// Relationship strength by firm position (kept for firms that exist).
    relationships: Vec<(usize, f64)>,
}

#[derive(Debug, Clone)]
struct GenSupplier {
    kind: &'static str,
    capacity: f64,
    growth: f64,
    yield_start: f64,
    yield_end: Option<f64>,
    learning: f64,
    max_tflops: Option<f64>,
    expansions: Vec<(i64, f64)>,
}

#[derive(Debug, Clone)]
struct GenRegime {
    foreign_max_tpp: Option<f64>,
    /// Positions into the list of all chip ids.
    excluded: Vec<usize>,
    license_required: bool,
    approval: f64,
    delay: u32,
    export_fee: f64,
    discouraged: f64,
    mandate: [f64; 3],
    subsidy: f64,
    cut: Vec<usize>,
}

#[derive(Debug, Clone)]
struct GenScenario {
    start: (i32, u32, u32),
    /// Quarters of horizon, or a horizon in years when `None`.
    quarters: Option<u32>,
    years: f64,
    seed: u64,
    tick_days: u32,
    bass: bool,
    demand: [f64; 12],
    windows: (u32, u32, u32),
    market: [f64; 6],
    supersede: u32,
    firms: Vec<GenFirm>,
    customers: Vec<GenCustomer>,
    suppliers: Vec<GenSupplier>,
    /// (supplier, firm, weight, tag positions).
    links: Vec<(usize, usize, f64, Vec<usize>)>,
    regimes: Vec<GenRegime>,
    initial: Option<usize>,
    /// (day offset, regime).
    schedule: Vec<(i64, usize)>,
    /// (start offset, rules).
    switching: Option<(Option<i64>, Vec<SwitchRule>)>,
}

/// A switching rule: regime, mean dwell in years, (target regime, weight).
type SwitchRule = (usize, f64, Vec<(usize, f64)>);

const TAGS: [&str; 3] = ["tools", "hbm", "cowos"];

fn chip() -> impl Strategy<Value = GenChip> {
    (
        prop_oneof![3 => -730i64..0, 1 => 0i64..1095],
        prop::option::of(1i64..2000),
        1.0f64..5000.0,
        prop::option::of(0.0f64..100_000.0),
        1.0f64..200.0,
        0.0f64..8.0,
        100.0f64..50_000.0,
        prop::option::of(0.5f64..3.0),
    )
        .prop_map(|(launch, end_of_sale, tflops, tpp, dies_per_wafer, hbm_stacks, unit_cost, price_markup)| {
            GenChip { launch, end_of_sale, tflops, tpp, dies_per_wafer, hbm_stacks, unit_cost, price_markup }
        })
}

fn next_gen() -> impl Strategy<Value = GenNextGen> {
    (
        0.25f64..5.0,
        0.5f64..20.0,
        1e7f64..1e10,
        0.0f64..2.0,
        0.5f64..3.0,
        0.0f64..1.0,
        prop::option::of(10.0f64..20_000.0),
        0.5f64..2.0,
    )
        .prop_map(
            |(
                cycle_years,
                cycle_shape,
                rd_reference,
                rd_elasticity,
                gain_median,
                gain_sigma,
                max_tflops,
                cost_growth,
            )| {
                GenNextGen {
                    cycle_years,
                    cycle_shape,
                    rd_reference,
                    rd_elasticity,
                    gain_median,
                    gain_sigma,
                    max_tflops,
                    cost_growth,
                }
            },
        )
}

fn funding() -> impl Strategy<Value = GenFunding> {
    (
        prop::sample::select(vec!["ipo", "state_fund", "private"]),
        -365i64..1095,
        0.0f64..1e9,
        0.0f64..50.0,
        -5.0f64..5.0,
        0.0f64..1.0,
    )
        .prop_map(|(kind, date, amount, ev_sales, premium, float_share)| GenFunding {
            kind,
            date,
            amount,
            ev_sales,
            premium,
            float_share,
        })
}

fn firm() -> impl Strategy<Value = GenFirm> {
    (
        (any::<bool>(), -1e9f64..1e10, 0.0f64..1.0, 0.0f64..1e9, 0.0f64..1e9, 0.0f64..1.0),
        (
            0.0f64..0.99,
            0.0f64..1.0,
            0.0f64..1.0,
            prop_oneof![1 => Just(0.0), 4 => 0.0f64..100_000.0],
            prop_oneof![Just(-1.0), -1.0f64..3.0],
            0.0f64..200.0,
        ),
        prop::collection::vec(chip(), 1..=3),
        prop::option::of(next_gen()),
        prop::collection::vec(funding(), 0..=2),
    )
        .prop_map(
            |(
                (foreign, cash, rd_intensity, rd_floor, fixed_costs, ecosystem),
                (margin_target, floor_fraction, supply_risk, capacity, capacity_growth, slip_sd),
                chips,
                next_gen,
                funding,
            )| GenFirm {
                foreign,
                cash,
                rd_intensity,
                rd_floor,
                fixed_costs,
                ecosystem,
                margin_target,
                floor_fraction,
                supply_risk,
                capacity,
                capacity_growth,
                slip_sd,
                chips,
                next_gen,
                funding,
            },
        )
}

fn customer() -> impl Strategy<Value = GenCustomer> {
    (
        prop::sample::select(vec!["state", "hyperscaler", "other"]),
        0.1f64..1.0,
        prop::option::of(0.5f64..50.0),
        prop::array::uniform5(0.0f64..3.0),
        0.05f64..3.0,
        0.1f64..=1.0,
        0.0f64..=1.0,
        prop::collection::vec((0usize..4, 0.0f64..=1.0), 0..=3),
    )
        .prop_map(|(kind, weight, tenders, weights, noise, max_vendor_share, mandate, relationships)| {
            GenCustomer { kind, weight, tenders, weights, noise, max_vendor_share, mandate, relationships }
        })
}

fn supplier() -> impl Strategy<Value = GenSupplier> {
    (
        prop::sample::select(vec!["foundry", "hbm", "packaging"]),
        prop_oneof![Just(0.0), 0.0f64..100_000.0],
        -1.0f64..2.0,
        0.05f64..=1.0,
        prop::option::of(0.05f64..=1.0),
        0.0f64..5.0,
        prop::option::of(10.0f64..5000.0),
        prop::collection::vec((-365i64..1095, -10_000.0f64..10_000.0), 0..=2),
    )
        .prop_map(|(kind, capacity, growth, yield_start, yield_end, learning, max_tflops, expansions)| {
            GenSupplier { kind, capacity, growth, yield_start, yield_end, learning, max_tflops, expansions }
        })
}

fn regime() -> impl Strategy<Value = GenRegime> {
    (
        (prop::option::of(prop_oneof![Just(0.0), 0.0f64..100_000.0]), prop::collection::vec(0usize..12, 0..=2)),
        (any::<bool>(), 0.0f64..=1.0, 0u32..365, 0.0f64..0.99, 0.0f64..=1.0),
        (prop::array::uniform3(0.0f64..=1.0), 0.0f64..0.99, prop::collection::vec(0usize..3, 0..=2)),
    )
        .prop_map(
            |(
                (foreign_max_tpp, excluded),
                (license_required, approval, delay, export_fee, discouraged),
                (mandate, subsidy, cut),
            )| GenRegime {
                foreign_max_tpp,
                excluded,
                license_required,
                approval,
                delay,
                export_fee,
                discouraged,
                mandate,
                subsidy,
                cut,
            },
        )
}

/// A position in a range: often one of its ends, else anywhere in it.
fn unit() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 1 => Just(1.0), 6 => 0.0f64..1.0]
}

fn scenario() -> impl Strategy<Value = GenScenario> {
    let head = (
        (2018i32..2030, 1u32..=12, 1u32..=31),
        prop::option::of(1u32..=12),
        0.25f64..=3.0,
        0u64..1_000_000,
        prop_oneof![Just(7u32), 1u32..=92],
        any::<bool>(),
    );
    let demand =
        (prop::array::uniform12(unit()), (0u32..60, 1u32..365, 0u32..120), prop::array::uniform6(unit()), 0u32..8);
    let parts = (
        prop::collection::vec(firm(), 1..=4),
        prop::collection::vec(customer(), 1..=4),
        prop::collection::vec(supplier(), 0..=3),
        prop::collection::vec((0usize..3, 0usize..4, 0.1f64..5.0, prop::collection::vec(0usize..3, 0..=2)), 0..=6),
    );
    let policy = (
        prop::collection::vec(regime(), 0..=3),
        prop::option::of(0usize..3),
        prop::collection::vec((-365i64..1095, 0usize..3), 0..=3),
        prop::option::of((
            prop::option::of(0i64..1095),
            prop::collection::vec(
                (0usize..3, 0.1f64..5.0, prop::collection::vec((0usize..3, 0.1f64..3.0), 1..=2)),
                0..=3,
            ),
        )),
    );
    (head, demand, parts, policy).prop_map(
        |(
            (start, quarters, years, seed, tick_days, bass),
            (demand, windows, market, supersede),
            (firms, customers, suppliers, links),
            (regimes, initial, schedule, switching),
        )| GenScenario {
            start,
            quarters,
            years,
            seed,
            tick_days,
            bass,
            demand,
            windows,
            market,
            supersede,
            firms,
            customers,
            suppliers,
            links,
            regimes,
            initial,
            schedule,
            switching,
        },
    )
}

/// `lo + u * (hi - lo)` for `u` in [0, 1).
fn lerp(u: f64, lo: f64, hi: f64) -> f64 {
    lo + u * (hi - lo)
}

impl GenScenario {
    /// The start date; a day past the month's end is its last day (`2023-02-31` is the 28th).
    fn start(&self) -> NaiveDate {
        let (y, m, d) = self.start;
        (1..=d).rev().find_map(|d| NaiveDate::from_ymd_opt(y, m, d)).unwrap()
    }

    fn date(&self, offset: i64) -> String {
        let d = if offset >= 0 {
            self.start() + Days::new(offset as u64)
        } else {
            self.start() - Days::new(offset.unsigned_abs())
        };
        d.format("%Y-%m-%d").to_string()
    }

    /// Deterministic pseudo-random bits for the mechanisms the strategy tuples do not draw
    /// (lead times, inventories, stocks, announcements...): a mix of the seed and `salt`.
    fn bits(&self, salt: u64) -> u64 {
        let mut z = self.seed.wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A fraction in [0, 1) from [`GenScenario::bits`].
    fn frac(&self, salt: u64) -> f64 {
        (self.bits(salt) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn horizon_years(&self) -> f64 {
        self.quarters.map_or(self.years, |q| f64::from(q) / 4.0)
    }

    fn chip_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for (fi, f) in self.firms.iter().enumerate() {
            for ci in 0..f.chips.len() {
                ids.push(format!("f{fi}_c{ci}"));
            }
        }
        ids
    }

    /// The scenario as TOML, every value inside the range its doc comment gives.
    fn to_toml(&self) -> String {
        let mut t = String::new();
        let d = &self.demand;
        let installed = lerp(d[0], 1.0, 1e5);
        let _ = writeln!(
            t,
            "[scenario]\nname = \"prop\"\nstart = \"{}\"\nhorizon_years = {:?}\nseed = {}\nreplications = 2\n\
             tick_days = {}\n",
            self.date(0),
            self.horizon_years(),
            self.seed,
            self.tick_days
        );
        let _ = writeln!(
            t,
            "[demand]\nmodel = \"{}\"\ninstalled_start_pflops = {:?}\nsaturation_pflops = {:?}\n\
             growth_rate_per_year = {:?}\nbass_innovation = {:?}\nbass_imitation = {:?}\n\
             depreciation_years = {:?}\ninference_share_start = {:?}\ninference_share_end = {:?}\n\
             tenders_per_year = {:?}\ntender_size_sigma = {:?}\nbid_window_days = {}\ndelivery_days = {}\n\
             grace_days = {}\ntraining_min_tflops = {:?}\ntraining_min_growth_per_year = {:?}\n",
            if self.bass { "bass" } else { "logistic" },
            installed,
            installed * lerp(d[1], 1.5, 100.0),
            lerp(d[2], 0.05, 3.0),
            lerp(d[3], 0.001, 1.0),
            lerp(d[4], 0.0, 2.0),
            lerp(d[5], 1.0, 10.0),
            d[6],
            d[7],
            lerp(d[8], 1.0, 50.0),
            lerp(d[9], 0.0, 2.0),
            self.windows.0,
            self.windows.1,
            self.windows.2,
            lerp(d[10], 0.0, 1000.0),
            lerp(d[11], -0.5, 1.0),
        );
        let _ = writeln!(
            t,
            "inference_min_memory_gb = {:?}\ninference_min_memory_growth_per_year = {:?}\nusd_per_pflops = {:?}\n\
             usd_per_pflops_change_per_year = {:?}\nunfilled_carry_share = {:?}\n",
            self.frac(1) * 100.0,
            self.frac(2) * 0.5,
            1e3 + self.frac(3) * 2e5,
            -0.5 + self.frac(4),
            self.frac(5),
        );
        let m = &self.market;
        let _ = writeln!(
            t,
            "[market]\nwin_rate_smoothing = {:?}\nreference_win_rate = {:?}\necosystem_share_rate = {:?}\n\
             ecosystem_rd_rate = {:?}\necosystem_rd_half_usd_per_year = {:?}\necosystem_decay_per_year = {:?}\n\
             supersede_quarters = {}\n",
            lerp(m[0], 0.01, 1.0),
            lerp(m[1], 0.01, 1.0),
            lerp(m[2], 0.0, 0.2),
            lerp(m[3], 0.0, 0.2),
            lerp(m[4], 1e6, 1e10),
            m[5],
            self.supersede
        );
        let _ = writeln!(
            t,
            "electricity_usd_per_kwh = {:?}\npower_years = {:?}\npue = {:?}\nsystem_cost_usd_per_card = {:?}\n\
             pull_forward_quarters = {:?}\n",
            self.frac(6) * 0.3,
            self.frac(7) * 8.0,
            1.0 + self.frac(8),
            self.frac(9) * 10_000.0,
            self.frac(10) * 3.0,
        );
        for (fi, f) in self.firms.iter().enumerate() {
            let _ = writeln!(
                t,
                "[[firms]]\nid = \"f{fi}\"\norigin = \"{}\"\ncash_usd = {:?}\nrd_intensity = {:?}\n\
                 rd_floor_usd_per_year = {:?}\nfixed_costs_usd_per_year = {:?}\necosystem = {:?}\n\
                 gross_margin_target = {:?}\nmargin_floor = {:?}\nsupply_risk = {:?}\n\
                 capacity_units_per_quarter = {:?}\ncapacity_growth_per_year = {:?}\nlaunch_slip_sd_days = {:?}\n",
                if f.foreign { "foreign" } else { "domestic" },
                f.cash,
                f.rd_intensity,
                f.rd_floor,
                f.fixed_costs,
                f.ecosystem,
                f.margin_target,
                f.margin_target * f.floor_fraction,
                f.supply_risk,
                f.capacity,
                f.capacity_growth,
                f.slip_sd,
            );
            let salt = 100 + fi as u64;
            let _ = writeln!(
                t,
                "lead_time_days = {}\ninventory_weeks = {:?}\n",
                self.bits(salt) % 4 * 45,
                if self.bits(salt + 50).is_multiple_of(3) { 0.0 } else { self.frac(salt + 60) * 26.0 }
            );
            for (ci, c) in f.chips.iter().enumerate() {
                let _ = writeln!(
                    t,
                    "[[firms.chips]]\nid = \"f{fi}_c{ci}\"\nlaunch = \"{}\"\nbf16_tflops = {:?}\n\
                     dies_per_wafer = {:?}\nhbm_stacks = {:?}\nunit_cost_usd = {:?}",
                    self.date(c.launch),
                    c.tflops,
                    c.dies_per_wafer,
                    c.hbm_stacks,
                    c.unit_cost
                );
                if let Some(end) = c.end_of_sale {
                    let _ = writeln!(t, "end_of_sale = \"{}\"", self.date(c.launch + end));
                }
                if let Some(tpp) = c.tpp {
                    let _ = writeln!(t, "tpp = {tpp:?}");
                }
                if let Some(markup) = c.price_markup {
                    let _ = writeln!(t, "price_usd = {:?}", c.unit_cost * markup);
                }
                let salt = 200 + 10 * fi as u64 + ci as u64;
                let _ = writeln!(
                    t,
                    "memory_gb = {:?}\nmemory_bandwidth_tbps = {:?}\ntdp_w = {:?}",
                    self.frac(salt) * 200.0,
                    self.frac(salt + 1) * 8.0,
                    self.frac(salt + 2) * 1000.0
                );
                let foundries: Vec<usize> =
                    (0..self.suppliers.len()).filter(|&si| self.suppliers[si].kind == "foundry").collect();
                if !foundries.is_empty() && self.bits(salt + 3).is_multiple_of(2) {
                    let pick = foundries[(self.bits(salt + 4) % foundries.len() as u64) as usize];
                    let _ = writeln!(t, "foundries = [\"s{pick}\"]");
                }
                t.push('\n');
            }
            if let Some(ng) = &f.next_gen {
                let _ = writeln!(
                    t,
                    "[firms.next_gen]\ncycle_years = {:?}\ncycle_shape = {:?}\nrd_reference_usd_per_year = {:?}\n\
                     rd_elasticity = {:?}\ngain_median = {:?}\ngain_sigma = {:?}\ncost_growth = {:?}",
                    ng.cycle_years,
                    ng.cycle_shape,
                    ng.rd_reference,
                    ng.rd_elasticity,
                    ng.gain_median,
                    ng.gain_sigma,
                    ng.cost_growth
                );
                if let Some(cap) = ng.max_tflops {
                    let _ = writeln!(t, "max_tflops = {cap:?}");
                }
                t.push('\n');
            }
            for (ei, ev) in f.funding.iter().enumerate() {
                let _ = writeln!(
                    t,
                    "[[firms.funding]]\nid = \"e{ei}\"\nkind = \"{}\"\ndate = \"{}\"\namount_usd = {:?}\n\
                     ev_sales_multiple = {:?}\nev_sales_growth_premium = {:?}\nfloat_share = {:?}\n",
                    ev.kind,
                    self.date(ev.date),
                    ev.amount,
                    ev.ev_sales,
                    ev.premium,
                    ev.float_share
                );
            }
        }
        // Shares: weights normalised to add up to 1, the last one taking the rounding.
        let total: f64 = self.customers.iter().map(|c| c.weight).sum();
        let mut left = 1.0;
        for (ci, c) in self.customers.iter().enumerate() {
            let share = if ci + 1 == self.customers.len() { left } else { c.weight / total };
            left -= share;
            let w = &c.weights;
            let _ = writeln!(
                t,
                "[[customers]]\nid = \"k{ci}\"\nkind = \"{}\"\ndemand_share = {share:?}\nnoise_scale = {:?}\n\
                 max_vendor_share = {:?}\ndomestic_mandate = {:?}\nnest_scale = {:?}",
                c.kind,
                c.noise,
                c.max_vendor_share,
                c.mandate,
                0.05 + 0.95 * self.frac(300 + ci as u64)
            );
            if let Some(rate) = c.tenders {
                let _ = writeln!(t, "tenders_per_year = {rate:?}");
            }
            let rels: Vec<String> = c
                .relationships
                .iter()
                .filter(|(fi, _)| *fi < self.firms.len())
                .map(|(fi, s)| (*fi, *s))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .map(|(fi, s)| format!("f{fi} = {s:?}"))
                .collect();
            let _ = writeln!(t, "relationships = {{ {} }}", rels.join(", "));
            let _ = writeln!(
                t,
                "[customers.weights]\nprice = {:?}\nperformance = {:?}\necosystem = {:?}\nrelationship = {:?}\n\
                 supply_risk = {:?}\nbandwidth = {:?}\nmemory = {:?}\ndomestic = {:?}\n",
                w[0],
                w[1],
                w[2],
                w[3],
                w[4],
                self.frac(310 + ci as u64) * 2.0,
                self.frac(320 + ci as u64) * 2.0,
                self.frac(330 + ci as u64) * 4.0 - 2.0
            );
        }
        for (si, s) in self.suppliers.iter().enumerate() {
            let _ = writeln!(
                t,
                "[[suppliers]]\nid = \"s{si}\"\nkind = \"{}\"\ncapacity_per_quarter = {:?}\n\
                 capacity_growth_per_year = {:?}\nyield_start = {:?}\nyield_learning_per_year = {:?}",
                s.kind, s.capacity, s.growth, s.yield_start, s.learning
            );
            if let Some(y) = s.yield_end {
                let _ = writeln!(t, "yield_end = {y:?}");
            }
            if let Some(cap) = s.max_tflops {
                let _ = writeln!(t, "max_chip_tflops = {cap:?}");
            }
            if self.bits(400 + si as u64).is_multiple_of(2) {
                let _ = writeln!(t, "stock = {:?}", s.capacity * self.frac(410 + si as u64) * 4.0);
            }
            t.push('\n');
            for (date, cap) in &s.expansions {
                let _ = writeln!(
                    t,
                    "[[suppliers.expansions]]\ndate = \"{}\"\ncapacity_per_quarter = {cap:?}\n",
                    self.date(*date)
                );
            }
        }
        let mut pairs = BTreeSet::new();
        let mut used_tags = BTreeSet::new();
        for (s, f, weight, tags) in &self.links {
            if *s >= self.suppliers.len() || *f >= self.firms.len() || !pairs.insert((*s, *f)) {
                continue;
            }
            let tags: BTreeSet<&str> = tags.iter().map(|&i| TAGS[i]).collect();
            used_tags.extend(tags.iter().copied());
            let tags: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
            let _ = writeln!(
                t,
                "[[links]]\nsupplier = \"s{s}\"\nfirm = \"f{f}\"\nweight = {weight:?}\ntags = [{}]\n",
                tags.join(", ")
            );
        }
        let names: Vec<String> = (0..self.regimes.len()).map(|i| format!("r{i}")).collect();
        if !names.is_empty() {
            let initial = self.initial.unwrap_or(0) % names.len();
            let _ = writeln!(t, "[policy]\ninitial = \"{}\"\n", names[initial]);
        }
        let chip_ids = self.chip_ids();
        for (ri, r) in self.regimes.iter().enumerate() {
            let excluded: BTreeSet<String> =
                r.excluded.iter().map(|&i| format!("\"{}\"", chip_ids[i % chip_ids.len()])).collect();
            let cut: BTreeSet<String> = r
                .cut
                .iter()
                .map(|&i| TAGS[i])
                .filter(|tag| used_tags.contains(tag))
                .map(|t| format!("\"{t}\""))
                .collect();
            let _ = writeln!(
                t,
                "[policy.regimes.r{ri}]\nexcluded_chips = [{}]\nlicense_required = {}\nlicense_approval_prob = {:?}\n\
                 license_delay_days = {}\nexport_fee = {:?}\nforeign_purchase_discouraged = {:?}\n\
                 domestic_subsidy = {:?}\ncut_links = [{}]",
                excluded.into_iter().collect::<Vec<_>>().join(", "),
                r.license_required,
                r.approval,
                r.delay,
                r.export_fee,
                r.discouraged,
                r.subsidy,
                cut.into_iter().collect::<Vec<_>>().join(", "),
            );
            if let Some(cap) = r.foreign_max_tpp {
                let _ = writeln!(t, "foreign_max_tpp = {cap:?}");
            }
            let salt = 500 + ri as u64;
            let _ = writeln!(
                t,
                "backlog_grace_days = {}\npower_subsidy = {:?}\nforeign_supply_risk = {:?}",
                self.bits(salt) % 3 * 60,
                self.frac(salt + 10),
                self.frac(salt + 20)
            );
            let _ = writeln!(
                t,
                "[policy.regimes.r{ri}.domestic_mandate]\nstate = {:?}\nhyperscaler = {:?}\nother = {:?}\n",
                r.mandate[0], r.mandate[1], r.mandate[2]
            );
        }
        if !names.is_empty() {
            let mut schedule = self.schedule.clone();
            schedule.sort_by_key(|&(date, _)| date);
            for (k, (date, r)) in schedule.into_iter().enumerate() {
                let _ = writeln!(
                    t,
                    "[[policy.schedule]]\ndate = \"{}\"\nregime = \"{}\"",
                    self.date(date),
                    names[r % names.len()]
                );
                if self.bits(600 + k as u64).is_multiple_of(2) {
                    let lead = (self.bits(610 + k as u64) % 200) as i64;
                    let _ = writeln!(t, "announced = \"{}\"", self.date(date - lead));
                }
                t.push('\n');
            }
            if let Some((from, rules)) = &self.switching {
                t.push_str("[policy.switching]\n");
                if let Some(from) = from {
                    let _ = writeln!(t, "from = \"{}\"", self.date(*from));
                }
                let mut seen = BTreeSet::new();
                for (r, dwell, targets) in rules {
                    let r = r % names.len();
                    if !seen.insert(r) {
                        continue;
                    }
                    let to: std::collections::BTreeMap<usize, f64> =
                        targets.iter().map(|&(to, w)| (to % names.len(), w)).collect();
                    let to: Vec<String> = to.iter().map(|(to, w)| format!("{} = {w:?}", names[*to])).collect();
                    let _ = writeln!(
                        t,
                        "[policy.switching.regimes.{}]\nmean_dwell_years = {dwell:?}\nto = {{ {} }}",
                        names[r],
                        to.join(", ")
                    );
                }
                if seen.is_empty() {
                    t.push_str("regimes = {}\n");
                }
            }
        }
        t
    }

    /// The quarters the horizon covers, computed from the calendar: whole months when the
    /// horizon is a whole number of months, else days.
    fn quarters(&self) -> Vec<String> {
        let start = self.start();
        let months = self.horizon_years() * 12.0;
        let end = if (months - months.round()).abs() < 1e-9 {
            start + Months::new(months.round() as u32)
        } else {
            start + Days::new((self.horizon_years() * 365.25).round() as u64)
        };
        let last = end - Days::new(1);
        let (mut y, mut q) = (start.year(), start.month0() / 3 + 1);
        let mut out = Vec::new();
        loop {
            out.push(format!("{y}Q{q}"));
            if y == last.year() && q == last.month0() / 3 + 1 {
                return out;
            }
            (y, q) = if q == 4 { (y + 1, 1) } else { (y, q + 1) };
        }
    }
}

/// The report's accounting identities.
fn check_report(gen: &GenScenario, scenario: &Scenario, r: &RunReport) -> Result<(), TestCaseError> {
    let n = r.firm_ids.len();
    let quarters: Vec<String> = r.market.iter().map(|m| m.quarter.to_string()).collect();
    prop_assert_eq!(&quarters, &gen.quarters(), "one market row per quarter of the horizon");
    prop_assert_eq!(r.firms.len(), n * r.market.len(), "one firm row per firm and quarter");
    for (qi, m) in r.market.iter().enumerate() {
        let rows = &r.firms[qi * n..(qi + 1) * n];
        prop_assert!(rows.iter().all(|f| f.quarter == m.quarter), "firm rows out of quarter order");
        let delivered: f64 = rows.iter().map(|f| f.compute_shipped_pflops).sum();
        prop_assert!(
            (delivered - m.delivered_pflops).abs() <= 1e-9 * delivered.abs().max(1.0),
            "{}: market delivered {} but firms {}",
            m.quarter,
            m.delivered_pflops,
            delivered
        );
        if delivered > 0.0 {
            let shares: f64 = rows.iter().map(|f| f.compute_share.unwrap_or(f64::NAN)).sum();
            prop_assert!((shares - 1.0).abs() <= 1e-9, "{}: compute shares add up to {}", m.quarter, shares);
        } else {
            prop_assert!(rows.iter().all(|f| f.compute_share.is_none()), "{}: shares without deliveries", m.quarter);
            prop_assert!(m.domestic_compute_share.is_none() && m.foreign_compute_share.is_none());
        }
        for f in rows {
            prop_assert!(f.compute_shipped_pflops.is_finite() && f.compute_shipped_pflops >= 0.0);
            prop_assert!(f.cash_usd.is_finite(), "{}: cash {}", m.quarter, f.cash_usd);
            prop_assert!((0.0..=1.0).contains(&f.ecosystem), "{}: ecosystem {}", m.quarter, f.ecosystem);
        }
        prop_assert!(
            m.demand_pflops.is_finite() && m.demand_pflops >= 0.0,
            "{}: demand {}",
            m.quarter,
            m.demand_pflops
        );
    }
    // Units are conserved: everything started is delivered, in inventory (finished or in the
    // pipeline) or written off; production never exceeds capacity (fractions of a unit carry
    // over between ticks: one unit of slack per chip).
    let mut started = vec![0u64; n];
    let mut shipped = vec![0u64; n];
    for f in &r.firms {
        started[f.firm] += f.units_produced;
        shipped[f.firm] += f.units_shipped;
        prop_assert!(
            shipped[f.firm] + f.inventory_units <= started[f.firm],
            "{} {}: shipped {} + inventory {} but started {}",
            f.quarter,
            f.firm,
            shipped[f.firm],
            f.inventory_units,
            started[f.firm]
        );
        if f.inventory_writeoff_usd == 0.0 {
            // Without write-offs the books close exactly.
            let written_off_before =
                r.firms.iter().any(|g| g.firm == f.firm && g.quarter <= f.quarter && g.inventory_writeoff_usd > 0.0);
            if !written_off_before {
                prop_assert_eq!(
                    shipped[f.firm] + f.inventory_units,
                    started[f.firm],
                    "{} {}: units lost",
                    f.quarter,
                    f.firm
                );
            }
        }
        let chips = r.chip_ids.len() as f64 + 1.0;
        prop_assert!(
            f.units_produced as f64 <= f.capacity_units + chips,
            "{} {}: made {} with capacity {}",
            f.quarter,
            f.firm,
            f.units_produced,
            f.capacity_units
        );
    }
    // Deliveries by chip add up to deliveries by firm, quarter by quarter.
    for f in &r.firms {
        let chips = r.chips.iter().filter(|c| c.quarter == f.quarter && c.firm == f.firm);
        let (units, revenue) = chips.fold((0u64, 0.0), |(u, v), c| (u + c.units_shipped, v + c.revenue_usd));
        prop_assert_eq!(units, f.units_shipped, "{} {}: chip rows", f.quarter, f.firm);
        prop_assert!(
            (revenue - f.revenue_usd).abs() <= 1e-6 * f.revenue_usd.max(1.0),
            "{} {}: chip revenue",
            f.quarter,
            f.firm
        );
    }
    // Cash accounting balances: every quarter's change is its flows.
    let mut cash: Vec<f64> = gen_cash(scenario);
    for f in &r.firms {
        let flows = f.revenue_usd - f.export_fees_usd - f.cogs_usd - f.rd_spend_usd - f.fixed_costs_usd + f.funding_usd
            - f.inventory_writeoff_usd;
        cash[f.firm] += flows;
        prop_assert!(
            (cash[f.firm] - f.cash_usd).abs() <= 1e-6 * cash[f.firm].abs().max(1e6),
            "{} {}: cash {} but flows give {}",
            f.quarter,
            f.firm,
            f.cash_usd,
            cash[f.firm]
        );
        cash[f.firm] = f.cash_usd;
    }
    // Each tender's awards never exceed its volume.
    let mut awarded = vec![0.0; r.tender_budgets_usd.len()];
    for c in &r.contracts {
        awarded[c.tender as usize] += c.value_usd;
    }
    for (t, (a, v)) in awarded.iter().zip(&r.tender_budgets_usd).enumerate() {
        prop_assert!(*a <= v * (1.0 + 1e-9), "tender {t}: awarded {a} of a {v} USD budget");
    }
    for c in &r.contracts {
        prop_assert!(
            c.delivered_units <= c.units,
            "contract {} delivered {} of {}",
            c.contract,
            c.delivered_units,
            c.units
        );
    }
    Ok(())
}

/// Starting cash of each firm.
fn gen_cash(scenario: &Scenario) -> Vec<f64> {
    scenario.firms.iter().map(|f| f.cash_usd).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn valid_scenarios_run_and_keep_the_books(gen in scenario()) {
        let text = gen.to_toml();
        let scenario = Scenario::from_toml_str(&text)
            .map_err(|e| TestCaseError::fail(format!("the generator wrote an invalid scenario: {e}\n{text}")))?;
        prop_assert_eq!(scenario.scenario.start, Date(gen.start()));
        let mut columns = Vec::new();
        for replication in 0..2 {
            let report = run(&scenario, replication, RunOptions::default())
                .map_err(|e| TestCaseError::fail(format!("replication {replication}: {e}\n{text}")))?;
            check_report(&gen, &scenario, &report).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            columns.push(report.summary.kpis.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>());
        }
        prop_assert_eq!(&columns[0], &columns[1], "summary columns differ between replications");
    }
}

/// A one-firm scenario whose firm makes next generations with the given cycle.
fn next_gen_scenario(cycle_years: f64, cycle_shape: f64, horizon_years: u32) -> String {
    format!(
        r#"
[scenario]
name = "gens"
start = "2024-01-01"
horizon_years = {horizon_years}
seed = 3
replications = 1

[demand]
installed_start_pflops = 1000.0
saturation_pflops = 50000.0

[[firms]]
id = "dom"
origin = "domestic"
capacity_units_per_quarter = 4000.0
rd_floor_usd_per_year = 1e15
[[firms.chips]]
id = "dom_1"
launch = "2023-06-01"
bf16_tflops = 300.0
unit_cost_usd = 5000.0
[firms.next_gen]
cycle_years = {cycle_years:?}
cycle_shape = {cycle_shape:?}

[[customers]]
id = "cloud"
kind = "hyperscaler"
demand_share = 1.0
"#
    )
}

/// Cycles too short to simulate are refused by validation (they used to make a generation
/// every tick: a run that never ends).
#[test]
fn next_generation_cycles_below_a_quarter_are_refused() {
    for (cycle, shape, key) in [(1e-5, 4.0, "cycle_years"), (1e-9, 4.0, "cycle_years"), (2.0, 1e-50, "cycle_shape")] {
        let err = Scenario::from_toml_str(&next_gen_scenario(cycle, shape, 2)).expect_err("refused");
        assert_eq!(err.dotted, format!("firms.dom.next_gen.{key}"), "{err}");
        assert!(err.line_col.is_some(), "{err}");
    }
    Scenario::from_toml_str(&next_gen_scenario(0.25, 0.1, 2)).expect("the shortest cycle and shape allowed are valid");
}

/// Whatever R&D does and however spread the Gamma draw, generations are at least a month apart.
#[test]
fn generations_are_at_least_a_month_apart() {
    // The shortest cycle and the most spread shape allowed, with R&D so high that the mean is
    // clamped to a quarter of the cycle: most raw Gamma draws are then a few minutes long.
    let scenario = Scenario::from_toml_str(&next_gen_scenario(0.25, 0.1, 10)).unwrap();
    let report = run(&scenario, 0, RunOptions { record_rows: true, trace: true }).unwrap();
    let dates: Vec<NaiveDate> =
        report.events.iter().filter(|e| e.kind == "next_generation").map(|e| e.time.0).collect();
    assert!(dates.len() >= 10, "expected many generations in ten years, found {}", dates.len());
    assert!(dates.len() <= 10 * 12 + 1, "more than one generation a month: {}", dates.len());
    for w in dates.windows(2) {
        let gap = (w[1] - w[0]).num_days();
        assert!(gap >= 30, "two generations {gap} day(s) apart: {} and {}", w[0], w[1]);
    }
}

/// Values a mutation may put in place of a `key = value` line's value: edges of ranges,
/// non-finite and huge numbers, wrong types, dates.
const MUTANT_VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "0.25",
    "0.1",
    "1e-9",
    "1e-300",
    "1e300",
    "1.7e308",
    "-1.7e308",
    "nan",
    "inf",
    "-inf",
    "100",
    "1000000",
    "4294967296",
    "\"\"",
    "\"x\"",
    "true",
    "[]",
    "{}",
    "2024-02-29",
    "\"2199-12-31\"",
];

/// One edit of a scenario text, at line `at` (a fraction of the line count).
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value of a `key = value` line.
    Value { at: f64, value: usize },
    /// Delete a line.
    Delete { at: f64 },
    /// Repeat a line.
    Duplicate { at: f64 },
    /// Exchange two lines.
    Swap { at: f64, with: f64 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (unit(), 0..MUTANT_VALUES.len()).prop_map(|(at, value)| Mutation::Value { at, value }),
        1 => unit().prop_map(|at| Mutation::Delete { at }),
        1 => unit().prop_map(|at| Mutation::Duplicate { at }),
        1 => (unit(), unit()).prop_map(|(at, with)| Mutation::Swap { at, with }),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let pick = |at: f64, n: usize| ((at * n as f64) as usize).min(n.saturating_sub(1));
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *m {
            Mutation::Value { at, value } => {
                let i = pick(at, n);
                if let Some((key, _)) = lines[i].split_once(" = ") {
                    lines[i] = format!("{key} = {}", MUTANT_VALUES[value]);
                }
            }
            Mutation::Delete { at } => {
                lines.remove(pick(at, n));
            }
            Mutation::Duplicate { at } => {
                let i = pick(at, n);
                lines.insert(i, lines[i].clone());
            }
            Mutation::Swap { at, with } => lines.swap(pick(at, n), pick(with, n)),
        }
    }
    lines.join("\n") + "\n"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Mutated scenario files never make validation panic, and every mutant that still
    /// validates runs a short horizon (one year, one replication) without a panic or an error.
    #[test]
    fn mutated_scenarios_are_refused_or_run(gen in scenario(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let text = mutate(&gen.to_toml(), &mutations);
        let short = [
            chipmarket_engine::scenario::parse_override("scenario.horizon_years=1").unwrap(),
            chipmarket_engine::scenario::parse_override("scenario.replications=1").unwrap(),
        ];
        if let Ok(scenario) = Scenario::from_toml_str_with(&text, &short) {
            let report = run(&scenario, 0, RunOptions::default())
                .map_err(|e| TestCaseError::fail(format!("a valid mutant failed to run: {e}\n{text}")))?;
            prop_assert!(!report.summary.kpis.is_empty());
        }
    }
}
