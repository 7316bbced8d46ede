//! The database commands: `init`, `import`, `export`, `history`, `log`,
//! `put`, `retract`, and opening a store for the deciding commands.

use crate::cli::CliError;
use crate::progress::Bar;
use chrono::{DateTime, Utc};
use enduse_load::{DataFiles, RecordKind};
use enduse_store::{Expect, ImportReport, Store, TxnInfo, Version};
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// The database used when neither `--db` nor `ENDUSE_DB` names one.
pub const DEFAULT_DB: &str = "enduse.db";

/// Opens `target`. Unless `create`, a SQLite file must already exist, so
/// that a typo in `--db` is an error rather than a new empty database.
pub fn open(target: &str, create: bool) -> Result<Box<dyn Store>, CliError> {
    if let Some(path) = enduse_store::sqlite_path(target) {
        if !create && !Path::new(path).exists() {
            return Err(CliError::Usage(format!(
                "no database at `{path}`: create it with `enduse init --db {path}`, or name another with --db"
            )));
        }
    }
    Ok(enduse_store::open(target)?)
}

/// Parses `--db-as-of`: an RFC 3339 instant, or a day (meaning its end, UTC).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_micro_opt(23, 59, 59, 999_999) {
            return Ok(t.and_utc());
        }
    }
    Err(CliError::Usage(format!(
        "--db-as-of `{s}` is not an instant: write it in RFC 3339, for example 2026-01-05T10:00:00Z (or a day, YYYY-MM-DD, meaning its last instant in UTC)"
    )))
}

/// The engine from the database at `as_of`.
pub fn engine(target: &str, as_of: Option<&str>) -> Result<enduse_core::Engine, CliError> {
    let as_of = as_of.map(parse_instant).transpose()?;
    let mut store = open(target, false)?;
    Ok(enduse_store::engine_at(store.as_mut(), as_of)?)
}

/// The control layer stored in the database at `as_of`, if it holds one.
pub fn control_json(target: &str, as_of: Option<&str>) -> Result<Option<String>, CliError> {
    let as_of = as_of.map(parse_instant).transpose()?;
    let mut store = open(target, false)?;
    let records = enduse_store::records_at(store.as_mut(), as_of)?;
    let refs: Vec<&enduse_load::Record> = records.iter().collect();
    Ok(enduse_load::control_json(&refs))
}

/// The bundled data set with the bundled control layer.
fn bundled_with_control() -> DataFiles {
    let mut map: std::collections::BTreeMap<String, String> = enduse_load::bundled_files()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    map.insert(
        enduse_load::CONTROL_FILE.to_owned(),
        enduse_geo::ControlLayer::bundled_json().to_owned(),
    );
    DataFiles::from_map(enduse_load::BUNDLED_NAME, map)
}

fn phase_hook(phase: &str) {
    // The kill test needs to know when the import is inside its write
    // transaction, and a moment to kill it there.
    if std::env::var_os("ENDUSE_TEST_PHASES").is_some() {
        eprintln!("phase: {phase}");
    }
}

fn pause_hook(done: u64, total: u64) {
    if std::env::var_os("ENDUSE_TEST_PAUSE_WRITING").is_some() {
        eprintln!("paused: {done}/{total}");
        std::thread::sleep(std::time::Duration::from_secs(600));
    }
}

fn run_import(
    store: &mut dyn Store,
    records: Vec<enduse_load::Record>,
    note: &str,
    json: bool,
) -> Result<ImportReport, CliError> {
    let bar = Bar::new("comparing", json);
    let mut phase = String::new();
    let mut paused = false;
    let report = enduse_store::import_records(store, records, note, &mut |p, d, t| {
        if p != phase {
            phase = p.to_owned();
            bar.message(p);
            phase_hook(p);
        }
        if p == "writing" && !paused && t > 0 && d * 2 >= t {
            paused = true;
            pause_hook(d, t);
        }
        bar.set(d, t);
    });
    bar.finish();
    Ok(report?)
}

fn txn_json(t: &TxnInfo) -> serde_json::Value {
    json!({"id": t.id, "at": t.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), "note": t.note, "changes": t.changes})
}

fn report_text(target: &str, r: &ImportReport, json: bool) -> String {
    if json {
        return crate::render::json(&json!({
            "db": target,
            "added": r.added,
            "changed": r.changed,
            "retracted": r.retracted,
            "unchanged": r.unchanged,
            "txn": r.txn.as_ref().map(txn_json),
        }));
    }
    match &r.txn {
        None => format!(
            "{target}: nothing to change ({} records already as given)\n",
            r.unchanged
        ),
        Some(t) => format!(
            "{target}: transaction {} at {}: {} added, {} changed, {} retracted, {} unchanged\n",
            t.id,
            t.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            r.added,
            r.changed,
            r.retracted,
            r.unchanged
        ),
    }
}

/// `enduse init`: creates the database and loads the bundled data set.
pub fn init(target: &str, json: bool) -> Result<String, CliError> {
    let mut store = open(target, true)?;
    let heads = store.heads(None)?;
    if heads.iter().any(|v| !v.retracted) {
        return Err(CliError::Usage(format!(
            "`{target}` already holds a register ({} records); use `enduse import DIR` to change it",
            heads.iter().filter(|v| !v.retracted).count()
        )));
    }
    let note = format!("init: bundled {}", enduse_load::BUNDLED_NAME);
    let records = enduse_store::prepare(&bundled_with_control())?;
    let r = run_import(store.as_mut(), records, &note, json)?;
    Ok(report_text(target, &r, json))
}

/// `enduse import DIR`.
pub fn import(target: &str, dir: &Path, json: bool) -> Result<String, CliError> {
    // Read and validate before creating anything, so that a bad directory
    // leaves no empty database behind.
    phase_hook("validating");
    let spin = Bar::spinner("reading and validating", json);
    let files = DataFiles::read_dir(dir)?;
    let (engine, records) = enduse_load::records_from_files(&files)?;
    // The named areas and the control layer, as `check --at` will read
    // them.
    let checked = crate::cli::check_geography(&files, engine.register());
    // Freeing a large register takes a while that nobody needs to wait for.
    let _ = std::thread::Builder::new()
        .name("enduse-drop".into())
        .spawn(move || drop(engine));
    checked?;
    spin.finish();
    let mut store = open(target, true)?;
    let note = format!("import {}", dir.display());
    let r = run_import(store.as_mut(), records, &note, json)?;
    Ok(report_text(target, &r, json))
}

/// `enduse export DIR`.
pub fn export(
    target: &str,
    as_of: Option<&str>,
    dir: &Path,
    json: bool,
) -> Result<String, CliError> {
    let as_of = as_of.map(parse_instant).transpose()?;
    let mut store = open(target, false)?;
    let files = enduse_store::export_files(store.as_mut(), as_of)?;
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "`{target}` held no register at that time"
        )));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(CliError::Usage(format!(
            "`{}` is not empty: export into a new or empty directory",
            dir.display()
        )));
    }
    files.write_dir(dir).map_err(|e| {
        CliError::Usage(format!(
            "cannot write `{}`: {}",
            dir.display(),
            e.to_string().to_lowercase()
        ))
    })?;
    let names: Vec<&str> = files.iter().map(|(n, _)| n).collect();
    Ok(if json {
        crate::render::json(&json!({"db": target, "out": dir, "files": names}))
    } else {
        format!(
            "wrote {} files to {}: {}\n",
            names.len(),
            dir.display(),
            names.join(", ")
        )
    })
}

fn kind(s: &str) -> Result<RecordKind, CliError> {
    RecordKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
        CliError::Usage(format!(
            "unknown record kind `{s}`: use one of {}",
            all.join(", ")
        ))
    })
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn policy_cedar(body: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some((
        v.get("owner")?.as_str()?.to_owned(),
        v.get("cedar")?.as_str()?.to_owned(),
    ))
}

/// `enduse history KIND KEY`: every version, with its three times.
pub fn history(target: &str, kind_name: &str, key: &str, json: bool) -> Result<String, CliError> {
    let k = kind(kind_name)?;
    let mut store = open(target, false)?;
    let versions = store.history(k, key)?;
    if versions.is_empty() {
        return Err(CliError::Usage(format!(
            "`{target}` has no {k} `{key}`, in any version"
        )));
    }
    let notes: std::collections::HashMap<i64, String> = store
        .transactions()?
        .into_iter()
        .map(|t| (t.id, t.note))
        .collect();
    if json {
        let items: Vec<serde_json::Value> = versions
            .iter()
            .map(|v| {
                // Bodies are JSON but for the schema, which is Cedar text.
                let body = match k {
                    RecordKind::Schema => json!(v.record.body),
                    _ => serde_json::from_str(&v.record.body).unwrap_or(json!(v.record.body)),
                };
                json!({
                    "version": v.version,
                    "retracted": v.retracted,
                    "entered": time(v.sys_from),
                    "txn": v.txn,
                    "note": notes.get(&v.txn),
                    "valid_from": v.record.valid_from,
                    "valid_to": v.record.valid_to,
                    "recorded_at": v.record.recorded_at,
                    "body": if v.retracted { serde_json::Value::Null } else { body },
                })
            })
            .collect();
        return Ok(crate::render::json(
            &json!({"kind": k.as_str(), "key": key, "versions": items}),
        ));
    }
    let mut s = format!("{k} `{key}`: {} version(s) in {target}\n", versions.len());
    for v in &versions {
        write_version(&mut s, v, notes.get(&v.txn).map_or("", String::as_str));
    }
    Ok(s)
}

fn write_version(s: &mut String, v: &Version, note: &str) {
    let _ = writeln!(
        s,
        "\nversion {}{}  entered {} (transaction {}: {})",
        v.version,
        if v.retracted { " RETRACTED" } else { "" },
        time(v.sys_from),
        v.txn,
        note
    );
    if v.retracted {
        return;
    }
    let r = &v.record;
    let _ = writeln!(
        s,
        "  valid {} to {}; publicly known {}",
        r.valid_from.as_deref().unwrap_or("(always)"),
        r.valid_to.as_deref().unwrap_or("(open)"),
        r.recorded_at.as_deref().unwrap_or("(not recorded)"),
    );
    match policy_cedar(&r.body) {
        Some((owner, cedar)) if r.kind == RecordKind::Policy => {
            let _ = writeln!(s, "  owner {owner}");
            for line in cedar.lines() {
                let _ = writeln!(s, "  | {line}");
            }
        }
        _ => {
            let _ = writeln!(s, "  {}", r.body.lines().next().unwrap_or(""));
        }
    }
}

/// `enduse log`: every transaction.
pub fn log(target: &str, json: bool) -> Result<String, CliError> {
    let mut store = open(target, false)?;
    let txns = store.transactions()?;
    let schema = store.schema_version()?;
    if json {
        let items: Vec<serde_json::Value> = txns.iter().map(txn_json).collect();
        return Ok(crate::render::json(&json!({
            "db": target,
            "backend": store.backend(),
            "schema_version": schema,
            "transactions": items,
        })));
    }
    let mut s = format!(
        "{target} ({}, schema version {schema}): {} transaction(s)\n",
        store.backend(),
        txns.len()
    );
    for t in &txns {
        let _ = writeln!(
            s,
            "  {:>5}  {}  {:>8} change(s)  {}",
            t.id,
            time(t.at),
            t.changes,
            t.note
        );
    }
    Ok(s)
}

fn expect(v: Option<i64>) -> Option<Expect> {
    v.map(|n| {
        if n == 0 {
            Expect::Absent
        } else {
            Expect::Version(n)
        }
    })
}

fn edited(target: &str, what: &str, t: &TxnInfo, json: bool) -> String {
    if json {
        crate::render::json(&json!({"db": target, "done": what, "txn": txn_json(t)}))
    } else {
        format!("{what}: transaction {} at {}\n", t.id, time(t.at))
    }
}

/// `enduse put KIND --file F`.
pub fn put(
    target: &str,
    kind_name: &str,
    file: &Path,
    owner: Option<&str>,
    expect_version: Option<i64>,
    json: bool,
) -> Result<String, CliError> {
    let k = kind(kind_name)?;
    let text = std::fs::read_to_string(file).map_err(|e| {
        CliError::Usage(format!(
            "cannot read `{}`: {}",
            file.display(),
            e.to_string().to_lowercase()
        ))
    })?;
    let mut store = open(target, false)?;
    let name = file.display().to_string();
    // A new version of a rule keeps its owner unless told otherwise.
    let record = match (k, owner) {
        (RecordKind::Policy, None) => {
            let probe = enduse_load::record_from_text(k, &name, &text, Some("?"))?;
            let current = store
                .history(k, &probe.key)?
                .into_iter()
                .last()
                .filter(|v| !v.retracted)
                .and_then(|v| policy_cedar(&v.record.body))
                .map(|(o, _)| o);
            enduse_load::record_from_text(k, &name, &text, current.as_deref())?
        }
        _ => enduse_load::record_from_text(k, &name, &text, owner)?,
    };
    if k == RecordKind::Control {
        check_control_area(store.as_mut(), &name, &text)?;
    }
    let what = format!("put {k} `{}`", record.key);
    let note = format!("{what} from {name}");
    let t = enduse_store::put(store.as_mut(), record, expect(expect_version), &note)?;
    Ok(edited(target, &what, &t, json))
}

/// Checks one control area (the JSON of `put control`) as `check --at` will
/// read it: its outline and dates, and that its `controlled_by` is a party
/// of the stored register.
fn check_control_area(store: &mut dyn Store, name: &str, text: &str) -> Result<(), CliError> {
    let layer = crate::cli::parse_control(&format!("{{\"areas\": [{text}]}}"), name)?;
    let engine = enduse_store::engine_at(store, None)?;
    for (id, by) in layer.controllers() {
        if !engine
            .register()
            .parties
            .contains_key(&enduse_core::PartyId::new(by))
        {
            return Err(CliError::Usage(format!(
                "`{name}`: control area `{id}`: `controlled_by` `{by}` is not a party of the register"
            )));
        }
    }
    Ok(())
}

/// `enduse retract KIND KEY`.
pub fn retract(
    target: &str,
    kind_name: &str,
    key: &str,
    expect_version: Option<i64>,
    json: bool,
) -> Result<String, CliError> {
    let k = kind(kind_name)?;
    let mut store = open(target, false)?;
    let what = format!("retract {k} `{key}`");
    let t = enduse_store::retract(store.as_mut(), k, key, expect(expect_version), &what)?;
    Ok(edited(target, &what, &t, json))
}
