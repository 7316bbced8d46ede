//! The answers, as typed reports. Each serialises to the documented JSON
//! (what `--json` prints and an HTTP server sends); what only a text
//! renderer needs (names, the SVG) is carried but not serialised.

use chrono::{DateTime, NaiveDate, Utc};
use enduse_core::{
    ChainLink, Decision, ItemRef, ModelId, Outcome, PartyId, RuleEffect, RuleRef, SourceRef,
    TimelineEvent,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// Names a text renderer shows beside the codes of a report.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Party id to name, for every party the report mentions.
    pub parties: BTreeMap<PartyId, String>,
    /// The item: `ATACMS`, or `ATACMS (lot us-ua-atacms)`.
    pub item: String,
    /// The place: `Kursk oblast (RU-KRS, Russia)`.
    pub place: Option<String>,
}

impl Names {
    /// The name of `p`, or its id.
    pub fn party(&self, p: &PartyId) -> String {
        self.parties
            .get(p)
            .cloned()
            .unwrap_or_else(|| p.to_string())
    }
}

/// A decision, with what a month, a date in the future or `--explain` add.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The decision (of the one day asked, or of the first day of a month
    /// that gives the month's answer).
    #[serde(flatten)]
    pub decision: Decision,
    /// For a month: the answer of each stretch of its days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Warnings about the request (an as-of day in the future).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The `@note` of each cited rule that has one: what its dates rest on.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rule_notes: BTreeMap<String, String>,
    /// Every rule considered, and why it was used or not (`--explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
    /// Names for the text renderer.
    #[serde(skip)]
    pub names: Names,
}

impl CheckReport {
    /// The overall outcome.
    pub fn outcome(&self) -> Outcome {
        self.decision.outcome
    }
}

/// A decision over every day of a month.
#[derive(Debug, Clone, Serialize)]
pub struct Period {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
    /// The month's answer: the strictest of its days' (forbid, then needs
    /// approval, then indeterminate, then permit).
    pub outcome: Outcome,
    /// Runs of days with one answer, in date order.
    pub days: Vec<Stretch>,
}

/// Days from `from` to `to` (both included) with one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stretch {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// The answer on each of them.
    pub outcome: Outcome,
}

/// Every rule considered for a decision, party by party.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Each party of the consent chain.
    pub parties: Vec<ExplainedParty>,
}

/// One party of the chain: whether it binds, its outcome, its rules.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedParty {
    /// The party.
    pub party: PartyId,
    /// Its name.
    pub name: String,
    /// Why it is in the chain (`origin`, `supplier`, ...).
    pub roles: Vec<String>,
    /// Whether its conditions bind the item.
    pub binds: bool,
    /// Its outcome, when it binds.
    pub outcome: Option<Outcome>,
    /// Every rule of the party that covers the item and the action, and the
    /// defaults and decisions of authorities that were used.
    pub rules: Vec<ConsideredRule>,
}

/// One rule considered, and why it was used or not.
#[derive(Debug, Clone, Serialize)]
pub struct ConsideredRule {
    /// Rule id (or the id of a default or a decision of an authority).
    pub id: String,
    /// Permit, forbid or requires approval.
    pub effect: RuleEffect,
    /// One sentence.
    pub summary: String,
    /// Whether it decided the party's outcome (it is cited).
    pub used: bool,
    /// Why it was used, or why not.
    pub why: String,
}

/// The parties whose conditions bind an item held by an actor.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    /// The actor.
    pub actor: PartyId,
    /// The item.
    pub item: ItemRef,
    /// The day.
    pub as_of: NaiveDate,
    /// Every party in the chain, binding or not.
    pub parties: Vec<ChainLink>,
    /// Warnings about the request (an as-of day in the future).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Names for the text renderer.
    #[serde(skip)]
    pub names: Names,
}

/// A party's rules in force on a day, as known on another.
#[derive(Debug, Clone, Serialize)]
pub struct PoliciesReport {
    /// The party.
    pub party: PartyId,
    /// The day.
    pub as_of: NaiveDate,
    /// The public record's day.
    pub known_at: NaiveDate,
    /// Its rules, defaults and the decisions of its authorities.
    pub rules: Vec<RuleRef>,
    /// The `@note` of each rule that has one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rule_notes: BTreeMap<String, String>,
    /// Warnings about the request (an as-of day in the future).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Names for the text renderer.
    #[serde(skip)]
    pub names: Names,
}

/// Every change of every condition that binds a model.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineReport {
    /// The model.
    pub model: ModelId,
    /// The events, in date order.
    pub events: Vec<TimelineEvent>,
    /// Names for the text renderer.
    #[serde(skip)]
    pub names: Names,
}

/// Where a point lies, de jure.
#[derive(Debug, Clone, Serialize)]
pub struct DeJure {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 3166-2, where known.
    pub subdivision: Option<String>,
    /// The subdivision's Natural Earth name.
    pub name: String,
    /// Natural Earth `adm1_code`.
    pub adm1_code: String,
}

/// Where a point lies on a day: de jure, in whose control, how far from
/// the border, in which named areas.
#[derive(Debug, Clone, Serialize)]
pub struct WhereReport {
    /// The point.
    pub point: enduse_geo::LatLon,
    /// The day.
    pub as_of: NaiveDate,
    /// The de jure place.
    pub de_jure: DeJure,
    /// Distance to the Ukraine-Russia land border, km, one decimal.
    pub border_distance_km: f64,
    /// Who controls it on the day.
    pub control: enduse_geo::Control,
    /// Named areas in force on the day that contain it.
    pub areas: Vec<String>,
}

/// A map of a decision over the region: the region cut into polygons along
/// the boundaries that matter (subdivisions, control areas, named areas,
/// bands of border distance), each decided once.
#[derive(Debug, Clone, Serialize)]
pub struct MapReport {
    /// The day.
    pub as_of: NaiveDate,
    /// The public record's day.
    pub known_at: NaiveDate,
    /// Per outcome (`permit`, `needs_approval`, `forbid`, `indeterminate`):
    /// how many regions and how much land. Outcomes nowhere on the map are
    /// left out.
    pub outcomes: BTreeMap<String, MapOutcome>,
    /// Every authority whose approval some region needs.
    pub authorities: Vec<enduse_core::ApprovalNeed>,
    /// The border distances (km) along which regions were cut: where some
    /// rule's comparison of the border distance, or a border band, changes.
    pub border_bands_km: Vec<f64>,
    /// The decisions made (one per distinct set of facts).
    pub decisions: usize,
    /// Grid cells decided one by one where a fact is not constant over a
    /// polygon (none for the bundled data set); `cell` degrees each.
    pub sampled_cells: usize,
    /// Every source cited by a decision on the map.
    pub sources: Vec<SourceRef>,
    /// The SVG.
    #[serde(skip)]
    pub svg: String,
    /// The decided regions as a GeoJSON FeatureCollection: one feature per
    /// region, with its outcome, authorities, deciding rules and facts.
    #[serde(skip)]
    pub geojson: String,
}

/// One outcome on a map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapOutcome {
    /// Regions with this outcome.
    pub regions: usize,
    /// Their land area, km² (on the sphere, rounded to whole km²).
    pub area_km2: f64,
}

/// A valid data set's size.
#[derive(Debug, Clone, Serialize)]
pub struct ValidateReport {
    /// Always true (an invalid data set is an error).
    pub valid: bool,
    /// The directory.
    pub data_set: String,
    /// Parties.
    pub parties: usize,
    /// Models.
    pub models: usize,
    /// Lots.
    pub lots: usize,
    /// Transfers.
    pub transfers: usize,
    /// Treaties.
    pub treaties: usize,
    /// Rules.
    pub rules: usize,
    /// Sources.
    pub sources: usize,
}

/// A transaction of a database.
#[derive(Debug, Clone, Serialize)]
pub struct TxnReport {
    /// Sequence number.
    pub id: i64,
    /// Its instant (RFC 3339, microseconds): a value for `--db-as-of`.
    pub at: String,
    /// What it was.
    pub note: String,
    /// Versions written.
    pub changes: i64,
}

impl From<&enduse_store::TxnInfo> for TxnReport {
    fn from(t: &enduse_store::TxnInfo) -> Self {
        TxnReport {
            id: t.id,
            at: instant(t.at),
            note: t.note.clone(),
            changes: t.changes,
        }
    }
}

/// An instant as the reports write it.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One change an import makes (or would make, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// `add`, `change` or `retract`.
    pub change: &'static str,
    /// The record kind.
    pub kind: String,
    /// The record's key.
    pub key: String,
    /// The version it replaces or retracts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// What an import changed (or, in a dry run, would change).
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The database.
    pub db: String,
    /// Records new to the database.
    pub added: usize,
    /// Records with a new version.
    pub changed: usize,
    /// Records the input lacks, retracted.
    pub retracted: usize,
    /// Records already stored as given.
    pub unchanged: usize,
    /// The transaction, unless nothing was written.
    pub txn: Option<TxnReport>,
    /// Whether this was a dry run (nothing written).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// In a dry run, every change, by kind and key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<PlannedChange>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The database.
    pub db: String,
    /// The directory.
    pub out: std::path::PathBuf,
    /// The files, relative to it.
    pub files: Vec<String>,
}

/// One stored version of a record.
#[derive(Debug, Clone, Serialize)]
pub struct VersionReport {
    /// 1, 2, ...
    pub version: i64,
    /// Whether it retracts the record.
    pub retracted: bool,
    /// When the database entered it.
    pub entered: String,
    /// Its transaction.
    pub txn: i64,
    /// The transaction's note.
    pub note: Option<String>,
    /// Valid from.
    pub valid_from: Option<String>,
    /// Valid to.
    pub valid_to: Option<String>,
    /// First reported in the data set's sources.
    pub recorded_at: Option<String>,
    /// The record (JSON; the schema's Cedar text as a string); null for a
    /// retraction.
    pub body: serde_json::Value,
}

/// Every version of one record.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    /// The record kind.
    pub kind: String,
    /// The key.
    pub key: String,
    /// Oldest first.
    pub versions: Vec<VersionReport>,
    /// The database (for the text renderer).
    #[serde(skip)]
    pub db: String,
}

/// Every transaction of a database.
#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    /// The database.
    pub db: String,
    /// `sqlite`, `postgres` or `memory`.
    pub backend: String,
    /// Applied migrations.
    pub schema_version: i64,
    /// Oldest first.
    pub transactions: Vec<TxnReport>,
}

/// What a `put` or a `retract` did.
#[derive(Debug, Clone, Serialize)]
pub struct EditReport {
    /// The database.
    pub db: String,
    /// The record's kind (`party`, `policy`, ...).
    pub kind: String,
    /// The record's key.
    pub key: String,
    /// The version the edit wrote: a put's new version, or a retraction's
    /// own version (the one that says the record no longer holds, which a
    /// later put over it names); `None` when nothing had to change.
    pub version: Option<i64>,
    /// `put policy `x``, or what was found unchanged.
    pub done: String,
    /// The transaction; none when nothing had to change.
    pub txn: Option<TxnReport>,
}

/// One entry of a `list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    /// Code or id: what every option takes.
    pub id: String,
    /// Name (names are accepted too, when unambiguous).
    pub name: String,
    /// Kind (`state`, `company`, `country`, a model's category, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Enclosing place, owning party, or a company's home state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Other names a model goes by.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// One more fact (a model's origin, an area's dates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a register holds of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    /// `parties`, `models`, `places`, `authorities` or `areas`.
    pub what: String,
    /// The search text, if any.
    pub search: Option<String>,
    /// The entries, in id order.
    pub items: Vec<ListItem>,
}

/// What `gen` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GenReport {
    /// The directory.
    pub data_set: String,
    /// Parties.
    pub parties: usize,
    /// Models.
    pub models: usize,
    /// Transfers.
    pub transfers: usize,
    /// Rules.
    pub rules: usize,
    /// Seed.
    pub seed: u64,
}
