//! Rules: Cedar policies with the metadata that makes them facts of the public
//! record (validity, public-knowledge date, source, approval authority).

use crate::date::{DateError, DateSpec};
use crate::ids::{AuthorityId, PartyId, RuleId, SourceId};
use crate::problem::{Origin, Problem};
use cedar_policy::{Effect, Policy, PolicyId, PolicySet};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::str::FromStr;
use std::sync::OnceLock;

/// The annotations a rule may carry. Anything else is refused, so that a typo
/// such as `@valid_form` cannot silently make a rule timeless.
pub const ANNOTATIONS: &[&str] = &[
    "id",
    "summary",
    "valid_from",
    "valid_to",
    "recorded_at",
    "source",
    "quote",
    "supersedes",
    "approval",
    "assumption",
    "note",
    "status",
    "assurance",
];

/// The deepest nesting of parentheses, brackets and braces a rule may have.
/// Cedar's parser recurses once per level; far deeper input would exhaust
/// the stack of whichever thread parses it, so every path refuses it here.
pub const MAX_NESTING: usize = 64;

/// Whether a rule grants or restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleEffect {
    /// A Cedar `permit`.
    Permit,
    /// A Cedar `forbid` without `@approval`.
    Forbid,
    /// A Cedar `forbid` with `@approval`: lifted when the authority approves.
    RequiresApproval,
}

impl RuleEffect {
    /// Restrictions are read strictly when their dates are imprecise.
    pub fn restricts(self) -> bool {
        !matches!(self, Self::Permit)
    }
}

/// One rule of one party.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    /// Unique id (`@id`).
    pub id: RuleId,
    /// The party whose condition this is (the file it is filed under).
    pub owner: PartyId,
    /// Grant, restriction, or restriction lifted by approval.
    pub effect: RuleEffect,
    /// The authority whose approval lifts the restriction.
    pub approval: Option<AuthorityId>,
    /// One-line plain-language statement.
    pub summary: String,
    /// First day in force (possibly approximate).
    pub valid_from: DateSpec,
    /// First day no longer in force (exclusive), if it ended.
    pub valid_to: Option<DateSpec>,
    /// The day it became public (the earliest source in the data set).
    pub recorded_at: NaiveDate,
    /// The first source (the one `@quote` is from).
    pub source: SourceId,
    /// Every source, as listed in `@source("a, b")`.
    pub sources: Vec<SourceId>,
    /// How well established (`@status`, default confirmed).
    pub status: crate::vocab::Status,
    /// For an assurance: the party that gave it to the rule's owner.
    pub assured_by: Option<PartyId>,
    /// A short quote from the source.
    pub quote: String,
    /// The rule this one replaces.
    pub supersedes: Option<RuleId>,
    /// A number or reading the data set assumes where the source is vague.
    pub assumption: Option<String>,
    /// Caveats.
    pub note: Option<String>,
    /// Context attributes the rule reads (`place`, `border_distance_km`).
    pub reads: Vec<String>,
    /// File the rule came from, and its byte span there.
    pub file: String,
    /// Byte span of the rule within `file`.
    pub span: Range<usize>,
    /// What the Cedar parser read of the rule: annotations, effect, scope.
    pub header: RuleHeader,
    /// The Cedar policy, re-identified with `id`, parsed on first use.
    pub policy: LazyPolicy,
}

/// What the Cedar parser reads of a rule besides its condition. Stores keep
/// it beside the rule's text, so that opening a register of 100,000 rules
/// need not parse them all again: each is parsed when a decision first
/// needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHeader {
    /// Annotations in text order.
    pub annotations: Vec<(String, String)>,
    /// `forbid` (else `permit`).
    pub forbid: bool,
    /// Action ids of the scope; `None` for any action.
    pub actions: Option<Vec<String>>,
    /// Resource of the scope, `(type, id)`; `None` for any resource.
    pub resource: Option<(String, String)>,
}

impl RuleHeader {
    /// Reads the header of a parsed policy.
    pub fn of(p: &Policy) -> Self {
        use cedar_policy::{ActionConstraint, ResourceConstraint};
        let id = |u: &cedar_policy::EntityUid| u.id().unescaped().to_owned();
        Self {
            annotations: p
                .annotations()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            forbid: p.effect() == Effect::Forbid,
            actions: match p.action_constraint() {
                ActionConstraint::Any => None,
                ActionConstraint::Eq(a) => Some(vec![id(&a)]),
                ActionConstraint::In(v) => Some(v.iter().map(id).collect()),
            },
            resource: match p.resource_constraint() {
                ResourceConstraint::In(u)
                | ResourceConstraint::Eq(u)
                | ResourceConstraint::IsIn(_, u) => Some((u.type_name().to_string(), id(&u))),
                _ => None,
            },
        }
    }

    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A rule's Cedar policy: its text, parsed when first needed.
#[derive(Debug, Clone)]
pub struct LazyPolicy {
    id: String,
    text: String,
    parsed: OnceLock<Result<Policy, String>>,
}

impl LazyPolicy {
    fn parsed(id: &str, text: &str, p: Policy) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Ok(p));
        Self {
            id: id.to_owned(),
            text: text.to_owned(),
            parsed: cell,
        }
    }

    fn unparsed(id: &str, text: &str) -> Self {
        Self {
            id: id.to_owned(),
            text: text.to_owned(),
            parsed: OnceLock::new(),
        }
    }

    /// The policy, with id `@id`; parses the text on first call.
    pub fn get(&self) -> Result<&Policy, &str> {
        self.parsed
            .get_or_init(|| {
                Policy::parse(Some(PolicyId::new(&self.id)), &self.text)
                    .map_err(|e| format!("the stored text of rule `{}` is not cedar: {e}", self.id))
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The Cedar text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Only the id and the text: a rule read back from a binary image of a
/// register is parsed when a decision first needs it, as a stored one is.
impl Serialize for LazyPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.id, &self.text).serialize(s)
    }
}

impl<'de> Deserialize<'de> for LazyPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (id, text) = <(String, String)>::deserialize(d)?;
        Ok(Self {
            id,
            text,
            parsed: OnceLock::new(),
        })
    }
}

impl Rule {
    /// The first day this rule counts as in force. A restriction counts from
    /// the earliest possible day, a permission from the latest: when the
    /// record is vague, the engine reads it the stricter way.
    pub fn effective_start(&self) -> NaiveDate {
        if self.effect.restricts() {
            self.valid_from.earliest()
        } else {
            self.valid_from.latest()
        }
    }

    /// The first day this rule no longer counts as in force, if any.
    pub fn effective_end(&self) -> Option<NaiveDate> {
        self.valid_to.map(|t| {
            if self.effect.restricts() {
                t.latest()
            } else {
                t.earliest()
            }
        })
    }

    /// Whether the rule counts as in force on `d`.
    pub fn in_force(&self, d: NaiveDate) -> bool {
        self.effective_start() <= d && self.effective_end().is_none_or(|e| d < e)
    }

    /// Whether the rule's status on `d` depends on how an imprecise date is read.
    pub fn uncertain_on(&self, d: NaiveDate) -> bool {
        self.valid_from.straddles(d) || self.valid_to.is_some_and(|t| t.straddles(d))
    }

    /// Whether the rule was public on `known_at`.
    pub fn known_on(&self, known_at: NaiveDate) -> bool {
        self.recorded_at <= known_at
    }

    /// The Cedar text of the rule.
    pub fn cedar_text(&self) -> String {
        self.policy.text().to_owned()
    }
}

/// Parses one policy file of `owner`. Every problem is reported (not only the
/// first), each with its byte span in `text`.
pub fn parse_rules(owner: &PartyId, file: &str, text: &str) -> Result<Vec<Rule>, Vec<Problem>> {
    let at = |span: Range<usize>| Origin::File {
        file: file.to_owned(),
        span: Some(span),
    };
    let lexical = lexical_problems(file, text);
    if !lexical.is_empty() {
        return Err(lexical);
    }
    let pset = match PolicySet::from_str(text) {
        Ok(p) => p,
        Err(errs) => {
            let problems = errs
                .iter()
                .map(|e| {
                    let span = miette::Diagnostic::labels(e)
                        .and_then(|mut l| l.next())
                        .map(|l| l.offset()..l.offset() + l.len().max(1));
                    let help = miette::Diagnostic::help(e).map(|h| h.to_string());
                    Problem::new(
                        Origin::File {
                            file: file.to_owned(),
                            span,
                        },
                        format!("invalid cedar: {e}"),
                    )
                    .with_help(help)
                })
                .collect();
            return Err(problems);
        }
    };
    if pset.templates().next().is_some() {
        return Err(vec![Problem::new(
            at(0..0),
            "policy templates are not supported in data sets".into(),
        )]);
    }

    // Cedar does not expose where each policy starts, but its text is kept
    // verbatim, so we find it in the file; search from the previous end so that
    // two identical bodies still get distinct spans.
    let mut policies: Vec<(usize, &Policy)> = Vec::new();
    let mut sorted: Vec<&Policy> = pset.policies().collect();
    sorted.sort_by_key(|p| {
        p.id()
            .to_string()
            .trim_start_matches("policy")
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    let mut cursor = 0;
    for p in sorted {
        let body = p.to_string();
        let start = text[cursor..].find(&body).map_or(cursor, |i| cursor + i);
        cursor = start + body.len().min(text.len() - start);
        policies.push((start, p));
    }

    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (start, p) in policies {
        let body = p.to_string();
        let span = start..start + body.len();
        match rule_from_policy(owner, file, text, span.clone(), p) {
            Ok(r) => rules.push(r),
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems)
    }
}

fn rule_from_policy(
    owner: &PartyId,
    file: &str,
    text: &str,
    span: Range<usize>,
    p: &Policy,
) -> Result<Rule, Vec<Problem>> {
    let header = RuleHeader::of(p);
    let mut rule = rule_from_header(owner, file, text, span, header)?;
    rule.policy = LazyPolicy::parsed(
        rule.id.as_str(),
        rule.policy.text(),
        p.new_id(PolicyId::new(rule.id.as_str())),
    );
    Ok(rule)
}

/// Builds a rule from its header and its text (`text[span]` in `file`)
/// without the Cedar parser, checking its metadata as [`parse_rules`] does.
/// The policy itself is parsed when a decision first needs it.
pub fn rule_from_header(
    owner: &PartyId,
    file: &str,
    text: &str,
    span: Range<usize>,
    header: RuleHeader,
) -> Result<Rule, Vec<Problem>> {
    let body = text.get(span.clone()).unwrap_or_default();
    let mut problems = lexical_problems(file, body);
    if !problems.is_empty() {
        return Err(problems);
    }
    // Point at the annotation itself where we can find it, else at the policy.
    let locate = |key: &str| -> Range<usize> {
        let needle = format!("@{key}");
        text.get(span.clone())
            .and_then(|s| s.find(&needle))
            .map(|i| {
                let s = span.start + i;
                let e = text[s..].find('\n').map_or(text.len(), |n| s + n);
                s..e
            })
            .unwrap_or_else(|| span.start..span.start + 1)
    };
    let origin = |key: &str| Origin::File {
        file: file.to_owned(),
        span: Some(locate(key)),
    };
    let annotation = |k: &str| header.annotation(k);
    let id_text = annotation("id").map(str::to_owned);
    let label = id_text.clone().unwrap_or_else(|| "this policy".into());

    for (k, _) in &header.annotations {
        let k = k.as_str();
        if !ANNOTATIONS.contains(&k) {
            problems.push(
                Problem::new(origin(k), format!("unknown annotation `@{k}` on `{label}`"))
                    .with_help(Some(format!(
                        "allowed annotations: {}",
                        ANNOTATIONS.join(", ")
                    ))),
            );
        }
    }

    let mut required = |key: &str| -> Option<String> {
        match annotation(key) {
            Some(v) if !v.trim().is_empty() => Some(v.to_owned()),
            _ => {
                problems.push(
                    Problem::new(
                        Origin::File {
                            file: file.to_owned(),
                            span: Some(span.start..span.start + 1),
                        },
                        format!("policy `{label}` lacks the required annotation `@{key}`"),
                    )
                    .with_help(Some(format!("add `@{key}(\"...\")` above the policy"))),
                );
                None
            }
        }
    };
    let id = required("id");
    let summary = required("summary");
    let valid_from_s = required("valid_from");
    let recorded_s = required("recorded_at");
    let source = required("source");
    let quote = required("quote");

    let date_problem =
        |key: &str, e: DateError| Problem::new(origin(key), format!("`@{key}` of `{label}`: {e}"));
    let valid_from = valid_from_s.and_then(|s| match DateSpec::parse(&s) {
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(date_problem("valid_from", e));
            None
        }
    });
    let valid_to = match annotation("valid_to").map(DateSpec::parse) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            problems.push(date_problem("valid_to", e));
            None
        }
    };
    let recorded_at = recorded_s.and_then(|s| match crate::date::parse_day(&s) {
        Ok(d) => Some(d),
        Err(e) => {
            let p = match DateSpec::parse(&s) {
                // A valid vague date: say what to do with it, not how to
                // write a range (which this annotation does not take).
                Ok(range) => Problem::new(
                    origin("recorded_at"),
                    format!("`@recorded_at` of `{label}`: `{s}` is not one day"),
                )
                .with_help(Some(format!(
                    "`@recorded_at` is the day of the first public report; if only `{s}` is known, \
                     write its last day `{}` so that the fact counts as public only once it surely was",
                    range.latest()
                ))),
                Err(_) => date_problem("recorded_at", e).with_help(Some(
                    "`@recorded_at` must be one day (YYYY-MM-DD): the first public report".into(),
                )),
            };
            problems.push(p);
            None
        }
    });
    let status = match annotation("status") {
        None => crate::vocab::Status::Confirmed,
        Some(v) => match crate::vocab::Status::parse(v) {
            Some(st) => st,
            None => {
                problems.push(
                    Problem::new(
                        origin("status"),
                        format!("`@status(\"{v}\")` of `{label}` is not a status"),
                    )
                    .with_help(Some(
                        "use confirmed, reported, disputed or stated_position".into(),
                    )),
                );
                crate::vocab::Status::Confirmed
            }
        },
    };
    let sources: Vec<SourceId> = source
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(SourceId::new)
                .collect()
        })
        .unwrap_or_default();
    if let (Some(f), Some(t)) = (valid_from, valid_to) {
        if t.latest() <= f.earliest() {
            problems.push(Problem::new(
                origin("valid_to"),
                format!(
                    "`{label}` is contradictory: `@valid_to` {t} is not after `@valid_from` {f}"
                ),
            ));
        }
    }

    let approval = match annotation("approval") {
        None => None,
        Some(a) => match AuthorityId::parse(a) {
            Some(a) => Some(a),
            None => {
                problems.push(
                    Problem::new(
                        origin("approval"),
                        format!("`@approval(\"{a}\")` of `{label}` is not an authority"),
                    )
                    .with_help(Some(
                        "write it as PARTY:Name, for example `US:SecDef`".into(),
                    )),
                );
                None
            }
        },
    };
    let effect = match (header.forbid, &approval) {
        (false, None) => RuleEffect::Permit,
        (false, Some(_)) => {
            problems.push(
                Problem::new(origin("approval"), format!("`{label}` is a permit with `@approval`"))
                    .with_help(Some(
                        "write an approval requirement as a forbid that the approval lifts: \
                         `forbid (...) when {...} unless { context.approvals.contains(\"US:SecDef\") };`"
                            .into(),
                    )),
            );
            RuleEffect::Permit
        }
        (true, None) => RuleEffect::Forbid,
        (true, Some(a)) => {
            // The Cedar text itself must show that the approval lifts the
            // forbid, so the policy means the same when read in bare Cedar.
            if !body.contains("context.approvals") || !body.contains(&format!("\"{a}\"")) {
                problems.push(
                    Problem::new(
                        origin("approval"),
                        format!(
                            "`{label}` requires approval by `{a}` but its condition never tests it"
                        ),
                    )
                    .with_help(Some(format!(
                        "add `unless {{ context.approvals.contains(\"{a}\") }}`"
                    ))),
                );
            }
            RuleEffect::RequiresApproval
        }
    };

    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(id), Some(summary), Some(valid_from), Some(recorded_at), Some(_), Some(quote)) =
        (id, summary, valid_from, recorded_at, source, quote)
    else {
        return Err(problems);
    };
    let policy = LazyPolicy::unparsed(&id, body);
    let supersedes = annotation("supersedes").map(RuleId::from);
    let assumption = annotation("assumption").map(str::to_owned);
    let note = annotation("note").map(str::to_owned);
    let assured_by = annotation("assurance").map(|a| PartyId::new(a.trim()));
    let Some(first) = sources.first().cloned() else {
        return Err(vec![Problem::new(
            origin("source"),
            format!("`@source` of `{label}` names no source"),
        )]);
    };
    Ok(Rule {
        sources,
        status,
        assured_by,
        reads: context_reads(body),
        id: RuleId::new(id),
        owner: owner.clone(),
        effect,
        approval,
        summary,
        valid_from,
        valid_to,
        recorded_at,
        source: first,
        quote,
        supersedes,
        assumption,
        note,
        file: file.to_owned(),
        span,
        header,
        policy,
    })
}

/// Problems Cedar's parser would not report well: nesting too deep for any
/// parser thread's stack, and NUL bytes (which Cedar accepts inside string
/// literals, but which no register text may hold).
fn lexical_problems(file: &str, text: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(i) = text.find('\0') {
        out.push(
            Problem::new(
                Origin::File {
                    file: file.to_owned(),
                    span: Some(i..i + 1),
                },
                "a NUL byte in cedar text".into(),
            )
            .with_help(Some("remove the NUL byte (\\0)".into())),
        );
    }
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut comment = false;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if comment {
            comment = b != b'\n';
            continue;
        }
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'/' if bytes.get(i + 1) == Some(&b'/') => comment = true,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    out.push(
                        Problem::new(
                            Origin::File {
                                file: file.to_owned(),
                                span: Some(i..i + 1),
                            },
                            format!("cedar nesting deeper than {MAX_NESTING} levels"),
                        )
                        .with_help(Some(
                            "split the condition into simpler rules or flatten it".into(),
                        )),
                    );
                    return out;
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    out
}

/// The context attributes a policy text reads (`context.place` → `place`),
/// used to say which fact a request lacked when a rule could not be evaluated.
fn context_reads(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("context.") {
        let tail = &rest[i + "context.".len()..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
@id("us-a")
@summary("only in UA")
@valid_from("2023-09")
@valid_to("2024-11-01..2024-11-20")
@recorded_at("2024-09-11")
@source("wapo")
@quote("has not allowed them")
forbid (principal, action == Action::"use", resource in Model::"ATACMS")
unless { context.place in Place::"UA" };

@id("us-b")
@summary("review")
@valid_from("2025-03-01..2025-06-20")
@recorded_at("2025-08-23")
@source("nzh")
@quote("final approval")
@approval("US:SecDef")
forbid (principal, action == Action::"use", resource in Model::"ATACMS")
when { context.place in Place::"RU" }
unless { context.approvals.contains("US:SecDef") };
"#;

    #[test]
    fn parses_metadata_and_spans() {
        let rules = parse_rules(&"US".into(), "us.cedar", OK).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].id.as_str(), "us-a");
        assert_eq!(rules[0].effect, RuleEffect::Forbid);
        assert_eq!(rules[1].effect, RuleEffect::RequiresApproval);
        assert_eq!(rules[1].approval.as_ref().unwrap().as_str(), "US:SecDef");
        assert!(OK[rules[1].span.clone()].contains("us-b"));
        assert_eq!(rules[0].reads, vec!["place".to_string()]);
        assert_eq!(
            rules[1].reads,
            vec!["place".to_string(), "approvals".to_string()]
        );
    }

    #[test]
    fn strict_reading_of_imprecise_dates() {
        let rules = parse_rules(&"US".into(), "us.cedar", OK).unwrap();
        let a = &rules[0];
        // A restriction counts from the first day of the month and until the
        // last possible end.
        assert_eq!(a.effective_start().to_string(), "2023-09-01");
        assert_eq!(a.effective_end().unwrap().to_string(), "2024-11-20");
        assert!(a.uncertain_on(NaiveDate::from_ymd_opt(2024, 11, 10).unwrap()));
        assert!(!a.uncertain_on(NaiveDate::from_ymd_opt(2024, 10, 10).unwrap()));
    }

    #[test]
    fn invalid_cedar_has_a_span() {
        let src = "@id(\"x\")\nforbid (principal, action, resource) when { context.place in };";
        let errs = parse_rules(&"US".into(), "us.cedar", src).unwrap_err();
        let Origin::File {
            span: Some(span), ..
        } = &errs[0].origin
        else {
            panic!("no span: {errs:?}")
        };
        assert!(span.start > 10, "span should point into the body: {span:?}");
        assert!(errs[0].message.starts_with("invalid cedar"));
    }

    #[test]
    fn metadata_problems_are_all_reported() {
        let src = r#"
@id("x")
@valid_form("2024-01-01")
@valid_from("2024-02-30")
@recorded_at("2024")
@source("s")
@quote("q")
permit (principal, action, resource);
"#;
        let errs = parse_rules(&"US".into(), "us.cedar", src).unwrap_err();
        let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("unknown annotation `@valid_form`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("lacks the required annotation `@summary`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("not a day of the calendar")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("`@recorded_at`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn contradictory_validity_and_approval_misuse_are_refused() {
        let src = r#"
@id("x")
@summary("s")
@valid_from("2024-05-01")
@valid_to("2024-04-01")
@recorded_at("2024-05-01")
@source("s")
@quote("q")
@approval("US:SecDef")
forbid (principal, action, resource);
"#;
        let errs = parse_rules(&"US".into(), "us.cedar", src).unwrap_err();
        let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("contradictory")), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.contains("never tests it")),
            "{msgs:?}"
        );
    }
}
