//! Scenario discovery with PRIM, the Patient Rule Induction Method (Friedman and Fisher 1999):
//! find a box of the parameter space (a range per parameter) where a condition on a KPI holds
//! in most runs.
//!
//! Cases are weighted: a sweep point is one case whose weight is the number of its runs with a
//! value of the KPI, and whose hits are the runs meeting the condition. (The runs of a point
//! share its coordinates, so no box can split them; this is PRIM over the runs, in memory that
//! grows with points only.) For a box: `mass` = its weight / all weight, `density` = its hits /
//! its weight, `coverage` = its hits / all hits.
//!
//! **Peeling.** From the box holding everything, each step considers, for every parameter, cutting
//! off the `alpha` share of the box's weight with the lowest values, or with the highest values
//! (whole groups of tied values: a box limit is a value), and takes the cut that leaves the
//! highest density (ties: the larger box, then the lower parameter index, lower side first). It
//! stops when no cut leaves at least `min_mass`. The boxes form the peeling trajectory.
//!
//! **Choice.** The chosen box is the one of the trajectory with the highest `coverage x density`
//! (the first on ties): it weighs how much of the condition's runs the box explains against how
//! pure it is. Small boxes of density 1 that cover few runs score low, and so does the whole
//! space.
//!
//! **Pasting.** The chosen box is then grown back: each step considers, for every parameter and
//! side, taking in the `alpha` share of the box's weight just outside that limit (cases inside
//! the box's other limits), and takes the one with the highest density (then the larger); it
//! stops when every paste would lower the density. A paste that keeps the density covers more
//! runs for free, so it is taken.

/// PRIM's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrimOptions {
    /// Share of the box's weight a peel or a paste moves. Default 0.05.
    pub alpha: f64,
    /// Smallest mass a peeled box may have. Default 0.05.
    pub min_mass: f64,
}

impl Default for PrimOptions {
    fn default() -> Self {
        PrimOptions { alpha: 0.05, min_mass: 0.05 }
    }
}

/// A box: inclusive limits per parameter and its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimBox {
    /// Lowest value of each parameter in the box.
    pub lo: Vec<f64>,
    /// Highest value of each parameter in the box.
    pub hi: Vec<f64>,
    /// Share of all hits inside the box.
    pub coverage: f64,
    /// Share of the box's weight that hits.
    pub density: f64,
    /// Share of all weight inside the box.
    pub mass: f64,
    /// Which parameters the box restricts (a limit inside the values the cases take).
    pub restricted: Vec<bool>,
}

/// The outcome of PRIM.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimResult {
    /// The peeling trajectory, from the whole space to the last box.
    pub peeling: Vec<PrimBox>,
    /// Index in `peeling` of the chosen box (highest coverage x density).
    pub chosen: usize,
    /// The chosen box after pasting.
    pub pasted: PrimBox,
}

/// Why PRIM cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrimError {
    /// No case has weight, or the columns disagree in length.
    #[error("no runs to analyse")]
    Empty,
    /// No run meets the condition.
    #[error("no run meets the condition, so there is no box to find")]
    NoHits,
}

struct Data<'a> {
    x: &'a [Vec<f64>],
    hits: &'a [f64],
    weight: &'a [f64],
    total_hits: f64,
    total_weight: f64,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Data<'_> {
    fn inside(&self, k: usize, lo: &[f64], hi: &[f64]) -> bool {
        self.x[k].iter().zip(lo.iter().zip(hi)).all(|(x, (l, h))| x >= l && x <= h)
    }

    fn make_box(&self, lo: Vec<f64>, hi: Vec<f64>) -> PrimBox {
        let (mut h, mut w) = (0.0, 0.0);
        for k in 0..self.x.len() {
            if self.inside(k, &lo, &hi) {
                h += self.hits[k];
                w += self.weight[k];
            }
        }
        let restricted = (0..lo.len()).map(|j| lo[j] > self.min[j] || hi[j] < self.max[j]).collect();
        PrimBox {
            coverage: h / self.total_hits,
            density: if w > 0.0 { h / w } else { 0.0 },
            mass: w / self.total_weight,
            lo,
            hi,
            restricted,
        }
    }

    /// The box after cutting `alpha` of the weight of `b` off parameter `j` from below or above.
    fn peel(&self, b: &PrimBox, j: usize, from_low: bool, alpha: f64) -> Option<PrimBox> {
        let mut cases: Vec<(f64, f64)> = (0..self.x.len())
            .filter(|&k| self.inside(k, &b.lo, &b.hi))
            .map(|k| (self.x[k][j], self.weight[k]))
            .collect();
        if from_low {
            cases.sort_by(|a, c| a.0.total_cmp(&c.0));
        } else {
            cases.sort_by(|a, c| c.0.total_cmp(&a.0));
        }
        let box_weight: f64 = cases.iter().map(|c| c.1).sum();
        let mut cut = 0.0;
        let mut k = 0;
        while k < cases.len() && cut < alpha * box_weight {
            let v = cases[k].0;
            while k < cases.len() && cases[k].0 == v {
                cut += cases[k].1;
                k += 1;
            }
        }
        let next = cases.get(k)?.0;
        let (mut lo, mut hi) = (b.lo.clone(), b.hi.clone());
        if from_low {
            lo[j] = next;
        } else {
            hi[j] = next;
        }
        Some(self.make_box(lo, hi))
    }

    /// The box after taking in `alpha` of the weight of `b` just outside its limit on `j`.
    fn paste(&self, b: &PrimBox, j: usize, below: bool, alpha: f64) -> Option<PrimBox> {
        let box_weight = b.mass * self.total_weight;
        let mut outside: Vec<(f64, f64)> = (0..self.x.len())
            .filter(|&k| {
                let x = self.x[k][j];
                (if below { x < b.lo[j] } else { x > b.hi[j] })
                    && (0..b.lo.len()).all(|i| i == j || (self.x[k][i] >= b.lo[i] && self.x[k][i] <= b.hi[i]))
            })
            .map(|k| (self.x[k][j], self.weight[k]))
            .collect();
        if below {
            outside.sort_by(|a, c| c.0.total_cmp(&a.0));
        } else {
            outside.sort_by(|a, c| a.0.total_cmp(&c.0));
        }
        let (mut added, mut k, mut last) = (0.0, 0, None);
        while k < outside.len() && added < alpha * box_weight {
            let v = outside[k].0;
            while k < outside.len() && outside[k].0 == v {
                added += outside[k].1;
                k += 1;
            }
            last = Some(v);
        }
        let v = last?;
        let (mut lo, mut hi) = (b.lo.clone(), b.hi.clone());
        if below {
            lo[j] = v;
        } else {
            hi[j] = v;
        }
        Some(self.make_box(lo, hi))
    }
}

/// Run PRIM on cases with coordinates `x` (one row per case), `hits` (runs meeting the
/// condition) and `weight` (runs with a value).
pub fn prim(x: &[Vec<f64>], hits: &[f64], weight: &[f64], options: PrimOptions) -> Result<PrimResult, PrimError> {
    let total_weight: f64 = weight.iter().sum();
    if x.is_empty() || x.len() != hits.len() || x.len() != weight.len() || total_weight.is_nan() || total_weight <= 0.0
    {
        return Err(PrimError::Empty);
    }
    let total_hits: f64 = hits.iter().sum();
    if total_hits.is_nan() || total_hits <= 0.0 {
        return Err(PrimError::NoHits);
    }
    let d = x[0].len();
    let min: Vec<f64> = (0..d).map(|j| x.iter().map(|r| r[j]).fold(f64::INFINITY, f64::min)).collect();
    let max: Vec<f64> = (0..d).map(|j| x.iter().map(|r| r[j]).fold(f64::NEG_INFINITY, f64::max)).collect();
    let data = Data { x, hits, weight, total_hits, total_weight, min: min.clone(), max: max.clone() };
    let mut peeling = vec![data.make_box(min, max)];
    loop {
        let current = peeling.last().expect("the whole space is the first box");
        let mut best: Option<PrimBox> = None;
        for j in 0..d {
            for from_low in [true, false] {
                let Some(b) = data.peel(current, j, from_low, options.alpha) else { continue };
                if b.mass < options.min_mass {
                    continue;
                }
                let better = best.as_ref().is_none_or(|c| (b.density, b.mass) > (c.density, c.mass));
                if better {
                    best = Some(b);
                }
            }
        }
        match best {
            Some(b) => peeling.push(b),
            None => break,
        }
    }
    let score = |b: &PrimBox| b.coverage * b.density;
    let mut chosen = 0;
    for (i, b) in peeling.iter().enumerate() {
        if score(b) > score(&peeling[chosen]) {
            chosen = i;
        }
    }
    let pasted = paste_all(&data, peeling[chosen].clone(), options.alpha);
    Ok(PrimResult { peeling, chosen, pasted })
}

/// Paste `b` until every paste would lower its density.
fn paste_all(data: &Data, mut b: PrimBox, alpha: f64) -> PrimBox {
    loop {
        let mut best: Option<PrimBox> = None;
        for j in 0..b.lo.len() {
            for below in [true, false] {
                let Some(c) = data.paste(&b, j, below, alpha) else { continue };
                let better = match &best {
                    None => c.density >= b.density,
                    Some(o) => (c.density, c.mass) > (o.density, o.mass),
                };
                if better {
                    best = Some(c);
                }
            }
        }
        match best {
            Some(c) => b = c,
            None => return b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;
    use rand::Rng;

    #[test]
    fn a_known_box_is_found() {
        // 3 parameters; the condition holds in x0 > 0.6 and x1 < 0.4 (x2 does not matter), with
        // 2 % of the labels flipped (so the true box covers about 90 % of the hits). Points carry
        // 1 to 4 runs each.
        let mut rng = stream(42, 0, "test");
        let n = 3000;
        let x: Vec<Vec<f64>> = (0..n).map(|_| (0..3).map(|_| rng.random::<f64>()).collect()).collect();
        let weight: Vec<f64> = (0..n).map(|_| f64::from(rng.random_range(1..=4))).collect();
        let hits: Vec<f64> = x
            .iter()
            .zip(&weight)
            .map(|(r, w)| {
                let inside = r[0] > 0.6 && r[1] < 0.4;
                let flip = rng.random::<f64>() < 0.02;
                if inside != flip {
                    *w
                } else {
                    0.0
                }
            })
            .collect();
        let got = prim(&x, &hits, &weight, PrimOptions::default()).unwrap();
        let b = &got.pasted;
        assert!(b.coverage > 0.8 && b.density > 0.8, "{b:?}");
        assert_eq!(b.restricted, vec![true, true, false], "{b:?}");
        assert!((b.lo[0] - 0.6).abs() < 0.05 && (b.hi[1] - 0.4).abs() < 0.05, "{b:?}");
        let c = &got.peeling[got.chosen];
        assert!(c.coverage > 0.8 && c.density > 0.8, "{c:?}");
        // The trajectory starts with everything and only shrinks.
        assert_eq!((got.peeling[0].mass, got.peeling[0].coverage), (1.0, 1.0));
        assert!(got.peeling.windows(2).all(|w| w[1].mass < w[0].mass));
        assert!(got.peeling.last().unwrap().mass >= 0.05);
    }

    #[test]
    fn peeling_cuts_whole_ties_and_stops_at_the_minimum_mass() {
        // One parameter taking 20 values, 5 cases each; the condition holds for x >= 10.
        let x: Vec<Vec<f64>> = (0..100).map(|i| vec![f64::from(i / 5)]).collect();
        let hits: Vec<f64> = (0..100).map(|i| if i / 5 >= 10 { 1.0 } else { 0.0 }).collect();
        let got = prim(&x, &hits, &[1.0; 100], PrimOptions::default()).unwrap();
        for b in &got.peeling {
            let kept = b.mass * 100.0;
            assert!((kept - 5.0 * (b.hi[0] - b.lo[0] + 1.0)).abs() < 1e-9, "whole ties: {b:?}");
        }
        assert!(got.peeling.last().unwrap().mass >= 0.05);
        let c = &got.peeling[got.chosen];
        assert_eq!((c.lo[0], c.hi[0], c.coverage, c.density), (10.0, 19.0, 1.0, 1.0), "{c:?}");
    }

    #[test]
    fn pasting_takes_back_what_peeling_cut_too_far() {
        // The condition holds for x >= 0.5; a box cut to [0.7, 0.99] is grown back toward 0.5
        // (the pastes keep density 1) and stops when the next paste of 5 % of the box's weight
        // would take in a case below 0.5.
        let x: Vec<Vec<f64>> = (0..100).map(|i| vec![f64::from(i) / 100.0]).collect();
        let hits: Vec<f64> = (0..100).map(|i| if i >= 50 { 1.0 } else { 0.0 }).collect();
        let weight = [1.0; 100];
        let data = Data {
            x: &x,
            hits: &hits,
            weight: &weight,
            total_hits: 50.0,
            total_weight: 100.0,
            min: vec![0.0],
            max: vec![0.99],
        };
        let tight = data.make_box(vec![0.7], vec![0.99]);
        assert_eq!((tight.coverage, tight.density), (0.6, 1.0));
        let pasted = paste_all(&data, tight, 0.05);
        assert_eq!((pasted.lo[0], pasted.hi[0], pasted.density), (0.52, 0.99, 1.0), "{pasted:?}");
        assert!((pasted.coverage - 0.96).abs() < 1e-12, "{pasted:?}");
    }

    #[test]
    fn no_hits_is_an_error() {
        assert_eq!(prim(&[vec![0.0]], &[0.0], &[1.0], PrimOptions::default()), Err(PrimError::NoHits));
        assert_eq!(prim(&[], &[], &[], PrimOptions::default()), Err(PrimError::Empty));
    }
}
