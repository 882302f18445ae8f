//! The command line, declared with clap's derive API.

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
    /// Where a sharded sweep stands: each shard finished, failed, running, stopped or missing,
    /// runs done, rate, and the commands that run the unfinished shards again.
    Status(StatusArgs),
    /// Score a run folder against observed outcomes: writes fit.csv, prints N/M inside.
    Compare(CompareArgs),
    /// Paired differences of run folders made with the same seed (other minus base).
    Diff(DiffArgs),
    /// Fit free parameters of a scenario to observed outcomes (docs/calibration.md).
    Calibrate(CalibrateArgs),
    /// Sensitivity indices of a saltelli or morris sweep, or PRIM boxes with --discover.
    Analyze(AnalyzeArgs),
    /// (Re)make the summaries, charts and report.html of a run or sweep output folder.
    Plot(PlotArgs),
}

/// `chipmarket run`.
#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Scenario files; without one, the embedded baseline. With several, each runs with the
    /// first one's seed and replications into OUT/<scenario name>/, and OUT/comparison/ holds
    /// their paired differences against the first (as `chipmarket diff` writes them).
    pub scenarios: Vec<PathBuf>,
    /// Output folder. Default: outputs/<scenario name> (with several scenarios,
    /// outputs/compare-<first>). An earlier run's output there is replaced; any other
    /// non-empty folder is refused unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Add the run's files to a non-empty --out folder that is not an earlier run's output
    /// alone (nothing the run did not write is deleted or replaced; a taken name is refused).
    #[arg(long)]
    pub force: bool,
    /// Master seed (overrides `scenario.seed`).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Number of replications (overrides `scenario.replications`), or `auto`: run batches until
    /// the KPIs of `[scenario.precision]` are precise (docs/analysis.md).
    #[arg(long, allow_negative_numbers = true, value_parser = parse_replications, value_name = "N|auto")]
    pub replications: Option<Replications>,
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

/// `--replications`: a count, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replications {
    /// Exactly this many.
    Count(u32),
    /// Until precise, by `[scenario.precision]`.
    Auto,
}

fn parse_replications(text: &str) -> Result<Replications, String> {
    if text == "auto" {
        return Ok(Replications::Auto);
    }
    text.parse::<u32>()
        .map(Replications::Count)
        .map_err(|_| format!("expected a whole number of at least 1, or auto, found \"{text}\""))
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
    /// An earlier sweep's output there is replaced; any other non-empty folder is refused
    /// unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Add the sweep's files to a non-empty --out folder that is not an earlier sweep's output
    /// alone (nothing the sweep did not write is deleted or replaced; a taken name is refused).
    #[arg(long)]
    pub force: bool,
    /// Runs at a time (1 to 1024). Default: one per core. Results do not depend on it.
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
    /// Folder for the merged sweep. An earlier sweep's or merge's output there is replaced;
    /// any other non-empty folder is refused unless --force.
    #[arg(long)]
    pub out: PathBuf,
    /// Add the sweep's files to a non-empty --out folder that is not an earlier sweep's output
    /// alone (nothing the sweep did not write is deleted or replaced; a taken name is refused).
    #[arg(long)]
    pub force: bool,
}

/// `chipmarket status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Shard folders, or a folder holding a sweep's shard-K-of-N folders (deploy/ writes them so).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The sweep was cut into N shards (so shards without a folder yet are counted as missing).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Print only the numbers K of the shards still to run (stopped or missing), separated by
    /// commas, for scripts; nothing when none is.
    #[arg(long)]
    pub todo: bool,
}

/// `chipmarket compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Folder written by `chipmarket run`.
    pub run_dir: PathBuf,
    /// Targets file (the format of data/observed_2022_2024.csv). Default: that file, embedded.
    #[arg(long)]
    pub targets: Option<PathBuf>,
}

/// `chipmarket diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output folder of the base run.
    pub base: PathBuf,
    /// Output folders of the runs to compare with it (same seed and replications).
    #[arg(required = true)]
    pub others: Vec<PathBuf>,
    /// Folder for the comparison. Default: `comparison` next to BASE (as a multi-scenario
    /// `run` writes it). An earlier comparison there is replaced; any other non-empty folder
    /// is refused unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out folder that is not an earlier comparison (its other files
    /// are kept).
    #[arg(long)]
    pub force: bool,
    /// No closing message.
    #[arg(long)]
    pub quiet: bool,
}

/// `chipmarket calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Calibration file: base scenario, targets, budget and [[free]] parameters.
    pub file: PathBuf,
    /// Output folder. Default: outputs/calibration-<file name>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Evaluations at a time (1 to 1024). Default: one per core. Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Continue the interrupted calibration in --out (or start it if there is none).
    #[arg(long)]
    pub resume: bool,
    /// No progress bar and no closing table.
    #[arg(long)]
    pub quiet: bool,
}

/// `chipmarket analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Output folder of a finished sweep (`sweep.resolved.toml` and `runs.csv`).
    pub dir: PathBuf,
    /// Analyse only this KPI (a `runs.csv` column; repeatable). Default: every KPI.
    #[arg(long, value_name = "NAME")]
    pub kpi: Vec<String>,
    /// File to write. Default: DIR/sensitivity.csv, or DIR/boxes.csv with --discover.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Scenario discovery: PRIM boxes where the condition holds, e.g. "thead_final_year_compute_share > 0.1".
    #[arg(long, value_name = "KPI > VALUE", allow_hyphen_values = true)]
    pub discover: Option<String>,
    /// Bootstrap resamples of the confidence intervals.
    #[arg(long, default_value_t = chipmarket_engine::analysis::DEFAULT_RESAMPLES, value_name = "N")]
    pub resamples: usize,
    /// Seed of the bootstrap. Default: the sweep's `seed`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// No table and no closing message.
    #[arg(long)]
    pub quiet: bool,
}
