//! Distance bands as polygons: the points within a distance of the
//! Ukraine-Russia land border (or of a stretch of it, or of given points),
//! drawn by buffering in a conformal projection of the region and projecting
//! the outline back to degrees.
//!
//! The projection is Lambert conformal conic on the WGS84 ellipsoid with
//! standard parallels 46°N and 52°N, which bracket the border (45.2°N to
//! 52.4°N): its scale error there is under 0.15 %, so a planar buffer of
//! 80 km is within about 120 m of the geodesic band that
//! [`Boundaries::border_distance_km`] measures. Arcs are drawn with a step
//! of 0.03 rad, which cuts them by at most 0.012 % of the radius.

use crate::Boundaries;
use geo::algorithm::buffer::{BufferStyle, LineCap, LineJoin};
use geo::{Buffer, Coord, LineString, MapCoords, MultiLineString, MultiPoint, MultiPolygon, Point};

/// WGS84 semi-major axis, km.
const A_KM: f64 = 6378.137;
/// WGS84 flattening.
const F: f64 = 1.0 / 298.257_223_563;
/// Arc step of round joins and caps, radians.
const ARC: f64 = 0.03;

/// Lambert conformal conic, two standard parallels, ellipsoidal (Snyder,
/// *Map Projections: A Working Manual*, 15-1 to 15-11); x and y in km.
#[derive(Debug, Clone, Copy)]
pub struct Lcc {
    e: f64,
    n: f64,
    af: f64,
    rho0: f64,
    lon0: f64,
}

impl Lcc {
    /// The projection the bands are drawn in: standard parallels 46°N and
    /// 52°N, origin 49°N 36°E.
    pub fn region() -> Self {
        Self::new(46.0, 52.0, 49.0, 36.0)
    }

    /// A projection with standard parallels `lat1`, `lat2` and origin
    /// (`lat0`, `lon0`), in degrees.
    pub fn new(lat1: f64, lat2: f64, lat0: f64, lon0: f64) -> Self {
        let e = (F * (2.0 - F)).sqrt();
        let m = |phi: f64| phi.cos() / (1.0 - (e * phi.sin()).powi(2)).sqrt();
        let t = |phi: f64| {
            (std::f64::consts::FRAC_PI_4 - phi / 2.0).tan()
                / ((1.0 - e * phi.sin()) / (1.0 + e * phi.sin())).powf(e / 2.0)
        };
        let (p1, p2, p0) = (lat1.to_radians(), lat2.to_radians(), lat0.to_radians());
        let n = (m(p1).ln() - m(p2).ln()) / (t(p1).ln() - t(p2).ln());
        let f = m(p1) / (n * t(p1).powf(n));
        let af = A_KM * f;
        Self {
            e,
            n,
            af,
            rho0: af * t(p0).powf(n),
            lon0: lon0.to_radians(),
        }
    }

    fn t(&self, phi: f64) -> f64 {
        let s = self.e * phi.sin();
        (std::f64::consts::FRAC_PI_4 - phi / 2.0).tan() / ((1.0 - s) / (1.0 + s)).powf(self.e / 2.0)
    }

    /// (lon, lat) in degrees to (x, y) in km.
    pub fn forward(&self, c: Coord<f64>) -> Coord<f64> {
        let rho = self.af * self.t(c.y.to_radians()).powf(self.n);
        let theta = self.n * (c.x.to_radians() - self.lon0);
        Coord {
            x: rho * theta.sin(),
            y: self.rho0 - rho * theta.cos(),
        }
    }

    /// (x, y) in km to (lon, lat) in degrees.
    pub fn inverse(&self, c: Coord<f64>) -> Coord<f64> {
        let dy = self.rho0 - c.y;
        let rho = (c.x * c.x + dy * dy).sqrt().copysign(self.n);
        let theta = (c.x * self.n.signum()).atan2(dy * self.n.signum());
        let t = (rho / self.af).powf(1.0 / self.n);
        let mut phi = std::f64::consts::FRAC_PI_2 - 2.0 * t.atan();
        // Converges to far below a millimetre in a few steps.
        for _ in 0..8 {
            let s = self.e * phi.sin();
            phi = std::f64::consts::FRAC_PI_2
                - 2.0 * (t * ((1.0 - s) / (1.0 + s)).powf(self.e / 2.0)).atan();
        }
        Coord {
            x: (theta / self.n + self.lon0).to_degrees(),
            y: phi.to_degrees(),
        }
    }
}

fn style(km: f64) -> BufferStyle<f64> {
    BufferStyle::new(km)
        .line_join(LineJoin::Round(ARC))
        .line_cap(LineCap::Round(ARC))
}

fn back(lcc: &Lcc, m: MultiPolygon<f64>) -> MultiPolygon<f64> {
    m.map_coords(|c| lcc.inverse(c))
}

/// The border segments with the given indexes (or all), chained into lines
/// where one ends where the next starts.
fn border_lines(b: &Boundaries, which: Option<&[bool]>, lcc: &Lcc) -> MultiLineString<f64> {
    let mut lines: Vec<Vec<Coord<f64>>> = Vec::new();
    for (i, [a, z]) in b.border_segments().into_iter().enumerate() {
        if which.is_some_and(|w| !w.get(i).copied().unwrap_or(false)) {
            continue;
        }
        let a = Coord { x: a[0], y: a[1] };
        let z = Coord { x: z[0], y: z[1] };
        match lines.last_mut() {
            Some(l) if l.last() == Some(&a) => l.push(z),
            _ => lines.push(vec![a, z]),
        }
    }
    MultiLineString::new(
        lines
            .into_iter()
            .map(|l| LineString::new(l.into_iter().map(|c| lcc.forward(c)).collect()))
            .collect(),
    )
}

/// The points within `km` of the Ukraine-Russia land border, as a polygon in
/// (lon, lat) degrees. With `stretch` (one flag per border segment, as
/// [`Boundaries::border_sides`] indexes them), only the flagged segments
/// count.
pub fn border_band(b: &Boundaries, km: f64, stretch: Option<&[bool]>) -> MultiPolygon<f64> {
    let lcc = Lcc::region();
    back(
        &lcc,
        border_lines(b, stretch, &lcc).buffer_with_style(style(km)),
    )
}

/// The points within `km` of any of `points` ((lon, lat) degrees), as a
/// polygon in degrees.
pub fn points_band(points: &[Point<f64>], km: f64) -> MultiPolygon<f64> {
    let lcc = Lcc::region();
    let projected = MultiPoint::new(points.iter().map(|p| Point(lcc.forward(p.0))).collect());
    back(&lcc, projected.buffer_with_style(style(km)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LatLon;
    use geo::{BoundingRect, Contains, Distance, Geodesic};
    use std::sync::OnceLock;

    fn b() -> &'static Boundaries {
        static B: OnceLock<Boundaries> = OnceLock::new();
        B.get_or_init(|| Boundaries::bundled().unwrap())
    }

    #[test]
    fn the_projection_round_trips_and_keeps_distances() {
        let lcc = Lcc::region();
        for (lon, lat) in [
            (36.0, 49.0),
            (31.0, 52.3),
            (39.9, 47.1),
            (22.5, 44.0),
            (49.0, 56.0),
        ] {
            let c = Coord { x: lon, y: lat };
            let back = lcc.inverse(lcc.forward(c));
            assert!(
                (back.x - lon).abs() < 1e-9 && (back.y - lat).abs() < 1e-9,
                "{back:?}"
            );
        }
        // Planar distance against geodesic distance, 80 km apart, in
        // several directions along the border's latitudes.
        for (lon, lat, dlon, dlat) in [
            (36.6, 50.6, 0.0, 0.72),
            (36.6, 50.6, 1.13, 0.0),
            (33.5, 52.3, 0.8, 0.5),
            (39.0, 47.3, -0.75, 0.5),
        ] {
            let (p, q) = (
                Coord { x: lon, y: lat },
                Coord {
                    x: lon + dlon,
                    y: lat + dlat,
                },
            );
            let geodesic = Geodesic.distance(Point(p), Point(q)) / 1000.0;
            let (a, z) = (lcc.forward(p), lcc.forward(q));
            let planar = ((a.x - z.x).powi(2) + (a.y - z.y).powi(2)).sqrt();
            assert!(
                (planar - geodesic).abs() / geodesic < 0.002,
                "{lon},{lat}: {planar} vs {geodesic}"
            );
        }
    }

    /// Points inside the band are within its distance of the border, as
    /// `border_distance_km` measures it, and points outside are not, except
    /// within a few hundred metres of its edge.
    #[test]
    fn the_band_agrees_with_the_measured_distance() {
        let band = border_band(b(), 80.0, None);
        let r = band.bounding_rect().unwrap();
        assert!(r.min().x < 31.0 && r.max().x > 40.0, "{r:?}");
        let mut checked = 0;
        let mut lat = 44.0;
        while lat < 54.0 {
            let mut lon = 29.0;
            while lon < 42.0 {
                let p = LatLon::new(lat, lon).unwrap();
                let d = b().border_distance_km(p);
                if (d - 80.0).abs() > 0.3 {
                    let inside = band.contains(&Point::new(lon, lat));
                    assert_eq!(inside, d <= 80.0, "{lat},{lon}: {d} km");
                    checked += 1;
                }
                lon += 0.13;
            }
            lat += 0.11;
        }
        assert!(checked > 5000, "{checked}");
    }

    #[test]
    fn points_bands_are_discs() {
        let c = Point::new(36.23, 50.0);
        let band = points_band(&[c], 30.0);
        for (dlon, dlat, inside) in [
            (0.0, 0.26, true),
            (0.0, 0.28, false),
            (0.41, 0.0, true),
            (0.43, 0.0, false),
        ] {
            let q = Point::new(36.23 + dlon, 50.0 + dlat);
            let d = Geodesic.distance(c, q) / 1000.0;
            assert_eq!(band.contains(&q), inside, "{dlon},{dlat}: {d} km");
        }
    }
}
