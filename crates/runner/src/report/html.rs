//! `report.html`: one self-contained page per run or sweep. Charts are inline SVG, the style
//! sheet is inline, and there are no scripts, fonts or images to fetch, so it opens the same
//! with no network (a sweep's charts beyond `report::INLINE_BYTES` are links to their files in
//! `charts/`, so the page stays bounded). Figures in its tables are rounded for reading; the CSV files next to it
//! hold them in full.

use std::fmt::Write as _;

use crate::batch::stats::Stats;
use crate::output::columns::{firms as F, market as M};
use crate::report::points::{Survey, TABLE_ROWS};
use crate::report::sensitivity::{Method as SensMethod, Sensitivity};
use crate::report::summaries::{RunSummary, DOMESTIC};
use crate::report::{RunMeta, SweepMeta};

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1040px;color:#222;line-height:1.4}\
h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #ccc;padding-bottom:4px}\
.sub{color:#555;margin-top:0}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px;display:block;overflow-x:auto;max-width:100%}\
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}th{background:#f3f3f3}\
td:first-child,th:first-child{text-align:left}.meta td,.meta th{text-align:left;white-space:normal}\
figure{margin:16px 0}svg{max-width:100%;height:auto;border:1px solid #eee}\
.note{color:#555;font-size:13px}code{background:#f3f3f3;padding:0 3px}";

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG document as an inline element (without any XML declaration).
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    )
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{:.1}%", x * 100.0))
}

fn scaled(x: Option<f64>, scale: f64, digits: usize) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{:.*}", digits, x * scale))
}

/// `median [p05–p95]` of a share.
fn share_band(st: &Stats) -> String {
    match (st.p50, st.p05, st.p95) {
        (Some(m), Some(a), Some(b)) => {
            format!("{} <span class=note>[{}–{}]</span>", pct(Some(m)), pct(Some(a)), pct(Some(b)))
        }
        _ => "–".to_string(),
    }
}

fn ratio_band(st: &Stats) -> String {
    match (st.p50, st.p05, st.p95) {
        (Some(m), Some(a), Some(b)) => format!("{m:.2} <span class=note>[{a:.2}–{b:.2}]</span>"),
        _ => "–".to_string(),
    }
}

fn charts_html(out: &mut String, charts: &[(String, String)]) {
    for (name, svg) in charts {
        let _ = writeln!(out, "<figure id=\"{}\">{}</figure>", esc(name), inline_svg(svg));
    }
}

/// The report of a run.
pub fn run_report(meta: &RunMeta, s: &RunSummary, charts: &[(String, String)]) -> String {
    let mut o = head(&format!("chipmarket: {}", meta.name));
    let _ = writeln!(o, "<h1>{}</h1>\n<p class=sub>{}</p>", esc(&meta.name), esc(&meta.description));
    let _ = writeln!(o, "<table class=meta>");
    let rows = [
        ("seed", meta.seed.clone()),
        ("replications", s.replications.to_string()),
        (
            "quarters",
            format!(
                "{} to {} ({})",
                s.quarters.first().map_or("", String::as_str),
                s.quarters.last().map_or("", String::as_str),
                s.quarters.len()
            ),
        ),
        ("domestic vendors", meta.domestic.join(", ")),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = writeln!(o, "</table>\n<h2>Regimes</h2>\n<table class=meta><tr><th>from</th><th>regime</th></tr>");
    for (date, regime) in &meta.schedule {
        let _ = writeln!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(date), esc(regime));
    }
    let _ = writeln!(o, "</table>");
    if meta.switching {
        let _ = writeln!(
            o,
            "<p class=note>Regimes also switch at random (<code>[policy.switching]</code>), so each replication has its own \
             sequence; the charts shade the regimes of replication 0.</p>"
        );
    }
    let _ = writeln!(o, "<h2>Charts</h2>");
    charts_html(&mut o, charts);

    let _ = writeln!(
        o,
        "<h2>Market by year</h2>\n<p class=note>Median over replications, with the 5–95 % range in brackets. \
         Flows are yearly sums, gaps are at the year's last quarter, shares are of the year's compute delivered.</p>"
    );
    let _ = writeln!(
        o,
        "<table><tr><th>year</th><th>demand, thousand PFLOPS</th><th>delivered, thousand PFLOPS</th>\
         <th>domestic share</th><th>gap to frontier</th><th>gap to sellable</th><th>export fees, billion USD</th></tr>"
    );
    let get = |name: &str, yi: usize| s.market_var(name).map(|v| v.yearly[yi].clone());
    for (yi, y) in s.years.iter().enumerate() {
        let mean = |name: &str, scale: f64, d: usize| scaled(get(name, yi).and_then(|st| st.mean), scale, d);
        let band = |name: &str, f: fn(&Stats) -> String| get(name, yi).map_or_else(|| "–".to_string(), |st| f(&st));
        let _ = writeln!(
            o,
            "<tr><td>{y}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            mean(M::DEMAND_PFLOPS, 1e-3, 1),
            mean(M::DELIVERED_PFLOPS, 1e-3, 1),
            band(M::DOMESTIC_COMPUTE_SHARE, share_band),
            band(M::PERF_GAP_FRONTIER, ratio_band),
            band(M::PERF_GAP_SELLABLE, ratio_band),
            mean(M::EXPORT_FEES_USD, 1e-9, 2),
        );
    }
    let _ = writeln!(o, "</table>");

    let firms: Vec<&str> = s.firms.iter().map(|(f, _)| f.as_str()).collect();
    let header = |o: &mut String| {
        let _ = write!(o, "<table><tr><th>year</th>");
        for f in &firms {
            let _ = write!(o, "<th>{}</th>", esc(if *f == DOMESTIC { "domestic total" } else { f }));
        }
        let _ = writeln!(o, "</tr>");
    };
    let _ = writeln!(o, "<h2>Compute share by vendor and year</h2>\n<p class=note>Mean over replications of each vendor's share of the year's compute delivered.</p>");
    header(&mut o);
    for (yi, y) in s.years.iter().enumerate() {
        let _ = write!(o, "<tr><td>{y}</td>");
        for f in &firms {
            let _ = write!(o, "<td>{}</td>", pct(s.firm_var(f, F::COMPUTE_SHARE).and_then(|v| v.yearly[yi].mean)));
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");
    let _ = writeln!(o, "<h2>Revenue by vendor and year</h2>\n<p class=note>Mean over replications, billion USD, recognised at delivery, before export fees.</p>");
    header(&mut o);
    for (yi, y) in s.years.iter().enumerate() {
        let _ = write!(o, "<tr><td>{y}</td>");
        for f in &firms {
            let _ = write!(
                o,
                "<td>{}</td>",
                scaled(s.firm_var(f, F::REVENUE_USD).and_then(|v| v.yearly[yi].mean), 1e-9, 2)
            );
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");
    files_note(&mut o, "market_summary.csv, firms_summary.csv, shares_wide.csv, gaps_wide.csv");
    o
}

fn files_note(o: &mut String, files: &str) {
    let _ = writeln!(
        o,
        "<h2>Files</h2>\n<p class=note>The figures in full are in {}; every column of every file is described in the \
         project's <code>docs/outputs.md</code>. <code>manifest.json</code> records the version, command line and \
         scenario hash.</p>\n</body>\n</html>",
        esc(files)
    );
}

/// The "Sensitivity" section: which varied parameters drive each KPI (`sensitivity.csv`).
fn sensitivity_html(o: &mut String, sens: &Sensitivity, charts: &[(String, String)]) {
    let what = match sens.method {
        SensMethod::Sobol => {
            "Sobol indices from the saltelli design: S1 is the share of a KPI's variance over the design due to \
             the parameter alone, ST adds its interactions with the others; the line on each bar is its 95 % \
             bootstrap interval"
        }
        SensMethod::Morris => {
            "Morris screening: mu* is the mean absolute change of the KPI when the parameter moves by one step \
             of its range (its importance), sigma the spread of those changes (non-linearity or interactions)"
        }
    };
    let _ = writeln!(
        o,
        "<h2>Sensitivity</h2>\n<p class=note>{}. Made by <code>chipmarket analyze</code>; the indices in full are \
         in sensitivity.csv, and the project's <code>docs/analysis.md</code> explains how to read them.</p>",
        esc(what)
    );
    charts_html(o, charts);
    let without: Vec<&str> = sens.kpis.iter().filter(|k| !k.has_values()).map(|k| k.kpi.as_str()).collect();
    if !without.is_empty() {
        let _ = writeln!(
            o,
            "<p class=note>No indices (the KPI does not vary over the design, or has no value): {}.</p>",
            esc(&without.join(", "))
        );
    }
}

/// The report of a sweep, with a "Sensitivity" section when the folder has `sensitivity.csv`
/// (its contents and charts).
pub fn sweep_report(
    meta: &SweepMeta,
    s: &Survey,
    charts: &[(String, Option<String>)],
    sensitivity: Option<(&Sensitivity, &[(String, String)])>,
) -> String {
    let mut o = head(&format!("chipmarket sweep: {}", meta.name));
    let _ = writeln!(o, "<h1>Sweep of {}</h1>\n<p class=sub>{}</p>", esc(&meta.name), esc(&meta.description));
    let _ = writeln!(o, "<table class=meta>");
    let rows = [
        ("design", meta.method.clone()),
        ("points", s.points.to_string()),
        ("replications per point", meta.replications.clone()),
        ("base seed", meta.seed.clone()),
        ("varied", meta.paths.join(", ")),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = writeln!(o, "</table>\n<h2>Charts</h2>");
    let linked = charts.iter().filter(|c| c.1.is_none()).count();
    if linked > 0 {
        let _ = writeln!(
            o,
            "<p class=note>{linked} of the {} charts are linked from the folder's charts/ rather than drawn here, to keep this page small.</p>",
            charts.len()
        );
    }
    for (name, svg) in charts {
        match svg {
            Some(svg) => {
                let _ = writeln!(o, "<figure id=\"{}\">{}</figure>", esc(name), inline_svg(svg));
            }
            None => {
                let _ = writeln!(o, "<p id=\"{0}\"><a href=\"charts/{0}\">{0}</a></p>", esc(name));
            }
        }
    }
    if let Some((sens, sens_charts)) = sensitivity {
        sensitivity_html(&mut o, sens, sens_charts);
    }
    let kpis: Vec<(usize, &str)> =
        crate::report::charts::SWEEP_KPIS.iter().filter_map(|k| Some((s.kpi(k)?, *k))).collect();
    let _ = writeln!(
        o,
        "<h2>Points</h2>\n<p class=note>Mean over replications, with the 5–95 % range in brackets{}.</p>",
        if s.points > TABLE_ROWS {
            format!("; the first {TABLE_ROWS} points (all are in points_wide.csv)")
        } else {
            String::new()
        }
    );
    let _ = write!(o, "<table><tr><th>point</th>");
    for (j, p) in s.params.iter().enumerate() {
        let label = crate::report::charts::param_label(&s.params, j);
        let _ = write!(o, "<th title=\"{}\">{}</th>", esc(p.trim_start_matches("param_")), esc(&label));
    }
    for (_, k) in &kpis {
        let _ = write!(o, "<th>{}</th>", esc(k.trim_start_matches("market_")));
    }
    let _ = writeln!(o, "</tr>");
    let short = |c: &str| c.parse::<f64>().map_or_else(|_| c.to_string(), |x| format!("{}", (x * 1e4).round() / 1e4));
    for p in &s.first {
        let _ = write!(o, "<tr><td>{}</td>", esc(&p.point));
        for c in &p.params {
            let _ = write!(o, "<td>{}</td>", esc(c));
        }
        for (ki, _) in &kpis {
            let st = &p.stats[*ki];
            let _ = write!(
                o,
                "<td>{} <span class=note>[{}–{}]</span></td>",
                esc(&short(&st[0])),
                esc(&short(&st[2])),
                esc(&short(&st[4]))
            );
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");
    files_note(&mut o, "runs.csv, points.csv and points_wide.csv");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_report_links_the_charts_it_does_not_inline() {
        let survey = Survey { params: vec![], kpis: vec![], points: 3, axes: vec![], first: vec![] };
        let charts = vec![
            ("a.svg".to_string(), Some("<?xml version=\"1.0\"?><svg id=inline></svg>".to_string())),
            ("b<c.svg".to_string(), None),
        ];
        let page = sweep_report(&SweepMeta::default(), &survey, &charts, None);
        assert!(page.contains("<figure id=\"a.svg\"><svg id=inline></svg></figure>"), "{page}");
        assert!(page.contains("<p id=\"b&lt;c.svg\"><a href=\"charts/b&lt;c.svg\">b&lt;c.svg</a></p>"), "{page}");
        assert!(page.contains("1 of the 2 charts are linked"), "{page}");
        let all_inline = sweep_report(&SweepMeta::default(), &survey, &charts[..1], None);
        assert!(!all_inline.contains("linked"), "{all_inline}");
    }
}
