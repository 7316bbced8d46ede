#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Invariants of the composition, checked with random requests over the
//! bundled data set.

use enduse_core::{Action, AuthorityId, Decision, Engine, ItemRef, Outcome, Query, RuleEffect};
use proptest::prelude::*;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| enduse_load::load_bundled().unwrap())
}

fn arb_query() -> impl Strategy<Value = Query> {
    let e = engine();
    let parties: Vec<String> = e.register().parties.keys().map(|p| p.to_string()).collect();
    let models: Vec<String> = e.register().models.keys().map(|m| m.to_string()).collect();
    let places: Vec<String> = e.register().places.keys().map(|p| p.to_string()).collect();
    (
        prop::sample::select(parties.clone()),
        prop::sample::select(Action::ALL.to_vec()),
        prop::sample::select(models),
        prop::option::of(prop::sample::select(places)),
        prop::option::of(prop::sample::select(parties)),
        prop::option::of(0i64..300),
        0i64..(365 * 6),
        0i64..(365 * 6),
    )
        .prop_map(|(actor, action, model, place, recipient, km, a, k)| {
            let base = enduse_core::parse_day("2021-01-01").unwrap();
            Query {
                actor: actor.as_str().into(),
                action,
                item: ItemRef::Model(model.as_str().into()),
                place: place.map(|p| p.as_str().into()),
                recipient: recipient.map(|p| p.as_str().into()),
                target_class: None,
                purpose: None,
                destination: None,
                statuses: Default::default(),
                border_distance_km: km,
                areas: None,
                controlled_by: None,
                as_of: base + chrono::Duration::days(a),
                known_at: base + chrono::Duration::days(k),
                approvals: vec![],
            }
        })
}

fn decide(q: &Query) -> Decision {
    engine().decide(q).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The overall outcome is the strictest party outcome (forbid, then needs
    /// approval, then indeterminate), and permit when no party binds.
    #[test]
    fn outcome_is_the_composition_of_party_outcomes(q in arb_query()) {
        let d = decide(&q);
        let strictest = d.parties.iter().map(|p| p.outcome).max().unwrap_or(Outcome::Permit);
        prop_assert_eq!(d.outcome, strictest);
        prop_assert_eq!(d.approvals.is_empty(), d.outcome != Outcome::NeedsApproval);
        for p in &d.parties {
            if p.outcome == Outcome::Forbid {
                // A forbidding rule, default or refusal is cited (a refusal
                // also cites the rule whose approval it refused).
                prop_assert!(p.rules.iter().any(|r| r.effect == RuleEffect::Forbid));
            }
            // Every citation was public on the known-at day; every cited
            // rule exists.
            for r in &p.rules {
                prop_assert!(r.recorded_at <= q.known_at, "{} not public on {}", r.id, q.known_at);
                if r.kind == enduse_core::CitationKind::Rule {
                    let rule = engine().rule(&r.id).unwrap();
                    prop_assert!(rule.known_on(q.known_at));
                }
            }
        }
    }

    /// Granting the approvals a request needs never makes it stricter, and
    /// removes the need for them.
    #[test]
    fn approvals_only_loosen(q in arb_query()) {
        let d = decide(&q);
        if d.outcome == Outcome::NeedsApproval {
            let mut q2 = q.clone();
            q2.approvals = d.approvals.iter().map(|a| a.authority.clone()).collect::<Vec<AuthorityId>>();
            let d2 = decide(&q2);
            prop_assert!(d2.outcome != Outcome::NeedsApproval);
            prop_assert!(d2.outcome != Outcome::Forbid);
        }
    }
}
