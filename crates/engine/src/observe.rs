//! What a run gives back: typed rows for each output file and the per-replication KPIs.
//!
//! API Boundary: the model hands every row to a [`Sink`] as it happens (quarter rows when a
//! quarter closes, a contract's row once it is final, events as they fire, the KPIs at the
//! end), so a caller that writes rows out keeps no more than it wants to. [`RunReport`] is
//! the sink that keeps everything (what [`crate::run`] returns, and what the tests read).
//! Rows name firms, customers, chips and regimes by their position in the [`Catalog`], so
//! the hot path never allocates strings; the runner turns them into CSV.
//!
//! Order guarantee: within a replication, quarter rows come quarter by quarter (the firm
//! rows of a quarter, then its market row, then its chip rows), contract rows by contract
//! number, and the summary last.

use crate::calendar::{Date, Quarter};

/// Options of one replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Record quarterly rows and contracts (off in sweeps, which need only the summary).
    pub record_rows: bool,
    /// Record every handled event (`events.csv`).
    pub trace: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { record_rows: true, trace: false }
    }
}

/// The names rows refer to by position, and the run they belong to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    /// Replication number.
    pub replication: u32,
    /// Master seed of the run.
    pub seed: u64,
    /// Firm ids, in scenario order.
    pub firm_ids: Vec<String>,
    /// Customer ids, in scenario order.
    pub customer_ids: Vec<String>,
    /// Chip ids: the roadmap chips in scenario order, then generated generations as they
    /// appear (a row never names a chip the catalogue handed with it does not hold).
    pub chip_ids: Vec<String>,
    /// Regime names.
    pub regime_names: Vec<String>,
}

/// Where a run's rows go, as they happen (see the [module docs](self) for the order).
///
/// Every method has a default that ignores the row, so a sink implements only what it
/// needs. Methods cannot fail: a sink that writes somewhere keeps its first error and
/// reports it when the run is over (the engine does no I/O).
pub trait Sink {
    /// A firm's row of a closed quarter.
    fn firm_quarter(&mut self, _names: &Catalog, _row: &FirmQuarter) {}
    /// The market row of a closed quarter (after its firm rows).
    fn market_quarter(&mut self, _names: &Catalog, _row: &MarketQuarter) {}
    /// A chip's deliveries in a closed quarter (after the market row).
    fn chip_quarter(&mut self, _names: &Catalog, _row: &ChipQuarter) {}
    /// A contract's final row: when the contract closes (in contract order) or, for
    /// contracts still open, at the end of the run.
    fn contract(&mut self, _names: &Catalog, _row: &ContractRow) {}
    /// A traced event (with [`RunOptions::trace`]).
    fn event(&mut self, _names: &Catalog, _row: &EventRow) {}
    /// A tender opened: its number and budget [USD] (for checks; not an output file).
    fn tender(&mut self, _tender: u64, _budget_usd: f64) {}
    /// The end of the run: the KPIs and the number of kernel events processed.
    fn end(&mut self, _names: &Catalog, _summary: Summary, _events_processed: u64) {}
}

/// One row of `firms_quarterly.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct FirmQuarter {
    /// Calendar quarter.
    pub quarter: Quarter,
    /// Firm position in [`RunReport::firm_ids`].
    pub firm: usize,
    /// Accelerators delivered in the quarter.
    pub units_shipped: u64,
    /// Accelerators produced in the quarter (production is to order, so this equals
    /// `units_shipped`; not written to CSV).
    pub units_produced: u64,
    /// Compute delivered [PFLOPS].
    pub compute_shipped_pflops: f64,
    /// Revenue recognised at delivery, before export fees [USD].
    pub revenue_usd: f64,
    /// Share of all compute delivered in the quarter (`None` when nothing was delivered).
    pub compute_share: Option<f64>,
    /// Share of all revenue in the quarter (`None` when there was no revenue).
    pub revenue_share: Option<f64>,
    /// Units awarded and not yet delivered at quarter end.
    pub backlog_units: u64,
    /// Production capacity in the quarter [units].
    pub capacity_units: f64,
    /// Chip position in [`RunReport::chip_ids`] of the best chip on sale, if any.
    pub best_chip: Option<usize>,
    /// Its dense BF16 TFLOPS (`None` if no chip is on sale).
    pub best_chip_tflops: Option<f64>,
    /// Ecosystem maturity at quarter end, in [0, 1].
    pub ecosystem: f64,
    /// R&D spent in the quarter [USD].
    pub rd_spend_usd: f64,
    /// Cash at quarter end [USD].
    pub cash_usd: f64,
    /// Cost of goods delivered [USD] (not written to CSV; for accounting checks).
    pub cogs_usd: f64,
    /// Export fees paid on deliveries [USD] (not written to CSV).
    pub export_fees_usd: f64,
    /// Fixed costs [USD] (not written to CSV).
    pub fixed_costs_usd: f64,
    /// Cash raised by funding events [USD] (not written to CSV).
    pub funding_usd: f64,
    /// Finished and started units not yet delivered, at quarter end.
    pub inventory_units: u64,
    /// Inventory of forbidden chips written off in the quarter, at unit cost [USD].
    pub inventory_writeoff_usd: f64,
}

/// One row of `market_quarterly.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketQuarter {
    /// Calendar quarter.
    pub quarter: Quarter,
    /// Regime position in [`RunReport::regime_names`] in force at quarter end.
    pub regime: usize,
    /// National demand for new compute in the quarter (S-curve plus replacement) [PFLOPS].
    pub demand_pflops: f64,
    /// Compute delivered [PFLOPS].
    pub delivered_pflops: f64,
    /// Domestic firms' share of delivered compute (`None` when nothing was delivered).
    pub domestic_compute_share: Option<f64>,
    /// Foreign firms' share of delivered compute (`None` when nothing was delivered).
    pub foreign_compute_share: Option<f64>,
    /// Best foreign chip launched anywhere over best domestic chip on sale (TPP ratio;
    /// `None` when either does not exist).
    pub perf_gap_frontier: Option<f64>,
    /// Best foreign chip sellable in China over best domestic chip on sale (TPP ratio;
    /// `None` when no foreign chip may be sold or no domestic chip is on sale).
    pub perf_gap_sellable: Option<f64>,
    /// Tenders opened in the quarter (re-tenders included).
    pub tenders_opened: u64,
    /// Tenders that awarded at least one contract.
    pub tenders_awarded: u64,
    /// Tendered compute nobody could supply [PFLOPS].
    pub unfilled_pflops: f64,
    /// Export fees paid to the US government [USD].
    pub export_fees_usd: f64,
    /// Value of foreign backlog cancelled by regime changes [USD].
    pub cancelled_backlog_usd: f64,
    /// Vendors' inventory of forbidden chips written off [USD, at unit cost].
    pub inventory_writeoff_usd: f64,
}

/// One row of `chips_quarterly.csv`: deliveries of one chip in one quarter. Only chips
/// that delivered something in the quarter have a row.
#[derive(Debug, Clone, PartialEq)]
pub struct ChipQuarter {
    /// Calendar quarter.
    pub quarter: Quarter,
    /// Firm position in [`RunReport::firm_ids`].
    pub firm: usize,
    /// Chip position in [`RunReport::chip_ids`].
    pub chip: usize,
    /// Accelerators of this chip delivered in the quarter.
    pub units_shipped: u64,
    /// Compute delivered [PFLOPS].
    pub compute_shipped_pflops: f64,
    /// Revenue recognised at delivery, before export fees [USD].
    pub revenue_usd: f64,
}

/// Final state of a contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractStatus {
    /// Waiting for an export licence.
    PendingLicence,
    /// In the backlog, being delivered.
    Active,
    /// Fully delivered.
    Delivered,
    /// Cut to what was delivered at deadline plus grace; the rest was re-tendered.
    Cut,
    /// Cancelled by a regime change; the rest was re-tendered.
    Cancelled,
    /// The export licence was refused; re-tendered.
    LicenceDenied,
}

impl ContractStatus {
    /// The word written to `contracts.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractStatus::PendingLicence => "pending_licence",
            ContractStatus::Active => "active",
            ContractStatus::Delivered => "delivered",
            ContractStatus::Cut => "cut",
            ContractStatus::Cancelled => "cancelled",
            ContractStatus::LicenceDenied => "licence_denied",
        }
    }
}

/// One row of `contracts.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractRow {
    /// Contract number within the replication.
    pub contract: u64,
    /// Tender number within the replication.
    pub tender: u64,
    /// Customer position in [`RunReport::customer_ids`].
    pub customer: usize,
    /// Firm position.
    pub firm: usize,
    /// Chip position.
    pub chip: usize,
    /// Award date.
    pub awarded_on: Date,
    /// Units awarded.
    pub units: u64,
    /// Compute awarded [PFLOPS].
    pub compute_pflops: f64,
    /// Value of the units awarded at the contract price [USD].
    pub value_usd: f64,
    /// Units delivered.
    pub delivered_units: u64,
    /// Final status.
    pub status: ContractStatus,
    /// When the contract closed, if it did.
    pub closed_on: Option<Date>,
}

/// One row of `events.csv` (with `--trace`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Date of the event.
    pub time: Date,
    /// Event kind (`tender_opened`, `award`, ...).
    pub kind: &'static str,
    /// Ids involved, space-separated.
    pub ids: String,
}

/// The per-replication KPIs of `summary.csv`, in a fixed column order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// `(column name, value)`; `None` is written as an empty cell.
    pub kpis: Vec<(String, Option<f64>)>,
}

/// Everything one replication produced: the sink that keeps every row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunReport {
    /// Replication number.
    pub replication: u32,
    /// Master seed of the run.
    pub seed: u64,
    /// Firm ids, in scenario order.
    pub firm_ids: Vec<String>,
    /// Customer ids, in scenario order.
    pub customer_ids: Vec<String>,
    /// Chip ids: the roadmap chips in scenario order, then generated generations.
    pub chip_ids: Vec<String>,
    /// Regime names.
    pub regime_names: Vec<String>,
    /// `firms_quarterly.csv` rows (quarter-major, firms in scenario order).
    pub firms: Vec<FirmQuarter>,
    /// `market_quarterly.csv` rows.
    pub market: Vec<MarketQuarter>,
    /// `chips_quarterly.csv` rows (quarter-major, chips in catalogue order).
    pub chips: Vec<ChipQuarter>,
    /// `contracts.csv` rows, by contract number.
    pub contracts: Vec<ContractRow>,
    /// `events.csv` rows.
    pub events: Vec<EventRow>,
    /// Budget of each tender [USD], by tender number (not written to CSV; for checks).
    pub tender_budgets_usd: Vec<f64>,
    /// KPIs.
    pub summary: Summary,
    /// Kernel events processed.
    pub events_processed: u64,
}

impl Sink for RunReport {
    fn firm_quarter(&mut self, _names: &Catalog, row: &FirmQuarter) {
        self.firms.push(row.clone());
    }
    fn market_quarter(&mut self, _names: &Catalog, row: &MarketQuarter) {
        self.market.push(row.clone());
    }
    fn chip_quarter(&mut self, _names: &Catalog, row: &ChipQuarter) {
        self.chips.push(row.clone());
    }
    fn contract(&mut self, _names: &Catalog, row: &ContractRow) {
        self.contracts.push(row.clone());
    }
    fn event(&mut self, _names: &Catalog, row: &EventRow) {
        self.events.push(row.clone());
    }
    fn tender(&mut self, _tender: u64, budget_usd: f64) {
        self.tender_budgets_usd.push(budget_usd);
    }
    fn end(&mut self, names: &Catalog, summary: Summary, events_processed: u64) {
        self.replication = names.replication;
        self.seed = names.seed;
        self.firm_ids.clone_from(&names.firm_ids);
        self.customer_ids.clone_from(&names.customer_ids);
        self.chip_ids.clone_from(&names.chip_ids);
        self.regime_names.clone_from(&names.regime_names);
        self.summary = summary;
        self.events_processed = events_processed;
    }
}

impl RunReport {
    /// The catalogue the rows of this report refer to.
    pub fn catalog(&self) -> Catalog {
        Catalog {
            replication: self.replication,
            seed: self.seed,
            firm_ids: self.firm_ids.clone(),
            customer_ids: self.customer_ids.clone(),
            chip_ids: self.chip_ids.clone(),
            regime_names: self.regime_names.clone(),
        }
    }

    /// Hand this report's rows to `sink` in the order a run emits them: quarter by quarter
    /// (firm rows, the market row, chip rows), then contracts and events, then the end.
    /// (A live run interleaves contracts and events with the quarters; each kind keeps its
    /// own order.)
    pub fn replay(&self, sink: &mut dyn Sink) {
        let names = self.catalog();
        let n_firms = self.firm_ids.len();
        let mut chips = self.chips.iter().peekable();
        for (qi, m) in self.market.iter().enumerate() {
            for f in self.firms.iter().skip(qi * n_firms).take(n_firms) {
                sink.firm_quarter(&names, f);
            }
            sink.market_quarter(&names, m);
            while let Some(c) = chips.next_if(|c| c.quarter == m.quarter) {
                sink.chip_quarter(&names, c);
            }
        }
        for (t, &budget) in self.tender_budgets_usd.iter().enumerate() {
            sink.tender(t as u64, budget);
        }
        for c in &self.contracts {
            sink.contract(&names, c);
        }
        for e in &self.events {
            sink.event(&names, e);
        }
        sink.end(&names, self.summary.clone(), self.events_processed);
    }
}
