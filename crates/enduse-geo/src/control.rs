//! Control over time: who holds an area on a date, as distinct from whose
//! territory it is. Each area has a validity interval, a source and a flag for
//! coarse outlines.

use crate::{multipolygon, Boundaries, GeoError, LatLon};
use chrono::NaiveDate;
use enduse_core::DateSpec;
use geo::{Coord, Intersects, LineString, MultiPolygon, Point, Polygon};
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
    /// iso_3166_2 [codes of admin-1 areas]}]}`.
    pub fn from_json(text: &str, boundaries: &Boundaries) -> Result<Self, GeoError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| GeoError::Data(format!("control layer: {e}")))?;
        // A GeoJSON FeatureCollection is accepted too: each feature's
        // properties are the area's fields, its geometry the outline.
        let list: Vec<Value> = if v["type"] == "FeatureCollection" {
            v["features"]
                .as_array()
                .ok_or_else(|| GeoError::Data("control layer has no `features`".into()))?
                .iter()
                .map(|f| {
                    let mut a = f["properties"].clone();
                    let g = &f["geometry"];
                    if let Some(obj) = a.as_object_mut() {
                        match g["type"].as_str() {
                            Some("Polygon") => {
                                obj.insert(
                                    "multipolygon".into(),
                                    Value::Array(vec![g["coordinates"].clone()]),
                                );
                            }
                            Some("MultiPolygon") => {
                                obj.insert("multipolygon".into(), g["coordinates"].clone());
                            }
                            _ => {}
                        }
                    }
                    a
                })
                .collect()
        } else {
            v["areas"]
                .as_array()
                .ok_or_else(|| {
                    GeoError::Data("control layer has no `areas` (or GeoJSON `features`)".into())
                })?
                .clone()
        };
        let mut areas = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let bad = |m: &str| GeoError::Data(format!("control area {i}: {m}"));
            let text = |k: &str| a[k].as_str().map(str::to_owned);
            let id = text("id").ok_or_else(|| bad("no `id`"))?;
            let date = |k: &str| -> Result<Option<DateSpec>, GeoError> {
                a[k].as_str()
                    .map(|s| {
                        DateSpec::parse(s)
                            .map_err(|e| GeoError::Data(format!("control area `{id}`: `{k}`: {e}")))
                    })
                    .transpose()
            };
            let shape = if let Some(ring) = a["polygon"].as_array() {
                let coords = ring
                    .iter()
                    .map(|p| {
                        Some(Coord {
                            x: p.get(0)?.as_f64()?,
                            y: p.get(1)?.as_f64()?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("bad `polygon`"))?;
                MultiPolygon::new(vec![Polygon::new(LineString::new(coords), vec![])])
            } else if let Some(codes) = a["iso_3166_2"].as_array() {
                let mut polys = Vec::new();
                for c in codes {
                    let c = c.as_str().ok_or_else(|| bad("bad `iso_3166_2`"))?;
                    let shape = boundaries.shape_of(c).ok_or_else(|| {
                        GeoError::Data(format!("control area `{id}`: no boundary for `{c}`"))
                    })?;
                    polys.extend(shape.0.iter().cloned());
                }
                MultiPolygon::new(polys)
            } else if let Some(mp) = multipolygon(&a["multipolygon"]) {
                mp
            } else {
                return Err(bad("needs `polygon` or `iso_3166_2`"));
            };
            let valid_from = date("valid_from")?.ok_or_else(|| bad("no `valid_from`"))?;
            let valid_to = date("valid_to")?;
            if valid_to.is_some_and(|t| t.latest() <= valid_from.earliest()) {
                return Err(GeoError::Data(format!(
                    "control area `{id}`: `valid_to` is not after `valid_from`"
                )));
            }
            areas.push(ControlArea {
                controlled_by: text("controlled_by").ok_or_else(|| bad("no `controlled_by`"))?,
                shape,
                valid_from,
                valid_to,
                approximate: a["approximate"].as_bool().unwrap_or(true),
                source: text("source").unwrap_or_default(),
                note: text("note").unwrap_or_default(),
                id,
            });
        }
        Ok(Self { areas })
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
            matches!(e, Err(GeoError::Data(m)) if m.contains("needs `polygon` or `iso_3166_2`")),
            "point geometry must be refused"
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
}
