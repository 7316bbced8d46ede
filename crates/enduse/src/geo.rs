//! Geography for the engine: the bundled boundaries (parsed once per
//! process), control layers, the facts of a point that a query needs, and
//! the checks of a data set's named areas and control layer.

use crate::error::{cut, Error, Result};
use chrono::NaiveDate;
use enduse_core::{Engine, PartyId, PlaceCode, Query};
use enduse_geo::{Boundaries, ControlLayer, LatLon, NamedAreas};
use serde::{Deserialize, Serialize};

/// The bundled admin-1 boundaries packed at build time (see `build.rs`).
static PACKED_ADMIN1: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/admin1.packed"));

/// The bundled boundaries, read once per process: from the pack made at
/// build time while it matches the bundled GeoJSON, else from the GeoJSON.
pub fn boundaries() -> Result<&'static Boundaries> {
    static B: std::sync::OnceLock<std::result::Result<Boundaries, enduse_geo::GeoError>> =
        std::sync::OnceLock::new();
    B.get_or_init(|| {
        Boundaries::bundled_from_packed(PACKED_ADMIN1).unwrap_or_else(Boundaries::bundled)
    })
    .as_ref()
    .map_err(|e| Error::internal(format!("the bundled boundaries cannot be read: {e}")))
}

/// Reads a control layer named `name` (in messages) on the bundled
/// boundaries.
pub fn parse_control(text: &str, name: &str) -> Result<ControlLayer> {
    ControlLayer::from_json(text, boundaries()?).map_err(|e| match e {
        enduse_geo::GeoError::Data(m) => Error::bad_request(
            "enduse::bad_control_layer",
            format!("`{}`: {m}", cut(name)),
            "fix the control layer: each area needs `id`, `controlled_by`, `valid_from` and an outline",
        ),
        other => other.into(),
    })
}

/// The register's named areas, compiled on the bundled boundaries.
pub(crate) fn named_areas(engine: &Engine) -> Result<NamedAreas<'static>> {
    NamedAreas::new(engine.register(), boundaries()?).map_err(|problems| {
        Error::internal(format!(
            "the register's named areas are invalid: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// A point: `"LAT,LON"` in decimal degrees, or `{"lat": .., "lon": ..}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Point {
    /// `"LAT,LON"`, e.g. `"50.6,36.6"`.
    Text(String),
    /// Latitude and longitude.
    LatLon {
        /// Latitude, -90..=90.
        lat: f64,
        /// Longitude, -180..=180.
        lon: f64,
    },
}

impl Point {
    /// The checked coordinates.
    pub fn latlon(&self) -> Result<LatLon> {
        Ok(match self {
            Point::Text(s) => LatLon::parse(s)?,
            Point::LatLon { lat, lon } => LatLon::new(*lat, *lon)?,
        })
    }
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Point::Text(s) => f.write_str(s),
            Point::LatLon { lat, lon } => write!(f, "{lat},{lon}"),
        }
    }
}

impl From<&str> for Point {
    fn from(s: &str) -> Self {
        Point::Text(s.to_owned())
    }
}

/// The facts of a point that a query needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PointFacts {
    /// Its place in the register: the subdivision, or the country where the
    /// register lacks the subdivision.
    pub place: PlaceCode,
    /// Its border distance in whole km, rounded up (so that a "within N km"
    /// limit is met only when surely met).
    pub border_km: i64,
    /// Who controls it on the day, where that is a party of the register.
    pub controlled_by: Option<PartyId>,
    /// The ids of the register's named areas in force on the day that
    /// contain it.
    pub areas: Vec<String>,
}

impl PointFacts {
    /// Puts the facts into `q`.
    pub fn apply(&self, q: &mut Query) {
        q.place = Some(self.place.clone());
        q.border_distance_km = Some(self.border_km);
        q.controlled_by = self.controlled_by.clone();
        q.areas = Some(self.areas.clone());
    }
}

/// The facts of point `p` on `date`. `None` when the point lies in no
/// loaded polygon or in no place the register knows.
pub(crate) fn point_facts(
    engine: &Engine,
    geo: &Boundaries,
    control: &ControlLayer,
    areas: &NamedAreas<'_>,
    p: LatLon,
    date: NaiveDate,
) -> Option<PointFacts> {
    let loc = geo.locate(p)?;
    let code = loc
        .subdivision
        .clone()
        .unwrap_or_else(|| loc.country.clone());
    let place = engine
        .resolve_place(&code)
        .or_else(|_| engine.resolve_place(&loc.country))
        .ok()?;
    let border_km = geo.border_distance_km(p).ceil() as i64;
    let holder = control.control(p, date, &loc.country).controlled_by;
    let chain = enduse_geo::de_jure_chain(engine.register(), &loc);
    Some(PointFacts {
        place,
        border_km,
        controlled_by: engine.resolve_party(&holder).ok(),
        areas: areas.containing(p, &chain, date),
    })
}

/// The error for a point on no land the register knows.
pub(crate) fn no_country(point: &Point) -> Error {
    Error::bad_request(
        "enduse::no_country",
        format!(
            "no country at `{}`: the point is at sea or outside the loaded boundaries",
            cut(&point.to_string())
        ),
        "give a `place` (its code) instead, or a point on land in the covered region",
    )
}

/// Checks what the loader leaves to the geography: the named areas of
/// `areas.toml` (outlines, cycles of unions, border stretches) and the
/// control layer `control.json` (outlines, dates, and that every
/// `controlled_by` is a party of `register`). Every problem is reported with
/// its file and the area's id.
pub fn check_geography(
    files: &enduse_load::DataFiles,
    register: &enduse_core::Register,
) -> Result<()> {
    use enduse_core::{Origin, Problem};
    let b = boundaries()?;
    let mut problems = Vec::new();
    if let Err(found) = NamedAreas::new(register, b) {
        for p in found {
            problems.push(Problem::record(
                "area",
                p.id.as_deref().unwrap_or_default(),
                p.field,
                p.to_string(),
            ));
        }
    }
    if let Some(text) = files.get(enduse_load::CONTROL_FILE) {
        let control = |id: Option<&str>, message: String| {
            Problem::new(
                Origin::File {
                    file: enduse_load::CONTROL_FILE.into(),
                    span: id.and_then(|id| json_id_span(text, id)),
                },
                match id {
                    Some(id) => format!("control area `{id}`: {message}"),
                    None => message,
                },
            )
        };
        let found = ControlLayer::check(text, b);
        if found.is_empty() {
            let layer = ControlLayer::from_json(text, b)?;
            for (id, by) in layer.controllers() {
                if !register.parties.contains_key(&PartyId::new(by)) {
                    problems.push(control(
                        Some(id),
                        format!("`controlled_by` `{by}` is not a party of the register"),
                    ));
                }
            }
        }
        for p in found {
            problems.push(control(p.id.as_deref(), p.message));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(enduse_load::DataSetError::from_problems(files, problems).into())
    }
}

/// The span of `"id": "ID"` in a JSON text, for locating a control area.
fn json_id_span(text: &str, id: &str) -> Option<std::ops::Range<usize>> {
    let quoted = serde_json::to_string(id).ok()?;
    let mut from = 0;
    while let Some(i) = text[from..].find(&quoted) {
        let at = from + i;
        let before = text[..at].trim_end();
        if before
            .strip_suffix(':')
            .is_some_and(|b| b.trim_end().ends_with("\"id\""))
        {
            let start = text[..at].rfind("\"id\"").unwrap_or(at);
            return Some(start..at + quoted.len());
        }
        from = at + quoted.len();
    }
    None
}

/// Checks one control area (the JSON of `put control`) as `check --at` will
/// read it: its outline and dates, and that its `controlled_by` is a party
/// of `register`.
pub(crate) fn check_control_area(
    register: &enduse_core::Register,
    name: &str,
    text: &str,
) -> Result<()> {
    let layer = parse_control(&format!("{{\"areas\": [{text}]}}"), name)?;
    for (id, by) in layer.controllers() {
        if !register.parties.contains_key(&PartyId::new(by)) {
            return Err(Error::bad_request(
                "enduse::bad_control_layer",
                format!(
                    "`{}`: control area `{id}`: `controlled_by` `{by}` is not a party of the register",
                    cut(name)
                ),
                "put the party first, or name one the register has",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_read_both_shapes() {
        let a: Point = serde_json::from_str("\"45.0,34.1\"").unwrap();
        let b: Point = serde_json::from_str("{\"lat\": 45.0, \"lon\": 34.1}").unwrap();
        assert_eq!(a.latlon().unwrap(), b.latlon().unwrap());
        assert_eq!(b.to_string(), "45,34.1");
        assert!(Point::from("95,30").latlon().is_err());
    }

    #[test]
    fn json_ids_are_found() {
        let t = r#"{"areas": [{"id": "a"}, {"note": "a", "id": "b"}]}"#;
        assert_eq!(json_id_span(t, "b").map(|r| &t[r]), Some("\"id\": \"b\""));
        assert_eq!(json_id_span(t, "c"), None);
    }
}

#[cfg(test)]
mod packed_tests {
    use super::*;

    #[test]
    fn the_build_packed_the_bundled_boundaries() {
        // Made from the very GeoJSON bundled in this build, so it is read.
        let packed = Boundaries::bundled_from_packed(PACKED_ADMIN1)
            .expect("the pack matches the bundled GeoJSON")
            .unwrap();
        assert_eq!(packed.len(), Boundaries::bundled().unwrap().len());
    }
}
