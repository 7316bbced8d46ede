//! `enduse import DIR`: make the database's register equal to a directory.

use super::Ctx;
use crate::args::ImportArgs;
use enduse::{ImportOptions, PreparedImport, Register, Result};

pub fn run(a: ImportArgs, ctx: &mut Ctx) -> Result<i32> {
    // Read and validate before opening anything, so that a bad directory
    // leaves no empty database behind.
    let spin = crate::progress::Bar::spinner("reading and validating", ctx.json());
    let prepared = PreparedImport::read_dir(&a.dir, &ctx.hooks);
    spin.finish();
    let prepared = prepared?;
    let target = ctx.db_target();
    let register = if a.dry_run {
        Register::open_for_dry_run(&target)?
    } else {
        Register::open(&target)?
    };
    let mut register = register
        .with_clock(ctx.clock.clone())
        .with_hooks(ctx.hooks.clone());
    let bar = crate::progress::Bar::new("comparing", ctx.json());
    let report = register.import(
        prepared,
        ImportOptions {
            dry_run: a.dry_run,
            allow_retract: a.allow_retract,
        },
        &mut |p, d, t| {
            bar.message(p);
            bar.set(d, t);
        },
    )?;
    bar.finish();
    ctx.emit(&report, crate::render::imported);
    Ok(0)
}
