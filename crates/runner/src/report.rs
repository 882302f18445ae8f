//! Derived outputs: what an analyst reads first, made from the CSV files already in an output
//! folder (docs/outputs.md describes every file and column).
//!
//! [`derive`] is one post-processing step: `run` calls it on its temporary folder before the
//! folder is renamed into place, `sweep` and `merge` on their finished folder, and
//! `chipmarket plot DIR` on any run or sweep folder. It reads the CSVs streaming (never the
//! contracts into memory: the workbook copies them row by row, in constant memory) and writes, for a run, the
//! summaries (`summaries`), the SVG charts (`charts`), `report.html` (`html`) and, if asked,
//! `results.xlsx` (`xlsx`); for a sweep, `points_wide.csv`, charts and the report (`points`:
//! streamed from `points.csv`, in memory that does not grow with the points), with
//! sensitivity charts when `chipmarket analyze` left a `sensitivity.csv` (`sensitivity`).
//! `manifest.json` (`manifest`) is written by the commands themselves, since only they know
//! the command line and the time taken. Everything derived depends only on the CSV files and
//! the resolved scenario or sweep, so it is byte-identical for the same seed.

pub mod charts;
pub mod html;
pub mod manifest;
pub mod points;
pub mod sensitivity;
pub mod summaries;
pub mod table;
pub mod xlsx;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::error::InputError;
use crate::output::atomic;
use crate::output::names;
use crate::output::owner::{self, Claim};

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
    let src = crate::load::read_text(&path, "resolved file")?;
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

/// Make every derived file of the folder `src` of kind `kind` into the folder `dst` (the same
/// folder, or a staging folder of the `--out` claim); returns their names (relative to `dst`),
/// in the order written.
pub fn derive(src: &Path, dst: &Path, kind: Kind, options: Options) -> Result<Vec<String>> {
    let dir = src;
    let mut written = Vec::new();
    match kind {
        Kind::Run => {
            let meta = run_meta(dir)?;
            let s = summaries::run_summary(dir, &meta.domestic)?;
            s.require_reported()?;
            put(dst, names::MARKET_SUMMARY, &summaries::market_summary_csv(&s)?, &mut written)?;
            put(dst, names::FIRMS_SUMMARY, &summaries::firms_summary_csv(&s)?, &mut written)?;
            put(dst, names::SHARES_WIDE, &summaries::shares_wide_csv(&s)?, &mut written)?;
            put(dst, names::GAPS_WIDE, &summaries::gaps_wide_csv(&s)?, &mut written)?;
            let charts = charts::run_charts(&s, &meta);
            for (name, svg) in &charts {
                put(dst, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
            }
            put(dst, names::REPORT, html::run_report(&meta, &s, &charts).as_bytes(), &mut written)?;
            if options.xlsx {
                put(dst, xlsx::FILE, &xlsx::workbook(dir, &meta, &s)?, &mut written)?;
            }
        }
        Kind::Sweep => {
            let meta = sweep_meta(dir)?;
            // Read before anything is written, so a damaged file leaves the folder as it was.
            let sens = sensitivity::read(dir)?;
            // Streamed: memory does not grow with the points (`points`).
            let mut survey = None;
            atomic::write_with(&dst.join(names::POINTS_WIDE), |w| {
                survey = Some(points::write_wide(dir, w)?);
                Ok(())
            })?;
            written.push(names::POINTS_WIDE.to_string());
            let s = survey.expect("written");
            // Charts go to their files as they are drawn; the report shows them inline up to
            // INLINE_BYTES in all, and links the rest.
            let mut charts = Vec::new();
            let mut inline = 0;
            charts::sweep_charts(dir, &s, &meta, &mut |(name, svg)| {
                put(dst, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
                inline += svg.len();
                charts.push((name, (inline <= INLINE_BYTES).then_some(svg)));
                Ok(())
            })?;
            let sens_charts = sens.as_ref().map(|x| charts::sensitivity_charts(x, &meta)).unwrap_or_default();
            for (name, svg) in &sens_charts {
                put(dst, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
            }
            let report = html::sweep_report(&meta, &s, &charts, sens.as_ref().map(|x| (x, sens_charts.as_slice())));
            put(dst, names::REPORT, report.as_bytes(), &mut written)?;
        }
    }
    Ok(written)
}

/// The SVG a sweep's `report.html` holds inline at most; charts beyond it are linked.
pub const INLINE_BYTES: usize = 8 << 20;

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
    let src = crate::load::read_text(&path, "resolved file")?;
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
/// Links are listed, not followed (a link to a folder above would loop).
fn list_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
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

/// Whether `file` (relative, `/`-separated) is a derived output that [`derive`] or `plot`
/// writes: what `plot` may replace in a folder of an earlier version, which has no marker.
pub fn is_derived(file: &str) -> bool {
    [
        names::MARKET_SUMMARY,
        names::FIRMS_SUMMARY,
        names::SHARES_WIDE,
        names::GAPS_WIDE,
        names::POINTS_WIDE,
        names::REPORT,
        names::RESULTS_XLSX,
        names::MANIFEST,
    ]
    .contains(&file)
        || file.strip_prefix("charts/").is_some_and(|c| c.ends_with(".svg") && !c.contains('/'))
}

/// The last steps of `chipmarket run` in its staging folder: derived files and manifest.
pub fn finish_run(dir: &Path, xlsx: bool, started: &Started) -> Result<()> {
    derive(dir, dir, Kind::Run, Options { xlsx })?;
    write_run_manifest(dir, dir, "run", started, list_files(dir))
}

fn write_run_manifest(src: &Path, dst: &Path, command: &str, started: &Started, files: Vec<String>) -> Result<()> {
    let meta = run_meta(src)?;
    let fields = [
        ("scenario", serde_json::Value::String(meta.name.clone())),
        ("seed", number_or_text(&meta.seed)),
        ("replications", number_or_text(&meta.replications)),
        ("files", serde_json::Value::from(files)),
    ];
    manifest::write(src, dst, command, started.wall, started.clock.elapsed(), names::SCENARIO_RESOLVED, &fields)
}

/// The last steps of `chipmarket merge` in its staging folder: derived files and manifest.
pub fn finish_sweep(dir: &Path, command: &str, started: &Started) -> Result<()> {
    derive(dir, dir, Kind::Sweep, Options::default())?;
    write_sweep_manifest(dir, dir, command, started, list_files(dir))
}

/// The last steps of `chipmarket sweep` in the folder it filled by its own protocol (the
/// `in_place` files, see `output::owner`): derived files and manifest staged, then committed,
/// so a failure leaves the folder's derived files as they were.
pub fn finish_sweep_in(
    claim: &Claim,
    command: &str,
    started: &Started,
    in_place: &BTreeSet<String>,
    derived: bool,
) -> Result<()> {
    let stage = claim.stage()?;
    let result = (|| -> Result<()> {
        if !derived {
            return claim.commit_with(&stage, in_place);
        }
        derive(&claim.dir, &stage, Kind::Sweep, Options::default())?;
        let owned =
            |f: &String| in_place.contains(f) || in_place.iter().any(|d| d.ends_with('/') && f.starts_with(d.as_str()));
        let mut files: Vec<String> =
            list_files(&claim.dir).into_iter().filter(owned).chain(list_files(&stage)).collect();
        files.sort();
        files.dedup();
        write_sweep_manifest(&claim.dir, &stage, command, started, files)?;
        claim.commit_with(&stage, in_place)
    })();
    let _ = fs::remove_dir_all(&stage);
    result
}

fn write_sweep_manifest(src: &Path, dst: &Path, command: &str, started: &Started, files: Vec<String>) -> Result<()> {
    let meta = sweep_meta(src)?;
    let fields = [
        ("scenario", serde_json::Value::String(meta.name.clone())),
        ("seed", number_or_text(&meta.seed)),
        ("replications", number_or_text(&meta.replications)),
        ("method", serde_json::Value::String(meta.method.clone())),
        ("varied", serde_json::Value::from(meta.paths.clone())),
        ("files", serde_json::Value::from(files)),
    ];
    manifest::write(src, dst, command, started.wall, started.clock.elapsed(), names::SWEEP_RESOLVED, &fields)
}

/// The claim of a command that adds to the run or sweep folder `dir` (`plot`, `analyze`).
pub fn adopt(dir: &Path, kind: Kind, also: &[&str]) -> Result<Claim> {
    let owner_kind = match kind {
        Kind::Run => owner::Kind::Run,
        Kind::Sweep => owner::Kind::Sweep,
    };
    Ok(owner::adopt(dir, owner_kind, |f| is_derived(f) || also.contains(&f))?)
}

/// `chipmarket plot`: derive the folder's files anew, staged, then moved into place together
/// (replacing only files the folder's commands wrote); write a manifest (`command = "plot"`)
/// only where the folder has none, so the one of the command that made it is kept.
pub fn plot(dir: &Path, xlsx: bool, started: &Started) -> Result<(Kind, Vec<String>)> {
    let kind = detect(dir)?;
    let claim = adopt(dir, kind, &[])?;
    let stage = claim.stage()?;
    let result = (|| -> Result<Vec<String>> {
        let written = derive(dir, &stage, kind, Options { xlsx })?;
        if !dir.join(manifest::FILE).exists() {
            let mut files: Vec<String> = list_files(dir).into_iter().chain(list_files(&stage)).collect();
            files.sort();
            files.dedup();
            match kind {
                Kind::Run => write_run_manifest(dir, &stage, "plot", started, files)?,
                Kind::Sweep => write_sweep_manifest(dir, &stage, "plot", started, files)?,
            }
        }
        claim.update(&stage, |f| f.starts_with("charts/sensitivity_"))?;
        Ok(written)
    })();
    let _ = fs::remove_dir_all(&stage);
    Ok((kind, result?))
}
