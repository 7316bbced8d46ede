//! A data set read as a stream of records, for an import that must not hold
//! it: the lots and transfers (`transfers.toml`, nearly all of a large data
//! set) are read a table at a time, checked, and handed on at once; the
//! rules are parsed and checked a policy file at a time. What is kept is
//! the rest of the register and, per lot, its text and first dates.
//!
//! The stream only says whether the data set is valid. When it is not, or
//! when a file is in a form it does not read (see `for_each_table`), its
//! answer is [`Streamed::Refused`], and the importer must discard what it
//! was handed and ask [`crate::records_from_files`], whose problems name
//! file and line. The checks are the engine's own (`BulkChecker`), so the
//! stream never accepts what the loader refuses.

use crate::files::DataFiles;
use crate::records::{
    derive_times, for_each_table_aside, known_in, policy_record, record_of, split_toml_except,
    start_of, str_field, Record, RecordKind,
};
use crate::toml_model::{lot_of, transfer_of, LotToml, TransferToml};
use enduse_core::{BulkChecker, PartyId, Register};
use std::collections::HashMap;
use std::io::BufRead;

/// The file that holds the lots and transfers.
pub const BULK_FILE: &str = "transfers.toml";

/// How much of the files it holds (all but [`BULK_FILE`]) a stream checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// All of it.
    Unchecked,
    /// An earlier stream over these very files (the same [`DataFiles`],
    /// unchanged since) found them valid: their rules are not validated
    /// against the schema again, the costliest check. The rest, cheap, runs
    /// again, as the bulk file is read again and may have changed.
    Checked,
}

/// How a stream of records ended.
#[derive(Debug)]
pub enum Streamed {
    /// The data set is valid and every record of it went to the sink.
    Valid(Box<StreamSummary>),
    /// The data set is not valid, or not in a form the stream reads: what
    /// the sink received must be discarded.
    Refused,
}

/// What a valid stream held at its end.
#[derive(Debug)]
pub struct StreamSummary {
    /// The register without its lots, transfers and rules, for the checks
    /// that need a register (the geography's).
    pub register: Register,
    /// Records handed to the sink.
    pub records: u64,
    /// Lots among them.
    pub lots: u64,
    /// Transfers among them.
    pub transfers: u64,
}

/// A lot met in the stream: declared (with its text), or only named by a
/// transfer so far; and the first dates of its transfers.
#[derive(Default)]
struct PendingLot {
    body: Option<Box<str>>,
    valid_from: Option<Box<str>>,
    recorded_at: Option<Box<str>>,
}

/// Keeps `d` as the first date if it starts strictly earlier than the one
/// kept, as [`derive_times`] does: ties keep the first met.
fn keep(kept: &mut Option<Box<str>>, d: Option<&str>) {
    if let Some(d) = d {
        if kept.as_deref().is_none_or(|k| start_of(d) < start_of(k)) {
            *kept = Some(d.into());
        }
    }
}

/// Reads the data set `files` (every file but [`BULK_FILE`], which comes
/// from `bulk` if given, else from `files`) and hands each of its records
/// to `sink`, exactly the records [`crate::records_from_files`] returns
/// for it, in another order. An error of the sink stops the stream.
pub fn stream_records<E>(
    files: &DataFiles,
    bulk: Option<&mut (dyn BufRead + Send)>,
    held: Held,
    sink: &mut dyn FnMut(Record) -> Result<(), E>,
) -> Result<Streamed, E> {
    let mut count = 0u64;
    let Some((raw, mut records)) = split_toml_except(files, Some(BULK_FILE)) else {
        return Ok(Streamed::Refused);
    };
    let mut problems = Vec::new();
    let register = crate::toml_model::convert(raw, &mut problems);
    let Some(schema) = files.get("schema.cedarschema") else {
        return Ok(Streamed::Refused);
    };
    if !problems.is_empty() {
        return Ok(Streamed::Refused);
    }
    let mut checker = BulkChecker::new(register, schema);
    if checker.failed() {
        return Ok(Streamed::Refused);
    }
    let control = match files.get(crate::CONTROL_FILE).map(crate::control_records) {
        Some(Ok(c)) => c,
        Some(Err(_)) => return Ok(Streamed::Refused),
        None => Vec::new(),
    };
    let source_date: HashMap<String, String> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Source)
        .filter_map(|r| Some((r.key.clone(), r.recorded_at.clone()?)))
        .collect();
    derive_times(&mut records, &[]);
    for r in records {
        count += 1;
        sink(r)?;
    }

    // The rules, a policy file at a time, two files at once: every other
    // file is parsed (and validated) on a second core.
    let policy: Vec<(&str, &str)> = files.policy_files().collect();
    let validator = match held {
        Held::Unchecked => match checker.validator() {
            Some(v) => Some(v),
            None => return Ok(Streamed::Refused),
        },
        Held::Checked => None,
    };
    let parse = |i: usize| -> Option<(Vec<enduse_core::Rule>, Vec<enduse_core::Problem>)> {
        let (name, text) = policy.get(i)?;
        let owner = PartyId::new(crate::policy_owner(name));
        let rules = enduse_core::parse_rules(&owner, name, text).ok()?;
        let found = validator
            .as_ref()
            .map(|v| v.problems(&rules))
            .unwrap_or_default();
        Some((rules, found))
    };
    let mut refused = false;
    let mut stopped: Option<E> = None;
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let parse = &parse;
        let n = policy.len();
        s.spawn(move || {
            for i in (1..n).step_by(2) {
                if tx.send(parse(i)).is_err() {
                    break;
                }
            }
        });
        for i in 0..n {
            let got = if i % 2 == 0 {
                parse(i)
            } else {
                rx.recv().ok().flatten()
            };
            let Some((rules, found)) = got else {
                refused = true;
                break;
            };
            checker.rules_validated(&rules, found);
            if checker.failed() {
                refused = true;
                break;
            }
            let text = policy.get(i).map(|(_, t)| *t).unwrap_or_default();
            for r in &rules {
                let cedar = text.get(r.span.clone()).unwrap_or_default().to_owned();
                count += 1;
                if let Err(e) = sink(policy_record(r, cedar)) {
                    stopped = Some(e);
                    break;
                }
            }
            if stopped.is_some() {
                break;
            }
        }
        // Hang up, so that a parser blocked on a full channel stops.
        drop(rx);
    });
    if let Some(e) = stopped {
        return Err(e);
    }
    if refused {
        return Ok(Streamed::Refused);
    }

    let mut lots: HashMap<Box<str>, PendingLot> = HashMap::new();
    let (mut n_lots, mut n_transfers) = (0u64, 0u64);
    let mut failed: Option<E> = None;
    let mut each = |name: &str, json: serde_json::Value| -> Option<()> {
        match name {
            "lot" => {
                let body = json.to_string();
                let l: LotToml = serde_json::from_str(&body).ok()?;
                let lot = lot_of(l);
                checker.lot(&lot);
                let pending = lots.entry(lot.id.as_str().into()).or_default();
                if pending.body.is_some() {
                    // Declared twice.
                    return None;
                }
                pending.body = Some(body.into_boxed_str());
                n_lots += 1;
            }
            "transfer" => {
                let key = str_field(&json, "id")?;
                let mut rec = record_of(RecordKind::Transfer, key, &json);
                rec.recorded_at = known_in(&json, &source_date);
                drop(json);
                let t: TransferToml = serde_json::from_str(&rec.body).ok()?;
                let mut problems = Vec::new();
                let t = transfer_of(t, &mut problems);
                if !problems.is_empty() {
                    return None;
                }
                checker.transfer(&t);
                let pending = lots.entry(t.lot.as_str().into()).or_default();
                keep(&mut pending.valid_from, rec.valid_from.as_deref());
                keep(&mut pending.recorded_at, rec.recorded_at.as_deref());
                n_transfers += 1;
                count += 1;
                if let Err(e) = sink(rec) {
                    failed = Some(e);
                    return None;
                }
            }
            _ => return None,
        }
        (!checker.failed()).then_some(())
    };
    let read = match bulk {
        Some(reader) => for_each_table_aside(reader, &mut each),
        None => match files.get(BULK_FILE) {
            Some(text) => for_each_table_aside(&mut text.as_bytes(), &mut each),
            None => Some(()),
        },
    };
    if let Some(e) = failed {
        return Err(e);
    }
    if read.is_none() || lots.values().any(|l| l.body.is_none()) {
        return Ok(Streamed::Refused);
    }
    let register = match checker.finish(&|l| lots.contains_key(l.as_str())) {
        Ok(r) => r,
        Err(_) => return Ok(Streamed::Refused),
    };
    // By key, so that a store's index grows in order.
    let mut lots: Vec<(Box<str>, PendingLot)> = lots.into_iter().collect();
    lots.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (key, l) in lots {
        let key = String::from(key);
        count += 1;
        sink(Record {
            kind: RecordKind::Lot,
            lot: Some(key.clone()),
            key,
            body: l.body.map(String::from).unwrap_or_default(),
            valid_from: l.valid_from.map(String::from),
            valid_to: None,
            recorded_at: l.recorded_at.map(String::from),
        })?;
    }
    for r in control {
        count += 1;
        sink(r)?;
    }
    Ok(Streamed::Valid(Box::new(StreamSummary {
        register,
        records: count,
        lots: n_lots,
        transfers: n_transfers,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn bundled_map() -> BTreeMap<String, String> {
        crate::bundled_files()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn streamed(files: &DataFiles, from_reader: bool) -> Option<Vec<Record>> {
        let mut out = Vec::new();
        let bulk_text = files.get(BULK_FILE).unwrap_or_default().to_owned();
        let mut reader = bulk_text.as_bytes();
        let bulk: Option<&mut (dyn BufRead + Send)> =
            if from_reader { Some(&mut reader) } else { None };
        let r = stream_records::<()>(files, bulk, Held::Unchecked, &mut |r| {
            out.push(r);
            Ok(())
        })
        .ok()?;
        match r {
            Streamed::Valid(s) => {
                assert_eq!(s.records as usize, out.len());
                Some(out)
            }
            Streamed::Refused => None,
        }
    }

    fn sorted(mut v: Vec<Record>) -> Vec<Record> {
        v.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
        v
    }

    /// The stream hands out exactly the records of the whole-data-set path,
    /// from a reader or from the held text alike.
    #[test]
    fn streams_the_records_the_loader_returns() {
        let mut map = bundled_map();
        map.insert(
            crate::CONTROL_FILE.into(),
            r#"{"areas": [{"id": "c1", "controller": "RU", "valid_from": "2022-03-01", "places": ["UA-43"]}]}"#
                .into(),
        );
        let files = DataFiles::from_map("bundled", map);
        let (_, whole) = crate::records_from_files(&files).expect("bundled data set is valid");
        for from_reader in [false, true] {
            let got =
                streamed(&files, from_reader).expect("the stream accepts the bundled data set");
            assert_eq!(sorted(got), sorted(whole.clone()));
        }
    }

    /// Transfers named before their lot is declared, and a lot without
    /// transfers, come out as the loader makes them.
    #[test]
    fn lots_declared_after_their_transfers() {
        let mut map = bundled_map();
        let text = map.get(BULK_FILE).cloned().unwrap_or_default();
        let mut tables: Vec<&str> = text.split("\n[[").collect();
        let head = tables.remove(0);
        let (lots, transfers): (Vec<&str>, Vec<&str>) =
            tables.into_iter().partition(|t| t.starts_with("lot]]"));
        let mut reordered = head.to_owned();
        for t in transfers.iter().chain(lots.iter()) {
            reordered.push_str("\n[[");
            reordered.push_str(t);
        }
        reordered.push_str("\n[[lot]]\nid = \"lonely\"\nmodel = \"HIMARS\"\n");
        map.insert(BULK_FILE.into(), reordered);
        let files = DataFiles::from_map("reordered", map);
        let (_, whole) = crate::records_from_files(&files).expect("still valid");
        let got = streamed(&files, true).expect("the stream accepts it");
        assert_eq!(sorted(got), sorted(whole));
    }

    /// Every broken data set the loader refuses, the stream refuses too.
    #[test]
    fn refuses_what_the_loader_refuses() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "transfers.toml",
                "from = \"US\"\nto = \"UA\"",
                "from = \"XX\"\nto = \"UA\"",
            ),
            (
                "transfers.toml",
                "lot = \"us-ua-himars\"",
                "lot = \"no-such-lot\"",
            ),
            (
                "transfers.toml",
                "model = \"HIMARS\"",
                "model = \"NO-SUCH-MODEL\"",
            ),
            (
                "transfers.toml",
                "date = \"2022-06-01\"",
                "date = \"2022-13-01\"",
            ),
            (
                "transfers.toml",
                "id = \"us-ua-himars-2022-06-second\"\nlot",
                "id = \"us-ua-himars\"\nlot",
            ),
            (
                "transfers.toml",
                "id = \"us-ua-himars-2022-06-second\"\nmodel",
                "id = \"us-ua-himars\"\nmodel",
            ),
            (
                "transfers.toml",
                "conditions = [\"us-himars-ukraine-only\"",
                "conditions = [\"no-such-rule\"",
            ),
            (
                "transfers.toml",
                "to = \"UA\"\nstages",
                "to = \"US\"\nstages",
            ),
            (
                "transfers.toml",
                "sources = [\"reuters-2022-06-23-himars-arrive\"]",
                "sources = [\"no-such-source\"]",
            ),
            (
                "transfers.toml",
                "quantity = 4\n",
                "quantity = 4\ncolour = \"green\"\n",
            ),
            (
                "transfers.toml",
                "[[lot]]\nid = \"us-ua-himars\"\n",
                "[[lot]]\nid = \"us-ua-himars\"\n[[lot]]\n",
            ),
            (
                "approvals.toml",
                "lots = [\"pl-exgdr-mig-29\"]",
                "lots = [\"no-such-lot\"]",
            ),
            (
                "defaults.toml",
                "transfers = [\"de-fi-d-30\"]",
                "transfers = [\"no-such-transfer\"]",
            ),
            (
                "defaults.toml",
                "transfers = [\"de-fi-d-30\"]",
                "transfers = [\"us-ua-himars\"]",
            ),
            (
                "policies/CH.cedar",
                "Lot::\"ch-pz87-leopard-2\"",
                "Lot::\"no-such-lot\"",
            ),
        ];
        for (file, from, to) in cases {
            let mut map = bundled_map();
            let text = map.get(*file).cloned().unwrap_or_default();
            assert!(text.contains(from), "{file} lacks `{from}`");
            map.insert((*file).to_owned(), text.replacen(from, to, 1));
            let files = DataFiles::from_map("broken", map);
            assert!(
                crate::records_from_files(&files).is_err(),
                "the loader accepts {file}: `{to}`"
            );
            for from_reader in [false, true] {
                assert!(
                    streamed(&files, from_reader).is_none(),
                    "the stream accepts {file}: `{to}`"
                );
            }
        }
    }

    /// The sink's error stops the stream and is returned.
    #[test]
    fn a_sink_error_stops_the_stream() {
        let files = DataFiles::from_map("bundled", bundled_map());
        let mut n = 0;
        let r = stream_records(&files, None, Held::Unchecked, &mut |_| {
            n += 1;
            if n == 500 {
                Err("full")
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err("full")));
        assert_eq!(n, 500);
    }
}
