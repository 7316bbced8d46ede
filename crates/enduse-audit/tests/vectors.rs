//! Known-answer tests against published test vectors.
//!
//! - RFC 6962 hashes, tree heads, inclusion and consistency proofs: the
//!   vectors of transparency-dev/merkle, files `rfc6962/rfc6962_test.go`
//!   (`TestRFC6962Hasher`) and `proof/verify_test.go` (`leaves`, `roots`,
//!   `inclusionProofs`, `consistencyProofs`, and the corruptions of
//!   `corruptInclusionProof` / `corruptConsistencyProof`). The same vectors
//!   are in google/certificate-transparency-go and in the transparency-dev
//!   `testdata/` JSON files (e.g. `testdata/consistency/1/happy-path.json`).
//! - Signed notes: golang/mod, file `sumdb/note/note_test.go` (`TestNewVerifier`,
//!   `TestNewSigner`, `TestSign`, `TestOpen`): the PeterNeumann and EnochRoot
//!   keys and signatures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use enduse_audit::{
    leaf_hash, node_hash, tree_root, verify_consistency, verify_inclusion, Hash, MerkleTree, Note,
    NoteSigner, NoteVerifier, EMPTY_ROOT,
};

fn h(s: &str) -> Hash {
    Hash::from_hex(s).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// transparency-dev/merkle proof/verify_test.go: `leaves`.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

// transparency-dev/merkle proof/verify_test.go: `roots` (of the first 1..=8 leaves).
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

// transparency-dev/merkle proof/verify_test.go: `inclusionProofs`
// (leaf numbers there are 1-based: {leaf, size, proof}).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

// transparency-dev/merkle proof/verify_test.go: `consistencyProofs`
// ({size1, size2, proof}).
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

// transparency-dev/merkle proof/verify_test.go: `sha256SomeHash`.
const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

/// Sizes or index and size, two hashes (root and leaf, or two roots), a proof, and what was altered.
type Probe = (u64, u64, Hash, Hash, Vec<Hash>, &'static str);

fn leaf_hashes() -> Vec<Hash> {
    LEAVES.iter().map(|l| leaf_hash(&unhex(l))).collect()
}

fn tree() -> MerkleTree {
    MerkleTree::from_leaf_hashes(leaf_hashes())
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|s| h(s)).collect()
}

#[test]
fn rfc6962_hasher() {
    // transparency-dev/merkle rfc6962/rfc6962_test.go, TestRFC6962Hasher.
    assert_eq!(
        EMPTY_ROOT,
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(tree_root(&[]), EMPTY_ROOT);
    assert_eq!(MerkleTree::new().root(), EMPTY_ROOT);
    assert_eq!(
        leaf_hash(b""),
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    );
    assert_eq!(
        leaf_hash(b"L123456"),
        h("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    );
    // HashChildren("N123", "N456"): the node hash over raw bytes, not hashes,
    // so it is checked with the same construction by hand.
    let mut data = vec![0x01];
    data.extend_from_slice(b"N123N456");
    assert_eq!(
        Hash::digest(&data),
        h("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")
    );
    // And node_hash is that construction over 32-byte children.
    let (l, r) = (leaf_hash(b"Hello"), leaf_hash(b"World"));
    let mut data = vec![0x01];
    data.extend_from_slice(&l.0);
    data.extend_from_slice(&r.0);
    assert_eq!(node_hash(&l, &r), Hash::digest(&data));
    assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
}

#[test]
fn roots_of_every_prefix() {
    let leaves = leaf_hashes();
    let tree = tree();
    for (i, want) in ROOTS.iter().enumerate() {
        let size = i as u64 + 1;
        assert_eq!(tree.root_at(size).unwrap(), h(want), "root at size {size}");
        assert_eq!(tree_root(&leaves[..=i]), h(want), "tree_root of {size}");
        let partial = MerkleTree::from_leaf_hashes(leaves[..=i].iter().copied());
        assert_eq!(partial.root(), h(want), "incremental root of {size}");
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let tree = tree();
    let leaves = leaf_hashes();
    for (leaf, size, proof) in INCLUSION {
        let index = leaf - 1;
        let want = hashes(proof);
        let made = tree.inclusion_proof(index, size).unwrap();
        assert_eq!(made.hashes, want, "proof of leaf {index} in {size}");
        let root = h(ROOTS[size as usize - 1]);
        let leaf_h = leaves[index as usize];
        verify_inclusion(index, size, &leaf_h, &want, &root).unwrap();

        // The corruptions of corruptInclusionProof: none may verify.
        let some = h(SOME_HASH);
        let mut probes: Vec<Probe> = vec![
            (
                index.wrapping_sub(1),
                size,
                root,
                leaf_h,
                want.clone(),
                "index - 1",
            ),
            (index + 1, size, root, leaf_h, want.clone(), "index + 1"),
            (index ^ 2, size, root, leaf_h, want.clone(), "index ^ 2"),
            (index, size * 2, root, leaf_h, want.clone(), "size * 2"),
            (index, size / 2, root, leaf_h, want.clone(), "size / 2"),
            (
                index,
                size,
                root,
                leaf_hash(b"WrongLeaf"),
                want.clone(),
                "wrong leaf",
            ),
            (index, size, EMPTY_ROOT, leaf_h, want.clone(), "empty root"),
            (index, size, some, leaf_h, want.clone(), "random root"),
            (
                index,
                size,
                root,
                leaf_h,
                [want.clone(), vec![root]].concat(),
                "trailing root",
            ),
            (
                index,
                size,
                root,
                leaf_h,
                [vec![root], want.clone()].concat(),
                "preceding root",
            ),
        ];
        for i in 0..want.len() {
            let mut p = want.clone();
            p[i].0[0] ^= 8;
            probes.push((index, size, root, leaf_h, p, "modified proof bit 3"));
        }
        if !want.is_empty() {
            probes.push((
                index,
                size,
                root,
                leaf_h,
                want[..want.len() - 1].to_vec(),
                "removed component",
            ));
        }
        if want.len() > 1 {
            let p = [vec![want[0], some], want[1..].to_vec()].concat();
            probes.push((index, size, root, leaf_h, p, "inserted component"));
        }
        for (i, s, r, l, p, what) in probes {
            if i == index && s == size && r == root && l == leaf_h && p == want {
                continue; // the probe happens to be the original (e.g. index ^ 2 out of range)
            }
            assert!(
                verify_inclusion(i, s, &l, &p, &r).is_err(),
                "{what} verified for leaf {index} in {size}"
            );
        }
    }
}

#[test]
fn inclusion_edge_cases() {
    // proof/verify_test.go TestVerifyInclusion: {index, size} probes with an
    // empty proof never verify against the empty root or a random hash.
    let some = h(SOME_HASH);
    for (index, size) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(index, size, &some, &[], &EMPTY_ROOT).is_err());
    }
    // TestVerifyInclusionSingleEntry: root and leaf hash of a 1-entry tree are the same.
    let hash = leaf_hash(b"data");
    verify_inclusion(0, 1, &hash, &[], &hash).unwrap();
    assert!(verify_inclusion(0, 1, &hash, &[], &EMPTY_ROOT).is_err());
    assert!(tree().inclusion_proof(8, 8).is_err());
    assert!(tree().inclusion_proof(0, 9).is_err());
    assert!(tree().inclusion_proof(0, 0).is_err());
}

#[test]
fn consistency_proofs_match_and_verify() {
    let tree = tree();
    let some = h(SOME_HASH);
    for (size1, size2, proof) in CONSISTENCY {
        let want = hashes(proof);
        let made = tree.consistency_proof(size1, size2).unwrap();
        assert_eq!(made.hashes, want, "proof {size1} -> {size2}");
        let root1 = h(ROOTS[size1 as usize - 1]);
        let root2 = h(ROOTS[size2 as usize - 1]);
        verify_consistency(size1, size2, &root1, &root2, &want).unwrap();
        made.verify(&root1, &root2).unwrap();
        if want.is_empty() {
            continue;
        }
        // The corruptions of corruptConsistencyProof: none may verify.
        let wrong = leaf_hash(b"WrongRoot");
        let mut probes: Vec<Probe> = vec![
            (size1 - 1, size2, root1, root2, want.clone(), "size1 - 1"),
            (size1 + 1, size2, root1, root2, want.clone(), "size1 + 1"),
            (size1 ^ 2, size2, root1, root2, want.clone(), "size1 ^ 2"),
            (size1, size2 * 2, root1, root2, want.clone(), "size2 * 2"),
            (size1, size2 / 2, root1, root2, want.clone(), "size2 / 2"),
            (size1, size2, wrong, root2, want.clone(), "wrong root1"),
            (size1, size2, root1, wrong, want.clone(), "wrong root2"),
            (size1, size2, root2, root1, want.clone(), "swapped roots"),
            (size1, size2, root1, root2, vec![], "empty proof"),
            (
                size1,
                size2,
                root1,
                root2,
                [want.clone(), vec![root1]].concat(),
                "trailing root1",
            ),
            (
                size1,
                size2,
                root1,
                root2,
                [want.clone(), vec![root2]].concat(),
                "trailing root2",
            ),
            (
                size1,
                size2,
                root1,
                root2,
                [vec![root1], want.clone()].concat(),
                "preceding root1",
            ),
            (
                size1,
                size2,
                root1,
                root2,
                [vec![root2], want.clone()].concat(),
                "preceding root2",
            ),
            (
                size1,
                size2,
                root1,
                root2,
                [vec![want[0]], want.clone()].concat(),
                "preceding proof[0]",
            ),
            (
                size1,
                size2,
                root1,
                root2,
                want[..want.len() - 1].to_vec(),
                "truncated proof",
            ),
            (
                size1,
                size2,
                root1,
                root2,
                [want.clone(), vec![some]].concat(),
                "trailing garbage",
            ),
        ];
        for i in 0..want.len() {
            let mut p = want.clone();
            p[i].0[0] ^= 16;
            probes.push((size1, size2, root1, root2, p, "modified proof bit 4"));
        }
        for (s1, s2, r1, r2, p, what) in probes {
            assert!(
                verify_consistency(s1, s2, &r1, &r2, &p).is_err(),
                "{what} verified for {size1} -> {size2}"
            );
        }
    }
}

#[test]
fn consistency_edge_cases() {
    // proof/verify_test.go TestVerifyConsistency.
    let root1 = leaf_hash(b"don't care 1");
    let root2 = leaf_hash(b"don't care 2");
    let e = EMPTY_ROOT;
    let cases: [(u64, u64, Hash, Hash, Vec<Hash>, bool); 13] = [
        (0, 0, root1, root2, vec![], true),
        (1, 1, root1, root2, vec![], true),
        (0, 0, root1, root1, vec![], false),
        (0, 1, root1, root2, vec![], false),
        (1, 1, root2, root2, vec![], false),
        (1, 0, root1, root2, vec![], true),
        (2, 1, root1, root2, vec![], true),
        (1, 2, root1, root2, vec![], true),
        (0, 0, e, root2, vec![], true),
        (1, 1, e, root2, vec![], true),
        (0, 0, e, e, vec![e], true),
        (0, 1, e, e, vec![e], true),
        (1, 1, e, e, vec![e], true),
    ];
    for (s1, s2, r1, r2, p, want_err) in cases {
        assert_eq!(
            verify_consistency(s1, s2, &r1, &r2, &p).is_err(),
            want_err,
            "{s1} -> {s2}"
        );
    }
    assert!(tree().consistency_proof(5, 4).is_err());
    assert!(tree().consistency_proof(1, 9).is_err());
    assert!(tree().consistency_proof(0, 8).unwrap().hashes.is_empty());
}

// golang/mod sumdb/note/note_test.go.
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn go_note_keys() {
    let v = NoteVerifier::parse(PETER_VKEY).unwrap();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.key_id(), 0xc74f20a3);
    assert_eq!(v.to_string(), PETER_VKEY);

    let s = NoteSigner::from_key_string(PETER_SKEY).unwrap();
    assert_eq!(s.name(), "PeterNeumann");
    assert_eq!(s.key_id(), 0xc74f20a3);
    assert_eq!(s.verifier(), v);
    assert_eq!(s.key_string(), PETER_SKEY);

    // TestNewVerifier / TestNewSigner: every strict substring and every
    // single-byte change is refused.
    for key in [PETER_VKEY, PETER_SKEY] {
        let parse = |k: &str| {
            if key == PETER_VKEY {
                NoteVerifier::parse(k).is_ok()
            } else {
                NoteSigner::from_key_string(k).is_ok()
            }
        };
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    let sub = String::from_utf8_lossy(&b[i..j]).into_owned();
                    assert!(!parse(&sub), "accepted {sub:?}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] += 1;
            let m = String::from_utf8_lossy(&m).into_owned();
            assert!(!parse(&m), "accepted {m:?}");
        }
    }
    // Wrong key length and unknown algorithm, each with an adjusted key hash.
    assert!(NoteVerifier::parse(
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    )
    .is_err());
    assert!(NoteVerifier::parse(
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    .is_err());
}

#[test]
fn go_note_sign_and_open() {
    // TestSign: Ed25519 is deterministic, so the signature is exactly Go's.
    let s = NoteSigner::from_key_string(PETER_SKEY).unwrap();
    let note = s.sign(TEXT).unwrap();
    assert_eq!(note.to_string(), format!("{TEXT}\n{PETER_SIG}"));
    assert!(s.sign("abc").is_err(), "text without a final newline");

    // TestOpen: one signature verified, the other kept.
    let peter = NoteVerifier::parse(PETER_VKEY).unwrap();
    let enoch = NoteVerifier::parse(ENOCH_VKEY).unwrap();
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let opened = peter.open(&msg).unwrap();
    assert_eq!(opened.text(), TEXT);
    assert_eq!(opened.signatures().len(), 2);
    assert_eq!(opened.signatures()[1].key_id, 0xaf0cfe78);
    enoch.open(&msg).unwrap();
    // Only Enoch's signature: Peter's key finds none.
    assert!(peter.open(&format!("{TEXT}\n{ENOCH_SIG}")).is_err());
    // Too many signatures.
    assert!(Note::parse(&format!("{TEXT}\n{}", PETER_SIG.repeat(101))).is_err());
    // A signature with four characters inserted does not verify.
    let bad = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(peter.open(&format!("{TEXT}\n{bad}")).is_err());
    // Invalid encoded message syntax (TestOpen's badMsgs).
    for msg in [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\u{1}{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ] {
        assert!(peter.open(&msg).is_err(), "opened {msg:?}");
    }
}
