//! `enduse map`: an SVG of the region, each cell coloured by the decision for
//! a point at its centre, with subdivision outlines, the UA-RU land border, a
//! legend, the dates and the sources.

use crate::error::Result;
use crate::geo::{point_facts, PointFacts};
use crate::reports::MapReport;
use crate::snapshot::Snapshot;
use enduse_core::{Decision, Outcome, Query, SourceRef};
use enduse_geo::{Boundaries, ControlLayer, LatLon, NamedAreas};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// The drawn window (degrees).
const LON0: f64 = 22.0;
const LON1: f64 = 50.0;
const LAT0: f64 = 43.5;
const LAT1: f64 = 56.5;
/// Pixels per degree of latitude.
const K: f64 = 46.0;
/// Longitudes are shortened by cos(49°), the middle latitude.
const COS: f64 = 0.656;
const LEGEND_W: f64 = 330.0;

fn x(lon: f64) -> f64 {
    10.0 + (lon - LON0) * COS * K
}

fn y(lat: f64) -> f64 {
    50.0 + (LAT1 - lat) * K
}

/// Colour of an outcome, chosen to stay distinct for colour-blind readers
/// (blue / orange / vermillion / grey).
pub fn colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Permit => "#3b82c4",
        Outcome::NeedsApproval => "#f0a30a",
        Outcome::Forbid => "#d1452b",
        Outcome::Indeterminate => "#b8b8b8",
    }
}

/// Splits `s` at spaces into lines of at most `n` characters; continuation
/// lines are indented.
fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > n {
            out.push(std::mem::take(&mut cur));
            cur.push_str("  ");
        }
        if !cur.is_empty() && !cur.ends_with("  ") {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    out.push(cur);
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the map for `template` (its place, distance, controller and
/// areas are replaced per cell). A cell whose decision fails fails the map:
/// an error is never drawn as an answer.
pub(crate) fn render(
    snapshot: &Snapshot,
    geo: &Boundaries,
    control: &ControlLayer,
    areas: &NamedAreas<'_>,
    template: &Query,
    step: f64,
) -> Result<MapReport> {
    let engine = snapshot.engine();
    let mut memo: HashMap<PointFacts, Decision> = HashMap::new();
    let mut cells = String::new();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut sources: BTreeMap<String, SourceRef> = BTreeMap::new();
    let lon_step = step / COS;
    let mut lat = LAT0 + step / 2.0;
    while lat < LAT1 {
        let mut lon = LON0 + lon_step / 2.0;
        while lon < LON1 {
            if let Ok(p) = LatLon::new(lat, lon) {
                if let Some(facts) = point_facts(engine, geo, control, areas, p, template.as_of) {
                    let d = match memo.entry(facts) {
                        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            let mut q = template.clone();
                            v.key().apply(&mut q);
                            let d = snapshot.decide(&q)?;
                            v.insert(d)
                        }
                    };
                    for p in &d.parties {
                        for r in &p.rules {
                            sources
                                .entry(r.source.id.to_string())
                                .or_insert_with(|| r.source.clone());
                        }
                    }
                    *counts.entry(d.outcome.as_str()).or_default() += 1;
                    let _ = write!(
                        cells,
                        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                        x(lon - lon_step / 2.0),
                        y(lat + step / 2.0),
                        lon_step * COS * K + 0.4,
                        step * K + 0.4,
                        colour(d.outcome)
                    );
                }
            }
            lon += lon_step;
        }
        lat += step;
    }

    let mut outlines = String::new();
    for (country, _, shape) in geo.shapes() {
        let mut d = String::new();
        for poly in &shape.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                let mut first = true;
                for c in ring.coords() {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1}",
                        if first { "M" } else { "L" },
                        x(c.x),
                        y(c.y)
                    );
                    first = false;
                }
                d.push('Z');
            }
        }
        let width = if country == "UA" || country == "RU" {
            0.5
        } else {
            0.35
        };
        let _ = write!(
            outlines,
            r##"<path d="{d}" fill="none" stroke="#ffffff" stroke-width="{width}"/>"##
        );
    }
    let mut border = String::new();
    for [a, b] in geo.border_segments() {
        let _ = write!(
            border,
            "M{:.1},{:.1}L{:.1},{:.1}",
            x(a[0]),
            y(a[1]),
            x(b[0]),
            y(b[1])
        );
    }

    let reg = engine.register();
    let map_w = x(LON1) + 10.0;
    let map_h = y(LAT0) + 10.0;
    let width = map_w + LEGEND_W;
    let model = match &template.item {
        enduse_core::ItemRef::Model(m) => m.to_string(),
        enduse_core::ItemRef::Lot(l) => format!("lot {l}"),
    };
    let title = format!(
        "May {} {} {} here on {}?",
        reg.party_name(&template.actor),
        template.action,
        model,
        template.as_of
    );
    let mut legend = String::new();
    let lx = map_w + 12.0;
    let mut ly = 70.0;
    for o in [
        Outcome::Permit,
        Outcome::NeedsApproval,
        Outcome::Forbid,
        Outcome::Indeterminate,
    ] {
        let n = counts.get(o.as_str()).copied().unwrap_or(0);
        let _ = write!(
            legend,
            r#"<rect x="{lx}" y="{ly}" width="16" height="16" fill="{}"/><text x="{}" y="{}" class="t">{} ({n} cells)</text>"#,
            colour(o),
            lx + 24.0,
            ly + 13.0,
            o.label().to_lowercase()
        );
        ly += 24.0;
    }
    let mut lines: Vec<String> = vec![
        format!(
            "as of {}, public record of {}",
            template.as_of, template.known_at
        ),
        format!("data set: {}", reg.info.name),
        "each cell: decision for a point at its centre".into(),
        "white lines: subdivisions (Natural Earth, de jure)".into(),
        "black line: Ukraine-Russia land border".into(),
    ];
    if !template.approvals.is_empty() {
        lines.push(format!(
            "as if approved by {}",
            template
                .approvals
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    lines.push(String::new());
    lines.push("Sources:".into());
    for s in sources.values() {
        lines.push(format!("{}, {}", s.outlet, s.date));
        lines.push(format!("  \u{201c}{}\u{201d}", s.title));
    }
    let lines: Vec<String> = lines.iter().flat_map(|l| wrap(l, 50)).collect();
    for l in &lines {
        ly += 17.0;
        let _ = write!(
            legend,
            r#"<text x="{lx}" y="{ly}" class="s">{}</text>"#,
            esc(l)
        );
    }
    let height = map_h.max(ly + 20.0);
    let (cx0, cy0) = (x(LON0), y(LAT1));
    let (cw, ch) = (x(LON1) - cx0, y(LAT0) - cy0);
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Arial, sans-serif">
<style>.t{{font-size:13px;fill:#222}}.s{{font-size:11px;fill:#333}}.h{{font-size:17px;font-weight:bold;fill:#111}}</style>
<defs><clipPath id="map"><rect x="{cx0:.1}" y="{cy0:.1}" width="{cw:.1}" height="{ch:.1}"/></clipPath></defs>
<rect width="100%" height="100%" fill="#ffffff"/>
<rect x="{cx0:.1}" y="{cy0:.1}" width="{cw:.1}" height="{ch:.1}" fill="#dfe9f2"/>
<text x="10" y="30" class="h">{}</text>
<g clip-path="url(#map)">
<g>{cells}</g>
<g>{outlines}</g>
<path d="{border}" stroke="#111" stroke-width="1.6" fill="none"/>
</g>
{legend}
</svg>
"##,
        esc(&title)
    );
    Ok(MapReport {
        as_of: template.as_of,
        known_at: template.known_at,
        cells: counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        sources: sources.into_values().collect(),
        svg,
    })
}
