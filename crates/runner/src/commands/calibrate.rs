//! `chipmarket calibrate FILE [--out DIR] [--jobs N] [--resume] [--quiet]`: fit the `[[free]]`
//! parameters of a scenario to observed outcomes (reference: `docs/calibration.md`).
//!
//! A Latin-hypercube screening, then CMA-ES (`cmaes` crate) or Nelder-Mead (`argmin` crate)
//! from the best screened point, searching the unit cube of the free parameters (a point
//! outside it is reflected back in). Every evaluation runs the same replications with the
//! base seed (common random numbers) and scores them with the band-normalised loss of the
//! engine's `fit` module. The best point is re-run with five times the replications and
//! that re-run is what `fit.csv` and `calibrated.toml` report.
//!
//! Determinism: evaluations of one generation run in parallel on a pool of `--jobs` threads,
//! but their rows are written in an order that depends only on the points (screening: design
//! order; a CMA-ES generation: by unit coordinates), so every file is byte-identical for any
//! `--jobs`. Resume: finished generations are appended to a hidden `.trace.partial.csv`; after
//! a kill, `--resume` replays the search from the start and takes every evaluation already in
//! that file from it instead of running it again, so it continues from the last finished
//! generation and ends with the same files as an uninterrupted run. Each append is sealed
//! (length and SHA-256 in a hidden `.trace.partial.sha256`), so edited losses are refused, not
//! trusted.

use crate::console::{errln, out, outln};
use crate::output::names;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Component, Path};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use indicatif::ProgressBar;
use rayon::prelude::*;

use chipmarket_engine::abc;
use chipmarket_engine::calibration::Search;
use chipmarket_engine::fit::{self, RepFlows, TargetFit};
use chipmarket_engine::sweep::{unit_design, Method, SweepSpec};
use chipmarket_engine::{run as run_engine, RunOptions};

use crate::cli::CalibrateArgs;
use crate::error::InputError;
use crate::load::calibration::{load, Loaded};
use crate::output::atomic;
use crate::output::csv::{csv_line, num};
use crate::output::owner::{self, Kind};
use crate::progress;
use crate::targets;

/// The hidden file finished generations are appended to.
const PARTIAL: &str = ".trace.partial.csv";
/// The hidden file that says which calibration the partial trace belongs to.
const STATE: &str = ".calibration.state";
/// The hidden file with the length and SHA-256 of the partial trace as last written: a trace
/// edited since (a loss lowered by hand) is refused by `--resume` rather than trusted.
const SEAL: &str = ".trace.partial.sha256";

/// The partial trace: every append is synced, then sealed (length and SHA-256 in [`SEAL`]).
struct Trace {
    file: File,
    hash: sha2::Sha256,
    len: u64,
    seal: std::path::PathBuf,
}

impl Trace {
    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        use sha2::Digest;
        self.file.write_all(bytes).context("failed to append to the trace")?;
        self.file.sync_data().context("failed to sync the trace")?;
        self.hash.update(bytes);
        self.len += bytes.len() as u64;
        let digest = crate::batch::rows::hex(&self.hash.clone().finalize());
        atomic::write(&self.seal, format!("{} {digest}\n", self.len).as_bytes())
            .with_context(|| format!("failed to write '{}'", self.seal.display()))
    }
}

/// The part of a partial trace its seal vouches for, or why it is refused.
fn sealed_part(text: &str, seal: Option<String>, out: &Path) -> Result<String, InputError> {
    use sha2::Digest;
    let changed = || {
        InputError::new(format!(
            "{}: the interrupted calibration's trace ({PARTIAL}) was changed since it was written (its length or SHA-256 differs from {SEAL})",
            out.display()
        ))
        .with_hint("its losses cannot be trusted: remove the folder, or give another --out, to start again")
    };
    let seal = seal.ok_or_else(changed)?;
    let (len, digest) = seal.trim().split_once(' ').ok_or_else(changed)?;
    let len: usize = len.parse().map_err(|_| changed())?;
    let part = text.get(..len).ok_or_else(changed)?;
    if crate::batch::rows::hex(&sha2::Sha256::digest(part.as_bytes())) != digest {
        return Err(changed());
    }
    Ok(part.to_string())
}
/// Loss given to an evaluation whose scenario cannot run (the search moves away from it).
const FAILED_LOSS: f64 = 1e12;
/// How many times the replications the best point is re-run with.
const RERUN_FACTOR: u32 = 5;

/// One evaluation: where, and what it gave (cells as written to `trace.csv`).
#[derive(Debug, Clone)]
struct Eval {
    /// Unit coordinates.
    u: Vec<f64>,
    /// Parameter cells.
    params: Vec<String>,
    /// The loss.
    loss: f64,
    /// Loss cell and one cell per target (empty when the run failed).
    cells: Vec<String>,
}

/// Finished evaluations by parameter cells: the loss and the cells after the parameters.
type Memo = HashMap<Vec<String>, (f64, Vec<String>)>;

/// Runs evaluations (or takes them from the replayed trace) and writes the trace.
struct Evaluator<'a> {
    l: &'a Loaded,
    memo: Mutex<Memo>,
    /// Evaluations of the generation under way, in completion order.
    pending: Mutex<Vec<Eval>>,
    trace: Mutex<Trace>,
    count: Mutex<(u64, f64)>,
    bar: ProgressBar,
}

fn param_cell(v: &toml::Value) -> String {
    match v {
        toml::Value::Float(x) => num(*x),
        other => other.to_string(),
    }
}

impl Evaluator<'_> {
    /// Run `values` with `reps` replications: the per-target fits, or why it failed.
    fn run(&self, values: &[toml::Value], reps: u32) -> Result<Vec<TargetFit>, String> {
        let l = self.l;
        let s = l.cal.scenario_at(values).map_err(|e| format!("invalid scenario: {e}"))?;
        let options = RunOptions { record_rows: true, trace: false };
        let flows: Result<Vec<RepFlows>, String> = (0..reps)
            .into_par_iter()
            .map(|r| {
                run_engine(&s, r, options).map(|rep| RepFlows::from_report(&rep, &l.cat)).map_err(|e| e.to_string())
            })
            .collect();
        let obs = fit::Observer::of_scenario(&s, &l.cat);
        Ok(fit::evaluate(&l.targets, &l.scopes, &l.cat, &obs, &flows?))
    }

    /// Evaluate the point `u` of the unit cube (from the memo if it was evaluated before).
    fn eval(&self, u: &[f64]) -> f64 {
        let values = self.l.cal.values_at(u);
        let params: Vec<String> = values.iter().map(param_cell).collect();
        let hit = self.memo.lock().expect("memo").get(&params).cloned();
        let (loss, cells) = match hit {
            Some(found) => found,
            None => {
                let (loss, cells) = match self.run(&values, self.l.cal.spec.replications) {
                    Ok(fits) => {
                        let loss: f64 = fits.iter().map(|f| f.loss).sum();
                        let mut cells = vec![num(loss)];
                        cells.extend(fits.iter().map(|f| num(f.mean)));
                        (loss, cells)
                    }
                    Err(msg) => {
                        self.bar.suspend(|| errln!("warning: evaluation at {} failed: {msg}", params.join(", ")));
                        let mut cells = vec![num(FAILED_LOSS)];
                        cells.extend(std::iter::repeat_n(String::new(), self.l.targets.len()));
                        (FAILED_LOSS, cells)
                    }
                };
                // Keep the loss exactly as the trace will show it, so a replay gives the same search.
                let loss: f64 = cells[0].parse().unwrap_or(loss);
                self.memo.lock().expect("memo").insert(params.clone(), (loss, cells.clone()));
                (loss, cells)
            }
        };
        self.pending.lock().expect("pending").push(Eval { u: u.to_vec(), params, loss, cells });
        {
            let mut c = self.count.lock().expect("count");
            c.0 += 1;
            if loss < c.1 {
                c.1 = loss;
                self.bar.set_message(format!("{loss:.4}"));
            }
        }
        self.bar.inc(1);
        loss
    }

    /// Append the finished generation to the trace, sorted by unit coordinates when `sort`.
    fn flush(
        &self,
        generation: usize,
        phase: &str,
        sort: bool,
        next_index: &mut u64,
        best: &mut Option<Eval>,
    ) -> Result<()> {
        let mut evals = std::mem::take(&mut *self.pending.lock().expect("pending"));
        if sort {
            evals.sort_by(|a, b| {
                a.u.iter()
                    .zip(&b.u)
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        let mut bytes = Vec::new();
        for e in evals {
            let mut cells = vec![next_index.to_string(), generation.to_string(), phase.to_string()];
            cells.extend(e.params.iter().cloned());
            cells.extend(e.cells.iter().cloned());
            bytes.extend(csv_line(&cells));
            *next_index += 1;
            if best.as_ref().is_none_or(|b| e.loss < b.loss) {
                *best = Some(e);
            }
        }
        self.trace.lock().expect("trace").append(&bytes)?;
        Ok(())
    }
}

/// Reflect a coordinate into [0, 1] (a search step past a bound comes back in).
fn reflect(x: f64) -> f64 {
    if !x.is_finite() {
        return 0.5;
    }
    let y = x.rem_euclid(2.0);
    if y > 1.0 {
        2.0 - y
    } else {
        y
    }
}

/// `path` relative to the folder `from` (both made absolute), for `extends`.
fn relative(path: &Path, from: &Path) -> Option<String> {
    let path = fs::canonicalize(path).ok()?;
    let from = fs::canonicalize(from).ok()?;
    let a: Vec<Component> = path.components().collect();
    let b: Vec<Component> = from.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(a[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Some(parts.join("/"))
}

/// Argmin's view of the search: the loss of a point of the unit cube (reflected).
struct NmProblem<'a, 'b> {
    ev: &'a Evaluator<'b>,
    left: Mutex<u64>,
}

impl argmin::core::CostFunction for NmProblem<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        {
            let mut left = self.left.lock().expect("budget");
            if *left == 0 {
                return Err(argmin::core::Error::msg("budget spent"));
            }
            *left -= 1;
        }
        let u: Vec<f64> = p.iter().map(|&x| reflect(x)).collect();
        Ok(self.ev.eval(&u))
    }
}

/// `chipmarket calibrate FILE [--out DIR] [--jobs N] [--resume] [--quiet]`
pub fn calibrate(args: &CalibrateArgs) -> Result<()> {
    let started = Instant::now();
    let l = load(&args.file)?;
    let spec = &l.cal.spec;
    let jobs = crate::batch::pool::jobs(args.jobs)?;
    let name = args.file.file_stem().map_or_else(|| "calibration".into(), |s| s.to_string_lossy().into_owned());
    let out = args.out.clone().unwrap_or_else(|| Path::new("outputs").join(format!("calibration-{name}")));
    // Only a new or empty folder, or an earlier calibration's, is written (`output::owner`).
    let claim = owner::claim(&out, Kind::Calibration, false)?;
    let mark = |files: &[&str]| claim.mark(&files.iter().map(|f| (*f).to_string()).collect());
    let partial = out.join(PARTIAL);
    let state = out.join(STATE);

    // The previous trace, if resuming.
    let mut memo = HashMap::new();
    if partial.exists() || state.exists() {
        if !args.resume {
            return Err(InputError::new(format!("{} holds an interrupted calibration", out.display()))
                .with_hint("add --resume to continue it, or remove the folder to start again")
                .into());
        }
        let previous = fs::read_to_string(&state).unwrap_or_default();
        if previous != l.identity {
            return Err(InputError::new(format!("{} holds an interrupted calibration of another file or version (its settings, base scenario or targets differ)", out.display())).with_hint("remove the folder, or give another --out")
            .into());
        }
        let text = fs::read_to_string(&partial).unwrap_or_default();
        let text =
            if text.is_empty() { text } else { sealed_part(&text, fs::read_to_string(out.join(SEAL)).ok(), &out)? };
        let d = spec.free.len();
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(complete.as_bytes());
        for rec in rdr.records().flatten() {
            let cells: Vec<String> = rec.iter().map(str::to_string).collect();
            if cells.len() != 3 + d + 1 + l.targets.len() {
                continue;
            }
            let params = cells[3..3 + d].to_vec();
            let rest = cells[3 + d..].to_vec();
            if let Ok(loss) = rest[0].parse::<f64>() {
                memo.insert(params, (loss, rest));
            }
        }
    } else if args.resume && out.join(names::TRACE).is_file() && out.join(names::CALIBRATED).is_file() {
        if !args.quiet {
            outln!("{name}: already complete in {}", out.display())?;
        }
        return Ok(());
    }
    fs::create_dir_all(&out).with_context(|| format!("failed to create '{}'", out.display()))?;
    mark(&[STATE, PARTIAL, SEAL])?;
    fs::write(&state, &l.identity).with_context(|| format!("failed to write '{}'", state.display()))?;
    let resumed = memo.len();
    let mut header = vec!["evaluation".to_string(), "generation".to_string(), "phase".to_string()];
    header.extend(spec.free.iter().map(|f| f.path.clone()));
    header.push("loss".to_string());
    header.extend(l.targets.iter().map(|t| t.id.clone()));
    let trace = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&partial)
        .with_context(|| format!("failed to write '{}'", partial.display()))?;
    let mut trace = Trace { file: trace, hash: sha2::Digest::new(), len: 0, seal: out.join(SEAL) };
    trace.append(&csv_line(&header))?;
    if resumed > 0 && !args.quiet {
        errln!("resuming {name}: {resumed} evaluation(s) already done");
    }

    let bar = progress::evaluations(u64::from(spec.budget), args.quiet);
    let ev = Evaluator {
        l: &l,
        memo: Mutex::new(memo),
        pending: Mutex::new(Vec::new()),
        trace: Mutex::new(trace),
        count: Mutex::new((0, f64::INFINITY)),
        bar: bar.clone(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("chipmarket-calibrate-{i}"))
        .build()
        .context("failed to start the worker threads")?;

    let d = spec.free.len();
    let mut index = 0u64;
    let mut best: Option<Eval> = None;
    // Screening: a Latin hypercube from the file's seed.
    let screen_spec = SweepSpec {
        name: None,
        question: None,
        base: toml::Value::String(String::new()),
        replications: None,
        method: Method::Lhs,
        samples: Some(spec.screening()),
        seed: spec.seed,
        crn: true,
        scramble: None,
        trajectories: None,
        levels: None,
        vary: l.cal.sweep.spec.vary.clone(),
    };
    let design = if spec.method == Search::AbcSmc { Vec::new() } else { unit_design(&screen_spec) };
    let losses: Vec<f64> = pool.install(|| design.par_iter().map(|u| ev.eval(u)).collect());
    // Keep design order in the trace: rows of the screening are matched to their points.
    {
        let mut pending = ev.pending.lock().expect("pending");
        let mut by_point: Vec<Eval> = Vec::with_capacity(design.len());
        for u in &design {
            let i = pending.iter().position(|e| &e.u == u).ok_or_else(|| anyhow!("lost a screening evaluation"))?;
            by_point.push(pending.swap_remove(i));
        }
        *pending = by_point;
    }
    drop(losses);
    if !design.is_empty() {
        ev.flush(0, "screen", false, &mut index, &mut best)?;
    }
    let start_u = best.as_ref().map(|b| b.u.clone()).unwrap_or_else(|| vec![0.5; d]);
    let left = u64::from(spec.budget.saturating_sub(spec.screening()));
    let mut posterior: Vec<abc::Particle> = Vec::new();

    match spec.method {
        Search::Lhs => {}
        Search::AbcSmc => {
            posterior = abc_smc(&ev, &pool, &l, &mut index, &mut best)?;
        }
        Search::Cmaes => {
            let objective = |x: &cmaes::DVector<f64>| {
                let u: Vec<f64> = x.iter().map(|&v| reflect(v)).collect();
                ev.eval(&u)
            };
            let mut cm = cmaes::CMAESOptions::new(start_u.clone(), 0.2)
                .seed(spec.seed)
                .build(objective)
                .map_err(|e| anyhow!("CMA-ES could not start: {e:?}"))?;
            let lambda = cm.parameters().lambda() as u64;
            let mut used = 0u64;
            let mut generation = 1;
            while used + lambda <= left {
                let done = pool.install(|| cm.next_parallel());
                used += lambda;
                ev.flush(generation, "cmaes", true, &mut index, &mut best)?;
                generation += 1;
                if done.is_some() {
                    break;
                }
            }
        }
        Search::NelderMead => {
            let mut simplex = vec![start_u.clone()];
            for i in 0..d {
                let mut p = start_u.clone();
                p[i] = if p[i] + 0.1 <= 1.0 { p[i] + 0.1 } else { p[i] - 0.1 };
                simplex.push(p);
            }
            let problem = NmProblem { ev: &ev, left: Mutex::new(left) };
            let solver = argmin::solver::neldermead::NelderMead::new(simplex)
                .with_sd_tolerance(1e-9)
                .map_err(|e| anyhow!("Nelder-Mead could not start: {e}"))?;
            // Evaluations are sequential (the replications of each run in parallel); the
            // search stops when the budget is spent, which argmin sees as an error, or when
            // the losses at the corners agree to 1e-9 (docs/calibration.md says so).
            let _ = pool.install(|| {
                argmin::core::Executor::new(problem, solver)
                    .configure(|s| s.max_iters(u64::from(spec.budget)))
                    .timer(false)
                    .run()
            });
            let n = ev.pending.lock().expect("pending").len();
            if n > 0 {
                ev.flush(1, "nelder-mead", false, &mut index, &mut best)?;
            }
        }
    }
    bar.finish_and_clear();

    // The best point, re-run with five times the replications.
    let best = best.ok_or_else(|| anyhow!("no evaluation finished"))?;
    let values = l.cal.values_at(&best.u);
    let fits = pool
        .install(|| ev.run(&values, spec.replications * RERUN_FACTOR))
        .map_err(|e| anyhow!("the re-run of the best point failed: {e}"))?;
    let loss: f64 = fits.iter().map(|f| f.loss).sum();
    let mut cells = vec![index.to_string(), "final".to_string(), "rerun".to_string()];
    cells.extend(values.iter().map(param_cell));
    cells.push(num(loss));
    cells.extend(fits.iter().map(|f| num(f.mean)));
    {
        ev.trace.lock().expect("trace").append(&csv_line(&cells))?;
    }

    let extends = relative(&l.base_path, &out).unwrap_or_else(|| {
        l.base_path.file_name().map_or_else(|| spec.base.clone(), |n| n.to_string_lossy().into_owned())
    });
    let inside = fits.iter().filter(|f| f.inside).count();
    let file_name = args.file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let header = vec![
        format!("Calibrated by chipmarket {} from {file_name}: method {}, budget {}, seed {}, {} replication(s) per evaluation.", env!("CARGO_PKG_VERSION"), spec.method.as_str(), spec.budget, spec.seed, spec.replications),
        format!("Best point re-run with {} replications: loss {} (band-normalised squared error, docs/calibration.md), {inside}/{} targets inside their band.", spec.replications * RERUN_FACTOR, num(loss), fits.len()),
        "Per-target values and loss terms: fit.csv and trace.csv next to this file.".to_string(),
        "`extends` is relative to this file; next to the base scenario, write its file name instead.".to_string(),
    ];
    let layer = l.cal.layer_toml(&values, &extends, &header);
    let write = |file: &str, bytes: &[u8]| atomic::write(&out.join(file), bytes);
    write(names::CALIBRATED, layer.as_bytes())?;
    let mut summary_text = String::new();
    if spec.method == Search::AbcSmc {
        write(POSTERIOR, &posterior_csv(&l, &posterior))?;
        let (bytes, text) = posterior_summary(&l, &posterior);
        write(POSTERIOR_SUMMARY, &bytes)?;
        summary_text = text;
    }
    write(names::FIT, &targets::fit_csv(&l.targets, &fits))?;
    fs::rename(&partial, out.join(names::TRACE)).context("failed to move the trace into place")?;
    fs::remove_file(&state).context("failed to remove the calibration state")?;
    fs::remove_file(out.join(SEAL)).context("failed to remove the trace's seal")?;
    mark(&[names::CALIBRATED, names::FIT, names::TRACE])?;
    if !args.quiet {
        out!("{}", targets::table(&l.targets, &fits))?;
        out!("{summary_text}")?;
        let evals = ev.count.lock().expect("count").0;
        outln!(
            "{name}: {evals} evaluation(s) ({resumed} from the previous trace) + a re-run with {} replications in {:.1} s; loss {}; wrote {}",
            spec.replications * RERUN_FACTOR,
            started.elapsed().as_secs_f64(),
            num(loss),
            out.display()
        )?;
    }
    Ok(())
}

/// The posterior's particles (method `abc-smc`).
const POSTERIOR: &str = "posterior.csv";
/// Each parameter's posterior interval against its prior.
const POSTERIOR_SUMMARY: &str = "posterior_summary.csv";

/// ABC-SMC (module `abc` of the engine): generation 0 from the prior, then `generations`
/// generations, each accepting `particles` candidates with a loss at most the tolerance (the
/// `quantile` of the previous generation's losses). Candidates are evaluated in batches whose
/// size depends only on the counts so far, and accepted in candidate order, so the result does
/// not depend on `--jobs`. Returns the last complete generation.
fn abc_smc(
    ev: &Evaluator<'_>,
    pool: &rayon::ThreadPool,
    l: &Loaded,
    index: &mut u64,
    best: &mut Option<Eval>,
) -> Result<Vec<abc::Particle>> {
    let spec = &l.cal.spec;
    let priors: Vec<abc::Prior> = spec.free.iter().map(|f| f.prior).collect();
    let n = spec.particles as usize;
    let budget = u64::from(spec.budget);
    let mut used = 0u64;
    let mut prev: Vec<abc::Particle> = Vec::new();
    let mut eps = f64::INFINITY;
    let mut rate = 1.0f64;
    for t in 0..=spec.generations {
        let sd = abc::kernel_sd(&prev);
        let mut accepted: Vec<abc::Particle> = Vec::new();
        let (mut tried, mut next) = (0u64, 0u64);
        while accepted.len() < n && used < budget {
            let want = (n - accepted.len()) as f64 / rate.max(0.02);
            let batch = (want.ceil() as u64).clamp(1, budget - used).min(20 * n as u64);
            let cands: Vec<Vec<f64>> =
                (next..next + batch).map(|i| abc::propose(spec.seed, t, i, &priors, &prev, &sd)).collect();
            let losses: Vec<f64> = pool.install(|| cands.par_iter().map(|u| ev.eval(u)).collect());
            {
                let mut pending = ev.pending.lock().expect("pending");
                let mut by_point: Vec<Eval> = Vec::with_capacity(cands.len());
                for u in &cands {
                    let i = pending.iter().position(|e| &e.u == u).ok_or_else(|| anyhow!("lost an evaluation"))?;
                    by_point.push(pending.swap_remove(i));
                }
                *pending = by_point;
            }
            ev.flush(t as usize, "abc-smc", false, index, best)?;
            next += batch;
            used += batch;
            for (u, loss) in cands.into_iter().zip(losses) {
                tried += 1;
                if accepted.len() < n && loss <= eps {
                    let w = abc::weight(&u, &priors, &prev, &sd);
                    accepted.push(abc::Particle { u, weight: w, loss });
                }
            }
            rate = accepted.len() as f64 / tried as f64;
            ev.bar.set_message(format!(
                "generation {t}, tolerance {}, acceptance {:.1}%",
                if eps.is_finite() { format!("{eps:.3}") } else { "none".into() },
                100.0 * rate
            ));
        }
        if accepted.len() < n {
            if t == 0 {
                return Err(InputError::new(format!(
                    "abc-smc: the budget ({}) ran out before the {n} particles of the prior's generation",
                    spec.budget
                ))
                .with_hint("raise budget to several times particles x (generations + 1)")
                .into());
            }
            ev.bar.suspend(|| {
                errln!("abc-smc: the budget ran out in generation {t}; the posterior is generation {}", t - 1)
            });
            break;
        }
        abc::normalise(&mut accepted);
        prev = accepted;
        eps = abc::next_tolerance(&prev, spec.quantile, eps);
        rate = rate.max(1e-3);
    }
    Ok(prev)
}

/// `posterior.csv`: `particle, weight`, one column per free path, `loss`.
fn posterior_csv(l: &Loaded, pop: &[abc::Particle]) -> Vec<u8> {
    let mut header = vec!["particle".to_string(), "weight".to_string()];
    header.extend(l.cal.spec.free.iter().map(|f| f.path.clone()));
    header.push("loss".to_string());
    let mut bytes = csv_line(&header);
    for (i, p) in pop.iter().enumerate() {
        let mut cells = vec![i.to_string(), num(p.weight)];
        cells.extend(l.cal.values_at(&p.u).iter().map(param_cell));
        cells.push(num(p.loss));
        bytes.extend(csv_line(&cells));
    }
    bytes
}

/// `posterior_summary.csv` and its printed form: effective sample size, and each parameter's
/// weighted 5/50/95% quantiles against its prior range; a parameter whose 90% interval is at
/// least 80% as wide as its prior's is named as not identified.
fn posterior_summary(l: &Loaded, pop: &[abc::Particle]) -> (Vec<u8>, String) {
    let w: Vec<f64> = pop.iter().map(|p| p.weight).collect();
    let ess = abc::ess(&w);
    let mut bytes =
        csv_line(&["path", "prior_low", "prior_high", "p05", "p50", "p95", "interval_vs_prior", "identified"]);
    let mut text = format!("posterior: {} particles, effective sample size {:.1}\n", pop.len(), ess);
    let mut unidentified = Vec::new();
    for (k, f) in l.cal.spec.free.iter().enumerate() {
        let u: Vec<f64> = pop.iter().map(|p| p.u[k]).collect();
        let q = |x: f64| abc::weighted_quantile(&u, &w, x);
        let (lo, mid, hi) = (q(0.05), q(0.5), q(0.95));
        let prior = abc::prior_interval(&f.prior);
        let ratio = (hi - lo) / (prior.1 - prior.0);
        let identified = !abc::not_identified((lo, hi), prior);
        if !identified {
            unidentified.push(f.path.clone());
        }
        let v = |x: f64| num(l.cal.value_at(k, x));
        bytes.extend(csv_line(&[
            f.path.clone(),
            num(f.range[0]),
            num(f.range[1]),
            v(lo),
            v(mid),
            v(hi),
            num(ratio),
            identified.to_string(),
        ]));
        text.push_str(&format!(
            "  {:<50} 90% {} to {} (median {}) of [{}, {}]: {:.0}% of the prior's interval{}\n",
            f.path,
            v(lo),
            v(hi),
            v(mid),
            num(f.range[0]),
            num(f.range[1]),
            100.0 * ratio,
            if identified { "" } else { ", not identified" }
        ));
    }
    text.push_str(&format!(
        "not identified (posterior about as wide as the prior): {}\n",
        if unidentified.is_empty() { "none".to_string() } else { unidentified.join(", ") }
    ));
    (bytes, text)
}
