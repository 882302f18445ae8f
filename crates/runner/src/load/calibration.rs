//! Reading a calibration file: parsed, bound to its base scenario and its targets.

use std::path::{Path, PathBuf};

use chipmarket_engine::calibration::{Calibration, CalibrationSpec};
use chipmarket_engine::fit::{self, ScenarioIds, Scope, Target};
use chipmarket_engine::scenario::{KeyPath, Scenario, ScenarioError};
use chipmarket_engine::sweep::SweepSpec;

use crate::error::InputError;
use crate::load;
use crate::targets;

/// Render a calibration-file error: `file:line:column: path: message`.
pub fn describe(source: &str, err: &ScenarioError) -> InputError {
    InputError::scenario("calibration", source, err)
}

/// A calibration file read and checked: its parameters, targets and catalogue.
pub struct Loaded {
    pub cal: Calibration,
    pub targets: Vec<Target>,
    pub scopes: Vec<Scope>,
    pub cat: ScenarioIds,
    /// Text that identifies the calibration (for `--resume`).
    pub identity: String,
    /// The base scenario's path.
    pub base_path: PathBuf,
}

/// Check a calibration file against its base and targets (for `chipmarket validate`):
/// returns the number of free parameters and of targets.
pub(crate) fn check(path: &Path) -> Result<(usize, usize), InputError> {
    load(path).map(|l| (l.cal.spec.free.len(), l.targets.len()))
}

pub fn load(path: &Path) -> Result<Loaded, InputError> {
    let text = load::read_text(path, "calibration file")?;
    let shown = path.display().to_string();
    let spec = CalibrationSpec::from_toml_str(&text).map_err(|e| describe(&shown, &e))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let base_path = dir.join(&spec.base);
    if !base_path.is_file() {
        let err = ScenarioError::new(
            KeyPath::root().key("base"),
            format!("cannot read the base scenario '{}': no such file", base_path.display()),
        )
        .with_hint("the path is relative to the folder of the calibration file");
        return Err(describe(&shown, &SweepSpec::locate_error(err, &text)));
    }
    let source = load::source(Some(&base_path))?;
    Scenario::from_layers(&source.layers(), &[]).map_err(|e| load::describe(&source.layer_name(e.layer), &e))?;
    let layers = source.layers();
    let targets_path = spec.targets.as_ref().map(|t| dir.join(t));
    if let Some(p) = &targets_path {
        if !p.is_file() {
            let err = ScenarioError::new(KeyPath::root().key("targets"), format!("cannot read the targets file '{}': no such file", p.display()))
                .with_hint("the path is relative to the folder of the calibration file; leave `targets` out for the project's observed outcomes");
            return Err(describe(&shown, &SweepSpec::locate_error(err, &text)));
        }
    }
    let cal = Calibration::bind(spec, &text, &layers).map_err(|e| describe(&shown, &e))?;
    let (mut targets, targets_name) = targets::targets(targets_path.as_deref())?;
    for (i, id) in cal.spec.exclude.iter().enumerate() {
        if !targets.iter().any(|t| &t.id == id) {
            let err =
                ScenarioError::new(KeyPath::root().key("exclude").index(i), format!("no target has the id \"{id}\""))
                    .with_hint(format!(
                        "the ids of {targets_name} are {}",
                        targets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
                    ));
            return Err(describe(&shown, &SweepSpec::locate_error(err, &text)));
        }
    }
    targets.retain(|t| !cal.spec.exclude.contains(&t.id));
    cal.check_until(&targets, &text).map_err(|e| describe(&shown, &e))?;
    let probe = cal.scenario_at(&cal.values_at(&vec![0.5; cal.spec.free.len()])).map_err(|e| describe(&shown, &e))?;
    let cat = ScenarioIds::of_scenario(&probe);
    let scopes = fit::bind(&targets, &cat).map_err(|e| targets::describe(&targets_name, &e))?;
    let identity = format!(
        "{}\n{}\n{}",
        toml::to_string(&cal.spec).unwrap_or_default(),
        cal.sweep.base.to_toml_string(),
        targets.iter().map(|t| format!("{:?}", t)).collect::<Vec<_>>().join("\n")
    );
    Ok(Loaded { cal, targets, scopes, cat, identity, base_path })
}
