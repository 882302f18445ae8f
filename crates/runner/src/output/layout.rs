//! Where outputs go and how they are written: every file of a run goes into a temporary
//! folder next to the destination (a run streams its rows into it as it goes), which is
//! renamed into place only when all are written, so a failed or interrupted run never
//! leaves partial results.
//!
//! `--out` never destroys what it did not write. [`check_out`] accepts a missing or empty
//! folder, or a previous output of the same command (recognised by its `scenario.resolved.toml`
//! or `sweep.resolved.toml`, or by a `manifest.json` naming the command), which is replaced
//! whole. Any other folder is refused (exit code 2) unless `--force`, and then the command's
//! files are moved into it one by one, replacing only files of the same names.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::InputError;
use crate::load::read_bounded;
use crate::output::names;

/// Default output folder of a scenario: `outputs/<name>`.
pub fn default_out(name: &str) -> PathBuf {
    Path::new("outputs").join(name)
}

/// The command that writes an output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `chipmarket run`: recognised by `scenario.resolved.toml`.
    Run,
    /// `chipmarket sweep` (and `merge`, which writes the same folder): recognised by
    /// `sweep.resolved.toml`, or the state file of an interrupted sweep.
    Sweep,
}

impl Kind {
    fn command(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Sweep => "sweep",
        }
    }

    /// Files only this command writes.
    fn markers(self) -> &'static [&'static str] {
        match self {
            Kind::Run => &[names::SCENARIO_RESOLVED],
            Kind::Sweep => &[names::SWEEP_RESOLVED, ".sweep.state.toml"],
        }
    }

    /// Command names a `manifest.json` of this kind of folder may carry.
    fn manifest_commands(self) -> &'static [&'static str] {
        match self {
            Kind::Run => &["run"],
            Kind::Sweep => &["sweep", "merge"],
        }
    }
}

/// What `--out` names, as far as writing into it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFolder {
    /// Missing or empty: write freely.
    Fresh,
    /// A previous output of the same command: replace it.
    Ours,
    /// Another folder, allowed by `--force`: add the command's files, delete nothing else.
    Foreign,
}

/// Check that `out` may receive the output of `kind` (see the module docs).
pub fn check_out(out: &Path, kind: Kind, force: bool) -> Result<OutFolder, InputError> {
    let meta = match fs::metadata(out) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OutFolder::Fresh),
        Err(e) => {
            return Err(InputError::new(format!("--out '{}': {e}", out.display())).with_hint("choose another folder"))
        }
    };
    if !meta.is_dir() {
        return Err(InputError::new(format!("--out '{}' is a file, not a folder", out.display()))
            .with_hint("choose a folder name for the outputs"));
    }
    let mut entries =
        fs::read_dir(out).map_err(|e| InputError::new(format!("--out '{}': cannot list it: {e}", out.display())))?;
    if entries.next().is_none() {
        return Ok(OutFolder::Fresh);
    }
    if is_output_of(out, kind) {
        return Ok(OutFolder::Ours);
    }
    if force {
        return Ok(OutFolder::Foreign);
    }
    Err(InputError::new(format!(
        "--out '{}' is a folder that holds other files, not the output of an earlier `chipmarket {}`; \
         refusing to replace it",
        out.display(),
        kind.command()
    ))
    .with_hint(format!(
        "choose another folder (a new or empty one), or add --force to write the {} files into it \
         (nothing else in it is deleted)",
        kind.command()
    )))
}

/// True if `dir` holds an output of `kind`: one of its marker files, or a `manifest.json`
/// whose `command` names it.
fn is_output_of(dir: &Path, kind: Kind) -> bool {
    if kind.markers().iter().any(|m| dir.join(m).is_file()) {
        return true;
    }
    let Ok(bytes) = read_bounded(&dir.join(names::MANIFEST), "manifest", 1 << 20) else { return false };
    let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return false };
    manifest.get("command").and_then(serde_json::Value::as_str).is_some_and(|c| kind.manifest_commands().contains(&c))
}

/// Write a run as the folder `out`, after [`check_out`] (so a refused `--out` costs no
/// simulation and nothing is written): `fill` writes the run's files into a fresh temporary
/// folder next to `out` (streaming them as the run goes), then `then` adds to it (the
/// derived outputs of a run, which read those files). A fresh folder or an earlier run's is
/// then replaced whole; with `force`, another folder gets the files added. On any error the
/// temporary folder is removed and `out` is left as it was.
pub fn write_run_dir<T>(
    out: &Path,
    force: bool,
    fill: impl FnOnce(&Path) -> Result<T>,
    then: impl FnOnce(&Path, &T) -> Result<()>,
) -> Result<T> {
    let folder = check_out(out, Kind::Run, force)?;
    let tmp = make_tmp(out)?;
    let result = fill(&tmp).and_then(|filled| {
        then(&tmp, &filled)?;
        match folder {
            OutFolder::Fresh | OutFolder::Ours => replace_with(&tmp, out),
            OutFolder::Foreign => move_entries_into(&tmp, out),
        }?;
        Ok(filled)
    });
    let _ = fs::remove_dir_all(&tmp);
    result
}

/// The hidden temporary folder next to `out`, with `suffix`.
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    parent.join(format!(".{name}.{suffix}-{}", std::process::id()))
}

/// A fresh, empty temporary folder next to `out`; returns its path.
pub fn make_tmp(out: &Path) -> Result<PathBuf> {
    let tmp = sibling(out, "tmp");
    if let Some(parent) = tmp.parent() {
        fs::create_dir_all(parent).with_context(|| format!("failed to create output folder '{}'", parent.display()))?;
    }
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("failed to clear '{}'", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).with_context(|| format!("failed to create '{}'", tmp.display()))?;
    Ok(tmp)
}

/// Write `files` into a fresh temporary folder next to `out`; returns its path.
fn write_tmp(out: &Path, files: &[(&str, Vec<u8>)]) -> Result<PathBuf> {
    let tmp = make_tmp(out)?;
    let result = (|| -> Result<()> {
        for (file, bytes) in files {
            let path = tmp.join(file);
            fs::write(&path, bytes).with_context(|| format!("failed to write '{}'", path.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Move every entry of the folder `from` into the existing folder `into`, replacing entries of
/// the same name and nothing else.
pub fn move_entries_into(from: &Path, into: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("failed to read '{}'", from.display()))? {
        let entry = entry?;
        let target = into.join(entry.file_name());
        if target.is_dir() && !target.is_symlink() {
            fs::remove_dir_all(&target).with_context(|| format!("failed to replace '{}'", target.display()))?;
        }
        fs::rename(entry.path(), &target)
            .with_context(|| format!("failed to move '{}' into place", target.display()))?;
    }
    Ok(())
}

/// Write `files` (name, bytes) as the folder `out`, replacing what was there. Callers check
/// `out` with [`check_out`] first (or own it, like a sweep's `runs/`).
pub fn write_dir_atomically(out: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    let tmp = write_tmp(out, files)?;
    replace_with(&tmp, out)
}

/// Rename the folder `tmp` to `out`, replacing what was there (removed once `tmp` is in place).
pub fn replace_with(tmp: &Path, out: &Path) -> Result<()> {
    let result = (|| -> Result<()> {
        let old = sibling(out, "old");
        if out.exists() {
            fs::rename(out, &old).with_context(|| format!("failed to move aside the old '{}'", out.display()))?;
        }
        fs::rename(tmp, out).with_context(|| format!("failed to move results into '{}'", out.display()))?;
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| format!("failed to remove '{}'", old.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(tmp);
    }
    result
}
