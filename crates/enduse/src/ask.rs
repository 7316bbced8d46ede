//! Requests as data: [`Ask`] (a decision), and the smaller requests of the
//! other questions. Each is serde, so that a front end reads it from
//! arguments, a JSON line or an HTTP body alike, and the corpus's `request`
//! is one too.

use crate::error::{cut, Error, Result};
use crate::geo::Point;
use chrono::NaiveDate;
use enduse_core::{DateError, DateSpec, RequestError};
use serde::{Deserialize, Serialize};

/// A request for a decision: may `actor` do `action` with the item, where or
/// to whom, on `as_of`, as the public record stood on `known_at`?
///
/// It is the shape of the corpus's `request` (with the case's `as_of` and
/// `known_at`) and of an HTTP body. Names resolve as codes do: `"UK"` is
/// GB, `"Kursk"` is RU-KRS, `"Leopard 2"` is a model, when unambiguous.
///
/// ```
/// let ask: enduse::Ask = serde_json::from_str(
///     r#"{"actor": "UA", "action": "use", "model": "ATACMS",
///         "at": {"lat": 51.7, "lon": 36.2}, "as_of": "2024-09-11"}"#,
/// )?;
/// assert_eq!(ask.model.as_deref(), Some("ATACMS"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// The acting party: a code (`UA`) or a name (`Ukraine`).
    pub actor: String,
    /// `use`, `deploy`, `transfer` or `reexport`.
    pub action: String,
    /// The item model, by designation, name or alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// One lot, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// Where: an ISO 3166 code (`RU-KRS`) or a place's name (`Kursk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Where, as a point: the place, the border distance, who controls it and
    /// the named areas containing it are computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Point>,
    /// To whom (transfer and reexport need one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// Class of target, from the data set's vocabulary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_class: Option<String>,
    /// Purpose of the use, from the data set's vocabulary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Final destination of a transfer, where it differs from the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Distance from the Ukraine-Russia land border in km (0 or more; a
    /// decimal is rounded up to whole km, as a point's distance is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub border_distance_km: Option<f64>,
    /// Which facts to use: `reported` (the default) or `confirmed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The day of the action (`YYYY-MM-DD`), or a month (`YYYY-MM`): then
    /// every day of it is decided (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// The day whose public record is used (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_at: Option<String>,
    /// Authorities to evaluate as if they had approved (`US:SecDef`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<String>,
}

impl Ask {
    /// A request of `actor` to do `action` with `model`, every other field
    /// empty.
    pub fn new(actor: &str, action: &str, model: &str) -> Self {
        Ask {
            actor: actor.into(),
            action: action.into(),
            model: Some(model.into()),
            ..Ask::default()
        }
    }
}

/// An item: a model, a lot, or a lot of a model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemAsk {
    /// The model, by designation, name or alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// One lot, by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
}

/// Which parties bind an item held by an actor, on a day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainAsk {
    /// The party holding or using the item.
    pub actor: String,
    /// The item.
    #[serde(flatten)]
    pub item: ItemAsk,
    /// The day (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

/// A party's rules in force on a day, as known on another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliciesAsk {
    /// The party.
    pub party: String,
    /// The day (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// The day whose public record is used (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_at: Option<String>,
}

/// Where a point lies, on a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhereAsk {
    /// The point.
    pub at: Point,
    /// The day for control and named areas (default: today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

/// The days a decision is about: one, or each day of a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Days {
    /// One day.
    Day(NaiveDate),
    /// Every day from the first to the last, both included.
    Month(NaiveDate, NaiveDate),
}

impl Days {
    pub(crate) fn first(self) -> NaiveDate {
        match self {
            Days::Day(d) | Days::Month(d, _) => d,
        }
    }

    pub(crate) fn last(self) -> NaiveDate {
        match self {
            Days::Day(d) | Days::Month(_, d) => d,
        }
    }
}

fn bad_date(field: &'static str, value: &str, reason: String, help: String) -> Error {
    RequestError::BadDate {
        field,
        value: cut(value),
        reason,
        help,
    }
    .into()
}

/// Reads a date option: a day, or (where `month` allows) a month. `one_day`
/// says, for a month where one is not taken, why one day is needed
/// (`` `policies` answers for one day``).
pub(crate) fn days(
    field: &'static str,
    s: Option<&str>,
    today: NaiveDate,
    month: bool,
    one_day: &str,
) -> Result<Days> {
    let Some(s) = s else {
        return Ok(Days::Day(today));
    };
    let shape_help = if month {
        "write a day as YYYY-MM-DD, for example 2024-09-11, or a month as YYYY-MM"
    } else {
        "write a day as YYYY-MM-DD, for example 2024-09-11"
    };
    let is_month_shape = {
        let t = s.trim();
        t.len() == 7 && t.as_bytes().get(4) == Some(&b'-') && !t.contains("..")
    };
    match DateSpec::parse(s) {
        Ok(d) if d.is_precise() && !s.contains("..") => Ok(Days::Day(d.earliest())),
        Ok(d) if is_month_shape && month => Ok(Days::Month(d.earliest(), d.latest())),
        Ok(d) if is_month_shape => Err(bad_date(
            field,
            s,
            format!("is a month, and {one_day}"),
            format!(
                "give a day of it, for example {}; only `check` takes a month, and decides each of its days",
                d.earliest()
            ),
        )),
        Ok(_) => Err(bad_date(
            field,
            s,
            if month {
                "is neither a day nor a month".into()
            } else {
                "is not a single day".into()
            },
            shape_help.into(),
        )),
        Err(DateError::NoSuchDay(_)) => Err(bad_date(
            field,
            s,
            if is_month_shape {
                "is not a month of the calendar".into()
            } else {
                "is not a day of the calendar".into()
            },
            shape_help.into(),
        )),
        Err(_) => Err(bad_date(
            field,
            s,
            "is not a date".into(),
            shape_help.into(),
        )),
    }
}

/// Reads a date option that must be one day.
pub(crate) fn day(
    field: &'static str,
    s: Option<&str>,
    today: NaiveDate,
    one_day: &str,
) -> Result<NaiveDate> {
    Ok(days(field, s, today, false, one_day)?.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        enduse_core::parse_day(s).unwrap()
    }

    #[test]
    fn a_month_is_every_day_of_it_where_a_month_is_taken() {
        let today = d("2026-11-01");
        assert_eq!(
            days("as-of", Some("2024-09"), today, true, "check").unwrap(),
            Days::Month(d("2024-09-01"), d("2024-09-30"))
        );
        let e = days(
            "as-of",
            Some("2024-09"),
            today,
            false,
            "`policies` answers for one day",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "as-of `2024-09`: is a month, and `policies` answers for one day"
        );
        assert!(e.help_text().unwrap().contains("2024-09-01"));
        let e = days("as-of", Some("2024-02-30"), today, true, "check").unwrap_err();
        assert_eq!(
            e.to_string(),
            "as-of `2024-02-30`: is not a day of the calendar"
        );
        let e = days("as-of", Some("2024-13"), today, true, "check").unwrap_err();
        assert!(e.to_string().contains("not a month"), "{e}");
        let e = days("as-of", Some("11/09/2024"), today, true, "check").unwrap_err();
        assert_eq!(e.to_string(), "as-of `11/09/2024`: is not a date");
        let e = days("as-of", Some("2024"), today, true, "check").unwrap_err();
        assert_eq!(e.to_string(), "as-of `2024`: is neither a day nor a month");
        assert_eq!(
            days("as-of", None, today, true, "check").unwrap(),
            Days::Day(today)
        );
    }

    #[test]
    fn asks_read_the_corpus_shape_and_refuse_unknown_fields() {
        let a: Ask = serde_json::from_str(
            r#"{"actor": "UA", "action": "use", "model": "HIMARS", "at": "50.6,36.6",
                "border_distance_km": 12.5, "approvals": ["US:SecDef"], "as_of": "2024-06-15"}"#,
        )
        .unwrap();
        assert_eq!(a.at, Some(Point::Text("50.6,36.6".into())));
        assert_eq!(a.border_distance_km, Some(12.5));
        let back: Ask = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        assert!(
            serde_json::from_str::<Ask>(r#"{"actor": "UA", "action": "use", "modle": "X"}"#)
                .is_err()
        );
    }
}
