//! Dotted key paths into a scenario: `--set` overrides, sweep axes and `params`.
//!
//! A path names list items by their `id` (`firms.thead.chips.th_ppu.price_usd`) or, for
//! items without one, by their position (`policy.schedule.0.date`). Map entries are named
//! by their key (`policy.regimes.licensed.export_fee`).

use std::fmt;

use super::ScenarioError;

/// One step of a key path, as stored: table keys and array positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A table key.
    Key(String),
    /// A position in an array.
    Index(usize),
}

/// A path from the root of the scenario tree to one value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<PathSeg>);

impl KeyPath {
    /// The root path.
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut segs = self.0.clone();
        segs.push(PathSeg::Key(key.to_string()));
        KeyPath(segs)
    }

    /// This path extended by an array position.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut segs = self.0.clone();
        segs.push(PathSeg::Index(index));
        KeyPath(segs)
    }

    /// True if `self` starts with `prefix`.
    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.len() >= prefix.0.len() && self.0[..prefix.0.len()] == prefix.0[..]
    }

    /// The dotted form, naming array items by their `id` where `tree` has one.
    pub fn dotted(&self, tree: &toml::Table) -> String {
        let mut out: Vec<String> = Vec::with_capacity(self.0.len());
        let mut node: Option<&toml::Value> = None;
        let mut root = Some(tree);
        for seg in &self.0 {
            match seg {
                PathSeg::Key(key) => {
                    let next = match (root.take(), node) {
                        (Some(table), _) => table.get(key),
                        (None, Some(toml::Value::Table(table))) => table.get(key),
                        _ => None,
                    };
                    out.push(key.clone());
                    node = next;
                }
                PathSeg::Index(i) => {
                    let item = match node {
                        Some(toml::Value::Array(items)) => items.get(*i),
                        _ => None,
                    };
                    let id = item.and_then(|v| v.get("id")).and_then(|v| v.as_str());
                    out.push(id.map_or_else(|| i.to_string(), str::to_string));
                    node = item;
                }
            }
        }
        out.join(".")
    }
}

impl fmt::Display for KeyPath {
    /// Positional form (`firms.0.id`); use [`KeyPath::dotted`] to name items by id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| match s {
                PathSeg::Key(k) => k.clone(),
                PathSeg::Index(i) => i.to_string(),
            })
            .collect();
        f.write_str(&parts.join("."))
    }
}

/// One `PATH=VALUE` override, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The dotted path as the user wrote it.
    pub path: String,
    /// The value as the user wrote it.
    pub raw: String,
    /// The value as TOML: a number, boolean, array or date if it parses as one, else a string.
    pub value: toml::Value,
}

impl Override {
    /// An override from a dotted path and a TOML value.
    pub fn new(path: &str, value: toml::Value) -> Override {
        Override { path: path.to_string(), raw: value.to_string(), value }
    }
}

/// Parse `PATH=VALUE` (the argument of `--set`).
pub fn parse_override(arg: &str) -> Result<Override, ScenarioError> {
    let Some((path, raw)) = arg.split_once('=') else {
        return Err(ScenarioError::new(KeyPath::root(), format!("expected PATH=VALUE, found \"{arg}\""))
            .with_hint("for example: --set firms.thead.rd_intensity=0.3"));
    };
    let path = path.trim();
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(ScenarioError::new(
            KeyPath::root(),
            format!("\"{path}\" is not a key path: expected dot-separated keys such as firms.thead.rd_intensity"),
        )
        .with_hint("`chipmarket params` lists every path"));
    }
    Ok(Override { path: path.to_string(), raw: raw.trim().to_string(), value: parse_value(raw.trim()) })
}

/// Read a value the way TOML would; anything that is not valid TOML is a string.
fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut table) => table.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// Keys whose value is a list of items named by id (`[[firms]]`, `[[firms.chips]]`, ...).
const LIST_KEYS: [&str; 8] = ["firms", "chips", "funding", "customers", "suppliers", "expansions", "links", "schedule"];

/// Tables whose keys are names the user chose (regimes), not fields of the schema.
const NAMED_TABLES: [&str; 2] = ["policy.regimes", "policy.switching.regimes"];

/// Set the value at `ov.path` in the scenario tree. Missing tables on the way are created
/// (deserialisation then says whether their keys exist), except named items: an override
/// changes a regime or list item the scenario has, it never adds one. Returns the
/// positional path.
pub fn apply_override(tree: &mut toml::Table, ov: &Override) -> Result<KeyPath, ScenarioError> {
    set_path(tree, ov).map_err(|mut err| {
        err.dotted = err.path.dotted(tree);
        err
    })
}

fn set_path(tree: &mut toml::Table, ov: &Override) -> Result<KeyPath, ScenarioError> {
    let segs: Vec<&str> = ov.path.split('.').collect();
    let mut path = KeyPath::root();
    let mut table: &mut toml::Table = tree;
    let mut i = 0;
    loop {
        let seg = segs[i];
        let last = i + 1 == segs.len();
        if last {
            let value = match (table.get(seg), &ov.value) {
                // Keep strings strings: `--set scenario.name=2030` names a scenario "2030".
                (Some(toml::Value::String(_)), v) if !v.is_str() => toml::Value::String(ov.raw.clone()),
                _ => ov.value.clone(),
            };
            table.insert(seg.to_string(), value);
            return Ok(path.key(seg));
        }
        if !table.contains_key(seg) && NAMED_TABLES.contains(&path.to_string().as_str()) {
            let names: Vec<&str> = table.keys().map(String::as_str).collect();
            let err = ScenarioError::new(path.key(seg), format!("no regime \"{seg}\" in `{}`", segs[..i].join(".")))
                .for_override(ov);
            return Err(match nearest(seg, names.iter().copied()) {
                Some(near) => err.with_hint(format!("did you mean \"{near}\"? valid names: {}", names.join(", "))),
                None if names.is_empty() => err.with_hint(format!(
                    "`{}` is empty; add the regime to the file, --set only changes values",
                    segs[..i].join(".")
                )),
                None => err.with_hint(format!("valid names: {}", names.join(", "))),
            });
        }
        path = path.key(seg);
        let entry = table.entry(seg.to_string()).or_insert_with(|| {
            if LIST_KEYS.contains(&seg) {
                toml::Value::Array(Vec::new())
            } else {
                toml::Value::Table(toml::Table::new())
            }
        });
        i += 1;
        match entry {
            toml::Value::Table(t) => table = t,
            toml::Value::Array(items) => {
                let want = segs[i];
                let pos = items
                    .iter()
                    .position(|it| it.get("id").and_then(|v| v.as_str()) == Some(want))
                    .or_else(|| want.parse::<usize>().ok().filter(|&n| n < items.len()));
                let Some(pos) = pos else {
                    let ids: Vec<String> = items
                        .iter()
                        .filter_map(|it| it.get("id").and_then(|v| v.as_str()).map(str::to_string))
                        .collect();
                    let mut err =
                        ScenarioError::new(path.clone(), format!("no item \"{want}\" in `{}`", segs[..i].join(".")))
                            .for_override(ov);
                    err = match nearest(want, ids.iter().map(String::as_str)) {
                        Some(near) => err.with_hint(format!("did you mean \"{near}\"? valid ids: {}", ids.join(", "))),
                        None if items.is_empty() => err.with_hint(format!(
                            "the scenario has no `{}` items; add them to the file, --set only changes values",
                            segs[..i].join(".")
                        )),
                        None if ids.is_empty() => {
                            err.with_hint(format!("use a position from 0 to {}", items.len() - 1))
                        }
                        None => err.with_hint(format!("valid ids: {}", ids.join(", "))),
                    };
                    return Err(err);
                };
                path = path.index(pos);
                i += 1;
                if i == segs.len() {
                    return Err(ScenarioError::new(path, format!("`{}` is a whole list item, not a value", ov.path))
                        .for_override(ov)
                        .with_hint("name one of its keys, for example firms.thead.rd_intensity"));
                }
                match &mut items[pos] {
                    toml::Value::Table(t) => table = t,
                    _ => {
                        return Err(ScenarioError::new(path, format!("`{}` is not a table", segs[..i].join(".")))
                            .for_override(ov))
                    }
                }
            }
            _ => {
                return Err(ScenarioError::new(
                    path,
                    format!("`{}` is a value, so it has no key \"{}\"", segs[..i].join("."), segs[i]),
                )
                .for_override(ov)
                .with_hint(format!("set it directly: --set {}=VALUE", segs[..i].join("."))));
            }
        }
    }
}

/// Every leaf value of the tree with its dotted path (items named by id), in file order
/// of the resolved scenario. Ids themselves are left out: they are names, not parameters.
pub fn list_params(tree: &toml::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

fn walk(value: &toml::Value, prefix: &mut Vec<String>, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table {
                if key == "id" {
                    continue;
                }
                prefix.push(key.clone());
                walk(v, prefix, out);
                prefix.pop();
            }
        }
        toml::Value::Array(items) if items.iter().all(|v| v.is_table()) && !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let name = item.get("id").and_then(|v| v.as_str()).map_or_else(|| i.to_string(), str::to_string);
                prefix.push(name);
                walk(item, prefix, out);
                prefix.pop();
            }
        }
        leaf => out.push((prefix.join("."), leaf.to_string())),
    }
}

/// The candidate closest to `word` if it is close enough to be a likely typo: similar by
/// Jaro-Winkler, or one edit away (a swapped pair counts as one: `dmo` for `dom`).
pub(crate) fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let one_edit = |c: &str| word.chars().count() >= 3 && strsim::osa_distance(word, c) == 1;
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|&(score, c)| score >= 0.75 || one_edit(c))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> toml::Table {
        r#"
            [scenario]
            name = "x"
            [[firms]]
            id = "thead"
            rd_intensity = 0.2
            [[firms.chips]]
            id = "th_ppu"
            price_usd = 10.0
            [[policy.schedule]]
            date = "2022-01-01"
            regime = "open"
        "#
        .parse()
        .unwrap()
    }

    #[test]
    fn overrides_name_list_items_by_id() {
        let mut t = tree();
        let ov = parse_override("firms.thead.chips.th_ppu.price_usd=12.5").unwrap();
        let path = apply_override(&mut t, &ov).unwrap();
        assert_eq!(path.to_string(), "firms.0.chips.0.price_usd");
        assert_eq!(path.dotted(&t), "firms.thead.chips.th_ppu.price_usd");
        assert_eq!(t["firms"][0]["chips"][0]["price_usd"].as_float(), Some(12.5));
    }

    #[test]
    fn overrides_name_items_without_id_by_position() {
        let mut t = tree();
        apply_override(&mut t, &parse_override("policy.schedule.0.regime=ban").unwrap()).unwrap();
        assert_eq!(t["policy"]["schedule"][0]["regime"].as_str(), Some("ban"));
    }

    #[test]
    fn unknown_ids_suggest_the_nearest() {
        let mut t = tree();
        let err = apply_override(&mut t, &parse_override("firms.theed.rd_intensity=0.3").unwrap()).unwrap_err();
        assert!(err.message.contains("no item \"theed\""), "{}", err.message);
        assert!(err.hint.as_deref().unwrap().contains("\"thead\""));
    }

    #[test]
    fn overrides_never_add_regimes_or_list_items() {
        let mut t: toml::Table = "[policy.regimes.open]\n[policy.regimes.ban]\nforeign_max_tpp = 0.0".parse().unwrap();
        let err = apply_override(&mut t, &parse_override("policy.regimes.opn.export_fee=0.1").unwrap()).unwrap_err();
        assert_eq!(err.dotted, "policy.regimes.opn");
        assert!(err.message.contains("no regime \"opn\""), "{}", err.message);
        assert!(err.hint.as_deref().unwrap().contains("\"open\""));
        let err =
            apply_override(&mut t, &parse_override("suppliers.smic.capacity_per_quarter=1").unwrap()).unwrap_err();
        assert!(err.message.contains("no item \"smic\" in `suppliers`"), "{}", err.message);
        assert!(err.hint.as_deref().unwrap().contains("no `suppliers` items"));
    }

    #[test]
    fn errors_name_list_items_by_id() {
        let mut t = tree();
        let err = apply_override(&mut t, &parse_override("firms.thead.chips.th_ppx.price_usd=1").unwrap()).unwrap_err();
        assert_eq!(err.dotted, "firms.thead.chips");
    }

    #[test]
    fn nearest_accepts_one_edit_and_swaps() {
        assert_eq!(nearest("dmo", ["dom", "usa"]), Some("dom"));
        assert_eq!(nearest("theed", ["thead", "huawei"]), Some("thead"));
        assert_eq!(nearest("xyz", ["dom", "usa"]), None);
    }

    #[test]
    fn malformed_overrides_are_refused() {
        assert!(parse_override("firms.thead.rd_intensity").is_err());
        assert!(parse_override("firms..x=1").is_err());
        assert!(parse_override("=1").is_err());
        let mut t = tree();
        let err = apply_override(&mut t, &parse_override("firms.thead.rd_intensity.x=1").unwrap()).unwrap_err();
        assert!(err.message.contains("is a value"), "{}", err.message);
    }

    #[test]
    fn values_parse_as_toml_else_string() {
        assert_eq!(parse_override("a=0.5").unwrap().value, toml::Value::Float(0.5));
        assert_eq!(parse_override("a=true").unwrap().value, toml::Value::Boolean(true));
        assert_eq!(parse_override("a=abc").unwrap().value, toml::Value::String("abc".into()));
    }

    #[test]
    fn params_list_leaves_with_ids() {
        let params = list_params(&toml::Value::Table(tree()));
        let paths: Vec<&str> = params.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"firms.thead.chips.th_ppu.price_usd"));
        assert!(paths.contains(&"policy.schedule.0.regime"));
        assert!(!paths.iter().any(|p| p.ends_with(".id")));
    }
}
