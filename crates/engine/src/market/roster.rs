//! The roster: the run's chips (roadmap chips and generated generations), firms and
//! customers, with what changes who is in play: a chip's launch, its retirement once off
//! sale with nothing owed, held or started, its revival when a licence brings back a
//! contract, and each firm's list of chips that may bid. It keeps the memo of what a chip
//! offers every tender alike (see [`Roster::offer`]).
//!
//! **Owner invariants** ([`Roster::check`]): each firm's `live` list is its chips that are
//! not retired, in launch order; a retired chip is launched and has nothing owed, held,
//! started or queued; a firm's production pipeline holds what its chips count as started.

use std::cell::Cell;
use std::collections::VecDeque;

use super::backlog::Backlog;
use crate::error::InvariantError;
use crate::policy::PolicyBook;
use crate::rng::Stream;
use crate::scenario::{CustomerKind, Firm, Origin, Scenario};
use crate::sim::SimTime;
use crate::supply::Need;

/// Memory a chip is scored with when the scenario leaves `memory_gb` at 0 (unknown) [GB].
pub const UNKNOWN_MEMORY_GB: f64 = 32.0;
/// Bandwidth a chip is scored with when `memory_bandwidth_tbps` is 0 (unknown) [TB/s].
pub const UNKNOWN_BANDWIDTH_TBPS: f64 = 1.0;
/// Board power a chip is costed with when `tdp_w` is 0 (unknown) [W].
pub const UNKNOWN_TDP_W: f64 = 400.0;

/// `x`, or `unknown` when the scenario leaves it at 0.
pub(super) fn known_or(x: f64, unknown: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        unknown
    }
}

/// A chip in the run's catalogue (roadmap chips and generated generations).
///
/// Built from its specification with the rest left at [`Default`], then
/// [`ChipState::ready`] fills in what is derived from the specification.
#[derive(Debug, Clone, Default)]
pub(super) struct ChipState {
    pub id: String,
    pub firm: usize,
    pub tflops: f64,
    pub tpp: f64,
    /// Memory [GB], bandwidth [TB/s] and board power [W] as buyers score them (unknown
    /// values in the scenario are replaced by [`UNKNOWN_MEMORY_GB`] and friends).
    pub memory_gb: f64,
    pub bandwidth_tbps: f64,
    /// Natural logs of `tflops`, `bandwidth_tbps` and `memory_gb`, which every bid's
    /// utility uses (see [`ChipState::ready`]).
    pub ln_tflops: f64,
    pub ln_bandwidth: f64,
    pub ln_memory: f64,
    pub tdp_w: f64,
    pub unit_cost: f64,
    /// Price at the firm's margin target [USD].
    pub list_price: f64,
    pub hbm_stacks: f64,
    pub dies_per_wafer: f64,
    pub launch: SimTime,
    pub launched: bool,
    pub end_of_sale: Option<SimTime>,
    /// Finished units in the firm's warehouse.
    pub inventory: u64,
    /// Units started and not yet finished.
    pub pipeline: u64,
    /// Fraction of a unit of production carried to the next tick.
    pub carry: f64,
    /// Smoothed deliveries per week (what the inventory target is measured in).
    pub weekly_deliveries: f64,
    /// Units delivered in the current production tick (folded into `weekly_deliveries`).
    pub tick_units: u64,
    /// Foundry suppliers (indices) that can make it; empty: any of the firm's.
    pub foundries: Vec<usize>,
    /// Per regime (index): whether the regime lets this chip be sold if it is foreign
    /// ([`PolicyBook::allows_foreign`], which the hot paths would otherwise re-evaluate,
    /// comparing names, for every bid and production tick).
    pub allowed: Vec<bool>,
    /// Off sale for good (a chip never returns to sale) with nothing owed, finished or
    /// started: it is left out of its firm's `live` list, since bidding and production
    /// could do nothing with it. A licence granted later for one of its contracts brings
    /// it back ([`Roster::revive`]).
    pub retired: bool,
    /// Inputs one unit draws: a good die's share of a wafer, its HBM stacks, one package.
    pub need: Need,
    /// Memo of its offer ([`Roster::offer`]), valid for one regime and one margin of its
    /// firm.
    pub offer: Cell<Option<Offer>>,
    /// Memo of the units per tick it promises when bidding, valid for one allocation of
    /// the supply network: (allocation number, units). Kept by `bidding`.
    pub bid_capacity: Cell<Option<(u64, f64)>>,
}

impl ChipState {
    /// The chip with what derives from its specification filled in: the logs of its speed,
    /// bandwidth and memory (which never change) and the regimes that allow it.
    pub(super) fn ready(mut self, policy: &PolicyBook) -> ChipState {
        self.ln_tflops = self.tflops.ln();
        self.ln_bandwidth = self.bandwidth_tbps.ln();
        self.ln_memory = self.memory_gb.ln();
        self.need = Need::for_units(1.0, self.dies_per_wafer, self.hbm_stacks);
        self.allowed = (0..policy.regimes.len()).map(|r| policy.allows_foreign(r, &self.id, self.tpp)).collect();
        self
    }

    /// Dense BF16 PFLOPS of one unit.
    pub(super) fn pflops_per_unit(&self) -> f64 {
        self.tflops / 1000.0
    }

    pub(super) fn on_sale(&self, now: SimTime) -> bool {
        self.launched && self.end_of_sale.is_none_or(|end| now < end)
    }
}

/// What a chip offers every tender alike: its price with the export fee passed through,
/// the log of its cost of ownership and its supply risk, under regime `regime` with its
/// firm's margin at `margin` (as bits).
#[derive(Debug, Clone, Copy)]
pub(super) struct Offer {
    regime: usize,
    margin: u64,
    pub price: f64,
    pub ln_tco: f64,
    pub risk: f64,
}

impl Offer {
    /// The same offer, bit for bit.
    fn same(&self, other: &Offer) -> bool {
        let bits = |o: &Offer| (o.regime, o.margin, o.price.to_bits(), o.ln_tco.to_bits(), o.risk.to_bits());
        bits(self) == bits(other)
    }
}

#[derive(Debug, Clone)]
pub(super) struct FirmState {
    pub domestic: bool,
    /// R&D floor in force [USD/year] (a funding event may raise it).
    pub rd_floor: f64,
    pub ecosystem: f64,
    pub margin: f64,
    pub win_rate: f64,
    pub capacity_per_quarter: f64,
    /// Production started and not finished: (ready at, chip, units), in start order.
    pub pipeline: VecDeque<(SimTime, usize, u64)>,
    /// Roadmap and generated chips of this firm, in launch order.
    pub chips: Vec<usize>,
    /// Its chips that are not retired (see [`ChipState::retired`]), in the order of
    /// `chips`: what bidding and every production tick walk.
    live: Vec<usize>,
    /// Its live chips that are launched and, if it is foreign, allowed by the regime in
    /// force, in the order of `live`: the chips that may bid, once still on sale and fit
    /// for the tender. Rebuilt before the next bids after a launch or a regime change
    /// (`selling_stale`); a retired chip in it is off sale, so it never bids.
    selling: Vec<usize>,
    selling_stale: bool,
    /// Per input kind (good wafers, HBM stacks, packages): the least any launched chip of
    /// the firm needs of it per unit (infinite before the first launch).
    pub least_need: [f64; 3],
    pub last_roadmap_chip: usize,
    pub generation: u32,
    pub rd_stream: Stream,
    pub licence_stream: Stream,
}

impl FirmState {
    /// Firm `f` as the scenario gives it, with `chips` (all live) and no chip launched
    /// yet; `streams`: its R&D and licence streams.
    pub(super) fn new(f: &Firm, win_rate: f64, chips: Vec<usize>, streams: (Stream, Stream)) -> FirmState {
        FirmState {
            domestic: f.origin == Origin::Domestic,
            rd_floor: f.rd_floor_usd_per_year,
            ecosystem: f.ecosystem,
            margin: f.gross_margin_target,
            win_rate,
            capacity_per_quarter: f.capacity_units_per_quarter,
            pipeline: VecDeque::new(),
            last_roadmap_chip: *chips.last().unwrap_or(&0),
            live: chips.clone(),
            selling: Vec::new(),
            selling_stale: true,
            least_need: [f64::INFINITY; 3],
            chips,
            generation: 0,
            rd_stream: streams.0,
            licence_stream: streams.1,
        }
    }

    /// Its chips that are not retired, in launch order.
    pub(super) fn live(&self) -> &[usize] {
        &self.live
    }

    /// Its chips that may bid (see [`Roster::refresh_selling`]).
    pub(super) fn selling(&self) -> &[usize] {
        &self.selling
    }
}

#[derive(Debug, Clone)]
pub(super) struct CustomerState {
    pub kind: CustomerKind,
    pub rate_per_year: f64,
    /// Budget left unspent by earlier tenders, added to the next one [USD].
    pub carry_usd: f64,
    /// Relationship strength per firm index.
    pub relationship: Vec<f64>,
    pub tender_stream: Stream,
    pub award_stream: Stream,
}

/// The chips, firms and customers of a run; see the [module docs](self).
#[derive(Debug)]
pub(super) struct Roster {
    pub chips: Vec<ChipState>,
    pub firms: Vec<FirmState>,
    pub customers: Vec<CustomerState>,
}

impl Roster {
    /// Chip `ci` is launched: it counts toward its firm's least needs from now on.
    pub(super) fn launch(&mut self, ci: usize) {
        let c = &mut self.chips[ci];
        c.launched = true;
        let need = [c.need.good_wafers, c.need.hbm_stacks, c.need.packages];
        let f = &mut self.firms[c.firm];
        f.selling_stale = true;
        for (l, n) in f.least_need.iter_mut().zip(need) {
            *l = l.min(n);
        }
    }

    /// A new chip of firm `chip.firm` (a generation), live from now on; returns its index.
    pub(super) fn add_chip(&mut self, chip: ChipState) -> usize {
        let ci = self.chips.len();
        let fi = chip.firm;
        self.chips.push(chip);
        self.firms[fi].chips.push(ci);
        self.firms[fi].live.push(ci);
        ci
    }

    /// The regime changed: every firm's `selling` list is rebuilt before the next bids.
    pub(super) fn regime_changed(&mut self) {
        for f in &mut self.firms {
            f.selling_stale = true;
        }
    }

    /// Rebuild the `selling` lists that a launch or a regime change made stale.
    pub(super) fn refresh_selling(&mut self, regime: usize) {
        for f in self.firms.iter_mut().filter(|f| f.selling_stale) {
            let chips = &self.chips;
            f.selling.clear();
            f.selling.extend(
                f.live.iter().copied().filter(|&ci| chips[ci].launched && (f.domestic || chips[ci].allowed[regime])),
            );
            f.selling_stale = false;
        }
    }

    /// Bring a retired chip back into its firm's `live` list (a licence was granted for
    /// one of its contracts, or it won a contract again).
    pub(super) fn revive(&mut self, ci: usize) {
        if !self.chips[ci].retired {
            return;
        }
        self.chips[ci].retired = false;
        let fi = self.chips[ci].firm;
        let chips = &self.chips;
        let f = &mut self.firms[fi];
        f.live.clear();
        f.live.extend(f.chips.iter().copied().filter(|&c| !chips[c].retired));
    }

    /// Walk firm `fi`'s live chips after a production tick: `each` sees every one, then the
    /// chips that can no longer matter retire (launched, off sale, nothing owed, held,
    /// started or queued).
    pub(super) fn retire_idle(
        &mut self,
        fi: usize,
        now: SimTime,
        backlog: &Backlog,
        mut each: impl FnMut(&mut ChipState),
    ) {
        let chips = &mut self.chips;
        self.firms[fi].live.retain(|&ci| {
            let c = &mut chips[ci];
            each(c);
            c.retired = c.launched
                && !c.on_sale(now)
                && backlog.owed_of_chip(ci) == 0
                && c.inventory == 0
                && c.pipeline == 0
                && backlog.queued(ci) == 0;
            !c.retired
        });
    }

    pub(super) fn best_on_sale(&self, fi: usize, now: SimTime) -> Option<usize> {
        self.firms[fi]
            .chips
            .iter()
            .copied()
            .filter(|&ci| self.chips[ci].on_sale(now))
            .max_by(|&a, &b| self.chips[a].tflops.total_cmp(&self.chips[b].tflops))
    }

    /// Per-chip performance gaps, measured in TPP (the export-control measure: the best
    /// dense rate over all formats times its bit length, so FP8 and FP4 count): best
    /// foreign chip launched anywhere, and best foreign chip sellable in China under
    /// `regime`, each over the best domestic chip on sale. `None` when there is no such
    /// foreign chip, or no domestic chip on sale.
    pub(super) fn perf_gaps(&self, now: SimTime, regime: usize) -> (Option<f64>, Option<f64>) {
        let mut frontier_foreign: f64 = 0.0;
        let mut sellable_foreign: f64 = 0.0;
        let mut best_domestic: f64 = 0.0;
        for c in &self.chips {
            if !c.launched {
                continue;
            }
            if self.firms[c.firm].domestic {
                if c.on_sale(now) {
                    best_domestic = best_domestic.max(c.tpp);
                }
            } else {
                frontier_foreign = frontier_foreign.max(c.tpp);
                if c.on_sale(now) && c.allowed[regime] {
                    sellable_foreign = sellable_foreign.max(c.tpp);
                }
            }
        }
        if best_domestic <= 0.0 {
            return (None, None);
        }
        let ratio = |foreign: f64| (foreign > 0.0).then(|| foreign / best_domestic);
        (ratio(frontier_foreign), ratio(sellable_foreign))
    }

    /// Price per unit a firm asks: the list price at a winning firm's margin target, cut
    /// linearly toward the margin-floor price as its smoothed win rate falls.
    fn ask_price(&self, s: &Scenario, fi: usize, ci: usize) -> f64 {
        let f = &s.firms[fi];
        let chip = &self.chips[ci];
        let floor_price = chip.unit_cost / (1.0 - f.margin_floor);
        let span = f.gross_margin_target - f.margin_floor;
        let discount =
            if span > 0.0 { ((f.gross_margin_target - self.firms[fi].margin) / span).clamp(0.0, 1.0) } else { 0.0 };
        (chip.list_price - discount * (chip.list_price - floor_price)).max(floor_price.min(chip.list_price))
    }

    /// Power cost of one card over the years counted in its cost of ownership [USD].
    fn power_cost(&self, s: &Scenario, ci: usize) -> f64 {
        let m = &s.market;
        self.chips[ci].tdp_w / 1000.0 * 8766.0 * m.power_years * m.pue * m.electricity_usd_per_kwh
    }

    /// What chip `ci` offers every tender alike under `regime`: the price the customer pays
    /// per card (export fee passed through), the log of its cost of ownership and its
    /// supply risk. They change only with the regime and the firm's margin, so they are
    /// kept in the chip's memo until one of those does.
    pub(super) fn offer(&self, s: &Scenario, policy: &PolicyBook, regime: usize, ci: usize) -> Offer {
        let chip = &self.chips[ci];
        let margin = self.firms[chip.firm].margin.to_bits();
        if let Some(offer) = chip.offer.get().filter(|o| (o.regime, o.margin) == (regime, margin)) {
            // Debug builds (every test) check that the memo is what would be computed now.
            debug_assert!(offer.same(&self.offer_now(s, policy, regime, ci)), "stale offer memo of chip {}", chip.id);
            return offer;
        }
        let offer = self.offer_now(s, policy, regime, ci);
        chip.offer.set(Some(offer));
        offer
    }

    /// [`Roster::offer`] computed afresh.
    fn offer_now(&self, s: &Scenario, policy: &PolicyBook, regime: usize, ci: usize) -> Offer {
        let chip = &self.chips[ci];
        let fi = chip.firm;
        let firm = &self.firms[fi];
        let margin = firm.margin.to_bits();
        let r = &policy.regimes[regime];
        let ask = self.ask_price(s, fi, ci);
        let power = self.power_cost(s, ci);
        let system = s.market.system_cost_usd_per_card;
        let (price, tco, risk) = if firm.domestic {
            let tco = ask * (1.0 - r.domestic_subsidy) + power * (1.0 - r.power_subsidy) + system;
            (ask, tco, s.firms[fi].supply_risk)
        } else {
            let price = ask / (1.0 - r.export_fee);
            let licence_risk = if r.license_required { 1.0 - r.license_approval_prob } else { 0.0 };
            let risk = s.firms[fi].supply_risk + r.foreign_supply_risk + licence_risk;
            (price, price + power + system, risk.min(1.0))
        };
        Offer { regime, margin, price, ln_tco: tco.ln(), risk }
    }

    /// Check the roster's invariants (see the [module docs](self)).
    pub(super) fn check(&self, backlog: &Backlog) -> Result<(), InvariantError> {
        for (fi, f) in self.firms.iter().enumerate() {
            let live: Vec<usize> = f.chips.iter().copied().filter(|&c| !self.chips[c].retired).collect();
            if live != f.live {
                return Err(InvariantError(format!("firm {fi}: live chips {:?}, not retired {live:?}", f.live)));
            }
            if let Some(&ci) = f.chips.iter().find(|&&ci| {
                let c = &self.chips[ci];
                c.retired
                    && (backlog.owed_of_chip(ci) > 0
                        || c.inventory > 0
                        || c.pipeline > 0
                        || backlog.queued(ci) > 0
                        || !c.launched)
            }) {
                return Err(InvariantError(format!(
                    "chip {} retired with units owed, held or started",
                    self.chips[ci].id
                )));
            }
            let in_pipeline: u64 = f.pipeline.iter().map(|p| p.2).sum();
            let chips_pipeline: u64 = f.chips.iter().map(|&c| self.chips[c].pipeline).sum();
            if in_pipeline != chips_pipeline {
                return Err(InvariantError(format!("firm {fi}: pipeline {in_pipeline} but chips {chips_pipeline}")));
            }
        }
        Ok(())
    }
}
