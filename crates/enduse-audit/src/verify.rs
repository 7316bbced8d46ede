//! Verification of a whole log, as stored or exported: entries and signed
//! checkpoints, against a trusted verifier key.

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::entry::{EntryError, StoredEntry};
use crate::note::NoteVerifier;
use crate::tree::{MerkleTree, ProofError};

/// How far past a bad row [`verify_log`] looks for where its content belongs
/// (and for the content that belongs there), to tell a moved or renumbered
/// row from an edited one.
const SEARCH_WINDOW: usize = 4096;

/// Why a log does not verify. Each names the first bad entry where one can be
/// named (see [`VerifyError::first_bad_entry`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum VerifyError {
    /// No row for this index (deleted, or renumbered away).
    #[error("entry {index} is missing")]
    #[diagnostic(help("a row was deleted, or the rows were renumbered after a deletion"))]
    Missing {
        /// The first index without its entry.
        index: u64,
    },
    /// Two entries in each other's place.
    #[error("entries {first} and {second} are out of order")]
    OutOfOrder {
        /// The position where the other entry was found.
        first: u64,
        /// The index of the entry found there.
        second: u64,
    },
    /// Two rows with the same index.
    #[error("entry {index} appears twice")]
    Duplicate {
        /// The repeated index.
        index: u64,
    },
    /// A row whose content is not what was hashed.
    #[error("entry {index}: its body does not match its hash")]
    #[diagnostic(help("the row was edited after it was logged"))]
    HashMismatch {
        /// The entry.
        index: u64,
    },
    /// A row that matches its hash but is not a well-formed entry.
    #[error("entry {index}: {source}")]
    Malformed {
        /// The entry.
        index: u64,
        /// What is wrong with it.
        source: EntryError,
    },
    /// A checkpoint that cannot be read or is not signed by the key.
    #[error("{label}: {source}")]
    BadCheckpoint {
        /// `checkpoint of size N`, or `checkpoint number N` (from 1, in the
        /// order given) where the size cannot be read.
        label: String,
        /// What is wrong with it.
        source: CheckpointError,
    },
    /// A signed checkpoint whose root is not the head of the entries.
    #[error(
        "checkpoint of size {size}: root does not match the entries \
         (the first bad entry is one of entries {from} to {to})"
    )]
    #[diagnostic(help(
        "an entry and its hash were both rewritten; the last checkpoint that matched \
         was of size {from}"
    ))]
    RootMismatch {
        /// The checkpoint's tree size.
        size: u64,
        /// The first entry not covered by an earlier good checkpoint.
        from: u64,
        /// The last entry the checkpoint covers.
        to: u64,
    },
    /// Two signed checkpoints of the same size with different roots: the key
    /// signed two different logs.
    #[error("checkpoints of size {size} disagree on the root")]
    Forked {
        /// The size of both.
        size: u64,
    },
    /// Two successive checkpoints that are not consistent.
    #[error("checkpoints of size {old} and {new} are not consistent: {source}")]
    Inconsistent {
        /// The smaller size.
        old: u64,
        /// The larger size.
        new: u64,
        /// Why the proof failed.
        source: ProofError,
    },
}

impl VerifyError {
    /// The index of the first bad entry, where one is known.
    pub fn first_bad_entry(&self) -> Option<u64> {
        match self {
            VerifyError::Missing { index }
            | VerifyError::Duplicate { index }
            | VerifyError::HashMismatch { index }
            | VerifyError::Malformed { index, .. } => Some(*index),
            VerifyError::OutOfOrder { first, second } => Some((*first).min(*second)),
            VerifyError::RootMismatch { .. }
            | VerifyError::BadCheckpoint { .. }
            | VerifyError::Forked { .. }
            | VerifyError::Inconsistent { .. } => None,
        }
    }
}

/// A log that verified: its tree (for proofs) and its checkpoints.
#[derive(Clone, Debug)]
pub struct VerifiedLog {
    tree: MerkleTree,
    checkpoints: Vec<Checkpoint>,
}

impl VerifiedLog {
    /// The tree over every entry.
    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The checkpoints, by size.
    pub fn checkpoints(&self) -> &[Checkpoint] {
        &self.checkpoints
    }

    /// The largest checkpoint.
    pub fn latest_checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoints.last()
    }

    /// Entries after the largest checkpoint: their hashes were checked, but
    /// no signature covers them yet.
    pub fn unsigned_entries(&self) -> u64 {
        self.size() - self.latest_checkpoint().map_or(0, Checkpoint::size)
    }
}

/// Verifies a log against a trusted key: recomputes every leaf hash from the
/// row's index, kind and body and compares it with the stored hash; checks
/// that the indices run 0, 1, 2, ... without gaps or repeats; checks each
/// checkpoint's signature and origin and that its root is the head of the
/// entries it covers; and checks the consistency proof between successive
/// checkpoints.
///
/// `entries` are the rows in the order read; `checkpoints` in any order.
/// Problems are reported in the order of the entries: the error names the
/// first bad entry (or, where both an entry and its hash were rewritten, the
/// first checkpoint that no longer matches). A checkpoint that is not signed
/// by the key is reported before any entry.
///
/// What this cannot catch: rows appended or rewritten (with their hashes)
/// after the last checkpoint, and rows deleted from the end beyond it (see
/// [`VerifiedLog::unsigned_entries`]); compare the latest checkpoint with one
/// obtained independently for those.
pub fn verify_log(
    entries: &[StoredEntry],
    checkpoints: &[SignedCheckpoint],
    key: &NoteVerifier,
) -> Result<VerifiedLog, VerifyError> {
    let mut opened = open_checkpoints(checkpoints, key)?;
    opened.sort_by_key(Checkpoint::size);
    for pair in opened.windows(2) {
        if pair[0].size() == pair[1].size() && pair[0].root() != pair[1].root() {
            return Err(VerifyError::Forked {
                size: pair[0].size(),
            });
        }
    }
    opened.dedup();
    let max_size = opened.last().map_or(0, Checkpoint::size);

    let mut tree = MerkleTree::new();
    let mut pending = opened.iter().peekable();
    let mut last_good = 0u64;
    for (p, row) in entries.iter().enumerate() {
        let p64 = p as u64;
        while let Some(cp) = pending.next_if(|cp| cp.size() == p64) {
            check_root(&tree, cp, &mut last_good)?;
        }
        check_position(entries, p)?;
        if row.recompute_hash() != row.hash {
            return Err(diagnose(entries, p, max_size));
        }
        row.entry()
            .map_err(|source| VerifyError::Malformed { index: p64, source })?;
        tree.push(row.hash);
    }
    let n = tree.size();
    for cp in pending {
        if cp.size() > n {
            return Err(VerifyError::Missing { index: n });
        }
        check_root(&tree, cp, &mut last_good)?;
    }
    for pair in opened.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        tree.consistency_proof(old.size(), new.size())
            .and_then(|proof| proof.verify(&old.root(), &new.root()))
            .map_err(|source| VerifyError::Inconsistent {
                old: old.size(),
                new: new.size(),
                source,
            })?;
    }
    Ok(VerifiedLog {
        tree,
        checkpoints: opened,
    })
}

fn open_checkpoints(
    checkpoints: &[SignedCheckpoint],
    key: &NoteVerifier,
) -> Result<Vec<Checkpoint>, VerifyError> {
    checkpoints
        .iter()
        .enumerate()
        .map(|(i, signed)| {
            signed.open(key).map_err(|source| {
                let label = match signed.unverified() {
                    Ok(cp) => format!("checkpoint of size {}", cp.size()),
                    Err(_) => format!("checkpoint number {}", i + 1),
                };
                VerifyError::BadCheckpoint { label, source }
            })
        })
        .collect()
}

fn check_root(tree: &MerkleTree, cp: &Checkpoint, last_good: &mut u64) -> Result<(), VerifyError> {
    if tree.root() == cp.root() {
        *last_good = cp.size();
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            size: cp.size(),
            from: *last_good,
            to: cp.size().saturating_sub(1),
        })
    }
}

/// Checks that the row at position `p` has index `p`; the rows before it
/// have been checked already.
fn check_position(entries: &[StoredEntry], p: usize) -> Result<(), VerifyError> {
    let p64 = p as u64;
    let found = entries[p].index;
    if found == p64 {
        return Ok(());
    }
    if found < p64 {
        return Err(VerifyError::Duplicate { index: found });
    }
    if entries[p + 1..].iter().any(|r| r.index == p64) {
        Err(VerifyError::OutOfOrder {
            first: p64,
            second: found,
        })
    } else {
        Err(VerifyError::Missing { index: p64 })
    }
}

/// The row at `p` has the right index but not the hash of its content. Tells
/// an entry moved from elsewhere (its hash is right for another index) from
/// an edited one.
fn diagnose(entries: &[StoredEntry], p: usize, max_size: u64) -> VerifyError {
    let p64 = p as u64;
    let row = &entries[p];
    let upper = (entries.len() as u64)
        .max(max_size)
        .min(p64 + 1 + SEARCH_WINDOW as u64);
    let owner = (p64 + 1..=upper).find(|&q| row.recompute_hash_at(q) == row.hash);
    let Some(owner) = owner else {
        return VerifyError::HashMismatch { index: p64 };
    };
    let later = &entries[p + 1..entries.len().min(p + 1 + SEARCH_WINDOW)];
    if later.iter().any(|r| r.recompute_hash_at(p64) == r.hash) {
        VerifyError::OutOfOrder {
            first: p64,
            second: owner,
        }
    } else {
        VerifyError::Missing { index: p64 }
    }
}
