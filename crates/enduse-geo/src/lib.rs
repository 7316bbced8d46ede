//! enduse geography: public-domain Natural Earth boundaries, the
//! classification of a point (de jure country and first-level subdivision),
//! the geodesic distance to the Ukraine-Russia land border, who controls a
//! point on a day ([`ControlLayer`]), and which of the register's named areas
//! contain it ([`NamedAreas`]).
//!
//! This crate knows nothing of policies: the engine puts what it computes into
//! the Cedar context.

mod areas;
mod bands;
mod control;
mod packed;
mod pip;
mod shape;

pub use areas::{areas_at, de_jure_chain, AreaGeometry, AreaProblem, NamedAreas, PopulatedPlaces};
pub use bands::{border_band, points_band, Lcc};
pub use control::{Control, ControlLayer, ControlOutline};

use geo::{
    BoundingRect, Coord, Distance, Geodesic, Haversine, LineString, MultiPolygon, Point, Polygon,
};
use rstar::primitives::{GeomWithData, Line as RLine, Rectangle};
use rstar::{PointDistance, RTree, AABB};
use serde::Serialize;
use serde_json::Value;

static ADMIN1: &str = include_str!("../../../data/geo/admin1.geojson");
static BORDER: &str = include_str!("../../../data/geo/ua-ru-border.geojson");

/// Bad coordinates or boundary data.
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum GeoError {
    /// Latitude outside ±90.
    #[error("latitude `{0}` is outside -90..90")]
    #[diagnostic(
        code(enduse::bad_latitude),
        help("write LAT,LON with latitude first, e.g. 50.0,36.23")
    )]
    Latitude(f64),
    /// Longitude outside ±180.
    #[error("longitude `{0}` is outside -180..180")]
    #[diagnostic(
        code(enduse::bad_longitude),
        help("write LAT,LON with latitude first, e.g. 50.0,36.23")
    )]
    Longitude(f64),
    /// NaN or infinite.
    #[error("coordinate `{0}` is not a finite number")]
    #[diagnostic(code(enduse::bad_coordinate))]
    NotFinite(String),
    /// Not `LAT,LON`.
    #[error("`{0}` is not a coordinate pair")]
    #[diagnostic(
        code(enduse::bad_coordinate),
        help("write LAT,LON in decimal degrees, e.g. 45.0,34.1")
    )]
    Shape(String),
    /// Broken boundary data.
    #[error("boundary data: {0}")]
    #[diagnostic(code(enduse::bad_boundaries))]
    Data(String),
}

/// A point in WGS84 decimal degrees, checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatLon {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
}

impl LatLon {
    /// Checks ranges and finiteness.
    pub fn new(lat: f64, lon: f64) -> Result<Self, GeoError> {
        if !lat.is_finite() {
            return Err(GeoError::NotFinite(lat.to_string()));
        }
        if !lon.is_finite() {
            return Err(GeoError::NotFinite(lon.to_string()));
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(GeoError::Latitude(lat));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(GeoError::Longitude(lon));
        }
        Ok(Self { lat, lon })
    }

    /// Parses `LAT,LON` (spaces allowed).
    pub fn parse(s: &str) -> Result<Self, GeoError> {
        let (a, b) = s
            .split_once(',')
            .ok_or_else(|| GeoError::Shape(s.to_owned()))?;
        let num = |x: &str| -> Result<f64, GeoError> {
            let x = x.trim();
            let v: f64 = x.parse().map_err(|_| GeoError::Shape(s.to_owned()))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(GeoError::NotFinite(x.to_owned()))
            }
        };
        Self::new(num(a)?, num(b)?)
    }
}

/// One first-level subdivision polygon.
#[derive(Debug, Clone)]
struct Area {
    iso_3166_1: String,
    iso_3166_2: Option<String>,
    name: String,
    adm1_code: String,
    shape: MultiPolygon<f64>,
    /// The point-in-polygon index, built on first use: a process asks
    /// about a point or two, which fall in the boxes of a few areas only.
    banded: std::sync::OnceLock<pip::BandedShape>,
}

impl Area {
    fn contains(&self, x: f64, y: f64) -> bool {
        self.banded
            .get_or_init(|| pip::BandedShape::new(&self.shape))
            .contains(x, y)
    }
}

/// Where a point lies, de jure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 3166-2, where the mapping table has one.
    pub subdivision: Option<String>,
    /// Natural Earth name (old spellings: Donets'k, Kiev).
    pub name: String,
    /// Natural Earth `adm1_code`.
    pub adm1_code: String,
}

#[derive(serde::Deserialize)]
struct FeatureCollection {
    features: Vec<Feature>,
}

#[derive(serde::Deserialize)]
struct Feature {
    properties: Properties,
    geometry: MultiPolygonGeometry,
}

#[derive(serde::Deserialize)]
struct Properties {
    iso_3166_1: String,
    iso_3166_2: Option<String>,
    name: Option<String>,
    adm1_code: Option<String>,
}

/// Only MultiPolygon geometries are accepted: the derivation script writes
/// every area as one.
#[derive(serde::Deserialize)]
struct MultiPolygonGeometry {
    #[serde(rename = "type")]
    _kind: MultiPolygonTag,
    coordinates: Vec<Vec<Vec<[f64; 2]>>>,
}

#[derive(serde::Deserialize)]
enum MultiPolygonTag {
    MultiPolygon,
}

/// Loaded boundaries with their spatial indexes.
pub struct Boundaries {
    areas: Vec<Area>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    /// Border segments in the longitude-scaled plane, with their index.
    border: RTree<GeomWithData<RLine<[f64; 2]>, usize>>,
    /// Border segments as read (lon, lat), by index.
    border_ends: Vec<[[f64; 2]; 2]>,
    /// The subdivisions each border segment bounds, by index: computed on
    /// first use, since only border bands along named places need it.
    border_sides: std::sync::OnceLock<Vec<Vec<BorderSide>>>,
    /// The border's geodesic length, computed on first use (a thousand
    /// geodesic distances that a decision at a point does not need).
    border_km: std::sync::OnceLock<f64>,
}

/// A subdivision on one side of a border segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorderSide {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 3166-2, where the mapping table has one.
    pub subdivision: Option<String>,
}

/// The nearest point of the border to a point.
#[derive(Debug, Clone, PartialEq)]
pub struct BorderNearest {
    /// Geodesic distance (WGS84), km.
    pub km: f64,
    /// The border segments (indexes into [`Boundaries::border_sides`]) on
    /// which the nearest point lies: one, or two where it is their shared
    /// vertex.
    pub segments: Vec<usize>,
}

/// Longitudes are scaled by this factor in the border index so that planar
/// nearest-neighbour search approximates ground distance at about 48°N, the
/// middle of the border; candidates are then measured geodesically.
const LON_SCALE: f64 = 0.67;

fn coords(v: &Value) -> Option<Vec<Coord<f64>>> {
    v.as_array()?
        .iter()
        .map(|p| {
            let a = p.as_array()?;
            Some(Coord {
                x: a.first()?.as_f64()?,
                y: a.get(1)?.as_f64()?,
            })
        })
        .collect()
}

impl Boundaries {
    /// The boundaries bundled with enduse (derived from Natural Earth; see
    /// `data/geo/README.md`).
    pub fn bundled() -> Result<Self, GeoError> {
        Self::from_geojson(ADMIN1, BORDER)
    }

    /// Loads an admin-1 FeatureCollection (properties `iso_3166_1`,
    /// `iso_3166_2`, `name`, `adm1_code`; MultiPolygon geometry) and a border
    /// MultiLineString feature.
    pub fn from_geojson(admin1: &str, border: &str) -> Result<Self, GeoError> {
        let bad = |m: &str| GeoError::Data(m.to_owned());
        // Typed deserialisation: about three times faster than going through
        // `serde_json::Value` for 1.5 MB of coordinates, which every CLI run pays.
        let fc: FeatureCollection = serde_json::from_str(admin1)
            .map_err(|e| GeoError::Data(format!("admin-1 GeoJSON: {e}")))?;
        let mut areas = Vec::new();
        for f in fc.features {
            let polys = f
                .geometry
                .coordinates
                .into_iter()
                .map(|rings| {
                    let mut rings = rings.into_iter().map(|r| {
                        LineString::new(r.into_iter().map(|[x, y]| Coord { x, y }).collect())
                    });
                    let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
                    Polygon::new(exterior, rings.collect())
                })
                .collect();
            let shape = MultiPolygon::new(polys);
            areas.push(Area {
                iso_3166_1: f.properties.iso_3166_1,
                iso_3166_2: f.properties.iso_3166_2,
                name: f.properties.name.unwrap_or_default(),
                adm1_code: f.properties.adm1_code.unwrap_or_default(),
                banded: std::sync::OnceLock::new(),
                shape,
            });
        }
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
        let b: Value = serde_json::from_str(border).map_err(|e| GeoError::Data(e.to_string()))?;
        let mut segments = Vec::new();
        let mut border_ends = Vec::new();
        for line in b["geometry"]["coordinates"]
            .as_array()
            .ok_or_else(|| bad("border has no lines"))?
        {
            let c = coords(line).ok_or_else(|| bad("bad border line"))?;
            for w in c.windows(2) {
                segments.push(GeomWithData::new(
                    RLine::new([w[0].x * LON_SCALE, w[0].y], [w[1].x * LON_SCALE, w[1].y]),
                    border_ends.len(),
                ));
                border_ends.push([[w[0].x, w[0].y], [w[1].x, w[1].y]]);
            }
        }
        if segments.is_empty() {
            return Err(bad("border has no segments"));
        }
        Ok(Self {
            areas,
            tree: RTree::bulk_load(boxes),
            border: RTree::bulk_load(segments),
            border_ends,
            border_sides: std::sync::OnceLock::new(),
            border_km: std::sync::OnceLock::new(),
        })
    }

    /// The de jure location of `p`, or `None` when no loaded polygon holds it
    /// (at sea, or outside the region covered). Points on a shared boundary
    /// get the first area found; that is deterministic but arbitrary.
    pub fn locate(&self, p: LatLon) -> Option<Location> {
        let pt = Point::new(p.lon, p.lat);
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.lon, p.lat]))
            .map(|g| &self.areas[g.data])
            .find(|a| a.contains(pt.x(), pt.y()))
            .map(|a| Location {
                country: a.iso_3166_1.clone(),
                subdivision: a.iso_3166_2.clone(),
                name: a.name.clone(),
                adm1_code: a.adm1_code.clone(),
            })
    }

    /// Geodesic distance (WGS84) from `p` to the Ukraine-Russia land border, in km.
    pub fn border_distance_km(&self, p: LatLon) -> f64 {
        self.border_nearest(p).km
    }

    /// The distance from `p` to the Ukraine-Russia land border and the
    /// segments the nearest border point lies on.
    pub fn border_nearest(&self, p: LatLon) -> BorderNearest {
        let q = [p.lon * LON_SCALE, p.lat];
        let origin = Point::new(p.lon, p.lat);
        // The scaled planar order is close to the true one; the first few
        // candidates are compared on the sphere (cheap), and the winner is
        // measured on the WGS84 ellipsoid (exact, about 1 µs).
        let mut best = (f64::INFINITY, origin);
        let mut seen: Vec<(f64, usize)> = Vec::new();
        for seg in self.border.nearest_neighbor_iter(&q).take(12) {
            let line = seg.geom();
            let c = closest_on_segment(q, line.from, line.to);
            let on = Point::new(c[0] / LON_SCALE, c[1]);
            let d = Haversine.distance(origin, on) / 1000.0;
            seen.push((d, seg.data));
            if d < best.0 {
                best = (d, on);
            }
            if seg.distance_2(&q).sqrt() * 111.0 * 0.5 > best.0 {
                break;
            }
        }
        // Segments whose nearest point is the winner too (a shared vertex),
        // within a millimetre.
        let segments = seen
            .iter()
            .filter(|(d, _)| *d <= best.0 + 1e-6)
            .map(|(_, i)| *i)
            .collect();
        BorderNearest {
            km: Geodesic.distance(origin, best.1) / 1000.0,
            segments,
        }
    }

    /// For every border segment (by index), the subdivisions whose outline
    /// holds it: its Ukrainian and its Russian side. Found by matching the
    /// segment's vertices exactly against the admin-1 rings, as the border
    /// was derived from the edges the two countries share.
    pub fn border_sides(&self) -> &[Vec<BorderSide>] {
        self.border_sides.get_or_init(|| {
            let key = |a: [f64; 2], b: [f64; 2]| {
                let (a, b) = (
                    (a[0].to_bits(), a[1].to_bits()),
                    (b[0].to_bits(), b[1].to_bits()),
                );
                if a <= b {
                    (a, b)
                } else {
                    (b, a)
                }
            };
            let index: std::collections::HashMap<_, usize> = self
                .border_ends
                .iter()
                .enumerate()
                .map(|(i, [a, b])| (key(*a, *b), i))
                .collect();
            let mut sides = vec![Vec::new(); self.border_ends.len()];
            for a in &self.areas {
                for poly in &a.shape.0 {
                    for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                        for l in ring.lines() {
                            let k = key([l.start.x, l.start.y], [l.end.x, l.end.y]);
                            if let Some(&i) = index.get(&k) {
                                let side = BorderSide {
                                    country: a.iso_3166_1.clone(),
                                    subdivision: a.iso_3166_2.clone(),
                                };
                                if !sides[i].contains(&side) {
                                    sides[i].push(side);
                                }
                            }
                        }
                    }
                }
            }
            sides
        })
    }

    /// Total length of the border line, in km.
    pub fn border_length_km(&self) -> f64 {
        *self.border_km.get_or_init(|| {
            self.border_ends
                .iter()
                .map(|[a, b]| {
                    Geodesic.distance(Point::new(a[0], a[1]), Point::new(b[0], b[1])) / 1000.0
                })
                .sum()
        })
    }

    /// Number of loaded areas.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// The shape of the subdivision with ISO 3166-2 code `code`.
    pub fn shape_of(&self, code: &str) -> Option<&MultiPolygon<f64>> {
        self.areas
            .iter()
            .find(|a| a.iso_3166_2.as_deref() == Some(code))
            .map(|a| &a.shape)
    }

    /// Every area's country, subdivision code and shape, for drawing.
    pub fn shapes(&self) -> impl Iterator<Item = (&str, Option<&str>, &MultiPolygon<f64>)> {
        self.areas
            .iter()
            .map(|a| (a.iso_3166_1.as_str(), a.iso_3166_2.as_deref(), &a.shape))
    }

    /// The border segments as (lon, lat) pairs, for drawing.
    pub fn border_segments(&self) -> Vec<[[f64; 2]; 2]> {
        self.border_ends.clone()
    }
}

fn closest_on_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return a;
    }
    let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0);
    [a[0] + t * dx, a[1] + t * dy]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn b() -> &'static Boundaries {
        static B: OnceLock<Boundaries> = OnceLock::new();
        B.get_or_init(|| Boundaries::bundled().unwrap())
    }

    fn at(lat: f64, lon: f64) -> Option<Location> {
        b().locate(LatLon::new(lat, lon).unwrap())
    }

    #[test]
    fn real_points_are_classified() {
        let crimea = at(45.0, 34.1).unwrap();
        assert_eq!(
            (crimea.country.as_str(), crimea.subdivision.as_deref()),
            ("UA", Some("UA-43"))
        );
        assert_eq!(
            at(44.6, 33.5).unwrap().subdivision.as_deref(),
            Some("UA-40")
        );
        assert_eq!(
            at(50.0, 36.23).unwrap().subdivision.as_deref(),
            Some("UA-63")
        );
        assert_eq!(
            at(50.6, 36.6).unwrap().subdivision.as_deref(),
            Some("RU-BEL")
        );
        assert_eq!(
            at(51.73, 36.19).unwrap().subdivision.as_deref(),
            Some("RU-KRS")
        );
        assert_eq!(
            at(53.25, 34.37).unwrap().subdivision.as_deref(),
            Some("RU-BRY")
        );
        assert_eq!(at(53.9, 27.57).unwrap().country, "BY");
        assert_eq!(
            at(55.75, 37.62).unwrap().subdivision.as_deref(),
            Some("RU-MOW")
        );
    }

    #[test]
    fn points_at_sea_have_no_country() {
        assert_eq!(at(43.5, 34.0), None, "Black Sea");
        assert_eq!(at(46.0, 36.5), None, "Sea of Azov");
    }

    #[test]
    fn border_distances() {
        // The border line is the one the issue describes: about 1,521 km.
        assert!(
            (b().border_length_km() - 1521.0).abs() < 15.0,
            "{}",
            b().border_length_km()
        );
        let belgorod = b().border_distance_km(LatLon::new(50.6, 36.6).unwrap());
        // Belgorod city lies about 30-40 km north of the border (independent
        // check below, against the nearest border vertex).
        assert!((20.0..45.0).contains(&belgorod), "{belgorod}");
        let moscow = b().border_distance_km(LatLon::new(55.75, 37.62).unwrap());
        assert!(moscow > 400.0, "{moscow}");
        let kharkiv = b().border_distance_km(LatLon::new(50.0, 36.23).unwrap());
        assert!((20.0..50.0).contains(&kharkiv), "{kharkiv}");
    }

    /// The indexed distance equals a brute-force minimum over every border
    /// vertex, within the gap that vertices leave between them.
    #[test]
    fn indexed_distance_matches_brute_force() {
        let border: Value = serde_json::from_str(BORDER).unwrap();
        let verts: Vec<Point<f64>> = border["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| coords(l).unwrap())
            .map(Point::from)
            .collect();
        for (lat, lon) in [
            (50.6, 36.6),
            (51.73, 36.19),
            (48.0, 39.9),
            (52.3, 33.5),
            (47.2, 38.9),
            (55.75, 37.62),
        ] {
            let p = LatLon::new(lat, lon).unwrap();
            let brute = verts
                .iter()
                .map(|v| Geodesic.distance(Point::new(lon, lat), *v) / 1000.0)
                .fold(f64::INFINITY, f64::min);
            let fast = b().border_distance_km(p);
            assert!(fast <= brute + 1e-6, "{lat},{lon}: {fast} > {brute}");
            assert!(brute - fast < 10.0, "{lat},{lon}: {fast} vs {brute}");
        }
    }

    #[test]
    fn malformed_boundary_files_are_refused() {
        let poly = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"iso_3166_1":"UA"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#;
        let e = Boundaries::from_geojson(poly, BORDER).err().unwrap();
        assert!(e.to_string().contains("admin-1 GeoJSON"), "{e}");
        assert!(e.to_string().contains("MultiPolygon"), "{e}");
        let e = Boundaries::from_geojson("{", BORDER).err().unwrap();
        assert!(e.to_string().contains("admin-1 GeoJSON"), "{e}");
    }

    #[test]
    fn bad_coordinates_are_refused() {
        assert_eq!(LatLon::new(91.0, 0.0), Err(GeoError::Latitude(91.0)));
        assert_eq!(LatLon::new(0.0, -181.0), Err(GeoError::Longitude(-181.0)));
        assert!(matches!(
            LatLon::new(f64::NAN, 0.0),
            Err(GeoError::NotFinite(_))
        ));
        assert!(matches!(
            LatLon::parse("NaN,1"),
            Err(GeoError::NotFinite(_))
        ));
        assert!(matches!(LatLon::parse("45.0"), Err(GeoError::Shape(_))));
        assert!(matches!(
            LatLon::parse("45.0;34.1"),
            Err(GeoError::Shape(_))
        ));
        assert_eq!(
            LatLon::parse(" 45.0 , 34.1 ").unwrap(),
            LatLon {
                lat: 45.0,
                lon: 34.1
            }
        );
    }
}
