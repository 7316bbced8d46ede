//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys,
//! compatible with Go's `golang.org/x/mod/sumdb/note`.
//!
//! Why not the `signed_note` crate: its 0.2 release (the latest) is built on
//! `base64` 0.21, `thiserror` 1 and boxed `dyn Verifier` lists, and its errors
//! are not `miette` diagnostics. The format is short, so it is written here
//! and checked against the Go package's own test vectors (the PeterNeumann
//! key and note of `sumdb/note/note_test.go`, see `tests/vectors.rs`).
//!
//! - A verifier key is `<name>+<key id, 8 hex digits>+<base64(0x01 || public key)>`.
//! - A signer key is `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>`.
//! - The key id is the first 4 bytes (big-endian) of
//!   SHA-256(name || "\n" || 0x01 || public key).
//! - A note is its text (UTF-8, no control characters but newlines, ending
//!   in a newline), a blank line, then one line per signature:
//!   `— <name> <base64(key id || signature)>`.

use crate::hash::Hash;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use std::fmt;
use std::str::FromStr;

/// The algorithm byte of Ed25519 keys in the signed-note format.
const ALG_ED25519: u8 = 0x01;
/// The most signatures a note may carry (as in Go's implementation).
const MAX_SIGNATURES: usize = 100;
/// What starts a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// What can go wrong with keys and notes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum NoteError {
    /// A key name that is empty or holds a space or a `+`.
    #[error("`{0}` is not a valid key name (it must be non-empty, without spaces or `+`)")]
    BadKeyName(String),
    /// A verifier key string that cannot be read.
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(String),
    /// A signer key string that cannot be read.
    #[error("malformed signer key")]
    BadSignerKey,
    /// Note text that cannot be signed or a message that is not a note.
    #[error("malformed note: {0}")]
    Malformed(String),
    /// No signature by the key.
    #[error("the note has no signature by key {key}")]
    NotSigned {
        /// The key, as `name+id`.
        key: String,
    },
    /// A signature by the key that does not verify.
    #[error("invalid signature by key {key}")]
    BadSignature {
        /// The key, as `name+id`.
        key: String,
    },
}

/// Whether `name` can name a key: non-empty, no white space, no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::BadKeyName(name.to_owned()))
    }
}

/// The key id of a named Ed25519 public key.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut data = Vec::with_capacity(name.len() + 34);
    data.extend_from_slice(name.as_bytes());
    data.push(b'\n');
    data.push(ALG_ED25519);
    data.extend_from_slice(public_key);
    let h = Hash::digest(&data);
    u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]])
}

fn parse_key_id(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// A named Ed25519 signing key. Its `Debug` output hides the secret.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A new key named `name`, drawn from `rng` (give it a seeded RNG in
    /// tests, the operating system's at `init`).
    pub fn generate<R: RngCore + CryptoRng>(
        name: &str,
        rng: &mut R,
    ) -> Result<NoteSigner, NoteError> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        NoteSigner::from_seed(name, seed)
    }

    /// The key named `name` with this 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<NoteSigner, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Reads a signer key string (`PRIVATE+KEY+name+id+base64`), as Go's
    /// `note.NewSigner` does; the id must match the key.
    pub fn from_key_string(s: &str) -> Result<NoteSigner, NoteError> {
        let rest = s
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::BadSignerKey)?;
        // The base64 key may itself hold `+`: split off two fields only.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadSignerKey);
        };
        let id = parse_key_id(id).ok_or(NoteError::BadSignerKey)?;
        let bytes = BASE64.decode(key).map_err(|_| NoteError::BadSignerKey)?;
        let Some((&ALG_ED25519, seed)) = bytes.split_first() else {
            return Err(NoteError::BadSignerKey);
        };
        let seed: [u8; 32] = seed.try_into().map_err(|_| NoteError::BadSignerKey)?;
        if !is_valid_key_name(name) {
            return Err(NoteError::BadSignerKey);
        }
        let signer = NoteSigner::from_seed(name, seed)?;
        if signer.id != id {
            return Err(NoteError::BadSignerKey);
        }
        Ok(signer)
    }

    /// The signer key string (`PRIVATE+KEY+name+id+base64`). It holds the
    /// secret: store it as a secret.
    pub fn key_string(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ALG_ED25519);
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64.encode(bytes)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The signature line for `text` (which must be valid note text).
    pub fn signature(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.id,
            signature: sig.to_bytes().to_vec(),
        })
    }

    /// A note of `text` signed by this key alone.
    pub fn sign(&self, text: &str) -> Result<Note, NoteError> {
        let signature = self.signature(text)?;
        Ok(Note {
            text: text.to_owned(),
            signatures: vec![signature],
        })
    }
}

/// A named Ed25519 public key, read from and shown as a verifier key string
/// (`name+id+base64`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Reads a verifier key string (`name+id+base64(0x01 || key)`); the id
    /// must match the name and the key.
    pub fn parse(s: &str) -> Result<NoteVerifier, NoteError> {
        let bad = |why: &str| NoteError::BadVerifierKey(why.to_owned());
        // The base64 key may itself hold `+`: split off two fields only.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+id+key"));
        };
        if !is_valid_key_name(name) {
            return Err(bad("invalid key name"));
        }
        let id = parse_key_id(id).ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let bytes = BASE64
            .decode(key)
            .map_err(|_| bad("the key is not base64"))?;
        let Some((&alg, public)) = bytes.split_first() else {
            return Err(bad("empty key"));
        };
        if alg != ALG_ED25519 {
            return Err(bad("unknown key algorithm"));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("an ed25519 key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("not an ed25519 key"))?;
        if key_id(name, &public) != id {
            return Err(bad("the key id does not match the key"));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// Reads a signed note and checks that this key signed its text: every
    /// signature line carrying this key's name and id must verify, and there
    /// must be at least one. Signatures by other keys are kept, unchecked.
    pub fn open(&self, msg: &str) -> Result<Note, NoteError> {
        let note = Note::parse(msg)?;
        self.check(&note)?;
        Ok(note)
    }

    /// Checks that this key signed the note's text (see [`NoteVerifier::open`]).
    pub fn check(&self, note: &Note) -> Result<(), NoteError> {
        let mut found = false;
        for sig in &note.signatures {
            if sig.name != self.name || sig.key_id != self.id {
                continue;
            }
            let bytes: [u8; 64] = sig
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| NoteError::BadSignature { key: self.label() })?;
            let signature = ed25519_dalek::Signature::from_bytes(&bytes);
            self.key
                .verify_strict(note.text.as_bytes(), &signature)
                .map_err(|_| NoteError::BadSignature { key: self.label() })?;
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(NoteError::NotSigned { key: self.label() })
        }
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ALG_ED25519);
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, BASE64.encode(bytes))
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NoteVerifier::parse(s)
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: u32,
    /// The signature bytes (64 for Ed25519), without the key id.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line, without its final newline.
    pub fn line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}", self.name, BASE64.encode(bytes))
    }

    fn parse_line(line: &str) -> Result<NoteSignature, NoteError> {
        let bad = || NoteError::Malformed(format!("bad signature line `{line}`"));
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(bad)?;
        let (name, b64) = rest.split_once(' ').ok_or_else(bad)?;
        if !is_valid_key_name(name) || b64.is_empty() {
            return Err(bad());
        }
        let bytes = BASE64.decode(b64).map_err(|_| bad())?;
        if bytes.len() < 5 {
            return Err(bad());
        }
        let (id, signature) = bytes.split_at(4);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
            signature: signature.to_vec(),
        })
    }
}

/// Checks note text: non-empty, ending in a newline, no control characters
/// other than newlines.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the text must end with a newline".to_owned(),
        ));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed(
            "the text holds a control character".to_owned(),
        ));
    }
    Ok(())
}

/// A signed note: text and signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Reads a note (its signatures are not checked: see
    /// [`NoteVerifier::open`]).
    pub fn parse(msg: &str) -> Result<Note, NoteError> {
        if msg.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::Malformed(
                "the note holds a control character".to_owned(),
            ));
        }
        let split = msg.rfind("\n\n").ok_or_else(|| {
            NoteError::Malformed("no blank line before the signatures".to_owned())
        })?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::Malformed(
                "the signatures must end with a newline".to_owned(),
            ));
        };
        let signatures = sigs
            .split('\n')
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures".to_owned()));
        }
        check_text(text)?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, with its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds (or replaces) the signature of `signer`.
    pub fn add_signature(&mut self, signer: &NoteSigner) -> Result<(), NoteError> {
        let sig = signer.signature(&self.text)?;
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        self.signatures.push(sig);
        Ok(())
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            writeln!(f, "{}", sig.line())?;
        }
        Ok(())
    }
}
