//! One file per command. Each turns its arguments into a request of the
//! `enduse` library and renders the report it gets back.

mod audit;
mod check;
mod completions;
mod consent_chain;
mod export;
mod gen;
mod history;
mod import;
mod init;
mod list;
mod log;
mod man;
mod map;
mod policies;
mod put;
mod quorum;
mod request;
mod retract;
mod serve;
mod timeline;
mod token;
mod user;
mod validate;
mod where_;

use crate::args::{Command, Global};
use enduse::{Clock, Error, Hooks, RegisterSource, Result, Snapshot};
use std::io::Write;
use std::sync::Arc;

/// What every command needs: the global options, the outputs, the clock and
/// the hooks.
pub struct Ctx<'a> {
    /// The global options.
    pub global: Global,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// The clock (the system's; in a test build, `ENDUSE_TODAY`'s).
    pub clock: Clock,
    /// The hooks (none; in a test build, those the environment asks for).
    pub hooks: Hooks,
    /// Whether verdicts are coloured: standard output is a terminal (or
    /// CLICOLOR_FORCE is set) and NO_COLOR is not.
    pub color: bool,
    /// Registers kept to the end of the process: freeing a large one at exit
    /// only costs time.
    kept: Vec<Arc<Snapshot>>,
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

impl<'a> Ctx<'a> {
    /// A context for one command.
    pub fn new(global: Global, out: &'a mut dyn Write, err: &'a mut dyn Write) -> Self {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let color = !global.json
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && (terminal || env_set("CLICOLOR_FORCE"));
        Ctx {
            global,
            out,
            err,
            clock: Clock::from_process(),
            hooks: Hooks::from_process(),
            color,
            kept: Vec::new(),
        }
    }

    /// Whether the output is JSON.
    pub fn json(&self) -> bool {
        self.global.json
    }

    /// Today, by the clock.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    /// Writes `s` to standard output.
    pub fn print(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }

    /// Writes a report as JSON, or its text.
    pub fn emit<T: serde::Serialize>(&mut self, report: &T, text: impl FnOnce(&T) -> String) {
        let s = if self.json() {
            crate::render::json(report)
        } else {
            text(report)
        };
        self.print(&s);
    }

    /// Prints warnings to standard error (text output only: JSON carries
    /// them in the report).
    pub fn warn(&mut self, warnings: &[String]) {
        if self.json() {
            return;
        }
        for w in warnings {
            let _ = writeln!(self.err, "warning: {w}");
        }
    }

    /// The database the database commands use: --db, else ENDUSE_DB, else
    /// ./enduse.db.
    pub fn db_target(&self) -> String {
        self.global
            .db
            .clone()
            .or_else(|| std::env::var("ENDUSE_DB").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| enduse::DEFAULT_DB.to_owned())
    }

    fn db_named(&self) -> bool {
        self.global.db.is_some()
            || self.global.db_as_of.is_some()
            || std::env::var("ENDUSE_DB").is_ok_and(|s| !s.is_empty())
    }

    /// `--db-as-of`, read.
    pub fn db_as_of(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.global
            .db_as_of
            .as_deref()
            .map(enduse::parse_instant)
            .transpose()
    }

    /// Where the deciding commands read the register: --db (read-only),
    /// else --data, else the bundled data set.
    pub fn source(&self) -> Result<RegisterSource> {
        if self.global.data.is_some()
            && (self.global.db.is_some() || self.global.db_as_of.is_some())
        {
            return Err(Error::bad_request(
                "enduse::usage",
                "give --data DIR or --db TARGET, not both: one register answers",
                "",
            ));
        }
        Ok(if let Some(dir) = &self.global.data {
            RegisterSource::Directory(dir.clone())
        } else if self.db_named() {
            RegisterSource::Database {
                target: self.db_target(),
                at: self.db_as_of()?,
            }
        } else {
            RegisterSource::Bundled
        })
    }

    /// The register the deciding commands read, with --control's layer if
    /// given.
    pub fn snapshot(&mut self) -> Result<Arc<Snapshot>> {
        let source = self.source()?;
        if matches!(source, RegisterSource::Database { .. }) {
            steady_pages();
        }
        let s = source.snapshot()?;
        let s = match &self.global.control {
            None => s,
            Some(f) => {
                let text = std::fs::read_to_string(f).map_err(|e| Error::io("read", f, &e))?;
                Arc::new(s.with_control(&f.display().to_string(), &text)?)
            }
        };
        self.kept.push(s.clone());
        Ok(s)
    }

    /// The workflow of the database the database commands use, which must
    /// exist (`enduse init` makes it).
    pub fn workflow(&self) -> Result<enduse::Workflow> {
        let target = self.db_target();
        drop(enduse::Register::open_existing(&target)?);
        Ok(enduse::Workflow::open(&target)?.with_clock(self.clock.clone()))
    }

    /// Ends the command: large registers are not freed.
    pub fn finish(self) {
        std::mem::forget(self.kept);
    }
}

/// Transparent huge pages off for this process, before a database's
/// register (1.4 GB at a million transfers) is decoded. With them, most
/// opens of that register took 0.74-1.0 s but some (often the first after
/// an import) 2.1-2.5 s, nearly all of it the kernel zeroing huge pages;
/// without, every open took 1.27-1.32 s (BENCHMARKS.md, fifth session).
/// Small registers (the bundled one) are read before this is ever called.
fn steady_pages() {
    #[cfg(target_os = "linux")]
    {
        // Only a cost if it fails: the open is then as before.
        let _ = nix::sys::prctl::set_thp_disable(true);
    }
}

/// Runs one command; returns its exit code.
pub fn run(command: Command, ctx: &mut Ctx) -> Result<i32> {
    match command {
        Command::Check(a) => check::run(a, ctx),
        Command::ConsentChain(a) => consent_chain::run(a, ctx),
        Command::Policies(a) => policies::run(a, ctx),
        Command::Timeline(a) => timeline::run(a, ctx),
        Command::List(a) => list::run(a, ctx),
        Command::Validate(a) => validate::run(a, ctx),
        Command::Where(a) => where_::run(a, ctx),
        Command::Map(a) => map::run(a, ctx),
        Command::Gen(a) => gen::run(a, ctx),
        Command::Init => init::run(ctx),
        Command::Import(a) => import::run(a, ctx),
        Command::Export(a) => export::run(a, ctx),
        Command::History(a) => history::run(a, ctx),
        Command::Log => log::run(ctx),
        Command::Put(a) => put::run(a, ctx),
        Command::Retract(a) => retract::run(a, ctx),
        Command::Completions(a) => completions::run(a, ctx),
        Command::Man(a) => man::run(a, ctx),
        Command::Serve(a) => serve::run(a, ctx),
        Command::User(a) => user::run(a, ctx),
        Command::Token(a) => token::run(a, ctx),
        Command::Quorum(a) => quorum::run(a, ctx),
        Command::Request(a) => request::run(a, ctx),
        Command::Audit(a) => audit::run(a, ctx),
    }
}
