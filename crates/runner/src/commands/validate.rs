//! `chipmarket validate FILE...`: check each file and report every one that fails.

use anyhow::Result;

use crate::cli::ValidateArgs;
use crate::load::{self, InputError};

/// Validate every file; exit code 2 if any is invalid.
pub fn validate(args: &ValidateArgs) -> Result<()> {
    let mut failed = Vec::new();
    for path in &args.files {
        match load::scenario(Some(path), &[]) {
            Ok(_) => println!("ok: {}", path.display()),
            Err(err) => {
                eprintln!("error: {err}");
                failed.push(path.display().to_string());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(InputError(format!("{} of {} file(s) invalid: {}", failed.len(), args.files.len(), failed.join(", ")))
            .into())
    }
}
