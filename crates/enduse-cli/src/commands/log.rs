//! `enduse log`: every transaction of the database.

use super::Ctx;
use enduse::{Register, Result};

pub fn run(ctx: &mut Ctx) -> Result<i32> {
    let mut register = Register::open_read_only(&ctx.db_target())?;
    let report = register.log()?;
    ctx.emit(&report, crate::render::log);
    Ok(0)
}
