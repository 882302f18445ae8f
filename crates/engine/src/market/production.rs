//! Production and delivery (`docs/model.md`): capacity per chip from the supply network
//! (or a firm's fixed capacity), production started to cover the backlog and a
//! finished-goods inventory target, a lead time from start to finished unit, FIFO
//! deliveries from inventory ([`Backlog::deliver`]), revenue at delivery, and write-offs of
//! stranded inventory.

use super::backlog::Backlog;
use super::ledger::Ledger;
use super::output::Out;
use super::roster::Roster;
use super::setup::{whole, years, World};
use super::{Event, MarketModel};
use crate::calendar::{TICKS_PER_DAY, TICKS_PER_YEAR};
use crate::sim::{EventQueue, SimTime};
use crate::supply::{Need, SupplyNetwork};

/// Lists a production tick reuses rather than allocating each time (their contents never
/// outlive one use).
#[derive(Debug, Default)]
pub(super) struct Lists {
    /// Each firm's input needs, and whether it wants to start anything.
    needs: Vec<Need>,
    wants: Vec<bool>,
    start: StartLists,
}

/// The lists of one firm's start of production.
#[derive(Debug, Default)]
struct StartLists {
    /// The order a firm starts its chips in.
    order: Vec<usize>,
    /// Good wafers per foundry supplier: left to a firm this tick, and drawn by it.
    wafers: Vec<(usize, f64)>,
    wafers_used: Vec<(usize, f64)>,
}

/// The one place capacity comes from: units of chip `ci` per quarter its firm could make
/// if it made only that chip. Firms linked to the supply network get what it allocates
/// them (`actual`: the water-filled share their orders can use; otherwise the share they
/// could get by weight, which is what they promise when bidding), converted by the chip's
/// own inputs (chips per wafer, HBM stacks). Firms without links have their fixed
/// `capacity_units_per_quarter`.
pub(super) fn chip_capacity_per_quarter(roster: &Roster, supply: &SupplyNetwork, ci: usize, actual: bool) -> f64 {
    let c = &roster.chips[ci];
    if !supply.is_linked(c.firm) {
        return roster.firms[c.firm].capacity_per_quarter;
    }
    if !c.foundries.is_empty() {
        supply.units_from(c.firm, c.dies_per_wafer, c.hbm_stacks, &c.foundries, actual)
    } else if actual {
        supply.actual_units(c.firm, c.dies_per_wafer, c.hbm_stacks)
    } else {
        supply.potential_units(c.firm, c.dies_per_wafer, c.hbm_stacks)
    }
}

/// What one production tick reads but does not change.
struct Plant<'a> {
    world: &'a World<'a>,
    regime: usize,
    now: SimTime,
    /// Years since the start, and the tick's length in quarters.
    t: f64,
    tick_quarters: f64,
}

impl Plant<'_> {
    /// Units of chip `ci` the firm should start now: its backlog not covered by finished
    /// or started units (`backlog`), or that plus the inventory target (`with_target`).
    /// Only chips on sale (and, if foreign, allowed) have an inventory target.
    fn to_start(&self, roster: &Roster, backlog: &Backlog, ci: usize, with_target: bool) -> u64 {
        let c = &roster.chips[ci];
        let fi = c.firm;
        let target = with_target && c.on_sale(self.now) && (roster.firms[fi].domestic || c.allowed[self.regime]);
        let owed = backlog.owed_of_chip(ci);
        if !target && owed == 0 {
            // Nothing owed and no target (the common case for most chips of a catalogue).
            return 0;
        }
        let mut want = owed as f64;
        if target {
            want += self.world.s.firms[fi].inventory_weeks * c.weekly_deliveries;
        }
        // Whole units; a shortfall is 0.
        whole(want - (c.inventory + c.pipeline) as f64)
    }

    /// Start production of firm `fi` for this tick: backlog first (chips in the order
    /// their oldest contract was signed), then inventory targets, each chip as far as the
    /// inputs left allow. `wants`: whether any of its chips has units to start (if none,
    /// only its capacity is counted: nothing is started or drawn).
    #[allow(clippy::too_many_arguments)] // the parts a start touches, each named
    fn start(
        &self,
        roster: &mut Roster,
        supply: &mut SupplyNetwork,
        backlog: &Backlog,
        ledger: &mut Ledger,
        lists: &mut StartLists,
        fi: usize,
        wants: bool,
    ) {
        let (now, t, tick_quarters) = (self.now, self.t, self.tick_quarters);
        let linked = supply.is_linked(fi);
        let (rate, has) = supply.allocated(fi);
        // Capacity this tick in units of the least demanding chip (reported, and the bound
        // production never passes).
        let capacity = if linked {
            // An upper bound for any mix of chips: per input kind, the allocation over the
            // least that any launched chip needs of it; the tightest kind binds.
            let (potential, _) = supply.potential(fi);
            let mut bound = f64::INFINITY;
            for (k, (&got, &could)) in [rate.good_wafers, rate.hbm_stacks, rate.packages]
                .iter()
                .zip(&[potential.good_wafers, potential.hbm_stacks, potential.packages])
                .enumerate()
            {
                let least = roster.firms[fi].least_need[k];
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
            roster.firms[fi].capacity_per_quarter * tick_quarters
        };
        ledger.capacity(fi, capacity);
        if !wants {
            return;
        }
        let mut left = Need {
            good_wafers: rate.good_wafers * tick_quarters,
            hbm_stacks: rate.hbm_stacks * tick_quarters,
            packages: rate.packages * tick_quarters,
        };
        let start = left;
        let StartLists { order, wafers, wafers_used } = lists;
        // Good wafers left per foundry supplier (chips may be tied to some foundries).
        wafers.clear();
        wafers.extend(supply.foundry_allocation(fi, true).map(|(si, w)| (si, w * tick_quarters)));
        wafers_used.clone_from(wafers);
        let mut units_left = roster.firms[fi].capacity_per_quarter * tick_quarters;
        order.clear();
        // Chips in the order their first entry comes in the backlog queue: walked only
        // until every chip with entries has been seen.
        let queued_chips = roster.firms[fi].live().iter().filter(|&&ci| backlog.queued(ci) > 0).count();
        for &contract in backlog.queue(fi) {
            if order.len() == queued_chips {
                break;
            }
            let chip = backlog.contract(contract as usize).chip();
            if !order.contains(&chip) {
                order.push(chip);
            }
        }
        for &ci in roster.firms[fi].live() {
            if roster.chips[ci].launched && !order.contains(&ci) {
                order.push(ci);
            }
        }
        let lead = u64::from(self.world.s.firms[fi].lead_time_days) * TICKS_PER_DAY;
        for with_target in [false, true] {
            for &ci in order.iter() {
                let want = self.to_start(roster, backlog, ci, with_target);
                if want == 0 {
                    continue;
                }
                let per = roster.chips[ci].need;
                let allowed = &roster.chips[ci].foundries;
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
                let chip = &mut roster.chips[ci];
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
                    let allowed = &chip.foundries;
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
                ledger.produced(fi, n);
                if lead == 0 {
                    chip.inventory += n;
                } else {
                    chip.pipeline += n;
                    roster.firms[fi].pipeline.push_back((now.saturating_add(lead), ci, n));
                }
            }
        }
        if linked {
            let used = Need {
                good_wafers: start.good_wafers - left.good_wafers,
                hbm_stacks: start.hbm_stacks - left.hbm_stacks,
                packages: start.packages - left.packages,
            };
            // Wafers drawn per foundry: what there was less what is left.
            for (a, b) in wafers_used.iter_mut().zip(wafers.iter()) {
                a.1 -= b.1;
            }
            supply.consume(fi, t, used, wafers_used);
        }
    }
}

/// A production tick: finished units leave the pipeline, the supply network allocates
/// what each firm's orders and inventory targets can use, then firm by firm production
/// starts, deliveries go out and idle chips retire.
pub(super) fn on_production(m: &mut MarketModel, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, supply, backlog, ledger, regime, production: lists, .. } = m;
    let tick_len = world.tick_len;
    let plant = Plant {
        world,
        regime: *regime,
        now,
        t: years(now.ticks()),
        tick_quarters: tick_len as f64 / (TICKS_PER_YEAR / 4.0),
    };
    // Finished units leave the pipeline.
    for f in &mut roster.firms {
        while f.pipeline.front().is_some_and(|p| p.0 <= now) {
            let Some((_, ci, units)) = f.pipeline.pop_front() else { break };
            roster.chips[ci].pipeline -= units;
            roster.chips[ci].inventory += units;
        }
    }
    // What each firm's orders and inventory targets can use this tick, as a rate per
    // quarter, and whether it wants to start anything at all.
    let Lists { needs, wants, start } = lists;
    needs.clear();
    wants.clear();
    for f in &roster.firms {
        let mut need = Need::default();
        let mut any = false;
        for &ci in f.live() {
            let units = plant.to_start(roster, backlog, ci, true);
            if units == 0 {
                // Adds nothing (the sums are never negative zero).
                continue;
            }
            any = true;
            let units = units as f64 / plant.tick_quarters;
            let per = roster.chips[ci].need;
            need.good_wafers += units * per.good_wafers;
            need.hbm_stacks += units * per.hbm_stacks;
            need.packages += units * per.packages;
        }
        needs.push(need);
        wants.push(any);
    }
    supply.allocate(plant.t, needs);
    let fee = world.policy.regimes[*regime].export_fee;
    let tick_weeks = tick_len as f64 / (7 * TICKS_PER_DAY) as f64;
    let smoothing = (tick_len as f64 / (TICKS_PER_YEAR / 4.0)).min(1.0);
    for (fi, &wanted) in wants.iter().enumerate() {
        plant.start(roster, supply, backlog, ledger, start, fi, wanted);
        let domestic = roster.firms[fi].domestic;
        backlog.deliver(fi, roster.firms[fi].live(), &mut roster.chips, now, |chip, d| {
            ledger.deliver(fi, domestic, fee, chip, d);
        });
        // Fold the tick's deliveries into each live chip's smoothed weekly deliveries (the
        // inventory target's measure), then retire the chips that can no longer matter.
        roster.retire_idle(fi, now, backlog, |c| {
            if c.tick_units != 0 || c.weekly_deliveries != 0.0 {
                // (Otherwise it stays exactly 0: most chips of a catalogue, most of the time.)
                let now_units = c.tick_units;
                c.tick_units = 0;
                // (0 / tick_weeks is exactly 0: the division is skipped then.)
                let weekly = if now_units == 0 { 0.0 } else { now_units as f64 / tick_weeks };
                c.weekly_deliveries += smoothing * (weekly - c.weekly_deliveries);
            }
        });
    }
    let next = now.saturating_add(tick_len);
    if next < world.end {
        queue.schedule_in(tick_len, Event::Production.priority(), Event::Production);
    }
}

/// Write off the finished and started units of foreign chips that `regime` forbids
/// (nobody may buy them), at unit cost.
pub(super) fn write_off_stranded(roster: &mut Roster, ledger: &mut Ledger, out: &mut Out, regime: usize, now: SimTime) {
    for ci in 0..roster.chips.len() {
        let c = &roster.chips[ci];
        let fi = c.firm;
        if roster.firms[fi].domestic || c.allowed[regime] {
            continue;
        }
        let units = c.inventory + c.pipeline;
        if units == 0 {
            continue;
        }
        let cost = units as f64 * c.unit_cost;
        roster.chips[ci].inventory = 0;
        roster.chips[ci].pipeline = 0;
        roster.firms[fi].pipeline.retain(|p| p.1 != ci);
        ledger.write_off(fi, cost);
        out.trace(now, "inventory_write_off", || format!("{} {}", roster.chips[ci].id, units));
    }
}
