//! Scenario layers: a scenario file may start from another with a top-level
//! `extends = "baseline.toml"` and state only what differs.
//!
//! Merging rules, applied from the base-most file to the last: tables merge key by key;
//! lists whose items all have an `id` (firms, chips, customers, suppliers, funding) merge
//! item by item, matching ids, with new ids appended; any other value, including lists
//! without ids (links, the policy schedule), is replaced whole. The engine merges texts it
//! is given; reading the files named by `extends` is the caller's job.

/// The top-level key that names the base file, relative to the file that names it.
pub const EXTENDS: &str = "extends";

/// The base file a scenario text names, if it names one (and parses).
pub fn extends_of(text: &str) -> Option<String> {
    let tree: toml::Table = text.parse().ok()?;
    tree.get(EXTENDS)?.as_str().map(str::to_string)
}

fn id_of(v: &toml::Value) -> Option<&str> {
    v.get("id").and_then(|id| id.as_str())
}

fn all_have_ids(items: &[toml::Value]) -> bool {
    !items.is_empty() && items.iter().all(|v| v.is_table() && id_of(v).is_some())
}

/// Merge `child` into `base` by the rules above.
pub fn merge(base: &mut toml::Table, child: toml::Table) {
    for (key, value) in child {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(c)) => merge(b, c),
            (Some(toml::Value::Array(b)), toml::Value::Array(c)) if all_have_ids(b) && all_have_ids(&c) => {
                for item in c {
                    let id = id_of(&item).map(str::to_string);
                    match b.iter_mut().find(|x| id_of(x).map(str::to_string) == id) {
                        Some(toml::Value::Table(existing)) => {
                            if let toml::Value::Table(t) = item {
                                merge(existing, t);
                            }
                        }
                        _ => b.push(item),
                    }
                }
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_merge_tables_and_id_lists_and_replace_the_rest() {
        let mut base: toml::Table = r#"
            [scenario]
            name = "base"
            seed = 1
            [[firms]]
            id = "a"
            cash_usd = 1.0
            [[firms]]
            id = "b"
            cash_usd = 2.0
            [[links]]
            supplier = "s"
            firm = "a"
        "#
        .parse()
        .unwrap();
        let child: toml::Table = r#"
            extends = "base.toml"
            [scenario]
            name = "child"
            [[firms]]
            id = "b"
            cash_usd = 5.0
            [[firms]]
            id = "c"
            [[links]]
            supplier = "t"
            firm = "b"
        "#
        .parse()
        .unwrap();
        assert_eq!(extends_of("extends = \"base.toml\""), Some("base.toml".into()));
        merge(&mut base, child);
        assert_eq!(base["scenario"]["name"].as_str(), Some("child"));
        assert_eq!(base["scenario"]["seed"].as_integer(), Some(1), "untouched keys stay");
        let firms = base["firms"].as_array().unwrap();
        let ids: Vec<&str> = firms.iter().map(|f| f["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(firms[1]["cash_usd"].as_float(), Some(5.0));
        assert_eq!(base["links"].as_array().unwrap().len(), 1, "lists without ids are replaced");
        assert_eq!(base["links"][0]["supplier"].as_str(), Some("t"));
    }
}
