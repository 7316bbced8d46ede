//! `enduse user add|list|disable`: the database's users, as its operator.

use super::Ctx;
use crate::args::UserCommand;
use enduse::{Delegation, NewUser, Principal, Result, UserRole};

pub fn run(c: UserCommand, ctx: &mut Ctx) -> Result<i32> {
    let mut wf = ctx.workflow()?;
    let op = Principal::Operator;
    match c {
        UserCommand::Add(a) => {
            let roles = a
                .role
                .iter()
                .map(|r| UserRole::parse(r.as_str()))
                .collect::<Result<Vec<_>>>()?;
            let user = wf.add_user(
                &op,
                &NewUser {
                    id: a.id,
                    name: a.name,
                    party: a.party,
                    roles,
                    authorities: a.authority.iter().map(|x| Delegation::new(x)).collect(),
                },
            )?;
            ctx.emit(&user, |u| format!("added {}", crate::render::user(u)));
        }
        UserCommand::List => {
            let users = wf.users()?;
            ctx.emit(&users, |us| crate::render::users(us));
        }
        UserCommand::Disable(a) => {
            let user = wf.set_disabled(&op, &a.id, true, None)?;
            ctx.emit(&user, |u| format!("disabled {}", crate::render::user(u)));
        }
    }
    Ok(0)
}
