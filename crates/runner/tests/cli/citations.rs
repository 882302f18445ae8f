//! Every citation in `scenarios/**/*.toml` resolves in the project's `data/` folder:
//! `chips.csv:<chip_id>`, `policy_timeline.csv:<row>` and `supply_demand_inputs.csv:<row>`
//! (with `:<a>-<b>`, `:<a>,<b>` and a following `row N`), and ids `O1`.. of
//! `observed_2022_2024.csv`. A row number counts CSV records, the header being row 1
//! (data/README.md), so it is checked with the csv crate, not by counting lines.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The records of a data file, the header first.
fn records(name: &str) -> Vec<csv::StringRecord> {
    let path = root().join("data").join(name);
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_path(&path).unwrap();
    rdr.records().map(|r| r.unwrap()).collect()
}

fn toml_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            toml_files(&p, into);
        } else if p.extension().is_some_and(|x| x == "toml") {
            into.push(p);
        }
    }
}

/// Row numbers cited right after `file:` in `text` from byte `at`: `12`, `23-25`, `7,9`,
/// and a `row N` / `rows N-M` that follows within the same parenthesis or sentence.
fn cited_rows(rest: &str) -> Vec<usize> {
    let spec: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-' || *c == ',').collect();
    let mut rows = Vec::new();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) if !b.is_empty() => {
                let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
                assert!(a <= b, "range {part}");
                rows.extend(a..=b);
            }
            _ => rows.push(part.trim_end_matches('-').parse().unwrap()),
        }
    }
    rows
}

#[test]
fn every_citation_in_the_scenarios_resolves_in_data() {
    let chips = records("chips.csv");
    let id_col = chips[0].iter().position(|h| h == "chip_id").unwrap();
    let chip_ids: Vec<&str> = chips[1..].iter().map(|r| r.get(id_col).unwrap()).collect();
    let policy = records("policy_timeline.csv").len();
    let supply = records("supply_demand_inputs.csv").len();
    let observed: Vec<String> = records("observed_2022_2024.csv")[1..].iter().map(|r| r[0].to_string()).collect();
    assert_eq!(observed.len(), 22);

    let mut files = Vec::new();
    toml_files(&root().join("scenarios"), &mut files);
    assert!(!files.is_empty());
    let mut checked = 0;
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        // Every document a comment names (`*.md`) is one of the repository's own.
        for word in text.lines().filter_map(|l| l.find('#').map(|h| &l[h..])).flat_map(str::split_whitespace) {
            let word =
                word.trim_matches(|c: char| !c.is_alphanumeric() && c != '.' && c != '/' && c != '_' && c != '-');
            if let Some(name) = word.strip_suffix(".md").and_then(|w| w.rsplit('/').next()) {
                let name = format!("{name}.md");
                let known = ["", "docs", "data", "scenarios", "deploy", "fuzz"]
                    .iter()
                    .any(|dir| root().join(dir).join(&name).is_file());
                assert!(known, "{}: cites {word}, which is not in the repository", file.display());
            }
        }
        for (n, line) in text.lines().enumerate() {
            let Some(hash) = line.find('#') else { continue };
            let comment = &line[hash..];
            let place = format!("{}:{}", file.display(), n + 1);
            for (name, len) in [("policy_timeline.csv:", policy), ("supply_demand_inputs.csv:", supply)] {
                for (at, _) in comment.match_indices(name) {
                    let rest = &comment[at + name.len()..];
                    if rest.starts_with('<') {
                        continue; // the format itself: `policy_timeline.csv:<row>`
                    }
                    let mut rows = cited_rows(rest);
                    // "(... csv:22); ... (row 20)": a later `row N` in the same comment.
                    if let Some(r) = rest.find("row ") {
                        rows.extend(cited_rows(&rest[r + 4..]));
                    }
                    assert!(!rows.is_empty(), "{place}: {name} without a row");
                    for row in rows {
                        assert!((2..=len).contains(&row), "{place}: {name}{row} is not a data row (rows 2 to {len})");
                        checked += 1;
                    }
                }
            }
            for (at, _) in comment.match_indices("chips.csv:") {
                let id: String =
                    comment[at + 10..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if id.is_empty() && comment[at + 10..].starts_with('<') {
                    continue;
                }
                assert!(chip_ids.contains(&id.as_str()), "{place}: chips.csv:{id} is not a chip_id of data/chips.csv");
                checked += 1;
            }
            for (at, _) in comment.match_indices("observed_2022_2024.csv:") {
                let id: String = comment[at + 23..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                assert!(observed.contains(&id), "{place}: observed_2022_2024.csv:{id} is not a target id");
                checked += 1;
            }
        }
    }
    assert!(checked > 80, "only {checked} citations found; is the parser right?");
}

#[test]
fn data_files_keep_one_record_per_line_and_their_headers() {
    for (name, n) in [
        ("chips.csv", 38),
        ("policy_timeline.csv", 42),
        ("supply_demand_inputs.csv", 44),
        ("observed_2022_2024.csv", 23),
        ("observed_2025.csv", 16),
    ] {
        let recs = records(name);
        assert_eq!(recs.len(), n, "{name}: records, header included");
        let text = fs::read_to_string(root().join("data").join(name)).unwrap();
        assert_eq!(text.lines().count(), n, "{name}: a cell with a line break would shift `line` citations");
    }
}
