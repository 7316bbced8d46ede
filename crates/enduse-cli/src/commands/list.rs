//! `enduse list`: what the register holds, with the codes every option
//! takes.

use super::Ctx;
use crate::args::ListArgs;
use enduse::Result;

pub fn run(a: ListArgs, ctx: &mut Ctx) -> Result<i32> {
    let snapshot = ctx.snapshot()?;
    let report = snapshot.list(a.what.as_str(), a.search.as_deref())?;
    ctx.emit(&report, crate::render::list);
    Ok(0)
}
