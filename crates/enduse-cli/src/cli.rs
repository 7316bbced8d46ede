//! Argument parsing and command dispatch.

use crate::render;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use enduse_core::{check_dates, parse_day, Action, Engine, ItemRef, Query, RequestError};
use enduse_load::DataSetError;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Exit codes: 0 permit or success, 1 error (bad input included), 2 forbid, 3 needs approval, 4 indeterminate.

Examples:
  enduse check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2024-09-11
  enduse check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2025-06-15 --known-at 2025-07-01
  enduse check --actor PL --action reexport --model \"Leopard 2\" --recipient UA --as-of 2023-01-18
  enduse consent-chain --actor UA --model \"Storm Shadow\"
  enduse timeline --model ATACMS

A database that keeps every version (SQLite by default, or PostgreSQL):
  enduse init                                   # ./enduse.db with the bundled data set
  enduse import my-register/ --db enduse.db
  enduse history --policy us-atacms-ukraine-only
  enduse check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2024-09-11 --db-as-of 2026-01-05T10:00:00Z";

/// Decide whether a party may use, deploy, transfer or re-export supplied
/// weapons, under the conditions of every party that binds them, as those
/// conditions stood on a date and as they were publicly known on another.
#[derive(Parser, Debug)]
#[command(name = "enduse", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Data-set directory (default: the bundled ukraine-2022-2025 data set).
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Control layer to use instead of the bundled one: GeoJSON features with
    /// `id`, `controlled_by`, `valid_from`, optional `valid_to`, `approximate`,
    /// `source` and `note` properties.
    #[arg(long, global = true, value_name = "FILE")]
    control: Option<PathBuf>,
    /// Database holding the register: a SQLite file, `postgres://...` (or a
    /// `host=... dbname=...` string), or `memory:`. Deciding commands read it
    /// instead of the bundled data set when given; the database commands
    /// default to ./enduse.db. [env: ENDUSE_DB]
    #[arg(long, global = true, value_name = "TARGET")]
    db: Option<String>,
    /// Answer from the database as it stood at this instant (RFC 3339, e.g.
    /// 2026-01-05T10:00:00Z): what it would have answered then.
    #[arg(long, global = true, value_name = "INSTANT")]
    db_as_of: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Decide a request: permit, forbid, needs approval, or indeterminate.
    Check(CheckArgs),
    /// List the parties whose conditions bind an item held by an actor, and why.
    ConsentChain(ChainArgs),
    /// List a party's rules in force on a date, as known on another.
    Policies(PoliciesArgs),
    /// Every change of every condition that binds a model, in date order.
    Timeline(TimelineArgs),
    /// Validate a data-set directory and report every problem with file and line.
    Validate(ValidateArgs),
    /// Where a point lies: de jure country and subdivision, and its distance to
    /// the Ukraine-Russia land border.
    Where(WhereArgs),
    /// Draw a map (SVG) of the decision for every point of the region.
    Map(MapArgs),
    /// Write a synthetic data set of any size (for benchmarks and load tests).
    Gen(GenArgs),
    /// Create the database (default ./enduse.db) and load the bundled data set.
    Init,
    /// Validate a data-set directory, then make the database's register equal
    /// to it in one transaction (new versions, retractions), or change nothing.
    Import(DirArg),
    /// Write the database's register (now, or at --db-as-of) as a data-set
    /// directory.
    Export(DirArg),
    /// Every version of one record, with valid, public-knowledge and entry
    /// times: `history policy ID`, `history party UA`, or `history --policy ID`.
    History(HistoryArgs),
    /// Every transaction of the database, with its instant: the values to give
    /// --db-as-of.
    Log,
    /// Write a new version of one record (or a new record) from a file.
    Put(PutArgs),
    /// Retract one record: a new version that says it no longer holds.
    Retract(RetractArgs),
}

#[derive(Args, Debug)]
struct DirArg {
    /// The data-set directory.
    dir: PathBuf,
}

#[derive(Args, Debug)]
struct HistoryArgs {
    /// Record kind: dataset, schema, source, party, place, category, model,
    /// lot, transfer, treaty, conflict, approval, policy or control.
    #[arg(required_unless_present = "policy")]
    kind: Option<String>,
    /// The record's id (a rule's @id, a party's id, a place's code).
    #[arg(required_unless_present = "policy")]
    key: Option<String>,
    /// Shorthand for `history policy ID`.
    #[arg(long, value_name = "ID", conflicts_with_all = ["kind", "key"])]
    policy: Option<String>,
}

#[derive(Args, Debug)]
struct PutArgs {
    /// Record kind (see `history`).
    kind: String,
    /// The record: a TOML table of its fields, the schema text, one Cedar
    /// rule with its @id, or one control area as JSON.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// The party owning a rule (default: the rule's current owner).
    #[arg(long, value_name = "PARTY")]
    owner: Option<String>,
    /// Refuse unless the record is at this version now (0: must be new), so
    /// that an edit based on an old read cannot overwrite a newer one.
    #[arg(long, value_name = "N")]
    expect_version: Option<i64>,
}

#[derive(Args, Debug)]
struct RetractArgs {
    /// Record kind (see `history`).
    kind: String,
    /// The record's id.
    key: String,
    /// Refuse unless the record is at this version now.
    #[arg(long, value_name = "N")]
    expect_version: Option<i64>,
}

#[derive(Args, Debug)]
struct GenArgs {
    /// Directory to write the data set into (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of parties.
    #[arg(long, default_value_t = 50)]
    parties: usize,
    /// Number of item models.
    #[arg(long, default_value_t = 2_000)]
    models: usize,
    /// Number of transfers.
    #[arg(long, default_value_t = 1_000_000)]
    transfers: usize,
    /// Number of rules.
    #[arg(long, default_value_t = 100_000)]
    policies: usize,
    /// Seed: the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args, Debug)]
struct MapArgs {
    #[command(flatten)]
    ask: AskArgs,
    /// Cell size in degrees of latitude (0.05 to 2).
    #[arg(long, default_value_t = 0.2)]
    cell: f64,
    /// Write the SVG here (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct WhereArgs {
    /// The point, LAT,LON in decimal degrees (e.g. 45.0,34.1).
    #[arg(allow_hyphen_values = true)]
    point: String,
    /// The day for control (default: today).
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
}

#[derive(Args, Debug)]
struct ItemArgs {
    /// Item model, by designation, name or alias (e.g. ATACMS, "Leopard 2").
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// A single lot, by id (see `enduse timeline`).
    #[arg(long, value_name = "LOT")]
    lot: Option<String>,
}

/// Who asks to do what with which item, when, and as known when: shared by
/// `check` and `map`.
#[derive(Args, Debug)]
struct AskArgs {
    /// The acting party (ISO 3166-1 code such as UA, or a party id).
    #[arg(long)]
    actor: String,
    /// What the actor wants to do.
    #[arg(long, value_parser = ["use", "deploy", "transfer", "reexport"])]
    action: String,
    #[command(flatten)]
    item: ItemArgs,
    /// The day of the action (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Use the public record as it stood on this day (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    known_at: Option<String>,
    /// Evaluate as if this authority had approved (repeatable), e.g. US:SecDef.
    #[arg(long, value_name = "AUTHORITY")]
    approval: Vec<String>,
    /// Which facts to use: `reported` (confirmed, stated positions and
    /// reported facts, the default) or `confirmed` (leave out facts reported
    /// only by media citing officials). Disputed facts are never used; the
    /// answer says what would change if they held.
    #[arg(long, value_name = "STATUS", value_parser = ["reported", "confirmed"], default_value = "reported")]
    status: String,
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    ask: AskArgs,
    /// Where: an ISO 3166-1 or 3166-2 code (UA, UA-43, RU-KRS).
    #[arg(long, value_name = "CODE", conflicts_with = "at")]
    place: Option<String>,
    /// Where, as LAT,LON: the place and the border distance are computed from
    /// Natural Earth boundaries.
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    at: Option<String>,
    /// To whom, for transfer and reexport.
    #[arg(long, value_name = "PARTY")]
    recipient: Option<String>,
    /// Class of target, from the data set's vocabulary (military,
    /// airfield, launch-site, civilian-infrastructure, ...).
    #[arg(long, value_name = "CLASS")]
    target_class: Option<String>,
    /// Purpose of the use, from the data set's vocabulary (self-defence,
    /// counter-fire, ...).
    #[arg(long, value_name = "PURPOSE")]
    purpose: Option<String>,
    /// Final destination of a transfer or re-export, where it differs from
    /// the immediate recipient.
    #[arg(long, value_name = "PARTY")]
    destination: Option<String>,
    /// Distance of the place from the Ukraine-Russia land border, in km
    /// (computed when --at is given).
    #[arg(long, value_name = "KM", conflicts_with = "at")]
    border_distance_km: Option<i64>,
}

#[derive(Args, Debug)]
struct ChainArgs {
    /// The party holding or using the item.
    #[arg(long)]
    actor: String,
    #[command(flatten)]
    item: ItemArgs,
    /// The day (default: today).
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
}

#[derive(Args, Debug)]
struct PoliciesArgs {
    /// The party whose rules to list.
    #[arg(long)]
    party: String,
    /// The day (default: today).
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Use the public record as it stood on this day (default: today).
    #[arg(long, value_name = "DATE")]
    known_at: Option<String>,
}

#[derive(Args, Debug)]
struct TimelineArgs {
    /// The model.
    #[arg(long)]
    model: String,
}

#[derive(Args, Debug)]
struct ValidateArgs {
    /// The data-set directory.
    dir: PathBuf,
}

/// Everything that makes the CLI exit with code 1.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    /// Bad command line.
    #[error("{0}")]
    #[diagnostic(code(enduse::usage))]
    Usage(String),
    /// Bad request.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Request(#[from] RequestError),
    /// Bad data set.
    #[error(transparent)]
    #[diagnostic(transparent)]
    DataSet(#[from] DataSetError),
    /// Bad coordinates.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Geo(#[from] enduse_geo::GeoError),
    /// A point outside every loaded polygon.
    #[error("no country at `{0}`: the point is at sea or outside the loaded boundaries")]
    #[diagnostic(
        code(enduse::no_country),
        help("give --place CODE instead, or a point on land in the covered region")
    )]
    NoCountry(String),
    /// A database problem, a conflict included.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] enduse_store::StoreError),
}

fn today() -> NaiveDate {
    // Tests pin the clock so that snapshots do not change from day to day.
    std::env::var("ENDUSE_TODAY")
        .ok()
        .and_then(|s| parse_day(&s).ok())
        .unwrap_or_else(|| chrono::Utc::now().date_naive())
}

fn day(field: &'static str, s: Option<&str>, default: NaiveDate) -> Result<NaiveDate, CliError> {
    match s {
        None => Ok(default),
        Some(s) => parse_day(s).map_err(|e| {
            CliError::Request(RequestError::BadDate {
                field,
                value: s.to_owned(),
                reason: e.to_string().replace(&format!("`{s}` "), ""),
                help: "write a single day as YYYY-MM-DD, for example 2024-09-11".into(),
            })
        }),
    }
}

/// The bundled boundaries, parsed once per process.
fn boundaries() -> Result<&'static enduse_geo::Boundaries, CliError> {
    static B: std::sync::OnceLock<Result<enduse_geo::Boundaries, enduse_geo::GeoError>> =
        std::sync::OnceLock::new();
    B.get_or_init(enduse_geo::Boundaries::bundled)
        .as_ref()
        .map_err(|e| CliError::Geo(e.clone()))
}

/// The control layer: `--control FILE`; else the database's (as of
/// `--db-as-of`) when one is read; else the data set's `control.json`; else
/// the bundled one.
fn control_layer(
    file: Option<&std::path::Path>,
    src: &Source,
) -> Result<enduse_geo::ControlLayer, CliError> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            CliError::Usage(format!(
                "cannot read `{}`: {}",
                f.display(),
                e.to_string().to_lowercase()
            ))
        })?;
        return parse_control(&text, &f.display().to_string());
    }
    if src.db.is_some() || src.db_as_of.is_some() {
        if let Some(text) = crate::db::control_json(&src.db_target(), src.db_as_of.as_deref())? {
            return parse_control(&text, "the database's control layer");
        }
    } else if let Some(dir) = &src.data {
        let path = dir.join(enduse_load::CONTROL_FILE);
        if path.is_file() {
            return control_layer(Some(&path), src);
        }
    }
    Ok(enduse_geo::ControlLayer::bundled(boundaries()?)?)
}

/// Reads a control layer named `name` (in messages) on the bundled
/// boundaries.
pub fn parse_control(text: &str, name: &str) -> Result<enduse_geo::ControlLayer, CliError> {
    enduse_geo::ControlLayer::from_json(text, boundaries()?).map_err(|e| match e {
        enduse_geo::GeoError::Data(m) => CliError::Usage(format!("`{name}`: {m}")),
        other => CliError::Geo(other),
    })
}

/// The register's named areas, compiled on the bundled boundaries.
fn named_areas(engine: &Engine) -> Result<enduse_geo::NamedAreas<'static>, CliError> {
    enduse_geo::NamedAreas::new(engine.register(), boundaries()?).map_err(|problems| {
        CliError::Usage(format!(
            "the register's named areas are invalid: {}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })
}

/// Checks what the loader leaves to the geography: the named areas of
/// `areas.toml` (outlines, cycles of unions, border stretches) and the
/// control layer `control.json` (outlines, dates, and that every
/// `controlled_by` is a party of `register`). Every problem is reported with
/// its file and the area's id; nothing is written when there is one.
pub fn check_geography(
    files: &enduse_load::DataFiles,
    register: &enduse_core::Register,
) -> Result<(), CliError> {
    use enduse_core::{Origin, Problem};
    let b = boundaries()?;
    let mut problems = Vec::new();
    if let Err(found) = enduse_geo::NamedAreas::new(register, b) {
        for p in found {
            problems.push(Problem::record(
                "area",
                p.id.as_deref().unwrap_or_default(),
                p.field,
                p.to_string(),
            ));
        }
    }
    if let Some(text) = files.get(enduse_load::CONTROL_FILE) {
        let control = |id: Option<&str>, message: String| {
            Problem::new(
                Origin::File {
                    file: enduse_load::CONTROL_FILE.into(),
                    span: id.and_then(|id| json_id_span(text, id)),
                },
                match id {
                    Some(id) => format!("control area `{id}`: {message}"),
                    None => message,
                },
            )
        };
        let found = enduse_geo::ControlLayer::check(text, b);
        if found.is_empty() {
            let layer = enduse_geo::ControlLayer::from_json(text, b)?;
            for (id, by) in layer.controllers() {
                if !register
                    .parties
                    .contains_key(&enduse_core::PartyId::new(by))
                {
                    problems.push(control(
                        Some(id),
                        format!("`controlled_by` `{by}` is not a party of the register"),
                    ));
                }
            }
        }
        for p in found {
            problems.push(control(p.id.as_deref(), p.message));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(enduse_load::DataSetError::from_problems(files, problems).into())
    }
}

/// The span of `"id": "ID"` in a JSON text, for locating a control area.
fn json_id_span(text: &str, id: &str) -> Option<std::ops::Range<usize>> {
    let quoted = serde_json::to_string(id).ok()?;
    let mut from = 0;
    while let Some(i) = text[from..].find(&quoted) {
        let at = from + i;
        let before = text[..at].trim_end();
        if before
            .strip_suffix(':')
            .is_some_and(|b| b.trim_end().ends_with("\"id\""))
        {
            let start = text[..at].rfind("\"id\"").unwrap_or(at);
            return Some(start..at + quoted.len());
        }
        from = at + quoted.len();
    }
    None
}

/// Who controls `point` on `date`, from `--control FILE` or the bundled layer.
fn control_at(
    point: enduse_geo::LatLon,
    date: NaiveDate,
    de_jure: &str,
    file: Option<&std::path::Path>,
    src: &Source,
) -> Result<enduse_geo::Control, CliError> {
    Ok(control_layer(file, src)?.control(point, date, de_jure))
}

/// Classifies `LAT,LON` on the bundled boundaries.
fn locate(s: &str) -> Result<(enduse_geo::Location, f64, enduse_geo::LatLon), CliError> {
    let point = enduse_geo::LatLon::parse(s)?;
    let b = boundaries()?;
    let loc = b
        .locate(point)
        .ok_or_else(|| CliError::NoCountry(s.to_owned()))?;
    Ok((loc, b.border_distance_km(point), point))
}

/// Where the register comes from.
struct Source {
    data: Option<PathBuf>,
    db: Option<String>,
    db_as_of: Option<String>,
}

impl Source {
    fn db_target(&self) -> String {
        self.db
            .clone()
            .unwrap_or_else(|| crate::db::DEFAULT_DB.to_owned())
    }
}

/// The engine, kept for the life of the process: each command makes one, and
/// freeing a large register at exit took a tenth of the run for nothing.
fn load(src: &Source) -> Result<&'static Engine, CliError> {
    let engine = if src.db.is_some() || src.db_as_of.is_some() {
        crate::db::engine(&src.db_target(), src.db_as_of.as_deref())?
    } else {
        match &src.data {
            Some(d) => enduse_load::load_dir(d)?,
            None => enduse_load::load_bundled()?,
        }
    };
    Ok(Box::leak(Box::new(engine)))
}

fn item(engine: &Engine, a: &ItemArgs) -> Result<ItemRef, CliError> {
    match (&a.model, &a.lot) {
        (None, None) => Err(CliError::Usage("give --model or --lot".into())),
        (Some(m), None) => Ok(ItemRef::Model(engine.resolve_model(m)?)),
        (None, Some(l)) => Ok(ItemRef::Lot(engine.resolve_lot(l)?)),
        (Some(m), Some(l)) => {
            let model = engine.resolve_model(m)?;
            let lot = engine.resolve_lot(l)?;
            let lot_model = engine
                .register()
                .lots
                .get(&lot)
                .map(|x| x.model.clone())
                .ok_or_else(|| CliError::Usage(format!("lot `{lot}` has no model")))?;
            if lot_model != model {
                return Err(RequestError::LotModelMismatch {
                    lot: lot.to_string(),
                    lot_model: lot_model.to_string(),
                    model: model.to_string(),
                }
                .into());
            }
            Ok(ItemRef::Lot(lot))
        }
    }
}

/// The query common to `check` and `map`, with no place or recipient yet.
fn base_query(engine: &Engine, a: &AskArgs, now: NaiveDate) -> Result<Query, CliError> {
    let as_of = day("as-of", a.as_of.as_deref(), now)?;
    let known_at = day("known-at", a.known_at.as_deref(), now)?;
    check_dates(as_of, known_at, now)?;
    Ok(Query {
        actor: engine.resolve_party(&a.actor)?,
        action: Action::parse(&a.action)
            .ok_or_else(|| CliError::Usage(format!("unknown action `{}`", a.action)))?,
        item: item(engine, &a.item)?,
        place: None,
        recipient: None,
        target_class: None,
        purpose: None,
        destination: None,
        statuses: if a.status == "confirmed" {
            enduse_core::StatusFilter::Confirmed
        } else {
            enduse_core::StatusFilter::Reported
        },
        border_distance_km: None,
        areas: None,
        controlled_by: None,
        as_of,
        known_at,
        approvals: a
            .approval
            .iter()
            .map(|x| engine.resolve_authority(x))
            .collect::<Result<_, _>>()?,
    })
}

/// Runs the CLI with `args`, writing to `out` and `err`; returns the exit code.
pub fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
            // Colour only for a person at a terminal; pipes and files get plain text.
            let text = if code == 0 && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            if code == 0 {
                let _ = write!(out, "{text}");
            } else {
                let _ = write!(err, "{text}");
            }
            return code;
        }
    };
    let json = cli.json;
    match dispatch(cli, out) {
        Ok(code) => code,
        Err(e) => {
            if json {
                let _ = writeln!(out, "{}", render::error_json(&e));
            } else {
                let report = miette::Report::new(e);
                let _ = writeln!(err, "{report:?}");
            }
            1
        }
    }
}

fn dispatch(cli: Cli, out: &mut dyn Write) -> Result<i32, CliError> {
    let now = today();
    let control_file = cli.control.as_deref();
    let src = Source {
        data: cli.data.clone(),
        db: cli
            .db
            .clone()
            .or_else(|| std::env::var("ENDUSE_DB").ok().filter(|s| !s.is_empty())),
        db_as_of: cli.db_as_of.clone(),
    };
    if cli.data.is_some() && (cli.db.is_some() || cli.db_as_of.is_some()) {
        return Err(CliError::Usage(
            "give --data DIR or --db TARGET, not both: one register answers".into(),
        ));
    }
    let target = src.db_target();
    let json = cli.json;
    let w = |out: &mut dyn Write, s: String| {
        let _ = out.write_all(s.as_bytes());
    };
    match cli.command {
        Command::Init => {
            w(out, crate::db::init(&target, json)?);
            Ok(0)
        }
        Command::Import(d) => {
            w(out, crate::db::import(&target, &d.dir, json)?);
            Ok(0)
        }
        Command::Export(d) => {
            w(
                out,
                crate::db::export(&target, src.db_as_of.as_deref(), &d.dir, json)?,
            );
            Ok(0)
        }
        Command::History(h) => {
            let (kind, key) = match (h.policy, h.kind, h.key) {
                (Some(p), _, _) => ("policy".to_owned(), p),
                (None, Some(k), Some(key)) => (k, key),
                _ => return Err(CliError::Usage("give KIND KEY or --policy ID".into())),
            };
            w(out, crate::db::history(&target, &kind, &key, json)?);
            Ok(0)
        }
        Command::Log => {
            w(out, crate::db::log(&target, json)?);
            Ok(0)
        }
        Command::Put(p) => {
            w(
                out,
                crate::db::put(
                    &target,
                    &p.kind,
                    &p.file,
                    p.owner.as_deref(),
                    p.expect_version,
                    json,
                )?,
            );
            Ok(0)
        }
        Command::Retract(r) => {
            w(
                out,
                crate::db::retract(&target, &r.kind, &r.key, r.expect_version, json)?,
            );
            Ok(0)
        }
        Command::Gen(g) => {
            let spec = crate::gen::GenSpec {
                parties: g.parties,
                models: g.models,
                transfers: g.transfers,
                policies: g.policies,
                seed: g.seed,
            };
            let bar = crate::progress::Bar::new("generating", cli.json);
            crate::gen::generate(&g.out, spec, &|d, t| bar.set(d, t)).map_err(|e| {
                CliError::Usage(format!(
                    "cannot write `{}`: {}",
                    g.out.display(),
                    e.to_string().to_lowercase()
                ))
            })?;
            bar.finish();
            w(out, render::generated(&g.out, &spec, cli.json));
            Ok(0)
        }
        Command::Validate(v) => {
            let files = enduse_load::DataFiles::read_dir(&v.dir)?;
            let engine = enduse_load::load_files(&files)?;
            check_geography(&files, engine.register())?;
            w(
                out,
                render::validated(&engine, &v.dir.display().to_string(), cli.json),
            );
            Ok(0)
        }
        Command::Check(c) => {
            let engine: &Engine = load(&src)?;
            let mut q = base_query(engine, &c.ask, now)?;
            match &c.at {
                None => {
                    q.place = c
                        .place
                        .as_deref()
                        .map(|p| engine.resolve_place(p))
                        .transpose()?;
                    q.border_distance_km = c.border_distance_km;
                }
                Some(at) => {
                    let point = enduse_geo::LatLon::parse(at)?;
                    let layer = control_layer(control_file, &src)?;
                    let areas = named_areas(engine)?;
                    crate::map::point_facts(engine, boundaries()?, &layer, &areas, point, q.as_of)
                        .ok_or_else(|| CliError::NoCountry(at.clone()))?
                        .apply(&mut q);
                }
            }
            q.recipient = c
                .recipient
                .as_deref()
                .map(|p| engine.resolve_party(p))
                .transpose()?;
            q.target_class = c.target_class;
            q.purpose = c.purpose;
            q.destination = c
                .destination
                .as_deref()
                .map(|p| engine.resolve_party(p))
                .transpose()?;
            let d = engine.decide(&q)?;
            w(
                out,
                if cli.json {
                    render::json(&d)
                } else {
                    render::decision(engine, &d)
                },
            );
            Ok(d.outcome.exit_code())
        }
        Command::ConsentChain(c) => {
            let engine: &Engine = load(&src)?;
            let actor = engine.resolve_party(&c.actor)?;
            let item = item(engine, &c.item)?;
            let as_of = day("as-of", c.as_of.as_deref(), now)?;
            let chain = engine.chain(&actor, &item, as_of)?;
            w(
                out,
                render::chain(engine, &actor, &item, as_of, &chain, cli.json),
            );
            Ok(0)
        }
        Command::Policies(p) => {
            let engine: &Engine = load(&src)?;
            let party = engine.resolve_party(&p.party)?;
            let as_of = day("as-of", p.as_of.as_deref(), now)?;
            let known_at = day("known-at", p.known_at.as_deref(), now)?;
            check_dates(as_of, known_at, now)?;
            let rules = engine.rules_in_force(&party, as_of, known_at);
            w(
                out,
                render::policies(engine, &party, as_of, known_at, &rules, cli.json),
            );
            Ok(0)
        }
        Command::Where(wh) => {
            let (loc, km, point) = locate(&wh.point)?;
            let as_of = day("as-of", wh.as_of.as_deref(), now)?;
            let control = control_at(point, as_of, &loc.country, control_file, &src)?;
            let engine: &Engine = load(&src)?;
            let chain = enduse_geo::de_jure_chain(engine.register(), &loc);
            let areas = named_areas(engine)?.containing(point, &chain, as_of);
            w(
                out,
                render::location(&point, &loc, km, as_of, &control, &areas, cli.json),
            );
            Ok(0)
        }
        Command::Map(m) => {
            let engine: &Engine = load(&src)?;
            if !(0.05..=2.0).contains(&m.cell) {
                return Err(CliError::Usage(format!(
                    "--cell `{}` must be between 0.05 and 2 degrees",
                    m.cell
                )));
            }
            let template = base_query(engine, &m.ask, now)?;
            let (as_of, known_at) = (template.as_of, template.known_at);
            let geo = boundaries()?;
            let summary = crate::map::render(
                engine,
                geo,
                &control_layer(control_file, &src)?,
                &named_areas(engine)?,
                &template,
                m.cell,
            );
            if let Some(path) = &m.out {
                std::fs::write(path, &summary.svg).map_err(|e| {
                    CliError::Usage(format!(
                        "cannot write `{}`: {}",
                        path.display(),
                        e.to_string().to_lowercase()
                    ))
                })?;
            }
            if cli.json {
                w(
                    out,
                    render::json(&serde_json::json!({
                        "out": m.out,
                        "as_of": as_of,
                        "known_at": known_at,
                        "cells": summary.cells,
                        "sources": summary.sources,
                    })),
                );
            } else if m.out.is_none() {
                w(out, summary.svg);
            } else {
                let counts: Vec<String> = summary
                    .cells
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                w(
                    out,
                    format!(
                        "wrote {} ({} cells: {})\n",
                        m.out
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        summary.cells.values().sum::<usize>(),
                        counts.join(", ")
                    ),
                );
            }
            Ok(0)
        }
        Command::Timeline(t) => {
            let engine: &Engine = load(&src)?;
            let model = engine.resolve_model(&t.model)?;
            let events = enduse_core::timeline(engine, &model)?;
            w(out, render::timeline(engine, &model, &events, cli.json));
            Ok(0)
        }
    }
}
