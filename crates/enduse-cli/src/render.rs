//! Human and JSON output of every command.

use crate::cli::CliError;
use chrono::NaiveDate;
use enduse_core::{
    ChainLink, Decision, Engine, ItemRef, ModelId, Outcome, PartyId, RuleEffect, RuleRef,
    TimelineEvent, TimelineKind,
};
use serde_json::json;
use std::fmt::Write;

/// Pretty JSON with a trailing newline.
pub fn json<T: serde::Serialize>(v: &T) -> String {
    let mut s =
        serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// A CLI error as JSON: code, message, help, and located problems.
pub fn error_json(e: &CliError) -> String {
    use miette::Diagnostic;
    let problems = match e {
        CliError::DataSet(d) | CliError::Store(enduse_store::StoreError::DataSet(d)) => {
            serde_json::to_value(d.problems()).unwrap_or_default()
        }
        _ => serde_json::Value::Array(Vec::new()),
    };
    json(&json!({
        "error": {
            "code": e.code().map(|c| c.to_string()),
            "message": e.to_string(),
            "help": e.help().map(|h| h.to_string()),
            "problems": problems,
        }
    }))
}

fn item_label(engine: &Engine, item: &ItemRef) -> String {
    match item {
        ItemRef::Model(m) => m.to_string(),
        ItemRef::Lot(l) => {
            let model = engine
                .register()
                .lots
                .get(l)
                .map(|x| x.model.to_string())
                .unwrap_or_default();
            format!("{model} (lot {l})")
        }
    }
}

fn place_label(engine: &Engine, code: &enduse_core::PlaceCode) -> String {
    let reg = engine.register();
    let chain = reg.place_chain(code);
    let name = |c: &enduse_core::PlaceCode| {
        reg.places
            .get(c)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| c.to_string())
    };
    match chain.get(1) {
        Some(parent) => format!("{} ({code}, {})", name(code), name(parent)),
        None => format!("{} ({code})", name(code)),
    }
}

fn rule_lines(out: &mut String, r: &RuleRef) {
    let mark = match r.effect {
        RuleEffect::Permit => "+",
        RuleEffect::Forbid => "x",
        RuleEffect::RequiresApproval => "?",
    };
    let kind = match r.kind {
        enduse_core::CitationKind::Rule => "",
        enduse_core::CitationKind::Default => "default ",
        enduse_core::CitationKind::Consent => "decision ",
    };
    let status = match r.status {
        enduse_core::Status::Confirmed => String::new(),
        s => format!(" [{s}]"),
    };
    let _ = writeln!(out, "    {mark} {kind}{} — {}{status}", r.id, r.summary);
    let until = r
        .valid_to
        .map(|t| format!(" until {t}"))
        .unwrap_or_default();
    let uncertain = if r.date_uncertain {
        " · date imprecise: read strictly"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "      in force from {}{until} · public since {}{uncertain}",
        r.valid_from, r.recorded_at
    );
    let _ = writeln!(
        out,
        "      {}, {}, \"{}\": \"{}\"",
        r.source.outlet, r.source.date, r.source.title, r.quote
    );
    for more in r.sources.iter().skip(1) {
        let quote = more
            .quote
            .as_deref()
            .map(|q| format!(": \"{q}\""))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "      also {}, {}, \"{}\"{quote}",
            more.outlet, more.date, more.title
        );
    }
    if let Some(a) = &r.assurance {
        let _ = writeln!(out, "      {a}");
    }
    if let Some(a) = &r.assumption {
        let _ = writeln!(out, "      assumption: {a}");
    }
}

/// The decision in one screen.
pub fn decision(engine: &Engine, d: &Decision) -> String {
    let reg = engine.register();
    let q = &d.request;
    let mut out = String::new();
    let mut question = format!(
        "may {} {} {}",
        reg.party_name(&q.actor),
        q.action,
        item_label(engine, &q.item)
    );
    if let Some(p) = &q.place {
        let _ = write!(question, " in {}", place_label(engine, p));
    }
    if let Some(r) = &q.recipient {
        let _ = write!(question, " to {}", reg.party_name(r));
    }
    if let Some(dest) = &q.destination {
        let _ = write!(question, " (final destination {})", reg.party_name(dest));
    }
    if let Some(t) = &q.target_class {
        let _ = write!(question, " against {t} targets");
    }
    if let Some(p) = &q.purpose {
        let _ = write!(question, " for {p}");
    }
    if let Some(k) = q.border_distance_km {
        let _ = write!(question, " ({k} km from the border)");
    }
    let _ = writeln!(out, "{}: {question} on {}?", d.outcome.label(), d.as_of);
    if d.outcome == Outcome::NeedsApproval {
        let who: Vec<String> = d
            .approvals
            .iter()
            .map(|a| format!("{} ({})", a.authority_name, a.authority))
            .collect();
        let _ = writeln!(out, "Needs approval by {}.", who.join(" and "));
    }
    let _ = writeln!(out, "As the public record stood on {}.", d.known_at);
    if !q.approvals.is_empty() {
        let given: Vec<String> = q.approvals.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "Evaluated as approved by {}.", given.join(", "));
    }
    for p in &d.parties {
        let _ = writeln!(out);
        let _ = writeln!(out, "  {} ({}): {}", p.name, p.role, p.outcome.label());
        let _ = writeln!(out, "    {}", p.reason);
        for r in &p.rules {
            rule_lines(&mut out, r);
        }
    }
    if d.parties.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "  No foreign party's conditions bind this item.");
    }
    if !d.missing.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Missing: {}", d.missing.join("; "));
    }
    if let Some(alt) = &d.if_disputed {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "If the disputed facts held: {} ({}).",
            alt.outcome.label(),
            alt.facts
                .iter()
                .map(|f| f.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !d.notes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Notes:");
        for n in &d.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

/// The consent chain.
pub fn chain(
    engine: &Engine,
    actor: &PartyId,
    item: &ItemRef,
    as_of: NaiveDate,
    links: &[ChainLink],
    as_json: bool,
) -> String {
    if as_json {
        return json(&json!({
            "actor": actor,
            "item": item,
            "as_of": as_of,
            "parties": links,
        }));
    }
    let reg = engine.register();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Parties whose conditions bind {} held by {} on {as_of}:",
        item_label(engine, item),
        reg.party_name(actor)
    );
    let binding: Vec<&ChainLink> = links.iter().filter(|l| l.binds).collect();
    for l in links {
        let roles: Vec<String> = l.roles.iter().map(|r| r.label()).collect();
        let _ = writeln!(
            out,
            "  {} {} ({}): {}; {} rule(s) on record",
            if l.binds { "*" } else { "-" },
            l.name,
            roles.join(", "),
            if l.binds {
                "binds every use"
            } else {
                "does not bind (no conditions attached)"
            },
            l.rules_on_record
        );
    }
    if links.is_empty() {
        let _ = writeln!(out, "  none: no foreign party controls this item");
    }
    let _ = writeln!(out, "{} of {} bind.", binding.len(), links.len());
    out
}

/// A party's rules in force.
pub fn policies(
    engine: &Engine,
    party: &PartyId,
    as_of: NaiveDate,
    known_at: NaiveDate,
    rules: &[RuleRef],
    as_json: bool,
) -> String {
    if as_json {
        return json(&json!({
            "party": party,
            "as_of": as_of,
            "known_at": known_at,
            "rules": rules,
        }));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Rules of {} in force on {as_of}, as publicly known on {known_at}: {}",
        engine.register().party_name(party),
        rules.len()
    );
    for r in rules {
        rule_lines(&mut out, r);
    }
    out
}

/// The timeline of a model.
pub fn timeline(
    engine: &Engine,
    model: &ModelId,
    events: &[TimelineEvent],
    as_json: bool,
) -> String {
    if as_json {
        return json(&json!({ "model": model, "events": events }));
    }
    let reg = engine.register();
    let mut out = String::new();
    let _ = writeln!(out, "Timeline of the conditions that bind {model}:");
    for e in events {
        let what = match e.kind {
            TimelineKind::Transfer => "transfer",
            TimelineKind::TreatyStep => "treaty",
            TimelineKind::InForce => "in force",
            TimelineKind::Ended => "ended",
            TimelineKind::MadePublic => "made public",
            TimelineKind::ApprovalDecision => "approval",
        };
        let rule = e
            .rule
            .as_ref()
            .map(|r| format!(" [{r}]"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<22} {:<12} {}: {}{rule}",
            e.date.to_string(),
            what,
            reg.party_name(&e.party),
            e.text
        );
    }
    out
}

/// Result of `validate`.
pub fn validated(engine: &Engine, dir: &str, as_json: bool) -> String {
    let reg = engine.register();
    if as_json {
        return json(&json!({
            "valid": true,
            "data_set": dir,
            "parties": reg.parties.len(),
            "models": reg.models.len(),
            "lots": reg.lots.len(),
            "transfers": reg.transfers.len(),
            "treaties": reg.treaties.len(),
            "rules": engine.rules().len(),
            "sources": reg.sources.len(),
        }));
    }
    format!(
        "{dir}: valid. {} parties, {} models, {} lots, {} transfers, {} treaties, {} rules, {} sources.\n",
        reg.parties.len(),
        reg.models.len(),
        reg.lots.len(),
        reg.transfers.len(),
        reg.treaties.len(),
        engine.rules().len(),
        reg.sources.len()
    )
}

/// Result of `where`.
pub fn location(
    p: &enduse_geo::LatLon,
    loc: &enduse_geo::Location,
    border_km: f64,
    as_of: NaiveDate,
    control: &enduse_geo::Control,
    areas: &[String],
    as_json: bool,
) -> String {
    if as_json {
        return json(&json!({
            "point": p,
            "as_of": as_of,
            "de_jure": { "country": loc.country, "subdivision": loc.subdivision, "name": loc.name, "adm1_code": loc.adm1_code },
            "border_distance_km": (border_km * 10.0).round() / 10.0,
            "control": control,
            "areas": areas,
        }));
    }
    let mut out = format!(
        "{},{}\n  de jure: {} {}({})\n",
        p.lat,
        p.lon,
        loc.country,
        loc.subdivision
            .as_deref()
            .map(|s| format!("{s} "))
            .unwrap_or_default(),
        loc.name
    );
    match &control.area {
        Some(area) => {
            let _ = writeln!(
                out,
                "  controlled by on {as_of}: {} (since {}; area `{area}`{}{})",
                control.controlled_by,
                control.since.as_deref().unwrap_or("?"),
                if control.approximate {
                    ", coarse approximation"
                } else {
                    ""
                },
                if control.date_uncertain {
                    ", date imprecise"
                } else {
                    ""
                }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  controlled by on {as_of}: {} (no control area on record; de jure)",
                control.controlled_by
            );
        }
    }
    let _ = writeln!(
        out,
        "  distance to the UA-RU land border: {border_km:.1} km"
    );
    let _ = writeln!(
        out,
        "  named areas on {as_of}: {}",
        if areas.is_empty() {
            "none".to_owned()
        } else {
            areas
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    out
}

/// The report of `enduse gen`.
pub fn generated(dir: &std::path::Path, spec: &crate::gen::GenSpec, as_json: bool) -> String {
    let dir = dir.display().to_string();
    if as_json {
        return json(&json!({
            "data_set": dir,
            "parties": spec.parties,
            "models": spec.models,
            "transfers": spec.transfers,
            "rules": spec.policies,
            "seed": spec.seed,
        }));
    }
    format!(
        "{dir}: wrote {} parties, {} models, {} transfers and {} rules (seed {}).\n",
        spec.parties, spec.models, spec.transfers, spec.policies, spec.seed
    )
}
