//! `enduse history KIND KEY`: every version of one record.

use super::Ctx;
use crate::args::HistoryArgs;
use enduse::{Error, Register, Result};

pub fn run(a: HistoryArgs, ctx: &mut Ctx) -> Result<i32> {
    let (kind, key) = match (a.policy, a.kind, a.key) {
        (Some(p), _, _) => ("policy".to_owned(), p),
        (None, Some(k), Some(key)) => (k, key),
        _ => {
            return Err(Error::bad_request(
                "enduse::usage",
                "give KIND KEY or --policy ID",
                "",
            ))
        }
    };
    let mut register = Register::open_read_only(&ctx.db_target())?;
    let report = register.history(&kind, &key)?;
    ctx.emit(&report, crate::render::history);
    Ok(0)
}
