//! Export-control regimes and their timeline: the scenario's `[policy]` compiled into
//! indexed regimes, a dated schedule and the Markov "policy pendulum".

use rand::Rng;
use rand_distr::{Distribution, Exp};

use crate::calendar::{Calendar, TICKS_PER_YEAR};
use crate::rng::Stream;
use crate::scenario::{Regime, Scenario};
use crate::sim::SimTime;

/// Name of the regime used when a scenario defines none: no restrictions at all.
pub const OPEN: &str = "open";

/// The regimes of a scenario, by index, and when they take force.
#[derive(Debug, Clone)]
pub struct PolicyBook {
    /// Regime names, sorted (the scenario's map order).
    pub names: Vec<String>,
    /// Regime rules, parallel to `names`.
    pub regimes: Vec<Regime>,
    /// Regime in force at tick 0.
    pub initial: usize,
    /// Dated switches after tick 0, in time order.
    pub scheduled: Vec<(SimTime, usize)>,
    /// Markov switching: when it starts and, per regime, its rule.
    pub switching: Option<(SimTime, Vec<Option<SwitchRule>>)>,
}

/// Compiled `[policy.switching.regimes.<name>]`.
#[derive(Debug, Clone)]
pub struct SwitchRule {
    /// Mean dwell time [years].
    pub mean_dwell_years: f64,
    /// Next-regime indices with their cumulative weights.
    pub to: Vec<(usize, f64)>,
}

impl PolicyBook {
    /// Compile a validated scenario's policy.
    pub fn new(s: &Scenario, cal: &Calendar) -> PolicyBook {
        let (names, regimes): (Vec<String>, Vec<Regime>) = if s.policy.regimes.is_empty() {
            (vec![OPEN.to_string()], vec![Regime::default()])
        } else {
            s.policy.regimes.iter().map(|(k, v)| (k.clone(), v.clone())).unzip()
        };
        let index = |name: &str| names.iter().position(|n| n == name).unwrap_or(0);
        let mut initial = s.policy.initial.as_deref().map_or(0, index);
        let mut scheduled = Vec::new();
        for entry in &s.policy.schedule {
            let at = cal.tick_of(entry.date);
            if entry.date <= s.scenario.start {
                initial = index(&entry.regime);
            } else {
                scheduled.push((at, index(&entry.regime)));
            }
        }
        let switching = s.policy.switching.as_ref().map(|sw| {
            let last = s.policy.schedule.last().map(|e| e.date).unwrap_or(s.scenario.start);
            let from = sw.from.unwrap_or(last).max(last);
            let rules = names
                .iter()
                .map(|name| {
                    sw.regimes.get(name).map(|rule| {
                        let mut acc = 0.0;
                        let to = rule
                            .to
                            .iter()
                            .map(|(target, w)| {
                                acc += w;
                                (index(target), acc)
                            })
                            .collect();
                        SwitchRule { mean_dwell_years: rule.mean_dwell_years, to }
                    })
                })
                .collect();
            (cal.tick_of(from), rules)
        });
        PolicyBook { names, regimes, initial, scheduled, switching }
    }

    /// Whether foreign chip `chip_id` with this TPP may be sold into China under regime `r`:
    /// at or below the TPP cap and not excluded by name.
    pub fn allows_foreign(&self, r: usize, chip_id: &str, tpp: f64) -> bool {
        let regime = &self.regimes[r];
        regime.foreign_max_tpp.is_none_or(|cap| tpp <= cap) && !regime.excluded_chips.iter().any(|c| c == chip_id)
    }

    /// Draw the next Markov switch out of regime `r` at `now`: (when, to which regime).
    /// `None` if `r` is absorbing.
    pub fn next_switch(&self, r: usize, now: SimTime, rng: &mut Stream) -> Option<(SimTime, usize)> {
        let (_, rules) = self.switching.as_ref()?;
        let rule = rules.get(r)?.as_ref()?;
        let total = rule.to.last()?.1;
        let dwell_years = Exp::new(1.0 / rule.mean_dwell_years).ok()?.sample(rng);
        let pick = rng.random::<f64>() * total;
        let to = rule.to.iter().find(|(_, acc)| pick < *acc).map_or(rule.to.last()?.0, |(i, _)| *i);
        let dt = (dwell_years * TICKS_PER_YEAR).round().clamp(1.0, 1e15) as u64;
        Some((now.saturating_add(dt), to))
    }
}

impl PolicyBook {
    /// The regime the dated schedule puts in force at `tick` (Markov switching aside).
    pub fn scheduled_at(&self, tick: SimTime) -> usize {
        self.scheduled.iter().take_while(|(at, _)| *at <= tick).last().map_or(self.initial, |(_, r)| *r)
    }
}
