//! `chipmarket run`: replications of one scenario, in parallel, streamed into CSV files.
//!
//! Each replication writes its rows as they happen into parts (in memory up to
//! [`SPOOL_BYTES`] per file, then in an unnamed temporary file in the output folder);
//! replications run on a pool of workers that never runs more than a few replications ahead
//! of the one being written, and the parts are appended to the files in replication order.
//! Peak memory therefore depends neither on the number of replications nor on the number of
//! contracts, and the files are byte-identical whatever the number of threads.

use std::fs::File;
use std::io::BufWriter;

use anyhow::{anyhow, Context, Result};
use tempfile::SpooledTempFile;

use chipmarket_engine::calendar::Calendar;
use chipmarket_engine::market::end_tick;
use chipmarket_engine::{run_with_sink, RunOptions, RunReport, Scenario};

use crate::batch::pool::run_ordered_within;
use crate::cli::RunArgs;
use crate::load::{self, InputError};
use crate::output::csv::{files_in_memory, Assembler, Choice, RowWriter};
use crate::output::layout::{self, StagedDir};
use crate::progress;

/// Bytes of one file's part kept in memory before it moves to a temporary file.
pub const SPOOL_BYTES: usize = 1 << 20;

/// Replications per worker that may wait, finished, for the ones before them.
const AHEAD_PER_JOB: u64 = 2;

/// The files of `reports`, by name, as bytes (every row file; `events.csv` with `trace`).
pub fn files(scenario: &Scenario, reports: &[RunReport], trace: bool) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = vec![("scenario.resolved.toml", scenario.to_toml_string().into_bytes())];
    // Writing to memory does not fail.
    files.extend(files_in_memory(reports, Choice { contracts: true, events: trace }).unwrap_or_default());
    files
}

/// Quarters a replication closes: from the start's quarter to the one the horizon ends in.
fn quarters_per_replication(scenario: &Scenario) -> u64 {
    let cal = Calendar::new(scenario.scenario.start);
    let end = cal.date_of(end_tick(scenario, &cal));
    let mut q = scenario.scenario.start.quarter();
    let mut n = 0;
    while q.first_day() < end {
        n += 1;
        q = q.next();
    }
    n
}

/// What a run wrote.
struct Done {
    files: usize,
    events: u64,
    replications: u64,
}

/// Run every replication of `scenario` and write the files into `staged`.
fn write_run(scenario: &Scenario, staged: &StagedDir, choice: Choice, quiet: bool) -> Result<Done> {
    let n = scenario.scenario.replications;
    let options = RunOptions { record_rows: true, trace: choice.events };
    let dir = staged.path();
    let open = |name: &str| -> Result<BufWriter<File>> {
        let path = dir.join(name);
        let file = File::create(&path).with_context(|| format!("failed to create '{}'", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 16, file))
    };
    let firm_ids: Vec<String> = scenario.firms.iter().map(|f| f.id.clone()).collect();
    let mut asm = Assembler::new(
        choice,
        &firm_ids,
        |f| open(f.name()).map_err(|e| std::io::Error::other(format!("{e:#}"))),
        open("summary.csv")?,
    )
    .context("failed to start the output files")?;
    let bar = progress::quarters(n, quarters_per_replication(scenario), quiet);
    let jobs = rayon::current_num_threads();
    run_ordered_within(
        0..u64::from(n),
        jobs,
        1,
        AHEAD_PER_JOB,
        || {
            |r: u64| -> Result<_> {
                let part = |_| tempfile::spooled_tempfile_in(SPOOL_BYTES, dir);
                let mut writer = RowWriter::<SpooledTempFile>::new(choice, part, bar.clone());
                let r = u32::try_from(r).context("replication number")?;
                run_with_sink(scenario, r, options, &mut writer).with_context(|| format!("replication {r} failed"))?;
                writer.finish().with_context(|| format!("failed to write the rows of replication {r}"))
            }
        },
        |r, result| {
            let written = result.map_err(|panic| anyhow!("replication {r} failed: {panic}"))??;
            let warnings = asm.append(written).context("failed to write the output files")?;
            for w in warnings {
                bar.suspend(|| eprintln!("{w}"));
            }
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let (events, replications) = (asm.events_processed, asm.replications);
    let (files, summary, shares) = asm.finish().context("failed to write the output files")?;
    let mut count = 1;
    for f in files.into_iter().flatten().chain([summary]) {
        f.into_inner().map_err(|e| e.into_error()).context("failed to write the output files")?;
        count += 1;
    }
    staged.write("shares_wide.csv", &shares)?;
    staged.write("scenario.resolved.toml", scenario.to_toml_string().as_bytes())?;
    count += 1;
    Ok(Done { files: count, events, replications })
}

/// `chipmarket run [SCENARIO] [--out DIR] [--seed N] [--replications N] [--set PATH=VALUE]...`
pub fn run(args: &RunArgs) -> Result<()> {
    let mut sets = args.set.clone();
    if let Some(seed) = args.seed {
        sets.push(format!("scenario.seed={seed}"));
    }
    if let Some(n) = args.replications {
        if n == 0 {
            return Err(InputError("--replications: expected a whole number of at least 1, found 0".into()).into());
        }
        sets.push(format!("scenario.replications={n}"));
    }
    let (scenario, _source) = load::scenario(args.scenario.as_deref(), &sets)?;
    let choice = Choice { contracts: scenario.output.contracts, events: args.trace || scenario.output.trace };
    let out = args.out.clone().unwrap_or_else(|| layout::default_out(&scenario.scenario.name));
    let staged = StagedDir::create(&out)?;
    let done = write_run(&scenario, &staged, choice, args.quiet)?;
    staged.commit()?;
    if !args.quiet {
        println!(
            "{}: {} replication(s), {} events; wrote {} files to {}",
            scenario.scenario.name,
            done.replications,
            done.events,
            done.files,
            out.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ten_year_horizon_from_a_quarter_start_has_forty_quarters() {
        let s = Scenario::from_toml_str(include_str!("../../../../scenarios/baseline.toml")).unwrap();
        assert_eq!(quarters_per_replication(&s), 40);
        let report = chipmarket_engine::run(&s, 0, RunOptions { record_rows: true, trace: false }).unwrap();
        assert_eq!(report.market.len(), 40, "the bar's length is the number of quarter rows");
    }

    #[test]
    fn streamed_files_are_the_files_of_the_collected_reports() {
        let text = include_str!("../../tests/data/tiny.toml");
        let mut s = Scenario::from_toml_str(text).unwrap();
        s.scenario.replications = 5;
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let staged = StagedDir::create(&out).unwrap();
        let choice = Choice { contracts: true, events: true };
        let done = write_run(&s, &staged, choice, true).unwrap();
        staged.commit().unwrap();
        let options = RunOptions { record_rows: true, trace: true };
        let reports: Vec<RunReport> = (0..5).map(|r| chipmarket_engine::run(&s, r, options).unwrap()).collect();
        let expected = files(&s, &reports, true);
        assert_eq!(done.files, expected.len());
        assert_eq!(done.events, reports.iter().map(|r| r.events_processed).sum::<u64>());
        for (name, bytes) in expected {
            let written = std::fs::read(out.join(name)).unwrap();
            assert!(written == bytes, "{name} differs from the collected reports' file");
        }
        // Small parts stay in memory; a part past the limit moves to a temporary file in the
        // output folder, which leaves no file behind.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "only the output folder is left");
    }
}
