//! Demand becomes tenders: Poisson arrivals per customer, lognormal budgets, unspent budget
//! carried forward, re-tenders, and orders placed ahead of an announced restriction
//! (`docs/model.md`). [`Tenders`] keeps the tenders until they are awarded, with the bids
//! firms put into them.

use rand::Rng;
use rand_distr::{Distribution, LogNormal};

use super::backlog::Contract;
use super::book::Book;
use super::ledger::Ledger;
use super::output::Out;
use super::roster::CustomerState;
use super::setup::{ticks_of_years, years, World};
use super::{Event, MarketModel};
use crate::allocation::HasUtility;
use crate::calendar::TICKS_PER_DAY;
use crate::sim::{EventQueue, SimTime};

/// The most bid lists kept for reuse (more tenders than this rarely close at one tick).
const SPARE_BID_LISTS: usize = 64;

#[derive(Debug, Clone)]
pub(super) struct Bid {
    pub firm: usize,
    pub chip: usize,
    /// Price per unit the customer pays (export fee passed through) [USD].
    pub price: f64,
    /// Units the firm can deliver by the deadline.
    pub deliverable: u64,
    /// Deterministic utility of the bid for this tender.
    pub utility: f64,
}

impl HasUtility for Bid {
    fn utility(&self) -> f64 {
        self.utility
    }
}

#[derive(Debug, Clone)]
pub(super) struct Tender {
    pub customer: usize,
    /// Budget [USD].
    pub budget: f64,
    pub training: bool,
    pub min_tflops: f64,
    /// Inference tenders: the least memory a chip needs [GB].
    pub min_memory_gb: f64,
    pub deadline: SimTime,
    /// An order ahead of an announced restriction: only foreign chips allowed now and
    /// forbidden under this regime may bid.
    pub ahead_of: Option<usize>,
    /// The bids, once the bid window closed.
    pub bids: Vec<Bid>,
}

/// How a tender opens.
#[derive(Debug, Clone, Copy)]
pub(super) struct Opening {
    pub customer: usize,
    pub budget: f64,
    pub training: bool,
    /// A deadline other than the usual delivery window's.
    pub deadline: Option<SimTime>,
    pub ahead_of: Option<usize>,
}

/// The tenders of a run, kept until awarded.
#[derive(Debug)]
pub(super) struct Tenders {
    book: Book<Tender>,
    /// Bid lists of dropped tenders, handed to the next tenders that get bids.
    spare_bids: Vec<Vec<Bid>>,
}

impl Tenders {
    pub(super) fn new() -> Tenders {
        let gone = Tender {
            customer: 0,
            budget: 0.0,
            training: false,
            min_tflops: 0.0,
            min_memory_gb: 0.0,
            deadline: SimTime::ZERO,
            ahead_of: None,
            bids: Vec::new(),
        };
        Tenders { book: Book::new(gone), spare_bids: Vec::new() }
    }

    /// Tender `ti` (which must still be kept).
    pub(super) fn get(&self, ti: usize) -> &Tender {
        &self.book[ti]
    }

    pub(super) fn get_mut(&mut self, ti: usize) -> &mut Tender {
        &mut self.book[ti]
    }

    /// An empty bid list: one a dropped tender gave back, or a new one with room for
    /// `firms` bids.
    pub(super) fn bid_list(&mut self, firms: usize) -> Vec<Bid> {
        self.spare_bids.pop().unwrap_or_else(|| Vec::with_capacity(firms))
    }

    /// Tender `ti` was awarded: it is dropped once every tender before it is.
    pub(super) fn retire(&mut self, ti: usize) {
        self.book.retire(ti);
    }

    /// Drop the awarded tenders at the front, keeping their bid lists for reuse (a few: a
    /// burst of re-tenders closing together, a ban cancelling a large backlog, would
    /// otherwise leave its lists held to the end).
    pub(super) fn drop_awarded(&mut self) {
        while let Some((_, mut tender)) = self.book.pop_finished(|_| false) {
            if self.spare_bids.len() < SPARE_BID_LISTS {
                tender.bids.clear();
                self.spare_bids.push(tender.bids);
            }
        }
    }

    /// Open a tender at `now` and schedule its bids and award at the close of its bid
    /// window.
    pub(super) fn open(
        &mut self,
        o: Opening,
        world: &World,
        ledger: &mut Ledger,
        out: &mut Out,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let t = years(now.ticks());
        let training = o.training;
        let min_tflops = if training { world.demand.training_min_tflops(t) } else { 0.0 };
        let d = &world.s.demand;
        let min_memory_gb = if training {
            0.0
        } else {
            d.inference_min_memory_gb * (1.0 + d.inference_min_memory_growth_per_year).powf(t)
        };
        let close = now.saturating_add(u64::from(d.bid_window_days) * TICKS_PER_DAY);
        let deadline =
            o.deadline.unwrap_or_else(|| close.saturating_add(u64::from(d.delivery_days) * TICKS_PER_DAY)).max(close);
        let id = self.book.len() as u32;
        self.book.push(Tender {
            customer: o.customer,
            budget: o.budget,
            training,
            min_tflops,
            min_memory_gb,
            deadline,
            ahead_of: o.ahead_of,
            bids: Vec::new(),
        });
        out.tender(id, o.budget);
        ledger.tender_opened();
        out.trace(now, "tender_opened", || format!("{} {}", id, world.s.customers[o.customer].id));
        if close >= world.end {
            return;
        }
        // Bids of all firms, then the award (a later priority, so every tender closing at
        // this tick has its bids in before any is awarded).
        queue.schedule_in(close.ticks() - now.ticks(), Event::Bids(id).priority(), Event::Bids(id));
        queue.schedule_in(close.ticks() - now.ticks(), Event::Award(id).priority(), Event::Award(id));
    }

    /// Re-tender what `contract` will no longer deliver, at its value.
    pub(super) fn retender(
        &mut self,
        contract: &Contract,
        world: &World,
        ledger: &mut Ledger,
        out: &mut Out,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let budget = contract.remaining() as f64 * contract.unit_price();
        let (customer, training) = (contract.customer(), contract.training());
        if budget > 0.0 {
            let o = Opening { customer, budget, training, deadline: None, ahead_of: None };
            self.open(o, world, ledger, out, now, queue);
        }
    }
}

/// Ticks to a customer's next tender (exponential at its rate).
pub(super) fn draw_interarrival(c: &mut CustomerState) -> u64 {
    let rate = c.rate_per_year;
    let u: f64 = c.tender_stream.random::<f64>();
    ticks_of_years(-(1.0 - u).ln() / rate)
}

/// What buyers budget per PFLOPS of demand at `t` years [USD].
pub(super) fn usd_per_pflops(world: &World, t: f64) -> f64 {
    let d = &world.s.demand;
    d.usd_per_pflops * (1.0 + d.usd_per_pflops_change_per_year).powf(t)
}

/// National budget for new accelerators per year at `t` [USD/year].
fn budget_rate(world: &World, t: f64) -> f64 {
    world.demand.rate(t) * usd_per_pflops(world, t)
}

/// Customer `ci` opens a tender, then schedules its next one.
pub(super) fn on_tender_arrival(m: &mut MarketModel, ci: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, tenders, ledger, out, .. } = m;
    let t = years(now.ticks());
    let budget_rate = budget_rate(world, t);
    let inference = world.demand.inference_share(t);
    let c = &mut roster.customers[ci];
    let share = world.s.customers[ci].demand_share;
    let sigma = world.s.demand.tender_size_sigma;
    let mean = share * budget_rate / c.rate_per_year;
    // Lognormal with mean 1, so that expected spend follows the S-curve.
    let factor = LogNormal::new(-0.5 * sigma * sigma, sigma).map_or(1.0, |d| d.sample(&mut c.tender_stream));
    let training = c.tender_stream.random::<f64>() >= inference;
    // Unspent budget comes back; orders placed ahead of a restriction are taken out.
    let budget = mean * factor + c.carry_usd;
    c.carry_usd = 0.0;
    if budget > 0.0 {
        let o = Opening { customer: ci, budget, training, deadline: None, ahead_of: None };
        tenders.open(o, world, ledger, out, now, queue);
    } else {
        c.carry_usd = budget;
    }
    let dt = draw_interarrival(&mut roster.customers[ci]);
    queue.schedule_in(dt, Event::TenderArrival(ci as u32).priority(), Event::TenderArrival(ci as u32));
}

/// A restriction is announced: every customer brings forward `pull_forward_quarters` of
/// its demand (its next tenders shrink by as much), open only to foreign chips allowed now
/// that the coming regime forbids, for delivery before it takes force.
pub(super) fn on_announce(m: &mut MarketModel, entry: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, tenders, ledger, out, regime, .. } = m;
    let e = &world.s.policy.schedule[entry];
    let Some(coming) = world.policy.names.iter().position(|n| *n == e.regime) else { return };
    let effective = world.cal.tick_of(e.date);
    let affected =
        roster.chips.iter().any(|c| !roster.firms[c.firm].domestic && c.allowed[*regime] && !c.allowed[coming]);
    out.trace(now, "announcement", || world.policy.names[coming].clone());
    let quarters = world.s.market.pull_forward_quarters;
    if !affected || quarters <= 0.0 {
        return;
    }
    let t = years(now.ticks());
    let national = budget_rate(world, t) * quarters / 4.0;
    let inference = world.demand.inference_share(t);
    for ci in 0..roster.customers.len() {
        let budget = national * world.s.customers[ci].demand_share;
        // Brought forward, not added: later tenders of the customer are smaller by as much.
        roster.customers[ci].carry_usd -= budget;
        // Split like ordinary demand, training first.
        for (training, part) in [(true, 1.0 - inference), (false, inference)] {
            if budget * part > 0.0 {
                let o = Opening {
                    customer: ci,
                    budget: budget * part,
                    training,
                    deadline: Some(effective),
                    ahead_of: Some(coming),
                };
                tenders.open(o, world, ledger, out, now, queue);
            }
        }
    }
}
