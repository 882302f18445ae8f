//! Sobol sensitivity indices from a `saltelli` design (see `crate::sweep::Method::Saltelli`).
//!
//! The outputs come in the design's order: for each base row j, f(A_j), f(AB_1j) .. f(AB_Dj),
//! f(B_j). With V the variance of the f(A) and f(B) values together:
//!
//! - first order (Saltelli et al. 2010): `S1_i = mean_j f(B_j) (f(AB_ij) - f(A_j)) / V`;
//! - total order (Jansen 1999): `ST_i = mean_j (f(A_j) - f(AB_ij))^2 / (2 V)`.
//!
//! These are SALib's estimators, on outputs centred on their mean (which leaves the indices'
//! expectations alone and keeps the S1 estimator's variance from growing with the mean of the
//! output). The 95 % intervals are `1.96 x` the standard deviation of the
//! estimates over bootstrap resamples of the base rows (drawn from the stream `analysis/sobol`
//! of the given seed). A base row with a missing output (NaN) is left out whole.

use rand::Rng;

use super::{sample_sd, Z95};
use crate::rng::stream;

/// The indices of one output, one entry per factor.
#[derive(Debug, Clone, PartialEq)]
pub struct SobolIndices {
    /// First-order indices.
    pub s1: Vec<f64>,
    /// Half-widths of their 95 % bootstrap intervals.
    pub s1_conf: Vec<f64>,
    /// Total indices.
    pub st: Vec<f64>,
    /// Half-widths of their 95 % bootstrap intervals.
    pub st_conf: Vec<f64>,
    /// Base rows used (those without a missing output).
    pub rows: usize,
}

/// Why indices cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SobolError {
    /// The number of outputs is not a multiple of D + 2.
    #[error("expected a multiple of {block} outputs (D + 2 per base row), found {found}")]
    Shape {
        /// D + 2.
        block: usize,
        /// Outputs given.
        found: usize,
    },
    /// Fewer than two complete base rows, or no variance at all.
    #[error("the output does not vary over the {rows} complete base row(s), so it has no indices")]
    NoVariance {
        /// Complete base rows.
        rows: usize,
    },
}

/// Sobol indices of the outputs `y` (in `saltelli` order) of a design over `d` factors, with
/// `resamples` bootstrap resamples seeded by `seed`.
pub fn indices(y: &[f64], d: usize, resamples: usize, seed: u64) -> Result<SobolIndices, SobolError> {
    let block = d + 2;
    if d == 0 || !y.len().is_multiple_of(block) {
        return Err(SobolError::Shape { block, found: y.len() });
    }
    // Centre the outputs (as SALib does): the estimators' expectations do not depend on the
    // mean, but the variance of the S1 estimator grows with it.
    let finite: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
    let centre = if finite.is_empty() { 0.0 } else { finite.iter().sum::<f64>() / finite.len() as f64 };
    let centred: Vec<f64> = y.iter().map(|v| v - centre).collect();
    let rows: Vec<&[f64]> = centred.chunks(block).filter(|b| b.iter().all(|v| v.is_finite())).collect();
    let n = rows.len();
    let all: Vec<usize> = (0..n).collect();
    let variance = variance_ab(&rows, &all);
    if n < 2 || variance.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Err(SobolError::NoVariance { rows: n });
    }
    let (s1, st) = estimate(&rows, &all, d);
    let mut rng = stream(seed, 0, "analysis/sobol");
    let mut boot_s1 = vec![Vec::with_capacity(resamples); d];
    let mut boot_st = vec![Vec::with_capacity(resamples); d];
    let mut pick = vec![0; n];
    for _ in 0..resamples {
        pick.iter_mut().for_each(|p| *p = rng.random_range(0..n));
        let (b1, bt) = estimate(&rows, &pick, d);
        for i in 0..d {
            boot_s1[i].push(b1[i]);
            boot_st[i].push(bt[i]);
        }
    }
    let conf = |b: &Vec<Vec<f64>>| b.iter().map(|v| Z95 * sample_sd(v)).collect();
    Ok(SobolIndices { s1, s1_conf: conf(&boot_s1), st, st_conf: conf(&boot_st), rows: n })
}

/// Population variance of the A and B outputs of the picked rows.
fn variance_ab(rows: &[&[f64]], pick: &[usize]) -> f64 {
    let last = rows.first().map_or(0, |r| r.len() - 1);
    let n = 2.0 * pick.len() as f64;
    let mean = pick.iter().map(|&j| rows[j][0] + rows[j][last]).sum::<f64>() / n;
    pick.iter().map(|&j| (rows[j][0] - mean).powi(2) + (rows[j][last] - mean).powi(2)).sum::<f64>() / n
}

/// S1 and ST of every factor over the picked rows (NaN when the pick has no variance).
fn estimate(rows: &[&[f64]], pick: &[usize], d: usize) -> (Vec<f64>, Vec<f64>) {
    let v = variance_ab(rows, pick);
    let m = pick.len() as f64;
    let mut s1 = vec![0.0; d];
    let mut st = vec![0.0; d];
    for &j in pick {
        let r = rows[j];
        let (a, b) = (r[0], r[d + 1]);
        for i in 0..d {
            let ab = r[1 + i];
            s1[i] += b * (ab - a);
            st[i] += (a - ab) * (a - ab);
        }
    }
    for i in 0..d {
        s1[i] /= m * v;
        st[i] /= 2.0 * m * v;
    }
    (s1, st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::functions::{g_function, g_indices, ishigami, ISHIGAMI_S1, ISHIGAMI_ST};
    use crate::sweep::{unit_design, Axis, Method, SweepSpec};

    /// The unit rows of a saltelli design over `d` factors with base sample `n`.
    pub(crate) fn saltelli_rows(n: u32, d: usize, seed: u64) -> Vec<Vec<f64>> {
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
            method: Method::Saltelli,
            samples: Some(n),
            trajectories: None,
            levels: None,
            seed,
            crn: true,
            scramble: None,
            vary,
        })
    }

    fn assert_within(got: &SobolIndices, s1: &[f64], st: &[f64]) {
        for i in 0..s1.len() {
            assert!(
                (got.s1[i] - s1[i]).abs() <= got.s1_conf[i],
                "S1[{i}] = {} +- {} misses {}",
                got.s1[i],
                got.s1_conf[i],
                s1[i]
            );
            assert!(
                (got.st[i] - st[i]).abs() <= got.st_conf[i],
                "ST[{i}] = {} +- {} misses {}",
                got.st[i],
                got.st_conf[i],
                st[i]
            );
            assert!(got.s1_conf[i] < 0.1 && got.st_conf[i] < 0.1, "intervals are informative: {got:?}");
        }
    }

    #[test]
    fn ishigami_indices_are_recovered_within_their_intervals() {
        let y: Vec<f64> = saltelli_rows(4096, 3, 1).iter().map(|u| ishigami(u)).collect();
        let got = indices(&y, 3, 200, 7).unwrap();
        assert_within(&got, &ISHIGAMI_S1, &ISHIGAMI_ST);
        assert_eq!(got.rows, 4096);
    }

    #[test]
    fn g_function_indices_are_recovered_within_their_intervals() {
        let a = [0.0, 1.0, 4.5, 9.0, 99.0, 99.0];
        let (s1, st) = g_indices(&a);
        let y: Vec<f64> = saltelli_rows(4096, a.len(), 3).iter().map(|u| g_function(u, &a)).collect();
        let got = indices(&y, a.len(), 200, 7).unwrap();
        assert_within(&got, &s1, &st);
        // The factors come out in the order of their importance.
        assert!(got.st.windows(2).take(3).all(|w| w[0] > w[1]), "{:?}", got.st);
    }

    #[test]
    fn a_linear_function_splits_its_variance_by_the_squared_slopes() {
        // y = 1 u1 + 2 u2 + 0 u3: V_i proportional to c_i^2, no interactions (S1 = ST).
        let y: Vec<f64> = saltelli_rows(1024, 3, 2).iter().map(|u| u[0] + 2.0 * u[1]).collect();
        let got = indices(&y, 3, 100, 1).unwrap();
        for (i, want) in [0.2, 0.8, 0.0].iter().enumerate() {
            assert!((got.s1[i] - want).abs() < 0.02, "{got:?}");
            assert!((got.st[i] - want).abs() < 0.02, "{got:?}");
        }
    }

    #[test]
    fn a_large_mean_does_not_blur_the_first_order_indices() {
        let rows = saltelli_rows(512, 3, 4);
        let plain: Vec<f64> = rows.iter().map(|u| ishigami(u)).collect();
        let shifted: Vec<f64> = plain.iter().map(|y| y + 1e4).collect();
        let (a, b) = (indices(&plain, 3, 100, 1).unwrap(), indices(&shifted, 3, 100, 1).unwrap());
        for i in 0..3 {
            assert!((a.s1[i] - b.s1[i]).abs() < 1e-6 && (a.s1_conf[i] - b.s1_conf[i]).abs() < 1e-6, "{a:?} {b:?}");
        }
    }

    #[test]
    fn rows_with_missing_outputs_are_left_out_and_the_bootstrap_is_seeded() {
        let mut y: Vec<f64> = saltelli_rows(256, 3, 1).iter().map(|u| ishigami(u)).collect();
        y[6] = f64::NAN; // a point of base row 1
        let got = indices(&y, 3, 50, 9).unwrap();
        assert_eq!(got.rows, 255);
        assert_eq!(indices(&y, 3, 50, 9).unwrap(), got);
        assert_ne!(indices(&y, 3, 50, 10).unwrap().s1_conf, got.s1_conf);
    }

    #[test]
    fn bad_shapes_and_constant_outputs_are_errors() {
        assert_eq!(indices(&[1.0; 7], 3, 10, 1), Err(SobolError::Shape { block: 5, found: 7 }));
        assert_eq!(indices(&[1.0; 10], 3, 10, 1), Err(SobolError::NoVariance { rows: 2 }));
    }
}
