#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The decision corpus (`corpus/decisions.json`) as a third runner, through
//! HTTP: each case as `POST /v1/decisions`, then all of them as one batch,
//! against a real server on 127.0.0.1:0, from the bundled data set and from
//! a SQLite database. The comparison is the CLI's and the library's
//! (`enduse_testkit::compare`): outcome, parties with their cited rules,
//! approvals, missing facts.

mod common;

use common::{client, opts, TestServer, TODAY};
use enduse_testkit::{assert_no_mismatch, compare, corpus, Case};
use serde_json::Value;

async fn run_cases(s: &TestServer, cases: &[Case], source: &str) -> Vec<String> {
    let c = client();
    let mut bad = Vec::new();
    for case in cases {
        let r = c
            .post(s.at("/v1/decisions"))
            .json(&case.ask())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let got = common::as_corpus_answer(status, r.json().await.unwrap());
        if status != 200 {
            // A refusal the case expects (`{"error": CODE}`) is a 400.
            if status != 400 {
                bad.push(format!("{}: status {status}: {got}", case.name));
            }
            bad.extend(compare(&case.name, &got, &case.expect));
            continue;
        }
        let known = case.known_at.as_deref().unwrap_or(TODAY);
        if got["known_at"].as_str() != Some(known) {
            bad.push(format!("{}: known_at {}", case.name, got["known_at"]));
        }
        if got["register"]["source"] != source {
            bad.push(format!("{}: register {}", case.name, got["register"]));
        }
        bad.extend(compare(&case.name, &got, &case.expect));
    }
    bad
}

async fn run_batch(s: &TestServer, cases: &[Case]) -> Vec<String> {
    let asks: Vec<enduse::Ask> = cases.iter().map(Case::ask).collect();
    let r = client()
        .post(s.at("/v1/decisions/batch"))
        .json(&serde_json::json!({ "asks": asks }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got: Value = r.json().await.unwrap();
    let results = got["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    let mut bad = Vec::new();
    for (case, item) in cases.iter().zip(results) {
        let got = match item["status"].as_u64() {
            Some(200) => item["decision"].clone(),
            Some(status) => common::as_corpus_answer(status as u16, item["problem"].clone()),
            None => {
                bad.push(format!("{}: {item}", case.name));
                continue;
            }
        };
        bad.extend(compare(&case.name, &got, &case.expect));
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_through_http_from_the_bundled_data_set() {
    let c = corpus();
    assert_eq!(c.today, TODAY);
    let s = TestServer::start(opts(None)).await;
    let bad = run_cases(&s, &c.cases, "bundled").await;
    assert_no_mismatch(&bad);
    let bad = run_batch(&s, &c.cases).await;
    assert_no_mismatch(&bad);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_through_http_from_a_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::sqlite_db(dir.path());
    let c = corpus();
    let s = TestServer::start(opts(Some(&db))).await;
    let bad = run_cases(&s, &c.cases, "database").await;
    // The answer names the transaction it was read from.
    let v: Value = client()
        .post(s.at("/v1/decisions"))
        .json(&c.cases[0].ask())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["register"]["txn"], 1, "{}", v["register"]);
    assert_eq!(v["register"]["name"], "enduse.db");
    // Every decision answered is in the audit log: the cases, then this one.
    let index = v["log_index"].as_u64().unwrap();
    let entry: Value = client()
        .get(s.at(&format!("/v1/audit/entries/{index}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(entry["kind"], "decision", "{entry}");
    let decisions = client()
        .get(s.at(&format!(
            "/v1/audit/entries?from={}&limit=1000",
            index + 1 - c.cases.len() as u64
        )))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(decisions["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] == "decision"));
    assert_no_mismatch(&bad);
    s.stop().await;
}

/// The same JSON as `enduse check --json`: the library's report, with the
/// register added; and where the library refuses an ask, the same code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_the_library_report_plus_the_register() {
    let c = corpus();
    let s = TestServer::start(opts(None)).await;
    let snapshot = enduse::RegisterSource::Bundled.snapshot().unwrap();
    let today = chrono::NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").unwrap();
    let http = client();
    for case in &c.cases {
        let r = http
            .post(s.at("/v1/decisions"))
            .json(&case.ask())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let mut got: Value = r.json().await.unwrap();
        match snapshot.check(&case.ask(), today) {
            Ok(report) => {
                assert_eq!(status, 200, "{}: {got}", case.name);
                let register = got.as_object_mut().unwrap().remove("register").unwrap();
                assert_eq!(register["source"], "bundled");
                let index = got.as_object_mut().unwrap().remove("log_index").unwrap();
                assert_eq!(index, Value::Null, "no database, no log");
                assert_eq!(got, serde_json::to_value(report).unwrap(), "{}", case.name);
            }
            Err(e) => {
                assert_eq!(status, 400, "{}: {got}", case.name);
                assert_eq!(got["code"], e.code(), "{}", case.name);
                assert_eq!(got["detail"], e.to_string(), "{}", case.name);
            }
        }
    }
    s.stop().await;
}

/// `at` takes the corpus's string "LAT,LON" and an object {lat, lon}
/// alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_are_strings_or_objects() {
    let s = TestServer::start(opts(None)).await;
    let c = client();
    let mut answers = Vec::new();
    for at in [
        serde_json::json!("51.73,36.19"),
        serde_json::json!({"lat": 51.73, "lon": 36.19}),
    ] {
        let v: Value = c
            .post(s.at("/v1/decisions"))
            .json(&serde_json::json!({"actor": "UA", "action": "use", "model": "ATACMS", "at": at, "as_of": "2025-06-16"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["request"]["place"], "RU-KRS", "{v}");
        assert!(v["request"]["border_distance_km"].is_i64(), "{v}");
        answers.push(v);
    }
    assert_eq!(answers[0], answers[1]);
    s.stop().await;
}
