//! Fuzz the sweep file: parse and check any text; a sweep that checks is bound to a small base
//! scenario (every point validated) and its resolved text must bind again to the same points.
#![no_main]

use chipmarket_engine::sweep::{Sweep, SweepSpec};
use libfuzzer_sys::fuzz_target;

/// The base every fuzzed sweep varies (a path base is replaced by it).
const BASE: &str = include_str!("../../crates/runner/tests/data/tiny.toml");

/// Larger designs are valid but too slow to expand at fuzzing speed.
const MAX_FUZZ_POINTS: u64 = 256;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = SweepSpec::from_toml_str(text) else { return };
    if spec.n_points() > MAX_FUZZ_POINTS {
        return;
    }
    let base = spec.base_inline_text().unwrap_or_else(|| BASE.to_string());
    let Ok(sweep) = Sweep::bind(spec, text, &[&base]) else { return };
    assert_eq!(sweep.points.len() as u64, sweep.spec.n_points());
    for p in 0..sweep.points.len() {
        sweep.scenario(p).unwrap_or_else(|e| panic!("point {p} was validated by bind but fails: {e}"));
    }
    let resolved = sweep.to_resolved_toml();
    let spec2 = SweepSpec::from_toml_str(&resolved)
        .unwrap_or_else(|e| panic!("the resolved sweep does not read back: {e}\n{resolved}"));
    let base2 = spec2.base_inline_text().expect("a resolved sweep has its base inline");
    let again = Sweep::bind(spec2, &resolved, &[&base2])
        .unwrap_or_else(|e| panic!("the resolved sweep does not bind: {e}\n{resolved}"));
    assert_eq!(again.points, sweep.points, "the resolved sweep has other points\n{resolved}");
});
