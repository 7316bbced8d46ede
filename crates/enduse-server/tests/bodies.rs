#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Bad bodies (malformed JSON, unknown fields, wrong types, oversize,
//! invalid records and data sets) get a 4xx problem document, and nothing
//! is written.

mod common;

use common::{client, opts, party, problem, sqlite_db, txns, TestServer, EDITOR};
use serde_json::json;

fn ask() -> serde_json::Value {
    json!({"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09-11"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_decision_bodies_are_refused_with_problems() {
    let s = TestServer::start(opts(None)).await;
    let c = client();
    let post = |body: Vec<u8>| {
        c.post(s.at("/v1/decisions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Malformed JSON.
    let trailing = format!("{} x", ask());
    for body in ["{", "", "{\"actor\": \"UA\",}", trailing.as_str(), "nul"] {
        let p = problem(post(body.into()).await.unwrap(), 400).await;
        assert_eq!(p["code"], "enduse::server::malformed_json", "{body}: {p}");
    }
    // Unknown fields, wrong types, missing fields, wrong shapes.
    for body in [
        json!({"actor": "UA", "action": "use", "modle": "ATACMS"}),
        json!({"actor": 5, "action": "use", "model": "ATACMS"}),
        json!({"actor": "UA", "action": "use", "model": "ATACMS", "approvals": "US:SecDef"}),
        json!({"actor": "UA", "action": "use", "model": "ATACMS", "border_distance_km": "far"}),
        json!({"actor": "UA", "action": "use", "model": "ATACMS", "at": {"lat": 50}}),
        json!({"actor": "UA", "action": "use", "model": "ATACMS", "at": 5}),
        json!({"action": "use", "model": "ATACMS"}),
        json!([ask()]),
        json!("UA"),
    ] {
        let p = problem(post(body.to_string().into()).await.unwrap(), 422).await;
        assert_eq!(p["code"], "enduse::server::invalid_body", "{body}: {p}");
    }
    let p = problem(
        post(
            json!({"actor": "UA", "action": "use", "modle": "ATACMS"})
                .to_string()
                .into(),
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("`modle`"), "{p}");
    // What the library refuses: unknown names, bad dates, bad points.
    for (body, code) in [
        (
            json!({"actor": "Narnia", "action": "use", "model": "ATACMS"}),
            "enduse::unknown_party",
        ),
        (
            json!({"actor": "UA", "action": "fly", "model": "ATACMS"}),
            "enduse::unknown_action",
        ),
        (
            json!({"actor": "UA", "action": "use", "model": "ATACMS", "as_of": "2024-13-01"}),
            "enduse::bad_date",
        ),
        (
            json!({"actor": "UA", "action": "use", "model": "ATACMS", "at": "95,30"}),
            "",
        ),
        (
            json!({"actor": "UA", "action": "use", "model": "ATACMS", "at": "0,0"}),
            "",
        ),
        (json!({"actor": "UA", "action": "use"}), "enduse::no_item"),
    ] {
        let p = problem(post(body.to_string().into()).await.unwrap(), 400).await;
        if !code.is_empty() {
            assert_eq!(p["code"], code, "{body}: {p}");
        }
    }
    // A body over 1 MiB.
    let mut big = ask();
    big["actor"] = json!("x".repeat((1 << 20) + 10));
    let p = problem(post(big.to_string().into()).await.unwrap(), 413).await;
    assert_eq!(p["code"], "enduse::server::body_too_large");
    // A media type that is not JSON.
    let r = c
        .post(s.at("/v1/decisions"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(ask().to_string())
        .send()
        .await
        .unwrap();
    problem(r, 415).await;
    // curl -d's default content type is read as JSON.
    let r = c
        .post(s.at("/v1/decisions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(ask().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Query strings.
    for q in [
        "/v1/consent-chain?actor=UA&model=ATACMS&bogus=1",
        "/v1/consent-chain?model=ATACMS",
        "/v1/policies?party=US&as_of=yesterday",
        "/v1/where?at=north",
        "/v1/timeline",
        "/v1/parties?q=x",
        "/v1/decisions?explain=maybe",
    ] {
        let r = if q.starts_with("/v1/decisions") {
            c.post(s.at(q)).json(&ask()).send().await.unwrap()
        } else {
            c.get(s.at(q)).send().await.unwrap()
        };
        problem(r, 400).await;
    }
    // No such route, no such method.
    problem(c.get(s.at("/v1/nothing")).send().await.unwrap(), 404).await;
    problem(c.get(s.at("/v1/decisions")).send().await.unwrap(), 405).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_limited() {
    let s = TestServer::start(opts(None)).await;
    let c = client();
    // Over 10,000 asks.
    let asks: Vec<serde_json::Value> = (0..10_001)
        .map(|_| json!({"actor": "UA", "action": "use", "model": "ATACMS"}))
        .collect();
    let p = problem(
        c.post(s.at("/v1/decisions/batch"))
            .json(&json!({"asks": asks}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(p["code"], "enduse::server::batch_too_large");
    // Over 16 MiB, although a single decision's limit (1 MiB) is passed.
    let pad = "x".repeat(4000);
    let asks: Vec<serde_json::Value> = (0..4_300)
        .map(|_| json!({"actor": "UA", "action": "use", "model": pad}))
        .collect();
    let body = json!({"asks": asks}).to_string();
    assert!(body.len() > 16 << 20);
    let p = problem(
        c.post(s.at("/v1/decisions/batch"))
            .body(body)
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert_eq!(p["code"], "enduse::server::body_too_large");
    // 2 MiB is fine for a batch; each bad ask gets its own problem.
    let mut asks: Vec<serde_json::Value> = (0..400)
        .map(|i| json!({"actor": "UA", "action": "use", "model": format!("{i}{}", "x".repeat(5000))}))
        .collect();
    asks.push(ask());
    let r = c
        .post(s.at("/v1/decisions/batch"))
        .json(&json!({"asks": asks}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 401);
    assert_eq!(results[0]["status"], 400);
    assert_eq!(results[0]["problem"]["code"], "enduse::server::too_long");
    assert_eq!(results[400]["status"], 200);
    assert_eq!(results[400]["decision"]["outcome"], "forbid");
    // An ask of the wrong shape refuses the whole batch.
    let p = problem(
        c.post(s.at("/v1/decisions/batch"))
            .json(&json!({"asks": [ask(), {"actor": 1}]}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("asks[1]"), "{p}");
    // Empty is fine.
    let v: serde_json::Value = c
        .post(s.at("/v1/decisions/batch"))
        .json(&json!({"asks": []}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["results"], json!([]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_writes_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let s = TestServer::start(opts(Some(&db))).await;
    let c = client();
    let before = txns(&c, &s).await;
    let put = |body: String| {
        c.post(s.at("/v1/records/party"))
            .bearer_auth(EDITOR)
            .body(body)
            .send()
    };
    for body in ["{", "{\"text\": }", "not json"] {
        problem(put(body.into()).await.unwrap(), 400).await;
    }
    for body in [
        json!({"text": party("XA", "A"), "extra": 1}),
        json!({"text": 5}),
        json!({"txt": party("XA", "A")}),
        json!({"text": party("XA", "A"), "owner": ["US"]}),
    ] {
        problem(put(body.to_string()).await.unwrap(), 422).await;
    }
    // Over 1 MiB.
    let big = json!({"text": format!("{}# {}\n", party("XB", "B"), "x".repeat(1 << 20))});
    problem(put(big.to_string()).await.unwrap(), 413).await;
    // Not a record, or a record that breaks the register.
    for text in [
        "[[party]]\nid = \"XC\"\n".to_owned(),
        "this is not toml".to_owned(),
        format!("{}unknown_key = 1\n", party("XD", "D")),
        "[[transfer]]\nid = \"t-x\"\nfrom = \"Nowhere\"\nto = \"UA\"\nlot = \"no-lot\"\n"
            .to_owned(),
    ] {
        let p = problem(put(json!({"text": text}).to_string()).await.unwrap(), 400).await;
        assert!(!p["detail"].as_str().unwrap().contains(&db), "{p}");
    }
    // An unknown record kind.
    let r = c
        .post(s.at("/v1/records/gizmo"))
        .bearer_auth(EDITOR)
        .json(&json!({"text": party("XE", "E")}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(p["code"], "enduse::unknown_record_kind");
    // Bad preconditions.
    for (h, v) in [
        ("if-match", "*"),
        ("if-match", "\"x\""),
        ("if-none-match", "\"3\""),
    ] {
        let r = c
            .post(s.at("/v1/records/party"))
            .bearer_auth(EDITOR)
            .header(h, v)
            .json(&json!({"text": party("XF", "F")}))
            .send()
            .await
            .unwrap();
        problem(r, 400).await;
    }
    // Imports: a bad file name, an invalid data set, bad shapes.
    for (body, status) in [
        (json!({"files": {"../etc/passwd.toml": ""}}), 400),
        (json!({"files": {"README.md": ""}}), 400),
        (
            json!({"files": {"parties.toml": "[[party]]\nid = 1\n"}}),
            400,
        ),
        (json!({"files": {}}), 400),
        (json!({"files": ["parties.toml"]}), 422),
        (json!({"files": {}, "force": true}), 422),
    ] {
        let r = c
            .post(s.at("/v1/import"))
            .bearer_auth(EDITOR)
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(r, status).await;
        let text = p.to_string();
        assert!(!text.contains("/tmp/"), "a temporary path is shown: {p}");
    }
    // Writes without a valid token are refused before the body is read.
    let r = c
        .post(s.at("/v1/records/party"))
        .body("{")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    assert_eq!(txns(&c, &s).await, before, "something was written");
    // And the register is what it was.
    let v: serde_json::Value = c
        .get(s.at("/v1/parties?search=X"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !i["id"].as_str().unwrap().starts_with('X') || i["id"] == "XX"),
        "{v}"
    );
    s.stop().await;
}
