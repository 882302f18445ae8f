//! The ownership rule of output folders (`output::owner`): each test is one way a command
//! used to delete, replace or half-rewrite a user's files.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::common::{data, fails_with, ok, show};

/// Every entry under `dir` (hidden ones and folders too, the marker left out), relative, with
/// the bytes of each file.
fn tree(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Option<Vec<u8>>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if rel == ".chipmarket.json" {
                continue;
            }
            let meta = fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                out.push((rel, None));
                walk(base, &e.path(), out);
            } else {
                out.push((rel, Some(fs::read(e.path()).unwrap_or_default())));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn refused(cwd: &Path, args: &[&str], says: &[&str]) -> Output {
    let out = fails_with(cwd, args, 2);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{}", show(args, cwd, &out));
    for s in says {
        assert!(err.contains(s), "expected {s:?}\n{}", show(args, cwd, &out));
    }
    out
}

/// A folder of notes with the scenario inside it.
fn notes(dir: &Path, name: &str) {
    fs::create_dir_all(dir.join(name).join("sub")).unwrap();
    fs::write(dir.join(name).join("notes.txt"), "my notes").unwrap();
    fs::write(dir.join(name).join("sub/keys"), "secret").unwrap();
    fs::copy(data("tiny.toml"), dir.join(name).join("tiny.toml")).unwrap();
}

const SWEEP: &str = "replications = 2
[[vary]]
path = \"firms.dom.rd_intensity\"
values = [0.1, 0.3]
";

fn write_sweep(dir: &Path) -> String {
    fs::write(dir.join("s.toml"), format!("base = {:?}\n{SWEEP}", data("tiny.toml").to_string_lossy())).unwrap();
    "s.toml".to_string()
}

/// The user's files of `before` are all in `dir`, unchanged.
fn kept(dir: &Path, before: &[(String, Option<Vec<u8>>)]) {
    let after = tree(dir);
    for entry in before {
        assert!(
            after.contains(entry),
            "{} was changed or deleted; now {:?}",
            entry.0,
            after.iter().map(|e| &e.0).collect::<Vec<_>>()
        );
    }
}

#[test]
fn force_then_a_plain_run_into_a_notes_folder_keeps_the_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    notes(dir, "notes");
    let before = tree(&dir.join("notes"));
    ok(dir, &["run", "notes/tiny.toml", "--out", "notes", "--quiet", "--force"]);
    kept(&dir.join("notes"), &before);
    // The folder holds the user's files as well as the run's: a plain run may not replace it.
    refused(dir, &["run", "notes/tiny.toml", "--out", "notes", "--quiet"], &["did not write", "notes.txt", "--force"]);
    kept(&dir.join("notes"), &before);
    // A second --force replaces the run's own files and still nothing else.
    ok(dir, &["run", "notes/tiny.toml", "--out", "notes", "--quiet", "--force", "--seed", "4"]);
    kept(&dir.join("notes"), &before);
    assert!(fs::read_to_string(dir.join("notes/scenario.resolved.toml")).unwrap().contains("seed = 4"));

    // The same for a sweep, and for a merge into the shards' parent folder.
    let file = write_sweep(dir);
    notes(dir, "snotes");
    let before = tree(&dir.join("snotes"));
    ok(dir, &["sweep", &file, "--out", "snotes", "--quiet", "--force"]);
    refused(dir, &["sweep", &file, "--out", "snotes", "--quiet"], &["did not write"]);
    kept(&dir.join("snotes"), &before);

    fs::create_dir(dir.join("shards")).unwrap();
    for k in 1..=2 {
        ok(dir, &["sweep", &file, "--shard", &format!("{k}/2"), "--out", &format!("shards/s{k}"), "--quiet"]);
    }
    let before = tree(&dir.join("shards"));
    ok(dir, &["merge", "shards/s1", "shards/s2", "--out", "shards", "--force"]);
    refused(dir, &["merge", "shards/s1", "shards/s2", "--out", "shards"], &["did not write"]);
    kept(&dir.join("shards"), &before);
}

#[test]
fn force_never_replaces_user_files_or_folders_named_like_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A folder named like an output file, and a file named like a chart.
    fs::create_dir_all(dir.join("a/summary.csv")).unwrap();
    fs::write(dir.join("a/summary.csv/mine.txt"), "mine").unwrap();
    let before = tree(&dir.join("a"));
    refused(dir, &["run", &data("tiny.toml").to_string_lossy(), "--out", "a", "--quiet", "--force"], &["summary.csv"]);
    assert_eq!(tree(&dir.join("a")), before, "nothing changed");

    fs::create_dir_all(dir.join("b/charts")).unwrap();
    fs::write(dir.join("b/charts/shares.svg"), "my chart").unwrap();
    let before = tree(&dir.join("b"));
    refused(
        dir,
        &["run", &data("tiny.toml").to_string_lossy(), "--out", "b", "--quiet", "--force"],
        &["charts/shares.svg"],
    );
    // (checked after the simulation, when the chart names are known: still nothing written)
    assert_eq!(tree(&dir.join("b")), before, "nothing changed");
    assert_eq!(fs::read_dir(dir).unwrap().count(), 2, "no working folder left beside them");

    // Another file in a user's charts/ is kept, and the run's charts go beside it.
    fs::create_dir_all(dir.join("c/charts")).unwrap();
    fs::write(dir.join("c/charts/notes.txt"), "mine").unwrap();
    ok(dir, &["run", &data("tiny.toml").to_string_lossy(), "--out", "c", "--quiet", "--force"]);
    assert_eq!(fs::read_to_string(dir.join("c/charts/notes.txt")).unwrap(), "mine");
    assert!(dir.join("c/charts/shares.svg").is_file());

    // A sweep with --force keeps a user's sensitivity_*.svg, through analyze and plot too.
    let file = write_sweep(dir);
    fs::create_dir_all(dir.join("d/charts")).unwrap();
    fs::write(dir.join("d/charts/sensitivity_x.svg"), "my chart").unwrap();
    fs::write(dir.join("d/points.csv"), "my points").unwrap();
    refused(dir, &["sweep", &file, "--out", "d", "--quiet", "--force"], &["points.csv"]);
    fs::remove_file(dir.join("d/points.csv")).unwrap();
    ok(dir, &["sweep", &file, "--out", "d", "--quiet", "--force"]);
    ok(dir, &["plot", "d", "--quiet"]);
    assert_eq!(fs::read_to_string(dir.join("d/charts/sensitivity_x.svg")).unwrap(), "my chart");
}

#[test]
fn calibrate_writes_only_into_a_new_empty_or_earlier_calibration_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    crate::fit::calibration(dir, "cal.toml", 8, 1);
    fs::create_dir(dir.join("mine")).unwrap();
    fs::write(dir.join("mine/trace.csv"), "my trace").unwrap();
    refused(
        dir,
        &["calibrate", "cal.toml", "--out", "mine", "--quiet"],
        &["not the output of an earlier `chipmarket calibrate`"],
    );
    assert_eq!(fs::read_to_string(dir.join("mine/trace.csv")).unwrap(), "my trace");
    assert_eq!(fs::read_dir(dir.join("mine")).unwrap().count(), 1, "nothing written into it");
    fs::write(dir.join("file"), "x").unwrap();
    refused(dir, &["calibrate", "cal.toml", "--out", "file", "--quiet"], &["is a file, not a folder"]);
    assert_eq!(fs::read_to_string(dir.join("file")).unwrap(), "x");
    ok(dir, &["calibrate", "cal.toml", "--out", "cal", "--quiet"]);
    ok(dir, &["calibrate", "cal.toml", "--out", "cal", "--quiet"]);
}

#[test]
fn analyze_out_replaces_only_an_earlier_analysis_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(
        dir.join("s.toml"),
        format!(
            "base = {:?}\nreplications = 1\nmethod = \"morris\"\ntrajectories = 4\n[[vary]]\npath = \"firms.dom.rd_intensity\"\nrange = [0.05, 0.3]\n[[vary]]\npath = \"demand.tenders_per_year\"\nrange = [6, 12]\n",
            data("tiny.toml").to_string_lossy()
        ),
    )
    .unwrap();
    ok(dir, &["sweep", "s.toml", "--out", "sw", "--quiet"]);
    fs::copy(data("tiny.toml"), dir.join("scenario.toml")).unwrap();
    let scenario = fs::read(dir.join("scenario.toml")).unwrap();
    refused(dir, &["analyze", "sw", "--out", "scenario.toml", "--quiet"], &["not an earlier"]);
    assert_eq!(fs::read(dir.join("scenario.toml")).unwrap(), scenario);
    let runs = fs::read(dir.join("sw/runs.csv")).unwrap();
    refused(dir, &["analyze", "sw", "--out", "sw/runs.csv", "--quiet"], &["runs.csv"]);
    assert_eq!(fs::read(dir.join("sw/runs.csv")).unwrap(), runs);
    refused(dir, &["analyze", "sw", "--out", "sw", "--quiet"], &["is a folder"]);
    ok(dir, &["analyze", "sw", "--out", "sens.csv", "--quiet"]);
    ok(dir, &["analyze", "sw", "--out", "sens.csv", "--quiet"]);
    ok(dir, &["analyze", "sw", "--quiet"]);
    assert!(dir.join("sw/sensitivity.csv").is_file());
}

#[cfg(unix)]
#[test]
fn a_symlinked_out_is_followed_not_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scenario = data("tiny.toml").to_string_lossy().into_owned();
    ok(dir, &["run", &scenario, "--out", "disk", "--quiet"]);
    std::os::unix::fs::symlink("disk", dir.join("link")).unwrap();
    for out in ["link", "link/"] {
        ok(dir, &["run", &scenario, "--out", out, "--quiet", "--seed", if out == "link" { "7" } else { "8" }]);
        assert!(fs::symlink_metadata(dir.join("link")).unwrap().file_type().is_symlink(), "{out}: the link stays");
        let seed = if out == "link" { "seed = 7" } else { "seed = 8" };
        assert!(fs::read_to_string(dir.join("disk/scenario.resolved.toml")).unwrap().contains(seed), "{out}");
    }
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["disk", "link"]);
}

#[test]
fn a_failing_plot_leaves_the_folder_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["run", &data("tiny.toml").to_string_lossy(), "--out", "r", "--quiet"]);
    fs::remove_file(dir.join("r/report.html")).unwrap();
    fs::write(dir.join("r/market_summary.csv"), "old").unwrap();
    let mut contracts = fs::read_to_string(dir.join("r/contracts.csv")).unwrap();
    contracts.push_str("1,2\n");
    fs::write(dir.join("r/contracts.csv"), contracts).unwrap();
    let before = tree(&dir.join("r"));
    refused(dir, &["plot", "r", "--xlsx", "--quiet"], &["contracts.csv"]);
    assert_eq!(tree(&dir.join("r")), before, "nothing rewritten");
}

#[test]
fn working_folders_of_dead_processes_are_removed_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scenario = data("tiny.toml").to_string_lossy().into_owned();
    // What a run killed with -9 leaves: a staging folder next to --out (and, from earlier
    // versions, `.<out>.tmp-<pid>`), named by a process that no longer runs.
    fs::create_dir_all(dir.join(".chipmarket-out-new-999999999")).unwrap();
    fs::write(dir.join(".chipmarket-out-new-999999999/summary.csv"), "partial").unwrap();
    fs::create_dir_all(dir.join(".out.tmp-999999998")).unwrap();
    let out = ok(dir, &["run", &scenario, "--out", "out", "--quiet"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("left by an interrupted chipmarket"));
    let names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["out"]);
}

// ------------------------------------------------ untrusted folders and scenarios ----

#[test]
fn a_horizon_shorter_than_a_day_is_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scenario = data("tiny.toml").to_string_lossy().into_owned();
    refused(
        dir,
        &["run", &scenario, "--set", "scenario.horizon_years=0.001", "--out", "h", "--quiet"],
        &["scenario.horizon_years", "one day"],
    );
    assert_eq!(fs::read_dir(dir).unwrap().count(), 0, "nothing written, no working folder left");
    ok(dir, &["run", &scenario, "--set", "scenario.horizon_years=0.003", "--out", "h", "--quiet"]);
}

#[test]
fn plot_refuses_a_run_folder_whose_quarterly_file_holds_only_its_header() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["run", &data("tiny.toml").to_string_lossy(), "--out", "r", "--quiet"]);
    let market = fs::read_to_string(dir.join("r/market_quarterly.csv")).unwrap();
    fs::write(dir.join("r/market_quarterly.csv"), market.lines().next().unwrap().to_string() + "\n").unwrap();
    refused(dir, &["plot", "r", "--quiet"], &["market_quarterly.csv", "has no rows"]);
}

#[cfg(unix)]
#[test]
fn merge_copies_no_link_out_of_a_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write_sweep(dir);
    for k in 1..=2 {
        ok(dir, &["sweep", &file, "--shard", &format!("{k}/2"), "--out", &format!("s{k}"), "--keep-runs", "--quiet"]);
    }
    fs::write(dir.join("secret"), "private key").unwrap();
    std::os::unix::fs::symlink(dir.join("secret"), dir.join("s1/runs/x.csv")).unwrap();
    refused(dir, &["merge", "s1", "s2", "--out", "m"], &["s1/runs/x.csv", "symbolic link"]);
    assert!(!dir.join("m").exists());
}

#[cfg(unix)]
#[test]
fn folders_with_pipes_and_links_are_read_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["run", &data("tiny.toml").to_string_lossy(), "--out", "r", "--quiet"]);
    // A link loop inside the folder is listed, not followed, by the manifest's file walk.
    std::os::unix::fs::symlink(".", dir.join("r/loop")).unwrap();
    fs::remove_file(dir.join("r/manifest.json")).unwrap();
    ok(dir, &["plot", "r", "--quiet"]);
    let manifest = fs::read_to_string(dir.join("r/manifest.json")).unwrap();
    assert!(manifest.contains("\"loop\"") && !manifest.contains("loop/"), "{manifest}");
    // A named pipe where a CSV should be is refused, not opened (which would block).
    fs::remove_file(dir.join("r/firms_quarterly.csv")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(dir.join("r/firms_quarterly.csv")).status().unwrap().success());
    fs::write(dir.join("t.csv"), crate::fit::TARGETS).unwrap();
    refused(dir, &["compare", "r", "--targets", "t.csv"], &["firms_quarterly.csv", "not a regular file"]);
    refused(dir, &["plot", "r", "--quiet"], &["firms_quarterly.csv", "not a regular file"]);
}
