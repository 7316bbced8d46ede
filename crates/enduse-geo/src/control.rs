//! Control over time: who holds an area on a date, as distinct from whose
//! territory it is. Each area has a validity interval, a source and a flag for
//! coarse outlines.

use crate::{shape, AreaProblem, Boundaries, GeoError, LatLon};
use chrono::NaiveDate;
use enduse_core::DateSpec;
use geo::{Intersects, MultiPolygon, Point, Polygon};
use serde::Serialize;
use serde_json::Value;

static CONTROL: &str = include_str!("../../../data/geo/control.json");

/// One area of control.
#[derive(Debug, Clone)]
struct ControlArea {
    id: String,
    controlled_by: String,
    shape: MultiPolygon<f64>,
    valid_from: DateSpec,
    valid_to: Option<DateSpec>,
    approximate: bool,
    source: String,
    note: String,
}

/// Who controls a point on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Control {
    /// The controlling party (ISO 3166-1 code).
    pub controlled_by: String,
    /// The control area that says so, or `None` when no area covers the point
    /// and control is taken to follow the de jure border.
    pub area: Option<String>,
    /// Since when (as recorded).
    pub since: Option<String>,
    /// Whether the area's outline is a coarse approximation.
    pub approximate: bool,
    /// Whether the date falls inside an imprecise start or end of the area.
    pub date_uncertain: bool,
    /// Source id of the area.
    pub source: Option<String>,
    /// Caveats.
    pub note: Option<String>,
}

/// The outline of one control area, for drawing and for cutting regions.
#[derive(Debug, Clone, Copy)]
pub struct ControlOutline<'a> {
    /// The area's id.
    pub id: &'a str,
    /// The controlling party (ISO 3166-1 code).
    pub controlled_by: &'a str,
    /// The outline, (lon, lat) degrees.
    pub shape: &'a MultiPolygon<f64>,
    /// Whether the outline is a coarse approximation.
    pub approximate: bool,
}

/// A time-versioned control layer.
pub struct ControlLayer {
    areas: Vec<ControlArea>,
}

impl ControlLayer {
    /// The text of the bundled layer (`data/geo/control.json`).
    pub fn bundled_json() -> &'static str {
        CONTROL
    }

    /// The bundled layer (`data/geo/control.json`).
    pub fn bundled(boundaries: &Boundaries) -> Result<Self, GeoError> {
        Self::from_json(CONTROL, boundaries)
    }

    /// Loads a layer: `{"areas": [{id, controlled_by, valid_from, valid_to?,
    /// approximate, source, note, and either polygon [[lon,lat],...] or
    /// iso_3166_2 [codes of admin-1 areas]}]}`, or a GeoJSON
    /// FeatureCollection whose features carry those fields as properties and
    /// a Polygon or MultiPolygon geometry. The first problem found is the
    /// error; [`ControlLayer::check`] lists them all.
    pub fn from_json(text: &str, boundaries: &Boundaries) -> Result<Self, GeoError> {
        let (areas, problems) = parse(text, boundaries);
        match problems.into_iter().next() {
            None => Ok(Self { areas }),
            Some(p) => Err(GeoError::Data(match &p.id {
                Some(id) => format!("control area `{id}`: {}", p.message),
                None => p.message,
            })),
        }
    }

    /// Every problem of a layer's text: JSON shape, ids, dates, and
    /// outlines (positions in range, closed simple rings of at least 4
    /// positions, Polygon or MultiPolygon geometry).
    pub fn check(text: &str, boundaries: &Boundaries) -> Vec<AreaProblem> {
        parse(text, boundaries).1
    }

    /// Every area's id and controlling party, for checks against a register.
    pub fn controllers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.areas
            .iter()
            .map(|a| (a.id.as_str(), a.controlled_by.as_str()))
    }

    /// The areas that may hold on `date` (as [`ControlLayer::control`]
    /// counts them), in the layer's order: a later one overrides an earlier
    /// one where they overlap.
    pub fn outlines_on(&self, date: NaiveDate) -> Vec<ControlOutline<'_>> {
        self.areas
            .iter()
            .filter(|a| {
                a.valid_from.earliest() <= date && a.valid_to.is_none_or(|t| date < t.latest())
            })
            .map(|a| ControlOutline {
                id: &a.id,
                controlled_by: &a.controlled_by,
                shape: &a.shape,
                approximate: a.approximate,
            })
            .collect()
    }

    /// Who controls `p` on `date`. Areas that may hold on the date (their
    /// imprecise start or end straddles it) count, flagged `date_uncertain`.
    /// Without an area, control follows the de jure country given.
    pub fn control(&self, p: LatLon, date: NaiveDate, de_jure: &str) -> Control {
        let pt = Point::new(p.lon, p.lat);
        let hit = self.areas.iter().rev().find(|a| {
            a.valid_from.earliest() <= date
                && a.valid_to.is_none_or(|t| date < t.latest())
                && a.shape.intersects(&pt)
        });
        match hit {
            Some(a) => Control {
                controlled_by: a.controlled_by.clone(),
                area: Some(a.id.clone()),
                since: Some(a.valid_from.to_string()),
                approximate: a.approximate,
                date_uncertain: a.valid_from.straddles(date)
                    || a.valid_to.is_some_and(|t| t.straddles(date)),
                source: Some(a.source.clone()),
                note: Some(a.note.clone()),
            },
            None => Control {
                controlled_by: de_jure.to_owned(),
                area: None,
                since: None,
                approximate: false,
                date_uncertain: false,
                source: None,
                note: None,
            },
        }
    }
}

/// The areas of a layer, and every problem found.
fn parse(text: &str, boundaries: &Boundaries) -> (Vec<ControlArea>, Vec<AreaProblem>) {
    let whole = |m: String| {
        (
            Vec::new(),
            vec![AreaProblem {
                id: None,
                field: None,
                message: m,
            }],
        )
    };
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return whole(format!("control layer: {e}")),
    };
    // A GeoJSON FeatureCollection is accepted too: each feature's
    // properties are the area's fields, its geometry the outline.
    let list: Vec<Value> = if v["type"] == "FeatureCollection" {
        let Some(features) = v["features"].as_array() else {
            return whole("control layer has no `features`".into());
        };
        features
            .iter()
            .map(|f| {
                let mut a = f["properties"].clone();
                if let Some(obj) = a.as_object_mut() {
                    if !f["geometry"].is_null() {
                        obj.insert("geometry".into(), f["geometry"].clone());
                    }
                }
                a
            })
            .collect()
    } else {
        match v["areas"].as_array() {
            Some(a) => a.clone(),
            None => {
                return whole("control layer has no `areas` (or GeoJSON `features`)".into());
            }
        }
    };
    let mut areas = Vec::new();
    let mut problems = Vec::new();
    for (i, a) in list.iter().enumerate() {
        match area(a, boundaries) {
            Ok(x) => areas.push(x),
            Err((field, message)) => {
                let id = a["id"]
                    .as_str()
                    .map_or_else(|| format!("#{}", i + 1), str::to_owned);
                problems.push(AreaProblem {
                    id: Some(id),
                    field,
                    message,
                });
            }
        }
    }
    (areas, problems)
}

/// One area of a layer, or the field at fault and what is wrong.
fn area(a: &Value, boundaries: &Boundaries) -> Result<ControlArea, (Option<&'static str>, String)> {
    let text = |k: &str| a[k].as_str().map(str::to_owned);
    let id = text("id").ok_or((Some("id"), "no `id`".to_owned()))?;
    let date = |k: &'static str| -> Result<Option<DateSpec>, (Option<&'static str>, String)> {
        a[k].as_str()
            .map(|s| DateSpec::parse(s).map_err(|e| (Some(k), format!("`{k}`: {e}"))))
            .transpose()
    };
    let shape = if !a["polygon"].is_null() {
        let ring =
            shape::ring(&a["polygon"]).map_err(|m| (Some("polygon"), format!("`polygon`: {m}")))?;
        MultiPolygon::new(vec![Polygon::new(ring, vec![])])
    } else if let Some(codes) = a["iso_3166_2"].as_array() {
        let mut polys = Vec::new();
        for c in codes {
            let c = c
                .as_str()
                .ok_or((Some("iso_3166_2"), format!("bad `iso_3166_2` entry `{c}`")))?;
            let shape = boundaries
                .shape_of(c)
                .ok_or((Some("iso_3166_2"), format!("no boundary for `{c}`")))?;
            polys.extend(shape.0.iter().cloned());
        }
        MultiPolygon::new(polys)
    } else if !a["geometry"].is_null() {
        shape::geometry(&a["geometry"])
            .map_err(|m| (Some("geometry"), format!("`geometry`: {m}")))?
    } else {
        return Err((
            None,
            "needs `polygon` or `iso_3166_2` (or a GeoJSON geometry)".into(),
        ));
    };
    let valid_from =
        date("valid_from")?.ok_or((Some("valid_from"), "no `valid_from`".to_owned()))?;
    let valid_to = date("valid_to")?;
    if valid_to.is_some_and(|t| t.latest() <= valid_from.earliest()) {
        return Err((
            Some("valid_to"),
            "`valid_to` is not after `valid_from`".into(),
        ));
    }
    let controlled_by =
        text("controlled_by").ok_or((Some("controlled_by"), "no `controlled_by`".to_owned()))?;
    Ok(ControlArea {
        controlled_by,
        shape,
        valid_from,
        valid_to,
        approximate: a["approximate"].as_bool().unwrap_or(true),
        source: text("source").unwrap_or_default(),
        note: text("note").unwrap_or_default(),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn control_changes_over_time() {
        let b = Boundaries::bundled().unwrap();
        let c = ControlLayer::bundled(&b).unwrap();
        let crimea = LatLon::new(45.0, 34.1).unwrap();
        assert_eq!(c.control(crimea, d("2013-06-01"), "UA").controlled_by, "UA");
        let now = c.control(crimea, d("2024-09-11"), "UA");
        assert_eq!(
            (now.controlled_by.as_str(), now.area.as_deref()),
            ("RU", Some("crimea-2014"))
        );
        assert!(!now.approximate);
        let sudzha = LatLon::new(51.2, 35.27).unwrap();
        assert_eq!(c.control(sudzha, d("2024-07-01"), "RU").controlled_by, "RU");
        let held = c.control(sudzha, d("2024-10-01"), "RU");
        assert_eq!(held.controlled_by, "UA");
        assert!(held.approximate);
        let spring = c.control(sudzha, d("2025-03-20"), "RU");
        assert!(spring.date_uncertain, "{spring:?}");
        assert_eq!(c.control(sudzha, d("2025-06-01"), "RU").controlled_by, "RU");
        let donetsk = LatLon::new(48.0, 37.8).unwrap();
        assert_eq!(
            c.control(donetsk, d("2018-01-01"), "UA").area.as_deref(),
            Some("donbas-2014")
        );
        assert_eq!(
            c.control(donetsk, d("2024-01-01"), "UA").area.as_deref(),
            Some("occupied-2022")
        );
        assert_eq!(
            c.control(LatLon::new(50.0, 36.23).unwrap(), d("2024-01-01"), "UA")
                .controlled_by,
            "UA"
        );
    }

    #[test]
    fn user_layers_load_from_geojson() {
        let b = Boundaries::bundled().unwrap();
        let text = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
            "properties":{"id":"test-box","controlled_by":"UA","valid_from":"2024-08","valid_to":"2024-10-01","approximate":true,"source":"s","note":"n"},
            "geometry":{"type":"Polygon","coordinates":[[[35.0,51.0],[36.0,51.0],[36.0,52.0],[35.0,52.0],[35.0,51.0]]]}}]}"#;
        let c = ControlLayer::from_json(text, &b).unwrap();
        let p = LatLon::new(51.5, 35.5).unwrap();
        assert_eq!(
            c.control(p, d("2024-09-01"), "RU").area.as_deref(),
            Some("test-box")
        );
        assert!(c.control(p, d("2024-08-15"), "RU").date_uncertain);
        assert_eq!(c.control(p, d("2024-10-01"), "RU").controlled_by, "RU");
        let e = ControlLayer::from_json(
            r#"{"type":"FeatureCollection","features":[{"properties":{"id":"x","controlled_by":"UA","valid_from":"2024"},"geometry":{"type":"Point","coordinates":[1,2]}}]}"#,
            &b,
        );
        assert!(
            matches!(e, Err(GeoError::Data(ref m)) if m == "control area `x`: `geometry`: type `Point` is not `Polygon` or `MultiPolygon`"),
            "point geometry must be refused: {:?}",
            e.err()
        );
    }

    #[test]
    fn bad_layers_are_refused() {
        let b = Boundaries::bundled().unwrap();
        let e = ControlLayer::from_json(
            r#"{"areas":[{"id":"x","controlled_by":"RU","iso_3166_2":["UA-99"],"valid_from":"2020"}]}"#,
            &b,
        );
        assert!(matches!(e, Err(GeoError::Data(m)) if m.contains("no boundary for `UA-99`")));
        let e = ControlLayer::from_json(
            r#"{"areas":[{"id":"x","controlled_by":"RU","polygon":[[0,0],[1,0],[1,1],[0,0]],"valid_from":"2020-02-30"}]}"#,
            &b,
        );
        assert!(matches!(e, Err(GeoError::Data(m)) if m.contains("not a day of the calendar")));
        let e = ControlLayer::from_json(
            r#"{"areas":[{"id":"x","controlled_by":"RU","polygon":[[0,0],[1,0],[1,1],[0,0]],"valid_from":"2020","valid_to":"2019"}]}"#,
            &b,
        );
        assert!(matches!(e, Err(GeoError::Data(m)) if m.contains("not after")));
    }

    #[test]
    fn bad_outlines_are_refused_with_the_area_named() {
        let b = Boundaries::bundled().unwrap();
        let layer = r#"{"areas":[
            {"id":"far","controlled_by":"RU","valid_from":"2020","polygon":[[30,50],[370,50],[31,51],[30,50]]},
            {"id":"bow","controlled_by":"RU","valid_from":"2020","polygon":[[30,50],[31,51],[31,50],[30,51],[30,50]]},
            {"id":"dot","controlled_by":"RU","valid_from":"2020","polygon":[[30,50]]},
            {"id":"open","controlled_by":"RU","valid_from":"2020","polygon":[[30,50],[31,50],[31,51],[30,51]]},
            {"id":"fine","controlled_by":"RU","valid_from":"2020","polygon":[[30,50],[31,50],[31,51],[30,50]]},
            {"controlled_by":"RU","valid_from":"2020","polygon":[[30,50],[31,50],[31,51],[30,50]]}
        ]}"#;
        let e = ControlLayer::from_json(layer, &b).err().unwrap();
        assert_eq!(
            e.to_string(),
            "boundary data: control area `far`: `polygon`: longitude `370` is outside -180..180 (position 2 of ring 1)"
        );
        let all: Vec<String> = ControlLayer::check(layer, &b)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            all,
            [
                "area `far`: `polygon`: longitude `370` is outside -180..180 (position 2 of ring 1)",
                "area `bow`: `polygon`: ring 1 crosses or touches itself: its edges `[30, 50]-[31, 51]` and `[31, 50]-[30, 51]` meet (a ring must be simple)",
                "area `dot`: `polygon`: ring 1 has 1 position; a ring needs at least 4, the last repeating the first",
                "area `open`: `polygon`: ring 1 is not closed: it starts at `[30, 50]` but ends at `[30, 51]`; repeat the first position at the end",
                "area `#6`: no `id`",
            ]
        );
        // GeoJSON features are checked the same way.
        let e = ControlLayer::from_json(
            r#"{"type":"FeatureCollection","features":[{"properties":{"id":"x","controlled_by":"UA","valid_from":"2024"},"geometry":{"type":"Polygon","coordinates":[[[35,51],[36,52],[36,51],[35,52],[35,51]]]}}]}"#,
            &b,
        );
        assert!(
            matches!(e, Err(GeoError::Data(ref m)) if m.starts_with("control area `x`: `geometry`: ring 1 crosses or touches itself")),
            "{:?}",
            e.err()
        );
        // The bundled layer is clean.
        assert!(ControlLayer::check(ControlLayer::bundled_json(), &b).is_empty());
        let c = ControlLayer::bundled(&b).unwrap();
        assert!(c
            .controllers()
            .any(|(id, by)| id == "kursk-2024" && by == "UA"));
    }
}
