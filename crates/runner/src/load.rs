//! Reading scenario files: the file system side of loading, and turning the engine's
//! scenario errors into `file:line:column` messages.

use std::io::Read;
use std::path::{Path, PathBuf};

use chipmarket_engine::scenario::{extends_of, parse_override, KeyPath, Override, EXTENDS};
use chipmarket_engine::{Scenario, ScenarioError};

use crate::error::InputError;

pub mod calibration;
pub mod sweep;

/// The baseline scenario, embedded in the binary.
pub const BASELINE: &str = include_str!("../../../scenarios/baseline.toml");

/// Name shown for the embedded baseline in messages.
pub const BASELINE_NAME: &str = "baseline.toml (embedded)";

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

/// Read the files a scenario `extends`, base-most first. A base that cannot be read is
/// reported at the `extends` line of the file that names it.
fn read_bases(path: &Path, text: &str) -> Result<Vec<(PathBuf, String)>, InputError> {
    let mut bases = Vec::new();
    let (mut current, mut current_text) = (path.to_path_buf(), text.to_string());
    while let Some(rel) = extends_of(&current_text) {
        let base = current.parent().unwrap_or(Path::new(".")).join(&rel);
        if bases.len() >= MAX_EXTENDS {
            let err = ScenarioError::new(
                KeyPath::root().key(EXTENDS),
                format!("more than {MAX_EXTENDS} files in the `extends` chain of {}", path.display()),
            )
            .with_hint("check for a file that extends itself");
            return Err(describe(&current.display().to_string(), &err.locate_in_text(&current_text)));
        }
        let base_text = match read_text(&base, "base scenario") {
            Ok(t) => t,
            Err(e) => {
                let message = e.message;
                let hint = if Path::new(&rel).is_absolute() {
                    "`extends` names a scenario file (a regular TOML file)".to_string()
                } else {
                    format!(
                        "`extends = \"{rel}\"` is relative to the folder of {}, not to the current folder",
                        current.display()
                    )
                };
                let err = ScenarioError::new(KeyPath::root().key(EXTENDS), message).with_hint(hint);
                return Err(describe(&current.display().to_string(), &err.locate_in_text(&current_text)));
            }
        };
        bases.push((base.clone(), base_text.clone()));
        current = base;
        current_text = base_text;
    }
    bases.reverse();
    Ok(bases)
}

/// Largest scenario or sweep file read [bytes]: 16 MiB, far above any real one (the baseline is
/// a few kilobytes), so that a wrong path (`/dev/zero`, a huge log) fails fast.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Read a whole regular file of at most `limit` bytes. Refuses folders, named pipes, devices
/// and sockets before opening them (opening a pipe can block forever), and files over the limit,
/// checked on the metadata and again while reading (a file may grow).
pub fn read_bounded(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, InputError> {
    let cannot = |e: std::io::Error| {
        InputError::new(format!("cannot read {what} '{}': {e}", path.display()))
            .with_hint("check the path; it is relative to the current folder")
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.is_dir() {
        return Err(InputError::new(format!("cannot read {what} '{}': it is a folder", path.display()))
            .with_hint("give the path of a .toml file"));
    }
    if !meta.is_file() {
        return Err(InputError::new(format!(
            "cannot read {what} '{}': it is not a regular file (a named pipe, device or socket)",
            path.display()
        ))
        .with_hint(format!("save the {what} to a file and give its path")));
    }
    let too_big = || {
        InputError::new(format!(
            "cannot read {what} '{}': it is larger than {} MiB, the most a {what} may be",
            path.display(),
            limit >> 20
        ))
        .with_hint(format!("check the path; a {what} is a small TOML text file"))
    };
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes)).map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// Open a file of an output folder for streaming: refuses (before opening, which can block on
/// a named pipe) anything that is not a regular file, a link to one included (`/dev/zero`, a
/// FIFO, a folder), naming it.
pub fn open_regular(path: &Path) -> Result<std::fs::File, InputError> {
    let cannot = |e: std::io::Error| {
        InputError::new(format!("cannot read '{}': {e}", path.display()))
            .with_hint("give the folder of a `chipmarket run` or `chipmarket sweep`, unchanged")
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a folder" } else { "not a regular file (a named pipe, device or socket)" };
        return Err(InputError::new(format!("cannot read '{}': it is {what}", path.display()))
            .with_hint("an output folder holds regular files only; remove it or give another folder"));
    }
    std::fs::File::open(path).map_err(cannot)
}

/// Read a text file, refusing missing, unreadable, oversized, binary or non-UTF-8 files and
/// anything that is not a regular file.
pub fn read_text(path: &Path, what: &str) -> Result<String, InputError> {
    let bytes = read_bounded(path, what, MAX_INPUT_BYTES)?;
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let (line, col) = byte_line_col(&bytes, pos);
        return Err(InputError::new(format!(
            "{}:{line}:{col}: not a text file (a NUL byte at offset {pos})",
            path.display()
        ))
        .with_hint(format!("a {what} is a TOML text file")));
    }
    String::from_utf8(bytes).map_err(|e| {
        let pos = e.utf8_error().valid_up_to();
        let (line, col) = byte_line_col(e.as_bytes(), pos);
        InputError::new(format!(
            "{}:{line}:{col}: not UTF-8 text (byte 0x{:02x} at offset {pos})",
            path.display(),
            e.as_bytes()[pos]
        ))
        .with_hint(format!("save the {what} as UTF-8"))
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
    sets.iter().map(|arg| parse_override(arg).map_err(|e| InputError::new(format!("--set {arg}: {e}")))).collect()
}

/// Render a scenario error against its source: `file:line:column: path: message`.
pub fn describe(source_name: &str, err: &ScenarioError) -> InputError {
    InputError::scenario("scenario", source_name, err)
}

/// Load, override and validate a scenario.
pub fn scenario(path: Option<&Path>, sets: &[String]) -> Result<(Scenario, Source), InputError> {
    let source = source(path)?;
    let overrides = overrides(sets)?;
    let scenario = Scenario::from_layers(&source.layers(), &overrides).map_err(|e| {
        // An override cannot be blamed for what is wrong with the file itself (a `[[scenario]]`
        // list where a table belongs): report the file's own error first.
        let e = match (&e.from_override, overrides.is_empty()) {
            (Some(_), false) => Scenario::from_layers(&source.layers(), &[]).err().unwrap_or(e),
            _ => e,
        };
        describe(&source.layer_name(e.layer), &e)
    })?;
    // Layers and overrides can add up to more than one file may hold: refuse a scenario whose
    // `scenario.resolved.toml` could not be read back, before anything runs.
    let resolved = scenario.to_toml_string().len() as u64;
    if resolved > MAX_INPUT_BYTES {
        return Err(InputError::new(format!(
            "{}: the resolved scenario would be {resolved} bytes, more than the 16 MiB a scenario file may hold, so its scenario.resolved.toml could not be read back",
            source.name()
        ))
        .with_hint("shorten the long texts (descriptions, names) of the layers"));
    }
    Ok((scenario, source))
}
