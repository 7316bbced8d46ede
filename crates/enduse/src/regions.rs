//! The decided regions of a map: the region cut into polygons over which
//! every fact a decision reads is constant, each decided once.
//!
//! The cuts follow the real boundaries: the Natural Earth subdivisions (the
//! de jure place), the control areas in force on the day (the controller),
//! the outlines, populated-place discs and border bands of the named areas
//! in force, and bands of border distance at every distance where some
//! rule's comparison of `border_distance_km` changes its answer (drawn as
//! buffers of the border line, see [`enduse_geo::border_band`]). Where a fact
//! is not constant over a piece and no polygon gives it (a border band along
//! a stretch of the border, near where the stretch ends; or a rule that
//! compares the border distance in a way not read here), the piece is
//! sampled on a grid of `cell` degrees instead, and only there.

use crate::error::Result;
use crate::geo::PointFacts;
use crate::snapshot::Snapshot;
use enduse_core::{Decision, Engine, Outcome, PartyId, PlaceCode, Query};
use enduse_geo::{AreaGeometry, Boundaries, ControlLayer, LatLon, Location, NamedAreas};
use geo::{
    BooleanOps, BoundingRect, ChamberlainDuquetteArea, Coord, Distance, Haversine, InteriorPoint,
    Intersects, MultiPolygon, Point, Polygon, Rect,
};
use std::collections::{BTreeMap, HashMap};

/// The drawn window, degrees: west, east, south, north.
pub(crate) const LON0: f64 = 22.0;
pub(crate) const LON1: f64 = 50.0;
pub(crate) const LAT0: f64 = 43.5;
pub(crate) const LAT1: f64 = 56.5;
/// Longitudes are shortened by cos(49°), the middle latitude, in the SVG
/// and in the fall-back grid (so that its cells are about square).
pub(crate) const COS: f64 = 0.656;

/// Pieces smaller than this (square degrees, about 800 m²) are slivers left
/// by cutting along a shared edge, and are dropped.
const SLIVER: f64 = 1e-7;

/// The border distances (km, real) at which some comparison in the rules
/// changes its answer, and whether every comparison was read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Breaks {
    /// Ascending, distinct, positive.
    pub km: Vec<f64>,
    /// False when some rule reads `border_distance_km` in a way not read
    /// here (arithmetic, a comparison with another attribute): the bands are
    /// then checked at both ends and sampled where the answers differ.
    pub complete: bool,
}

const OPS: [&str; 6] = ["<=", ">=", "==", "!=", "<", ">"];

/// The distances at which `ceil(d) OP n` changes its answer, `d` the real
/// distance (the fact is the distance rounded up to whole km).
fn breaks_of(op: &str, n: i64) -> Vec<f64> {
    let n = n as f64;
    match op {
        "<=" | ">" => vec![n],
        "<" | ">=" => vec![n - 1.0],
        _ => vec![n - 1.0, n],
    }
}

/// Mirrors `n OP x` into `x OP' n`.
fn mirror(op: &str) -> &str {
    match op {
        "<=" => ">=",
        ">=" => "<=",
        "<" => ">",
        ">" => "<",
        other => other,
    }
}

fn leading_int(s: &str) -> Option<i64> {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().ok()
}

fn trailing_int(s: &str) -> Option<i64> {
    let s = s.trim_end();
    let start = s
        .char_indices()
        .rev()
        .take_while(|&(_, c)| c.is_ascii_digit() || c == '-')
        .last()
        .map_or(s.len(), |(i, _)| i);
    s[start..].parse().ok()
}

/// Reads every comparison of `border_distance_km` with an integer literal
/// in `texts` (Cedar policies).
pub(crate) fn read_breaks<'a>(texts: impl IntoIterator<Item = &'a str>) -> Breaks {
    const NAME: &str = "border_distance_km";
    let mut km = Vec::new();
    let mut complete = true;
    for text in texts {
        for (at, _) in text.match_indices(NAME) {
            let after = text[at + NAME.len()..].trim_start();
            let before = text[..at].trim_end();
            let before = before.strip_suffix("context.").unwrap_or(before).trim_end();
            if before.ends_with("has") {
                continue;
            }
            let forward = OPS
                .iter()
                .find(|op| after.starts_with(**op))
                .and_then(|op| Some((*op, leading_int(&after[op.len()..])?)));
            let backward = || {
                OPS.iter().find(|op| before.ends_with(**op)).and_then(|op| {
                    Some((
                        mirror(op),
                        trailing_int(&before[..before.len() - op.len()])?,
                    ))
                })
            };
            match forward.or_else(backward) {
                Some((op, n)) => km.extend(breaks_of(op, n)),
                None => complete = false,
            }
        }
    }
    km.retain(|k| *k > 0.0);
    km.sort_by(f64::total_cmp);
    km.dedup();
    Breaks { km, complete }
}

/// One subdivision (or a country without subdivisions) as the register
/// knows it.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub country: String,
    pub subdivision: Option<String>,
    pub place: PlaceCode,
    pub chain: Vec<PlaceCode>,
    pub shape: MultiPolygon<f64>,
}

/// A piece of a base over which the facts are constant (unless `unsure`).
#[derive(Debug, Clone)]
struct Piece {
    shape: MultiPolygon<f64>,
    rect: Rect<f64>,
    base: usize,
    /// The controller from the control layer; `None`: the de jure country.
    controller: Option<String>,
    /// The distance band: index into the breaks; `breaks.len()` is beyond
    /// the last.
    band: usize,
    unsure: bool,
}

/// A decided region: one polygon (several parts) with its facts and the
/// index of its decision.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub shape: MultiPolygon<f64>,
    pub base: usize,
    pub controlled_by: Option<PartyId>,
    pub areas: Vec<String>,
    /// The border distance in whole km (rounded up) over the region: least
    /// and greatest (`None`: unbounded within the region's band).
    pub km_min: i64,
    pub km_max: Option<i64>,
    pub decision: usize,
    /// Whether the region was found by sampling a grid.
    pub sampled: bool,
    pub area_km2: f64,
}

/// Everything decided for a map.
pub(crate) struct Decided {
    pub bases: Vec<Base>,
    pub regions: Vec<Region>,
    pub decisions: Vec<Decision>,
    /// Grid cells decided in fall-back sampling.
    pub sampled_cells: usize,
    pub breaks: Breaks,
}

fn window() -> Rect<f64> {
    Rect::new(Coord { x: LON0, y: LAT0 }, Coord { x: LON1, y: LAT1 })
}

fn rect_of(m: &MultiPolygon<f64>) -> Option<Rect<f64>> {
    m.bounding_rect()
}

fn planar_area(m: &MultiPolygon<f64>) -> f64 {
    use geo::Area;
    m.unsigned_area()
}

/// The subdivisions the register can place, clipped to the window.
pub(crate) fn bases(engine: &Engine, geo: &Boundaries) -> Vec<Base> {
    let w = window();
    let wpoly = w.to_polygon();
    let mut out = Vec::new();
    for (country, sub, shape) in geo.shapes() {
        let code = sub.unwrap_or(country);
        let Ok(place) = engine
            .resolve_place(code)
            .or_else(|_| engine.resolve_place(country))
        else {
            continue;
        };
        let Some(r) = rect_of(shape) else { continue };
        if !r.intersects(&w) {
            continue;
        }
        let inside =
            r.min().x >= LON0 && r.max().x <= LON1 && r.min().y >= LAT0 && r.max().y <= LAT1;
        let shape = if inside {
            shape.clone()
        } else {
            shape.intersection(&wpoly)
        };
        if shape.0.is_empty() {
            continue;
        }
        let loc = Location {
            country: country.to_owned(),
            subdivision: sub.map(str::to_owned),
            name: String::new(),
            adm1_code: String::new(),
        };
        out.push(Base {
            country: country.to_owned(),
            subdivision: sub.map(str::to_owned),
            place,
            chain: enduse_geo::de_jure_chain(engine.register(), &loc),
            shape,
        });
    }
    out
}

/// Cuts every piece that `cut` overlaps (and that `applies` to) into the
/// part inside, changed by `inside`, and the part outside.
fn split(
    pieces: Vec<Piece>,
    cut: &MultiPolygon<f64>,
    applies: impl Fn(&Piece) -> bool,
    inside: impl Fn(&mut Piece),
) -> Vec<Piece> {
    let Some(cr) = rect_of(cut) else {
        return pieces;
    };
    let mut out = Vec::with_capacity(pieces.len());
    for p in pieces {
        if !applies(&p) || !p.rect.intersects(&cr) {
            out.push(p);
            continue;
        }
        let inter = p.shape.intersection(cut);
        if planar_area(&inter) < SLIVER {
            out.push(p);
            continue;
        }
        let diff = p.shape.difference(cut);
        if planar_area(&diff) >= SLIVER {
            if let Some(rect) = rect_of(&diff) {
                out.push(Piece {
                    shape: diff,
                    rect,
                    ..p.clone()
                });
            }
        }
        if let Some(rect) = rect_of(&inter) {
            let mut q = Piece {
                shape: inter,
                rect,
                ..p
            };
            inside(&mut q);
            out.push(q);
        }
    }
    out
}

/// A lower bound of the border distance (km) of every point of `r`.
fn least_distance(geo: &Boundaries, r: &Rect<f64>) -> f64 {
    let c = r.center();
    let Ok(p) = LatLon::new(c.y, c.x) else {
        return 0.0;
    };
    let half = Haversine.distance(Point::from(c), Point::from(r.max())) / 1000.0;
    // A margin for the sphere against the ellipsoid.
    geo.border_distance_km(p) - half * 1.01 - 1.0
}

/// The key a decision is grouped by in the legend and the regions: same
/// outcome, same authorities, same rules cited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub outcome: Outcome,
    pub authorities: Vec<String>,
    pub rules: Vec<String>,
}

pub(crate) fn verdict(d: &Decision) -> Verdict {
    let mut rules: Vec<String> = d
        .parties
        .iter()
        .flat_map(|p| p.rules.iter().map(|r| r.id.to_string()))
        .collect();
    rules.sort();
    rules.dedup();
    let mut authorities: Vec<String> = d
        .approvals
        .iter()
        .map(|a| a.authority.to_string())
        .collect();
    authorities.sort();
    authorities.dedup();
    Verdict {
        outcome: d.outcome,
        authorities,
        rules,
    }
}

struct Decider<'a> {
    snapshot: &'a Snapshot,
    template: &'a Query,
    memo: HashMap<PointFacts, usize>,
    decisions: Vec<Decision>,
}

impl Decider<'_> {
    fn decide(&mut self, facts: PointFacts) -> Result<usize> {
        if let Some(&i) = self.memo.get(&facts) {
            return Ok(i);
        }
        let mut q = self.template.clone();
        facts.apply(&mut q);
        let d = self.snapshot.decide(&q)?;
        self.decisions.push(d);
        let i = self.decisions.len() - 1;
        self.memo.insert(facts, i);
        Ok(i)
    }
}

/// The whole-km border distances a band holds: least and greatest.
fn band_km(breaks: &[f64], band: usize) -> (i64, Option<i64>) {
    let lo = if band == 0 {
        0
    } else {
        breaks[band - 1].floor() as i64 + 1
    };
    let hi = breaks.get(band).map(|b| b.ceil() as i64);
    (lo, hi)
}

/// Decides `template` (without place, distance, controller or areas) over
/// the window: cuts, decides each distinct set of facts once, samples where
/// it must, and groups the pieces into regions.
pub(crate) fn decide_regions(
    snapshot: &Snapshot,
    geo: &Boundaries,
    control: &ControlLayer,
    named: &NamedAreas<'_>,
    template: &Query,
    cell: f64,
) -> Result<Decided> {
    let engine = snapshot.engine();
    let date = template.as_of;
    let bases = bases(engine, geo);
    let mut pieces: Vec<Piece> = bases
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            Some(Piece {
                rect: rect_of(&b.shape)?,
                shape: b.shape.clone(),
                base: i,
                controller: None,
                band: 0,
                unsure: false,
            })
        })
        .collect();

    // Control: a later area overrides an earlier one, as `control` reads
    // the layer.
    for c in control.outlines_on(date) {
        let by = c.controlled_by.to_owned();
        pieces = split(
            pieces,
            c.shape,
            |_| true,
            |p| p.controller = Some(by.clone()),
        );
    }

    // Named areas: outlines and discs are cut exactly; a band's depth is a
    // distance break; a band along a stretch is unsure only where the
    // nearest border point may lie on or off the stretch.
    let mut breaks = read_breaks(engine.rules().iter().map(|r| r.policy.text()));
    for (_, g) in named.geometries_on(date) {
        match g {
            AreaGeometry::ByPlace => {}
            AreaGeometry::Outline(shape) => {
                pieces = split(pieces, shape, |_| true, |_| {});
            }
            AreaGeometry::Populated { km, places } => {
                let w = window();
                let near: Vec<Point<f64>> = places
                    .into_iter()
                    .filter(|p| {
                        p.x() > w.min().x - 3.0
                            && p.x() < w.max().x + 3.0
                            && p.y() > w.min().y - 2.0
                            && p.y() < w.max().y + 2.0
                    })
                    .collect();
                let discs = enduse_geo::points_band(&near, km);
                pieces = split(pieces, &discs, |_| true, |_| {});
            }
            AreaGeometry::Band { km, stretch } => {
                breaks.km.push(km);
                if let Some(on) = stretch {
                    let off: Vec<bool> = on.iter().map(|x| !x).collect();
                    if on.iter().any(|x| *x) && off.iter().any(|x| *x) {
                        let near_on = enduse_geo::border_band(geo, km, Some(on));
                        let near_off = enduse_geo::border_band(geo, km, Some(&off));
                        let both = near_on.intersection(&near_off);
                        pieces = split(pieces, &both, |_| true, |p| p.unsure = true);
                    }
                }
            }
        }
    }
    breaks.km.retain(|k| *k > 0.0);
    breaks.km.sort_by(f64::total_cmp);
    breaks.km.dedup();

    // Distance bands, innermost first: each buffer cuts what lies beyond
    // the previous one.
    for p in &mut pieces {
        p.band = breaks.km.len();
    }
    for (i, &km) in breaks.km.iter().enumerate() {
        let band = enduse_geo::border_band(geo, km, None);
        pieces = split(
            pieces,
            &band,
            |p| p.band > i && least_distance(geo, &p.rect) <= km,
            |p| p.band = i,
        );
    }

    let mut decider = Decider {
        snapshot,
        template,
        memo: HashMap::new(),
        decisions: Vec::new(),
    };
    // (base, controller, areas, decision, sampled) -> parts and km range.
    type Key = (usize, Option<PartyId>, Vec<String>, usize, bool);
    type Parts = (Vec<MultiPolygon<f64>>, i64, Option<i64>);
    let mut groups: BTreeMap<Key, Parts> = BTreeMap::new();
    let mut add = |key: Key, shape: MultiPolygon<f64>, lo: i64, hi: Option<i64>| {
        let g = groups.entry(key).or_insert_with(|| (Vec::new(), lo, hi));
        g.0.push(shape);
        g.1 = g.1.min(lo);
        g.2 = match (g.2, hi) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    };
    // Decisions made at different representative distances may still be
    // the same answer: regions are grouped by the first decision with an
    // equal verdict.
    let mut canonical: Vec<(Verdict, usize)> = Vec::new();
    let mut same = |decisions: &[Decision], d: usize| -> usize {
        let v = verdict(&decisions[d]);
        match canonical.iter().find(|(w, _)| *w == v) {
            Some((_, i)) => *i,
            None => {
                canonical.push((v, d));
                d
            }
        }
    };
    let mut sampled_cells = 0;
    for p in pieces {
        let base = &bases[p.base];
        let controlled_by = engine
            .resolve_party(p.controller.as_deref().unwrap_or(&base.country))
            .ok();
        let (lo, hi) = band_km(&breaks.km, p.band);
        let mut unsure = p.unsure;
        if !unsure {
            let Some(ip) = p.shape.interior_point() else {
                continue;
            };
            let Ok(at) = LatLon::new(ip.y(), ip.x()) else {
                continue;
            };
            let here = geo.border_distance_km(at).ceil() as i64;
            let areas = named.containing(at, &base.chain, date);
            let facts = |km: i64| PointFacts {
                place: base.place.clone(),
                border_km: km,
                controlled_by: controlled_by.clone(),
                areas: areas.clone(),
            };
            // Without breaks the distance decides nothing: the piece's own
            // distance is as good as any.
            let rep = if breaks.km.is_empty() {
                here
            } else {
                hi.unwrap_or(lo)
            };
            let d = decider.decide(facts(rep))?;
            if !breaks.complete {
                // A comparison not read: the answer must be the same at both
                // ends of the band (and here), or the piece is sampled.
                let mut ends = vec![lo, here];
                ends.extend(hi);
                for km in ends {
                    let e = decider.decide(facts(km))?;
                    if verdict(&decider.decisions[e]) != verdict(&decider.decisions[d]) {
                        unsure = true;
                    }
                }
            }
            if !unsure {
                let d = same(&decider.decisions, d);
                add((p.base, controlled_by, areas, d, false), p.shape, lo, hi);
                continue;
            }
        }
        // Fall-back: a grid of `cell` degrees over the piece, each cell
        // decided at its centre with the facts measured there.
        let lon_step = cell / COS;
        let (r, shape) = (p.rect, &p.shape);
        let i0 = ((r.min().y - LAT0) / cell).floor() as i64;
        let i1 = ((r.max().y - LAT0) / cell).ceil() as i64;
        let j0 = ((r.min().x - LON0) / lon_step).floor() as i64;
        let j1 = ((r.max().x - LON0) / lon_step).ceil() as i64;
        // (areas, decision) -> cells and their km range.
        type Cells = (Vec<Polygon<f64>>, i64, i64);
        let mut cells: BTreeMap<(Vec<String>, usize), Cells> = BTreeMap::new();
        for i in i0..i1 {
            for j in j0..j1 {
                let (s, w) = (LAT0 + i as f64 * cell, LON0 + j as f64 * lon_step);
                let rect = Rect::new(
                    Coord { x: w, y: s },
                    Coord {
                        x: w + lon_step,
                        y: s + cell,
                    },
                );
                if !rect.intersects(shape) {
                    continue;
                }
                let c = rect.center();
                let Ok(at) = LatLon::new(c.y, c.x) else {
                    continue;
                };
                sampled_cells += 1;
                let km = geo.border_distance_km(at).ceil() as i64;
                let areas = named.containing(at, &base.chain, date);
                let d = decider.decide(PointFacts {
                    place: base.place.clone(),
                    border_km: km,
                    controlled_by: controlled_by.clone(),
                    areas: areas.clone(),
                })?;
                let e = cells
                    .entry((areas, d))
                    .or_insert_with(|| (Vec::new(), km, km));
                e.0.push(rect.to_polygon());
                e.1 = e.1.min(km);
                e.2 = e.2.max(km);
            }
        }
        for ((areas, d), (rects, lo, hi)) in cells {
            let d = same(&decider.decisions, d);
            let union = geo::unary_union(&rects);
            let part = shape.intersection(&union);
            if planar_area(&part) >= SLIVER {
                add(
                    (p.base, controlled_by.clone(), areas, d, true),
                    part,
                    lo,
                    Some(hi),
                );
            }
        }
    }

    let mut regions = Vec::with_capacity(groups.len());
    for ((base, controlled_by, areas, decision, sampled), (parts, km_min, km_max)) in groups {
        let shape = if parts.len() == 1 {
            parts
                .into_iter()
                .next()
                .unwrap_or_else(|| MultiPolygon::new(vec![]))
        } else {
            geo::unary_union(&parts)
        };
        let area_km2 = shape.chamberlain_duquette_unsigned_area() / 1e6;
        regions.push(Region {
            shape,
            base,
            controlled_by,
            areas,
            km_min,
            km_max,
            decision,
            sampled,
            area_km2,
        });
    }
    Ok(Decided {
        bases,
        regions,
        decisions: decider.decisions,
        sampled_cells,
        breaks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_of_the_distance_are_read() {
        let b = read_breaks([
            "context.border_distance_km <= 80 && x",
            "when { 30 > context.border_distance_km }",
        ]);
        assert_eq!(b.km, vec![29.0, 80.0]);
        assert!(b.complete);
        let b = read_breaks(["context.border_distance_km < 10 || context.border_distance_km >= 5"]);
        assert_eq!(b.km, vec![4.0, 9.0]);
        let b = read_breaks([
            "context.border_distance_km == 7",
            "context has border_distance_km",
        ]);
        assert_eq!(b.km, vec![6.0, 7.0]);
        assert!(b.complete);
        let b = read_breaks(["context.border_distance_km * 2 <= 160"]);
        assert!(!b.complete);
        assert!(b.km.is_empty());
        let b = read_breaks(["context.border_distance_km <= context.reach"]);
        assert!(!b.complete);
    }

    #[test]
    fn bands_hold_the_whole_km_between_breaks() {
        let breaks = [50.0, 80.0];
        assert_eq!(band_km(&breaks, 0), (0, Some(50)));
        assert_eq!(band_km(&breaks, 1), (51, Some(80)));
        assert_eq!(band_km(&breaks, 2), (81, None));
        assert_eq!(band_km(&[50.5], 0), (0, Some(51)));
        assert_eq!(band_km(&[50.5], 1), (51, None));
    }
}
