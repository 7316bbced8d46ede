//! Entries, signed checkpoints and the verification of whole logs: a good log
//! verifies; an edited, deleted or reordered row makes verification fail and
//! name the first bad entry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use enduse_audit::rand_core::{CryptoRng, RngCore};
use enduse_audit::{
    canonical_json, json_digest, verify_log, AuditLog, Checkpoint, CheckpointError, Entry,
    EntryKind, Hash, LogExport, NoteError, NoteSigner, NoteVerifier, SignedCheckpoint, StoredEntry,
    VerifyError,
};
use serde_json::json;

const ORIGIN: &str = "enduse.example/audit";

/// A deterministic "RNG" for tests: SHA-256 in counter mode over a seed.
struct TestRng {
    seed: u64,
    counter: u64,
}

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let mut input = self.seed.to_le_bytes().to_vec();
            input.extend_from_slice(&self.counter.to_le_bytes());
            self.counter += 1;
            let h = Hash::digest(&input);
            chunk.copy_from_slice(&h.0[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), enduse_audit::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for TestRng {}

fn signer() -> NoteSigner {
    NoteSigner::generate(
        ORIGIN,
        &mut TestRng {
            seed: 1,
            counter: 0,
        },
    )
    .unwrap()
}

fn entry(i: u64) -> Entry {
    match i % 3 {
        0 => Entry::decision(
            &json!({"actor": "UA", "action": "use", "model": "ATACMS", "n": i}),
            &json!({"outcome": "needs_approval", "parties": ["US"]}),
            Some(i as i64),
        ),
        1 => Entry::workflow(&json!({"event": "approved", "case": i})),
        _ => Entry::register_txn(&json!({"txn": i, "note": format!("import {i}")})),
    }
}

/// A log of 40 entries with signed checkpoints at sizes 10, 20 and 40.
fn fixture() -> (Vec<StoredEntry>, Vec<SignedCheckpoint>, NoteSigner) {
    let signer = signer();
    let mut log = AuditLog::new();
    let mut rows = Vec::new();
    let mut cps = Vec::new();
    for i in 0..40 {
        rows.push(log.append(&entry(i)));
        if [10, 20, 40].contains(&log.size()) {
            cps.push(log.checkpoint(&signer).unwrap());
        }
    }
    (rows, cps, signer)
}

fn verify_err(rows: &[StoredEntry], cps: &[SignedCheckpoint], signer: &NoteSigner) -> VerifyError {
    verify_log(rows, cps, &signer.verifier()).unwrap_err()
}

#[test]
fn a_good_log_verifies() {
    let (rows, cps, signer) = fixture();
    let verified = verify_log(&rows, &cps, &signer.verifier()).unwrap();
    assert_eq!(verified.size(), 40);
    assert_eq!(verified.checkpoints().len(), 3);
    assert_eq!(verified.unsigned_entries(), 0);
    assert_eq!(verified.latest_checkpoint().unwrap().size(), 40);
    // Checkpoints may come in any order; entries after the last one are
    // reported as unsigned.
    let shuffled = vec![cps[2].clone(), cps[0].clone(), cps[1].clone()];
    verify_log(&rows, &shuffled, &signer.verifier()).unwrap();
    let v = verify_log(&rows, &cps[..2], &signer.verifier()).unwrap();
    assert_eq!(v.unsigned_entries(), 20);
    // And every entry is provably in the latest checkpoint.
    let root = verified.latest_checkpoint().unwrap().root();
    for row in &rows {
        let proof = verified.tree().inclusion_proof(row.index, 40).unwrap();
        proof.verify(&row.hash, &root).unwrap();
    }
    // The empty log, with or without a checkpoint of size 0.
    let empty = AuditLog::new().checkpoint(&signer).unwrap();
    verify_log(&[], &[empty], &signer.verifier()).unwrap();
    verify_log(&[], &[], &signer.verifier()).unwrap();
}

#[test]
fn an_edited_body_names_the_entry() {
    let (mut rows, cps, signer) = fixture();
    rows[17].body = rows[17].body.replace("17", "71");
    rows[30].body = rows[30].body.replace("import", "delete");
    let err = verify_err(&rows, &cps, &signer);
    assert_eq!(
        err.to_string(),
        "entry 17: its body does not match its hash"
    );
    assert_eq!(err.first_bad_entry(), Some(17));
}

#[test]
fn an_edited_kind_or_hash_names_the_entry() {
    let (mut rows, cps, signer) = fixture();
    rows[4].kind = "decision".to_owned();
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "entry 4: its body does not match its hash"
    );
    let (mut rows, cps, signer) = fixture();
    rows[6].hash.0[0] ^= 1;
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "entry 6: its body does not match its hash"
    );
}

#[test]
fn a_rewritten_entry_and_hash_fail_the_checkpoint() {
    let (mut rows, cps, signer) = fixture();
    rows[13].body = rows[13].body.replace("approved", "refused");
    rows[13].hash = rows[13].recompute_hash();
    let err = verify_err(&rows, &cps, &signer);
    assert_eq!(
        err.to_string(),
        "checkpoint of size 20: root does not match the entries \
         (the first bad entry is one of entries 10 to 19)"
    );
}

#[test]
fn a_deleted_row_is_missing() {
    let (mut rows, cps, signer) = fixture();
    rows.remove(5);
    let err = verify_err(&rows, &cps, &signer);
    assert_eq!(err.to_string(), "entry 5 is missing");
    assert_eq!(err.first_bad_entry(), Some(5));
}

#[test]
fn a_deleted_row_with_renumbering_is_missing() {
    let (mut rows, cps, signer) = fixture();
    rows.remove(5);
    for row in &mut rows[5..] {
        row.index -= 1;
    }
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "entry 5 is missing"
    );
}

#[test]
fn a_deleted_last_row_is_missing() {
    let (mut rows, cps, signer) = fixture();
    rows.pop();
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "entry 39 is missing"
    );
}

#[test]
fn swapped_rows_are_out_of_order() {
    // The rows change places, each keeping its index.
    let (mut rows, cps, signer) = fixture();
    rows.swap(8, 9);
    let err = verify_err(&rows, &cps, &signer);
    assert_eq!(err.to_string(), "entries 8 and 9 are out of order");
    assert_eq!(err.first_bad_entry(), Some(8));

    // The contents change places, the index column staying.
    let (mut rows, cps, signer) = fixture();
    let (a, b) = (rows[8].clone(), rows[9].clone());
    rows[8] = StoredEntry { index: 8, ..b };
    rows[9] = StoredEntry { index: 9, ..a };
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "entries 8 and 9 are out of order"
    );

    // A row moved further down.
    let (mut rows, cps, signer) = fixture();
    let moved = rows.remove(3);
    rows.insert(12, moved);
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "entries 3 and 4 are out of order"
    );
}

#[test]
fn a_repeated_row_appears_twice() {
    let (mut rows, cps, signer) = fixture();
    let copy = rows[3].clone();
    rows.insert(4, copy);
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "entry 3 appears twice"
    );
}

#[test]
fn a_malformed_row_is_named() {
    let mut log = AuditLog::new();
    let mut row = log.append(&Entry::workflow(&json!({"a": 1})));
    row.kind = "gossip".to_owned();
    row.hash = row.recompute_hash();
    let signer = signer();
    let err = verify_log(&[row], &[], &signer.verifier()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "entry 0: unknown entry kind `gossip` (expected decision, workflow or register_txn)"
    );
}

#[test]
fn checkpoints_from_another_key_or_altered_fail() {
    let (rows, mut cps, signer) = fixture();
    let other = NoteSigner::from_seed(ORIGIN, [9; 32]).unwrap();
    let mut forged_log = AuditLog::new();
    for row in &rows[..20] {
        forged_log.append(&row.entry().unwrap());
    }
    cps[1] = forged_log.checkpoint(&other).unwrap();
    let err = verify_err(&rows, &cps, &signer);
    assert!(
        err.to_string().starts_with(
            "checkpoint of size 20: the note has no signature by key enduse.example/audit+"
        ),
        "{err}"
    );

    // A checkpoint whose root line was altered after signing.
    let (rows, mut cps, signer) = fixture();
    let text = cps[0].as_str();
    let root_line = text.lines().nth(2).unwrap();
    let altered = text.replacen(root_line, &Hash::digest(b"x").to_base64(), 1);
    cps[0] = SignedCheckpoint::from_text(altered);
    let err = verify_err(&rows, &cps, &signer);
    assert!(
        err.to_string()
            .starts_with("checkpoint of size 10: invalid signature by key enduse.example/audit+"),
        "{err}"
    );
}

#[test]
fn a_fork_is_found() {
    // The key signed two different trees of size 20.
    let (rows, mut cps, signer) = fixture();
    let mut fork = AuditLog::new();
    for i in 0..20 {
        fork.append(&entry(i + 100));
    }
    cps.push(fork.checkpoint(&signer).unwrap());
    assert_eq!(
        verify_err(&rows, &cps, &signer).to_string(),
        "checkpoints of size 20 disagree on the root"
    );
}

#[test]
fn export_round_trip() {
    let (rows, cps, signer) = fixture();
    let export = LogExport::new(&signer.verifier(), rows, cps);
    let text = serde_json::to_string_pretty(&export).unwrap();
    let back: LogExport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, export);
    let key = NoteVerifier::parse(&back.key).unwrap();
    assert_eq!(back.verify(&key).unwrap().size(), 40);
}

#[test]
fn entries_encode_their_index_kind_and_body() {
    let e = Entry::workflow(&json!({"b": [1, 2], "a": "x\ny\u{1}"}));
    assert_eq!(e.kind(), EntryKind::Workflow);
    assert_eq!(e.body(), r#"{"a":"x\ny\u0001","b":[1,2]}"#);
    assert_eq!(
        e.encode(7),
        b"enduse-audit entry v1\n7\nworkflow\n{\"a\":\"x\\ny\\u0001\",\"b\":[1,2]}".to_vec()
    );
    assert_ne!(e.leaf_hash(7), e.leaf_hash(8));
    assert_eq!(e.digest(), Hash::digest(e.body().as_bytes()));
    let row = e.stored(7);
    assert!(row.hash_matches());
    assert_eq!(row.entry().unwrap(), e);
    assert_eq!(
        serde_json::to_value(EntryKind::RegisterTxn).unwrap(),
        json!("register_txn")
    );
    assert_eq!(
        "register_txn".parse::<EntryKind>().unwrap(),
        EntryKind::RegisterTxn
    );

    // A decision records the ask, a digest of the answer and the transaction.
    let answer = json!({"outcome": "forbid", "parties": ["DE", "US"]});
    let d = Entry::decision(&json!({"actor": "UA"}), &answer, Some(12));
    assert_eq!(d.kind(), EntryKind::Decision);
    assert_eq!(
        d.body_value().unwrap(),
        json!({"ask": {"actor": "UA"}, "answer_sha256": json_digest(&answer).to_hex(), "register_txn": 12})
    );

    // Canonical text: sorted keys, no spaces; serde_json escapes.
    let v = json!({"z": null, "é": true, "A": -1.5, "q": "\"\\\t\u{7f}"});
    assert_eq!(
        canonical_json(&v),
        "{\"A\":-1.5,\"q\":\"\\\"\\\\\\t\u{7f}\",\"z\":null,\"é\":true}"
    );
    assert!(Entry::from_canonical(EntryKind::Workflow, "{\"b\":1,\"a\":2}").is_err());
    assert!(Entry::from_canonical(EntryKind::Workflow, "{\"a\": 2}").is_err());
    assert!(Entry::from_canonical(EntryKind::Workflow, "{\"a\":2}").is_ok());
    assert!(Entry::from_canonical(EntryKind::Workflow, "{\"a\":").is_err());
}

#[test]
fn signed_note_round_trip() {
    let signer = signer();
    // Deterministic from the seeded RNG.
    assert_eq!(signer.key_string(), self::signer().key_string());
    let again = NoteSigner::from_key_string(&signer.key_string()).unwrap();
    assert_eq!(again.verifier(), signer.verifier());
    let vkey = signer.verifier().to_string();
    assert!(vkey.starts_with("enduse.example/audit+"));
    let verifier: NoteVerifier = vkey.parse().unwrap();
    assert_eq!(verifier, signer.verifier());
    assert!(!format!("{signer:?}").contains(&signer.key_string()[20..]));

    let text = "hello\nworld\n";
    let note = signer.sign(text).unwrap().to_string();
    let opened = verifier.open(&note).unwrap();
    assert_eq!(opened.text(), text);

    // Altered text.
    let altered = note.replacen("world", "w0rld", 1);
    assert!(matches!(
        verifier.open(&altered),
        Err(NoteError::BadSignature { .. })
    ));
    // Another key of the same name.
    let other = NoteSigner::from_seed(ORIGIN, [3; 32]).unwrap();
    assert!(matches!(
        other.verifier().open(&note),
        Err(NoteError::NotSigned { .. })
    ));
    // A second signature is added and both verify.
    let mut two = signer.sign(text).unwrap();
    let cosigner = NoteSigner::from_seed("witness.example", [4; 32]).unwrap();
    two.add_signature(&cosigner).unwrap();
    let two = two.to_string();
    verifier.open(&two).unwrap();
    cosigner.verifier().open(&two).unwrap();
    // Bad names and text.
    assert!(NoteSigner::from_seed("a b", [0; 32]).is_err());
    assert!(NoteSigner::from_seed("a+b", [0; 32]).is_err());
    assert!(NoteSigner::from_seed("", [0; 32]).is_err());
    assert!(signer.sign("no newline").is_err());
    assert!(signer.sign("tab\there\n").is_err());
}

#[test]
fn checkpoint_format() {
    let signer = signer();
    let root = Hash::digest(b"root");
    let cp = Checkpoint::new(ORIGIN, 42, root).unwrap();
    let text = cp.to_text();
    assert_eq!(text, format!("{ORIGIN}\n42\n{}\n", root.to_base64()));
    assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
    let ext = Checkpoint::with_extensions(ORIGIN, 1, root, vec!["ext line".to_owned()]).unwrap();
    assert_eq!(Checkpoint::parse(&ext.to_text()).unwrap(), ext);

    let signed = cp.sign(&signer).unwrap();
    assert_eq!(signed.open(&signer.verifier()).unwrap(), cp);
    assert_eq!(signed.unverified().unwrap(), cp);
    assert!(signed.as_str().starts_with(&text));

    for bad in [
        "",
        "origin\n",
        "origin\n42\n",
        "origin\n042\nAAAA\n",
        "origin\n-1\n",
        &format!("origin\n42\n{}", root.to_base64()),
        &format!("\n42\n{}\n", root.to_base64()),
        &format!("origin\n42\n{}\n\n", root.to_base64()),
        "origin\n42\nAAAA\n",
    ] {
        assert!(Checkpoint::parse(bad).is_err(), "parsed {bad:?}");
    }

    // A checkpoint of another origin is refused, even with the right key.
    let foreign = Checkpoint::new("other.example", 1, root).unwrap();
    assert!(matches!(
        foreign.sign(&signer),
        Err(CheckpointError::WrongOrigin { .. })
    ));
    let other_origin = NoteSigner::from_seed("other.example", [5; 32]).unwrap();
    let note = other_origin.sign(&foreign.to_text()).unwrap().to_string();
    let as_ours = NoteVerifier::parse(&other_origin.verifier().to_string()).unwrap();
    assert!(SignedCheckpoint::from_text(note.clone())
        .open(&as_ours)
        .is_ok());
    assert!(SignedCheckpoint::from_text(note)
        .open(&signer.verifier())
        .is_err());
}
