//! Cross-checks of a data set: every reference resolves, every rule's metadata
//! is consistent with the others. All problems are collected, not just the first.

use crate::date::DateSpec;
use crate::ids::{
    AuthorityId, CategoryId, LotId, ModelId, PartyId, PlaceCode, RuleId, SourceId, TransferId,
};
use crate::problem::{Origin, Problem};
use crate::register::{Lot, Transfer};
use crate::register::{PartyKind, Register};
use crate::rule::Rule;
use std::cell::RefCell;
use std::collections::HashMap;

fn term(
    out: &mut Vec<Problem>,
    kind: &str,
    id: &str,
    field: &str,
    t: &str,
    terms: &std::collections::BTreeMap<String, crate::vocab::Term>,
) {
    if !terms.contains_key(t) {
        out.push(
            Problem::record(kind, id, Some(field), format!("unknown term `{t}`")).with_help(Some(
                crate::query::suggest(t, terms.keys().map(String::as_str)),
            )),
        );
    }
}

/// Where the checks look up the lots and transfers the rest of a register
/// names: in the register itself, or, for a register whose lots and
/// transfers are streamed past the checks instead of held, nowhere yet:
/// each such reference is then noted, to be checked once they have all
/// been read.
pub(crate) enum Bulk<'a> {
    /// The register's own maps.
    Own,
    /// Noted for later.
    Noted(&'a RefCell<Noted>),
}

/// References into lots and transfers noted while checking a register
/// without them.
#[derive(Debug, Default)]
pub(crate) struct Noted {
    /// Lots named (by approvals' scopes and rules' `Lot::` literals).
    pub lots: Vec<LotId>,
    /// Transfers named by defaults, each with the party that must send it.
    pub transfers: Vec<(TransferId, PartyId)>,
}

impl Bulk<'_> {
    fn has_lot(&self, reg: &Register, id: &LotId) -> bool {
        match self {
            Bulk::Own => reg.lots.contains_key(id),
            Bulk::Noted(n) => {
                n.borrow_mut().lots.push(id.clone());
                true
            }
        }
    }

    /// The sender of transfer `id`, or `None` if there is no such transfer;
    /// a noted reference answers `sender`, the one it must have.
    fn transfer_from(&self, reg: &Register, id: &TransferId, sender: &PartyId) -> Option<PartyId> {
        match self {
            Bulk::Own => reg.transfers.get(id).map(|t| t.from.clone()),
            Bulk::Noted(n) => {
                n.borrow_mut().transfers.push((id.clone(), sender.clone()));
                Some(sender.clone())
            }
        }
    }
}

fn unknown_party(
    reg: &Register,
    out: &mut Vec<Problem>,
    kind: &str,
    id: &str,
    field: &str,
    p: &PartyId,
) {
    if !reg.parties.contains_key(p) {
        out.push(
            Problem::record(
                kind,
                id,
                Some(field),
                format!("`{field}` names unknown party `{p}`"),
            )
            .with_help(Some("declare it in parties.toml".into())),
        );
    }
}

fn unknown_source(reg: &Register, out: &mut Vec<Problem>, kind: &str, id: &str, s: &SourceId) {
    if !reg.sources.contains_key(s) {
        out.push(
            Problem::record(kind, id, Some("source"), format!("unknown source `{s}`"))
                .with_help(Some("declare it in sources.toml".into())),
        );
    }
}

/// The checks of one lot against the rest of the register.
pub(crate) fn check_lot(reg: &Register, l: &Lot, out: &mut Vec<Problem>) {
    if !reg.models.contains_key(&l.model) {
        out.push(Problem::record(
            "lot",
            &l.id,
            Some("model"),
            format!("unknown model `{}`", l.model),
        ));
    }
}

/// The checks of one transfer against the rest of the register; whether
/// its lot exists is `has_lot`'s to say.
pub(crate) fn check_transfer(
    reg: &Register,
    t: &Transfer,
    has_lot: &dyn Fn(&LotId) -> bool,
    out: &mut Vec<Problem>,
) {
    let id = t.id.as_str();
    if !has_lot(&t.lot) {
        out.push(Problem::record(
            "transfer",
            id,
            Some("lot"),
            format!("unknown lot `{}`", t.lot),
        ));
    }
    unknown_party(reg, out, "transfer", id, "from", &t.from);
    unknown_party(reg, out, "transfer", id, "to", &t.to);
    if t.from == t.to {
        out.push(Problem::record(
            "transfer",
            id,
            Some("to"),
            "a transfer must go to another party".into(),
        ));
    }
    for f in &t.financed_by {
        unknown_party(reg, out, "transfer", id, "financed_by", f);
    }
    if let Some(r) = &t.refurbished_by {
        unknown_party(reg, out, "transfer", id, "refurbished_by", r);
    }
    if t.stages.is_empty() {
        out.push(Problem::record(
            "transfer",
            id,
            Some("stages"),
            "a transfer needs at least one dated stage".into(),
        ));
    }
    for s in t
        .stages
        .iter()
        .filter_map(|s| s.source.as_ref())
        .chain(&t.sources)
    {
        unknown_source(reg, out, "transfer", id, s);
    }
}

/// Checks that every reference in the register resolves; returns every problem.
pub fn check_register(reg: &Register) -> Vec<Problem> {
    check_register_with(reg, &Bulk::Own)
}

/// [`check_register`], looking lots and transfers up in `bulk`.
pub(crate) fn check_register_with(reg: &Register, bulk: &Bulk<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    let party = |out: &mut Vec<Problem>, kind: &str, id: &str, field: &str, p: &PartyId| {
        unknown_party(reg, out, kind, id, field, p)
    };
    let source = |out: &mut Vec<Problem>, kind: &str, id: &str, s: &SourceId| {
        unknown_source(reg, out, kind, id, s)
    };
    for p in reg.parties.values() {
        if let Some(c) = &p.country {
            party(&mut out, "party", p.id.as_str(), "country", c);
        }
        for a in &p.authorities {
            if a.id.party() != p.id {
                out.push(Problem::record(
                    "party",
                    &p.id,
                    Some("authorities"),
                    format!("authority `{}` must be written `{}:Name`", a.id, p.id),
                ));
            }
        }
    }
    for pl in reg.places.values() {
        if let Some(parent) = &pl.parent {
            if !reg.places.contains_key(parent) {
                out.push(Problem::record(
                    "place",
                    &pl.code,
                    Some("parent"),
                    format!("unknown parent place `{parent}`"),
                ));
            } else if reg.place_chain(&pl.code).len() > 32
                || reg.place_chain(parent).contains(&pl.code)
            {
                out.push(Problem::record(
                    "place",
                    &pl.code,
                    Some("parent"),
                    "places form a cycle".into(),
                ));
            }
        }
    }
    for c in reg.categories.values() {
        if let Some(parent) = &c.parent {
            if !reg.categories.contains_key(parent) {
                out.push(Problem::record(
                    "category",
                    &c.id,
                    Some("parent"),
                    format!("unknown parent category `{parent}`"),
                ));
            } else if reg.category_chain(parent).contains(&c.id) {
                out.push(Problem::record(
                    "category",
                    &c.id,
                    Some("parent"),
                    "categories form a cycle".into(),
                ));
            }
        }
    }
    for m in reg.models.values() {
        let id = m.id.as_str();
        if !reg.categories.contains_key(&m.category) {
            out.push(
                Problem::record(
                    "model",
                    id,
                    Some("category"),
                    format!("unknown category `{}`", m.category),
                )
                .with_help(Some("declare it in models.toml under [[category]]".into())),
            );
        }
        party(&mut out, "model", id, "origin", &m.origin);
        for d in &m.dependencies {
            party(&mut out, "model", id, "dependencies", &d.provider);
            if let Some(s) = &d.source {
                source(&mut out, "model", id, s);
            }
        }
        for s in &m.sources {
            source(&mut out, "model", id, s);
        }
    }
    for l in reg.lots.values() {
        check_lot(reg, l, &mut out);
    }
    for t in reg.transfers.values() {
        check_transfer(reg, t, &|l| reg.lots.contains_key(l), &mut out);
    }
    for t in reg.treaties.values() {
        let id = t.id.as_str();
        match reg.parties.get(&t.id) {
            Some(p) if p.kind == PartyKind::Treaty => {}
            Some(_) => out.push(Problem::record(
                "treaty",
                id,
                None,
                format!("party `{id}` must have kind = \"treaty\""),
            )),
            None => out.push(
                Problem::record(
                    "treaty",
                    id,
                    None,
                    format!("treaty `{id}` is not declared as a party"),
                )
                .with_help(Some(
                    "treaties own rules, so add them to parties.toml with kind = \"treaty\"".into(),
                )),
            ),
        }
        for c in &t.prohibits {
            if !reg.categories.contains_key(c) {
                out.push(Problem::record(
                    "treaty",
                    id,
                    Some("prohibits"),
                    format!("unknown category `{c}`"),
                ));
            }
        }
        for s in &t.steps {
            party(&mut out, "treaty", id, "steps", &s.party);
            source(&mut out, "treaty", id, &s.source);
        }
        for p in &t.non_members {
            party(&mut out, "treaty", id, "non_members", p);
        }
        for s in &t.sources {
            source(&mut out, "treaty", id, s);
        }
    }
    let authority = |out: &mut Vec<Problem>, kind: &str, id: &str, a: &crate::ids::AuthorityId| {
        let known = reg
            .parties
            .get(&a.party())
            .is_some_and(|p| p.authorities.iter().any(|x| &x.id == a));
        if !known {
            out.push(
                Problem::record(
                    kind,
                    id,
                    Some("authority"),
                    format!("unknown authority `{a}`"),
                )
                .with_help(Some(
                    "declare it under the party's authorities in parties.toml".into(),
                )),
            );
        }
    };
    for p in reg.parties.values() {
        for a in &p.authorities {
            if let Some(f) = &a.acts_for {
                authority(&mut out, "party", p.id.as_str(), f);
            }
        }
    }
    for a in &reg.consents {
        if let Some(r) = &a.requester {
            party(&mut out, "approval", &a.id, "requester", r);
        }
        if let Some(r) = &a.scope.actor {
            party(&mut out, "approval", &a.id, "actor", r);
        }
        if let Some(r) = &a.scope.recipient {
            party(&mut out, "approval", &a.id, "recipient", r);
        }
        for m in &a.scope.models {
            if !reg.models.contains_key(m) {
                out.push(Problem::record(
                    "approval",
                    &a.id,
                    Some("models"),
                    format!("unknown model `{m}`"),
                ));
            }
        }
        for l in &a.scope.lots {
            if !bulk.has_lot(reg, l) {
                out.push(Problem::record(
                    "approval",
                    &a.id,
                    Some("lots"),
                    format!("unknown lot `{l}`"),
                ));
            }
        }
        for pl in &a.scope.places {
            if !reg.places.contains_key(pl) {
                out.push(Problem::record(
                    "approval",
                    &a.id,
                    Some("places"),
                    format!("unknown place `{pl}`"),
                ));
            }
        }
        for t in &a.scope.targets {
            term(&mut out, "approval", &a.id, "targets", t, &reg.targets);
        }
        for s in &a.sources {
            source(&mut out, "approval", &a.id, s);
        }
        if a.sources.is_empty() {
            out.push(Problem::record(
                "approval",
                &a.id,
                Some("sources"),
                "a decision needs at least one source".into(),
            ));
        }
        authority(&mut out, "approval", &a.id, &a.authority);
        if let (Some(p), Some(first)) = (a.public, reg.earliest_source_date(&a.sources)) {
            if p.latest() < first.earliest() {
                out.push(
                    Problem::record(
                        "approval",
                        &a.id,
                        Some("public"),
                        format!(
                            "public on {p}, before its earliest source ({first}): a fact cannot be public before it was reported"
                        ),
                    )
                    .with_help(Some("cite the earlier report, or correct the date".into())),
                );
            }
        }
    }
    for d in &reg.defaults {
        party(&mut out, "default", &d.id, "party", &d.party);
        for s in &d.sources {
            source(&mut out, "default", &d.id, s);
        }
        if d.sources.is_empty() {
            out.push(Problem::record(
                "default",
                &d.id,
                Some("sources"),
                "a default needs at least one source".into(),
            ));
        }
        match (&d.effect, &d.authority) {
            (crate::vocab::DefaultEffect::NeedsApproval, None) => out.push(Problem::record(
                "default",
                &d.id,
                Some("authority"),
                "`needs_approval` names no `authority`".into(),
            )),
            (crate::vocab::DefaultEffect::NeedsApproval, Some(a)) => {
                authority(&mut out, "default", &d.id, a);
                if a.party() != d.party {
                    out.push(Problem::record(
                        "default",
                        &d.id,
                        Some("authority"),
                        format!("`{a}` is not an authority of {}", d.party),
                    ));
                }
            }
            (_, Some(_)) => out.push(Problem::record(
                "default",
                &d.id,
                Some("authority"),
                "only a `needs_approval` default names an authority".into(),
            )),
            _ => {}
        }
        for t in &d.transfers {
            match bulk.transfer_from(reg, t, &d.party) {
                None => out.push(Problem::record(
                    "default",
                    &d.id,
                    Some("transfers"),
                    format!("unknown transfer `{t}`"),
                )),
                Some(from) if from != d.party => out.push(Problem::record(
                    "default",
                    &d.id,
                    Some("transfers"),
                    format!("transfer `{t}` is sent by {from}, not by {}", d.party),
                )),
                Some(_) => {}
            }
        }
        if let (Some(r), Some(first)) = (d.recorded_at, reg.earliest_source_date(&d.sources)) {
            if r < first.earliest() {
                out.push(Problem::record(
                    "default",
                    &d.id,
                    Some("recorded_at"),
                    format!("public on {r}, before its earliest source ({first})"),
                ));
            }
        }
    }
    for a in reg.areas.values() {
        for p in a.places.iter().chain(&a.opposite).chain(&a.within) {
            if !reg.places.contains_key(p) {
                out.push(Problem::record(
                    "area",
                    &a.id,
                    Some("places"),
                    format!("unknown place `{p}`"),
                ));
            }
        }
        for x in &a.areas {
            if !reg.areas.contains_key(x) {
                out.push(Problem::record(
                    "area",
                    &a.id,
                    Some("areas"),
                    format!("unknown area `{x}`"),
                ));
            } else if x == &a.id {
                out.push(Problem::record(
                    "area",
                    &a.id,
                    Some("areas"),
                    "an area cannot contain itself".into(),
                ));
            }
        }
        let defs = usize::from(!a.places.is_empty())
            + usize::from(!a.areas.is_empty())
            + usize::from(a.border_band_km.is_some())
            + usize::from(a.geometry.is_some())
            + usize::from(a.populated_within_km.is_some());
        if defs != 1 {
            out.push(
                Problem::record(
                    "area",
                    &a.id,
                    None,
                    format!("area `{}` must be defined one way, found {defs}", a.id),
                )
                .with_help(Some(
                    "give exactly one of places, areas, border_band_km, geometry, populated_within_km"
                        .into(),
                )),
            );
        }
        if let Some(km) = a.border_band_km.or(a.populated_within_km) {
            if !(km.is_finite() && km > 0.0 && km <= 2000.0) {
                out.push(Problem::record(
                    "area",
                    &a.id,
                    Some("border_band_km"),
                    format!("a width of {km} km is not between 0 and 2000"),
                ));
            }
        }
        for s in &a.sources {
            source(&mut out, "area", &a.id, s);
        }
    }
    for g in reg.groups.values() {
        for m in &g.members {
            party(&mut out, "group", &g.id, "members", &m.party);
            if let Some(s) = &m.source {
                source(&mut out, "group", &g.id, s);
            }
        }
    }
    for (kind, terms) in [("target", &reg.targets), ("purpose", &reg.purposes)] {
        for t in terms.values() {
            if let Some(parent) = &t.parent {
                term(&mut out, kind, &t.id, "parent", parent, terms);
                if crate::register::term_chain(terms, parent).contains(&t.id) {
                    out.push(Problem::record(
                        kind,
                        &t.id,
                        Some("parent"),
                        format!("{kind}s form a cycle"),
                    ));
                }
            }
        }
    }
    for c in &reg.conflicts {
        for p in &c.parties {
            party(&mut out, "conflict", &c.id, "parties", p);
        }
        source(&mut out, "conflict", &c.id, &c.source);
    }
    out
}

/// The checks of every rule against the register and one another.
pub(crate) fn check_rules(reg: &Register, rules: &[Rule]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut seen: HashMap<&RuleId, &Rule> = HashMap::new();
    for r in rules {
        if let Some(first) = seen.get(&r.id) {
            out.push(
                Problem::new(rule_origin(r), format!("rule id `{}` is used twice", r.id))
                    .with_help(Some(format!("the first use is in {}", first.file))),
            );
        } else {
            seen.insert(&r.id, r);
        }
        check_rule(reg, r, &Bulk::Own, &mut out);
    }
    // `seen` holds each id's first rule.
    check_links(reg, rules, &seen, &mut out);
    for t in reg.transfers.values() {
        check_conditions(&seen, t, &mut out);
    }
    out
}

fn rule_origin(r: &Rule) -> Origin {
    Origin::File {
        file: r.file.clone(),
        span: Some(r.span.clone()),
    }
}

/// What the checks between rules read of a rule: a [`Rule`], or the
/// [`RuleLink`] kept of it when rules are checked a batch at a time.
pub(crate) trait Linked {
    fn link(&self) -> LinkRef<'_>;
}

/// The parts of a rule its links to other rules and records are checked on.
pub(crate) struct LinkRef<'a> {
    pub id: &'a RuleId,
    pub owner: &'a PartyId,
    pub supersedes: Option<&'a RuleId>,
    pub valid_from: &'a DateSpec,
    pub valid_to: Option<&'a DateSpec>,
    pub approval: Option<&'a AuthorityId>,
    pub file: &'a str,
    pub span: &'a std::ops::Range<usize>,
}

impl LinkRef<'_> {
    fn origin(&self) -> Origin {
        Origin::File {
            file: self.file.to_owned(),
            span: Some(self.span.clone()),
        }
    }
}

impl Linked for Rule {
    fn link(&self) -> LinkRef<'_> {
        LinkRef {
            id: &self.id,
            owner: &self.owner,
            supersedes: self.supersedes.as_ref(),
            valid_from: &self.valid_from,
            valid_to: self.valid_to.as_ref(),
            approval: self.approval.as_ref(),
            file: &self.file,
            span: &self.span,
        }
    }
}

/// A rule's links, owned: what a batch-at-a-time check keeps of each rule.
#[derive(Debug, Clone)]
pub(crate) struct RuleLink {
    id: RuleId,
    owner: PartyId,
    supersedes: Option<RuleId>,
    valid_from: DateSpec,
    valid_to: Option<DateSpec>,
    approval: Option<AuthorityId>,
    file: String,
    span: std::ops::Range<usize>,
}

impl RuleLink {
    pub(crate) fn of(r: &Rule) -> Self {
        RuleLink {
            id: r.id.clone(),
            owner: r.owner.clone(),
            supersedes: r.supersedes.clone(),
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            approval: r.approval.clone(),
            file: r.file.clone(),
            span: r.span.clone(),
        }
    }
}

impl Linked for RuleLink {
    fn link(&self) -> LinkRef<'_> {
        LinkRef {
            id: &self.id,
            owner: &self.owner,
            supersedes: self.supersedes.as_ref(),
            valid_from: &self.valid_from,
            valid_to: self.valid_to.as_ref(),
            approval: self.approval.as_ref(),
            file: &self.file,
            span: &self.span,
        }
    }
}

/// Each rule id's first rule.
pub(crate) fn first_of_each<L: Linked>(rules: &[L]) -> HashMap<&RuleId, &L> {
    let mut seen: HashMap<&RuleId, &L> = HashMap::with_capacity(rules.len());
    for r in rules {
        seen.entry(r.link().id).or_insert(r);
    }
    seen
}

/// The checks of one rule against the register (not against other rules).
pub(crate) fn check_rule(reg: &Register, r: &Rule, bulk: &Bulk<'_>, out: &mut Vec<Problem>) {
    let at = |r: &Rule| rule_origin(r);
    if !reg.parties.contains_key(&r.owner) {
        out.push(
            Problem::new(
                at(r),
                format!("policy file for unknown party `{}`", r.owner),
            )
            .with_help(Some(
                "name policy files after a party id in parties.toml".into(),
            )),
        );
    }
    for s in &r.sources {
        if !reg.sources.contains_key(s) {
            out.push(
                Problem::new(at(r), format!("rule `{}` cites unknown source `{s}`", r.id))
                    .with_help(Some("declare it in sources.toml".into())),
            );
        }
    }
    if let Some(first) = reg.earliest_source_date(&r.sources) {
        if r.recorded_at < first.earliest() {
            out.push(
                Problem::new(
                    at(r),
                    format!(
                        "rule `{}` is public on {} (`@recorded_at`), before every source it cites (earliest {first})",
                        r.id, r.recorded_at
                    ),
                )
                .with_help(Some(
                    "a fact cannot be public before it was reported: cite the earlier report, or correct `@recorded_at`".into(),
                )),
            );
        }
    }
    if let Some(a) = &r.assured_by {
        if !reg.parties.contains_key(a) {
            out.push(Problem::new(
                at(r),
                format!("rule `{}` is an assurance by unknown party `{a}`", r.id),
            ));
        }
    }
    if let Some(a) = &r.approval {
        let known = reg
            .parties
            .get(&a.party())
            .is_some_and(|p| p.authorities.iter().any(|x| &x.id == a));
        if !known {
            out.push(
                Problem::new(
                    at(r),
                    format!(
                        "rule `{}` requires approval by unknown authority `{a}`",
                        r.id
                    ),
                )
                .with_help(Some(
                    "declare it under the party's authorities in parties.toml".into(),
                )),
            );
        }
    }
    let literals = match r.policy.get() {
        Ok(p) => p.entity_literals(),
        Err(e) => {
            out.push(Problem::new(
                Origin::File {
                    file: r.file.clone(),
                    span: Some(r.span.clone()),
                },
                e.to_owned(),
            ));
            Vec::new()
        }
    };
    for u in literals {
        let ty = u.type_name().to_string();
        let id = u.id().unescaped().to_owned();
        let exists = match ty.as_str() {
            "Party" => reg.parties.contains_key(&PartyId::new(&id)),
            "Model" => reg.models.contains_key(&ModelId::new(&id)),
            "Lot" => bulk.has_lot(reg, &LotId::new(&id)),
            "Category" => reg.categories.contains_key(&CategoryId::new(&id)),
            "Place" => reg.places.contains_key(&PlaceCode::new(&id)),
            "TargetClass" => reg.targets.contains_key(&id),
            "Purpose" => reg.purposes.contains_key(&id),
            "Group" => reg.groups.contains_key(&id),
            "Area" => reg.areas.contains_key(&id),
            _ => true,
        };
        if !exists {
            out.push(Problem::new(
                at(r),
                format!(
                    "rule `{}` names `{ty}::\"{id}\"`, which the register does not hold",
                    r.id
                ),
            ));
        }
    }
}

/// The checks between rules, and between rules and the approvals that
/// name them: supersessions and consents.
/// `seen` is each id's first rule among `rules` ([`first_of_each`]).
pub(crate) fn check_links<L: Linked>(
    reg: &Register,
    rules: &[L],
    seen: &HashMap<&RuleId, &L>,
    out: &mut Vec<Problem>,
) {
    for r in rules {
        let r = r.link();
        let Some(old_id) = r.supersedes else {
            continue;
        };
        let Some(old) = seen.get(old_id).map(|o| o.link()) else {
            out.push(Problem::new(
                r.origin(),
                format!("rule `{}` supersedes unknown rule `{old_id}`", r.id),
            ));
            continue;
        };
        if old.owner != r.owner {
            out.push(Problem::new(
                r.origin(),
                format!(
                    "rule `{}` of {} cannot supersede `{old_id}` of {}",
                    r.id, r.owner, old.owner
                ),
            ));
        }
        match old.valid_to {
            None => out.push(
                Problem::new(
                    r.origin(),
                    format!(
                        "overlapping validity: `{}` supersedes `{old_id}` from {}, but `{old_id}` has no `@valid_to`",
                        r.id, r.valid_from
                    ),
                )
                .with_help(Some(format!("add `@valid_to(\"{}\")` to `{old_id}`", r.valid_from))),
            ),
            Some(end) if end != r.valid_from => out.push(
                Problem::new(
                    r.origin(),
                    format!(
                        "overlapping validity: `{}` supersedes `{old_id}` from {}, but `{old_id}` is in force until {end}",
                        r.id, r.valid_from
                    ),
                )
                .with_help(Some(format!("make `@valid_to` of `{old_id}` equal `{}`", r.valid_from))),
            ),
            Some(_) => {}
        }
    }
    for a in &reg.consents {
        let Some(rule) = &a.rule else { continue };
        match seen.get(rule).map(|r| r.link()) {
            None => out.push(Problem::record(
                "approval",
                &a.id,
                Some("rule"),
                format!("unknown rule `{rule}`"),
            )),
            Some(r)
                if !r
                    .approval
                    .is_some_and(|n| reg.same_decider(&a.authority, n)) =>
            {
                out.push(Problem::record(
                    "approval",
                    &a.id,
                    Some("authority"),
                    format!("rule `{rule}` is not lifted by `{}`", a.authority),
                ))
            }
            Some(_) => {}
        }
    }
}

/// The checks of a transfer's conditions against the rules, each id's
/// first rule in `rules`.
pub(crate) fn check_conditions<L: Linked>(
    rules: &HashMap<&RuleId, &L>,
    t: &Transfer,
    out: &mut Vec<Problem>,
) {
    for c in &t.conditions {
        match rules.get(c).map(|r| r.link()) {
            None => out.push(Problem::record(
                "transfer",
                &t.id,
                Some("conditions"),
                format!("unknown rule `{c}`"),
            )),
            Some(r) if r.owner != &t.from => out.push(Problem::record(
                "transfer",
                &t.id,
                Some("conditions"),
                format!(
                    "rule `{c}` belongs to {}, not to the sender {}",
                    r.owner, t.from
                ),
            )),
            Some(_) => {}
        }
    }
}
