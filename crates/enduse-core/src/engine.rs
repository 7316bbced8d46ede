//! The engine: finds the parties whose conditions bind a request, selects
//! each party's rules in force and known on the request's dates, evaluates
//! them with Cedar party by party, and composes the answers.

use crate::date::DateSpec;
use crate::decision::{
    ApprovalNeed, ChainLink, Decision, Outcome, PartyDecision, Role, RuleRef, SourceRef,
};
use crate::ids::{CategoryId, LotId, ModelId, PartyId, PlaceCode, RuleId};
use crate::problem::{Origin, Problem};
use crate::query::{suggest, Action, ItemRef, Query, RequestError};
use crate::register::{ItemModel, Register};
use crate::rule::{Rule, RuleEffect};
use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;

/// Which resources a rule's scope names; used to pick candidate rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ResKey {
    Any,
    Model(u32),
    Category(u32),
    Lot(u32),
}

const ANY_ACTION: u8 = u8::MAX;

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
    by_id: HashMap<RuleId, u32>,
    /// Per owner: rules by (action, resource key).
    index: HashMap<PartyId, HashMap<(u8, ResKey), Bucket>>,
    /// Per owner: all its rules (for listings).
    by_owner: HashMap<PartyId, Vec<u32>>,
    /// Per owner: (superseded rule, successor) pairs.
    superseded: HashMap<PartyId, Vec<(u32, u32)>>,
    model_ix: HashMap<ModelId, u32>,
    category_ix: HashMap<CategoryId, u32>,
    lot_ix: HashMap<LotId, u32>,
    entities: Entities,
    authorizer: Authorizer,
    /// Per rule, a permit with the same scope and condition. Evaluating the
    /// probes of every binding party in one Cedar call tells which rules are
    /// satisfied and which fail to evaluate; each party's outcome is then
    /// composed from its own rules' effects.
    /// Built on first use: most rules of a large register are never asked.
    probes: Vec<std::sync::OnceLock<Result<cedar_policy::Policy, String>>>,
    types: Types,
    schema: Schema,
    /// Entities with one lot added, for requests about that lot.
    lot_entities: std::sync::RwLock<HashMap<LotId, std::sync::Arc<Entities>>>,
    /// Lots of each model, and transfers of each lot in date order: the
    /// chain walk runs on every decision.
    lots_of_model: HashMap<ModelId, Vec<LotId>>,
    transfers_of_lot: HashMap<LotId, Vec<crate::ids::TransferId>>,
    /// Policy sets of probes, by the rules they hold. The same few sets come
    /// back for every request about the same item, parties and epoch.
    psets: std::sync::RwLock<HashMap<Vec<u32>, std::sync::Arc<PolicySet>>>,
}

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
        })
    }
}

/// What one Cedar call over probes found.
#[derive(Default)]
struct Probe {
    fired: HashSet<u32>,
    errored: HashMap<u32, String>,
}

fn uid(ty: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(ty).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
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

        // One order whatever the source: a store returns rules by id, files
        // by position, and answers must not depend on which was read.
        let mut rules = rules;
        rules.sort_by(|a, b| (&a.owner, &a.id).cmp(&(&b.owner, &b.id)));
        let mut by_id = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            by_id.insert(r.id.clone(), i as u32);
        }

        if let Some(schema) = schema.as_ref().filter(|_| full) {
            if let Ok(pset) =
                PolicySet::from_policies(rules.iter().filter_map(|r| r.policy.get().ok().cloned()))
            {
                let result = Validator::new(schema.clone()).validate(&pset, ValidationMode::Strict);
                for e in result.validation_errors() {
                    let id = RuleId::new(e.policy_id().to_string());
                    let origin = by_id
                        .get(&id)
                        .map(|&i| Origin::File {
                            file: rules[i as usize].file.clone(),
                            span: Some(rules[i as usize].span.clone()),
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
            }
        }

        let entities = match &schema {
            Some(schema) => match build_entities(&register, schema) {
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

        let model_ix: HashMap<ModelId, u32> = register
            .models
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        let category_ix: HashMap<CategoryId, u32> = register
            .categories
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        let lot_ix: HashMap<LotId, u32> = register
            .lots
            .keys()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();

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
        let mut superseded: HashMap<PartyId, Vec<(u32, u32)>> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            if let Some(old) = r.supersedes.as_ref().and_then(|o| by_id.get(o)) {
                superseded
                    .entry(r.owner.clone())
                    .or_default()
                    .push((*old, i as u32));
            }
        }
        for pairs in superseded.values_mut() {
            pairs.sort_by_key(|&(_, new)| rules[new as usize].recorded_at);
        }
        let index = raw
            .into_iter()
            .map(|(p, buckets)| {
                let b = buckets
                    .into_iter()
                    .map(|(k, members)| (k, Bucket::build(&rules, &members)))
                    .collect();
                (p, b)
            })
            .collect();

        let probes = rules.iter().map(|_| std::sync::OnceLock::new()).collect();
        let types = Types::new().map_err(|e| {
            vec![Problem::new(
                Origin::File {
                    file: "schema.cedarschema".into(),
                    span: None,
                },
                e,
            )]
        })?;
        let mut lots_of_model: HashMap<ModelId, Vec<LotId>> = HashMap::new();
        for l in register.lots.values() {
            lots_of_model
                .entry(l.model.clone())
                .or_default()
                .push(l.id.clone());
        }
        // One pass over the transfers: a lookup per lot would be quadratic in
        // a register of a million transfers.
        let mut by_lot: HashMap<LotId, Vec<&crate::register::Transfer>> = HashMap::new();
        for t in register.transfers.values() {
            by_lot.entry(t.lot.clone()).or_default().push(t);
        }
        let transfers_of_lot: HashMap<LotId, Vec<crate::ids::TransferId>> = by_lot
            .into_iter()
            .map(|(l, mut v)| {
                v.sort_by_key(|t| t.first_date());
                (l, v.into_iter().map(|t| t.id.clone()).collect())
            })
            .collect();
        Ok(Self {
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
            entities,
            authorizer: Authorizer::new(),
            probes,
            types,
            schema,
            lot_entities: std::sync::RwLock::new(HashMap::new()),
        })
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

    /// Resolves a party code, or says which codes are close.
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
        Err(RequestError::UnknownParty {
            id: s.to_owned(),
            help: suggest(s, self.register.parties.keys().map(PartyId::as_str)),
        })
    }

    /// Resolves a model designation, name or alias.
    pub fn resolve_model(&self, s: &str) -> Result<ModelId, RequestError> {
        self.register
            .find_model(s)
            .map(|m| m.id.clone())
            .ok_or_else(|| RequestError::UnknownModel {
                id: s.to_owned(),
                help: suggest(s, self.register.models.keys().map(ModelId::as_str)),
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

    /// Resolves a place code (case-insensitive).
    pub fn resolve_place(&self, s: &str) -> Result<PlaceCode, RequestError> {
        self.register
            .places
            .keys()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .cloned()
            .ok_or_else(|| RequestError::UnknownPlace {
                id: s.to_owned(),
                help: suggest(s, self.register.places.keys().map(PlaceCode::as_str)),
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
        let model = self.model_of(item)?;
        let mut roles: BTreeMap<PartyId, Vec<Role>> = BTreeMap::new();
        let mut order: Vec<PartyId> = Vec::new();
        let mut add = |p: &PartyId, r: Role| {
            if p == actor {
                return;
            }
            if !order.contains(p) {
                order.push(p.clone());
            }
            let v = roles.entry(p.clone()).or_default();
            if !v.contains(&r) {
                v.push(r);
            }
        };
        add(&model.origin, Role::Origin);

        let lots: Vec<&LotId> = match item {
            ItemRef::Lot(l) => vec![l],
            ItemRef::Model(m) => self
                .lots_of_model
                .get(m)
                .map(|v| v.iter().collect())
                .unwrap_or_default(),
        };
        for lot in lots {
            let transfers: Vec<&crate::register::Transfer> = self
                .transfers_of_lot
                .get(lot)
                .into_iter()
                .flatten()
                .filter_map(|t| self.register.transfers.get(t))
                .collect();
            let mut holder = actor.clone();
            let mut seen: HashSet<&str> = HashSet::new();
            // Walk back from the actor: who gave it to the holder, and so on.
            while let Some(t) = transfers.iter().rev().find(|t| {
                t.to == holder
                    && t.first_date().is_some_and(|d| d <= as_of)
                    && !seen.contains(t.id.as_str())
            }) {
                seen.insert(t.id.as_str());
                add(
                    &t.from,
                    Role::Supplier {
                        transfer: t.id.clone(),
                        attached_conditions: !t.conditions.is_empty(),
                    },
                );
                holder = t.from.clone();
            }
        }
        for d in &model.dependencies {
            add(
                &d.provider,
                Role::Provider {
                    kind: d.kind,
                    what: d.what.clone(),
                },
            );
        }
        let cats = self.register.category_chain(&model.category);
        for t in self.register.treaties.values() {
            if t.prohibits.iter().any(|c| cats.contains(c)) && t.binds(actor, as_of) {
                add(&t.id, Role::Treaty);
            }
        }
        let keys = self.res_keys(model, item);
        Ok(order
            .into_iter()
            .map(|p| {
                let r = roles.remove(&p).unwrap_or_default();
                let binds = r.iter().any(Role::binds);
                let rules_on_record = self.candidates_all_time(&p, &keys).len();
                ChainLink {
                    name: self.register.party_name(&p),
                    party: p,
                    roles: r,
                    binds,
                    rules_on_record,
                }
            })
            .collect())
    }

    fn res_keys(&self, model: &ItemModel, item: &ItemRef) -> Vec<ResKey> {
        let mut keys = vec![ResKey::Any];
        if let Some(&m) = self.model_ix.get(&model.id) {
            keys.push(ResKey::Model(m));
        }
        for c in self.register.category_chain(&model.category) {
            if let Some(&c) = self.category_ix.get(&c) {
                keys.push(ResKey::Category(c));
            }
        }
        if let ItemRef::Lot(l) = item {
            if let Some(&l) = self.lot_ix.get(l) {
                keys.push(ResKey::Lot(l));
            }
        }
        keys
    }

    /// Rules of `party` in force on `as_of` whose scope can match.
    fn candidates(
        &self,
        party: &PartyId,
        action: Action,
        keys: &[ResKey],
        as_of: NaiveDate,
    ) -> Vec<u32> {
        let Some(buckets) = self.index.get(party) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for a in [action.index(), ANY_ACTION] {
            for k in keys {
                if let Some(b) = buckets.get(&(a, *k)) {
                    out.extend_from_slice(b.in_force(as_of));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
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
        let from = pairs.partition_point(|&(_, new)| self.rules[new as usize].known_on(known_at));
        pairs[from..]
            .iter()
            .filter(|&&(old, new)| {
                let (o, n) = (&self.rules[old as usize], &self.rules[new as usize]);
                !n.known_on(known_at)
                    && o.known_on(known_at)
                    && o.effective_start() <= as_of
                    && !o.in_force(as_of)
            })
            .map(|&(old, _)| old)
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
        let mut out = Vec::new();
        for a in actions {
            for k in keys {
                if let Some(b) = buckets.get(&(*a, *k)) {
                    out.extend_from_slice(f(b));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Rules of `party` whose scope can match `action` and `keys`, at any time.
    fn candidates_for_action(&self, party: &PartyId, action: Action, keys: &[ResKey]) -> Vec<u32> {
        self.gather(party, &[action.index(), ANY_ACTION], keys, |b| &b.all)
    }

    /// Rules of `party` whose scope can match, at any time and for any action.
    fn candidates_all_time(&self, party: &PartyId, keys: &[ResKey]) -> Vec<u32> {
        let actions: Vec<u8> = Action::ALL
            .iter()
            .map(|a| a.index())
            .chain([ANY_ACTION])
            .collect();
        self.gather(party, &actions, keys, |b| &b.all)
    }

    fn rule_ref(&self, r: &Rule, as_of: NaiveDate) -> RuleRef {
        let src = self.register.sources.get(&r.source);
        RuleRef {
            id: r.id.clone(),
            party: r.owner.clone(),
            effect: r.effect,
            summary: r.summary.clone(),
            approval: r.approval.clone(),
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            recorded_at: r.recorded_at,
            date_uncertain: r.uncertain_on(as_of),
            source: SourceRef {
                id: r.source.clone(),
                outlet: src.map(|s| s.outlet.clone()).unwrap_or_default(),
                date: src.map(|s| s.date).unwrap_or(DateSpec::day(r.recorded_at)),
                title: src.map(|s| s.title.clone()).unwrap_or_default(),
                url: src.and_then(|s| s.url.clone()),
            },
            quote: r.quote.clone(),
            assumption: r.assumption.clone(),
            supersedes: r.supersedes.clone(),
        }
    }

    /// The Cedar context of a query. Approvals are left out on the first
    /// evaluation so that the engine sees every approval a request needs, then
    /// put in to evaluate the request as approved.
    fn context_for(
        &self,
        q: &Query,
        with_approvals: bool,
    ) -> Result<(Context, Vec<&'static str>), RequestError> {
        let bad = |e: String| RequestError::UnknownPlace {
            id: e,
            help: "internal: could not build the request context".into(),
        };
        let mut provided = vec!["approvals"];
        let mut pairs: Vec<(String, RestrictedExpression)> = vec![(
            "approvals".into(),
            RestrictedExpression::new_set(
                q.approvals
                    .iter()
                    .filter(|_| with_approvals)
                    .map(|a| RestrictedExpression::new_string(a.to_string())),
            ),
        )];
        if let Some(p) = &q.place {
            pairs.push(("place".into(), entity(&self.types.place, p.as_str())));
            provided.push("place");
        }
        if let Some(r) = &q.recipient {
            pairs.push(("recipient".into(), entity(&self.types.party, r.as_str())));
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
        }
        if let Some(c) = &q.controlled_by {
            pairs.push((
                "controlled_by".into(),
                entity(&self.types.party, c.as_str()),
            ));
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
        with_approvals: bool,
    ) -> Result<(Request, Vec<&'static str>), RequestError> {
        let (context, provided) = self.context_for(q, with_approvals)?;
        let bad = |e: String| RequestError::UnknownModel {
            id: e,
            help: "internal: could not build the cedar request".into(),
        };
        let t = &self.types;
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
    pub fn decide(&self, q: &Query) -> Result<Decision, RequestError> {
        if !self.register.parties.contains_key(&q.actor) {
            return Err(RequestError::UnknownParty {
                id: q.actor.to_string(),
                help: suggest(
                    q.actor.as_str(),
                    self.register.parties.keys().map(PartyId::as_str),
                ),
            });
        }
        if let Some(r) = &q.recipient {
            if !self.register.parties.contains_key(r) {
                return Err(RequestError::UnknownParty {
                    id: r.to_string(),
                    help: suggest(
                        r.as_str(),
                        self.register.parties.keys().map(PartyId::as_str),
                    ),
                });
            }
        }
        if let Some(p) = &q.place {
            self.resolve_place(p.as_str())?;
        }
        if let Some(c) = &q.controlled_by {
            self.resolve_party(c.as_str())?;
        }
        for a in &q.approvals {
            self.resolve_authority(a.as_str())?;
        }
        let model = self.model_of(&q.item)?;
        let chain = self.chain(&q.actor, &q.item, q.as_of)?;
        let keys = self.res_keys(model, &q.item);
        let (request, provided) = self.request_for(q, false)?;

        let mut notes = Vec::new();
        let mut parties = Vec::new();
        let mut chain = chain;
        if !self
            .candidates(&q.actor, q.action, &keys, q.as_of)
            .is_empty()
        {
            chain.insert(
                0,
                ChainLink {
                    party: q.actor.clone(),
                    name: self.register.party_name(&q.actor),
                    roles: vec![Role::Own],
                    binds: true,
                    rules_on_record: self.candidates_all_time(&q.actor, &keys).len(),
                },
            );
        }
        let mut selected: Vec<(&ChainLink, Vec<u32>)> = Vec::new();
        for link in chain.iter() {
            if !link.binds {
                notes.push(format!(
                    "{} is in the chain ({}) but attached no conditions on record, so it does not bind",
                    link.name,
                    link.roles.iter().map(Role::label).collect::<Vec<_>>().join(", ")
                ));
                continue;
            }
            let known = self.select(link, q, &keys, &mut notes);
            selected.push((link, known));
        }
        // One Cedar call for every binding party's rules; a second, with the
        // approvals in the context, only when an approval given lifts one.
        let all: Vec<u32> = selected
            .iter()
            .flat_map(|(_, k)| k.iter().copied())
            .collect();
        let lot_entities = self.entities_for(&q.item)?;
        let entities = lot_entities.as_deref().unwrap_or(&self.entities);
        let first = self.probe(&request, &all, entities);
        let lifted = first.fired.iter().any(|&i| {
            let r = &self.rules[i as usize];
            r.effect == RuleEffect::RequiresApproval
                && r.approval.as_ref().is_some_and(|a| q.approvals.contains(a))
        });
        let second = if lifted {
            let (req2, _) = self.request_for(q, true)?;
            Some(self.probe(&req2, &all, entities))
        } else {
            None
        };
        for (link, known) in &selected {
            let pd = self.decide_party(link, q, known, &first, second.as_ref(), &provided);
            // The actor's own rules count only where one of them applies; a
            // state is not "indeterminate" about its own silence.
            if link.roles == [Role::Own] && pd.rules.is_empty() {
                continue;
            }
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
                for r in &p.rules {
                    if let Some(a) = &r.approval {
                        let need = ApprovalNeed {
                            party: a.party(),
                            authority: a.clone(),
                            authority_name: self.authority_name(a),
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
        })
    }

    fn authority_name(&self, a: &crate::ids::AuthorityId) -> String {
        self.register
            .parties
            .get(&a.party())
            .and_then(|p| p.authorities.iter().find(|x| &x.id == a))
            .map(|x| format!("{} / {}", self.register.party_name(&a.party()), x.name))
            .unwrap_or_else(|| a.to_string())
    }

    /// The rules of `link`'s party that apply on the query's dates: in force
    /// (strictly read), public by known-at, plus those revived because their
    /// successor was not yet public. Explains what it leaves out in `notes`.
    fn select(
        &self,
        link: &ChainLink,
        q: &Query,
        keys: &[ResKey],
        notes: &mut Vec<String>,
    ) -> Vec<u32> {
        let mut in_force = self.candidates(&link.party, q.action, keys, q.as_of);
        let revived = self.revived(&link.party, q.as_of, q.known_at);
        if !revived.is_empty() {
            let scoped = self.candidates_for_action(&link.party, q.action, keys);
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
        let (known, unknown): (Vec<u32>, Vec<u32>) = in_force
            .iter()
            .partition(|&&i| self.rules[i as usize].known_on(q.known_at));
        for &i in &unknown {
            let r = &self.rules[i as usize];
            notes.push(format!(
                "{} rule `{}` was in force on {} but became public only on {}, after the known-at day {}; it is not used",
                link.name, r.id, q.as_of, r.recorded_at, q.known_at
            ));
        }
        // A permission whose status on the day hinges on an imprecise date,
        // and that the strict reading left out, deserves a word.
        let fuzzy = self.gather(&link.party, &[q.action.index(), ANY_ACTION], keys, |b| {
            &b.fuzzy
        });
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

    /// The probe of rule `i`, built on first use.
    fn probe_policy(&self, i: u32) -> Result<&cedar_policy::Policy, &String> {
        let r = &self.rules[i as usize];
        self.probes[i as usize]
            .get_or_init(|| r.policy.get().map_err(str::to_owned).and_then(probe_of))
            .as_ref()
    }

    /// The entities for a request about `item`: the shared ones, plus the
    /// lot when the item is a lot (`None`: the shared ones will do).
    fn entities_for(
        &self,
        item: &ItemRef,
    ) -> Result<Option<std::sync::Arc<Entities>>, RequestError> {
        let ItemRef::Lot(lot) = item else {
            return Ok(None);
        };
        if let Some(e) = self
            .lot_entities
            .read()
            .ok()
            .and_then(|m| m.get(lot).cloned())
        {
            return Ok(Some(e));
        }
        let internal = |e: String| RequestError::UnknownLot {
            id: lot.to_string(),
            help: format!("internal: the lot cannot be prepared for evaluation: {e}"),
        };
        let entity = lot_entity(&self.register, lot).map_err(internal)?;
        let e = std::sync::Arc::new(
            self.entities
                .clone()
                .add_entities([entity], Some(&self.schema))
                .map_err(|e| internal(e.to_string()))?,
        );
        if let Ok(mut m) = self.lot_entities.write() {
            if m.len() >= LOT_CACHE_MAX {
                m.clear();
            }
            m.insert(lot.clone(), e.clone());
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

    #[allow(clippy::too_many_arguments)]
    fn decide_party(
        &self,
        link: &ChainLink,
        q: &Query,
        known: &[u32],
        first: &Probe,
        approved_probe: Option<&Probe>,
        provided: &[&str],
    ) -> PartyDecision {
        let role = link
            .roles
            .iter()
            .map(Role::label)
            .collect::<Vec<_>>()
            .join(", ");
        let mut pd = PartyDecision {
            party: link.party.clone(),
            name: link.name.clone(),
            role,
            roles: link.roles.clone(),
            outcome: Outcome::Indeterminate,
            rules: Vec::new(),
            missing: Vec::new(),
            reason: String::new(),
        };
        if known.is_empty() {
            pd.reason = if link.rules_on_record == 0 {
                format!(
                    "{} has no conditions on record for {}",
                    link.name,
                    self.item_label(q)
                )
            } else {
                format!(
                    "{} has no conditions on record for {} in force on {} and public by {}",
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
        let rule = |i: &u32| &self.rules[*i as usize];
        let fired: Vec<&Rule> = known
            .iter()
            .filter(|i| first.fired.contains(i))
            .map(rule)
            .collect();
        let errored: Vec<(&Rule, &String)> = known
            .iter()
            .filter_map(|i| first.errored.get(i).map(|e| (rule(i), e)))
            .collect();
        let missing_of = |r: &Rule| -> Vec<String> {
            r.reads
                .iter()
                .filter(|a| !provided.contains(&a.as_str()))
                .cloned()
                .collect()
        };
        let plain: Vec<&Rule> = fired
            .iter()
            .copied()
            .filter(|r| r.effect == RuleEffect::Forbid)
            .collect();
        let (approved, approval): (Vec<&Rule>, Vec<&Rule>) = fired
            .iter()
            .copied()
            .filter(|r| r.effect == RuleEffect::RequiresApproval)
            .partition(|r| r.approval.as_ref().is_some_and(|a| q.approvals.contains(a)));
        let mut permits: Vec<&Rule> = if approved.is_empty() {
            fired
                .iter()
                .copied()
                .filter(|r| r.effect == RuleEffect::Permit)
                .collect()
        } else {
            Vec::new()
        };
        if plain.is_empty() && approval.is_empty() && !approved.is_empty() {
            // Every restriction that fired is lifted by an approval given. The
            // second evaluation, with the approvals in the context, confirms
            // the lift in Cedar itself and names the permits that apply.
            if let Some(second) = approved_probe {
                let again: Vec<&Rule> = known
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
            pd.reason = format!("{} forbids: {}", link.name, plain[0].summary);
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
            let who: Vec<String> = approval
                .iter()
                .filter_map(|r| r.approval.as_ref().map(|a| self.authority_name(a)))
                .collect();
            pd.reason = format!("{} requires approval by {}", link.name, who.join(" and "));
        } else if !permits.is_empty() {
            pd.outcome = Outcome::Permit;
            pd.rules = refs(&permits);
            pd.reason = match permits.iter().find(|r| r.effect == RuleEffect::Permit) {
                Some(p) if approved.is_empty() => format!("{} permits: {}", link.name, p.summary),
                Some(p) => format!(
                    "{} permits, with the approval given: {}",
                    link.name, p.summary
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
        } else {
            pd.outcome = Outcome::Indeterminate;
            pd.reason = format!(
                "{} has conditions on record for {}, but none covers this request",
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

    /// Rules of `party` in force on `as_of` and public by `known_at`, in id order.
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
        v.sort_by(|a, b| a.id.cmp(&b.id));
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

    /// An unscoped rule that names other models in its condition but not this
    /// one is about those models; leave it out of this model's timeline.
    fn mentions_other_model_only(&self, r: &Rule, model: &ModelId) -> bool {
        let lits = r
            .policy
            .get()
            .map(|p| p.entity_literals())
            .unwrap_or_default();
        let models: Vec<String> = lits
            .iter()
            .filter(|u| u.type_name().to_string() == "Model")
            .map(|u| u.id().unescaped().to_owned())
            .collect();
        models.is_empty() || models.iter().any(|m| m == model.as_str())
    }

    /// Converts a rule to its citation form.
    pub fn cite(&self, r: &Rule, as_of: NaiveDate) -> RuleRef {
        self.rule_ref(r, as_of)
    }
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

fn build_entities(reg: &Register, schema: &Schema) -> Result<Entities, String> {
    let mut out: Vec<Entity> = Vec::new();
    let e = |x: cedar_policy::EntityAttrEvaluationError| x.to_string();
    for p in reg.parties.values() {
        let mut attrs = HashMap::new();
        attrs.insert(
            "kind".to_string(),
            RestrictedExpression::new_string(format!("{:?}", p.kind).to_lowercase()),
        );
        out.push(Entity::new(uid("Party", p.id.as_str())?, attrs, HashSet::new()).map_err(e)?);
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
