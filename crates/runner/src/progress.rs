//! Progress bars on stderr (indicatif), hidden when stderr is not a terminal or with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A bar over `total` items, or a hidden one.
pub fn bar(total: u64, what: &str, quiet: bool) -> ProgressBar {
    styled(total, &format!("{{spinner}} {what} {{pos}}/{{len}} [{{bar:30}}] {{per_sec}} eta {{eta}}"), None, quiet)
}

/// A bar with `template`, whose `{rate}` key shows the items per second with `rate`'s
/// precision and unit; or a hidden one.
fn styled(total: u64, template: &str, rate: Option<(usize, &'static str)>, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(mut style) = ProgressStyle::with_template(template) {
        if let Some((digits, unit)) = rate {
            style = style.with_key("rate", move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.digits$} {unit}", state.per_sec());
            });
        }
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The runs of a sweep.
pub fn runs(total: u64, quiet: bool) -> ProgressBar {
    styled(total, "{spinner} runs {pos}/{len} [{bar:30}] {rate} eta {eta}", Some((0, "runs/s")), quiet)
}

/// The evaluations of a calibration, with the best loss so far as the bar's message.
pub fn evaluations(total: u64, quiet: bool) -> ProgressBar {
    styled(
        total,
        "{spinner} evaluations {pos}/{len} [{bar:30}] best loss {msg} {rate} eta {eta}",
        Some((1, "eval/s")),
        quiet,
    )
}

/// Progress of a run in simulated time: a bar over every replication's quarters, moved on
/// as each quarter closes (so one long replication shows progress too), or a hidden one.
pub fn quarters(replications: u32, quarters_per_replication: u64, quiet: bool) -> ProgressBar {
    bar(u64::from(replications) * quarters_per_replication, "simulated quarters", quiet)
}
