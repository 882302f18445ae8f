//! Reading scenario files: the file system side of loading, and turning the engine's
//! scenario errors into `file:line:column` messages.

use std::fmt;
use std::path::{Path, PathBuf};

use chipmarket_engine::scenario::{extends_of, parse_override, Override};
use chipmarket_engine::{Scenario, ScenarioError};

/// The baseline scenario, embedded in the binary.
pub const BASELINE: &str = include_str!("../../../scenarios/baseline.toml");

/// Name shown for the embedded baseline in messages.
pub const BASELINE_NAME: &str = "baseline.toml (embedded)";

/// Bad input from the user: a file, a flag or a value. Exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Where a scenario came from, and its text.
#[derive(Debug, Clone)]
pub struct Source {
    /// File path, or `None` for the embedded baseline.
    pub path: Option<PathBuf>,
    /// The text.
    pub text: String,
    /// The files it `extends`, base-most first, as (path, text); empty if it extends none.
    pub bases: Vec<(PathBuf, String)>,
}

/// How many `extends` a chain may hold before it is refused as a likely cycle.
const MAX_EXTENDS: usize = 8;

impl Source {
    /// The name to show in messages.
    pub fn name(&self) -> String {
        self.path.as_ref().map_or_else(|| BASELINE_NAME.to_string(), |p| p.display().to_string())
    }

    /// The texts to merge, base-most first, ending with this file.
    pub fn layers(&self) -> Vec<&str> {
        self.bases.iter().map(|(_, t)| t.as_str()).chain(std::iter::once(self.text.as_str())).collect()
    }

    /// The name of layer `i` (as numbered by [`Source::layers`]); this file if `None`.
    pub fn layer_name(&self, i: Option<usize>) -> String {
        match i.and_then(|i| self.bases.get(i)) {
            Some((path, _)) => path.display().to_string(),
            None => self.name(),
        }
    }
}

/// Read the files a scenario `extends`, base-most first.
fn read_bases(path: &Path, text: &str) -> Result<Vec<(PathBuf, String)>, InputError> {
    let mut bases = Vec::new();
    let (mut current, mut current_text) = (path.to_path_buf(), text.to_string());
    while let Some(rel) = extends_of(&current_text) {
        let base = current.parent().unwrap_or(Path::new(".")).join(&rel);
        if bases.len() >= MAX_EXTENDS {
            return Err(InputError(format!(
                "{}: more than {MAX_EXTENDS} files in its `extends` chain

hint: check for a file that extends itself",
                path.display()
            )));
        }
        let base_text = read_text(&base, "base scenario")
            .map_err(|e| InputError(format!("{}: extends = \"{rel}\": {}", current.display(), e.0)))?;
        bases.push((base.clone(), base_text.clone()));
        current = base;
        current_text = base_text;
    }
    bases.reverse();
    Ok(bases)
}

/// Read a text file, refusing missing, unreadable, empty-of-bytes or binary files.
pub fn read_text(path: &Path, what: &str) -> Result<String, InputError> {
    if path.is_dir() {
        return Err(InputError(format!(
            "cannot read {what} '{}': it is a folder\n\nhint: give the path of a .toml file",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        InputError(format!(
            "cannot read {what} '{}': {e}\n\nhint: check the path; it is relative to the current folder",
            path.display()
        ))
    })?;
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let (line, col) = byte_line_col(&bytes, pos);
        return Err(InputError(format!(
            "{}:{line}:{col}: not a text file (a NUL byte at offset {pos})\n\nhint: a {what} is a TOML text file",
            path.display()
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let pos = e.utf8_error().valid_up_to();
        let (line, col) = byte_line_col(e.as_bytes(), pos);
        InputError(format!(
            "{}:{line}:{col}: not UTF-8 text (byte 0x{:02x} at offset {pos})\n\nhint: save the {what} as UTF-8",
            path.display(),
            e.as_bytes()[pos]
        ))
    })
}

/// One-based line and column (in characters of the valid text before it) of a byte offset.
fn byte_line_col(bytes: &[u8], pos: usize) -> (usize, usize) {
    let before = &bytes[..pos];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, col)
}

/// Read the scenario at `path`, or the embedded baseline.
pub fn source(path: Option<&Path>) -> Result<Source, InputError> {
    match path {
        None => Ok(Source { path: None, text: BASELINE.to_string(), bases: Vec::new() }),
        Some(p) => {
            let text = read_text(p, "scenario")?;
            let bases = read_bases(p, &text)?;
            Ok(Source { path: Some(p.to_path_buf()), text, bases })
        }
    }
}

/// Parse `--set` arguments.
pub fn overrides(sets: &[String]) -> Result<Vec<Override>, InputError> {
    sets.iter().map(|arg| parse_override(arg).map_err(|e| InputError(format!("--set {arg}: {e}")))).collect()
}

/// Render a scenario error against its source: `file:line:column: path: message`.
pub fn describe(source_name: &str, err: &ScenarioError) -> InputError {
    let place = match (err.from_override.is_some(), err.line_col) {
        (true, _) => String::new(),
        (false, Some((line, col))) => format!("{source_name}:{line}:{col}: "),
        (false, None) => format!("{source_name}: "),
    };
    InputError(format!("invalid scenario: {place}{err}"))
}

/// Load, override and validate a scenario.
pub fn scenario(path: Option<&Path>, sets: &[String]) -> Result<(Scenario, Source), InputError> {
    let source = source(path)?;
    let overrides = overrides(sets)?;
    let scenario =
        Scenario::from_layers(&source.layers(), &overrides).map_err(|e| describe(&source.layer_name(e.layer), &e))?;
    Ok((scenario, source))
}
