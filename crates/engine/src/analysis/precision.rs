//! Replications until precise: the 95 % half-width of a mean, and the stopping rule of
//! `chipmarket run --replications auto` with `[scenario.precision]`
//! ([`crate::scenario::Precision`]).
//!
//! Replications run in batches of `batch`. After each batch, every named KPI's half-width
//! `t(0.975, n - 1) x sd / sqrt(n)` over its values so far (runs without a value are left out)
//! is compared with the target: precise when it is at most `absolute_half_width`, or at most
//! `relative_half_width x |mean|`. The runs stop when at least `min_replications` are done
//! and every KPI is precise, or at `max_replications`. The decision depends only on the values
//! of replications 0 .. n - 1, which depend only on the seed, so the same seed stops at the
//! same count whatever the number of threads.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::scenario::Precision;

/// The 95 % confidence half-width of the mean of `values` (Student t, n - 1 degrees of
/// freedom); `None` below two values.
pub fn half_width(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?.inverse_cdf(0.975);
    Some(t * super::sample_sd(values) / (n as f64).sqrt())
}

/// Where one KPI stands.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiPrecision {
    /// The KPI's name.
    pub kpi: String,
    /// Replications with a value.
    pub n: usize,
    /// Mean of the values (NaN without any).
    pub mean: f64,
    /// 95 % half-width of the mean (NaN below two values).
    pub half_width: f64,
    /// The half-width it must reach: the larger of the absolute target and the relative one
    /// times |mean|.
    pub target: f64,
    /// Whether `half_width <= target`.
    pub precise: bool,
}

/// Assess each KPI of `p.kpis`, given its values so far (`values(name)`, in replication order).
pub fn assess<'a>(p: &Precision, mut values: impl FnMut(&str) -> &'a [f64]) -> Vec<KpiPrecision> {
    p.kpis
        .iter()
        .map(|kpi| {
            let v = values(kpi);
            let n = v.len();
            let mean = if n == 0 { f64::NAN } else { v.iter().sum::<f64>() / n as f64 };
            let hw = half_width(v).unwrap_or(f64::NAN);
            let relative = p.relative_half_width.map_or(f64::NEG_INFINITY, |r| r * mean.abs());
            let absolute = p.absolute_half_width.unwrap_or(f64::NEG_INFINITY);
            let target = relative.max(absolute);
            KpiPrecision { kpi: kpi.clone(), n, mean, half_width: hw, target, precise: hw <= target }
        })
        .collect()
}

/// How many replications to run next after `done` of them, given the assessment of the KPIs;
/// 0 means stop. The first batches bring the count to `min_replications`.
pub fn next_batch(p: &Precision, done: u32, assessed: &[KpiPrecision]) -> u32 {
    if done >= p.max_replications {
        return 0;
    }
    if done >= p.min_replications && assessed.iter().all(|k| k.precise) {
        return 0;
    }
    let want = if done < p.min_replications { (p.min_replications - done).max(p.batch) } else { p.batch };
    want.min(p.max_replications - done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn precision(rel: Option<f64>, abs: Option<f64>) -> Precision {
        Precision {
            kpis: vec!["k".into()],
            relative_half_width: rel,
            absolute_half_width: abs,
            batch: 5,
            min_replications: 10,
            max_replications: 40,
        }
    }

    #[test]
    fn the_half_width_uses_student_t() {
        // n = 4: t(0.975, 3) = 3.182446; sd of 1..4 = 1.290994; sqrt(4) = 2.
        let hw = half_width(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((hw - 3.182_446_305 * 1.290_994_449 / 2.0).abs() < 1e-6, "{hw}");
        assert_eq!(half_width(&[1.0]), None);
        // Large n tends to the normal quantile.
        let many: Vec<f64> = (0..10_000).map(|i| f64::from(i % 2)).collect();
        let z = half_width(&many).unwrap() / (super::super::sample_sd(&many) / 100.0);
        assert!((z - 1.96).abs() < 0.001, "{z}");
    }

    #[test]
    fn batches_run_to_the_minimum_then_until_precise_or_the_maximum() {
        let p = precision(Some(0.01), None);
        let noisy: Vec<f64> = (0..40).map(|i| if i % 2 == 0 { 1.0 } else { 3.0 }).collect();
        let steady = vec![2.0; 40];
        let check = |v: &[f64], done: u32| next_batch(&p, done, &assess(&p, |_| &v[..done as usize]));
        assert_eq!(check(&steady, 0), 10, "first up to the minimum");
        assert_eq!(check(&steady, 10), 0, "no spread: precise at the minimum");
        assert_eq!(check(&noisy, 10), 5, "then in batches");
        assert_eq!(check(&noisy, 35), 5);
        assert_eq!(check(&noisy, 40), 0, "never past the maximum");
        let assessed = assess(&p, |_| &noisy[..20]);
        assert!(!assessed[0].precise && (assessed[0].mean - 2.0).abs() < 1e-12);
        assert!((assessed[0].target - 0.02).abs() < 1e-12);
    }

    #[test]
    fn either_target_suffices_and_missing_values_are_never_precise() {
        let v: Vec<f64> = (0..20).map(|i| f64::from(i % 2)).collect();
        let hw = half_width(&v).unwrap();
        let p = precision(Some(0.0001), Some(hw * 1.01));
        assert!(assess(&p, |_| &v).iter().all(|k| k.precise));
        let p = precision(Some(0.0001), Some(hw * 0.99));
        assert!(!assess(&p, |_| &v)[0].precise);
        assert!(!assess(&p, |_| &[])[0].precise);
    }
}
