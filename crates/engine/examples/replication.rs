//! Times replications of a scenario and reports events, events per second and peak memory.
//!
//! `cargo run --release -p chipmarket-engine --example replication -- [SCENARIO.toml] [--reps N]`
//!
//! Without a file it times the shipped baseline. Rows are recorded as `chipmarket run` does.
//! Peak memory is the process's high-water mark (VmHWM, Linux only).
#![allow(clippy::disallowed_methods, clippy::print_stdout, missing_docs)]

use std::time::Instant;

use chipmarket_engine::{run, RunOptions, Scenario};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = None;
    let mut reps = 20u32;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--reps" {
            reps = args.get(i + 1).and_then(|v| v.parse().ok()).expect("--reps N");
            i += 1;
        } else {
            path = Some(args[i].clone());
        }
        i += 1;
    }
    let text = match &path {
        Some(p) => std::fs::read_to_string(p).expect("readable scenario"),
        None => include_str!("../../../scenarios/baseline.toml").to_string(),
    };
    let scenario = Scenario::from_toml_str(&text).unwrap_or_else(|e| panic!("invalid scenario: {e}"));
    // Warm-up.
    let _ = run(&scenario, 0, RunOptions::default()).expect("runs");
    let mut times = Vec::new();
    let mut events = 0;
    for r in 0..reps {
        let t = Instant::now();
        let report = run(&scenario, r, RunOptions::default()).expect("runs");
        times.push(t.elapsed().as_secs_f64());
        events += report.events_processed;
    }
    times.sort_by(f64::total_cmp);
    let total: f64 = times.iter().sum();
    let median = times[times.len() / 2];
    let per_rep = events as f64 / f64::from(reps);
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .unwrap_or_else(|| "0".into());
    println!("scenario={} replications={reps}", scenario.scenario.name);
    println!("events_per_replication={per_rep:.0}");
    println!("median_ms_per_replication={:.2}", median * 1e3);
    println!("ns_per_event={:.1}", total * 1e9 / events as f64);
    println!("peak_rss_kib={hwm}");
    println!("events_per_sec={:.0}", events as f64 / total);
}
