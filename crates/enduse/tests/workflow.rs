//! The approval workflow end to end, through the library: users, tokens,
//! Cedar permissions, filing, reviews, withdrawal, expiry, the consent
//! decisions an approval or a refusal writes, and races between writers.
//! On a memory database and on a real SQLite file (PostgreSQL: see
//! `postgres_workflow`, which runs when the server binaries are there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, NaiveDate};
use enduse::{
    Ask, CitationKind, Clock, Delegation, ErrorKind, NewUser, Outcome, Principal, Register,
    RequestInput, RequestQuery, RequestStatus, ReviewInput, UserRole, Verdict, Window,
    WithdrawInput, Workflow,
};
use std::sync::{Arc, Barrier};

fn day(s: &str) -> NaiveDate {
    enduse_core::parse_day(s).unwrap()
}

const TODAY: &str = "2026-01-10";

fn clock(d: &str) -> Clock {
    Clock::fixed_day(day(d))
}

/// A database with the bundled register and the users of the issue's
/// example, as the operator adds them.
struct Fixture {
    wf: Workflow,
    _dir: Option<tempfile::TempDir>,
    target: String,
}

fn user(id: &str, party: Option<&str>, roles: &[UserRole], authorities: &[&str]) -> NewUser {
    NewUser {
        id: id.into(),
        name: None,
        party: party.map(str::to_owned),
        roles: roles.to_vec(),
        authorities: authorities.iter().map(|a| Delegation::new(a)).collect(),
    }
}

fn add_users(wf: &mut Workflow) {
    let op = Principal::Operator;
    use UserRole::*;
    for u in [
        user("kyiv-mod", Some("UA"), &[Requester], &[]),
        user("kyiv-mod-2", Some("UA"), &[Requester], &[]),
        user("warsaw-mod", Some("PL"), &[Requester], &[]),
        user("secdef-office", None, &[Reviewer], &["US:SecDef"]),
        user("secdef-deputy", Some("US"), &[Reviewer], &["US:SecDef"]),
        user("state-dept", Some("US"), &[Reviewer], &["US:State"]),
        // A Ukrainian member of the SecDef review: never for Ukraine.
        user("ua-liaison", Some("UA"), &[Reviewer], &["US:SecDef"]),
        // Files and would review its own request.
        user("dual", Some("UA"), &[Requester, Reviewer], &["US:SecDef"]),
        user("editor", None, &[Editor], &[]),
        user("admin", None, &[Admin], &[]),
    ] {
        wf.add_user(&op, &u)
            .unwrap_or_else(|e| panic!("{}: {e}", u.id));
    }
}

fn memory() -> Fixture {
    let mut wf = Workflow::open("memory:").unwrap().with_clock(clock(TODAY));
    wf.load_bundled().unwrap();
    add_users(&mut wf);
    Fixture {
        wf,
        _dir: None,
        target: "memory:".into(),
    }
}

fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enduse.db");
    let target = path.display().to_string();
    // The register's own handle makes the database, as `enduse init` does.
    Register::open(&target)
        .unwrap()
        .init(&mut |_, _, _| {})
        .unwrap();
    let mut wf = Workflow::open(&target).unwrap().with_clock(clock(TODAY));
    add_users(&mut wf);
    Fixture {
        wf,
        _dir: Some(dir),
        target,
    }
}

/// The same handle (and store) with another day on its clock.
fn set_clock(wf: &mut Workflow, d: &str) {
    let moved = std::mem::replace(wf, Workflow::open("memory:").unwrap());
    *wf = moved.with_clock(clock(d));
}

fn as_user(wf: &mut Workflow, id: &str) -> Principal {
    wf.act_as(id).unwrap()
}

/// Ukraine asks to strike with ATACMS at a point in Kursk oblast.
fn atacms_ask() -> Ask {
    let mut a = Ask::new("UA", "use", "ATACMS");
    a.at = Some("51.73,36.19".into());
    a
}

fn atacms_request() -> RequestInput {
    RequestInput {
        ask: atacms_ask(),
        window: Window {
            from: day("2026-01-12"),
            to: day("2026-01-15"),
        },
        justification: "counter-battery fire against the launchers shelling Sumy".into(),
    }
}

fn on(ask: &Ask, d: &str) -> Ask {
    let mut a = ask.clone();
    a.as_of = Some(d.into());
    a
}

fn approve(reason: &str) -> ReviewInput {
    ReviewInput {
        verdict: Verdict::Approve,
        reason: reason.into(),
        authority: None,
        expect_version: None,
    }
}

fn refuse(reason: &str) -> ReviewInput {
    ReviewInput {
        verdict: Verdict::Refuse,
        ..approve(reason)
    }
}

fn cites(report: &enduse::CheckReport, id: &str) -> bool {
    report
        .decision
        .parties
        .iter()
        .flat_map(|p| p.rules.iter())
        .any(|r| r.id.as_str() == id && r.kind == CitationKind::Consent)
}

// ---------------------------------------------------------------------------

fn approval_end_to_end(f: &mut Fixture) {
    let wf = &mut f.wf;
    let today = day(TODAY);
    // Before: the strike needs the Secretary of Defense's approval.
    let before = wf
        .snapshot()
        .unwrap()
        .check(&on(&atacms_ask(), "2026-01-12"), today)
        .unwrap();
    assert_eq!(before.outcome(), Outcome::NeedsApproval);

    // The requester files with its token.
    let op = Principal::Operator;
    let token = wf
        .create_token(&op, "kyiv-mod", None, Some("laptop"))
        .unwrap();
    assert!(token.token.starts_with("eu_"), "{}", token.token);
    assert_eq!(token.token.len(), 3 + 43);
    let kyiv = wf
        .authenticate(Some(&format!("Bearer {}", token.token)))
        .unwrap();
    assert_eq!(kyiv.user_id(), Some("kyiv-mod"));
    let filed = wf.file(&kyiv, &atacms_request()).unwrap();
    assert_eq!(filed.status, RequestStatus::Pending);
    assert_eq!(filed.version, 1);
    assert_eq!(filed.digest.len(), 64);
    assert!(filed.content_intact);
    assert_eq!(filed.content.party, "UA");
    assert_eq!(filed.content.scope.place.as_deref(), Some("RU-KRS"));
    assert_eq!(filed.content.needs, vec!["US:SecDef".to_owned()]);
    let need = &filed.needs[0];
    assert_eq!(
        (need.required, need.approvals, need.satisfied),
        (1, 0, false)
    );
    // Eligible: the SecDef's reviewers, but not those of the requesting
    // party.
    assert_eq!(need.reviewers, vec!["secdef-deputy", "secdef-office"]);

    // The queue of the authority, and the requester's view.
    let secdef = wf.act_as("secdef-office").unwrap();
    let queue = wf
        .list(
            &secdef,
            &RequestQuery {
                authority: Some("US:SecDef".into()),
                status: Some(RequestStatus::Pending),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].id, filed.id);
    let mine = wf
        .list(
            &kyiv,
            &RequestQuery {
                requester: Some("kyiv-mod".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(mine.len(), 1);
    // Whoever runs the CLI on the database sees every request.
    let all = wf
        .list(&Principal::Operator, &RequestQuery::default())
        .unwrap();
    assert_eq!(all.len(), 1);

    // The review approves: consent is on record.
    let reviewed = wf
        .review(
            &secdef,
            &filed.id,
            &approve("proportionate; military target"),
        )
        .unwrap();
    assert_eq!(reviewed.status, RequestStatus::Approved);
    assert_eq!(reviewed.version, 2);
    assert_eq!(reviewed.digest, filed.digest);
    assert!(reviewed.content_intact);
    let consent = format!("{}-us-secdef", filed.id);
    assert_eq!(reviewed.consents, vec![consent.clone()]);
    assert_eq!(
        reviewed.source.as_deref(),
        Some(format!("enduse-{}", filed.id).as_str())
    );

    // A decision on that ask inside the window is PERMIT, citing it ...
    let snap = wf.snapshot().unwrap();
    for d in ["2026-01-12", "2026-01-15"] {
        let after = snap.check(&on(&atacms_ask(), d), today).unwrap();
        assert_eq!(
            after.outcome(),
            Outcome::Permit,
            "{d}: {:?}",
            after.decision.notes
        );
        assert!(cites(&after, &consent), "{d}");
    }
    // ... and outside it, needs approval as before.
    let later = snap.check(&on(&atacms_ask(), "2026-01-16"), today).unwrap();
    assert_eq!(later.outcome(), Outcome::NeedsApproval);

    // The history of the request: every state change, bitemporal.
    let history = wf.request_history(&kyiv, &filed.id).unwrap();
    let states: Vec<RequestStatus> = history.iter().map(|v| v.status).collect();
    assert_eq!(
        states,
        vec![RequestStatus::Pending, RequestStatus::Approved]
    );
    assert!(history[0].txn < history[1].txn);

    // A decided request takes no more reviews.
    let deputy = wf.act_as("secdef-deputy").unwrap();
    let e = wf
        .review(&deputy, &filed.id, &approve("me too"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(e.code(), "enduse::workflow::not_pending");

    // Every step is in the audit log, which verifies.
    let report = wf.audit().verify(None).unwrap();
    assert!(report.ok, "{report:?}");
    let n = wf.audit().size().unwrap();
    let entries = wf.audit().entries(0, n).unwrap();
    let events: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == "workflow")
        .filter_map(|e| e.body["event"].as_str())
        .collect();
    for ev in [
        "user_added",
        "token_created",
        "request_filed",
        "request_reviewed",
    ] {
        assert!(events.contains(&ev), "{ev} in {events:?}");
    }

    // The register's own handle sees the consent too.
    if f.target != "memory:" {
        let mut reg = Register::open(&f.target).unwrap();
        let s = reg.snapshot(None).unwrap();
        let r = s.check(&on(&atacms_ask(), "2026-01-13"), today).unwrap();
        assert_eq!(r.outcome(), Outcome::Permit);
        assert!(cites(&r, &consent));
        // The workflow's records are not the register's: they are not
        // exported.
        let Some(dir) = f._dir.as_ref() else { return };
        let out = dir.path().join("export");
        let ex = reg.export(&out, None).unwrap();
        let text = std::fs::read_to_string(out.join("approvals.toml")).unwrap();
        assert!(text.contains(&consent));
        assert!(!ex
            .files
            .iter()
            .any(|f| f.contains("user") || f.contains("token")));
        let all: String = ex
            .files
            .iter()
            .map(|f| std::fs::read_to_string(out.join(f)).unwrap())
            .collect();
        assert!(!all.contains("kyiv-mod\""), "a user leaked into the export");
    }
}

#[test]
fn approval_end_to_end_memory() {
    approval_end_to_end(&mut memory());
}

#[test]
fn approval_end_to_end_sqlite() {
    approval_end_to_end(&mut sqlite());
}

fn refusal_forbids(f: &mut Fixture) {
    let wf = &mut f.wf;
    let kyiv = as_user(wf, "kyiv-mod");
    let filed = wf.file(&kyiv, &atacms_request()).unwrap();
    let deputy = as_user(wf, "secdef-deputy");
    // A reason is required.
    let e = wf.review(&deputy, &filed.id, &refuse("  ")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    let r = wf
        .review(&deputy, &filed.id, &refuse("escalation risk"))
        .unwrap();
    assert_eq!(r.status, RequestStatus::Refused);
    let consent = format!("{}-us-secdef", filed.id);
    assert_eq!(r.consents, vec![consent.clone()]);
    let report = wf
        .snapshot()
        .unwrap()
        .check(&on(&atacms_ask(), "2026-01-13"), day(TODAY))
        .unwrap();
    assert_eq!(report.outcome(), Outcome::Forbid);
    assert!(cites(&report, &consent));
    assert!(wf.audit().verify(None).unwrap().ok);
}

#[test]
fn refusal_forbids_memory() {
    refusal_forbids(&mut memory());
}

#[test]
fn refusal_forbids_sqlite() {
    refusal_forbids(&mut sqlite());
}

#[test]
fn a_request_that_needs_no_approval_is_refused() {
    let mut f = memory();
    let wf = &mut f.wf;
    let kyiv = as_user(wf, "kyiv-mod");
    let mut req = atacms_request();
    req.ask.at = None;
    req.ask.place = Some("UA".into());
    let e = wf.file(&kyiv, &req).unwrap_err();
    assert_eq!(e.code(), "enduse::workflow::no_approval_needed");
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert!(e.to_string().contains("permit"), "{e}");
    // Bad windows and asks.
    let mut req = atacms_request();
    req.window.to = day("2026-01-01");
    assert_eq!(
        wf.file(&kyiv, &req).unwrap_err().code(),
        "enduse::workflow::bad_window"
    );
    let mut req = atacms_request();
    req.ask.approvals = vec!["US:SecDef".into()];
    assert_eq!(
        wf.file(&kyiv, &req).unwrap_err().code(),
        "enduse::workflow::approvals_in_request"
    );
    let mut req = atacms_request();
    req.ask.as_of = Some("2026-02-01".into());
    assert_eq!(
        wf.file(&kyiv, &req).unwrap_err().code(),
        "enduse::workflow::as_of_outside_window"
    );
    let mut req = atacms_request();
    req.justification = String::new();
    assert_eq!(
        wf.file(&kyiv, &req).unwrap_err().code(),
        "enduse::workflow::missing_text"
    );
    let mut req = atacms_request();
    req.ask.model = Some("Atacms-9".into());
    assert_eq!(
        wf.file(&kyiv, &req).unwrap_err().kind(),
        ErrorKind::BadRequest
    );
    // Nothing was filed.
    assert!(wf.list(&kyiv, &RequestQuery::default()).unwrap().is_empty());
}

fn negative_auth(f: &mut Fixture) {
    let wf = &mut f.wf;
    let op = Principal::Operator;

    // No token.
    let anon = wf.authenticate(None).unwrap();
    assert_eq!(anon, Principal::Anonymous);
    let e = wf.file(&anon, &atacms_request()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert_eq!(e.code(), "enduse::unauthorized");
    assert_eq!(
        wf.list(&anon, &RequestQuery::default()).unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    assert_eq!(
        wf.authorize_write(&anon).unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    // Reads are open, unless the server is private.
    wf.authorize_read(&anon, false).unwrap();
    assert_eq!(
        wf.authorize_read(&anon, true).unwrap_err().kind(),
        ErrorKind::Unauthorized
    );

    // Tokens that are not valid.
    for bad in ["eu_nope", "Bearer eu_nope", "Basic a2l5djpwdw==", "hello"] {
        let e = wf.authenticate(Some(bad)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{bad}");
    }

    // A revoked token.
    let t = wf.create_token(&op, "kyiv-mod", None, None).unwrap();
    let kyiv = wf.authenticate(Some(&t.token)).unwrap();
    wf.authorize_read(&kyiv, true).unwrap();
    let info = wf.revoke_token(&op, &t.id).unwrap();
    assert_eq!(info.status, enduse::TokenStatus::Revoked);
    let e = wf.authenticate(Some(&t.token)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert!(e.to_string().contains("revoked"), "{e}");
    // The secret is nowhere in the database's records or log.
    let n = wf.audit().size().unwrap();
    let log = serde_json::to_string(&wf.audit().entries(0, n).unwrap()).unwrap();
    assert!(!log.contains(&t.token));

    // An expired token.
    let soon = wf.clock().now() + Duration::days(1);
    let t2 = wf.create_token(&op, "kyiv-mod", Some(soon), None).unwrap();
    wf.authenticate(Some(&t2.token)).unwrap();
    set_clock(wf, "2026-01-12");
    let e = wf.authenticate(Some(&t2.token)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert!(e.to_string().contains("expired"), "{e}");
    let listed = wf.tokens(&op, Some("kyiv-mod")).unwrap();
    assert!(listed
        .iter()
        .any(|x| x.id == t2.id && x.status == enduse::TokenStatus::Expired));
    set_clock(wf, TODAY);

    // A disabled user's token.
    let t3 = wf.create_token(&op, "kyiv-mod-2", None, None).unwrap();
    let disabled = wf.set_disabled(&op, "kyiv-mod-2", true, None).unwrap();
    let e = wf.authenticate(Some(&t3.token)).unwrap_err();
    assert!(e.to_string().contains("disabled"), "{e}");
    // Disabling again writes nothing: same version, same log; a stale
    // version is still refused.
    let size = wf.audit().size().unwrap();
    let again = wf.set_disabled(&op, "kyiv-mod-2", true, None).unwrap();
    assert_eq!(again.version, disabled.version);
    let again = wf
        .set_disabled(&op, "kyiv-mod-2", true, Some(disabled.version))
        .unwrap();
    assert_eq!(again.version, disabled.version);
    assert_eq!(wf.audit().size().unwrap(), size);
    let e = wf
        .set_disabled(&op, "kyiv-mod-2", true, Some(disabled.version - 1))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert_eq!(wf.audit().size().unwrap(), size);

    // Another party's request: Poland's requester may not file for Ukraine.
    let warsaw = as_user(wf, "warsaw-mod");
    let e = wf.file(&warsaw, &atacms_request()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    assert_eq!(e.code(), "enduse::forbidden");

    let kyiv = as_user(wf, "kyiv-mod");
    let filed = wf.file(&kyiv, &atacms_request()).unwrap();
    // ... may not see it, withdraw it, or find it in a list.
    assert_eq!(
        wf.show(&warsaw, &filed.id).unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    assert_eq!(
        wf.withdraw(&warsaw, &filed.id, &WithdrawInput::default())
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    assert!(wf
        .list(&warsaw, &RequestQuery::default())
        .unwrap()
        .is_empty());

    // A reviewer of the wrong authority.
    let state = as_user(wf, "state-dept");
    let e = wf.review(&state, &filed.id, &approve("fine")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    // Naming its own authority, it learns nothing of the request either.
    let mut r = approve("fine");
    r.authority = Some("US:State".into());
    assert_eq!(
        wf.review(&state, &filed.id, &r).unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    r.authority = Some("US:SecDef".into());
    assert_eq!(
        wf.review(&state, &filed.id, &r).unwrap_err().kind(),
        ErrorKind::Forbidden
    );

    // A member of the authority from the requesting party.
    let liaison = as_user(wf, "ua-liaison");
    let e = wf
        .review(&liaison, &filed.id, &approve("fine"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    assert!(
        e.help_text()
            .unwrap()
            .contains("no-review-of-ones-own-party"),
        "{:?}",
        e.help_text()
    );

    // Self-review.
    let dual = as_user(wf, "dual");
    let own = wf.file(&dual, &atacms_request()).unwrap();
    let e = wf.review(&dual, &own.id, &approve("mine")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert!(
        e.help_text().unwrap().contains("no-self-review"),
        "{:?}",
        e.help_text()
    );

    // A requester is not an editor, nor an admin.
    assert_eq!(
        wf.authorize_write(&kyiv).unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    let editor = as_user(wf, "editor");
    wf.authorize_write(&editor).unwrap();
    assert_eq!(
        wf.add_user(&kyiv, &user("x", Some("UA"), &[UserRole::Requester], &[]))
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    assert_eq!(
        wf.create_token(&kyiv, "kyiv-mod", None, None)
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    let admin = as_user(wf, "admin");
    wf.create_token(&admin, "kyiv-mod", None, None).unwrap();
    // The operator manages, but does not file or review.
    assert_eq!(
        wf.file(&op, &atacms_request()).unwrap_err().kind(),
        ErrorKind::Forbidden
    );

    // A delegation that ended yesterday.
    let mut u = wf.user("secdef-office").unwrap();
    let new = NewUser {
        id: u.id.clone(),
        name: u.name.take(),
        party: u.party.clone(),
        roles: u.roles.clone(),
        authorities: vec![Delegation {
            authority: "US:SecDef".into(),
            from: Some(day("2025-01-01")),
            to: Some(day("2026-01-09")),
        }],
    };
    wf.update_user(&op, &new, u.version).unwrap();
    // A stale version is a conflict.
    assert_eq!(
        wf.update_user(&op, &new, u.version).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    let secdef = as_user(wf, "secdef-office");
    assert_eq!(
        wf.review(&secdef, &filed.id, &approve("fine"))
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    // Nothing of all that changed the request.
    let now = wf.show(&kyiv, &filed.id).unwrap();
    assert_eq!((now.status, now.version), (RequestStatus::Pending, 1));
    assert!(wf.audit().verify(None).unwrap().ok);
}

#[test]
fn negative_auth_memory() {
    negative_auth(&mut memory());
}

#[test]
fn negative_auth_sqlite() {
    negative_auth(&mut sqlite());
}

fn quorum_of_two(f: &mut Fixture) {
    let wf = &mut f.wf;
    let op = Principal::Operator;
    assert_eq!(wf.quorum("US:SecDef").unwrap(), 1);
    wf.set_quorum(&op, "us:secdef", 2).unwrap();
    assert_eq!(wf.quorum("US:SecDef").unwrap(), 2);
    let kyiv = as_user(wf, "kyiv-mod");
    let filed = wf.file(&kyiv, &atacms_request()).unwrap();
    assert_eq!(filed.needs[0].required, 2);
    let office = as_user(wf, "secdef-office");
    let one = wf.review(&office, &filed.id, &approve("first")).unwrap();
    assert_eq!(one.status, RequestStatus::Pending);
    assert_eq!(one.needs[0].approvals, 1);
    assert!(one.consents.is_empty());
    // Still needs approval: one of two is not consent.
    let r = wf
        .snapshot()
        .unwrap()
        .check(&on(&atacms_ask(), "2026-01-13"), day(TODAY))
        .unwrap();
    assert_eq!(r.outcome(), Outcome::NeedsApproval);
    let e = wf
        .review(&office, &filed.id, &approve("again"))
        .unwrap_err();
    assert_eq!(e.code(), "enduse::workflow::already_reviewed");
    let deputy = as_user(wf, "secdef-deputy");
    let two = wf.review(&deputy, &filed.id, &approve("second")).unwrap();
    assert_eq!(two.status, RequestStatus::Approved);
    assert_eq!(two.reviews.len(), 2);
    let r = wf
        .snapshot()
        .unwrap()
        .check(&on(&atacms_ask(), "2026-01-13"), day(TODAY))
        .unwrap();
    assert_eq!(r.outcome(), Outcome::Permit);
}

#[test]
fn quorum_of_two_memory() {
    quorum_of_two(&mut memory());
}

#[test]
fn quorum_of_two_sqlite() {
    quorum_of_two(&mut sqlite());
}

fn withdraw_and_expire(f: &mut Fixture) {
    let wf = &mut f.wf;
    let kyiv = as_user(wf, "kyiv-mod");
    let a = wf.file(&kyiv, &atacms_request()).unwrap();
    // A fellow requester of the party may withdraw it; only when pending.
    let kyiv2 = as_user(wf, "kyiv-mod-2");
    let w = wf
        .withdraw(
            &kyiv2,
            &a.id,
            &WithdrawInput {
                reason: Some("the launchers moved".into()),
                expect_version: Some(1),
            },
        )
        .unwrap();
    assert_eq!(w.status, RequestStatus::Withdrawn);
    assert_eq!(w.closed.as_ref().unwrap().by, "kyiv-mod-2");
    let office = as_user(wf, "secdef-office");
    let e = wf.review(&office, &a.id, &approve("late")).unwrap_err();
    assert_eq!(e.code(), "enduse::workflow::not_pending");
    assert_eq!(
        wf.withdraw(&kyiv, &a.id, &WithdrawInput::default())
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );

    // Expiry: the window passes while pending.
    let b = wf.file(&kyiv, &atacms_request()).unwrap();
    set_clock(wf, "2026-01-16");
    let kyiv = as_user(wf, "kyiv-mod");
    assert_eq!(
        wf.show(&kyiv, &b.id).unwrap().status,
        RequestStatus::Expired
    );
    let e = wf.review(&office, &b.id, &approve("late")).unwrap_err();
    assert_eq!(e.code(), "enduse::workflow::not_pending");
    assert!(e.to_string().contains("expired"), "{e}");
    let expired = wf
        .list(
            &kyiv,
            &RequestQuery {
                status: Some(RequestStatus::Expired),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(expired.len(), 1);
    let done = wf.expire_due(&Principal::Operator).unwrap();
    assert_eq!(done, vec![b.id.clone()]);
    let h = wf.request_history(&kyiv, &b.id).unwrap();
    assert_eq!(h.len(), 2);
    // A request for days past is refused.
    let e = wf.file(&kyiv, &atacms_request()).unwrap_err();
    assert_eq!(e.code(), "enduse::workflow::past_window");
    assert!(wf.audit().verify(None).unwrap().ok);
}

#[test]
fn withdraw_and_expire_memory() {
    withdraw_and_expire(&mut memory());
}

#[test]
fn withdraw_and_expire_sqlite() {
    withdraw_and_expire(&mut sqlite());
}

// ---------------------------------------------------------------------------
// Races: two handles (two connections) on one SQLite file.

type Outcome2 = enduse::Result<enduse::RequestView>;
type Step = Box<dyn FnOnce(&mut Workflow) -> Outcome2 + Send>;

/// Runs `a` and `b` at once, each on its own handle, after both have read
/// the request; returns their results.
fn race<A, B>(
    target: &str,
    a: A,
    b: B,
) -> (
    enduse::Result<enduse::RequestView>,
    enduse::Result<enduse::RequestView>,
)
where
    A: FnOnce(&mut Workflow) -> enduse::Result<enduse::RequestView> + Send + 'static,
    B: FnOnce(&mut Workflow) -> enduse::Result<enduse::RequestView> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |f: Step| {
        let barrier = barrier.clone();
        let target = target.to_owned();
        std::thread::spawn(move || {
            let mut wf = Workflow::open(&target).unwrap().with_clock(clock(TODAY));
            wf.snapshot().unwrap();
            barrier.wait();
            f(&mut wf)
        })
    };
    let ta = spawn(Box::new(a));
    let tb = spawn(Box::new(b));
    (ta.join().unwrap(), tb.join().unwrap())
}

fn exactly_one_wins(
    ra: &enduse::Result<enduse::RequestView>,
    rb: &enduse::Result<enduse::RequestView>,
) {
    match (ra, rb) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
            assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        }
        (Ok(a), Ok(b)) => panic!("both won: {:?} and {:?}", a.status, b.status),
        (Err(a), Err(b)) => panic!("both lost: {a} / {b}"),
    }
}

#[test]
fn racing_reviews_and_withdrawals_never_both_win() {
    let mut f = sqlite();
    let target = f.target.clone();
    for round in 0..4 {
        let kyiv = as_user(&mut f.wf, "kyiv-mod");
        // A window of its own each round: a refusal forbids its days.
        let mut req = atacms_request();
        req.window.from += Duration::days(5 * round);
        req.window.to += Duration::days(5 * round);
        let filed = f.wf.file(&kyiv, &req).unwrap();
        let id = filed.id.clone();
        let (id_a, id_b) = (id.clone(), id.clone());
        let (ra, rb) = if round % 2 == 0 {
            // Two reviews: an approval and a refusal, both of version 1.
            race(
                &target,
                move |wf| {
                    let p = wf.act_as("secdef-office").unwrap();
                    let mut r = approve("yes");
                    r.expect_version = Some(1);
                    wf.review(&p, &id_a, &r)
                },
                move |wf| {
                    let p = wf.act_as("secdef-deputy").unwrap();
                    let mut r = refuse("no");
                    r.expect_version = Some(1);
                    wf.review(&p, &id_b, &r)
                },
            )
        } else {
            // A review racing a withdrawal, neither naming a version.
            race(
                &target,
                move |wf| {
                    let p = wf.act_as("secdef-office").unwrap();
                    wf.review(&p, &id_a, &approve("yes"))
                },
                move |wf| {
                    let p = wf.act_as("kyiv-mod").unwrap();
                    wf.withdraw(&p, &id_b, &WithdrawInput::default())
                },
            )
        };
        exactly_one_wins(&ra, &rb);
        let now = f.wf.show(&kyiv, &id).unwrap();
        assert_eq!(now.version, 2, "round {round}: one change only");
        let winner = ra.as_ref().or(rb.as_ref()).unwrap();
        assert_eq!(now.status, winner.status);
        // Exactly the winner's consent decisions are on record.
        let n = now.consents.len();
        match now.status {
            RequestStatus::Approved | RequestStatus::Refused => assert_eq!(n, 1),
            _ => assert_eq!(n, 0),
        }
    }
    let v = f.wf.audit().verify(None).unwrap();
    assert!(v.ok, "{v:?}");
}

// ---------------------------------------------------------------------------
// PostgreSQL: the same workflow on a throw-away cluster, two connections
// racing.

#[test]
fn postgres_workflow() {
    if std::process::Command::new("initdb")
        .arg("--version")
        .output()
        .is_err()
        && !std::path::Path::new("/usr/lib/postgresql").exists()
    {
        eprintln!("skipped: no PostgreSQL server binaries");
        return;
    }
    let cluster = enduse_testkit::pgcluster::Cluster::start();
    let conn = cluster.fresh_db();
    Register::open(&conn)
        .unwrap()
        .init(&mut |_, _, _| {})
        .unwrap();
    let mut wf = Workflow::open(&conn).unwrap().with_clock(clock(TODAY));
    add_users(&mut wf);
    let mut f = Fixture {
        wf,
        _dir: None,
        target: conn.clone(),
    };
    approval_end_to_end(&mut f);
    let kyiv = as_user(&mut f.wf, "kyiv-mod");
    // After the days the approval covers.
    let mut req = atacms_request();
    req.window.from += Duration::days(10);
    req.window.to += Duration::days(10);
    let filed = f.wf.file(&kyiv, &req).unwrap();
    let (a, b) = (filed.id.clone(), filed.id.clone());
    let (ra, rb) = race(
        &conn,
        move |wf| {
            let p = wf.act_as("secdef-office").unwrap();
            wf.review(&p, &a, &approve("yes"))
        },
        move |wf| {
            let p = wf.act_as("secdef-deputy").unwrap();
            wf.review(&p, &b, &refuse("no"))
        },
    );
    exactly_one_wins(&ra, &rb);
    assert!(f.wf.audit().verify(None).unwrap().ok);
}
