//! Writes a synthetic finished sweep folder for timing `chipmarket analyze`: a `saltelli`
//! design over eight paths of the test scenario (`sweep.resolved.toml`, as `chipmarket sweep`
//! writes it) and a `runs.csv` of `points x replications` rows whose 50 KPI columns are Sobol's
//! G function of the point's unit coordinates plus seeded noise. No simulation is run.
//!
//! ```sh
//! cargo run --release -p chipmarket --example analyze_input -- DIR --samples 1024 --replications 10
//! /usr/bin/time -f "%e s, %M KiB" target/release/chipmarket analyze DIR --quiet
//! ```
//!
//! With `--samples 1024` the design has 1024 x (8 + 2) = 10,240 points; 10 replications make
//! 102,400 runs. `docs/analysis.md` has the measured figures.
#![allow(clippy::disallowed_methods)] // an example writes files
#![allow(missing_docs)]

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chipmarket_engine::rng::stream;
use chipmarket_engine::sweep::{unit_design, Sweep, SweepSpec};
use rand::Rng;

const BASE: &str = include_str!("../tests/data/tiny.toml");
const PATHS: [&str; 8] = [
    "demand.growth_rate_per_year",
    "demand.tender_size_sigma",
    "demand.inference_share_start",
    "demand.inference_share_end",
    "demand.depreciation_years",
    "demand.tenders_per_year",
    "market.ecosystem_share_rate",
    "market.win_rate_smoothing",
];
const KPIS: usize = 50;

/// Sobol's G function `prod (|4 u_i - 2| + a_i) / (1 + a_i)`: factor i matters less as a_i grows.
fn g_function(u: &[f64], a: &[f64]) -> f64 {
    u.iter().zip(a).map(|(u, a)| ((4.0 * u - 2.0).abs() + a) / (1.0 + a)).product()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: u32| -> u32 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let dir = PathBuf::from(
        args.first()
            .filter(|a| !a.starts_with("--"))
            .ok_or("usage: analyze_input DIR [--samples N] [--replications R]")?,
    );
    let (samples, replications) = (flag("--samples", 1024), flag("--replications", 10));
    let mut text = format!(
        "base = \"tiny.toml\"\nmethod = \"saltelli\"\nsamples = {samples}\nreplications = {replications}\nseed = 1\n"
    );
    for p in PATHS {
        text.push_str(&format!("[[vary]]\npath = \"{p}\"\nrange = [0.05, 0.5]\n"));
    }
    let spec = SweepSpec::from_toml_str(&text)?;
    let unit = unit_design(&spec);
    let sweep = Sweep::bind(spec, &text, &[BASE])?;
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("sweep.resolved.toml"), sweep.to_resolved_toml())?;
    let mut w = BufWriter::new(std::fs::File::create(dir.join("runs.csv"))?);
    let mut header = vec!["point".to_string(), "replication".to_string(), "seed".to_string()];
    header.extend(PATHS.iter().map(|p| format!("param_{p}")));
    header.extend((0..KPIS).map(|k| format!("kpi_{k}")));
    writeln!(w, "{}", header.join(","))?;
    let a: Vec<f64> = (0..PATHS.len()).map(|i| [0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0][i]).collect();
    let mut rng = stream(7, 0, "analyze_input");
    for (p, point) in sweep.points.iter().enumerate() {
        let g = g_function(&unit[p], &a);
        let params: Vec<String> = point.values.iter().map(|v| v.to_string()).collect();
        for r in 0..replications {
            write!(w, "{p},{r},{},{}", sweep.seed(p), params.join(","))?;
            for k in 0..KPIS {
                write!(w, ",{}", g * (1.0 + k as f64 / 10.0) + 0.1 * rng.random::<f64>())?;
            }
            writeln!(w)?;
        }
    }
    w.flush()?;
    println!("wrote {} points x {replications} replications to {}", sweep.points.len(), dir.display());
    Ok(())
}
