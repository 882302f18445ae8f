//! National demand for AI compute: an S-curve of installed compute (logistic or Bass)
//! plus straight-line replacement, the rising inference share, and the minimum per-chip
//! performance of training tenders. Pure functions of time in years since `start`.

use crate::scenario::{Demand, DemandModel};

/// Demand curves of one scenario.
#[derive(Debug, Clone)]
pub struct DemandCurve {
    d: Demand,
    /// Years from start to the inference-share midpoint.
    inference_mid_years: f64,
    /// The inference logistic at the start (see [`DemandCurve::inference_share`]).
    inference_l0: f64,
}

impl DemandCurve {
    /// Curves for `demand`; `inference_mid_years` is the midpoint in years from start.
    pub fn new(d: &Demand, inference_mid_years: f64) -> DemandCurve {
        let mut curve = DemandCurve { d: d.clone(), inference_mid_years, inference_l0: 0.0 };
        curve.inference_l0 = curve.inference_logistic(0.0);
        curve
    }

    /// The logistic of the inference share at `t` years, before it is rescaled to run from
    /// the start share to the end share.
    fn inference_logistic(&self, t: f64) -> f64 {
        let k = self.d.inference_steepness_per_year;
        1.0 / (1.0 + (-k * (t - self.inference_mid_years)).exp())
    }

    /// Installed compute at `t` years [PFLOPS].
    ///
    /// Logistic: `K / (1 + (K - I0) / I0 * exp(-r t))`, so that `I(0) = I0`.
    /// Bass: `I0 + (K - I0) F(t)` with `F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t})`.
    pub fn installed(&self, t: f64) -> f64 {
        let (i0, k) = (self.d.installed_start_pflops, self.d.saturation_pflops);
        match self.d.model {
            DemandModel::Logistic => k / (1.0 + (k - i0) / i0 * (-self.d.growth_rate_per_year * t).exp()),
            DemandModel::Bass => {
                let (p, q) = (self.d.bass_innovation, self.d.bass_imitation);
                let e = (-(p + q) * t).exp();
                i0 + (k - i0) * (1.0 - e) / (1.0 + q / p * e)
            }
        }
    }

    /// Rate of demand for new compute at `t` [PFLOPS/year]: growth of the installed base
    /// plus replacement of `installed / depreciation_years`.
    pub fn rate(&self, t: f64) -> f64 {
        let (i0, k) = (self.d.installed_start_pflops, self.d.saturation_pflops);
        let installed = self.installed(t);
        let growth = match self.d.model {
            DemandModel::Logistic => self.d.growth_rate_per_year * installed * (1.0 - installed / k),
            DemandModel::Bass => {
                let (p, q) = (self.d.bass_innovation, self.d.bass_imitation);
                let e = (-(p + q) * t).exp();
                (k - i0) * (p + q).powi(2) / p * e / (1.0 + q / p * e).powi(2)
            }
        };
        growth.max(0.0) + installed / self.d.depreciation_years
    }

    /// Demand for new compute between `t0` and `t1` years [PFLOPS] (Simpson's rule).
    pub fn between(&self, t0: f64, t1: f64) -> f64 {
        if t1 <= t0 {
            return 0.0;
        }
        let mid = 0.5 * (t0 + t1);
        (t1 - t0) / 6.0 * (self.rate(t0) + 4.0 * self.rate(mid) + self.rate(t1))
    }

    /// Share of demand that is inference at `t`: a logistic from `inference_share_start`
    /// (exactly, at t = 0) toward `inference_share_end`.
    pub fn inference_share(&self, t: f64) -> f64 {
        let l0 = self.inference_l0;
        let frac = if l0 < 1.0 { ((self.inference_logistic(t) - l0) / (1.0 - l0)).clamp(0.0, 1.0) } else { 1.0 };
        let (s0, s1) = (self.d.inference_share_start, self.d.inference_share_end);
        (s0 + (s1 - s0) * frac).clamp(0.0, 1.0)
    }

    /// Minimum per-chip performance of a training tender at `t` [TFLOPS].
    pub fn training_min_tflops(&self, t: f64) -> f64 {
        self.d.training_min_tflops * (1.0 + self.d.training_min_growth_per_year).powf(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(model: DemandModel) -> Demand {
        let mut d: Demand = toml::from_str("installed_start_pflops = 100.0\nsaturation_pflops = 10000.0").unwrap();
        d.model = model;
        d
    }

    #[test]
    fn s_curves_start_at_the_installed_base_and_saturate() {
        for model in [DemandModel::Logistic, DemandModel::Bass] {
            let c = DemandCurve::new(&demand(model), 5.0);
            assert!((c.installed(0.0) - 100.0).abs() < 1e-9, "{model:?}");
            assert!(c.installed(100.0) > 9_900.0, "{model:?}");
            let mut prev = 0.0;
            for y in 0..40 {
                let i = c.installed(f64::from(y));
                assert!(i >= prev, "{model:?} falls at {y}");
                prev = i;
            }
        }
    }

    #[test]
    fn demand_integrates_its_rate() {
        let c = DemandCurve::new(&demand(DemandModel::Logistic), 5.0);
        // Growth part of demand over a year equals the change in installed base.
        let total: f64 = (0..100).map(|i| c.between(f64::from(i) / 100.0, f64::from(i + 1) / 100.0)).sum();
        let replacement: f64 = (0..100).map(|i| c.installed((f64::from(i) + 0.5) / 100.0) / 5.0 / 100.0).sum();
        let growth = c.installed(1.0) - c.installed(0.0);
        assert!((total - replacement - growth).abs() / growth < 1e-3);
    }

    #[test]
    fn inference_share_rises_from_start_to_end() {
        let c = DemandCurve::new(&demand(DemandModel::Logistic), 5.0);
        assert!((c.inference_share(0.0) - 0.3).abs() < 1e-12);
        assert!(c.inference_share(5.0) > 0.3 && c.inference_share(5.0) < 0.8);
        assert!((c.inference_share(60.0) - 0.8).abs() < 1e-6);
    }
}
