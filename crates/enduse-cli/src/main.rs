//! `enduse`: decide whether a party may use, deploy, transfer or re-export an
//! item under the conditions of every party that binds it.
//!
//! The binary parses arguments (`args.rs`), runs one command (`commands/`)
//! through the `enduse` library, and renders its report as text
//! (`render.rs`) or JSON. It reaches the engine and the store only through
//! the library.
//!
//! Exit codes: 0 permit (or success), 1 error (bad input included), 2 forbid,
//! 3 needs approval, 4 indeterminate.

/// mimalloc, not the system allocator: an import of a million transfers
/// frees a validated register on one thread while another builds the image,
/// and glibc's per-thread arenas kept both in memory (peak 3.4 GB against
/// 2.8 GB with one arena); mimalloc reuses and returns freed pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod args;
mod commands;
mod progress;
mod render;

use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let code = run(
        std::env::args_os().collect(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The version line: the program's, and the bundled data set's (name,
/// latest source, rules, digest of its files).
fn version() -> &'static str {
    let v = format!(
        "{}\ndata set: {}",
        env!("CARGO_PKG_VERSION"),
        enduse::bundled_data_version()
    );
    Box::leak(v.into_boxed_str())
}

/// Whether `args` (before any `--`) ask for `flag`.
fn has_flag(args: &[OsString], flags: &[&str]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| flags.iter().any(|f| a == f))
}

/// Runs the CLI with `args`, writing to `out` and `err`; returns the exit code.
pub fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let json = has_flag(&args, &["--json"]);
    let mut cmd = args::Cli::command();
    cmd = if has_flag(&args, &["--version", "-V"]) {
        cmd.version(version())
    } else {
        cmd.version(env!("CARGO_PKG_VERSION"))
    };
    let parsed = cmd
        .try_get_matches_from(args)
        .and_then(|m| args::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => return render::clap_error(&e, json, out, err),
    };
    let mut ctx = commands::Ctx::new(cli.global, out, err);
    let code = match commands::run(cli.command, &mut ctx) {
        Ok(code) => code,
        Err(e) => {
            let e = render::in_cli_terms(e);
            if ctx.json() {
                let _ = ctx.out.write_all(render::error_json(&e).as_bytes());
            } else {
                let report = miette::Report::new(e);
                let _ = writeln!(ctx.err, "{report:?}");
            }
            1
        }
    };
    ctx.finish();
    code
}
