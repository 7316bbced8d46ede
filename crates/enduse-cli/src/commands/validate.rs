//! `enduse validate DIR`.

use super::Ctx;
use crate::args::ValidateArgs;
use enduse::Result;

pub fn run(a: ValidateArgs, ctx: &mut Ctx) -> Result<i32> {
    let report = enduse::validate_dir(&a.dir)?;
    ctx.emit(&report, crate::render::validated);
    Ok(0)
}
