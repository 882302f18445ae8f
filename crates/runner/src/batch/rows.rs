//! The rows of a sweep's `runs.csv`, made and checked in one place.
//!
//! A row is `point, replication, seed`, one cell per varied path, then one cell per KPI. The
//! first part is fixed by the sweep file alone ([`identity`]), so `merge` and `--resume` can
//! check every row they take from disk against the design ([`RunsCheck`]): the right number of
//! cells, runs in order with no gap or repeat, the seed and parameter values the design gives,
//! and KPI cells that are empty (no value, or a failed run) or finite numbers.
//! The checks cannot tell a KPI value that was changed, so a finished shard also records the
//! SHA-256 of its `runs.csv` ([`sha256_of`]) and of the whole design ([`design_sha256`]).

use std::io::Read;

use chipmarket_engine::sweep::Sweep;
use sha2::{Digest, Sha256};

use crate::output::csv::{num, text_cell};

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a sweep's whole design: SHA-256 over every point's seed and parameter
/// cells, as `runs.csv` writes them. Cheap (no scenario is built), and the same wherever the
/// design expands the same way, so `merge` can tell that every shard ran the design it expands.
pub fn design_sha256(sweep: &Sweep) -> String {
    let mut hash = Sha256::new();
    hash.update(sweep.replications().to_string().as_bytes());
    hash.update(b"\n");
    for point in 0..sweep.points.len() {
        hash.update(sweep.seed(point).to_string().as_bytes());
        for value in &sweep.points[point].values {
            hash.update(b",");
            hash.update(param_cell(value).as_bytes());
        }
        hash.update(b"\n");
    }
    hex(&hash.finalize())
}

/// SHA-256 of everything `reader` holds, in hex.
pub fn sha256_of(mut reader: impl Read) -> std::io::Result<String> {
    let mut hash = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hex(&hash.finalize()));
        }
        hash.update(&buf[..n]);
    }
}

/// A parameter value as a CSV cell: numbers as everywhere else, strings bare, with line breaks
/// as spaces (a row stays one line, which `merge` and `--resume` read line by line) and
/// neutralised as every text cell is ([`text_cell`]), so the cell reads back as written.
pub fn param_cell(value: &toml::Value) -> String {
    match value {
        toml::Value::Float(x) => num(*x),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::String(s) => text_cell(&s.replace(['\r', '\n'], " ")).into_owned(),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// The identity cells of run `idx` (point-major: `point x replications + replication`):
/// point, replication, seed and the point's parameter values.
pub fn identity(sweep: &Sweep, replications: u64, idx: u64) -> Vec<String> {
    let (point, rep) = ((idx / replications) as usize, idx % replications);
    let mut cells = vec![point.to_string(), rep.to_string(), sweep.seed(point).to_string()];
    cells.extend(sweep.points[point].values.iter().map(param_cell));
    cells
}

/// Checks rows of `runs.csv` against a sweep.
pub struct RunsCheck<'a> {
    sweep: &'a Sweep,
    replications: u64,
    /// Column names: identity columns, then KPIs.
    header: Vec<String>,
}

impl<'a> RunsCheck<'a> {
    /// A checker for rows under `header` (the names of every column).
    pub fn new(sweep: &'a Sweep, header: Vec<String>) -> RunsCheck<'a> {
        RunsCheck { sweep, replications: u64::from(sweep.replications()).max(1), header }
    }

    /// The header `runs.csv` must start with: the identity columns (the KPIs follow).
    pub fn identity_header(sweep: &Sweep) -> Vec<String> {
        let mut cols = vec!["point".to_string(), "replication".to_string(), "seed".to_string()];
        cols.extend(sweep.paths().map(|p| format!("param_{p}")));
        cols
    }

    /// Check one line of the file (with its newline) as the row of run `idx`; the error says
    /// what is wrong, for a message that adds the file and line.
    pub fn check_line(&self, idx: u64, line: &[u8]) -> Result<(), String> {
        let Some(body) = line.strip_suffix(b"\n") else {
            return Err("the row is cut short (no end of line)".into());
        };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(body);
        let mut record = csv::StringRecord::new();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Err("the row is empty".into()),
            Err(e) => return Err(format!("the row is not CSV text: {e}")),
        }
        if record.len() != self.header.len() {
            return Err(format!("the row has {} cells, expected {}", record.len(), self.header.len()));
        }
        let n_points = self.sweep.points.len() as u64;
        if idx >= n_points * self.replications {
            return Err(format!(
                "one row too many: the sweep has {n_points} point(s) x {} replication(s)",
                self.replications
            ));
        }
        let expected = identity(self.sweep, self.replications, idx);
        for (j, (got, want)) in record.iter().zip(&expected).enumerate() {
            if got != want {
                let what = if j < 2 {
                    format!(
                        "expected point {}, replication {} here (rows go in run order), found point \"{}\", replication \"{}\"",
                        want_at(&expected, 0),
                        want_at(&expected, 1),
                        &record[0],
                        &record[1]
                    )
                } else {
                    format!("column {}: expected \"{want}\" (from the sweep's design), found \"{got}\"", self.header[j])
                };
                return Err(what);
            }
        }
        for (j, cell) in record.iter().enumerate().skip(expected.len()) {
            if !cell.is_empty() && !cell.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(format!(
                    "column {}: expected a finite number or an empty cell, found \"{cell}\"",
                    self.header[j]
                ));
            }
        }
        Ok(())
    }
}

fn want_at(cells: &[String], i: usize) -> &str {
    cells.get(i).map_or("", String::as_str)
}
