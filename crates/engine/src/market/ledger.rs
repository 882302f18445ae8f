//! The ledger: the quarter's flows (per firm, per chip and market-wide), each firm's money
//! (cash, revenue to date, R&D and revenue history, installed compute) and the quarter
//! close: R&D and fixed costs, win rates and margins, ecosystem, the quarter's rows and
//! KPIs (`docs/model.md`).
//!
//! **Owner invariant.** The flows and the money are private to this module: the model
//! records what happens through the ledger's methods ([`Ledger::deliver`],
//! [`Ledger::write_off`], [`Ledger::fund`], ...), and only [`Ledger::close_quarter`] turns
//! them into rows and starts a new quarter.

use std::collections::VecDeque;

use super::backlog::{Backlog, Delivery};
use super::kpi;
use super::output::Out;
use super::roster::{ChipState, Roster};
use super::setup::{years, World};
use super::{Event, MarketModel};
use crate::calendar::Quarter;
use crate::observe::{ChipQuarter, FirmQuarter, Summary};
use crate::scenario::Scenario;
use crate::sim::{EventQueue, SimTime};

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

/// Per-quarter deliveries of one chip.
#[derive(Debug, Clone, Copy, Default)]
struct ChipFlows {
    units: u64,
    pflops: f64,
    revenue: f64,
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

/// A firm's books.
#[derive(Debug, Clone)]
struct FirmBooks {
    q: FirmFlows,
    cash: f64,
    installed_pflops: f64,
    cumulative_revenue: f64,
    /// Revenue of the last eight closed quarters, oldest first.
    revenue_history: VecDeque<f64>,
    /// R&D of the last four closed quarters, oldest first.
    rd_history: VecDeque<f64>,
    ipo_valuation: Option<f64>,
}

/// The books of one replication; see the [module docs](self).
#[derive(Debug)]
pub(super) struct Ledger {
    firms: Vec<FirmBooks>,
    chips: Vec<ChipFlows>,
    market: MarketFlows,
    /// The quarter open now, and the tick it began.
    quarter: Quarter,
    quarter_start: SimTime,
    kpi: kpi::Tracker,
}

impl Ledger {
    /// Opening books: the scenario's cash, `chips` chips, the first quarter open.
    pub(super) fn new(s: &Scenario, chips: usize) -> Ledger {
        let firms = s
            .firms
            .iter()
            .map(|f| FirmBooks {
                q: FirmFlows::default(),
                cash: f.cash_usd,
                installed_pflops: 0.0,
                cumulative_revenue: 0.0,
                revenue_history: VecDeque::new(),
                rd_history: VecDeque::new(),
                ipo_valuation: None,
            })
            .collect();
        Ledger {
            firms,
            chips: vec![ChipFlows::default(); chips],
            market: MarketFlows::default(),
            quarter: s.scenario.start.quarter(),
            quarter_start: SimTime::ZERO,
            kpi: kpi::Tracker::new(s),
        }
    }

    /// The quarter open now.
    pub(super) fn quarter(&self) -> Quarter {
        self.quarter
    }

    /// A new chip (a generation).
    pub(super) fn add_chip(&mut self) {
        self.chips.push(ChipFlows::default());
    }

    /// Firm `fi` bid into a tender.
    pub(super) fn bid(&mut self, fi: usize) {
        self.firms[fi].q.bids += 1;
    }

    /// Firm `fi` won a contract.
    pub(super) fn win(&mut self, fi: usize) {
        self.firms[fi].q.wins += 1;
    }

    /// A tender opened.
    pub(super) fn tender_opened(&mut self) {
        self.market.tenders_opened += 1;
    }

    /// A tender was awarded (at least one contract), leaving `unfilled_pflops` of demand
    /// unmet.
    pub(super) fn tender_closed(&mut self, awarded: bool, unfilled_pflops: f64) {
        if awarded {
            self.market.tenders_awarded += 1;
        }
        self.market.unfilled_pflops += unfilled_pflops;
    }

    /// Backlog worth `usd` was cancelled by a regime.
    pub(super) fn cancelled(&mut self, usd: f64) {
        self.market.cancelled_backlog += usd;
    }

    /// Firm `fi` could make `units` this tick (its capacity, in units of its least
    /// demanding chip).
    pub(super) fn capacity(&mut self, fi: usize, units: f64) {
        self.firms[fi].q.capacity_units += units;
    }

    /// Firm `fi` started `units`.
    pub(super) fn produced(&mut self, fi: usize, units: u64) {
        self.firms[fi].q.produced += units;
    }

    /// A delivery of firm `fi` (`domestic` or not, paying `fee` of a foreign sale's revenue
    /// as export fee): revenue and cost of goods at delivery.
    pub(super) fn deliver(&mut self, fi: usize, domestic: bool, fee: f64, chip: &ChipState, d: Delivery) {
        let n = d.units;
        let pflops = n as f64 * chip.pflops_per_unit();
        let revenue = n as f64 * d.unit_price;
        let cogs = n as f64 * chip.unit_cost;
        let c = &mut self.chips[d.chip];
        c.units += n;
        c.pflops += pflops;
        c.revenue += revenue;
        let f = &mut self.firms[fi];
        f.q.units += n;
        f.q.pflops += pflops;
        f.q.revenue += revenue;
        f.installed_pflops += pflops;
        f.cumulative_revenue += revenue;
        let fees = if domestic { 0.0 } else { revenue * fee };
        f.cash += revenue - fees - cogs;
        f.q.cogs += cogs;
        f.q.fees += fees;
        self.market.export_fees += fees;
    }

    /// Firm `fi` wrote off stranded units costing `cost`.
    pub(super) fn write_off(&mut self, fi: usize, cost: f64) {
        let f = &mut self.firms[fi];
        f.cash -= cost;
        f.q.writeoff += cost;
        self.market.writeoff += cost;
    }

    /// Firm `fi` raised `usd` (an IPO also sets its valuation).
    pub(super) fn fund(&mut self, fi: usize, usd: f64, ipo_valuation: Option<f64>) {
        let f = &mut self.firms[fi];
        if ipo_valuation.is_some() {
            f.ipo_valuation = ipo_valuation;
        }
        f.cash += usd;
        f.q.funding += usd;
    }

    /// Revenue of firm `fi`'s last eight closed quarters, oldest first.
    pub(super) fn revenue_history(&self, fi: usize) -> &VecDeque<f64> {
        &self.firms[fi].revenue_history
    }

    /// R&D spend of firm `fi` over the last four quarters [USD/year] (`floor` before any
    /// history).
    pub(super) fn rd_annual(&self, fi: usize, floor: f64) -> f64 {
        let h = &self.firms[fi].rd_history;
        if h.is_empty() {
            floor
        } else {
            h.iter().sum::<f64>() * 4.0 / h.len() as f64
        }
    }

    /// Close the books of the quarter from its start to `now`: costs, win rates, margins,
    /// ecosystem, capacity growth; then the quarter's rows go to the sink and a new quarter
    /// opens at `now`.
    pub(super) fn close_quarter(
        &mut self,
        now: SimTime,
        world: &World,
        roster: &mut Roster,
        backlog: &Backlog,
        regime: usize,
        out: &mut Out,
    ) {
        if now <= self.quarter_start {
            return;
        }
        let s = world.s;
        let span_years = years(now.ticks() - self.quarter_start.ticks());
        let m = &s.market;
        let total_pflops: f64 = self.firms.iter().map(|f| f.q.pflops).sum();
        let total_revenue: f64 = self.firms.iter().map(|f| f.q.revenue).sum();
        let total_installed: f64 = self.firms.iter().map(|f| f.installed_pflops).sum();
        let depreciation = (span_years / s.demand.depreciation_years).min(1.0);
        for (fi, (books, firm)) in self.firms.iter_mut().zip(&mut roster.firms).enumerate() {
            let sf = &s.firms[fi];
            // R&D: a share of revenue with a floor while cash lasts; a quarter of that, no
            // floor, once cash runs out.
            let by_revenue = sf.rd_intensity * books.q.revenue;
            let rd = if books.cash > 0.0 { by_revenue.max(firm.rd_floor * span_years) } else { 0.25 * by_revenue };
            books.q.rd = rd;
            books.q.fixed = sf.fixed_costs_usd_per_year * span_years;
            books.cash -= rd + books.q.fixed;
            if books.cash > 0.0 {
                firm.capacity_per_quarter *= (1.0 + sf.capacity_growth_per_year).powf(span_years);
            }
            if books.q.bids > 0 {
                let rate = f64::from(books.q.wins) / f64::from(books.q.bids);
                firm.win_rate = m.win_rate_smoothing * rate + (1.0 - m.win_rate_smoothing) * firm.win_rate;
            }
            let pressure = (firm.win_rate / m.reference_win_rate).min(1.0);
            firm.margin = sf.margin_floor + (sf.gross_margin_target - sf.margin_floor) * pressure;
            // Ecosystem: pulled up by installed-base share and R&D, with diminishing returns.
            let share = if total_installed > 0.0 { books.installed_pflops / total_installed } else { 0.0 };
            let rd_year = rd / span_years.max(1e-9);
            let pull = m.ecosystem_share_rate * share
                + m.ecosystem_rd_rate * rd_year / (rd_year + m.ecosystem_rd_half_usd_per_year);
            let scale = span_years * 4.0;
            firm.ecosystem = (firm.ecosystem
                + scale * (pull * (1.0 - firm.ecosystem) - m.ecosystem_decay_per_year / 4.0 * firm.ecosystem))
                .clamp(0.0, 1.0);
            books.installed_pflops *= 1.0 - depreciation;
            books.revenue_history.push_back(books.q.revenue);
            if books.revenue_history.len() > 8 {
                books.revenue_history.pop_front();
            }
            books.rd_history.push_back(rd);
            if books.rd_history.len() > 4 {
                books.rd_history.pop_front();
            }
        }
        let gaps = roster.perf_gaps(now, regime);
        let t0 = years(self.quarter_start.ticks());
        let t1 = years(now.ticks());
        let demand = world.demand.between(t0, t1);
        let domestic: f64 =
            self.firms.iter().zip(&roster.firms).filter(|(_, f)| f.domestic).map(|(b, _)| b.q.pflops).sum();
        let quarter = self.quarter;
        let flows = &self.market;
        let rows = kpi::QuarterInput {
            quarter,
            regime,
            demand,
            total_pflops,
            domestic_pflops: domestic,
            gaps,
            tenders_opened: flows.tenders_opened,
            tenders_awarded: flows.tenders_awarded,
            unfilled_pflops: flows.unfilled_pflops,
            export_fees: flows.export_fees,
            cancelled_backlog: flows.cancelled_backlog,
            writeoff: flows.writeoff,
        };
        self.kpi.record_quarter(&rows, self.firms.iter().zip(&roster.firms).map(|(b, f)| (b.q.pflops, f.domestic)));
        if out.rows() {
            out.sync_chip_names(&roster.chips);
            for (fi, (books, firm)) in self.firms.iter().zip(&roster.firms).enumerate() {
                let best = roster.best_on_sale(fi, now);
                out.firm_quarter(&FirmQuarter {
                    quarter,
                    firm: fi,
                    units_shipped: books.q.units,
                    units_produced: books.q.produced,
                    compute_shipped_pflops: books.q.pflops,
                    revenue_usd: books.q.revenue,
                    compute_share: (total_pflops > 0.0).then(|| books.q.pflops / total_pflops),
                    revenue_share: (total_revenue > 0.0).then(|| books.q.revenue / total_revenue),
                    backlog_units: backlog.owed_by_firm(fi),
                    capacity_units: books.q.capacity_units,
                    best_chip: best,
                    best_chip_tflops: best.map(|c| roster.chips[c].tflops),
                    ecosystem: firm.ecosystem,
                    rd_spend_usd: books.q.rd,
                    cash_usd: books.cash,
                    cogs_usd: books.q.cogs,
                    export_fees_usd: books.q.fees,
                    fixed_costs_usd: books.q.fixed,
                    funding_usd: books.q.funding,
                    inventory_units: firm
                        .chips
                        .iter()
                        .map(|&c| roster.chips[c].inventory + roster.chips[c].pipeline)
                        .sum(),
                    inventory_writeoff_usd: books.q.writeoff,
                });
            }
            out.market_quarter(&rows.to_row());
            for (ci, (c, q)) in roster.chips.iter().zip(&self.chips).enumerate() {
                if q.units > 0 {
                    out.chip_quarter(&ChipQuarter {
                        quarter,
                        firm: c.firm,
                        chip: ci,
                        units_shipped: q.units,
                        compute_shipped_pflops: q.pflops,
                        revenue_usd: q.revenue,
                    });
                }
            }
        }
        for f in &mut self.firms {
            f.q = FirmFlows::default();
        }
        for c in &mut self.chips {
            *c = ChipFlows::default();
        }
        self.market = MarketFlows::default();
        self.quarter = self.quarter.next();
        self.quarter_start = now;
    }

    /// The run's KPIs at `end` (after the last quarter closed).
    pub(super) fn summary(&self, s: &Scenario, roster: &Roster, end: SimTime, regime: usize) -> Summary {
        let firms: Vec<kpi::FirmFinal> = self
            .firms
            .iter()
            .zip(&roster.firms)
            .enumerate()
            .map(|(fi, (books, firm))| kpi::FirmFinal {
                cumulative_revenue: books.cumulative_revenue,
                ecosystem: firm.ecosystem,
                cash: books.cash,
                best_tflops: roster.best_on_sale(fi, end).map(|c| roster.chips[c].tflops),
                ipo_valuation: books.ipo_valuation,
                trailing_revenue: books.revenue_history.iter().rev().take(4).sum(),
            })
            .collect();
        self.kpi.summary(s, &firms, roster.perf_gaps(end, regime))
    }
}

/// A quarter ends: its books close and the next quarter's end is scheduled.
pub(super) fn on_quarter_end(m: &mut MarketModel, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, backlog, ledger, regime, out, .. } = m;
    ledger.close_quarter(now, world, roster, backlog, *regime, out);
    let next = world.cal.tick_of(ledger.quarter.next().first_day()).min(world.end);
    if next > now && next < world.end {
        queue.schedule_in(next.ticks() - now.ticks(), Event::QuarterEnd.priority(), Event::QuarterEnd);
    }
}
