//! `enduse`: decide whether a party may use, deploy, transfer or re-export an
//! item under the conditions of every party that binds it.
//!
//! Exit codes: 0 permit (or success), 1 error (bad input included), 2 forbid,
//! 3 needs approval, 4 indeterminate.

mod cli;
mod db;
mod gen;
mod map;
mod progress;
mod render;

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = cli::run(
        std::env::args_os().collect(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
