//! The market model: firms bid their chips into customers' tenders, win contracts, produce
//! and deliver them, develop new chips and keep accounts, under the regime in force.
//!
//! [`MarketModel`] implements the kernel's [`Model`]: every state change happens in
//! [`MarketModel::handle`], one `match` over the closed [`Event`] enum. This file holds the
//! parts and the dispatch. Each part has one owner module that alone changes it:
//!
//! - `roster`: chips, firms and customers; launch, retire, revive, the offer memos;
//! - `backlog`: the contracts, each firm's delivery queue and the counters kept from them
//!   (only it writes them: the compiler enforces it);
//! - `ledger`: the quarter's flows, each firm's money and the quarter close;
//! - `tenders`: tenders until awarded, with their bids; `output`: the sink and its names;
//! - `setup`: the fixed frame of the run (`World`) and the first events.
//!
//! The handlers are functions over split borrows of these parts, one module per part of
//! the model (`docs/model.md`): `tenders` (3.2), `bidding` (3.3), `production`,
//! `technology` and `ledger` (3.4), `regimes` (3.5); `demand` has the S-curves and `kpi`
//! the summary KPIs. A new policy lever is read where it acts: in one handler.

mod backlog;
mod bidding;
mod book;
mod demand;
mod kpi;
mod ledger;
mod output;
mod production;
mod regimes;
mod roster;
mod setup;
mod technology;
mod tenders;
#[cfg(test)]
mod tests;

use crate::allocation::SplitLists;
use crate::error::{InvariantError, RunError};
use crate::rng::Stream;
use crate::sim::{EventQueue, Model, SimTime};
use crate::supply::SupplyNetwork;

use backlog::Backlog;
use ledger::Ledger;
use output::Out;
use roster::Roster;
use setup::World;
use tenders::Tenders;

pub use setup::end_tick;

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

/// The whole state of one replication, by owner (see the [module docs](self)).
pub struct MarketModel<'s> {
    /// What the run reads and never changes.
    world: World<'s>,
    /// The regime in force (an index into the policy book), and the switching model's
    /// stream.
    regime: usize,
    policy_stream: Stream,
    supply: SupplyNetwork,
    roster: Roster,
    backlog: Backlog,
    tenders: Tenders,
    ledger: Ledger,
    out: Out<'s>,
    /// Lists reused from one production tick, and one award, to the next.
    production: production::Lists,
    award: SplitLists,
    /// Tests only: keep every tender and contract to the end (rows then come at the end),
    /// to show that dropping finished records changes nothing.
    #[cfg(test)]
    keep_records: bool,
    /// Tests only: the most contracts kept at once.
    #[cfg(test)]
    peak_kept: usize,
}

impl MarketModel<'_> {
    /// End of the run: the contracts still kept go to the sink (in contract order), then
    /// the KPIs.
    pub fn finish(mut self, events_processed: u64) {
        while let Some((id, c)) = self.backlog.pop_any() {
            self.out.contract(id, &c, &self.roster.chips);
        }
        let summary = self.ledger.summary(self.world.s, &self.roster, self.world.end, self.regime);
        self.out.end(&self.roster.chips, summary, events_processed);
    }

    /// Hand the contract rows that became final, and drop awarded tenders (after each event).
    fn flush_finished(&mut self) {
        #[cfg(test)]
        {
            self.peak_kept = self.peak_kept.max(self.backlog.kept());
            if self.keep_records {
                return;
            }
        }
        self.tenders.drop_awarded();
        while let Some((id, c)) = self.backlog.pop_finished() {
            self.out.contract(id, &c, &self.roster.chips);
        }
    }

    /// Check the model's invariants, owner by owner (used by tests and debug builds).
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        self.backlog.check()?;
        self.roster.check(&self.backlog)
    }
}

impl Model for MarketModel<'_> {
    type Event = Event;
    type Error = RunError;

    fn handle(&mut self, now: SimTime, event: Event, queue: &mut EventQueue<Event>) -> Result<(), RunError> {
        match event {
            Event::QuarterEnd => {
                // Debug builds (tests) re-derive every owner's counters every quarter.
                if cfg!(debug_assertions) {
                    self.check_invariants()?;
                }
                ledger::on_quarter_end(self, now, queue);
            }
            Event::Regime { regime, markov } => regimes::on_regime(self, regime as usize, markov, now, queue),
            Event::SwitchingStarts => {
                regimes::draw_switch(&self.world, &mut self.policy_stream, self.regime, now, queue)
            }
            Event::Launch(chip) => technology::on_launch(self, chip as usize, now, queue),
            Event::NextGen(firm) => technology::on_next_gen(self, firm as usize, now, queue),
            Event::Funding(firm, ev) => technology::on_funding(self, firm as usize, ev as usize, now),
            Event::Production => production::on_production(self, now, queue),
            Event::Deadlines(first, count) => bidding::on_deadlines(self, first, count, now, queue),
            Event::Announce(entry) => tenders::on_announce(self, entry as usize, now, queue),
            Event::GraceEnd(regime) => regimes::on_grace_end(self, regime as usize, now, queue),
            Event::Licence(c) => bidding::on_licence(self, c as usize, now, queue),
            Event::TenderArrival(c) => tenders::on_tender_arrival(self, c as usize, now, queue),
            Event::Bids(t) => bidding::on_bids(self, t as usize, now),
            Event::Award(t) => {
                bidding::on_award(self, t as usize, now, queue);
                self.tenders.retire(t as usize);
            }
            Event::End => {
                let MarketModel { world, roster, backlog, ledger, regime, out, .. } = self;
                ledger.close_quarter(now, world, roster, backlog, *regime, out);
                queue.clear();
            }
        }
        self.flush_finished();
        Ok(())
    }
}
