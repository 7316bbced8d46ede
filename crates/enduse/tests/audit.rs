//! The audit log through the library: what goes in (every register
//! transaction, every workflow event, the decisions a front end appends),
//! signed checkpoints, proofs, exports, and `verify` catching rows of the
//! log or of the `facts` table edited, deleted, reordered or added directly
//! in SQLite, naming the first bad entry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enduse::{
    prove_export, verify_export, Ask, Audit, Clock, Delegation, NewUser, Principal, Register,
    RequestInput, ReviewInput, UserRole, Verdict, Window, Workflow,
};
use enduse_audit::{verify_consistency, verify_inclusion, Hash, NoteVerifier, StoredEntry};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

fn day(s: &str) -> chrono::NaiveDate {
    enduse_core::parse_day(s).unwrap()
}

const TODAY: &str = "2026-01-10";

fn ask() -> Ask {
    let mut a = Ask::new("UA", "use", "ATACMS");
    a.at = Some("51.73,36.19".into());
    a
}

/// A SQLite database with a register, two users, a request filed and
/// approved, and three decisions logged. Returns (dir, path, request id,
/// consent id).
fn populated() -> (tempfile::TempDir, PathBuf, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enduse.db");
    let target = path.display().to_string();
    Register::open(&target)
        .unwrap()
        .init(&mut |_, _, _| {})
        .unwrap();
    let mut wf = Workflow::open(&target)
        .unwrap()
        .with_clock(Clock::fixed_day(day(TODAY)));
    let op = Principal::Operator;
    wf.add_user(
        &op,
        &NewUser {
            id: "kyiv-mod".into(),
            party: Some("UA".into()),
            roles: vec![UserRole::Requester],
            ..Default::default()
        },
    )
    .unwrap();
    wf.add_user(
        &op,
        &NewUser {
            id: "secdef-office".into(),
            roles: vec![UserRole::Reviewer],
            authorities: vec![Delegation::new("US:SecDef")],
            ..Default::default()
        },
    )
    .unwrap();
    let kyiv = wf.act_as("kyiv-mod").unwrap();
    let filed = wf
        .file(
            &kyiv,
            &RequestInput {
                ask: ask(),
                window: Window {
                    from: day("2026-01-12"),
                    to: day("2026-01-15"),
                },
                justification: "counter-battery fire".into(),
            },
        )
        .unwrap();
    let secdef = wf.act_as("secdef-office").unwrap();
    let done = wf
        .review(
            &secdef,
            &filed.id,
            &ReviewInput {
                verdict: Verdict::Approve,
                reason: "military target".into(),
                authority: None,
                expect_version: None,
            },
        )
        .unwrap();
    // Decisions a server answered.
    let snap = wf.snapshot().unwrap();
    let txn = snap.origin().txn;
    for d in ["2026-01-11", "2026-01-12", "2026-01-20"] {
        let mut a = ask();
        a.as_of = Some(d.into());
        let report = snap.check(&a, day(TODAY)).unwrap();
        wf.audit().append_decision(&a, &report, txn).unwrap();
    }
    assert!(wf.audit().verify(None).unwrap().ok);
    (dir, path, filed.id, done.consents[0].clone())
}

fn all_entries(audit: &mut Audit) -> Vec<enduse::EntryReport> {
    let n = audit.size().unwrap();
    audit.entries(0, n).unwrap()
}

/// The index of the entry of register transaction `txn`.
fn entry_of_txn(audit: &mut Audit, txn: i64) -> u64 {
    all_entries(audit)
        .iter()
        .find(|e| e.kind == "register_txn" && e.body["txn"].as_i64() == Some(txn))
        .unwrap()
        .index
}

#[test]
fn every_transaction_and_event_is_logged_and_verifies() {
    let (_dir, path, id, consent) = populated();
    let target = path.display().to_string();
    let mut audit = Audit::open_read_only(&target).unwrap();
    let entries = all_entries(&mut audit);
    // Every transaction of the database has its entry, in order.
    let mut reg = Register::open_read_only(&target).unwrap();
    let txns = reg.log().unwrap().transactions;
    let logged: Vec<i64> = entries
        .iter()
        .filter(|e| e.kind == "register_txn")
        .map(|e| e.body["txn"].as_i64().unwrap())
        .collect();
    assert_eq!(logged, txns.iter().map(|t| t.id).collect::<Vec<_>>());
    assert_eq!(entries[0].body["note"], "init: bundled ukraine-2022-2025");
    assert!(entries[0].body["rows"].as_u64().unwrap() > 100);
    // The workflow's events, each after its transaction's entry.
    let filed = entries
        .iter()
        .position(|e| e.body["event"] == "request_filed")
        .unwrap();
    assert_eq!(entries[filed - 1].kind, "register_txn");
    assert_eq!(entries[filed].body["request"], id.as_str());
    let reviewed = entries
        .iter()
        .find(|e| e.body["event"] == "request_reviewed")
        .unwrap();
    assert_eq!(reviewed.body["consents"][0], consent.as_str());
    // Three decisions, each with the digest of its answer.
    let decisions: Vec<_> = entries.iter().filter(|e| e.kind == "decision").collect();
    assert_eq!(decisions.len(), 3);
    assert_eq!(decisions[1].body["ask"]["as_of"], "2026-01-12");
    assert_eq!(
        decisions[1].body["answer_sha256"].as_str().unwrap().len(),
        64
    );
    assert!(decisions[1].body["register_txn"].as_i64().is_some());

    let v = audit.verify(None).unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.entries, entries.len() as u64);
    assert_eq!(v.latest_checkpoint, Some(entries.len() as u64));
    assert_eq!(v.unsigned_entries, 0);
    assert_eq!(v.transactions, txns.len());
    // With the key printed for publication.
    let key = audit.verifier_key().unwrap();
    assert!(key.starts_with("enduse-audit/"), "{key}");
    assert!(audit.verify(Some(&key)).unwrap().ok);
    // Another key does not verify it.
    let other = enduse_audit::NoteSigner::from_seed("enduse-audit/other", [9; 32])
        .unwrap()
        .verifier()
        .to_string();
    let bad = audit.verify(Some(&other)).unwrap();
    assert!(!bad.ok);
    assert!(bad.into_result().is_err());
}

#[test]
fn checkpoints_and_proofs_check_out() {
    let (_dir, path, _, _) = populated();
    let mut audit = Audit::open_read_only(&path.display().to_string()).unwrap();
    let key = NoteVerifier::parse(&audit.verifier_key().unwrap()).unwrap();
    let cp = audit.checkpoint().unwrap();
    let n = audit.size().unwrap();
    assert_eq!(cp.size, n);
    let opened = enduse_audit::SignedCheckpoint::from_text(cp.note.clone())
        .open(&key)
        .unwrap();
    assert_eq!(opened.root().to_hex(), cp.root);
    let hex = |s: &str| Hash::from_hex(s).unwrap();
    for i in [0, 1, n / 2, n - 1] {
        let p = audit.inclusion_proof(i, None).unwrap();
        assert_eq!(p.tree_size, n);
        assert_eq!(p.root, cp.root);
        assert_eq!(p.checkpoint.as_deref(), Some(cp.note.as_str()));
        let hashes: Vec<Hash> = p.hashes.iter().map(|h| hex(h)).collect();
        verify_inclusion(i, n, &hex(&p.leaf_hash), &hashes, &hex(&cp.root)).unwrap();
        let entry = audit.entry(i).unwrap();
        assert_eq!(entry.hash, p.leaf_hash);
    }
    for old in [1, 2, n - 1] {
        let c = audit.consistency_proof(old, None).unwrap();
        let hashes: Vec<Hash> = c.hashes.iter().map(|h| hex(h)).collect();
        verify_consistency(old, n, &hex(&c.old_root), &hex(&c.new_root), &hashes).unwrap();
    }
    assert_eq!(
        audit.inclusion_proof(n, None).unwrap_err().code(),
        "enduse::audit::bad_proof_request"
    );
    assert_eq!(
        audit.entry(n).unwrap_err().code(),
        "enduse::audit::no_entry"
    );

    // Offline: an export verifies with the trusted key alone.
    let export = audit.export().unwrap();
    let text = serde_json::to_string(&export).unwrap();
    let back: enduse::LogExport = serde_json::from_str(&text).unwrap();
    let v = verify_export(&back, &key.to_string()).unwrap();
    assert!(v.ok, "{v:?}");
    let p = prove_export(&back, &key.to_string(), 3).unwrap();
    assert_eq!(p.root, cp.root);
    let mut tampered = back.clone();
    tampered.entries[2].body = tampered.entries[2].body.replace('"', "'");
    let v = verify_export(&tampered, &key.to_string()).unwrap();
    assert_eq!(v.first_bad_entry, Some(2));
    assert!(prove_export(&tampered, &key.to_string(), 3).is_err());
}

#[test]
fn a_memory_database_keeps_a_log_too() {
    let mut wf = Workflow::open("memory:")
        .unwrap()
        .with_clock(Clock::fixed_day(day(TODAY)));
    wf.load_bundled().unwrap();
    let a = wf.audit().append(&[]).unwrap();
    assert_eq!((a.first, a.size), (1, 1));
    let cp = wf.audit().checkpoint().unwrap();
    assert_eq!(cp.size, 1);
    let v = wf.audit().verify(None).unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.transactions, 1);
}

#[test]
fn an_older_database_gets_its_log_when_it_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    {
        let mut st = enduse_store::SqliteStore::open_at_version(&path, 4).unwrap();
        enduse_store::import(
            &mut st,
            &enduse_load::bundled_files(),
            "import at v4",
            &mut |_, _, _| {},
        )
        .unwrap();
    }
    let target = path.display().to_string();
    assert_eq!(
        Audit::open_read_only(&target)
            .unwrap()
            .verify(None)
            .unwrap_err()
            .code(),
        "enduse::audit::no_log"
    );
    let mut audit = Audit::open(&target).unwrap();
    let v = audit.verify(None).unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!((v.entries, v.transactions), (1, 1));
    assert_eq!(audit.entry(0).unwrap().body["note"], "import at v4");
}

// ---------------------------------------------------------------------------
// Tampering, directly in SQLite.

/// A copy of the populated database to spoil.
fn copy_of(src: &Path, name: &str) -> PathBuf {
    let dst = src.with_file_name(format!("{name}.db"));
    let c = Connection::open(src).unwrap();
    c.execute(&format!("VACUUM INTO '{}'", dst.display()), [])
        .unwrap();
    dst
}

fn spoil(path: &Path, sql: &str) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn verify_copy(path: &Path) -> enduse::VerifyReport {
    Audit::open_read_only(&path.display().to_string())
        .unwrap()
        .verify(None)
        .unwrap()
}

const UNLOCK: &str = "DROP TRIGGER facts_no_update; DROP TRIGGER facts_no_delete;
    DROP TRIGGER txns_no_update; DROP TRIGGER txns_no_delete;
    DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;
    DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete;";

#[test]
fn the_tables_refuse_changes() {
    let (_dir, path, _, _) = populated();
    let c = Connection::open(&path).unwrap();
    for sql in [
        "UPDATE audit_entries SET body = '{}' WHERE idx = 1",
        "DELETE FROM audit_entries WHERE idx = 1",
        "UPDATE audit_checkpoints SET note = ''",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_key SET signer = ''",
        "DELETE FROM audit_key",
    ] {
        let e = c.execute(sql, []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
}

#[test]
fn tampering_with_the_log_is_found() {
    let (_dir, path, _, _) = populated();
    let n = Audit::open_read_only(&path.display().to_string())
        .unwrap()
        .size()
        .unwrap() as i64;
    let k = n - 3; // an entry in the middle: a decision

    // An entry edited.
    let p = copy_of(&path, "edited");
    spoil(
        &p,
        &format!("{UNLOCK} UPDATE audit_entries SET body = replace(body, '2026', '2027') WHERE idx = {k};"),
    );
    let v = verify_copy(&p);
    assert!(!v.ok);
    assert_eq!(v.first_bad_entry, Some(k as u64), "{v:?}");
    assert!(
        v.problem
            .as_deref()
            .unwrap()
            .contains("does not match its hash"),
        "{v:?}"
    );

    // An entry deleted.
    let p = copy_of(&path, "deleted");
    spoil(
        &p,
        &format!("{UNLOCK} DELETE FROM audit_entries WHERE idx = {k};"),
    );
    let v = verify_copy(&p);
    assert_eq!(v.first_bad_entry, Some(k as u64), "{v:?}");
    assert!(v.problem.as_deref().unwrap().contains("missing"), "{v:?}");

    // Two entries swapped.
    let p = copy_of(&path, "swapped");
    spoil(
        &p,
        &format!(
            "{UNLOCK} UPDATE audit_entries SET idx = 1000000 WHERE idx = {k};
             UPDATE audit_entries SET idx = {k} WHERE idx = {k1};
             UPDATE audit_entries SET idx = {k1} WHERE idx = 1000000;",
            k1 = k + 1
        ),
    );
    let v = verify_copy(&p);
    assert_eq!(v.first_bad_entry, Some(k as u64), "{v:?}");
    assert!(
        v.problem.as_deref().unwrap().contains("out of order"),
        "{v:?}"
    );

    // An entry rewritten with a hash to match: the signed checkpoints no
    // longer do.
    let p = copy_of(&path, "rehashed");
    {
        let c = Connection::open(&p).unwrap();
        c.execute_batch(UNLOCK).unwrap();
        let (kind, body): (String, String) = c
            .query_row(
                "SELECT kind, body FROM audit_entries WHERE idx = ?1",
                [k],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let body = body.replace("2026-01-1", "2027-01-1");
        let row = StoredEntry {
            index: k as u64,
            kind,
            body: body.clone(),
            hash: Hash::default(),
        };
        let hash = row.recompute_hash().to_hex();
        c.execute(
            "UPDATE audit_entries SET body = ?1, hash = ?2 WHERE idx = ?3",
            rusqlite::params![body, hash, k],
        )
        .unwrap();
    }
    let v = verify_copy(&p);
    assert!(!v.ok);
    let first = v.first_bad_entry.unwrap();
    assert_eq!(first, k as u64, "{v:?}");
    assert!(
        v.problem
            .as_deref()
            .unwrap()
            .contains("root does not match"),
        "{v:?}"
    );

    // A checkpoint edited.
    let p = copy_of(&path, "checkpoint");
    spoil(
        &p,
        &format!("{UNLOCK} UPDATE audit_checkpoints SET note = replace(note, char(10) || '{n}' || char(10), char(10) || '{m}' || char(10)) WHERE size = {n};", m = n + 1),
    );
    let v = verify_copy(&p);
    assert!(!v.ok, "{v:?}");
    assert!(
        v.problem.as_deref().unwrap().contains("checkpoint"),
        "{v:?}"
    );
}

#[test]
fn tampering_with_the_facts_table_is_found() {
    let (_dir, path, id, consent) = populated();
    let target = path.display().to_string();
    let mut audit = Audit::open_read_only(&target).unwrap();
    let c = Connection::open(&path).unwrap();
    let txn_of = |kind: &str, key: &str, version: i64| -> i64 {
        c.query_row(
            "SELECT txn FROM facts WHERE kind = ?1 AND key = ?2 AND version = ?3",
            rusqlite::params![kind, key, version],
            |r| r.get(0),
        )
        .unwrap()
    };
    let filed_txn = txn_of("request", &id, 1);
    let approved_txn = txn_of("approval", &consent, 1);
    let filed_entry = entry_of_txn(&mut audit, filed_txn);
    let approved_entry = entry_of_txn(&mut audit, approved_txn);
    assert!(filed_entry < approved_entry);
    let init_entry = entry_of_txn(&mut audit, 1);
    assert_eq!(init_entry, 0);

    // A fact edited: a rule of the register.
    let p = copy_of(&path, "rule-edited");
    spoil(
        &p,
        &format!("{UNLOCK} UPDATE facts SET body = replace(body, 'forbid', 'permit') WHERE kind = 'policy' AND key = 'us-atacms-secdef-review';"),
    );
    let v = verify_copy(&p);
    assert!(!v.ok);
    assert_eq!(
        (v.first_bad_entry, v.txn),
        (Some(init_entry), Some(1)),
        "{v:?}"
    );
    assert!(
        v.problem.as_deref().unwrap().contains("no longer match"),
        "{v:?}"
    );

    // A workflow record edited: the request's justification.
    let p = copy_of(&path, "request-edited");
    spoil(
        &p,
        &format!("{UNLOCK} UPDATE facts SET body = replace(body, 'counter-battery', 'carpet') WHERE kind = 'request' AND version = 1;"),
    );
    let v = verify_copy(&p);
    assert_eq!(
        (v.first_bad_entry, v.txn),
        (Some(filed_entry), Some(filed_txn)),
        "{v:?}"
    );

    // A fact deleted: the consent written by the approval.
    let p = copy_of(&path, "consent-deleted");
    spoil(
        &p,
        &format!("{UNLOCK} DELETE FROM facts WHERE kind = 'approval' AND key = '{consent}';"),
    );
    let v = verify_copy(&p);
    assert_eq!(
        (v.first_bad_entry, v.txn),
        (Some(approved_entry), Some(approved_txn)),
        "{v:?}"
    );
    assert!(v.problem.as_deref().unwrap().contains("deleted"), "{v:?}");

    // Two versions of a record swapped: the request's state rewound.
    let p = copy_of(&path, "versions-swapped");
    spoil(
        &p,
        &format!(
            "{UNLOCK} UPDATE facts SET version = 99 WHERE kind = 'request' AND key = '{id}' AND version = 1;
             UPDATE facts SET version = 1 WHERE kind = 'request' AND key = '{id}' AND version = 2;
             UPDATE facts SET version = 2 WHERE kind = 'request' AND key = '{id}' AND version = 99;"
        ),
    );
    let v = verify_copy(&p);
    assert_eq!(
        (v.first_bad_entry, v.txn),
        (Some(filed_entry), Some(filed_txn)),
        "{v:?}"
    );

    // A fact moved to another transaction.
    let p = copy_of(&path, "moved");
    spoil(
        &p,
        &format!("{UNLOCK} UPDATE facts SET txn = {filed_txn} WHERE kind = 'approval' AND key = '{consent}';"),
    );
    let v = verify_copy(&p);
    assert_eq!(v.first_bad_entry, Some(filed_entry), "{v:?}");

    // A transaction's note rewritten.
    let p = copy_of(&path, "note");
    spoil(
        &p,
        &format!("{UNLOCK} UPDATE txns SET note = 'nothing to see' WHERE id = {approved_txn};"),
    );
    let v = verify_copy(&p);
    assert_eq!(v.first_bad_entry, Some(approved_entry), "{v:?}");

    // A transaction appended behind enduse's back (appending is all the
    // triggers allow).
    let p = copy_of(&path, "appended");
    spoil(
        &p,
        "INSERT INTO txns (id, at, note, changes) VALUES (999, 9999999999999999, 'forged', 1);
         INSERT INTO facts (kind, key, version, txn, sys_from, retracted, body)
             VALUES ('user', 'mallory', 1, 999, 9999999999999999, 0, '{}');",
    );
    let v = verify_copy(&p);
    assert!(!v.ok);
    assert_eq!(v.txn, Some(999), "{v:?}");
    assert!(
        v.problem
            .as_deref()
            .unwrap()
            .contains("not in the audit log"),
        "{v:?}"
    );

    // The untouched original still verifies.
    assert!(audit.verify(None).unwrap().ok);
}

/// The same on PostgreSQL, where the triggers are disabled rather than
/// dropped.
#[test]
fn postgres_tampering_is_found() {
    if std::process::Command::new("initdb")
        .arg("--version")
        .output()
        .is_err()
        && !Path::new("/usr/lib/postgresql").exists()
    {
        eprintln!("skipped: no PostgreSQL server binaries");
        return;
    }
    let cluster = enduse_testkit::pgcluster::Cluster::start();
    let conn = cluster.fresh_db();
    Register::open(&conn)
        .unwrap()
        .init(&mut |_, _, _| {})
        .unwrap();
    let mut wf = Workflow::open(&conn)
        .unwrap()
        .with_clock(Clock::fixed_day(day(TODAY)));
    wf.add_user(
        &Principal::Operator,
        &NewUser {
            id: "kyiv-mod".into(),
            party: Some("UA".into()),
            roles: vec![UserRole::Requester],
            ..Default::default()
        },
    )
    .unwrap();
    let snap = wf.snapshot().unwrap();
    let report = snap.check(&ask(), day(TODAY)).unwrap();
    wf.audit()
        .append_decision(&ask(), &report, snap.origin().txn)
        .unwrap();
    let v = wf.audit().verify(None).unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.entries, 4);
    let mut admin = postgres::Client::connect(&conn, postgres::NoTls).unwrap();
    assert!(admin
        .batch_execute("UPDATE audit_entries SET body = '{}' WHERE idx = 3")
        .is_err());
    // A requester made admin behind enduse's back.
    admin
        .batch_execute(
            "ALTER TABLE facts DISABLE TRIGGER facts_no_change;
             UPDATE facts SET body = replace(body, 'requester', 'admin') WHERE kind = 'user';",
        )
        .unwrap();
    let v = wf.audit().verify(None).unwrap();
    assert!(!v.ok);
    assert_eq!((v.first_bad_entry, v.txn), (Some(1), Some(2)), "{v:?}");
    admin
        .batch_execute(
            "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_change;
             DELETE FROM audit_entries WHERE idx = 0;",
        )
        .unwrap();
    let v = Audit::open_read_only(&conn).unwrap().verify(None).unwrap();
    assert_eq!(v.first_bad_entry, Some(0), "{v:?}");
}

/// The decision entry is written straight from the typed ask and report;
/// for every corpus case (and its explained form, the largest report) it
/// must be the entry of their JSON values, so that anyone holding the JSON
/// answer can recompute `answer_sha256`.
#[test]
fn decision_entries_from_types_equal_those_from_json_values_over_the_corpus() {
    let corpus = enduse_testkit::corpus();
    let snap = enduse::RegisterSource::Bundled.snapshot().unwrap();
    let today = day(&corpus.today);
    let mut n = 0;
    for case in &corpus.cases {
        let ask = case.ask();
        for explain in [false, true] {
            let report = if explain {
                snap.explain(&ask, today)
            } else {
                snap.check(&ask, today)
            };
            let Ok(report) = report else { continue };
            let typed = Audit::decision_entry(&ask, &report, Some(7)).unwrap();
            let valued = enduse_audit::Entry::decision(
                &serde_json::to_value(&ask).unwrap(),
                &serde_json::to_value(&report).unwrap(),
                Some(7),
            );
            assert_eq!(typed, valued, "{}", case.name);
            n += 1;
        }
    }
    assert!(n > 600, "only {n} reports compared");
}
