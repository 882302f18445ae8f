//! Sweep throughput and memory, measured on the release binary: `cargo bench -p chipmarket --bench sweep`.
//!
//! This benchmark demonstrates the three figures docs/sweeps.md reports:
//!
//! ```text
//!   runs/s of the shipped sweeps at --jobs 1 and --jobs 2  -> speedup jobs 2 / jobs 1
//!   peak RSS of a 1,000-run and a 10,000-run tiny sweep     -> memory ratio
//! ```
//!
//! Each timing is the best of a few repetitions (other work on the machine only ever slows a
//! run down), measured as the wall time of the whole `chipmarket sweep` process. Peak memory is
//! the process's maximum resident set, from `/usr/bin/time` when it is there, else from polling
//! `VmHWM` in `/proc/<pid>/status`. `cargo bench -p chipmarket --bench sweep -- quick` runs only
//! the tiny sweeps.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_chipmarket");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A tiny sweep of `points` x 10 replications over tests/data/tiny.toml.
fn tiny_sweep(dir: &Path, points: u32) -> PathBuf {
    let base = root().join("crates/runner/tests/data/tiny.toml");
    let text = format!(
        "base = {:?}\nreplications = 10\nmethod = \"lhs\"\nsamples = {points}\n\
         [[vary]]\npath = \"firms.dom.rd_intensity\"\nrange = [0.05, 0.5]\n\
         [[vary]]\npath = \"demand.tenders_per_year\"\nrange = [6, 24]\n",
        base.to_string_lossy()
    );
    let path = dir.join(format!("tiny-{points}.toml"));
    fs::write(&path, text).expect("the temporary folder is writable");
    path
}

/// Wall time and peak resident memory [KiB] of one sweep.
fn measure(sweep: &Path, jobs: u32, out: &Path) -> (Duration, u64) {
    let _ = fs::remove_dir_all(out);
    let args = [
        "sweep".to_string(),
        sweep.to_string_lossy().into_owned(),
        "--out".into(),
        out.to_string_lossy().into_owned(),
        "--jobs".into(),
        jobs.to_string(),
        "--quiet".into(),
    ];
    let time = Path::new("/usr/bin/time");
    let started = Instant::now();
    if time.exists() {
        let report = out.with_extension("rss");
        let status = Command::new(time)
            .args(["-f", "%M", "-o"])
            .arg(&report)
            .arg(BIN)
            .args(&args)
            .stdout(Stdio::null())
            .status()
            .expect("/usr/bin/time runs");
        let elapsed = started.elapsed();
        assert!(status.success(), "the sweep failed: {args:?}");
        let rss = fs::read_to_string(&report).ok().and_then(|t| t.trim().lines().last()?.trim().parse().ok());
        return (elapsed, rss.unwrap_or(0));
    }
    let mut child = Command::new(BIN).args(&args).stdout(Stdio::null()).spawn().expect("the binary runs");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().split(' ').next()?.parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            assert!(status.success(), "the sweep failed: {args:?}");
            return (started.elapsed(), peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Best wall time of `reps` runs, and the largest peak memory seen.
fn best(sweep: &Path, jobs: u32, out: &Path, reps: u32) -> (Duration, u64) {
    (0..reps).map(|_| measure(sweep, jobs, out)).fold((Duration::MAX, 0), |(t, m), (t2, m2)| (t.min(t2), m.max(m2)))
}

fn runs_in(out: &Path) -> u64 {
    fs::read_to_string(out.join("runs.csv")).map_or(0, |t| t.lines().count() as u64 - 1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("sweep benchmark: run it with `cargo bench -p chipmarket --bench sweep`");
        return;
    }
    let quick = args.iter().any(|a| a == "quick");
    let tmp = std::env::temp_dir().join(format!("chipmarket-sweep-bench-{}", std::process::id()));
    fs::create_dir_all(&tmp).expect("a temporary folder");
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} cores; load average before: {}",
        num_cpus(),
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    println!();
    println!("{:<34} {:>6} {:>5} {:>9} {:>9} {:>10}", "sweep", "runs", "jobs", "wall s", "runs/s", "peak MiB");

    let mut sweeps = vec![("tiny, 1,000 runs", tiny_sweep(&tmp, 100)), ("tiny, 10,000 runs", tiny_sweep(&tmp, 1000))];
    if !quick {
        sweeps.push(("export-controls (grid, baseline)", root().join("scenarios/sweeps/export-controls.toml")));
        sweeps.push(("uncertainty-lhs (lhs, baseline)", root().join("scenarios/sweeps/uncertainty-lhs.toml")));
    }
    let mut peaks = Vec::new();
    for (name, sweep) in &sweeps {
        let out = tmp.join("out");
        let mut rates = Vec::new();
        for jobs in [1, 2] {
            let (wall, rss) = best(sweep, jobs, &out, 3);
            let runs = runs_in(&out);
            let rate = runs as f64 / wall.as_secs_f64();
            rates.push(rate);
            println!(
                "{name:<34} {runs:>6} {jobs:>5} {:>9.2} {rate:>9.0} {:>10.1}",
                wall.as_secs_f64(),
                rss as f64 / 1024.0
            );
            if jobs == 2 {
                peaks.push((*name, rss));
            }
        }
        println!("{:<34} speedup jobs 2 / jobs 1: {:.2}x", "", rates[1] / rates[0]);
    }
    if let [(_, small), (_, large), ..] = peaks[..] {
        println!();
        println!(
            "peak memory, 10,000-run / 1,000-run tiny sweep (jobs 2): {:.2}x ({} KiB / {} KiB)",
            large as f64 / small.max(1) as f64,
            large,
            small
        );
    }
    let _ = fs::remove_dir_all(&tmp);
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
