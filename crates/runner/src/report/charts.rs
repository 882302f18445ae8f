//! SVG charts of a run or a sweep, drawn with plotters' SVG backend.
//!
//! No font is needed to write them: plotters' SVG backend (without its `ttf` feature) writes
//! text as `<text>` elements with a generic `sans-serif` family, which the viewer (a browser,
//! a spreadsheet, an office suite) draws with its own fonts. Layout is planned with a width
//! estimate of 0.6 em per character, and labels that would overlap move to another row or are
//! left to the legend.
//!
//! Run charts (docs/outputs.md has one sentence on each): `shares.svg` (vendor compute shares,
//! stacked, with the regime timeline of replication 0 above it), `domestic_share.svg` (fan chart),
//! `gaps.svg` (frontier and sellable performance gaps, log axis), `revenue.svg` (yearly revenue
//! by firm). Sweep charts: `sweep_<kpi>__<param>.svg` (a KPI against each numeric parameter,
//! with p05-p95 bars, and for repeated values the mean and band), and for grids of two or more
//! numeric axes `heat_<kpi>__<param>__<param>.svg` (the KPI's mean, averaged over other axes).
//! When the sweep folder holds `sensitivity.csv` (`chipmarket analyze`), one
//! `sensitivity_<kpi>.svg` per KPI: S1 and ST bars with their intervals (Sobol) or a labelled
//! mu*-sigma scatter (Morris).

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::output::columns::{firms as F, market as M};
use crate::report::points::{self, HeatPlan, Scatter, ScatterPlan, Survey};
use crate::report::sensitivity::{KpiIndices, Method as SensMethod, Sensitivity};
use crate::report::summaries::RunSummary;
use crate::report::{RunMeta, SweepMeta};

const W: u32 = 1000;
const H: u32 = 600;
const LEGEND_W: u32 = 200;
const FONT: &str = "sans-serif";

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Res = Result<(), Box<dyn std::error::Error>>;

/// Firm colours (a colour-blind-friendly palette, Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Regime colours: light, to sit behind text.
const REGIME_PALETTE: [RGBColor; 12] = [
    RGBColor(204, 229, 255),
    RGBColor(255, 221, 204),
    RGBColor(214, 245, 214),
    RGBColor(255, 245, 204),
    RGBColor(230, 214, 245),
    RGBColor(245, 214, 230),
    RGBColor(214, 245, 245),
    RGBColor(235, 235, 235),
    RGBColor(255, 204, 204),
    RGBColor(229, 255, 204),
    RGBColor(204, 204, 255),
    RGBColor(240, 220, 190),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Draw into an SVG string; a drawing error (which the SVG backend never raises on a string)
/// leaves the chart with what was drawn.
fn svg(draw: impl FnOnce(&Area) -> Res) -> String {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = draw(&root);
        let _ = root.present();
    }
    buf
}

/// Start of a quarter `2026Q3` as a fractional year (2026.5).
fn quarter_x(q: &str) -> Option<f64> {
    let (y, n) = q.split_once('Q')?;
    Some(y.parse::<f64>().ok()? + (n.parse::<f64>().ok()? - 1.0) / 4.0)
}

/// Estimated width of `text` at `size` px.
fn text_w(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// Title at the top of `root`; returns the area below.
fn title<'a>(root: &Area<'a>, title: &str, subtitle: &str) -> Result<Area<'a>, Box<dyn std::error::Error>> {
    root.draw(&Text::new(title.to_string(), (16, 10), (FONT, 22).into_font().style(FontStyle::Bold)))?;
    root.draw(&Text::new(subtitle.to_string(), (16, 38), (FONT, 14).into_font().color(&RGBColor(90, 90, 90))))?;
    Ok(root.split_vertically(62).1)
}

/// A legend of coloured swatches, top to bottom, from (x, y).
fn legend(
    area: &Area,
    x: i32,
    mut y: i32,
    heading: &str,
    items: &[(String, RGBColor)],
) -> Result<i32, Box<dyn std::error::Error>> {
    area.draw(&Text::new(heading.to_string(), (x, y), (FONT, 14).into_font().style(FontStyle::Bold)))?;
    y += 22;
    for (name, c) in items {
        area.draw(&Rectangle::new([(x, y), (x + 14, y + 14)], c.filled()))?;
        area.draw(&Rectangle::new([(x, y), (x + 14, y + 14)], BLACK.mix(0.4)))?;
        area.draw(&Text::new(name.clone(), (x + 20, y), (FONT, 13)))?;
        y += 19;
    }
    Ok(y + 10)
}

/// Periods of constant regime: (regime, start x, end x).
fn regime_periods(s: &RunSummary) -> Vec<(String, f64, f64)> {
    let mut out: Vec<(String, f64, f64)> = Vec::new();
    for (q, r) in s.quarters.iter().zip(&s.regimes) {
        let Some(x) = quarter_x(q) else { continue };
        match out.last_mut() {
            Some(last) if &last.0 == r && (last.2 - x).abs() < 1e-9 => last.2 = x + 0.25,
            _ => out.push((r.clone(), x, x + 0.25)),
        }
    }
    out
}

fn regime_colours(periods: &[(String, f64, f64)]) -> Vec<(String, RGBColor)> {
    let mut seen: Vec<String> = Vec::new();
    for (r, _, _) in periods {
        if !seen.contains(r) {
            seen.push(r.clone());
        }
    }
    seen.into_iter().enumerate().map(|(i, r)| (r, REGIME_PALETTE[i % REGIME_PALETTE.len()])).collect()
}

fn x_range(s: &RunSummary) -> Range<f64> {
    let lo = s.quarters.first().and_then(|q| quarter_x(q)).unwrap_or(0.0);
    let hi = s.quarters.last().and_then(|q| quarter_x(q)).map_or(lo + 1.0, |x| x + 0.25);
    lo..hi
}

const Y_LABEL_AREA: u32 = 70;

/// The regime timeline above a quarterly chart: coloured bars, names in up to three rows where
/// they fit (every regime is also in the legend). The returned area is for the chart itself,
/// whose x axis lines up with the timeline's.
fn regime_timeline<'a>(
    area: &Area<'a>,
    xr: &Range<f64>,
    periods: &[(String, f64, f64)],
    colours: &[(String, RGBColor)],
) -> Result<Area<'a>, Box<dyn std::error::Error>> {
    let (top, rest) = area.split_vertically(96);
    let mut chart = ChartBuilder::on(&top)
        .margin_left(10)
        .margin_right(20)
        .margin_top(4)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(xr.clone(), 0.0..5.0)?;
    let px = f64::from(chart.plotting_area().dim_in_pixel().0.max(1));
    let per_px = (xr.end - xr.start) / px;
    let colour_of = |r: &str| colours.iter().find(|(n, _)| n == r).map_or(WHITE, |(_, c)| *c);
    chart.draw_series(periods.iter().map(|(r, a, b)| Rectangle::new([(*a, 0.0), (*b, 1.0)], colour_of(r).filled())))?;
    chart.draw_series(periods.iter().map(|(_, a, b)| Rectangle::new([(*a, 0.0), (*b, 1.0)], BLACK.mix(0.5))))?;
    // Names: greedy rows; a name goes centred on its period, in the first row where it fits.
    let mut rows: Vec<f64> = vec![f64::NEG_INFINITY; 4];
    let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (r, a, b) in periods {
        let w = (text_w(r, 12.0) + 6.0) * per_px;
        let mid = ((a + b) / 2.0).clamp(xr.start + w / 2.0, xr.end - w / 2.0);
        if let Some(row) = rows.iter().position(|end| *end <= mid - w / 2.0) {
            rows[row] = mid + w / 2.0;
            let y = 1.25 + row as f64 * 0.95;
            chart.draw_series(std::iter::once(Text::new(r.clone(), (mid, y + 0.05), style.clone())))?;
            chart.draw_series(std::iter::once(PathElement::new(vec![(mid, 1.0), (mid, y - 0.3)], BLACK.mix(0.3))))?;
        }
    }
    let (_, bar_top) = chart.backend_coord(&(xr.start, 1.0));
    let (x0, _) = chart.backend_coord(&(xr.start, 0.0));
    let style =
        TextStyle::from((FONT, 12).into_font()).color(&RGBColor(90, 90, 90)).pos(Pos::new(HPos::Right, VPos::Top));
    top.draw(&Text::new("regime".to_string(), (x0 - 6, bar_top - top.get_base_pixel().1 + 2), style))?;
    Ok(rest)
}

/// Shade the warm-up quarters (grey, labelled) on a quarterly chart spanning `y`.
fn warm_up_shade<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, impl Ranged<ValueType = f64>>>,
    s: &RunSummary,
    meta: &RunMeta,
    y: (f64, f64),
) -> Res
where
    DB::ErrorType: 'static,
{
    let xs: Vec<f64> = s.quarters.iter().filter(|q| meta.is_warm_up(q)).filter_map(|q| quarter_x(q)).collect();
    let (Some(a), Some(b)) = (xs.first(), xs.last()) else { return Ok(()) };
    chart.draw_series(std::iter::once(Rectangle::new([(*a, y.0), (b + 0.25, y.1)], BLACK.mix(0.18).filled())))?;
    let style =
        TextStyle::from((FONT, 12).into_font()).color(&RGBColor(60, 60, 60)).pos(Pos::new(HPos::Center, VPos::Top));
    chart.draw_series(std::iter::once(Text::new("warm-up".to_string(), ((a + b + 0.25) / 2.0, y.1), style)))?;
    Ok(())
}

/// Vertical lines at regime changes on a quarterly chart.
fn regime_lines<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, impl Ranged<ValueType = f64>>>,
    periods: &[(String, f64, f64)],
    y: (f64, f64),
) -> Res
where
    DB::ErrorType: 'static,
{
    chart.draw_series(
        periods
            .iter()
            .skip(1)
            .map(|(_, a, _)| PathElement::new(vec![(*a, y.0), (*a, y.1)], BLACK.mix(0.35).stroke_width(1))),
    )?;
    Ok(())
}

fn pct(y: &f64) -> String {
    format!("{:.0}%", y * 100.0)
}

fn year_label(x: &f64) -> String {
    format!("{:.0}", x)
}

/// Mid-quarter x of quarter `qi`.
fn mid(s: &RunSummary, qi: usize) -> Option<f64> {
    quarter_x(&s.quarters[qi]).map(|x| x + 0.125)
}

/// The run's charts: (file name, SVG text).
pub fn run_charts(s: &RunSummary, meta: &RunMeta) -> Vec<(String, String)> {
    let periods = regime_periods(s);
    let rcolours = regime_colours(&periods);
    let name = if meta.name.is_empty() { "run".to_string() } else { meta.name.clone() };
    let reps = s.replications;
    vec![
        ("shares.svg".to_string(), svg(|root| shares(root, s, meta, &name, reps, &periods, &rcolours))),
        ("domestic_share.svg".to_string(), svg(|root| domestic(root, s, meta, &name, reps, &periods, &rcolours))),
        ("gaps.svg".to_string(), svg(|root| gaps(root, s, meta, &name, reps))),
        ("revenue.svg".to_string(), svg(|root| revenue(root, s, meta, &name, reps))),
    ]
}

fn shares(
    root: &Area,
    s: &RunSummary,
    meta: &RunMeta,
    name: &str,
    reps: usize,
    periods: &[(String, f64, f64)],
    rcolours: &[(String, RGBColor)],
) -> Res {
    let body = title(
        root,
        "Vendor shares of AI compute delivered in China",
        &format!("{name}: mean over {reps} replication(s) of each vendor's share of compute delivered (BF16 PFLOPS), by quarter"),
    )?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    let xr = x_range(s);
    let plot = regime_timeline(&main, &xr, periods, rcolours)?;
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(20)
        .margin_bottom(10)
        .x_label_area_size(40)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(xr.clone(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(12)
        .x_label_formatter(&year_label)
        .y_label_formatter(&pct)
        .y_desc("share of compute delivered")
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let firms: Vec<&str> = s.firm_ids().collect();
    let mut lower = vec![0.0; s.quarters.len()];
    let mut items = Vec::new();
    for (fi, firm) in firms.iter().enumerate() {
        let Some(v) = s.firm_var(firm, F::COMPUTE_SHARE) else { continue };
        let upper: Vec<f64> = lower.iter().zip(&v.quarterly).map(|(l, st)| l + st.mean.unwrap_or(0.0)).collect();
        // A step-shaped band: each quarter's share holds over the whole quarter.
        let xs: Vec<Option<f64>> = s.quarters.iter().map(|q| quarter_x(q)).collect();
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for (x, up) in xs.iter().zip(&upper) {
            if let Some(x) = x {
                pts.extend([(*x, *up), (x + 0.25, *up)]);
            }
        }
        for (x, low) in xs.iter().zip(&lower).rev() {
            if let Some(x) = x {
                pts.extend([(x + 0.25, *low), (*x, *low)]);
            }
        }
        chart.draw_series(std::iter::once(Polygon::new(pts, colour(fi).filled())))?;
        lower = upper;
        items.push((meta.firm_name(firm).to_string(), colour(fi)));
    }
    warm_up_shade(&mut chart, s, meta, (0.0, 1.0))?;
    regime_lines(&mut chart, periods, (0.0, 1.0))?;
    items.reverse();
    let y = legend(&side, 8, 40, "vendor (top first)", &items)?;
    legend(&side, 8, y, "regime (replication 0)", rcolours)?;
    Ok(())
}

fn band_polygon(xs: &[f64], lo: &[f64], hi: &[f64]) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = xs.iter().zip(hi).map(|(x, y)| (*x, *y)).collect();
    pts.extend(xs.iter().zip(lo).rev().map(|(x, y)| (*x, *y)));
    pts
}

/// Runs of consecutive quarters where `f` gives a value: (x, value) per run.
fn runs_of(s: &RunSummary, f: impl Fn(usize) -> Option<(f64, f64, f64)>) -> Vec<Vec<(f64, f64, f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new()];
    for qi in 0..s.quarters.len() {
        match (mid(s, qi), f(qi)) {
            (Some(x), Some((lo, m, hi))) => out.last_mut().expect("non-empty").push((x, lo, m, hi)),
            _ => {
                if !out.last().expect("non-empty").is_empty() {
                    out.push(Vec::new());
                }
            }
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

fn domestic(
    root: &Area,
    s: &RunSummary,
    meta: &RunMeta,
    name: &str,
    reps: usize,
    periods: &[(String, f64, f64)],
    rcolours: &[(String, RGBColor)],
) -> Res {
    let body = title(
        root,
        "Domestic vendors' share of AI compute delivered",
        &format!("{name}: median and 5-95 % band over {reps} replication(s), by quarter"),
    )?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    let xr = x_range(s);
    let plot = regime_timeline(&main, &xr, periods, rcolours)?;
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(20)
        .margin_bottom(10)
        .x_label_area_size(40)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(xr.clone(), 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_labels(12)
        .x_label_formatter(&year_label)
        .y_label_formatter(&pct)
        .y_desc("domestic share of compute delivered")
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let blue = colour(0);
    if let Some(v) = s.market_var(M::DOMESTIC_COMPUTE_SHARE) {
        for run in runs_of(s, |qi| {
            let st = &v.quarterly[qi];
            Some((st.p05?, st.p50?, st.p95?))
        }) {
            let xs: Vec<f64> = run.iter().map(|p| p.0).collect();
            let lo: Vec<f64> = run.iter().map(|p| p.1).collect();
            let hi: Vec<f64> = run.iter().map(|p| p.3).collect();
            chart.draw_series(std::iter::once(Polygon::new(band_polygon(&xs, &lo, &hi), blue.mix(0.25).filled())))?;
            chart.draw_series(LineSeries::new(run.iter().map(|p| (p.0, p.2)), blue.stroke_width(3)))?;
        }
    }
    warm_up_shade(&mut chart, s, meta, (0.0, 1.0))?;
    regime_lines(&mut chart, periods, (0.0, 1.0))?;
    let y = legend(
        &side,
        8,
        40,
        "domestic share",
        &[("median".to_string(), blue), ("5-95 % of replications".to_string(), blue.mix(0.25).to_rgba().into_rgb())],
    )?;
    legend(&side, 8, y, "regime (replication 0)", rcolours)?;
    Ok(())
}

trait IntoRgb {
    fn into_rgb(self) -> RGBColor;
}

impl IntoRgb for RGBAColor {
    /// Blend over white.
    fn into_rgb(self) -> RGBColor {
        let f = |c: u8| (f64::from(c) * self.3 + 255.0 * (1.0 - self.3)).round() as u8;
        RGBColor(f(self.0), f(self.1), f(self.2))
    }
}

fn gaps(root: &Area, s: &RunSummary, meta: &RunMeta, name: &str, reps: usize) -> Res {
    let body = title(
        root,
        "Performance gap: best US chip over best domestic chip (TPP ratio)",
        &format!(
            "{name}: median and 5-95 % band over {reps} replication(s); log scale; 1 = parity; quarters without a sellable US chip are left out"
        ),
    )?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    let series = [
        (M::PERF_GAP_FRONTIER, "frontier (any US chip)", colour(1)),
        (M::PERF_GAP_SELLABLE, "sellable in China", colour(0)),
    ];
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (var, _, _) in &series {
        if let Some(v) = s.market_var(var) {
            for st in &v.quarterly {
                for x in [st.p05, st.p50, st.p95].into_iter().flatten().filter(|x| *x > 0.0) {
                    lo = lo.min(x);
                    hi = hi.max(x);
                }
            }
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (1.0, 10.0);
    }
    let yr = (lo.min(1.0) / 1.3)..(hi * 1.3);
    let xr = x_range(s);
    let mut chart = ChartBuilder::on(&main)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(40)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(xr.clone(), yr.clone().log_scale())?;
    chart
        .configure_mesh()
        .x_labels(12)
        .x_label_formatter(&year_label)
        .y_label_formatter(&|y| format!("{}x", short(*y)))
        .y_desc("TPP ratio (log scale)")
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    warm_up_shade(&mut chart, s, meta, (yr.start, yr.end))?;
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(xr.start, 1.0), (xr.end, 1.0)], BLACK.stroke_width(1))))?;
    // plotters labels only powers of ten on a short log axis: add 2x and 5x steps.
    let base = main.get_base_pixel();
    let tick = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for decade in [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0] {
        for k in [2.0, 5.0] {
            let y = decade * k;
            if y > yr.start && y < yr.end {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(xr.start, y), (xr.end, y)],
                    BLACK.mix(0.12),
                )))?;
                let (px, py) = chart.backend_coord(&(xr.start, y));
                main.draw(&Text::new(format!("{}x", short(y)), (px - base.0 - 8, py - base.1), tick.clone()))?;
            }
        }
    }
    let mut items = Vec::new();
    for (var, label, c) in series {
        let Some(v) = s.market_var(var) else { continue };
        let positive = |x: Option<f64>| x.filter(|x| *x > 0.0);
        for run in runs_of(s, |qi| {
            let st = &v.quarterly[qi];
            let m = positive(st.p50)?;
            Some((positive(st.p05).unwrap_or(m), m, positive(st.p95).unwrap_or(m)))
        }) {
            let xs: Vec<f64> = run.iter().map(|p| p.0).collect();
            let lo: Vec<f64> = run.iter().map(|p| p.1).collect();
            let hi: Vec<f64> = run.iter().map(|p| p.3).collect();
            chart.draw_series(std::iter::once(Polygon::new(band_polygon(&xs, &lo, &hi), c.mix(0.2).filled())))?;
            chart.draw_series(LineSeries::new(run.iter().map(|p| (p.0, p.2)), c.stroke_width(3)))?;
            if run.len() == 1 {
                chart.draw_series(std::iter::once(Circle::new((run[0].0, run[0].2), 3, c.filled())))?;
            }
        }
        items.push((label.to_string(), c));
    }
    let y = legend(&side, 8, 40, "US chip compared", &items)?;
    let note = TextStyle::from((FONT, 12).into_font()).color(&RGBColor(90, 90, 90));
    for (i, line) in [
        "above 1x: the US chip is ahead;",
        "below 1x: the domestic chip is",
        "ahead (TPP: the export-control",
        "measure)",
    ]
    .iter()
    .enumerate()
    {
        side.draw(&Text::new(line.to_string(), (8, y + 18 * i as i32), note.clone()))?;
    }
    Ok(())
}

fn revenue(root: &Area, s: &RunSummary, meta: &RunMeta, name: &str, reps: usize) -> Res {
    let body = title(
        root,
        "Revenue by vendor in China, per year",
        &format!(
            "{name}: mean over {reps} replication(s), billion USD, revenue recognised at delivery before export fees"
        ),
    )?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    let firms: Vec<&str> = s.firm_ids().collect();
    let mut hi: f64 = 0.0;
    for f in &firms {
        if let Some(v) = s.firm_var(f, F::REVENUE_USD) {
            hi = v.yearly.iter().filter_map(|st| st.mean).fold(hi, f64::max);
        }
    }
    let hi = (hi / 1e9 * 1.1).max(0.1);
    let first = *s.years.first().unwrap_or(&0) as f64;
    let last = *s.years.last().unwrap_or(&0) as f64;
    let mut chart = ChartBuilder::on(&main)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(40)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((first - 0.3)..(last + 0.3), 0.0..hi)?;
    chart
        .configure_mesh()
        .x_labels(s.years.len().max(2))
        .x_label_formatter(&year_label)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("revenue, billion USD per year")
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let mut items = Vec::new();
    for (fi, f) in firms.iter().enumerate() {
        let Some(v) = s.firm_var(f, F::REVENUE_USD) else { continue };
        let pts: Vec<(f64, f64)> =
            s.years.iter().zip(&v.yearly).filter_map(|(y, st)| Some((f64::from(*y), st.mean? / 1e9))).collect();
        chart.draw_series(LineSeries::new(pts.clone(), colour(fi).stroke_width(2)))?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour(fi).filled())))?;
        items.push((meta.firm_name(f).to_string(), colour(fi)));
    }
    legend(&side, 8, 40, "vendor", &items)?;
    Ok(())
}

/// The x range of a list of quarters.
fn quarters_range(quarters: &[String]) -> Range<f64> {
    let lo = quarters.first().and_then(|q| quarter_x(q)).unwrap_or(0.0);
    let hi = quarters.last().and_then(|q| quarter_x(q)).map_or(lo + 1.0, |x| x + 0.25);
    lo..hi
}

/// A y range that holds `values` with a margin (and 0 when `with_zero`).
fn y_range(values: impl Iterator<Item = f64>, with_zero: bool) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    if with_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-6);
    (lo - pad)..(hi + pad)
}

/// One line per series by quarter (a comparison's scenarios side by side): (name, value per
/// quarter); `share`: values are shares (0 to 1, percent axis).
pub fn lines_by_quarter(
    heading: &str,
    subtitle: &str,
    quarters: &[String],
    series: &[(String, Vec<Option<f64>>)],
    share: bool,
) -> String {
    svg(|root| {
        let body = title(root, heading, subtitle)?;
        let (main, side) = body.split_horizontally(W - LEGEND_W);
        let xr = quarters_range(quarters);
        let yr =
            if share { 0.0..1.0 } else { y_range(series.iter().flat_map(|(_, v)| v.iter().flatten().copied()), true) };
        let mut chart = ChartBuilder::on(&main)
            .margin_left(10)
            .margin_right(20)
            .margin_top(10)
            .margin_bottom(10)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(xr, yr)?;
        let y_fmt = |y: &f64| if share { pct(y) } else { short(*y) };
        chart
            .configure_mesh()
            .x_labels(12)
            .x_label_formatter(&year_label)
            .y_label_formatter(&y_fmt)
            .axis_desc_style((FONT, 14))
            .label_style((FONT, 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let mut items = Vec::new();
        for (i, (name, values)) in series.iter().enumerate() {
            let mut run: Vec<(f64, f64)> = Vec::new();
            for (q, v) in quarters.iter().zip(values) {
                match (quarter_x(q), v) {
                    (Some(x), Some(v)) => run.push((x + 0.125, *v)),
                    _ => {
                        chart.draw_series(LineSeries::new(std::mem::take(&mut run), colour(i).stroke_width(2)))?;
                    }
                }
            }
            chart.draw_series(LineSeries::new(run, colour(i).stroke_width(2)))?;
            items.push((name.clone(), colour(i)));
        }
        legend(&side, 8, 40, "scenario", &items)?;
        Ok(())
    })
}

/// A paired difference by quarter: the 5-95 % band and median of the paired differences
/// (`fan`: p05, p50, p95 per quarter), a dashed band of what independent runs would give
/// (`unpaired`: low, high per quarter), and the zero line; `share`: differences of shares,
/// in percentage points.
pub fn difference_fan(
    heading: &str,
    subtitle: &str,
    quarters: &[String],
    fan: &[(Option<f64>, Option<f64>, Option<f64>)],
    unpaired: &[Option<(f64, f64)>],
    share: bool,
) -> String {
    svg(|root| {
        let body = title(root, heading, subtitle)?;
        let (main, side) = body.split_horizontally(W - LEGEND_W);
        let xr = quarters_range(quarters);
        let all = fan
            .iter()
            .flat_map(|(a, b, c)| [*a, *b, *c])
            .flatten()
            .chain(unpaired.iter().flatten().flat_map(|(a, b)| [*a, *b]));
        let yr = y_range(all, true);
        let mut chart = ChartBuilder::on(&main)
            .margin_left(10)
            .margin_right(20)
            .margin_top(10)
            .margin_bottom(10)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(xr.clone(), yr)?;
        let y_fmt = |y: &f64| if share { format!("{:+.0} pp", y * 100.0) } else { format!("{y:+.2}") };
        chart
            .configure_mesh()
            .x_labels(12)
            .x_label_formatter(&year_label)
            .y_label_formatter(&y_fmt)
            .y_desc(if share { "difference, percentage points" } else { "difference" })
            .axis_desc_style((FONT, 14))
            .label_style((FONT, 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(xr.start, 0.0), (xr.end, 0.0)],
            BLACK.stroke_width(1),
        )))?;
        let blue = colour(0);
        let mut run: Vec<(f64, f64, f64, f64)> = Vec::new();
        let mut runs = Vec::new();
        for (q, (a, b, c)) in quarters.iter().zip(fan) {
            match (quarter_x(q), a, b, c) {
                (Some(x), Some(a), Some(b), Some(c)) => run.push((x + 0.125, *a, *b, *c)),
                _ => runs.push(std::mem::take(&mut run)),
            }
        }
        runs.push(run);
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let xs: Vec<f64> = run.iter().map(|p| p.0).collect();
            let lo: Vec<f64> = run.iter().map(|p| p.1).collect();
            let hi: Vec<f64> = run.iter().map(|p| p.3).collect();
            chart.draw_series(std::iter::once(Polygon::new(band_polygon(&xs, &lo, &hi), blue.mix(0.25).filled())))?;
            chart.draw_series(LineSeries::new(run.iter().map(|p| (p.0, p.2)), blue.stroke_width(3)))?;
        }
        let grey = RGBColor(120, 120, 120);
        for k in 0..2 {
            let pts: Vec<(f64, f64)> = quarters
                .iter()
                .zip(unpaired)
                .filter_map(|(q, u)| Some((quarter_x(q)? + 0.125, if k == 0 { (*u)?.0 } else { (*u)?.1 })))
                .collect();
            chart.draw_series(DashedLineSeries::new(pts, 6, 4, grey.stroke_width(2)))?;
        }
        legend(
            &side,
            8,
            40,
            "difference",
            &[
                ("paired median".to_string(), blue),
                ("paired 5-95 %".to_string(), blue.mix(0.25).to_rgba().into_rgb()),
                ("independent runs".to_string(), grey),
            ],
        )?;
        Ok(())
    })
}

/// The KPIs a sweep's charts show, those present of these.
pub const SWEEP_KPIS: [&str; 5] = [
    "market_final_year_domestic_compute_share",
    "market_final_perf_gap_sellable",
    "market_final_perf_gap_frontier",
    "market_cumulative_export_fees_usd",
    "market_cumulative_unfilled_pflops",
];

/// Axis scale and label of a KPI by its name.
fn kpi_unit(kpi: &str) -> (f64, &'static str) {
    if kpi.contains("share") {
        (100.0, "%")
    } else if kpi.ends_with("_usd") {
        (1e-9, "billion USD")
    } else if kpi.ends_with("_pflops") {
        (1e-3, "thousand PFLOPS")
    } else if kpi.contains("perf_gap") {
        (1.0, "TPP ratio")
    } else {
        (1.0, "")
    }
}

/// A parameter's short name: the last part of its path, or the whole path when another
/// parameter ends the same way.
pub fn param_label(params: &[String], j: usize) -> String {
    let last = |p: &str| p.rsplit('.').next().unwrap_or(p).to_string();
    let mine = last(&params[j]);
    let unique = params.iter().enumerate().all(|(k, p)| k == j || last(p) != mine);
    if unique {
        mine
    } else {
        params[j].trim_start_matches("param_").to_string()
    }
}

/// A parameter's name in file names: [`param_label`], dots as underscores.
fn file_part(params: &[String], j: usize) -> String {
    param_label(params, j).chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// A sweep chart's file name and SVG text.
pub type Chart = (String, String);

/// How much one axis of a grid sweep moves one KPI: the spread (largest minus smallest) of the
/// KPI's mean at each of the axis's values, averaged over the other axes (the line of its
/// chart), in the chart's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct MainEffect {
    /// The KPI.
    pub kpi: String,
    /// The axis (position in [`Survey::params`]).
    pub axis: usize,
    /// Largest minus smallest average, in `unit`.
    pub spread: f64,
    /// The unit of `spread` (`%` is percentage points).
    pub unit: &'static str,
}

/// The sweep's charts, drawn from bounded digests of `dir/points.csv` (`report::points`: a
/// chart of any number of points is the size of one of a thousand), handed to `emit` one at a
/// time as (file name, SVG text); returns the main effects of a grid sweep (none otherwise).
pub fn sweep_charts(
    dir: &Path,
    s: &Survey,
    meta: &SweepMeta,
    emit: &mut dyn FnMut(Chart) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<MainEffect>> {
    let numeric = s.numeric();
    let kpis: Vec<(usize, &str)> = SWEEP_KPIS.iter().filter_map(|k| Some((s.kpi(k)?, *k))).collect();
    let mut scatters = Vec::new();
    for &(ki, kpi) in &kpis {
        for &j in &numeric {
            scatters.push(ScatterPlan { kpi: ki, axis: j, scale: kpi_unit(kpi).0 });
        }
    }
    let mut heats = Vec::new();
    if meta.method == "grid" && numeric.len() >= 2 {
        for &(ki, kpi) in kpis.iter().take(2) {
            for a in 0..numeric.len() {
                for b in a + 1..numeric.len() {
                    let (pa, pb) = (numeric[a], numeric[b]);
                    if points::heat_axis(&s.axes[pa]) && points::heat_axis(&s.axes[pb]) {
                        heats.push(HeatPlan { kpi: ki, axes: (pa, pb), scale: kpi_unit(kpi).0 });
                    }
                }
            }
        }
    }
    let (scatters, heats) = points::digest(dir, s, &scatters, &heats)?;
    let mut effects = Vec::new();
    if meta.method == "grid" {
        for c in scatters.iter().filter(|c| c.line.len() >= 2 && !c.binned) {
            let (lo, hi) = c.line.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), l| (a.min(l.2), b.max(l.2)));
            let kpi = s.kpis[c.kpi].clone();
            let unit = kpi_unit(&kpi).1;
            effects.push(MainEffect { kpi, axis: c.axis, spread: hi - lo, unit });
        }
    }
    for c in &scatters {
        let kpi = s.kpis[c.kpi].as_str();
        let name = format!("sweep_{}__{}.svg", kpi.trim_start_matches("market_"), file_part(&s.params, c.axis));
        emit((name, svg(|root| kpi_vs_param(root, s, meta, c, kpi))))?;
    }
    for h in &heats {
        let kpi = s.kpis[h.kpi].as_str();
        let (pa, pb) = h.axes;
        let name = format!(
            "heat_{}__{}__{}.svg",
            kpi.trim_start_matches("market_"),
            file_part(&s.params, pa),
            file_part(&s.params, pb)
        );
        emit((name, svg(|root| heat(root, s, meta, h, kpi))))?;
    }
    Ok(effects)
}

/// The break mark of a y axis that does not start at zero: two slanted strokes across the
/// axis just above its foot `(x, y)` (pixels), with the axis between them blanked.
fn axis_break(root: &Area, (x, y): (i32, i32)) -> Res {
    root.draw(&Rectangle::new([(x - 8, y - 17), (x + 8, y - 9)], WHITE.filled()))?;
    root.draw(&PathElement::new(vec![(x - 8, y - 13), (x + 8, y - 19)], BLACK.stroke_width(2)))?;
    root.draw(&PathElement::new(vec![(x - 8, y - 7), (x + 8, y - 13)], BLACK.stroke_width(2)))?;
    Ok(())
}

fn kpi_vs_param(root: &Area, s: &Survey, meta: &SweepMeta, sc: &Scatter, kpi: &str) -> Res {
    let unit = kpi_unit(kpi).1;
    let param = &meta.axis_label(&s.params[sc.axis], s.params[sc.axis].trim_start_matches("param_"));
    let subtitle = format!(
        "{}: each point's mean (dot) and 5-95 % of its {} replication(s) (bar); where values repeat, line and band average over the other axes",
        meta.name, meta.replications
    );
    let body = title(root, &format!("{kpi} by {param}"), &subtitle)?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    let pts = &sc.dots;
    let ((xlo, xhi), (ylo, yhi)) = (sc.x, sc.y);
    if !xlo.is_finite() || !ylo.is_finite() {
        main.draw(&Text::new("no values".to_string(), (40, 40), (FONT, 16)))?;
        return Ok(());
    }
    let pad_x = ((xhi - xlo) * 0.05).max(1e-9);
    // A constant KPI (up to rounding) gets a band of 5 % of its value around it.
    let pad_y = if yhi - ylo > 1e-9 * yhi.abs().max(1.0) { (yhi - ylo) * 0.08 } else { (yhi.abs() * 0.05).max(1e-3) };
    let (ylo, yhi) =
        if unit == "%" { ((ylo - pad_y).max(0.0) + pad_y, (yhi + pad_y).min(100.0) - pad_y) } else { (ylo, yhi) };
    let mut chart = ChartBuilder::on(&main)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((xlo - pad_x)..(xhi + pad_x), (ylo - pad_y)..(yhi + pad_y))?;
    chart
        .configure_mesh()
        .x_desc(param)
        .y_desc(format!("{}, {unit}", kpi.trim_start_matches("market_")))
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    // A y axis of positive values that does not start at zero shows a break at its foot.
    if ylo - pad_y > 0.0 {
        axis_break(root, chart.backend_coord(&(xlo - pad_x, ylo - pad_y)))?;
    }
    let c = colour(0);
    // Average over the other axes where values repeat.
    let repeated = sc.repeated;
    if repeated {
        let line = &sc.line;
        let xs: Vec<f64> = line.iter().map(|p| p.0).collect();
        let lo: Vec<f64> = line.iter().map(|p| p.1).collect();
        let hi: Vec<f64> = line.iter().map(|p| p.3).collect();
        chart.draw_series(std::iter::once(Polygon::new(band_polygon(&xs, &lo, &hi), c.mix(0.18).filled())))?;
        chart.draw_series(LineSeries::new(line.iter().map(|p| (p.0, p.2)), c.stroke_width(3)))?;
    }
    let grey = RGBColor(80, 80, 80);
    chart.draw_series(
        pts.iter()
            .filter_map(|p| Some(PathElement::new(vec![(p.0, p.2?), (p.0, p.3?)], grey.mix(0.6).stroke_width(2)))),
    )?;
    chart.draw_series(pts.iter().filter_map(|p| Some(Circle::new((p.0, p.1?), 3, grey.mix(0.8).filled()))))?;
    let mut items = vec![("point mean, 5-95 % bar".to_string(), grey)];
    if repeated {
        items.push(("average over other axes".to_string(), c));
        items.push(("band: average 5-95 %".to_string(), c.mix(0.18).to_rgba().into_rgb()));
    }
    let y = legend(&side, 8, 40, "", &items)?;
    // A large sweep: which points are drawn, and what the line averages.
    let mut note = Vec::new();
    if sc.stride > 1 {
        note.extend([
            format!("dots: one point in {}", sc.stride),
            format!("of the {} ({} drawn)", sc.total, pts.len()),
        ]);
        note.push("line and band: every point".to_string());
    }
    if sc.binned {
        note.extend([format!("averaged in {} bins", points::BINS), "of equal width".to_string()]);
    }
    let style = TextStyle::from((FONT, 12).into_font()).color(&RGBColor(90, 90, 90));
    for (j, line) in note.into_iter().enumerate() {
        side.draw(&Text::new(line, (8, y + 6 + 18 * j as i32), style.clone()))?;
    }
    Ok(())
}

/// A number for an axis label: few digits, no binary noise.
fn short(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Viridis-like colour of t in [0, 1].
fn heat_colour(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 } * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn heat(root: &Area, s: &Survey, meta: &SweepMeta, h: &points::Heat, kpi: &str) -> Res {
    let unit = kpi_unit(kpi).1;
    let (pa, pb) = h.axes;
    let (na, nb) = (
        &meta.axis_label(&s.params[pa], s.params[pa].trim_start_matches("param_")),
        &meta.axis_label(&s.params[pb], s.params[pb].trim_start_matches("param_")),
    );
    let body = title(
        root,
        &format!("{kpi} ({unit})"),
        &format!("{}: mean over replications, averaged over the other axes", meta.name),
    )?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    let (xs, ys, cells) = (&h.xs, &h.ys, &h.cells);
    let (lo, hi) = cells.values().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    // A KPI the same (up to rounding) in every cell gets one grey and no colour scale.
    let constant = hi - lo <= 1e-9 * hi.abs().max(lo.abs()).max(1e-12);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut chart = ChartBuilder::on(&main)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(-0.5..(xs.len() as f64 - 0.5), -0.5..(ys.len() as f64 - 0.5))?;
    let xl = xs.clone();
    let yl = ys.clone();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(na)
        .y_desc(nb)
        .x_labels(xs.len())
        .y_labels(ys.len())
        .x_label_formatter(&|x| label_at(&xl, *x))
        .y_label_formatter(&|y| label_at(&yl, *y))
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, x) in xs.iter().enumerate() {
        for (k, y) in ys.iter().enumerate() {
            let Some(&v) = cells.get(&(x.to_bits(), y.to_bits())) else { continue };
            let t = (v - lo) / span;
            let (cx, cy) = (i as f64, k as f64);
            let fill = if constant { RGBColor(210, 210, 210) } else { heat_colour(t) };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(cx - 0.5, cy - 0.5), (cx + 0.5, cy + 0.5)],
                fill.filled(),
            )))?;
            let ink = if t > 0.6 || constant { BLACK } else { WHITE };
            let style = TextStyle::from((FONT, 14).into_font()).color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(short(v), (cx, cy), style)))?;
        }
    }
    // Colour scale.
    side.draw(&Text::new(unit.to_string(), (8, 130), (FONT, 14).into_font().style(FontStyle::Bold)))?;
    if constant {
        side.draw(&Text::new(format!("the same in every cell: {}", short(lo)), (8, 155), (FONT, 13)))?;
        side.draw(&Text::new("(no colour scale)".to_string(), (8, 175), (FONT, 13)))?;
        return Ok(());
    }
    for k in 0..=10 {
        let t = 1.0 - f64::from(k) / 10.0;
        let y = 155 + k * 22;
        side.draw(&Rectangle::new([(8, y), (30, y + 22)], heat_colour(t).filled()))?;
        side.draw(&Text::new(short(lo + t * span), (36, y + 4), (FONT, 13)))?;
    }
    Ok(())
}

/// The value label of category position `x` (only at whole positions).
fn label_at(values: &[f64], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    values.get(i as usize).map_or_else(String::new, |v| short(*v))
}

/// File name of a KPI's sensitivity chart: `sensitivity_<kpi>.svg`, characters other than
/// letters, digits, `_` and `-` as `_`.
pub fn sensitivity_file(kpi: &str) -> String {
    let safe: String =
        kpi.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("sensitivity_{safe}.svg")
}

/// The sensitivity charts of `sensitivity.csv`, one per KPI with indices: (file name, SVG).
pub fn sensitivity_charts(sens: &Sensitivity, meta: &SweepMeta) -> Vec<(String, String)> {
    sens.kpis
        .iter()
        .filter(|k| k.has_values())
        .map(|k| {
            let svg = match sens.method {
                SensMethod::Sobol => svg(|root| sobol_bars(root, k, meta)),
                SensMethod::Morris => svg(|root| morris_scatter(root, k, meta)),
            };
            (sensitivity_file(&k.kpi), svg)
        })
        .collect()
}

fn noise_note(k: &KpiIndices) -> String {
    k.noise_share
        .map_or_else(String::new, |s| format!("; replication noise: {:.0} % of the run-to-run variance", 100.0 * s))
}

/// Labels of the parameters on a chart: the full path where the longest fits in `room` px at
/// 13 px, else the short [`param_label`]s.
fn sens_labels(k: &KpiIndices, room: f64) -> Vec<String> {
    let paths: Vec<String> = k.params.iter().map(|p| p.param.clone()).collect();
    if paths.iter().all(|p| text_w(p, 13.0) <= room) {
        paths
    } else {
        (0..paths.len()).map(|j| param_label(&paths, j)).collect()
    }
}

/// Horizontal bars of S1 and ST per parameter with their 95 % intervals, the largest ST on top.
fn sobol_bars(root: &Area, k: &KpiIndices, meta: &SweepMeta) -> Res {
    let body = title(
        root,
        &format!("Sobol indices of {}", k.kpi),
        &format!(
            "{}: first-order (S1) and total (ST) index per varied parameter, 95 % bootstrap interval{}",
            meta.name,
            noise_note(k)
        ),
    )?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    let labels = sens_labels(k, 330.0);
    let label_w = labels.iter().map(|l| text_w(l, 13.0)).fold(0.0, f64::max).ceil() as u32 + 14;
    // Rows: the largest ST first (on top).
    let mut order: Vec<usize> = (0..k.params.len()).collect();
    let st = |i: usize| k.params[i].values[2].unwrap_or(f64::NEG_INFINITY);
    order.sort_by(|&a, &b| st(b).total_cmp(&st(a)).then(a.cmp(&b)));
    let n = order.len().max(1) as f64;
    // x: 0 to 1, widened (up to -0.5 and 1.5) for estimates and intervals outside it.
    let ends = k.params.iter().flat_map(|p| {
        let v = p.values;
        [(v[0], v[1]), (v[2], v[3])]
            .into_iter()
            .filter_map(|(x, c)| x.map(|x| (x - c.unwrap_or(0.0), x + c.unwrap_or(0.0))))
    });
    let (lo, hi) = ends.fold((0.0_f64, 1.0_f64), |(a, b), (l, h)| (a.min(l), b.max(h)));
    let (lo, hi) = (lo.max(-0.5), hi.min(1.5));
    let clamp = |x: f64| x.clamp(lo, hi);
    let mut chart = ChartBuilder::on(&main)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(label_w)
        .build_cartesian_2d(lo..hi, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("index (share of the KPI's variance over the design)")
        .x_label_formatter(&|x| short(*x))
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let (s1c, stc) = (colour(0), colour(3));
    let ink = RGBColor(40, 40, 40);
    for (rank, &i) in order.iter().enumerate() {
        let top = n - rank as f64;
        let v = k.params[i].values;
        // S1 in the upper half of the row, ST in the lower.
        for (val, conf, (y0, y1), c) in
            [(v[0], v[1], (top - 0.47, top - 0.15), s1c), (v[2], v[3], (top - 0.85, top - 0.53), stc)]
        {
            let Some(x) = val else { continue };
            chart.draw_series(std::iter::once(Rectangle::new([(clamp(0.0), y0), (clamp(x), y1)], c.filled())))?;
            if let Some(h) = conf {
                let ym = (y0 + y1) / 2.0;
                let (a, b) = (clamp(x - h), clamp(x + h));
                let cap = (y1 - y0) * 0.3;
                chart.draw_series([
                    PathElement::new(vec![(a, ym), (b, ym)], ink.stroke_width(1)),
                    PathElement::new(vec![(a, ym - cap), (a, ym + cap)], ink.stroke_width(1)),
                    PathElement::new(vec![(b, ym - cap), (b, ym + cap)], ink.stroke_width(1)),
                ])?;
            }
        }
        // The parameter's name, right-aligned against the axis, centred on its row.
        let (px, py) = chart.backend_coord(&(lo, top - 0.5));
        let base = main.get_base_pixel();
        let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
        main.draw(&Text::new(labels[i].clone(), (px - base.0 - 6, py - base.1), style))?;
    }
    if lo < 0.0 {
        chart.draw_series(std::iter::once(PathElement::new(vec![(0.0, 0.0), (0.0, n)], BLACK.mix(0.5))))?;
    }
    let y = legend(&side, 8, 40, "index", &[("S1: first-order".to_string(), s1c), ("ST: total".to_string(), stc)])?;
    let note = TextStyle::from((FONT, 12).into_font()).color(&RGBColor(90, 90, 90));
    for (j, line) in [
        "line: 95 % interval",
        "ST - S1: the parameter's",
        "interactions; ST near 0:",
        "the KPI hardly depends",
        "on it",
    ]
    .iter()
    .enumerate()
    {
        side.draw(&Text::new(line.to_string(), (8, y + 18 * j as i32), note.clone()))?;
    }
    Ok(())
}

/// mu* (importance) against sigma (non-linearity or interactions), a labelled dot per parameter
/// with its 95 % interval of mu*.
fn morris_scatter(root: &Area, k: &KpiIndices, meta: &SweepMeta) -> Res {
    let (scale, unit) = kpi_unit(&k.kpi);
    let unit = if unit == "%" { "percentage points" } else { unit };
    let unit_text = if unit.is_empty() { String::new() } else { format!(", {unit}") };
    let body = title(
        root,
        &format!("Morris screening of {}", k.kpi),
        &format!(
            "{}: mean absolute elementary effect (mu*) and spread (sigma) per varied parameter{}",
            meta.name,
            noise_note(k)
        ),
    )?;
    let (main, side) = body.split_horizontally(W - LEGEND_W);
    // (index, mu*, sigma, mu* half-width), scaled.
    let pts: Vec<(usize, f64, f64, f64)> = k
        .params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let v = p.values;
            Some((i, v[1]? * scale, v[2].unwrap_or(0.0) * scale, v[3].unwrap_or(0.0) * scale))
        })
        .collect();
    let xmax = pts.iter().map(|p| p.1 + p.3).fold(0.0, f64::max);
    let ymax = pts.iter().map(|p| p.2).fold(0.0, f64::max);
    let top = xmax.max(ymax);
    let (xmax, ymax) = if top > 0.0 { (xmax.max(top * 0.05) * 1.12, ymax.max(top * 0.05) * 1.12) } else { (1.0, 1.0) };
    let mut chart = ChartBuilder::on(&main)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
    chart
        .configure_mesh()
        .x_desc(format!("mu*: mean |elementary effect|{unit_text}"))
        .y_desc(format!("sigma{unit_text}"))
        .x_label_formatter(&|x| short(*x))
        .y_label_formatter(&|y| short(*y))
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    // sigma = mu*: above it, effects vary much with where the others stand.
    let m = xmax.min(ymax);
    chart.draw_series(std::iter::once(PathElement::new(vec![(0.0, 0.0), (m, m)], BLACK.mix(0.3).stroke_width(1))))?;
    let c = colour(0);
    for p in &pts {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(p.1 - p.3, p.2), (p.1 + p.3, p.2)],
            c.mix(0.6).stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Circle::new((p.1, p.2), 4, c.filled())))?;
    }
    // Labels: greedily beside their dot (right, left, above, below) where they overlap no other
    // label or dot and stay in the plot; a dot with no room gets a number, named in the legend.
    let paths: Vec<String> = k.params.iter().map(|p| p.param.clone()).collect();
    let base = main.get_base_pixel();
    let (plot_x, plot_y) = {
        let a = chart.backend_coord(&(0.0, ymax));
        let b = chart.backend_coord(&(xmax, 0.0));
        (a.0..b.0, a.1..b.1)
    };
    let dots: Vec<(i32, i32)> = pts.iter().map(|p| chart.backend_coord(&(p.1, p.2))).collect();
    let mut taken: Vec<[i32; 4]> = dots.iter().map(|d| [d.0 - 5, d.1 - 5, d.0 + 5, d.1 + 5]).collect();
    // The interval lines too.
    for p in &pts {
        let (a, b) = (chart.backend_coord(&(p.1 - p.3, p.2)), chart.backend_coord(&(p.1 + p.3, p.2)));
        taken.push([a.0, a.1 - 2, b.0, b.1 + 2]);
    }
    let overlaps = |a: &[i32; 4], b: &[i32; 4]| a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
    let mut order: Vec<usize> = (0..pts.len()).collect();
    order.sort_by(|&a, &b| pts[b].1.total_cmp(&pts[a].1).then(a.cmp(&b)));
    let mut numbered: Vec<(String, RGBColor)> = Vec::new();
    for &q in &order {
        let (d, label) = (dots[q], param_label(&paths, pts[q].0));
        let (w, h) = (text_w(&label, 13.0).ceil() as i32, 15);
        let candidates = [
            [d.0 + 8, d.1 - h / 2, d.0 + 8 + w, d.1 + h / 2],
            [d.0 - 8 - w, d.1 - h / 2, d.0 - 8, d.1 + h / 2],
            [d.0 - w / 2, d.1 - 8 - h, d.0 + w / 2 + 1, d.1 - 8],
            [d.0 - w / 2, d.1 + 8, d.0 + w / 2 + 1, d.1 + 8 + h],
            [d.0 + 4, d.1 - 6 - h, d.0 + 4 + w, d.1 - 6],
            [d.0 - 4 - w, d.1 - 6 - h, d.0 - 4, d.1 - 6],
            [d.0 + 4, d.1 + 6, d.0 + 4 + w, d.1 + 6 + h],
            [d.0 - 4 - w, d.1 + 6, d.0 - 4, d.1 + 6 + h],
        ];
        let fits = |r: &[i32; 4]| {
            r[0] >= plot_x.start
                && r[2] <= plot_x.end
                && r[1] >= plot_y.start
                && r[3] <= plot_y.end
                && !taken.iter().any(|t| overlaps(r, t))
        };
        let (text, rect) = match candidates.iter().find(|r| fits(r)) {
            Some(r) => (label, *r),
            None => {
                let number = format!("{}", numbered.len() + 1);
                numbered.push((format!("{number}: {label}"), WHITE));
                let w = text_w(&number, 13.0).ceil() as i32;
                (number, [d.0 + 6, d.1 - 14, d.0 + 6 + w, d.1 - 1])
            }
        };
        let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
        main.draw(&Text::new(text, (rect[0] - base.0, rect[1] - base.1), style))?;
        taken.push(rect);
    }
    let y = legend(
        &side,
        8,
        40,
        "",
        &[("mu* and sigma".to_string(), c), ("mu*: 95 % interval".to_string(), c.mix(0.6).to_rgba().into_rgb())],
    )?;
    let note = TextStyle::from((FONT, 12).into_font()).color(&RGBColor(90, 90, 90));
    let mut lines = vec![
        "grey line: sigma = mu*;".to_string(),
        "above it the effect depends".to_string(),
        "much on the other parameters".to_string(),
        "(non-linear or interacting)".to_string(),
    ];
    if !numbered.is_empty() {
        lines.push(String::new());
        lines.extend(numbered.into_iter().map(|(t, _)| t));
    }
    for (j, line) in lines.iter().enumerate() {
        side.draw(&Text::new(line.clone(), (8, y + 18 * j as i32), note.clone()))?;
    }
    Ok(())
}
