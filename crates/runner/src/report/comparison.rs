//! Paired comparisons of run folders: `chipmarket diff BASE OTHER...` and the `comparison/`
//! folder of a multi-scenario `chipmarket run`.
//!
//! Runs made with the same seed and replications share their random streams (common random
//! numbers: replication r of every scenario draws the same numbers for the same processes), so
//! the difference `other - base` is taken replication by replication and its statistics are
//! those of the paired differences. Under common random numbers the paired band is far
//! narrower than the difference of two independent fans; runs whose seeds, replications or
//! quarters differ are refused (exit code 2), since pairing them would mean nothing.
//!
//! Files: `diff_quarterly.csv`, `diff_yearly.csv` (every variable of the summaries, market,
//! each firm both runs have and the domestic total), `diff_kpis.csv` (every `summary.csv` KPI
//! both runs have), charts `charts/compare_*.svg` and `charts/diff_<scenario>_*.svg`,
//! `report.html` and `comparison.toml` (what was compared). Memory: the per-replication
//! values of two runs at a time (quarters x variables x replications), the same order as the
//! summaries of one run; the quarterly files are read streaming.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::batch::stats::{stats, Stats};
use crate::error::InputError;
use crate::output::columns::{self, diff as D, firms as F, market as M};
use crate::output::csv::{csv_line, opt};
use crate::output::names;
use crate::report::html::{esc, head, kpi_value, pct, provenance_html};
use crate::report::summaries::{self, RunSummary, Variable};
use crate::report::table::{number, Table};
use crate::report::{charts, run_meta, Provenance, RunMeta};

/// The firm cell of market variables in the diff files.
pub const MARKET: &str = "market";

/// One run folder, read for pairing.
pub struct Side {
    /// The folder.
    pub dir: PathBuf,
    /// What its `scenario.resolved.toml` says.
    pub meta: RunMeta,
    /// Its summaries, with every replication's values.
    pub summary: RunSummary,
    /// `summary.csv`: KPI names and, per KPI, the value of each replication.
    pub kpis: Vec<(String, Vec<Option<f64>>)>,
}

/// Read a run folder for pairing.
pub fn read_side(dir: &Path) -> Result<Side> {
    if !dir.join(names::SCENARIO_RESOLVED).is_file() {
        return Err(InputError::new(format!(
            "'{}' is not the folder of a `chipmarket run` (no scenario.resolved.toml)",
            dir.display()
        ))
        .with_hint("give the output folders of runs, e.g. outputs/baseline outputs/licensed-exports")
        .into());
    }
    let meta = run_meta(dir)?;
    let summary = summaries::run_values(dir, &meta.domestic)?;
    summary.require_reported()?;
    let kpis = read_kpis(dir)?;
    Ok(Side { dir: dir.to_path_buf(), meta, summary, kpis })
}

/// `summary.csv`: each KPI column with its value per replication (in file order).
fn read_kpis(dir: &Path) -> Result<Vec<(String, Vec<Option<f64>>)>> {
    let mut t = Table::open(dir, names::SUMMARY)?;
    let first = columns::summary::KEYS.len();
    let mut out: Vec<(String, Vec<Option<f64>>)> =
        t.header.iter().skip(first).map(|k| (k.clone(), Vec::new())).collect();
    let mut record = csv::StringRecord::new();
    while t.next(&mut record)? {
        for (i, (_, values)) in out.iter_mut().enumerate() {
            values.push(number(&t, &record, first + i)?);
        }
    }
    Ok(out)
}

/// Refuse to pair `other` with `base` unless seeds, replications and quarters agree.
pub fn check_pairable(base: &Side, other: &Side) -> Result<()> {
    let refuse = |what: &str, a: &str, b: &str| -> Result<()> {
        Err(InputError::new(format!(
            "cannot pair '{}' with '{}': their {what} differ ('{}': {a}, '{}': {b})",
            other.dir.display(),
            base.dir.display(),
            base.dir.display(),
            other.dir.display()
        ))
        .with_hint(
            "paired differences need the same random streams: rerun both with the same --seed and \
             --replications (a multi-scenario `chipmarket run A.toml B.toml` does)",
        )
        .into())
    };
    if base.meta.seed != other.meta.seed {
        return refuse("seeds", &base.meta.seed, &other.meta.seed);
    }
    if base.meta.replications != other.meta.replications || base.summary.replications != other.summary.replications {
        return refuse("replications", &base.summary.replications.to_string(), &other.summary.replications.to_string());
    }
    if base.summary.quarters != other.summary.quarters {
        let span = |s: &RunSummary| {
            format!(
                "{}..{}",
                s.quarters.first().map_or("", String::as_str),
                s.quarters.last().map_or("", String::as_str)
            )
        };
        return refuse("quarters", &span(&base.summary), &span(&other.summary));
    }
    Ok(())
}

/// Statistics of a paired difference over the replications where both runs have a value.
#[derive(Debug, Clone)]
pub struct Paired {
    /// Mean of the base over those replications.
    pub base_mean: Option<f64>,
    /// Mean of the other run over them.
    pub other_mean: Option<f64>,
    /// Statistics of `other - base`.
    pub diff: Stats,
}

/// The paired statistics of `other - base` (replication by replication).
pub fn paired(base: &[Option<f64>], other: &[Option<f64>]) -> Paired {
    let pairs: Vec<(f64, f64)> = base.iter().zip(other).filter_map(|(b, o)| Some(((*b)?, (*o)?))).collect();
    let n = pairs.len() as f64;
    let mean = |f: fn(&(f64, f64)) -> f64| (!pairs.is_empty()).then(|| pairs.iter().map(f).sum::<f64>() / n);
    let mut d: Vec<f64> = pairs.iter().map(|(b, o)| o - b).collect();
    Paired { base_mean: mean(|p| p.0), other_mean: mean(|p| p.1), diff: stats(&mut d) }
}

/// One row of `diff_quarterly.csv` or `diff_yearly.csv`.
struct Row {
    variable: String,
    firm: String,
    period: String,
    p: Paired,
}

/// The variables both runs have: (firm cell, base variable, other variable).
fn common<'a>(base: &'a RunSummary, other: &'a RunSummary) -> Vec<(&'a str, &'a Variable, &'a Variable)> {
    let mut out = Vec::new();
    for b in &base.market {
        if let Some(o) = other.market_var(&b.name) {
            out.push((MARKET, b, o));
        }
    }
    for (firm, vars) in &base.firms {
        for b in vars {
            if let Some(o) = other.firm_var(firm, &b.name) {
                out.push((firm.as_str(), b, o));
            }
        }
    }
    out
}

fn values(v: &Variable, yearly: bool) -> &[Vec<Option<f64>>] {
    v.values.as_ref().map_or(&[], |x| if yearly { &x.yearly } else { &x.quarterly })
}

/// The paired statistics of every common variable, by quarter or by year.
fn rows(base: &Side, other: &Side, yearly: bool) -> Vec<Row> {
    let mut out = Vec::new();
    let periods: Vec<String> = if yearly {
        base.summary.years.iter().map(ToString::to_string).collect()
    } else {
        base.summary.quarters.clone()
    };
    for (pi, period) in periods.iter().enumerate() {
        for (firm, b, o) in common(&base.summary, &other.summary) {
            let (bv, ov) = (values(b, yearly), values(o, yearly));
            let (Some(bv), Some(ov)) = (bv.get(pi), ov.get(pi)) else { continue };
            out.push(Row {
                variable: b.name.clone(),
                firm: firm.to_string(),
                period: period.clone(),
                p: paired(bv, ov),
            });
        }
    }
    out
}

fn stat_cells(p: &Paired) -> Vec<String> {
    let d = &p.diff;
    vec![
        d.n.to_string(),
        opt(p.base_mean),
        opt(p.other_mean),
        opt(d.mean),
        opt(d.sd),
        opt(d.p05),
        opt(d.p50),
        opt(d.p95),
    ]
}

fn diff_rows(out: &mut Vec<u8>, other: &str, rows: &[Row]) {
    for r in rows {
        let mut cells = vec![other.to_string(), r.variable.clone(), r.firm.clone(), r.period.clone()];
        cells.extend(stat_cells(&r.p));
        out.extend(csv_line(&cells));
    }
}

/// The KPIs both runs have, paired.
fn kpi_rows(base: &Side, other: &Side) -> Vec<(String, Paired)> {
    base.kpis
        .iter()
        .filter_map(|(k, bv)| {
            let (_, ov) = other.kpis.iter().find(|(ok, _)| ok == k)?;
            Some((k.clone(), paired(bv, ov)))
        })
        .collect()
}

/// `comparison.toml`: what was compared (the manifest gives its hash).
fn comparison_toml(base: &Side, others: &[Compared]) -> String {
    let mut o = String::from("# chipmarket comparison: paired differences other - base, replication by replication\n");
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let _ = writeln!(o, "base = {}", q(&base.meta.name));
    let _ = writeln!(o, "base_dir = {}", q(&base.dir.to_string_lossy()));
    let names: Vec<String> = others.iter().map(|s| q(&s.side.meta.name)).collect();
    let dirs: Vec<String> = others.iter().map(|s| q(&s.side.dir.to_string_lossy())).collect();
    let _ = writeln!(o, "others = [{}]", names.join(", "));
    let _ = writeln!(o, "other_dirs = [{}]", dirs.join(", "));
    let seed = base.meta.seed.parse::<u64>().map_or_else(|_| q(&base.meta.seed), |n| n.to_string());
    let _ = writeln!(o, "seed = {seed}");
    let _ = writeln!(o, "replications = {}", base.summary.replications);
    o
}

/// What the report keeps of one compared run once its paired rows are written: the run
/// without its per-replication values, its yearly market rows, KPI rows and charts.
pub struct Compared {
    /// The run (its [`Variable::values`] and KPI values dropped).
    pub side: Side,
    yearly_market: Vec<Row>,
    kpis: Vec<(String, Paired)>,
    charts: Vec<(String, String)>,
}

/// The comparison's files, built one compared run at a time (the base's per-replication values
/// and one other run's are held at once).
pub struct Builder {
    base: Side,
    quarterly: Vec<u8>,
    yearly: Vec<u8>,
    kpis: Vec<u8>,
    others: Vec<Compared>,
}

impl Builder {
    /// Start from the base run.
    pub fn new(base: Side) -> Builder {
        Builder {
            base,
            quarterly: csv_line(&D::HEADER),
            yearly: csv_line(&D::HEADER),
            kpis: csv_line(&D::KPI_HEADER),
            others: Vec::new(),
        }
    }

    /// Pair `other` with the base (refused unless seeds, replications and quarters agree) and
    /// add its rows.
    pub fn add(&mut self, mut other: Side) -> Result<()> {
        check_pairable(&self.base, &other)?;
        let name = other.meta.name.clone();
        diff_rows(&mut self.quarterly, &name, &rows(&self.base, &other, false));
        let yearly = rows(&self.base, &other, true);
        diff_rows(&mut self.yearly, &name, &yearly);
        let kpis = kpi_rows(&self.base, &other);
        for (k, p) in &kpis {
            let mut cells = vec![name.clone(), k.clone()];
            cells.extend(stat_cells(p));
            self.kpis.extend(csv_line(&cells));
        }
        let charts = difference_charts(&self.base, &other);
        let yearly_market = yearly
            .into_iter()
            .filter(|r| r.firm == MARKET && COMPARED.iter().any(|(v, _, _)| *v == r.variable))
            .collect();
        other.summary.drop_values();
        other.kpis.clear();
        self.others.push(Compared { side: other, yearly_market, kpis, charts });
        Ok(())
    }

    /// The scenarios compared (base first), the replications and the seed.
    pub fn describe(&self) -> (Vec<String>, usize, String) {
        let names = std::iter::once(&self.base).chain(self.others.iter().map(|o| &o.side)).map(|s| s.meta.name.clone());
        (names.collect(), self.base.summary.replications, self.base.meta.seed.clone())
    }

    /// Every file (name relative to the comparison folder, bytes).
    pub fn finish(self, provenance: &Provenance) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![
            (names::DIFF_QUARTERLY.to_string(), self.quarterly),
            (names::DIFF_YEARLY.to_string(), self.yearly),
            (names::DIFF_KPIS.to_string(), self.kpis),
        ];
        let side_by_side = side_by_side_chart(&self.base, &self.others);
        let mut chart_list = vec![side_by_side];
        for o in &self.others {
            chart_list.extend(o.charts.iter().cloned());
        }
        for (name, svg) in &chart_list {
            files.push((format!("{}/{name}", names::CHARTS), svg.clone().into_bytes()));
        }
        files.push((names::REPORT.to_string(), report(&self.base, &self.others, &chart_list, provenance).into_bytes()));
        files.push((names::COMPARISON_TOML.to_string(), comparison_toml(&self.base, &self.others).into_bytes()));
        files
    }
}

/// The quantities compared in the fans and the side-by-side tables: (variable, label, is a share).
const COMPARED: [(&str, &str, bool); 3] = [
    (M::DOMESTIC_COMPUTE_SHARE, "domestic share of compute delivered", true),
    (M::PERF_GAP_FRONTIER, "performance gap to the frontier (TPP ratio)", false),
    (M::PERF_GAP_SELLABLE, "performance gap to the best sellable US chip (TPP ratio)", false),
];

/// A file-name part of a scenario name.
fn file_part(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

fn side_by_side_chart(base: &Side, others: &[Compared]) -> (String, String) {
    let all: Vec<&Side> = std::iter::once(base).chain(others.iter().map(|o| &o.side)).collect();
    let series: Vec<(String, Vec<Option<f64>>)> = all
        .iter()
        .map(|s| {
            let v = s.summary.market_var(M::DOMESTIC_COMPUTE_SHARE);
            (s.meta.name.clone(), v.map_or_else(Vec::new, |v| v.quarterly.iter().map(|st| st.mean).collect()))
        })
        .collect();
    (
        "compare_domestic_share.svg".to_string(),
        charts::lines_by_quarter(
            "Domestic vendors' share of AI compute delivered, by scenario",
            &format!(
                "mean over {} replication(s) of each quarter's share; every scenario with seed {}",
                base.summary.replications, base.meta.seed
            ),
            &base.summary.quarters,
            &series,
            true,
        ),
    )
}

fn difference_charts(base: &Side, o: &Side) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let quarters = &base.summary.quarters;
    for (var, label, share) in COMPARED {
        let (Some(b), Some(ov)) = (base.summary.market_var(var), o.summary.market_var(var)) else { continue };
        let (bq, oq) = (values(b, false), values(ov, false));
        let fan: Vec<Paired> =
            (0..quarters.len().min(bq.len()).min(oq.len())).map(|qi| paired(&bq[qi], &oq[qi])).collect();
        let unpaired: Vec<Option<(f64, f64)>> = fan
            .iter()
            .zip(b.quarterly.iter().zip(&ov.quarterly))
            .map(|(p, (sb, so))| {
                let m = p.diff.mean?;
                let half = 1.645 * (sb.sd?.powi(2) + so.sd?.powi(2)).sqrt();
                Some((m - half, m + half))
            })
            .collect();
        let name = format!("diff_{}_{}.svg", file_part(&o.meta.name), var);
        out.push((
            name,
            charts::difference_fan(
                &format!("{} minus {}: {label}", o.meta.name, base.meta.name),
                &format!(
                    "paired by replication: median and 5-95 % band over {} replication(s); dashed: the 90 % band of \
                     independent runs (normal approximation)",
                    base.summary.replications
                ),
                quarters,
                &fan.iter().map(|p| (p.diff.p05, p.diff.p50, p.diff.p95)).collect::<Vec<_>>(),
                &unpaired,
                share,
            ),
        ));
    }
    out
}

fn fmt_value(x: Option<f64>, share: bool) -> String {
    match x {
        None => "–".to_string(),
        Some(x) if share => pct(Some(x)),
        Some(x) => format!("{x:.2}"),
    }
}

fn fmt_diff(x: Option<f64>, share: bool) -> String {
    match x {
        None => "–".to_string(),
        Some(x) if share => format!("{:+.1} pp", x * 100.0),
        Some(x) => format!("{x:+.2}"),
    }
}

fn report(base: &Side, others: &[Compared], chart_list: &[(String, String)], provenance: &Provenance) -> String {
    let names: Vec<&str> = others.iter().map(|o| o.side.meta.name.as_str()).collect();
    let mut o = head(&format!("chipmarket comparison: {} against {}", names.join(", "), base.meta.name));
    let _ = writeln!(o, "<h1>{} against {}</h1>", esc(&names.join(", ")), esc(&base.meta.name));
    let _ = writeln!(
        o,
        "<p class=sub>Paired comparison: every scenario ran with seed {} and {} replication(s), so replication r of each \
         draws the same random numbers; differences are taken replication by replication (other minus base).</p>",
        esc(&base.meta.seed),
        base.summary.replications
    );
    let _ = writeln!(o, "<table class=meta><tr><th>role</th><th>scenario</th><th>description</th><th>folder</th></tr>");
    for (role, s) in std::iter::once(("base", base)).chain(others.iter().map(|s| ("compared", &s.side))) {
        let _ = writeln!(
            o,
            "<tr><td>{role}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&s.meta.name),
            esc(&s.meta.description),
            esc(&s.dir.to_string_lossy())
        );
    }
    let _ = writeln!(o, "</table>");
    provenance_html(&mut o, Some(provenance), &base.meta.seed, base.summary.replications);

    // Side by side.
    let all: Vec<&Side> = std::iter::once(base).chain(others.iter().map(|o| &o.side)).collect();
    let _ = writeln!(o, "<h2>Shares and gaps side by side</h2>");
    let _ = writeln!(
        o,
        "<p class=note>Mean over replications of the yearly value (shares of the year's compute delivered; gaps at \
         the year's last quarter).</p>"
    );
    // One table per quantity (years by scenario), so none is wider than the page; side by
    // side where the page has room.
    let _ = writeln!(o, "<div class=row>");
    for (var, label, share) in COMPARED {
        let _ = write!(o, "<div><h3>{}</h3>\n<table><tr><th>year</th>", esc(short_label(label)));
        for s in &all {
            let _ = write!(o, "<th>{}</th>", esc(&s.meta.name));
        }
        let _ = writeln!(o, "</tr>");
        for (yi, y) in base.summary.years.iter().enumerate() {
            let _ = write!(o, "<tr><td>{y}</td>");
            for s in &all {
                let v = s.summary.market_var(var).and_then(|v| v.yearly.get(yi)).and_then(|st| st.mean);
                let _ = write!(o, "<td>{}</td>", fmt_value(v, share));
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</table></div>");
    }
    let _ = writeln!(o, "</div>");
    // Vendor shares: one table per scenario (years by vendor, as in each run's report).
    let firms: Vec<(String, String)> = base.meta.firms.clone();
    let _ = writeln!(
        o,
        "<h3>Vendor compute shares</h3>\n<p class=note>Mean over replications of the yearly value: each vendor's \
         share of the year's compute delivered, one table per scenario.</p>"
    );
    for s in &all {
        let _ = write!(o, "<table><tr><th>{}</th>", esc(&s.meta.name));
        for (_, display) in &firms {
            let _ = write!(o, "<th>{}</th>", esc(display));
        }
        let _ = writeln!(o, "</tr>");
        for (yi, y) in base.summary.years.iter().enumerate() {
            let _ = write!(o, "<tr><td>{y}</td>");
            for (id, _) in &firms {
                let v = s.summary.firm_var(id, F::COMPUTE_SHARE).and_then(|v| v.yearly.get(yi)).and_then(|st| st.mean);
                let _ = write!(o, "<td>{}</td>", pct(v));
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</table>");
    }
    if let Some((name, svg)) = chart_list.iter().find(|(n, _)| n.starts_with("compare_")) {
        let _ = writeln!(o, "<figure id=\"{}\">{}</figure>", esc(name), crate::report::html::inline_svg(svg));
    }

    // Differences.
    for c in others {
        let (other, rows) = (&c.side, &c.yearly_market);
        let _ = writeln!(o, "<h2>{} minus {}</h2>", esc(&other.meta.name), esc(&base.meta.name));
        let _ = writeln!(
            o,
            "<p class=note>Paired difference of the yearly value, replication by replication: mean, with the 5–95 % \
             range of the paired differences in brackets.</p>"
        );
        let _ = write!(o, "<table><tr><th>year</th>");
        for (_, label, _) in COMPARED {
            let _ = write!(o, "<th>{}</th>", esc(short_label(label)));
        }
        let _ = writeln!(o, "</tr>");
        for y in &base.summary.years {
            let _ = write!(o, "<tr><td>{y}</td>");
            for (var, _, share) in COMPARED {
                let r = rows.iter().find(|r| r.variable == var && r.firm == MARKET && r.period == y.to_string());
                let cell = r.map_or_else(
                    || "–".to_string(),
                    |r| {
                        format!(
                            "{} <span class=note>[{} to {}]</span>",
                            fmt_diff(r.p.diff.mean, share),
                            fmt_diff(r.p.diff.p05, share),
                            fmt_diff(r.p.diff.p95, share)
                        )
                    },
                );
                let _ = write!(o, "<td>{cell}</td>");
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</table>");
        let prefix = format!("diff_{}_", file_part(&other.meta.name));
        for (name, svg) in chart_list.iter().filter(|(n, _)| n.starts_with(&prefix)) {
            let _ = writeln!(o, "<figure id=\"{}\">{}</figure>", esc(name), crate::report::html::inline_svg(svg));
        }
        {
            let kr = &c.kpis;
            let _ = writeln!(
                o,
                "<h3>KPIs: {} minus {}</h3>\n<p class=note>Every KPI of <code>summary.csv</code> both runs have: the \
                 mean over replications in each run, and the paired difference (mean, 5–95 % range).</p>",
                esc(&other.meta.name),
                esc(&base.meta.name)
            );
            let _ = writeln!(
                o,
                "<table><tr><th>KPI</th><th>{}</th><th>{}</th><th>difference</th><th>5–95 % of differences</th><th>n</th></tr>",
                esc(&base.meta.name),
                esc(&other.meta.name)
            );
            for (k, p) in kr {
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} to {}</td><td>{}</td></tr>",
                    esc(k),
                    kpi_value(k, p.base_mean, false),
                    kpi_value(k, p.other_mean, false),
                    kpi_value(k, p.diff.mean, true),
                    kpi_value(k, p.diff.p05, true),
                    kpi_value(k, p.diff.p95, true),
                    p.diff.n
                );
            }
            let _ = writeln!(o, "</table>");
        }
    }
    let _ = writeln!(
        o,
        "<h2>Files</h2>\n<p class=note>The differences in full are in diff_quarterly.csv, diff_yearly.csv and \
         diff_kpis.csv; each run's own report is in its folder. Every column is described in the project's \
         <code>docs/outputs.md</code>.</p>\n</body>\n</html>"
    );
    o
}

fn short_label(label: &str) -> &str {
    match label.find(" (") {
        Some(i) => &label[..i],
        None => label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_statistics_use_the_replications_both_runs_have() {
        let base = [Some(1.0), Some(2.0), None, Some(4.0)];
        let other = [Some(1.5), None, Some(9.0), Some(5.0)];
        let p = paired(&base, &other);
        assert_eq!(p.diff.n, 2);
        assert_eq!(p.base_mean, Some(2.5));
        assert_eq!(p.other_mean, Some(3.25));
        assert_eq!(p.diff.mean, Some(0.75));
        assert_eq!((p.diff.p05, p.diff.p95), (Some(0.525), Some(0.975)));
    }
}
