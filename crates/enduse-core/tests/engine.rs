#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The engine on a small register built by hand (no loader): the consent
//! chain, the composition of one party's rules, valid time and public
//! knowledge, approvals, supersession, and the resolution of codes and
//! names.

use chrono::NaiveDate;
use enduse_core::{
    parse_rules, Action, Authority, AuthorityId, Category, CategoryId, DataSetInfo, DateSpec,
    Engine, ItemModel, ItemRef, Lot, LotId, ModelId, Outcome, Party, PartyId, PartyKind, Place,
    PlaceCode, PlaceKind, Query, Register, RequestError, Source, SourceId, Stage, StageDate,
    Transfer, TransferId,
};

const SCHEMA: &str = include_str!("../../../data/ukraine-2022-2025/schema.cedarschema");

fn day(s: &str) -> NaiveDate {
    enduse_core::parse_day(s).unwrap()
}

fn party(reg: &mut Register, id: &str, name: &str, authority: Option<&str>) {
    reg.parties.insert(
        PartyId::new(id),
        Party {
            id: PartyId::new(id),
            name: name.into(),
            kind: PartyKind::State,
            country: None,
            authorities: authority
                .map(|a| Authority {
                    id: AuthorityId::parse(a).unwrap(),
                    name: "Secretary of Defense".into(),
                    acts_for: None,
                })
                .into_iter()
                .collect(),
        },
    );
}

fn place(reg: &mut Register, code: &str, name: &str, parent: Option<&str>) {
    reg.places.insert(
        PlaceCode::new(code),
        Place {
            code: PlaceCode::new(code),
            name: name.into(),
            kind: if parent.is_some() {
                PlaceKind::Subdivision
            } else {
                PlaceKind::Country
            },
            parent: parent.map(PlaceCode::new),
        },
    );
}

fn model(reg: &mut Register, id: &str, name: &str, aliases: &[&str]) {
    reg.models.insert(
        ModelId::new(id),
        ItemModel {
            id: ModelId::new(id),
            name: name.into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            category: CategoryId::new("missile"),
            origin: PartyId::new("US"),
            manufacturer: None,
            dependencies: vec![],
            persistent: false,
            sources: vec![SourceId::new("s1")],
            note: None,
        },
    );
}

/// US designs two missiles and delivers one lot of the first to UA in
/// 2023, attaching its rules; GB and Germany are bystanders.
fn register() -> Register {
    let mut reg = Register {
        info: DataSetInfo {
            name: "engine-test".into(),
            title: "a register built by hand".into(),
        },
        ..Register::default()
    };
    party(&mut reg, "US", "United States", Some("US:SecDef"));
    party(&mut reg, "GB", "United Kingdom", None);
    party(&mut reg, "DE", "Germany", None);
    party(&mut reg, "UA", "Ukraine", None);
    party(&mut reg, "RU", "Russia", None);
    place(&mut reg, "UA", "Ukraine", None);
    place(
        &mut reg,
        "UA-43",
        "Autonomous Republic of Crimea",
        Some("UA"),
    );
    place(&mut reg, "RU", "Russia", None);
    place(&mut reg, "RU-KRS", "Kursk oblast", Some("RU"));
    place(&mut reg, "RU-BEL", "Belgorod oblast", Some("RU"));
    place(&mut reg, "RU-BRY", "Bryansk oblast", Some("RU"));
    reg.categories.insert(
        CategoryId::new("missile"),
        Category {
            id: CategoryId::new("missile"),
            name: "Missile".into(),
            parent: None,
        },
    );
    for (id, date) in [
        ("s1", "2023-09-01"),
        ("s2", "2024-06-01"),
        ("s3", "2025-01-10"),
    ] {
        reg.sources.insert(
            SourceId::new(id),
            Source {
                id: SourceId::new(id),
                outlet: format!("Outlet {id}"),
                date: DateSpec::parse(date).unwrap(),
                title: format!("Report {id}"),
                url: None,
                note: None,
                quote: None,
                language: None,
            },
        );
    }
    model(&mut reg, "ATACMS", "Army Tactical Missile System", &["M39"]);
    model(
        &mut reg,
        "GMLRS",
        "Guided Multiple Launch Rocket System",
        &[],
    );
    reg.lots.insert(
        LotId::new("lot-1"),
        Lot {
            id: LotId::new("lot-1"),
            model: ModelId::new("ATACMS"),
            quantity: Some(20),
            persistent: None,
            note: None,
        },
    );
    reg.transfers.insert(
        TransferId::new("t-1"),
        Transfer {
            id: TransferId::new("t-1"),
            lot: LotId::new("lot-1"),
            from: PartyId::new("US"),
            to: PartyId::new("UA"),
            stages: vec![StageDate {
                stage: Stage::Delivered,
                date: DateSpec::parse("2023-10-01").unwrap(),
                planned: false,
                source: Some(SourceId::new("s1")),
            }],
            financed_by: vec![],
            refurbished_by: None,
            conditions: vec!["us-ukraine-only".into()],
            sources: vec![SourceId::new("s1")],
            note: None,
            status: Default::default(),
            destination: None,
        },
    );
    reg
}

const RULES: &str = r#"
@id("us-ukraine-only")
@summary("ATACMS may be used only in Ukraine")
@valid_from("2023-09-01")
@valid_to("2024-11-18")
@recorded_at("2023-09-01")
@source("s1")
@quote("only in Ukraine")
forbid (principal, action == Action::"use", resource in Model::"ATACMS")
unless { context.place in Place::"UA" };

@id("us-use-in-ukraine")
@summary("Ukraine may use ATACMS in Ukraine")
@valid_from("2023-09-01")
@recorded_at("2023-09-01")
@source("s1")
@quote("in Ukraine")
permit (principal, action == Action::"use", resource in Model::"ATACMS")
when { context.place in Place::"UA" };

@id("us-kursk")
@summary("ATACMS may be used in Kursk oblast too")
@valid_from("2024-11-18")
@recorded_at("2025-01-10")
@source("s3")
@quote("Kursk")
@supersedes("us-ukraine-only")
forbid (principal, action == Action::"use", resource in Model::"ATACMS")
unless { context.place in Place::"UA" || context.place in Place::"RU-KRS" };

@id("us-kursk-permit")
@summary("Ukraine may use ATACMS in Kursk oblast")
@valid_from("2024-11-18")
@recorded_at("2025-01-10")
@source("s3")
@quote("Kursk")
permit (principal, action == Action::"use", resource in Model::"ATACMS")
when { context.place in Place::"RU-KRS" };

@id("us-bryansk-review")
@summary("a GMLRS strike in Bryansk oblast needs the Secretary of Defense")
@valid_from("2024-06-01")
@recorded_at("2024-06-01")
@source("s2")
@quote("review")
@approval("US:SecDef")
forbid (principal, action == Action::"use", resource in Model::"GMLRS")
when { context.place in Place::"RU-BRY" }
unless { context.approvals.contains("US:SecDef") };
"#;

fn engine() -> Engine {
    let rules = parse_rules(&PartyId::new("US"), "policies/US.cedar", RULES).unwrap();
    Engine::new(register(), rules, SCHEMA).unwrap_or_else(|p| panic!("{p:#?}"))
}

fn query(e: &Engine, place: &str, as_of: &str, known_at: &str) -> Query {
    Query {
        actor: e.resolve_party("UA").unwrap(),
        action: Action::Use,
        item: ItemRef::Model(e.resolve_model("ATACMS").unwrap()),
        place: Some(e.resolve_place(place).unwrap()),
        recipient: None,
        target_class: None,
        purpose: None,
        destination: None,
        statuses: Default::default(),
        border_distance_km: None,
        areas: None,
        controlled_by: None,
        as_of: day(as_of),
        known_at: day(known_at),
        approvals: vec![],
    }
}

fn cited(d: &enduse_core::Decision) -> Vec<String> {
    d.parties
        .iter()
        .flat_map(|p| p.rules.iter().map(|r| r.id.to_string()))
        .collect()
}

#[test]
fn the_origin_and_supplier_binds_the_holder() {
    let e = engine();
    let chain = e
        .chain(
            &PartyId::new("UA"),
            &ItemRef::Model(ModelId::new("ATACMS")),
            day("2024-01-01"),
        )
        .unwrap();
    assert_eq!(chain.len(), 1, "{chain:?}");
    assert_eq!(chain[0].party.as_str(), "US");
    assert!(chain[0].binds);
    assert!(chain[0].rules_on_record >= 4);
}

#[test]
fn one_partys_rules_compose_forbid_over_permit() {
    let e = engine();
    let d = e
        .decide(&query(&e, "RU-KRS", "2024-09-11", "2026-01-01"))
        .unwrap();
    assert_eq!(d.outcome, Outcome::Forbid);
    assert_eq!(cited(&d), ["us-ukraine-only"]);
    let d = e
        .decide(&query(&e, "UA-43", "2024-09-11", "2026-01-01"))
        .unwrap();
    assert_eq!(d.outcome, Outcome::Permit);
    assert_eq!(cited(&d), ["us-use-in-ukraine"]);
}

#[test]
fn valid_time_and_public_knowledge_are_separate() {
    let e = engine();
    // In force from 18 Nov 2024, but first reported on 10 Jan 2025: the
    // record of December 2024 still had the old forbid in force.
    let q = query(&e, "RU-KRS", "2024-12-01", "2024-12-15");
    let d = e.decide(&q).unwrap();
    assert_eq!(d.outcome, Outcome::Forbid, "{d:#?}");
    assert_eq!(cited(&d), ["us-ukraine-only"]);
    let d = e
        .decide(&query(&e, "RU-KRS", "2024-12-01", "2025-02-01"))
        .unwrap();
    assert_eq!(d.outcome, Outcome::Permit, "{d:#?}");
    assert_eq!(cited(&d), ["us-kursk-permit"]);
    // Before the first rule is in force, nothing on record covers it.
    let d = e
        .decide(&query(&e, "RU-KRS", "2023-01-01", "2026-01-01"))
        .unwrap();
    assert_eq!(d.outcome, Outcome::Indeterminate);
}

#[test]
fn an_approval_rule_needs_its_authority_and_is_lifted_by_it() {
    let e = engine();
    let mut q = query(&e, "RU-BRY", "2025-02-01", "2026-01-01");
    q.item = ItemRef::Model(e.resolve_model("GMLRS").unwrap());
    let d = e.decide(&q).unwrap();
    assert_eq!(d.outcome, Outcome::NeedsApproval, "{d:#?}");
    assert_eq!(d.approvals[0].authority.to_string(), "US:SecDef");
    q.approvals = vec![e.resolve_authority("us:secdef").unwrap()];
    let d = e.decide(&q).unwrap();
    assert_eq!(d.outcome, Outcome::Permit, "{d:#?}");
}

#[test]
fn rules_in_force_follow_both_times() {
    let e = engine();
    let us = PartyId::new("US");
    let ids = |as_of: &str, known: &str| -> Vec<String> {
        e.rules_in_force(&us, day(as_of), day(known))
            .iter()
            .map(|r| r.id.to_string())
            .collect()
    };
    assert!(ids("2024-09-11", "2026-01-01").contains(&"us-ukraine-only".to_owned()));
    let later = ids("2025-02-01", "2026-01-01");
    assert!(later.contains(&"us-kursk".to_owned()));
    assert!(!later.contains(&"us-ukraine-only".to_owned()));
    // As known in December 2024, the successor was not public: the old
    // rule is still in force on the record of that day.
    let then = ids("2024-12-01", "2024-12-15");
    assert!(then.contains(&"us-ukraine-only".to_owned()), "{then:?}");
    assert!(!then.contains(&"us-kursk".to_owned()));
}

#[test]
fn codes_and_unambiguous_names_resolve() {
    let e = engine();
    let place = |s: &str| e.resolve_place(s).map(|p| p.to_string());
    assert_eq!(place("ru-krs").unwrap(), "RU-KRS");
    assert_eq!(place("Kursk").unwrap(), "RU-KRS");
    assert_eq!(place("kursk oblast").unwrap(), "RU-KRS");
    assert_eq!(place("Crimea").unwrap(), "UA-43");
    assert_eq!(place("Russia").unwrap(), "RU");
    // "oblast" names three places: nothing is guessed, all are named.
    match e.resolve_place("oblast") {
        Err(RequestError::UnknownPlace { help, .. }) => {
            assert!(help.contains("`RU-KRS` (Kursk oblast)"), "{help}");
            assert!(help.contains("`RU-BEL`"), "{help}");
        }
        other => panic!("{other:?}"),
    }
    match e.resolve_place("Kurks") {
        Err(RequestError::UnknownPlace { help, .. }) => {
            assert!(
                help.starts_with("did you mean `RU-KRS` (Kursk oblast)"),
                "{help}"
            );
        }
        other => panic!("{other:?}"),
    }
    let party = |s: &str| e.resolve_party(s).map(|p| p.to_string());
    assert_eq!(party("UK").unwrap(), "GB");
    assert_eq!(party("uk").unwrap(), "GB");
    assert_eq!(party("united kingdom").unwrap(), "GB");
    assert_eq!(party("Germany").unwrap(), "DE");
    match e.resolve_party("United") {
        Err(RequestError::UnknownParty { help, .. }) => {
            assert!(help.contains("`US`") && help.contains("`GB`"), "{help}");
        }
        other => panic!("{other:?}"),
    }
    match e.resolve_party("XX") {
        Err(RequestError::UnknownParty { id, .. }) => assert_eq!(id, "XX"),
        other => panic!("{other:?}"),
    }
    let model = |s: &str| e.resolve_model(s).map(|m| m.to_string());
    assert_eq!(model("atacms").unwrap(), "ATACMS");
    assert_eq!(model("M39").unwrap(), "ATACMS");
    assert_eq!(model("Army Tactical").unwrap(), "ATACMS");
    assert_eq!(model("Guided").unwrap(), "GMLRS");
    // A truncated designation is a typo, not a name: suggested, not taken.
    match e.resolve_model("ATACM") {
        Err(RequestError::UnknownModel { help, .. }) => {
            assert_eq!(help, "did you mean `ATACMS`?");
        }
        other => panic!("{other:?}"),
    }
    match e.resolve_model("System") {
        Err(RequestError::UnknownModel { help, .. }) => {
            assert!(
                help.contains("`ATACMS`") && help.contains("`GMLRS`"),
                "{help}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_lot_of_the_model_is_decided_like_the_model() {
    let e = engine();
    let mut q = query(&e, "RU-KRS", "2024-09-11", "2026-01-01");
    q.item = ItemRef::Lot(e.resolve_lot("lot-1").unwrap());
    let d = e.decide(&q).unwrap();
    assert_eq!(d.outcome, Outcome::Forbid);
    assert!(e.resolve_lot("lot-2").is_err());
}

#[test]
fn a_trusted_engine_reads_the_cedar_schema_only_when_cedar_is_asked() {
    use enduse_core::{Checks, EvalPath, RuleId};
    let rules = || parse_rules(&PartyId::new("US"), "policies/US.cedar", RULES).unwrap();
    // A schema that does not parse. Data from outside is refused at once.
    let broken = "entity Party in [Group {";
    let problems = Engine::with_checks(register(), rules(), broken, Checks::Full)
        .err()
        .expect("a full check reads the schema");
    assert!(
        problems
            .iter()
            .any(|p| p.message.starts_with("invalid cedar schema")),
        "{problems:#?}"
    );
    // Trusted data (a register image, a store) was checked when written:
    // the engine is built without reading the schema, and the fast
    // evaluator decides without it, as the checked engine does.
    let trusted = Engine::with_checks(register(), rules(), broken, Checks::Trusted).unwrap();
    let checked = engine();
    for (place, as_of, known_at) in [
        ("RU-KRS", "2024-09-11", "2026-01-01"),
        ("UA-43", "2024-09-11", "2026-01-01"),
        ("RU-KRS", "2024-12-01", "2025-02-01"),
    ] {
        let a = trusted
            .decide(&query(&trusted, place, as_of, known_at))
            .unwrap();
        let b = checked
            .decide(&query(&checked, place, as_of, known_at))
            .unwrap();
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
    }
    // A rule that errors for want of a fact the request lacks is reported
    // by that fact: Cedar is not asked for its message.
    let mut no_place = query(&trusted, "RU-KRS", "2024-09-11", "2026-01-01");
    no_place.place = None;
    let d = trusted.decide(&no_place).unwrap();
    assert_eq!(d.outcome, Outcome::Indeterminate, "{d:#?}");
    assert!(
        d.missing
            .iter()
            .any(|m| m.starts_with("place (give --place")),
        "{:?}",
        d.missing
    );
    let mut no_place = query(&checked, "RU-KRS", "2024-09-11", "2026-01-01");
    no_place.place = None;
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        serde_json::to_string(&checked.decide(&no_place).unwrap()).unwrap()
    );
    // Asking Cedar builds the schema and the entities then: here they fail,
    // and the request says so instead of answering.
    let all: Vec<RuleId> = trusted.rules().iter().map(|r| r.id.clone()).collect();
    let q = query(&trusted, "RU-KRS", "2024-09-11", "2026-01-01");
    match trusted.evaluate_rules(&q, &all, EvalPath::CedarOnly) {
        Err(RequestError::Internal(m)) => assert!(m.contains("invalid cedar schema"), "{m}"),
        other => panic!("expected an internal error, got {other:?}"),
    }
    // With the real schema, built on that first use, Cedar answers as it
    // does in the checked engine.
    let trusted = Engine::with_checks(register(), rules(), SCHEMA, Checks::Trusted).unwrap();
    for (place, as_of) in [("RU-KRS", "2024-09-11"), ("UA", "2024-09-11")] {
        let q = query(&trusted, place, as_of, "2026-01-01");
        let a = trusted
            .evaluate_rules(&q, &all, EvalPath::CedarOnly)
            .unwrap();
        let b = checked
            .evaluate_rules(&q, &all, EvalPath::CedarOnly)
            .unwrap();
        assert_eq!(a, b);
        assert!(!a.satisfied.is_empty());
        assert_eq!(
            a.satisfied,
            trusted
                .evaluate_rules(&q, &all, EvalPath::FastOnly)
                .unwrap()
                .satisfied
        );
    }
}

/// With an approval given, the engine evaluates again only the rules that
/// read the approvals; the others keep their first answer. A rule outside
/// the fast evaluator (an extension function: Cedar evaluates it) that
/// reads the approvals is asked again too.
#[test]
fn the_second_evaluation_asks_again_only_what_reads_the_approvals() {
    use enduse_core::{EvalPath, RuleId};
    let extra = r#"
@id("us-bryansk-permit")
@summary("Ukraine may use GMLRS in Bryansk oblast")
@valid_from("2024-06-01")
@recorded_at("2024-06-01")
@source("s2")
@quote("Bryansk")
permit (principal, action == Action::"use", resource in Model::"GMLRS")
when { context.place in Place::"RU-BRY" };

@id("us-approved-permit")
@summary("with the Secretary's approval, GMLRS may be used")
@valid_from("2024-06-01")
@recorded_at("2024-06-01")
@source("s2")
@quote("approved")
permit (principal, action == Action::"use", resource in Model::"GMLRS")
when { context.approvals.contains("US:SecDef") && decimal("1.5").lessThan(decimal("2.0")) };
"#;
    let text = format!("{RULES}\n{extra}");
    let rules = parse_rules(&PartyId::new("US"), "policies/US.cedar", &text).unwrap();
    let e = Engine::new(register(), rules, SCHEMA).unwrap_or_else(|p| panic!("{p:#?}"));
    let mut q = query(&e, "RU-BRY", "2025-02-01", "2026-01-01");
    q.item = ItemRef::Model(e.resolve_model("GMLRS").unwrap());
    // The extension function keeps the rule off the fast evaluator.
    let approved = RuleId::new("us-approved-permit");
    let fast = e
        .evaluate_rules(&q, std::slice::from_ref(&approved), EvalPath::FastOnly)
        .unwrap();
    assert!(fast.not_fast.contains(&approved), "{fast:?}");

    let d = e.decide(&q).unwrap();
    assert_eq!(d.outcome, Outcome::NeedsApproval, "{d:#?}");
    assert_eq!(cited(&d), ["us-bryansk-review"]);

    q.approvals = vec![e.resolve_authority("US:SecDef").unwrap()];
    let d = e.decide(&q).unwrap();
    assert_eq!(d.outcome, Outcome::Permit, "{d:#?}");
    // The permits (in rule order): the one Cedar evaluated with the
    // approval in the context, the one that does not read the approvals
    // (its first answer kept); then the lifted restriction.
    assert_eq!(
        cited(&d),
        [
            "us-approved-permit",
            "us-bryansk-permit",
            "us-bryansk-review"
        ],
        "{d:#?}"
    );
}
