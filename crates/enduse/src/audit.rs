//! [`Audit`]: the tamper-evident log kept in the database beside the
//! register. Every transaction of the store is logged (with the digest of
//! its fact rows) in the transaction itself; a front end adds the decisions
//! it answers ([`Audit::append_decision`]); the workflow adds its events.
//! Each write ends with a checkpoint signed with the database's Ed25519 key.
//!
//! [`Audit::verify`] checks the whole log against its signed checkpoints
//! and against the `facts` and `txns` tables, and names the first bad entry;
//! [`verify_export`] does the same offline, from an [`Audit::export`] and a
//! trusted key (without the tables).

use crate::ask::Ask;
use crate::error::{cut, Error, ErrorKind, Result};
use crate::reports::CheckReport;
use enduse_audit::{
    verify_log, Entry, EntryKind, Hash, LogExport, MerkleTree, NoteVerifier, SignedCheckpoint,
    StoredEntry, VerifyError,
};
use enduse_store::{MemStore, PgStore, SqliteStore, Store, TxnDigest};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// What an append wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    /// The index of the first entry appended.
    pub first: u64,
    /// The size of the log after it.
    pub size: u64,
    /// The signed checkpoint of that size (a C2SP signed note).
    pub checkpoint: String,
}

impl From<enduse_store::Logged> for Appended {
    fn from(l: enduse_store::Logged) -> Self {
        Appended {
            first: l.first,
            size: l.size,
            checkpoint: l.checkpoint,
        }
    }
}

/// A signed checkpoint: the log's size and root, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointReport {
    /// The log's name (the key's name).
    pub origin: String,
    /// Entries covered.
    pub size: u64,
    /// The root hash, hexadecimal.
    pub root: String,
    /// The signed note, as served (`text/plain`).
    pub note: String,
    /// The verifier key (`name+id+base64`).
    pub key: String,
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryReport {
    /// Its index, from 0.
    pub index: u64,
    /// `decision`, `workflow` or `register_txn`.
    pub kind: String,
    /// Its body, as JSON.
    pub body: serde_json::Value,
    /// Its leaf hash (RFC 6962), hexadecimal.
    pub hash: String,
}

/// An inclusion proof of one entry in the tree of a given size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionReport {
    /// The entry.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The entry's leaf hash.
    pub leaf_hash: String,
    /// The root of the tree of that size.
    pub root: String,
    /// The audit path, from the leaf up.
    pub hashes: Vec<String>,
    /// The signed checkpoint of that size, where there is one.
    pub checkpoint: Option<String>,
}

/// A consistency proof between two sizes of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The outcome of [`Audit::verify`] or [`verify_export`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Whether everything checked.
    pub ok: bool,
    /// Entries in the log.
    pub entries: u64,
    /// Signed checkpoints.
    pub checkpoints: usize,
    /// The size of the largest checkpoint that verified.
    pub latest_checkpoint: Option<u64>,
    /// Entries after the largest checkpoint (their hashes were checked, but
    /// no signature covers them).
    pub unsigned_entries: u64,
    /// Register transactions checked against the `facts` table (none for
    /// an export).
    pub transactions: usize,
    /// The key the checkpoints were checked with.
    pub key: String,
    /// The first bad entry, where one can be named.
    pub first_bad_entry: Option<u64>,
    /// The register transaction concerned, where it is one.
    pub txn: Option<i64>,
    /// What is wrong, lowercase.
    pub problem: Option<String>,
}

impl VerifyReport {
    /// `Ok(self)` when the log verified; otherwise an error naming the
    /// first bad entry (code `enduse::audit::tampered`).
    pub fn into_result(self) -> Result<VerifyReport> {
        if self.ok {
            return Ok(self);
        }
        Err(Error::new(
            "enduse::audit::tampered",
            ErrorKind::Conflict,
            format!(
                "the audit log does not verify: {}",
                self.problem.as_deref().unwrap_or("unknown problem")
            ),
            Some(
                "the log or the register was changed outside enduse after it was logged; restore the database from a backup and compare it with an exported log".into(),
            ),
        ))
    }
}

/// The tamper-evident log of a database.
pub struct Audit {
    target: String,
    store: Box<dyn Store + Send>,
    tree: MerkleTree,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("target", &self.target)
            .field("backend", &self.store.backend())
            .finish()
    }
}

pub(crate) fn open_store(target: &str) -> Result<Box<dyn Store + Send>> {
    Ok(if target == "memory:" {
        Box::new(MemStore::new())
    } else {
        match enduse_store::sqlite_path(target) {
            Some(path) => Box::new(SqliteStore::open(Path::new(path))?),
            None => Box::new(PgStore::open(target)?),
        }
    })
}

fn no_log(target: &str) -> Error {
    Error::not_found(
        "enduse::audit::no_log",
        format!(
            "`{}` has no audit log: it was made by an older enduse",
            cut(target)
        ),
        "open it for writing once (any `enduse` command that writes, or `enduse serve`) to upgrade it",
    )
}

fn bad_key(what: &str, e: impl std::fmt::Display) -> Error {
    Error::bad_request(
        "enduse::audit::bad_key",
        format!("{what} is not a verifier key: {e}"),
        "a verifier key reads `NAME+ID+BASE64`, as `enduse audit key` prints it",
    )
}

impl Audit {
    /// Opens the database `target` (as [`crate::Register::open`] does:
    /// `memory:`, a SQLite file, created if missing, or PostgreSQL); an
    /// older database is migrated, and its audit key made.
    pub fn open(target: &str) -> Result<Audit> {
        Ok(Audit::from_store(target, open_store(target)?))
    }

    /// Opens the database for reading only (for `verify`, proofs, exports).
    pub fn open_read_only(target: &str) -> Result<Audit> {
        let store: Box<dyn Store + Send> = match enduse_store::sqlite_path(target) {
            _ if target == "memory:" => {
                return Err(Error::bad_request(
                    "enduse::audit::memory",
                    "a memory database cannot be opened for reading: it is empty when opened",
                    "",
                ))
            }
            Some(path) => Box::new(SqliteStore::open_read_only(Path::new(path))?),
            None => Box::new(PgStore::open_read_only(target)?),
        };
        Ok(Audit::from_store(target, store))
    }

    pub(crate) fn from_store(target: &str, store: Box<dyn Store + Send>) -> Audit {
        Audit {
            target: target.to_owned(),
            store,
            tree: MerkleTree::new(),
        }
    }

    pub(crate) fn store(&mut self) -> &mut dyn Store {
        self.store.as_mut()
    }

    /// The database, as named when opened.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The log's public verifier key (`name+id+base64`): print it, publish
    /// it, and give it to `verify` away from the database.
    pub fn verifier_key(&mut self) -> Result<String> {
        self.store.audit_key()?.ok_or_else(|| no_log(&self.target))
    }

    fn verifier(&mut self) -> Result<NoteVerifier> {
        let key = self.verifier_key()?;
        NoteVerifier::parse(&key).map_err(|e| bad_key("the database's audit key", e))
    }

    /// Appends entries, in one transaction, with a signed checkpoint.
    /// Appending none signs a checkpoint of the current size (where there
    /// is none yet).
    pub fn append(&mut self, entries: &[Entry]) -> Result<Appended> {
        Ok(self.store.audit_append(entries)?.into())
    }

    /// Appends entries in one transaction, durable when this returns,
    /// without signing a checkpoint; returns the index of the first. A
    /// writer appending many small groups signs now and then with
    /// [`Audit::sign`] instead of once per group (the signature is most of
    /// a small append's cost); until then [`Audit::verify`] checks these
    /// entries' hashes and counts them in `unsigned_entries`, and a
    /// checkpoint asked for ([`Audit::checkpoint`], a proof) is signed on
    /// demand.
    pub fn append_unsigned(&mut self, entries: &[Entry]) -> Result<u64> {
        Ok(self.store.audit_append_unsigned(entries)?)
    }

    /// Signs a checkpoint of the log's current size, unless one is
    /// stored; returns it.
    pub fn sign(&mut self) -> Result<Appended> {
        self.append(&[])
    }

    /// The entry of a decision a front end answered: the ask, the digest of
    /// the answer (its JSON, as sent), and the register transaction it was
    /// decided on.
    pub fn decision_entry(
        ask: &Ask,
        answer: &CheckReport,
        register_txn: Option<i64>,
    ) -> Result<Entry> {
        Entry::decision_of(ask, answer, register_txn).map_err(|e| Error::internal(e.to_string()))
    }

    /// Appends the entry of one decision ([`Audit::decision_entry`]); its
    /// index is `first` of the result. A server answering many decisions
    /// should gather their entries and [`Audit::append`] them together:
    /// each append is a transaction.
    pub fn append_decision(
        &mut self,
        ask: &Ask,
        answer: &CheckReport,
        register_txn: Option<i64>,
    ) -> Result<Appended> {
        let e = Audit::decision_entry(ask, answer, register_txn)?;
        self.append(&[e])
    }

    /// The number of entries.
    pub fn size(&mut self) -> Result<u64> {
        Ok(self.store.audit_size()?)
    }

    /// The latest signed checkpoint (one is signed now if the log has
    /// none of its current size).
    pub fn checkpoint(&mut self) -> Result<CheckpointReport> {
        let key = self.verifier_key()?;
        let size = self.size()?;
        let latest = self.store.audit_checkpoints()?.pop();
        let signed = match latest {
            Some(c) if c.unverified().map(|x| x.size()).ok() == Some(size) => c,
            _ => SignedCheckpoint::from_text(self.append(&[])?.checkpoint),
        };
        let cp = signed
            .unverified()
            .map_err(|e| Error::internal(format!("a stored checkpoint cannot be read: {e}")))?;
        Ok(CheckpointReport {
            origin: cp.origin().to_owned(),
            size: cp.size(),
            root: cp.root().to_hex(),
            note: signed.as_str().to_owned(),
            key,
        })
    }

    fn stored_entry(&mut self, index: u64) -> Result<StoredEntry> {
        self.store
            .audit_entries(index, index.saturating_add(1))?
            .pop()
            .ok_or_else(|| {
                Error::not_found(
                    "enduse::audit::no_entry",
                    format!("the audit log has no entry {index}"),
                    "`enduse audit checkpoint` gives the log's size",
                )
            })
    }

    /// One entry.
    pub fn entry(&mut self, index: u64) -> Result<EntryReport> {
        let e = self.stored_entry(index)?;
        Ok(entry_report(e))
    }

    /// Up to `limit` entries from `from` on.
    pub fn entries(&mut self, from: u64, limit: u64) -> Result<Vec<EntryReport>> {
        Ok(self
            .store
            .audit_entries(from, from.saturating_add(limit))?
            .into_iter()
            .map(entry_report)
            .collect())
    }

    /// Brings the cached tree up to the stored entries.
    fn sync_tree(&mut self) -> Result<()> {
        let size = self.size()?;
        if self.tree.size() > size {
            self.tree = MerkleTree::new();
        }
        if self.tree.size() < size {
            for e in self.store.audit_entries(self.tree.size(), size)? {
                self.tree.push(e.hash);
            }
        }
        Ok(())
    }

    fn tree_size_or_latest(&mut self, size: Option<u64>) -> Result<u64> {
        Ok(match size {
            Some(s) => s,
            None => self.checkpoint()?.size,
        })
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries
    /// (default: the latest checkpoint's), with that checkpoint where there
    /// is one, so that a client can check the entry against a signed root.
    pub fn inclusion_proof(&mut self, index: u64, size: Option<u64>) -> Result<InclusionReport> {
        let size = self.tree_size_or_latest(size)?;
        self.sync_tree()?;
        let proof = self
            .tree
            .inclusion_proof(index, size)
            .map_err(|e| proof_error(&e))?;
        let leaf = self
            .tree
            .leaf(index)
            .ok_or_else(|| Error::internal("a leaf of the tree is missing"))?;
        let root = self.tree.root_at(size).map_err(|e| proof_error(&e))?;
        let checkpoint = self.checkpoint_of(size)?;
        Ok(InclusionReport {
            index,
            tree_size: size,
            leaf_hash: leaf.to_hex(),
            root: root.to_hex(),
            hashes: proof.hashes.iter().map(Hash::to_hex).collect(),
            checkpoint,
        })
    }

    fn checkpoint_of(&mut self, size: u64) -> Result<Option<String>> {
        Ok(self
            .store
            .audit_checkpoints()?
            .into_iter()
            .find(|c| c.unverified().map(|x| x.size()).ok() == Some(size))
            .map(|c| c.as_str().to_owned()))
    }

    /// The consistency proof between the trees of `old` and `new` entries
    /// (default: the latest checkpoint's size).
    pub fn consistency_proof(&mut self, old: u64, new: Option<u64>) -> Result<ConsistencyReport> {
        let new = self.tree_size_or_latest(new)?;
        self.sync_tree()?;
        let proof = self
            .tree
            .consistency_proof(old, new)
            .map_err(|e| proof_error(&e))?;
        Ok(ConsistencyReport {
            old_size: old,
            new_size: new,
            old_root: self
                .tree
                .root_at(old)
                .map_err(|e| proof_error(&e))?
                .to_hex(),
            new_root: self
                .tree
                .root_at(new)
                .map_err(|e| proof_error(&e))?
                .to_hex(),
            hashes: proof.hashes.iter().map(Hash::to_hex).collect(),
        })
    }

    /// Every entry row and every signed checkpoint, for `verify` and
    /// `prove` away from the database ([`verify_export`], [`prove_export`]).
    pub fn export(&mut self) -> Result<LogExport> {
        let key = self.verifier()?;
        let entries = self.store.audit_entries(0, u64::MAX)?;
        let checkpoints = self.store.audit_checkpoints()?;
        Ok(LogExport::new(&key, entries, checkpoints))
    }

    /// Verifies the whole log: every entry's hash, the indices, every
    /// checkpoint's signature (with `trusted_key` if given, which must then
    /// be the database's key; else with the key stored in the database) and
    /// root, the consistency of successive checkpoints; and every register
    /// transaction against the `txns` and `facts` tables as they are now: a
    /// fact row edited, deleted, added or moved to another transaction, or a
    /// transaction missing from the log, is found. The report names the
    /// first bad entry.
    pub fn verify(&mut self, trusted_key: Option<&str>) -> Result<VerifyReport> {
        let stored = self.verifier_key()?;
        let key_text = trusted_key.unwrap_or(&stored).trim().to_owned();
        let key = NoteVerifier::parse(&key_text).map_err(|e| bad_key("the key given", e))?;
        let entries = self.store.audit_entries(0, u64::MAX)?;
        let checkpoints = self.store.audit_checkpoints()?;
        let digests = self.store.fact_digests()?;
        let mut report = verify_rows(&entries, &checkpoints, &key, Some(&digests));
        if trusted_key.is_some() && key_text != stored.trim() && report.ok {
            report.ok = false;
            report.problem = Some(format!(
                "the database's audit key is `{}`, not the key given",
                cut(&stored)
            ));
        }
        Ok(report)
    }
}

fn entry_report(e: StoredEntry) -> EntryReport {
    EntryReport {
        index: e.index,
        body: serde_json::from_str(&e.body).unwrap_or(serde_json::Value::String(e.body.clone())),
        kind: e.kind,
        hash: e.hash.to_hex(),
    }
}

fn proof_error(e: &enduse_audit::ProofError) -> Error {
    Error::bad_request(
        "enduse::audit::bad_proof_request",
        e.to_string().to_lowercase(),
        "an index must be below the tree size, and a tree size at most the log's size",
    )
}

/// Verifies an exported log offline against a trusted verifier key (the
/// register's tables are not there, so the fact rows are not checked).
pub fn verify_export(export: &LogExport, key: &str) -> Result<VerifyReport> {
    let verifier = NoteVerifier::parse(key.trim()).map_err(|e| bad_key("the key given", e))?;
    Ok(verify_rows(
        &export.entries,
        &export.checkpoints,
        &verifier,
        None,
    ))
}

/// The inclusion proof of entry `index` in an exported log that verifies
/// against `key`, in the tree of its latest checkpoint.
pub fn prove_export(export: &LogExport, key: &str, index: u64) -> Result<InclusionReport> {
    let verifier = NoteVerifier::parse(key.trim()).map_err(|e| bad_key("the key given", e))?;
    let verified = export.verify(&verifier).map_err(|e| {
        verify_report_error(&e)
            .into_result()
            .err()
            .unwrap_or_else(|| Error::internal("verification"))
    })?;
    let size = verified
        .latest_checkpoint()
        .map_or(verified.size(), |c| c.size());
    let proof = verified
        .tree()
        .inclusion_proof(index, size)
        .map_err(|e| proof_error(&e))?;
    let leaf = verified
        .tree()
        .leaf(index)
        .ok_or_else(|| Error::internal("a leaf of the tree is missing"))?;
    let root = verified.tree().root_at(size).map_err(|e| proof_error(&e))?;
    let checkpoint = export
        .checkpoints
        .iter()
        .find(|c| c.unverified().map(|x| x.size()).ok() == Some(size))
        .map(|c| c.as_str().to_owned());
    Ok(InclusionReport {
        index,
        tree_size: size,
        leaf_hash: leaf.to_hex(),
        root: root.to_hex(),
        hashes: proof.hashes.iter().map(Hash::to_hex).collect(),
        checkpoint,
    })
}

fn verify_report_error(e: &VerifyError) -> VerifyReport {
    let first = match e {
        VerifyError::RootMismatch { from, .. } => Some(*from),
        other => other.first_bad_entry(),
    };
    VerifyReport {
        ok: false,
        entries: 0,
        checkpoints: 0,
        latest_checkpoint: None,
        unsigned_entries: 0,
        transactions: 0,
        key: String::new(),
        first_bad_entry: first,
        txn: None,
        problem: Some(e.to_string().to_lowercase()),
    }
}

/// A problem of a register transaction's entry: its position, the
/// transaction, and what is wrong.
struct FactsProblem {
    index: u64,
    txn: Option<i64>,
    problem: String,
}

fn body_field<'a>(v: &'a serde_json::Value, k: &str) -> Option<&'a serde_json::Value> {
    v.get(k)
}

/// Checks the register transactions' entries against the tables.
fn check_facts(entries: &[StoredEntry], digests: &[TxnDigest]) -> Option<FactsProblem> {
    let by_id: BTreeMap<i64, &TxnDigest> = digests.iter().map(|d| (d.txn.id, d)).collect();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut last: Option<i64> = None;
    // Where each logged transaction's entry is, to place a missing one.
    let mut positions: Vec<(i64, u64)> = Vec::new();
    for (p, e) in entries.iter().enumerate() {
        let p = p as u64;
        if e.kind != EntryKind::RegisterTxn.as_str() {
            continue;
        }
        let body: serde_json::Value = match serde_json::from_str(&e.body) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let Some(id) = body_field(&body, "txn").and_then(serde_json::Value::as_i64) else {
            return Some(FactsProblem {
                index: p,
                txn: None,
                problem: format!("entry {p}: a register transaction's entry names no transaction"),
            });
        };
        if !seen.insert(id) {
            return Some(FactsProblem {
                index: p,
                txn: Some(id),
                problem: format!("entry {p}: transaction {id} is logged twice"),
            });
        }
        if last.is_some_and(|l| id < l) {
            return Some(FactsProblem {
                index: p,
                txn: Some(id),
                problem: format!("entry {p}: transaction {id} is logged after a later one"),
            });
        }
        last = Some(id);
        positions.push((id, p));
        let Some(d) = by_id.get(&id) else {
            return Some(FactsProblem {
                index: p,
                txn: Some(id),
                problem: format!(
                    "entry {p}: transaction {id} is no longer in the database (its row or its fact rows were deleted)"
                ),
            });
        };
        let expected = enduse_store::expected_txn_entry(d);
        if expected.body() != e.body {
            let logged_rows = body_field(&body, "rows").and_then(serde_json::Value::as_u64);
            let logged_digest = body_field(&body, "facts_sha256").and_then(|v| v.as_str());
            let what = if logged_rows != Some(d.rows) {
                format!(
                    "it wrote {} fact rows, and the database now holds {} of it (a row was deleted, added or moved)",
                    logged_rows.map_or("?".into(), |n| n.to_string()),
                    d.rows
                )
            } else if logged_digest != Some(d.digest.to_hex().as_str()) {
                "its fact rows no longer match the log (a row was edited, or moved in its record's versions)".to_owned()
            } else {
                "its row in the transaction table no longer matches the log (its time, note or count was changed)".to_owned()
            };
            return Some(FactsProblem {
                index: p,
                txn: Some(id),
                problem: format!("entry {p}: transaction {id}: {what}"),
            });
        }
    }
    // Transactions of the database that were never logged.
    for d in digests {
        if !seen.contains(&d.txn.id) {
            let at = positions
                .iter()
                .find(|(id, _)| *id > d.txn.id)
                .map_or(entries.len() as u64, |(_, p)| *p);
            return Some(FactsProblem {
                index: at,
                txn: Some(d.txn.id),
                problem: format!(
                    "transaction {} ({} fact rows) is not in the audit log: it was written outside enduse (it belongs before entry {at})",
                    d.txn.id, d.rows
                ),
            });
        }
    }
    None
}

fn verify_rows(
    entries: &[StoredEntry],
    checkpoints: &[SignedCheckpoint],
    key: &NoteVerifier,
    digests: Option<&[TxnDigest]>,
) -> VerifyReport {
    let log = verify_log(entries, checkpoints, key);
    let facts = digests.and_then(|d| check_facts(entries, d));
    let mut report = VerifyReport {
        ok: true,
        entries: entries.len() as u64,
        checkpoints: checkpoints.len(),
        latest_checkpoint: None,
        unsigned_entries: 0,
        transactions: digests.map_or(0, <[TxnDigest]>::len),
        key: key.to_string(),
        first_bad_entry: None,
        txn: None,
        problem: None,
    };
    match &log {
        Ok(v) => {
            report.latest_checkpoint = v.latest_checkpoint().map(|c| c.size());
            report.unsigned_entries = v.unsigned_entries();
        }
        Err(e) => {
            let bad = verify_report_error(e);
            report.ok = false;
            report.first_bad_entry = bad.first_bad_entry;
            report.problem = bad.problem;
        }
    }
    if let Some(f) = facts {
        let earlier = match (report.ok, report.first_bad_entry) {
            (true, _) => true,
            (false, Some(i)) => f.index < i,
            (false, None) => false,
        };
        if earlier {
            report.ok = false;
            report.first_bad_entry = Some(f.index);
            report.txn = f.txn;
            report.problem = Some(f.problem);
        }
    }
    report
}
