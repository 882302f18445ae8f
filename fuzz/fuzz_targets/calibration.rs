//! Fuzz the calibration file: parse and check any text (`CalibrationSpec::from_toml_str`); a
//! file that checks reads back from its own serialisation (what `chipmarket calibrate` records)
//! and is bound to the tiny test scenario (`Calibration::bind`). A bound calibration maps the
//! unit cube into its ranges, and the `calibrated.toml` layer it writes for a point, merged
//! over the base, gives the same scenario as the point itself.
#![no_main]

use std::sync::OnceLock;

use chipmarket_engine::calibration::{Calibration, CalibrationSpec};
use chipmarket_engine::fit::{self, Target};
use chipmarket_engine::Scenario;
use libfuzzer_sys::fuzz_target;

/// The base every fuzzed calibration fits (whatever its `base` says).
const BASE: &str = include_str!("../../crates/runner/tests/data/tiny.toml");

/// The project's targets, for `check_until`.
fn targets() -> &'static [Target] {
    static TARGETS: OnceLock<Vec<Target>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        fit::parse_targets(include_str!("../../data/observed_2022_2024.csv")).expect("the project's targets parse")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let spec = match CalibrationSpec::from_toml_str(text) {
        Ok(spec) => spec,
        Err(e) => {
            if let Some((line, column)) = e.line_col {
                assert!(line >= 1 && column >= 1, "{e}");
            }
            return;
        }
    };
    let written = toml::to_string(&spec).expect("a checked calibration serialises");
    let again = CalibrationSpec::from_toml_str(&written)
        .unwrap_or_else(|e| panic!("the written calibration does not read back: {e}\n{written}"));
    assert_eq!(again, spec, "the written calibration reads back to another one\n{written}");
    assert!(spec.screening() >= 1 && spec.screening() <= spec.budget);

    let Ok(cal) = Calibration::bind(spec, text, &[BASE]) else { return };
    let _ = cal.check_until(targets(), text);
    let n = cal.spec.free.len();
    for u in [0.0, 0.5, 1.0] {
        let values = cal.values_at(&vec![u; n]);
        for (f, v) in cal.spec.free.iter().zip(&values) {
            let x = v.as_float().or(v.as_integer().map(|i| i as f64)).expect("a number");
            let (lo, hi) = (f.range[0], f.range[1]);
            // Whole-number paths are rounded, so they may fall on the nearest whole number.
            let (lo, hi) = if v.is_integer() { (lo.round(), hi.round()) } else { (lo, hi) };
            assert!(x.is_finite() && lo <= x && x <= hi, "{}: {x} outside [{lo}, {hi}] at u = {u}", f.path);
        }
        let Ok(point) = cal.sweep.scenario_at(&values) else { continue };
        let cut = cal.scenario_at(&values).expect("the point is valid, so is its cut");
        assert!(cut.scenario.horizon_years <= point.scenario.horizon_years);
        let layer = cal.layer_toml(&values, "tiny.toml", &["fuzz".to_string()]);
        let merged = Scenario::from_layers(&[BASE, &layer], &[])
            .unwrap_or_else(|e| panic!("the calibrated layer does not merge: {e}\n{layer}"));
        assert_eq!(merged, point, "the calibrated layer gives another scenario\n{layer}");
    }
});
