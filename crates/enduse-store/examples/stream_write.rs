//! Measures a streamed write against `write` of the same changes into a
//! new SQLite file: `stream_write (write|stream|heads|scan) DB N`, or into a
//! fresh database of a throw-away PostgreSQL cluster with DB `pg` (the
//! cluster is started and stopped by the example). Each change is a small
//! source record (about 100 bytes); run under
//! `/usr/bin/time -f "%e s %U user %S sys %M KB"` to see CPU and peak RSS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enduse_load::{Record, RecordKind};
use enduse_store::{Change, Expect, SqliteStore, Store};

fn change(i: u64) -> Change {
    let key = format!("src-{i:08}");
    Change {
        record: Record {
            kind: RecordKind::Source,
            body: format!("{{\"id\":\"{key}\",\"title\":\"source number {i} of the benchmark\"}}"),
            key,
            valid_from: None,
            valid_to: None,
            recorded_at: Some("2024-01-01".into()),
            lot: None,
        },
        retract: false,
        expect: Expect::Absent,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, db, n] = &args[..] else {
        panic!("usage: stream_write (write|stream|heads|scan) DB N");
    };
    let n: u64 = n.parse().unwrap();
    let cluster = (db == "pg").then(enduse_testkit::pgcluster::Cluster::start);
    let mut store: Box<dyn Store> = match &cluster {
        Some(c) => Box::new(enduse_store::PgStore::open(&c.fresh_db()).unwrap()),
        None => Box::new(SqliteStore::open(std::path::Path::new(db)).unwrap()),
    };
    let started = std::time::Instant::now();
    match mode.as_str() {
        "write" => {
            let changes: Vec<Change> = (0..n).map(change).collect();
            let info = store.write(&changes, "bench", &mut |_, _| {}).unwrap();
            println!("write: txn {} of {} changes", info.id, info.changes);
        }
        "stream" => {
            let info = store
                .write_streamed("bench", &mut |sink| {
                    for i in 0..n {
                        sink.put(change(i))?;
                    }
                    Ok(true)
                })
                .unwrap()
                .unwrap();
            println!("stream: txn {} of {} changes", info.id, info.changes);
        }
        "heads" => {
            let heads = store.heads(None).unwrap();
            println!("heads: {}", heads.len());
        }
        "scan" => {
            let mut count = 0u64;
            store
                .scan_heads(None, None, &mut |_| {
                    count += 1;
                    Ok(())
                })
                .unwrap();
            println!("scan: {count}");
        }
        m => panic!("unknown mode {m}"),
    }
    println!("{:.2?}", started.elapsed());
    drop(store);
    drop(cluster);
}
