//! An import that never holds its data set: the records stream from the
//! files into one store transaction as they are read and checked
//! (`enduse_load::stream_records`), compared with the stored heads by
//! digest; the transaction commits only if the whole data set was valid.
//! The image of the new register is then written from a scan of the store,
//! a lot and a transfer at a time.

use crate::model::{Change, ChangeSink, Expect, ImageCheck, Store, StoreError, TxnInfo};
use crate::ops::ImportReport;
use enduse_load::{DataFiles, Record, RecordKind, Streamed};
use std::collections::HashMap;
use std::io::BufRead;

/// What a streamed import may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Compute the changes and write nothing.
    pub dry_run: bool,
    /// Retract the records the input lacks; without it, an import that
    /// would retract any writes nothing.
    pub allow_retract: bool,
}

/// What a streamed import reads.
pub struct StreamInput<'a> {
    /// The data set's files, all but `transfers.toml` when `bulk` is given.
    pub files: &'a DataFiles,
    /// `transfers.toml`, read a table at a time.
    pub bulk: Option<&'a mut (dyn BufRead + Send)>,
    /// Whether the files held were checked by an earlier stream.
    pub held: enduse_load::Held,
}

/// One change an import makes or would make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    /// The record's kind.
    pub kind: RecordKind,
    /// Its key.
    pub key: String,
    /// Whether it is retracted.
    pub retract: bool,
    /// The version it replaces (`None` for an addition).
    pub replaces: Option<i64>,
}

/// How a streamed import ended.
#[derive(Debug)]
pub enum StreamedImport {
    /// Committed, or nothing to change (then the report has no
    /// transaction); for a dry run, nothing written and `planned` lists
    /// every change.
    Done {
        /// Counts, and the transaction.
        report: ImportReport,
        /// Every change, for a dry run only.
        planned: Vec<PlannedChange>,
    },
    /// Nothing written: the import would retract these records and was not
    /// allowed to.
    WouldRetract(Vec<PlannedChange>),
    /// Nothing written: the data set is not valid, or not in a form the
    /// stream reads. The whole-data-set path names the problems.
    Refused,
}

/// A stored head, as far as an import compares it.
struct Head {
    version: i64,
    digest: [u8; 16],
    seen: bool,
}

/// A sink that writes nothing: the dry run's.
struct Nowhere(u64);

impl ChangeSink for Nowhere {
    fn put(&mut self, _: Change) -> Result<(), StoreError> {
        self.0 += 1;
        Ok(())
    }

    fn count(&self) -> u64 {
        self.0
    }
}

/// Makes the store's current register equal to the data set `input`, as
/// [`crate::import`] does, holding neither: see the module documentation.
/// `expected` is the number of records the data set holds, for progress
/// (`progress(phase, done, expected)` in the phase `writing`).
pub fn import_streamed(
    store: &mut dyn Store,
    input: StreamInput<'_>,
    opts: StreamOptions,
    note: &str,
    expected: u64,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<StreamedImport, StoreError> {
    let StreamInput {
        files,
        mut bulk,
        held,
    } = input;
    progress("comparing", 0, 0);
    let mut heads: HashMap<RecordKind, HashMap<Box<str>, Head>> = HashMap::new();
    let mut base: Option<i64> = None;
    store.scan_heads(None, None, &mut |v| {
        base = base.max(Some(v.txn));
        if !v.retracted {
            heads.entry(v.record.kind).or_default().insert(
                v.record.key.as_str().into(),
                Head {
                    version: v.version,
                    digest: v.record.digest(),
                    seen: false,
                },
            );
        }
        Ok(())
    })?;
    let mut report = ImportReport::default();
    let mut planned: Vec<PlannedChange> = Vec::new();
    let mut refused = false;
    let mut would_retract: Option<Vec<PlannedChange>> = None;
    let mut done = 0u64;
    progress("writing", 0, expected);
    let mut feed = |sink: &mut dyn ChangeSink| -> Result<bool, StoreError> {
        let mut has_control = false;
        let mut each = |r: Record| -> Result<(), StoreError> {
            done += 1;
            if done.is_multiple_of(10_000) {
                progress("writing", done, expected.max(done));
            }
            has_control |= r.kind == RecordKind::Control;
            let head = heads
                .get_mut(&r.kind)
                .and_then(|m| m.get_mut(r.key.as_str()));
            let expect = match head {
                Some(h) => {
                    h.seen = true;
                    if h.digest == r.digest() {
                        report.unchanged += 1;
                        return Ok(());
                    }
                    report.changed += 1;
                    Expect::Version(h.version)
                }
                None => {
                    report.added += 1;
                    Expect::Absent
                }
            };
            if opts.dry_run {
                planned.push(PlannedChange {
                    kind: r.kind,
                    key: r.key.clone(),
                    retract: false,
                    replaces: match expect {
                        Expect::Version(v) => Some(v),
                        _ => None,
                    },
                });
            }
            sink.put(Change {
                record: r,
                retract: false,
                expect,
            })
        };
        let streamed = read_aside(files, held, bulk.take(), &mut each)?;
        if let Streamed::Refused = streamed {
            refused = true;
            return Ok(false);
        }
        progress("writing", done, done);
        // A data set without a control layer leaves the stored one alone.
        let mut gone: Vec<PlannedChange> = heads
            .iter()
            .filter(|(k, _)| has_control || **k != RecordKind::Control)
            .flat_map(|(k, m)| {
                m.iter()
                    .filter(|(_, h)| !h.seen)
                    .map(|(key, h)| PlannedChange {
                        kind: *k,
                        key: key.to_string(),
                        retract: true,
                        replaces: Some(h.version),
                    })
            })
            .collect();
        gone.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
        report.retracted = gone.len();
        if !gone.is_empty() && !opts.allow_retract && !opts.dry_run {
            would_retract = Some(gone);
            return Ok(false);
        }
        for g in &gone {
            sink.put(Change {
                record: crate::ops::tombstone(g.kind, &g.key),
                retract: true,
                expect: Expect::Version(g.replaces.unwrap_or_default()),
            })?;
        }
        if opts.dry_run {
            planned.extend(gone);
            return Ok(false);
        }
        Ok(sink.count() > 0)
    };
    let txn: Option<TxnInfo> = if opts.dry_run {
        feed(&mut Nowhere(0))?;
        None
    } else {
        store.write_streamed(note, &mut feed)?
    };
    if refused {
        return Ok(StreamedImport::Refused);
    }
    if let Some(gone) = would_retract {
        return Ok(StreamedImport::WouldRetract(gone));
    }
    drop(heads);
    if let Some(t) = &txn {
        progress("imaging", 0, 0);
        // A cache: an import whose image cannot be written or stored has
        // still succeeded, and readers rebuild from the records.
        if let Ok(Some(image)) = image_of_txn(store, t.id) {
            let _ = store.put_image(t.id, &image, ImageCheck::After(base));
        }
    }
    report.txn = txn;
    Ok(StreamedImport::Done { report, planned })
}

/// Records handed from the reading thread to the writing one at a time.
const BATCH: usize = 512;

/// [`enduse_load::stream_records`] on another thread, so that reading and
/// checking the files (one core) overlaps writing the store (the other):
/// each record reaches `each` here, in the order read. An error of `each`
/// stops the reading too.
fn read_aside(
    files: &DataFiles,
    held: enduse_load::Held,
    bulk: Option<&mut (dyn BufRead + Send)>,
    each: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<Streamed, StoreError> {
    /// The writing side hung up.
    struct Gone;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(16);
        let reader = s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let streamed = enduse_load::stream_records(files, bulk, held, &mut |r| {
                batch.push(r);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.send(full).map_err(|_| Gone)?;
                }
                Ok(())
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            streamed
        });
        let mut failed = None;
        for batch in rx.iter() {
            for r in batch {
                if let Err(e) = each(r) {
                    failed = Some(e);
                    break;
                }
            }
            if failed.is_some() {
                break;
            }
        }
        // Hang up first, so that a reader blocked on a full channel stops.
        drop(rx);
        let read = reader.join();
        if let Some(e) = failed {
            return Err(e);
        }
        match read {
            Ok(Ok(streamed)) => Ok(streamed),
            Ok(Err(Gone)) | Err(_) => Err(StoreError::Usage(
                "internal: the reading of the data set stopped".into(),
            )),
        }
    })
}

/// The image of the register as of transaction `txn`, written from scans
/// of the store: the other records held, the lots and the transfers a
/// record at a time. `None` where a rule was stored without its header.
pub fn image_of_txn(store: &mut dyn Store, txn: i64) -> Result<Option<Vec<u8>>, StoreError> {
    let mut rest: Vec<Record> = Vec::new();
    let (mut lots, mut transfers) = (0usize, 0usize);
    store.scan_heads(None, Some(txn), &mut |v| {
        if v.retracted {
            return Ok(());
        }
        match v.record.kind {
            RecordKind::Lot => lots += 1,
            RecordKind::Transfer => transfers += 1,
            _ => rest.push(v.record),
        }
        Ok(())
    })?;
    let refs: Vec<&Record> = rest.iter().collect();
    let Some(mut writer) = enduse_load::image_writer_for_records("import", &refs, lots, transfers)?
    else {
        return Ok(None);
    };
    drop(refs);
    drop(rest);
    let bad = |e: enduse_load::ImageError| StoreError::Usage(e.to_string());
    // The store is read here while another core decodes and encodes the
    // records read.
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(RecordKind, Vec<Record>)>(16);
        let encoder = s.spawn(
            move || -> Result<enduse_load::ImageWriter, enduse_load::ImageError> {
                for (kind, batch) in rx.iter() {
                    for r in &batch {
                        match kind {
                            RecordKind::Lot => writer.lot_record(r)?,
                            _ => writer.transfer_record(r)?,
                        }
                    }
                }
                Ok(writer)
            },
        );
        let mut read = Ok(());
        for kind in [RecordKind::Lot, RecordKind::Transfer] {
            let mut batch = Vec::with_capacity(BATCH);
            read = store.scan_heads(Some(kind), Some(txn), &mut |v| {
                if !v.retracted {
                    batch.push(v.record);
                }
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    tx.send((kind, full)).map_err(|_| {
                        StoreError::Usage("internal: the image's encoder stopped".into())
                    })?;
                }
                Ok(())
            });
            if read.is_err() {
                break;
            }
            if !batch.is_empty() && tx.send((kind, batch)).is_err() {
                break;
            }
        }
        drop(tx);
        // The encoder's own error first: a scan it stopped reports only
        // that it stopped.
        match encoder.join() {
            Ok(Ok(writer)) => {
                read?;
                writer.finish().map(Some).map_err(bad)
            }
            Ok(Err(e)) => Err(bad(e)),
            Err(_) => Err(StoreError::Usage(
                "internal: the image's encoder failed".into(),
            )),
        }
    })
}
