//! Fingerprints the source of the core types a register image holds, so
//! that an image written by a build whose types differ is never decoded
//! (postcard is not self-describing: a changed field would be misread, not
//! refused). The image module embeds the fingerprint and checks it.

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
}
