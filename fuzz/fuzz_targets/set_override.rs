//! Fuzz `--set PATH=VALUE`: any argument applied to the tiny test scenario either is refused
//! with an error or gives a valid scenario whose resolved text reads back to it. (The tiny
//! scenario rather than the baseline: the same parser and merge at a hundred times the speed.)
#![no_main]

use chipmarket_engine::scenario::parse_override;
use chipmarket_engine::Scenario;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::with_names;

const BASE: &str = include_str!("../../crates/runner/tests/data/tiny.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(arg) = std::str::from_utf8(data) else { return };
    // Several overrides, one per line, as repeated `--set` flags.
    let Ok(overrides) = arg.lines().map(parse_override).collect::<Result<Vec<_>, _>>() else { return };
    let Ok(scenario) = Scenario::from_layers(&[BASE], &overrides) else { return };
    let resolved = scenario.to_toml_string();
    let again = Scenario::from_toml_str(&resolved)
        .unwrap_or_else(|e| panic!("the resolved scenario does not read back: {e}\n{resolved}"));
    assert_eq!(again, with_names(scenario), "the resolved scenario reads back to another scenario");
    assert_eq!(again.to_toml_string(), resolved, "resolving twice gives another text");
});
