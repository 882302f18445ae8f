//! `chipmarket compare RUN_DIR [--targets FILE]`: score a finished run against observed
//! outcomes (default: the project's `data/observed_2022_2024.csv`, embedded in the binary).
//!
//! Reads the run's `scenario.resolved.toml` (firm and chip ids, origins), `firms_quarterly.csv`
//! and `chips_quarterly.csv`, evaluates every target per replication with the engine's `fit`
//! module, writes `RUN_DIR/fit.csv` and prints the table and `N/M inside`. Definitions:
//! `docs/calibration.md`.

use crate::console::out;
use crate::output::names;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use chipmarket_engine::fit::{self, Flow, Observer, RepFlows, ScenarioIds};
use chipmarket_engine::Scenario;

use crate::cli::CompareArgs;
use crate::error::InputError;
use crate::load;
use crate::output::atomic;
use crate::targets::{describe, fit_csv, table, targets};

/// Read one quarterly CSV of a run into flows per replication.
fn read_flows(
    path: &Path,
    key: &str,
    ids: &[String],
    into: &mut BTreeMap<u32, RepFlows>,
    chips: bool,
    strict: bool,
) -> Result<()> {
    let mut rdr = csv::Reader::from_reader(std::io::BufReader::new(load::open_regular(path)?));
    let headers = rdr.headers().with_context(|| format!("'{}': no header line", path.display()))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            InputError::new(format!("{}: no `{name}` column; is it a chipmarket run folder?", path.display()))
        })
    };
    let (c_rep, c_q, c_id, c_units, c_rev) =
        (col("replication")?, col("quarter")?, col(key)?, col("units_shipped")?, col("revenue_usd")?);
    // Write-offs are firm rows only.
    let c_off = if chips { None } else { Some(col("inventory_writeoff_usd")?) };
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("'{}': bad record", path.display()))?;
        let line = i + 2;
        let bad = |what: &str| InputError::new(format!("{}:{line}: bad {what}", path.display()));
        let rep: u32 = rec.get(c_rep).and_then(|s| s.parse().ok()).ok_or_else(|| bad("replication"))?;
        let quarter = rec.get(c_q).and_then(fit::parse_quarter).ok_or_else(|| bad("quarter"))?;
        let id = rec.get(c_id).unwrap_or("");
        let Some(index) = ids.iter().position(|x| x == id) else {
            if strict {
                return Err(InputError::new(format!(
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
        let writeoff: f64 = match c_off {
            Some(c) => rec.get(c).and_then(|s| s.parse().ok()).ok_or_else(|| bad("inventory_writeoff_usd"))?,
            None => 0.0,
        };
        let flow = Flow { quarter, index, units, revenue, writeoff };
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
    let resolved = dir.join(names::SCENARIO_RESOLVED);
    if !resolved.is_file() {
        return Err(InputError::new(format!("{}: not a run folder (no scenario.resolved.toml)", dir.display()))
            .with_hint("give a folder written by `chipmarket run`")
            .into());
    }
    let text = load::read_text(&resolved, "scenario")?;
    let scenario = Scenario::from_toml_str(&text).map_err(|e| load::describe(&resolved.display().to_string(), &e))?;
    let cat = ScenarioIds::of_scenario(&scenario);
    let (targets, name) = targets(args.targets.as_deref())?;
    let scopes = fit::bind(&targets, &cat).map_err(|e| describe(&name, &e))?;
    let mut reps = BTreeMap::new();
    read_flows(&dir.join(names::FIRMS_QUARTERLY), "firm", &cat.firms, &mut reps, false, true)?;
    let chips = dir.join(names::CHIPS_QUARTERLY);
    if chips.is_file() {
        // Generated generations are not in the scenario's catalogue; no target can name them.
        read_flows(&chips, "chip", &cat.chips, &mut reps, true, false)?;
    }
    if reps.is_empty() {
        return Err(InputError::new(format!("{}: firms_quarterly.csv has no rows", dir.display())).into());
    }
    let reps: Vec<RepFlows> = reps.into_values().collect();
    let obs = Observer::of_scenario(&scenario, &cat);
    let fits = fit::evaluate(&targets, &scopes, &cat, &obs, &reps);
    let claim = crate::report::adopt(dir, crate::report::Kind::Run, &[names::FIT])?;
    let stage = claim.stage()?;
    let result = atomic::write(&stage.join(names::FIT), &fit_csv(&targets, &fits))
        .and_then(|()| claim.update(&stage, |_| false));
    let _ = std::fs::remove_dir_all(&stage);
    result?;
    out!("{}", table(&targets, &fits))?;
    Ok(())
}
