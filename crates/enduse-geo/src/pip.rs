//! Point-in-polygon with edges bucketed by latitude band, so that a test
//! looks only at the edges that can cross the point's parallel instead of
//! every vertex of a detailed oblast outline.

use geo::MultiPolygon;

const BANDS: usize = 128;

/// One polygon's rings, as edges bucketed by band.
#[derive(Debug, Clone)]
pub(crate) struct BandedShape {
    y0: f64,
    height: f64,
    /// Edges `[x1, y1, x2, y2]` per band; an edge sits in every band its
    /// latitude span touches.
    bands: Vec<Vec<[f64; 4]>>,
}

impl BandedShape {
    pub(crate) fn new(shape: &MultiPolygon<f64>) -> Self {
        let mut edges = Vec::new();
        for poly in &shape.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for l in ring.lines() {
                    edges.push([l.start.x, l.start.y, l.end.x, l.end.y]);
                }
            }
        }
        let y0 = edges
            .iter()
            .map(|e| e[1].min(e[3]))
            .fold(f64::INFINITY, f64::min);
        let y1 = edges
            .iter()
            .map(|e| e[1].max(e[3]))
            .fold(f64::NEG_INFINITY, f64::max);
        let height = (y1 - y0).max(1e-9);
        let mut bands = vec![Vec::new(); BANDS];
        for e in edges {
            let lo = Self::band(y0, height, e[1].min(e[3]));
            let hi = Self::band(y0, height, e[1].max(e[3]));
            for b in bands.iter_mut().take(hi + 1).skip(lo) {
                b.push(e);
            }
        }
        Self { y0, height, bands }
    }

    fn band(y0: f64, height: f64, y: f64) -> usize {
        let f = ((y - y0) / height * BANDS as f64).floor();
        if f <= 0.0 {
            0
        } else {
            (f as usize).min(BANDS - 1)
        }
    }

    /// Even-odd rule over all rings (holes and multiple parts included).
    /// Points exactly on an edge may fall either way.
    pub(crate) fn contains(&self, x: f64, y: f64) -> bool {
        if y < self.y0 || y > self.y0 + self.height {
            return false;
        }
        let mut inside = false;
        for e in &self.bands[Self::band(self.y0, self.height, y)] {
            let (x1, y1, x2, y2) = (e[0], e[1], e[2], e[3]);
            // Half-open in y so a vertex on the parallel counts once.
            if (y1 > y) != (y2 > y) {
                let cx = x1 + (y - y1) * (x2 - x1) / (y2 - y1);
                if cx > x {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Intersects, Point};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn shapes() -> &'static Vec<(MultiPolygon<f64>, BandedShape)> {
        static S: OnceLock<Vec<(MultiPolygon<f64>, BandedShape)>> = OnceLock::new();
        S.get_or_init(|| {
            let b = crate::Boundaries::bundled().unwrap();
            ["UA-63", "UA-43", "RU-BEL", "RU-KRS", "UA-14", "RU-LEN"]
                .iter()
                .map(|c| {
                    let s = b.shape_of(c).unwrap().clone();
                    let banded = BandedShape::new(&s);
                    (s, banded)
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The banded test agrees with geo's own on random points around
        /// real, detailed outlines (boundary points excepted).
        #[test]
        fn agrees_with_geo(i in 0usize..6, fx in 0.0f64..1.0, fy in 0.0f64..1.0) {
            let (shape, banded) = &shapes()[i];
            let r = geo::BoundingRect::bounding_rect(shape).unwrap();
            let x = r.min().x - 0.1 + fx * (r.width() + 0.2);
            let y = r.min().y - 0.1 + fy * (r.height() + 0.2);
            let g = shape.intersects(&Point::new(x, y));
            prop_assert_eq!(banded.contains(x, y), g, "at {},{}", y, x);
        }
    }
}
