//! `enduse quorum set AUTHORITY N`, as the operator.

use super::Ctx;
use crate::args::QuorumCommand;
use enduse::{Principal, Result};

pub fn run(c: QuorumCommand, ctx: &mut Ctx) -> Result<i32> {
    let mut wf = ctx.workflow()?;
    match c {
        QuorumCommand::Set(a) => {
            let n = wf.set_quorum(&Principal::Operator, &a.authority, a.approvals)?;
            let report = serde_json::json!({"authority": a.authority, "approvals": n});
            ctx.emit(&report, |_| {
                format!(
                    "{} now requires {n} approval{} of requests filed from now on\n",
                    a.authority,
                    if n == 1 { "" } else { "s" }
                )
            });
        }
    }
    Ok(0)
}
