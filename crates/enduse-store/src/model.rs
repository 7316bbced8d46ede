//! The store's vocabulary: stored versions, changes, transactions, errors,
//! and the [`Store`] trait every backend implements.

use chrono::{DateTime, Utc};
use enduse_load::{Record, RecordKind};

/// One stored version of one record. Versions are never changed or removed:
/// a correction is a later version, a retraction a version without a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The record's content and times; `body` is empty for a retraction.
    pub record: Record,
    /// 1 for the first version of a (kind, key), then 2, 3, ...
    pub version: i64,
    /// Whether this version retracts the record.
    pub retracted: bool,
    /// System time: when the database entered this version.
    pub sys_from: DateTime<Utc>,
    /// The transaction that wrote it.
    pub txn: i64,
}

/// What a writer believes the current version is. The store refuses the
/// whole write if any belief is wrong, so two editors of one fact cannot
/// both silently win.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No check (used only by tools that own the database alone).
    Any,
    /// The record must not exist yet (or be retracted).
    Absent,
    /// The record's current version must be this one.
    Version(i64),
}

/// One change of a write.
#[derive(Debug, Clone)]
pub struct Change {
    /// The new content; for a retraction, the record's kind and key with an
    /// empty body.
    pub record: Record,
    /// Whether this change retracts the record.
    pub retract: bool,
    /// The version the writer saw.
    pub expect: Expect,
}

/// A committed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnInfo {
    /// Sequence number.
    pub id: i64,
    /// System time of every version it wrote.
    pub at: DateTime<Utc>,
    /// What it was (`import DIR`, `retract policy X`).
    pub note: String,
    /// Versions written.
    pub changes: i64,
}

/// The kinds of the workflow's records: users, tokens, requests, reviews
/// and quorums. They are versioned in the `facts` table like the register's
/// records (every change bitemporal, with its history, and written with the
/// same [`Expect`] checks), but they are not part of the register: heads,
/// engines, exports and imports never see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkflowKind {
    /// A user of the API: roles, party, authorities.
    User,
    /// A bearer token, keyed by the SHA-256 of its secret.
    Token,
    /// A request for approval, with its state.
    Request,
    /// One review of a request.
    Review,
    /// How many approvals an authority requires.
    Quorum,
}

impl WorkflowKind {
    /// Every kind.
    pub const ALL: [WorkflowKind; 5] = [
        WorkflowKind::User,
        WorkflowKind::Token,
        WorkflowKind::Request,
        WorkflowKind::Review,
        WorkflowKind::Quorum,
    ];

    /// The stored name (`user`, `token`, `request`, `review`, `quorum`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowKind::User => "user",
            WorkflowKind::Token => "token",
            WorkflowKind::Request => "request",
            WorkflowKind::Review => "review",
            WorkflowKind::Quorum => "quorum",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for WorkflowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored kinds of workflow records, as an SQL list (`'user', ...`).
pub(crate) const WORKFLOW_KINDS_SQL: &str = "'user','token','request','review','quorum'";

/// One workflow record: its kind, key, JSON body and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRecord {
    /// What it is.
    pub kind: WorkflowKind,
    /// Its id.
    pub key: String,
    /// Content, as JSON; empty for a retraction.
    pub body: String,
    /// Valid time: when it starts to hold (a request: its window).
    pub valid_from: Option<String>,
    /// Valid time: when it stops holding.
    pub valid_to: Option<String>,
    /// When it became known.
    pub recorded_at: Option<String>,
}

/// One stored version of a workflow record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowVersion {
    /// The content.
    pub record: WorkflowRecord,
    /// 1, 2, 3, ...
    pub version: i64,
    /// Whether this version retracts the record.
    pub retracted: bool,
    /// System time: when the database entered it.
    pub sys_from: DateTime<Utc>,
    /// The transaction that wrote it.
    pub txn: i64,
}

/// One change of a workflow record, with the version its writer saw.
#[derive(Debug, Clone)]
pub struct WorkflowChange {
    /// The new content.
    pub record: WorkflowRecord,
    /// Whether this change retracts the record.
    pub retract: bool,
    /// The version the writer saw.
    pub expect: Expect,
}

/// What a write appended to the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The index of the first entry appended.
    pub first: u64,
    /// The size of the log after the write.
    pub size: u64,
    /// The signed checkpoint of that size (a C2SP signed note).
    pub checkpoint: String,
}

/// A committed write, with what it appended to the audit log (nothing on
/// a database older than the audit log, schema version 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The transaction.
    pub txn: TxnInfo,
    /// The entries appended: the transaction's, then the events given.
    pub log: Option<Logged>,
}

/// A transaction as the `facts` and `txns` tables hold it now, for checking
/// the audit log against them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnDigest {
    /// The transaction's row (for facts whose transaction has no row: its
    /// id, the epoch, an empty note and 0 changes).
    pub txn: TxnInfo,
    /// The fact rows of the transaction.
    pub rows: u64,
    /// The digest of those rows (see [`crate::txn_digest`]).
    pub digest: enduse_audit::Hash,
}

/// Everything that can go wrong in a store.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    /// Somebody else changed the record since the writer read it.
    #[error("conflict on {kind} `{key}`: expected {expected}, but the database holds {found}")]
    #[diagnostic(
        code(enduse::store::conflict),
        help("another writer changed it first; nothing of this write was saved. Read the record again (`enduse history`) and redo the change")
    )]
    Conflict {
        /// Record kind.
        kind: String,
        /// Record key.
        key: String,
        /// What the writer expected.
        expected: String,
        /// What the database holds.
        found: String,
    },
    /// The database could not be opened, read or written.
    #[error("database `{target}`: {message}")]
    #[diagnostic(code(enduse::store::database))]
    Database {
        /// Which database (path or connection string without password).
        target: String,
        /// What went wrong.
        message: String,
    },
    /// The database was written by a newer enduse.
    #[error("database `{target}` has schema version {found}; this enduse knows up to {known}")]
    #[diagnostic(
        code(enduse::store::too_new),
        help("upgrade enduse; an older program must not write a newer database")
    )]
    TooNew {
        /// Which database.
        target: String,
        /// Version found.
        found: i64,
        /// Latest version this program knows.
        known: i64,
    },
    /// A stored record or the data given is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    DataSet(#[from] enduse_load::DataSetError),
    /// A read found no enduse register there (reads never create one).
    #[error("database `{target}` holds no enduse register: {reason}")]
    #[diagnostic(
        code(enduse::store::not_a_register),
        help("create one with `enduse init --db {target}` (or `enduse import DIR --db {target}`)")
    )]
    NotARegister {
        /// Which database.
        target: String,
        /// What was found instead.
        reason: String,
    },
    /// A bad argument (unknown kind, a record that does not exist).
    #[error("{0}")]
    #[diagnostic(code(enduse::store::usage))]
    Usage(String),
}

/// What [`Store::put_image`] checks before it stores an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageCheck {
    /// Nothing: the image was built from the heads as of the transaction.
    Nothing,
    /// That the latest register transaction before the image's is this one
    /// (`None`: there was none), so that the image, built from what its
    /// writer read and wrote, is the register as of its transaction.
    After(Option<i64>),
}

/// Receives the changes of a [`Store::write_streamed`], one at a time.
pub trait ChangeSink {
    /// Writes one change inside the open transaction, its `expect` checked as
    /// [`Store::write`] checks it. After an error the whole write is rolled back.
    fn put(&mut self, change: Change) -> Result<(), StoreError>;
    /// Changes put so far.
    fn count(&self) -> u64;
}

/// A bitemporal register store. Every backend answers identically; the
/// conformance suite checks that.
pub trait Store {
    /// `sqlite`, `postgres` or `memory`.
    fn backend(&self) -> &'static str;

    /// Applies `changes` atomically under one new transaction: either all of
    /// them are written or none. Checks every `expect` first.
    fn write(
        &mut self,
        changes: &[Change],
        note: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<TxnInfo, StoreError>;

    /// The latest version of every record as the database stood at `as_of`
    /// (now if `None`), retracted records included (callers drop them).
    fn heads(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Vec<Version>, StoreError>;

    /// Every version of one record, oldest first.
    fn history(&mut self, kind: RecordKind, key: &str) -> Result<Vec<Version>, StoreError>;

    /// The lot and its transfers (latest versions at `as_of`), by index.
    fn lot_chain(
        &mut self,
        lot: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<Version>, StoreError>;

    /// Every transaction, oldest first.
    fn transactions(&mut self) -> Result<Vec<TxnInfo>, StoreError>;

    /// The schema version of the database.
    fn schema_version(&mut self) -> Result<i64, StoreError>;

    /// [`Store::write`] with workflow records and audit events: one
    /// transaction writes the register's `changes`, the `workflow` changes
    /// (each checked against its `expect`), and appends to the audit log the
    /// transaction's entry (its note and the digest of its fact rows) and
    /// then `events`, and a signed checkpoint of the log. All or nothing.
    fn write_with(
        &mut self,
        changes: &[Change],
        workflow: &[WorkflowChange],
        events: &[enduse_audit::Entry],
        note: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Written, StoreError>;

    /// The latest version of every workflow record of `kind`, retracted
    /// ones included, by key.
    fn workflow_heads(&mut self, kind: WorkflowKind) -> Result<Vec<WorkflowVersion>, StoreError>;

    /// Every version of one workflow record, oldest first.
    fn workflow_history(
        &mut self,
        kind: WorkflowKind,
        key: &str,
    ) -> Result<Vec<WorkflowVersion>, StoreError>;

    /// The latest transaction that wrote a record of the register (not
    /// only workflow records): what a snapshot of the register is of.
    fn latest_register_txn(&mut self) -> Result<Option<i64>, StoreError>;

    /// The latest transaction at or before `as_of` (now if `None`) that
    /// wrote register facts: the one a register read at `as_of` is as of.
    fn register_txn_at(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Option<i64>, StoreError>;

    /// The stored image of the register as of transaction `txn`, unchecked
    /// (see `enduse_load::engine_from_image`), or `None`. A database whose
    /// schema predates images has none.
    fn image(&mut self, txn: i64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `image` as the register as of transaction `txn`, replacing
    /// any. With [`ImageCheck::After`], only if the register transaction
    /// before `txn` is the one given: the image then describes the register
    /// its writer read plus its own write, and no other writer came between.
    /// Returns whether it was stored.
    fn put_image(&mut self, txn: i64, image: &[u8], check: ImageCheck) -> Result<bool, StoreError>;

    /// The heads of one kind as of transaction `txn` (retractions
    /// included), by key: the few control records beside an image.
    fn kind_heads(&mut self, kind: RecordKind, txn: i64) -> Result<Vec<Version>, StoreError>;

    /// Appends `entries` to the audit log in a transaction of their own,
    /// with a signed checkpoint of the new size.
    fn audit_append(&mut self, entries: &[enduse_audit::Entry]) -> Result<Logged, StoreError>;

    /// Appends `entries` to the audit log in a transaction of their own,
    /// durable when it returns, without signing a checkpoint; returns the
    /// index of the first. For a writer that appends often and signs now
    /// and then ([`Store::audit_append`] of no entries signs the current
    /// size): the signature is most of the cost of a small append. Until
    /// then, `verify` checks these entries' hashes and reports them as not
    /// yet covered by a checkpoint. A store may sign anyway (the default
    /// does).
    fn audit_append_unsigned(
        &mut self,
        entries: &[enduse_audit::Entry],
    ) -> Result<u64, StoreError> {
        self.audit_append(entries).map(|l| l.first)
    }

    /// The number of entries of the audit log (the next index).
    fn audit_size(&mut self) -> Result<u64, StoreError>;

    /// The entry rows with index in `from..to`, as stored, by index.
    fn audit_entries(
        &mut self,
        from: u64,
        to: u64,
    ) -> Result<Vec<enduse_audit::StoredEntry>, StoreError>;

    /// Every signed checkpoint, by size.
    fn audit_checkpoints(&mut self) -> Result<Vec<enduse_audit::SignedCheckpoint>, StoreError>;

    /// The log's public verifier key (`name+id+base64`), created with the
    /// database; `None` before the audit log existed.
    fn audit_key(&mut self) -> Result<Option<String>, StoreError>;

    /// Every transaction with the digest of its fact rows as the tables
    /// hold them now, by id.
    fn fact_digests(&mut self) -> Result<Vec<TxnDigest>, StoreError>;

    /// [`Store::write`] for a write too large to hold: one transaction into which
    /// `feed` puts its changes one at a time through the sink. It commits only if
    /// `feed` returns `Ok(true)` and every change passed its check; if `feed`
    /// returns `Ok(false)` it rolls back and returns `Ok(None)`; if `feed` or a
    /// put fails it rolls back and returns that error. Nothing of a rolled-back
    /// write is visible, ever. A committed one is exactly what `write` of the
    /// same changes in the same order writes: same versions, same `txns` row
    /// (with `changes` = the number put), same audit-log entry (digest of the rows),
    /// readers see none of it until the commit. A commit of no changes is
    /// allowed, as `write(&[])` allows it.
    fn write_streamed(
        &mut self,
        note: &str,
        feed: &mut dyn FnMut(&mut dyn ChangeSink) -> Result<bool, StoreError>,
    ) -> Result<Option<TxnInfo>, StoreError>;

    /// Calls `each` with every head of the register (the latest version of each
    /// register record, retracted ones included, workflow kinds excluded) as of
    /// transaction `txn` (the latest if `None`), only of `kind` if given, in heads
    /// order (kind name, then key bytewise), one at a time: what `heads(None)` /
    /// `kind_heads(kind, txn)` return, without ever holding them all. An error from
    /// `each` stops the scan and is returned.
    fn scan_heads(
        &mut self,
        kind: Option<RecordKind>,
        txn: Option<i64>,
        each: &mut dyn FnMut(Version) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// One change as a backend writes it, whether of the register or of the
/// workflow: what the per-change code of every write needs.
pub(crate) struct NewFact<'a> {
    pub(crate) kind: &'static str,
    pub(crate) key: &'a str,
    pub(crate) retract: bool,
    pub(crate) expect: Expect,
    pub(crate) body: &'a str,
    pub(crate) valid_from: Option<&'a str>,
    pub(crate) valid_to: Option<&'a str>,
    pub(crate) recorded_at: Option<&'a str>,
    pub(crate) lot: Option<&'a str>,
}

impl<'a> NewFact<'a> {
    pub(crate) fn of_change(c: &'a Change) -> Self {
        let r = &c.record;
        NewFact {
            kind: r.kind.as_str(),
            key: &r.key,
            retract: c.retract,
            expect: c.expect,
            body: &r.body,
            valid_from: r.valid_from.as_deref(),
            valid_to: r.valid_to.as_deref(),
            recorded_at: r.recorded_at.as_deref(),
            lot: r.lot.as_deref(),
        }
    }

    pub(crate) fn of_workflow(c: &'a WorkflowChange) -> Self {
        let r = &c.record;
        NewFact {
            kind: r.kind.as_str(),
            key: &r.key,
            retract: c.retract,
            expect: c.expect,
            body: &r.body,
            valid_from: r.valid_from.as_deref(),
            valid_to: r.valid_to.as_deref(),
            recorded_at: r.recorded_at.as_deref(),
            lot: None,
        }
    }

    /// Checks the change's expectation against the current version.
    pub(crate) fn check(&self, current: Option<(i64, bool)>) -> Result<(), StoreError> {
        check_parts(self.kind, self.key, self.expect, self.retract, current)
    }

    /// The stored row, as the audit log digests it.
    pub(crate) fn row(&self, version: i64, txn: i64, sys_from: i64) -> crate::FactRow<'a> {
        crate::FactRow {
            kind: self.kind,
            key: self.key,
            version,
            txn,
            sys_from,
            retracted: self.retract,
            body: self.body,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            recorded_at: self.recorded_at,
            lot: self.lot,
        }
    }
}

/// What a backend does with one change of a streamed write.
pub(crate) trait PutOne {
    fn put_one(&mut self, change: Change) -> Result<(), StoreError>;
}

/// The sink of a streamed write: counts the changes, and once a put has
/// failed refuses every later one, so that a `feed` that ignores the
/// error cannot commit the rest.
struct Sink<'p, P> {
    put: &'p mut P,
    count: u64,
    failed: Option<StoreError>,
}

impl<P: PutOne> ChangeSink for Sink<'_, P> {
    fn put(&mut self, change: Change) -> Result<(), StoreError> {
        if let Some(e) = &self.failed {
            return Err(e.again());
        }
        match self.put.put_one(change) {
            Ok(()) => {
                self.count += 1;
                Ok(())
            }
            Err(e) => {
                self.failed = Some(e.again());
                Err(e)
            }
        }
    }

    fn count(&self) -> u64 {
        self.count
    }
}

/// Runs `feed` with a sink that hands each change to `put`: the number of
/// changes if the write is to commit, `None` if it is to roll back, or
/// the error (`feed`'s own, or else the first put's) that rolls it back.
pub(crate) fn feed_through<P: PutOne>(
    put: &mut P,
    feed: &mut dyn FnMut(&mut dyn ChangeSink) -> Result<bool, StoreError>,
) -> Result<Option<u64>, StoreError> {
    let mut sink = Sink {
        put,
        count: 0,
        failed: None,
    };
    let go = feed(&mut sink)?;
    match sink.failed {
        Some(e) => Err(e),
        None if go => Ok(Some(sink.count)),
        None => Ok(None),
    }
}

impl StoreError {
    /// A copy of the error, for a sink that returns it to `feed` and keeps
    /// it to refuse the commit (errors are not `Clone`: a data set error
    /// holds sources; it is kept as its message).
    fn again(&self) -> StoreError {
        match self {
            StoreError::Conflict {
                kind,
                key,
                expected,
                found,
            } => StoreError::Conflict {
                kind: kind.clone(),
                key: key.clone(),
                expected: expected.clone(),
                found: found.clone(),
            },
            StoreError::Database { target, message } => StoreError::Database {
                target: target.clone(),
                message: message.clone(),
            },
            StoreError::TooNew {
                target,
                found,
                known,
            } => StoreError::TooNew {
                target: target.clone(),
                found: *found,
                known: *known,
            },
            StoreError::DataSet(e) => StoreError::Usage(e.to_string()),
            StoreError::NotARegister { target, reason } => StoreError::NotARegister {
                target: target.clone(),
                reason: reason.clone(),
            },
            StoreError::Usage(m) => StoreError::Usage(m.clone()),
        }
    }
}

/// Keeps, for each (kind, key), the version with the highest number among
/// `rows` at or before `as_of`; shared by backends that fetch candidate rows.
/// The result is in heads order: by kind name, then key (bytewise).
pub(crate) fn latest(rows: Vec<Version>, as_of: Option<DateTime<Utc>>) -> Vec<Version> {
    let mut rows: Vec<Version> = rows
        .into_iter()
        .filter(|v| as_of.is_none_or(|t| v.sys_from <= t))
        .collect();
    rows.sort_unstable_by(|a, b| {
        (a.record.kind.as_str(), &a.record.key, a.version).cmp(&(
            b.record.kind.as_str(),
            &b.record.key,
            b.version,
        ))
    });
    last_of_runs(rows.into_iter().map(Ok::<_, std::convert::Infallible>)).unwrap_or_default()
}

/// The last version of each run of one (kind, key) in `rows`, which come
/// ordered by kind name, key and version (as the primary key orders them):
/// the heads, in one pass and without a map, which mattered at 1.6 million
/// rows.
pub(crate) fn last_of_runs<E>(
    rows: impl Iterator<Item = Result<Version, E>>,
) -> Result<Vec<Version>, E> {
    let mut out: Vec<Version> = Vec::new();
    each_last_of_runs(rows, &mut |v| {
        out.push(v);
        Ok(())
    })?;
    Ok(out)
}

/// [`last_of_runs`] one head at a time: holds only the current run's
/// latest version, and stops at the first error of `rows` or `each`.
pub(crate) fn each_last_of_runs<E>(
    rows: impl Iterator<Item = Result<Version, E>>,
    each: &mut dyn FnMut(Version) -> Result<(), E>,
) -> Result<(), E> {
    let mut run: Option<Version> = None;
    for v in rows {
        let v = v?;
        match &mut run {
            Some(last) if last.record.kind == v.record.kind && last.record.key == v.record.key => {
                *last = v;
            }
            _ => {
                if let Some(done) = run.replace(v) {
                    each(done)?;
                }
            }
        }
    }
    match run {
        Some(done) => each(done),
        None => Ok(()),
    }
}

/// The last version of each key among `rows`, which come ordered by key
/// and version.
pub(crate) fn last_workflow_versions(rows: Vec<WorkflowVersion>) -> Vec<WorkflowVersion> {
    let mut out: Vec<WorkflowVersion> = Vec::new();
    for v in rows {
        match out.last_mut() {
            Some(last) if last.record.key == v.record.key => *last = v,
            _ => out.push(v),
        }
    }
    out
}

/// Checks a change's expectation against the current version (`None` when
/// the record was never written), as every backend must.
pub(crate) fn check_expect(c: &Change, current: Option<(i64, bool)>) -> Result<(), StoreError> {
    check_parts(
        c.record.kind.as_str(),
        &c.record.key,
        c.expect,
        c.retract,
        current,
    )
}

/// [`check_expect`] for a change of a workflow record.
pub(crate) fn check_workflow_expect(
    c: &WorkflowChange,
    current: Option<(i64, bool)>,
) -> Result<(), StoreError> {
    check_parts(
        c.record.kind.as_str(),
        &c.record.key,
        c.expect,
        c.retract,
        current,
    )
}

fn check_parts(
    kind: &str,
    key: &str,
    expect: Expect,
    retract: bool,
    current: Option<(i64, bool)>,
) -> Result<(), StoreError> {
    let live = current.filter(|(_, retracted)| !retracted);
    let ok = match expect {
        Expect::Any => true,
        Expect::Absent => live.is_none(),
        Expect::Version(v) => current.map(|(n, _)| n) == Some(v),
    };
    if retract && live.is_none() && ok {
        return Err(StoreError::Usage(format!(
            "{kind} `{key}` does not exist, so it cannot be retracted"
        )));
    }
    if ok {
        return Ok(());
    }
    Err(StoreError::Conflict {
        kind: kind.to_owned(),
        key: key.to_owned(),
        expected: match expect {
            Expect::Any => "any version".into(),
            Expect::Absent => "no record".into(),
            Expect::Version(v) => format!("version {v}"),
        },
        found: match current {
            None => "no record".into(),
            Some((n, true)) => format!("version {n} (a retraction)"),
            Some((n, false)) => format!("version {n}"),
        },
    })
}

/// The system time of a new transaction: now, but strictly after the last
/// one, so that `--db-as-of` instants order transactions even when the
/// clock steps back.
pub(crate) fn next_instant(last: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = micros(Utc::now());
    match last {
        Some(l) if l >= now => l + chrono::Duration::microseconds(1),
        _ => now,
    }
}

/// Truncates to microseconds, the precision every backend stores.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

pub(crate) fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

/// The live versions among `heads` that still belong to `lot`, the lot first
/// and then its transfers by key.
pub(crate) fn chain_of(heads: Vec<Version>, lot: &str) -> Vec<Version> {
    let mut v: Vec<Version> = heads
        .into_iter()
        .filter(|v| !v.retracted && v.record.lot.as_deref() == Some(lot))
        .collect();
    v.sort_by(|a, b| (a.record.kind, &a.record.key).cmp(&(b.record.kind, &b.record.key)));
    v
}
