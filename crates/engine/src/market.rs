//! The market model: firms bid their chips into customers' tenders, win contracts, produce
//! and deliver them, develop new chips and keep accounts, under the regime in force.
//!
//! [`Market`] implements the kernel's [`Model`]: every state change happens in
//! [`Market::handle`], one `match` over the closed [`Event`] enum. The sections of this file
//! follow DESIGN.md section 3: demand and tenders (3.2), bids and awards (3.3), production,
//! technology and money (3.4), regimes (3.5). Submodules: `demand` (S-curves), `kpi`
//! (quarterly rows and summary KPIs).

mod demand;
mod kpi;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use rand::Rng;
use rand_distr::{Distribution, Gamma, Gumbel, LogNormal, Normal};

use crate::calendar::{Calendar, Date, Quarter, TICKS_PER_DAY, TICKS_PER_YEAR};
use crate::error::SimError;
use crate::observe::{ContractRow, ContractStatus, EventRow, RunOptions, RunReport};
use crate::policy::PolicyBook;
use crate::rng::{stream, Stream};
use crate::scenario::{CustomerKind, Origin, Scenario};
use crate::sim::{EventQueue, Model, SimTime};
use crate::supply::{Need, SupplyNetwork};

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
    /// A contract reaches deadline plus grace.
    Deadline(u32),
    /// An export licence is decided.
    Licence(u32),
    /// A customer opens a tender (then schedules its next one).
    TenderArrival(u32),
    /// A firm submits its bid to a tender at the end of the bid window: (tender, firm).
    Bid(u32, u32),
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
            Event::Regime { .. } | Event::SwitchingStarts => 1,
            Event::Launch(_) | Event::NextGen(_) | Event::Funding(..) => 2,
            Event::Production => 3,
            Event::Deadline(_) | Event::Licence(_) => 4,
            Event::TenderArrival(_) => 5,
            Event::Bid(..) => 6,
            Event::Award(_) => 7,
            Event::End => 9,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Event::QuarterEnd => "quarter_end",
            Event::Regime { .. } => "regime_change",
            Event::SwitchingStarts => "switching_starts",
            Event::Launch(_) => "chip_launch",
            Event::NextGen(_) => "next_generation",
            Event::Funding(..) => "funding",
            Event::Production => "production",
            Event::Deadline(_) => "contract_deadline",
            Event::Licence(_) => "licence_decision",
            Event::TenderArrival(_) => "tender_opened",
            Event::Bid(..) => "bid",
            Event::Award(_) => "award",
            Event::End => "end",
        }
    }
}

/// A chip in the run's catalogue (roadmap chips and generated generations).
#[derive(Debug, Clone)]
struct ChipState {
    id: String,
    firm: usize,
    tflops: f64,
    tpp: f64,
    unit_cost: f64,
    /// Price at the firm's margin target [USD].
    list_price: f64,
    hbm_stacks: f64,
    dies_per_wafer: f64,
    launch: SimTime,
    launched: bool,
    end_of_sale: Option<SimTime>,
}

impl ChipState {
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
    carry_units: f64,
    backlog: VecDeque<u32>,
    backlog_units: u64,
    installed_pflops: f64,
    /// Roadmap and generated chips of this firm, in launch order.
    chips: Vec<usize>,
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
    utility: f64,
}

#[derive(Debug, Clone)]
struct Tender {
    customer: usize,
    pflops: f64,
    min_tflops: f64,
    deadline: SimTime,
    bids: Vec<Bid>,
}

#[derive(Debug, Clone)]
struct Contract {
    tender: u32,
    customer: usize,
    firm: usize,
    chip: usize,
    awarded: SimTime,
    units: u64,
    pflops_per_unit: f64,
    unit_price: f64,
    delivered: u64,
    status: ContractStatus,
    closed: Option<SimTime>,
}

impl Contract {
    fn open(&self) -> bool {
        matches!(self.status, ContractStatus::Active | ContractStatus::PendingLicence)
    }
    fn remaining(&self) -> u64 {
        self.units - self.delivered
    }
}

/// Market-wide flows of the current quarter.
#[derive(Debug, Clone, Default)]
struct MarketFlows {
    tenders_opened: u64,
    tenders_awarded: u64,
    unfilled_pflops: f64,
    export_fees: f64,
    cancelled_backlog: f64,
}

/// The whole state of one replication.
pub struct Market<'s> {
    s: &'s Scenario,
    options: RunOptions,
    cal: Calendar,
    end: SimTime,
    tick_len: u64,
    demand: DemandCurve,
    policy: PolicyBook,
    regime: usize,
    supply: SupplyNetwork,
    firms: Vec<FirmState>,
    chips: Vec<ChipState>,
    customers: Vec<CustomerState>,
    tenders: Vec<Tender>,
    contracts: Vec<Contract>,
    quarter: Quarter,
    quarter_start: SimTime,
    flows: MarketFlows,
    policy_stream: Stream,
    report: RunReport,
    kpi: kpi::Tracker,
}

fn years(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_YEAR
}

fn ticks_of_years(years: f64) -> u64 {
    (years * TICKS_PER_YEAR).round().clamp(1.0, 1e15) as u64
}

impl<'s> Market<'s> {
    /// Build the initial state of replication `replication` and schedule its first events.
    pub fn new(s: &'s Scenario, replication: u32, options: RunOptions, queue: &mut EventQueue<Event>) -> Market<'s> {
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
                chips.push(ChipState {
                    id: c.id.clone(),
                    firm: fi,
                    tflops: c.bf16_tflops,
                    tpp: c.tpp(),
                    unit_cost: c.unit_cost_usd,
                    list_price: c.price_usd.unwrap_or(c.unit_cost_usd / (1.0 - f.gross_margin_target)),
                    hbm_stacks: c.hbm_stacks,
                    dies_per_wafer: c.dies_per_wafer,
                    launch,
                    launched: false,
                    end_of_sale: c.end_of_sale.map(|d| cal.tick_of(d)),
                });
            }
            firms.push(FirmState {
                domestic: f.origin == Origin::Domestic,
                rd_floor: f.rd_floor_usd_per_year,
                cash: f.cash_usd,
                ecosystem: f.ecosystem,
                margin: f.gross_margin_target,
                win_rate: s.market.reference_win_rate,
                capacity_per_quarter: f.capacity_units_per_quarter,
                carry_units: 0.0,
                backlog: VecDeque::new(),
                backlog_units: 0,
                installed_pflops: 0.0,
                last_roadmap_chip: *ids.last().unwrap_or(&0),
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
                relationship: s.firms.iter().map(|f| c.relationships.get(&f.id).copied().unwrap_or(0.0)).collect(),
                tender_stream: stream(seed, replication, &format!("tenders/{}", c.id)),
                award_stream: stream(seed, replication, &format!("award/{}", c.id)),
            })
            .collect();

        let report = RunReport {
            replication,
            seed,
            firm_ids: s.firms.iter().map(|f| f.id.clone()).collect(),
            customer_ids: s.customers.iter().map(|c| c.id.clone()).collect(),
            chip_ids: Vec::new(),
            regime_names: policy.names.clone(),
            ..RunReport::default()
        };
        let kpi = kpi::Tracker::new(s);
        let mut market = Market {
            s,
            options,
            cal,
            end,
            tick_len: u64::from(s.scenario.tick_days) * TICKS_PER_DAY,
            demand: DemandCurve::new(&s.demand, mid),
            regime: policy.initial,
            policy,
            supply,
            firms,
            chips,
            customers,
            tenders: Vec::new(),
            contracts: Vec::new(),
            quarter: s.scenario.start.quarter(),
            quarter_start: SimTime::ZERO,
            flows: MarketFlows::default(),
            policy_stream: stream(seed, replication, "policy"),
            report,
            kpi,
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
                self.chips[ci].launched = true;
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

    /// The report of a finished run.
    pub fn into_report(mut self, events_processed: u64) -> RunReport {
        self.report.events_processed = events_processed;
        self.report.chip_ids = self.chips.iter().map(|c| c.id.clone()).collect();
        if self.options.record_rows {
            self.report.tender_pflops = self.tenders.iter().map(|t| t.pflops).collect();
            self.report.contracts = self
                .contracts
                .iter()
                .enumerate()
                .map(|(i, c)| ContractRow {
                    contract: i as u64,
                    tender: u64::from(c.tender),
                    customer: c.customer,
                    firm: c.firm,
                    chip: c.chip,
                    awarded_on: self.cal.date_of(c.awarded),
                    units: c.units,
                    compute_pflops: c.units as f64 * c.pflops_per_unit,
                    value_usd: c.units as f64 * c.unit_price,
                    delivered_units: c.delivered,
                    status: c.status,
                    closed_on: c.closed.map(|t| self.cal.date_of(t)),
                })
                .collect();
        }
        let gaps = self.perf_gaps(self.end);
        self.report.summary = self.kpi.summary(self.s, &self.firms_final(), gaps);
        self.report
    }

    fn firms_final(&self) -> Vec<kpi::FirmFinal> {
        self.firms
            .iter()
            .enumerate()
            .map(|(fi, f)| kpi::FirmFinal {
                cumulative_revenue: f.cumulative_revenue,
                ecosystem: f.ecosystem,
                cash: f.cash,
                best_tflops: self.best_on_sale(fi, self.end).map_or(0.0, |c| self.chips[c].tflops),
                ipo_valuation: f.ipo_valuation,
                trailing_revenue: f.revenue_history.iter().rev().take(4).sum(),
            })
            .collect()
    }

    // ------------------------------------------------------------ demand and tenders ----

    fn draw_interarrival(&mut self, ci: usize) -> u64 {
        let rate = self.customers[ci].rate_per_year;
        let u: f64 = self.customers[ci].tender_stream.random::<f64>();
        ticks_of_years(-(1.0 - u).ln() / rate)
    }

    fn open_tender(
        &mut self,
        customer: usize,
        pflops: f64,
        training: bool,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let t = years(now.ticks());
        let min_tflops = if training { self.demand.training_min_tflops(t) } else { 0.0 };
        let close = now.saturating_add(u64::from(self.s.demand.bid_window_days) * TICKS_PER_DAY);
        let deadline = close.saturating_add(u64::from(self.s.demand.delivery_days) * TICKS_PER_DAY);
        let id = self.tenders.len() as u32;
        self.tenders.push(Tender { customer, pflops, min_tflops, deadline, bids: Vec::new() });
        self.flows.tenders_opened += 1;
        self.trace(now, "tender_opened", |m: &Market| format!("{} {}", id, m.s.customers[customer].id));
        if close >= self.end {
            return;
        }
        for fi in 0..self.firms.len() {
            let ev = Event::Bid(id, fi as u32);
            queue.schedule_in(close.ticks() - now.ticks(), ev.priority(), ev);
        }
        queue.schedule_in(close.ticks() - now.ticks(), Event::Award(id).priority(), Event::Award(id));
    }

    fn on_tender_arrival(&mut self, ci: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let t = years(now.ticks());
        let c = &mut self.customers[ci];
        let share = self.s.customers[ci].demand_share;
        let sigma = self.s.demand.tender_size_sigma;
        let mean = share * self.demand.rate(t) / c.rate_per_year;
        // Lognormal with mean 1, so that expected volume follows the S-curve.
        let factor = LogNormal::new(-0.5 * sigma * sigma, sigma).map_or(1.0, |d| d.sample(&mut c.tender_stream));
        let training = c.tender_stream.random::<f64>() >= self.demand.inference_share(t);
        self.open_tender(ci, mean * factor, training, now, queue);
        let dt = self.draw_interarrival(ci);
        queue.schedule_in(dt, Event::TenderArrival(ci as u32).priority(), Event::TenderArrival(ci as u32));
    }

    /// Re-tender compute that a contract will no longer deliver.
    fn retender(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let c = &self.contracts[contract];
        let pflops = c.remaining() as f64 * c.pflops_per_unit;
        let (customer, training) = (c.customer, self.tenders[c.tender as usize].min_tflops > 0.0);
        if pflops > 0.0 {
            self.open_tender(customer, pflops, training, now, queue);
        }
    }

    // ------------------------------------------------------------------ bids and awards ----

    /// The best chip firm `fi` may offer now with at least `min_tflops`, if any.
    fn best_eligible(&self, fi: usize, min_tflops: f64, now: SimTime) -> Option<usize> {
        let foreign = !self.firms[fi].domestic;
        self.firms[fi]
            .chips
            .iter()
            .copied()
            .filter(|&ci| {
                let c = &self.chips[ci];
                c.on_sale(now)
                    && c.tflops >= min_tflops
                    && (!foreign || self.policy.allows_foreign(self.regime, &c.id, c.tpp))
            })
            .max_by(|&a, &b| self.chips[a].tflops.total_cmp(&self.chips[b].tflops))
    }

    fn best_on_sale(&self, fi: usize, now: SimTime) -> Option<usize> {
        self.firms[fi]
            .chips
            .iter()
            .copied()
            .filter(|&ci| self.chips[ci].on_sale(now))
            .max_by(|&a, &b| self.chips[a].tflops.total_cmp(&self.chips[b].tflops))
    }

    /// Price per unit a firm asks: the list price at a winning firm's margin target, cut
    /// linearly toward the margin-floor price as its smoothed win rate falls.
    fn ask_price(&self, fi: usize, ci: usize) -> f64 {
        let f = &self.s.firms[fi];
        let chip = &self.chips[ci];
        let floor_price = chip.unit_cost / (1.0 - f.margin_floor);
        let span = f.gross_margin_target - f.margin_floor;
        let discount =
            if span > 0.0 { ((f.gross_margin_target - self.firms[fi].margin) / span).clamp(0.0, 1.0) } else { 0.0 };
        (chip.list_price - discount * (chip.list_price - floor_price)).max(floor_price.min(chip.list_price))
    }

    fn on_bid(&mut self, ti: usize, fi: usize, now: SimTime) {
        let tender = &self.tenders[ti];
        let Some(ci) = self.best_eligible(fi, tender.min_tflops, now) else { return };
        let firm = &self.firms[fi];
        let chip = &self.chips[ci];
        // Units the firm can make before the deadline beyond what it already owes.
        let ticks_left = tender.deadline.ticks().saturating_sub(now.ticks());
        let per_tick = self.capacity_units_per_quarter(fi, false) / (TICKS_PER_YEAR / 4.0);
        let can_make = (per_tick * ticks_left as f64 + firm.carry_units).floor() as u64;
        let deliverable = can_make.saturating_sub(firm.backlog_units);
        if deliverable == 0 {
            return;
        }
        let regime = &self.policy.regimes[self.regime];
        let cust = &self.s.customers[tender.customer];
        let w = &cust.weights;
        let ask = self.ask_price(fi, ci);
        let (price, cost_to_customer, risk) = if firm.domestic {
            (ask, ask * (1.0 - regime.domestic_subsidy), self.s.firms[fi].supply_risk)
        } else {
            let price = ask / (1.0 - regime.export_fee);
            let licence_risk = if regime.license_required { 1.0 - regime.license_approval_prob } else { 0.0 };
            (price, price, (self.s.firms[fi].supply_risk + licence_risk).min(1.0))
        };
        let pflops = chip.tflops / 1000.0;
        let base = -w.price * (cost_to_customer / pflops).ln()
            + w.performance * chip.tflops.ln()
            + w.ecosystem * firm.ecosystem
            + w.relationship * self.customers[tender.customer].relationship[fi]
            - w.supply_risk * risk;
        let noise = Gumbel::new(0.0, cust.noise_scale)
            .map_or(0.0, |g| g.sample(&mut self.customers[tender.customer].award_stream));
        self.firms[fi].q.bids += 1;
        self.tenders[ti].bids.push(Bid { firm: fi, chip: ci, price, deliverable, utility: base + noise });
    }

    fn on_award(&mut self, ti: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let mut bids = std::mem::take(&mut self.tenders[ti].bids);
        let customer = self.tenders[ti].customer;
        let volume = self.tenders[ti].pflops;
        let cust = &self.s.customers[customer];
        let regime = &self.policy.regimes[self.regime];
        let mandate = cust.domestic_mandate.max(regime.domestic_mandate.for_kind(self.customers[customer].kind));
        let discouraged = self.customers[customer].award_stream.random::<f64>() < regime.foreign_purchase_discouraged;
        let mut foreign_budget = if discouraged { 0.0 } else { volume * (1.0 - mandate) };
        // Best utility first; ties go to the lower firm index (stable sort).
        bids.sort_by(|a, b| b.utility.total_cmp(&a.utility));
        let mut remaining = volume;
        let mut awarded = false;
        for bid in &bids {
            if remaining <= 0.0 {
                break;
            }
            let pflops_per_unit = self.chips[bid.chip].tflops / 1000.0;
            let foreign = !self.firms[bid.firm].domestic;
            let mut cap = remaining.min(cust.max_vendor_share * volume);
            if foreign {
                cap = cap.min(foreign_budget);
            }
            let units = ((cap / pflops_per_unit).floor() as u64).min(bid.deliverable);
            if units == 0 {
                continue;
            }
            let pflops = units as f64 * pflops_per_unit;
            remaining -= pflops;
            if foreign {
                foreign_budget -= pflops;
            }
            awarded = true;
            self.firms[bid.firm].q.wins += 1;
            self.sign_contract(ti, bid, units, pflops_per_unit, now, queue);
        }
        if awarded {
            self.flows.tenders_awarded += 1;
        }
        self.flows.unfilled_pflops += remaining.max(0.0);
        bids.clear();
        self.tenders[ti].bids = bids;
    }

    fn sign_contract(
        &mut self,
        ti: usize,
        bid: &Bid,
        units: u64,
        pflops_per_unit: f64,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let id = self.contracts.len() as u32;
        let regime = &self.policy.regimes[self.regime];
        let needs_licence = !self.firms[bid.firm].domestic && regime.license_required;
        let deadline = self.tenders[ti].deadline.saturating_add(u64::from(self.s.demand.grace_days) * TICKS_PER_DAY);
        // The deadline event is never cancelled: if the contract closes first, it finds
        // the contract closed and does nothing.
        if deadline < self.end {
            queue.schedule_in(deadline.ticks() - now.ticks(), Event::Deadline(id).priority(), Event::Deadline(id));
        }
        self.contracts.push(Contract {
            tender: ti as u32,
            customer: self.tenders[ti].customer,
            firm: bid.firm,
            chip: bid.chip,
            awarded: now,
            units,
            pflops_per_unit,
            unit_price: bid.price,
            delivered: 0,
            status: if needs_licence { ContractStatus::PendingLicence } else { ContractStatus::Active },
            closed: None,
        });
        if needs_licence {
            let delay = u64::from(regime.license_delay_days) * TICKS_PER_DAY;
            queue.schedule_in(delay, Event::Licence(id).priority(), Event::Licence(id));
        } else {
            self.enter_backlog(id as usize);
        }
        self.trace(now, "award", |m: &Market| {
            format!(
                "{} {} {} {}",
                id, m.s.customers[m.contracts[id as usize].customer].id, m.s.firms[bid.firm].id, m.chips[bid.chip].id
            )
        });
    }

    fn enter_backlog(&mut self, contract: usize) {
        let c = &self.contracts[contract];
        let f = &mut self.firms[c.firm];
        f.backlog.push_back(contract as u32);
        f.backlog_units += c.remaining();
    }

    fn close_contract(&mut self, contract: usize, status: ContractStatus, now: SimTime) {
        let was_active = self.contracts[contract].status == ContractStatus::Active;
        let c = &mut self.contracts[contract];
        c.status = status;
        c.closed = Some(now);
        if was_active {
            let remaining = c.remaining();
            self.firms[c.firm].backlog_units -= remaining;
        }
    }

    fn on_licence(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        if self.contracts[contract].status != ContractStatus::PendingLicence {
            return;
        }
        let (fi, ci) = (self.contracts[contract].firm, self.contracts[contract].chip);
        // Decided under the rules in force now, not those at award.
        let regime = &self.policy.regimes[self.regime];
        let allowed = self.policy.allows_foreign(self.regime, &self.chips[ci].id, self.chips[ci].tpp);
        let draw: f64 = self.firms[fi].licence_stream.random();
        let approved = allowed && (!regime.license_required || draw < regime.license_approval_prob);
        self.trace(now, "licence_decision", |_: &Market| {
            format!("{} {}", contract, if approved { "approved" } else { "denied" })
        });
        if approved {
            self.contracts[contract].status = ContractStatus::Active;
            self.enter_backlog(contract);
        } else {
            self.close_contract(contract, ContractStatus::LicenceDenied, now);
            self.retender(contract, now, queue);
        }
    }

    fn on_deadline(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        if !self.contracts[contract].open() || self.contracts[contract].remaining() == 0 {
            return;
        }
        self.close_contract(contract, ContractStatus::Cut, now);
        self.retender(contract, now, queue);
    }

    // ---------------------------------------------------------- production and delivery ----

    /// The one place capacity comes from: units per quarter firm `fi` can make with its
    /// best chip on sale. Firms linked to the supply network get what it allocates them
    /// (`actual`: the water-filled share their orders can use; otherwise the share they
    /// could get by weight, which is what they promise when bidding). Firms without links
    /// have their fixed `capacity_units_per_quarter`.
    fn capacity_units_per_quarter(&self, fi: usize, actual: bool) -> f64 {
        if !self.supply.is_linked(fi) {
            return self.firms[fi].capacity_per_quarter;
        }
        let Some(&chip) = self.firms[fi].chips.iter().rev().find(|&&c| self.chips[c].launched) else { return 0.0 };
        let c = &self.chips[chip];
        if actual {
            self.supply.actual_units(fi, c.dies_per_wafer, c.hbm_stacks)
        } else {
            self.supply.potential_units(fi, c.dies_per_wafer, c.hbm_stacks)
        }
    }

    fn on_production(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let tick_quarters = self.tick_len as f64 / (TICKS_PER_YEAR / 4.0);
        // What each firm's backlog can use this tick, as a rate per quarter.
        let needs: Vec<Need> = (0..self.firms.len())
            .map(|fi| {
                let chip = self.firms[fi].chips.iter().rev().find(|&&c| self.chips[c].launched);
                chip.map_or(Need::default(), |&c| {
                    let units = self.firms[fi].backlog_units as f64 / tick_quarters;
                    Need::for_units(units, self.chips[c].dies_per_wafer, self.chips[c].hbm_stacks)
                })
            })
            .collect();
        self.supply.allocate(years(now.ticks()), &needs);
        let fee = self.policy.regimes[self.regime].export_fee;
        for fi in 0..self.firms.len() {
            let capacity = self.capacity_units_per_quarter(fi, true) * tick_quarters;
            let could = self.capacity_units_per_quarter(fi, false) * tick_quarters;
            let f = &mut self.firms[fi];
            f.q.capacity_units += capacity.max(could);
            let available = capacity + f.carry_units;
            let whole = available.floor();
            f.carry_units = (available - whole).min(1.0);
            let mut to_make = (whole as u64).min(f.backlog_units);
            f.q.produced += to_make;
            // First in, first out over the backlog.
            while to_make > 0 {
                let Some(&front) = self.firms[fi].backlog.front() else { break };
                let contract = front as usize;
                if self.contracts[contract].status != ContractStatus::Active
                    || self.contracts[contract].remaining() == 0
                {
                    self.firms[fi].backlog.pop_front();
                    continue;
                }
                let c = &mut self.contracts[contract];
                let n = to_make.min(c.remaining());
                c.delivered += n;
                to_make -= n;
                let revenue = n as f64 * c.unit_price;
                let pflops = n as f64 * c.pflops_per_unit;
                let cogs = n as f64 * self.chips[c.chip].unit_cost;
                let done = c.remaining() == 0;
                let f = &mut self.firms[fi];
                f.backlog_units -= n;
                f.q.units += n;
                f.q.pflops += pflops;
                f.q.revenue += revenue;
                f.installed_pflops += pflops;
                f.cumulative_revenue += revenue;
                let fees = if f.domestic { 0.0 } else { revenue * fee };
                f.cash += revenue - fees - cogs;
                f.q.cogs += cogs;
                f.q.fees += fees;
                self.flows.export_fees += fees;
                if done {
                    self.firms[fi].backlog.pop_front();
                    self.close_contract(contract, ContractStatus::Delivered, now);
                }
            }
        }
        let next = now.saturating_add(self.tick_len);
        if next < self.end {
            queue.schedule_in(self.tick_len, Event::Production.priority(), Event::Production);
        }
    }

    // ------------------------------------------------------------ technology and money ----

    fn on_launch(&mut self, ci: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        self.chips[ci].launched = true;
        let fi = self.chips[ci].firm;
        self.trace(now, "chip_launch", |m: &Market| m.chips[ci].id.clone());
        if ci == self.firms[fi].last_roadmap_chip && self.s.firms[fi].next_gen.is_some() {
            self.schedule_next_gen(fi, now, queue);
        }
    }

    /// R&D spend over the last four quarters [USD/year] (the floor before any history).
    fn rd_annual(&self, fi: usize) -> f64 {
        let h = &self.firms[fi].rd_history;
        if h.is_empty() {
            self.firms[fi].rd_floor
        } else {
            h.iter().sum::<f64>() * 4.0 / h.len() as f64
        }
    }

    fn schedule_next_gen(&mut self, fi: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(ng) = &self.s.firms[fi].next_gen else { return };
        let spend = self.rd_annual(fi).max(1.0);
        let mean = (ng.cycle_years * (ng.rd_reference_usd_per_year / spend).powf(ng.rd_elasticity))
            .clamp(ng.cycle_years / 4.0, ng.cycle_years * 4.0);
        let delay =
            Gamma::new(ng.cycle_shape, mean / ng.cycle_shape).map_or(mean, |g| g.sample(&mut self.firms[fi].rd_stream));
        let at = now.saturating_add(ticks_of_years(delay));
        if at < self.end {
            queue.schedule_in(
                at.ticks() - now.ticks(),
                Event::NextGen(fi as u32).priority(),
                Event::NextGen(fi as u32),
            );
        }
    }

    fn on_next_gen(&mut self, fi: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(ng) = self.s.firms[fi].next_gen.clone() else { return };
        let Some(&prev) =
            self.firms[fi].chips.iter().max_by(|&&a, &&b| self.chips[a].tflops.total_cmp(&self.chips[b].tflops))
        else {
            return;
        };
        let gain = LogNormal::new(ng.gain_median.ln(), ng.gain_sigma)
            .map_or(ng.gain_median, |d| d.sample(&mut self.firms[fi].rd_stream));
        let cap = ng.max_tflops.unwrap_or(f64::INFINITY).min(self.supply.node_cap(fi));
        let base = self.chips[prev].clone();
        let tflops = (base.tflops * gain).min(cap).max(base.tflops);
        self.firms[fi].generation += 1;
        let f = &self.s.firms[fi];
        let unit_cost = base.unit_cost * ng.cost_growth;
        let id = format!("{}_gen{}", f.id, self.firms[fi].generation);
        self.trace(now, "next_generation", |_: &Market| format!("{} {}", f.id, id));
        let ci = self.chips.len();
        self.chips.push(ChipState {
            id,
            firm: fi,
            tflops,
            tpp: tflops * 16.0,
            unit_cost,
            list_price: unit_cost / (1.0 - f.gross_margin_target),
            hbm_stacks: base.hbm_stacks,
            dies_per_wafer: base.dies_per_wafer,
            launch: now,
            launched: true,
            end_of_sale: None,
        });
        self.firms[fi].chips.push(ci);
        let sunset = now.saturating_add(u64::from(self.s.market.supersede_quarters) * (TICKS_PER_YEAR / 4.0) as u64);
        let old = &mut self.chips[prev];
        old.end_of_sale = Some(old.end_of_sale.map_or(sunset, |e| e.min(sunset)));
        self.schedule_next_gen(fi, now, queue);
    }

    fn on_funding(&mut self, fi: usize, ei: usize, now: SimTime) {
        let ev = &self.s.firms[fi].funding[ei];
        let f = &mut self.firms[fi];
        let raised = match ev.kind {
            crate::scenario::FundingKind::Ipo => {
                let h = &f.revenue_history;
                let n = h.len();
                let trailing: f64 = h.iter().skip(n.saturating_sub(4)).sum();
                let before: f64 = h.iter().skip(n.saturating_sub(8)).take(n.saturating_sub(4).min(4)).sum();
                let growth = if before > 0.0 { trailing / before - 1.0 } else { 0.0 };
                let multiple = (ev.ev_sales_multiple + ev.ev_sales_growth_premium * growth).max(0.0);
                let valuation = multiple * trailing;
                f.ipo_valuation = Some(valuation);
                ev.float_share * valuation
            }
            _ => ev.amount_usd,
        };
        f.cash += raised;
        f.q.funding += raised;
        if let Some(floor) = ev.rd_floor_usd_per_year {
            f.rd_floor = floor;
        }
        if let Some(k) = ev.capacity_multiplier {
            f.capacity_per_quarter *= k;
            self.supply.scale_firm_weights(fi, k);
        }
        self.trace(now, "funding", |m: &Market| format!("{} {}", m.s.firms[fi].id, ev.id));
    }

    // -------------------------------------------------------------------------- regimes ----

    fn on_regime(&mut self, r: usize, markov: bool, now: SimTime, queue: &mut EventQueue<Event>) {
        self.regime = r;
        self.supply.set_regime(&self.policy.regimes[r].cut_links);
        self.trace(now, "regime_change", |m: &Market| m.policy.names[r].clone());
        // Foreign backlog the new regime forbids is cancelled and re-tendered.
        for contract in 0..self.contracts.len() {
            let c = &self.contracts[contract];
            if c.status != ContractStatus::Active
                || self.firms[c.firm].domestic
                || self.policy.allows_foreign(r, &self.chips[c.chip].id, self.chips[c.chip].tpp)
            {
                continue;
            }
            self.flows.cancelled_backlog += c.remaining() as f64 * c.unit_price;
            self.close_contract(contract, ContractStatus::Cancelled, now);
            self.retender(contract, now, queue);
        }
        if markov {
            self.draw_switch(now, queue);
        }
    }

    fn draw_switch(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        if let Some((at, to)) = self.policy.next_switch(self.regime, now, &mut self.policy_stream) {
            if at < self.end {
                let ev = Event::Regime { regime: to as u32, markov: true };
                queue.schedule_in(at.ticks() - now.ticks(), ev.priority(), ev);
            }
        }
    }

    // ------------------------------------------------------------------------ accounts ----

    /// Per-chip performance gaps, measured in TPP (the export-control measure: the best
    /// dense rate over all formats times its bit length, so FP8 and FP4 count): best
    /// foreign chip launched anywhere, and best foreign chip sellable in China under the
    /// regime in force, each over the best domestic chip on sale. `None` before any
    /// domestic chip is on sale; the sellable gap is 0 when no foreign chip may be sold.
    fn perf_gaps(&self, now: SimTime) -> (Option<f64>, Option<f64>) {
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
                if c.on_sale(now) && self.policy.allows_foreign(self.regime, &c.id, c.tpp) {
                    sellable_foreign = sellable_foreign.max(c.tpp);
                }
            }
        }
        if best_domestic <= 0.0 {
            return (None, None);
        }
        (Some(frontier_foreign / best_domestic), Some(sellable_foreign / best_domestic))
    }

    fn on_quarter_end(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        self.close_quarter(now);
        let next = self.cal.tick_of(self.quarter.next().first_day()).min(self.end);
        if next > now && next < self.end {
            queue.schedule_in(next.ticks() - now.ticks(), Event::QuarterEnd.priority(), Event::QuarterEnd);
        }
    }

    /// Close the books of the quarter from `quarter_start` to `now`.
    fn close_quarter(&mut self, now: SimTime) {
        if now <= self.quarter_start {
            return;
        }
        let s = self.s;
        let span_years = years(now.ticks() - self.quarter_start.ticks());
        let m = &s.market;
        let total_pflops: f64 = self.firms.iter().map(|f| f.q.pflops).sum();
        let total_revenue: f64 = self.firms.iter().map(|f| f.q.revenue).sum();
        let total_installed: f64 = self.firms.iter().map(|f| f.installed_pflops).sum();
        let depreciation = (span_years / s.demand.depreciation_years).min(1.0);
        for fi in 0..self.firms.len() {
            let sf = &s.firms[fi];
            let f = &mut self.firms[fi];
            // R&D: a share of revenue with a floor while cash lasts; a quarter of that, no
            // floor, once cash runs out.
            let by_revenue = sf.rd_intensity * f.q.revenue;
            let rd = if f.cash > 0.0 { by_revenue.max(f.rd_floor * span_years) } else { 0.25 * by_revenue };
            f.q.rd = rd;
            f.q.fixed = sf.fixed_costs_usd_per_year * span_years;
            f.cash -= rd + f.q.fixed;
            if f.cash > 0.0 {
                f.capacity_per_quarter *= (1.0 + sf.capacity_growth_per_year).powf(span_years);
            }
            if f.q.bids > 0 {
                let rate = f64::from(f.q.wins) / f64::from(f.q.bids);
                f.win_rate = m.win_rate_smoothing * rate + (1.0 - m.win_rate_smoothing) * f.win_rate;
            }
            let pressure = (f.win_rate / m.reference_win_rate).min(1.0);
            f.margin = sf.margin_floor + (sf.gross_margin_target - sf.margin_floor) * pressure;
            // Ecosystem: pulled up by installed-base share and R&D, with diminishing returns.
            let share = if total_installed > 0.0 { f.installed_pflops / total_installed } else { 0.0 };
            let rd_year = rd / span_years.max(1e-9);
            let pull = m.ecosystem_share_rate * share
                + m.ecosystem_rd_rate * rd_year / (rd_year + m.ecosystem_rd_half_usd_per_year);
            let scale = span_years * 4.0;
            f.ecosystem = (f.ecosystem
                + scale * (pull * (1.0 - f.ecosystem) - m.ecosystem_decay_per_year / 4.0 * f.ecosystem))
                .clamp(0.0, 1.0);
            f.installed_pflops *= 1.0 - depreciation;
            f.revenue_history.push_back(f.q.revenue);
            if f.revenue_history.len() > 8 {
                f.revenue_history.pop_front();
            }
            f.rd_history.push_back(rd);
            if f.rd_history.len() > 4 {
                f.rd_history.pop_front();
            }
        }
        let gaps = self.perf_gaps(now);
        let t0 = years(self.quarter_start.ticks());
        let t1 = years(now.ticks());
        let demand = self.demand.between(t0, t1);
        let domestic: f64 = self.firms.iter().filter(|f| f.domestic).map(|f| f.q.pflops).sum();
        let quarter = self.quarter;
        let best: Vec<Option<usize>> = (0..self.firms.len()).map(|fi| self.best_on_sale(fi, now)).collect();
        let rows = kpi::QuarterInput {
            quarter,
            regime: self.regime,
            demand,
            total_pflops,
            total_revenue,
            domestic_pflops: domestic,
            gaps,
            tenders_opened: self.flows.tenders_opened,
            tenders_awarded: self.flows.tenders_awarded,
            unfilled_pflops: self.flows.unfilled_pflops,
            export_fees: self.flows.export_fees,
            cancelled_backlog: self.flows.cancelled_backlog,
        };
        self.kpi.record_quarter(&rows, self.firms.iter().map(|f| (f.q.pflops, f.domestic)));
        if self.options.record_rows {
            for (fi, f) in self.firms.iter().enumerate() {
                self.report.firms.push(crate::observe::FirmQuarter {
                    quarter,
                    firm: fi,
                    units_shipped: f.q.units,
                    units_produced: f.q.produced,
                    compute_shipped_pflops: f.q.pflops,
                    revenue_usd: f.q.revenue,
                    compute_share: if total_pflops > 0.0 { f.q.pflops / total_pflops } else { 0.0 },
                    revenue_share: if total_revenue > 0.0 { f.q.revenue / total_revenue } else { 0.0 },
                    backlog_units: f.backlog_units,
                    capacity_units: f.q.capacity_units,
                    best_chip: best[fi],
                    best_chip_tflops: best[fi].map_or(0.0, |c| self.chips[c].tflops),
                    ecosystem: f.ecosystem,
                    rd_spend_usd: f.q.rd,
                    cash_usd: f.cash,
                    cogs_usd: f.q.cogs,
                    export_fees_usd: f.q.fees,
                    fixed_costs_usd: f.q.fixed,
                    funding_usd: f.q.funding,
                });
            }
            self.report.market.push(rows.to_row());
        }
        for f in &mut self.firms {
            f.q = FirmFlows::default();
        }
        self.flows = MarketFlows::default();
        self.quarter = self.quarter.next();
        self.quarter_start = now;
    }

    fn trace(&mut self, now: SimTime, kind: &'static str, ids: impl FnOnce(&Market) -> String) {
        if self.options.trace {
            let ids = ids(self);
            self.report.events.push(EventRow { time: self.cal.date_of(now), kind, ids });
        }
    }

    /// The calendar of this run.
    pub fn calendar(&self) -> &Calendar {
        &self.cal
    }

    /// Check the model's invariants (used by tests and debug builds).
    pub fn check_invariants(&self) -> Result<(), SimError> {
        for (fi, f) in self.firms.iter().enumerate() {
            let owed: u64 = self
                .contracts
                .iter()
                .filter(|c| c.firm == fi && c.status == ContractStatus::Active)
                .map(Contract::remaining)
                .sum();
            if owed != f.backlog_units {
                return Err(SimError::Invariant(format!(
                    "firm {fi}: backlog {} but contracts owe {owed}",
                    f.backlog_units
                )));
            }
        }
        for (i, c) in self.contracts.iter().enumerate() {
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
            Event::Deadline(c) => self.on_deadline(c as usize, now, queue),
            Event::Licence(c) => self.on_licence(c as usize, now, queue),
            Event::TenderArrival(c) => self.on_tender_arrival(c as usize, now, queue),
            Event::Bid(t, f) => self.on_bid(t as usize, f as usize, now),
            Event::Award(t) => self.on_award(t as usize, now, queue),
            Event::End => {
                self.close_quarter(now);
                queue.clear();
            }
        }
        let _ = event.kind();
        Ok(())
    }
}
