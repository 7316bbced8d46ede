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
//! Every section's SHA-256 is checked before it is decoded, so a truncated
//! or corrupted image is refused too. A refused image costs time only: every
//! caller falls back to building the register from its source (files or
//! records), which stays the truth.
//!
//! Layout (`ENDUSEI2`): the magic, the 16 hex digits of the type
//! fingerprint, the SHA-256 of the section table, the table (the number of
//! sections, then each section's length and SHA-256), then the sections:
//! the register without its lots and transfers, the rules, the schema text,
//! and the lots and the transfers, each cut in [`CHUNKS`] runs in key order.
//! Every section is checked and decoded on its own thread, so an open of a
//! large register uses every core for hashing and decoding, and the
//! decoded runs of lots and transfers, being in key order already, build
//! their maps in bulk (no search per insert).

use enduse_core::{Category, ItemModel, Lot, Party, Place, Source, Transfer, Treaty};
use enduse_core::{CategoryId, ModelId, PlaceCode, SourceId};
use enduse_core::{
    Checks, Conflict, DataSetInfo, Engine, LotId, PartyId, Register, Rule, TransferId,
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const MAGIC: &[u8; 8] = b"ENDUSEI2";
const TYPES: &str = env!("ENDUSE_IMAGE_TYPES");
/// Magic, fingerprint, the table's SHA-256.
const HEADER: usize = 8 + 16 + 32;
/// One table entry: length, SHA-256.
const ENTRY: usize = 8 + 32;
/// Runs the lots and the transfers are each cut in: enough to keep every
/// core of a small server busy while the big tables decode.
const CHUNKS: usize = 4;
/// The register's, the rules' and the schema's sections, then the runs.
const SECTIONS: usize = 3 + 2 * CHUNKS;

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

/// The register's fields but its lots and transfers, in declaration order,
/// borrowed for encoding.
type RestRef<'a> = (
    &'a DataSetInfo,
    &'a BTreeMap<PartyId, Party>,
    &'a BTreeMap<PlaceCode, Place>,
    &'a BTreeMap<SourceId, Source>,
    &'a BTreeMap<CategoryId, Category>,
    &'a BTreeMap<ModelId, ItemModel>,
    &'a BTreeMap<PartyId, Treaty>,
    &'a Vec<Conflict>,
    &'a Vec<enduse_core::Consent>,
    &'a Vec<enduse_core::PartyDefault>,
    &'a BTreeMap<String, enduse_core::Group>,
    &'a BTreeMap<String, enduse_core::Term>,
    &'a BTreeMap<String, enduse_core::Term>,
    &'a BTreeMap<String, enduse_core::NamedArea>,
);

/// [`RestRef`], owned, for decoding.
type Rest = (
    DataSetInfo,
    BTreeMap<PartyId, Party>,
    BTreeMap<PlaceCode, Place>,
    BTreeMap<SourceId, Source>,
    BTreeMap<CategoryId, Category>,
    BTreeMap<ModelId, ItemModel>,
    BTreeMap<PartyId, Treaty>,
    Vec<Conflict>,
    Vec<enduse_core::Consent>,
    Vec<enduse_core::PartyDefault>,
    BTreeMap<String, enduse_core::Group>,
    BTreeMap<String, enduse_core::Term>,
    BTreeMap<String, enduse_core::Term>,
    BTreeMap<String, enduse_core::NamedArea>,
);

/// `map`'s entries in `CHUNKS` runs of (nearly) equal length, in key order.
fn runs<K, V>(map: &BTreeMap<K, V>) -> Vec<Vec<(&K, &V)>> {
    let per = map.len().div_ceil(CHUNKS).max(1);
    let mut out: Vec<Vec<(&K, &V)>> = (0..CHUNKS).map(|_| Vec::new()).collect();
    for (i, e) in map.iter().enumerate() {
        if let Some(run) = out.get_mut(i / per) {
            run.push(e);
        }
    }
    out
}

/// Encodes a register, its rules and the schema text as an image, into one
/// buffer: each section is encoded straight after the space kept for the
/// table, which is filled in last, so that the image is never held twice
/// (once in sections, once whole). At a million transfers that is 135 MB
/// less at the peak of an import.
pub fn encode_image(
    register: &Register,
    rules: &[Rule],
    schema: &str,
) -> Result<Vec<u8>, ImageError> {
    let enc = |e: postcard::Error| ImageError::Unencodable(e.to_string());
    let r = register;
    let rest: RestRef<'_> = (
        &r.info,
        &r.parties,
        &r.places,
        &r.sources,
        &r.categories,
        &r.models,
        &r.treaties,
        &r.conflicts,
        &r.consents,
        &r.defaults,
        &r.groups,
        &r.targets,
        &r.purposes,
        &r.areas,
    );
    let table_len = 8 + ENTRY * SECTIONS;
    let start = HEADER + table_len;
    let mut out = vec![0u8; start];
    let mut ends: Vec<usize> = Vec::with_capacity(SECTIONS);
    out = postcard::to_extend(&rest, out).map_err(enc)?;
    ends.push(out.len());
    out = postcard::to_extend(rules, out).map_err(enc)?;
    ends.push(out.len());
    out.extend_from_slice(schema.as_bytes());
    ends.push(out.len());
    for run in runs(&r.lots) {
        out = postcard::to_extend(&run, out).map_err(enc)?;
        ends.push(out.len());
    }
    for run in runs(&r.transfers) {
        out = postcard::to_extend(&run, out).map_err(enc)?;
        ends.push(out.len());
    }
    let mut table = Vec::with_capacity(table_len);
    table.extend_from_slice(&(ends.len() as u64).to_le_bytes());
    let mut from = start;
    for &end in &ends {
        let section = out
            .get(from..end)
            .ok_or_else(|| ImageError::Unencodable("a section ends before it starts".into()))?;
        table.extend_from_slice(&(section.len() as u64).to_le_bytes());
        table.extend_from_slice(&Sha256::digest(section));
        from = end;
    }
    if table.len() != table_len {
        return Err(ImageError::Unencodable(format!(
            "{} sections, not {SECTIONS}",
            ends.len()
        )));
    }
    let mut head = Vec::with_capacity(start);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(TYPES.as_bytes());
    head.extend_from_slice(&Sha256::digest(&table));
    head.extend_from_slice(&table);
    out.splice(0..start, head);
    out.shrink_to_fit();
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

/// One section of an image: its bytes and the SHA-256 the table gives it.
struct Section<'a> {
    bytes: &'a [u8],
    sha: &'a [u8],
}

impl Section<'_> {
    fn check(&self) -> Result<(), ImageError> {
        if Sha256::digest(self.bytes).as_slice() == self.sha {
            Ok(())
        } else {
            Err(ImageError::Corrupt)
        }
    }

    /// Checks the section, then decodes it: a damaged section is never
    /// decoded.
    fn decode<T: DeserializeOwned>(&self, what: &str) -> Result<T, ImageError> {
        self.check()?;
        postcard::from_bytes(self.bytes)
            .map_err(|e| ImageError::Undecodable(format!("{what}: {e}")))
    }
}

/// The sections of an image, after checking its magic, its build and its
/// table (each section's own SHA-256 is checked where it is decoded).
fn sections(bytes: &[u8]) -> Result<Vec<Section<'_>>, ImageError> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC || bytes.get(8..24) != Some(TYPES.as_bytes()) {
        return Err(ImageError::Foreign);
    }
    let sha = &bytes[24..HEADER];
    let rest = &bytes[HEADER..];
    let count = rest
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .ok_or(ImageError::Corrupt)?;
    if count != SECTIONS as u64 {
        return Err(ImageError::Corrupt);
    }
    let table = rest
        .get(..8 + ENTRY * SECTIONS)
        .ok_or(ImageError::Corrupt)?;
    if Sha256::digest(table).as_slice() != sha {
        return Err(ImageError::Corrupt);
    }
    let mut body = &rest[table.len()..];
    let mut out = Vec::with_capacity(SECTIONS);
    for entry in table[8..].chunks_exact(ENTRY) {
        let len = <[u8; 8]>::try_from(&entry[..8])
            .ok()
            .map(u64::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(ImageError::Corrupt)?;
        let section = body.get(..len).ok_or(ImageError::Corrupt)?;
        out.push(Section {
            bytes: section,
            sha: &entry[8..],
        });
        body = &body[len..];
    }
    if !body.is_empty() {
        return Err(ImageError::Corrupt);
    }
    Ok(out)
}

/// Checks an image without decoding it: its build and its checksums.
pub fn check_image(bytes: &[u8]) -> Result<(), ImageError> {
    sections(bytes)?.iter().try_for_each(Section::check)
}

/// Decodes runs of `(key, value)` in key order, each on its own thread, and
/// builds their map in bulk.
fn decode_map<'s, K, V>(
    scope: &'s std::thread::Scope<'s, '_>,
    runs: &'s [Section<'s>],
    what: &'static str,
) -> std::thread::ScopedJoinHandle<'s, Result<BTreeMap<K, V>, ImageError>>
where
    K: DeserializeOwned + Ord + Send + 's,
    V: DeserializeOwned + Send + 's,
{
    scope.spawn(move || {
        let parts: Vec<Result<Vec<(K, V)>, ImageError>> = std::thread::scope(|s| {
            let handles: Vec<_> = runs
                .iter()
                .map(|run| s.spawn(move || run.decode::<Vec<(K, V)>>(what)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(stopped(what))))
                .collect()
        });
        let mut all = Vec::with_capacity(parts.iter().flatten().map(Vec::len).sum());
        for part in parts {
            all.extend(part?);
        }
        // In key order already: the bulk build sorts in one pass.
        Ok(all.into_iter().collect())
    })
}

fn stopped(what: &str) -> ImageError {
    ImageError::Undecodable(format!("{what}: decoding stopped"))
}

fn joined<T>(
    h: std::thread::ScopedJoinHandle<'_, Result<T, ImageError>>,
    what: &str,
) -> Result<T, ImageError> {
    h.join().unwrap_or_else(|_| Err(stopped(what)))
}

/// Builds the engine an image holds. Its register was validated when the
/// image was made, so the engine is built with [`Checks::Trusted`].
pub fn engine_from_image(bytes: &[u8]) -> Result<Engine, ImageError> {
    let sections = sections(bytes)?;
    let (head, runs) = sections.split_at(3);
    let (lot_runs, transfer_runs) = runs.split_at(CHUNKS);
    let schema_section = &head[2];
    schema_section.check()?;
    let schema = std::str::from_utf8(schema_section.bytes)
        .map_err(|e| ImageError::Undecodable(format!("the schema: {e}")))?;
    let (rest, rules, lots, transfers) = std::thread::scope(|s| {
        let transfers = decode_map::<TransferId, Transfer>(s, transfer_runs, "the transfers");
        let lots = decode_map::<LotId, Lot>(s, lot_runs, "the lots");
        let rules = s.spawn(|| head[1].decode::<Vec<Rule>>("the rules"));
        let rest = head[0].decode::<Rest>("the register");
        (
            rest,
            joined(rules, "the rules"),
            joined(lots, "the lots"),
            joined(transfers, "the transfers"),
        )
    });
    let (
        info,
        parties,
        places,
        sources,
        categories,
        models,
        treaties,
        conflicts,
        consents,
        defaults,
        groups,
        targets,
        purposes,
        areas,
    ) = rest?;
    let register = Register {
        info,
        parties,
        places,
        sources,
        categories,
        models,
        lots: lots?,
        transfers: transfers?,
        treaties,
        conflicts,
        consents,
        defaults,
        groups,
        targets,
        purposes,
        areas,
    };
    Engine::with_checks(register, rules?, schema, Checks::Trusted).map_err(|problems| {
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
    fn an_image_without_lots_or_transfers_has_empty_runs() {
        let (engine, image) = bundled_image();
        assert!(engine.register().transfers.len() > CHUNKS);
        let schema = crate::bundled_files()
            .get("schema.cedarschema")
            .unwrap()
            .to_owned();
        let mut bare = engine.register().clone();
        bare.lots.clear();
        bare.transfers.clear();
        let small = encode_image(&bare, engine.rules(), &schema).unwrap();
        assert!(small.len() < image.len());
        check_image(&small).unwrap();
        let again = engine_from_image(&small).unwrap();
        assert!(again.register().lots.is_empty());
        assert!(again.register().transfers.is_empty());
        assert_eq!(
            again.register().parties.len(),
            engine.register().parties.len()
        );
        assert_eq!(again.rules().len(), engine.rules().len());
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
}
