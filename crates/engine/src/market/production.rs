//! Production and delivery: capacity from the supply network or fixed, FIFO deliveries, revenue at delivery (DESIGN.md 3.4).

use super::*;

impl Market<'_> {
    /// The one place capacity comes from: units per quarter firm `fi` can make with its
    /// best chip on sale. Firms linked to the supply network get what it allocates them
    /// (`actual`: the water-filled share their orders can use; otherwise the share they
    /// could get by weight, which is what they promise when bidding). Firms without links
    /// have their fixed `capacity_units_per_quarter`.
    pub(super) fn capacity_units_per_quarter(&self, fi: usize, actual: bool) -> f64 {
        if !self.supply.is_linked(fi) {
            return self.firms[fi].capacity_per_quarter;
        }
        let Some(c) = self.production_chip(fi) else { return 0.0 };
        if actual {
            self.supply.actual_units(fi, c.dies_per_wafer, c.hbm_stacks)
        } else {
            self.supply.potential_units(fi, c.dies_per_wafer, c.hbm_stacks)
        }
    }

    /// The chip whose inputs (chips per wafer, HBM stacks) convert a firm's supply into
    /// accelerators: its latest launched chip.
    fn production_chip(&self, fi: usize) -> Option<&ChipState> {
        self.firms[fi].chips.iter().rev().map(|&c| &self.chips[c]).find(|c| c.launched)
    }

    pub(super) fn on_production(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let tick_quarters = self.tick_len as f64 / (TICKS_PER_YEAR / 4.0);
        // What each firm's backlog can use this tick, as a rate per quarter.
        let needs: Vec<Need> = (0..self.firms.len())
            .map(|fi| {
                self.production_chip(fi).map_or(Need::default(), |c| {
                    let units = self.firms[fi].backlog_units as f64 / tick_quarters;
                    Need::for_units(units, c.dies_per_wafer, c.hbm_stacks)
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
                let chip = &mut self.chips[c.chip].q;
                chip.units += n;
                chip.pflops += pflops;
                chip.revenue += revenue;
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
}
