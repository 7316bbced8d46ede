//! Point classification and border distance on the bundled boundaries.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use divan::{black_box, Bencher};
use enduse_geo::{Boundaries, ControlLayer, LatLon};
use std::sync::LazyLock;

static B: LazyLock<Boundaries> = LazyLock::new(|| Boundaries::bundled().unwrap());
static C: LazyLock<ControlLayer> = LazyLock::new(|| ControlLayer::bundled(&B).unwrap());

/// Kharkiv, Belgorod, Kursk, Crimea, Moscow, a point in the Black Sea.
const POINTS: [(f64, f64); 6] = [
    (50.0, 36.23),
    (50.6, 36.6),
    (51.73, 36.19),
    (45.0, 34.1),
    (55.75, 37.62),
    (43.5, 34.0),
];

fn main() {
    LazyLock::force(&C);
    divan::main();
}

#[divan::bench(args = POINTS)]
fn locate(bencher: Bencher, p: (f64, f64)) {
    let p = LatLon::new(p.0, p.1).unwrap();
    bencher.bench(|| B.locate(black_box(p)));
}

#[divan::bench(args = POINTS)]
fn border_distance(bencher: Bencher, p: (f64, f64)) {
    let p = LatLon::new(p.0, p.1).unwrap();
    bencher.bench(|| B.border_distance_km(black_box(p)));
}

#[divan::bench(args = POINTS)]
fn control(bencher: Bencher, p: (f64, f64)) {
    let p = LatLon::new(p.0, p.1).unwrap();
    let d = chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap();
    bencher.bench(|| C.control(black_box(p), d, "UA"));
}
