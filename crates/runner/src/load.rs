//! Reading scenario files: the file system side of loading, and turning the engine's
//! scenario errors into `file:line:column` messages.

use std::fmt;
use std::path::{Path, PathBuf};

use chipmarket_engine::scenario::{parse_override, Override};
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
}

impl Source {
    /// The name to show in messages.
    pub fn name(&self) -> String {
        self.path.as_ref().map_or_else(|| BASELINE_NAME.to_string(), |p| p.display().to_string())
    }
}

/// Read a text file, refusing missing, unreadable, empty-of-bytes or binary files.
pub fn read_text(path: &Path, what: &str) -> Result<String, InputError> {
    let bytes = std::fs::read(path).map_err(|e| {
        InputError(format!(
            "cannot read {what} '{}': {e}\n\nhint: check the path; it is relative to the current folder",
            path.display()
        ))
    })?;
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(InputError(format!(
            "'{}' is not a text file (a NUL byte at offset {pos})\n\nhint: a {what} is a TOML text file",
            path.display()
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        InputError(format!(
            "'{}' is not UTF-8 text (invalid byte at offset {})\n\nhint: save the {what} as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Read the scenario at `path`, or the embedded baseline.
pub fn source(path: Option<&Path>) -> Result<Source, InputError> {
    match path {
        None => Ok(Source { path: None, text: BASELINE.to_string() }),
        Some(p) => Ok(Source { path: Some(p.to_path_buf()), text: read_text(p, "scenario")? }),
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
    let scenario = Scenario::from_toml_str_with(&source.text, &overrides).map_err(|e| describe(&source.name(), &e))?;
    Ok((scenario, source))
}
