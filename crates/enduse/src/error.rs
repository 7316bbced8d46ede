//! One error type for every front end: a stable code, a kind (which an HTTP
//! front end maps to a status), a lowercase message with the input in
//! backticks, a help line, and the located problems of a data set.

use enduse_core::RequestError;
use enduse_geo::GeoError;
use enduse_load::{DataSetError, FileProblem};
use enduse_store::StoreError;
use serde::Serialize;
use std::fmt::Display;

/// What kind of failure an error is; a front end maps it to its own terms
/// (the CLI exits 1 on each; an HTTP server answers 404, 400, 409, 500 or
/// 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Something named does not exist: a record, a database, a register at
    /// an instant.
    NotFound,
    /// The input is wrong: an unknown party, a bad date, an invalid data set.
    BadRequest,
    /// The input contradicts the stored state: a stale version, a record
    /// that exists, an import that would retract records.
    Conflict,
    /// A fault of enduse itself, never of the input.
    Internal,
    /// A file or a database could not be read or written.
    Io,
    /// The caller is not known: no token, or a token that is unknown,
    /// expired or revoked (HTTP 401).
    Unauthorized,
    /// The caller is known but may not do this (HTTP 403).
    Forbidden,
}

impl ErrorKind {
    /// `not_found`, `bad_request`, `conflict`, `internal`, `io`,
    /// `unauthorized` or `forbidden`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Internal => "internal",
            ErrorKind::Io => "io",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong between a front end and the engine or the
/// store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request the engine cannot answer (an unknown party, a bad date).
    #[error(transparent)]
    Request(RequestError),
    /// A data set that could not be read or is invalid, with every problem.
    #[error(transparent)]
    DataSet(DataSetError),
    /// Bad coordinates.
    #[error(transparent)]
    Geo(GeoError),
    /// A database problem, a conflict included.
    #[error(transparent)]
    Store(StoreError),
    /// An edit of a stored register (`put`, `retract`) that would leave it
    /// invalid, with every problem; nothing was written.
    #[error("{message}")]
    Edit {
        /// What the edit was, and how many problems it has.
        message: String,
        /// The problems, located in the input where they concern it.
        data: DataSetError,
    },
    /// Any other failure, with its stable code.
    #[error("{message}")]
    Other {
        /// Stable code, `enduse::...`.
        code: &'static str,
        /// The kind.
        kind: ErrorKind,
        /// Lowercase, the input in backticks.
        message: String,
        /// How to fix it.
        help: Option<String>,
    },
}

/// The longest input quoted whole in a message; longer values are cut.
pub const MAX_QUOTED: usize = 80;

/// `s`, or its beginning with the number of characters left out when it is
/// longer than [`MAX_QUOTED`], so that a pasted file or a runaway argument
/// cannot bury the message.
pub fn cut(s: &str) -> String {
    let n = s.chars().count();
    if n <= MAX_QUOTED {
        return s.to_owned();
    }
    let head: String = s.chars().take(MAX_QUOTED - 20).collect();
    format!("{head}... ({} more characters)", n - (MAX_QUOTED - 20))
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        use RequestError as R;
        // Long values are cut; the rest of each error is kept as it is.
        Error::Request(match e {
            R::UnknownParty { id, help } => R::UnknownParty { id: cut(&id), help },
            R::UnknownModel { id, help } => R::UnknownModel { id: cut(&id), help },
            R::UnknownLot { id, help } => R::UnknownLot { id: cut(&id), help },
            R::UnknownPlace { id, help } => R::UnknownPlace { id: cut(&id), help },
            R::UnknownAuthority { id, help } => R::UnknownAuthority { id: cut(&id), help },
            R::UnknownTerm { what, id, help } => R::UnknownTerm {
                what,
                id: cut(&id),
                help,
            },
            R::BadDate {
                field,
                value,
                reason,
                help,
            } => R::BadDate {
                field,
                value: cut(&value),
                reason,
                help,
            },
            other => other,
        })
    }
}

impl From<DataSetError> for Error {
    fn from(e: DataSetError) -> Self {
        Error::DataSet(e)
    }
}

impl From<GeoError> for Error {
    fn from(e: GeoError) -> Self {
        Error::Geo(match e {
            GeoError::Shape(s) => GeoError::Shape(cut(&s)),
            GeoError::NotFinite(s) => GeoError::NotFinite(cut(&s)),
            other => other,
        })
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::DataSet(d) => Error::DataSet(d),
            other => Error::Store(other),
        }
    }
}

impl Error {
    /// An error of `kind` with a stable `code`.
    pub fn new(
        code: &'static str,
        kind: ErrorKind,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        Error::Other {
            code,
            kind,
            message: message.into(),
            help,
        }
    }

    /// A bad input.
    pub fn bad_request(code: &'static str, message: impl Into<String>, help: &str) -> Self {
        Self::new(
            code,
            ErrorKind::BadRequest,
            message,
            (!help.is_empty()).then(|| help.to_owned()),
        )
    }

    /// Something named that does not exist.
    pub fn not_found(code: &'static str, message: impl Into<String>, help: &str) -> Self {
        Self::new(
            code,
            ErrorKind::NotFound,
            message,
            (!help.is_empty()).then(|| help.to_owned()),
        )
    }

    /// A conflict with the stored state.
    pub fn conflict(code: &'static str, message: impl Into<String>, help: &str) -> Self {
        Self::new(
            code,
            ErrorKind::Conflict,
            message,
            (!help.is_empty()).then(|| help.to_owned()),
        )
    }

    /// A fault of enduse itself.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            "enduse::internal",
            ErrorKind::Internal,
            format!("internal error: {}", message.into()),
            Some("this is a fault of enduse, not of the input: please report it".into()),
        )
    }

    /// A file that could not be read or written.
    pub fn io(what: &str, path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::new(
            "enduse::io",
            ErrorKind::Io,
            format!(
                "cannot {what} `{}`: {}",
                cut(&path.display().to_string()),
                e.to_string().to_lowercase()
            ),
            None,
        )
    }

    /// The stable code, `enduse::...`.
    pub fn code(&self) -> String {
        match self {
            Error::Request(e) => diag_code(e),
            Error::DataSet(e) => diag_code(e),
            Error::Geo(e) => diag_code(e),
            Error::Store(e) => diag_code(e),
            Error::Edit { .. } => "enduse::invalid_edit".to_owned(),
            Error::Other { code, .. } => (*code).to_owned(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Request(RequestError::Internal(_)) => ErrorKind::Internal,
            Error::Request(_) => ErrorKind::BadRequest,
            Error::DataSet(DataSetError::Io { .. }) => ErrorKind::Io,
            Error::DataSet(_) => ErrorKind::BadRequest,
            Error::Geo(GeoError::Data(_)) => ErrorKind::Internal,
            Error::Geo(_) => ErrorKind::BadRequest,
            Error::Store(e) => match e {
                StoreError::Conflict { .. } => ErrorKind::Conflict,
                StoreError::Database { .. } => ErrorKind::Io,
                StoreError::TooNew { .. } => ErrorKind::Internal,
                StoreError::NotARegister { .. } => ErrorKind::NotFound,
                StoreError::DataSet(DataSetError::Io { .. }) => ErrorKind::Io,
                StoreError::DataSet(_) | StoreError::Usage(_) => ErrorKind::BadRequest,
            },
            Error::Edit { .. } => ErrorKind::BadRequest,
            Error::Other { kind, .. } => *kind,
        }
    }

    /// The help line, if any.
    pub fn help_text(&self) -> Option<String> {
        miette::Diagnostic::help(self).map(|h| h.to_string())
    }

    /// The located problems of an invalid data set (empty otherwise).
    pub fn problems(&self) -> &[FileProblem] {
        match self {
            Error::DataSet(d)
            | Error::Store(StoreError::DataSet(d))
            | Error::Edit { data: d, .. } => d.problems(),
            _ => &[],
        }
    }

    /// The error as data: what `--json` prints and an HTTP body carries.
    pub fn report(&self) -> ErrorReport {
        ErrorReport {
            code: self.code(),
            kind: self.kind(),
            message: self.to_string(),
            help: self.help_text(),
            problems: self.problems().to_vec(),
        }
    }

    /// `{"error": {...}}`, see [`ErrorReport`].
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.report() })
    }

    /// The same error with another help line (for an inner error, the
    /// message and code are kept and the help replaced).
    pub fn with_help(self, help: impl Into<String>) -> Self {
        Error::Other {
            code: leak_code(&self.code()),
            kind: self.kind(),
            message: self.to_string(),
            help: Some(help.into()),
        }
    }
}

/// The codes an error can carry are few and fixed; interning them keeps
/// [`Error::Other`] cheap to build from an inner error.
fn leak_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "enduse::store::conflict",
        "enduse::store::database",
        "enduse::store::too_new",
        "enduse::store::not_a_register",
        "enduse::store::usage",
        "enduse::invalid_data_set",
        "enduse::io",
        "enduse::internal",
        "enduse::bad_date",
        "enduse::usage",
    ];
    KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("enduse::error")
}

fn diag_code(d: &dyn miette::Diagnostic) -> String {
    d.code()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "enduse::error".into())
}

/// An error as data.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    /// Stable code, `enduse::...`.
    pub code: String,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Every located problem of an invalid data set.
    pub problems: Vec<FileProblem>,
}

impl miette::Diagnostic for Error {
    fn code<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        Some(Box::new(Error::code(self)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        match self {
            Error::Request(e) => e.help(),
            Error::DataSet(e) => e.help(),
            Error::Geo(e) => e.help(),
            Error::Store(e) => e.help(),
            Error::Edit { .. } => Some(Box::new("fix every problem listed; nothing was written")),
            Error::Other { help, .. } => help.as_ref().map(|h| Box::new(h) as Box<dyn Display>),
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        match self {
            Error::DataSet(e) | Error::Edit { data: e, .. } => e.related(),
            Error::Store(e) => e.related(),
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match self {
            Error::DataSet(e) | Error::Edit { data: e, .. } => e.source_code(),
            Error::Store(e) => e.source_code(),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        match self {
            Error::DataSet(e) | Error::Edit { data: e, .. } => e.labels(),
            Error::Store(e) => e.labels(),
            _ => None,
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(500);
        let c = cut(&long);
        assert!(c.len() < 100, "{c}");
        assert!(c.ends_with("(440 more characters)"), "{c}");
        assert_eq!(cut("ATACMS"), "ATACMS");
        let e: Error = RequestError::UnknownModel {
            id: long,
            help: "known: ATACMS".into(),
        }
        .into();
        assert!(e.to_string().len() < 120, "{e}");
    }

    #[test]
    fn kinds_and_codes_are_stable() {
        let e: Error = RequestError::Internal("x".into()).into();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.code(), "enduse::internal");
        let e: Error = StoreError::Conflict {
            kind: "policy".into(),
            key: "k".into(),
            expected: "version 1".into(),
            found: "version 2".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(e.code(), "enduse::store::conflict");
        let e = e.with_help("read it again");
        assert_eq!(e.code(), "enduse::store::conflict");
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(e.help_text().as_deref(), Some("read it again"));
        let v = Error::internal("lost").to_json();
        assert_eq!(v["error"]["kind"], "internal");
        assert_eq!(v["error"]["problems"], serde_json::json!([]));
    }
}
