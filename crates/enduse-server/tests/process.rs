#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Real server processes: the corpus through `enduse serve` (the CLI's
//! subcommand, calling `enduse_server::serve`) and through this crate's
//! `serve` example, and SIGTERM finishing the requests in flight before
//! the process exits 0.

mod common;

use enduse_testkit::{assert_no_mismatch, compare, corpus};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The directory of the build's binaries (`target/debug`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// A running server process and its address.
struct Process {
    child: Child,
    url: String,
}

impl Process {
    /// Starts `cmd` (which must print `listening on http://ADDR` to standard
    /// error) and waits for the address.
    fn start(mut cmd: Command) -> Process {
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(addr) = line.split("listening on ").nth(1) {
                        let _ = tx.send(addr.trim().to_owned());
                        sent = true;
                        continue;
                    }
                }
                eprintln!("server: {line}");
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("{cmd:?} did not say where it listens"));
        Process { child, url }
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// SIGTERM, by the child's id.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; its code.
    fn wait(mut self) -> Option<i32> {
        for _ in 0..600 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("the server did not stop within 60 s of SIGTERM");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn corpus_through(p: &Process) -> Vec<String> {
    let c = corpus();
    let http = common::client();
    let mut bad = Vec::new();
    for case in &c.cases {
        let mut ask = case.ask();
        // The binary's clock is the system's unless it reads ENDUSE_TODAY.
        ask.known_at = Some(case.known_at.clone().unwrap_or_else(|| c.today.clone()));
        let r = http
            .post(p.at("/v1/decisions"))
            .json(&ask)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let got = common::as_corpus_answer(status, r.json().await.unwrap());
        if status != 200 && status != 400 {
            bad.push(format!("{}: {status} {got}", case.name));
        }
        bad.extend(compare(&case.name, &got, &case.expect));
    }
    bad
}

async fn finishes_in_flight_on_sigterm(p: Process) {
    let http = common::client();
    let slow = tokio::spawn(
        http.post(p.at("/v1/map"))
            .json(&json!({"ask": {"actor": "UA", "action": "use", "model": "HIMARS", "as_of": "2024-06-15"}, "cell": 0.3}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    p.terminate();
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<svg"));
    let url = p.at("/v1/health");
    let code = tokio::task::spawn_blocking(move || p.wait()).await.unwrap();
    assert_eq!(code, Some(0));
    assert!(
        http.get(url).send().await.is_err(),
        "still answering after SIGTERM"
    );
}

/// `enduse serve --db DB --listen 127.0.0.1:0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_through_enduse_serve() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::sqlite_db(dir.path());
    let bin = bin_dir().join("enduse");
    assert!(
        bin.is_file(),
        "{} is not built: `cargo test --workspace` builds it (or `cargo build -p enduse-cli`)",
        bin.display()
    );
    let mut cmd = Command::new(&bin);
    cmd.args(["serve", "--db", &db, "--listen", "127.0.0.1:0"])
        .env("ENDUSE_TODAY", common::TODAY)
        .env_remove("ENDUSE_DB");
    let p = Process::start(cmd);
    let bad = corpus_through(&p).await;
    finishes_in_flight_on_sigterm(p).await;
    assert_no_mismatch(&bad);
}

/// The same through this crate's `serve` example (built by `cargo test`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_through_a_server_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("enduse.db");
    let bin = bin_dir().join("examples").join("serve");
    assert!(
        bin.is_file(),
        "{} is not built: run `cargo test -p enduse-server`",
        bin.display()
    );
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--db",
        db.to_str().unwrap(),
        "--init",
        "--listen",
        "127.0.0.1:0",
        "--today",
        common::TODAY,
    ]);
    let p = Process::start(cmd);
    let bad = corpus_through(&p).await;
    finishes_in_flight_on_sigterm(p).await;
    assert_no_mismatch(&bad);
}

/// The `serve` example logging every decision in `db`.
fn logging_server(db: &std::path::Path, init: bool) -> Process {
    let bin = bin_dir().join("examples").join("serve");
    let mut cmd = Command::new(&bin);
    cmd.args(["--db", db.to_str().unwrap()]);
    if init {
        cmd.arg("--init");
    }
    cmd.args(["--listen", "127.0.0.1:0", "--today", common::TODAY]);
    Process::start(cmd)
}

/// Decides `n` asks; their log indices.
async fn logged_decisions(p: &Process, n: usize) -> Vec<u64> {
    let http = common::client();
    let mut out = Vec::new();
    for i in 0..n {
        let r = http
            .post(p.at("/v1/decisions"))
            .json(&json!({"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": format!("2024-09-{:02}", 1 + i % 28)}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        out.push(v["log_index"].as_u64().unwrap());
    }
    out
}

/// Checks that every acknowledged index holds its decision; the verified
/// log.
fn assert_logged(db: &std::path::Path, indices: &[u64]) -> enduse::VerifyReport {
    let mut a = enduse::Audit::open_read_only(db.to_str().unwrap()).unwrap();
    let v = a.verify(None).unwrap();
    assert!(v.ok, "{v:?}");
    for (i, &index) in indices.iter().enumerate() {
        let e = a.entry(index).unwrap();
        assert_eq!(e.kind, "decision");
        assert_eq!(
            e.body["ask"]["as_of"],
            format!("2024-09-{:02}", 1 + i % 28),
            "entry {index}"
        );
    }
    v
}

/// Checkpoints are signed on a timer, so SIGTERM signs one over what was
/// appended; a server killed outright loses no decision it answered (each
/// is committed before its answer), and the next start signs what it left
/// uncovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_decisions_survive_sigterm_and_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("enduse.db");
    let p = logging_server(&db, true);
    let first = logged_decisions(&p, 40).await;
    p.terminate();
    assert_eq!(
        tokio::task::spawn_blocking(move || p.wait()).await.unwrap(),
        Some(0)
    );
    let v = assert_logged(&db, &first);
    assert_eq!(v.unsigned_entries, 0, "{v:?}");
    assert_eq!(v.latest_checkpoint, Some(v.entries));

    let mut p = logging_server(&db, false);
    let second = logged_decisions(&p, 40).await;
    assert!(second[0] > *first.last().unwrap());
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    let v = assert_logged(&db, &second);
    assert_eq!(v.entries, second.last().unwrap() + 1);

    let p = logging_server(&db, false);
    let v = assert_logged(&db, &second);
    assert_eq!(v.unsigned_entries, 0, "{v:?}");
    assert_eq!(v.latest_checkpoint, Some(v.entries));
    drop(p);
}
