#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The database commands through the `enduse` binary: init, import, export,
//! history, log, put, retract and --db-as-of; two processes editing one fact;
//! and an import killed with SIGKILL in the middle of its transaction.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("enduse")
}

fn enduse(db: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .env("ENDUSE_TODAY", "2026-01-01")
        .env_remove("ENDUSE_DB")
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap()
}

fn ok(db: &str, args: &[&str]) -> String {
    let o = enduse(db, args);
    assert!(
        o.status.success(),
        "enduse {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn json(db: &str, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = enduse(db, &a);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "enduse {args:?}: no json ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn txn_count(db: &str) -> usize {
    json(db, &["log"])["transactions"].as_array().unwrap().len()
}

const KURSK_2024: &[&str] = &[
    "check",
    "--actor",
    "UA",
    "--action",
    "use",
    "--model",
    "ATACMS",
    "--place",
    "RU-KRS",
    "--as-of",
    "2024-09-11",
];

fn outcome(db: &str, extra: &[&str]) -> String {
    let mut a: Vec<&str> = vec!["--json"];
    a.extend_from_slice(KURSK_2024);
    a.extend_from_slice(extra);
    let o = enduse(db, &a);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["outcome"].as_str().unwrap().to_owned()
}

/// Whether the Kursk decision cites the rule `id`: an edit shows in the
/// decision even where other rules keep its outcome.
fn cites(db: &str, extra: &[&str], id: &str) -> bool {
    let mut a: Vec<&str> = vec!["--json"];
    a.extend_from_slice(KURSK_2024);
    a.extend_from_slice(extra);
    let o = enduse(db, &a);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["rules"].as_array().unwrap())
        .any(|r| r["id"] == id)
}

/// The rule `us-atacms-ukraine-only` as `enduse init` stored it, edited to
/// spare Kursk oblast, so that the 11 September 2024 question changes
/// answer. Read from the database, so that the test follows the data set.
fn edited_rule(db: &str) -> String {
    let h = json(db, &["history", "--policy", "us-atacms-ukraine-only"]);
    let cedar = h["versions"][0]["body"]["cedar"].as_str().unwrap();
    let edited = cedar.replace(
        "unless { context.place in Place::\"UA\" };",
        "unless { context.place in Place::\"UA\" || context.place in Place::\"RU-KRS\" };",
    );
    assert_ne!(edited, cedar, "the rule's condition changed: {cedar}");
    edited
}

fn tmp_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("enduse.db").to_str().unwrap().to_owned();
    (dir, db)
}

#[test]
fn init_refuses_a_second_time_and_check_needs_an_existing_database() {
    let (_dir, db) = tmp_db();
    let o = enduse(&db, KURSK_2024);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no database at"));
    assert!(!Path::new(&db).exists(), "a read must not create the file");
    let v = json(&db, &["init"]);
    assert_eq!(v["added"].as_u64(), Some(records_of_bundled() as u64));
    let o = enduse(&db, &["init"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a register"));
    assert_eq!(txn_count(&db), 1);
}

/// Records `init` writes: the bundled data set and the bundled control layer.
fn records_of_bundled() -> usize {
    enduse_load::records_from_files(&enduse_load::bundled_files())
        .unwrap()
        .1
        .len()
        + control_areas()
}

fn control_areas() -> usize {
    enduse_load::control_records(enduse_geo::ControlLayer::bundled_json())
        .unwrap()
        .len()
}

#[test]
fn put_history_db_as_of_and_retract() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    assert_eq!(outcome(&db, &[]), "forbid");
    let before = json(&db, &["log"])["transactions"][0]["at"]
        .as_str()
        .unwrap()
        .to_owned();

    let rule = dir.path().join("rule.cedar");
    std::fs::write(&rule, edited_rule(&db)).unwrap();
    // The record exists: replacing it needs its version.
    let o = enduse(
        &db,
        &["--json", "put", "policy", "--file", rule.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        e["error"]["message"],
        "policy `us-atacms-ukraine-only` exists (version 1): give --expect-version 1 to replace it"
    );
    let out = ok(
        &db,
        &[
            "put",
            "policy",
            "--file",
            rule.to_str().unwrap(),
            "--expect-version",
            "1",
        ],
    );
    assert!(out.contains("put policy `us-atacms-ukraine-only`"), "{out}");
    // The same content again writes nothing.
    let out = ok(
        &db,
        &[
            "put",
            "policy",
            "--file",
            rule.to_str().unwrap(),
            "--expect-version",
            "2",
        ],
    );
    assert!(out.starts_with("nothing to change"), "{out}");
    assert_eq!(txn_count(&db), 2);
    // The edited rule no longer forbids ATACMS in Kursk oblast in
    // September 2024 (other rules of the data set may still).
    assert!(!cites(&db, &[], "us-atacms-ukraine-only"));
    // The database as it stood after init still answers as then.
    assert_eq!(outcome(&db, &["--db-as-of", &before]), "forbid");
    assert!(cites(
        &db,
        &["--db-as-of", &before],
        "us-atacms-ukraine-only"
    ));

    let h = json(&db, &["history", "--policy", "us-atacms-ukraine-only"]);
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    // The times come from the rule's annotations, which the edit kept.
    for t in ["valid_from", "valid_to", "recorded_at"] {
        assert!(versions[1][t].is_string(), "{t}");
        assert_eq!(versions[1][t], versions[0][t], "{t}");
    }
    assert!(!versions[0]["body"]["cedar"]
        .as_str()
        .unwrap()
        .contains("RU-KRS"));
    assert!(versions[1]["body"]["cedar"]
        .as_str()
        .unwrap()
        .contains("RU-KRS"));
    assert_eq!(versions[1]["body"]["owner"], "US", "the owner is kept");
    assert!(versions[0]["entered"].as_str().unwrap() < versions[1]["entered"].as_str().unwrap());
    let text = ok(&db, &["history", "policy", "us-atacms-ukraine-only"]);
    assert!(
        text.contains("version 2") && text.contains("Place::\"RU-KRS\" }"),
        "{text}"
    );

    // A retraction the register cannot do without is refused and writes nothing.
    let o = enduse(&db, &["retract", "party", "UA"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown party `UA`"));
    assert_eq!(txn_count(&db), 2);
    // One it can: the Swiss embargo rule.
    let gone = json(&db, &["retract", "policy", "ch-embargo-ru-ua"]);
    assert_eq!(
        (&gone["kind"], &gone["key"], &gone["version"]),
        (
            &serde_json::json!("policy"),
            &serde_json::json!("ch-embargo-ru-ua"),
            &serde_json::json!(2)
        ),
        "{gone}"
    );
    let h = json(&db, &["history", "policy", "ch-embargo-ru-ua"]);
    assert_eq!(h["versions"][1]["retracted"], true);
    assert_eq!(h["versions"][1]["version"], 2);
    let o = enduse(&db, &["retract", "policy", "ch-embargo-ru-ua"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    assert_eq!(txn_count(&db), 3);

    // Bad input: unknown kind, unknown record, bad instant.
    let o = enduse(&db, &["history", "weapon", "x"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown record kind `weapon`"));
    let o = enduse(&db, &["history", "policy", "no-such-rule"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no policy `no-such-rule`"));
    let mut a = KURSK_2024.to_vec();
    a.extend(["--db-as-of", "2026-13-01T00:00:00Z"]);
    let o = enduse(&db, &a);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--db-as-of `2026-13-01T00:00:00Z`"));
    let o = enduse(
        &db,
        &[&a[..a.len() - 2], &["--db-as-of", "2020-01-01"]].concat(),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("held no register"));
}

#[test]
fn stale_expect_version_is_a_conflict_and_writes_nothing() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    let rule = dir.path().join("rule.cedar");
    std::fs::write(&rule, edited_rule(&db)).unwrap();
    let r = rule.to_str().unwrap();
    // The report names the record and the version written.
    let put = json(
        &db,
        &["put", "policy", "--file", r, "--expect-version", "1"],
    );
    assert_eq!(put["kind"], "policy", "{put}");
    assert_eq!(put["key"], "us-atacms-ukraine-only", "{put}");
    assert_eq!(put["version"], 2, "{put}");
    let o = enduse(
        &db,
        &[
            "--json",
            "put",
            "policy",
            "--file",
            r,
            "--expect-version",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(e["error"]["code"], "enduse::store::conflict");
    assert_eq!(
        e["error"]["message"],
        "conflict on policy `us-atacms-ukraine-only`: expected version 1, but the database holds version 2"
    );
    assert_eq!(txn_count(&db), 2);
    // --expect-version 0: the record must be new.
    let o = enduse(
        &db,
        &[
            "--json",
            "put",
            "policy",
            "--file",
            r,
            "--expect-version",
            "0",
        ],
    );
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected no record"),
        "{e}"
    );
}

/// Two real processes edit the same rule, both having read version 1:
/// exactly one wins, the other gets a conflict, and the history has one
/// new version, the winner's. Returns the place the winner spared.
pub fn two_processes_race(db: &str, dir: &Path) -> &'static str {
    let a = dir.join("a.cedar");
    let b = dir.join("b.cedar");
    let edited = edited_rule(db);
    std::fs::write(&a, &edited).unwrap();
    std::fs::write(&b, edited.replace("RU-KRS", "RU-BRY")).unwrap();
    let spawn = |f: &Path| {
        Command::new(bin())
            .env_remove("ENDUSE_DB")
            .args(["put", "policy", "--file", f.to_str().unwrap()])
            .args(["--expect-version", "1", "--db", db])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    let (oa, ob) = (
        pa.wait_with_output().unwrap(),
        pb.wait_with_output().unwrap(),
    );
    let wins = [&oa, &ob].iter().filter(|o| o.status.success()).count();
    assert_eq!(
        wins,
        1,
        "exactly one writer wins:\n{}\n{}",
        String::from_utf8_lossy(&oa.stderr),
        String::from_utf8_lossy(&ob.stderr)
    );
    let loser = if oa.status.success() { &ob } else { &oa };
    assert!(
        String::from_utf8_lossy(&loser.stderr).contains("conflict on policy"),
        "{}",
        String::from_utf8_lossy(&loser.stderr)
    );
    let h = json(db, &["history", "--policy", "us-atacms-ukraine-only"]);
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);
    let spared = if oa.status.success() {
        "RU-KRS"
    } else {
        "RU-BRY"
    };
    let cedar = h["versions"][1]["body"]["cedar"].as_str().unwrap();
    assert!(
        cedar.contains(spared),
        "the winner's text is stored: {cedar}"
    );
    spared
}

#[test]
fn two_processes_editing_one_rule_on_sqlite() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    for _ in 0..3 {
        // Repeat on fresh databases: the race must hold whoever starts first.
        let sub = tempfile::tempdir_in(dir.path()).unwrap();
        let db2 = sub.path().join("e.db").to_str().unwrap().to_owned();
        ok(&db2, &["init"]);
        two_processes_race(&db2, sub.path());
    }
}

#[test]
fn import_export_round_trip_and_a_bad_import_writes_nothing() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    let out = dir.path().join("out");
    ok(&db, &["export", out.to_str().unwrap()]);
    let v = json(&db, &["import", out.to_str().unwrap()]);
    assert_eq!(v["txn"], Value::Null, "the export is the same register");
    assert_eq!(v["unchanged"].as_u64(), Some(records_of_bundled() as u64));
    // Export into a non-empty directory is refused.
    let o = enduse(&db, &["export", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));

    // Break two files: every problem is reported with file and line, and
    // nothing is written.
    let models = out.join("models.toml");
    let text = std::fs::read_to_string(&models).unwrap();
    std::fs::write(
        &models,
        text.replacen("origin = \"US\"", "origin = \"XX\"", 1),
    )
    .unwrap();
    let pol = out.join("policies/US.cedar");
    let text = std::fs::read_to_string(&pol).unwrap();
    std::fs::write(&pol, text.replacen("forbid (", "forbid ((", 1)).unwrap();
    let o = enduse(&db, &["--json", "import", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    let files: Vec<&str> = e["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"models.toml"), "{e}");
    assert!(files.contains(&"policies/US.cedar"), "{e}");
    assert!(e["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["line"].is_u64()));
    assert_eq!(txn_count(&db), 1);

    // A valid change imports as new versions and retractions.
    std::fs::write(&models, text_of_bundled("models.toml")).unwrap();
    std::fs::write(
        &pol,
        text.replace(
            "unless { context.place in Place::\"UA\" };",
            "unless { context.place in Place::\"UA\" || context.place in Place::\"RU-KRS\" };",
        ),
    )
    .unwrap();
    std::fs::remove_file(out.join("policies/CCM.cedar")).unwrap();
    // Retracting what the directory lacks needs --allow-retract; a dry run
    // lists the changes and writes nothing.
    let o = enduse(&db, &["--json", "import", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(e["error"]["code"], "enduse::would_retract", "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("policy `"),
        "{e}"
    );
    let v = json(&db, &["import", out.to_str().unwrap(), "--dry-run"]);
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["txn"], Value::Null, "{v}");
    assert_eq!(v["retracted"].as_u64(), Some(1), "{v}");
    assert!(v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["change"] == "retract" && c["kind"] == "policy"));
    assert_eq!(txn_count(&db), 1);
    let v = json(&db, &["import", out.to_str().unwrap(), "--allow-retract"]);
    assert!(v["error"].is_null(), "{v}");
    assert!(v["changed"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["retracted"].as_u64(), Some(1), "{v}");
    assert_eq!(txn_count(&db), 2);
    assert!(!cites(&db, &[], "us-atacms-ukraine-only"));
}

fn text_of_bundled(name: &str) -> String {
    let (_, recs) = enduse_load::records_from_files(&enduse_load::bundled_files()).unwrap();
    let refs: Vec<_> = recs.iter().collect();
    enduse_load::files_from_records("bundled", &refs)
        .unwrap()
        .get(name)
        .unwrap()
        .to_owned()
}

fn gen(dir: &Path, transfers: &str) -> PathBuf {
    let out = dir.join("gen");
    let o = Command::new(bin())
        .args(["gen", "--out", out.to_str().unwrap(), "--parties", "8"])
        .args([
            "--models",
            "40",
            "--transfers",
            transfers,
            "--policies",
            "300",
        ])
        .args(["--seed", "7"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Starts `enduse import`, waits for `marker` on its standard error, and
/// kills it with SIGKILL.
fn import_and_kill(db: &str, data: &Path, env: &[(&str, &str)], marker: &str) {
    let mut child = Command::new(bin())
        .env_remove("ENDUSE_DB")
        .envs(env.iter().copied())
        .args([
            "import",
            data.to_str().unwrap(),
            "--allow-retract",
            "--db",
            db,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("import ended before `{marker}`: {seen}");
        }
        seen.push_str(&line);
        if line.starts_with(marker) {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success());
}

fn assert_intact(db: &str) {
    let s = enduse_store::SqliteStore::open(Path::new(db)).unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

#[test]
fn sigkill_inside_the_import_transaction_leaves_the_old_register() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    let data = gen(dir.path(), "3000");
    // The stored control layer stays: the generated set has none.
    let gen_records =
        enduse_load::records_from_files(&enduse_load::DataFiles::read_dir(&data).unwrap())
            .unwrap()
            .1
            .len()
            + control_areas();
    // Deterministic: killed while half the rows are written, uncommitted.
    import_and_kill(&db, &data, &[("ENDUSE_TEST_PAUSE_WRITING", "1")], "paused:");
    assert_intact(&db);
    assert_eq!(txn_count(&db), 1, "none of the import");
    let mut store = enduse_store::open(&db).unwrap();
    assert_eq!(
        enduse_store::records_at(store.as_mut(), None)
            .unwrap()
            .len(),
        records_of_bundled()
    );
    drop(store);
    assert_eq!(outcome(&db, &[]), "forbid", "still the bundled register");

    // Killed at an unknown moment of the write: all or nothing.
    import_and_kill(&db, &data, &[("ENDUSE_TEST_PHASES", "1")], "phase: writing");
    assert_intact(&db);
    let mut store = enduse_store::open(&db).unwrap();
    let n = enduse_store::records_at(store.as_mut(), None)
        .unwrap()
        .len();
    drop(store);
    match txn_count(&db) {
        1 => assert_eq!(n, records_of_bundled()),
        2 => assert_eq!(n, gen_records),
        k => panic!("{k} transactions after one killed import"),
    }

    // The database still takes the import.
    ok(&db, &["import", data.to_str().unwrap(), "--allow-retract"]);
    assert_eq!(txn_count(&db), 2);
    let mut store = enduse_store::open(&db).unwrap();
    assert_eq!(
        enduse_store::records_at(store.as_mut(), None)
            .unwrap()
            .len(),
        gen_records
    );
}

/// Killed after its transaction committed, while the image of the new
/// register is being stored: the import is kept whole, and an open either
/// finds the complete image of that very transaction or rebuilds from the
/// records; either way it is the imported register, never the one before.
#[test]
fn sigkill_while_storing_the_image_keeps_the_import() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    let data = gen(dir.path(), "3000");
    import_and_kill(&db, &data, &[("ENDUSE_TEST_PHASES", "1")], "phase: imaging");
    assert_intact(&db);
    assert_eq!(txn_count(&db), 2, "the import committed before its image");
    let mut store = enduse_store::open_read_only(&db).unwrap();
    let opened = enduse_store::open_register(store.as_mut(), None, false).unwrap();
    assert_eq!(opened.txn, Some(2));
    let records = enduse_store::records_at(store.as_mut(), None).unwrap();
    let refs: Vec<&enduse_load::Record> = records.iter().collect();
    let rebuilt = enduse_load::engine_from_trusted_records("records", &refs).unwrap();
    assert_eq!(
        serde_json::to_string(opened.engine.register()).unwrap(),
        serde_json::to_string(rebuilt.register()).unwrap()
    );
    assert_eq!(opened.engine.rules().len(), rebuilt.rules().len());
    // The generated register, not the bundled one it replaced.
    assert!(!opened
        .engine
        .rules()
        .iter()
        .any(|r| r.id.as_str() == "us-atacms-ukraine-only"));
}

use enduse_testkit::pgcluster;

/// The same commands against a throw-away PostgreSQL server: init, a
/// conflict between two real processes, --db-as-of, and an import killed
/// inside its transaction.
#[test]
fn postgres_through_the_binary() {
    let cluster = pgcluster::Cluster::start();
    let dir = tempfile::tempdir().unwrap();

    let db = cluster.fresh_db();
    let v = json(&db, &["init"]);
    assert_eq!(v["added"].as_u64(), Some(records_of_bundled() as u64));
    assert_eq!(outcome(&db, &[]), "forbid");
    let before = json(&db, &["log"])["transactions"][0]["at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(json(&db, &["log"])["backend"], "postgres");
    let spared = two_processes_race(&db, dir.path());
    // Kursk is spared only if the first writer won.
    assert_eq!(
        cites(&db, &[], "us-atacms-ukraine-only"),
        spared != "RU-KRS"
    );
    assert_eq!(outcome(&db, &["--db-as-of", &before]), "forbid");

    let db = cluster.fresh_db();
    ok(&db, &["init"]);
    let data = gen(dir.path(), "2000");
    import_and_kill(&db, &data, &[("ENDUSE_TEST_PAUSE_WRITING", "1")], "paused:");
    assert_eq!(txn_count(&db), 1, "none of the killed import");
    let mut store = enduse_store::open(&db).unwrap();
    assert_eq!(
        enduse_store::records_at(store.as_mut(), None)
            .unwrap()
            .len(),
        records_of_bundled()
    );
    drop(store);
    ok(&db, &["import", data.to_str().unwrap(), "--allow-retract"]);
    assert_eq!(txn_count(&db), 2);
}

/// The control layer lives in the database too, with its valid times and
/// its versions: `where` and `check --at` read it, as of --db-as-of.
#[test]
fn control_areas_are_stored_versioned_and_read_as_of() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    assert!(control_areas() >= 3);
    let h = json(&db, &["history", "control", "crimea-2014"]);
    assert_eq!(h["versions"][0]["valid_from"], "2014-02-27..2014-03-18");
    assert_eq!(h["versions"][0]["body"]["controlled_by"], "RU");
    let before = json(&db, &["log"])["transactions"][0]["at"]
        .as_str()
        .unwrap()
        .to_owned();

    // Simferopol, Crimea: controlled by RU from 2014.
    let whereis = |extra: &[&str]| {
        let mut a = vec!["where", "44.95,34.10", "--as-of", "2020-06-01"];
        a.extend_from_slice(extra);
        json(&db, &a)
    };
    assert_eq!(whereis(&[])["control"]["controlled_by"], "RU");

    // A correction: the area's control starts in 2021 instead.
    let mut area: Value = h["versions"][0]["body"].clone();
    area["valid_from"] = "2021-01-01".into();
    let f = dir.path().join("area.json");
    std::fs::write(&f, area.to_string()).unwrap();
    ok(
        &db,
        &[
            "put",
            "control",
            "--file",
            f.to_str().unwrap(),
            "--expect-version",
            "1",
        ],
    );
    assert_ne!(whereis(&[])["control"]["controlled_by"], "RU");
    assert_eq!(
        whereis(&["--db-as-of", &before])["control"]["controlled_by"],
        "RU"
    );

    // Export writes control.json; importing the export changes nothing.
    let out = dir.path().join("out");
    ok(&db, &["export", out.to_str().unwrap()]);
    assert!(out.join("control.json").is_file());
    let v = json(&db, &["import", out.to_str().unwrap()]);
    assert_eq!(v["txn"], Value::Null, "{v}");

    // A data set without control.json leaves the stored layer alone.
    std::fs::remove_file(out.join("control.json")).unwrap();
    let v = json(&db, &["import", out.to_str().unwrap()]);
    assert_eq!(v["txn"], Value::Null, "{v}");

    // A bad control layer is refused before anything is written.
    std::fs::write(
        out.join("control.json"),
        r#"{"areas": [{"id": "x", "controlled_by": "RU", "valid_from": "2022-13-01", "polygon": [[30,50],[31,50],[31,51],[30,50]]}]}"#,
    )
    .unwrap();
    let o = enduse(&db, &["import", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("control.json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(txn_count(&db), 2);
}

/// Replaces system times and transaction instants, which differ per run.
fn redact_instants(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_owned();
        while let Some(i) = l.find("20").filter(|&i| {
            l[i..].len() >= 27
                && l.as_bytes().get(i + 10) == Some(&b'T')
                && l[i..i + 27].ends_with('Z')
        }) {
            l.replace_range(i..i + 27, "<instant>");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn snapshot_history_and_log() {
    let (dir, db) = tmp_db();
    ok(&db, &["init"]);
    let rule = dir.path().join("rule.cedar");
    std::fs::write(&rule, edited_rule(&db)).unwrap();
    ok(
        &db,
        &[
            "put",
            "policy",
            "--file",
            rule.to_str().unwrap(),
            "--expect-version",
            "1",
        ],
    );
    let history = ok(&db, &["history", "--policy", "us-atacms-ukraine-only"]);
    insta::assert_snapshot!(
        redact_instants(&history.replace(&db, "<db>")).replace(rule.to_str().unwrap(), "<file>")
    );
    let log = ok(&db, &["log"]);
    insta::assert_snapshot!(
        redact_instants(&log.replace(&db, "<db>")).replace(rule.to_str().unwrap(), "<file>")
    );
}
