//! Every file and folder name the commands write, in one place (`docs/outputs.md` describes
//! each). Code names files only through these constants (chart names are made in
//! `report::charts` from the KPIs and parameters they draw).

// A run folder (`chipmarket run`).
/// The scenario with every default filled in (what reruns the same results).
pub const SCENARIO_RESOLVED: &str = "scenario.resolved.toml";
/// One row per replication: its seed and every KPI.
pub const SUMMARY: &str = "summary.csv";
/// Per replication, quarter and firm.
pub const FIRMS_QUARTERLY: &str = "firms_quarterly.csv";
/// Per replication and quarter: the market.
pub const MARKET_QUARTERLY: &str = "market_quarterly.csv";
/// Per replication, quarter and chip.
pub const CHIPS_QUARTERLY: &str = "chips_quarterly.csv";
/// Every contract, once final.
pub const CONTRACTS: &str = "contracts.csv";
/// The event trace (`--trace`).
pub const EVENTS: &str = "events.csv";
/// `--replications auto`: where each precision KPI stands.
pub const PRECISION: &str = "precision.csv";
/// Statistics of the market by quarter and year.
pub const MARKET_SUMMARY: &str = "market_summary.csv";
/// Statistics per firm by quarter and year.
pub const FIRMS_SUMMARY: &str = "firms_summary.csv";
/// Compute shares, one column per firm.
pub const SHARES_WIDE: &str = "shares_wide.csv";
/// Performance gaps, wide.
pub const GAPS_WIDE: &str = "gaps_wide.csv";
/// The workbook (`--xlsx`).
pub const RESULTS_XLSX: &str = "results.xlsx";
/// `chipmarket compare`: each target against the run.
pub const FIT: &str = "fit.csv";

// A sweep folder (`chipmarket sweep`, `chipmarket merge`).
/// The sweep with every default filled in and its base inline.
pub const SWEEP_RESOLVED: &str = "sweep.resolved.toml";
/// One row per point x replication.
pub const RUNS: &str = "runs.csv";
/// Per point and KPI, statistics over the replications.
pub const POINTS: &str = "points.csv";
/// The runs that failed, with their error (only if some did).
pub const FAILURES: &str = "failures.csv";
/// Which slice of the sweep a shard folder holds (only with `--shard`).
pub const SHARD: &str = "shard.toml";
/// Each run's full files (only with `--keep-runs`).
pub const RUN_DIRS: &str = "runs";
/// One row per point, the KPI means side by side.
pub const POINTS_WIDE: &str = "points_wide.csv";
/// `chipmarket analyze`: the indices per KPI and parameter.
pub const SENSITIVITY: &str = "sensitivity.csv";
/// `chipmarket analyze --discover`: the PRIM peeling trajectory and the pasted box.
pub const BOXES: &str = "boxes.csv";

// A calibration folder (`chipmarket calibrate`).
/// The calibrated scenario layer.
pub const CALIBRATED: &str = "calibrated.toml";
/// Every evaluation of the search.
pub const TRACE: &str = "trace.csv";

// A comparison folder (`chipmarket diff`, the `comparison/` of a multi-scenario `run`).
/// The comparison folder inside the `--out` of a multi-scenario `run`.
pub const COMPARISON: &str = "comparison";
/// What was compared (the folder's marker).
pub const COMPARISON_TOML: &str = "comparison.toml";
/// Paired differences by quarter.
pub const DIFF_QUARTERLY: &str = "diff_quarterly.csv";
/// Paired differences by year.
pub const DIFF_YEARLY: &str = "diff_yearly.csv";
/// Paired differences of the `summary.csv` KPIs.
pub const DIFF_KPIS: &str = "diff_kpis.csv";

// Every folder.
/// The page of a folder.
pub const REPORT: &str = "report.html";
/// Charts go here, inside the folder.
pub const CHARTS: &str = "charts";
/// What made the folder, when and how.
pub const MANIFEST: &str = "manifest.json";
