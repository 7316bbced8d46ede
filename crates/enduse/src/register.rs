//! [`Register`]: a handle on a database holding the register, with
//! snapshots cached per transaction, and the writes (init, import, put,
//! retract) and reads (export, history, log) of the database commands.

use crate::clock::{Clock, Hooks};
use crate::error::{cut, Error, ErrorKind, Result};
use crate::reports::{
    instant, EditReport, ExportReport, HistoryReport, ImportReport, LogReport, PlannedChange,
    TxnReport, VersionReport,
};
use crate::snapshot::{ControlSource, Snapshot, SnapshotOrigin};
use chrono::{DateTime, Utc};
use enduse_load::{DataFiles, DataSetError, Record, RecordKind};
use enduse_store::{Change, Expect, MemStore, PgStore, SqliteStore, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The database used when a front end names none.
pub const DEFAULT_DB: &str = "enduse.db";

/// How many snapshots a register keeps (one per transaction).
const CACHED: usize = 4;

/// Parses an instant for `--db-as-of`: RFC 3339, or a day (meaning its last
/// instant, UTC).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_micro_opt(23, 59, 59, 999_999) {
            return Ok(t.and_utc());
        }
    }
    Err(Error::bad_request(
        "enduse::bad_instant",
        format!("--db-as-of `{}` is not an instant", cut(s)),
        "write it in RFC 3339, for example 2026-01-05T10:00:00Z (or a day, YYYY-MM-DD, meaning its last instant in UTC); `enduse log` lists the instants of every transaction",
    ))
}

/// What an import may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Compute the changes and write nothing.
    pub dry_run: bool,
    /// Retract the records the input lacks; without it, an import that
    /// would retract any refuses and writes nothing.
    pub allow_retract: bool,
}

/// A data-set directory read and validated, ready to import.
///
/// A data set is validated as a stream (`enduse_load::stream_records`):
/// its `transfers.toml`, nearly all of a large data set, is read a table
/// at a time and not kept, and is read again, streamed into the database,
/// by the import. Only a data set the stream cannot take (the bundled one,
/// which is small, and the rare one the stream's checks refuse but the
/// loader accepts) is held as records.
pub struct PreparedImport {
    input: Input,
    len: usize,
    note: String,
    dir: String,
}

enum Input {
    /// Validated as a stream; `bulk` is the path of `transfers.toml` when
    /// it was left on disk, `dir` the directory to read again should the
    /// stream refuse it at the import (changed since).
    Streamed {
        files: DataFiles,
        bulk: Option<PathBuf>,
        dir: Option<PathBuf>,
    },
    /// Held whole.
    Held(Vec<Record>),
}

/// The whole data set of a streamed input, `transfers.toml` included: read
/// again from its directory when it was left on disk.
fn whole_files(files: DataFiles, bulk: Option<&Path>, dir: Option<&Path>) -> Result<DataFiles> {
    Ok(match dir {
        Some(d) if bulk.is_some() => DataFiles::read_dir(d)?,
        _ => files,
    })
}

fn open_bulk(path: &Path) -> Result<std::io::BufReader<std::fs::File>> {
    let f = std::fs::File::open(path).map_err(|e| {
        Error::from(DataSetError::Io {
            path: path.display().to_string(),
            message: e.to_string().to_lowercase(),
        })
    })?;
    Ok(std::io::BufReader::with_capacity(1 << 20, f))
}

impl PreparedImport {
    /// Reads and validates `dir` as `enduse validate` does (named areas and
    /// control layer included); touches no database.
    pub fn read_dir(dir: &Path, hooks: &Hooks) -> Result<Self> {
        hooks.phase("validating");
        let (files, bulk) = DataFiles::read_dir_streaming(dir)?;
        Self::validate_streamed(
            files,
            bulk,
            Some(dir.to_path_buf()),
            dir.display().to_string(),
        )
    }

    /// Validates a data set already in memory, as [`PreparedImport::read_dir`]
    /// does a directory: `files` maps each file's name in a data-set
    /// directory (`transfers.toml`, `policies/US.cedar`, `control.json`) to
    /// its text, and `origin` names the whole in messages and in the
    /// import's note. Nothing is written anywhere, not even to a temporary
    /// directory.
    pub fn from_files(
        origin: &str,
        files: std::collections::BTreeMap<String, String>,
        hooks: &Hooks,
    ) -> Result<Self> {
        hooks.phase("validating");
        let files = DataFiles::from_map(origin, files);
        Self::validate_streamed(files, None, None, origin.to_owned())
    }

    fn validate_streamed(
        files: DataFiles,
        bulk: Option<PathBuf>,
        dir: Option<PathBuf>,
        name: String,
    ) -> Result<Self> {
        let mut reader = bulk.as_deref().map(open_bulk).transpose()?;
        let mut len = 0usize;
        let streamed = enduse_load::stream_records::<std::convert::Infallible>(
            &files,
            reader
                .as_mut()
                .map(|r| r as &mut (dyn std::io::BufRead + Send)),
            enduse_load::Held::Unchecked,
            &mut |_| {
                len += 1;
                Ok(())
            },
        );
        drop(reader);
        match streamed {
            Ok(enduse_load::Streamed::Valid(summary)) => {
                crate::geo::check_geography(&files, &summary.register)?;
                Ok(PreparedImport {
                    input: Input::Streamed { files, bulk, dir },
                    len,
                    note: format!("import {name}"),
                    dir: name,
                })
            }
            // The loader names the problems (or, should it accept what the
            // stream refused, the data set is imported held).
            Ok(enduse_load::Streamed::Refused) | Err(_) => {
                Self::validate(&whole_files(files, bulk.as_deref(), dir.as_deref())?, name)
            }
        }
    }

    fn validate(files: &DataFiles, dir: String) -> Result<Self> {
        let (engine, records) = enduse_load::records_from_files(files)?;
        let checked = crate::geo::check_geography(files, engine.register());
        // Freeing a large register takes a while that nobody needs to wait
        // for.
        drop_aside(engine);
        checked?;
        Ok(PreparedImport {
            len: records.len(),
            input: Input::Held(records),
            note: format!("import {dir}"),
            dir,
        })
    }

    /// The bundled data set with the bundled control layer.
    pub fn bundled() -> Result<Self> {
        let mut map: std::collections::BTreeMap<String, String> = enduse_load::bundled_files()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        map.insert(
            enduse_load::CONTROL_FILE.to_owned(),
            enduse_geo::ControlLayer::bundled_json().to_owned(),
        );
        let files = DataFiles::from_map(enduse_load::BUNDLED_NAME, map);
        let records = enduse_store::prepare(&files)?;
        Ok(PreparedImport {
            len: records.len(),
            input: Input::Held(records),
            note: format!("init: bundled {}", enduse_load::BUNDLED_NAME),
            dir: enduse_load::BUNDLED_NAME.into(),
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the import will stream the data set rather than hold it.
    pub fn is_streamed(&self) -> bool {
        matches!(self.input, Input::Streamed { .. })
    }
}

/// One record to write with `put`: its kind, its text (a TOML table, the
/// schema, one Cedar rule, one control area as JSON), the file it came from
/// (named in messages), and the version it replaces.
#[derive(Debug, Clone, Default)]
pub struct PutRequest {
    /// Record kind (`policy`, `party`, ...).
    pub kind: String,
    /// The name of the input, for messages (a file path).
    pub file: String,
    /// The record's text.
    pub text: String,
    /// For a rule: its owner (default: the current owner).
    pub owner: Option<String>,
    /// The version the record is at now (0: it must be new). Required to
    /// replace a record that exists.
    pub expect_version: Option<i64>,
}

/// A database holding the register.
pub struct Register {
    target: String,
    store: Box<dyn Store + Send>,
    cache: Vec<(i64, Arc<Snapshot>)>,
    /// Opened read-only: nothing may be written, not even an image.
    read_only: bool,
    clock: Clock,
    hooks: Hooks,
}

impl std::fmt::Debug for Register {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Register")
            .field("target", &self.target)
            .field("backend", &self.store.backend())
            .finish()
    }
}

fn no_database(path: &str) -> Error {
    Error::not_found(
        "enduse::no_database",
        format!(
            "no database at `{}`: create it with `enduse init --db {path}`, or name another with --db",
            cut(path)
        ),
        "",
    )
}

fn drop_aside<T: Send + 'static>(v: T) {
    let _ = std::thread::Builder::new()
        .name("enduse-drop".into())
        .spawn(move || drop(v));
}

/// `progress`, with the test hooks told of each new phase and of the
/// middle of the writing.
fn hooked<'a>(
    hooks: &'a Hooks,
    progress: &'a mut dyn FnMut(&str, u64, u64),
) -> impl FnMut(&str, u64, u64) + 'a {
    let mut phase = String::new();
    let mut paused = false;
    move |p, d, t| {
        if p != phase {
            phase = p.to_owned();
            hooks.phase(p);
        }
        if p == "writing" && !paused && t > 0 && d * 2 >= t {
            paused = true;
            if let Some(f) = &hooks.halfway_writing {
                f(d, t);
            }
        }
        progress(p, d, t);
    }
}

/// The refusal of an import that would retract `gone` without leave.
fn would_retract(gone: &[String], source: &str) -> Error {
    let shown: Vec<&str> = gone.iter().take(10).map(String::as_str).collect();
    let more = gone.len().saturating_sub(shown.len());
    Error::conflict(
        "enduse::would_retract",
        format!(
            "the import would retract {} record(s) that `{}` lacks: {}{}; nothing was written",
            gone.len(),
            cut(source),
            shown.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        ),
        "give --allow-retract to retract them, or add them to the directory; `enduse import --dry-run DIR` lists every change",
    )
}

fn kind_of(s: &str) -> Result<RecordKind> {
    RecordKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
        Error::bad_request(
            "enduse::unknown_record_kind",
            format!(
                "unknown record kind `{}`: use one of {}",
                cut(s),
                all.join(", ")
            ),
            "",
        )
    })
}

fn policy_owner(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(v.get("owner")?.as_str()?.to_owned())
}

fn policy_cedar(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(v.get("cedar")?.as_str()?.to_owned())
}

impl Register {
    fn with_store(target: &str, store: Box<dyn Store + Send>) -> Self {
        Register {
            target: target.to_owned(),
            store,
            cache: Vec::new(),
            read_only: false,
            clock: Clock::from_process(),
            hooks: Hooks::default(),
        }
    }

    /// Opens `target` for reading and writing: `memory:`, a PostgreSQL URL
    /// or key-value string, or a SQLite file (created if missing; tables are
    /// created or migrated).
    pub fn open(target: &str) -> Result<Self> {
        let store: Box<dyn Store + Send> = if target == "memory:" {
            Box::new(MemStore::new())
        } else {
            match enduse_store::sqlite_path(target) {
                Some(path) => Box::new(SqliteStore::open(Path::new(path))?),
                None => Box::new(PgStore::open(target)?),
            }
        };
        Ok(Self::with_store(target, store))
    }

    /// [`Register::open`], but a SQLite file must exist already: an edit of
    /// a register never creates one, so that a typo in `--db` is an error.
    pub fn open_existing(target: &str) -> Result<Self> {
        if let Some(path) = enduse_store::sqlite_path(target) {
            if !Path::new(path).exists() {
                return Err(no_database(path));
            }
        }
        Self::open(target)
    }

    /// Opens `target` for reading only: nothing is created or migrated (a
    /// missing or empty file, or a database without the tables, is an
    /// error), and a database in a read-only directory can be read.
    pub fn open_read_only(target: &str) -> Result<Self> {
        if let Some(path) = enduse_store::sqlite_path(target) {
            if !Path::new(path).exists() {
                return Err(no_database(path));
            }
        }
        let store: Box<dyn Store + Send> = if target == "memory:" {
            return Err(StoreError::NotARegister {
                target: target.into(),
                reason: "a memory database is empty when it is opened".into(),
            }
            .into());
        } else {
            match enduse_store::sqlite_path(target) {
                Some(path) => Box::new(SqliteStore::open_read_only(Path::new(path))?),
                None => Box::new(PgStore::open_read_only(target)?),
            }
        };
        let mut register = Self::with_store(target, store);
        register.read_only = true;
        Ok(register)
    }

    /// For a dry run of an import: the database read-only, or, where there
    /// is none yet (no file, an empty file, no tables), an empty register,
    /// so that the dry run lists every record as added and creates nothing.
    pub fn open_for_dry_run(target: &str) -> Result<Self> {
        match Self::open_read_only(target) {
            Ok(r) => Ok(r),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Ok(Self::with_store(target, Box::new(MemStore::new())))
            }
            Err(e) => Err(e),
        }
    }

    /// Uses `clock` for the dates of decisions and the checks of edits.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Calls `hooks` at the points of a long write a test must reach.
    pub fn with_hooks(mut self, hooks: Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The database, as named when opened.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// `sqlite`, `postgres` or `memory`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The register as the database held it at `at` (now if `None`): the
    /// engine, the control layer and the named areas from one read of the
    /// heads, tagged with the latest transaction in it. Snapshots are kept
    /// per transaction, so a second call after no write reads nothing but
    /// the list of transactions.
    pub fn snapshot(&mut self, at: Option<DateTime<Utc>>) -> Result<Arc<Snapshot>> {
        let backend = self.store.backend();
        let empty = || match at {
            Some(t) => Error::not_found(
                "enduse::no_register",
                format!(
                    "the {backend} database held no register at {}",
                    t.to_rfc3339()
                ),
                "`enduse log` lists the instants of every transaction",
            ),
            None => Error::not_found(
                "enduse::no_register",
                format!(
                    "the {backend} database is empty: run `enduse init` or `enduse import DIR`"
                ),
                "",
            ),
        };
        // Workflow writes (users, tokens, reviews) leave the register as it
        // was: a snapshot is keyed by the register's own transaction.
        let Some(latest) = self.store.register_txn_at(at)? else {
            return Err(empty());
        };
        if let Some((_, s)) = self.cache.iter().find(|(t, _)| *t == latest) {
            return Ok(s.clone());
        }
        // From the stored image of that transaction where there is a sound
        // one, else from the records; a writable database keeps the image
        // it had to rebuild, for the next reader.
        let opened = match enduse_store::open_register(self.store.as_mut(), at, !self.read_only) {
            Ok(o) => o,
            Err(StoreError::Usage(_)) => return Err(empty()),
            Err(e) => return Err(e.into()),
        };
        let control = match opened.control {
            Some(text) => ControlSource::Text {
                name: "the database's control layer".into(),
                text,
            },
            None => ControlSource::Bundled,
        };
        let txn = opened.txn;
        let snapshot = Arc::new(Snapshot::new(
            opened.engine,
            SnapshotOrigin {
                source: "database",
                name: self.target.clone(),
                txn,
            },
            control,
        ));
        if let Some(t) = txn {
            self.cache.retain(|(x, _)| *x != t);
            self.cache.push((t, snapshot.clone()));
            if self.cache.len() > CACHED {
                self.cache.remove(0);
            }
        }
        Ok(snapshot)
    }

    fn run_import(
        &mut self,
        records: Vec<Record>,
        note: &str,
        source: &str,
        opts: ImportOptions,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<ImportReport> {
        let hooks = self.hooks.clone();
        let mut planned: Vec<PlannedChange> = Vec::new();
        let mut refused: Option<Vec<String>> = None;
        let planned_of = |c: &Change| PlannedChange {
            change: if c.retract {
                "retract"
            } else if c.expect == Expect::Absent {
                "add"
            } else {
                "change"
            },
            kind: c.record.kind.to_string(),
            key: c.record.key.clone(),
            version: match c.expect {
                Expect::Version(v) => Some(v),
                _ => None,
            },
        };
        let r = enduse_store::import_records_checked(
            self.store.as_mut(),
            records,
            note,
            &mut |report, changes| {
                if opts.dry_run {
                    planned = changes.iter().map(planned_of).collect();
                    return false;
                }
                if report.retracted > 0 && !opts.allow_retract {
                    refused = Some(
                        changes
                            .iter()
                            .filter(|c| c.retract)
                            .map(|c| format!("{} `{}`", c.record.kind, c.record.key))
                            .collect(),
                    );
                    return false;
                }
                true
            },
            &mut hooked(&hooks, progress),
        )?;
        if let Some(gone) = refused {
            return Err(would_retract(&gone, source));
        }
        Ok(ImportReport {
            db: self.target.clone(),
            added: r.added,
            changed: r.changed,
            retracted: r.retracted,
            unchanged: r.unchanged,
            txn: r.txn.as_ref().map(TxnReport::from),
            dry_run: opts.dry_run,
            changes: planned,
        })
    }

    /// Loads the bundled data set (with the bundled control layer) into an
    /// empty database; refuses one that holds a register.
    pub fn init(&mut self, progress: &mut dyn FnMut(&str, u64, u64)) -> Result<ImportReport> {
        let live = self
            .store
            .heads(None)?
            .iter()
            .filter(|v| !v.retracted)
            .count();
        if live > 0 {
            return Err(Error::conflict(
                "enduse::not_empty",
                format!(
                    "`{}` already holds a register ({live} records); use `enduse import DIR` to change it",
                    cut(&self.target)
                ),
                "",
            ));
        }
        let p = PreparedImport::bundled()?;
        self.import(p, ImportOptions::default(), progress)
    }

    /// Makes the database's register equal to `prepared`, in one
    /// transaction: new versions of new and changed records, and (only with
    /// `allow_retract`) retractions of those it lacks. A dry run writes
    /// nothing and lists every change.
    pub fn import(
        &mut self,
        prepared: PreparedImport,
        opts: ImportOptions,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<ImportReport> {
        match prepared.input {
            Input::Held(records) => {
                self.run_import(records, &prepared.note, &prepared.dir, opts, progress)
            }
            Input::Streamed { files, bulk, dir } => {
                let streamed = self.run_streamed(
                    &files,
                    bulk.as_deref(),
                    prepared.len,
                    &prepared.note,
                    &prepared.dir,
                    opts,
                    progress,
                )?;
                if let Some(report) = streamed {
                    return Ok(report);
                }
                // Refused now though it was valid when prepared: the files
                // changed since. Validate them again, whole.
                let whole = whole_files(files, bulk.as_deref(), dir.as_deref())?;
                let again = PreparedImport::validate(&whole, prepared.dir.clone())?;
                drop(whole);
                let Input::Held(records) = again.input else {
                    return Err(Error::internal("a held import is not held"));
                };
                self.run_import(records, &prepared.note, &prepared.dir, opts, progress)
            }
        }
    }

    /// The import of a streamed data set; `None` if the stream refused it.
    #[allow(clippy::too_many_arguments)]
    fn run_streamed(
        &mut self,
        files: &DataFiles,
        bulk: Option<&Path>,
        len: usize,
        note: &str,
        source: &str,
        opts: ImportOptions,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<Option<ImportReport>> {
        let hooks = self.hooks.clone();
        let mut reader = bulk.map(open_bulk).transpose()?;
        let r = enduse_store::import_streamed(
            self.store.as_mut(),
            enduse_store::StreamInput {
                files,
                bulk: reader
                    .as_mut()
                    .map(|r| r as &mut (dyn std::io::BufRead + Send)),
                // The files held were checked by `validate_streamed`, and a
                // `PreparedImport` never changes them.
                held: enduse_load::Held::Checked,
            },
            enduse_store::StreamOptions {
                dry_run: opts.dry_run,
                allow_retract: opts.allow_retract,
            },
            note,
            len as u64,
            &mut hooked(&hooks, progress),
        )?;
        let planned_of = |c: &enduse_store::PlannedChange| PlannedChange {
            change: if c.retract {
                "retract"
            } else if c.replaces.is_none() {
                "add"
            } else {
                "change"
            },
            kind: c.kind.to_string(),
            key: c.key.clone(),
            version: c.replaces,
        };
        match r {
            enduse_store::StreamedImport::Refused => Ok(None),
            enduse_store::StreamedImport::WouldRetract(gone) => Err(would_retract(
                &gone
                    .iter()
                    .map(|c| format!("{} `{}`", c.kind, c.key))
                    .collect::<Vec<_>>(),
                source,
            )),
            enduse_store::StreamedImport::Done { report, planned } => Ok(Some(ImportReport {
                db: self.target.clone(),
                added: report.added,
                changed: report.changed,
                retracted: report.retracted,
                unchanged: report.unchanged,
                txn: report.txn.as_ref().map(TxnReport::from),
                dry_run: opts.dry_run,
                changes: planned.iter().map(planned_of).collect(),
            })),
        }
    }

    /// Writes the register at `at` (now if `None`) as a data-set directory:
    /// into a temporary directory beside `dir`, renamed into place when
    /// every file is written, so that a failed export leaves nothing.
    pub fn export(&mut self, dir: &Path, at: Option<DateTime<Utc>>) -> Result<ExportReport> {
        let files = enduse_store::export_files(self.store.as_mut(), at)?;
        if files.is_empty() {
            return Err(Error::not_found(
                "enduse::no_register",
                format!("`{}` held no register at that time", cut(&self.target)),
                "`enduse log` lists the instants of every transaction",
            ));
        }
        if dir.exists() {
            let empty = std::fs::read_dir(dir)
                .map_err(|e| Error::io("read", dir, &e))?
                .next()
                .is_none();
            if !empty {
                return Err(Error::bad_request(
                    "enduse::not_empty",
                    format!(
                        "`{}` is not empty: export into a new or empty directory",
                        cut(&dir.display().to_string())
                    ),
                    "",
                ));
            }
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("create", &parent, &e))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let tmp = parent.join(format!(".{name}.enduse-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let written = (|| -> std::io::Result<()> {
            std::fs::create_dir(&tmp)?;
            for (file, text) in files.iter() {
                if let Some(hook) = &self.hooks.export_file {
                    hook(file)?;
                }
                let path = tmp.join(file);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p)?;
                }
                std::fs::write(&path, text)?;
            }
            if dir.exists() {
                std::fs::remove_dir(dir)?;
            }
            std::fs::rename(&tmp, dir)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(Error::io("write", dir, &e));
        }
        Ok(ExportReport {
            db: self.target.clone(),
            out: dir.to_path_buf(),
            files: files.iter().map(|(n, _)| n.to_owned()).collect(),
        })
    }

    /// Every version of one record, with its three times.
    pub fn history(&mut self, kind: &str, key: &str) -> Result<HistoryReport> {
        let k = kind_of(kind)?;
        let versions = self.store.history(k, key)?;
        if versions.is_empty() {
            return Err(Error::not_found(
                "enduse::no_record",
                format!(
                    "`{}` has no {k} `{}`, in any version",
                    cut(&self.target),
                    cut(key)
                ),
                "`enduse list` shows the ids of a register's records",
            ));
        }
        let notes: std::collections::HashMap<i64, String> = self
            .store
            .transactions()?
            .into_iter()
            .map(|t| (t.id, t.note))
            .collect();
        let versions = versions
            .iter()
            .map(|v| {
                // Bodies are JSON but for the schema, which is Cedar text.
                let body = match k {
                    RecordKind::Schema => serde_json::json!(v.record.body),
                    _ => serde_json::from_str(&v.record.body)
                        .unwrap_or(serde_json::json!(v.record.body)),
                };
                VersionReport {
                    version: v.version,
                    retracted: v.retracted,
                    entered: instant(v.sys_from),
                    txn: v.txn,
                    note: notes.get(&v.txn).cloned(),
                    valid_from: v.record.valid_from.clone(),
                    valid_to: v.record.valid_to.clone(),
                    recorded_at: v.record.recorded_at.clone(),
                    body: if v.retracted {
                        serde_json::Value::Null
                    } else {
                        body
                    },
                }
            })
            .collect();
        Ok(HistoryReport {
            kind: k.as_str().to_owned(),
            key: key.to_owned(),
            versions,
            db: self.target.clone(),
        })
    }

    /// Every transaction, with its instant.
    pub fn log(&mut self) -> Result<LogReport> {
        let txns = self.store.transactions()?;
        let schema_version = self.store.schema_version()?;
        Ok(LogReport {
            db: self.target.clone(),
            backend: self.store.backend().to_owned(),
            schema_version,
            transactions: txns.iter().map(TxnReport::from).collect(),
        })
    }

    /// The live head of a record: (version, body).
    fn head(&mut self, kind: RecordKind, key: &str) -> Result<Option<(i64, bool, String)>> {
        Ok(self
            .store
            .history(kind, key)?
            .into_iter()
            .last()
            .map(|v| (v.version, v.retracted, v.record.body)))
    }

    /// Writes one record: a new record (`expect_version` absent or 0), or a
    /// new version of an existing one (`expect_version` must then name its
    /// current version). Content equal to the current version writes
    /// nothing. The whole register with the change must stay valid; its
    /// problems are reported against the input's lines.
    pub fn put(&mut self, req: &PutRequest) -> Result<EditReport> {
        let k = kind_of(&req.kind)?;
        let name = req.file.as_str();
        // A new version of a rule keeps its owner unless told otherwise.
        let record = match (k, req.owner.as_deref()) {
            (RecordKind::Policy, None) => {
                let probe = enduse_load::record_from_text(k, name, &req.text, Some("?"))?;
                let current = self
                    .head(k, &probe.key)?
                    .filter(|(_, retracted, _)| !retracted)
                    .and_then(|(_, _, body)| policy_owner(&body));
                enduse_load::record_from_text(k, name, &req.text, current.as_deref())?
            }
            (_, owner) => enduse_load::record_from_text(k, name, &req.text, owner)?,
        };
        if k == RecordKind::Control {
            let snap = self.snapshot(None)?;
            crate::geo::check_control_area(snap.engine().register(), name, &req.text)?;
        }
        let key = record.key.clone();
        let what = format!("put {k} `{key}`");
        let head = self.head(k, &key)?;
        let written = head.as_ref().map_or(1, |(n, _, _)| n + 1);
        let live = head.as_ref().filter(|(_, retracted, _)| !retracted);
        let expect = match (live, req.expect_version) {
            (Some((n, _, body)), None) => {
                if *body == record.body {
                    return Ok(self.unchanged(k, &key, *n));
                }
                return Err(Error::conflict(
                    "enduse::exists",
                    format!(
                        "{k} `{}` exists (version {n}): give --expect-version {n} to replace it",
                        cut(&key)
                    ),
                    &format!(
                        "`put` replaces a record only when told which version it replaces (see `enduse history {k} {key}`); to add a new record, give it an id of its own"
                    ),
                ));
            }
            (Some((n, _, _)), Some(0)) => {
                return Err(stale(k, &key, "no record", &format!("version {n}"), *n))
            }
            (Some((n, _, body)), Some(v)) if *n == v => {
                if *body == record.body {
                    return Ok(self.unchanged(k, &key, *n));
                }
                Expect::Version(v)
            }
            (Some((n, _, _)), Some(v)) => {
                return Err(stale(
                    k,
                    &key,
                    &format!("version {v}"),
                    &format!("version {n}"),
                    *n,
                ))
            }
            (None, None | Some(0)) => Expect::Absent,
            (None, Some(v)) => match head {
                // Over a retraction, naming the retraction's version.
                Some((n, true, _)) if n == v => Expect::Version(v),
                Some((n, _, _)) => {
                    return Err(stale(
                        k,
                        &key,
                        &format!("version {v}"),
                        &format!("version {n} (a retraction)"),
                        n,
                    ))
                }
                None => {
                    return Err(Error::conflict(
                        "enduse::store::conflict",
                        format!(
                            "conflict on {k} `{}`: expected version {v}, but the database holds no record",
                            cut(&key)
                        ),
                        "give --expect-version 0 (or none) to add it as a new record",
                    ))
                }
            },
        };
        let note = format!("{what} from {name}");
        let edit = Edit {
            record: record.clone(),
            file: name.to_owned(),
            text: req.text.clone(),
        };
        match enduse_store::put(self.store.as_mut(), record, Some(expect), &note) {
            Ok(t) => Ok(EditReport {
                db: self.target.clone(),
                kind: k.to_string(),
                key: key.clone(),
                version: Some(self.written_version(k, &key, written)),
                done: what,
                txn: Some(TxnReport::from(&t)),
            }),
            Err(e) => Err(self.edit_error(
                e,
                Some(&edit),
                &format!("the register with {k} `{key}` from `{}`", cut(name)),
                req.expect_version.is_some(),
            )),
        }
    }

    /// The version a write just made: the record's head as the store now
    /// holds it (`guess`, the one after the head the write expected, if it
    /// cannot be read: the write itself succeeded).
    fn written_version(&mut self, k: RecordKind, key: &str, guess: i64) -> i64 {
        match self.head(k, key) {
            Ok(Some((n, _, _))) => n,
            _ => guess,
        }
    }

    fn unchanged(&self, k: RecordKind, key: &str, n: i64) -> EditReport {
        EditReport {
            db: self.target.clone(),
            kind: k.to_string(),
            key: key.to_owned(),
            version: None,
            done: format!(
                "nothing to change: version {n} of {k} `{key}` already holds this content"
            ),
            txn: None,
        }
    }

    /// Retracts one record (a new version that says it no longer holds);
    /// the register without it must stay valid.
    pub fn retract(
        &mut self,
        kind: &str,
        key: &str,
        expect_version: Option<i64>,
    ) -> Result<EditReport> {
        let k = kind_of(kind)?;
        let head = self.head(k, key)?;
        let n = match head {
            Some((n, false, _)) => n,
            _ => {
                return Err(Error::not_found(
                    "enduse::no_record",
                    format!(
                        "{k} `{}` does not exist, so it cannot be retracted",
                        cut(key)
                    ),
                    "`enduse history KIND KEY` shows a record's versions",
                ))
            }
        };
        if let Some(v) = expect_version {
            if v != n {
                return Err(stale(
                    k,
                    key,
                    &if v == 0 {
                        "no record".to_owned()
                    } else {
                        format!("version {v}")
                    },
                    &format!("version {n}"),
                    n,
                ));
            }
        }
        let what = format!("retract {k} `{key}`");
        let expect = Some(Expect::Version(expect_version.unwrap_or(n)));
        match enduse_store::retract(self.store.as_mut(), k, key, expect, &what) {
            Ok(t) => Ok(EditReport {
                db: self.target.clone(),
                kind: k.to_string(),
                key: key.to_owned(),
                version: Some(self.written_version(k, key, n + 1)),
                done: what,
                txn: Some(TxnReport::from(&t)),
            }),
            Err(e) => Err(self.edit_error(
                e,
                None,
                &format!("the register without {k} `{}`", cut(key)),
                expect_version.is_some(),
            )),
        }
    }

    /// A failed edit in the terms of a database: a conflict says what to
    /// do; problems of the register are located in the user's file where
    /// they concern the edited record, named as stored records otherwise,
    /// and their help never advises editing a data set's files.
    fn edit_error(
        &mut self,
        e: StoreError,
        edit: Option<&Edit>,
        what: &str,
        expected: bool,
    ) -> Error {
        match e {
            StoreError::Conflict {
                kind,
                key,
                expected: exp,
                found,
            } => Error::from(StoreError::Conflict {
                kind: kind.clone(),
                key: key.clone(),
                expected: exp,
                found: found.clone(),
            })
            .with_help(if expected {
                format!("the database holds {found}: see `enduse history {kind} {key}`, then give that version with --expect-version if your change still applies; nothing was written")
            } else {
                "another writer changed it between this command's read and its write; nothing was written. Read it again (`enduse history`) and redo the change".to_owned()
            }),
            StoreError::DataSet(d) => {
                let data = self.relocate(d, edit);
                Error::Edit {
                    message: format!(
                        "{what} would be invalid: {} problem(s); nothing was written",
                        data.problems().len()
                    ),
                    data,
                }
            }
            other => other.into(),
        }
    }

    fn relocate(&mut self, d: DataSetError, edit: Option<&Edit>) -> DataSetError {
        // The register as the edit would make it, written out as data-set
        // files and loaded from them, locates every problem on a line.
        let located = (|| {
            let heads = self.store.heads(None).ok()?;
            let mut next: Vec<Record> = heads
                .into_iter()
                .filter(|v| !v.retracted)
                .map(|v| v.record)
                .filter(|r| {
                    edit.is_none_or(|e| !(r.kind == e.record.kind && r.key == e.record.key))
                })
                .collect();
            if let Some(e) = edit {
                next.push(e.record.clone());
            }
            enduse_load::derive_times(&mut next, &[]);
            let refs: Vec<&Record> = next.iter().collect();
            let files = enduse_load::files_from_records("register", &refs).ok()?;
            let err = enduse_load::load_files(&files).err()?;
            let placed = edit.and_then(|e| place_of(&files, &e.record));
            Some((err.problems().to_vec(), placed))
        })();
        let (found, placed) = located.unwrap_or_else(|| (d.problems().to_vec(), None));
        let (file, text) = match edit {
            Some(e) => (e.file.clone(), e.text.clone()),
            None => (self.target.clone(), String::new()),
        };
        let mut problems = Vec::new();
        for p in found {
            let ours = match (&placed, edit) {
                (Some(pl), Some(e)) if pl.file == p.file => match p.line {
                    Some(line) if line >= pl.first && line <= pl.last => {
                        Some(input_line(pl, e, line))
                    }
                    Some(_) => None,
                    None => p
                        .message
                        .contains(&format!("`{}`", e.record.key))
                        .then_some(None),
                },
                _ => None,
            };
            problems.push(enduse_core::Problem {
                origin: enduse_core::Origin::File {
                    file: match ours {
                        Some(_) => file.clone(),
                        None => format!("{} (stored {})", self.target, p.file),
                    },
                    span: ours.flatten().and_then(|line| line_span(&text, line)),
                },
                message: p.message.clone(),
                help: p.help.as_deref().map(database_help),
            });
        }
        let mut map = std::collections::BTreeMap::new();
        if edit.is_some() {
            map.insert(file.clone(), text);
        }
        DataSetError::from_problems(
            &DataFiles::from_map(&format!("{} with {file}", self.target), map),
            problems,
        )
    }
}

/// The line of the input that line `line` of the generated files (inside
/// the edited record, `pl`) came from.
fn input_line(pl: &Placed, e: &Edit, line: usize) -> Option<usize> {
    match e.record.kind {
        RecordKind::Schema => Some(line),
        RecordKind::Policy => {
            // The stored rule is the input's text from the rule on, line
            // for line.
            let cedar = policy_cedar(&e.record.body)?;
            let start = e.text.find(&cedar)?;
            Some(line_of(&e.text, start) + (line - pl.first))
        }
        _ => {
            let field = field_of(&pl.text, line);
            let key_field = toml_file_of(e.record.kind).map_or("id", |(_, k)| k);
            [field.as_str(), key_field]
                .iter()
                .find_map(|f| {
                    e.text.lines().position(|l| {
                        l.trim_start()
                            .strip_prefix(f)
                            .is_some_and(|rest| rest.trim_start().starts_with('='))
                    })
                })
                .map(|i| i + 1)
        }
    }
}

/// The record an edit writes, and the input it came from.
struct Edit {
    record: Record,
    file: String,
    text: String,
}

/// Where the edited record lies in the generated files: (file, first and
/// last line).
#[derive(Debug, Clone)]
struct Placed {
    file: String,
    first: usize,
    last: usize,
    /// For a TOML record: the generated file's text, to read field names.
    text: String,
}

fn toml_file_of(kind: RecordKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        RecordKind::Party => ("parties.toml", "id"),
        RecordKind::Place => ("places.toml", "code"),
        RecordKind::Category | RecordKind::Model => ("models.toml", "id"),
        RecordKind::Lot | RecordKind::Transfer => ("transfers.toml", "id"),
        RecordKind::Treaty => ("treaties.toml", "id"),
        RecordKind::Conflict => ("conflicts.toml", "id"),
        RecordKind::Source => ("sources.toml", "id"),
        RecordKind::Approval => ("approvals.toml", "id"),
        RecordKind::Default => ("defaults.toml", "id"),
        RecordKind::Group => ("groups.toml", "id"),
        RecordKind::Target | RecordKind::Purpose => ("targets.toml", "id"),
        RecordKind::Area => ("areas.toml", "id"),
        RecordKind::DataSet => ("dataset.toml", "name"),
        RecordKind::Schema | RecordKind::Policy | RecordKind::Control => return None,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn place_of(files: &DataFiles, r: &Record) -> Option<Placed> {
    match r.kind {
        RecordKind::Schema => Some(Placed {
            file: "schema.cedarschema".into(),
            first: 1,
            last: usize::MAX,
            text: String::new(),
        }),
        RecordKind::Policy => {
            let cedar = policy_cedar(&r.body)?;
            files.policy_files().find_map(|(name, text)| {
                let start = text.find(&cedar)?;
                Some(Placed {
                    file: name.to_owned(),
                    first: line_of(text, start),
                    last: line_of(text, start + cedar.len()),
                    text: String::new(),
                })
            })
        }
        kind => {
            let (file, key_field) = toml_file_of(kind)?;
            let text = files.get(file)?;
            let needle = format!("{key_field} = {}", serde_json::to_string(&r.key).ok()?);
            let at = text.find(&needle)?;
            let start = text[..at].rfind("[[").unwrap_or(0);
            let end = text[at..].find("\n[[").map_or(text.len(), |i| at + i);
            Some(Placed {
                file: file.to_owned(),
                first: line_of(text, start),
                last: line_of(text, end),
                text: text.to_owned(),
            })
        }
    }
}

fn field_of(text: &str, line: usize) -> String {
    text.lines()
        .nth(line.saturating_sub(1))
        .unwrap_or_default()
        .split('=')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The byte span of line `line` (1-based) of `text`.
fn line_span(text: &str, line: usize) -> Option<std::ops::Range<usize>> {
    let mut start = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return Some(start..start + l.trim_end_matches('\n').len());
        }
        start += l.len();
    }
    None
}

/// The help of a data-set problem, for a register kept in a database:
/// advice to declare something in a data set's file becomes advice to put
/// the record.
pub(crate) fn database_help(help: &str) -> String {
    let known: &[(&str, &str)] = &[
        (
            "declare it in parties.toml",
            "put the party first: `enduse put party --file FILE`",
        ),
        (
            "declare it in sources.toml",
            "put the source first: `enduse put source --file FILE`",
        ),
        (
            "declare it in models.toml under [[category]]",
            "put the category first: `enduse put category --file FILE`",
        ),
        (
            "treaties own rules, so add them to parties.toml with kind = \"treaty\"",
            "treaties own rules: put the treaty first, as a party with kind = \"treaty\" (`enduse put party --file FILE`)",
        ),
        (
            "declare it under the party's authorities in parties.toml",
            "add it to the party's authorities: `enduse put party --file FILE --expect-version N`",
        ),
        (
            "name policy files after a party id in parties.toml",
            "give --owner PARTY, a party of the register",
        ),
    ];
    if let Some((_, to)) = known.iter().find(|(from, _)| *from == help) {
        return (*to).to_owned();
    }
    // Any other mention of a data set's file names the record kind instead.
    help.split(' ')
        .map(|w| {
            let bare = w.trim_end_matches([',', '.', ';', ')']);
            match bare.strip_suffix(".toml") {
                Some(stem) if !stem.is_empty() => w.replacen(bare, "the register", 1),
                _ => w.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A stale `--expect-version`: which version the database holds, and what
/// to do.
fn stale(k: RecordKind, key: &str, expected: &str, found: &str, n: i64) -> Error {
    Error::conflict(
        "enduse::store::conflict",
        format!(
            "conflict on {k} `{}`: expected {expected}, but the database holds {found}",
            cut(key)
        ),
        &if expected == "no record" {
            format!("{k} `{key}` exists already: give --expect-version {n} to replace it, or give the new record an id of its own; nothing was written")
        } else {
            format!("the database holds version {n}: see `enduse history {k} {key}`, then give --expect-version {n} if your change still applies; nothing was written")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_help_names_records_not_files() {
        assert_eq!(
            database_help("declare it in sources.toml"),
            "put the source first: `enduse put source --file FILE`"
        );
        assert_eq!(
            database_help("list it in targets.toml first"),
            "list it in the register first"
        );
        assert_eq!(database_help("fix the date"), "fix the date");
    }

    #[test]
    fn instants_read_rfc3339_or_a_day() {
        assert!(parse_instant("2026-01-05T10:00:00Z").is_ok());
        let end = parse_instant("2026-01-05").unwrap();
        assert_eq!(instant(end), "2026-01-05T23:59:59.999999Z");
        let e = parse_instant("2026-13-01T00:00:00Z").unwrap_err();
        assert!(e.to_string().contains("--db-as-of `2026-13-01T00:00:00Z`"));
    }

    #[test]
    fn line_spans() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_span(t, 2).map(|r| &t[r]), Some("bb = 2"));
        assert_eq!(line_span(t, 9), None);
    }
}
