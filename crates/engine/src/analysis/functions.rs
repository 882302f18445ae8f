//! Analytic test functions of sensitivity analysis, on the unit hypercube, with their exact
//! indices: what the estimators are checked against (`docs/analysis.md`).

use std::f64::consts::PI;

/// The Ishigami function with a = 7, b = 0.1, of unit coordinates mapped to [-pi, pi]:
/// `sin x1 + a sin^2 x2 + b x3^4 sin x1`.
pub fn ishigami(u: &[f64]) -> f64 {
    let x: Vec<f64> = u.iter().map(|u| -PI + 2.0 * PI * u).collect();
    x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
}

/// Exact first-order indices of [`ishigami`] (a = 7, b = 0.1).
pub const ISHIGAMI_S1: [f64; 3] = [0.3139, 0.4424, 0.0];
/// Exact total indices of [`ishigami`] (a = 7, b = 0.1).
pub const ISHIGAMI_ST: [f64; 3] = [0.5576, 0.4424, 0.2437];

/// Sobol's G function `prod (|4 u_i - 2| + a_i) / (1 + a_i)`: factor i matters less as a_i grows.
pub fn g_function(u: &[f64], a: &[f64]) -> f64 {
    u.iter().zip(a).map(|(u, a)| ((4.0 * u - 2.0).abs() + a) / (1.0 + a)).product()
}

/// Exact first-order and total indices of [`g_function`] with coefficients `a`.
pub fn g_indices(a: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let vi: Vec<f64> = a.iter().map(|a| 1.0 / (3.0 * (1.0 + a) * (1.0 + a))).collect();
    let total: f64 = vi.iter().map(|v| 1.0 + v).product::<f64>() - 1.0;
    let s1 = vi.iter().map(|v| v / total).collect();
    let st = vi.iter().map(|v| v * (vi.iter().map(|w| 1.0 + w).product::<f64>() / (1.0 + v)) / total).collect();
    (s1, st)
}
