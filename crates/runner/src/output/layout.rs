//! Where outputs go and how they are written: every file of a run goes into a temporary
//! folder next to the destination, which is renamed into place only when all are written,
//! so a failed or interrupted run never leaves partial results.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Default output folder of a scenario: `outputs/<name>`.
pub fn default_out(name: &str) -> PathBuf {
    Path::new("outputs").join(name)
}

/// Write `files` (name, bytes) as the folder `out`, replacing what was there.
pub fn write_dir_atomically(out: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    write_dir_atomically_then(out, files, |_| Ok(()))
}

/// [`write_dir_atomically`], with `then` adding to the temporary folder once `files` are in
/// it and before it is renamed into place (the derived outputs of a run).
pub fn write_dir_atomically_then(
    out: &Path,
    files: &[(&str, Vec<u8>)],
    then: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("failed to create output folder '{}'", parent.display()))?;
    let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("failed to clear '{}'", tmp.display()))?;
    }
    let result = (|| -> Result<()> {
        fs::create_dir_all(&tmp).with_context(|| format!("failed to create '{}'", tmp.display()))?;
        for (file, bytes) in files {
            let path = tmp.join(file);
            fs::write(&path, bytes).with_context(|| format!("failed to write '{}'", path.display()))?;
        }
        then(&tmp)?;
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        if out.exists() {
            fs::rename(out, &old).with_context(|| format!("failed to move aside the old '{}'", out.display()))?;
        }
        fs::rename(&tmp, out).with_context(|| format!("failed to move results into '{}'", out.display()))?;
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| format!("failed to remove '{}'", old.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}
