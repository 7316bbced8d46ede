//! The OpenAPI 3.1 description served at `/openapi.json`.
//!
//! The library's types are serde types without schemas, so [`doc`] mirrors
//! each request and report as a schema: the shapes a client sends and gets.
//! A test runs real requests and checks every answer against these schemas,
//! and another that the description lists exactly the router's routes.

use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The schemas of the API's bodies. They describe JSON; no value of them is
/// ever built.
#[allow(dead_code)]
pub mod doc {
    use std::collections::BTreeMap;
    use utoipa::{IntoParams, ToSchema};

    /// A point: `"LAT,LON"` in decimal degrees, or `{"lat": .., "lon": ..}`.
    #[derive(ToSchema)]
    #[serde(untagged)]
    pub enum Point {
        /// `"LAT,LON"`, e.g. `"51.73,36.19"`.
        Text(String),
        /// Latitude and longitude.
        LatLon {
            /// Latitude, -90..=90.
            lat: f64,
            /// Longitude, -180..=180.
            lon: f64,
        },
    }

    /// A request for a decision: may `actor` do `action` with the item,
    /// where or to whom, on `as_of`, as the public record stood on
    /// `known_at`? Names resolve as codes do (`UK` is GB, `Kursk` is
    /// RU-KRS). Unknown fields are refused.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    #[schema(example = json!({"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09-11"}))]
    pub struct Ask {
        /// The acting party: a code (`UA`) or a name (`Ukraine`).
        #[schema(max_length = 200)]
        pub actor: String,
        /// `use`, `deploy`, `transfer` or `reexport`.
        #[schema(max_length = 200)]
        pub action: String,
        /// The item model, by designation, name or alias.
        #[schema(max_length = 200)]
        pub model: Option<String>,
        /// One lot, by id.
        #[schema(max_length = 200)]
        pub lot: Option<String>,
        /// Where: an ISO 3166 code (`RU-KRS`) or a place's name.
        #[schema(max_length = 200)]
        pub place: Option<String>,
        /// Where, as a point: its place, border distance, controller and
        /// named areas are computed.
        pub at: Option<Point>,
        /// To whom (transfer and reexport need one).
        #[schema(max_length = 200)]
        pub recipient: Option<String>,
        /// Class of target, from the data set's vocabulary.
        #[schema(max_length = 200)]
        pub target_class: Option<String>,
        /// Purpose of the use, from the data set's vocabulary.
        #[schema(max_length = 200)]
        pub purpose: Option<String>,
        /// Final destination of a transfer, where it differs from the
        /// recipient.
        #[schema(max_length = 200)]
        pub destination: Option<String>,
        /// Distance from the Ukraine-Russia land border in km (0 or more).
        pub border_distance_km: Option<f64>,
        /// `reported` (the default) or `confirmed`.
        #[schema(max_length = 200)]
        pub status: Option<String>,
        /// The day of the action (`YYYY-MM-DD`), or a month (`YYYY-MM`):
        /// then every day of it is decided (default: today).
        #[schema(max_length = 200)]
        pub as_of: Option<String>,
        /// The day whose public record is used (default: today).
        #[schema(max_length = 200)]
        pub known_at: Option<String>,
        /// Authorities to evaluate as if they had approved (`US:SecDef`).
        #[schema(max_items = 64)]
        pub approvals: Option<Vec<String>>,
    }

    /// An outcome.
    #[derive(ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Outcome {
        /// Every controlling party permits.
        Permit,
        /// A party's rules are missing, or a rule needs a fact the request
        /// lacks.
        Indeterminate,
        /// A party requires approval by an authority; none forbids.
        NeedsApproval,
        /// A controlling party forbids.
        Forbid,
    }

    /// What a rule does.
    #[derive(ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum RuleEffect {
        /// A permission.
        Permit,
        /// A restriction.
        Forbid,
        /// A restriction an authority's approval lifts.
        RequiresApproval,
    }

    /// The item of a request: `{"model": ID}` or `{"lot": ID}`.
    #[derive(ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ItemRef {
        /// Every lot of this model the actor holds.
        Model(String),
        /// One lot.
        Lot(String),
    }

    /// The question, as understood: names resolved to codes, a point's
    /// facts computed.
    #[derive(ToSchema)]
    pub struct Query {
        /// Who acts.
        pub actor: String,
        /// `use`, `deploy`, `transfer` or `reexport`.
        pub action: String,
        /// With what.
        pub item: ItemRef,
        /// Where.
        #[schema(required = true)]
        pub place: Option<String>,
        /// To whom.
        #[schema(required = true)]
        pub recipient: Option<String>,
        /// Class of target.
        #[schema(required = true)]
        pub target_class: Option<String>,
        /// Purpose.
        #[schema(required = true)]
        pub purpose: Option<String>,
        /// Final destination.
        #[schema(required = true)]
        pub destination: Option<String>,
        /// `reported` or `confirmed`.
        pub statuses: String,
        /// Border distance, whole km.
        #[schema(required = true)]
        pub border_distance_km: Option<i64>,
        /// Named areas containing the point.
        #[schema(required = true)]
        pub areas: Option<Vec<String>>,
        /// Who controls the point.
        #[schema(required = true)]
        pub controlled_by: Option<String>,
        /// The day.
        #[schema(format = Date)]
        pub as_of: String,
        /// The public record's day.
        #[schema(format = Date)]
        pub known_at: String,
        /// Authorities taken as having approved.
        pub approvals: Vec<String>,
    }

    /// A public source.
    #[derive(ToSchema)]
    pub struct SourceRef {
        /// Source id.
        pub id: String,
        /// Outlet.
        pub outlet: String,
        /// Publication date (a day, a month, or a range).
        pub date: String,
        /// Headline.
        pub title: String,
        /// Address, where known.
        #[schema(required = true)]
        pub url: Option<String>,
        /// A short quote.
        #[schema(required = true)]
        pub quote: Option<String>,
    }

    /// A rule, a default or a decision of an authority, as cited.
    #[derive(ToSchema)]
    pub struct RuleRef {
        /// Its id.
        pub id: String,
        /// `rule`, `default` or `consent`.
        pub kind: String,
        /// `confirmed`, `stated_position`, `reported` or `disputed`.
        pub status: String,
        /// Every source.
        pub sources: Vec<SourceRef>,
        /// For an assurance: who gave it to whom.
        #[schema(required = true)]
        pub assurance: Option<String>,
        /// Its party.
        pub party: String,
        /// Its effect.
        pub effect: RuleEffect,
        /// One sentence.
        pub summary: String,
        /// The authority that can lift it.
        #[schema(required = true)]
        pub approval: Option<String>,
        /// In force from (a day, a month, or a range).
        pub valid_from: String,
        /// In force until (exclusive).
        #[schema(required = true)]
        pub valid_to: Option<String>,
        /// Public since.
        #[schema(format = Date)]
        pub recorded_at: String,
        /// Whether its status on the day depends on an imprecise date.
        pub date_uncertain: bool,
        /// The source.
        pub source: SourceRef,
        /// A short quote.
        pub quote: String,
        /// What the data set assumes where the source is vague.
        #[schema(required = true)]
        pub assumption: Option<String>,
        /// The rule it replaced.
        #[schema(required = true)]
        pub supersedes: Option<String>,
    }

    /// Why a party is in the chain: `{"role": "origin"}`, `{"role":
    /// "supplier", "transfer": .., "attached_conditions": ..}`, ...
    #[derive(ToSchema)]
    pub struct Role {
        /// `origin`, `supplier`, `provider`, `treaty`, `own`,
        /// `treaty_of_recipient` or `jurisdiction`.
        pub role: String,
    }

    /// One controlling party's answer.
    #[derive(ToSchema)]
    pub struct PartyDecision {
        /// The party.
        pub party: String,
        /// Its name.
        pub name: String,
        /// Its roles, joined for display.
        pub role: String,
        /// Its roles.
        pub roles: Vec<Role>,
        /// Its outcome.
        pub outcome: Outcome,
        /// The rules that decided it.
        pub rules: Vec<RuleRef>,
        /// Facts the request lacked for its rules.
        pub missing: Vec<String>,
        /// One line of explanation.
        pub reason: String,
    }

    /// An approval the request needs.
    #[derive(ToSchema)]
    pub struct ApprovalNeed {
        /// The authority's party.
        pub party: String,
        /// The authority.
        pub authority: String,
        /// Its name.
        pub authority_name: String,
    }

    /// The outcome if the disputed facts on record held.
    #[derive(ToSchema)]
    pub struct DisputedOutcome {
        /// The outcome.
        pub outcome: Outcome,
        /// The disputed facts that change it.
        pub facts: Vec<RuleRef>,
    }

    /// Days with one answer.
    #[derive(ToSchema)]
    pub struct Stretch {
        /// First day.
        #[schema(format = Date)]
        pub from: String,
        /// Last day.
        #[schema(format = Date)]
        pub to: String,
        /// The answer.
        pub outcome: Outcome,
    }

    /// A decision over every day of a month.
    #[derive(ToSchema)]
    pub struct Period {
        /// First day.
        #[schema(format = Date)]
        pub from: String,
        /// Last day.
        #[schema(format = Date)]
        pub to: String,
        /// The strictest answer of its days.
        pub outcome: Outcome,
        /// Runs of days with one answer.
        pub days: Vec<Stretch>,
    }

    /// One rule considered, and why it was used or not.
    #[derive(ToSchema)]
    pub struct ConsideredRule {
        /// Its id.
        pub id: String,
        /// Its effect.
        pub effect: RuleEffect,
        /// One sentence.
        pub summary: String,
        /// Whether it decided the party's outcome.
        pub used: bool,
        /// Why, or why not.
        pub why: String,
    }

    /// One party of the chain, explained.
    #[derive(ToSchema)]
    pub struct ExplainedParty {
        /// The party.
        pub party: String,
        /// Its name.
        pub name: String,
        /// Why it is in the chain.
        pub roles: Vec<String>,
        /// Whether its conditions bind.
        pub binds: bool,
        /// Its outcome, when it binds.
        #[schema(required = true)]
        pub outcome: Option<Outcome>,
        /// Its rules considered.
        pub rules: Vec<ConsideredRule>,
    }

    /// Every rule considered (`?explain=true`).
    #[derive(ToSchema)]
    pub struct Explanation {
        /// Each party of the chain.
        pub parties: Vec<ExplainedParty>,
    }

    /// A decision: the JSON of `enduse check --json`.
    #[derive(ToSchema)]
    pub struct CheckReport {
        /// Overall outcome.
        pub outcome: Outcome,
        /// The day of the action.
        #[schema(format = Date)]
        pub as_of: String,
        /// The day whose public record was used.
        #[schema(format = Date)]
        pub known_at: String,
        /// The question, as understood.
        pub request: Query,
        /// Approvals needed.
        pub approvals: Vec<ApprovalNeed>,
        /// Each controlling party's answer.
        pub parties: Vec<PartyDecision>,
        /// Facts the request lacked.
        pub missing: Vec<String>,
        /// Remarks.
        pub notes: Vec<String>,
        /// Reported (not confirmed) facts the outcome rests on.
        pub reported: Vec<String>,
        /// The outcome if disputed facts held (when it differs).
        #[schema(required = true)]
        pub if_disputed: Option<DisputedOutcome>,
        /// For a month: each stretch of its days.
        pub period: Option<Period>,
        /// Warnings about the request.
        pub warnings: Option<Vec<String>>,
        /// The `@note` of each cited rule that has one.
        pub rule_notes: Option<BTreeMap<String, String>>,
        /// Every rule considered (`?explain=true`).
        pub explanation: Option<Explanation>,
    }

    /// Where an answer comes from.
    #[derive(ToSchema)]
    pub struct RegisterRef {
        /// `bundled` or `database`.
        pub source: String,
        /// The data set's or the database's name.
        pub name: String,
        /// The register's latest transaction (`null` for the bundled data
        /// set).
        #[schema(required = true)]
        pub txn: Option<i64>,
    }

    /// A decision and the register transaction it was answered from.
    #[derive(ToSchema)]
    pub struct DecisionResponse {
        /// The decision.
        #[serde(flatten)]
        pub report: CheckReport,
        /// The register it was answered from.
        pub register: RegisterRef,
        /// Its index in the database's audit log (`null` for a server
        /// without a database).
        #[schema(required = true)]
        pub log_index: Option<u64>,
    }

    /// A batch of asks.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct BatchRequest {
        /// Up to 10,000 asks.
        #[schema(max_items = 10000)]
        pub asks: Vec<Ask>,
        /// Explain every decision.
        pub explain: Option<bool>,
    }

    /// A decided ask of a batch.
    #[derive(ToSchema)]
    pub struct BatchDecision {
        /// 200.
        pub status: u16,
        /// The decision.
        pub decision: CheckReport,
        /// Its index in the database's audit log.
        #[schema(required = true)]
        pub log_index: Option<u64>,
    }

    /// An ask of a batch that could not be answered.
    #[derive(ToSchema)]
    pub struct BatchProblem {
        /// The status the ask alone would have had.
        pub status: u16,
        /// Why.
        pub problem: Problem,
    }

    /// One answer of a batch.
    #[derive(ToSchema)]
    #[serde(untagged)]
    #[allow(clippy::large_enum_variant)]
    pub enum BatchItem {
        /// A decision.
        Decision(BatchDecision),
        /// A problem.
        Problem(BatchProblem),
    }

    /// The answers of a batch, in the order of its asks.
    #[derive(ToSchema)]
    pub struct BatchResponse {
        /// The register every answer was read from.
        pub register: RegisterRef,
        /// One per ask.
        pub results: Vec<BatchItem>,
    }

    /// A problem document (RFC 9457) with the library's stable code.
    #[derive(ToSchema)]
    pub struct Problem {
        /// `urn:enduse:problem:...`, one per code.
        pub r#type: String,
        /// The status's reason phrase.
        pub title: String,
        /// The HTTP status.
        pub status: u16,
        /// What went wrong.
        pub detail: String,
        /// Stable code, `enduse::...`.
        pub code: String,
        /// `not_found`, `bad_request`, `conflict`, `unauthorized`,
        /// `forbidden`, `internal`, `io` or `unavailable`.
        pub kind: String,
        /// How to fix it.
        #[schema(required = true)]
        pub help: Option<String>,
        /// Every located problem of an invalid data set or record (`file`,
        /// `line`, `message`, `help`).
        #[schema(value_type = Vec<Object>)]
        pub problems: Vec<()>,
    }

    /// The server's state.
    #[derive(ToSchema)]
    pub struct Health {
        /// `ok`.
        pub status: String,
        /// The program's version.
        pub version: String,
        /// The register, once one is loaded.
        #[schema(required = true)]
        pub register: Option<RegisterRef>,
        /// Whether reads need a token.
        pub private: bool,
    }

    /// `actor`, the item and the day.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ChainParams {
        /// The party holding or using the item.
        #[param(example = "PL")]
        pub actor: String,
        /// The model.
        #[param(example = "Leopard 2")]
        pub model: Option<String>,
        /// One lot.
        pub lot: Option<String>,
        /// The day (`YYYY-MM-DD`; default today).
        pub as_of: Option<String>,
    }

    /// A party in the chain of an item.
    #[derive(ToSchema)]
    pub struct ChainLink {
        /// The party.
        pub party: String,
        /// Its name.
        pub name: String,
        /// Its roles.
        pub roles: Vec<Role>,
        /// Whether any role binds.
        pub binds: bool,
        /// Its rules on record that could apply to the item.
        pub rules_on_record: u64,
    }

    /// The parties whose conditions bind an item held by an actor.
    #[derive(ToSchema)]
    pub struct ChainReport {
        /// The actor.
        pub actor: String,
        /// The item.
        pub item: ItemRef,
        /// The day.
        #[schema(format = Date)]
        pub as_of: String,
        /// Every party in the chain.
        pub parties: Vec<ChainLink>,
        /// Warnings about the request (an as-of day in the future).
        pub warnings: Option<Vec<String>>,
    }

    /// The party and the days.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct PoliciesParams {
        /// The party.
        #[param(example = "US")]
        pub party: String,
        /// The day (default today).
        pub as_of: Option<String>,
        /// The day whose public record is used (default today).
        pub known_at: Option<String>,
    }

    /// A party's rules in force on a day, as known on another.
    #[derive(ToSchema)]
    pub struct PoliciesReport {
        /// The party.
        pub party: String,
        /// The day.
        #[schema(format = Date)]
        pub as_of: String,
        /// The public record's day.
        #[schema(format = Date)]
        pub known_at: String,
        /// Its rules, defaults and decisions of authorities.
        pub rules: Vec<RuleRef>,
        /// The `@note` of each rule that has one.
        pub rule_notes: Option<BTreeMap<String, String>>,
        /// Warnings about the request (an as-of day in the future).
        pub warnings: Option<Vec<String>>,
    }

    /// The model.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct TimelineParams {
        /// The model, by designation, name or alias.
        #[param(example = "ATACMS")]
        pub model: String,
    }

    /// One event of a timeline.
    #[derive(ToSchema)]
    pub struct TimelineEvent {
        /// When (a day, a month, or a range).
        pub date: String,
        /// `transfer`, `treaty_step`, `in_force`, `ended`, `made_public` or
        /// `approval_decision`.
        pub kind: String,
        /// Whose condition, or which party.
        pub party: String,
        /// The rule.
        #[schema(required = true)]
        pub rule: Option<String>,
        /// The rule's effect.
        #[schema(required = true)]
        pub effect: Option<RuleEffect>,
        /// What happened.
        pub text: String,
        /// The source.
        #[schema(required = true)]
        pub source: Option<String>,
    }

    /// Every change of every condition that binds a model.
    #[derive(ToSchema)]
    pub struct TimelineReport {
        /// The model.
        pub model: String,
        /// The events, in date order.
        pub events: Vec<TimelineEvent>,
    }

    /// The point and the day.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct WhereParams {
        /// `LAT,LON` in decimal degrees.
        #[param(example = "50.6,36.6")]
        pub at: String,
        /// The day (default today).
        pub as_of: Option<String>,
    }

    /// A point.
    #[derive(ToSchema)]
    pub struct LatLon {
        /// Latitude.
        pub lat: f64,
        /// Longitude.
        pub lon: f64,
    }

    /// The de jure place of a point.
    #[derive(ToSchema)]
    pub struct DeJure {
        /// ISO 3166-1 alpha-2.
        pub country: String,
        /// ISO 3166-2, where known.
        #[schema(required = true)]
        pub subdivision: Option<String>,
        /// The subdivision's name.
        pub name: String,
        /// Natural Earth `adm1_code`.
        pub adm1_code: String,
    }

    /// Who controls a point on a day.
    #[derive(ToSchema)]
    pub struct Control {
        /// The controlling party.
        pub controlled_by: String,
        /// The control area that says so.
        #[schema(required = true)]
        pub area: Option<String>,
        /// Since when.
        #[schema(required = true)]
        pub since: Option<String>,
        /// Whether the outline is coarse.
        pub approximate: bool,
        /// Whether the day falls inside an imprecise end of the area.
        pub date_uncertain: bool,
        /// The area's source.
        #[schema(required = true)]
        pub source: Option<String>,
        /// Caveats.
        #[schema(required = true)]
        pub note: Option<String>,
    }

    /// Where a point lies on a day.
    #[derive(ToSchema)]
    pub struct WhereReport {
        /// The point.
        pub point: LatLon,
        /// The day.
        #[schema(format = Date)]
        pub as_of: String,
        /// The de jure place.
        pub de_jure: DeJure,
        /// Distance to the Ukraine-Russia land border, km.
        pub border_distance_km: f64,
        /// Who controls it.
        pub control: Control,
        /// Named areas in force that contain it.
        pub areas: Vec<String>,
    }

    /// A map request.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct MapRequest {
        /// The ask, without a place, a point or a border distance.
        pub ask: Ask,
        /// Resolution of the fall-back grid in degrees of latitude (0.05 to
        /// 2; default 0.05): used only where a fact varies within a
        /// polygon, e.g. a border band along one stretch of the border.
        pub cell: Option<f64>,
    }

    /// One outcome on a map.
    #[derive(ToSchema)]
    pub struct MapOutcome {
        /// Regions with this outcome.
        pub regions: u64,
        /// Their land area, km².
        pub area_km2: f64,
    }

    /// A map's outcomes, authorities and sources (`Accept: application/json`).
    #[derive(ToSchema)]
    pub struct MapReport {
        /// The day.
        #[schema(format = Date)]
        pub as_of: String,
        /// The public record's day.
        #[schema(format = Date)]
        pub known_at: String,
        /// Per outcome (`permit`, `needs_approval`, `forbid`,
        /// `indeterminate`; outcomes nowhere on the map are left out).
        pub outcomes: BTreeMap<String, MapOutcome>,
        /// Every authority whose approval some region needs.
        pub authorities: Vec<ApprovalNeed>,
        /// The border distances (km) along which regions were cut.
        pub border_bands_km: Vec<f64>,
        /// Decisions made, one per distinct set of facts.
        pub decisions: u64,
        /// Grid cells decided one by one where a fact varies within a
        /// polygon.
        pub sampled_cells: u64,
        /// Every source cited on the map.
        pub sources: Vec<SourceRef>,
    }

    /// The border distance over a region, whole km rounded up.
    #[derive(ToSchema)]
    pub struct MapKmRange {
        /// Least.
        pub min: i64,
        /// Greatest; null where the region's band is unbounded.
        pub max: Option<i64>,
    }

    /// The facts of a map region.
    #[derive(ToSchema)]
    pub struct MapFacts {
        /// The de jure place (subdivision, or the country where the
        /// register lacks it).
        pub place: String,
        /// Its name.
        pub place_name: String,
        /// ISO 3166-1 code of the country.
        pub country: String,
        /// Who controls it on the day.
        pub controlled_by: Option<String>,
        /// Named areas in force that contain it.
        pub areas: Vec<String>,
        /// Its border distance.
        pub border_km: MapKmRange,
    }

    /// The properties of a map region.
    #[derive(ToSchema)]
    pub struct MapRegionProperties {
        /// `permit`, `needs_approval`, `forbid` or `indeterminate`.
        pub outcome: String,
        /// The authorities whose approval it needs.
        pub authorities: Vec<ApprovalNeed>,
        /// The ids of the deciding rules.
        pub rules: Vec<String>,
        /// The facts the region was decided on.
        pub facts: MapFacts,
        /// Whether the region was found by the fall-back grid.
        pub sampled: bool,
        /// Land area, km².
        pub area_km2: f64,
    }

    /// A GeoJSON MultiPolygon, (lon, lat) degrees.
    #[derive(ToSchema)]
    pub struct MapGeometry {
        /// `MultiPolygon`.
        #[serde(rename = "type")]
        pub kind: String,
        /// Polygons of rings of [lon, lat] positions.
        pub coordinates: Vec<Vec<Vec<Vec<f64>>>>,
    }

    /// One decided region.
    #[derive(ToSchema)]
    pub struct MapFeature {
        /// `Feature`.
        #[serde(rename = "type")]
        pub kind: String,
        /// Outcome, authorities, rules, facts.
        pub properties: MapRegionProperties,
        /// The region.
        pub geometry: MapGeometry,
    }

    /// The decided regions (`Accept: application/geo+json`).
    #[derive(ToSchema)]
    pub struct MapGeoJson {
        /// `FeatureCollection`.
        #[serde(rename = "type")]
        pub kind: String,
        /// The day.
        #[schema(format = Date)]
        pub as_of: String,
        /// The public record's day.
        #[schema(format = Date)]
        pub known_at: String,
        /// The question the map answers.
        pub title: String,
        /// One per region.
        pub features: Vec<MapFeature>,
    }

    /// One entry of a list.
    #[derive(ToSchema)]
    pub struct ListItem {
        /// Code or id.
        pub id: String,
        /// Name.
        pub name: String,
        /// Kind.
        pub kind: Option<String>,
        /// Enclosing place, owning party, or home state.
        pub parent: Option<String>,
        /// Other names.
        pub aliases: Option<Vec<String>>,
        /// One more fact.
        pub detail: Option<String>,
    }

    /// What a register holds of one kind.
    #[derive(ToSchema)]
    pub struct ListReport {
        /// `parties`, `models`, `places`, `authorities` or `areas`.
        pub what: String,
        /// The search text.
        #[schema(required = true)]
        pub search: Option<String>,
        /// The entries, in id order.
        pub items: Vec<ListItem>,
    }

    /// A transaction.
    #[derive(ToSchema)]
    pub struct TxnReport {
        /// Sequence number.
        pub id: i64,
        /// Its instant (RFC 3339).
        pub at: String,
        /// What it was.
        pub note: String,
        /// Versions written.
        pub changes: i64,
    }

    /// One version of a record.
    #[derive(ToSchema)]
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
        #[schema(required = true)]
        pub note: Option<String>,
        /// Valid from.
        #[schema(required = true)]
        pub valid_from: Option<String>,
        /// Valid to.
        #[schema(required = true)]
        pub valid_to: Option<String>,
        /// First reported.
        #[schema(required = true)]
        pub recorded_at: Option<String>,
        /// The record (JSON; the schema as a string); null for a
        /// retraction.
        #[schema(value_type = Object, required = true, nullable)]
        pub body: (),
    }

    /// Every version of a record.
    #[derive(ToSchema)]
    pub struct HistoryReport {
        /// The kind.
        pub kind: String,
        /// The key.
        pub key: String,
        /// Oldest first.
        pub versions: Vec<VersionReport>,
    }

    /// Every transaction of the database.
    #[derive(ToSchema)]
    pub struct LogReport {
        /// The database's name.
        pub db: String,
        /// `sqlite` or `postgres`.
        pub backend: String,
        /// Applied migrations.
        pub schema_version: i64,
        /// Oldest first.
        pub transactions: Vec<TxnReport>,
    }

    /// A record to write.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct PutBody {
        /// The record: a TOML table (`[[party]]` ...), one Cedar rule with
        /// its annotations, the schema, or a control area as JSON.
        pub text: String,
        /// For a rule: its owner (default: the current owner).
        pub owner: Option<String>,
        /// A name for the text in messages (default `body`).
        pub file: Option<String>,
    }

    /// What a write did.
    #[derive(ToSchema)]
    pub struct WriteResponse {
        /// The database's name.
        pub db: String,
        /// The record kind.
        pub kind: String,
        /// The record's key.
        pub key: String,
        /// The version written (its ETag): a put's new version, or the
        /// retraction's own; null when nothing had to change.
        #[schema(required = true)]
        pub version: Option<i64>,
        /// What was done.
        pub done: String,
        /// The transaction; null when nothing had to change.
        #[schema(required = true)]
        pub txn: Option<TxnReport>,
    }

    /// A data set, file by file.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ImportBody {
        /// Each file's text by its name in a data-set directory
        /// (`parties.toml`, `schema.cedarschema`, `control.json`,
        /// `policies/US.cedar`).
        pub files: BTreeMap<String, String>,
        /// Compute the changes and write nothing.
        pub dry_run: Option<bool>,
        /// Retract the records the data set lacks.
        pub allow_retract: Option<bool>,
    }

    /// One change of an import.
    #[derive(ToSchema)]
    pub struct PlannedChange {
        /// `add`, `change` or `retract`.
        pub change: String,
        /// The record kind.
        pub kind: String,
        /// The key.
        pub key: String,
        /// The version it replaces.
        pub version: Option<i64>,
    }

    /// What an import changed.
    #[derive(ToSchema)]
    pub struct ImportReport {
        /// The database's name.
        pub db: String,
        /// New records.
        pub added: u64,
        /// Records with a new version.
        pub changed: u64,
        /// Records retracted.
        pub retracted: u64,
        /// Records unchanged.
        pub unchanged: u64,
        /// The transaction, unless nothing was written.
        #[schema(required = true)]
        pub txn: Option<TxnReport>,
        /// A dry run.
        pub dry_run: Option<bool>,
        /// In a dry run, every change.
        pub changes: Option<Vec<PlannedChange>>,
    }

    /// The instant.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ExportParams {
        /// The register as it stood at this instant (RFC 3339, or a day:
        /// its last instant); default now.
        pub at: Option<String>,
    }

    /// A data set, file by file.
    #[derive(ToSchema)]
    pub struct ExportResponse {
        /// Each file's text by its name.
        pub files: BTreeMap<String, String>,
    }

    /// The days a request's consent may be used, both included.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Window {
        /// The first day.
        #[schema(format = Date)]
        pub from: String,
        /// The last day.
        #[schema(format = Date)]
        pub to: String,
    }

    /// A request to file.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct RequestInput {
        /// What is asked (its `as_of`, if given, a day of the window).
        pub ask: Ask,
        /// When the consent would be used (366 days at most).
        pub window: Window,
        /// Why (10,000 characters at most).
        pub justification: String,
    }

    /// What a request is about, resolved: the consent's scope.
    #[derive(ToSchema)]
    pub struct RequestScope {
        /// The acting party.
        pub actor: String,
        /// The action.
        pub action: String,
        /// The model.
        pub model: Option<String>,
        /// The lot.
        pub lot: Option<String>,
        /// The place.
        pub place: Option<String>,
        /// The recipient.
        pub recipient: Option<String>,
        /// The target class.
        pub target_class: Option<String>,
        /// The purpose.
        pub purpose: Option<String>,
        /// The final destination.
        pub destination: Option<String>,
    }

    /// The answer on a stretch of the window's days when the request was
    /// filed.
    #[derive(ToSchema)]
    pub struct DayOutcome {
        /// First day.
        #[schema(format = Date)]
        pub from: String,
        /// Last day.
        #[schema(format = Date)]
        pub to: String,
        /// The outcome.
        pub outcome: String,
    }

    /// The immutable content of a request, bound by its digest.
    #[derive(ToSchema)]
    pub struct RequestContent {
        /// What was asked.
        #[schema(value_type = Object)]
        pub ask: (),
        /// When.
        pub window: Window,
        /// Why.
        pub justification: String,
        /// Who filed it.
        pub requester: String,
        /// For which party.
        pub party: String,
        /// When.
        pub filed: String,
        /// The register transaction it was decided on.
        #[schema(required = true)]
        pub register_txn: Option<i64>,
        /// The ask, resolved.
        pub scope: RequestScope,
        /// The authorities whose approval it needs.
        pub needs: Vec<String>,
        /// The answers over the window when it was filed.
        pub days: Vec<DayOutcome>,
    }

    /// One needed authority, and how far its reviews got.
    #[derive(ToSchema)]
    pub struct NeedView {
        /// The authority.
        pub authority: String,
        /// Its name.
        pub name: String,
        /// Its party.
        pub party: String,
        /// Approvals it requires.
        pub required: u32,
        /// Approvals given.
        pub approvals: u32,
        /// Whether one of its members refused.
        pub refused: bool,
        /// Whether it has approved.
        pub satisfied: bool,
        /// The users who may review for it now.
        pub reviewers: Vec<String>,
    }

    /// A verdict.
    #[derive(ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Verdict {
        /// Approve.
        Approve,
        /// Refuse.
        Refuse,
    }

    /// One review.
    #[derive(ToSchema)]
    pub struct Review {
        /// 1, 2, ...
        pub n: u32,
        /// Who.
        pub reviewer: String,
        /// For which authority.
        pub authority: String,
        /// Approve or refuse.
        pub verdict: Verdict,
        /// Why.
        pub reason: String,
        /// When.
        pub at: String,
    }

    /// A withdrawal.
    #[derive(ToSchema)]
    pub struct Closed {
        /// When.
        pub at: String,
        /// Who.
        pub by: String,
        /// Why.
        pub reason: Option<String>,
    }

    /// The state of a request.
    #[derive(ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum RequestStatus {
        /// Waiting for reviews.
        Pending,
        /// Every needed authority approved.
        Approved,
        /// A needed authority refused.
        Refused,
        /// Withdrawn by its requester.
        Withdrawn,
        /// Its window passed while it was pending.
        Expired,
    }

    /// A request as stored now (or at one of its versions).
    #[derive(ToSchema)]
    pub struct RequestView {
        /// Its id.
        pub id: String,
        /// Its state.
        pub status: RequestStatus,
        /// The version of its record (its ETag).
        pub version: i64,
        /// SHA-256 of the canonical JSON of its content.
        pub digest: String,
        /// Whether the content still has that digest.
        pub content_intact: bool,
        /// The immutable content.
        pub content: RequestContent,
        /// The needed authorities.
        pub needs: Vec<NeedView>,
        /// The reviews, in order.
        pub reviews: Vec<Review>,
        /// The consent decisions (`approval` records) written for it.
        pub consents: Vec<String>,
        /// The source record those cite.
        #[schema(required = true)]
        pub source: Option<String>,
        /// Its withdrawal.
        #[schema(required = true)]
        pub closed: Option<Closed>,
        /// When this version was entered.
        pub entered: String,
        /// The transaction that wrote this version.
        pub txn: i64,
    }

    /// Requests.
    #[derive(ToSchema)]
    pub struct RequestList {
        /// Newest first.
        pub requests: Vec<RequestView>,
    }

    /// Every version of a request.
    #[derive(ToSchema)]
    pub struct RequestHistory {
        /// Oldest first.
        pub versions: Vec<RequestView>,
    }

    /// Which requests.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct RequestQueryParams {
        /// Those needing this authority (`US:SecDef`): its queue.
        pub authority: Option<String>,
        /// `pending`, `approved`, `refused`, `withdrawn` or `expired`.
        pub status: Option<RequestStatus>,
        /// Those filed for this party.
        pub party: Option<String>,
        /// Those filed by this user.
        pub requester: Option<String>,
    }

    /// A review to record.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct ReviewInput {
        /// Approve or refuse.
        pub verdict: Verdict,
        /// Why (required).
        pub reason: String,
        /// The authority reviewed for, where the reviewer is a member of
        /// several of the request's.
        pub authority: Option<String>,
        /// The version of the request the reviewer saw (or `If-Match`).
        pub expect_version: Option<i64>,
    }

    /// A withdrawal.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct WithdrawInput {
        /// Why.
        pub reason: Option<String>,
        /// The version of the request the requester saw (or `If-Match`).
        pub expect_version: Option<i64>,
    }

    /// A signed checkpoint.
    #[derive(ToSchema)]
    pub struct CheckpointReport {
        /// The log's name.
        pub origin: String,
        /// Entries covered.
        pub size: u64,
        /// The root hash, hexadecimal.
        pub root: String,
        /// The signed note (C2SP).
        pub note: String,
        /// The verifier key (`name+id+base64`).
        pub key: String,
    }

    /// One entry of the log.
    #[derive(ToSchema)]
    pub struct EntryReport {
        /// Its index.
        pub index: u64,
        /// `decision`, `workflow` or `register_txn`.
        pub kind: String,
        /// Its body.
        #[schema(value_type = Object)]
        pub body: (),
        /// Its leaf hash (RFC 6962), hexadecimal.
        pub hash: String,
    }

    /// A page of the log.
    #[derive(ToSchema)]
    pub struct EntryList {
        /// The entries.
        pub entries: Vec<EntryReport>,
    }

    /// Which entries.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct EntriesParams {
        /// The first index (default 0).
        pub from: Option<u64>,
        /// How many (default 100, at most 1000).
        pub limit: Option<u64>,
    }

    /// Which entry, in which tree.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct InclusionParams {
        /// The entry.
        pub index: u64,
        /// The tree size (default: the latest checkpoint's).
        pub size: Option<u64>,
    }

    /// An inclusion proof.
    #[derive(ToSchema)]
    pub struct InclusionReport {
        /// The entry.
        pub index: u64,
        /// The tree size.
        pub tree_size: u64,
        /// The entry's leaf hash.
        pub leaf_hash: String,
        /// The root of the tree of that size.
        pub root: String,
        /// The audit path, from the leaf up.
        pub hashes: Vec<String>,
        /// The signed checkpoint of that size, where there is one.
        #[schema(required = true)]
        pub checkpoint: Option<String>,
    }

    /// Which sizes.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct ConsistencyParams {
        /// The smaller size.
        pub old: u64,
        /// The larger (default: the latest checkpoint's).
        pub new: Option<u64>,
    }

    /// A consistency proof.
    #[derive(ToSchema)]
    pub struct ConsistencyReport {
        /// The smaller size.
        pub old_size: u64,
        /// The larger size.
        pub new_size: u64,
        /// The root of the smaller tree.
        pub old_root: String,
        /// The root of the larger tree.
        pub new_root: String,
        /// The proof.
        pub hashes: Vec<String>,
    }
    /// A role of a user.
    #[derive(ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum UserRole {
        /// Files requests for its party.
        Requester,
        /// Reviews requests for the authorities it is a member of.
        Reviewer,
        /// Writes rules and records.
        Editor,
        /// Manages users, tokens and quorums.
        Admin,
    }

    /// Membership of an authority, from a day to a day (both included;
    /// open where absent).
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Delegation {
        /// The authority (`US:SecDef`).
        pub authority: String,
        /// The first day.
        #[schema(format = Date)]
        pub from: Option<String>,
        /// The last day.
        #[schema(format = Date)]
        pub to: Option<String>,
    }

    /// A user to add.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    #[schema(example = json!({"id": "kyiv-mod", "party": "UA", "roles": ["requester"]}))]
    pub struct NewUser {
        /// 1 to 64 lowercase letters, digits, `.`, `_`, `-` or `@`,
        /// starting with a letter or a digit.
        pub id: String,
        /// A name to show.
        pub name: Option<String>,
        /// The party it acts for (a requester needs one).
        pub party: Option<String>,
        /// Its roles (one at least).
        pub roles: Vec<UserRole>,
        /// The authorities it is a member of.
        pub authorities: Option<Vec<Delegation>>,
    }

    /// The new content of a user (its id is the path's).
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct UserUpdate {
        /// A name to show.
        pub name: Option<String>,
        /// The party it acts for (a requester needs one).
        pub party: Option<String>,
        /// Its roles (one at least).
        pub roles: Vec<UserRole>,
        /// The authorities it is a member of.
        pub authorities: Option<Vec<Delegation>>,
        /// The version the admin saw (or `If-Match`).
        pub expect_version: Option<i64>,
    }

    /// A user, as stored now (or at one of its versions).
    #[derive(ToSchema)]
    pub struct User {
        /// Its id.
        pub id: String,
        /// A name to show.
        #[schema(required = true)]
        pub name: Option<String>,
        /// The party it acts for.
        #[schema(required = true)]
        pub party: Option<String>,
        /// Its roles.
        pub roles: Vec<UserRole>,
        /// The authorities it is a member of.
        pub authorities: Vec<Delegation>,
        /// Whether it is disabled (its tokens are refused).
        pub disabled: bool,
        /// When it was added.
        pub created: String,
        /// The version of its record (its ETag).
        pub version: i64,
    }

    /// The users.
    #[derive(ToSchema)]
    pub struct UserList {
        /// By id.
        pub users: Vec<User>,
    }

    /// Every version of a user.
    #[derive(ToSchema)]
    pub struct UserHistory {
        /// Oldest first.
        pub versions: Vec<User>,
    }

    /// Whose tokens.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct TokenQueryParams {
        /// Only this user's.
        pub user: Option<String>,
    }

    /// A token to create.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct TokenInput {
        /// Its user.
        pub user: String,
        /// Until when: a day (00:00 UTC) or an RFC 3339 instant (default:
        /// 90 days from now).
        pub expires: Option<String>,
        /// A label, to tell it from the user's others.
        pub label: Option<String>,
    }

    /// A token as created: its secret is shown here once.
    #[derive(ToSchema)]
    pub struct IssuedToken {
        /// The bearer token (`eu_...`).
        pub token: String,
        /// Its id, to list and revoke it.
        pub id: String,
        /// Its user.
        pub user: String,
        /// When it was created.
        pub created: String,
        /// When it expires.
        pub expires: String,
    }

    /// Whether a token can be used.
    #[derive(ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum TokenStatus {
        /// Usable.
        Active,
        /// Past its expiry.
        Expired,
        /// Revoked.
        Revoked,
    }

    /// A token, without its secret.
    #[derive(ToSchema)]
    pub struct TokenInfo {
        /// Its id.
        pub id: String,
        /// Its user.
        pub user: String,
        /// Its label.
        #[schema(required = true)]
        pub label: Option<String>,
        /// When it was created.
        pub created: String,
        /// When it expires.
        pub expires: String,
        /// When it was revoked.
        #[schema(required = true)]
        pub revoked: Option<String>,
        /// Whether it can be used now.
        pub status: TokenStatus,
    }

    /// The tokens.
    #[derive(ToSchema)]
    pub struct TokenList {
        /// By user, then by creation.
        pub tokens: Vec<TokenInfo>,
    }

    /// A quorum to set.
    #[derive(ToSchema)]
    #[serde(deny_unknown_fields)]
    pub struct QuorumInput {
        /// How many members of the authority must approve (1 to 100).
        #[schema(minimum = 1, maximum = 100)]
        pub approvals: u32,
    }

    /// How many of its members must approve for an authority.
    #[derive(ToSchema)]
    pub struct Quorum {
        /// The authority.
        pub authority: String,
        /// Approvals required of requests filed from now on.
        pub approvals: u32,
    }
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "enduse",
        description = "Decisions on the end use of arms transfers under the conditions of every party that binds them, and the register they are answered from. Errors are problem documents (RFC 9457) carrying enduse's stable codes.",
    ),
    paths(
        crate::api::health,
        crate::api::openapi,
        crate::api::decisions,
        crate::api::batch,
        crate::api::consent_chain,
        crate::api::policies,
        crate::api::timeline,
        crate::api::where_,
        crate::api::map,
        crate::api::parties,
        crate::api::models,
        crate::api::places,
        crate::api::authorities,
        crate::api::areas,
        crate::api::history,
        crate::api::retract,
        crate::api::put,
        crate::api::log,
        crate::api::import,
        crate::api::export,
        crate::workflow_api::file,
        crate::workflow_api::list,
        crate::workflow_api::show,
        crate::workflow_api::history,
        crate::workflow_api::review,
        crate::workflow_api::withdraw,
        crate::workflow_api::checkpoint,
        crate::workflow_api::entries,
        crate::workflow_api::entry,
        crate::workflow_api::inclusion,
        crate::workflow_api::consistency,
        crate::accounts_api::users,
        crate::accounts_api::add_user,
        crate::accounts_api::user,
        crate::accounts_api::update_user,
        crate::accounts_api::disable_user,
        crate::accounts_api::enable_user,
        crate::accounts_api::user_history,
        crate::accounts_api::tokens,
        crate::accounts_api::create_token,
        crate::accounts_api::revoke_token,
        crate::accounts_api::quorum,
        crate::accounts_api::set_quorum,
    ),
    modifiers(&Security),
    tags(
        (name = "decisions", description = "Decide requests"),
        (name = "register", description = "Questions about the register"),
        (name = "lists", description = "What the register holds"),
        (name = "database", description = "The database: records, history, log, writes"),
        (name = "workflow", description = "Requests for approval, reviews, withdrawals"),
        (name = "accounts", description = "Users, tokens and quorums (admins)"),
        (name = "audit", description = "The tamper-evident log: checkpoints, entries, proofs"),
        (name = "server", description = "The server"),
    )
)]
struct ApiDoc;

/// The description as JSON (built once).
pub fn spec() -> &'static serde_json::Value {
    static SPEC: OnceLock<serde_json::Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        let mut v = serde_json::to_value(&doc).unwrap_or(serde_json::Value::Null);
        record_kinds(&mut v);
        v
    })
}

/// The `{kind}` of the records' paths takes the library's record kinds.
fn record_kinds(spec: &mut serde_json::Value) {
    let kinds: Vec<serde_json::Value> = enduse::RecordKind::ALL
        .iter()
        .map(|k| serde_json::Value::String(k.as_str().to_owned()))
        .collect();
    let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/v1/records/") {
            continue;
        }
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) else {
                continue;
            };
            for p in params {
                if p["name"] == "kind" && p["in"] == "path" {
                    p["schema"] = serde_json::json!({"type": "string", "enum": kinds.clone()});
                }
            }
        }
    }
}
