//! `enduse init`: a database with the bundled data set.

use super::Ctx;
use enduse::{Register, Result};

pub fn run(ctx: &mut Ctx) -> Result<i32> {
    let mut register = Register::open(&ctx.db_target())?
        .with_clock(ctx.clock.clone())
        .with_hooks(ctx.hooks.clone());
    let bar = crate::progress::Bar::new("comparing", ctx.json());
    let report = register.init(&mut |p, d, t| {
        bar.message(p);
        bar.set(d, t);
    })?;
    bar.finish();
    ctx.emit(&report, crate::render::imported);
    Ok(0)
}
