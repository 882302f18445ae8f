//! Criterion benchmark: one replication of the shipped baseline scenario (2022 to 2032).
#![allow(missing_docs)]

use chipmarket_engine::{run, RunOptions, Scenario};
use criterion::{criterion_group, criterion_main, Criterion};

const BASELINE: &str = include_str!("../../../scenarios/baseline.toml");

fn baseline(c: &mut Criterion) {
    let scenario = Scenario::from_toml_str(BASELINE).expect("the baseline is valid");
    c.bench_function("baseline_replication", |b| {
        b.iter(|| run(&scenario, 0, RunOptions::default()).expect("runs"));
    });
    c.bench_function("baseline_replication_summary_only", |b| {
        let options = RunOptions { record_rows: false, trace: false };
        b.iter(|| run(&scenario, 0, options).expect("runs"));
    });
}

criterion_group!(benches, baseline);
criterion_main!(benches);
