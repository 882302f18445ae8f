//! `chipmarket validate FILE...`: check each file and report every one that fails.

use anyhow::Result;

use crate::cli::ValidateArgs;
use crate::console::{errln, outln};
use crate::error::InputError;
use crate::load;

/// Validate every file; exit code 2 if any is invalid.
pub fn validate(args: &ValidateArgs) -> Result<()> {
    let mut failed = Vec::new();
    for path in &args.files {
        let checked = if is_calibration_file(path) {
            load::calibration::check(path)
                .map(|(free, targets)| format!(" (calibration: {free} free parameter(s), {targets} target(s))"))
        } else if is_sweep_file(path) {
            load::sweep::load(path).map(|l| {
                format!(" (sweep: {} point(s) x {} replication(s))", l.sweep.points.len(), l.sweep.replications())
            })
        } else {
            load::scenario(Some(path), &[]).map(|_| String::new())
        };
        match checked {
            Ok(what) => outln!("ok: {}{what}", path.display())?,
            Err(err) => {
                errln!("error: {err}");
                failed.push(path.display().to_string());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(InputError::new(format!("{} of {} file(s) invalid: {}", failed.len(), args.files.len(), failed.join(", ")))
            .into())
    }
}

/// The top-level keys of a file, if it parses as TOML.
fn top_keys(path: &std::path::Path) -> Option<toml::Table> {
    load::read_text(path, "file").ok().and_then(|text| text.parse::<toml::Table>().ok())
}

/// A calibration file has a `base` and `[[free]]` parameters (or a `budget`).
fn is_calibration_file(path: &std::path::Path) -> bool {
    top_keys(path).is_some_and(|t| t.contains_key("base") && (t.contains_key("free") || t.contains_key("budget")))
}

/// A sweep file has a top-level `base` key; anything else is read as a scenario.
fn is_sweep_file(path: &std::path::Path) -> bool {
    top_keys(path).is_some_and(|table| table.contains_key("base"))
}
