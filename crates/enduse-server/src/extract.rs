//! Extractors whose refusals are problem documents: a JSON body
//! ([`JsonBody`]), a query string ([`Q`]), path parameters ([`P`]), and the
//! version preconditions of a write (`If-Match`, `If-None-Match`).

use crate::error::ServerError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON body of type `T`. Unknown fields, wrong types and missing fields
/// are refused with 422, text that is not JSON with 400, a body over the
/// route's limit with 413.
///
/// The body is read as JSON whatever the `Content-Type`, unless it names
/// another structured type (`multipart/...`, `application/xml`): `curl -d`
/// sends `application/x-www-form-urlencoded`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_content_type(req.headers())?;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_error(e.status(), &e.body_text()))?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn check_content_type(h: &HeaderMap) -> Result<(), ServerError> {
    let Some(ct) = h.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let ok = essence.is_empty()
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "text/plain"
        || essence == "application/x-www-form-urlencoded";
    if ok {
        Ok(())
    } else {
        Err(ServerError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "enduse::server::media_type",
            format!(
                "the body is `{}`; this endpoint reads JSON",
                enduse::cut(essence)
            ),
            Some("send `Content-Type: application/json`".to_owned()),
        ))
    }
}

fn body_error(status: StatusCode, text: &str) -> ServerError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ServerError::http(
            status,
            "enduse::server::body_too_large",
            "the body is larger than this endpoint takes",
            Some(
                "bodies are limited to 1 MiB, 16 MiB for a batch of decisions and for an import"
                    .to_owned(),
            ),
        )
    } else {
        ServerError::http(
            status,
            "enduse::server::body",
            format!("the body could not be read: {}", text.to_lowercase()),
            None,
        )
    }
}

/// Parses `bytes` as JSON into `T`, naming the path of a field that does
/// not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServerError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    if v.is_ok() {
        if let Err(e) = de.end() {
            return Err(ServerError::http(
                StatusCode::BAD_REQUEST,
                "enduse::server::malformed_json",
                format!("the body is not JSON: {}", enduse::cut(&e.to_string())),
                Some("send one JSON value".to_owned()),
            ));
        }
    }
    v.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = enduse::cut(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => ServerError::http(
                StatusCode::UNPROCESSABLE_ENTITY,
                "enduse::server::invalid_body",
                if path.is_empty() || path == "." {
                    format!("the body does not fit: {msg}")
                } else {
                    format!("the body does not fit at `{path}`: {msg}")
                },
                Some("see the request's schema in /openapi.json".to_owned()),
            ),
            _ => ServerError::http(
                StatusCode::BAD_REQUEST,
                "enduse::server::malformed_json",
                format!("the body is not JSON: {msg}"),
                Some("send one JSON value".to_owned()),
            ),
        }
    })
}

/// A query string read into `T`; a field it does not know, or a value of
/// the wrong type, is refused with 400.
#[derive(Debug, Clone)]
pub struct Q<T>(pub T);

impl<T, S> FromRequestParts<S> for Q<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Q(q.0))
            .map_err(|e| {
                let text = e.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ServerError::bad_request(
                    "enduse::server::bad_query",
                    format!("the query string does not fit: {}", enduse::cut(text)),
                    "see the endpoint's parameters in /openapi.json",
                )
            })
    }
}

/// Path parameters read into `T`.
#[derive(Debug, Clone)]
pub struct P<T>(pub T);

impl<T, S> FromRequestParts<S> for P<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| P(p.0))
            .map_err(|e| {
                ServerError::bad_request(
                    "enduse::server::bad_path",
                    format!(
                        "the path does not fit: {}",
                        enduse::cut(&e.body_text().to_lowercase())
                    ),
                    "",
                )
            })
    }
}

/// The version a write expects, from `If-Match: "N"` (the record is at
/// version N) or `If-None-Match: *` (there is no such record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No precondition.
    None,
    /// The record must be at this version (0: must not exist).
    Version(i64),
}

impl Precondition {
    /// The version for the library (`expect_version`).
    pub fn version(self) -> Option<i64> {
        match self {
            Precondition::None => None,
            Precondition::Version(v) => Some(v),
        }
    }
}

/// Reads `If-Match` and `If-None-Match`.
pub fn precondition(h: &HeaderMap) -> Result<Precondition, ServerError> {
    let bad = |what: &str, v: &str| {
        ServerError::bad_request(
            "enduse::server::bad_precondition",
            format!("`{what}: {}` is not a version", enduse::cut(v)),
            "send `If-Match: \"N\"` with the version the record is at (its ETag), or `If-None-Match: *` to add a new record",
        )
    };
    let im = h.get(header::IF_MATCH);
    let inm = h.get(header::IF_NONE_MATCH);
    match (im, inm) {
        (Some(_), Some(_)) => Err(ServerError::bad_request(
            "enduse::server::bad_precondition",
            "give `If-Match` or `If-None-Match`, not both",
            "",
        )),
        (Some(v), None) => {
            let s = v.to_str().map_err(|_| bad("If-Match", "(not text)"))?;
            let t = s.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            let t = t.trim_matches('"');
            match t.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(Precondition::Version(n)),
                _ => Err(bad("If-Match", s)),
            }
        }
        (None, Some(v)) => {
            let s = v.to_str().map_err(|_| bad("If-None-Match", "(not text)"))?;
            if s.trim() == "*" {
                Ok(Precondition::Version(0))
            } else {
                Err(bad("If-None-Match", s))
            }
        }
        (None, None) => Ok(Precondition::None),
    }
}

/// The ETag of version `n`.
pub fn etag(n: i64) -> String {
    format!("\"{n}\"")
}

/// `r` with the ETag of `version`.
pub(crate) fn with_etag(mut r: axum::response::Response, version: i64) -> axum::response::Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(&etag(version)) {
        r.headers_mut().insert(axum::http::header::ETAG, v);
    }
    r
}

/// A conflict under `If-Match` (or a stated version) is 412: the client
/// named a version that is stale; any other conflict stays 409.
pub(crate) fn stale_as_412(e: enduse::Error, versioned: bool) -> crate::error::ServerError {
    if versioned && e.code() == "enduse::store::conflict" {
        crate::error::ServerError::PreconditionFailed(e)
    } else {
        crate::error::ServerError::Enduse(e)
    }
}

/// The version an `If-Match` header states, or the body's; `If-None-Match:
/// *` is refused with `exists` (message, help) for a record that exists.
pub(crate) fn stated_version(
    h: &axum::http::HeaderMap,
    body: Option<i64>,
    exists: (&'static str, &'static str),
) -> crate::error::Result<Option<i64>> {
    use crate::error::ServerError;
    match precondition(h)? {
        Precondition::None => Ok(body),
        Precondition::Version(0) => Err(ServerError::bad_request(
            "enduse::server::bad_precondition",
            exists.0,
            exists.1,
        )),
        Precondition::Version(v) => match body {
            Some(b) if b != v => Err(ServerError::bad_request(
                "enduse::server::bad_precondition",
                format!("`If-Match` says version {v}, the body {b}"),
                "give the version once",
            )),
            _ => Ok(Some(v)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn preconditions_are_read() {
        let mut h = HeaderMap::new();
        assert_eq!(precondition(&h).unwrap(), Precondition::None);
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"3\""));
        assert_eq!(precondition(&h).unwrap(), Precondition::Version(3));
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert!(precondition(&h).is_err());
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert_eq!(precondition(&h).unwrap(), Precondition::Version(0));
    }

    #[test]
    fn json_errors_are_classified() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct A {
            a: i64,
        }
        let e = parse_json::<A>(b"{").unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e = parse_json::<A>(br#"{"a": "x"}"#).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.to_string().contains("`a`"), "{e}");
        let e = parse_json::<A>(br#"{"a": 1} x"#).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
