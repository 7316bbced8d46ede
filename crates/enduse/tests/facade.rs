#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The library as a front end sees it: snapshots from one read, cached per
//! transaction; the corpus answered from a database; one query builder;
//! errors with kinds; writes that say what they do; an export that fails
//! leaves nothing.

use enduse::{
    Ask, ErrorKind, Hooks, ImportOptions, PreparedImport, PutRequest, Register, RegisterSource,
};
use enduse_testkit::{assert_no_mismatch, corpus, LibraryRunner};
use std::sync::Arc;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

fn memory() -> Register {
    let mut r = Register::open("memory:").unwrap();
    r.init(&mut |_, _, _| {}).unwrap();
    r
}

const SOURCE: &str = r#"id = "test-source"
outlet = "Test"
date = "2024-01-01"
title = "A test source"
"#;

fn put_source(
    r: &mut Register,
    text: &str,
    expect: Option<i64>,
) -> enduse::Result<enduse::EditReport> {
    r.put(&PutRequest {
        kind: "source".into(),
        file: "source.toml".into(),
        text: text.into(),
        owner: None,
        expect_version: expect,
    })
}

#[test]
fn snapshots_are_cached_per_transaction() {
    let mut r = memory();
    let a = r.snapshot(None).unwrap();
    let b = r.snapshot(None).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "no write, no new read");
    assert_eq!(a.origin().txn, Some(1));
    assert_eq!(a.origin().source, "database");
    let t1 = r.log().unwrap().transactions[0].at.clone();
    let done = put_source(&mut r, SOURCE, None).unwrap();
    assert_eq!(done.txn.as_ref().unwrap().id, 2);
    let c = r.snapshot(None).unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(c.origin().txn, Some(2));
    // As of the first transaction's instant: the first snapshot again.
    let then = r
        .snapshot(Some(enduse::parse_instant(&t1).unwrap()))
        .unwrap();
    assert!(Arc::ptr_eq(&a, &then));
}

#[test]
fn the_corpus_is_answered_alike_from_a_database() {
    let c = corpus();
    let mut r = memory();
    let lib = LibraryRunner::new(r.snapshot(None).unwrap(), &c.today);
    assert_no_mismatch(&lib.run(&c.cases));
}

#[test]
fn one_query_builder_for_every_front_end() {
    let c = corpus();
    let snapshot = RegisterSource::Bundled.snapshot().unwrap();
    for case in c.cases.iter().step_by(7) {
        let ask = case.ask();
        let a = snapshot.resolve(&ask, c.today_date()).unwrap().query;
        let b = enduse::resolve_query(snapshot.engine(), &ask, c.today_date()).unwrap();
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::to_value(&b).unwrap(),
            "{}",
            case.name
        );
    }
}

#[test]
fn an_internal_failure_is_never_an_unknown_model() {
    let snapshot = RegisterSource::Bundled.snapshot().unwrap();
    let mut ask = Ask::new("UA", "use", "ATACMS");
    ask.place = Some("RU-KRS".into());
    ask.as_of = Some("2024-09-11".into());
    let mut q = snapshot.resolve(&ask, today()).unwrap().query;
    q.item = enduse::ItemRef::Model(enduse::ModelId::new("no-such-model"));
    let e = snapshot.decide(&q).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert_eq!(e.code(), "enduse::internal");
    assert!(!e.to_string().contains("unknown item model"), "{e}");
    // The user's unknown model is a bad request, and says so.
    let e = snapshot
        .check(&Ask::new("UA", "use", "no-such-model"), today())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert_eq!(e.code(), "enduse::unknown_model");
}

#[test]
fn error_kinds() {
    let mut r = memory();
    let e = r.history("policy", "no-such-rule").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = r.history("weapon", "x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    put_source(&mut r, SOURCE, None).unwrap();
    let e = put_source(&mut r, &SOURCE.replace("Test\"", "Other\""), Some(5)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(e.code(), "enduse::store::conflict");
    let e = Register::open_read_only("/nonexistent/dir/x.db").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let report = e.report();
    assert_eq!(serde_json::to_value(&report).unwrap()["kind"], "not_found");
}

#[test]
fn put_writes_only_what_changes_and_needs_the_version_it_replaces() {
    let mut r = memory();
    assert!(put_source(&mut r, SOURCE, None).unwrap().txn.is_some());
    let same = put_source(&mut r, SOURCE, None).unwrap();
    assert!(same.txn.is_none(), "{same:?}");
    assert!(same.done.starts_with("nothing to change"));
    let changed = SOURCE.replace("A test source", "Another title");
    let e = put_source(&mut r, &changed, None).unwrap_err();
    assert_eq!(e.code(), "enduse::exists");
    assert!(put_source(&mut r, &changed, Some(1)).unwrap().txn.is_some());
    assert_eq!(r.log().unwrap().transactions.len(), 3);
}

/// Each edit report names the record and the version it wrote.
#[test]
fn edit_reports_name_the_record_and_the_version_written() {
    let mut r = memory();
    let first = put_source(&mut r, SOURCE, None).unwrap();
    assert_eq!(
        (first.kind.as_str(), first.key.as_str(), first.version),
        ("source", "test-source", Some(1))
    );
    let same = put_source(&mut r, SOURCE, Some(1)).unwrap();
    assert_eq!((same.key.as_str(), same.version), ("test-source", None));
    let changed = SOURCE.replace("A test source", "Another title");
    assert_eq!(
        put_source(&mut r, &changed, Some(1)).unwrap().version,
        Some(2)
    );
    let gone = r.retract("source", "test-source", Some(2)).unwrap();
    assert_eq!(
        (gone.kind.as_str(), gone.key.as_str(), gone.version),
        ("source", "test-source", Some(3))
    );
    let h = r.history("source", "test-source").unwrap();
    let last = h.versions.last().unwrap();
    assert_eq!((last.version, last.retracted), (3, true));
    // A put over the retraction names the retraction's version.
    assert_eq!(
        put_source(&mut r, SOURCE, Some(3)).unwrap().version,
        Some(4)
    );
    let json = serde_json::to_value(&gone).unwrap();
    assert_eq!(json["version"], 3);
    assert_eq!(json["kind"], "source");
}

#[test]
fn an_import_never_retracts_silently() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gen");
    enduse::gen::generate(
        &data,
        enduse::gen::GenSpec {
            transfers: 10,
            policies: 10,
            ..Default::default()
        },
        &|_, _| {},
    )
    .unwrap();
    let mut r = memory();
    let hooks = Hooks::default();
    let plan = r
        .import(
            PreparedImport::read_dir(&data, &hooks).unwrap(),
            ImportOptions {
                dry_run: true,
                allow_retract: false,
            },
            &mut |_, _, _| {},
        )
        .unwrap();
    assert!(plan.dry_run && plan.txn.is_none());
    assert!(plan.retracted > 0);
    assert_eq!(
        plan.changes
            .iter()
            .filter(|c| c.change == "retract")
            .count(),
        plan.retracted
    );
    let e = r
        .import(
            PreparedImport::read_dir(&data, &hooks).unwrap(),
            ImportOptions::default(),
            &mut |_, _, _| {},
        )
        .unwrap_err();
    assert_eq!(e.code(), "enduse::would_retract");
    assert_eq!(r.log().unwrap().transactions.len(), 1);
    let done = r
        .import(
            PreparedImport::read_dir(&data, &hooks).unwrap(),
            ImportOptions {
                dry_run: false,
                allow_retract: true,
            },
            &mut |_, _, _| {},
        )
        .unwrap();
    assert!(done.txn.is_some());
}

/// Every file of a data-set directory, by its name in the directory.
fn files_of(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for sub in ["", "policies"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = e.unwrap().path();
            if path.is_file() {
                let name = path.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
                out.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// A directory is validated as a stream and read again at the import: a
/// `transfers.toml` broken in between is refused then, with its problem
/// located, and nothing is written; one still valid is imported as read
/// then.
#[test]
fn an_import_reads_transfers_again_and_checks_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gen");
    enduse::gen::generate(
        &data,
        enduse::gen::GenSpec {
            transfers: 50,
            policies: 20,
            ..Default::default()
        },
        &|_, _| {},
    )
    .unwrap();
    let hooks = Hooks::default();
    let options = ImportOptions {
        dry_run: false,
        allow_retract: true,
    };
    let path = data.join("transfers.toml");
    let good = std::fs::read_to_string(&path).unwrap();

    let mut r = memory();
    let prepared = PreparedImport::read_dir(&data, &hooks).unwrap();
    assert!(prepared.is_streamed());
    let records = prepared.len();
    let at = good.find("lot = \"").unwrap();
    let mut broken = good.clone();
    broken.insert_str(at + "lot = \"".len(), "NO-SUCH-");
    std::fs::write(&path, &broken).unwrap();
    let e = r.import(prepared, options, &mut |_, _, _| {}).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest, "{e:?}");
    assert!(
        e.problems()
            .iter()
            .any(|p| p.file == "transfers.toml" && p.message.contains("NO-SUCH-")),
        "{:?}",
        e.problems()
    );
    assert_eq!(r.log().unwrap().transactions.len(), 1, "nothing written");

    std::fs::write(&path, &good).unwrap();
    let prepared = PreparedImport::read_dir(&data, &hooks).unwrap();
    let done = r.import(prepared, options, &mut |_, _, _| {}).unwrap();
    assert_eq!(done.added + done.changed + done.unchanged, records);
    assert_eq!(r.log().unwrap().transactions.len(), 2);
}

#[test]
fn an_import_from_memory_is_the_import_of_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gen");
    enduse::gen::generate(
        &data,
        enduse::gen::GenSpec {
            transfers: 20,
            policies: 10,
            ..Default::default()
        },
        &|_, _| {},
    )
    .unwrap();
    let hooks = Hooks::default();
    let files = files_of(&data);
    assert!(files.keys().any(|k| k.starts_with("policies/")));
    let plan = |prepared: PreparedImport| {
        let mut r = memory();
        r.import(
            prepared,
            ImportOptions {
                dry_run: true,
                allow_retract: true,
            },
            &mut |_, _, _| {},
        )
        .unwrap()
    };
    let from_dir = plan(PreparedImport::read_dir(&data, &hooks).unwrap());
    let from_memory = plan(PreparedImport::from_files("upload", files.clone(), &hooks).unwrap());
    assert!(from_memory.added > 0);
    let changes = |r: &enduse::ImportReport| {
        r.changes
            .iter()
            .map(|c| (c.change, c.kind.clone(), c.key.clone(), c.version))
            .collect::<Vec<_>>()
    };
    assert_eq!(changes(&from_dir), changes(&from_memory));
    assert_eq!(
        (from_dir.added, from_dir.changed, from_dir.retracted),
        (
            from_memory.added,
            from_memory.changed,
            from_memory.retracted
        )
    );

    // A broken transfer: refused from memory with the problem located in
    // the same file and line as from the directory, and nothing written.
    let mut broken = files;
    let text = broken.get_mut("transfers.toml").unwrap();
    let at = text.find("lot = \"").unwrap();
    text.insert_str(at + "lot = \"".len(), "NO-SUCH-");
    std::fs::write(data.join("transfers.toml"), &broken["transfers.toml"]).unwrap();
    let e_dir = PreparedImport::read_dir(&data, &hooks).err().unwrap();
    let e_mem = PreparedImport::from_files("upload", broken, &hooks)
        .err()
        .unwrap();
    assert_eq!(e_dir.code(), e_mem.code());
    let located = |e: &enduse::Error| {
        e.problems()
            .iter()
            .map(|p| (p.file.clone(), p.line, p.message.clone()))
            .collect::<Vec<_>>()
    };
    assert!(!located(&e_mem).is_empty());
    assert_eq!(located(&e_dir), located(&e_mem));
    assert!(located(&e_mem).iter().all(|(f, ..)| f == "transfers.toml"));
}

#[test]
fn a_failed_export_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let hooks = Hooks {
        export_file: Some(Arc::new(|name: &str| {
            if name.starts_with("policies/") {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(())
            }
        })),
        ..Hooks::default()
    };
    let mut r = memory().with_hooks(hooks);
    let e = r.export(&out, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let mut r = memory();
    let report = r.export(&out, None).unwrap();
    assert!(report.files.iter().any(|f| f == "parties.toml"));
    assert!(out.join("parties.toml").is_file());
}

#[test]
fn reports_serialise_to_the_documented_json() {
    let snapshot = RegisterSource::Bundled.snapshot().unwrap();
    let mut ask = Ask::new("UA", "use", "ATACMS");
    ask.place = Some("RU-KRS".into());
    ask.as_of = Some("2024-09-11".into());
    let v = serde_json::to_value(snapshot.check(&ask, today()).unwrap()).unwrap();
    for field in [
        "outcome",
        "as_of",
        "known_at",
        "request",
        "approvals",
        "parties",
        "missing",
        "notes",
    ] {
        assert!(v.get(field).is_some(), "{field}: {v}");
    }
    assert!(v.get("period").is_none() && v.get("explanation").is_none());
    let w = snapshot
        .locate(
            &enduse::WhereAsk {
                at: "45.0,34.1".into(),
                as_of: Some("2024-09-11".into()),
            },
            today(),
        )
        .unwrap();
    let w = serde_json::to_value(w).unwrap();
    assert_eq!(w["de_jure"]["subdivision"], "UA-43");
    assert_eq!(w["control"]["controlled_by"], "RU");
    let l = serde_json::to_value(snapshot.list("parties", Some("kingdom")).unwrap()).unwrap();
    assert_eq!(l["items"][0]["id"], "GB");
}
