//! Where outputs go by default, and whole small folders written at once (a sweep's
//! `runs/<run>/` with `--keep-runs`, inside a folder the sweep owns). Which folders a command
//! may write and how is `output::owner`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Default output folder of a scenario: `outputs/<name>`.
pub fn default_out(name: &str) -> PathBuf {
    Path::new("outputs").join(name)
}

/// The hidden temporary folder next to `out`, with `suffix`.
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    parent.join(format!(".{name}.{suffix}-{}", std::process::id()))
}

/// A fresh, empty temporary folder next to `out`; returns its path.
fn make_tmp(out: &Path) -> Result<PathBuf> {
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

/// Write `files` (name, bytes) as the folder `out`, replacing what was there. Callers own
/// `out` (a sweep's `runs/<run>`).
pub fn write_dir_atomically(out: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    let tmp = write_tmp(out, files)?;
    replace_with(&tmp, out)
}

/// Rename the folder `tmp` to `out`, replacing what was there (removed once `tmp` is in place).
fn replace_with(tmp: &Path, out: &Path) -> Result<()> {
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
