//! `chipmarket analyze SWEEP_DIR`: which varied assumptions drive each KPI (Sobol indices of a
//! `saltelli` sweep, Morris measures of a `morris` sweep), and with `--discover "KPI > X"`
//! where in the parameter space the condition holds (PRIM boxes, any design). The user's guide
//! is `docs/analysis.md`.
//!
//! Reads `sweep.resolved.toml` (the design) and streams `runs.csv` once, keeping per point and
//! KPI only the count, mean and within-point sum of squares (memory grows with points, not
//! runs). The indices are computed on the point means (the mean over a point's replications);
//! the share of each KPI's run-to-run variance that is replication noise (within points) rather
//! than parameters is reported beside them. Output files are written whole (temporary name,
//! then rename); the bootstraps are seeded, so the same folder always gives the same files.
//! When `sensitivity.csv` goes into the sweep folder (no `--out` elsewhere), the folder's
//! derived outputs are remade (`report::plot`, as `chipmarket plot` does), adding a
//! sensitivity chart per KPI and a "Sensitivity" section to `report.html`.

use crate::console::{out, outln};
use crate::output::names;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

use chipmarket_engine::analysis::{morris, prim, sobol};
use chipmarket_engine::sweep::{unit_design, Method, SweepSpec};

use crate::batch::outdir::{RESOLVED, RUNS};
use crate::cli::AnalyzeArgs;
use crate::error::InputError;
use crate::load;
use crate::output::csv::num;
use crate::output::{atomic, owner};
use crate::report;

/// `sensitivity.csv`: the indices per KPI and parameter.
pub const SENSITIVITY: &str = names::SENSITIVITY;
/// `boxes.csv`: the PRIM peeling trajectory and the pasted box.
pub const BOXES: &str = names::BOXES;

/// The largest KPI magnitude read: the squares of differences of such values stay finite.
const MAX_MAGNITUDE: f64 = 1e150;

/// Per point and KPI: runs with a value, their mean and sum of squared deviations (Welford).
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    n: u32,
    mean: f64,
    m2: f64,
}

impl Acc {
    fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / f64::from(self.n);
        self.m2 += d * (x - self.mean);
    }
}

/// A condition `KPI OP VALUE` of `--discover`.
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    kpi: String,
    op: &'static str,
    value: f64,
}

impl Condition {
    fn parse(text: &str) -> Result<Condition, InputError> {
        let bad = || {
            InputError::new(format!("--discover: expected \"KPI > VALUE\" (or >=, <, <=), found \"{text}\""))
                .with_hint("for example --discover \"market_final_year_domestic_compute_share > 0.6\"")
        };
        for op in [">=", "<=", ">", "<"] {
            if let Some((kpi, value)) = text.split_once(op) {
                let kpi = kpi.trim();
                let value: f64 = value.trim().parse().map_err(|_| bad())?;
                if kpi.is_empty() || !value.is_finite() || kpi.contains(['<', '>', '=', ' ']) {
                    return Err(bad());
                }
                return Ok(Condition { kpi: kpi.to_string(), op, value });
            }
        }
        Err(bad())
    }

    fn holds(&self, x: f64) -> bool {
        match self.op {
            ">=" => x >= self.value,
            "<=" => x <= self.value,
            ">" => x > self.value,
            _ => x < self.value,
        }
    }
}

/// What one pass over `runs.csv` keeps.
struct Read {
    /// KPI names analysed, in `runs.csv` order.
    kpis: Vec<String>,
    /// `acc[k][p]`: KPI k at point p.
    acc: Vec<Vec<Acc>>,
    /// With `--discover`: the numeric value of each parameter at each point (NaN if not a number).
    params: Vec<Vec<f64>>,
    /// With `--discover`: runs of each point meeting the condition.
    hits: Vec<f64>,
}

/// `chipmarket analyze SWEEP_DIR [--kpi NAME]... [--out FILE] [--discover "KPI > VALUE"]`
pub fn analyze(args: &AnalyzeArgs) -> Result<()> {
    let dir = &args.dir;
    let resolved_path = dir.join(RESOLVED);
    let runs_path = dir.join(RUNS);
    if !resolved_path.is_file() || !runs_path.is_file() {
        return Err(InputError::new(format!(
            "'{}' is not a finished sweep folder: it has no {}",
            dir.display(),
            if resolved_path.is_file() { RUNS } else { RESOLVED }
        ))
        .with_hint("give the output folder of `chipmarket sweep` (merge the shards of a sharded sweep first)")
        .into());
    }
    let text = load::read_text(&resolved_path, "resolved sweep")?;
    let spec = SweepSpec::from_toml_str(&text).map_err(|e| {
        let place = e.line_col.map_or_else(String::new, |(l, c)| format!("{l}:{c}:"));
        InputError::new(format!("invalid sweep: {}:{place} {e}", resolved_path.display()))
    })?;
    let condition = args.discover.as_deref().map(Condition::parse).transpose()?;
    if condition.is_none() && !matches!(spec.method, Method::Saltelli | Method::Morris) {
        return Err(InputError::new(format!("{}: this sweep's design is \"{}\"; sensitivity indices need a saltelli or a morris design", resolved_path.display(), spec.method.as_str())).with_hint("run a sweep with method = \"saltelli\" (samples = N) or method = \"morris\" (trajectories = r), see docs/analysis.md; --discover \"KPI > VALUE\" works with any design")
        .into());
    }
    // Refuse a wrong --out before reading anything.
    match &condition {
        Some(_) => place(args, BOXES, "box,stage,")?,
        None => place(args, SENSITIVITY, "kpi,param,method,")?,
    };
    let n_points = usize::try_from(spec.n_points()).context("too many points")?;
    let read = read_runs(&runs_path, &spec, n_points, &args.kpi, condition.as_ref())?;
    let seed = args.seed.unwrap_or(spec.seed);

    match &condition {
        Some(cond) => discover(args, &spec, &read, cond),
        None => sensitivity(args, &spec, &read, seed),
    }
}

/// Stream `runs.csv` into per-point accumulators.
fn read_runs(
    path: &Path,
    spec: &SweepSpec,
    n_points: usize,
    wanted: &[String],
    condition: Option<&Condition>,
) -> Result<Read> {
    let file = load::open_regular(path)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(BufReader::with_capacity(1 << 16, file));
    let header =
        reader.headers().with_context(|| format!("failed to read the header of '{}'", path.display()))?.clone();
    let d = spec.vary.len();
    let mut expected = vec!["point".to_string(), "replication".to_string(), "seed".to_string()];
    expected.extend(spec.vary.iter().map(|a| format!("param_{}", a.path)));
    if header.len() < expected.len() || header.iter().zip(&expected).any(|(h, e)| h != e) {
        return Err(InputError::new(format!(
            "{}:1: the header does not match sweep.resolved.toml: expected it to start with {}",
            path.display(),
            expected.join(",")
        ))
        .with_hint("analyze the folder `chipmarket sweep` wrote, unchanged")
        .into());
    }
    let all: Vec<&str> = header.iter().skip(3 + d).collect();
    let pick = |name: &str, what: &str| -> Result<usize, InputError> {
        all.iter().position(|k| *k == name).ok_or_else(|| {
            let near = all
                .iter()
                .map(|k| (strsim::jaro_winkler(name, k), *k))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or_else(String::new, |(_, k)| format!("did you mean \"{k}\"? "));
            InputError::new(format!("{what}: \"{name}\" is not a KPI column of {}", path.display()))
                .with_hint(format!("{near}the KPIs are the columns after the param_ ones: {}", all.join(", ")))
        })
    };
    let mut cols: Vec<usize> = Vec::new();
    for name in wanted {
        let c = pick(name, "--kpi")?;
        if !cols.contains(&c) {
            cols.push(c);
        }
    }
    let cond_col = condition.map(|c| pick(&c.kpi, "--discover")).transpose()?;
    if wanted.is_empty() && condition.is_none() {
        cols = (0..all.len()).collect();
    }
    if let Some(c) = cond_col {
        cols.retain(|&k| k == c);
        if cols.is_empty() {
            cols.push(c);
        }
    }
    let kpis: Vec<String> = cols.iter().map(|&c| all[c].to_string()).collect();
    // Every point needs a row of at least one byte a cell: a design the file cannot hold is
    // refused before anything is allocated for it.
    let size = std::fs::metadata(path).map_or(u64::MAX, |m| m.len());
    if (n_points as u64).saturating_mul(header.len() as u64) > size {
        return Err(InputError::new(format!(
            "{}: the design has {n_points} points, more than the file's {size} bytes can hold",
            path.display()
        ))
        .with_hint("analyze the folder `chipmarket sweep` wrote, unchanged (merge the shards of a sharded sweep first)")
        .into());
    }
    let mut acc = vec![vec![Acc::default(); n_points]; cols.len()];
    // Runs of each point read so far: a point's replications come in order, once each.
    let mut runs_of = vec![0u64; n_points];
    let mut params = if condition.is_some() { vec![vec![f64::NAN; d]; n_points] } else { Vec::new() };
    let mut hits = if condition.is_some() { vec![0.0; n_points] } else { Vec::new() };
    let mut seen = vec![false; n_points];
    let mut record = csv::ByteRecord::new();
    let mut line = 1u64;
    let parse = |bytes: &[u8], line: u64, col: usize| -> Result<Option<f64>, InputError> {
        if bytes.is_empty() {
            return Ok(None);
        }
        // Finite and far from overflow: squares of differences (the variances) stay finite.
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|x| x.abs() <= MAX_MAGNITUDE)
            .map(Some)
            .ok_or_else(|| {
                InputError::new(format!(
                    "{}:{line}: column {}: expected a finite number of magnitude at most 1e150, found \"{}\"",
                    path.display(),
                    header.get(col).unwrap_or("?"),
                    String::from_utf8_lossy(bytes)
                ))
            })
    };
    while reader.read_byte_record(&mut record).with_context(|| format!("failed to read '{}'", path.display()))? {
        line += 1;
        if record.len() != header.len() {
            return Err(InputError::new(format!(
                "{}:{line}: a row has {} cells, expected {}",
                path.display(),
                record.len(),
                header.len()
            ))
            .into());
        }
        let point =
            std::str::from_utf8(&record[0]).ok().and_then(|s| s.parse::<usize>().ok()).filter(|&p| p < n_points);
        let Some(point) = point else {
            return Err(InputError::new(format!(
                "{}:{line}: column point: expected a point from 0 to {}, found \"{}\"",
                path.display(),
                n_points.saturating_sub(1),
                String::from_utf8_lossy(&record[0])
            ))
            .into());
        };
        let rep = std::str::from_utf8(&record[1]).ok().and_then(|s| s.parse::<u64>().ok());
        if rep != Some(runs_of[point]) {
            return Err(InputError::new(format!(
                "{}:{line}: column replication: expected replication {} of point {point} (each once, in order), found \"{}\"",
                path.display(),
                runs_of[point],
                String::from_utf8_lossy(&record[1])
            ))
            .with_hint("a row is repeated or out of place; analyze the folder `chipmarket sweep` wrote, unchanged")
            .into());
        }
        runs_of[point] += 1;
        if !seen[point] && condition.is_some() {
            for j in 0..d {
                params[point][j] = parse(&record[3 + j], line, 3 + j).unwrap_or(None).unwrap_or(f64::NAN);
            }
        }
        seen[point] = true;
        for (k, &c) in cols.iter().enumerate() {
            if let Some(x) = parse(&record[3 + d + c], line, 3 + d + c)? {
                acc[k][point].push(x);
                if cond_col == Some(c) && condition.is_some_and(|cond| cond.holds(x)) {
                    hits[point] += 1.0;
                }
            }
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        let count = seen.iter().filter(|s| !**s).count();
        return Err(InputError::new(format!(
            "{}: {count} of the design's {n_points} points have no runs (the first is point {missing})",
            path.display()
        ))
        .with_hint("analyze a finished sweep; merge the shards of a sharded sweep first (`chipmarket merge`)")
        .into());
    }
    Ok(Read { kpis, acc, params, hits })
}

/// Share of the run-to-run variance of a KPI that is within points (replication noise):
/// pooled within-point variance over the variance of all runs' values. `None` without
/// replications or without variance.
fn noise_share(acc: &[Acc]) -> Option<f64> {
    let runs: u64 = acc.iter().map(|a| u64::from(a.n)).sum();
    let groups = acc.iter().filter(|a| a.n > 0).count() as u64;
    if runs <= groups || runs < 2 {
        return None;
    }
    let grand = acc.iter().map(|a| f64::from(a.n) * a.mean).sum::<f64>() / runs as f64;
    let within_ss: f64 = acc.iter().map(|a| a.m2).sum();
    let between_ss: f64 = acc.iter().map(|a| f64::from(a.n) * (a.mean - grand).powi(2)).sum();
    let total = (within_ss + between_ss) / (runs - 1) as f64;
    let within = within_ss / (runs - groups) as f64;
    (total > 0.0).then(|| (within / total).min(1.0))
}

/// A KPI's noise share and its rows (or why it has none).
type KpiResult = (Option<f64>, Result<Vec<Row>, String>);

/// One row of `sensitivity.csv` before formatting.
struct Row {
    param: String,
    values: Vec<f64>,
    /// What the ranking sorts by (ST or mu*).
    rank: f64,
}

fn sensitivity(args: &AnalyzeArgs, spec: &SweepSpec, read: &Read, seed: u64) -> Result<()> {
    let d = spec.vary.len();
    let resamples = args.resamples;
    let unit = if spec.method == Method::Morris { unit_design(spec) } else { Vec::new() };
    let results: Vec<KpiResult> = read
        .acc
        .par_iter()
        .map(|acc| {
            let y: Vec<f64> = acc.iter().map(|a| if a.n > 0 { a.mean } else { f64::NAN }).collect();
            let rows = match spec.method {
                Method::Saltelli => sobol::indices(&y, d, resamples, seed).map_err(|e| e.to_string()).map(|ix| {
                    (0..d)
                        .map(|i| Row {
                            param: spec.vary[i].path.clone(),
                            values: vec![ix.s1[i], ix.s1_conf[i], ix.st[i], ix.st_conf[i]],
                            rank: ix.st[i],
                        })
                        .collect()
                }),
                _ => morris::indices(&unit, &y, resamples, seed).map_err(|e| e.to_string()).map(|ix| {
                    (0..d)
                        .map(|i| Row {
                            param: spec.vary[i].path.clone(),
                            values: vec![ix.mu[i], ix.mu_star[i], ix.sigma[i], ix.mu_star_conf[i]],
                            rank: ix.mu_star[i],
                        })
                        .collect()
                }),
            };
            (noise_share(acc), rows)
        })
        .collect();

    let method = if spec.method == Method::Saltelli { "sobol" } else { "morris" };
    let names: [&str; 4] = if spec.method == Method::Saltelli {
        ["s1", "s1_conf", "st", "st_conf"]
    } else {
        ["mu", "mu_star", "sigma", "mu_star_conf"]
    };
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let mut head = vec!["kpi", "param", "method"];
    head.extend(names);
    head.push("noise_share");
    w.write_record(crate::output::csv::safe(&head))?;
    let cell = |x: f64| if x.is_finite() { num(x) } else { String::new() };
    let mut table = String::new();
    for (kpi, (noise, rows)) in read.kpis.iter().zip(&results) {
        let noise_cell = noise.map_or_else(String::new, num);
        match rows {
            Ok(rows) => {
                for r in rows {
                    let mut rec = vec![kpi.clone(), r.param.clone(), method.to_string()];
                    rec.extend(r.values.iter().map(|&x| cell(x)));
                    rec.push(noise_cell.clone());
                    w.write_record(crate::output::csv::safe(&rec))?;
                }
                let noise_text = noise.map_or_else(|| "n/a".to_string(), |s| format!("{:.0} %", 100.0 * s));
                table.push_str(&format!("{kpi} (replication noise: {noise_text} of the run-to-run variance)\n"));
                let mut order: Vec<&Row> = rows.iter().collect();
                order.sort_by(|a, b| b.rank.total_cmp(&a.rank));
                let width = order.iter().map(|r| r.param.len()).max().unwrap_or(0);
                for r in order {
                    let v = &r.values;
                    let line = if spec.method == Method::Saltelli {
                        format!("ST {:>6.3} ± {:.3}   S1 {:>6.3} ± {:.3}", v[2], v[3], v[0], v[1])
                    } else {
                        format!("mu* {:>10.4} ± {:.4}   mu {:>10.4}   sigma {:>10.4}", v[1], v[3], v[0], v[2])
                    };
                    table.push_str(&format!("  {:<width$}  {line}\n", r.param));
                }
            }
            Err(why) => {
                for i in 0..d {
                    let mut rec = vec![kpi.clone(), spec.vary[i].path.clone(), method.to_string()];
                    rec.extend(std::iter::repeat_n(String::new(), 4));
                    rec.push(noise_cell.clone());
                    w.write_record(crate::output::csv::safe(&rec))?;
                }
                table.push_str(&format!("{kpi}: no indices: {why}\n"));
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = args.out.clone().unwrap_or_else(|| args.dir.join(SENSITIVITY));
    let in_folder = place(args, SENSITIVITY, "kpi,param,method,")? == Place::Folder;
    put(args, in_folder, SENSITIVITY, &out, &bytes)?;
    if !args.quiet {
        out!("{table}")?;
        outln!("wrote {}", out.display())?;
    }
    // Written into the sweep folder: remake its charts and report, as `chipmarket plot` does,
    // so the sensitivity charts are there at once.
    if in_folder {
        let (_, written) = report::plot(&args.dir, false, &report::Started::now())?;
        if !args.quiet {
            let charts = written.iter().filter(|f| f.starts_with("charts/sensitivity_")).count();
            outln!("remade {} ({charts} sensitivity chart(s) in charts/)", args.dir.join(report::REPORT).display())?;
        }
    }
    Ok(())
}

fn discover(args: &AnalyzeArgs, spec: &SweepSpec, read: &Read, cond: &Condition) -> Result<()> {
    let numeric: Vec<usize> = (0..spec.vary.len()).filter(|&j| read.params.iter().all(|p| p[j].is_finite())).collect();
    if numeric.is_empty() {
        return Err(InputError::new("--discover: no varied parameter takes numbers, so there is no box to draw").into());
    }
    let x: Vec<Vec<f64>> = read.params.iter().map(|p| numeric.iter().map(|&j| p[j]).collect()).collect();
    let weight: Vec<f64> = read.acc[0].iter().map(|a| f64::from(a.n)).collect();
    let result = prim::prim(&x, &read.hits, &weight, prim::PrimOptions::default())
        .map_err(|e| InputError::new(format!("--discover \"{} {} {}\": {e}", cond.kpi, cond.op, num(cond.value))))?;
    let paths: Vec<&str> = numeric.iter().map(|&j| spec.vary[j].path.as_str()).collect();
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let mut head: Vec<String> =
        ["box", "stage", "coverage", "density", "mass", "n_restricted", "restricted"].map(String::from).to_vec();
    for p in &paths {
        head.push(format!("min_{p}"));
        head.push(format!("max_{p}"));
    }
    w.write_record(crate::output::csv::safe(&head))?;
    let restricted = |b: &prim::PrimBox| -> Vec<&str> {
        paths.iter().zip(&b.restricted).filter(|(_, r)| **r).map(|(p, _)| *p).collect()
    };
    let mut record = |i: usize, stage: &str, b: &prim::PrimBox| -> Result<()> {
        let r = restricted(b);
        let mut rec = vec![
            i.to_string(),
            stage.to_string(),
            num(b.coverage),
            num(b.density),
            num(b.mass),
            r.len().to_string(),
            r.join(";"),
        ];
        for j in 0..paths.len() {
            rec.push(num(b.lo[j]));
            rec.push(num(b.hi[j]));
        }
        Ok(w.write_record(crate::output::csv::safe(&rec))?)
    };
    for (i, b) in result.peeling.iter().enumerate() {
        record(i, if i == result.chosen { "chosen" } else { "peel" }, b)?;
    }
    record(result.chosen, "pasted", &result.pasted)?;
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = args.out.clone().unwrap_or_else(|| args.dir.join(BOXES));
    let in_folder = place(args, BOXES, "box,stage,")? == Place::Folder;
    put(args, in_folder, BOXES, &out, &bytes)?;
    if !args.quiet {
        let all = &result.peeling[0];
        let b = &result.pasted;
        outln!(
            "{} {} {}: {:.0} % of runs (box 0 of {} on the peeling trajectory covers them all)",
            cond.kpi,
            cond.op,
            num(cond.value),
            100.0 * all.density,
            result.peeling.len()
        )?;
        outln!(
            "chosen box (peeling step {}, then pasted): coverage {:.2}, density {:.2}, mass {:.2}",
            result.chosen,
            b.coverage,
            b.density,
            b.mass
        )?;
        for (j, p) in paths.iter().enumerate() {
            if b.restricted[j] {
                outln!("  {p} in [{}, {}]", num(b.lo[j]), num(b.hi[j]))?;
            }
        }
        if !b.restricted.iter().any(|r| *r) {
            outln!("  (no restriction: no box does better than the whole space)")?;
        }
        outln!("wrote {}", out.display())?;
    }
    Ok(())
}

/// Where the result goes: into the sweep folder (its own `name`), or a file elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Folder,
    File,
}

/// Where `--out` puts the result `name`, refusing (exit code 2) a file that is not an
/// earlier result of `analyze` (its first line starts with `header`), a folder, or a file of
/// an output folder (`output::owner::claim_file`).
fn place(args: &AnalyzeArgs, name: &str, header: &str) -> Result<Place, InputError> {
    let Some(out) = &args.out else { return Ok(Place::Folder) };
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let same_dir = matches!((fs::canonicalize(parent), fs::canonicalize(&args.dir)), (Ok(a), Ok(b)) if a == b);
    if same_dir && out.file_name().is_some_and(|n| n == name) {
        return Ok(Place::Folder);
    }
    owner::claim_file(out, "analysis table", |first| first.starts_with(header))?;
    Ok(Place::File)
}

/// Write the result `name`: staged into the sweep folder (replacing only an earlier one of
/// the folder's commands), or atomically as the file `out`.
fn put(args: &AnalyzeArgs, in_folder: bool, name: &str, out: &Path, bytes: &[u8]) -> Result<()> {
    if !in_folder {
        return write_out(out, bytes);
    }
    let claim = report::adopt(&args.dir, report::Kind::Sweep, &[SENSITIVITY, BOXES])?;
    let stage = claim.stage()?;
    let result = atomic::write(&stage.join(name), bytes).and_then(|()| claim.update(&stage, |_| false));
    let _ = fs::remove_dir_all(&stage);
    result
}

/// Write `bytes` to `path` atomically, creating its folder if needed.
fn write_out(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent =
        path.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    fs::create_dir_all(&parent).with_context(|| format!("failed to create '{}'", parent.display()))?;
    atomic::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_and_hold() {
        let c = Condition::parse("thead_final_year_compute_share >= 0.1").unwrap();
        assert_eq!((c.kpi.as_str(), c.op, c.value), ("thead_final_year_compute_share", ">=", 0.1));
        assert!(c.holds(0.1) && !c.holds(0.09));
        let c = Condition::parse("k<-2").unwrap();
        assert!(c.holds(-3.0) && !c.holds(-2.0));
        for bad in ["k", "k > x", "> 1", "a b > 1", "k > inf"] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn noise_share_splits_within_and_between_point_variance() {
        let acc = |values: &[f64]| {
            let mut a = Acc::default();
            values.iter().for_each(|&x| a.push(x));
            a
        };
        // Points differ, replications agree: no noise. Points agree, replications differ: all noise.
        assert_eq!(noise_share(&[acc(&[1.0, 1.0]), acc(&[3.0, 3.0])]), Some(0.0));
        assert_eq!(noise_share(&[acc(&[1.0, 3.0]), acc(&[1.0, 3.0])]), Some(1.0));
        // Within SS 2 + 2 over 2 df = 2; total: values 1,3,3,5 have variance 8/3.
        let s = noise_share(&[acc(&[1.0, 3.0]), acc(&[3.0, 5.0])]).unwrap();
        assert!((s - 2.0 / (8.0 / 3.0)).abs() < 1e-12, "{s}");
        assert_eq!(noise_share(&[acc(&[1.0]), acc(&[2.0])]), None, "one replication: no noise estimate");
    }
}
