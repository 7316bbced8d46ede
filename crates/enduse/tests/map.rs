#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The map's decided regions against the decisions of single points: a
//! point's region must carry the outcome and the rules that `check --at`
//! gives for the point itself.

use enduse::{Ask, MapReport, Point as AskPoint, RegisterSource, Snapshot};
use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Point, Polygon, Rect};
use serde_json::Value;
use std::sync::OnceLock;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

fn snapshot() -> &'static Snapshot {
    static S: OnceLock<std::sync::Arc<Snapshot>> = OnceLock::new();
    S.get_or_init(|| RegisterSource::Bundled.snapshot().unwrap())
}

fn ask(model: &str, as_of: &str, purpose: Option<&str>) -> Ask {
    let mut a = Ask::new("UA", "use", model);
    a.as_of = Some(as_of.into());
    a.purpose = purpose.map(str::to_owned);
    a
}

struct Region {
    shape: MultiPolygon<f64>,
    rect: Rect<f64>,
    props: Value,
}

fn ring(v: &Value) -> LineString<f64> {
    LineString::new(
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| Coord {
                x: c[0].as_f64().unwrap(),
                y: c[1].as_f64().unwrap(),
            })
            .collect(),
    )
}

/// The regions of a map's GeoJSON, checked for the shape the web page
/// reads.
fn regions(report: &MapReport) -> Vec<Region> {
    let v: Value = serde_json::from_str(&report.geojson).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    assert_eq!(v["as_of"], report.as_of.to_string());
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["geometry"]["type"], "MultiPolygon");
            let p = &f["properties"];
            assert!(p["outcome"].is_string(), "{p}");
            assert!(p["rules"].is_array() && p["authorities"].is_array(), "{p}");
            assert!(p["facts"]["place"].is_string(), "{p}");
            assert!(p["facts"]["border_km"]["min"].is_i64(), "{p}");
            let polys = f["geometry"]["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|rings| {
                    let rings = rings.as_array().unwrap();
                    Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
                })
                .collect();
            let shape = MultiPolygon::new(polys);
            Region {
                rect: shape.bounding_rect().unwrap(),
                shape,
                props: p.clone(),
            }
        })
        .collect()
}

fn containing(regions: &[Region], lon: f64, lat: f64) -> Vec<usize> {
    let p = Point::new(lon, lat);
    regions
        .iter()
        .enumerate()
        .filter(|(_, r)| r.rect.contains(&p) && r.shape.contains(&p))
        .map(|(i, _)| i)
        .collect()
}

/// A small deterministic generator, so that a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Samples `n` points in the window; each point not within about 1 km of
/// a region's edge must lie in exactly one region, whose outcome and rules
/// are those of the point's own decision (and a point that `check` places
/// nowhere lies in no region).
fn agree(ask: &Ask, n: usize, seed: u64) {
    let report = snapshot().map(ask, 0.05, today()).unwrap();
    let regions = regions(&report);
    assert!(regions.len() > 50, "{}", regions.len());
    let mut rng = Lcg(seed);
    let (mut checked, mut near, mut off) = (0, 0, 0);
    for _ in 0..n {
        let lat = 43.5 + 13.0 * rng.next();
        let lon = 22.0 + 28.0 * rng.next();
        let here = containing(&regions, lon, lat);
        // About 1 km in each direction.
        let edge = [(0.0, 0.009), (0.0, -0.009), (0.014, 0.0), (-0.014, 0.0)]
            .iter()
            .any(|(dx, dy)| containing(&regions, lon + dx, lat + dy) != here);
        if edge {
            near += 1;
            continue;
        }
        let mut a = ask.clone();
        a.at = Some(AskPoint::LatLon { lat, lon });
        match snapshot().check(&a, today()) {
            Ok(r) => {
                assert_eq!(here.len(), 1, "{lat},{lon}: regions {here:?}");
                let props = &regions[here[0]].props;
                let d = &r.decision;
                assert_eq!(props["outcome"], d.outcome.as_str(), "{lat},{lon}: {props}");
                let mut rules: Vec<String> = d
                    .parties
                    .iter()
                    .flat_map(|p| p.rules.iter().map(|r| r.id.to_string()))
                    .collect();
                rules.sort();
                rules.dedup();
                assert_eq!(props["rules"], serde_json::json!(rules), "{lat},{lon}");
                assert_eq!(
                    props["facts"]["place"],
                    d.request.place.as_ref().unwrap().as_str(),
                    "{lat},{lon}"
                );
                checked += 1;
            }
            Err(e) => {
                assert!(here.is_empty(), "{lat},{lon}: {e} but regions {here:?}");
                off += 1;
            }
        }
    }
    // The window is about half land of the register's places.
    assert!(checked > n / 3, "{checked} of {n} checked");
    assert!(off > 0, "some points are at sea or outside the boundaries");
    assert!(near * 25 < n, "{near} of {n} points within 1 km of an edge");
}

#[test]
fn regions_agree_with_point_decisions_himars_counter_fire() {
    agree(&ask("HIMARS", "2024-06-10", Some("counter-fire")), 2000, 7);
}

#[test]
fn regions_agree_with_point_decisions_atacms() {
    agree(&ask("ATACMS", "2024-11-25", None), 1000, 11);
    agree(&ask("ATACMS", "2025-06-15", None), 1000, 13);
}

fn region_at(regions: &[Region], lat: f64, lon: f64) -> &Value {
    let here = containing(regions, lon, lat);
    assert_eq!(here.len(), 1, "{lat},{lon}");
    &regions[here[0]].props
}

#[test]
fn crimea_and_kursk_for_atacms() {
    let crimea = (45.0, 34.1);
    let sevastopol = (44.6, 33.5);
    let kursk = (51.73, 36.19);
    let sudzha = (51.19, 35.27);
    let m = snapshot()
        .map(&ask("ATACMS", "2024-09-11", None), 0.05, today())
        .unwrap();
    let r = regions(&m);
    // Crimea and Sevastopol are Ukrainian territory, where ATACMS may be
    // used; they are under Russian control, as the control layer says.
    for (lat, lon) in [crimea, sevastopol] {
        let p = region_at(&r, lat, lon);
        assert_eq!(p["outcome"], "permit", "{p}");
        assert_eq!(p["facts"]["controlled_by"], "RU", "{p}");
        assert_eq!(p["rules"], serde_json::json!(["us-atacms-use-in-ukraine"]));
    }
    assert_eq!(region_at(&r, 45.0, 34.1)["facts"]["place"], "UA-43");
    // Kursk oblast in September 2024: forbidden, the part Ukraine held
    // included, which is a region of its own (controlled by UA).
    let k = region_at(&r, kursk.0, kursk.1);
    assert_eq!(k["outcome"], "forbid");
    assert_eq!(k["facts"]["controlled_by"], "RU");
    assert!(k["rules"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("us-atacms-ukraine-only")));
    let s = region_at(&r, sudzha.0, sudzha.1);
    assert_eq!(s["outcome"], "forbid");
    assert_eq!(s["facts"]["place"], "RU-KRS");
    assert_eq!(s["facts"]["controlled_by"], "UA", "{s}");
    assert!(m.svg.contains(r#"id="control-kursk-2024""#));

    // After 17 November 2024: permitted in Kursk oblast.
    let m = snapshot()
        .map(&ask("ATACMS", "2024-11-25", None), 0.05, today())
        .unwrap();
    let r = regions(&m);
    for (lat, lon) in [kursk, sudzha] {
        let p = region_at(&r, lat, lon);
        assert_eq!(p["outcome"], "permit", "{p}");
        assert_eq!(p["rules"], serde_json::json!(["us-atacms-inside-russia"]));
    }
    assert_eq!(region_at(&r, crimea.0, crimea.1)["outcome"], "permit");
    // Belarus stays forbidden.
    assert_eq!(region_at(&r, 53.9, 27.57)["outcome"], "forbid");
}

/// June 2024: HIMARS counter-fire across the border opposite Sumy and
/// Kharkiv oblasts, within 80 km (as the data set reads it), in Belgorod,
/// Kursk and Bryansk oblasts only. The edge between permitted and forbidden
/// Belgorod oblast is the 80 km line, not a grid.
#[test]
fn himars_kharkiv_border_in_june_2024() {
    let m = snapshot()
        .map(
            &ask("HIMARS", "2024-06-10", Some("counter-fire")),
            0.05,
            today(),
        )
        .unwrap();
    assert_eq!(m.border_bands_km, vec![80.0]);
    assert_eq!(m.sampled_cells, 0);
    let r = regions(&m);
    let belgorod = region_at(&r, 50.6, 36.6);
    assert_eq!(belgorod["outcome"], "permit", "{belgorod}");
    assert_eq!(belgorod["facts"]["border_km"]["max"], 80);
    assert_eq!(
        belgorod["rules"],
        serde_json::json!(["us-himars-kharkiv-border-permit"])
    );
    let deep = region_at(&r, 51.2, 38.0);
    assert_eq!(deep["outcome"], "forbid", "{deep}");
    assert_eq!(deep["facts"]["place"], "RU-BEL");
    assert_eq!(deep["facts"]["border_km"]["min"], 81);
    // Voronezh oblast is as near the border, but not opposite Sumy or
    // Kharkiv.
    assert_eq!(region_at(&r, 50.3, 39.6)["outcome"], "forbid");
    // Along the meridian of 37.5°E in Belgorod oblast, the edge lies where
    // the measured border distance passes 80 km.
    let b = enduse_geo::Boundaries::bundled().unwrap();
    let mut last = None;
    let mut lat = 50.3;
    while lat < 51.3 {
        let o = region_at(&r, lat, 37.5)["outcome"].clone();
        if last.as_ref().is_some_and(|l| *l != o) {
            let d = b.border_distance_km(enduse_geo::LatLon::new(lat, 37.5).unwrap());
            assert!((d - 80.0).abs() < 1.0, "edge at {lat}: {d} km");
        }
        last = Some(o);
        lat += 0.002;
    }
    // Without a purpose, the band's rule cannot be evaluated: indeterminate
    // there, and named so.
    let m = snapshot()
        .map(&ask("HIMARS", "2024-06-10", None), 0.05, today())
        .unwrap();
    let r = regions(&m);
    assert_eq!(region_at(&r, 50.6, 36.6)["outcome"], "indeterminate");
    assert_eq!(region_at(&r, 50.0, 36.23)["outcome"], "permit");
}

#[test]
fn the_svg_has_toggleable_groups_labels_and_a_legend_naming_authorities() {
    let m = snapshot()
        .map(&ask("ATACMS", "2025-06-15", None), 0.05, today())
        .unwrap();
    assert!(
        m.outcomes["needs_approval"].area_km2 > 1_000_000.0,
        "{:?}",
        m.outcomes
    );
    assert_eq!(m.authorities.len(), 1, "{:?}", m.authorities);
    assert_eq!(m.authorities[0].authority.as_str(), "US:SecDef");
    for id in [
        "regions",
        "subdivisions",
        "areas-control",
        "areas-named",
        "border",
        "labels-countries",
        "labels-subdivisions",
        "legend",
    ] {
        assert!(m.svg.contains(&format!(r#"<g id="{id}">"#)), "{id}");
    }
    assert!(m.svg.contains(r#"id="control-crimea-2014""#));
    assert!(m.svg.contains(">UKRAINE</text>"));
    assert!(m.svg.contains(">Kursk oblast</text>") || m.svg.contains(">Kursk</text>"));
    // The legend names the authority of the needs-approval regions.
    let legend = &m.svg[m.svg.find(r#"<g id="legend">"#).unwrap()..];
    assert!(legend.contains("needs approval by"), "{legend}");
    assert!(legend.contains("(US:SecDef)"), "{legend}");
    assert!(m.svg.contains(r#"data-authorities="US:SecDef""#));
    // Small: the regions follow the boundaries, not a grid of cells.
    assert!(m.svg.len() < 1_500_000, "{}", m.svg.len());
}
