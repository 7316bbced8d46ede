//! A decision as a page shows it: the outcome in words and colour, the
//! question as understood, each binding party with its role and rules,
//! the rules' sources and quotes, their status, the notes, the authorities
//! whose approval is needed, and the permalink.

use super::ask::{Answered, AskForm};
use super::layout::outcome_badge;
use enduse::{CheckReport, CitationKind, Outcome, RuleEffect, RuleRef, SourceRef, Status};
use maud::{html, Markup};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The question as the engine understood it, in words.
pub(crate) fn question(report: &CheckReport) -> String {
    let d = &report.decision;
    let names = &report.names;
    let q = &d.request;
    let mut s = format!("May {} {} {}", names.party(&q.actor), q.action, names.item);
    if let Some(p) = &names.place {
        let _ = write!(s, " in {p}");
    }
    if let Some(r) = &q.recipient {
        let _ = write!(s, " to {}", names.party(r));
    }
    if let Some(dest) = &q.destination {
        let _ = write!(s, " (final destination {})", names.party(dest));
    }
    if let Some(t) = &q.target_class {
        let _ = write!(s, " against {t} targets");
    }
    if let Some(p) = &q.purpose {
        let _ = write!(s, " for {p}");
    }
    if let Some(k) = q.border_distance_km {
        let _ = write!(s, " ({k} km from the border)");
    }
    let _ = write!(s, " on {}?", d.as_of);
    s
}

fn status_badge(s: Status) -> Markup {
    html! {
        @match s {
            Status::Confirmed => {}
            Status::StatedPosition => { span.badge.status-stated { "stated position" } }
            Status::Reported => { span.badge.status-reported title="reported by media citing anonymous officials" { "reported" } }
            Status::Disputed => { span.badge.status-disputed title="an on-record denial contradicts it" { "disputed" } }
        }
    }
}

fn effect_word(e: RuleEffect) -> &'static str {
    match e {
        RuleEffect::Permit => "permits",
        RuleEffect::Forbid => "forbids",
        RuleEffect::RequiresApproval => "needs approval",
    }
}

/// A quote without the quotation marks the data set kept around it (the
/// page adds its own).
pub(crate) fn unquoted(q: &str) -> &str {
    q.trim()
        .trim_matches(|c| matches!(c, '"' | '\u{201c}' | '\u{201d}'))
}

/// A source; its quote unless it is `skip` (the rule's own quote, shown
/// already).
pub(crate) fn source_except(s: &SourceRef, skip: Option<&str>) -> Markup {
    html! {
        li.source {
            span.outlet { (s.outlet) } ", " time { (s.date.to_string()) } ": "
            @match &s.url {
                Some(u) => { a href=(u) rel="noopener noreferrer" { (s.title) } }
                None => { cite { (s.title) } }
            }
            @if let Some(q) = s.quote.as_deref().filter(|q| Some(unquoted(q)) != skip.map(unquoted)) {
                blockquote { "“" (unquoted(q)) "”" }
            }
        }
    }
}

fn rule(r: &RuleRef, notes: &BTreeMap<String, String>) -> Markup {
    let kind = match r.kind {
        CitationKind::Rule => "rule",
        CitationKind::Default => "default",
        CitationKind::Consent => "decision of an authority",
    };
    html! {
        li.rule id=(format!("cited-{}", r.id)) data-rule=(r.id.as_str()) {
            p.rule-head {
                span class=(format!("effect effect-{}", match r.effect { RuleEffect::Permit => "permit", RuleEffect::Forbid => "forbid", RuleEffect::RequiresApproval => "approval" })) {
                    (effect_word(r.effect))
                }
                " "
                code { (r.id) } " "
                span.kind { "(" (kind) ")" } " "
                (status_badge(r.status))
            }
            p.summary { (r.summary) }
            p.dates {
                "In force from " (r.valid_from.to_string())
                @if let Some(t) = &r.valid_to { " until " (t.to_string()) }
                " · first reported in this data set's sources on " (r.recorded_at.to_string())
                @if r.date_uncertain { " · " strong { "date imprecise: read strictly" } }
            }
            @if let Some(a) = &r.approval { p { "Lifted by the approval of " code { (a) } "." } }
            @if let Some(n) = notes.get(r.id.as_str()) { p.note { "Note: " (n) } }
            @if let Some(a) = &r.assurance { p.note { (a) } }
            @if let Some(a) = &r.assumption { p.note { "Assumption: " (a) } }
            @if !r.quote.is_empty() {
                blockquote.quote { "“" (unquoted(&r.quote)) "”" }
            }
            ul.sources aria-label="Sources" {
                @for s in r.sources.iter() { (source_except(s, Some(&*r.quote))) }
            }
        }
    }
}

fn sentence(o: Outcome) -> &'static str {
    match o {
        Outcome::Permit => "Every party whose conditions bind the item permits it.",
        Outcome::Forbid => "A party whose conditions bind the item forbids it.",
        Outcome::NeedsApproval => "It needs an authority's approval; no party forbids it.",
        Outcome::Indeterminate => "The record cannot decide it: a rule needs a fact the question lacks, or a party's rules are missing.",
    }
}

/// The answer section.
pub(crate) fn answer(a: &Answered, f: &AskForm) -> Markup {
    let r = &a.report;
    let d = &r.decision;
    let permalink = format!("/{}", f.permalink(a.txn));
    let map_link = format!("/map{}", f.permalink(None));
    let model = match &d.request.item {
        enduse::ItemRef::Model(m) => m.to_string(),
        // A lot's model is named in the item's label: `M (lot L)`.
        enduse::ItemRef::Lot(_) => r
            .names
            .item
            .split(" (lot")
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    html! {
        section.answer aria-labelledby="answer-h" aria-live="polite" id="answer" data-outcome=(d.outcome.as_str()) {
            h2 #answer-h class=(format!("verdict outcome-{}", d.outcome.as_str())) {
                (outcome_badge(d.outcome))
                span.q { (question(r)) }
            }
            p.sentence { (sentence(d.outcome)) }
            @if let Some(p) = &r.period {
                p { "For the days " (p.from.to_string()) " to " (p.to.to_string()) " the strictest answer is shown; the decision below is that of " (d.as_of.to_string()) "." }
                ul.period {
                    @for st in &p.days {
                        li { (outcome_badge(st.outcome)) " " (st.from.to_string()) @if st.from != st.to { "–" (st.to.to_string()) } }
                    }
                }
            }
            @if !d.approvals.is_empty() {
                div.needs id="needs" {
                    h3 { "Needs approval by" }
                    ul {
                        @for n in &d.approvals {
                            li { strong { (n.authority_name) } " (" code { (n.authority.to_string()) } ")" }
                        }
                    }
                }
            }
            p.known { "As the public record stood on " strong { (d.known_at.to_string()) } "."
                @if !d.request.approvals.is_empty() {
                    " Evaluated as approved by "
                    (d.request.approvals.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) "."
                }
            }
            @for w in &r.warnings { p.warning { "Warning: " (w) } }
            @if let Some(alt) = &d.if_disputed {
                p.disputed { "If the disputed facts held, the answer would be " (outcome_badge(alt.outcome)) " ("
                    (alt.facts.iter().map(|f| f.id.to_string()).collect::<Vec<_>>().join(", ")) ")." }
            }
            @if !d.reported.is_empty() {
                p.reported { "This answer rests on reported facts: "
                    (d.reported.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) "." }
            }
            @if !d.missing.is_empty() {
                p.missing { "Missing: " (d.missing.join("; ")) }
            }
            h3 { "Parties whose conditions bind the item" }
            @if d.parties.is_empty() {
                p { "No foreign party's conditions bind this item." }
            }
            ol.parties {
                @for p in &d.parties {
                    li.party data-party=(p.party.as_str()) {
                        h4 { (p.name) " " span.role { "(" (p.role) ")" } " " (outcome_badge(p.outcome)) }
                        p.reason { (p.reason) }
                        ul.rules { @for rr in &p.rules { (rule(rr, &r.rule_notes)) } }
                    }
                }
            }
            @if !d.notes.is_empty() {
                h3 { "Notes" }
                ul.notes { @for n in &d.notes { li { (n) } } }
            }
            div.links {
                p { "Permalink (reproduces this question"
                    @if let Some(t) = a.txn { ", answered from register transaction " (t) }
                    "): " a #permalink href=(permalink) { (permalink) } }
                @if let Some(i) = a.log_index {
                    p { "Logged as entry " a #log-entry href=(format!("/audit?index={i}")) { "#" (i) } " of the audit log (verify its inclusion there)." }
                }
                p { a href=(map_link) { "See this question on the map" } " · " a href=(format!("/timeline?model={}", super::enc(&model))) { "Timeline of " (model) } }
            }
        }
    }
}
