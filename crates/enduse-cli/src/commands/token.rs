//! `enduse token create|list|revoke`: bearer tokens, as the operator.

use super::Ctx;
use crate::args::TokenCommand;
use enduse::{Principal, Result};

/// A day (00:00 UTC) or an RFC 3339 instant; the help names the option.
fn expiry(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    enduse::parse_expiry(s).map_err(|e| {
        e.with_help("give --expires YYYY-MM-DD or an RFC 3339 instant (2026-12-31T12:00:00Z)")
    })
}

pub fn run(c: TokenCommand, ctx: &mut Ctx) -> Result<i32> {
    let mut wf = ctx.workflow()?;
    let op = Principal::Operator;
    match c {
        TokenCommand::Create(a) => {
            let expires = a.expires.as_deref().map(expiry).transpose()?;
            let t = wf.create_token(&op, &a.user, expires, a.label.as_deref())?;
            ctx.emit(&t, |t| {
                format!(
                    "{}\ntoken {} for `{}`, expires {}; it is shown only now\n",
                    t.token, t.id, t.user, t.expires
                )
            });
        }
        TokenCommand::List(a) => {
            let tokens = wf.tokens(&op, a.user.as_deref())?;
            ctx.emit(&tokens, |ts| crate::render::tokens(ts));
        }
        TokenCommand::Revoke(a) => {
            let t = wf.revoke_token(&op, &a.id)?;
            ctx.emit(&t, |t| format!("revoked token {} of `{}`\n", t.id, t.user));
        }
    }
    Ok(0)
}
