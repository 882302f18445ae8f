//! Regression tests of the hardening issue: each test is one way the command line used to lose
//! data, hang, abort, panic or mislead, and checks the refusal (exit code 2, a message naming
//! the place, nothing written) or the quiet exit.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{data, fails_with, ok, scenario, show};

/// Every entry of a folder (hidden ones too), sorted.
fn all_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run and require exit code 2 with every phrase of `says` in stderr, and no panic.
fn refused(cwd: &Path, args: &[&str], says: &[&str]) -> Output {
    let out = fails_with(cwd, args, 2);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{}", show(args, cwd, &out));
    for s in says {
        assert!(err.contains(s), "expected {s:?}\n{}", show(args, cwd, &out));
    }
    out
}

// ---------------------------------------------------------------- 1. --out loses no data ----

#[test]
fn run_out_refuses_a_folder_of_other_files_and_force_deletes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::create_dir(dir.join("scenarios")).unwrap();
    fs::copy(data("tiny.toml"), dir.join("scenarios/tiny.toml")).unwrap();
    fs::write(dir.join("scenarios/notes.txt"), "mine").unwrap();
    let before = all_entries(&dir.join("scenarios"));

    let args = ["run", "scenarios/tiny.toml", "--out", "scenarios", "--quiet"];
    refused(dir, &args, &["--out 'scenarios'", "not the output of an earlier `chipmarket run`", "--force"]);
    assert_eq!(all_entries(&dir.join("scenarios")), before, "a refused --out is left as it was");
    assert_eq!(all_entries(dir), ["scenarios"], "nothing written next to it either");

    // --force adds the run's files and keeps everything else.
    ok(dir, &["run", "scenarios/tiny.toml", "--out", "scenarios", "--quiet", "--force"]);
    let after = all_entries(&dir.join("scenarios"));
    for f in ["tiny.toml", "notes.txt", "scenario.resolved.toml", "summary.csv"] {
        assert!(after.contains(&f.to_string()), "{f} missing after --force: {after:?}");
    }
    assert_eq!(fs::read_to_string(dir.join("scenarios/notes.txt")).unwrap(), "mine");
    assert_eq!(all_entries(dir), ["scenarios"], "no temporary folder is left");

    // A file is no folder; an empty folder and an earlier run's folder are fine.
    fs::write(dir.join("file"), "x").unwrap();
    refused(dir, &["run", "scenarios/tiny.toml", "--out", "file", "--quiet"], &["is a file, not a folder"]);
    fs::create_dir(dir.join("empty")).unwrap();
    ok(dir, &["run", "scenarios/tiny.toml", "--out", "empty", "--quiet"]);
    ok(dir, &["run", "scenarios/tiny.toml", "--out", "empty", "--quiet", "--seed", "9"]);
    assert!(fs::read_to_string(dir.join("empty/scenario.resolved.toml")).unwrap().contains("seed = 9"));

    // A folder is a run's only by its marker: a user's manifest.json naming `run` is not one.
    fs::create_dir(dir.join("m")).unwrap();
    fs::write(dir.join("m/manifest.json"), r#"{"command": "run", "version": "0.1.0"}"#).unwrap();
    refused(dir, &["run", "scenarios/tiny.toml", "--out", "m", "--quiet"], &["--force"]);
    assert_eq!(all_entries(&dir.join("m")), ["manifest.json"]);
}

const SWEEP: &str = "replications = 2
[[vary]]
path = \"firms.dom.rd_intensity\"
values = [0.1, 0.3]
[[vary]]
path = \"demand.tenders_per_year\"
values = [6, 12]
";

fn write_sweep(dir: &Path, name: &str, body: &str) -> String {
    fs::write(dir.join(name), format!("base = {:?}\n{body}", data("tiny.toml").to_string_lossy())).unwrap();
    name.to_string()
}

#[test]
fn sweep_and_merge_out_refuse_a_folder_of_other_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write_sweep(dir, "s.toml", SWEEP);
    fs::create_dir_all(dir.join("mine/runs")).unwrap();
    fs::write(dir.join("mine/runs/keep.txt"), "mine").unwrap();
    refused(dir, &["sweep", &file, "--out", "mine", "--quiet"], &["earlier `chipmarket sweep`", "--force"]);
    assert_eq!(all_entries(&dir.join("mine")), ["runs"]);
    ok(dir, &["sweep", &file, "--out", "mine", "--quiet", "--force"]);
    assert_eq!(fs::read_to_string(dir.join("mine/runs/keep.txt")).unwrap(), "mine", "--force deletes nothing");
    assert!(dir.join("mine/runs.csv").is_file());
    // The folder now holds the user's runs/keep.txt beside the sweep's files: a plain sweep
    // may not replace it (it used to delete runs/ whole).
    refused(dir, &["sweep", &file, "--out", "mine", "--quiet"], &["did not write", "runs/keep.txt"]);
    assert_eq!(fs::read_to_string(dir.join("mine/runs/keep.txt")).unwrap(), "mine");
    fs::remove_dir_all(dir.join("mine/runs")).unwrap();
    // An earlier sweep's folder that holds nothing else is replaced without --force.
    ok(dir, &["sweep", &file, "--out", "mine", "--quiet"]);

    for k in 1..=2 {
        ok(dir, &["sweep", &file, "--shard", &format!("{k}/2"), "--out", &format!("s{k}"), "--quiet"]);
    }
    fs::create_dir(dir.join("other")).unwrap();
    fs::write(dir.join("other/data.csv"), "mine").unwrap();
    refused(dir, &["merge", "s1", "s2", "--out", "other"], &["--force"]);
    assert_eq!(all_entries(&dir.join("other")), ["data.csv"]);
    ok(dir, &["merge", "s1", "s2", "--out", "other", "--force"]);
    assert_eq!(
        all_entries(&dir.join("other")),
        [
            ".chipmarket.json",
            "charts",
            "data.csv",
            "manifest.json",
            "points.csv",
            "points_wide.csv",
            "report.html",
            "runs.csv",
            "sweep.resolved.toml"
        ]
    );
    // A merged folder is a sweep's output: merging into it again needs no --force.
    ok(dir, &["merge", "s1", "s2", "--out", "mine"]);
    assert_eq!(fs::read(dir.join("mine/runs.csv")).unwrap(), fs::read(dir.join("other/runs.csv")).unwrap());
}

// ----------------------------------------------------- 2. no hang on short cycles ----

#[test]
fn next_generation_cycles_too_short_to_simulate_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (set, says) in [
        ("firms.huawei.next_gen.cycle_years=1e-5", "from 0.25 to 50"),
        ("firms.huawei.next_gen.cycle_years=1e-9", "from 0.25 to 50"),
        ("firms.cambricon.next_gen.cycle_shape=1e-50", "a shape from 0.1 to 1000"),
    ] {
        refused(tmp.path(), &["run", "--out", "o", "--quiet", "--set", set], &[&format!("--set {set}: "), says]);
    }
    assert!(all_entries(tmp.path()).is_empty());
}

// --------------------------------------------- 3. point limits before allocation ----

#[test]
fn huge_steps_are_refused_before_the_design_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for steps in ["1000000000", "100000000"] {
        let body = format!("[[vary]]\npath = \"demand.tenders_per_year\"\nrange = [6, 18]\nsteps = {steps}\n");
        let file = write_sweep(dir, "huge.toml", &body);
        for cmd in ["validate", "sweep"] {
            refused(dir, &[cmd, &file], &["huge.toml:5:9: vary.0.steps", "at most 10000000 steps"]);
        }
    }
    let body = "[[vary]]\npath = \"demand.tenders_per_year\"\nrange = [6, 18]\nsteps = 5000\n\
                [[vary]]\npath = \"firms.dom.rd_intensity\"\nrange = [0, 1]\nsteps = 5000\n";
    let file = write_sweep(dir, "product.toml", body);
    refused(dir, &["validate", &file], &["25000000 points, more than the 10000000"]);
    assert_eq!(all_entries(dir), ["huge.toml", "product.toml"]);
}

// -------------------------------------------------------------- 4. closed pipes ----

/// Run with stdout (or stderr) a pipe whose reading end is already closed.
fn with_closed(cwd: &Path, args: &[&str], close_stdout: bool) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chipmarket"));
    cmd.args(args).current_dir(cwd);
    if close_stdout {
        cmd.stdout(writer).stderr(Stdio::piped());
    } else {
        cmd.stderr(writer).stdout(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let mut other = String::new();
    if close_stdout {
        child.stderr.take().unwrap().read_to_string(&mut other).unwrap();
    } else {
        child.stdout.take().unwrap().read_to_string(&mut other).unwrap();
    }
    let status = child.wait().unwrap();
    let (stdout, stderr) =
        if close_stdout { (Vec::new(), other.into_bytes()) } else { (other.into_bytes(), Vec::new()) };
    Output { status, stdout, stderr }
}

#[test]
fn a_closed_stdout_ends_quietly_and_a_closed_stderr_keeps_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let baseline = scenario("baseline.toml");
    let baseline = baseline.to_str().unwrap();
    for args in [vec!["graph"], vec!["params"], vec!["validate", baseline], vec!["--help"]] {
        let out = with_closed(dir, &args, true);
        assert_eq!(out.status.code(), Some(0), "{}", show(&args, dir, &out));
        assert!(stderr(&out).is_empty(), "{}", show(&args, dir, &out));
    }
    // Errors to a closed stderr: still exit 2 (not a panic's 101).
    fs::write(dir.join("bad.toml"), "[scenario\n").unwrap();
    for args in [vec!["run", "bad.toml"], vec!["validate", "bad.toml", "missing.toml"]] {
        let out = with_closed(dir, &args, false);
        assert_eq!(out.status.code(), Some(2), "{}", show(&args, dir, &out));
    }
    assert_eq!(all_entries(dir), ["bad.toml"]);
}

// ------------------------------------------------------ 5. merge and resume check rows ----

/// A sweep of 2 x 2 points x 2 replications, in two shards `s1` and `s2`.
fn shards(dir: &Path) -> String {
    let file = write_sweep(dir, "s.toml", SWEEP);
    for k in 1..=2 {
        ok(dir, &["sweep", &file, "--shard", &format!("{k}/2"), "--out", &format!("s{k}"), "--quiet"]);
    }
    file
}

#[test]
fn merge_refuses_damaged_rows_and_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    shards(dir);
    let runs = fs::read_to_string(dir.join("s1/runs.csv")).unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    assert_eq!(lines.len(), 5, "{runs}");
    let kpi_at = lines[0].split(',').count() - 1;
    let row = |i: usize| lines[i].to_string();
    let with_cell = |i: usize, j: usize, v: &str| {
        let mut cells: Vec<&str> = lines[i].split(',').collect();
        cells[j] = v;
        cells.join(",")
    };
    let edit = |i: usize, new: String| {
        let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        l[i] = new;
        l.join("\n") + "\n"
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("garbage row", edit(2, "garbage".into()), "runs.csv:3: the row has 1 cells"),
        ("truncated row", edit(3, lines[3][..lines[3].len() / 2].to_string()), "runs.csv:4: the row has"),
        ("torn last row", runs.trim_end_matches('\n').to_string(), "runs.csv:5: the row is cut short"),
        ("point out of range", edit(4, with_cell(4, 0, "99")), "runs.csv:5: expected point 1, replication 1"),
        ("NaN", edit(1, with_cell(1, kpi_at, "NaN")), "expected a finite number or an empty cell, found \"NaN\""),
        ("extra column", edit(2, row(2) + ",1"), "runs.csv:3: the row has"),
        (
            "swapped rows",
            {
                let mut l: Vec<&str> = lines.clone();
                l.swap(1, 2);
                l.join("\n") + "\n"
            },
            "runs.csv:2: expected point 0, replication 0",
        ),
        ("wrong parameter", edit(3, with_cell(3, 3, "0.2")), "column param_firms.dom.rd_intensity: expected \"0.1\""),
        ("wrong seed", edit(3, with_cell(3, 2, "8")), "column seed: expected \"7\""),
    ];
    for (what, text, says) in cases {
        fs::write(dir.join("s1/runs.csv"), &text).unwrap();
        let args = ["merge", "s1", "s2", "--out", "merged"];
        let out = fails_with(dir, &args, 2);
        assert!(stderr(&out).contains(says), "{what}: expected {says:?}\n{}", show(&args, dir, &out));
        assert!(!dir.join("merged").exists(), "{what}: a refused merge writes nothing");
        assert!(!all_entries(dir).iter().any(|e| e.starts_with('.')), "{what}: no temporary folder left");
    }
    // Put right, the merge goes through, and points.csv agrees with the merged runs.
    fs::write(dir.join("s1/runs.csv"), &runs).unwrap();
    ok(dir, &["merge", "s1", "s2", "--out", "merged"]);
    ok(dir, &["sweep", "s.toml", "--out", "whole", "--quiet"]);
    for f in ["runs.csv", "points.csv"] {
        assert_eq!(fs::read(dir.join("merged").join(f)).unwrap(), fs::read(dir.join("whole").join(f)).unwrap(), "{f}");
    }
    // A shard's points.csv is not trusted: merge computes it again from the runs.
    fs::write(dir.join("s1/points.csv"), "point,kpi\n0,damaged\n").unwrap();
    ok(dir, &["merge", "s1", "s2", "--out", "merged"]);
    assert_eq!(fs::read(dir.join("merged/points.csv")).unwrap(), fs::read(dir.join("whole/points.csv")).unwrap());
}

#[test]
fn resume_refuses_a_partial_file_with_a_row_deleted_from_its_middle() {
    // What an interrupted sweep leaves as its marker.
    const MARKER: &str = r#"{"kind": "sweep", "files": [".sweep.lock", ".sweep.state.toml", ".runs.csv.partial", ".failures.csv.partial"]}"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = write_sweep(dir, "s.toml", SWEEP);
    ok(dir, &["sweep", &file, "--out", "whole", "--quiet"]);
    // Make `cut` look like the same sweep interrupted after 6 of its 8 runs...
    let whole = dir.join("whole");
    let cut = dir.join("cut");
    fs::create_dir(&cut).unwrap();
    let resolved = fs::read_to_string(whole.join("sweep.resolved.toml")).unwrap();
    let mut state = toml::Table::new();
    state.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    state.insert("keep_runs".into(), false.into());
    state.insert("resolved".into(), resolved.into());
    fs::write(cut.join(".sweep.state.toml"), toml::to_string(&state).unwrap()).unwrap();
    fs::write(cut.join(".chipmarket.json"), MARKER).unwrap();
    let runs = fs::read_to_string(whole.join("runs.csv")).unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    let failures_header = "point,replication,seed,param_firms.dom.rd_intensity,param_demand.tenders_per_year,error\n";
    fs::write(cut.join(".failures.csv.partial"), failures_header).unwrap();
    // ... whose whole rows resume to the same files,
    fs::write(cut.join(".runs.csv.partial"), lines[..7].join("\n") + "\n").unwrap();
    ok(dir, &["sweep", &file, "--out", "cut", "--resume", "--quiet"]);
    assert_eq!(fs::read(cut.join("runs.csv")).unwrap(), runs.as_bytes());
    // ... but with a row deleted from the middle it is refused, naming the file and line.
    fs::remove_dir_all(&cut).unwrap();
    fs::create_dir(&cut).unwrap();
    fs::write(cut.join(".sweep.state.toml"), toml::to_string(&state).unwrap()).unwrap();
    fs::write(cut.join(".chipmarket.json"), MARKER).unwrap();
    fs::write(cut.join(".failures.csv.partial"), failures_header).unwrap();
    let mut damaged: Vec<&str> = lines[..7].to_vec();
    damaged.remove(3);
    fs::write(cut.join(".runs.csv.partial"), damaged.join("\n") + "\n").unwrap();
    refused(
        dir,
        &["sweep", &file, "--out", "cut", "--resume", "--quiet"],
        &[".runs.csv.partial:4: expected point 1, replication 0", "start over"],
    );
    assert!(!cut.join("runs.csv").exists());
}

// ------------------------------------------------------------ 6. float ranges ----

#[test]
fn ranges_wider_than_a_float_and_single_step_grids_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = "[[vary]]\npath = \"firms.dom.cash_usd\"\nrange = [-1.7e308, 1.7e308]\n";
    for design in ["method = \"random\"\nsamples = 4\n", "method = \"lhs\"\nsamples = 4\n", "steps_here"] {
        let body = if design == "steps_here" { format!("{path}steps = 3\n") } else { format!("{design}{path}") };
        let file = write_sweep(dir, "wide.toml", &body);
        let out = refused(dir, &["sweep", &file, "--out", "o"], &["vary.0.range", "high - low overflows"]);
        assert!(!stderr(&out).contains("=nan"), "{}", stderr(&out));
    }
    let file =
        write_sweep(dir, "one.toml", "[[vary]]\npath = \"demand.tenders_per_year\"\nrange = [6, 18]\nsteps = 1\n");
    refused(dir, &["sweep", &file, "--out", "o"], &["one.toml:5:9: vary.0.steps", "at least 2 steps"]);
    assert_eq!(all_entries(dir), ["one.toml", "wide.toml"]);
}

// ------------------------------------------------------------- 7. bounded reads ----

#[test]
fn extends_and_inputs_read_regular_files_only_and_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("zero.toml"), "extends = \"/dev/zero\"\n").unwrap();
    refused(dir, &["run", "zero.toml", "--out", "o"], &["zero.toml:1:11: extends:", "not a regular file"]);
    refused(dir, &["validate", "/dev/zero"], &["not a regular file"]);
    let fifo = Command::new("mkfifo").arg(dir.join("pipe.toml")).status().expect("mkfifo runs");
    assert!(fifo.success());
    fs::write(dir.join("piped.toml"), "extends = \"pipe.toml\"\n").unwrap();
    refused(dir, &["validate", "piped.toml"], &["piped.toml:1:11: extends:", "not a regular file"]);
    refused(dir, &["validate", "pipe.toml"], &["not a regular file"]);
    let big = fs::File::create(dir.join("big.toml")).unwrap();
    big.set_len(17 << 20).unwrap();
    refused(dir, &["validate", "big.toml"], &["larger than 16 MiB"]);
    fs::write(dir.join("sweep.toml"), "base = \"big.toml\"\n[[vary]]\npath = \"a.b\"\nvalues = [1]\n").unwrap();
    refused(dir, &["sweep", "sweep.toml", "--out", "o"], &["larger than 16 MiB"]);
    assert!(!dir.join("o").exists());
}

// ---------------------------------------------------------------- 8. messages ----

#[test]
fn extends_and_flag_messages_point_at_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::create_dir(dir.join("sub")).unwrap();
    fs::write(dir.join("sub/child.toml"), "# a layer\nextends = \"base.toml\"\n").unwrap();
    let out = refused(
        dir,
        &["validate", "sub/child.toml"],
        &["child.toml:2:11: extends: cannot read base scenario", "relative to the folder of sub/child.toml"],
    );
    assert!(!stderr(&out).contains("relative to the current folder"), "{}", stderr(&out));

    fs::write(dir.join("one.toml"), "extends = 1\n").unwrap();
    let out =
        refused(dir, &["validate", "one.toml"], &["one.toml:1:11: extends: expected the path of a base scenario"]);
    assert!(!stderr(&out).contains("from_layers"), "{}", stderr(&out));

    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    fs::write(dir.join("list.toml"), tiny.replacen("[scenario]", "[[scenario]]", 1)).unwrap();
    let out = refused(dir, &["run", "list.toml", "--replications", "1", "--out", "o"], &["list.toml:2:1: scenario"]);
    assert!(!stderr(&out).contains("--set"), "the flag is not to blame: {}", stderr(&out));
    assert!(!dir.join("o").exists());
}
