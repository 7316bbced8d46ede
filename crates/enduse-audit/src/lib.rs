//! enduse audit: a tamper-evident log, as pure data structures and functions
//! (no I/O, no clock), so that a server and a CLI can keep it in any store.
//!
//! - Entries ([`Entry`]) record decisions, workflow events and register
//!   transactions as canonical JSON; what is hashed is [`Entry::encode`],
//!   which binds the entry's index, kind and body.
//! - They are the leaves of an RFC 6962 / RFC 9162 Merkle tree
//!   ([`MerkleTree`]): appends are O(log n); tree heads, inclusion proofs and
//!   consistency proofs for any size are O(log n).
//! - Tree heads are published as C2SP checkpoints ([`Checkpoint`]) in C2SP
//!   signed notes, signed with Ed25519 ([`NoteSigner`], [`NoteVerifier`]),
//!   in the formats of Go's `sumdb/note` and `sumdb/tlog`.
//! - [`verify_log`] checks an exported or stored log against a trusted key
//!   and names the first bad entry.
//!
//! ```
//! use enduse_audit::{verify_log, AuditLog, Entry, NoteSigner};
//! use serde_json::json;
//!
//! let signer = NoteSigner::from_seed("example.org/audit", [7; 32])?;
//! let mut log = AuditLog::new();
//! let rows: Vec<_> = (0..5)
//!     .map(|i| log.append(&Entry::workflow(&json!({"step": i}))))
//!     .collect();
//! let checkpoint = log.checkpoint(&signer)?;
//! let verified = verify_log(&rows, &[checkpoint], &signer.verifier())?;
//! let proof = verified.tree().inclusion_proof(3, 5)?;
//! proof.verify(&rows[3].hash, &log.root())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod canonical;
mod checkpoint;
mod entry;
mod hash;
mod log;
mod note;
mod tree;
mod verify;

pub use canonical::{canonical_json_of, CanonicalError};
pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use entry::{
    canonical_json, json_digest, Entry, EntryError, EntryKind, StoredEntry, ENTRY_FORMAT,
};
pub use hash::{leaf_hash, node_hash, Hash, HashParseError, EMPTY_ROOT};
pub use log::{AuditLog, LogExport, EXPORT_FORMAT};
pub use note::{
    is_valid_key_name, key_id, Note, NoteError, NoteSignature, NoteSigner, NoteVerifier,
};
pub use tree::{
    root_from_inclusion, tree_root, verify_consistency, verify_inclusion, CompactRange,
    ConsistencyProof, InclusionProof, MerkleTree, ProofError,
};
pub use verify::{verify_log, VerifiedLog, VerifyError};

/// The `rand_core` version whose `RngCore + CryptoRng` [`NoteSigner::generate`]
/// takes.
pub use rand_core;
