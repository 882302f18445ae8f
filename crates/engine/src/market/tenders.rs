//! Demand becomes tenders: Poisson arrivals per customer, lognormal budgets, unspent budget
//! carried forward, re-tenders, and orders placed ahead of an announced restriction
//! (`docs/model.md`).

use super::*;

impl Market<'_> {
    pub(super) fn draw_interarrival(&mut self, ci: usize) -> u64 {
        let rate = self.customers[ci].rate_per_year;
        let u: f64 = self.customers[ci].tender_stream.random::<f64>();
        ticks_of_years(-(1.0 - u).ln() / rate)
    }

    /// What buyers budget per PFLOPS of demand at `t` years [USD].
    pub(super) fn usd_per_pflops(&self, t: f64) -> f64 {
        let d = &self.s.demand;
        d.usd_per_pflops * (1.0 + d.usd_per_pflops_change_per_year).powf(t)
    }

    /// National budget for new accelerators per year at `t` [USD/year].
    pub(super) fn budget_rate(&self, t: f64) -> f64 {
        self.demand.rate(t) * self.usd_per_pflops(t)
    }

    #[allow(clippy::too_many_arguments)] // one call site per way a tender opens; a struct would only rename them
    pub(super) fn open_tender(
        &mut self,
        customer: usize,
        budget: f64,
        training: bool,
        deadline: Option<SimTime>,
        ahead_of: Option<usize>,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let t = years(now.ticks());
        let min_tflops = if training { self.demand.training_min_tflops(t) } else { 0.0 };
        let d = &self.s.demand;
        let min_memory_gb = if training {
            0.0
        } else {
            d.inference_min_memory_gb * (1.0 + d.inference_min_memory_growth_per_year).powf(t)
        };
        let close = now.saturating_add(u64::from(self.s.demand.bid_window_days) * TICKS_PER_DAY);
        let deadline = deadline
            .unwrap_or_else(|| close.saturating_add(u64::from(self.s.demand.delivery_days) * TICKS_PER_DAY))
            .max(close);
        let id = self.tenders.len() as u32;
        self.tenders.push(Tender {
            customer,
            budget,
            training,
            min_tflops,
            min_memory_gb,
            deadline,
            ahead_of,
            bids: Vec::new(),
        });
        if self.options.record_rows {
            self.sink.tender(u64::from(id), budget);
        }
        self.flows.tenders_opened += 1;
        self.trace(now, "tender_opened", |m: &Market| format!("{} {}", id, m.s.customers[customer].id));
        if close >= self.end {
            return;
        }
        // Bids of all firms, then the award (a later priority, so every tender closing at
        // this tick has its bids in before any is awarded).
        queue.schedule_in(close.ticks() - now.ticks(), Event::Bids(id).priority(), Event::Bids(id));
        queue.schedule_in(close.ticks() - now.ticks(), Event::Award(id).priority(), Event::Award(id));
    }

    pub(super) fn on_tender_arrival(&mut self, ci: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let t = years(now.ticks());
        let budget_rate = self.budget_rate(t);
        let inference = self.demand.inference_share(t);
        let c = &mut self.customers[ci];
        let share = self.s.customers[ci].demand_share;
        let sigma = self.s.demand.tender_size_sigma;
        let mean = share * budget_rate / c.rate_per_year;
        // Lognormal with mean 1, so that expected spend follows the S-curve.
        let factor = LogNormal::new(-0.5 * sigma * sigma, sigma).map_or(1.0, |d| d.sample(&mut c.tender_stream));
        let training = c.tender_stream.random::<f64>() >= inference;
        // Unspent budget comes back; orders placed ahead of a restriction are taken out.
        let budget = mean * factor + std::mem::take(&mut c.carry_usd);
        if budget > 0.0 {
            self.open_tender(ci, budget, training, None, None, now, queue);
        } else {
            c.carry_usd = budget;
        }
        let dt = self.draw_interarrival(ci);
        queue.schedule_in(dt, Event::TenderArrival(ci as u32).priority(), Event::TenderArrival(ci as u32));
    }

    /// Re-tender what a contract will no longer deliver, at its value.
    pub(super) fn retender(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let c = &self.contracts[contract];
        let budget = c.remaining() as f64 * c.unit_price;
        let (customer, training) = (c.customer(), c.training());
        if budget > 0.0 {
            self.open_tender(customer, budget, training, None, None, now, queue);
        }
    }

    /// A restriction is announced: every customer brings forward `pull_forward_quarters` of
    /// its demand (its next tenders shrink by as much), open only to foreign chips allowed now that the coming regime
    /// forbids, for delivery before it takes force.
    pub(super) fn on_announce(&mut self, entry: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let e = &self.s.policy.schedule[entry];
        let Some(coming) = self.policy.names.iter().position(|n| *n == e.regime) else { return };
        let effective = self.cal.tick_of(e.date);
        let affected =
            self.chips.iter().any(|c| !self.firms[c.firm].domestic && c.allowed[self.regime] && !c.allowed[coming]);
        self.trace(now, "announcement", |m: &Market| m.policy.names[coming].clone());
        let quarters = self.s.market.pull_forward_quarters;
        if !affected || quarters <= 0.0 {
            return;
        }
        let t = years(now.ticks());
        let national = self.budget_rate(t) * quarters / 4.0;
        let inference = self.demand.inference_share(t);
        for ci in 0..self.customers.len() {
            let budget = national * self.s.customers[ci].demand_share;
            // Brought forward, not added: later tenders of the customer are smaller by as much.
            self.customers[ci].carry_usd -= budget;
            // Split like ordinary demand, training first.
            for (training, part) in [(true, 1.0 - inference), (false, inference)] {
                if budget * part > 0.0 {
                    self.open_tender(ci, budget * part, training, Some(effective), Some(coming), now, queue);
                }
            }
        }
    }
}
