#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The vocabulary of real conditions, on a small self-contained data set:
//! consent decisions, defaults, status, target classes, groups, treaty
//! procedure, jurisdiction, assurances, dated dependencies and areas; and
//! the bad input each of them can bring.

use enduse_core::{
    parse_day, Action, AuthorityId, CitationKind, Decision, Engine, ItemRef, Outcome, Query,
    RequestError, StatusFilter,
};
use enduse_load::{load_files, DataFiles};
use proptest::prelude::*;
use std::collections::BTreeMap;

const SCHEMA: &str = include_str!("../../../data/ukraine-2022-2025/schema.cedarschema");

fn base() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        m.insert(k.to_owned(), v.to_owned());
    };
    put("schema.cedarschema", SCHEMA);
    put(
        "dataset.toml",
        "name = \"vocab\"\ntitle = \"vocabulary test\"\n",
    );
    put(
        "sources.toml",
        r#"
[[source]]
id = "law"
outlet = "Statute book"
date = "2000-01-01"
title = "Export control act"

[[source]]
id = "s2023"
outlet = "Reuters"
date = "2023-01-25"
title = "Consent"
quote = "will not stand in the way"

[[source]]
id = "s2024"
outlet = "AP"
date = "2024-05-30"
title = "Permission"

[[source]]
id = "s2025"
outlet = "WSJ"
date = "2025-08-01"
title = "Review"

[[source]]
id = "s2025b"
outlet = "Kyiv Independent"
date = "2025-08-02"
title = "Review, follow-up"
quote = "at least one request was rejected"
"#,
    );
    put(
        "parties.toml",
        r#"
[[party]]
id = "US"
name = "United States"
kind = "state"
authorities = [
  { name = "President", title = "President" },
  { name = "SecDef", title = "Secretary of Defense", acts_for = "President" },
]

[[party]]
id = "DE"
name = "Germany"
kind = "state"
authorities = [
  { name = "Government", title = "Federal Government" },
  { name = "BAFA", title = "Export control office", acts_for = "Government" },
]

[[party]]
id = "GB"
name = "United Kingdom"
kind = "state"

[[party]]
id = "UA"
name = "Ukraine"
kind = "state"

[[party]]
id = "RU"
name = "Russia"
kind = "state"

[[party]]
id = "PL"
name = "Poland"
kind = "state"

[[party]]
id = "FI"
name = "Finland"
kind = "state"

[[party]]
id = "LT"
name = "Lithuania"
kind = "state"

[[party]]
id = "Acme"
name = "Acme GmbH"
kind = "company"
country = "DE"

[[party]]
id = "OTTAWA"
name = "Ottawa Treaty"
kind = "treaty"
"#,
    );
    put(
        "groups.toml",
        r#"
[[group]]
id = "NATO"
name = "NATO"
members = [
  { party = "PL", from = "1999-03-12", source = "law" },
  { party = "FI", from = "2023-04-04", source = "s2023" },
]
"#,
    );
    put(
        "places.toml",
        r#"
[[place]]
code = "UA"
name = "Ukraine"
kind = "country"

[[place]]
code = "UA-63"
name = "Kharkiv oblast"
kind = "subdivision"
parent = "UA"

[[place]]
code = "RU"
name = "Russia"
kind = "country"

[[place]]
code = "RU-BEL"
name = "Belgorod oblast"
kind = "subdivision"
parent = "RU"

[[place]]
code = "LT"
name = "Lithuania"
kind = "country"
"#,
    );
    put(
        "targets.toml",
        r#"
[[target]]
id = "military"
name = "Military objective"

[[target]]
id = "airfield"
name = "Military airfield"
parent = "military"

[[target]]
id = "civilian-infrastructure"
name = "Civilian infrastructure"

[[purpose]]
id = "self-defence"
name = "Self-defence"

[[purpose]]
id = "counter-fire"
name = "Counter-fire"
parent = "self-defence"
"#,
    );
    put(
        "models.toml",
        r#"
[[category]]
id = "missile"
name = "Missile"

[[category]]
id = "tank"
name = "Tank"

[[category]]
id = "anti-personnel-mine"
name = "Anti-personnel mine"

[[model]]
id = "M1"
name = "US missile"
category = "missile"
origin = "US"

[[model]]
id = "T1"
name = "German tank"
category = "tank"
origin = "DE"

[[model]]
id = "SS"
name = "British missile on US data"
category = "missile"
origin = "GB"
dependencies = [{ kind = "data", what = "US targeting data", provider = "US", from = "2025-01-01" }]

[[model]]
id = "X1"
name = "A company's own design"
category = "tank"
origin = "Acme"

[[model]]
id = "MINE"
name = "A mine"
category = "anti-personnel-mine"
origin = "US"
"#,
    );
    put(
        "transfers.toml",
        r#"
[[lot]]
id = "pl-t1"
model = "T1"
quantity = 14

[[transfer]]
id = "de-pl-t1"
lot = "pl-t1"
from = "DE"
to = "PL"
stages = [{ stage = "delivered", date = "2015-01-01" }]
sources = ["law"]
"#,
    );
    put(
        "treaties.toml",
        r#"
[[treaty]]
id = "OTTAWA"
name = "Ottawa Treaty"
prohibits = ["anti-personnel-mine"]
withdrawal = { notice_months = 6, not_during_armed_conflict = true }
steps = [
  { party = "LT", kind = "in_force", date = "2003-11-01", source = "law" },
  { party = "LT", kind = "notice_of_withdrawal", date = "2025-06-27", source = "s2025" },
  { party = "UA", kind = "in_force", date = "2006-06-01", source = "law" },
  { party = "UA", kind = "event", date = "2025-06-29", source = "s2025", note = "decree" },
  { party = "UA", kind = "notice_of_withdrawal", date = "2025-06-29", source = "s2025" },
]
"#,
    );
    put(
        "conflicts.toml",
        r#"
[[conflict]]
id = "war"
name = "Russia's war against Ukraine"
parties = ["RU", "UA"]
from = "2014-02"
source = "law"
"#,
    );
    put(
        "defaults.toml",
        r#"
[[default]]
id = "us-use"
party = "US"
actions = ["use", "deploy"]
effect = "permit"
valid_from = "2000-01-01"
sources = ["law"]
summary = "what US conditions do not forbid is permitted"

[[default]]
id = "de-reexport"
party = "DE"
actions = ["reexport"]
effect = "needs_approval"
authority = "DE:Government"
valid_from = "2000-01-01"
sources = ["law"]
summary = "re-export of German materiel needs the Federal Government's consent"

[[default]]
id = "de-use"
party = "DE"
actions = ["use", "transfer"]
effect = "permit"
valid_from = "2000-01-01"
sources = ["law"]
summary = "what German conditions do not forbid is permitted"
"#,
    );
    put(
        "approvals.toml",
        r#"
[[approval]]
id = "de-grant-pl"
authority = "DE:BAFA"
decision = "granted"
requester = "PL"
actions = ["reexport"]
models = ["T1"]
recipient = "UA"
date = "2023-01-24"
public = "2023-01-25"
sources = ["s2023"]
summary = "Germany let Poland pass its tanks to Ukraine"

[[approval]]
id = "us-refusal"
authority = "US:President"
decision = "refused"
requester = "UA"
actions = ["use"]
models = ["M1"]
places = ["RU"]
valid_from = "2025-07-01"
valid_to = "2025-07-10"
sources = ["s2025", "s2025b"]
status = "reported"
summary = "a strike request was rejected"
"#,
    );
    put(
        "policies/US.cedar",
        r#"
@id("us-m1-ukraine-only")
@summary("M1 only on Ukrainian territory")
@valid_from("2023-01-01")
@valid_to("2024-11-18")
@recorded_at("2024-05-30")
@source("s2024")
@quote("only in Ukraine")
forbid (principal, action == Action::"use", resource in Model::"M1")
unless { context.place in Place::"UA" };

@id("us-m1-review")
@summary("M1 strikes on Russia need the Secretary of Defense's approval")
@valid_from("2025-03-01")
@recorded_at("2025-08-01")
@source("s2025, s2025b")
@quote("final approval")
@status("reported")
@approval("US:SecDef")
forbid (principal, action == Action::"use", resource in Model::"M1")
when { context.place in Place::"RU" }
unless { context.approvals.contains("US:SecDef") };

@id("us-m1-no-infrastructure")
@summary("M1 never against civilian infrastructure")
@valid_from("2023-01-01")
@recorded_at("2024-05-30")
@source("s2024")
@quote("no civilian infrastructure")
forbid (principal, action == Action::"use", resource in Model::"M1")
when { context.target in TargetClass::"civilian-infrastructure" };

@id("us-m1-belgorod-rumour")
@summary("M1 reportedly barred in Belgorod oblast from 2025-09")
@valid_from("2025-09-01")
@recorded_at("2025-08-02")
@source("s2025b")
@quote("rejected")
@status("disputed")
forbid (principal, action == Action::"use", resource in Model::"M1")
when { context.place in Place::"RU-BEL" };
"#,
    );
    put(
        "policies/GB.cedar",
        r#"
@id("gb-ss-assurance")
@summary("Ukraine assured the UK it would use SS only on Ukrainian territory")
@valid_from("2023-05-11")
@recorded_at("2024-05-30")
@source("s2024")
@quote("assurances")
@assurance("UA")
forbid (principal, action == Action::"use", resource in Model::"SS")
unless { context.place in Place::"UA" };
"#,
    );
    put(
        "policies/DE.cedar",
        r#"
@id("de-transfer-nato-only")
@summary("Germany transfers its tanks only to NATO members")
@valid_from("2020-01-01")
@recorded_at("2023-01-25")
@source("s2023")
@quote("NATO")
forbid (principal, action == Action::"transfer", resource in Model::"T1")
unless { context.recipient in Group::"NATO" };
"#,
    );
    m
}

fn files(edit: impl FnOnce(&mut BTreeMap<String, String>)) -> DataFiles {
    let mut m = base();
    edit(&mut m);
    DataFiles::from_map("vocab", m)
}

fn engine() -> Engine {
    load_files(&files(|_| {})).unwrap_or_else(|e| panic!("{e:?}"))
}

fn day(s: &str) -> chrono::NaiveDate {
    parse_day(s).unwrap()
}

fn q(actor: &str, action: Action, model: &str, as_of: &str, known_at: &str) -> Query {
    Query {
        actor: actor.into(),
        action,
        item: ItemRef::Model(model.into()),
        place: None,
        recipient: None,
        target_class: None,
        purpose: None,
        destination: None,
        statuses: StatusFilter::Reported,
        border_distance_km: None,
        areas: None,
        controlled_by: None,
        as_of: day(as_of),
        known_at: day(known_at),
        approvals: vec![],
    }
}

fn cited(d: &Decision) -> Vec<String> {
    d.parties
        .iter()
        .flat_map(|p| p.rules.iter().map(|r| r.id.to_string()))
        .collect()
}

#[test]
fn the_test_data_set_loads() {
    let e = engine();
    assert_eq!(e.register().consents.len(), 2);
    assert_eq!(e.register().defaults.len(), 3);
}

#[test]
fn a_grant_by_a_delegate_lifts_the_default_once_public() {
    let e = engine();
    let mut r = q("PL", Action::Reexport, "T1", "2023-02-01", "2023-03-01");
    r.recipient = Some("UA".into());
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Permit, "{d:#?}");
    assert!(cited(&d).contains(&"de-grant-pl".to_owned()));
    let grant = d.parties[0]
        .rules
        .iter()
        .find(|x| x.kind == CitationKind::Consent)
        .unwrap();
    assert_eq!(&*grant.source.outlet, "Reuters");
    // Not yet public on 24 January: the consent requirement stands.
    r.known_at = day("2023-01-24");
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::NeedsApproval);
    assert_eq!(d.approvals[0].authority.as_str(), "DE:Government");
    // Outside its scope (another recipient): not lifted.
    r.known_at = day("2023-03-01");
    r.recipient = Some("FI".into());
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::NeedsApproval);
}

#[test]
fn a_refusal_forbids_within_its_scope_and_window() {
    let e = engine();
    let mut r = q("UA", Action::Use, "M1", "2025-07-05", "2025-09-01");
    r.place = Some("RU-BEL".into());
    r.target_class = Some("military".into());
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Forbid, "{d:#?}");
    assert!(cited(&d).contains(&"us-refusal".to_owned()));
    // The refusal is reported only: flagged, and dropped under --status confirmed.
    assert!(d.reported.iter().any(|x| x.as_str() == "us-refusal"));
    // Before it was public (as the review itself): the default permits.
    r.known_at = day("2025-07-31");
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::Permit);
    // After its window: the review requirement again.
    r.known_at = day("2025-09-01");
    r.as_of = day("2025-07-20");
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::NeedsApproval);
    // "As if approved" by the delegate of the refusing authority: permitted.
    r.as_of = day("2025-07-05");
    r.approvals = vec![AuthorityId::parse("US:SecDef").unwrap()];
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::Permit);
}

#[test]
fn defaults_decide_where_rules_are_silent_and_silence_without_one_is_named() {
    let e = engine();
    let mut r = q("UA", Action::Use, "M1", "2024-06-01", "2025-01-01");
    r.place = Some("UA-63".into());
    // A restriction reads the target: without one, the answer cannot be given.
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Indeterminate);
    assert!(
        d.missing.iter().any(|m| m.contains("--target-class")),
        "{:?}",
        d.missing
    );
    r.target_class = Some("military".into());
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Permit);
    assert!(d.parties[0]
        .rules
        .iter()
        .any(|x| x.kind == CitationKind::Default && x.id.as_str() == "us-use"));
    // The UK has no default and no rule for SS in Ukraine before 2023-05-11.
    let mut r = q("UA", Action::Use, "SS", "2023-01-01", "2025-01-01");
    r.place = Some("UA".into());
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Indeterminate);
    assert!(d.parties[0].reason.contains("no declared default"));
    assert!(d.missing.iter().any(|m| m.contains("United Kingdom")));
}

#[test]
fn status_reported_is_flagged_confirmed_only_drops_it_and_disputed_is_shown_apart() {
    let e = engine();
    let mut r = q("UA", Action::Use, "M1", "2025-06-01", "2025-09-01");
    r.place = Some("RU".into());
    r.target_class = Some("airfield".into());
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::NeedsApproval);
    assert_eq!(d.reported, vec!["us-m1-review".into()]);
    r.statuses = StatusFilter::Confirmed;
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Permit, "{d:#?}");
    // Disputed: not used; the answer says what it would be if it held.
    let mut r = q("UA", Action::Use, "M1", "2025-10-01", "2025-12-01");
    r.place = Some("RU-BEL".into());
    r.target_class = Some("military".into());
    r.approvals = vec![AuthorityId::parse("US:SecDef").unwrap()];
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Permit);
    let alt = d.if_disputed.expect("an alternative outcome");
    assert_eq!(alt.outcome, Outcome::Forbid);
    assert_eq!(alt.facts[0].id.as_str(), "us-m1-belgorod-rumour");
}

#[test]
fn target_classes_are_a_hierarchy_and_unknown_ones_are_refused() {
    let e = engine();
    let mut r = q("UA", Action::Use, "M1", "2024-06-01", "2025-01-01");
    r.place = Some("UA".into());
    r.target_class = Some("civilian-infrastructure".into());
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::Forbid);
    r.target_class = Some("airfield".into());
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::Permit);
    r.target_class = Some("airfeld".into());
    match e.decide(&r) {
        Err(RequestError::UnknownTerm { id, help, .. }) => {
            assert_eq!(id, "airfeld");
            assert!(help.contains("airfield"), "{help}");
        }
        other => panic!("{other:?}"),
    }
    r.target_class = None;
    r.purpose = Some("counterfire".into());
    assert!(matches!(
        e.decide(&r),
        Err(RequestError::UnknownTerm {
            what: "purpose",
            ..
        })
    ));
}

#[test]
fn group_membership_is_dated() {
    let e = engine();
    let mut r = q("DE", Action::Transfer, "T1", "2023-03-01", "2025-01-01");
    r.recipient = Some("FI".into());
    // Germany's own rule binds it (the actor's own rules).
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::Forbid);
    r.as_of = day("2023-04-04");
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::Permit);
    r.recipient = Some("UA".into());
    assert_eq!(e.decide(&r).unwrap().outcome, Outcome::Forbid);
}

#[test]
fn a_withdrawal_notice_takes_effect_after_six_months_but_not_during_an_armed_conflict() {
    let e = engine();
    let mut r = q("LT", Action::Use, "MINE", "2025-12-26", "2026-01-15");
    r.place = Some("LT".into());
    let d = e.decide(&r).unwrap();
    assert!(d.parties.iter().any(|p| p.party.as_str() == "OTTAWA"));
    r.as_of = day("2025-12-28");
    let d = e.decide(&r).unwrap();
    assert!(!d.parties.iter().any(|p| p.party.as_str() == "OTTAWA"));
    // Ukraine is engaged in an armed conflict: still bound a year later.
    let mut r = q("UA", Action::Use, "MINE", "2026-07-01", "2026-07-01");
    r.place = Some("UA".into());
    let d = e.decide(&r).unwrap();
    assert!(d.parties.iter().any(|p| p.party.as_str() == "OTTAWA"));
    assert_eq!(d.outcome, Outcome::Indeterminate.max(d.outcome));
}

#[test]
fn a_company_binds_its_home_state() {
    let e = engine();
    let chain = e
        .chain(
            &"UA".into(),
            &ItemRef::Model("X1".into()),
            day("2024-01-01"),
        )
        .unwrap();
    let de = chain.iter().find(|l| l.party.as_str() == "DE").unwrap();
    assert!(de.binds);
    assert!(de.roles[0].label().contains("home state of Acme"));
}

#[test]
fn assurances_say_who_gave_them_to_whom_and_dependencies_bind_only_in_force() {
    let e = engine();
    let mut r = q("UA", Action::Use, "SS", "2024-06-01", "2025-01-01");
    r.place = Some("RU".into());
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Forbid);
    let a = d.parties[0].rules[0].assurance.clone().unwrap();
    assert_eq!(&*a, "an assurance given by Ukraine to United Kingdom");
    // The US data dependency starts in 2025.
    assert!(!d.parties.iter().any(|p| p.party.as_str() == "US"));
    r.as_of = day("2025-02-01");
    let d = e.decide(&r).unwrap();
    assert!(d.parties.iter().any(|p| p.party.as_str() == "US"));
}

#[test]
fn a_rule_reading_areas_without_a_point_names_the_missing_fact_and_option() {
    let e = load_files(&files(|m| {
        m.insert(
            "areas.toml".into(),
            "[[area]]\nid = \"band\"\nname = \"band\"\nborder_band_km = 20\nwithin = [\"RU\"]\n"
                .into(),
        );
        m.get_mut("policies/US.cedar").unwrap().push_str(
            "\n@id(\"us-band\")\n@summary(\"only in the band\")\n@valid_from(\"2024-01-01\")\n@recorded_at(\"2024-05-30\")\n@source(\"s2024\")\n@quote(\"band\")\nforbid (principal, action == Action::\"use\", resource in Model::\"MINE\")\nunless { context.areas.contains(Area::\"band\") };\n",
        );
    }))
    .unwrap_or_else(|e| panic!("{e:?}"));
    let mut r = q("UA", Action::Use, "MINE", "2024-06-01", "2025-01-01");
    r.place = Some("UA".into());
    let d = e.decide(&r).unwrap();
    assert_eq!(d.outcome, Outcome::Indeterminate);
    assert!(
        d.missing.iter().any(|m| m == "areas (give --at LAT,LON)"),
        "{:?}",
        d.missing
    );
    r.areas = Some(vec!["band".into()]);
    let d = e.decide(&r).unwrap();
    assert!(!d
        .parties
        .iter()
        .any(|p| p.party.as_str() == "US" && p.rules.iter().any(|x| x.id.as_str() == "us-band")));
}

fn refused(edit: impl FnOnce(&mut BTreeMap<String, String>)) -> Vec<enduse_load::FileProblem> {
    match load_files(&files(edit)) {
        Ok(_) => panic!("should be refused"),
        Err(e) => e.problems().to_vec(),
    }
}

fn has(p: &[enduse_load::FileProblem], file: &str, text: &str) -> bool {
    p.iter()
        .any(|x| x.file == file && x.message.contains(text) && x.line.is_some())
}

#[test]
fn a_fact_cannot_be_public_before_its_earliest_source() {
    let p = refused(|m| {
        let us = m.get_mut("policies/US.cedar").unwrap();
        *us = us.replacen(
            "@recorded_at(\"2024-05-30\")",
            "@recorded_at(\"2024-05-01\")",
            1,
        );
    });
    assert!(
        has(&p, "policies/US.cedar", "before every source it cites"),
        "{p:?}"
    );
    let p = refused(|m| {
        let a = m.get_mut("approvals.toml").unwrap();
        *a = a.replacen("public = \"2023-01-25\"", "public = \"2023-01-20\"", 1);
    });
    assert!(
        has(&p, "approvals.toml", "before its earliest source"),
        "{p:?}"
    );
}

#[test]
fn bad_vocabulary_records_are_refused_with_their_location() {
    let p = refused(|m| {
        let d = m.get_mut("defaults.toml").unwrap();
        *d = d.replacen("actions = [\"reexport\"]", "actions = [\"re-export\"]", 1);
        *d = d.replacen("authority = \"DE:Government\"\n", "", 1);
        let a = m.get_mut("approvals.toml").unwrap();
        *a = a.replacen("status = \"reported\"", "status = \"rumoured\"", 1);
    });
    assert!(
        has(&p, "defaults.toml", "unknown action `re-export`"),
        "{p:?}"
    );
    assert!(has(&p, "defaults.toml", "names no `authority`"), "{p:?}");
    assert!(
        has(&p, "approvals.toml", "unknown status `rumoured`"),
        "{p:?}"
    );
    let p = refused(|m| {
        m.insert(
            "areas.toml".into(),
            "[[area]]\nid = \"a\"\nname = \"a\"\nborder_band_km = -5\nplaces = [\"UA\"]\n".into(),
        );
    });
    assert!(has(&p, "areas.toml", "must be defined one way"), "{p:?}");
    assert!(has(&p, "areas.toml", "not between 0 and 2000"), "{p:?}");
    let p = refused(|m| {
        let a = m.get_mut("approvals.toml").unwrap();
        a.push_str("\n[[approval]]\nid = \"x\"\nauthority = \"DE:Government\"\ndecision = \"refused\"\ntargets = [\"airfeld\"]\nsources = [\"s2024\"]\nsummary = \"x\"\n");
    });
    assert!(has(&p, "approvals.toml", "unknown term `airfeld`"), "{p:?}");
    let p = refused(|m| {
        let g = m.get_mut("policies/GB.cedar").unwrap();
        *g = g.replacen("@assurance(\"UA\")", "@status(\"rumour\")", 1);
    });
    assert!(has(&p, "policies/GB.cedar", "is not a status"), "{p:?}");
}

#[test]
fn a_range_in_recorded_at_gets_advice_that_agrees_with_itself() {
    let p = refused(|m| {
        let us = m.get_mut("policies/US.cedar").unwrap();
        *us = us.replacen(
            "@recorded_at(\"2024-05-30\")",
            "@recorded_at(\"2024-05\")",
            1,
        );
    });
    let x = p
        .iter()
        .find(|x| x.message.contains("is not one day"))
        .unwrap_or_else(|| panic!("{p:?}"));
    let help = x.help.clone().unwrap_or_default();
    assert!(help.contains("2024-05-31"), "{help}");
    assert!(!help.contains("FROM..TO"), "{help}");
}

#[test]
fn deep_nesting_and_nul_bytes_are_refused_not_crashed_on() {
    let deep = format!(
        "@id(\"deep\")\n@summary(\"s\")\n@valid_from(\"2024-01-01\")\n@recorded_at(\"2024-05-30\")\n@source(\"s2024\")\n@quote(\"q\")\nforbid (principal, action, resource) when {{ {}true{} }};\n",
        "(".repeat(600),
        ")".repeat(600)
    );
    // On a small stack, as a worker thread would have.
    let p = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            refused(|m| {
                m.insert("policies/GB.cedar".into(), deep);
            })
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(
        has(&p, "policies/GB.cedar", "nesting deeper than 64"),
        "{p:?}"
    );
    let p = refused(|m| {
        let g = m.get_mut("policies/GB.cedar").unwrap();
        *g = g.replacen("@quote(\"assurances\")", "@quote(\"assur\0ances\")", 1);
    });
    assert!(has(&p, "policies/GB.cedar", "NUL byte"), "{p:?}");
}

#[test]
fn malformed_toml_is_reported_without_a_cascade() {
    let p = refused(|m| {
        let t = m.get_mut("parties.toml").unwrap();
        *t = t.replacen("kind = \"state\"", "kind = state", 1);
    });
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].message.starts_with("invalid toml"));
}

/// The outcome of `q` on the data set as edited.
fn outcome_with(edit: impl FnOnce(&mut BTreeMap<String, String>), q: &Query) -> Outcome {
    let e = load_files(&files(edit)).unwrap();
    e.decide(q).unwrap().outcome
}

fn arb_query() -> impl Strategy<Value = Query> {
    let actors = prop::sample::select(vec!["UA", "PL", "DE", "LT"]);
    let actions = prop::sample::select(vec![Action::Use, Action::Reexport, Action::Transfer]);
    let models = prop::sample::select(vec!["M1", "T1", "SS", "MINE"]);
    let places = prop::sample::select(vec![None, Some("UA"), Some("RU"), Some("RU-BEL")]);
    let recipients = prop::sample::select(vec![None, Some("UA"), Some("FI"), Some("PL")]);
    let days = 0i64..1400;
    let targets = prop::sample::select(vec![
        None,
        Some("military"),
        Some("civilian-infrastructure"),
    ]);
    (
        actors,
        actions,
        models,
        places,
        recipients,
        (days.clone(), days),
        targets,
    )
        .prop_map(|(a, act, m, p, rc, (d1, d2), t)| {
            let start = day("2022-06-01");
            let mut r = q(a, act, m, "2022-06-01", "2022-06-01");
            r.as_of = start + chrono::Days::new(d1 as u64);
            r.known_at = start + chrono::Days::new(d2 as u64);
            r.place = p.map(Into::into);
            r.recipient = rc.map(Into::into);
            r.target_class = t.map(Into::into);
            r
        })
}

/// Blanket decisions of every kind, to compare with and without.
const GRANT: &str = "\n[[approval]]\nid = \"blanket-grant\"\nauthority = \"US:President\"\ndecision = \"granted\"\ndate = \"2022-01-01\"\nsources = [\"law\"]\nsummary = \"every request granted\"\n\n[[approval]]\nid = \"blanket-grant-de\"\nauthority = \"DE:Government\"\ndecision = \"granted\"\ndate = \"2022-01-01\"\nsources = [\"law\"]\nsummary = \"every request granted\"\n";
const REFUSAL: &str = "\n[[approval]]\nid = \"blanket-refusal\"\nauthority = \"DE:BAFA\"\ndecision = \"refused\"\ndate = \"2023-06-01\"\nsources = [\"s2024\"]\nsummary = \"every request refused\"\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_recorded_grant_never_tightens_an_outcome(r in arb_query()) {
        let without = outcome_with(|_| {}, &r);
        let with = outcome_with(|m| m.get_mut("approvals.toml").unwrap().push_str(GRANT), &r);
        prop_assert!(with <= without, "{with:?} > {without:?} for {r:?}");
    }

    #[test]
    fn a_recorded_refusal_never_loosens_an_outcome(r in arb_query()) {
        let without = outcome_with(|_| {}, &r);
        let with = outcome_with(|m| m.get_mut("approvals.toml").unwrap().push_str(REFUSAL), &r);
        prop_assert!(with >= without,
            "{with:?} < {without:?} for {r:?}");
    }

    #[test]
    fn a_disputed_fact_never_changes_the_primary_outcome(r in arb_query()) {
        let without = outcome_with(|m| {
            let us = m.get_mut("policies/US.cedar").unwrap();
            let i = us.find("@id(\"us-m1-belgorod-rumour\")").unwrap();
            us.truncate(i);
        }, &r);
        let with = outcome_with(|m| {
            m.get_mut("policies/DE.cedar").unwrap().push_str(
                "\n@id(\"de-disputed-ban\")\n@summary(\"a disputed ban on everything\")\n@valid_from(\"2022-01-01\")\n@recorded_at(\"2023-01-25\")\n@source(\"s2023\")\n@quote(\"ban\")\n@status(\"disputed\")\nforbid (principal, action, resource);\n");
        }, &r);
        prop_assert_eq!(with, without, "for {:?}", r);
    }
}

#[test]
fn a_timeline_lists_only_rules_whose_scope_can_match_the_model() {
    let e = load_files(&files(|m| {
        m.get_mut("policies/US.cedar").unwrap().push_str(
            "\n@id(\"us-origin-only\")\n@summary(\"US designs only in Ukraine\")\n@valid_from(\"2024-01-01\")\n@recorded_at(\"2024-05-30\")\n@source(\"s2024\")\n@quote(\"US\")\nforbid (principal, action == Action::\"use\", resource)\nwhen { resource.origin == Party::\"US\" }\nunless { context.place in Place::\"UA\" };\n",
        );
    }))
    .unwrap();
    let ids = |m: &str| -> Vec<String> {
        enduse_core::timeline(&e, &m.into())
            .unwrap()
            .into_iter()
            .filter_map(|ev| ev.rule.map(|r| r.to_string()))
            .collect()
    };
    // SS is British: the US binds it through data, but a rule about US
    // designs cannot apply to it, nor can one about the model M1.
    let ss = ids("SS");
    assert!(ss.contains(&"gb-ss-assurance".to_owned()), "{ss:?}");
    assert!(!ss.contains(&"us-origin-only".to_owned()), "{ss:?}");
    assert!(!ss.iter().any(|r| r.starts_with("us-m1")), "{ss:?}");
    let m1 = ids("M1");
    assert!(m1.contains(&"us-origin-only".to_owned()), "{m1:?}");
    assert!(
        m1.contains(&"us-use".to_owned()),
        "defaults are on the timeline: {m1:?}"
    );
}

#[test]
fn a_withdrawal_not_yet_public_does_not_release_the_state() {
    let e = engine();
    let mut r = q("LT", Action::Use, "MINE", "2025-12-28", "2025-07-15");
    r.place = Some("LT".into());
    // The notice (reported 2025-08-01 in the test data) was not yet public.
    let d = e.decide(&r).unwrap();
    assert!(d.parties.iter().any(|p| p.party.as_str() == "OTTAWA"));
    r.known_at = day("2025-08-01");
    let d = e.decide(&r).unwrap();
    assert!(!d.parties.iter().any(|p| p.party.as_str() == "OTTAWA"));
}

#[test]
fn a_disputed_treaty_step_counts_only_in_the_alternative() {
    let e = load_files(&files(|m| {
        let t = m.get_mut("treaties.toml").unwrap();
        *t = t.replacen(
            "  { party = \"UA\", kind = \"event\"",
            "  { party = \"UA\", kind = \"suspension\", date = \"2025-07-18\", source = \"s2025\", status = \"disputed\" },\n  { party = \"UA\", kind = \"event\"",
            1,
        );
        m.insert(
            "policies/OTTAWA.cedar".into(),
            "@id(\"apm-ban\")\n@summary(\"no mines\")\n@valid_from(\"1999-03-01\")\n@recorded_at(\"2000-01-01\")\n@source(\"law\")\n@quote(\"never\")\nforbid (principal, action, resource in Category::\"anti-personnel-mine\");\n".into(),
        );
    }))
    .unwrap_or_else(|e| panic!("{e:?}"));
    let mut r = q("UA", Action::Use, "MINE", "2025-09-01", "2025-09-01");
    r.place = Some("UA".into());
    let d = e.decide(&r).unwrap();
    assert!(d.parties.iter().any(|p| p.party.as_str() == "OTTAWA"));
    assert_eq!(d.outcome, Outcome::Forbid);
    let alt = d
        .if_disputed
        .expect("the suspension, if it held, changes the outcome");
    assert_eq!(alt.outcome, Outcome::Permit);
}

#[test]
fn problems_of_every_file_come_in_one_run() {
    let files = files(|m| {
        m.insert("control.json".into(), "{\"areas\": 3}".into());
        let t = m.get_mut("parties.toml").unwrap();
        *t = t.replacen("kind = \"state\"", "kind = state", 1);
        let g = m.get_mut("policies/GB.cedar").unwrap();
        *g = g.replacen(
            "unless { context.place in Place::\"UA\" };",
            "unless { context.place in };",
            1,
        );
    });
    let p = match enduse_load::records_from_files(&files) {
        Ok(_) => panic!("should be refused"),
        Err(e) => e.problems().to_vec(),
    };
    for f in ["control.json", "parties.toml", "policies/GB.cedar"] {
        assert!(p.iter().any(|x| x.file == f), "{f} missing from {p:?}");
    }
}
