//! Criterion benchmark: one replication of the shipped baseline scenario (2022 to 2032).
//!
//! `baseline_replication` collects every row into a `RunReport` (what tests do);
//! `baseline_replication_streamed` hands them to a sink that drops them (what `chipmarket run`
//! does before its CSV writers); `baseline_replication_summary_only` records no rows (sweeps).
#![allow(missing_docs)]

use chipmarket_engine::observe::Sink;
use chipmarket_engine::{run, run_with_sink, RunOptions, Scenario};
use criterion::{criterion_group, criterion_main, Criterion};

const BASELINE: &str = include_str!("../../../scenarios/baseline.toml");

/// A sink that ignores every row.
struct Drop;

impl Sink for Drop {}

fn baseline(c: &mut Criterion) {
    let scenario = Scenario::from_toml_str(BASELINE).expect("the baseline is valid");
    c.bench_function("baseline_replication", |b| {
        b.iter(|| run(&scenario, 0, RunOptions::default()).expect("runs"));
    });
    c.bench_function("baseline_replication_streamed", |b| {
        b.iter(|| run_with_sink(&scenario, 0, RunOptions::default(), &mut Drop).expect("runs"));
    });
    c.bench_function("baseline_replication_summary_only", |b| {
        let options = RunOptions { record_rows: false, trace: false };
        b.iter(|| run(&scenario, 0, options).expect("runs"));
    });
}

criterion_group!(benches, baseline);
criterion_main!(benches);
