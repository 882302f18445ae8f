//! Model tests: each policy lever moves outcomes the way a reader expects, on a small
//! two-firm market, and the accounts add up. Comparisons use common random numbers
//! (the same seeds on both sides) and several replications.

use crate::observe::{ContractStatus, RunReport};
use crate::{run, RunOptions, Scenario};

/// A domestic and a foreign firm, a state and a hyperscaler customer, three years from
/// 2024. `extra` is appended (regimes, schedule, overrides of the tables above).
fn market(regimes: &str) -> Scenario {
    let text = format!(
        r#"
[scenario]
name = "levers"
start = "2024-01-01"
horizon_years = 3
seed = 5

[demand]
installed_start_pflops = 2000.0
saturation_pflops = 100000.0
tenders_per_year = 24.0
delivery_days = 120

[[firms]]
id = "dom"
origin = "domestic"
ecosystem = 0.3
capacity_units_per_quarter = 3000.0
[[firms.chips]]
id = "dom_1"
launch = "2023-01-01"
bf16_tflops = 300.0
unit_cost_usd = 5000.0

[[firms]]
id = "usa"
origin = "foreign"
ecosystem = 0.9
capacity_units_per_quarter = 6000.0
funding = [{{ id = "ipo", kind = "ipo", date = "2026-01-01", ev_sales_multiple = 10.0, float_share = 0.2 }}]
[[firms.chips]]
id = "usa_1"
launch = "2023-01-01"
bf16_tflops = 900.0
unit_cost_usd = 6000.0

[[suppliers]]
id = "fab"
kind = "foundry"
capacity_per_quarter = 100.0
[[links]]
supplier = "fab"
firm = "dom"
tags = ["fab_link"]

[[customers]]
id = "telco"
kind = "state"
demand_share = 0.4
[[customers]]
id = "cloud"
kind = "hyperscaler"
demand_share = 0.6
max_vendor_share = 0.8

{regimes}
"#
    );
    Scenario::from_toml_str(&text).unwrap_or_else(|e| panic!("test scenario invalid: {e}"))
}

fn runs(s: &Scenario, n: u32) -> Vec<RunReport> {
    (0..n).map(|r| run(s, r, RunOptions::default()).expect("runs")).collect()
}

/// Compute delivered by firm `firm` (index) in quarters from `from` ("2025Q1") on, summed
/// over replications.
fn delivered(reports: &[RunReport], firm: usize, from: &str) -> f64 {
    reports
        .iter()
        .flat_map(|r| r.firms.iter())
        .filter(|f| f.firm == firm && f.quarter.to_string().as_str() >= from)
        .map(|f| f.compute_shipped_pflops)
        .sum()
}

const DOM: usize = 0;
const USA: usize = 1;

const FAB: &str = r#"
[policy]
initial = "open"
[policy.regimes.open]
"#;

#[test]
fn a_full_ban_leaves_foreign_firms_no_share_after_it_starts() {
    let s = market(
        r#"
[policy]
initial = "open"
[policy.regimes.open]
[policy.regimes.ban]
foreign_max_tpp = 0.0
[[policy.schedule]]
date = "2025-01-01"
regime = "ban"
"#,
    );
    let reports = runs(&s, 4);
    assert!(delivered(&reports, USA, "2024Q1") > 0.0, "foreign firm sells before the ban");
    assert_eq!(delivered(&reports, USA, "2025Q1"), 0.0, "nothing foreign is delivered under a full ban");
    let cancelled: f64 = reports.iter().flat_map(|r| &r.market).map(|m| m.cancelled_backlog_usd).sum();
    assert!(cancelled > 0.0, "the foreign backlog at the ban is cancelled and reported");
    let statuses: Vec<ContractStatus> = reports.iter().flat_map(|r| &r.contracts).map(|c| c.status).collect();
    assert!(statuses.contains(&ContractStatus::Cancelled));
    for r in &reports {
        for m in r.market.iter().filter(|m| m.quarter.to_string().as_str() >= "2025Q1") {
            assert_eq!(r.regime_names[m.regime], "ban");
            assert_eq!(m.perf_gap_sellable, None, "no foreign chip may be sold: no sellable gap");
            assert!(m.perf_gap_frontier.is_some_and(|g| g > 1.0), "the frontier gap stays defined");
            if m.delivered_pflops > 0.0 {
                assert_eq!(m.domestic_compute_share, Some(1.0));
            } else {
                assert_eq!(m.domestic_compute_share, None, "no share of nothing");
            }
        }
    }
}

#[test]
fn a_higher_licence_approval_probability_never_lowers_foreign_deliveries() {
    let with = |p: f64| {
        market(&format!(
            r#"
[policy.regimes.licensed]
license_required = true
license_approval_prob = {p}
license_delay_days = 30
"#
        ))
    };
    let mut previous = -1.0;
    for p in [0.0, 0.3, 0.7, 1.0] {
        let foreign = delivered(&runs(&with(p), 6), USA, "2024Q1");
        assert!(foreign >= previous, "approval {p}: foreign deliveries {foreign} fell below {previous}");
        previous = foreign;
    }
    assert_eq!(delivered(&runs(&with(0.0), 3), USA, "2024Q1"), 0.0, "no licence, no sale");
}

#[test]
fn an_export_fee_shows_up_in_export_fees_and_raises_foreign_prices() {
    let with = |fee: f64| market(&format!("[policy.regimes.fee]\nexport_fee = {fee}\n"));
    let fees = |reports: &[RunReport]| reports.iter().flat_map(|r| &r.market).map(|m| m.export_fees_usd).sum::<f64>();
    let none = runs(&with(0.0), 3);
    let taxed = runs(&with(0.25), 3);
    assert_eq!(fees(&none), 0.0);
    assert!(fees(&taxed) > 0.0);
    let revenue: f64 = taxed.iter().flat_map(|r| &r.firms).filter(|f| f.firm == USA).map(|f| f.revenue_usd).sum();
    assert!((fees(&taxed) - 0.25 * revenue).abs() <= 1e-6 * revenue, "the fee is 25% of foreign revenue");
    let price = |reports: &[RunReport]| {
        let c = reports[0].contracts.iter().find(|c| c.firm == USA).expect("a foreign contract");
        c.value_usd / c.units as f64
    };
    assert!(price(&taxed) > price(&none), "the fee is passed on in the price");
}

#[test]
fn discouraged_purchases_and_mandates_lower_the_foreign_share() {
    let base = delivered(&runs(&market("[policy.regimes.open]\n"), 4), USA, "2024Q1");
    let half = delivered(&runs(&market("[policy.regimes.g]\nforeign_purchase_discouraged = 0.5\n"), 4), USA, "2024Q1");
    let all = delivered(&runs(&market("[policy.regimes.g]\nforeign_purchase_discouraged = 1.0\n"), 4), USA, "2024Q1");
    assert!(base > half && half > all, "{base} > {half} > {all}");
    assert_eq!(all, 0.0);
    let mandated = runs(&market("[policy.regimes.m]\ndomestic_mandate = { state = 1.0, hyperscaler = 1.0 }\n"), 4);
    assert_eq!(delivered(&mandated, USA, "2024Q1"), 0.0, "a 100% domestic mandate for every kind");
    let partial = runs(&market("[policy.regimes.m]\ndomestic_mandate = { hyperscaler = 0.5 }\n"), 4);
    let partial = delivered(&partial, USA, "2024Q1");
    assert!(partial < base && partial > 0.0, "{partial} vs {base}");
}

#[test]
fn a_domestic_subsidy_raises_the_domestic_share() {
    let share = |subsidy: f64| {
        let reports = runs(&market(&format!("[policy.regimes.s]\ndomestic_subsidy = {subsidy}\n")), 6);
        let dom = delivered(&reports, DOM, "2024Q1");
        dom / (dom + delivered(&reports, USA, "2024Q1"))
    };
    let (none, some) = (share(0.0), share(0.5));
    assert!(some > none, "subsidy 0.5 gives {some}, none {none}");
}

#[test]
fn cut_links_stop_what_they_feed() {
    let linked = market(&format!("{FAB}\n[policy.regimes.cut]\ncut_links = [\"fab_link\"]\n[[policy.schedule]]\ndate = \"2025-01-01\"\nregime = \"cut\"\n"));
    let reports = runs(&linked, 3);
    assert!(delivered(&reports, DOM, "2024Q1") > 0.0);
    // A week of production already allocated may land in the first days of the cut.
    assert_eq!(delivered(&reports, DOM, "2025Q2"), 0.0, "no wafers, no chips");
}

#[test]
fn excluded_chips_cannot_bid_whatever_their_tpp() {
    let s = market("[policy.regimes.x]\nexcluded_chips = [\"usa_1\"]\n");
    assert_eq!(delivered(&runs(&s, 3), USA, "2024Q1"), 0.0);
}

#[test]
fn licences_pending_at_a_regime_change_are_decided_under_the_new_rules() {
    // Licences take 100 days; a ban arrives on 2024-06-01, so licences still pending
    // then are refused.
    let s = market(
        r#"
[policy]
initial = "licensed"
[policy.regimes.licensed]
license_required = true
license_approval_prob = 1.0
license_delay_days = 100
[policy.regimes.ban]
foreign_max_tpp = 0.0
[[policy.schedule]]
date = "2024-06-01"
regime = "ban"
"#,
    );
    let reports = runs(&s, 3);
    assert_eq!(delivered(&reports, USA, "2024Q3"), 0.0, "nothing foreign after the ban");
    let denied =
        reports.iter().flat_map(|r| &r.contracts).filter(|c| c.status == ContractStatus::LicenceDenied).count();
    assert!(denied > 0, "licences pending at the ban are denied");
}

#[test]
fn a_licence_granted_after_its_chip_left_sale_is_still_made_and_delivered() {
    // The foreign chip leaves sale on 2024-04-01 with every contract still waiting 100
    // days for its licence, so it has nothing owed, held or started and drops out of the
    // chips production walks; the licences then granted must bring it back.
    let mut s = market(
        r#"
[policy]
initial = "licensed"
[policy.regimes.licensed]
license_required = true
license_approval_prob = 1.0
license_delay_days = 100
"#,
    );
    s.demand.delivery_days = 300;
    s.firms[USA].chips[0].end_of_sale = crate::calendar::Date::parse("2024-04-01");
    let reports = runs(&s, 3);
    assert!(delivered(&reports, USA, "2024Q3") > 0.0, "licensed orders of the retired chip are delivered");
    let delivered_late = reports
        .iter()
        .flat_map(|r| &r.contracts)
        .filter(|c| c.firm == USA && c.delivered_units > 0 && c.awarded_on.to_string().as_str() < "2024-04-01")
        .count();
    assert!(delivered_late > 0);
}

#[test]
fn markov_switching_visits_regimes_and_is_reproducible() {
    let s = market(
        r#"
[policy]
initial = "open"
[policy.regimes.open]
[policy.regimes.ban]
foreign_max_tpp = 0.0
[policy.switching]
[policy.switching.regimes.open]
mean_dwell_years = 0.3
to = { ban = 1.0 }
[policy.switching.regimes.ban]
mean_dwell_years = 0.3
to = { open = 1.0 }
"#,
    );
    let a = runs(&s, 3);
    let seen: std::collections::BTreeSet<usize> = a.iter().flat_map(|r| &r.market).map(|m| m.regime).collect();
    assert_eq!(seen.len(), 2, "both regimes are in force at some quarter end");
    assert_eq!(a, runs(&s, 3), "same seed, same path of regimes");
}

#[test]
fn cash_accounting_balances_every_quarter() {
    let reports = runs(&market("[policy.regimes.fee]\nexport_fee = 0.15\n"), 3);
    for r in &reports {
        for firm in 0..r.firm_ids.len() {
            let s = &market("").firms[firm];
            let mut cash = s.cash_usd;
            for q in r.firms.iter().filter(|f| f.firm == firm) {
                cash +=
                    q.revenue_usd - q.export_fees_usd - q.cogs_usd - q.rd_spend_usd - q.fixed_costs_usd + q.funding_usd;
                assert!(
                    (cash - q.cash_usd).abs() <= 1e-6 * cash.abs().max(1.0),
                    "{} {}: {cash} vs {}",
                    r.firm_ids[firm],
                    q.quarter,
                    q.cash_usd
                );
            }
        }
    }
}

#[test]
fn production_never_exceeds_capacity_and_no_contract_is_over_delivered() {
    for r in runs(&market("[policy.regimes.open]\n"), 3) {
        for q in &r.firms {
            // Fractions of a unit carry over between ticks: at most one unit of slack.
            assert!(q.units_shipped as f64 <= q.capacity_units + 1.0, "{:?}", q);
        }
        for c in &r.contracts {
            assert!(c.delivered_units <= c.units);
            if c.status == ContractStatus::Delivered {
                assert_eq!(c.delivered_units, c.units);
            }
        }
    }
}

#[test]
fn an_ipo_reports_its_valuation_from_trailing_revenue() {
    let r = run(&market("[policy.regimes.open]\n"), 0, RunOptions::default()).expect("runs");
    let trailing: f64 = r.firms.iter().filter(|f| f.firm == USA && f.quarter.year == 2025).map(|f| f.revenue_usd).sum();
    let (_, valuation) = r.summary.kpis.iter().find(|(k, _)| k == "usa_ipo_valuation_usd").expect("column");
    let valuation = valuation.expect("the IPO happened");
    assert!((valuation - 10.0 * trailing).abs() <= 1e-6 * valuation, "{valuation} vs 10 x {trailing}");
    let raised: f64 = r.firms.iter().filter(|f| f.firm == USA).map(|f| f.funding_usd).sum();
    assert!((raised - 0.2 * valuation).abs() <= 1e-6 * raised);
}

/// A sink that notes, for each contract row, how many quarters had closed when it came.
#[derive(Default)]
struct Arrivals {
    quarters: usize,
    contracts: Vec<(u64, usize)>,
    ended: bool,
}

impl crate::observe::Sink for Arrivals {
    fn market_quarter(&mut self, _: &crate::observe::Catalog, _: &crate::observe::MarketQuarter) {
        assert!(!self.ended);
        self.quarters += 1;
    }
    fn contract(&mut self, _: &crate::observe::Catalog, row: &crate::observe::ContractRow) {
        assert!(!self.ended);
        self.contracts.push((row.contract, self.quarters));
    }
    fn end(&mut self, _: &crate::observe::Catalog, _: crate::observe::Summary, _: u64) {
        self.ended = true;
    }
}

#[test]
fn contract_rows_stream_in_contract_order_as_contracts_close_and_match_the_report() {
    let s = market(FAB);
    let mut arrivals = Arrivals::default();
    crate::run_with_sink(&s, 0, RunOptions::default(), &mut arrivals).expect("runs");
    let report = run(&s, 0, RunOptions::default()).expect("runs");
    assert!(arrivals.ended);
    let numbers: Vec<u64> = arrivals.contracts.iter().map(|&(c, _)| c).collect();
    let expected: Vec<u64> = (0..report.contracts.len() as u64).collect();
    assert_eq!(numbers, expected, "every contract once, by number");
    assert!(report.contracts.iter().zip(0..).all(|(c, i)| c.contract == i));
    // Closed contracts leave before the run ends: most rows come before the last quarter.
    let early = arrivals.contracts.iter().filter(|&&(_, q)| q < report.market.len()).count();
    assert!(early * 2 > numbers.len(), "only {early} of {} contract rows came before the end", numbers.len());
    // Rows still open at the end come last, and are the only open ones.
    for c in &report.contracts {
        let open = matches!(c.status, ContractStatus::Active | ContractStatus::PendingLicence);
        assert_eq!(open, c.closed_on.is_none(), "contract {}", c.contract);
    }
}

#[test]
fn replaying_a_report_gives_the_same_report() {
    let s = market(FAB);
    let report = run(&s, 1, RunOptions { record_rows: true, trace: true }).expect("runs");
    assert!(!report.contracts.is_empty() && !report.events.is_empty());
    let mut copy = RunReport::default();
    report.replay(&mut copy);
    assert_eq!(copy, report);
}

/// Run replication `rep` like [`crate::run`], keeping every tender and contract to the end
/// when `keep` is set; also return the most contracts kept at once.
fn run_kept(s: &Scenario, rep: u32, keep: bool) -> (RunReport, usize) {
    let mut report = RunReport::default();
    let mut queue = crate::sim::EventQueue::with_capacity(1024);
    let options = RunOptions { record_rows: true, trace: true };
    let mut market = super::MarketModel::new(s, rep, options, &mut report, &mut queue);
    market.keep_records = keep;
    let mut sim = crate::sim::Simulation::with_queue(market, queue);
    while sim.step().expect("runs").is_some() {}
    let events = sim.events_processed();
    let peak = sim.model().peak_kept;
    sim.into_model().finish(events);
    (report, peak)
}

/// Scenarios that take every path by which a contract closes: delivered, cut at its
/// deadline (short delivery windows, little capacity), cancelled by a ban (with and without
/// a grace period), licence denied, and licences decided after the contract was cut
/// (licences slower than the delivery window, then quick ones), with re-tenders and a
/// Markov pendulum.
fn closing_paths() -> Vec<Scenario> {
    let tight = |regimes: &str| {
        let mut s = market(regimes);
        s.demand.delivery_days = 30;
        s.firms[0].capacity_units_per_quarter = 300.0;
        s.firms[1].capacity_units_per_quarter = 600.0;
        s
    };
    vec![
        market(FAB),
        tight(
            r#"
[policy]
initial = "licensed"
[policy.regimes.licensed]
license_required = true
license_approval_prob = 0.6
license_delay_days = 200
[policy.regimes.ban]
foreign_max_tpp = 0.0
backlog_grace_days = 45
[[policy.schedule]]
date = "2025-06-01"
regime = "ban"
[policy.regimes.quick]
license_required = true
license_approval_prob = 0.5
license_delay_days = 10
[[policy.schedule]]
date = "2026-01-01"
regime = "quick"
"#,
        ),
        tight(
            r#"
[policy]
initial = "open"
[policy.regimes.open]
[policy.regimes.ban]
foreign_max_tpp = 0.0
[policy.switching]
[policy.switching.regimes.open]
mean_dwell_years = 0.3
to = { ban = 1.0 }
[policy.switching.regimes.ban]
mean_dwell_years = 0.3
to = { open = 1.0 }
"#,
        ),
    ]
}

#[test]
fn dropping_finished_tenders_and_contracts_changes_no_row_and_no_kpi() {
    // Debug builds stop at any read or write of a dropped record (market/book.rs), so
    // these runs also show that the model never reads one; the comparison with runs that
    // keep everything shows that what it reads instead (nothing: `get` says "closed")
    // gives the same results.
    let mut statuses = std::collections::BTreeSet::new();
    let (mut total, mut peak_sum) = (0, 0);
    for s in closing_paths() {
        for rep in 0..3 {
            let (dropped, peak) = run_kept(&s, rep, false);
            let (kept, all) = run_kept(&s, rep, true);
            assert_eq!(dropped, kept, "{} replication {rep}", s.scenario.name);
            assert_eq!(dropped, run(&s, rep, RunOptions { record_rows: true, trace: true }).expect("runs"));
            assert_eq!(all, dropped.contracts.len(), "keeping everything keeps every contract");
            statuses.extend(dropped.contracts.iter().map(|c| format!("{:?}", c.status)));
            total += dropped.contracts.len();
            peak_sum += peak;
        }
    }
    for status in ["Delivered", "Cut", "Cancelled", "LicenceDenied"] {
        assert!(statuses.contains(status), "no contract closed as {status}: {statuses:?}");
    }
    assert!(peak_sum * 4 < total, "contracts kept at once ({peak_sum}) should be far fewer than all ({total})");
}

#[test]
fn licence_decisions_due_after_a_cut_find_the_contract_dropped_and_do_nothing() {
    // Licences take 200 days, deliveries 30 (+ grace): pending contracts are cut at their
    // deadline, dropped, and the licence event that comes later finds nothing to decide.
    let s = &closing_paths()[1];
    let r = run(s, 0, RunOptions { record_rows: true, trace: true }).expect("runs");
    let cut_pending =
        r.contracts.iter().filter(|c| c.status == ContractStatus::Cut && c.delivered_units == 0 && c.firm == USA);
    assert!(cut_pending.count() > 0, "some foreign contracts are cut before their licence is decided");
    let decided = r.events.iter().filter(|e| e.kind == "licence_decision").count();
    let licensed = r.contracts.iter().filter(|c| c.firm == USA).count();
    assert!(decided < licensed, "{decided} decisions for {licensed} licensed contracts");
}

/// The test market with `--set`-style overrides (`firms.usa.lead_time_days=60`).
fn market_with(regimes: &str, sets: &[&str]) -> Scenario {
    let base = market(regimes);
    let overrides: Vec<_> =
        sets.iter().map(|s| crate::scenario::parse_override(s).unwrap_or_else(|e| panic!("{s}: {e}"))).collect();
    Scenario::from_toml_str_with(&base.to_toml_string(), &overrides).unwrap_or_else(|e| panic!("invalid: {e}"))
}

fn sum_market(reports: &[RunReport], f: impl Fn(&crate::observe::MarketQuarter) -> f64) -> f64 {
    reports.iter().flat_map(|r| &r.market).map(f).sum()
}

const BAN_2025: &str = r#"
[policy]
initial = "open"
[policy.regimes.open]
[policy.regimes.ban]
foreign_max_tpp = 0.0
[[policy.schedule]]
date = "2025-01-01"
regime = "ban"
"#;

#[test]
fn a_ban_strands_the_inventory_of_forbidden_chips_and_reports_the_write_off() {
    let stocked = runs(&market_with(BAN_2025, &["firms.usa.lead_time_days=60", "firms.usa.inventory_weeks=8"]), 3);
    let lean = runs(&market(BAN_2025), 3);
    let written_off = sum_market(&stocked, |m| m.inventory_writeoff_usd);
    assert!(written_off > 0.0, "finished and started units of the banned chip are written off");
    for r in &stocked {
        for (m, q) in r.market.iter().map(|m| (m, m.quarter.to_string())) {
            if m.inventory_writeoff_usd > 0.0 {
                assert_eq!(q, "2025Q1", "the write-off falls when the ban takes force");
            }
        }
        let firm_writeoff: f64 = r.firms.iter().filter(|f| f.firm == USA).map(|f| f.inventory_writeoff_usd).sum();
        let market_writeoff: f64 = r.market.iter().map(|m| m.inventory_writeoff_usd).sum();
        assert!((firm_writeoff - market_writeoff).abs() < 1e-6, "firm and market rows agree");
        let after: u64 =
            r.firms.iter().filter(|f| f.firm == USA && f.quarter.year >= 2025).map(|f| f.inventory_units).sum();
        assert_eq!(after, 0, "nothing is left in the banned firm's warehouse");
    }
    assert_eq!(sum_market(&lean, |m| m.inventory_writeoff_usd), 0.0, "production to order strands nothing");
}

#[test]
fn an_announced_rule_brings_foreign_orders_forward() {
    let announced = format!("{BAN_2025}announced = \"2024-07-01\"\n");
    let ahead = runs(&market(&announced), 4);
    let plain = runs(&market(BAN_2025), 4);
    let window = |reports: &[RunReport]| -> f64 {
        reports
            .iter()
            .flat_map(|r| r.firms.iter())
            .filter(|f| f.firm == USA && f.quarter.year == 2024 && f.quarter.q >= 3)
            .map(|f| f.units_shipped as f64)
            .sum()
    };
    assert!(window(&ahead) > window(&plain), "foreign deliveries rise between the announcement and the ban");
    // Brought forward, not added: the customers' later tenders shrink by what they pulled, so
    // the domestic vendor, which could not bid for the pulled orders, sells less meanwhile.
    let domestic = |reports: &[RunReport]| -> f64 {
        reports
            .iter()
            .flat_map(|r| r.firms.iter())
            .filter(|f| f.firm == DOM && f.quarter.year == 2024 && f.quarter.q >= 3)
            .map(|f| f.units_shipped as f64)
            .sum()
    };
    assert!(domestic(&ahead) < domestic(&plain), "later tenders shrink by the orders brought forward");
}

#[test]
fn a_backlog_grace_period_delivers_forbidden_backlog_before_cancelling_the_rest() {
    let grace = BAN_2025.replace("foreign_max_tpp = 0.0", "foreign_max_tpp = 0.0\nbacklog_grace_days = 60");
    let with = runs(&market(&grace), 4);
    let without = runs(&market(BAN_2025), 4);
    let q1 = |reports: &[RunReport]| -> f64 {
        reports
            .iter()
            .flat_map(|r| r.firms.iter())
            .filter(|f| f.firm == USA && f.quarter.to_string() == "2025Q1")
            .map(|f| f.units_shipped as f64)
            .sum()
    };
    assert_eq!(q1(&without), 0.0, "without grace nothing foreign is delivered after the ban");
    assert!(q1(&with) > 0.0, "the grace period lets backlog deliver");
    let cancelled = |reports: &[RunReport]| sum_market(reports, |m| m.cancelled_backlog_usd);
    assert!(cancelled(&with) < cancelled(&without), "less is left to cancel after the grace period");
    assert_eq!(
        with.iter()
            .flat_map(|r| r.firms.iter())
            .filter(|f| f.firm == USA && f.quarter.year >= 2025 && f.quarter.q >= 2)
            .map(|f| f.units_shipped)
            .sum::<u64>(),
        0,
        "the ban holds once the grace period is over"
    );
}

#[test]
fn a_finite_stock_depletes_and_bounds_what_it_feeds() {
    // The domestic firm makes chips only from a stocked foundry of 50 wafers (60 dies each).
    let stocked = runs(&market_with(FAB, &["suppliers.fab.stock=50", "firms.dom.capacity_units_per_quarter=0"]), 3);
    let flowing = runs(&market_with(FAB, &["firms.dom.capacity_units_per_quarter=0"]), 3);
    for r in &stocked {
        let made: u64 = r.firms.iter().filter(|f| f.firm == DOM).map(|f| f.units_produced).sum();
        assert!(made <= 50 * 60 + 1, "at most the stock's dies are made: {made}");
        assert!(made > 0, "the stock is used");
    }
    let made = |reports: &[RunReport]| -> u64 {
        reports.iter().flat_map(|r| r.firms.iter()).filter(|f| f.firm == DOM).map(|f| f.units_produced).sum()
    };
    assert!(made(&flowing) > made(&stocked), "a flow of 100 wafers a quarter makes more than a stock of 50");
}

#[test]
fn a_chip_tied_to_a_foundry_is_made_only_from_that_foundry() {
    let s = market_with(FAB, &["firms.dom.capacity_units_per_quarter=0"]);
    // Tie the domestic chip to a second foundry with no capacity: it can no longer be made.
    let mut text = s.to_toml_string();
    text.push_str("\n[[suppliers]]\nid = \"idle\"\nkind = \"foundry\"\ncapacity_per_quarter = 0.0\n");
    text.push_str("[[links]]\nsupplier = \"idle\"\nfirm = \"dom\"\n");
    assert!(text.contains("foundries = []"), "the resolved scenario lists the chip's foundries");
    let tied = text.replacen("foundries = []", "foundries = [\"idle\"]", 1);
    let tied = Scenario::from_toml_str(&tied).unwrap_or_else(|e| panic!("{e}"));
    let free = Scenario::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert!(delivered(&runs(&free, 2), DOM, "2024Q1") > 0.0, "the chip is made from the linked foundry");
    assert_eq!(delivered(&runs(&tied, 2), DOM, "2024Q1"), 0.0, "a chip tied to an idle foundry is never made");
}

#[test]
fn the_nested_logit_keeps_a_second_source_of_the_other_origin() {
    use crate::allocation::{nested_logit, HasUtility};
    struct B(f64, bool);
    impl HasUtility for B {
        fn utility(&self) -> f64 {
            self.0
        }
    }
    let bids = [B(1.0, true), B(1.0, true), B(1.0, false)];
    let plain = nested_logit(&bids, |b| b.1, 0.5, 1.0);
    for p in &plain {
        assert!((p - 1.0 / 3.0).abs() < 1e-12, "nest parameter 1 is a plain logit: {plain:?}");
    }
    let nested = nested_logit(&bids, |b| b.1, 0.5, 0.05);
    assert!((nested.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(
        nested[2] > 0.45,
        "two same-origin bids are near substitutes: the foreign bid keeps about half: {nested:?}"
    );
    // Extreme utilities do not overflow.
    let wide = nested_logit(&[B(1e6, true), B(-1e6, false)], |b| b.1, 0.01, 0.5);
    assert!(wide.iter().all(|p| p.is_finite()) && (wide[0] - 1.0).abs() < 1e-12);
}

#[test]
fn a_power_subsidy_for_domestic_chips_raises_the_domestic_share() {
    let power = |subsidy: f64| {
        market_with(
            &format!("[policy]\ninitial = \"open\"\n[policy.regimes.open]\npower_subsidy = {subsidy}\n"),
            &[
                "market.electricity_usd_per_kwh=0.5",
                "firms.dom.chips.dom_1.tdp_w=1000",
                "firms.usa.chips.usa_1.tdp_w=1000",
            ],
        )
    };
    let without = delivered(&runs(&power(0.0), 4), DOM, "2024Q1");
    let with = delivered(&runs(&power(1.0), 4), DOM, "2024Q1");
    assert!(with > without, "paying domestic chips' power raises their deliveries: {with} vs {without}");
}

#[test]
fn whole_units_are_exactly_what_an_unsigned_conversion_gives() {
    let edges = [
        f64::NAN,
        f64::NEG_INFINITY,
        -1e300,
        -1.0,
        -0.999,
        -0.0,
        0.0,
        0.3,
        0.999_999_999,
        1.0,
        2.5,
        1e15 + 0.5,
        9.007_199_254_740_993e15,
        8.999_999_999_999_999e18,
        9.0e18,
        9.223_372_036_854_775e18,
        9.3e18,
        1.8e19,
        1.9e19,
        f64::MAX,
        f64::INFINITY,
    ];
    for x in edges {
        assert_eq!(super::setup::whole(x), x as u64, "{x}");
    }
    let mut v = 1e-3;
    while v < 1e20 {
        for x in [v, v * 1.000_000_1, -v] {
            assert_eq!(super::setup::whole(x), x as u64, "{x}");
        }
        v *= 1.37;
    }
}
