#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The OpenAPI description against the real routes: every route of the
//! router is described, every described operation is a route that answers
//! (not the 404 or 405 of an unknown route), and the description is
//! OpenAPI 3.1 with a schema for every body it names.

mod common;

use common::{client, opts, TestServer};
use serde_json::Value;
use std::collections::BTreeSet;

fn described(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_described_and_every_description_is_a_route() {
    let s = TestServer::start(opts(None)).await;
    let c = client();
    let spec: Value = c
        .get(s.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let routes: BTreeSet<(String, String)> = enduse_server::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_owned()))
        .collect();
    let docs = described(&spec);
    let undocumented: Vec<_> = routes.difference(&docs).collect();
    let unrouted: Vec<_> = docs.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes without a description: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "descriptions without a route: {unrouted:?}"
    );
    assert!(routes.len() >= 20, "{routes:?}");
    // Each described operation reaches a handler of the router: an empty
    // request gets anything but the fallback's no_route or
    // method_not_allowed.
    for (method, path) in &docs {
        let url = s.at(&path.replace("{kind}", "party").replace("{key}", "PL"));
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = c.request(m, &url).send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("enduse::server::no_route")
                && !body.contains("enduse::server::method_not_allowed"),
            "{method} {path}: {status} {body}"
        );
    }
    // A path that is no route is the fallback's.
    let body = c
        .get(s.at("/v1/not-a-route"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("enduse::server::no_route"));
    s.stop().await;
}

/// Every `$ref` in the description resolves, and every operation says
/// what its answers are.
#[test]
fn the_description_is_complete() {
    let spec = enduse_server::openapi::spec();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r.clone());
                }
                o.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(spec, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling {r}");
    }
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}"
            );
        }
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
}
