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
pub mod comparison;
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
use crate::output::columns;
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
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also write `results.xlsx` (runs only).
    pub xlsx: bool,
    /// What made the folder, when the command making it derives its files (otherwise read from
    /// the folder's `manifest.json`).
    pub provenance: Option<Provenance>,
}

/// What made an output folder, as the report shows it: the facts `manifest.json` holds
/// (written from the same values), so a report remade by `plot` shows the command that made
/// the folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// chipmarket's version.
    pub version: String,
    /// When the command started (UTC, RFC 3339).
    pub date: String,
    /// The command line, the program named `chipmarket`.
    pub command_line: Vec<String>,
    /// The command-line overrides (`--set` lines, then `--seed` as `scenario.seed=N`).
    pub overrides: Vec<String>,
}

impl Provenance {
    /// This process, started at `started`, with `overrides`.
    pub fn now(started: &Started, overrides: &[String]) -> Provenance {
        Provenance {
            version: env!("CARGO_PKG_VERSION").to_string(),
            date: manifest::rfc3339(started.wall),
            command_line: manifest::command_line(),
            overrides: overrides.to_vec(),
        }
    }

    /// From the `manifest.json` of `dir`, if it has a readable one.
    pub fn read(dir: &Path) -> Option<Provenance> {
        let bytes = crate::load::read_bounded(&dir.join(manifest::FILE), "manifest", 1 << 20).ok()?;
        let m: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let s = |k: &str| m.get(k).and_then(serde_json::Value::as_str).unwrap_or("").to_string();
        let list = |k: &str| -> Vec<String> {
            m.get(k)
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        Some(Provenance {
            version: s("version"),
            date: s("started_at"),
            command_line: list("command_line"),
            overrides: list("overrides"),
        })
    }
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
    /// `scenario.start` (the first quarters before the first full calendar year are warm-up).
    pub start: String,
    /// Each regime's levers, in `[policy.regimes]` order: (regime, [(lever, value as text)]).
    pub regimes: Vec<(String, Vec<(String, String)>)>,
    /// What made the folder (`manifest.json`), when known.
    pub provenance: Option<Provenance>,
    /// The KPIs of `summary.csv`: (name, statistics over replications).
    pub kpis: Vec<(String, crate::batch::stats::Stats)>,
}

impl RunMeta {
    /// A firm's display name (its id when it has none).
    pub fn firm_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.firms.iter().find(|(f, _)| f == id).map_or(id, |(_, n)| n.as_str())
    }

    /// The warm-up quarters: those before the first calendar year the run covers whole (none
    /// when it starts on 1 January).
    pub fn is_warm_up(&self, quarter: &str) -> bool {
        let (Some(y), Some(m)) = (self.start.get(..4).and_then(|y| y.parse::<i32>().ok()), self.start.get(5..7)) else {
            return false;
        };
        m != "01" && summaries::year_of(quarter) == Some(y)
    }

    /// A KPI name split into its firm's display name (or "market") and the measure.
    pub fn kpi_label(&self, kpi: &str) -> (String, String) {
        let mut best: Option<&(String, String)> = None;
        for f in &self.firms {
            if kpi.starts_with(&format!("{}_", f.0)) && best.is_none_or(|b| b.0.len() < f.0.len()) {
                best = Some(f);
            }
        }
        match best {
            Some((id, name)) => (name.clone(), kpi[id.len() + 1..].replace('_', " ")),
            None => match kpi.strip_prefix("market_") {
                Some(rest) => ("market".to_string(), rest.replace('_', " ")),
                None => (String::new(), kpi.replace('_', " ")),
            },
        }
    }
}

/// A lever's value as table text.
fn lever_text(v: &toml::Value) -> String {
    match v {
        toml::Value::Array(a) if a.is_empty() => "–".to_string(),
        toml::Value::Array(a) => a.iter().map(|x| text(Some(x))).collect::<Vec<_>>().join(", "),
        toml::Value::Table(t) => t.iter().map(|(k, x)| format!("{k} {}", text(Some(x)))).collect::<Vec<_>>().join(", "),
        other => text(Some(other)),
    }
}

/// The KPIs of `summary.csv`: mean and quantiles over replications of each column after the keys.
fn read_kpi_stats(dir: &Path) -> Result<Vec<(String, crate::batch::stats::Stats)>> {
    if !dir.join(names::SUMMARY).is_file() {
        return Ok(Vec::new());
    }
    let mut t = table::Table::open(dir, names::SUMMARY)?;
    let first = columns::summary::KEYS.len();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); t.header.len().saturating_sub(first)];
    let mut record = csv::StringRecord::new();
    while t.next(&mut record)? {
        for (i, v) in values.iter_mut().enumerate() {
            if let Some(x) = table::number(&t, &record, first + i)? {
                v.push(x);
            }
        }
    }
    Ok(t.header.iter().skip(first).cloned().zip(values.iter_mut().map(|v| crate::batch::stats::stats(v))).collect())
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
    meta.start = field("start");
    if let Some(regimes) = policy.and_then(|p| p.get("regimes")).and_then(toml::Value::as_table) {
        for (id, r) in regimes {
            let levers = r.as_table().into_iter().flatten().map(|(k, v)| (k.clone(), lever_text(v))).collect();
            meta.regimes.push((id.clone(), levers));
        }
    }
    meta.kpis = read_kpi_stats(dir)?;
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
            let mut meta = run_meta(dir)?;
            meta.provenance = options.provenance.clone().or_else(|| Provenance::read(src));
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
            let effects = charts::sweep_charts(dir, &s, &meta, &mut |(name, svg)| {
                put(dst, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
                inline += svg.len();
                charts.push((name, (inline <= INLINE_BYTES).then_some(svg)));
                Ok(())
            })?;
            let sens_charts = sens.as_ref().map(|x| charts::sensitivity_charts(x, &meta)).unwrap_or_default();
            for (name, svg) in &sens_charts {
                put(dst, &format!("{CHARTS}/{name}"), svg.as_bytes(), &mut written)?;
            }
            let report =
                html::sweep_report(&meta, &s, &charts, &effects, sens.as_ref().map(|x| (x, sens_charts.as_slice())));
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
    /// The sweep's own `name` (empty when it has none).
    pub title: String,
    /// The sweep's `question` (empty when it has none).
    pub question: String,
    /// Each `[[vary]]`'s `label` (empty when it has none), in `[[vary]]` order.
    pub labels: Vec<String>,
}

impl SweepMeta {
    /// The report's title: the sweep's name, or "Sweep of <base scenario>".
    pub fn heading(&self) -> String {
        if self.title.is_empty() {
            format!("Sweep of {}", self.name)
        } else {
            self.title.clone()
        }
    }

    /// What the charts call the axis of `param` (a path, with or without `param_`): its
    /// `label`, or `fallback`.
    pub fn axis_label(&self, param: &str, fallback: &str) -> String {
        let path = param.trim_start_matches("param_");
        self.paths
            .iter()
            .position(|p| p == path)
            .and_then(|i| self.labels.get(i))
            .filter(|l| !l.is_empty())
            .map_or_else(|| fallback.to_string(), Clone::clone)
    }
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
        title: text(doc.get("name")),
        question: text(doc.get("question")),
        labels: doc
            .get("vary")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| text(v.get("label")))
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

/// The last steps of `chipmarket run` in its staging folder: derived files and manifest
/// (`overrides`: the command-line overrides, which both record).
pub fn finish_run(dir: &Path, xlsx: bool, started: &Started, overrides: &[String]) -> Result<()> {
    let provenance = Provenance::now(started, overrides);
    derive(dir, dir, Kind::Run, Options { xlsx, provenance: Some(provenance) })?;
    write_run_manifest(dir, dir, "run", started, list_files(dir), overrides)
}

fn write_run_manifest(
    src: &Path,
    dst: &Path,
    command: &str,
    started: &Started,
    files: Vec<String>,
    overrides: &[String],
) -> Result<()> {
    let meta = run_meta(src)?;
    let fields = [
        ("scenario", serde_json::Value::String(meta.name.clone())),
        ("seed", number_or_text(&meta.seed)),
        ("replications", number_or_text(&meta.replications)),
        ("overrides", serde_json::Value::from(overrides.to_vec())),
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
        let written = derive(dir, &stage, kind, Options { xlsx, provenance: None })?;
        if !dir.join(manifest::FILE).exists() {
            let mut files: Vec<String> = list_files(dir).into_iter().chain(list_files(&stage)).collect();
            files.sort();
            files.dedup();
            match kind {
                Kind::Run => write_run_manifest(dir, &stage, "plot", started, files, &[])?,
                Kind::Sweep => write_sweep_manifest(dir, &stage, "plot", started, files)?,
            }
        }
        claim.update(&stage, |f| f.starts_with("charts/sensitivity_"))?;
        Ok(written)
    })();
    let _ = fs::remove_dir_all(&stage);
    Ok((kind, result?))
}

/// Files every comparison writes (checked before any work against files of the same names
/// that `--force` must not replace; charts are checked when the files move into place).
pub const COMPARISON_FILES: [&str; 6] = [
    names::DIFF_QUARTERLY,
    names::DIFF_YEARLY,
    names::DIFF_KPIS,
    names::COMPARISON_TOML,
    names::REPORT,
    names::MANIFEST,
];

/// `chipmarket diff` and the comparison of a multi-scenario `run`: pair each of `others` with
/// `base` (refused unless seeds, replications and quarters agree) and write the comparison
/// folder `out` through its claim (`output::owner`, kind `diff`). Returns the number of files
/// written.
pub fn write_comparison(
    base: &Path,
    others: &[std::path::PathBuf],
    out: &Path,
    force: bool,
    started: &Started,
) -> Result<usize> {
    let claim = owner::claim(out, owner::Kind::Diff, force)?;
    claim.refuse_conflicts(&COMPARISON_FILES)?;
    let mut builder = comparison::Builder::new(comparison::read_side(base)?);
    for o in others {
        builder.add(comparison::read_side(o)?)?;
    }
    let (names_of, replications, seed) = builder.describe();
    let provenance = Provenance::now(started, &[]);
    let files = builder.finish(&provenance);
    claim.write(|stage| {
        for (name, bytes) in &files {
            let path = stage.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).with_context(|| format!("failed to create '{}'", parent.display()))?;
            }
            atomic::write(&path, bytes)?;
        }
        let fields = [
            ("scenarios", serde_json::Value::from(names_of.clone())),
            ("seed", number_or_text(&seed)),
            ("replications", serde_json::Value::from(replications)),
            ("files", serde_json::Value::from(list_files(stage))),
        ];
        manifest::write(stage, stage, "diff", started.wall, started.clock.elapsed(), names::COMPARISON_TOML, &fields)
    })?;
    Ok(files.len() + 1)
}
