//! `enduse consent-chain`: the parties whose conditions bind an item.

use super::Ctx;
use crate::args::ChainArgs;
use enduse::{ChainAsk, ItemAsk, Result};

pub fn run(a: ChainArgs, ctx: &mut Ctx) -> Result<i32> {
    let ask = ChainAsk {
        actor: a.actor,
        item: ItemAsk {
            model: a.item.model,
            lot: a.item.lot,
        },
        as_of: a.as_of,
    };
    let snapshot = ctx.snapshot()?;
    let report = snapshot.consent_chain(&ask, ctx.today())?;
    ctx.warn(&report.warnings);
    ctx.emit(&report, crate::render::chain);
    Ok(0)
}
