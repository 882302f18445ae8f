//! The derived outputs: the data dictionary covers every column written, the summaries agree
//! with the quarterly files they come from, charts and report are there and self-contained,
//! `plot` remakes them byte for byte, the workbook holds the CSVs' values, and the manifest
//! describes the run.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use calamine::{open_workbook, Data, Reader, Xlsx};
use sha2::{Digest, Sha256};

use crate::common::{chipmarket, data, fails_with, ok, show};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/outputs.md");

/// The documented columns of each file: `### `file`` sections, then table rows `| `column` |`.
fn dictionary() -> BTreeMap<String, Vec<String>> {
    let text = fs::read_to_string(DOC).expect("docs/outputs.md exists");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            current = rest.split('`').next().map(str::to_string);
            if let Some(c) = &current {
                out.entry(c.clone()).or_default();
            }
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(file), Some(rest)) = (&current, line.strip_prefix("| `")) {
            if let Some(col) = rest.split('`').next() {
                out.get_mut(file).expect("section").push(col.to_string());
            }
        }
    }
    out
}

/// Does `name` match the documented `pattern`, where `<word>` stands for one or more of
/// `[A-Za-z0-9_.]`?
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.find('<') {
        None => pattern == name,
        Some(i) => {
            let Some(close) = pattern[i..].find('>') else { return pattern == name };
            let (prefix, rest) = (&pattern[..i], &pattern[i + close + 1..]);
            let Some(tail) = name.strip_prefix(prefix) else { return false };
            let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
            (1..=tail.len())
                .filter(|&k| tail.is_char_boundary(k))
                .take_while(|&k| tail[..k].chars().all(ok_char))
                .any(|k| matches(rest, &tail[k..]))
        }
    }
}

fn header(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap();
    text.lines().next().unwrap_or("").split(',').map(str::to_string).collect()
}

/// Every column of every CSV in `dir` is documented under its file.
fn assert_documented(dir: &Path, dict: &BTreeMap<String, Vec<String>>) -> usize {
    let mut checked = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".csv") {
            continue;
        }
        let documented = dict.get(&name).unwrap_or_else(|| panic!("docs/outputs.md has no section for {name}"));
        for col in header(&dir.join(&name)) {
            assert!(
                documented.iter().any(|p| matches(p, &col)),
                "{name}: column \"{col}\" is written but not described in docs/outputs.md (documented: {documented:?})"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn the_dictionary_pattern_matcher_is_strict() {
    assert!(matches("<firm>_final_cash_usd", "thead_final_cash_usd"));
    assert!(matches("param_<path>", "param_firms.dom.rd_intensity"));
    assert!(matches("<kpi>_p05", "market_final_perf_gap_sellable_p05"));
    assert!(!matches("<kpi>_p05", "_p05"));
    assert!(!matches("cash_usd", "cash_usd2"));
    assert!(!matches("<firm>_final_cash_usd", "thead_final_cash"));
}

#[test]
fn dictionary_describes_every_column_of_every_file_written() {
    let dict = dictionary();
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "run", "--quiet", "--trace", "--xlsx"]);
    let run_cols = assert_documented(&tmp.path().join("run"), &dict);
    assert!(run_cols > 60, "only {run_cols} columns checked");
    // A sweep with a failed run, so failures.csv is written too.
    let sweep = format!(
        "base = {:?}\nreplications = 2\n[[vary]]\npath = \"firms.dom.rd_intensity\"\nvalues = [0.1, 0.3]\n",
        tiny.to_string_lossy()
    );
    fs::write(tmp.path().join("s.toml"), sweep).unwrap();
    fails_with(
        tmp.path(),
        &["sweep", "s.toml", "--out", "sweep", "--quiet", "--jobs", "1", "--debug-fail-run", "1/1"],
        1,
    );
    assert!(tmp.path().join("sweep/failures.csv").exists());
    assert_documented(&tmp.path().join("sweep"), &dict);
    // Every chart written is described.
    let doc = fs::read_to_string(DOC).unwrap();
    for dir in ["run", "sweep"] {
        for e in fs::read_dir(tmp.path().join(dir).join("charts")).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let kind = name.split("__").next().unwrap().split('_').next().unwrap();
            assert!(
                doc.contains(&format!("`{name}`")) || doc.contains(&format!("`{kind}_<kpi>")),
                "chart {name} is not described in docs/outputs.md"
            );
        }
    }
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn summaries_agree_with_the_quarterly_files() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "out", "--quiet", "--replications", "5"]);
    let out = tmp.path().join("out");
    let firms = csv_rows(&out.join("firms_quarterly.csv"));
    let market = csv_rows(&out.join("market_quarterly.csv"));
    // Yearly compute share of `dom` in 2025, per replication, straight from firms_quarterly.csv:
    // the firm's compute shipped over all firms' compute shipped in the year's quarters.
    let mut per_rep: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for r in &firms {
        if r[1].starts_with("2025") {
            let e = per_rep.entry(r[0].clone()).or_default();
            let x: f64 = r[4].parse().unwrap();
            e.1 += x;
            if r[2] == "dom" {
                e.0 += x;
            }
        }
    }
    let shares: Vec<f64> = per_rep.values().filter(|(_, t)| *t > 0.0).map(|(d, t)| d / t).collect();
    let summary = csv_rows(&out.join("firms_summary.csv"));
    let find = |kind: &str, period: &str, firm: &str, var: &str| {
        summary
            .iter()
            .find(|r| r[0] == kind && r[1] == period && r[3] == firm && r[4] == var)
            .unwrap_or_else(|| panic!("no row {kind} {period} {firm} {var}"))
            .clone()
    };
    let row = find("year", "2025", "dom", "compute_share");
    assert!(close(row[5].parse().unwrap(), mean(&shares)), "{row:?} vs {shares:?}");
    assert_eq!(row[10], shares.len().to_string());
    // One domestic firm: the domestic total is that firm.
    assert_eq!(find("year", "2025", "domestic_total", "compute_share")[5..], row[5..]);
    // Yearly revenue is the sum of the quarters; cash is the year-end value.
    let revenue: Vec<f64> = (0..5)
        .map(|rep| {
            firms
                .iter()
                .filter(|r| r[0] == rep.to_string() && r[1].starts_with("2024") && r[2] == "usa")
                .map(|r| r[5].parse::<f64>().unwrap())
                .sum()
        })
        .collect();
    assert!(close(find("year", "2024", "usa", "revenue_usd")[5].parse().unwrap(), mean(&revenue)));
    let cash: Vec<f64> =
        firms.iter().filter(|r| r[1] == "2024Q4" && r[2] == "usa").map(|r| r[14].parse::<f64>().unwrap()).collect();
    assert!(close(find("year", "2024", "usa", "cash_usd")[5].parse().unwrap(), mean(&cash)));
    // Quarterly market statistics, and the wide files.
    let delivered: Vec<f64> =
        market.iter().filter(|r| r[1] == "2024Q3").map(|r| r[4].parse::<f64>().unwrap()).collect();
    let msum = csv_rows(&out.join("market_summary.csv"));
    let m = msum.iter().find(|r| r[0] == "quarter" && r[1] == "2024Q3" && r[3] == "delivered_pflops").unwrap();
    assert_eq!(m[2], "2024");
    assert!(close(m[4].parse().unwrap(), mean(&delivered)));
    let mut sorted = delivered.clone();
    sorted.sort_by(f64::total_cmp);
    assert!(close(m[7].parse().unwrap(), sorted[2]), "median of five values");
    let domestic: Vec<f64> =
        market.iter().filter(|r| r[1] == "2024Q3" && !r[5].is_empty()).map(|r| r[5].parse::<f64>().unwrap()).collect();
    let wide = csv_rows(&out.join("shares_wide.csv"));
    let w = wide.iter().find(|r| r[0] == "2024Q3").unwrap();
    assert!(close(w[3].parse().unwrap(), mean(&domestic)), "domestic_total {w:?} vs {domestic:?}");
    let dom: f64 = w[1].parse().unwrap();
    let usa: f64 = w[2].parse().unwrap();
    assert!(close(dom + usa, 1.0), "shares of the firms add up to one: {w:?}");
    assert_eq!(
        header(&out.join("gaps_wide.csv"))[..3],
        ["quarter".to_string(), "perf_gap_frontier_mean".to_string(), "perf_gap_frontier_p05".to_string()]
    );
}

#[test]
fn charts_and_report_are_there_and_need_no_network() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "out", "--quiet"]);
    let out = tmp.path().join("out");
    for (chart, words) in [
        ("shares.svg", &["Vendor shares", "dom", "usa", "ban", "regime"][..]),
        ("domestic_share.svg", &["Domestic vendors", "median", "ban"][..]),
        ("gaps.svg", &["Performance gap", "log scale", "sellable in China"][..]),
        ("revenue.svg", &["Revenue by vendor", "billion USD", "dom"][..]),
    ] {
        let svg = fs::read_to_string(out.join("charts").join(chart)).unwrap();
        assert!(svg.starts_with("<svg"), "{chart} is SVG");
        for w in words {
            assert!(svg.contains(w), "{chart} lacks \"{w}\"");
        }
        assert!(svg.contains("<polygon") || svg.contains("<polyline"), "{chart} draws data");
    }
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h1>tiny</h1>"));
    assert!(html.contains("<td>7</td>"), "the seed");
    assert_eq!(html.matches("<svg").count(), 4, "every chart inline");
    assert!(html.contains("Compute share by vendor and year"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="), "nothing to fetch");
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"), "no network address");
}

#[test]
fn manifest_names_command_inputs_and_time() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "out", "--quiet", "--seed", "9"]);
    let out = tmp.path().join("out");
    let m: serde_json::Value = serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["command"], "run");
    assert_eq!(m["program"], "chipmarket");
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["scenario"], "tiny");
    assert_eq!(m["seed"], 9);
    assert_eq!(m["replications"], 2);
    let resolved = fs::read(out.join("scenario.resolved.toml")).unwrap();
    let hash: String = Sha256::digest(&resolved).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(m["resolved_sha256"], hash);
    let line: Vec<&str> = m["command_line"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(line[0], "chipmarket");
    assert!(line.contains(&"--seed") && line.contains(&"9"));
    let started = m["started_at"].as_str().unwrap();
    assert!(started.len() == 24 && started.ends_with('Z') && started.as_bytes()[10] == b'T', "{started}");
    assert!(m["duration_seconds"].as_f64().unwrap() >= 0.0);
    let files: Vec<&str> = m["files"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(
        files.contains(&"report.html") && files.contains(&"charts/shares.svg") && !files.contains(&"manifest.json")
    );
}

#[test]
fn plot_remakes_the_derived_files_byte_for_byte_and_refuses_other_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "out", "--quiet"]);
    let out = tmp.path().join("out");
    let derived = ["market_summary.csv", "firms_summary.csv", "shares_wide.csv", "gaps_wide.csv", "report.html"];
    let before: Vec<Vec<u8>> = derived.iter().map(|f| fs::read(out.join(f)).unwrap()).collect();
    let chart = fs::read(out.join("charts/gaps.svg")).unwrap();
    let manifest = fs::read(out.join("manifest.json")).unwrap();
    for f in derived {
        fs::remove_file(out.join(f)).unwrap();
    }
    fs::remove_dir_all(out.join("charts")).unwrap();
    ok(tmp.path(), &["plot", "out", "--quiet"]);
    for (f, b) in derived.iter().zip(&before) {
        assert!(&fs::read(out.join(f)).unwrap() == b, "{f} differs after plot");
    }
    assert_eq!(fs::read(out.join("charts/gaps.svg")).unwrap(), chart);
    assert_eq!(fs::read(out.join("manifest.json")).unwrap(), manifest, "the run's manifest is kept");

    // A sweep folder.
    let sweep = format!(
        "base = {:?}\nreplications = 2\n[[vary]]\npath = \"firms.dom.rd_intensity\"\nvalues = [0.1, 0.3]\n\
         [[vary]]\npath = \"demand.tenders_per_year\"\nvalues = [6, 12]\n",
        tiny.to_string_lossy()
    );
    fs::write(tmp.path().join("s.toml"), sweep).unwrap();
    ok(tmp.path(), &["sweep", "s.toml", "--out", "sw", "--quiet", "--jobs", "1"]);
    let sw = tmp.path().join("sw");
    let wide = fs::read(sw.join("points_wide.csv")).unwrap();
    let text = String::from_utf8(wide.clone()).unwrap();
    assert_eq!(text.lines().count(), 1 + 4, "one row per point");
    assert!(text.starts_with(
        "point,param_firms.dom.rd_intensity,param_demand.tenders_per_year,dom_final_year_compute_share_mean,"
    ));
    assert!(sw.join("charts/heat_final_year_domestic_compute_share__rd_intensity__tenders_per_year.svg").exists());
    assert!(sw.join("charts/sweep_final_year_domestic_compute_share__rd_intensity.svg").exists());
    fs::remove_file(sw.join("points_wide.csv")).unwrap();
    fs::remove_file(sw.join("manifest.json")).unwrap();
    ok(tmp.path(), &["plot", "sw", "--quiet"]);
    assert_eq!(fs::read(sw.join("points_wide.csv")).unwrap(), wide);
    let m: serde_json::Value = serde_json::from_str(&fs::read_to_string(sw.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["command"], "plot", "a folder without a manifest gets one from plot");

    // Refusals: exit code 2, a hint, nothing written.
    fs::create_dir(tmp.path().join("empty")).unwrap();
    let args = ["plot", "empty"];
    let res = fails_with(tmp.path(), &args, 2);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("neither scenario.resolved.toml nor sweep.resolved.toml") && err.contains("hint:"), "{err}");
    assert_eq!(fs::read_dir(tmp.path().join("empty")).unwrap().count(), 0);
    let res = fails_with(tmp.path(), &["plot", "missing"], 2);
    assert!(String::from_utf8_lossy(&res.stderr).contains("is not a folder"));
    // A damaged file: its name, line and column, exit code 2, nothing derived.
    fs::create_dir(tmp.path().join("damaged")).unwrap();
    for f in ["scenario.resolved.toml", "firms_quarterly.csv", "market_quarterly.csv"] {
        fs::copy(out.join(f), tmp.path().join("damaged").join(f)).unwrap();
    }
    let market = fs::read_to_string(out.join("market_quarterly.csv")).unwrap();
    let mut lines: Vec<String> = market.lines().map(str::to_string).collect();
    let cells: Vec<&str> = lines[3].split(',').collect();
    let mut cells: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    cells[4] = "12,5".replace(',', ";");
    lines[3] = cells.join(",");
    fs::write(tmp.path().join("damaged/market_quarterly.csv"), lines.join("\n") + "\n").unwrap();
    let res = fails_with(tmp.path(), &["plot", "damaged"], 2);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("market_quarterly.csv:4: column \"delivered_pflops\": expected a number, found \"12;5\""),
        "{err}"
    );
    assert!(!tmp.path().join("damaged/report.html").exists() && !tmp.path().join("damaged/charts").exists());
    let res = chipmarket(tmp.path(), &["plot", "sw", "--xlsx"]);
    assert_eq!(res.status.code(), Some(2), "{}", show(&["plot", "sw", "--xlsx"], tmp.path(), &res));
}

fn cell_number(c: &Data) -> Option<f64> {
    match c {
        Data::Float(x) => Some(*x),
        Data::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// Compare a sheet cell by cell with its CSV: numbers as numbers, dates as dates, text as text.
fn assert_sheet_matches_csv(book: &mut Xlsx<std::io::BufReader<fs::File>>, sheet: &str, csv: &Path) {
    let range = book.worksheet_range(sheet).unwrap_or_else(|e| panic!("sheet {sheet}: {e}"));
    let text = fs::read_to_string(csv).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(range.height(), rows.len(), "{sheet}: rows");
    // Text columns hold strings whatever they look like (a yearly `period` 2024 included).
    let text_columns =
        ["firm", "chip", "best_chip", "customer", "regime", "quarter", "period", "period_kind", "variable"];
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let got = range.get((r, c)).unwrap_or(&Data::Empty);
            if r > 0 && text_columns.contains(&rows[0][c]) {
                assert_eq!(got, &Data::String(cell.to_string()), "{sheet} ({r},{c})");
            } else if cell.is_empty() {
                assert!(matches!(got, Data::Empty), "{sheet} ({r},{c}): expected empty, found {got:?}");
            } else if let Ok(x) = cell.parse::<f64>() {
                let y = cell_number(got).unwrap_or_else(|| panic!("{sheet} ({r},{c}): expected {x}, found {got:?}"));
                assert!(x == y, "{sheet} ({r},{c}): {x} != {y}");
            } else if cell.len() == 10 && cell.as_bytes()[4] == b'-' && cell.as_bytes()[7] == b'-' {
                let Data::DateTime(d) = got else { panic!("{sheet} ({r},{c}): expected a date, found {got:?}") };
                let dt = d.as_datetime().unwrap();
                assert_eq!(dt.format("%Y-%m-%d").to_string(), *cell, "{sheet} ({r},{c})");
            } else {
                assert_eq!(got, &Data::String(cell.to_string()), "{sheet} ({r},{c})");
            }
        }
    }
}

#[test]
fn the_workbook_holds_the_csv_values_typed() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "plain", "--quiet"]);
    assert!(!tmp.path().join("plain/results.xlsx").exists(), "only when asked");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "out", "--quiet", "--xlsx"]);
    let out = tmp.path().join("out");
    let mut book: Xlsx<_> = open_workbook(out.join("results.xlsx")).unwrap();
    let names = book.sheet_names();
    for s in ["about", "shares", "gaps", "market_summary", "firms_summary", "summary", "contracts"] {
        assert!(names.iter().any(|n| n == s), "sheet {s} missing: {names:?}");
    }
    for (sheet, file) in [
        ("market_summary", "market_summary.csv"),
        ("firms_summary", "firms_summary.csv"),
        ("summary", "summary.csv"),
        ("market_quarterly", "market_quarterly.csv"),
        ("contracts", "contracts.csv"),
    ] {
        assert_sheet_matches_csv(&mut book, sheet, &out.join(file));
    }
    // The shares sheet: quarter, its first day as a date, then the columns of shares_wide.csv.
    let shares = book.worksheet_range("shares").unwrap();
    let wide = fs::read_to_string(out.join("shares_wide.csv")).unwrap();
    for (r, line) in wide.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(shares.get((r, 0)), Some(&Data::String(cells[0].to_string())));
        let Some(Data::DateTime(d)) = shares.get((r, 1)) else { panic!("row {r}: no quarter_start date") };
        let q: u32 = cells[0][5..].parse().unwrap();
        let expected = format!("{}-{:02}-01", &cells[0][..4], (q - 1) * 3 + 1);
        assert_eq!(d.as_datetime().unwrap().format("%Y-%m-%d").to_string(), expected);
        for (c, cell) in cells.iter().enumerate().skip(1) {
            if let Ok(x) = cell.parse::<f64>() {
                assert_eq!(shares.get((r, c + 1)).and_then(cell_number), Some(x), "shares ({r},{c})");
            }
        }
    }
    // The workbook depends only on the files: a second run gives the same bytes.
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "again", "--quiet", "--xlsx"]);
    assert!(fs::read(out.join("results.xlsx")).unwrap() == fs::read(tmp.path().join("again/results.xlsx")).unwrap());
    // The same switch in the scenario file.
    let text = fs::read_to_string(&tiny).unwrap() + "\n[output]\nxlsx = true\n";
    fs::write(tmp.path().join("x.toml"), text).unwrap();
    ok(tmp.path(), &["run", "x.toml", "--out", "viascenario", "--quiet"]);
    assert!(tmp.path().join("viascenario/results.xlsx").exists());
}
