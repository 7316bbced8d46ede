//! `enduse timeline`: every change of every condition binding a model.

use super::Ctx;
use crate::args::TimelineArgs;
use enduse::Result;

pub fn run(a: TimelineArgs, ctx: &mut Ctx) -> Result<i32> {
    let snapshot = ctx.snapshot()?;
    let report = snapshot.timeline(&a.model)?;
    ctx.emit(&report, crate::render::timeline);
    Ok(0)
}
