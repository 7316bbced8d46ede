//! [`ServerError`]: every failure of the server, and the one place where a
//! failure becomes an HTTP answer, a problem document (RFC 9457,
//! `application/problem+json`) carrying the library's stable code.
//!
//! What a problem shows is what the library says to a user: the message and
//! the help, with the input in backticks, and the located problems of an
//! invalid data set. Faults of enduse itself and failures of the database
//! are logged to standard error and answered with a fixed sentence: a
//! response never shows a path, a connection string or an internal message.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use enduse::ErrorKind;
use serde::Serialize;

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Every failure of the server: at start (a port that cannot be bound, a
/// database that cannot be opened) and while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A failure of the library: a bad request, an unknown record, a
    /// conflict, an invalid data set, a database that cannot be read.
    #[error(transparent)]
    Enduse(#[from] enduse::Error),
    /// A stale `If-Match` (or an `If-None-Match: *` on a record that
    /// exists): the library's conflict, answered 412.
    #[error("{0}")]
    PreconditionFailed(enduse::Error),
    /// A request the server itself refuses before the library sees it: a
    /// body that is not JSON or does not fit, a missing token, a route that
    /// does not exist.
    #[error("{message}")]
    Http {
        /// The HTTP status.
        status: StatusCode,
        /// Stable code, `enduse::server::...`.
        code: &'static str,
        /// Lowercase, the input in backticks.
        message: String,
        /// How to fix it.
        help: Option<String>,
    },
    /// The address cannot be bound, or the server failed while running.
    #[error("cannot serve on `{addr}`: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        message: String,
    },
    /// A problem document already written (its text edited for a client).
    #[error("{}", .0.detail)]
    Shown(Box<Problem>),
    /// A fault of the server itself (a task that could not finish).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServerError {
    /// A refusal of the server's own, with a status and a stable code.
    pub fn http(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        help: impl Into<Option<String>>,
    ) -> Self {
        ServerError::Http {
            status,
            code,
            message: message.into(),
            help: help.into(),
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>, help: &str) -> Self {
        Self::http(
            StatusCode::BAD_REQUEST,
            code,
            message,
            (!help.is_empty()).then(|| help.to_owned()),
        )
    }

    /// 401: no token, or one that is not valid.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::http(
            StatusCode::UNAUTHORIZED,
            "enduse::server::unauthorized",
            message,
            Some("send `Authorization: Bearer TOKEN` with a token of a user of this server".into()),
        )
    }

    /// 403: a valid token whose user may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::http(
            StatusCode::FORBIDDEN,
            "enduse::server::forbidden",
            message,
            None,
        )
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::Enduse(e) => status_of(e.kind()),
            ServerError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ServerError::Http { status, .. } => *status,
            ServerError::Shown(p) => {
                StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ServerError::Listen { .. } | ServerError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable code, `enduse::...`.
    pub fn code(&self) -> String {
        match self {
            ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => e.code(),
            ServerError::Http { code, .. } => (*code).to_owned(),
            ServerError::Shown(p) => p.code.clone(),
            ServerError::Listen { .. } => "enduse::server::listen".into(),
            ServerError::Internal(_) => "enduse::internal".into(),
        }
    }

    /// The problem document of this error, as a client sees it: internals
    /// are replaced by a fixed sentence (and should be logged by the
    /// caller, see [`ServerError::is_internal`]).
    pub fn problem(&self) -> Problem {
        if let ServerError::Shown(p) = self {
            return (**p).clone();
        }
        let status = self.status();
        let code = self.code();
        let (kind, detail, help, problems) = match self {
            ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => {
                let r = e.report();
                (
                    r.kind.as_str().to_owned(),
                    r.message,
                    r.help,
                    serde_json::to_value(&r.problems)
                        .ok()
                        .and_then(|v| v.as_array().cloned())
                        .unwrap_or_default(),
                )
            }
            ServerError::Http { message, help, .. } => (
                kind_of_status(status).to_owned(),
                message.clone(),
                help.clone(),
                Vec::new(),
            ),
            ServerError::Shown(_) | ServerError::Listen { .. } | ServerError::Internal(_) => {
                ("internal".to_owned(), String::new(), None, Vec::new())
            }
        };
        let (detail, help, problems) = if self.is_internal() {
            (
                match kind.as_str() {
                    "io" => "the register's database could not be read or written; nothing was changed by this request".to_owned(),
                    _ => "internal error: the server could not answer this request".to_owned(),
                },
                Some(match kind.as_str() {
                    "io" => "try again later; the server's log says what failed".to_owned(),
                    _ => "this is a fault of enduse, not of the input: please report it with the time of the request".to_owned(),
                }),
                Vec::new(),
            )
        } else {
            (detail, help, problems)
        };
        Problem {
            r#type: type_uri(&code),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code,
            kind,
            help,
            problems,
        }
    }

    /// Whether the error is a fault of enduse or of its database, whose
    /// message a client must not see.
    pub fn is_internal(&self) -> bool {
        match self {
            ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => {
                matches!(e.kind(), ErrorKind::Internal | ErrorKind::Io)
            }
            ServerError::Http { status, .. } => {
                status.is_server_error() && *status != StatusCode::SERVICE_UNAVAILABLE
            }
            ServerError::Shown(_) => false,
            ServerError::Listen { .. } | ServerError::Internal(_) => true,
        }
    }
}

/// The HTTP status of a library error's kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Io => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
    }
}

fn kind_of_status(s: StatusCode) -> &'static str {
    match s {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "not_found",
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => "conflict",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        s if s.is_server_error() => "unavailable",
        _ => "bad_request",
    }
}

/// `enduse::store::conflict` is `urn:enduse:problem:store:conflict`.
fn type_uri(code: &str) -> String {
    let rest = code.strip_prefix("enduse::").unwrap_or(code);
    format!("urn:enduse:problem:{}", rest.replace("::", ":"))
}

/// A problem document (RFC 9457) with the library's members.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Problem {
    /// `urn:enduse:problem:...`, one per stable code.
    pub r#type: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, the input in backticks.
    pub detail: String,
    /// The stable code, `enduse::...`.
    pub code: String,
    /// `not_found`, `bad_request`, `conflict`, `unauthorized`, `forbidden`,
    /// `internal`, `io` or `unavailable`.
    pub kind: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Every located problem of an invalid data set or record.
    pub problems: Vec<serde_json::Value>,
}

impl miette::Diagnostic for ServerError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(ServerError::code(self)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        match self {
            ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => {
                miette::Diagnostic::help(e)
            }
            ServerError::Http { help, .. } => help
                .as_ref()
                .map(|h| Box::new(h) as Box<dyn std::fmt::Display>),
            ServerError::Shown(p) => p
                .help
                .as_ref()
                .map(|h| Box::new(h) as Box<dyn std::fmt::Display>),
            ServerError::Listen { .. } => Some(Box::new(
                "give another address with --listen, or stop the program that holds this one",
            )),
            ServerError::Internal(_) => Some(Box::new(
                "this is a fault of enduse, not of the input: please report it",
            )),
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        match self {
            ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => {
                miette::Diagnostic::related(e)
            }
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match self {
            ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => {
                miette::Diagnostic::source_code(e)
            }
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        match self {
            ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => {
                miette::Diagnostic::labels(e)
            }
            _ => None,
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        if self.is_internal() {
            eprintln!("enduse-server: {}: {self}", self.code());
        }
        problem_response(self.status(), &self.problem())
    }
}

/// A problem document as a response.
pub(crate) fn problem_response(status: StatusCode, p: &Problem) -> Response {
    let body = serde_json::to_vec(p).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    r
}

/// `Result` with [`ServerError`].
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internals_are_not_shown() {
        let e = ServerError::from(enduse::Error::internal("secret path /srv/x"));
        let p = e.problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("/srv/x"), "{p:?}");
        assert_eq!(p.code, "enduse::internal");
        assert_eq!(p.r#type, "urn:enduse:problem:internal");
    }

    #[test]
    fn kinds_map_to_statuses() {
        let e = ServerError::from(enduse::Error::bad_request("enduse::usage", "x", ""));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e = ServerError::from(enduse::Error::conflict("enduse::exists", "x", ""));
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let e = ServerError::PreconditionFailed(enduse::Error::conflict(
            "enduse::store::conflict",
            "x",
            "",
        ));
        assert_eq!(e.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(e.problem().code, "enduse::store::conflict");
    }
}
