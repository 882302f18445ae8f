//! Sweeps: the schema of a sweep file, its checks against the base scenario, and the pure
//! expansion of its design (grid, random, Latin hypercube, Sobol, and the two designs for
//! sensitivity analysis, Saltelli and Morris) into points.
//!
//! API Boundary: [`SweepSpec::from_toml_str`] reads a sweep file, [`Sweep::bind`] checks it
//! against its base scenario (every point is validated before anything runs; a shard binds
//! with [`Sweep::bind_design`] and validates only its own points), [`expand`] is the
//! design expansion and [`Sweep::scenario`] builds the scenario of one point. Running the points
//! and writing files belong to the runner.
//!
//! Randomness: `random` and `lhs` designs draw from the named stream `sweep/<method>` of the
//! sweep's own `seed`, `morris` from `sweep/morris`; `sobol` and `saltelli` scramble with a
//! seed derived from it, so a design depends on
//! nothing but the file. The runs of every point use the base scenario's seed (common random
//! numbers: replication `r` of every point sees the same streams), or with `crn = false` a seed
//! derived from the base seed and the point index.
//!
//! ```
//! use chipmarket_engine::sweep::{expand, SweepSpec};
//!
//! let spec = SweepSpec::from_toml_str(r#"
//! base = "baseline.toml"
//! method = "grid"
//! [[vary]]
//! path = "market.ecosystem_share_rate"
//! values = [0.03, 0.06, 0.09]
//! [[vary]]
//! path = "demand.growth_rate_per_year"
//! range = [0.25, 1.0]
//! steps = 4
//! "#).unwrap();
//! let points = expand(&spec);
//! assert_eq!(points.len(), 3 * 4); // the product of the axes' lengths
//! assert_eq!(points[1].values[1].as_float(), Some(0.5)); // the last axis varies fastest
//! ```

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::rng::{derive_seed, stream};
use crate::scenario::{
    apply_override, list_params, merge, KeyPath, Override, PathSeg, Scenario, ScenarioError, EXTENDS,
};

/// Most points one sweep may have.
pub const MAX_POINTS: u64 = 10_000_000;
/// Most runs (points x replications) one sweep may have.
pub const MAX_RUNS: u64 = 1_000_000_000;
/// Most samples of a Sobol design (the length of the `sobol_burley` sequence).
pub const MAX_SOBOL_SAMPLES: u32 = 1 << 16;
/// Most axes of a Sobol design (the dimensions of the `sobol_burley` sequence).
pub const MAX_SOBOL_AXES: usize = 256;
/// Most axes of a Saltelli design (it draws from a sequence of twice as many dimensions).
pub const MAX_SALTELLI_AXES: usize = MAX_SOBOL_AXES / 2;
/// Most trajectories of a Morris design.
pub const MAX_TRAJECTORIES: u32 = 100_000;
/// Default number of grid levels of a Morris design.
pub const DEFAULT_MORRIS_LEVELS: u32 = 4;

/// How a sweep picks its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Every combination of the axes' values (the last `[[vary]]` varies fastest).
    Grid,
    /// `samples` independent uniform draws over the axes.
    Random,
    /// A Latin hypercube of `samples` points: each axis is cut into `samples` equal strata and
    /// each stratum holds exactly one point.
    Lhs,
    /// The first `samples` points of a Sobol sequence, Owen-scrambled unless `scramble = false`.
    Sobol,
    /// Saltelli's design for Sobol sensitivity indices: base `samples` N (a power of two) and
    /// N x (D + 2) points from one 2D-dimensional Sobol sequence, for each base row j: A_j,
    /// AB_1j .. AB_Dj (A_j with column i from B_j), B_j (SALib's order without second order).
    Saltelli,
    /// Morris's elementary-effects screening: `trajectories` r of D + 1 points on a grid of
    /// `levels` p, each step moving one factor by p / (2 (p - 1)) of its range.
    Morris,
}

impl Method {
    /// The word used in sweep files.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Grid => "grid",
            Method::Random => "random",
            Method::Lhs => "lhs",
            Method::Sobol => "sobol",
            Method::Saltelli => "saltelli",
            Method::Morris => "morris",
        }
    }
}

/// A whole sweep file. Reference for authors: `docs/sweeps.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The sweep's own name: the title of its report. Default: "Sweep of <base scenario>".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The question the sweep answers, shown under the report's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The base scenario: a path relative to the sweep file (`base = "../baseline.toml"`), or
    /// the scenario itself as a table (`[base]`, as `sweep.resolved.toml` writes it).
    pub base: toml::Value,
    /// Replications per point (1 to 1000000). Default: the base scenario's `scenario.replications`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<u32>,
    /// `grid`, `random`, `lhs`, `sobol`, `saltelli` or `morris`. Default: `grid`.
    #[serde(default = "default_method")]
    pub method: Method,
    /// Number of points of a `random`, `lhs` or `sobol` design (at most 65536 for `sobol`); the
    /// base sample N of a `saltelli` design (a power of two, at most 65536).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u32>,
    /// `morris` only: number of trajectories r (each of D + 1 points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectories: Option<u32>,
    /// `morris` only: number of grid levels p, even, from 2 to 100. Default: 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<u32>,
    /// Seed of the design's own random stream (`random`, `lhs`, `morris`, `sobol` and
    /// `saltelli` scrambling). Default: 1.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Common random numbers: replication `r` of every point uses the same random streams.
    /// Default: true. With false, each point gets its own seed, derived from the base seed.
    #[serde(default = "yes")]
    pub crn: bool,
    /// `sobol` and `saltelli` only: Owen scrambling of the sequence. Default: true (false = the
    /// plain sequence, which starts at the lower corner of the ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scramble: Option<bool>,
    /// `[[vary]]`: the axes, each one sweepable path.
    pub vary: Vec<Axis>,
}

/// `[[vary]]`: one varied path with its values or its range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// A sweepable path, as for `--set` (`chipmarket params` lists them).
    pub path: String,
    /// What the charts and tables call the axis (`"licence approval probability"`). Default:
    /// the path's last part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The values to take (a grid takes each; other designs sample from the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<toml::Value>>,
    /// `[low, high]`: random, lhs and sobol designs sample it; a grid takes `steps` evenly
    /// spaced values from it, both ends included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Vec<f64>>,
    /// Grid only: how many evenly spaced values of `range` to take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
    /// The path holds a whole number in the base scenario, so values taken from `range` are
    /// rounded. Set by [`Sweep::bind`].
    #[serde(skip)]
    pub integer: bool,
}

/// One point of a design: a value per axis, in `[[vary]]` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The values, one per axis.
    pub values: Vec<toml::Value>,
}

fn default_method() -> Method {
    Method::Grid
}
fn one_u64() -> u64 {
    1
}
fn yes() -> bool {
    true
}

impl SweepSpec {
    /// Parse a sweep file and check it on its own (the base scenario is checked by [`Sweep::bind`]).
    /// Errors carry the key path and, where the text has it, the line and column.
    pub fn from_toml_str(text: &str) -> Result<SweepSpec, ScenarioError> {
        if text.trim().is_empty() {
            return Err(ScenarioError::new(KeyPath::root(), "the sweep file is empty")
                .with_hint("a sweep needs `base = \"scenario.toml\"` and at least one [[vary]]; see docs/sweeps.md"));
        }
        let tree = parse_tree(text)?;
        let spec: SweepSpec = serde_path_to_error::deserialize(toml::Value::Table(tree.clone())).map_err(|err| {
            let mut e = ScenarioError::from_deserialize(&err);
            e.hint = e.hint.map(|h| h.replace("docs/scenario-format.md", "docs/sweeps.md"));
            e.located(text, &tree, &[])
        })?;
        spec.check().map_err(|e| e.located(text, &tree, &[]))?;
        Ok(spec)
    }

    /// The base scenario's path as written (relative to the sweep file), if it is one.
    pub fn base_path(&self) -> Option<&str> {
        self.base.as_str()
    }

    /// The inline base scenario as TOML text, if the base is a table.
    pub fn base_inline_text(&self) -> Option<String> {
        self.base.as_table().map(|t| toml::to_string(t).expect("a TOML table always serialises"))
    }

    /// Re-address an error of the inline base scenario to its place in the sweep file `text`.
    pub fn locate_base_error(mut err: ScenarioError, text: &str) -> ScenarioError {
        let mut segs = vec![PathSeg::Key("base".to_string())];
        segs.extend(err.path.0);
        err.path = KeyPath(segs);
        err.span = None;
        err.line_col = None;
        err.from_override = None;
        Self::locate_error(err, text)
    }

    /// Fill in the line and column of an error about the key path `err.path` of the sweep file `text`.
    pub fn locate_error(err: ScenarioError, text: &str) -> ScenarioError {
        match text.parse::<toml::Table>() {
            Ok(tree) => err.located(text, &tree, &[]),
            Err(_) => err,
        }
    }

    /// Number of points the design has (saturating).
    pub fn n_points(&self) -> u64 {
        let d = self.vary.len() as u64;
        match self.method {
            Method::Grid => self.vary.iter().fold(1u64, |n, a| n.saturating_mul(a.level_count())),
            Method::Saltelli => u64::from(self.samples.unwrap_or(0)).saturating_mul(d + 2),
            Method::Morris => u64::from(self.trajectories.unwrap_or(0)).saturating_mul(d + 1),
            _ => u64::from(self.samples.unwrap_or(0)),
        }
    }

    /// The grid levels p of a `morris` design.
    pub fn morris_levels(&self) -> u32 {
        self.levels.unwrap_or(DEFAULT_MORRIS_LEVELS)
    }

    /// The `morris` keys: `trajectories` given, `levels` even, no `samples`.
    fn check_morris(&self) -> Result<(), ScenarioError> {
        let root = KeyPath::root();
        if self.samples.is_some() {
            return Err(ScenarioError::new(
                root.key("samples"),
                "a morris design is sized by `trajectories`, not `samples`",
            )
            .with_hint("replace `samples` with `trajectories = 20` (each trajectory runs D + 1 points)"));
        }
        match self.trajectories {
            None => {
                return Err(ScenarioError::new(root.key("method"), "method = \"morris\" needs `trajectories`")
                    .with_hint("add for example `trajectories = 20`"))
            }
            Some(r) if r == 0 || r > MAX_TRAJECTORIES => {
                return Err(ScenarioError::new(
                    root.key("trajectories"),
                    format!("expected a whole number from 1 to {MAX_TRAJECTORIES}, found {r}"),
                ))
            }
            Some(_) => {}
        }
        let p = self.morris_levels();
        if !(2..=100).contains(&p) || !p.is_multiple_of(2) {
            return Err(ScenarioError::new(
                root.key("levels"),
                format!("expected an even number from 2 to 100, found {p}"),
            )
            .with_hint("use levels = 4 (or 6, 8): with even p every step of p / (2 (p - 1)) lands on the grid"));
        }
        Ok(())
    }

    /// Checks that need nothing but the file.
    fn check(&self) -> Result<(), ScenarioError> {
        let root = KeyPath::root();
        match &self.base {
            toml::Value::String(s) if !s.trim().is_empty() => {}
            toml::Value::Table(_) => {}
            other => {
                return Err(ScenarioError::new(
                    root.key("base"),
                    format!("expected the path of the base scenario, found {}", describe_value(other)),
                )
                .with_hint("for example base = \"../baseline.toml\" (relative to the sweep file)"))
            }
        }
        if let Some(n) = self.replications {
            if !(1..=1_000_000).contains(&n) {
                return Err(ScenarioError::new(
                    root.key("replications"),
                    format!("expected a whole number from 1 to 1000000, found {n}"),
                ));
            }
        }
        if self.method == Method::Morris {
            self.check_morris()?;
        } else {
            for (key, given) in [("trajectories", self.trajectories.is_some()), ("levels", self.levels.is_some())] {
                if given {
                    return Err(ScenarioError::new(root.key(key), format!("`{key}` applies to morris designs only"))
                        .with_hint("remove it, or set method = \"morris\""));
                }
            }
        }
        match (self.method, self.samples) {
            (Method::Morris, _) => {}
            (Method::Grid, Some(_)) => {
                return Err(ScenarioError::new(
                    root.key("samples"),
                    "`samples` applies to random, lhs and sobol designs; a grid runs every combination of its values",
                )
                .with_hint("remove `samples`, or set method = \"lhs\" to sample the ranges"))
            }
            (Method::Grid, None) => {}
            (m, None) => {
                return Err(ScenarioError::new(
                    root.key("method"),
                    format!("method = \"{}\" needs `samples`, the number of points", m.as_str()),
                )
                .with_hint("add for example `samples = 100`"))
            }
            (_, Some(0)) => {
                return Err(ScenarioError::new(root.key("samples"), "expected at least 1 sample, found 0"));
            }
            (Method::Saltelli, Some(n)) if !n.is_power_of_two() || n > MAX_SOBOL_SAMPLES => {
                return Err(ScenarioError::new(
                    root.key("samples"),
                    format!("a saltelli design needs a base sample that is a power of two up to {MAX_SOBOL_SAMPLES}, found {n}"),
                )
                .with_hint(format!(
                    "use samples = {} (the estimators' error shrinks with N; N x (D + 2) points are run)",
                    n.next_power_of_two().min(MAX_SOBOL_SAMPLES)
                )))
            }
            (Method::Sobol, Some(n)) if n > MAX_SOBOL_SAMPLES => {
                return Err(ScenarioError::new(
                    root.key("samples"),
                    format!("a sobol design has at most {MAX_SOBOL_SAMPLES} samples, found {n}"),
                )
                .with_hint("use method = \"lhs\" or \"random\" for more points"))
            }
            _ => {}
        }
        if self.scramble.is_some() && !matches!(self.method, Method::Sobol | Method::Saltelli) {
            return Err(ScenarioError::new(
                root.key("scramble"),
                "`scramble` applies to sobol and saltelli designs only",
            )
            .with_hint("remove it, or set method = \"sobol\""));
        }
        if self.vary.is_empty() {
            return Err(ScenarioError::new(root.key("vary"), "expected at least one [[vary]] entry, found none")
                .with_hint("add [[vary]] with a `path` and its `values` or `range`"));
        }
        if self.method == Method::Sobol && self.vary.len() > MAX_SOBOL_AXES {
            return Err(ScenarioError::new(
                root.key("vary"),
                format!("a sobol design has at most {MAX_SOBOL_AXES} axes, found {}", self.vary.len()),
            ));
        }
        if self.method == Method::Saltelli && self.vary.len() > MAX_SALTELLI_AXES {
            return Err(ScenarioError::new(
                root.key("vary"),
                format!("a saltelli design has at most {MAX_SALTELLI_AXES} axes, found {}", self.vary.len()),
            )
            .with_hint("screen the axes first with method = \"morris\", then run saltelli on the ones that matter"));
        }
        for (i, axis) in self.vary.iter().enumerate() {
            axis.check(root.key("vary").index(i), self.method)?;
            if let Some(j) = self.vary[..i].iter().position(|a| a.path == axis.path) {
                return Err(ScenarioError::new(
                    root.key("vary").index(i).key("path"),
                    format!("\"{}\" is already varied by [[vary]] number {}", axis.path, j + 1),
                )
                .with_hint("vary each path once; put all its values in one list"));
            }
        }
        let n = self.n_points();
        if n > MAX_POINTS {
            return Err(ScenarioError::new(
                root.key("vary"),
                format!("the design has {n} points, more than the {MAX_POINTS} a sweep may have"),
            )
            .with_hint("use fewer values per axis, or an lhs design with fewer samples"));
        }
        Ok(())
    }
}

impl Axis {
    fn check(&self, at: KeyPath, method: Method) -> Result<(), ScenarioError> {
        let path = self.path.trim();
        if path.is_empty() || path != self.path || path.split('.').any(str::is_empty) {
            return Err(ScenarioError::new(
                at.key("path"),
                format!("expected a dotted path such as \"firms.thead.rd_intensity\", found \"{}\"", self.path),
            )
            .with_hint("`chipmarket params BASE` lists every sweepable path"));
        }
        if path == "scenario.seed" {
            return Err(ScenarioError::new(at.key("path"), "a sweep cannot vary scenario.seed").with_hint(
                "replications already use independent streams; set `crn = false` for other streams at every point",
            ));
        }
        if path == "scenario.replications" {
            return Err(ScenarioError::new(at.key("path"), "a sweep cannot vary scenario.replications")
                .with_hint("set `replications = N` at the top of the sweep file"));
        }
        match (&self.values, &self.range) {
            (Some(_), Some(_)) => {
                return Err(ScenarioError::new(at.key("range"), "give either `values` or `range`, not both")
                    .with_hint("`values` lists what to take; `range = [low, high]` is sampled"))
            }
            (None, None) => {
                return Err(ScenarioError::new(
                    at.clone(),
                    format!("[[vary]] \"{}\" needs `values = [...]` or `range = [low, high]`", self.path),
                ))
            }
            (Some(values), None) => {
                if values.is_empty() {
                    return Err(ScenarioError::new(at.key("values"), "expected at least one value, found none"));
                }
                if let Some(j) = values.iter().position(toml::Value::is_table) {
                    return Err(ScenarioError::new(
                        at.key("values").index(j),
                        "expected a value (number, string, boolean, date or list), found a table",
                    )
                    .with_hint("vary the table's keys one by one, e.g. path = \"firms.thead.rd_intensity\""));
                }
                if self.steps.is_some() {
                    return Err(ScenarioError::new(at.key("steps"), "`steps` applies to a `range`")
                        .with_hint("remove `steps`: every listed value is taken"));
                }
            }
            (None, Some(range)) => {
                if range.len() != 2 {
                    return Err(ScenarioError::new(
                        at.key("range"),
                        format!("expected [low, high], found {} number(s)", range.len()),
                    ));
                }
                if range.iter().any(|x| !x.is_finite()) {
                    return Err(ScenarioError::new(at.key("range"), "expected finite numbers, found nan or inf"));
                }
                if !(range[1] - range[0]).is_finite() {
                    return Err(ScenarioError::new(
                        at.key("range"),
                        format!(
                            "the range [{:?}, {:?}] is wider than a number can hold (high - low overflows)",
                            range[0], range[1]
                        ),
                    )
                    .with_hint("use a range whose width is below 1.7e308"));
                }
                if range[0] > range[1] {
                    return Err(ScenarioError::new(
                        at.key("range"),
                        format!("expected low <= high, found [{}, {}]", range[0], range[1]),
                    )
                    .with_hint(format!("write range = [{}, {}]", range[1], range[0])));
                }
                match (method, self.steps) {
                    (Method::Grid, None) => {
                        return Err(ScenarioError::new(
                            at.key("range"),
                            "a grid axis needs a list of values, and a range has no end of them",
                        )
                        .with_hint("add `steps = 5` to take 5 evenly spaced values, or list them: values = [...]"))
                    }
                    (Method::Grid, Some(n)) if n < 2 => {
                        return Err(ScenarioError::new(
                            at.key("steps"),
                            format!("expected at least 2 steps (both ends of the range), found {n}"),
                        )
                        .with_hint("for one value, write values = [x] instead of a range"));
                    }
                    (Method::Grid, Some(n)) if u64::from(n) > MAX_POINTS => {
                        return Err(ScenarioError::new(
                            at.key("steps"),
                            format!("expected at most {MAX_POINTS} steps, the most points a sweep may have, found {n}"),
                        ));
                    }
                    (Method::Grid, Some(_)) => {}
                    (m, Some(_)) => {
                        return Err(ScenarioError::new(
                            at.key("steps"),
                            format!("`steps` applies to grid designs; a {} design samples the range", m.as_str()),
                        )
                        .with_hint("remove `steps`; `samples` sets the number of points"))
                    }
                    (_, None) => {}
                }
            }
        }
        Ok(())
    }

    /// How many values a grid takes on this axis, without making them (checked before expansion).
    pub fn level_count(&self) -> u64 {
        match &self.values {
            Some(values) => values.len() as u64,
            None => u64::from(self.steps.unwrap_or(1).max(1)),
        }
    }

    /// The values a grid takes on this axis: the list, or `steps` evenly spaced values of the
    /// range, both ends included (a checked axis has at least 2 steps).
    pub fn levels(&self) -> Vec<toml::Value> {
        if let Some(values) = &self.values {
            return values.clone();
        }
        let (lo, hi) = self.bounds();
        let steps = self.steps.unwrap_or(2).max(2);
        (0..steps)
            .map(|k| {
                let x = if k + 1 == steps { hi } else { lo + (hi - lo) * f64::from(k) / f64::from(steps - 1) };
                self.number(x)
            })
            .collect()
    }

    /// The value at unit coordinate `u` in [0, 1): a place in the range, or a pick from the list.
    pub fn at_unit(&self, u: f64) -> toml::Value {
        if let Some(values) = &self.values {
            let n = values.len();
            let i = ((u * n as f64) as usize).min(n - 1);
            return values[i].clone();
        }
        let (lo, hi) = self.bounds();
        self.number((lo + u * (hi - lo)).clamp(lo, hi))
    }

    fn bounds(&self) -> (f64, f64) {
        match self.range.as_deref() {
            Some([lo, hi]) => (*lo, *hi),
            _ => (0.0, 0.0),
        }
    }

    fn number(&self, x: f64) -> toml::Value {
        if self.integer {
            toml::Value::Integer(x.round() as i64)
        } else {
            toml::Value::Float(x)
        }
    }
}

/// Expand a design into its points, in order. Pure and deterministic: the same spec (and seed)
/// always gives the same points.
///
/// `grid`: the product of the axes' levels, the last axis varying fastest. `random`, `lhs` and
/// `sobol`: `samples` points of the unit hypercube ([`unit_design`]), mapped onto each axis's
/// range (rounded for whole-number paths) or onto its list of values.
pub fn expand(spec: &SweepSpec) -> Vec<Point> {
    if spec.method == Method::Grid {
        let levels: Vec<Vec<toml::Value>> = spec.vary.iter().map(Axis::levels).collect();
        let n = levels.iter().map(Vec::len).product::<usize>();
        return (0..n)
            .map(|mut idx| {
                let mut values = vec![toml::Value::Boolean(false); levels.len()];
                for (j, axis_levels) in levels.iter().enumerate().rev() {
                    values[j] = axis_levels[idx % axis_levels.len()].clone();
                    idx /= axis_levels.len();
                }
                Point { values }
            })
            .collect();
    }
    unit_design(spec)
        .into_iter()
        .map(|u| Point { values: spec.vary.iter().zip(u).map(|(axis, x)| axis.at_unit(x)).collect() })
        .collect()
}

/// Salt of the Sobol scrambling seed.
const SOBOL_SALT: u64 = 0x50B0_1000;

/// The design of a sampled sweep in the unit hypercube: one row per point, one coordinate in
/// [0, 1) per axis (in [0, 1] for `morris`, whose grid includes both ends). Empty for a grid.
///
/// `saltelli`: rows of the 2D-dimensional sequence give A (first D coordinates) and B (last D);
/// for each base row j the points are A_j, AB_1j .. AB_Dj, B_j. `morris`: trajectory t is rows
/// t (D + 1) .. t (D + 1) + D; each factor starts at a random grid level `lo` (or `lo + delta`,
/// at random), and step s moves the factor in the trajectory's random order s from one to the
/// other, so consecutive rows differ in exactly one coordinate, by +-delta.
pub fn unit_design(spec: &SweepSpec) -> Vec<Vec<f64>> {
    let n = spec.samples.unwrap_or(0) as usize;
    let d = spec.vary.len();
    match spec.method {
        Method::Grid => Vec::new(),
        Method::Random => {
            let mut rng = stream(spec.seed, 0, "sweep/random");
            (0..n).map(|_| (0..d).map(|_| rng.random::<f64>()).collect()).collect()
        }
        Method::Lhs => {
            let mut rng = stream(spec.seed, 0, "sweep/lhs");
            let mut rows = vec![vec![0.0; d]; n];
            let mut strata: Vec<usize> = (0..n).collect();
            for j in 0..d {
                strata.sort_unstable();
                strata.shuffle(&mut rng);
                for (row, &stratum) in rows.iter_mut().zip(&strata) {
                    let u = (stratum as f64 + rng.random::<f64>()) / n as f64;
                    // Keep rounding from ever carrying a point into the next stratum.
                    row[j] = u.min(((stratum + 1) as f64 / n as f64).next_down_or_self());
                }
            }
            rows
        }
        Method::Sobol => sobol_rows(spec, n, d),
        Method::Saltelli => {
            let rows = sobol_rows(spec, n, 2 * d);
            let mut out = Vec::with_capacity(n * (d + 2));
            for row in rows {
                let (a, b) = row.split_at(d);
                out.push(a.to_vec());
                for i in 0..d {
                    let mut ab = a.to_vec();
                    ab[i] = b[i];
                    out.push(ab);
                }
                out.push(b.to_vec());
            }
            out
        }
        Method::Morris => {
            let r = spec.trajectories.unwrap_or(0) as usize;
            let p = spec.morris_levels();
            let half = p / 2;
            let delta = morris_delta(p);
            let mut rng = stream(spec.seed, 0, "sweep/morris");
            let mut out = Vec::with_capacity(r * (d + 1));
            for _ in 0..r {
                let mut order: Vec<usize> = (0..d).collect();
                order.shuffle(&mut rng);
                let mut pairs = Vec::with_capacity(d);
                for _ in 0..d {
                    let lo = f64::from(rng.random_range(0..half)) / f64::from(p - 1);
                    let up = rng.random::<bool>();
                    pairs.push(if up { (lo, lo + delta) } else { (lo + delta, lo) });
                }
                let mut row: Vec<f64> = pairs.iter().map(|(from, _)| *from).collect();
                out.push(row.clone());
                for &i in &order {
                    row[i] = pairs[i].1;
                    out.push(row.clone());
                }
            }
            out
        }
    }
}

/// The step of a Morris design on a grid of `levels` p, as a share of each range: p / (2 (p - 1)).
pub fn morris_delta(levels: u32) -> f64 {
    f64::from(levels) / (2.0 * f64::from(levels - 1))
}

/// The first `n` points of the `d`-dimensional Sobol sequence of `spec` (scrambled unless
/// `scramble = false`).
fn sobol_rows(spec: &SweepSpec, n: usize, d: usize) -> Vec<Vec<f64>> {
    let seed = derive_seed(spec.seed, SOBOL_SALT) as u32;
    let scramble = spec.scramble.unwrap_or(true);
    (0..n as u32)
        .map(|i| {
            (0..d as u32)
                .map(|j| {
                    let x = if scramble {
                        sobol_burley::sample(i, j, seed)
                    } else {
                        use sobol_burley::parts::{sobol_rev, u32_to_f32_norm};
                        u32_to_f32_norm(sobol_rev(i.reverse_bits(), j).reverse_bits())
                    };
                    f64::from(x)
                })
                .collect()
        })
        .collect()
}

/// `f64::next_down` for positive numbers (stable on our minimum Rust version).
trait NextDown {
    fn next_down_or_self(self) -> f64;
}

impl NextDown for f64 {
    fn next_down_or_self(self) -> f64 {
        if self > 0.0 && self.is_finite() {
            f64::from_bits(self.to_bits() - 1)
        } else {
            self
        }
    }
}

/// A sweep checked against its base scenario, with its points expanded and validated.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The spec, with `replications` and each axis's `integer` filled in.
    pub spec: SweepSpec,
    /// The base scenario.
    pub base: Scenario,
    /// The design's points, in order.
    pub points: Vec<Point>,
    /// The base scenario's texts, base-most layer first (see `extends`).
    base_layers: Vec<String>,
    /// The layers merged, before any override.
    base_tree: toml::Table,
}

impl Sweep {
    /// Check `spec` (read from `text`) against its base scenario (the texts of its layers, base-most
    /// first, already known to be valid) and validate the scenario of every point. Errors point
    /// into the sweep file.
    pub fn bind(spec: SweepSpec, text: &str, base_layers: &[&str]) -> Result<Sweep, ScenarioError> {
        let sweep = Sweep::bind_design(spec, text, base_layers)?;
        sweep.check_points(0..sweep.points.len(), text)?;
        Ok(sweep)
    }

    /// [`Sweep::bind`] without validating the points' scenarios: the axes are checked against
    /// the base and the design is expanded, which costs little per point. A shard validates only
    /// its own points with [`Sweep::check_points`], so its cost does not grow with the design.
    pub fn bind_design(mut spec: SweepSpec, text: &str, base_layers: &[&str]) -> Result<Sweep, ScenarioError> {
        let tree = parse_tree(text)?;
        let base = Scenario::from_layers(base_layers, &[])?;
        let mut base_tree = toml::Table::new();
        for layer in base_layers {
            let mut layer = parse_tree(layer)?;
            layer.remove(EXTENDS);
            merge(&mut base_tree, layer);
        }
        let resolved = base.to_toml_value();
        let replications = *spec.replications.get_or_insert(base.scenario.replications);
        for (i, axis) in spec.vary.iter_mut().enumerate() {
            let at = KeyPath::root().key("vary").index(i);
            match lookup(&resolved, &axis.path) {
                Lookup::Table => {
                    let inside: Vec<String> = list_params(&resolved)
                        .into_iter()
                        .map(|(p, _)| p)
                        .filter(|p| p.starts_with(&format!("{}.", axis.path)))
                        .take(3)
                        .collect();
                    return Err(ScenarioError::new(
                        at.key("path"),
                        format!("\"{}\" is a table of the base scenario, not a value", axis.path),
                    )
                    .with_hint(format!("vary one of its values, such as {}", inside.join(", ")))
                    .located(text, &tree, &[]));
                }
                Lookup::Value(value) => {
                    axis.integer = value.is_integer();
                    if axis.range.is_some() && !(value.is_integer() || value.is_float()) {
                        return Err(ScenarioError::new(
                            at.key("range"),
                            format!("\"{}\" is {}, so it has no range", axis.path, describe_value(&value)),
                        )
                        .with_hint("list the values to take: values = [...]")
                        .located(text, &tree, &[]));
                    }
                }
                Lookup::Missing => axis.integer = false,
            }
            let probe = axis.values.as_ref().map_or_else(|| axis.at_unit(0.0), |v| v[0].clone());
            if let Err(err) = Scenario::from_layers(base_layers, &[Override::new(&axis.path, probe)]) {
                if is_path_error(&err) {
                    return Err(path_error(&axis.path, at, &err, &resolved).located(text, &tree, &[]));
                }
            }
        }
        let runs = spec.n_points().saturating_mul(u64::from(replications));
        if runs > MAX_RUNS {
            return Err(ScenarioError::new(
                KeyPath::root().key("replications"),
                format!(
                    "{} points x {replications} replications = {runs} runs, more than the {MAX_RUNS} a sweep may have",
                    spec.n_points()
                ),
            )
            .located(text, &tree, &[]));
        }
        let points = expand(&spec);
        let base_layers = base_layers.iter().map(|t| t.to_string()).collect();
        Ok(Sweep { spec, base, points, base_layers, base_tree })
    }

    /// Validate the scenario of every point in `points` (the first that fails is the error,
    /// located in `text`, the sweep file this sweep was bound from).
    pub fn check_points(&self, points: std::ops::Range<usize>, text: &str) -> Result<(), ScenarioError> {
        for p in points {
            if let Err(err) = self.scenario(p) {
                let tree = parse_tree(text)?;
                return Err(self.point_error(p, err, &self.base.to_toml_value()).located(text, &tree, &[]));
            }
        }
        Ok(())
    }

    /// Replications per point.
    pub fn replications(&self) -> u32 {
        self.spec.replications.unwrap_or(1)
    }

    /// Number of runs: points x replications.
    pub fn runs(&self) -> u64 {
        self.points.len() as u64 * u64::from(self.replications())
    }

    /// The varied paths, in `[[vary]]` order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.spec.vary.iter().map(|a| a.path.as_str())
    }

    /// The overrides that make point `point` out of the base scenario.
    pub fn overrides(&self, point: usize) -> Vec<Override> {
        self.spec
            .vary
            .iter()
            .zip(&self.points[point].values)
            .map(|(axis, v)| Override::new(&axis.path, v.clone()))
            .collect()
    }

    /// The master seed of the runs of point `point`: the base seed with common random numbers,
    /// else one derived from it and the point index (kept within TOML's integer range).
    pub fn seed(&self, point: usize) -> u64 {
        if self.spec.crn {
            self.base.scenario.seed
        } else {
            derive_seed(self.base.scenario.seed, point as u64) & (i64::MAX as u64)
        }
    }

    /// The validated scenario of point `point`, with its seed.
    pub fn scenario(&self, point: usize) -> Result<Scenario, ScenarioError> {
        let mut scenario = self.scenario_with(&self.overrides(point))?;
        scenario.scenario.seed = self.seed(point);
        Ok(scenario)
    }

    /// The validated scenario at any values of the axes (one per `[[vary]]`, in order), with
    /// the base seed: for searches (calibration) whose points are not known in advance.
    pub fn scenario_at(&self, values: &[toml::Value]) -> Result<Scenario, ScenarioError> {
        let overrides: Vec<Override> =
            self.spec.vary.iter().zip(values).map(|(axis, v)| Override::new(&axis.path, v.clone())).collect();
        let mut scenario = self.scenario_with(&overrides)?;
        scenario.scenario.seed = self.base.scenario.seed;
        Ok(scenario)
    }

    /// The base scenario with `overrides` applied, validated.
    fn scenario_with(&self, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
        let overrides = overrides.to_vec();
        let fast = || -> Option<Scenario> {
            let mut tree = self.base_tree.clone();
            for ov in &overrides {
                apply_override(&mut tree, ov).ok()?;
            }
            let scenario: Scenario = toml::Value::Table(tree).try_into().ok()?;
            scenario.validate().ok()?;
            Some(scenario)
        };
        // The fast path skips re-reading the text; on any error the slow one says exactly what.
        match fast() {
            Some(s) => Ok(s),
            None => {
                let layers: Vec<&str> = self.base_layers.iter().map(String::as_str).collect();
                Scenario::from_layers(&layers, &overrides)
            }
        }
    }

    /// The sweep with every default filled in and its base scenario inline, as TOML. Running it
    /// gives the same results; shards of one sweep write the same text, whatever the machine.
    pub fn to_resolved_toml(&self) -> String {
        #[derive(Serialize)]
        struct Resolved<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            name: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            question: Option<&'a str>,
            replications: u32,
            method: Method,
            #[serde(skip_serializing_if = "Option::is_none")]
            samples: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            trajectories: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            levels: Option<u32>,
            seed: u64,
            crn: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            scramble: Option<bool>,
            vary: &'a [Axis],
        }
        let resolved = Resolved {
            name: self.spec.name.as_deref(),
            question: self.spec.question.as_deref(),
            replications: self.replications(),
            method: self.spec.method,
            samples: self.spec.samples,
            trajectories: self.spec.trajectories,
            levels: (self.spec.method == Method::Morris).then_some(self.spec.morris_levels()),
            seed: self.spec.seed,
            crn: self.spec.crn,
            scramble: matches!(self.spec.method, Method::Sobol | Method::Saltelli)
                .then_some(self.spec.scramble.unwrap_or(true)),
            vary: &self.spec.vary,
        };
        let body = toml::to_string(&resolved).expect("a resolved sweep always serialises to TOML");
        // The base goes in as `[base.*]` tables, in the scenario's own order, after the axes.
        let mut doc: toml_edit::DocumentMut = body.parse().expect("serialised TOML parses back");
        let base: toml_edit::DocumentMut =
            self.base.to_toml_string().parse().expect("a resolved scenario always parses back");
        let mut base = base.as_table().clone();
        base.set_implicit(true);
        shift_positions(&mut base, 1 << 20);
        doc.insert("base", toml_edit::Item::Table(base));
        format!(
            "# The sweep as chipmarket {} ran it: every default filled in, the base scenario inline.\n\
             # `chipmarket sweep sweep.resolved.toml` runs it again.\n{doc}",
            env!("CARGO_PKG_VERSION")
        )
    }

    /// `path=value` for each axis of a point, for messages.
    pub fn describe_point(&self, point: usize) -> String {
        self.paths().zip(&self.points[point].values).map(|(p, v)| format!("{p}={v}")).collect::<Vec<_>>().join(", ")
    }

    /// An error of point `point`'s scenario, addressed to the `[[vary]]` it comes from.
    fn point_error(&self, point: usize, err: ScenarioError, resolved: &toml::Value) -> ScenarioError {
        let axis = err.from_override.as_deref().and_then(|ov| {
            let path = ov.split_once('=').map_or(ov, |(p, _)| p);
            self.spec.vary.iter().position(|a| a.path == path)
        });
        let Some(i) = axis else {
            return ScenarioError {
                hint: err.hint.clone(),
                ..ScenarioError::new(
                    KeyPath::root().key("vary"),
                    format!(
                        "point {point} ({}) makes the base scenario invalid: {}: {}",
                        self.describe_point(point),
                        err.dotted,
                        err.message
                    ),
                )
            };
        };
        let axis = &self.spec.vary[i];
        let at = KeyPath::root().key("vary").index(i);
        if is_path_error(&err) {
            return path_error(&axis.path, at, &err, resolved);
        }
        let value = &self.points[point].values[i];
        let place = match &axis.values {
            Some(values) => at.key("values").index(values.iter().position(|v| v == value).unwrap_or(0)),
            None => at.key("range"),
        };
        ScenarioError {
            hint: err.hint.clone(),
            ..ScenarioError::new(
                place,
                format!("point {point} ({}): {}: {}", self.describe_point(point), err.dotted, err.message),
            )
        }
    }
}

/// Move every table of `table` after the host document's own tables, keeping their order.
fn shift_positions(table: &mut toml_edit::Table, by: usize) {
    if let Some(p) = table.position() {
        table.set_position(p + by);
    }
    for (_, item) in table.iter_mut() {
        match item {
            toml_edit::Item::Table(t) => shift_positions(t, by),
            toml_edit::Item::ArrayOfTables(a) => a.iter_mut().for_each(|t| shift_positions(t, by)),
            _ => {}
        }
    }
}

/// What a dotted path names in a resolved scenario tree.
enum Lookup {
    Value(toml::Value),
    Table,
    Missing,
}

fn lookup(tree: &toml::Value, path: &str) -> Lookup {
    let mut node = tree;
    for seg in path.split('.') {
        let next = match node {
            toml::Value::Table(t) => t.get(seg),
            toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => items
                .iter()
                .find(|it| it.get("id").and_then(toml::Value::as_str) == Some(seg))
                .or_else(|| seg.parse::<usize>().ok().and_then(|i| items.get(i))),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return Lookup::Missing,
        }
    }
    match node {
        toml::Value::Table(_) => Lookup::Table,
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(toml::Value::is_table) => Lookup::Table,
        v => Lookup::Value(v.clone()),
    }
}

/// True if a scenario error says the override's path does not exist (rather than its value is bad).
fn is_path_error(err: &ScenarioError) -> bool {
    let m = &err.message;
    m.starts_with("unknown key")
        || m.starts_with("no item")
        || m.starts_with("missing key")
        || m.contains("so it has no key")
        || m.contains("is a whole list item")
        || m.contains("is not a table")
}

/// A `[[vary]]` path that is not a path of the base scenario, with the nearest valid path.
fn path_error(path: &str, at: KeyPath, err: &ScenarioError, resolved: &toml::Value) -> ScenarioError {
    let e = ScenarioError::new(
        at.key("path"),
        format!("\"{path}\" is not a sweepable path of the base scenario: {}: {}", err.dotted, err.message),
    );
    let params = list_params(resolved);
    let nearest = params
        .iter()
        .map(|(p, _)| (strsim::jaro_winkler(path, p), p))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, p)| p);
    match nearest {
        Some(p) => e.with_hint(format!("did you mean \"{p}\"? `chipmarket params BASE` lists every sweepable path")),
        None => e.with_hint(format!(
            "{}`chipmarket params BASE` lists every sweepable path",
            err.hint.as_ref().map_or(String::new(), |h| format!("{h}; "))
        )),
    }
}

fn parse_tree(text: &str) -> Result<toml::Table, ScenarioError> {
    text.parse::<toml::Table>().map_err(|err| {
        let mut e = ScenarioError::new(KeyPath::root(), format!("invalid TOML: {}", err.message().trim()))
            .with_hint("check quotes, brackets and `key = value` pairs on this line");
        e.span = err.span();
        e.located(text, &toml::Table::new(), &[])
    })
}

fn describe_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string \"{s}\""),
        toml::Value::Integer(i) => format!("the number {i}"),
        toml::Value::Float(x) => format!("the number {x}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".to_string(),
        toml::Value::Table(_) => "a table".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE: &str = r#"
[scenario]
name = "tiny"
start = "2024-01-01"
horizon_years = 1
seed = 7
replications = 3

[demand]
installed_start_pflops = 1000.0
saturation_pflops = 50000.0

[[firms]]
id = "acme"
origin = "domestic"
capacity_units_per_quarter = 20000.0
[[firms.chips]]
id = "acme_1"
launch = "2023-06-01"
bf16_tflops = 300.0
unit_cost_usd = 5000.0

[[customers]]
id = "cloud"
kind = "hyperscaler"
demand_share = 1.0
"#;

    fn bind(text: &str) -> Result<Sweep, ScenarioError> {
        Sweep::bind(SweepSpec::from_toml_str(text)?, text, &[BASE])
    }

    /// The error of `text`: (line, column, dotted path, message and hint).
    fn error(text: &str) -> (Option<(usize, usize)>, String, String) {
        let err = bind(text).expect_err("the sweep is invalid");
        (err.line_col, err.dotted.clone(), format!("{err}"))
    }

    fn check(text: &str, line: usize, dotted: &str, says: &[&str]) {
        let (line_col, got_dotted, shown) = error(text);
        assert_eq!(line_col.map(|l| l.0), Some(line), "{shown}");
        assert_eq!(got_dotted, dotted, "{shown}");
        for s in says {
            assert!(shown.contains(s), "expected {s:?} in: {shown}");
        }
    }

    #[test]
    fn bad_sweep_files_name_line_path_and_fix() {
        let cases: &[(&str, usize, &str, &[&str])] = &[
            ("base = \"b.toml\"\nmethd = \"grid\"\n", 2, "methd", &["unknown key", "did you mean \"method\""]),
            (
                "base = \"b.toml\"\nmethod = \"lhd\"\n[[vary]]\npath = \"a.b\"\nvalues = [1]\n",
                2,
                "method",
                &["did you mean \"lhs\""],
            ),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nvlaues = [1]\n",
                4,
                "vary.0.vlaues",
                &["did you mean \"values\""],
            ),
            (
                "base = \"b.toml\"\nmethod = \"lhs\"\n[[vary]]\npath = \"a.b\"\nrange = [0, 1]\n",
                2,
                "method",
                &["needs `samples`"],
            ),
            ("base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nrange = [0, 1]\n", 4, "vary.0.range", &["steps = 5"]),
            (
                "base = \"b.toml\"\nmethod = \"lhs\"\nsamples = 4\n[[vary]]\npath = \"a.b\"\nrange = [2, 1]\n",
                6,
                "vary.0.range",
                &["low <= high"],
            ),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nvalues = [1]\nrange = [0, 1]\n",
                5,
                "vary.0.range",
                &["not both"],
            ),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"scenario.seed\"\nvalues = [1]\n",
                3,
                "vary.0.path",
                &["crn = false"],
            ),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nvalues = [1]\n[[vary]]\npath = \"a.b\"\nvalues = [2]\n",
                6,
                "vary.1.path",
                &["already varied"],
            ),
            ("base = \"b.toml\"\nsamples = 3\n[[vary]]\npath = \"a.b\"\nvalues = [1]\n", 2, "samples", &["grid"]),
            ("base = 3\n[[vary]]\npath = \"a.b\"\nvalues = [1]\n", 1, "base", &["expected the path"]),
            ("base = \"b.toml\"\n[[vary]\n", 2, "", &["invalid TOML"]),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nrange = [0, 1]\nsteps = 1\n",
                5,
                "vary.0.steps",
                &["at least 2 steps", "values = [x]"],
            ),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nrange = [0, 1]\nsteps = 1000000000\n",
                5,
                "vary.0.steps",
                &["at most 10000000 steps"],
            ),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nrange = [0, 1]\nsteps = 4000\n[[vary]]\npath = \"a.c\"\nrange = [0, 1]\nsteps = 4000\n",
                2,
                "vary",
                &["16000000 points, more than the 10000000"],
            ),
            (
                "base = \"b.toml\"\nmethod = \"random\"\nsamples = 4\n[[vary]]\npath = \"a.b\"\nrange = [-1.7e308, 1.7e308]\n",
                6,
                "vary.0.range",
                &["wider than a number can hold"],
            ),
            (
                "base = \"b.toml\"\n[[vary]]\npath = \"a.b\"\nrange = [-1.7e308, 1.7e308]\nsteps = 3\n",
                4,
                "vary.0.range",
                &["high - low overflows"],
            ),
        ];
        for (text, line, dotted, says) in cases {
            let err = SweepSpec::from_toml_str(text).expect_err(text);
            let shown = format!("{err}");
            assert_eq!(err.line_col.map(|l| l.0), Some(*line), "{text}\n{shown}");
            assert_eq!(err.dotted, *dotted, "{text}\n{shown}");
            for s in *says {
                assert!(shown.contains(s), "expected {s:?} in: {shown}");
            }
        }
    }

    #[test]
    fn a_path_missing_from_the_base_names_the_nearest_valid_path() {
        check(
            "base = \"b.toml\"\n[[vary]]\npath = \"firms.acme.rd_intensty\"\nvalues = [0.1]\n",
            3,
            "vary.0.path",
            &["not a sweepable path", "unknown key \"rd_intensty\"", "did you mean \"firms.acme.rd_intensity\"?"],
        );
        check(
            "base = \"b.toml\"\n[[vary]]\npath = \"firms.acm.rd_intensity\"\nvalues = [0.1]\n",
            3,
            "vary.0.path",
            &["no item \"acm\"", "did you mean \"firms.acme.rd_intensity\"?"],
        );
        check("base = \"b.toml\"\n[[vary]]\npath = \"demand\"\nvalues = [0.1]\n", 3, "vary.0.path", &["is a table"]);
    }

    #[test]
    fn a_bad_value_names_its_point_and_its_place_in_the_list() {
        check(
            "base = \"b.toml\"\n[[vary]]\npath = \"firms.acme.rd_intensity\"\nvalues = [0.1, 1.5]\n",
            4,
            "vary.0.values.1",
            &["point 1 (firms.acme.rd_intensity=1.5)", "between 0 and 1"],
        );
        check(
            "base = \"b.toml\"\n[[vary]]\npath = \"demand.bid_window_days\"\nvalues = [10, 20.5]\n",
            4,
            "vary.0.values.1",
            &["point 1", "expected a whole number"],
        );
        check(
            "base = \"b.toml\"\nmethod = \"random\"\nsamples = 8\n[[vary]]\npath = \"firms.acme.rd_intensity\"\nrange = [0.5, 3]\n",
            6,
            "vary.0.range",
            &["between 0 and 1"],
        );
    }

    #[test]
    fn whole_number_paths_get_whole_numbers() {
        let s = bind(
            "base = \"b.toml\"\nmethod = \"lhs\"\nsamples = 7\n[[vary]]\npath = \"demand.bid_window_days\"\nrange = [10, 40]\n",
        )
        .unwrap();
        assert!(s.spec.vary[0].integer);
        for p in 0..s.points.len() {
            let v = s.points[p].values[0].as_integer().expect("an integer");
            assert!((10..=40).contains(&v));
            assert_eq!(i64::from(s.scenario(p).unwrap().demand.bid_window_days), v);
        }
    }

    #[test]
    fn replications_default_to_the_base_and_seeds_follow_crn() {
        let text = "base = \"b.toml\"\n[[vary]]\npath = \"firms.acme.rd_intensity\"\nvalues = [0.1, 0.2]\n";
        let s = bind(text).unwrap();
        assert_eq!(s.replications(), 3);
        assert_eq!(s.runs(), 6);
        assert_eq!((s.seed(0), s.seed(1)), (7, 7));
        assert_eq!(s.scenario(1).unwrap().firms[0].rd_intensity, 0.2);
        let s = bind(&format!("crn = false\n{text}")).unwrap();
        assert_ne!(s.seed(0), s.seed(1));
        assert_eq!(s.scenario(1).unwrap().scenario.seed, s.seed(1));
    }

    #[test]
    fn the_resolved_sweep_is_self_contained_and_stable() {
        let text = "base = \"b.toml\"\nmethod = \"sobol\"\nsamples = 4\nreplications = 2\n[[vary]]\npath = \"firms.acme.rd_intensity\"\nrange = [0.1, 0.3]\n";
        let s = bind(text).unwrap();
        let resolved = s.to_resolved_toml();
        assert!(resolved.contains("scramble = true"), "{resolved}");
        let again = SweepSpec::from_toml_str(&resolved).unwrap();
        let base_text = again.base_inline_text().unwrap();
        let s2 = Sweep::bind(again, &resolved, &[&base_text]).unwrap();
        assert_eq!(s2.to_resolved_toml(), resolved);
        assert_eq!(s2.points, s.points);
        for p in 0..s.points.len() {
            assert_eq!(s2.scenario(p).unwrap().to_toml_string(), s.scenario(p).unwrap().to_toml_string());
        }
    }

    #[test]
    fn errors_in_an_inline_base_point_into_the_sweep_file() {
        let text = "method = \"grid\"\n[[vary]]\npath = \"x.y\"\nvalues = [1]\n[base.scenario]\nname = \"bad name\"\n";
        let spec = SweepSpec::from_toml_str(text).unwrap();
        let err = Scenario::from_toml_str(&spec.base_inline_text().unwrap()).unwrap_err();
        let err = SweepSpec::locate_base_error(err, text);
        assert_eq!(err.dotted, "base.scenario.start");
        assert_eq!(err.line_col.map(|l| l.0), Some(5));
        assert!(err.message.contains("missing key"), "{err}");
    }

    fn spec(method: Method, samples: u32, axes: Vec<Axis>, seed: u64) -> SweepSpec {
        SweepSpec {
            name: None,
            question: None,
            base: toml::Value::String("b.toml".into()),
            replications: None,
            method,
            samples: (method != Method::Grid).then_some(samples),
            trajectories: None,
            levels: None,
            seed,
            crn: true,
            scramble: None,
            vary: axes,
        }
    }

    fn range_axis(i: usize, lo: f64, width: f64, integer: bool) -> Axis {
        Axis {
            path: format!("a.p{i}"),
            label: None,
            values: None,
            range: Some(vec![lo, lo + width]),
            steps: Some(3),
            integer,
        }
    }

    fn list_axis(i: usize, n: usize) -> Axis {
        Axis {
            path: format!("a.v{i}"),
            label: None,
            values: Some((0..n as i64).map(toml::Value::Integer).collect()),
            range: None,
            steps: None,
            integer: false,
        }
    }

    #[test]
    fn saltelli_points_are_a_then_each_ab_then_b_from_one_sequence() {
        let d = 3;
        let axes: Vec<Axis> = (0..d).map(|i| range_axis(i, 0.0, 1.0, false)).collect();
        let s = spec(Method::Saltelli, 8, axes, 11);
        assert_eq!(s.n_points(), 8 * (3 + 2));
        let rows = unit_design(&s);
        assert_eq!(rows.len(), 40);
        // The same 2D-dimensional sequence as a sobol design over 2D axes.
        let wide = spec(Method::Sobol, 8, (0..2 * d).map(|i| range_axis(i, 0.0, 1.0, false)).collect(), 11);
        for (j, seq) in unit_design(&wide).iter().enumerate() {
            let block = &rows[j * (d + 2)..(j + 1) * (d + 2)];
            assert_eq!(block[0], seq[..d].to_vec(), "A_{j}");
            assert_eq!(block[d + 1], seq[d..].to_vec(), "B_{j}");
            for i in 0..d {
                let mut ab = seq[..d].to_vec();
                ab[i] = seq[d + i];
                assert_eq!(block[1 + i], ab, "AB_{i}{j}");
            }
        }
    }

    #[test]
    fn morris_trajectories_move_one_factor_per_step_on_the_grid() {
        let d = 4;
        let axes: Vec<Axis> = (0..d).map(|i| range_axis(i, 0.0, 1.0, false)).collect();
        let mut s = spec(Method::Morris, 0, axes, 5);
        s.samples = None;
        s.trajectories = Some(30);
        s.levels = Some(6);
        assert_eq!(s.n_points(), 30 * 5);
        let rows = unit_design(&s);
        assert_eq!(rows.len(), 150);
        let delta = morris_delta(6);
        assert!((delta - 0.6).abs() < 1e-12);
        let mut ups = 0;
        for t in rows.chunks(d + 1) {
            let mut moved = vec![0; d];
            for w in t.windows(2) {
                let changed: Vec<usize> = (0..d).filter(|&i| w[0][i] != w[1][i]).collect();
                assert_eq!(changed.len(), 1, "{w:?}");
                let i = changed[0];
                let step = w[1][i] - w[0][i];
                assert!((step.abs() - delta).abs() < 1e-12, "{step}");
                ups += usize::from(step > 0.0);
                moved[i] += 1;
            }
            assert_eq!(moved, vec![1; d], "each factor moves once per trajectory");
            for x in t.iter().flatten() {
                let k = x * 5.0;
                assert!((k - k.round()).abs() < 1e-9 && (0.0..=1.0).contains(x), "{x} is off the grid");
            }
        }
        assert!(ups > 30 && ups < 90, "both directions occur: {ups} of 120 steps go up");
        assert_eq!(unit_design(&s), rows, "seeded");
    }

    #[test]
    fn sensitivity_designs_check_their_keys() {
        let cases: &[(&str, &str, &str)] = &[
            ("method = \"saltelli\"\nsamples = 100\n", "samples", "power of two"),
            ("method = \"morris\"\n", "method", "needs `trajectories`"),
            ("method = \"morris\"\ntrajectories = 10\nlevels = 5\n", "levels", "even number"),
            ("method = \"morris\"\ntrajectories = 10\nsamples = 4\n", "samples", "trajectories"),
            ("method = \"lhs\"\nsamples = 4\ntrajectories = 10\n", "trajectories", "morris designs only"),
        ];
        for (head, dotted, says) in cases {
            let text = format!("base = \"b.toml\"\n{head}[[vary]]\npath = \"a.b\"\nrange = [0, 1]\n");
            let err = SweepSpec::from_toml_str(&text).expect_err(&text);
            assert_eq!(err.dotted, *dotted, "{text}\n{err}");
            assert!(format!("{err}").contains(says), "{says:?} in {err}");
        }
        let ok = "base = \"b.toml\"\nmethod = \"saltelli\"\nsamples = 64\n[[vary]]\npath = \"a.b\"\nrange = [0, 1]\n";
        assert_eq!(SweepSpec::from_toml_str(ok).unwrap().n_points(), 64 * 3);
    }

    proptest! {
        #[test]
        fn a_grid_has_the_product_of_its_axis_lengths(lens in prop::collection::vec(1usize..5, 1..5)) {
            let axes: Vec<Axis> = lens.iter().enumerate().map(|(i, &n)| list_axis(i, n)).collect();
            let points = expand(&spec(Method::Grid, 0, axes, 1));
            prop_assert_eq!(points.len(), lens.iter().product::<usize>());
            // Every combination once, in odometer order (the last axis fastest).
            for (idx, p) in points.iter().enumerate() {
                let mut rest = idx;
                for (j, &n) in lens.iter().enumerate().rev() {
                    prop_assert_eq!(p.values[j].as_integer(), Some((rest % n) as i64));
                    rest /= n;
                }
            }
        }

        #[test]
        fn grid_ranges_take_evenly_spaced_values_ends_included(lo in -10.0f64..10.0, width in 0.0f64..5.0, steps in 2u32..7) {
            let mut axis = range_axis(0, lo, width, false);
            axis.steps = Some(steps);
            let levels = axis.levels();
            prop_assert_eq!(levels.len(), steps as usize);
            prop_assert_eq!(axis.level_count(), u64::from(steps));
            prop_assert_eq!(levels[0].as_float(), Some(lo));
            prop_assert_eq!(levels[steps as usize - 1].as_float(), Some(lo + width));
        }

        #[test]
        fn lhs_puts_one_point_in_each_stratum_of_each_axis(n in 1u32..60, d in 1usize..5, seed in any::<u64>()) {
            let axes: Vec<Axis> = (0..d).map(|i| range_axis(i, 0.0, 1.0, false)).collect();
            let s = spec(Method::Lhs, n, axes, seed);
            let unit = unit_design(&s);
            prop_assert_eq!(unit.len(), n as usize);
            for j in 0..d {
                let mut strata: Vec<usize> = unit.iter().map(|row| (row[j] * f64::from(n)).floor() as usize).collect();
                strata.sort_unstable();
                prop_assert_eq!(strata, (0..n as usize).collect::<Vec<_>>());
            }
        }

        #[test]
        fn sobol_prefixes_of_a_power_of_two_are_stratified(m in 0u32..9, d in 1usize..6, seed in any::<u64>(), scramble in any::<bool>()) {
            let n = 1u32 << m;
            let axes: Vec<Axis> = (0..d).map(|i| range_axis(i, 0.0, 1.0, false)).collect();
            let mut s = spec(Method::Sobol, n, axes, seed);
            s.scramble = Some(scramble);
            for j in 0..d {
                let mut strata: Vec<usize> = unit_design(&s).iter().map(|row| (row[j] * f64::from(n)) as usize).collect();
                strata.sort_unstable();
                prop_assert_eq!(strata, (0..n as usize).collect::<Vec<_>>());
            }
        }

        #[test]
        fn sampled_designs_stay_within_ranges_and_lists(
            method in prop_oneof![Just(Method::Random), Just(Method::Lhs), Just(Method::Sobol)],
            n in 1u32..50,
            lo in -100.0f64..100.0,
            width in 0.0f64..50.0,
            integer in any::<bool>(),
            list_len in 1usize..6,
            seed in any::<u64>(),
        ) {
            let axes = vec![range_axis(0, lo, width, integer), list_axis(1, list_len)];
            let s = spec(method, n, axes, seed);
            let points = expand(&s);
            prop_assert_eq!(points.len(), n as usize);
            for p in &points {
                let x = match &p.values[0] {
                    toml::Value::Integer(i) => { prop_assert!(integer); *i as f64 }
                    toml::Value::Float(x) => { prop_assert!(!integer); *x }
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                };
                let (lo_ok, hi_ok) = if integer { (lo.round(), (lo + width).round()) } else { (lo, lo + width) };
                prop_assert!(x >= lo_ok && x <= hi_ok, "{} outside [{}, {}]", x, lo_ok, hi_ok);
                let v = p.values[1].as_integer().unwrap();
                prop_assert!((0..list_len as i64).contains(&v));
            }
        }

        #[test]
        fn designs_are_deterministic_given_the_seed(
            method in prop_oneof![Just(Method::Random), Just(Method::Lhs), Just(Method::Sobol)],
            n in 2u32..40,
            seed in any::<u64>(),
        ) {
            let axes = vec![range_axis(0, 0.0, 1.0, false), range_axis(1, 5.0, 2.0, false)];
            let s = spec(method, n, axes, seed);
            prop_assert_eq!(expand(&s), expand(&s));
            let mut other = s.clone();
            other.seed = seed.wrapping_add(1);
            prop_assert_ne!(expand(&s), expand(&other));
        }
    }
}
