//! Paired comparisons: a multi-scenario `run` writes each run and their comparison, `diff`
//! refuses runs that cannot be paired, and the paired band of a difference is narrower than
//! the band of independent runs.

use std::fs;
use std::path::Path;

use crate::common::{fails_with, ok, scenario};

/// Per replication, the yearly domestic share of `year` (weighted by compute delivered, as the
/// summaries define it), read from a run's `market_quarterly.csv`.
fn yearly_domestic_share(dir: &Path, year: &str) -> Vec<f64> {
    let text = fs::read_to_string(dir.join("market_quarterly.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (rep, quarter, share, delivered) =
        (col("replication"), col("quarter"), col("domestic_compute_share"), col("delivered_pflops"));
    let mut sums: Vec<(f64, f64)> = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if !cells[quarter].starts_with(year) {
            continue;
        }
        let r: usize = cells[rep].parse().unwrap();
        if sums.len() <= r {
            sums.resize(r + 1, (0.0, 0.0));
        }
        if let (Ok(s), Ok(d)) = (cells[share].parse::<f64>(), cells[delivered].parse::<f64>()) {
            sums[r].0 += s * d;
            sums[r].1 += d;
        }
    }
    sums.iter().map(|(n, d)| n / d).collect()
}

/// The 5 % and 95 % quantiles (type 7).
fn band(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = (v.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(v.len() - 1);
        v[lo] + (h - lo as f64) * (v[hi] - v[lo])
    };
    (q(0.05), q(0.95))
}

#[test]
fn a_multi_scenario_run_pairs_replications_and_the_paired_band_is_narrower() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, other) = (scenario("baseline.toml"), scenario("licensed-exports.toml"));
    let args =
        ["run", base.to_str().unwrap(), other.to_str().unwrap(), "--replications", "12", "--out", "cmp", "--quiet"];
    ok(tmp.path(), &args);
    let dir = tmp.path().join("cmp");
    for f in ["baseline/report.html", "licensed-exports/report.html", "comparison/report.html"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // The paired 2027 difference, recomputed from the two runs' quarterly files.
    let b = yearly_domestic_share(&dir.join("baseline"), "2027");
    let o = yearly_domestic_share(&dir.join("licensed-exports"), "2027");
    assert_eq!((b.len(), o.len()), (12, 12));
    let paired: Vec<f64> = b.iter().zip(&o).map(|(b, o)| o - b).collect();
    // Independent runs: every replication of one against every other replication of the other.
    let unpaired: Vec<f64> =
        (0..12).flat_map(|i| (0..12).filter(move |j| *j != i).map(move |j| (i, j))).map(|(i, j)| o[i] - b[j]).collect();
    let (p_lo, p_hi) = band(paired.clone());
    let (u_lo, u_hi) = band(unpaired);
    let (pw, uw) = (p_hi - p_lo, u_hi - u_lo);
    assert!(pw < uw, "paired 90 % band {pw} is not narrower than the unpaired {uw}");
    eprintln!("2027 domestic share, licensed-exports - baseline: paired 90 % band {pw:.5}, unpaired {uw:.5}");
    // diff_yearly.csv holds the same paired statistics.
    let text = fs::read_to_string(dir.join("comparison/diff_yearly.csv")).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("licensed-exports,domestic_compute_share,market,2027,"))
        .unwrap_or_else(|| panic!("no 2027 row in\n{text}"));
    let cells: Vec<f64> = row.split(',').skip(4).map(|c| c.parse().unwrap()).collect();
    let mean = paired.iter().sum::<f64>() / 12.0;
    assert_eq!(cells[0], 12.0, "n");
    assert!((cells[3] - mean).abs() < 1e-12, "{row}");
    assert!((cells[5] - p_lo).abs() < 1e-12 && (cells[7] - p_hi).abs() < 1e-12, "{row}");
    // diff reproduces the comparison byte for byte (the manifest, with the time, aside).
    ok(tmp.path(), &["diff", "cmp/baseline", "cmp/licensed-exports", "--out", "again", "--quiet"]);
    for f in [
        "diff_quarterly.csv",
        "diff_yearly.csv",
        "diff_kpis.csv",
        "charts/diff_licensed-exports_domestic_compute_share.svg",
    ] {
        assert_eq!(
            fs::read(dir.join("comparison").join(f)).unwrap(),
            fs::read(tmp.path().join("again").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn diff_refuses_runs_whose_seeds_or_replications_differ() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = crate::common::data("tiny.toml");
    let t = tiny.to_str().unwrap();
    ok(tmp.path(), &["run", t, "--out", "a", "--quiet"]);
    ok(tmp.path(), &["run", t, "--out", "b", "--seed", "99", "--quiet"]);
    ok(tmp.path(), &["run", t, "--out", "c", "--replications", "3", "--quiet"]);
    let out = fails_with(tmp.path(), &["diff", "a", "b", "--out", "d"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("seeds differ") && err.contains("hint:"), "{err}");
    let out = fails_with(tmp.path(), &["diff", "a", "c", "--out", "d"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("replications differ"));
    assert!(!tmp.path().join("d").exists(), "nothing written");
    // A folder that is not a run.
    fs::create_dir(tmp.path().join("e")).unwrap();
    fails_with(tmp.path(), &["diff", "a", "e", "--out", "d"], 2);
}

#[test]
fn the_report_shows_its_provenance_and_only_those_rows_change_between_reruns() {
    let tmp = tempfile::tempdir().unwrap();
    let tiny = crate::common::data("tiny.toml");
    let t = tiny.to_str().unwrap();
    let set = "firms.dom.rd_intensity=0.3";
    ok(tmp.path(), &["run", t, "--set", set, "--out", "a", "--quiet"]);
    ok(tmp.path(), &["run", t, "--set", set, "--out", "b", "--quiet"]);
    let report = |d: &str| fs::read_to_string(tmp.path().join(d).join("report.html")).unwrap();
    let a = report("a");
    for want in ["<h2>Provenance</h2>", "chipmarket version", env!("CARGO_PKG_VERSION"), set, "--out a"] {
        assert!(a.contains(want), "the report lacks {want}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(tmp.path().join("a/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["overrides"], serde_json::json!([set]), "the manifest records the overrides");
    assert!(a.contains(manifest["started_at"].as_str().unwrap()), "the report's date is the manifest's");
    let stable = |r: &str| r.lines().filter(|l| !l.contains("data-volatile")).collect::<Vec<_>>().join("\n");
    assert_ne!(a, report("b"), "the command lines differ");
    assert_eq!(stable(&a), stable(&report("b")), "only the rows marked data-volatile differ");
    // plot remakes the report with the provenance of the run, not its own.
    fs::remove_file(tmp.path().join("a/report.html")).unwrap();
    ok(tmp.path(), &["plot", "a", "--quiet"]);
    assert_eq!(report("a"), a);
}
