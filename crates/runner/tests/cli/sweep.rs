//! `chipmarket sweep` and `merge`: files, determinism across --jobs and shards, resume after
//! SIGKILL, failures, and the messages for bad sweep files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{chipmarket, data, fails_with, ok, scenario, show};

/// The files a finished sweep writes (without failures, shards or --keep-runs).
const FILES: [&str; 5] = ["sweep.resolved.toml", "runs.csv", "points.csv", "points_wide.csv", "report.html"];

/// Write a sweep file over `tests/data/tiny.toml` into `dir`, with `body` after the `base` line.
fn sweep_file(dir: &Path, name: &str, body: &str) -> String {
    let text = format!("base = {:?}\n{body}", data("tiny.toml").to_string_lossy());
    fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn text(dir: &Path, name: &str) -> String {
    String::from_utf8(read(dir, name)).unwrap()
}

fn assert_same_files(a: &Path, b: &Path) {
    for f in FILES {
        assert!(read(a, f) == read(b, f), "{f} differs between {} and {}", a.display(), b.display());
    }
}

/// Visible entries of a folder, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// What a finished sweep folder lists.
const DONE: [&str; 7] =
    ["charts", "manifest.json", "points.csv", "points_wide.csv", "report.html", "runs.csv", "sweep.resolved.toml"];

const GRID: &str = "replications = 3
method = \"grid\"
[[vary]]
path = \"firms.dom.rd_intensity\"
values = [0.1, 0.3]
[[vary]]
path = \"demand.tenders_per_year\"
range = [6, 18]
steps = 3
";

const LHS: &str = "replications = 4
method = \"lhs\"
samples = 25
seed = 3
[[vary]]
path = \"firms.dom.capacity_units_per_quarter\"
range = [1000, 8000]
[[vary]]
path = \"demand.bid_window_days\"
range = [10, 60]
[[vary]]
path = \"policy.regimes.ban.foreign_max_tpp\"
values = [0.0, 5000.0, 20000.0]
";

#[test]
fn a_sweep_writes_runs_points_and_a_resolved_file_that_reruns_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "grid.toml", GRID);
    ok(tmp.path(), &["sweep", &file, "--out", "out", "--quiet"]);
    let out = tmp.path().join("out");
    assert_eq!(listing(&out), DONE);
    assert!(fs::read_dir(&out).unwrap().all(|e| {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        !n.starts_with('.') || n == ".chipmarket.json"
    }));

    let runs = text(&out, "runs.csv");
    let mut lines = runs.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with(
            "point,replication,seed,param_firms.dom.rd_intensity,param_demand.tenders_per_year,dom_final_year_compute_share,"
        ),
        "{header}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 3 * 3, "points x replications");
    let ids: Vec<(&str, &str, &str, &str, &str)> = rows.iter().map(|r| (r[0], r[1], r[2], r[3], r[4])).collect();
    assert_eq!(ids[0], ("0", "0", "7", "0.1", "6"));
    assert_eq!(ids[4], ("1", "1", "7", "0.1", "12"));
    assert_eq!(ids[17], ("5", "2", "7", "0.3", "18"));

    let points = text(&out, "points.csv");
    let n_kpis = header.split(',').count() - 5;
    assert!(points.starts_with(
        "point,param_firms.dom.rd_intensity,param_demand.tenders_per_year,kpi,mean,sd,p05,p50,p95,n\n\
         0,0.1,6,dom_final_year_compute_share,"
    ));
    assert_eq!(points.lines().count(), 1 + 6 * n_kpis);
    assert!(points.lines().any(|l| l.starts_with("5,0.3,18,market_cumulative_demand_pflops,") && l.ends_with(",3")));

    // The resolved sweep is self-contained: run from its own folder, it gives the same files.
    ok(tmp.path(), &["sweep", "out/sweep.resolved.toml", "--out", "again", "--quiet"]);
    assert_same_files(&out, &tmp.path().join("again"));
}

#[test]
fn jobs_1_and_jobs_2_give_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "lhs.toml", LHS);
    ok(tmp.path(), &["sweep", &file, "--out", "j1", "--jobs", "1", "--quiet"]);
    ok(tmp.path(), &["sweep", &file, "--out", "j2", "--jobs", "2", "--quiet"]);
    ok(tmp.path(), &["sweep", &file, "--out", "j3", "--jobs", "3", "--quiet"]);
    assert_same_files(&tmp.path().join("j1"), &tmp.path().join("j2"));
    assert_same_files(&tmp.path().join("j1"), &tmp.path().join("j3"));
    assert_eq!(text(&tmp.path().join("j1"), "runs.csv").lines().count(), 1 + 25 * 4);
}

/// Start `chipmarket` with `args` in `cwd` without waiting.
fn spawn(cwd: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_chipmarket"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

#[test]
fn shards_run_as_separate_processes_merge_into_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "lhs.toml", LHS);
    ok(tmp.path(), &["sweep", &file, "--out", "whole", "--quiet"]);
    let children: Vec<_> = (1..=3)
        .map(|k| {
            let shard = format!("{k}/3");
            let out = format!("shard-{k}");
            spawn(tmp.path(), &["sweep", &file, "--shard", &shard, "--out", &out, "--jobs", "1", "--quiet"])
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let shard2 = tmp.path().join("shard-2");
    // A shard writes no charts or report: the merge makes the sweep's.
    assert_eq!(listing(&shard2), ["points.csv", "runs.csv", "shard.toml", "sweep.resolved.toml"]);
    assert!(text(&shard2, "shard.toml").contains("shard = \"2/3\"\nfirst_point = 8\nend_point = 16\n"));
    assert_eq!(text(&shard2, "runs.csv").lines().nth(1).unwrap().split(',').next(), Some("8"));

    ok(tmp.path(), &["merge", "shard-3", "shard-1", "shard-2", "--out", "merged"]);
    assert_eq!(listing(&tmp.path().join("merged")), DONE);
    assert_same_files(&tmp.path().join("whole"), &tmp.path().join("merged"));
}

#[test]
fn a_large_sweep_draws_bounded_charts_the_same_for_any_jobs_and_shards() {
    // 1,200 points: more than a chart draws one by one (1,000), so every chart draws one point
    // in two, and the continuous axis (1,200 distinct values) is averaged in 100 bins.
    let tmp = tempfile::tempdir().unwrap();
    let body = LHS.replace("samples = 25", "samples = 1200").replace("replications = 4", "replications = 1");
    let file = sweep_file(tmp.path(), "large.toml", &body);
    ok(tmp.path(), &["sweep", &file, "--out", "whole", "--jobs", "2", "--quiet"]);
    for k in 1..=3 {
        let (shard, out) = (format!("{k}/3"), format!("s{k}"));
        ok(tmp.path(), &["sweep", &file, "--shard", &shard, "--out", &out, "--jobs", "1", "--quiet"]);
    }
    ok(tmp.path(), &["merge", "s1", "s2", "s3", "--out", "merged"]);
    let (whole, merged) = (tmp.path().join("whole"), tmp.path().join("merged"));
    assert_same_files(&whole, &merged);
    let charts = listing(&whole.join("charts"));
    assert_eq!(charts, listing(&merged.join("charts")));
    assert!(charts.len() >= 3, "{charts:?}");
    for c in &charts {
        let name = format!("charts/{c}");
        assert!(read(&whole, &name) == read(&merged, &name), "{name} differs");
    }
    let chart = text(&whole, "charts/sweep_final_year_domestic_compute_share__capacity_units_per_quarter.svg");
    assert!(chart.contains("dots: one point in 2") && chart.contains("of the 1200 (600 drawn)"), "{chart}");
    assert!(chart.contains("averaged in 100 bins"));
    assert_eq!(chart.matches("<circle").count(), 600, "one dot per point drawn");
    let repeated = text(&whole, "charts/sweep_final_year_domestic_compute_share__foreign_max_tpp.svg");
    assert!(repeated.contains("dots: one point in 2") && !repeated.contains("bins"), "three values: no bins");
    let report = text(&whole, "report.html");
    assert!(report.contains("<td>1200</td>") && report.contains("the first 500 points"));
    assert_eq!(report.matches("<tr><td>").count(), 500);
}

#[test]
fn merge_refuses_overlapping_missing_mismatched_and_unfinished_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "lhs.toml", LHS);
    let other = sweep_file(tmp.path(), "other.toml", &LHS.replace("seed = 3", "seed = 4"));
    for k in 1..=3 {
        let (shard, out) = (format!("{k}/3"), format!("s{k}"));
        ok(tmp.path(), &["sweep", &file, "--shard", &shard, "--out", &out, "--quiet"]);
    }
    ok(tmp.path(), &["sweep", &other, "--shard", "2/3", "--out", "other2", "--quiet"]);
    ok(tmp.path(), &["sweep", &file, "--shard", "2/4", "--out", "four2", "--quiet"]);
    let cases: &[(&[&str], &str)] = &[
        (&["s1", "s2", "s2", "s3"], "shard 2/3 is given twice"),
        (&["s1", "s3"], "missing or unfinished shard(s) 2/3 of 3"),
        (&["s1", "other2", "s3"], "hold different sweeps"),
        (&["s1", "four2", "s3"], "the shards were cut differently"),
        (&["s1", "nowhere", "s3"], "is not a folder"),
    ];
    for (dirs, says) in cases {
        let mut args = vec!["merge"];
        args.extend_from_slice(dirs);
        args.extend(["--out", "merged"]);
        let out = fails_with(tmp.path(), &args, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "expected {says:?}: {}", show(&args, tmp.path(), &out));
        assert!(!tmp.path().join("merged").exists(), "a refused merge writes nothing");
    }
    // A shard that has not finished (its hidden state file is there) is refused too.
    let state = tmp.path().join("s2/.sweep.state.toml");
    fs::write(&state, "interrupted").unwrap();
    let out = fails_with(tmp.path(), &["merge", "s1", "s2", "s3", "--out", "merged"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not finished"));
    fs::remove_file(state).unwrap();
    // A shard whose runs were cut short is refused.
    let runs = text(&tmp.path().join("s2"), "runs.csv");
    let cut: Vec<&str> = runs.lines().take(5).collect();
    fs::write(tmp.path().join("s2/runs.csv"), cut.join("\n") + "\n").unwrap();
    let out = fails_with(tmp.path(), &["merge", "s1", "s2", "s3", "--out", "merged"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has 4 runs, expected 32"), "{out:?}");
}

#[test]
fn a_shard_whose_runs_were_edited_after_it_finished_is_refused_by_merge_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "lhs.toml", LHS);
    for k in 1..=3 {
        let (shard, out) = (format!("{k}/3"), format!("s{k}"));
        ok(tmp.path(), &["sweep", &file, "--shard", &shard, "--out", &out, "--quiet"]);
    }
    let shard_toml = text(&tmp.path().join("s2"), "shard.toml");
    assert!(shard_toml.contains("runs_sha256 = \""), "{shard_toml}");
    assert!(shard_toml.contains("design_sha256 = \""), "{shard_toml}");
    ok(tmp.path(), &["merge", "s1", "s2", "s3", "--out", "merged"]);

    // One KPI cell of one row changed to another finite number: every check of the row's shape,
    // order, seed and design values still passes; only the recorded hash tells.
    let runs = text(&tmp.path().join("s2"), "runs.csv");
    let mut lines: Vec<String> = runs.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    let j = (6..cells.len()).find(|&j| cells[j].parse::<f64>().is_ok()).expect("a KPI cell with a value");
    cells[j] = (cells[j].parse::<f64>().unwrap() * 1.5 + 1.0).to_string();
    lines[3] = cells.join(",");
    fs::write(tmp.path().join("s2/runs.csv"), lines.join("\n") + "\n").unwrap();
    assert_ne!(text(&tmp.path().join("s2"), "runs.csv"), runs);

    let out = fails_with(tmp.path(), &["merge", "s1", "s2", "s3", "--out", "merged2"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("runs.csv' of shard 2/3 was changed after the shard finished"), "{err}");
    assert!(!tmp.path().join("merged2").exists(), "a refused merge writes nothing");
    let out = fails_with(tmp.path(), &["sweep", &file, "--shard", "2/3", "--out", "s2", "--resume"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("of shard 2/3 was changed"), "{out:?}");

    // Running the shard again (without --resume) replaces it, and the merge goes through.
    ok(tmp.path(), &["sweep", &file, "--shard", "2/3", "--out", "s2", "--quiet"]);
    ok(tmp.path(), &["merge", "s1", "s2", "s3", "--out", "merged2"]);
    assert_same_files(&tmp.path().join("merged"), &tmp.path().join("merged2"));
}

#[test]
fn a_shard_checks_only_its_own_points_and_the_whole_sweep_all_of_them() {
    let tmp = tempfile::tempdir().unwrap();
    // Point 3 of 4 makes the base invalid (an R&D intensity above 1).
    let file = sweep_file(
        tmp.path(),
        "bad.toml",
        "replications = 1\n[[vary]]\npath = \"firms.dom.rd_intensity\"\nvalues = [0.1, 0.2, 0.3, 1.5]\n",
    );
    let out = fails_with(tmp.path(), &["sweep", &file, "--out", "whole"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml:5:26: vary.0.values.3: point 3"), "{out:?}");
    let out = fails_with(tmp.path(), &["validate", &file], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("point 3"), "{out:?}");
    // Shard 1/2 holds points 0 and 1, which are valid: it runs without looking at point 3.
    ok(tmp.path(), &["sweep", &file, "--shard", "1/2", "--out", "s1", "--quiet"]);
    assert_eq!(text(&tmp.path().join("s1"), "runs.csv").lines().count(), 3);
    // Shard 2/2 holds point 3 and refuses it, writing nothing.
    let out = fails_with(tmp.path(), &["sweep", &file, "--shard", "2/2", "--out", "s2"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml:5:26: vary.0.values.3: point 3"), "{out:?}");
    assert!(!tmp.path().join("s2").exists(), "invalid input writes nothing");
}

#[test]
fn status_and_merge_name_the_stopped_and_missing_shards_and_the_commands_that_finish_them() {
    let tmp = tempfile::tempdir().unwrap();
    let body = LHS.replace("samples = 25", "samples = 150").replace("replications = 4", "replications = 20");
    let file = sweep_file(tmp.path(), "big.toml", &body);
    ok(tmp.path(), &["sweep", &file, "--out", "whole", "--quiet"]);
    for k in [1, 3] {
        let (shard, out) = (format!("{k}/3"), format!("out/shard-{k}-of-3"));
        ok(tmp.path(), &["sweep", &file, "--shard", &shard, "--out", &out, "--quiet"]);
    }
    // Shard 2 killed part way, as a cancelled or timed-out task leaves it.
    let partial = tmp.path().join("out/shard-2-of-3/.runs.csv.partial");
    let mut child =
        spawn(tmp.path(), &["sweep", &file, "--shard", "2/3", "--out", "out/shard-2-of-3", "--jobs", "1", "--quiet"]);
    let started = Instant::now();
    while fs::read(&partial).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0) < 50 {
        assert!(started.elapsed() < Duration::from_secs(120), "the shard wrote no rows");
        assert!(child.try_wait().unwrap().is_none(), "the shard finished before it could be killed; make it bigger");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let out = ok(tmp.path(), &["status", "out"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("shard       1/3  finished, 1000/1000 runs"), "{said}");
    assert!(said.contains("shard       2/3  stopped (interrupted), "), "{said}");
    assert!(said.contains("/1000 runs"), "{said}");
    assert!(said.contains("shards: 2 finished, 0 failed, 0 running, 1 stopped, 0 missing"), "{said}");
    let rerun = "chipmarket sweep out/shard-1-of-3/sweep.resolved.toml --shard 2/3 --out out/shard-2-of-3 --resume";
    assert!(said.contains(rerun), "{said}");
    assert_eq!(String::from_utf8_lossy(&ok(tmp.path(), &["status", "out", "--todo"]).stdout), "2\n");

    // The merge refuses, naming the shard and the command, and writes nothing.
    let out = fails_with(tmp.path(), &["merge", "out", "--out", "merged"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing or unfinished shard(s) 2/3 of 3"), "{err}");
    assert!(err.contains(rerun), "{err}");
    assert!(!tmp.path().join("merged").exists());
    // A shard with no folder is missing; with --shards N, so are shards not started at all.
    let out = fails_with(tmp.path(), &["merge", "out/shard-1-of-3", "out/shard-2-of-3", "--out", "merged"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2/3, 3/3 of 3") && err.contains("--shard 3/3 --out out/shard-3-of-3 --resume"), "{err}");
    let out = ok(tmp.path(), &["status", "nothing-yet", "--shards", "4"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("shard       4/4  missing, 0 runs  nothing-yet/shard-4-of-4"), "{said}");
    assert!(said.contains("SWEEP.toml --shard 1/4 --out nothing-yet/shard-1-of-4 --resume"), "{said}");

    // Running the command it gave finishes the shard, and the merge is the unsharded sweep.
    let args: Vec<&str> = rerun.split(' ').skip(1).collect();
    ok(tmp.path(), &args);
    assert_eq!(String::from_utf8_lossy(&ok(tmp.path(), &["status", "out", "--todo"]).stdout), "\n");
    ok(tmp.path(), &["merge", "out", "--out", "merged"]);
    assert_same_files(&tmp.path().join("whole"), &tmp.path().join("merged"));

    // Bad input: exit code 2 with what was expected.
    let out = fails_with(tmp.path(), &["status", "nowhere"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("'nowhere' is not a folder"), "{out:?}");
    fs::create_dir(tmp.path().join("empty")).unwrap();
    let out = fails_with(tmp.path(), &["status", "empty"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no sweep and no shard-K-of-N folders"), "{out:?}");
    let out = fails_with(tmp.path(), &["status", "out", "--shards", "4"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the shards were cut differently"), "{out:?}");
}

#[test]
fn a_sweep_killed_mid_run_resumes_to_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let body = LHS.replace("samples = 25", "samples = 150").replace("replications = 4", "replications = 20");
    let file = sweep_file(tmp.path(), "big.toml", &body);
    let partial = tmp.path().join("killed/.runs.csv.partial");
    let mut child = spawn(tmp.path(), &["sweep", &file, "--out", "killed", "--jobs", "2", "--quiet"]);
    let started = Instant::now();
    loop {
        let rows = fs::read(&partial).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0);
        if rows > 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the sweep wrote no rows");
        assert!(child.try_wait().unwrap().is_none(), "the sweep finished before it could be killed; make it bigger");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = tmp.path().join("killed");
    assert!(!killed.join("runs.csv").exists(), "the sweep finished before it was killed; make it bigger");
    assert!(listing(&killed).is_empty(), "no result file is visible before the sweep ends: {:?}", listing(&killed));
    // A torn last row, as if the process died in the middle of a write.
    let mut bytes = fs::read(&partial).unwrap();
    bytes.extend_from_slice(b"3,7,12345,0.1");
    fs::write(&partial, bytes).unwrap();

    let out = fails_with(tmp.path(), &["sweep", &file, "--out", "killed"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"), "{out:?}");
    let out = ok(tmp.path(), &["sweep", &file, "--out", "killed", "--resume", "--jobs", "1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs already done"), "{out:?}");
    ok(tmp.path(), &["sweep", &file, "--out", "whole", "--quiet"]);
    assert_same_files(&tmp.path().join("whole"), &killed);
    assert_eq!(listing(&killed), DONE);
    assert!(fs::read_dir(&killed).unwrap().all(|e| {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        !n.starts_with('.') || n == ".chipmarket.json"
    }));

    // Resuming a finished sweep does nothing; resuming another sweep there is refused.
    let out = ok(tmp.path(), &["sweep", &file, "--out", "killed", "--resume"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already complete"));
    let other = sweep_file(tmp.path(), "other.toml", &body.replace("seed = 3", "seed = 9"));
    let out = fails_with(tmp.path(), &["sweep", &other, "--out", "killed", "--resume"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("another sweep"), "{out:?}");
    assert_same_files(&tmp.path().join("whole"), &killed);
}

#[test]
fn a_failed_run_is_reported_with_its_point_and_seed_and_the_others_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "grid.toml", GRID);
    ok(tmp.path(), &["sweep", &file, "--out", "good", "--quiet"]);
    let args = ["sweep", &file, "--out", "bad", "--jobs", "2", "--debug-fail-run", "4/1"];
    let out = fails_with(tmp.path(), &args, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "run failed: point 4, replication 1, seed 7 (firms.dom.rd_intensity=0.3, demand.tenders_per_year=12.0)"
        ),
        "{err}"
    );
    assert!(err.contains("1 of 18 runs failed"), "{err}");
    let (good, bad) = (tmp.path().join("good"), tmp.path().join("bad"));
    assert_eq!(
        listing(&bad),
        [
            "charts",
            "failures.csv",
            "manifest.json",
            "points.csv",
            "points_wide.csv",
            "report.html",
            "runs.csv",
            "sweep.resolved.toml"
        ]
    );
    let failures = text(&bad, "failures.csv");
    assert_eq!(failures.lines().count(), 2, "{failures}");
    assert!(failures.lines().nth(1).unwrap().starts_with("4,1,7,0.3,12,panicked: failure injected"), "{failures}");
    // Every other row is the same as in a sweep without the failure; the failed one has empty KPIs.
    let (good_runs, bad_runs) = (text(&good, "runs.csv"), text(&bad, "runs.csv"));
    for (i, (g, b)) in good_runs.lines().zip(bad_runs.lines()).enumerate() {
        if i == 1 + 4 * 3 + 1 {
            assert!(b.starts_with("4,1,7,0.3,12,,,"), "{b}");
            assert!(b.split(',').skip(5).all(str::is_empty), "{b}");
        } else {
            assert_eq!(g, b);
        }
    }
    assert_eq!(good_runs.lines().count(), bad_runs.lines().count());
    let points = text(&bad, "points.csv");
    assert!(points.lines().any(|l| l.starts_with("4,0.3,12,dom_final_ecosystem,") && l.ends_with(",2")), "{points}");
    assert!(points.lines().any(|l| l.starts_with("3,0.3,6,dom_final_ecosystem,") && l.ends_with(",3")), "{points}");
}

#[test]
fn bad_sweep_files_name_file_line_column_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "replications = 2\nmethd = \"grid\"\n",
            "bad.toml:3:1:",
            &["unknown key \"methd\"", "did you mean \"method\""],
        ),
        (
            "[[vary]]\npath = \"firms.dom.rd_intensty\"\nvalues = [0.1]\n",
            "bad.toml:3:8:",
            &["vary.0.path", "did you mean \"firms.dom.rd_intensity\"?"],
        ),
        (
            "[[vary]]\npath = \"firms.dom.rd_intensity\"\nvalues = [0.1, 1.5]\n",
            "bad.toml:4:16:",
            &["vary.0.values.1", "point 1 (firms.dom.rd_intensity=1.5)", "between 0 and 1"],
        ),
        (
            "method = \"lhs\"\n[[vary]]\npath = \"firms.dom.rd_intensity\"\nrange = [0, 1]\n",
            "bad.toml:2:10:",
            &["needs `samples`"],
        ),
    ];
    for (body, place, says) in cases {
        sweep_file(tmp.path(), "bad.toml", body);
        let args = ["sweep", "bad.toml", "--out", "out"];
        let out = fails_with(tmp.path(), &args, 2);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("invalid sweep: {place}")),
            "expected {place}: {}",
            show(&args, tmp.path(), &out)
        );
        for s in *says {
            assert!(err.contains(s), "expected {s:?}: {err}");
        }
        assert!(!tmp.path().join("out").exists(), "invalid input writes nothing");
        let out = fails_with(tmp.path(), &["validate", "bad.toml"], 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains(place));
    }
    fs::write(tmp.path().join("nobase.toml"), "base = \"missing.toml\"\n[[vary]]\npath = \"a.b\"\nvalues = [1]\n")
        .unwrap();
    let out = fails_with(tmp.path(), &["sweep", "nobase.toml", "--out", "out"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nobase.toml:1:8: base: cannot read the base scenario"), "{err}");
    let good = sweep_file(tmp.path(), "good.toml", GRID);
    for (flag, value, says) in [
        ("--shard", "0/2", "expected K/N"),
        ("--shard", "7/7", "too few for 7 shards"),
        ("--jobs", "0", "from 1 to 1024"),
    ] {
        let out = fails_with(tmp.path(), &["sweep", &good, flag, value, "--out", "out"], 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{flag} {value}: {out:?}");
    }
    assert!(!tmp.path().join("out").exists(), "invalid input writes nothing");
}

/// The KPI cells (after the parameter columns) of each row of `runs.csv`.
fn kpis(dir: &Path, n_params: usize) -> Vec<(String, String, String)> {
    text(dir, "runs.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_string(), cells[1].to_string(), cells[3 + n_params..].join(","))
        })
        .collect()
}

#[test]
fn common_random_numbers_give_identical_points_identical_runs_unless_switched_off() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "replications = 3\n[[vary]]\npath = \"firms.dom.rd_intensity\"\nvalues = [0.2, 0.2]\n";
    let crn = sweep_file(tmp.path(), "crn.toml", body);
    let no_crn = sweep_file(tmp.path(), "nocrn.toml", &format!("crn = false\n{body}"));
    ok(tmp.path(), &["sweep", &crn, "--out", "crn", "--quiet"]);
    ok(tmp.path(), &["sweep", &no_crn, "--out", "nocrn", "--quiet"]);
    for (dir, same) in [("crn", true), ("nocrn", false)] {
        let rows = kpis(&tmp.path().join(dir), 1);
        assert_eq!(rows.len(), 6);
        for r in 0..3 {
            let (a, b) = (&rows[r], &rows[3 + r]);
            assert_eq!((a.0.as_str(), b.0.as_str(), &a.1, &b.1), ("0", "1", &b.1, &a.1));
            assert_eq!(a.2 == b.2, same, "{dir}: replication {r} of points 0 and 1:\n{}\n{}", a.2, b.2);
        }
        // Replications differ from each other either way.
        assert_ne!(rows[0].2, rows[1].2);
    }
    let seeds: Vec<String> = text(&tmp.path().join("nocrn"), "runs.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(seeds[0], seeds[2]);
    assert_ne!(seeds[0], seeds[3], "each point has its own seed without crn");
}

#[test]
fn keep_runs_writes_every_runs_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = sweep_file(tmp.path(), "grid.toml", GRID);
    ok(tmp.path(), &["sweep", &file, "--out", "plain", "--quiet"]);
    ok(tmp.path(), &["sweep", &file, "--out", "kept", "--keep-runs", "--quiet"]);
    let kept = tmp.path().join("kept");
    assert_same_files(&tmp.path().join("plain"), &kept);
    let dirs = listing(&kept.join("runs"));
    assert_eq!(dirs.len(), 18);
    assert_eq!((dirs[0].as_str(), dirs[17].as_str()), ("p0-r0", "p5-r2"));
    let summary = text(&kept.join("runs/p4-r1"), "summary.csv");
    let row = summary.lines().nth(1).unwrap();
    let runs = text(&kept, "runs.csv");
    let sweep_row = runs.lines().nth(1 + 4 * 3 + 1).unwrap();
    // The run's own summary has the same KPIs as its row of runs.csv.
    let tail = |line: &str, skip: usize| line.split(',').skip(skip).collect::<Vec<_>>().join(",");
    assert_eq!(tail(row, 2), tail(sweep_row, 5));
    assert!(text(&kept.join("runs/p4-r1"), "scenario.resolved.toml").contains("rd_intensity = 0.3"));
}

#[test]
fn every_shipped_sweep_is_valid() {
    let dir: PathBuf = scenario("sweeps");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = ok(tmp.path(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("(sweep: ").count(), files.len(), "{stdout}");
    let _ = chipmarket;
}

#[test]
fn a_sweep_report_is_titled_by_the_sweeps_name_and_question_and_axes_by_their_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "name = \"R&D test\"\nquestion = \"Does R&D pay?\"\nreplications = 2\n[[vary]]\n\
                path = \"firms.dom.rd_intensity\"\nlabel = \"domestic R&D intensity\"\nvalues = [0.1, 0.3]\n";
    let f = sweep_file(tmp.path(), "s.toml", body);
    ok(tmp.path(), &["sweep", &f, "--out", "a", "--quiet"]);
    let report = text(&tmp.path().join("a"), "report.html");
    assert!(report.contains("<h1>R&amp;D test</h1>") && report.contains("Does R&amp;D pay?"), "title and question");
    assert!(!report.contains("Sweep of"), "not titled by the base scenario");
    assert!(report.contains(">domestic R&amp;D intensity</th>"), "the points table names the axis by its label");
    let chart = fs::read_dir(tmp.path().join("a/charts"))
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|c| c.contains("domestic R&amp;D intensity"));
    assert!(chart.is_some(), "a chart's axis is named by the label");
    // A grid sweep's main effects: with one axis, the spread of the points' means.
    let points = text(&tmp.path().join("a"), "points.csv");
    let means: Vec<f64> = points
        .lines()
        .filter(|l| l.contains(",market_final_year_domestic_compute_share,"))
        .map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap())
        .collect();
    assert_eq!(means.len(), 2);
    let spread = format!("{:.3} pp", (means[0] - means[1]).abs() * 100.0);
    let table = &report[report.find("<h2>Main effects</h2>").expect("a main-effects table")..];
    let row = table.lines().find(|l| l.contains("<td>final_year_domestic_compute_share</td>")).unwrap();
    assert!(row.contains(&spread), "{row} lacks {spread}");
    // The resolved sweep keeps them, so its rerun has the same report.
    ok(tmp.path(), &["sweep", "a/sweep.resolved.toml", "--out", "b", "--quiet"]);
    assert_eq!(text(&tmp.path().join("b"), "report.html"), report);
}

#[test]
fn a_heat_map_of_a_constant_kpi_has_no_colour_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "replications = 2\n[[vary]]\npath = \"firms.dom.rd_intensity\"\nvalues = [0.1, 0.3]\n\
                [[vary]]\npath = \"demand.tenders_per_year\"\nvalues = [6, 12]\n";
    let f = sweep_file(tmp.path(), "s.toml", body);
    ok(tmp.path(), &["sweep", &f, "--out", "a", "--quiet"]);
    // In tiny, the domestic vendor takes every tender at every point: a share of 1 throughout.
    let points = text(&tmp.path().join("a"), "points.csv");
    let shares: Vec<&str> = points
        .lines()
        .filter(|l| l.contains(",market_final_year_domestic_compute_share,"))
        .map(|l| l.split(',').nth(4).unwrap())
        .collect();
    assert_eq!(shares, ["1", "1", "1", "1"]);
    let heat = text(
        &tmp.path().join("a/charts"),
        "heat_final_year_domestic_compute_share__rd_intensity__tenders_per_year.svg",
    );
    assert!(heat.contains("the same in every cell: 100") && heat.contains("(no colour scale)"), "{heat}");
}
