//! `chipmarket run --replications auto`: replications in batches until the KPIs named in
//! `[scenario.precision]` are precise (the rule is the engine's
//! `chipmarket_engine::analysis::precision`), and `precision.csv`, the half-widths reached.
//!
//! The caller runs each batch (in parallel, streaming its rows into the output files in
//! replication order) and hands back the KPIs; the decision after a batch uses replications
//! 0 .. n - 1 only, whose results depend on the seed alone: the same seed stops at the same
//! count whatever the number of threads.

use std::collections::HashMap;
use std::ops::Range;

use anyhow::Result;

use chipmarket_engine::analysis::precision::{assess, next_batch, KpiPrecision};
use chipmarket_engine::scenario::Precision;
use chipmarket_engine::Scenario;

use crate::error::InputError;
use crate::output::csv::num;
use crate::output::names;

/// `precision.csv`: per KPI, the replications with a value, mean, 95 % half-width reached,
/// target and whether it was met.
pub const FILE: &str = names::PRECISION;

/// The KPIs of one replication, as the engine names them.
pub type Kpis = Vec<(String, Option<f64>)>;

/// The `[scenario.precision]` table `--replications auto` needs.
///
/// # Errors
///
/// An [`InputError`] when the scenario has none.
pub fn table(scenario: &Scenario) -> Result<Precision, InputError> {
    scenario.scenario.precision.clone().ok_or_else(|| {
        InputError::new("--replications auto: the scenario has no [scenario.precision] table").with_hint(
            "add [scenario.precision] with kpis = [...] and relative_half_width or absolute_half_width (docs/analysis.md), or give --replications N",
        )
    })
}

/// Run batches of replications until the KPIs of `p` are precise. `run_batch(range)` runs
/// replications `range` (and writes them) and returns their KPIs in replication order.
/// Returns the number of replications run and where each KPI stands.
///
/// # Errors
///
/// A batch's error, or an [`InputError`] when a named KPI is not one the run has.
pub fn run_until_precise(
    p: &Precision,
    mut run_batch: impl FnMut(Range<u32>) -> Result<Vec<Kpis>>,
) -> Result<(u32, Vec<KpiPrecision>)> {
    let mut values: HashMap<String, Vec<f64>> = p.kpis.iter().map(|k| (k.clone(), Vec::new())).collect();
    let mut done = 0;
    loop {
        let assessed = assess(p, |k| values.get(k).map_or(&[][..], Vec::as_slice));
        let next = next_batch(p, done, &assessed);
        if next == 0 {
            return Ok((done, assessed));
        }
        let batch = run_batch(done..done + next)?;
        if done == 0 {
            if let Some(first) = batch.first() {
                check_names(&p.kpis, first)?;
            }
        }
        for kpis in &batch {
            for (name, value) in kpis {
                if let (Some(v), Some(x)) = (values.get_mut(name), value) {
                    v.push(*x);
                }
            }
        }
        done += next;
    }
}

/// Check the KPIs `p` names before any batch runs: a quarter-long replication 0 without rows
/// gives the KPI columns (they depend on the scenario's firms and funding, not its horizon),
/// so a misspelt KPI is refused in a moment rather than after the first batch.
///
/// # Errors
///
/// An [`InputError`] naming the KPI, or the probe's failure.
pub fn check_kpis_first(scenario: &chipmarket_engine::Scenario, p: &Precision) -> Result<()> {
    let mut probe = scenario.clone();
    probe.scenario.horizon_years = probe.scenario.horizon_years.min(0.25);
    let options = chipmarket_engine::RunOptions { record_rows: false, trace: false };
    let report =
        chipmarket_engine::run(&probe, 0, options).map_err(|e| anyhow::anyhow!("replication 0 failed: {e}"))?;
    check_names(&p.kpis, &report.summary.kpis)?;
    Ok(())
}

/// Every named KPI must be a column of `summary.csv`.
fn check_names(kpis: &[String], first: &Kpis) -> Result<(), InputError> {
    let names: Vec<&str> = first.iter().map(|(k, _)| k.as_str()).collect();
    for (i, kpi) in kpis.iter().enumerate() {
        if !names.contains(&kpi.as_str()) {
            let near = names
                .iter()
                .map(|n| (strsim::jaro_winkler(kpi, n), *n))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or_else(String::new, |(_, n)| format!("did you mean \"{n}\"? "));
            return Err(InputError::new(format!("scenario.precision.kpis.{i}: \"{kpi}\" is not a KPI of summary.csv"))
                .with_hint(format!("{near}the KPIs are: {}", names.join(", "))));
        }
    }
    Ok(())
}

/// `precision.csv` as bytes.
pub fn csv(reached: &[KpiPrecision]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let cell = |x: f64| if x.is_finite() { num(x) } else { String::new() };
    let _ = w.write_record(crate::output::csv::safe(["kpi", "n", "mean", "half_width", "target", "precise"]));
    for k in reached {
        let _ = w.write_record(crate::output::csv::safe([
            k.kpi.clone(),
            k.n.to_string(),
            cell(k.mean),
            cell(k.half_width),
            cell(k.target),
            k.precise.to_string(),
        ]));
    }
    w.into_inner().unwrap_or_default()
}

/// One line per KPI for the terminal.
pub fn describe(reached: &[KpiPrecision]) -> String {
    reached
        .iter()
        .map(|k| {
            format!(
                "  {}: mean {:.6} ± {:.6} (target ± {:.6}, {} replication(s)){}\n",
                k.kpi,
                k.mean,
                k.half_width,
                k.target,
                k.n,
                if k.precise { "" } else { " NOT PRECISE: max_replications reached" }
            )
        })
        .collect()
}
