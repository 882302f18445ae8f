//! Morris screening: elementary effects from a `morris` design (see
//! `crate::sweep::Method::Morris`).
//!
//! Each step of a trajectory moves one factor i by +-delta (in unit coordinates, a share of its
//! range), so `EE = (f(after) - f(before)) / (u_i after - u_i before)` is an effect per whole
//! range of the factor. Per factor: `mu` (mean EE: the direction), `mu_star` (mean |EE|: the
//! importance, Campolongo et al. 2007) and `sigma` (sample standard deviation of the EEs:
//! interactions and non-linearity). `mu_star_conf` is `1.96 x` the standard deviation of
//! `mu_star` over bootstrap resamples of the EEs (stream `analysis/morris`), as in SALib.
//! A step with a missing output (NaN) gives no effect.

use rand::Rng;

use super::{sample_sd, Z95};
use crate::rng::stream;

/// The screening measures of one output, one entry per factor.
#[derive(Debug, Clone, PartialEq)]
pub struct MorrisIndices {
    /// Mean elementary effect.
    pub mu: Vec<f64>,
    /// Mean absolute elementary effect.
    pub mu_star: Vec<f64>,
    /// Sample standard deviation of the elementary effects (NaN below two).
    pub sigma: Vec<f64>,
    /// Half-width of the 95 % bootstrap interval of `mu_star`.
    pub mu_star_conf: Vec<f64>,
    /// Elementary effects computed per factor.
    pub effects: Vec<usize>,
}

/// Why the measures cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MorrisError {
    /// Outputs and design rows differ in number, or are not whole trajectories.
    #[error("expected whole trajectories of {len} points with one output per point, found {rows} points and {outputs} outputs")]
    Shape {
        /// D + 1.
        len: usize,
        /// Design rows.
        rows: usize,
        /// Outputs.
        outputs: usize,
    },
    /// Two consecutive points of a trajectory do not differ in exactly one factor.
    #[error("points {0} and {1} do not differ in exactly one factor; the design is not a morris design")]
    NotOneStep(usize, usize),
}

/// Morris measures of the outputs `y` of the design `unit` (rows of unit coordinates, whole
/// trajectories of D + 1 points in order), with `resamples` bootstrap resamples seeded by `seed`.
pub fn indices(unit: &[Vec<f64>], y: &[f64], resamples: usize, seed: u64) -> Result<MorrisIndices, MorrisError> {
    let d = unit.first().map_or(0, Vec::len);
    let len = d + 1;
    if d == 0 || unit.len() != y.len() || !unit.len().is_multiple_of(len) {
        return Err(MorrisError::Shape { len, rows: unit.len(), outputs: y.len() });
    }
    let mut ee: Vec<Vec<f64>> = vec![Vec::new(); d];
    for t in (0..unit.len()).step_by(len) {
        for k in t..t + d {
            let (a, b) = (&unit[k], &unit[k + 1]);
            let mut changed = (0..d).filter(|&i| a[i] != b[i]);
            let (Some(i), None) = (changed.next(), changed.next()) else {
                return Err(MorrisError::NotOneStep(k, k + 1));
            };
            if y[k].is_finite() && y[k + 1].is_finite() {
                ee[i].push((y[k + 1] - y[k]) / (b[i] - a[i]));
            }
        }
    }
    let mut rng = stream(seed, 0, "analysis/morris");
    let mean = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let mut out = MorrisIndices {
        mu: Vec::with_capacity(d),
        mu_star: Vec::with_capacity(d),
        sigma: Vec::with_capacity(d),
        mu_star_conf: Vec::with_capacity(d),
        effects: Vec::with_capacity(d),
    };
    for e in &ee {
        let abs: Vec<f64> = e.iter().map(|x| x.abs()).collect();
        out.mu.push(mean(e));
        out.mu_star.push(mean(&abs));
        out.sigma.push(if e.len() < 2 { f64::NAN } else { sample_sd(e) });
        out.effects.push(e.len());
        let boot: Vec<f64> = if abs.is_empty() {
            Vec::new()
        } else {
            (0..resamples)
                .map(|_| (0..abs.len()).map(|_| abs[rng.random_range(0..abs.len())]).sum::<f64>() / abs.len() as f64)
                .collect()
        };
        out.mu_star_conf.push(if abs.is_empty() { f64::NAN } else { Z95 * sample_sd(&boot) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::functions::{g_function, ishigami};
    use crate::sweep::{unit_design, Axis, Method, SweepSpec};

    fn morris_rows(r: u32, levels: u32, d: usize, seed: u64) -> Vec<Vec<f64>> {
        let vary = (0..d)
            .map(|i| Axis {
                label: None,
                path: format!("a.p{i}"),
                values: None,
                range: Some(vec![0.0, 1.0]),
                steps: None,
                integer: false,
            })
            .collect();
        unit_design(&SweepSpec {
            name: None,
            question: None,
            base: toml::Value::String("b.toml".into()),
            replications: None,
            method: Method::Morris,
            samples: None,
            trajectories: Some(r),
            levels: Some(levels),
            seed,
            crn: true,
            scramble: None,
            vary,
        })
    }

    fn ranking(v: &[f64]) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
        idx
    }

    #[test]
    fn a_linear_function_has_its_slopes_as_effects_and_no_spread() {
        let unit = morris_rows(20, 4, 3, 1);
        let y: Vec<f64> = unit.iter().map(|u| 3.0 * u[0] - 2.0 * u[1] + 0.5 * u[2]).collect();
        let got = indices(&unit, &y, 100, 1).unwrap();
        for (i, c) in [3.0, -2.0, 0.5].iter().enumerate() {
            assert!((got.mu[i] - c).abs() < 1e-9, "{got:?}");
            assert!((got.mu_star[i] - c.abs()).abs() < 1e-9, "{got:?}");
            assert!(got.sigma[i].abs() < 1e-9 && got.mu_star_conf[i].abs() < 1e-9, "{got:?}");
        }
        assert_eq!(got.effects, vec![20; 3]);
    }

    #[test]
    fn the_g_function_factors_are_ranked_by_importance() {
        let a = [0.0, 1.0, 4.5, 9.0, 99.0];
        let unit = morris_rows(100, 4, a.len(), 2);
        let y: Vec<f64> = unit.iter().map(|u| g_function(u, &a)).collect();
        let got = indices(&unit, &y, 100, 1).unwrap();
        assert_eq!(ranking(&got.mu_star), vec![0, 1, 2, 3, 4], "{got:?}");
    }

    #[test]
    fn ishigami_screening_puts_x1_and_x2_above_x3() {
        let unit = morris_rows(200, 4, 3, 3);
        let y: Vec<f64> = unit.iter().map(|u| ishigami(u)).collect();
        let got = indices(&unit, &y, 100, 1).unwrap();
        assert!(got.mu_star[0] > got.mu_star[2] && got.mu_star[1] > got.mu_star[2], "{got:?}");
        // x3 acts only through its interaction with x1: its effects vary a lot around a mean near 0.
        assert!(got.mu[2].abs() < 0.5 * got.mu_star[2], "{got:?}");
    }

    #[test]
    fn a_design_that_is_not_morris_is_refused() {
        let unit = vec![vec![0.0, 0.0], vec![1.0, 1.0], vec![1.0, 0.0]];
        assert_eq!(indices(&unit, &[1.0, 2.0, 3.0], 10, 1), Err(MorrisError::NotOneStep(0, 1)));
        assert!(matches!(indices(&unit, &[1.0], 10, 1), Err(MorrisError::Shape { .. })));
    }
}
