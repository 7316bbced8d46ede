//! `enduse timeline`: every change of every condition binding a model, and
//! with `--svg` the same as a picture.

use super::Ctx;
use crate::args::TimelineArgs;
use enduse::{Error, Result, TimelineSubject};

pub fn run(a: TimelineArgs, ctx: &mut Ctx) -> Result<i32> {
    let snapshot = ctx.snapshot()?;
    let report = snapshot.timeline(&a.model)?;
    if let Some(path) = &a.svg {
        let picture =
            enduse::timeline_picture(&snapshot, &TimelineSubject::Model(a.model.clone()))?;
        std::fs::write(path, &picture.svg).map_err(|e| Error::io("write", path, &e))?;
    }
    ctx.emit(&report, crate::render::timeline);
    Ok(0)
}
