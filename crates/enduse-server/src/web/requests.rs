//! Signing in, and the approval workflow: a requester files, follows and
//! withdraws requests; a reviewer works through the queue of each of their
//! authorities and approves or refuses with a reason.
//!
//! The token is kept in a cookie that scripts cannot read (HttpOnly) and
//! that no other site's page sends (SameSite=Strict): a script injected
//! into a page could not take it away, and every workflow action is a plain
//! form, so the workflow works without JavaScript.

use super::layout::{error_box, error_box_led, notice, outcome_badge, page as frame, Nav};
use super::{field, html, same_origin, shown, signed_in, Shown, COOKIE};
use crate::api::{blocking, S};
use crate::error::{Result, ServerError};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use enduse::{
    Ask, Principal, RequestInput, RequestQuery, RequestStatus, RequestView, ReviewInput, UserRole,
    Verdict, Window, WithdrawInput,
};
use maud::{html as m, Markup};
use serde::Deserialize;
use std::sync::Arc;

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: Option<String>,
}

fn login_body(error: Option<&Shown>, note: Option<&str>) -> Markup {
    m! {
        section.narrow aria-labelledby="login-h" {
            h1 #login-h { "Sign in" }
            @if let Some(n) = note { (notice(n)) }
            @if let Some(e) = error { (error_box_led("Not signed in:", e)) }
            p { "Requesters and reviewers sign in with a token their operator made with "
                code { "enduse token create USER" } ". The token is kept in a cookie that scripts cannot read and other sites' pages do not send." }
            form method="post" action="/login" {
                div.field {
                    label for="token" { "Token" }
                    input #token type="password" name="token" autocomplete="off" required aria-describedby="token-hint";
                    small #token-hint { "it starts with eu_" }
                }
                button type="submit" #login-submit { "Sign in" }
            }
        }
    }
}

/// `GET /login`
pub(crate) async fn login_page(State(s): S, headers: HeaderMap) -> Response {
    let (who, note) = signed_in(&s, &headers).await;
    html(
        StatusCode::OK,
        frame(
            "Sign in",
            Nav::Requests,
            &who,
            &[],
            login_body(None, note.as_deref()),
        ),
    )
}

/// `POST /login`
pub(crate) async fn login(State(s): S, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let run = async {
        same_origin(&headers)?;
        let token =
            field(&f.token).ok_or_else(|| ServerError::unauthorized("give a token to sign in"))?;
        if !token
            .chars()
            .all(|c| c.is_ascii_graphic() && c != ';' && c != ',' && c != '"' && c != '\\')
        {
            return Err(ServerError::unauthorized(
                "this is not a token: tokens are printable text without spaces",
            ));
        }
        let st = s.clone();
        let t = token.clone();
        let who = blocking(move || st.authenticate(Some(&format!("Bearer {t}")))).await?;
        if who == Principal::Anonymous {
            return Err(ServerError::unauthorized("this token signs in nobody"));
        }
        Ok(token)
    };
    match run.await {
        Ok(token) => {
            let mut r = Redirect::to("/requests").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            )) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let mut e = shown(&s, &e);
            if e.status == StatusCode::UNAUTHORIZED {
                // The API's help speaks of headers; a person at the page
                // needs a token from their operator.
                e.help = Some("ask the operator of this server for a token (`enduse token create USER`); a revoked or expired token no longer signs in".into());
            }
            html(
                e.status,
                frame(
                    "Sign in",
                    Nav::Requests,
                    &Principal::Anonymous,
                    &[],
                    login_body(Some(&e), None),
                ),
            )
        }
    }
}

/// `POST /logout`
pub(crate) async fn logout() -> Response {
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("enduse_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// The filing form.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FileForm {
    actor: Option<String>,
    action: Option<String>,
    model: Option<String>,
    place: Option<String>,
    at: Option<String>,
    recipient: Option<String>,
    target_class: Option<String>,
    purpose: Option<String>,
    from: Option<String>,
    to: Option<String>,
    justification: Option<String>,
}

fn day(v: &Option<String>, name: &str) -> Result<chrono::NaiveDate> {
    let s = field(v).ok_or_else(|| {
        ServerError::bad_request(
            "enduse::web::missing_field",
            format!("the request needs `{name}`, a day"),
            "the window is the days the consent would be used: YYYY-MM-DD",
        )
    })?;
    chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| {
        ServerError::bad_request(
            "enduse::web::bad_day",
            format!("`{}` is not a day", enduse::cut(&s)),
            "write it YYYY-MM-DD",
        )
    })
}

impl FileForm {
    fn input(&self, who: &Principal) -> Result<RequestInput> {
        let party = match who {
            Principal::User(u) => u.party.clone(),
            _ => None,
        };
        let actor = field(&self.actor).or(party).unwrap_or_default();
        let ask = Ask {
            actor,
            action: field(&self.action).unwrap_or_else(|| "use".into()),
            model: field(&self.model),
            place: field(&self.place),
            at: field(&self.at).map(enduse::Point::Text),
            recipient: field(&self.recipient),
            target_class: field(&self.target_class),
            purpose: field(&self.purpose),
            ..Ask::default()
        };
        crate::api::check_ask(&ask)?;
        Ok(RequestInput {
            ask,
            window: Window {
                from: day(&self.from, "from")?,
                to: day(&self.to, "to")?,
            },
            justification: field(&self.justification).unwrap_or_default(),
        })
    }
}

fn need_sign_in() -> Markup {
    m! {
        section.narrow {
            h1 { "Requests" }
            p { "Filing and reviewing requests needs a token. " a href="/login" { "Sign in" } "." }
        }
    }
}

fn status_badge(st: RequestStatus) -> Markup {
    m! { span class=(format!("badge req-{}", st.as_str())) data-status=(st.as_str()) { (st.as_str()) } }
}

fn ask_words(a: &Ask) -> String {
    let mut s = format!(
        "{} {} {}",
        a.actor,
        a.action,
        a.model.clone().or(a.lot.clone()).unwrap_or_default()
    );
    if let Some(p) = &a.place {
        s.push_str(&format!(" in {p}"));
    }
    if let Some(enduse::Point::Text(t)) = &a.at {
        s.push_str(&format!(" at {t}"));
    }
    if let Some(r) = &a.recipient {
        s.push_str(&format!(" to {r}"));
    }
    if let Some(t) = &a.target_class {
        s.push_str(&format!(" against {t} targets"));
    }
    s
}

fn table(views: &[RequestView], caption: &str, id: &str) -> Markup {
    m! {
        table.requests id=(id) {
            caption { (caption) }
            thead { tr { th scope="col" { "Request" } th scope="col" { "Asks" } th scope="col" { "Window" } th scope="col" { "Needs" } th scope="col" { "Status" } } }
            tbody {
                @if views.is_empty() { tr { td colspan="5" { "None." } } }
                @for v in views {
                    tr data-request=(v.id) {
                        td { a href=(format!("/requests/{}", super::enc(&v.id))) { (v.id) } }
                        td { (ask_words(&v.content.ask)) }
                        td { (v.content.window.from.to_string()) " – " (v.content.window.to.to_string()) }
                        td { (v.needs.iter().map(|n| n.authority.clone()).collect::<Vec<_>>().join(", ")) }
                        td { (status_badge(v.status)) }
                    }
                }
            }
        }
    }
}

fn file_form(f: &FileForm, party: Option<&str>) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    m! {
        form.file method="post" action="/requests" aria-labelledby="file-h" {
            h2 #file-h { "File a request" }
            p { "For days to come, for " strong { (party.unwrap_or("your party")) } ". Filing says which authorities must approve and who may review." }
            div.grid {
                div.field { label for="r-action" { "Action" }
                    select #r-action name="action" { @for a in ["use", "deploy", "transfer", "reexport"] { option value=(a) selected[f.action.as_deref() == Some(a)] { (a) } } } }
                div.field { label for="r-model" { "Item (model)" } input #r-model type="text" name="model" value=(v(&f.model)) list="dl-models"; }
                div.field { label for="r-place" { "Place" } input #r-place type="text" name="place" value=(v(&f.place)) list="dl-places"; }
                div.field { label for="r-at" { "Or a point (LAT,LON)" } input #r-at type="text" name="at" value=(v(&f.at)); }
                div.field { label for="r-recipient" { "Recipient" } input #r-recipient type="text" name="recipient" value=(v(&f.recipient)) list="dl-parties"; }
                div.field { label for="r-target" { "Target class" } input #r-target type="text" name="target_class" value=(v(&f.target_class)); }
                div.field { label for="r-from" { "From (first day)" } input #r-from type="text" name="from" value=(v(&f.from)) placeholder="YYYY-MM-DD"; }
                div.field { label for="r-to" { "To (last day)" } input #r-to type="text" name="to" value=(v(&f.to)) placeholder="YYYY-MM-DD"; }
            }
            div.field.wide { label for="r-justification" { "Justification" } textarea #r-justification name="justification" rows="3" required { (v(&f.justification)) } }
            button type="submit" #file-submit { "File the request" }
        }
    }
}

async fn list_body(
    s: &Arc<AppState>,
    who: &Principal,
    form: &FileForm,
    error: Option<&Shown>,
) -> Result<Markup> {
    let Principal::User(u) = who else {
        return Ok(need_sign_in());
    };
    let today = s.clock.today();
    let mine = if u.has_role(UserRole::Requester) {
        let st = s.clone();
        let w = who.clone();
        let q = RequestQuery {
            requester: Some(u.id.clone()),
            ..RequestQuery::default()
        };
        Some(blocking(move || Ok(st.workflow()?.list(&w, &q)?)).await?)
    } else {
        None
    };
    let mut queues = Vec::new();
    if u.has_role(UserRole::Reviewer) {
        for d in u.authorities.iter().filter(|d| d.active_on(today)) {
            let st = s.clone();
            let w = who.clone();
            let q = RequestQuery {
                authority: Some(d.authority.clone()),
                status: Some(RequestStatus::Pending),
                ..RequestQuery::default()
            };
            let views = blocking(move || Ok(st.workflow()?.list(&w, &q)?)).await?;
            queues.push((d.authority.clone(), views));
        }
    }
    Ok(m! {
        h1 { "Requests" }
        p { "Signed in as " strong { (u.id) } @if let Some(p) = &u.party { " for " (p) } ", "
            (u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" and ")) "." }
        @if let Some(e) = error { (error_box_led("Not filed:", e)) p { "Nothing was filed." } }
        @if let Some(mine) = &mine {
            (file_form(form, u.party.as_deref()))
            (table(mine, "Your requests, newest first", "my-requests"))
        }
        @for (a, views) in &queues {
            (table(views, &format!("Queue of {a}: pending requests"), &format!("queue-{}", a.replace(':', "-"))))
        }
        @if mine.is_none() && queues.is_empty() {
            p { "This user neither files nor reviews requests." }
        }
        (super::ask::datalists(s))
    })
}

/// `GET /requests`
pub(crate) async fn list(State(s): S, headers: HeaderMap) -> Response {
    let (who, note) = signed_in(&s, &headers).await;
    match list_body(&s, &who, &FileForm::default(), None).await {
        Ok(b) => html(
            StatusCode::OK,
            frame(
                "Requests",
                Nav::Requests,
                &who,
                &[],
                m! { @if let Some(n) = &note { (notice(n)) } (b) },
            ),
        ),
        Err(e) => {
            let e = shown(&s, &e);
            html(
                e.status,
                frame("Requests", Nav::Requests, &who, &[], error_box(&e)),
            )
        }
    }
}

/// `POST /requests`
pub(crate) async fn file(State(s): S, headers: HeaderMap, Form(f): Form<FileForm>) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    let run = async {
        same_origin(&headers)?;
        if who == Principal::Anonymous {
            return Err(ServerError::unauthorized(
                "filing a request needs a token: sign in",
            ));
        }
        let input = f.input(&who)?;
        let st = s.clone();
        let w = who.clone();
        blocking(move || Ok(st.workflow()?.file(&w, &input)?)).await
    };
    match run.await {
        Ok(v) => Redirect::to(&format!("/requests/{}", super::enc(&v.id))).into_response(),
        Err(e) => {
            let e = shown(&s, &e);
            let body = list_body(&s, &who, &f, Some(&e))
                .await
                .unwrap_or_else(|_| error_box(&e));
            html(e.status, frame("Requests", Nav::Requests, &who, &[], body))
        }
    }
}

/// The decision of the request's ask on the window's first day, as the
/// register stands, and as it would be once every needed authority approved.
async fn decisions(
    s: &Arc<AppState>,
    v: &RequestView,
) -> Result<(enduse::Outcome, enduse::Outcome)> {
    let mut ask = v.content.ask.clone();
    ask.as_of = Some(v.content.window.from.to_string());
    ask.known_at = None;
    ask.approvals.clear();
    let mut approved = ask.clone();
    approved.approvals = v.needs.iter().map(|n| n.authority.clone()).collect();
    let snap = s.snapshot()?;
    let today = s.clock.today();
    blocking(move || {
        let now = snap.check(&ask, today)?.outcome();
        let then = snap.check(&approved, today)?.outcome();
        Ok((now, then))
    })
    .await
}

/// `GET /requests/{id}`
pub(crate) async fn show(State(s): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (who, note) = signed_in(&s, &headers).await;
    if who == Principal::Anonymous {
        return html(
            StatusCode::UNAUTHORIZED,
            frame("Request", Nav::Requests, &who, &[], need_sign_in()),
        );
    }
    show_with(&s, &who, &id, note.as_deref(), None).await
}

async fn show_with(
    s: &Arc<AppState>,
    who: &Principal,
    id: &str,
    note: Option<&str>,
    error: Option<&Shown>,
) -> Response {
    let st = s.clone();
    let w = who.clone();
    let i = id.to_owned();
    let view = match blocking(move || Ok(st.workflow()?.show(&w, &i)?)).await {
        Ok(v) => v,
        Err(e) => {
            let e = shown(s, &e);
            return html(
                e.status,
                frame("Request", Nav::Requests, who, &[], error_box(&e)),
            );
        }
    };
    let outcomes = decisions(s, &view).await.ok();
    let today = s.clock.today();
    let user = match who {
        Principal::User(u) => Some(u),
        _ => None,
    };
    let may_review = user.is_some_and(|u| {
        u.has_role(UserRole::Reviewer)
            && view.status == RequestStatus::Pending
            && view
                .needs
                .iter()
                .any(|n| u.member_of(&n.authority, today) && !n.satisfied)
            && !view.reviews.iter().any(|r| r.reviewer == u.id)
    });
    let may_withdraw = user.is_some_and(|u| u.id == view.content.requester)
        && view.status == RequestStatus::Pending;
    let c = &view.content;
    let body = m! {
        h1 { "Request " code { (view.id) } " " (status_badge(view.status)) }
        @if let Some(n) = note { (notice(n)) }
        @if let Some(e) = error { (error_box(e)) }
        dl.facts {
            dt { "Asks" } dd #req-ask { (ask_words(&c.ask)) }
            dt { "Window" } dd { (c.window.from.to_string()) " to " (c.window.to.to_string()) }
            dt { "Justification" } dd { (c.justification) }
            dt { "Filed" } dd { (c.filed) " by " (c.requester) " for " (c.party) }
            dt { "Decided on register transaction" } dd { (c.register_txn.map(|t| t.to_string()).unwrap_or_else(|| "–".into())) }
            dt { "Digest (SHA-256 of its content)" } dd { code #req-digest { (view.digest) } @if view.content_intact { " · intact" } @else { strong { " · the content no longer matches its digest" } } }
            dt { "Version" } dd { (view.version) }
        }
        @if let Some((now, then)) = outcomes {
            section.decisions aria-labelledby="dec-h" {
                h2 #dec-h { "The decision on " (c.window.from.to_string()) }
                p #decision-now { "As the register stands now: " (outcome_badge(now)) }
                p #decision-approved { "Once every needed authority has approved: " (outcome_badge(then)) }
            }
        }
        h2 { "Needed authorities" }
        table.needs-table {
            thead { tr { th scope="col" { "Authority" } th scope="col" { "Approvals" } th scope="col" { "State" } th scope="col" { "Eligible reviewers" } } }
            tbody {
                @for n in &view.needs {
                    tr {
                        td { (n.name) " (" code { (n.authority) } ")" }
                        td { (n.approvals) " of " (n.required) }
                        td { @if n.refused { "refused" } @else if n.satisfied { "approved" } @else { "waiting" } }
                        td { (n.reviewers.join(", ")) }
                    }
                }
            }
        }
        @if !c.days.is_empty() {
            h2 { "The answers over the window when it was filed" }
            ul { @for d in &c.days { li { (d.from.to_string()) " – " (d.to.to_string()) ": " (d.outcome) } } }
        }
        h2 { "Reviews" }
        @if view.reviews.is_empty() { p { "None yet." } }
        ol.reviews { @for r in &view.reviews {
            li { strong { (r.reviewer) } " for " code { (r.authority) } ": " (match r.verdict { Verdict::Approve => "approved", Verdict::Refuse => "refused" }) " — " (r.reason) " (" (r.at) ")" }
        } }
        @if !view.consents.is_empty() {
            p #consents { "Consent decisions written to the register: " (view.consents.join(", ")) "." }
        }
        @if let Some(cl) = &view.closed { p { "Withdrawn by " (cl.by) " on " (cl.at) @if let Some(r) = &cl.reason { ": " (r) } } }
        @if may_review {
            form.review method="post" action=(format!("/requests/{}/review", super::enc(&view.id))) aria-labelledby="rev-h" {
                h2 #rev-h { "Review" }
                input type="hidden" name="version" value=(view.version);
                fieldset {
                    legend { "Verdict" }
                    label { input type="radio" name="verdict" value="approve" #verdict-approve required; " Approve" }
                    label { input type="radio" name="verdict" value="refuse" #verdict-refuse; " Refuse" }
                }
                div.field.wide { label for="reason" { "Reason (required)" } textarea #reason name="reason" rows="3" required {} }
                button type="submit" #review-submit { "Record the review" }
            }
        }
        @if may_withdraw {
            form.withdraw method="post" action=(format!("/requests/{}/withdraw", super::enc(&view.id))) {
                input type="hidden" name="version" value=(view.version);
                div.field { label for="w-reason" { "Why withdraw (optional)" } input #w-reason type="text" name="reason"; }
                button type="submit" #withdraw-submit { "Withdraw the request" }
            }
        }
        p { a href="/requests" { "All requests" } }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    html(status, frame("Request", Nav::Requests, who, &[], body))
}

/// The review form.
#[derive(Debug, Deserialize)]
pub(crate) struct ReviewForm {
    verdict: Option<String>,
    reason: Option<String>,
    version: Option<i64>,
}

/// `POST /requests/{id}/review`
pub(crate) async fn review(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReviewForm>,
) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    let run = async {
        same_origin(&headers)?;
        if who == Principal::Anonymous {
            return Err(ServerError::unauthorized(
                "reviewing needs a token: sign in",
            ));
        }
        let verdict = match field(&f.verdict).as_deref() {
            Some("approve") => Verdict::Approve,
            Some("refuse") => Verdict::Refuse,
            _ => {
                return Err(ServerError::bad_request(
                    "enduse::web::missing_field",
                    "choose a verdict: approve or refuse",
                    "",
                ))
            }
        };
        let input = ReviewInput {
            verdict,
            reason: field(&f.reason).unwrap_or_default(),
            authority: None,
            expect_version: f.version,
        };
        let st = s.clone();
        let w = who.clone();
        let i = id.clone();
        blocking(move || {
            let v = st.workflow()?.review(&w, &i, &input)?;
            if !v.consents.is_empty() {
                st.refresh()?;
            }
            Ok(v)
        })
        .await
    };
    match run.await {
        Ok(_) => Redirect::to(&format!("/requests/{}", super::enc(&id))).into_response(),
        Err(e) => {
            let e = shown(&s, &e);
            show_with(&s, &who, &id, None, Some(&e)).await
        }
    }
}

/// The withdrawal form.
#[derive(Debug, Deserialize)]
pub(crate) struct WithdrawForm {
    reason: Option<String>,
    version: Option<i64>,
}

/// `POST /requests/{id}/withdraw`
pub(crate) async fn withdraw(
    State(s): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<WithdrawForm>,
) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    let run = async {
        same_origin(&headers)?;
        if who == Principal::Anonymous {
            return Err(ServerError::unauthorized(
                "withdrawing needs a token: sign in",
            ));
        }
        let input = WithdrawInput {
            reason: field(&f.reason),
            expect_version: f.version,
        };
        let st = s.clone();
        let w = who.clone();
        let i = id.clone();
        blocking(move || Ok(st.workflow()?.withdraw(&w, &i, &input)?)).await
    };
    match run.await {
        Ok(_) => Redirect::to(&format!("/requests/{}", super::enc(&id))).into_response(),
        Err(e) => {
            let e = shown(&s, &e);
            show_with(&s, &who, &id, None, Some(&e)).await
        }
    }
}
