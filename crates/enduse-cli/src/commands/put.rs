//! `enduse put KIND --file FILE`: a new version of one record.

use super::Ctx;
use crate::args::PutArgs;
use enduse::{Error, PutRequest, Register, Result};

pub fn run(a: PutArgs, ctx: &mut Ctx) -> Result<i32> {
    let text = std::fs::read_to_string(&a.file).map_err(|e| Error::io("read", &a.file, &e))?;
    let mut register = Register::open_existing(&ctx.db_target())?.with_clock(ctx.clock.clone());
    let report = register.put(&PutRequest {
        kind: a.kind,
        file: a.file.display().to_string(),
        text,
        owner: a.owner,
        expect_version: a.expect_version,
    })?;
    ctx.emit(&report, crate::render::edited);
    Ok(0)
}
