//! `enduse map`: the decided regions of [`crate::regions`] drawn as an SVG
//! (regions, subdivision outlines, control and named areas, the UA-RU land
//! border, country and oblast labels, a legend naming the authorities, the
//! dates and the sources) and written as GeoJSON.
//!
//! The SVG's groups have stable ids for a page that toggles them:
//! `regions`, `subdivisions`, `areas-control`, `areas-named`, `border`,
//! `labels-countries`, `labels-subdivisions`, `legend`. Each region is a
//! `<path class="region OUTCOME">` with `data-outcome`, `data-place`,
//! `data-controlled-by`, `data-authorities` and `data-rules`. The root
//! carries the projection (`data-lon0`, `data-lat1`, `data-x0`, `data-y0`,
//! `data-px-per-degree`, `data-cos`): x = x0 + (lon - lon0) · cos · k,
//! y = y0 + (lat1 - lat) · k.

use crate::error::Result;
use crate::regions::{decide_regions, verdict, Decided, COS, LAT0, LAT1, LON0, LON1};
use crate::reports::{MapOutcome, MapReport};
use crate::snapshot::Snapshot;
use enduse_core::{ApprovalNeed, Outcome, Query, SourceRef};
use enduse_geo::{Boundaries, ControlLayer, NamedAreas};
use geo::{Area, Centroid, Coord, InteriorPoint, LineString, MultiPolygon, Simplify};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Pixels per degree of latitude.
const K: f64 = 46.0;
/// Left and top margins of the map, px.
const X0: f64 = 10.0;
const Y0: f64 = 50.0;
const LEGEND_W: f64 = 330.0;
/// Outlines are simplified to within this many px before drawing: far
/// below what a screen shows at 1:1, and it halves the SVG.
const SIMPLIFY_PX: f64 = 0.1;

fn x(lon: f64) -> f64 {
    X0 + (lon - LON0) * COS * K
}

fn y(lat: f64) -> f64 {
    Y0 + (LAT1 - lat) * K
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

/// Writes tenths of a pixel as a decimal (`-12.3`, `4`).
fn tenths(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    let _ = write!(out, "{}", a / 10);
    if !a.is_multiple_of(10) {
        let _ = write!(out, ".{}", a % 10);
    }
}

/// Appends the SVG path data of `shape` (lon, lat) to `d`: each ring
/// projected, simplified, rounded to tenths of a pixel, and written in
/// relative moves (exact, as the rounding is done on absolute positions).
fn path(d: &mut String, shape: &MultiPolygon<f64>) {
    for poly in &shape.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            ring_path(d, ring);
        }
    }
}

fn ring_path(d: &mut String, ring: &LineString<f64>) {
    let px = LineString::new(
        ring.coords()
            .map(|c| Coord {
                x: x(c.x),
                y: y(c.y),
            })
            .collect(),
    )
    .simplify(SIMPLIFY_PX);
    let mut last: Option<(i64, i64)> = None;
    let mut n = 0;
    for c in px.coords() {
        let p = ((c.x * 10.0).round() as i64, (c.y * 10.0).round() as i64);
        match last {
            None => {
                d.push('M');
                tenths(d, p.0);
                d.push(',');
                tenths(d, p.1);
            }
            Some(q) if q == p => continue,
            Some(q) => {
                d.push(if n == 1 { 'l' } else { ' ' });
                tenths(d, p.0 - q.0);
                d.push(',');
                tenths(d, p.1 - q.1);
            }
        }
        last = Some(p);
        n += 1;
    }
    if n > 0 {
        d.push('z');
    }
}

/// Writes a polygon's coordinates as GeoJSON, 5 decimals (about 1 m, the
/// precision of the boundary files).
fn geojson_coords(out: &mut String, shape: &MultiPolygon<f64>) {
    out.push('[');
    for (i, poly) in shape.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, ring) in std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .enumerate()
        {
            if j > 0 {
                out.push(',');
            }
            out.push('[');
            for (k, c) in ring.coords().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let _ = write!(out, "[{:.5},{:.5}]", c.x, c.y);
            }
            out.push(']');
        }
        out.push(']');
    }
    out.push(']');
}

/// Decides `template` (its place, distance, controller and areas are
/// filled per region) over the region and draws it. A region whose
/// decision fails fails the map: an error is never drawn as an answer.
pub(crate) fn render(
    snapshot: &Snapshot,
    geo: &Boundaries,
    control: &ControlLayer,
    named: &NamedAreas<'_>,
    template: &Query,
    cell: f64,
) -> Result<MapReport> {
    let decided = decide_regions(snapshot, geo, control, named, template, cell)?;
    let engine = snapshot.engine();
    let reg = engine.register();
    let Decided {
        bases,
        regions,
        decisions,
        sampled_cells,
        breaks,
    } = &decided;

    let mut sources: BTreeMap<String, SourceRef> = BTreeMap::new();
    let mut needs: BTreeMap<String, ApprovalNeed> = BTreeMap::new();
    let mut outcomes: BTreeMap<&'static str, MapOutcome> = BTreeMap::new();
    // Legend entries: outcome and authorities, with their area.
    let mut legend_rows: BTreeMap<(u8, Vec<String>), f64> = BTreeMap::new();
    for r in regions.iter() {
        let d = &decisions[r.decision];
        for p in &d.parties {
            for rule in &p.rules {
                sources
                    .entry(rule.source.id.to_string())
                    .or_insert_with(|| rule.source.clone());
            }
        }
        for a in &d.approvals {
            needs
                .entry(a.authority.to_string())
                .or_insert_with(|| a.clone());
        }
        let o = outcomes.entry(d.outcome.as_str()).or_insert(MapOutcome {
            regions: 0,
            area_km2: 0.0,
        });
        o.regions += 1;
        o.area_km2 += r.area_km2;
        let rank = match d.outcome {
            Outcome::Permit => 0,
            Outcome::NeedsApproval => 1,
            Outcome::Forbid => 2,
            Outcome::Indeterminate => 3,
        };
        *legend_rows
            .entry((rank, verdict(d).authorities))
            .or_default() += r.area_km2;
    }
    for o in outcomes.values_mut() {
        o.area_km2 = o.area_km2.round();
    }

    // Regions.
    let mut fills = String::new();
    let mut features = String::new();
    for (i, r) in regions.iter().enumerate() {
        let d = &decisions[r.decision];
        let v = verdict(d);
        let base = &bases[r.base];
        let ctrl = r
            .controlled_by
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let mut pd = String::new();
        path(&mut pd, &r.shape);
        let place_name = reg
            .places
            .get(&base.place)
            .map_or_else(|| base.place.to_string(), |p| p.name.clone());
        let km = match r.km_max {
            Some(hi) => format!("{}-{} km", r.km_min, hi),
            None => format!("{}+ km", r.km_min),
        };
        let mut title = format!(
            "{}: {} ({}), controlled by {}, {} from the border",
            d.outcome.label(),
            place_name,
            base.place,
            if ctrl.is_empty() { "?" } else { &ctrl },
            km
        );
        if !v.authorities.is_empty() {
            let _ = write!(title, "; approval by {}", v.authorities.join(", "));
        }
        if !v.rules.is_empty() {
            let _ = write!(title, "; rules: {}", v.rules.join(", "));
        }
        let _ = write!(
            fills,
            r#"<path class="region {o}" data-outcome="{o}" data-place="{place}" data-controlled-by="{ctrl}" data-authorities="{auth}" data-rules="{rules}" fill="{c}" stroke="{c}" d="{pd}"><title>{t}</title></path>"#,
            o = d.outcome.as_str(),
            place = esc(base.place.as_str()),
            ctrl = esc(&ctrl),
            auth = esc(&v.authorities.join(" ")),
            rules = esc(&v.rules.join(" ")),
            c = colour(d.outcome),
            t = esc(&title),
        );

        if i > 0 {
            features.push(',');
        }
        let props = serde_json::json!({
            "outcome": d.outcome.as_str(),
            "authorities": d.approvals,
            "rules": v.rules,
            "facts": {
                "place": base.place,
                "place_name": place_name,
                "country": base.country,
                "controlled_by": r.controlled_by,
                "areas": r.areas,
                "border_km": {"min": r.km_min, "max": r.km_max},
            },
            "sampled": r.sampled,
            "area_km2": (r.area_km2 * 10.0).round() / 10.0,
        });
        let _ = write!(
            features,
            r#"{{"type":"Feature","properties":{props},"geometry":{{"type":"MultiPolygon","coordinates":"#
        );
        geojson_coords(&mut features, &r.shape);
        features.push_str("}}");
    }

    // Subdivision outlines and labels.
    let mut outlines = String::new();
    let mut sub_labels = String::new();
    let mut countries: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
    for b in bases {
        let mut d = String::new();
        path(&mut d, &b.shape);
        let class = if b.country == "UA" || b.country == "RU" {
            "outline major"
        } else {
            "outline"
        };
        let _ = write!(
            outlines,
            r#"<path class="{class}" data-place="{}" d="{d}"/>"#,
            esc(b.place.as_str())
        );
        let area = b.shape.unsigned_area();
        if let Some(c) = b.shape.centroid() {
            let e = countries.entry(b.country.as_str()).or_default();
            e.0 += c.x() * area;
            e.1 += c.y() * area;
            e.2 += area;
        }
        if b.subdivision.is_none() {
            continue;
        }
        let largest = b
            .shape
            .0
            .iter()
            .max_by(|p, q| p.unsigned_area().total_cmp(&q.unsigned_area()));
        if let (Some(poly), Some(place)) = (largest, reg.places.get(&b.place)) {
            if let Some(ip) = poly.interior_point() {
                let _ = write!(
                    sub_labels,
                    r#"<text x="{:.1}" y="{:.1}" data-place="{}">{}</text>"#,
                    x(ip.x()),
                    y(ip.y()),
                    esc(b.place.as_str()),
                    esc(&place.name)
                );
            }
        }
    }
    let mut country_labels = String::new();
    for (code, (sx, sy, a)) in &countries {
        if *a <= 0.0 {
            continue;
        }
        // Kept inside the window, so that a country mostly outside it
        // (Poland, Russia) is still named.
        let (lon, lat) = (
            (sx / a).clamp(LON0 + 2.5, LON1 - 2.5),
            (sy / a).clamp(LAT0 + 0.5, LAT1 - 0.5),
        );
        let name = reg
            .places
            .get(&enduse_core::PlaceCode::new(*code))
            .map_or_else(|| (*code).to_owned(), |p| p.name.clone());
        let _ = write!(
            country_labels,
            r#"<text x="{:.1}" y="{:.1}" data-country="{}">{}</text>"#,
            x(lon),
            y(lat),
            esc(code),
            esc(&name.to_uppercase())
        );
    }

    // Control areas in force, as drawn in the layer.
    let mut control_g = String::new();
    for c in control.outlines_on(template.as_of) {
        let mut d = String::new();
        path(&mut d, c.shape);
        let _ = write!(
            control_g,
            r#"<path id="control-{id}" class="area control{approx}" data-controlled-by="{by}" d="{d}"><title>{id}: controlled by {by}{note}</title></path>"#,
            id = esc(c.id),
            by = esc(c.controlled_by),
            approx = if c.approximate { " approximate" } else { "" },
            note = if c.approximate {
                " (coarse outline)"
            } else {
                ""
            },
        );
    }
    // Named areas in force: the union of the regions that lie in each.
    let mut named_g = String::new();
    for (id, _) in named.geometries_on(template.as_of) {
        let parts: Vec<MultiPolygon<f64>> = regions
            .iter()
            .filter(|r| r.areas.iter().any(|a| a == id))
            .map(|r| r.shape.clone())
            .collect();
        if parts.is_empty() {
            continue;
        }
        let union = geo::unary_union(&parts);
        let mut d = String::new();
        path(&mut d, &union);
        let name = reg.areas.get(id).map_or(id, |a| a.name.as_str());
        let _ = write!(
            named_g,
            r#"<path id="area-{id}" class="area named" d="{d}"><title>{name}</title></path>"#,
            id = esc(id),
            name = esc(name),
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
    for ((rank, authorities), km2) in &legend_rows {
        let o = [
            Outcome::Permit,
            Outcome::NeedsApproval,
            Outcome::Forbid,
            Outcome::Indeterminate,
        ][usize::from(*rank)];
        let mut label = o.label().to_lowercase();
        if !authorities.is_empty() {
            let names: Vec<String> = authorities
                .iter()
                .map(|a| {
                    needs
                        .get(a)
                        .map_or_else(|| a.clone(), |n| format!("{} ({a})", n.authority_name))
                })
                .collect();
            let _ = write!(label, " by {}", names.join(" and "));
        }
        let _ = write!(label, ": {} km\u{b2}", thousands(km2.round() as i64));
        let lines = wrap(&label, 44);
        let _ = write!(
            legend,
            r#"<rect x="{lx}" y="{ly}" width="16" height="16" fill="{}"/>"#,
            colour(o)
        );
        for (k, l) in lines.iter().enumerate() {
            let _ = write!(
                legend,
                r#"<text x="{}" y="{}" class="t">{}</text>"#,
                lx + 24.0,
                ly + 13.0 + 16.0 * k as f64,
                esc(l)
            );
        }
        ly += 8.0 + 16.0 * lines.len() as f64;
    }
    let mut lines: Vec<String> = vec![
        format!(
            "as of {}, public record of {}",
            template.as_of, template.known_at
        ),
        format!("data set: {}", reg.info.name),
        "regions: Natural Earth subdivisions (de jure), cut by the control areas and named areas in force and by the border distances the rules compare".into(),
        "white lines: subdivisions; black line: Ukraine-Russia land border; dashed: control areas".into(),
    ];
    if !breaks.km.is_empty() {
        lines.push(format!(
            "border bands cut at {} km",
            breaks
                .km
                .iter()
                .map(|k| format!("{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if *sampled_cells > 0 {
        lines.push(format!(
            "{sampled_cells} grid cells of {cell}\u{b0} decided one by one where a fact varies within a polygon"
        ));
    }
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
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Arial, sans-serif" data-as-of="{as_of}" data-known-at="{known_at}" data-lon0="{LON0}" data-lat1="{LAT1}" data-x0="{X0}" data-y0="{Y0}" data-px-per-degree="{K}" data-cos="{COS}">
<style>.t{{font-size:13px;fill:#222}}.s{{font-size:11px;fill:#333}}.h{{font-size:17px;font-weight:bold;fill:#111}}.region{{stroke-width:0.3;stroke-linejoin:round}}.outline{{fill:none;stroke:#fff;stroke-width:0.35}}.outline.major{{stroke-width:0.5}}.area{{fill:none;stroke-linejoin:round}}.control{{stroke:#333;stroke-width:1;stroke-dasharray:4 2}}.named{{stroke:#6a3d9a;stroke-width:1.2;stroke-dasharray:1 2}}#labels-subdivisions text{{font-size:7px;fill:#222;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:1.5px;stroke-opacity:0.6}}#labels-countries text{{font-size:16px;font-weight:bold;fill:#000;fill-opacity:0.45;text-anchor:middle;letter-spacing:2px}}</style>
<defs><clipPath id="map"><rect x="{cx0:.1}" y="{cy0:.1}" width="{cw:.1}" height="{ch:.1}"/></clipPath></defs>
<rect width="100%" height="100%" fill="#ffffff"/>
<rect x="{cx0:.1}" y="{cy0:.1}" width="{cw:.1}" height="{ch:.1}" fill="#dfe9f2"/>
<text x="10" y="30" class="h">{title}</text>
<g clip-path="url(#map)">
<g id="regions">{fills}</g>
<g id="subdivisions">{outlines}</g>
<g id="areas-control">{control_g}</g>
<g id="areas-named">{named_g}</g>
<g id="border"><path d="{border}" stroke="#111" stroke-width="1.6" fill="none"/></g>
<g id="labels-countries">{country_labels}</g>
<g id="labels-subdivisions">{sub_labels}</g>
</g>
<g id="legend">{legend}</g>
</svg>
"##,
        as_of = template.as_of,
        known_at = template.known_at,
        title = esc(&title),
    );
    let geojson = format!(
        r#"{{"type":"FeatureCollection","as_of":"{}","known_at":"{}","title":{},"features":[{features}]}}"#,
        template.as_of,
        template.known_at,
        serde_json::Value::String(title),
    );
    let authorities: Vec<ApprovalNeed> = needs.into_values().collect();
    Ok(MapReport {
        as_of: template.as_of,
        known_at: template.known_at,
        outcomes: outcomes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        authorities,
        border_bands_km: breaks.km.clone(),
        decisions: decisions.len(),
        sampled_cells: *sampled_cells,
        sources: sources.into_values().collect(),
        svg,
        geojson,
    })
}

/// `1234567` as `1,234,567`.
fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_short() {
        let mut s = String::new();
        for v in [0, 7, -7, 10, 123, -120] {
            tenths(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "0 0.7 -0.7 1 12.3 -12 ");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn rings_are_relative_and_closed() {
        let ring = LineString::new(vec![
            Coord { x: LON0, y: LAT1 },
            Coord {
                x: LON0 + 1.0,
                y: LAT1,
            },
            Coord {
                x: LON0 + 1.0,
                y: LAT1 - 1.0,
            },
            Coord { x: LON0, y: LAT1 },
        ]);
        let mut d = String::new();
        ring_path(&mut d, &ring);
        // 1 degree of longitude is 0.656 * 46 = 30.2 px; of latitude 46 px.
        assert_eq!(d, "M10,50l30.2,0 0,46 -30.2,-46z");
    }
}
