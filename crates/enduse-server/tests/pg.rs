#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Two servers on one PostgreSQL register (a throw-away cluster): each
//! keeps its own snapshot in memory, and a write through one is seen by the
//! other within 1 s; two writers with one version do not both win.

mod common;

// The throw-away cluster (it was crates/enduse-store/tests/support/pgcluster.rs).
use common::{client, opts, party, TestServer, EDITOR};
use enduse_testkit::pgcluster;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Waits until `s` lists party `id` (from its snapshot, not the database),
/// at most `limit`; returns how long it took.
async fn until_listed(
    c: &reqwest::Client,
    s: &TestServer,
    id: &str,
    present: bool,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let v: Value = c
            .get(s.at(&format!("/v1/parties?search={id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed = v["items"].as_array().unwrap().iter().any(|i| i["id"] == id);
        if listed == present {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "party {id} not {} after {:?}",
            if present { "listed" } else { "gone" },
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_see_each_others_writes_within_a_second() {
    // The postgres client runs a runtime of its own: not on the test's.
    let (cluster, db) = tokio::task::spawn_blocking(|| {
        let cluster = pgcluster::Cluster::start();
        let db = cluster.fresh_db();
        enduse::Register::open(&db)
            .unwrap()
            .init(&mut |_, _, _| {})
            .unwrap();
        (cluster, db)
    })
    .await
    .unwrap();
    let a = TestServer::start(opts(Some(&db))).await;
    let b = TestServer::start(opts(Some(&db))).await;
    let c = client();
    // The connection string is never shown.
    let h: Value = c
        .get(a.at("/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["register"]["name"], "postgres");
    assert!(!h.to_string().contains("host="), "{h}");

    let mut waits = Vec::new();
    // A writes, B sees; B writes, A sees.
    let r = c
        .post(a.at("/v1/records/party"))
        .bearer_auth(EDITOR)
        .json(&json!({"text": party("XA", "Alphaland")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    until_listed(&c, &a, "XA", true, Duration::from_millis(1)).await;
    waits.push(until_listed(&c, &b, "XA", true, Duration::from_secs(1)).await);
    let r = c
        .post(b.at("/v1/records/party"))
        .bearer_auth(EDITOR)
        .json(&json!({"text": party("XB", "Betaland")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    waits.push(until_listed(&c, &a, "XB", true, Duration::from_secs(1)).await);
    // A retraction through B is seen by A.
    let r = c
        .delete(b.at("/v1/records/party/XA"))
        .bearer_auth(EDITOR)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    waits.push(until_listed(&c, &a, "XA", false, Duration::from_secs(1)).await);
    // A decision that depends on a rule: retract the rule through A, and B
    // answers differently within a second, naming the transaction.
    let ask = json!({"actor": "UA", "action": "use", "model": "ATACMS", "place": "UA-43", "as_of": "2024-09-11"});
    let before: Value = c
        .post(b.at("/v1/decisions"))
        .json(&ask)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["outcome"], "permit", "{before}");
    let cites = |v: &Value, id: &str| {
        v["parties"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id)
    };
    assert!(cites(&before, "us-atacms-use-in-ukraine"), "{before}");
    let h = c
        .get(a.at("/v1/records/policy/us-atacms-use-in-ukraine"))
        .send()
        .await
        .unwrap();
    let tag = h.headers()["etag"].to_str().unwrap().to_owned();
    let r = c
        .delete(a.at("/v1/records/policy/us-atacms-use-in-ukraine"))
        .bearer_auth(EDITOR)
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let w: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{w}");
    let txn = w["txn"]["id"].clone();
    let start = Instant::now();
    loop {
        let now: Value = c
            .post(b.at("/v1/decisions"))
            .json(&ask)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if now["register"]["txn"] == txn {
            // The retracted rule is no longer cited (the US default
            // answers instead).
            assert!(!cites(&now, "us-atacms-use-in-ukraine"), "{now}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "B still answers from {}",
            now["register"]
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    waits.push(start.elapsed());
    eprintln!("seen by the other server after {waits:?}");

    // Two writers, one on each server, with the same version: one wins.
    let (x, y) = tokio::join!(
        c.post(a.at("/v1/records/party"))
            .bearer_auth(EDITOR)
            .header("if-match", "\"1\"")
            .json(&json!({"text": party("XB", "Betaland A")}))
            .send(),
        c.post(b.at("/v1/records/party"))
            .bearer_auth(EDITOR)
            .header("if-match", "\"1\"")
            .json(&json!({"text": party("XB", "Betaland B")}))
            .send(),
    );
    let mut statuses = [x.unwrap().status().as_u16(), y.unwrap().status().as_u16()];
    statuses.sort();
    assert!(
        statuses == [200, 409] || statuses == [200, 412],
        "{statuses:?}"
    );
    a.stop().await;
    b.stop().await;
    drop(cluster);
}
