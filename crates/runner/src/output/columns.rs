//! Output columns, one module per output file: every column name is spelled here once, and the
//! CSV headers, the summaries, the charts, the report, the workbook and the dictionary test
//! all read these constants.
//!
//! Each module is named after its file (whose name is in `output::names`) and has `HEADER` (the
//! columns in file order); a row
//! struct's field names must equal its `HEADER` (a test in `output::csv` serializes one row of
//! each). The report reads a run's quarterly files through [`firms::REPORTED`] and
//! [`market::REPORTED`]: a folder whose file lacks one of them is refused with the file and the
//! column named, so a renamed column is an error, never an empty chart.

/// `firms_quarterly.csv`: one row per replication, quarter and firm.
pub mod firms {
    /// Replication index.
    pub const REPLICATION: &str = "replication";
    /// Quarter, `2026Q1`.
    pub const QUARTER: &str = "quarter";
    /// Firm id.
    pub const FIRM: &str = "firm";
    /// Units delivered in the quarter.
    pub const UNITS_SHIPPED: &str = "units_shipped";
    /// Compute delivered, BF16 PFLOPS.
    pub const COMPUTE_SHIPPED_PFLOPS: &str = "compute_shipped_pflops";
    /// Revenue recognised at delivery.
    pub const REVENUE_USD: &str = "revenue_usd";
    /// Share of the quarter's compute delivered.
    pub const COMPUTE_SHARE: &str = "compute_share";
    /// Share of the quarter's revenue.
    pub const REVENUE_SHARE: &str = "revenue_share";
    /// Units owed at quarter end.
    pub const BACKLOG_UNITS: &str = "backlog_units";
    /// Units the firm could make in the quarter.
    pub const CAPACITY_UNITS: &str = "capacity_units";
    /// Best chip on sale.
    pub const BEST_CHIP: &str = "best_chip";
    /// Its TFLOPS.
    pub const BEST_CHIP_TFLOPS: &str = "best_chip_tflops";
    /// Software ecosystem index.
    pub const ECOSYSTEM: &str = "ecosystem";
    /// R&D spent in the quarter.
    pub const RD_SPEND_USD: &str = "rd_spend_usd";
    /// Cash at quarter end.
    pub const CASH_USD: &str = "cash_usd";
    /// Finished units held at quarter end.
    pub const INVENTORY_UNITS: &str = "inventory_units";
    /// Inventory written off in the quarter.
    pub const INVENTORY_WRITEOFF_USD: &str = "inventory_writeoff_usd";
    /// The columns in file order.
    pub const HEADER: [&str; 17] = [
        REPLICATION,
        QUARTER,
        FIRM,
        UNITS_SHIPPED,
        COMPUTE_SHIPPED_PFLOPS,
        REVENUE_USD,
        COMPUTE_SHARE,
        REVENUE_SHARE,
        BACKLOG_UNITS,
        CAPACITY_UNITS,
        BEST_CHIP,
        BEST_CHIP_TFLOPS,
        ECOSYSTEM,
        RD_SPEND_USD,
        CASH_USD,
        INVENTORY_UNITS,
        INVENTORY_WRITEOFF_USD,
    ];
    /// The columns the report, charts and workbook read.
    pub const REPORTED: [&str; 4] = [COMPUTE_SHIPPED_PFLOPS, REVENUE_USD, COMPUTE_SHARE, UNITS_SHIPPED];
}

/// `market_quarterly.csv`: one row per replication and quarter.
pub mod market {
    /// Replication index.
    pub const REPLICATION: &str = "replication";
    /// Quarter, `2026Q1`.
    pub const QUARTER: &str = "quarter";
    /// Regime in force at quarter end.
    pub const REGIME: &str = "regime";
    /// Compute demanded (tendered), BF16 PFLOPS.
    pub const DEMAND_PFLOPS: &str = "demand_pflops";
    /// Compute delivered.
    pub const DELIVERED_PFLOPS: &str = "delivered_pflops";
    /// Domestic vendors' share of compute delivered.
    pub const DOMESTIC_COMPUTE_SHARE: &str = "domestic_compute_share";
    /// Foreign vendors' share.
    pub const FOREIGN_COMPUTE_SHARE: &str = "foreign_compute_share";
    /// Best US chip over best domestic chip (TPP ratio).
    pub const PERF_GAP_FRONTIER: &str = "perf_gap_frontier";
    /// Best US chip sellable in China over best domestic chip.
    pub const PERF_GAP_SELLABLE: &str = "perf_gap_sellable";
    /// Tenders opened in the quarter.
    pub const TENDERS_OPENED: &str = "tenders_opened";
    /// Tenders awarded.
    pub const TENDERS_AWARDED: &str = "tenders_awarded";
    /// Compute tendered but not awarded.
    pub const UNFILLED_PFLOPS: &str = "unfilled_pflops";
    /// Export fees paid.
    pub const EXPORT_FEES_USD: &str = "export_fees_usd";
    /// Backlog value cancelled.
    pub const CANCELLED_BACKLOG_USD: &str = "cancelled_backlog_usd";
    /// Inventory written off.
    pub const INVENTORY_WRITEOFF_USD: &str = "inventory_writeoff_usd";
    /// The columns in file order.
    pub const HEADER: [&str; 15] = [
        REPLICATION,
        QUARTER,
        REGIME,
        DEMAND_PFLOPS,
        DELIVERED_PFLOPS,
        DOMESTIC_COMPUTE_SHARE,
        FOREIGN_COMPUTE_SHARE,
        PERF_GAP_FRONTIER,
        PERF_GAP_SELLABLE,
        TENDERS_OPENED,
        TENDERS_AWARDED,
        UNFILLED_PFLOPS,
        EXPORT_FEES_USD,
        CANCELLED_BACKLOG_USD,
        INVENTORY_WRITEOFF_USD,
    ];
    /// The columns the report, charts and workbook read.
    pub const REPORTED: [&str; 6] = [
        DEMAND_PFLOPS,
        DELIVERED_PFLOPS,
        DOMESTIC_COMPUTE_SHARE,
        PERF_GAP_FRONTIER,
        PERF_GAP_SELLABLE,
        EXPORT_FEES_USD,
    ];
    /// The performance gaps, as `gaps_wide.csv` and the gap chart show them.
    pub const GAPS: [&str; 2] = [PERF_GAP_FRONTIER, PERF_GAP_SELLABLE];
}

/// `chips_quarterly.csv`: one row per replication, quarter and chip.
pub mod chips {
    /// The columns in file order.
    pub const HEADER: [&str; 7] =
        ["replication", "quarter", "firm", "chip", "units_shipped", "compute_shipped_pflops", "revenue_usd"];
}

/// `contracts.csv`: one row per contract.
pub mod contracts {
    /// The columns in file order.
    pub const HEADER: [&str; 13] = [
        "replication",
        "contract",
        "tender",
        "customer",
        "firm",
        "chip",
        "awarded_on",
        "units",
        "compute_pflops",
        "value_usd",
        "delivered_units",
        "status",
        "closed_on",
    ];
}

/// `events.csv`: the trace (`--trace`).
pub mod events {
    /// The columns in file order.
    pub const HEADER: [&str; 4] = ["replication", "time", "kind", "ids"];
}

/// `summary.csv`: one row per replication, the KPIs after the key columns.
pub mod summary {
    /// Replication index.
    pub const REPLICATION: &str = "replication";
    /// The scenario's seed.
    pub const SEED: &str = "seed";
    /// The key columns before the KPIs.
    pub const KEYS: [&str; 2] = [REPLICATION, SEED];
}

/// The statistics over replications that every summary writes, in order.
pub const STATS: [&str; 6] = ["mean", "sd", "p05", "p50", "p95", "n"];

/// `market_summary.csv`: statistics of each market variable by quarter and year.
pub mod market_summary {
    /// The columns in file order.
    pub const HEADER: [&str; 10] =
        ["period_kind", "period", "year", "variable", "mean", "sd", "p05", "p50", "p95", "n"];
}

/// `firms_summary.csv`: statistics of each firm variable by quarter and year.
pub mod firms_summary {
    /// The columns in file order.
    pub const HEADER: [&str; 11] =
        ["period_kind", "period", "year", "firm", "variable", "mean", "sd", "p05", "p50", "p95", "n"];
}

/// `shares_wide.csv`: `quarter`, then one column per firm and the domestic total.
pub mod shares_wide {
    /// The first column.
    pub const QUARTER: &str = "quarter";
}

/// `gaps_wide.csv`: `quarter`, then `<gap>_<stat>` for each gap.
pub mod gaps_wide {
    /// The first column.
    pub const QUARTER: &str = "quarter";
    /// The statistics of each gap, in order.
    pub const STATS: [&str; 5] = ["mean", "p05", "p50", "p95", "n"];
}

/// `points.csv` (sweeps): one row per point and KPI.
pub mod points {
    /// The first column.
    pub const POINT: &str = "point";
    /// The KPI column, after the parameters.
    pub const KPI: &str = "kpi";
}

/// `points_wide.csv` (sweeps): one row per point.
pub mod points_wide {}

/// `diff_quarterly.csv`, `diff_yearly.csv` and `diff_kpis.csv` (`chipmarket diff`).
pub mod diff {
    /// The statistics columns after the keys.
    const STATS: [&str; 8] =
        ["n", "base_mean", "other_mean", "diff_mean", "diff_sd", "diff_p05", "diff_p50", "diff_p95"];
    /// `diff_quarterly.csv` and `diff_yearly.csv`.
    pub const HEADER: [&str; 12] = [
        "scenario", "variable", "firm", "period", STATS[0], STATS[1], STATS[2], STATS[3], STATS[4], STATS[5], STATS[6],
        STATS[7],
    ];
    /// `diff_kpis.csv`.
    pub const KPI_HEADER: [&str; 10] =
        ["scenario", "kpi", STATS[0], STATS[1], STATS[2], STATS[3], STATS[4], STATS[5], STATS[6], STATS[7]];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column of the files with a fixed header has a row in its `docs/outputs.md` section.
    #[test]
    fn every_fixed_column_is_in_the_dictionary() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/outputs.md")).unwrap();
        use crate::output::names;
        let files: [(&str, &[&str]); 9] = [
            (names::DIFF_YEARLY, &diff::HEADER),
            (names::DIFF_KPIS, &diff::KPI_HEADER),
            (names::FIRMS_QUARTERLY, &firms::HEADER),
            (names::MARKET_QUARTERLY, &market::HEADER),
            (names::CHIPS_QUARTERLY, &chips::HEADER),
            (names::CONTRACTS, &contracts::HEADER),
            (names::EVENTS, &events::HEADER),
            (names::MARKET_SUMMARY, &market_summary::HEADER),
            (names::FIRMS_SUMMARY, &firms_summary::HEADER),
        ];
        for (file, header) in files {
            let start = doc.find(&format!("### `{file}`")).unwrap_or_else(|| panic!("no section for {file}"));
            let section = &doc[start..];
            let end = section[4..].find("\n#").map_or(section.len(), |e| e + 4);
            let documented: Vec<&str> = section[..end]
                .lines()
                .filter_map(|l| l.strip_prefix("| `"))
                .filter_map(|l| l.split('`').next())
                .collect();
            assert_eq!(documented, header, "{file}: docs/outputs.md lists its columns in file order");
        }
        for col in firms::REPORTED {
            assert!(firms::HEADER.contains(&col), "{col}");
        }
        for col in market::REPORTED.iter().chain(&market::GAPS) {
            assert!(market::HEADER.contains(col), "{col}");
        }
    }
}
