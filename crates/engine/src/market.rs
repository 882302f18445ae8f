//! The market model: firms bid their chips into customers' tenders, win contracts, produce
//! and deliver them, develop new chips and keep accounts, under the regime in force.
//!
//! [`Market`] implements the kernel's [`Model`]: every state change happens in
//! [`Market::handle`], one `match` over the closed [`Event`] enum. This file holds the state
//! and the dispatch; the work of each part of the model (`docs/model.md`) is in a submodule:
//! `tenders` (3.2), `bidding` (3.3), `production`, `technology` and `accounts` (3.4),
//! `regimes` (3.5), with `demand` (the S-curves) and `kpi` (rows and summary KPIs).

mod accounts;
mod bidding;
mod book;
mod demand;
mod kpi;
mod production;
mod regimes;
mod technology;
mod tenders;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::VecDeque;

use rand::Rng;
use rand_distr::{Distribution, Gamma, LogNormal, Normal};

use crate::calendar::{Calendar, Date, DayTable, Quarter, TICKS_PER_DAY, TICKS_PER_YEAR};
use crate::error::SimError;
use crate::observe::{Catalog, ContractRow, ContractStatus, EventRow, RunOptions, Sink};
use crate::policy::PolicyBook;
use crate::rng::{stream, Stream};
use crate::scenario::{CustomerKind, Origin, Scenario};
use crate::sim::{EventQueue, Model, SimTime};
use crate::supply::{Need, SupplyNetwork};

use book::Book;

pub use demand::DemandCurve;

/// Everything that can happen in the market. One variant per kind of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Books of the quarter that just ended are closed.
    QuarterEnd,
    /// A regime takes force (`markov`: drawn by the switching model).
    Regime {
        /// Regime index.
        regime: u32,
        /// Whether the switching model drew it (then the next switch is drawn too).
        markov: bool,
    },
    /// The Markov switching model starts.
    SwitchingStarts,
    /// A roadmap or generated chip goes on sale.
    Launch(u32),
    /// A firm's R&D produces its next generation.
    NextGen(u32),
    /// A funding event of a firm: (firm, event index).
    Funding(u32, u32),
    /// Production and delivery for one tick.
    Production,
    /// Contracts `first .. first + count`, signed one after the other in one award (so with
    /// one deadline), reach deadline plus grace: (first, count).
    Deadlines(u32, u32),
    /// A restriction is announced: (schedule entry). Customers order ahead of it.
    Announce(u32),
    /// The backlog grace period of a regime change ends: (regime index in force then).
    GraceEnd(u32),
    /// An export licence is decided.
    Licence(u32),
    /// A customer opens a tender (then schedules its next one).
    TenderArrival(u32),
    /// Every firm, in scenario order, submits its bid to a tender at the end of the bid
    /// window (one event per tender rather than per firm: far fewer pending events).
    Bids(u32),
    /// The customer scores the bids and awards the tender.
    Award(u32),
    /// End of the horizon: the last (partial) quarter is closed.
    End,
}

impl Event {
    /// Kernel priority: lower fires first among events at the same tick.
    fn priority(self) -> u8 {
        match self {
            Event::QuarterEnd => 0,
            Event::Regime { .. } | Event::SwitchingStarts | Event::Announce(_) | Event::GraceEnd(_) => 1,
            Event::Launch(_) | Event::NextGen(_) | Event::Funding(..) => 2,
            Event::Production => 3,
            Event::Deadlines(..) | Event::Licence(_) => 4,
            Event::TenderArrival(_) => 5,
            Event::Bids(_) => 6,
            Event::Award(_) => 7,
            Event::End => 9,
        }
    }
}

/// A chip in the run's catalogue (roadmap chips and generated generations).
///
/// Built from its specification with the rest left at [`Default`], then
/// [`ChipState::ready`] fills in what is derived from the specification.
#[derive(Debug, Clone, Default)]
struct ChipState {
    id: String,
    firm: usize,
    tflops: f64,
    tpp: f64,
    /// Memory [GB], bandwidth [TB/s] and board power [W] as buyers score them (unknown
    /// values in the scenario are replaced by [`UNKNOWN_MEMORY_GB`] and friends).
    memory_gb: f64,
    bandwidth_tbps: f64,
    /// Natural logs of `tflops`, `bandwidth_tbps` and `memory_gb`, which every bid's
    /// utility uses (see [`ChipState::with_logs`]).
    ln_tflops: f64,
    ln_bandwidth: f64,
    ln_memory: f64,
    tdp_w: f64,
    unit_cost: f64,
    /// Price at the firm's margin target [USD].
    list_price: f64,
    hbm_stacks: f64,
    dies_per_wafer: f64,
    launch: SimTime,
    launched: bool,
    end_of_sale: Option<SimTime>,
    /// Deliveries of the current quarter.
    q: ChipFlows,
    /// Units owed on active contracts.
    backlog: u64,
    /// Finished units in the firm's warehouse.
    inventory: u64,
    /// Units started and not yet finished.
    pipeline: u64,
    /// Fraction of a unit of production carried to the next tick.
    carry: f64,
    /// Smoothed deliveries per week (what the inventory target is measured in).
    weekly_deliveries: f64,
    /// Units delivered in the current production tick (folded into `weekly_deliveries`).
    tick_units: u64,
    /// Foundry suppliers (indices) that can make it; empty: any of the firm's.
    foundries: Vec<usize>,
    /// Per regime (index): whether the regime lets this chip be sold if it is foreign
    /// ([`PolicyBook::allows_foreign`], which the hot paths would otherwise re-evaluate,
    /// comparing names, for every bid and production tick).
    allowed: Vec<bool>,
    /// Entries of its firm's backlog queue that are contracts for this chip: all of them,
    /// and those still active (the rest were closed early and leave at the next delivery).
    queued: u32,
    queued_active: u32,
    /// Scratch of one delivery pass: active entries of this chip the pass may still serve.
    walk_left: u32,
    /// Off sale for good (a chip never returns to sale) with nothing owed, finished or
    /// started: it is left out of its firm's `live` list, since
    /// bidding and production could do nothing with it. A licence granted later for one
    /// of its contracts brings it back.
    retired: bool,
    /// Inputs one unit draws: a good die's share of a wafer, its HBM stacks, one package.
    need: Need,
    /// Memo of its offer (see `bidding`), valid for one regime and one margin of its firm.
    offer: Cell<Option<Offer>>,
    /// Memo of the units per tick it promises when bidding, valid for one allocation of
    /// the supply network: (allocation number, units).
    bid_capacity: Cell<Option<(u64, f64)>>,
}

/// What a chip offers every tender alike (see `bidding`): its price with the export fee
/// passed through, the log of its cost of ownership and its supply risk, under regime
/// `regime` with its firm's margin at `margin` (as bits).
#[derive(Debug, Clone, Copy)]
struct Offer {
    regime: usize,
    margin: u64,
    price: f64,
    ln_tco: f64,
    risk: f64,
}

impl Offer {
    /// The same offer, bit for bit.
    fn same(&self, other: &Offer) -> bool {
        let bits = |o: &Offer| (o.regime, o.margin, o.price.to_bits(), o.ln_tco.to_bits(), o.risk.to_bits());
        bits(self) == bits(other)
    }
}

/// Memory a chip is scored with when the scenario leaves `memory_gb` at 0 (unknown) [GB].
pub const UNKNOWN_MEMORY_GB: f64 = 32.0;
/// Bandwidth a chip is scored with when `memory_bandwidth_tbps` is 0 (unknown) [TB/s].
pub const UNKNOWN_BANDWIDTH_TBPS: f64 = 1.0;
/// Board power a chip is costed with when `tdp_w` is 0 (unknown) [W].
pub const UNKNOWN_TDP_W: f64 = 400.0;

fn known_or(x: f64, unknown: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        unknown
    }
}

/// Per-quarter deliveries of one chip.
#[derive(Debug, Clone, Copy, Default)]
struct ChipFlows {
    units: u64,
    pflops: f64,
    revenue: f64,
}

impl ChipState {
    /// The chip with what derives from its specification filled in: the logs of its speed,
    /// bandwidth and memory (which never change) and the regimes that allow it.
    fn ready(mut self, policy: &PolicyBook) -> ChipState {
        self.ln_tflops = self.tflops.ln();
        self.ln_bandwidth = self.bandwidth_tbps.ln();
        self.ln_memory = self.memory_gb.ln();
        self.need = Need::for_units(1.0, self.dies_per_wafer, self.hbm_stacks);
        self.allowed = (0..policy.regimes.len()).map(|r| policy.allows_foreign(r, &self.id, self.tpp)).collect();
        self
    }

    /// Dense BF16 PFLOPS of one unit.
    fn pflops_per_unit(&self) -> f64 {
        self.tflops / 1000.0
    }
    fn on_sale(&self, now: SimTime) -> bool {
        self.launched && self.end_of_sale.is_none_or(|end| now < end)
    }
}

/// Per-quarter flows of a firm.
#[derive(Debug, Clone, Default)]
struct FirmFlows {
    units: u64,
    produced: u64,
    pflops: f64,
    revenue: f64,
    cogs: f64,
    fees: f64,
    fixed: f64,
    funding: f64,
    rd: f64,
    writeoff: f64,
    bids: u32,
    wins: u32,
    capacity_units: f64,
}

#[derive(Debug, Clone)]
struct FirmState {
    domestic: bool,
    /// R&D floor in force [USD/year] (a funding event may raise it).
    rd_floor: f64,
    cash: f64,
    ecosystem: f64,
    margin: f64,
    win_rate: f64,
    capacity_per_quarter: f64,
    /// Contracts owed, in the order they entered (FIFO delivery). A contract closed early
    /// (cut, cancelled) stays until the next delivery pass removes it.
    backlog: Vec<u32>,
    /// Entries of `backlog` closed early and not yet removed.
    stale: u32,
    /// Production started and not finished: (ready at, chip, units), in start order.
    pipeline: VecDeque<(SimTime, usize, u64)>,
    backlog_units: u64,
    installed_pflops: f64,
    /// Roadmap and generated chips of this firm, in launch order.
    chips: Vec<usize>,
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
    least_need: [f64; 3],
    last_roadmap_chip: usize,
    generation: u32,
    q: FirmFlows,
    /// Revenue of the last eight closed quarters, oldest first.
    revenue_history: VecDeque<f64>,
    rd_history: VecDeque<f64>,
    cumulative_revenue: f64,
    ipo_valuation: Option<f64>,
    rd_stream: Stream,
    licence_stream: Stream,
}

#[derive(Debug, Clone)]
struct CustomerState {
    kind: CustomerKind,
    rate_per_year: f64,
    /// Budget left unspent by earlier tenders, added to the next one [USD].
    carry_usd: f64,
    /// Relationship strength per firm index.
    relationship: Vec<f64>,
    tender_stream: Stream,
    award_stream: Stream,
}

#[derive(Debug, Clone)]
struct Bid {
    firm: usize,
    chip: usize,
    /// Price per unit the customer pays (export fee passed through) [USD].
    price: f64,
    /// Units the firm can deliver by the deadline.
    deliverable: u64,
    /// Deterministic utility of the bid for this tender.
    utility: f64,
}

#[derive(Debug, Clone)]
struct Tender {
    customer: usize,
    /// Budget [USD].
    budget: f64,
    training: bool,
    min_tflops: f64,
    /// Inference tenders: the least memory a chip needs [GB].
    min_memory_gb: f64,
    deadline: SimTime,
    /// An order ahead of an announced restriction: only foreign chips allowed now and
    /// forbidden under this regime may bid.
    ahead_of: Option<usize>,
    bids: Vec<Bid>,
}

/// A contract, compact (48 bytes): the model keeps up to a delivery window's worth of them.
/// Positions are `u32` and times `u32` ticks (a horizon of at most 100 years is about 53
/// million ticks, under 2^27); a unit's compute is its chip's (chips never change speed).
#[derive(Debug, Clone)]
struct Contract {
    tender: u32,
    customer: u32,
    firm: u32,
    chip: u32,
    /// Tick of the award.
    awarded: u32,
    /// The tick it closed (low 27 bits, meaningful once it is no longer open), its status
    /// (3 bits), whether its tender was a training tender (kept here because the tender is
    /// dropped once awarded; a re-tender is one too) and whether its number is in the
    /// firm's backlog queue (a contract closed early, cut or cancelled, stays there until
    /// the next delivery pass skips it, and production reads its chip until then, so it is
    /// kept until it has left the queue). See the accessors.
    closed_status: u32,
    units: u64,
    unit_price: f64,
    delivered: u64,
}

/// A tick as stored in a [`Contract`] (every tick of a valid horizon fits).
fn tick32(t: SimTime) -> u32 {
    u32::try_from(t.ticks()).unwrap_or(u32::MAX)
}

/// Bits of [`Contract::closed_status`].
const CLOSED_TICK: u32 = (1 << 27) - 1;
const STATUS_SHIFT: u32 = 27;
const TRAINING: u32 = 1 << 30;
const IN_BACKLOG: u32 = 1 << 31;

/// The statuses a contract's flags can hold, by code: the open ones first.
const STATUSES: [ContractStatus; 6] = [
    ContractStatus::PendingLicence,
    ContractStatus::Active,
    ContractStatus::Delivered,
    ContractStatus::Cut,
    ContractStatus::Cancelled,
    ContractStatus::LicenceDenied,
];

/// How many statuses at the start of [`STATUSES`] are open.
const OPEN_STATUSES: usize = 2;

impl Contract {
    fn new_flags(status: ContractStatus, training: bool) -> u32 {
        let mut flags = 0;
        Contract::put_status(&mut flags, status);
        if training {
            flags |= TRAINING;
        }
        flags
    }
    fn put_status(flags: &mut u32, status: ContractStatus) {
        let code = STATUSES.iter().position(|&s| s == status).unwrap_or(0) as u32;
        *flags = (*flags & !(0b111 << STATUS_SHIFT)) | (code << STATUS_SHIFT);
    }
    fn customer(&self) -> usize {
        self.customer as usize
    }
    fn firm(&self) -> usize {
        self.firm as usize
    }
    fn chip(&self) -> usize {
        self.chip as usize
    }
    /// The status's position in [`STATUSES`].
    fn status_code(&self) -> usize {
        ((self.closed_status >> STATUS_SHIFT) & 0b111) as usize
    }
    fn status(&self) -> ContractStatus {
        // Only positions of STATUSES are ever stored.
        STATUSES.get(self.status_code()).copied().unwrap_or(ContractStatus::Cancelled)
    }
    fn set_status(&mut self, status: ContractStatus) {
        Contract::put_status(&mut self.closed_status, status);
    }
    /// Close it with `status` at `now`.
    fn close(&mut self, status: ContractStatus, now: SimTime) {
        self.set_status(status);
        self.closed_status = (self.closed_status & !CLOSED_TICK) | (tick32(now) & CLOSED_TICK);
    }
    /// The tick it closed (once it is no longer open).
    fn closed(&self) -> u32 {
        self.closed_status & CLOSED_TICK
    }
    fn training(&self) -> bool {
        self.closed_status & TRAINING != 0
    }
    fn in_backlog(&self) -> bool {
        self.closed_status & IN_BACKLOG != 0
    }
    fn set_in_backlog(&mut self, yes: bool) {
        if yes {
            self.closed_status |= IN_BACKLOG;
        } else {
            self.closed_status &= !IN_BACKLOG;
        }
    }
    /// Nothing can change it any more: closed, and out of the firm's backlog queue.
    fn finished(&self) -> bool {
        !self.open() && !self.in_backlog()
    }
    fn open(&self) -> bool {
        // The open statuses come first in STATUSES.
        self.status_code() < OPEN_STATUSES
    }
    fn remaining(&self) -> u64 {
        self.units - self.delivered
    }
}

/// Buffers the production tick reuses rather than allocating each time (their contents
/// never outlive one use).
#[derive(Debug, Default)]
struct Scratch {
    /// Each firm's input needs, and whether it wants to start anything.
    needs: Vec<Need>,
    wants: Vec<bool>,
    /// The order a firm starts its chips in.
    order: Vec<usize>,
    /// Good wafers per foundry supplier: left to a firm this tick, and drawn by it.
    wafers: Vec<(usize, f64)>,
    wafers_used: Vec<(usize, f64)>,
    /// The lists of an award.
    award: AwardLists,
    /// Bid lists of awarded tenders, handed to the next tenders that get bids.
    spare_bids: Vec<Vec<Bid>>,
}

/// The lists an award works with (see `bidding`), one entry per bid unless noted.
#[derive(Debug, Default)]
struct AwardLists {
    /// Nested-logit share of the budget.
    shares: Vec<f64>,
    domestic: Vec<bool>,
    /// The most the bid may take [USD].
    caps: Vec<f64>,
    /// Budget awarded [USD].
    alloc: Vec<f64>,
    /// One nest's fill: its bids, their weights, their room, what each gets.
    members: Vec<usize>,
    weights: Vec<f64>,
    room: Vec<f64>,
    filled: Vec<f64>,
    work: crate::supply::WaterFill,
}

/// Market-wide flows of the current quarter.
#[derive(Debug, Clone, Default)]
struct MarketFlows {
    tenders_opened: u64,
    tenders_awarded: u64,
    unfilled_pflops: f64,
    export_fees: f64,
    cancelled_backlog: f64,
    writeoff: f64,
}

/// The whole state of one replication.
pub struct Market<'s> {
    s: &'s Scenario,
    options: RunOptions,
    cal: Calendar,
    /// The dates of the horizon's days (rows name dates).
    days: DayTable,
    end: SimTime,
    tick_len: u64,
    demand: DemandCurve,
    policy: PolicyBook,
    regime: usize,
    supply: SupplyNetwork,
    firms: Vec<FirmState>,
    chips: Vec<ChipState>,
    customers: Vec<CustomerState>,
    /// Tenders, kept until awarded.
    tenders: Book<Tender>,
    /// Contracts, kept until they close (and every one before them has).
    contracts: Book<Contract>,
    quarter: Quarter,
    quarter_start: SimTime,
    flows: MarketFlows,
    policy_stream: Stream,
    /// Names the rows refer to (chip names are added as chips appear).
    catalog: Catalog,
    sink: &'s mut dyn Sink,
    kpi: kpi::Tracker,
    /// Buffers reused from one production tick to the next.
    scratch: Scratch,
    /// Tests only: keep every tender and contract to the end (rows then come at the end),
    /// to show that dropping finished records changes nothing.
    #[cfg(test)]
    keep_records: bool,
    /// Tests only: the most contracts kept at once.
    #[cfg(test)]
    peak_kept: usize,
}

/// `x as u64` (whole units: rounds toward zero, 0 for a negative number or NaN, saturating),
/// computed through the signed conversion, which takes fewer instructions, wherever that
/// gives the same result.
fn whole(x: f64) -> u64 {
    if x < 9.0e18 {
        x.max(0.0) as i64 as u64
    } else {
        x as u64
    }
}

fn years(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_YEAR
}

fn ticks_of_years(years: f64) -> u64 {
    (years * TICKS_PER_YEAR).round().clamp(1.0, 1e15) as u64
}

impl<'s> Market<'s> {
    /// Build the initial state of replication `replication`, whose rows go to `sink`, and
    /// schedule its first events.
    pub fn new(
        s: &'s Scenario,
        replication: u32,
        options: RunOptions,
        sink: &'s mut dyn Sink,
        queue: &mut EventQueue<Event>,
    ) -> Market<'s> {
        let seed = s.scenario.seed;
        let cal = Calendar::new(s.scenario.start);
        let end = end_tick(s, &cal);
        let mid = s.demand.inference_midpoint.map_or(5.0, |d| cal.years_to(d));
        let policy = PolicyBook::new(s, &cal);
        let supply = SupplyNetwork::new(s, &cal);

        let mut chips = Vec::new();
        let mut firms = Vec::with_capacity(s.firms.len());
        for (fi, f) in s.firms.iter().enumerate() {
            let mut launch_stream = stream(seed, replication, &format!("launch/{}", f.id));
            let mut ids = Vec::new();
            for c in &f.chips {
                let mut launch = cal.tick_of(c.launch);
                if f.launch_slip_sd_days > 0.0 && c.launch > s.scenario.start {
                    let slip = Normal::new(0.0, f.launch_slip_sd_days).map_or(0.0, |n| n.sample(&mut launch_stream));
                    launch = launch.saturating_add((slip.max(0.0) * TICKS_PER_DAY as f64) as u64);
                }
                ids.push(chips.len());
                chips.push(
                    ChipState {
                        id: c.id.clone(),
                        firm: fi,
                        tflops: c.bf16_tflops,
                        tpp: c.tpp(),
                        unit_cost: c.unit_cost_usd,
                        list_price: c.price_usd.unwrap_or(c.unit_cost_usd / (1.0 - f.gross_margin_target)),
                        hbm_stacks: c.hbm_stacks,
                        dies_per_wafer: c.dies_per_wafer,
                        launch,
                        end_of_sale: c.end_of_sale.map(|d| cal.tick_of(d)),
                        memory_gb: known_or(c.memory_gb, UNKNOWN_MEMORY_GB),
                        bandwidth_tbps: known_or(c.memory_bandwidth_tbps, UNKNOWN_BANDWIDTH_TBPS),
                        tdp_w: known_or(c.tdp_w, UNKNOWN_TDP_W),
                        foundries: c
                            .foundries
                            .iter()
                            .filter_map(|id| s.suppliers.iter().position(|x| x.id == *id))
                            .collect(),
                        ..ChipState::default()
                    }
                    .ready(&policy),
                );
            }
            firms.push(FirmState {
                domestic: f.origin == Origin::Domestic,
                rd_floor: f.rd_floor_usd_per_year,
                cash: f.cash_usd,
                ecosystem: f.ecosystem,
                margin: f.gross_margin_target,
                win_rate: s.market.reference_win_rate,
                capacity_per_quarter: f.capacity_units_per_quarter,
                backlog: Vec::new(),
                stale: 0,
                pipeline: VecDeque::new(),
                backlog_units: 0,
                installed_pflops: 0.0,
                last_roadmap_chip: *ids.last().unwrap_or(&0),
                live: ids.clone(),
                selling: Vec::new(),
                selling_stale: true,
                least_need: [f64::INFINITY; 3],
                chips: ids,
                generation: 0,
                q: FirmFlows::default(),
                revenue_history: VecDeque::new(),
                rd_history: VecDeque::new(),
                cumulative_revenue: 0.0,
                ipo_valuation: None,
                rd_stream: stream(seed, replication, &format!("rd/{}", f.id)),
                licence_stream: stream(seed, replication, &format!("licence/{}", f.id)),
            });
        }
        let customers = s
            .customers
            .iter()
            .map(|c| CustomerState {
                kind: c.kind,
                rate_per_year: c.tenders_per_year.unwrap_or(s.demand.tenders_per_year),
                carry_usd: 0.0,
                relationship: s.firms.iter().map(|f| c.relationships.get(&f.id).copied().unwrap_or(0.0)).collect(),
                tender_stream: stream(seed, replication, &format!("tenders/{}", c.id)),
                award_stream: stream(seed, replication, &format!("award/{}", c.id)),
            })
            .collect();

        let catalog = Catalog {
            replication,
            seed,
            firm_ids: s.firms.iter().map(|f| f.id.clone()).collect(),
            customer_ids: s.customers.iter().map(|c| c.id.clone()).collect(),
            chip_ids: Vec::new(),
            regime_names: policy.names.clone(),
        };
        let kpi = kpi::Tracker::new(s);
        let mut market = Market {
            s,
            options,
            cal,
            days: DayTable::new(cal, end),
            end,
            tick_len: u64::from(s.scenario.tick_days) * TICKS_PER_DAY,
            demand: DemandCurve::new(&s.demand, mid),
            regime: policy.initial,
            policy,
            supply,
            firms,
            chips,
            customers,
            tenders: Book::new(Tender {
                customer: 0,
                budget: 0.0,
                training: false,
                min_tflops: 0.0,
                min_memory_gb: 0.0,
                deadline: SimTime::ZERO,
                ahead_of: None,
                bids: Vec::new(),
            }),
            contracts: Book::new(Contract {
                tender: 0,
                customer: 0,
                firm: 0,
                chip: 0,
                awarded: 0,
                closed_status: Contract::new_flags(ContractStatus::Cancelled, false),
                units: 0,
                unit_price: 0.0,
                delivered: 0,
            }),
            quarter: s.scenario.start.quarter(),
            quarter_start: SimTime::ZERO,
            flows: MarketFlows::default(),
            policy_stream: stream(seed, replication, "policy"),
            catalog,
            sink,
            kpi,
            scratch: Scratch::default(),
            #[cfg(test)]
            keep_records: false,
            #[cfg(test)]
            peak_kept: 0,
        };
        market.schedule_start(queue);
        market
    }

    fn schedule_start(&mut self, queue: &mut EventQueue<Event>) {
        let s = self.s;
        let end = self.end;
        let push = |queue: &mut EventQueue<Event>, at: SimTime, ev: Event| {
            // Everything at or after the end is dropped: it cannot matter.
            if at < end {
                queue.schedule_in(at.ticks(), ev.priority(), ev);
            }
        };
        // Chips already on the market at start launch at once (no event).
        for ci in 0..self.chips.len() {
            if self.chips[ci].launch == SimTime::ZERO {
                self.mark_launched(ci);
            } else {
                push(queue, self.chips[ci].launch, Event::Launch(ci as u32));
            }
        }
        for (fi, f) in s.firms.iter().enumerate() {
            if f.next_gen.is_some() && self.chips[self.firms[fi].last_roadmap_chip].launched {
                self.schedule_next_gen(fi, SimTime::ZERO, queue);
            }
            for (ei, ev) in f.funding.iter().enumerate() {
                let at = self.cal.tick_of(ev.date);
                if ev.date >= s.scenario.start {
                    push(queue, at, Event::Funding(fi as u32, ei as u32));
                }
            }
        }
        for &(at, r) in &self.policy.scheduled.clone() {
            push(queue, at, Event::Regime { regime: r as u32, markov: false });
        }
        for (i, entry) in s.policy.schedule.iter().enumerate() {
            if let Some(announced) = entry.announced {
                if announced > s.scenario.start && announced < entry.date {
                    push(queue, self.cal.tick_of(announced), Event::Announce(i as u32));
                }
            }
        }
        if let Some((from, _)) = &self.policy.switching {
            push(queue, *from, Event::SwitchingStarts);
        }
        self.supply.set_regime(&self.policy.regimes[self.regime].cut_links);
        push(queue, SimTime::ZERO, Event::Production);
        for ci in 0..self.customers.len() {
            let dt = self.draw_interarrival(ci);
            push(queue, SimTime(dt), Event::TenderArrival(ci as u32));
        }
        let next_q = self.cal.tick_of(self.quarter.next().first_day()).min(self.end);
        push(queue, next_q, Event::QuarterEnd);
        queue.schedule_in(self.end.ticks(), Event::End.priority(), Event::End);
    }

    /// End of the run: the contracts still kept go to the sink (in contract order), then
    /// the KPIs.
    pub fn finish(mut self, events_processed: u64) {
        while let Some((id, c)) = self.contracts.pop_any() {
            self.emit_contract(id, &c);
        }
        self.sync_chip_names();
        let gaps = self.perf_gaps(self.end);
        let summary = self.kpi.summary(self.s, &self.firms_final(), gaps);
        self.sink.end(&self.catalog, summary, events_processed);
    }

    /// Add the names of chips created since the last call to the catalogue.
    fn sync_chip_names(&mut self) {
        while let Some(c) = self.chips.get(self.catalog.chip_ids.len()) {
            self.catalog.chip_ids.push(c.id.clone());
        }
    }

    /// Chip `ci` is launched: it counts toward its firm's least needs from now on.
    fn mark_launched(&mut self, ci: usize) {
        let c = &mut self.chips[ci];
        c.launched = true;
        let need = [c.need.good_wafers, c.need.hbm_stacks, c.need.packages];
        let f = &mut self.firms[c.firm];
        f.selling_stale = true;
        for (l, n) in f.least_need.iter_mut().zip(need) {
            *l = l.min(n);
        }
    }

    /// Rebuild the `selling` lists that a launch or a regime change made stale.
    fn refresh_selling(&mut self) {
        for f in self.firms.iter_mut().filter(|f| f.selling_stale) {
            let chips = &self.chips;
            let regime = self.regime;
            f.selling.clear();
            f.selling.extend(
                f.live.iter().copied().filter(|&ci| chips[ci].launched && (f.domestic || chips[ci].allowed[regime])),
            );
            f.selling_stale = false;
        }
    }

    /// Bring a retired chip back into its firm's `live` list (a licence was granted for
    /// one of its contracts).
    fn revive(&mut self, ci: usize) {
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

    /// Hand the contract rows that became final, and drop awarded tenders (after each event).
    fn flush_finished(&mut self) {
        #[cfg(test)]
        {
            self.peak_kept = self.peak_kept.max(self.contracts.kept());
            if self.keep_records {
                return;
            }
        }
        while self.tenders.pop_finished(|_| false).is_some() {}
        while let Some((id, c)) = self.contracts.pop_finished(Contract::finished) {
            self.emit_contract(id, &c);
        }
    }

    fn emit_contract(&mut self, id: usize, c: &Contract) {
        if !self.options.record_rows {
            return;
        }
        self.sync_chip_names();
        let row = ContractRow {
            contract: id as u64,
            tender: u64::from(c.tender),
            customer: c.customer(),
            firm: c.firm(),
            chip: c.chip(),
            awarded_on: self.days.date_of(SimTime(u64::from(c.awarded))),
            units: c.units,
            compute_pflops: c.units as f64 * self.chips[c.chip()].pflops_per_unit(),
            value_usd: c.units as f64 * c.unit_price,
            delivered_units: c.delivered,
            status: c.status(),
            closed_on: (!c.open()).then(|| self.days.date_of(SimTime(u64::from(c.closed())))),
        };
        self.sink.contract(&self.catalog, &row);
    }

    fn firms_final(&self) -> Vec<kpi::FirmFinal> {
        self.firms
            .iter()
            .enumerate()
            .map(|(fi, f)| kpi::FirmFinal {
                cumulative_revenue: f.cumulative_revenue,
                ecosystem: f.ecosystem,
                cash: f.cash,
                best_tflops: self.best_on_sale(fi, self.end).map(|c| self.chips[c].tflops),
                ipo_valuation: f.ipo_valuation,
                trailing_revenue: f.revenue_history.iter().rev().take(4).sum(),
            })
            .collect()
    }

    fn trace(&mut self, now: SimTime, kind: &'static str, ids: impl FnOnce(&Market) -> String) {
        if self.options.trace {
            let ids = ids(self);
            self.sink.event(&self.catalog, &EventRow { time: self.days.date_of(now), kind, ids });
        }
    }

    /// Check the model's invariants (used by tests and debug builds).
    pub fn check_invariants(&self) -> Result<(), SimError> {
        for (fi, f) in self.firms.iter().enumerate() {
            let owed: u64 = self
                .contracts
                .iter()
                .map(|(_, c)| c)
                .filter(|c| c.firm() == fi && c.status() == ContractStatus::Active)
                .map(Contract::remaining)
                .sum();
            if owed != f.backlog_units {
                return Err(SimError::Invariant(format!(
                    "firm {fi}: backlog {} but contracts owe {owed}",
                    f.backlog_units
                )));
            }
            let stale =
                f.backlog.iter().filter(|&&k| self.contracts[k as usize].status() != ContractStatus::Active).count();
            if stale != f.stale as usize {
                return Err(SimError::Invariant(format!(
                    "firm {fi}: {} closed entries in the backlog queue counted, {stale} there",
                    f.stale
                )));
            }
            for &ci in &f.chips {
                let of_chip = || f.backlog.iter().map(|&k| &self.contracts[k as usize]).filter(|c| c.chip() == ci);
                let queued = of_chip().count();
                let active = of_chip().filter(|c| c.status() == ContractStatus::Active).count();
                let chip = &self.chips[ci];
                if (queued, active) != (chip.queued as usize, chip.queued_active as usize) {
                    return Err(SimError::Invariant(format!(
                        "chip {}: {} entries ({} active) in the backlog queue counted, {queued} ({active}) there",
                        chip.id, chip.queued, chip.queued_active
                    )));
                }
            }
            let live: Vec<usize> = f.chips.iter().copied().filter(|&c| !self.chips[c].retired).collect();
            if live != f.live {
                return Err(SimError::Invariant(format!("firm {fi}: live chips {:?}, not retired {live:?}", f.live)));
            }
            if let Some(c) = f.chips.iter().map(|&c| &self.chips[c]).find(|c| {
                c.retired && (c.backlog > 0 || c.inventory > 0 || c.pipeline > 0 || c.queued > 0 || !c.launched)
            }) {
                return Err(SimError::Invariant(format!("chip {} retired with units owed, held or started", c.id)));
            }
            let in_pipeline: u64 = f.pipeline.iter().map(|p| p.2).sum();
            let chips_pipeline: u64 = f.chips.iter().map(|&c| self.chips[c].pipeline).sum();
            if in_pipeline != chips_pipeline {
                return Err(SimError::Invariant(format!(
                    "firm {fi}: pipeline {in_pipeline} but chips {chips_pipeline}"
                )));
            }
        }
        for (ci, chip) in self.chips.iter().enumerate() {
            let owed: u64 = self
                .contracts
                .iter()
                .map(|(_, c)| c)
                .filter(|c| c.chip() == ci && c.status() == ContractStatus::Active)
                .map(Contract::remaining)
                .sum();
            if owed != chip.backlog {
                return Err(SimError::Invariant(format!(
                    "chip {}: backlog {} but contracts owe {owed}",
                    chip.id, chip.backlog
                )));
            }
        }
        for (i, c) in self.contracts.iter() {
            if c.delivered > c.units {
                return Err(SimError::Invariant(format!("contract {i} over-delivered")));
            }
        }
        Ok(())
    }
}

/// The tick at which the horizon ends: whole months are added on the calendar, so a
/// ten-year horizon from 2022-01-01 ends exactly at 2032-01-01.
pub fn end_tick(s: &Scenario, cal: &Calendar) -> SimTime {
    let months = s.scenario.horizon_years * 12.0;
    let start = s.scenario.start.0;
    let end_date = if (months - months.round()).abs() < 1e-9 {
        start.checked_add_months(chrono::Months::new(months.round() as u32))
    } else {
        start.checked_add_days(chrono::Days::new((s.scenario.horizon_years * 365.25).round() as u64))
    };
    end_date.map_or(SimTime(ticks_of_years(s.scenario.horizon_years)), |d| cal.tick_of(Date(d)))
}

impl Model for Market<'_> {
    type Event = Event;

    fn handle(&mut self, now: SimTime, event: Event, queue: &mut EventQueue<Event>) -> Result<(), SimError> {
        match event {
            Event::QuarterEnd => {
                // Debug builds (tests) re-derive the backlog from the contracts every quarter.
                if cfg!(debug_assertions) {
                    self.check_invariants()?;
                }
                self.on_quarter_end(now, queue)
            }
            Event::Regime { regime, markov } => self.on_regime(regime as usize, markov, now, queue),
            Event::SwitchingStarts => self.draw_switch(now, queue),
            Event::Launch(chip) => self.on_launch(chip as usize, now, queue),
            Event::NextGen(firm) => self.on_next_gen(firm as usize, now, queue),
            Event::Funding(firm, ev) => self.on_funding(firm as usize, ev as usize, now),
            Event::Production => self.on_production(now, queue),
            Event::Deadlines(first, count) => self.on_deadlines(first, count, now, queue),
            Event::Announce(entry) => self.on_announce(entry as usize, now, queue),
            Event::GraceEnd(regime) => self.on_grace_end(regime as usize, now, queue),
            Event::Licence(c) => self.on_licence(c as usize, now, queue),
            Event::TenderArrival(c) => self.on_tender_arrival(c as usize, now, queue),
            Event::Bids(t) => self.on_bids(t as usize, now),
            Event::Award(t) => {
                self.on_award(t as usize, now, queue);
                self.tenders.retire(t as usize);
            }
            Event::End => {
                self.close_quarter(now);
                queue.clear();
            }
        }
        self.flush_finished();
        Ok(())
    }
}
