//! `chipmarket params [SCENARIO]`: every sweepable path with its current value.

use std::io::Write;

use anyhow::Result;

use chipmarket_engine::scenario::list_params;

use crate::cli::ScenarioArg;
use crate::load;

/// Print `PATH = VALUE`, one per line, in the order of the resolved scenario.
pub fn params(args: &ScenarioArg) -> Result<()> {
    let (scenario, _) = load::scenario(args.scenario.as_deref(), &[])?;
    let mut out = std::io::stdout().lock();
    for (path, value) in list_params(&scenario.to_toml_value()) {
        writeln!(out, "{path} = {value}")?;
    }
    Ok(())
}
