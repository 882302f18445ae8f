//! `chipmarket run --replications auto`: replications in batches until the KPIs named in
//! `[scenario.precision]` are precise (the rule is the engine's
//! `chipmarket_engine::analysis::precision`), and `precision.csv`, the half-widths reached.
//!
//! Each batch runs in parallel, but the decision after it uses replications 0 .. n - 1 only,
//! whose results depend on the seed alone: the same seed stops at the same count whatever the
//! number of threads.

use std::collections::HashMap;

use anyhow::Result;
use rayon::prelude::*;

use chipmarket_engine::analysis::precision::{assess, next_batch, KpiPrecision};
use chipmarket_engine::{run as run_engine, RunOptions, RunReport, Scenario};

use crate::load::InputError;
use crate::output::csv::num;
use crate::progress;

/// `precision.csv`: per KPI, the replications with a value, mean, 95 % half-width reached,
/// target and whether it was met.
pub const FILE: &str = "precision.csv";

/// Run batches of replications of `scenario` until precise; returns the scenario with
/// `replications` set to the count run (so its resolved file reruns the same), the reports,
/// and where each KPI stands.
pub fn run_until_precise(
    mut scenario: Scenario,
    options: RunOptions,
    quiet: bool,
) -> Result<(Scenario, Vec<RunReport>, Option<Vec<KpiPrecision>>)> {
    let Some(p) = scenario.scenario.precision.clone() else {
        return Err(InputError(
            "--replications auto: the scenario has no [scenario.precision] table\n\nhint: add [scenario.precision] with kpis = [...] and relative_half_width or absolute_half_width (docs/analysis.md), or give --replications N".into(),
        )
        .into());
    };
    let bar = progress::bar(u64::from(p.max_replications), "replications", quiet);
    let mut reports: Vec<RunReport> = Vec::new();
    let mut values: HashMap<String, Vec<f64>> = p.kpis.iter().map(|k| (k.clone(), Vec::new())).collect();
    loop {
        let assessed = assess(&p, |k| values.get(k).map_or(&[][..], Vec::as_slice));
        let done = reports.len() as u32;
        let next = next_batch(&p, done, &assessed);
        if next == 0 {
            bar.finish_and_clear();
            scenario.scenario.replications = done;
            return Ok((scenario, reports, Some(assessed)));
        }
        let batch: Result<Vec<RunReport>, _> = (done..done + next)
            .into_par_iter()
            .map(|r| {
                let res = run_engine(&scenario, r, options);
                bar.inc(1);
                res
            })
            .collect();
        let batch = batch?;
        if done == 0 {
            check_names(&p.kpis, &batch[0])?;
        }
        for report in &batch {
            for (name, value) in &report.summary.kpis {
                if let (Some(v), Some(x)) = (values.get_mut(name), value) {
                    v.push(*x);
                }
            }
        }
        reports.extend(batch);
    }
}

/// Every named KPI must be a column of `summary.csv`.
fn check_names(kpis: &[String], report: &RunReport) -> Result<(), InputError> {
    let names: Vec<&str> = report.summary.kpis.iter().map(|(k, _)| k.as_str()).collect();
    for (i, kpi) in kpis.iter().enumerate() {
        if !names.contains(&kpi.as_str()) {
            let near = names
                .iter()
                .map(|n| (strsim::jaro_winkler(kpi, n), *n))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or_else(String::new, |(_, n)| format!("did you mean \"{n}\"? "));
            return Err(InputError(format!(
                "scenario.precision.kpis.{i}: \"{kpi}\" is not a KPI of summary.csv\n\nhint: {near}the KPIs are: {}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// `precision.csv` as bytes.
pub fn csv(reached: &[KpiPrecision]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let cell = |x: f64| if x.is_finite() { num(x) } else { String::new() };
    let _ = w.write_record(["kpi", "n", "mean", "half_width", "target", "precise"]);
    for k in reached {
        let _ = w.write_record([
            k.kpi.clone(),
            k.n.to_string(),
            cell(k.mean),
            cell(k.half_width),
            cell(k.target),
            k.precise.to_string(),
        ]);
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
