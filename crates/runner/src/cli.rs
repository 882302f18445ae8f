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
    /// Run a sweep file: every point x replication, in parallel, into runs.csv and points.csv.
    Sweep(SweepArgs),
    /// Join the output folders of a sharded sweep into the unsharded sweep's files.
    Merge(MergeArgs),
    /// (Re)make the summaries, charts and report.html of a run or sweep output folder.
    Plot(PlotArgs),
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
    /// Also write results.xlsx, an Excel workbook of the results (or `[output] xlsx = true`).
    #[arg(long)]
    pub xlsx: bool,
}

/// `chipmarket plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Output folder of a `chipmarket run` or `chipmarket sweep`.
    pub dir: PathBuf,
    /// Also write results.xlsx (run folders only).
    #[arg(long)]
    pub xlsx: bool,
    /// No closing message.
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

/// `chipmarket sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Sweep file: a base scenario and the paths to vary (docs/sweeps.md).
    pub file: PathBuf,
    /// Output folder. Default: outputs/<sweep file name> (with -shard-K-of-N for a shard).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Runs at a time. Default: one per core. Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run only slice K of N (whole points, 1 <= K <= N); `chipmarket merge` joins the slices.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Continue the interrupted sweep in --out (or start it if there is none).
    #[arg(long)]
    pub resume: bool,
    /// Also write each run's full files under runs/.
    #[arg(long)]
    pub keep_runs: bool,
    /// No progress bar and no closing message.
    #[arg(long)]
    pub quiet: bool,
    /// For tests: make run POINT/REPLICATION panic, to exercise failure handling.
    #[arg(long, hide = true, value_name = "POINT/REPLICATION")]
    pub debug_fail_run: Option<String>,
}

/// `chipmarket merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Output folders of the shards (`chipmarket sweep --shard K/N`), in any order.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the merged sweep (replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
}
