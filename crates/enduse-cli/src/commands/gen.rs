//! `enduse gen`: a synthetic data set.

use super::Ctx;
use crate::args::GenArgs;
use enduse::Result;

pub fn run(a: GenArgs, ctx: &mut Ctx) -> Result<i32> {
    let spec = enduse::gen::GenSpec {
        parties: a.parties,
        models: a.models,
        transfers: a.transfers,
        policies: a.policies,
        seed: a.seed,
    };
    let bar = crate::progress::Bar::new("generating", ctx.json());
    let report = enduse::gen::generate(&a.out, spec, &|d, t| bar.set(d, t))?;
    bar.finish();
    ctx.emit(&report, crate::render::generated);
    Ok(0)
}
