//! `enduse where LAT,LON`.

use super::Ctx;
use crate::args::WhereArgs;
use enduse::{Point, Result, WhereAsk};

pub fn run(a: WhereArgs, ctx: &mut Ctx) -> Result<i32> {
    let ask = WhereAsk {
        at: Point::Text(a.point),
        as_of: a.as_of,
    };
    // A bad point is refused before the register is read.
    ask.at.latlon()?;
    let snapshot = ctx.snapshot()?;
    let report = snapshot.locate(&ask, ctx.today())?;
    ctx.emit(&report, crate::render::location);
    Ok(0)
}
