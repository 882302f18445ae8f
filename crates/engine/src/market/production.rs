//! Production and delivery (`docs/model.md`): capacity per chip from the
//! supply network (or a firm's fixed capacity), production started to cover the backlog
//! and a finished-goods inventory target, a lead time from start to finished unit, FIFO
//! deliveries from inventory, revenue at delivery, and write-offs of stranded inventory.

use super::*;

impl Market<'_> {
    /// The one place capacity comes from: units of chip `ci` per quarter its firm could
    /// make if it made only that chip. Firms linked to the supply network get what it
    /// allocates them (`actual`: the water-filled share their orders can use; otherwise the
    /// share they could get by weight, which is what they promise when bidding), converted
    /// by the chip's own inputs (chips per wafer, HBM stacks). Firms without links have
    /// their fixed `capacity_units_per_quarter`.
    pub(super) fn chip_capacity_per_quarter(&self, ci: usize, actual: bool) -> f64 {
        let c = &self.chips[ci];
        if !self.supply.is_linked(c.firm) {
            return self.firms[c.firm].capacity_per_quarter;
        }
        if !c.foundries.is_empty() {
            self.supply.units_from(c.firm, c.dies_per_wafer, c.hbm_stacks, &c.foundries, actual)
        } else if actual {
            self.supply.actual_units(c.firm, c.dies_per_wafer, c.hbm_stacks)
        } else {
            self.supply.potential_units(c.firm, c.dies_per_wafer, c.hbm_stacks)
        }
    }

    /// Inputs one unit of chip `ci` draws: a good die's share of a wafer, its HBM stacks,
    /// one package.
    fn unit_need(&self, ci: usize) -> Need {
        self.chips[ci].need
    }

    /// Units of chip `ci` the firm should start now: its backlog not covered by finished or
    /// started units (`backlog`), or that plus the inventory target (`with_target`).
    /// Only chips on sale (and, if foreign, allowed) have an inventory target.
    fn to_start(&self, ci: usize, with_target: bool, now: SimTime) -> u64 {
        let c = &self.chips[ci];
        let fi = c.firm;
        let target = with_target && c.on_sale(now) && (self.firms[fi].domestic || c.allowed[self.regime]);
        if !target && c.backlog == 0 {
            // Nothing owed and no target (the common case for most chips of a catalogue).
            return 0;
        }
        let mut want = c.backlog as f64;
        if target {
            want += self.s.firms[fi].inventory_weeks * c.weekly_deliveries;
        }
        // Whole units; a shortfall is 0.
        whole(want - (c.inventory + c.pipeline) as f64)
    }

    pub(super) fn on_production(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        let tick_quarters = self.tick_len as f64 / (TICKS_PER_YEAR / 4.0);
        let t = years(now.ticks());
        // Finished units leave the pipeline.
        for f in &mut self.firms {
            while f.pipeline.front().is_some_and(|p| p.0 <= now) {
                let Some((_, ci, units)) = f.pipeline.pop_front() else { break };
                self.chips[ci].pipeline -= units;
                self.chips[ci].inventory += units;
            }
        }
        // What each firm's orders and inventory targets can use this tick, as a rate per
        // quarter, and whether it wants to start anything at all.
        let mut needs = std::mem::take(&mut self.scratch.needs);
        let mut wants = std::mem::take(&mut self.scratch.wants);
        needs.clear();
        wants.clear();
        for fi in 0..self.firms.len() {
            let mut need = Need::default();
            let mut any = false;
            for &ci in &self.firms[fi].live {
                let start = self.to_start(ci, true, now);
                if start == 0 {
                    // Adds nothing (the sums are never negative zero).
                    continue;
                }
                any = true;
                let units = start as f64 / tick_quarters;
                let per = self.unit_need(ci);
                need.good_wafers += units * per.good_wafers;
                need.hbm_stacks += units * per.hbm_stacks;
                need.packages += units * per.packages;
            }
            needs.push(need);
            wants.push(any);
        }
        self.supply.allocate(t, &needs);
        for (fi, &wanted) in wants.iter().enumerate() {
            self.start_production(fi, now, t, tick_quarters, wanted);
            self.deliver(fi, now);
            self.settle_chips(fi, now);
        }
        self.scratch.needs = needs;
        self.scratch.wants = wants;
        let next = now.saturating_add(self.tick_len);
        if next < self.end {
            queue.schedule_in(self.tick_len, Event::Production.priority(), Event::Production);
        }
    }

    /// Start production of firm `fi` for this tick: backlog first (chips in the order their
    /// oldest contract was signed), then inventory targets, each chip as far as the inputs
    /// left allow. `wants`: whether any of its chips has units to start (if none, only its
    /// capacity is counted: nothing is started or drawn).
    fn start_production(&mut self, fi: usize, now: SimTime, t: f64, tick_quarters: f64, wants: bool) {
        let linked = self.supply.is_linked(fi);
        let (rate, has) = self.supply.allocated(fi);
        // Capacity this tick in units of the least demanding chip (reported, and the bound
        // production never passes).
        let capacity = if linked {
            // An upper bound for any mix of chips: per input kind, the allocation over the
            // least that any launched chip needs of it; the tightest kind binds.
            let (potential, _) = self.supply.potential(fi);
            let mut bound = f64::INFINITY;
            for (k, (&got, &could)) in [rate.good_wafers, rate.hbm_stacks, rate.packages]
                .iter()
                .zip(&[potential.good_wafers, potential.hbm_stacks, potential.packages])
                .enumerate()
            {
                let least = self.firms[fi].least_need[k];
                if has[k] && least > 0.0 && least.is_finite() {
                    bound = bound.min(got.max(could) * tick_quarters / least);
                }
            }
            if bound.is_finite() {
                bound
            } else {
                0.0
            }
        } else {
            self.firms[fi].capacity_per_quarter * tick_quarters
        };
        self.firms[fi].q.capacity_units += capacity;
        if !wants {
            return;
        }
        let mut left = Need {
            good_wafers: rate.good_wafers * tick_quarters,
            hbm_stacks: rate.hbm_stacks * tick_quarters,
            packages: rate.packages * tick_quarters,
        };
        let start = left;
        // Good wafers left per foundry supplier (chips may be tied to some foundries).
        let mut wafers = std::mem::take(&mut self.scratch.wafers);
        wafers.clear();
        wafers.extend(self.supply.foundry_allocation(fi, true).map(|(si, w)| (si, w * tick_quarters)));
        let mut wafers_used = std::mem::take(&mut self.scratch.wafers_used);
        wafers_used.clone_from(&wafers);
        let mut units_left = self.firms[fi].capacity_per_quarter * tick_quarters;
        let mut order = std::mem::take(&mut self.scratch.order);
        order.clear();
        // Chips in the order their first entry comes in the backlog queue: walked only
        // until every chip with entries has been seen.
        let queued_chips = self.firms[fi].live.iter().filter(|&&ci| self.chips[ci].queued > 0).count();
        for &contract in &self.firms[fi].backlog {
            if order.len() == queued_chips {
                break;
            }
            let chip = self.contracts[contract as usize].chip();
            if !order.contains(&chip) {
                order.push(chip);
            }
        }
        for &ci in &self.firms[fi].live {
            if self.chips[ci].launched && !order.contains(&ci) {
                order.push(ci);
            }
        }
        let lead = u64::from(self.s.firms[fi].lead_time_days) * TICKS_PER_DAY;
        for with_target in [false, true] {
            for &ci in &order {
                let want = self.to_start(ci, with_target, now);
                if want == 0 {
                    continue;
                }
                let per = self.unit_need(ci);
                let allowed = &self.chips[ci].foundries;
                let usable = |si: usize| allowed.is_empty() || allowed.contains(&si);
                let chip_wafers: f64 = wafers.iter().filter(|w| usable(w.0)).map(|w| w.1).sum();
                let possible = if linked {
                    let mut m = f64::INFINITY;
                    if has[0] {
                        m = m.min(chip_wafers / per.good_wafers);
                    }
                    if has[1] && per.hbm_stacks > 0.0 {
                        m = m.min(left.hbm_stacks / per.hbm_stacks);
                    }
                    if has[2] {
                        m = m.min(left.packages / per.packages);
                    }
                    if m.is_finite() {
                        m
                    } else {
                        0.0
                    }
                } else {
                    units_left
                };
                let chip = &mut self.chips[ci];
                // Inputs drawn, in units: exactly `want` if the inputs allow; else all that is
                // left of the binding input, with the fraction of a unit banked in the chip's
                // carry (so no fraction is counted twice).
                let (n, made) = if (want as f64) <= possible {
                    (want, want as f64)
                } else {
                    let whole = (possible + chip.carry).floor().max(0.0);
                    chip.carry = (possible + chip.carry - whole).clamp(0.0, 0.999_999);
                    (whole as u64, possible)
                };
                if n == 0 && made <= 0.0 {
                    continue;
                }
                // Wafers come from the chip's foundries in proportion to what each has left.
                let take = made * per.good_wafers;
                if chip_wafers > 0.0 {
                    let allowed = &self.chips[ci].foundries;
                    for w in wafers.iter_mut().filter(|w| allowed.is_empty() || allowed.contains(&w.0)) {
                        w.1 = (w.1 - take * w.1 / chip_wafers).max(0.0);
                    }
                }
                left.good_wafers = (left.good_wafers - take).max(0.0);
                left.hbm_stacks = (left.hbm_stacks - made * per.hbm_stacks).max(0.0);
                left.packages = (left.packages - made * per.packages).max(0.0);
                units_left = (units_left - made).max(0.0);
                if n == 0 {
                    continue;
                }
                self.firms[fi].q.produced += n;
                if lead == 0 {
                    self.chips[ci].inventory += n;
                } else {
                    self.chips[ci].pipeline += n;
                    self.firms[fi].pipeline.push_back((now.saturating_add(lead), ci, n));
                }
            }
        }
        self.scratch.order = order;
        if linked {
            let used = Need {
                good_wafers: start.good_wafers - left.good_wafers,
                hbm_stacks: start.hbm_stacks - left.hbm_stacks,
                packages: start.packages - left.packages,
            };
            // Wafers drawn per foundry: what there was less what is left.
            for (a, b) in wafers_used.iter_mut().zip(&wafers) {
                a.1 -= b.1;
            }
            self.supply.consume(fi, t, used, &wafers_used);
        }
        self.scratch.wafers = wafers;
        self.scratch.wafers_used = wafers_used;
    }

    /// Deliver finished units to firm `fi`'s backlog, first in first out; revenue and cost
    /// of goods at delivery.
    ///
    /// The pass walks the queue in order and stops as soon as nothing further can change:
    /// every closed entry seen (they leave the queue) and every chip with finished units
    /// either out of them or past its last active entry. An entry it does not reach would
    /// have been passed over unchanged (its chip has no units for it).
    fn deliver(&mut self, fi: usize, now: SimTime) {
        let fee = self.policy.regimes[self.regime].export_fee;
        // Chips with units to hand out and entries to hand them to.
        let mut serving = 0usize;
        for &ci in &self.firms[fi].live {
            let c = &mut self.chips[ci];
            c.walk_left = if c.inventory > 0 { c.queued_active } else { 0 };
            serving += usize::from(c.walk_left > 0);
        }
        let mut backlog = std::mem::take(&mut self.firms[fi].backlog);
        // Entries before `read` were walked; those kept were moved down to before `write`.
        let (mut read, mut write) = (0, 0);
        while read < backlog.len() && (serving > 0 || self.firms[fi].stale > 0) {
            let contract = backlog[read];
            read += 1;
            let k = contract as usize;
            let ci = self.contracts[k].chip();
            if self.contracts[k].status() != ContractStatus::Active || self.contracts[k].remaining() == 0 {
                // Closed early (cut, cancelled): it leaves the queue, and may now be dropped.
                let active = self.contracts[k].status() == ContractStatus::Active;
                self.contracts[k].set_in_backlog(false);
                self.chips[ci].queued -= 1;
                if active {
                    self.chips[ci].queued_active -= 1;
                } else {
                    self.firms[fi].stale -= 1;
                }
                continue;
            }
            if self.chips[ci].walk_left == 0 {
                backlog[write] = contract;
                write += 1;
                continue;
            }
            let n = self.contracts[k].remaining().min(self.chips[ci].inventory);
            let pflops = n as f64 * self.chips[ci].pflops_per_unit();
            let c = &mut self.contracts[k];
            c.delivered += n;
            let revenue = n as f64 * c.unit_price;
            let cogs = n as f64 * self.chips[ci].unit_cost;
            let done = c.remaining() == 0;
            let chip = &mut self.chips[ci];
            chip.inventory -= n;
            chip.backlog -= n;
            chip.q.units += n;
            chip.q.pflops += pflops;
            chip.q.revenue += revenue;
            chip.tick_units += n;
            chip.walk_left -= 1;
            if chip.walk_left == 0 || chip.inventory == 0 {
                chip.walk_left = 0;
                serving -= 1;
            }
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
                self.contracts[k].set_in_backlog(false);
                self.close_contract(k, ContractStatus::Delivered, now);
                let chip = &mut self.chips[ci];
                chip.queued -= 1;
                chip.queued_active -= 1;
            } else {
                backlog[write] = contract;
                write += 1;
            }
        }
        // The entries not walked close the gap left by those removed.
        if write < read {
            backlog.drain(write..read);
        }
        self.firms[fi].backlog = backlog;
    }

    /// After firm `fi`'s deliveries of this tick: fold them into each live chip's smoothed
    /// weekly deliveries (the inventory target's measure), then retire the chips that can
    /// no longer matter (see `ChipState::retired`).
    fn settle_chips(&mut self, fi: usize, now: SimTime) {
        let tick_weeks = self.tick_len as f64 / (7 * TICKS_PER_DAY) as f64;
        let smoothing = (self.tick_len as f64 / (TICKS_PER_YEAR / 4.0)).min(1.0);
        let chips = &mut self.chips;
        self.firms[fi].live.retain(|&ci| {
            let c = &mut chips[ci];
            if c.tick_units != 0 || c.weekly_deliveries != 0.0 {
                // (Otherwise it stays exactly 0: most chips of a catalogue, most of the time.)
                let now_units = std::mem::take(&mut c.tick_units);
                // (0 / tick_weeks is exactly 0: the division is skipped then.)
                let weekly = if now_units == 0 { 0.0 } else { now_units as f64 / tick_weeks };
                c.weekly_deliveries += smoothing * (weekly - c.weekly_deliveries);
            }
            c.retired =
                c.launched && !c.on_sale(now) && c.backlog == 0 && c.inventory == 0 && c.pipeline == 0 && c.queued == 0;
            !c.retired
        });
    }

    /// Write off the finished and started units of foreign chips the regime in force
    /// forbids (nobody may buy them), at unit cost.
    pub(super) fn write_off_stranded(&mut self, now: SimTime) {
        for ci in 0..self.chips.len() {
            let c = &self.chips[ci];
            let fi = c.firm;
            if self.firms[fi].domestic || c.allowed[self.regime] {
                continue;
            }
            let units = c.inventory + c.pipeline;
            if units == 0 {
                continue;
            }
            let cost = units as f64 * c.unit_cost;
            self.chips[ci].inventory = 0;
            self.chips[ci].pipeline = 0;
            self.firms[fi].pipeline.retain(|p| p.1 != ci);
            let f = &mut self.firms[fi];
            f.cash -= cost;
            f.q.writeoff += cost;
            self.flows.writeoff += cost;
            self.trace(now, "inventory_write_off", |m: &Market| format!("{} {}", m.chips[ci].id, units));
        }
    }
}
