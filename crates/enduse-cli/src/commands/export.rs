//! `enduse export DIR`: the database's register as a data-set directory.

use super::Ctx;
use crate::args::DirArg;
use enduse::{Register, Result};

pub fn run(a: DirArg, ctx: &mut Ctx) -> Result<i32> {
    let at = ctx.db_as_of()?;
    let mut register = Register::open_read_only(&ctx.db_target())?.with_hooks(ctx.hooks.clone());
    let report = register.export(&a.dir, at)?;
    ctx.emit(&report, crate::render::exported);
    Ok(0)
}
