//! Analysis of sweep results: which assumptions drive a KPI, and where a KPI passes a threshold.
//!
//! API Boundary: pure functions over numbers the runner has read from a sweep's `runs.csv`
//! (KPI means per point, in design order) and the design's unit coordinates
//! ([`crate::sweep::unit_design`]). No file I/O, no clock; the bootstraps draw from named
//! streams of a fixed seed, so the same input always gives the same output.
//!
//! - [`sobol`]: first-order (Saltelli 2010) and total (Jansen 1999) Sobol indices from a
//!   `saltelli` design, with bootstrap 95 % intervals.
//! - [`morris`]: elementary effects (mu, mu*, sigma) from a `morris` design.
//! - [`prim`]: the Patient Rule Induction Method (Friedman and Fisher 1999), peeling then
//!   pasting, for scenario discovery.
//! - [`precision`]: the 95 % half-width of a mean and the rule that stops replications when
//!   every named KPI is precise enough.
//! - `functions` (tests only): analytic test functions with known indices (Ishigami, Sobol's G).
//!
//! The user's guide is `docs/analysis.md`.

#[cfg(test)]
pub(crate) mod functions;
pub mod morris;
pub mod precision;
pub mod prim;
pub mod sobol;

/// The standard normal quantile for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Resamples of the bootstraps unless the caller says otherwise.
pub const DEFAULT_RESAMPLES: usize = 200;

/// Sample standard deviation (n - 1), 0 below two values.
pub(crate) fn sample_sd(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
}
