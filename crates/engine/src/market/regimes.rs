//! Regime changes: cancelled foreign backlog (after an optional grace period), stranded
//! inventory written off, link cuts, the Markov pendulum (`docs/model.md`).

use super::production::write_off_stranded;
use super::setup::World;
use super::{Event, MarketModel};
use crate::calendar::TICKS_PER_DAY;
use crate::observe::ContractStatus;
use crate::rng::Stream;
use crate::sim::{EventQueue, SimTime};

/// Regime `r` takes force (`markov`: drawn by the switching model, which then draws the
/// next switch): links are cut, and its restrictions are enforced at once or after its
/// backlog grace period.
pub(super) fn on_regime(m: &mut MarketModel, r: usize, markov: bool, now: SimTime, queue: &mut EventQueue<Event>) {
    m.regime = r;
    m.roster.regime_changed();
    let rules = &m.world.policy.regimes[r];
    m.supply.set_regime(&rules.cut_links);
    m.out.trace(now, "regime_change", || m.world.policy.names[r].clone());
    let grace = u64::from(rules.backlog_grace_days) * TICKS_PER_DAY;
    if grace == 0 {
        enforce(m, r, now, queue);
    } else if now.saturating_add(grace) < m.world.end {
        queue.schedule_in(grace, Event::GraceEnd(r as u32).priority(), Event::GraceEnd(r as u32));
    }
    if markov {
        draw_switch(&m.world, &mut m.policy_stream, m.regime, now, queue);
    }
}

/// The grace period of regime `r` ends: enforce it if it is still in force.
pub(super) fn on_grace_end(m: &mut MarketModel, r: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    if m.regime == r {
        enforce(m, r, now, queue);
    }
}

/// Foreign backlog regime `r` forbids is cancelled and re-tendered; finished and started
/// units of forbidden chips are written off.
fn enforce(m: &mut MarketModel, r: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, backlog, tenders, ledger, out, regime, .. } = m;
    for id in backlog.live_ids() {
        let c = backlog.contract(id);
        if c.status() != ContractStatus::Active || roster.firms[c.firm()].domestic || roster.chips[c.chip()].allowed[r]
        {
            continue;
        }
        ledger.cancelled(c.remaining() as f64 * c.unit_price());
        backlog.close(id, ContractStatus::Cancelled, now);
        tenders.retender(backlog.contract(id), world, ledger, out, now, queue);
    }
    write_off_stranded(roster, ledger, out, *regime, now);
}

/// Draw the switching model's next regime change from regime `regime` at `now`.
pub(super) fn draw_switch(
    world: &World,
    stream: &mut Stream,
    regime: usize,
    now: SimTime,
    queue: &mut EventQueue<Event>,
) {
    if let Some((at, to)) = world.policy.next_switch(regime, now, stream) {
        if at < world.end {
            let ev = Event::Regime { regime: to as u32, markov: true };
            queue.schedule_in(at.ticks() - now.ticks(), ev.priority(), ev);
        }
    }
}
