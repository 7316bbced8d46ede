//! The bundled admin-1 boundaries in a packed binary form, made at build
//! time, so that a process need not parse 1.5 MB of GeoJSON numbers before
//! its first point (most of what `check --at` cost). The packed form holds
//! exactly what [`Boundaries::from_geojson`] reads from each feature (codes,
//! names, rings as `f64` pairs); the indexes are built from it as from the
//! GeoJSON. It carries a digest of the GeoJSON text it was made from, and is
//! used only while the bundled text has that digest: the GeoJSON stays the
//! source, and a stale pack is never read.
//!
//! Layout (little-endian): `ENDUSEG1`, the source digest (u64), the number
//! of areas (u32); per area the strings `iso_3166_1`, `iso_3166_2` (empty
//! for none, flagged by a byte), `name`, `adm1_code` (u32 length, UTF-8),
//! then its polygons (u32), per polygon its rings (u32), per ring its points
//! (u32) as `x, y` `f64` pairs.

use crate::{Area, Boundaries, FeatureCollection, GeoError, ADMIN1, BORDER};
use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

const MAGIC: &[u8; 8] = b"ENDUSEG1";

/// A 64-bit digest of `text`, eight bytes at a time: it tells whether the
/// pack was made from this very text (it is no defence against forgery,
/// and needs none: both come from the same build).
fn digest(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(0x0100_0000_01b3_f00d);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(23) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3_f00d);
    }
    h
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

/// Packs an admin-1 FeatureCollection (as [`Boundaries::from_geojson`]
/// takes it).
fn pack(admin1: &str) -> Result<Vec<u8>, GeoError> {
    let fc: FeatureCollection = serde_json::from_str(admin1)
        .map_err(|e| GeoError::Data(format!("admin-1 GeoJSON: {e}")))?;
    let mut out = Vec::with_capacity(admin1.len() / 2);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&digest(admin1).to_le_bytes());
    put_u32(&mut out, fc.features.len());
    for f in &fc.features {
        put_str(&mut out, &f.properties.iso_3166_1);
        out.push(u8::from(f.properties.iso_3166_2.is_some()));
        put_str(&mut out, f.properties.iso_3166_2.as_deref().unwrap_or(""));
        put_str(&mut out, f.properties.name.as_deref().unwrap_or(""));
        put_str(&mut out, f.properties.adm1_code.as_deref().unwrap_or(""));
        put_u32(&mut out, f.geometry.coordinates.len());
        for rings in &f.geometry.coordinates {
            put_u32(&mut out, rings.len());
            for ring in rings {
                put_u32(&mut out, ring.len());
                for [x, y] in ring {
                    out.extend_from_slice(&x.to_le_bytes());
                    out.extend_from_slice(&y.to_le_bytes());
                }
            }
        }
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes(b.try_into().ok()?) as usize)
    }
    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()?;
        std::str::from_utf8(self.take(n)?).ok().map(str::to_owned)
    }
}

fn unpack(packed: &[u8]) -> Option<Vec<Area>> {
    let mut r = Reader(packed);
    if r.take(8)? != MAGIC {
        return None;
    }
    r.take(8)?;
    let n = r.u32()?;
    let mut areas = Vec::with_capacity(n);
    for _ in 0..n {
        let iso_3166_1 = r.string()?;
        let has_2 = r.take(1)?[0] == 1;
        let iso_3166_2 = Some(r.string()?).filter(|_| has_2);
        let name = r.string()?;
        let adm1_code = r.string()?;
        let mut polys = Vec::new();
        for _ in 0..r.u32()? {
            let mut rings = Vec::new();
            for _ in 0..r.u32()? {
                let len = r.u32()?;
                let mut ring = Vec::with_capacity(len);
                for _ in 0..len {
                    ring.push(Coord {
                        x: r.f64()?,
                        y: r.f64()?,
                    });
                }
                rings.push(LineString::new(ring));
            }
            let mut rings = rings.into_iter();
            let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
            polys.push(Polygon::new(exterior, rings.collect()));
        }
        let shape = MultiPolygon::new(polys);
        areas.push(Area {
            iso_3166_1,
            iso_3166_2,
            name,
            adm1_code,
            banded: std::sync::OnceLock::new(),
            shape,
        });
    }
    r.0.is_empty().then_some(areas)
}

impl Boundaries {
    /// The bundled admin-1 boundaries, packed (for a build script to embed
    /// and [`Boundaries::bundled_from_packed`] to read).
    pub fn pack_bundled() -> Result<Vec<u8>, GeoError> {
        pack(ADMIN1)
    }

    /// The bundled boundaries from `packed`, if it was packed from exactly
    /// the bundled admin-1 GeoJSON; `None` if not (a stale or foreign
    /// pack), and then [`Boundaries::bundled`] reads the GeoJSON.
    pub fn bundled_from_packed(packed: &[u8]) -> Option<Result<Self, GeoError>> {
        let stamp = packed.get(8..16)?;
        if packed.get(..8)? != MAGIC || stamp != digest(ADMIN1).to_le_bytes() {
            return None;
        }
        let areas = unpack(packed)?;
        // The border is small: read it as `from_geojson` does, with no
        // areas, then add the unpacked ones and their index.
        let mut b =
            match Self::from_geojson(r#"{"type":"FeatureCollection","features":[]}"#, BORDER) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
        let boxes = areas
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let r = a.shape.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        b.areas = areas;
        b.tree = RTree::bulk_load(boxes);
        Some(Ok(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LatLon;

    #[test]
    fn packed_boundaries_answer_as_the_geojson_does() {
        let packed = Boundaries::pack_bundled().unwrap();
        let a = Boundaries::bundled_from_packed(&packed).unwrap().unwrap();
        let b = Boundaries::bundled().unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.shapes().zip(b.shapes()) {
            assert_eq!((x.0, x.1), (y.0, y.1));
            assert_eq!(x.2, y.2);
        }
        for (lat, lon) in [
            (50.0, 36.23),
            (50.6, 36.6),
            (45.0, 34.1),
            (43.5, 34.0),
            (55.75, 37.62),
        ] {
            let p = LatLon::new(lat, lon).unwrap();
            assert_eq!(a.locate(p), b.locate(p));
            assert_eq!(a.border_distance_km(p), b.border_distance_km(p));
        }
        assert_eq!(a.border_length_km(), b.border_length_km());
    }

    #[test]
    fn a_stale_or_damaged_pack_is_not_read() {
        let packed = Boundaries::pack_bundled().unwrap();
        // Packed from other text: refused by its digest.
        let other = pack(r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
        assert!(Boundaries::bundled_from_packed(&other).is_none());
        assert!(Boundaries::bundled_from_packed(&packed[..packed.len() - 3]).is_none());
        assert!(Boundaries::bundled_from_packed(b"").is_none());
        assert_ne!(digest(ADMIN1), digest(&format!("{ADMIN1} ")));
    }
}
