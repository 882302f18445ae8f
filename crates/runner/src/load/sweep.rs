//! Reading a sweep file: parsed, checked against its base scenario and expanded into points,
//! every point's scenario validated ([`load`]), or only those of a shard ([`load_design`], then
//! [`Loaded::check_points`]).

use std::ops::Range;
use std::path::Path;

use chipmarket_engine::scenario::{KeyPath, Scenario, ScenarioError};
use chipmarket_engine::sweep::{Sweep, SweepSpec};

use crate::error::InputError;
use crate::load;

/// A sweep file read, checked against its base scenario and expanded.
pub struct Loaded {
    /// The sweep, bound to its base.
    pub sweep: Sweep,
    /// The sweep file's name without extension (the default output folder).
    pub name: String,
}

/// Read, check and expand the sweep file at `path`, and validate every point's scenario. Every
/// problem is an [`InputError`] that names the file, line and column.
pub fn load(path: &Path) -> Result<Loaded, InputError> {
    let (loaded, text) = load_design(path)?;
    loaded.check_points(0..loaded.sweep.points.len(), path, &text)?;
    Ok(loaded)
}

impl Loaded {
    /// Validate the scenarios of `points` (read from `path`, whose text is `text`).
    pub fn check_points(&self, points: Range<usize>, path: &Path, text: &str) -> Result<(), InputError> {
        self.sweep.check_points(points, text).map_err(|e| describe(&path.display().to_string(), &e))
    }
}

/// [`load`] without validating the points' scenarios (see [`Sweep::bind_design`]); also gives
/// the file's text, for [`Loaded::check_points`].
pub fn load_design(path: &Path) -> Result<(Loaded, String), InputError> {
    let text = load::read_text(path, "sweep file")?;
    let shown = path.display().to_string();
    let spec = SweepSpec::from_toml_str(&text).map_err(|e| describe(&shown, &e))?;
    let layers: Vec<String> = match spec.base_path() {
        Some(rel) => {
            let base_path = path.parent().unwrap_or(Path::new("")).join(rel);
            if !base_path.is_file() {
                let err = ScenarioError::new(
                    KeyPath::root().key("base"),
                    format!("cannot read the base scenario '{}': no such file", base_path.display()),
                )
                .with_hint("the path is relative to the folder of the sweep file");
                return Err(describe(&shown, &SweepSpec::locate_error(err, &text)));
            }
            let source = load::source(Some(&base_path))?;
            Scenario::from_layers(&source.layers(), &[])
                .map_err(|e| load::describe(&source.layer_name(e.layer), &e))?;
            source.layers().into_iter().map(str::to_string).collect()
        }
        None => {
            let base_text = spec.base_inline_text().unwrap_or_default();
            Scenario::from_toml_str(&base_text)
                .map_err(|e| describe(&shown, &SweepSpec::locate_base_error(e, &text)))?;
            vec![base_text]
        }
    };
    let layers: Vec<&str> = layers.iter().map(String::as_str).collect();
    let sweep = Sweep::bind_design(spec, &text, &layers).map_err(|e| describe(&shown, &e))?;
    let name = path.file_stem().map_or_else(|| "sweep".to_string(), |s| s.to_string_lossy().into_owned());
    Ok((Loaded { sweep, name }, text))
}

/// Render a sweep-file error: `file:line:column: path: message`.
pub fn describe(source: &str, err: &ScenarioError) -> InputError {
    InputError::scenario("sweep", source, err)
}
