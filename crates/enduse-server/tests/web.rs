#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The web page without a browser: the plain form-and-answer path works
//! without scripts, a bad input is a clear message with its status, the
//! map and the timeline are drawn on the server, the sign-in cookie is
//! HttpOnly and SameSite=Strict, a form from another site is refused, and
//! a private server's pages need a signed-in reader.

mod common;

use common::{client, opts, TestServer, EDITOR, READER};

async fn get(s: &TestServer, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = client().get(s.at(path)).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.unwrap(), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_answer_without_scripts() {
    let s = TestServer::start(opts(None)).await;

    let (st, body, h) = get(&s, "/").await;
    assert_eq!(st, 200);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert!(
        body.contains("<form class=\"ask\" method=\"get\" action=\"/\""),
        "{body}"
    );
    // Every field has its label.
    for f in [
        "actor",
        "action",
        "model",
        "place",
        "at",
        "recipient",
        "target_class",
        "as_of",
        "known_at",
    ] {
        assert!(body.contains(&format!("<label for=\"f-{f}\">")), "{f}");
    }

    let (st, body, _) = get(
        &s,
        "/?actor=UA&action=use&model=ATACMS&place=RU-KRS&as_of=2024-09-11",
    )
    .await;
    assert_eq!(st, 200);
    assert!(body.contains("data-outcome=\"forbid\""), "{body}");
    assert!(body.contains("May Ukraine use ATACMS in Kursk oblast"));
    assert!(body.contains("us-atacms-ukraine-only"));
    assert!(!body.contains("<script"), "the answer page needs no script");
    // The bundled data set has no transactions: the permalink names none.
    assert!(body.contains("id=\"permalink\" href=\"/?actor=UA&amp;action=use&amp;model=ATACMS&amp;place=RU-KRS&amp;as_of=2024-09-11\""), "{body}");

    let (st, body, _) = get(
        &s,
        "/?actor=PL&action=reexport&model=Leopard%202&recipient=UA&as_of=2023-01-18",
    )
    .await;
    assert_eq!(st, 200);
    assert!(body.contains("data-outcome=\"needs_approval\""));
    assert!(body.contains("DE:Government"));

    // Bad input: a message naming it, with help, and its status.
    let (st, body, _) = get(&s, "/?actor=UA&action=use&model=ATACMS&as_of=2024-13-45").await;
    assert_eq!(st, 400);
    assert!(body.contains("role=\"alert\""));
    assert!(body.contains("2024-13-45"));
    assert!(!body.contains("id=\"answer\""));
    let (st, body, _) = get(&s, "/?actor=UA&action=use").await;
    assert_eq!(st, 400);
    assert!(body.contains("the question needs an item"), "{body}");
    let (st, body, _) = get(&s, "/?actor=Atlantis&action=use&model=ATACMS").await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("unknown party `Atlantis`"));
    let (st, body, _) = get(&s, "/?actor=UA&action=use&model=ATACMS&txn=7").await;
    assert_eq!(st, 400);
    assert!(body.contains("no transaction"), "{body}");

    // The map and the timeline, drawn on the server.
    let (st, body, h) = get(
        &s,
        "/map.svg?actor=UA&action=use&model=ATACMS&as_of=2024-11-18&cell=1",
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(h["content-type"], "image/svg+xml");
    assert!(body.starts_with("<svg"));
    let (st, body, _) = get(&s, "/map?actor=UA&action=use&model=ATACMS&as_of=2024-11-18").await;
    assert_eq!(st, 200);
    assert!(body.contains("<noscript><img src=\"/map.svg?"), "{body}");
    assert!(
        body.contains("US:SecDef"),
        "the legend names the authorities"
    );
    let (st, body, _) = get(&s, "/timeline?party=US").await;
    assert_eq!(st, 200);
    assert!(body.contains("Timeline: United States (US)"));
    assert!(body.contains("<svg"));
    assert!(body.contains("id=\"rule-us-atacms-ukraine-only\""));
    let (st, body, _) = get(&s, "/timeline?model=Zeppelin").await;
    assert!(st == 404 || st == 400, "{st}");
    assert!(body.contains("Zeppelin"));
    let (st, body, h) = get(&s, "/timeline.svg?model=Leopard%202").await;
    assert_eq!(st, 200);
    assert_eq!(h["content-type"], "image/svg+xml");
    assert!(body.contains("data-party=\"DE\""));

    // Static files, and none other.
    let (st, _, h) = get(&s, "/static/map.js").await;
    assert_eq!(st, 200);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let (st, _, _) = get(&s, "/static/../Cargo.toml").await;
    assert_eq!(st, 404);

    // The audit page says when there is no log.
    let (st, body, _) = get(&s, "/audit").await;
    assert_eq!(st, 200);
    assert!(body.contains("keeps no log"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_cookie_and_refuses_bad_tokens() {
    let s = TestServer::start(opts(None)).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .post(s.at("/login"))
        .form(&[("token", "eu_not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().contains("role=\"alert\""));

    let r = c
        .post(s.at("/login"))
        .form(&[("token", EDITOR)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("enduse_token={EDITOR};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // A form posted from another site is refused.
    let r = c
        .post(s.at("/login"))
        .header("origin", "http://evil.example")
        .form(&[("token", EDITOR)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_servers_pages_need_a_reader() {
    let mut o = opts(None);
    o.private = true;
    let s = TestServer::start(o).await;
    let c = client();
    for path in [
        "/",
        "/map",
        "/timeline",
        "/map.svg?actor=UA&action=use&model=ATACMS&cell=1",
    ] {
        let r = c.get(s.at(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = c
            .get(s.at(path))
            .header("cookie", format!("enduse_token={READER}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    s.stop().await;
}
