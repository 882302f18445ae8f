//! Quarterly market rows and the per-replication KPIs of `summary.csv`.
//!
//! The tracker keeps only what the KPIs need (last four quarters per firm, yearly
//! domestic and total compute, running sums), so a sweep that records no rows still gets
//! its summary in constant memory per run.

use std::collections::{BTreeMap, VecDeque};

use crate::calendar::Quarter;
use crate::observe::{MarketQuarter, Summary};
use crate::scenario::{FundingKind, Scenario};

/// The market-wide figures of one closed quarter.
pub(super) struct QuarterInput {
    pub quarter: Quarter,
    pub regime: usize,
    pub demand: f64,
    pub total_pflops: f64,
    pub domestic_pflops: f64,
    pub gaps: (Option<f64>, Option<f64>),
    pub tenders_opened: u64,
    pub tenders_awarded: u64,
    pub unfilled_pflops: f64,
    pub export_fees: f64,
    pub cancelled_backlog: f64,
    pub writeoff: f64,
}

impl QuarterInput {
    pub fn to_row(&self) -> MarketQuarter {
        let (domestic, foreign) = if self.total_pflops > 0.0 {
            let d = self.domestic_pflops / self.total_pflops;
            (Some(d), Some(1.0 - d))
        } else {
            (None, None)
        };
        MarketQuarter {
            quarter: self.quarter,
            regime: self.regime,
            demand_pflops: self.demand,
            delivered_pflops: self.total_pflops,
            domestic_compute_share: domestic,
            foreign_compute_share: foreign,
            perf_gap_frontier: self.gaps.0,
            perf_gap_sellable: self.gaps.1,
            tenders_opened: self.tenders_opened,
            tenders_awarded: self.tenders_awarded,
            unfilled_pflops: self.unfilled_pflops,
            export_fees_usd: self.export_fees,
            cancelled_backlog_usd: self.cancelled_backlog,
            inventory_writeoff_usd: self.writeoff,
        }
    }
}

/// Final state of a firm, for the summary.
pub(super) struct FirmFinal {
    pub cumulative_revenue: f64,
    pub ecosystem: f64,
    pub cash: f64,
    /// Dense BF16 TFLOPS of its best chip on sale, if any.
    pub best_tflops: Option<f64>,
    pub ipo_valuation: Option<f64>,
    /// Revenue of the last four closed quarters [USD].
    pub trailing_revenue: f64,
}

/// Running sums for the KPIs.
#[derive(Debug)]
pub(super) struct Tracker {
    /// Per firm: compute delivered in the last four quarters.
    last_year: Vec<VecDeque<f64>>,
    /// Per calendar year: (domestic, total) compute delivered.
    by_year: BTreeMap<i32, (f64, f64)>,
    delivered: f64,
    unfilled: f64,
    fees: f64,
    cancelled: f64,
    demand: f64,
}

impl Tracker {
    pub fn new(s: &Scenario) -> Tracker {
        Tracker {
            last_year: vec![VecDeque::with_capacity(5); s.firms.len()],
            by_year: BTreeMap::new(),
            delivered: 0.0,
            unfilled: 0.0,
            fees: 0.0,
            cancelled: 0.0,
            demand: 0.0,
        }
    }

    /// Record a closed quarter; `firms` yields (compute delivered, is domestic) per firm.
    pub fn record_quarter(&mut self, q: &QuarterInput, firms: impl Iterator<Item = (f64, bool)>) {
        for (fi, (pflops, _)) in firms.enumerate() {
            let h = &mut self.last_year[fi];
            h.push_back(pflops);
            if h.len() > 4 {
                h.pop_front();
            }
        }
        let year = self.by_year.entry(q.quarter.year).or_insert((0.0, 0.0));
        year.0 += q.domestic_pflops;
        year.1 += q.total_pflops;
        self.delivered += q.total_pflops;
        self.unfilled += q.unfilled_pflops;
        self.fees += q.export_fees;
        self.cancelled += q.cancelled_backlog;
        self.demand += q.demand;
    }

    /// The KPIs, in a fixed column order: per firm (scenario order), then the market.
    pub fn summary(&self, s: &Scenario, firms: &[FirmFinal], gaps: (Option<f64>, Option<f64>)) -> Summary {
        let mut kpis = Vec::new();
        let last_total: f64 = self.last_year.iter().map(|h| h.iter().sum::<f64>()).sum();
        for (fi, f) in s.firms.iter().enumerate() {
            let id = &f.id;
            let mine: f64 = self.last_year[fi].iter().sum();
            let share = (last_total > 0.0).then(|| mine / last_total);
            kpis.push((format!("{id}_final_year_compute_share"), share));
            kpis.push((format!("{id}_cumulative_revenue_usd"), Some(firms[fi].cumulative_revenue)));
            kpis.push((format!("{id}_final_ecosystem"), Some(firms[fi].ecosystem)));
            kpis.push((format!("{id}_final_cash_usd"), Some(firms[fi].cash)));
            kpis.push((format!("{id}_final_best_chip_tflops"), firms[fi].best_tflops));
            let implied = s.market.ev_sales_multiple * firms[fi].trailing_revenue;
            kpis.push((format!("{id}_implied_valuation_usd"), Some(implied)));
            if f.funding.iter().any(|e| e.kind == FundingKind::Ipo) {
                kpis.push((format!("{id}_ipo_valuation_usd"), firms[fi].ipo_valuation));
            }
        }
        let domestic_last: f64 = self
            .last_year
            .iter()
            .zip(&s.firms)
            .filter(|(_, f)| f.origin == crate::scenario::Origin::Domestic)
            .map(|(h, _)| h.iter().sum::<f64>())
            .sum();
        let first_half = self.by_year.iter().find(|(_, (d, t))| *t > 0.0 && d / t > 0.5).map(|(y, _)| f64::from(*y));
        kpis.push((
            "market_final_year_domestic_compute_share".to_string(),
            (last_total > 0.0).then(|| domestic_last / last_total),
        ));
        kpis.push(("market_domestic_share_first_above_50pct_year".to_string(), first_half));
        kpis.push(("market_final_perf_gap_frontier".to_string(), gaps.0));
        kpis.push(("market_final_perf_gap_sellable".to_string(), gaps.1));
        kpis.push(("market_cumulative_demand_pflops".to_string(), Some(self.demand)));
        kpis.push(("market_cumulative_delivered_pflops".to_string(), Some(self.delivered)));
        kpis.push(("market_cumulative_unfilled_pflops".to_string(), Some(self.unfilled)));
        kpis.push(("market_cumulative_export_fees_usd".to_string(), Some(self.fees)));
        kpis.push(("market_cumulative_cancelled_backlog_usd".to_string(), Some(self.cancelled)));
        Summary { kpis }
    }
}
