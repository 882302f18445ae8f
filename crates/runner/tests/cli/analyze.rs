//! `chipmarket analyze`: the estimators checked from the outside on a real sweep folder whose
//! KPI column is replaced by an analytic function, PRIM on a known box, and refusals.

use std::fs;
use std::path::Path;

use crate::common::{chipmarket, data, fails_with, ok, show};

/// Varied paths of tiny.toml with their ranges (floats in the base, so values are not rounded).
const AXES: [(&str, f64, f64); 3] = [
    ("demand.growth_rate_per_year", 0.2, 0.8),
    ("demand.tender_size_sigma", 0.3, 1.2),
    ("demand.inference_share_start", 0.1, 0.5),
];

/// Run a sweep of `method_lines` over [`AXES`] with one replication into `dir/out`.
fn sweep(dir: &Path, method_lines: &str) {
    let mut text = format!("base = {:?}\nreplications = 1\n{method_lines}", data("tiny.toml").to_string_lossy());
    for (path, lo, hi) in AXES {
        text.push_str(&format!("[[vary]]\npath = \"{path}\"\nrange = [{lo}, {hi}]\n"));
    }
    fs::write(dir.join("s.toml"), text).unwrap();
    ok(dir, &["sweep", "s.toml", "--out", "out", "--quiet"]);
}

/// Replace the KPI column `kpi` of `dir/out/runs.csv` by `f` of the parameters mapped to [0, 1].
fn replace_kpi(dir: &Path, kpi: &str, f: impl Fn(&[f64]) -> f64) {
    let path = dir.join("out/runs.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = header.iter().position(|h| h == kpi).expect("the KPI column");
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    w.write_record(&header).unwrap();
    for row in reader.records() {
        let row = row.unwrap();
        let u: Vec<f64> = AXES
            .iter()
            .enumerate()
            .map(|(j, (_, lo, hi))| (row[3 + j].parse::<f64>().unwrap() - lo) / (hi - lo))
            .collect();
        let mut cells: Vec<String> = row.iter().map(str::to_string).collect();
        cells[col] = format!("{}", f(&u));
        w.write_record(&cells).unwrap();
    }
    fs::write(&path, w.into_inner().unwrap()).unwrap();
}

fn ishigami(u: &[f64]) -> f64 {
    let x: Vec<f64> = u.iter().map(|u| -std::f64::consts::PI + 2.0 * std::f64::consts::PI * u).collect();
    x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
}

/// Rows of a CSV file as maps of column name to cell.
fn rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| header.iter().map(str::to_string).zip(r.unwrap().iter().map(str::to_string)).collect())
        .collect()
}

const KPI: &str = "market_cumulative_delivered_pflops";

#[test]
fn analyze_recovers_the_ishigami_indices_from_a_saltelli_sweep_folder() {
    let dir = tempfile::tempdir().unwrap();
    sweep(dir.path(), "method = \"saltelli\"\nsamples = 1024\nseed = 5\n");
    replace_kpi(dir.path(), KPI, ishigami);
    let args = ["analyze", "out", "--kpi", KPI, "--out", "sens.csv"];
    let out = ok(dir.path(), &args);
    let shown = show(&args, dir.path(), &out);
    let got = rows(&dir.path().join("sens.csv"));
    assert_eq!(got.len(), 3, "{shown}");
    let s1 = [0.3139, 0.4424, 0.0];
    let st = [0.5576, 0.4424, 0.2437];
    for (i, row) in got.iter().enumerate() {
        assert_eq!((row["kpi"].as_str(), row["param"].as_str(), row["method"].as_str()), (KPI, AXES[i].0, "sobol"));
        let f = |k: &str| row[k].parse::<f64>().unwrap();
        assert!((f("s1") - s1[i]).abs() <= f("s1_conf"), "S1 of {}: {row:?}", AXES[i].0);
        assert!((f("st") - st[i]).abs() <= f("st_conf"), "ST of {}: {row:?}", AXES[i].0);
        assert!(f("s1_conf") < 0.15 && f("st_conf") < 0.15, "informative intervals: {row:?}");
        assert_eq!(row["noise_share"], "", "one replication: no noise estimate");
    }
    // The table ranks by total index: x1 (growth), x2 (sigma), x3 (inference share).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = |p: &str| stdout.find(&format!("  {p} ")).unwrap_or_else(|| panic!("{p} in {stdout}"));
    assert!(at(AXES[0].0) < at(AXES[1].0) && at(AXES[1].0) < at(AXES[2].0), "{stdout}");
    // Seeded: the same folder gives the same bytes.
    let first = fs::read(dir.path().join("sens.csv")).unwrap();
    ok(dir.path(), &args);
    assert_eq!(fs::read(dir.path().join("sens.csv")).unwrap(), first);
}

#[test]
fn analyze_ranks_morris_factors_and_finds_a_known_box() {
    let dir = tempfile::tempdir().unwrap();
    sweep(dir.path(), "method = \"morris\"\ntrajectories = 100\nlevels = 4\nseed = 2\n");
    // Linear: slopes 3, -1, 0 per unit of each range.
    replace_kpi(dir.path(), KPI, |u| 3.0 * u[0] - u[1]);
    ok(dir.path(), &["analyze", "out", "--kpi", KPI, "--quiet"]);
    let got = rows(&dir.path().join("out/sensitivity.csv"));
    for (row, slope) in got.iter().zip([3.0, -1.0, 0.0]) {
        let f = |k: &str| row[k].parse::<f64>().unwrap();
        assert!((f("mu") - slope).abs() < 1e-6 && (f("mu_star") - f64::abs(slope)).abs() < 1e-6, "{row:?}");
        assert!(f("sigma").abs() < 1e-6, "{row:?}");
    }
    // PRIM works on any design: the KPI exceeds 1 where u0 > 0.5 and u1 < 0.5.
    replace_kpi(dir.path(), KPI, |u| if u[0] > 0.5 && u[1] < 0.5 { 2.0 } else { 0.0 });
    let args = ["analyze", "out", "--discover", &format!("{KPI} > 1")];
    let out = ok(dir.path(), &args);
    let boxes = rows(&dir.path().join("out/boxes.csv"));
    let pasted = boxes.iter().find(|r| r["stage"] == "pasted").expect("a pasted box");
    let f = |k: &str| pasted[k].parse::<f64>().unwrap();
    assert!(f("coverage") > 0.8 && f("density") > 0.8, "{}\n{pasted:?}", show(&args, dir.path(), &out));
    assert_eq!(pasted["restricted"], format!("{};{}", AXES[0].0, AXES[1].0), "{pasted:?}");
    assert_eq!(boxes.iter().filter(|r| r["stage"] == "chosen").count(), 1);
    assert_eq!(boxes[0]["mass"], "1");
}

#[test]
fn analyze_refuses_other_designs_unknown_kpis_and_bad_conditions() {
    let dir = tempfile::tempdir().unwrap();
    sweep(dir.path(), "method = \"lhs\"\nsamples = 8\n");
    let cases: &[(&[&str], &str)] = &[
        (&["analyze", "out"], "sensitivity indices need a saltelli or a morris design"),
        (
            &["analyze", "out", "--discover", "market_cumulative_delivered_pflop > 1"],
            "did you mean \"market_cumulative_delivered_pflops\"",
        ),
        (&["analyze", "out", "--discover", "x >> 1"], "expected \"KPI > VALUE\""),
        (&["analyze", "nowhere"], "not a finished sweep folder"),
    ];
    for (args, says) in cases {
        let out = chipmarket(dir.path(), args);
        let shown = show(args, dir.path(), &out);
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{says:?} in {shown}");
        assert!(!dir.path().join("out/sensitivity.csv").exists() && !dir.path().join("out/boxes.csv").exists());
    }
}

/// tiny.toml with a `[scenario.precision]` table.
fn precise_scenario(dir: &Path, table: &str) -> String {
    let text = fs::read_to_string(data("tiny.toml")).unwrap();
    fs::write(dir.join("p.toml"), format!("{text}\n[scenario.precision]\n{table}")).unwrap();
    "p.toml".to_string()
}

#[test]
fn replications_auto_stops_when_precise_at_the_same_count_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let file = precise_scenario(
        dir.path(),
        "kpis = [\"market_cumulative_delivered_pflops\", \"dom_cumulative_revenue_usd\"]\n\
         relative_half_width = 0.1\nbatch = 4\nmin_replications = 6\nmax_replications = 200\n",
    );
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out_dir = format!("out{threads}");
        let args = ["run", file.as_str(), "--replications", "auto", "--out", out_dir.as_str()];
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chipmarket"))
            .args(args)
            .current_dir(dir.path())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&args, dir.path(), &out));
        outs.push(out_dir);
    }
    let precision = rows(&dir.path().join("out1/precision.csv"));
    assert_eq!(precision.len(), 2);
    let n: usize = precision[0]["n"].parse().unwrap();
    assert!(n >= 6 && (n - 6).is_multiple_of(4), "the minimum, then whole batches: {n}");
    for row in &precision {
        assert_eq!(row["precise"], "true", "{row:?}");
        let f = |k: &str| row[k].parse::<f64>().unwrap();
        assert!(f("half_width") <= 0.1 * f("mean").abs() && f("half_width") > 0.0, "{row:?}");
    }
    // Stopping one batch earlier would not have been precise: the rule stopped at the first chance.
    let summary = rows(&dir.path().join("out1/summary.csv"));
    assert_eq!(summary.len(), n, "summary.csv has one row per replication run");
    assert!(n > 6, "the targets need more than the minimum here, so the stop point is tested");
    {
        let kpi = "market_cumulative_delivered_pflops";
        let values: Vec<f64> = summary.iter().map(|r| r[kpi].parse().unwrap()).collect();
        let other = "dom_cumulative_revenue_usd";
        let values2: Vec<f64> = summary.iter().map(|r| r[other].parse().unwrap()).collect();
        let hw = |v: &[f64]| chipmarket_engine::analysis::precision::half_width(v).unwrap();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let earlier = n - 4;
        let precise_then = hw(&values[..earlier]) <= 0.1 * mean(&values[..earlier]).abs()
            && hw(&values2[..earlier]) <= 0.1 * mean(&values2[..earlier]).abs();
        assert!(!precise_then, "should have stopped at {earlier}");
    }
    for f in ["summary.csv", "precision.csv", "scenario.resolved.toml", "market_quarterly.csv"] {
        let a = fs::read(dir.path().join(&outs[0]).join(f)).unwrap();
        let b = fs::read(dir.path().join(&outs[1]).join(f)).unwrap();
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }
    let resolved = fs::read_to_string(dir.path().join("out1/scenario.resolved.toml")).unwrap();
    assert!(resolved.contains(&format!("replications = {n}")), "the resolved scenario reruns the same count");
}

#[test]
fn replications_auto_refuses_a_scenario_without_precision_or_with_an_unknown_kpi() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(String, &str)> = vec![
        (data("tiny.toml").to_string_lossy().into_owned(), "no [scenario.precision] table"),
        (
            precise_scenario(dir.path(), "kpis = [\"market_cumulative_delivered_pflop\"]\nrelative_half_width = 0.1\n"),
            "did you mean \"market_cumulative_delivered_pflops\"",
        ),
    ];
    for (file, says) in &cases {
        let args = ["run", file.as_str(), "--replications", "auto", "--out", "out"];
        let out = chipmarket(dir.path(), &args);
        let shown = show(&args, dir.path(), &out);
        assert_eq!(out.status.code(), Some(2), "{shown}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{says:?} in {shown}");
        assert!(!dir.path().join("out").exists(), "{shown}");
    }
    precise_scenario(dir.path(), "kpis = [\"k\"]\n");
    let args = ["run", "p.toml", "--replications", "auto"];
    let out = chipmarket(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", show(&args, dir.path(), &out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scenario.precision"), "{}", show(&args, dir.path(), &out));
}

/// `svg` is well-formed XML whose root is an `<svg>` element; returns its text content.
fn svg_text(svg: &str) -> String {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut text = String::new();
    let mut root: Option<String> = None;
    let mut depth = 0i32;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{svg}")) {
            quick_xml::events::Event::Start(e) => {
                root.get_or_insert_with(|| String::from_utf8_lossy(e.name().as_ref()).into_owned());
                depth += 1;
            }
            quick_xml::events::Event::Empty(e) => {
                root.get_or_insert_with(|| String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Text(t) => {
                text.push_str(&t.unescape().unwrap());
                text.push('\n');
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(root.as_deref(), Some("svg"), "the root element is <svg>");
    assert_eq!(depth, 0, "every element closed");
    text
}

/// The folder's sensitivity chart of `kpi`, checked to be an SVG, and its text.
fn sensitivity_chart(out: &Path, kpi: &str) -> (String, String) {
    let path = out.join(format!("charts/sensitivity_{kpi}.svg"));
    let svg = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = svg_text(&svg);
    (svg, text)
}

#[test]
fn analyze_draws_sobol_bars_per_kpi_into_the_sweep_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    sweep(dir.path(), "method = \"saltelli\"\nsamples = 64\nseed = 5\n");
    // Linear: the first path matters most, the third not at all.
    replace_kpi(dir.path(), KPI, |u| 3.0 * u[0] - u[1]);
    let other = "market_cumulative_demand_pflops";
    ok(dir.path(), &["analyze", "out", "--kpi", KPI, "--kpi", other, "--quiet"]);
    let (svg, text) = sensitivity_chart(&out, KPI);
    assert!(text.contains(&format!("Sobol indices of {KPI}")), "{text}");
    assert!(text.contains("S1: first-order") && text.contains("ST: total"), "{text}");
    assert!(svg.contains("<rect"), "bars are drawn");
    // Every path named, the largest total index on top (drawn first).
    let at = |p: &str| text.find(p).unwrap_or_else(|| panic!("{p} in {text}"));
    assert!(at(AXES[0].0) < at(AXES[1].0) && at(AXES[1].0) < at(AXES[2].0), "{text}");
    sensitivity_chart(&out, other);
    // The report shows both in a Sensitivity section, after the sweep's own charts.
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    let section = html.find("<h2>Sensitivity</h2>").expect("a Sensitivity section");
    for kpi in [KPI, other] {
        let figure = html.find(&format!("<figure id=\"sensitivity_{kpi}.svg\"><svg")).expect("the chart inline");
        assert!(figure > section && figure < html.find("<h2>Points</h2>").unwrap());
    }
    // plot remakes them byte for byte.
    fs::remove_file(out.join(format!("charts/sensitivity_{KPI}.svg"))).unwrap();
    ok(dir.path(), &["plot", "out", "--quiet"]);
    assert_eq!(sensitivity_chart(&out, KPI).0, svg);
    assert_eq!(fs::read_to_string(out.join("report.html")).unwrap(), html);
    // A new analysis of one KPI: the other's chart goes, from the folder and the report.
    ok(dir.path(), &["analyze", "out", "--kpi", KPI, "--quiet"]);
    assert!(!out.join(format!("charts/sensitivity_{other}.svg")).exists());
    assert!(!fs::read_to_string(out.join("report.html")).unwrap().contains(&format!("sensitivity_{other}")));
    // Without sensitivity.csv, no chart and no section; --out elsewhere does not remake the folder.
    fs::remove_file(out.join("sensitivity.csv")).unwrap();
    ok(dir.path(), &["plot", "out", "--quiet"]);
    assert!(!out.join(format!("charts/sensitivity_{KPI}.svg")).exists(), "no sensitivity.csv, no chart");
    assert!(!fs::read_to_string(out.join("report.html")).unwrap().contains("<h2>Sensitivity</h2>"));
    let res = ok(dir.path(), &["analyze", "out", "--kpi", KPI, "--out", "elsewhere.csv"]);
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("elsewhere.csv") && !stdout.contains("remade"), "{stdout}");
    // A damaged sensitivity.csv: file, line and column, exit code 2, the report untouched.
    let report = fs::read(out.join("report.html")).unwrap();
    fs::write(
        out.join("sensitivity.csv"),
        format!("kpi,param,method,s1,s1_conf,st,st_conf,noise_share\n{KPI},{},sobol,0.5,x,0.6,0.1,\n", AXES[0].0),
    )
    .unwrap();
    let res = crate::common::fails_with(dir.path(), &["plot", "out"], 2);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("sensitivity.csv:2") && err.contains("s1_conf"), "{err}");
    assert_eq!(fs::read(out.join("report.html")).unwrap(), report);
}

#[test]
fn analyze_draws_a_labelled_morris_scatter_per_kpi_into_the_sweep_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    sweep(dir.path(), "method = \"morris\"\ntrajectories = 10\nlevels = 4\nseed = 2\n");
    replace_kpi(dir.path(), KPI, |u| 3.0 * u[0] - u[1] + u[0] * u[2]);
    let args = ["analyze", "out", "--kpi", KPI];
    let res = ok(dir.path(), &args);
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(stdout.contains("1 sensitivity chart(s)"), "{}", show(&args, dir.path(), &res));
    let (svg, text) = sensitivity_chart(&out, KPI);
    assert!(text.contains(&format!("Morris screening of {KPI}")), "{text}");
    assert!(text.contains("mu*") && text.contains("sigma"), "{text}");
    assert_eq!(svg.matches("<circle").count(), AXES.len(), "a dot per path");
    // Each path labelled by its last part (unique here).
    for (path, _, _) in AXES {
        let label = path.rsplit('.').next().unwrap();
        assert!(text.contains(label), "{label} in {text}");
    }
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2>Sensitivity</h2>") && html.contains("Morris screening"));
    assert!(html.contains(&format!("<figure id=\"sensitivity_{KPI}.svg\"><svg")));
}

#[test]
fn analyze_refuses_nan_huge_and_repeated_rows_and_a_design_the_file_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    sweep(dir.path(), "method = \"morris\"\ntrajectories = 4\nlevels = 4\nseed = 2\n");
    let path = dir.path().join("out/runs.csv");
    let good = fs::read_to_string(&path).unwrap();
    let refuse = |text: &str, says: &str| {
        fs::write(&path, text).unwrap();
        let args = ["analyze", "out", "--kpi", KPI, "--quiet"];
        let out = fails_with(dir.path(), &args, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says) && !err.contains("panicked"),
            "expected {says:?}\n{}",
            show(&args, dir.path(), &out)
        );
        assert!(!dir.path().join("out/sensitivity.csv").exists());
    };
    let header = good.lines().next().unwrap();
    let col = header.split(',').position(|h| h == KPI).unwrap();
    let with_cell = |row: usize, cell: &str| -> String {
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        let mut cells: Vec<String> = lines[row].split(',').map(str::to_string).collect();
        cells[col] = cell.to_string();
        lines[row] = cells.join(",");
        lines.join("\n") + "\n"
    };
    for bad in ["NaN", "inf", "-1e300"] {
        refuse(&with_cell(2, bad), "runs.csv:3: column market_cumulative_delivered_pflops: expected a finite number");
    }
    // A row repeated (its point's replication twice) is refused, not counted twice.
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, lines[1]);
    refuse(&(lines.join("\n") + "\n"), "runs.csv:3: column replication: expected replication 1 of point 0");
    // A design of 400,000 points, read from an edited resolved sweep, with a small runs.csv.
    fs::write(&path, &good).unwrap();
    let resolved = dir.path().join("out/sweep.resolved.toml");
    let text = fs::read_to_string(&resolved).unwrap();
    fs::write(&resolved, text.replace("trajectories = 4", "trajectories = 100000")).unwrap();
    refuse(&good, "more than the file's");
}
