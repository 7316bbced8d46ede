//! `enduse request file|list|show|review|withdraw --as USER`: the approval
//! workflow, as a user of the database.

use super::Ctx;
use crate::args::{RequestCommand, RequestFileArgs, VerdictArg};
use enduse::{
    Ask, Error, Point, Principal, RequestInput, RequestQuery, RequestStatus, Result, ReviewInput,
    Verdict, Window, WithdrawInput,
};

fn day(option: &str, s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        Error::bad_request(
            "enduse::usage",
            format!("{option} `{}` is not a day", enduse::cut(s)),
            "give a day as YYYY-MM-DD",
        )
    })
}

/// The ask: the --ask file, or the options (the actor defaulting to the
/// user's party).
fn ask(a: &RequestFileArgs, who: &Principal) -> Result<Ask> {
    if let Some(f) = &a.ask {
        let text = std::fs::read_to_string(f).map_err(|e| Error::io("read", f, &e))?;
        return serde_json::from_str(&text).map_err(|e| {
            Error::bad_request(
                "enduse::bad_ask_file",
                format!(
                    "`{}` is not a request: {}",
                    f.display(),
                    enduse::cut(&e.to_string())
                ),
                "the file is one JSON object with the fields of `check`'s options: actor, action, model, place, at, ...",
            )
        });
    }
    let party = match who {
        Principal::User(u) => u.party.clone(),
        _ => None,
    };
    let Some(actor) = a.actor.clone().or(party) else {
        return Err(Error::bad_request(
            "enduse::usage",
            "give --actor: the user acts for no party",
            "",
        ));
    };
    Ok(Ask {
        actor,
        action: a.action.clone().unwrap_or_default(),
        model: a.model.clone(),
        lot: a.lot.clone(),
        place: a.place.clone(),
        at: a.at.clone().map(Point::Text),
        recipient: a.recipient.clone(),
        target_class: a.target_class.clone(),
        purpose: a.purpose.clone(),
        destination: a.destination.clone(),
        border_distance_km: a.border_distance_km,
        ..Ask::default()
    })
}

pub fn run(c: RequestCommand, ctx: &mut Ctx) -> Result<i32> {
    let mut wf = ctx.workflow()?;
    match c {
        RequestCommand::File(a) => {
            let by = wf.act_as(&a.who.user)?;
            let input = RequestInput {
                ask: ask(&a, &by)?,
                window: Window {
                    from: day("--from", &a.from)?,
                    to: day("--to", &a.to)?,
                },
                justification: a.justification,
            };
            let view = wf.file(&by, &input)?;
            ctx.emit(&view, |v| format!("filed {}", crate::render::request(v)));
        }
        RequestCommand::List(a) => {
            let by = wf.act_as(&a.who.user)?;
            let q = RequestQuery {
                authority: a.authority,
                status: a.status.as_deref().map(RequestStatus::parse).transpose()?,
                party: a.party,
                requester: a.requester,
            };
            let views = wf.list(&by, &q)?;
            ctx.emit(&views, |vs| crate::render::requests(vs));
        }
        RequestCommand::Show(a) => {
            let by = wf.act_as(&a.who.user)?;
            let view = wf.show(&by, &a.id)?;
            ctx.emit(&view, crate::render::request);
        }
        RequestCommand::Review(a) => {
            let by = wf.act_as(&a.who.user)?;
            let input = ReviewInput {
                verdict: match a.verdict {
                    VerdictArg::Approve => Verdict::Approve,
                    VerdictArg::Refuse => Verdict::Refuse,
                },
                reason: a.reason,
                authority: a.authority,
                expect_version: a.expect_version,
            };
            let view = wf.review(&by, &a.id, &input)?;
            ctx.emit(&view, |v| format!("reviewed {}", crate::render::request(v)));
        }
        RequestCommand::Withdraw(a) => {
            let by = wf.act_as(&a.who.user)?;
            let input = WithdrawInput {
                reason: a.reason,
                expect_version: a.expect_version,
            };
            let view = wf.withdraw(&by, &a.id, &input)?;
            ctx.emit(&view, |v| format!("withdrew {}", crate::render::request(v)));
        }
    }
    Ok(0)
}
