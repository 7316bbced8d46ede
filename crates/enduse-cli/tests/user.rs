#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! What a new user expects of the `enduse` binary: discovery (`list`, names
//! that resolve), no silent retraction, safe edits, reads that never write,
//! atomic exports, checked input, JSON errors, help, completions, man pages,
//! the version, colour, `--explain`, `--batch`, how publication dates are
//! told, and a small default `gen`.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

const TODAY: &str = "2026-11-01";

fn cmd(envs: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("enduse"))
        .env("ENDUSE_TODAY", TODAY)
        .env("NO_COLOR", "1")
        .env_remove("ENDUSE_DB")
        .env_remove("CLICOLOR_FORCE")
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn enduse(args: &[&str]) -> (i32, String, String) {
    cmd(&[], args)
}

fn json_of(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (code, out, err) = enduse(&a);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{a:?}: {e}: {out}{err}"));
    (code, v)
}

const KURSK: &[&str] = &[
    "check",
    "--actor",
    "UA",
    "--action",
    "use",
    "--model",
    "ATACMS",
    "--as-of",
    "2024-09-11",
];

fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    let mut v = base.to_vec();
    v.extend_from_slice(more);
    v
}

#[test]
fn list_shows_the_codes_and_searches_names() {
    let (code, v) = json_of(&["list", "parties"]);
    assert_eq!(code, 0);
    assert_eq!(v["what"], "parties");
    let items = v["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|i| i["id"] == "GB" && i["name"] == "United Kingdom"));
    let (_, v) = json_of(&["list", "places", "--search", "kursk"]);
    let ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["RU-KRS"], "{v}");
    let (_, v) = json_of(&["list", "models", "--search", "leopard"]);
    assert!(v["items"].as_array().unwrap().len() >= 2, "{v}");
    let (_, v) = json_of(&["list", "authorities", "--search", "US:"]);
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == "US:SecDef"));
    let (code, _) = json_of(&["list", "areas"]);
    assert_eq!(code, 0);
    let (code, out, _) = enduse(&["list", "places", "--search", "Kursk"]);
    assert_eq!(code, 0);
    assert!(out.contains("RU-KRS  Kursk oblast"), "{out}");
    let (code, _, err) = enduse(&["list", "weapons"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid value 'weapons'"), "{err}");
}

#[test]
fn names_resolve_as_codes_do_when_unambiguous() {
    let (code, by_code) = json_of(&with(KURSK, &["--place", "RU-KRS"]));
    let (code2, by_name) = json_of(&with(KURSK, &["--place", "Kursk"]));
    assert_eq!(code, code2);
    assert_eq!(by_name["request"]["place"], "RU-KRS");
    assert_eq!(by_code["outcome"], by_name["outcome"]);
    let (_, v) = json_of(&[
        "check",
        "--actor",
        "UK",
        "--action",
        "use",
        "--model",
        "Storm Shadow",
        "--place",
        "Crimea",
        "--as-of",
        "2024-09-11",
    ]);
    assert_eq!(v["request"]["actor"], "GB", "{v}");
    assert_eq!(v["request"]["place"], "UA-43", "{v}");
    // Ambiguous: every candidate named, nothing guessed.
    let (code, v) = json_of(&[
        "check", "--actor", "United", "--action", "use", "--model", "ATACMS",
    ]);
    assert_eq!(code, 1);
    let help = v["error"]["help"].as_str().unwrap();
    assert!(help.contains("`US`") && help.contains("`GB`"), "{help}");
    // A near miss suggests by name too.
    let (code, v) = json_of(&with(KURSK, &["--place", "Kurks"]));
    assert_eq!(code, 1);
    assert!(
        v["error"]["help"].as_str().unwrap().contains("RU-KRS"),
        "{v}"
    );
    let (_, v) = json_of(&[
        "check", "--actor", "XY", "--action", "use", "--model", "ATACMS",
    ]);
    assert!(
        !v["error"]["help"].as_str().unwrap().contains("XY"),
        "no made-up party: {v}"
    );
}

#[test]
fn input_is_checked() {
    // A negative distance is refused; a decimal one is rounded up.
    let place = with(KURSK, &["--place", "RU-BEL"]);
    let (code, v) = json_of(&with(&place, &["--border-distance-km", "-5"]));
    assert_eq!(code, 1);
    assert_eq!(v["error"]["code"], "enduse::bad_distance", "{v}");
    let (_, v) = json_of(&with(&place, &["--border-distance-km", "12.3"]));
    assert_eq!(v["request"]["border_distance_km"], 13, "{v}");
    // Transfer and re-export need a recipient.
    for action in ["transfer", "reexport"] {
        let (code, v) = json_of(&[
            "check",
            "--actor",
            "PL",
            "--action",
            action,
            "--model",
            "Leopard 2",
            "--as-of",
            "2023-01-18",
        ]);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["error"]["code"], "enduse::no_recipient", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(action));
    }
    // An as-of day in the future is answered, with a warning.
    let future = [
        "check",
        "--actor",
        "UA",
        "--action",
        "use",
        "--model",
        "ATACMS",
        "--place",
        "RU-KRS",
        "--as-of",
        "2027-03-01",
    ];
    let (code, _, err) = enduse(&future);
    assert!(code != 1, "{err}");
    assert!(
        err.contains("warning: as-of 2027-03-01 is after today (2026-11-01)"),
        "{err}"
    );
    let (_, v) = json_of(&future);
    assert!(v["warnings"][0].as_str().unwrap().contains("after today"));
    // Very long values are cut in messages.
    let long = "Z".repeat(5000);
    let (code, out, err) = enduse(&[
        "check", "--actor", &long, "--action", "use", "--model", "ATACMS",
    ]);
    assert_eq!(code, 1);
    assert!(err.len() < 2000, "{}", err.len());
    assert!(err.contains("more characters"), "{out}{err}");
    let (code, out, err) = enduse(&["--json", "check", "--actor", "UA", "--action", &long]);
    assert_eq!(code, 1);
    assert!(
        out.len() < 2000 && out.contains("more characters"),
        "{out}{err}"
    );
}

#[test]
fn a_month_is_decided_day_by_day_and_refused_where_one_day_is_needed() {
    let (code, v) = json_of(&[
        "check", "--actor", "UA", "--action", "use", "--model", "ATACMS", "--place", "RU-KRS",
        "--as-of", "2024-11",
    ]);
    assert!(code != 1, "{v}");
    let p = &v["period"];
    assert_eq!(p["from"], "2024-11-01");
    assert_eq!(p["to"], "2024-11-30");
    let days = p["days"].as_array().unwrap();
    assert_eq!(days[0]["from"], "2024-11-01");
    assert_eq!(days.last().unwrap()["to"], "2024-11-30");
    // The answer is the strictest day's, and the decision shown is of it.
    assert_eq!(p["outcome"], v["outcome"]);
    let worst = days
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .find(|o| *o == v["outcome"].as_str().unwrap());
    assert!(worst.is_some());
    let (_, out, _) = enduse(&[
        "check", "--actor", "UA", "--action", "use", "--model", "ATACMS", "--place", "RU-KRS",
        "--as-of", "2024-11",
    ]);
    assert!(out.contains("for the days 2024-11-01..2024-11-30"), "{out}");
    // Where one day is needed, the message says so, and does not contradict
    // itself.
    let (code, v) = json_of(&["policies", "--party", "US", "--as-of", "2024-09"]);
    assert_eq!(code, 1);
    assert_eq!(
        v["error"]["message"],
        "as-of `2024-09`: is a month, and `policies` answers for one day"
    );
    assert!(v["error"]["help"].as_str().unwrap().contains("2024-09-01"));
    let (_, v) = json_of(&with(KURSK, &["--known-at", "2025-07"]));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("known-at `2025-07`: is a month"));
}

#[test]
fn argument_errors_are_json_with_json() {
    for args in [
        vec![
            "--json", "check", "--actor", "UA", "--action", "fire", "--model", "ATACMS",
        ],
        vec!["--json", "check", "--action", "use"],
        vec!["--json", "frobnicate"],
        vec!["check", "--json", "--actor", "UA", "--nonsense"],
    ] {
        let (code, out, err) = enduse(&args);
        assert_eq!(code, 1, "{args:?}");
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}{err}"));
        assert_eq!(v["error"]["code"], "enduse::usage", "{v}");
        assert_eq!(v["error"]["kind"], "bad_request", "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        assert!(err.is_empty(), "{err}");
    }
    // Without --json they stay text on standard error.
    let (code, out, err) = enduse(&["check", "--actor", "UA", "--action", "fire"]);
    assert_eq!(code, 1);
    assert!(out.is_empty() && err.contains("invalid value 'fire'"));
    // Every error carries a kind: an unknown model is a bad request.
    let (_, v) = json_of(&[
        "check", "--actor", "UA", "--action", "use", "--model", "ATACM",
    ]);
    assert_eq!(v["error"]["kind"], "bad_request");
}

#[test]
fn help_shows_each_commands_options_first_with_examples() {
    let commands = [
        "check",
        "consent-chain",
        "policies",
        "timeline",
        "list",
        "validate",
        "where",
        "map",
        "gen",
        "init",
        "import",
        "export",
        "history",
        "log",
        "put",
        "retract",
        "completions",
        "man",
    ];
    for c in commands {
        let (code, out, _) = enduse(&[c, "--help"]);
        assert_eq!(code, 0, "{c}");
        assert!(out.contains("Examples:"), "{c}: {out}");
        let own = out.find("Options:").unwrap_or(usize::MAX);
        let global = out.find("Global options:").unwrap();
        assert!(own < global, "{c}: its own options first:\n{out}");
    }
    let (_, out, _) = enduse(&["check", "--help"]);
    let own = out.find("--explain").unwrap();
    assert!(own < out.find("--db <TARGET>").unwrap());
}

#[test]
fn completions_man_pages_and_version() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, _) = enduse(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(out.contains("consent-chain") && out.len() > 1000, "{shell}");
    }
    let (code, out, _) = enduse(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(".ie") || out.contains(".TH enduse"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = enduse(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let check = std::fs::read_to_string(dir.path().join("enduse-check.1")).unwrap();
    assert!(check.contains("explain"), "{check}");
    let (code, out, _) = enduse(&["--version"]);
    assert_eq!(code, 0);
    let v = enduse::bundled_data_version();
    assert!(out.contains("data set: ukraine-2022-2025"), "{out}");
    assert!(out.contains(&v.digest), "{out}");
}

#[test]
fn verdicts_are_coloured_only_for_a_terminal_and_never_with_no_color() {
    let args = with(KURSK, &["--place", "RU-KRS"]);
    let (_, plain, _) = enduse(&args);
    assert!(!plain.contains('\u{1b}'), "piped output is plain");
    let (_, forced, _) = cmd(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")], &args);
    assert!(forced.contains("\u{1b}["), "{forced}");
    let (_, no, _) = cmd(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &args);
    assert!(!no.contains('\u{1b}'), "NO_COLOR wins");
    let (_, json, _) = cmd(
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")],
        &with(&["--json"], &args),
    );
    assert!(!json.contains('\u{1b}'), "JSON is never coloured");
}

#[test]
fn explain_lists_every_rule_considered_and_why() {
    let args = with(KURSK, &["--place", "RU-KRS", "--explain"]);
    let (_, out, _) = enduse(&args);
    assert!(out.contains("Every rule considered:"), "{out}");
    let (_, v) = json_of(&args);
    let parties = v["explanation"]["parties"].as_array().unwrap();
    let us = parties.iter().find(|p| p["party"] == "US").unwrap();
    let rules = us["rules"].as_array().unwrap();
    let cited: Vec<&str> = v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["party"] == "US")
        .flat_map(|p| p["rules"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in &cited {
        assert!(
            rules.iter().any(|r| r["id"] == *id && r["used"] == true),
            "{id} is cited, so used: {us}"
        );
    }
    assert!(
        rules.iter().any(|r| r["used"] == false
            && r["why"]
                .as_str()
                .unwrap()
                .starts_with("not in force on 2024-09-11")),
        "a later rule is explained as not yet in force: {us}"
    );
    assert!(rules.iter().all(|r| !r["why"].as_str().unwrap().is_empty()));
    // Without --explain there is no explanation.
    let (_, v) = json_of(&with(KURSK, &["--place", "RU-KRS"]));
    assert!(v.get("explanation").is_none());
}

#[test]
fn batch_decides_one_request_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("asks.jsonl");
    std::fs::write(
        &file,
        r#"{"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09-11"}
{"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-XYZ", "as_of": "2024-09-11"}

{"actor": "UA", "action": "use", "model": "HIMARS", "at": {"lat": 50.6, "lon": 36.6}, "as_of": "2024-06-15"}
not json
"#,
    )
    .unwrap();
    let (code, out, err) = enduse(&["check", "--batch", file.to_str().unwrap()]);
    assert_eq!(code, 1, "a refused line makes the run exit 1: {err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0]["outcome"].is_string());
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["error"]["code"], "enduse::unknown_place");
    assert_eq!(lines[2]["request"]["place"], "RU-BEL");
    assert_eq!(lines[3]["line"], 5);
    // Standard input, and the same decision as the options give.
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("enduse"))
        .env("ENDUSE_TODAY", TODAY)
        .args(["check", "--batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09-11"}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let batch: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (_, single) = json_of(&with(KURSK, &["--place", "RU-KRS"]));
    assert_eq!(batch, single);
    // Requests in the file or on the command line, not both.
    let (code, _, err) = enduse(&["check", "--batch", "-", "--model", "ATACMS"]);
    assert_eq!(code, 1);
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn publication_dates_are_told_as_first_reports_with_the_rules_note() {
    let (_, out, _) = enduse(&with(KURSK, &["--place", "RU-KRS"]));
    assert!(
        out.contains("first reported in this data set's sources on"),
        "{out}"
    );
    assert!(!out.contains("public since"), "{out}");
    let (_, v) = json_of(&with(KURSK, &["--place", "RU-KRS"]));
    let notes = v["rule_notes"].as_object().unwrap();
    assert!(!notes.is_empty(), "{v}");
    for note in notes.values() {
        assert!(
            out.contains(&format!("note: {}", note.as_str().unwrap())),
            "{out}"
        );
    }
    let (_, out, _) = enduse(&["policies", "--party", "US", "--as-of", "2024-09-11"]);
    assert!(out.contains("first reported in this data set's sources on"));
}

#[test]
fn gen_is_small_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let (code, v) = json_of(&["gen", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["transfers"], 1000);
    let (code, v) = json_of(&["validate", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["transfers"], 1000);
}

fn init(db: &str) {
    let (code, _, err) = enduse(&["init", "--db", db]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn import_dry_run_writes_nothing_and_creates_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, _, err) = enduse(&["gen", "--out", data.to_str().unwrap(), "--transfers", "20"]);
    assert_eq!(code, 0, "{err}");
    let db = dir.path().join("new.db");
    let db = db.to_str().unwrap();
    let (code, v) = json_of(&["import", data.to_str().unwrap(), "--dry-run", "--db", db]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["dry_run"], true);
    assert!(v["added"].as_u64().unwrap() > 20, "{v}");
    assert_eq!(
        v["changes"].as_array().unwrap().len() as u64,
        v["added"].as_u64().unwrap()
    );
    assert!(!Path::new(db).exists(), "a dry run creates no database");
    let (code, out, _) = enduse(&["import", data.to_str().unwrap(), "--dry-run", "--db", db]);
    assert_eq!(code, 0);
    assert!(out.contains("dry run, nothing written"), "{out}");
    // Over an existing register: retractions are listed, refused without
    // --allow-retract, and written with it.
    init(db);
    let (_, v) = json_of(&["import", data.to_str().unwrap(), "--dry-run", "--db", db]);
    assert!(v["retracted"].as_u64().unwrap() > 100, "{v}");
    let (code, v) = json_of(&["import", data.to_str().unwrap(), "--db", db]);
    assert_eq!(code, 1);
    assert_eq!(v["error"]["kind"], "conflict");
    assert!(v["error"]["help"]
        .as_str()
        .unwrap()
        .contains("--allow-retract"));
    let (_, v) = json_of(&["log", "--db", db]);
    assert_eq!(v["transactions"].as_array().unwrap().len(), 1);
    let (code, v) = json_of(&[
        "import",
        data.to_str().unwrap(),
        "--allow-retract",
        "--db",
        db,
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(v["retracted"].as_u64().unwrap() > 100);
}

#[test]
fn put_reports_against_the_users_file_and_names_versions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let db = db.to_str().unwrap();
    init(db);
    // A new rule citing a source the register lacks: the problem is in the
    // user's file, and the help does not say to edit sources.toml.
    let rule = dir.path().join("mine.cedar");
    std::fs::write(
        &rule,
        r#"// my rule
@id("my-new-rule")
@summary("test rule")
@valid_from("2024-09-11")
@recorded_at("2024-09-11")
@source("no-such-source")
@quote("a quote")
forbid (principal, action == Action::"use", resource in Model::"ATACMS")
when { context.place in Place::"RU-MOW" };
"#,
    )
    .unwrap();
    let r = rule.to_str().unwrap();
    let (code, v) = json_of(&["put", "policy", "--file", r, "--owner", "US", "--db", db]);
    assert_eq!(code, 1);
    assert_eq!(v["error"]["code"], "enduse::invalid_edit", "{v}");
    let p = &v["error"]["problems"][0];
    assert_eq!(p["file"], r, "{v}");
    assert!(p["line"].as_u64().unwrap() >= 2, "{v}");
    assert!(p["message"].as_str().unwrap().contains("`no-such-source`"));
    let help = p["help"].as_str().unwrap();
    assert!(
        !help.contains("sources.toml") && help.contains("enduse put source"),
        "{help}"
    );
    // A new rule that is valid; the same content again writes nothing.
    std::fs::write(
        &rule,
        std::fs::read_to_string(&rule)
            .unwrap()
            .replace("no-such-source", "wapo-2024-09-11"),
    )
    .unwrap();
    let (code, v) = json_of(&["put", "policy", "--file", r, "--owner", "US", "--db", db]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["txn"]["id"], 2);
    let (code, v) = json_of(&["put", "policy", "--file", r, "--db", db]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        v["txn"],
        Value::Null,
        "unchanged content writes nothing: {v}"
    );
    // A changed rule replaces version 1 only when told so; a wrong version
    // is named, and the help is not about another writer.
    std::fs::write(
        &rule,
        std::fs::read_to_string(&rule)
            .unwrap()
            .replace("RU-MOW", "RU-SPE"),
    )
    .unwrap();
    let (code, v) = json_of(&["put", "policy", "--file", r, "--db", db]);
    assert_eq!(code, 1);
    assert_eq!(v["error"]["code"], "enduse::exists", "{v}");
    let (code, v) = json_of(&[
        "put",
        "policy",
        "--file",
        r,
        "--expect-version",
        "3",
        "--db",
        db,
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        v["error"]["message"],
        "conflict on policy `my-new-rule`: expected version 3, but the database holds version 1"
    );
    let help = v["error"]["help"].as_str().unwrap();
    assert!(
        help.contains("version 1") && !help.contains("another writer"),
        "{help}"
    );
    let (code, v) = json_of(&[
        "put",
        "policy",
        "--file",
        r,
        "--expect-version",
        "1",
        "--db",
        db,
    ]);
    assert_eq!(code, 0, "{v}");
    // Retracting something the register needs names the stored records,
    // not files the user never had.
    let (code, v) = json_of(&["retract", "source", "wapo-2024-09-11", "--db", db]);
    assert_eq!(code, 1);
    for p in v["error"]["problems"].as_array().unwrap() {
        assert!(p["file"].as_str().unwrap().starts_with(db), "{p}");
        assert!(!p["help"].as_str().unwrap_or("").contains(".toml"), "{p}");
    }
}

#[test]
fn reads_never_write() {
    let dir = tempfile::tempdir().unwrap();
    // An empty file stays empty; a missing one is not created.
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let e = empty.to_str().unwrap();
    for args in [
        with(KURSK, &["--place", "RU-KRS", "--db", e]),
        vec!["log", "--db", e],
        vec!["history", "party", "UA", "--db", e],
    ] {
        let (code, _, err) = enduse(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("holds no enduse register"), "{err}");
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0, "{args:?}");
    }
    let missing = dir.path().join("missing.db");
    let (code, _, err) = enduse(&with(KURSK, &["--db", missing.to_str().unwrap()]));
    assert_eq!(code, 1);
    assert!(err.contains("no database at"), "{err}");
    assert!(!missing.exists());
    // A database in a read-only directory can be read. (Root ignores the
    // permission bits; the test means most for everyone else.)
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let db = ro.join("r.db");
    let db = db.to_str().unwrap();
    init(db);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = std::fs::read(db).unwrap();
    let (code, out, err) = enduse(&with(KURSK, &["--place", "RU-KRS", "--db", db]));
    let (code2, _, err2) = enduse(&["log", "--db", db]);
    let after = std::fs::read(db).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(code != 1, "{out}{err}");
    assert_eq!(code2, 0, "{err2}");
    assert!(before == after, "a read changed the database file");
}

#[test]
fn reads_never_create_tables_in_postgres() {
    let cluster = enduse_testkit::pgcluster::Cluster::start();
    let db = cluster.fresh_db();
    let (code, _, err) = enduse(&with(KURSK, &["--place", "RU-KRS", "--db", &db]));
    assert_eq!(code, 1);
    assert!(err.contains("holds no enduse register"), "{err}");
    let mut client = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "a read created tables");
}

#[test]
fn a_failed_export_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let db = db.to_str().unwrap();
    init(db);
    let out = dir.path().join("out");
    let (code, _, err) = cmd(
        &[("ENDUSE_TEST_FAIL_EXPORT_AFTER", "2")],
        &["export", out.to_str().unwrap(), "--db", db],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no space left on device"), "{err}");
    assert!(!out.exists(), "no partial export");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().all(|n| !n.contains("enduse-export")),
        "no temporary directory left: {left:?}"
    );
    // The same export, not failing, writes every file; into an empty
    // directory too.
    std::fs::create_dir(&out).unwrap();
    let (code, _, err) = enduse(&["export", out.to_str().unwrap(), "--db", db]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("parties.toml").is_file());
}
