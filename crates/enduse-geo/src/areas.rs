//! Named areas: which of the register's `[[area]]`s contain a point on a
//! day. An area is a union of de jure places, a union of other areas, a band
//! along the Ukraine-Russia land border (or a stretch of it), a drawn
//! polygon, or the surroundings of Natural Earth populated places; any of
//! them may be clipped to points `within` given places.

use crate::{shape, Boundaries, GeoError, LatLon, Location};
use chrono::NaiveDate;
use enduse_core::{NamedArea, PlaceCode, Register};
use geo::{Distance, Geodesic, Intersects, MultiPolygon, Point};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

static PLACES: &str = include_str!("../../../data/geo/populated-places.geojson");

/// A problem with one named area (or one control area).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaProblem {
    /// The area's id; `None` for a problem of the whole file.
    pub id: Option<String>,
    /// The field at fault (`geometry`, `areas`, `opposite`, ...), when one is.
    pub field: Option<&'static str>,
    /// What is wrong: lowercase, input in backticks.
    pub message: String,
}

impl AreaProblem {
    pub(crate) fn new(id: &str, field: Option<&'static str>, message: String) -> Self {
        Self {
            id: Some(id.to_owned()),
            field,
            message,
        }
    }
}

impl fmt::Display for AreaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "area `{id}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Natural Earth 1:10m populated places of the region (see
/// `data/geo/README.md`).
pub struct PopulatedPlaces {
    /// Name and (lon, lat).
    places: Vec<(String, Point<f64>)>,
}

impl PopulatedPlaces {
    /// The bundled places (`data/geo/populated-places.geojson`), read once
    /// per process.
    pub fn bundled() -> Result<&'static Self, GeoError> {
        static P: OnceLock<Result<PopulatedPlaces, GeoError>> = OnceLock::new();
        P.get_or_init(|| Self::from_geojson(PLACES))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads a FeatureCollection of Point features with a `name` property.
    pub fn from_geojson(text: &str) -> Result<Self, GeoError> {
        let bad = |m: String| GeoError::Data(format!("populated places: {m}"));
        let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let features = v["features"]
            .as_array()
            .ok_or_else(|| bad("no `features`".into()))?;
        let mut places = Vec::with_capacity(features.len());
        for (i, f) in features.iter().enumerate() {
            let c = &f["geometry"]["coordinates"];
            let (Some(lon), Some(lat)) = (c[0].as_f64(), c[1].as_f64()) else {
                return Err(bad(format!("feature {} has no point", i + 1)));
            };
            let p = LatLon::new(lat, lon).map_err(|e| bad(e.to_string()))?;
            let name = f["properties"]["name"].as_str().unwrap_or_default();
            places.push((name.to_owned(), Point::new(p.lon, p.lat)));
        }
        Ok(Self { places })
    }

    /// Number of places.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The nearest place within `km` of `p` (geodesic, WGS84), with its
    /// distance.
    pub fn nearest_within(&self, p: LatLon, km: f64) -> Option<(&str, f64)> {
        let origin = Point::new(p.lon, p.lat);
        // A degree of latitude is at least 110.5 km, so a place further
        // in latitude than this cannot be within `km`.
        let dlat = km / 110.0;
        self.places
            .iter()
            .filter(|(_, q)| (q.y() - p.lat).abs() <= dlat)
            .map(|(name, q)| (name.as_str(), Geodesic.distance(origin, *q) / 1000.0))
            .filter(|(_, d)| *d <= km)
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// How an area is defined, compiled.
enum Kind {
    Places(Vec<PlaceCode>),
    Union(Vec<usize>),
    Band {
        km: f64,
        /// Per border segment: whether it is on the stretch along the
        /// `opposite` places; `None`: the whole border.
        stretch: Option<Vec<bool>>,
    },
    Geometry(MultiPolygon<f64>),
    Populated(f64),
    /// Defined no way (the loader refuses that; nothing is contained).
    Nothing,
}

struct Compiled {
    def: NamedArea,
    kind: Kind,
}

/// The register's named areas, compiled for point tests.
pub struct NamedAreas<'b> {
    boundaries: &'b Boundaries,
    areas: Vec<Compiled>,
    places: Option<&'static PopulatedPlaces>,
}

/// The de jure places of a location, narrowest first, as the register
/// knows them: the subdivision (or the country, where the register lacks the
/// subdivision) and every place enclosing it. The codes Natural Earth gives
/// are kept even where the register lacks them.
pub fn de_jure_chain(register: &Register, loc: &Location) -> Vec<PlaceCode> {
    let sub = loc.subdivision.as_ref().map(PlaceCode::new);
    let country = PlaceCode::new(&loc.country);
    let start = sub
        .clone()
        .filter(|s| register.places.contains_key(s))
        .unwrap_or_else(|| country.clone());
    let mut chain = register.place_chain(&start);
    for c in sub.into_iter().chain([country]) {
        if !chain.contains(&c) {
            chain.push(c);
        }
    }
    chain
}

/// The ids of the register's named areas that contain `p` on `date`, in id
/// order: compiles the areas and classifies `p` on `boundaries`. For many
/// points, compile once with [`NamedAreas::new`] instead.
pub fn areas_at(
    register: &Register,
    boundaries: &Boundaries,
    p: LatLon,
    date: NaiveDate,
) -> Result<Vec<String>, GeoError> {
    let areas = NamedAreas::new(register, boundaries).map_err(|problems| {
        GeoError::Data(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let chain = boundaries
        .locate(p)
        .map(|loc| de_jure_chain(register, &loc))
        .unwrap_or_default();
    Ok(areas.containing(p, &chain, date))
}

impl<'b> NamedAreas<'b> {
    /// Compiles and checks the register's named areas: geometries (ranges,
    /// closed simple rings of at least 4 positions, Polygon or MultiPolygon),
    /// unions that form a cycle, and border stretches along places that have
    /// none. Every problem is returned.
    pub fn new(register: &Register, boundaries: &'b Boundaries) -> Result<Self, Vec<AreaProblem>> {
        let index: HashMap<&str, usize> = register
            .areas
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let mut problems = Vec::new();
        let mut places = None;
        let mut areas = Vec::with_capacity(register.areas.len());
        for a in register.areas.values() {
            let kind = if !a.places.is_empty() {
                Kind::Places(a.places.clone())
            } else if !a.areas.is_empty() {
                // Unknown ids are the loader's to report; they add nothing.
                Kind::Union(
                    a.areas
                        .iter()
                        .filter_map(|x| index.get(x.as_str()).copied())
                        .collect(),
                )
            } else if let Some(km) = a.border_band_km {
                let stretch = if a.opposite.is_empty() {
                    None
                } else {
                    Some(stretch(register, boundaries, a, &mut problems))
                };
                Kind::Band { km, stretch }
            } else if let Some(text) = &a.geometry {
                match serde_json::from_str::<Value>(text)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|v| shape::geometry(&v))
                {
                    Ok(g) => Kind::Geometry(g),
                    Err(m) => {
                        problems.push(AreaProblem::new(
                            &a.id,
                            Some("geometry"),
                            format!("`geometry`: {m}"),
                        ));
                        Kind::Nothing
                    }
                }
            } else if let Some(km) = a.populated_within_km {
                match PopulatedPlaces::bundled() {
                    Ok(p) => {
                        places = Some(p);
                        Kind::Populated(km)
                    }
                    Err(e) => {
                        problems.push(AreaProblem::new(
                            &a.id,
                            Some("populated_within_km"),
                            e.to_string(),
                        ));
                        Kind::Nothing
                    }
                }
            } else {
                Kind::Nothing
            };
            areas.push(Compiled {
                def: a.clone(),
                kind,
            });
        }
        problems.extend(cycles(&areas));
        if problems.is_empty() {
            Ok(Self {
                boundaries,
                areas,
                places,
            })
        } else {
            Err(problems)
        }
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.areas.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.areas.is_empty()
    }

    /// The ids, in order, of every area in force on `date` that contains
    /// `p`, whose de jure places (narrowest first, see [`de_jure_chain`]) are
    /// `de_jure`. An area that is a union contains the point when one of its
    /// members in force does; a cycle of unions adds nothing.
    pub fn containing(&self, p: LatLon, de_jure: &[PlaceCode], date: NaiveDate) -> Vec<String> {
        let mut probe = Probe {
            areas: self,
            p,
            de_jure,
            date,
            border: None,
            base: vec![None; self.areas.len()],
        };
        (0..self.areas.len())
            .filter(|&i| probe.contains(i, &mut vec![false; self.areas.len()]))
            .map(|i| self.areas[i].def.id.clone())
            .collect()
    }
}

/// What decides whether a named area contains a point, besides its dates
/// and its `within` places (which depend only on the point's de jure
/// places): what a map must cut its regions along.
#[derive(Debug, Clone)]
pub enum AreaGeometry<'a> {
    /// De jure places or a union of other areas: constant over a
    /// subdivision.
    ByPlace,
    /// Within `km` of the border; with `stretch`, only where the nearest
    /// border point lies on a flagged segment.
    Band {
        /// The depth, km.
        km: f64,
        /// One flag per border segment, or `None` for the whole border.
        stretch: Option<&'a [bool]>,
    },
    /// A drawn outline, (lon, lat) degrees.
    Outline(&'a MultiPolygon<f64>),
    /// Within `km` of any of these populated places.
    Populated {
        /// The radius, km.
        km: f64,
        /// The places, (lon, lat) degrees.
        places: Vec<Point<f64>>,
    },
}

impl NamedAreas<'_> {
    /// The id and geometry of every area in force on `date`, in id order.
    pub fn geometries_on(&self, date: NaiveDate) -> Vec<(&str, AreaGeometry<'_>)> {
        self.areas
            .iter()
            .filter(|a| a.def.in_force(date))
            .map(|a| {
                let g = match &a.kind {
                    Kind::Places(_) | Kind::Union(_) | Kind::Nothing => AreaGeometry::ByPlace,
                    Kind::Band { km, stretch } => AreaGeometry::Band {
                        km: *km,
                        stretch: stretch.as_deref(),
                    },
                    Kind::Geometry(shape) => AreaGeometry::Outline(shape),
                    Kind::Populated(km) => AreaGeometry::Populated {
                        km: *km,
                        places: self
                            .places
                            .map(|p| p.places.iter().map(|(_, q)| *q).collect())
                            .unwrap_or_default(),
                    },
                };
                (a.def.id.as_str(), g)
            })
            .collect()
    }
}

/// One point's tests, with the results that do not depend on the path
/// through unions kept.
struct Probe<'a, 'b> {
    areas: &'a NamedAreas<'b>,
    p: LatLon,
    de_jure: &'a [PlaceCode],
    date: NaiveDate,
    border: Option<crate::BorderNearest>,
    base: Vec<Option<bool>>,
}

impl Probe<'_, '_> {
    /// Whether area `i` contains the point; `seen` marks the areas on the
    /// current path through unions, so that a cycle ends.
    fn contains(&mut self, i: usize, seen: &mut Vec<bool>) -> bool {
        if seen[i] {
            return false;
        }
        let a = &self.areas.areas[i];
        if !a.def.in_force(self.date)
            || !(a.def.within.is_empty() || a.def.within.iter().any(|w| self.de_jure.contains(w)))
        {
            return false;
        }
        if let Kind::Union(members) = &a.kind {
            seen[i] = true;
            let hit = members.iter().any(|&m| self.contains(m, seen));
            seen[i] = false;
            return hit;
        }
        if let Some(hit) = self.base[i] {
            return hit;
        }
        let hit = self.base_contains(i);
        self.base[i] = Some(hit);
        hit
    }

    fn base_contains(&mut self, i: usize) -> bool {
        let areas = self.areas;
        let p = self.p;
        match &areas.areas[i].kind {
            Kind::Places(places) => places.iter().any(|x| self.de_jure.contains(x)),
            Kind::Band { km, stretch } => {
                let near = self
                    .border
                    .get_or_insert_with(|| areas.boundaries.border_nearest(p));
                near.km <= *km
                    && stretch.as_ref().is_none_or(|s| {
                        near.segments
                            .iter()
                            .any(|&seg| s.get(seg).copied().unwrap_or(false))
                    })
            }
            Kind::Geometry(shape) => shape.intersects(&Point::new(p.lon, p.lat)),
            Kind::Populated(km) => areas
                .places
                .is_some_and(|pl| pl.nearest_within(p, *km).is_some()),
            Kind::Union(_) | Kind::Nothing => false,
        }
    }
}

/// The border segments along `a.opposite`: those whose Ukrainian or Russian
/// side is, or lies in, one of the places. A place along which no segment
/// runs is a problem.
fn stretch(
    register: &Register,
    boundaries: &Boundaries,
    a: &NamedArea,
    problems: &mut Vec<AreaProblem>,
) -> Vec<bool> {
    let sides = boundaries.border_sides();
    let mut chains: HashMap<(String, Option<String>), Vec<PlaceCode>> = HashMap::new();
    let mut used = vec![false; a.opposite.len()];
    let mask = sides
        .iter()
        .map(|seg| {
            let mut on = false;
            for side in seg {
                let chain = chains
                    .entry((side.country.clone(), side.subdivision.clone()))
                    .or_insert_with(|| {
                        de_jure_chain(
                            register,
                            &Location {
                                country: side.country.clone(),
                                subdivision: side.subdivision.clone(),
                                name: String::new(),
                                adm1_code: String::new(),
                            },
                        )
                    });
                for (k, o) in a.opposite.iter().enumerate() {
                    if chain.contains(o) {
                        used[k] = true;
                        on = true;
                    }
                }
            }
            on
        })
        .collect();
    for (o, used) in a.opposite.iter().zip(used) {
        if !used {
            problems.push(AreaProblem::new(
                &a.id,
                Some("opposite"),
                format!("no stretch of the Ukraine-Russia land border runs along `{o}`"),
            ));
        }
    }
    mask
}

/// Unions that contain themselves through other areas, one problem per
/// cycle. (An area listing itself is the loader's to report.)
fn cycles(areas: &[Compiled]) -> Vec<AreaProblem> {
    let mut out = Vec::new();
    let mut reported = vec![false; areas.len()];
    for start in 0..areas.len() {
        if reported[start] {
            continue;
        }
        if let Some(path) = path_back(areas, start) {
            if path.len() < 2 {
                continue;
            }
            for &i in &path {
                reported[i] = true;
            }
            let names: Vec<String> = path
                .iter()
                .chain(std::iter::once(&start))
                .map(|&i| format!("`{}`", areas[i].def.id))
                .collect();
            out.push(AreaProblem::new(
                &areas[start].def.id,
                Some("areas"),
                format!("areas form a cycle: {}", names.join(" -> ")),
            ));
        }
    }
    out
}

/// A path of unions from `start` back to `start` (starting with `start`).
fn path_back(areas: &[Compiled], start: usize) -> Option<Vec<usize>> {
    fn walk(
        areas: &[Compiled],
        at: usize,
        start: usize,
        seen: &mut [bool],
        path: &mut Vec<usize>,
    ) -> bool {
        let Kind::Union(members) = &areas[at].kind else {
            return false;
        };
        for &m in members {
            if m == start {
                return true;
            }
            if !seen[m] {
                seen[m] = true;
                path.push(m);
                if walk(areas, m, start, seen, path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut seen = vec![false; areas.len()];
    let mut path = vec![start];
    seen[start] = true;
    walk(areas, start, start, &mut seen, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use enduse_core::{DateSpec, Place, PlaceKind};

    fn b() -> &'static Boundaries {
        static B: OnceLock<Boundaries> = OnceLock::new();
        B.get_or_init(|| Boundaries::bundled().unwrap())
    }

    fn d(s: &str) -> NaiveDate {
        enduse_core::parse_day(s).unwrap()
    }

    fn area(id: &str) -> NamedArea {
        NamedArea {
            id: id.into(),
            name: id.into(),
            valid_from: None,
            valid_to: None,
            places: vec![],
            areas: vec![],
            border_band_km: None,
            opposite: vec![],
            within: vec![],
            geometry: None,
            populated_within_km: None,
            sources: vec![],
            note: None,
        }
    }

    fn codes(c: &[&str]) -> Vec<PlaceCode> {
        c.iter().map(|x| PlaceCode::new(*x)).collect()
    }

    /// A register with UA and RU, a few of their subdivisions, and `areas`.
    fn register(areas: Vec<NamedArea>) -> Register {
        let mut reg = Register::default();
        let mut place = |code: &str, parent: Option<&str>| {
            reg.places.insert(
                PlaceCode::new(code),
                Place {
                    code: PlaceCode::new(code),
                    name: code.into(),
                    kind: if parent.is_some() {
                        PlaceKind::Subdivision
                    } else {
                        PlaceKind::Country
                    },
                    parent: parent.map(PlaceCode::new),
                },
            );
        };
        place("UA", None);
        place("RU", None);
        for s in ["UA-63", "UA-59", "UA-43", "UA-40", "UA-74"] {
            place(s, Some("UA"));
        }
        for s in ["RU-BEL", "RU-KRS", "RU-BRY", "RU-VOR", "RU-ROS", "RU-MOW"] {
            place(s, Some("RU"));
        }
        for a in areas {
            reg.areas.insert(a.id.clone(), a);
        }
        reg
    }

    /// The areas containing (lat, lon) on `day`, as the CLI asks.
    fn at(reg: &Register, lat: f64, lon: f64, day: &str) -> Vec<String> {
        areas_at(reg, b(), LatLon::new(lat, lon).unwrap(), d(day)).unwrap()
    }

    fn problems(reg: &Register) -> Vec<String> {
        match NamedAreas::new(reg, b()) {
            Ok(_) => vec![],
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    // Belgorod city (RU-BEL, about 30-40 km from the border), Kharkiv city
    // (UA-63, about 30-40 km), Kursk city (RU-KRS, about 90-100 km), Moscow,
    // Sudzha (RU-KRS, about 10 km), and a point of Bryansk oblast near the
    // tripoint with Belarus (RU-BRY, a few km from the border).
    const BELGOROD: (f64, f64) = (50.6, 36.6);
    const KHARKIV: (f64, f64) = (50.0, 36.23);
    const KURSK: (f64, f64) = (51.73, 36.19);
    const MOSCOW: (f64, f64) = (55.75, 37.62);
    const SUDZHA: (f64, f64) = (51.19, 35.27);
    const BRYANSK_EDGE: (f64, f64) = (52.3, 33.3);

    #[test]
    fn border_band_without_opposite() {
        let mut band = area("band-50");
        band.border_band_km = Some(50.0);
        let reg = register(vec![band]);
        for (lat, lon) in [BELGOROD, KHARKIV, SUDZHA, BRYANSK_EDGE] {
            assert_eq!(at(&reg, lat, lon, "2024-06-01"), ["band-50"], "{lat},{lon}");
        }
        for (lat, lon) in [KURSK, MOSCOW] {
            assert!(at(&reg, lat, lon, "2024-06-01").is_empty(), "{lat},{lon}");
        }
        // The band is exactly the border distance.
        let p = LatLon::new(BELGOROD.0, BELGOROD.1).unwrap();
        let km = b().border_distance_km(p);
        let mut tight = area("tight");
        tight.border_band_km = Some(km - 0.01);
        let mut loose = area("loose");
        loose.border_band_km = Some(km + 0.01);
        let reg = register(vec![tight, loose]);
        assert_eq!(at(&reg, BELGOROD.0, BELGOROD.1, "2024-06-01"), ["loose"]);
    }

    #[test]
    fn border_band_within_a_country() {
        let mut band = area("ru-band");
        band.border_band_km = Some(50.0);
        band.within = codes(&["RU"]);
        let reg = register(vec![band]);
        assert_eq!(at(&reg, BELGOROD.0, BELGOROD.1, "2024-06-01"), ["ru-band"]);
        assert_eq!(at(&reg, SUDZHA.0, SUDZHA.1, "2024-06-01"), ["ru-band"]);
        assert!(at(&reg, KHARKIV.0, KHARKIV.1, "2024-06-01").is_empty());
    }

    #[test]
    fn border_band_along_opposite_places() {
        // The stretch of border along Kharkiv oblast, on either side.
        let mut kharkiv = area("kharkiv-stretch");
        kharkiv.border_band_km = Some(60.0);
        kharkiv.opposite = codes(&["UA-63"]);
        // The stretch along Kursk oblast, clipped to Russia.
        let mut kursk = area("kursk-stretch-ru");
        kursk.border_band_km = Some(60.0);
        kursk.opposite = codes(&["RU-KRS"]);
        kursk.within = codes(&["RU"]);
        let reg = register(vec![kharkiv, kursk]);
        // Belgorod city faces Kharkiv oblast; Sudzha faces Sumy oblast.
        assert_eq!(
            at(&reg, BELGOROD.0, BELGOROD.1, "2024-06-01"),
            ["kharkiv-stretch"]
        );
        assert_eq!(
            at(&reg, KHARKIV.0, KHARKIV.1, "2024-06-01"),
            ["kharkiv-stretch"]
        );
        assert_eq!(
            at(&reg, SUDZHA.0, SUDZHA.1, "2024-06-01"),
            ["kursk-stretch-ru"]
        );
        // Bryansk is near the border but not along those stretches.
        assert!(at(&reg, BRYANSK_EDGE.0, BRYANSK_EDGE.1, "2024-06-01").is_empty());
        // A whole country as the opposite side is the whole border.
        let mut all = area("all");
        all.border_band_km = Some(50.0);
        all.opposite = codes(&["RU"]);
        let reg = register(vec![all]);
        assert_eq!(
            at(&reg, BRYANSK_EDGE.0, BRYANSK_EDGE.1, "2024-06-01"),
            ["all"]
        );
    }

    #[test]
    fn every_border_segment_has_a_side_in_each_country() {
        let sides = b().border_sides();
        assert_eq!(sides.len(), 570);
        for (i, s) in sides.iter().enumerate() {
            let countries: Vec<&str> = s.iter().map(|x| x.country.as_str()).collect();
            assert!(
                countries.contains(&"UA") && countries.contains(&"RU"),
                "segment {i}: {s:?}"
            );
        }
        // Kharkiv oblast borders Belgorod oblast (and Voronezh oblast).
        assert!(sides.iter().any(
            |s| s.iter().any(|x| x.subdivision.as_deref() == Some("UA-63"))
                && s.iter().any(|x| x.subdivision.as_deref() == Some("RU-BEL"))
        ));
    }

    #[test]
    fn opposite_without_a_border_is_refused() {
        let mut band = area("nowhere");
        band.border_band_km = Some(20.0);
        band.opposite = codes(&["UA-74", "RU-MOW"]);
        let reg = register(vec![band]);
        assert_eq!(
            problems(&reg),
            ["area `nowhere`: no stretch of the Ukraine-Russia land border runs along `RU-MOW`"]
        );
    }

    #[test]
    fn places_and_unions() {
        let mut bel = area("belgorod");
        bel.places = codes(&["RU-BEL"]);
        let mut krs = area("kursk");
        krs.places = codes(&["RU-KRS"]);
        let mut both = area("both");
        both.areas = vec!["belgorod".into(), "kursk".into()];
        let mut outer = area("outer");
        outer.areas = vec!["both".into()];
        let mut russia = area("russia");
        russia.places = codes(&["RU"]);
        let reg = register(vec![bel, krs, both, outer, russia]);
        assert_eq!(
            at(&reg, BELGOROD.0, BELGOROD.1, "2024-06-01"),
            ["belgorod", "both", "outer", "russia"]
        );
        assert_eq!(
            at(&reg, KURSK.0, KURSK.1, "2024-06-01"),
            ["both", "kursk", "outer", "russia"]
        );
        assert_eq!(at(&reg, MOSCOW.0, MOSCOW.1, "2024-06-01"), ["russia"]);
        assert!(at(&reg, KHARKIV.0, KHARKIV.1, "2024-06-01").is_empty());
        // Crimea is de jure Ukraine.
        let mut ua = area("ua");
        ua.places = codes(&["UA"]);
        let reg = register(vec![ua]);
        assert_eq!(at(&reg, 45.0, 34.1, "2024-06-01"), ["ua"]);
    }

    #[test]
    fn validity_dates_are_respected() {
        let mut bel = area("belgorod-2024");
        bel.places = codes(&["RU-BEL"]);
        bel.valid_from = Some(DateSpec::parse("2024-05").unwrap());
        bel.valid_to = Some(DateSpec::parse("2025-01-01").unwrap());
        let mut union = area("union");
        union.areas = vec!["belgorod-2024".into()];
        let reg = register(vec![bel, union]);
        let (lat, lon) = BELGOROD;
        assert!(at(&reg, lat, lon, "2024-04-30").is_empty());
        assert_eq!(at(&reg, lat, lon, "2024-05-01"), ["belgorod-2024", "union"]);
        assert_eq!(at(&reg, lat, lon, "2024-12-31"), ["belgorod-2024", "union"]);
        assert!(at(&reg, lat, lon, "2025-01-01").is_empty());
    }

    #[test]
    fn geometry_areas() {
        let mut boxed = area("box");
        boxed.geometry = Some(
            r#"{"type":"Polygon","coordinates":[[[36,50.4],[37,50.4],[37,50.9],[36,50.9],[36,50.4]]]}"#
                .into(),
        );
        let mut multi = area("two-boxes");
        multi.geometry = Some(
            r#"{"type":"MultiPolygon","coordinates":[[[[36,50.4],[37,50.4],[37,50.9],[36,50.4]]],[[[37,55],[38,55],[38,56],[37,56],[37,55]]]]}"#
                .into(),
        );
        let reg = register(vec![boxed, multi]);
        assert_eq!(
            at(&reg, BELGOROD.0, BELGOROD.1, "2024-06-01"),
            ["box", "two-boxes"]
        );
        assert_eq!(at(&reg, MOSCOW.0, MOSCOW.1, "2024-06-01"), ["two-boxes"]);
        assert!(at(&reg, KHARKIV.0, KHARKIV.1, "2024-06-01").is_empty());
        // A point at sea is in a drawn area too.
        let mut sea = area("azov");
        sea.geometry = Some(
            r#"{"type":"Polygon","coordinates":[[[36,45.8],[37,45.8],[37,46.3],[36,46.3],[36,45.8]]]}"#
                .into(),
        );
        let reg = register(vec![sea]);
        assert_eq!(at(&reg, 46.0, 36.5, "2024-06-01"), ["azov"]);
    }

    #[test]
    fn populated_places() {
        let places = PopulatedPlaces::bundled().unwrap();
        assert!(places.len() > 250, "{}", places.len());
        let (name, km) = places
            .nearest_within(LatLon::new(50.0, 36.23).unwrap(), 20.0)
            .unwrap();
        assert_eq!(name, "Kharkiv");
        assert!(km < 5.0, "{km}");
        let mut urban = area("near-a-city");
        urban.populated_within_km = Some(10.0);
        let mut urban_ru = area("near-a-russian-city");
        urban_ru.populated_within_km = Some(10.0);
        urban_ru.within = codes(&["RU"]);
        let reg = register(vec![urban, urban_ru]);
        assert_eq!(
            at(&reg, KHARKIV.0, KHARKIV.1, "2024-06-01"),
            ["near-a-city"]
        );
        assert_eq!(
            at(&reg, BELGOROD.0, BELGOROD.1, "2024-06-01"),
            ["near-a-city", "near-a-russian-city"]
        );
        // Open country between Kharkiv and Poltava.
        assert!(at(&reg, 49.8, 35.2, "2024-06-01").is_empty());
    }

    #[test]
    fn cycles_are_refused_and_cannot_loop() {
        let mut a = area("a");
        a.areas = vec!["b".into()];
        let mut bb = area("b");
        bb.areas = vec!["c".into(), "belgorod".into()];
        let mut c = area("c");
        c.areas = vec!["a".into()];
        let mut bel = area("belgorod");
        bel.places = codes(&["RU-BEL"]);
        let reg = register(vec![a, bb, c, bel]);
        assert_eq!(
            problems(&reg),
            ["area `a`: areas form a cycle: `a` -> `b` -> `c` -> `a`"]
        );
        // Evaluation ends all the same, and every union that reaches
        // Belgorod oblast contains the city.
        let compiled = NamedAreas {
            boundaries: b(),
            areas: reg
                .areas
                .values()
                .map(|x| Compiled {
                    def: x.clone(),
                    kind: match x.id.as_str() {
                        "a" => Kind::Union(vec![1]),
                        "b" => Kind::Union(vec![2, 3]),
                        "c" => Kind::Union(vec![0]),
                        _ => Kind::Places(codes(&["RU-BEL"])),
                    },
                })
                .collect(),
            places: None,
        };
        let chain = codes(&["RU-BEL", "RU"]);
        let p = LatLon::new(BELGOROD.0, BELGOROD.1).unwrap();
        assert_eq!(
            compiled.containing(p, &chain, d("2024-06-01")),
            ["a", "b", "belgorod", "c"]
        );
        assert!(compiled
            .containing(p, &codes(&["UA-63", "UA"]), d("2024-06-01"))
            .is_empty());
        // An area listing itself is not reported here (the loader does).
        let mut me = area("me");
        me.areas = vec!["me".into()];
        assert!(problems(&register(vec![me])).is_empty());
    }

    #[test]
    fn bad_geometries_are_refused_with_the_area_named() {
        let mut far = area("far");
        far.geometry =
            Some(r#"{"type":"Polygon","coordinates":[[[30,50],[370,50],[31,51],[30,50]]]}"#.into());
        let mut bow = area("bow");
        bow.geometry = Some(
            r#"{"type":"Polygon","coordinates":[[[30,50],[31,51],[31,50],[30,51],[30,50]]]}"#
                .into(),
        );
        let mut dot = area("dot");
        dot.geometry = Some(r#"{"type":"Polygon","coordinates":[[[30,50]]]}"#.into());
        let mut line = area("line");
        line.geometry = Some(r#"{"type":"LineString","coordinates":[[30,50],[31,51]]}"#.into());
        let reg = register(vec![far, bow, dot, line]);
        assert_eq!(
            problems(&reg),
            [
                "area `bow`: `geometry`: ring 1 crosses or touches itself: its edges `[30, 50]-[31, 51]` and `[31, 50]-[30, 51]` meet (a ring must be simple)",
                "area `dot`: `geometry`: ring 1 has 1 position; a ring needs at least 4, the last repeating the first",
                "area `far`: `geometry`: longitude `370` is outside -180..180 (position 2 of ring 1)",
                "area `line`: `geometry`: type `LineString` is not `Polygon` or `MultiPolygon`",
            ]
        );
    }

    #[test]
    fn de_jure_chains() {
        let reg = register(vec![]);
        let loc = b().locate(LatLon::new(50.6, 36.6).unwrap()).unwrap();
        assert_eq!(de_jure_chain(&reg, &loc), codes(&["RU-BEL", "RU"]));
        // A subdivision the register lacks: the country's chain, and the code.
        let loc = b().locate(LatLon::new(53.9, 27.57).unwrap()).unwrap();
        assert_eq!(de_jure_chain(&reg, &loc), codes(&["BY"]));
    }
}
