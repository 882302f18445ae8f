//! Targets files (observed outcomes with bands, `docs/calibration.md`) and the fit tables made
//! from them: what `compare` and `calibrate` share. The project's own targets
//! (`data/observed_2022_2024.csv`) are embedded, so both work from any folder.

use std::fmt::Write as _;
use std::path::Path;

use chipmarket_engine::fit::{self, Target, TargetFit};

use crate::error::InputError;
use crate::load;
use crate::output::csv::num;

/// The project's observed outcomes, embedded so `compare` and `calibrate` work from any folder.
pub const OBSERVED: &str = include_str!("../../../data/observed_2022_2024.csv");

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
    InputError::targets(name, err)
}

/// The header of `fit.csv`.
pub const FIT_HEADER: [&str; 13] = [
    "id",
    "period",
    "metric",
    "firm",
    "observed",
    "low",
    "high",
    "sim_mean",
    "sim_p05",
    "sim_p95",
    "inside",
    "observation",
    "bound",
];

/// `fit.csv` as bytes.
pub fn fit_csv(targets: &[Target], fits: &[TargetFit]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let _ = w.write_record(crate::output::csv::safe(FIT_HEADER));
    for (t, f) in targets.iter().zip(fits) {
        let _ = w.write_record(crate::output::csv::safe([
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
            t.kind.map_or("", fit::Kind::as_str).to_string(),
            t.bound().as_str().to_string(),
        ]));
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
