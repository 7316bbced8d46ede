//! enduse: one library for every front end. The CLI and the HTTP server
//! call it, and nothing else, to reach the engine and the store.
//!
//! It is synchronous and knows nothing of argument parsers or web servers.
//! A front end turns its input into an [`Ask`] (or one of the smaller
//! requests), asks a [`Snapshot`] (a register read once: from the bundled
//! data set, a directory or a database, see [`RegisterSource`]) or a
//! [`Register`] (a database, for the writes), and renders the typed report
//! it gets back; every report serialises to the documented JSON. Every
//! failure is one [`Error`] with a stable code and an [`ErrorKind`].
//!
//! ```
//! use enduse::{Ask, RegisterSource};
//!
//! let snapshot = RegisterSource::Bundled.snapshot()?;
//! let mut ask = Ask::new("Ukraine", "use", "ATACMS");
//! ask.place = Some("Kursk".into());
//! ask.as_of = Some("2024-09-11".into());
//! let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
//! let report = snapshot.check(&ask, today)?;
//! assert_eq!(report.decision.request.place.as_ref().unwrap().as_str(), "RU-KRS");
//! let json = serde_json::to_value(&report)?;
//! assert!(json["outcome"].is_string());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The clock and the test hooks are injected ([`Clock`], [`Hooks`]): the
//! library reads neither the time nor the environment on its own, except
//! where a front end asks for [`Clock::from_process`] and
//! [`Hooks::from_process`], which read the test hooks only in a build with
//! the `test-hooks` feature.

mod ask;
mod audit;
mod authz;
mod clock;
mod error;
mod explain;
pub mod gen;
mod geo;
mod list;
mod map;
mod regions;
mod register;
mod reports;
mod snapshot;
mod timeline_svg;
mod version;
mod workflow;

pub use ask::{Ask, ChainAsk, ItemAsk, PoliciesAsk, WhereAsk};
pub use audit::{
    prove_export, verify_export, Appended, Audit, CheckpointReport, ConsistencyReport, EntryReport,
    InclusionReport, VerifyReport,
};
pub use authz::{ApiPolicies, API_POLICIES, API_POLICIES_FILE, API_SCHEMA};
pub use clock::{Clock, CountHook, Hooks, NameHook, WriteHook};
/// The audit log's types that the API carries.
pub use enduse_audit::{Entry as AuditEntry, EntryKind as AuditEntryKind, LogExport};
pub use error::{cut, Error, ErrorKind, ErrorReport, Result, MAX_QUOTED};
pub use geo::{check_geography, parse_control, Point, PointFacts};
pub use list::LIST_KINDS;
pub use map::colour;
pub use register::{
    parse_instant, ImportOptions, PreparedImport, PutRequest, Register, DEFAULT_DB,
};
pub use reports::{
    instant, ChainReport, CheckReport, ConsideredRule, DeJure, EditReport, ExplainedParty,
    Explanation, ExportReport, GenReport, HistoryReport, ImportReport, ListItem, ListReport,
    LogReport, MapOutcome, MapReport, Names, Period, PlannedChange, PoliciesReport, Stretch,
    TimelineReport, TxnReport, ValidateReport, VersionReport, WhereReport,
};
pub use snapshot::{
    resolve_query, RegisterSource, Resolved, Snapshot, SnapshotOrigin, DISTANCE_AND_POINT, NO_ITEM,
    PLACE_AND_POINT,
};
pub use timeline_svg::{timeline_picture, TimelineEntry, TimelinePicture, TimelineSubject};
pub use version::{bundled_data_version, data_set_version, DataSetVersion};
pub use workflow::{
    parse_expiry, Closed, DayOutcome, Delegation, IssuedToken, NeedView, NewUser, Principal,
    Quorum, RequestContent, RequestInput, RequestQuery, RequestScope, RequestStatus, RequestView,
    Review, ReviewInput, TokenInfo, TokenStatus, User, UserRole, Verdict, Window, WithdrawInput,
    Workflow, DEFAULT_TOKEN_DAYS, MAX_TEXT, MAX_WINDOW_DAYS, TOKEN_PREFIX,
};

/// The core's types that reports carry.
pub use enduse_core::{
    role_labels, Action, ApprovalNeed, AuthorityId, ChainLink, CitationKind, Decision,
    DisputedOutcome, Engine, ItemRef, LotId, ModelId, Outcome, PartyDecision, PartyId, PlaceCode,
    Query, Role, RuleEffect, RuleId, RuleRef, SourceRef, Status, TimelineEvent, TimelineKind,
};
/// The store's record kinds (`enduse history KIND KEY`).
pub use enduse_load::{FileProblem, RecordKind, BUNDLED_NAME};

/// Validates a data-set directory as an import would: the loader's checks,
/// the named areas and the control layer. Every problem is reported with its
/// file and line.
pub fn validate_dir(dir: &std::path::Path) -> Result<ValidateReport> {
    let files = enduse_load::DataFiles::read_dir(dir)?;
    let engine = enduse_load::load_files(&files)?;
    check_geography(&files, engine.register())?;
    let reg = engine.register();
    Ok(ValidateReport {
        valid: true,
        data_set: dir.display().to_string(),
        parties: reg.parties.len(),
        models: reg.models.len(),
        lots: reg.lots.len(),
        transfers: reg.transfers.len(),
        treaties: reg.treaties.len(),
        rules: engine.rules().len(),
        sources: reg.sources.len(),
    })
}
