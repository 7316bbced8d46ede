//! Test support for enduse (not published): the decision corpus
//! (`corpus/decisions.json`) as types, one runner per front end (the
//! library and the `enduse` binary; a later HTTP runner joins them), and a
//! throw-away PostgreSQL cluster.
//!
//! Every front end turns a corpus case into the same [`enduse::Ask`]
//! ([`Case::ask`]); the library resolves it into a query in one place
//! ([`enduse::resolve_query`]), so that no test builds a query of its own.
//!
//! Test support fails loudly: a broken fixture panics with what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod pgcluster;

use enduse::{Ask, Engine, Query, Snapshot};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// The decision corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct Corpus {
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// The runners' fixed today (the default `known_at`).
    pub today: String,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One decided case.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// Unique name.
    pub name: String,
    /// The request: an [`Ask`] without its dates.
    pub request: Value,
    /// The day of the action.
    pub as_of: String,
    /// The public record's day (default: the corpus's today).
    #[serde(default)]
    pub known_at: Option<String>,
    /// What the answer must be: outcome, parties with their outcomes and
    /// deciding rules, approvals, missing facts, `if_disputed`, `reported`.
    pub expect: Value,
    /// The public source the case rests on.
    #[serde(default)]
    pub source: Option<String>,
    /// Why.
    #[serde(default)]
    pub why: Option<String>,
}

/// The corpus file.
pub fn corpus_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpus/decisions.json")
}

/// The decision corpus, read.
pub fn corpus() -> Corpus {
    let text = std::fs::read_to_string(corpus_path()).unwrap();
    serde_json::from_str(&text).unwrap()
}

impl Corpus {
    /// The fixed today, as a date.
    pub fn today_date(&self) -> chrono::NaiveDate {
        chrono::NaiveDate::parse_from_str(&self.today, "%Y-%m-%d").unwrap()
    }
}

impl Case {
    /// A case from its JSON.
    pub fn from_value(v: &Value) -> Case {
        serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("corpus case {}: {e}", v["name"]))
    }

    /// The case as every front end takes it: the request with its dates.
    pub fn ask(&self) -> Ask {
        let mut ask: Ask = serde_json::from_value(self.request.clone())
            .unwrap_or_else(|e| panic!("{}: the request is not an Ask: {e}", self.name));
        ask.as_of = Some(self.as_of.clone());
        ask.known_at = self.known_at.clone();
        ask
    }

    /// The case's query against `engine`, as the library resolves it (for
    /// tests that hold an engine: the store's conformance suite).
    pub fn query(&self, engine: &Engine, today: &str) -> Query {
        let today = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap();
        enduse::resolve_query(engine, &self.ask(), today)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// The exit code the binary must give.
    pub fn expected_exit(&self) -> i32 {
        if self.expect.get("error").is_some() {
            return 1;
        }
        match self.expect["outcome"].as_str() {
            Some("permit") => 0,
            Some("forbid") => 2,
            Some("needs_approval") => 3,
            _ => 4,
        }
    }
}

/// Compares a decision (as JSON) with a case's expectation; returns the
/// mismatches. A case whose `expect` is `{"error": CODE}` expects the request
/// to be refused with that code (`got` is then the error's JSON,
/// `{"error": {...}}`).
pub fn compare(name: &str, got: &Value, expect: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(code) = expect.get("error") {
        if &got["error"]["code"] != code {
            bad.push(format!(
                "{name}: expected the error {code}, got {}",
                if got.get("error").is_some() {
                    got["error"]["code"].to_string()
                } else {
                    format!("the outcome {}", got["outcome"])
                }
            ));
        }
        return bad;
    }
    if let Some(e) = got.get("error") {
        bad.push(format!("{name}: error {}", e["message"]));
        return bad;
    }
    if got["outcome"] != expect["outcome"] {
        bad.push(format!(
            "{name}: outcome {} != expected {}",
            got["outcome"], expect["outcome"]
        ));
    }
    let parties = |v: &Value| -> BTreeSet<(String, String, BTreeSet<String>)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let rules = p["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        r.as_str().map_or_else(
                            || r["id"].as_str().unwrap_or("").to_owned(),
                            str::to_owned,
                        )
                    })
                    .collect();
                (
                    p["party"].as_str().unwrap_or("").to_owned(),
                    p["outcome"].as_str().unwrap_or("").to_owned(),
                    rules,
                )
            })
            .collect()
    };
    let (g, e) = (parties(&got["parties"]), parties(&expect["parties"]));
    if g != e {
        bad.push(format!("{name}: parties {g:?} != expected {e:?}"));
    }
    if let Some(ea) = expect.get("approvals") {
        let ga: BTreeSet<&str> = got["approvals"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["authority"].as_str())
            .collect();
        let ea: BTreeSet<&str> = ea
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if ga != ea {
            bad.push(format!("{name}: approvals {ga:?} != expected {ea:?}"));
        }
    }
    if let Some(em) = expect.get("missing") {
        if &got["missing"] != em {
            bad.push(format!(
                "{name}: missing {} != expected {em}",
                got["missing"]
            ));
        }
    }
    if let Some(ed) = expect.get("if_disputed") {
        let gd = &got["if_disputed"]["outcome"];
        let ed = if ed.is_null() { ed } else { &ed["outcome"] };
        if gd != ed && !(gd.is_null() && ed.is_null()) {
            bad.push(format!("{name}: if_disputed {gd} != expected {ed}"));
        }
    }
    if let Some(ef) = expect
        .get("if_disputed")
        .and_then(|e| e.get("facts"))
        .and_then(Value::as_array)
    {
        let gf: Vec<&str> = got["if_disputed"]["facts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["id"].as_str())
            .collect();
        for f in ef.iter().filter_map(Value::as_str) {
            if !gf.contains(&f) {
                bad.push(format!("{name}: if_disputed lacks `{f}` (has {gf:?})"));
            }
        }
    }
    // Facts that decide nothing here but must be named in the notes (a
    // decision whose scope is unknown, a disputed permission).
    for id in expect
        .get("notes_mention")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let named = got["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|n| n.contains(&format!("`{id}`")));
        if !named {
            bad.push(format!("{name}: the notes do not name `{id}`"));
        }
    }
    if let Some(er) = expect.get("reported") {
        if &got["reported"] != er {
            bad.push(format!(
                "{name}: reported {} != expected {er}",
                got["reported"]
            ));
        }
    }
    // Every cited rule carries its public source.
    for p in got["parties"].as_array().into_iter().flatten() {
        for r in p["rules"].as_array().into_iter().flatten() {
            if r["source"]["outlet"].as_str().is_none_or(str::is_empty)
                || r["quote"].as_str().is_none_or(str::is_empty)
            {
                bad.push(format!("{name}: rule {} lacks a source or quote", r["id"]));
            }
        }
    }
    bad
}

/// Panics with every mismatch, if any.
pub fn assert_no_mismatch(bad: &[String]) {
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The library as a front end: a snapshot asked for each case.
pub struct LibraryRunner {
    snapshot: Arc<Snapshot>,
    today: chrono::NaiveDate,
}

impl LibraryRunner {
    /// Asks `snapshot`, with `today` as the clock's day.
    pub fn new(snapshot: Arc<Snapshot>, today: &str) -> Self {
        LibraryRunner {
            snapshot,
            today: chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d").unwrap(),
        }
    }

    /// The decision of `case`, as JSON.
    pub fn decide(&self, case: &Case) -> Result<Value, enduse::Error> {
        let report = self.snapshot.check(&case.ask(), self.today)?;
        Ok(serde_json::to_value(&report).unwrap())
    }

    /// Every case's mismatches.
    pub fn run(&self, cases: &[Case]) -> Vec<String> {
        let mut bad = Vec::new();
        for case in cases {
            let got = self.decide(case).unwrap_or_else(|e| e.to_json());
            bad.extend(compare(&case.name, &got, &case.expect));
        }
        bad
    }
}

/// The arguments of `enduse check` for `case` (without `--json`).
pub fn cli_args(case: &Case) -> Vec<String> {
    let ask = case.ask();
    let mut a = vec!["check".to_string()];
    let mut opt = |flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            a.push(flag.into());
            a.push(v.clone());
        }
    };
    opt("--actor", &Some(ask.actor.clone()));
    opt("--action", &Some(ask.action.clone()));
    opt("--model", &ask.model);
    opt("--lot", &ask.lot);
    opt("--place", &ask.place);
    opt("--at", &ask.at.as_ref().map(ToString::to_string));
    opt("--recipient", &ask.recipient);
    opt("--target-class", &ask.target_class);
    opt("--purpose", &ask.purpose);
    opt("--destination", &ask.destination);
    opt("--status", &ask.status);
    opt(
        "--border-distance-km",
        &ask.border_distance_km.map(|k| k.to_string()),
    );
    opt("--as-of", &ask.as_of);
    opt("--known-at", &ask.known_at);
    for ap in &ask.approvals {
        a.push("--approval".into());
        a.push(ap.clone());
    }
    a
}

/// The `enduse` binary as a front end.
pub struct CliRunner {
    bin: PathBuf,
    today: String,
    extra: Vec<String>,
}

/// What one run of the binary gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Exit code (`None`: killed).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliRunner {
    /// Runs `bin` with `ENDUSE_TODAY=today` and without `ENDUSE_DB`.
    pub fn new(bin: impl AsRef<Path>, today: &str) -> Self {
        CliRunner {
            bin: bin.as_ref().to_path_buf(),
            today: today.to_owned(),
            extra: Vec::new(),
        }
    }

    /// Adds `args` to every run (`--db DB`).
    pub fn with_args(mut self, args: &[&str]) -> Self {
        self.extra.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("ENDUSE_TODAY", &self.today)
            .env("NO_COLOR", "1")
            .env_remove("ENDUSE_DB");
        c
    }

    /// Runs the binary with `args` and the extra arguments.
    pub fn run(&self, args: &[String]) -> Run {
        let out = self
            .command()
            .args(args)
            .args(&self.extra)
            .output()
            .unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `enduse --json check ...` for `case`: the decision and the exit code.
    pub fn decide(&self, case: &Case) -> Result<(Value, Option<i32>), String> {
        let mut args = vec!["--json".to_string()];
        args.extend(cli_args(case));
        let r = self.run(&args);
        let v: Value = serde_json::from_str(&r.stdout)
            .map_err(|e| format!("{}: no json ({e}): {}", case.name, r.stderr))?;
        Ok((v, r.code))
    }

    /// Every case through the binary, one process each: the mismatches of
    /// outcome, parties, exit code and known-at.
    pub fn run_cases(&self, corpus: &Corpus, cases: &[Case]) -> Vec<String> {
        let mut bad = Vec::new();
        for case in cases {
            match self.decide(case) {
                Ok((got, code)) => {
                    if code != Some(case.expected_exit()) {
                        bad.push(format!(
                            "{}: exit {code:?} != {}",
                            case.name,
                            case.expected_exit()
                        ));
                    }
                    let known = case.known_at.as_deref().unwrap_or(&corpus.today);
                    if got.get("error").is_none() && got["known_at"].as_str() != Some(known) {
                        bad.push(format!("{}: known_at {}", case.name, got["known_at"]));
                    }
                    bad.extend(compare(&case.name, &got, &case.expect));
                }
                Err(e) => bad.push(e),
            }
        }
        bad
    }

    /// Every case through one `enduse check --batch -` process (one JSON
    /// `Ask` per line in, one decision per line out): the mismatches.
    pub fn run_batch(&self, cases: &[Case]) -> Vec<String> {
        use std::io::Write;
        let mut child = self
            .command()
            .args(["check", "--batch", "-"])
            .args(&self.extra)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = String::new();
        for case in cases {
            input.push_str(&serde_json::to_string(&case.ask()).unwrap());
            input.push('\n');
        }
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        let mut bad = Vec::new();
        if lines.len() != cases.len() {
            bad.push(format!(
                "{} lines for {} cases: {}",
                lines.len(),
                cases.len(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        for (case, line) in cases.iter().zip(lines) {
            match serde_json::from_str::<Value>(line) {
                Ok(got) => bad.extend(compare(&case.name, &got, &case.expect)),
                Err(e) => bad.push(format!("{}: no json ({e}): {line}", case.name)),
            }
        }
        bad
    }
}
