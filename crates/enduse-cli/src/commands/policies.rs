//! `enduse policies`: a party's rules in force on a day.

use super::Ctx;
use crate::args::PoliciesArgs;
use enduse::{PoliciesAsk, Result};

pub fn run(a: PoliciesArgs, ctx: &mut Ctx) -> Result<i32> {
    let ask = PoliciesAsk {
        party: a.party,
        as_of: a.as_of,
        known_at: a.known_at,
    };
    let snapshot = ctx.snapshot()?;
    let report = snapshot.policies(&ask, ctx.today())?;
    ctx.warn(&report.warnings);
    ctx.emit(&report, crate::render::policies);
    Ok(0)
}
