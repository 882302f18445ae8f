//! Bids and awards: eligibility, the product line (each firm bids the chip that best fits
//! the tender), prices, the split of a tender's budget ([`crate::allocation`]), contracts,
//! licences and deadlines (`docs/model.md`).

use rand::Rng;

use super::backlog::{Backlog, Signing};
use super::production::chip_capacity_per_quarter;
use super::roster::Roster;
use super::setup::{whole, years, World};
use super::tenders::{usd_per_pflops, Bid, Tender};
use super::{Event, MarketModel};
use crate::allocation::{split_budget, Budget};
use crate::calendar::{TICKS_PER_DAY, TICKS_PER_YEAR};
use crate::observe::ContractStatus;
use crate::sim::{EventQueue, SimTime};
use crate::supply::SupplyNetwork;

/// What a firm's bid depends on: the market as it stands when a bid window closes.
struct Bidder<'a> {
    world: &'a World<'a>,
    roster: &'a Roster,
    supply: &'a SupplyNetwork,
    backlog: &'a Backlog,
    regime: usize,
}

impl Bidder<'_> {
    /// Whether chip `ci` may bid into `tender` now: on sale, fast enough, allowed by the
    /// regime (foreign chips) and, for orders ahead of a restriction, a foreign chip that
    /// the coming regime forbids.
    fn eligible(&self, ci: usize, tender: &Tender, now: SimTime) -> bool {
        let c = &self.roster.chips[ci];
        let foreign = !self.roster.firms[c.firm].domestic;
        if !c.on_sale(now) || c.tflops < tender.min_tflops || c.memory_gb < tender.min_memory_gb {
            return false;
        }
        if foreign && !c.allowed[self.regime] {
            return false;
        }
        match tender.ahead_of {
            Some(coming) => foreign && !c.allowed[coming],
            None => true,
        }
    }

    /// Units per tick chip `ci` could be made at if its firm made only it, by its
    /// allocation by weight ([`chip_capacity_per_quarter`]). For a firm linked to the
    /// supply network it is kept in the chip's memo until the network allocates again (a
    /// firm's fixed capacity grows every quarter, and is read as it is).
    fn capacity_per_tick(&self, ci: usize) -> f64 {
        let per_tick = |units_per_quarter: f64| units_per_quarter / (TICKS_PER_YEAR / 4.0);
        let chip = &self.roster.chips[ci];
        if !self.supply.is_linked(chip.firm) {
            return per_tick(chip_capacity_per_quarter(self.roster, self.supply, ci, false));
        }
        let allocation = self.supply.allocations();
        if let Some((_, units)) = chip.bid_capacity.get().filter(|m| m.0 == allocation) {
            debug_assert!(
                units.to_bits() == per_tick(chip_capacity_per_quarter(self.roster, self.supply, ci, false)).to_bits(),
                "stale capacity memo of chip {}",
                chip.id
            );
            return units;
        }
        let units = per_tick(chip_capacity_per_quarter(self.roster, self.supply, ci, false));
        chip.bid_capacity.set(Some((allocation, units)));
        units
    }

    /// The bid of firm `fi` into `tender`: the eligible chip of its product line that has
    /// the highest utility for this tender and can deliver something by the deadline.
    ///
    /// A chip's utility is the customer's weights applied to the log of its cost of
    /// ownership, its fit to the workload (log TFLOPS for training; log bandwidth and log
    /// memory for inference), the firm's ecosystem and relationship, a domestic preference
    /// and its supply risk. What it can deliver is production at its capacity for it after
    /// the lead time, plus its finished and started units, less the firm's backlog. The
    /// terms of the firm are worked out once for all its chips.
    fn best_bid(&self, tender: &Tender, fi: usize, now: SimTime) -> Option<Bid> {
        let s = self.world.s;
        let firm = &self.roster.firms[fi];
        let w = &s.customers[tender.customer].weights;
        let lead = u64::from(s.firms[fi].lead_time_days) * TICKS_PER_DAY;
        let ticks_left = tender.deadline.ticks().saturating_sub(now.ticks()).saturating_sub(lead) as f64;
        let ecosystem = w.ecosystem * firm.ecosystem;
        let relationship = w.relationship * self.roster.customers[tender.customer].relationship[fi];
        let domestic = if firm.domestic { w.domestic } else { 0.0 };
        let owed = self.backlog.owed_by_firm(fi);
        let mut best: Option<Bid> = None;
        // Debug builds (every test) check that no chip left out of `selling` could bid.
        debug_assert!(
            firm.chips.iter().all(|&ci| firm.selling().contains(&ci) || !self.eligible(ci, tender, now)),
            "a chip of firm {fi} that may bid is not in its selling list"
        );
        for &ci in firm.selling() {
            if !self.eligible(ci, tender, now) {
                continue;
            }
            let per_tick = self.capacity_per_tick(ci);
            let chip = &self.roster.chips[ci];
            // The whole units made (0 if negative).
            let can_make = whole((per_tick * ticks_left).min(1e15)) + chip.inventory + chip.pipeline;
            let deliverable = can_make.saturating_sub(owed);
            if deliverable == 0 {
                continue;
            }
            let offer = self.roster.offer(s, &self.world.policy, self.regime, ci);
            let fit = if tender.training {
                w.performance * chip.ln_tflops
            } else {
                w.bandwidth * chip.ln_bandwidth + w.memory * chip.ln_memory
            };
            let utility =
                -w.price * offer.ln_tco + fit + ecosystem + relationship + domestic - w.supply_risk * offer.risk;
            if best.as_ref().is_none_or(|b| utility > b.utility) {
                best = Some(Bid { firm: fi, chip: ci, price: offer.price, deliverable, utility });
            }
        }
        best
    }
}

/// The bids of every firm, in scenario order, into tender `ti` (its bid window closes).
pub(super) fn on_bids(m: &mut MarketModel, ti: usize, now: SimTime) {
    let MarketModel { world, roster, supply, backlog, tenders, ledger, regime, .. } = m;
    let mut bids = tenders.bid_list(roster.firms.len());
    roster.refresh_selling(*regime);
    let bidder = Bidder { world, roster, supply, backlog, regime: *regime };
    let tender = tenders.get(ti);
    bids.extend((0..roster.firms.len()).filter_map(|fi| bidder.best_bid(tender, fi, now)));
    for bid in &bids {
        ledger.bid(bid.firm);
    }
    tenders.get_mut(ti).bids = bids;
}

/// The customer awards tender `ti`: its budget is split among the bids
/// ([`split_budget`]: nested-logit shares, nests domestic and foreign, capped at what each
/// bid can deliver and at the customer's `max_vendor_share`), and each bid that gets a
/// whole unit signs a contract. A domestic mandate raises the domestic nest to its share;
/// foreign bids never take more than `1 - mandate` of the budget, and none when the
/// customer is told to avoid foreign chips. Unspent budget returns in the customer's next
/// tender (`demand.unfilled_carry_share`).
///
/// A contract's deadline event joins `deadlines`, the run of consecutive contracts of this
/// award signed since the last event scheduled; a contract that needs a licence schedules
/// that run, its own deadline and its licence decision, in that order. Every contract of a
/// tender has the same deadline and nothing else is scheduled between two signings, so the
/// queue fires them exactly as one event per contract would, with half the entries (the
/// queue holds a deadline for every contract in its delivery window).
pub(super) fn on_award(m: &mut MarketModel, ti: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, backlog, tenders, ledger, out, regime, award, .. } = m;
    let s = world.s;
    let tender = tenders.get_mut(ti);
    let (customer, budget, ahead) = (tender.customer, tender.budget, tender.ahead_of.is_some());
    let cust = &s.customers[customer];
    let r = &world.policy.regimes[*regime];
    let mandate = cust.domestic_mandate.max(r.domestic_mandate.for_kind(roster.customers[customer].kind));
    let discouraged = roster.customers[customer].award_stream.random::<f64>() < r.foreign_purchase_discouraged;
    let foreign_cap = if discouraged { 0.0 } else { budget * (1.0 - mandate) };
    if discouraged {
        tender.bids.retain(|b| roster.firms[b.firm].domestic);
    }
    let split = Budget { total: budget, mandate, foreign_cap, mu: cust.noise_scale, lambda: cust.nest_scale };
    let alloc = split_budget(
        &tender.bids,
        |b| roster.firms[b.firm].domestic,
        |b| (b.deliverable as f64 * b.price).min(cust.max_vendor_share * budget),
        &split,
        award,
    );
    let deadline = tender.deadline.saturating_add(u64::from(s.demand.grace_days) * TICKS_PER_DAY);
    let mut awarded = false;
    let mut paid = 0.0;
    let mut deadlines = DeadlineRun::default();
    for (bid, &alloc) in tender.bids.iter().zip(alloc) {
        let units = whole(alloc / bid.price).min(bid.deliverable);
        if units == 0 {
            continue;
        }
        awarded = true;
        paid += units as f64 * bid.price;
        ledger.win(bid.firm);
        let id = backlog.next_id();
        let licence = !roster.firms[bid.firm].domestic && r.license_required;
        // The deadline event is never cancelled: if the contract closes first, it finds
        // the contract closed and does nothing.
        if deadline < world.end {
            deadlines.add(id, deadline.ticks() - now.ticks());
            if licence {
                deadlines.schedule(queue);
            }
        }
        let signing = Signing {
            tender: ti as u32,
            customer: customer as u32,
            firm: bid.firm,
            chip: bid.chip,
            now,
            training: tender.training,
            units,
            unit_price: bid.price,
        };
        backlog.sign(&signing, licence);
        if licence {
            let delay = u64::from(r.license_delay_days) * TICKS_PER_DAY;
            queue.schedule_in(delay, Event::Licence(id).priority(), Event::Licence(id));
        } else {
            roster.revive(bid.chip);
        }
        out.trace(now, "award", || {
            format!("{} {} {} {}", id, s.customers[customer].id, s.firms[bid.firm].id, roster.chips[bid.chip].id)
        });
    }
    deadlines.schedule(queue);
    let unspent = (budget - paid).max(0.0);
    let t = years(now.ticks());
    ledger.tender_closed(awarded, unspent / usd_per_pflops(world, t));
    let carry = if ahead { 1.0 } else { s.demand.unfilled_carry_share };
    roster.customers[customer].carry_usd += unspent * carry;
}

/// The licence of contract `contract` is decided, under the rules in force now (not those
/// at award): granted, it joins its firm's backlog; denied, it closes and is re-tendered.
pub(super) fn on_licence(m: &mut MarketModel, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, roster, backlog, tenders, ledger, out, regime, .. } = m;
    // A contract no longer kept was closed (a deadline came first): nothing to decide.
    let Some(c) = backlog.get(contract).filter(|c| c.status() == ContractStatus::PendingLicence) else { return };
    let (fi, ci) = (c.firm(), c.chip());
    let r = &world.policy.regimes[*regime];
    let allowed = roster.chips[ci].allowed[*regime];
    let draw: f64 = roster.firms[fi].licence_stream.random();
    let approved = allowed && (!r.license_required || draw < r.license_approval_prob);
    out.trace(now, "licence_decision", || format!("{} {}", contract, if approved { "approved" } else { "denied" }));
    if approved {
        backlog.activate(contract);
        roster.revive(ci);
    } else {
        backlog.close(contract, ContractStatus::LicenceDenied, now);
        tenders.retender(backlog.contract(contract), world, ledger, out, now, queue);
    }
}

/// The deadlines of contracts `first .. first + count`, in order: a contract still owing
/// units is cut and what it owes is re-tendered.
pub(super) fn on_deadlines(m: &mut MarketModel, first: u32, count: u32, now: SimTime, queue: &mut EventQueue<Event>) {
    let MarketModel { world, backlog, tenders, ledger, out, .. } = m;
    for id in first..first.saturating_add(count) {
        let id = id as usize;
        // Deadline events are never cancelled: most find their contract delivered, and
        // often no longer kept (a dropped contract is closed), and do nothing.
        if backlog.get(id).is_none_or(|c| !c.open() || c.remaining() == 0) {
            continue;
        }
        backlog.close(id, ContractStatus::Cut, now);
        tenders.retender(backlog.contract(id), world, ledger, out, now, queue);
    }
}

/// Consecutive contracts whose deadline events are not scheduled yet (all at `delay`).
#[derive(Debug, Default)]
struct DeadlineRun {
    first: u32,
    count: u32,
    delay: u64,
}

impl DeadlineRun {
    fn add(&mut self, contract: u32, delay: u64) {
        if self.count == 0 {
            (self.first, self.delay) = (contract, delay);
        }
        self.count += 1;
    }

    /// Schedule the run as one event, and start a new one.
    fn schedule(&mut self, queue: &mut EventQueue<Event>) {
        if self.count > 0 {
            let ev = Event::Deadlines(self.first, self.count);
            queue.schedule_in(self.delay, ev.priority(), ev);
        }
        self.count = 0;
    }
}
