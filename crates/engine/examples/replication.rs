//! Times replications of a scenario and reports events, events per second and peak memory.
//!
//! `cargo run --release -p chipmarket-engine --example replication -- [SCENARIO.toml] [--reps N] [--set PATH=VALUE]...`
//!
//! Without a file it times the shipped baseline. Rows are streamed to a sink that counts
//! them, as `chipmarket run` streams them to its CSV writers, so peak memory is the engine's
//! own (plus this program). Peak memory is the process's high-water mark (VmHWM, Linux only).
#![allow(clippy::disallowed_methods, clippy::print_stdout, missing_docs)]

use std::time::Instant;

use chipmarket_engine::observe::{Catalog, ChipQuarter, ContractRow, FirmQuarter, MarketQuarter, Sink, Summary};
use chipmarket_engine::scenario::parse_override;
use chipmarket_engine::{run_with_sink, RunOptions, Scenario};

/// Counts the rows of each kind.
#[derive(Default)]
struct Count {
    rows: u64,
    contracts: u64,
    events: u64,
}

impl Sink for Count {
    fn firm_quarter(&mut self, _: &Catalog, _: &FirmQuarter) {
        self.rows += 1;
    }
    fn market_quarter(&mut self, _: &Catalog, _: &MarketQuarter) {
        self.rows += 1;
    }
    fn chip_quarter(&mut self, _: &Catalog, _: &ChipQuarter) {
        self.rows += 1;
    }
    fn contract(&mut self, _: &Catalog, _: &ContractRow) {
        self.contracts += 1;
    }
    fn end(&mut self, _: &Catalog, _: Summary, events_processed: u64) {
        self.events += events_processed;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = None;
    let mut reps = 20u32;
    let mut sets = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--reps" => {
                reps = args.get(i + 1).and_then(|v| v.parse().ok()).expect("--reps N");
                i += 1;
            }
            "--set" => {
                sets.push(args.get(i + 1).expect("--set PATH=VALUE").clone());
                i += 1;
            }
            other => path = Some(other.to_string()),
        }
        i += 1;
    }
    let text = match &path {
        Some(p) => std::fs::read_to_string(p).expect("readable scenario"),
        None => include_str!("../../../scenarios/baseline.toml").to_string(),
    };
    let sets: Vec<_> =
        sets.iter().map(|s| parse_override(s).unwrap_or_else(|e| panic!("bad --set {s}: {e}"))).collect();
    let scenario = Scenario::from_layers(&[&text], &sets).unwrap_or_else(|e| panic!("invalid scenario: {e}"));
    let options = RunOptions::default();
    // Warm-up.
    run_with_sink(&scenario, 0, options, &mut Count::default()).expect("runs");
    let mut times = Vec::new();
    let mut count = Count::default();
    for r in 0..reps {
        let t = Instant::now();
        run_with_sink(&scenario, r, options, &mut count).expect("runs");
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let total: f64 = times.iter().sum();
    let median = times[times.len() / 2];
    let events = count.events;
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .unwrap_or_else(|| "0".into());
    println!("scenario={} replications={reps}", scenario.scenario.name);
    println!("events_per_replication={:.0}", events as f64 / f64::from(reps));
    println!("contracts_per_replication={:.0}", count.contracts as f64 / f64::from(reps));
    println!("quarter_rows_per_replication={:.0}", count.rows as f64 / f64::from(reps));
    println!("median_ms_per_replication={:.2}", median * 1e3);
    println!("ns_per_event={:.1}", total * 1e9 / events as f64);
    println!("peak_rss_kib={hwm}");
    println!("events_per_sec={:.0}", events as f64 / total);
}
