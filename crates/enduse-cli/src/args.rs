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
  enduse timeline --model ATACMS --svg atacms.svg
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
  enduse map --actor UA --action use --model HIMARS --as-of 2024-06-15 --purpose counter-fire > himars.svg
  enduse map --actor UA --action use --model ATACMS --as-of 2024-11-25 --out m.svg --geojson m.geojson")]
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
    /// Serve the register over HTTP (the API under /v1/, its description at
    /// /openapi.json) until SIGTERM or Ctrl-C.
    #[command(
        after_help = "Reads are open to anyone who can reach the server (127.0.0.1 by default),
unless --private; writes and workflow actions need a token of a user of the
database (`enduse token create USER`). Prints `enduse: listening on
http://ADDR` to standard error once bound (--listen 127.0.0.1:0 picks a port).

Examples:
  enduse serve --db enduse.db --listen 127.0.0.1:8080
  enduse serve --db postgres://enduse@localhost/enduse --private"
    )]
    Serve(ServeArgs),
    /// Manage the database's users (as its operator).
    #[command(
        subcommand,
        after_help = "Examples:
  enduse user add kyiv-mod --party UA --role requester
  enduse user add secdef-office --authority US:SecDef --role reviewer
  enduse user list
  enduse user disable kyiv-mod"
    )]
    User(UserCommand),
    /// Manage bearer tokens (as the database's operator).
    #[command(
        subcommand,
        after_help = "Examples:
  enduse token create kyiv-mod          # prints the token once; only its hash is stored
  enduse token create kyiv-mod --expires 2026-12-31 --label laptop
  enduse token list kyiv-mod
  enduse token revoke 3f2a9c01b4de"
    )]
    Token(TokenCommand),
    /// Set how many members of an authority must approve a request.
    #[command(
        subcommand,
        after_help = "Examples:
  enduse quorum set US:SecDef 2"
    )]
    Quorum(QuorumCommand),
    /// File, list, show, review or withdraw approval requests, as a user of
    /// the database.
    #[command(
        subcommand,
        after_help = "Examples:
  enduse request file --as kyiv-mod --action use --model ATACMS --at 51.73,36.19 \\
      --from 2025-06-16 --to 2025-06-20 --justification \"...\"
  enduse request list --as secdef-office --authority US:SecDef --status pending
  enduse request show ID --as secdef-office
  enduse request review ID --as secdef-office --verdict approve --reason \"...\"
  enduse request withdraw ID --as kyiv-mod"
    )]
    Request(RequestCommand),
    /// Check, prove and export the database's tamper-evident audit log.
    #[command(
        subcommand,
        after_help = "Examples:
  enduse audit verify --db enduse.db                  # exit 0, or 1 naming the first bad entry
  enduse audit checkpoint
  enduse audit export log.json
  enduse audit prove 5 --export log.json --key \"$KEY\"   # offline, with a trusted key"
    )]
    Audit(AuditCommand),
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
    /// Resolution of the fall-back grid, in degrees of latitude (0.05 to
    /// 2): the regions follow the real boundaries, and only where a fact
    /// varies within a polygon (e.g. a border band along one stretch of the
    /// border, near its ends) are cells of this size decided one by one.
    #[arg(long, default_value_t = 0.05)]
    pub cell: f64,
    /// Class of target, from the data set's vocabulary (military,
    /// airfield, ...).
    #[arg(long, value_name = "CLASS")]
    pub target_class: Option<String>,
    /// Purpose of the use, from the data set's vocabulary (self-defence,
    /// counter-fire, ...).
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: Option<String>,
    /// Write the SVG here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the decided regions as GeoJSON here (a FeatureCollection:
    /// outcome, authorities, deciding rules and facts of each region).
    #[arg(long, value_name = "FILE")]
    pub geojson: Option<PathBuf>,
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
    /// Also draw the timeline as an SVG picture into this file: one lane
    /// per party, markers for public dates, imprecise dates, reported and
    /// disputed facts and consent decisions.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
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

/// `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen, HOST:PORT (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Reads need a token too.
    #[arg(long)]
    pub private: bool,
    /// The API's Cedar policies (default: the bundled api.cedar).
    #[arg(long, value_name = "FILE")]
    pub policies: Option<PathBuf>,
}

/// A role of a user.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleArg {
    /// Files requests for its party.
    Requester,
    /// Reviews requests for its authorities.
    Reviewer,
    /// Writes rules and records.
    Editor,
    /// Manages users and tokens.
    Admin,
}

impl RoleArg {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleArg::Requester => "requester",
            RoleArg::Reviewer => "reviewer",
            RoleArg::Editor => "editor",
            RoleArg::Admin => "admin",
        }
    }
}

/// `user`.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user.
    Add(UserAddArgs),
    /// List the users.
    List,
    /// Disable a user: its tokens are refused.
    Disable(IdArg),
}

/// `user add`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("membership").args(["party", "authority"]).required(true).multiple(true))]
pub struct UserAddArgs {
    /// The user's id (lowercase letters, digits, `.`, `_`, `-`, `@`).
    pub id: String,
    /// The party it acts for (a requester needs one).
    #[arg(long, value_name = "PARTY")]
    pub party: Option<String>,
    /// An authority it is a member of (repeatable), e.g. US:SecDef.
    #[arg(long, value_name = "AUTHORITY")]
    pub authority: Vec<String>,
    /// A role (repeatable).
    #[arg(long, value_enum, value_name = "ROLE", required = true)]
    pub role: Vec<RoleArg>,
    /// A name to show.
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
}

/// An id.
#[derive(Args, Debug)]
pub struct IdArg {
    /// The id.
    pub id: String,
}

/// `token`.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token for a user and print it (once: only its hash is kept).
    Create(TokenCreateArgs),
    /// List the tokens (of one user), without their secrets.
    List(TokenListArgs),
    /// Revoke a token, by its id (or the token itself).
    Revoke(IdArg),
}

/// `token create`.
#[derive(Args, Debug)]
pub struct TokenCreateArgs {
    /// The user.
    pub user: String,
    /// When it expires: a day (YYYY-MM-DD, at 00:00 UTC) or an RFC 3339
    /// instant (default: in 90 days).
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
    /// A label, to tell tokens apart.
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
}

/// `token list`.
#[derive(Args, Debug)]
pub struct TokenListArgs {
    /// Only this user's tokens.
    pub user: Option<String>,
}

/// `quorum`.
#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// Set the approvals an authority requires (1 to 100) of requests filed
    /// from now on.
    Set(QuorumSetArgs),
}

/// `quorum set`.
#[derive(Args, Debug)]
pub struct QuorumSetArgs {
    /// The authority, e.g. US:SecDef.
    pub authority: String,
    /// How many of its members must approve.
    pub approvals: u32,
}

/// The user a workflow command acts as.
#[derive(Args, Debug)]
pub struct AsArg {
    /// The user to act as (whoever can open the database can act as any
    /// user).
    #[arg(long = "as", value_name = "USER")]
    pub user: String,
}

/// `request`.
#[derive(Subcommand, Debug)]
pub enum RequestCommand {
    /// File a request for approval, for the user's party.
    File(Box<RequestFileArgs>),
    /// List the requests the user may see.
    List(RequestListArgs),
    /// Show one request.
    Show(RequestIdArgs),
    /// Approve or refuse a request, for an authority the user is a member of.
    Review(RequestReviewArgs),
    /// Withdraw a pending request.
    Withdraw(RequestWithdrawArgs),
}

/// `request file`.
#[derive(Args, Debug)]
pub struct RequestFileArgs {
    /// Who files.
    #[command(flatten)]
    pub who: AsArg,
    /// The ask as a JSON file (the fields of `check --batch`'s lines),
    /// instead of the options below.
    #[arg(long, value_name = "FILE.json", conflicts_with_all = ["actor", "action", "model", "lot", "place", "at", "recipient", "target_class", "purpose", "destination", "border_distance_km"])]
    pub ask: Option<PathBuf>,
    /// The acting party (default: the user's party).
    #[arg(long)]
    pub actor: Option<String>,
    /// What the actor wants to do.
    #[arg(long, value_parser = ["use", "deploy", "transfer", "reexport"], required_unless_present = "ask")]
    pub action: Option<String>,
    /// The item model.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// A single lot.
    #[arg(long, value_name = "LOT")]
    pub lot: Option<String>,
    /// Where: an ISO 3166 code or a place's name.
    #[arg(long, value_name = "PLACE", conflicts_with = "at")]
    pub place: Option<String>,
    /// Where, as LAT,LON.
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// To whom (transfer and reexport).
    #[arg(long, value_name = "PARTY")]
    pub recipient: Option<String>,
    /// Class of target.
    #[arg(long, value_name = "CLASS")]
    pub target_class: Option<String>,
    /// Purpose of the use.
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: Option<String>,
    /// Final destination of a transfer or re-export.
    #[arg(long, value_name = "PARTY")]
    pub destination: Option<String>,
    /// Distance of the place from the Ukraine-Russia land border, in km.
    #[arg(long, value_name = "KM", conflicts_with = "at")]
    pub border_distance_km: Option<f64>,
    /// The first day the consent would be used (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// The last day (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Why (kept with the request).
    #[arg(long, value_name = "TEXT")]
    pub justification: String,
}

/// `request list`.
#[derive(Args, Debug)]
pub struct RequestListArgs {
    /// Who asks.
    #[command(flatten)]
    pub who: AsArg,
    /// Only those needing this authority (its queue).
    #[arg(long, value_name = "AUTHORITY")]
    pub authority: Option<String>,
    /// Only those in this state: pending, approved, refused, withdrawn or
    /// expired.
    #[arg(long, value_name = "STATUS", value_parser = ["pending", "approved", "refused", "withdrawn", "expired"])]
    pub status: Option<String>,
    /// Only those filed for this party.
    #[arg(long, value_name = "PARTY")]
    pub party: Option<String>,
    /// Only those filed by this user.
    #[arg(long, value_name = "USER")]
    pub requester: Option<String>,
}

/// `request show`.
#[derive(Args, Debug)]
pub struct RequestIdArgs {
    /// The request's id.
    pub id: String,
    /// Who asks.
    #[command(flatten)]
    pub who: AsArg,
}

/// A verdict.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictArg {
    /// Approve.
    Approve,
    /// Refuse.
    Refuse,
}

/// `request review`.
#[derive(Args, Debug)]
pub struct RequestReviewArgs {
    /// The request's id.
    pub id: String,
    /// Who reviews.
    #[command(flatten)]
    pub who: AsArg,
    /// Approve or refuse.
    #[arg(long, value_enum)]
    pub verdict: VerdictArg,
    /// Why (required; kept with the review).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The authority reviewed for, when the user is a member of several of
    /// the request's.
    #[arg(long, value_name = "AUTHORITY")]
    pub authority: Option<String>,
    /// The version of the request reviewed (a later one is a conflict).
    #[arg(long, value_name = "N")]
    pub expect_version: Option<i64>,
}

/// `request withdraw`.
#[derive(Args, Debug)]
pub struct RequestWithdrawArgs {
    /// The request's id.
    pub id: String,
    /// Who withdraws.
    #[command(flatten)]
    pub who: AsArg,
    /// Why.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The version of the request withdrawn (a later one is a conflict).
    #[arg(long, value_name = "N")]
    pub expect_version: Option<i64>,
}

/// `audit`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole log against its signed checkpoints and the register's
    /// tables (or an exported log against a trusted key): exit 0, or 1
    /// naming the first bad entry.
    Verify(AuditVerifyArgs),
    /// Print the latest signed checkpoint (signing one if needed).
    Checkpoint,
    /// Print the inclusion proof of entry N (from the database, or offline
    /// from an exported log and a trusted key).
    Prove(AuditProveArgs),
    /// Write every entry and checkpoint of the log to a JSON file.
    Export(AuditExportArgs),
}

/// `audit verify`.
#[derive(Args, Debug)]
pub struct AuditVerifyArgs {
    /// The trusted verifier key (`name+id+base64`; default: the database's).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Verify this exported log instead of the database (needs --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub export: Option<PathBuf>,
}

/// `audit prove`.
#[derive(Args, Debug)]
pub struct AuditProveArgs {
    /// The entry's index, from 0.
    pub index: u64,
    /// The tree size to prove it in (default: the latest checkpoint's).
    #[arg(long, value_name = "N", conflicts_with = "export")]
    pub size: Option<u64>,
    /// Prove from this exported log instead of the database (needs --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub export: Option<PathBuf>,
    /// The trusted verifier key.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

/// `audit export`.
#[derive(Args, Debug)]
pub struct AuditExportArgs {
    /// The file to write.
    pub file: PathBuf,
}
