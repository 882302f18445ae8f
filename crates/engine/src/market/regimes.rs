//! Regime changes: cancelled foreign backlog, link cuts, the Markov pendulum (DESIGN.md 3.5).

use super::*;

impl Market<'_> {
    pub(super) fn on_regime(&mut self, r: usize, markov: bool, now: SimTime, queue: &mut EventQueue<Event>) {
        self.regime = r;
        self.supply.set_regime(&self.policy.regimes[r].cut_links);
        self.trace(now, "regime_change", |m: &Market| m.policy.names[r].clone());
        // Foreign backlog the new regime forbids is cancelled and re-tendered.
        for contract in self.contracts.live_ids() {
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

    pub(super) fn draw_switch(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        if let Some((at, to)) = self.policy.next_switch(self.regime, now, &mut self.policy_stream) {
            if at < self.end {
                let ev = Event::Regime { regime: to as u32, markov: true };
                queue.schedule_in(at.ticks() - now.ticks(), ev.priority(), ev);
            }
        }
    }
}
