//! Fuzz the scenario file: parse and validate any text; a scenario that validates must write
//! a resolved text (`to_toml_string`, what `scenario.resolved.toml` holds) that reads back to
//! the same scenario (display names filled in, as the resolved text shows them) and writes the
//! same text again.
#![no_main]

use chipmarket_engine::Scenario;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::with_names;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scenario) = Scenario::from_toml_str(text) else { return };
    let resolved = scenario.to_toml_string();
    let again = Scenario::from_toml_str(&resolved)
        .unwrap_or_else(|e| panic!("the resolved scenario does not read back: {e}\n{resolved}"));
    assert_eq!(again, with_names(scenario), "the resolved scenario reads back to another scenario\n{resolved}");
    assert_eq!(again.to_toml_string(), resolved, "resolving twice gives another text");
});
