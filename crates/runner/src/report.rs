//! Derived outputs: what an analyst reads first, made from the CSV files already in an output
//! folder (docs/outputs.md describes every file and column).
//!
//! [`derive`] is one post-processing step: `run` calls it on its temporary folder before the
//! folder is renamed into place, `sweep` and `merge` on their finished folder, and
//! `chipmarket plot DIR` on any run or sweep folder. It reads the CSVs streaming (never the
//! contracts into memory: the workbook copies them row by row, in constant memory) and writes, for a run, the
//! summaries (`summaries`), the SVG charts (`charts`), `report.html` (`html`) and, if asked,
//! `results.xlsx` (`xlsx`); for a sweep, `points_wide.csv`, charts and the report, with
//! sensitivity charts when `chipmarket analyze` left a `sensitivity.csv` (`sensitivity`).
//! `manifest.json` (`manifest`) is written by the commands themselves, since only they know
//! the command line and the time taken. Everything derived depends only on the CSV files and
//! the resolved scenario or sweep, so it is byte-identical for the same seed.

pub mod charts;
pub mod html;
pub mod manifest;
pub mod sensitivity;
pub mod summaries;
pub mod table;
pub mod xlsx;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::error::InputError;
use crate::output::atomic;
use crate::output::names;

/// Which kind of folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A `chipmarket run` folder (`scenario.resolved.toml`).
    Run,
    /// A `chipmarket sweep` or `merge` folder (`sweep.resolved.toml`).
    Sweep,
}

/// Options of [`derive`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also write `results.xlsx` (runs only).
    pub xlsx: bool,
}

/// Charts go here, inside the folder.
pub const CHARTS: &str = names::CHARTS;

/// Tell a run folder from a sweep folder, or refuse (exit code 2).
pub fn detect(dir: &Path) -> Result<Kind> {
    if !dir.is_dir() {
        return Err(InputError::new(format!("'{}' is not a folder", dir.display()))
            .with_hint("give the output folder of a `chipmarket run` or `chipmarket sweep`")
            .into());
    }
    if dir.join(names::SCENARIO_RESOLVED).is_file() {
        Ok(Kind::Run)
    } else if dir.join(names::SWEEP_RESOLVED).is_file() {
        Ok(Kind::Sweep)
    } else {
        Err(InputError::new(format!(
            "'{}' holds neither scenario.resolved.toml nor sweep.resolved.toml",
            dir.display()
        ))
        .with_hint("give the output folder of a `chipmarket run` or a finished `chipmarket sweep`")
        .into())
    }
}

/// What the report says about a run's scenario, from `scenario.resolved.toml`.
#[derive(Debug, Clone, Default)]
pub struct RunMeta {
    /// `scenario.name`.
    pub name: String,
    /// `scenario.description`.
    pub description: String,
    /// `scenario.seed`.
    pub seed: String,
    /// `scenario.replications`.
    pub replications: String,
    /// Firm ids and display names, in scenario order.
    pub firms: Vec<(String, String)>,
    /// Ids of the domestic firms.
    pub domestic: Vec<String>,
    /// The dated regime schedule: (date, regime), with the initial regime first.
    pub schedule: Vec<(String, String)>,
    /// Regimes switch by a Markov chain (`[policy.switching]`) rather than only by date.
    pub switching: bool,
}

fn text(v: Option<&toml::Value>) -> String {
    match v {
        Some(toml::Value::String(s)) => s.clone(),
        Some(toml::Value::Datetime(d)) => d.to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Read `scenario.resolved.toml` of a run folder.
pub fn run_meta(dir: &Path) -> Result<RunMeta> {
    let path = dir.join(names::SCENARIO_RESOLVED);
    let src = fs::read_to_string(&path).with_context(|| format!("failed to read '{}'", path.display()))?;
    let doc: toml::Table =
        src.parse().map_err(|e| InputError::new(format!("scenario.resolved.toml: not a valid scenario: {e}")))?;
    let sc = doc.get("scenario");
    let field = |k: &str| text(sc.and_then(|s| s.get(k)));
    let mut meta = RunMeta {
        name: field("name"),
        description: field("description"),
        seed: field("seed"),
        replications: field("replications"),
        ..RunMeta::default()
    };
    for f in doc.get("firms").and_then(toml::Value::as_array).into_iter().flatten() {
        let id = text(f.get("id"));
        let name = f.get("name").map_or_else(|| id.clone(), |n| text(Some(n)));
        if text(f.get("origin")) == "domestic" {
            meta.domestic.push(id.clone());
        }
        meta.firms.push((id, name));
    }
    let policy = doc.get("policy");
    if let Some(initial) = policy.and_then(|p| p.get("initial")) {
        meta.schedule.push((field("start"), text(Some(initial))));
    }
    for s in policy.and_then(|p| p.get("schedule")).and_then(toml::Value::as_array).into_iter().flatten() {
        meta.schedule.push((text(s.get("date")), text(s.get("regime"))));
    }
    meta.switching = policy.and_then(|p| p.get("switching")).is_some();
    Ok(meta)
}

/// Write one derived file into `dir` (under a temporary name, renamed into place).
fn put(dir: &Path, name: &str, bytes: &[u8], written: &mut Vec<String>) -> Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("failed to create '{}'", parent.display()))?;
    }
    atomic::write(&path, bytes)?;
    written.push(name.to_string());
    Ok(())
}

/// Make every derived file of the folder `dir` of kind `kind`; returns their names (relative
/// to `dir`), in the order written.
pub fn derive(dir: &Path, kind: Kind, options: Options) -> Result<Vec<String>> {
    let mut written = Vec::new();
    match kind {
        Kind::Run => {
            let meta = run_meta(dir)?;
            let s = summaries::run_summary(dir, &meta.domestic)?;
            s.require_reported()?;
            put(dir, names::MARKET_SUMMARY, &summaries::market_summary_csv(&s)?, &mut written)?;
            put(dir, names::FIRMS_SUMMARY, &summaries::firms_summary_csv(&s)?, &mut written)?;
            put(dir, names::SHARES_WIDE, &summaries::shares_wide_csv(&s)?, &mut written)?;
            put(dir, names::GAPS_WIDE, &summaries::gaps_wide_csv(&s)?, &mut written)?;
            let charts = charts::run_charts(&s, &meta);
            for (name, svg) in &charts {
                put(dir, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
            }
            put(dir, names::REPORT, html::run_report(&meta, &s, &charts).as_bytes(), &mut written)?;
            if options.xlsx {
                put(dir, xlsx::FILE, &xlsx::workbook(dir, &meta, &s)?, &mut written)?;
            }
        }
        Kind::Sweep => {
            let meta = sweep_meta(dir)?;
            let s = summaries::sweep_summary(dir)?;
            // Read before anything is written, so a damaged file leaves the folder as it was.
            let sens = sensitivity::read(dir)?;
            put(dir, names::POINTS_WIDE, &summaries::points_wide_csv(&s)?, &mut written)?;
            let charts = charts::sweep_charts(&s, &meta);
            for (name, svg) in &charts {
                put(dir, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
            }
            let sens_charts = sens.as_ref().map(|x| charts::sensitivity_charts(x, &meta)).unwrap_or_default();
            for (name, svg) in &sens_charts {
                put(dir, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
            }
            remove_stale_sensitivity_charts(dir, &sens_charts)?;
            let report = html::sweep_report(&meta, &s, &charts, sens.as_ref().map(|x| (x, sens_charts.as_slice())));
            put(dir, names::REPORT, report.as_bytes(), &mut written)?;
        }
    }
    Ok(written)
}

/// Remove `charts/sensitivity_*.svg` files of an earlier `sensitivity.csv` that the current one
/// (`kept`) no longer makes, so the folder's charts match its report.
fn remove_stale_sensitivity_charts(dir: &Path, kept: &[(String, String)]) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir.join(CHARTS)) else { return Ok(()) };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("sensitivity_") && name.ends_with(".svg") && !kept.iter().any(|(k, _)| *k == name) {
            fs::remove_file(e.path()).with_context(|| format!("failed to remove '{}'", e.path().display()))?;
        }
    }
    Ok(())
}

/// What the report says about a sweep, from `sweep.resolved.toml`.
#[derive(Debug, Clone, Default)]
pub struct SweepMeta {
    /// The base scenario's name.
    pub name: String,
    /// The base scenario's description.
    pub description: String,
    /// The base scenario's seed.
    pub seed: String,
    /// Replications per point.
    pub replications: String,
    /// `grid`, `random`, `lhs` or `sobol`.
    pub method: String,
    /// The varied paths, in `[[vary]]` order.
    pub paths: Vec<String>,
}

/// Read `sweep.resolved.toml` of a sweep folder.
pub fn sweep_meta(dir: &Path) -> Result<SweepMeta> {
    let path = dir.join(names::SWEEP_RESOLVED);
    let src = fs::read_to_string(&path).with_context(|| format!("failed to read '{}'", path.display()))?;
    let doc: toml::Table =
        src.parse().map_err(|e| InputError::new(format!("sweep.resolved.toml: not a valid sweep: {e}")))?;
    let sc = doc.get("base").and_then(|b| b.get("scenario"));
    let field = |k: &str| text(sc.and_then(|s| s.get(k)));
    Ok(SweepMeta {
        name: field("name"),
        description: field("description"),
        seed: field("seed"),
        replications: text(doc.get("replications")),
        method: doc.get("method").map_or_else(|| "grid".to_string(), |m| text(Some(m))),
        paths: doc
            .get("vary")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| text(v.get("path")))
            .collect(),
    })
}

/// The page of a folder.
pub const REPORT: &str = names::REPORT;

/// When a command started: the wall clock for the manifest, a monotonic clock for its duration.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    wall: std::time::SystemTime,
    clock: std::time::Instant,
}

impl Started {
    /// Now.
    pub fn now() -> Started {
        Started { wall: std::time::SystemTime::now(), clock: std::time::Instant::now() }
    }
}

/// Every file under `dir`, relative, sorted, `/`-separated (the manifest itself left out).
fn list_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if let Ok(rel) = path.strip_prefix(base) {
                let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                let rel = rel.join("/");
                if rel != manifest::FILE && !rel.starts_with('.') {
                    out.push(rel);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn number_or_text(s: &str) -> serde_json::Value {
    s.parse::<u64>().map_or_else(|_| serde_json::Value::String(s.to_string()), serde_json::Value::from)
}

/// The last steps of `chipmarket run` in its temporary folder: derived files and manifest.
pub fn finish_run(dir: &Path, xlsx: bool, started: &Started) -> Result<()> {
    derive(dir, Kind::Run, Options { xlsx })?;
    let meta = run_meta(dir)?;
    let fields = [
        ("scenario", serde_json::Value::String(meta.name.clone())),
        ("seed", number_or_text(&meta.seed)),
        ("replications", number_or_text(&meta.replications)),
        ("files", serde_json::Value::from(list_files(dir))),
    ];
    manifest::write(dir, "run", started.wall, started.clock.elapsed(), names::SCENARIO_RESOLVED, &fields)
}

/// The last steps of `chipmarket sweep` or `merge` (`command`) in its finished folder.
pub fn finish_sweep(dir: &Path, command: &str, started: &Started) -> Result<()> {
    derive(dir, Kind::Sweep, Options::default())?;
    write_sweep_manifest(dir, command, started)
}

fn write_sweep_manifest(dir: &Path, command: &str, started: &Started) -> Result<()> {
    let meta = sweep_meta(dir)?;
    let fields = [
        ("scenario", serde_json::Value::String(meta.name.clone())),
        ("seed", number_or_text(&meta.seed)),
        ("replications", number_or_text(&meta.replications)),
        ("method", serde_json::Value::String(meta.method.clone())),
        ("varied", serde_json::Value::from(meta.paths.clone())),
        ("files", serde_json::Value::from(list_files(dir))),
    ];
    manifest::write(dir, command, started.wall, started.clock.elapsed(), names::SWEEP_RESOLVED, &fields)
}

/// `chipmarket plot`: derive into `dir`; write a manifest (`command = "plot"`) only where the
/// folder has none, so the one of the command that made it is kept.
pub fn plot(dir: &Path, xlsx: bool, started: &Started) -> Result<(Kind, Vec<String>)> {
    let kind = detect(dir)?;
    let written = derive(dir, kind, Options { xlsx })?;
    if !dir.join(manifest::FILE).exists() {
        match kind {
            Kind::Run => {
                let meta = run_meta(dir)?;
                let fields = [
                    ("scenario", serde_json::Value::String(meta.name.clone())),
                    ("seed", number_or_text(&meta.seed)),
                    ("replications", number_or_text(&meta.replications)),
                    ("files", serde_json::Value::from(list_files(dir))),
                ];
                manifest::write(dir, "plot", started.wall, started.clock.elapsed(), names::SCENARIO_RESOLVED, &fields)?;
            }
            Kind::Sweep => write_sweep_manifest(dir, "plot", started)?,
        }
    }
    Ok((kind, written))
}
