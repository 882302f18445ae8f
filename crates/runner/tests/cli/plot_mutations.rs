//! Property test: `plot` on a run folder whose CSV files were mutated (a file deleted, columns
//! deleted or swapped, rows deleted, repeated, cut or swapped, cells replaced) exits 0 or 2
//! with a message, never panics (exit 101) or aborts.

use std::fs;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::common::{data, ok};

/// The files `plot` reads.
const FILES: [&str; 4] = ["market_quarterly.csv", "firms_quarterly.csv", "summary.csv", "scenario.resolved.toml"];

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

/// One random mutation of CSV text (or TOML text for the scenario, cut or with lines lost).
fn mutate(text: &str, rng: &mut StdRng) -> String {
    let mut lines: Vec<Vec<String>> = text.lines().map(|l| l.split(',').map(str::to_string).collect()).collect();
    let width = lines.first().map_or(0, Vec::len);
    match rng.random_range(0..9) {
        // Delete a column everywhere.
        0 if width > 0 => {
            let c = rng.random_range(0..width);
            for l in &mut lines {
                if c < l.len() {
                    l.remove(c);
                }
            }
        }
        // Swap two columns everywhere, or in the header only.
        1 | 2 if width > 1 => {
            let (a, b) = (rng.random_range(0..width), rng.random_range(0..width));
            let header_only = rng.random_bool(0.5);
            for (i, l) in lines.iter_mut().enumerate() {
                if (i == 0 || !header_only) && a.max(b) < l.len() {
                    l.swap(a, b);
                }
            }
        }
        // Keep the first k lines (possibly only the header, or nothing).
        3 => {
            let k = rng.random_range(0..=lines.len());
            lines.truncate(k);
        }
        // Delete random rows.
        4 => lines.retain(|_| rng.random_bool(0.7)),
        // Repeat or swap rows.
        5 if lines.len() > 2 => {
            let (a, b) = (rng.random_range(1..lines.len()), rng.random_range(1..lines.len()));
            if rng.random_bool(0.5) {
                let row = lines[a].clone();
                lines.insert(b, row);
            } else {
                lines.swap(a, b);
            }
        }
        // Replace cells with junk.
        6 => {
            for _ in 0..rng.random_range(1..20) {
                if lines.is_empty() {
                    break;
                }
                let r = rng.random_range(0..lines.len());
                if lines[r].is_empty() {
                    continue;
                }
                let c = rng.random_range(0..lines[r].len());
                let junk = ["", "NaN", "inf", "-1e308", "1e309", "x", "2024Q9", "\"", "-0", "99999999999999999999"];
                lines[r][c] = junk[rng.random_range(0..junk.len())].to_string();
            }
        }
        // Drop or add a cell in some rows (ragged records).
        7 => {
            for l in lines.iter_mut() {
                if rng.random_bool(0.2) {
                    if rng.random_bool(0.5) {
                        l.pop();
                    } else {
                        l.push("1".into());
                    }
                }
            }
        }
        // Cut the text at a random byte (mid-row, mid-cell).
        _ => {
            let cut = rng.random_range(0..=text.len());
            let mut end = cut;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            return text[..end].to_string();
        }
    }
    let mut out: String = lines.iter().map(|l| l.join(",")).collect::<Vec<_>>().join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[test]
fn plot_on_mutated_run_folders_exits_0_or_2_and_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(dir, &["run", data("tiny.toml").to_str().unwrap(), "--out", "base", "--quiet"]);
    let mut rng = StdRng::seed_from_u64(19);
    let mut codes = [0usize; 3];
    for case in 0..200 {
        let folder = dir.join(format!("case{case}"));
        copy_dir(&dir.join("base"), &folder);
        let mut what = Vec::new();
        for _ in 0..rng.random_range(1..=2) {
            let file = FILES[rng.random_range(0..FILES.len())];
            let path = folder.join(file);
            if rng.random_bool(0.1) {
                let _ = fs::remove_file(&path);
                what.push(format!("deleted {file}"));
            } else if let Ok(text) = fs::read_to_string(&path) {
                fs::write(&path, mutate(&text, &mut rng)).unwrap();
                what.push(format!("mutated {file}"));
            }
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chipmarket"))
            .args(["plot", folder.to_str().unwrap(), "--quiet"])
            .current_dir(dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 2)) && !err.contains("panicked"),
            "case {case} ({}): exit {code:?}\n{err}",
            what.join(", ")
        );
        if code == Some(2) {
            assert!(err.starts_with("error: "), "case {case}: a refusal says why: {err}");
        }
        codes[usize::from(code == Some(2))] += 1;
        fs::remove_dir_all(&folder).unwrap();
    }
    // Both outcomes happen: the mutations are neither all harmless nor all fatal.
    assert!(codes[0] > 0 && codes[1] > 0, "{codes:?}");
}
