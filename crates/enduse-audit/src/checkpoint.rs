//! Checkpoints in the C2SP tlog-checkpoint format
//! (<https://c2sp.org/tlog-checkpoint>), signed as C2SP signed notes.

use crate::hash::Hash;
use crate::note::{Note, NoteError, NoteSigner, NoteVerifier};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What can go wrong with a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum CheckpointError {
    /// Text that is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The signed note is bad or not signed by the key.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// A checkpoint of another log.
    #[error("the checkpoint is for origin `{found}`, not `{expected}`")]
    WrongOrigin {
        /// The origin of the log (the key's name).
        expected: String,
        /// The origin on the checkpoint.
        found: String,
    },
}

/// A checkpoint: the origin (the log's name), the tree size and the root
/// hash, with optional extension lines.
///
/// ```text
/// <origin>\n
/// <tree size in decimal>\n
/// <base64 root hash>\n
/// [<extension line>\n ...]
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn check_line(what: &str, line: &str) -> Result<(), CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::Malformed(format!("the {what} is empty")));
    }
    if line.chars().any(|c| c.is_control()) {
        return Err(CheckpointError::Malformed(format!(
            "the {what} holds a control character"
        )));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint of the log `origin` at `size` entries with this root.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, CheckpointError> {
        Checkpoint::with_extensions(origin, size, root, Vec::new())
    }

    /// The same, with extension lines (each non-empty, one line).
    pub fn with_extensions(
        origin: &str,
        size: u64,
        root: Hash,
        extensions: Vec<String>,
    ) -> Result<Checkpoint, CheckpointError> {
        check_line("origin", origin)?;
        for e in &extensions {
            check_line("extension line", e)?;
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Reads checkpoint text (the body of a signed note).
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or_else(|| {
            CheckpointError::Malformed("the text must end with a newline".to_owned())
        })?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::Malformed(
                "expected an origin, a size and a root hash".to_owned(),
            ));
        };
        let size_ok = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| size_ok)
            .ok_or_else(|| CheckpointError::Malformed(format!("`{size}` is not a tree size")))?;
        let root =
            Hash::from_base64(root).map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        let extensions = lines.map(str::to_owned).collect();
        Checkpoint::with_extensions(origin, size, root, extensions)
    }

    /// The checkpoint text, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// The origin: the name of the log.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The extension lines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Signs the checkpoint. The signer's name must be the origin.
    pub fn sign(&self, signer: &NoteSigner) -> Result<SignedCheckpoint, CheckpointError> {
        if signer.name() != self.origin {
            return Err(CheckpointError::WrongOrigin {
                expected: signer.name().to_owned(),
                found: self.origin.clone(),
            });
        }
        let note = signer.sign(&self.to_text())?;
        Ok(SignedCheckpoint {
            text: note.to_string(),
        })
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// A signed checkpoint as it is stored and served: the text of a signed
/// note, kept verbatim (serialized as a string). Nothing is checked until
/// [`SignedCheckpoint::open`].
///
/// A log's origin is the name of its key: [`SignedCheckpoint::open`] refuses a
/// checkpoint whose origin is not the verifier's name, so that a checkpoint
/// cannot be replayed as one of another log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignedCheckpoint {
    text: String,
}

impl SignedCheckpoint {
    /// A stored signed note, unchecked.
    pub fn from_text(text: impl Into<String>) -> SignedCheckpoint {
        SignedCheckpoint { text: text.into() }
    }

    /// The signed note text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Checks the signature with `verifier`, reads the checkpoint and checks
    /// that its origin is the verifier's name.
    pub fn open(&self, verifier: &NoteVerifier) -> Result<Checkpoint, CheckpointError> {
        let note = verifier.open(&self.text)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        if checkpoint.origin != verifier.name() {
            return Err(CheckpointError::WrongOrigin {
                expected: verifier.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }

    /// Reads the checkpoint without checking any signature.
    pub fn unverified(&self) -> Result<Checkpoint, CheckpointError> {
        let note = Note::parse(&self.text)?;
        Checkpoint::parse(note.text())
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for SignedCheckpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for SignedCheckpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(SignedCheckpoint {
            text: String::deserialize(deserializer)?,
        })
    }
}
