//! Problems found in a data set or a request, located precisely enough for the
//! loader to show file, line and span.

use serde::Serialize;
use std::fmt;
use std::ops::Range;

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "at")]
pub enum Origin {
    /// A byte span of a file of the data set.
    File {
        /// File name relative to the data-set directory.
        file: String,
        /// Byte span, when known.
        span: Option<Range<usize>>,
    },
    /// A record of the register, identified by its kind and id; the loader
    /// finds the file and line.
    Record {
        /// `party`, `model`, `lot`, `transfer`, `treaty`, ...
        kind: String,
        /// The record's id.
        id: String,
        /// The field at fault, when one is.
        field: Option<String>,
    },
}

/// One problem, with a lowercase message and an optional help line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where.
    pub origin: Origin,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Problem {
    /// A problem without help.
    pub fn new(origin: Origin, message: String) -> Self {
        Self {
            origin,
            message,
            help: None,
        }
    }

    /// A problem located at a register record.
    pub fn record(kind: &str, id: impl fmt::Display, field: Option<&str>, message: String) -> Self {
        Self::new(
            Origin::Record {
                kind: kind.to_owned(),
                id: id.to_string(),
                field: field.map(str::to_owned),
            },
            message,
        )
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File { file, .. } => write!(f, "{file}: {}", self.message),
            Origin::Record { kind, id, .. } => write!(f, "{kind} `{id}`: {}", self.message),
        }
    }
}
