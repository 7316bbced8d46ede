//! [`Workflow`]: users, bearer tokens, roles, and the approval workflow of
//! requests, over the database that holds the register.
//!
//! - Users, tokens, requests, reviews and quorums are versioned records in
//!   the `facts` table (workflow kinds, outside the register): every change
//!   is a new version with its three times, and every write states the
//!   version it replaces, so two reviews racing, or a review racing a
//!   withdrawal, cannot both win: the second gets a conflict.
//! - Tokens are `eu_` and 43 random characters, shown once; the database
//!   keeps their SHA-256 only, with an expiry and a revocation.
//! - Who may do what is decided by Cedar policies ([`ApiPolicies`]).
//! - A request is an [`Ask`], a window of days and a justification. Filing
//!   decides the ask on every day of the window: the authorities whose
//!   approval it needs are the request's needs, and a request that needs
//!   none is refused. Its content is immutable and bound by the SHA-256 of
//!   its canonical JSON.
//! - When every needed authority has approved (as many of its members as
//!   its quorum asks), the final review writes, in the same transaction,
//!   one granted consent decision (`approval` record) per authority, scoped
//!   to the request's ask and window, citing a source record that names the
//!   request: a decision on that ask inside the window is then PERMIT and
//!   cites them. A refusal writes a refused decision: FORBID.
//! - Every change is logged in the audit log, in its own transaction.

use crate::ask::Ask;
use crate::audit::Audit;
use crate::authz::{ApiPolicies, Ctx, RequestFacts, Resource};
use crate::clock::Clock;
use crate::error::{cut, Error, ErrorKind, Result};
use crate::reports::{instant, TxnReport};
use crate::snapshot::{ControlSource, Snapshot, SnapshotOrigin};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use enduse_audit::{json_digest, Entry, Hash};
use enduse_core::{ItemRef, Outcome};
use enduse_load::{Record, RecordKind};
use enduse_store::{
    Change, Expect, Store, StoreError, WorkflowChange, WorkflowKind, WorkflowRecord,
    WorkflowVersion, Written,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "eu_";

/// How long a token lasts when no expiry is given.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;

/// The longest window a request may ask for, in days.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// The longest justification, reason or name, in characters.
pub const MAX_TEXT: usize = 10_000;

// ---------------------------------------------------------------------------
// Users, roles, tokens.

/// A role of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Files requests for its party.
    Requester,
    /// Reviews requests for the authorities it is a member of.
    Reviewer,
    /// Writes rules and records.
    Editor,
    /// Manages users and tokens.
    Admin,
}

impl UserRole {
    /// Every role.
    pub const ALL: [UserRole; 4] = [
        UserRole::Requester,
        UserRole::Reviewer,
        UserRole::Editor,
        UserRole::Admin,
    ];

    /// `requester`, `reviewer`, `editor` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Requester => "requester",
            UserRole::Reviewer => "reviewer",
            UserRole::Editor => "editor",
            UserRole::Admin => "admin",
        }
    }

    /// Reads a role's name.
    pub fn parse(s: &str) -> Result<UserRole> {
        UserRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                Error::bad_request(
                    "enduse::workflow::unknown_role",
                    format!("unknown role `{}`", cut(s)),
                    "the roles are requester, reviewer, editor and admin",
                )
            })
    }
}

/// Membership of an authority, from a day to a day (both included; open
/// where absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    /// The authority (`US:SecDef`).
    pub authority: String,
    /// The first day of the membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// The last day of the membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

impl Delegation {
    /// Open-ended membership of `authority`.
    pub fn new(authority: &str) -> Self {
        Delegation {
            authority: authority.to_owned(),
            from: None,
            to: None,
        }
    }

    /// Whether the membership holds on `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= day) && self.to.is_none_or(|t| day <= t)
    }
}

/// A user to add, or the new content of one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Its id: lowercase letters, digits, `.`, `_`, `-`, `@` (64 at most).
    pub id: String,
    /// A name to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The party it acts for (a requester needs one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// Its roles.
    pub roles: Vec<UserRole>,
    /// The authorities it is a member of, with dates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorities: Vec<Delegation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UserBody {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    party: Option<String>,
    roles: Vec<UserRole>,
    #[serde(default)]
    authorities: Vec<Delegation>,
    #[serde(default)]
    disabled: bool,
    created: String,
}

/// A user, as stored now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: String,
    /// A name to show.
    pub name: Option<String>,
    /// The party it acts for.
    pub party: Option<String>,
    /// Its roles.
    pub roles: Vec<UserRole>,
    /// The authorities it is a member of, with dates.
    pub authorities: Vec<Delegation>,
    /// Whether it is disabled (its tokens are refused).
    pub disabled: bool,
    /// When it was added.
    pub created: String,
    /// The version of its record (give it to change the user).
    pub version: i64,
}

impl User {
    fn from_body(b: UserBody, version: i64) -> User {
        User {
            id: b.id,
            name: b.name,
            party: b.party,
            roles: b.roles,
            authorities: b.authorities,
            disabled: b.disabled,
            created: b.created,
            version,
        }
    }

    /// Whether it has `role`.
    pub fn has_role(&self, role: UserRole) -> bool {
        self.roles.contains(&role)
    }

    /// Whether it is a member of `authority` on `day`.
    pub fn member_of(&self, authority: &str, day: NaiveDate) -> bool {
        self.authorities
            .iter()
            .any(|d| d.authority == authority && d.active_on(day))
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Nobody known: no token.
    Anonymous,
    /// Whoever runs the CLI on the database itself.
    Operator,
    /// A user, authenticated by a token (or named by the CLI's `--as`).
    User(User),
}

impl Principal {
    /// The user's id, if a user.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Principal::User(u) => Some(&u.id),
            _ => None,
        }
    }

    fn label(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::Operator => "the operator".into(),
            Principal::User(u) => format!("`{}`", u.id),
        }
    }

    fn actor(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::Operator => "operator".into(),
            Principal::User(u) => u.id.clone(),
        }
    }
}

/// A token as created: the secret is shown here once and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The bearer token (`eu_...`). Only its SHA-256 is stored.
    pub token: String,
    /// Its id (the first 12 hexadecimal digits of its SHA-256), to list
    /// and revoke it.
    pub id: String,
    /// Its user.
    pub user: String,
    /// When it was created.
    pub created: String,
    /// When it expires.
    pub expires: String,
}

/// Whether a token can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Its id.
    pub id: String,
    /// Its user.
    pub user: String,
    /// A label given when it was created.
    pub label: Option<String>,
    /// When it was created.
    pub created: String,
    /// When it expires.
    pub expires: String,
    /// When it was revoked.
    pub revoked: Option<String>,
    /// Whether it can be used now.
    pub status: TokenStatus,
}

/// How many of its members must approve for an authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quorum {
    /// The authority (`US:SecDef`), as the register writes it.
    pub authority: String,
    /// Approvals required of requests filed from now on (1 to 100).
    pub approvals: u32,
}

/// Reads a token's expiry: a day (`2026-12-31`, meaning 00:00 UTC) or an
/// RFC 3339 instant.
pub fn parse_expiry(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    parse_instant(s.trim()).ok_or_else(|| {
        bad(
            "enduse::workflow::bad_expiry",
            format!("the expiry `{}` is not a day or an instant", cut(s)),
            "give a day (YYYY-MM-DD) or an RFC 3339 instant (2026-12-31T12:00:00Z)",
        )
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TokenBody {
    id: String,
    user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    created: String,
    expires: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_by: Option<String>,
}

// ---------------------------------------------------------------------------
// Requests.

/// The days a request's consent may be used: from `from` to `to`, both
/// included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

/// A request to file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// What is asked (its `as_of`, if given, must be a day of the window;
    /// `known_at` and `approvals` are not taken).
    pub ask: Ask,
    /// When the consent would be used.
    pub window: Window,
    /// Why.
    pub justification: String,
}

/// The state of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for reviews.
    Pending,
    /// Every needed authority approved; consent is on record.
    Approved,
    /// A needed authority refused; the refusal is on record.
    Refused,
    /// Withdrawn by its requester.
    Withdrawn,
    /// Its window passed while it was pending.
    Expired,
}

impl RequestStatus {
    /// `pending`, `approved`, `refused`, `withdrawn` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Refused => "refused",
            RequestStatus::Withdrawn => "withdrawn",
            RequestStatus::Expired => "expired",
        }
    }

    /// Reads a status's name.
    pub fn parse(s: &str) -> Result<RequestStatus> {
        [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Refused,
            RequestStatus::Withdrawn,
            RequestStatus::Expired,
        ]
        .into_iter()
        .find(|x| x.as_str() == s.trim())
        .ok_or_else(|| {
            Error::bad_request(
                "enduse::workflow::unknown_status",
                format!("unknown request status `{}`", cut(s)),
                "the statuses are pending, approved, refused, withdrawn and expired",
            )
        })
    }
}

/// A reviewer's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Approve.
    Approve,
    /// Refuse.
    Refuse,
}

/// A review to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// Approve or refuse.
    pub verdict: Verdict,
    /// Why (required).
    pub reason: String,
    /// The authority reviewed for; needed only when the reviewer is a
    /// member of several of the request's authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// The version of the request the reviewer saw; a later one is a
    /// conflict (HTTP `If-Match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_version: Option<i64>,
}

/// A withdrawal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawInput {
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The version of the request the requester saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_version: Option<i64>,
}

/// Which requests to list (each filter optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    /// Those needing this authority (the queue of an authority).
    #[serde(default)]
    pub authority: Option<String>,
    /// Those in this state.
    #[serde(default)]
    pub status: Option<RequestStatus>,
    /// Those filed for this party.
    #[serde(default)]
    pub party: Option<String>,
    /// Those filed by this user (the requester's view).
    #[serde(default)]
    pub requester: Option<String>,
}

/// What a request is about, resolved against the register when it was
/// filed: the consent's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestScope {
    /// The acting party (the request's party).
    pub actor: String,
    /// The action.
    pub action: String,
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The lot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// The place (for a point: its subdivision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// The recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// The target class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_class: Option<String>,
    /// The purpose (not part of a consent decision's scope: recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The final destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// The answer on a stretch of the window's days when the request was filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayOutcome {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// `permit`, `forbid`, `needs_approval` or `indeterminate`.
    pub outcome: String,
}

/// The immutable content of a request, bound by its digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestContent {
    /// What was asked (a point as `"LAT,LON"` text, a distance in whole km).
    pub ask: Ask,
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
    pub register_txn: Option<i64>,
    /// The ask, resolved.
    pub scope: RequestScope,
    /// The authorities whose approval it needs.
    pub needs: Vec<String>,
    /// The answers over the window when it was filed.
    pub days: Vec<DayOutcome>,
}

/// One review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// 1, 2, ... in the request.
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

/// How a request was closed by its requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    /// When.
    pub at: String,
    /// Who.
    pub by: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct NeedState {
    authority: String,
    name: String,
    party: String,
    required: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RequestBody {
    id: String,
    content: Value,
    digest: String,
    status: RequestStatus,
    needs: Vec<NeedState>,
    #[serde(default)]
    reviews: Vec<Review>,
    #[serde(default)]
    consents: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed: Option<Closed>,
}

/// One needed authority of a request, and how far its reviews got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedView {
    /// The authority.
    pub authority: String,
    /// Its name.
    pub name: String,
    /// Its party.
    pub party: String,
    /// Approvals it requires (its quorum when the request was filed).
    pub required: u32,
    /// Approvals given.
    pub approvals: u32,
    /// Whether one of its members refused.
    pub refused: bool,
    /// Whether it has approved (`approvals >= required`).
    pub satisfied: bool,
    /// The users who may review for it now.
    pub reviewers: Vec<String>,
}

/// A request as stored now (or at one of its versions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestView {
    /// Its id.
    pub id: String,
    /// Its state (expired is computed from the window and the clock).
    pub status: RequestStatus,
    /// The version of its record (give it to review or withdraw).
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
    pub source: Option<String>,
    /// Its withdrawal.
    pub closed: Option<Closed>,
    /// When this version was entered.
    pub entered: String,
    /// The transaction that wrote this version.
    pub txn: i64,
}

// ---------------------------------------------------------------------------
// Errors.

fn unauthorized(message: impl Into<String>) -> Error {
    Error::new(
        "enduse::unauthorized",
        ErrorKind::Unauthorized,
        message,
        Some("send a token: `authorization: Bearer eu_...`; an admin creates one with `POST /v1/tokens` or `enduse token create USER`".into()),
    )
}

fn forbidden(message: impl Into<String>, help: impl Into<String>) -> Error {
    Error::new(
        "enduse::forbidden",
        ErrorKind::Forbidden,
        message,
        Some(help.into()),
    )
}

/// A change by which a user would lock itself out.
fn lockout(id: &str, what: &str) -> Error {
    forbidden(
        format!("`{}` may not {what}", cut(id)),
        "another admin, or the database's operator (`enduse user`, `enduse token`), can do it",
    )
}

fn no_request(id: &str) -> Error {
    Error::not_found(
        "enduse::workflow::no_request",
        format!("there is no request `{}`", cut(id)),
        "`enduse request list` lists the requests you may see",
    )
}

fn no_user(id: &str) -> Error {
    Error::not_found(
        "enduse::workflow::no_user",
        format!("there is no user `{}`", cut(id)),
        "the users are listed by `enduse user list` and GET /v1/users",
    )
}

fn bad(code: &'static str, message: impl Into<String>, help: &str) -> Error {
    Error::bad_request(code, message, help)
}

fn internal_json(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("a workflow record cannot be read: {e}"))
}

/// A conflict of the store, said in the workflow's terms.
fn raced(e: Error, what: &str) -> Error {
    if e.kind() == ErrorKind::Conflict {
        e.with_help(format!(
            "{what} changed between your read and this write (another review or a withdrawal came first); nothing was written: read it again"
        ))
    } else {
        e
    }
}

fn check_text(field: &str, s: &str, required: bool) -> Result<()> {
    if required && s.trim().is_empty() {
        return Err(bad(
            "enduse::workflow::missing_text",
            format!("the {field} is empty"),
            &format!("give a {field}: it is kept with the record"),
        ));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(bad(
            "enduse::workflow::too_long",
            format!("the {field} is longer than {MAX_TEXT} characters"),
            "",
        ));
    }
    Ok(())
}

fn check_user_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'@')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(
            "enduse::workflow::bad_user_id",
            format!("`{}` is not a user id", cut(id)),
            "a user id is 1 to 64 lowercase letters, digits, `.`, `_`, `-` or `@`, starting with a letter or a digit",
        ))
    }
}

fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    use rand_core::RngCore;
    let mut b = [0u8; N];
    rand_core::OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| Error::internal(format!("no random numbers: {e}")))?;
    Ok(b)
}

fn workflow_record(kind: WorkflowKind, key: &str, body: &impl Serialize) -> Result<WorkflowRecord> {
    Ok(WorkflowRecord {
        kind,
        key: key.to_owned(),
        body: serde_json::to_string(body).map_err(|e| Error::internal(e.to_string()))?,
        valid_from: None,
        valid_to: None,
        recorded_at: None,
    })
}

fn toml_text(v: &Value) -> Result<String> {
    let t: toml::Value = serde_json::from_value(v.clone())
        .map_err(|e| Error::internal(format!("a generated record: {e}")))?;
    toml::to_string(&t).map_err(|e| Error::internal(format!("a generated record: {e}")))
}

// ---------------------------------------------------------------------------
// The handle.

/// The workflow over one database: users, tokens, requests and their
/// reviews, with the audit log ([`Workflow::audit`]) and the register's
/// snapshots ([`Workflow::snapshot`]) of the same database.
pub struct Workflow {
    audit: Audit,
    clock: Clock,
    policies: Arc<ApiPolicies>,
    snapshot: Option<(i64, Arc<Snapshot>)>,
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("target", &self.audit.target())
            .field("policies", &self.policies.name())
            .finish()
    }
}

impl Workflow {
    /// Opens the database `target` (`memory:`, a SQLite file, created if
    /// missing, or PostgreSQL), with the bundled policies and the process's
    /// clock.
    pub fn open(target: &str) -> Result<Workflow> {
        Ok(Workflow {
            audit: Audit::open(target)?,
            clock: Clock::from_process(),
            policies: Arc::new(ApiPolicies::bundled()?),
            snapshot: None,
        })
    }

    /// Uses `clock` for "now": token expiry, windows, delegations, dates of
    /// records.
    pub fn with_clock(mut self, clock: Clock) -> Workflow {
        self.clock = clock;
        self
    }

    /// Uses other policies (a data set's `api.cedar`, a server option).
    pub fn with_policies(mut self, policies: Arc<ApiPolicies>) -> Workflow {
        self.policies = policies;
        self
    }

    /// The policies in use.
    pub fn policies(&self) -> &ApiPolicies {
        &self.policies
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The database, as named when opened.
    pub fn target(&self) -> &str {
        self.audit.target()
    }

    /// The audit log of the same database.
    pub fn audit(&mut self) -> &mut Audit {
        &mut self.audit
    }

    fn store(&mut self) -> &mut dyn Store {
        self.audit.store()
    }

    fn today(&self) -> NaiveDate {
        self.clock.today()
    }

    /// Loads the bundled data set into an empty register, as `enduse init`
    /// does: for a `memory:` database, whose register no other handle can
    /// reach.
    pub fn load_bundled(&mut self) -> Result<Option<TxnReport>> {
        if !self.store().heads(None)?.is_empty() {
            return Err(Error::conflict(
                "enduse::not_empty",
                format!("`{}` already holds a register", cut(self.audit.target())),
                "",
            ));
        }
        let mut map: std::collections::BTreeMap<String, String> = enduse_load::bundled_files()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        map.insert(
            enduse_load::CONTROL_FILE.to_owned(),
            enduse_geo::ControlLayer::bundled_json().to_owned(),
        );
        let files = enduse_load::DataFiles::from_map(enduse_load::BUNDLED_NAME, map);
        let records = enduse_store::prepare(&files)?;
        let r = enduse_store::import_records(
            self.store(),
            records,
            &format!("init: bundled {}", enduse_load::BUNDLED_NAME),
            &mut |_, _, _| {},
        )?;
        Ok(r.txn.as_ref().map(TxnReport::from))
    }

    /// The register as the database holds it now, kept while no
    /// transaction changes the register (writes of the workflow alone do
    /// not).
    pub fn snapshot(&mut self) -> Result<Arc<Snapshot>> {
        let backend = self.store().backend();
        let Some(latest) = self.store().latest_register_txn()? else {
            return Err(Error::not_found(
                "enduse::no_register",
                format!(
                    "the {backend} database is empty: run `enduse init` or `enduse import DIR`"
                ),
                "",
            ));
        };
        if let Some((t, s)) = &self.snapshot {
            if *t == latest {
                return Ok(s.clone());
            }
        }
        let records: Vec<Record> = self
            .store()
            .heads(None)?
            .into_iter()
            .filter(|v| !v.retracted)
            .map(|v| v.record)
            .collect();
        let refs: Vec<&Record> = records.iter().collect();
        let engine =
            enduse_load::engine_from_trusted_records(&format!("{backend} database"), &refs)?;
        let control = match enduse_load::control_json(&refs) {
            Some(text) => ControlSource::Text {
                name: "the database's control layer".into(),
                text,
            },
            None => ControlSource::Bundled,
        };
        let snapshot = Arc::new(Snapshot::new(
            engine,
            SnapshotOrigin {
                source: "database",
                name: self.audit.target().to_owned(),
                txn: Some(latest),
            },
            control,
        ));
        self.snapshot = Some((latest, snapshot.clone()));
        Ok(snapshot)
    }

    // -----------------------------------------------------------------------
    // Authentication and authorization.

    /// Who sends `authorization` (an HTTP `Authorization` value, `Bearer
    /// eu_...`, or the bare token): anonymous without one; a user with a
    /// valid token. An unknown, expired or revoked token, or the token of a
    /// disabled user, is an `unauthorized` error.
    pub fn authenticate(&mut self, authorization: Option<&str>) -> Result<Principal> {
        let Some(raw) = authorization.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Principal::Anonymous);
        };
        let token = match raw.split_once(char::is_whitespace) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            Some(_) => return Err(unauthorized("the authorization is not a bearer token")),
            None => raw,
        };
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(unauthorized(
                "that is not an enduse token (they start with `eu_`)",
            ));
        }
        let key = Hash::digest(token.as_bytes()).to_hex();
        let Some(v) = self
            .store()
            .workflow_history(WorkflowKind::Token, &key)?
            .pop()
        else {
            return Err(unauthorized("the token is not valid"));
        };
        if v.retracted {
            return Err(unauthorized("the token is not valid"));
        }
        let t: TokenBody = serde_json::from_str(&v.record.body).map_err(internal_json)?;
        if let Some(at) = &t.revoked {
            return Err(unauthorized(format!(
                "token `{}` was revoked at {at}",
                t.id
            )));
        }
        let now = self.clock.now();
        if parse_instant(&t.expires).is_none_or(|e| e <= now) {
            return Err(unauthorized(format!(
                "token `{}` expired at {}",
                t.id, t.expires
            )));
        }
        let user = self.find_user(&t.user)?.ok_or_else(|| {
            unauthorized(format!("the user of token `{}` no longer exists", t.id))
        })?;
        if user.disabled {
            return Err(unauthorized(format!("user `{}` is disabled", user.id)));
        }
        Ok(Principal::User(user))
    }

    /// The user `id`, to act as (the CLI's `--as USER`: whoever can open
    /// the database can act as any user).
    pub fn act_as(&mut self, id: &str) -> Result<Principal> {
        let user = self.user(id)?;
        if user.disabled {
            return Err(unauthorized(format!("user `{}` is disabled", user.id)));
        }
        Ok(Principal::User(user))
    }

    fn require(
        &self,
        p: &Principal,
        action: &str,
        resource: &Resource<'_>,
        ctx: &Ctx<'_>,
        what: &str,
    ) -> Result<()> {
        if *p == Principal::Anonymous && action != "read" {
            return Err(unauthorized(format!("{what} needs a token")));
        }
        let answer = self.policies.ask(p, action, resource, ctx, self.today())?;
        if answer.allowed {
            return Ok(());
        }
        if *p == Principal::Anonymous {
            return Err(unauthorized(format!("{what} needs a token on this server")));
        }
        let help = if answer.forbidden_by.is_empty() {
            format!("no policy of {} permits it", self.policies.name())
        } else {
            format!(
                "refused by the policy `{}` of {}",
                answer.forbidden_by.join("`, `"),
                self.policies.name()
            )
        };
        Err(forbidden(format!("{} may not {what}", p.label()), help))
    }

    /// Whether `p` may read decisions, the register and the audit log
    /// (`private`: the server's `--private`): anonymous readers of a
    /// private server get `unauthorized`.
    pub fn authorize_read(&self, p: &Principal, private: bool) -> Result<()> {
        self.require(
            p,
            "read",
            &Resource::Register,
            &Ctx::Private(private),
            "read the register",
        )
    }

    /// Whether `p` may write the register (put, retract, import): editors.
    pub fn authorize_write(&self, p: &Principal) -> Result<()> {
        self.require(
            p,
            "write",
            &Resource::Register,
            &Ctx::Empty,
            "write the register",
        )
    }

    /// Whether `p` may manage users, tokens and quorums: admins and the
    /// operator.
    pub fn authorize_manage(&self, p: &Principal) -> Result<()> {
        self.require(
            p,
            "manage",
            &Resource::Accounts,
            &Ctx::Empty,
            "manage users and tokens",
        )
    }

    // -----------------------------------------------------------------------
    // Users.

    fn find_user(&mut self, id: &str) -> Result<Option<User>> {
        let Some(v) = self.store().workflow_history(WorkflowKind::User, id)?.pop() else {
            return Ok(None);
        };
        if v.retracted {
            return Ok(None);
        }
        let b: UserBody = serde_json::from_str(&v.record.body).map_err(internal_json)?;
        Ok(Some(User::from_body(b, v.version)))
    }

    /// One user.
    pub fn user(&mut self, id: &str) -> Result<User> {
        self.find_user(id)?.ok_or_else(|| no_user(id))
    }

    /// Every user, by id.
    pub fn users(&mut self) -> Result<Vec<User>> {
        self.store()
            .workflow_heads(WorkflowKind::User)?
            .into_iter()
            .filter(|v| !v.retracted)
            .map(|v| {
                serde_json::from_str::<UserBody>(&v.record.body)
                    .map(|b| User::from_body(b, v.version))
                    .map_err(internal_json)
            })
            .collect()
    }

    /// Checks a user's content against the register: its party and its
    /// authorities, written as the register writes them.
    fn checked_user(&mut self, u: &NewUser) -> Result<NewUser> {
        check_user_id(&u.id)?;
        if let Some(n) = &u.name {
            check_text("name", n, false)?;
        }
        if u.roles.is_empty() {
            return Err(bad(
                "enduse::workflow::no_role",
                format!("user `{}` has no role", cut(&u.id)),
                "give one or more of requester, reviewer, editor, admin",
            ));
        }
        let snap = self.snapshot()?;
        let engine = snap.engine();
        let mut out = u.clone();
        out.roles.sort();
        out.roles.dedup();
        out.party = match &u.party {
            Some(p) => Some(engine.resolve_party(p)?.to_string()),
            None => None,
        };
        if out.has_requester() && out.party.is_none() {
            return Err(bad(
                "enduse::workflow::requester_without_party",
                format!("user `{}` is a requester but has no party", cut(&u.id)),
                "a requester files requests for its own party: give its `party` (`UA`)",
            ));
        }
        for d in &mut out.authorities {
            d.authority = engine.resolve_authority(&d.authority)?.to_string();
            if let (Some(f), Some(t)) = (d.from, d.to) {
                if t < f {
                    return Err(bad(
                        "enduse::workflow::bad_delegation",
                        format!(
                            "the membership of `{}` in `{}` ends ({t}) before it starts ({f})",
                            cut(&u.id),
                            d.authority
                        ),
                        "`to` is the last day of the membership",
                    ));
                }
            }
        }
        Ok(out)
    }

    fn write_workflow(
        &mut self,
        changes: &[Change],
        workflow: &[WorkflowChange],
        event: Value,
        note: &str,
    ) -> Result<Written> {
        let events = [Entry::workflow(&event)];
        Ok(self
            .store()
            .write_with(changes, workflow, &events, note, &mut |_, _| {})?)
    }

    /// Adds a user (admins and the operator).
    pub fn add_user(&mut self, by: &Principal, user: &NewUser) -> Result<User> {
        self.authorize_manage(by)?;
        let u = self.checked_user(user)?;
        if self.find_user(&u.id)?.is_some() {
            return Err(Error::conflict(
                "enduse::workflow::user_exists",
                format!("user `{}` exists", cut(&u.id)),
                "change it, giving its version, or give the new user an id of its own",
            ));
        }
        let now = instant(self.clock.now());
        let body = UserBody {
            id: u.id.clone(),
            name: u.name.clone(),
            party: u.party.clone(),
            roles: u.roles.clone(),
            authorities: u.authorities.clone(),
            disabled: false,
            created: now.clone(),
        };
        let rec = workflow_record(WorkflowKind::User, &u.id, &body)?;
        let event = json!({
            "event": "user_added", "user": u.id, "by": by.actor(), "at": now,
            "party": u.party, "roles": u.roles, "authorities": u.authorities,
        });
        self.write_workflow(
            &[],
            &[WorkflowChange {
                record: rec,
                retract: false,
                expect: Expect::Absent,
            }],
            event,
            &format!("workflow: add user `{}`", u.id),
        )?;
        self.user(&u.id)
    }

    /// Replaces a user's name, party, roles and authorities; `version` is
    /// the version the caller saw (a later one is a conflict).
    pub fn update_user(&mut self, by: &Principal, user: &NewUser, version: i64) -> Result<User> {
        self.authorize_manage(by)?;
        let u = self.checked_user(user)?;
        let old = self.user(&u.id)?;
        if by.user_id() == Some(u.id.as_str()) {
            // An admin who took away its own right to manage could not
            // undo it: another admin, or the operator, must.
            let after = Principal::User(User {
                roles: u.roles.clone(),
                authorities: u.authorities.clone(),
                party: u.party.clone(),
                ..old.clone()
            });
            if self.authorize_manage(&after).is_err() {
                return Err(lockout(&u.id, "take away its own right to manage users"));
            }
        }
        let body = UserBody {
            id: u.id.clone(),
            name: u.name.clone(),
            party: u.party.clone(),
            roles: u.roles.clone(),
            authorities: u.authorities.clone(),
            disabled: old.disabled,
            created: old.created.clone(),
        };
        self.put_user(by, &body, version, "user_updated")
    }

    /// Disables (or enables again) a user: its tokens are refused while it
    /// is disabled. A user already in that state is returned unchanged and
    /// nothing is written.
    pub fn set_disabled(
        &mut self,
        by: &Principal,
        id: &str,
        disabled: bool,
        version: Option<i64>,
    ) -> Result<User> {
        self.authorize_manage(by)?;
        let old = self.user(id)?;
        if disabled && by.user_id() == Some(old.id.as_str()) {
            return Err(lockout(&old.id, "disable itself"));
        }
        // Already in that state: nothing to record. A stale version still
        // goes to the write below, which refuses it as any stale write.
        if old.disabled == disabled && version.is_none_or(|v| v == old.version) {
            return Ok(old);
        }
        let body = UserBody {
            id: old.id.clone(),
            name: old.name.clone(),
            party: old.party.clone(),
            roles: old.roles.clone(),
            authorities: old.authorities.clone(),
            disabled,
            created: old.created.clone(),
        };
        let event = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        self.put_user(by, &body, version.unwrap_or(old.version), event)
    }

    fn put_user(
        &mut self,
        by: &Principal,
        body: &UserBody,
        version: i64,
        event: &str,
    ) -> Result<User> {
        let rec = workflow_record(WorkflowKind::User, &body.id, body)?;
        let ev = json!({
            "event": event, "user": body.id, "by": by.actor(), "at": instant(self.clock.now()),
            "party": body.party, "roles": body.roles, "authorities": body.authorities,
            "disabled": body.disabled,
        });
        self.write_workflow(
            &[],
            &[WorkflowChange {
                record: rec,
                retract: false,
                expect: Expect::Version(version),
            }],
            ev,
            &format!("workflow: {event} `{}`", body.id),
        )
        .map_err(|e| raced(e, &format!("user `{}`", body.id)))?;
        self.user(&body.id)
    }

    /// Every version of a user's record, oldest first.
    pub fn user_history(&mut self, by: &Principal, id: &str) -> Result<Vec<User>> {
        self.authorize_manage(by)?;
        let versions = self.store().workflow_history(WorkflowKind::User, id)?;
        if versions.is_empty() {
            return Err(no_user(id));
        }
        versions
            .into_iter()
            .filter(|v| !v.retracted)
            .map(|v| {
                serde_json::from_str::<UserBody>(&v.record.body)
                    .map(|b| User::from_body(b, v.version))
                    .map_err(internal_json)
            })
            .collect()
    }

    // -----------------------------------------------------------------------
    // Tokens.

    /// Creates a token for `user`, valid until `expires` (default:
    /// [`DEFAULT_TOKEN_DAYS`] from now). The token is returned once; only
    /// its SHA-256 is stored.
    pub fn create_token(
        &mut self,
        by: &Principal,
        user: &str,
        expires: Option<DateTime<Utc>>,
        label: Option<&str>,
    ) -> Result<IssuedToken> {
        self.authorize_manage(by)?;
        let u = self.user(user)?;
        if let Some(l) = label {
            check_text("label", l, false)?;
        }
        let now = self.clock.now();
        let expires = expires.unwrap_or(now + Duration::days(DEFAULT_TOKEN_DAYS));
        if expires <= now {
            return Err(bad(
                "enduse::workflow::expired_token",
                format!("the expiry {} is not in the future", instant(expires)),
                "give a day after today",
            ));
        }
        let secret: [u8; 32] = random_bytes()?;
        let token = format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let key = Hash::digest(token.as_bytes()).to_hex();
        let id = key.get(..12).unwrap_or(&key).to_owned();
        let body = TokenBody {
            id: id.clone(),
            user: u.id.clone(),
            label: label.map(str::to_owned),
            created: instant(now),
            expires: instant(expires),
            revoked: None,
            revoked_by: None,
        };
        let rec = workflow_record(WorkflowKind::Token, &key, &body)?;
        let event = json!({
            "event": "token_created", "token": id, "user": u.id, "by": by.actor(),
            "at": body.created, "expires": body.expires,
        });
        self.write_workflow(
            &[],
            &[WorkflowChange {
                record: rec,
                retract: false,
                expect: Expect::Absent,
            }],
            event,
            &format!("workflow: create token `{id}` for `{}`", u.id),
        )?;
        Ok(IssuedToken {
            token,
            id,
            user: u.id,
            created: body.created,
            expires: body.expires,
        })
    }

    fn token_info(&self, b: TokenBody) -> TokenInfo {
        let now = self.clock.now();
        let status = if b.revoked.is_some() {
            TokenStatus::Revoked
        } else if parse_instant(&b.expires).is_none_or(|e| e <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        };
        TokenInfo {
            id: b.id,
            user: b.user,
            label: b.label,
            created: b.created,
            expires: b.expires,
            revoked: b.revoked,
            status,
        }
    }

    fn token_versions(&mut self) -> Result<Vec<(WorkflowVersion, TokenBody)>> {
        self.store()
            .workflow_heads(WorkflowKind::Token)?
            .into_iter()
            .filter(|v| !v.retracted)
            .map(|v| {
                let b: TokenBody = serde_json::from_str(&v.record.body).map_err(internal_json)?;
                Ok((v, b))
            })
            .collect()
    }

    /// The tokens (of `user`, or all), without their secrets.
    pub fn tokens(&mut self, by: &Principal, user: Option<&str>) -> Result<Vec<TokenInfo>> {
        self.authorize_manage(by)?;
        let mut out: Vec<TokenInfo> = self
            .token_versions()?
            .into_iter()
            .filter(|(_, b)| user.is_none_or(|u| b.user == u))
            .map(|(_, b)| self.token_info(b))
            .collect();
        out.sort_by(|a, b| (&a.user, &a.created).cmp(&(&b.user, &b.created)));
        Ok(out)
    }

    /// Revokes the token with id `id` (or the token itself).
    pub fn revoke_token(&mut self, by: &Principal, id: &str) -> Result<TokenInfo> {
        self.authorize_manage(by)?;
        let wanted = if id.starts_with(TOKEN_PREFIX) {
            Hash::digest(id.as_bytes())
                .to_hex()
                .get(..12)
                .unwrap_or("")
                .to_owned()
        } else {
            id.trim().to_owned()
        };
        let found = self
            .token_versions()?
            .into_iter()
            .find(|(_, b)| b.id == wanted);
        let Some((v, mut b)) = found else {
            return Err(Error::not_found(
                "enduse::workflow::no_token",
                format!("there is no token `{}`", cut(&wanted)),
                "the tokens are listed with their ids by `enduse token list` and GET /v1/tokens",
            ));
        };
        if b.revoked.is_some() {
            return Ok(self.token_info(b));
        }
        if by.user_id() == Some(b.user.as_str()) {
            let others = self
                .tokens(by, Some(&b.user))?
                .into_iter()
                .filter(|t| t.id != b.id && t.status == TokenStatus::Active)
                .count();
            if others == 0 {
                return Err(lockout(&b.user, "revoke its last active token"));
            }
        }
        let now = instant(self.clock.now());
        b.revoked = Some(now.clone());
        b.revoked_by = Some(by.actor());
        let rec = workflow_record(WorkflowKind::Token, &v.record.key, &b)?;
        let event = json!({
            "event": "token_revoked", "token": b.id, "user": b.user, "by": by.actor(), "at": now,
        });
        self.write_workflow(
            &[],
            &[WorkflowChange {
                record: rec,
                retract: false,
                expect: Expect::Version(v.version),
            }],
            event,
            &format!("workflow: revoke token `{}`", b.id),
        )
        .map_err(|e| raced(e, &format!("token `{}`", b.id)))?;
        Ok(self.token_info(b))
    }

    // -----------------------------------------------------------------------
    // Quorums.

    /// The approvals `authority` requires (default 1).
    pub fn quorum(&mut self, authority: &str) -> Result<u32> {
        Ok(self
            .store()
            .workflow_history(WorkflowKind::Quorum, authority)?
            .pop()
            .filter(|v| !v.retracted)
            .and_then(|v| serde_json::from_str::<Value>(&v.record.body).ok())
            .and_then(|b| b.get("approvals").and_then(Value::as_u64))
            .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    /// The quorum of `authority` (a code, or a name the register
    /// resolves), for whoever may manage (admins and the operator).
    pub fn quorum_of(&mut self, by: &Principal, authority: &str) -> Result<Quorum> {
        self.authorize_manage(by)?;
        let snap = self.snapshot()?;
        let authority = snap.engine().resolve_authority(authority)?.to_string();
        let approvals = self.quorum(&authority)?;
        Ok(Quorum {
            authority,
            approvals,
        })
    }

    /// Sets how many of its members must approve for `authority` (1 to
    /// 100). Requests filed later are held to it; pending ones keep the
    /// quorum they were filed with.
    pub fn set_quorum(&mut self, by: &Principal, authority: &str, approvals: u32) -> Result<u32> {
        self.authorize_manage(by)?;
        if !(1..=100).contains(&approvals) {
            return Err(bad(
                "enduse::workflow::bad_quorum",
                format!("`approvals` is {approvals}: a quorum is 1 to 100 approvals"),
                "give how many members of the authority must approve, 1 to 100",
            ));
        }
        let snap = self.snapshot()?;
        let authority = snap.engine().resolve_authority(authority)?.to_string();
        let current = self
            .store()
            .workflow_history(WorkflowKind::Quorum, &authority)?
            .pop();
        let expect = current.map_or(Expect::Absent, |v| Expect::Version(v.version));
        let body = json!({"authority": authority, "approvals": approvals});
        let rec = workflow_record(WorkflowKind::Quorum, &authority, &body)?;
        let event = json!({
            "event": "quorum_set", "authority": authority, "approvals": approvals,
            "by": by.actor(), "at": instant(self.clock.now()),
        });
        self.write_workflow(
            &[],
            &[WorkflowChange {
                record: rec,
                retract: false,
                expect,
            }],
            event,
            &format!("workflow: quorum of `{authority}` is {approvals}"),
        )
        .map_err(|e| raced(e, &format!("the quorum of `{authority}`")))?;
        Ok(approvals)
    }

    // -----------------------------------------------------------------------
    // Requests.

    fn load_request(&mut self, id: &str) -> Result<(WorkflowVersion, RequestBody)> {
        let v = self
            .store()
            .workflow_history(WorkflowKind::Request, id)?
            .pop()
            .filter(|v| !v.retracted)
            .ok_or_else(|| no_request(id))?;
        let b: RequestBody = serde_json::from_str(&v.record.body).map_err(internal_json)?;
        Ok((v, b))
    }

    fn facts_of(b: &RequestBody, content: &RequestContent) -> RequestFacts {
        RequestFacts {
            id: b.id.clone(),
            party: content.party.clone(),
            requester: content.requester.clone(),
            needs: b.needs.iter().map(|n| n.authority.clone()).collect(),
        }
    }

    fn content_of(b: &RequestBody) -> Result<RequestContent> {
        serde_json::from_value(b.content.clone()).map_err(internal_json)
    }

    fn status_of(&self, b: &RequestBody, content: &RequestContent) -> RequestStatus {
        if b.status == RequestStatus::Pending && self.today() > content.window.to {
            RequestStatus::Expired
        } else {
            b.status
        }
    }

    fn view(&mut self, v: &WorkflowVersion, b: &RequestBody) -> Result<RequestView> {
        let users = self.users()?;
        self.view_with(v, b, &users)
    }

    fn view_with(
        &self,
        v: &WorkflowVersion,
        b: &RequestBody,
        users: &[User],
    ) -> Result<RequestView> {
        let content = Self::content_of(b)?;
        let facts = Self::facts_of(b, &content);
        let today = self.today();
        let mut needs = Vec::with_capacity(b.needs.len());
        for n in &b.needs {
            let approvals = b
                .reviews
                .iter()
                .filter(|r| r.authority == n.authority && r.verdict == Verdict::Approve)
                .count() as u32;
            let refused = b
                .reviews
                .iter()
                .any(|r| r.authority == n.authority && r.verdict == Verdict::Refuse);
            let mut reviewers = Vec::new();
            for u in users.iter().filter(|u| !u.disabled) {
                let p = Principal::User(u.clone());
                let ok = self
                    .policies
                    .ask(
                        &p,
                        "review",
                        &Resource::Request(&facts),
                        &Ctx::Authority(&n.authority),
                        today,
                    )?
                    .allowed;
                if ok {
                    reviewers.push(u.id.clone());
                }
            }
            needs.push(NeedView {
                authority: n.authority.clone(),
                name: n.name.clone(),
                party: n.party.clone(),
                required: n.required,
                approvals,
                refused,
                satisfied: approvals >= n.required,
                reviewers,
            });
        }
        Ok(RequestView {
            id: b.id.clone(),
            status: self.status_of(b, &content),
            version: v.version,
            content_intact: json_digest(&b.content).to_hex() == b.digest,
            digest: b.digest.clone(),
            content,
            needs,
            reviews: b.reviews.clone(),
            consents: b.consents.clone(),
            source: b.source.clone(),
            closed: b.closed.clone(),
            entered: instant(v.sys_from),
            txn: v.txn,
        })
    }

    /// Files a request for the requester's party. The ask is decided on
    /// every day of the window; the authorities it needs approval from on
    /// any of them are the request's needs. A request that needs no
    /// approval is refused.
    pub fn file(&mut self, by: &Principal, input: &RequestInput) -> Result<RequestView> {
        let Principal::User(user) = by else {
            return Err(match by {
                Principal::Anonymous => unauthorized("filing a request needs a token"),
                _ => forbidden(
                    "the operator may not file requests",
                    "file as a user with `--as USER`",
                ),
            });
        };
        let user = user.clone();
        check_text("justification", &input.justification, true)?;
        let today = self.today();
        let w = input.window;
        if w.to < w.from {
            return Err(bad(
                "enduse::workflow::bad_window",
                format!("the window ends ({}) before it starts ({})", w.to, w.from),
                "`to` is the last day the consent would be used",
            ));
        }
        if w.to < today {
            return Err(bad(
                "enduse::workflow::past_window",
                format!("the window ends ({}) before today ({today})", w.to),
                "a request is for days to come",
            ));
        }
        if (w.to - w.from).num_days() + 1 > MAX_WINDOW_DAYS {
            return Err(bad(
                "enduse::workflow::long_window",
                format!(
                    "the window is {} days long; the longest is {MAX_WINDOW_DAYS}",
                    (w.to - w.from).num_days() + 1
                ),
                "file one request per year at most",
            ));
        }
        let ask = &input.ask;
        if !ask.approvals.is_empty() {
            return Err(bad(
                "enduse::workflow::approvals_in_request",
                "a request asks for approvals: it cannot assume any (`approvals` must be empty)",
                "leave out `approvals`",
            ));
        }
        if ask.known_at.is_some() {
            return Err(bad(
                "enduse::workflow::known_at_in_request",
                "a request is decided on today's public record: leave out `known_at`",
                "",
            ));
        }
        if let Some(a) = &ask.as_of {
            let day = enduse_core::parse_day(a).ok().filter(|_| !a.contains(".."));
            match day {
                Some(d) if d >= w.from && d <= w.to => {}
                _ => {
                    return Err(bad(
                        "enduse::workflow::as_of_outside_window",
                        format!(
                            "the ask's as-of `{}` is not a day of the window ({} to {})",
                            cut(a),
                            w.from,
                            w.to
                        ),
                        "leave out `as_of`: every day of the window is decided",
                    ))
                }
            }
        }
        // The content: the ask with its point as text and its distance in
        // whole km, so that its JSON has no fraction to drift.
        let mut stored_ask = ask.clone();
        if let Some(p) = &stored_ask.at {
            stored_ask.at = Some(crate::geo::Point::Text(p.to_string()));
        }
        if let Some(d) = stored_ask.border_distance_km {
            stored_ask.border_distance_km = Some(d.ceil());
        }
        let snap = self.snapshot()?;
        let mut needs: Vec<enduse_core::ApprovalNeed> = Vec::new();
        let mut days: Vec<DayOutcome> = Vec::new();
        let mut first: Option<enduse_core::Decision> = None;
        let mut day = w.from;
        while day <= w.to {
            let mut a = stored_ask.clone();
            a.as_of = Some(day.to_string());
            let report = snap.check(&a, today)?;
            let d = report.decision;
            for n in &d.approvals {
                if !needs.iter().any(|x| x.authority == n.authority) {
                    needs.push(n.clone());
                }
            }
            let outcome = d.outcome.to_string();
            match days.last_mut() {
                Some(s) if s.outcome == outcome => s.to = day,
                _ => days.push(DayOutcome {
                    from: day,
                    to: day,
                    outcome,
                }),
            }
            if first.is_none() {
                first = Some(d);
            }
            day = match day.succ_opt() {
                Some(x) => x,
                None => break,
            };
        }
        let Some(first) = first else {
            return Err(Error::internal("a window without days"));
        };
        if needs.is_empty() {
            let said: Vec<String> = days
                .iter()
                .map(|s| {
                    if s.from == s.to {
                        format!("{} on {}", s.outcome, s.from)
                    } else {
                        format!("{} from {} to {}", s.outcome, s.from, s.to)
                    }
                })
                .collect();
            let permitted = days
                .iter()
                .all(|s| s.outcome == Outcome::Permit.to_string());
            return Err(bad(
                "enduse::workflow::no_approval_needed",
                if permitted {
                    format!(
                        "the request needs no approval: the answer is {}",
                        said.join(", ")
                    )
                } else {
                    format!(
                        "there is nothing to approve: no authority's approval is needed or would change the answer, which is {}",
                        said.join(", ")
                    )
                },
                "only an ask whose answer is `needs_approval` on some day of the window can be filed (a forbid, such as a refusal on record, is not lifted by an approval); `enduse check` shows why",
            ));
        }
        let q = &first.request;
        let (model, lot) = match &q.item {
            ItemRef::Model(m) => (Some(m.to_string()), None),
            ItemRef::Lot(l) => (None, Some(l.to_string())),
        };
        let scope = RequestScope {
            actor: q.actor.to_string(),
            action: q.action.as_str().to_owned(),
            model,
            lot,
            place: q.place.as_ref().map(ToString::to_string),
            recipient: q.recipient.as_ref().map(ToString::to_string),
            target_class: q.target_class.clone(),
            purpose: q.purpose.clone(),
            destination: q.destination.as_ref().map(ToString::to_string),
        };
        let id = format!(
            "req-{}",
            Hash::digest(&random_bytes::<16>()?)
                .to_hex()
                .get(..12)
                .unwrap_or("0")
        );
        let now = self.clock.now();
        let content = RequestContent {
            ask: stored_ask,
            window: w,
            justification: input.justification.clone(),
            requester: user.id.clone(),
            party: scope.actor.clone(),
            filed: instant(now),
            register_txn: snap.origin().txn,
            scope,
            needs: needs.iter().map(|n| n.authority.to_string()).collect(),
            days,
        };
        let facts = RequestFacts {
            id: id.clone(),
            party: content.party.clone(),
            requester: user.id.clone(),
            needs: content.needs.clone(),
        };
        self.require(
            by,
            "file",
            &Resource::Request(&facts),
            &Ctx::Empty,
            &format!("file a request for `{}`", content.party),
        )?;
        // The content as it will be read back: its digest is of that.
        let text = serde_json::to_string(&content).map_err(|e| Error::internal(e.to_string()))?;
        let content_value: Value = serde_json::from_str(&text).map_err(internal_json)?;
        let digest = json_digest(&content_value).to_hex();
        let mut need_states = Vec::with_capacity(needs.len());
        for n in &needs {
            need_states.push(NeedState {
                authority: n.authority.to_string(),
                name: n.authority_name.clone(),
                party: n.party.to_string(),
                required: self.quorum(n.authority.as_str())?,
            });
        }
        let body = RequestBody {
            id: id.clone(),
            content: content_value,
            digest: digest.clone(),
            status: RequestStatus::Pending,
            needs: need_states,
            reviews: Vec::new(),
            consents: Vec::new(),
            source: None,
            closed: None,
        };
        let mut rec = workflow_record(WorkflowKind::Request, &id, &body)?;
        rec.valid_from = Some(w.from.to_string());
        rec.valid_to = Some((w.to + Duration::days(1)).to_string());
        rec.recorded_at = Some(today.to_string());
        let event = json!({
            "event": "request_filed", "request": id, "digest": digest, "by": user.id,
            "party": content.party, "needs": content.needs, "window": w,
            "at": content.filed, "register_txn": content.register_txn,
        });
        self.write_workflow(
            &[],
            &[WorkflowChange {
                record: rec,
                retract: false,
                expect: Expect::Absent,
            }],
            event,
            &format!("workflow: file request `{id}` by `{}`", user.id),
        )?;
        self.show(by, &id)
    }

    /// One request, if `by` may see it.
    pub fn show(&mut self, by: &Principal, id: &str) -> Result<RequestView> {
        let (v, b) = self.load_request(id)?;
        let content = Self::content_of(&b)?;
        self.require(
            by,
            "view",
            &Resource::Request(&Self::facts_of(&b, &content)),
            &Ctx::Empty,
            &format!("see request `{}`", cut(id)),
        )?;
        self.view(&v, &b)
    }

    /// Every version of a request, oldest first: its history.
    pub fn request_history(&mut self, by: &Principal, id: &str) -> Result<Vec<RequestView>> {
        self.show(by, id)?;
        let versions = self.store().workflow_history(WorkflowKind::Request, id)?;
        let users = self.users()?;
        let mut out = Vec::with_capacity(versions.len());
        for v in versions.iter().filter(|v| !v.retracted) {
            let b: RequestBody = serde_json::from_str(&v.record.body).map_err(internal_json)?;
            out.push(self.view_with(v, &b, &users)?);
        }
        Ok(out)
    }

    /// The requests `by` may see that match `q`, newest first: with
    /// `authority` and `status = pending`, an authority's queue; with
    /// `requester`, a requester's view.
    pub fn list(&mut self, by: &Principal, q: &RequestQuery) -> Result<Vec<RequestView>> {
        if *by == Principal::Anonymous {
            return Err(unauthorized("listing requests needs a token"));
        }
        let today = self.today();
        let heads = self.store().workflow_heads(WorkflowKind::Request)?;
        let users = self.users()?;
        let mut out = Vec::new();
        for v in heads.iter().filter(|v| !v.retracted) {
            let b: RequestBody = serde_json::from_str(&v.record.body).map_err(internal_json)?;
            let content = Self::content_of(&b)?;
            let status = self.status_of(&b, &content);
            if q.status.is_some_and(|s| s != status)
                || q.party
                    .as_ref()
                    .is_some_and(|p| !p.eq_ignore_ascii_case(&content.party))
                || q.requester
                    .as_ref()
                    .is_some_and(|r| *r != content.requester)
                || q.authority
                    .as_ref()
                    .is_some_and(|a| !b.needs.iter().any(|n| n.authority.eq_ignore_ascii_case(a)))
            {
                continue;
            }
            let facts = Self::facts_of(&b, &content);
            let seen = self
                .policies
                .ask(by, "view", &Resource::Request(&facts), &Ctx::Empty, today)?
                .allowed;
            if seen {
                out.push(self.view_with(v, &b, &users)?);
            }
        }
        out.sort_by(|a, b| b.content.filed.cmp(&a.content.filed));
        Ok(out)
    }

    fn expect_of(&self, id: &str, v: &WorkflowVersion, given: Option<i64>) -> Result<Expect> {
        match given {
            Some(n) if n != v.version => Err(Error::conflict(
                "enduse::store::conflict",
                format!(
                    "conflict on request `{}`: expected version {n}, but the database holds version {}",
                    cut(id),
                    v.version
                ),
                "the request changed since you read it (a review or a withdrawal); nothing was written: read it again",
            )),
            _ => Ok(Expect::Version(v.version)),
        }
    }

    fn not_pending(id: &str, status: RequestStatus, what: &str) -> Error {
        Error::conflict(
            "enduse::workflow::not_pending",
            format!(
                "request `{}` is {}: it cannot be {what}",
                cut(id),
                status.as_str()
            ),
            "only a pending request is reviewed or withdrawn",
        )
    }

    /// Records a review of request `id` by `by`, for the authority of
    /// `input` (or the one needed authority `by` may review for). When it
    /// completes the approvals, or refuses, the consent decisions are
    /// written in the same transaction.
    pub fn review(&mut self, by: &Principal, id: &str, input: &ReviewInput) -> Result<RequestView> {
        let Principal::User(user) = by else {
            return Err(match by {
                Principal::Anonymous => unauthorized("reviewing a request needs a token"),
                _ => forbidden(
                    "the operator may not review requests",
                    "review as a user with `--as USER`",
                ),
            });
        };
        let user = user.clone();
        let (v, mut b) = self.load_request(id)?;
        let content = Self::content_of(&b)?;
        let facts = Self::facts_of(&b, &content);
        let what = format!("review request `{}`", cut(id));
        // Authorization first: a stranger learns nothing of the request's
        // state.
        let authority = match &input.authority {
            Some(a) => {
                let a = b
                    .needs
                    .iter()
                    .find(|n| n.authority.eq_ignore_ascii_case(a.trim()))
                    .map(|n| n.authority.clone());
                let Some(a) = a else {
                    self.require(by, "view", &Resource::Request(&facts), &Ctx::Empty, &what)?;
                    return Err(bad(
                        "enduse::workflow::not_needed",
                        format!(
                            "request `{}` does not need `{}`",
                            cut(id),
                            cut(input.authority.as_deref().unwrap_or_default())
                        ),
                        &format!("it needs {}", facts.needs.join(", ")),
                    ));
                };
                self.require(
                    by,
                    "review",
                    &Resource::Request(&facts),
                    &Ctx::Authority(&a),
                    &what,
                )?;
                a
            }
            None => {
                let today = self.today();
                let mut allowed: Vec<String> = Vec::new();
                for n in &b.needs {
                    let ok = self
                        .policies
                        .ask(
                            by,
                            "review",
                            &Resource::Request(&facts),
                            &Ctx::Authority(&n.authority),
                            today,
                        )?
                        .allowed;
                    if ok {
                        allowed.push(n.authority.clone());
                    }
                }
                // Those whose approval is still open, if any.
                let open: Vec<String> = allowed
                    .iter()
                    .filter(|a| {
                        let need = b.needs.iter().find(|n| &n.authority == *a);
                        let given = b
                            .reviews
                            .iter()
                            .filter(|r| &r.authority == *a && r.verdict == Verdict::Approve)
                            .count() as u32;
                        need.is_some_and(|n| given < n.required)
                    })
                    .cloned()
                    .collect();
                match (allowed.len(), open.len()) {
                    (0, _) => {
                        let first = b.needs.first().map(|n| n.authority.clone()).unwrap_or_default();
                        self.require(
                            by,
                            "review",
                            &Resource::Request(&facts),
                            &Ctx::Authority(&first),
                            &what,
                        )?;
                        return Err(forbidden(
                            format!("{} may not {what}", by.label()),
                            format!("only members of {} review it", facts.needs.join(", ")),
                        ));
                    }
                    (1, _) => allowed.remove(0),
                    (_, 1) => open.into_iter().next().unwrap_or_default(),
                    _ => {
                        return Err(bad(
                            "enduse::workflow::which_authority",
                            format!(
                                "`{}` may review request `{}` for {}: say which",
                                user.id,
                                cut(id),
                                allowed.join(", ")
                            ),
                            "give the authority (`--authority US:SecDef`, or `\"authority\"` in the body)",
                        ))
                    }
                }
            }
        };
        check_text("reason", &input.reason, true)?;
        let status = self.status_of(&b, &content);
        if status != RequestStatus::Pending {
            return Err(Self::not_pending(id, status, "reviewed"));
        }
        let expect = self.expect_of(id, &v, input.expect_version)?;
        if b.reviews
            .iter()
            .any(|r| r.reviewer == user.id && r.authority == authority)
        {
            return Err(Error::conflict(
                "enduse::workflow::already_reviewed",
                format!(
                    "`{}` has reviewed request `{}` for `{authority}` already",
                    user.id,
                    cut(id)
                ),
                "each member reviews once; another member gives a further approval",
            ));
        }
        let now = self.clock.now();
        let n = b.reviews.len() as u32 + 1;
        let review = Review {
            n,
            reviewer: user.id.clone(),
            authority: authority.clone(),
            verdict: input.verdict,
            reason: input.reason.trim().to_owned(),
            at: instant(now),
        };
        b.reviews.push(review.clone());
        let approved_all = b.needs.iter().all(|need| {
            b.reviews
                .iter()
                .filter(|r| r.authority == need.authority && r.verdict == Verdict::Approve)
                .count() as u32
                >= need.required
        });
        b.status = match input.verdict {
            Verdict::Refuse => RequestStatus::Refused,
            Verdict::Approve if approved_all => RequestStatus::Approved,
            Verdict::Approve => RequestStatus::Pending,
        };
        // The consent decisions, where the request is decided.
        let mut changes: Vec<Change> = Vec::new();
        if b.status != RequestStatus::Pending {
            let (records, source, consents) = self.consent_records(&b, &content, now)?;
            self.check_register_with(&records)?;
            changes = records
                .into_iter()
                .map(|record| Change {
                    record,
                    retract: false,
                    expect: Expect::Absent,
                })
                .collect();
            b.source = Some(source);
            b.consents = consents;
        }
        let mut rec = workflow_record(WorkflowKind::Request, id, &b)?;
        rec.valid_from = Some(content.window.from.to_string());
        rec.valid_to = Some((content.window.to + Duration::days(1)).to_string());
        rec.recorded_at = Some(self.today().to_string());
        let review_rec = WorkflowRecord {
            valid_from: None,
            valid_to: None,
            recorded_at: Some(self.today().to_string()),
            ..workflow_record(
                WorkflowKind::Review,
                &format!("{id}/{n}"),
                &json!({"request": id, "digest": b.digest, "review": review}),
            )?
        };
        let event = json!({
            "event": "request_reviewed", "request": id, "digest": b.digest, "by": user.id,
            "authority": authority, "verdict": input.verdict, "reason": review.reason,
            "status": b.status, "consents": b.consents, "at": review.at,
        });
        self.write_workflow(
            &changes,
            &[
                WorkflowChange {
                    record: rec,
                    retract: false,
                    expect,
                },
                WorkflowChange {
                    record: review_rec,
                    retract: false,
                    expect: Expect::Absent,
                },
            ],
            event,
            &format!(
                "workflow: review {n} of request `{id}` by `{}` for `{authority}`: {}",
                user.id,
                match input.verdict {
                    Verdict::Approve => "approve",
                    Verdict::Refuse => "refuse",
                }
            ),
        )
        .map_err(|e| raced(e, &format!("request `{id}`")))?;
        let (v, b) = self.load_request(id)?;
        self.view(&v, &b)
    }

    /// The source record naming the request, and one consent decision per
    /// authority: granted by each needed authority on approval, refused by
    /// the refusing one on refusal.
    fn consent_records(
        &mut self,
        b: &RequestBody,
        c: &RequestContent,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Record>, String, Vec<String>)> {
        let today = now.date_naive();
        let s = &c.scope;
        let source_id = format!("enduse-{}", b.id);
        let what = {
            let mut w = format!(
                "{} {} {}",
                s.actor,
                s.action,
                s.model
                    .clone()
                    .or_else(|| s.lot.as_ref().map(|l| format!("lot {l}")))
                    .unwrap_or_default()
            );
            if let Some(p) = &s.place {
                w.push_str(&format!(" in {p}"));
            }
            if let Some(r) = &s.recipient {
                w.push_str(&format!(" to {r}"));
            }
            if let Some(t) = &s.target_class {
                w.push_str(&format!(" against {t}"));
            }
            w
        };
        let window = if c.window.from == c.window.to {
            format!("on {}", c.window.from)
        } else {
            format!("from {} to {}", c.window.from, c.window.to)
        };
        let status = b.status.as_str();
        let source = json!({
            "id": source_id,
            "outlet": "enduse approval workflow",
            "date": today.to_string(),
            "title": format!("request {} of {} ({}): {what}, {window} ({status})", b.id, c.requester, c.party),
            "note": format!(
                "written by the approval workflow when the request was {status}; the request's content has sha-256 {}; reviews: {}",
                b.digest,
                b.reviews
                    .iter()
                    .map(|r| format!("{} by {} for {}", match r.verdict { Verdict::Approve => "approved", Verdict::Refuse => "refused" }, r.reviewer, r.authority))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
        let source_rec = enduse_load::record_from_text(
            RecordKind::Source,
            &format!("source of request {}", b.id),
            &toml_text(&source)?,
            None,
        )?;
        let deciding: Vec<(&NeedState, bool)> = match b.status {
            RequestStatus::Approved => b.needs.iter().map(|n| (n, true)).collect(),
            _ => b
                .needs
                .iter()
                .filter(|n| {
                    b.reviews
                        .iter()
                        .any(|r| r.authority == n.authority && r.verdict == Verdict::Refuse)
                })
                .map(|n| (n, false))
                .collect(),
        };
        let mut records = vec![source_rec];
        let mut ids = Vec::new();
        for (need, granted) in deciding {
            let id = format!("{}-{}", b.id, slug(&need.authority));
            let reasons: Vec<String> = b
                .reviews
                .iter()
                .filter(|r| r.authority == need.authority)
                .map(|r| r.reason.clone())
                .collect();
            let mut a = serde_json::Map::new();
            a.insert("id".into(), json!(id));
            a.insert("authority".into(), json!(need.authority));
            a.insert(
                "decision".into(),
                json!(if granted { "granted" } else { "refused" }),
            );
            a.insert("requester".into(), json!(c.party));
            a.insert("actor".into(), json!(s.actor));
            a.insert("actions".into(), json!([s.action]));
            if let Some(m) = &s.model {
                a.insert("models".into(), json!([m]));
            }
            if let Some(l) = &s.lot {
                a.insert("lots".into(), json!([l]));
            }
            if let Some(r) = &s.recipient {
                a.insert("recipient".into(), json!(r));
            }
            if let Some(p) = &s.place {
                a.insert("places".into(), json!([p]));
            }
            if let Some(t) = &s.target_class {
                a.insert("targets".into(), json!([t]));
            }
            a.insert("valid_from".into(), json!(c.window.from.to_string()));
            a.insert(
                "valid_to".into(),
                json!((c.window.to + Duration::days(1)).to_string()),
            );
            a.insert("date".into(), json!(today.to_string()));
            a.insert("public".into(), json!(today.to_string()));
            a.insert("status".into(), json!("confirmed"));
            a.insert("sources".into(), json!([source_id]));
            a.insert(
                "summary".into(),
                json!(format!(
                    "{} {} request {} of {} ({}): {what}, {window}",
                    need.name,
                    if granted { "granted" } else { "refused" },
                    b.id,
                    c.requester,
                    c.party
                )),
            );
            a.insert("quote".into(), json!(reasons.join(" / ")));
            let mut note = format!(
                "decided through the enduse approval workflow (request {}, content sha-256 {})",
                b.id, b.digest
            );
            if let Some(p) = &s.purpose {
                note.push_str(&format!(
                    "; asked for the purpose `{p}`, which a consent decision's scope does not hold"
                ));
            }
            if c.ask.at.is_some() {
                note.push_str("; asked for a point, and the scope is its place");
            }
            a.insert("note".into(), json!(note));
            let rec = enduse_load::record_from_text(
                RecordKind::Approval,
                &format!("consent of request {}", b.id),
                &toml_text(&Value::Object(a))?,
                None,
            )?;
            records.push(rec);
            ids.push(id);
        }
        Ok((records, source_id, ids))
    }

    /// Validates the register with `new` records added, as a `put` does.
    fn check_register_with(&mut self, new: &[Record]) -> Result<()> {
        let heads = self.store().heads(None)?;
        let mut next: Vec<Record> = heads
            .into_iter()
            .filter(|v| !v.retracted)
            .map(|v| v.record)
            .filter(|r| !new.iter().any(|n| n.kind == r.kind && n.key == r.key))
            .collect();
        next.extend(new.iter().cloned());
        enduse_load::derive_times(&mut next, &[]);
        let refs: Vec<&Record> = next.iter().collect();
        let backend = self.store().backend();
        enduse_load::engine_from_records(&format!("{backend} database with the consent"), &refs)
            .map(drop)
            .map_err(|e| {
                Error::from(StoreError::DataSet(e)).with_help(
                    "the consent decisions of this request do not fit the register as it is now (a party, model or place it names was changed since it was filed); nothing was written",
                )
            })
    }

    /// Withdraws a pending request (its requester, or a requester of its
    /// party).
    pub fn withdraw(
        &mut self,
        by: &Principal,
        id: &str,
        input: &WithdrawInput,
    ) -> Result<RequestView> {
        let (v, mut b) = self.load_request(id)?;
        let content = Self::content_of(&b)?;
        self.require(
            by,
            "withdraw",
            &Resource::Request(&Self::facts_of(&b, &content)),
            &Ctx::Empty,
            &format!("withdraw request `{}`", cut(id)),
        )?;
        if let Some(r) = &input.reason {
            check_text("reason", r, false)?;
        }
        let status = self.status_of(&b, &content);
        if status != RequestStatus::Pending {
            return Err(Self::not_pending(id, status, "withdrawn"));
        }
        let expect = self.expect_of(id, &v, input.expect_version)?;
        let now = instant(self.clock.now());
        b.status = RequestStatus::Withdrawn;
        b.closed = Some(Closed {
            at: now.clone(),
            by: by.actor(),
            reason: input.reason.clone(),
        });
        let mut rec = workflow_record(WorkflowKind::Request, id, &b)?;
        rec.valid_from = Some(content.window.from.to_string());
        rec.valid_to = Some(self.today().to_string());
        rec.recorded_at = Some(self.today().to_string());
        let event = json!({
            "event": "request_withdrawn", "request": id, "digest": b.digest, "by": by.actor(),
            "reason": input.reason, "at": now,
        });
        self.write_workflow(
            &[],
            &[WorkflowChange {
                record: rec,
                retract: false,
                expect,
            }],
            event,
            &format!("workflow: withdraw request `{id}`"),
        )
        .map_err(|e| raced(e, &format!("request `{id}`")))?;
        let (v, b) = self.load_request(id)?;
        self.view(&v, &b)
    }

    /// Records as expired every pending request whose window has passed
    /// (their status reads expired anyway; this puts it in their history
    /// and the audit log). Admins and the operator. Returns their ids.
    pub fn expire_due(&mut self, by: &Principal) -> Result<Vec<String>> {
        self.authorize_manage(by)?;
        let today = self.today();
        let heads = self.store().workflow_heads(WorkflowKind::Request)?;
        let mut done = Vec::new();
        for v in heads.iter().filter(|v| !v.retracted) {
            let mut b: RequestBody = serde_json::from_str(&v.record.body).map_err(internal_json)?;
            let content = Self::content_of(&b)?;
            if b.status != RequestStatus::Pending || today <= content.window.to {
                continue;
            }
            b.status = RequestStatus::Expired;
            let mut rec = workflow_record(WorkflowKind::Request, &b.id, &b)?;
            rec.valid_from = Some(content.window.from.to_string());
            rec.valid_to = Some((content.window.to + Duration::days(1)).to_string());
            rec.recorded_at = Some(today.to_string());
            let event = json!({
                "event": "request_expired", "request": b.id, "digest": b.digest,
                "by": by.actor(), "at": instant(self.clock.now()),
            });
            let r = self.write_workflow(
                &[],
                &[WorkflowChange {
                    record: rec,
                    retract: false,
                    expect: Expect::Version(v.version),
                }],
                event,
                &format!("workflow: request `{}` expired", b.id),
            );
            match r {
                Ok(_) => done.push(b.id.clone()),
                // Reviewed or withdrawn meanwhile: not expired.
                Err(e) if e.kind() == ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// The last workflow write's transaction, for a front end that reports
    /// it (`enduse log` lists them all).
    pub fn last_txn(&mut self) -> Result<Option<TxnReport>> {
        Ok(self.store().transactions()?.last().map(TxnReport::from))
    }
}

impl NewUser {
    fn has_requester(&self) -> bool {
        self.roles.contains(&UserRole::Requester)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workflow_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<Workflow>();
        send::<crate::Audit>();
    }

    #[test]
    fn delegations_hold_on_their_days() {
        let d = |s: &str| enduse_core::parse_day(s).unwrap();
        let m = Delegation {
            authority: "US:SecDef".into(),
            from: Some(d("2026-01-01")),
            to: Some(d("2026-01-31")),
        };
        assert!(!m.active_on(d("2025-12-31")));
        assert!(m.active_on(d("2026-01-01")));
        assert!(m.active_on(d("2026-01-31")));
        assert!(!m.active_on(d("2026-02-01")));
        assert!(Delegation::new("US:SecDef").active_on(d("1900-01-01")));
    }

    #[test]
    fn user_ids_are_checked() {
        assert!(check_user_id("kyiv-mod").is_ok());
        assert!(check_user_id("a.b_c@d").is_ok());
        for bad in ["", "Kyiv", "-x", "a b", &"x".repeat(65)] {
            let e = check_user_id(bad).unwrap_err();
            assert_eq!(e.code(), "enduse::workflow::bad_user_id");
        }
    }

    #[test]
    fn roles_and_statuses_read_their_names() {
        assert_eq!(UserRole::parse("reviewer").unwrap(), UserRole::Reviewer);
        assert!(UserRole::parse("king")
            .unwrap_err()
            .to_string()
            .contains("`king`"));
        assert_eq!(
            RequestStatus::parse("expired").unwrap(),
            RequestStatus::Expired
        );
    }
}
