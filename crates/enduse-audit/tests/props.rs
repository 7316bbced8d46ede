//! Property tests: the incremental tree against the recursive definitions of
//! RFC 6962 §2.1 (MTH, PATH, PROOF/SUBPROOF) written out literally here, and
//! every generated proof verifying while every altered one fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use enduse_audit::{
    canonical_json, leaf_hash, node_hash, verify_consistency, verify_inclusion, CompactRange, Hash,
    MerkleTree, EMPTY_ROOT,
};
use proptest::prelude::*;
use serde_json::Value;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]), RFC 6962 §2.1, over leaf hashes.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => EMPTY_ROOT,
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]), RFC 6962 §2.1.1.
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b), RFC 6962 §2.1.2.
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

/// A size and an index below it.
fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1u64..600).prop_flat_map(|n| (Just(n), 0..n))
}

/// Two sizes, the first no larger than the second.
fn two_sizes() -> impl Strategy<Value = (u64, u64)> {
    (1u64..600).prop_flat_map(|n| (1..=n, Just(n)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn heads_agree_with_the_definition(n in 0u64..700, extra in 0u64..50) {
        let d = leaves(n + extra);
        let tree = MerkleTree::from_leaf_hashes(d.iter().copied());
        let mut range = CompactRange::new();
        for h in &d[..n as usize] {
            range.push(*h);
        }
        let want = mth(&d[..n as usize]);
        prop_assert_eq!(tree.root_at(n).unwrap(), want);
        prop_assert_eq!(range.root(), want);
        prop_assert_eq!(range.size(), n);
    }

    #[test]
    fn inclusion_proofs_verify((n, m) in size_and_index(), extra in 0u64..40, flip in any::<(usize, usize, u8)>()) {
        let d = leaves(n + extra);
        let tree = MerkleTree::from_leaf_hashes(d.iter().copied());
        let proof = tree.inclusion_proof(m, n).unwrap();
        let prefix = &d[..n as usize];
        prop_assert_eq!(&proof.hashes, &path(m as usize, prefix));
        let root = mth(prefix);
        proof.verify(&d[m as usize], &root).unwrap();

        // A flipped bit anywhere in the proof fails.
        if !proof.hashes.is_empty() {
            let mut bad = proof.hashes.clone();
            let i = flip.0 % bad.len();
            bad[i].0[flip.1 % 32] ^= 1 << (flip.2 % 8);
            prop_assert!(verify_inclusion(m, n, &d[m as usize], &bad, &root).is_err());
        }
        // So does a flipped bit in the leaf or the root, or another index.
        let mut leaf = d[m as usize];
        leaf.0[flip.1 % 32] ^= 1 << (flip.2 % 8);
        prop_assert!(verify_inclusion(m, n, &leaf, &proof.hashes, &root).is_err());
        let mut bad_root = root;
        bad_root.0[flip.1 % 32] ^= 1 << (flip.2 % 8);
        prop_assert!(verify_inclusion(m, n, &d[m as usize], &proof.hashes, &bad_root).is_err());
        if n > 1 {
            let other = (m + 1 + flip.0 as u64 % (n - 1)) % n;
            prop_assert!(verify_inclusion(other, n, &d[m as usize], &proof.hashes, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify((m, n) in two_sizes(), extra in 0u64..40, flip in any::<(usize, usize, u8)>()) {
        let d = leaves(n + extra);
        let tree = MerkleTree::from_leaf_hashes(d.iter().copied());
        let proof = tree.consistency_proof(m, n).unwrap();
        let want = subproof(m as usize, &d[..n as usize], true);
        prop_assert_eq!(&proof.hashes, &want);
        let (r1, r2) = (mth(&d[..m as usize]), mth(&d[..n as usize]));
        proof.verify(&r1, &r2).unwrap();

        if !proof.hashes.is_empty() {
            let mut bad = proof.hashes.clone();
            let i = flip.0 % bad.len();
            bad[i].0[flip.1 % 32] ^= 1 << (flip.2 % 8);
            prop_assert!(verify_consistency(m, n, &r1, &r2, &bad).is_err());
        }
        let mut bad1 = r1;
        bad1.0[flip.1 % 32] ^= 1 << (flip.2 % 8);
        prop_assert!(verify_consistency(m, n, &bad1, &r2, &proof.hashes).is_err());
        let mut bad2 = r2;
        bad2.0[flip.1 % 32] ^= 1 << (flip.2 % 8);
        prop_assert!(verify_consistency(m, n, &r1, &bad2, &proof.hashes).is_err());
        if m < n {
            // The same proof does not pass for another old size.
            let other = m % (n - 1) + 1;
            if other != m {
                let r_other = mth(&d[..other as usize]);
                prop_assert!(verify_consistency(other, n, &r_other, &r2, &proof.hashes).is_err());
            }
        }
    }

    #[test]
    fn canonical_json_is_stable(v in json_value()) {
        let text = canonical_json(&v);
        let back: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(canonical_json(&back), text.clone());
        prop_assert_eq!(back, v);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000_000i64..1_000_000_000).prop_map(|k| Value::from(k as f64 / 64.0)),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn every_small_pair_by_exhaustion() {
    let d = leaves(70);
    let tree = MerkleTree::from_leaf_hashes(d.iter().copied());
    for n in 1..=70u64 {
        let root = mth(&d[..n as usize]);
        for m in 0..n {
            let p = tree.inclusion_proof(m, n).unwrap();
            verify_inclusion(m, n, &d[m as usize], &p.hashes, &root).unwrap();
        }
        for m in 0..=n {
            let p = tree.consistency_proof(m, n).unwrap();
            verify_consistency(m, n, &mth(&d[..m as usize]), &root, &p.hashes).unwrap();
        }
    }
}
