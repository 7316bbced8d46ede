//! The approval workflow's routes (requests, reviews, withdrawals) and the
//! audit log's (checkpoints, entries, inclusion and consistency proofs),
//! over [`enduse::Workflow`] and [`enduse::Audit`].

use crate::api::{blocking, json, Caller, Reader, Token, S};
use crate::error::Result;
use crate::extract::{stale_as_412, stated_version, with_etag, JsonBody, P, Q};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use enduse::{RequestInput, RequestQuery, RequestView, ReviewInput, WithdrawInput};
use serde::{Deserialize, Serialize};

/// Most entries one page of the log lists.
pub const MAX_ENTRIES: u64 = 1000;

fn version_of(h: &HeaderMap, body: Option<i64>) -> Result<Option<i64>> {
    stated_version(
        h,
        body,
        (
            "`If-None-Match: *` means a new record; a request exists already",
            "send `If-Match` with the request's version (its ETag)",
        ),
    )
}

/// `POST /v1/requests`
#[utoipa::path(post, path = "/v1/requests", tag = "workflow",
    request_body(content = crate::openapi::doc::RequestInput, description = "An ask, the window of days it is for, and a justification"),
    responses(
        (status = 201, description = "The request, pending, with the authorities it needs and its digest", body = crate::openapi::doc::RequestView,
            headers(("ETag" = String, description = "Its version"), ("Location" = String, description = "The request"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not file for this party", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "An ask that needs no approval, or cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn file(
    State(s): S,
    Token(who): Token,
    JsonBody(input): JsonBody<RequestInput>,
) -> Result<Response> {
    let state = s.clone();
    let view = blocking(move || Ok(state.workflow()?.file(&who, &input)?)).await?;
    let mut r = with_etag(json(StatusCode::CREATED, &view)?, view.version);
    if let Ok(l) = HeaderValue::from_str(&format!("/v1/requests/{}", crate::api::pct(&view.id))) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(r)
}

/// The requests listed.
#[derive(Debug, Serialize)]
pub struct RequestList {
    /// Newest first.
    pub requests: Vec<RequestView>,
}

/// `GET /v1/requests`
#[utoipa::path(get, path = "/v1/requests", tag = "workflow",
    params(crate::openapi::doc::RequestQueryParams),
    responses(
        (status = 200, description = "The requests the user may see that match: with `authority` and `status=pending`, an authority's queue; with `requester`, a requester's view", body = crate::openapi::doc::RequestList),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "A bad filter", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(s): S,
    Caller(who): Caller,
    Q(q): Q<RequestQuery>,
) -> Result<Response> {
    let state = s.clone();
    let requests = blocking(move || Ok(state.workflow()?.list(&who, &q)?)).await?;
    json(StatusCode::OK, &RequestList { requests })
}

/// A request's id.
#[derive(Debug, Deserialize)]
pub(crate) struct IdPath {
    id: String,
}

/// `GET /v1/requests/{id}`
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "workflow",
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The request as it stands: state, needs, reviews, consents", body = crate::openapi::doc::RequestView,
            headers(("ETag" = String, description = "Its version, for If-Match"))),
        (status = "4XX", description = "No such request, or not one the user may see", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = [])))]
pub(crate) async fn show(State(s): S, Caller(who): Caller, P(p): P<IdPath>) -> Result<Response> {
    let state = s.clone();
    let view = blocking(move || Ok(state.workflow()?.show(&who, &p.id)?)).await?;
    Ok(with_etag(json(StatusCode::OK, &view)?, view.version))
}

/// Every version of a request.
#[derive(Debug, Serialize)]
pub struct RequestHistory {
    /// Oldest first.
    pub versions: Vec<RequestView>,
}

/// `GET /v1/requests/{id}/history`
#[utoipa::path(get, path = "/v1/requests/{id}/history", tag = "workflow",
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "Every version of the request, oldest first", body = crate::openapi::doc::RequestHistory),
        (status = "4XX", description = "No such request, or not one the user may see", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = [])))]
pub(crate) async fn history(State(s): S, Caller(who): Caller, P(p): P<IdPath>) -> Result<Response> {
    let state = s.clone();
    let versions = blocking(move || Ok(state.workflow()?.request_history(&who, &p.id)?)).await?;
    json(StatusCode::OK, &RequestHistory { versions })
}

/// `POST /v1/requests/{id}/reviews`
#[utoipa::path(post, path = "/v1/requests/{id}/reviews", tag = "workflow",
    params(
        ("id" = String, Path, description = "The request's id"),
        ("If-Match" = Option<String>, Header, description = "The request's version the reviewer saw (its ETag)"),
    ),
    request_body(content = crate::openapi::doc::ReviewInput, description = "Approve or refuse, with a reason"),
    responses(
        (status = 200, description = "The request after the review: approved once every needed authority has approved (consent records are then on the register), refused on a refusal", body = crate::openapi::doc::RequestView,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of a needed authority, or a review of one's own party's request", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request is not pending, or was reviewed by this user already, or changed meanwhile", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The request is not at the version `If-Match` names", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "No such request, or a bad review", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn review(
    State(s): S,
    Token(who): Token,
    P(p): P<IdPath>,
    headers: HeaderMap,
    JsonBody(mut input): JsonBody<ReviewInput>,
) -> Result<Response> {
    input.expect_version = version_of(&headers, input.expect_version)?;
    let versioned = input.expect_version.is_some();
    let state = s.clone();
    let view = blocking(move || {
        let view = state
            .workflow()?
            .review(&who, &p.id, &input)
            .map_err(|e| stale_as_412(e, versioned))?;
        // An approval or a refusal wrote consent records to the register.
        if !view.consents.is_empty() {
            state.refresh()?;
        }
        Ok(view)
    })
    .await?;
    Ok(with_etag(json(StatusCode::OK, &view)?, view.version))
}

/// `POST /v1/requests/{id}/withdraw`
#[utoipa::path(post, path = "/v1/requests/{id}/withdraw", tag = "workflow",
    params(
        ("id" = String, Path, description = "The request's id"),
        ("If-Match" = Option<String>, Header, description = "The request's version the requester saw (its ETag)"),
    ),
    request_body(content = crate::openapi::doc::WithdrawInput, description = "Why (optional)"),
    responses(
        (status = 200, description = "The request, withdrawn", body = crate::openapi::doc::RequestView,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the requester's", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request is not pending, or changed meanwhile", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The request is not at the version `If-Match` names", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "No such request", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn withdraw(
    State(s): S,
    Token(who): Token,
    P(p): P<IdPath>,
    headers: HeaderMap,
    JsonBody(mut input): JsonBody<WithdrawInput>,
) -> Result<Response> {
    input.expect_version = version_of(&headers, input.expect_version)?;
    let versioned = input.expect_version.is_some();
    let state = s.clone();
    let view = blocking(move || {
        state
            .workflow()?
            .withdraw(&who, &p.id, &input)
            .map_err(|e| stale_as_412(e, versioned))
    })
    .await?;
    Ok(with_etag(json(StatusCode::OK, &view)?, view.version))
}

// ----- the audit log -----

/// `GET /v1/audit/checkpoint`
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "The latest signed checkpoint (a C2SP signed note): JSON, or with `Accept: text/plain` the note itself",
            content(
                (crate::openapi::doc::CheckpointReport = "application/json"),
                (String = "text/plain"),
            )),
        (status = "4XX", description = "No database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn checkpoint(State(s): S, _r: Reader, headers: HeaderMap) -> Result<Response> {
    let state = s.clone();
    let cp = blocking(move || Ok(state.workflow()?.audit().checkpoint()?)).await?;
    let text = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/plain") && !a.contains("application/json"));
    if text {
        let mut r = (StatusCode::OK, cp.note).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return Ok(r);
    }
    json(StatusCode::OK, &cp)
}

/// An entry's index.
#[derive(Debug, Deserialize)]
pub(crate) struct IndexPath {
    index: u64,
}

/// `GET /v1/audit/entries/{index}`
#[utoipa::path(get, path = "/v1/audit/entries/{index}", tag = "audit",
    params(("index" = u64, Path, description = "The entry's index, from 0")),
    responses(
        (status = 200, description = "One entry of the log", body = crate::openapi::doc::EntryReport),
        (status = "4XX", description = "No such entry, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn entry(State(s): S, _r: Reader, P(p): P<IndexPath>) -> Result<Response> {
    let state = s.clone();
    let e = blocking(move || Ok(state.workflow()?.audit().entry(p.index)?)).await?;
    json(StatusCode::OK, &e)
}

/// `?from=&limit=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntriesParams {
    #[serde(default)]
    from: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
}

/// A page of the log.
#[derive(Debug, Serialize)]
pub struct EntryList {
    /// The entries, by index.
    pub entries: Vec<enduse::EntryReport>,
}

/// `GET /v1/audit/entries`
#[utoipa::path(get, path = "/v1/audit/entries", tag = "audit",
    params(crate::openapi::doc::EntriesParams),
    responses(
        (status = 200, description = "Up to `limit` entries (at most 1000) from `from` on", body = crate::openapi::doc::EntryList),
        (status = "4XX", description = "No database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn entries(State(s): S, _r: Reader, Q(p): Q<EntriesParams>) -> Result<Response> {
    let state = s.clone();
    let from = p.from.unwrap_or(0);
    let limit = p.limit.unwrap_or(100).min(MAX_ENTRIES);
    let entries = blocking(move || Ok(state.workflow()?.audit().entries(from, limit)?)).await?;
    json(StatusCode::OK, &EntryList { entries })
}

/// `?index=&size=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionParams {
    index: u64,
    #[serde(default)]
    size: Option<u64>,
}

/// `GET /v1/audit/proofs/inclusion`
#[utoipa::path(get, path = "/v1/audit/proofs/inclusion", tag = "audit",
    params(crate::openapi::doc::InclusionParams),
    responses(
        (status = 200, description = "The inclusion proof of an entry in the tree of a size (default: the latest checkpoint's), with that size's signed checkpoint", body = crate::openapi::doc::InclusionReport),
        (status = "4XX", description = "An index or size out of range, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn inclusion(
    State(s): S,
    _r: Reader,
    Q(p): Q<InclusionParams>,
) -> Result<Response> {
    let state = s.clone();
    let proof =
        blocking(move || Ok(state.workflow()?.audit().inclusion_proof(p.index, p.size)?)).await?;
    json(StatusCode::OK, &proof)
}

/// `?old=&new=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyParams {
    old: u64,
    #[serde(default)]
    new: Option<u64>,
}

/// `GET /v1/audit/proofs/consistency`
#[utoipa::path(get, path = "/v1/audit/proofs/consistency", tag = "audit",
    params(crate::openapi::doc::ConsistencyParams),
    responses(
        (status = 200, description = "The consistency proof between two sizes of the log (new: default the latest checkpoint's)", body = crate::openapi::doc::ConsistencyReport),
        (status = "4XX", description = "Sizes out of range, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn consistency(
    State(s): S,
    _r: Reader,
    Q(p): Q<ConsistencyParams>,
) -> Result<Response> {
    let state = s.clone();
    let proof =
        blocking(move || Ok(state.workflow()?.audit().consistency_proof(p.old, p.new)?)).await?;
    json(StatusCode::OK, &proof)
}
