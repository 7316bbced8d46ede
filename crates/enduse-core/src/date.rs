//! Dates as the sources give them: sometimes a day, often only a month or a
//! season. An imprecise date is kept as the range of days it could be, never
//! rounded to a guess.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A date that may be imprecise: every day from `earliest` to `latest`
/// (both inclusive) is possible. A precise date has `earliest == latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateSpec {
    earliest: NaiveDate,
    latest: NaiveDate,
}

/// Why a date string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not one of the accepted shapes.
    #[error("`{0}` is not a date: use YYYY-MM-DD, YYYY-MM, YYYY or FROM..TO")]
    Shape(String),
    /// The shape is right but the day does not exist (2024-02-30).
    #[error("`{0}` is not a day of the calendar")]
    NoSuchDay(String),
    /// A range whose end is before its start.
    #[error("the range `{0}` ends before it starts")]
    Reversed(String),
}

impl DateSpec {
    /// A precise day.
    pub fn day(d: NaiveDate) -> Self {
        Self {
            earliest: d,
            latest: d,
        }
    }

    /// A range of possible days.
    pub fn range(earliest: NaiveDate, latest: NaiveDate) -> Option<Self> {
        (earliest <= latest).then_some(Self { earliest, latest })
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM` (the whole month), `YYYY` (the whole
    /// year) or `FROM..TO` where each side is one of those shapes.
    pub fn parse(s: &str) -> Result<Self, DateError> {
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..") {
            let a = Self::parse_single(a.trim(), s)?;
            let b = Self::parse_single(b.trim(), s)?;
            return Self::range(a.earliest, b.latest).ok_or_else(|| DateError::Reversed(s.into()));
        }
        Self::parse_single(s, s)
    }

    fn parse_single(part: &str, whole: &str) -> Result<Self, DateError> {
        let shape = || DateError::Shape(whole.to_owned());
        let nums: Vec<&str> = part.split('-').collect();
        let all_digits = nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !all_digits {
            return Err(shape());
        }
        let num = |i: usize| nums[i].parse::<u32>().map_err(|_| shape());
        match nums.len() {
            3 if nums[0].len() == 4 && nums[1].len() == 2 && nums[2].len() == 2 => {
                let y = i32::try_from(num(0)?).map_err(|_| shape())?;
                NaiveDate::from_ymd_opt(y, num(1)?, num(2)?)
                    .map(Self::day)
                    .ok_or_else(|| DateError::NoSuchDay(whole.to_owned()))
            }
            2 if nums[0].len() == 4 && nums[1].len() == 2 => {
                let y = i32::try_from(num(0)?).map_err(|_| shape())?;
                let m = num(1)?;
                let first = NaiveDate::from_ymd_opt(y, m, 1)
                    .ok_or_else(|| DateError::NoSuchDay(whole.to_owned()))?;
                let next = if m == 12 {
                    NaiveDate::from_ymd_opt(y + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(y, m + 1, 1)
                };
                let last = next.and_then(|n| n.pred_opt()).ok_or_else(shape)?;
                Ok(Self {
                    earliest: first,
                    latest: last,
                })
            }
            1 if nums[0].len() == 4 => {
                let y = i32::try_from(num(0)?).map_err(|_| shape())?;
                let first = NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(shape)?;
                let last = NaiveDate::from_ymd_opt(y, 12, 31).ok_or_else(shape)?;
                Ok(Self {
                    earliest: first,
                    latest: last,
                })
            }
            _ => Err(shape()),
        }
    }

    /// The first possible day.
    pub fn earliest(&self) -> NaiveDate {
        self.earliest
    }

    /// The last possible day.
    pub fn latest(&self) -> NaiveDate {
        self.latest
    }

    /// Whether the source gave a single day.
    pub fn is_precise(&self) -> bool {
        self.earliest == self.latest
    }

    /// Whether `d` is one of the possible days but not certain to be on or
    /// after the date (so a comparison with `d` depends on the imprecision).
    pub fn straddles(&self, d: NaiveDate) -> bool {
        !self.is_precise() && self.earliest <= d && d < self.latest
    }
}

impl fmt::Display for DateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_precise() {
            return write!(f, "{}", self.earliest);
        }
        let (e, l) = (self.earliest, self.latest);
        let whole_month = e.day() == 1
            && e.year() == l.year()
            && e.month() == l.month()
            && l.succ_opt().is_some_and(|n| n.day() == 1);
        let whole_year =
            e.ordinal() == 1 && e.year() == l.year() && l.month() == 12 && l.day() == 31;
        if whole_year {
            write!(f, "{}", e.year())
        } else if whole_month {
            write!(f, "{}-{:02}", e.year(), e.month())
        } else {
            write!(f, "{e}..{l}")
        }
    }
}

impl Serialize for DateSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The inverse of `Serialize`: the text form, parsed again (it round-trips,
/// see the `display_round_trips` test).
impl<'de> Deserialize<'de> for DateSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = DateSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date: YYYY-MM-DD, YYYY-MM, YYYY or FROM..TO")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DateSpec, E> {
                DateSpec::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }
}

/// Parses a precise day (`YYYY-MM-DD`), as required for request dates.
pub fn parse_day(s: &str) -> Result<NaiveDate, DateError> {
    let d = DateSpec::parse(s)?;
    if d.is_precise() && !s.contains("..") {
        Ok(d.earliest)
    } else {
        Err(DateError::Shape(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn month_and_year_become_ranges() {
        let m = DateSpec::parse("2024-02").unwrap();
        assert_eq!((m.earliest(), m.latest()), (d(2024, 2, 1), d(2024, 2, 29)));
        let y = DateSpec::parse("2005").unwrap();
        assert_eq!((y.earliest(), y.latest()), (d(2005, 1, 1), d(2005, 12, 31)));
        let r = DateSpec::parse("2025-03-01..2025-06").unwrap();
        assert_eq!((r.earliest(), r.latest()), (d(2025, 3, 1), d(2025, 6, 30)));
        assert_eq!(r.to_string(), "2025-03-01..2025-06-30");
        assert_eq!(m.to_string(), "2024-02");
        assert_eq!(y.to_string(), "2005");
    }

    #[test]
    fn impossible_and_malformed_dates_are_refused() {
        assert_eq!(
            DateSpec::parse("2024-02-30"),
            Err(DateError::NoSuchDay("2024-02-30".into()))
        );
        assert!(matches!(
            DateSpec::parse("2024-13"),
            Err(DateError::NoSuchDay(_))
        ));
        assert!(matches!(
            DateSpec::parse("24-01-01"),
            Err(DateError::Shape(_))
        ));
        assert!(matches!(
            DateSpec::parse("yesterday"),
            Err(DateError::Shape(_))
        ));
        assert!(matches!(
            DateSpec::parse("2025-06..2025-03"),
            Err(DateError::Reversed(_))
        ));
        assert!(parse_day("2024-05").is_err());
        assert_eq!(parse_day("2024-05-30").unwrap(), d(2024, 5, 30));
    }

    proptest! {
        #[test]
        fn display_round_trips(y in 1990i32..2040, m in 1u32..=12, day in 1u32..=28, len in 0i64..400) {
            let a = d(y, m, day);
            let b = a + chrono::Duration::days(len);
            let spec = DateSpec::range(a, b).unwrap();
            let again = DateSpec::parse(&spec.to_string()).unwrap();
            prop_assert_eq!(spec, again);
        }
    }
}
