//! Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC, population Monte Carlo)
//! on the unit cube of a calibration's free parameters: priors, proposals, importance weights,
//! effective sample size and weighted quantiles. Pure; the runner evaluates the candidates.
//!
//! Reference followed: Beaumont, Cornuet, Marin and Robert (2009), "Adaptive approximate
//! Bayesian computation", Biometrika 96(4), the population Monte Carlo sampler: generation 0
//! draws from the prior; generation t draws a particle of generation t-1 by its weight and
//! moves it with a Gaussian kernel of twice the weighted variance of generation t-1 (per
//! coordinate), keeps it if its distance is at most the tolerance, and weighs it
//! `prior(u) / sum_j w_j K(u | u_j)`. The tolerance adapts as in Del Moral, Doucet and Jasra
//! (2012) and Drovandi and Pettitt (2011): a quantile of the previous generation's distances.
//! The distance is the calibration loss (`fit::loss_term` summed over targets).
//!
//! Determinism: candidate `i` of generation `t` is drawn from its own named stream
//! (`abc/<t>/<i>`), so a candidate never depends on how many threads evaluate the others.

use rand::Rng;
use rand_distr::{Beta, Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::rng;

/// A free parameter's prior, on the unit coordinate of its range (a log scale makes the
/// default log-uniform on the range).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Prior {
    /// Uniform on the unit coordinate: uniform, or log-uniform with `scale = "log"`. The default.
    #[default]
    Uniform,
    /// Normal on the unit coordinate, cut to [0, 1]: `mean` and `sd` as fractions of the range.
    Normal {
        /// Mean, as a fraction of the range (0 = low end).
        mean: f64,
        /// Standard deviation, as a fraction of the range (> 0).
        sd: f64,
    },
    /// Beta(`alpha`, `beta`) on the unit coordinate.
    Beta {
        /// First shape (> 0).
        alpha: f64,
        /// Second shape (> 0).
        beta: f64,
    },
}

impl Prior {
    /// Unnormalised density at unit coordinate `u` (0 outside [0, 1]).
    pub fn density(&self, u: f64) -> f64 {
        if !(0.0..=1.0).contains(&u) {
            return 0.0;
        }
        match *self {
            Prior::Uniform => 1.0,
            Prior::Normal { mean, sd } => (-0.5 * ((u - mean) / sd).powi(2)).exp(),
            Prior::Beta { alpha, beta } => {
                let u = u.clamp(1e-12, 1.0 - 1e-12);
                ((alpha - 1.0) * u.ln() + (beta - 1.0) * (1.0 - u).ln()).exp()
            }
        }
    }

    /// A draw on [0, 1].
    pub fn sample(&self, r: &mut rng::Stream) -> f64 {
        match *self {
            Prior::Uniform => r.random::<f64>(),
            Prior::Normal { mean, sd } => {
                for _ in 0..10_000 {
                    let z: f64 = StandardNormal.sample(r);
                    let u = mean + sd * z;
                    if (0.0..=1.0).contains(&u) {
                        return u;
                    }
                }
                mean.clamp(0.0, 1.0)
            }
            Prior::Beta { alpha, beta } => match Beta::new(alpha, beta) {
                Ok(b) => b.sample(r).clamp(0.0, 1.0),
                Err(_) => r.random::<f64>(),
            },
        }
    }

    /// Check the shape; the message names what was expected.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Prior::Uniform => Ok(()),
            Prior::Normal { mean, sd } => {
                if !(mean.is_finite() && sd.is_finite() && sd > 0.0) {
                    Err(format!("a normal prior needs a finite mean and sd > 0 (fractions of the range), found mean {mean}, sd {sd}"))
                } else {
                    Ok(())
                }
            }
            Prior::Beta { alpha, beta } => {
                if !(alpha.is_finite() && beta.is_finite() && alpha > 0.0 && beta > 0.0) {
                    Err(format!("a beta prior needs alpha > 0 and beta > 0, found {alpha}, {beta}"))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// One particle: its unit coordinates, weight (normalised over the population) and distance.
#[derive(Debug, Clone, PartialEq)]
pub struct Particle {
    /// Unit coordinates of the free parameters.
    pub u: Vec<f64>,
    /// Normalised importance weight.
    pub weight: f64,
    /// Its distance (the calibration loss).
    pub loss: f64,
}

/// The prior density of a point (product over coordinates).
pub fn prior_density(priors: &[Prior], u: &[f64]) -> f64 {
    priors.iter().zip(u).map(|(p, &x)| p.density(x)).product()
}

/// Per-coordinate standard deviations of the proposal kernel: the square root of twice the
/// weighted variance of the population (Beaumont et al. 2009), at least 1e-3.
pub fn kernel_sd(pop: &[Particle]) -> Vec<f64> {
    let d = pop.first().map_or(0, |p| p.u.len());
    (0..d)
        .map(|k| {
            let mean: f64 = pop.iter().map(|p| p.weight * p.u[k]).sum();
            let var: f64 = pop.iter().map(|p| p.weight * (p.u[k] - mean).powi(2)).sum();
            (2.0 * var).sqrt().max(1e-3)
        })
        .collect()
}

/// The stream of candidate `i` of generation `generation`.
pub fn candidate_stream(seed: u64, generation: u32, i: u64) -> rng::Stream {
    rng::stream(seed, generation, &format!("abc/{generation}/{i}"))
}

/// Candidate `i` of a generation: from the prior for generation 0, else a particle of `prev`
/// chosen by weight and moved by the Gaussian kernel, redrawn until its prior density is
/// positive (inside the cube).
pub fn propose(seed: u64, generation: u32, i: u64, priors: &[Prior], prev: &[Particle], sd: &[f64]) -> Vec<f64> {
    let mut r = candidate_stream(seed, generation, i);
    if generation == 0 || prev.is_empty() {
        return priors.iter().map(|p| p.sample(&mut r)).collect();
    }
    for _ in 0..10_000 {
        let pick: f64 = r.random::<f64>();
        let mut acc = 0.0;
        let mut j = prev.len() - 1;
        for (k, p) in prev.iter().enumerate() {
            acc += p.weight;
            if pick < acc {
                j = k;
                break;
            }
        }
        let u: Vec<f64> = prev[j]
            .u
            .iter()
            .zip(sd)
            .map(|(&x, &s)| {
                let z: f64 = StandardNormal.sample(&mut r);
                x + s * z
            })
            .collect();
        if prior_density(priors, &u) > 0.0 {
            return u;
        }
    }
    prev[0].u.clone()
}

/// Unnormalised importance weight of a new particle at `u`: `prior(u) / sum_j w_j K(u | u_j)`.
pub fn weight(u: &[f64], priors: &[Prior], prev: &[Particle], sd: &[f64]) -> f64 {
    if prev.is_empty() {
        return 1.0;
    }
    let mix: f64 = prev
        .iter()
        .map(|p| {
            let e: f64 = u.iter().zip(&p.u).zip(sd).map(|((a, b), s)| ((a - b) / s).powi(2)).sum();
            p.weight * (-0.5 * e).exp()
        })
        .sum();
    if mix > 0.0 {
        prior_density(priors, u) / mix
    } else {
        0.0
    }
}

/// Normalise weights to sum to 1 (uniform if they sum to 0).
pub fn normalise(pop: &mut [Particle]) {
    let total: f64 = pop.iter().map(|p| p.weight).sum();
    let n = pop.len() as f64;
    for p in pop.iter_mut() {
        p.weight = if total > 0.0 { p.weight / total } else { 1.0 / n };
    }
}

/// Effective sample size `(sum w)^2 / sum w^2`.
pub fn ess(weights: &[f64]) -> f64 {
    let s: f64 = weights.iter().sum();
    let s2: f64 = weights.iter().map(|w| w * w).sum();
    if s2 > 0.0 {
        s * s / s2
    } else {
        0.0
    }
}

/// Weighted quantile `q` of `values` (the smallest value whose cumulative weight reaches `q`).
pub fn weighted_quantile(values: &[f64], weights: &[f64], q: f64) -> f64 {
    let mut pairs: Vec<(f64, f64)> = values.iter().copied().zip(weights.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let mut acc = 0.0;
    for (v, w) in &pairs {
        acc += w;
        if acc >= q * total - 1e-12 {
            return *v;
        }
    }
    pairs.last().map_or(f64::NAN, |p| p.0)
}

/// The next tolerance: the `quantile` of the population's distances (unweighted, as Drovandi
/// and Pettitt 2011), never above the current one.
pub fn next_tolerance(pop: &[Particle], quantile: f64, current: f64) -> f64 {
    let mut d: Vec<f64> = pop.iter().map(|p| p.loss).collect();
    d.sort_by(f64::total_cmp);
    let eps = crate::fit::percentile(&d, quantile);
    eps.min(current)
}

/// Prior 5% and 95% quantiles on the unit coordinate (exact for the uniform, by 4000 draws
/// from a fixed stream otherwise).
pub fn prior_interval(prior: &Prior) -> (f64, f64) {
    match prior {
        Prior::Uniform => (0.05, 0.95),
        p => {
            let mut r = rng::stream(0, 0, "abc/prior-interval");
            let mut v: Vec<f64> = (0..4000).map(|_| p.sample(&mut r)).collect();
            v.sort_by(f64::total_cmp);
            (crate::fit::percentile(&v, 0.05), crate::fit::percentile(&v, 0.95))
        }
    }
}

/// Whether a posterior 90% interval `(lo, hi)` (unit coordinates) is no narrower than 80% of
/// the prior's: the data do not identify the parameter.
pub fn not_identified(post: (f64, f64), prior: (f64, f64)) -> bool {
    (post.1 - post.0) >= 0.8 * (prior.1 - prior.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_ess_and_quantiles() {
        assert_eq!(ess(&[0.25; 4]), 4.0);
        assert!((ess(&[1.0, 0.0, 0.0]) - 1.0).abs() < 1e-12);
        assert_eq!(weighted_quantile(&[3.0, 1.0, 2.0], &[1.0, 1.0, 1.0], 0.5), 2.0);
        assert_eq!(weighted_quantile(&[3.0, 1.0, 2.0], &[0.0, 0.0, 1.0], 0.05), 2.0);
        let mut pop =
            vec![Particle { u: vec![0.2], weight: 2.0, loss: 1.0 }, Particle { u: vec![0.4], weight: 2.0, loss: 3.0 }];
        normalise(&mut pop);
        assert_eq!(pop[0].weight, 0.5);
        assert!((kernel_sd(&pop)[0] - (2.0f64 * 0.01).sqrt()).abs() < 1e-12);
        assert_eq!(next_tolerance(&pop, 0.5, 10.0), 2.0);
        assert_eq!(next_tolerance(&pop, 0.5, 1.5), 1.5);
    }

    #[test]
    fn proposals_are_reproducible_stay_in_the_cube_and_follow_the_prior() {
        let priors = [Prior::Uniform, Prior::Beta { alpha: 2.0, beta: 5.0 }, Prior::Normal { mean: 0.9, sd: 0.1 }];
        let a = propose(3, 0, 7, &priors, &[], &[]);
        assert_eq!(a, propose(3, 0, 7, &priors, &[], &[]));
        assert_ne!(a, propose(3, 0, 8, &priors, &[], &[]));
        let draws: Vec<Vec<f64>> = (0..4000).map(|i| propose(1, 0, i, &priors, &[], &[])).collect();
        let mean = |k: usize| draws.iter().map(|u| u[k]).sum::<f64>() / draws.len() as f64;
        assert!((mean(0) - 0.5).abs() < 0.02);
        assert!((mean(1) - 2.0 / 7.0).abs() < 0.01, "{}", mean(1));
        assert!(draws.iter().all(|u| u.iter().all(|x| (0.0..=1.0).contains(x))));
        let prev = vec![Particle { u: vec![0.99, 0.5, 0.5], weight: 1.0, loss: 0.0 }];
        for i in 0..200 {
            let u = propose(1, 1, i, &priors, &prev, &[0.3, 0.3, 0.3]);
            assert!(u.iter().all(|x| (0.0..=1.0).contains(x)), "{u:?}");
        }
        // A new particle where the old population is dense weighs less than one where it is thin.
        let prev =
            vec![Particle { u: vec![0.5], weight: 0.9, loss: 0.0 }, Particle { u: vec![0.9], weight: 0.1, loss: 0.0 }];
        let p = [Prior::Uniform];
        assert!(weight(&[0.5], &p, &prev, &[0.1]) < weight(&[0.9], &p, &prev, &[0.1]));
    }

    #[test]
    fn identification_compares_interval_widths() {
        assert!(not_identified((0.05, 0.95), prior_interval(&Prior::Uniform)));
        assert!(!not_identified((0.4, 0.6), prior_interval(&Prior::Uniform)));
        let (lo, hi) = prior_interval(&Prior::Normal { mean: 0.5, sd: 0.1 });
        assert!((lo - (0.5 - 0.1645)).abs() < 0.02 && (hi - (0.5 + 0.1645)).abs() < 0.02, "{lo} {hi}");
    }
}
