//! `enduse map`: an SVG of a decision over the region.

use super::Ctx;
use crate::args::MapArgs;
use enduse::{Error, Result};

pub fn run(a: MapArgs, ctx: &mut Ctx) -> Result<i32> {
    let mut ask = super::check::ask(a.ask.actor, a.ask.action, a.ask.common);
    ask.target_class = a.target_class;
    ask.purpose = a.purpose;
    let snapshot = ctx.snapshot()?;
    let report = snapshot.map(&ask, a.cell, ctx.today())?;
    if let Some(path) = &a.out {
        std::fs::write(path, &report.svg).map_err(|e| Error::io("write", path, &e))?;
    }
    if let Some(path) = &a.geojson {
        std::fs::write(path, &report.geojson).map_err(|e| Error::io("write", path, &e))?;
    }
    if ctx.json() {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["out"] = serde_json::json!(a.out);
        v["geojson"] = serde_json::json!(a.geojson);
        ctx.print(&crate::render::json(&v));
    } else if a.out.is_some() || a.geojson.is_some() {
        let written: Vec<&std::path::Path> = a
            .out
            .iter()
            .chain(&a.geojson)
            .map(|p| p.as_path())
            .collect();
        let text = crate::render::map_written(&report, &written);
        ctx.print(&text);
    } else {
        ctx.print(&report.svg);
    }
    Ok(0)
}
