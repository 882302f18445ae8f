//! Fuzz the targets file (`fit::parse_targets`): any text is refused with a placed error
//! (line and column from 1) or gives targets with unique ids, bands that hold their values,
//! periods that read back from their labels and places (line, scope line and column) that point
//! at their record and `firm` cell, and that read back unchanged from a targets file
//! written from them. Valid targets are bound to the tiny test scenario's catalogue (and to an
//! undated one) and evaluated on fixed flows without panicking.
#![no_main]

use std::sync::OnceLock;

use chipmarket_engine::calendar::Quarter;
use chipmarket_engine::fit::{self, ScenarioIds, Flow, Period, RepFlows, Scope, Target, REQUIRED_COLUMNS};
use chipmarket_engine::Scenario;
use libfuzzer_sys::fuzz_target;

/// The scenario whose firm and chip ids the scopes are checked against.
const TINY: &str = include_str!("../../crates/runner/tests/data/tiny.toml");

/// The tiny scenario's catalogue (firms `dom`, `usa`; chips `dom_1`, `usa_1`; 2024 and 2025).
fn catalogue() -> &'static ScenarioIds {
    static CAT: OnceLock<ScenarioIds> = OnceLock::new();
    CAT.get_or_init(|| ScenarioIds::of_scenario(&Scenario::from_toml_str(TINY).expect("the tiny scenario is valid")))
}

/// Three replications of quarterly flows from 2021 to 2026, every firm and chip.
fn replications() -> &'static [RepFlows] {
    static REPS: OnceLock<Vec<RepFlows>> = OnceLock::new();
    REPS.get_or_init(|| {
        (0..3)
            .map(|r| {
                let flows = |n: usize| -> Vec<Flow> {
                    (2021..=2026)
                        .flat_map(|year| (1..=4).map(move |q| Quarter { year, q }))
                        .flat_map(|quarter| {
                            (0..n).map(move |index| {
                                let units = ((r + 1) * (index + 2) * usize::from(quarter.q)) as f64 * 100.0;
                                Flow { quarter, index, units, revenue: units * 7000.0, writeoff: units }
                            })
                        })
                        .collect()
                };
                RepFlows { firms: flows(2), chips: flows(2) }
            })
            .collect()
    })
}

/// The lines of a text as csv ends records: at `\n`, `\r\n` or a lone `\r`.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').flat_map(|l| l.strip_suffix('\r').unwrap_or(l).split('\r'))
}

/// What a target says, without where it was written.
fn content(t: &Target) -> (&str, &Period, fit::Metric, &str, f64, f64, f64) {
    (&t.id, &t.period, t.metric, &t.scope, t.observed, t.low, t.high)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let targets = match fit::parse_targets(text) {
        Ok(t) => t,
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "an error without a place: {e:?}");
            return;
        }
    };
    assert!(!targets.is_empty());
    for (i, t) in targets.iter().enumerate() {
        assert!(!t.id.is_empty() && !t.scope.is_empty(), "{t:?}");
        assert!(targets[..i].iter().all(|u| u.id != t.id), "id {} twice", t.id);
        assert!(t.low.is_finite() && t.high.is_finite() && t.observed.is_finite(), "{t:?}");
        assert!(t.low <= t.observed && t.observed <= t.high, "{t:?}");
        assert_eq!(Period::parse(&t.period.label).as_ref(), Some(&t.period), "{t:?}");
        assert!(t.line >= 2 && t.scope_column >= 1, "{t:?}");
        // The places point at the record and at its `firm` cell (quoted cells are not compared).
        let line_at = |n: usize| lines(text).nth(n - 1).unwrap_or_else(|| panic!("{t:?}: no line {n}"));
        let record = line_at(t.line);
        assert!(record.contains('"') || record.contains(t.id.as_str()), "{t:?} is not on line {}", t.line);
        let cell: String = line_at(t.scope_line).chars().skip(t.scope_column - 1).collect();
        assert!(cell.starts_with('"') || cell.trim_start().starts_with(t.scope.as_str()), "{t:?}: {cell:?}");
    }

    // Written back as a targets file, they read back the same.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(REQUIRED_COLUMNS).expect("writing to memory");
    for t in &targets {
        let nums = [t.observed, t.low, t.high].map(|x| x.to_string());
        let cells = [&t.id, &t.period.label, t.metric.as_str(), &t.scope, &nums[0], &nums[1], &nums[2]];
        w.write_record(cells).expect("writing to memory");
    }
    let written = String::from_utf8(w.into_inner().expect("writing to memory")).expect("UTF-8 in, UTF-8 out");
    let again = fit::parse_targets(&written)
        .unwrap_or_else(|e| panic!("targets written back do not read back: {e}\n{written}"));
    assert_eq!(again.len(), targets.len(), "{written}");
    for (a, t) in again.iter().zip(&targets) {
        assert_eq!(content(a), content(t), "{written}");
    }

    let undated = ScenarioIds { start: None, end: None, ..catalogue().clone() };
    for cat in [catalogue(), &undated] {
        let Ok(scopes) = fit::bind(&targets, cat) else { continue };
        assert_eq!(scopes.len(), targets.len());
        for s in &scopes {
            match *s {
                Scope::Firm(i) => assert!(i < cat.firms.len()),
                Scope::Chip(i) => assert!(i < cat.chips.len()),
                _ => {}
            }
        }
        let fits = fit::evaluate(&targets, &scopes, cat, &fit::Observer { lag_weights: fit::lag_weights(0.7, 0.4), excluded: vec![] }, replications());
        assert_eq!(fits.len(), targets.len());
        for (f, t) in fits.iter().zip(&targets) {
            assert_eq!(f.values.len(), replications().len());
            assert!(f.values.iter().all(|v| v.is_finite() && *v >= 0.0), "{t:?}: {:?}", f.values);
            assert!(f.loss >= 0.0, "{t:?}: loss {}", f.loss);
            assert_eq!(f.inside, t.low <= f.mean && f.mean <= t.high);
        }
    }
});
