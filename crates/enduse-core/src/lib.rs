//! enduse core: the register model, the composition of many parties' Cedar
//! policies over time, and the decisions. No I/O: loaders and front ends feed
//! it text and data, and it answers.
//!
//! The entry point is [`Engine`]: build it from a [`Register`], the [`Rule`]s
//! parsed by [`parse_rules`], and the data set's Cedar schema; then ask it
//! [`Engine::decide`] with a [`Query`].

mod bulk_check;
mod check;
mod date;
mod decision;
mod engine;
mod fast;
mod fxhash;
mod ids;
mod problem;
mod query;
mod register;
mod rule;
mod timeline;
mod vocab;

pub use bulk_check::{BulkChecker, RuleValidator};
pub use check::check_register;
pub use date::{parse_day, DateError, DateSpec};
pub use decision::{
    role_labels, ApprovalNeed, ChainLink, Citation, CitationKind, Decision, DisputedOutcome,
    Outcome, PartyDecision, Role, RuleRef, SourceRef,
};
pub use engine::{Checks, Engine, EvalPath, RuleEvaluation};
pub use ids::{
    AuthorityId, CategoryId, LotId, ModelId, PartyId, PlaceCode, RuleId, SourceId, TransferId,
};
pub use problem::{Origin, Problem};
pub use query::{check_dates, Action, ItemRef, Query, RequestError};
pub use register::{
    Authority, Category, Conflict, DataSetInfo, Dependency, DependencyKind, ItemModel, Lot,
    MembershipStep, Party, PartyKind, Place, PlaceKind, Register, Source, Stage, StageDate,
    StepKind, Transfer, Treaty,
};
pub use rule::{
    parse_rules, rule_from_header, LazyPolicy, Rule, RuleEffect, RuleHeader, ANNOTATIONS,
};
pub use timeline::{timeline, TimelineEvent, TimelineKind};
pub use vocab::{
    Consent, ConsentScope, DefaultEffect, Group, GroupMembership, NamedArea, PartyDefault, Status,
    StatusFilter, Term, WithdrawalRule,
};
