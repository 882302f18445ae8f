//! Technology and funding: roadmap launches, R&D-driven next generations, funding events.
//!
//! The time to a next generation is Gamma-distributed around a mean set by R&D spend (clamped
//! to a quarter and four times `cycle_years`), and never shorter than
//! [`MIN_GENERATION_GAP_YEARS`], so no parameter or R&D budget can make generations pile up.

use super::*;

/// Shortest time between two generations of one firm [years]: one month. A Gamma draw can be
/// close to zero; without a floor a short cycle means a generation every tick.
pub(crate) const MIN_GENERATION_GAP_YEARS: f64 = 1.0 / 12.0;

impl Market<'_> {
    pub(super) fn on_launch(&mut self, ci: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        self.mark_launched(ci);
        let fi = self.chips[ci].firm;
        self.trace(now, "chip_launch", |m: &Market| m.chips[ci].id.clone());
        if ci == self.firms[fi].last_roadmap_chip && self.s.firms[fi].next_gen.is_some() {
            self.schedule_next_gen(fi, now, queue);
        }
    }

    /// R&D spend over the last four quarters [USD/year] (the floor before any history).
    pub(super) fn rd_annual(&self, fi: usize) -> f64 {
        let h = &self.firms[fi].rd_history;
        if h.is_empty() {
            self.firms[fi].rd_floor
        } else {
            h.iter().sum::<f64>() * 4.0 / h.len() as f64
        }
    }

    pub(super) fn schedule_next_gen(&mut self, fi: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(ng) = &self.s.firms[fi].next_gen else { return };
        let spend = self.rd_annual(fi).max(1.0);
        let mean = (ng.cycle_years * (ng.rd_reference_usd_per_year / spend).powf(ng.rd_elasticity))
            .clamp(ng.cycle_years / 4.0, ng.cycle_years * 4.0);
        let delay =
            Gamma::new(ng.cycle_shape, mean / ng.cycle_shape).map_or(mean, |g| g.sample(&mut self.firms[fi].rd_stream));
        let delay = if delay.is_finite() { delay.max(MIN_GENERATION_GAP_YEARS) } else { mean };
        let at = now.saturating_add(ticks_of_years(delay));
        if at < self.end {
            queue.schedule_in(
                at.ticks() - now.ticks(),
                Event::NextGen(fi as u32).priority(),
                Event::NextGen(fi as u32),
            );
        }
    }

    pub(super) fn on_next_gen(&mut self, fi: usize, now: SimTime, queue: &mut EventQueue<Event>) {
        let Some(ng) = self.s.firms[fi].next_gen.clone() else { return };
        let Some(&prev) =
            self.firms[fi].chips.iter().max_by(|&&a, &&b| self.chips[a].tflops.total_cmp(&self.chips[b].tflops))
        else {
            return;
        };
        let gain = LogNormal::new(ng.gain_median.ln(), ng.gain_sigma)
            .map_or(ng.gain_median, |d| d.sample(&mut self.firms[fi].rd_stream));
        let cap = ng.max_tflops.unwrap_or(f64::INFINITY).min(self.supply.node_cap(fi));
        let base = self.chips[prev].clone();
        let tflops = (base.tflops * gain).min(cap).max(base.tflops);
        self.firms[fi].generation += 1;
        let f = &self.s.firms[fi];
        let unit_cost = base.unit_cost * ng.cost_growth;
        let id = format!("{}_gen{}", f.id, self.firms[fi].generation);
        self.trace(now, "next_generation", |_: &Market| format!("{} {}", f.id, id));
        let ci = self.chips.len();
        self.chips.push(
            ChipState {
                id,
                firm: fi,
                tflops,
                tpp: tflops * 16.0,
                unit_cost,
                list_price: unit_cost / (1.0 - f.gross_margin_target),
                hbm_stacks: base.hbm_stacks,
                dies_per_wafer: base.dies_per_wafer,
                launch: now,
                // Memory and bandwidth grow with the square root of the compute gain (an
                // assumption: memory has scaled slower than compute); power stays.
                memory_gb: base.memory_gb * (tflops / base.tflops).sqrt(),
                bandwidth_tbps: base.bandwidth_tbps * (tflops / base.tflops).sqrt(),
                tdp_w: base.tdp_w,
                foundries: base.foundries.clone(),
                ..ChipState::default()
            }
            .ready(&self.policy),
        );
        self.firms[fi].chips.push(ci);
        self.firms[fi].live.push(ci);
        self.mark_launched(ci);
        let sunset = now.saturating_add(u64::from(self.s.market.supersede_quarters) * (TICKS_PER_YEAR / 4.0) as u64);
        let old = &mut self.chips[prev];
        old.end_of_sale = Some(old.end_of_sale.map_or(sunset, |e| e.min(sunset)));
        self.schedule_next_gen(fi, now, queue);
    }

    pub(super) fn on_funding(&mut self, fi: usize, ei: usize, now: SimTime) {
        let ev = &self.s.firms[fi].funding[ei];
        let f = &mut self.firms[fi];
        let raised = match ev.kind {
            crate::scenario::FundingKind::Ipo => {
                let h = &f.revenue_history;
                let n = h.len();
                let trailing: f64 = h.iter().skip(n.saturating_sub(4)).sum();
                let before: f64 = h.iter().skip(n.saturating_sub(8)).take(n.saturating_sub(4).min(4)).sum();
                let growth = if before > 0.0 { trailing / before - 1.0 } else { 0.0 };
                let multiple = (ev.ev_sales_multiple + ev.ev_sales_growth_premium * growth).max(0.0);
                let valuation = multiple * trailing;
                f.ipo_valuation = Some(valuation);
                ev.float_share * valuation
            }
            _ => ev.amount_usd,
        };
        f.cash += raised;
        f.q.funding += raised;
        if let Some(floor) = ev.rd_floor_usd_per_year {
            f.rd_floor = floor;
        }
        if let Some(k) = ev.capacity_multiplier {
            f.capacity_per_quarter *= k;
            self.supply.scale_firm_weights(fi, k);
        }
        self.trace(now, "funding", |m: &Market| format!("{} {}", m.s.firms[fi].id, ev.id));
    }
}
