//! The engine: finds the parties whose conditions bind a request, selects
//! each party's rules in force and known on the request's dates, evaluates
//! them with Cedar party by party, and composes the answers.

use crate::date::DateSpec;
use crate::decision::{
    ApprovalNeed, ChainLink, Decision, Outcome, PartyDecision, Role, RuleRef, SourceRef,
};
use crate::decision::{Citation, CitationKind, DisputedOutcome};
use crate::ids::{AuthorityId, CategoryId, LotId, ModelId, PartyId, PlaceCode, RuleId, TransferId};
use crate::problem::{Origin, Problem};
use crate::query::{suggest, Action, ItemRef, Query, RequestError};
use crate::register::{ItemModel, Register};
use crate::rule::{Rule, RuleEffect};
use crate::vocab::{Consent, DefaultEffect, PartyDefault, Status};
use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use chrono::NaiveDate;
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use crate::fxhash::FxMap;

/// Which resources a rule's scope names; used to pick candidate rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ResKey {
    Any,
    Model(u32),
    Category(u32),
    Lot(u32),
}

const ANY_ACTION: u8 = u8::MAX;

/// The slot of an action (or of `ANY_ACTION`) in a key's buckets.
fn slot(a: u8) -> usize {
    if a == ANY_ACTION {
        Action::ALL.len()
    } else {
        usize::from(a)
    }
}

/// The rules of one resource key.
#[derive(Debug, Default)]
struct KeyBuckets {
    /// Per action, then the rules for any action (last): one hash probe per
    /// key instead of one per (action, key).
    by_action: [Bucket; Action::ALL.len() + 1],
    /// Every member of any of them, sorted and without repeats (the count
    /// of rules on record of a chain link is read on every decision).
    all: Vec<u32>,
}

impl std::ops::Index<usize> for KeyBuckets {
    type Output = Bucket;
    fn index(&self, i: usize) -> &Bucket {
        &self.by_action[i]
    }
}

type Buckets = FxMap<ResKey, KeyBuckets>;

/// Rules of one bucket, cut into epochs: `epochs[i]` holds the rules in force
/// from `epochs[i].0` until the next epoch's start.
#[derive(Debug, Default)]
struct Bucket {
    epochs: Vec<(NaiveDate, Vec<u32>)>,
    /// Every member, at any time.
    all: Vec<u32>,
    /// Members with an imprecise start or end.
    fuzzy: Vec<u32>,
}

impl Bucket {
    fn build(rules: &[Rule], members: &[u32]) -> Self {
        let mut cuts: BTreeSet<NaiveDate> = BTreeSet::new();
        for &m in members {
            let r = &rules[m as usize];
            cuts.insert(r.effective_start());
            if let Some(e) = r.effective_end() {
                cuts.insert(e);
            }
        }
        let epochs = cuts
            .into_iter()
            .map(|d| {
                let live = members
                    .iter()
                    .copied()
                    .filter(|&m| rules[m as usize].in_force(d))
                    .collect();
                (d, live)
            })
            .collect();
        let fuzzy = members
            .iter()
            .copied()
            .filter(|&m| {
                let r = &rules[m as usize];
                !r.valid_from.is_precise() || r.valid_to.is_some_and(|t| !t.is_precise())
            })
            .collect();
        Self {
            epochs,
            all: members.to_vec(),
            fuzzy,
        }
    }

    fn in_force(&self, d: NaiveDate) -> &[u32] {
        let i = self.epochs.partition_point(|(start, _)| *start <= d);
        if i == 0 {
            &[]
        } else {
            &self.epochs[i - 1].1
        }
    }
}

/// A loaded, validated register with its rules, ready to decide.
pub struct Engine {
    register: Register,
    rules: Vec<Rule>,
    by_id: FxMap<RuleId, u32>,
    /// Per owner: rules by resource key and action.
    index: FxMap<PartyId, Buckets>,
    /// Per owner: all its rules (for listings).
    by_owner: HashMap<PartyId, Vec<u32>>,
    /// Per owner: (superseded rule, successor, the successor's public day)
    /// (the day inline: the revival check runs on every decision).
    superseded: FxMap<PartyId, Vec<(u32, u32, NaiveDate)>>,
    model_ix: FxMap<ModelId, u32>,
    category_ix: FxMap<CategoryId, u32>,
    lot_ix: FxMap<LotId, u32>,
    /// The Cedar schema, the register's Cedar entities and the entity type
    /// names. Only the fall-back to Cedar needs them (the fast evaluator
    /// reads the register), so an engine of trusted data builds them on
    /// first use; [`Checks::Full`] builds them at once, to report problems.
    cedar: std::sync::OnceLock<Result<CedarParts, String>>,
    /// The schema's text, for [`Engine::cedar`].
    schema_src: String,
    authorizer: Authorizer,
    /// Per rule, a permit with the same scope and condition. Evaluating the
    /// probes of every binding party in one Cedar call tells which rules are
    /// satisfied and which fail to evaluate; each party's outcome is then
    /// composed from its own rules' effects.
    /// Built on first use: most rules of a large register are never asked.
    probes: Vec<std::sync::OnceLock<Result<cedar_policy::Policy, String>>>,
    /// Entities with one lot added, for requests about that lot.
    lot_entities: std::sync::RwLock<EntityCache>,
    /// Days on which some group membership begins or ends, in order.
    group_days: Vec<NaiveDate>,
    /// Whether any fact is disputed (a decision is then also made as if
    /// the disputed facts held).
    has_disputed: bool,
    /// Lots of each model, and transfers of each lot in date order: the
    /// chain walk runs on every decision.
    lots_of_model: FxMap<ModelId, Vec<LotId>>,
    transfers_of_lot: FxMap<LotId, Vec<crate::ids::TransferId>>,
    /// Policy sets of probes, by the rules they hold. The same few sets come
    /// back for every request about the same item, parties and epoch.
    psets: std::sync::RwLock<HashMap<Vec<u32>, std::sync::Arc<PolicySet>>>,
    /// The register as the fast evaluator reads it.
    facts: crate::fast::Facts,
    /// Per rule, its probe compiled for the fast evaluator (`None`: it uses
    /// a construct outside the fast path, and Cedar evaluates it). Built on
    /// first use, as the probes are.
    compiled: Vec<std::sync::OnceLock<Option<crate::fast::Compiled>>>,
    /// Per model (by `model_ix`), the resource keys of a request about it:
    /// any, the model, its categories.
    model_keys: Vec<Vec<ResKey>>,
    /// Per rule, its citation, built on first use.
    cites: Vec<std::sync::OnceLock<RuleRef>>,
    /// What every decision reads of the register, in the form a decision
    /// holds it (shared names), built on the first decision.
    prepared: std::sync::OnceLock<Prepared>,
}

/// Per-register data of the decision path, derived once from the
/// (immutable) register: a decision then copies pointers instead of
/// building strings, and looks up instead of scanning.
struct Prepared {
    /// Per party, what a decision reads of it: one probe per party.
    parties: FxMap<PartyId, PartyPrep>,
    /// "Party / authority", for approvals and reasons.
    authorities: FxMap<AuthorityId, Arc<str>>,
    /// Per model (by `model_ix`), its category and the broader ones.
    categories: Vec<Vec<CategoryId>>,
    /// Per model (by `model_ix`), what each of its dependencies provides,
    /// shared by the provider roles of every decision.
    provides: Vec<Vec<Arc<str>>>,
    /// Per lot (by `lot_ix`), its transfers in date order as the chain walk
    /// reads them (no map look-up per transfer on every decision). Filled
    /// on a lot's first decision: a register of a million transfers is
    /// opened for one question, and preparing every lot would cost more
    /// than the open itself.
    hops: Vec<std::sync::OnceLock<Box<[Hop]>>>,
    /// The transfers a declared default attaches to.
    conditioned: FxMap<TransferId, ()>,
    /// Every authority id of the register (a query's approvals are checked
    /// on every decision).
    authority_ids: FxMap<AuthorityId, ()>,
    /// Per authority of the register, the number of the one at the top of
    /// its chain of `acts_for` (equal numbers, equal roots), and its party.
    roots: FxMap<AuthorityId, (u32, PartyId)>,
}

/// What a decision reads of a party.
struct PartyPrep {
    /// Its name, shared by every chain link and party decision.
    name: Arc<str>,
    /// For a company, its home state where known.
    company: Option<Option<PartyId>>,
    /// Its superseded rules, by the successor's public day (see
    /// [`Engine::revived`]), with the dates the test reads.
    revivals: Vec<Revival>,
}

/// A superseded rule and the dates that tell whether it is revived.
struct Revival {
    old: u32,
    /// The successor's public day.
    public: NaiveDate,
    /// The superseded rule's public day, start and end (as in force).
    old_known: NaiveDate,
    old_start: NaiveDate,
    old_end: Option<NaiveDate>,
}

impl Revival {
    /// [`Engine::revived`]'s test (the successor not yet public is the
    /// caller's cut on `public`).
    fn revives(&self, as_of: NaiveDate, known_at: NaiveDate) -> bool {
        let in_force = self.old_start <= as_of && self.old_end.is_none_or(|e| as_of < e);
        self.public > known_at && self.old_known <= known_at && self.old_start <= as_of && !in_force
    }
}

/// A transfer as the chain walk reads it.
struct Hop {
    id: TransferId,
    from: PartyId,
    to: PartyId,
    status: Status,
    first: Option<NaiveDate>,
    /// The sender attached conditions (rules named on the transfer, or a
    /// declared default attached to it).
    attached: bool,
}

impl Prepared {
    fn new(
        reg: &Register,
        lots: usize,
        superseded: &FxMap<PartyId, Vec<(u32, u32, NaiveDate)>>,
        rules: &[Rule],
    ) -> Self {
        let conditioned: FxMap<TransferId, ()> = reg
            .defaults
            .iter()
            .flat_map(|d| d.transfers.iter())
            .map(|t| (t.clone(), ()))
            .collect();
        let hops = (0..lots).map(|_| std::sync::OnceLock::new()).collect();
        let revivals = |p: &PartyId| -> Vec<Revival> {
            superseded
                .get(p)
                .into_iter()
                .flatten()
                .filter_map(|&(old, new, public)| {
                    let (o, n) = (rules.get(old as usize)?, rules.get(new as usize)?);
                    Some(Revival {
                        old,
                        // The successor's own public day, as `known_on` reads it.
                        public: n.recorded_at.max(public),
                        old_known: o.recorded_at,
                        old_start: o.effective_start(),
                        old_end: o.effective_end(),
                    })
                })
                .collect()
        };
        Self {
            hops,
            conditioned,
            parties: reg
                .parties
                .iter()
                .map(|(id, p)| {
                    let prep = PartyPrep {
                        name: Arc::from(p.name.as_str()),
                        company: (p.kind == crate::register::PartyKind::Company)
                            .then(|| p.country.clone()),
                        revivals: revivals(id),
                    };
                    (id.clone(), prep)
                })
                .collect(),
            authority_ids: reg
                .parties
                .values()
                .flat_map(|p| p.authorities.iter().map(|a| (a.id.clone(), ())))
                .collect(),
            roots: {
                let mut numbers: FxMap<AuthorityId, u32> = FxMap::default();
                reg.parties
                    .values()
                    .flat_map(|p| p.authorities.iter())
                    .flat_map(|a| [Some(&a.id), a.acts_for.as_ref()])
                    .flatten()
                    .map(|a| {
                        let next = numbers.len() as u32;
                        let root = *numbers.entry(reg.authority_root(a)).or_insert(next);
                        (a.clone(), (root, a.party()))
                    })
                    .collect()
            },
            authorities: reg
                .parties
                .values()
                .flat_map(|p| {
                    // Found through the party its id names, as it always was.
                    p.authorities
                        .iter()
                        .filter(move |x| x.id.party() == p.id)
                        .map(move |x| {
                            let name = format!("{} / {}", p.name, x.name);
                            (x.id.clone(), Arc::from(name))
                        })
                })
                .collect(),
            categories: reg
                .models
                .values()
                .map(|m| reg.category_chain(&m.category))
                .collect(),
            provides: reg
                .models
                .values()
                .map(|m| {
                    m.dependencies
                        .iter()
                        .map(|d| Arc::from(d.what.as_str()))
                        .collect()
                })
                .collect(),
        }
    }
}

/// The resource keys of a request (any, the model, its few categories,
/// the lot).
type Keys = SmallVec<[ResKey; 8]>;

/// The parties of a chain with their roles, in the order found.
type Links = SmallVec<[(PartyId, Vec<Role>); 6]>;

/// The facts of the request context a query supplies: a set of the
/// context's keys (`fast::CONTEXT_KEYS`), one bit each.
#[derive(Debug, Clone, Copy, Default)]
struct Provided(u16);

impl Provided {
    fn add(&mut self, bits: u16) {
        self.0 |= bits;
    }

    /// Whether the query supplies context key `key`.
    fn contains(self, key: &str) -> bool {
        self.0 & key_bit(key) != 0
    }
}

/// The bit of a context key in [`Provided`] (none for a key the engine
/// never fills).
const fn key_bit(key: &str) -> u16 {
    let keys = crate::fast::CONTEXT_KEYS;
    let mut i = 0;
    while i < keys.len() {
        let (a, b) = (keys[i].as_bytes(), key.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return 1 << i;
            }
        }
        i += 1;
    }
    0
}

/// Rule numbers of one party for one request (a handful).
type Picked = SmallVec<[u32; 16]>;

/// The index entries of one party for a request's resource keys, found
/// once (one probe of the party, one per key) and read by every step of
/// the party's selection: its rules on record, in force, of uncertain
/// dates, and in scope at any time.
struct PartyIndex<'e> {
    found: SmallVec<[&'e KeyBuckets; 4]>,
    /// The party's prepared data, when the caller has it at hand.
    prep: Option<&'e PartyPrep>,
}

impl<'e> PartyIndex<'e> {
    /// The members of the buckets of `actions`, picked by `f`, sorted and
    /// without repeats.
    fn gather(&self, actions: [u8; 2], f: impl Fn(&'e Bucket) -> &'e [u32]) -> Picked {
        let mut out = Picked::new();
        for b in &self.found {
            for a in actions {
                // A few members each: element by element beats a `memcpy`
                // call per bucket.
                out.extend(f(&b[slot(a)]).iter().copied());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Rules in force on `as_of` whose scope can match `action`.
    fn in_force(&self, action: Action, as_of: NaiveDate) -> Picked {
        self.gather([action.index(), ANY_ACTION], |b| b.in_force(as_of))
    }

    /// Whether any rule is in force on `as_of` for `action`.
    fn any_in_force(&self, action: Action, as_of: NaiveDate) -> bool {
        self.found.iter().any(|b| {
            [action.index(), ANY_ACTION]
                .iter()
                .any(|&a| !b[slot(a)].in_force(as_of).is_empty())
        })
    }

    /// How many rules can match, at any time and for any action.
    fn count_all(&self) -> usize {
        let mut found = self.found.iter().filter(|b| !b.all.is_empty());
        match (found.next(), found.next()) {
            (None, _) => 0,
            (Some(one), None) => one.all.len(),
            _ => {
                let mut all: Vec<u32> = self
                    .found
                    .iter()
                    .flat_map(|b| b.all.iter().copied())
                    .collect();
                all.sort_unstable();
                all.dedup();
                all.len()
            }
        }
    }
}

/// The rules of one party that fired (a handful).
type Rules<'a> = SmallVec<[&'a Rule; 4]>;

/// What evaluating with Cedar needs besides the policies.
struct CedarParts {
    schema: Schema,
    types: Types,
    /// The register's entities with no group membership: what a request
    /// about a model uses when no membership is dated (otherwise each
    /// request builds those of its day), so built on first use too.
    entities: std::sync::OnceLock<Result<Entities, String>>,
}

impl CedarParts {
    fn entities(&self, register: &Register) -> Result<&Entities, RequestError> {
        self.entities
            .get_or_init(|| {
                build_entities(register, &self.schema, None)
                    .map_err(|e| format!("the register does not fit the cedar schema: {e}"))
            })
            .as_ref()
            .map_err(|e| RequestError::Internal(format!("cedar cannot evaluate the rules: {e}")))
    }
}

/// Entity sets by (group-membership epoch, lot).
type EntityCache = HashMap<(Option<usize>, Option<LotId>), std::sync::Arc<Entities>>;

/// Beyond this many cached policy sets the cache starts afresh.
const PSET_CACHE_MAX: usize = 4096;

/// Beyond this many cached per-lot entity sets the cache starts afresh.
const LOT_CACHE_MAX: usize = 1024;

/// How much [`Engine::with_checks`] verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// Every reference, every rule against the register, and every rule
    /// against the Cedar schema in strict mode: for data from outside.
    Full,
    /// Only what building the engine needs: for a register that passed
    /// `Full` when it was written (a store validates every write), so that
    /// opening a large one is fast.
    Trusted,
}

/// Entity type names, parsed once.
struct Types {
    party: EntityTypeName,
    place: EntityTypeName,
    model: EntityTypeName,
    lot: EntityTypeName,
    action: EntityTypeName,
    target: EntityTypeName,
    purpose: EntityTypeName,
    area: EntityTypeName,
}

impl Types {
    fn new() -> Result<Self, String> {
        let t = |s: &str| EntityTypeName::from_str(s).map_err(|e| e.to_string());
        Ok(Self {
            party: t("Party")?,
            place: t("Place")?,
            model: t("Model")?,
            lot: t("Lot")?,
            action: t("Action")?,
            target: t("TargetClass")?,
            purpose: t("Purpose")?,
            area: t("Area")?,
        })
    }
}

/// What a party's decision needs besides its own rules.
struct PartyCtx<'a> {
    q: &'a Query,
    first: &'a Probe,
    second: Option<&'a Probe>,
    provided: Provided,
    /// Authorities whose approval counts as given.
    effective: &'a [AuthorityId],
    /// Recorded decisions of authorities that cover the request.
    covering: &'a [&'a Consent],
    use_disputed: bool,
}

/// What one evaluation of probes found.
#[derive(Default)]
struct Probe {
    /// Satisfied rules (a handful: a list beats a hash set).
    fired: Picked,
    errored: FxMap<u32, String>,
    /// Rules the fast evaluator could not take (outside its subset, or the
    /// request names an entity the register lacks).
    skipped: Vec<u32>,
}

/// Which evaluator [`Engine::evaluate_rules`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalPath {
    /// As [`Engine::decide`] does: the fast evaluator, with Cedar for the
    /// rules outside its subset and for the rules that error.
    Engine,
    /// The fast evaluator alone: rules outside its subset are left out
    /// (listed in [`RuleEvaluation::not_fast`]), errors are its own.
    FastOnly,
    /// Cedar alone (`Authorizer::is_authorized` over the probes).
    CedarOnly,
}

/// The result of [`Engine::evaluate_rules`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleEvaluation {
    /// Rules whose scope and condition hold.
    pub satisfied: BTreeSet<RuleId>,
    /// Rules whose condition could not be evaluated.
    pub errored: BTreeSet<RuleId>,
    /// The rules the fast evaluator did not take (outside its subset, or
    /// all of them when the request names an entity the register lacks).
    pub not_fast: BTreeSet<RuleId>,
}

fn uid(ty: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(ty).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

/// The problems Cedar's strict validation finds in `rules` against the
/// validator's schema. Each policy is validated on its own, so that rules
/// may be validated a batch at a time with the same result.
pub(crate) fn schema_problems(validator: &Validator, rules: &[Rule]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let by_id: FxMap<&RuleId, u32> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (&r.id, i as u32))
        .collect();
    let Ok(pset) =
        PolicySet::from_policies(rules.iter().filter_map(|r| r.policy.get().ok().cloned()))
    else {
        return problems;
    };
    let result = validator.validate(&pset, ValidationMode::Strict);
    for e in result.validation_errors() {
        let id = RuleId::new(e.policy_id().to_string());
        let origin = by_id
            .get(&id)
            .and_then(|&i| rules.get(i as usize))
            .map(|r| Origin::File {
                file: r.file.clone(),
                span: Some(r.span.clone()),
            })
            .unwrap_or(Origin::File {
                file: "policies".into(),
                span: None,
            });
        let help = miette::Diagnostic::help(e).map(|h| h.to_string());
        problems.push(
            Problem::new(origin, format!("rule `{id}` fails schema validation: {e}"))
                .with_help(help),
        );
    }
    problems
}

impl Engine {
    /// Checks the register and rules against each other and against the Cedar
    /// schema, and builds the indexes. Every problem found is returned.
    pub fn new(
        register: Register,
        rules: Vec<Rule>,
        schema_src: &str,
    ) -> Result<Self, Vec<Problem>> {
        Self::with_checks(register, rules, schema_src, Checks::Full)
    }

    /// [`Engine::new`], verifying as much as `checks` says.
    pub fn with_checks(
        register: Register,
        rules: Vec<Rule>,
        schema_src: &str,
        checks: Checks,
    ) -> Result<Self, Vec<Problem>> {
        let full = checks == Checks::Full;
        let mut problems = Vec::new();
        if full {
            problems.extend(crate::check::check_register(&register));
            problems.extend(crate::check::check_rules(&register, &rules));
        }
        // The indexes over the lots and the transfers are the largest part
        // of building the engine of a large register, and read nothing
        // else: they are built on other cores meanwhile, on the two tables
        // moved out of the register for that time.
        let mut register = register;
        let lot_side = aside(std::mem::take(&mut register.lots), |lots| {
            crate::register::index_lots(lots)
        });
        let transfer_side = aside(std::mem::take(&mut register.transfers), |transfers| {
            crate::register::index_transfers(transfers)
        });

        // One order whatever the source: a store returns rules by id, files
        // by position, and answers must not depend on which was read.
        let mut rules = rules;
        rules.sort_by(|a, b| (&a.owner, &a.id).cmp(&(&b.owner, &b.id)));
        // Trusted data passed these checks when it was written, and the
        // schema and entities serve only the fall-back to Cedar: they are
        // built when a decision first needs them.
        if !full {
            return Self::build(
                register,
                (lot_side, transfer_side),
                rules,
                schema_src,
                std::sync::OnceLock::new(),
            );
        }
        let schema = match Schema::from_cedarschema_str(schema_src) {
            Ok((s, _warnings)) => Some(s),
            Err(e) => {
                let span = miette::Diagnostic::labels(&e)
                    .and_then(|mut l| l.next())
                    .map(|l| l.offset()..l.offset() + l.len().max(1));
                problems.push(Problem::new(
                    Origin::File {
                        file: "schema.cedarschema".into(),
                        span,
                    },
                    format!("invalid cedar schema: {e}"),
                ));
                None
            }
        };

        if let Some(schema) = schema.as_ref() {
            problems.extend(schema_problems(&Validator::new(schema.clone()), &rules));
        }

        let entities = match &schema {
            Some(schema) => match build_entities(&register, schema, None) {
                Ok(e) => Some(e),
                Err(msg) => {
                    problems.push(Problem::new(
                        Origin::File {
                            file: "schema.cedarschema".into(),
                            span: None,
                        },
                        format!("the register does not fit the cedar schema: {msg}"),
                    ));
                    None
                }
            },
            None => None,
        };

        if !problems.is_empty() {
            return Err(problems);
        }
        let (Some(entities), Some(schema)) = (entities, schema) else {
            return Err(problems);
        };
        let types = Types::new().map_err(|e| {
            vec![Problem::new(
                Origin::File {
                    file: "schema.cedarschema".into(),
                    span: None,
                },
                e,
            )]
        })?;
        let cedar = std::sync::OnceLock::from(Ok(CedarParts {
            schema,
            types,
            entities: std::sync::OnceLock::from(Ok(entities)),
        }));
        Self::build(
            register,
            (lot_side, transfer_side),
            rules,
            schema_src,
            cedar,
        )
    }

    /// Builds the indexes of a checked register; `rules` are in engine
    /// order (by owner, then id).
    fn build(
        mut register: Register,
        (lot_side, transfer_side): (LotSide, TransferSide),
        rules: Vec<Rule>,
        schema_src: &str,
        cedar: std::sync::OnceLock<Result<CedarParts, String>>,
    ) -> Result<Self, Vec<Problem>> {
        let mut by_id = FxMap::default();
        for (i, r) in rules.iter().enumerate() {
            by_id.insert(r.id.clone(), i as u32);
        }
        let model_ix: FxMap<ModelId, u32> = register
            .models
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        let category_ix: FxMap<CategoryId, u32> = register
            .categories
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        let Some((lots, (lot_ix, lots_of_model))) = lot_side.join() else {
            return Err(index_stopped());
        };
        register.lots = lots;

        let mut raw: HashMap<PartyId, HashMap<(u8, ResKey), Vec<u32>>> = HashMap::new();
        let mut by_owner: HashMap<PartyId, Vec<u32>> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            let i = i as u32;
            by_owner.entry(r.owner.clone()).or_default().push(i);
            let actions: Vec<u8> = match &r.header.actions {
                None => vec![ANY_ACTION],
                Some(v) => v
                    .iter()
                    .filter_map(|a| Action::parse(a).map(Action::index))
                    .collect(),
            };
            let res = match &r.header.resource {
                Some((ty, id)) => {
                    let id = id.clone();
                    match ty.as_str() {
                        "Model" => model_ix.get(&ModelId::new(id)).map(|&m| ResKey::Model(m)),
                        "Category" => category_ix
                            .get(&CategoryId::new(id))
                            .map(|&c| ResKey::Category(c)),
                        "Lot" => lot_ix.get(&LotId::new(id)).map(|&l| ResKey::Lot(l)),
                        _ => Some(ResKey::Any),
                    }
                }
                None => Some(ResKey::Any),
            };
            // check_rules refused unknown literals (now, or when a store
            // accepted the register), so `None` cannot occur here.
            let Some(res) = res else { continue };
            let owner = raw.entry(r.owner.clone()).or_default();
            for a in actions {
                owner.entry((a, res)).or_default().push(i);
            }
        }
        let mut superseded: FxMap<PartyId, Vec<(u32, u32, NaiveDate)>> = FxMap::default();
        for (i, r) in rules.iter().enumerate() {
            if let Some(old) = r.supersedes.as_ref().and_then(|o| by_id.get(o)) {
                superseded.entry(r.owner.clone()).or_default().push((
                    *old,
                    i as u32,
                    r.recorded_at,
                ));
            }
        }
        for pairs in superseded.values_mut() {
            pairs.sort_by_key(|&(_, _, public)| public);
        }
        let index = raw
            .into_iter()
            .map(|(p, buckets)| {
                let mut b = Buckets::default();
                for ((a, k), members) in buckets {
                    let kb = b.entry(k).or_default();
                    kb.all.extend_from_slice(&members);
                    kb.by_action[slot(a)] = Bucket::build(&rules, &members);
                }
                for kb in b.values_mut() {
                    kb.all.sort_unstable();
                    kb.all.dedup();
                }
                (p, b)
            })
            .collect();

        let probes = rules.iter().map(|_| std::sync::OnceLock::new()).collect();
        let Some((transfers, (transfers_of_lot, disputed_transfer))) = transfer_side.join() else {
            return Err(index_stopped());
        };
        register.transfers = transfers;
        let mut group_days: Vec<NaiveDate> = register
            .groups
            .values()
            .flat_map(|g| g.members.iter())
            .flat_map(|m| [Some(m.from.latest()), m.to.map(|t| t.earliest())])
            .flatten()
            .collect();
        group_days.sort_unstable();
        group_days.dedup();
        let has_disputed = rules.iter().any(|r| r.status == Status::Disputed)
            || register
                .consents
                .iter()
                .any(|c| c.status == Status::Disputed)
            || register
                .defaults
                .iter()
                .any(|d| d.status == Status::Disputed)
            || disputed_transfer
            || register
                .treaties
                .values()
                .any(|t| t.steps.iter().any(|x| x.status == Status::Disputed));
        let facts = crate::fast::Facts::new(&register, !group_days.is_empty());
        let compiled = rules.iter().map(|_| std::sync::OnceLock::new()).collect();
        let cites = rules.iter().map(|_| std::sync::OnceLock::new()).collect();
        let keys_of = |model: &ItemModel| {
            let mut keys = vec![ResKey::Any];
            if let Some(&m) = model_ix.get(&model.id) {
                keys.push(ResKey::Model(m));
            }
            for c in register.category_chain(&model.category) {
                if let Some(&c) = category_ix.get(&c) {
                    keys.push(ResKey::Category(c));
                }
            }
            keys
        };
        let model_keys = register.models.values().map(keys_of).collect();
        Ok(Self {
            model_keys,
            cites,
            facts,
            compiled,
            has_disputed,
            group_days,
            lots_of_model,
            transfers_of_lot,
            psets: std::sync::RwLock::new(HashMap::new()),
            register,
            rules,
            by_id,
            index,
            by_owner,
            superseded,
            model_ix,
            category_ix,
            lot_ix,
            cedar,
            schema_src: schema_src.to_owned(),
            authorizer: Authorizer::new(),
            probes,
            lot_entities: std::sync::RwLock::new(HashMap::new()),
            prepared: std::sync::OnceLock::new(),
        })
    }

    /// The transfers of `lot` in date order, as the chain walk reads them;
    /// prepared on the lot's first decision.
    fn hops(&self, lot: &LotId) -> &[Hop] {
        let prepared = self.prepared();
        let Some(cell) = self
            .lot_ix
            .get(lot)
            .and_then(|&i| prepared.hops.get(i as usize))
        else {
            return &[];
        };
        cell.get_or_init(|| {
            let ts = self
                .transfers_of_lot
                .get(lot)
                .map_or(&[][..], Vec::as_slice);
            ts.iter()
                .filter_map(|t| self.register.transfers.get(t))
                .map(|t| Hop {
                    id: t.id.clone(),
                    from: t.from.clone(),
                    to: t.to.clone(),
                    status: t.status,
                    first: t.first_date(),
                    attached: !t.conditions.is_empty() || prepared.conditioned.contains_key(&t.id),
                })
                .collect()
        })
    }

    fn prepared(&self) -> &Prepared {
        self.prepared.get_or_init(|| {
            Prepared::new(
                &self.register,
                self.lot_ix.len(),
                &self.superseded,
                &self.rules,
            )
        })
    }

    /// The category of `model` and the broader ones, narrowest first.
    fn category_chain(&self, model: &ItemModel) -> std::borrow::Cow<'_, [CategoryId]> {
        match self
            .model_ix
            .get(&model.id)
            .and_then(|&m| self.prepared().categories.get(m as usize))
        {
            Some(c) => std::borrow::Cow::Borrowed(c.as_slice()),
            None => std::borrow::Cow::Owned(self.register.category_chain(&model.category)),
        }
    }

    /// The human name of a party (its code if unknown), shared.
    fn party_name(&self, id: &PartyId) -> Arc<str> {
        match self.prepared().parties.get(id) {
            Some(p) => p.name.clone(),
            None => Arc::from(id.as_str()),
        }
    }

    /// The register.
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// All rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A rule by id.
    pub fn rule(&self, id: &RuleId) -> Option<&Rule> {
        self.by_id.get(id).map(|&i| &self.rules[i as usize])
    }

    /// Resolves a party by its code or, when it names one party, by its
    /// name: the whole name (`Ukraine`), its initials (`UK` for the United
    /// Kingdom), or a run of its words (`Czech` for the Czech Republic).
    /// Otherwise says which parties are close, by code or name.
    pub fn resolve_party(&self, s: &str) -> Result<PartyId, RequestError> {
        let id = PartyId::new(s);
        if self.register.parties.contains_key(&id) {
            return Ok(id);
        }
        if let Some(p) = self
            .register
            .parties
            .values()
            .find(|p| p.id.as_str().eq_ignore_ascii_case(s) || p.name.eq_ignore_ascii_case(s))
        {
            return Ok(p.id.clone());
        }
        fn words(t: &str) -> Vec<String> {
            t.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect()
        }
        // The initials of a name's capitalised words, before any
        // parenthesis: "United Kingdom" is UK, "Convention on Cluster
        // Munitions" CCM.
        fn initials(name: &str) -> String {
            name.split('(')
                .next()
                .unwrap_or(name)
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .filter(|c| c.is_uppercase())
                .collect()
        }
        let given = words(s);
        let parties = &self.register.parties;
        for tier in 0..4 {
            let hits: Vec<&crate::register::Party> = parties
                .values()
                .filter(|p| {
                    let n = words(&p.name);
                    match tier {
                        0 => !given.is_empty() && n == given,
                        1 => {
                            let i = initials(&p.name);
                            s.trim().chars().count() >= 2
                                && i.chars().count() >= 2
                                && i.eq_ignore_ascii_case(s.trim())
                        }
                        2 => !given.is_empty() && n.starts_with(&given),
                        _ => {
                            !given.is_empty()
                                && n.windows(given.len()).any(|w| w == given.as_slice())
                        }
                    }
                })
                .collect();
            match hits.as_slice() {
                [] => continue,
                [one] => return Ok(one.id.clone()),
                many => {
                    let list: Vec<String> = many
                        .iter()
                        .take(8)
                        .map(|p| format!("`{}` ({})", p.id, p.name))
                        .collect();
                    return Err(RequestError::UnknownParty {
                        id: s.to_owned(),
                        help: format!(
                            "`{s}` names {} parties: {}; give the code",
                            many.len(),
                            list.join(", ")
                        ),
                    });
                }
            }
        }
        let known: Vec<String> = parties
            .values()
            .map(|p| format!("{}\t{}", p.id, p.name))
            .collect();
        Err(RequestError::UnknownParty {
            id: s.to_owned(),
            help: suggest(s, known.iter().map(String::as_str)),
        })
    }

    /// Resolves a model by its designation, name or alias, or, when they
    /// name one model, by whole words of them (`Storm` for Storm Shadow,
    /// words at the start of a name first). Otherwise says which are close.
    pub fn resolve_model(&self, s: &str) -> Result<ModelId, RequestError> {
        if let Some(m) = self.register.find_model(s) {
            return Ok(m.id.clone());
        }
        fn words(t: &str) -> Vec<String> {
            t.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect()
        }
        let given = words(s);
        let models = &self.register.models;
        if !given.is_empty() {
            for tier in 0..2 {
                let hits: Vec<&ItemModel> = models
                    .values()
                    .filter(|m| {
                        std::iter::once(m.id.as_str())
                            .chain(std::iter::once(m.name.as_str()))
                            .chain(m.aliases.iter().map(String::as_str))
                            .any(|name| {
                                let n = words(name);
                                if tier == 0 {
                                    n.starts_with(&given)
                                } else {
                                    n.windows(given.len()).any(|w| w == given.as_slice())
                                }
                            })
                    })
                    .collect();
                match hits.as_slice() {
                    [] => continue,
                    [one] => return Ok(one.id.clone()),
                    many => {
                        let list: Vec<String> =
                            many.iter().take(8).map(|m| format!("`{}`", m.id)).collect();
                        return Err(RequestError::UnknownModel {
                            id: s.to_owned(),
                            help: format!(
                                "`{s}` names {} models: {}; give one of them",
                                many.len(),
                                list.join(", ")
                            ),
                        });
                    }
                }
            }
        }
        Err(RequestError::UnknownModel {
            id: s.to_owned(),
            help: suggest(s, models.keys().map(ModelId::as_str)),
        })
    }

    /// Resolves a lot id.
    pub fn resolve_lot(&self, s: &str) -> Result<LotId, RequestError> {
        let id = LotId::new(s);
        if self.register.lots.contains_key(&id) {
            Ok(id)
        } else {
            Err(RequestError::UnknownLot {
                id: s.to_owned(),
                help: suggest(s, self.register.lots.keys().map(LotId::as_str)),
            })
        }
    }

    /// Resolves a place by its code (case-insensitive) or, when it names one
    /// place, by its name: the whole name (`Sevastopol`), or whole words of
    /// it (`Kursk` for Kursk oblast, words at the start of a name first;
    /// `Crimea` for the Autonomous Republic of Crimea). Otherwise says which
    /// places are close, by code or name.
    pub fn resolve_place(&self, s: &str) -> Result<PlaceCode, RequestError> {
        let places = &self.register.places;
        if let Some(k) = places.keys().find(|k| k.as_str().eq_ignore_ascii_case(s)) {
            return Ok(k.clone());
        }
        fn words(t: &str) -> Vec<String> {
            t.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect()
        }
        let given = words(s);
        if !given.is_empty() {
            for tier in 0..3 {
                let hits: Vec<&crate::register::Place> = places
                    .values()
                    .filter(|p| {
                        let n = words(&p.name);
                        match tier {
                            0 => n == given,
                            1 => n.starts_with(&given),
                            _ => n.windows(given.len()).any(|w| w == given.as_slice()),
                        }
                    })
                    .collect();
                match hits.as_slice() {
                    [] => continue,
                    [one] => return Ok(one.code.clone()),
                    many => {
                        let list: Vec<String> = many
                            .iter()
                            .take(8)
                            .map(|p| format!("`{}` ({})", p.code, p.name))
                            .collect();
                        return Err(RequestError::UnknownPlace {
                            id: s.to_owned(),
                            help: format!(
                                "`{s}` names {} places: {}; give the code",
                                many.len(),
                                list.join(", ")
                            ),
                        });
                    }
                }
            }
        }
        let known: Vec<String> = places
            .values()
            .map(|p| format!("{}\t{}", p.code, p.name))
            .collect();
        Err(RequestError::UnknownPlace {
            id: s.to_owned(),
            help: suggest(s, known.iter().map(String::as_str)),
        })
    }

    /// Resolves an authority (`US:SecDef`).
    pub fn resolve_authority(&self, s: &str) -> Result<crate::ids::AuthorityId, RequestError> {
        let all = || {
            self.register
                .parties
                .values()
                .flat_map(|p| p.authorities.iter().map(|a| a.id.as_str()))
        };
        all()
            .find(|a| a.eq_ignore_ascii_case(s))
            .and_then(crate::ids::AuthorityId::parse)
            .ok_or_else(|| RequestError::UnknownAuthority {
                id: s.to_owned(),
                help: suggest(s, all()),
            })
    }

    fn model_of(&self, item: &ItemRef) -> Result<&ItemModel, RequestError> {
        let model = match item {
            ItemRef::Model(m) => m.clone(),
            ItemRef::Lot(l) => self
                .register
                .lots
                .get(l)
                .map(|lot| lot.model.clone())
                .ok_or_else(|| RequestError::UnknownLot {
                    id: l.to_string(),
                    help: suggest(l.as_str(), self.register.lots.keys().map(LotId::as_str)),
                })?,
        };
        self.register
            .models
            .get(&model)
            .ok_or_else(|| RequestError::UnknownModel {
                id: model.to_string(),
                help: suggest(
                    model.as_str(),
                    self.register.models.keys().map(ModelId::as_str),
                ),
            })
    }

    /// Every party in the chain of `item` as held by `actor` on `as_of`, with
    /// its roles and whether it binds. The actor itself never binds itself.
    pub fn chain(
        &self,
        actor: &PartyId,
        item: &ItemRef,
        as_of: NaiveDate,
    ) -> Result<Vec<ChainLink>, RequestError> {
        self.chain_as_known(actor, item, as_of, NaiveDate::MAX)
    }

    /// [`Engine::chain`] as the public record stood on `known_at`: treaty
    /// steps not yet reported by then do not count.
    pub fn chain_as_known(
        &self,
        actor: &PartyId,
        item: &ItemRef,
        as_of: NaiveDate,
        known_at: NaiveDate,
    ) -> Result<Vec<ChainLink>, RequestError> {
        let keys = self.res_keys(self.model_of(item)?, item);
        self.chain_inner(actor, item, as_of, known_at, false, &keys)
    }

    fn chain_inner(
        &self,
        actor: &PartyId,
        item: &ItemRef,
        as_of: NaiveDate,
        known_at: NaiveDate,
        use_disputed: bool,
        keys: &[ResKey],
    ) -> Result<Vec<ChainLink>, RequestError> {
        let model = self.model_of(item)?;
        Ok(self
            .walk(actor, item, model, as_of, known_at, use_disputed)
            .into_iter()
            .map(|(p, r)| {
                let rules_on_record = self.count_all_time(&p, keys);
                self.link(p, r, rules_on_record)
            })
            .collect())
    }

    fn link(&self, party: PartyId, roles: Vec<Role>, rules_on_record: usize) -> ChainLink {
        ChainLink {
            name: self.party_name(&party),
            binds: roles.iter().any(Role::binds),
            party,
            roles,
            rules_on_record,
        }
    }

    /// The parties in the chain of `item` (of `model`) as held by `actor`,
    /// in the order found, with their roles.
    fn walk(
        &self,
        actor: &PartyId,
        item: &ItemRef,
        model: &ItemModel,
        as_of: NaiveDate,
        known_at: NaiveDate,
        use_disputed: bool,
    ) -> Links {
        // The parties in the order found, with their roles (a few: a list
        // beats a map).
        let mut links: Links = SmallVec::new();
        fn add_to(links: &mut Links, actor: &PartyId, p: &PartyId, r: Role) {
            if p == actor {
                return;
            }
            match links.iter_mut().find(|(q, _)| q == p) {
                Some((_, v)) => {
                    if !v.contains(&r) {
                        v.push(r);
                    }
                }
                None => {
                    // Room for a second role (a company's home state is
                    // often its origin too) without growing.
                    let mut roles = Vec::with_capacity(2);
                    roles.push(r);
                    links.push((p.clone(), roles));
                }
            }
        }
        let mut add = |p: &PartyId, r: Role| add_to(&mut links, actor, p, r);
        add(&model.origin, Role::Origin);

        let lots: &[LotId] = match item {
            ItemRef::Lot(l) => std::slice::from_ref(l),
            ItemRef::Model(m) => self.lots_of_model.get(m).map_or(&[], Vec::as_slice),
        };
        let prepared = self.prepared();
        for lot in lots {
            let hops = self.hops(lot);
            let mut holder = actor;
            // A lot passes through few hands: on the stack, not the heap.
            let mut seen: SmallVec<[&str; 8]> = SmallVec::new();
            // Walk back from the actor: who gave it to the holder, and so on.
            while let Some(t) = hops.iter().rev().find(|t| {
                &t.to == holder
                    && (t.status != crate::vocab::Status::Disputed || use_disputed)
                    && t.first.is_some_and(|d| d <= as_of)
                    && !seen.contains(&t.id.as_str())
            }) {
                seen.push(t.id.as_str());
                add(
                    &t.from,
                    Role::Supplier {
                        transfer: t.id.clone(),
                        attached_conditions: t.attached,
                    },
                );
                holder = &t.from;
            }
        }
        let provides = self
            .model_ix
            .get(&model.id)
            .and_then(|&m| prepared.provides.get(m as usize));
        for (j, d) in model.dependencies.iter().enumerate() {
            if !d.in_force(as_of) {
                continue;
            }
            let what = provides
                .and_then(|w| w.get(j))
                .cloned()
                .unwrap_or_else(|| Arc::from(d.what.as_str()));
            add(&d.provider, Role::Provider { kind: d.kind, what });
        }
        if !self.register.treaties.is_empty() {
            let cats = self.category_chain(model);
            for t in self.register.treaties.values() {
                if t.prohibits.iter().any(|c| cats.contains(c))
                    && t.binds_as_known(actor, as_of, &self.register.conflicts, &|step| {
                        // Read strictly: a step that binds counts whenever it
                        // happened; one that releases only once surely public.
                        // Disputed steps count only if they held.
                        let releases = matches!(
                            step.kind,
                            crate::register::StepKind::NoticeOfWithdrawal
                                | crate::register::StepKind::Withdrawal
                                | crate::register::StepKind::Suspension
                        );
                        let public = self
                            .register
                            .sources
                            .get(&step.source)
                            .is_none_or(|src| src.date.latest() <= known_at);
                        (step.status != Status::Disputed || use_disputed) && (!releases || public)
                    })
                {
                    add(&t.id, Role::Treaty);
                }
            }
        }
        // A company acts under its home state's export control: a company in
        // the chain (or acting) brings its home state in.
        let home = |p: &PartyId| prepared.parties.get(p).and_then(|x| x.company.as_ref());
        // In id order, then the actor, as they have always been taken.
        let mut companies: SmallVec<[(&PartyId, Option<&PartyId>); 4]> = links
            .iter()
            .filter_map(|(p, _)| home(p).map(|h| (p, h.as_ref())))
            .collect();
        companies.sort_by(|a, b| a.0.cmp(b.0));
        if let Some(h) = home(actor) {
            companies.push((actor, h.as_ref()));
        }
        // Owned: `links` grows below.
        let companies: SmallVec<[(PartyId, PartyId); 4]> = companies
            .into_iter()
            .filter_map(|(c, h)| h.map(|h| (c.clone(), h.clone())))
            .collect();
        for (c, home) in companies {
            add_to(&mut links, actor, &home, Role::Jurisdiction { company: c });
        }
        links
    }

    fn res_keys(&self, model: &ItemModel, item: &ItemRef) -> Keys {
        let mut keys: Keys = match self.model_ix.get(&model.id) {
            Some(&m) => SmallVec::from_slice(&self.model_keys[m as usize]),
            None => SmallVec::from_vec(self.model_keys_of(model)),
        };
        if let ItemRef::Lot(l) = item {
            if let Some(&l) = self.lot_ix.get(l) {
                keys.push(ResKey::Lot(l));
            }
        }
        keys
    }

    /// The resource keys of `model` (any, the model, its categories).
    fn model_keys_of(&self, model: &ItemModel) -> Vec<ResKey> {
        let mut keys = vec![ResKey::Any];
        if let Some(&m) = self.model_ix.get(&model.id) {
            keys.push(ResKey::Model(m));
        }
        for c in self.register.category_chain(&model.category) {
            if let Some(&c) = self.category_ix.get(&c) {
                keys.push(ResKey::Category(c));
            }
        }
        keys
    }

    /// The index entries of `party` for `keys`.
    fn party_index(&self, party: &PartyId, keys: &[ResKey]) -> PartyIndex<'_> {
        PartyIndex {
            found: match self.index.get(party) {
                Some(b) => keys.iter().filter_map(|k| b.get(k)).collect(),
                None => SmallVec::new(),
            },
            prep: None,
        }
    }

    /// Rules of `party` that had ended by `as_of` only because a successor
    /// superseded them, where that successor was not yet public on
    /// `known_at`: as the record then stood, they were still in force.
    fn revived(&self, party: &PartyId, as_of: NaiveDate, known_at: NaiveDate) -> Vec<u32> {
        let Some(pairs) = self.superseded.get(party) else {
            return Vec::new();
        };
        // Pairs are sorted by the successor's public date: only the tail whose
        // successor was not yet public can matter.
        let from = pairs.partition_point(|&(_, _, public)| public <= known_at);
        pairs[from..]
            .iter()
            .filter(|&&(old, new, _)| {
                let (o, n) = (&self.rules[old as usize], &self.rules[new as usize]);
                !n.known_on(known_at)
                    && o.known_on(known_at)
                    && o.effective_start() <= as_of
                    && !o.in_force(as_of)
            })
            .map(|&(old, _, _)| old)
            .collect()
    }

    /// Members of the buckets of `party` for `actions` × `keys`, picked by `f`.
    fn gather(
        &self,
        party: &PartyId,
        actions: &[u8],
        keys: &[ResKey],
        f: fn(&Bucket) -> &[u32],
    ) -> Vec<u32> {
        let Some(buckets) = self.index.get(party) else {
            return Vec::new();
        };
        let mut found: SmallVec<[&[u32]; 8]> = SmallVec::new();
        for k in keys {
            if let Some(b) = buckets.get(k) {
                found.extend(
                    actions
                        .iter()
                        .map(|a| f(&b[slot(*a)]))
                        .filter(|s| !s.is_empty()),
                );
            }
        }
        let mut out = Vec::with_capacity(found.iter().map(|s| s.len()).sum());
        for s in found {
            out.extend_from_slice(s);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// How many rules of `party` can match `keys`, at any time and for any
    /// action (`candidates_all_time(..).len()`, without building the list
    /// when one key holds them all).
    fn count_all_time(&self, party: &PartyId, keys: &[ResKey]) -> usize {
        let Some(buckets) = self.index.get(party) else {
            return 0;
        };
        let mut found = keys
            .iter()
            .filter_map(|k| buckets.get(k))
            .filter(|b| !b.all.is_empty());
        match (found.next(), found.next()) {
            (None, _) => 0,
            (Some(one), None) => one.all.len(),
            _ => self.candidates_all_time(party, keys).len(),
        }
    }

    /// Rules of `party` whose scope can match, at any time and for any action.
    fn candidates_all_time(&self, party: &PartyId, keys: &[ResKey]) -> Vec<u32> {
        const EVERY: [u8; Action::ALL.len() + 1] = [
            Action::ALL[0] as u8,
            Action::ALL[1] as u8,
            Action::ALL[2] as u8,
            Action::ALL[3] as u8,
            ANY_ACTION,
        ];
        self.gather(party, &EVERY, keys, |b| &b.all)
    }

    fn source_ref(&self, id: &crate::ids::SourceId, fallback: NaiveDate) -> SourceRef {
        let src = self.register.sources.get(id);
        SourceRef {
            id: id.clone(),
            outlet: Arc::from(src.map_or("", |s| s.outlet.as_str())),
            date: src.map(|s| s.date).unwrap_or(DateSpec::day(fallback)),
            title: Arc::from(src.map_or("", |s| s.title.as_str())),
            url: src.and_then(|s| s.url.as_deref()).map(Arc::from),
            quote: src.and_then(|s| s.quote.as_deref()).map(Arc::from),
        }
    }

    /// The quote a source records, if any: what a default or decision
    /// without a quote of its own is cited with.
    fn source_quote(&self, id: &crate::ids::SourceId) -> Option<Arc<str>> {
        self.register
            .sources
            .get(id)
            .and_then(|s| s.quote.as_deref())
            .map(Arc::from)
    }

    /// The citation of `r` on `as_of`. A rule's citation differs between
    /// days only in `date_uncertain`, so it is built once per rule (on first
    /// use) and copied.
    fn rule_ref(&self, r: &Rule, as_of: NaiveDate) -> RuleRef {
        // Only this engine's own rule (a caller may hold another copy): its
        // place in `rules` is its number, no look-up by id.
        let size = std::mem::size_of::<Rule>().max(1);
        let offset = (r as *const Rule as usize).wrapping_sub(self.rules.as_ptr() as usize);
        let cached = Some(offset / size)
            .filter(|&i| self.rules.get(i).is_some_and(|x| std::ptr::eq(x, r)))
            .and_then(|i| self.cites.get(i))
            .map(|c| c.get_or_init(|| self.build_rule_ref(r, as_of)));
        match cached {
            Some(c) => {
                let mut c = c.clone();
                c.date_uncertain = r.uncertain_on(as_of);
                c
            }
            None => self.build_rule_ref(r, as_of),
        }
    }

    fn build_rule_ref(&self, r: &Rule, as_of: NaiveDate) -> RuleRef {
        let sources: Arc<[SourceRef]> = r
            .sources
            .iter()
            .map(|s| self.source_ref(s, r.recorded_at))
            .collect();
        let date_uncertain = r.uncertain_on(as_of);
        RuleRef::new(
            Citation {
                id: r.id.clone(),
                kind: CitationKind::Rule,
                status: r.status,
                source: self.source_ref(&r.source, r.recorded_at),
                sources,
                assurance: r.assured_by.as_ref().map(|a| {
                    Arc::from(format!(
                        "an assurance given by {} to {}",
                        self.register.party_name(a),
                        self.register.party_name(&r.owner)
                    ))
                }),
                party: r.owner.clone(),
                effect: r.effect,
                summary: Arc::from(r.summary.as_str()),
                approval: r.approval.clone(),
                valid_from: r.valid_from,
                valid_to: r.valid_to,
                recorded_at: r.recorded_at,
                quote: Arc::from(r.quote.as_str()),
                assumption: r.assumption.as_deref().map(Arc::from),
                supersedes: r.supersedes.clone(),
            },
            date_uncertain,
        )
    }

    /// The day a consent decision counts as public.
    fn consent_public(&self, c: &Consent) -> NaiveDate {
        c.public_bound(|s| self.register.sources.get(s).map(|x| x.date))
    }

    /// The day a default counts as public.
    fn default_public(&self, d: &PartyDefault) -> NaiveDate {
        d.recorded_at.unwrap_or_else(|| {
            self.register
                .earliest_source_date(&d.sources)
                .map_or(NaiveDate::MAX, |x| x.latest())
        })
    }

    fn consent_ref(&self, c: &Consent, as_of: NaiveDate) -> RuleRef {
        let public = self.consent_public(c);
        let sources: Arc<[SourceRef]> = c
            .sources
            .iter()
            .map(|s| self.source_ref(s, public))
            .collect();
        let from = c.scope.from.or(c.decided).unwrap_or(DateSpec::day(public));
        let date_uncertain =
            from.straddles(as_of) || c.scope.to.is_some_and(|t| t.straddles(as_of));
        RuleRef::new(
            Citation {
                id: RuleId::new(c.id.clone()),
                kind: CitationKind::Consent,
                status: c.status,
                source: self.lead_source(&sources, public),
                sources,
                assurance: None,
                party: c.authority.party(),
                effect: if c.granted {
                    RuleEffect::Permit
                } else {
                    RuleEffect::Forbid
                },
                summary: Arc::from(c.summary.as_str()),
                approval: Some(c.authority.clone()),
                valid_from: from,
                valid_to: c.scope.to,
                recorded_at: public,
                quote: self.quote_or_sources(c.quote.as_deref(), &c.sources),
                assumption: None,
                supersedes: None,
            },
            date_uncertain,
        )
    }

    /// The first of a citation's sources, or an empty one when it has none.
    fn lead_source(&self, sources: &[SourceRef], public: NaiveDate) -> SourceRef {
        sources
            .first()
            .cloned()
            .unwrap_or_else(|| self.source_ref(&crate::ids::SourceId::new(""), public))
    }

    /// A decision's own quote, else its first source's, else none.
    fn quote_or_sources(&self, quote: Option<&str>, sources: &[crate::ids::SourceId]) -> Arc<str> {
        quote
            .map(Arc::from)
            .or_else(|| sources.first().and_then(|x| self.source_quote(x)))
            .unwrap_or_else(|| Arc::from(""))
    }

    fn default_ref(&self, d: &PartyDefault, as_of: NaiveDate) -> RuleRef {
        let public = self.default_public(d);
        let sources: Arc<[SourceRef]> = d
            .sources
            .iter()
            .map(|s| self.source_ref(s, public))
            .collect();
        let date_uncertain =
            d.valid_from.straddles(as_of) || d.valid_to.is_some_and(|t| t.straddles(as_of));
        RuleRef::new(
            Citation {
                id: RuleId::new(d.id.clone()),
                kind: CitationKind::Default,
                status: d.status,
                source: self.lead_source(&sources, public),
                sources,
                assurance: None,
                party: d.party.clone(),
                effect: match d.effect {
                    DefaultEffect::Permit => RuleEffect::Permit,
                    DefaultEffect::Forbid => RuleEffect::Forbid,
                    DefaultEffect::NeedsApproval => RuleEffect::RequiresApproval,
                },
                summary: Arc::from(d.summary.as_str()),
                approval: d.authority.clone(),
                valid_from: d.valid_from,
                valid_to: d.valid_to,
                recorded_at: public,
                quote: self.quote_or_sources(d.quote.as_deref(), &d.sources),
                assumption: None,
                supersedes: None,
            },
            date_uncertain,
        )
    }

    /// Whether consent decision `c` covers the request `q`: its scope
    /// matches, its window covers the as-of day, it was public by known-at,
    /// and its status is used.
    fn consent_covers(
        &self,
        c: &Consent,
        q: &Query,
        model: &ItemModel,
        use_disputed: bool,
    ) -> bool {
        let sc = &c.scope;
        let status_ok = c.status.used_under(q.statuses)
            || (use_disputed && c.status == crate::vocab::Status::Disputed);
        let item_ok = (sc.models.is_empty() && sc.lots.is_empty())
            || sc.models.contains(&model.id)
            || matches!(&q.item, ItemRef::Lot(l) if sc.lots.contains(l));
        let place_ok = sc.places.is_empty()
            || q.place.as_ref().is_some_and(|p| {
                let chain = self.register.place_chain(p);
                sc.places.iter().any(|x| chain.contains(x))
            });
        let target_ok = sc.targets.is_empty()
            || q.target_class.as_ref().is_some_and(|t| {
                let chain = self.register.target_chain(t);
                sc.targets.iter().any(|x| chain.contains(x))
            });
        let recipient_ok = sc
            .recipient
            .as_ref()
            .is_none_or(|r| q.destination.as_ref() == Some(r) || q.recipient.as_ref() == Some(r));
        c.binding
            && status_ok
            && sc.actor.as_ref().is_none_or(|a| a == &q.actor)
            && (sc.actions.is_empty() || sc.actions.contains(&q.action))
            && item_ok
            && place_ok
            && target_ok
            && recipient_ok
            && c.window_covers(q.as_of)
            && self.consent_public(c) <= q.known_at
    }

    /// The Cedar context of a query. Approvals are left out on the first
    /// evaluation so that the engine sees every approval a request needs, then
    /// put in to evaluate the request as approved.
    fn context_for(
        &self,
        q: &Query,
        approvals: &[AuthorityId],
    ) -> Result<(Context, Vec<&'static str>), RequestError> {
        let bad =
            |e: String| RequestError::Internal(format!("could not build the request context: {e}"));
        let types = &self.cedar()?.types;
        let mut provided = vec!["approvals"];
        let mut pairs: Vec<(String, RestrictedExpression)> = vec![(
            "approvals".into(),
            RestrictedExpression::new_set(
                approvals
                    .iter()
                    .map(|a| RestrictedExpression::new_string(a.to_string())),
            ),
        )];
        if let Some(p) = &q.place {
            pairs.push(("place".into(), entity(&types.place, p.as_str())));
            provided.push("place");
        }
        if let Some(r) = &q.recipient {
            pairs.push(("recipient".into(), entity(&types.party, r.as_str())));
            pairs.push((
                "recipient_in_conflict".into(),
                RestrictedExpression::new_bool(self.register.in_conflict(r, q.as_of)),
            ));
            provided.extend(["recipient", "recipient_in_conflict"]);
        }
        if let Some(t) = &q.target_class {
            pairs.push((
                "target_class".into(),
                RestrictedExpression::new_string(t.clone()),
            ));
            provided.push("target_class");
            if !self.register.targets.is_empty() {
                pairs.push(("target".into(), entity(&types.target, t)));
                provided.push("target");
            }
        }
        if let Some(p) = &q.purpose {
            pairs.push(("purpose".into(), entity(&types.purpose, p)));
            provided.push("purpose");
        }
        if let Some(d) = q.destination.as_ref().or(q.recipient.as_ref()) {
            pairs.push(("destination".into(), entity(&types.party, d.as_str())));
            pairs.push((
                "destination_in_conflict".into(),
                RestrictedExpression::new_bool(self.register.in_conflict(d, q.as_of)),
            ));
            provided.extend(["destination", "destination_in_conflict"]);
        }
        if let Some(areas) = &q.areas {
            pairs.push((
                "areas".into(),
                RestrictedExpression::new_set(areas.iter().map(|a| entity(&types.area, a))),
            ));
            provided.push("areas");
        }
        if let Some(c) = &q.controlled_by {
            pairs.push(("controlled_by".into(), entity(&types.party, c.as_str())));
            provided.push("controlled_by");
        }
        if let Some(d) = q.border_distance_km {
            pairs.push((
                "border_distance_km".into(),
                RestrictedExpression::new_long(d),
            ));
            provided.push("border_distance_km");
        }
        let ctx = Context::from_pairs(pairs).map_err(|e| bad(e.to_string()))?;
        Ok((ctx, provided))
    }

    fn request_for(
        &self,
        q: &Query,
        approvals: &[AuthorityId],
    ) -> Result<(Request, Vec<&'static str>), RequestError> {
        let (context, provided) = self.context_for(q, approvals)?;
        let bad =
            |e: String| RequestError::Internal(format!("could not build the cedar request: {e}"));
        let t = &self.cedar()?.types;
        let resource = match &q.item {
            ItemRef::Lot(l) => {
                EntityUid::from_type_name_and_id(t.lot.clone(), EntityId::new(l.as_str()))
            }
            ItemRef::Model(m) => {
                EntityUid::from_type_name_and_id(t.model.clone(), EntityId::new(m.as_str()))
            }
        };
        let request = Request::new(
            EntityUid::from_type_name_and_id(t.party.clone(), EntityId::new(q.actor.as_str())),
            EntityUid::from_type_name_and_id(t.action.clone(), EntityId::new(q.action.as_str())),
            resource,
            context,
            None,
        )
        .map_err(|e| bad(e.to_string()))?;
        Ok((request, provided))
    }

    /// Decides a query.
    ///
    /// Facts of status `disputed` are never used for the outcome; when the
    /// outcome would differ if they held, the decision says so in
    /// `if_disputed`. Reported facts are used (unless the query asks for
    /// confirmed facts only) and listed in `reported`.
    pub fn decide(&self, q: &Query) -> Result<Decision, RequestError> {
        // The same parties as the register's, hashed instead of compared
        // along a tree.
        let known = &self.prepared().parties;
        if !known.contains_key(&q.actor) {
            return Err(RequestError::UnknownParty {
                id: q.actor.to_string(),
                help: suggest(
                    q.actor.as_str(),
                    self.register.parties.keys().map(PartyId::as_str),
                ),
            });
        }
        for r in q.recipient.iter().chain(q.destination.iter()) {
            if !known.contains_key(r) {
                return Err(RequestError::UnknownParty {
                    id: r.to_string(),
                    help: suggest(
                        r.as_str(),
                        self.register.parties.keys().map(PartyId::as_str),
                    ),
                });
            }
        }
        // An exact code needs no search (the resolvers scan every entry).
        if let Some(p) = q
            .place
            .as_ref()
            .filter(|p| !self.register.places.contains_key(*p))
        {
            self.resolve_place(p.as_str())?;
        }
        if let Some(c) = q
            .controlled_by
            .as_ref()
            .filter(|c| !self.register.parties.contains_key(*c))
        {
            self.resolve_party(c.as_str())?;
        }
        // An authority of the register needs no search.
        let authorities = &self.prepared().authority_ids;
        for a in q.approvals.iter().filter(|a| !authorities.contains_key(*a)) {
            self.resolve_authority(a.as_str())?;
        }
        if let Some(t) = &q.target_class {
            self.check_term("target class", t, &self.register.targets)?;
        }
        if let Some(t) = &q.purpose {
            self.check_term("purpose", t, &self.register.purposes)?;
        }
        let mut d = self.decide_with(q, false)?;
        if self.has_disputed {
            let alt = self.decide_with(q, true)?;
            if alt.outcome != d.outcome {
                let facts: Vec<RuleRef> = alt
                    .parties
                    .iter()
                    .flat_map(|p| p.rules.iter())
                    .filter(|r| r.status == Status::Disputed)
                    .cloned()
                    .collect();
                let named = if facts.is_empty() {
                    "a disputed treaty step or transfer".to_owned()
                } else {
                    facts
                        .iter()
                        .map(|f| format!("`{}`", f.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                d.notes.push(format!(
                    "if the disputed facts on record held ({named}), the outcome would be {}",
                    alt.outcome
                ));
                d.if_disputed = Some(DisputedOutcome {
                    outcome: alt.outcome,
                    facts,
                });
            }
        }
        let mut reported: Vec<RuleId> = d
            .parties
            .iter()
            .flat_map(|p| p.rules.iter())
            .filter(|r| r.status == Status::Reported)
            .map(|r| r.id.clone())
            .collect();
        reported.sort();
        reported.dedup();
        if !reported.is_empty() {
            d.notes.push(format!(
                "the answer rests on facts reported only by media citing officials, not confirmed on the record: {}",
                reported
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        d.reported = reported;
        Ok(d)
    }

    fn check_term(
        &self,
        what: &'static str,
        t: &str,
        terms: &BTreeMap<String, crate::vocab::Term>,
    ) -> Result<(), RequestError> {
        if terms.is_empty() || terms.contains_key(t) {
            return Ok(());
        }
        Err(RequestError::UnknownTerm {
            what,
            id: t.to_owned(),
            help: suggest(t, terms.keys().map(String::as_str)),
        })
    }

    /// Whether `status` is used for a query (disputed only in the second,
    /// "if it held" pass).
    fn status_used(status: Status, q: &Query, use_disputed: bool) -> bool {
        status.used_under(q.statuses) || (use_disputed && status == Status::Disputed)
    }

    /// The lots of `model` that `actor` holds on `as_of`: the last transfer
    /// of each (begun by that day, not disputed) went to the actor.
    fn lots_held(
        &self,
        actor: &PartyId,
        model: &ModelId,
        as_of: NaiveDate,
    ) -> SmallVec<[LotId; 4]> {
        self.lots_of_model
            .get(model)
            .into_iter()
            .flatten()
            .filter(|lot| {
                self.hops(lot)
                    .iter()
                    .rfind(|t| t.status != Status::Disputed && t.first.is_some_and(|d| d <= as_of))
                    .is_some_and(|t| &t.to == actor)
            })
            .cloned()
            .collect()
    }

    /// A question about a model the actor holds in lots from different
    /// suppliers is answered for the lot that allows the most: the actor
    /// can choose which one to use. The other lots' answers are noted.
    fn decide_with(&self, q: &Query, use_disputed: bool) -> Result<Decision, RequestError> {
        let ItemRef::Model(model) = &q.item else {
            return self.decide_one(q, use_disputed);
        };
        let lots = self.lots_held(&q.actor, model, q.as_of);
        if lots.len() < 2 {
            return self.decide_one(q, use_disputed);
        }
        let mut per_lot = Vec::with_capacity(lots.len());
        for lot in &lots {
            let mut ql = q.clone();
            ql.item = ItemRef::Lot(lot.clone());
            per_lot.push((lot, self.decide_one(&ql, use_disputed)?));
        }
        // Lots whose suppliers bind alike answer alike: compare by outcome,
        // then prefer the lot with fewer binding parties (a plainer answer).
        per_lot.sort_by_key(|(_, d)| (d.outcome, d.parties.len()));
        let mut iter = per_lot.into_iter();
        let Some((best_lot, mut best)) = iter.next() else {
            return self.decide_one(q, use_disputed);
        };
        let others: Vec<String> = iter
            .filter(|(_, d)| d.outcome != best.outcome)
            .map(|(lot, d)| {
                let who: Vec<String> = d
                    .parties
                    .iter()
                    .filter(|p| p.outcome == d.outcome)
                    .map(|p| {
                        let ids: Vec<String> = p.rules.iter().map(|r| r.id.to_string()).collect();
                        format!("{} ({})", p.name, ids.join(", "))
                    })
                    .collect();
                format!("lot `{lot}`: {} by {}", d.outcome, who.join("; "))
            })
            .collect();
        best.notes.insert(
            0,
            format!(
                "Ukraine-held lots of {model} come from several suppliers; the answer is for lot `{best_lot}`, the one that allows the most{}",
                if others.is_empty() {
                    String::new()
                } else {
                    format!(". Other lots: {}", others.join("; "))
                }
            )
            .replace("Ukraine-held", &format!("{}-held", self.register.party_name(&q.actor))),
        );
        best.request = q.clone();
        Ok(best)
    }

    fn decide_one(&self, q: &Query, use_disputed: bool) -> Result<Decision, RequestError> {
        let model = self.model_of(&q.item)?;
        let keys = self.res_keys(model, &q.item);
        // Each link with its index entries, found once for its count on
        // record and its selection.
        let prepared = self.prepared();
        let mut chain: SmallVec<[(ChainLink, PartyIndex<'_>); 6]> = self
            .walk(&q.actor, &q.item, model, q.as_of, q.known_at, use_disputed)
            .into_iter()
            .map(|(p, r)| {
                let mut ix = self.party_index(&p, &keys);
                let prep = prepared.parties.get(&p);
                ix.prep = prep;
                let link = ChainLink {
                    name: prep.map_or_else(|| Arc::from(p.as_str()), |x| x.name.clone()),
                    binds: r.iter().any(Role::binds),
                    party: p,
                    roles: r,
                    rules_on_record: ix.count_all(),
                };
                (link, ix)
            })
            .collect();
        let provided = self.provided_for(q);

        let mut notes = Vec::new();
        // A treaty that forbids acquiring the item binds a transfer to a
        // state party to it as well (Ottawa and CCM: "never ... acquire").
        if matches!(q.action, Action::Transfer | Action::Reexport) {
            if let Some(to) = q.destination.as_ref().or(q.recipient.as_ref()) {
                let cats = self.category_chain(model);
                for t in self.register.treaties.values() {
                    let binds = t.prohibits.iter().any(|c| cats.contains(c))
                        && t.binds(to, q.as_of, &self.register.conflicts)
                        && &t.id != to
                        && !chain.iter().any(|(l, _)| l.party == t.id);
                    if binds {
                        let ix = self.party_index(&t.id, &keys);
                        let link = ChainLink {
                            name: self.party_name(&t.id),
                            party: t.id.clone(),
                            roles: vec![Role::TreatyOfRecipient {
                                recipient: to.clone(),
                            }],
                            binds: true,
                            rules_on_record: ix.count_all(),
                        };
                        chain.push((link, ix));
                    }
                }
            }
        }
        let mut own = self.party_index(&q.actor, &keys);
        if own.any_in_force(q.action, q.as_of) {
            own.prep = prepared.parties.get(&q.actor);
            let link = ChainLink {
                party: q.actor.clone(),
                name: self.party_name(&q.actor),
                roles: vec![Role::Own],
                binds: true,
                rules_on_record: own.count_all(),
            };
            chain.insert(0, (link, own));
        }
        // By position in the chain: each link's roles move into its party's
        // decision at the end instead of being copied.
        let mut selected: SmallVec<[(usize, Picked); 6]> = SmallVec::new();
        for (ix, (link, index)) in chain.iter().enumerate() {
            if !link.binds {
                notes.push(format!(
                    "{} is in the chain ({}) but attached no conditions on record, so it does not bind",
                    link.name,
                    crate::decision::role_labels(&link.roles)
                ));
                continue;
            }
            let known = self.select(link, index, q, &mut notes, use_disputed);
            selected.push((ix, known));
        }
        // Decisions of authorities that cover this request.
        let covering: Vec<&Consent> = self
            .register
            .consents
            .iter()
            .filter(|c| self.consent_covers(c, q, model, use_disputed))
            .collect();
        for c in self.register.consents.iter().filter(|c| {
            !c.binding
                && self.consent_public(c) <= q.known_at
                && (c.scope.models.is_empty() || c.scope.models.contains(&model.id))
                && c.window_covers(q.as_of)
                && c.scope.actor.as_ref().is_none_or(|a| a == &q.actor)
                && (c.scope.actions.is_empty() || c.scope.actions.contains(&q.action))
        }) {
            notes.push(format!(
                "{} {} a request ({}) whose exact scope is not on record; it is cited, not applied: `{}`",
                self.authority_name(&c.authority),
                if c.granted { "granted" } else { "refused" },
                c.summary,
                c.id
            ));
        }
        // One Cedar call for every binding party's rules; a second, with the
        // approvals in the context, only when an approval given (or a
        // recorded grant) lifts one.
        let all: Picked = selected
            .iter()
            .flat_map(|(_, k)| k.iter().copied())
            .collect();
        let first = self.evaluate(q, &[], &all, EvalPath::Engine)?;
        // The authorities whose approval counts as given: those of the query
        // ("as if approved"), and those a recorded grant gives for this request.
        let mut effective: SmallVec<[AuthorityId; 4]> = q.approvals.iter().cloned().collect();
        for &i in &first.fired {
            let r = &self.rules[i as usize];
            let Some(named) = r.approval.as_ref() else {
                continue;
            };
            let given = q.approvals.iter().any(|a| self.same_decider(a, named))
                || covering
                    .iter()
                    .any(|c| c.granted && self.same_decider(&c.authority, named));
            if given && !effective.contains(named) {
                effective.push(named.clone());
            }
        }
        let lifted = first.fired.iter().any(|&i| {
            let r = &self.rules[i as usize];
            r.effect == RuleEffect::RequiresApproval
                && r.approval.as_ref().is_some_and(|a| effective.contains(a))
        });
        let second = if lifted {
            Some(self.evaluate_again(q, &effective, &all, &first)?)
        } else {
            None
        };
        let ctx = PartyCtx {
            q,
            first: &first,
            second: second.as_ref(),
            provided,
            effective: &effective,
            covering: &covering,
            use_disputed,
        };
        let mut parties = Vec::with_capacity(selected.len());
        for (ix, known) in &selected {
            let Some((link, _)) = chain.get_mut(*ix) else {
                continue;
            };
            let mut pd = self.decide_party(link, known, &ctx);
            // The actor's own rules count only where one of them applies; a
            // state is not "indeterminate" about its own silence.
            if link.roles == [Role::Own] && pd.rules.is_empty() {
                continue;
            }
            pd.roles = std::mem::take(&mut link.roles);
            parties.push(pd);
        }

        let outcome = if parties.is_empty() {
            notes.push(format!(
                "no party other than {} binds {} with this item",
                self.register.party_name(&q.actor),
                model.id
            ));
            Outcome::Permit
        } else if parties.iter().any(|p| p.outcome == Outcome::Forbid) {
            Outcome::Forbid
        } else if parties.iter().any(|p| p.outcome == Outcome::NeedsApproval) {
            Outcome::NeedsApproval
        } else if parties.iter().any(|p| p.outcome == Outcome::Indeterminate) {
            Outcome::Indeterminate
        } else {
            Outcome::Permit
        };

        let mut approvals: Vec<ApprovalNeed> = Vec::new();
        if outcome == Outcome::NeedsApproval {
            for p in parties
                .iter()
                .filter(|p| p.outcome == Outcome::NeedsApproval)
            {
                for r in p
                    .rules
                    .iter()
                    .filter(|r| r.effect == RuleEffect::RequiresApproval)
                {
                    if let Some(a) = &r.approval {
                        let need = ApprovalNeed {
                            party: self.authority_party(a),
                            authority: a.clone(),
                            authority_name: self.authority_name(a).to_string(),
                        };
                        if !approvals.contains(&need) {
                            approvals.push(need);
                        }
                    }
                }
            }
        }
        let mut missing: Vec<String> = parties
            .iter()
            .flat_map(|p| p.missing.iter().cloned())
            .collect();
        missing.sort();
        missing.dedup();

        Ok(Decision {
            outcome,
            as_of: q.as_of,
            known_at: q.known_at,
            request: q.clone(),
            approvals,
            parties,
            missing,
            notes,
            reported: Vec::new(),
            if_disputed: None,
        })
    }

    /// [`Register::same_decider`], with the roots derived once.
    fn same_decider(&self, by: &AuthorityId, named: &AuthorityId) -> bool {
        // Equal authorities have equal roots: no text compared when both
        // are the register's.
        let roots = &self.prepared().roots;
        match (roots.get(by), roots.get(named)) {
            (Some((a, _)), Some((b, _))) => a == b,
            _ => self.register.same_decider(by, named),
        }
    }

    /// The party of authority `a` (shared when the register holds it).
    fn authority_party(&self, a: &AuthorityId) -> PartyId {
        match self.prepared().roots.get(a) {
            Some((_, p)) => p.clone(),
            None => a.party(),
        }
    }

    /// "Party / authority" (the id if the register lacks it), shared.
    fn authority_name(&self, a: &crate::ids::AuthorityId) -> Arc<str> {
        match self.prepared().authorities.get(a) {
            Some(n) => n.clone(),
            None => Arc::from(a.as_str()),
        }
    }

    /// The rules of `link`'s party that apply on the query's dates: in force
    /// (strictly read), public by known-at, plus those revived because their
    /// successor was not yet public. Explains what it leaves out in `notes`.
    fn select(
        &self,
        link: &ChainLink,
        index: &PartyIndex<'_>,
        q: &Query,
        notes: &mut Vec<String>,
        use_disputed: bool,
    ) -> Picked {
        let mut in_force = index.in_force(q.action, q.as_of);
        let revived: SmallVec<[u32; 4]> = match index.prep {
            // Most requests are asked as the record stands: every successor
            // public by then, nothing to search.
            Some(p) if p.revivals.last().is_none_or(|r| r.public <= q.known_at) => SmallVec::new(),
            Some(p) => {
                let from = p.revivals.partition_point(|r| r.public <= q.known_at);
                p.revivals[from..]
                    .iter()
                    .filter(|r| r.revives(q.as_of, q.known_at))
                    .map(|r| r.old)
                    .collect()
            }
            None => self.revived(&link.party, q.as_of, q.known_at).into(),
        };
        if !revived.is_empty() {
            let scoped = index.gather([q.action.index(), ANY_ACTION], |b| &b.all);
            for i in revived.into_iter().filter(|i| scoped.contains(i)) {
                let r = &self.rules[i as usize];
                notes.push(format!(
                    "{} rule `{}` ended on {} when a successor took over, but that successor was not public by {}; as the record then stood, `{}` was still in force",
                    link.name,
                    r.id,
                    r.valid_to.map(|t| t.to_string()).unwrap_or_default(),
                    q.known_at,
                    r.id
                ));
                in_force.push(i);
            }
        }
        let (mut known, mut unknown, mut unused) = (Picked::new(), Picked::new(), Picked::new());
        for &i in &in_force {
            let r = &self.rules[i as usize];
            if !r.known_on(q.known_at) {
                unknown.push(i);
            } else if Self::status_used(r.status, q, use_disputed) {
                known.push(i);
            } else {
                unused.push(i);
            }
        }
        if !use_disputed {
            for &i in &unused {
                let r = &self.rules[i as usize];
                notes.push(format!(
                    "{} rule `{}` is {}; it is not used{}",
                    link.name,
                    r.id,
                    r.status,
                    if r.status == Status::Reported {
                        " (only confirmed facts were asked for)"
                    } else {
                        ""
                    }
                ));
            }
        }
        for &i in &unknown {
            let r = &self.rules[i as usize];
            notes.push(format!(
                "{} rule `{}` was in force on {} but became public only on {}, after the known-at day {}; it is not used",
                link.name, r.id, q.as_of, r.recorded_at, q.known_at
            ));
        }
        // A permission whose status on the day hinges on an imprecise date,
        // and that the strict reading left out, deserves a word.
        let fuzzy = index.gather([q.action.index(), ANY_ACTION], |b| &b.fuzzy);
        for i in fuzzy {
            let r = &self.rules[i as usize];
            if in_force.contains(&i) || !r.known_on(q.known_at) || !r.uncertain_on(q.as_of) {
                continue;
            }
            let why = if r.valid_from.straddles(q.as_of) {
                format!("it may already have been in force (from {}), but a permission counts only from the latest possible day", r.valid_from)
            } else {
                format!(
                    "it may still have been in force (until {}), but a permission counts only until the earliest possible end",
                    r.valid_to.map(|t| t.to_string()).unwrap_or_default()
                )
            };
            notes.push(format!(
                "{} rule `{}` on {}: {why}",
                link.name, r.id, q.as_of
            ));
        }
        known
    }

    /// The facts of the request context that `q` supplies.
    fn provided_for(&self, q: &Query) -> Provided {
        let mut p = Provided::default();
        p.add(const { key_bit("approvals") });
        if q.place.is_some() {
            p.add(const { key_bit("place") });
        }
        if q.recipient.is_some() {
            p.add(const { key_bit("recipient") | key_bit("recipient_in_conflict") });
        }
        if q.target_class.is_some() {
            p.add(const { key_bit("target_class") });
            if !self.register.targets.is_empty() {
                p.add(const { key_bit("target") });
            }
        }
        if q.purpose.is_some() {
            p.add(const { key_bit("purpose") });
        }
        if q.destination.is_some() || q.recipient.is_some() {
            p.add(const { key_bit("destination") | key_bit("destination_in_conflict") });
        }
        if q.areas.is_some() {
            p.add(const { key_bit("areas") });
        }
        if q.controlled_by.is_some() {
            p.add(const { key_bit("controlled_by") });
        }
        if q.border_distance_km.is_some() {
            p.add(const { key_bit("border_distance_km") });
        }
        p
    }

    /// Rule `i`'s probe compiled for the fast evaluator, built on first use
    /// (`None`: Cedar evaluates it).
    fn compiled(&self, i: u32) -> Option<&crate::fast::Compiled> {
        self.compiled[i as usize]
            .get_or_init(|| {
                let policy = self.rules[i as usize].policy.get().ok()?;
                let json = policy.to_json().ok()?;
                let resolve = |ty: crate::fast::Ty, id: &str| match ty {
                    crate::fast::Ty::Lot => self.lot_ix.get(id).copied(),
                    _ => self.facts.lookup(ty, id),
                };
                crate::fast::compile(&json, &resolve)
            })
            .as_ref()
    }

    /// Evaluates the probes of `rules` for `q`, with `approvals` in the
    /// context. On the engine's path, compiled rules run on the fast
    /// evaluator and the others (and any that errors, so that the message is
    /// Cedar's) go to one Cedar call.
    fn evaluate(
        &self,
        q: &Query,
        approvals: &[AuthorityId],
        rules: &[u32],
        path: EvalPath,
    ) -> Result<Probe, RequestError> {
        let mut out = Probe::default();
        if rules.is_empty() {
            return Ok(out);
        }
        let rq = match path {
            EvalPath::CedarOnly => None,
            _ => crate::fast::FastRequest::new(&self.facts, &self.register, q, approvals, |l| {
                self.lot_ix.get(l).copied()
            }),
        };
        let mut slow: Vec<u32> = Vec::new();
        // A rule that reads a fact the request lacks is reported by the
        // facts it needs, never by its error message; asking Cedar for the
        // message would cost it the schema and the entities of the day.
        let mut provided: Option<Provided> = None;
        let lacks_fact = |i: u32, provided: &mut Option<Provided>| {
            let provided = provided.get_or_insert_with(|| self.provided_for(q));
            self.rules[i as usize]
                .reads
                .iter()
                .any(|a| !provided.contains(a))
        };
        match &rq {
            Some(rq) => {
                for &i in rules {
                    match self
                        .compiled(i)
                        .map(|c| c.eval(&self.facts, &self.register, rq))
                    {
                        Some(Ok(true)) => {
                            out.fired.push(i);
                        }
                        Some(Ok(false)) => {}
                        Some(Err(_))
                            if path == EvalPath::FastOnly || lacks_fact(i, &mut provided) =>
                        {
                            out.errored.insert(i, String::new());
                        }
                        Some(Err(_)) => slow.push(i),
                        None => {
                            out.skipped.push(i);
                            if path != EvalPath::FastOnly {
                                slow.push(i);
                            }
                        }
                    }
                }
            }
            None if path == EvalPath::FastOnly => {
                out.skipped = rules.to_vec();
                return Ok(out);
            }
            None => {
                out.skipped = rules.to_vec();
                slow.extend_from_slice(rules);
            }
        }
        if !slow.is_empty() {
            let (request, _) = self.request_for(q, approvals)?;
            let lot_entities = self.entities_for(&q.item, q.as_of)?;
            let entities = match lot_entities.as_deref() {
                Some(e) => e,
                None => self.cedar()?.entities(&self.register)?,
            };
            let p = self.probe(&request, &slow, entities);
            out.fired.extend(p.fired);
            out.errored.extend(p.errored);
        }
        Ok(out)
    }

    /// The second evaluation of `rules`, with `approvals` in the context:
    /// only the rules whose condition reads the approvals are evaluated
    /// again; the others answer as they did in `first` (the request is
    /// otherwise the same).
    fn evaluate_again(
        &self,
        q: &Query,
        approvals: &[AuthorityId],
        rules: &[u32],
        first: &Probe,
    ) -> Result<Probe, RequestError> {
        let mut out = Probe::default();
        let mut again: Picked = Picked::new();
        for &i in rules {
            match self.compiled(i) {
                Some(c) if !c.reads_approvals() => {
                    if first.fired.contains(&i) {
                        out.fired.push(i);
                    }
                    if let Some(e) = first.errored.get(&i) {
                        out.errored.insert(i, e.clone());
                    }
                }
                _ => again.push(i),
            }
        }
        let p = self.evaluate(q, approvals, &again, EvalPath::Engine)?;
        out.fired.extend(p.fired);
        out.errored.extend(p.errored);
        out.skipped = p.skipped;
        Ok(out)
    }

    /// Evaluates the conditions of `rules` (each as a permit with the rule's
    /// scope and condition) for `q`, with `q.approvals` in the context, the
    /// way [`Engine::decide`] does (`EvalPath::Engine`), or on one path
    /// only. For differential tests against Cedar and for benchmarks.
    pub fn evaluate_rules(
        &self,
        q: &Query,
        rules: &[RuleId],
        path: EvalPath,
    ) -> Result<RuleEvaluation, RequestError> {
        let ix: Vec<u32> = rules
            .iter()
            .map(|r| {
                self.by_id
                    .get(r)
                    .copied()
                    .ok_or_else(|| RequestError::Internal(format!("unknown rule `{r}`")))
            })
            .collect::<Result<_, _>>()?;
        let p = self.evaluate(q, &q.approvals, &ix, path)?;
        let id = |i: &u32| self.rules[*i as usize].id.clone();
        Ok(RuleEvaluation {
            satisfied: p.fired.iter().map(id).collect(),
            errored: p.errored.keys().map(id).collect(),
            not_fast: p.skipped.iter().map(id).collect(),
        })
    }

    /// The Cedar schema and the entity type names (with the register's
    /// entities, built when first asked for), built on first use: an
    /// engine of trusted data has not built them, one checked in full has.
    fn cedar(&self) -> Result<&CedarParts, RequestError> {
        self.cedar
            .get_or_init(|| {
                let (schema, _warnings) = Schema::from_cedarschema_str(&self.schema_src)
                    .map_err(|e| format!("invalid cedar schema: {e}"))?;
                Ok(CedarParts {
                    schema,
                    types: Types::new()?,
                    entities: std::sync::OnceLock::new(),
                })
            })
            .as_ref()
            .map_err(|e| RequestError::Internal(format!("cedar cannot evaluate the rules: {e}")))
    }

    /// The probe of rule `i`, built on first use.
    fn probe_policy(&self, i: u32) -> Result<&cedar_policy::Policy, &String> {
        let r = &self.rules[i as usize];
        self.probes[i as usize]
            .get_or_init(|| r.policy.get().map_err(str::to_owned).and_then(probe_of))
            .as_ref()
    }

    /// The entities for a request about `item` on `as_of`: the shared ones,
    /// with parties in the groups they belong to that day, plus the lot when
    /// the item is a lot (`None`: the shared ones will do).
    fn entities_for(
        &self,
        item: &ItemRef,
        as_of: NaiveDate,
    ) -> Result<Option<std::sync::Arc<Entities>>, RequestError> {
        let lot = match item {
            ItemRef::Lot(l) => Some(l),
            ItemRef::Model(_) => None,
        };
        // Membership changes on few days: one entity set per stretch of days.
        let epoch = if self.group_days.is_empty() {
            None
        } else {
            Some(self.group_days.partition_point(|d| *d <= as_of))
        };
        if lot.is_none() && epoch.is_none() {
            return Ok(None);
        }
        let key = (epoch, lot.cloned());
        if let Some(e) = self
            .lot_entities
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(Some(e));
        }
        let internal = |e: String| {
            RequestError::Internal(format!("the request's entities cannot be prepared: {e}"))
        };
        let cedar = self.cedar()?;
        let base = match epoch {
            Some(_) => {
                build_entities(&self.register, &cedar.schema, Some(as_of)).map_err(internal)?
            }
            None => cedar.entities(&self.register)?.clone(),
        };
        let e = match lot {
            Some(lot) => {
                let entity = lot_entity(&self.register, lot).map_err(internal)?;
                base.add_entities([entity], Some(&cedar.schema))
                    .map_err(|e| internal(e.to_string()))?
            }
            None => base,
        };
        let e = std::sync::Arc::new(e);
        if let Ok(mut m) = self.lot_entities.write() {
            if m.len() >= LOT_CACHE_MAX {
                m.clear();
            }
            m.insert(key, e.clone());
        }
        Ok(Some(e))
    }

    /// Evaluates the probes of `rules` in one Cedar call.
    fn probe(&self, request: &Request, rules: &[u32], entities: &Entities) -> Probe {
        let mut out = Probe::default();
        if rules.is_empty() {
            return out;
        }
        let mut key = rules.to_vec();
        key.sort_unstable();
        let cached = self.psets.read().ok().and_then(|m| m.get(&key).cloned());
        let pset = match cached {
            Some(p) => p,
            None => {
                let mut probes = Vec::with_capacity(key.len());
                for &i in &key {
                    match self.probe_policy(i) {
                        Ok(p) => probes.push(p.clone()),
                        Err(e) => {
                            out.errored.insert(i, e.clone());
                        }
                    }
                }
                let Ok(p) = PolicySet::from_policies(probes) else {
                    // Rule ids are unique (checked at load), so this cannot
                    // happen; report the rules as unevaluated rather than guess.
                    for &i in rules {
                        out.errored
                            .insert(i, "could not assemble the policy set".into());
                    }
                    return out;
                };
                let p = std::sync::Arc::new(p);
                if let Ok(mut m) = self.psets.write() {
                    if m.len() >= PSET_CACHE_MAX {
                        m.clear();
                    }
                    m.insert(key, p.clone());
                }
                p
            }
        };
        let resp = self.authorizer.is_authorized(request, &pset, entities);
        let ix = |id: &cedar_policy::PolicyId| {
            let name: &str = id.as_ref();
            self.by_id.get(name).copied()
        };
        out.fired = resp.diagnostics().reason().filter_map(ix).collect();
        for e in resp.diagnostics().errors() {
            let cedar_policy::AuthorizationError::PolicyEvaluationError(pe) = e;
            if let Some(i) = ix(pe.policy_id()) {
                out.errored.insert(i, pe.inner().to_string());
            }
        }
        out
    }

    /// The default of `link`'s party that applies to `q`, if any: in force,
    /// public by known-at, of a used status; one attached to the transfer
    /// through which the party binds wins over a general one.
    fn default_for(
        &self,
        link: &ChainLink,
        q: &Query,
        use_disputed: bool,
    ) -> Option<&PartyDefault> {
        let via: Vec<&crate::ids::TransferId> = link
            .roles
            .iter()
            .filter_map(|r| match r {
                Role::Supplier { transfer, .. } => Some(transfer),
                _ => None,
            })
            .collect();
        self.register
            .defaults
            .iter()
            .filter(|d| {
                d.party == link.party
                    && d.actions.contains(&q.action)
                    && d.in_force(q.as_of)
                    && self.default_public(d) <= q.known_at
                    && Self::status_used(d.status, q, use_disputed)
                    && (d.transfers.is_empty() || d.transfers.iter().any(|t| via.contains(&t)))
            })
            .max_by_key(|d| !d.transfers.is_empty())
    }

    /// Applies the party's default where its rules are silent. Returns false
    /// when it has none.
    fn apply_default(&self, link: &ChainLink, c: &PartyCtx<'_>, pd: &mut PartyDecision) -> bool {
        if link.roles == [Role::Own] {
            return false;
        }
        let q = c.q;
        let Some(d) = self.default_for(link, q, c.use_disputed) else {
            return false;
        };
        let cite = self.default_ref(d, q.as_of);
        pd.missing.clear();
        match d.effect {
            DefaultEffect::Permit => {
                pd.outcome = Outcome::Permit;
                pd.reason = format!(
                    "{}'s conditions do not restrict this; {}",
                    link.name, d.summary
                );
                pd.rules = vec![cite];
            }
            DefaultEffect::Forbid => {
                pd.outcome = Outcome::Forbid;
                pd.reason = format!(
                    "{}'s conditions do not permit this; {}",
                    link.name, d.summary
                );
                pd.rules = vec![cite];
            }
            DefaultEffect::NeedsApproval => {
                let Some(named) = d.authority.as_ref() else {
                    return false;
                };
                let grant = c
                    .covering
                    .iter()
                    .find(|g| g.granted && self.same_decider(&g.authority, named));
                let asked = q.approvals.iter().any(|a| self.same_decider(a, named));
                if let Some(g) = grant.filter(|_| !asked) {
                    pd.outcome = Outcome::Permit;
                    pd.reason = format!(
                        "{} requires the consent of {}, and it was given: {}",
                        link.name,
                        self.authority_name(named),
                        g.summary
                    );
                    pd.rules = vec![cite, self.consent_ref(g, q.as_of)];
                } else if asked {
                    pd.outcome = Outcome::Permit;
                    pd.reason = format!(
                        "{} requires the consent of {}; permitted with the approval given",
                        link.name,
                        self.authority_name(named)
                    );
                    pd.rules = vec![cite];
                } else {
                    pd.outcome = Outcome::NeedsApproval;
                    pd.reason = format!(
                        "{} requires the consent of {}: {}",
                        link.name,
                        self.authority_name(named),
                        d.summary
                    );
                    pd.rules = vec![cite];
                }
            }
        }
        true
    }

    fn decide_party(&self, link: &ChainLink, known: &[u32], c: &PartyCtx<'_>) -> PartyDecision {
        let q = c.q;
        let (first, approved_probe, provided) = (c.first, c.second, c.provided);
        let role = crate::decision::role_labels(&link.roles);
        let mut pd = PartyDecision {
            party: link.party.clone(),
            name: link.name.clone(),
            role,
            // Moved in from the chain link by the caller.
            roles: Vec::new(),
            outcome: Outcome::Indeterminate,
            rules: Vec::new(),
            missing: Vec::new(),
            reason: String::new(),
        };
        let rule = |i: &u32| &self.rules[*i as usize];
        // A party has a handful of rules that fire: lists on the stack.
        let fired: Rules<'_> = known
            .iter()
            .filter(|i| first.fired.contains(i))
            .map(rule)
            .collect();
        // Refusals by this party's authorities that cover the request, unless
        // the query asks "as if approved" by one of them. A refusal under a
        // named rule counts only where that rule applies.
        let refusals: Vec<&Consent> = c
            .covering
            .iter()
            .copied()
            .filter(|x| {
                !x.granted
                    && self.authority_party(&x.authority) == link.party
                    && x.rule
                        .as_ref()
                        .is_none_or(|id| fired.iter().any(|r| &r.id == id))
                    && !q
                        .approvals
                        .iter()
                        .any(|a| self.same_decider(a, &x.authority))
            })
            .collect();
        let refusal_refs = |pd: &mut PartyDecision| {
            for x in &refusals {
                pd.rules.push(self.consent_ref(x, q.as_of));
            }
        };
        if known.is_empty() {
            if !refusals.is_empty() {
                pd.outcome = Outcome::Forbid;
                refusal_refs(&mut pd);
                pd.reason = format!("{} refused: {}", link.name, refusals[0].summary);
                return pd;
            }
            if self.apply_default(link, c, &mut pd) {
                return pd;
            }
            pd.reason = if link.rules_on_record == 0 {
                format!(
                    "{} has no conditions on record for {}, and no declared default",
                    link.name,
                    self.item_label(q)
                )
            } else {
                format!(
                    "{} has no conditions on record for {} in force on {} and public by {}, and no declared default",
                    link.name,
                    self.item_label(q),
                    q.as_of,
                    q.known_at
                )
            };
            pd.missing
                .push(format!("conditions of {} ({})", link.name, link.party));
            return pd;
        }
        let errored: Vec<(&Rule, &String)> = known
            .iter()
            .filter_map(|i| first.errored.get(i).map(|e| (rule(i), e)))
            .collect();
        let missing_of = |r: &Rule| -> Vec<String> {
            r.reads
                .iter()
                .filter(|a| !provided.contains(a))
                .map(|a| missing_fact(a))
                .collect()
        };
        let plain: Rules<'_> = fired
            .iter()
            .copied()
            .filter(|r| r.effect == RuleEffect::Forbid)
            .collect();
        let (approved, approval): (Rules<'_>, Rules<'_>) = fired
            .iter()
            .copied()
            .filter(|r| r.effect == RuleEffect::RequiresApproval)
            .partition(|r| r.approval.as_ref().is_some_and(|a| c.effective.contains(a)));
        let mut permits: Rules<'_> = if approved.is_empty() {
            fired
                .iter()
                .copied()
                .filter(|r| r.effect == RuleEffect::Permit)
                .collect()
        } else {
            SmallVec::new()
        };
        if plain.is_empty() && approval.is_empty() && !approved.is_empty() {
            // Every restriction that fired is lifted by an approval given. The
            // second evaluation, with the approvals in the context, confirms
            // the lift in Cedar itself and names the permits that apply.
            if let Some(second) = approved_probe {
                let again: Rules<'_> = known
                    .iter()
                    .filter(|i| second.fired.contains(i))
                    .map(rule)
                    .collect();
                if again.iter().all(|r| r.effect == RuleEffect::Permit) {
                    permits = again;
                    permits.extend(approved.iter().copied());
                }
            }
        }
        // The recorded grants that lifted a restriction (not the query's
        // "as if approved"), to be cited.
        let grants: Vec<&Consent> = c
            .covering
            .iter()
            .copied()
            .filter(|g| {
                g.granted
                    && approved.iter().any(|r| {
                        r.approval.as_ref().is_some_and(|n| {
                            self.same_decider(&g.authority, n)
                                && !q.approvals.iter().any(|a| self.same_decider(a, n))
                        })
                    })
            })
            .collect();
        let errored_restrictions: Vec<&(&Rule, &String)> = errored
            .iter()
            .filter(|(r, _)| r.effect.restricts())
            .collect();
        let explain_missing = |pd: &mut PartyDecision, list: &[&(&Rule, &String)]| {
            for (r, err) in list {
                let m = missing_of(r);
                if m.is_empty() {
                    pd.missing
                        .push(format!("rule `{}` could not be evaluated: {err}", r.id));
                } else {
                    pd.missing.extend(m);
                }
            }
            pd.missing.sort();
            pd.missing.dedup();
        };

        let refs = |rs: &[&Rule]| {
            rs.iter()
                .map(|r| self.rule_ref(r, q.as_of))
                .collect::<Vec<_>>()
        };
        if !plain.is_empty() {
            pd.outcome = Outcome::Forbid;
            pd.rules = refs(&plain);
            refusal_refs(&mut pd);
            pd.reason = cat(&[&link.name, " forbids: ", &plain[0].summary]);
        } else if !refusals.is_empty() {
            pd.outcome = Outcome::Forbid;
            refusal_refs(&mut pd);
            pd.rules.extend(refs(&approval));
            pd.reason = format!("{} refused: {}", link.name, refusals[0].summary);
        } else if !errored_restrictions.is_empty() {
            pd.outcome = Outcome::Indeterminate;
            pd.rules = errored_restrictions
                .iter()
                .map(|(r, _)| self.rule_ref(r, q.as_of))
                .collect();
            explain_missing(&mut pd, &errored_restrictions);
            pd.reason = format!(
                "a restriction of {} may apply, but the request lacks {}",
                link.name,
                pd.missing.join(", ")
            );
        } else if !approval.is_empty() {
            pd.outcome = Outcome::NeedsApproval;
            pd.rules = refs(&approval);
            let who: SmallVec<[Arc<str>; 4]> = approval
                .iter()
                .filter_map(|r| r.approval.as_ref().map(|a| self.authority_name(a)))
                .collect();
            pd.reason = cat(&[&link.name, " requires approval by ", &who.join(" and ")]);
        } else if !permits.is_empty() {
            pd.outcome = Outcome::Permit;
            pd.rules = refs(&permits);
            for g in &grants {
                pd.rules.push(self.consent_ref(g, q.as_of));
            }
            pd.reason = match permits.iter().find(|r| r.effect == RuleEffect::Permit) {
                Some(p) if approved.is_empty() => cat(&[&link.name, " permits: ", &p.summary]),
                Some(p) if !grants.is_empty() => format!(
                    "{} permits, with the consent on record ({}): {}",
                    link.name, grants[0].summary, p.summary
                ),
                Some(p) => cat(&[
                    &link.name,
                    " permits, with the approval given: ",
                    &p.summary,
                ]),
                None if !grants.is_empty() => format!(
                    "{} permits with the consent on record: {}",
                    link.name, grants[0].summary
                ),
                None => format!("{} permits with the approval given", link.name),
            };
        } else if !errored.is_empty() {
            pd.outcome = Outcome::Indeterminate;
            pd.rules = errored
                .iter()
                .map(|(r, _)| self.rule_ref(r, q.as_of))
                .collect();
            let all: Vec<&(&Rule, &String)> = errored.iter().collect();
            explain_missing(&mut pd, &all);
            pd.reason = format!(
                "a permission of {} may apply, but the request lacks {}",
                link.name,
                pd.missing.join(", ")
            );
        } else if !self.apply_default(link, c, &mut pd) {
            pd.outcome = Outcome::Indeterminate;
            pd.reason = format!(
                "{} has conditions on record for {}, but none covers this request, and it declared no default",
                link.name,
                self.item_label(q)
            );
            pd.missing.push(format!(
                "a rule of {} ({}) covering `{}`",
                link.name, link.party, q.action
            ));
        }
        pd
    }

    fn item_label(&self, q: &Query) -> String {
        match &q.item {
            ItemRef::Model(m) => m.to_string(),
            ItemRef::Lot(l) => format!("lot {l}"),
        }
    }

    /// Rules of `party` in force on `as_of` and public by `known_at`, in id
    /// order, then its defaults and the decisions of its authorities.
    pub fn rules_in_force(
        &self,
        party: &PartyId,
        as_of: NaiveDate,
        known_at: NaiveDate,
    ) -> Vec<RuleRef> {
        let mut v: Vec<RuleRef> = self
            .by_owner
            .get(party)
            .into_iter()
            .flatten()
            .map(|&i| &self.rules[i as usize])
            .filter(|r| r.in_force(as_of) && r.known_on(known_at))
            .chain(
                self.revived(party, as_of, known_at)
                    .into_iter()
                    .map(|i| &self.rules[i as usize]),
            )
            .map(|r| self.rule_ref(r, as_of))
            .collect();
        // Its declared defaults, and the decisions of its authorities that
        // can be used on the day, as they were known.
        v.extend(
            self.register
                .defaults
                .iter()
                .filter(|d| {
                    &d.party == party && d.in_force(as_of) && self.default_public(d) <= known_at
                })
                .map(|d| self.default_ref(d, as_of)),
        );
        v.extend(
            self.register
                .consents
                .iter()
                .filter(|c| {
                    &c.authority.party() == party
                        && c.window_covers(as_of)
                        && self.consent_public(c) <= known_at
                })
                .map(|c| self.consent_ref(c, as_of)),
        );
        v.sort_by(|a, b| (a.kind as u8, &a.id).cmp(&(b.kind as u8, &b.id)));
        v
    }

    /// Every rule that can bind `model` (of its origin, dependency providers,
    /// suppliers of its lots, and treaties prohibiting its category).
    pub fn rules_for_model(&self, model: &ModelId) -> Result<Vec<&Rule>, RequestError> {
        let m = self.model_of(&ItemRef::Model(model.clone()))?;
        let mut parties: BTreeSet<PartyId> = BTreeSet::new();
        parties.insert(m.origin.clone());
        for d in &m.dependencies {
            parties.insert(d.provider.clone());
        }
        for t in self.register.transfers.values() {
            if self
                .register
                .lots
                .get(&t.lot)
                .is_some_and(|l| &l.model == model)
            {
                parties.insert(t.from.clone());
            }
        }
        let cats = self.register.category_chain(&m.category);
        for t in self.register.treaties.values() {
            if t.prohibits.iter().any(|c| cats.contains(c)) {
                parties.insert(t.id.clone());
            }
        }
        let mut keys = self.res_keys(m, &ItemRef::Model(model.clone()));
        for l in self.register.lots.values().filter(|l| &l.model == model) {
            if let Some(&i) = self.lot_ix.get(&l.id) {
                keys.push(ResKey::Lot(i));
            }
        }
        let mut out: Vec<&Rule> = parties
            .iter()
            .flat_map(|p| self.candidates_all_time(p, &keys))
            .map(|i| &self.rules[i as usize])
            .filter(|r| self.mentions_other_model_only(r, model))
            .collect();
        out.sort_by(|a, b| {
            a.valid_from
                .earliest()
                .cmp(&b.valid_from.earliest())
                .then(a.id.cmp(&b.id))
        });
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    /// Whether an unscoped rule can match `model`: a rule that names other
    /// models in its condition but not this one is about those models, and
    /// one that tests `resource.origin == Party::"X"` (or a category) only
    /// for other origins (or categories) cannot match this model either.
    fn mentions_other_model_only(&self, r: &Rule, model: &ModelId) -> bool {
        let Some(m) = self.register.models.get(model) else {
            return true;
        };
        let lits = r
            .policy
            .get()
            .map(|p| p.entity_literals())
            .unwrap_or_default();
        let named = |ty: &str| -> Vec<String> {
            lits.iter()
                .filter(|u| u.type_name().to_string() == ty)
                .map(|u| u.id().unescaped().to_owned())
                .collect()
        };
        let models = named("Model");
        if !models.is_empty() && !models.iter().any(|x| x == model.as_str()) {
            return false;
        }
        // `resource.origin == Party::"X"` as the only test of origin: the
        // rule is about X's designs.
        let text = r.policy.text();
        let origins: Vec<&str> = text
            .match_indices("resource.origin == Party::\"")
            .filter_map(|(i, pat)| {
                let rest = &text[i + pat.len()..];
                rest.find('"').map(|e| &rest[..e])
            })
            .collect();
        if !origins.is_empty()
            && !text.contains("resource.origin !=")
            && !origins.contains(&m.origin.as_str())
        {
            return false;
        }
        let cats = named("Category");
        if !cats.is_empty() && r.header.resource.is_none() {
            let chain = self.register.category_chain(&m.category);
            if !cats.iter().any(|c| chain.iter().any(|x| x.as_str() == c)) {
                return false;
            }
        }
        true
    }

    /// The day a consent decision counts as public (see [`Consent::public_bound`]).
    pub fn consent_public_day(&self, c: &Consent) -> NaiveDate {
        self.consent_public(c)
    }

    /// Converts a rule to its citation form.
    pub fn cite(&self, r: &Rule, as_of: NaiveDate) -> RuleRef {
        self.rule_ref(r, as_of)
    }
}

/// The concatenation of `parts`, allocated once (`format!` would grow the
/// string piece by piece: these reasons are built on every decision).
fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// A fact a request lacked, with the option that supplies it.
fn missing_fact(attr: &str) -> String {
    let how = match attr {
        "place" => "--place, or --at LAT,LON",
        "border_distance_km" => "--at LAT,LON, or --border-distance-km",
        "controlled_by" | "areas" => "--at LAT,LON",
        "recipient" | "recipient_in_conflict" => "--recipient",
        "destination" | "destination_in_conflict" => "--destination or --recipient",
        "target_class" | "target" => "--target-class",
        "purpose" => "--purpose",
        _ => return attr.to_owned(),
    };
    format!("{attr} (give {how})")
}

/// An entity reference as a context value.
fn entity(ty: &EntityTypeName, id: &str) -> RestrictedExpression {
    RestrictedExpression::new_entity_uid(EntityUid::from_type_name_and_id(
        ty.clone(),
        EntityId::new(id),
    ))
}

/// A permit with the same id, scope and condition as `p`.
fn probe_of(p: &cedar_policy::Policy) -> Result<cedar_policy::Policy, String> {
    let mut json = p.to_json().map_err(|e| e.to_string())?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("effect".into(), serde_json::Value::String("permit".into()));
    }
    cedar_policy::Policy::from_json(Some(p.id().clone()), json).map_err(|e| e.to_string())
}

/// Work on a value owned for the time, done on another thread when one
/// can be had, else here at the join.
struct Aside<T, R> {
    running: Option<std::thread::JoinHandle<Option<(T, R)>>>,
    here: Option<T>,
    work: fn(&T) -> R,
}

impl<T, R> Aside<T, R> {
    /// The value back, with the work's result; `None` only if the thread
    /// died, taking the value with it.
    fn join(self) -> Option<(T, R)> {
        if let Some(v) = self.here {
            let r = (self.work)(&v);
            return Some((v, r));
        }
        self.running?.join().ok().flatten()
    }
}

fn aside<T: Send + 'static, R: Send + 'static>(value: T, work: fn(&T) -> R) -> Aside<T, R> {
    // The value is sent only to a thread that started: one that could not
    // start would drop it.
    let (tx, rx) = std::sync::mpsc::channel::<T>();
    let started = std::thread::Builder::new()
        .name("enduse-index".into())
        .spawn(move || {
            let v = rx.recv().ok()?;
            let r = work(&v);
            Some((v, r))
        });
    let here = |value| Aside {
        running: None,
        here: Some(value),
        work,
    };
    match started {
        Ok(handle) => match tx.send(value) {
            Ok(()) => Aside {
                running: Some(handle),
                here: None,
                work,
            },
            Err(back) => here(back.0),
        },
        Err(_) => here(value),
    }
}

/// The lot indexes being built aside (see [`Engine::with_checks`]).
type LotSide =
    Aside<std::collections::BTreeMap<LotId, crate::register::Lot>, crate::register::LotIndexes>;
/// The transfer indexes being built aside.
type TransferSide = Aside<
    std::collections::BTreeMap<TransferId, crate::register::Transfer>,
    crate::register::TransferIndex,
>;

fn index_stopped() -> Vec<Problem> {
    vec![Problem::new(
        Origin::File {
            file: "register".into(),
            span: None,
        },
        "building the register's indexes stopped".to_owned(),
    )]
}

/// The entities of the register. Party entities are in the groups they
/// belong to on `day` (none when `None`).
pub(crate) fn build_entities(
    reg: &Register,
    schema: &Schema,
    day: Option<NaiveDate>,
) -> Result<Entities, String> {
    let mut out: Vec<Entity> = Vec::new();
    let e = |x: cedar_policy::EntityAttrEvaluationError| x.to_string();
    for p in reg.parties.values() {
        let mut attrs = HashMap::new();
        attrs.insert(
            "kind".to_string(),
            RestrictedExpression::new_string(format!("{:?}", p.kind).to_lowercase()),
        );
        let groups = match day {
            Some(d) => reg
                .groups_of(&p.id, d)
                .into_iter()
                .map(|g| uid("Group", g))
                .collect::<Result<HashSet<_>, _>>()?,
            None => HashSet::new(),
        };
        out.push(Entity::new(uid("Party", p.id.as_str())?, attrs, groups).map_err(e)?);
    }
    for g in reg.groups.values() {
        out.push(Entity::new_no_attrs(uid("Group", &g.id)?, HashSet::new()));
    }
    for a in reg.areas.keys() {
        out.push(Entity::new_no_attrs(uid("Area", a)?, HashSet::new()));
    }
    for (ty, terms) in [("TargetClass", &reg.targets), ("Purpose", &reg.purposes)] {
        for t in terms.values() {
            let parents = t
                .parent
                .iter()
                .map(|p| uid(ty, p))
                .collect::<Result<HashSet<_>, _>>()?;
            out.push(Entity::new_no_attrs(uid(ty, &t.id)?, parents));
        }
    }
    for c in reg.categories.values() {
        let parents = c
            .parent
            .iter()
            .map(|p| uid("Category", p.as_str()))
            .collect::<Result<HashSet<_>, _>>()?;
        out.push(Entity::new_no_attrs(
            uid("Category", c.id.as_str())?,
            parents,
        ));
    }
    for p in reg.places.values() {
        let parents = p
            .parent
            .iter()
            .map(|x| uid("Place", x.as_str()))
            .collect::<Result<HashSet<_>, _>>()?;
        let mut attrs = HashMap::new();
        attrs.insert(
            "kind".to_string(),
            RestrictedExpression::new_string(format!("{:?}", p.kind).to_lowercase()),
        );
        out.push(Entity::new(uid("Place", p.code.as_str())?, attrs, parents).map_err(e)?);
    }
    for m in reg.models.values() {
        let parents = HashSet::from([uid("Category", m.category.as_str())?]);
        out.push(
            Entity::new(
                uid("Model", m.id.as_str())?,
                item_attrs(m, m.persistent)?,
                parents,
            )
            .map_err(e)?,
        );
    }
    Entities::from_entities(out, Some(schema)).map_err(|x| x.to_string())
}

/// The attributes a model and its lots share.
fn item_attrs(
    m: &ItemModel,
    persistent: bool,
) -> Result<HashMap<String, RestrictedExpression>, String> {
    let providers = |k: crate::register::DependencyKind| -> Result<RestrictedExpression, String> {
        let v = m
            .dependencies
            .iter()
            .filter(|d| d.kind == k)
            .map(|d| uid("Party", d.provider.as_str()).map(RestrictedExpression::new_entity_uid))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RestrictedExpression::new_set(v))
    };
    let mut a = HashMap::new();
    a.insert(
        "origin".into(),
        RestrictedExpression::new_entity_uid(uid("Party", m.origin.as_str())?),
    );
    a.insert(
        "persistent".into(),
        RestrictedExpression::new_bool(persistent),
    );
    a.insert(
        "data_providers".into(),
        providers(crate::register::DependencyKind::Data)?,
    );
    a.insert(
        "component_providers".into(),
        providers(crate::register::DependencyKind::Component)?,
    );
    a.insert(
        "service_providers".into(),
        providers(crate::register::DependencyKind::Service)?,
    );
    Ok(a)
}

/// The Cedar entity of one lot. Lots are added to the entities per request
/// rather than all at load: a register of 500,000 lots would otherwise cost
/// seconds and gigabytes before the first decision.
fn lot_entity(reg: &Register, lot: &LotId) -> Result<Entity, String> {
    let l = reg
        .lots
        .get(lot)
        .ok_or_else(|| format!("unknown lot `{lot}`"))?;
    let m = reg
        .models
        .get(&l.model)
        .ok_or_else(|| format!("lot `{lot}` has unknown model `{}`", l.model))?;
    let mut attrs = item_attrs(m, l.persistent.unwrap_or(m.persistent))?;
    attrs.insert(
        "model".into(),
        RestrictedExpression::new_entity_uid(uid("Model", m.id.as_str())?),
    );
    attrs.insert(
        "quantity".into(),
        RestrictedExpression::new_long(l.quantity.and_then(|q| i64::try_from(q).ok()).unwrap_or(0)),
    );
    let parents = HashSet::from([uid("Model", m.id.as_str())?]);
    Entity::new(uid("Lot", l.id.as_str())?, attrs, parents).map_err(|x| x.to_string())
}

#[cfg(test)]
mod tests {
    use super::{key_bit, Provided};
    use crate::fast::CONTEXT_KEYS;

    #[test]
    fn every_context_key_has_its_own_bit() {
        let mut seen = 0u16;
        for k in CONTEXT_KEYS {
            let b = key_bit(k);
            assert_eq!(b.count_ones(), 1, "{k}");
            assert_eq!(seen & b, 0, "{k} shares a bit");
            seen |= b;
        }
        assert_eq!(key_bit("no_such_fact"), 0);
        let mut p = Provided::default();
        p.add(key_bit("place") | key_bit("border_distance_km"));
        assert!(p.contains("place") && p.contains("border_distance_km"));
        assert!(!p.contains("recipient") && !p.contains("no_such_fact"));
    }
}
