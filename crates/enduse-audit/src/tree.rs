//! The RFC 6962 / RFC 9162 Merkle tree: tree heads, inclusion and
//! consistency proofs, generated and verified.
//!
//! Why not `tlog_tiles`: its 0.2 release (the latest) is a port of Go's
//! `sumdb/tlog` whose proofs read hashes one at a time through a fallible
//! `HashReader`, and it brings `url`, `base64` 0.21 and `thiserror` 1 with
//! errors that are not `miette` diagnostics. What this crate needs is small
//! (the RFC 9162 §2.1 algorithms are a few dozen lines each), so it is written
//! here against the RFC text and checked against the transparency-dev test
//! vectors (see `tests/vectors.rs`).
//!
//! Storage: [`MerkleTree`] keeps every leaf hash and every complete aligned
//! subtree above them (about 2n hashes, 64 MiB at a million entries). An
//! append adds one leaf and at most log2(n) parents (one on average); a tree
//! head or a proof reads O(log n) stored hashes and computes O(log n) new
//! ones, since only the right edge of a tree size is ever incomplete.
//! [`CompactRange`] keeps only the right edge (one hash per set bit of the
//! size), for computing heads while streaming entries.

use crate::hash::{node_hash, Hash, EMPTY_ROOT};
use serde::{Deserialize, Serialize};

/// What can go wrong making or checking a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum ProofError {
    /// The index is not below the tree size.
    #[error("entry {index} is not in a tree of size {size}")]
    NotInTree {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A tree size larger than the tree held.
    #[error("the tree has {tree_size} entries, fewer than {size}")]
    BeyondTree {
        /// The size asked for.
        size: u64,
        /// The entries held.
        tree_size: u64,
    },
    /// A consistency proof from a larger to a smaller tree.
    #[error("a tree of size {old} cannot grow into one of size {new}")]
    Shrinks {
        /// The first size.
        old: u64,
        /// The second size.
        new: u64,
    },
    /// A proof with the wrong number of hashes for its sizes.
    #[error("the proof has {found} hashes, but {expected} are needed")]
    WrongLength {
        /// Hashes in the proof.
        found: usize,
        /// Hashes the sizes call for.
        expected: usize,
    },
    /// An inclusion proof that does not lead to the root.
    #[error("the proof does not lead to the root")]
    RootMismatch,
    /// A consistency proof that does not lead to the old root.
    #[error("the proof does not lead to the old root")]
    OldRootMismatch,
    /// A consistency proof that does not lead to the new root.
    #[error("the proof does not lead to the new root")]
    NewRootMismatch,
    /// Two heads of the same size with different roots.
    #[error("two trees of size {size} have different roots")]
    SameSizeDifferentRoots {
        /// The size of both.
        size: u64,
    },
}

/// The largest power of two strictly below `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Converts an index that is known to fit (it is below a `Vec` length).
fn to_usize(x: u64) -> usize {
    usize::try_from(x).unwrap_or(usize::MAX)
}

/// An append-only Merkle tree over leaf hashes, with every complete subtree
/// stored, so that appends are O(log n) and heads and proofs for any earlier
/// size are O(log n).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[k][i]`: the hash of leaves `[i * 2^k, (i + 1) * 2^k)`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> MerkleTree {
        MerkleTree { levels: Vec::new() }
    }

    /// A tree over the given leaf hashes, in order.
    pub fn from_leaf_hashes<I: IntoIterator<Item = Hash>>(leaves: I) -> MerkleTree {
        let mut tree = MerkleTree::new();
        for h in leaves {
            tree.push(h);
        }
        tree
    }

    /// Appends a leaf hash (see [`leaf_hash`](crate::leaf_hash)) and returns
    /// its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let n = row.len();
            if n % 2 == 1 {
                break;
            }
            hash = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
        index
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    /// The leaf hashes, in order.
    pub fn leaf_hashes(&self) -> &[Hash] {
        self.levels.first().map_or(&[], |l| l.as_slice())
    }

    /// The leaf hash at `index`, if there is one.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.leaf_hashes().get(to_usize(index)).copied()
    }

    /// The tree head (root hash) over all leaves.
    pub fn root(&self) -> Hash {
        match self.size() {
            0 => EMPTY_ROOT,
            n => self.range_hash(0, n),
        }
    }

    /// The tree head of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        Ok(match size {
            0 => EMPTY_ROOT,
            n => self.range_hash(0, n),
        })
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size() {
            return Err(ProofError::BeyondTree {
                size,
                tree_size: self.size(),
            });
        }
        Ok(())
    }

    /// MTH(D[lo:hi]) for lo < hi <= size. Complete aligned subtrees are read;
    /// others are split as RFC 6962 splits them. From the RFC recursion only
    /// the right part can be incomplete, so this costs O(log n).
    fn range_hash(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        if n.is_power_of_two() && lo & (n - 1) == 0 {
            let level = n.trailing_zeros() as usize;
            return self.levels[level][to_usize(lo >> level)];
        }
        let k = split_point(n);
        node_hash(&self.range_hash(lo, lo + k), &self.range_hash(lo + k, hi))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size`
    /// leaves (RFC 9162 §2.1.3.1), siblings from the leaf up.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::NotInTree { index, size });
        }
        let (mut lo, mut hi) = (0u64, size);
        let mut hashes = Vec::new();
        while hi - lo > 1 {
            let k = split_point(hi - lo);
            if index < lo + k {
                hashes.push(self.range_hash(lo + k, hi));
                hi = lo + k;
            } else {
                hashes.push(self.range_hash(lo, lo + k));
                lo += k;
            }
        }
        hashes.reverse();
        Ok(InclusionProof {
            index,
            tree_size: size,
            hashes,
        })
    }

    /// The consistency proof between the trees of the first `old` and the
    /// first `new` leaves (RFC 9162 §2.1.4.1). Empty when `old` is 0 or equal
    /// to `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, ProofError> {
        self.check_size(new)?;
        if old > new {
            return Err(ProofError::Shrinks { old, new });
        }
        let mut hashes = Vec::new();
        if old > 0 && old < new {
            let (mut m, mut lo, mut hi) = (old, 0u64, new);
            let mut whole = true;
            loop {
                let n = hi - lo;
                if m == n {
                    if !whole {
                        hashes.push(self.range_hash(lo, hi));
                    }
                    break;
                }
                let k = split_point(n);
                if m <= k {
                    hashes.push(self.range_hash(lo + k, hi));
                    hi = lo + k;
                } else {
                    hashes.push(self.range_hash(lo, lo + k));
                    m -= k;
                    lo += k;
                    whole = false;
                }
            }
            hashes.reverse();
        }
        Ok(ConsistencyProof {
            old_size: old,
            new_size: new,
            hashes,
        })
    }
}

/// The right edge of a tree: one hash per set bit of its size, enough to
/// append and to compute the head, in O(log n) memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// Complete subtrees, largest (leftmost) first.
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// The empty range.
    pub fn new() -> CompactRange {
        CompactRange::default()
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            match self.peaks.pop() {
                Some(left) => hash = node_hash(&left, &hash),
                None => break,
            }
            s >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree head.
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        match iter.next() {
            None => EMPTY_ROOT,
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// The tree head over the given leaf hashes.
pub fn tree_root(leaves: &[Hash]) -> Hash {
    let mut range = CompactRange::new();
    for h in leaves {
        range.push(*h);
    }
    range.root()
}

/// An inclusion proof: the audit path of one leaf in a tree of a given size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf index (0-based).
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// Sibling hashes, from the leaf up.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf` is at `index` in the tree whose head is `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(self.index, self.tree_size, leaf, &self.hashes, root)
    }
}

/// A consistency proof between two sizes of one tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The smaller size.
    pub old_size: u64,
    /// The larger size.
    pub new_size: u64,
    /// The proof hashes.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that the tree of head `new_root` extends the one of head
    /// `old_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        verify_consistency(
            self.old_size,
            self.new_size,
            old_root,
            new_root,
            &self.hashes,
        )
    }
}

/// The number of hashes in the inclusion proof of `index` in a tree of `size`.
fn inclusion_len(index: u64, size: u64) -> usize {
    // Levels below the point where the leaf's path and the right edge meet
    // each give one hash; above it, one per set bit of what remains.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// The number of hashes in the consistency proof from `old` to `new`
/// (0 < old < new): the inclusion proof, in the tree of `new`, of the largest
/// complete subtree that ends at `old`, preceded by that subtree's hash unless
/// it is the whole old tree (`old` a power of two), which the verifier knows.
fn consistency_len(old: u64, new: u64) -> usize {
    let level = old.trailing_zeros();
    let index = (old - 1) >> level;
    let nodes = ((new - 1) >> level) + 1;
    inclusion_len(index, nodes) + usize::from(index != 0)
}

/// The root that an inclusion proof leads to from `leaf` at `index` in a tree
/// of `size` (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::NotInTree { index, size });
    }
    let expected = inclusion_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            found: proof.len(),
            expected,
        });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::RootMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::RootMismatch);
    }
    Ok(r)
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion(index, size, leaf, proof)? == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2). From size 0 any tree is
/// consistent and the proof must be empty; between equal sizes the proof must
/// be empty and the roots equal.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::Shrinks { old, new });
    }
    if old == 0 || old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                found: proof.len(),
                expected: 0,
            });
        }
        if old == new && old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots { size: old });
        }
        return Ok(());
    }
    let expected = consistency_len(old, new);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            found: proof.len(),
            expected,
        });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut iter = path.iter();
    let Some(first) = iter.next() else {
        return Err(ProofError::OldRootMismatch);
    };
    let (mut fr, mut sr) = (*first, *first);
    for c in iter {
        if snode == 0 {
            return Err(ProofError::NewRootMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::NewRootMismatch);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}
