//! One module per subcommand; [`dispatch`] picks one.

mod analyze;
mod calibrate;
mod compare;
mod diff;
mod graph;
mod merge;
mod params;
mod plot;
pub mod run;
mod status;
mod sweep;
mod validate;

use anyhow::Result;

use crate::cli::{Cli, Command, RunArgs};
use crate::output::owner::{self, Kind};

/// Run the command the user asked for (`run` on the baseline when none).
pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        None => run::run(&RunArgs::default()),
        Some(Command::Run(args)) => {
            // Refuse a wrong --out before running (run checks again when it writes).
            // (A multi-scenario run checks each of its folders inside it.)
            if let Some(out) = args.out.as_ref().filter(|_| args.scenarios.len() <= 1) {
                owner::claim(out, Kind::Run, args.force)?.refuse_conflicts(&run::FIXED_FILES)?;
            }
            run::run(&args)
        }
        Some(Command::Validate(args)) => validate::validate(&args),
        Some(Command::Params(args)) => params::params(&args),
        Some(Command::Graph(args)) => graph::graph(&args),
        Some(Command::Sweep(args)) => sweep::sweep(&args),
        Some(Command::Merge(args)) => merge::merge(&args),
        Some(Command::Status(args)) => status::status(&args),
        Some(Command::Compare(args)) => compare::compare(&args),
        Some(Command::Diff(args)) => diff::diff(&args),
        Some(Command::Calibrate(args)) => calibrate::calibrate(&args),
        Some(Command::Analyze(args)) => analyze::analyze(&args),
        Some(Command::Plot(args)) => plot::plot(&args),
    }
}
