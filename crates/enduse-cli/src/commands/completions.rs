//! `enduse completions SHELL`.

use super::Ctx;
use crate::args::{CompletionsArgs, Shell};
use clap::CommandFactory;
use enduse::Result;

pub fn run(a: CompletionsArgs, ctx: &mut Ctx) -> Result<i32> {
    let shell = match a.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = crate::args::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "enduse", &mut buf);
    let _ = ctx.out.write_all(&buf);
    Ok(0)
}
