//! Bad input, end to end. Each case breaks `tests/data/tiny.toml` (or the command line)
//! in one way and checks the refusal: exit code 2, the place (`bad.toml:LINE:COL`, computed
//! from the text, or the `--set` argument), the key path with items named by id, what was
//! expected, the nearest valid name where one is close, and not a byte written.

use std::fs;
use std::path::Path;

use crate::common::{chipmarket, data, show};

/// What the command reads.
enum Input {
    /// tiny.toml with the first `from` replaced by `to`.
    Edit(&'static str, &'static str),
    /// This text as the scenario.
    Text(&'static str),
    /// These bytes as the scenario.
    Bytes(&'static [u8]),
    /// tiny.toml as it is: the flags are the bad input.
    Tiny,
    /// No scenario argument: the embedded baseline.
    Baseline,
    /// A folder given as the scenario.
    Folder,
    /// A path that does not exist.
    Missing,
    /// A path through a file (`bad.toml/inner.toml`), which cannot be opened.
    ThroughFile,
}

/// Where the message must say the problem is.
enum At {
    /// `bad.toml:LINE:COL:` of the first `marker` in the scenario text, `skip` bytes on.
    Text(&'static str, usize),
    /// `bad.toml:LINE:COL:` just after `marker` (`key = `), searched from the edit on.
    Value(&'static str),
    /// `--set ARG:`, and no line.
    Set(&'static str),
    /// This name (a file or a flag), with no line.
    Named(&'static str),
}

struct Case {
    input: Input,
    /// Flags after the scenario.
    args: &'static [&'static str],
    at: At,
    /// Dotted key path, empty if the refusal has none.
    path: &'static str,
    /// A phrase of what was expected (or what is wrong).
    expected: &'static str,
    /// The valid name offered as `did you mean "..."`.
    near: Option<&'static str>,
}

const fn case(input: Input, at: At, path: &'static str, expected: &'static str) -> Case {
    Case { input, args: &[], at, path, expected, near: None }
}

const fn set(arg: &'static str, path: &'static str, expected: &'static str) -> Case {
    Case { input: Input::Tiny, args: &[], at: At::Set(arg), path, expected, near: None }
}

impl Case {
    const fn near(mut self, near: &'static str) -> Case {
        self.near = Some(near);
        self
    }

    const fn args(mut self, args: &'static [&'static str]) -> Case {
        self.args = args;
        self
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// One-based line and column (in characters) of byte `pos` of `text`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos];
    (before.matches('\n').count() + 1, before.rsplit('\n').next().unwrap().chars().count() + 1)
}

fn check(case: &Case) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    let text: Option<String> = match case.input {
        Input::Edit(from, to) => {
            assert!(tiny.contains(from), "{from:?} is not in tiny.toml");
            Some(tiny.replacen(from, to, 1))
        }
        Input::Text(text) => Some(text.to_string()),
        Input::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Input::Tiny => Some(tiny.clone()),
        _ => None,
    };
    let file = match case.input {
        Input::Edit(..) | Input::Text(_) | Input::Tiny => {
            fs::write(dir.join("bad.toml"), text.as_deref().unwrap()).unwrap();
            Some("bad.toml")
        }
        Input::Bytes(bytes) => {
            fs::write(dir.join("bad.toml"), bytes).unwrap();
            Some("bad.toml")
        }
        Input::Folder => {
            fs::create_dir(dir.join("bad.toml")).unwrap();
            Some("bad.toml")
        }
        Input::ThroughFile => {
            fs::write(dir.join("bad.toml"), &tiny).unwrap();
            Some("bad.toml/inner.toml")
        }
        Input::Missing => Some("missing.toml"),
        Input::Baseline => None,
    };
    let mut args = vec!["run"];
    args.extend(file);
    args.extend(["--out", "out", "--quiet"]);
    if let At::Set(arg) = case.at {
        args.extend(["--set", arg]);
    }
    args.extend(case.args);

    let before = listing(dir);
    let out = chipmarket(dir, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    let ctx = show(&args, dir, &out);
    assert_eq!(out.status.code(), Some(2), "{ctx}");
    assert!(!err.contains("panicked"), "{ctx}");
    assert_eq!(listing(dir), before, "invalid input writes nothing, not even a temporary folder\n{ctx}");

    match case.at {
        At::Text(marker, skip) => {
            let text = text.as_deref().expect("a place in the text needs a text");
            let pos = text.find(marker).unwrap_or_else(|| panic!("{marker:?} is not in the scenario")) + skip;
            let (line, col) = line_col(text, pos);
            assert!(err.contains(&format!("bad.toml:{line}:{col}: ")), "expected bad.toml:{line}:{col}\n{ctx}");
        }
        At::Value(marker) => {
            let text = text.as_deref().expect("a place in the text needs a text");
            let edit = match case.input {
                Input::Edit(from, _) => tiny.find(from).unwrap(),
                _ => 0,
            };
            let found = text[edit..].find(marker).unwrap_or_else(|| panic!("{marker:?} is not in the edit"));
            let pos = edit + found + marker.len();
            let (line, col) = line_col(text, pos);
            assert!(err.contains(&format!("bad.toml:{line}:{col}: ")), "expected bad.toml:{line}:{col}\n{ctx}");
        }
        At::Set(arg) => {
            assert!(err.contains(&format!("--set {arg}: ")), "expected the --set argument\n{ctx}");
            assert!(!err.contains(".toml:"), "a --set error names the argument, not a line\n{ctx}");
        }
        At::Named(name) => assert!(err.contains(name), "expected {name:?}\n{ctx}"),
    }
    if !case.path.is_empty() {
        assert!(err.contains(&format!(" {}: ", case.path)), "expected the key path {:?}\n{ctx}", case.path);
    }
    assert!(err.contains(case.expected), "expected {:?}\n{ctx}", case.expected);
    if let Some(near) = case.near {
        assert!(err.contains(&format!("did you mean \"{near}\"")), "expected did you mean {near:?}\n{ctx}");
    }

    // `validate` reads the file the same way and says the same thing.
    if let (Some(file), [], false) = (file, case.args, matches!(case.at, At::Set(_))) {
        let vargs = ["validate", file];
        let v = chipmarket(dir, &vargs);
        let verr = String::from_utf8_lossy(&v.stderr);
        assert_eq!(v.status.code(), Some(2), "{}", show(&vargs, dir, &v));
        let first = err.lines().next().unwrap();
        assert!(verr.contains(first), "validate differs from run: {first:?}\n{}", show(&vargs, dir, &v));
    }
}

fn check_all(cases: &[Case]) {
    for case in cases {
        check(case);
    }
}

#[test]
fn toml_syntax_errors() {
    check_all(&[
        case(
            Input::Edit("tenders_per_year = 12.0", "tenders_per_year = = 12.0"),
            At::Value("tenders_per_year = "),
            "demand.tenders_per_year",
            "invalid TOML",
        ),
        case(Input::Edit("[demand]", "[demand"), At::Text("[demand", 7), "", "invalid table header"),
        case(
            Input::Edit("ecosystem = 0.9", "ecosystem = 0.9\necosystem = 0.8"),
            At::Text("ecosystem = 0.8", 0),
            "firms.usa.ecosystem",
            "duplicate key `ecosystem`",
        ),
        case(
            Input::Edit("start = \"2024-01-01\"", "start = 2024-13-01"),
            At::Text("13-01", 0),
            "scenario.start",
            "invalid date-time",
        ),
        case(
            Input::Edit("seed = 7", "seed = 99999999999999999999"),
            At::Value("seed = "),
            "scenario.seed",
            "number too large",
        ),
    ]);
}

#[test]
fn unknown_keys_and_values_suggest_the_nearest() {
    check_all(&[
        case(
            Input::Edit("ecosystem = 0.9", "ecosystm = 0.9"),
            At::Text("ecosystm", 0),
            "firms.usa.ecosystm",
            "unknown key \"ecosystm\"; expected one of: id, name, origin",
        )
        .near("ecosystem"),
        case(Input::Edit("[demand]", "[demnd]"), At::Text("demnd", 0), "demnd", "unknown key \"demnd\"").near("demand"),
        case(
            Input::Edit("relationships = { dom = 0.5 }", "weights = { prise = 1.0 }"),
            At::Text("prise", 0),
            "customers.cloud.weights.prise",
            "expected one of: price, performance",
        )
        .near("price"),
        case(
            Input::Edit("name = \"tiny\"", "name = \"tiny\"\nhorizn = 3"),
            At::Text("horizn", 0),
            "scenario.horizn",
            "unknown key",
        )
        .near("horizon_years"),
        case(
            Input::Edit("origin = \"domestic\"", "origin = \"domestik\""),
            At::Value("origin = "),
            "firms.dom.origin",
            "unknown value \"domestik\"; expected one of: domestic, foreign",
        )
        .near("domestic"),
        case(
            Input::Edit("kind = \"state\"", "kind = \"stat\""),
            At::Value("kind = "),
            "customers.telco.kind",
            "unknown value \"stat\"",
        )
        .near("state"),
    ]);
}

#[test]
fn wrong_types() {
    check_all(&[
        case(
            Input::Edit("horizon_years = 2", "horizon_years = \"two\""),
            At::Value("horizon_years = "),
            "scenario.horizon_years",
            "found string \"two\", expected a number",
        ),
        case(
            Input::Edit("bf16_tflops = 900.0", "bf16_tflops = true"),
            At::Value("bf16_tflops = "),
            "firms.usa.chips.usa_1.bf16_tflops",
            "expected a number",
        ),
        case(
            Input::Edit("replications = 2", "replications = 2.5"),
            At::Value("replications = "),
            "scenario.replications",
            "expected a whole number",
        ),
        case(
            Input::Edit("replications = 2", "replications = -1"),
            At::Value("replications = "),
            "scenario.replications",
            "expected a whole number",
        ),
        case(
            Input::Edit("tenders_per_year = 12.0", "tenders_per_year = [12.0]"),
            At::Value("tenders_per_year = "),
            "demand.tenders_per_year",
            "found an array, expected a number",
        ),
        case(
            Input::Edit("origin = \"foreign\"\n", ""),
            At::Text("[[firms]]\nid = \"usa\"", 0),
            "firms.usa.origin",
            "missing key \"origin\"",
        ),
    ]);
}

#[test]
fn values_out_of_range() {
    check_all(&[
        case(
            Input::Edit(
                "ecosystem = 0.9\ncapacity_units_per_quarter = 4000.0",
                "ecosystem = 0.9\ncapacity_units_per_quarter = -4000.0",
            ),
            At::Text("-4000.0", 0),
            "firms.usa.capacity_units_per_quarter",
            "expected a finite number >= 0, found -4000",
        ),
        case(
            Input::Edit("unit_cost_usd = 8000.0", "unit_cost_usd = -8000.0"),
            At::Value("unit_cost_usd = "),
            "firms.usa.chips.usa_1.unit_cost_usd",
            "expected a cost in USD above 0, found -8000",
        ),
        case(
            Input::Edit("unit_cost_usd = 8000.0", "unit_cost_usd = 8000.0\nprice_usd = -1.0"),
            At::Value("price_usd = "),
            "firms.usa.chips.usa_1.price_usd",
            "expected a price in USD above 0",
        ),
        case(
            Input::Edit("[policy.regimes.open]", "[policy.regimes.open]\nlicense_approval_prob = 1.5"),
            At::Value("license_approval_prob = "),
            "policy.regimes.open.license_approval_prob",
            "between 0 and 1, found 1.5",
        ),
        case(
            Input::Edit("relationships = { dom = 0.5 }", "relationships = { dom = 1.5 }"),
            At::Text("1.5", 0),
            "customers.cloud.relationships.dom",
            "between 0 and 1, found 1.5",
        ),
        case(
            Input::Edit("bf16_tflops = 900.0", "bf16_tflops = nan"),
            At::Value("bf16_tflops = "),
            "firms.usa.chips.usa_1.bf16_tflops",
            "found nan",
        ),
        case(
            Input::Edit("saturation_pflops = 50000.0", "saturation_pflops = inf"),
            At::Value("saturation_pflops = "),
            "demand.saturation_pflops",
            "nan and inf are not allowed",
        ),
        case(
            Input::Edit("installed_start_pflops = 1000.0", "installed_start_pflops = -inf"),
            At::Value("installed_start_pflops = "),
            "demand.installed_start_pflops",
            "found -inf",
        ),
        case(
            Input::Edit("horizon_years = 2", "horizon_years = 0"),
            At::Value("horizon_years = "),
            "scenario.horizon_years",
            "from 0.00274 (one day) to 100, found 0",
        ),
        case(
            Input::Edit("replications = 2", "replications = 0"),
            At::Value("replications = "),
            "scenario.replications",
            "from 1 to 1000000, found 0",
        ),
        case(
            Input::Edit("name = \"tiny\"", "name = \"tiny run\""),
            At::Value("name = "),
            "scenario.name",
            "expected an id of letters, digits",
        ),
        case(
            Input::Edit("demand_share = 0.4", "demand_share = 0.5"),
            At::Text("[[customers]]", 2),
            "customers",
            "expected demand_share values adding up to 1, found a sum of 1.1",
        ),
    ]);
}

#[test]
fn ids_and_references() {
    check_all(&[
        case(
            Input::Edit("id = \"usa\"", "id = \"dom\" # again"),
            At::Text("\"dom\" # again", 0),
            "firms.dom.id",
            "duplicate firm id \"dom\"",
        ),
        case(
            Input::Edit("id = \"usa_1\"", "id = \"dom_1\" # again"),
            At::Text("\"dom_1\" # again", 0),
            "firms.usa.chips.dom_1.id",
            "duplicate chip id \"dom_1\"",
        ),
        case(
            Input::Edit("regime = \"ban\"", "regime = \"bann\""),
            At::Value("regime = "),
            "policy.schedule.0.regime",
            "no regime \"bann\"; expected one of: ban, open",
        )
        .near("ban"),
        case(
            Input::Edit("initial = \"open\"", "initial = \"opne\""),
            At::Value("initial = "),
            "policy.initial",
            "no regime \"opne\"",
        )
        .near("open"),
        case(
            Input::Edit("relationships = { dom = 0.5 }", "relationships = { dmo = 0.5 }"),
            At::Text("dmo", 0),
            "customers.cloud.relationships.dmo",
            "no firm \"dmo\"; expected one of: dom, usa",
        )
        .near("dom"),
        case(
            Input::Edit(
                "[[customers]]",
                "[[suppliers]]\nid = \"fab\"\nkind = \"foundry\"\ncapacity_per_quarter = 100.0\n\n\
                 [[links]]\nsupplier = \"fab\"\nfirm = \"uas\"\n\n[[customers]]",
            ),
            At::Value("firm = "),
            "links.0.firm",
            "no firm \"uas\"",
        )
        .near("usa"),
        case(
            Input::Edit("foreign_max_tpp = 0.0", "foreign_max_tpp = 0.0\ncut_links = [\"us_tools\"]"),
            At::Text("[\"us_tools\"]", 1),
            "policy.regimes.ban.cut_links.0",
            "no link tag \"us_tools\"; the scenario defines no link tag",
        ),
    ]);
}

#[test]
fn dates() {
    check_all(&[
        case(
            Input::Edit("launch = \"2023-01-01\"", "launch = \"2023-02-30\""),
            At::Value("launch = "),
            "firms.usa.chips.usa_1.launch",
            "invalid date \"2023-02-30\"",
        ),
        case(
            Input::Edit("start = \"2024-01-01\"", "start = \"yesterday\""),
            At::Value("start = "),
            "scenario.start",
            "expected a real date written YYYY-MM-DD",
        ),
        case(
            Input::Edit("launch = \"2023-01-01\"", "launch = \"2023-01-01\"\nend_of_sale = \"2022-06-30\""),
            At::Value("end_of_sale = "),
            "firms.usa.chips.usa_1.end_of_sale",
            "expected a date after launch (2023-01-01), found 2022-06-30",
        ),
    ]);
}

const NO_FIRMS: &str = "firms = []\n\n[scenario]\nname = \"x\"\nstart = \"2024-01-01\"\nhorizon_years = 1\n\n\
                        [demand]\ninstalled_start_pflops = 1.0\nsaturation_pflops = 2.0\n\n\
                        [[customers]]\nid = \"c\"\nkind = \"state\"\ndemand_share = 1.0\n";

const NO_FIRMS_KEY: &str = "[scenario]\nname = \"x\"\nstart = \"2024-01-01\"\nhorizon_years = 1\n\n\
                            [demand]\ninstalled_start_pflops = 1.0\nsaturation_pflops = 2.0\n";

#[test]
fn empty_and_unreadable_files() {
    check_all(&[
        case(
            Input::Text(NO_FIRMS),
            At::Value("firms = "),
            "firms",
            "expected at least one [[firms]] entry, found none",
        ),
        case(Input::Text(NO_FIRMS_KEY), At::Text("", 0), "firms", "missing key \"firms\""),
        case(Input::Text(""), At::Text("", 0), "", "the scenario is empty"),
        case(Input::Text("  \n\t\n"), At::Text("", 0), "", "the scenario is empty"),
        case(Input::Bytes(b"[scenario]\nname = \"x\0\"\n"), At::Text("\0", 0), "", "not a text file"),
        case(Input::Bytes(b"[scenario]\nname = \"t\xe9st\"\n"), At::Text("\u{fffd}", 0), "", "not UTF-8 text"),
        case(Input::Folder, At::Named("'bad.toml'"), "", "is a folder"),
        case(Input::Missing, At::Named("'missing.toml'"), "", "cannot read scenario"),
        case(Input::ThroughFile, At::Named("'bad.toml/inner.toml'"), "", "cannot read scenario"),
    ]);
}

#[test]
fn bad_set_paths_and_values() {
    check_all(&[
        set("firms.usa.ecosystem", "", "expected PATH=VALUE, found \"firms.usa.ecosystem\""),
        set("firms..ecosystem=1", "", "is not a key path"),
        set("firms.usa.ecosystm=0.5", "firms.usa.ecosystm", "unknown key \"ecosystm\"").near("ecosystem"),
        set("scenaro.seed=3", "scenaro", "unknown key \"scenaro\"").near("scenario"),
        Case { input: Input::Baseline, ..set("firms.theed.rd_intensity=0.3", "firms", "no item \"theed\"") }
            .near("thead"),
        set("firms.usaa.ecosystem=0.5", "firms", "no item \"usaa\" in `firms`").near("usa"),
        set("firms.usa.chips.usa_2.price_usd=3", "firms.usa.chips", "no item \"usa_2\"").near("usa_1"),
        set("policy.regimes.opn.export_fee=0.1", "policy.regimes.opn", "no regime \"opn\"").near("open"),
        set("suppliers.fab.capacity_per_quarter=1", "suppliers", "no item \"fab\" in `suppliers`"),
        set("firms.usa.ecosystem=abc", "firms.usa.ecosystem", "found string \"abc\", expected a number"),
        set("firms.usa.ecosystem=2", "firms.usa.ecosystem", "between 0 and 1, found 2"),
        set("scenario.horizon_years=nan", "scenario.horizon_years", "found nan"),
        set("scenario.start=2024-02-30", "scenario.start", "invalid date"),
        set("firms.usa.origin=domestik", "firms.usa.origin", "unknown value \"domestik\"").near("domestic"),
        set("scenario.seed.x=1", "scenario.seed", "`scenario.seed` is a value, so it has no key \"x\""),
        set("firms.usa=3", "firms.usa", "is a whole list item"),
    ]);
}

#[test]
fn bad_flags() {
    check_all(&[
        case(Input::Tiny, At::Named("--replications"), "", "expected a whole number of at least 1, found 0")
            .args(&["--replications", "0"]),
        case(Input::Tiny, At::Named("--replications"), "", "'-2'").args(&["--replications", "-2"]),
        case(Input::Tiny, At::Named("--seed"), "", "invalid value '-1'").args(&["--seed", "-1"]),
        case(Input::Tiny, At::Named("--seed"), "", "invalid value '99999999999999999999'")
            .args(&["--seed", "99999999999999999999"]),
        case(Input::Tiny, At::Named("'--sed'"), "", "'--seed'").args(&["--sed", "3"]),
    ]);
}

#[test]
fn validate_reports_every_bad_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tiny = fs::read_to_string(data("tiny.toml")).unwrap();
    fs::write(dir.join("a.toml"), tiny.replace("ecosystem = 0.9", "ecosystm = 0.9")).unwrap();
    fs::write(dir.join("b.toml"), tiny.replace("[demand]", "[demand")).unwrap();
    fs::write(dir.join("good.toml"), &tiny).unwrap();
    let args = ["validate", "a.toml", "b.toml", "good.toml", "c.toml"];
    let out = chipmarket(dir, &args);
    let ctx = show(&args, dir, &out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{ctx}");
    let a_line = tiny.lines().position(|l| l.starts_with("ecosystem")).unwrap() + 1;
    let b_line = tiny.lines().position(|l| l == "[demand]").unwrap() + 1;
    assert!(err.contains(&format!("a.toml:{a_line}:1: firms.usa.ecosystm: unknown key")), "{ctx}");
    assert!(err.contains(&format!("b.toml:{b_line}:8: invalid TOML")), "{ctx}");
    assert!(err.contains("cannot read scenario 'c.toml'"), "{ctx}");
    assert!(err.contains("3 of 4 file(s) invalid: a.toml, b.toml, c.toml"), "{ctx}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: good.toml"), "{ctx}");
}
