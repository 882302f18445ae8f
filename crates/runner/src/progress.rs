//! Progress bars on stderr (indicatif), hidden when stderr is not a terminal or with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `total` items, or a hidden one.
pub fn bar(total: u64, what: &str, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {what} {{pos}}/{{len}} [{{bar:30}}] {{per_sec}} eta {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Progress of a run in simulated time: a bar over every replication's quarters, moved on
/// as each quarter closes (so one long replication shows progress too), or a hidden one.
pub fn quarters(replications: u32, quarters_per_replication: u64, quiet: bool) -> ProgressBar {
    bar(u64::from(replications) * quarters_per_replication, "simulated quarters", quiet)
}
