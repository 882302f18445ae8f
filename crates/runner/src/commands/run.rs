//! `chipmarket run`: replications of one scenario, in parallel, streamed into CSV files.
//!
//! Each replication writes its rows as they happen into parts (in memory up to
//! [`SPOOL_BYTES`] per file, then in an unnamed temporary file in the output folder);
//! replications run on a pool of workers that never runs more than a few replications ahead
//! of the one being written, and the parts are appended to the files in replication order.
//! Peak memory therefore depends neither on the number of replications nor on the number of
//! contracts, and the files are byte-identical whatever the number of threads. The files go
//! into a staging folder of the `--out` claim (`output::owner`), where the derived outputs are
//! made from them before they move into place.

use std::fs::File;
use std::io::BufWriter;
use std::ops::Range;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use tempfile::SpooledTempFile;

use chipmarket_engine::analysis::precision::KpiPrecision;
use chipmarket_engine::horizon_end;
use chipmarket_engine::{run_with_sink, RunOptions, Scenario};

use crate::batch::pool::run_ordered_within;
use crate::cli::{Replications, RunArgs};
use crate::console::{errln, out, outln};
use crate::error::InputError;
use crate::load;
use crate::output::csv::{Assembler, Choice, RowWriter};
use crate::output::owner::{self, Kind};
use crate::output::{layout, names};
use crate::precision::{self, Kpis};
use crate::progress;
use crate::report;

/// Bytes of one file's part kept in memory before it moves to a temporary file.
pub const SPOOL_BYTES: usize = 1 << 20;

/// Files every run writes whatever its scenario (checked before the run against files of the
/// same names that `--force` must not replace; charts and optional files are checked at the end).
pub const FIXED_FILES: [&str; 11] = [
    names::SCENARIO_RESOLVED,
    names::SUMMARY,
    names::FIRMS_QUARTERLY,
    names::MARKET_QUARTERLY,
    names::CHIPS_QUARTERLY,
    names::MARKET_SUMMARY,
    names::FIRMS_SUMMARY,
    names::SHARES_WIDE,
    names::GAPS_WIDE,
    names::REPORT,
    names::MANIFEST,
];

/// Replications per worker that may wait, finished, for the ones before them.
const AHEAD_PER_JOB: u64 = 2;

/// Quarters a replication closes: from the start's quarter to the one the horizon ends in.
fn quarters_per_replication(scenario: &Scenario) -> u64 {
    let end = horizon_end(scenario);
    let mut q = scenario.scenario.start.quarter();
    let mut n = 0;
    while q.first_day() < end {
        n += 1;
        q = q.next();
    }
    n
}

/// How many replications a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    /// The scenario's `replications`.
    Fixed,
    /// `--replications auto`: batches until `[scenario.precision]` is met.
    Auto,
}

/// What a run wrote.
struct Done {
    /// Files written (before the derived outputs).
    files: usize,
    events: u64,
    replications: u32,
    /// Where the KPIs stand (`--replications auto`).
    reached: Option<Vec<KpiPrecision>>,
}

/// Run the replications of `scenario` and write the files into the folder `dir`. With
/// [`Count::Auto`], `scenario.replications` is set to the count run (so the resolved
/// scenario reruns the same) and `precision.csv` is written.
fn write_run(scenario: &mut Scenario, dir: &Path, choice: Choice, count: Count, quiet: bool) -> Result<Done> {
    let options = RunOptions { record_rows: true, trace: choice.events };
    let open = |name: &str| -> Result<BufWriter<File>> {
        let path = dir.join(name);
        let file = File::create(&path).with_context(|| format!("failed to create '{}'", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 16, file))
    };
    let mut asm = Assembler::new(
        choice,
        |f| open(f.name()).map_err(|e| std::io::Error::other(format!("{e:#}"))),
        open(names::SUMMARY)?,
    )
    .context("failed to start the output files")?;
    let table = match count {
        Count::Fixed => None,
        Count::Auto => Some(precision::table(scenario)?),
    };
    if let Some(p) = &table {
        precision::check_kpis_first(scenario, p)?;
    }
    let most = table.as_ref().map_or(scenario.scenario.replications, |p| p.max_replications);
    let bar = progress::quarters(most, quarters_per_replication(scenario), quiet);
    let jobs = rayon::current_num_threads();
    let sc: &Scenario = scenario;
    // Run replications `range` in order into the files; the KPIs of each when `keep_kpis`.
    let mut batch = |range: Range<u32>, keep_kpis: bool| -> Result<Vec<Kpis>> {
        let mut kpis = Vec::new();
        run_ordered_within(
            u64::from(range.start)..u64::from(range.end),
            jobs,
            1,
            AHEAD_PER_JOB,
            || {
                |r: u64| -> Result<_> {
                    let part = |_| tempfile::spooled_tempfile_in(SPOOL_BYTES, dir);
                    let bar = bar.clone();
                    let mut writer = RowWriter::<SpooledTempFile>::new(choice, part, move || bar.inc(1));
                    let r = u32::try_from(r).context("replication number")?;
                    run_with_sink(sc, r, options, &mut writer).with_context(|| format!("replication {r} failed"))?;
                    writer.finish().with_context(|| format!("failed to write the rows of replication {r}"))
                }
            },
            |r, result| {
                let mut written = result.map_err(|panic| anyhow!("replication {r} failed: {panic}"))??;
                if keep_kpis {
                    kpis.push(std::mem::take(&mut written.kpis));
                }
                let warnings = asm.append(written).context("failed to write the output files")?;
                for w in warnings {
                    bar.suspend(|| errln!("{w}"));
                }
                Ok(())
            },
        )?;
        Ok(kpis)
    };
    let reached = match &table {
        None => {
            batch(0..sc.scenario.replications, false)?;
            None
        }
        Some(p) => Some(precision::run_until_precise(p, |range| batch(range, true))?),
    };
    bar.finish_and_clear();
    let (events, replications) = (asm.events_processed, asm.replications);
    let (files, summary) = asm.finish().context("failed to write the output files")?;
    let mut written = 0;
    for f in files.into_iter().flatten().chain([summary]) {
        f.into_inner().map_err(|e| e.into_error()).context("failed to write the output files")?;
        written += 1;
    }
    let replications = u32::try_from(replications).context("replication count")?;
    let reached = reached.map(|(n, reached)| {
        scenario.scenario.replications = n;
        reached
    });
    let mut put = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("failed to write '{}'", path.display()))?;
        written += 1;
        Ok(())
    };
    put(names::SCENARIO_RESOLVED, scenario.to_toml_string().as_bytes())?;
    if let Some(reached) = &reached {
        put(precision::FILE, &precision::csv(reached))?;
    }
    Ok(Done { files: written, events, replications, reached })
}

/// `chipmarket run [SCENARIO] [--out DIR] [--seed N] [--replications N|auto] [--set PATH=VALUE]...`
pub fn run(args: &RunArgs) -> Result<()> {
    let started = report::Started::now();
    let mut sets = args.set.clone();
    if let Some(seed) = args.seed {
        sets.push(format!("scenario.seed={seed}"));
    }
    if let Some(Replications::Count(n)) = args.replications {
        if n == 0 {
            return Err(InputError::new("--replications: expected a whole number of at least 1, found 0").into());
        }
        sets.push(format!("scenario.replications={n}"));
    }
    let (mut scenario, _source) = load::scenario(args.scenario.as_deref(), &sets)?;
    let count = match args.replications {
        Some(Replications::Auto) => {
            precision::table(&scenario)?;
            Count::Auto
        }
        _ => Count::Fixed,
    };
    let choice = Choice { contracts: scenario.output.contracts, events: args.trace || scenario.output.trace };
    let xlsx = args.xlsx || scenario.output.xlsx;
    let out = args.out.clone().unwrap_or_else(|| layout::default_out(&scenario.scenario.name));
    let claim = owner::claim(&out, Kind::Run, args.force)?;
    claim.refuse_conflicts(&FIXED_FILES)?;
    let done = claim.write(|stage| {
        let done = write_run(&mut scenario, stage, choice, count, args.quiet)?;
        report::finish_run(stage, xlsx, &started)?;
        Ok(done)
    })?;
    if !args.quiet {
        outln!(
            "{}: {} replication(s), {} events; wrote {} data files, summaries, charts and report.html to {}",
            scenario.scenario.name,
            done.replications,
            done.events,
            done.files,
            out.display()
        )?;
        if let Some(reached) = &done.reached {
            out!("{}", precision::describe(reached))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ten_year_horizon_from_a_quarter_start_has_forty_quarters() {
        let mut s = Scenario::from_toml_str(include_str!("../../tests/data/tiny.toml")).unwrap();
        s.scenario.horizon_years = 10.0;
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
        std::fs::create_dir(&out).unwrap();
        let choice = Choice { contracts: true, events: true };
        let done = write_run(&mut s, &out, choice, Count::Fixed, true).unwrap();
        let options = RunOptions { record_rows: true, trace: true };
        let reports: Vec<chipmarket_engine::RunReport> =
            (0..5).map(|r| chipmarket_engine::run(&s, r, options).unwrap()).collect();
        let expected = crate::output::csv::run_files(&s, &reports, true);
        assert_eq!(done.files, expected.len());
        assert_eq!(done.events, reports.iter().map(|r| r.events_processed).sum::<u64>());
        for (name, bytes) in expected {
            let written = std::fs::read(out.join(name)).unwrap();
            assert!(written == bytes, "{name} differs from the collected reports' file");
        }
        // Small parts stay in memory; a part past the limit moves to an unnamed temporary
        // file, which leaves nothing behind: the folder holds the files and nothing else.
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), done.files);
    }
}
