//! A specialised evaluator of rule conditions.
//!
//! Cedar stays the reference semantics: every rule's probe (a permit with
//! the rule's scope and condition) is compiled from the policy's JSON form
//! into a small tree over interned entity ids, and evaluated against the
//! register's facts and a context built straight from the query, without a
//! Cedar `Context`, `Request` or `Entities`. The evaluator follows Cedar's
//! evaluator (`cedar-policy-core` 4.14) construct by construct: `&&`, `||`
//! and `if` short-circuit as Cedar does, both operands of a binary operator
//! are evaluated before its types are checked, a missing attribute or a type
//! mismatch is an error that makes the rule *errored* (never satisfied).
//!
//! A construct outside this subset (extension functions, records, tags,
//! template slots, entity literals the register does not hold) makes
//! [`compile`] return `None`, and the engine evaluates that rule with Cedar.
//! A request whose context names an entity the register does not hold also
//! goes to Cedar. Errors carry no message here: the engine asks Cedar again
//! for the rules that errored, so that messages are Cedar's own.

use crate::fxhash::FxMap;
use crate::ids::LotId;
use crate::query::{Action, ItemRef, Query};
use crate::register::{DependencyKind, Lot, Register};
use chrono::NaiveDate;
use serde_json::Value as Json;
use std::sync::Arc;

/// Entity types the register supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Ty {
    Party,
    Group,
    Area,
    TargetClass,
    Purpose,
    Category,
    Place,
    Model,
    Lot,
    Action,
}

impl Ty {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Party" => Ty::Party,
            "Group" => Ty::Group,
            "Area" => Ty::Area,
            "TargetClass" => Ty::TargetClass,
            "Purpose" => Ty::Purpose,
            "Category" => Ty::Category,
            "Place" => Ty::Place,
            "Model" => Ty::Model,
            "Lot" => Ty::Lot,
            "Action" => Ty::Action,
            _ => return None,
        })
    }
}

/// An entity: its type and its index among the register's entities of that
/// type (for lots, the engine's lot index; for actions, `Action::index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ent {
    ty: Ty,
    ix: u32,
}

/// A value. Strings and sets are shared, so that a literal of a rule is
/// handed out without copying.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Bool(bool),
    Long(i64),
    Str(Arc<str>),
    Ent(Ent),
    Set(Arc<[Val]>),
}

impl PartialEq for Val {
    /// Cedar's equality: values of different types are unequal (never an
    /// error), sets are equal as sets.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Long(a), Val::Long(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::Ent(a), Val::Ent(b)) => a == b,
            (Val::Set(a), Val::Set(b)) => {
                a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
            }
            _ => false,
        }
    }
}

/// Attributes of the register's entities, and the context's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attr {
    Kind,
    Origin,
    Persistent,
    DataProviders,
    ComponentProviders,
    ServiceProviders,
    Model,
    Quantity,
    /// A name no register entity has.
    Other,
}

impl Attr {
    fn parse(s: &str) -> Self {
        match s {
            "kind" => Attr::Kind,
            "origin" => Attr::Origin,
            "persistent" => Attr::Persistent,
            "data_providers" => Attr::DataProviders,
            "component_providers" => Attr::ComponentProviders,
            "service_providers" => Attr::ServiceProviders,
            "model" => Attr::Model,
            "quantity" => Attr::Quantity,
            _ => Attr::Other,
        }
    }
}

/// The context keys the engine can fill, in slot order.
pub(crate) const CONTEXT_KEYS: [&str; 12] = [
    "approvals",
    "place",
    "recipient",
    "recipient_in_conflict",
    "target_class",
    "target",
    "purpose",
    "destination",
    "destination_in_conflict",
    "areas",
    "controlled_by",
    "border_distance_km",
];
const N_CTX: usize = CONTEXT_KEYS.len();

fn ctx_slot(key: &str) -> Option<u8> {
    CONTEXT_KEYS.iter().position(|k| *k == key).map(|i| i as u8)
}

#[derive(Debug, Clone, Copy)]
enum Var {
    Principal,
    Action,
    Resource,
}

#[derive(Debug, Clone, Copy)]
enum Bin {
    Eq,
    Less,
    LessEq,
    Add,
    Sub,
    Mul,
    In,
    Contains,
    ContainsAll,
    ContainsAny,
}

#[derive(Debug, Clone)]
enum Pat {
    Any,
    Lit(Vec<char>),
}

/// A compiled expression.
#[derive(Debug)]
enum Node {
    Lit(Val),
    Var(Var),
    /// `context.key`: an error when the request lacks it (`None`: a key the
    /// engine never fills).
    Ctx(Option<u8>),
    /// `context has key`.
    CtxHas(Option<u8>),
    Not(Box<Node>),
    Neg(Box<Node>),
    IsEmpty(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    Bin(Bin, Box<Node>, Box<Node>),
    Attr(Box<Node>, Attr),
    Has(Box<Node>, Attr),
    Like(Box<Node>, Vec<Pat>),
    Is(Box<Node>, Ty),
    Set(Vec<Node>),
    // Fused forms of the commonest shapes, evaluated without building
    // intermediate values; each keeps the errors of the general form.
    /// `var == Entity`.
    VarEq(Var, Ent),
    /// `var in Entity`.
    VarIn(Var, Ent),
    /// `context.key in Entity`.
    CtxIn(Option<u8>, Ent),
    /// `context.key.contains(literal)`.
    CtxContains(Option<u8>, Val),
    /// `context.key < n` (`Less`/`LessEq`; `true`: the literal is on the left).
    CtxCmp(Option<u8>, Bin, i64, bool),
}

/// Fuses the common shapes into single nodes.
fn fuse(n: Node) -> Node {
    match n {
        Node::Bin(op, a, b) => match (op, *a, *b) {
            (Bin::Eq, Node::Var(v), Node::Lit(Val::Ent(e))) => Node::VarEq(v, e),
            (Bin::In, Node::Var(v), Node::Lit(Val::Ent(e))) => Node::VarIn(v, e),
            (Bin::In, Node::Ctx(s), Node::Lit(Val::Ent(e))) => Node::CtxIn(s, e),
            (Bin::Contains, Node::Ctx(s), Node::Lit(v)) => Node::CtxContains(s, v),
            (Bin::Less | Bin::LessEq, Node::Ctx(s), Node::Lit(Val::Long(n))) => {
                Node::CtxCmp(s, op, n, false)
            }
            (Bin::Less | Bin::LessEq, Node::Lit(Val::Long(n)), Node::Ctx(s)) => {
                Node::CtxCmp(s, op, n, true)
            }
            (op, a, b) => Node::Bin(op, Box::new(a), Box::new(b)),
        },
        other => other,
    }
}

/// A rule's probe, compiled.
#[derive(Debug)]
pub(crate) struct Compiled {
    root: Node,
    /// Whether the condition reads `context.approvals` (`.`, `has`,
    /// `in`, `contains`): a probe that does not gives the same answer
    /// whatever approvals the request carries, so the engine's second
    /// evaluation (with the approvals given) reuses the first's answer.
    reads_approvals: bool,
}

/// Whether `n` reads the context slot `slot`.
fn reads_slot(n: &Node, slot: u8) -> bool {
    let s = Some(slot);
    match n {
        Node::Lit(_) | Node::Var(_) | Node::VarEq(..) | Node::VarIn(..) => false,
        Node::Ctx(x) | Node::CtxHas(x) | Node::CtxIn(x, _) | Node::CtxContains(x, _) => *x == s,
        Node::CtxCmp(x, ..) => *x == s,
        Node::Not(a) | Node::Neg(a) | Node::IsEmpty(a) => reads_slot(a, slot),
        Node::Attr(a, _) | Node::Has(a, _) | Node::Like(a, _) | Node::Is(a, _) => {
            reads_slot(a, slot)
        }
        Node::And(a, b) | Node::Or(a, b) | Node::Bin(_, a, b) => {
            reads_slot(a, slot) || reads_slot(b, slot)
        }
        Node::If(c, t, e) => reads_slot(c, slot) || reads_slot(t, slot) || reads_slot(e, slot),
        Node::Set(items) => items.iter().any(|x| reads_slot(x, slot)),
    }
}

impl Compiled {
    fn new(root: Node) -> Self {
        // Slot 0 is `approvals` (see `CONTEXT_KEYS`).
        let reads_approvals = reads_slot(&root, 0);
        Self {
            root,
            reads_approvals,
        }
    }

    /// Whether the condition reads the approvals of the request.
    pub(crate) fn reads_approvals(&self) -> bool {
        self.reads_approvals
    }
}

/// Why a compiled condition could not be evaluated. The message is Cedar's,
/// fetched by the engine when needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EvalError;

/// Resolves an entity literal of a rule to its index (`None`: the register
/// does not hold it, and the rule is left to Cedar).
pub(crate) type Resolver<'a> = dyn Fn(Ty, &str) -> Option<u32> + 'a;

/// Compiles a policy's JSON form (`Policy::to_json`) into its probe's
/// condition: scope, then the `when` and `unless` clauses in order, as
/// Cedar conjoins them. `None` when it uses a construct outside the subset.
pub(crate) fn compile(json: &Json, resolve: &Resolver<'_>) -> Option<Compiled> {
    let c = Compiler { resolve };
    let obj = json.as_object()?;
    let mut parts = vec![
        c.scope(obj.get("principal")?, Var::Principal)?,
        c.scope(obj.get("action")?, Var::Action)?,
        c.scope(obj.get("resource")?, Var::Resource)?,
    ];
    let conds = obj.get("conditions").and_then(Json::as_array);
    let mut body = Vec::new();
    for cond in conds.into_iter().flatten() {
        let e = c.expr(cond.get("body")?)?;
        match cond.get("kind")?.as_str()? {
            "when" => body.push(e),
            "unless" => body.push(Node::Not(Box::new(e))),
            _ => return None,
        }
    }
    // Cedar folds the clauses to the right: c1 && (c2 && c3).
    if let Some(last) = body.pop() {
        let cond = body
            .into_iter()
            .rev()
            .fold(last, |acc, prev| Node::And(Box::new(prev), Box::new(acc)));
        parts.push(cond);
    } else {
        parts.push(Node::Lit(Val::Bool(true)));
    }
    // `true && x` is `x` wherever a boolean is required (and errs where `x`
    // does): an unconstrained scope costs nothing.
    parts.retain(|p| !matches!(p, Node::Lit(Val::Bool(true))));
    let Some(last) = parts.pop() else {
        return Some(Compiled::new(Node::Lit(Val::Bool(true))));
    };
    let root = parts
        .into_iter()
        .rev()
        .fold(last, |acc, prev| Node::And(Box::new(prev), Box::new(acc)));
    Some(Compiled::new(root))
}

struct Compiler<'a, 'b> {
    resolve: &'a Resolver<'b>,
}

impl Compiler<'_, '_> {
    fn entity(&self, j: &Json) -> Option<Ent> {
        let j = j.get("__entity").unwrap_or(j);
        let ty = Ty::parse(j.get("type")?.as_str()?)?;
        let id = j.get("id")?.as_str()?;
        let ix = if ty == Ty::Action {
            u32::from(Action::parse(id)?.index())
        } else {
            (self.resolve)(ty, id)?
        };
        Some(Ent { ty, ix })
    }

    fn scope(&self, j: &Json, var: Var) -> Option<Node> {
        let v = || Box::new(Node::Var(var));
        Some(match j.get("op")?.as_str()? {
            "All" => Node::Lit(Val::Bool(true)),
            "==" => Node::VarEq(var, self.entity(j.get("entity")?)?),
            "in" => match (j.get("entity"), j.get("entities")) {
                (Some(e), None) => Node::VarIn(var, self.entity(e)?),
                (None, Some(es)) => {
                    let set: Option<Vec<Val>> = es
                        .as_array()?
                        .iter()
                        .map(|e| self.entity(e).map(Val::Ent))
                        .collect();
                    Node::Bin(Bin::In, v(), Box::new(Node::Lit(Val::Set(set?.into()))))
                }
                _ => return None,
            },
            "is" => {
                let ty = Ty::parse(j.get("entity_type")?.as_str()?)?;
                match j.get("in") {
                    None => Node::Is(v(), ty),
                    Some(inn) => Node::And(
                        Box::new(Node::Is(v(), ty)),
                        Box::new(Node::VarIn(var, self.entity(inn.get("entity")?)?)),
                    ),
                }
            }
            _ => return None,
        })
    }

    fn value(&self, j: &Json) -> Option<Val> {
        Some(match j {
            Json::Bool(b) => Val::Bool(*b),
            Json::Number(n) => Val::Long(n.as_i64()?),
            Json::String(s) => Val::Str(Arc::from(s.as_str())),
            Json::Array(items) => {
                let v: Option<Vec<Val>> = items.iter().map(|x| self.value(x)).collect();
                Val::Set(v?.into())
            }
            Json::Object(o) if o.contains_key("__entity") => Val::Ent(self.entity(j)?),
            _ => return None,
        })
    }

    fn expr(&self, j: &Json) -> Option<Node> {
        let obj = j.as_object()?;
        if obj.len() != 1 {
            return None;
        }
        let (k, v) = obj.iter().next()?;
        let sub = |key: &str| -> Option<Box<Node>> { Some(Box::new(self.expr(v.get(key)?)?)) };
        let bin =
            |op: Bin| -> Option<Node> { Some(fuse(Node::Bin(op, sub("left")?, sub("right")?))) };
        Some(match k.as_str() {
            "Value" => Node::Lit(self.value(v)?),
            "Var" => match v.as_str()? {
                "principal" => Node::Var(Var::Principal),
                "action" => Node::Var(Var::Action),
                "resource" => Node::Var(Var::Resource),
                // `context` is read only through `.` and `has` below.
                _ => return None,
            },
            "!" => Node::Not(sub("arg")?),
            "neg" => Node::Neg(sub("arg")?),
            "isEmpty" => Node::IsEmpty(sub("arg")?),
            "==" => bin(Bin::Eq)?,
            "!=" => Node::Not(Box::new(bin(Bin::Eq)?)),
            "in" => bin(Bin::In)?,
            "<" => bin(Bin::Less)?,
            "<=" => bin(Bin::LessEq)?,
            // Cedar turns `a > b` into `b < a`.
            ">" => fuse(Node::Bin(Bin::Less, sub("right")?, sub("left")?)),
            ">=" => fuse(Node::Bin(Bin::LessEq, sub("right")?, sub("left")?)),
            "+" => bin(Bin::Add)?,
            "-" => bin(Bin::Sub)?,
            "*" => bin(Bin::Mul)?,
            "contains" => bin(Bin::Contains)?,
            "containsAll" => bin(Bin::ContainsAll)?,
            "containsAny" => bin(Bin::ContainsAny)?,
            "&&" => Node::And(sub("left")?, sub("right")?),
            "||" => Node::Or(sub("left")?, sub("right")?),
            "." | "has" => {
                let attr = v.get("attr")?.as_str()?;
                let left = v.get("left")?;
                if left.get("Var").and_then(Json::as_str) == Some("context") {
                    let slot = ctx_slot(attr);
                    if k == "." {
                        Node::Ctx(slot)
                    } else {
                        Node::CtxHas(slot)
                    }
                } else {
                    let l = Box::new(self.expr(left)?);
                    if k == "." {
                        Node::Attr(l, Attr::parse(attr))
                    } else {
                        Node::Has(l, Attr::parse(attr))
                    }
                }
            }
            "like" => {
                let pats: Option<Vec<Pat>> = v
                    .get("pattern")?
                    .as_array()?
                    .iter()
                    .map(|p| match p {
                        Json::String(s) if s == "Wildcard" => Some(Pat::Any),
                        _ => Some(Pat::Lit(p.get("Literal")?.as_str()?.chars().collect())),
                    })
                    .collect();
                Node::Like(sub("left")?, pats?)
            }
            "is" => {
                let ty = Ty::parse(v.get("entity_type")?.as_str()?)?;
                match v.get("in") {
                    None => Node::Is(sub("left")?, ty),
                    // Cedar: `e is T in x` is `e is T && e in x`.
                    Some(inn) => Node::And(
                        Box::new(Node::Is(sub("left")?, ty)),
                        Box::new(Node::Bin(Bin::In, sub("left")?, Box::new(self.expr(inn)?))),
                    ),
                }
            }
            "if-then-else" => Node::If(sub("if")?, sub("then")?, sub("else")?),
            "Set" => {
                let items: Option<Vec<Node>> = v.as_array()?.iter().map(|x| self.expr(x)).collect();
                Node::Set(items?)
            }
            _ => return None,
        })
    }
}

// ---- facts --------------------------------------------------------------------

/// What a model (and its lots) says about itself.
struct ModelFacts {
    origin: Option<u32>,
    persistent: bool,
    /// Categories it is in, transitively.
    ancestors: Vec<u32>,
    data: Arc<[Val]>,
    component: Arc<[Val]>,
    service: Arc<[Val]>,
}

/// The register as the evaluator reads it: ids interned per type, ancestors
/// computed once, attributes ready.
pub(crate) struct Facts {
    /// Per entity type (`Ty as usize`), ids to indexes.
    index: Vec<FxMap<String, u32>>,
    parties: Vec<crate::ids::PartyId>,
    party_kind: Vec<Arc<str>>,
    place_kind: Vec<Arc<str>>,
    place_anc: Vec<Vec<u32>>,
    category_anc: Vec<Vec<u32>>,
    target_anc: Vec<Vec<u32>>,
    purpose_anc: Vec<Vec<u32>>,
    models: Vec<ModelFacts>,
    /// Target class ids, shared (a request's `target_class` string).
    target_names: Vec<Arc<str>>,
    /// The empty set (no approvals), shared.
    empty: Arc<[Val]>,
    /// Whether party-in-group tests depend on the day.
    dated_groups: bool,
}

/// The ancestors of every entry of a hierarchy, transitively (cycles stop).
fn ancestors<'a>(
    keys: impl Iterator<Item = &'a str>,
    parent: impl Fn(&str) -> Option<&'a str>,
    ix: impl Fn(&str) -> Option<u32>,
) -> Vec<Vec<u32>> {
    keys.map(|k| {
        let mut out: Vec<u32> = Vec::new();
        let mut cur = parent(k);
        while let Some(p) = cur {
            let Some(i) = ix(p) else { break };
            if out.contains(&i) || Some(i) == ix(k) {
                break;
            }
            out.push(i);
            cur = parent(p);
        }
        out
    })
    .collect()
}

fn kind_str(k: impl std::fmt::Debug) -> Arc<str> {
    Arc::from(format!("{k:?}").to_lowercase())
}

impl Facts {
    /// `dated_groups`: whether the engine puts parties in groups by day
    /// (it does when any membership step is on record).
    pub(crate) fn new(reg: &Register, dated_groups: bool) -> Self {
        let mut index: Vec<FxMap<String, u32>> = vec![FxMap::default(); Ty::Action as usize + 1];
        let mut add = |ty: Ty, keys: &mut dyn Iterator<Item = &str>| {
            for (i, k) in keys.enumerate() {
                index[ty as usize].insert(k.to_owned(), i as u32);
            }
        };
        add(Ty::Party, &mut reg.parties.keys().map(|k| k.as_str()));
        add(Ty::Group, &mut reg.groups.keys().map(String::as_str));
        add(Ty::Area, &mut reg.areas.keys().map(String::as_str));
        add(Ty::TargetClass, &mut reg.targets.keys().map(String::as_str));
        add(Ty::Purpose, &mut reg.purposes.keys().map(String::as_str));
        add(Ty::Category, &mut reg.categories.keys().map(|k| k.as_str()));
        add(Ty::Place, &mut reg.places.keys().map(|k| k.as_str()));
        add(Ty::Model, &mut reg.models.keys().map(|k| k.as_str()));
        let get = |ty: Ty, s: &str| index[ty as usize].get(s).copied();
        let place_anc = ancestors(
            reg.places.keys().map(|k| k.as_str()),
            |k| {
                reg.places
                    .get(k)
                    .and_then(|p| p.parent.as_ref())
                    .map(|p| p.as_str())
            },
            |k| get(Ty::Place, k),
        );
        let category_anc = ancestors(
            reg.categories.keys().map(|k| k.as_str()),
            |k| {
                reg.categories
                    .get(k)
                    .and_then(|p| p.parent.as_ref())
                    .map(|p| p.as_str())
            },
            |k| get(Ty::Category, k),
        );
        let term_anc = |terms: &std::collections::BTreeMap<String, crate::vocab::Term>, ty| {
            ancestors(
                terms.keys().map(String::as_str),
                |k| terms.get(k).and_then(|t| t.parent.as_deref()),
                |k| get(ty, k),
            )
        };
        let target_anc = term_anc(&reg.targets, Ty::TargetClass);
        let purpose_anc = term_anc(&reg.purposes, Ty::Purpose);
        let party_set = |m: &crate::register::ItemModel, kind: DependencyKind| -> Arc<[Val]> {
            m.dependencies
                .iter()
                .filter(|d| d.kind == kind)
                .filter_map(|d| get(Ty::Party, d.provider.as_str()))
                .map(|ix| Val::Ent(Ent { ty: Ty::Party, ix }))
                .collect()
        };
        let models = reg
            .models
            .values()
            .map(|m| {
                let mut anc = Vec::new();
                if let Some(c) = get(Ty::Category, m.category.as_str()) {
                    anc.push(c);
                    anc.extend(category_anc[c as usize].iter().copied());
                }
                ModelFacts {
                    origin: get(Ty::Party, m.origin.as_str()),
                    persistent: m.persistent,
                    ancestors: anc,
                    data: party_set(m, DependencyKind::Data),
                    component: party_set(m, DependencyKind::Component),
                    service: party_set(m, DependencyKind::Service),
                }
            })
            .collect();
        Self {
            parties: reg.parties.keys().cloned().collect(),
            party_kind: reg.parties.values().map(|p| kind_str(p.kind)).collect(),
            place_kind: reg.places.values().map(|p| kind_str(p.kind)).collect(),
            place_anc,
            category_anc,
            target_anc,
            purpose_anc,
            models,
            target_names: reg.targets.keys().map(|k| Arc::from(k.as_str())).collect(),
            empty: Arc::from(Vec::new()),
            dated_groups,
            index,
        }
    }

    /// The index of a register entity of a type other than `Lot`/`Action`.
    pub(crate) fn lookup(&self, ty: Ty, id: &str) -> Option<u32> {
        self.index.get(ty as usize).and_then(|m| m.get(id)).copied()
    }

    fn ent(&self, ty: Ty, id: &str) -> Option<Val> {
        self.lookup(ty, id).map(|ix| Val::Ent(Ent { ty, ix }))
    }
}

// ---- requests -----------------------------------------------------------------

/// A request, ready for the evaluator.
pub(crate) struct FastRequest<'a> {
    principal: Ent,
    action: Ent,
    resource: Ent,
    /// The lot the request is about: the only lot that exists as an entity.
    lot: Option<&'a Lot>,
    ctx: [Option<Val>; N_CTX],
    as_of: NaiveDate,
}

impl<'a> FastRequest<'a> {
    /// The request for `q` with `approvals` in the context, or `None` when
    /// it names an entity the register does not hold (Cedar then decides).
    /// `in_conflict` gives `recipient_in_conflict` and
    /// `destination_in_conflict`; `lot_ix` the index of a lot.
    pub(crate) fn new(
        facts: &Facts,
        reg: &'a Register,
        q: &Query,
        approvals: &[crate::ids::AuthorityId],
        lot_ix: impl Fn(&LotId) -> Option<u32>,
    ) -> Option<Self> {
        let principal = Ent {
            ty: Ty::Party,
            ix: facts.lookup(Ty::Party, q.actor.as_str())?,
        };
        let action = Ent {
            ty: Ty::Action,
            ix: u32::from(q.action.index()),
        };
        let (resource, lot) = match &q.item {
            ItemRef::Model(m) => (
                Ent {
                    ty: Ty::Model,
                    ix: facts.lookup(Ty::Model, m.as_str())?,
                },
                None,
            ),
            ItemRef::Lot(l) => (
                Ent {
                    ty: Ty::Lot,
                    ix: lot_ix(l)?,
                },
                Some(reg.lots.get(l)?),
            ),
        };
        let mut ctx: [Option<Val>; N_CTX] = Default::default();
        let mut put = |key: &str, v: Val| {
            if let Some(s) = ctx_slot(key) {
                ctx[s as usize] = Some(v);
            }
        };
        put(
            "approvals",
            Val::Set(if approvals.is_empty() {
                facts.empty.clone()
            } else {
                approvals
                    .iter()
                    .map(|a| Val::Str(a.shared().clone()))
                    .collect()
            }),
        );
        if let Some(p) = &q.place {
            put("place", facts.ent(Ty::Place, p.as_str())?);
        }
        if let Some(r) = &q.recipient {
            put("recipient", facts.ent(Ty::Party, r.as_str())?);
            put(
                "recipient_in_conflict",
                Val::Bool(reg.in_conflict(r, q.as_of)),
            );
        }
        if let Some(t) = &q.target_class {
            let shared = facts
                .lookup(Ty::TargetClass, t)
                .and_then(|i| facts.target_names.get(i as usize));
            put(
                "target_class",
                Val::Str(shared.cloned().unwrap_or_else(|| Arc::from(t.as_str()))),
            );
            if !reg.targets.is_empty() {
                put("target", facts.ent(Ty::TargetClass, t)?);
            }
        }
        if let Some(p) = &q.purpose {
            put("purpose", facts.ent(Ty::Purpose, p)?);
        }
        if let Some(d) = q.destination.as_ref().or(q.recipient.as_ref()) {
            put("destination", facts.ent(Ty::Party, d.as_str())?);
            put(
                "destination_in_conflict",
                Val::Bool(reg.in_conflict(d, q.as_of)),
            );
        }
        if let Some(areas) = &q.areas {
            let v: Option<Vec<Val>> = areas.iter().map(|a| facts.ent(Ty::Area, a)).collect();
            put("areas", Val::Set(v?.into()));
        }
        if let Some(c) = &q.controlled_by {
            put("controlled_by", facts.ent(Ty::Party, c.as_str())?);
        }
        if let Some(d) = q.border_distance_km {
            put("border_distance_km", Val::Long(d));
        }
        Some(Self {
            principal,
            action,
            resource,
            lot,
            ctx,
            as_of: q.as_of,
        })
    }
}

// ---- evaluation ---------------------------------------------------------------

type R = Result<Val, EvalError>;

fn as_bool(v: Val) -> Result<bool, EvalError> {
    match v {
        Val::Bool(b) => Ok(b),
        _ => Err(EvalError),
    }
}

fn as_long(v: &Val) -> Result<i64, EvalError> {
    match v {
        Val::Long(n) => Ok(*n),
        _ => Err(EvalError),
    }
}

fn as_set(v: &Val) -> Result<&Arc<[Val]>, EvalError> {
    match v {
        Val::Set(s) => Ok(s),
        _ => Err(EvalError),
    }
}

/// Cedar's `like`: `*` matches any run of characters.
fn like(s: &[char], pats: &[Pat]) -> bool {
    match pats.split_first() {
        None => s.is_empty(),
        Some((Pat::Lit(l), rest)) => s.starts_with(l) && like(&s[l.len()..], rest),
        Some((Pat::Any, rest)) => (0..=s.len()).any(|i| like(&s[i..], rest)),
    }
}

struct Eval<'a, 'r> {
    facts: &'a Facts,
    reg: &'a Register,
    rq: &'a FastRequest<'r>,
}

impl Eval<'_, '_> {
    /// Whether the entity is in the store Cedar would be given.
    fn exists(&self, e: Ent) -> bool {
        match e.ty {
            Ty::Lot => self.rq.lot.is_some() && e == self.rq.resource,
            // Every action of the schema is an entity; literals of others
            // were refused at compile time.
            _ => true,
        }
    }

    /// `a in b` for entities: equal, or `b` an ancestor of `a`.
    fn descends(&self, a: Ent, b: Ent) -> bool {
        if a == b {
            return true;
        }
        let anc = |v: &Vec<Vec<u32>>| v.get(a.ix as usize).is_some_and(|x| x.contains(&b.ix));
        match (a.ty, b.ty) {
            (Ty::Place, Ty::Place) => anc(&self.facts.place_anc),
            (Ty::Category, Ty::Category) => anc(&self.facts.category_anc),
            (Ty::TargetClass, Ty::TargetClass) => anc(&self.facts.target_anc),
            (Ty::Purpose, Ty::Purpose) => anc(&self.facts.purpose_anc),
            (Ty::Model, Ty::Category) => self
                .facts
                .models
                .get(a.ix as usize)
                .is_some_and(|m| m.ancestors.contains(&b.ix)),
            (Ty::Lot, Ty::Model | Ty::Category) if self.exists(a) => {
                let Some(m) = self.lot_model() else {
                    return false;
                };
                if b.ty == Ty::Model {
                    m == b.ix
                } else {
                    self.facts
                        .models
                        .get(m as usize)
                        .is_some_and(|f| f.ancestors.contains(&b.ix))
                }
            }
            (Ty::Party, Ty::Group) if self.facts.dated_groups => {
                let Some(p) = self.facts.parties.get(a.ix as usize) else {
                    return false;
                };
                let Some(g) = self.reg.groups.keys().nth(b.ix as usize) else {
                    return false;
                };
                self.reg.groups_of(p, self.rq.as_of).contains(&g.as_str())
            }
            _ => false,
        }
    }

    fn lot_model(&self) -> Option<u32> {
        let lot = self.rq.lot?;
        self.facts.lookup(Ty::Model, lot.model.as_str())
    }

    fn attr(&self, e: Ent, a: Attr) -> Option<Val> {
        let model = |ix: u32, persistent: Option<bool>| -> Option<Val> {
            let m = self.facts.models.get(ix as usize)?;
            Some(match a {
                Attr::Origin => Val::Ent(Ent {
                    ty: Ty::Party,
                    ix: m.origin?,
                }),
                Attr::Persistent => Val::Bool(persistent.unwrap_or(m.persistent)),
                Attr::DataProviders => Val::Set(m.data.clone()),
                Attr::ComponentProviders => Val::Set(m.component.clone()),
                Attr::ServiceProviders => Val::Set(m.service.clone()),
                _ => return None,
            })
        };
        match (e.ty, a) {
            (Ty::Party, Attr::Kind) => self
                .facts
                .party_kind
                .get(e.ix as usize)
                .map(|k| Val::Str(k.clone())),
            (Ty::Place, Attr::Kind) => self
                .facts
                .place_kind
                .get(e.ix as usize)
                .map(|k| Val::Str(k.clone())),
            (Ty::Model, _) => model(e.ix, None),
            (Ty::Lot, _) if self.exists(e) => {
                let lot = self.rq.lot?;
                let m = self.lot_model()?;
                match a {
                    Attr::Model => Some(Val::Ent(Ent {
                        ty: Ty::Model,
                        ix: m,
                    })),
                    Attr::Quantity => Some(Val::Long(
                        lot.quantity
                            .and_then(|q| i64::try_from(q).ok())
                            .unwrap_or(0),
                    )),
                    _ => model(m, lot.persistent),
                }
            }
            _ => None,
        }
    }

    fn eval(&self, n: &Node) -> R {
        match n {
            Node::Lit(v) => Ok(v.clone()),
            Node::Var(v) => Ok(Val::Ent(match v {
                Var::Principal => self.rq.principal,
                Var::Action => self.rq.action,
                Var::Resource => self.rq.resource,
            })),
            Node::Ctx(slot) => slot
                .and_then(|s| self.rq.ctx[s as usize].clone())
                .ok_or(EvalError),
            Node::CtxHas(slot) => Ok(Val::Bool(
                slot.is_some_and(|s| self.rq.ctx[s as usize].is_some()),
            )),
            Node::Not(a) => Ok(Val::Bool(!self.eval_bool(a)?)),
            Node::Neg(a) => as_long(&self.eval(a)?)?
                .checked_neg()
                .map(Val::Long)
                .ok_or(EvalError),
            Node::IsEmpty(a) => Ok(Val::Bool(as_set(&self.eval(a)?)?.is_empty())),
            Node::And(a, b) => Ok(Val::Bool(self.eval_bool(a)? && self.eval_bool(b)?)),
            Node::Or(a, b) => Ok(Val::Bool(self.eval_bool(a)? || self.eval_bool(b)?)),
            Node::If(c, t, e) => {
                if self.eval_bool(c)? {
                    self.eval(t)
                } else {
                    self.eval(e)
                }
            }
            Node::Bin(op, a, b) => {
                let (x, y) = (self.eval(a)?, self.eval(b)?);
                self.bin(*op, x, y)
            }
            Node::Attr(a, attr) => match self.eval(a)? {
                Val::Ent(e) => self.attr(e, *attr).ok_or(EvalError),
                _ => Err(EvalError),
            },
            Node::Has(a, attr) => match self.eval(a)? {
                Val::Ent(e) => Ok(Val::Bool(self.attr(e, *attr).is_some())),
                _ => Err(EvalError),
            },
            Node::Like(a, pats) => match self.eval(a)? {
                Val::Str(s) => {
                    let chars: Vec<char> = s.chars().collect();
                    Ok(Val::Bool(like(&chars, pats)))
                }
                _ => Err(EvalError),
            },
            Node::Is(a, ty) => match self.eval(a)? {
                Val::Ent(e) => Ok(Val::Bool(e.ty == *ty)),
                _ => Err(EvalError),
            },
            Node::Set(items) => {
                let v: Result<Vec<Val>, EvalError> = items.iter().map(|x| self.eval(x)).collect();
                Ok(Val::Set(v?.into()))
            }
            Node::VarEq(v, e) => Ok(Val::Bool(self.var(*v) == *e)),
            Node::VarIn(v, e) => Ok(Val::Bool(self.descends(self.var(*v), *e))),
            Node::CtxIn(slot, e) => match self.ctx(*slot)? {
                Val::Ent(a) => Ok(Val::Bool(self.descends(*a, *e))),
                _ => Err(EvalError),
            },
            Node::CtxContains(slot, lit) => match self.ctx(*slot)? {
                Val::Set(s) => Ok(Val::Bool(s.contains(lit))),
                _ => Err(EvalError),
            },
            Node::CtxCmp(slot, op, n, lit_first) => {
                let x = as_long(self.ctx(*slot)?)?;
                let (a, b) = if *lit_first { (*n, x) } else { (x, *n) };
                Ok(Val::Bool(match op {
                    Bin::Less => a < b,
                    _ => a <= b,
                }))
            }
        }
    }

    /// `as_bool(self.eval(n))`, without building the values of the boolean
    /// nodes (the commonest): the same answers and the same errors, in the
    /// same order.
    fn eval_bool(&self, n: &Node) -> Result<bool, EvalError> {
        match n {
            Node::Lit(Val::Bool(b)) => Ok(*b),
            Node::Not(a) => Ok(!self.eval_bool(a)?),
            Node::And(a, b) => Ok(self.eval_bool(a)? && self.eval_bool(b)?),
            Node::Or(a, b) => Ok(self.eval_bool(a)? || self.eval_bool(b)?),
            Node::VarEq(v, e) => Ok(self.var(*v) == *e),
            Node::VarIn(v, e) => Ok(self.descends(self.var(*v), *e)),
            Node::CtxHas(slot) => Ok(slot.is_some_and(|s| self.rq.ctx[s as usize].is_some())),
            Node::CtxIn(slot, e) => match self.ctx(*slot)? {
                Val::Ent(a) => Ok(self.descends(*a, *e)),
                _ => Err(EvalError),
            },
            Node::CtxContains(slot, lit) => match self.ctx(*slot)? {
                Val::Set(s) => Ok(s.contains(lit)),
                _ => Err(EvalError),
            },
            Node::CtxCmp(slot, op, n, lit_first) => {
                let x = as_long(self.ctx(*slot)?)?;
                let (a, b) = if *lit_first { (*n, x) } else { (x, *n) };
                Ok(match op {
                    Bin::Less => a < b,
                    _ => a <= b,
                })
            }
            other => as_bool(self.eval(other)?),
        }
    }

    fn var(&self, v: Var) -> Ent {
        match v {
            Var::Principal => self.rq.principal,
            Var::Action => self.rq.action,
            Var::Resource => self.rq.resource,
        }
    }

    /// `context.key`, borrowed: an error when the request lacks it.
    fn ctx(&self, slot: Option<u8>) -> Result<&Val, EvalError> {
        slot.and_then(|s| self.rq.ctx[s as usize].as_ref())
            .ok_or(EvalError)
    }

    fn bin(&self, op: Bin, x: Val, y: Val) -> R {
        let arith = |f: fn(i64, i64) -> Option<i64>| -> R {
            f(as_long(&x)?, as_long(&y)?)
                .map(Val::Long)
                .ok_or(EvalError)
        };
        Ok(Val::Bool(match op {
            Bin::Eq => x == y,
            Bin::Less => as_long(&x)? < as_long(&y)?,
            Bin::LessEq => as_long(&x)? <= as_long(&y)?,
            Bin::Add => return arith(i64::checked_add),
            Bin::Sub => return arith(i64::checked_sub),
            Bin::Mul => return arith(i64::checked_mul),
            Bin::In => {
                let Val::Ent(a) = x else {
                    return Err(EvalError);
                };
                match &y {
                    Val::Ent(b) => self.descends(a, *b),
                    Val::Set(s) => {
                        // Cedar checks every element is an entity first.
                        let mut ents = Vec::with_capacity(s.len());
                        for v in s.iter() {
                            match v {
                                Val::Ent(b) => ents.push(*b),
                                _ => return Err(EvalError),
                            }
                        }
                        ents.into_iter().any(|b| self.descends(a, b))
                    }
                    _ => return Err(EvalError),
                }
            }
            Bin::Contains => as_set(&x)?.contains(&y),
            Bin::ContainsAll => {
                let (a, b) = (as_set(&x)?, as_set(&y)?);
                b.iter().all(|v| a.contains(v))
            }
            Bin::ContainsAny => {
                let (a, b) = (as_set(&x)?, as_set(&y)?);
                b.iter().any(|v| a.contains(v))
            }
        }))
    }
}

impl Compiled {
    /// Whether the probe is satisfied (`Ok(true)`), not (`Ok(false)`), or
    /// errors, as Cedar would find.
    pub(crate) fn eval(
        &self,
        facts: &Facts,
        reg: &Register,
        rq: &FastRequest<'_>,
    ) -> Result<bool, EvalError> {
        Eval { facts, reg, rq }.eval_bool(&self.root)
    }
}
