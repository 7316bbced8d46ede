#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The streamed import (`import_streamed`) against the whole-data-set one
//! (`import`), on twin databases of every backend: the same heads, the
//! same image, the same report; and nothing written when it refuses.

use enduse_load::{DataFiles, Held, Record, RecordKind};
use enduse_store::{
    image_of_txn, import, import_streamed, records_at, PlannedChange, Store, StoreError,
    StreamInput, StreamOptions, StreamedImport,
};
use enduse_testkit::pgcluster::Cluster;
use std::collections::BTreeMap;

/// The bundled data set with `n` more lots and transfers, declared out of
/// key order and with transfers before their lots, so that the stream's
/// pending lots and the image's key order are both exercised.
fn data(n: usize) -> DataFiles {
    let mut map: BTreeMap<String, String> = enduse_load::bundled_files()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut extra = String::new();
    for i in (0..n).rev() {
        extra.push_str(&format!(
            "\n[[transfer]]\nid = \"zz-t{i:05}\"\nlot = \"zz-l{:05}\"\nfrom = \"US\"\nto = \"UA\"\n\
             stages = [{{ stage = \"delivered\", date = \"2023-{:02}-{:02}\" }}]\n",
            i / 2,
            1 + i % 12,
            1 + i % 28
        ));
    }
    for i in 0..n.div_ceil(2) {
        extra.push_str(&format!(
            "\n[[lot]]\nid = \"zz-l{i:05}\"\nmodel = \"HIMARS\"\nquantity = {}\n",
            1 + i % 9
        ));
    }
    map.entry("transfers.toml".into())
        .or_default()
        .push_str(&extra);
    DataFiles::from_map("test", map)
}

fn with(files: &DataFiles, name: &str, f: impl FnOnce(&str) -> String) -> DataFiles {
    let mut map: BTreeMap<String, String> = files
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let new = f(map.get(name).map(String::as_str).unwrap_or_default());
    map.insert(name.into(), new);
    DataFiles::from_map("edited", map)
}

fn sorted(mut v: Vec<Record>) -> Vec<Record> {
    v.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    v
}

fn streamed(
    store: &mut dyn Store,
    files: &DataFiles,
    opts: StreamOptions,
) -> Result<StreamedImport, StoreError> {
    let input = StreamInput {
        files,
        bulk: None,
        held: Held::Unchecked,
    };
    import_streamed(store, input, opts, "streamed", 0, &mut |_, _, _| {})
}

fn allow() -> StreamOptions {
    StreamOptions {
        dry_run: false,
        allow_retract: true,
    }
}

fn done(r: StreamedImport) -> (enduse_store::ImportReport, Vec<PlannedChange>) {
    match r {
        StreamedImport::Done { report, planned } => (report, planned),
        other => panic!("not done: {other:?}"),
    }
}

fn txns(s: &mut dyn Store) -> usize {
    s.transactions().unwrap().len()
}

/// One backend: `fresh()` opens a new empty database.
fn scenario(fresh: &dyn Fn() -> Box<dyn Store>) {
    let files = data(40);
    let (mut whole, mut stream) = (fresh(), fresh());

    // A first import: the same heads, counts and image as the whole one.
    let a = import(whole.as_mut(), &files, "whole", &mut |_, _, _| {}).unwrap();
    let (b, planned) = done(streamed(stream.as_mut(), &files, allow()).unwrap());
    assert!(planned.is_empty(), "only a dry run lists its changes");
    assert_eq!(
        (a.added, a.changed, a.retracted),
        (b.added, b.changed, b.retracted)
    );
    assert!(b.added > 40);
    let heads = sorted(records_at(whole.as_mut(), None).unwrap());
    assert_eq!(sorted(records_at(stream.as_mut(), None).unwrap()), heads);
    let (ta, tb) = (a.txn.unwrap().id, b.txn.unwrap().id);
    let image = whole
        .image(ta)
        .unwrap()
        .expect("the whole import stores an image");
    assert_eq!(stream.image(tb).unwrap().as_deref(), Some(image.as_slice()));
    assert_eq!(
        image_of_txn(stream.as_mut(), tb).unwrap().as_deref(),
        Some(image.as_slice())
    );

    // Again, unchanged: nothing written.
    let (again, _) = done(streamed(stream.as_mut(), &files, allow()).unwrap());
    assert!(again.txn.is_none());
    assert_eq!(again.unchanged, heads.len());
    assert_eq!(txns(stream.as_mut()), 1);

    // One transfer's date changed: it and its lot (whose time it sets) are
    // new versions, as the whole import makes them.
    let edited = with(&files, "transfers.toml", |t| {
        t.replacen("id = \"zz-t00000\"\nlot = \"zz-l00000\"\nfrom = \"US\"\nto = \"UA\"\nstages = [{ stage = \"delivered\", date = \"2023-01-01\" }]",
                   "id = \"zz-t00000\"\nlot = \"zz-l00000\"\nfrom = \"US\"\nto = \"UA\"\nstages = [{ stage = \"delivered\", date = \"2022-12-01\" }]", 1)
    });
    let a = import(whole.as_mut(), &edited, "whole", &mut |_, _, _| {}).unwrap();
    let (b, _) = done(streamed(stream.as_mut(), &edited, allow()).unwrap());
    assert_eq!(
        (a.added, a.changed, a.unchanged),
        (b.added, b.changed, b.unchanged)
    );
    assert_eq!(b.changed, 2);
    let heads = sorted(records_at(whole.as_mut(), None).unwrap());
    assert_eq!(sorted(records_at(stream.as_mut(), None).unwrap()), heads);
    let image = whole.image(a.txn.unwrap().id).unwrap().unwrap();
    assert_eq!(stream.image(b.txn.unwrap().id).unwrap(), Some(image));

    // A lot and its transfers gone: refused without leave, listed by a dry
    // run, retracted with leave.
    let fewer = with(&edited, "transfers.toml", |t| {
        t.replacen("\n[[lot]]\nid = \"zz-l00019\"\nmodel = \"HIMARS\"\nquantity = 2\n", "", 1)
            .replacen("\n[[transfer]]\nid = \"zz-t00039\"\nlot = \"zz-l00019\"\nfrom = \"US\"\nto = \"UA\"\nstages = [{ stage = \"delivered\", date = \"2023-04-12\" }]\n", "", 1)
            .replacen("\n[[transfer]]\nid = \"zz-t00038\"\nlot = \"zz-l00019\"\nfrom = \"US\"\nto = \"UA\"\nstages = [{ stage = \"delivered\", date = \"2023-03-11\" }]\n", "", 1)
    });
    let before = txns(stream.as_mut());
    let refused = streamed(stream.as_mut(), &fewer, StreamOptions::default()).unwrap();
    let StreamedImport::WouldRetract(gone) = refused else {
        panic!("not refused: {refused:?}");
    };
    let keys: Vec<(RecordKind, &str)> = gone.iter().map(|g| (g.kind, g.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (RecordKind::Lot, "zz-l00019"),
            (RecordKind::Transfer, "zz-t00038"),
            (RecordKind::Transfer, "zz-t00039")
        ]
    );
    assert_eq!(
        txns(stream.as_mut()),
        before,
        "a refused import writes nothing"
    );
    let (plan, planned) = done(
        streamed(
            stream.as_mut(),
            &fewer,
            StreamOptions {
                dry_run: true,
                allow_retract: false,
            },
        )
        .unwrap(),
    );
    assert!(plan.txn.is_none());
    assert_eq!(planned.len(), 3);
    assert!(planned.iter().all(|p| p.retract && p.replaces == Some(1)));
    assert_eq!(txns(stream.as_mut()), before, "a dry run writes nothing");
    let (b, _) = done(streamed(stream.as_mut(), &fewer, allow()).unwrap());
    assert_eq!(b.retracted, 3);
    let a = import(whole.as_mut(), &fewer, "whole", &mut |_, _, _| {}).unwrap();
    assert_eq!(a.retracted, 3);
    assert_eq!(
        sorted(records_at(stream.as_mut(), None).unwrap()),
        sorted(records_at(whole.as_mut(), None).unwrap())
    );

    // Invalid data: refused, nothing written, the register as it was.
    let heads = sorted(records_at(stream.as_mut(), None).unwrap());
    let before = txns(stream.as_mut());
    for broken in [
        with(&fewer, "transfers.toml", |t| {
            t.replacen(
                "from = \"US\"\nto = \"UA\"",
                "from = \"NOBODY\"\nto = \"UA\"",
                1,
            )
        }),
        with(&fewer, "transfers.toml", |t| {
            t.replacen("lot = \"zz-l00000\"", "lot = \"zz-nothing\"", 1)
        }),
        with(&fewer, "transfers.toml", |t| {
            format!("{t}\n[[transfer]]\nid = \"zz-t00001\"\n")
        }),
    ] {
        assert!(matches!(
            streamed(stream.as_mut(), &broken, allow()).unwrap(),
            StreamedImport::Refused
        ));
        assert_eq!(txns(stream.as_mut()), before);
        assert_eq!(sorted(records_at(stream.as_mut(), None).unwrap()), heads);
    }
}

#[test]
fn streamed_import_memory_and_sqlite() {
    scenario(&|| enduse_store::open("memory:").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    scenario(&|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("db{i}.sqlite"));
        enduse_store::open(path.to_str().unwrap()).unwrap()
    });
}

#[test]
fn streamed_import_postgres() {
    let cluster = Cluster::start();
    scenario(&|| enduse_store::open(&cluster.fresh_db()).unwrap());
}
