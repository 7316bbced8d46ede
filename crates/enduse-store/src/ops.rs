//! What users do with a store, the same over every backend: initialise,
//! import, export, build an engine as of an instant, edit one record, and
//! read a record's history.

use crate::mem::MemStore;
use crate::model::{Change, Expect, ImageCheck, Store, StoreError, TxnInfo, Version};
use crate::pg::PgStore;
use crate::sqlite::SqliteStore;
use chrono::{DateTime, Utc};
use enduse_core::Engine;
use enduse_load::{DataFiles, Record, RecordKind};
use std::collections::HashMap;
use std::path::Path;

/// Opens the store named by `target`: `memory:`, a PostgreSQL URL
/// (`postgres://...`) or key-value string (`host=... dbname=...`), or else
/// the path of a SQLite file (created if missing).
pub fn open(target: &str) -> Result<Box<dyn Store>, StoreError> {
    if target == "memory:" {
        return Ok(Box::new(MemStore::new()));
    }
    match sqlite_path(target) {
        Some(path) => Ok(Box::new(SqliteStore::open(Path::new(path))?)),
        None => Ok(Box::new(PgStore::open(target)?)),
    }
}

/// Opens the store named by `target` for reading only: a missing or empty
/// file, or a database without an enduse schema, is an error, and nothing is
/// created or migrated. `memory:` is always empty, so it is refused too.
pub fn open_read_only(target: &str) -> Result<Box<dyn Store>, StoreError> {
    if target == "memory:" {
        return Err(StoreError::NotARegister {
            target: target.into(),
            reason: "a memory database is empty when it is opened".into(),
        });
    }
    match sqlite_path(target) {
        Some(path) => Ok(Box::new(SqliteStore::open_read_only(Path::new(path))?)),
        None => Ok(Box::new(PgStore::open_read_only(target)?)),
    }
}

/// The SQLite file `target` names for [`open`], or `None` when it names
/// PostgreSQL or `memory:`.
pub fn sqlite_path(target: &str) -> Option<&str> {
    if target == "memory:"
        || target.starts_with("postgres://")
        || target.starts_with("postgresql://")
        || target.contains("host=")
        || target.contains("dbname=")
    {
        return None;
    }
    Some(target.strip_prefix("sqlite:").unwrap_or(target))
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Records new to the database.
    pub added: usize,
    /// Records with a new version.
    pub changed: usize,
    /// Records the input no longer has, retracted.
    pub retracted: usize,
    /// Records already stored as given.
    pub unchanged: usize,
    /// The transaction, unless nothing changed.
    pub txn: Option<TxnInfo>,
}

fn same(a: &Record, b: &Record) -> bool {
    a.body == b.body
        && a.valid_from == b.valid_from
        && a.valid_to == b.valid_to
        && a.recorded_at == b.recorded_at
        && a.lot == b.lot
}

fn live(heads: Vec<Version>) -> Vec<Version> {
    heads.into_iter().filter(|v| !v.retracted).collect()
}

/// The record of a retraction: kind and key, nothing else.
pub(crate) fn tombstone(kind: RecordKind, key: &str) -> Record {
    Record {
        kind,
        key: key.to_owned(),
        body: String::new(),
        valid_from: None,
        valid_to: None,
        recorded_at: None,
        lot: None,
    }
}

/// Makes the database's current register equal to `files`: validates the
/// whole input first, then writes, in one transaction, a new version of each
/// new or changed record and a retraction of each record the input lacks.
/// On any problem nothing is written. `progress(phase, done, total)`.
pub fn import(
    store: &mut dyn Store,
    files: &DataFiles,
    note: &str,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<ImportReport, StoreError> {
    progress("validating", 0, 0);
    let records = prepare(files)?;
    import_records(store, records, note, progress)
}

/// Validates a whole data set and splits it into records, ready for
/// [`import_records`]; touches no store.
pub fn prepare(files: &DataFiles) -> Result<Vec<Record>, StoreError> {
    let (engine, records) = enduse_load::records_from_files(files)?;
    drop_aside(engine);
    Ok(records)
}

/// Frees a large value on another thread: freeing the engine of a million
/// transfers takes seconds that nobody needs to wait for.
/// Should no thread be spared, the value is freed here instead.
fn drop_aside<T: Send + 'static>(v: T) {
    let _ = std::thread::Builder::new()
        .name("enduse-drop".into())
        .spawn(move || drop(v));
}

/// [`import`] of records from [`prepare`].
pub fn import_records(
    store: &mut dyn Store,
    records: Vec<Record>,
    note: &str,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<ImportReport, StoreError> {
    import_records_checked(store, records, note, &mut |_, _| true, progress)
}

/// [`import_records`], with a look at the planned changes before anything
/// is written, from the same read of the heads the write will check:
/// `check(report, changes)` returning false writes nothing (a dry run, or an
/// import that would retract records and was not allowed to). The report
/// then has no transaction.
pub fn import_records_checked(
    store: &mut dyn Store,
    records: Vec<Record>,
    note: &str,
    check: &mut dyn FnMut(&ImportReport, &[Change]) -> bool,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<ImportReport, StoreError> {
    progress("comparing", 0, 0);
    let heads = store.heads(None)?;
    // The register transaction this import builds on: its image will hold
    // the register as of the import's own transaction only if no other
    // write came between.
    let base = heads.iter().map(|v| v.txn).max();
    let heads = live(heads);
    // Keys borrowed, not cloned: at 1.6 million records the clones cost
    // seconds.
    let by_key: HashMap<(RecordKind, &str), &Version> = heads
        .iter()
        .map(|v| ((v.record.kind, v.record.key.as_str()), v))
        .collect();
    let mut report = ImportReport::default();
    let mut expects: Vec<Option<Expect>> = Vec::with_capacity(records.len());
    let mut seen: std::collections::HashSet<(RecordKind, &str)> =
        std::collections::HashSet::with_capacity(if heads.is_empty() { 0 } else { records.len() });
    for r in &records {
        let k = (r.kind, r.key.as_str());
        if !heads.is_empty() {
            seen.insert(k);
        }
        expects.push(match by_key.get(&k) {
            Some(h) if same(&h.record, r) => {
                report.unchanged += 1;
                None
            }
            Some(h) => {
                report.changed += 1;
                Some(Expect::Version(h.version))
            }
            None => {
                report.added += 1;
                Some(Expect::Absent)
            }
        });
    }
    // A data set without a control layer leaves the stored one alone.
    let has_control = records.iter().any(|r| r.kind == RecordKind::Control);
    let mut gone: Vec<&Version> = heads
        .iter()
        .filter(|v| !seen.contains(&(v.record.kind, v.record.key.as_str())))
        .filter(|v| has_control || v.record.kind != RecordKind::Control)
        .collect();
    gone.sort_by(|a, b| (a.record.kind, &a.record.key).cmp(&(b.record.kind, &b.record.key)));
    let gone: Vec<(RecordKind, String, i64)> = gone
        .into_iter()
        .map(|v| (v.record.kind, v.record.key.clone(), v.version))
        .collect();
    drop(seen);
    drop(by_key);
    let mut changes: Vec<Change> = Vec::with_capacity(records.len());
    let mut unchanged: Vec<Record> = Vec::new();
    for (record, expect) in records.into_iter().zip(expects) {
        match expect {
            Some(expect) => changes.push(Change {
                record,
                retract: false,
                expect,
            }),
            None => unchanged.push(record),
        }
    }
    for (kind, key, version) in gone {
        report.retracted += 1;
        changes.push(Change {
            record: tombstone(kind, &key),
            retract: true,
            expect: Expect::Version(version),
        });
    }
    if changes.is_empty() || !check(&report, &changes) {
        return Ok(report);
    }
    // The image of the new register is built on another core while the
    // records are written: from the same records, in the order a store
    // returns its heads, so that it is exactly what a read of them builds.
    let (written, image) = std::thread::scope(|s| {
        let image = s.spawn(|| {
            let mut refs: Vec<&Record> = changes
                .iter()
                .filter(|c| !c.retract)
                .map(|c| &c.record)
                .chain(unchanged.iter())
                .collect();
            refs.sort_unstable_by(|a, b| head_order(a, b));
            let image = enduse_load::image_from_records("import", &refs);
            image.ok().flatten()
        });
        let written = store.write(&changes, note, &mut |d, t| progress("writing", d, t));
        (written, image.join().ok().flatten())
    });
    let txn = written?;
    drop_aside((changes, unchanged));
    if let Some(image) = image {
        progress("imaging", 0, 0);
        // A cache: an import whose image cannot be stored has still
        // succeeded, and readers rebuild from the records.
        let _ = store.put_image(txn.id, &image, ImageCheck::After(base));
        drop_aside(image);
    }
    report.txn = Some(txn);
    Ok(report)
}

/// The order in which every store returns heads: by kind name, then key
/// (bytewise).
fn head_order(a: &Record, b: &Record) -> std::cmp::Ordering {
    (a.kind.as_str(), a.key.as_str()).cmp(&(b.kind.as_str(), b.key.as_str()))
}

/// Where an [`Opened`] register came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenedFrom {
    /// The stored image of its transaction.
    Image,
    /// Its records, because there was no usable image (the reason, where
    /// one was stored but refused).
    Records {
        /// Why a stored image was not used (`None`: there was none).
        refused: Option<String>,
    },
}

/// A register read from a store.
pub struct Opened {
    /// The engine.
    pub engine: Engine,
    /// The control layer (`control.json`) the database holds, if any.
    pub control: Option<String>,
    /// The latest register transaction it holds.
    pub txn: Option<i64>,
    /// Whether it came from an image or from the records.
    pub from: OpenedFrom,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("txn", &self.txn)
            .field("from", &self.from)
            .field("rules", &self.engine.rules().len())
            .finish()
    }
}

fn no_register(store: &dyn Store, as_of: Option<DateTime<Utc>>) -> StoreError {
    StoreError::Usage(match as_of {
        Some(t) => format!(
            "the {} database held no register at {}",
            store.backend(),
            t.to_rfc3339()
        ),
        None => format!(
            "the {} database is empty: run `enduse init` or `enduse import DIR`",
            store.backend()
        ),
    })
}

/// The register as the database held it at `as_of` (now if `None`), ready
/// to decide: from the stored image of its transaction when there is a
/// sound one (one blob read; no record decoded, no rule parsed), else from
/// its records, which stay the truth. An image is found by the transaction
/// the read is as of, and checked by its SHA-256 and build before use, so
/// neither a stale nor a damaged one is ever used. With `write_back`, a
/// register built from records leaves its image for the next reader.
pub fn open_register(
    store: &mut dyn Store,
    as_of: Option<DateTime<Utc>>,
    write_back: bool,
) -> Result<Opened, StoreError> {
    let Some(txn) = store.register_txn_at(as_of)? else {
        return Err(no_register(store, as_of));
    };
    let mut refused = None;
    if let Some(bytes) = store.image(txn)? {
        match enduse_load::engine_from_image(&bytes) {
            Ok(engine) => {
                drop_aside(bytes);
                let control: Vec<Record> = live(store.kind_heads(RecordKind::Control, txn)?)
                    .into_iter()
                    .map(|v| v.record)
                    .collect();
                let refs: Vec<&Record> = control.iter().collect();
                return Ok(Opened {
                    engine,
                    control: enduse_load::control_json(&refs),
                    txn: Some(txn),
                    from: OpenedFrom::Image,
                });
            }
            Err(e) => refused = Some(e.to_string()),
        }
    }
    let heads = store.heads(as_of)?;
    let txn = heads.iter().map(|v| v.txn).max();
    let records: Vec<Record> = live(heads).into_iter().map(|v| v.record).collect();
    if records.is_empty() {
        return Err(no_register(store, as_of));
    }
    let refs: Vec<&Record> = records.iter().collect();
    let engine = enduse_load::engine_from_trusted_records(&origin(store, as_of), &refs)?;
    let control = enduse_load::control_json(&refs);
    if write_back {
        let schema = refs
            .iter()
            .find(|r| r.kind == RecordKind::Schema)
            .map(|r| r.body.as_str());
        if let (Some(t), Some(Ok(image))) = (
            txn,
            schema.map(|s| enduse_load::image_of_engine(&engine, s)),
        ) {
            // A cache: failing to store it changes no answer.
            let _ = store.put_image(t, &image, ImageCheck::Nothing);
        }
    }
    drop(refs);
    drop_aside(records);
    Ok(Opened {
        engine,
        control,
        txn,
        from: OpenedFrom::Records { refused },
    })
}

fn origin(store: &dyn Store, as_of: Option<DateTime<Utc>>) -> String {
    match as_of {
        Some(t) => format!("{} database as of {}", store.backend(), t.to_rfc3339()),
        None => format!("{} database", store.backend()),
    }
}

/// The live records of the database at `as_of` (now if `None`).
pub fn records_at(
    store: &mut dyn Store,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<Record>, StoreError> {
    Ok(live(store.heads(as_of)?)
        .into_iter()
        .map(|v| v.record)
        .collect())
}

/// The engine for the register as the database held it at `as_of`: what
/// this database would have answered then. Decisions then read memory only.
pub fn engine_at(
    store: &mut dyn Store,
    as_of: Option<DateTime<Utc>>,
) -> Result<Engine, StoreError> {
    Ok(open_register(store, as_of, false)?.engine)
}

/// The register at `as_of`, as data-set files.
pub fn export_files(
    store: &mut dyn Store,
    as_of: Option<DateTime<Utc>>,
) -> Result<DataFiles, StoreError> {
    let records = records_at(store, as_of)?;
    let refs: Vec<&Record> = records.iter().collect();
    Ok(enduse_load::files_from_records(
        &origin(store, as_of),
        &refs,
    )?)
}

/// Writes one record (new, or a new version of an existing one). The whole
/// register with the change must still be valid. `expect` defaults to the
/// version read here, so a concurrent edit between read and write is a
/// conflict, never a silent overwrite.
pub fn put(
    store: &mut dyn Store,
    record: Record,
    expect: Option<Expect>,
    note: &str,
) -> Result<TxnInfo, StoreError> {
    edit(store, record, false, expect, note)
}

/// Retracts one record; the register without it must still be valid.
pub fn retract(
    store: &mut dyn Store,
    kind: RecordKind,
    key: &str,
    expect: Option<Expect>,
    note: &str,
) -> Result<TxnInfo, StoreError> {
    edit(store, tombstone(kind, key), true, expect, note)
}

fn edit(
    store: &mut dyn Store,
    record: Record,
    retract: bool,
    expect: Option<Expect>,
    note: &str,
) -> Result<TxnInfo, StoreError> {
    if !retract {
        enduse_load::check_key(&record).map_err(StoreError::Usage)?;
    }
    let heads = live(store.heads(None)?);
    let current = heads
        .iter()
        .find(|v| v.record.kind == record.kind && v.record.key == record.key)
        .map(|v| v.version);
    if retract && current.is_none() {
        return Err(StoreError::Usage(format!(
            "{} `{}` does not exist, so it cannot be retracted",
            record.kind, record.key
        )));
    }
    // The register after the change, with the times it implies (a
    // transfer's from its sources, a lot's from its transfers) derived
    // again everywhere, exactly as an import of it would: so that an edit
    // of a source or a transfer leaves no stale time behind.
    let mut next: Vec<Record> = heads
        .iter()
        .map(|v| &v.record)
        .filter(|r| !(r.kind == record.kind && r.key == record.key))
        .cloned()
        .collect();
    if !retract {
        next.push(record.clone());
    }
    enduse_load::derive_times(&mut next, &[]);
    let refs: Vec<&Record> = next.iter().collect();
    enduse_load::engine_from_records(&origin(store, None), &refs)?;
    let expect = expect.unwrap_or(match current {
        Some(v) => Expect::Version(v),
        None => Expect::Absent,
    });
    let mut changes = Vec::new();
    let old: HashMap<(RecordKind, &str), &Version> = heads
        .iter()
        .map(|v| ((v.record.kind, v.record.key.as_str()), v))
        .collect();
    for r in next {
        let is_target = r.kind == record.kind && r.key == record.key;
        let head = old.get(&(r.kind, r.key.as_str())).copied();
        match head {
            _ if is_target => changes.insert(
                0,
                Change {
                    record: r,
                    retract: false,
                    expect,
                },
            ),
            Some(h) if !same(&h.record, &r) => changes.push(Change {
                record: r,
                retract: false,
                expect: Expect::Version(h.version),
            }),
            _ => {}
        }
    }
    if retract {
        changes.insert(
            0,
            Change {
                record,
                retract: true,
                expect,
            },
        );
    }
    store.write(&changes, note, &mut |_, _| {})
}
