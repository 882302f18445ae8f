//! Rows to CSV bytes, one function per output file of DESIGN.md section 6.
//!
//! Pure: each function takes reports and returns bytes, so tests can check the text.
//! Numbers are written with Rust's shortest round-trip formatting (full precision, no
//! thousands separators); a missing value is an empty cell.

use chipmarket_engine::observe::RunReport;

/// A number as written in every CSV: shortest text that reads back to the same value.
pub fn num(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        format!("{x}")
    }
}

/// An optional number: empty when absent.
pub fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, num)
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner().unwrap_or_default()
}

/// Write records; the csv writer only fails on I/O, which a Vec never does.
fn rows<I, R>(header: &[&str], records: I) -> Vec<u8>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut w = writer();
    let _ = w.write_record(header);
    for r in records {
        let _ = w.write_record(r);
    }
    finish(w)
}

/// `firms_quarterly.csv`.
pub fn firms_quarterly(reports: &[RunReport]) -> Vec<u8> {
    let header = [
        "replication",
        "quarter",
        "firm",
        "units_shipped",
        "compute_shipped_pflops",
        "revenue_usd",
        "compute_share",
        "revenue_share",
        "backlog_units",
        "capacity_units",
        "best_chip",
        "best_chip_tflops",
        "ecosystem",
        "rd_spend_usd",
        "cash_usd",
        "inventory_units",
        "inventory_writeoff_usd",
    ];
    let records = reports.iter().flat_map(|r| {
        r.firms.iter().map(move |f| {
            vec![
                r.replication.to_string(),
                f.quarter.to_string(),
                r.firm_ids[f.firm].clone(),
                f.units_shipped.to_string(),
                num(f.compute_shipped_pflops),
                num(f.revenue_usd),
                num(f.compute_share),
                num(f.revenue_share),
                f.backlog_units.to_string(),
                num(f.capacity_units),
                f.best_chip.map_or_else(String::new, |c| r.chip_ids[c].clone()),
                num(f.best_chip_tflops),
                num(f.ecosystem),
                num(f.rd_spend_usd),
                num(f.cash_usd),
                f.inventory_units.to_string(),
                num(f.inventory_writeoff_usd),
            ]
        })
    });
    rows(&header, records)
}

/// `market_quarterly.csv`.
pub fn market_quarterly(reports: &[RunReport]) -> Vec<u8> {
    let header = [
        "replication",
        "quarter",
        "regime",
        "demand_pflops",
        "delivered_pflops",
        "domestic_compute_share",
        "foreign_compute_share",
        "perf_gap_frontier",
        "perf_gap_sellable",
        "tenders_opened",
        "tenders_awarded",
        "unfilled_pflops",
        "export_fees_usd",
        "cancelled_backlog_usd",
        "inventory_writeoff_usd",
    ];
    let records = reports.iter().flat_map(|r| {
        r.market.iter().map(move |m| {
            vec![
                r.replication.to_string(),
                m.quarter.to_string(),
                r.regime_names[m.regime].clone(),
                num(m.demand_pflops),
                num(m.delivered_pflops),
                num(m.domestic_compute_share),
                num(m.foreign_compute_share),
                opt(m.perf_gap_frontier),
                opt(m.perf_gap_sellable),
                m.tenders_opened.to_string(),
                m.tenders_awarded.to_string(),
                num(m.unfilled_pflops),
                num(m.export_fees_usd),
                num(m.cancelled_backlog_usd),
                num(m.inventory_writeoff_usd),
            ]
        })
    });
    rows(&header, records)
}

/// `chips_quarterly.csv`: deliveries by chip (only chips that delivered in the quarter).
pub fn chips_quarterly(reports: &[RunReport]) -> Vec<u8> {
    let header = ["replication", "quarter", "firm", "chip", "units_shipped", "compute_shipped_pflops", "revenue_usd"];
    let records = reports.iter().flat_map(|r| {
        r.chips.iter().map(move |c| {
            vec![
                r.replication.to_string(),
                c.quarter.to_string(),
                r.firm_ids[c.firm].clone(),
                r.chip_ids[c.chip].clone(),
                c.units_shipped.to_string(),
                num(c.compute_shipped_pflops),
                num(c.revenue_usd),
            ]
        })
    });
    rows(&header, records)
}

/// `contracts.csv`.
pub fn contracts(reports: &[RunReport]) -> Vec<u8> {
    let header = [
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
    let records = reports.iter().flat_map(|r| {
        r.contracts.iter().map(move |c| {
            vec![
                r.replication.to_string(),
                c.contract.to_string(),
                c.tender.to_string(),
                r.customer_ids[c.customer].clone(),
                r.firm_ids[c.firm].clone(),
                r.chip_ids[c.chip].clone(),
                c.awarded_on.to_string(),
                c.units.to_string(),
                num(c.compute_pflops),
                num(c.value_usd),
                c.delivered_units.to_string(),
                c.status.as_str().to_string(),
                c.closed_on.map_or_else(String::new, |d| d.to_string()),
            ]
        })
    });
    rows(&header, records)
}

/// The header of `summary.csv`: replication, seed, then the KPI names.
pub fn summary_header(report: &RunReport) -> Vec<String> {
    let mut header = vec!["replication".to_string(), "seed".to_string()];
    header.extend(report.summary.kpis.iter().map(|(k, _)| k.clone()));
    header
}

/// The KPI cells of one report, in header order.
pub fn kpi_cells(report: &RunReport) -> Vec<String> {
    report.summary.kpis.iter().map(|(_, v)| opt(*v)).collect()
}

/// `summary.csv`.
pub fn summary(reports: &[RunReport]) -> Vec<u8> {
    let Some(first) = reports.first() else { return Vec::new() };
    let header = summary_header(first);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let records = reports.iter().map(|r| {
        let mut row = vec![r.replication.to_string(), r.seed.to_string()];
        row.extend(kpi_cells(r));
        row
    });
    rows(&header, records)
}

/// `events.csv`: replication, time, kind, ids.
pub fn events(reports: &[RunReport]) -> Vec<u8> {
    let header = ["replication", "time", "kind", "ids"];
    let records = reports.iter().flat_map(|r| {
        r.events
            .iter()
            .map(move |e| vec![r.replication.to_string(), e.time.to_string(), e.kind.to_string(), e.ids.clone()])
    });
    rows(&header, records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_full_precision_without_separators() {
        assert_eq!(num(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(num(1234567.0), "1234567");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.0), "0");
        assert_eq!(opt(None), "");
        let back: f64 = num(1.0 / 3.0).parse().unwrap();
        assert_eq!(back, 1.0 / 3.0);
    }
}
