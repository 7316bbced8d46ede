//! `/timeline`: every condition on a model, or of a party, over valid time
//! ([`enduse::timeline_picture`]), with each row's rule, sources and
//! history below the picture (a click on a row goes there).

use super::answer::{source_except, unquoted};
use super::layout::{error_box, page as frame, Nav};
use super::{field, html, shown, signed_in};
use crate::api::{blocking, S};
use crate::error::ServerError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use enduse::{Status, TimelinePicture, TimelineSubject};
use maud::{html as m, PreEscaped};
use serde::Deserialize;
use std::sync::Arc;

/// `?model=` or `?party=`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TimelineForm {
    pub model: Option<String>,
    pub party: Option<String>,
}

impl TimelineForm {
    fn subject(&self) -> Option<TimelineSubject> {
        match (field(&self.model), field(&self.party)) {
            (Some(m), _) => Some(TimelineSubject::Model(m)),
            (None, Some(p)) => Some(TimelineSubject::Party(p)),
            (None, None) => None,
        }
    }
}

async fn picture(
    s: &Arc<AppState>,
    subject: TimelineSubject,
) -> Result<TimelinePicture, ServerError> {
    let (TimelineSubject::Model(v) | TimelineSubject::Party(v)) = &subject;
    {
        if v.chars().count() > crate::MAX_NAME {
            return Err(ServerError::bad_request(
                "enduse::server::too_long",
                format!(
                    "the name is {} characters long; names are at most {}",
                    v.chars().count(),
                    crate::MAX_NAME
                ),
                "",
            ));
        }
    }
    let snap = s.snapshot()?;
    blocking(move || Ok(enduse::timeline_picture(&snap, &subject)?)).await
}

/// `GET /timeline.svg`
pub(crate) async fn svg(
    State(s): S,
    headers: HeaderMap,
    Query(f): Query<TimelineForm>,
) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    if let Some(r) = super::refused_read(&s, &who).await {
        return r;
    }
    let subject = f
        .subject()
        .unwrap_or(TimelineSubject::Model("ATACMS".into()));
    match picture(&s, subject).await {
        Ok(p) => {
            let mut r = (StatusCode::OK, p.svg).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            r
        }
        Err(e) => s.shown(e, &[]).into_response(),
    }
}

/// `GET /timeline`
pub(crate) async fn page(
    State(s): S,
    headers: HeaderMap,
    Query(f): Query<TimelineForm>,
) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    if let Some(r) = super::refused_read(&s, &who).await {
        return r;
    }
    let f = if f.subject().is_none() {
        TimelineForm {
            model: Some("ATACMS".into()),
            party: None,
        }
    } else {
        f
    };
    let subject = f
        .subject()
        .unwrap_or(TimelineSubject::Model("ATACMS".into()));
    let result = picture(&s, subject).await;
    let form = m! {
        form.inline method="get" action="/timeline" aria-label="Whose timeline" {
            div.field { label for="t-model" { "Model" } input #t-model type="text" name="model" value=(f.model.clone().unwrap_or_default()) list="dl-models"; }
            span.or { "or" }
            div.field { label for="t-party" { "Party" } input #t-party type="text" name="party" value=(f.party.clone().unwrap_or_default()) list="dl-parties"; }
            button type="submit" { "Draw" }
        }
        (super::ask::datalists(&s))
    };
    let (status, body) = match result {
        Err(e) => {
            let e = shown(&s, &e);
            (e.status, m! { h1 { "Timeline" } (form) (error_box(&e)) })
        }
        Ok(p) => {
            let svg_link = format!(
                "/timeline.svg?{}",
                match (&f.model, &f.party) {
                    (Some(m), _) if !m.trim().is_empty() => format!("model={}", super::enc(m)),
                    (_, Some(p)) => format!("party={}", super::enc(p)),
                    _ => String::new(),
                }
            );
            (
                StatusCode::OK,
                m! {
                    h1 { "Timeline: " (p.title) }
                    (form)
                    p.lede { "Every condition over its valid time, one lane per party. A diamond marks the first public report; hatching marks an imprecise date; dashed bars are reported facts, cross-hatched bars disputed ones; triangles and crosses are consent decisions granted and refused. Click a row for its rule, sources and history." }
                    p { a href=(svg_link) download="timeline.svg" { "Download the picture (SVG)" } " · the same picture: " code { "enduse timeline --model M --svg out.svg" } }
                    div.timeline-view #timeline tabindex="0" { (PreEscaped(&p.svg)) }
                    h2 { "The rules, their sources and their history" }
                    ol.entries {
                        @for e in &p.entries {
                            li.entry id=(format!("rule-{}", e.id)) tabindex="-1" {
                                h3 {
                                    code { (e.id) } " "
                                    span.kind { "(" (e.kind) ", " (e.party_name) ")" } " "
                                    @match e.status {
                                        Status::Reported => { span.badge.status-reported { "reported" } }
                                        Status::Disputed => { span.badge.status-disputed { "disputed" } }
                                        Status::StatedPosition => { span.badge.status-stated { "stated position" } }
                                        Status::Confirmed => {}
                                    }
                                }
                                p.summary { (e.summary) }
                                p.dates {
                                    @if let Some(g) = e.granted { (if g { "Granted" } else { "Refused" }) " on " }
                                    @else { "In force from " }
                                    (e.valid_from.map(|d| d.to_string()).unwrap_or_default())
                                    @if let Some(t) = &e.valid_to { " until " (t.to_string()) }
                                    @if let Some(r) = &e.recorded_at { " · first reported in this data set's sources on " (r.to_string()) }
                                }
                                @if let Some(n) = &e.note { p.note { "Note: " (n) } }
                                @if let Some(q) = &e.quote { @if !q.is_empty() { blockquote.quote { "“" (unquoted(q)) "”" } } }
                                ul.sources { @for src in &e.sources { (source_except(src, e.quote.as_deref())) } }
                                @if e.supersedes.is_some() || !e.superseded_by.is_empty() {
                                    p.history {
                                        "History: "
                                        @if let Some(x) = &e.supersedes { "replaces " a href=(format!("#rule-{x}")) { code { (x) } } ". " }
                                        @for x in &e.superseded_by { "Replaced by " a href=(format!("#rule-{x}")) { code { (x) } } ". " }
                                    }
                                }
                                @if s.has_database() && e.kind == "rule" {
                                    p.history { a href=(format!("/v1/records/policy/{}", super::enc(&e.id))) { "Every stored version of this rule (JSON)" } }
                                }
                            }
                        }
                    }
                },
            )
        }
    };
    html(
        status,
        frame("Timeline", Nav::Timeline, &who, &["timeline.js"], body),
    )
}
