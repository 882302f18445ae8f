//! Calendar time at the edges of the simulation: ISO dates, calendar quarters and their
//! mapping to the kernel's integer ticks.
//!
//! One tick is one minute. Tick 0 is midnight at the start of the scenario's `start` date.
//! The kernel only ever sees ticks; dates and quarters appear in scenarios and outputs.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::sim::SimTime;

/// Ticks in one day (one tick = one minute).
pub const TICKS_PER_DAY: u64 = 24 * 60;
/// Days in an average year, used to turn per-year rates into per-tick ones.
pub const DAYS_PER_YEAR: f64 = 365.25;
/// Ticks in an average year.
pub const TICKS_PER_YEAR: f64 = DAYS_PER_YEAR * TICKS_PER_DAY as f64;

/// A calendar date, written `YYYY-MM-DD` in scenarios and outputs.
///
/// In TOML it may be a string (`"2026-01-15"`) or a bare TOML local date (`2026-01-15`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl Date {
    /// Parse `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let text = text.trim();
        if text.len() != 10 {
            return None;
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(Date)
    }

    /// A date from year, month and day, if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        NaiveDate::from_ymd_opt(year, month, day).map(Date)
    }

    /// The calendar year.
    pub fn year(self) -> i32 {
        self.0.year()
    }

    /// The quarter this date falls in.
    pub fn quarter(self) -> Quarter {
        Quarter { year: self.0.year(), q: (self.0.month0() / 3 + 1) as u8 }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Date;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date written YYYY-MM-DD, such as \"2026-01-15\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Date, E> {
                Date::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "invalid date \"{v}\": expected a real date written YYYY-MM-DD, such as \"2026-01-15\""
                    ))
                })
            }
            // TOML's own date values arrive as a one-entry map holding their text.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Date, A::Error> {
                let Some((_, text)) = map.next_entry::<String, String>()? else {
                    return Err(serde::de::Error::custom("expected a date"));
                };
                self.visit_str(&text)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A calendar quarter, written `2026Q1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    /// Calendar year.
    pub year: i32,
    /// Quarter of the year, 1 to 4.
    pub q: u8,
}

impl Quarter {
    /// The first day of the quarter.
    pub fn first_day(self) -> Date {
        Date(NaiveDate::from_ymd_opt(self.year, u32::from(self.q - 1) * 3 + 1, 1).expect("valid quarter"))
    }

    /// The quarter after this one.
    pub fn next(self) -> Quarter {
        if self.q == 4 {
            Quarter { year: self.year + 1, q: 1 }
        } else {
            Quarter { year: self.year, q: self.q + 1 }
        }
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.q)
    }
}

/// Maps ticks to dates for one scenario.
#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    start: NaiveDate,
}

impl Calendar {
    /// A calendar whose tick 0 is the start of `start`.
    pub fn new(start: Date) -> Calendar {
        Calendar { start: start.0 }
    }

    /// The tick at the start of `date`; dates before the start map to tick 0.
    pub fn tick_of(&self, date: Date) -> SimTime {
        let days = (date.0 - self.start).num_days().max(0) as u64;
        SimTime(days * TICKS_PER_DAY)
    }

    /// The date a tick falls on.
    pub fn date_of(&self, tick: SimTime) -> Date {
        Date(self.start + Duration::days((tick.0 / TICKS_PER_DAY) as i64))
    }

    /// The quarter a tick falls in.
    pub fn quarter_of(&self, tick: SimTime) -> Quarter {
        self.date_of(tick).quarter()
    }

    /// Years from the start to `date` (negative before the start).
    pub fn years_to(&self, date: Date) -> f64 {
        (date.0 - self.start).num_days() as f64 / DAYS_PER_YEAR
    }
}

/// The dates of a calendar's first days, looked up instead of computed: a run writes a
/// date or two for every contract, and date arithmetic costs far more than a lookup.
#[derive(Debug, Clone)]
pub struct DayTable {
    cal: Calendar,
    /// The date of day `i` (from the start) at index `i`.
    dates: Vec<Date>,
}

impl DayTable {
    /// The dates of every day of `cal` up to and including the day of `until`.
    pub fn new(cal: Calendar, until: SimTime) -> DayTable {
        let days = until.0 / TICKS_PER_DAY + 1;
        let dates = std::iter::successors(Some(cal.start), |d| d.succ_opt()).take(days as usize).map(Date).collect();
        DayTable { cal, dates }
    }

    /// The date a tick falls on (computed, past the table's end).
    pub fn date_of(&self, tick: SimTime) -> Date {
        usize::try_from(tick.0 / TICKS_PER_DAY)
            .ok()
            .and_then(|day| self.dates.get(day).copied())
            .unwrap_or_else(|| self.cal.date_of(tick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_are_written_year_q_number() {
        let d = Date::parse("2026-08-08").unwrap();
        assert_eq!(d.quarter().to_string(), "2026Q3");
        assert_eq!(d.quarter().first_day().to_string(), "2026-07-01");
        assert_eq!(d.quarter().next().next().to_string(), "2027Q1");
    }

    #[test]
    fn bad_dates_are_refused() {
        for bad in ["2026-13-01", "2026-02-30", "26-01-01", "2026/01/01", "", "2026-1-1"] {
            assert!(Date::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn ticks_round_trip_through_dates() {
        let cal = Calendar::new(Date::parse("2022-01-01").unwrap());
        let d = Date::parse("2025-04-09").unwrap();
        let t = cal.tick_of(d);
        assert_eq!(cal.date_of(t), d);
        assert_eq!(cal.date_of(SimTime(t.0 + TICKS_PER_DAY - 1)), d);
        assert_eq!(cal.quarter_of(t).to_string(), "2025Q2");
    }

    #[test]
    fn the_day_table_gives_the_calendar_dates_inside_and_past_its_end() {
        let cal = Calendar::new(Date::parse("2023-12-30").unwrap());
        let until = SimTime(800 * TICKS_PER_DAY + 5);
        let table = DayTable::new(cal, until);
        assert_eq!(table.dates.len(), 801);
        for t in (0..900 * TICKS_PER_DAY).step_by(TICKS_PER_DAY as usize / 3) {
            assert_eq!(table.date_of(SimTime(t)), cal.date_of(SimTime(t)), "tick {t}");
        }
        assert_eq!(table.date_of(SimTime(61 * TICKS_PER_DAY)).to_string(), "2024-02-29");
    }
}
