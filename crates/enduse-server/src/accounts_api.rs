//! The routes of users, tokens and quorums: the operations of the CLI's
//! `enduse user`, `enduse token` and `enduse quorum`, over the same
//! [`enduse::Workflow`] methods. Each needs a token and whatever the API's
//! Cedar policies allow for `manage` (admins); every change is written
//! with its audit-log event by the library, as the CLI's are. An admin may
//! not lock itself out (disable itself, drop its own right to manage,
//! revoke its last token): the library refuses it with 403.

use crate::api::{blocking, json, pct, Token, S};
use crate::error::{Result, ServerError};
use crate::extract::{stale_as_412, stated_version, with_etag, JsonBody, P, Q};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use enduse::{Delegation, IssuedToken, NewUser, TokenInfo, User, UserRole};
use serde::{Deserialize, Serialize};

fn version_of(h: &HeaderMap, body: Option<i64>) -> Result<Option<i64>> {
    stated_version(
        h,
        body,
        (
            "`If-None-Match: *` means a new user; this one is changed in place",
            "send `If-Match` with the user's version (its ETag); POST /v1/users adds a user",
        ),
    )
}

// ----- users -----

/// The users.
#[derive(Debug, Serialize)]
pub struct UserList {
    /// By id.
    pub users: Vec<User>,
}

/// Every version of a user.
#[derive(Debug, Serialize)]
pub struct UserHistory {
    /// Oldest first.
    pub versions: Vec<User>,
}

/// A user's id in the path.
#[derive(Debug, Deserialize)]
pub(crate) struct UserPath {
    id: String,
}

/// `GET /v1/users`
#[utoipa::path(get, path = "/v1/users", tag = "accounts",
    responses(
        (status = 200, description = "Every user, by id", body = crate::openapi::doc::UserList),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage users (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "No database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn users(State(s): S, Token(who): Token) -> Result<Response> {
    let state = s.clone();
    let users = blocking(move || {
        let mut wf = state.workflow()?;
        wf.authorize_manage(&who)?;
        Ok(wf.users()?)
    })
    .await?;
    json(StatusCode::OK, &UserList { users })
}

/// `POST /v1/users`
#[utoipa::path(post, path = "/v1/users", tag = "accounts",
    request_body(content = crate::openapi::doc::NewUser, description = "The user: id, roles, party, authorities"),
    responses(
        (status = 201, description = "The user, added", body = crate::openapi::doc::User,
            headers(("ETag" = String, description = "Its version"), ("Location" = String, description = "The user"))),
        (status = 400, description = "A bad id, no role, a requester without a party, an unknown party or authority", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage users (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user with this id exists", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A body that does not fit the schema (the field is named)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "Another bad request, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn add_user(
    State(s): S,
    Token(who): Token,
    JsonBody(input): JsonBody<NewUser>,
) -> Result<Response> {
    let state = s.clone();
    let user = blocking(move || Ok(state.workflow()?.add_user(&who, &input)?)).await?;
    let mut r = with_etag(json(StatusCode::CREATED, &user)?, user.version);
    if let Ok(l) = HeaderValue::from_str(&format!("/v1/users/{}", pct(&user.id))) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(r)
}

/// `GET /v1/users/{id}`
#[utoipa::path(get, path = "/v1/users/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user as stored now", body = crate::openapi::doc::User,
            headers(("ETag" = String, description = "Its version, for If-Match"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage users (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "No database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn user(State(s): S, Token(who): Token, P(p): P<UserPath>) -> Result<Response> {
    let state = s.clone();
    let user = blocking(move || {
        let mut wf = state.workflow()?;
        wf.authorize_manage(&who)?;
        Ok(wf.user(&p.id)?)
    })
    .await?;
    Ok(with_etag(json(StatusCode::OK, &user)?, user.version))
}

/// The new content of a user (its id is the path's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserUpdate {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    party: Option<String>,
    roles: Vec<UserRole>,
    #[serde(default)]
    authorities: Vec<Delegation>,
    #[serde(default)]
    expect_version: Option<i64>,
}

/// `PUT /v1/users/{id}`
#[utoipa::path(put, path = "/v1/users/{id}", tag = "accounts",
    params(
        ("id" = String, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The user's version the admin saw (its ETag); required unless the body gives `expect_version`"),
    ),
    request_body(content = crate::openapi::doc::UserUpdate, description = "The user's new name, party, roles and authorities (whether it is disabled is kept)"),
    responses(
        (status = 200, description = "The user, changed", body = crate::openapi::doc::User,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 400, description = "No role, a requester without a party, an unknown party or authority", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage users (admins may), or would take away its own right to", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user is not at the version `If-Match` names", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A body that does not fit the schema (the field is named)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 428, description = "No version: neither `If-Match` nor `expect_version`", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "Another bad request, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn update_user(
    State(s): S,
    Token(who): Token,
    P(p): P<UserPath>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<UserUpdate>,
) -> Result<Response> {
    let Some(version) = version_of(&headers, input.expect_version)? else {
        return Err(ServerError::http(
            StatusCode::PRECONDITION_REQUIRED,
            "enduse::server::precondition_required",
            "a change of a user needs the version it is at",
            Some("read the user (GET /v1/users/ID), then send its ETag in `If-Match`".to_owned()),
        ));
    };
    let new = NewUser {
        id: p.id,
        name: input.name,
        party: input.party,
        roles: input.roles,
        authorities: input.authorities,
    };
    let state = s.clone();
    let user = blocking(move || {
        state
            .workflow()?
            .update_user(&who, &new, version)
            .map_err(|e| stale_as_412(e, true))
    })
    .await?;
    Ok(with_etag(json(StatusCode::OK, &user)?, user.version))
}

async fn set_disabled(
    s: &S,
    who: enduse::Principal,
    id: String,
    headers: &HeaderMap,
    disabled: bool,
) -> Result<Response> {
    let version = version_of(headers, None)?;
    let state = s.0.clone();
    let user = blocking(move || {
        state
            .workflow()?
            .set_disabled(&who, &id, disabled, version)
            .map_err(|e| stale_as_412(e, version.is_some()))
    })
    .await?;
    Ok(with_etag(json(StatusCode::OK, &user)?, user.version))
}

/// `POST /v1/users/{id}/disable`
#[utoipa::path(post, path = "/v1/users/{id}/disable", tag = "accounts",
    params(
        ("id" = String, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The user's version the admin saw (its ETag)"),
    ),
    responses(
        (status = 200, description = "The user, disabled: its tokens are refused until it is enabled", body = crate::openapi::doc::User,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage users (admins may), or would disable itself", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user changed meanwhile", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user is not at the version `If-Match` names", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "A bad precondition, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn disable_user(
    s: S,
    Token(who): Token,
    P(p): P<UserPath>,
    headers: HeaderMap,
) -> Result<Response> {
    set_disabled(&s, who, p.id, &headers, true).await
}

/// `POST /v1/users/{id}/enable`
#[utoipa::path(post, path = "/v1/users/{id}/enable", tag = "accounts",
    params(
        ("id" = String, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The user's version the admin saw (its ETag)"),
    ),
    responses(
        (status = 200, description = "The user, enabled again", body = crate::openapi::doc::User,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage users (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user changed meanwhile", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user is not at the version `If-Match` names", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "A bad precondition, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn enable_user(
    s: S,
    Token(who): Token,
    P(p): P<UserPath>,
    headers: HeaderMap,
) -> Result<Response> {
    set_disabled(&s, who, p.id, &headers, false).await
}

/// `GET /v1/users/{id}/history`
#[utoipa::path(get, path = "/v1/users/{id}/history", tag = "accounts",
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Every version of the user, oldest first", body = crate::openapi::doc::UserHistory),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage users (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "No database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn user_history(
    State(s): S,
    Token(who): Token,
    P(p): P<UserPath>,
) -> Result<Response> {
    let state = s.clone();
    let versions = blocking(move || Ok(state.workflow()?.user_history(&who, &p.id)?)).await?;
    json(StatusCode::OK, &UserHistory { versions })
}

// ----- tokens -----

/// The tokens, without their secrets.
#[derive(Debug, Serialize)]
pub struct TokenList {
    /// By user, then by creation.
    pub tokens: Vec<TokenInfo>,
}

/// `?user=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    user: Option<String>,
}

/// `GET /v1/tokens`
#[utoipa::path(get, path = "/v1/tokens", tag = "accounts",
    params(crate::openapi::doc::TokenQueryParams),
    responses(
        (status = 200, description = "The tokens (of one user, or all), without their secrets", body = crate::openapi::doc::TokenList),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage tokens (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "A bad filter, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn tokens(
    State(s): S,
    Token(who): Token,
    Q(q): Q<TokenQuery>,
) -> Result<Response> {
    let state = s.clone();
    let tokens = blocking(move || Ok(state.workflow()?.tokens(&who, q.user.as_deref())?)).await?;
    json(StatusCode::OK, &TokenList { tokens })
}

/// A token to create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenInput {
    user: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

/// `POST /v1/tokens`
#[utoipa::path(post, path = "/v1/tokens", tag = "accounts",
    request_body(content = crate::openapi::doc::TokenInput, description = "Whose token, until when, with which label"),
    responses(
        (status = 201, description = "The token: its secret is in this answer only (only its SHA-256 is stored)", body = crate::openapi::doc::IssuedToken,
            headers(("Cache-Control" = String, description = "`no-store`: the secret is not to be kept by caches"))),
        (status = 400, description = "An expiry that is not a day or an instant, or not in the future", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage tokens (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A body that does not fit the schema (the field is named)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "Another bad request, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_token(
    State(s): S,
    Token(who): Token,
    JsonBody(input): JsonBody<TokenInput>,
) -> Result<Response> {
    let expires = input
        .expires
        .as_deref()
        .map(enduse::parse_expiry)
        .transpose()?;
    let state = s.clone();
    let issued: IssuedToken = blocking(move || {
        Ok(state
            .workflow()?
            .create_token(&who, &input.user, expires, input.label.as_deref())?)
    })
    .await?;
    let mut r = json(StatusCode::CREATED, &issued)?;
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// A token's id in the path.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenPath {
    id: String,
}

/// `DELETE /v1/tokens/{id}`
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The token's id (12 hexadecimal digits, as listed)")),
    responses(
        (status = 200, description = "The token, revoked (revoking a revoked token changes nothing)", body = crate::openapi::doc::TokenInfo),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage tokens (admins may), or would revoke its own last active token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The token changed meanwhile", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "No database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn revoke_token(
    State(s): S,
    Token(who): Token,
    P(p): P<TokenPath>,
) -> Result<Response> {
    let state = s.clone();
    let info = blocking(move || Ok(state.workflow()?.revoke_token(&who, &p.id)?)).await?;
    json(StatusCode::OK, &info)
}

// ----- quorums -----

/// An authority in the path.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthorityPath {
    authority: String,
}

/// `GET /v1/quorums/{authority}`
#[utoipa::path(get, path = "/v1/quorums/{authority}", tag = "accounts",
    params(("authority" = String, Path, description = "The authority (`US:SecDef`)")),
    responses(
        (status = 200, description = "How many of its members must approve (1 unless set)", body = crate::openapi::doc::Quorum),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage quorums (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "An unknown authority, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn quorum(
    State(s): S,
    Token(who): Token,
    P(p): P<AuthorityPath>,
) -> Result<Response> {
    let state = s.clone();
    let q = blocking(move || Ok(state.workflow()?.quorum_of(&who, &p.authority)?)).await?;
    json(StatusCode::OK, &q)
}

/// A quorum to set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuorumInput {
    approvals: u32,
}

/// `PUT /v1/quorums/{authority}`
#[utoipa::path(put, path = "/v1/quorums/{authority}", tag = "accounts",
    params(("authority" = String, Path, description = "The authority (`US:SecDef`)")),
    request_body(content = crate::openapi::doc::QuorumInput, description = "How many of its members must approve requests filed from now on"),
    responses(
        (status = 200, description = "The quorum, set (pending requests keep the one they were filed with)", body = crate::openapi::doc::Quorum),
        (status = 400, description = "A quorum that is not 1 to 100", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The user may not manage quorums (admins may)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another admin set it meanwhile", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A body that does not fit the schema (the field is named)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "An unknown authority, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn set_quorum(
    State(s): S,
    Token(who): Token,
    P(p): P<AuthorityPath>,
    JsonBody(input): JsonBody<QuorumInput>,
) -> Result<Response> {
    let state = s.clone();
    let q = blocking(move || {
        let mut wf = state.workflow()?;
        wf.set_quorum(&who, &p.authority, input.approvals)?;
        Ok(wf.quorum_of(&who, &p.authority)?)
    })
    .await?;
    json(StatusCode::OK, &q)
}
