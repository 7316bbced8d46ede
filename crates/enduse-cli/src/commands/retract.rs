//! `enduse retract KIND KEY`.

use super::Ctx;
use crate::args::RetractArgs;
use enduse::{Register, Result};

pub fn run(a: RetractArgs, ctx: &mut Ctx) -> Result<i32> {
    let mut register = Register::open_existing(&ctx.db_target())?.with_clock(ctx.clock.clone());
    let report = register.retract(&a.kind, &a.key, a.expect_version)?;
    ctx.emit(&report, crate::render::edited);
    Ok(0)
}
