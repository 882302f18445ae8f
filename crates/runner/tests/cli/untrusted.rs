//! Regression tests of the second hardening round: text from a scenario, sweep or targets file
//! that a spreadsheet would run, ids that a workbook would retype, line breaks in string values,
//! texts longer than a cell, and limits that used to fail late or not at all.

use std::fs;
use std::path::Path;

use calamine::{open_workbook, Data, Reader, Xlsx};

use crate::common::{data, fails_with, ok, show};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run and require exit code 2 with every phrase of `says` in stderr, and no panic.
fn refused(cwd: &Path, args: &[&str], says: &[&str]) -> std::process::Output {
    let out = fails_with(cwd, args, 2);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{}", show(args, cwd, &out));
    for s in says {
        assert!(err.contains(s), "expected {s:?}\n{}", show(args, cwd, &out));
    }
    out
}

/// Whether a CSV cell would be run by a spreadsheet: not a number, and starting with one of
/// the characters that start a formula.
fn is_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
}

/// Every cell of every CSV file under `dir` (recursively), with its file.
fn csv_cells(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(csv_cells(&p));
        } else if p.extension().is_some_and(|x| x == "csv") {
            let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(&p).unwrap();
            for rec in r.records() {
                for c in rec.unwrap().iter() {
                    out.push((p.display().to_string(), c.to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn an_id_starting_with_a_minus_is_refused_as_a_formula_would_be() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    let evil = tiny.replace("id = \"dom\"", "id = \"-dom\"").replace("{ dom = 0.5 }", "{ \"-dom\" = 0.5 }");
    fs::write(dir.join("evil.toml"), evil).unwrap();
    refused(dir, &["run", "evil.toml", "--out", "o", "--quiet"], &["evil.toml:15:6: firms.-dom.id", "not first"]);
    assert!(!dir.join("o").exists());
}

const STRINGS: &str = "replications = 2
method = \"grid\"
[[vary]]
path = \"scenario.description\"
values = [\"=HYPERLINK(\\\"http://example.com\\\")\", \"two\\nlines\", \"-5nm\", \"@SUM(1)\", \"\\tx\", \"+1+2\"]
";

#[test]
fn sweep_string_values_are_neutralised_and_a_line_break_keeps_merge_and_resume_working() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = format!("base = {:?}\n{STRINGS}", data("tiny.toml").to_string_lossy());
    fs::write(dir.join("s.toml"), file).unwrap();
    ok(dir, &["sweep", "s.toml", "--out", "whole", "--quiet"]);
    let cells = csv_cells(&dir.join("whole"));
    assert!(cells.iter().any(|(_, c)| c == "'=HYPERLINK(\"http://example.com\")"), "{cells:?}");
    assert!(cells.iter().any(|(_, c)| c == "'-5nm"));
    for (file, c) in &cells {
        assert!(!is_formula(c), "{file}: a formula cell {c:?}");
    }
    let runs = fs::read_to_string(dir.join("whole/runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 6 * 2, "every run is one line:\n{runs}");
    assert!(runs.contains(",two lines,"), "{runs}");

    // Shards merge into the same file, and a resumed sweep takes the rows it finds.
    ok(dir, &["sweep", "s.toml", "--shard", "1/2", "--out", "s1", "--quiet"]);
    ok(dir, &["sweep", "s.toml", "--shard", "2/2", "--out", "s2", "--quiet"]);
    ok(dir, &["merge", "s1", "s2", "--out", "merged"]);
    assert_eq!(fs::read_to_string(dir.join("merged/runs.csv")).unwrap(), runs);
    ok(dir, &["sweep", "s.toml", "--out", "whole", "--resume", "--quiet"]);
    assert_eq!(fs::read_to_string(dir.join("whole/runs.csv")).unwrap(), runs);
}

#[test]
fn target_ids_are_neutralised_in_fit_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["run", data("tiny.toml").to_str().unwrap(), "--out", "r", "--quiet"]);
    fs::write(
        dir.join("targets.csv"),
        "id,period,metric,firm,value,low,high\n=cmd|' /C calc'!A0,2024,units,dom,1000,1,100000000\n",
    )
    .unwrap();
    ok(dir, &["compare", "r", "--targets", "targets.csv"]);
    let cells = csv_cells(&dir.join("r"));
    assert!(cells.iter().any(|(_, c)| c == "'=cmd|' /C calc'!A0"), "{cells:?}");
    for (file, c) in &cells {
        assert!(!is_formula(c), "{file}: a formula cell {c:?}");
    }
}

#[test]
fn the_workbook_keeps_ids_that_look_like_numbers_as_text_and_cuts_a_long_description() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    let long = "x".repeat(40_000);
    let text = tiny
        .replace("id = \"dom\"", "id = \"2024\"")
        .replace("{ dom = 0.5 }", "{ \"2024\" = 0.5 }")
        .replace("id = \"telco\"", "id = \"1e5\"")
        .replace("name = \"tiny\"", &format!("name = \"tiny\"\ndescription = \"{long}\""));
    fs::write(dir.join("ids.toml"), text).unwrap();
    ok(dir, &["run", "ids.toml", "--out", "o", "--quiet", "--xlsx"]);
    let mut book: Xlsx<_> = open_workbook(dir.join("o/results.xlsx")).unwrap();
    let firms = book.worksheet_range("firms_quarterly").unwrap();
    let col = (0..firms.width()).find(|&c| firms.get((0, c)) == Some(&Data::String("firm".into()))).unwrap();
    let ids: Vec<&Data> = (1..firms.height()).map(|r| firms.get((r, col)).unwrap()).collect();
    assert!(ids.contains(&&Data::String("2024".into())), "{:?}", &ids[..4]);
    assert!(ids.iter().all(|d| matches!(d, Data::String(_))), "{:?}", &ids[..4]);
    let contracts = book.worksheet_range("contracts").unwrap();
    let col =
        (0..contracts.width()).find(|&c| contracts.get((0, c)) == Some(&Data::String("customer".into()))).unwrap();
    assert!((1..contracts.height()).any(|r| contracts.get((r, col)) == Some(&Data::String("1e5".into()))));
    let about = book.worksheet_range("about").unwrap();
    let Some(Data::String(d)) = about.get((1, 1)) else { panic!("no description: {:?}", about.get((1, 1))) };
    assert!(d.chars().count() <= 32_767 && d.starts_with("xxxx") && d.contains("cut to fit a cell"), "{}", d.len());
}

#[test]
fn too_many_jobs_or_rayon_threads_are_refused_before_any_thread_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = format!(
        "base = {:?}\nreplications = 1\nmethod = \"grid\"\n[[vary]]\npath = \"demand.tenders_per_year\"\nvalues = [6, 12]\n",
        data("tiny.toml").to_string_lossy()
    );
    fs::write(dir.join("g.toml"), file).unwrap();
    refused(
        dir,
        &["sweep", "g.toml", "--jobs", "100000", "--out", "o"],
        &["--jobs: expected a whole number from 1 to 1024, found 100000"],
    );
    refused(
        dir,
        &["sweep", "g.toml", "--jobs", "0", "--out", "o"],
        &["--jobs: expected a whole number from 1 to 1024, found 0"],
    );
    assert!(!dir.join("o").exists());
    let tiny = data("tiny.toml");
    for value in ["100000", "many"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chipmarket"))
            .args(["run", tiny.to_str().unwrap(), "--out", "r", "--quiet"])
            .env("RAYON_NUM_THREADS", value)
            .current_dir(dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
        assert!(stderr(&out).contains("RAYON_NUM_THREADS: expected a whole number from 0"), "{}", stderr(&out));
        assert!(!dir.join("r").exists());
    }
}

#[test]
fn a_misspelt_precision_kpi_is_refused_before_the_batch_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    fs::write(
        dir.join("p.toml"),
        format!("{tiny}\n[scenario.precision]\nkpis = [\"dom_final_year_compute_shar\"]\nrelative_half_width = 0.1\n"),
    )
    .unwrap();
    refused(
        dir,
        &["run", "p.toml", "--replications", "auto", "--out", "o", "--quiet"],
        &["scenario.precision.kpis.0", "did you mean \"dom_final_year_compute_share\""],
    );
    assert_eq!(fs::read_dir(dir).unwrap().count(), 1, "only the scenario is left");
}

#[test]
fn layers_that_resolve_to_more_than_an_input_file_may_hold_are_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    let nine_mib = "x".repeat(9 << 20);
    let base = tiny.replace("name = \"tiny\"", &format!("name = \"tiny\"\ndescription = \"{nine_mib}\""));
    fs::write(dir.join("base.toml"), base).unwrap();
    fs::write(
        dir.join("child.toml"),
        format!("extends = \"base.toml\"\n[[firms]]\nid = \"dom\"\nname = \"{nine_mib}\"\n"),
    )
    .unwrap();
    refused(
        dir,
        &["run", "child.toml", "--out", "o", "--quiet"],
        &["child.toml: the resolved scenario would be", "more than the 16 MiB a scenario file may hold"],
    );
    assert!(!dir.join("o").exists());
}
