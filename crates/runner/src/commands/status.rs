//! `chipmarket status DIR... [--shards N] [--todo]`: where a sharded sweep stands (see
//! `batch::survey`): one line per shard, the totals, and the commands that run the shards still
//! to do again. Reads only; exit code 2 for folders that hold no shards.

use anyhow::Result;

use crate::batch::survey;
use crate::cli::StatusArgs;
use crate::console::outln;
use crate::error::InputError;

/// Print the survey of `args.dirs`.
pub fn status(args: &StatusArgs) -> Result<()> {
    if args.shards == Some(0) {
        return Err(InputError::new("--shards: expected a whole number of at least 1, found 0").into());
    }
    let survey = survey::survey(&args.dirs, args.shards)?;
    if args.todo {
        let todo: Vec<String> = survey.to_do().map(|s| s.shard.k.to_string()).collect();
        outln!("{}", todo.join(","))?;
        return Ok(());
    }
    for line in survey.table() {
        outln!("{line}")?;
    }
    let reruns: Vec<String> = survey.to_do().map(|s| survey.rerun(s)).collect();
    if !reruns.is_empty() {
        outln!("run again (each shard goes on where it stopped):")?;
        for r in reruns {
            outln!("  {r}")?;
        }
    }
    Ok(())
}
