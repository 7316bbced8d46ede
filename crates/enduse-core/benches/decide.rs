//! Decision latency of `enduse_core::Engine::decide` against bare Cedar.
//!
//! A synthetic register: 50 models (`M0`..`M49`), each designed by `P0`
//! (origin), delivered to Ukraine by `P1` (a transfer that attaches one of
//! `P1`'s rules as a condition), and dependent on targeting data from `P2`.
//! So every request about a model is bound by 3 parties. Each party owns 2,000
//! rules: 50 models x 4 actions x 5 validity periods (2015-2025) x
//! (one permit + one restriction), the restriction being a plain forbid, a
//! distance-limited forbid or a forbid lifted by the party's authority
//! (`@approval`). 6,000 rules in all, parsed with `parse_rules`, checked and
//! indexed by `Engine::new` against the real data-set schema.
//!
//! Compared in one run:
//! - `enduse_decide`: `Engine::decide` for four requests (forbid, needs
//!   approval, approved, permit); each is checked outside the timed closure to
//!   be decided by 3 parties with the expected outcome.
//! - `cedar_all_6000`: one `Authorizer::is_authorized` over one `PolicySet`
//!   holding all 6,000 policies, with equivalent entities and requests (no
//!   validity dates: Cedar has no notion of them).
//! - `cedar_floor_3`: the same call over the 3 policies that decide the request.
//! - `parts`: pieces of work `decide` does per request, for attribution.
//!
//! Run: `cargo bench -p enduse-core --bench decide`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression, Schema,
};
use chrono::NaiveDate;
use divan::{black_box, Bencher};
use enduse_core::{
    parse_rules, Action, Authority, AuthorityId, Category, CategoryId, Checks, Conflict,
    DataSetInfo, DateSpec, Decision, Dependency, DependencyKind, Engine, ItemModel, ItemRef, Lot,
    LotId, ModelId, Outcome, Party, PartyId, PartyKind, Place, PlaceCode, PlaceKind, Query,
    Register, Rule, RuleId, Source, SourceId, Stage, StageDate, Transfer, TransferId,
};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Instant;

const SCHEMA: &str = include_str!("../../../data/ukraine-2022-2025/schema.cedarschema");

const PARTIES: usize = 3;
/// Models of the main fixture: 50 models give 2,000 rules per party.
const MODELS: usize = 50;
const PERIODS: usize = 5;
const ACTIONS: [&str; 4] = ["use", "deploy", "transfer", "reexport"];
const SOURCES: usize = 20;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).unwrap(), EntityId::new(id))
}

// ---- register -----------------------------------------------------------------

const PLACES: &[(&str, &str, PlaceKind, Option<&str>)] = &[
    ("UA", "Ukraine", PlaceKind::Country, None),
    (
        "UA-14",
        "Donetsk oblast",
        PlaceKind::Subdivision,
        Some("UA"),
    ),
    ("UA-43", "Crimea", PlaceKind::Subdivision, Some("UA")),
    (
        "UA-63",
        "Kharkiv oblast",
        PlaceKind::Subdivision,
        Some("UA"),
    ),
    ("RU", "Russia", PlaceKind::Country, None),
    (
        "RU-BEL",
        "Belgorod oblast",
        PlaceKind::Subdivision,
        Some("RU"),
    ),
    ("RU-KRS", "Kursk oblast", PlaceKind::Subdivision, Some("RU")),
    (
        "RU-MOS",
        "Moscow oblast",
        PlaceKind::Subdivision,
        Some("RU"),
    ),
];

const CATEGORIES: &[(&str, Option<&str>)] = &[
    ("weapon", None),
    ("missile", Some("weapon")),
    ("artillery", Some("weapon")),
    ("air-defence", Some("weapon")),
];

fn party_id(n: usize) -> PartyId {
    PartyId::new(format!("P{n}"))
}

fn authority(n: usize) -> String {
    format!("P{n}:Chief")
}

fn build_register(models: usize) -> Register {
    let mut reg = Register {
        info: DataSetInfo {
            name: "bench".into(),
            title: "synthetic register for the decide benchmark".into(),
        },
        ..Register::default()
    };
    let mut add_party = |id: PartyId, name: &str, kind: PartyKind, auth: Option<String>| {
        let authorities = auth
            .map(|a| Authority {
                id: AuthorityId::parse(&a).unwrap(),
                name: "Chief of export control".into(),
                acts_for: None,
            })
            .into_iter()
            .collect();
        reg.parties.insert(
            id.clone(),
            Party {
                id,
                name: name.into(),
                kind,
                country: None,
                authorities,
            },
        );
    };
    add_party(
        party_id(0),
        "Origin State",
        PartyKind::State,
        Some(authority(0)),
    );
    add_party(
        party_id(1),
        "Supplier State",
        PartyKind::State,
        Some(authority(1)),
    );
    add_party(
        party_id(2),
        "Data Provider Inc",
        PartyKind::Company,
        Some(authority(2)),
    );
    add_party("UA".into(), "Ukraine", PartyKind::State, None);
    add_party("RU".into(), "Russia", PartyKind::State, None);
    add_party("PL".into(), "Poland", PartyKind::State, None);
    if let Some(p) = reg.parties.get_mut(&party_id(2)) {
        p.country = Some(party_id(0));
    }

    for (code, name, kind, parent) in PLACES {
        reg.places.insert(
            PlaceCode::new(*code),
            Place {
                code: PlaceCode::new(*code),
                name: (*name).into(),
                kind: *kind,
                parent: parent.map(PlaceCode::new),
            },
        );
    }
    for (id, parent) in CATEGORIES {
        reg.categories.insert(
            CategoryId::new(*id),
            Category {
                id: CategoryId::new(*id),
                name: (*id).into(),
                parent: parent.map(CategoryId::new),
            },
        );
    }
    for s in 0..SOURCES {
        let id = SourceId::new(format!("src-{s}"));
        reg.sources.insert(
            id.clone(),
            Source {
                id,
                outlet: format!("Outlet {s}"),
                // Before every rule's `@recorded_at` (from 2015): a rule
                // cannot be public before the sources it cites.
                date: DateSpec::day(day(2010 + (s as i32 % 5), 1 + (s as u32 % 12), 10)),
                title: format!("Report number {s} on export conditions"),
                url: Some(format!("https://example.invalid/report/{s}")),
                note: None,
                quote: None,
                language: None,
            },
        );
    }
    reg.conflicts.push(Conflict {
        id: "ru-ua".into(),
        name: "Russian invasion of Ukraine".into(),
        parties: vec!["RU".into(), "UA".into()],
        from: DateSpec::day(day(2022, 2, 24)),
        to: None,
        source: SourceId::new("src-0"),
    });
    for k in 0..models {
        let model = ModelId::new(format!("M{k}"));
        let category = CategoryId::new(CATEGORIES[1 + k % 3].0);
        reg.models.insert(
            model.clone(),
            ItemModel {
                id: model.clone(),
                name: format!("Model {k}"),
                aliases: vec![format!("Mod-{k}")],
                category,
                origin: party_id(0),
                manufacturer: Some("Acme Defence".into()),
                dependencies: vec![Dependency {
                    kind: DependencyKind::Data,
                    what: "targeting data".into(),
                    provider: party_id(2),
                    source: Some(SourceId::new("src-1")),
                    from: None,
                    to: None,
                }],
                persistent: false,
                sources: vec![SourceId::new("src-2")],
                note: None,
            },
        );
        let lot = LotId::new(format!("L{k}"));
        reg.lots.insert(
            lot.clone(),
            Lot {
                id: lot.clone(),
                model: model.clone(),
                quantity: Some(10 + k as u64),
                persistent: None,
                note: None,
            },
        );
        let t = TransferId::new(format!("T{k}"));
        reg.transfers.insert(
            t.clone(),
            Transfer {
                id: t,
                lot,
                from: party_id(1),
                to: "UA".into(),
                stages: vec![
                    StageDate {
                        stage: Stage::Pledged,
                        date: DateSpec::parse("2022-05").unwrap(),
                        planned: false,
                        source: Some(SourceId::new("src-3")),
                    },
                    StageDate {
                        stage: Stage::Delivered,
                        date: DateSpec::day(day(2022, 9, 1 + (k as u32 % 28))),
                        planned: false,
                        source: Some(SourceId::new("src-4")),
                    },
                ],
                financed_by: vec![party_id(1)],
                refurbished_by: None,
                // A real rule of the sender, in force on the benchmark date.
                conditions: vec![RuleId::new(rule_id(1, k, "use", PERIODS - 1, "restrict"))],
                status: Default::default(),
                destination: None,
                sources: vec![SourceId::new("src-5")],
                note: None,
            },
        );
    }
    reg
}

// ---- rules --------------------------------------------------------------------

fn rule_id(n: usize, k: usize, action: &str, p: usize, what: &str) -> String {
    format!("P{n}-M{k}-{action}-{p}-{what}")
}

/// The first day of period `p` of (party, model, action); periods start two
/// years apart from 2015, at a day that varies by model and party.
fn period_start(n: usize, k: usize, a: usize, p: usize) -> NaiveDate {
    day(
        2015 + 2 * p as i32,
        1 + ((k + 5 * n) % 12) as u32,
        1 + ((7 * k + a) % 28) as u32,
    )
}

/// The written form of a period boundary: a day, a month, or a day range, as
/// sources give them.
fn boundary(n: usize, k: usize, a: usize, p: usize) -> String {
    let d = period_start(n, k, a, p);
    match (k + p + n) % 5 {
        0 => d.format("%Y-%m").to_string(),
        1 => format!("{}..{}", d, d + chrono::Days::new(12)),
        _ => d.to_string(),
    }
}

/// Which kind of restriction party `n` has in period `p`: 0 forbid outside
/// the allowed area, 1 forbid lifted by approval, 2 distance-limited forbid.
/// For models with `k % 3 == 0` all three parties agree on the kind.
fn restriction_kind(n: usize, k: usize, a: usize, p: usize) -> usize {
    (k + p + a + n * (k % 3)) % 3
}

fn annotations(
    out: &mut String,
    id: &str,
    summary: &str,
    from: &str,
    to: Option<&str>,
    recorded: NaiveDate,
    source: usize,
) {
    writeln!(out, "@id(\"{id}\")").unwrap();
    writeln!(out, "@summary(\"{summary}\")").unwrap();
    writeln!(out, "@valid_from(\"{from}\")").unwrap();
    if let Some(to) = to {
        writeln!(out, "@valid_to(\"{to}\")").unwrap();
    }
    writeln!(out, "@recorded_at(\"{recorded}\")").unwrap();
    writeln!(out, "@source(\"src-{source}\")").unwrap();
    writeln!(
        out,
        "@quote(\"the government said the weapons may be used only as agreed\")"
    )
    .unwrap();
}

fn policy_text(n: usize, models: usize) -> String {
    let mut out = String::with_capacity(models * 40 * 600);
    let auth = authority(n);
    for k in 0..models {
        for (a, action) in ACTIONS.iter().enumerate() {
            let scope = format!("action == Action::\"{action}\", resource in Model::\"M{k}\"");
            let moves = a >= 2; // transfer, re-export
            for p in 0..PERIODS {
                let from = boundary(n, k, a, p);
                let to = (p + 1 < PERIODS).then(|| boundary(n, k, a, p + 1));
                let start = period_start(n, k, a, p);
                let recorded = start + chrono::Days::new(20 + ((k * 13 + p) % 200) as u64);
                let src = (n + k + p) % SOURCES;

                // The permit of the period.
                let id = rule_id(n, k, action, p, "permit");
                annotations(
                    &mut out,
                    &id,
                    &format!("Ukraine may {action} M{k}"),
                    &from,
                    to.as_deref(),
                    recorded,
                    src,
                );
                if moves {
                    writeln!(
                        out,
                        "permit (principal == Party::\"UA\", {scope})\nwhen {{ !context.recipient_in_conflict }};\n"
                    )
                    .unwrap();
                } else {
                    writeln!(
                        out,
                        "permit (principal == Party::\"UA\", {scope})\nwhen {{ context.place in Place::\"UA\" || context.place in Place::\"RU\" }};\n"
                    )
                    .unwrap();
                }

                // The restriction of the period.
                let kind = restriction_kind(n, k, a, p);
                let id = rule_id(n, k, action, p, "restrict");
                let summary = match kind {
                    0 => format!("M{k} may not be {action}d outside the agreed area"),
                    1 => format!("{action} of M{k} needs approval by {auth}"),
                    _ => format!("M{k} may not be {action}d far from the border"),
                };
                annotations(
                    &mut out,
                    &id,
                    &summary,
                    &from,
                    to.as_deref(),
                    recorded,
                    (src + 7) % SOURCES,
                );
                if p > 0 {
                    writeln!(
                        out,
                        "@supersedes(\"{}\")",
                        rule_id(n, k, action, p - 1, "restrict")
                    )
                    .unwrap();
                }
                if kind == 1 {
                    writeln!(out, "@approval(\"{auth}\")").unwrap();
                }
                let body = match (moves, kind) {
                    (false, 0) => "unless { context.place in Place::\"UA\" }".to_string(),
                    (false, 1) => format!(
                        "when {{ context.place in Place::\"RU\" }}\nunless {{ context.approvals.contains(\"{auth}\") }}"
                    ),
                    (false, _) => {
                        "when { context.place in Place::\"RU\" && context.border_distance_km > 100 }"
                            .to_string()
                    }
                    (true, 0) => "when { context.recipient == Party::\"RU\" }".to_string(),
                    (true, 1) => format!(
                        "when {{ context.recipient != Party::\"UA\" }}\nunless {{ context.approvals.contains(\"{auth}\") }}"
                    ),
                    (true, _) => "when { context.recipient_in_conflict }".to_string(),
                };
                writeln!(out, "forbid (principal, {scope})\n{body};\n").unwrap();
            }
        }
    }
    out
}

// ---- bare Cedar entities (as the engine builds them) ----------------------------

fn cedar_entities(reg: &Register, schema: &Schema) -> Entities {
    let s = RestrictedExpression::new_string;
    let mut out: Vec<Entity> = Vec::new();
    for p in reg.parties.values() {
        let attrs = HashMap::from([(
            "kind".to_string(),
            s(format!("{:?}", p.kind).to_lowercase()),
        )]);
        out.push(Entity::new(uid("Party", p.id.as_str()), attrs, HashSet::new()).unwrap());
    }
    for c in reg.categories.values() {
        let parents = c
            .parent
            .iter()
            .map(|p| uid("Category", p.as_str()))
            .collect();
        out.push(Entity::new_no_attrs(
            uid("Category", c.id.as_str()),
            parents,
        ));
    }
    for p in reg.places.values() {
        let parents = p.parent.iter().map(|x| uid("Place", x.as_str())).collect();
        let attrs = HashMap::from([(
            "kind".to_string(),
            s(format!("{:?}", p.kind).to_lowercase()),
        )]);
        out.push(Entity::new(uid("Place", p.code.as_str()), attrs, parents).unwrap());
    }
    let item_attrs = |m: &ItemModel| {
        let providers =
            |k: DependencyKind| {
                RestrictedExpression::new_set(m.dependencies.iter().filter(|d| d.kind == k).map(
                    |d| RestrictedExpression::new_entity_uid(uid("Party", d.provider.as_str())),
                ))
            };
        HashMap::from([
            (
                "origin".to_string(),
                RestrictedExpression::new_entity_uid(uid("Party", m.origin.as_str())),
            ),
            (
                "persistent".to_string(),
                RestrictedExpression::new_bool(m.persistent),
            ),
            (
                "data_providers".to_string(),
                providers(DependencyKind::Data),
            ),
            (
                "component_providers".to_string(),
                providers(DependencyKind::Component),
            ),
            (
                "service_providers".to_string(),
                providers(DependencyKind::Service),
            ),
        ])
    };
    for m in reg.models.values() {
        let parents = HashSet::from([uid("Category", m.category.as_str())]);
        out.push(Entity::new(uid("Model", m.id.as_str()), item_attrs(m), parents).unwrap());
    }
    for l in reg.lots.values() {
        let m = &reg.models[&l.model];
        let mut attrs = item_attrs(m);
        attrs.insert(
            "model".into(),
            RestrictedExpression::new_entity_uid(uid("Model", m.id.as_str())),
        );
        attrs.insert(
            "quantity".into(),
            RestrictedExpression::new_long(l.quantity.unwrap_or(0) as i64),
        );
        let parents = HashSet::from([uid("Model", m.id.as_str())]);
        out.push(Entity::new(uid("Lot", l.id.as_str()), attrs, parents).unwrap());
    }
    Entities::from_entities(out, Some(schema)).unwrap()
}

// ---- requests -----------------------------------------------------------------

struct Case {
    name: &'static str,
    query: Query,
    expect: Outcome,
    /// Expected outcome of each of P0, P1, P2.
    expect_parties: [Outcome; 3],
}

fn query(model: usize, place: &str, distance: i64, approvals: &[&str]) -> Query {
    Query {
        actor: "UA".into(),
        action: Action::Use,
        item: ItemRef::Model(ModelId::new(format!("M{model}"))),
        place: Some(PlaceCode::new(place)),
        recipient: None,
        target_class: Some("military".into()),
        purpose: None,
        destination: None,
        statuses: Default::default(),
        border_distance_km: Some(distance),
        areas: None,
        controlled_by: None,
        as_of: day(2024, 6, 15),
        known_at: day(2025, 12, 31),
        approvals: approvals
            .iter()
            .map(|a| AuthorityId::parse(a).unwrap())
            .collect(),
    }
}

fn cases() -> Vec<Case> {
    use Outcome::{Forbid, NeedsApproval, Permit};
    // On 2024-06-15 every (party, model, use) is in its last period (p = 4).
    // M1: kinds P0 2 (distance), P1 0 (outside area), P2 1 (approval).
    // M0: all three parties require approval in Russia.
    vec![
        Case {
            name: "forbid",
            query: query(1, "RU-BEL", 150, &[]),
            expect: Forbid,
            expect_parties: [Forbid, Forbid, NeedsApproval],
        },
        Case {
            name: "needs_approval",
            query: query(0, "RU-BEL", 150, &[]),
            expect: NeedsApproval,
            expect_parties: [NeedsApproval, NeedsApproval, NeedsApproval],
        },
        Case {
            name: "approved",
            query: query(0, "RU-BEL", 150, &["P0:Chief", "P1:Chief", "P2:Chief"]),
            expect: Permit,
            expect_parties: [Permit, Permit, Permit],
        },
        Case {
            name: "permit",
            query: query(2, "UA-63", 30, &[]),
            expect: Permit,
            expect_parties: [Permit, Permit, Permit],
        },
    ]
}

/// The Cedar request equivalent to a query (context with approvals, place,
/// target class and distance; no schema check, as the engine does).
fn cedar_request(q: &Query) -> Request {
    let ItemRef::Model(m) = &q.item else {
        panic!("model queries only")
    };
    let ctx = Context::from_pairs([
        (
            "approvals".to_string(),
            RestrictedExpression::new_set(
                q.approvals
                    .iter()
                    .map(|a| RestrictedExpression::new_string(a.to_string())),
            ),
        ),
        (
            "place".to_string(),
            RestrictedExpression::new_entity_uid(uid("Place", q.place.as_ref().unwrap().as_str())),
        ),
        (
            "target_class".to_string(),
            RestrictedExpression::new_string(q.target_class.clone().unwrap()),
        ),
        (
            "border_distance_km".to_string(),
            RestrictedExpression::new_long(q.border_distance_km.unwrap()),
        ),
    ])
    .unwrap();
    Request::new(
        uid("Party", q.actor.as_str()),
        uid("Action", q.action.as_str()),
        uid("Model", m.as_str()),
        ctx,
        None,
    )
    .unwrap()
}

// ---- fixture ------------------------------------------------------------------

struct Fixture {
    engine: Engine,
    cases: Vec<Case>,
    all_policies: PolicySet,
    /// Per case: the rules that decide it, one per party (the floor reference).
    floor_policies: Vec<PolicySet>,
    entities: Entities,
    authorizer: Authorizer,
    requests: Vec<Request>,
    /// Two policies, as `decide_party` assembles per party.
    two_rules: Vec<Rule>,
}

fn check_case(c: &Case, d: &Decision) {
    assert_eq!(d.outcome, c.expect, "case {}: {d:#?}", c.name);
    assert_eq!(d.parties.len(), 3, "case {}: {d:#?}", c.name);
    for (pd, (n, want)) in d.parties.iter().zip(c.expect_parties.iter().enumerate()) {
        assert_eq!(pd.party, party_id(n), "case {}", c.name);
        assert_eq!(
            pd.outcome, *want,
            "case {} party {}: {pd:#?}",
            c.name, pd.party
        );
        assert!(
            !pd.rules.is_empty(),
            "case {} party {}: no rule selected",
            c.name,
            pd.party
        );
    }
}

/// The fixture with `models` models (40 rules per model and party), its
/// engine built with `checks`.
fn fixture(models: usize, checks: Checks) -> Fixture {
    let t0 = Instant::now();
    let register = build_register(models);
    let mut rules = Vec::new();
    let mut text_bytes = 0;
    for n in 0..PARTIES {
        let text = policy_text(n, models);
        text_bytes += text.len();
        let owner = party_id(n);
        let mut r = parse_rules(&owner, &format!("P{n}.cedar"), &text)
            .unwrap_or_else(|e| panic!("P{n}.cedar: {e:#?}"));
        assert_eq!(r.len(), 40 * models);
        rules.append(&mut r);
    }
    let t_parse = t0.elapsed();
    let t1 = Instant::now();
    let engine = Engine::with_checks(register.clone(), rules.clone(), SCHEMA, checks)
        .unwrap_or_else(|e| panic!("Engine::new: {e:#?}"));
    let t_engine = t1.elapsed();
    assert_eq!(engine.rules().len(), 3 * 40 * models);

    let cases = cases();
    let mut floor_policies = Vec::new();
    for c in &cases {
        let d = engine.decide(&c.query).unwrap();
        check_case(c, &d);
        // The floor reference: the policies that decided each party.
        let ids: Vec<RuleId> = d.parties.iter().map(|p| p.rules[0].id.clone()).collect();
        let ps = PolicySet::from_policies(
            ids.iter()
                .map(|id| engine.rule(id).unwrap().policy.get().unwrap().clone()),
        )
        .unwrap();
        assert_eq!(ps.policies().count(), 3);
        floor_policies.push(ps);
    }

    let schema = Schema::from_cedarschema_str(SCHEMA).unwrap().0;
    let entities = cedar_entities(&register, &schema);
    // Bare Cedar over every policy only at the main size: at 100,000 rules
    // per party one call takes seconds.
    let all_policies = if models == MODELS {
        PolicySet::from_policies(rules.iter().map(|r| r.policy.get().unwrap().clone())).unwrap()
    } else {
        floor_policies[0].clone()
    };
    let authorizer = Authorizer::new();
    let requests: Vec<Request> = cases.iter().map(|c| cedar_request(&c.query)).collect();
    // Bare Cedar must also select policies: the forbid case denies, the
    // permit case allows, and the decision names policies.
    for (i, c) in cases.iter().enumerate().filter(|_| models == MODELS) {
        let r = authorizer.is_authorized(&requests[i], &all_policies, &entities);
        assert!(
            r.diagnostics().reason().next().is_some(),
            "bare cedar selects nothing for {}",
            c.name
        );
        assert_eq!(r.diagnostics().errors().count(), 0, "{}", c.name);
        let f = authorizer.is_authorized(&requests[i], &floor_policies[i], &entities);
        assert!(f.diagnostics().reason().next().is_some(), "{}", c.name);
    }
    let two_rules = vec![
        engine
            .rule(&RuleId::new(rule_id(0, 1, "use", 4, "permit")))
            .unwrap()
            .clone(),
        engine
            .rule(&RuleId::new(rule_id(0, 1, "use", 4, "restrict")))
            .unwrap()
            .clone(),
    ];
    eprintln!(
        "fixture: 3 parties x {} rules ({} KiB of Cedar), parse_rules {:.0?}, Engine::new ({checks:?}) {:.0?}",
        40 * models,
        text_bytes / 1024,
        t_parse,
        t_engine
    );
    Fixture {
        engine,
        cases,
        all_policies,
        floor_policies,
        entities,
        authorizer,
        requests,
        two_rules,
    }
}

static FIX: LazyLock<Fixture> = LazyLock::new(|| fixture(MODELS, Checks::Full));

fn case_ix(name: &str) -> usize {
    FIX.cases.iter().position(|c| c.name == name).unwrap()
}

// ---- benchmarks ---------------------------------------------------------------

const CASES: [&str; 4] = ["forbid", "needs_approval", "approved", "permit"];

/// `Engine::decide`: 3 binding parties x 2,000 rules each.
#[divan::bench(args = CASES)]
fn enduse_decide(bencher: Bencher, case: &str) {
    let f = &*FIX;
    let q = &f.cases[case_ix(case)].query;
    bencher.bench(|| f.engine.decide(black_box(q)).unwrap());
}

/// Bare Cedar: one `is_authorized` over all 6,000 policies.
#[divan::bench(args = CASES)]
fn cedar_all_6000(bencher: Bencher, case: &str) {
    let f = &*FIX;
    let r = &f.requests[case_ix(case)];
    bencher.bench(|| {
        f.authorizer
            .is_authorized(black_box(r), &f.all_policies, &f.entities)
    });
}

/// Bare Cedar: one `is_authorized` over the 3 policies that decide the request.
#[divan::bench(args = CASES)]
fn cedar_floor_3(bencher: Bencher, case: &str) {
    let f = &*FIX;
    let i = case_ix(case);
    let (r, ps) = (&f.requests[i], &f.floor_policies[i]);
    bencher.bench(|| f.authorizer.is_authorized(black_box(r), ps, &f.entities));
}

/// Pieces of the work `decide` does for one request, for attribution.
mod parts {
    use super::*;

    /// `Engine::chain`: finding the parties (also runs per `decide`).
    #[divan::bench]
    fn chain(bencher: Bencher) {
        let f = &*FIX;
        let q = &f.cases[case_ix("forbid")].query;
        bencher.bench(|| {
            f.engine
                .chain(&q.actor, black_box(&q.item), q.as_of)
                .unwrap()
        });
    }

    /// Building a Cedar context and request (done up to twice per `decide`).
    #[divan::bench]
    fn context_and_request(bencher: Bencher) {
        let f = &*FIX;
        let q = &f.cases[case_ix("forbid")].query;
        bencher.bench(|| cedar_request(black_box(q)));
    }

    /// `PolicySet::from_policies` of 2 policies (done once per party).
    #[divan::bench]
    fn policyset_of_2(bencher: Bencher) {
        let f = &*FIX;
        bencher.bench(|| {
            PolicySet::from_policies(
                black_box(&f.two_rules)
                    .iter()
                    .map(|r| r.policy.get().unwrap().clone()),
            )
            .unwrap()
        });
    }

    /// `is_authorized` over those 2 policies (done once or twice per party).
    #[divan::bench]
    fn is_authorized_2(bencher: Bencher) {
        let f = &*FIX;
        let ps =
            PolicySet::from_policies(f.two_rules.iter().map(|r| r.policy.get().unwrap().clone()))
                .unwrap();
        let r = &f.requests[case_ix("forbid")];
        bencher.bench(|| f.authorizer.is_authorized(black_box(r), &ps, &f.entities));
    }

    /// Dropping a `Decision` (divan drops outputs outside the timed section,
    /// so this is not in `enduse_decide`).
    #[divan::bench]
    fn drop_decision(bencher: Bencher) {
        let f = &*FIX;
        let q = &f.cases[case_ix("forbid")].query;
        bencher
            .with_inputs(|| f.engine.decide(q).unwrap())
            .bench_values(drop);
    }
}

/// Nanoseconds of one call of `f`; its result is dropped outside the timing.
fn time_one<T>(f: impl FnOnce() -> T) -> u64 {
    let t = Instant::now();
    let out = black_box(f());
    let ns = t.elapsed().as_nanos() as u64;
    drop(out);
    ns
}

/// Median and 99th percentile, in µs.
fn stats(v: &mut [u64]) -> (f64, f64) {
    v.sort_unstable();
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

/// Rounds of the side-by-side report (each round times one call of each).
fn rounds() -> usize {
    std::env::var("ENDUSE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// `Engine::decide` against bare Cedar's 3-policy floor, interleaved call by
/// call so that both see the same machine, with medians and p99.
fn report_floor(f: &Fixture) {
    let n = rounds();
    println!("\n## decide vs bare Cedar's 3-policy floor (3 parties x 2,000 rules, {n} rounds, interleaved)\n");
    println!("| case | enduse median | enduse p99 | cedar_floor_3 median | cedar_floor_3 p99 | median ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (i, c) in f.cases.iter().enumerate() {
        let (mut e, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            e.push(time_one(|| f.engine.decide(black_box(&c.query)).unwrap()));
            b.push(time_one(|| {
                f.authorizer.is_authorized(
                    black_box(&f.requests[i]),
                    &f.floor_policies[i],
                    &f.entities,
                )
            }));
        }
        let ((em, ep), (bm, bp)) = (stats(&mut e), stats(&mut b));
        println!(
            "| {} | {em:.2} µs | {ep:.2} µs | {bm:.2} µs | {bp:.2} µs | {:.2} |",
            c.name,
            em / bm
        );
    }
}

/// The same decisions at 2,000, 10,000 and 100,000 rules per party,
/// interleaved across the three engines.
fn report_scaling(sizes: &[(usize, &Fixture)]) {
    let n = rounds();
    println!("\n## scaling (rules per party; {n} rounds, interleaved across sizes)\n");
    print!("| case |");
    for (models, _) in sizes {
        print!(" {} rules: median / p99 |", 40 * models);
    }
    println!(" growth of the median, smallest to largest |");
    println!("|---|{}---:|", "---:|".repeat(sizes.len()));
    for (i, c) in FIX.cases.iter().enumerate() {
        let mut samples: Vec<Vec<u64>> = vec![Vec::with_capacity(n); sizes.len()];
        for _ in 0..n {
            for (k, (_, f)) in sizes.iter().enumerate() {
                let q = &f.cases[i].query;
                samples[k].push(time_one(|| f.engine.decide(black_box(q)).unwrap()));
            }
        }
        print!("| {} |", c.name);
        let mut medians = Vec::new();
        for v in samples.iter_mut() {
            let (m, p) = stats(v);
            medians.push(m);
            print!(" {m:.2} / {p:.2} µs |");
        }
        println!(" {:.2}x |", medians[medians.len() - 1] / medians[0]);
    }
}

fn main() {
    LazyLock::force(&FIX);
    // ENDUSE_PROFILE=N runs N decisions of the forbid case without divan, so
    // that a profiler sees the decision path and not the fixture set-up;
    // ENDUSE_PROFILE_FLOOR=N the same for bare Cedar's 3-policy floor (for
    // instruction counts under callgrind: run with N and with 0, subtract).
    let env_n = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    // ENDUSE_PROFILE_CASE names another case (needs_approval, approved,
    // permit) for both.
    let case = std::env::var("ENDUSE_PROFILE_CASE").unwrap_or_else(|_| "forbid".into());
    if let Some(n) = env_n("ENDUSE_PROFILE") {
        let q = &FIX.cases[case_ix(&case)].query;
        let t = std::time::Instant::now();
        for _ in 0..n {
            black_box(FIX.engine.decide(black_box(q)).unwrap());
        }
        eprintln!("{n} decisions: {:?} each", t.elapsed() / n.max(1) as u32);
        return;
    }
    if let Some(n) = env_n("ENDUSE_PROFILE_FLOOR") {
        let i = case_ix(&case);
        let t = std::time::Instant::now();
        for _ in 0..n {
            black_box(FIX.authorizer.is_authorized(
                black_box(&FIX.requests[i]),
                &FIX.floor_policies[i],
                &FIX.entities,
            ));
        }
        eprintln!("{n} floor calls: {:?} each", t.elapsed() / n.max(1) as u32);
        return;
    }
    // The side-by-side report with p99 and scaling; ENDUSE_SCALING=0 skips
    // the 10,000 and 100,000 rule fixtures (their set-up takes minutes).
    report_floor(&FIX);
    if std::env::var("ENDUSE_SCALING").as_deref() != Ok("0") {
        let mid = fixture(5 * MODELS, Checks::Trusted);
        let big = fixture(50 * MODELS, Checks::Trusted);
        report_scaling(&[(MODELS, &FIX), (5 * MODELS, &mid), (50 * MODELS, &big)]);
    }
    println!();
    divan::main();
}
