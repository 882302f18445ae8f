//! A sweep's `points.csv`, read one point at a time, and the bounded digests of it that the
//! sweep's derived files are made from: `points_wide.csv` is written while reading, and the
//! charts and `report.html` draw digests whose size depends on the design's dimensions
//! (parameters, KPIs, distinct values per axis), never on its number of points. A 100,000-point
//! sweep is summarised in the memory of a 1,000-point one.
//!
//! Two passes over the file: [`write_wide`] writes `points_wide.csv` and surveys the axes
//! (numeric or not, range, distinct values up to a cap) and keeps the first [`TABLE_ROWS`]
//! points for the report's table; [`digest`] then fills the chart digests. Every figure comes
//! from the file in point order, so the digests are the same for any `--jobs` or shard split.
//!
//! What a chart of a KPI against one axis draws ([`Scatter`]): every point when the sweep has
//! at most [`MAX_DOTS`]; beyond that every k-th point (k = ceil(points / MAX_DOTS)), the chart
//! saying so. Its average line and band always use every point: one group per distinct value
//! of the axis, or, when a sweep of more than [`MAX_DOTS`] points has more than
//! [`MAX_GROUPS`] distinct values, [`BINS`] equal-width bins over the axis' range. A heat map
//! ([`Heat`]) needs axes of at most [`HEAT_MAX`] distinct values.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::error::InputError;
use crate::output::columns;
use crate::report::table::Table;

/// Points drawn one by one on a chart; a larger sweep draws a regular subsample.
pub const MAX_DOTS: usize = 1000;
/// Distinct values of an axis averaged one by one; more (in a sweep of more than
/// [`MAX_DOTS`] points) are averaged in [`BINS`] bins.
pub const MAX_GROUPS: usize = 200;
/// Bins of an axis with more than [`MAX_GROUPS`] distinct values.
pub const BINS: usize = 100;
/// Distinct values an axis may have to be one side of a heat map.
pub const HEAT_MAX: usize = 60;
/// Points listed in the report's table (all are in `points_wide.csv`).
pub const TABLE_ROWS: usize = 500;

/// One point of `points.csv`: its cells, as text.
#[derive(Debug, Clone)]
pub struct PointRow {
    /// `point` cell.
    pub point: String,
    /// Parameter cells, in `[[vary]]` order.
    pub params: Vec<String>,
    /// Per KPI (in the file's KPI order): mean, sd, p05, p50, p95, n cells.
    pub stats: Vec<[String; 6]>,
}

fn parse(cell: &str) -> Option<f64> {
    cell.parse().ok()
}

/// `points.csv`, read one point at a time (rows grouped by point, every point with the first
/// point's KPIs in the same order).
pub struct Points {
    table: Table,
    kpi_col: usize,
    /// Parameter column names (`param_<path>`).
    pub params: Vec<String>,
    /// KPI names (known once the first point is read).
    pub kpis: Vec<String>,
    /// The first row of the next point.
    pending: Option<csv::StringRecord>,
}

impl Points {
    /// Open `dir/points.csv`.
    pub fn open(dir: &Path) -> Result<Points> {
        let table = Table::open(dir, crate::output::names::POINTS)?;
        let kpi_col = table.col(columns::points::KPI)?;
        let params = table.header.get(1..kpi_col).unwrap_or_default().to_vec();
        let mut points = Points { table, kpi_col, params, kpis: Vec::new(), pending: None };
        points.pending = points.read()?;
        Ok(points)
    }

    fn read(&mut self) -> Result<Option<csv::StringRecord>> {
        let mut record = csv::StringRecord::new();
        if !self.table.next(&mut record)? {
            return Ok(None);
        }
        if record.len() != self.table.header.len() {
            return Err(InputError::new(format!(
                "points.csv:{}: expected {} cells, found {}",
                Table::line(&record),
                self.table.header.len(),
                record.len()
            ))
            .into());
        }
        Ok(Some(record))
    }

    /// The next point, or `None` at the end of the file.
    pub fn next_point(&mut self) -> Result<Option<PointRow>> {
        let Some(first) = self.pending.take() else { return Ok(None) };
        let learning = self.kpis.is_empty();
        let kc = self.kpi_col;
        let mut row = PointRow {
            point: first[0].to_string(),
            params: (1..kc).map(|i| first[i].to_string()).collect(),
            stats: Vec::new(),
        };
        let mut record = Some(first);
        let mut line = 0;
        while let Some(r) = record {
            if r[0] != row.point {
                self.pending = Some(r);
                break;
            }
            line = Table::line(&r);
            let k = row.stats.len();
            if learning {
                self.kpis.push(r[kc].to_string());
            } else if self.kpis.get(k).is_none_or(|name| name != &r[kc]) {
                return Err(InputError::new(format!(
                    "points.csv:{line}: KPI \"{}\" out of order (expected the first point's order)",
                    &r[kc]
                ))
                .into());
            }
            let cell = |i: usize| r.get(kc + i).unwrap_or("").to_string();
            row.stats.push([cell(1), cell(2), cell(3), cell(4), cell(5), cell(6)]);
            record = self.read()?;
        }
        if row.stats.len() != self.kpis.len() {
            return Err(InputError::new(format!(
                "points.csv:{line}: point {} has {} KPI row(s), the first point {}",
                row.point,
                row.stats.len(),
                self.kpis.len()
            ))
            .with_hint("the file was cut or edited; make it again with `chipmarket merge` or a sweep")
            .into());
        }
        Ok(Some(row))
    }
}

/// What the first pass learns of one parameter.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Every point's cell is a number.
    pub numeric: bool,
    /// Smallest and largest value (of the cells that are numbers).
    pub range: (f64, f64),
    /// The distinct values, sorted, as long as there are at most [`MAX_GROUPS`]; `None` beyond.
    pub distinct: Option<Vec<f64>>,
}

/// The first pass over `points.csv` ([`write_wide`]).
#[derive(Debug, Clone)]
pub struct Survey {
    /// Parameter column names (`param_<path>`).
    pub params: Vec<String>,
    /// KPI names.
    pub kpis: Vec<String>,
    /// Number of points.
    pub points: usize,
    /// One per parameter.
    pub axes: Vec<Axis>,
    /// The first [`TABLE_ROWS`] points.
    pub first: Vec<PointRow>,
}

impl Survey {
    /// Position of `kpi` in [`Survey::kpis`] (and in each point's `stats`), if the sweep has it.
    pub fn kpi(&self, kpi: &str) -> Option<usize> {
        self.kpis.iter().position(|k| k == kpi)
    }

    /// The parameters whose every cell is a number.
    pub fn numeric(&self) -> Vec<usize> {
        (0..self.axes.len()).filter(|&j| self.axes[j].numeric).collect()
    }
}

/// Read `dir/points.csv` once, writing `points_wide.csv` to `wide` (`point`, the parameter
/// columns, then for each KPI `<kpi>_mean`, `_sd`, `_p05`, `_p50`, `_p95`, `_n`) and surveying
/// the axes.
pub fn write_wide(dir: &Path, wide: &mut dyn Write) -> Result<Survey> {
    let mut points = Points::open(dir)?;
    let first_point = points.next_point()?;
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(wide);
    let mut header = vec![columns::points::POINT.to_string()];
    header.extend(points.params.iter().cloned());
    for k in &points.kpis {
        header.extend(columns::STATS.map(|x| format!("{k}_{x}")));
    }
    w.write_record(crate::output::csv::safe(&header))?;
    let n_params = points.params.len();
    let mut axes: Vec<(bool, f64, f64, BTreeSet<u64>)> =
        vec![(true, f64::INFINITY, f64::NEG_INFINITY, BTreeSet::new()); n_params];
    let mut first = Vec::new();
    let mut n = 0;
    let mut next = first_point;
    while let Some(p) = next {
        let mut row = Vec::with_capacity(1 + n_params + 6 * p.stats.len());
        row.push(p.point.as_str());
        row.extend(p.params.iter().map(String::as_str));
        row.extend(p.stats.iter().flat_map(|st| st.iter().map(String::as_str)));
        w.write_record(crate::output::csv::safe(&row))?;
        for (axis, cell) in axes.iter_mut().zip(&p.params) {
            match parse(cell) {
                Some(x) => {
                    axis.1 = axis.1.min(x);
                    axis.2 = axis.2.max(x);
                    if axis.3.len() <= MAX_GROUPS {
                        axis.3.insert(x.to_bits());
                    }
                }
                None => axis.0 = false,
            }
        }
        n += 1;
        if first.len() < TABLE_ROWS {
            first.push(p);
        }
        next = points.next_point()?;
    }
    w.flush()?;
    let axes = axes
        .into_iter()
        .map(|(numeric, lo, hi, set)| {
            let distinct = (set.len() <= MAX_GROUPS).then(|| {
                let mut v: Vec<f64> = set.into_iter().map(f64::from_bits).collect();
                v.sort_by(f64::total_cmp);
                v
            });
            Axis { numeric, range: (lo, hi), distinct }
        })
        .collect();
    Ok(Survey { params: points.params, kpis: points.kpis, points: n, axes, first })
}

/// A point on a chart of a KPI against one axis: the axis value, then the KPI's mean, p05
/// and p95 (scaled).
pub type Dot = (f64, Option<f64>, Option<f64>, Option<f64>);

/// The digest of a chart of one KPI against one numeric axis.
#[derive(Debug, Clone)]
pub struct Scatter {
    /// The KPI (position in [`Survey::kpis`]) and the axis (position in [`Survey::params`]).
    pub kpi: usize,
    /// See `kpi`.
    pub axis: usize,
    /// Every `stride`-th point is in `dots` (1: all of them).
    pub stride: usize,
    /// The points drawn, in point order.
    pub dots: Vec<Dot>,
    /// Points on the chart (all of them, drawn or not).
    pub total: usize,
    /// Range of the axis over every point.
    pub x: (f64, f64),
    /// Range of the means, p05s and p95s over every point.
    pub y: (f64, f64),
    /// The groups (a distinct value or a bin), sorted by x: (x, average p05, average mean,
    /// average p95) over the points of the group with all three.
    pub line: Vec<(f64, f64, f64, f64)>,
    /// Fewer groups than points: some values repeat (or the axis is binned).
    pub repeated: bool,
    /// The groups are bins ([`BINS`]), not distinct values.
    pub binned: bool,
}

/// The digest of a heat map of one KPI over two axes (their distinct values).
#[derive(Debug, Clone)]
pub struct Heat {
    /// The KPI (position in [`Survey::kpis`]).
    pub kpi: usize,
    /// The two axes (positions in [`Survey::params`]).
    pub axes: (usize, usize),
    /// The distinct values of the first and the second axis, sorted.
    pub xs: Vec<f64>,
    /// See `xs`.
    pub ys: Vec<f64>,
    /// Per pair of values (as bits), the average of the points' means (scaled).
    pub cells: BTreeMap<(u64, u64), f64>,
}

/// What [`digest`] is asked for: a chart of a KPI against an axis, with the KPI's scale.
#[derive(Debug, Clone, Copy)]
pub struct ScatterPlan {
    /// KPI position.
    pub kpi: usize,
    /// Axis position.
    pub axis: usize,
    /// Factor applied to the KPI's values.
    pub scale: f64,
}

/// What [`digest`] is asked for: a heat map of a KPI over two axes.
#[derive(Debug, Clone, Copy)]
pub struct HeatPlan {
    /// KPI position.
    pub kpi: usize,
    /// Axis positions.
    pub axes: (usize, usize),
    /// Factor applied to the KPI's values.
    pub scale: f64,
}

/// A sum in the order of the values, starting where the standard library's float sum starts.
#[derive(Debug, Clone, Copy)]
struct Sum(f64);

impl Sum {
    fn new() -> Sum {
        Sum(std::iter::empty::<f64>().sum())
    }
    fn add(&mut self, x: f64) {
        self.0 += x;
    }
}

struct Group {
    x: f64,
    n: usize,
    mean: Sum,
    lo: Sum,
    hi: Sum,
}

struct ScatterAcc {
    plan: ScatterPlan,
    stride: usize,
    bins: Option<(f64, f64)>,
    dots: Vec<Dot>,
    y: (f64, f64),
    groups: BTreeMap<u64, Group>,
}

impl ScatterAcc {
    fn add(&mut self, index: usize, p: &PointRow) {
        let Some(x) = parse(&p.params[self.plan.axis]) else { return };
        let st = &p.stats[self.plan.kpi];
        let scale = self.plan.scale;
        let dot: Dot =
            (x, parse(&st[0]).map(|v| v * scale), parse(&st[2]).map(|v| v * scale), parse(&st[4]).map(|v| v * scale));
        for v in [dot.1, dot.2, dot.3].into_iter().flatten() {
            self.y = (self.y.0.min(v), self.y.1.max(v));
        }
        let (key, gx) = match self.bins {
            None => (x.to_bits(), x),
            Some((lo, hi)) => {
                let w = (hi - lo) / BINS as f64;
                let b = if w > 0.0 { (((x - lo) / w).floor() as usize).min(BINS - 1) } else { 0 };
                (b as u64, lo + (b as f64 + 0.5) * w)
            }
        };
        let g =
            self.groups.entry(key).or_insert(Group { x: gx, n: 0, mean: Sum::new(), lo: Sum::new(), hi: Sum::new() });
        if let (Some(m), Some(lo), Some(hi)) = (dot.1, dot.2, dot.3) {
            g.n += 1;
            g.mean.add(m);
            g.lo.add(lo);
            g.hi.add(hi);
        }
        if index.is_multiple_of(self.stride) {
            self.dots.push(dot);
        }
    }

    fn finish(self, survey: &Survey) -> Scatter {
        let total = survey.points;
        let repeated = self.groups.len() < total;
        let mut line: Vec<(f64, f64, f64, f64)> = self
            .groups
            .values()
            .filter(|g| g.n > 0)
            .map(|g| {
                let n = g.n as f64;
                (g.x, g.lo.0 / n, g.mean.0 / n, g.hi.0 / n)
            })
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        Scatter {
            kpi: self.plan.kpi,
            axis: self.plan.axis,
            stride: self.stride,
            dots: self.dots,
            total,
            x: survey.axes[self.plan.axis].range,
            y: self.y,
            line,
            repeated,
            binned: self.bins.is_some(),
        }
    }
}

struct HeatAcc {
    plan: HeatPlan,
    cells: BTreeMap<(u64, u64), (usize, Sum)>,
}

/// Whether an axis can be a side of a heat map.
pub fn heat_axis(axis: &Axis) -> bool {
    axis.numeric && axis.distinct.as_ref().is_some_and(|d| d.len() <= HEAT_MAX)
}

/// Read `dir/points.csv` again and fill the digests of `scatters` and `heats` (axes numeric,
/// as [`Survey::numeric`]; heat axes as [`heat_axis`]).
pub fn digest(
    dir: &Path,
    survey: &Survey,
    scatters: &[ScatterPlan],
    heats: &[HeatPlan],
) -> Result<(Vec<Scatter>, Vec<Heat>)> {
    let stride = survey.points.div_ceil(MAX_DOTS).max(1);
    let mut sc: Vec<ScatterAcc> = scatters
        .iter()
        .map(|&plan| {
            let axis = &survey.axes[plan.axis];
            let bins = (survey.points > MAX_DOTS && axis.distinct.is_none()).then_some(axis.range);
            ScatterAcc {
                plan,
                stride,
                bins,
                dots: Vec::new(),
                y: (f64::INFINITY, f64::NEG_INFINITY),
                groups: BTreeMap::new(),
            }
        })
        .collect();
    let mut ht: Vec<HeatAcc> = heats.iter().map(|&plan| HeatAcc { plan, cells: BTreeMap::new() }).collect();
    let mut points = Points::open(dir)?;
    let mut index = 0;
    while let Some(p) = points.next_point()? {
        if p.params.len() != survey.params.len() || p.stats.len() != survey.kpis.len() {
            return Err(InputError::new("points.csv changed while it was read").into());
        }
        for a in &mut sc {
            a.add(index, &p);
        }
        for h in &mut ht {
            let (a, b) = h.plan.axes;
            let (Some(x), Some(y)) = (parse(&p.params[a]), parse(&p.params[b])) else { continue };
            if let Some(m) = parse(&p.stats[h.plan.kpi][0]) {
                let c = h.cells.entry((x.to_bits(), y.to_bits())).or_insert((0, Sum::new()));
                c.0 += 1;
                c.1.add(m * h.plan.scale);
            }
        }
        index += 1;
    }
    if index != survey.points {
        return Err(InputError::new("points.csv changed while it was read").into());
    }
    let scatters = sc.into_iter().map(|a| a.finish(survey)).collect();
    let heats = ht
        .into_iter()
        .map(|h| {
            let (a, b) = h.plan.axes;
            let values = |j: usize| survey.axes[j].distinct.clone().unwrap_or_default();
            Heat {
                kpi: h.plan.kpi,
                axes: (a, b),
                xs: values(a),
                ys: values(b),
                cells: h.cells.into_iter().map(|(k, (n, s))| (k, s.0 / n as f64)).collect(),
            }
        })
        .collect();
    Ok((scatters, heats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(points: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("points.csv"), points).unwrap();
        dir
    }

    fn wide(dir: &Path) -> Result<(String, Survey)> {
        let mut out = Vec::new();
        let s = write_wide(dir, &mut out)?;
        Ok((String::from_utf8(out).unwrap(), s))
    }

    #[test]
    fn points_become_one_row_each() {
        let dir = folder(
            "point,param_x,kpi,mean,sd,p05,p50,p95,n\n0,0.5,k1,2,1,1,2,3,2\n0,0.5,k2,,,,,,0\n1,1,k1,4,,4,4,4,1\n1,1,k2,5,,5,5,5,1\n",
        );
        let (text, s) = wide(dir.path()).unwrap();
        assert_eq!(
            text,
            "point,param_x,k1_mean,k1_sd,k1_p05,k1_p50,k1_p95,k1_n,k2_mean,k2_sd,k2_p05,k2_p50,k2_p95,k2_n\n\
             0,0.5,2,1,1,2,3,2,,,,,,0\n1,1,4,,4,4,4,1,5,,5,5,5,1\n"
        );
        assert_eq!((s.points, s.kpis.clone(), s.first.len()), (2, vec!["k1".to_string(), "k2".to_string()], 2));
        assert_eq!(s.axes[0].distinct, Some(vec![0.5, 1.0]));
    }

    #[test]
    fn a_damaged_file_names_its_line() {
        let bad_order = "point,param_x,kpi,mean,sd,p05,p50,p95,n\n0,1,a,1,,1,1,1,1\n0,1,b,1,,1,1,1,1\n\
                         1,2,b,1,,1,1,1,1\n1,2,a,1,,1,1,1,1\n";
        let err = wide(folder(bad_order).path()).unwrap_err().to_string();
        assert!(err.contains("points.csv:4: KPI \"b\" out of order"), "{err}");
        let short = "point,param_x,kpi,mean,sd,p05,p50,p95,n\n0,1,a,1,,1,1,1,1\n0,1,b,1,,1,1,1,1\n1,2,a,1,,1,1,1,1\n";
        let err = wide(folder(short).path()).unwrap_err().to_string();
        assert!(err.contains("points.csv:4: point 1 has 1 KPI row(s), the first point 2"), "{err}");
        let cells = "point,param_x,kpi,mean,sd,p05,p50,p95,n\n0,1,a,1,,1,1,1\n";
        let err = wide(folder(cells).path()).unwrap_err().to_string();
        assert!(err.starts_with("points.csv: ") && err.contains("line: 2"), "{err}");
    }

    /// `n` points on one axis, x = i mod `values`, the KPI's mean = x + i / n.
    fn grid(n: usize, values: usize) -> String {
        let mut s = "point,param_x,kpi,mean,sd,p05,p50,p95,n\n".to_string();
        for i in 0..n {
            let x = (i % values) as f64;
            let m = x + i as f64 / n as f64;
            s.push_str(&format!("{i},{x},k,{m},,{},{m},{},1\n", m - 1.0, m + 1.0));
        }
        s
    }

    #[test]
    fn a_large_sweep_draws_a_regular_subsample_and_averages_every_point() {
        let n = 5 * MAX_DOTS + 3;
        let dir = folder(&grid(n, 7));
        let (_, s) = wide(dir.path()).unwrap();
        let plan = [ScatterPlan { kpi: 0, axis: 0, scale: 2.0 }];
        let (sc, _) = digest(dir.path(), &s, &plan, &[]).unwrap();
        let c = &sc[0];
        assert_eq!((c.stride, c.total, c.dots.len()), (6, n, n.div_ceil(6)));
        assert!(c.dots.len() <= MAX_DOTS);
        // The 7th dot is point 36: x = 1, mean 2 * (1 + 36 / n).
        assert_eq!(c.dots[6].0, 1.0);
        assert!((c.dots[6].1.unwrap() - 2.0 * (1.0 + 36.0 / n as f64)).abs() < 1e-12);
        // Seven groups over every point: value 0 holds i = 0, 7, 14, ...
        assert!(c.repeated && !c.binned);
        assert_eq!(c.line.len(), 7);
        let members: Vec<f64> = (0..n).filter(|i| i % 7 == 0).map(|i| 2.0 * (i as f64 / n as f64)).collect();
        let avg = members.iter().sum::<f64>() / members.len() as f64;
        assert_eq!(c.line[0].2, avg, "the same sum in the same order as over a list");
        let highest = (0..n).map(|i| (i % 7) as f64 + i as f64 / n as f64 + 1.0).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(c.y, (-2.0, 2.0 * highest), "ranges over every point, not only those drawn");
    }

    #[test]
    fn many_distinct_values_in_a_large_sweep_are_binned() {
        let n = 2 * MAX_DOTS;
        let dir = folder(&grid(n, n));
        let (_, s) = wide(dir.path()).unwrap();
        assert!(s.axes[0].distinct.is_none(), "more than MAX_GROUPS values are not kept");
        assert!(!heat_axis(&s.axes[0]));
        let (sc, _) = digest(dir.path(), &s, &[ScatterPlan { kpi: 0, axis: 0, scale: 1.0 }], &[]).unwrap();
        let c = &sc[0];
        assert!(c.binned && c.repeated);
        assert_eq!(c.line.len(), BINS);
        let w = (n - 1) as f64 / BINS as f64;
        assert_eq!(c.line[0].0, 0.5 * w, "a bin is drawn at its centre");
        // A small sweep keeps every value as its own group, unbinned, whatever their number.
        let dir = folder(&grid(MAX_DOTS, MAX_DOTS));
        let (_, s) = wide(dir.path()).unwrap();
        let (sc, _) = digest(dir.path(), &s, &[ScatterPlan { kpi: 0, axis: 0, scale: 1.0 }], &[]).unwrap();
        assert!(!sc[0].binned && !sc[0].repeated);
        assert_eq!((sc[0].stride, sc[0].dots.len(), sc[0].line.len()), (1, MAX_DOTS, MAX_DOTS));
    }

    #[test]
    fn a_heat_map_averages_each_pair_of_values() {
        let dir = folder(
            "point,param_a,param_b,kpi,mean,sd,p05,p50,p95,n\n0,1,10,k,1,,1,1,1,1\n1,1,20,k,2,,2,2,2,1\n\
             2,2,10,k,3,,3,3,3,1\n3,1,10,k,5,,5,5,5,1\n4,2,20,k,,,,,,0\n",
        );
        let (_, s) = wide(dir.path()).unwrap();
        assert!(heat_axis(&s.axes[0]) && heat_axis(&s.axes[1]));
        let (_, heats) = digest(dir.path(), &s, &[], &[HeatPlan { kpi: 0, axes: (0, 1), scale: 10.0 }]).unwrap();
        let h = &heats[0];
        assert_eq!((h.xs.clone(), h.ys.clone()), (vec![1.0, 2.0], vec![10.0, 20.0]));
        let cell = |x: f64, y: f64| h.cells.get(&(x.to_bits(), y.to_bits())).copied();
        assert_eq!(
            (cell(1.0, 10.0), cell(1.0, 20.0), cell(2.0, 10.0), cell(2.0, 20.0)),
            (Some(30.0), Some(20.0), Some(30.0), None)
        );
    }
}
