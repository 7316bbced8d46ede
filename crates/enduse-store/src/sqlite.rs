//! The embedded default: one SQLite file in WAL mode. Readers run while one
//! writer writes; `synchronous = FULL` makes every commit durable, and a
//! killed writer leaves only a rolled-back transaction behind.

use crate::audit_store::{self, AuditState};
use crate::model::{
    feed_through, from_micros, latest, next_instant, Change, ChangeSink, ImageCheck, Logged,
    NewFact, PutOne, Store, StoreError, TxnDigest, TxnInfo, Version, WorkflowChange, WorkflowKind,
    WorkflowRecord, WorkflowVersion, Written, WORKFLOW_KINDS_SQL,
};
use chrono::{DateTime, Utc};
use enduse_load::{Record, RecordKind};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// Schema migrations, applied in order through the `schema_version` table.
/// A database made by an older enduse is upgraded on open. Index `i` takes
/// the database to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the append-only fact table and the transactions that wrote it.
    "CREATE TABLE txns (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        note TEXT NOT NULL,
        changes INTEGER NOT NULL
    );
    CREATE TABLE facts (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        txn INTEGER NOT NULL REFERENCES txns(id),
        sys_from INTEGER NOT NULL,
        retracted INTEGER NOT NULL CHECK (retracted IN (0, 1)),
        body TEXT NOT NULL,
        valid_from TEXT,
        valid_to TEXT,
        recorded_at TEXT,
        lot TEXT,
        PRIMARY KEY (kind, key, version)
    );
    CREATE TRIGGER facts_no_update BEFORE UPDATE ON facts
        BEGIN SELECT RAISE(ABORT, 'facts are append-only: write a new version'); END;
    CREATE TRIGGER facts_no_delete BEFORE DELETE ON facts
        BEGIN SELECT RAISE(ABORT, 'facts are append-only: write a retraction'); END;",
    // 2: a lot's chain by index, for as-of look-ups without a scan.
    "CREATE INDEX facts_lot ON facts (lot) WHERE lot IS NOT NULL;",
    // 3: the log of transactions is append-only too: a rewritten or
    // deleted entry would falsify who wrote what, and when.
    "CREATE TRIGGER txns_no_update BEFORE UPDATE ON txns
        BEGIN SELECT RAISE(ABORT, 'transactions are append-only'); END;
    CREATE TRIGGER txns_no_delete BEFORE DELETE ON txns
        BEGIN SELECT RAISE(ABORT, 'transactions are append-only'); END;",
    // 4: the vocabulary of real conditions brings new record kinds (default,
    // group, target, purpose). The kinds a database holds are declared in
    // it, and a fact of an undeclared kind is refused, so a program that
    // predates a kind never meets it: it stops at the schema version.
    "CREATE TABLE record_kinds (kind TEXT PRIMARY KEY);
    INSERT INTO record_kinds (kind) VALUES ('dataset'),('schema'),('source'),('party'),('place'),('category'),('model'),('lot'),('transfer'),('treaty'),('conflict'),('approval'),('default'),('group'),('target'),('purpose'),('area'),('policy'),('control'),('user'),('token'),('request'),('review'),('quorum');
    CREATE TRIGGER facts_known_kind BEFORE INSERT ON facts
        WHEN NEW.kind NOT IN (SELECT kind FROM record_kinds)
        BEGIN SELECT RAISE(ABORT, 'unknown record kind'); END;",
    // 5: the workflow's record kinds (users, tokens, requests, reviews,
    // quorums: versioned in `facts`, outside the register), and the audit
    // log: entries, signed checkpoints (with the tree's right edge, so that
    // a writer need not read every leaf) and the signing key, all
    // append-only. The key is made, and the transactions already held are
    // logged, by `audit_store::sqlite::setup` in the same transaction.
    "INSERT OR IGNORE INTO record_kinds (kind) VALUES ('user'),('token'),('request'),('review'),('quorum');
    CREATE INDEX facts_txn ON facts (txn);
    CREATE TABLE audit_entries (
        idx INTEGER PRIMARY KEY CHECK (idx >= 0),
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE audit_checkpoints (
        size INTEGER PRIMARY KEY CHECK (size >= 0),
        note TEXT NOT NULL,
        peaks TEXT NOT NULL
    );
    CREATE TABLE audit_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        signer TEXT NOT NULL,
        verifier TEXT NOT NULL
    );
    CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_key_no_update BEFORE UPDATE ON audit_key
        BEGIN SELECT RAISE(ABORT, 'the audit key is append-only'); END;
    CREATE TRIGGER audit_key_no_delete BEFORE DELETE ON audit_key
        BEGIN SELECT RAISE(ABORT, 'the audit key is append-only'); END;",
    // 6: images of the register as of a transaction (`enduse_load`'s
    // binary form, checked by its SHA-256), so that an open reads one blob
    // instead of every head. An image is a cache: it may be missing or be
    // replaced, and a bad one is ignored; the facts stay the truth.
    "CREATE TABLE register_images (
        txn INTEGER PRIMARY KEY REFERENCES txns(id),
        image BLOB NOT NULL
    );",
    // 7: nothing to change. PostgreSQL's migration 7 lets a streamed write
    // check the facts' reference to their transaction at the commit; here
    // a transaction asks for that itself (`PRAGMA defer_foreign_keys`). The
    // backends keep one numbering of versions.
    "SELECT 1;",
];

/// The schema version that brings register images.
pub(crate) const IMAGE_VERSION: i64 = 6;

/// The schema version that brings the audit log.
pub(crate) const AUDIT_VERSION: usize = 5;

/// A register in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    target: String,
    /// The audit log's key and right edge, as of this handle's last write.
    audit: Option<AuditState>,
}

fn db_err(target: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::Database {
        target: target.to_owned(),
        message: e.to_string().to_lowercase(),
    }
}

/// Switches the database to WAL. Changing the journal mode does not wait
/// in the busy handler: when several processes open a new file at once,
/// all but one get `database is locked` here. So wait as `busy_timeout`
/// would (an existing WAL database answers at once).
fn wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(f, _))
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

impl SqliteStore {
    /// Runs `write` on the audit log in one immediate transaction, with the
    /// log's state brought up to date from the database (another process
    /// may have appended) and kept for the next write once committed.
    fn audit_write<T>(
        &mut self,
        write: impl FnOnce(&rusqlite::Transaction<'_>, &str, &mut AuditState) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let cached = self.audit.take();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        if !audit_store::sqlite::has_log(&tx, &target)? {
            return Err(no_log(&target));
        }
        let mut state = audit_store::sqlite::sync(&tx, &target, cached)?;
        let out = write(&tx, &target, &mut state)?;
        tx.commit().map_err(&e)?;
        self.audit = Some(state);
        Ok(out)
    }

    /// Opens (creating if needed) the database at `path` and upgrades its
    /// schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_at_version(path, MIGRATIONS.len())
    }

    /// Opens and migrates only up to `version`: for tests that need a
    /// database as an older enduse left it.
    pub fn open_at_version(path: &Path, version: usize) -> Result<Self, StoreError> {
        let target = path.display().to_string();
        let e = db_err(&target);
        let conn = Connection::open(path).map_err(&e)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(&e)?;
        wal(&conn).map_err(&e)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&e)?;
        // Up to 64 MB of page cache (SQLite's default is 2 MB), so that a
        // bulk import keeps the B-tree pages it is filling in memory; pages
        // are only taken as they are used, so small databases stay small.
        // More buys an import little (its keys arrive nearly in order) and
        // counts in full at its peak of memory.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(&e)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(&e)?;
        let mut s = Self {
            conn,
            target: target.clone(),
            audit: None,
        };
        s.migrate(version)?;
        Ok(s)
    }

    /// Opens an existing database for reading only: nothing is created,
    /// migrated or written, and a read-only file or directory will do.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let target = path.display().to_string();
        let e = db_err(&target);
        let not = |reason: &str| StoreError::NotARegister {
            target: target.clone(),
            reason: reason.to_owned(),
        };
        match std::fs::metadata(path) {
            Err(_) => return Err(not("no such file")),
            Ok(m) if m.len() == 0 => return Err(not("the file is empty")),
            Ok(m) if !m.is_file() => return Err(not("not a file")),
            Ok(_) => {}
        }
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(&e)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(&e)?;
        let s = Self {
            conn,
            target: target.clone(),
            audit: None,
        };
        // A WAL database in a directory we may not write to cannot make
        // its shared-memory file; read it as immutable then (no writer can
        // be there either).
        let version = match s.read_version() {
            Ok(v) => v,
            Err(_) => {
                let uri = format!("file:{}?immutable=1", path.display());
                let conn = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                    .map_err(&e)?;
                let s2 = Self {
                    conn,
                    target: target.clone(),
                    audit: None,
                };
                let v = s2
                    .read_version()
                    .map_err(|_| not("not a SQLite database"))?;
                return Self::checked(s2, v, &target);
            }
        };
        Self::checked(s, version, &target)
    }

    fn checked(s: Self, version: Option<i64>, target: &str) -> Result<Self, StoreError> {
        match version {
            None => Err(StoreError::NotARegister {
                target: target.to_owned(),
                reason: "it has no enduse schema".into(),
            }),
            Some(v) if v > MIGRATIONS.len() as i64 => Err(StoreError::TooNew {
                target: target.to_owned(),
                found: v,
                known: MIGRATIONS.len() as i64,
            }),
            Some(_) => Ok(s),
        }
    }

    /// The schema version by a plain read (`None` before the first
    /// migration), which never waits for a writer.
    fn read_version(&self) -> Result<Option<i64>, StoreError> {
        let e = db_err(&self.target);
        let tables: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .map_err(&e)?;
        if tables == 0 {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map(Some)
            .map_err(&e)
    }

    fn migrate(&mut self, upto: usize) -> Result<(), StoreError> {
        let target = self.target.clone();
        // Most opens find the schema current: check that with a read, so
        // that opening a database (to read it, say) does not queue behind
        // a long write for the write lock.
        if let Some(have) = self.read_version()? {
            if have > MIGRATIONS.len() as i64 {
                return Err(StoreError::TooNew {
                    target,
                    found: have,
                    known: MIGRATIONS.len() as i64,
                });
            }
            if have >= upto as i64 {
                return Ok(());
            }
        }
        let e = db_err(&target);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(&e)?;
        let have: i64 = tx
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(&e)?;
        if have > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                target: target.clone(),
                found: have,
                known: MIGRATIONS.len() as i64,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().take(upto).skip(have as usize) {
            tx.execute_batch(sql).map_err(&e)?;
            if i + 1 == AUDIT_VERSION {
                audit_store::sqlite::setup(&tx, &target)?;
            }
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )
            .map_err(&e)?;
        }
        tx.commit().map_err(&e)
    }

    /// Runs SQL directly: for tests that try to break the rules.
    pub fn execute_raw(&self, sql: &str) -> Result<usize, StoreError> {
        self.conn.execute(sql, []).map_err(db_err(&self.target))
    }

    /// `PRAGMA integrity_check`: `ok` for a sound file.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(db_err(&self.target))
    }
}

const COLS: &str =
    "kind, key, version, txn, sys_from, retracted, body, valid_from, valid_to, recorded_at, lot";

fn row_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<Version> {
    let kind: String = r.get(0)?;
    let kind = RecordKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown record kind `{kind}`").into(),
        )
    })?;
    Ok(Version {
        record: Record {
            kind,
            key: r.get(1)?,
            body: r.get(6)?,
            valid_from: r.get(7)?,
            valid_to: r.get(8)?,
            recorded_at: r.get(9)?,
            lot: r.get(10)?,
        },
        version: r.get(2)?,
        txn: r.get(3)?,
        sys_from: from_micros(r.get(4)?),
        retracted: r.get::<_, i64>(5)? != 0,
    })
}

fn row_workflow(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkflowVersion> {
    let kind: String = r.get(0)?;
    let kind = WorkflowKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown workflow kind `{kind}`").into(),
        )
    })?;
    Ok(WorkflowVersion {
        record: WorkflowRecord {
            kind,
            key: r.get(1)?,
            body: r.get(6)?,
            valid_from: r.get(7)?,
            valid_to: r.get(8)?,
            recorded_at: r.get(9)?,
        },
        version: r.get(2)?,
        txn: r.get(3)?,
        sys_from: from_micros(r.get(4)?),
        retracted: r.get::<_, i64>(5)? != 0,
    })
}

/// Writes the facts of one transaction, one change at a time: the
/// per-change body of every SQLite write.
struct FactWriter<'t> {
    cur: rusqlite::CachedStatement<'t>,
    ins: rusqlite::CachedStatement<'t>,
    target: &'t str,
    txn: i64,
    sys: i64,
    /// The written rows' hashes, for the transaction's audit entry.
    hashes: Vec<enduse_audit::Hash>,
}

impl<'t> FactWriter<'t> {
    fn new(
        conn: &'t Connection,
        target: &'t str,
        txn: i64,
        sys: i64,
        capacity: usize,
    ) -> Result<Self, StoreError> {
        let e = db_err(target);
        Ok(FactWriter {
            cur: conn
                .prepare_cached(
                    "SELECT version, retracted FROM facts WHERE kind = ?1 AND key = ?2 \
                     ORDER BY version DESC LIMIT 1",
                )
                .map_err(&e)?,
            ins: conn
                .prepare_cached(&format!(
                    "INSERT INTO facts ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ))
                .map_err(&e)?,
            target,
            txn,
            sys,
            hashes: Vec::with_capacity(capacity),
        })
    }

    /// Checks `f` against the record's current version and writes the next.
    fn write(&mut self, f: &NewFact<'_>) -> Result<(), StoreError> {
        let e = db_err(self.target);
        let current: Option<(i64, bool)> = self
            .cur
            .query_row(params![f.kind, f.key], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)? != 0))
            })
            .optional()
            .map_err(&e)?;
        f.check(current)?;
        let version = current.map_or(1, |(n, _)| n + 1);
        self.ins
            .execute(params![
                f.kind,
                f.key,
                version,
                self.txn,
                self.sys,
                f.retract as i64,
                f.body,
                f.valid_from,
                f.valid_to,
                f.recorded_at,
                f.lot,
            ])
            .map_err(&e)?;
        self.hashes.push(f.row(version, self.txn, self.sys).hash());
        Ok(())
    }
}

impl PutOne for FactWriter<'_> {
    fn put_one(&mut self, change: Change) -> Result<(), StoreError> {
        self.write(&NewFact::of_change(&change))
    }
}

/// Appends the transaction's audit entry (the digest of `hashes`) and
/// `events` in the open transaction, if the database has a log; the
/// entries logged and the log's new state.
fn log_txn(
    tx: &rusqlite::Transaction<'_>,
    target: &str,
    cached: Option<AuditState>,
    txn: &TxnInfo,
    hashes: Vec<enduse_audit::Hash>,
    events: &[enduse_audit::Entry],
) -> Result<(Option<Logged>, Option<AuditState>), StoreError> {
    if !audit_store::sqlite::has_log(tx, target)? {
        if !events.is_empty() {
            return Err(no_log(target));
        }
        return Ok((None, None));
    }
    let mut st = audit_store::sqlite::sync(tx, target, cached)?;
    let rows = hashes.len() as u64;
    let mut entries = vec![audit_store::txn_entry(
        txn,
        rows,
        &audit_store::txn_digest(hashes),
    )];
    entries.extend(events.iter().cloned());
    let logged = audit_store::sqlite::append(tx, target, &mut st, &entries)?;
    Ok((Some(logged), Some(st)))
}

/// The error of an audit operation on a database older than the log.
pub(crate) fn no_log(target: &str) -> StoreError {
    StoreError::Usage(format!(
        "`{target}` has no audit log: it predates schema version {AUDIT_VERSION}; open it for writing with this enduse to upgrade it"
    ))
}

impl SqliteStore {
    fn need_log(&self) -> Result<(), StoreError> {
        if audit_store::sqlite::has_log(&self.conn, &self.target)? {
            Ok(())
        } else {
            Err(no_log(&self.target))
        }
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
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
        // IMMEDIATE takes the write lock now: writers queue here, and the
        // version checks below see every earlier commit.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        let last: Option<i64> = tx
            .query_row("SELECT max(at) FROM txns", [], |r| r.get(0))
            .map_err(&e)?;
        let at = next_instant(last.map(from_micros));
        let written = (changes.len() + workflow.len()) as i64;
        tx.execute(
            "INSERT INTO txns (at, note, changes) VALUES (?1, ?2, ?3)",
            params![at.timestamp_micros(), note, written],
        )
        .map_err(&e)?;
        let id = tx.last_insert_rowid();
        let sys = at.timestamp_micros();
        let hashes = {
            let mut w = FactWriter::new(&tx, &target, id, sys, changes.len() + workflow.len())?;
            let total = changes.len() as u64;
            for (i, c) in changes.iter().enumerate() {
                w.write(&NewFact::of_change(c))?;
                if i % 10_000 == 0 {
                    progress(i as u64, total);
                }
            }
            progress(total, total);
            for c in workflow {
                w.write(&NewFact::of_workflow(c))?;
            }
            w.hashes
        };
        let txn = TxnInfo {
            id,
            at,
            note: note.to_owned(),
            changes: written,
        };
        let (log, state) = log_txn(&tx, &target, cached, &txn, hashes, events)?;
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        // The transaction's row says how many changes it made, which is
        // known only at the end, and `txns` rows are never updated: the row
        // is inserted last, so the facts' reference to it is checked at the
        // commit (SQLite turns this off again at the end of the transaction).
        tx.execute_batch("PRAGMA defer_foreign_keys = ON")
            .map_err(&e)?;
        let last: Option<i64> = tx
            .query_row("SELECT max(at) FROM txns", [], |r| r.get(0))
            .map_err(&e)?;
        // The number the row would get from `INSERT` (the largest plus
        // one: rows are never deleted), as `write_with` gets it.
        let id: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) + 1 FROM txns", [], |r| {
                r.get(0)
            })
            .map_err(&e)?;
        let at = next_instant(last.map(from_micros));
        let (count, hashes) = {
            let mut w = FactWriter::new(&tx, &target, id, at.timestamp_micros(), 0)?;
            match feed_through(&mut w, feed)? {
                Some(n) => (n, w.hashes),
                None => return Ok(None),
            }
        };
        let txn = TxnInfo {
            id,
            at,
            note: note.to_owned(),
            changes: count as i64,
        };
        tx.execute(
            "INSERT INTO txns (id, at, note, changes) VALUES (?1, ?2, ?3, ?4)",
            params![id, at.timestamp_micros(), note, txn.changes],
        )
        .map_err(&e)?;
        let (_, state) = log_txn(&tx, &target, cached, &txn, hashes, &[])?;
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
        let e = db_err(&self.target);
        let bound = txn.unwrap_or(i64::MAX);
        let name = kind.map(|k| k.as_str());
        // Both orders are the primary key's (BINARY collation: bytewise),
        // so SQLite walks the index and never sorts or holds the rows.
        let (sql, args): (String, Vec<&dyn rusqlite::ToSql>) = match &name {
            Some(k) => (
                format!(
                    "SELECT {COLS} FROM facts WHERE kind = ?1 AND txn <= ?2 ORDER BY key, version"
                ),
                vec![k, &bound],
            ),
            None => (
                format!(
                    "SELECT {COLS} FROM facts WHERE txn <= ?1 \
                     AND kind NOT IN ({WORKFLOW_KINDS_SQL}) ORDER BY kind, key, version"
                ),
                vec![&bound],
            ),
        };
        let mut st = self.conn.prepare(&sql).map_err(&e)?;
        let rows = st
            .query_map(args.as_slice(), row_version)
            .map_err(&e)?
            .map(|r| r.map_err(&e));
        crate::model::each_last_of_runs(rows, each)
    }

    fn workflow_heads(&mut self, kind: WorkflowKind) -> Result<Vec<WorkflowVersion>, StoreError> {
        let e = db_err(&self.target);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM facts WHERE kind = ?1 ORDER BY key, version"
            ))
            .map_err(&e)?;
        let rows = st
            .query_map([kind.as_str()], row_workflow)
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e)?;
        Ok(crate::model::last_workflow_versions(rows))
    }

    fn workflow_history(
        &mut self,
        kind: WorkflowKind,
        key: &str,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        let e = db_err(&self.target);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM facts WHERE kind = ?1 AND key = ?2 ORDER BY version"
            ))
            .map_err(&e)?;
        let rows = st
            .query_map(params![kind.as_str(), key], row_workflow)
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e);
        rows
    }

    fn register_txn_at(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Option<i64>, StoreError> {
        let Some(t) = as_of else {
            return self.latest_register_txn();
        };
        self.conn
            .query_row(
                &format!(
                    "SELECT txn FROM facts WHERE kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                     AND txn <= (SELECT max(id) FROM txns WHERE at <= ?1) \
                     ORDER BY txn DESC LIMIT 1"
                ),
                [t.timestamp_micros()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err(&self.target))
    }

    fn image(&mut self, txn: i64) -> Result<Option<Vec<u8>>, StoreError> {
        if self.read_version()?.unwrap_or(0) < IMAGE_VERSION {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT image FROM register_images WHERE txn = ?1",
                [txn],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err(&self.target))
    }

    fn put_image(&mut self, txn: i64, image: &[u8], check: ImageCheck) -> Result<bool, StoreError> {
        let target = self.target.clone();
        let e = db_err(&target);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        if let ImageCheck::After(base) = check {
            let before: Option<i64> = tx
                .query_row(
                    &format!(
                        "SELECT txn FROM facts WHERE kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                         AND txn < ?1 ORDER BY txn DESC LIMIT 1"
                    ),
                    [txn],
                    |r| r.get(0),
                )
                .optional()
                .map_err(&e)?;
            if before != base {
                return Ok(false);
            }
        }
        // The image is written into a blob of its size a piece at a time:
        // bound as a parameter, SQLite would first copy the whole of it
        // (135 MB at a million transfers) at the peak of an import.
        tx.execute(
            "INSERT OR REPLACE INTO register_images (txn, image) VALUES (?1, zeroblob(?2))",
            params![txn, image.len() as i64],
        )
        .map_err(&e)?;
        let row = tx.last_insert_rowid();
        {
            let mut blob = tx
                .blob_open(
                    rusqlite::DatabaseName::Main,
                    "register_images",
                    "image",
                    row,
                    false,
                )
                .map_err(&e)?;
            for (i, piece) in image.chunks(1 << 20).enumerate() {
                blob.write_at(piece, i << 20).map_err(&e)?;
            }
        }
        tx.commit().map_err(&e)?;
        Ok(true)
    }

    fn kind_heads(&mut self, kind: RecordKind, txn: i64) -> Result<Vec<Version>, StoreError> {
        let e = db_err(&self.target);
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLS} FROM facts WHERE kind = ?1 AND txn <= ?2 ORDER BY key, version"
            ))
            .map_err(&e)?;
        let rows = stmt
            .query_map(params![kind.as_str(), txn], row_version)
            .map_err(&e)?;
        crate::model::last_of_runs(rows).map_err(&e)
    }

    fn latest_register_txn(&mut self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT txn FROM facts WHERE kind NOT IN ({WORKFLOW_KINDS_SQL}) \
                     ORDER BY txn DESC LIMIT 1"
                ),
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err(&self.target))
    }

    fn audit_append(&mut self, entries: &[enduse_audit::Entry]) -> Result<Logged, StoreError> {
        self.audit_write(|tx, target, state| {
            audit_store::sqlite::append(tx, target, state, entries)
        })
    }

    fn audit_append_unsigned(
        &mut self,
        entries: &[enduse_audit::Entry],
    ) -> Result<u64, StoreError> {
        self.audit_write(|tx, target, state| {
            audit_store::sqlite::append_rows(tx, target, state, entries)
        })
    }

    fn audit_size(&mut self) -> Result<u64, StoreError> {
        self.need_log()?;
        audit_store::sqlite::size(&self.conn, &self.target)
    }

    fn audit_entries(
        &mut self,
        from: u64,
        to: u64,
    ) -> Result<Vec<enduse_audit::StoredEntry>, StoreError> {
        self.need_log()?;
        audit_store::sqlite::entries(&self.conn, &self.target, from, to)
    }

    fn audit_checkpoints(&mut self) -> Result<Vec<enduse_audit::SignedCheckpoint>, StoreError> {
        self.need_log()?;
        audit_store::sqlite::checkpoints(&self.conn, &self.target)
    }

    fn audit_key(&mut self) -> Result<Option<String>, StoreError> {
        audit_store::sqlite::key(&self.conn, &self.target)
    }

    fn fact_digests(&mut self) -> Result<Vec<TxnDigest>, StoreError> {
        audit_store::sqlite::fact_digests(&self.conn, &self.target)
    }

    fn heads(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Vec<Version>, StoreError> {
        let e = db_err(&self.target);
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLS} FROM facts WHERE sys_from <= ?1 \
                 AND kind NOT IN ({WORKFLOW_KINDS_SQL}) ORDER BY kind, key, version"
            ))
            .map_err(&e)?;
        let rows = st
            .query_map(
                [as_of.map_or(i64::MAX, |t| t.timestamp_micros())],
                row_version,
            )
            .map_err(&e)?;
        crate::model::last_of_runs(rows).map_err(&e)
    }

    fn history(&mut self, kind: RecordKind, key: &str) -> Result<Vec<Version>, StoreError> {
        let e = db_err(&self.target);
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLS} FROM facts WHERE kind = ?1 AND key = ?2 ORDER BY version"
            ))
            .map_err(&e)?;
        let rows = st
            .query_map(params![kind.as_str(), key], row_version)
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e);
        rows
    }

    fn lot_chain(
        &mut self,
        lot: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<Version>, StoreError> {
        let e = db_err(&self.target);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM facts WHERE (kind, key) IN \
                 (SELECT kind, key FROM facts WHERE lot = ?1) AND sys_from <= ?2"
            ))
            .map_err(&e)?;
        let rows = st
            .query_map(
                params![lot, as_of.map_or(i64::MAX, |t| t.timestamp_micros())],
                row_version,
            )
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e)?;
        Ok(crate::model::chain_of(latest(rows, None), lot))
    }

    fn transactions(&mut self) -> Result<Vec<TxnInfo>, StoreError> {
        let e = db_err(&self.target);
        let mut st = self
            .conn
            .prepare("SELECT id, at, note, changes FROM txns ORDER BY id")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok(TxnInfo {
                    id: r.get(0)?,
                    at: from_micros(r.get(1)?),
                    note: r.get(2)?,
                    changes: r.get(3)?,
                })
            })
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e);
        rows
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(db_err(&self.target))
    }
}
