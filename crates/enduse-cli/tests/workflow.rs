#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The server's commands through the `enduse` binary: users and tokens as
//! the operator, the approval workflow as users (`request ... --as USER`),
//! the consent an approval writes, the audit log's verification (and a
//! tampered database failing it), `serve` answering and stopping on
//! SIGTERM, and the new commands' help.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The workflow's clock. A request is for days to come, and is decided on
/// the public record of today: the rule that puts ATACMS strikes inside
/// Russia under the Defense Secretary's review became public only on
/// 2025-08-23, so a window in June 2025 cannot be filed (it would be past,
/// or, with an earlier today, need no approval). The window is in January
/// 2026, as in the library's tests.
const TODAY: &str = "2026-01-10";

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("enduse")
}

fn enduse(db: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .env("ENDUSE_TODAY", TODAY)
        .env("NO_COLOR", "1")
        .env_remove("ENDUSE_DB")
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(db: &str, args: &[&str]) -> String {
    let o = enduse(db, args);
    assert!(o.status.success(), "enduse {args:?} failed: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn json(db: &str, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = enduse(db, &a);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("enduse {args:?}: no json ({e}): {}", text(&o)));
    (o.status.code().unwrap_or(-1), v)
}

/// A database with the bundled register and the two users.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("enduse.db").display().to_string();
    ok(&db, &["init"]);
    let out = ok(
        &db,
        &[
            "user",
            "add",
            "kyiv-mod",
            "--party",
            "UA",
            "--role",
            "requester",
        ],
    );
    assert!(out.contains("kyiv-mod"), "{out}");
    ok(
        &db,
        &[
            "user",
            "add",
            "secdef-office",
            "--authority",
            "US:SecDef",
            "--role",
            "reviewer",
        ],
    );
    (dir, db)
}

const ASK: &[&str] = &[
    "--actor", "UA", "--action", "use", "--model", "ATACMS", "--place", "RU-KRS",
];

/// Files the ATACMS strike in Kursk for 2026-01-12..15; its id.
fn file(db: &str) -> String {
    let mut args = vec!["request", "file", "--as", "kyiv-mod"];
    args.extend_from_slice(ASK);
    args.extend_from_slice(&[
        "--from",
        "2026-01-12",
        "--to",
        "2026-01-15",
        "--justification",
        "counter-battery fire against the launchers shelling Sumy",
    ]);
    let (code, v) = json(db, &args);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "pending", "{v}");
    let needs: Vec<&str> = v["needs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["authority"].as_str().unwrap())
        .collect();
    assert_eq!(needs, ["US:SecDef"], "{v}");
    v["id"].as_str().unwrap().to_owned()
}

fn check_on(db: &str, day: &str) -> (i32, Value) {
    let mut args = vec!["check"];
    args.extend_from_slice(ASK);
    args.extend_from_slice(&["--as-of", day]);
    json(db, &args)
}

#[test]
fn users_and_tokens_as_the_operator() {
    let (_dir, db) = setup();
    let (_, users) = json(&db, &["user", "list"]);
    let ids: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["kyiv-mod", "secdef-office"]);

    // The token is printed once, on the first line.
    let out = ok(&db, &["token", "create", "kyiv-mod", "--label", "laptop"]);
    let token = out.lines().next().unwrap();
    assert!(token.starts_with("eu_"), "{out}");
    let (_, list) = json(&db, &["token", "list", "kyiv-mod"]);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[0]["label"], "laptop");
    assert!(
        !list[0].to_string().contains(token),
        "the secret is never listed"
    );
    let id = list[0]["id"].as_str().unwrap();
    let (code, revoked) = json(&db, &["token", "revoke", id]);
    assert_eq!(code, 0, "{revoked}");
    assert_eq!(revoked["status"], "revoked");

    let (code, q) = json(&db, &["quorum", "set", "US:SecDef", "2"]);
    assert_eq!(code, 0, "{q}");
    assert_eq!(q["approvals"], 2);

    let (code, u) = json(&db, &["user", "disable", "kyiv-mod"]);
    assert_eq!(code, 0, "{u}");
    assert_eq!(u["disabled"], true);
    // A disabled user cannot act.
    let o = enduse(&db, &["request", "list", "--as", "kyiv-mod"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("disabled"), "{}", text(&o));
}

#[test]
fn an_approved_request_permits_the_strike_inside_its_window() {
    let (_dir, db) = setup();
    // Before: the strike needs the Defense Secretary's approval.
    let (code, before) = check_on(&db, "2026-01-13");
    assert_eq!(code, 3, "{before}");

    let id = file(&db);
    let (_, queue) = json(
        &db,
        &[
            "request",
            "list",
            "--as",
            "secdef-office",
            "--authority",
            "US:SecDef",
            "--status",
            "pending",
        ],
    );
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    let shown = ok(&db, &["request", "show", &id, "--as", "secdef-office"]);
    assert!(
        shown.contains("pending") && shown.contains("US:SecDef"),
        "{shown}"
    );

    // The requester may not review.
    let o = enduse(
        &db,
        &[
            "request",
            "review",
            &id,
            "--as",
            "kyiv-mod",
            "--verdict",
            "approve",
            "--reason",
            "mine",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("forbidden"), "{}", text(&o));

    let (code, reviewed) = json(
        &db,
        &[
            "request",
            "review",
            &id,
            "--as",
            "secdef-office",
            "--verdict",
            "approve",
            "--reason",
            "military objective, within the agreed range",
            "--expect-version",
            "1",
        ],
    );
    assert_eq!(code, 0, "{reviewed}");
    assert_eq!(reviewed["status"], "approved", "{reviewed}");
    let consent = reviewed["consents"][0].as_str().unwrap().to_owned();

    // Inside the window: permit, citing the consent.
    let (code, after) = check_on(&db, "2026-01-13");
    assert_eq!(code, 0, "{after}");
    assert!(after.to_string().contains(&consent), "{after}");
    // Outside it: still needs approval.
    let (code, _) = check_on(&db, "2026-01-20");
    assert_eq!(code, 3);

    // The log verifies, and a row of it edited is found.
    let (code, v) = json(&db, &["audit", "verify"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ok"], true);
    let n = v["entries"].as_u64().unwrap();
    assert!(n > 0);
    let k = n - 1;
    tamper(
        Path::new(&db),
        &format!(
            "DROP TRIGGER audit_entries_no_update;
             UPDATE audit_entries SET body = replace(body, 'secdef', 'someone') WHERE idx = {k};"
        ),
    );
    let o = enduse(&db, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("first bad entry {k}")),
        "{}",
        text(&o)
    );
}

fn tamper(db: &Path, sql: &str) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(sql).unwrap();
}

#[test]
fn a_refusal_forbids_and_a_withdrawal_closes() {
    let (_dir, db) = setup();
    let id = file(&db);
    // A second request, withdrawn; a review of it then fails.
    let id2 = file(&db);
    let (code, w) = json(&db, &["request", "withdraw", &id2, "--as", "kyiv-mod"]);
    assert_eq!(code, 0, "{w}");
    assert_eq!(w["status"], "withdrawn");
    let o = enduse(
        &db,
        &[
            "request",
            "review",
            &id2,
            "--as",
            "secdef-office",
            "--verdict",
            "approve",
            "--reason",
            "late",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    let (code, refused) = json(
        &db,
        &[
            "request",
            "review",
            &id,
            "--as",
            "secdef-office",
            "--verdict",
            "refuse",
            "--reason",
            "too close to civilian infrastructure",
        ],
    );
    assert_eq!(code, 0, "{refused}");
    assert_eq!(refused["status"], "refused");
    // The refusal is on record: the strike is forbidden in the window.
    let (code, after) = check_on(&db, "2026-01-13");
    assert_eq!(code, 2, "{after}");
    let (_, mine) = json(
        &db,
        &["request", "list", "--as", "kyiv-mod", "--status", "refused"],
    );
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
}

#[test]
fn a_fact_edited_behind_enduse_is_found() {
    let (_dir, db) = setup();
    ok(&db, &["audit", "verify"]);
    tamper(
        Path::new(&db),
        "DROP TRIGGER facts_no_update;
         UPDATE facts SET body = replace(body, 'forbid', 'permit') WHERE kind = 'policy' AND key = 'us-atacms-secdef-review';",
    );
    let o = enduse(&db, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("first bad entry"), "{}", text(&o));
    let (code, v) = json(&db, &["audit", "verify"]);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    assert!(v["first_bad_entry"].is_u64(), "{v}");
}

#[test]
fn an_exported_log_is_proved_offline() {
    let (dir, db) = setup();
    let (_, cp) = json(&db, &["audit", "checkpoint"]);
    let key = cp["key"].as_str().unwrap().to_owned();
    let size = cp["size"].as_u64().unwrap();
    let file = dir.path().join("log.json").display().to_string();
    ok(&db, &["audit", "export", &file]);
    let o = Command::new(bin())
        .args([
            "--json", "audit", "prove", "0", "--export", &file, "--key", &key,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let p: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["tree_size"], size);
    let o = Command::new(bin())
        .args(["audit", "verify", "--export", &file, "--key", &key])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// GET `path` from `addr` over HTTP/1.1; the status line and the body.
fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let (_dir, db) = setup();
    let mut child = Command::new(bin())
        .env("ENDUSE_TODAY", TODAY)
        .env_remove("ENDUSE_DB")
        .args(["serve", "--db", &db, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(a) = line.split("listening on http://").nth(1) {
                let _ = tx.send(a.trim().to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the server did not say where it listens");
    let health = get(&addr, "/v1/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // Workflow actions need a token.
    let listed = get(&addr, "/v1/requests");
    assert!(listed.starts_with("HTTP/1.1 401"), "{listed}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..600 {
        if let Some(s) = child.try_wait().unwrap() {
            assert_eq!(s.code(), Some(0), "{s:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the server did not stop within 60 s of SIGTERM");
}

#[test]
fn the_new_commands_have_help() {
    for (args, wanted) in [
        (
            &["serve", "--help"][..],
            &["--listen", "--private", "--policies", "127.0.0.1:8080"][..],
        ),
        (
            &["user", "add", "--help"],
            &["--party", "--authority", "--role", "requester"],
        ),
        (&["token", "create", "--help"], &["--expires", "--label"]),
        (
            &["request", "file", "--help"],
            &["--as", "--ask", "--from", "--to", "--justification"],
        ),
        (
            &["request", "review", "--help"],
            &["--verdict", "--reason", "--expect-version"],
        ),
        (
            &["audit", "verify", "--help"],
            &["--key", "first bad entry"],
        ),
        (&["audit", "prove", "--help"], &["--export", "--key"]),
        (&["quorum", "set", "--help"], &["AUTHORITY", "APPROVALS"]),
        (
            &["--help"],
            &["serve", "user", "token", "request", "audit", "quorum"],
        ),
    ] {
        let o = Command::new(bin()).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        for w in wanted {
            assert!(out.contains(w), "{args:?} lacks {w}:\n{out}");
        }
    }
}
