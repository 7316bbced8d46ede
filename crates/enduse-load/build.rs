//! Fingerprints the source of the core types a register image holds, so
//! that an image written by a build whose types differ is never decoded
//! (postcard is not self-describing: a changed field would be misread, not
//! refused). The image module embeds the fingerprint and checks it.
//!
//! Also computes the SHA-256 of the bundled data set's files (as
//! `image::files_digest` does over `bundled_files()`), so that a process
//! need not hash the files compiled into it to know which image fits them.
//! Any change under the data directory reruns this script; a changed digest
//! recompiles the crate, and with it the `include_dir!` copy of the files,
//! so the digest and the embedded files cannot disagree (a test checks it).

use sha2::{Digest, Sha256};
use std::path::Path;

const TYPE_SOURCES: &[&str] = &[
    "../enduse-core/src/register.rs",
    "../enduse-core/src/vocab.rs",
    "../enduse-core/src/rule.rs",
    "../enduse-core/src/date.rs",
    "../enduse-core/src/ids.rs",
    "../enduse-core/src/query.rs",
    "src/image.rs",
];

const BUNDLED_DIR: &str = "../../data/ukraine-2022-2025";

/// The UTF-8 files directly in `dir`, as (`prefix` + name, text).
fn utf8_files(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        if !path.is_file() {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if std::str::from_utf8(&bytes).is_ok() {
            out.push((
                format!("{prefix}{}", e.file_name().to_string_lossy()),
                bytes,
            ));
        }
    }
}

fn main() {
    // FNV-1a, 64 bits: enough to tell builds apart, and dependency-free.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in TYPE_SOURCES {
        println!("cargo:rerun-if-changed={file}");
        let bytes = std::fs::read(Path::new(file)).unwrap_or_default();
        for b in file
            .as_bytes()
            .iter()
            .chain([0u8].iter())
            .chain(bytes.iter())
        {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=ENDUSE_IMAGE_TYPES={hash:016x}");

    // The bundled files as `bundled_files()` holds them: the top-level
    // files and `policies/*`, UTF-8 only, in name order.
    println!("cargo:rerun-if-changed={BUNDLED_DIR}");
    let mut files = Vec::new();
    utf8_files(Path::new(BUNDLED_DIR), "", &mut files);
    utf8_files(
        &Path::new(BUNDLED_DIR).join("policies"),
        "policies/",
        &mut files,
    );
    files.sort();
    let mut h = Sha256::new();
    for (name, text) in &files {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text);
    }
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=ENDUSE_BUNDLED_DIGEST={digest}");
}
