//! The state every handler shares: the current snapshot of the register
//! (swapped atomically when a write lands, here or through another server on
//! the same database), the database handles (for register writes, for the
//! workflow and the audit log, for reading snapshots, for appending
//! decisions), the clock, the authenticator and the limits.

use crate::auth::{ApiAction, Authenticator, NoTokens, WorkflowAuth};
use crate::decision_log::DecisionLog;
use crate::error::{Result, ServerError};
use crate::ServeOptions;
use arc_swap::ArcSwapOption;
use enduse::{Clock, Principal, Register, RegisterSource, Snapshot, Workflow};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The limits of the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub request_timeout: Duration,
    pub write_timeout: Duration,
}

/// What every handler shares. Build it with [`AppState::open`] and give it
/// to [`crate::router`].
pub struct AppState {
    snapshot: ArcSwapOption<Snapshot>,
    register: Option<Mutex<Register>>,
    /// Reads the register's snapshots (polled), on a connection of its own.
    reader: Option<Mutex<Workflow>>,
    /// Users, tokens, requests, the audit log's reads.
    workflow: Option<Arc<Mutex<Workflow>>>,
    /// Appends the decisions answered.
    pub(crate) log: Option<DecisionLog>,
    target: Option<String>,
    public_name: String,
    pub(crate) clock: Clock,
    pub(crate) private: bool,
    auth: Arc<dyn Authenticator>,
    pub(crate) limits: Limits,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("register", &self.public_name)
            .field("txn", &self.txn())
            .field("private", &self.private)
            .finish()
    }
}

/// The name a response gives the database: never a connection string or a
/// directory, which may carry a password or show the server's layout.
fn public_name(target: &str) -> String {
    if target == "memory:" {
        return "memory".into();
    }
    let is_pg = target.starts_with("postgres://")
        || target.starts_with("postgresql://")
        || target.contains("dbname=")
        || target.contains("host=");
    if is_pg {
        return "postgres".into();
    }
    std::path::Path::new(target)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "database".into())
}

impl AppState {
    /// Opens the register `opts` names (the database, or the bundled data
    /// set), reads its snapshot and prepares the geography, so that the first
    /// request is answered as fast as the others. Blocking.
    pub fn open(opts: &ServeOptions) -> Result<Arc<AppState>> {
        let Some(target) = &opts.db else {
            if opts.private && opts.authenticator.is_none() {
                return Err(ServerError::bad_request(
                    "enduse::server::private_without_users",
                    "a private server needs users: give a database (--db), whose users and tokens read it",
                    "",
                ));
            }
            let snapshot = RegisterSource::Bundled.snapshot()?;
            warm_up(&snapshot, &opts.clock);
            return Ok(Arc::new(AppState {
                snapshot: ArcSwapOption::new(Some(snapshot)),
                register: None,
                reader: None,
                workflow: None,
                log: None,
                public_name: enduse::BUNDLED_NAME.to_owned(),
                target: None,
                clock: opts.clock.clone(),
                private: opts.private,
                auth: opts
                    .authenticator
                    .clone()
                    .unwrap_or_else(|| Arc::new(NoTokens)),
                limits: Limits {
                    request_timeout: opts.request_timeout,
                    write_timeout: opts.write_timeout,
                },
            }));
        };
        let register = Register::open_existing(target)?.with_clock(opts.clock.clone());
        let open_workflow = || -> Result<Workflow> {
            let wf = Workflow::open(target)?.with_clock(opts.clock.clone());
            Ok(match &opts.policies {
                Some(p) => wf.with_policies(p.clone()),
                None => wf,
            })
        };
        let mut reader = open_workflow()?;
        let workflow = Arc::new(Mutex::new(open_workflow()?));
        let snapshot = match reader.snapshot() {
            Ok(s) => Some(s),
            // An empty database is served: an import fills it.
            Err(e) if e.code() == "enduse::no_register" => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(s) = &snapshot {
            warm_up(s, &opts.clock);
        }
        let log = if opts.log_decisions {
            Some(DecisionLog::start(target)?)
        } else {
            None
        };
        Ok(Arc::new(AppState {
            snapshot: ArcSwapOption::new(snapshot),
            register: Some(Mutex::new(register)),
            reader: Some(Mutex::new(reader)),
            auth: opts
                .authenticator
                .clone()
                .unwrap_or_else(|| Arc::new(WorkflowAuth::new(workflow.clone()))),
            workflow: Some(workflow),
            log,
            public_name: public_name(target),
            target: Some(target.clone()),
            clock: opts.clock.clone(),
            private: opts.private,
            limits: Limits {
                request_timeout: opts.request_timeout,
                write_timeout: opts.write_timeout,
            },
        }))
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Result<Arc<Snapshot>> {
        self.snapshot.load_full().ok_or_else(|| {
            enduse::Error::not_found(
                "enduse::no_register",
                "the server's database holds no register yet",
                "import a data set with POST /v1/import",
            )
            .into()
        })
    }

    /// The transaction the current snapshot was read at (`None` for a data
    /// set or an empty database).
    pub fn txn(&self) -> Option<i64> {
        self.snapshot.load().as_ref().and_then(|s| s.origin().txn)
    }

    /// Where the register comes from: `bundled` or `database`.
    pub fn source(&self) -> &'static str {
        if self.register.is_some() {
            "database"
        } else {
            "bundled"
        }
    }

    /// The database's public name (a SQLite file's name, `postgres`), or
    /// the bundled data set's name.
    pub fn name(&self) -> &str {
        &self.public_name
    }

    /// Whether the server has a database (writes, history, log).
    pub fn has_database(&self) -> bool {
        self.register.is_some()
    }

    fn no_database(&self) -> ServerError {
        enduse::Error::not_found(
            "enduse::no_database",
            format!(
                "this server reads the data set `{}` and has no database: records, the log, the workflow and writes need a server started with a database",
                self.public_name
            ),
            "start the server with --db TARGET",
        )
        .into()
    }

    /// The database, locked. Blocking.
    pub(crate) fn register(&self) -> Result<MutexGuard<'_, Register>> {
        let Some(m) = &self.register else {
            return Err(self.no_database());
        };
        m.lock()
            .map_err(|_| ServerError::Internal("a write failed half-way in another request".into()))
    }

    /// The workflow (users, tokens, requests, the audit log), locked.
    /// Blocking.
    pub(crate) fn workflow(&self) -> Result<MutexGuard<'_, Workflow>> {
        let Some(m) = &self.workflow else {
            return Err(self.no_database());
        };
        m.lock().map_err(|_| {
            ServerError::Internal("a workflow action failed half-way in another request".into())
        })
    }

    /// Reads the database's latest snapshot and makes it current if it is
    /// newer. Returns whether it changed. Blocking.
    pub fn refresh(&self) -> Result<bool> {
        let Some(reader) = &self.reader else {
            return Ok(false);
        };
        let fresh = {
            let mut wf = reader
                .lock()
                .map_err(|_| ServerError::Internal("a snapshot read failed".into()))?;
            match wf.snapshot() {
                Ok(s) => s,
                Err(e) if e.code() == "enduse::no_register" => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        };
        let fresh_txn = fresh.origin().txn;
        let newer =
            |cur: &Option<Arc<Snapshot>>| cur.as_ref().is_none_or(|c| c.origin().txn < fresh_txn);
        if !newer(&self.snapshot.load()) {
            return Ok(false);
        }
        warm_up(&fresh, &self.clock);
        // Only ever forward: a poll that read an older snapshot than a
        // write of this server stored meanwhile does not undo it.
        let mut changed = false;
        self.snapshot.rcu(|cur| {
            changed = newer(cur);
            if changed {
                Some(fresh.clone())
            } else {
                cur.clone()
            }
        });
        Ok(changed)
    }

    /// Replaces the database's name in text shown to a client.
    pub(crate) fn redact(&self, s: &str) -> String {
        match &self.target {
            Some(t) if !t.is_empty() && t != &self.public_name => {
                s.replace(t.as_str(), &self.public_name)
            }
            _ => s.to_owned(),
        }
    }

    /// Who sends `authorization`. Blocking.
    pub(crate) fn authenticate(&self, authorization: Option<&str>) -> Result<Principal> {
        Ok(self.auth.authenticate(authorization)?)
    }

    /// 401 or 403 unless `who` may do `action`. Blocking.
    pub(crate) fn authorize(&self, who: &Principal, action: &ApiAction) -> Result<()> {
        Ok(self.auth.authorize(who, action, self.private)?)
    }

    /// The problem document of `e` as this server shows it: the database's
    /// connection string and any of `hide` taken out of its text.
    pub(crate) fn problem(&self, e: &ServerError, hide: &[&str]) -> crate::error::Problem {
        let mut p = e.problem();
        let fix = |s: &str| -> String {
            let mut s = self.redact(s);
            for h in hide {
                if !h.is_empty() {
                    s = s.replace(h, "");
                }
            }
            s
        };
        let detail = fix(&p.detail);
        p.detail = detail;
        p.help = p.help.as_deref().map(fix);
        for v in &mut p.problems {
            redact_json(v, &fix);
        }
        p
    }

    /// `e` as this server shows it (see [`AppState::problem`]).
    pub(crate) fn shown(&self, e: ServerError, hide: &[&str]) -> ServerError {
        if e.is_internal() {
            return e;
        }
        ServerError::Shown(Box::new(self.problem(&e, hide)))
    }
}

fn redact_json(v: &mut serde_json::Value, fix: &dyn Fn(&str) -> String) {
    match v {
        serde_json::Value::String(s) => *s = fix(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, fix)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| redact_json(x, fix)),
        _ => {}
    }
}

impl Drop for AppState {
    fn drop(&mut self) {
        // A PostgreSQL client runs a runtime of its own, which must not be
        // dropped on a thread of the server's runtime.
        let handles = (
            self.register.take(),
            self.reader.take(),
            self.workflow.take(),
            self.log.take(),
        );
        let _ = std::thread::Builder::new()
            .name("enduse-close".into())
            .spawn(move || drop(handles));
    }
}

/// Parses what a first decision at a point would otherwise parse: the
/// boundaries, the control layer and the named areas.
fn warm_up(s: &Snapshot, clock: &Clock) {
    let ask = enduse::WhereAsk {
        at: enduse::Point::LatLon {
            lat: 50.45,
            lon: 30.52,
        },
        as_of: None,
    };
    let _ = s.locate(&ask, clock.today());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_names_hide_connection_strings() {
        assert_eq!(
            public_name("host=/tmp/x port=5 user=u password=p dbname=d"),
            "postgres"
        );
        assert_eq!(public_name("postgres://u:p@h/d"), "postgres");
        assert_eq!(public_name("/srv/data/enduse.db"), "enduse.db");
    }
}
