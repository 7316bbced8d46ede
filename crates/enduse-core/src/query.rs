//! Requests to the engine and the errors a request can have.

use crate::ids::{AuthorityId, LotId, ModelId, PartyId, PlaceCode};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the actor wants to do with the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Fire, lay, operate.
    Use,
    /// Station or position (without use).
    Deploy,
    /// Hand over items the actor makes or owns as first holder.
    Transfer,
    /// Pass on items received from another party.
    Reexport,
}

impl Action {
    /// All actions, in index order.
    pub const ALL: [Action; 4] = [
        Action::Use,
        Action::Deploy,
        Action::Transfer,
        Action::Reexport,
    ];

    /// The Cedar action id.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Use => "use",
            Action::Deploy => "deploy",
            Action::Transfer => "transfer",
            Action::Reexport => "reexport",
        }
    }

    /// Parses a Cedar action id.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub(crate) fn index(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The item a request is about: any lot of a model, or one lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemRef {
    /// Every lot of this model the actor holds.
    Model(ModelId),
    /// One lot.
    Lot(LotId),
}

/// A question: may `actor` do `action` with `item`, on `as_of`, as the public
/// record stood on `known_at`?
#[derive(Debug, Clone, Serialize)]
pub struct Query {
    /// Who acts.
    pub actor: PartyId,
    /// What they do.
    pub action: Action,
    /// With what.
    pub item: ItemRef,
    /// Where (for use and deploy).
    pub place: Option<PlaceCode>,
    /// To whom (for transfer and re-export).
    pub recipient: Option<PartyId>,
    /// Against what kind of target (a declared target class).
    pub target_class: Option<String>,
    /// For what purpose (a declared purpose: self-defence, counter-fire).
    pub purpose: Option<String>,
    /// For transfer and re-export: the final destination, where it differs
    /// from the immediate recipient.
    pub destination: Option<PartyId>,
    /// Which facts to use: confirmed and reported (default), or confirmed only.
    pub statuses: crate::vocab::StatusFilter,
    /// Distance of the place from the Ukraine-Russia land border, in km.
    pub border_distance_km: Option<i64>,
    /// The named areas that contain the point of the request (computed from
    /// coordinates; `None` when the request gives no point).
    pub areas: Option<Vec<String>>,
    /// Who controls the place on the as-of day (computed from a control
    /// layer when the place is given as coordinates).
    pub controlled_by: Option<PartyId>,
    /// The day the action would take place.
    pub as_of: NaiveDate,
    /// The day whose public record is used.
    pub known_at: NaiveDate,
    /// Authorities that have approved (the decision is evaluated as if they had).
    pub approvals: Vec<AuthorityId>,
}

/// A request the engine cannot answer, with what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum RequestError {
    /// No such party.
    #[error("unknown party `{id}`")]
    #[diagnostic(code(enduse::unknown_party), help("{help}"))]
    UnknownParty {
        /// What was given.
        id: String,
        /// Suggestions.
        help: String,
    },
    /// No such model.
    #[error("unknown item model `{id}`")]
    #[diagnostic(code(enduse::unknown_model), help("{help}"))]
    UnknownModel {
        /// What was given.
        id: String,
        /// Suggestions.
        help: String,
    },
    /// No such lot.
    #[error("unknown lot `{id}`")]
    #[diagnostic(code(enduse::unknown_lot), help("{help}"))]
    UnknownLot {
        /// What was given.
        id: String,
        /// Suggestions.
        help: String,
    },
    /// No such place.
    #[error("unknown place `{id}`")]
    #[diagnostic(code(enduse::unknown_place), help("{help}"))]
    UnknownPlace {
        /// What was given.
        id: String,
        /// Suggestions.
        help: String,
    },
    /// No such authority.
    #[error("unknown authority `{id}`")]
    #[diagnostic(code(enduse::unknown_authority), help("{help}"))]
    UnknownAuthority {
        /// What was given.
        id: String,
        /// Suggestions.
        help: String,
    },
    /// A target class or purpose the data set does not declare.
    #[error("unknown {what} `{id}`")]
    #[diagnostic(code(enduse::unknown_term), help("{help}"))]
    UnknownTerm {
        /// `target class` or `purpose`.
        what: &'static str,
        /// What was given.
        id: String,
        /// Suggestions.
        help: String,
    },
    /// The engine could not build a request (a bug, never the user's input).
    #[error("internal error: {0}")]
    #[diagnostic(code(enduse::internal))]
    Internal(String),
    /// A lot given together with a different model.
    #[error("lot `{lot}` is of model `{lot_model}`, not `{model}`")]
    #[diagnostic(
        code(enduse::lot_model_mismatch),
        help("give either the lot or the model, or make them agree")
    )]
    LotModelMismatch {
        /// The lot.
        lot: String,
        /// The lot's model.
        lot_model: String,
        /// The model given.
        model: String,
    },
    /// A date that cannot be used.
    #[error("{field} `{value}`: {reason}")]
    #[diagnostic(code(enduse::bad_date), help("{help}"))]
    BadDate {
        /// `as-of` or `known-at`.
        field: &'static str,
        /// What was given.
        value: String,
        /// Why it is refused.
        reason: String,
        /// How to fix it.
        help: String,
    },
}

/// Checks the dates of a request against today's date.
///
/// A `known_at` after today is refused: the record cannot know what is not yet
/// public. A `known_at` before `as_of` is allowed: it asks what the record of
/// that day said about a later day (announced changes count, later ones do not).
/// An `as_of` in the future is allowed for the same reason.
pub fn check_dates(
    as_of: NaiveDate,
    known_at: NaiveDate,
    today: NaiveDate,
) -> Result<(), RequestError> {
    let _ = as_of;
    if known_at > today {
        return Err(RequestError::BadDate {
            field: "known-at",
            value: known_at.to_string(),
            reason: format!(
                "is after today ({today}); the public record of a future day is not known"
            ),
            help: "omit --known-at to use today's record, or give a past day".into(),
        });
    }
    Ok(())
}

/// Up to three known names closest to `given`, for a help line. An entry
/// of `known` may be `CODE\tName`: it is then compared by code and by name,
/// and shown as `` `CODE` (Name)``. Only the closest few are shown: a
/// suggestion much further off than the best one is left out.
pub(crate) fn suggest<'a>(given: &str, known: impl Iterator<Item = &'a str>) -> String {
    let g = given.to_lowercase();
    let score = |k: &str| {
        let kl = k.to_lowercase();
        if kl.contains(&g) || g.contains(&kl) {
            0
        } else {
            levenshtein(&g, &kl)
        }
    };
    // A name is compared whole and word by word ("Kurks" is near "Kursk
    // oblast" through its first word).
    let by_name = |name: &str| {
        name.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .map(|w| levenshtein(&g, &w.to_lowercase()))
            .fold(score(name), usize::min)
    };
    let mut scored: Vec<(usize, &str, Option<&str>)> = known
        .map(|k| match k.split_once('\t') {
            Some((code, name)) => (score(code).min(by_name(name)), code, Some(name)),
            None => (score(k), k, None),
        })
        .collect();
    scored.sort();
    let show = |(_, code, name): &(usize, &str, Option<&str>)| match name {
        Some(n) => format!("`{code}` ({n})"),
        None => format!("`{code}`"),
    };
    let best = scored.first().map_or(0, |(d, ..)| *d);
    let close: Vec<String> = scored
        .iter()
        .filter(|(d, ..)| *d <= 3.max(g.len() / 3) && *d <= best + 1)
        .take(3)
        .map(show)
        .collect();
    if close.is_empty() {
        let all: Vec<String> = scored
            .iter()
            .take(12)
            .map(|(_, code, _)| code.to_string())
            .collect();
        format!("known: {}", all.join(", "))
    } else {
        format!("did you mean {}?", close.join(" or "))
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_near_misses() {
        let known = ["ATACMS", "HIMARS", "Storm Shadow"];
        assert_eq!(
            suggest("ATACM", known.iter().copied()),
            "did you mean `ATACMS`?"
        );
        assert!(suggest("zzzzzzzzzzzz", known.iter().copied()).starts_with("known:"));
        // Names are compared too, and a far second guess is left out.
        let places = [
            "RU-KRS\tKursk oblast",
            "RU-PSK\tPskov",
            "RU-SE\tNorth Ossetia",
        ];
        assert_eq!(
            suggest("Kurks", places.iter().copied()),
            "did you mean `RU-KRS` (Kursk oblast)?"
        );
        assert_eq!(
            suggest("ATACM", ["ATACMS", "ERAM", "HIMARS"].iter().copied()),
            "did you mean `ATACMS`?"
        );
    }

    #[test]
    fn known_at_in_the_future_is_refused() {
        let d = |s| crate::date::parse_day(s).unwrap();
        assert!(check_dates(d("2025-06-15"), d("2025-07-01"), d("2026-01-01")).is_ok());
        assert!(check_dates(d("2025-06-15"), d("2024-01-01"), d("2026-01-01")).is_ok());
        let e = check_dates(d("2025-06-15"), d("2027-01-01"), d("2026-01-01")).unwrap_err();
        assert!(e.to_string().contains("known-at `2027-01-01`"));
    }
}
