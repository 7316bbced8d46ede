//! The timeline of a model: every change of every condition that can bind it,
//! with the transfers and treaty steps around them, in date order.

use crate::date::DateSpec;
use crate::engine::Engine;
use crate::ids::{ModelId, PartyId, RuleId, SourceId};
use crate::query::RequestError;
use crate::rule::RuleEffect;
use serde::Serialize;

/// What happened on a timeline date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// A transfer reached a stage.
    Transfer,
    /// A treaty membership step.
    TreatyStep,
    /// A rule came into force.
    InForce,
    /// A rule ceased to be in force.
    Ended,
    /// A rule became public.
    MadePublic,
    /// An authority granted or refused a request under a rule.
    ApprovalDecision,
}

/// One event.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    /// When (possibly imprecise).
    pub date: DateSpec,
    /// What kind of event.
    pub kind: TimelineKind,
    /// Whose condition or which party.
    pub party: PartyId,
    /// The rule, for rule events.
    pub rule: Option<RuleId>,
    /// The rule's effect, for rule events.
    pub effect: Option<RuleEffect>,
    /// Plain description.
    pub text: String,
    /// Source.
    pub source: Option<SourceId>,
}

/// Builds the timeline of `model`.
pub fn timeline(engine: &Engine, model: &ModelId) -> Result<Vec<TimelineEvent>, RequestError> {
    let reg = engine.register();
    let mut ev = Vec::new();
    let rules = engine.rules_for_model(model)?;
    for a in &reg.consents {
        let about_rule = a
            .rule
            .as_ref()
            .is_some_and(|id| rules.iter().any(|r| &r.id == id));
        if !(about_rule || a.scope.models.contains(model)) {
            continue;
        }
        ev.push(TimelineEvent {
            date: a
                .decided
                .or(a.public)
                .unwrap_or(DateSpec::day(engine.consent_public_day(a))),
            kind: TimelineKind::ApprovalDecision,
            party: a.authority.party(),
            rule: a.rule.clone(),
            effect: None,
            text: format!(
                "{} {}{}: {}",
                a.authority,
                if a.granted { "granted" } else { "refused" },
                a.requester
                    .as_ref()
                    .map(|r| format!(" a request by {}", reg.party_name(r)))
                    .unwrap_or_default(),
                a.summary
            ),
            source: a.sources.first().cloned(),
        });
    }
    if let Some(m) = reg.models.get(model) {
        for d in &reg.defaults {
            let binds = d.party == m.origin
                || m.dependencies.iter().any(|x| x.provider == d.party)
                || d.transfers.iter().any(|t| {
                    reg.transfers
                        .get(t)
                        .and_then(|t| reg.lots.get(&t.lot))
                        .is_some_and(|l| &l.model == model)
                });
            if binds {
                ev.push(TimelineEvent {
                    date: d.valid_from,
                    kind: TimelineKind::InForce,
                    party: d.party.clone(),
                    rule: Some(RuleId::new(d.id.clone())),
                    effect: None,
                    text: format!("default: {}", d.summary),
                    source: d.sources.first().cloned(),
                });
            }
        }
    }
    for r in rules {
        let base = |date: DateSpec, kind: TimelineKind, text: String| TimelineEvent {
            date,
            kind,
            party: r.owner.clone(),
            rule: Some(r.id.clone()),
            effect: Some(r.effect),
            text,
            source: Some(r.source.clone()),
        };
        ev.push(base(r.valid_from, TimelineKind::InForce, r.summary.clone()));
        if let Some(t) = r.valid_to {
            ev.push(base(t, TimelineKind::Ended, r.summary.clone()));
        }
        ev.push(base(
            DateSpec::day(r.recorded_at),
            TimelineKind::MadePublic,
            r.summary.clone(),
        ));
    }
    for t in reg.transfers.values() {
        if reg.lots.get(&t.lot).is_none_or(|l| &l.model != model) {
            continue;
        }
        let qty = reg
            .lots
            .get(&t.lot)
            .and_then(|l| l.quantity)
            .map(|q| format!("{q} × "))
            .unwrap_or_default();
        for s in &t.stages {
            ev.push(TimelineEvent {
                date: s.date,
                kind: TimelineKind::Transfer,
                party: t.from.clone(),
                rule: None,
                effect: None,
                text: format!(
                    "{:?}{}: {qty}{model} from {} to {} (lot {})",
                    s.stage,
                    if s.planned { " (planned)" } else { "" },
                    reg.party_name(&t.from),
                    reg.party_name(&t.to),
                    t.lot
                )
                .to_lowercase_first(),
                source: s.source.clone().or_else(|| t.sources.first().cloned()),
            });
        }
    }
    if let Some(m) = reg.models.get(model) {
        let cats = reg.category_chain(&m.category);
        for tr in reg
            .treaties
            .values()
            .filter(|t| t.prohibits.iter().any(|c| cats.contains(c)))
        {
            for s in &tr.steps {
                ev.push(TimelineEvent {
                    date: s.date,
                    kind: TimelineKind::TreatyStep,
                    party: tr.id.clone(),
                    rule: None,
                    effect: None,
                    text: format!("{}: {} {:?}", tr.name, reg.party_name(&s.party), s.kind)
                        .to_lowercase_first(),
                    source: Some(s.source.clone()),
                });
            }
        }
    }
    ev.sort_by(|a, b| {
        a.date
            .earliest()
            .cmp(&b.date.earliest())
            .then(a.kind.cmp(&b.kind))
            .then(a.rule.cmp(&b.rule))
    });
    Ok(ev)
}

trait LowerFirst {
    fn to_lowercase_first(self) -> String;
}

impl LowerFirst for String {
    // Debug names of stages come capitalised ("Pledged"); the timeline reads
    // better with them lowercase, while party names keep their capitals.
    fn to_lowercase_first(self) -> String {
        let mut c = self.chars();
        match c.next() {
            Some(f) => f.to_lowercase().chain(c).collect(),
            None => self,
        }
    }
}
