//! The record index: every fact of a data set, by state and by system, with
//! its dates and first sources, as Markdown. `docs/record.md` is this text
//! for the bundled data set, and a test keeps the two equal.

use enduse_core::{Engine, PartyId, RuleEffect, Source, SourceId};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One line of the index.
struct Row {
    from: String,
    to: String,
    what: &'static str,
    id: String,
    summary: String,
    status: String,
    public: String,
    source: String,
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn source_cell(src: Option<&Source>, id: &SourceId) -> String {
    match src {
        Some(s) => match &s.url {
            Some(u) => format!("[{}, {}]({u})", cell(&s.outlet), s.date),
            None => format!("{}, {}", cell(&s.outlet), s.date),
        },
        None => id.to_string(),
    }
}

fn effect(e: RuleEffect) -> &'static str {
    match e {
        RuleEffect::Permit => "permit",
        RuleEffect::Forbid => "forbid",
        RuleEffect::RequiresApproval => "needs approval",
    }
}

fn table(out: &mut String, rows: &mut [Row]) {
    rows.sort_by(|a, b| (&a.from, &a.id).cmp(&(&b.from, &b.id)));
    let _ = writeln!(
        out,
        "| from | until | kind | id | what | status | public | first source |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for r in rows.iter() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | `{}` | {} | {} | {} | {} |",
            r.from,
            r.to,
            r.what,
            r.id,
            cell(&r.summary),
            r.status,
            r.public,
            r.source
        );
    }
    let _ = writeln!(out);
}

/// The index of `engine`'s register as Markdown.
pub fn record_index(engine: &Engine) -> String {
    let reg = engine.register();
    let src = |ids: &[SourceId]| -> String {
        ids.first()
            .map(|i| source_cell(reg.sources.get(i), i))
            .unwrap_or_default()
    };
    let mut by_party: BTreeMap<PartyId, Vec<Row>> = BTreeMap::new();
    for r in engine.rules() {
        by_party.entry(r.owner.clone()).or_default().push(Row {
            from: r.valid_from.to_string(),
            to: r.valid_to.map(|t| t.to_string()).unwrap_or_default(),
            what: match r.effect {
                RuleEffect::Permit => "rule: permit",
                RuleEffect::Forbid => "rule: forbid",
                RuleEffect::RequiresApproval => "rule: needs approval",
            },
            id: r.id.to_string(),
            summary: match &r.assured_by {
                Some(a) => format!("{} (assurance by {a})", r.summary),
                None => r.summary.clone(),
            },
            status: r.status.to_string(),
            public: r.recorded_at.to_string(),
            source: src(&r.sources),
        });
    }
    for d in &reg.defaults {
        by_party.entry(d.party.clone()).or_default().push(Row {
            from: d.valid_from.to_string(),
            to: d.valid_to.map(|t| t.to_string()).unwrap_or_default(),
            what: "default",
            id: d.id.clone(),
            summary: format!(
                "{} ({}: {})",
                d.summary,
                d.actions
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                match d.effect {
                    enduse_core::DefaultEffect::Permit => "permit".to_owned(),
                    enduse_core::DefaultEffect::Forbid => "forbid".to_owned(),
                    enduse_core::DefaultEffect::NeedsApproval => format!(
                        "needs approval by {}",
                        d.authority
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ),
                }
            ),
            status: d.status.to_string(),
            public: d.recorded_at.map(|x| x.to_string()).unwrap_or_else(|| {
                reg.earliest_source_date(&d.sources)
                    .map(|x| x.to_string())
                    .unwrap_or_default()
            }),
            source: src(&d.sources),
        });
    }
    for c in &reg.consents {
        by_party.entry(c.authority.party()).or_default().push(Row {
            from: c
                .scope
                .from
                .or(c.decided)
                .map(|x| x.to_string())
                .unwrap_or_default(),
            to: c.scope.to.map(|t| t.to_string()).unwrap_or_default(),
            what: if c.granted {
                "decision: granted"
            } else {
                "decision: refused"
            },
            id: c.id.clone(),
            summary: format!("{} ({})", c.summary, c.authority),
            status: c.status.to_string(),
            public: engine.consent_public_day(c).to_string(),
            source: src(&c.sources),
        });
    }
    for t in reg.treaties.values() {
        for s in &t.steps {
            by_party.entry(s.party.clone()).or_default().push(Row {
                from: s.date.to_string(),
                to: String::new(),
                what: "treaty step",
                id: format!("{}:{:?}", t.id, s.kind),
                summary: format!(
                    "{}: {:?}{}",
                    t.name,
                    s.kind,
                    s.note
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
                status: String::new(),
                public: String::new(),
                source: src(std::slice::from_ref(&s.source)),
            });
        }
    }
    let mut transfers_by_model: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for t in reg.transfers.values() {
        let Some(lot) = reg.lots.get(&t.lot) else {
            continue;
        };
        for st in &t.stages {
            let qty = lot.quantity.map(|q| format!("{q} × ")).unwrap_or_default();
            let row = || Row {
                from: st.date.to_string(),
                to: String::new(),
                what: "transfer",
                id: t.id.to_string(),
                summary: format!(
                    "{:?}{}: {qty}{} from {} to {}",
                    st.stage,
                    if st.planned { " (planned)" } else { "" },
                    lot.model,
                    reg.party_name(&t.from),
                    reg.party_name(&t.to)
                ),
                status: t.status.to_string(),
                public: String::new(),
                source: st
                    .source
                    .as_ref()
                    .map(|s| src(std::slice::from_ref(s)))
                    .unwrap_or_else(|| src(&t.sources)),
            };
            by_party.entry(t.from.clone()).or_default().push(row());
            transfers_by_model
                .entry(lot.model.to_string())
                .or_default()
                .push(row());
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "# The public record in `{}`\n", reg.info.name);
    let _ = writeln!(
        out,
        "Generated from the data set by `ENDUSE_BLESS=1 cargo test -p enduse-load --test record_doc`; \
         the same test fails when this file and the data set differ. Dates are as vague as \
         the sources (`2024-05` is a month; `A..B` a range). *public* is the day of the \
         earliest report in the data set's sources.\n"
    );
    let n_rules = engine.rules().len();
    let _ = writeln!(
        out,
        "{} rules, {} decisions of authorities, {} defaults, {} transfers of {} lots, \
         {} treaty steps, {} sources.\n",
        n_rules,
        reg.consents.len(),
        reg.defaults.len(),
        reg.transfers.len(),
        reg.lots.len(),
        reg.treaties.values().map(|t| t.steps.len()).sum::<usize>(),
        reg.sources.len()
    );
    let _ = writeln!(
        out,
        "| state | rules | decisions | defaults | transfers sent |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (p, rows) in &by_party {
        let count = |prefix: &str| rows.iter().filter(|r| r.what.starts_with(prefix)).count();
        let _ = writeln!(
            out,
            "| {} ({p}) | {} | {} | {} | {} | {} |",
            reg.party_name(p),
            count("rule"),
            count("decision"),
            count("default"),
            count("transfer"),
            count("treaty")
        );
    }
    let _ = writeln!(out, "\n## By state\n");
    for (p, rows) in by_party.iter_mut() {
        let _ = writeln!(out, "### {} ({p})\n", reg.party_name(p));
        table(&mut out, rows);
    }
    let _ = writeln!(out, "## By system\n");
    for m in reg.models.values() {
        let mut rows: Vec<Row> = Vec::new();
        if let Ok(rules) = engine.rules_for_model(&m.id) {
            for r in rules {
                rows.push(Row {
                    from: r.valid_from.to_string(),
                    to: r.valid_to.map(|t| t.to_string()).unwrap_or_default(),
                    what: effect(r.effect),
                    id: r.id.to_string(),
                    summary: format!("{} ({})", r.summary, reg.party_name(&r.owner)),
                    status: r.status.to_string(),
                    public: r.recorded_at.to_string(),
                    source: src(&r.sources),
                });
            }
        }
        for c in reg
            .consents
            .iter()
            .filter(|c| c.scope.models.contains(&m.id))
        {
            rows.push(Row {
                from: c
                    .scope
                    .from
                    .or(c.decided)
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
                to: c.scope.to.map(|t| t.to_string()).unwrap_or_default(),
                what: if c.granted { "granted" } else { "refused" },
                id: c.id.clone(),
                summary: format!("{} ({})", c.summary, c.authority),
                status: c.status.to_string(),
                public: engine.consent_public_day(c).to_string(),
                source: src(&c.sources),
            });
        }
        rows.extend(transfers_by_model.remove(m.id.as_str()).unwrap_or_default());
        if rows.is_empty() {
            continue;
        }
        let aliases = if m.aliases.is_empty() {
            String::new()
        } else {
            format!(", also {}", m.aliases.join(", "))
        };
        let _ = writeln!(
            out,
            "### {} ({}, origin {}{aliases})\n",
            m.id,
            m.name,
            reg.party_name(&m.origin)
        );
        table(&mut out, &mut rows);
    }
    out
}
