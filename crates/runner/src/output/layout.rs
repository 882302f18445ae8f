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

/// A temporary folder next to the destination `out`, filled file by file and renamed into
/// place by [`commit`](Self::commit). Dropped without a commit, it is removed.
#[derive(Debug)]
pub struct StagedDir {
    out: PathBuf,
    parent: PathBuf,
    name: String,
    tmp: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Create the temporary folder for `out` (and `out`'s parent folders).
    ///
    /// # Errors
    ///
    /// When a folder cannot be created or a stale temporary folder removed.
    pub fn create(out: &Path) -> Result<StagedDir> {
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        fs::create_dir_all(&parent)
            .with_context(|| format!("failed to create output folder '{}'", parent.display()))?;
        let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).with_context(|| format!("failed to clear '{}'", tmp.display()))?;
        }
        fs::create_dir_all(&tmp).with_context(|| format!("failed to create '{}'", tmp.display()))?;
        Ok(StagedDir { out: out.to_path_buf(), parent, name, tmp, committed: false })
    }

    /// The temporary folder, to write the files into.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Write one whole file into the temporary folder.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<()> {
        let path = self.tmp.join(file);
        fs::write(&path, bytes).with_context(|| format!("failed to write '{}'", path.display()))
    }

    /// Replace `out` by the temporary folder.
    ///
    /// # Errors
    ///
    /// When the old folder cannot be moved aside or the new one into place.
    pub fn commit(mut self) -> Result<()> {
        let old = self.parent.join(format!(".{}.old-{}", self.name, std::process::id()));
        if self.out.exists() {
            fs::rename(&self.out, &old)
                .with_context(|| format!("failed to move aside the old '{}'", self.out.display()))?;
        }
        fs::rename(&self.tmp, &self.out)
            .with_context(|| format!("failed to move results into '{}'", self.out.display()))?;
        self.committed = true;
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| format!("failed to remove '{}'", old.display()))?;
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Write `files` (name, bytes) as the folder `out`, replacing what was there.
pub fn write_dir_atomically(out: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    let staged = StagedDir::create(out)?;
    for (file, bytes) in files {
        staged.write(file, bytes)?;
    }
    staged.commit()
}
