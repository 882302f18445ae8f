//! The command line, declared with clap's derive API (DESIGN.md section 4).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Simulate China's data-centre AI-accelerator market under export-control regimes.
#[derive(Debug, Parser)]
#[command(name = "chipmarket", version, about, long_about = None)]
pub struct Cli {
    /// What to do; without one, `run` on the embedded baseline scenario.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (default: the embedded baseline) and write CSV results.
    Run(RunArgs),
    /// Check scenario or sweep files and report every problem found.
    Validate(ValidateArgs),
    /// List every sweepable PATH of a scenario with its current value.
    Params(ScenarioArg),
    /// Print the supply network as Graphviz DOT.
    Graph(GraphArgs),
}

/// `chipmarket run`.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Scenario file; without one, the embedded baseline.
    pub scenario: Option<PathBuf>,
    /// Output folder. Default: outputs/<scenario name>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Master seed (overrides `scenario.seed`).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Number of replications (overrides `scenario.replications`).
    #[arg(long, allow_negative_numbers = true)]
    pub replications: Option<u32>,
    /// Override one value: PATH=VALUE, e.g. firms.thead.rd_intensity=0.3 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Also write events.csv, every event of the run.
    #[arg(long)]
    pub trace: bool,
    /// No progress bar and no closing message.
    #[arg(long)]
    pub quiet: bool,
}

/// `chipmarket validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario or sweep files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// A command that takes an optional scenario.
#[derive(Debug, Args)]
pub struct ScenarioArg {
    /// Scenario file; without one, the embedded baseline.
    pub scenario: Option<PathBuf>,
}

/// `chipmarket graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Scenario file; without one, the embedded baseline.
    pub scenario: Option<PathBuf>,
    /// Draw the links as they are on this date (YYYY-MM-DD), by the dated schedule.
    #[arg(long)]
    pub at: Option<String>,
}
