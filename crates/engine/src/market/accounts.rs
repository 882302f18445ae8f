//! Quarterly accounts: R&D, costs, win rates, margins, ecosystem, rows and performance gaps (`docs/model.md`).

use super::*;

impl Market<'_> {
    /// Per-chip performance gaps, measured in TPP (the export-control measure: the best
    /// dense rate over all formats times its bit length, so FP8 and FP4 count): best
    /// foreign chip launched anywhere, and best foreign chip sellable in China under the
    /// regime in force, each over the best domestic chip on sale. `None` when there is
    /// no such foreign chip, or no domestic chip on sale.
    pub(super) fn perf_gaps(&self, now: SimTime) -> (Option<f64>, Option<f64>) {
        let mut frontier_foreign: f64 = 0.0;
        let mut sellable_foreign: f64 = 0.0;
        let mut best_domestic: f64 = 0.0;
        for c in &self.chips {
            if !c.launched {
                continue;
            }
            if self.firms[c.firm].domestic {
                if c.on_sale(now) {
                    best_domestic = best_domestic.max(c.tpp);
                }
            } else {
                frontier_foreign = frontier_foreign.max(c.tpp);
                if c.on_sale(now) && c.allowed[self.regime] {
                    sellable_foreign = sellable_foreign.max(c.tpp);
                }
            }
        }
        if best_domestic <= 0.0 {
            return (None, None);
        }
        let ratio = |foreign: f64| (foreign > 0.0).then(|| foreign / best_domestic);
        (ratio(frontier_foreign), ratio(sellable_foreign))
    }

    pub(super) fn on_quarter_end(&mut self, now: SimTime, queue: &mut EventQueue<Event>) {
        self.close_quarter(now);
        let next = self.cal.tick_of(self.quarter.next().first_day()).min(self.end);
        if next > now && next < self.end {
            queue.schedule_in(next.ticks() - now.ticks(), Event::QuarterEnd.priority(), Event::QuarterEnd);
        }
    }

    /// Close the books of the quarter from `quarter_start` to `now`.
    pub(super) fn close_quarter(&mut self, now: SimTime) {
        if now <= self.quarter_start {
            return;
        }
        let s = self.s;
        let span_years = years(now.ticks() - self.quarter_start.ticks());
        let m = &s.market;
        let total_pflops: f64 = self.firms.iter().map(|f| f.q.pflops).sum();
        let total_revenue: f64 = self.firms.iter().map(|f| f.q.revenue).sum();
        let total_installed: f64 = self.firms.iter().map(|f| f.installed_pflops).sum();
        let depreciation = (span_years / s.demand.depreciation_years).min(1.0);
        for fi in 0..self.firms.len() {
            let sf = &s.firms[fi];
            let f = &mut self.firms[fi];
            // R&D: a share of revenue with a floor while cash lasts; a quarter of that, no
            // floor, once cash runs out.
            let by_revenue = sf.rd_intensity * f.q.revenue;
            let rd = if f.cash > 0.0 { by_revenue.max(f.rd_floor * span_years) } else { 0.25 * by_revenue };
            f.q.rd = rd;
            f.q.fixed = sf.fixed_costs_usd_per_year * span_years;
            f.cash -= rd + f.q.fixed;
            if f.cash > 0.0 {
                f.capacity_per_quarter *= (1.0 + sf.capacity_growth_per_year).powf(span_years);
            }
            if f.q.bids > 0 {
                let rate = f64::from(f.q.wins) / f64::from(f.q.bids);
                f.win_rate = m.win_rate_smoothing * rate + (1.0 - m.win_rate_smoothing) * f.win_rate;
            }
            let pressure = (f.win_rate / m.reference_win_rate).min(1.0);
            f.margin = sf.margin_floor + (sf.gross_margin_target - sf.margin_floor) * pressure;
            // Ecosystem: pulled up by installed-base share and R&D, with diminishing returns.
            let share = if total_installed > 0.0 { f.installed_pflops / total_installed } else { 0.0 };
            let rd_year = rd / span_years.max(1e-9);
            let pull = m.ecosystem_share_rate * share
                + m.ecosystem_rd_rate * rd_year / (rd_year + m.ecosystem_rd_half_usd_per_year);
            let scale = span_years * 4.0;
            f.ecosystem = (f.ecosystem
                + scale * (pull * (1.0 - f.ecosystem) - m.ecosystem_decay_per_year / 4.0 * f.ecosystem))
                .clamp(0.0, 1.0);
            f.installed_pflops *= 1.0 - depreciation;
            f.revenue_history.push_back(f.q.revenue);
            if f.revenue_history.len() > 8 {
                f.revenue_history.pop_front();
            }
            f.rd_history.push_back(rd);
            if f.rd_history.len() > 4 {
                f.rd_history.pop_front();
            }
        }
        let gaps = self.perf_gaps(now);
        let t0 = years(self.quarter_start.ticks());
        let t1 = years(now.ticks());
        let demand = self.demand.between(t0, t1);
        let domestic: f64 = self.firms.iter().filter(|f| f.domestic).map(|f| f.q.pflops).sum();
        let quarter = self.quarter;
        let best: Vec<Option<usize>> = (0..self.firms.len()).map(|fi| self.best_on_sale(fi, now)).collect();
        let rows = kpi::QuarterInput {
            quarter,
            regime: self.regime,
            demand,
            total_pflops,
            domestic_pflops: domestic,
            gaps,
            tenders_opened: self.flows.tenders_opened,
            tenders_awarded: self.flows.tenders_awarded,
            unfilled_pflops: self.flows.unfilled_pflops,
            export_fees: self.flows.export_fees,
            cancelled_backlog: self.flows.cancelled_backlog,
            writeoff: self.flows.writeoff,
        };
        self.kpi.record_quarter(&rows, self.firms.iter().map(|f| (f.q.pflops, f.domestic)));
        if self.options.record_rows {
            self.sync_chip_names();
            for (fi, f) in self.firms.iter().enumerate() {
                self.sink.firm_quarter(
                    &self.catalog,
                    &crate::observe::FirmQuarter {
                        quarter,
                        firm: fi,
                        units_shipped: f.q.units,
                        units_produced: f.q.produced,
                        compute_shipped_pflops: f.q.pflops,
                        revenue_usd: f.q.revenue,
                        compute_share: (total_pflops > 0.0).then(|| f.q.pflops / total_pflops),
                        revenue_share: (total_revenue > 0.0).then(|| f.q.revenue / total_revenue),
                        backlog_units: f.backlog_units,
                        capacity_units: f.q.capacity_units,
                        best_chip: best[fi],
                        best_chip_tflops: best[fi].map(|c| self.chips[c].tflops),
                        ecosystem: f.ecosystem,
                        rd_spend_usd: f.q.rd,
                        cash_usd: f.cash,
                        cogs_usd: f.q.cogs,
                        export_fees_usd: f.q.fees,
                        fixed_costs_usd: f.q.fixed,
                        funding_usd: f.q.funding,
                        inventory_units: f
                            .chips
                            .iter()
                            .map(|&c| self.chips[c].inventory + self.chips[c].pipeline)
                            .sum(),
                        inventory_writeoff_usd: f.q.writeoff,
                    },
                );
            }
            self.sink.market_quarter(&self.catalog, &rows.to_row());
            for (ci, c) in self.chips.iter().enumerate() {
                if c.q.units > 0 {
                    self.sink.chip_quarter(
                        &self.catalog,
                        &crate::observe::ChipQuarter {
                            quarter,
                            firm: c.firm,
                            chip: ci,
                            units_shipped: c.q.units,
                            compute_shipped_pflops: c.q.pflops,
                            revenue_usd: c.q.revenue,
                        },
                    );
                }
            }
        }
        for f in &mut self.firms {
            f.q = FirmFlows::default();
        }
        for c in &mut self.chips {
            c.q = ChipFlows::default();
        }
        self.flows = MarketFlows::default();
        self.quarter = self.quarter.next();
        self.quarter_start = now;
    }
}
