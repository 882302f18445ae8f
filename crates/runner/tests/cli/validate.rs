//! `chipmarket validate` and the messages for bad input.

use std::fs;

use crate::common::{chipmarket, fails_with, ok, scenario, show};

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = scenario("");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("baseline.toml")));
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    ok(tmp.path(), &args);
}

#[test]
fn an_unknown_key_names_its_place_and_the_nearest_key_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        fs::read_to_string(crate::common::data("tiny.toml")).unwrap().replace("ecosystem = 0.9", "ecosystm = 0.9");
    fs::write(tmp.path().join("bad.toml"), &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("ecosystm")).unwrap() + 1;
    let out = fails_with(tmp.path(), &["run", "bad.toml", "--out", "out"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("bad.toml:{line}:1:")), "{}", show(&["run"], tmp.path(), &out));
    assert!(err.contains("firms.usa.ecosystm"), "{err}");
    assert!(err.contains("did you mean \"ecosystem\""), "{err}");
    assert!(!tmp.path().join("out").exists(), "invalid input writes nothing");
    let _ = chipmarket;
}

#[test]
fn validate_checks_calibration_files_as_calibrations() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = scenario("calibration/baseline.toml");
    let out = ok(tmp.path(), &["validate", shipped.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("(calibration: "), "recognised as a calibration file: {said}");
    // A calibration file with a key of its own kind misspelt is refused with its place, not
    // read as a sweep file.
    let base = scenario("baseline.toml");
    let text = format!(
        "base = {:?}\nreplications = 2\nbudgt = 10\n[[free]]\npath = \"demand.growth_rate_per_year\"\nrange = [0.5, 0.9]\n",
        base.to_str().unwrap()
    );
    fs::write(tmp.path().join("cal.toml"), text).unwrap();
    let out = fails_with(tmp.path(), &["validate", "cal.toml"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid calibration") && err.contains("cal.toml:3:1"), "{err}");
}
