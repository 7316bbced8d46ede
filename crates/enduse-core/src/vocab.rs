//! The vocabulary of real conditions beyond Cedar rules: the status of a
//! fact, decisions of authorities (consents and refusals) with their scope,
//! what a party's silence means (defaults), groups of parties with dated
//! membership, and hierarchical target classes and purposes.

use crate::date::DateSpec;
use crate::ids::{AuthorityId, LotId, ModelId, PartyId, PlaceCode, RuleId, SourceId, TransferId};
use crate::query::Action;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// How well a fact is established.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// On the record: an official statement, a government document, a law.
    #[default]
    Confirmed,
    /// A government's declared position, not a specific decision.
    StatedPosition,
    /// Reported only by media citing anonymous officials.
    Reported,
    /// An on-record denial contradicts it.
    Disputed,
}

impl Status {
    /// Every status, in order of strength.
    pub const ALL: [Status; 4] = [
        Status::Confirmed,
        Status::StatedPosition,
        Status::Reported,
        Status::Disputed,
    ];

    /// The data-set name (`stated_position`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::StatedPosition => "stated_position",
            Status::Reported => "reported",
            Status::Disputed => "disputed",
        }
    }

    /// Parses a data-set name; `stated-position` is accepted too.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().replace('-', "_");
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether a fact of this status is used under `filter`.
    pub fn used_under(self, filter: StatusFilter) -> bool {
        !matches!(
            (self, filter),
            (Status::Disputed, _) | (Status::Reported, StatusFilter::Confirmed)
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which facts a decision uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// Confirmed facts, stated positions and reported facts (flagged).
    #[default]
    Reported,
    /// Confirmed facts and stated positions only (`--status confirmed`).
    Confirmed,
}

/// What a consent decision covers. An empty list or `None` means "any".
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConsentScope {
    /// Who asked / who acts.
    pub actor: Option<PartyId>,
    /// Actions covered.
    pub actions: Vec<Action>,
    /// Models covered (a lot of the model is covered).
    pub models: Vec<ModelId>,
    /// Lots covered.
    pub lots: Vec<LotId>,
    /// Number of items, as reported (informational).
    pub quantity: Option<u64>,
    /// Recipient covered.
    pub recipient: Option<PartyId>,
    /// Places covered (a place inside one of them is covered).
    pub places: Vec<PlaceCode>,
    /// Target classes covered (a narrower class is covered).
    pub targets: Vec<String>,
    /// First day of the window in which the consent can be used.
    pub from: Option<DateSpec>,
    /// First day it can no longer be used (exclusive).
    pub to: Option<DateSpec>,
}

/// A decision of an authority on a request: consent granted or refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consent {
    /// Identifier.
    pub id: String,
    /// The authority that decided.
    pub authority: AuthorityId,
    /// Granted (true) or refused.
    pub granted: bool,
    /// The rule whose approval was asked, where the source names one.
    pub rule: Option<RuleId>,
    /// Who asked.
    pub requester: Option<PartyId>,
    /// What it covers.
    pub scope: ConsentScope,
    /// When it was decided (may be imprecise or unknown).
    pub decided: Option<DateSpec>,
    /// When it became public (may be imprecise); unknown: the earliest source's date.
    pub public: Option<DateSpec>,
    /// How well established.
    pub status: Status,
    /// Sources, earliest first.
    pub sources: Vec<SourceId>,
    /// Plain statement.
    pub summary: String,
    /// Reason given, or a short quote.
    pub quote: Option<String>,
    /// False when the record's exact scope is unknown (a refusal of a strike
    /// whose target and day were not reported): it is cited in notes, never
    /// applied.
    pub binding: bool,
    /// Caveats.
    pub note: Option<String>,
}

impl Consent {
    /// The first day the decision was surely public, given the dates of its
    /// sources (`source_date`): a grant counts only once surely public, a
    /// refusal as soon as it may have been (the stricter reading each way).
    pub fn public_bound(&self, source_date: impl Fn(&SourceId) -> Option<DateSpec>) -> NaiveDate {
        let spec = self.public.or_else(|| {
            self.sources
                .iter()
                .filter_map(&source_date)
                .min_by_key(|d| d.earliest())
        });
        match spec {
            Some(d) if self.granted => d.latest(),
            Some(d) => d.earliest(),
            // No public date and no source date: public only from its decision.
            None => self
                .decided
                .map(|d| {
                    if self.granted {
                        d.latest()
                    } else {
                        d.earliest()
                    }
                })
                .unwrap_or(NaiveDate::MAX),
        }
    }

    /// Whether the decision's window covers `as_of`, read strictly: a grant
    /// from the latest possible start, a refusal from the earliest.
    pub fn window_covers(&self, as_of: NaiveDate) -> bool {
        let start = self.scope.from.or(self.decided);
        let ok_start = match start {
            None => true,
            Some(s) if self.granted => s.latest() <= as_of,
            Some(s) => s.earliest() <= as_of,
        };
        let ok_end = match self.scope.to {
            None => true,
            Some(t) if self.granted => as_of < t.earliest(),
            Some(t) => as_of < t.latest(),
        };
        ok_start && ok_end
    }
}

/// What a party's silence means for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultEffect {
    /// What its conditions do not forbid is permitted.
    Permit,
    /// What its conditions do not permit is forbidden.
    Forbid,
    /// Needs the consent of an authority of the party.
    NeedsApproval,
}

/// A party's declared default for some actions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartyDefault {
    /// Identifier.
    pub id: String,
    /// Whose default.
    pub party: PartyId,
    /// Actions it covers.
    pub actions: Vec<Action>,
    /// What silence means.
    pub effect: DefaultEffect,
    /// For `needs_approval`: the authority.
    pub authority: Option<AuthorityId>,
    /// Only for items passed on through these transfers (empty: any).
    pub transfers: Vec<TransferId>,
    /// In force from.
    pub valid_from: DateSpec,
    /// In force until (exclusive).
    pub valid_to: Option<DateSpec>,
    /// Public since (the earliest source's date when not given).
    pub recorded_at: Option<NaiveDate>,
    /// How well established.
    pub status: Status,
    /// Sources.
    pub sources: Vec<SourceId>,
    /// Plain statement.
    pub summary: String,
    /// Short quote.
    pub quote: Option<String>,
    /// Caveats.
    pub note: Option<String>,
}

impl PartyDefault {
    /// Whether in force on `d` (read strictly for what restricts).
    pub fn in_force(&self, d: NaiveDate) -> bool {
        let restricts = self.effect != DefaultEffect::Permit;
        let start = if restricts {
            self.valid_from.earliest()
        } else {
            self.valid_from.latest()
        };
        let end = self
            .valid_to
            .map(|t| if restricts { t.latest() } else { t.earliest() });
        start <= d && end.is_none_or(|e| d < e)
    }
}

/// A dated membership of a party in a group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupMembership {
    /// The member.
    pub party: PartyId,
    /// Member from (imprecise: from its latest day).
    pub from: DateSpec,
    /// Member until (exclusive).
    pub to: Option<DateSpec>,
    /// Where recorded.
    pub source: Option<SourceId>,
}

/// A group of parties (EU, NATO, "partners").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// Identifier, as in `Group::"NATO"`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Members over time.
    pub members: Vec<GroupMembership>,
}

impl Group {
    /// Whether `party` is a member on `d`.
    pub fn has_member(&self, party: &PartyId, d: NaiveDate) -> bool {
        self.members.iter().any(|m| {
            &m.party == party && m.from.latest() <= d && m.to.is_none_or(|t| d < t.earliest())
        })
    }
}

/// A term of a hierarchical vocabulary (target classes, purposes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Term {
    /// Identifier, as in `TargetClass::"airfield"`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Broader term.
    pub parent: Option<String>,
}

/// The rule by which a treaty's withdrawal takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WithdrawalRule {
    /// Months from the notice to the effect.
    pub notice_months: u32,
    /// If the withdrawing state is engaged in an armed conflict when the
    /// period ends, the withdrawal takes effect only when the conflict ends
    /// (Ottawa Convention, Article 20(3)).
    pub not_during_armed_conflict: bool,
}

/// A named area that is not an administrative unit: a band along the
/// border, a populated area, a drawn polygon, or a union of other areas.
/// The core holds its definition; `enduse-geo` decides which areas contain a
/// point, and the request carries them as `context.areas`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedArea {
    /// Identifier, as in `Area::"kharkiv-border-band"`.
    pub id: String,
    /// Name.
    pub name: String,
    /// In force from (an area can be redrawn: a new record version).
    pub valid_from: Option<DateSpec>,
    /// In force until (exclusive).
    pub valid_to: Option<DateSpec>,
    /// Union of these places (de jure, with their subdivisions).
    pub places: Vec<PlaceCode>,
    /// Union of these other named areas.
    pub areas: Vec<String>,
    /// A band of this many km along the Ukraine-Russia land border.
    pub border_band_km: Option<f64>,
    /// For a band: only the stretch of border along these places.
    pub opposite: Vec<PlaceCode>,
    /// Only the part inside these places (e.g. `RU`).
    pub within: Vec<PlaceCode>,
    /// A GeoJSON Polygon or MultiPolygon, as text (WGS84, lon/lat).
    pub geometry: Option<String>,
    /// Populated places of Natural Earth within this many km (an urban area).
    pub populated_within_km: Option<f64>,
    /// Sources.
    pub sources: Vec<SourceId>,
    /// Caveats.
    pub note: Option<String>,
}

impl NamedArea {
    /// Whether the area exists on `d`.
    pub fn in_force(&self, d: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f.earliest() <= d)
            && self.valid_to.is_none_or(|t| d < t.latest())
    }
}
