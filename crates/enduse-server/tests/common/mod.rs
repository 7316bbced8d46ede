//! Test support: a server bound to 127.0.0.1:0 on the test's runtime, a
//! client, and checks of problem documents.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use enduse::{Delegation, NewUser, Principal, UserRole, Workflow};
use enduse_server::{AppState, ServeOptions, Server, StaticTokens};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The corpus's fixed today.
pub const TODAY: &str = "2026-11-01";

/// The editor's token of [`opts`]: may do everything.
pub const EDITOR: &str = "t-editor";
/// A reader's token: may only read.
pub const READER: &str = "t-reader";

/// Options for a test server: port 0, the corpus's today, an editor and a
/// reader.
pub fn opts(db: Option<&str>) -> ServeOptions {
    ServeOptions {
        db: db.map(str::to_owned),
        listen: "127.0.0.1:0".parse().unwrap(),
        clock: enduse::Clock::fixed_day(
            chrono::NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").unwrap(),
        ),
        authenticator: Some(Arc::new(
            StaticTokens::new()
                .with("editor", EDITOR, &["*"])
                .with("reader", READER, &["read"]),
        )),
        poll_interval: Duration::from_millis(100),
        ..ServeOptions::default()
    }
}

/// A server running on the test's runtime.
pub struct TestServer {
    pub url: String,
    pub state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), enduse_server::ServerError>>>,
}

impl TestServer {
    pub async fn start(opts: ServeOptions) -> TestServer {
        let server = Server::bind(opts).await.unwrap();
        let url = format!("http://{}", server.local_addr().unwrap());
        let state = server.state();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestServer {
            url,
            state,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Asks the server to stop (graceful) without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        self.signal_stop();
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// Checks that `r` is a problem document with `status`; returns it.
pub async fn problem(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "status {got} != {status}: {text}");
    assert_eq!(ct, "application/problem+json", "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["status"], status, "{v}");
    for k in ["type", "title", "detail", "code", "kind"] {
        assert!(v[k].is_string(), "{k} missing: {v}");
    }
    assert!(v["code"].as_str().unwrap().starts_with("enduse::"), "{v}");
    assert!(v["problems"].is_array(), "{v}");
    v
}

/// A SQLite database in `dir` holding the bundled data set.
pub fn sqlite_db(dir: &std::path::Path) -> String {
    let db = dir.join("enduse.db").to_str().unwrap().to_owned();
    let mut reg = enduse::Register::open(&db).unwrap();
    reg.init(&mut |_, _, _| {}).unwrap();
    db
}

/// The number of transactions of the server's database.
pub async fn txns(c: &reqwest::Client, s: &TestServer) -> usize {
    let v: Value = c
        .get(s.at("/v1/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["transactions"].as_array().unwrap().len()
}

/// A party record's TOML.
pub fn party(id: &str, name: &str) -> String {
    format!("[[party]]\nid = \"{id}\"\nname = \"{name}\"\nkind = \"state\"\n")
}

/// A problem document as the corpus's comparison reads an error:
/// `{"error": {"code": .., "message": ..}}`; a decision as it is.
pub fn as_corpus_answer(status: u16, v: Value) -> Value {
    if status == 200 {
        return v;
    }
    serde_json::json!({"error": {"code": v["code"], "message": v["detail"], "status": status}})
}

/// A clock fixed on `day` (`YYYY-MM-DD`).
pub fn clock_on(day: &str) -> enduse::Clock {
    enduse::Clock::fixed_day(chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap())
}

/// A user of the database's own accounts.
pub fn user(id: &str, party: Option<&str>, roles: &[UserRole], authorities: &[&str]) -> NewUser {
    NewUser {
        id: id.into(),
        name: None,
        party: party.map(str::to_owned),
        roles: roles.to_vec(),
        authorities: authorities.iter().map(|a| Delegation::new(a)).collect(),
    }
}

/// A SQLite database in `dir` with the bundled register and `users`, each
/// with one token (by user id), written on `today`. The workflow is
/// returned for further set-up (a revoked token, a quorum).
pub fn users_db(
    dir: &std::path::Path,
    today: &str,
    users: &[NewUser],
) -> (String, BTreeMap<&'static str, String>, Workflow) {
    let db = sqlite_db(dir);
    let mut wf = Workflow::open(&db).unwrap().with_clock(clock_on(today));
    let op = Principal::Operator;
    let mut tokens = BTreeMap::new();
    for u in users {
        wf.add_user(&op, u).unwrap();
        let id: &'static str = Box::leak(u.id.clone().into_boxed_str());
        tokens.insert(id, wf.create_token(&op, &u.id, None, None).unwrap().token);
    }
    (db, tokens, wf)
}

/// Options for a server on `db` that authenticates with the database's own
/// users and tokens, on `today`.
pub fn db_user_opts(db: &str, today: &str) -> ServeOptions {
    let mut o = opts(Some(db));
    o.authenticator = None;
    o.clock = clock_on(today);
    o
}
