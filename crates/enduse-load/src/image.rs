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

/// Encodes a register, its rules and the schema text as an image (through
/// an [`ImageWriter`], so that both ways of writing one write the same
/// bytes).
pub fn encode_image(
    register: &Register,
    rules: &[Rule],
    schema: &str,
) -> Result<Vec<u8>, ImageError> {
    let mut w = ImageWriter::new(
        register,
        rules,
        schema,
        register.lots.len(),
        register.transfers.len(),
    )?;
    for l in register.lots.values() {
        w.lot(l)?;
    }
    for t in register.transfers.values() {
        w.transfer(t)?;
    }
    w.finish()
}

/// Where an [`ImageWriter`] stands in the lots' or the transfers' runs.
struct Runs {
    total: usize,
    per: usize,
    written: usize,
    begun: usize,
    last: Option<Box<str>>,
}

impl Runs {
    fn new(total: usize) -> Self {
        Runs {
            total,
            per: total.div_ceil(CHUNKS).max(1),
            written: 0,
            begun: 0,
            last: None,
        }
    }

    /// Entries of run `i`.
    fn len_of(&self, i: usize) -> usize {
        self.total.saturating_sub(i * self.per).min(self.per)
    }
}

/// An image written a piece at a time, into one buffer: the register
/// without its lots and transfers, the rules and the schema first, then
/// each lot and each transfer in key order, so that a register too large
/// to hold can be imaged from a store's scan of it. Each run is postcard's
/// sequence (its length, then its entries), written entry by entry; the
/// section table is filled in by [`ImageWriter::finish`]. The image is
/// never held twice (once in sections, once whole).
pub struct ImageWriter {
    out: Vec<u8>,
    ends: Vec<usize>,
    start: usize,
    lots: Runs,
    transfers: Runs,
}

fn unencodable(e: postcard::Error) -> ImageError {
    ImageError::Unencodable(e.to_string())
}

impl ImageWriter {
    /// Starts an image of `rest` (whose own lots and transfers are not
    /// written: they come through [`ImageWriter::lot`] and
    /// [`ImageWriter::transfer`], `lots` and `transfers` of them), `rules`
    /// and `schema`.
    pub fn new(
        rest: &Register,
        rules: &[Rule],
        schema: &str,
        lots: usize,
        transfers: usize,
    ) -> Result<Self, ImageError> {
        let r = rest;
        let parts: RestRef<'_> = (
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
        let start = HEADER + 8 + ENTRY * SECTIONS;
        // Room for far more than the lots and transfers will take (a lot
        // encodes to some 40 bytes, a transfer to some 80): space reserved
        // and never written is never taken from the system, while growing
        // the buffer would copy it whole at the peak of an import.
        let mut out = Vec::with_capacity(start + lots * 256 + transfers * 512 + schema.len());
        out.resize(start, 0u8);
        let mut ends: Vec<usize> = Vec::with_capacity(SECTIONS);
        out = postcard::to_extend(&parts, out).map_err(unencodable)?;
        ends.push(out.len());
        out = postcard::to_extend(rules, out).map_err(unencodable)?;
        ends.push(out.len());
        out.extend_from_slice(schema.as_bytes());
        ends.push(out.len());
        Ok(ImageWriter {
            out,
            ends,
            start,
            lots: Runs::new(lots),
            transfers: Runs::new(transfers),
        })
    }

    /// Begins the runs up to and including `upto` (closing the one before).
    fn begin(
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        runs: &mut Runs,
        upto: usize,
    ) -> Result<(), ImageError> {
        while runs.begun <= upto {
            if runs.begun > 0 {
                ends.push(out.len());
            }
            let len = runs.len_of(runs.begun) as u64;
            *out = postcard::to_extend(&len, std::mem::take(out)).map_err(unencodable)?;
            runs.begun += 1;
        }
        Ok(())
    }

    fn put<V: serde::Serialize>(
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        runs: &mut Runs,
        key: &str,
        entry: &V,
        what: &str,
    ) -> Result<(), ImageError> {
        if runs.written >= runs.total {
            return Err(ImageError::Unencodable(format!(
                "more {what}s than the {} announced",
                runs.total
            )));
        }
        if runs.last.as_deref().is_some_and(|last| key <= last) {
            return Err(ImageError::Unencodable(format!(
                "{what} `{key}` is not in key order"
            )));
        }
        Self::begin(out, ends, runs, runs.written / runs.per)?;
        *out = postcard::to_extend(entry, std::mem::take(out)).map_err(unencodable)?;
        runs.written += 1;
        runs.last = Some(key.into());
        Ok(())
    }

    fn close(
        out: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        runs: &mut Runs,
        what: &str,
    ) -> Result<(), ImageError> {
        if runs.written != runs.total {
            return Err(ImageError::Unencodable(format!(
                "{} {what}s of the {} announced",
                runs.written, runs.total
            )));
        }
        if runs.begun < CHUNKS {
            Self::begin(out, ends, runs, CHUNKS - 1)?;
        }
        ends.push(out.len());
        Ok(())
    }

    /// The next lot, in key order, after every rule and before any transfer.
    pub fn lot(&mut self, l: &Lot) -> Result<(), ImageError> {
        if self.transfers.written > 0 {
            return Err(ImageError::Unencodable("a lot after a transfer".into()));
        }
        Self::put(
            &mut self.out,
            &mut self.ends,
            &mut self.lots,
            l.id.as_str(),
            &(&l.id, l),
            "lot",
        )
    }

    /// The next transfer, in key order, after every lot.
    pub fn transfer(&mut self, t: &Transfer) -> Result<(), ImageError> {
        if self.transfers.written == 0 {
            Self::close(&mut self.out, &mut self.ends, &mut self.lots, "lot")?;
        }
        Self::put(
            &mut self.out,
            &mut self.ends,
            &mut self.transfers,
            t.id.as_str(),
            &(&t.id, t),
            "transfer",
        )
    }

    /// The image, with its section table.
    pub fn finish(mut self) -> Result<Vec<u8>, ImageError> {
        if self.transfers.written == 0 {
            Self::close(&mut self.out, &mut self.ends, &mut self.lots, "lot")?;
        }
        Self::close(
            &mut self.out,
            &mut self.ends,
            &mut self.transfers,
            "transfer",
        )?;
        let (mut out, ends, start) = (self.out, self.ends, self.start);
        let table_len = 8 + ENTRY * SECTIONS;
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
        // In place: the head is exactly the room kept for it. No shrink to
        // fit, which would copy the whole image at the peak of an import.
        if let Some(room) = out.get_mut(..start) {
            room.copy_from_slice(&head);
        }
        Ok(out)
    }
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

/// An [`ImageWriter`] for trusted records too many to hold: `rest` are the
/// records of every kind but lots and transfers (a store's heads, in the
/// order a store returns them), and `lots` lots and `transfers` transfers
/// are to follow through [`ImageWriter::lot_record`] and
/// [`ImageWriter::transfer_record`]. The image is then exactly
/// [`image_from_records`] of all of them. `Ok(None)` as there.
pub fn image_writer_for_records(
    origin: &str,
    rest: &[&crate::Record],
    lots: usize,
    transfers: usize,
) -> Result<Option<ImageWriter>, crate::DataSetError> {
    let Some((register, rules, schema)) = crate::records::trusted_parts(origin, rest)? else {
        return Ok(None);
    };
    if !register.lots.is_empty() || !register.transfers.is_empty() {
        return Ok(None);
    }
    Ok(ImageWriter::new(&register, &rules, &schema, lots, transfers).ok())
}

impl ImageWriter {
    /// The next lot, from its stored record.
    pub fn lot_record(&mut self, r: &crate::Record) -> Result<(), ImageError> {
        let raw: crate::toml_model::LotToml = serde_json::from_str(&r.body)
            .map_err(|e| ImageError::Unencodable(format!("lot `{}`: {e}", r.key)))?;
        self.lot(&crate::toml_model::lot_of(raw))
    }

    /// The next transfer, from its stored record.
    pub fn transfer_record(&mut self, r: &crate::Record) -> Result<(), ImageError> {
        let raw: crate::toml_model::TransferToml = serde_json::from_str(&r.body)
            .map_err(|e| ImageError::Unencodable(format!("transfer `{}`: {e}", r.key)))?;
        let mut problems = Vec::new();
        let t = crate::toml_model::transfer_of(raw, &mut problems);
        if let Some(p) = problems.first() {
            return Err(ImageError::Unencodable(format!(
                "transfer `{}`: {}",
                r.key, p.message
            )));
        }
        self.transfer(&t)
    }
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

    /// Registers of 0 to 9 lots and transfers (every way the runs can be
    /// cut): written a piece at a time, they decode to themselves.
    #[test]
    fn a_written_image_decodes_at_every_run_boundary() {
        let (engine, _) = bundled_image();
        for keep in [0, 1, 3, 4, 5, 9] {
            let mut reg = engine.register().clone();
            let lots: Vec<_> = reg.lots.keys().skip(keep).cloned().collect();
            for k in lots {
                reg.lots.remove(&k);
            }
            let transfers: Vec<_> = reg.transfers.keys().skip(keep).cloned().collect();
            for k in transfers {
                reg.transfers.remove(&k);
            }
            let image = encode_image(&reg, engine.rules(), "schema").unwrap();
            let again = engine_from_image(&image).unwrap();
            assert_eq!(
                serde_json::to_string(&reg).unwrap(),
                serde_json::to_string(again.register()).unwrap(),
                "{keep} lots and transfers"
            );
        }
    }

    /// An image written from records a lot and a transfer at a time is the
    /// image of all the records at once.
    #[test]
    fn an_image_of_records_written_piecewise_is_the_whole_one() {
        let (_, records) = crate::records_from_files(&crate::bundled_files()).unwrap();
        let mut refs: Vec<&crate::Record> = records.iter().collect();
        refs.sort_by(|a, b| (a.kind.as_str(), &a.key).cmp(&(b.kind.as_str(), &b.key)));
        let whole = image_from_records("test", &refs).unwrap().unwrap();
        let bulk = |k| matches!(k, crate::RecordKind::Lot | crate::RecordKind::Transfer);
        let rest: Vec<&crate::Record> = refs.iter().copied().filter(|r| !bulk(r.kind)).collect();
        let of = |k| refs.iter().copied().filter(move |r| r.kind == k);
        let lots = of(crate::RecordKind::Lot).count();
        let transfers = of(crate::RecordKind::Transfer).count();
        let mut w = image_writer_for_records("test", &rest, lots, transfers)
            .unwrap()
            .unwrap();
        for r in of(crate::RecordKind::Lot) {
            w.lot_record(r).unwrap();
        }
        for r in of(crate::RecordKind::Transfer) {
            w.transfer_record(r).unwrap();
        }
        assert_eq!(w.finish().unwrap(), whole);
    }

    /// A writer refuses what would not decode to the register it announced.
    #[test]
    fn a_writer_refuses_disorder_and_wrong_counts() {
        let (engine, _) = bundled_image();
        let reg = engine.register();
        let mut bare = reg.clone();
        bare.lots.clear();
        bare.transfers.clear();
        let lots: Vec<&Lot> = reg.lots.values().take(2).collect();
        let transfers: Vec<&Transfer> = reg.transfers.values().take(2).collect();
        let new = |l, t| ImageWriter::new(&bare, engine.rules(), "s", l, t).unwrap();
        // Keys out of order.
        let mut w = new(2, 0);
        w.lot(lots[1]).unwrap();
        assert!(w.lot(lots[0]).is_err());
        // Fewer and more than announced.
        let mut w = new(2, 0);
        w.lot(lots[0]).unwrap();
        assert!(w.finish().is_err());
        let mut w = new(1, 0);
        w.lot(lots[0]).unwrap();
        assert!(w.lot(lots[1]).is_err());
        let mut w = new(1, 2);
        w.lot(lots[0]).unwrap();
        w.transfer(transfers[0]).unwrap();
        assert!(w.finish().is_err());
        // A lot after a transfer.
        let mut w = new(2, 1);
        w.lot(lots[0]).unwrap();
        assert!(w.transfer(transfers[0]).is_err());
        let mut w = new(1, 1);
        w.lot(lots[0]).unwrap();
        w.transfer(transfers[0]).unwrap();
        assert!(w.lot(lots[1]).is_err());
        let image = w.finish().unwrap();
        assert_eq!(engine_from_image(&image).unwrap().register().lots.len(), 1);
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
