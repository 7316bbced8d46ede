//! The in-memory reference store: the semantics in plain Rust, against which
//! the SQL backends are checked.

use crate::audit_store::{self, AuditState, Edge, FactRow};
use crate::model::{
    check_expect, check_workflow_expect, feed_through, latest, next_instant, Change, ChangeSink,
    ImageCheck, Logged, PutOne, Store, StoreError, TxnDigest, TxnInfo, Version, WorkflowChange,
    WorkflowKind, WorkflowVersion, Written,
};
use chrono::{DateTime, Utc};
use enduse_audit::{Entry, SignedCheckpoint, StoredEntry};
use enduse_load::RecordKind;
use std::collections::{BTreeMap, HashMap};

/// A store that lives as long as the process.
#[derive(Default)]
pub struct MemStore {
    versions: Vec<Version>,
    current: HashMap<(RecordKind, String), (i64, bool)>,
    txns: Vec<TxnInfo>,
    workflow: Vec<WorkflowVersion>,
    workflow_current: HashMap<(WorkflowKind, String), (i64, bool)>,
    log: Vec<StoredEntry>,
    checkpoints: BTreeMap<u64, SignedCheckpoint>,
    /// Made on first use.
    audit: Option<AuditState>,
    images: HashMap<i64, Vec<u8>>,
}

impl std::fmt::Debug for MemStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemStore")
            .field("versions", &self.versions.len())
            .field("txns", &self.txns.len())
            .field("workflow", &self.workflow.len())
            .field("log", &self.log.len())
            .finish()
    }
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The audit log's state, its key made on first use.
    fn state(&mut self) -> Result<&mut AuditState, StoreError> {
        if self.audit.is_none() {
            self.audit = Some(AuditState {
                signer: audit_store::new_signer("memory:")?,
                edge: Edge::default(),
            });
        }
        self.audit
            .as_mut()
            .ok_or_else(|| StoreError::Usage("no audit state".into()))
    }

    /// Appends entries and a checkpoint; changes nothing on failure.
    fn append_log(&mut self, entries: &[Entry]) -> Result<Logged, StoreError> {
        let state = self.state()?;
        let mut next = AuditState {
            signer: state.signer.clone(),
            edge: state.edge.clone(),
        };
        let first = next.edge.size();
        let rows = next.append(entries);
        let cp = next.checkpoint("memory:")?;
        let logged = audit_store::logged(first, &next, &cp);
        self.log.extend(rows);
        self.checkpoints.entry(next.edge.size()).or_insert(cp);
        self.audit = Some(next);
        Ok(logged)
    }
}

/// A streamed write into memory: the changes, checked as they come
/// against the store and the earlier changes, kept for one `write`.
struct MemSink<'a> {
    current: &'a HashMap<(RecordKind, String), (i64, bool)>,
    pending: HashMap<(RecordKind, String), (i64, bool)>,
    changes: Vec<Change>,
}

impl PutOne for MemSink<'_> {
    fn put_one(&mut self, c: Change) -> Result<(), StoreError> {
        let k = (c.record.kind, c.record.key.clone());
        let cur = self
            .pending
            .get(&k)
            .or_else(|| self.current.get(&k))
            .copied();
        check_expect(&c, cur)?;
        self.pending
            .insert(k, (cur.map_or(1, |(n, _)| n + 1), c.retract));
        self.changes.push(c);
        Ok(())
    }
}

impl Store for MemStore {
    fn backend(&self) -> &'static str {
        "memory"
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
        events: &[Entry],
        note: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Written, StoreError> {
        // Check everything before touching anything: all or nothing.
        let mut pending: HashMap<(RecordKind, String), (i64, bool)> = HashMap::new();
        let mut numbers = Vec::with_capacity(changes.len());
        for c in changes {
            let k = (c.record.kind, c.record.key.clone());
            let cur = pending.get(&k).or_else(|| self.current.get(&k)).copied();
            check_expect(c, cur)?;
            let n = cur.map_or(1, |(n, _)| n + 1);
            pending.insert(k, (n, c.retract));
            numbers.push(n);
        }
        let mut wpending: HashMap<(WorkflowKind, String), (i64, bool)> = HashMap::new();
        let mut wnumbers = Vec::with_capacity(workflow.len());
        for c in workflow {
            let k = (c.record.kind, c.record.key.clone());
            let cur = wpending
                .get(&k)
                .or_else(|| self.workflow_current.get(&k))
                .copied();
            check_workflow_expect(c, cur)?;
            let n = cur.map_or(1, |(n, _)| n + 1);
            wpending.insert(k, (n, c.retract));
            wnumbers.push(n);
        }
        let at = next_instant(self.txns.last().map(|t| t.at));
        let id = self.txns.last().map_or(1, |t| t.id + 1);
        // Build the new versions aside and change the store only after the
        // last call of `progress`: a caller that stops the write from its
        // callback (by unwinding) must leave nothing behind, as a database
        // rolls back.
        let total = changes.len() as u64;
        let mut new = Vec::with_capacity(changes.len());
        for (i, (c, n)) in changes.iter().zip(numbers).enumerate() {
            new.push(Version {
                record: c.record.clone(),
                version: n,
                retracted: c.retract,
                sys_from: at,
                txn: id,
            });
            if i % 10_000 == 0 {
                progress(i as u64, total);
            }
        }
        progress(total, total);
        let wnew: Vec<WorkflowVersion> = workflow
            .iter()
            .zip(wnumbers)
            .map(|(c, n)| WorkflowVersion {
                record: c.record.clone(),
                version: n,
                retracted: c.retract,
                sys_from: at,
                txn: id,
            })
            .collect();
        let info = TxnInfo {
            id,
            at,
            note: note.to_owned(),
            changes: (changes.len() + workflow.len()) as i64,
        };
        let hashes: Vec<_> = new
            .iter()
            .map(|v| FactRow::of_version(v).hash())
            .chain(wnew.iter().map(|v| FactRow::of_workflow(v).hash()))
            .collect();
        let rows = hashes.len() as u64;
        let mut entries = vec![audit_store::txn_entry(
            &info,
            rows,
            &audit_store::txn_digest(hashes),
        )];
        entries.extend(events.iter().cloned());
        let log = self.append_log(&entries)?;
        self.current.extend(pending);
        self.versions.extend(new);
        self.workflow_current.extend(wpending);
        self.workflow.extend(wnew);
        self.txns.push(info.clone());
        Ok(Written {
            txn: info,
            log: Some(log),
        })
    }

    fn workflow_heads(&mut self, kind: WorkflowKind) -> Result<Vec<WorkflowVersion>, StoreError> {
        let mut rows: Vec<WorkflowVersion> = self
            .workflow
            .iter()
            .filter(|v| v.record.kind == kind)
            .cloned()
            .collect();
        rows.sort_by(|a, b| (&a.record.key, a.version).cmp(&(&b.record.key, b.version)));
        Ok(crate::model::last_workflow_versions(rows))
    }

    fn workflow_history(
        &mut self,
        kind: WorkflowKind,
        key: &str,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        Ok(self
            .workflow
            .iter()
            .filter(|v| v.record.kind == kind && v.record.key == key)
            .cloned()
            .collect())
    }

    fn latest_register_txn(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(self.versions.iter().map(|v| v.txn).max())
    }

    fn register_txn_at(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Option<i64>, StoreError> {
        Ok(self
            .versions
            .iter()
            .filter(|v| as_of.is_none_or(|t| v.sys_from <= t))
            .map(|v| v.txn)
            .max())
    }

    fn image(&mut self, txn: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.images.get(&txn).cloned())
    }

    fn put_image(&mut self, txn: i64, image: &[u8], check: ImageCheck) -> Result<bool, StoreError> {
        if !self.txns.iter().any(|t| t.id == txn) {
            return Err(StoreError::Usage(format!("no transaction {txn}")));
        }
        if let ImageCheck::After(base) = check {
            let before = self
                .versions
                .iter()
                .map(|v| v.txn)
                .filter(|&t| t < txn)
                .max();
            if before != base {
                return Ok(false);
            }
        }
        self.images.insert(txn, image.to_vec());
        Ok(true)
    }

    fn kind_heads(&mut self, kind: RecordKind, txn: i64) -> Result<Vec<Version>, StoreError> {
        let rows: Vec<Version> = self
            .versions
            .iter()
            .filter(|v| v.record.kind == kind && v.txn <= txn)
            .cloned()
            .collect();
        Ok(latest(rows, None))
    }

    fn audit_append(&mut self, entries: &[Entry]) -> Result<Logged, StoreError> {
        self.append_log(entries)
    }

    fn audit_size(&mut self) -> Result<u64, StoreError> {
        Ok(self.log.len() as u64)
    }

    fn audit_entries(&mut self, from: u64, to: u64) -> Result<Vec<StoredEntry>, StoreError> {
        Ok(self
            .log
            .iter()
            .filter(|e| e.index >= from && e.index < to)
            .cloned()
            .collect())
    }

    fn audit_checkpoints(&mut self) -> Result<Vec<SignedCheckpoint>, StoreError> {
        Ok(self.checkpoints.values().cloned().collect())
    }

    fn audit_key(&mut self) -> Result<Option<String>, StoreError> {
        Ok(Some(self.state()?.signer.verifier().to_string()))
    }

    fn fact_digests(&mut self) -> Result<Vec<TxnDigest>, StoreError> {
        let mut rows: BTreeMap<i64, Vec<enduse_audit::Hash>> = BTreeMap::new();
        for v in &self.versions {
            rows.entry(v.txn)
                .or_default()
                .push(FactRow::of_version(v).hash());
        }
        for v in &self.workflow {
            rows.entry(v.txn)
                .or_default()
                .push(FactRow::of_workflow(v).hash());
        }
        Ok(audit_store::digests(self.txns.clone(), rows))
    }

    fn heads(&mut self, as_of: Option<DateTime<Utc>>) -> Result<Vec<Version>, StoreError> {
        Ok(latest(self.versions.clone(), as_of))
    }

    fn history(&mut self, kind: RecordKind, key: &str) -> Result<Vec<Version>, StoreError> {
        Ok(self
            .versions
            .iter()
            .filter(|v| v.record.kind == kind && v.record.key == key)
            .cloned()
            .collect())
    }

    fn lot_chain(
        &mut self,
        lot: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<Version>, StoreError> {
        // A record that ever named the lot; its latest version decides
        // whether it still does.
        let keys: std::collections::HashSet<(RecordKind, &str)> = self
            .versions
            .iter()
            .filter(|v| v.record.lot.as_deref() == Some(lot))
            .map(|v| (v.record.kind, v.record.key.as_str()))
            .collect();
        let rows = self
            .versions
            .iter()
            .filter(|v| keys.contains(&(v.record.kind, v.record.key.as_str())))
            .cloned()
            .collect();
        Ok(crate::model::chain_of(latest(rows, as_of), lot))
    }

    fn transactions(&mut self) -> Result<Vec<TxnInfo>, StoreError> {
        Ok(self.txns.clone())
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        Ok(crate::sqlite::MIGRATIONS.len() as i64)
    }

    fn write_streamed(
        &mut self,
        note: &str,
        feed: &mut dyn FnMut(&mut dyn ChangeSink) -> Result<bool, StoreError>,
    ) -> Result<Option<TxnInfo>, StoreError> {
        // The reference holds everything anyway: it checks each change as
        // it comes (so that a put fails where a database's would) and
        // writes them all at once.
        let mut sink = MemSink {
            current: &self.current,
            pending: HashMap::new(),
            changes: Vec::new(),
        };
        if feed_through(&mut sink, feed)?.is_none() {
            return Ok(None);
        }
        let changes = sink.changes;
        self.write(&changes, note, &mut |_, _| {}).map(Some)
    }

    fn scan_heads(
        &mut self,
        kind: Option<RecordKind>,
        txn: Option<i64>,
        each: &mut dyn FnMut(Version) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let rows: Vec<Version> = self
            .versions
            .iter()
            .filter(|v| kind.is_none_or(|k| v.record.kind == k) && txn.is_none_or(|t| v.txn <= t))
            .cloned()
            .collect();
        latest(rows, None).into_iter().try_for_each(each)
    }
}
