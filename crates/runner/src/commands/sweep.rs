//! `chipmarket sweep SWEEP.toml`: every point x replication of a sweep file, in parallel, streamed
//! into `runs.csv` and summarised into `points.csv` (docs/sweeps.md).
//!
//! Runs are numbered point-major (`point x replications + replication`) and written in that
//! order whatever `--jobs`, so the files are byte-identical for any thread count. `--shard K/N`
//! runs a contiguous block of whole points; `--resume` continues an interrupted sweep (see
//! `batch::outdir`). A run that fails or panics is reported with its point and seed, written
//! with empty KPI cells and listed in `failures.csv`; the others go on, and the exit code is 1.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Result};

use chipmarket_engine::scenario::Scenario;
use chipmarket_engine::sweep::Sweep;
use chipmarket_engine::{run as run_engine, RunOptions};

use crate::batch::outdir::{self, Expect, Opened, OutDir, State};
use crate::batch::pool::{panic_message, run_ordered};
use crate::batch::rows::{self, RunsCheck};
use crate::batch::{stats, Shard, ShardFile};
use crate::cli::SweepArgs;
use crate::console::{errln, outln};
use crate::error::InputError;
use crate::load::sweep::{load_design, Loaded};
use crate::output::csv::{csv_line, opt};
use crate::output::owner::{self, Claim, Kind, Mode};
use crate::output::{layout, names};
use crate::progress;
use crate::report;

/// What every worker needs to run one run and format its rows.
struct Plan<'a> {
    sweep: &'a Sweep,
    replications: u64,
    kpis: Vec<String>,
    /// `runs/` with `--keep-runs`.
    run_dirs: Option<PathBuf>,
    /// Test hook (`--debug-fail-run`): the run that panics.
    fail_run: Option<u64>,
}

/// One run's rows, formatted.
struct RunRows {
    row: Vec<u8>,
    /// The failure row and message, if the run failed.
    failure: Option<(Vec<u8>, String)>,
}

impl Plan<'_> {
    fn locate(&self, idx: u64) -> (usize, u32) {
        ((idx / self.replications) as usize, (idx % self.replications) as u32)
    }

    /// point, replication, seed and the parameter cells of a run.
    fn identity(&self, idx: u64) -> Vec<String> {
        rows::identity(self.sweep, self.replications, idx)
    }

    fn rows(&self, idx: u64, kpis: Result<Vec<Option<f64>>, String>) -> RunRows {
        let mut cells = self.identity(idx);
        match kpis {
            Ok(values) => {
                cells.extend(values.into_iter().map(opt));
                RunRows { row: csv_line(&cells), failure: None }
            }
            Err(message) => {
                let message = message.replace(['\r', '\n'], " ");
                let mut failure = cells.clone();
                failure.push(message.clone());
                cells.extend(std::iter::repeat_n(String::new(), self.kpis.len()));
                RunRows { row: csv_line(&cells), failure: Some((csv_line(&failure), message)) }
            }
        }
    }

    /// Run `idx` with `scenario` (the point's, or why it could not be built).
    fn run(&self, idx: u64, scenario: &Result<Scenario, String>) -> Result<Vec<Option<f64>>, String> {
        let scenario = scenario.as_ref().map_err(Clone::clone)?;
        if self.fail_run == Some(idx) {
            panic!("failure injected by --debug-fail-run");
        }
        let (point, rep) = self.locate(idx);
        let options = RunOptions { record_rows: self.run_dirs.is_some(), trace: false };
        let report = run_engine(scenario, rep, options).map_err(|e| format!("the simulation failed: {e}"))?;
        let names = report.summary.kpis.iter().map(|(k, _)| k);
        if !names.eq(self.kpis.iter()) {
            return Err("its KPI columns differ from the sweep's (a varied path changes which KPIs exist)".into());
        }
        if let Some(dirs) = &self.run_dirs {
            let width = |n: u64| n.saturating_sub(1).max(1).to_string().len();
            let name = format!(
                "p{point:0pw$}-r{rep:0rw$}",
                pw = width(self.sweep.points.len() as u64),
                rw = width(self.replications)
            );
            let files = crate::output::csv::run_files(scenario, std::slice::from_ref(&report), false);
            layout::write_dir_atomically(&dirs.join(name), &files)
                .map_err(|e| format!("failed to write its files: {e:#}"))?;
        }
        Ok(report.summary.kpis.iter().map(|(_, v)| *v).collect())
    }
}

/// The marker entry of a sweep's `runs/` (every file under it is the sweep's).
const RUNS_ENTRY: &str = "runs/";

fn claim_conflict(out: &Path, name: &str) -> InputError {
    InputError::new(format!("--out '{}' holds a '{name}' that the sweep did not write", out.display()))
        .with_hint("choose another folder, or move it away (--force only adds files)")
}

/// The derived outputs and manifest of a finished sweep (with `derived`; a shard has none),
/// and its marker: the folder's files of the sweep protocol (and an earlier analysis) are the
/// sweep's own.
fn finish(claim: &Claim, keep_runs: bool, derived: bool, began: &report::Started) -> Result<()> {
    let done = Claim { mode: if claim.mode == Mode::New { Mode::Replace } else { claim.mode }, ..claim.clone() };
    let owned = |f: &str| claim.marker.as_ref().is_some_and(|m| m.owns(f));
    // The protocol's hidden files are the sweep's even when gone (a refused --resume leaves its lock).
    let mut in_place: BTreeSet<String> = outdir::PROTOCOL_FILES.iter().map(|f| (*f).to_string()).collect();
    for f in [outdir::RESOLVED, outdir::RUNS, outdir::POINTS, outdir::FAILURES, outdir::SHARD] {
        if claim.dir.join(f).is_file() {
            in_place.insert(f.to_string());
        }
    }
    for f in [names::SENSITIVITY, names::BOXES] {
        if claim.dir.join(f).is_file() && owned(f) {
            in_place.insert(f.to_string());
        }
    }
    if keep_runs || (owned(RUNS_ENTRY) && claim.dir.join(outdir::RUN_DIRS).is_dir()) {
        in_place.insert(RUNS_ENTRY.to_string());
    }
    report::finish_sweep_in(&done, "sweep", began, &in_place, derived)
}

/// The KPI columns, from the first run that succeeds (the same for every point).
fn kpi_names(sweep: &Sweep, points: std::ops::Range<usize>) -> Result<Vec<String>> {
    let mut last = String::new();
    for point in points.take(8) {
        let scenario = sweep.scenario(point).map_err(|e| anyhow!("{e}"))?;
        let options = RunOptions { record_rows: false, trace: false };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_engine(&scenario, 0, options))) {
            Ok(Ok(report)) => return Ok(report.summary.kpis.into_iter().map(|(k, _)| k).collect()),
            Ok(Err(e)) => last = e.to_string(),
            Err(p) => last = format!("panicked: {}", panic_message(&*p)),
        }
    }
    bail!("cannot tell the KPI columns: the first runs of the sweep all failed (last: {last})")
}

/// `chipmarket sweep SWEEP.toml [--out DIR] [--jobs N] [--shard K/N] [--resume] [--keep-runs] [--quiet]`
pub fn sweep(args: &SweepArgs) -> Result<()> {
    let started = Instant::now();
    let began = report::Started::now();
    // A shard checks only its own points, so its cost does not grow with the whole design.
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let (loaded, text) = load_design(&args.file)?;
    let n_points = loaded.sweep.points.len();
    let points = match shard {
        Some(s) => s.points(n_points)?,
        None => 0..n_points,
    };
    loaded.check_points(points.clone(), &args.file, &text)?;
    let Loaded { sweep, name } = loaded;
    let jobs = crate::batch::pool::jobs(args.jobs)?;
    let fail_run = match &args.debug_fail_run {
        None => None,
        Some(text) => {
            let parsed = text.split_once('/').and_then(|(p, r)| Some((p.parse::<u64>().ok()?, r.parse::<u64>().ok()?)));
            let (p, r) = parsed.ok_or_else(|| {
                InputError::new(format!("--debug-fail-run: expected POINT/REPLICATION, found \"{text}\""))
            })?;
            Some(p * u64::from(sweep.replications()) + r)
        }
    };
    let out = args.out.clone().unwrap_or_else(|| match shard {
        Some(s) => layout::default_out(&format!("{name}-shard-{}-of-{}", s.k, s.n)),
        None => layout::default_out(&name),
    });

    let claim = owner::claim(&out, Kind::Sweep, args.force)?;
    claim.refuse_conflicts(&outdir::FIXED_FILES)?;
    let runs_ours = claim.marker.as_ref().is_some_and(|m| m.files.contains(RUNS_ENTRY));
    if args.keep_runs && claim.mode == Mode::Add && claim.dir.join(outdir::RUN_DIRS).exists() && !runs_ours {
        return Err(claim_conflict(&out, outdir::RUN_DIRS).into());
    }

    let replications = u64::from(sweep.replications());
    let kpis = kpi_names(&sweep, points.clone())?;
    let identity = RunsCheck::identity_header(&sweep);
    let runs_header = String::from_utf8_lossy(&csv_line(&[identity.clone(), kpis.clone()].concat())).into_owned();
    let failures_header =
        String::from_utf8_lossy(&csv_line(&[identity.clone(), vec!["error".to_string()]].concat())).into_owned();
    let shard_file = shard.map(|s| ShardFile {
        shard: s.to_string(),
        first_point: points.start as u64,
        end_point: points.end as u64,
        points: n_points as u64,
        replications,
        design_sha256: rows::design_sha256(&sweep),
        runs_sha256: String::new(),
    });
    let runs = points.start as u64 * replications..points.end as u64 * replications;
    let expect = Expect {
        state: State {
            version: env!("CARGO_PKG_VERSION").to_string(),
            shard: shard.map(|s| s.to_string()),
            keep_runs: args.keep_runs,
            resolved: sweep.to_resolved_toml(),
        },
        runs_header,
        failures_header,
        first_run: runs.start,
        replications,
        shard: shard_file,
    };
    let what = match shard {
        Some(s) => format!("{name} (shard {s}: points {} to {})", points.start, points.end - 1),
        None => name.clone(),
    };
    let check = RunsCheck::new(&sweep, [identity.clone(), kpis.clone()].concat());
    let foreign = claim.mode == Mode::Add;
    let mut dir =
        match OutDir::open(&claim.dir, expect, args.resume, foreign, &|idx, line| check.check_line(idx, line))? {
            Opened::Complete => {
                if shard.is_none() && !out.join(report::REPORT).is_file() {
                    finish(&claim, args.keep_runs, shard.is_none(), &began)?;
                }
                if !args.quiet {
                    outln!("{what}: already complete in {}", out.display())?;
                }
                return Ok(());
            }
            Opened::Open(dir) => dir,
        };
    let mut in_progress: BTreeSet<String> = outdir::PROTOCOL_FILES.iter().map(|f| (*f).to_string()).collect();
    if args.keep_runs {
        in_progress.insert(RUNS_ENTRY.to_string());
    }
    claim.mark(&in_progress)?;
    let total = runs.end - runs.start;
    let todo = runs.start + dir.done..runs.end;
    if dir.done > 0 && !args.quiet {
        errln!("resuming {what}: {} of {total} runs already done", dir.done);
    }

    let plan = Plan {
        sweep: &sweep,
        replications,
        kpis,
        run_dirs: args.keep_runs.then(|| dir.path().join(outdir::RUN_DIRS)),
        fail_run,
    };
    let bar = progress::runs(todo.end - todo.start, args.quiet);
    let ran = todo.end - todo.start;
    let sink_dir = &mut dir;
    // Workers take a point's replications together (in pieces of at most 16), so each usually
    // builds a point's scenario once.
    let chunk = replications.div_ceil(replications.div_ceil(16));
    run_ordered(
        todo,
        jobs,
        chunk,
        || {
            let plan = &plan;
            let mut cached: Option<(usize, Result<Scenario, String>)> = None;
            move |idx: u64| {
                let (point, _) = plan.locate(idx);
                if cached.as_ref().is_none_or(|(p, _)| *p != point) {
                    cached = Some((point, plan.sweep.scenario(point).map_err(|e| format!("invalid scenario: {e}"))));
                }
                let scenario = &cached.as_ref().map(|(_, s)| s).expect("just cached");
                plan.rows(idx, plan.run(idx, scenario))
            }
        },
        |idx, res| {
            let rows = res.unwrap_or_else(|panic| plan.rows(idx, Err(format!("panicked: {panic}"))));
            if let Some((_, message)) = &rows.failure {
                let (point, rep) = plan.locate(idx);
                bar.suspend(|| {
                    errln!(
                        "warning: run failed: point {point}, replication {rep}, seed {} ({}): {message}",
                        plan.sweep.seed(point),
                        plan.sweep.describe_point(point)
                    )
                });
            }
            sink_dir.append(&rows.row, rows.failure.as_ref().map(|(f, _)| f.as_slice()))?;
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let failed = dir.failed;
    let n_params = sweep.spec.vary.len();
    dir.finish(|runs, w| stats::points_csv(std::io::BufReader::new(runs), w, n_params))?;
    // A shard's charts and report would be those of a slice; `merge` makes the sweep's.
    finish(&claim, args.keep_runs, shard.is_none(), &began)?;

    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        outln!(
            "{what}: {} point(s) x {replications} replication(s) = {total} runs; ran {ran} in {secs:.1} s ({:.1} runs/s); wrote {}",
            points.len(),
            ran as f64 / secs.max(1e-9),
            out.display()
        )?;
    }
    if failed > 0 {
        bail!("{failed} of {total} runs failed; see {}", out.join(outdir::FAILURES).display());
    }
    Ok(())
}
