//! Demand becomes tenders: Poisson arrivals per customer, lognormal sizes, re-tenders (DESIGN.md 3.2).

use super::*;

impl Market<'_> {
    pub(super) fn draw_interarrival(&mut self, ci: usize) -> u64 {
        let rate = self.customers[ci].rate_per_year;
        let u: f64 = self.customers[ci].tender_stream.random::<f64>();
        ticks_of_years(-(1.0 - u).ln() / rate)
    }

    pub(super) fn open_tender(
        &mut self,
        customer: usize,
        pflops: f64,
        training: bool,
        now: SimTime,
        queue: &mut EventQueue<Event>,
    ) {
        let t = years(now.ticks());
        let min_tflops = if training { self.demand.training_min_tflops(t) } else { 0.0 };
        let close = now.saturating_add(u64::from(self.s.demand.bid_window_days) * TICKS_PER_DAY);
        let deadline = close.saturating_add(u64::from(self.s.demand.delivery_days) * TICKS_PER_DAY);
        let id = self.tenders.len() as u32;
        self.tenders.push(Tender { customer, pflops, min_tflops, deadline, bids: Vec::new() });
        if self.options.record_rows {
            self.sink.tender(u64::from(id), pflops);
        }
        self.flows.tenders_opened += 1;
        self.trace(now, "tender_opened", |m: &Market| format!("{} {}", id, m.s.customers[customer].id));
        if close >= self.end {
            return;
        }
        for fi in 0..self.firms.len() {
            let ev = Event::Bid(id, fi as u32);
            queue.schedule_in(close.ticks() - now.ticks(), ev.priority(), ev);
        }
        queue.schedule_in(close.ticks() - now.ticks(), Event::Award(id).priority(), Event::Award(id));
    }

    pub(super) fn on_tender_arrival(&mut self, ci: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let t = years(now.ticks());
        let c = &mut self.customers[ci];
        let share = self.s.customers[ci].demand_share;
        let sigma = self.s.demand.tender_size_sigma;
        let mean = share * self.demand.rate(t) / c.rate_per_year;
        // Lognormal with mean 1, so that expected volume follows the S-curve.
        let factor = LogNormal::new(-0.5 * sigma * sigma, sigma).map_or(1.0, |d| d.sample(&mut c.tender_stream));
        let training = c.tender_stream.random::<f64>() >= self.demand.inference_share(t);
        self.open_tender(ci, mean * factor, training, now, queue);
        let dt = self.draw_interarrival(ci);
        queue.schedule_in(dt, Event::TenderArrival(ci as u32).priority(), Event::TenderArrival(ci as u32));
    }

    /// Re-tender compute that a contract will no longer deliver.
    pub(super) fn retender(&mut self, contract: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let c = &self.contracts[contract];
        let pflops = c.remaining() as f64 * c.pflops_per_unit;
        let (customer, training) = (c.customer, c.training);
        if pflops > 0.0 {
            self.open_tender(customer, pflops, training, now, queue);
        }
    }
}
