//! The checks of [`crate::Engine::with_checks`] (full) for a register too
//! large to hold: the rest of the register is held, the rules come a batch
//! at a time and are dropped after their checks, and the lots and
//! transfers come one at a time and only what later checks need of them is
//! kept. An importer streams a data set through it instead of building an
//! engine; it must never accept what the engine refuses.

use crate::check::{
    check_conditions, check_links, check_lot, check_register_with, check_rule, check_transfer,
    first_of_each, Bulk, Noted, RuleLink,
};
use crate::ids::{LotId, PartyId, RuleId, TransferId};
use crate::problem::{Origin, Problem};
use crate::register::{Lot, Register, Transfer};
use crate::rule::Rule;
use cedar_policy::{Schema, Validator};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Problems kept for the report: the checker answers whether a data set is
/// valid; the problems themselves, located in their files, come from the
/// engine's own checks, which an importer runs when this one fails.
const KEPT: usize = 100;

/// Checks a register piece by piece (see the module documentation).
pub struct BulkChecker {
    register: Register,
    validator: Option<RuleValidator>,
    noted: RefCell<Noted>,
    problems: Vec<Problem>,
    failed: bool,
    links: Vec<RuleLink>,
    rule_ids: HashSet<RuleId>,
    /// Every transfer id seen, hashed to 128 bits: a collision can only
    /// make the checker refuse (report a duplicate) where the engine would
    /// not, never accept what it refuses.
    transfer_ids: HashSet<u128>,
    /// The senders of the transfers that defaults name.
    wanted: HashMap<TransferId, Option<PartyId>>,
    /// Transfers with conditions, checked against the rules at the end.
    conditioned: Vec<Transfer>,
}

/// Cedar's strict validation of rules against a schema, shareable between
/// threads: each policy is validated on its own, so rules may be validated
/// a batch at a time, anywhere, with the engine's result.
#[derive(Clone)]
pub struct RuleValidator(Arc<Validator>);

impl RuleValidator {
    /// The problems strict validation finds in `rules`.
    pub fn problems(&self, rules: &[Rule]) -> Vec<Problem> {
        crate::engine::schema_problems(&self.0, rules)
    }
}

impl std::fmt::Debug for RuleValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuleValidator")
    }
}

fn wide_hash(s: &str) -> u128 {
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        s.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

impl BulkChecker {
    /// Starts with everything but the lots, the transfers and the rules:
    /// `register` must hold no lots and no transfers. Its own checks run
    /// here, those that name lots and transfers once they have been seen.
    pub fn new(register: Register, schema_src: &str) -> Self {
        let mut this = BulkChecker {
            register,
            validator: None,
            noted: RefCell::default(),
            problems: Vec::new(),
            failed: false,
            links: Vec::new(),
            rule_ids: HashSet::new(),
            transfer_ids: HashSet::new(),
            wanted: HashMap::new(),
            conditioned: Vec::new(),
        };
        if !this.register.lots.is_empty() || !this.register.transfers.is_empty() {
            this.fail(vec![Problem::new(
                Origin::File {
                    file: "transfers.toml".into(),
                    span: None,
                },
                "internal: a bulk check began with lots or transfers".into(),
            )]);
        }
        let found = check_register_with(&this.register, &Bulk::Noted(&this.noted));
        this.fail(found);
        match Schema::from_cedarschema_str(schema_src) {
            Ok((schema, _)) => {
                if let Err(msg) = crate::engine::build_entities(&this.register, &schema, None) {
                    this.fail(vec![Problem::new(
                        Origin::File {
                            file: "schema.cedarschema".into(),
                            span: None,
                        },
                        format!("the register does not fit the cedar schema: {msg}"),
                    )]);
                }
                this.validator = Some(RuleValidator(Arc::new(Validator::new(schema))));
            }
            Err(e) => this.fail(vec![Problem::new(
                Origin::File {
                    file: "schema.cedarschema".into(),
                    span: None,
                },
                format!("invalid cedar schema: {e}"),
            )]),
        }
        let wanted: Vec<TransferId> = this
            .noted
            .borrow()
            .transfers
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        this.wanted = wanted.into_iter().map(|t| (t, None)).collect();
        this
    }

    fn fail(&mut self, found: Vec<Problem>) {
        if found.is_empty() {
            return;
        }
        self.failed = true;
        let room = KEPT.saturating_sub(self.problems.len());
        self.problems.extend(found.into_iter().take(room));
    }

    /// The register held (without lots, transfers and rules).
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// The validator of rules against the schema, to run elsewhere (on
    /// another thread) for [`BulkChecker::rules_validated`]; `None` if the
    /// schema is invalid.
    pub fn validator(&self) -> Option<RuleValidator> {
        self.validator.clone()
    }

    /// Checks a batch of rules (the whole of one or more policy files):
    /// against the schema, the register, and the rules before them. Only
    /// their links to other rules are kept.
    pub fn rules(&mut self, rules: &[Rule]) {
        match self.validator.clone() {
            Some(v) => {
                let found = v.problems(rules);
                self.rules_validated(rules, found);
            }
            None => {
                self.failed = true;
                self.rules_validated(rules, Vec::new());
            }
        }
    }

    /// [`BulkChecker::rules`] of rules already validated against the schema
    /// ([`RuleValidator::problems`]), with the problems found there.
    pub fn rules_validated(&mut self, rules: &[Rule], schema_problems: Vec<Problem>) {
        let mut found = schema_problems;
        for r in rules {
            if !self.rule_ids.insert(r.id.clone()) {
                found.push(Problem::new(
                    Origin::File {
                        file: r.file.clone(),
                        span: Some(r.span.clone()),
                    },
                    format!("rule id `{}` is used twice", r.id),
                ));
            }
            check_rule(&self.register, r, &Bulk::Noted(&self.noted), &mut found);
            self.links.push(RuleLink::of(r));
        }
        self.fail(found);
    }

    /// Checks one lot (its model); whether its id is declared twice is the
    /// caller's to tell, as it keeps the lots.
    pub fn lot(&mut self, l: &Lot) {
        let mut found = Vec::new();
        check_lot(&self.register, l, &mut found);
        self.fail(found);
    }

    /// Checks one transfer, but not whether its lot exists: the caller,
    /// which keeps the lots, tells that at [`BulkChecker::finish`].
    pub fn transfer(&mut self, t: &Transfer) {
        let mut found = Vec::new();
        if !self.transfer_ids.insert(wide_hash(t.id.as_str())) {
            found.push(Problem::record(
                "transfer",
                &t.id,
                None,
                format!("transfer `{}` is declared twice", t.id),
            ));
        }
        check_transfer(&self.register, t, &|_| true, &mut found);
        if let Some(from) = self.wanted.get_mut(&t.id) {
            *from = Some(t.from.clone());
        }
        if !t.conditions.is_empty() {
            self.conditioned.push(t.clone());
        }
        self.fail(found);
    }

    /// Whether a problem has been found so far.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The checks that needed everything: links between rules, the rules
    /// transfers name as conditions, and the lots and transfers the rest of
    /// the register names (`has_lot` tells whether a lot was declared).
    /// The register held, or the problems found (at most a hundred).
    pub fn finish(mut self, has_lot: &dyn Fn(&LotId) -> bool) -> Result<Register, Vec<Problem>> {
        let mut found = Vec::new();
        let by_id = first_of_each(&self.links);
        check_links(&self.register, &self.links, &by_id, &mut found);
        for t in &self.conditioned {
            check_conditions(&by_id, t, &mut found);
        }
        let noted = std::mem::take(&mut *self.noted.borrow_mut());
        for l in &noted.lots {
            if !has_lot(l) {
                found.push(Problem::record(
                    "lot",
                    l,
                    None,
                    format!("unknown lot `{l}`"),
                ));
            }
        }
        for (t, sender) in &noted.transfers {
            match self.wanted.get(t) {
                Some(Some(from)) if from == sender => {}
                _ => found.push(Problem::record(
                    "default",
                    t,
                    Some("transfers"),
                    format!("unknown transfer `{t}`, or not sent by {sender}"),
                )),
            }
        }
        drop(by_id);
        self.fail(found);
        if self.failed {
            return Err(self.problems);
        }
        Ok(self.register)
    }
}
