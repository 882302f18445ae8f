//! Bids and awards: eligibility, the product line (each firm bids the chip that best fits
//! the tender), prices, the nested-logit split of a tender's budget, contracts, licences and
//! deadlines (`docs/model.md`).

use super::*;

/// The most bid lists kept for reuse (more tenders than this rarely close at one tick).
const SPARE_BID_LISTS: usize = 64;

impl Market<'_> {
    /// Whether chip `ci` may bid into tender `ti` now: on sale, fast enough, allowed by the
    /// regime (foreign chips) and, for orders ahead of a restriction, a foreign chip that
    /// the coming regime forbids.
    fn eligible(&self, ci: usize, tender: &Tender, now: SimTime) -> bool {
        let c = &self.chips[ci];
        let foreign = !self.firms[c.firm].domestic;
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

    pub(super) fn best_on_sale(&self, fi: usize, now: SimTime) -> Option<usize> {
        self.firms[fi]
            .chips
            .iter()
            .copied()
            .filter(|&ci| self.chips[ci].on_sale(now))
            .max_by(|&a, &b| self.chips[a].tflops.total_cmp(&self.chips[b].tflops))
    }

    /// Price per unit a firm asks: the list price at a winning firm's margin target, cut
    /// linearly toward the margin-floor price as its smoothed win rate falls.
    pub(super) fn ask_price(&self, fi: usize, ci: usize) -> f64 {
        let f = &self.s.firms[fi];
        let chip = &self.chips[ci];
        let floor_price = chip.unit_cost / (1.0 - f.margin_floor);
        let span = f.gross_margin_target - f.margin_floor;
        let discount =
            if span > 0.0 { ((f.gross_margin_target - self.firms[fi].margin) / span).clamp(0.0, 1.0) } else { 0.0 };
        (chip.list_price - discount * (chip.list_price - floor_price)).max(floor_price.min(chip.list_price))
    }

    /// Power cost of one card over the years counted in its cost of ownership [USD].
    fn power_cost(&self, ci: usize) -> f64 {
        let m = &self.s.market;
        self.chips[ci].tdp_w / 1000.0 * 8766.0 * m.power_years * m.pue * m.electricity_usd_per_kwh
    }

    /// What chip `ci` offers every tender alike under the regime in force: the price the
    /// customer pays per card (export fee passed through), the log of its cost of ownership
    /// and its supply risk. They change only with the regime and the firm's margin, so they
    /// are kept in the chip's memo until one of those does.
    fn offer(&self, ci: usize) -> Offer {
        let chip = &self.chips[ci];
        let fi = chip.firm;
        let firm = &self.firms[fi];
        let (regime, margin) = (self.regime, firm.margin.to_bits());
        if let Some(offer) = chip.offer.get().filter(|o| (o.regime, o.margin) == (regime, margin)) {
            // Debug builds (every test) check that the memo is what would be computed now.
            debug_assert!(offer.same(&self.offer_now(ci)), "stale offer memo of chip {}", chip.id);
            return offer;
        }
        let offer = self.offer_now(ci);
        chip.offer.set(Some(offer));
        offer
    }

    /// [`Market::offer`] computed afresh.
    fn offer_now(&self, ci: usize) -> Offer {
        let chip = &self.chips[ci];
        let fi = chip.firm;
        let firm = &self.firms[fi];
        let (regime, margin) = (self.regime, firm.margin.to_bits());
        let r = &self.policy.regimes[regime];
        let ask = self.ask_price(fi, ci);
        let power = self.power_cost(ci);
        let system = self.s.market.system_cost_usd_per_card;
        let (price, tco, risk) = if firm.domestic {
            let tco = ask * (1.0 - r.domestic_subsidy) + power * (1.0 - r.power_subsidy) + system;
            (ask, tco, self.s.firms[fi].supply_risk)
        } else {
            let price = ask / (1.0 - r.export_fee);
            let licence_risk = if r.license_required { 1.0 - r.license_approval_prob } else { 0.0 };
            let risk = self.s.firms[fi].supply_risk + r.foreign_supply_risk + licence_risk;
            (price, price + power + system, risk.min(1.0))
        };
        Offer { regime, margin, price, ln_tco: tco.ln(), risk }
    }

    /// Units per tick chip `ci` could be made at if its firm made only it, by its
    /// allocation by weight ([`Market::chip_capacity_per_quarter`]). For a firm linked to
    /// the supply network it is kept in the chip's memo until the network allocates again
    /// (a firm's fixed capacity grows every quarter, and is read as it is).
    fn bid_capacity_per_tick(&self, ci: usize) -> f64 {
        let per_tick = |units_per_quarter: f64| units_per_quarter / (TICKS_PER_YEAR / 4.0);
        let chip = &self.chips[ci];
        if !self.supply.is_linked(chip.firm) {
            return per_tick(self.chip_capacity_per_quarter(ci, false));
        }
        let allocation = self.supply.allocations();
        if let Some((_, units)) = chip.bid_capacity.get().filter(|m| m.0 == allocation) {
            debug_assert!(
                units.to_bits() == per_tick(self.chip_capacity_per_quarter(ci, false)).to_bits(),
                "stale capacity memo of chip {}",
                chip.id
            );
            return units;
        }
        let units = per_tick(self.chip_capacity_per_quarter(ci, false));
        chip.bid_capacity.set(Some((allocation, units)));
        units
    }

    /// The bids of every firm, in scenario order, into tender `ti` (its bid window closes).
    pub(super) fn on_bids(&mut self, ti: usize, now: SimTime) {
        // A list an earlier award gave back, or one with room for every firm's bid.
        let mut bids = self.scratch.spare_bids.pop().unwrap_or_else(|| Vec::with_capacity(self.firms.len()));
        bids.clear();
        self.refresh_selling();
        let tender = &self.tenders[ti];
        bids.extend((0..self.firms.len()).filter_map(|fi| self.best_bid(tender, fi, now)));
        for bid in &bids {
            self.firms[bid.firm].q.bids += 1;
        }
        self.tenders[ti].bids = bids;
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
        let firm = &self.firms[fi];
        let w = &self.s.customers[tender.customer].weights;
        let lead = u64::from(self.s.firms[fi].lead_time_days) * TICKS_PER_DAY;
        let ticks_left = tender.deadline.ticks().saturating_sub(now.ticks()).saturating_sub(lead) as f64;
        let ecosystem = w.ecosystem * firm.ecosystem;
        let relationship = w.relationship * self.customers[tender.customer].relationship[fi];
        let domestic = if firm.domestic { w.domestic } else { 0.0 };
        let mut best: Option<Bid> = None;
        // Debug builds (every test) check that no chip left out of `selling` could bid.
        debug_assert!(
            firm.chips.iter().all(|&ci| firm.selling.contains(&ci) || !self.eligible(ci, tender, now)),
            "a chip of firm {fi} that may bid is not in its selling list"
        );
        for &ci in &firm.selling {
            if !self.eligible(ci, tender, now) {
                continue;
            }
            let per_tick = self.bid_capacity_per_tick(ci);
            let chip = &self.chips[ci];
            // The whole units made (0 if negative).
            let can_make = whole((per_tick * ticks_left).min(1e15)) + chip.inventory + chip.pipeline;
            let deliverable = can_make.saturating_sub(firm.backlog_units);
            if deliverable == 0 {
                continue;
            }
            let offer = self.offer(ci);
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

    /// Split the tender's budget among the bids by nested-logit shares (nests: domestic and
    /// foreign), then cap each bid at what it can deliver and at the customer's
    /// `max_vendor_share`, handing what a capped bid cannot take to the others of its nest
    /// and then to the other nest (water-filling). A domestic mandate raises the domestic
    /// nest to its share; foreign bids never take more than `1 - mandate` of the budget,
    /// and none when the customer is told to avoid foreign chips. Unspent budget returns in
    /// the customer's next tender (`demand.unfilled_carry_share`).
    pub(super) fn on_award(&mut self, ti: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let tender = &mut self.tenders[ti];
        let mut bids = std::mem::take(&mut tender.bids);
        let (customer, budget, ahead) = (tender.customer, tender.budget, tender.ahead_of.is_some());
        let terms = Terms {
            tender: ti as u32,
            customer: customer as u32,
            deadline: tender.deadline,
            training: tender.training,
        };
        let cust = &self.s.customers[customer];
        let regime = &self.policy.regimes[self.regime];
        let mandate = cust.domestic_mandate.max(regime.domestic_mandate.for_kind(self.customers[customer].kind));
        let discouraged = self.customers[customer].award_stream.random::<f64>() < regime.foreign_purchase_discouraged;
        let foreign_cap = if discouraged { 0.0 } else { budget * (1.0 - mandate) };
        if discouraged {
            bids.retain(|b| self.firms[b.firm].domestic);
        }
        let mut lists = std::mem::take(&mut self.scratch.award);
        let AwardLists { shares, domestic, caps, alloc, members, weights, room, filled, work } = &mut lists;
        nested_logit_into(&bids, |b| self.firms[b.firm].domestic, cust.noise_scale, cust.nest_scale, shares);
        domestic.clear();
        domestic.extend(bids.iter().map(|b| self.firms[b.firm].domestic));
        // Budget per nest (domestic, foreign), with the mandate.
        let mut nest_share = [0.0; 2];
        for (d, s) in domestic.iter().zip(shares.iter()) {
            nest_share[usize::from(!d)] += s;
        }
        if domestic.iter().any(|&d| d) && nest_share[0] < mandate {
            nest_share = [mandate, 1.0 - mandate];
        }
        caps.clear();
        caps.extend(bids.iter().map(|b| (b.deliverable as f64 * b.price).min(cust.max_vendor_share * budget)));
        alloc.clear();
        alloc.resize(bids.len(), 0.0);
        let mut foreign_room = foreign_cap;
        let mut fill = |nest: usize, amount: f64, alloc: &mut [f64]| -> f64 {
            let amount = if nest == 1 { amount.min(foreign_room) } else { amount };
            if amount <= 0.0 {
                return 0.0;
            }
            members.clear();
            members.extend((0..bids.len()).filter(|&i| usize::from(!domestic[i]) == nest));
            if members.is_empty() {
                return 0.0;
            }
            weights.clear();
            weights.extend(members.iter().map(|&i| shares[i].max(1e-300)));
            room.clear();
            room.extend(members.iter().map(|&i| (caps[i] - alloc[i]).max(0.0)));
            SupplyNetwork::water_fill_into(amount, weights, room, filled, work);
            let mut used = 0.0;
            for (m, &i) in members.iter().enumerate() {
                alloc[i] += filled[m];
                used += filled[m];
            }
            if nest == 1 {
                foreign_room -= used;
            }
            used
        };
        // Each nest fills its own budget; what one cannot place goes to the other.
        let left_domestic = budget * nest_share[0] - fill(0, budget * nest_share[0], alloc);
        let left_foreign = budget * nest_share[1] - fill(1, budget * nest_share[1], alloc);
        fill(1, left_domestic, alloc);
        fill(0, left_foreign, alloc);
        let mut awarded = false;
        let mut paid = 0.0;
        // Deadline events of consecutive contracts, scheduled together (see sign_contract).
        let mut deadlines = DeadlineRun::default();
        for (i, bid) in bids.iter().enumerate() {
            let units = whole(lists.alloc[i] / bid.price).min(bid.deliverable);
            if units == 0 {
                continue;
            }
            awarded = true;
            paid += units as f64 * bid.price;
            self.firms[bid.firm].q.wins += 1;
            self.sign_contract(&terms, bid, units, now, queue, &mut deadlines);
        }
        deadlines.schedule(queue);
        self.scratch.award = lists;
        bids.clear();
        // Kept for the next tenders, up to a few: a burst of re-tenders closing together
        // (a ban cancelling a large backlog) would otherwise leave its lists held to the end.
        if self.scratch.spare_bids.len() < SPARE_BID_LISTS {
            self.scratch.spare_bids.push(bids);
        }
        if awarded {
            self.flows.tenders_awarded += 1;
        }
        let unspent = (budget - paid).max(0.0);
        let t = years(now.ticks());
        self.flows.unfilled_pflops += unspent / self.usd_per_pflops(t);
        let carry = if ahead { 1.0 } else { self.s.demand.unfilled_carry_share };
        self.customers[customer].carry_usd += unspent * carry;
    }

    /// Sign contract number `contracts.len()` for `units` of `bid` on the `terms` of its
    /// tender.
    ///
    /// Its deadline event joins `deadlines`, the run of consecutive contracts of this award
    /// signed since the last event scheduled; a contract that needs a licence schedules
    /// that run, its own deadline and its licence decision, in that order. Every contract of
    /// a tender has the same deadline and nothing else is scheduled between two signings,
    /// so the queue fires them exactly as one event per contract would, with half the
    /// entries (the queue holds a deadline for every contract in its delivery window).
    pub(super) fn sign_contract(
        &mut self,
        terms: &Terms,
        bid: &Bid,
        units: u64,
        now: SimTime,
        queue: &mut EventQueue<Event>,
        deadlines: &mut DeadlineRun,
    ) {
        let id = self.contracts.len() as u32;
        let regime = &self.policy.regimes[self.regime];
        let needs_licence = !self.firms[bid.firm].domestic && regime.license_required;
        let deadline = terms.deadline.saturating_add(u64::from(self.s.demand.grace_days) * TICKS_PER_DAY);
        // The deadline event is never cancelled: if the contract closes first, it finds
        // the contract closed and does nothing.
        if deadline < self.end {
            deadlines.add(id, deadline.ticks() - now.ticks());
            if needs_licence {
                deadlines.schedule(queue);
            }
        }
        let mut contract = Contract {
            tender: terms.tender,
            customer: terms.customer,
            // Positions fit in u32 (events carry them so too).
            firm: bid.firm as u32,
            chip: bid.chip as u32,
            awarded: tick32(now),
            closed_status: Contract::new_flags(
                if needs_licence { ContractStatus::PendingLicence } else { ContractStatus::Active },
                terms.training,
            ),
            units,
            unit_price: bid.price,
            delivered: 0,
        };
        if needs_licence {
            self.contracts.push(contract);
            let delay = u64::from(regime.license_delay_days) * TICKS_PER_DAY;
            queue.schedule_in(delay, Event::Licence(id).priority(), Event::Licence(id));
        } else {
            contract.set_in_backlog(true);
            self.contracts.push(contract);
            self.queue_contract(id as usize, bid.firm, bid.chip, units);
        }
        self.trace(now, "award", |m: &Market| {
            format!(
                "{} {} {} {}",
                id,
                m.s.customers[m.contracts[id as usize].customer()].id,
                m.s.firms[bid.firm].id,
                m.chips[bid.chip].id
            )
        });
    }

    /// An active contract joins its firm's backlog queue.
    pub(super) fn enter_backlog(&mut self, contract: usize) {
        let c = &mut self.contracts[contract];
        c.set_in_backlog(true);
        let (fi, ci, remaining) = (c.firm(), c.chip(), c.remaining());
        self.queue_contract(contract, fi, ci, remaining);
    }

    /// Contract `contract` (of firm `fi` for chip `ci`, owing `remaining` units, marked as
    /// in the backlog) joins the firm's backlog queue.
    fn queue_contract(&mut self, contract: usize, fi: usize, ci: usize, remaining: u64) {
        self.revive(ci);
        let f = &mut self.firms[fi];
        f.backlog.push(contract as u32);
        f.backlog_units += remaining;
        let chip = &mut self.chips[ci];
        chip.backlog += remaining;
        chip.queued += 1;
        chip.queued_active += 1;
    }

    /// Close a contract. One still in its firm's backlog queue stays there, closed, until
    /// the next delivery pass removes it (a delivered one is removed by that pass itself).
    pub(super) fn close_contract(&mut self, contract: usize, status: ContractStatus, now: SimTime) {
        let was_active = self.contracts[contract].status() == ContractStatus::Active;
        let c = &mut self.contracts[contract];
        c.close(status, now);
        if was_active {
            let remaining = c.remaining();
            self.firms[c.firm()].backlog_units -= remaining;
            self.chips[c.chip()].backlog -= remaining;
            if c.in_backlog() {
                self.firms[c.firm()].stale += 1;
                self.chips[c.chip()].queued_active -= 1;
            }
        }
    }

    pub(super) fn on_licence(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        // A contract no longer kept was closed (a deadline came first): nothing to decide.
        if self.contracts.get(contract).is_none_or(|c| c.status() != ContractStatus::PendingLicence) {
            return;
        }
        let (fi, ci) = (self.contracts[contract].firm(), self.contracts[contract].chip());
        // Decided under the rules in force now, not those at award.
        let regime = &self.policy.regimes[self.regime];
        let allowed = self.chips[ci].allowed[self.regime];
        let draw: f64 = self.firms[fi].licence_stream.random();
        let approved = allowed && (!regime.license_required || draw < regime.license_approval_prob);
        self.trace(now, "licence_decision", |_: &Market| {
            format!("{} {}", contract, if approved { "approved" } else { "denied" })
        });
        if approved {
            self.contracts[contract].set_status(ContractStatus::Active);
            self.enter_backlog(contract);
        } else {
            self.close_contract(contract, ContractStatus::LicenceDenied, now);
            self.retender(contract, now, queue);
        }
    }

    /// The deadlines of contracts `first .. first + count`, in order.
    pub(super) fn on_deadlines(&mut self, first: u32, count: u32, now: SimTime, queue: &mut EventQueue<Event>) {
        for c in first..first.saturating_add(count) {
            self.on_deadline(c as usize, now, queue);
        }
    }

    fn on_deadline(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        // Deadline events are never cancelled: most find their contract delivered, and
        // often no longer kept (a dropped contract is closed), and do nothing.
        if self.contracts.get(contract).is_none_or(|c| !c.open() || c.remaining() == 0) {
            return;
        }
        self.close_contract(contract, ContractStatus::Cut, now);
        self.retender(contract, now, queue);
    }
}

/// What every contract of one award takes from its tender.
pub(super) struct Terms {
    tender: u32,
    customer: u32,
    deadline: SimTime,
    training: bool,
}

/// Consecutive contracts whose deadline events are not scheduled yet (all at `delay`).
#[derive(Debug, Default)]
pub(super) struct DeadlineRun {
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

/// Nested-logit choice probabilities of `bids` with logit scale `mu` and nest parameter
/// `lambda` in (0, 1], nesting by `nest_of` (two nests). Within nest k:
/// `P(i | k) = exp(V_i / (mu lambda)) / sum_j exp(V_j / (mu lambda))`; the nest's inclusive
/// value is `IV_k = mu lambda ln sum_j exp(V_j / (mu lambda))` and
/// `P(k) = exp(IV_k / mu) / sum_m exp(IV_m / mu)`. Computed in log space, so extreme
/// utilities never overflow. Probabilities add up to 1 (empty input: empty output).
#[cfg(test)]
pub(crate) fn nested_logit<T>(items: &[T], nest_of: impl Fn(&T) -> bool, mu: f64, lambda: f64) -> Vec<f64>
where
    T: HasUtility,
{
    let mut out = Vec::new();
    nested_logit_into(items, nest_of, mu, lambda, &mut out);
    out
}

/// [`nested_logit`] into `out` (a list the caller reuses).
pub(crate) fn nested_logit_into<T>(items: &[T], nest_of: impl Fn(&T) -> bool, mu: f64, lambda: f64, out: &mut Vec<f64>)
where
    T: HasUtility,
{
    let scale = mu * lambda;
    let mut iv = [f64::NEG_INFINITY; 2];
    for (k, slot) in iv.iter_mut().enumerate() {
        let nest = k == 0;
        let max = items.iter().filter(|b| nest_of(b) == nest).map(|b| b.utility()).fold(f64::NEG_INFINITY, f64::max);
        if max.is_finite() {
            let sum: f64 =
                items.iter().filter(|b| nest_of(b) == nest).map(|b| ((b.utility() - max) / scale).exp()).sum();
            *slot = max + scale * sum.ln();
        }
    }
    let top = iv[0].max(iv[1]);
    let nest_p = iv.map(|v| if v.is_finite() { ((v - top) / mu).exp() } else { 0.0 });
    let nest_total: f64 = nest_p.iter().sum();
    out.clear();
    out.extend(items.iter().map(|b| {
        let k = usize::from(!nest_of(b));
        if nest_total <= 0.0 {
            return 0.0;
        }
        nest_p[k] / nest_total * ((b.utility() - iv[k]) / scale).exp()
    }));
}

/// Something with a utility (a bid).
pub(crate) trait HasUtility {
    /// The deterministic utility.
    fn utility(&self) -> f64;
}

impl HasUtility for Bid {
    fn utility(&self) -> f64 {
        self.utility
    }
}
