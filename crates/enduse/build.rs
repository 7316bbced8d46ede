//! Builds the bundled data set's register at build time and writes its
//! image (`enduse_load`'s binary form), sealed with a digest of the files
//! it was made from, to `OUT_DIR/bundled.image`; the library includes it.
//! At run time the image is used only if the bundled files still have that
//! digest, so it can never be stale: the files stay the truth, and a
//! mismatch (or an empty image, written when the data set does not load
//! here) means the files are loaded as before. The bundled boundaries are
//! packed the same way (`OUT_DIR/admin1.packed`).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../data/ukraine-2022-2025");
    println!("cargo:rerun-if-changed=../../data/ukraine-2022-2025/policies");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("bundled.image");
    let files = enduse_load::bundled_files();
    let sealed = enduse_load::load_files(&files)
        .ok()
        .and_then(|engine| {
            let schema = files.get("schema.cedarschema")?;
            enduse_load::image_of_engine(&engine, schema).ok()
        })
        .map(|image| enduse_load::seal_for_files(&files, &image))
        .unwrap_or_default();
    std::fs::write(out, sealed)?;
    // The bundled admin-1 boundaries, packed (checked against their GeoJSON
    // at run time the same way); empty if they cannot be read here.
    println!("cargo:rerun-if-changed=../../data/geo/admin1.geojson");
    let packed = enduse_geo::Boundaries::pack_bundled().unwrap_or_default();
    std::fs::write(
        PathBuf::from(std::env::var("OUT_DIR")?).join("admin1.packed"),
        packed,
    )?;
    Ok(())
}
