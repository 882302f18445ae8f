//! `InputError`: bad input from the user (a file, a flag, a value, a folder), exit code 2.
//!
//! An error is a message and, usually, a hint saying what to do; both are rendered in one
//! place ([`fmt::Display`]: the message, a blank line, `hint: ...`), so no message spells the
//! layout itself. [`InputError::in_file`] is the one renderer of an error found inside a file
//! (`file:line:column: key: message`), used for scenario, sweep, calibration and targets files.

use std::fmt;

use chipmarket_engine::fit::FitError;
use chipmarket_engine::ScenarioError;

/// Bad input from the user: a file, a flag or a value. Exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// What is wrong: what was expected and what was found, with the file or flag.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl InputError {
    /// An error without a hint (add one with [`InputError::with_hint`]).
    pub fn new(message: impl Into<String>) -> InputError {
        InputError { message: message.into(), hint: None }
    }

    /// The same error with `hint`.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> InputError {
        self.hint = Some(hint.into());
        self
    }

    /// An error found inside the file `source` (a `what`: "scenario", "sweep", ...):
    /// `invalid WHAT: FILE:LINE:COLUMN: MESSAGE`, the place left out when unknown.
    pub fn in_file(what: &str, source: &str, line_col: Option<(usize, usize)>, message: &str) -> InputError {
        let place = match line_col {
            Some((line, col)) => format!("{source}:{line}:{col}: "),
            None => format!("{source}: "),
        };
        InputError::new(format!("invalid {what}: {place}{message}"))
    }

    /// A scenario-shaped error (scenario, sweep and calibration files) found in `source`.
    /// An error that comes from a `--set` override names the override instead of a place.
    pub fn scenario(what: &str, source: &str, err: &ScenarioError) -> InputError {
        let mut message = String::new();
        if let Some(ov) = &err.from_override {
            message.push_str(&format!("--set {ov}: "));
        }
        if !err.dotted.is_empty() {
            message.push_str(&format!("{}: ", err.dotted));
        }
        message.push_str(&err.message);
        let e = if err.from_override.is_some() {
            InputError::new(format!("invalid {what}: {message}"))
        } else {
            InputError::in_file(what, source, err.line_col, &message)
        };
        InputError { hint: err.hint.clone(), ..e }
    }

    /// An error of a targets file (`docs/calibration.md`) named `source`.
    pub fn targets(source: &str, err: &FitError) -> InputError {
        let message = if err.key.is_empty() { err.message.clone() } else { format!("{}: {}", err.key, err.message) };
        InputError {
            hint: err.hint.clone(),
            ..InputError::in_file("targets", source, Some((err.line, err.column)), &message)
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_follows_the_message_after_a_blank_line() {
        assert_eq!(InputError::new("bad").to_string(), "bad");
        assert_eq!(InputError::new("bad").with_hint("do this").to_string(), "bad\n\nhint: do this");
        assert_eq!(
            InputError::in_file("sweep", "s.toml", Some((3, 4)), "x: wrong").to_string(),
            "invalid sweep: s.toml:3:4: x: wrong"
        );
    }
}
