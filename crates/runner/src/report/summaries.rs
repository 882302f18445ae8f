//! Statistics over replications, by quarter and by year, from the quarterly CSV files of a run
//! (`market_quarterly.csv`, `firms_quarterly.csv`), and the files made from them:
//! `market_summary.csv`, `firms_summary.csv` (long: one row per period, firm and variable),
//! `shares_wide.csv` and `gaps_wide.csv` (one row per quarter, for a spreadsheet chart). A
//! sweep's `points_wide.csv` is made by `report::points`.
//!
//! Yearly values of one replication (docs/outputs.md says which column is which):
//! flows are summed over the year's quarters, stocks and levels are taken at the year's last
//! quarter, and shares are ratios of yearly sums (a firm's compute shipped over all firms'
//! compute shipped; the domestic share of the market is weighted by compute delivered).
//! Statistics are those of `points.csv` (`batch::stats`): mean, sample sd, p05, p50, p95 (type
//! 7), over the replications that have a value. The domestic total (`domestic_total`) adds up
//! the domestic firms' additive columns (flows, stocks, shares). Files are read streaming; memory
//! grows with quarters x firms x replications (8 bytes a cell), never with contracts.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::batch::stats::{stats, Stats};
use crate::output::columns;
use crate::output::csv::opt;
use crate::output::names;
use crate::report::table::{number, Table};

/// The firm id of the domestic total in the summaries and wide files.
pub const DOMESTIC: &str = "domestic_total";

/// How a quarterly column adds up to a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Quarterly flow: the year's value is the sum of its quarters.
    Flow,
    /// End-of-quarter stock that adds up across firms: the year's value is its last quarter's.
    Stock,
    /// End-of-quarter level that does not add up across firms (a best chip, an ecosystem
    /// index, a ratio): the year's value is its last quarter's; no domestic total.
    Level,
    /// A firm's share of the all-firm total of the named flow: yearly, the ratio of yearly sums.
    FirmShare(&'static str),
    /// A market share of the named flow: yearly, weighted by that flow.
    WeightedShare(&'static str),
}

impl Measure {
    /// Adds up across firms (so the domestic total has it).
    pub fn additive(self) -> bool {
        !matches!(self, Measure::Level)
    }

    /// The word docs/outputs.md uses for it in the `kind` column (checked by a test).
    #[cfg(test)]
    pub fn word(self) -> &'static str {
        match self {
            Measure::Flow => "flow",
            Measure::Stock => "stock",
            Measure::Level => "level",
            Measure::FirmShare(_) | Measure::WeightedShare(_) => "share",
        }
    }
}

/// The measure of a numeric column of `firms_quarterly.csv` or `market_quarterly.csv`
/// (`None`: not known to this version; summarised by quarter only).
pub fn measure(file: &str, col: &str) -> Option<Measure> {
    use columns::{firms as F, market as M};
    use Measure::*;
    Some(match (file, col) {
        (names::FIRMS_QUARTERLY, F::UNITS_SHIPPED | F::COMPUTE_SHIPPED_PFLOPS | F::REVENUE_USD | F::RD_SPEND_USD) => {
            Flow
        }
        (names::FIRMS_QUARTERLY, F::CAPACITY_UNITS | F::INVENTORY_WRITEOFF_USD) => Flow,
        (names::FIRMS_QUARTERLY, F::COMPUTE_SHARE) => FirmShare(F::COMPUTE_SHIPPED_PFLOPS),
        (names::FIRMS_QUARTERLY, F::REVENUE_SHARE) => FirmShare(F::REVENUE_USD),
        (names::FIRMS_QUARTERLY, F::BACKLOG_UNITS | F::CASH_USD | F::INVENTORY_UNITS) => Stock,
        (names::FIRMS_QUARTERLY, F::BEST_CHIP_TFLOPS | F::ECOSYSTEM) => Level,
        (names::MARKET_QUARTERLY, M::DOMESTIC_COMPUTE_SHARE | M::FOREIGN_COMPUTE_SHARE) => {
            WeightedShare(M::DELIVERED_PFLOPS)
        }
        (names::MARKET_QUARTERLY, M::PERF_GAP_FRONTIER | M::PERF_GAP_SELLABLE) => Level,
        (names::MARKET_QUARTERLY, _)
            if col.ends_with("_pflops") || col.ends_with("_usd") || col.starts_with("tenders_") =>
        {
            Flow
        }
        _ => return None,
    })
}

/// Statistics of one variable: by quarter and by year (in [`RunSummary`] period order).
#[derive(Debug, Clone)]
pub struct Variable {
    /// Column name.
    pub name: String,
    /// How it adds up to a year (`None`: no yearly rows).
    pub measure: Option<Measure>,
    /// By quarter.
    pub quarterly: Vec<Stats>,
    /// By year (`None` measure: empty statistics).
    pub yearly: Vec<Stats>,
    /// The values of each replication, when asked for ([`run_values`]).
    pub values: Option<ReplicationValues>,
}

/// One variable's value in each replication: `[period][replication]`, `None` for an empty cell.
#[derive(Debug, Clone, Default)]
pub struct ReplicationValues {
    /// By quarter.
    pub quarterly: Vec<Vec<Option<f64>>>,
    /// By year (each replication's yearly value, by the rules of the module docs).
    pub yearly: Vec<Vec<Option<f64>>>,
}

/// The summaries of a run, for the files, charts, report and workbook.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Quarters, `2026Q1`, in file order.
    pub quarters: Vec<String>,
    /// Calendar years of the quarters.
    pub years: Vec<i32>,
    /// Replications read.
    pub replications: usize,
    /// The regime in force at the end of each quarter, in replication 0.
    pub regimes: Vec<String>,
    /// Market variables.
    pub market: Vec<Variable>,
    /// Firms in file order, then [`DOMESTIC`], with their variables.
    pub firms: Vec<(String, Vec<Variable>)>,
}

impl RunSummary {
    /// Refuse a summary whose files lack a column the report reads ([`columns::market::REPORTED`],
    /// [`columns::firms::REPORTED`]): the file and the column named, never an empty chart.
    pub fn require_reported(&self) -> Result<()> {
        let missing = |file: &str, col: &str| {
            crate::error::InputError::new(format!("{file}: no numeric column \"{col}\" (the report reads it)"))
                .with_hint(
                "the folder was written by another version of chipmarket, or the file was edited; rerun the scenario",
            )
        };
        for col in columns::market::REPORTED {
            if self.market_var(col).is_none() {
                return Err(missing(names::MARKET_QUARTERLY, col).into());
            }
        }
        for col in columns::firms::REPORTED {
            if self.firms.first().is_some_and(|(_, vars)| !vars.iter().any(|v| v.name == col)) {
                return Err(missing(names::FIRMS_QUARTERLY, col).into());
            }
        }
        Ok(())
    }

    /// Drop the per-replication values ([`Variable::values`]).
    pub fn drop_values(&mut self) {
        for v in self.market.iter_mut().chain(self.firms.iter_mut().flat_map(|(_, vars)| vars.iter_mut())) {
            v.values = None;
        }
    }

    /// A market variable.
    pub fn market_var(&self, name: &str) -> Option<&Variable> {
        self.market.iter().find(|v| v.name == name)
    }

    /// A firm's variable.
    pub fn firm_var(&self, firm: &str, name: &str) -> Option<&Variable> {
        self.firms.iter().find(|(f, _)| f == firm)?.1.iter().find(|v| v.name == name)
    }

    /// The real firms (without the domestic total).
    pub fn firm_ids(&self) -> impl Iterator<Item = &str> {
        self.firms.iter().map(|(f, _)| f.as_str()).filter(|f| *f != DOMESTIC)
    }
}

/// The year of a quarter label such as `2026Q1`.
pub fn year_of(quarter: &str) -> Option<i32> {
    quarter.split_once('Q').and_then(|(y, _)| y.parse().ok())
}

/// A stored cell: the number, or NaN for an empty cell (half the memory of an
/// `Option<f64>`, which matters with a thousand replications).
type Cell = f64;

/// The empty cell.
const EMPTY: Cell = f64::NAN;

/// A stored cell as a value.
fn value(c: Cell) -> Option<f64> {
    (!c.is_nan()).then_some(c)
}

/// Values of one file: `[column][entity][quarter][replication]`, read streaming.
struct Panel {
    cols: Vec<String>,
    entities: Vec<String>,
    quarters: Vec<String>,
    reps: usize,
    values: Vec<Vec<Vec<Vec<Cell>>>>,
    /// Text column `regime` of replication 0, by quarter (market only).
    regimes: Vec<String>,
}

/// Read a quarterly file: key columns `replication`, `quarter` and (if `entity` is set) the
/// entity column; every other column that holds only numbers is a variable.
fn read_panel(dir: &Path, file: &str, entity: Option<&str>) -> Result<Panel> {
    let mut t = Table::open(dir, file)?;
    let rep_col = t.col(columns::market::REPLICATION)?;
    let q_col = t.col(columns::market::QUARTER)?;
    let e_col = entity.map(|e| t.col(e)).transpose()?;
    let regime_col = t.header.iter().position(|h| h == columns::market::REGIME);
    let var_cols: Vec<usize> =
        (0..t.header.len()).filter(|&i| i != rep_col && i != q_col && Some(i) != e_col).collect();
    // A column is text if its first non-empty cell is not a number (`regime`, `best_chip`);
    // after that, a cell that does not fit is an error naming file, line and column.
    let mut text = vec![false; var_cols.len()];
    let mut decided = vec![false; var_cols.len()];
    let mut panel = Panel {
        cols: var_cols.iter().map(|&i| t.header[i].clone()).collect(),
        entities: Vec::new(),
        quarters: Vec::new(),
        reps: 0,
        values: vec![Vec::new(); var_cols.len()],
        regimes: Vec::new(),
    };
    let mut rep_index: HashMap<String, usize> = HashMap::new();
    let mut q_index: HashMap<String, usize> = HashMap::new();
    let mut e_index: HashMap<String, usize> = HashMap::new();
    let mut record = csv::StringRecord::new();
    while t.next(&mut record)? {
        let n = rep_index.len();
        let r = *rep_index.entry(record[rep_col].to_string()).or_insert(n);
        let n = q_index.len();
        let q = *q_index.entry(record[q_col].to_string()).or_insert_with(|| {
            panel.quarters.push(record[q_col].to_string());
            n
        });
        let e = match e_col {
            Some(c) => {
                let n = e_index.len();
                *e_index.entry(record[c].to_string()).or_insert_with(|| {
                    panel.entities.push(record[c].to_string());
                    n
                })
            }
            None => {
                if panel.entities.is_empty() {
                    panel.entities.push(String::new());
                }
                0
            }
        };
        if r == 0 {
            if let Some(c) = regime_col {
                if panel.regimes.len() <= q {
                    panel.regimes.resize(q + 1, String::new());
                }
                panel.regimes[q] = record[c].to_string();
            }
        }
        for (j, &c) in var_cols.iter().enumerate() {
            let x = if text[j] {
                None
            } else if decided[j] {
                number(&t, &record, c)?
            } else {
                match number(&t, &record, c) {
                    Ok(x) => {
                        decided[j] = x.is_some();
                        x
                    }
                    Err(_) => {
                        (text[j], decided[j]) = (true, true);
                        None
                    }
                }
            };
            let by_e = &mut panel.values[j];
            if by_e.len() <= e {
                by_e.resize(e + 1, Vec::new());
            }
            let by_q = &mut by_e[e];
            if by_q.len() <= q {
                by_q.resize(q + 1, Vec::new());
            }
            let by_r = &mut by_q[q];
            if by_r.len() <= r {
                by_r.resize(r + 1, EMPTY);
            }
            by_r[r] = x.unwrap_or(EMPTY);
        }
    }
    panel.reps = rep_index.len();
    // Drop text columns; square every array to entities x quarters x replications.
    let (ne, nq, nr) = (panel.entities.len(), panel.quarters.len(), panel.reps);
    let mut cols = Vec::new();
    let mut values = Vec::new();
    for ((name, mut v), is_text) in panel.cols.into_iter().zip(panel.values).zip(text) {
        if is_text {
            continue;
        }
        v.resize(ne, Vec::new());
        for by_q in &mut v {
            by_q.resize(nq, Vec::new());
            for by_r in by_q.iter_mut() {
                by_r.resize(nr, EMPTY);
            }
        }
        cols.push(name);
        values.push(v);
    }
    panel.cols = cols;
    panel.values = values;
    Ok(panel)
}

/// `[quarter][replication]` of one column and entity.
type Grid = Vec<Vec<Cell>>;

fn sum_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x + y),
        (x, None) => x,
        (None, y) => y,
    }
}

/// One replication's yearly values of a column; `quarters_of[y]` lists the quarter indices of
/// year y in order; `weight` is the grid a share is weighted by; `total` the all-firm total of
/// the flow a firm share divides.
fn yearly(
    grid: &Grid,
    measure: Option<Measure>,
    quarters_of: &[Vec<usize>],
    weight: Option<&Grid>,
    total: Option<&Grid>,
    reps: usize,
) -> Vec<Vec<Option<f64>>> {
    quarters_of
        .iter()
        .map(|qs| {
            (0..reps)
                .map(|r| match measure? {
                    Measure::Flow => qs.iter().fold(None, |acc, &q| sum_opt(acc, value(grid[q][r]))),
                    Measure::Stock | Measure::Level => qs.last().and_then(|&q| value(grid[q][r])),
                    Measure::WeightedShare(_) => {
                        let w = weight?;
                        let (num, den) =
                            qs.iter().fold((0.0, 0.0), |(n, d), &q| match (value(grid[q][r]), value(w[q][r])) {
                                (Some(s), Some(x)) => (n + s * x, d + x),
                                _ => (n, d),
                            });
                        (den > 0.0).then(|| num / den)
                    }
                    Measure::FirmShare(_) => {
                        // `grid` is the firm's flow here (see below), `total` the all-firm flow.
                        let t = total?;
                        let num: f64 = qs.iter().filter_map(|&q| value(grid[q][r])).sum();
                        let den: f64 = qs.iter().filter_map(|&q| value(t[q][r])).sum();
                        (den > 0.0).then(|| num / den)
                    }
                })
                .collect()
        })
        .collect()
}

fn stats_of(values: &[Option<f64>]) -> Stats {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    stats(&mut v)
}

fn stats_of_cells(cells: &[Cell]) -> Stats {
    let mut v: Vec<f64> = cells.iter().copied().filter_map(value).collect();
    stats(&mut v)
}

/// The variables of one entity of a panel.
fn variables(
    file: &str,
    cols: &[String],
    grids: &[&Grid],
    quarters_of: &[Vec<usize>],
    totals: &HashMap<&str, Grid>,
    reps: usize,
    keep: bool,
) -> Vec<Variable> {
    cols.iter()
        .zip(grids)
        .map(|(name, grid)| {
            let m = measure(file, name);
            let (base, weight) = match m {
                Some(Measure::FirmShare(of)) => (cols.iter().position(|c| c == of).map(|i| grids[i]), None),
                Some(Measure::WeightedShare(w)) => (Some(*grid), cols.iter().position(|c| c == w).map(|i| grids[i])),
                _ => (Some(*grid), None),
            };
            let total = match m {
                Some(Measure::FirmShare(of)) => totals.get(of),
                _ => None,
            };
            let yearly = match base {
                Some(base) => yearly(base, m, quarters_of, weight, total, reps),
                None => vec![vec![None; reps]; quarters_of.len()],
            };
            Variable {
                name: name.clone(),
                measure: m,
                quarterly: grid.iter().map(|q| stats_of_cells(q)).collect(),
                yearly: yearly.iter().map(|y| stats_of(y)).collect(),
                values: keep.then(|| ReplicationValues {
                    quarterly: grid.iter().map(|q| q.iter().map(|c| value(*c)).collect()).collect(),
                    yearly: if m.is_some() { yearly } else { Vec::new() },
                }),
            }
        })
        .collect()
}

/// Read a run folder's quarterly files and compute every summary. `domestic` lists the
/// domestic firms' ids.
pub fn run_summary(dir: &Path, domestic: &[String]) -> Result<RunSummary> {
    summary(dir, domestic, false)
}

/// [`run_summary`], each variable with the values of every replication
/// ([`Variable::values`]), for paired comparisons.
pub fn run_values(dir: &Path, domestic: &[String]) -> Result<RunSummary> {
    summary(dir, domestic, true)
}

fn summary(dir: &Path, domestic: &[String], keep: bool) -> Result<RunSummary> {
    let market = read_panel(dir, names::MARKET_QUARTERLY, None)?;
    let firms = read_panel(dir, names::FIRMS_QUARTERLY, Some(columns::firms::FIRM))?;
    for (panel, file) in [(&market, names::MARKET_QUARTERLY), (&firms, names::FIRMS_QUARTERLY)] {
        if panel.quarters.is_empty() || panel.entities.is_empty() {
            return Err(crate::error::InputError::new(format!("{file} in '{}' has no rows", dir.display()))
                .with_hint("the summaries need at least one quarter; give the folder of a finished run")
                .into());
        }
    }
    if firms.quarters != market.quarters || firms.reps != market.reps {
        return Err(crate::error::InputError::new(format!(
            "{} and {} in '{}' do not hold the same quarters and replications ({} quarters x {} replications against {} x {})",
            names::FIRMS_QUARTERLY,
            names::MARKET_QUARTERLY,
            dir.display(),
            firms.quarters.len(),
            firms.reps,
            market.quarters.len(),
            market.reps
        ))
        .with_hint("the files were cut or edited; rerun the scenario")
        .into());
    }
    let quarters = market.quarters.clone();
    let quarter_years: Vec<i32> = quarters.iter().map(|q| year_of(q).unwrap_or(0)).collect();
    let mut years: Vec<i32> = quarter_years.clone();
    years.dedup();
    let quarters_of: Vec<Vec<usize>> =
        years.iter().map(|y| (0..quarters.len()).filter(|&q| quarter_years[q] == *y).collect()).collect();
    let reps = market.reps;

    let market_grids: Vec<&Grid> = market.values.iter().map(|v| &v[0]).collect();
    let market_vars =
        variables(names::MARKET_QUARTERLY, &market.cols, &market_grids, &quarters_of, &HashMap::new(), reps, keep);

    // Firms: align to the market's quarters (same file order in every run).
    let nf = firms.entities.len();
    let mut totals: HashMap<&str, Grid> = HashMap::new();
    for (j, col) in firms.cols.iter().enumerate() {
        if let Some(Measure::Flow) = measure(names::FIRMS_QUARTERLY, col) {
            let grid: Grid = (0..firms.quarters.len())
                .map(|q| {
                    (0..reps)
                        .map(|r| {
                            (0..nf).fold(None, |acc, e| sum_opt(acc, value(firms.values[j][e][q][r]))).unwrap_or(EMPTY)
                        })
                        .collect()
                })
                .collect();
            totals.insert(col.as_str(), grid);
        }
    }
    let mut out_firms = Vec::new();
    for (e, id) in firms.entities.iter().enumerate() {
        let grids: Vec<&Grid> = firms.values.iter().map(|v| &v[e]).collect();
        out_firms.push((
            id.clone(),
            variables(names::FIRMS_QUARTERLY, &firms.cols, &grids, &quarters_of, &totals, reps, keep),
        ));
    }
    // The domestic total of the additive columns.
    let dom: Vec<usize> = (0..nf).filter(|&e| domestic.contains(&firms.entities[e])).collect();
    let mut dom_cols = Vec::new();
    let mut dom_grids = Vec::new();
    for (j, col) in firms.cols.iter().enumerate() {
        if measure(names::FIRMS_QUARTERLY, col).is_some_and(Measure::additive) {
            let grid: Grid = (0..firms.quarters.len())
                .map(|q| {
                    (0..reps)
                        .map(|r| {
                            dom.iter()
                                .fold(None, |acc, &e| sum_opt(acc, value(firms.values[j][e][q][r])))
                                .unwrap_or(EMPTY)
                        })
                        .collect()
                })
                .collect();
            dom_cols.push(col.clone());
            dom_grids.push(grid);
        }
    }
    let dom_refs: Vec<&Grid> = dom_grids.iter().collect();
    if !dom.is_empty() {
        out_firms.push((
            DOMESTIC.to_string(),
            variables(names::FIRMS_QUARTERLY, &dom_cols, &dom_refs, &quarters_of, &totals, reps, keep),
        ));
    }
    let mut regimes = market.regimes;
    regimes.resize(quarters.len(), String::new());
    Ok(RunSummary { quarters, years, replications: reps, regimes, market: market_vars, firms: out_firms })
}

fn csv_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(w)
}

fn stat_cells(s: &Stats) -> [String; 6] {
    [opt(s.mean), opt(s.sd), opt(s.p05), opt(s.p50), opt(s.p95), s.n.to_string()]
}

/// `market_summary.csv`: `period_kind, period, year, variable, mean, sd, p05, p50, p95, n`;
/// quarters first, then years.
pub fn market_summary_csv(s: &RunSummary) -> Result<Vec<u8>> {
    let mut w = csv_writer(Vec::new());
    w.write_record(crate::output::csv::safe(columns::market_summary::HEADER))?;
    for (qi, q) in s.quarters.iter().enumerate() {
        for v in &s.market {
            let mut row = vec!["quarter".to_string(), q.clone(), s.years_of_quarter(qi), v.name.clone()];
            row.extend(stat_cells(&v.quarterly[qi]));
            w.write_record(crate::output::csv::safe(&row))?;
        }
    }
    for (yi, y) in s.years.iter().enumerate() {
        for v in s.market.iter().filter(|v| v.measure.is_some()) {
            let mut row = vec!["year".to_string(), y.to_string(), y.to_string(), v.name.clone()];
            row.extend(stat_cells(&v.yearly[yi]));
            w.write_record(crate::output::csv::safe(&row))?;
        }
    }
    Ok(w.into_inner()?)
}

/// `firms_summary.csv`: `period_kind, period, year, firm, variable, mean, sd, p05, p50, p95, n`;
/// quarters first, then years; the firms in file order, then `domestic_total`.
pub fn firms_summary_csv(s: &RunSummary) -> Result<Vec<u8>> {
    let mut w = csv_writer(Vec::new());
    w.write_record(crate::output::csv::safe(columns::firms_summary::HEADER))?;
    for (qi, q) in s.quarters.iter().enumerate() {
        for (firm, vars) in &s.firms {
            for v in vars {
                let mut row =
                    vec!["quarter".to_string(), q.clone(), s.years_of_quarter(qi), firm.clone(), v.name.clone()];
                row.extend(stat_cells(&v.quarterly[qi]));
                w.write_record(crate::output::csv::safe(&row))?;
            }
        }
    }
    for (yi, y) in s.years.iter().enumerate() {
        for (firm, vars) in &s.firms {
            for v in vars.iter().filter(|v| v.measure.is_some()) {
                let mut row = vec!["year".to_string(), y.to_string(), y.to_string(), firm.clone(), v.name.clone()];
                row.extend(stat_cells(&v.yearly[yi]));
                w.write_record(crate::output::csv::safe(&row))?;
            }
        }
    }
    Ok(w.into_inner()?)
}

impl RunSummary {
    fn years_of_quarter(&self, qi: usize) -> String {
        year_of(&self.quarters[qi]).map_or_else(String::new, |y| y.to_string())
    }
}

/// `shares_wide.csv`: `quarter`, each firm's mean compute share, then `domestic_total`.
pub fn shares_wide_csv(s: &RunSummary) -> Result<Vec<u8>> {
    let mut w = csv_writer(Vec::new());
    let mut header = vec![columns::shares_wide::QUARTER.to_string()];
    header.extend(s.firms.iter().map(|(f, _)| f.clone()));
    w.write_record(crate::output::csv::safe(&header))?;
    for (qi, q) in s.quarters.iter().enumerate() {
        let mut row = vec![q.clone()];
        for (firm, _) in &s.firms {
            row.push(opt(s.firm_var(firm, columns::firms::COMPUTE_SHARE).and_then(|v| v.quarterly[qi].mean)));
        }
        w.write_record(crate::output::csv::safe(&row))?;
    }
    Ok(w.into_inner()?)
}

/// The gap columns of `gaps_wide.csv`.
pub const GAPS: [&str; 2] = columns::market::GAPS;

/// `gaps_wide.csv`: `quarter`, then for each gap `<gap>_mean`, `_p05`, `_p50`, `_p95`, `_n`.
pub fn gaps_wide_csv(s: &RunSummary) -> Result<Vec<u8>> {
    let mut w = csv_writer(Vec::new());
    let mut header = vec![columns::gaps_wide::QUARTER.to_string()];
    for g in GAPS {
        header.extend(columns::gaps_wide::STATS.map(|k| format!("{g}_{k}")));
    }
    w.write_record(crate::output::csv::safe(&header))?;
    for (qi, q) in s.quarters.iter().enumerate() {
        let mut row = vec![q.clone()];
        for g in GAPS {
            match s.market_var(g) {
                Some(v) => {
                    let st = &v.quarterly[qi];
                    row.extend([opt(st.mean), opt(st.p05), opt(st.p50), opt(st.p95), st.n.to_string()]);
                }
                None => row.extend(std::iter::repeat_n(String::new(), 5)),
            }
        }
        w.write_record(crate::output::csv::safe(&row))?;
    }
    Ok(w.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(market: &str, firms: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("market_quarterly.csv"), market).unwrap();
        std::fs::write(dir.path().join("firms_quarterly.csv"), firms).unwrap();
        dir
    }

    const MARKET: &str = "replication,quarter,regime,delivered_pflops,domestic_compute_share,perf_gap_sellable\n\
        0,2025Q4,open,10,0.5,2\n0,2026Q1,ban,30,0.1,\n0,2026Q2,ban,10,0.5,4\n\
        1,2025Q4,open,20,0.25,3\n1,2026Q1,open,0,,\n1,2026Q2,open,40,1,8\n";
    const FIRMS: &str = "replication,quarter,firm,compute_shipped_pflops,compute_share,cash_usd,best_chip\n\
        0,2025Q4,a,5,0.5,100,x\n0,2025Q4,b,5,0.5,7,y\n0,2026Q1,a,3,0.1,90,x\n0,2026Q1,b,27,0.9,8,y\n\
        0,2026Q2,a,5,0.5,80,x\n0,2026Q2,b,5,0.5,9,y\n\
        1,2025Q4,a,5,0.25,100,x\n1,2025Q4,b,15,0.75,7,y\n1,2026Q1,a,0,,90,x\n1,2026Q1,b,0,,8,y\n\
        1,2026Q2,a,40,1,80,x\n1,2026Q2,b,0,0,9,y\n";

    #[test]
    fn years_sum_flows_take_stocks_at_year_end_and_weight_shares() {
        let dir = folder(MARKET, FIRMS);
        let s = run_summary(dir.path(), &["a".to_string()]).unwrap();
        assert_eq!(s.years, vec![2025, 2026]);
        assert_eq!(s.replications, 2);
        assert_eq!(s.regimes, vec!["open", "ban", "ban"], "regimes of replication 0");
        let delivered = s.market_var("delivered_pflops").unwrap();
        // 2026: rep 0 sums 30 + 10 = 40, rep 1 sums 0 + 40 = 40.
        assert_eq!(delivered.yearly[1].mean, Some(40.0));
        // Domestic share 2026, rep 0: (0.1*30 + 0.5*10) / 40 = 0.2; rep 1: (1*40) / 40 = 1
        // (the empty 2026Q1 share of rep 1 has zero weight).
        let dom = s.market_var("domestic_compute_share").unwrap();
        assert!((dom.yearly[1].mean.unwrap() - 0.6).abs() < 1e-12, "{:?}", dom.yearly[1]);
        // A quarter's empty cell is left out, not counted as 0.
        assert_eq!(dom.quarterly[1].n, 1);
        assert_eq!(dom.quarterly[1].mean, Some(0.1));
        // Levels at year end: the gap of 2026Q2.
        let gap = s.market_var("perf_gap_sellable").unwrap();
        assert_eq!((gap.yearly[1].p05, gap.yearly[1].n), (Some(4.2), 2));
        // Firm a's 2026 share: rep 0 (3 + 5) / 40 = 0.2, rep 1 40 / 40 = 1.
        let share = s.firm_var("a", "compute_share").unwrap();
        assert!((share.yearly[1].mean.unwrap() - 0.6).abs() < 1e-12);
        // Stocks at year end; the text column is not a variable.
        assert_eq!(s.firm_var("a", "cash_usd").unwrap().yearly[1].mean, Some(80.0));
        assert!(s.firm_var("a", "best_chip").is_none());
        // The domestic total is firm a alone here.
        assert_eq!(s.firm_var(DOMESTIC, "compute_share").unwrap().yearly[1].mean, share.yearly[1].mean);
        assert_eq!(s.firm_var(DOMESTIC, "cash_usd").unwrap().quarterly[0].mean, Some(100.0));
    }

    #[test]
    fn a_column_the_report_reads_missing_is_an_error_naming_file_and_column() {
        let dir = folder(MARKET, FIRMS);
        let err = run_summary(dir.path(), &[]).unwrap().require_reported().unwrap_err().to_string();
        assert!(err.starts_with("market_quarterly.csv: no numeric column \"demand_pflops\""), "{err}");
        let full_market = "replication,quarter,regime,demand_pflops,delivered_pflops,domestic_compute_share,\
            perf_gap_frontier,perf_gap_sellable,export_fees_usd\n0,2026Q1,open,1,1,0.5,2,2,0\n";
        let firms = "replication,quarter,firm,compute_shipped_pflops\n0,2026Q1,a,5\n";
        let dir = folder(full_market, firms);
        let err = run_summary(dir.path(), &[]).unwrap().require_reported().unwrap_err().to_string();
        assert!(err.starts_with("firms_quarterly.csv: no numeric column \"revenue_usd\""), "{err}");
    }

    #[test]
    fn files_of_other_quarters_or_replications_are_refused() {
        let cut = FIRMS.lines().take(7).collect::<Vec<_>>().join("\n") + "\n";
        let dir = folder(MARKET, &cut);
        let err = run_summary(dir.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("do not hold the same quarters and replications (3 quarters x 1 replications"), "{err}");
    }

    #[test]
    fn a_damaged_number_is_reported_with_file_line_and_column() {
        let damaged = MARKET.replace("0,2026Q1,ban,30,0.1,", "0,2026Q1,ban,30,0.1x,");
        let dir = folder(&damaged, FIRMS);
        let err = run_summary(dir.path(), &[]).unwrap_err().to_string();
        assert_eq!(err, "market_quarterly.csv:3: column \"domestic_compute_share\": expected a number, found \"0.1x\"");
    }

    #[test]
    fn wide_files_hold_shares_and_gaps_apart() {
        let dir = folder(MARKET, FIRMS);
        let s = run_summary(dir.path(), &["a".to_string()]).unwrap();
        let shares = String::from_utf8(shares_wide_csv(&s).unwrap()).unwrap();
        let mut lines = shares.lines();
        assert_eq!(lines.next(), Some("quarter,a,b,domestic_total"));
        assert_eq!(lines.next(), Some("2025Q4,0.375,0.625,0.375"));
        assert_eq!(lines.next(), Some("2026Q1,0.1,0.9,0.1"), "empty shares are left out of the mean");
        let gaps = String::from_utf8(gaps_wide_csv(&s).unwrap()).unwrap();
        assert!(gaps.starts_with("quarter,perf_gap_frontier_mean,"));
        assert!(gaps.lines().nth(2).unwrap().ends_with(",,,,,0"), "{gaps}");
        let market = String::from_utf8(market_summary_csv(&s).unwrap()).unwrap();
        assert!(market.contains("\nyear,2026,2026,delivered_pflops,40,0,40,40,40,2\n"), "{market}");
        assert!(market.contains("\nquarter,2026Q1,2026,perf_gap_sellable,,,,,,0\n"));
    }

    #[test]
    fn the_dictionary_gives_each_quarterly_column_the_kind_the_code_sums_it_by() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/outputs.md")).unwrap();
        let mut checked = 0;
        for file in ["firms_quarterly.csv", "market_quarterly.csv"] {
            let start = doc.find(&format!("### `{file}`")).expect("section");
            let section = &doc[start..];
            let end = section[4..].find("### ").map_or(section.len(), |e| e + 4);
            for line in section[..end].lines().filter(|l| l.starts_with("| `")) {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let (col, kind) = (cells[1].trim_matches('`'), cells[2]);
                let code = measure(file, col).map(Measure::word);
                match kind {
                    "flow" | "stock" | "level" | "share" => {
                        assert_eq!(code, Some(kind), "{file}: {col} is a {kind} in docs/outputs.md");
                        checked += 1;
                    }
                    _ => assert_eq!(code, None, "{file}: {col} is documented as {kind}"),
                }
            }
        }
        assert!(checked >= 20, "{checked}");
    }
}
