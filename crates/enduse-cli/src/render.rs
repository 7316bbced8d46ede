//! Text output of every report (JSON is the reports' own serialisation),
//! errors included.

use enduse::{
    ChainReport, CheckReport, EditReport, ExportReport, GenReport, HistoryReport, ImportReport,
    ListReport, LogReport, MapReport, Outcome, PoliciesReport, RuleEffect, RuleRef, TimelineKind,
    TimelineReport, ValidateReport, WhereReport,
};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Pretty JSON with a trailing newline.
pub fn json<T: serde::Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v)
        .unwrap_or_else(|e| format!("{{\"error\":{{\"message\":\"{e}\"}}}}"));
    s.push('\n');
    s
}

/// An error of the library said in the CLI's terms: the library names the
/// fields of a request (`model`, `at`), the CLI its options (`--model`,
/// `--at`).
pub fn in_cli_terms(e: enduse::Error) -> enduse::Error {
    let message = e.to_string();
    let (code, message, help) = match (e.code().as_str(), message.as_str()) {
        ("enduse::no_item", enduse::NO_ITEM) => (
            "enduse::no_item",
            "give --model or --lot",
            "name the item: a model (`--model ATACMS`, see `enduse list models`) or one lot",
        ),
        ("enduse::usage", enduse::PLACE_AND_POINT) => (
            "enduse::usage",
            "give a place or a point (--at), not both",
            "a point's place is computed from the boundaries",
        ),
        ("enduse::usage", enduse::DISTANCE_AND_POINT) => (
            "enduse::usage",
            "give a border distance or a point (--at), not both",
            "a point's distance to the border is computed",
        ),
        _ => return e,
    };
    enduse::Error::bad_request(code, message, help)
}

/// An error as JSON: `{"error": {code, kind, message, help, problems}}`.
pub fn error_json(e: &enduse::Error) -> String {
    json(&e.to_json())
}

/// Cuts every quoted value longer than [`enduse::MAX_QUOTED`] in a message
/// of the argument parser.
fn cut_quoted(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\'') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        match rest.find('\'') {
            Some(j) => {
                out.push_str(&enduse::cut(&rest[..j]));
                out.push('\'');
                rest = &rest[j + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Reports an argument error (or prints help or the version): as JSON on
/// standard output with `--json`, as text on standard error otherwise.
/// Returns the exit code.
pub fn clap_error(
    e: &clap::Error,
    json_out: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> i32 {
    use clap::error::ErrorKind;
    let code = match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
        _ => 1,
    };
    if code == 0 && e.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // Colour only for a person at a terminal; pipes and files get plain
        // text.
        let text = if std::io::IsTerminal::is_terminal(&std::io::stdout())
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        {
            e.render().ansi().to_string()
        } else {
            e.render().to_string()
        };
        let _ = write!(out, "{text}");
        return 0;
    }
    let text = cut_quoted(&e.render().to_string());
    if json_out {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let message = lines
            .next()
            .unwrap_or("bad arguments")
            .trim_start_matches("error: ")
            .to_owned();
        let help: Vec<&str> = lines.map(str::trim).collect();
        let v = serde_json::json!({
            "error": {
                "code": "enduse::usage",
                "kind": "bad_request",
                "message": message,
                "help": if help.is_empty() { None } else { Some(help.join(" ")) },
                "problems": [],
            }
        });
        let _ = out.write_all(json(&v).as_bytes());
    } else {
        let _ = write!(err, "{text}");
    }
    1
}

/// The label of an outcome, coloured for a terminal.
fn verdict(o: Outcome, color: bool) -> String {
    if !color {
        return o.label().to_owned();
    }
    let code = match o {
        Outcome::Permit => "1;32",
        Outcome::NeedsApproval => "1;33",
        Outcome::Forbid => "1;31",
        Outcome::Indeterminate => "1;90",
    };
    format!("\u{1b}[{code}m{}\u{1b}[0m", o.label())
}

fn rule_lines(out: &mut String, r: &RuleRef, notes: &BTreeMap<String, String>) {
    let mark = match r.effect {
        RuleEffect::Permit => "+",
        RuleEffect::Forbid => "x",
        RuleEffect::RequiresApproval => "?",
    };
    let kind = match r.kind {
        enduse::CitationKind::Rule => "",
        enduse::CitationKind::Default => "default ",
        enduse::CitationKind::Consent => "decision ",
    };
    let status = match r.status {
        enduse::Status::Confirmed => String::new(),
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
        "      in force from {}{until} · first reported in this data set's sources on {}{uncertain}",
        r.valid_from, r.recorded_at
    );
    if let Some(n) = notes.get(r.id.as_str()) {
        let _ = writeln!(out, "      note: {n}");
    }
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
pub fn decision(report: &CheckReport, color: bool) -> String {
    let d = &report.decision;
    let names = &report.names;
    let q = &d.request;
    let mut out = String::new();
    if let Some(p) = &report.period {
        let runs: Vec<String> = p
            .days
            .iter()
            .map(|s| {
                if s.from == s.to {
                    format!("{} on {}", s.outcome.as_str(), s.from)
                } else {
                    format!("{} {}..{}", s.outcome.as_str(), s.from, s.to)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "{} for the days {}..{} (the strictest of each day's answers): {}.",
            verdict(p.outcome, color),
            p.from,
            p.to,
            runs.join("; ")
        );
        let _ = writeln!(
            out,
            "The decision below is that of {}, the first day with that answer.",
            d.as_of
        );
        let _ = writeln!(out);
    }
    let mut question = format!("may {} {} {}", names.party(&q.actor), q.action, names.item);
    if let Some(p) = &names.place {
        let _ = write!(question, " in {p}");
    }
    if let Some(r) = &q.recipient {
        let _ = write!(question, " to {}", names.party(r));
    }
    if let Some(dest) = &q.destination {
        let _ = write!(question, " (final destination {})", names.party(dest));
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
    let _ = writeln!(
        out,
        "{}: {question} on {}?",
        verdict(d.outcome, color),
        d.as_of
    );
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
        let _ = writeln!(
            out,
            "  {} ({}): {}",
            p.name,
            p.role,
            verdict(p.outcome, color)
        );
        let _ = writeln!(out, "    {}", p.reason);
        for r in &p.rules {
            rule_lines(&mut out, r, &report.rule_notes);
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
    if let Some(x) = &report.explanation {
        let _ = writeln!(out);
        let _ = writeln!(out, "Every rule considered:");
        for p in &x.parties {
            let _ = writeln!(out);
            let state = match (p.binds, p.outcome) {
                (false, _) => "does not bind (no conditions attached)".to_owned(),
                (true, Some(o)) => verdict(o, color),
                (true, None) => "binds".to_owned(),
            };
            let _ = writeln!(out, "  {} ({}): {state}", p.name, p.roles.join(", "));
            if p.binds && p.rules.is_empty() {
                let _ = writeln!(out, "    no rule of it covers this item and action");
            }
            for r in &p.rules {
                let _ = writeln!(
                    out,
                    "    {} {} — {}",
                    if r.used { "+" } else { "-" },
                    r.id,
                    r.summary
                );
                let _ = writeln!(out, "      {}", r.why);
            }
        }
    }
    out
}

/// The consent chain.
pub fn chain(r: &ChainReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Parties whose conditions bind {} held by {} on {}:",
        r.names.item,
        r.names.party(&r.actor),
        r.as_of
    );
    let binding = r.parties.iter().filter(|l| l.binds).count();
    for l in &r.parties {
        let roles = enduse::role_labels(&l.roles);
        let _ = writeln!(
            out,
            "  {} {} ({}): {}; {} rule(s) on record",
            if l.binds { "*" } else { "-" },
            l.name,
            roles,
            if l.binds {
                "binds every use"
            } else {
                "does not bind (no conditions attached)"
            },
            l.rules_on_record
        );
    }
    if r.parties.is_empty() {
        let _ = writeln!(out, "  none: no foreign party controls this item");
    }
    let _ = writeln!(out, "{binding} of {} bind.", r.parties.len());
    out
}

/// A party's rules in force.
pub fn policies(r: &PoliciesReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Rules of {} in force on {}, as publicly known on {}: {}",
        r.names.party(&r.party),
        r.as_of,
        r.known_at,
        r.rules.len()
    );
    for rule in &r.rules {
        rule_lines(&mut out, rule, &r.rule_notes);
    }
    out
}

/// The timeline of a model.
pub fn timeline(r: &TimelineReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Timeline of the conditions that bind {}:", r.model);
    for e in &r.events {
        let what = match e.kind {
            TimelineKind::Transfer => "transfer",
            TimelineKind::TreatyStep => "treaty",
            TimelineKind::InForce => "in force",
            TimelineKind::Ended => "ended",
            TimelineKind::MadePublic => "first reported",
            TimelineKind::ApprovalDecision => "approval",
        };
        let rule = e
            .rule
            .as_ref()
            .map(|r| format!(" [{r}]"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<22} {:<14} {}: {}{rule}",
            e.date.to_string(),
            what,
            r.names.party(&e.party),
            e.text
        );
    }
    out
}

/// What a register holds.
pub fn list(r: &ListReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}{}:",
        r.items.len(),
        r.what,
        r.search
            .as_ref()
            .map(|s| format!(" matching `{s}`"))
            .unwrap_or_default()
    );
    let width = r
        .items
        .iter()
        .map(|i| i.id.len())
        .max()
        .unwrap_or(0)
        .min(28);
    for i in &r.items {
        let mut line = format!("  {:<width$}  {}", i.id, i.name);
        let mut extra: Vec<String> = Vec::new();
        if let Some(k) = &i.kind {
            extra.push(k.clone());
        }
        if let Some(p) = &i.parent {
            extra.push(format!("in {p}"));
        }
        if !i.aliases.is_empty() {
            extra.push(format!("also {}", i.aliases.join(", ")));
        }
        if let Some(d) = &i.detail {
            extra.push(d.clone());
        }
        if !extra.is_empty() {
            let _ = write!(line, " ({})", extra.join("; "));
        }
        let _ = writeln!(out, "{line}");
    }
    if r.items.is_empty() {
        let _ = writeln!(out, "  none");
    }
    out
}

/// Result of `validate`.
pub fn validated(r: &ValidateReport) -> String {
    format!(
        "{}: valid. {} parties, {} models, {} lots, {} transfers, {} treaties, {} rules, {} sources.\n",
        r.data_set, r.parties, r.models, r.lots, r.transfers, r.treaties, r.rules, r.sources
    )
}

/// Result of `where`.
pub fn location(r: &WhereReport) -> String {
    let p = &r.point;
    let loc = &r.de_jure;
    let as_of = r.as_of;
    let control = &r.control;
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
        "  distance to the UA-RU land border: {:.1} km",
        r.border_distance_km
    );
    let _ = writeln!(
        out,
        "  named areas on {as_of}: {}",
        if r.areas.is_empty() {
            "none".to_owned()
        } else {
            r.areas
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    out
}

/// Result of `map --out FILE`.
pub fn map_written(r: &MapReport, paths: &[&std::path::Path]) -> String {
    let outcomes: Vec<String> = r
        .outcomes
        .iter()
        .map(|(k, v)| format!("{k}: {} km\u{b2} in {} regions", v.area_km2, v.regions))
        .collect();
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    format!(
        "wrote {} ({} decisions; {})\n",
        paths.join(" and "),
        r.decisions,
        outcomes.join(", ")
    )
}

/// Result of `gen`.
pub fn generated(r: &GenReport) -> String {
    format!(
        "{}: wrote {} parties, {} models, {} transfers and {} rules (seed {}).\n",
        r.data_set, r.parties, r.models, r.transfers, r.rules, r.seed
    )
}

/// Result of `init` and `import`.
pub fn imported(r: &ImportReport) -> String {
    if r.dry_run {
        let mut s = format!(
            "{}: dry run, nothing written. The import would add {}, change {} and retract {} record(s); {} unchanged.\n",
            r.db, r.added, r.changed, r.retracted, r.unchanged
        );
        for c in &r.changes {
            let _ = writeln!(
                s,
                "  {:<8} {} `{}`{}",
                c.change,
                c.kind,
                c.key,
                c.version
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default()
            );
        }
        if r.retracted > 0 {
            let _ = writeln!(
                s,
                "Retractions need --allow-retract: without it, the import refuses."
            );
        }
        return s;
    }
    match &r.txn {
        None => format!(
            "{}: nothing to change ({} records already as given)\n",
            r.db, r.unchanged
        ),
        Some(t) => format!(
            "{}: transaction {} at {}: {} added, {} changed, {} retracted, {} unchanged\n",
            r.db, t.id, t.at, r.added, r.changed, r.retracted, r.unchanged
        ),
    }
}

/// Result of `export`.
pub fn exported(r: &ExportReport) -> String {
    format!(
        "wrote {} files to {}: {}\n",
        r.files.len(),
        r.out.display(),
        r.files.join(", ")
    )
}

/// Result of `put` and `retract`.
pub fn edited(r: &EditReport) -> String {
    match &r.txn {
        Some(t) => format!("{}: transaction {} at {}\n", r.done, t.id, t.at),
        None => format!("{}\n", r.done),
    }
}

/// Result of `history`.
pub fn history(r: &HistoryReport) -> String {
    let mut s = format!(
        "{} `{}`: {} version(s) in {}\n",
        r.kind,
        r.key,
        r.versions.len(),
        r.db
    );
    for v in &r.versions {
        let _ = writeln!(
            s,
            "\nversion {}{}  entered {} (transaction {}: {})",
            v.version,
            if v.retracted { " RETRACTED" } else { "" },
            v.entered,
            v.txn,
            v.note.as_deref().unwrap_or("")
        );
        if v.retracted {
            continue;
        }
        let _ = writeln!(
            s,
            "  valid {} to {}; publicly known {}",
            v.valid_from.as_deref().unwrap_or("(always)"),
            v.valid_to.as_deref().unwrap_or("(open)"),
            v.recorded_at.as_deref().unwrap_or("(not recorded)"),
        );
        let policy = (r.kind == "policy")
            .then(|| {
                Some((
                    v.body.get("owner")?.as_str()?,
                    v.body.get("cedar")?.as_str()?,
                ))
            })
            .flatten();
        match policy {
            Some((owner, cedar)) => {
                let _ = writeln!(s, "  owner {owner}");
                for line in cedar.lines() {
                    let _ = writeln!(s, "  | {line}");
                }
            }
            None => {
                let body = match &v.body {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let _ = writeln!(s, "  {}", body.lines().next().unwrap_or(""));
            }
        }
    }
    s
}

/// Result of `log`.
pub fn log(r: &LogReport) -> String {
    let mut s = format!(
        "{} ({}, schema version {}): {} transaction(s)\n",
        r.db,
        r.backend,
        r.schema_version,
        r.transactions.len()
    );
    for t in &r.transactions {
        let _ = writeln!(
            s,
            "  {:>5}  {}  {:>8} change(s)  {}",
            t.id, t.at, t.changes, t.note
        );
    }
    s
}

/// One user, on a line.
pub fn user(u: &enduse::User) -> String {
    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
    let mut s = format!("user `{}` ({})", u.id, roles.join(", "));
    if let Some(p) = &u.party {
        s.push_str(&format!(", party {p}"));
    }
    if !u.authorities.is_empty() {
        let a: Vec<String> = u
            .authorities
            .iter()
            .map(|d| match (d.from, d.to) {
                (None, None) => d.authority.clone(),
                (f, t) => format!(
                    "{} ({} to {})",
                    d.authority,
                    f.map_or("…".to_owned(), |x| x.to_string()),
                    t.map_or("…".to_owned(), |x| x.to_string())
                ),
            })
            .collect();
        s.push_str(&format!(", member of {}", a.join(", ")));
    }
    if u.disabled {
        s.push_str(", disabled");
    }
    s.push_str(&format!(", version {}\n", u.version));
    s
}

/// The users.
pub fn users(us: &[enduse::User]) -> String {
    if us.is_empty() {
        return "no users: add one with `enduse user add`\n".to_owned();
    }
    us.iter().map(user).collect()
}

/// The tokens, without their secrets.
pub fn tokens(ts: &[enduse::TokenInfo]) -> String {
    if ts.is_empty() {
        return "no tokens\n".to_owned();
    }
    ts.iter()
        .map(|t| {
            let status = match t.status {
                enduse::TokenStatus::Active => "active".to_owned(),
                enduse::TokenStatus::Expired => "expired".to_owned(),
                enduse::TokenStatus::Revoked => {
                    format!("revoked {}", t.revoked.as_deref().unwrap_or(""))
                }
            };
            format!(
                "{}  {:<20} {}  expires {}{}\n",
                t.id,
                t.user,
                status,
                t.expires,
                t.label
                    .as_deref()
                    .map(|l| format!("  ({l})"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// One request: its state, what it asks, what it needs, its reviews.
pub fn request(v: &enduse::RequestView) -> String {
    let c = &v.content;
    let s = &c.scope;
    let mut out = format!(
        "request {}: {} (version {})\n  {} {} {}",
        v.id,
        v.status.as_str(),
        v.version,
        s.actor,
        s.action,
        s.model.as_deref().or(s.lot.as_deref()).unwrap_or("-"),
    );
    if let Some(p) = &s.place {
        out.push_str(&format!(" in {p}"));
    }
    if let Some(r) = &s.recipient {
        out.push_str(&format!(" to {r}"));
    }
    out.push_str(&format!(
        ", {} to {}\n  filed by `{}` for {} at {}\n  justification: {}\n",
        c.window.from, c.window.to, c.requester, c.party, c.filed, c.justification
    ));
    for n in &v.needs {
        out.push_str(&format!(
            "  needs {} ({}): {}/{} approvals{}{}\n",
            n.authority,
            n.name,
            n.approvals,
            n.required,
            if n.refused { ", refused" } else { "" },
            if n.reviewers.is_empty() {
                String::new()
            } else {
                format!("; reviewers: {}", n.reviewers.join(", "))
            }
        ));
    }
    for r in &v.reviews {
        let verdict = match r.verdict {
            enduse::Verdict::Approve => "approved",
            enduse::Verdict::Refuse => "refused",
        };
        out.push_str(&format!(
            "  {verdict} by `{}` for {} at {}: {}\n",
            r.reviewer, r.authority, r.at, r.reason
        ));
    }
    if !v.consents.is_empty() {
        out.push_str(&format!("  consent records: {}\n", v.consents.join(", ")));
    }
    if let Some(cl) = &v.closed {
        out.push_str(&format!(
            "  withdrawn by `{}` at {}{}\n",
            cl.by,
            cl.at,
            cl.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!("  digest {}\n", v.digest));
    out
}

/// The requests, one line each.
pub fn requests(vs: &[enduse::RequestView]) -> String {
    if vs.is_empty() {
        return "no requests\n".to_owned();
    }
    vs.iter()
        .map(|v| {
            let s = &v.content.scope;
            let needs: Vec<&str> = v.needs.iter().map(|n| n.authority.as_str()).collect();
            format!(
                "{}  {:<9} {} {} {}{}, {} to {}, needs {}\n",
                v.id,
                v.status.as_str(),
                s.actor,
                s.action,
                s.model.as_deref().or(s.lot.as_deref()).unwrap_or("-"),
                s.place
                    .as_deref()
                    .map(|p| format!(" in {p}"))
                    .unwrap_or_default(),
                v.content.window.from,
                v.content.window.to,
                needs.join(", ")
            )
        })
        .collect()
}

/// The outcome of `audit verify`.
pub fn verified(r: &enduse::VerifyReport) -> String {
    if r.ok {
        return format!(
            "the audit log verifies: {} entries, {} checkpoints (latest of size {}), {} register transactions checked against the facts; {} entries not yet under a signature\nkey: {}\n",
            r.entries,
            r.checkpoints,
            r.latest_checkpoint.map_or("-".to_owned(), |n| n.to_string()),
            r.transactions,
            r.unsigned_entries,
            r.key
        );
    }
    let mut s = String::from("error: the audit log does not verify");
    if let Some(i) = r.first_bad_entry {
        s.push_str(&format!(": first bad entry {i}"));
    }
    if let Some(t) = r.txn {
        s.push_str(&format!(" (register transaction {t})"));
    }
    s.push_str(&format!(
        "\n  {}\n  help: the log or the register was changed outside enduse after it was logged; restore the database from a backup and compare it with an exported log\n",
        r.problem.as_deref().unwrap_or("unknown problem")
    ));
    s
}

/// An inclusion proof.
pub fn inclusion(p: &enduse::InclusionReport) -> String {
    let mut s = format!(
        "entry {} is in the tree of {} entries\n  leaf hash {}\n  root {}\n  audit path ({} hashes):\n",
        p.index,
        p.tree_size,
        p.leaf_hash,
        p.root,
        p.hashes.len()
    );
    for h in &p.hashes {
        s.push_str(&format!("    {h}\n"));
    }
    if let Some(c) = &p.checkpoint {
        s.push_str(&format!("\n{c}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_coloured_only_when_asked() {
        assert_eq!(verdict(Outcome::Forbid, false), "FORBID");
        let c = verdict(Outcome::Forbid, true);
        assert!(c.starts_with("\u{1b}[1;31m") && c.contains("FORBID"), "{c}");
    }

    #[test]
    fn long_quoted_values_are_cut() {
        let long = "x".repeat(300);
        let s = cut_quoted(&format!(
            "error: invalid value '{long}' for '--action <ACTION>'"
        ));
        assert!(s.len() < 150, "{s}");
        assert!(s.contains("'--action <ACTION>'"), "{s}");
    }
}
