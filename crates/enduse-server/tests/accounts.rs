#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Users, tokens and quorums over HTTP, on the database's own users: an
//! admin adds a user and a token for it, the token works until it is
//! revoked; other users get 403, no token 401, a stale `If-Match` 412; a
//! quorum of 2 needs two members' approvals; bad bodies are refused naming
//! the field and write nothing (the audit log and the users are unchanged).

mod common;

use common::{client, problem, user, TestServer};
use enduse::UserRole;
use reqwest::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const TODAY: &str = "2026-01-10";

/// A SQLite database with the bundled register, an admin, a requester of
/// Ukraine and two reviewers for the US Secretary of Defense, with a token
/// each.
fn setup(dir: &std::path::Path) -> (String, BTreeMap<&'static str, String>) {
    use UserRole::*;
    let users = [
        user("admin", None, &[Admin], &[]),
        user("kyiv-mod", Some("UA"), &[Requester], &[]),
        user("secdef-office", None, &[Reviewer], &["US:SecDef"]),
        user("secdef-deputy", Some("US"), &[Reviewer], &["US:SecDef"]),
    ];
    let (db, tokens, _) = common::users_db(dir, TODAY, &users);
    (db, tokens)
}

fn opts(db: &str) -> enduse_server::ServeOptions {
    common::db_user_opts(db, TODAY)
}

/// Every entry of the audit log.
async fn log_entries(c: &Client, s: &TestServer) -> Vec<Value> {
    let v: Value = c
        .get(s.at("/v1/audit/entries?from=0&limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["entries"].as_array().unwrap().clone()
}

/// Whether the log holds a workflow event `event` about `subject`, by
/// `by`.
fn logged(entries: &[Value], event: &str, subject: &str, by: &str) -> bool {
    entries.iter().any(|e| {
        let b = &e["body"];
        let text = b.to_string();
        e["kind"] == "workflow"
            && text.contains(&format!("\"{event}\""))
            && text.contains(&format!("\"{subject}\""))
            && text.contains(&format!("\"by\":\"{by}\""))
    })
}

async fn users(c: &Client, s: &TestServer, admin: &str) -> Value {
    let r = c
        .get(s.at("/v1/users"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_users_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (db, t) = setup(dir.path());
    let s = TestServer::start(opts(&db)).await;
    let c = client();
    let admin = &t["admin"];

    // No token: 401, on reads and writes alike; an unknown token: 401.
    problem(c.get(s.at("/v1/users")).send().await.unwrap(), 401).await;
    problem(c.get(s.at("/v1/tokens")).send().await.unwrap(), 401).await;
    problem(
        c.post(s.at("/v1/users"))
            .json(&json!({"id": "x", "roles": ["editor"]}))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        c.get(s.at("/v1/users"))
            .bearer_auth("eu_not-a-token")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;

    // A requester may not manage users, tokens or quorums.
    let before = log_entries(&c, &s).await.len();
    let p = problem(
        c.post(s.at("/v1/users"))
            .bearer_auth(&t["kyiv-mod"])
            .json(&json!({"id": "mallory", "roles": ["admin"]}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("kyiv-mod"), "{p}");
    problem(
        c.get(s.at("/v1/tokens"))
            .bearer_auth(&t["kyiv-mod"])
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    problem(
        c.put(s.at("/v1/quorums/US:SecDef"))
            .bearer_auth(&t["secdef-office"])
            .json(&json!({"approvals": 3}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(log_entries(&c, &s).await.len(), before);
    assert!(users(&c, &s, admin).await["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["id"] != "mallory"));

    // The admin adds an editor.
    let r = c
        .post(s.at("/v1/users"))
        .bearer_auth(admin)
        .json(&json!({"id": "new-ed", "name": "New Editor", "roles": ["editor"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "\"1\"");
    assert_eq!(r.headers()["location"], "/v1/users/new-ed");
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["id"], "new-ed");
    assert_eq!(u["roles"], json!(["editor"]));
    assert_eq!(u["disabled"], false);
    // Adding it again is a conflict.
    problem(
        c.post(s.at("/v1/users"))
            .bearer_auth(admin)
            .json(&json!({"id": "new-ed", "roles": ["editor"]}))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    let r = c
        .get(s.at("/v1/users/new-ed"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"1\"");
    problem(
        c.get(s.at("/v1/users/nobody"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // A token for it: the secret is in the 201 body only.
    let r = c
        .post(s.at("/v1/tokens"))
        .bearer_auth(admin)
        .json(&json!({"user": "new-ed", "label": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let issued: Value = r.json().await.unwrap();
    let secret = issued["token"].as_str().unwrap().to_owned();
    let token_id = issued["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("eu_"), "{issued}");
    assert_eq!(issued["user"], "new-ed");
    let listed = c
        .get(s.at("/v1/tokens?user=new-ed"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(&secret), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{listed}");
    assert_eq!(tokens[0]["id"], token_id.as_str());
    assert_eq!(tokens[0]["label"], "ci");
    assert_eq!(tokens[0]["status"], "active");
    assert!(tokens[0].get("token").is_none());

    // The token works for a write an editor may do ...
    let write = |name: &'static str| {
        c.post(s.at("/v1/records/party"))
            .bearer_auth(&secret)
            .json(&json!({"text": common::party("XA", name)}))
            .send()
    };
    let r = write("Xanadu").await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // ... but not to manage users: it is an editor's.
    problem(
        c.get(s.at("/v1/users"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;

    // Revoked, it stops working.
    let r = c
        .delete(s.at(&format!("/v1/tokens/{token_id}")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let revoked: Value = r.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked"].is_string());
    let p = problem(write("Xanadu Again").await.unwrap(), 401).await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"), "{p}");
    problem(
        c.delete(s.at("/v1/tokens/000000000000"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // A change needs the version: none is 428, a stale one 412.
    let change = json!({"name": "Kyiv editor", "party": "UA", "roles": ["editor", "requester"]});
    problem(
        c.put(s.at("/v1/users/new-ed"))
            .bearer_auth(admin)
            .json(&change)
            .send()
            .await
            .unwrap(),
        428,
    )
    .await;
    let r = c
        .put(s.at("/v1/users/new-ed"))
        .bearer_auth(admin)
        .header("If-Match", "\"1\"")
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["party"], "UA");
    assert_eq!(u["roles"], json!(["requester", "editor"]));
    let before = log_entries(&c, &s).await.len();
    let p = problem(
        c.put(s.at("/v1/users/new-ed"))
            .bearer_auth(admin)
            .header("If-Match", "\"1\"")
            .json(&json!({"roles": ["admin"]}))
            .send()
            .await
            .unwrap(),
        412,
    )
    .await;
    assert_eq!(p["code"], "enduse::store::conflict", "{p}");
    assert_eq!(log_entries(&c, &s).await.len(), before);

    // Disabled, its new token is refused; enabled, it works again.
    let fresh: Value = c
        .post(s.at("/v1/tokens"))
        .bearer_auth(admin)
        .json(&json!({"user": "new-ed", "expires": "2026-03-01"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["expires"], "2026-03-01T00:00:00.000000Z", "{fresh}");
    let fresh = fresh["token"].as_str().unwrap().to_owned();
    let r = c
        .post(s.at("/v1/users/new-ed/disable"))
        .bearer_auth(admin)
        .header("If-Match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"3\"");
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["disabled"], true);
    let fetch = || {
        c.get(s.at("/v1/tokens?user=new-ed"))
            .bearer_auth(&fresh)
            .send()
    };
    // An editor's token: 403 while it is valid, 401 while its user is
    // disabled.
    problem(fetch().await.unwrap(), 401).await;
    problem(
        c.post(s.at("/v1/users/new-ed/enable"))
            .bearer_auth(admin)
            .header("If-Match", "\"2\"")
            .send()
            .await
            .unwrap(),
        412,
    )
    .await;
    let r = c
        .post(s.at("/v1/users/new-ed/enable"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    problem(fetch().await.unwrap(), 403).await;

    // Every version, and every change in the audit log, by the admin.
    let h: Value = c
        .get(s.at("/v1/users/new-ed/history"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions: Vec<i64> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4], "{h}");
    assert_eq!(h["versions"][2]["disabled"], true);
    let entries = log_entries(&c, &s).await;
    for event in [
        "user_added",
        "token_created",
        "token_revoked",
        "user_updated",
        "user_disabled",
        "user_enabled",
    ] {
        assert!(logged(&entries, event, "new-ed", "admin"), "{event}");
    }
    assert!(!logged(&entries, "user_added", "mallory", "kyiv-mod"));

    // An admin cannot lock itself out: not disable itself, not take away
    // its own admin role, not revoke its last token.
    let before = entries.len();
    let r = c
        .get(s.at("/v1/users/admin"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let v = r.headers()["etag"].to_str().unwrap().to_owned();
    let p = problem(
        c.post(s.at("/v1/users/admin/disable"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("disable itself"),
        "{p}"
    );
    problem(
        c.put(s.at("/v1/users/admin"))
            .bearer_auth(admin)
            .header("If-Match", &v)
            .json(&json!({"roles": ["editor"]}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let mine: Value = c
        .get(s.at("/v1/tokens?user=admin"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mine = mine["tokens"][0]["id"].as_str().unwrap().to_owned();
    problem(
        c.delete(s.at(&format!("/v1/tokens/{mine}")))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(log_entries(&c, &s).await.len(), before);
    // Another change of its own is fine.
    let r = c
        .put(s.at("/v1/users/admin"))
        .bearer_auth(admin)
        .header("If-Match", &v)
        .json(&json!({"name": "The Admin", "roles": ["admin", "editor"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quorum_of_two_needs_two_approvals() {
    let dir = tempfile::tempdir().unwrap();
    let (db, t) = setup(dir.path());
    let s = TestServer::start(opts(&db)).await;
    let c = client();
    let admin = &t["admin"];
    let q: Value = c
        .get(s.at("/v1/quorums/us:secdef"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q, json!({"authority": "US:SecDef", "approvals": 1}));
    let r = c
        .put(s.at("/v1/quorums/US:SecDef"))
        .bearer_auth(admin)
        .json(&json!({"approvals": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let q: Value = r.json().await.unwrap();
    assert_eq!(q, json!({"authority": "US:SecDef", "approvals": 2}));
    assert!(logged(
        &log_entries(&c, &s).await,
        "quorum_set",
        "US:SecDef",
        "admin"
    ));

    let r = c
        .post(s.at("/v1/requests"))
        .bearer_auth(&t["kyiv-mod"])
        .json(&json!({
            "ask": {"actor": "UA", "action": "use", "model": "ATACMS", "at": {"lat": 51.73, "lon": 36.19}},
            "window": {"from": "2026-01-12", "to": "2026-01-15"},
            "justification": "counter-battery fire"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let filed: Value = r.json().await.unwrap();
    let id = filed["id"].as_str().unwrap().to_owned();
    let need = &filed["needs"][0];
    assert_eq!(need["authority"], "US:SecDef", "{filed}");
    assert_eq!(need["required"], 2, "{filed}");

    let approve = |who: &str| {
        c.post(s.at(&format!("/v1/requests/{id}/reviews")))
            .bearer_auth(&t[who])
            .json(&json!({"verdict": "approve", "reason": "lawful target"}))
            .send()
    };
    let r = approve("secdef-office").await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "pending", "{v}");
    assert_eq!(v["needs"][0]["approvals"], 1);
    assert_eq!(v["needs"][0]["satisfied"], false);
    assert!(v["consents"].as_array().unwrap().is_empty());
    let r = approve("secdef-deputy").await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "approved", "{v}");
    assert_eq!(v["needs"][0]["approvals"], 2);
    assert!(!v["consents"].as_array().unwrap().is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_name_the_field_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, t) = setup(dir.path());
    let s = TestServer::start(opts(&db)).await;
    let c = client();
    let admin = &t["admin"];
    let entries = log_entries(&c, &s).await.len();
    let people = users(&c, &s, admin).await;
    let tokens: Value = c
        .get(s.at("/v1/tokens"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // (method, path, body, status, a word the detail must hold)
    let cases: Vec<(&str, &str, Value, u16, &str)> = vec![
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "roles": ["editor"], "colour": "red"}),
            422,
            "colour",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "roles": "editor"}),
            422,
            "roles",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "roles": ["emperor"]}),
            422,
            "roles",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": 7, "roles": ["editor"]}),
            422,
            "id",
        ),
        ("POST", "/v1/users", json!({"roles": ["editor"]}), 422, "id"),
        (
            "POST",
            "/v1/users",
            json!({"id": "Not An Id", "roles": ["editor"]}),
            400,
            "user id",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "roles": []}),
            400,
            "role",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "party": "Atlantis", "roles": ["requester"]}),
            400,
            "party",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "roles": ["requester"]}),
            400,
            "party",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "roles": ["reviewer"], "authorities": [{"authority": "XX:Nobody"}]}),
            400,
            "authority",
        ),
        (
            "POST",
            "/v1/users",
            json!({"id": "x", "roles": ["reviewer"], "authorities": [{"authority": "US:SecDef", "from": "soon"}]}),
            422,
            "authorities[0].from",
        ),
        (
            "PUT",
            "/v1/users/kyiv-mod",
            json!({"id": "kyiv-mod", "roles": ["admin"], "expect_version": 1}),
            422,
            "id",
        ),
        (
            "PUT",
            "/v1/users/kyiv-mod",
            json!({"party": "Atlantis", "roles": ["requester"], "expect_version": 1}),
            400,
            "party",
        ),
        (
            "PUT",
            "/v1/quorums/US:SecDef",
            json!({"approvals": 0}),
            400,
            "approvals",
        ),
        (
            "PUT",
            "/v1/quorums/US:SecDef",
            json!({"approvals": 1000}),
            400,
            "approvals",
        ),
        (
            "PUT",
            "/v1/quorums/US:SecDef",
            json!({"approvals": -1}),
            422,
            "approvals",
        ),
        (
            "PUT",
            "/v1/quorums/US:SecDef",
            json!({"approvals": "two"}),
            422,
            "approvals",
        ),
        (
            "PUT",
            "/v1/quorums/US:SecDef",
            json!({"approvals": 2, "quorum": 2}),
            422,
            "quorum",
        ),
        (
            "PUT",
            "/v1/quorums/XX:Nobody",
            json!({"approvals": 2}),
            400,
            "authority",
        ),
        (
            "POST",
            "/v1/tokens",
            json!({"user": "kyiv-mod", "expires": "soon"}),
            400,
            "expiry",
        ),
        (
            "POST",
            "/v1/tokens",
            json!({"user": "kyiv-mod", "expires": "2025-01-01"}),
            400,
            "expiry",
        ),
        (
            "POST",
            "/v1/tokens",
            json!({"user": "kyiv-mod", "scope": "all"}),
            422,
            "scope",
        ),
        (
            "POST",
            "/v1/tokens",
            json!({"user": "nobody"}),
            404,
            "nobody",
        ),
    ];
    for (method, path, body, status, word) in cases {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = c
            .request(m, s.at(path))
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(r, status).await;
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains(word),
            "{method} {path} {body}: `{word}` not in {p}"
        );
        assert!(
            !detail.contains("--"),
            "{method} {path}: CLI wording in {p}"
        );
    }

    // Nothing was written: the log, the users, the tokens and the quorum
    // are as they were.
    assert_eq!(log_entries(&c, &s).await.len(), entries);
    assert_eq!(users(&c, &s, admin).await, people);
    let after: Value = c
        .get(s.at("/v1/tokens"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after, tokens);
    let q: Value = c
        .get(s.at("/v1/quorums/US:SecDef"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q["approvals"], 1);
    s.stop().await;
}
