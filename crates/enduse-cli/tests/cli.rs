#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The `enduse` binary: human output (insta snapshots), JSON, exit codes and
//! bad input.

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;

const TODAY: &str = "2026-11-01";

fn enduse(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("enduse")
        .unwrap()
        .env("ENDUSE_TODAY", TODAY)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/ukraine-2022-2025")
}

/// Splits a command line on spaces, keeping "quoted words" together.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs `line`, checks the exit code and returns stdout.
fn run(line: &str, code: i32) -> String {
    let args = words(line);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (got, out, err) = enduse(&args);
    assert_eq!(got, code, "{line}: {out}{err}");
    out
}

#[test]
fn snapshot_atacms_kursk_forbid() {
    insta::assert_snapshot!(run(
        "check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2024-09-11",
        2
    ));
}

#[test]
fn snapshot_atacms_review_needs_approval() {
    insta::assert_snapshot!(run(
        "check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2025-06-15",
        3
    ));
}

#[test]
fn snapshot_atacms_known_at_permit() {
    insta::assert_snapshot!(run(
        "check --actor UA --action use --model ATACMS --place RU-KRS --as-of 2025-06-15 --known-at 2025-07-01",
        0
    ));
}

#[test]
fn snapshot_leopard_reexport() {
    insta::assert_snapshot!(run(
        "check --actor PL --action reexport --model \"Leopard 2\" --recipient UA --as-of 2023-01-18",
        3
    ));
}

#[test]
fn snapshot_himars_missing_distance() {
    insta::assert_snapshot!(run(
        "check --actor UA --action use --model HIMARS --place RU-BEL --as-of 2024-06-15",
        4
    ));
}

#[test]
fn snapshot_storm_shadow_consent_chain() {
    let (code, out, _) = enduse(&["consent-chain", "--actor", "UA", "--model", "Storm Shadow"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("United Kingdom (origin, supplier): binds every use"),
        "{out}"
    );
    assert!(
        out.contains("United States (provider of US targeting data): binds every use"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn snapshot_atacms_timeline() {
    let (code, out, _) = enduse(&["timeline", "--model", "ATACMS"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(out);
}

#[test]
fn every_command_speaks_json() {
    for args in [
        vec![
            "--json",
            "consent-chain",
            "--actor",
            "UA",
            "--model",
            "Storm Shadow",
            "--as-of",
            "2025-06-15",
        ],
        vec![
            "--json",
            "policies",
            "--party",
            "US",
            "--as-of",
            "2025-06-15",
        ],
        vec!["--json", "timeline", "--model", "Leopard 2"],
        vec![
            "--json",
            "check",
            "--actor",
            "UA",
            "--action",
            "use",
            "--model",
            "ATACMS",
            "--place",
            "UA-43",
            "--as-of",
            "2024-09-11",
        ],
    ] {
        let (code, out, err) = enduse(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"));
        assert!(v.is_object());
    }
    let dir = data_dir();
    let (code, out, _) = enduse(&["--json", "validate", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
    assert!(v["rules"].as_u64().unwrap() >= 18);
}

#[test]
fn check_json_has_the_documented_fields() {
    let (_, out, _) = enduse(&[
        "--json",
        "check",
        "--actor",
        "UA",
        "--action",
        "use",
        "--model",
        "Storm Shadow",
        "--place",
        "RU-KRS",
        "--as-of",
        "2025-06-15",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "needs_approval");
    assert_eq!(v["as_of"], "2025-06-15");
    assert_eq!(v["known_at"], TODAY);
    assert_eq!(v["approvals"][0]["party"], "US");
    assert_eq!(v["approvals"][0]["authority"], "US:SecDef");
    let us = v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"] == "US")
        .unwrap();
    assert_eq!(us["role"], "provider of US targeting data");
    assert_eq!(us["rules"][0]["id"], "us-storm-shadow-secdef-review");
    assert_eq!(
        us["rules"][0]["source"]["outlet"],
        "The Wall Street Journal (as reported by RksNews)"
    );
    // The seed article is still cited, after the earliest report.
    assert!(us["rules"][0]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["outlet"] == "NZ Herald (citing the Wall Street Journal)"));
    // Storm Shadow answers from the UK's conditions too: it is no longer
    // silent (it permitted strikes in Russia from November 2024).
    let gb = v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"] == "GB")
        .unwrap();
    assert_eq!(gb["outcome"], "permit");
    assert!(!gb["rules"].as_array().unwrap().is_empty());
    assert!(v["missing"].as_array().unwrap().is_empty());
}

#[test]
fn policies_respect_known_at() {
    let (_, out, _) = enduse(&[
        "--json",
        "policies",
        "--party",
        "US",
        "--as-of",
        "2025-06-15",
        "--known-at",
        "2025-07-01",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"us-atacms-inside-russia"));
    assert!(!ids.contains(&"us-atacms-secdef-review"), "{ids:?}");
    let (_, out, _) = enduse(&[
        "--json",
        "policies",
        "--party",
        "US",
        "--as-of",
        "2025-06-15",
    ]);
    assert!(out.contains("us-atacms-secdef-review"));
}

#[test]
fn bad_input_is_named_and_exits_1() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "check", "--actor", "XX", "--action", "use", "--model", "ATACMS", "--place", "UA",
            ],
            "unknown party `XX`",
        ),
        (
            vec![
                "check", "--actor", "UA", "--action", "use", "--model", "ATACM", "--place", "UA",
            ],
            "did you mean `ATACMS`?",
        ),
        (
            vec![
                "check", "--actor", "UA", "--action", "use", "--model", "ATACMS", "--place",
                "RU-XYZ",
            ],
            "unknown place `RU-XYZ`",
        ),
        (
            vec![
                "check", "--actor", "UA", "--action", "use", "--lot", "nope", "--place", "UA",
            ],
            "unknown lot `nope`",
        ),
        (
            vec![
                "check",
                "--actor",
                "UA",
                "--action",
                "use",
                "--model",
                "ATACMS",
                "--as-of",
                "2024-02-30",
            ],
            "as-of `2024-02-30`: is not a day of the calendar",
        ),
        (
            vec![
                "check",
                "--actor",
                "UA",
                "--action",
                "use",
                "--model",
                "ATACMS",
                "--as-of",
                "11/09/2024",
            ],
            "as-of `11/09/2024`",
        ),
        (
            vec![
                "check",
                "--actor",
                "UA",
                "--action",
                "use",
                "--model",
                "ATACMS",
                "--known-at",
                "2030-01-01",
            ],
            "known-at `2030-01-01`: is after today",
        ),
        (
            vec![
                "check",
                "--actor",
                "UA",
                "--action",
                "use",
                "--model",
                "ATACMS",
                "--approval",
                "US:Nobody",
            ],
            "unknown authority `US:Nobody`",
        ),
        (
            vec!["check", "--actor", "UA", "--action", "use", "--place", "UA"],
            "give --model or --lot",
        ),
        (
            vec![
                "check", "--actor", "UA", "--action", "fire", "--model", "ATACMS",
            ],
            "invalid value 'fire'",
        ),
        (
            vec![
                "check",
                "--actor",
                "UA",
                "--action",
                "use",
                "--model",
                "HIMARS",
                "--lot",
                "us-ua-atacms",
            ],
            "lot `us-ua-atacms` is of model `ATACMS`, not `HIMARS`",
        ),
        (
            vec![
                "check",
                "--actor",
                "UA",
                "--action",
                "use",
                "--model",
                "ATACMS",
                "--data",
                "/nonexistent",
            ],
            "cannot read `/nonexistent`",
        ),
    ];
    for (args, needle) in cases {
        let (code, out, err) = enduse(&args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in:\n{err}"
        );
    }
}

#[test]
fn errors_in_json_mode_are_json() {
    let (code, out, _) = enduse(&[
        "--json", "check", "--actor", "UA", "--action", "use", "--model", "ATACM",
    ]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["message"], "unknown item model `ATACM`");
    assert_eq!(v["error"]["code"], "enduse::unknown_model");
    assert!(v["error"]["help"].as_str().unwrap().contains("ATACMS"));
}

#[test]
fn validate_reports_file_and_line_of_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let src = data_dir();
    std::fs::create_dir(tmp.path().join("policies")).unwrap();
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).unwrap();
        std::fs::copy(&entry, tmp.path().join(rel)).unwrap();
    }
    let us = tmp.path().join("policies/US.cedar");
    let us_text = std::fs::read_to_string(&us).unwrap();
    std::fs::write(
        &us,
        us_text.replacen("@valid_from(\"2023-09\")", "@valid_from(\"2023-09-31\")", 1),
    )
    .unwrap();
    let models = tmp.path().join("models.toml");
    let text = std::fs::read_to_string(&models).unwrap();
    std::fs::write(
        &models,
        text.replacen("origin = \"DE\"", "origin = \"XX\"", 1),
    )
    .unwrap();

    let line = us_text
        .lines()
        .position(|l| l == "@valid_from(\"2023-09\")")
        .unwrap() as u64
        + 1;
    let (code, out, err) = enduse(&["--json", "validate", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let problems = v["error"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["file"] == "policies/US.cedar" && p["line"].as_u64() == Some(line)),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p["file"] == "models.toml" && p["message"].as_str().unwrap().contains("`XX`")),
        "{problems:?}"
    );

    let (code, _, err) = enduse(&["validate", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("policies/US.cedar"), "{err}");
    assert!(err.contains("is not a day of the calendar"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn help_explains_exit_codes_and_exits_0() {
    let (code, out, _) = enduse(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes: 0 permit"));
    let (code, out, _) = enduse(&["check", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--known-at"));
}

#[test]
fn where_classifies_real_points_and_refuses_bad_ones() {
    let (code, out, _) = enduse(&["--json", "where", "45.0,34.1"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["de_jure"]["country"], "UA");
    assert_eq!(v["de_jure"]["subdivision"], "UA-43");
    let (_, out, _) = enduse(&["--json", "where", "45.0,34.1", "--as-of", "2024-09-11"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["control"]["controlled_by"], "RU");
    assert_eq!(v["control"]["area"], "crimea-2014");
    let (_, out, _) = enduse(&["--json", "where", "45.0,34.1", "--as-of", "2013-01-01"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["control"]["controlled_by"], "UA");
    let (_, out, _) = enduse(&["--json", "where", "50.6,36.6"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["de_jure"]["subdivision"], "RU-BEL");
    let km = v["border_distance_km"].as_f64().unwrap();
    assert!((20.0..45.0).contains(&km), "{km}");
    for (args, needle) in [
        (vec!["where", "95,30"], "latitude `95` is outside -90..90"),
        (
            vec!["where", "45,190"],
            "longitude `190` is outside -180..180",
        ),
        (vec!["where", "NaN,30"], "not a finite number"),
        (vec!["where", "45.0"], "is not a coordinate pair"),
        (vec!["where", "43.5,34.0"], "no country at `43.5,34.0`"),
        (
            vec![
                "check",
                "--actor",
                "UA",
                "--action",
                "use",
                "--model",
                "ATACMS",
                "--at",
                "46.0,36.5",
            ],
            "no country at `46.0,36.5`",
        ),
        (
            vec![
                "check", "--actor", "UA", "--action", "use", "--model", "ATACMS", "--at", "45,34",
                "--place", "UA",
            ],
            "cannot be used with",
        ),
    ] {
        let (code, out, err) = enduse(&args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in:\n{err}"
        );
    }
}

#[test]
fn map_colours_regions_by_decision_and_cites_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("himars.svg");
    let (code, out, err) = enduse(&[
        "--json",
        "map",
        "--actor",
        "UA",
        "--action",
        "use",
        "--model",
        "HIMARS",
        "--as-of",
        "2024-06-15",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    // Ukraine (about 600,000 km²) is permitted; Russia and the neighbours
    // are forbidden. Without a purpose the counter-fire band along the
    // border cannot be decided: indeterminate.
    let area = |o: &str| v["outcomes"][o]["area_km2"].as_f64().unwrap_or(0.0);
    assert!((550_000.0..700_000.0).contains(&area("permit")), "{v}");
    assert!(area("forbid") > 1_000_000.0, "{v}");
    assert!(area("indeterminate") > 1_000.0, "{v}");
    assert_eq!(v["border_bands_km"], serde_json::json!([80.0]), "{v}");
    let sources = v["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    assert!(sources
        .iter()
        .all(|s| !s["outlet"].as_str().unwrap_or_default().is_empty()));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    assert!(text.contains("May Ukraine use HIMARS here on 2024-06-15?"));
    assert!(text.contains("data set: ukraine-2022-2025"));
    // The legend cites the sources of the decisions drawn.
    let first = sources[0]["outlet"].as_str().unwrap().replace('&', "&amp;");
    assert!(text.contains(&first), "{first}");

    let (_, out, _) = enduse(&[
        "--json",
        "map",
        "--actor",
        "UA",
        "--action",
        "use",
        "--model",
        "ATACMS",
        "--as-of",
        "2025-06-15",
        "--out",
        svg.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["outcomes"]["needs_approval"]["area_km2"]
            .as_f64()
            .unwrap()
            > 1_000_000.0
    );
    assert_eq!(v["authorities"][0]["authority"], "US:SecDef", "{v}");
    let (code, _, err) = enduse(&[
        "map", "--actor", "UA", "--action", "use", "--model", "ATACMS", "--cell", "0",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--cell `0` must be between"), "{err}");
}

#[test]
fn timeline_svg_draws_a_lane_per_party_with_public_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("atacms.svg");
    let (code, out, err) = enduse(&[
        "timeline",
        "--model",
        "ATACMS",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // The text timeline is still printed.
    assert!(out.contains("us-atacms-ukraine-only"), "{out}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..60]);
    assert!(text.contains("Conditions on ATACMS, over valid time"));
    assert!(text.contains(r#"data-party="US""#));
    // Each rule of the text output is a row of the picture, linked to its
    // details, with a marker where it became public.
    for id in ["us-atacms-ukraine-only", "us-atacms-secdef-review"] {
        assert!(out.contains(id), "{id} not in the text timeline");
        assert!(text.contains(&format!("href=\"#rule-{id}\"")), "{id}");
    }
    assert!(text.contains("class=\"public\""));
    assert!(text.contains("first public report"));

    // An unknown model writes nothing.
    let other = tmp.path().join("none.svg");
    let (code, _, err) = enduse(&[
        "timeline",
        "--model",
        "Zeppelin",
        "--svg",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("Zeppelin"), "{err}");
    assert!(!other.exists());
}

#[test]
fn a_user_control_layer_replaces_the_bundled_one() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("layer.geojson");
    std::fs::write(
        &layer,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature",
        "properties":{"id":"my-area","controlled_by":"UA","valid_from":"2023-01-01","approximate":true,"source":"my notes","note":"test"},
        "geometry":{"type":"Polygon","coordinates":[[[36.0,50.4],[37.0,50.4],[37.0,50.9],[36.0,50.9],[36.0,50.4]]]}}]}"#,
    )
    .unwrap();
    let (code, out, err) = enduse(&[
        "--json",
        "--control",
        layer.to_str().unwrap(),
        "where",
        "50.6,36.6",
        "--as-of",
        "2024-01-01",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["control"]["area"], "my-area");
    assert_eq!(v["control"]["controlled_by"], "UA");
    std::fs::write(&layer, r#"{"type":"FeatureCollection","features":[{"properties":{"id":"x","controlled_by":"UA","valid_from":"2023-02-30"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#).unwrap();
    let (code, _, err) = enduse(&["--control", layer.to_str().unwrap(), "where", "50.6,36.6"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a day of the calendar"), "{err}");
}

/// Copies the bundled data set into `dst`.
fn copy_data_set(dst: &std::path::Path) {
    let src = data_dir();
    for entry in walk(&src) {
        let to = dst.join(entry.strip_prefix(&src).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, to).unwrap();
    }
}

/// Appends `text` to the file `name` of the data set in `dir` (creating it).
fn append(dir: &std::path::Path, name: &str, text: &str) {
    let path = dir.join(name);
    let mut old = std::fs::read_to_string(&path).unwrap_or_default();
    old.push('\n');
    old.push_str(text);
    std::fs::write(path, old).unwrap();
}

const BAD_AREA: &str = r#"[[area]]
id = "far-away"
name = "a polygon off the globe"
geometry = { type = "Polygon", coordinates = [[[30.0, 50.0], [370.0, 50.0], [31.0, 51.0], [30.0, 50.0]]] }
"#;

const BAD_CONTROL: &str = r#"{"areas": [
  {"id": "bow-tie", "controlled_by": "RU", "valid_from": "2024-01-01",
   "polygon": [[36.0, 50.0], [37.0, 51.0], [37.0, 50.0], [36.0, 51.0], [36.0, 50.0]]},
  {"id": "dot", "controlled_by": "RU", "valid_from": "2024-01-01", "polygon": [[36.0, 50.0]]},
  {"id": "far", "controlled_by": "RU", "valid_from": "2024-01-01",
   "polygon": [[36.0, 50.0], [370.0, 50.0], [37.0, 51.0], [36.0, 50.0]]}
]}"#;

#[test]
fn validate_and_import_refuse_bad_areas_with_file_and_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    copy_data_set(&dir);
    append(&dir, "areas.toml", BAD_AREA);
    let areas = std::fs::read_to_string(dir.join("areas.toml")).unwrap();
    let geometry_line = areas
        .lines()
        .position(|l| {
            l.starts_with("geometry = { type = \"Polygon\", coordinates = [[[30.0, 50.0], [370.0")
        })
        .unwrap() as u64
        + 1;
    let (code, out, err) = enduse(&["--json", "validate", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let problems = v["error"]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["file"] == "areas.toml"
            && p["line"].as_u64() == Some(geometry_line)
            && p["message"]
                == "area `far-away`: `geometry`: longitude `370.0` is outside -180..180 (position 2 of ring 1)"),
        "{problems:?}"
    );
    let (code, _, err) = enduse(&["validate", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("areas.toml"), "{err}");
    assert!(err.contains("`far-away`"), "{err}");

    // The control layer: bad outlines, and a controller that is no party.
    std::fs::remove_file(dir.join("areas.toml")).unwrap();
    if data_dir().join("areas.toml").is_file() {
        std::fs::copy(data_dir().join("areas.toml"), dir.join("areas.toml")).unwrap();
    }
    std::fs::write(dir.join("control.json"), BAD_CONTROL).unwrap();
    let (code, out, err) = enduse(&["--json", "validate", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let messages: Vec<(String, String, Option<u64>)> = v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap().to_owned(),
                p["message"].as_str().unwrap().to_owned(),
                p["line"].as_u64(),
            )
        })
        .collect();
    for (needle, line) in [
        (
            "control area `bow-tie`: `polygon`: ring 1 crosses or touches itself",
            2,
        ),
        ("control area `dot`: `polygon`: ring 1 has 1 position", 4),
        (
            "control area `far`: `polygon`: longitude `370.0` is outside -180..180",
            5,
        ),
    ] {
        assert!(
            messages
                .iter()
                .any(|(f, m, l)| f == "control.json" && m.starts_with(needle) && *l == Some(line)),
            "{needle}: {messages:?}"
        );
    }
    std::fs::write(
        dir.join("control.json"),
        r#"{"areas": [{"id": "nobody", "controlled_by": "XX", "valid_from": "2024-01-01", "polygon": [[36.0, 50.0], [37.0, 50.0], [37.0, 51.0], [36.0, 50.0]]}]}"#,
    )
    .unwrap();
    let (code, out, _) = enduse(&["--json", "validate", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["error"]["problems"],
        serde_json::json!([{
            "file": "control.json",
            "line": 1,
            "message": "control area `nobody`: `controlled_by` `XX` is not a party of the register",
            "help": null,
        }])
    );
    let (code, _, err) = enduse(&["validate", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("control.json:1"), "{err}");
    assert!(err.contains("`nobody`"), "{err}");

    // Import refuses the same data set and writes nothing, not even an
    // empty database.
    let db = tmp.path().join("enduse.db");
    let (code, out, err) = enduse(&[
        "import",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("`nobody`"), "{err}");
    assert!(!db.exists());
    std::fs::remove_file(dir.join("control.json")).unwrap();
    append(&dir, "areas.toml", BAD_AREA);
    let (code, out, err) = enduse(&[
        "--json",
        "import",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["error"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["file"] == "areas.toml"
                && p["message"].as_str().unwrap().contains("`far-away`")),
        "{v}"
    );
    assert!(!db.exists());

    // `put control` checks the area the same way, and writes nothing.
    let db = db.to_str().unwrap();
    assert_eq!(enduse(&["init", "--db", db]).0, 0);
    let area = tmp.path().join("area.json");
    for (json, needle) in [
        (
            r#"{"id": "nobody", "controlled_by": "XX", "valid_from": "2024-01-01", "polygon": [[36.0, 50.0], [37.0, 50.0], [37.0, 51.0], [36.0, 50.0]]}"#,
            "`XX` is not a party",
        ),
        (
            r#"{"id": "bow-tie", "controlled_by": "RU", "valid_from": "2024-01-01", "polygon": [[36.0, 50.0], [37.0, 51.0], [37.0, 50.0], [36.0, 51.0], [36.0, 50.0]]}"#,
            "crosses or touches itself",
        ),
    ] {
        std::fs::write(&area, json).unwrap();
        let (code, out, err) = enduse(&[
            "--json",
            "put",
            "control",
            "--file",
            area.to_str().unwrap(),
            "--db",
            db,
        ]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains(needle), "{out}");
    }
    let (_, out, _) = enduse(&["--json", "log", "--db", db]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["transactions"].as_array().unwrap().len(), 1, "{v}");
}

/// A data set with a test party, model, source and rules that read
/// `context.areas`, and a band along the Belgorod stretch of the border.
fn data_set_with_areas(dir: &std::path::Path) {
    copy_data_set(dir);
    let schema_path = dir.join("schema.cedarschema");
    let mut schema = std::fs::read_to_string(&schema_path).unwrap();
    if !schema.contains("entity Area") {
        schema = schema.replacen("entity Category", "entity Area;\n\nentity Category", 1);
    }
    if !schema.contains("\"areas\": Set<Area>") {
        schema = schema.replacen(
            "type RequestContext = {",
            "type RequestContext = {\n  \"areas\": Set<Area>,",
            1,
        );
    }
    std::fs::write(&schema_path, schema).unwrap();
    append(
        dir,
        "areas.toml",
        r#"[[area]]
id = "test-belgorod-band"
name = "Russian territory within 50 km of the border along Belgorod oblast"
border_band_km = 50
opposite = ["RU-BEL"]
within = ["RU"]
sources = ["test-source"]
"#,
    );
    append(
        dir,
        "sources.toml",
        r#"[[source]]
id = "test-source"
outlet = "Test"
date = "2024-01-01"
title = "A test source"
"#,
    );
    append(
        dir,
        "parties.toml",
        r#"[[party]]
id = "ZZ"
name = "Testland"
kind = "state"
authorities = [{ name = "Government", title = "Government" }]
"#,
    );
    append(
        dir,
        "models.toml",
        r#"[[category]]
id = "test-rocket"
name = "Test rocket"

[[model]]
id = "TESTROCKET"
name = "Test rocket"
category = "test-rocket"
origin = "ZZ"
sources = ["test-source"]
"#,
    );
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(
        dir.join("policies/ZZ.cedar"),
        r#"@id("zz-use-in-belgorod-band")
@summary("Testland's rocket may be used in the Belgorod border band")
@valid_from("2024-01-01")
@recorded_at("2024-01-01")
@source("test-source")
@quote("in the band")
permit (principal, action == Action::"use", resource in Model::"TESTROCKET")
when { context.areas.contains(Area::"test-belgorod-band") };

@id("zz-no-use-elsewhere-in-russia")
@summary("Testland's rocket may not be used elsewhere in Russia")
@valid_from("2024-01-01")
@recorded_at("2024-01-01")
@source("test-source")
@quote("nowhere else")
forbid (principal, action == Action::"use", resource in Model::"TESTROCKET")
when { context.place in Place::"RU" && !context.areas.contains(Area::"test-belgorod-band") };
"#,
    )
    .unwrap();
}

#[test]
fn check_at_passes_the_named_areas_of_the_point() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    data_set_with_areas(&dir);
    let (code, out, err) = enduse(&["validate", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let check = |at: &str| -> (i32, Value) {
        let (code, out, err) = enduse(&[
            "--json",
            "--data",
            dir.to_str().unwrap(),
            "check",
            "--actor",
            "UA",
            "--action",
            "use",
            "--model",
            "TESTROCKET",
            "--as-of",
            "2024-06-01",
            "--at",
            at,
        ]);
        (
            code,
            serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}")),
        )
    };
    // Belgorod city: in the band along Belgorod oblast.
    let (code, v) = check("50.6,36.6");
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outcome"], "permit", "{v}");
    assert_eq!(
        v["request"]["areas"],
        serde_json::json!(["test-belgorod-band"])
    );
    assert_eq!(
        v["parties"][0]["rules"][0]["id"], "zz-use-in-belgorod-band",
        "{v}"
    );
    // Sudzha (Kursk oblast) is as near the border, but faces Sumy oblast.
    let (code, v) = check("51.19,35.27");
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["request"]["areas"], serde_json::json!([]));
    assert_eq!(
        v["parties"][0]["rules"][0]["id"], "zz-no-use-elsewhere-in-russia",
        "{v}"
    );
    // Moscow: far from any border.
    let (code, _) = check("55.75,37.62");
    assert_eq!(code, 2);
    // Kharkiv: near the Belgorod stretch, but the band lies within Russia.
    let (code, v) = check("50.0,36.23");
    assert_eq!(code, 4, "{v}");
    assert_eq!(v["request"]["areas"], serde_json::json!([]));
    // Without a point there are no areas: the answer names the missing fact.
    let (code, out, _) = enduse(&[
        "--json",
        "--data",
        dir.to_str().unwrap(),
        "check",
        "--actor",
        "UA",
        "--action",
        "use",
        "--model",
        "TESTROCKET",
        "--as-of",
        "2024-06-01",
        "--place",
        "RU-BEL",
    ]);
    assert_eq!(code, 4, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().starts_with("areas")),
        "{v}"
    );

    // `where` lists the areas too.
    let (code, out, err) = enduse(&[
        "--json",
        "--data",
        dir.to_str().unwrap(),
        "where",
        "50.6,36.6",
        "--as-of",
        "2024-06-01",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["areas"], serde_json::json!(["test-belgorod-band"]));
    let (code, out, err) = enduse(&[
        "--data",
        dir.to_str().unwrap(),
        "where",
        "50.6,36.6",
        "--as-of",
        "2024-06-01",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("named areas on 2024-06-01: `test-belgorod-band`"),
        "{out}"
    );
    let (_, out, _) = enduse(&[
        "--data",
        dir.to_str().unwrap(),
        "where",
        "55.75,37.62",
        "--as-of",
        "2024-06-01",
    ]);
    assert!(out.contains("named areas on 2024-06-01: none"), "{out}");

    // The map colours the band apart from the rest of Russia.
    let svg = tmp.path().join("band.svg");
    let (code, out, err) = enduse(&[
        "--json",
        "--data",
        dir.to_str().unwrap(),
        "map",
        "--actor",
        "UA",
        "--action",
        "use",
        "--model",
        "TESTROCKET",
        "--as-of",
        "2024-06-01",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    // The band is 50 km deep along about 300 km of border: roughly
    // 10,000-20,000 km². Where the stretch ends, the nearest border point
    // may lie on or off it, so the grid decides there.
    let permit = v["outcomes"]["permit"]["area_km2"].as_f64().unwrap();
    assert!((5_000.0..30_000.0).contains(&permit), "{v}");
    assert!(
        v["outcomes"]["forbid"]["area_km2"].as_f64().unwrap() > 1_000_000.0,
        "{v}"
    );
    assert!(v["sampled_cells"].as_u64().unwrap() > 0, "{v}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains(r#"id="area-test-belgorod-band""#));
}
