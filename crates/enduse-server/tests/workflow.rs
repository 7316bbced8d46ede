#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The approval workflow over HTTP, with the database's own users and
//! tokens: a requester files, the authority's queue lists the request, a
//! reviewer approves, and a decision inside the window is then PERMIT,
//! citing the grant. The negative cases of authorization (no token, a
//! revoked token, another party's request, a reviewer of the wrong
//! authority, self-review), races between reviews and withdrawals, and the
//! audit log's checkpoint, entries and proofs, checked against the signed
//! roots.

mod common;

use common::{client, problem, user, TestServer};
use enduse::{Principal, UserRole};
use enduse_audit::Hash;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const TODAY: &str = "2026-01-10";

/// A SQLite database with the bundled register, the users of the issue's
/// example and a token each (one revoked).
fn setup(dir: &std::path::Path) -> (String, BTreeMap<&'static str, String>, String) {
    use UserRole::*;
    let users = [
        user("kyiv-mod", Some("UA"), &[Requester], &[]),
        user("kyiv-mod-2", Some("UA"), &[Requester], &[]),
        user("warsaw-mod", Some("PL"), &[Requester], &[]),
        user("secdef-office", None, &[Reviewer], &["US:SecDef"]),
        user("secdef-deputy", Some("US"), &[Reviewer], &["US:SecDef"]),
        user("state-dept", Some("US"), &[Reviewer], &["US:State"]),
        user("dual", Some("UA"), &[Requester, Reviewer], &["US:SecDef"]),
        user("editor", None, &[Editor], &[]),
    ];
    let (db, tokens, mut wf) = common::users_db(dir, TODAY, &users);
    let op = Principal::Operator;
    let revoked = wf.create_token(&op, "kyiv-mod", None, None).unwrap();
    wf.revoke_token(&op, &revoked.id).unwrap();
    (db, tokens, revoked.token)
}

fn opts(db: &str) -> enduse_server::ServeOptions {
    common::db_user_opts(db, TODAY)
}

/// The `hashes` of a proof document.
fn hashes_of(proof: &Value) -> Vec<Hash> {
    proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect()
}

fn request() -> Value {
    json!({
        "ask": {"actor": "UA", "action": "use", "model": "ATACMS", "at": {"lat": 51.73, "lon": 36.19}},
        "window": {"from": "2026-01-12", "to": "2026-01-15"},
        "justification": "counter-battery fire against the launchers shelling Sumy"
    })
}

fn ask_on(day: &str) -> Value {
    json!({"actor": "UA", "action": "use", "model": "ATACMS", "at": "51.73,36.19", "as_of": day})
}

fn cites_consent(v: &Value, id: &str) -> bool {
    v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["rules"].as_array().unwrap().iter())
        .any(|r| r["id"] == id && r["kind"] == "consent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_end_to_end_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (db, t, revoked) = setup(dir.path());
    let s = TestServer::start(opts(&db)).await;
    let c = client();

    // Before: needs the Secretary of Defense's approval.
    let before: Value = c
        .post(s.at("/v1/decisions"))
        .json(&ask_on("2026-01-12"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["outcome"], "needs_approval", "{before}");

    // Filing needs a valid token, of a requester, for its own party.
    problem(
        c.post(s.at("/v1/requests"))
            .json(&request())
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let p = problem(
        c.post(s.at("/v1/requests"))
            .bearer_auth(&revoked)
            .json(&request())
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"), "{p}");
    problem(
        c.post(s.at("/v1/requests"))
            .bearer_auth("eu_not-a-token")
            .json(&request())
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        c.post(s.at("/v1/requests"))
            .bearer_auth(&t["warsaw-mod"])
            .json(&request())
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    problem(
        c.post(s.at("/v1/requests"))
            .bearer_auth(&t["editor"])
            .json(&request())
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    // Bad bodies.
    problem(
        c.post(s.at("/v1/requests"))
            .bearer_auth(&t["kyiv-mod"])
            .json(&json!({"ask": {}}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;

    // curl -d without a content type, as in the issue.
    let r = c
        .post(s.at("/v1/requests"))
        .bearer_auth(&t["kyiv-mod"])
        .header("content-type", "application/x-www-form-urlencoded")
        .body(request().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let filed: Value = r.json().await.unwrap();
    assert_eq!(filed["status"], "pending");
    assert_eq!(filed["content"]["needs"], json!(["US:SecDef"]));
    assert_eq!(filed["needs"][0]["authority"], "US:SecDef");
    assert_eq!(filed["digest"].as_str().unwrap().len(), 64);
    let id = filed["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/requests/{id}"));

    // The authority's queue, the requester's view; anonymous sees none.
    let q: Value = c
        .get(s.at("/v1/requests?authority=US:SecDef&status=pending"))
        .bearer_auth(&t["secdef-office"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q["requests"].as_array().unwrap().len(), 1, "{q}");
    assert_eq!(q["requests"][0]["id"], id.as_str());
    let mine: Value = c
        .get(s.at("/v1/requests?requester=kyiv-mod"))
        .bearer_auth(&t["kyiv-mod"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["requests"].as_array().unwrap().len(), 1);
    problem(c.get(s.at("/v1/requests")).send().await.unwrap(), 401).await;
    problem(
        c.get(s.at("/v1/requests?status=maybe"))
            .bearer_auth(&t["kyiv-mod"])
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    let shown = c
        .get(s.at(&location))
        .bearer_auth(&t["kyiv-mod"])
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    assert_eq!(shown.headers()["etag"], "\"1\"");

    // Who may not review: the requester's own party, the wrong authority,
    // a requester.
    let review = json!({"verdict": "approve", "reason": "proportionate; military target"});
    for who in ["dual", "state-dept", "kyiv-mod"] {
        problem(
            c.post(s.at(&format!("/v1/requests/{id}/reviews")))
                .bearer_auth(&t[who])
                .json(&review)
                .send()
                .await
                .unwrap(),
            403,
        )
        .await;
    }
    problem(
        c.post(s.at(&format!("/v1/requests/{id}/reviews")))
            .json(&review)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    // A review without a reason, a stale If-Match.
    problem(
        c.post(s.at(&format!("/v1/requests/{id}/reviews")))
            .bearer_auth(&t["secdef-office"])
            .json(&json!({"verdict": "approve", "reason": " "}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        c.post(s.at(&format!("/v1/requests/{id}/reviews")))
            .bearer_auth(&t["secdef-office"])
            .header("if-match", "\"7\"")
            .json(&review)
            .send()
            .await
            .unwrap(),
        412,
    )
    .await;
    // Another requester of the party may not withdraw it.
    problem(
        c.post(s.at(&format!("/v1/requests/{id}/withdraw")))
            .bearer_auth(&t["warsaw-mod"])
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;

    // The review approves.
    let r = c
        .post(s.at(&format!("/v1/requests/{id}/reviews")))
        .bearer_auth(&t["secdef-office"])
        .header("if-match", "\"1\"")
        .json(&review)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let reviewed: Value = r.json().await.unwrap();
    assert_eq!(reviewed["status"], "approved");
    let consent = reviewed["consents"][0].as_str().unwrap().to_owned();

    // Inside the window: PERMIT, citing the grant, at once on this server.
    for day in ["2026-01-12", "2026-01-15"] {
        let v: Value = c
            .post(s.at("/v1/decisions"))
            .json(&ask_on(day))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["outcome"], "permit", "{day}: {v}");
        assert!(cites_consent(&v, &consent), "{day}: {v}");
    }
    let v: Value = c
        .post(s.at("/v1/decisions"))
        .json(&ask_on("2026-01-16"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["outcome"], "needs_approval");
    // A decided request takes no more reviews or withdrawals.
    let p = problem(
        c.post(s.at(&format!("/v1/requests/{id}/reviews")))
            .bearer_auth(&t["secdef-deputy"])
            .json(&review)
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert_eq!(p["code"], "enduse::workflow::not_pending");
    // Its history.
    let h: Value = c
        .get(s.at(&format!("/v1/requests/{id}/history")))
        .bearer_auth(&t["kyiv-mod"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let states: Vec<&str> = h["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "approved"]);

    // The decision's log index is in the audit log: its entry, and an
    // inclusion proof that checks against the signed checkpoint's root.
    let index = v["log_index"].as_u64().unwrap();
    let e: Value = c
        .get(s.at(&format!("/v1/audit/entries/{index}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(e["kind"], "decision");
    let cp: Value = c
        .get(s.at("/v1/audit/checkpoint"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let size = cp["size"].as_u64().unwrap();
    assert!(size > index);
    let note = c
        .get(s.at("/v1/audit/checkpoint"))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(note.contains(&format!("\n{size}\n")), "{note}");
    let proof: Value = c
        .get(s.at(&format!(
            "/v1/audit/proofs/inclusion?index={index}&size={size}"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hashes = hashes_of(&proof);
    enduse_audit::verify_inclusion(
        index,
        size,
        &Hash::from_hex(e["hash"].as_str().unwrap()).unwrap(),
        &hashes,
        &Hash::from_hex(cp["root"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    // Consistency between an older size and the latest.
    let cons: Value = c
        .get(s.at(&format!(
            "/v1/audit/proofs/consistency?old={index}&new={size}"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hashes = hashes_of(&cons);
    enduse_audit::verify_consistency(
        index,
        size,
        &Hash::from_hex(cons["old_root"].as_str().unwrap()).unwrap(),
        &Hash::from_hex(cp["root"].as_str().unwrap()).unwrap(),
        &hashes,
    )
    .unwrap();
    problem(
        c.get(s.at(&format!("/v1/audit/entries/{}", size + 10)))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    problem(
        c.get(s.at(&format!("/v1/audit/proofs/inclusion?index={}", size + 10)))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    // The workflow's events and the register transaction of the consent
    // are logged too.
    let all: Value = c
        .get(s.at("/v1/audit/entries?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["decision", "workflow", "register_txn"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    // And the whole log verifies.
    let db2 = db.clone();
    let report = tokio::task::spawn_blocking(move || {
        enduse::Audit::open(&db2).unwrap().verify(None).unwrap()
    })
    .await
    .unwrap();
    assert!(report.ok, "{report:?}");

    // Writes of the register: editors only.
    let party = json!({"text": common::party("XQ", "Q")});
    problem(
        c.post(s.at("/v1/records/party"))
            .bearer_auth(&t["kyiv-mod"])
            .json(&party)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let r = c
        .post(s.at("/v1/records/party"))
        .bearer_auth(&t["editor"])
        .json(&party)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_reviews_and_withdrawals_never_both_win() {
    let dir = tempfile::tempdir().unwrap();
    let (db, t, _) = setup(dir.path());
    let s = TestServer::start(opts(&db)).await;
    let c = client();
    for round in 0..4 {
        let mut body = request();
        body["justification"] = json!(format!("round {round}"));
        // Each round its own days: a decided round's consent covers its own.
        body["window"] = json!({"from": format!("2026-02-{:02}", 1 + round * 5), "to": format!("2026-02-{:02}", 3 + round * 5)});
        let filed: Value = c
            .post(s.at("/v1/requests"))
            .bearer_auth(&t["kyiv-mod"])
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(filed["id"].is_string(), "round {round}: {filed}");
        let id = filed["id"].as_str().unwrap().to_owned();
        let review = |who: &'static str, verdict: &'static str| {
            c.post(s.at(&format!("/v1/requests/{id}/reviews")))
                .bearer_auth(&t[who])
                .header("if-match", "\"1\"")
                .json(&json!({"verdict": verdict, "reason": "r"}))
                .send()
        };
        let withdraw = c
            .post(s.at(&format!("/v1/requests/{id}/withdraw")))
            .bearer_auth(&t["kyiv-mod"])
            .header("if-match", "\"1\"")
            .json(&json!({"reason": "no longer needed"}))
            .send();
        let (a, b) = if round % 2 == 0 {
            let (a, b) = tokio::join!(
                review("secdef-office", "approve"),
                review("secdef-deputy", "refuse")
            );
            (a.unwrap(), b.unwrap())
        } else {
            let (a, b) = tokio::join!(review("secdef-office", "approve"), withdraw);
            (a.unwrap(), b.unwrap())
        };
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert!(
            statuses == [200, 409] || statuses == [200, 412],
            "round {round}: {statuses:?}"
        );
        let now: Value = c
            .get(s.at(&format!("/v1/requests/{id}")))
            .bearer_auth(&t["kyiv-mod"])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(now["version"], 2, "round {round}: {now}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_server_reads_with_the_databases_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (db, t, revoked) = setup(dir.path());
    let mut o = opts(&db);
    o.private = true;
    let s = TestServer::start(o).await;
    let c = client();
    problem(
        c.post(s.at("/v1/decisions"))
            .json(&ask_on("2026-01-12"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        c.post(s.at("/v1/decisions"))
            .bearer_auth(&revoked)
            .json(&ask_on("2026-01-12"))
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        c.get(s.at("/v1/audit/checkpoint")).send().await.unwrap(),
        401,
    )
    .await;
    let r = c
        .post(s.at("/v1/decisions"))
        .bearer_auth(&t["kyiv-mod"])
        .json(&ask_on("2026-01-12"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}
