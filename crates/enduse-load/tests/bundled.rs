#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The bundled data set loads, and the directory on disk is the same data.

use enduse_load::{load_bundled, load_dir};
use std::path::Path;

#[test]
fn bundled_data_set_is_valid() {
    match load_bundled() {
        Ok(e) => {
            assert!(e.rules().len() >= 15, "only {} rules", e.rules().len());
            assert!(e.register().models.len() >= 12);
        }
        Err(err) => {
            for p in err.problems() {
                eprintln!("{p} (help: {:?})", p.help);
            }
            panic!("{err}");
        }
    }
}

#[test]
fn directory_and_bundle_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/ukraine-2022-2025");
    let a = load_dir(&dir).unwrap();
    let b = load_bundled().unwrap();
    let ids = |e: &enduse_core::Engine| {
        e.rules()
            .iter()
            .map(|r| r.id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
}
