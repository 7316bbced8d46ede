//! `check --explain`: every rule of every party in the consent chain that
//! covers the item and the action, and why each was used or not.

use crate::error::Result;
use crate::reports::{ConsideredRule, ExplainedParty, Explanation};
use enduse_core::{
    CitationKind, Decision, Engine, ItemRef, Outcome, Query, Rule, RuleEffect, RuleRef, Status,
    StatusFilter,
};
use std::collections::BTreeSet;

/// Whether `r`'s scope and actions cover the query's item and action.
fn covers(engine: &Engine, r: &Rule, q: &Query) -> bool {
    if let Some(actions) = &r.header.actions {
        if !actions.iter().any(|a| a == q.action.as_str()) {
            return false;
        }
    }
    let reg = engine.register();
    let (model, lot) = match &q.item {
        ItemRef::Model(m) => (Some(m.clone()), None),
        ItemRef::Lot(l) => (reg.lots.get(l).map(|x| x.model.clone()), Some(l.clone())),
    };
    let Some((ty, id)) = &r.header.resource else {
        return true;
    };
    match ty.as_str() {
        "Model" => model.as_ref().is_some_and(|m| m.as_str() == id),
        "Category" => model
            .as_ref()
            .and_then(|m| reg.models.get(m))
            .is_some_and(|m| {
                reg.category_chain(&m.category)
                    .iter()
                    .any(|c| c.as_str() == id)
            }),
        "Lot" => match &lot {
            Some(l) => l.as_str() == id,
            // A question about a model covers every lot of it.
            None => reg
                .lots
                .get(&enduse_core::LotId::new(id))
                .is_some_and(|l| Some(&l.model) == model.as_ref()),
        },
        _ => true,
    }
}

fn effect_word(e: RuleEffect) -> &'static str {
    match e {
        RuleEffect::Permit => "permits",
        RuleEffect::Forbid => "forbids",
        RuleEffect::RequiresApproval => "requires approval for",
    }
}

fn dates(r: &Rule) -> String {
    let until = r
        .valid_to
        .map(|t| format!(" until {t}"))
        .unwrap_or_default();
    format!("in force from {}{until}", r.valid_from)
}

/// Why rule `r` (not cited for its party) was not used.
fn why_not(r: &Rule, q: &Query, d: &Decision, party_outcome: Option<Outcome>) -> String {
    if !r.in_force(q.as_of) {
        return format!("not in force on {}: {}", q.as_of, dates(r));
    }
    if !r.known_on(q.known_at) {
        return format!(
            "not yet public on {}: first reported in this data set's sources on {}",
            q.known_at, r.recorded_at
        );
    }
    if r.status == Status::Disputed {
        return "disputed: left out (the answer says what would change if it held)".into();
    }
    if r.status == Status::Reported && q.statuses == StatusFilter::Confirmed {
        return "reported only: left out by --status confirmed".into();
    }
    let lacking: Vec<&str> = r
        .reads
        .iter()
        .filter(|attr| {
            d.missing
                .iter()
                .any(|m| m.split_whitespace().next() == Some(attr.as_str()))
        })
        .map(String::as_str)
        .collect();
    if !lacking.is_empty() {
        return format!(
            "could not be evaluated: the request lacks {}",
            lacking.join(", ")
        );
    }
    let stricter = party_outcome.is_some_and(|o| match r.effect {
        RuleEffect::Permit => o != Outcome::Permit,
        RuleEffect::RequiresApproval => o == Outcome::Forbid,
        RuleEffect::Forbid => false,
    });
    if stricter {
        "in force and public; not cited: its condition does not hold for this request, or a stricter rule of the same party decided".into()
    } else {
        "in force and public; not cited: its condition does not hold for this request".into()
    }
}

fn why_cited(r: &RuleRef, outcome: Outcome) -> String {
    let what = match r.kind {
        CitationKind::Rule => "its condition holds".to_owned(),
        CitationKind::Default => {
            "the party's default where none of its rules covers the request".to_owned()
        }
        CitationKind::Consent => "a decision of an authority covering the request".to_owned(),
    };
    let approval = r
        .approval
        .as_ref()
        .map(|a| format!(" by {a}"))
        .unwrap_or_default();
    format!(
        "cited: {what}; it {}{approval} this request (party: {})",
        effect_word(r.effect),
        outcome.as_str()
    )
}

/// Every rule considered for `d`, the decision of `q`.
pub(crate) fn explain(engine: &Engine, q: &Query, d: &Decision) -> Result<Explanation> {
    let links = engine.chain_as_known(&q.actor, &q.item, q.as_of, q.known_at)?;
    let model = match &q.item {
        ItemRef::Model(m) => Some(m.clone()),
        ItemRef::Lot(l) => engine.register().lots.get(l).map(|x| x.model.clone()),
    };
    // The rules that can bind the model (origin, providers, suppliers,
    // treaties), and any other rule of a party of the chain whose scope
    // covers the item.
    let mut candidates: Vec<&Rule> = match &model {
        Some(m) => engine.rules_for_model(m)?,
        None => Vec::new(),
    };
    let mut seen: BTreeSet<String> = candidates.iter().map(|r| r.id.to_string()).collect();
    let in_chain: BTreeSet<&enduse_core::PartyId> = links.iter().map(|l| &l.party).collect();
    for r in engine.rules() {
        if in_chain.contains(&r.owner) && !seen.contains(r.id.as_str()) && covers(engine, r, q) {
            seen.insert(r.id.to_string());
            candidates.push(r);
        }
    }
    let mut parties = Vec::new();
    for link in &links {
        let decided = d.parties.iter().find(|p| p.party == link.party);
        let outcome = decided.map(|p| p.outcome);
        let cited: Vec<&RuleRef> = decided
            .map(|p| p.rules.iter().collect())
            .unwrap_or_default();
        let mut rules: Vec<ConsideredRule> = Vec::new();
        if link.binds {
            for r in candidates
                .iter()
                .filter(|r| r.owner == link.party && covers(engine, r, q))
            {
                let used = cited.iter().find(|c| c.id == r.id);
                rules.push(ConsideredRule {
                    id: r.id.to_string(),
                    effect: r.effect,
                    summary: r.summary.clone(),
                    used: used.is_some(),
                    why: match used {
                        Some(c) => why_cited(c, outcome.unwrap_or(Outcome::Indeterminate)),
                        None => why_not(r, q, d, outcome),
                    },
                });
            }
            // Defaults and decisions of authorities that were cited.
            for c in cited.iter().filter(|c| c.kind != CitationKind::Rule) {
                rules.push(ConsideredRule {
                    id: c.id.to_string(),
                    effect: c.effect,
                    summary: c.summary.to_string(),
                    used: true,
                    why: why_cited(c, outcome.unwrap_or(Outcome::Indeterminate)),
                });
            }
        }
        parties.push(ExplainedParty {
            party: link.party.clone(),
            name: link.name.to_string(),
            roles: link.roles.iter().map(|r| r.label()).collect(),
            binds: link.binds,
            outcome,
            rules,
        });
    }
    Ok(Explanation { parties })
}
