//! The answer to a query: an overall outcome, and per controlling party its
//! outcome and the rules that decided it, with their sources.

use crate::date::DateSpec;
use crate::ids::{AuthorityId, PartyId, RuleId, SourceId, TransferId};
use crate::register::DependencyKind;
use crate::rule::RuleEffect;
use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// Serde for the shared text of citations: written exactly as `String`,
/// `Option<String>` and `Vec<T>` would be (the JSON of a decision does not
/// change), while a decision clones pointers instead of strings.
mod shared {
    use super::{Arc, Serializer};

    pub(super) fn text<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub(super) fn opt_text<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_some(&**x),
            None => s.serialize_none(),
        }
    }
}

/// The overall outcome (and a party's outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every controlling party permits.
    Permit,
    /// Some party's rules are missing or a rule needs a fact the request lacks.
    Indeterminate,
    /// Some party requires approval by an authority; none forbids.
    NeedsApproval,
    /// Some controlling party forbids.
    Forbid,
}

impl Outcome {
    /// Process exit code of the CLI: 0 permit, 2 forbid, 3 needs approval, 4 indeterminate.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Permit => 0,
            Outcome::Forbid => 2,
            Outcome::NeedsApproval => 3,
            Outcome::Indeterminate => 4,
        }
    }

    /// Upper-case label for human output.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Permit => "PERMIT",
            Outcome::Forbid => "FORBID",
            Outcome::NeedsApproval => "NEEDS APPROVAL",
            Outcome::Indeterminate => "INDETERMINATE",
        }
    }

    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Permit => "permit",
            Outcome::Forbid => "forbid",
            Outcome::NeedsApproval => "needs_approval",
            Outcome::Indeterminate => "indeterminate",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a party binds (or merely appears in) the chain of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Role {
    /// Origin of the model's design: always binds.
    Origin,
    /// An earlier holder that transferred the lot; binds if it attached conditions.
    Supplier {
        /// The transfer.
        transfer: TransferId,
        /// Whether it attached conditions.
        attached_conditions: bool,
    },
    /// Provides a component, data or service the model depends on: always binds.
    Provider {
        /// Kind of dependency.
        kind: DependencyKind,
        /// What it provides.
        #[serde(serialize_with = "shared::text")]
        what: Arc<str>,
    },
    /// A treaty that binds the actor on the date and prohibits the item's category.
    Treaty,
    /// The actor itself, when its own rules speak to the action (an export
    /// embargo binds the state that imposed it).
    Own,
    /// A treaty that binds the recipient of a transfer and forbids acquiring
    /// the item.
    TreatyOfRecipient {
        /// The recipient bound by the treaty.
        recipient: PartyId,
    },
    /// The home state of a company in the chain (its export control governs
    /// the company's transfers, wherever its stock is).
    Jurisdiction {
        /// The company.
        company: PartyId,
    },
}

impl Role {
    /// Whether this role makes the party's conditions bind the request.
    pub fn binds(&self) -> bool {
        match self {
            Role::Supplier {
                attached_conditions,
                ..
            } => *attached_conditions,
            _ => true,
        }
    }

    /// Short human label.
    pub fn label(&self) -> String {
        let (head, tail) = self.label_parts();
        let mut s = String::with_capacity(head.len() + tail.len());
        s.push_str(head);
        s.push_str(tail);
        s
    }

    /// The label as a fixed head and a variable tail (empty for most
    /// roles), so that [`role_labels`] compares and writes labels without
    /// building each one.
    fn label_parts(&self) -> (&'static str, &str) {
        match self {
            Role::Origin => ("origin", ""),
            Role::Supplier {
                attached_conditions: true,
                ..
            } => ("supplier, attached conditions", ""),
            Role::Supplier { .. } => ("supplier", ""),
            Role::Provider { what, .. } => ("provider of ", what),
            Role::Treaty => ("treaty binding the actor", ""),
            Role::Own => ("the actor's own rules", ""),
            Role::Jurisdiction { company } => ("home state of ", company.as_str()),
            Role::TreatyOfRecipient { recipient } => {
                ("treaty binding the recipient ", recipient.as_str())
            }
        }
    }
}

/// The labels of `roles`, each once, in order, joined for display.
pub fn role_labels(roles: &[Role]) -> String {
    let mut seen: smallvec::SmallVec<[(&'static str, &str); 4]> = smallvec::SmallVec::new();
    for r in roles {
        let l = r.label_parts();
        if !seen.contains(&l) {
            seen.push(l);
        }
    }
    let len = seen.iter().map(|(h, t)| h.len() + t.len() + 2).sum();
    let mut out = String::with_capacity(len);
    for (i, (h, t)) in seen.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(h);
        out.push_str(t);
    }
    out
}

/// A party in the chain of an item, with its roles.
#[derive(Debug, Clone, Serialize)]
pub struct ChainLink {
    /// The party.
    pub party: PartyId,
    /// Its name.
    #[serde(serialize_with = "shared::text")]
    pub name: Arc<str>,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Whether any role binds.
    pub binds: bool,
    /// Number of its rules on record that could apply to this item.
    pub rules_on_record: usize,
}

/// A source, as shown with a rule.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRef {
    /// Source id.
    pub id: SourceId,
    /// Outlet.
    #[serde(serialize_with = "shared::text")]
    pub outlet: Arc<str>,
    /// Publication date.
    pub date: DateSpec,
    /// Headline.
    #[serde(serialize_with = "shared::text")]
    pub title: Arc<str>,
    /// Address, where known.
    #[serde(serialize_with = "shared::opt_text")]
    pub url: Option<Arc<str>>,
    /// What it says, in a short quote (where the data set records one).
    #[serde(serialize_with = "shared::opt_text")]
    pub quote: Option<Arc<str>>,
}

/// What a citation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CitationKind {
    /// A Cedar rule of the party.
    #[default]
    Rule,
    /// The party's declared default: what its silence means.
    Default,
    /// A recorded decision of an authority (consent granted or refused).
    Consent,
}

/// A rule as cited in a decision: its citation (shared: a decision copies
/// one pointer per rule it cites) and whether its status on the as-of day
/// depends on an imprecise date. The citation's fields are read through
/// `Deref`; it serialises as one flat object, as it always has.
#[derive(Debug, Clone)]
pub struct RuleRef {
    cite: Arc<Citation>,
    /// Whether the rule's status on the as-of day depends on an imprecise date.
    pub date_uncertain: bool,
}

impl RuleRef {
    /// A citation, with `date_uncertain` for the day asked about.
    pub fn new(cite: Citation, date_uncertain: bool) -> Self {
        Self {
            cite: Arc::new(cite),
            date_uncertain,
        }
    }

    /// The citation.
    pub fn citation(&self) -> &Citation {
        &self.cite
    }
}

impl std::ops::Deref for RuleRef {
    type Target = Citation;
    fn deref(&self) -> &Citation {
        &self.cite
    }
}

impl Serialize for RuleRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let c = &*self.cite;
        let mut st = s.serialize_struct("RuleRef", 17)?;
        st.serialize_field("id", &c.id)?;
        st.serialize_field("kind", &c.kind)?;
        st.serialize_field("status", &c.status)?;
        st.serialize_field("sources", &*c.sources)?;
        st.serialize_field("assurance", &c.assurance.as_deref())?;
        st.serialize_field("party", &c.party)?;
        st.serialize_field("effect", &c.effect)?;
        st.serialize_field("summary", &*c.summary)?;
        st.serialize_field("approval", &c.approval)?;
        st.serialize_field("valid_from", &c.valid_from)?;
        st.serialize_field("valid_to", &c.valid_to)?;
        st.serialize_field("recorded_at", &c.recorded_at)?;
        st.serialize_field("date_uncertain", &self.date_uncertain)?;
        st.serialize_field("source", &c.source)?;
        st.serialize_field("quote", &*c.quote)?;
        st.serialize_field("assumption", &c.assumption.as_deref())?;
        st.serialize_field("supersedes", &c.supersedes)?;
        st.end()
    }
}

/// What a decision cites of a rule (a default, a consent decision).
#[derive(Debug, Clone)]
pub struct Citation {
    /// Rule id (or the default's, or the consent decision's).
    pub id: RuleId,
    /// A rule, a default or a consent decision.
    pub kind: CitationKind,
    /// How well established the fact is.
    pub status: crate::vocab::Status,
    /// Every source, the first being `source`.
    pub sources: Arc<[SourceRef]>,
    /// For an assurance: who gave it to whom.
    pub assurance: Option<Arc<str>>,
    /// Its party.
    pub party: PartyId,
    /// Permit, forbid or requires approval.
    pub effect: RuleEffect,
    /// Plain statement.
    pub summary: Arc<str>,
    /// The authority that can lift it.
    pub approval: Option<AuthorityId>,
    /// In force from.
    pub valid_from: DateSpec,
    /// In force until (exclusive).
    pub valid_to: Option<DateSpec>,
    /// Public since.
    pub recorded_at: NaiveDate,
    /// The source.
    pub source: SourceRef,
    /// Short quote.
    pub quote: Arc<str>,
    /// Assumed number or reading, where the source is vague.
    pub assumption: Option<Arc<str>>,
    /// The rule it replaced.
    pub supersedes: Option<RuleId>,
}

/// One controlling party's answer.
#[derive(Debug, Clone, Serialize)]
pub struct PartyDecision {
    /// The party.
    pub party: PartyId,
    /// Its name.
    #[serde(serialize_with = "shared::text")]
    pub name: Arc<str>,
    /// Its roles, joined for display ("origin, supplier").
    pub role: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its outcome.
    pub outcome: Outcome,
    /// The rules that decided it.
    pub rules: Vec<RuleRef>,
    /// Facts the request lacked for this party's rules.
    pub missing: Vec<String>,
    /// One line of explanation.
    pub reason: String,
}

/// An approval the request needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalNeed {
    /// The party of the authority.
    pub party: PartyId,
    /// The authority.
    pub authority: AuthorityId,
    /// Its name.
    pub authority_name: String,
}

/// The answer to a query.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Overall outcome.
    pub outcome: Outcome,
    /// The day of the action.
    pub as_of: NaiveDate,
    /// The day whose public record was used.
    pub known_at: NaiveDate,
    /// The question, as understood.
    pub request: crate::query::Query,
    /// Approvals needed (empty unless `needs_approval`).
    pub approvals: Vec<ApprovalNeed>,
    /// Each controlling party's answer.
    pub parties: Vec<PartyDecision>,
    /// Facts the request lacked (union over parties).
    pub missing: Vec<String>,
    /// Remarks: imprecise dates, rules not yet public, parties not binding.
    pub notes: Vec<String>,
    /// Reported (not confirmed) facts the outcome rests on.
    pub reported: Vec<RuleId>,
    /// The outcome if the disputed facts on record held (only when it differs).
    pub if_disputed: Option<DisputedOutcome>,
}

/// What the answer would be if disputed facts held.
#[derive(Debug, Clone, Serialize)]
pub struct DisputedOutcome {
    /// The outcome with the disputed facts used.
    pub outcome: Outcome,
    /// The disputed facts that change it.
    pub facts: Vec<RuleRef>,
}
