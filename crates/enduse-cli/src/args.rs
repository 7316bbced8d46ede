// The command line: every subcommand, its options and its examples. Only
// clap and std are used here, because build.rs includes this file to write
// the man pages.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Shown after the top-level help.
pub const AFTER_HELP: &str = "\
Exit codes: 0 permit or success, 1 error (bad input included), 2 forbid, 3 needs approval, 4 indeterminate.

Examples:
  enduse check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2024-09-11
  enduse check --actor Ukraine --action use --model ATACMS --place Kursk --as-of 2025-06-15 --known-at 2025-07-01
  enduse check --actor PL --action reexport --model \"Leopard 2\" --recipient UA --as-of 2023-01-18
  enduse consent-chain --actor UA --model \"Storm Shadow\"
  enduse list places --search kursk

A database that keeps every version (SQLite by default, or PostgreSQL):
  enduse init                                   # ./enduse.db with the bundled data set
  enduse import my-register/ --dry-run           # what an import would change
  enduse history --policy us-atacms-ukraine-only
  enduse check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2024-09-11 --db-as-of 2026-01-05T10:00:00Z

`enduse COMMAND --help` shows a command's options and examples.";

const GLOBAL: &str = "Global options";

/// Decide whether a party may use, deploy, transfer or re-export supplied
/// weapons, under the conditions of every party that binds them, as those
/// conditions stood on a date and as they were publicly known on another.
#[derive(Parser, Debug)]
#[command(name = "enduse", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Data-set directory (default: the bundled ukraine-2022-2025 data set).
    #[arg(long, global = true, value_name = "DIR", help_heading = GLOBAL)]
    pub data: Option<PathBuf>,
    /// Print machine-readable JSON instead of text (errors too, on standard
    /// output).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// Control layer to use instead of the register's: GeoJSON features with
    /// `id`, `controlled_by`, `valid_from`, optional `valid_to`,
    /// `approximate`, `source` and `note` properties.
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub control: Option<PathBuf>,
    /// Database holding the register: a SQLite file, `postgres://...` (or a
    /// `host=... dbname=...` string), or `memory:`. Deciding commands read it
    /// (read-only) instead of the bundled data set when given; the database
    /// commands default to ./enduse.db. [env: ENDUSE_DB]
    #[arg(long, global = true, value_name = "TARGET", help_heading = GLOBAL)]
    pub db: Option<String>,
    /// Answer from the database as it stood at this instant (RFC 3339, e.g.
    /// 2026-01-05T10:00:00Z): what it would have answered then.
    #[arg(long, global = true, value_name = "INSTANT", help_heading = GLOBAL)]
    pub db_as_of: Option<String>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decide a request: permit, forbid, needs approval, or indeterminate.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// List the parties whose conditions bind an item held by an actor, and why.
    #[command(after_help = "Examples:
  enduse consent-chain --actor UA --model \"Storm Shadow\"
  enduse consent-chain --actor Poland --model \"Leopard 2\" --as-of 2023-01-18")]
    ConsentChain(ChainArgs),
    /// List a party's rules in force on a date, as known on another.
    #[command(after_help = "Examples:
  enduse policies --party US --as-of 2025-06-15
  enduse policies --party \"United States\" --as-of 2025-06-15 --known-at 2025-07-01")]
    Policies(PoliciesArgs),
    /// Every change of every condition that binds a model, in date order.
    #[command(after_help = "Examples:
  enduse timeline --model ATACMS
  enduse --json timeline --model \"Leopard 2\"")]
    Timeline(TimelineArgs),
    /// List what the register holds: parties, models, places, authorities or
    /// named areas, with the codes every option takes.
    #[command(
        after_help = "Names work as well as codes wherever they are unambiguous:
--place Kursk is RU-KRS, --actor UK is GB.

Examples:
  enduse list parties
  enduse list places --search kursk
  enduse list models --search leopard
  enduse --json list authorities --search US"
    )]
    List(ListArgs),
    /// Validate a data-set directory and report every problem with file and line.
    #[command(after_help = "Examples:
  enduse validate data/ukraine-2022-2025
  enduse --json validate my-register/")]
    Validate(ValidateArgs),
    /// Where a point lies: de jure country and subdivision, who controls it,
    /// its distance to the Ukraine-Russia land border, and the named areas
    /// that contain it.
    #[command(after_help = "Examples:
  enduse where 45.0,34.1 --as-of 2024-09-11
  enduse --json where 50.6,36.6")]
    Where(WhereArgs),
    /// Draw a map (SVG) of the decision for every point of the region.
    #[command(after_help = "Examples:
  enduse map --actor UA --action use --model ATACMS --as-of 2025-06-15 --out map.svg
  enduse map --actor UA --action use --model HIMARS --as-of 2024-06-15 --cell 0.1 > himars.svg")]
    Map(MapArgs),
    /// Write a synthetic data set (small by default; give the sizes for a
    /// load test).
    #[command(after_help = "Examples:
  enduse gen --out synthetic/                                  # 1,000 transfers
  enduse gen --out big/ --transfers 1000000 --policies 100000 --models 2000 --parties 50")]
    Gen(GenArgs),
    /// Create the database (default ./enduse.db) and load the bundled data set.
    #[command(after_help = "Examples:
  enduse init
  enduse init --db postgres://enduse@localhost/enduse")]
    Init,
    /// Validate a data-set directory, then make the database's register equal
    /// to it in one transaction, or change nothing.
    #[command(
        after_help = "Records the directory lacks are retracted only with --allow-retract;
without it, an import that would retract any refuses and writes nothing.

Examples:
  enduse import my-register/ --dry-run       # list every change, write nothing
  enduse import my-register/
  enduse import my-register/ --allow-retract"
    )]
    Import(ImportArgs),
    /// Write the database's register (now, or at --db-as-of) as a data-set
    /// directory.
    #[command(
        after_help = "The files are written to a temporary directory beside DIR and renamed into
place at the end: a failed export leaves nothing behind.

Examples:
  enduse export out/
  enduse export then/ --db-as-of 2026-01-05T10:00:00Z"
    )]
    Export(DirArg),
    /// Every version of one record, with valid, public-knowledge and entry
    /// times.
    #[command(after_help = "Examples:
  enduse history policy us-atacms-ukraine-only
  enduse history --policy us-atacms-ukraine-only
  enduse history party UA")]
    History(HistoryArgs),
    /// Every transaction of the database, with its instant: the values to give
    /// --db-as-of.
    #[command(after_help = "Examples:
  enduse log
  enduse --json log --db postgres://enduse@localhost/enduse")]
    Log,
    /// Write a new version of one record (or a new record) from a file.
    #[command(
        after_help = "A record that exists is replaced only with --expect-version N, its current
version (see `enduse history`); a file with the same content writes nothing.

Examples:
  enduse put policy --file new-rule.cedar --owner US        # a new rule
  enduse put policy --file rule.cedar --expect-version 2     # replaces version 2
  enduse put party --file party.toml --expect-version 1"
    )]
    Put(PutArgs),
    /// Retract one record: a new version that says it no longer holds.
    #[command(after_help = "Examples:
  enduse retract policy ch-embargo-ru-ua
  enduse retract policy ch-embargo-ru-ua --expect-version 1")]
    Retract(RetractArgs),
    /// Write shell completions to standard output.
    #[command(after_help = "Examples:
  enduse completions bash > /etc/bash_completion.d/enduse
  enduse completions zsh > ~/.zfunc/_enduse
  enduse completions fish > ~/.config/fish/completions/enduse.fish")]
    Completions(CompletionsArgs),
    /// Write the man pages (made when enduse was built).
    #[command(after_help = "Examples:
  enduse man | man -l -
  enduse man --out /usr/local/share/man/man1")]
    Man(ManArgs),
}

const CHECK_EXAMPLES: &str = "\
Names work as well as codes wherever they are unambiguous (--place Kursk, --actor UK).
A month as --as-of (2024-09) decides every day of it and answers with the strictest.

Examples:
  enduse check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2024-09-11
  enduse check --actor UA --action use --model ATACMS --place Kursk --as-of 2024-09
  enduse check --actor UA --action use --model HIMARS --at 50.6,36.6 --as-of 2024-06-15 --explain
  enduse check --actor PL --action reexport --model \"Leopard 2\" --recipient UA --as-of 2023-01-18
  enduse check --batch requests.jsonl          # one JSON request per line, one JSON decision per line";

/// A data-set directory.
#[derive(Args, Debug)]
pub struct DirArg {
    /// The data-set directory.
    pub dir: PathBuf,
}

/// `import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The data-set directory.
    pub dir: PathBuf,
    /// Print every change the import would make, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Retract the records the directory lacks (without it, an import that
    /// would retract any refuses).
    #[arg(long)]
    pub allow_retract: bool,
}

/// `history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Record kind: dataset, schema, source, party, place, category, model,
    /// lot, transfer, treaty, conflict, approval, default, group, target,
    /// purpose, area, policy or control.
    #[arg(required_unless_present = "policy")]
    pub kind: Option<String>,
    /// The record's id (a rule's @id, a party's id, a place's code).
    #[arg(required_unless_present = "policy")]
    pub key: Option<String>,
    /// Shorthand for `history policy ID`.
    #[arg(long, value_name = "ID", conflicts_with_all = ["kind", "key"])]
    pub policy: Option<String>,
}

/// `put`.
#[derive(Args, Debug)]
pub struct PutArgs {
    /// Record kind (see `history`).
    pub kind: String,
    /// The record: a TOML table of its fields, the schema text, one Cedar
    /// rule with its @id, or one control area as JSON.
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// The party owning a rule (default: the rule's current owner).
    #[arg(long, value_name = "PARTY")]
    pub owner: Option<String>,
    /// The record's current version, which this one replaces (0: the record
    /// must be new). Required to replace a record that exists.
    #[arg(long, value_name = "N")]
    pub expect_version: Option<i64>,
}

/// `retract`.
#[derive(Args, Debug)]
pub struct RetractArgs {
    /// Record kind (see `history`).
    pub kind: String,
    /// The record's id.
    pub key: String,
    /// Refuse unless the record is at this version now.
    #[arg(long, value_name = "N")]
    pub expect_version: Option<i64>,
}

/// `gen`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Directory to write the data set into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of parties.
    #[arg(long, default_value_t = 20)]
    pub parties: usize,
    /// Number of item models.
    #[arg(long, default_value_t = 100)]
    pub models: usize,
    /// Number of transfers.
    #[arg(long, default_value_t = 1_000)]
    pub transfers: usize,
    /// Number of rules.
    #[arg(long, default_value_t = 200)]
    pub policies: usize,
    /// Seed: the same seed writes the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `map`.
#[derive(Args, Debug)]
pub struct MapArgs {
    /// Who asks.
    #[command(flatten)]
    pub ask: AskArgs,
    /// Cell size in degrees of latitude (0.05 to 2).
    #[arg(long, default_value_t = 0.2)]
    pub cell: f64,
    /// Write the SVG here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `where`.
#[derive(Args, Debug)]
pub struct WhereArgs {
    /// The point, LAT,LON in decimal degrees (e.g. 45.0,34.1).
    #[arg(allow_hyphen_values = true)]
    pub point: String,
    /// The day for control and named areas (default: today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

/// A model or a lot.
#[derive(Args, Debug)]
pub struct ItemArgs {
    /// Item model, by designation, name or alias (e.g. ATACMS, "Leopard 2");
    /// see `enduse list models`.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// A single lot, by id (see `enduse timeline`).
    #[arg(long, value_name = "LOT")]
    pub lot: Option<String>,
}

/// Who asks to do what with which item: `map`'s request.
#[derive(Args, Debug)]
pub struct AskArgs {
    /// The acting party: a code (UA) or a name (Ukraine); see `enduse list
    /// parties`.
    #[arg(long)]
    pub actor: String,
    /// What the actor wants to do.
    #[arg(long, value_parser = ["use", "deploy", "transfer", "reexport"])]
    pub action: String,
    /// Item, dates, approvals, status.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What `check` and `map` share besides actor and action.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// The item.
    #[command(flatten)]
    pub item: ItemArgs,
    /// The day of the action (YYYY-MM-DD; default: today). `check` also takes
    /// a month (YYYY-MM): it decides every day of it.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Use the public record as it stood on this day (YYYY-MM-DD; default:
    /// today).
    #[arg(long, value_name = "DATE")]
    pub known_at: Option<String>,
    /// Evaluate as if this authority had approved (repeatable), e.g.
    /// US:SecDef; see `enduse list authorities`.
    #[arg(long, value_name = "AUTHORITY")]
    pub approval: Vec<String>,
    /// Which facts to use: `reported` (confirmed, stated positions and
    /// reported facts, the default) or `confirmed` (leave out facts reported
    /// only by media citing officials). Disputed facts are never used; the
    /// answer says what would change if they held.
    #[arg(long, value_name = "STATUS", value_parser = ["reported", "confirmed"])]
    pub status: Option<String>,
}

/// `check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The acting party: a code (UA) or a name (Ukraine); see `enduse list
    /// parties`.
    #[arg(long, required_unless_present = "batch")]
    pub actor: Option<String>,
    /// What the actor wants to do.
    #[arg(long, value_parser = ["use", "deploy", "transfer", "reexport"], required_unless_present = "batch")]
    pub action: Option<String>,
    /// Item, dates, approvals, status.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Where: an ISO 3166-1 or 3166-2 code (UA, UA-43, RU-KRS) or a place's
    /// name (Kursk); see `enduse list places`.
    #[arg(long, value_name = "PLACE", conflicts_with = "at")]
    pub place: Option<String>,
    /// Where, as LAT,LON: the place, the border distance, who controls it and
    /// the named areas are computed.
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// To whom (transfer and reexport need one).
    #[arg(long, value_name = "PARTY")]
    pub recipient: Option<String>,
    /// Class of target, from the data set's vocabulary (military,
    /// airfield, launch-site, civilian-infrastructure, ...).
    #[arg(long, value_name = "CLASS")]
    pub target_class: Option<String>,
    /// Purpose of the use, from the data set's vocabulary (self-defence,
    /// counter-fire, ...).
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: Option<String>,
    /// Final destination of a transfer or re-export, where it differs from
    /// the immediate recipient.
    #[arg(long, value_name = "PARTY")]
    pub destination: Option<String>,
    /// Distance of the place from the Ukraine-Russia land border, in km (0
    /// or more; a decimal is rounded up; computed when --at is given).
    #[arg(
        long,
        value_name = "KM",
        conflicts_with = "at",
        allow_negative_numbers = true
    )]
    pub border_distance_km: Option<f64>,
    /// Also list every rule considered, and why each was used or not.
    #[arg(long)]
    pub explain: bool,
    /// Decide a file of requests, one JSON object per line (the fields of
    /// the options above: actor, action, model, place, at, as_of, ...), `-`
    /// for standard input; writes one JSON decision (or error) per line.
    #[arg(long, value_name = "FILE.jsonl")]
    pub batch: Option<PathBuf>,
}

/// `consent-chain`.
#[derive(Args, Debug)]
pub struct ChainArgs {
    /// The party holding or using the item (code or name).
    #[arg(long)]
    pub actor: String,
    /// The item.
    #[command(flatten)]
    pub item: ItemArgs,
    /// The day (default: today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

/// `policies`.
#[derive(Args, Debug)]
pub struct PoliciesArgs {
    /// The party whose rules to list (code or name).
    #[arg(long)]
    pub party: String,
    /// The day (default: today).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Use the public record as it stood on this day (default: today).
    #[arg(long, value_name = "DATE")]
    pub known_at: Option<String>,
}

/// `timeline`.
#[derive(Args, Debug)]
pub struct TimelineArgs {
    /// The model (designation, name or alias).
    #[arg(long)]
    pub model: String,
}

/// `validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The data-set directory.
    pub dir: PathBuf,
}

/// What `list` lists.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListWhat {
    /// States, companies and treaty regimes.
    Parties,
    /// Item models (with their aliases).
    Models,
    /// Countries and subdivisions.
    Places,
    /// Authorities that can approve (`US:SecDef`).
    Authorities,
    /// Named areas (border bands, drawn areas).
    Areas,
}

impl ListWhat {
    /// The name the library takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ListWhat::Parties => "parties",
            ListWhat::Models => "models",
            ListWhat::Places => "places",
            ListWhat::Authorities => "authorities",
            ListWhat::Areas => "areas",
        }
    }
}

/// `list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// What to list.
    #[arg(value_enum)]
    pub what: ListWhat,
    /// Only entries whose code, name or alias contains this text (any case).
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
}

/// A shell.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// GNU Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// `completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write every page (enduse.1, enduse-check.1, ...) into this directory
    /// instead of printing enduse.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
