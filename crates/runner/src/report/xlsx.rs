//! `results.xlsx` (with `--xlsx` or `[output] xlsx = true`): the run's files as one Excel
//! workbook, written with rust_xlsxwriter.
//!
//! Cells are typed, so no locale can misread them: numbers are numbers (shares formatted as
//! percentages, `_usd` columns as money with thousands separators), dates (`awarded_on`,
//! `closed_on`, and a `quarter_start` column beside each quarter of the wide sheets) are real
//! dates. Sheets: `about`, `shares` (with a native stacked-area chart), `gaps` (with a native
//! line chart on a log axis), then one sheet per CSV file: the summaries, `summary`, the
//! quarterly files and `contracts`. A file longer than a sheet (1,048,576 rows with the
//! header) is left out, with a note on its sheet naming the CSV to read instead. Sheets are
//! written in constant-memory mode, row by row from the CSV files, and the document's creation
//! date is fixed, so the workbook depends only on the files.

use std::path::Path;

use anyhow::{Context, Result};
use rust_xlsxwriter::{Chart, ChartType, DocProperties, ExcelDateTime, Format, Workbook, Worksheet};

use crate::output::columns;
use crate::output::csv::rounded;
use crate::output::names;
use crate::report::summaries::RunSummary;
use crate::report::table::Table;
use crate::report::RunMeta;

/// The workbook's file name.
pub const FILE: &str = names::RESULTS_XLSX;

/// Rows a sheet holds, the header row included.
pub const MAX_ROWS: u64 = 1_048_576;

/// The CSV files copied into sheets, in sheet order.
pub const SHEETS: [&str; 7] = [
    names::MARKET_SUMMARY,
    names::FIRMS_SUMMARY,
    names::SUMMARY,
    names::MARKET_QUARTERLY,
    names::FIRMS_QUARTERLY,
    names::CHIPS_QUARTERLY,
    names::CONTRACTS,
];

struct Formats {
    percent: Format,
    money: Format,
    date: Format,
    bold: Format,
}

fn formats() -> Formats {
    Formats {
        percent: Format::new().set_num_format("0.0%"),
        money: Format::new().set_num_format("#,##0"),
        date: Format::new().set_num_format("yyyy-mm-dd"),
        bold: Format::new().set_bold(),
    }
}

fn xerr(e: rust_xlsxwriter::XlsxError) -> anyhow::Error {
    anyhow::anyhow!("failed to write the workbook: {e}")
}

/// A `YYYY-MM-DD` cell as a date.
fn date(cell: &str) -> Option<ExcelDateTime> {
    let b = cell.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = cell[0..4].parse().ok()?;
    let m = cell[5..7].parse().ok()?;
    let d = cell[8..10].parse().ok()?;
    ExcelDateTime::from_ymd(y, m, d).ok()
}

/// The first day of quarter `2026Q3`.
fn quarter_start(q: &str) -> Option<ExcelDateTime> {
    let (y, n) = q.split_once('Q')?;
    let n: u8 = n.parse().ok()?;
    ExcelDateTime::from_ymd(y.parse().ok()?, (n - 1) * 3 + 1, 1).ok()
}

/// How a column of numbers is shown: by its name, or (in the long summaries) by the row's
/// `variable`.
fn number_format<'a>(f: &'a Formats, name: &str) -> Option<&'a Format> {
    if name.contains("share") {
        Some(&f.percent)
    } else if name.ends_with("_usd") {
        Some(&f.money)
    } else {
        None
    }
}

/// Columns of text: their cells are strings whatever they look like (an id `2024` or
/// `1e5` stays the id, not a number or a date).
const TEXT_COLUMNS: [&str; 15] = [
    "firm",
    "chip",
    "best_chip",
    "customer",
    "regime",
    "quarter",
    "period",
    "period_kind",
    "variable",
    "kind",
    "ids",
    "status",
    "scenario",
    "description",
    "domestic vendors",
];

/// Columns of dates (`YYYY-MM-DD` cells become dates).
const DATE_COLUMNS: [&str; 2] = ["awarded_on", "closed_on"];

/// The most characters a cell holds (Excel's limit).
pub const MAX_CELL_CHARS: usize = 32_767;

/// A text cell that fits a sheet: a longer one is cut, with a note saying so.
fn fitted(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.len() <= MAX_CELL_CHARS || cell.chars().count() <= MAX_CELL_CHARS {
        return cell.into();
    }
    let note = " [cut to fit a cell: the whole text is in the CSV or scenario.resolved.toml]";
    let keep: String = cell.chars().take(MAX_CELL_CHARS - note.chars().count()).collect();
    format!("{keep}{note}").into()
}

/// One cell: a number or a date where the column holds them, a string otherwise (text columns
/// always), cut to fit.
fn write_cell(ws: &mut Worksheet, f: &Formats, row: u32, col: u16, cell: &str, kind: &str, column: &str) -> Result<()> {
    if cell.is_empty() {
        return Ok(());
    }
    let text = TEXT_COLUMNS.contains(&column);
    if let Some(x) = cell.parse::<f64>().ok().filter(|x| x.is_finite() && !text) {
        match number_format(f, kind) {
            Some(fmt) => ws.write_number_with_format(row, col, x, fmt),
            None => ws.write_number(row, col, x),
        }
        .map_err(xerr)?;
    } else if let Some(d) = date(cell).filter(|_| DATE_COLUMNS.contains(&column)) {
        ws.write_datetime_with_format(row, col, &d, &f.date).map_err(xerr)?;
    } else {
        ws.write_string(row, col, fitted(cell)).map_err(xerr)?;
    }
    Ok(())
}

/// Count the data rows of a CSV file, streaming.
fn count_rows(dir: &Path, name: &str) -> Result<u64> {
    let mut t = Table::open(dir, name)?;
    let mut record = csv::StringRecord::new();
    let mut n = 0;
    while t.next(&mut record)? {
        n += 1;
    }
    Ok(n)
}

/// Copy a CSV file into a new sheet, or leave a note when it has more than `max_rows` rows
/// (the header included).
fn csv_sheet(wb: &mut Workbook, f: &Formats, dir: &Path, name: &str, max_rows: u64) -> Result<()> {
    let sheet = name.trim_end_matches(".csv");
    if !dir.join(name).is_file() {
        return Ok(());
    }
    let rows = count_rows(dir, name)?;
    let ws = wb.add_worksheet_with_constant_memory();
    ws.set_name(sheet).map_err(xerr)?;
    if rows + 1 > max_rows {
        ws.write_string_with_format(0, 0, format!("{name} is left out of this workbook"), &f.bold).map_err(xerr)?;
        ws.write_string(
            1,
            0,
            format!(
                "It has {rows} rows, more than a sheet holds ({max_rows} rows with the header). Read {name} instead, or run fewer replications."
            ),
        )
        .map_err(xerr)?;
        return Ok(());
    }
    let mut t = Table::open(dir, name)?;
    let header = t.header.clone();
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &f.bold).map_err(xerr)?;
    }
    let var_col = header.iter().position(|h| h == "variable");
    let mut record = csv::StringRecord::new();
    let mut r: u32 = 1;
    while t.next(&mut record)? {
        let variable = var_col.map(|c| record.get(c).unwrap_or("").to_string());
        for (c, cell) in record.iter().enumerate() {
            let kind = match &variable {
                Some(v) if matches!(header[c].as_str(), "mean" | "sd" | "p05" | "p50" | "p95") => v.as_str(),
                _ => header[c].as_str(),
            };
            write_cell(ws, f, r, c as u16, cell, kind, &header[c])?;
        }
        r += 1;
    }
    ws.set_freeze_panes(1, 0).map_err(xerr)?;
    Ok(())
}

/// The workbook of the run folder `dir` (whose summaries `s` are already written there).
pub fn workbook(dir: &Path, meta: &RunMeta, s: &RunSummary) -> Result<Vec<u8>> {
    let f = formats();
    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2000, 1, 1).map_err(xerr)?;
    wb.set_properties(
        &DocProperties::new().set_title(format!("chipmarket: {}", meta.name)).set_creation_datetime(&fixed),
    );

    // about
    let ws = wb.add_worksheet();
    ws.set_name("about").map_err(xerr)?;
    let about = [
        ("scenario", meta.name.clone()),
        ("description", meta.description.clone()),
        ("seed", meta.seed.clone()),
        ("replications", s.replications.to_string()),
        ("domestic vendors", meta.domestic.join(", ")),
        ("columns", "every column is described in the project's docs/outputs.md".to_string()),
    ];
    for (i, (k, v)) in about.iter().enumerate() {
        ws.write_string_with_format(i as u32, 0, *k, &f.bold).map_err(xerr)?;
        write_cell(ws, &f, i as u32, 1, v, k, k)?;
    }
    ws.set_column_width(0, 18).map_err(xerr)?;

    // shares, with a stacked-area chart of the firms (not the domestic total).
    let firms: Vec<String> = s.firms.iter().map(|(f, _)| f.clone()).collect();
    let n = s.quarters.len() as u32;
    {
        let ws = wb.add_worksheet();
        ws.set_name("shares").map_err(xerr)?;
        ws.write_string_with_format(0, 0, "quarter", &f.bold).map_err(xerr)?;
        ws.write_string_with_format(0, 1, "quarter_start", &f.bold).map_err(xerr)?;
        for (j, firm) in firms.iter().enumerate() {
            ws.write_string_with_format(0, 2 + j as u16, firm, &f.bold).map_err(xerr)?;
        }
        for (qi, q) in s.quarters.iter().enumerate() {
            let r = qi as u32 + 1;
            ws.write_string(r, 0, q).map_err(xerr)?;
            if let Some(d) = quarter_start(q) {
                ws.write_datetime_with_format(r, 1, &d, &f.date).map_err(xerr)?;
            }
            for (j, firm) in firms.iter().enumerate() {
                if let Some(x) = s.firm_var(firm, columns::firms::COMPUTE_SHARE).and_then(|v| v.quarterly[qi].mean) {
                    ws.write_number_with_format(r, 2 + j as u16, rounded(x), &f.percent).map_err(xerr)?;
                }
            }
        }
        ws.set_column_width(1, 12).map_err(xerr)?;
        ws.set_freeze_panes(1, 0).map_err(xerr)?;
        let mut chart = Chart::new(ChartType::AreaStacked);
        chart.title().set_name("Mean compute share by vendor");
        chart.y_axis().set_num_format("0%").set_max(1.0);
        for (j, firm) in firms.iter().enumerate() {
            if firm == crate::report::summaries::DOMESTIC {
                continue;
            }
            let col = 2 + j as u16;
            chart
                .add_series()
                .set_name(("shares", 0, col))
                .set_categories(("shares", 1, 0, n, 0))
                .set_values(("shares", 1, col, n, col));
        }
        chart.set_width(900).set_height(480);
        ws.insert_chart(1, firms.len() as u16 + 3, &chart).map_err(xerr)?;
    }

    // gaps, with a line chart of the medians on a log axis.
    {
        let ws = wb.add_worksheet();
        ws.set_name("gaps").map_err(xerr)?;
        let mut header = vec!["quarter".to_string(), "quarter_start".to_string()];
        let stats = ["mean", "p05", "p50", "p95"];
        for g in crate::report::summaries::GAPS {
            header.extend(stats.iter().map(|k| format!("{g}_{k}")));
        }
        for (c, h) in header.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &f.bold).map_err(xerr)?;
        }
        for (qi, q) in s.quarters.iter().enumerate() {
            let r = qi as u32 + 1;
            ws.write_string(r, 0, q).map_err(xerr)?;
            if let Some(d) = quarter_start(q) {
                ws.write_datetime_with_format(r, 1, &d, &f.date).map_err(xerr)?;
            }
            for (gi, g) in crate::report::summaries::GAPS.iter().enumerate() {
                let Some(v) = s.market_var(g) else { continue };
                let st = &v.quarterly[qi];
                for (k, x) in [st.mean, st.p05, st.p50, st.p95].into_iter().enumerate() {
                    if let Some(x) = x {
                        ws.write_number(r, (2 + gi * 4 + k) as u16, rounded(x)).map_err(xerr)?;
                    }
                }
            }
        }
        ws.set_column_width(1, 12).map_err(xerr)?;
        ws.set_freeze_panes(1, 0).map_err(xerr)?;
        let mut chart = Chart::new(ChartType::Line);
        chart.title().set_name("Performance gap to the best US chip (TPP ratio, median)");
        chart.y_axis().set_log_base(10);
        for gi in 0..crate::report::summaries::GAPS.len() {
            let col = (2 + gi * 4 + 2) as u16;
            chart
                .add_series()
                .set_name(("gaps", 0, col))
                .set_categories(("gaps", 1, 0, n, 0))
                .set_values(("gaps", 1, col, n, col));
        }
        chart.set_width(900).set_height(480);
        ws.insert_chart(1, header.len() as u16 + 1, &chart).map_err(xerr)?;
    }

    for name in SHEETS {
        csv_sheet(&mut wb, &f, dir, name, MAX_ROWS)
            .with_context(|| format!("failed to copy {name} into the workbook"))?;
    }
    wb.save_to_buffer().map_err(xerr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader};

    #[test]
    fn a_file_longer_than_a_sheet_is_left_out_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("contracts.csv"), "a,b\n1,x\n2,y\n3,z\n").unwrap();
        std::fs::write(dir.path().join("small.csv"), "a,awarded_on,firm,b\n1,2026-01-15,2024,2026-01-15\n").unwrap();
        let f = formats();
        let mut wb = Workbook::new();
        csv_sheet(&mut wb, &f, dir.path(), "contracts.csv", 3).unwrap();
        csv_sheet(&mut wb, &f, dir.path(), "small.csv", 3).unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let contracts = book.worksheet_range("contracts").unwrap();
        assert_eq!(contracts.height(), 2, "only the note");
        let note = contracts.get((1, 0)).unwrap().to_string();
        assert!(note.contains("It has 3 rows") && note.contains("Read contracts.csv"), "{note}");
        let small = book.worksheet_range("small").unwrap();
        assert_eq!(small.get((1, 0)), Some(&Data::Float(1.0)));
        assert!(matches!(small.get((1, 1)), Some(Data::DateTime(_))));
        // An id that looks like a number, and a date outside a date column, stay text.
        assert_eq!(small.get((1, 2)), Some(&Data::String("2024".into())));
        assert_eq!(small.get((1, 3)), Some(&Data::String("2026-01-15".into())));
    }
}
