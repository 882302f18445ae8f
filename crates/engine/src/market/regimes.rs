//! Regime changes: cancelled foreign backlog (after an optional grace period), stranded
//! inventory written off, link cuts, the Markov pendulum (`docs/model.md`).

use super::*;

impl Market<'_> {
    pub(super) fn on_regime(&mut self, r: usize, markov: bool, now: SimTime, queue: &mut EventQueue<Event>) {
        self.regime = r;
        for f in &mut self.firms {
            f.selling_stale = true;
        }
        self.supply.set_regime(&self.policy.regimes[r].cut_links);
        self.trace(now, "regime_change", |m: &Market| m.policy.names[r].clone());
        let grace = u64::from(self.policy.regimes[r].backlog_grace_days) * TICKS_PER_DAY;
        if grace == 0 {
            self.enforce(r, now, queue);
        } else if now.saturating_add(grace) < self.end {
            queue.schedule_in(grace, Event::GraceEnd(r as u32).priority(), Event::GraceEnd(r as u32));
        }
        if markov {
            self.draw_switch(now, queue);
        }
    }

    /// The grace period of regime `r` ends: enforce it if it is still in force.
    pub(super) fn on_grace_end(&mut self, r: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        if self.regime == r {
            self.enforce(r, now, queue);
        }
    }

    /// Foreign backlog regime `r` forbids is cancelled and re-tendered; finished and
    /// started units of forbidden chips are written off.
    fn enforce(&mut self, r: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        for contract in self.contracts.live_ids() {
            let c = &self.contracts[contract];
            if c.status() != ContractStatus::Active || self.firms[c.firm()].domestic || self.chips[c.chip()].allowed[r]
            {
                continue;
            }
            self.flows.cancelled_backlog += c.remaining() as f64 * c.unit_price;
            self.close_contract(contract, ContractStatus::Cancelled, now);
            self.retender(contract, now, queue);
        }
        self.write_off_stranded(now);
    }

    pub(super) fn draw_switch(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        if let Some((at, to)) = self.policy.next_switch(self.regime, now, &mut self.policy_stream) {
            if at < self.end {
                let ev = Event::Regime { regime: to as u32, markov: true };
                queue.schedule_in(at.ticks() - now.ticks(), ev.priority(), ev);
            }
        }
    }
}
