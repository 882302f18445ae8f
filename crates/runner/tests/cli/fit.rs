//! `chipmarket compare` and `calibrate`: values checked against the run's CSVs, bad targets,
//! byte-identical calibrations for any --jobs, resume after SIGKILL, and recovery of known
//! parameter values.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{data, fails_with, ok};

fn copy_tiny(dir: &Path) {
    fs::copy(data("tiny.toml"), dir.join("tiny.toml")).unwrap();
}

/// `(replication, quarter, id) -> (units, revenue)` read from a quarterly CSV by hand.
fn rows(path: &Path, id_col: &str) -> BTreeMap<(u32, String, String), (f64, f64)> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (r, q, id, u, rev) = (at("replication"), at("quarter"), at(id_col), at("units_shipped"), at("revenue_usd"));
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                (c[r].parse().unwrap(), c[q].to_string(), c[id].to_string()),
                (c[u].parse().unwrap(), c[rev].parse().unwrap()),
            )
        })
        .collect()
}

fn fit_rows(dir: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(dir.join("fit.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn compare_computes_each_target_from_the_run_csvs() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tiny(tmp.path());
    ok(tmp.path(), &["run", "tiny.toml", "--out", "run", "--replications", "3", "--quiet"]);
    fs::write(
        tmp.path().join("t.csv"),
        "id,period,metric,firm,value,low,high,notes\n\
         S,2024,unit_share,usa,0.5,0.4,0.99,\"a note, with a comma\"\n\
         R,2024-02..2025-01,revenue_usd,dom,1,0,1e12,\n\
         C,2024H2,units,usa_1,1,0,1e12,\n\
         M,2024Q3,market_usd,all,1,0,1,\n",
    )
    .unwrap();
    let out = ok(tmp.path(), &["compare", "run", "--targets", "t.csv"]);
    let stdout = String::from_utf8_lossy(&out.stdout);

    let firms = rows(&tmp.path().join("run/firms_quarterly.csv"), "firm");
    let chips = rows(&tmp.path().join("run/chips_quarterly.csv"), "chip");
    let mean = |f: &dyn Fn(u32) -> f64| (0..3).map(f).sum::<f64>() / 3.0;
    let get = |m: &BTreeMap<(u32, String, String), (f64, f64)>, r: u32, q: &str, id: &str| {
        m.get(&(r, q.to_string(), id.to_string())).copied().unwrap_or((0.0, 0.0))
    };
    let q24 = ["2024Q1", "2024Q2", "2024Q3", "2024Q4"];
    let share = mean(&|r| {
        let usa: f64 = q24.iter().map(|q| get(&firms, r, q, "usa").0).sum();
        let all: f64 = q24.iter().map(|q| get(&firms, r, q, "usa").0 + get(&firms, r, q, "dom").0).sum();
        usa / all
    });
    // February to January: two thirds of 2024Q1, the next three quarters, a third of 2025Q1.
    let revenue = mean(&|r| {
        get(&firms, r, "2024Q1", "dom").1 * 2.0 / 3.0
            + ["2024Q2", "2024Q3", "2024Q4"].iter().map(|q| get(&firms, r, q, "dom").1).sum::<f64>()
            + get(&firms, r, "2025Q1", "dom").1 / 3.0
    });
    let chip_units = mean(&|r| get(&chips, r, "2024Q3", "usa_1").0 + get(&chips, r, "2024Q4", "usa_1").0);
    let market = mean(&|r| get(&firms, r, "2024Q3", "usa").1 + get(&firms, r, "2024Q3", "dom").1);
    assert!(revenue > 0.0 && chip_units > 0.0 && market > 1.0, "the run delivered something");

    let fit = fit_rows(&tmp.path().join("run"));
    let sim: Vec<f64> = fit.iter().map(|r| r[7].parse().unwrap()).collect();
    for (got, want) in sim.iter().zip([share, revenue, chip_units, market]) {
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{got} vs {want}\n{stdout}");
    }
    let inside: Vec<bool> = fit.iter().map(|r| r[10] == "true").collect();
    assert!(!inside[3], "a market of more than 1 USD is outside [0, 1]");
    assert!(inside[1]);
    let n = inside.iter().filter(|x| **x).count();
    assert!(stdout.contains(&format!("{n}/4 inside")), "{stdout}");
    assert_eq!(fit[1][1], "2024-02..2025-01");
}

#[test]
fn compare_refuses_unknown_metrics_and_firms_with_their_place() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tiny(tmp.path());
    ok(tmp.path(), &["run", "tiny.toml", "--out", "run", "--replications", "1", "--quiet"]);
    let cases = [
        ("A,2024,unit_shares,usa,0.5,0.4,0.6\n", "bad.csv:2:8: A.metric: unknown metric \"unit_shares\""),
        ("A,2024,unit_share,nvidia,0.5,0.4,0.6\n", "bad.csv:2:19: A.firm: unknown firm or chip \"nvidia\""),
        ("A,FY2025,unit_share,usa,0.5,0.4,0.6\n", "bad.csv:2:3: A.period: expected a period"),
        ("A,2030,unit_share,usa,0.5,0.4,0.6\n", "A.period: the run covers"),
    ];
    for (row, message) in cases {
        fs::write(tmp.path().join("bad.csv"), format!("id,period,metric,firm,value,low,high\n{row}")).unwrap();
        let out = fails_with(tmp.path(), &["compare", "run", "--targets", "bad.csv"], 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{stderr}");
        assert!(stderr.contains("hint:"), "{stderr}");
        assert!(!tmp.path().join("run/fit.csv").exists(), "nothing written");
    }
    // The embedded targets name the baseline's firms, which the tiny scenario does not have.
    let out = fails_with(tmp.path(), &["compare", "run"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("observed_2022_2024.csv (embedded):2:"), "{out:?}");
}

pub const TARGETS: &str = "id,period,metric,firm,value,low,high\n\
    A,2024,unit_share,usa,0.6,0.3,0.9\nB,2024H1,total_units,all,500,100,900\nC,2025,total_units,all,4000,1000,8000\n";

pub fn calibration(dir: &Path, name: &str, budget: u32, reps: u32) -> String {
    copy_tiny(dir);
    fs::write(dir.join("t.csv"), TARGETS).unwrap();
    let text = format!(
        "base = \"tiny.toml\"\ntargets = \"t.csv\"\nreplications = {reps}\nbudget = {budget}\nseed = 5\n\
         [[free]]\npath = \"demand.growth_rate_per_year\"\nrange = [0.2, 0.9]\n\
         [[free]]\npath = \"customers.telco.domestic_mandate\"\nrange = [0.0, 0.8]\n\
         [[free]]\npath = \"demand.saturation_pflops\"\nrange = [20000.0, 200000.0]\nscale = \"log\"\n"
    );
    fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

const OUT_FILES: [&str; 3] = ["calibrated.toml", "fit.csv", "trace.csv"];

/// The files of a folder, its marker (`.chipmarket.json`) left out.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".chipmarket.json")
        .collect();
    v.sort();
    v
}

fn assert_same(a: &Path, b: &Path) {
    for f in OUT_FILES {
        assert_eq!(fs::read_to_string(a.join(f)).unwrap(), fs::read_to_string(b.join(f)).unwrap(), "{f} differs");
    }
}

#[test]
fn calibrations_are_byte_identical_for_any_jobs_and_the_layer_runs() {
    let tmp = tempfile::tempdir().unwrap();
    for method in ["cmaes", "nelder-mead", "lhs"] {
        let file = calibration(tmp.path(), "cal.toml", 30, 2);
        let text = fs::read_to_string(tmp.path().join(&file))
            .unwrap()
            .replace("seed = 5", &format!("seed = 5\nmethod = \"{method}\""));
        fs::write(tmp.path().join(&file), text).unwrap();
        ok(tmp.path(), &["calibrate", &file, "--out", "j1", "--jobs", "1", "--quiet"]);
        ok(tmp.path(), &["calibrate", &file, "--out", "j2", "--jobs", "2", "--quiet"]);
        assert_same(&tmp.path().join("j1"), &tmp.path().join("j2"));
        assert_eq!(listing(&tmp.path().join("j1")), OUT_FILES);
        let trace = fs::read_to_string(tmp.path().join("j1/trace.csv")).unwrap();
        // Header, at most `budget` evaluations, and the re-run.
        let n = trace.lines().count();
        assert!((8..=32).contains(&n), "{method}: {n} lines");
        assert!(trace.lines().last().unwrap().contains(",final,rerun,"));
        // The layer extends the base and runs.
        ok(tmp.path(), &["run", "j1/calibrated.toml", "--out", "run", "--quiet", "--replications", "1"]);
        fs::remove_dir_all(tmp.path().join("j1")).unwrap();
        fs::remove_dir_all(tmp.path().join("j2")).unwrap();
    }
}

#[test]
fn a_calibration_killed_mid_search_resumes_to_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = calibration(tmp.path(), "cal.toml", 400, 12);
    let partial = tmp.path().join("killed/.trace.partial.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chipmarket"))
        .args(["calibrate", &file, "--out", "killed", "--jobs", "2", "--quiet"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let rows = fs::read(&partial).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0);
        if rows > 100 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the calibration wrote no rows");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the calibration finished before it could be killed; make it bigger"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = tmp.path().join("killed");
    assert!(!killed.join("calibrated.toml").exists(), "killed before the end");
    let mut bytes = fs::read(&partial).unwrap();
    bytes.extend_from_slice(b"999,9,cmaes,0.5");
    fs::write(&partial, bytes).unwrap();

    let out = fails_with(tmp.path(), &["calibrate", &file, "--out", "killed"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"), "{out:?}");
    let out = ok(tmp.path(), &["calibrate", &file, "--out", "killed", "--resume", "--jobs", "1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already done"), "{out:?}");
    ok(tmp.path(), &["calibrate", &file, "--out", "whole", "--quiet"]);
    assert_same(&tmp.path().join("whole"), &killed);
    assert_eq!(listing(&killed), OUT_FILES, "no hidden file is left");
    let out = ok(tmp.path(), &["calibrate", &file, "--out", "killed", "--resume"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already complete"));
}

#[test]
fn calibrate_recovers_parameters_that_generated_the_targets() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tiny(tmp.path());
    // The truth: growth 0.5 (tiny's own) and a telco domestic mandate of 0.3.
    fs::write(
        tmp.path().join("truth.toml"),
        "extends = \"tiny.toml\"\n[[customers]]\nid = \"telco\"\ndomestic_mandate = 0.3\n",
    )
    .unwrap();
    ok(tmp.path(), &["run", "truth.toml", "--out", "truth", "--replications", "4", "--quiet"]);
    let wide = "id,period,metric,firm,value,low,high\n\
        A,2024,unit_share,usa,0.5,0,1\nB,2024H1,total_units,all,1,0,1e12\nC,2024H2,total_units,all,1,0,1e12\n\
        D,2025H1,total_units,all,1,0,1e12\nE,2025,unit_share,dom,0.5,0,1\nF,2025H2,total_units,all,1,0,1e12\n";
    fs::write(tmp.path().join("wide.csv"), wide).unwrap();
    ok(tmp.path(), &["compare", "truth", "--targets", "wide.csv"]);
    // Targets: the truth's simulated means with bands of +-3%.
    let mut targets = String::from("id,period,metric,firm,value,low,high\n");
    for r in fit_rows(&tmp.path().join("truth")) {
        let v: f64 = r[7].parse().unwrap();
        targets.push_str(&format!("{},{},{},{},{v},{},{}\n", r[0], r[1], r[2], r[3], v * 0.97, v * 1.03));
    }
    fs::write(tmp.path().join("targets.csv"), targets).unwrap();
    // The start: both values perturbed.
    fs::write(
        tmp.path().join("perturbed.toml"),
        "extends = \"tiny.toml\"\n[demand]\ngrowth_rate_per_year = 0.8\n[[customers]]\nid = \"telco\"\ndomestic_mandate = 0.7\n",
    )
    .unwrap();
    fs::write(
        tmp.path().join("cal.toml"),
        "base = \"perturbed.toml\"\ntargets = \"targets.csv\"\nreplications = 4\nbudget = 80\nseed = 2\n\
         [[free]]\npath = \"demand.growth_rate_per_year\"\nrange = [0.2, 0.9]\n\
         [[free]]\npath = \"customers.telco.domestic_mandate\"\nrange = [0.0, 0.8]\n",
    )
    .unwrap();
    ok(tmp.path(), &["calibrate", "cal.toml", "--out", "cal", "--quiet"]);
    let layer = fs::read_to_string(tmp.path().join("cal/calibrated.toml")).unwrap();
    let tree: toml::Table = layer.parse().unwrap();
    let growth = tree["demand"]["growth_rate_per_year"].as_float().unwrap();
    let mandate = tree["customers"][0]["domestic_mandate"].as_float().unwrap();
    assert!((growth - 0.5).abs() <= 0.1 * 0.7, "growth {growth}\n{layer}");
    assert!((mandate - 0.3).abs() <= 0.1 * 0.8, "mandate {mandate}\n{layer}");
}

#[test]
fn calibration_files_are_checked_with_their_place() {
    let tmp = tempfile::tempdir().unwrap();
    let file = calibration(tmp.path(), "cal.toml", 30, 2);
    let good = fs::read_to_string(tmp.path().join(&file)).unwrap();
    let cases = [
        (good.replace("seed = 5", "seed = 5\nbudjet = 3"), "cal.toml:6:1: budjet"),
        (good.replace("demand.growth_rate_per_year", "demand.growth_rate"), "cal.toml:7:8: free.0.path"),
        (good.replace("targets = \"t.csv\"", "targets = \"t.csv\"\nexclude = [\"Z\"]"), "no target has the id \"Z\""),
        (good.replace("seed = 5", "seed = 5\nuntil = \"2024-06-01\""), "target A covers 2024"),
        (good.replace("base = \"tiny.toml\"", "base = \"nope.toml\""), "cal.toml:1:8: base: cannot read"),
    ];
    for (text, message) in cases {
        fs::write(tmp.path().join("bad.toml"), text).unwrap();
        let out = fails_with(tmp.path(), &["calibrate", "bad.toml", "--out", "x", "--quiet"], 2);
        let stderr = String::from_utf8_lossy(&out.stderr).replace("bad.toml", "cal.toml");
        assert!(stderr.contains(message), "{message}\n{stderr}");
        assert!(!tmp.path().join("x").exists(), "nothing written");
    }
}

#[test]
fn compare_counts_server_shipments_after_the_scenarios_lag_and_reads_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tiny(tmp.path());
    ok(
        tmp.path(),
        &[
            "run",
            "tiny.toml",
            "--out",
            "run",
            "--replications",
            "2",
            "--quiet",
            "--set",
            "observation.server_shipments.lag_quarters=1",
        ],
    );
    fs::write(
        tmp.path().join("t.csv"),
        "id,period,metric,firm,value,low,high,observation\n\
         S,2024Q3,total_units,all,1000,900,1100,server_shipments\n\
         D,2024Q3,total_units,all,1000,900,1100,\n\
         U,2024Q3,total_units,all,1,0,2,\n\
         B,2024Q3,revenue_usd,usa,1,0.5,2,billing_all_segments\n",
    )
    .unwrap();
    ok(tmp.path(), &["compare", "run", "--targets", "t.csv"]);
    let firms = rows(&tmp.path().join("run/firms_quarterly.csv"), "firm");
    let all = |q: &str| -> f64 {
        (0..2)
            .map(|r| ["usa", "dom"].iter().map(|f| firms[&(r, q.to_string(), f.to_string())].0).sum::<f64>())
            .sum::<f64>()
            / 2.0
    };
    let fit = fit_rows(&tmp.path().join("run"));
    let sim = |i: usize| fit[i][7].parse::<f64>().unwrap();
    // A lag of one quarter: the cards counted in 2024Q3 are those delivered in 2024Q2.
    assert!((sim(0) - all("2024Q2")).abs() < 1e-6, "{} vs {}", sim(0), all("2024Q2"));
    assert!((sim(1) - all("2024Q3")).abs() < 1e-6);
    assert_ne!(all("2024Q2"), all("2024Q3"), "the test needs quarters that differ");
    assert_eq!((fit[0][11].as_str(), fit[0][12].as_str()), ("server_shipments", "band"));
    // low = 0 is an upper bound: far above it is a miss; billing is an upper bound too.
    assert_eq!((fit[2][12].as_str(), fit[2][10].as_str()), ("upper", "false"));
    assert_eq!(fit[3][12], "upper");
    assert_eq!(fit[3][10], (sim(3) <= 2.0).to_string());
}

#[test]
fn compare_scores_every_row_of_both_observed_files_on_the_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &["run", "--out", "b", "--replications", "1", "--quiet"]);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    for (file, n) in [("observed_2022_2024.csv", 22), ("observed_2025.csv", 15)] {
        let out = ok(tmp.path(), &["compare", "b", "--targets", data.join(file).to_str().unwrap()]);
        let fit = fit_rows(&tmp.path().join("b"));
        assert_eq!(fit.len(), n, "{file}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("/{n} inside")), "{stdout}");
        if file == "observed_2025.csv" {
            assert!(fit.iter().all(|r| !r[11].is_empty()), "every 2025 row has its kind");
            let bound = |id: &str| fit.iter().find(|r| r[0] == id).unwrap()[12].clone();
            assert_eq!([bound("P9"), bound("P13"), bound("P15"), bound("P1")], ["lower", "upper", "upper", "band"]);
        }
    }
    // The default is the embedded 2022-2024 file, tagged the same way.
    ok(tmp.path(), &["compare", "b"]);
    let fit = fit_rows(&tmp.path().join("b"));
    assert_eq!(fit.iter().find(|r| r[0] == "O18").unwrap()[12], "upper");
}

#[test]
fn abc_smc_gives_a_posterior_that_holds_the_truth_byte_identical_for_any_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tiny(tmp.path());
    // The truth: growth 0.5 (tiny's own) and a telco domestic mandate of 0.3.
    fs::write(
        tmp.path().join("truth.toml"),
        "extends = \"tiny.toml\"\n[[customers]]\nid = \"telco\"\ndomestic_mandate = 0.3\n",
    )
    .unwrap();
    ok(tmp.path(), &["run", "truth.toml", "--out", "truth", "--replications", "4", "--quiet"]);
    let wide = "id,period,metric,firm,value,low,high\n\
        A,2024,unit_share,usa,0.5,0.01,1\nB,2024H1,total_units,all,1,0.5,1e12\nC,2024H2,total_units,all,1,0.5,1e12\n\
        D,2025H1,total_units,all,1,0.5,1e12\nE,2025,unit_share,dom,0.5,0.01,1\nF,2025H2,total_units,all,1,0.5,1e12\n";
    fs::write(tmp.path().join("wide.csv"), wide).unwrap();
    ok(tmp.path(), &["compare", "truth", "--targets", "wide.csv"]);
    let mut targets = String::from("id,period,metric,firm,value,low,high\n");
    for r in fit_rows(&tmp.path().join("truth")) {
        let v: f64 = r[7].parse().unwrap();
        targets.push_str(&format!("{},{},{},{},{v},{},{}\n", r[0], r[1], r[2], r[3], v * 0.95, v * 1.05));
    }
    fs::write(tmp.path().join("targets.csv"), targets).unwrap();
    fs::write(
        tmp.path().join("cal.toml"),
        "base = \"tiny.toml\"\ntargets = \"targets.csv\"\nreplications = 4\nbudget = 400\nseed = 2\n\
         method = \"abc-smc\"\nparticles = 30\ngenerations = 3\n\
         [[free]]\npath = \"demand.growth_rate_per_year\"\nrange = [0.2, 0.9]\n\
         [[free]]\npath = \"customers.telco.domestic_mandate\"\nrange = [0.0, 0.8]\n\
         prior = { kind = \"beta\", alpha = 1.5, beta = 1.5 }\n",
    )
    .unwrap();
    let out = ok(tmp.path(), &["calibrate", "cal.toml", "--out", "j1", "--jobs", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("effective sample size"), "{stdout}");
    ok(tmp.path(), &["calibrate", "cal.toml", "--out", "j2", "--jobs", "2", "--quiet"]);
    for f in ["posterior.csv", "posterior_summary.csv", "trace.csv", "calibrated.toml", "fit.csv"] {
        let a = fs::read_to_string(tmp.path().join("j1").join(f)).unwrap();
        assert_eq!(a, fs::read_to_string(tmp.path().join("j2").join(f)).unwrap(), "{f} differs");
    }
    let post = fs::read_to_string(tmp.path().join("j1/posterior.csv")).unwrap();
    assert_eq!(
        post.lines().next().unwrap(),
        "particle,weight,demand.growth_rate_per_year,customers.telco.domestic_mandate,loss"
    );
    assert_eq!(post.lines().count(), 31);
    let total: f64 = post.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9, "weights sum to {total}");
    // Recovery: each true value inside its posterior 90% interval.
    let summary = fs::read_to_string(tmp.path().join("j1/posterior_summary.csv")).unwrap();
    for (line, truth) in summary.lines().skip(1).zip([0.5, 0.3]) {
        let c: Vec<&str> = line.split(',').collect();
        let (lo, hi): (f64, f64) = (c[3].parse().unwrap(), c[5].parse().unwrap());
        assert!(lo <= truth && truth <= hi, "{} = {truth} outside [{lo}, {hi}]\n{summary}", c[0]);
    }
}

#[test]
fn resume_refuses_a_partial_trace_whose_losses_were_edited() {
    let tmp = tempfile::tempdir().unwrap();
    let file = calibration(tmp.path(), "cal.toml", 400, 12);
    let partial = tmp.path().join("killed/.trace.partial.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chipmarket"))
        .args(["calibrate", &file, "--out", "killed", "--jobs", "2", "--quiet"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Rows the seal vouches for (rows written but not yet sealed are run again, not trusted).
    let seal = tmp.path().join("killed/.trace.partial.sha256");
    let sealed_rows = || -> usize {
        let len = fs::read_to_string(&seal).ok().and_then(|s| s.split(' ').next()?.parse::<usize>().ok());
        let bytes = fs::read(&partial).unwrap_or_default();
        len.map_or(0, |n| bytes[..n.min(bytes.len())].iter().filter(|&&c| c == b'\n').count())
    };
    while sealed_rows() <= 20 {
        assert!(started.elapsed() < Duration::from_secs(300), "the calibration wrote no rows");
        assert!(child.try_wait().unwrap().is_none(), "the calibration finished before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Give the second evaluation a loss of 0, as a hand edit would.
    let text = fs::read_to_string(&partial).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "loss").unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    cells[col] = "0".into();
    lines[2] = cells.join(",");
    fs::write(&partial, lines.join("\n") + "\n").unwrap();
    let out = fails_with(tmp.path(), &["calibrate", &file, "--out", "killed", "--resume"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("trace (.trace.partial.csv) was changed since it was written") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!tmp.path().join("killed/calibrated.toml").exists());
}
