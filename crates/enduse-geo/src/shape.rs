//! Checked reading of polygons from JSON: GeoJSON `Polygon` and
//! `MultiPolygon` geometries, and the bare rings of the control layer. Every
//! position must be a `[longitude, latitude]` pair in range, every ring
//! closed, with at least 4 positions, and simple (it neither crosses nor
//! touches itself); holes must lie inside their outline.
//!
//! Messages are lowercase and quote the input in backticks; positions and
//! rings are counted from 1, as a person reading the file counts them.

use geo::line_intersection::{line_intersection, LineIntersection};
use geo::validation::{InvalidPolygon, RingRole};
use geo::{Coord, Line, LineString, MultiPolygon, Polygon, Validation};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde_json::Value;

/// Where in a geometry a problem is: `ring 2 of polygon 3`.
#[derive(Clone, Copy)]
struct At {
    /// 1-based polygon number, when the geometry has several.
    polygon: Option<usize>,
}

impl At {
    fn ring(self, r: usize) -> String {
        match self.polygon {
            Some(p) => format!("ring {r} of polygon {p}"),
            None => format!("ring {r}"),
        }
    }
}

/// Reads a GeoJSON geometry object that must be a `Polygon` or a
/// `MultiPolygon` (lon/lat, WGS84).
pub(crate) fn geometry(v: &Value) -> Result<MultiPolygon<f64>, String> {
    let Some(obj) = v.as_object() else {
        return Err(format!(
            "geometry `{}` is not a GeoJSON object with `type` and `coordinates`",
            short(v)
        ));
    };
    let coords = obj
        .get("coordinates")
        .ok_or_else(|| "geometry has no `coordinates`".to_owned())?;
    match obj.get("type").and_then(Value::as_str) {
        Some("Polygon") => Ok(MultiPolygon::new(vec![polygon(
            coords,
            At { polygon: None },
        )?])),
        Some("MultiPolygon") => multipolygon(coords),
        Some(other) => Err(format!("type `{other}` is not `Polygon` or `MultiPolygon`")),
        None => Err("geometry has no `type` (`Polygon` or `MultiPolygon`)".into()),
    }
}

/// Reads the `coordinates` of a GeoJSON MultiPolygon.
fn multipolygon(v: &Value) -> Result<MultiPolygon<f64>, String> {
    let list = v.as_array().ok_or_else(|| {
        format!(
            "multipolygon coordinates `{}` are not a list of polygons",
            short(v)
        )
    })?;
    if list.is_empty() {
        return Err("a multipolygon needs at least one polygon".into());
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            polygon(
                p,
                At {
                    polygon: Some(i + 1),
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map(MultiPolygon::new)
}

/// Reads the `coordinates` of a GeoJSON Polygon: an outline and its holes.
fn polygon(v: &Value, at: At) -> Result<Polygon<f64>, String> {
    let rings = v.as_array().ok_or_else(|| {
        format!(
            "{}coordinates `{}` are not a list of rings",
            at.polygon
                .map(|p| format!("polygon {p}: "))
                .unwrap_or_default(),
            short(v)
        )
    })?;
    if rings.is_empty() {
        return Err(format!(
            "{}has no ring",
            at.polygon
                .map(|p| format!("polygon {p} "))
                .unwrap_or_else(|| "the polygon ".into())
        ));
    }
    let rings = rings
        .iter()
        .enumerate()
        .map(|(i, r)| ring_at(r, &at.ring(i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rings = rings.into_iter();
    let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
    let poly = Polygon::new(exterior, rings.collect());
    holes(&poly, at)?;
    Ok(poly)
}

/// Reads one ring (a list of `[lon, lat]` positions) named `ring 1` in
/// messages.
pub(crate) fn ring(v: &Value) -> Result<LineString<f64>, String> {
    ring_at(v, "ring 1")
}

fn ring_at(v: &Value, name: &str) -> Result<LineString<f64>, String> {
    let list = v
        .as_array()
        .ok_or_else(|| format!("{name} `{}` is not a list of positions", short(v)))?;
    let mut pts = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let pos = || format!("position {} of {name}", i + 1);
        let pair = p
            .as_array()
            .filter(|a| a.len() == 2 || a.len() == 3)
            .and_then(|a| Some((a.first()?, a.get(1)?)))
            .ok_or_else(|| {
                format!(
                    "{} `{}` is not a `[longitude, latitude]` pair",
                    pos(),
                    short(p)
                )
            })?;
        let (x, y) = match (pair.0.as_f64(), pair.1.as_f64()) {
            (Some(x), Some(y)) => (x, y),
            _ => {
                return Err(format!(
                    "{} `{}` is not a `[longitude, latitude]` pair of numbers",
                    pos(),
                    short(p)
                ))
            }
        };
        if !(x.is_finite() && (-180.0..=180.0).contains(&x)) {
            return Err(format!(
                "longitude `{}` is outside -180..180 ({})",
                pair.0,
                pos()
            ));
        }
        if !(y.is_finite() && (-90.0..=90.0).contains(&y)) {
            return Err(format!(
                "latitude `{}` is outside -90..90 ({})",
                pair.1,
                pos()
            ));
        }
        pts.push(Coord { x, y });
    }
    if pts.len() < 4 {
        return Err(format!(
            "{name} has {} position{}; a ring needs at least 4, the last repeating the first",
            pts.len(),
            if pts.len() == 1 { "" } else { "s" }
        ));
    }
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    if first != last {
        return Err(format!(
            "{name} is not closed: it starts at `[{}, {}]` but ends at `[{}, {}]`; repeat the first position at the end",
            first.x, first.y, last.x, last.y
        ));
    }
    // Repeated consecutive positions are harmless; they are dropped so that
    // every edge has a length.
    pts.dedup();
    if pts.len() < 4 {
        return Err(format!("{name} has fewer than 3 distinct positions"));
    }
    if let Some((a, b)) = self_intersection(&pts) {
        return Err(format!(
            "{name} crosses or touches itself: its edges {} and {} meet (a ring must be simple)",
            edge_name(&pts, a),
            edge_name(&pts, b)
        ));
    }
    Ok(LineString::new(pts))
}

fn edge_name(pts: &[Coord<f64>], i: usize) -> String {
    let (a, b) = (pts[i], pts[i + 1]);
    format!("`[{}, {}]-[{}, {}]`", a.x, a.y, b.x, b.y)
}

/// The first pair of edges (by index) of the closed ring `pts` (first ==
/// last, no repeated consecutive positions) that meet anywhere other than
/// the vertex two neighbouring edges share.
fn self_intersection(pts: &[Coord<f64>]) -> Option<(usize, usize)> {
    let n = pts.len() - 1;
    let line = |i: usize| Line::new(pts[i], pts[i + 1]);
    let boxes: Vec<_> = (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[i + 1]);
            GeomWithData::new(Rectangle::from_corners([a.x, a.y], [b.x, b.y]), i)
        })
        .collect();
    let tree = RTree::bulk_load(boxes);
    for i in 0..n {
        let (a, b) = (pts[i], pts[i + 1]);
        let env = AABB::from_corners([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)]);
        let mut hits: Vec<usize> = tree
            .locate_in_envelope_intersecting(&env)
            .map(|g| g.data)
            .filter(|&j| j > i)
            .collect();
        hits.sort_unstable();
        for j in hits {
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            match line_intersection(line(i), line(j)) {
                None => {}
                // Neighbours meet at their shared vertex, and only there
                // unless they fold back along each other.
                Some(LineIntersection::SinglePoint { .. }) if adjacent => {}
                Some(LineIntersection::Collinear { intersection })
                    if adjacent && intersection.start == intersection.end => {}
                Some(_) => return Some((i, j)),
            }
        }
    }
    None
}

/// Holes must lie inside the outline and meet it, or each other, at most
/// at single points.
fn holes(poly: &Polygon<f64>, at: At) -> Result<(), String> {
    if poly.interiors().is_empty() {
        return Ok(());
    }
    let name = |r: &RingRole| match r {
        RingRole::Exterior => at.ring(1),
        RingRole::Interior(i) => at.ring(i + 2),
    };
    for e in poly.validation_errors() {
        match e {
            InvalidPolygon::InteriorRingNotContainedInExteriorRing(r) => {
                return Err(format!(
                    "{} is a hole but does not lie inside {}",
                    name(&r),
                    at.ring(1)
                ))
            }
            InvalidPolygon::IntersectingRingsOnALine(a, b) => {
                return Err(format!(
                    "{} and {} share a stretch of boundary",
                    name(&a),
                    name(&b)
                ))
            }
            InvalidPolygon::IntersectingRingsOnAnArea(a, b) => {
                return Err(format!("{} and {} overlap", name(&a), name(&b)))
            }
            // Each ring was checked on its own already.
            _ => {}
        }
    }
    Ok(())
}

/// The input, cut to a readable length for a message.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        geometry(&v).unwrap_err()
    }

    #[test]
    fn good_polygons_are_read() {
        let square = json!({"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 51], [30, 51], [30, 50]]]});
        assert_eq!(geometry(&square).unwrap().0.len(), 1);
        let with_hole = json!({"type": "Polygon", "coordinates": [
            [[30, 50], [32, 50], [32, 52], [30, 52], [30, 50]],
            [[30.5, 50.5], [31, 50.5], [31, 51], [30.5, 50.5]]]});
        assert_eq!(geometry(&with_hole).unwrap().0[0].interiors().len(), 1);
        let multi = json!({"type": "MultiPolygon", "coordinates": [
            [[[30, 50], [31, 50], [31, 51], [30, 50]]],
            [[[35, 50], [36, 50], [36, 51], [35, 50]]]]});
        assert_eq!(geometry(&multi).unwrap().0.len(), 2);
        // A repeated position is harmless.
        let repeated = json!({"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 50], [31, 51], [30, 50]]]});
        assert!(geometry(&repeated).is_ok());
    }

    #[test]
    fn out_of_range_positions_are_refused() {
        let e = err(
            json!({"type": "Polygon", "coordinates": [[[30, 50], [370, 50], [31, 51], [30, 50]]]}),
        );
        assert_eq!(
            e,
            "longitude `370` is outside -180..180 (position 2 of ring 1)"
        );
        let e = err(
            json!({"type": "MultiPolygon", "coordinates": [[[[30, 50], [31, 50], [31, 51], [30, 50]]], [[[30, 50], [31, 95.5], [31, 51], [30, 50]]]]}),
        );
        assert_eq!(
            e,
            "latitude `95.5` is outside -90..90 (position 2 of ring 1 of polygon 2)"
        );
        let e =
            err(json!({"type": "Polygon", "coordinates": [[[30, 50], [31], [31, 51], [30, 50]]]}));
        assert!(
            e.contains("`[31]` is not a `[longitude, latitude]` pair"),
            "{e}"
        );
        let e = err(
            json!({"type": "Polygon", "coordinates": [[[30, 50], [31, "x"], [31, 51], [30, 50]]]}),
        );
        assert!(e.contains("pair of numbers"), "{e}");
    }

    #[test]
    fn short_and_open_rings_are_refused() {
        let e = err(json!({"type": "Polygon", "coordinates": [[[30, 50]]]}));
        assert_eq!(
            e,
            "ring 1 has 1 position; a ring needs at least 4, the last repeating the first"
        );
        let e = err(json!({"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [30, 50]]]}));
        assert!(e.contains("has 3 positions"), "{e}");
        let e = err(
            json!({"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [31, 51], [30, 51]]]}),
        );
        assert_eq!(
            e,
            "ring 1 is not closed: it starts at `[30, 50]` but ends at `[30, 51]`; repeat the first position at the end"
        );
        let e = err(
            json!({"type": "Polygon", "coordinates": [[[30, 50], [30, 50], [31, 50], [30, 50]]]}),
        );
        assert!(e.contains("fewer than 3 distinct positions"), "{e}");
        let e = err(json!({"type": "Polygon", "coordinates": []}));
        assert!(e.contains("has no ring"), "{e}");
    }

    #[test]
    fn self_intersecting_rings_are_refused() {
        // A bow tie.
        let e = err(
            json!({"type": "Polygon", "coordinates": [[[30, 50], [31, 51], [31, 50], [30, 51], [30, 50]]]}),
        );
        assert!(e.starts_with("ring 1 crosses or touches itself"), "{e}");
        assert!(e.contains("`[30, 50]-[31, 51]`"), "{e}");
        // A spike that folds back along its own edge.
        let e = err(
            json!({"type": "Polygon", "coordinates": [[[30, 50], [32, 50], [31, 50], [31, 51], [30, 50]]]}),
        );
        assert!(e.contains("crosses or touches itself"), "{e}");
        // A figure eight that touches itself at a vertex.
        let e = err(json!({"type": "Polygon", "coordinates": [[
            [30, 50], [31, 50], [31, 51], [32, 51], [32, 52], [31, 52], [31, 51], [30, 51], [30, 50]]]}));
        assert!(e.contains("crosses or touches itself"), "{e}");
        // Collinear: no area.
        let e = err(
            json!({"type": "Polygon", "coordinates": [[[30, 50], [31, 50], [32, 50], [30, 50]]]}),
        );
        assert!(e.contains("crosses or touches itself"), "{e}");
    }

    #[test]
    fn holes_must_lie_inside() {
        let e = err(json!({"type": "Polygon", "coordinates": [
            [[30, 50], [31, 50], [31, 51], [30, 51], [30, 50]],
            [[35, 50], [36, 50], [36, 51], [35, 50]]]}));
        assert_eq!(e, "ring 2 is a hole but does not lie inside ring 1");
    }

    #[test]
    fn other_types_are_refused() {
        let e = err(json!({"type": "Point", "coordinates": [30, 50]}));
        assert_eq!(e, "type `Point` is not `Polygon` or `MultiPolygon`");
        let e = err(json!({"coordinates": [[[30, 50], [31, 50], [31, 51], [30, 50]]]}));
        assert!(e.contains("no `type`"), "{e}");
        let e = err(json!("POLYGON((30 50, 31 50, 31 51, 30 50))"));
        assert!(e.contains("is not a GeoJSON object"), "{e}");
        let e = err(json!({"type": "Polygon"}));
        assert!(e.contains("no `coordinates`"), "{e}");
    }
}
