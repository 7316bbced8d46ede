//! `enduse check`: decide a request (or a file of them).

use super::Ctx;
use crate::args::{CheckArgs, CommonArgs};
use enduse::{Ask, Error, Point, Result};
use std::io::BufRead;

/// The request the options make.
pub fn ask(actor: String, action: String, c: CommonArgs) -> Ask {
    Ask {
        actor,
        action,
        model: c.item.model,
        lot: c.item.lot,
        as_of: c.as_of,
        known_at: c.known_at,
        approvals: c.approval,
        status: c.status,
        ..Ask::default()
    }
}

pub fn run(a: CheckArgs, ctx: &mut Ctx) -> Result<i32> {
    if let Some(file) = a.batch.clone() {
        return batch(&file, a, ctx);
    }
    let (Some(actor), Some(action)) = (a.actor, a.action) else {
        return Err(Error::bad_request(
            "enduse::usage",
            "give --actor and --action (or --batch FILE)",
            "",
        ));
    };
    let mut ask = ask(actor, action, a.common);
    ask.place = a.place;
    ask.at = a.at.map(Point::Text);
    ask.recipient = a.recipient;
    ask.target_class = a.target_class;
    ask.purpose = a.purpose;
    ask.destination = a.destination;
    ask.border_distance_km = a.border_distance_km;
    let snapshot = ctx.snapshot()?;
    let today = ctx.today();
    let report = if a.explain {
        snapshot.explain(&ask, today)?
    } else {
        snapshot.check(&ask, today)?
    };
    ctx.warn(&report.warnings);
    let color = ctx.color;
    ctx.emit(&report, |r| crate::render::decision(r, color));
    Ok(report.outcome().exit_code())
}

/// `check --batch FILE`: one JSON request per line in, one JSON decision
/// (or `{"line": N, "error": {...}}`) per line out. Exits 0 when every line
/// was decided, 1 when any was refused.
fn batch(file: &std::path::Path, a: CheckArgs, ctx: &mut Ctx) -> Result<i32> {
    let c = &a.common;
    let given = a.actor.is_some()
        || a.action.is_some()
        || c.item.model.is_some()
        || c.item.lot.is_some()
        || c.as_of.is_some()
        || c.known_at.is_some()
        || !c.approval.is_empty()
        || c.status.is_some()
        || a.place.is_some()
        || a.at.is_some()
        || a.recipient.is_some()
        || a.target_class.is_some()
        || a.purpose.is_some()
        || a.destination.is_some()
        || a.border_distance_km.is_some();
    if given {
        return Err(Error::bad_request(
            "enduse::usage",
            "give the requests in the --batch file or on the command line, not both",
            "each line of the file is one request, e.g. {\"actor\": \"UA\", \"action\": \"use\", \"model\": \"ATACMS\", \"place\": \"RU-KRS\", \"as_of\": \"2024-09-11\"}",
        ));
    }
    let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).map_err(|e| Error::io("read", file, &e))?,
        ))
    };
    let snapshot = ctx.snapshot()?;
    let today = ctx.today();
    let mut refused = false;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io("read", file, &e))?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = serde_json::from_str::<Ask>(&line)
            .map_err(|e| {
                Error::bad_request(
                    "enduse::bad_request_line",
                    format!(
                        "line {} is not a request: {}",
                        i + 1,
                        enduse::cut(&e.to_string())
                    ),
                    "each line is one JSON object with the fields of `check`'s options: actor, action, model, lot, place, at, recipient, ..., as_of, known_at, approvals",
                )
            })
            .and_then(|ask| {
                if a.explain {
                    snapshot.explain(&ask, today)
                } else {
                    snapshot.check(&ask, today)
                }
            });
        let value = match answer {
            Ok(report) => serde_json::to_value(&report).unwrap_or_default(),
            Err(e) => {
                refused = true;
                let mut v = e.to_json();
                v["line"] = serde_json::json!(i + 1);
                v
            }
        };
        ctx.print(&format!("{value}\n"));
    }
    Ok(i32::from(refused))
}
