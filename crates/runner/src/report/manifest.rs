//! `manifest.json`: what made an output folder. The program and version, the subcommand
//! (`command`: `run`, `sweep`, `merge` or `plot`) and its command line, the scenario's name,
//! the SHA-256 of the resolved scenario or sweep file in the folder, the seed and
//! replications, and the start time (UTC, RFC 3339) and duration. The time is only here, so
//! every other file stays byte-identical for the same seed.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::output::atomic;
use crate::output::names;

/// The file name.
pub const FILE: &str = names::MANIFEST;

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The command line of this process, with the program named `chipmarket` (not by its path).
pub fn command_line() -> Vec<String> {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "chipmarket".to_string();
    }
    args
}

/// `started` as RFC 3339 UTC, to the millisecond.
pub fn rfc3339(started: SystemTime) -> String {
    let since = started.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    chrono::DateTime::from_timestamp(since.as_secs() as i64, since.subsec_nanos())
        .map_or_else(String::new, |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Write `manifest.json` into `dst` (for the folder `src`, which holds the resolved file) for `command`, which started at `started` (wall clock) and
/// has run for `elapsed`. `resolved` is the file whose hash identifies the inputs;
/// `fields` adds command-specific entries (scenario, seed, replications, points).
pub fn write(
    src: &Path,
    dst: &Path,
    command: &str,
    started: SystemTime,
    elapsed: Duration,
    resolved: &str,
    fields: &[(&str, Value)],
) -> Result<()> {
    let bytes = std::fs::read(src.join(resolved)).with_context(|| format!("failed to read '{resolved}'"))?;
    let mut m = json!({
        "program": "chipmarket",
        "version": env!("CARGO_PKG_VERSION"),
        "command": command,
        "command_line": command_line(),
        "resolved_file": resolved,
        "resolved_sha256": sha256_hex(&bytes),
        "started_at": rfc3339(started),
        "duration_seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
    });
    if let Value::Object(map) = &mut m {
        for (k, v) in fields {
            map.insert((*k).to_string(), v.clone());
        }
    }
    let text = serde_json::to_string_pretty(&m).context("failed to describe the run")? + "\n";
    atomic::write(&dst.join(FILE), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_times_have_their_standard_forms() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)), "2023-11-14T22:13:20.123Z");
        assert_eq!(command_line()[0], "chipmarket");
    }
}
