//! Bids and awards: eligibility, prices, the multinomial-logit choice, contracts, licences and deadlines (DESIGN.md 3.3).

use super::*;

impl Market<'_> {
    /// The best chip firm `fi` may offer now with at least `min_tflops`, if any.
    pub(super) fn best_eligible(&self, fi: usize, min_tflops: f64, now: SimTime) -> Option<usize> {
        let foreign = !self.firms[fi].domestic;
        self.firms[fi]
            .chips
            .iter()
            .copied()
            .filter(|&ci| {
                let c = &self.chips[ci];
                c.on_sale(now)
                    && c.tflops >= min_tflops
                    && (!foreign || self.policy.allows_foreign(self.regime, &c.id, c.tpp))
            })
            .max_by(|&a, &b| self.chips[a].tflops.total_cmp(&self.chips[b].tflops))
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

    pub(super) fn on_bid(&mut self, ti: usize, fi: usize, now: SimTime) {
        let tender = &self.tenders[ti];
        let Some(ci) = self.best_eligible(fi, tender.min_tflops, now) else { return };
        let firm = &self.firms[fi];
        let chip = &self.chips[ci];
        // Units the firm can make before the deadline beyond what it already owes.
        let ticks_left = tender.deadline.ticks().saturating_sub(now.ticks());
        let per_tick = self.capacity_units_per_quarter(fi, false) / (TICKS_PER_YEAR / 4.0);
        let can_make = (per_tick * ticks_left as f64 + firm.carry_units).floor() as u64;
        let deliverable = can_make.saturating_sub(firm.backlog_units);
        if deliverable == 0 {
            return;
        }
        let regime = &self.policy.regimes[self.regime];
        let cust = &self.s.customers[tender.customer];
        let w = &cust.weights;
        let ask = self.ask_price(fi, ci);
        let (price, cost_to_customer, risk) = if firm.domestic {
            (ask, ask * (1.0 - regime.domestic_subsidy), self.s.firms[fi].supply_risk)
        } else {
            let price = ask / (1.0 - regime.export_fee);
            let licence_risk = if regime.license_required { 1.0 - regime.license_approval_prob } else { 0.0 };
            (price, price, (self.s.firms[fi].supply_risk + licence_risk).min(1.0))
        };
        let pflops = chip.tflops / 1000.0;
        let base = -w.price * (cost_to_customer / pflops).ln()
            + w.performance * chip.tflops.ln()
            + w.ecosystem * firm.ecosystem
            + w.relationship * self.customers[tender.customer].relationship[fi]
            - w.supply_risk * risk;
        let noise = Gumbel::new(0.0, cust.noise_scale)
            .map_or(0.0, |g| g.sample(&mut self.customers[tender.customer].award_stream));
        self.firms[fi].q.bids += 1;
        self.tenders[ti].bids.push(Bid { firm: fi, chip: ci, price, deliverable, utility: base + noise });
    }

    pub(super) fn on_award(&mut self, ti: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let mut bids = std::mem::take(&mut self.tenders[ti].bids);
        let customer = self.tenders[ti].customer;
        let volume = self.tenders[ti].pflops;
        let cust = &self.s.customers[customer];
        let regime = &self.policy.regimes[self.regime];
        let mandate = cust.domestic_mandate.max(regime.domestic_mandate.for_kind(self.customers[customer].kind));
        let discouraged = self.customers[customer].award_stream.random::<f64>() < regime.foreign_purchase_discouraged;
        let mut foreign_budget = if discouraged { 0.0 } else { volume * (1.0 - mandate) };
        // Best utility first; ties go to the lower firm index (stable sort).
        bids.sort_by(|a, b| b.utility.total_cmp(&a.utility));
        let mut remaining = volume;
        let mut awarded = false;
        for bid in &bids {
            if remaining <= 0.0 {
                break;
            }
            let pflops_per_unit = self.chips[bid.chip].tflops / 1000.0;
            let foreign = !self.firms[bid.firm].domestic;
            let mut cap = remaining.min(cust.max_vendor_share * volume);
            if foreign {
                cap = cap.min(foreign_budget);
            }
            let units = ((cap / pflops_per_unit).floor() as u64).min(bid.deliverable);
            if units == 0 {
                continue;
            }
            let pflops = units as f64 * pflops_per_unit;
            remaining -= pflops;
            if foreign {
                foreign_budget -= pflops;
            }
            awarded = true;
            self.firms[bid.firm].q.wins += 1;
            self.sign_contract(ti, bid, units, pflops_per_unit, now, queue);
        }
        if awarded {
            self.flows.tenders_awarded += 1;
        }
        self.flows.unfilled_pflops += remaining.max(0.0);
        bids.clear();
        self.tenders[ti].bids = bids;
    }

    pub(super) fn sign_contract(
        &mut self,
        ti: usize,
        bid: &Bid,
        units: u64,
        pflops_per_unit: f64,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let id = self.contracts.len() as u32;
        let regime = &self.policy.regimes[self.regime];
        let needs_licence = !self.firms[bid.firm].domestic && regime.license_required;
        let deadline = self.tenders[ti].deadline.saturating_add(u64::from(self.s.demand.grace_days) * TICKS_PER_DAY);
        // The deadline event is never cancelled: if the contract closes first, it finds
        // the contract closed and does nothing.
        if deadline < self.end {
            queue.schedule_in(deadline.ticks() - now.ticks(), Event::Deadline(id).priority(), Event::Deadline(id));
        }
        self.contracts.push(Contract {
            tender: ti as u32,
            customer: self.tenders[ti].customer,
            firm: bid.firm,
            chip: bid.chip,
            awarded: now,
            units,
            pflops_per_unit,
            unit_price: bid.price,
            delivered: 0,
            status: if needs_licence { ContractStatus::PendingLicence } else { ContractStatus::Active },
            closed: None,
            training: self.tenders[ti].min_tflops > 0.0,
        });
        if needs_licence {
            let delay = u64::from(regime.license_delay_days) * TICKS_PER_DAY;
            queue.schedule_in(delay, Event::Licence(id).priority(), Event::Licence(id));
        } else {
            self.enter_backlog(id as usize);
        }
        self.trace(now, "award", |m: &Market| {
            format!(
                "{} {} {} {}",
                id, m.s.customers[m.contracts[id as usize].customer].id, m.s.firms[bid.firm].id, m.chips[bid.chip].id
            )
        });
    }

    pub(super) fn enter_backlog(&mut self, contract: usize) {
        let c = &self.contracts[contract];
        let f = &mut self.firms[c.firm];
        f.backlog.push_back(contract as u32);
        f.backlog_units += c.remaining();
    }

    pub(super) fn close_contract(&mut self, contract: usize, status: ContractStatus, now: SimTime) {
        let was_active = self.contracts[contract].status == ContractStatus::Active;
        let c = &mut self.contracts[contract];
        c.status = status;
        c.closed = Some(now);
        if was_active {
            let remaining = c.remaining();
            self.firms[c.firm].backlog_units -= remaining;
        }
    }

    pub(super) fn on_licence(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        if self.contracts[contract].status != ContractStatus::PendingLicence {
            return;
        }
        let (fi, ci) = (self.contracts[contract].firm, self.contracts[contract].chip);
        // Decided under the rules in force now, not those at award.
        let regime = &self.policy.regimes[self.regime];
        let allowed = self.policy.allows_foreign(self.regime, &self.chips[ci].id, self.chips[ci].tpp);
        let draw: f64 = self.firms[fi].licence_stream.random();
        let approved = allowed && (!regime.license_required || draw < regime.license_approval_prob);
        self.trace(now, "licence_decision", |_: &Market| {
            format!("{} {}", contract, if approved { "approved" } else { "denied" })
        });
        if approved {
            self.contracts[contract].status = ContractStatus::Active;
            self.enter_backlog(contract);
        } else {
            self.close_contract(contract, ContractStatus::LicenceDenied, now);
            self.retender(contract, now, queue);
        }
    }

    pub(super) fn on_deadline(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        if !self.contracts[contract].open() || self.contracts[contract].remaining() == 0 {
            return;
        }
        self.close_contract(contract, ContractStatus::Cut, now);
        self.retender(contract, now, queue);
    }
}
