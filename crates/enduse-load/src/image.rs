//! A built register in binary form (an *image*): the core's [`Register`],
//! its [`Rule`]s and the Cedar schema, ready to hand to the engine without
//! parsing TOML, JSON or Cedar again.
//!
//! Why this format. The engine needs owned values (`BTreeMap`s of
//! `String`-keyed structs), so a zero-copy format (rkyv) would save nothing
//! over decoding into them, and would need a second, archived copy of every
//! core type. The core types already derive serde, so the image is
//! [postcard](https://docs.rs/postcard) of them: a compact, documented and
//! stable wire format (varints, length-prefixed strings), decoded at
//! hundreds of MB/s. Postcard is not self-describing, so the image carries
//! a fingerprint of the source of the types it holds (made by `build.rs`):
//! an image written by a build with other types is refused, never misread.
//! A SHA-256 of the payload is checked before decoding, so a truncated or
//! corrupted image is refused too. A refused image costs time only: every
//! caller falls back to building the register from its source (files or
//! records), which stays the truth.
//!
//! Layout: `ENDUSEI1`, the 16 hex digits of the type fingerprint, the
//! 32-byte SHA-256 of the rest, then three length-prefixed sections (the
//! register, the rules, the schema text) so that the register and the rules
//! decode on two cores.

use enduse_core::{Checks, Engine, Register, Rule};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"ENDUSEI1";
const TYPES: &str = env!("ENDUSE_IMAGE_TYPES");
const HEADER: usize = 8 + 16 + 32;

/// Why an image was not used. Each is a reason to rebuild from the source,
/// never a wrong answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Not an image, or one written by a build with other types.
    #[error("the register image was written by another build of enduse")]
    Foreign,
    /// The checksum does not match: truncated or corrupted.
    #[error("the register image is corrupted: its sha-256 does not match")]
    Corrupt,
    /// The checksum matches but the content does not decode.
    #[error("the register image cannot be decoded: {0}")]
    Undecodable(String),
    /// The register could not be encoded.
    #[error("the register cannot be encoded: {0}")]
    Unencodable(String),
    /// The engine refused the decoded register.
    #[error("the register image does not build an engine: {0}")]
    Invalid(String),
}

/// Encodes a register, its rules and the schema text as an image.
pub fn encode_image(
    register: &Register,
    rules: &[Rule],
    schema: &str,
) -> Result<Vec<u8>, ImageError> {
    let enc = |e: postcard::Error| ImageError::Unencodable(e.to_string());
    let sections = [
        postcard::to_allocvec(register).map_err(enc)?,
        postcard::to_allocvec(rules).map_err(enc)?,
        schema.as_bytes().to_vec(),
    ];
    let mut payload =
        Vec::with_capacity(sections.iter().map(|s| s.len() + 8).sum::<usize>() + HEADER);
    for s in &sections {
        payload.extend_from_slice(&(s.len() as u64).to_le_bytes());
        payload.extend_from_slice(s);
    }
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(TYPES.as_bytes());
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The image of an engine's register and rules.
pub fn image_of_engine(engine: &Engine, schema: &str) -> Result<Vec<u8>, ImageError> {
    encode_image(engine.register(), engine.rules(), schema)
}

/// The image of trusted records (a store's heads, in the order a store
/// returns them: by kind name, then key): exactly what
/// [`crate::engine_from_trusted_records`] builds from them. `Ok(None)` when
/// a rule was stored without its parsed header, so that only Cedar can read
/// it.
pub fn image_from_records(
    origin: &str,
    records: &[&crate::Record],
) -> Result<Option<Vec<u8>>, crate::DataSetError> {
    let Some((register, rules, schema)) = crate::records::trusted_parts(origin, records)? else {
        return Ok(None);
    };
    Ok(encode_image(&register, &rules, &schema).ok())
}

/// SHA-256 of every file of a data set (name and content, in name order):
/// ties an image made at build time to the exact files it was made from.
pub fn files_digest(files: &crate::DataFiles) -> [u8; 32] {
    let mut h = Sha256::new();
    for (name, text) in files.iter() {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().into()
}

/// An image tied to the data-set files it was made from: their
/// [`files_digest`], then the image. Made at build time for the bundled
/// data set.
pub fn seal_for_files(files: &crate::DataFiles, image: &[u8]) -> Vec<u8> {
    let mut out = files_digest(files).to_vec();
    out.extend_from_slice(image);
    out
}

/// The engine of a [`seal_for_files`] blob, if it was made from exactly
/// `files` and is sound; `None` means: load the files.
pub fn engine_for_files(files: &crate::DataFiles, sealed: &[u8]) -> Option<Engine> {
    engine_for_digest(&files_digest(files), sealed)
}

/// The engine of a [`seal_for_files`] blob, if it was made from files whose
/// [`files_digest`] is `digest` and is sound; `None` means: load the files.
/// For the bundled data set the digest is [`bundled_files_digest`], known
/// at build time, so the files compiled into the binary need not be copied
/// and hashed by every process.
pub fn engine_for_digest(digest: &[u8; 32], sealed: &[u8]) -> Option<Engine> {
    let (seal, image) = (sealed.get(..32)?, sealed.get(32..)?);
    if seal != digest.as_slice() {
        return None;
    }
    engine_from_image(image).ok()
}

/// The [`files_digest`] of [`crate::bundled_files`], computed by the build
/// script from the same directory the files are compiled from.
pub fn bundled_files_digest() -> [u8; 32] {
    let hex = env!("ENDUSE_BUNDLED_DIGEST").as_bytes();
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    };
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        let (hi, lo) = (hex.get(2 * i), hex.get(2 * i + 1));
        *b = (nibble(hi.copied().unwrap_or(0)) << 4) | nibble(lo.copied().unwrap_or(0));
    }
    out
}

/// Checks an image without decoding it: its build and its checksum.
pub fn check_image(bytes: &[u8]) -> Result<(), ImageError> {
    payload(bytes).map(|_| ())
}

fn payload(bytes: &[u8]) -> Result<&[u8], ImageError> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC || bytes.get(8..24) != Some(TYPES.as_bytes()) {
        return Err(ImageError::Foreign);
    }
    let payload = &bytes[HEADER..];
    if Sha256::digest(payload).as_slice() != &bytes[24..HEADER] {
        return Err(ImageError::Corrupt);
    }
    Ok(payload)
}

fn sections(mut p: &[u8]) -> Result<[&[u8]; 3], ImageError> {
    let mut out: [&[u8]; 3] = [&[]; 3];
    for slot in &mut out {
        let len = p
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| ImageError::Undecodable("a section is cut short".into()))?;
        let body = p
            .get(8..8 + len)
            .ok_or_else(|| ImageError::Undecodable("a section is cut short".into()))?;
        *slot = body;
        p = &p[8 + len..];
    }
    Ok(out)
}

/// Builds the engine an image holds. Its register was validated when the
/// image was made, so the engine is built with [`Checks::Trusted`].
pub fn engine_from_image(bytes: &[u8]) -> Result<Engine, ImageError> {
    let [register, rules, schema] = sections(payload(bytes)?)?;
    let schema = std::str::from_utf8(schema)
        .map_err(|e| ImageError::Undecodable(format!("the schema: {e}")))?;
    let undecodable =
        |what: &str, e: postcard::Error| ImageError::Undecodable(format!("{what}: {e}"));
    // The rules decode on a second core while the register decodes here.
    let (register, rules) = std::thread::scope(|s| {
        let rules = s.spawn(|| postcard::from_bytes::<Vec<Rule>>(rules));
        let register = postcard::from_bytes::<Register>(register);
        (register, rules.join())
    });
    let register = register.map_err(|e| undecodable("the register", e))?;
    let rules = rules
        .map_err(|_| ImageError::Undecodable("the rules: decoding stopped".into()))?
        .map_err(|e| undecodable("the rules", e))?;
    Engine::with_checks(register, rules, schema, Checks::Trusted).map_err(|problems| {
        ImageError::Invalid(
            problems
                .first()
                .map(|p| p.message.clone())
                .unwrap_or_default(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled_image() -> (Engine, Vec<u8>) {
        let files = crate::bundled_files();
        let engine = crate::load_files(&files).unwrap();
        let schema = files.get("schema.cedarschema").unwrap().to_owned();
        let image = image_of_engine(&engine, &schema).unwrap();
        (engine, image)
    }

    #[test]
    fn an_image_builds_the_same_register_and_rules() {
        let (engine, image) = bundled_image();
        let again = engine_from_image(&image).unwrap();
        // The same register and rules, field by field (their JSON forms).
        assert_eq!(
            serde_json::to_string(engine.register()).unwrap(),
            serde_json::to_string(again.register()).unwrap()
        );
        assert_eq!(engine.rules().len(), again.rules().len());
        for (a, b) in engine.rules().iter().zip(again.rules()) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.header, b.header);
            assert_eq!(a.policy.text(), b.policy.text());
            assert_eq!((&a.file, &a.span), (&b.file, &b.span));
        }
        // Rules parse from the image's text when first needed.
        assert!(again.rules().iter().all(|r| r.policy.get().is_ok()));
    }

    #[test]
    fn a_sealed_image_is_used_only_for_its_own_files() {
        let files = crate::bundled_files();
        let (_, image) = bundled_image();
        let sealed = seal_for_files(&files, &image);
        assert!(engine_for_files(&files, &sealed).is_some());
        // One byte of one file changed: the image is stale, so not used.
        let mut map: std::collections::BTreeMap<String, String> = files
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        map.entry("parties.toml".into()).or_default().push(' ');
        let edited = crate::DataFiles::from_map("edited", map);
        assert!(engine_for_files(&edited, &sealed).is_none());
        assert!(engine_for_files(&files, &sealed[..20]).is_none());
    }

    #[test]
    fn the_build_time_digest_is_that_of_the_bundled_files() {
        assert_eq!(
            bundled_files_digest(),
            files_digest(&crate::bundled_files())
        );
        let (_, image) = bundled_image();
        let sealed = seal_for_files(&crate::bundled_files(), &image);
        assert!(engine_for_digest(&bundled_files_digest(), &sealed).is_some());
        let mut other = bundled_files_digest();
        other[0] ^= 1;
        assert!(engine_for_digest(&other, &sealed).is_none());
    }

    #[test]
    fn a_corrupted_truncated_or_foreign_image_is_refused() {
        let (_, image) = bundled_image();
        let mut flipped = image.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        assert_eq!(check_image(&flipped), Err(ImageError::Corrupt));
        assert!(matches!(
            engine_from_image(&flipped),
            Err(ImageError::Corrupt)
        ));
        assert_eq!(
            check_image(&image[..image.len() - 1]),
            Err(ImageError::Corrupt)
        );
        let mut foreign = image.clone();
        foreign[10] = if foreign[10] == b'0' { b'1' } else { b'0' };
        assert_eq!(check_image(&foreign), Err(ImageError::Foreign));
        assert_eq!(check_image(b"ENDUSEI1"), Err(ImageError::Foreign));
        assert_eq!(check_image(&image), Ok(()));
    }
}
