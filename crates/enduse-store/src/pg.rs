//! The multi-user deployment: a PostgreSQL database shared by any number of
//! enduse processes. Writers serialise on an advisory lock, so version checks
//! see every earlier commit; bulk writes go through binary COPY.

use crate::audit_store::{self, AuditState};
use crate::model::{
    feed_through, from_micros, latest, next_instant, Change, ChangeSink, ImageCheck, Logged,
    NewFact, PutOne, Store, StoreError, TxnDigest, TxnInfo, Version, WorkflowChange, WorkflowKind,
    WorkflowRecord, WorkflowVersion, Written, WORKFLOW_KINDS_SQL,
};
use chrono::{DateTime, Utc};
use enduse_load::{Record, RecordKind};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::{Client, NoTls};
use std::collections::HashMap;

/// Schema migrations; index `i` takes the database to version `i + 1`. They
/// mirror the SQLite ones.
pub const PG_MIGRATIONS: &[&str] = &[
    "CREATE TABLE txns (
        id BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
        note TEXT NOT NULL,
        changes BIGINT NOT NULL
    );
    CREATE TABLE facts (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        version BIGINT NOT NULL CHECK (version >= 1),
        txn BIGINT NOT NULL REFERENCES txns(id),
        sys_from BIGINT NOT NULL,
        retracted BOOLEAN NOT NULL,
        body TEXT NOT NULL,
        valid_from TEXT,
        valid_to TEXT,
        recorded_at TEXT,
        lot TEXT,
        PRIMARY KEY (kind, key, version)
    );
    CREATE FUNCTION enduse_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'facts are append-only: write a new version or a retraction'; END $$;
    CREATE TRIGGER facts_no_change BEFORE UPDATE OR DELETE ON facts
        FOR EACH ROW EXECUTE FUNCTION enduse_append_only();
    CREATE TRIGGER facts_no_truncate BEFORE TRUNCATE ON facts
        FOR EACH STATEMENT EXECUTE FUNCTION enduse_append_only();",
    "CREATE INDEX facts_lot ON facts (lot) WHERE lot IS NOT NULL;",
    "CREATE FUNCTION enduse_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'transactions are append-only'; END $$;
    CREATE TRIGGER txns_no_change BEFORE UPDATE OR DELETE ON txns
        FOR EACH ROW EXECUTE FUNCTION enduse_log_append_only();
    CREATE TRIGGER txns_no_truncate BEFORE TRUNCATE ON txns
        FOR EACH STATEMENT EXECUTE FUNCTION enduse_log_append_only();",
    // 4: declared record kinds (see the SQLite migration 4).
    "CREATE TABLE record_kinds (kind TEXT PRIMARY KEY);
    INSERT INTO record_kinds (kind) VALUES ('dataset'),('schema'),('source'),('party'),('place'),('category'),('model'),('lot'),('transfer'),('treaty'),('conflict'),('approval'),('default'),('group'),('target'),('purpose'),('area'),('policy'),('control'),('user'),('token'),('request'),('review'),('quorum');
    ALTER TABLE facts ADD CONSTRAINT facts_known_kind
        FOREIGN KEY (kind) REFERENCES record_kinds (kind);",
    // 5: the workflow's record kinds and the audit log (see the SQLite
    // migration 5); `audit_store::pg::setup` makes the key.
    "INSERT INTO record_kinds (kind) VALUES ('user'),('token'),('request'),('review'),('quorum')
        ON CONFLICT DO NOTHING;
    CREATE INDEX facts_txn ON facts (txn);
    CREATE TABLE audit_entries (
        idx BIGINT PRIMARY KEY CHECK (idx >= 0),
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE audit_checkpoints (
        size BIGINT PRIMARY KEY CHECK (size >= 0),
        note TEXT NOT NULL,
        peaks TEXT NOT NULL
    );
    CREATE TABLE audit_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        signer TEXT NOT NULL,
        verifier TEXT NOT NULL
    );
    CREATE FUNCTION enduse_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
    CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION enduse_audit_append_only();
    CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
        FOR EACH STATEMENT EXECUTE FUNCTION enduse_audit_append_only();
    CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
        FOR EACH ROW EXECUTE FUNCTION enduse_audit_append_only();
    CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION enduse_audit_append_only();
    CREATE TRIGGER audit_key_no_change BEFORE UPDATE OR DELETE ON audit_key
        FOR EACH ROW EXECUTE FUNCTION enduse_audit_append_only();
    CREATE TRIGGER audit_key_no_truncate BEFORE TRUNCATE ON audit_key
        FOR EACH STATEMENT EXECUTE FUNCTION enduse_audit_append_only();",
    // 6: images of the register as of a transaction (see the SQLite
    // migration). Stored out of line and uncompressed: the image is
    // compact already, and compressing it would cost seconds per write and
    // per open.
    "CREATE TABLE register_images (
        txn BIGINT PRIMARY KEY REFERENCES txns(id),
        image BYTEA NOT NULL
    );
    ALTER TABLE register_images ALTER COLUMN image SET STORAGE EXTERNAL;",
    // 7: a streamed write (an import of a data set too large to hold)
    // writes its facts before its `txns` row, whose count of changes is
    // known only at the end and which is never updated: the facts'
    // reference to their transaction may be checked at the commit.
    "ALTER TABLE facts ALTER CONSTRAINT facts_txn_fkey DEFERRABLE INITIALLY IMMEDIATE;",
];

/// Any fixed number: serialises migrations of processes opening at once.
const MIGRATION_LOCK: i64 = 0x656e_6475_7365;

/// Another: serialises writers (see [`PgStore::write`]).
const WRITE_LOCK: i64 = 0x656e_6475_7377;

/// A register in a PostgreSQL database.
pub struct PgStore {
    client: Client,
    target: String,
    /// The audit log's key and right edge, as of this handle's last write.
    audit: Option<AuditState>,
}

/// The connection string without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url
            .split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn db_err(target: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
    move |e| {
        // The server's own message says what went wrong; the wrapper's
        // Display ("db error") does not.
        let message = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_else(|| e.to_string());
        StoreError::Database {
            target: target.to_owned(),
            message: message.to_lowercase(),
        }
    }
}

impl PgStore {
    /// Runs `write` on the audit log in one transaction under the write
    /// lock, with the log's state brought up to date from the database
    /// (another process may have appended) and kept for the next write once
    /// committed.
    fn audit_write<T>(
        &mut self,
        write: impl FnOnce(
            &mut postgres::Transaction<'_>,
            &str,
            &mut AuditState,
        ) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let cached = self.audit.take();
        let mut tx = self.client.transaction().map_err(&e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(&e)?;
        if !audit_store::pg::has_log(&mut tx, &target)? {
            return Err(crate::sqlite::no_log(&target));
        }
        let mut state = audit_store::pg::sync(&mut tx, &target, cached)?;
        let out = write(&mut tx, &target, &mut state)?;
        tx.commit().map_err(&e)?;
        self.audit = Some(state);
        Ok(out)
    }

    /// Connects with a libpq-style URL or key-value string and upgrades the
    /// schema.
    pub fn open(conn: &str) -> Result<Self, StoreError> {
        Self::open_at_version(conn, PG_MIGRATIONS.len())
    }

    /// Connects and migrates only up to `version` (for upgrade tests).
    pub fn open_at_version(conn: &str, version: usize) -> Result<Self, StoreError> {
        let target = redact(conn);
        let client = Client::connect(conn, NoTls).map_err(db_err(&target))?;
        let mut s = Self {
            client,
            target,
            audit: None,
        };
        s.migrate(version)?;
        Ok(s)
    }

    /// Connects for reading only: the schema is checked, never created or
    /// migrated, so a role that may only read can open it, and a database
    /// without a register stays as it was.
    pub fn open_read_only(conn: &str) -> Result<Self, StoreError> {
        let target = redact(conn);
        let client = Client::connect(conn, NoTls).map_err(db_err(&target))?;
        let mut s = Self {
            client,
            target: target.clone(),
            audit: None,
        };
        match s.read_version()? {
            None => Err(StoreError::NotARegister {
                target,
                reason: "it has no enduse schema".into(),
            }),
            Some(v) if v > PG_MIGRATIONS.len() as i64 => Err(StoreError::TooNew {
                target,
                found: v,
                known: PG_MIGRATIONS.len() as i64,
            }),
            Some(_) => Ok(s),
        }
    }

    /// The schema version by plain reads (`None` before the first
    /// migration): needs no lock and no right to create tables.
    fn read_version(&mut self) -> Result<Option<i64>, StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .map_err(&e)?
            .get(0);
        if !exists {
            return Ok(None);
        }
        Ok(Some(
            self.client
                .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
                .map_err(&e)?
                .get(0),
        ))
    }

    fn migrate(&mut self, upto: usize) -> Result<(), StoreError> {
        let target = self.target.clone();
        // Most opens find the schema current. Check that with reads first,
        // so that a role that may only read (a deciding server) can open
        // the database: `CREATE TABLE IF NOT EXISTS` needs the right to
        // create tables even when the table exists.
        if let Some(have) = self.read_version()? {
            if have > PG_MIGRATIONS.len() as i64 {
                return Err(StoreError::TooNew {
                    target,
                    found: have,
                    known: PG_MIGRATIONS.len() as i64,
                });
            }
            if have >= upto as i64 {
                return Ok(());
            }
        }
        let e = db_err(&target);
        let mut tx = self.client.transaction().map_err(&e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(&e)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .map_err(&e)?;
        let have: i64 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .map_err(&e)?
            .get(0);
        if have > PG_MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                target: target.clone(),
                found: have,
                known: PG_MIGRATIONS.len() as i64,
            });
        }
        for (i, sql) in PG_MIGRATIONS
            .iter()
            .enumerate()
            .take(upto)
            .skip(have as usize)
        {
            tx.batch_execute(sql).map_err(&e)?;
            if i + 1 == crate::sqlite::AUDIT_VERSION {
                audit_store::pg::setup(&mut tx, &target)?;
            }
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(i as i64 + 1)],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(&e)
    }

    /// Runs SQL directly: for tests that try to break the rules.
    pub fn execute_raw(&mut self, sql: &str) -> Result<u64, StoreError> {
        let target = self.target.clone();
        self.client.execute(sql, &[]).map_err(db_err(&target))
    }
}

const COLS: &str =
    "kind, key, version, txn, sys_from, retracted, body, valid_from, valid_to, recorded_at, lot";

fn row_version(r: &postgres::Row) -> Result<Version, String> {
    let kind: String = r.get(0);
    let kind = RecordKind::parse(&kind).ok_or_else(|| format!("unknown record kind `{kind}`"))?;
    Ok(Version {
        record: Record {
            kind,
            key: r.get(1),
            body: r.get(6),
            valid_from: r.get(7),
            valid_to: r.get(8),
            recorded_at: r.get(9),
            lot: r.get(10),
        },
        version: r.get(2),
        txn: r.get(3),
        sys_from: from_micros(r.get(4)),
        retracted: r.get(5),
    })
}

impl PgStore {
    fn rows(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Version>, StoreError> {
        let target = self.target.clone();
        let rows = self.client.query(sql, params).map_err(db_err(&target))?;
        rows.iter()
            .map(row_version)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| StoreError::Database { target, message })
    }
}

fn row_workflow(r: &postgres::Row) -> Result<WorkflowVersion, String> {
    let kind: String = r.get(0);
    let kind =
        WorkflowKind::parse(&kind).ok_or_else(|| format!("unknown workflow kind `{kind}`"))?;
    Ok(WorkflowVersion {
        record: WorkflowRecord {
            kind,
            key: r.get(1),
            body: r.get(6),
            valid_from: r.get(7),
            valid_to: r.get(8),
            recorded_at: r.get(9),
        },
        version: r.get(2),
        txn: r.get(3),
        sys_from: from_micros(r.get(4)),
        retracted: r.get(5),
    })
}

impl PgStore {
    fn workflow_rows(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        let target = self.target.clone();
        let rows = self.client.query(sql, params).map_err(db_err(&target))?;
        rows.iter()
            .map(row_workflow)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| StoreError::Database { target, message })
    }

    fn need_log(&mut self) -> Result<(), StoreError> {
        let target = self.target.clone();
        if audit_store::pg::has_log(&mut self.client, &target)? {
            Ok(())
        } else {
            Err(crate::sqlite::no_log(&target))
        }
    }
}

/// Changes per look-up query, and per COPY of a streamed write.
const CHUNK: usize = 20_000;

/// How a write's item (a register or a workflow change) is written: made
/// on the fly, so that a large write never holds a second copy of its
/// changes.
type Fact<T> = for<'x> fn(&'x T) -> NewFact<'x>;

/// The current version of every record of `facts` among the rows of
/// `table`, merged into `current` (the higher version wins): one query per
/// chunk rather than one round trip per change.
fn look_up<T>(
    tx: &mut postgres::Transaction<'_>,
    target: &str,
    table: &str,
    (items, fact): (&[T], Fact<T>),
    current: &mut HashMap<(&'static str, String), (i64, bool)>,
) -> Result<(), StoreError> {
    let e = db_err(target);
    for chunk in items.chunks(CHUNK) {
        let kinds: Vec<&str> = chunk.iter().map(|c| fact(c).kind).collect();
        let keys: Vec<&str> = chunk.iter().map(|c| fact(c).key).collect();
        let rows = tx
            .query(
                // One backward probe of the primary key per record: a join
                // would be planned from statistics that a large write in
                // progress has outgrown, and could scan the whole table for
                // each chunk.
                &format!(
                    "SELECT w.kind, w.key, f.version, f.retracted \
                     FROM unnest($1::text[], $2::text[]) AS w(kind, key) \
                     CROSS JOIN LATERAL (SELECT version, retracted FROM {table} \
                       WHERE kind = w.kind AND key = w.key \
                       ORDER BY version DESC LIMIT 1) f"
                ),
                &[&kinds, &keys],
            )
            .map_err(&e)?;
        for r in rows {
            let found: (i64, bool) = (r.get(2), r.get(3));
            let kind: &str = r.get(0);
            let Some(kind) = stored_kind(kind) else {
                continue;
            };
            current
                .entry((kind, r.get(1)))
                .and_modify(|c| {
                    if found.0 > c.0 {
                        *c = found;
                    }
                })
                .or_insert(found);
        }
    }
    Ok(())
}

/// The kind named `s`, as the static name a [`NewFact`] carries (the
/// look-up only returns kinds it was asked for).
fn stored_kind(s: &str) -> Option<&'static str> {
    RecordKind::parse(s)
        .map(RecordKind::as_str)
        .or_else(|| WorkflowKind::parse(s).map(WorkflowKind::as_str))
}

/// Checks `facts` in order against the current versions (each change
/// against the ones before it too) and numbers them.
fn number<T>(
    (items, fact): (&[T], Fact<T>),
    current: &mut HashMap<(&'static str, String), (i64, bool)>,
) -> Result<Vec<i64>, StoreError> {
    let mut versions = Vec::with_capacity(items.len());
    for f in items.iter().map(fact) {
        let k = (f.kind, f.key.to_owned());
        let cur = current.get(&k).copied();
        f.check(cur)?;
        let n = cur.map_or(1, |(n, _)| n + 1);
        current.insert(k, (n, f.retract));
        versions.push(n);
    }
    Ok(versions)
}

/// Writes `facts`, numbered `versions`, of a transaction (`txn`: its id
/// and system time) into `table` by one binary COPY, their hashes into
/// `hashes`. `written(i)` is called after the `i`-th.
#[allow(clippy::too_many_arguments)]
fn copy_facts<T>(
    tx: &mut postgres::Transaction<'_>,
    target: &str,
    table: &str,
    (items, fact): (&[T], Fact<T>),
    versions: &[i64],
    (id, sys): (i64, i64),
    hashes: &mut Vec<enduse_audit::Hash>,
    written: &mut dyn FnMut(usize),
) -> Result<(), StoreError> {
    let e = db_err(target);
    let sink = tx
        .copy_in(&format!("COPY {table} ({COLS}) FROM STDIN (FORMAT binary)"))
        .map_err(&e)?;
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::BOOL,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
    ];
    let mut w = BinaryCopyInWriter::new(sink, &types);
    for (i, (f, n)) in items.iter().map(fact).zip(versions).enumerate() {
        w.write(&[
            &f.kind,
            &f.key,
            n,
            &id,
            &sys,
            &f.retract,
            &f.body,
            &f.valid_from,
            &f.valid_to,
            &f.recorded_at,
            &f.lot,
        ])
        .map_err(&e)?;
        hashes.push(f.row(*n, id, sys).hash());
        written(i);
    }
    w.finish().map_err(&e)?;
    Ok(())
}

/// A streamed write's changes, buffered and written a chunk at a time.
struct PgSink<'a, 't> {
    tx: &'a mut postgres::Transaction<'t>,
    target: &'a str,
    txn: (i64, i64),
    buf: Vec<Change>,
    hashes: Vec<enduse_audit::Hash>,
}

impl PgSink<'_, '_> {
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let facts = (
            self.buf.as_slice(),
            (|c| NewFact::of_change(c)) as Fact<Change>,
        );
        // `facts` holds the earlier chunks of this very transaction.
        let mut current = HashMap::new();
        look_up(self.tx, self.target, "facts", facts, &mut current)?;
        let versions = number(facts, &mut current)?;
        copy_facts(
            self.tx,
            self.target,
            "facts",
            facts,
            &versions,
            self.txn,
            &mut self.hashes,
            &mut |_| {},
        )?;
        self.buf.clear();
        Ok(())
    }
}

impl PutOne for PgSink<'_, '_> {
    fn put_one(&mut self, change: Change) -> Result<(), StoreError> {
        self.buf.push(change);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }
}

/// Opens a write transaction: takes the writers' lock, and says the id and
/// the instant the transaction will have.
fn begin_write<'c>(
    client: &'c mut Client,
    target: &str,
) -> Result<(postgres::Transaction<'c>, i64, DateTime<Utc>), StoreError> {
    let e = db_err(target);
    let mut tx = client.transaction().map_err(&e)?;
    // One writer at a time across every process; readers are not
    // blocked. An advisory lock rather than `LOCK TABLE ... EXCLUSIVE`,
    // which needs UPDATE, DELETE or TRUNCATE rights: a role granted
    // only SELECT and INSERT (all an append-only store needs) can write.
    // Each statement below reads a fresh snapshot (READ COMMITTED), taken
    // after the previous writer committed and let go of the lock.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .map_err(&e)?;
    let last: Option<i64> = tx
        .query_one("SELECT max(at) FROM txns", &[])
        .map_err(&e)?
        .get(0);
    let id: i64 = tx
        .query_one("SELECT coalesce(max(id), 0) + 1 FROM txns", &[])
        .map_err(&e)?
        .get(0);
    Ok((tx, id, next_instant(last.map(from_micros))))
}

/// Appends the transaction's audit entry (the digest of `hashes`) and
/// `events` in the open transaction, if the database has a log; the
/// entries logged and the log's new state.
fn log_txn(
    tx: &mut postgres::Transaction<'_>,
    target: &str,
    cached: Option<AuditState>,
    txn: &TxnInfo,
    hashes: Vec<enduse_audit::Hash>,
    events: &[enduse_audit::Entry],
) -> Result<(Option<Logged>, Option<AuditState>), StoreError> {
    if !audit_store::pg::has_log(tx, target)? {
        if !events.is_empty() {
            return Err(crate::sqlite::no_log(target));
        }
        return Ok((None, None));
    }
    let mut st = audit_store::pg::sync(tx, target, cached)?;
    let rows = hashes.len() as u64;
    let mut entries = vec![audit_store::txn_entry(
        txn,
        rows,
        &audit_store::txn_digest(hashes),
    )];
    entries.extend(events.iter().cloned());
    let logged = audit_store::pg::append(tx, target, &mut st, &entries)?;
    Ok((Some(logged), Some(st)))
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn write(
        &mut self,
        changes: &[Change],
        note: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<TxnInfo, StoreError> {
        self.write_with(changes, &[], &[], note, progress)
            .map(|w| w.txn)
    }

    fn write_with(
        &mut self,
        changes: &[Change],
        workflow: &[WorkflowChange],
        events: &[enduse_audit::Entry],
        note: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Written, StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let cached = self.audit.take();
        let (mut tx, id, at) = begin_write(&mut self.client, &target)?;
        let written = (changes.len() + workflow.len()) as i64;
        tx.execute(
            "INSERT INTO txns (id, at, note, changes) VALUES ($1, $2, $3, $4)",
            &[&id, &at.timestamp_micros(), &note, &written],
        )
        .map_err(&e)?;

        let sys = at.timestamp_micros();
        let register = (changes, (|c| NewFact::of_change(c)) as Fact<Change>);
        let flow = (
            workflow,
            (|c| NewFact::of_workflow(c)) as Fact<WorkflowChange>,
        );
        // Every check before the first row is written.
        let mut current = HashMap::new();
        look_up(&mut tx, &target, "facts", register, &mut current)?;
        look_up(&mut tx, &target, "facts", flow, &mut current)?;
        let versions = number(register, &mut current)?;
        let wversions = number(flow, &mut current)?;
        drop(current);
        let mut hashes = Vec::with_capacity(changes.len() + workflow.len());
        let total = changes.len() as u64;
        copy_facts(
            &mut tx,
            &target,
            "facts",
            register,
            &versions,
            (id, sys),
            &mut hashes,
            &mut |i| {
                if i.is_multiple_of(10_000) {
                    progress(i as u64, total);
                }
            },
        )?;
        if !workflow.is_empty() {
            copy_facts(
                &mut tx,
                &target,
                "facts",
                flow,
                &wversions,
                (id, sys),
                &mut hashes,
                &mut |_| {},
            )?;
        }
        progress(total, total);
        let txn = TxnInfo {
            id,
            at,
            note: note.to_owned(),
            changes: written,
        };
        let (log, state) = log_txn(&mut tx, &target, cached, &txn, hashes, events)?;
        tx.commit().map_err(&e)?;
        self.audit = state;
        Ok(Written { txn, log })
    }

    fn write_streamed(
        &mut self,
        note: &str,
        feed: &mut dyn FnMut(&mut dyn ChangeSink) -> Result<bool, StoreError>,
    ) -> Result<Option<TxnInfo>, StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let cached = self.audit.take();
        let (mut tx, id, at) = begin_write(&mut self.client, &target)?;
        // The transaction's row says how many changes it made, known only
        // at the end, and `txns` rows are never updated: it is written
        // last, and the facts' reference to it checked at the commit
        // (migration 7).
        tx.batch_execute("SET CONSTRAINTS facts_txn_fkey DEFERRED")
            .map_err(&e)?;
        let mut sink = PgSink {
            tx: &mut tx,
            target: &target,
            txn: (id, at.timestamp_micros()),
            buf: Vec::with_capacity(CHUNK),
            hashes: Vec::new(),
        };
        let Some(count) = feed_through(&mut sink, feed)? else {
            return Ok(None);
        };
        sink.flush()?;
        let hashes = sink.hashes;
        let txn = TxnInfo {
            id,
            at,
            note: note.to_owned(),
            changes: count as i64,
        };
        tx.execute(
            "INSERT INTO txns (id, at, note, changes) VALUES ($1, $2, $3, $4)",
            &[&id, &at.timestamp_micros(), &note, &txn.changes],
        )
        .map_err(&e)?;
        let (_, state) = log_txn(&mut tx, &target, cached, &txn, hashes, &[])?;
        tx.commit().map_err(&e)?;
        self.audit = state;
        Ok(Some(txn))
    }

    fn scan_heads(
        &mut self,
        kind: Option<RecordKind>,
        txn: Option<i64>,
        each: &mut dyn FnMut(Version) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let bound = txn.unwrap_or(i64::MAX);
        let name = kind.map(|k| k.as_str());
        // Bytewise order, as `heads` and `kind_heads` order. `query_raw`
        // hands the rows over as they arrive (the connection stops reading
        // while one waits), so they are never all held.
        let (sql, args): (String, Vec<&(dyn postgres::types::ToSql + Sync)>) = match &name {
            Some(k) => (
                format!(
                    "SELECT {COLS} FROM facts WHERE kind = $1 AND txn <= $2 \
                     ORDER BY key COLLATE \"C\", version"
                ),
                vec![k, &bound],
            ),
            None => (
                format!(
                    "SELECT {COLS} FROM facts WHERE txn <= $1 \
                     AND kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                     ORDER BY kind COLLATE \"C\", key COLLATE \"C\", version"
                ),
                vec![&bound],
            ),
        };
        let rows = self.client.query_raw(&sql, args).map_err(&e)?;
        let rows = postgres::fallible_iterator::FallibleIterator::iterator(rows).map(|r| {
            r.map_err(&e).and_then(|r| {
                row_version(&r).map_err(|message| StoreError::Database {
                    target: target.clone(),
                    message,
                })
            })
        });
        crate::model::each_last_of_runs(rows, each)
    }

    fn workflow_heads(&mut self, kind: WorkflowKind) -> Result<Vec<WorkflowVersion>, StoreError> {
        let rows = self.workflow_rows(
            &format!(
                "SELECT {COLS} FROM facts WHERE kind = $1 \
                 ORDER BY key COLLATE \"C\", version"
            ),
            &[&kind.as_str()],
        )?;
        Ok(crate::model::last_workflow_versions(rows))
    }

    fn workflow_history(
        &mut self,
        kind: WorkflowKind,
        key: &str,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        self.workflow_rows(
            &format!("SELECT {COLS} FROM facts WHERE kind = $1 AND key = $2 ORDER BY version"),
            &[&kind.as_str(), &key],
        )
    }

    fn latest_register_txn(&mut self) -> Result<Option<i64>, StoreError> {
        let target = self.target.clone();
        Ok(self
            .client
            .query_opt(
                &format!(
                    "SELECT txn FROM facts WHERE kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                     ORDER BY txn DESC LIMIT 1"
                ),
                &[],
            )
            .map_err(db_err(&target))?
            .map(|r| r.get(0)))
    }

    fn audit_append(&mut self, entries: &[enduse_audit::Entry]) -> Result<Logged, StoreError> {
        self.audit_write(|tx, target, state| audit_store::pg::append(tx, target, state, entries))
    }

    fn audit_append_unsigned(
        &mut self,
        entries: &[enduse_audit::Entry],
    ) -> Result<u64, StoreError> {
        self.audit_write(|tx, target, state| {
            audit_store::pg::append_rows(tx, target, state, entries)
        })
    }

    fn audit_size(&mut self) -> Result<u64, StoreError> {
        self.need_log()?;
        audit_store::pg::size(&mut self.client, &self.target)
    }

    fn audit_entries(
        &mut self,
        from: u64,
        to: u64,
    ) -> Result<Vec<enduse_audit::StoredEntry>, StoreError> {
        self.need_log()?;
        audit_store::pg::entries(&mut self.client, &self.target, from, to)
    }

    fn audit_checkpoints(&mut self) -> Result<Vec<enduse_audit::SignedCheckpoint>, StoreError> {
        self.need_log()?;
        audit_store::pg::checkpoints(&mut self.client, &self.target)
    }

    fn audit_key(&mut self) -> Result<Option<String>, StoreError> {
        audit_store::pg::key(&mut self.client, &self.target)
    }

    fn fact_digests(&mut self) -> Result<Vec<TxnDigest>, StoreError> {
        audit_store::pg::fact_digests(&mut self.client, &self.target)
    }

    fn register_txn_at(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Option<i64>, StoreError> {
        let Some(t) = as_of else {
            return self.latest_register_txn();
        };
        let target = self.target.clone();
        Ok(self
            .client
            .query_opt(
                &format!(
                    "SELECT txn FROM facts WHERE kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                     AND txn <= (SELECT max(id) FROM txns WHERE at <= $1) \
                     ORDER BY txn DESC LIMIT 1"
                ),
                &[&t.timestamp_micros()],
            )
            .map_err(db_err(&target))?
            .map(|r| r.get(0)))
    }

    fn image(&mut self, txn: i64) -> Result<Option<Vec<u8>>, StoreError> {
        if self.read_version()?.unwrap_or(0) < crate::sqlite::IMAGE_VERSION {
            return Ok(None);
        }
        let target = self.target.clone();
        Ok(self
            .client
            .query_opt("SELECT image FROM register_images WHERE txn = $1", &[&txn])
            .map_err(db_err(&target))?
            .map(|r| r.get(0)))
    }

    fn put_image(&mut self, txn: i64, image: &[u8], check: ImageCheck) -> Result<bool, StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let mut tx = self.client.transaction().map_err(&e)?;
        if let ImageCheck::After(base) = check {
            // Transactions are numbered under the writers' lock, so once
            // `txn` is committed every lower one is final.
            let before: Option<i64> = tx
                .query_opt(
                    &format!(
                        "SELECT txn FROM facts WHERE kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                         AND txn < $1 ORDER BY txn DESC LIMIT 1"
                    ),
                    &[&txn],
                )
                .map_err(&e)?
                .map(|r| r.get(0));
            if before != base {
                return Ok(false);
            }
        }
        tx.execute(
            "INSERT INTO register_images (txn, image) VALUES ($1, $2) \
             ON CONFLICT (txn) DO UPDATE SET image = EXCLUDED.image",
            &[&txn, &image],
        )
        .map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(true)
    }

    fn kind_heads(&mut self, kind: RecordKind, txn: i64) -> Result<Vec<Version>, StoreError> {
        let rows = self.rows(
            &format!(
                "SELECT {COLS} FROM facts WHERE kind = $1 AND txn <= $2 \
                 ORDER BY key COLLATE \"C\", version"
            ),
            &[&kind.as_str(), &txn],
        )?;
        Ok(
            crate::model::last_of_runs(rows.into_iter().map(Ok::<_, std::convert::Infallible>))
                .unwrap_or_default(),
        )
    }

    fn heads(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Vec<Version>, StoreError> {
        let t = as_of.map_or(i64::MAX, |t| t.timestamp_micros());
        let rows = self.rows(
            &format!(
                "SELECT {COLS} FROM facts WHERE sys_from <= $1 \
                 AND kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                 ORDER BY kind COLLATE \"C\", key COLLATE \"C\", version"
            ),
            &[&t],
        )?;
        Ok(
            crate::model::last_of_runs(rows.into_iter().map(Ok::<_, std::convert::Infallible>))
                .unwrap_or_default(),
        )
    }

    fn history(&mut self, kind: RecordKind, key: &str) -> Result<Vec<Version>, StoreError> {
        self.rows(
            &format!("SELECT {COLS} FROM facts WHERE kind = $1 AND key = $2 ORDER BY version"),
            &[&kind.as_str(), &key],
        )
    }

    fn lot_chain(
        &mut self,
        lot: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<Version>, StoreError> {
        let t = as_of.map_or(i64::MAX, |t| t.timestamp_micros());
        let rows = self.rows(
            &format!(
                "SELECT {COLS} FROM facts WHERE (kind, key) IN \
                 (SELECT kind, key FROM facts WHERE lot = $1) AND sys_from <= $2"
            ),
            &[&lot, &t],
        )?;
        Ok(crate::model::chain_of(latest(rows, None), lot))
    }

    fn transactions(&mut self) -> Result<Vec<TxnInfo>, StoreError> {
        let target = self.target.clone();
        let rows = self
            .client
            .query("SELECT id, at, note, changes FROM txns ORDER BY id", &[])
            .map_err(db_err(&target))?;
        Ok(rows
            .iter()
            .map(|r| TxnInfo {
                id: r.get(0),
                at: from_micros(r.get(1)),
                note: r.get(2),
                changes: r.get(3),
            })
            .collect())
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        let target = self.target.clone();
        Ok(self
            .client
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .map_err(db_err(&target))?
            .get(0))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://alice:s3cret@db.example/enduse"),
            "postgres://alice:***@db.example/enduse"
        );
        assert_eq!(
            redact("host=/tmp port=5432 user=a password=s3cret"),
            "host=/tmp port=5432 user=a password=***"
        );
        assert!(!redact("postgresql://u:pw@h/d").contains("pw"));
    }
}
