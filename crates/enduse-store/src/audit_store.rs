//! The audit log kept beside the register, in the same database: entry rows,
//! signed checkpoints and the signing key, in append-only tables (schema
//! version 5). Every transaction of the store appends an entry naming it and
//! the digest of its fact rows, in the same database transaction, so that a
//! fact row edited, deleted or moved afterwards no longer matches the log.
//!
//! The digest of a transaction's fact rows ([`txn_digest`]) is independent
//! of the order in which rows are read: each row is hashed
//! ([`FactRow::hash`]), the hashes are sorted and hashed together.

use crate::model::{Logged, StoreError, TxnDigest, TxnInfo, Version, WorkflowVersion};
use chrono::{DateTime, SecondsFormat, Utc};
use enduse_audit::{node_hash, Entry, Hash, NoteSigner, SignedCheckpoint, StoredEntry, EMPTY_ROOT};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The first bytes hashed for a fact row.
const ROW_FORMAT: &[u8] = b"enduse fact row v1\n";
/// The first bytes hashed for a transaction's rows.
const TXN_FORMAT: &[u8] = b"enduse txn facts v1\n";

/// One fact row, as the `facts` table holds it.
#[derive(Debug, Clone, Copy)]
pub struct FactRow<'a> {
    /// Record kind, as stored.
    pub kind: &'a str,
    /// Record key.
    pub key: &'a str,
    /// Version number.
    pub version: i64,
    /// Transaction id.
    pub txn: i64,
    /// System time, in microseconds since the epoch.
    pub sys_from: i64,
    /// Whether it is a retraction.
    pub retracted: bool,
    /// Body.
    pub body: &'a str,
    /// Valid from.
    pub valid_from: Option<&'a str>,
    /// Valid to.
    pub valid_to: Option<&'a str>,
    /// Public from.
    pub recorded_at: Option<&'a str>,
    /// Lot.
    pub lot: Option<&'a str>,
}

fn put_text(h: &mut Sha256, s: Option<&str>) {
    match s {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

impl<'a> FactRow<'a> {
    /// SHA-256 of every column, each length-prefixed (an absent value is
    /// told from an empty one).
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(ROW_FORMAT);
        put_text(&mut h, Some(self.kind));
        put_text(&mut h, Some(self.key));
        h.update(self.version.to_be_bytes());
        h.update(self.txn.to_be_bytes());
        h.update(self.sys_from.to_be_bytes());
        h.update([u8::from(self.retracted)]);
        put_text(&mut h, Some(self.body));
        put_text(&mut h, self.valid_from);
        put_text(&mut h, self.valid_to);
        put_text(&mut h, self.recorded_at);
        put_text(&mut h, self.lot);
        Hash(h.finalize().into())
    }

    /// The row of a register version.
    pub fn of_version(v: &'a Version) -> Self {
        FactRow {
            kind: v.record.kind.as_str(),
            key: &v.record.key,
            version: v.version,
            txn: v.txn,
            sys_from: v.sys_from.timestamp_micros(),
            retracted: v.retracted,
            body: &v.record.body,
            valid_from: v.record.valid_from.as_deref(),
            valid_to: v.record.valid_to.as_deref(),
            recorded_at: v.record.recorded_at.as_deref(),
            lot: v.record.lot.as_deref(),
        }
    }

    /// The row of a workflow version.
    pub fn of_workflow(v: &'a WorkflowVersion) -> Self {
        FactRow {
            kind: v.record.kind.as_str(),
            key: &v.record.key,
            version: v.version,
            txn: v.txn,
            sys_from: v.sys_from.timestamp_micros(),
            retracted: v.retracted,
            body: &v.record.body,
            valid_from: v.record.valid_from.as_deref(),
            valid_to: v.record.valid_to.as_deref(),
            recorded_at: v.record.recorded_at.as_deref(),
            lot: None,
        }
    }
}

/// The digest of a transaction's fact rows, from their row hashes in any
/// order.
pub fn txn_digest(mut rows: Vec<Hash>) -> Hash {
    rows.sort_unstable();
    let mut h = Sha256::new();
    h.update(TXN_FORMAT);
    h.update((rows.len() as u64).to_be_bytes());
    for r in &rows {
        h.update(r.0);
    }
    Hash(h.finalize().into())
}

/// An instant as the audit log writes it: RFC 3339, microseconds, UTC.
pub fn audit_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The audit entry of a register transaction: `{"at", "changes",
/// "facts_sha256", "note", "rows", "txn"}`.
pub fn txn_entry(txn: &TxnInfo, rows: u64, digest: &Hash) -> Entry {
    Entry::register_txn(&serde_json::json!({
        "txn": txn.id,
        "at": audit_instant(txn.at),
        "note": txn.note,
        "changes": txn.changes,
        "rows": rows,
        "facts_sha256": digest.to_hex(),
    }))
}

/// The entry a transaction should have, as the tables hold it now.
pub fn expected_txn_entry(d: &TxnDigest) -> Entry {
    txn_entry(&d.txn, d.rows, &d.digest)
}

/// The right edge of the Merkle tree (the complete subtrees of the binary
/// decomposition of its size): enough to append and to compute the head.
/// Stored with each checkpoint, so that a writer need not read every leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Edge {
    size: u64,
    peaks: Vec<Hash>,
}

impl Edge {
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            match self.peaks.pop() {
                Some(left) => hash = node_hash(&left, &hash),
                None => break,
            }
            s >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    pub(crate) fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        match iter.next() {
            None => EMPTY_ROOT,
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// `hex,hex,...`
    pub(crate) fn peaks_text(&self) -> String {
        self.peaks
            .iter()
            .map(Hash::to_hex)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The edge of `size` leaves from stored peaks; `None` if they cannot be
    /// (the number of peaks is the number of set bits of the size).
    pub(crate) fn from_stored(size: u64, peaks: &str) -> Option<Edge> {
        let peaks: Vec<Hash> = if peaks.is_empty() {
            Vec::new()
        } else {
            peaks
                .split(',')
                .map(|p| Hash::from_hex(p).ok())
                .collect::<Option<_>>()?
        };
        (peaks.len() == size.count_ones() as usize).then_some(Edge { size, peaks })
    }
}

/// What a writer keeps of the log between writes: the key and the edge.
pub(crate) struct AuditState {
    pub(crate) signer: NoteSigner,
    pub(crate) edge: Edge,
}

impl AuditState {
    /// The rows of `entries` appended at the end of the edge.
    pub(crate) fn append(&mut self, entries: &[Entry]) -> Vec<StoredEntry> {
        entries
            .iter()
            .map(|e| {
                let row = e.stored(self.edge.size());
                self.edge.push(row.hash);
                row
            })
            .collect()
    }

    /// The signed checkpoint of the current edge.
    pub(crate) fn checkpoint(&self, target: &str) -> Result<SignedCheckpoint, StoreError> {
        enduse_audit::Checkpoint::new(self.signer.name(), self.edge.size(), self.edge.root())
            .and_then(|c| c.sign(&self.signer))
            .map_err(|e| StoreError::Database {
                target: target.to_owned(),
                message: format!("cannot sign the audit checkpoint: {e}"),
            })
    }
}

/// A new signing key, from the operating system's random numbers, named
/// `enduse-audit/<16 hex digits>` so that each database's log has an origin
/// of its own.
pub(crate) fn new_signer(target: &str) -> Result<NoteSigner, StoreError> {
    use enduse_audit::rand_core::RngCore;
    let mut rng = enduse_audit::rand_core::OsRng;
    let mut id = [0u8; 8];
    rng.try_fill_bytes(&mut id)
        .map_err(|e| StoreError::Database {
            target: target.to_owned(),
            message: format!("no random numbers for the audit key: {e}"),
        })?;
    let name = format!(
        "enduse-audit/{}",
        Hash::digest(&id).to_hex().get(..16).unwrap_or("0")
    );
    let mut seed = [0u8; 32];
    rng.try_fill_bytes(&mut seed)
        .map_err(|e| StoreError::Database {
            target: target.to_owned(),
            message: format!("no random numbers for the audit key: {e}"),
        })?;
    NoteSigner::from_seed(&name, seed).map_err(|e| StoreError::Database {
        target: target.to_owned(),
        message: format!("cannot make the audit key: {e}"),
    })
}

/// The signer stored in a database.
pub(crate) fn stored_signer(target: &str, text: &str) -> Result<NoteSigner, StoreError> {
    NoteSigner::from_key_string(text).map_err(|e| StoreError::Database {
        target: target.to_owned(),
        message: format!("the stored audit key cannot be read: {e}"),
    })
}

/// Groups fact rows by transaction and joins the transactions' rows: the
/// digests [`crate::Store::fact_digests`] returns.
pub(crate) fn digests(txns: Vec<TxnInfo>, rows: BTreeMap<i64, Vec<Hash>>) -> Vec<TxnDigest> {
    let mut rows = rows;
    let mut out: Vec<TxnDigest> = txns
        .into_iter()
        .map(|t| {
            let hashes = rows.remove(&t.id).unwrap_or_default();
            TxnDigest {
                rows: hashes.len() as u64,
                digest: txn_digest(hashes),
                txn: t,
            }
        })
        .collect();
    // Fact rows of a transaction that has no row of its own.
    for (id, hashes) in rows {
        out.push(TxnDigest {
            txn: TxnInfo {
                id,
                at: DateTime::<Utc>::UNIX_EPOCH,
                note: String::new(),
                changes: 0,
            },
            rows: hashes.len() as u64,
            digest: txn_digest(hashes),
        });
    }
    out.sort_by_key(|d| d.txn.id);
    out
}

/// The hash stored in a row, or the zero hash where it is not one (the row
/// then fails verification as edited).
pub(crate) fn stored_hash(s: &str) -> Hash {
    Hash::from_hex(s).unwrap_or_default()
}

/// What an append reports.
pub(crate) fn logged(first: u64, state: &AuditState, checkpoint: &SignedCheckpoint) -> Logged {
    Logged {
        first,
        size: state.edge.size(),
        checkpoint: checkpoint.as_str().to_owned(),
    }
}

// ---------------------------------------------------------------------------
// SQLite.

pub(crate) mod sqlite {
    use super::*;
    use rusqlite::{params, Connection, OptionalExtension};

    fn e(target: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |err| StoreError::Database {
            target: target.to_owned(),
            message: err.to_string().to_lowercase(),
        }
    }

    /// The state of the log, read or brought up to date inside a write
    /// transaction (which holds the lock: nobody appends meanwhile).
    pub(crate) fn sync(
        conn: &Connection,
        target: &str,
        cached: Option<AuditState>,
    ) -> Result<AuditState, StoreError> {
        let e = e(target);
        let mut state = match cached {
            Some(s) => s,
            None => {
                let key: String = conn
                    .query_row("SELECT signer FROM audit_key WHERE id = 1", [], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(&e)?
                    .ok_or_else(|| StoreError::Database {
                        target: target.to_owned(),
                        message: "the audit log has no key".into(),
                    })?;
                AuditState {
                    signer: stored_signer(target, &key)?,
                    edge: Edge::default(),
                }
            }
        };
        let next: i64 = conn
            .prepare_cached("SELECT coalesce(max(idx) + 1, 0) FROM audit_entries")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(&e)?;
        let next = next as u64;
        if state.edge.size() == next {
            return Ok(state);
        }
        if state.edge.size() > next {
            state.edge = Edge::default();
        }
        let stored: Option<(i64, String)> = conn
            .query_row(
                "SELECT size, peaks FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(&e)?;
        if let Some((size, peaks)) = stored {
            let size = size as u64;
            if size <= next && size > state.edge.size() {
                if let Some(edge) = Edge::from_stored(size, &peaks) {
                    state.edge = edge;
                }
            }
        }
        let mut st = conn
            .prepare("SELECT hash FROM audit_entries WHERE idx >= ?1 ORDER BY idx")
            .map_err(&e)?;
        let hashes = st
            .query_map([state.edge.size() as i64], |r| r.get::<_, String>(0))
            .map_err(&e)?;
        for h in hashes {
            state.edge.push(stored_hash(&h.map_err(&e)?));
        }
        Ok(state)
    }

    /// Appends `entries` inside the caller's transaction, without a
    /// checkpoint; the index of the first.
    pub(crate) fn append_rows(
        conn: &Connection,
        target: &str,
        state: &mut AuditState,
        entries: &[Entry],
    ) -> Result<u64, StoreError> {
        let e = e(target);
        let first = state.edge.size();
        let mut ins = conn
            .prepare_cached(
                "INSERT INTO audit_entries (idx, kind, body, hash) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(&e)?;
        // Straight from the entries: `StoredEntry` rows would copy each body.
        for (i, entry) in entries.iter().enumerate() {
            let index = first + i as u64;
            let hash = entry.leaf_hash(index);
            ins.execute(params![
                index as i64,
                entry.kind().as_str(),
                entry.body(),
                hash.to_hex()
            ])
            .map_err(&e)?;
            state.edge.push(hash);
        }
        Ok(first)
    }

    /// Appends `entries` and a signed checkpoint inside the caller's
    /// transaction.
    pub(crate) fn append(
        conn: &Connection,
        target: &str,
        state: &mut AuditState,
        entries: &[Entry],
    ) -> Result<Logged, StoreError> {
        let e = e(target);
        let first = append_rows(conn, target, state, entries)?;
        let cp = state.checkpoint(target)?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO audit_checkpoints (size, note, peaks) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut st| {
            st.execute(params![
                state.edge.size() as i64,
                cp.as_str(),
                state.edge.peaks_text()
            ])
        })
        .map_err(&e)?;
        Ok(logged(first, state, &cp))
    }

    /// Whether the database has the audit tables (schema version 5).
    pub(crate) fn has_log(conn: &Connection, target: &str) -> Result<bool, StoreError> {
        let n: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_entries'",
            )
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(e(target))?;
        Ok(n > 0)
    }

    /// Run by migration 5, in its transaction: creates the key, and logs
    /// every transaction the database already holds.
    pub(crate) fn setup(conn: &Connection, target: &str) -> Result<(), StoreError> {
        let e = e(target);
        let signer = new_signer(target)?;
        conn.execute(
            "INSERT INTO audit_key (id, signer, verifier) VALUES (1, ?1, ?2)",
            params![signer.key_string(), signer.verifier().to_string()],
        )
        .map_err(&e)?;
        let entries: Vec<Entry> = fact_digests(conn, target)?
            .iter()
            .map(expected_txn_entry)
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let mut state = AuditState {
            signer,
            edge: Edge::default(),
        };
        append(conn, target, &mut state, &entries)?;
        Ok(())
    }

    pub(crate) fn size(conn: &Connection, target: &str) -> Result<u64, StoreError> {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM audit_entries", [], |r| r.get(0))
            .map_err(e(target))?;
        Ok(n as u64)
    }

    pub(crate) fn entries(
        conn: &Connection,
        target: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let e = e(target);
        let mut st = conn
            .prepare(
                "SELECT idx, kind, body, hash FROM audit_entries \
                 WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(&e)?;
        let rows = st
            .query_map(
                params![
                    i64::try_from(from).unwrap_or(i64::MAX),
                    i64::try_from(to).unwrap_or(i64::MAX)
                ],
                |r| {
                    Ok(StoredEntry {
                        index: r.get::<_, i64>(0)? as u64,
                        kind: r.get(1)?,
                        body: r.get(2)?,
                        hash: stored_hash(&r.get::<_, String>(3)?),
                    })
                },
            )
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e);
        rows
    }

    pub(crate) fn checkpoints(
        conn: &Connection,
        target: &str,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        let e = e(target);
        let mut st = conn
            .prepare("SELECT note FROM audit_checkpoints ORDER BY size")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(&e)?
            .map(|r| r.map(SignedCheckpoint::from_text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e);
        rows
    }

    pub(crate) fn key(conn: &Connection, target: &str) -> Result<Option<String>, StoreError> {
        if !has_log(conn, target)? {
            return Ok(None);
        }
        conn.query_row("SELECT verifier FROM audit_key WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(e(target))
    }

    pub(crate) fn fact_digests(
        conn: &Connection,
        target: &str,
    ) -> Result<Vec<TxnDigest>, StoreError> {
        let e = e(target);
        let mut st = conn
            .prepare("SELECT id, at, note, changes FROM txns ORDER BY id")
            .map_err(&e)?;
        let txns = st
            .query_map([], |r| {
                Ok(TxnInfo {
                    id: r.get(0)?,
                    at: crate::model::from_micros(r.get(1)?),
                    note: r.get(2)?,
                    changes: r.get(3)?,
                })
            })
            .map_err(&e)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&e)?;
        let mut rows: BTreeMap<i64, Vec<Hash>> = BTreeMap::new();
        let mut st = conn
            .prepare(
                "SELECT kind, key, version, txn, sys_from, retracted, body, valid_from, \
                 valid_to, recorded_at, lot FROM facts",
            )
            .map_err(&e)?;
        let mut q = st.query([]).map_err(&e)?;
        while let Some(r) = q.next().map_err(&e)? {
            let kind: String = r.get(0).map_err(&e)?;
            let key: String = r.get(1).map_err(&e)?;
            let body: String = r.get(6).map_err(&e)?;
            let vf: Option<String> = r.get(7).map_err(&e)?;
            let vt: Option<String> = r.get(8).map_err(&e)?;
            let ra: Option<String> = r.get(9).map_err(&e)?;
            let lot: Option<String> = r.get(10).map_err(&e)?;
            let txn: i64 = r.get(3).map_err(&e)?;
            let row = FactRow {
                kind: &kind,
                key: &key,
                version: r.get(2).map_err(&e)?,
                txn,
                sys_from: r.get(4).map_err(&e)?,
                retracted: r.get::<_, i64>(5).map_err(&e)? != 0,
                body: &body,
                valid_from: vf.as_deref(),
                valid_to: vt.as_deref(),
                recorded_at: ra.as_deref(),
                lot: lot.as_deref(),
            };
            rows.entry(txn).or_default().push(row.hash());
        }
        Ok(digests(txns, rows))
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL.

pub(crate) mod pg {
    use super::*;
    use postgres::GenericClient;

    fn e(target: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
        move |err| {
            let message = err
                .as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| err.to_string());
            StoreError::Database {
                target: target.to_owned(),
                message: message.to_lowercase(),
            }
        }
    }

    /// See [`super::sqlite::sync`]; the caller holds the write lock.
    pub(crate) fn sync<C: GenericClient>(
        c: &mut C,
        target: &str,
        cached: Option<AuditState>,
    ) -> Result<AuditState, StoreError> {
        let e = e(target);
        let mut state = match cached {
            Some(s) => s,
            None => {
                let row = c
                    .query_opt("SELECT signer FROM audit_key WHERE id = 1", &[])
                    .map_err(&e)?
                    .ok_or_else(|| StoreError::Database {
                        target: target.to_owned(),
                        message: "the audit log has no key".into(),
                    })?;
                let key: String = row.get(0);
                AuditState {
                    signer: stored_signer(target, &key)?,
                    edge: Edge::default(),
                }
            }
        };
        let next: i64 = c
            .query_one("SELECT coalesce(max(idx) + 1, 0) FROM audit_entries", &[])
            .map_err(&e)?
            .get(0);
        let next = next as u64;
        if state.edge.size() == next {
            return Ok(state);
        }
        if state.edge.size() > next {
            state.edge = Edge::default();
        }
        if let Some(row) = c
            .query_opt(
                "SELECT size, peaks FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                &[],
            )
            .map_err(&e)?
        {
            let size: i64 = row.get(0);
            let peaks: String = row.get(1);
            let size = size as u64;
            if size <= next && size > state.edge.size() {
                if let Some(edge) = Edge::from_stored(size, &peaks) {
                    state.edge = edge;
                }
            }
        }
        let from = state.edge.size() as i64;
        for row in c
            .query(
                "SELECT hash FROM audit_entries WHERE idx >= $1 ORDER BY idx",
                &[&from],
            )
            .map_err(&e)?
        {
            let h: String = row.get(0);
            state.edge.push(stored_hash(&h));
        }
        Ok(state)
    }

    /// Appends `entries` inside the caller's transaction, without a
    /// checkpoint; the index of the first.
    pub(crate) fn append_rows<C: GenericClient>(
        c: &mut C,
        target: &str,
        state: &mut AuditState,
        entries: &[Entry],
    ) -> Result<u64, StoreError> {
        let first = state.edge.size();
        if entries.is_empty() {
            return Ok(first);
        }
        let rows = state.append(entries);
        let idx: Vec<i64> = rows.iter().map(|r| r.index as i64).collect();
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
        let hashes: Vec<String> = rows.iter().map(|r| r.hash.to_hex()).collect();
        c.execute(
            "INSERT INTO audit_entries (idx, kind, body, hash) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])",
            &[&idx, &kinds, &bodies, &hashes],
        )
        .map_err(e(target))?;
        Ok(first)
    }

    /// Appends `entries` and a signed checkpoint inside the caller's
    /// transaction.
    pub(crate) fn append<C: GenericClient>(
        c: &mut C,
        target: &str,
        state: &mut AuditState,
        entries: &[Entry],
    ) -> Result<Logged, StoreError> {
        let e = e(target);
        let first = append_rows(c, target, state, entries)?;
        let cp = state.checkpoint(target)?;
        c.execute(
            "INSERT INTO audit_checkpoints (size, note, peaks) VALUES ($1, $2, $3) \
             ON CONFLICT (size) DO NOTHING",
            &[
                &(state.edge.size() as i64),
                &cp.as_str(),
                &state.edge.peaks_text(),
            ],
        )
        .map_err(&e)?;
        Ok(logged(first, state, &cp))
    }

    pub(crate) fn has_log<C: GenericClient>(c: &mut C, target: &str) -> Result<bool, StoreError> {
        Ok(
            c.query_one("SELECT to_regclass('audit_entries') IS NOT NULL", &[])
                .map_err(e(target))?
                .get(0),
        )
    }

    /// Run by migration 5, in its transaction: see [`super::sqlite::setup`].
    pub(crate) fn setup<C: GenericClient>(c: &mut C, target: &str) -> Result<(), StoreError> {
        let signer = new_signer(target)?;
        c.execute(
            "INSERT INTO audit_key (id, signer, verifier) VALUES (1, $1, $2)",
            &[&signer.key_string(), &signer.verifier().to_string()],
        )
        .map_err(e(target))?;
        let entries: Vec<Entry> = fact_digests(c, target)?
            .iter()
            .map(expected_txn_entry)
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let mut state = AuditState {
            signer,
            edge: Edge::default(),
        };
        append(c, target, &mut state, &entries)?;
        Ok(())
    }

    pub(crate) fn size<C: GenericClient>(c: &mut C, target: &str) -> Result<u64, StoreError> {
        let n: i64 = c
            .query_one("SELECT count(*) FROM audit_entries", &[])
            .map_err(e(target))?
            .get(0);
        Ok(n as u64)
    }

    pub(crate) fn entries<C: GenericClient>(
        c: &mut C,
        target: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let to = i64::try_from(to).unwrap_or(i64::MAX);
        let rows = c
            .query(
                "SELECT idx, kind, body, hash FROM audit_entries \
                 WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&from, &to],
            )
            .map_err(e(target))?;
        Ok(rows
            .iter()
            .map(|r| {
                let idx: i64 = r.get(0);
                let hash: String = r.get(3);
                StoredEntry {
                    index: idx as u64,
                    kind: r.get(1),
                    body: r.get(2),
                    hash: stored_hash(&hash),
                }
            })
            .collect())
    }

    pub(crate) fn checkpoints<C: GenericClient>(
        c: &mut C,
        target: &str,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        let rows = c
            .query("SELECT note FROM audit_checkpoints ORDER BY size", &[])
            .map_err(e(target))?;
        Ok(rows
            .iter()
            .map(|r| SignedCheckpoint::from_text(r.get::<_, String>(0)))
            .collect())
    }

    pub(crate) fn key<C: GenericClient>(
        c: &mut C,
        target: &str,
    ) -> Result<Option<String>, StoreError> {
        if !has_log(c, target)? {
            return Ok(None);
        }
        Ok(
            c.query_opt("SELECT verifier FROM audit_key WHERE id = 1", &[])
                .map_err(e(target))?
                .map(|r| r.get(0)),
        )
    }

    pub(crate) fn fact_digests<C: GenericClient>(
        c: &mut C,
        target: &str,
    ) -> Result<Vec<TxnDigest>, StoreError> {
        let e = e(target);
        let txns: Vec<TxnInfo> = c
            .query("SELECT id, at, note, changes FROM txns ORDER BY id", &[])
            .map_err(&e)?
            .iter()
            .map(|r| TxnInfo {
                id: r.get(0),
                at: crate::model::from_micros(r.get(1)),
                note: r.get(2),
                changes: r.get(3),
            })
            .collect();
        let mut rows: BTreeMap<i64, Vec<Hash>> = BTreeMap::new();
        for r in c
            .query(
                "SELECT kind, key, version, txn, sys_from, retracted, body, valid_from, \
                 valid_to, recorded_at, lot FROM facts",
                &[],
            )
            .map_err(&e)?
        {
            let kind: String = r.get(0);
            let key: String = r.get(1);
            let body: String = r.get(6);
            let vf: Option<String> = r.get(7);
            let vt: Option<String> = r.get(8);
            let ra: Option<String> = r.get(9);
            let lot: Option<String> = r.get(10);
            let txn: i64 = r.get(3);
            let row = FactRow {
                kind: &kind,
                key: &key,
                version: r.get(2),
                txn,
                sys_from: r.get(4),
                retracted: r.get(5),
                body: &body,
                valid_from: vf.as_deref(),
                valid_to: vt.as_deref(),
                recorded_at: ra.as_deref(),
                lot: lot.as_deref(),
            };
            rows.entry(txn).or_default().push(row.hash());
        }
        Ok(digests(txns, rows))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_edge_computes_the_tree_head() {
        let leaves: Vec<Hash> = (0u8..37).map(|i| Hash::digest(&[i])).collect();
        let mut edge = Edge::default();
        for (i, l) in leaves.iter().enumerate() {
            edge.push(*l);
            let tree = enduse_audit::MerkleTree::from_leaf_hashes(leaves[..=i].iter().copied());
            assert_eq!(edge.root(), tree.root(), "size {}", i + 1);
            let back = Edge::from_stored(edge.size(), &edge.peaks_text()).unwrap();
            assert_eq!(back, edge);
        }
        assert!(Edge::from_stored(3, "").is_none());
        assert_eq!(Edge::default().root(), EMPTY_ROOT);
    }

    #[test]
    fn row_hashes_tell_absent_from_empty_and_digests_ignore_order() {
        let row = FactRow {
            kind: "party",
            key: "US",
            version: 1,
            txn: 1,
            sys_from: 5,
            retracted: false,
            body: "{}",
            valid_from: None,
            valid_to: None,
            recorded_at: None,
            lot: None,
        };
        let mut other = row;
        other.valid_from = Some("");
        assert_ne!(row.hash(), other.hash());
        let a = row.hash();
        let b = other.hash();
        assert_eq!(txn_digest(vec![a, b]), txn_digest(vec![b, a]));
        assert_ne!(txn_digest(vec![a]), txn_digest(vec![a, b]));
    }
}
