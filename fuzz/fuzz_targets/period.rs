//! Fuzz the period and quarter labels of targets files (`fit::Period::parse`,
//! `fit::parse_quarter`): any text is refused or gives a period whose label reads back to it,
//! is written only with digits, `-`, `..`, `H` and `Q`, starts before it ends, and whose
//! quarter weights add up to its number of months.
#![no_main]

use chipmarket_engine::calendar::Quarter;
use chipmarket_engine::fit::{parse_quarter, Period};
use libfuzzer_sys::fuzz_target;

/// Spans longer than this many years are checked at their ends only (for speed).
const MAX_SUMMED_YEARS: i32 = 200;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(p) = Period::parse(text) {
        assert!(p.first <= p.last, "{p:?}");
        assert_eq!(p.label, text.trim());
        assert!(
            p.label.bytes().all(|b| b.is_ascii_digit() || b"-.HQ".contains(&b)),
            "a period label holds only digits, -, .., H and Q: {:?}",
            p.label
        );
        assert_eq!(Period::parse(&p.label).as_ref(), Some(&p), "the label reads back to another period");
        assert!(p.start() < p.end(), "{p:?}: {} >= {}", p.start(), p.end());
        let (y0, y1) = (p.first.div_euclid(12), p.last.div_euclid(12));
        let quarter_of = |m: i32| Quarter { year: m.div_euclid(12), q: (m.rem_euclid(12) / 3 + 1) as u8 };
        assert!(p.weight(quarter_of(p.first)) > 0.0 && p.weight(quarter_of(p.last)) > 0.0, "{p:?}");
        assert_eq!(p.weight(quarter_of(p.first - 3)), 0.0, "{p:?}");
        assert_eq!(p.weight(quarter_of(p.last + 3)), 0.0, "{p:?}");
        if y1 - y0 <= MAX_SUMMED_YEARS {
            let thirds: f64 =
                (y0..=y1).flat_map(|year| (1..=4).map(move |q| Quarter { year, q })).map(|q| p.weight(q) * 3.0).sum();
            assert_eq!(thirds.round() as i32, p.last - p.first + 1, "{p:?}: the weights miss months");
        }
    }
    if let Some(q) = parse_quarter(text) {
        assert!((1..=4).contains(&q.q), "{q:?}");
    }
});
