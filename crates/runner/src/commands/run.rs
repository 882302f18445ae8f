//! `chipmarket run`: replications of one scenario, in parallel, written as CSV.

use crate::console::out;
use anyhow::Result;
use rayon::prelude::*;

use chipmarket_engine::{run as run_engine, RunOptions, RunReport, Scenario};

use crate::cli::{Replications, RunArgs};
use crate::load::{self, InputError};
use crate::output::{csv, layout};
use crate::precision;
use crate::progress;
use crate::report;

/// Run every replication of `scenario` (in parallel; results in replication order).
pub fn replications(scenario: &Scenario, options: RunOptions, quiet: bool) -> Result<Vec<RunReport>> {
    let n = scenario.scenario.replications;
    let bar = progress::bar(u64::from(n), "replications", quiet || n < 2);
    let reports: Result<Vec<RunReport>, _> = (0..n)
        .into_par_iter()
        .map(|r| {
            let res = run_engine(scenario, r, options);
            bar.inc(1);
            res
        })
        .collect();
    bar.finish_and_clear();
    Ok(reports?)
}

/// The files of a run, by name, as bytes.
pub fn files(scenario: &Scenario, reports: &[RunReport], trace: bool) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = vec![
        ("scenario.resolved.toml", scenario.to_toml_string().into_bytes()),
        ("firms_quarterly.csv", csv::firms_quarterly(reports)),
        ("market_quarterly.csv", csv::market_quarterly(reports)),
        ("chips_quarterly.csv", csv::chips_quarterly(reports)),
        ("contracts.csv", csv::contracts(reports)),
        ("summary.csv", csv::summary(reports)),
    ];
    if trace {
        files.push(("events.csv", csv::events(reports)));
    }
    files
}

/// `chipmarket run [SCENARIO] [--out DIR] [--seed N] [--replications N] [--set PATH=VALUE]...`
pub fn run(args: &RunArgs) -> Result<()> {
    let started = report::Started::now();
    let mut sets = args.set.clone();
    if let Some(seed) = args.seed {
        sets.push(format!("scenario.seed={seed}"));
    }
    if let Some(Replications::Count(n)) = args.replications {
        if n == 0 {
            return Err(InputError("--replications: expected a whole number of at least 1, found 0".into()).into());
        }
        sets.push(format!("scenario.replications={n}"));
    }
    let (scenario, _source) = load::scenario(args.scenario.as_deref(), &sets)?;
    let trace = args.trace || scenario.output.trace;
    let options = RunOptions { record_rows: true, trace };
    let (scenario, reports, reached) = match args.replications {
        Some(Replications::Auto) => precision::run_until_precise(scenario, options, args.quiet)?,
        _ => {
            let reports = replications(&scenario, options, args.quiet)?;
            (scenario, reports, None)
        }
    };
    let out = args.out.clone().unwrap_or_else(|| layout::default_out(&scenario.scenario.name));
    let mut files = files(&scenario, &reports, trace);
    if let Some(reached) = &reached {
        files.push((precision::FILE, precision::csv(reached)));
    }
    let xlsx = args.xlsx || scenario.output.xlsx;
    layout::write_run_dir(&out, &files, args.force, |tmp| report::finish_run(tmp, xlsx, &started))?;
    if !args.quiet {
        let events: u64 = reports.iter().map(|r| r.events_processed).sum();
        crate::console::outln!(
            "{}: {} replication(s), {} events; wrote {} files to {}",
            scenario.scenario.name,
            reports.len(),
            events,
            files.len(),
            out.display()
        )?;
    }
    if let (Some(reached), false) = (&reached, args.quiet) {
        out!("{}", precision::describe(reached))?;
    }
    Ok(())
}
