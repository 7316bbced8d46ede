//! `enduse map`: an SVG of a decision over the region.

use super::Ctx;
use crate::args::MapArgs;
use enduse::{Error, Result};

pub fn run(a: MapArgs, ctx: &mut Ctx) -> Result<i32> {
    let ask = super::check::ask(a.ask.actor, a.ask.action, a.ask.common);
    let snapshot = ctx.snapshot()?;
    let report = snapshot.map(&ask, a.cell, ctx.today())?;
    if let Some(path) = &a.out {
        std::fs::write(path, &report.svg).map_err(|e| Error::io("write", path, &e))?;
    }
    if ctx.json() {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["out"] = serde_json::json!(a.out);
        ctx.print(&crate::render::json(&v));
    } else if let Some(path) = &a.out {
        let text = crate::render::map_written(&report, path);
        ctx.print(&text);
    } else {
        ctx.print(&report.svg);
    }
    Ok(0)
}
