//! Data-set errors, rendered by miette with file, line and a labelled span.

use crate::files::DataFiles;
use enduse_core::{Origin, Problem};
use miette::{NamedSource, SourceSpan};

/// A data set that could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DataSetError {
    /// A file or directory could not be read.
    #[error("cannot read `{path}`: {message}")]
    #[diagnostic(code(enduse::io), help("check the path given with --data"))]
    Io {
        /// The path.
        path: String,
        /// The reason.
        message: String,
    },
    /// The data set was read but is invalid.
    #[error("data set `{origin}` is invalid: {} problem(s)", problems.len())]
    #[diagnostic(
        code(enduse::invalid_data_set),
        help("fix every problem listed; nothing was loaded")
    )]
    Invalid {
        /// Where the data set came from.
        origin: String,
        /// Every problem.
        #[related]
        problems: Vec<FileProblem>,
    },
}

/// One problem in one file.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic, serde::Serialize)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FileProblem {
    /// File relative to the data-set directory.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[help]
    pub help: Option<String>,
    #[source_code]
    #[serde(skip)]
    src: Option<NamedSource<String>>,
    #[label("here")]
    #[serde(skip)]
    span: Option<SourceSpan>,
}

impl DataSetError {
    /// Locates core problems in the files and wraps them.
    pub fn from_problems(files: &DataFiles, problems: Vec<Problem>) -> Self {
        Self::Invalid {
            origin: files.origin.clone(),
            problems: problems.into_iter().map(|p| locate(files, p)).collect(),
        }
    }

    /// This error with `more` problems of `files` added (an I/O error
    /// stays as it is).
    pub fn with_more(self, files: &DataFiles, more: Vec<Problem>) -> Self {
        match self {
            Self::Invalid {
                origin,
                mut problems,
            } => {
                problems.extend(more.into_iter().map(|p| locate(files, p)));
                Self::Invalid { origin, problems }
            }
            io => io,
        }
    }

    /// The problems, when the data set was invalid.
    pub fn problems(&self) -> &[FileProblem] {
        match self {
            Self::Invalid { problems, .. } => problems,
            Self::Io { .. } => &[],
        }
    }
}

fn record_file(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "party" => ("parties.toml", "id"),
        "place" => ("places.toml", "code"),
        "category" | "model" => ("models.toml", "id"),
        "lot" | "transfer" => ("transfers.toml", "id"),
        "treaty" => ("treaties.toml", "id"),
        "conflict" => ("conflicts.toml", "id"),
        "source" => ("sources.toml", "id"),
        "approval" => ("approvals.toml", "id"),
        "default" => ("defaults.toml", "id"),
        "group" => ("groups.toml", "id"),
        "target" | "purpose" => ("targets.toml", "id"),
        "area" => ("areas.toml", "id"),
        _ => ("dataset.toml", "name"),
    }
}

fn locate(files: &DataFiles, p: Problem) -> FileProblem {
    let (file, span) = match &p.origin {
        Origin::File { file, span } => (file.clone(), span.clone()),
        Origin::Record { kind, id, field } => {
            let (file, key) = record_file(kind);
            let span = files.get(file).and_then(|text| {
                let needle = format!("{key} = \"{id}\"");
                let start = text.find(&needle)?;
                let end_of_record = text[start..].find("\n[[").map_or(text.len(), |i| start + i);
                let at = field
                    .as_ref()
                    .and_then(|f| {
                        text[start..end_of_record]
                            .find(&format!("\n{f} "))
                            .map(|i| start + i + 1)
                    })
                    .unwrap_or(start);
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                Some(at..line_end)
            });
            (file.to_owned(), span)
        }
    };
    let text = files.get(&file);
    let line = match (text, &span) {
        (Some(t), Some(s)) => Some(t[..s.start.min(t.len())].matches('\n').count() + 1),
        _ => None,
    };
    let (src, span) = match (text, span) {
        (Some(t), Some(s)) => {
            let start = s.start.min(t.len());
            let len = s.end.min(t.len()).saturating_sub(start);
            (
                Some(NamedSource::new(file.clone(), t.to_owned())),
                Some(SourceSpan::new(start.into(), len)),
            )
        }
        _ => (None, None),
    };
    FileProblem {
        file,
        line,
        message: p.message,
        help: p.help,
        src,
        span,
    }
}
