//! Runs the server, for the schemathesis script and the benchmarks, until
//! the CLI's `enduse serve` calls the library:
//!
//! ```text
//! cargo run --release -p enduse-server --example serve -- \
//!     [--db TARGET [--init] [--user ID]] [--listen 127.0.0.1:8080] [--private] \
//!     [--token USER:TOKEN]... [--today YYYY-MM-DD] [--no-log]
//! ```
//!
//! `--init` loads the bundled data set into an empty database first;
//! `--user ID` adds a user of the database with every role (party UA,
//! member of US:SecDef) and prints `token: eu_...` to standard error;
//! `--token` lets USER do everything with TOKEN instead of the database's
//! tokens (a test token, kept in memory); `--today` pins the clock;
//! `--no-log` does not log decisions in the audit log.

use enduse_server::{ServeOptions, ServerError, StaticTokens};

/// The allocator of `enduse serve`, so that the benchmarks and the
/// schemathesis run measure the server as it ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;

fn usage(msg: &str) -> ServerError {
    ServerError::Internal(format!(
        "{msg}\nusage: serve [--db TARGET [--init] [--user ID]] [--listen ADDR] [--private] [--token USER:TOKEN]... [--today YYYY-MM-DD] [--no-log]"
    ))
}

fn main() -> miette::Result<()> {
    run().map_err(miette::Report::new)
}

fn run() -> Result<(), ServerError> {
    let mut opts = ServeOptions::default();
    let mut tokens = StaticTokens::new();
    let mut any_token = false;
    let mut init = false;
    let mut user: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--db" => opts.db = Some(value()?),
            "--init" => init = true,
            "--no-log" => opts.log_decisions = false,
            "--user" => user = Some(value()?),
            "--listen" => {
                let v = value()?;
                opts.listen = v
                    .parse()
                    .map_err(|_| usage(&format!("bad address `{v}`")))?;
            }
            "--private" => opts.private = true,
            "--token" => {
                let v = value()?;
                let (user, token) = v
                    .split_once(':')
                    .ok_or_else(|| usage("--token takes USER:TOKEN"))?;
                tokens = tokens.with(user, token, &["*"]);
                any_token = true;
            }
            "--today" => {
                let v = value()?;
                let day = chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                    .map_err(|_| usage(&format!("bad day `{v}`")))?;
                opts.clock = enduse::Clock::fixed_day(day);
            }
            other => return Err(usage(&format!("unknown argument `{other}`"))),
        }
    }
    if any_token {
        opts.authenticator = Some(Arc::new(tokens));
    }
    if init {
        let db = opts.db.clone().ok_or_else(|| usage("--init needs --db"))?;
        let mut reg = enduse::Register::open(&db)?;
        if reg.log()?.transactions.is_empty() {
            reg.init(&mut |_, _, _| {})?;
        }
    }
    if let Some(id) = user {
        let db = opts.db.clone().ok_or_else(|| usage("--user needs --db"))?;
        let mut wf = enduse::Workflow::open(&db)?.with_clock(opts.clock.clone());
        let op = enduse::Principal::Operator;
        if wf.user(&id).is_err() {
            wf.add_user(
                &op,
                &enduse::NewUser {
                    id: id.clone(),
                    name: None,
                    party: Some("UA".into()),
                    roles: enduse::UserRole::ALL.to_vec(),
                    authorities: vec![enduse::Delegation::new("US:SecDef")],
                },
            )?;
        }
        let t = wf.create_token(&op, &id, None, Some("serve example"))?;
        eprintln!("token: {}", t.token);
    }
    enduse_server::serve_blocking(opts)
}
