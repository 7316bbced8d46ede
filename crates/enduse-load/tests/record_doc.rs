#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `docs/record.md` is generated from the bundled data set and must not
//! drift from it. `ENDUSE_BLESS=1` rewrites it.

#[test]
fn docs_record_md_is_the_index_of_the_bundled_data_set() {
    let engine = enduse_load::load_bundled().unwrap();
    let want = enduse_load::record_index(&engine);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/record.md");
    if std::env::var_os("ENDUSE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/record.md differs from the bundled data set; run \
         `ENDUSE_BLESS=1 cargo test -p enduse-load --test record_doc` and commit it"
    );
    // Every state with a rule has its section.
    for r in engine.rules() {
        assert!(want.contains(&format!("({})\n", r.owner)), "{}", r.owner);
    }
}
