#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The web page in a real browser: Debian's Chromium, headless, driven
//! through WebDriver (chromedriver, started here on a free port) against a
//! server on a SQLite database with the bundled register and two users.
//!
//! It asks the README's questions and reads the answers, follows a
//! permalink to its audit-log entry and verifies the inclusion proof in
//! the browser, gives a bad input (a clear message, nothing written),
//! clicks the map in Crimea and in Kursk oblast and moves the date slider
//! across 2024-11-17, opens a rule from the timeline, files a request as a
//! requester, approves it as a reviewer in a second browser session, sees
//! the permit on the requester's page, and fails a login. Each page is
//! saved as a screenshot to `docs/img/`.
//!
//! Without chromium and chromedriver (`scripts/setup-browser.sh` installs
//! them) the test fails when `CI=true`, and otherwise passes with a loud
//! notice.

mod common;

use common::{client, user, TestServer};
use enduse::UserRole;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TODAY: &str = "2026-01-10";

/// Whether the browser is installed; fails under CI when it is not.
fn browser_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "the browser tests need {} (run scripts/setup-browser.sh)",
        missing.join(" and ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("\n{}\nSKIPPED: {msg}\n{}\n", "!".repeat(72), "!".repeat(72));
    false
}

/// chromedriver on a free port, in a process group of its own, with the
/// Chromium processes it starts. On drop (a panic of the test included) the
/// whole group is killed, and any descendant that left the group: a failed
/// test leaves no browser behind. A watcher in the group kills it too when
/// the test process dies without unwinding (an abort, a SIGKILL, Ctrl-C,
/// which no longer reaches a group of its own). The server runs in the
/// test's own process, so it ends with it.
struct Driver {
    child: Child,
    watcher: Child,
    url: String,
}

/// The process ids of `root`'s descendants (not `root`), from `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(ppid) = stat_field(pid, 1).and_then(|s| s.parse::<u32>().ok()) {
            parents.push((pid, ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == p && !out.contains(&pid) {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

/// A field of `/proc/PID/stat` after the command's name: 0 the state, 1
/// the parent, 2 the process group.
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n).map(str::to_owned)
}

/// Whether `pid` is running: a process that is gone, or a zombie waiting
/// for a parent to reap it, is not.
fn alive(pid: u32) -> bool {
    stat_field(pid, 0).is_some_and(|state| state != "Z" && state != "X")
}

/// SIGKILL to each of `pids` and to the process group `group`.
fn kill_all(group: u32, pids: &[u32]) {
    let mut args = vec!["-s".to_owned(), "KILL".to_owned(), "--".to_owned()];
    args.push(format!("-{group}"));
    args.extend(pids.iter().map(u32::to_string));
    let _ = Command::new("kill")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Driver {
    /// Every process of the driver: chromedriver, what it started, and the
    /// watcher.
    fn pids(&self) -> Vec<u32> {
        let mut v = vec![self.child.id()];
        v.extend(descendants(self.child.id()));
        v.push(self.watcher.id());
        v
    }

    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let group = i32::try_from(child.id()).unwrap();
        let watcher = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {} 2>/dev/null; do sleep 0.2; done; kill -s KILL 0",
                std::process::id()
            ))
            .process_group(group)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let c = client();
        let t = Instant::now();
        loop {
            if let Ok(r) = c.get(format!("{url}/status")).send().await {
                let v: Value = r.json().await.unwrap_or_default();
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver {
            child,
            watcher,
            url,
        }
    }

    /// A new browser session with a profile of its own.
    async fn session(&self, profile: &Path) -> Client {
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1360,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "download.default_directory": profile.join("downloads").display().to_string(),
                    "download.prompt_for_download": false
                }
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        b.capabilities(caps);
        b.connect(&self.url).await.unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The descendants are listed before the kill: once chromedriver is
        // gone, its children are reparented and can no longer be found.
        let pids = descendants(self.child.id());
        kill_all(self.child.id(), &pids);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.watcher.kill();
        let _ = self.watcher.wait();
    }
}

fn img_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/img")
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::create_dir_all(img_dir()).unwrap();
    std::fs::write(img_dir().join(name), png).unwrap();
}

/// Waits until the script returns true.
async fn until(c: &Client, what: &str, script: &str) {
    let t = Instant::now();
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        if v == Value::Bool(true) {
            return;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let src = c.source().await.unwrap_or_default();
            panic!(
                "timed out waiting for {what}; the page:\n{}",
                &src[..src.len().min(4000)]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn attr(c: &Client, css: &str, name: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Fills the question form of `/` field by field, as a user types, and
/// submits it.
async fn ask(c: &Client, base: &str, fields: &[(&str, &str)]) -> String {
    c.goto(&format!("{base}/")).await.unwrap();
    for (name, value) in fields {
        let e = c.find(Locator::Id(&format!("f-{name}"))).await.unwrap();
        if *name == "action" {
            e.select_by_value(value).await.unwrap();
        } else {
            e.clear().await.unwrap();
            e.send_keys(value).await.unwrap();
        }
    }
    click(c, Locator::Id("ask-submit")).await;
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#answer, #error"))
        .await
        .unwrap();
    match c.find(Locator::Css("#answer")).await {
        Ok(e) => e.attr("data-outcome").await.unwrap().unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn log_size(base: &str) -> u64 {
    let v: Value = client()
        .get(format!("{base}/v1/audit/checkpoint"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["size"].as_u64().unwrap()
}

/// Clicks the map at a point: the SVG's own transform gives where the
/// point is drawn on the screen.
async fn click_map(c: &Client, lat: f64, lon: f64) {
    let xy = c
        .execute(
            "const svg = document.getElementById('map-svg');
             const [lat, lon] = arguments;
             const p = svg.createSVGPoint();
             p.x = 10 + (lon - 22) * 0.656 * 46; p.y = 50 + (56.5 - lat) * 46;
             const q = p.matrixTransform(svg.getScreenCTM());
             return [q.x, q.y];",
            vec![json!(lat), json!(lon)],
        )
        .await
        .unwrap();
    let (x, y) = (xy[0].as_f64().unwrap(), xy[1].as_f64().unwrap());
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: x.round(),
            y: y.round(),
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(mouse).await.unwrap();
}

async fn point_outcome(c: &Client, previous: Option<&str>) -> String {
    let prev = previous.unwrap_or("");
    until(
        c,
        "the decision at the point",
        &format!(
            "const i = document.getElementById('point-info');
             return !!i.dataset.outcome && i.dataset.outcome !== '{prev}' && !i.textContent.includes('Deciding');"
        ),
    )
    .await;
    attr(c, "#point-info", "data-outcome").await
}

async fn login(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.wait()
        .for_element(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    click(c, Locator::Id("login-submit")).await;
    until(
        c,
        "the sign-in's answer",
        "return document.readyState === 'complete' && (!!document.getElementById('signed-in') || !!document.getElementById('error'));",
    )
    .await;
}

/// Files a request for ATACMS near Kursk from `from` to `to` through the
/// requests page; returns the request's address.
async fn file_request(c: &Client, base: &str, from: &str, to: &str) -> String {
    c.goto(&format!("{base}/requests")).await.unwrap();
    for (id, v) in [
        ("r-model", "ATACMS"),
        ("r-at", "51.73,36.19"),
        ("r-from", from),
        ("r-to", to),
        (
            "r-justification",
            "counter-battery fire against the launchers shelling Sumy",
        ),
    ] {
        c.find(Locator::Id(id))
            .await
            .unwrap()
            .send_keys(v)
            .await
            .unwrap();
    }
    click(c, Locator::Id("file-submit")).await;
    c.wait()
        .for_element(Locator::Css("#req-digest"))
        .await
        .unwrap();
    c.current_url().await.unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_page_in_chromium() {
    if !browser_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let users = [
        user("kyiv-mod", Some("UA"), &[UserRole::Requester], &[]),
        user("secdef-office", None, &[UserRole::Reviewer], &["US:SecDef"]),
    ];
    let (db, tokens, _) = common::users_db(dir.path(), TODAY, &users);
    let (requester, reviewer) = (tokens["kyiv-mod"].clone(), tokens["secdef-office"].clone());
    let opts = common::db_user_opts(&db, TODAY);
    let server = TestServer::start(opts).await;
    let base = server.url.clone();
    let driver = Driver::start().await;
    let profiles = tempfile::tempdir().unwrap();
    let c = driver.session(&profiles.path().join("a")).await;

    // ---- Ask: the README's questions.
    let o = ask(
        &c,
        &base,
        &[
            ("actor", "UA"),
            ("action", "use"),
            ("model", "ATACMS"),
            ("place", "RU-KRS"),
            ("as_of", "2024-09-11"),
        ],
    )
    .await;
    assert_eq!(o, "forbid");
    let answer = text(&c, "#answer").await;
    assert!(answer.contains("FORBID"), "{answer}");
    assert!(
        answer.contains("May Ukraine use ATACMS in Kursk oblast"),
        "{answer}"
    );
    assert!(answer.contains("us-atacms-ukraine-only"), "{answer}");
    assert!(answer.contains("RBC"), "the source's outlet: {answer}");
    shot(&c, "web-ask-forbid.png").await;

    let o = ask(
        &c,
        &base,
        &[
            ("actor", "UA"),
            ("action", "use"),
            ("model", "ATACMS"),
            ("place", "RU-KRS"),
            ("as_of", "2025-06-15"),
        ],
    )
    .await;
    assert_eq!(o, "needs_approval");
    let needs = text(&c, "#needs").await;
    assert!(needs.contains("US:SecDef"), "{needs}");
    shot(&c, "web-ask-needs-approval.png").await;
    let o = ask(
        &c,
        &base,
        &[
            ("actor", "UA"),
            ("action", "use"),
            ("model", "ATACMS"),
            ("place", "RU-KRS"),
            ("as_of", "2025-06-15"),
            ("known_at", "2025-07-01"),
        ],
    )
    .await;
    assert_eq!(o, "permit");

    let o = ask(
        &c,
        &base,
        &[
            ("actor", "PL"),
            ("action", "reexport"),
            ("model", "Leopard 2"),
            ("recipient", "UA"),
            ("as_of", "2023-01-18"),
        ],
    )
    .await;
    assert_eq!(o, "needs_approval");
    assert!(text(&c, "#needs").await.contains("DE:Government"));
    let o = ask(
        &c,
        &base,
        &[
            ("actor", "PL"),
            ("action", "reexport"),
            ("model", "Leopard 2"),
            ("recipient", "UA"),
            ("as_of", "2023-01-26"),
        ],
    )
    .await;
    assert_eq!(o, "permit");

    let o = ask(
        &c,
        &base,
        &[
            ("actor", "UA"),
            ("action", "use"),
            ("model", "Storm Shadow"),
            ("place", "RU-KRS"),
            ("as_of", "2024-11-25"),
        ],
    )
    .await;
    assert_eq!(o, "permit");
    let answer = text(&c, "#answer").await;
    assert!(answer.contains("United Kingdom"), "{answer}");
    shot(&c, "web-ask-permit.png").await;

    // The permalink reproduces the question, with the register transaction.
    let link = attr(&c, "#permalink", "href").await;
    assert!(
        link.contains("model=Storm%20Shadow") && link.contains("txn="),
        "{link}"
    );
    click(&c, Locator::Id("permalink")).await;
    until(
        &c,
        "the permalink's page",
        "return location.search.includes('txn=') && document.readyState === 'complete' && !!document.getElementById('answer');",
    )
    .await;
    assert_eq!(attr(&c, "#answer", "data-outcome").await, "permit");
    assert!(c.current_url().await.unwrap().as_str().contains("txn="));

    // ---- Audit: the decision's entry, verified in the browser.
    click(&c, Locator::Id("log-entry")).await;
    c.wait()
        .for_element(Locator::Id("verify"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "the proof's verification",
        "return !!document.getElementById('verify-result').dataset.verified;",
    )
    .await;
    let steps = text(&c, "#verify-steps").await;
    assert_eq!(
        attr(&c, "#verify-result", "data-verified").await,
        "true",
        "{steps}"
    );
    assert!(steps.contains("signed by"), "{steps}");
    assert!(text(&c, "#entry-body").await.contains("Storm Shadow"));
    c.execute(
        "document.getElementById('verify').scrollIntoView({block: 'center'});",
        vec![],
    )
    .await
    .unwrap();
    shot(&c, "web-audit.png").await;
    // A key that is not the log's is refused.
    let k = c.find(Locator::Id("trusted-key")).await.unwrap();
    k.clear().await.unwrap();
    k.send_keys("other+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await
        .unwrap();
    click(&c, Locator::Id("verify")).await;
    until(
        &c,
        "the refusal",
        "return document.getElementById('verify-result').dataset.verified === 'false';",
    )
    .await;
    // And the permalink finds the same entry.
    let index = c
        .current_url()
        .await
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "index")
        .unwrap()
        .1
        .to_string();
    c.goto(&format!(
        "{base}/audit?permalink={}",
        link.replace('&', "%26").replace('?', "%3F")
    ))
    .await
    .unwrap();
    assert!(text(&c, "#entry-h")
        .await
        .starts_with(&format!("Entry {index} ")));

    // ---- A bad input: a clear message, nothing written.
    let before = log_size(&base).await;
    ask(
        &c,
        &base,
        &[
            ("actor", "UA"),
            ("action", "use"),
            ("model", "ATACMS"),
            ("place", "RU-KRS"),
            ("as_of", "2024-13-45"),
        ],
    )
    .await;
    let err = text(&c, "#error").await;
    assert!(err.contains("2024-13-45"), "{err}");
    assert!(err.contains("Help"), "{err}");
    assert!(c.find(Locator::Css("#answer")).await.is_err());
    shot(&c, "web-ask-error.png").await;
    assert_eq!(
        log_size(&base).await,
        before,
        "a refused question wrote to the log"
    );

    // ---- The map: Crimea and Kursk oblast, before and after 2024-11-17.
    c.goto(&format!(
        "{base}/map?actor=UA&action=use&model=ATACMS&as_of=2024-11-16&cell=0.25"
    ))
    .await
    .unwrap();
    until(&c, "the map", "const s = document.getElementById('map-status'); return !!document.getElementById('map-svg') && s.textContent.startsWith('Map drawn for 2024-11-16');").await;
    click_map(&c, 45.0, 34.1).await;
    let crimea = point_outcome(&c, None).await;
    let info = text(&c, "#point-info").await;
    assert!(info.contains("UA-43") || info.contains("Crimea"), "{info}");
    assert!(
        info.contains("km from the Ukraine-Russia land border"),
        "{info}"
    );
    assert_eq!(crimea, "permit", "{info}");
    click_map(&c, 51.73, 36.19).await;
    let kursk = point_outcome(&c, Some("permit")).await;
    let info = text(&c, "#point-info").await;
    assert!(info.contains("RU-KRS"), "{info}");
    assert_eq!(kursk, "forbid", "{info}");
    shot(&c, "web-map-2024-11-16.png").await;
    // Two days on with the keyboard: across 2024-11-17.
    let slider = c.find(Locator::Id("as-of-slider")).await.unwrap();
    slider.send_keys("\u{E014}\u{E014}").await.unwrap(); // ArrowRight twice
    assert_eq!(text(&c, "#as-of-out").await, "2024-11-18");
    until(&c, "the map of 2024-11-18", "return document.getElementById('map-status').textContent.startsWith('Map drawn for 2024-11-18');").await;
    let after = point_outcome(&c, Some("forbid")).await;
    assert_ne!(after, "forbid", "{}", text(&c, "#point-info").await);
    shot(&c, "web-map-2024-11-18.png").await;
    // Zoom with the keyboard, and back; a layer off and on.
    let whole = attr(&c, "#map-svg", "viewBox").await;
    c.find(Locator::Id("map-view"))
        .await
        .unwrap()
        .send_keys("++")
        .await
        .unwrap();
    let zoomed = attr(&c, "#map-svg", "viewBox").await;
    let width = |vb: &str| vb.split(' ').nth(2).unwrap().parse::<f64>().unwrap();
    assert!(width(&zoomed) < width(&whole) * 0.5, "{whole} -> {zoomed}");
    click(&c, Locator::Id("zoom-reset")).await;
    assert_eq!(attr(&c, "#map-svg", "viewBox").await, whole);
    click(&c, Locator::Id("layer-labels")).await;
    // The map draws its own layers; the switches hide and show its groups.
    assert_eq!(shown(&c, "#labels-countries").await, "none");
    assert_eq!(shown(&c, "#labels-subdivisions").await, "none");
    click(&c, Locator::Id("layer-labels")).await;
    assert_ne!(shown(&c, "#labels-countries").await, "none");
    assert_ne!(shown(&c, "#areas-control").await, "none");
    // No second set of labels drawn over the map's own.
    assert!(c.find(Locator::Id("layer-labels-g")).await.is_err());
    // Downloads: the SVG as drawn, and a PNG of it.
    click(&c, Locator::Id("download-svg")).await;
    click(&c, Locator::Id("download-png")).await;
    let downloads = profiles.path().join("a").join("downloads");
    let t = Instant::now();
    let (svg, png) = loop {
        let files: Vec<PathBuf> = std::fs::read_dir(&downloads)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        let find = |ext: &str| {
            files
                .iter()
                .find(|f| f.extension().is_some_and(|e| e == ext))
                .cloned()
        };
        if let (Some(a), Some(b)) = (find("svg"), find("png")) {
            break (a, b);
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no downloads in {}: {files:?}",
            downloads.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("enduse-overlay"),
        "{}",
        &svg[..100.min(svg.len())]
    );
    let png = std::fs::read(png).unwrap();
    assert_eq!(&png[1..4], b"PNG");

    // ---- The timeline: a click on a row opens its rule.
    c.goto(&format!("{base}/timeline?model=ATACMS"))
        .await
        .unwrap();
    shot(&c, "web-timeline.png").await;
    let row = c
        .find(Locator::Css(
            "#timeline a[data-rule='us-atacms-ukraine-only']",
        ))
        .await
        .unwrap();
    row.click().await.unwrap();
    until(&c, "the rule opened", "const e = document.getElementById('rule-us-atacms-ukraine-only'); return !!e && e.classList.contains('selected');").await;
    let entry = text(&c, "#rule-us-atacms-ukraine-only").await;
    assert!(
        entry.contains("first reported in this data set's sources on"),
        "{entry}"
    );
    assert!(entry.contains("Replaced by"), "its history: {entry}");
    shot(&c, "web-timeline-rule.png").await;

    // ---- Requests: file as the requester.
    login(&c, &base, &requester).await;
    assert!(text(&c, "#signed-in").await.contains("kyiv-mod"));
    let request_url = file_request(&c, &base, "2026-01-12", "2026-01-15").await;
    assert_eq!(attr(&c, "[data-status]", "data-status").await, "pending");
    assert_eq!(
        attr(&c, "#decision-now [data-outcome]", "data-outcome").await,
        "needs_approval"
    );
    assert_eq!(
        attr(&c, "#decision-approved [data-outcome]", "data-outcome").await,
        "permit"
    );
    let needs = text(&c, "table.needs-table").await;
    assert!(
        needs.contains("US:SecDef") && needs.contains("secdef-office"),
        "{needs}"
    );
    shot(&c, "web-request-filed.png").await;

    // ---- Review in a second browser session, as the reviewer.
    let r = driver.session(&profiles.path().join("b")).await;
    login(&r, &base, &reviewer).await;
    let queue = text(&r, "#queue-US-SecDef").await;
    let id = request_url.rsplit('/').next().unwrap().to_owned();
    assert!(queue.contains(&id), "{queue}");
    r.find(Locator::Css(&format!("#queue-US-SecDef a[href$='{id}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    r.wait()
        .for_element(Locator::Id("verdict-approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    r.find(Locator::Id("reason"))
        .await
        .unwrap()
        .send_keys("the launchers are legitimate military targets")
        .await
        .unwrap();
    shot(&r, "web-review.png").await;
    click(&r, Locator::Id("review-submit")).await;
    until(&r, "the approval", "const s = document.querySelector('[data-status]'); return !!s && s.dataset.status === 'approved';").await;

    // The requester's page now shows the permit.
    c.goto(&request_url).await.unwrap();
    assert_eq!(attr(&c, "[data-status]", "data-status").await, "approved");
    assert_eq!(
        attr(&c, "#decision-now [data-outcome]", "data-outcome").await,
        "permit"
    );
    assert!(text(&c, "#consents").await.contains("Consent decisions"));
    shot(&c, "web-request-approved.png").await;

    // A second request, withdrawn by its requester.
    let second = file_request(&c, &base, "2026-01-20", "2026-01-22").await;
    c.find(Locator::Id("w-reason"))
        .await
        .unwrap()
        .send_keys("the launchers moved")
        .await
        .unwrap();
    click(&c, Locator::Id("withdraw-submit")).await;
    until(&c, "the withdrawal", "const s = document.querySelector('[data-status]'); return !!s && s.dataset.status === 'withdrawn';").await;
    assert!(c.find(Locator::Id("withdraw-submit")).await.is_err());
    // A third, refused by the reviewer (a reason is required): the
    // requester then sees forbid.
    let third = file_request(&c, &base, "2026-01-20", "2026-01-22").await;
    assert_ne!(second, third);
    r.goto(&third).await.unwrap();
    r.wait()
        .for_element(Locator::Id("verdict-refuse"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    r.find(Locator::Id("reason"))
        .await
        .unwrap()
        .send_keys("too close to the civilian airport")
        .await
        .unwrap();
    click(&r, Locator::Id("review-submit")).await;
    until(&r, "the refusal", "const s = document.querySelector('[data-status]'); return !!s && s.dataset.status === 'refused';").await;
    c.goto(&third).await.unwrap();
    assert_eq!(attr(&c, "[data-status]", "data-status").await, "refused");
    assert_eq!(
        attr(&c, "#decision-now [data-outcome]", "data-outcome").await,
        "forbid"
    );

    // ---- A failed login: a message, and no session.
    click(&r, Locator::Css("form[action='/logout'] button")).await;
    until(
        &r,
        "the sign-out",
        "return location.pathname === '/' && document.readyState === 'complete' && !document.getElementById('signed-in');",
    )
    .await;
    login(&r, &base, "eu_not-a-token").await;
    let err = text(&r, "#error").await;
    assert!(err.to_lowercase().contains("token"), "{err}");
    assert!(r.find(Locator::Id("signed-in")).await.is_err());
    shot(&r, "web-login-failed.png").await;
    r.goto(&format!("{base}/requests")).await.unwrap();
    assert!(text(&r, "main").await.contains("Sign in"));

    r.close().await.unwrap();
    c.close().await.unwrap();
    drop(driver);
    server.stop().await;
}

/// The computed `display` of the element `sel` in the page.
async fn shown(c: &Client, sel: &str) -> String {
    c.execute(
        "const e = document.querySelector(arguments[0]); return e ? getComputedStyle(e).display : 'missing';",
        vec![serde_json::Value::String(sel.to_owned())],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap()
    .to_owned()
}

/// Clicks the element `at` finds; the test fails if there is none.
async fn click(c: &Client, at: Locator<'_>) {
    c.find(at).await.unwrap().click().await.unwrap();
}

/// A test that panics with a browser open leaves no process behind: the
/// driver's guard kills chromedriver and every Chromium process it started.
#[test]
fn a_panicking_test_leaves_no_browser_behind() {
    if !browser_installed() {
        return;
    }
    let profile = tempfile::tempdir().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let (dir, pids) = (profile.path().to_owned(), seen.clone());
    let outcome = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let driver = Driver::start().await;
            let c = driver.session(&dir).await;
            c.goto("about:blank").await.unwrap();
            *pids.lock().unwrap() = driver.pids();
            panic!("a failing browser test");
        })
    })
    .join();
    assert!(outcome.is_err(), "the thread was to panic");
    let pids = seen.lock().unwrap().clone();
    // chromedriver, and at least the browser it launched.
    assert!(pids.len() >= 2, "{pids:?}");
    let t = Instant::now();
    while pids.iter().any(|&p| alive(p)) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "still running after the panic: {left:?}");
}

/// Where [`helper_aborts_with_a_browser_open`] writes the driver's
/// process ids; unset, the helper does nothing.
const ABORT_PIDS: &str = "ENDUSE_BROWSER_ABORT_PIDS";

/// Run by [`an_aborted_test_leaves_no_browser_behind`] in a process of its
/// own: opens a browser, writes the process ids, and aborts (no unwinding,
/// no `Drop`).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "a helper of an_aborted_test_leaves_no_browser_behind"]
async fn helper_aborts_with_a_browser_open() {
    let Ok(out) = std::env::var(ABORT_PIDS) else {
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;
    let c = driver.session(profile.path()).await;
    c.goto("about:blank").await.unwrap();
    let pids: Vec<String> = driver.pids().iter().map(u32::to_string).collect();
    std::fs::write(out, pids.join(" ")).unwrap();
    std::process::abort();
}

/// A test process that dies without unwinding leaves no browser behind
/// either: the watcher kills the group.
#[test]
fn an_aborted_test_leaves_no_browser_behind() {
    if !browser_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pids");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_aborts_with_a_browser_open",
            "--ignored",
            "--nocapture",
        ])
        .env(ABORT_PIDS, &file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the helper was to abort");
    let pids: Vec<u32> = std::fs::read_to_string(&file)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert!(pids.len() >= 3, "{pids:?}");
    let t = Instant::now();
    while pids.iter().any(|&p| alive(p)) && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    // Whatever is left is killed, so that a failure here leaks nothing.
    kill_all(pids[0], &left);
    assert!(left.is_empty(), "still running after the abort: {left:?}");
}
