//! `chipmarket run`: replications of one scenario, in parallel, streamed into CSV files (with
//! several scenarios, each in turn with the same seed, then their paired comparison).
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
use std::path::{Path, PathBuf};

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

/// The command-line overrides of a run, in the order they apply: `--set` lines, then `--seed`
/// as `scenario.seed=N` (what names the default folder and what the report shows).
fn overrides(args: &RunArgs) -> Vec<String> {
    let mut sets = args.set.clone();
    if let Some(seed) = args.seed {
        sets.push(format!("scenario.seed={seed}"));
    }
    sets
}

/// The overrides and `--replications N` as `--set` lines.
fn all_sets(args: &RunArgs) -> Result<Vec<String>> {
    let mut sets = overrides(args);
    if let Some(Replications::Count(n)) = args.replications {
        if n == 0 {
            return Err(InputError::new("--replications: expected a whole number of at least 1, found 0").into());
        }
        sets.push(format!("scenario.replications={n}"));
    }
    Ok(sets)
}

/// `chipmarket run [SCENARIO]... [--out DIR] [--seed N] [--replications N|auto] [--set PATH=VALUE]...`
pub fn run(args: &RunArgs) -> Result<()> {
    if args.scenarios.len() > 1 {
        return run_many(args);
    }
    let started = report::Started::now();
    let sets = all_sets(args)?;
    let (scenario, _source) = load::scenario(args.scenarios.first().map(PathBuf::as_path), &sets)?;
    let given = overrides(args);
    let out = args.out.clone().unwrap_or_else(|| layout::default_out(&scenario.scenario.name));
    run_one(args, scenario, &out, &given, &started)?;
    Ok(())
}

/// Run one loaded scenario into `out`.
fn run_one(
    args: &RunArgs,
    mut scenario: Scenario,
    out: &Path,
    given: &[String],
    started: &report::Started,
) -> Result<()> {
    let count = match args.replications {
        Some(Replications::Auto) => {
            precision::table(&scenario)?;
            Count::Auto
        }
        _ => Count::Fixed,
    };
    let choice = Choice { contracts: scenario.output.contracts, events: args.trace || scenario.output.trace };
    let xlsx = args.xlsx || scenario.output.xlsx;
    let claim = owner::claim(out, Kind::Run, args.force)?;
    claim.refuse_conflicts(&FIXED_FILES)?;
    let done = claim.write(|stage| {
        let done = write_run(&mut scenario, stage, choice, count, args.quiet)?;
        report::finish_run(stage, xlsx, started, given)?;
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

/// `chipmarket run A.toml B.toml ...`: every scenario with the first one's seed and
/// replications into `OUT/<name>/`, then their paired differences against the first into
/// `OUT/comparison/`. Every folder is checked before anything runs.
fn run_many(args: &RunArgs) -> Result<()> {
    let started = report::Started::now();
    if args.replications == Some(Replications::Auto) {
        return Err(InputError::new(
            "--replications auto runs one scenario; a comparison needs the same replications in every run",
        )
        .with_hint("give a count, e.g. --replications 100")
        .into());
    }
    let sets = all_sets(args)?;
    let (first, _) = load::scenario(Some(&args.scenarios[0]), &sets)?;
    let (seed, reps) = (first.scenario.seed, first.scenario.replications);
    let given = overrides(args);
    // Each scenario with the overrides it ran with (the first one's seed and replications
    // added where its own differ), for its report's provenance.
    let mut scenarios = vec![(first, given.clone())];
    let mut notes = Vec::new();
    for path in &args.scenarios[1..] {
        let (own, _) = load::scenario(Some(path), &sets)?;
        let mut own_given = given.clone();
        if own.scenario.seed != seed || own.scenario.replications != reps {
            notes.push(format!(
                "note: {} runs with {}'s seed {seed} and {reps} replication(s) (its own: seed {}, {} replication(s)), \
                 so the runs can be paired",
                own.scenario.name, scenarios[0].0.scenario.name, own.scenario.seed, own.scenario.replications
            ));
            own_given.push(format!("scenario.seed={seed}"));
            own_given.push(format!("scenario.replications={reps}"));
        }
        let mut paired_sets = sets.clone();
        paired_sets.push(format!("scenario.seed={seed}"));
        paired_sets.push(format!("scenario.replications={reps}"));
        let (s, _) = load::scenario(Some(path), &paired_sets)?;
        scenarios.push((s, own_given));
    }
    let scenarios_only: Vec<&Scenario> = scenarios.iter().map(|(s, _)| s).collect();
    for (i, s) in scenarios_only.iter().enumerate() {
        if let Some(j) = scenarios_only[..i].iter().position(|t| t.scenario.name == s.scenario.name) {
            return Err(InputError::new(format!(
                "{} and {} are both named \"{}\"; each run goes to OUT/<scenario name>/",
                args.scenarios[j].display(),
                args.scenarios[i].display(),
                s.scenario.name
            ))
            .with_hint("give each scenario its own [scenario] name")
            .into());
        }
        if s.scenario.name == COMPARISON {
            return Err(InputError::new(format!(
                "{}: a scenario named \"{COMPARISON}\" would share the folder of the comparison",
                args.scenarios[i].display()
            ))
            .with_hint("rename the scenario")
            .into());
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| layout::default_out(&format!("compare-{}", scenarios_only[0].scenario.name)));
    for s in &scenarios_only {
        owner::claim(&out.join(&s.scenario.name), Kind::Run, args.force)?.refuse_conflicts(&FIXED_FILES)?;
    }
    owner::claim(&out.join(COMPARISON), Kind::Diff, args.force)?.refuse_conflicts(&report::COMPARISON_FILES)?;
    if !args.quiet {
        for n in &notes {
            errln!("{n}");
        }
    }
    let mut dirs = Vec::new();
    for (s, own_given) in scenarios {
        let dir = out.join(&s.scenario.name);
        run_one(args, s, &dir, &own_given, &started)?;
        dirs.push(dir);
    }
    let written = report::write_comparison(&dirs[0], &dirs[1..], &out.join(COMPARISON), args.force, &started)?;
    if !args.quiet {
        outln!(
            "comparison: wrote {} files (paired differences against {}) to {}",
            written,
            dirs[0].display(),
            out.join(COMPARISON).display()
        )?;
    }
    Ok(())
}

/// The comparison folder of a multi-scenario run, inside its `--out`.
const COMPARISON: &str = names::COMPARISON;

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
