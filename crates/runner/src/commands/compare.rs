//! `chipmarket compare RUN_DIR [--targets FILE]`: score a finished run against observed
//! outcomes (default: the project's `data/observed_2022_2024.csv`, embedded in the binary).
//!
//! Reads the run's `scenario.resolved.toml` (firm and chip ids, origins), `firms_quarterly.csv`
//! and `chips_quarterly.csv`, evaluates every target per replication with the engine's `fit`
//! module, writes `RUN_DIR/fit.csv` and prints the table and `N/M inside`. Definitions:
//! `docs/calibration.md`.

use crate::console::out;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use chipmarket_engine::fit::{self, Catalogue, Flow, RepFlows, Target, TargetFit};
use chipmarket_engine::Scenario;

use crate::cli::CompareArgs;
use crate::load::{self, InputError};
use crate::output::csv::num;

/// The project's observed outcomes, embedded so `compare` and `calibrate` work from any folder.
pub const OBSERVED: &str = include_str!("../../../../data/observed_2022_2024.csv");

/// Name shown for the embedded targets in messages.
pub const OBSERVED_NAME: &str = "observed_2022_2024.csv (embedded)";

/// Read and parse a targets file (or the embedded one); errors name the file, line and column.
pub fn targets(path: Option<&Path>) -> Result<(Vec<Target>, String), InputError> {
    let (text, name) = match path {
        Some(p) => (load::read_text(p, "targets file")?, p.display().to_string()),
        None => (OBSERVED.to_string(), OBSERVED_NAME.to_string()),
    };
    let targets = fit::parse_targets(&text).map_err(|e| describe(&name, &e))?;
    Ok((targets, name))
}

/// Render a targets-file error: `file:line:column: key: message`.
pub fn describe(name: &str, err: &fit::FitError) -> InputError {
    InputError(format!("invalid targets: {name}:{err}"))
}

/// The header of `fit.csv`.
pub const FIT_HEADER: [&str; 11] =
    ["id", "period", "metric", "firm", "observed", "low", "high", "sim_mean", "sim_p05", "sim_p95", "inside"];

/// `fit.csv` as bytes.
pub fn fit_csv(targets: &[Target], fits: &[TargetFit]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let _ = w.write_record(FIT_HEADER);
    for (t, f) in targets.iter().zip(fits) {
        let _ = w.write_record([
            t.id.clone(),
            t.period.label.clone(),
            t.metric.as_str().to_string(),
            t.scope.clone(),
            num(t.observed),
            num(t.low),
            num(t.high),
            num(f.mean),
            num(f.p05),
            num(f.p95),
            f.inside.to_string(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// A short human form of a number (3 significant digits, k/M/bn suffixes).
fn short(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("{:.3}bn", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.3}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 1.0 || a == 0.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// The table printed by `compare` and `calibrate`, ending with `N/M inside`.
pub fn table(targets: &[Target], fits: &[TargetFit]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<5} {:<17} {:<12} {:<14} {:>9} {:>21} {:>9} {:>21}  inside",
        "id", "period", "metric", "firm", "observed", "band", "sim_mean", "sim p05-p95"
    );
    for (t, f) in targets.iter().zip(fits) {
        let _ = writeln!(
            out,
            "{:<5} {:<17} {:<12} {:<14} {:>9} {:>21} {:>9} {:>21}  {}",
            t.id,
            t.period.label,
            t.metric.as_str(),
            t.scope,
            short(t.observed),
            format!("{}-{}", short(t.low), short(t.high)),
            short(f.mean),
            format!("{}-{}", short(f.p05), short(f.p95)),
            if f.inside { "yes" } else { "no" }
        );
    }
    let inside = fits.iter().filter(|f| f.inside).count();
    let _ = writeln!(out, "{inside}/{} inside", fits.len());
    out
}

/// Read one quarterly CSV of a run into flows per replication.
fn read_flows(
    path: &Path,
    key: &str,
    ids: &[String],
    into: &mut BTreeMap<u32, RepFlows>,
    chips: bool,
    strict: bool,
) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read '{}'", path.display()))?;
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().with_context(|| format!("'{}': no header line", path.display()))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            InputError(format!("{}: no `{name}` column; is it a chipmarket run folder?", path.display()))
        })
    };
    let (c_rep, c_q, c_id, c_units, c_rev) =
        (col("replication")?, col("quarter")?, col(key)?, col("units_shipped")?, col("revenue_usd")?);
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("'{}': bad record", path.display()))?;
        let line = i + 2;
        let bad = |what: &str| InputError(format!("{}:{line}: bad {what}", path.display()));
        let rep: u32 = rec.get(c_rep).and_then(|s| s.parse().ok()).ok_or_else(|| bad("replication"))?;
        let quarter = rec.get(c_q).and_then(fit::parse_quarter).ok_or_else(|| bad("quarter"))?;
        let id = rec.get(c_id).unwrap_or("");
        let Some(index) = ids.iter().position(|x| x == id) else {
            if strict {
                return Err(InputError(format!(
                    "{}:{line}: {key} \"{id}\" is not in the run's scenario.resolved.toml",
                    path.display()
                ))
                .into());
            }
            continue;
        };
        let units: f64 = rec.get(c_units).and_then(|s| s.parse().ok()).ok_or_else(|| bad("units_shipped"))?;
        let revenue: f64 = rec.get(c_rev).and_then(|s| s.parse().ok()).ok_or_else(|| bad("revenue_usd"))?;
        let flows = into.entry(rep).or_default();
        let flow = Flow { quarter, index, units, revenue };
        if chips {
            flows.chips.push(flow);
        } else {
            flows.firms.push(flow);
        }
    }
    Ok(())
}

/// `chipmarket compare RUN_DIR [--targets FILE]`
pub fn compare(args: &CompareArgs) -> Result<()> {
    let dir = &args.run_dir;
    let resolved = dir.join("scenario.resolved.toml");
    if !resolved.is_file() {
        return Err(InputError(format!(
            "{}: not a run folder (no scenario.resolved.toml)\n\nhint: give a folder written by `chipmarket run`",
            dir.display()
        ))
        .into());
    }
    let text = load::read_text(&resolved, "scenario")?;
    let scenario = Scenario::from_toml_str(&text).map_err(|e| load::describe(&resolved.display().to_string(), &e))?;
    let cat = Catalogue::of_scenario(&scenario);
    let (targets, name) = targets(args.targets.as_deref())?;
    let scopes = fit::bind(&targets, &cat).map_err(|e| describe(&name, &e))?;
    let mut reps = BTreeMap::new();
    read_flows(&dir.join("firms_quarterly.csv"), "firm", &cat.firms, &mut reps, false, true)?;
    let chips = dir.join("chips_quarterly.csv");
    if chips.is_file() {
        // Generated generations are not in the scenario's catalogue; no target can name them.
        read_flows(&chips, "chip", &cat.chips, &mut reps, true, false)?;
    }
    if reps.is_empty() {
        return Err(InputError(format!("{}: firms_quarterly.csv has no rows", dir.display())).into());
    }
    let reps: Vec<RepFlows> = reps.into_values().collect();
    let fits = fit::evaluate(&targets, &scopes, &cat, &reps);
    let out = dir.join("fit.csv");
    let tmp = dir.join(".fit.csv.tmp");
    std::fs::write(&tmp, fit_csv(&targets, &fits)).with_context(|| format!("failed to write '{}'", tmp.display()))?;
    std::fs::rename(&tmp, &out).with_context(|| format!("failed to write '{}'", out.display()))?;
    out!("{}", table(&targets, &fits))?;
    Ok(())
}
