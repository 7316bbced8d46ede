//! Append rate and proof times of the audit log at a million entries.
//!
//! - `append_leaf_hashes_1m`: 1,000,000 `MerkleTree::push` of precomputed leaf
//!   hashes (also what rebuilding the tree from stored hashes costs at start).
//! - `append_decision_entries`: `AuditLog::append` of realistic decision
//!   entries (canonical JSON, encoding, leaf hash, push) onto a 1M tree.
//! - `root_1m`, `inclusion_proof_1m`, `inclusion_verify_1m`,
//!   `consistency_proof_1m`, `consistency_verify_1m`: on a 1M-entry tree
//!   (size 1,000,000 is not a power of two, so proofs include the right-edge
//!   hashes that must be computed), at pseudo-random indices and old sizes.
//! - `checkpoint_sign` / `checkpoint_open`: Ed25519 signed notes.
//! - `verify_log_100k`: `verify_log` over 100,000 stored entries with 10
//!   checkpoints.
//!
//! Run: `cargo bench -p enduse-audit --bench audit`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use enduse_audit::{
    leaf_hash, verify_consistency, verify_inclusion, verify_log, AuditLog, Checkpoint, Entry, Hash,
    MerkleTree, NoteSigner, SignedCheckpoint, StoredEntry,
};
use serde_json::json;
use std::sync::OnceLock;

const MILLION: u64 = 1_000_000;

fn main() {
    divan::main();
}

fn leaves() -> &'static [Hash] {
    static LEAVES: OnceLock<Vec<Hash>> = OnceLock::new();
    LEAVES.get_or_init(|| (0..MILLION).map(|i| leaf_hash(&i.to_be_bytes())).collect())
}

fn tree() -> &'static MerkleTree {
    static TREE: OnceLock<MerkleTree> = OnceLock::new();
    TREE.get_or_init(|| MerkleTree::from_leaf_hashes(leaves().iter().copied()))
}

/// A cheap deterministic sequence of numbers below `n`.
fn spread(i: u64, n: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) % n
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn append_leaf_hashes_1m(bencher: Bencher) {
    let leaves = leaves();
    bencher.counter(ItemsCount::new(MILLION)).bench(|| {
        let mut tree = MerkleTree::new();
        for h in leaves {
            tree.push(*h);
        }
        black_box(tree.size())
    });
}

fn decision(i: u64) -> Entry {
    Entry::decision(
        &json!({"actor": "UA", "action": "use", "item": {"model": "ATACMS"}, "place": "RU-KRS",
                "as_of": "2024-11-19", "known_at": "2025-08-24", "approvals": ["US:SecDef"], "n": i}),
        &json!({"outcome": "permit", "parties": [{"party": "US", "outcome": "permit",
                 "rules": ["us-atacms-secdef-review"]}], "notes": []}),
        Some(i as i64),
    )
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn append_decision_entries(bencher: Bencher) {
    const BATCH: u64 = 10_000;
    let base = AuditLog::from_leaf_hashes(leaves().iter().copied());
    bencher
        .counter(ItemsCount::new(BATCH))
        .with_inputs(|| base.clone())
        .bench_local_values(|mut log| {
            for i in 0..BATCH {
                black_box(log.append(&decision(i)));
            }
            log
        });
}

#[divan::bench]
fn root_1m(bencher: Bencher) {
    let tree = tree();
    bencher.bench(|| black_box(tree.root()));
}

#[divan::bench]
fn inclusion_proof_1m(bencher: Bencher) {
    let tree = tree();
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        black_box(tree.inclusion_proof(spread(i, MILLION), MILLION).unwrap())
    });
}

#[divan::bench]
fn inclusion_verify_1m(bencher: Bencher) {
    let tree = tree();
    let root = tree.root();
    let proofs: Vec<_> = (0..64)
        .map(|i| tree.inclusion_proof(spread(i, MILLION), MILLION).unwrap())
        .collect();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) % proofs.len();
        let p = &proofs[i];
        let leaf = leaves()[p.index as usize];
        verify_inclusion(p.index, p.tree_size, &leaf, &p.hashes, &root).unwrap();
    });
}

#[divan::bench]
fn consistency_proof_1m(bencher: Bencher) {
    let tree = tree();
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        black_box(
            tree.consistency_proof(1 + spread(i, MILLION - 1), MILLION)
                .unwrap(),
        )
    });
}

#[divan::bench]
fn consistency_verify_1m(bencher: Bencher) {
    let tree = tree();
    let root = tree.root();
    let cases: Vec<_> = (0..64)
        .map(|i| {
            let old = 1 + spread(i, MILLION - 1);
            (
                tree.root_at(old).unwrap(),
                tree.consistency_proof(old, MILLION).unwrap(),
            )
        })
        .collect();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) % cases.len();
        let (old_root, p) = &cases[i];
        verify_consistency(p.old_size, p.new_size, old_root, &root, &p.hashes).unwrap();
    });
}

fn signer() -> NoteSigner {
    NoteSigner::from_seed("bench.example/audit", [1; 32]).unwrap()
}

#[divan::bench]
fn checkpoint_sign(bencher: Bencher) {
    let signer = signer();
    let cp = Checkpoint::new(signer.name(), MILLION, tree().root()).unwrap();
    bencher.bench(|| black_box(cp.sign(&signer).unwrap()));
}

#[divan::bench]
fn checkpoint_open(bencher: Bencher) {
    let signer = signer();
    let verifier = signer.verifier();
    let signed = Checkpoint::new(signer.name(), MILLION, tree().root())
        .unwrap()
        .sign(&signer)
        .unwrap();
    bencher.bench(|| black_box(signed.open(&verifier).unwrap()));
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn verify_log_100k(bencher: Bencher) {
    const N: u64 = 100_000;
    let signer = signer();
    let mut log = AuditLog::new();
    let mut rows: Vec<StoredEntry> = Vec::new();
    let mut cps: Vec<SignedCheckpoint> = Vec::new();
    for i in 0..N {
        rows.push(log.append(&decision(i)));
        if log.size().is_multiple_of(N / 10) {
            cps.push(log.checkpoint(&signer).unwrap());
        }
    }
    let verifier = signer.verifier();
    bencher
        .counter(ItemsCount::new(N))
        .bench(|| black_box(verify_log(&rows, &cps, &verifier).unwrap().size()));
}
