//! The scenario-format reference in `docs/scenario-format.md` is generated from the doc
//! comments of the schema (`src/scenario.rs`); this test fails when they drift apart.
//! Run it with `CHIPMARKET_BLESS=1` to rewrite the reference section.
#![allow(clippy::disallowed_methods)] // a test reads and (when asked) writes the docs

const SCHEMA: &str = include_str!("../../src/scenario.rs");
const BEGIN: &str = "<!-- reference:begin -->\n";
const END: &str = "<!-- reference:end -->";

fn type_name(rust: &str) -> String {
    let mut t = rust.replace("Option<", "optional ").replace('>', "").replace("Vec<", "list of ");
    t = t.replace("BTreeMap<String, ", "map of ").replace("f64", "number").replace("u32", "whole number");
    t.replace("u64", "whole number").replace("String", "string").replace("Date", "date")
}

/// The reference section: one table per schema struct, one row per field.
fn reference(src: &str) -> String {
    let mut out = String::new();
    let mut doc: Vec<&str> = Vec::new();
    let mut in_struct = false;
    for line in src.lines() {
        let t = line.trim();
        if let Some(d) = t.strip_prefix("///") {
            doc.push(d.trim());
            continue;
        }
        if t.starts_with("#[") {
            continue;
        }
        if let Some(name) = t.strip_prefix("pub struct ").and_then(|r| r.strip_suffix(" {")) {
            out.push_str(&format!(
                "\n## {name}\n\n{}\n\n| key | type | meaning, unit, default |\n|---|---|---|\n",
                doc.join(" ")
            ));
            in_struct = true;
        } else if in_struct && line.starts_with("    pub ") {
            if let Some((name, ty)) = t["pub ".len()..].split_once(": ") {
                let ty = type_name(ty.trim_end_matches(','));
                out.push_str(&format!("| `{name}` | {ty} | {} |\n", doc.join(" ")));
            }
        } else if t == "}" {
            in_struct = false;
        }
        doc.clear();
    }
    out
}

#[test]
fn the_scenario_reference_matches_the_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/scenario-format.md");
    let text = std::fs::read_to_string(path).expect("docs/scenario-format.md exists");
    let start = text.find(BEGIN).expect("reference:begin marker") + BEGIN.len();
    let end = text.find(END).expect("reference:end marker");
    let expected = reference(SCHEMA);
    if std::env::var_os("CHIPMARKET_BLESS").is_some() {
        let updated = format!("{}{}{}", &text[..start], expected, &text[end..]);
        std::fs::write(path, updated).expect("writable docs");
        return;
    }
    assert!(
        text[start..end] == expected,
        "docs/scenario-format.md is out of date with src/scenario.rs; run this test with CHIPMARKET_BLESS=1.\n\
         Expected section:\n{expected}"
    );
    // Every field of the schema has a documented meaning.
    for row in expected.lines().filter(|l| l.starts_with("| `")) {
        assert!(!row.ends_with("|  |"), "undocumented field: {row}");
    }
}
