//! Scenario errors and validation: TOML syntax, schema (types, unknown keys), ranges,
//! unique ids and references. Every error names its key path and, where the text has it,
//! the line and column.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::ops::Range;

use super::paths::{nearest, KeyPath, Override, PathSeg};
use super::*;

/// Shortest mean cycle between generations a scenario may ask for [years] (a quarter).
pub const MIN_CYCLE_YEARS: f64 = 0.25;
/// Smallest Gamma shape of the cycle: below it nearly every draw is close to zero.
pub const MIN_CYCLE_SHAPE: f64 = 0.1;

/// A scenario that cannot be run, with where and why. Fatal for the command that read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The key path of the offending value (positional; see [`KeyPath::dotted`]).
    pub path: KeyPath,
    /// The path as the user would write it (items named by id). Empty for the root.
    pub dotted: String,
    /// What is wrong: what was expected and what was found.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Byte range in the scenario text, if the error points into it.
    pub span: Option<Range<usize>>,
    /// One-based line and column of the span's start.
    pub line_col: Option<(usize, usize)>,
    /// The `PATH=VALUE` override the error comes from, if any.
    pub from_override: Option<String>,
    /// Which layer's text `span` points into (0 = the base-most file of an `extends` chain).
    pub layer: Option<usize>,
}

impl ScenarioError {
    /// An error at `path`.
    pub fn new(path: KeyPath, message: impl Into<String>) -> ScenarioError {
        let dotted = path.to_string();
        ScenarioError {
            path,
            dotted,
            message: message.into(),
            hint: None,
            span: None,
            line_col: None,
            from_override: None,
            layer: None,
        }
    }

    /// Add a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> ScenarioError {
        self.hint = Some(hint.into());
        self
    }

    /// Fill in the dotted path and the line and column of the error's key path in the scenario
    /// `text` (for errors found outside the engine, such as a base file that cannot be read).
    pub fn locate_in_text(self, text: &str) -> ScenarioError {
        match text.parse::<toml::Table>() {
            Ok(tree) => self.located(text, &tree, &[]),
            Err(_) => self,
        }
    }

    /// Mark the error as coming from an override.
    pub fn for_override(mut self, ov: &Override) -> ScenarioError {
        self.from_override = Some(format!("{}={}", ov.path, ov.raw));
        self
    }

    /// The error of a failed deserialisation of a TOML tree, with its key path and our
    /// wording (unknown keys get the nearest valid key); its place is filled in later.
    pub(crate) fn from_deserialize(err: &serde_path_to_error::Error<toml::de::Error>) -> ScenarioError {
        let mut path = KeyPath::root();
        for seg in err.path().iter() {
            match seg {
                serde_path_to_error::Segment::Seq { index } => path = path.index(*index),
                serde_path_to_error::Segment::Map { key } => path = path.key(key),
                _ => {}
            }
        }
        schema_error(path, err.inner().message().trim())
    }

    /// Fill in the dotted path, the override it comes from, or its place in `text`.
    pub(crate) fn located(self, text: &str, tree: &toml::Table, overrides: &[Override]) -> ScenarioError {
        self.located_in(&[text], tree, overrides)
    }

    /// Like [`ScenarioError::located`] for a scenario merged from layers (base first): the
    /// place is looked up in the last layer that defines the path.
    pub(crate) fn located_in(mut self, texts: &[&str], tree: &toml::Table, overrides: &[Override]) -> ScenarioError {
        self.dotted = self.path.dotted(tree);
        if self.from_override.is_none() {
            if let Some(ov) = overrides.iter().rev().find(|ov| {
                self.dotted == ov.path
                    || self.dotted.starts_with(&format!("{}.", ov.path))
                    || ov.path.starts_with(&format!("{}.", self.dotted)) && !self.dotted.is_empty()
            }) {
                self.from_override = Some(format!("{}={}", ov.path, ov.raw));
            }
        }
        if self.from_override.is_none() && self.span.is_none() {
            // Point at the key itself when it is what is wrong (an unknown key, a map key
            // naming a missing firm or regime), else at its value.
            let at_key =
                matches!(self.path.0.last(), Some(PathSeg::Key(k)) if self.message.contains(&format!("\"{k}\"")));
            let mut fallback = None;
            for (i, text) in texts.iter().enumerate().rev() {
                let own = text.parse::<toml::Table>().ok();
                let path = own.as_ref().map_or_else(|| self.path.clone(), |own| translate(&self.path, tree, own));
                let (span, complete) = locate(text, &path, at_key);
                if complete {
                    self.span = span;
                    self.layer = Some(i);
                    break;
                }
                if fallback.is_none() && span.is_some() {
                    fallback = Some((i, span));
                }
            }
            if self.span.is_none() {
                if let Some((i, span)) = fallback {
                    self.span = span;
                    self.layer = Some(i);
                }
            }
        }
        if let (Some(span), Some(text)) = (&self.span, texts.get(self.layer.unwrap_or(0))) {
            self.line_col = Some(line_col(text, span.start));
        }
        self
    }
}

/// The positional path in one layer's own tree of a path in the merged tree: list items
/// are matched by `id` (merging reorders nothing, but a layer may hold only some items).
fn translate(path: &KeyPath, merged: &toml::Table, own: &toml::Table) -> KeyPath {
    let mut out = KeyPath::root();
    let mut m: Option<&toml::Value> = None;
    let mut o: Option<&toml::Value> = None;
    for (n, seg) in path.0.iter().enumerate() {
        match seg {
            PathSeg::Key(k) => {
                if n == 0 {
                    m = merged.get(k);
                    o = own.get(k);
                } else {
                    m = m.and_then(|v| v.get(k));
                    o = o.and_then(|v| v.get(k));
                }
                out = out.key(k);
            }
            PathSeg::Index(i) => {
                let item = m.and_then(|v| v.get(*i));
                let id_of = |v: &toml::Value| v.get("id").and_then(|v| v.as_str()).map(str::to_string);
                let id = item.and_then(id_of);
                // The k-th item with this id in the merged list is the k-th in the layer
                // (k > 0 only with duplicate ids, which validation then refuses).
                let k = m
                    .and_then(|v| v.as_array())
                    .map_or(0, |all| all.iter().take(*i).filter(|v| id.is_some() && id_of(v) == id).count());
                let pos = match (&id, o.and_then(|v| v.as_array())) {
                    (Some(_), Some(items)) => {
                        items.iter().enumerate().filter(|(_, v)| id_of(v) == id).nth(k).map_or(usize::MAX, |(p, _)| p)
                    }
                    _ => *i,
                };
                m = item;
                o = o.and_then(|v| v.get(pos));
                out = out.index(pos);
            }
        }
    }
    out
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ov) = &self.from_override {
            write!(f, "--set {ov}: ")?;
        }
        if !self.dotted.is_empty() {
            write!(f, "{}: ", self.dotted)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Parse the text into a TOML tree, refusing empty text and syntax errors.
pub(crate) fn parse_tree(text: &str) -> Result<toml::Table, ScenarioError> {
    if text.trim().is_empty() {
        let mut e = ScenarioError::new(KeyPath::root(), "the scenario is empty").with_hint(
            "a scenario needs at least [scenario], [demand], [[firms]] and [[customers]]; see scenarios/baseline.toml",
        );
        e.span = Some(0..0);
        e.line_col = Some((1, 1));
        return Err(e);
    }
    text.parse::<toml::Table>().map_err(|err| {
        // toml puts what it expected on a second line; keep the message on one.
        let message = err.message().trim().replace('\n', "; ");
        let hint = if message.contains("duplicate key") {
            "a key or table may appear only once; remove or rename one of them"
        } else {
            "check quotes, brackets and `key = value` pairs on this line"
        };
        let mut e = ScenarioError::new(KeyPath::root(), format!("invalid TOML: {message}"));
        e.span = err.span();
        e.line_col = err.span().map(|s| line_col(text, s.start));
        if let Some((line, _)) = e.line_col {
            e.dotted = syntax_path(text, line);
        }
        e.with_hint(hint)
    })
}

/// The key path of a line the TOML parser refused, read from the valid text before it:
/// the table in force (list items named by id) and the key the line sets. Empty when the
/// line is a table header or the text before it does not parse either.
fn syntax_path(text: &str, line: usize) -> String {
    let start: usize = text.split_inclusive('\n').take(line - 1).map(str::len).sum();
    let (before, rest) = text.split_at(start);
    let this = rest.lines().next().unwrap_or("").trim();
    let (Ok(doc), Ok(tree)) = (toml_edit::ImDocument::parse(before), before.parse::<toml::Table>()) else {
        return String::new();
    };
    if this.starts_with('[') {
        return String::new();
    }
    let mut latest = (0, KeyPath::root());
    latest_table(doc.as_table(), KeyPath::root(), &mut latest);
    let mut path = latest.1.dotted(&tree);
    let key = this.split_once('=').map_or("", |(k, _)| k.trim());
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    }
    path
}

/// The table whose header comes last in the document.
fn latest_table(table: &toml_edit::Table, path: KeyPath, latest: &mut (usize, KeyPath)) {
    if let Some(span) = table.span() {
        if span.start >= latest.0 {
            *latest = (span.start, path.clone());
        }
    }
    for (key, item) in table.iter() {
        match item {
            toml_edit::Item::Table(t) => latest_table(t, path.key(key), latest),
            toml_edit::Item::ArrayOfTables(items) => {
                for (i, t) in items.iter().enumerate() {
                    latest_table(t, path.key(key).index(i), latest);
                }
            }
            _ => {}
        }
    }
}

/// Deserialize the (possibly overridden) tree into a scenario, with a precise error.
pub(crate) fn deserialize_tree(
    texts: &[&str],
    tree: &toml::Table,
    overrides: &[Override],
) -> Result<Scenario, ScenarioError> {
    let value = toml::Value::Table(tree.clone());
    serde_path_to_error::deserialize::<_, Scenario>(value)
        .map_err(|err| ScenarioError::from_deserialize(&err).located_in(texts, tree, overrides))
}

/// Turn serde's wording into ours, with the nearest valid key for unknown keys.
/// A TOML value as messages show it: `the number 1`, `a table`.
pub(crate) fn describe_toml(v: &toml::Value) -> String {
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

fn schema_error(mut path: KeyPath, raw: &str) -> ScenarioError {
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        if path.0.last() != Some(&PathSeg::Key(field.to_string())) {
            path = path.key(field);
        }
        let mut e = ScenarioError::new(path, format!("unknown key \"{field}\"; expected one of: {}", valid.join(", ")));
        e = match nearest(field, valid.iter().copied()) {
            Some(near) => e.with_hint(format!("did you mean \"{near}\"?")),
            None => e.with_hint("remove it, or use one of the keys above"),
        };
        return e;
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        // The path names the missing key; its place in the text is the table that lacks it.
        let add = match field {
            "scenario" | "demand" => format!("add a [{field}] table"),
            "firms" | "customers" => format!("add a [[{field}]] entry"),
            "chips" => "add a [[firms.chips]] entry after the firm's keys".to_string(),
            _ => format!("add `{field} = ...`"),
        };
        return ScenarioError::new(path.key(field), format!("missing key \"{field}\""))
            .with_hint(format!("{add}; scenarios/baseline.toml shows one"));
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let (variant, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let mut e =
            ScenarioError::new(path, format!("unknown value \"{variant}\"; expected one of: {}", valid.join(", ")));
        if let Some(near) = nearest(variant, valid.iter().copied()) {
            e = e.with_hint(format!("did you mean \"{near}\"?"));
        }
        return e;
    }
    let mut message = raw
        .replace("expected f64", "expected a number")
        .replace("expected u32", "expected a whole number >= 0")
        .replace("expected u64", "expected a whole number >= 0")
        .replace("expected a boolean", "expected true or false")
        .replace("expected a sequence", "expected an array")
        .replace("expected struct ", "expected a table ")
        .replace("expected a map", "expected a table")
        .replace("invalid value: integer", "invalid value")
        .replace("invalid type: integer", "found a whole number")
        .replace("invalid type: ", "found ")
        .replace("found map", "found a table")
        .replace("found sequence", "found an array")
        .replace("found floating point", "found a decimal number");
    // Serde names the Rust struct (`expected struct Meta`); the user knows no such thing.
    if let Some(at) = message.find("expected a table ") {
        message.truncate(at + "expected a table".len());
    }
    let hint = if message.contains("invalid date") {
        "write dates as YYYY-MM-DD, such as \"2026-01-15\" (a real day of a real month)"
    } else if message.ends_with("expected a number") {
        "give a number such as 2.5, without quotes"
    } else if message.contains("expected a whole number") {
        "give a whole number such as 3, without a sign, quotes or a decimal point"
    } else if message.ends_with("expected a string") && !message.starts_with("found a table") {
        "put text in double quotes, such as \"text\""
    } else {
        "`chipmarket params` prints every key of the baseline scenario with a value of the right type"
    };
    ScenarioError::new(path, message).with_hint(hint)
}

/// The byte range of the value (or key, or table) at `path` in `text`: the deepest
/// part of the path the text has.
/// With `at_key`, the span of the last key itself rather than its value.
/// Also says whether the whole path was found (else the span is of its deepest part).
fn locate(text: &str, path: &KeyPath, at_key: bool) -> (Option<Range<usize>>, bool) {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else { return (None, false) };
    let mut best = None;
    let mut depth = 0;
    walk_item(doc.as_item(), &path.0, &mut best, at_key, &mut depth);
    (best, depth == path.0.len())
}

fn walk_item(
    item: &toml_edit::Item,
    rest: &[PathSeg],
    best: &mut Option<Range<usize>>,
    at_key: bool,
    depth: &mut usize,
) {
    let span = match item {
        toml_edit::Item::Value(v) => v.span(),
        toml_edit::Item::Table(t) => t.span(),
        _ => None,
    };
    if span.is_some() {
        *best = span;
    }
    let Some((seg, rest)) = rest.split_first() else { return };
    match (seg, item) {
        (PathSeg::Key(key), _) => {
            if let Some((k, v)) = item.as_table_like().and_then(|t| t.get_key_value(key)) {
                *depth += 1;
                if k.span().is_some() {
                    *best = k.span();
                }
                if !(at_key && rest.is_empty()) {
                    walk_item(v, rest, best, at_key, depth);
                }
            }
        }
        (PathSeg::Index(i), toml_edit::Item::ArrayOfTables(aot)) => {
            if let Some(table) = aot.get(*i) {
                *depth += 1;
                if table.span().is_some() {
                    *best = table.span();
                }
                let Some((PathSeg::Key(key), rest)) = rest.split_first() else { return };
                if let Some((k, v)) = table.get_key_value(key) {
                    *depth += 1;
                    if k.span().is_some() {
                        *best = k.span();
                    }
                    if !(at_key && rest.is_empty()) {
                        walk_item(v, rest, best, at_key, depth);
                    }
                }
            }
        }
        (PathSeg::Index(i), toml_edit::Item::Value(toml_edit::Value::Array(arr))) => {
            if let Some(v) = arr.get(*i) {
                *depth += 1;
                walk_item(&toml_edit::Item::Value(v.clone()), rest, best, at_key, depth);
            }
        }
        _ => {}
    }
}

/// One-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

// ---------------------------------------------------------------- range checks ----

/// Checks a number against an inclusive or exclusive range and names what was expected.
struct Check {
    path: KeyPath,
}

impl Check {
    fn at(path: KeyPath) -> Check {
        Check { path }
    }

    fn num(&self, key: &str, value: f64, lo: f64, hi: f64, lo_open: bool, what: &str) -> Result<(), ScenarioError> {
        let ok = value.is_finite() && (if lo_open { value > lo } else { value >= lo }) && value <= hi;
        if ok {
            return Ok(());
        }
        let found = if value.is_nan() { "nan".to_string() } else { format!("{value}") };
        Err(ScenarioError::new(self.path.key(key), format!("expected {what}, found {found}")).with_hint(
            if value.is_finite() {
                format!("use {what}")
            } else {
                "nan and inf are not allowed; use a finite number".to_string()
            },
        ))
    }

    fn non_neg(&self, key: &str, value: f64) -> Result<(), ScenarioError> {
        self.num(key, value, 0.0, f64::MAX, false, "a finite number >= 0")
    }

    fn positive(&self, key: &str, value: f64) -> Result<(), ScenarioError> {
        self.num(key, value, 0.0, f64::MAX, true, "a finite number > 0")
    }

    fn share(&self, key: &str, value: f64) -> Result<(), ScenarioError> {
        self.num(key, value, 0.0, 1.0, false, "a probability or share between 0 and 1")
    }

    fn finite(&self, key: &str, value: f64) -> Result<(), ScenarioError> {
        self.num(key, value, f64::MIN, f64::MAX, false, "a finite number")
    }

    fn id(&self, key: &str, value: &str) -> Result<(), ScenarioError> {
        // Not starting with '-': an id is a CSV cell and a column name, and a cell starting with
        // '-' is a formula to a spreadsheet.
        let ok = value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(())
        } else {
            Err(ScenarioError::new(
                self.path.key(key),
                format!("expected an id of letters, digits, '_' or '-' (not first), found \"{value}\""),
            )
            .with_hint("ids appear in key paths and CSV columns; use snake_case like \"moore_threads\""))
        }
    }
}

fn unique<'a>(path: &KeyPath, key: &str, ids: impl Iterator<Item = &'a str>, what: &str) -> Result<(), ScenarioError> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if !seen.insert(id) {
            return Err(ScenarioError::new(path.index(i).key(key), format!("duplicate {what} id \"{id}\""))
                .with_hint(format!("every {what} needs its own id")));
        }
    }
    Ok(())
}

fn missing_ref(path: KeyPath, what: &str, name: &str, valid: &[&str]) -> ScenarioError {
    if valid.is_empty() {
        return ScenarioError::new(path, format!("no {what} \"{name}\"; the scenario defines no {what} at all"))
            .with_hint(format!("define the {what} first, or remove this reference"));
    }
    let e = ScenarioError::new(path, format!("no {what} \"{name}\"; expected one of: {}", valid.join(", ")));
    match nearest(name, valid.iter().copied()) {
        Some(near) => e.with_hint(format!("did you mean \"{near}\"?")),
        None => e.with_hint(format!("define the {what} first, or use one of the names above")),
    }
}

/// `[scenario.precision]`: names given, a target, sensible batch and bounds.
fn check_precision(p: &crate::scenario::Precision, at: KeyPath) -> Result<(), ScenarioError> {
    if p.kpis.is_empty() {
        return Err(ScenarioError::new(at.key("kpis"), "expected at least one KPI, found none")
            .with_hint("name columns of summary.csv, e.g. kpis = [\"market_final_year_domestic_compute_share\"]"));
    }
    if let Some(i) = p.kpis.iter().position(|k| k.trim().is_empty()) {
        return Err(ScenarioError::new(at.key("kpis").index(i), "expected a KPI name, found an empty string"));
    }
    if p.relative_half_width.is_none() && p.absolute_half_width.is_none() {
        return Err(ScenarioError::new(
            at.clone(),
            "expected a target: relative_half_width, absolute_half_width or both",
        )
        .with_hint("for example relative_half_width = 0.05 (a 95 % interval within 5 % of the mean)"));
    }
    let c = Check::at(at);
    if let Some(r) = p.relative_half_width {
        c.num("relative_half_width", r, 0.0, 1e9, true, "a share above 0 (0.05 = 5 %)")?;
    }
    if let Some(a) = p.absolute_half_width {
        c.num("absolute_half_width", a, 0.0, f64::MAX, true, "a number above 0")?;
    }
    c.num("batch", f64::from(p.batch), 1.0, 1e4, false, "a whole number from 1 to 10000")?;
    c.num("min_replications", f64::from(p.min_replications), 2.0, 1e6, false, "a whole number from 2 to 1000000")?;
    c.num(
        "max_replications",
        f64::from(p.max_replications),
        f64::from(p.min_replications),
        1e6,
        false,
        "a whole number from min_replications to 1000000",
    )?;
    Ok(())
}

/// Every rule a scenario must meet before the engine runs it. The engine relies on them:
/// a scenario that passes never makes it panic.
pub(crate) fn check(s: &Scenario) -> Result<(), ScenarioError> {
    let root = KeyPath::root();
    let meta = Check::at(root.key("scenario"));
    meta.id("name", &s.scenario.name)?;
    // Below a day no quarter row is ever written, and a run's summaries have nothing to show.
    meta.num(
        "horizon_years",
        s.scenario.horizon_years,
        1.0 / 365.0,
        100.0,
        false,
        "a number of years from 0.00274 (one day) to 100",
    )?;
    meta.num("replications", f64::from(s.scenario.replications), 1.0, 1e6, false, "a whole number from 1 to 1000000")?;
    meta.num("tick_days", f64::from(s.scenario.tick_days), 1.0, 92.0, false, "a whole number of days from 1 to 92")?;
    if let Some(p) = &s.scenario.precision {
        check_precision(p, root.key("scenario").key("precision"))?;
    }
    if s.scenario.start.year() < 1900 || s.scenario.start.year() > 2200 {
        return Err(ScenarioError::new(
            root.key("scenario").key("start"),
            format!("expected a start year between 1900 and 2200, found {}", s.scenario.start),
        ));
    }

    let d = &s.demand;
    let dc = Check::at(root.key("demand"));
    dc.positive("installed_start_pflops", d.installed_start_pflops)?;
    dc.positive("saturation_pflops", d.saturation_pflops)?;
    if d.saturation_pflops <= d.installed_start_pflops {
        return Err(ScenarioError::new(
            root.key("demand").key("saturation_pflops"),
            format!(
                "expected a level above installed_start_pflops ({}), found {}",
                d.installed_start_pflops, d.saturation_pflops
            ),
        )
        .with_hint("the S-curve grows from installed_start_pflops toward saturation_pflops"));
    }
    dc.num("growth_rate_per_year", d.growth_rate_per_year, 0.0, 10.0, true, "a rate above 0 and at most 10 per year")?;
    dc.num("bass_innovation", d.bass_innovation, 0.0, 10.0, true, "a rate above 0 and at most 10 per year")?;
    dc.num("bass_imitation", d.bass_imitation, 0.0, 10.0, false, "a rate from 0 to 10 per year")?;
    dc.num("depreciation_years", d.depreciation_years, 0.0, 100.0, true, "a number of years above 0")?;
    dc.share("inference_share_start", d.inference_share_start)?;
    dc.share("inference_share_end", d.inference_share_end)?;
    dc.num(
        "inference_steepness_per_year",
        d.inference_steepness_per_year,
        0.0,
        100.0,
        false,
        "a rate from 0 to 100 per year",
    )?;
    dc.num("tenders_per_year", d.tenders_per_year, 0.0, 100_000.0, true, "a rate above 0 and at most 100000 per year")?;
    dc.num("tender_size_sigma", d.tender_size_sigma, 0.0, 5.0, false, "a sigma from 0 to 5")?;
    dc.num("delivery_days", f64::from(d.delivery_days), 1.0, 3650.0, false, "a whole number of days from 1 to 3650")?;
    dc.num("bid_window_days", f64::from(d.bid_window_days), 0.0, 3650.0, false, "a whole number of days up to 3650")?;
    dc.num("grace_days", f64::from(d.grace_days), 0.0, 3650.0, false, "a whole number of days up to 3650")?;
    dc.non_neg("training_min_tflops", d.training_min_tflops)?;
    dc.num(
        "training_min_growth_per_year",
        d.training_min_growth_per_year,
        -0.9,
        10.0,
        false,
        "a growth rate from -0.9 to 10",
    )?;

    dc.num("inference_min_memory_gb", d.inference_min_memory_gb, 0.0, 1e6, false, "a memory size from 0 to 1e6 GB")?;
    dc.num(
        "inference_min_memory_growth_per_year",
        d.inference_min_memory_growth_per_year,
        -0.9,
        10.0,
        false,
        "a growth rate from -0.9 to 10",
    )?;
    dc.num("usd_per_pflops", d.usd_per_pflops, 0.0, 1e12, true, "a budget in USD per PFLOPS above 0")?;
    dc.num(
        "usd_per_pflops_change_per_year",
        d.usd_per_pflops_change_per_year,
        -0.9,
        10.0,
        false,
        "a yearly change from -0.9 to 10",
    )?;
    dc.share("unfilled_carry_share", d.unfilled_carry_share)?;

    let m = &s.market;
    let mc = Check::at(root.key("market"));
    mc.num("electricity_usd_per_kwh", m.electricity_usd_per_kwh, 0.0, 10.0, false, "a price from 0 to 10 USD/kWh")?;
    mc.num("system_cost_usd_per_card", m.system_cost_usd_per_card, 0.0, 1e8, false, "a cost in USD from 0 to 1e8")?;
    mc.num("power_years", m.power_years, 0.0, 50.0, false, "a number of years from 0 to 50")?;
    mc.num("pue", m.pue, 1.0, 10.0, false, "a ratio from 1 to 10")?;
    mc.num("pull_forward_quarters", m.pull_forward_quarters, 0.0, 40.0, false, "a number of quarters from 0 to 40")?;
    mc.num("win_rate_smoothing", m.win_rate_smoothing, 0.0, 1.0, true, "a weight above 0 and at most 1")?;
    mc.num("reference_win_rate", m.reference_win_rate, 0.0, 1.0, true, "a rate above 0 and at most 1")?;
    mc.num("ecosystem_share_rate", m.ecosystem_share_rate, 0.0, 1.0, false, "a rate from 0 to 1 per quarter")?;
    mc.num("ecosystem_rd_rate", m.ecosystem_rd_rate, 0.0, 1.0, false, "a rate from 0 to 1 per quarter")?;
    mc.positive("ecosystem_rd_half_usd_per_year", m.ecosystem_rd_half_usd_per_year)?;
    mc.share("ecosystem_decay_per_year", m.ecosystem_decay_per_year)?;
    mc.non_neg("ev_sales_multiple", m.ev_sales_multiple)?;
    mc.num(
        "supersede_quarters",
        f64::from(m.supersede_quarters),
        0.0,
        400.0,
        false,
        "a whole number of quarters up to 400",
    )?;

    if s.firms.is_empty() {
        return Err(ScenarioError::new(root.key("firms"), "expected at least one [[firms]] entry, found none")
            .with_hint("a market needs vendors; see scenarios/baseline.toml"));
    }
    unique(&root.key("firms"), "id", s.firms.iter().map(|f| f.id.as_str()), "firm")?;
    let mut chip_ids = HashSet::new();
    for (fi, firm) in s.firms.iter().enumerate() {
        let fp = root.key("firms").index(fi);
        let fc = Check::at(fp.clone());
        fc.id("id", &firm.id)?;
        fc.finite("cash_usd", firm.cash_usd)?;
        fc.share("rd_intensity", firm.rd_intensity)?;
        fc.non_neg("rd_floor_usd_per_year", firm.rd_floor_usd_per_year)?;
        fc.non_neg("fixed_costs_usd_per_year", firm.fixed_costs_usd_per_year)?;
        fc.share("ecosystem", firm.ecosystem)?;
        fc.num("gross_margin_target", firm.gross_margin_target, 0.0, 0.99, false, "a margin from 0 to 0.99")?;
        fc.num(
            "margin_floor",
            firm.margin_floor,
            0.0,
            firm.gross_margin_target,
            false,
            "a margin from 0 to gross_margin_target",
        )?;
        fc.share("supply_risk", firm.supply_risk)?;
        fc.non_neg("capacity_units_per_quarter", firm.capacity_units_per_quarter)?;
        fc.num(
            "capacity_growth_per_year",
            firm.capacity_growth_per_year,
            -1.0,
            10.0,
            false,
            "a growth rate from -1 to 10",
        )?;
        fc.num("launch_slip_sd_days", firm.launch_slip_sd_days, 0.0, 3650.0, false, "a number of days from 0 to 3650")?;
        fc.num(
            "lead_time_days",
            f64::from(firm.lead_time_days),
            0.0,
            3650.0,
            false,
            "a whole number of days up to 3650",
        )?;
        fc.num("inventory_weeks", firm.inventory_weeks, 0.0, 520.0, false, "a number of weeks from 0 to 520")?;
        if firm.chips.is_empty() {
            return Err(ScenarioError::new(fp.key("chips"), "expected at least one [[firms.chips]] entry, found none")
                .with_hint("a firm bids with its chips; give it its first chip"));
        }
        for (ci, chip) in firm.chips.iter().enumerate() {
            let cp = fp.key("chips").index(ci);
            let cc = Check::at(cp.clone());
            cc.id("id", &chip.id)?;
            if !chip_ids.insert(chip.id.as_str()) {
                return Err(ScenarioError::new(cp.key("id"), format!("duplicate chip id \"{}\"", chip.id))
                    .with_hint("chip ids are unique across all firms; cite the chip_id of chips.csv"));
            }
            cc.num("bf16_tflops", chip.bf16_tflops, 0.0, 1e7, true, "a number of TFLOPS above 0")?;
            if let Some(tpp) = chip.tpp {
                cc.non_neg("tpp", tpp)?;
            }
            cc.non_neg("memory_gb", chip.memory_gb)?;
            cc.non_neg("memory_bandwidth_tbps", chip.memory_bandwidth_tbps)?;
            cc.non_neg("tdp_w", chip.tdp_w)?;
            cc.positive("dies_per_wafer", chip.dies_per_wafer)?;
            cc.non_neg("hbm_stacks", chip.hbm_stacks)?;
            cc.num("unit_cost_usd", chip.unit_cost_usd, 0.0, 1e9, true, "a cost in USD above 0")?;
            if let Some(price) = chip.price_usd {
                cc.num("price_usd", price, 0.0, 1e9, true, "a price in USD above 0")?;
            }
            if let Some(end) = chip.end_of_sale {
                if end <= chip.launch {
                    return Err(ScenarioError::new(
                        cp.key("end_of_sale"),
                        format!("expected a date after launch ({}), found {end}", chip.launch),
                    )
                    .with_hint("end_of_sale is the last day the chip may bid; move it after launch or remove it"));
                }
            }
        }
        if let Some(ng) = &firm.next_gen {
            let nc = Check::at(fp.key("next_gen"));
            nc.num("cycle_years", ng.cycle_years, MIN_CYCLE_YEARS, 50.0, false, "a number of years from 0.25 to 50")?;
            nc.num("cycle_shape", ng.cycle_shape, MIN_CYCLE_SHAPE, 1000.0, false, "a shape from 0.1 to 1000")?;
            nc.positive("rd_reference_usd_per_year", ng.rd_reference_usd_per_year)?;
            nc.num("rd_elasticity", ng.rd_elasticity, 0.0, 5.0, false, "an elasticity from 0 to 5")?;
            nc.num("gain_median", ng.gain_median, 0.0, 100.0, true, "a multiplier above 0")?;
            nc.num("gain_sigma", ng.gain_sigma, 0.0, 3.0, false, "a sigma from 0 to 3")?;
            if let Some(cap) = ng.max_tflops {
                nc.positive("max_tflops", cap)?;
            }
            nc.num("cost_growth", ng.cost_growth, 0.0, 100.0, true, "a multiplier above 0")?;
        }
        unique(&fp.key("funding"), "id", firm.funding.iter().map(|f| f.id.as_str()), "funding event")?;
        for (ei, ev) in firm.funding.iter().enumerate() {
            let ec = Check::at(fp.key("funding").index(ei));
            ec.id("id", &ev.id)?;
            ec.non_neg("amount_usd", ev.amount_usd)?;
            ec.non_neg("ev_sales_multiple", ev.ev_sales_multiple)?;
            ec.finite("ev_sales_growth_premium", ev.ev_sales_growth_premium)?;
            ec.share("float_share", ev.float_share)?;
            if let Some(floor) = ev.rd_floor_usd_per_year {
                ec.non_neg("rd_floor_usd_per_year", floor)?;
            }
            if let Some(k) = ev.capacity_multiplier {
                ec.num("capacity_multiplier", k, 0.0, 100.0, true, "a multiplier above 0 and at most 100")?;
            }
        }
    }
    let firm_ids: Vec<&str> = s.firms.iter().map(|f| f.id.as_str()).collect();

    if s.customers.is_empty() {
        return Err(ScenarioError::new(root.key("customers"), "expected at least one [[customers]] entry, found none")
            .with_hint("demand reaches the market through customers' tenders"));
    }
    unique(&root.key("customers"), "id", s.customers.iter().map(|c| c.id.as_str()), "customer")?;
    let mut share_sum = 0.0;
    for (ci, c) in s.customers.iter().enumerate() {
        let cp = root.key("customers").index(ci);
        let cc = Check::at(cp.clone());
        cc.id("id", &c.id)?;
        cc.num("demand_share", c.demand_share, 0.0, 1.0, true, "a share above 0 and at most 1")?;
        share_sum += c.demand_share;
        if let Some(rate) = c.tenders_per_year {
            cc.num("tenders_per_year", rate, 0.0, 100_000.0, true, "a rate above 0 and at most 100000 per year")?;
        }
        let wc = Check::at(cp.key("weights"));
        wc.non_neg("price", c.weights.price)?;
        wc.non_neg("performance", c.weights.performance)?;
        wc.non_neg("ecosystem", c.weights.ecosystem)?;
        wc.non_neg("relationship", c.weights.relationship)?;
        wc.non_neg("supply_risk", c.weights.supply_risk)?;
        wc.non_neg("bandwidth", c.weights.bandwidth)?;
        wc.non_neg("memory", c.weights.memory)?;
        wc.finite("domestic", c.weights.domestic)?;
        cc.num("nest_scale", c.nest_scale, 0.0, 1.0, true, "a nest parameter above 0 and at most 1")?;
        cc.num("noise_scale", c.noise_scale, 0.0, 100.0, true, "a scale above 0 and at most 100")?;
        cc.num("max_vendor_share", c.max_vendor_share, 0.0, 1.0, true, "a share above 0 and at most 1")?;
        cc.share("domestic_mandate", c.domestic_mandate)?;
        for (firm, strength) in &c.relationships {
            if !firm_ids.contains(&firm.as_str()) {
                return Err(missing_ref(cp.key("relationships").key(firm), "firm", firm, &firm_ids));
            }
            Check::at(cp.key("relationships")).share(firm, *strength)?;
        }
    }
    if (share_sum - 1.0).abs() > 1e-6 {
        return Err(ScenarioError::new(
            root.key("customers"),
            format!("expected demand_share values adding up to 1, found a sum of {share_sum}"),
        )
        .with_hint("each customer's demand_share is its part of national demand"));
    }

    unique(&root.key("suppliers"), "id", s.suppliers.iter().map(|x| x.id.as_str()), "supplier")?;
    for (si, sup) in s.suppliers.iter().enumerate() {
        let sp = root.key("suppliers").index(si);
        let sc = Check::at(sp.clone());
        sc.id("id", &sup.id)?;
        sc.non_neg("capacity_per_quarter", sup.capacity_per_quarter)?;
        sc.num(
            "capacity_growth_per_year",
            sup.capacity_growth_per_year,
            -1.0,
            10.0,
            false,
            "a growth rate from -1 to 10",
        )?;
        sc.num("yield_start", sup.yield_start, 0.0, 1.0, true, "a yield above 0 and at most 1")?;
        if let Some(y) = sup.yield_end {
            sc.num("yield_end", y, 0.0, 1.0, true, "a yield above 0 and at most 1")?;
        }
        sc.num(
            "yield_learning_per_year",
            sup.yield_learning_per_year,
            0.0,
            100.0,
            false,
            "a rate from 0 to 100 per year",
        )?;
        if let Some(cap) = sup.max_chip_tflops {
            sc.positive("max_chip_tflops", cap)?;
        }
        if let Some(stock) = sup.stock {
            sc.non_neg("stock", stock)?;
        }
        for (ei, ex) in sup.expansions.iter().enumerate() {
            Check::at(sp.key("expansions").index(ei)).finite("capacity_per_quarter", ex.capacity_per_quarter)?;
        }
    }
    let supplier_ids: Vec<&str> = s.suppliers.iter().map(|x| x.id.as_str()).collect();
    let foundry_ids: Vec<&str> =
        s.suppliers.iter().filter(|x| x.kind == SupplierKind::Foundry).map(|x| x.id.as_str()).collect();
    for (fi, firm) in s.firms.iter().enumerate() {
        for (ci, chip) in firm.chips.iter().enumerate() {
            for (k, id) in chip.foundries.iter().enumerate() {
                if !foundry_ids.contains(&id.as_str()) {
                    let path = root.key("firms").index(fi).key("chips").index(ci).key("foundries").index(k);
                    return Err(missing_ref(path, "foundry supplier", id, &foundry_ids));
                }
            }
        }
    }
    let mut link_pairs = HashSet::new();
    let mut tags = BTreeSet::new();
    for (li, link) in s.links.iter().enumerate() {
        let lp = root.key("links").index(li);
        if !supplier_ids.contains(&link.supplier.as_str()) {
            return Err(missing_ref(lp.key("supplier"), "supplier", &link.supplier, &supplier_ids));
        }
        if !firm_ids.contains(&link.firm.as_str()) {
            return Err(missing_ref(lp.key("firm"), "firm", &link.firm, &firm_ids));
        }
        if !link_pairs.insert((link.supplier.as_str(), link.firm.as_str())) {
            return Err(ScenarioError::new(
                lp.key("firm"),
                format!("duplicate link from \"{}\" to \"{}\"", link.supplier, link.firm),
            )
            .with_hint("one link per supplier and firm; put its tags in one list"));
        }
        Check::at(lp.clone()).positive("weight", link.weight)?;
        tags.extend(link.tags.iter().map(String::as_str));
    }

    let p = &s.policy;
    let pp = root.key("policy");
    let regime_names: Vec<&str> = p.regimes.keys().map(String::as_str).collect();
    for (name, r) in &p.regimes {
        let rp = pp.key("regimes").key(name);
        let rc = Check::at(rp.clone());
        Check::at(pp.key("regimes")).id(name, name)?;
        if let Some(cap) = r.foreign_max_tpp {
            rc.non_neg("foreign_max_tpp", cap)?;
        }
        rc.share("license_approval_prob", r.license_approval_prob)?;
        rc.num(
            "license_delay_days",
            f64::from(r.license_delay_days),
            0.0,
            3650.0,
            false,
            "a whole number of days up to 3650",
        )?;
        rc.num("export_fee", r.export_fee, 0.0, 0.99, false, "a share from 0 to 0.99")?;
        rc.share("foreign_purchase_discouraged", r.foreign_purchase_discouraged)?;
        rc.share("foreign_supply_risk", r.foreign_supply_risk)?;
        let mc = Check::at(rp.key("domestic_mandate"));
        mc.share("state", r.domestic_mandate.state)?;
        mc.share("hyperscaler", r.domestic_mandate.hyperscaler)?;
        mc.share("other", r.domestic_mandate.other)?;
        rc.num("domestic_subsidy", r.domestic_subsidy, 0.0, 0.99, false, "a share from 0 to 0.99")?;
        rc.share("power_subsidy", r.power_subsidy)?;
        rc.num(
            "backlog_grace_days",
            f64::from(r.backlog_grace_days),
            0.0,
            3650.0,
            false,
            "a whole number of days up to 3650",
        )?;
        for (ci, chip) in r.excluded_chips.iter().enumerate() {
            if !chip_ids.contains(chip.as_str()) {
                let mut valid: Vec<&str> = chip_ids.iter().copied().collect();
                valid.sort_unstable();
                return Err(missing_ref(rp.key("excluded_chips").index(ci), "chip", chip, &valid));
            }
        }
        for (ti, tag) in r.cut_links.iter().enumerate() {
            if !tags.contains(tag.as_str()) {
                let valid: Vec<&str> = tags.iter().copied().collect();
                let err = missing_ref(rp.key("cut_links").index(ti), "link tag", tag, &valid);
                return Err(if valid.is_empty() {
                    err.with_hint("add the tag to the `tags` of a [[links]] entry, or remove it from cut_links")
                } else {
                    err
                });
            }
        }
    }
    let starts_scheduled = p.schedule.first().is_some_and(|e| e.date <= s.scenario.start);
    if p.initial.is_none() && p.regimes.len() > 1 && !starts_scheduled {
        return Err(ScenarioError::new(
            pp.key("initial"),
            format!("expected the regime in force at start, with {} regimes defined", p.regimes.len()),
        )
        .with_hint(format!(
            "add `initial = \"{}\"` under [policy], or a [[policy.schedule]] entry dated on or before {}",
            regime_names[0], s.scenario.start
        )));
    }
    if let Some(initial) = &p.initial {
        if !regime_names.contains(&initial.as_str()) {
            return Err(missing_ref(pp.key("initial"), "regime", initial, &regime_names));
        }
    }
    let mut last_date = None;
    for (i, entry) in p.schedule.iter().enumerate() {
        let ep = pp.key("schedule").index(i);
        if !regime_names.contains(&entry.regime.as_str()) {
            return Err(missing_ref(ep.key("regime"), "regime", &entry.regime, &regime_names));
        }
        if last_date.is_some_and(|d| entry.date < d) {
            return Err(ScenarioError::new(
                ep.key("date"),
                format!("expected dates in order, found {} after {}", entry.date, last_date.unwrap_or(entry.date)),
            )
            .with_hint("list [[policy.schedule]] entries by date"));
        }
        if let Some(announced) = entry.announced {
            if announced > entry.date {
                return Err(ScenarioError::new(
                    ep.key("announced"),
                    format!("expected an announcement on or before the date ({}), found {announced}", entry.date),
                )
                .with_hint("`announced` is when the rule was made public; `date` is when it takes force"));
            }
        }
        last_date = Some(entry.date);
    }
    let op = root.key("observation").key("server_shipments");
    let ss = &s.observation.server_shipments;
    let oc = Check::at(op.clone());
    oc.num("lag_quarters", ss.lag_quarters, 0.0, 8.0, false, "a number of quarters from 0 to 8")?;
    oc.num("lag_spread_quarters", ss.lag_spread_quarters, 0.0, 4.0, false, "a number of quarters from 0 to 4")?;
    let chip_ids: Vec<&str> = s.firms.iter().flat_map(|f| f.chips.iter().map(|c| c.id.as_str())).collect();
    for (i, id) in ss.excluded_chips.iter().enumerate() {
        if !chip_ids.contains(&id.as_str()) {
            return Err(missing_ref(op.key("excluded_chips").index(i), "chip", id, &chip_ids));
        }
    }
    if let Some(sw) = &p.switching {
        let sp = pp.key("switching").key("regimes");
        for (name, rule) in &sw.regimes {
            if !regime_names.contains(&name.as_str()) {
                return Err(missing_ref(sp.key(name), "regime", name, &regime_names));
            }
            Check::at(sp.key(name)).num(
                "mean_dwell_years",
                rule.mean_dwell_years,
                0.0,
                1000.0,
                true,
                "a number of years above 0",
            )?;
            for (to, weight) in &rule.to {
                if !regime_names.contains(&to.as_str()) {
                    return Err(missing_ref(sp.key(name).key("to").key(to), "regime", to, &regime_names));
                }
                Check::at(sp.key(name).key("to")).positive(to, *weight)?;
            }
            if rule.to.is_empty() {
                return Err(ScenarioError::new(
                    sp.key(name).key("to"),
                    "expected at least one target regime with a weight",
                )
                .with_hint("leave a regime out of [policy.switching.regimes] to make it absorbing"));
            }
        }
    }
    Ok(())
}
