//! The API's own permissions, in Cedar: who may read, write the register,
//! manage users and tokens, and file, see, review and withdraw requests.
//!
//! The schema (`api.cedarschema`) is fixed: it is the shape of the entities
//! this module builds. The policies (`api.cedar`) are editable: a data-set
//! directory's `api.cedar` or a server option replaces them
//! ([`ApiPolicies::for_dir`], [`ApiPolicies::from_file`]), and they are
//! validated against the schema in strict mode when loaded.

use crate::error::{cut, Error, Result};
use crate::workflow::Principal;
use cedar_policy::{
    Authorizer, Context, Decision, Effect, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

/// The Cedar schema of the API's permissions.
pub const API_SCHEMA: &str = include_str!("api.cedarschema");

/// The policies shipped with enduse (`crates/enduse/src/api.cedar`).
pub const API_POLICIES: &str = include_str!("api.cedar");

/// The name of the policies file in a data-set directory.
pub const API_POLICIES_FILE: &str = "api.cedar";

/// The API's policies, validated against [`API_SCHEMA`].
pub struct ApiPolicies {
    name: String,
    text: String,
    schema: Schema,
    policies: PolicySet,
}

impl std::fmt::Debug for ApiPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiPolicies")
            .field("name", &self.name)
            .field("policies", &self.policies.policies().count())
            .finish()
    }
}

/// What a request concerns, as Cedar sees it.
pub(crate) enum Resource<'a> {
    /// The register (decisions, records, the audit log).
    Register,
    /// Users, tokens, quorums.
    Accounts,
    /// A request.
    Request(&'a RequestFacts),
}

/// What the policies read of a request.
#[derive(Debug, Clone)]
pub(crate) struct RequestFacts {
    pub(crate) id: String,
    pub(crate) party: String,
    pub(crate) requester: String,
    pub(crate) needs: Vec<String>,
}

/// The context of an action.
pub(crate) enum Ctx<'a> {
    /// None.
    Empty,
    /// `read`: whether the server is private.
    Private(bool),
    /// `review`: the authority reviewed for.
    Authority(&'a str),
}

/// An answer: allowed or not, and the `@id`s of the `forbid` policies that
/// refused it.
pub(crate) struct Answer {
    pub(crate) allowed: bool,
    pub(crate) forbidden_by: Vec<String>,
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what}: {}", e.to_string().to_lowercase()))
}

fn uid(ty: &str, id: &str) -> Result<EntityUid> {
    let t = EntityTypeName::from_str(ty).map_err(|e| internal("a cedar type name", e))?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

fn schema() -> Result<Schema> {
    let (schema, _warnings) =
        Schema::from_cedarschema_str(API_SCHEMA).map_err(|e| internal("the api schema", e))?;
    Ok(schema)
}

impl ApiPolicies {
    /// The policies shipped with enduse.
    pub fn bundled() -> Result<ApiPolicies> {
        ApiPolicies::from_text("the bundled api.cedar", API_POLICIES)
    }

    /// Policies from text, named `name` in messages; refused unless they
    /// parse and validate against [`API_SCHEMA`] in strict mode.
    pub fn from_text(name: &str, text: &str) -> Result<ApiPolicies> {
        let schema = schema()?;
        let bad = |msg: String| {
            Error::bad_request(
                "enduse::bad_api_policies",
                format!("`{}`: {msg}", cut(name)),
                "the api's policies are Cedar, validated against enduse's api.cedarschema; start from the bundled api.cedar",
            )
        };
        let policies = PolicySet::from_str(text)
            .map_err(|e| bad(format!("not cedar: {}", e.to_string().to_lowercase())))?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let first: Vec<String> = result
                .validation_errors()
                .take(3)
                .map(|e| e.to_string().to_lowercase())
                .collect();
            return Err(bad(format!(
                "does not validate against the api schema: {}",
                first.join("; ")
            )));
        }
        Ok(ApiPolicies {
            name: name.to_owned(),
            text: text.to_owned(),
            schema,
            policies,
        })
    }

    /// Policies from a file.
    pub fn from_file(path: &Path) -> Result<ApiPolicies> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, &e))?;
        ApiPolicies::from_text(&path.display().to_string(), &text)
    }

    /// The `api.cedar` of a data-set directory if it has one, else the
    /// bundled policies.
    pub fn for_dir(dir: &Path) -> Result<ApiPolicies> {
        let path = dir.join(API_POLICIES_FILE);
        if path.exists() {
            ApiPolicies::from_file(&path)
        } else {
            ApiPolicies::bundled()
        }
    }

    /// Where the policies came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Their text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Asks the policies whether `p` may do `action` on `resource`, on
    /// `today` (which decides the dated memberships of authorities).
    pub(crate) fn ask(
        &self,
        p: &Principal,
        action: &str,
        resource: &Resource<'_>,
        ctx: &Ctx<'_>,
        today: NaiveDate,
    ) -> Result<Answer> {
        let mut entities: Vec<Entity> = Vec::new();
        let principal = match p {
            Principal::Anonymous => uid("Anonymous", "anonymous")?,
            Principal::Operator => uid("Operator", "operator")?,
            Principal::User(u) => {
                let me = uid("User", &u.id)?;
                let mut parents: HashSet<EntityUid> = HashSet::new();
                for r in &u.roles {
                    parents.insert(uid("Role", r.as_str())?);
                }
                let mut authorities = Vec::new();
                for d in u.authorities.iter().filter(|d| d.active_on(today)) {
                    let a = uid("Authority", &d.authority)?;
                    parents.insert(a.clone());
                    authorities.push(RestrictedExpression::new_entity_uid(a));
                }
                let mut attrs: HashMap<String, RestrictedExpression> = HashMap::new();
                attrs.insert(
                    "authorities".into(),
                    RestrictedExpression::new_set(authorities),
                );
                if let Some(party) = &u.party {
                    attrs.insert(
                        "party".into(),
                        RestrictedExpression::new_entity_uid(uid("Party", party)?),
                    );
                }
                entities.push(
                    Entity::new(me.clone(), attrs, parents)
                        .map_err(|e| internal("a user entity", e))?,
                );
                me
            }
        };
        let resource = match resource {
            Resource::Register => uid("Register", "register")?,
            Resource::Accounts => uid("Accounts", "accounts")?,
            Resource::Request(r) => {
                let me = uid("Request", &r.id)?;
                let mut attrs: HashMap<String, RestrictedExpression> = HashMap::new();
                attrs.insert(
                    "party".into(),
                    RestrictedExpression::new_entity_uid(uid("Party", &r.party)?),
                );
                attrs.insert(
                    "requester".into(),
                    RestrictedExpression::new_entity_uid(uid("User", &r.requester)?),
                );
                let needs = r
                    .needs
                    .iter()
                    .map(|a| uid("Authority", a).map(RestrictedExpression::new_entity_uid))
                    .collect::<Result<Vec<_>>>()?;
                attrs.insert("needs".into(), RestrictedExpression::new_set(needs));
                entities.push(
                    Entity::new(me.clone(), attrs, HashSet::new())
                        .map_err(|e| internal("a request entity", e))?,
                );
                me
            }
        };
        let pairs: Vec<(String, RestrictedExpression)> = match ctx {
            Ctx::Empty => Vec::new(),
            Ctx::Private(b) => vec![("private".into(), RestrictedExpression::new_bool(*b))],
            Ctx::Authority(a) => vec![(
                "authority".into(),
                RestrictedExpression::new_entity_uid(uid("Authority", a)?),
            )],
        };
        let context = Context::from_pairs(pairs).map_err(|e| internal("a cedar context", e))?;
        let request = Request::new(
            principal,
            uid("Action", action)?,
            resource,
            context,
            Some(&self.schema),
        )
        .map_err(|e| internal("a cedar request", e))?;
        let entities = Entities::from_entities(entities, Some(&self.schema))
            .map_err(|e| internal("the cedar entities", e))?;
        let response = Authorizer::new().is_authorized(&request, &self.policies, &entities);
        let allowed = response.decision() == Decision::Allow;
        let forbidden_by = if allowed {
            Vec::new()
        } else {
            response
                .diagnostics()
                .reason()
                .filter_map(|id| self.policies.policy(id))
                .filter(|p| p.effect() == Effect::Forbid)
                .map(|p| {
                    p.annotation("id")
                        .map(str::to_owned)
                        .unwrap_or_else(|| p.id().to_string())
                })
                .collect()
        };
        Ok(Answer {
            allowed,
            forbidden_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_policies_validate() {
        let p = ApiPolicies::bundled().unwrap();
        assert!(p.text().contains("no-self-review"));
    }

    #[test]
    fn policies_that_do_not_fit_the_schema_are_refused() {
        let e = ApiPolicies::from_text(
            "x.cedar",
            "permit (principal, action == Action::\"fly\", resource);",
        )
        .unwrap_err();
        assert_eq!(e.code(), "enduse::bad_api_policies");
        assert!(e.to_string().starts_with("`x.cedar`: "), "{e}");
        let e = ApiPolicies::from_text("y.cedar", "permit (").unwrap_err();
        assert!(e.to_string().contains("not cedar"), "{e}");
    }
}
