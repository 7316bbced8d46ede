//! Store timings on a large register: opening a store, reading its heads,
//! building the engine (the time to be ready to decide), and as-of look-ups
//! of one lot's chain.
//!
//! Run on a database made by the CLI, for example
//!
//!     enduse gen --out /tmp/g1m            # 1M transfers, 100k rules
//!     enduse import /tmp/g1m --db /tmp/g1m.db
//!     ENDUSE_BENCH_DB=/tmp/g1m.db cargo bench -p enduse-store --bench store
//!
//! `ENDUSE_BENCH_DB` may also be a PostgreSQL connection string. Without it
//! the bench imports the bundled data set into a temporary SQLite file,
//! which only shows that the bench runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let target = match std::env::var("ENDUSE_BENCH_DB") {
        Ok(t) => t,
        Err(_) => {
            let p = tmp.path().join("bundled.db").to_str().unwrap().to_owned();
            let mut s = enduse_store::open(&p).unwrap();
            enduse_store::import(
                s.as_mut(),
                &enduse_load::bundled_files(),
                "bench",
                &mut |_, _, _| {},
            )
            .unwrap();
            p
        }
    };
    println!("store: {target}");
    if let Ok(m) = std::fs::metadata(&target) {
        let wal = std::fs::metadata(format!("{target}-wal")).map_or(0, |m| m.len());
        println!(
            "size on disk: {:.1} MB (+ {:.1} MB WAL)",
            m.len() as f64 / 1e6,
            wal as f64 / 1e6
        );
    }

    let t = Instant::now();
    let mut store = enduse_store::open(&target).unwrap();
    println!("open: {:?}", t.elapsed());

    let t = Instant::now();
    let heads = store.heads(None).unwrap();
    println!("heads: {} records in {:?}", heads.len(), t.elapsed());
    let lots: Vec<String> = heads
        .iter()
        .filter(|v| v.record.kind == enduse_load::RecordKind::Lot)
        .map(|v| v.record.key.clone())
        .collect();
    let txns = store.transactions().unwrap();
    // Bare Cedar for comparison: parse the same rules' text into one
    // policy set, which is what being ready takes without enduse's stored
    // headers and lazy parsing.
    let mut text = String::new();
    for v in heads
        .iter()
        .filter(|v| v.record.kind == enduse_load::RecordKind::Policy && !v.retracted)
    {
        let body: serde_json::Value = serde_json::from_str(&v.record.body).unwrap();
        text.push_str(body["cedar"].as_str().unwrap());
        text.push('\n');
    }
    let t = Instant::now();
    let pset: cedar_policy::PolicySet = text.parse().unwrap();
    println!(
        "bare Cedar: PolicySet::from_str of the same {} rules: {:?}",
        pset.policies().count(),
        t.elapsed()
    );
    std::mem::forget(pset);
    drop(heads);

    let t = Instant::now();
    let engine = enduse_store::engine_at(store.as_mut(), None).unwrap();
    println!(
        "engine_at (open to ready to decide, after open): {:?} ({} rules, {} lots)",
        t.elapsed(),
        engine.rules().len(),
        engine.register().lots.len()
    );
    // Freeing a large engine is not part of any user's wait.
    std::mem::forget(engine);

    // The two ways to be ready, side by side: the stored image of the
    // latest transaction, and the records (what an open does without one).
    for round in 1..=3 {
        let t = Instant::now();
        let txn = store.register_txn_at(None).unwrap().unwrap();
        let image = store.image(txn).unwrap();
        let read = t.elapsed();
        let size = image.as_ref().map_or(0, Vec::len);
        let t = Instant::now();
        let from_image = image.map(|i| enduse_load::engine_from_image(&i));
        let built = t.elapsed();
        match from_image {
            Some(Ok(e)) => {
                println!(
                    "round {round}: image of transaction {txn}: {:.1} MB read in {read:?}, \
                     checked, decoded and built in {built:?}: ready in {:?}",
                    size as f64 / 1e6,
                    read + built
                );
                std::mem::forget(e);
            }
            Some(Err(e)) => println!("round {round}: image of transaction {txn} refused: {e}"),
            None => println!("round {round}: no image of transaction {txn}"),
        }
        let t = Instant::now();
        let records = enduse_store::records_at(store.as_mut(), None).unwrap();
        let refs: Vec<&enduse_load::Record> = records.iter().collect();
        let e = enduse_load::engine_from_trusted_records("bench", &refs).unwrap();
        println!(
            "round {round}: from the records: ready in {:?}",
            t.elapsed()
        );
        std::mem::forget(e);
        std::mem::forget(records);
    }

    let first = txns.first().map(|t| t.at);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    for (label, as_of) in [("now", None), ("as of the first transaction", first)] {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..5_000 {
            let lot = &lots[next(lots.len())];
            let t = Instant::now();
            let chain = store.lot_chain(lot, as_of).unwrap();
            times.push(t.elapsed());
            assert!(!chain.is_empty(), "lot {lot} has no chain");
            rows += chain.len();
        }
        let (p50, p99) = median(times);
        println!(
            "lot_chain {label}: median {p50:?}, p99 {p99:?} (5,000 random lots of {}, {:.1} rows each)",
            lots.len(),
            rows as f64 / 5_000.0
        );
    }
}
