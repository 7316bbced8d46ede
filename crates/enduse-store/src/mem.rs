//! The in-memory reference store: the semantics in plain Rust, against which
//! the SQL backends are checked.

use crate::model::{
    check_expect, latest, next_instant, Change, Store, StoreError, TxnInfo, Version,
};
use chrono::{DateTime, Utc};
use enduse_load::RecordKind;
use std::collections::HashMap;

/// A store that lives as long as the process.
#[derive(Debug, Default)]
pub struct MemStore {
    versions: Vec<Version>,
    current: HashMap<(RecordKind, String), (i64, bool)>,
    txns: Vec<TxnInfo>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
        self.current.extend(pending);
        self.versions.extend(new);
        let info = TxnInfo {
            id,
            at,
            note: note.to_owned(),
            changes: changes.len() as i64,
        };
        self.txns.push(info.clone());
        Ok(info)
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
}
