//! `chipmarket run`: files, columns, reproducibility.

use std::fs;

use crate::common::{data, ok};

const FILES: [&str; 15] = [
    "scenario.resolved.toml",
    "firms_quarterly.csv",
    "market_quarterly.csv",
    "chips_quarterly.csv",
    "contracts.csv",
    "summary.csv",
    "market_summary.csv",
    "firms_summary.csv",
    "shares_wide.csv",
    "gaps_wide.csv",
    "report.html",
    "charts/shares.svg",
    "charts/domestic_share.svg",
    "charts/gaps.svg",
    "charts/revenue.svg",
];

/// A file of a run folder; of `report.html`, the lines that stay the same from one rerun to
/// the next (those marked `data-volatile` hold the date, command line and overrides of the run).
fn read(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let bytes = fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    if name != "report.html" {
        return bytes;
    }
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("data-volatile"), "the report shows its provenance");
    text.lines().filter(|l| !l.contains("data-volatile")).collect::<Vec<_>>().join("\n").into_bytes()
}

#[test]
fn run_writes_every_file_with_the_contract_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "out", "--quiet"]);
    let out = tmp.path().join("out");
    for f in FILES {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let header = |name: &str| String::from_utf8(read(&out, name)).unwrap().lines().next().unwrap().to_string();
    assert_eq!(
        header("firms_quarterly.csv"),
        "replication,quarter,firm,units_shipped,compute_shipped_pflops,revenue_usd,compute_share,revenue_share,\
         backlog_units,capacity_units,best_chip,best_chip_tflops,ecosystem,rd_spend_usd,cash_usd,inventory_units,\
         inventory_writeoff_usd"
    );
    assert_eq!(
        header("market_quarterly.csv"),
        "replication,quarter,regime,demand_pflops,delivered_pflops,domestic_compute_share,foreign_compute_share,\
         perf_gap_frontier,perf_gap_sellable,tenders_opened,tenders_awarded,unfilled_pflops,export_fees_usd,\
         cancelled_backlog_usd,inventory_writeoff_usd"
    );
    assert_eq!(
        header("chips_quarterly.csv"),
        "replication,quarter,firm,chip,units_shipped,compute_shipped_pflops,revenue_usd"
    );
    assert_eq!(
        header("contracts.csv"),
        "replication,contract,tender,customer,firm,chip,awarded_on,units,compute_pflops,value_usd,delivered_units,\
         status,closed_on"
    );
    assert_eq!(header("shares_wide.csv"), "quarter,dom,usa,domestic_total");
    assert!(header("summary.csv").starts_with("replication,seed,dom_final_year_compute_share,"));
    assert!(!out.join("events.csv").exists(), "events.csv only with --trace");
}

#[test]
fn same_seed_gives_byte_identical_files_and_the_resolved_scenario_reproduces_them() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    let tiny = tiny.to_str().unwrap();
    ok(tmp.path(), &["run", tiny, "--out", "a", "--quiet", "--seed", "11"]);
    ok(tmp.path(), &["run", tiny, "--out", "b", "--quiet", "--seed", "11"]);
    ok(tmp.path(), &["run", "a/scenario.resolved.toml", "--out", "c", "--quiet"]);
    ok(tmp.path(), &["run", tiny, "--out", "d", "--quiet", "--seed", "12"]);
    for f in FILES {
        let a = read(&tmp.path().join("a"), f);
        assert_eq!(a, read(&tmp.path().join("b"), f), "{f} differs between identical runs");
        assert_eq!(a, read(&tmp.path().join("c"), f), "{f} differs when re-running the resolved scenario");
    }
    assert_ne!(
        read(&tmp.path().join("a"), "contracts.csv"),
        read(&tmp.path().join("d"), "contracts.csv"),
        "another seed must give other draws"
    );
}

#[test]
fn no_scenario_runs_the_embedded_baseline_into_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(tmp.path(), &["run", "--replications", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("outputs/baseline"), "{stdout}");
    let market = fs::read_to_string(tmp.path().join("outputs/baseline/market_quarterly.csv")).unwrap();
    // 2021Q3 (a half-year warm-up) to 2031Q4: 42 quarters.
    assert_eq!(market.lines().count(), 1 + 42, "ten and a half years of quarters");
    assert!(market.lines().nth(1).is_some_and(|l| l.starts_with("0,2021Q3,")), "starts with the warm-up");
}

#[test]
fn trace_writes_events() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "t", "--quiet", "--trace"]);
    let events = fs::read_to_string(tmp.path().join("t/events.csv")).unwrap();
    assert!(events.starts_with("replication,time,kind,ids\n"));
    assert!(events.contains(",regime_change,ban"), "the scheduled ban is traced");
    assert!(events.contains(",award,"));
}

#[test]
fn graph_draws_links_cut_at_a_date_as_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let before = ok(tmp.path(), &["graph", "--at", "2024-01-01"]);
    let after = ok(tmp.path(), &["graph", "--at", "2025-01-01"]);
    let before = String::from_utf8(before.stdout).unwrap();
    let after = String::from_utf8(after.stdout).unwrap();
    assert!(
        before.starts_with("// regime in force on 2024-01-01 by the schedule: oct2023\ndigraph supply {"),
        "{before}"
    );
    let line = |dot: &str, from: &str, to: &str| {
        dot.lines().find(|l| l.contains(&format!("\"{from}\" -> \"{to}\""))).unwrap_or_default().to_string()
    };
    // TSMC 7nm for MetaX is cut from 2024-11-11 (tag tsmc_advanced), foreign HBM from 2024-12.
    assert!(!line(&before, "tsmc_n7", "metax").contains("cut"));
    assert!(line(&after, "tsmc_n7", "metax").contains("style=dashed"), "{after}");
    assert!(line(&after, "foreign_hbm", "huawei").contains(" cut"));
    assert!(!line(&after, "smic_n7", "huawei").contains("cut"), "domestic links stay");
    let bad = crate::common::fails_with(tmp.path(), &["graph", "--at", "2024-13-01"], 2);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("YYYY-MM-DD"));
}

#[test]
fn params_lists_every_path_with_its_value_and_set_uses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = String::from_utf8(ok(tmp.path(), &["params"]).stdout).unwrap();
    assert!(out.contains("firms.thead.rd_intensity = 0.3\n"), "{out}");
    assert!(out.contains("policy.regimes.h200_case_by_case.export_fee = 0.25\n"));
    assert!(out.contains("customers.alibaba_cloud.relationships.thead = 1.0\n"));
    let tiny = data("tiny.toml");
    let tiny = tiny.to_str().unwrap();
    ok(tmp.path(), &["run", tiny, "--out", "a", "--quiet", "--set", "firms.dom.rd_intensity=0.45"]);
    let resolved = fs::read_to_string(tmp.path().join("a/scenario.resolved.toml")).unwrap();
    assert!(resolved.contains("rd_intensity = 0.45"), "{resolved}");
}

#[test]
fn a_scenario_that_extends_another_runs_like_the_merged_file() {
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(data("tiny.toml"), tmp.path().join("tiny.toml")).unwrap();
    fs::write(
        tmp.path().join("child.toml"),
        "extends = \"tiny.toml\"\n[scenario]\nname = \"child\"\n[[firms]]\nid = \"dom\"\nrd_intensity = 0.45\n",
    )
    .unwrap();
    ok(tmp.path(), &["run", "child.toml", "--out", "c", "--quiet"]);
    ok(tmp.path(), &["run", "c/scenario.resolved.toml", "--out", "r", "--quiet"]);
    ok(
        tmp.path(),
        &[
            "run",
            "tiny.toml",
            "--out",
            "t",
            "--quiet",
            "--set",
            "firms.dom.rd_intensity=0.45",
            "--set",
            "scenario.name=child",
        ],
    );
    for f in FILES {
        assert_eq!(read(&tmp.path().join("c"), f), read(&tmp.path().join("r"), f), "{f}");
        assert_eq!(read(&tmp.path().join("c"), f), read(&tmp.path().join("t"), f), "{f}");
    }
    // An error in the child points into the child file.
    fs::write(tmp.path().join("bad.toml"), "extends = \"tiny.toml\"\n[[firms]]\nid = \"dom\"\nrd_intensity = 2.0\n")
        .unwrap();
    let out = crate::common::fails_with(tmp.path(), &["run", "bad.toml", "--out", "x"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:4:16: firms.dom.rd_intensity"), "{err}");
}

#[test]
fn run_files_do_not_depend_on_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    let tiny = tiny.to_str().unwrap();
    for (threads, out) in [("1", "one"), ("3", "three")] {
        let args = ["run", tiny, "--out", out, "--quiet", "--replications", "6"];
        let res = std::process::Command::new(env!("CARGO_BIN_EXE_chipmarket"))
            .args(args)
            .current_dir(tmp.path())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(res.status.success(), "{}", crate::common::show(&args, tmp.path(), &res));
    }
    for f in FILES {
        assert_eq!(read(&tmp.path().join("one"), f), read(&tmp.path().join("three"), f), "{f}");
    }
}

#[test]
fn contracts_can_be_left_out_and_the_other_files_stay_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    fs::write(tmp.path().join("tiny.toml"), &tiny).unwrap();
    fs::write(tmp.path().join("lean.toml"), format!("{tiny}\n[output]\ncontracts = false\n")).unwrap();
    ok(tmp.path(), &["run", "tiny.toml", "--out", "all", "--quiet", "--replications", "3"]);
    ok(tmp.path(), &["run", "lean.toml", "--out", "lean", "--quiet", "--replications", "3"]);
    assert!(tmp.path().join("all/contracts.csv").exists());
    assert!(!tmp.path().join("lean/contracts.csv").exists(), "contracts = false writes no contracts.csv");
    for f in FILES.iter().filter(|f| !f.ends_with(".toml") && **f != "contracts.csv") {
        assert_eq!(read(&tmp.path().join("all"), f), read(&tmp.path().join("lean"), f), "{f}");
    }
    // The derived outputs do without it: the summaries are the same, the workbook has no
    // contracts sheet.
    ok(tmp.path(), &["run", "lean.toml", "--out", "leanx", "--quiet", "--replications", "3", "--xlsx"]);
    for f in ["market_summary.csv", "firms_summary.csv", "shares_wide.csv", "gaps_wide.csv", "report.html"] {
        assert_eq!(read(&tmp.path().join("all"), f), read(&tmp.path().join("leanx"), f), "{f}");
    }
    let book: calamine::Xlsx<_> = calamine::open_workbook(tmp.path().join("leanx/results.xlsx")).unwrap();
    let sheets = calamine::Reader::sheet_names(&book);
    assert!(sheets.iter().any(|n| n == "summary"), "{sheets:?}");
    assert!(!sheets.iter().any(|n| n == "contracts"), "{sheets:?}");
}

#[test]
fn numbers_have_at_most_15_significant_digits_and_undefined_values_are_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = data("tiny.toml");
    ok(tmp.path(), &["run", tiny.to_str().unwrap(), "--out", "o", "--quiet", "--replications", "3"]);
    for f in FILES.iter().filter(|f| f.ends_with(".csv")) {
        let text = String::from_utf8(read(&tmp.path().join("o"), f)).unwrap();
        for cell in text.lines().skip(1).flat_map(|l| l.split(',')) {
            if cell.parse::<f64>().is_err() {
                continue;
            }
            let mantissa = cell.split('e').next().unwrap().replace(['-', '.'], "");
            let significant = mantissa.trim_start_matches('0').trim_end_matches('0');
            assert!(significant.len() <= 15, "{f}: {cell} has more than 15 significant digits");
        }
    }
    // tiny.toml bans US chips from 2025: no sellable gap then, while the frontier gap stays.
    let market = String::from_utf8(read(&tmp.path().join("o"), "market_quarterly.csv")).unwrap();
    let header: Vec<&str> = market.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (regime, frontier, sellable) = (col("regime"), col("perf_gap_frontier"), col("perf_gap_sellable"));
    let banned: Vec<Vec<&str>> =
        market.lines().skip(1).map(|l| l.split(',').collect::<Vec<_>>()).filter(|r| r[regime] == "ban").collect();
    assert!(!banned.is_empty(), "{market}");
    for r in &banned {
        assert_eq!(r[sellable], "", "no US chip may be sold: the sellable gap is empty, not 0");
        assert!(r[frontier].parse::<f64>().is_ok_and(|g| g > 0.0), "{r:?}");
    }
    // A firm with no chip on sale has neither a best chip nor its TFLOPS.
    let firms = String::from_utf8(read(&tmp.path().join("o"), "firms_quarterly.csv")).unwrap();
    assert!(!firms.lines().skip(1).any(|l| l.split(',').nth(11) == Some("0")), "best_chip_tflops is never 0");
}
