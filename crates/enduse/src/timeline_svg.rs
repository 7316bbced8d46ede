//! The timeline as a picture: one lane per party, one row per condition
//! over its valid time, markers where each became public, and distinct
//! marks for imprecise dates, reported and disputed facts, consent
//! decisions, transfers and treaty steps. The web page and `enduse timeline
//! --svg` draw the same SVG from the same [`TimelinePicture`].

use crate::error::Result;
use crate::reports::TimelineReport;
use crate::snapshot::Snapshot;
use chrono::{Datelike, NaiveDate};
use enduse_core::{
    DateSpec, Engine, PartyId, RuleEffect, RuleId, SourceRef, Status, TimelineEvent, TimelineKind,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// What a timeline is drawn for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineSubject {
    /// Every condition that binds a model (designation, name or alias).
    Model(String),
    /// Every rule, default and consent decision of a party (code or name).
    Party(String),
}

/// One row of the picture: a rule, a default or a consent decision, with
/// what a reader needs to check it.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// The rule's id (or the default's, or the consent decision's).
    pub id: String,
    /// `rule`, `default` or `consent`.
    pub kind: &'static str,
    /// Its party.
    pub party: PartyId,
    /// Its party's name.
    pub party_name: String,
    /// Permit, forbid or requires approval (`None` for a consent decision).
    pub effect: Option<RuleEffect>,
    /// For a consent decision: whether it granted.
    pub granted: Option<bool>,
    /// How well established.
    pub status: Status,
    /// One sentence.
    pub summary: String,
    /// In force from (a consent decision: decided on).
    pub valid_from: Option<DateSpec>,
    /// In force until (exclusive).
    pub valid_to: Option<DateSpec>,
    /// First public report.
    pub recorded_at: Option<NaiveDate>,
    /// Its sources.
    pub sources: Vec<SourceRef>,
    /// The quote of the first source.
    pub quote: Option<String>,
    /// The rule it replaced.
    pub supersedes: Option<String>,
    /// The rules that replaced it.
    pub superseded_by: Vec<String>,
    /// What its dates rest on.
    pub note: Option<String>,
}

/// A timeline drawn: the SVG and the entries it shows, in drawing order.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePicture {
    /// `ATACMS` or `United States (US)`.
    pub title: String,
    /// The SVG.
    #[serde(skip)]
    pub svg: String,
    /// Every row, lane by lane.
    pub entries: Vec<TimelineEntry>,
    /// The events drawn (rules, transfers, treaty steps, decisions).
    pub events: usize,
}

/// The picture of `subject` on `snapshot`.
pub fn timeline_picture(snapshot: &Snapshot, subject: &TimelineSubject) -> Result<TimelinePicture> {
    let (title, events) = match subject {
        TimelineSubject::Model(m) => {
            let r: TimelineReport = snapshot.timeline(m)?;
            (r.model.to_string(), r.events)
        }
        TimelineSubject::Party(p) => {
            let engine = snapshot.engine();
            let party = engine.resolve_party(p)?;
            let name = engine.register().party_name(&party);
            (format!("{name} ({party})"), party_events(engine, &party))
        }
    };
    Ok(draw(snapshot.engine(), title, &events))
}

/// The events of every rule, default and consent decision of `party`.
fn party_events(engine: &Engine, party: &PartyId) -> Vec<TimelineEvent> {
    let reg = engine.register();
    let mut ev = Vec::new();
    for r in engine.rules().iter().filter(|r| &r.owner == party) {
        let base = |date: DateSpec, kind: TimelineKind| TimelineEvent {
            date,
            kind,
            party: r.owner.clone(),
            rule: Some(r.id.clone()),
            effect: Some(r.effect),
            text: r.summary.clone(),
            source: Some(r.source.clone()),
        };
        ev.push(base(r.valid_from, TimelineKind::InForce));
        if let Some(t) = r.valid_to {
            ev.push(base(t, TimelineKind::Ended));
        }
        ev.push(base(DateSpec::day(r.recorded_at), TimelineKind::MadePublic));
    }
    for d in reg.defaults.iter().filter(|d| &d.party == party) {
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
    for c in reg
        .consents
        .iter()
        .filter(|c| &c.authority.party() == party)
    {
        ev.push(TimelineEvent {
            date: c
                .decided
                .or(c.public)
                .unwrap_or(DateSpec::day(engine.consent_public_day(c))),
            kind: TimelineKind::ApprovalDecision,
            party: party.clone(),
            rule: c.rule.clone(),
            effect: None,
            text: format!(
                "{} {}: {}",
                c.authority,
                if c.granted { "granted" } else { "refused" },
                c.summary
            ),
            source: c.sources.first().cloned(),
        });
    }
    ev.sort_by_key(|e| (e.date.earliest(), e.kind));
    ev
}

fn source_refs(engine: &Engine, ids: &[enduse_core::SourceId]) -> Vec<SourceRef> {
    let reg = engine.register();
    ids.iter()
        .filter_map(|id| reg.sources.get(id))
        .map(|s| SourceRef {
            id: s.id.clone(),
            outlet: s.outlet.as_str().into(),
            date: s.date,
            title: s.title.as_str().into(),
            url: s.url.as_deref().map(Into::into),
            quote: s.quote.as_deref().map(Into::into),
        })
        .collect()
}

/// A point event of a lane: a consent decision, a transfer, a treaty step.
struct Mark {
    date: DateSpec,
    kind: TimelineKind,
    granted: bool,
    status: Status,
    text: String,
    entry: Option<String>,
}

struct Lane {
    party: PartyId,
    name: String,
    rows: Vec<TimelineEntry>,
    marks: Vec<Mark>,
}

/// Builds the entries and lanes from the events, then draws them.
fn draw(engine: &Engine, title: String, events: &[TimelineEvent]) -> TimelinePicture {
    let reg = engine.register();
    let mut lanes: Vec<Lane> = Vec::new();
    let lane_of = |lanes: &mut Vec<Lane>, party: &PartyId| -> usize {
        if let Some(i) = lanes.iter().position(|l| &l.party == party) {
            return i;
        }
        lanes.push(Lane {
            party: party.clone(),
            name: reg.party_name(party),
            rows: Vec::new(),
            marks: Vec::new(),
        });
        lanes.len() - 1
    };
    let mut superseded_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in engine.rules() {
        if let Some(s) = &r.supersedes {
            superseded_by
                .entry(s.to_string())
                .or_default()
                .push(r.id.to_string());
        }
    }
    for e in events {
        let li = lane_of(&mut lanes, &e.party);
        match e.kind {
            TimelineKind::InForce => {
                let Some(id) = &e.rule else { continue };
                if lanes[li].rows.iter().any(|r| r.id == id.as_str()) {
                    continue;
                }
                let entry = if let Some(r) = engine.rule(id) {
                    TimelineEntry {
                        id: id.to_string(),
                        kind: "rule",
                        party: r.owner.clone(),
                        party_name: reg.party_name(&r.owner),
                        effect: Some(r.effect),
                        granted: None,
                        status: r.status,
                        summary: r.summary.clone(),
                        valid_from: Some(r.valid_from),
                        valid_to: r.valid_to,
                        recorded_at: Some(r.recorded_at),
                        sources: source_refs(engine, &r.sources),
                        quote: Some(r.quote.clone()),
                        supersedes: r.supersedes.as_ref().map(ToString::to_string),
                        superseded_by: superseded_by.get(id.as_str()).cloned().unwrap_or_default(),
                        note: r.note.clone(),
                    }
                } else if let Some(d) = reg.defaults.iter().find(|d| d.id == id.as_str()) {
                    TimelineEntry {
                        id: d.id.clone(),
                        kind: "default",
                        party: d.party.clone(),
                        party_name: reg.party_name(&d.party),
                        effect: None,
                        granted: None,
                        status: Status::default(),
                        summary: e.text.clone(),
                        valid_from: Some(d.valid_from),
                        valid_to: None,
                        recorded_at: None,
                        sources: source_refs(engine, &d.sources),
                        quote: None,
                        supersedes: None,
                        superseded_by: Vec::new(),
                        note: None,
                    }
                } else {
                    continue;
                };
                lanes[li].rows.push(entry);
            }
            TimelineKind::ApprovalDecision => {
                // The event names its consent decision by its text, which
                // ends with the decision's summary.
                let c = reg.consents.iter().find(|c| {
                    c.authority.party() == e.party
                        && c.rule == e.rule
                        && e.text.ends_with(&c.summary)
                });
                let (granted, status, id) = match c {
                    Some(c) => (c.granted, c.status, Some(c.id.clone())),
                    None => (e.text.contains(" granted"), Status::default(), None),
                };
                if let (Some(c), Some(id)) = (c, &id) {
                    if !lanes[li].rows.iter().any(|r| &r.id == id) {
                        lanes[li].rows.push(TimelineEntry {
                            id: id.clone(),
                            kind: "consent",
                            party: e.party.clone(),
                            party_name: reg.party_name(&e.party),
                            effect: None,
                            granted: Some(c.granted),
                            status: c.status,
                            summary: e.text.clone(),
                            valid_from: Some(e.date),
                            valid_to: None,
                            recorded_at: Some(engine.consent_public_day(c)),
                            sources: source_refs(engine, &c.sources),
                            quote: c.quote.clone(),
                            supersedes: None,
                            superseded_by: Vec::new(),
                            note: c.note.clone(),
                        });
                    }
                }
                lanes[li].marks.push(Mark {
                    date: e.date,
                    kind: e.kind,
                    granted,
                    status,
                    text: e.text.clone(),
                    entry: id,
                });
            }
            TimelineKind::Transfer | TimelineKind::TreatyStep => {
                lanes[li].marks.push(Mark {
                    date: e.date,
                    kind: e.kind,
                    granted: false,
                    status: Status::default(),
                    text: e.text.clone(),
                    entry: None,
                });
            }
            TimelineKind::Ended | TimelineKind::MadePublic => {}
        }
    }
    // Consent decisions are drawn as marks only; the rows are the
    // conditions over valid time.
    let entries: Vec<TimelineEntry> = lanes.iter().flat_map(|l| l.rows.clone()).collect();
    for l in &mut lanes {
        l.rows.retain(|r| r.kind != "consent");
    }
    let svg = render(&title, &lanes, events);
    TimelinePicture {
        title,
        svg,
        entries,
        events: events.len(),
    }
}

/// Colour of an effect: the outcome colours of the map (colour-blind safe).
fn effect_colour(e: Option<RuleEffect>) -> &'static str {
    match e {
        Some(RuleEffect::Permit) => "#3b82c4",
        Some(RuleEffect::Forbid) => "#d1452b",
        Some(RuleEffect::RequiresApproval) => "#f0a30a",
        None => "#8a8a8a",
    }
}

fn effect_word(e: Option<RuleEffect>) -> &'static str {
    match e {
        Some(RuleEffect::Permit) => "permits",
        Some(RuleEffect::Forbid) => "forbids",
        Some(RuleEffect::RequiresApproval) => "needs approval",
        None => "default",
    }
}

/// ` [reported]`, ` [disputed]`, ` [stated position]`, or nothing.
fn status_words(s: Status) -> &'static str {
    match s {
        Status::Confirmed => "",
        Status::StatedPosition => " [stated position]",
        Status::Reported => " [reported]",
        Status::Disputed => " [disputed]",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('\u{2026}');
        t
    }
}

const WIDTH: f64 = 1180.0;
const LABEL_W: f64 = 300.0;
const RIGHT: f64 = 20.0;
const ROW: f64 = 18.0;
const TOP: f64 = 64.0;

/// The drawn span: from the first day of the year of the first condition
/// that still matters (not before 2014), to the end of the year after the
/// last event.
fn span(events: &[TimelineEvent]) -> (NaiveDate, NaiveDate) {
    let floor = NaiveDate::from_ymd_opt(2014, 1, 1).unwrap_or_default();
    let first = events
        .iter()
        .map(|e| e.date.earliest())
        .filter(|d| *d >= floor)
        .min()
        .unwrap_or(floor);
    let last = events
        .iter()
        .map(|e| e.date.latest())
        .max()
        .unwrap_or(first)
        .max(first);
    let from = NaiveDate::from_ymd_opt(first.year(), 1, 1).unwrap_or(first);
    let to = NaiveDate::from_ymd_opt(last.year() + 1, 1, 1).unwrap_or(last);
    (from, to)
}

fn render(title: &str, lanes: &[Lane], events: &[TimelineEvent]) -> String {
    let (t0, t1) = span(events);
    let days = (t1 - t0).num_days().max(1) as f64;
    let x0 = LABEL_W;
    let x1 = WIDTH - RIGHT;
    let x = |d: NaiveDate| -> f64 {
        let d = d.clamp(t0, t1);
        x0 + (d - t0).num_days() as f64 / days * (x1 - x0)
    };
    let mut body = String::new();
    let mut y = TOP;
    // Year lines and labels.
    let mut grid = String::new();
    // The last line is the end of the drawing: it carries no label.
    for year in t0.year()..=t1.year() {
        let label = if year < t1.year() {
            year.to_string()
        } else {
            String::new()
        };
        if let Some(d) = NaiveDate::from_ymd_opt(year, 1, 1) {
            let gx = x(d);
            let _ = write!(
                grid,
                r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="HEIGHT_MINUS" stroke="#d0d4da" stroke-width="1"/><text x="{:.1}" y="{}" class="yr">{label}</text>"##,
                TOP - 14.0,
                gx + 3.0,
                TOP - 4.0
            );
        }
    }
    for lane in lanes {
        let rows = lane.rows.len() + usize::from(!lane.marks.is_empty());
        let lane_h = (rows as f64 + 1.0) * ROW;
        let _ = write!(
            body,
            r##"<g class="lane" data-party="{}"><rect x="0" y="{y:.1}" width="{WIDTH}" height="{lane_h:.1}" fill="#f6f7f9"/><text x="8" y="{:.1}" class="party">{}</text>"##,
            esc(lane.party.as_str()),
            y + 13.0,
            esc(&format!("{} ({})", lane.name, lane.party))
        );
        let mut ry = y + ROW;
        for r in &lane.rows {
            let colour = effect_colour(r.effect);
            let from = r.valid_from.unwrap_or(DateSpec::day(t0));
            let start = from.latest();
            let end = r.valid_to.map(|t| t.earliest()).unwrap_or(t1);
            let (sx, ex) = (x(start), x(end).max(x(start) + 2.0));
            let (fill, stroke, dash) = match r.status {
                Status::Reported => (format!("{colour}\" fill-opacity=\"0.45"), colour, "4 2"),
                Status::Disputed => ("url(#disputed)".to_owned(), colour, "1 2"),
                _ => (colour.to_owned(), colour, "none"),
            };
            let status = status_words(r.status);
            let _ = write!(
                body,
                r##"<a href="#rule-{}" data-rule="{}" class="row"><title>{}</title><text x="18" y="{:.1}" class="id">{}</text>"##,
                esc(&r.id),
                esc(&r.id),
                esc(&format!(
                    "{} — {} ({}), in force from {}{}{}",
                    r.id,
                    r.summary,
                    effect_word(r.effect),
                    from,
                    r.valid_to
                        .map(|t| format!(" until {t}"))
                        .unwrap_or_default(),
                    status
                )),
                ry + 12.0,
                esc(&short(&format!("{}{status}", r.id), 44))
            );
            let _ = write!(
                body,
                r##"<rect x="{sx:.1}" y="{:.1}" width="{:.1}" height="10" fill="{fill}" stroke="{stroke}" stroke-dasharray="{dash}" stroke-width="1.2"/>"##,
                ry + 4.0,
                ex - sx
            );
            // An imprecise start or end: the span of possible days, hatched.
            if !from.is_precise() {
                let (a, b) = (x(from.earliest()), x(from.latest()));
                let _ = write!(
                    body,
                    r##"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="10" fill="url(#imprecise)" stroke="{colour}" stroke-width="0.8" class="imprecise"/>"##,
                    ry + 4.0,
                    (b - a).max(2.0)
                );
            }
            if let Some(t) = r.valid_to.filter(|t| !t.is_precise()) {
                let (a, b) = (x(t.earliest()), x(t.latest()));
                let _ = write!(
                    body,
                    r##"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="10" fill="url(#imprecise)" stroke="{colour}" stroke-width="0.8" class="imprecise"/>"##,
                    ry + 4.0,
                    (b - a).max(2.0)
                );
            }
            if from.earliest() < t0 {
                let _ = write!(
                    body,
                    r##"<text x="{:.1}" y="{:.1}" class="early">◂ {}</text>"##,
                    x0 + 2.0,
                    ry + 3.0,
                    from
                );
            }
            // Where it became public: a diamond.
            if let Some(p) = r.recorded_at {
                let px = x(p);
                let my = ry + 9.0;
                let _ = write!(
                    body,
                    r##"<path d="M{px:.1},{:.1}L{:.1},{my:.1}L{px:.1},{:.1}L{:.1},{my:.1}Z" fill="#111" stroke="#fff" stroke-width="1" class="public"/>"##,
                    my - 6.0,
                    px + 5.0,
                    my + 6.0,
                    px - 5.0
                );
            }
            body.push_str("</a>");
            ry += ROW;
        }
        if !lane.marks.is_empty() {
            let _ = write!(
                body,
                r##"<text x="18" y="{:.1}" class="id">decisions, transfers, treaty steps</text>"##,
                ry + 12.0
            );
            for m in &lane.marks {
                let mx = x(m.date.earliest());
                let my = ry + 9.0;
                let shape = match (m.kind, m.granted) {
                    (TimelineKind::ApprovalDecision, true) => format!(
                        r##"<path d="M{mx:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}Z" fill="#1b7a3a" stroke="#fff" stroke-width="1"/>"##,
                        my - 7.0,
                        mx + 7.0,
                        my + 6.0,
                        mx - 7.0,
                        my + 6.0
                    ),
                    (TimelineKind::ApprovalDecision, false) => format!(
                        r##"<path d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="#7a1b1b" stroke-width="2.4"/>"##,
                        mx - 5.0,
                        my - 5.0,
                        mx + 5.0,
                        my + 5.0,
                        mx - 5.0,
                        my + 5.0,
                        mx + 5.0,
                        my - 5.0
                    ),
                    (TimelineKind::TreatyStep, _) => format!(
                        r##"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="none" stroke="#444" stroke-width="1.4"/>"##,
                        mx - 4.0,
                        my - 4.0
                    ),
                    _ => format!(r##"<circle cx="{mx:.1}" cy="{my:.1}" r="3" fill="#666"/>"##),
                };
                let status = status_words(m.status);
                let imprecise = if m.date.is_precise() {
                    String::new()
                } else {
                    let (a, b) = (x(m.date.earliest()), x(m.date.latest()));
                    format!(
                        r##"<rect x="{a:.1}" y="{:.1}" width="{:.1}" height="4" fill="url(#imprecise)" class="imprecise"/>"##,
                        my + 6.0,
                        (b - a).max(2.0)
                    )
                };
                let title = format!("{}: {}{status}", m.date, m.text);
                match &m.entry {
                    Some(id) => {
                        let _ = write!(
                            body,
                            r##"<a href="#rule-{}" data-rule="{}" class="mark"><title>{}</title>{shape}{imprecise}</a>"##,
                            esc(id),
                            esc(id),
                            esc(&title)
                        );
                    }
                    None => {
                        let _ = write!(
                            body,
                            r##"<g class="mark"><title>{}</title>{shape}{imprecise}</g>"##,
                            esc(&title)
                        );
                    }
                }
            }
        }
        body.push_str("</g>");
        y += lane_h + 4.0;
    }
    if lanes.is_empty() {
        let _ = write!(
            body,
            r##"<text x="{x0}" y="{:.1}" class="id">no condition on record</text>"##,
            y + 14.0
        );
        y += ROW * 2.0;
    }
    let legend_y = y + 14.0;
    let legend = legend(legend_y);
    let height = legend_y + 52.0;
    let grid = grid.replace("HEIGHT_MINUS", &format!("{:.1}", y));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="DejaVu Sans, Arial, sans-serif" role="img" aria-labelledby="tl-title">
<title id="tl-title">{}</title>
<style>.h{{font-size:17px;font-weight:bold;fill:#111}}.yr{{font-size:11px;fill:#444}}.party{{font-size:13px;font-weight:bold;fill:#111}}.id{{font-size:11px;fill:#222}}.early{{font-size:9px;fill:#444}}.lg{{font-size:11px;fill:#222}}a.row:hover rect,a.mark:hover path{{stroke:#000;stroke-width:2}}</style>
<defs>
<pattern id="imprecise" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="5" height="5" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="5" stroke="#555" stroke-width="2"/></pattern>
<pattern id="disputed" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#ffffff"/><path d="M0,0L6,6M6,0L0,6" stroke="#555" stroke-width="1"/></pattern>
</defs>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="8" y="24" class="h">{}</text>
{grid}
{body}
{legend}
</svg>
"##,
        esc(&format!("Timeline of the conditions on {title}")),
        esc(&format!("Conditions on {title}, over valid time"))
    )
}

/// One legend item: its shape drawn at `x`, then its words.
fn legend_item(s: &mut String, x: &mut f64, y: f64, shape: String, text: &str, w: f64) {
    let _ = write!(
        s,
        r##"{shape}<text x="{:.1}" y="{:.1}" class="lg">{}</text>"##,
        *x + 20.0,
        y + 10.0,
        esc(text)
    );
    *x += w;
}

fn legend(y: f64) -> String {
    let mut s = String::new();
    let mut lx = 8.0;
    for (e, t) in [
        (Some(RuleEffect::Permit), "permits"),
        (Some(RuleEffect::Forbid), "forbids"),
        (Some(RuleEffect::RequiresApproval), "needs approval"),
        (None, "default"),
    ] {
        let shape = format!(
            r##"<rect x="{lx:.1}" y="{:.1}" width="16" height="10" fill="{}"/>"##,
            y + 1.0,
            effect_colour(e)
        );
        legend_item(&mut s, &mut lx, y, shape, t, 120.0);
    }
    let shape = format!(
        r##"<rect x="{lx:.1}" y="{:.1}" width="16" height="10" fill="#3b82c4" fill-opacity="0.45" stroke="#3b82c4" stroke-dasharray="4 2"/>"##,
        y + 1.0
    );
    legend_item(
        &mut s,
        &mut lx,
        y,
        shape,
        "reported (anonymous officials)",
        210.0,
    );
    let shape = format!(
        r##"<rect x="{lx:.1}" y="{:.1}" width="16" height="10" fill="url(#disputed)" stroke="#d1452b" stroke-dasharray="1 2"/>"##,
        y + 1.0
    );
    legend_item(&mut s, &mut lx, y, shape, "disputed", 100.0);
    let shape = format!(
        r##"<rect x="{lx:.1}" y="{:.1}" width="16" height="10" fill="url(#imprecise)" stroke="#555"/>"##,
        y + 1.0
    );
    legend_item(
        &mut s,
        &mut lx,
        y,
        shape,
        "imprecise date (span of possible days)",
        260.0,
    );
    let mut lx = 8.0;
    let y2 = y + 22.0;
    let my = y2 + 6.0;
    let mx = lx + 8.0;
    let shape = format!(
        r##"<path d="M{mx:.1},{:.1}L{:.1},{my:.1}L{mx:.1},{:.1}L{:.1},{my:.1}Z" fill="#111"/>"##,
        my - 6.0,
        mx + 5.0,
        my + 6.0,
        mx - 5.0
    );
    legend_item(&mut s, &mut lx, y2, shape, "first public report", 170.0);
    let mx = lx + 8.0;
    let shape = format!(
        r##"<path d="M{mx:.1},{:.1}L{:.1},{:.1}L{:.1},{:.1}Z" fill="#1b7a3a"/>"##,
        my - 7.0,
        mx + 7.0,
        my + 6.0,
        mx - 7.0,
        my + 6.0
    );
    legend_item(&mut s, &mut lx, y2, shape, "consent granted", 150.0);
    let mx = lx + 8.0;
    let shape = format!(
        r##"<path d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}" stroke="#7a1b1b" stroke-width="2.4"/>"##,
        mx - 5.0,
        my - 5.0,
        mx + 5.0,
        my + 5.0,
        mx - 5.0,
        my + 5.0,
        mx + 5.0,
        my - 5.0
    );
    legend_item(&mut s, &mut lx, y2, shape, "consent refused", 150.0);
    let mx = lx + 8.0;
    let shape = format!(r##"<circle cx="{mx:.1}" cy="{my:.1}" r="3" fill="#666"/>"##);
    legend_item(&mut s, &mut lx, y2, shape, "transfer stage", 140.0);
    let mx = lx + 8.0;
    let shape = format!(
        r##"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="none" stroke="#444" stroke-width="1.4"/>"##,
        mx - 4.0,
        my - 4.0
    );
    legend_item(&mut s, &mut lx, y2, shape, "treaty step", 140.0);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RegisterSource;

    fn bundled() -> std::sync::Arc<Snapshot> {
        RegisterSource::Bundled.snapshot().unwrap()
    }

    #[test]
    fn atacms_has_a_lane_per_party_and_its_public_dates() {
        let s = bundled();
        let p = timeline_picture(&s, &TimelineSubject::Model("ATACMS".into())).unwrap();
        assert!(p.svg.starts_with("<svg"), "{}", &p.svg[..80]);
        assert!(p.svg.contains(r#"data-party="US""#));
        // Every rule of the US on ATACMS is a row linked to its details,
        // with a diamond at its first public report.
        let us: Vec<&TimelineEntry> = p
            .entries
            .iter()
            .filter(|e| e.party.as_str() == "US" && e.kind == "rule")
            .collect();
        assert!(!us.is_empty());
        for e in &us {
            assert!(
                p.svg.contains(&format!("href=\"#rule-{}\"", e.id)),
                "{}",
                e.id
            );
            assert!(!e.sources.is_empty(), "{} has no source", e.id);
        }
        assert_eq!(
            p.svg.matches("class=\"public\"").count(),
            p.entries
                .iter()
                .filter(|e| e.kind != "consent" && e.recorded_at.is_some())
                .count()
        );
    }

    #[test]
    fn reported_disputed_and_imprecise_facts_are_marked() {
        let s = bundled();
        let engine = s.engine();
        // Find a model with a reported rule, and check it is drawn dashed.
        let reported = engine
            .rules()
            .iter()
            .find(|r| r.status == Status::Reported)
            .unwrap();
        let p = timeline_picture(&s, &TimelineSubject::Party(reported.owner.to_string())).unwrap();
        let row = p
            .svg
            .split("<a href=")
            .find(|a| a.starts_with(&format!("\"#rule-{}\"", reported.id)))
            .unwrap();
        assert!(row.contains("stroke-dasharray=\"4 2\""), "{row}");
        assert!(row.contains("[reported]"), "{row}");
        let imprecise = engine
            .rules()
            .iter()
            .find(|r| !r.valid_from.is_precise())
            .unwrap();
        let p = timeline_picture(&s, &TimelineSubject::Party(imprecise.owner.to_string())).unwrap();
        let row = p
            .svg
            .split("<a href=")
            .find(|a| a.starts_with(&format!("\"#rule-{}\"", imprecise.id)))
            .unwrap();
        assert!(row.contains("class=\"imprecise\""), "{row}");
    }

    #[test]
    fn consent_decisions_are_marks_and_entries() {
        let s = bundled();
        let p = timeline_picture(&s, &TimelineSubject::Model("Leopard 2".into())).unwrap();
        let consents: Vec<&TimelineEntry> =
            p.entries.iter().filter(|e| e.kind == "consent").collect();
        assert!(!consents.is_empty());
        for c in consents {
            assert!(c.granted.is_some());
            assert!(p.svg.contains("class=\"mark\"><title>"));
            assert!(
                p.svg.contains(&format!("data-rule=\"{}\"", c.id)),
                "{}",
                c.id
            );
        }
    }

    #[test]
    fn an_unknown_subject_is_an_error() {
        let s = bundled();
        let e = timeline_picture(&s, &TimelineSubject::Party("Atlantis".into())).unwrap_err();
        assert!(e.to_string().contains("Atlantis"), "{e}");
        assert!(timeline_picture(&s, &TimelineSubject::Model("Zeppelin".into())).is_err());
    }
}
