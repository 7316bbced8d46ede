#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Register writes over HTTP: put and retract with `If-Match` versions (412
//! on a stale version, 409 on a record that exists, 428 without a version),
//! tokens (401, 403), private servers, import and export, the request
//! timeout, and a graceful shutdown that finishes requests in flight.

mod common;

use common::{client, opts, party, problem, sqlite_db, txns, TestServer, EDITOR, READER};
use serde_json::{json, Value};
use std::time::Duration;

async fn put(
    c: &reqwest::Client,
    s: &TestServer,
    text: &str,
    header: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut r = c
        .post(s.at("/v1/records/party"))
        .bearer_auth(EDITOR)
        .json(&json!({ "text": text }));
    if let Some((h, v)) = header {
        r = r.header(h, v);
    }
    r.send().await.unwrap()
}

fn etag(r: &reqwest::Response) -> String {
    r.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_guard_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let s = TestServer::start(opts(Some(&db))).await;
    let c = client();
    let n0 = txns(&c, &s).await;

    // A new record: 201, version 1, its location.
    let r = put(
        &c,
        &s,
        &party("XX", "Examplestan"),
        Some(("if-none-match", "*")),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(etag(&r), "\"1\"");
    assert_eq!(r.headers()["location"], "/v1/records/party/XX");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(
        (&v["kind"], &v["key"]),
        (&json!("party"), &json!("XX")),
        "{v}"
    );
    assert_eq!(v["db"], "enduse.db");
    // The decision snapshot has it at once.
    let l: Value = c
        .get(s.at("/v1/parties?search=Examplestan"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["items"][0]["id"], "XX", "{l}");
    // Again, the same: nothing to change, no version written (the ETag
    // is the version that holds the content).
    let r = put(&c, &s, &party("XX", "Examplestan"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(etag(&r), "\"1\"");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["txn"], Value::Null);
    assert_eq!(v["version"], Value::Null, "{v}");
    assert_eq!(v["key"], "XX", "{v}");
    // New again with If-None-Match: 412.
    let r = put(&c, &s, &party("XX", "Other"), Some(("if-none-match", "*"))).await;
    problem(r, 412).await;
    // A change without a version: 409, in HTTP terms.
    let p = problem(put(&c, &s, &party("XX", "Examplestan 2"), None).await, 409).await;
    assert_eq!(p["code"], "enduse::exists");
    assert!(p["detail"].as_str().unwrap().contains("If-Match"), "{p}");
    assert!(
        !p["detail"].as_str().unwrap().contains("--expect-version"),
        "{p}"
    );
    // A stale version: 412.
    let p = problem(
        put(
            &c,
            &s,
            &party("XX", "Examplestan 2"),
            Some(("if-match", "\"7\"")),
        )
        .await,
        412,
    )
    .await;
    assert_eq!(p["code"], "enduse::store::conflict");
    // The right version: 200, version 2.
    let r = put(
        &c,
        &s,
        &party("XX", "Examplestan 2"),
        Some(("if-match", "\"1\"")),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(etag(&r), "\"2\"");
    // The history says so, with the ETag.
    let r = c.get(s.at("/v1/records/party/XX")).send().await.unwrap();
    assert_eq!(etag(&r), "\"2\"");
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);
    // Two writers with the same version: one wins, the other gets 412.
    let (ta, tb) = (party("XX", "Examplestan A"), party("XX", "Examplestan B"));
    let (a, b) = tokio::join!(
        put(&c, &s, &ta, Some(("if-match", "\"2\""))),
        put(&c, &s, &tb, Some(("if-match", "\"2\""))),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    // Retract: If-Match required (428), stale (412), right (200).
    let del = |v: Option<&'static str>| {
        let mut r = c.delete(s.at("/v1/records/party/XX")).bearer_auth(EDITOR);
        if let Some(v) = v {
            r = r.header("if-match", v);
        }
        r.send()
    };
    problem(del(None).await.unwrap(), 428).await;
    problem(del(Some("\"2\"")).await.unwrap(), 412).await;
    let r = del(Some("\"3\"")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(etag(&r), "\"4\"");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (&v["kind"], &v["key"], &v["version"]),
        (&json!("party"), &json!("XX"), &json!(4)),
        "{v}"
    );
    let l: Value = c
        .get(s.at("/v1/parties?search=Examplestan"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["items"], json!([]), "{l}");
    // Retracting what is not there: 404.
    problem(
        c.delete(s.at("/v1/records/party/NOPE"))
            .bearer_auth(EDITOR)
            .header("if-match", "\"1\"")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // No such record: 404.
    problem(
        c.get(s.at("/v1/records/party/NOPE")).send().await.unwrap(),
        404,
    )
    .await;
    // Four transactions: new, change, change, retract.
    assert_eq!(txns(&c, &s).await, n0 + 4);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_a_token_and_a_permission() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let s = TestServer::start(opts(Some(&db))).await;
    let c = client();
    let body = json!({"text": party("XY", "Y")});
    // No token, a bad token, a bad scheme: 401.
    problem(
        c.post(s.at("/v1/records/party"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        c.post(s.at("/v1/records/party"))
            .bearer_auth("nope")
            .json(&body)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        c.post(s.at("/v1/records/party"))
            .header("authorization", "Basic eDp5")
            .json(&body)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    // A reader may not write: 403.
    let p = problem(
        c.post(s.at("/v1/records/party"))
            .bearer_auth(READER)
            .json(&body)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("reader"), "{p}");
    problem(
        c.delete(s.at("/v1/records/party/PL"))
            .bearer_auth(READER)
            .header("if-match", "\"1\"")
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    problem(
        c.post(s.at("/v1/import"))
            .bearer_auth(READER)
            .json(&json!({"files": {}}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    // Reads are open.
    assert_eq!(c.get(s.at("/v1/log")).send().await.unwrap().status(), 200);
    assert_eq!(txns(&c, &s).await, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_server_needs_a_token_to_read() {
    let mut o = opts(None);
    o.private = true;
    let s = TestServer::start(o).await;
    let c = client();
    let ask = json!({"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09-11"});
    problem(
        c.post(s.at("/v1/decisions"))
            .json(&ask)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(c.get(s.at("/v1/parties")).send().await.unwrap(), 401).await;
    problem(
        c.post(s.at("/v1/decisions"))
            .bearer_auth("nope")
            .json(&ask)
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let r = c
        .post(s.at("/v1/decisions"))
        .bearer_auth(READER)
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Health and the description stay open.
    let h: Value = c
        .get(s.at("/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["private"], true);
    assert_eq!(
        c.get(s.at("/openapi.json")).send().await.unwrap().status(),
        200
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_data_set_has_no_database() {
    let s = TestServer::start(opts(None)).await;
    let c = client();
    problem(c.get(s.at("/v1/log")).send().await.unwrap(), 404).await;
    problem(
        c.get(s.at("/v1/records/party/PL")).send().await.unwrap(),
        404,
    )
    .await;
    let p = problem(
        c.post(s.at("/v1/records/party"))
            .bearer_auth(EDITOR)
            .json(&json!({"text": party("XZ", "Z")}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(p["code"], "enduse::no_database");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let s = TestServer::start(opts(Some(&db))).await;
    let c = client();
    let files: Value = c
        .get(s.at("/v1/export"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let files = files["files"].clone();
    assert!(files["parties.toml"]
        .as_str()
        .unwrap()
        .contains("[[party]]"));
    // An empty database, filled by an import over HTTP.
    let empty = dir.path().join("empty.db").to_str().unwrap().to_owned();
    drop(enduse::Register::open(&empty).unwrap());
    let t = TestServer::start(opts(Some(&empty))).await;
    let h: Value = c
        .get(t.at("/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["register"], Value::Null);
    let p = problem(
        c.post(t.at("/v1/decisions"))
            .json(&json!({"actor": "UA", "action": "use", "model": "ATACMS"}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(p["code"], "enduse::no_register");
    // A dry run writes nothing.
    let r: Value = c
        .post(t.at("/v1/import"))
        .bearer_auth(EDITOR)
        .json(&json!({"files": files, "dry_run": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["dry_run"], true, "{r}");
    assert_eq!(r["txn"], Value::Null);
    let r = c
        .post(t.at("/v1/import"))
        .bearer_auth(EDITOR)
        .json(&json!({ "files": files }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert!(r["added"].as_u64().unwrap() > 1000, "{r}");
    assert_eq!(r["db"], "empty.db");
    assert_eq!(r["txn"]["note"], "import upload", "{r}");
    let log: Value = c
        .get(t.at("/v1/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!log.to_string().contains("/tmp"), "{log}");
    // Now it answers as the other does.
    let ask = json!({"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09-11"});
    let mut a: Value = c
        .post(s.at("/v1/decisions"))
        .json(&ask)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut b: Value = c
        .post(t.at("/v1/decisions"))
        .json(&ask)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    a.as_object_mut().unwrap().remove("register");
    b.as_object_mut().unwrap().remove("register");
    assert_eq!(a, b);
    // The same files again change nothing; without one file, the import
    // would retract its records and is refused (409).
    let r: Value = c
        .post(t.at("/v1/import"))
        .bearer_auth(EDITOR)
        .json(&json!({ "files": files }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["added"], 0, "{r}");
    assert_eq!(r["txn"], Value::Null);
    let mut fewer = files.clone();
    fewer.as_object_mut().unwrap().remove("conflicts.toml");
    let p = problem(
        c.post(t.at("/v1/import"))
            .bearer_auth(EDITOR)
            .json(&json!({ "files": fewer }))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert_eq!(p["code"], "enduse::would_retract");
    assert!(!p.to_string().contains("/tmp"), "{p}");
    // An invalid data set: every problem, located, and nothing written.
    let mut broken = files.clone();
    broken["parties.toml"] = json!(format!(
        "{}\n[[party]]\nid = \"UA\"\n",
        files["parties.toml"].as_str().unwrap()
    ));
    let p = problem(
        c.post(t.at("/v1/import"))
            .bearer_auth(EDITOR)
            .json(&json!({ "files": broken }))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(!p["problems"].as_array().unwrap().is_empty(), "{p}");
    assert_eq!(p["problems"][0]["file"], "parties.toml", "{p}");
    assert!(!p.to_string().contains("/tmp"), "{p}");
    assert_eq!(txns(&c, &t).await, 1);
    s.stop().await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_a_problem() {
    let mut o = opts(None);
    o.request_timeout = Duration::from_millis(1);
    let s = TestServer::start(o).await;
    let r = client()
        .post(s.at("/v1/map"))
        .json(&json!({"ask": {"actor": "UA", "action": "use", "model": "HIMARS", "as_of": "2024-06-15"}, "cell": 0.1}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 503).await;
    assert_eq!(p["code"], "enduse::server::timeout");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    let mut s = TestServer::start(opts(None)).await;
    let c = client();
    let url = s.at("/v1/map");
    let slow = tokio::spawn({
        let c = c.clone();
        async move {
            c.post(url)
                .json(&json!({"ask": {"actor": "UA", "action": "use", "model": "HIMARS", "as_of": "2024-06-15"}, "cell": 0.5}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = s.at("/v1/health");
    s.signal_stop();
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().contains("<svg"));
    s.stop().await;
    // Stopped: nothing answers.
    assert!(c.get(health).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_endpoint_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    let s = TestServer::start(opts(Some(&db))).await;
    let c = client();
    for path in [
        "/v1/consent-chain?actor=PL&model=Leopard%202&as_of=2023-01-20",
        "/v1/policies?party=US&as_of=2024-09-11",
        "/v1/timeline?model=ATACMS",
        "/v1/where?at=50.6,36.6&as_of=2024-06-15",
        "/v1/parties",
        "/v1/models?search=leopard",
        "/v1/places?search=kursk",
        "/v1/authorities?search=US",
        "/v1/areas",
        "/v1/log",
        "/v1/records/policy/us-atacms-ukraine-only",
        "/v1/export?at=2099-01-01",
    ] {
        let r = c.get(s.at(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        assert!(v.is_object(), "{path}");
    }
    let v: Value = c
        .post(s.at("/v1/decisions?explain=true"))
        .json(&json!({"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["explanation"]["parties"].is_array(), "{v}");
    assert!(v["period"]["days"].is_array(), "{v}");
    let v: Value = c
        .post(s.at("/v1/map"))
        .header("accept", "application/json")
        .json(&json!({"ask": {"actor": "UA", "action": "use", "model": "HIMARS", "as_of": "2024-06-15"}, "cell": 1.0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["outcomes"]["permit"]["area_km2"].as_f64().unwrap() > 500_000.0,
        "{v}"
    );
    // The regions as GeoJSON, each with its outcome, rules and facts.
    let r = c
        .post(s.at("/v1/map"))
        .header("accept", "application/geo+json")
        .json(&json!({"ask": {"actor": "UA", "action": "use", "model": "HIMARS", "as_of": "2024-06-15", "purpose": "counter-fire"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let belgorod_band = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["properties"]["facts"]["place"] == "RU-BEL" && f["properties"]["outcome"] == "permit"
        })
        .unwrap_or_else(|| panic!("no permitted region in Belgorod oblast"));
    assert_eq!(belgorod_band["properties"]["facts"]["border_km"]["max"], 80);
    assert_eq!(belgorod_band["geometry"]["type"], "MultiPolygon");
    let p = problem(
        c.post(s.at("/v1/map")).json(&json!({"ask": {"actor": "UA", "action": "use", "model": "HIMARS", "place": "RU-KRS"}})).send().await.unwrap(),
        400,
    )
    .await;
    assert_eq!(p["code"], "enduse::usage");
    s.stop().await;
}
