//! What a server pays per decision besides the decision itself: the audit
//! entry (the canonical JSON of the ask and a digest of the report), built
//! straight from the types as the server does, against the former path
//! through `serde_json::Value`, and the check it follows.
//!
//!     cargo bench -p enduse --bench entry
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use enduse::{Ask, Audit, CheckReport, RegisterSource, Snapshot};
use std::sync::{Arc, OnceLock};

fn main() {
    divan::main();
}

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

fn fixture() -> &'static (Arc<Snapshot>, Ask, CheckReport) {
    static F: OnceLock<(Arc<Snapshot>, Ask, CheckReport)> = OnceLock::new();
    F.get_or_init(|| {
        let snap = RegisterSource::Bundled.snapshot().unwrap();
        let mut ask = Ask::new("UA", "use", "ATACMS");
        ask.place = Some("RU-KRS".into());
        ask.as_of = Some("2024-09-11".into());
        let report = snap.check(&ask, today()).unwrap();
        (snap, ask, report)
    })
}

#[divan::bench]
fn check() -> CheckReport {
    let (snap, ask, _) = fixture();
    snap.check(divan::black_box(ask), today()).unwrap()
}

#[divan::bench]
fn decision_entry_typed() -> enduse_audit::Entry {
    let (_, ask, report) = fixture();
    Audit::decision_entry(divan::black_box(ask), divan::black_box(report), Some(1)).unwrap()
}

#[divan::bench]
fn decision_entry_via_value() -> enduse_audit::Entry {
    let (_, ask, report) = fixture();
    enduse_audit::Entry::decision(
        &serde_json::to_value(divan::black_box(ask)).unwrap(),
        &serde_json::to_value(divan::black_box(report)).unwrap(),
        Some(1),
    )
}

#[divan::bench]
fn response_json() -> Vec<u8> {
    let (_, _, report) = fixture();
    serde_json::to_vec(divan::black_box(report)).unwrap()
}
