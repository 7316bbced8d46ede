//! Log entries: what is logged, its canonical JSON body, and the bytes that
//! are hashed into the tree.

use crate::canonical::{canonical_json_of, CanonicalError};
use crate::hash::Hash;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A decision the server answered: its ask, a digest of the answer, and
    /// the register transaction it was decided on.
    Decision,
    /// A workflow event.
    Workflow,
    /// A register transaction (a write to the store).
    RegisterTxn,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 3] = [
        EntryKind::Decision,
        EntryKind::Workflow,
        EntryKind::RegisterTxn,
    ];

    /// The name used in the encoding and in storage: `decision`, `workflow`,
    /// `register_txn`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Decision => "decision",
            EntryKind::Workflow => "workflow",
            EntryKind::RegisterTxn => "register_txn",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = EntryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| EntryError::UnknownKind(s.to_owned()))
    }
}

/// An entry that cannot be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum EntryError {
    /// Not one of `decision`, `workflow`, `register_txn`.
    #[error("unknown entry kind `{0}` (expected decision, workflow or register_txn)")]
    UnknownKind(String),
    /// The body is not JSON.
    #[error("the body is not json: {0}")]
    NotJson(String),
    /// The body is JSON, but not in canonical form.
    #[error("the body is not canonical json (expected `{expected}`)")]
    NotCanonical {
        /// The canonical form of the same value.
        expected: String,
    },
}

/// The canonical JSON text of a value: no whitespace, object keys sorted by
/// their UTF-8 bytes, strings escaped as `serde_json` escapes them (only `"`,
/// `\` and control characters; other characters as they are), numbers as
/// `serde_json` prints them (integers in decimal, floats in the shortest form
/// that reads back to the same value).
///
/// It does not depend on the order in which a map holds its keys, so it is
/// the same whether or not `serde_json`'s `preserve_order` feature is on.
///
/// Floats: the text is exact, but `serde_json` without its `float_roundtrip`
/// feature may read a long float back as a neighbouring value, whose
/// canonical text then differs by a digit. So [`Entry::from_canonical`] can
/// refuse such a body read back from storage, and a digest recomputed from
/// parsed JSON can differ. Log fractional quantities as integers (micro-degrees)
/// or strings where that matters. [`verify_log`](crate::verify_log) does not
/// depend on it: it hashes the stored bytes as they are.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// SHA-256 of the canonical JSON of a value: what a decision entry records of
/// the answer.
pub fn json_digest(value: &Value) -> Hash {
    Hash::digest(canonical_json(value).as_bytes())
}

/// The first line of every encoded entry: names the format and its version.
pub const ENTRY_FORMAT: &str = "enduse-audit entry v1";

/// One thing the log records: a kind and a canonical JSON body.
///
/// The bytes hashed into the tree (the leaf data) are [`Entry::encode`]:
///
/// ```text
/// enduse-audit entry v1\n
/// <index in decimal>\n
/// <kind>\n
/// <canonical JSON body>
/// ```
///
/// The index is part of what is hashed, so an entry's leaf hash is bound to
/// its position: moving a row, or renumbering rows after deleting one, makes
/// its hash wrong, and [`verify_log`](crate::verify_log) can tell which entry
/// went where.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    kind: EntryKind,
    body: String,
}

impl Entry {
    /// An entry of `kind` whose body is the canonical JSON of `body`.
    pub fn new(kind: EntryKind, body: &Value) -> Entry {
        Entry {
            kind,
            body: canonical_json(body),
        }
    }

    /// An entry from stored text, which must be JSON in canonical form.
    pub fn from_canonical(kind: EntryKind, body: &str) -> Result<Entry, EntryError> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| EntryError::NotJson(e.to_string()))?;
        let expected = canonical_json(&value);
        if expected != body {
            return Err(EntryError::NotCanonical { expected });
        }
        Ok(Entry {
            kind,
            body: expected,
        })
    }

    /// A decision: `{"answer_sha256": <hex digest of the canonical answer>,
    /// "ask": <the ask>, "register_txn": <transaction id or null>}`.
    /// `register_txn` is the transaction of the register the decision was
    /// made on (none for a bundled data set).
    pub fn decision(ask: &Value, answer: &Value, register_txn: Option<i64>) -> Entry {
        let mut body = serde_json::Map::new();
        body.insert("ask".to_owned(), ask.clone());
        body.insert(
            "answer_sha256".to_owned(),
            Value::String(json_digest(answer).to_hex()),
        );
        body.insert(
            "register_txn".to_owned(),
            register_txn.map_or(Value::Null, Value::from),
        );
        Entry::new(EntryKind::Decision, &Value::Object(body))
    }

    /// The same entry as [`Entry::decision`], written from the typed ask and
    /// answer without building their `Value`s first (several times faster
    /// for a full decision report).
    pub fn decision_of<A: Serialize + ?Sized, B: Serialize + ?Sized>(
        ask: &A,
        answer: &B,
        register_txn: Option<i64>,
    ) -> Result<Entry, CanonicalError> {
        #[derive(Serialize)]
        struct Body<'a, A: ?Sized> {
            ask: &'a A,
            answer_sha256: String,
            register_txn: Option<i64>,
        }
        let answer = Hash::digest(canonical_json_of(answer)?.as_bytes()).to_hex();
        Ok(Entry {
            kind: EntryKind::Decision,
            body: canonical_json_of(&Body {
                ask,
                answer_sha256: answer,
                register_txn,
            })?,
        })
    }

    /// A workflow event, with whatever body describes it.
    pub fn workflow(event: &Value) -> Entry {
        Entry::new(EntryKind::Workflow, event)
    }

    /// A register transaction, with whatever body describes it.
    pub fn register_txn(txn: &Value) -> Entry {
        Entry::new(EntryKind::RegisterTxn, txn)
    }

    /// The kind.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The canonical JSON body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The body as a JSON value.
    pub fn body_value(&self) -> Result<Value, EntryError> {
        serde_json::from_str(&self.body).map_err(|e| EntryError::NotJson(e.to_string()))
    }

    /// SHA-256 of the body alone: the entry's own digest, independent of its
    /// position in the log.
    pub fn digest(&self) -> Hash {
        Hash::digest(self.body.as_bytes())
    }

    /// The leaf data of this entry at `index` (see the type's documentation).
    pub fn encode(&self, index: u64) -> Vec<u8> {
        encode_parts(index, self.kind.as_str(), &self.body)
    }

    /// The RFC 6962 leaf hash of this entry at `index`.
    pub fn leaf_hash(&self, index: u64) -> Hash {
        leaf_hash_of_parts(index, self.kind.as_str(), &self.body)
    }

    /// The row to store for this entry at `index`.
    pub fn stored(&self, index: u64) -> StoredEntry {
        StoredEntry {
            index,
            kind: self.kind.as_str().to_owned(),
            body: self.body.clone(),
            hash: self.leaf_hash(index),
        }
    }
}

fn encode_parts(index: u64, kind: &str, body: &str) -> Vec<u8> {
    let index = index.to_string();
    let mut out =
        Vec::with_capacity(ENTRY_FORMAT.len() + index.len() + kind.len() + body.len() + 3);
    out.extend_from_slice(ENTRY_FORMAT.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(index.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body.as_bytes());
    out
}

/// `leaf_hash(&encode_parts(..))`, fed to the hash piece by piece: the
/// appending thread hashes every entry, and copying each body first was
/// half of that.
fn leaf_hash_of_parts(index: u64, kind: &str, body: &str) -> Hash {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(ENTRY_FORMAT.as_bytes());
    h.update(b"\n");
    h.update(index.to_string().as_bytes());
    h.update(b"\n");
    h.update(kind.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    Hash(h.finalize().into())
}

/// An entry as a store or an export holds it: one row, taken as it is found.
/// Its fields are plain text so that a row that was edited by hand can still
/// be read, and then found out by [`verify_log`](crate::verify_log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEntry {
    /// Position in the log, from 0.
    pub index: u64,
    /// The kind, as [`EntryKind::as_str`] writes it.
    pub kind: String,
    /// The canonical JSON body.
    pub body: String,
    /// The leaf hash, as it was computed when the entry was appended.
    pub hash: Hash,
}

impl StoredEntry {
    /// The leaf hash of what the row holds now, at the given index.
    pub fn recompute_hash_at(&self, index: u64) -> Hash {
        leaf_hash_of_parts(index, &self.kind, &self.body)
    }

    /// The leaf hash of what the row holds now.
    pub fn recompute_hash(&self) -> Hash {
        self.recompute_hash_at(self.index)
    }

    /// Whether the stored hash is the hash of the row's index, kind and body.
    pub fn hash_matches(&self) -> bool {
        self.recompute_hash() == self.hash
    }

    /// The typed entry: a known kind and a JSON body, kept byte for byte
    /// (not re-canonicalized, see [`canonical_json`] on floats).
    pub fn entry(&self) -> Result<Entry, EntryError> {
        let kind = self.kind.parse()?;
        serde_json::from_str::<serde::de::IgnoredAny>(&self.body)
            .map_err(|e| EntryError::NotJson(e.to_string()))?;
        Ok(Entry {
            kind,
            body: self.body.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_leaf_hash_is_that_of_the_encoded_entry() {
        let e = Entry::decision(&json!({"actor": "UA\n\"x\""}), &json!({"d": 1}), Some(3));
        for index in [0, 9, 10, 12_345_678_901] {
            assert_eq!(e.leaf_hash(index), crate::leaf_hash(&e.encode(index)));
            assert_eq!(e.stored(index).recompute_hash_at(index), e.leaf_hash(index));
        }
        assert_ne!(e.leaf_hash(1), e.leaf_hash(2));
    }
}
