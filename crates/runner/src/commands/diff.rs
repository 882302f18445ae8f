//! `chipmarket diff BASE OTHER... [--out DIR]`: paired differences of run folders made with the
//! same seed and replications (`report::comparison` computes and writes them).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::DiffArgs;
use crate::console::outln;
use crate::report;

/// The default comparison folder: `comparison` next to the base run's folder.
fn default_out(base: &Path) -> PathBuf {
    base.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("comparison")
}

/// Run `chipmarket diff`.
pub fn diff(args: &DiffArgs) -> Result<()> {
    let started = report::Started::now();
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.base));
    let written = report::write_comparison(&args.base, &args.others, &out, args.force, &started)?;
    if !args.quiet {
        outln!("wrote {written} files (paired differences against {}) to {}", args.base.display(), out.display())?;
    }
    Ok(())
}
