//! The log as a server keeps it in memory, and the export format.

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::entry::{Entry, StoredEntry};
use crate::hash::Hash;
use crate::note::NoteSigner;
use crate::note::NoteVerifier;
use crate::tree::{ConsistencyProof, InclusionProof, MerkleTree, ProofError};
use crate::verify::{verify_log, VerifiedLog, VerifyError};
use serde::{Deserialize, Serialize};

/// An append-only audit log over a Merkle tree. It holds hashes only: the
/// caller stores the [`StoredEntry`] rows that [`AuditLog::append`] returns,
/// and the checkpoints, in its own store (in the same transaction as what
/// the entry records), and rebuilds the log at start with
/// [`AuditLog::from_leaf_hashes`].
#[derive(Clone, Debug, Default)]
pub struct AuditLog {
    tree: MerkleTree,
}

impl AuditLog {
    /// The empty log.
    pub fn new() -> AuditLog {
        AuditLog::default()
    }

    /// A log over stored leaf hashes, in index order (trusted: use
    /// [`verify_log`] to check rows).
    pub fn from_leaf_hashes<I: IntoIterator<Item = Hash>>(hashes: I) -> AuditLog {
        AuditLog {
            tree: MerkleTree::from_leaf_hashes(hashes),
        }
    }

    /// Appends an entry and returns the row to store.
    pub fn append(&mut self, entry: &Entry) -> StoredEntry {
        let stored = entry.stored(self.tree.size());
        self.tree.push(stored.hash);
        stored
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The current tree head.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The tree.
    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// The checkpoint of the current tree, signed; the origin is the key's
    /// name.
    pub fn checkpoint(&self, signer: &NoteSigner) -> Result<SignedCheckpoint, CheckpointError> {
        Checkpoint::new(signer.name(), self.size(), self.root())?.sign(signer)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, ProofError> {
        self.tree.inclusion_proof(index, size)
    }

    /// The consistency proof between the trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, ProofError> {
        self.tree.consistency_proof(old, new)
    }
}

/// The first value of [`LogExport::format`].
pub const EXPORT_FORMAT: &str = "enduse-audit export v1";

/// An exported log, for `verify` and `prove` away from the server: every
/// entry row and every signed checkpoint (as JSON, with serde).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogExport {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The verifier key string of the log, for information only: verify
    /// against a key obtained independently.
    pub key: String,
    /// The entry rows, in index order.
    pub entries: Vec<StoredEntry>,
    /// The signed checkpoints.
    pub checkpoints: Vec<SignedCheckpoint>,
}

impl LogExport {
    /// An export of these rows and checkpoints.
    pub fn new(
        key: &NoteVerifier,
        entries: Vec<StoredEntry>,
        checkpoints: Vec<SignedCheckpoint>,
    ) -> LogExport {
        LogExport {
            format: EXPORT_FORMAT.to_owned(),
            key: key.to_string(),
            entries,
            checkpoints,
        }
    }

    /// [`verify_log`] over the export with a trusted key.
    pub fn verify(&self, key: &NoteVerifier) -> Result<VerifiedLog, VerifyError> {
        verify_log(&self.entries, &self.checkpoints, key)
    }
}
