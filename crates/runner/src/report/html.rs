//! `report.html`: one self-contained page per run or sweep. Charts are inline SVG, the style
//! sheet is inline, and there are no scripts, fonts or images to fetch, so it opens the same
//! with no network (a sweep's charts beyond `report::INLINE_BYTES` are links to their files in
//! `charts/`, so the page stays bounded). Figures in its tables are rounded for reading; the CSV files next to it
//! hold them in full.

use std::fmt::Write as _;

use crate::batch::stats::Stats;
use crate::output::columns::{firms as F, market as M};
use crate::report::charts::MainEffect;
use crate::report::points::{Survey, TABLE_ROWS};
use crate::report::sensitivity::{Method as SensMethod, Sensitivity};
use crate::report::summaries::{RunSummary, DOMESTIC};
use crate::report::{Provenance, RunMeta, SweepMeta};

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1040px;color:#222;line-height:1.4}\
h1{margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #ccc;padding-bottom:4px}\
.sub{color:#555;margin-top:0}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px;display:block;overflow-x:auto;max-width:100%}\
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}th{background:#f3f3f3;white-space:normal}\
table.kpis td{white-space:normal}.row{display:flex;flex-wrap:wrap;gap:0 28px}.row h3{margin-bottom:4px}\
td:first-child,th:first-child{text-align:left}.meta td,.meta th{text-align:left;white-space:normal}\
tr.warm td{background:#eee;color:#666}\
figure{margin:16px 0}svg{max-width:100%;height:auto;border:1px solid #eee}\
.note{color:#555;font-size:13px}code{background:#f3f3f3;padding:0 3px;overflow-wrap:anywhere}\
@media print{@page{size:A4 landscape;margin:12mm}body{margin:0;max-width:none;font-size:11px}\
table{display:table;overflow:visible;font-size:9px;page-break-inside:auto}tr,figure{page-break-inside:avoid}\
th,td{white-space:normal;padding:2px 4px}h2{page-break-after:avoid}svg{width:100%;border:none}\
tr.warm td{background:#eee !important;-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG document as an inline element (without any XML declaration).
pub fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

pub fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(title)
    )
}

/// A share as a percentage with one decimal (`–` when undefined).
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{:.1}%", x * 100.0))
}

/// An amount of USD in readable units: `388.5 million USD`, `1.24 billion USD`.
pub fn money(x: f64) -> String {
    let a = x.abs();
    if a >= 1e12 {
        format!("{:.2} trillion USD", x / 1e12)
    } else if a >= 1e9 {
        format!("{:.2} billion USD", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.1} million USD", x / 1e6)
    } else if a >= 1e3 {
        format!("{:.1} thousand USD", x / 1e3)
    } else {
        format!("{x:.0} USD")
    }
}

fn scaled(x: Option<f64>, scale: f64, digits: usize) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{:.*}", digits, x * scale))
}

fn charts_html(out: &mut String, charts: &[(String, String)]) {
    for (name, svg) in charts {
        let _ = writeln!(out, "<figure id=\"{}\">{}</figure>", esc(name), inline_svg(svg));
    }
}

/// Mean over replications with the 5-95 % range: `41.2% [38.0%–44.9%]`.
fn mean_band(st: &Stats, f: &dyn Fn(f64) -> String) -> String {
    match (st.mean, st.p05, st.p95) {
        (Some(m), Some(a), Some(b)) => format!("{} <span class=note>[{}–{}]</span>", f(m), f(a), f(b)),
        (Some(m), _, _) => f(m),
        _ => "–".to_string(),
    }
}

/// The one aggregation of the report's yearly tables.
pub const YEARLY_AGGREGATION: &str = "Mean over replications of the yearly value";

/// A command line as one would type it (arguments with spaces or shell characters quoted).
pub fn shell_line(args: &[String]) -> String {
    let plain = |a: &str| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    args.iter()
        .map(|a| if plain(a) { a.clone() } else { format!("'{}'", a.replace('\'', "'\\''")) })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Provenance: version, date, command line, seed, replications, overrides. The date, the
/// command line and the overrides describe the invocation, not what was computed: they are
/// the report's only rows that differ between two runs of the same resolved scenario (marked
/// `data-volatile`, which before/after checks leave out).
pub fn provenance_html(o: &mut String, provenance: Option<&Provenance>, seed: &str, replications: usize) {
    let _ = writeln!(o, "<h2>Provenance</h2>\n<table class=meta>");
    match provenance {
        Some(p) => {
            let _ = writeln!(o, "<tr><th>chipmarket version</th><td>{}</td></tr>", esc(&p.version));
            let _ = writeln!(o, "<tr data-volatile><th>run on (UTC)</th><td>{}</td></tr>", esc(&p.date));
            let _ = writeln!(
                o,
                "<tr data-volatile><th>command line</th><td><code>{}</code></td></tr>",
                esc(&shell_line(&p.command_line))
            );
        }
        None => {
            let _ = writeln!(o, "<tr><th>made by</th><td>not recorded (the folder has no manifest.json)</td></tr>");
        }
    }
    let _ = writeln!(o, "<tr><th>seed</th><td>{}</td></tr>", esc(seed));
    let _ = writeln!(o, "<tr><th>replications</th><td>{replications}</td></tr>");
    let overrides = match provenance {
        Some(p) if !p.overrides.is_empty() => {
            p.overrides.iter().map(|x| format!("<code>{}</code>", esc(x))).collect::<Vec<_>>().join("<br>")
        }
        Some(_) => "none (the scenario file as written)".to_string(),
        None => "not recorded".to_string(),
    };
    let _ = writeln!(o, "<tr data-volatile><th>command-line overrides</th><td>{overrides}</td></tr>\n</table>");
}

/// A grid sweep's main effects: for each KPI, how far each lever moves its mean (largest
/// minus smallest over the lever's values, averaged over the other levers); the lever that
/// moves it most in bold.
fn main_effects_html(o: &mut String, meta: &SweepMeta, s: &Survey, effects: &[MainEffect]) {
    if effects.is_empty() {
        return;
    }
    let axes: Vec<usize> = (0..s.params.len()).filter(|j| effects.iter().any(|e| e.axis == *j)).collect();
    let _ = writeln!(
        o,
        "<h2>Main effects</h2>\n<p class=note>Which lever moves which KPI most: the spread (largest minus smallest) \
         of the KPI's mean over replications at each value of the lever, averaged over the other levers; shares in \
         percentage points. The largest in each row is in bold.</p>\n<table><tr><th>KPI</th>"
    );
    for &j in &axes {
        let label = meta.axis_label(&s.params[j], &crate::report::charts::param_label(&s.params, j));
        let _ = write!(o, "<th>{}</th>", esc(&label));
    }
    let _ = writeln!(o, "</tr>");
    let mut kpis: Vec<&str> = Vec::new();
    for e in effects {
        if !kpis.contains(&e.kpi.as_str()) {
            kpis.push(&e.kpi);
        }
    }
    for k in kpis {
        let row: Vec<Option<&MainEffect>> =
            axes.iter().map(|j| effects.iter().find(|e| e.kpi == k && e.axis == *j)).collect();
        let top = row.iter().flatten().map(|e| e.spread).fold(f64::NEG_INFINITY, f64::max);
        let _ = write!(o, "<tr><td>{}</td>", esc(k.trim_start_matches("market_")));
        for e in &row {
            let cell = match e {
                None => "–".to_string(),
                Some(e) => {
                    let unit = match e.unit {
                        "%" => " pp".to_string(),
                        "" => String::new(),
                        u => format!(" {u}"),
                    };
                    let text = format!("{:.3}{unit}", e.spread);
                    if e.spread == top && top > 0.0 {
                        format!("<b>{text}</b>")
                    } else {
                        text
                    }
                }
            };
            let _ = write!(o, "<td>{cell}</td>");
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");
}

/// The levers of each regime, in tables of at most `PER_TABLE` regimes (so none is clipped
/// when printed).
fn levers_html(o: &mut String, meta: &RunMeta) {
    const PER_TABLE: usize = 6;
    let mut order: Vec<&str> = Vec::new();
    for (_, r) in &meta.schedule {
        if !order.contains(&r.as_str()) {
            order.push(r);
        }
    }
    for (r, _) in &meta.regimes {
        if !order.contains(&r.as_str()) {
            order.push(r);
        }
    }
    let regimes: Vec<&(String, Vec<(String, String)>)> =
        order.iter().filter_map(|r| meta.regimes.iter().find(|(id, _)| id == r)).collect();
    if regimes.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h3>Levers of each regime</h3>\n<p class=note>Every lever of <code>[policy.regimes]</code> with its value in \
         the run (defaults filled in), regimes in the order they first apply.</p>"
    );
    for chunk in regimes.chunks(PER_TABLE) {
        let _ = write!(o, "<table><tr><th>lever</th>");
        for (id, _) in chunk {
            let _ = write!(o, "<th>{}</th>", esc(id));
        }
        let _ = writeln!(o, "</tr>");
        let levers: Vec<&str> = chunk[0].1.iter().map(|(k, _)| k.as_str()).collect();
        for lever in levers {
            let _ = write!(o, "<tr><td>{}</td>", esc(lever));
            for (_, ls) in chunk {
                let v = ls.iter().find(|(k, _)| k == lever).map_or("–", |(_, v)| v.as_str());
                let _ = write!(o, "<td style=\"white-space:normal\">{}</td>", esc(v));
            }
            let _ = writeln!(o, "</tr>");
        }
        let _ = writeln!(o, "</table>");
    }
}

/// A KPI value in readable units, by its name (`–` when undefined); `signed`: a difference
/// (shares in percentage points, with a sign).
pub fn kpi_value(kpi: &str, x: Option<f64>, signed: bool) -> String {
    let Some(x) = x else { return "–".to_string() };
    let sign = if signed && x >= 0.0 { "+" } else { "" };
    if kpi.ends_with("_year") {
        format!("{sign}{x:.1}")
    } else if kpi.contains("share") {
        if signed {
            format!("{sign}{:.1} pp", x * 100.0)
        } else {
            format!("{:.1}%", x * 100.0)
        }
    } else if kpi.ends_with("_usd") {
        format!("{sign}{}", money(x))
    } else if kpi.ends_with("_pflops") {
        format!("{sign}{:.1} thousand PFLOPS", x / 1e3)
    } else if kpi.contains("tflops") {
        format!("{sign}{x:.0} TFLOPS")
    } else {
        format!("{sign}{x:.3}")
    }
}

fn kpis_html(o: &mut String, meta: &RunMeta) {
    if meta.kpis.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "<h2>KPIs</h2>\n<p class=note>Every KPI of <code>summary.csv</code>: mean over replications, with the 5–95 % \
         range over replications and the number of replications with a value (docs/outputs.md defines each; \
         \"final year\" is the last four quarters of the run).</p>"
    );
    let _ = writeln!(o, "<table class=kpis><tr><th>vendor</th><th>KPI</th><th>mean</th><th>5–95 %</th><th>n</th></tr>");
    for (k, st) in &meta.kpis {
        let (who, what) = meta.kpi_label(k);
        let f = |x: f64| kpi_value(k, Some(x), false);
        let range = match (st.p05, st.p95) {
            (Some(a), Some(b)) => format!("{} to {}", f(a), f(b)),
            _ => "–".to_string(),
        };
        let _ = writeln!(
            o,
            "<tr title=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{range}</td><td>{}</td></tr>",
            esc(k),
            esc(&who),
            esc(&what),
            st.mean.map_or_else(|| "–".to_string(), f),
            st.n
        );
    }
    let _ = writeln!(o, "</table>");
}

/// The report of a run.
pub fn run_report(meta: &RunMeta, s: &RunSummary, charts: &[(String, String)]) -> String {
    let mut o = head(&format!("chipmarket: {}", meta.name));
    let _ = writeln!(o, "<h1>{}</h1>\n<p class=sub>{}</p>", esc(&meta.name), esc(&meta.description));
    let _ = writeln!(o, "<table class=meta>");
    let warm: Vec<&String> = s.quarters.iter().filter(|q| meta.is_warm_up(q)).collect();
    let rows = [
        ("seed", meta.seed.clone()),
        ("replications", s.replications.to_string()),
        (
            "quarters",
            format!(
                "{} to {} ({}){}",
                s.quarters.first().map_or("", String::as_str),
                s.quarters.last().map_or("", String::as_str),
                s.quarters.len(),
                match (warm.first(), warm.last()) {
                    (Some(a), Some(b)) => format!("; warm-up {a} to {b} (shaded)"),
                    _ => String::new(),
                }
            ),
        ),
        ("domestic vendors", meta.domestic.iter().map(|d| meta.firm_name(d)).collect::<Vec<_>>().join(", ")),
    ];
    for (k, v) in rows {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    let _ = writeln!(o, "</table>");
    provenance_html(&mut o, meta.provenance.as_ref(), &meta.seed, s.replications);
    let _ = writeln!(o, "<h2>Regimes</h2>\n<table class=meta><tr><th>from</th><th>regime</th></tr>");
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
    levers_html(&mut o, meta);
    kpis_html(&mut o, meta);
    let _ = writeln!(o, "<h2>Charts</h2>");
    charts_html(&mut o, charts);

    let warm_note = if warm.is_empty() { "" } else { " Shaded rows: warm-up (a partial first year)." };
    let _ = writeln!(
        o,
        "<h2>Market by year</h2>\n<p class=note>{YEARLY_AGGREGATION}, with the 5–95 % range over replications in \
         brackets. Flows are yearly sums, gaps are at the year's last quarter, shares are of the year's compute \
         delivered.{warm_note}</p>"
    );
    let _ = writeln!(
        o,
        "<table><tr><th>year</th><th>demand, thousand PFLOPS</th><th>delivered, thousand PFLOPS</th>\
         <th>domestic share</th><th>gap to frontier</th><th>gap to sellable</th><th>export fees</th></tr>"
    );
    let get = |name: &str, yi: usize| s.market_var(name).map(|v| v.yearly[yi].clone());
    let warm_year = |y: i32| s.quarters.iter().any(|q| summaries_year(q) == Some(y) && meta.is_warm_up(q));
    for (yi, y) in s.years.iter().enumerate() {
        let mean = |name: &str, scale: f64, d: usize| scaled(get(name, yi).and_then(|st| st.mean), scale, d);
        let band = |name: &str, f: &dyn Fn(f64) -> String| {
            get(name, yi).map_or_else(|| "–".to_string(), |st| mean_band(&st, f))
        };
        let class = if warm_year(*y) { " class=warm" } else { "" };
        let _ = writeln!(
            o,
            "<tr{class}><td>{y}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            mean(M::DEMAND_PFLOPS, 1e-3, 1),
            mean(M::DELIVERED_PFLOPS, 1e-3, 1),
            band(M::DOMESTIC_COMPUTE_SHARE, &|x| pct(Some(x))),
            band(M::PERF_GAP_FRONTIER, &|x| format!("{x:.2}")),
            band(M::PERF_GAP_SELLABLE, &|x| format!("{x:.2}")),
            get(M::EXPORT_FEES_USD, yi).and_then(|st| st.mean).map_or_else(|| "–".to_string(), money),
        );
    }
    let _ = writeln!(o, "</table>");

    let firms: Vec<&str> = s.firms.iter().map(|(f, _)| f.as_str()).collect();
    let header = |o: &mut String| {
        let _ = write!(o, "<table><tr><th>year</th>");
        for f in &firms {
            let _ = write!(o, "<th>{}</th>", esc(if *f == DOMESTIC { "domestic total" } else { meta.firm_name(f) }));
        }
        let _ = writeln!(o, "</tr>");
    };
    let _ = writeln!(
        o,
        "<h2>Compute share by vendor and year</h2>\n<p class=note>{YEARLY_AGGREGATION}: each vendor's share of the \
         year's compute delivered.</p>"
    );
    header(&mut o);
    for (yi, y) in s.years.iter().enumerate() {
        let class = if warm_year(*y) { " class=warm" } else { "" };
        let _ = write!(o, "<tr{class}><td>{y}</td>");
        for f in &firms {
            let _ = write!(o, "<td>{}</td>", pct(s.firm_var(f, F::COMPUTE_SHARE).and_then(|v| v.yearly[yi].mean)));
        }
        let _ = writeln!(o, "</tr>");
    }
    let _ = writeln!(o, "</table>");
    let _ = writeln!(
        o,
        "<h2>Revenue by vendor and year</h2>\n<p class=note>{YEARLY_AGGREGATION}, billion USD, recognised at \
         delivery, before export fees.</p>"
    );
    header(&mut o);
    for (yi, y) in s.years.iter().enumerate() {
        let class = if warm_year(*y) { " class=warm" } else { "" };
        let _ = write!(o, "<tr{class}><td>{y}</td>");
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

fn summaries_year(q: &str) -> Option<i32> {
    crate::report::summaries::year_of(q)
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
    effects: &[MainEffect],
    sensitivity: Option<(&Sensitivity, &[(String, String)])>,
) -> String {
    let mut o = head(&format!("chipmarket sweep: {}", meta.heading()));
    let _ = writeln!(o, "<h1>{}</h1>", esc(&meta.heading()));
    if !meta.question.is_empty() {
        let _ = writeln!(o, "<p class=sub><b>{}</b></p>", esc(&meta.question));
    }
    let _ = writeln!(o, "<p class=sub>Base scenario {}: {}</p>", esc(&meta.name), esc(&meta.description));
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
    let _ = writeln!(o, "</table>");
    main_effects_html(&mut o, meta, s, effects);
    let _ = writeln!(o, "<h2>Charts</h2>");
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
        let label = meta.axis_label(p, &crate::report::charts::param_label(&s.params, j));
        let _ = write!(o, "<th title=\"{}\">{}</th>", esc(p.trim_start_matches("param_")), esc(&label));
    }
    for (_, k) in &kpis {
        let _ = write!(o, "<th>{}</th>", esc(k.trim_start_matches("market_")));
    }
    let _ = writeln!(o, "</tr>");
    // In readable units by the KPI's name (shares in %, money in million or billion USD).
    let short = |k: &str, c: &str| c.parse::<f64>().map_or_else(|_| c.to_string(), |x| kpi_value(k, Some(x), false));
    for p in &s.first {
        let _ = write!(o, "<tr><td>{}</td>", esc(&p.point));
        for c in &p.params {
            let _ = write!(o, "<td>{}</td>", esc(c));
        }
        for (ki, k) in &kpis {
            let st = &p.stats[*ki];
            let _ = write!(
                o,
                "<td>{} <span class=note>[{}–{}]</span></td>",
                esc(&short(k, &st[0])),
                esc(&short(k, &st[2])),
                esc(&short(k, &st[4]))
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
    fn kpi_values_read_in_their_units() {
        // A year is a year even when the name speaks of a share.
        assert_eq!(kpi_value("market_domestic_share_first_above_50pct_year", Some(2024.5), false), "2024.5");
        assert_eq!(kpi_value("market_final_year_domestic_compute_share", Some(0.4123), false), "41.2%");
        assert_eq!(kpi_value("market_final_year_domestic_compute_share", Some(0.012), true), "+1.2 pp");
        assert_eq!(kpi_value("thead_ipo_valuation_usd", Some(134_670_000_000.0), false), "134.67 billion USD");
        assert_eq!(kpi_value("nvidia_final_cash_usd", Some(-388_537_073.6), true), "-388.5 million USD");
        assert_eq!(kpi_value("thead_ipo_valuation_usd", None, false), "–");
    }

    #[test]
    fn a_sweep_report_links_the_charts_it_does_not_inline() {
        let survey = Survey { params: vec![], kpis: vec![], points: 3, axes: vec![], first: vec![] };
        let charts = vec![
            ("a.svg".to_string(), Some("<?xml version=\"1.0\"?><svg id=inline></svg>".to_string())),
            ("b<c.svg".to_string(), None),
        ];
        let page = sweep_report(&SweepMeta::default(), &survey, &charts, &[], None);
        assert!(page.contains("<figure id=\"a.svg\"><svg id=inline></svg></figure>"), "{page}");
        assert!(page.contains("<p id=\"b&lt;c.svg\"><a href=\"charts/b&lt;c.svg\">b&lt;c.svg</a></p>"), "{page}");
        assert!(page.contains("1 of the 2 charts are linked"), "{page}");
        let all_inline = sweep_report(&SweepMeta::default(), &survey, &charts[..1], &[], None);
        assert!(!all_inline.contains("linked"), "{all_inline}");
    }
}
