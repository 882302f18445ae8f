//! Calibration files: the schema, its checks against the base scenario, the map from the
//! search's unit cube to parameter values, and the `calibrated.toml` layer.
//!
//! API Boundary: [`CalibrationSpec::from_toml_str`] reads a calibration file (reference:
//! `docs/calibration.md`), [`Calibration::bind`] checks its `[[free]]` paths against the base
//! scenario with the sweep machinery ([`Sweep`]), [`Calibration::values_at`] maps a point of
//! the unit cube to values (log scales log-uniformly) and [`Calibration::scenario_at`] builds
//! the scenario an evaluation runs (with the base seed: common random numbers, and cut at
//! `until`). The search itself, threads and files belong to the runner.

use serde::{Deserialize, Serialize};

use crate::calendar::Date;
use crate::fit::Target;
use crate::scenario::{KeyPath, PathSeg, Scenario, ScenarioError};
use crate::sweep::{Axis, Method, Sweep, SweepSpec};

/// Most evaluations one calibration may ask for.
pub const MAX_BUDGET: u32 = 1_000_000;
/// Most replications per evaluation.
pub const MAX_REPLICATIONS: u32 = 10_000;

/// How the search proceeds after the Latin-hypercube screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Search {
    /// CMA-ES (the `cmaes` crate) from the best screened point. The default.
    #[serde(rename = "cmaes")]
    Cmaes,
    /// Nelder-Mead (the `argmin` crate) from the best screened point.
    #[serde(rename = "nelder-mead")]
    NelderMead,
    /// The whole budget as one Latin hypercube.
    #[serde(rename = "lhs")]
    Lhs,
    /// A posterior: ABC-SMC (population Monte Carlo with adaptive tolerances, module `abc`).
    #[serde(rename = "abc-smc")]
    AbcSmc,
}

impl Search {
    /// The word used in calibration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Search::Cmaes => "cmaes",
            Search::NelderMead => "nelder-mead",
            Search::Lhs => "lhs",
            Search::AbcSmc => "abc-smc",
        }
    }
}

/// How a free parameter's range maps the unit interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Uniformly.
    #[default]
    Linear,
    /// Log-uniformly (the range must be positive).
    Log,
}

/// A whole calibration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSpec {
    /// The base scenario, relative to the calibration file.
    pub base: String,
    /// Targets file (the format of `data/observed_2022_2024.csv`), relative to the calibration
    /// file. Default: the project's observed outcomes, embedded in the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<String>,
    /// Target ids to leave out of the loss (for example a metric the model does not have).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Replications per evaluation (1 to 10000), the same seeds for every evaluation. The
    /// best point is re-run with 5 times as many before it is reported.
    pub replications: u32,
    /// Evaluations of the search, screening included (the final re-run is not counted).
    pub budget: u32,
    /// Seed of the search's own random draws (screening design, CMA-ES). Default: 1.
    #[serde(default = "one")]
    pub seed: u64,
    /// `cmaes` (default), `nelder-mead` or `lhs`.
    #[serde(default = "cmaes")]
    pub method: Search,
    /// Run each evaluation only up to this date (after the end of every target period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
    /// `abc-smc`: particles per generation (2 to 100000). Default: 100.
    #[serde(default = "hundred")]
    pub particles: u32,
    /// `abc-smc`: generations after the prior's (1 to 1000); fewer if the budget runs out.
    /// Default: 6.
    #[serde(default = "six")]
    pub generations: u32,
    /// `abc-smc`: each tolerance is this quantile of the previous generation's losses
    /// (above 0, below 1). Default: 0.5.
    #[serde(default = "half")]
    pub quantile: f64,
    /// `[[free]]`: the fitted parameters.
    pub free: Vec<Free>,
}

/// `[[free]]`: one fitted parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Free {
    /// A sweepable path, as for `--set` (`chipmarket params` lists them).
    pub path: String,
    /// `[low, high]`: where the search looks.
    pub range: Vec<f64>,
    /// `linear` (default) or `log`.
    #[serde(default)]
    pub scale: Scale,
    /// `abc-smc` prior on the range: `{ kind = "uniform" }` (default: uniform, log-uniform with
    /// a log scale), `{ kind = "normal", mean, sd }` or `{ kind = "beta", alpha, beta }` on the
    /// unit coordinate of the range.
    #[serde(default)]
    pub prior: crate::abc::Prior,
}

fn one() -> u64 {
    1
}
fn hundred() -> u32 {
    100
}
fn six() -> u32 {
    6
}
fn half() -> f64 {
    0.5
}
fn cmaes() -> Search {
    Search::Cmaes
}

impl CalibrationSpec {
    /// Parse a calibration file and check it on its own. Errors carry the key path and, where
    /// the text has it, the line and column.
    pub fn from_toml_str(text: &str) -> Result<CalibrationSpec, ScenarioError> {
        let tree: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let mut err = ScenarioError::new(KeyPath::root(), format!("not valid TOML: {}", e.message()));
            err.span = e.span();
            err.line_col = e.span().map(|s| line_col(text, s.start));
            err
        })?;
        let spec: CalibrationSpec =
            serde_path_to_error::deserialize(toml::Value::Table(tree.clone())).map_err(|err| {
                let mut e = ScenarioError::from_deserialize(&err);
                e.hint = e.hint.map(|h| h.replace("docs/scenario-format.md", "docs/calibration.md"));
                e.located(text, &tree, &[])
            })?;
        spec.check().map_err(|e| e.located(text, &tree, &[]))?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), ScenarioError> {
        let root = KeyPath::root();
        if self.base.trim().is_empty() {
            return Err(ScenarioError::new(root.key("base"), "expected the path of the base scenario, found \"\"")
                .with_hint("for example base = \"../baseline.toml\" (relative to the calibration file)"));
        }
        if !(1..=MAX_REPLICATIONS).contains(&self.replications) {
            return Err(ScenarioError::new(
                root.key("replications"),
                format!("expected a whole number from 1 to {MAX_REPLICATIONS}, found {}", self.replications),
            ));
        }
        let least = self.screening_min();
        if !(least..=MAX_BUDGET).contains(&self.budget) {
            return Err(ScenarioError::new(
                root.key("budget"),
                format!("expected a number of evaluations from {least} to {MAX_BUDGET}, found {}", self.budget),
            )
            .with_hint(format!(
                "{} needs a screening and at least one step of the search; with {} free parameter(s), give budget >= {least}",
                self.method.as_str(),
                self.free.len()
            )));
        }
        if self.free.is_empty() {
            return Err(ScenarioError::new(root.key("free"), "expected at least one [[free]] parameter, found none")
                .with_hint("add [[free]] with a `path` and a `range = [low, high]`"));
        }
        for (i, f) in self.free.iter().enumerate() {
            let at = root.key("free").index(i);
            let path = f.path.trim();
            if path.is_empty() || path != f.path || path.split('.').any(str::is_empty) {
                return Err(ScenarioError::new(
                    at.key("path"),
                    format!("expected a dotted path such as \"demand.growth_rate_per_year\", found \"{}\"", f.path),
                )
                .with_hint("`chipmarket params BASE` lists every sweepable path"));
            }
            if matches!(path, "scenario.seed" | "scenario.replications" | "scenario.horizon_years" | "scenario.start") {
                return Err(ScenarioError::new(at.key("path"), format!("a calibration cannot fit {path}"))
                    .with_hint("fit parameters of the model; seeds, replications and dates are settings of the file"));
            }
            if let Some(j) = self.free[..i].iter().position(|g| g.path == f.path) {
                return Err(ScenarioError::new(
                    at.key("path"),
                    format!("\"{}\" is already free in [[free]] number {}", f.path, j + 1),
                ));
            }
            let [lo, hi] = f.range[..] else {
                return Err(ScenarioError::new(
                    at.key("range"),
                    format!("expected [low, high], found {} number(s)", f.range.len()),
                ));
            };
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(ScenarioError::new(
                    at.key("range"),
                    format!("expected finite low < high, found [{lo}, {hi}]"),
                ));
            }
            if f.scale == Scale::Log && lo <= 0.0 {
                return Err(ScenarioError::new(at.key("range"), format!("a log scale needs low > 0, found {lo}"))
                    .with_hint("use scale = \"linear\", or a positive range"));
            }
        }
        if self.method == Search::AbcSmc {
            if !(2..=100_000).contains(&self.particles) {
                return Err(ScenarioError::new(
                    root.key("particles"),
                    format!("expected a whole number from 2 to 100000, found {}", self.particles),
                ));
            }
            if !(1..=1000).contains(&self.generations) {
                return Err(ScenarioError::new(
                    root.key("generations"),
                    format!("expected a whole number from 1 to 1000, found {}", self.generations),
                ));
            }
            if !(self.quantile > 0.0 && self.quantile < 1.0) {
                return Err(ScenarioError::new(
                    root.key("quantile"),
                    format!("expected a number above 0 and below 1, found {}", self.quantile),
                )
                .with_hint("0.5: each tolerance is the median loss of the generation before"));
            }
            if self.budget < self.particles {
                return Err(ScenarioError::new(
                    root.key("budget"),
                    format!(
                        "abc-smc needs at least one evaluation per particle: budget >= {}, found {}",
                        self.particles, self.budget
                    ),
                ));
            }
        }
        for (i, f) in self.free.iter().enumerate() {
            if let Err(msg) = f.prior.check() {
                return Err(ScenarioError::new(root.key("free").index(i).key("prior"), msg));
            }
        }
        for (i, id) in self.exclude.iter().enumerate() {
            if self.exclude[..i].contains(id) {
                return Err(ScenarioError::new(root.key("exclude").index(i), format!("\"{id}\" is excluded twice")));
            }
        }
        Ok(())
    }

    fn screening_min(&self) -> u32 {
        match self.method {
            Search::Lhs => 2,
            _ => 2 + 1,
        }
    }

    /// Evaluations of the Latin-hypercube screening: the whole budget for `lhs`, else a fifth
    /// of it (at least 2), leaving at least one evaluation to the search.
    pub fn screening(&self) -> u32 {
        match self.method {
            Search::Lhs => self.budget,
            _ => (self.budget / 5).max(2).min(self.budget - 1),
        }
    }
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    (before.matches('\n').count() + 1, before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1)
}

/// A calibration bound to its base scenario.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The file, as read.
    pub spec: CalibrationSpec,
    /// The free parameters as sweep axes over the base (paths checked, whole numbers known).
    pub sweep: Sweep,
}

impl Calibration {
    /// Check `spec` (read from `text`) against its base scenario (the texts of its layers,
    /// base-most first): every path exists and holds a number, and both ends of every range
    /// give a valid scenario. Errors point into the calibration file.
    pub fn bind(spec: CalibrationSpec, text: &str, base_layers: &[&str]) -> Result<Calibration, ScenarioError> {
        let sweep_spec = SweepSpec {
            name: None,
            question: None,
            base: toml::Value::String(spec.base.clone()),
            replications: Some(spec.replications),
            method: Method::Lhs,
            samples: Some(1),
            seed: spec.seed,
            crn: true,
            scramble: None,
            trajectories: None,
            levels: None,
            vary: spec
                .free
                .iter()
                .map(|f| Axis {
                    path: f.path.clone(),
                    label: None,
                    values: None,
                    range: Some(f.range.clone()),
                    steps: None,
                    integer: false,
                })
                .collect(),
        };
        let readdress = |err: ScenarioError| {
            let mut path = err.path.0.clone();
            if let Some(PathSeg::Key(k)) = path.first_mut() {
                if k == "vary" {
                    *k = "free".to_string();
                }
            }
            let fixed = ScenarioError {
                hint: err.hint.clone().map(|h| h.replace("[[vary]]", "[[free]]")),
                ..ScenarioError::new(KeyPath(path), err.message.replace("[[vary]]", "[[free]]"))
            };
            SweepSpec::locate_error(fixed, text)
        };
        let sweep = Sweep::bind(sweep_spec, "", base_layers).map_err(readdress)?;
        let base = sweep.base.to_toml_value();
        for (i, f) in spec.free.iter().enumerate() {
            let at = KeyPath::root().key("free").index(i);
            if !matches!(lookup(&base, &f.path), Some(v) if v.is_float() || v.is_integer()) {
                return Err(SweepSpec::locate_error(
                    ScenarioError::new(at.key("path"), format!("\"{}\" is not a number of the base scenario", f.path))
                        .with_hint("`chipmarket params BASE` lists every path with its value; fit numbers only"),
                    text,
                ));
            }
            if f.path.split('.').any(|s| s.parse::<usize>().is_ok()) {
                return Err(SweepSpec::locate_error(
                    ScenarioError::new(
                        at.key("path"),
                        "a path through a list without ids cannot be written as a layer",
                    )
                    .with_hint("fit values of tables or of items with an id (firms, chips, customers, suppliers)"),
                    text,
                ));
            }
        }
        let cal = Calibration { spec, sweep };
        for i in 0..cal.spec.free.len() {
            for end in [0.0, 1.0] {
                let mut u = vec![0.5; cal.spec.free.len()];
                u[i] = end;
                if let Err(e) = cal.sweep.scenario_at(&cal.values_at(&u)) {
                    return Err(SweepSpec::locate_error(
                        ScenarioError::new(
                            KeyPath::root().key("free").index(i).key("range"),
                            format!(
                                "the end {} of the range makes the base scenario invalid: {}: {}",
                                cal.value_at(i, end),
                                e.dotted,
                                e.message
                            ),
                        )
                        .with_hint("narrow the range to valid values"),
                        text,
                    ));
                }
            }
        }
        if let Some(until) = cal.spec.until {
            let base = &cal.sweep.base;
            if until <= base.scenario.start {
                return Err(SweepSpec::locate_error(
                    ScenarioError::new(
                        KeyPath::root().key("until"),
                        format!("expected a date after the scenario's start {}, found {until}", base.scenario.start),
                    ),
                    text,
                ));
            }
        }
        Ok(cal)
    }

    /// Check that `until` comes after the end of every target period.
    pub fn check_until(&self, targets: &[Target], text: &str) -> Result<(), ScenarioError> {
        let Some(until) = self.spec.until else { return Ok(()) };
        match targets.iter().find(|t| t.period.end() > until) {
            Some(t) => Err(SweepSpec::locate_error(
                ScenarioError::new(
                    KeyPath::root().key("until"),
                    format!("target {} covers {}, which ends after until = {until}", t.id, t.period.label),
                )
                .with_hint(format!("set until to {} or later, or exclude {}", t.period.end(), t.id)),
                text,
            )),
            None => Ok(()),
        }
    }

    /// Free parameter `i`'s value at unit coordinate `u` in [0, 1].
    pub fn value_at(&self, i: usize, u: f64) -> f64 {
        let f = &self.spec.free[i];
        let (lo, hi) = (f.range[0], f.range[1]);
        let u = u.clamp(0.0, 1.0);
        let x = match f.scale {
            Scale::Linear => lo + u * (hi - lo),
            Scale::Log => lo * (hi / lo).powf(u),
        };
        x.clamp(lo, hi)
    }

    /// The parameter values at a point of the unit cube (whole-number paths rounded).
    pub fn values_at(&self, u: &[f64]) -> Vec<toml::Value> {
        u.iter()
            .enumerate()
            .map(|(i, &x)| {
                let v = self.value_at(i, x);
                if self.sweep.spec.vary[i].integer {
                    toml::Value::Integer(v.round() as i64)
                } else {
                    toml::Value::Float(v)
                }
            })
            .collect()
    }

    /// The scenario of one evaluation: the base with `values`, the base seed, cut at `until`.
    pub fn scenario_at(&self, values: &[toml::Value]) -> Result<Scenario, ScenarioError> {
        let mut s = self.sweep.scenario_at(values)?;
        if let Some(until) = self.spec.until {
            s.scenario.horizon_years = years_between(s.scenario.start, until).min(s.scenario.horizon_years);
        }
        Ok(s)
    }

    /// The `calibrated.toml` layer: `extends`, then only the fitted values, each with a
    /// comment giving its range and scale. `header` lines are written first, as comments.
    pub fn layer_toml(&self, values: &[toml::Value], extends: &str, header: &[String]) -> String {
        let base = self.sweep.base.to_toml_value();
        let mut root = Node::default();
        for (f, v) in self.spec.free.iter().zip(values) {
            let comment = format!(
                "fitted: range [{}, {}], {}",
                toml::Value::Float(f.range[0]),
                toml::Value::Float(f.range[1]),
                match f.scale {
                    Scale::Linear => "linear",
                    Scale::Log => "log",
                }
            );
            root.insert(&base, &f.path.split('.').collect::<Vec<_>>(), format!("{v}"), comment);
        }
        let mut out = String::new();
        for line in header {
            out.push_str(&format!("# {line}\n"));
        }
        out.push_str(&format!("\nextends = {}\n", toml::Value::String(extends.to_string())));
        root.write(&mut out, "");
        out
    }
}

/// Years from `a` to `b` in the form the horizon takes: whole months when the day of the
/// month is the same (so the horizon ends exactly on `b`), else days / 365.25.
fn years_between(a: Date, b: Date) -> f64 {
    use chrono::Datelike;
    if a.0.day() == b.0.day() {
        let months = (b.0.year() - a.0.year()) * 12 + b.0.month() as i32 - a.0.month() as i32;
        f64::from(months) / 12.0
    } else {
        (b.0 - a.0).num_days() as f64 / 365.25
    }
}

/// The value at a dotted path of a resolved scenario (list items addressed by id).
fn lookup<'a>(tree: &'a toml::Value, path: &str) -> Option<&'a toml::Value> {
    let mut node = tree;
    for seg in path.split('.') {
        node = match node {
            toml::Value::Table(t) => t.get(seg)?,
            toml::Value::Array(items) => items.iter().find(|v| v.get("id").and_then(|i| i.as_str()) == Some(seg))?,
            _ => return None,
        };
    }
    Some(node)
}

/// A table of the layer being written: values, sub-tables and lists of items by id.
#[derive(Default)]
struct Node {
    values: Vec<(String, String, String)>,
    tables: Vec<(String, Node)>,
    lists: Vec<(String, Vec<(String, Node)>)>,
}

impl Node {
    fn insert(&mut self, tree: &toml::Value, segs: &[&str], value: String, comment: String) {
        match segs {
            [] => {}
            [key] => self.values.push((key.to_string(), value, comment)),
            [key, rest @ ..] => {
                let child = tree.get(*key);
                match child {
                    Some(toml::Value::Array(items)) => {
                        let id = rest[0];
                        let item = items.iter().find(|v| v.get("id").and_then(|i| i.as_str()) == Some(id));
                        let list = match self.lists.iter().position(|(k, _)| k == key) {
                            Some(i) => &mut self.lists[i].1,
                            None => {
                                self.lists.push((key.to_string(), Vec::new()));
                                &mut self.lists.last_mut().expect("just pushed").1
                            }
                        };
                        let node = match list.iter().position(|(i, _)| i == id) {
                            Some(i) => &mut list[i].1,
                            None => {
                                list.push((id.to_string(), Node::default()));
                                &mut list.last_mut().expect("just pushed").1
                            }
                        };
                        node.insert(item.unwrap_or(&toml::Value::Boolean(false)), &rest[1..], value, comment);
                    }
                    _ => {
                        let node = match self.tables.iter().position(|(k, _)| k == key) {
                            Some(i) => &mut self.tables[i].1,
                            None => {
                                self.tables.push((key.to_string(), Node::default()));
                                &mut self.tables.last_mut().expect("just pushed").1
                            }
                        };
                        node.insert(child.unwrap_or(&toml::Value::Boolean(false)), rest, value, comment);
                    }
                }
            }
        }
    }

    fn write(&self, out: &mut String, prefix: &str) {
        for (k, v, c) in &self.values {
            out.push_str(&format!("{k} = {v}  # {c}\n"));
        }
        let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
        for (k, node) in &self.tables {
            let name = join(k);
            if !node.values.is_empty() {
                out.push_str(&format!("\n[{name}]\n"));
            }
            node.write(out, &name);
        }
        for (k, items) in &self.lists {
            let name = join(k);
            for (id, node) in items {
                out.push_str(&format!("\n[[{name}]]\nid = {}\n", toml::Value::String(id.clone())));
                node.write(out, &name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = include_str!("../../runner/tests/data/tiny.toml");

    fn spec(body: &str) -> Result<CalibrationSpec, ScenarioError> {
        CalibrationSpec::from_toml_str(&format!("base = \"tiny.toml\"\nreplications = 2\nbudget = 20\n{body}"))
    }

    #[test]
    fn files_are_checked_with_places() {
        let e =
            spec("[[free]]\npath = \"demand.saturation_pflops\"\nrange = [1.0, 2.0]\nscal = \"log\"\n").unwrap_err();
        assert_eq!(e.line_col.map(|l| l.0), Some(7), "{e}");
        let e =
            spec("[[free]]\npath = \"demand.saturation_pflops\"\nrange = [0.0, 2.0]\nscale = \"log\"\n").unwrap_err();
        assert!(e.message.contains("low > 0"), "{e}");
        let e = spec("method = \"simplex\"\n[[free]]\npath = \"a.b\"\nrange = [1.0, 2.0]\n").unwrap_err();
        assert_eq!(e.dotted, "method");
        let e = spec("[[free]]\npath = \"a.b\"\nrange = [2.0, 1.0]\n").unwrap_err();
        assert_eq!(e.dotted, "free.0.range");
        assert_eq!(e.line_col.map(|l| l.0), Some(6));
    }

    #[test]
    fn paths_are_checked_against_the_base_and_values_map_the_cube() {
        let text = "base = \"tiny.toml\"\nreplications = 2\nbudget = 20\nuntil = \"2025-01-01\"\n\
                    [[free]]\npath = \"demand.saturation_pflops\"\nrange = [2000.0, 50000.0]\nscale = \"log\"\n\
                    [[free]]\npath = \"firms.usa.capacity_units_per_quarter\"\nrange = [1000.0, 9000.0]\n";
        let cal = Calibration::bind(CalibrationSpec::from_toml_str(text).unwrap(), text, &[BASE]).unwrap();
        let v = cal.values_at(&[0.5, 0.25]);
        assert!((v[0].as_float().unwrap() - 10000.0).abs() < 1e-6, "log-uniform midpoint");
        assert_eq!(v[1].as_float(), Some(3000.0));
        let s = cal.scenario_at(&v).unwrap();
        assert_eq!(s.scenario.horizon_years, 1.0, "cut at until");
        assert_eq!(s.firms[1].capacity_units_per_quarter, 3000.0);
        let layer = cal.layer_toml(&v, "tiny.toml", &["header".into()]);
        assert!(layer.starts_with("# header\n"), "{layer}");
        let merged = Scenario::from_layers(&[BASE, &layer], &[]).unwrap();
        assert_eq!(merged.firms[1].capacity_units_per_quarter, 3000.0, "{layer}");
        assert!((merged.demand.saturation_pflops - 10000.0).abs() < 1e-6);

        let bad = "base = \"tiny.toml\"\nreplications = 2\nbudget = 20\n[[free]]\npath = \"firms.nvidia.ecosystem\"\nrange = [0.1, 0.9]\n";
        let e = Calibration::bind(CalibrationSpec::from_toml_str(bad).unwrap(), bad, &[BASE]).unwrap_err();
        assert_eq!(e.dotted, "free.0.path", "{e}");
        assert_eq!(e.line_col.map(|l| l.0), Some(5), "{e}");
        let bad = "base = \"tiny.toml\"\nreplications = 2\nbudget = 20\n[[free]]\npath = \"firms.usa.ecosystem\"\nrange = [0.1, 1.9]\n";
        let e = Calibration::bind(CalibrationSpec::from_toml_str(bad).unwrap(), bad, &[BASE]).unwrap_err();
        assert_eq!(e.dotted, "free.0.range", "{e}");
    }
}
