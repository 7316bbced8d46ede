//! The web page: server-rendered HTML (maud) over the same library calls
//! as the `/v1` API, with a few small scripts of our own for the map, the
//! timeline and the audit proof. Everything it needs is in the binary: no
//! CDN, no tile server, no download at run time.
//!
//! - `/` asks a question (a GET form: the address is the permalink) and
//!   answers it; this path needs no JavaScript.
//! - `/map` draws the decision over the region (`POST /v1/map`), with pan,
//!   zoom, date sliders, layers and a click for the decision at a point.
//! - `/timeline` draws every condition on a model or of a party
//!   ([`enduse::timeline_picture`]).
//! - `/login`, `/requests`: the approval workflow, signed in with a token
//!   kept in an HttpOnly, SameSite=Strict cookie.
//! - `/audit`: the latest signed checkpoint, an entry by index or by a
//!   decision's permalink, and its inclusion proof checked in the browser.

mod answer;
mod ask;
mod assets;
mod audit;
mod layout;
mod map;
mod requests;
mod timeline;

use crate::error::{Result, ServerError};
use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use enduse::Principal;
use maud::Markup;
use std::sync::Arc;

/// The cookie that carries the signed-in user's token.
pub(crate) const COOKIE: &str = "enduse_token";

/// The web page's routes, merged into the API's router.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(ask::page))
        .route("/map", get(map::page))
        .route("/map.svg", get(map::svg))
        .route("/timeline", get(timeline::page))
        .route("/timeline.svg", get(timeline::svg))
        .route("/login", get(requests::login_page).post(requests::login))
        .route("/logout", post(requests::logout))
        .route("/requests", get(requests::list).post(requests::file))
        .route("/requests/{id}", get(requests::show))
        .route("/requests/{id}/review", post(requests::review))
        .route("/requests/{id}/withdraw", post(requests::withdraw))
        .route("/audit", get(audit::page))
        .route("/static/{file}", get(assets::file))
}

/// An HTML answer.
pub(crate) fn html(status: StatusCode, m: Markup) -> Response {
    let mut r = (status, m.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The page's own scripts and styles only: nothing is loaded from
    // elsewhere, and nothing else may run.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors *",
        ),
    );
    r
}

/// What a page shows of an error: the message, the help and the status.
pub(crate) struct Shown {
    pub status: StatusCode,
    pub message: String,
    pub help: Option<String>,
    pub code: String,
}

/// An error as a page shows it (the database's name taken out, as in a
/// problem document).
pub(crate) fn shown(state: &AppState, e: &ServerError) -> Shown {
    let p = state.problem(e, &[]);
    Shown {
        status: StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
        message: p.detail,
        help: p.help.filter(|h| !h.is_empty()),
        code: p.code,
    }
}

/// The token of the `enduse_token` cookie, if any.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Who is signed in: the user of the cookie's token, or anonymous (a token
/// that no longer works signs out, with a note).
pub(crate) async fn signed_in(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> (Principal, Option<String>) {
    let Some(token) = cookie_token(headers) else {
        return (Principal::Anonymous, None);
    };
    let s = state.clone();
    let who = crate::api::blocking(move || s.authenticate(Some(&format!("Bearer {token}")))).await;
    match who {
        Ok(p) => (p, None),
        Err(e) => (
            Principal::Anonymous,
            Some(format!("you were signed out: {}", shown(state, &e).message)),
        ),
    }
}

/// A form field: `None` when empty.
pub(crate) fn field(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Percent-encodes a query value.
pub(crate) fn enc(s: &str) -> String {
    crate::api::pct(s)
}

/// A query string from pairs, skipping empty values.
pub(crate) fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", enc(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Refuses a form posted from another site: the cookie is SameSite=Strict
/// already, and a browser names the page's origin on every POST.
pub(crate) fn same_origin(headers: &HeaderMap) -> Result<()> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(o), Some(h)) if o != "null" => {
            let o_host = o.split("://").nth(1).unwrap_or(o);
            if o_host == h {
                Ok(())
            } else {
                Err(ServerError::http(
                    StatusCode::FORBIDDEN,
                    "enduse::server::cross_site",
                    format!("a form posted from `{}` is refused", enduse::cut(o)),
                    Some("use the page of this server".to_owned()),
                ))
            }
        }
        _ => Ok(()),
    }
}

/// On a private server, a page that reads the register needs a signed-in
/// user who may read: the page that says so, or `None` to go on.
pub(crate) async fn refused_read(state: &Arc<AppState>, who: &Principal) -> Option<Response> {
    if !state.private {
        return None;
    }
    let s = state.clone();
    let w = who.clone();
    match crate::api::blocking(move || s.authorize(&w, &crate::auth::ApiAction::Read)).await {
        Ok(()) => None,
        Err(e) => {
            let e = shown(state, &e);
            let body = maud::html! {
                (layout::error_box_led("This server is private:", &e))
                p { a href="/login" { "Sign in" } " to read it." }
            };
            Some(html(
                e.status,
                layout::page("Sign in", layout::Nav::Ask, who, &[], body),
            ))
        }
    }
}
