//! Who may do what: an [`Authenticator`] turns the `Authorization` header
//! into an [`enduse::Principal`] and says whether it may do an
//! [`ApiAction`].
//!
//! A server on a database uses the database's users and tokens and the
//! API's Cedar policies ([`WorkflowAuth`], over [`enduse::Workflow`]).
//! Reads are open to anyone who can reach the server (which listens on
//! 127.0.0.1 by default), unless it runs with `private`; writes and workflow
//! actions always need a token. A request without a valid token gets 401,
//! one whose user may not do the action 403.

use enduse::{Error, ErrorKind, Principal, User, Workflow};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a request wants to do, for [`Authenticator::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAction {
    /// Read decisions, the register or the audit log.
    Read,
    /// Write one record of `kind`.
    Put {
        /// The record kind.
        kind: String,
    },
    /// Retract one record.
    Retract {
        /// The record kind.
        kind: String,
        /// Its key.
        key: String,
    },
    /// Import a whole data set.
    Import,
}

impl ApiAction {
    /// `read`, `put`, `retract` or `import`.
    pub fn name(&self) -> &'static str {
        match self {
            ApiAction::Read => "read",
            ApiAction::Put { .. } => "put",
            ApiAction::Retract { .. } => "retract",
            ApiAction::Import => "import",
        }
    }

    fn describe(&self) -> String {
        match self {
            ApiAction::Read => "read the register".to_owned(),
            ApiAction::Put { kind } => format!("put a {kind} record"),
            ApiAction::Retract { kind, key } => format!("retract {kind} `{key}`"),
            ApiAction::Import => "import a data set".to_owned(),
        }
    }
}

/// Checks tokens and permissions. Called from a blocking thread, so an
/// implementation may read a database.
pub trait Authenticator: Send + Sync + 'static {
    /// Who sends `authorization` (the header's value): anonymous without
    /// one, a user with a valid token; an error of kind `unauthorized` for
    /// a token that is unknown, expired or revoked.
    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Error>;

    /// Whether `who` may do `action` (`private`: reads need a token too);
    /// an error of kind `unauthorized` or `forbidden` if not.
    fn authorize(&self, who: &Principal, action: &ApiAction, private: bool) -> Result<(), Error>;
}

fn unauthorized(message: impl Into<String>) -> Error {
    Error::new(
        "enduse::unauthorized",
        ErrorKind::Unauthorized,
        message,
        Some("send `Authorization: Bearer TOKEN` with a token of a user of this server".into()),
    )
}

fn forbidden(message: impl Into<String>) -> Error {
    Error::new("enduse::forbidden", ErrorKind::Forbidden, message, None)
}

/// The database's users, tokens and API policies ([`enduse::Workflow`]).
pub struct WorkflowAuth {
    workflow: Arc<Mutex<Workflow>>,
}

impl std::fmt::Debug for WorkflowAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkflowAuth")
    }
}

impl WorkflowAuth {
    /// Over a workflow handle (shared with the workflow's routes).
    pub fn new(workflow: Arc<Mutex<Workflow>>) -> Self {
        WorkflowAuth { workflow }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Workflow>, Error> {
        self.workflow
            .lock()
            .map_err(|_| Error::internal("the workflow handle failed in another request"))
    }
}

impl Authenticator for WorkflowAuth {
    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Error> {
        self.lock()?.authenticate(authorization)
    }

    fn authorize(&self, who: &Principal, action: &ApiAction, private: bool) -> Result<(), Error> {
        let wf = self.lock()?;
        match action {
            ApiAction::Read => wf.authorize_read(who, private),
            _ => wf.authorize_write(who),
        }
    }
}

/// Tokens held in memory, each with the actions its user may do: for tests
/// and for a server without a database. Tokens are compared whole; they are
/// not hashed, so do not use it where the configuration can be read by
/// others.
#[derive(Debug, Clone, Default)]
pub struct StaticTokens {
    users: HashMap<String, (User, Vec<&'static str>)>,
}

impl StaticTokens {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds user `id` with `token`, allowed the actions named in `actions`
    /// (`read`, `put`, `retract`, `import`; `*` for all).
    pub fn with(mut self, id: &str, token: &str, actions: &[&'static str]) -> Self {
        let user = User {
            id: id.to_owned(),
            name: None,
            party: None,
            roles: Vec::new(),
            authorities: Vec::new(),
            disabled: false,
            created: String::new(),
            version: 1,
        };
        self.users
            .insert(token.to_owned(), (user, actions.to_vec()));
        self
    }
}

impl Authenticator for StaticTokens {
    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Error> {
        let Some(raw) = authorization.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Principal::Anonymous);
        };
        let token = match raw.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => return Err(unauthorized("the authorization is not a bearer token")),
        };
        self.users
            .get(token)
            .map(|(u, _)| Principal::User(u.clone()))
            .ok_or_else(|| unauthorized("the token is not valid"))
    }

    fn authorize(&self, who: &Principal, action: &ApiAction, private: bool) -> Result<(), Error> {
        let Principal::User(user) = who else {
            if *action == ApiAction::Read && !private {
                return Ok(());
            }
            return Err(unauthorized(format!(
                "to {} needs a token",
                action.describe()
            )));
        };
        let allowed = self.users.values().any(|(u, actions)| {
            u.id == user.id && actions.iter().any(|a| *a == "*" || *a == action.name())
        });
        if allowed || (*action == ApiAction::Read && !private) {
            Ok(())
        } else {
            Err(forbidden(format!(
                "`{}` may not {}",
                user.id,
                action.describe()
            )))
        }
    }
}

/// An authenticator that knows no token: reads are open (unless private),
/// every write is refused with 401.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTokens;

impl Authenticator for NoTokens {
    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Error> {
        match authorization.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Principal::Anonymous),
            Some(_) => Err(unauthorized(
                "this server has no users: it reads a data set without a database",
            )),
        }
    }

    fn authorize(&self, _who: &Principal, action: &ApiAction, private: bool) -> Result<(), Error> {
        if *action == ApiAction::Read && !private {
            Ok(())
        } else {
            Err(unauthorized(format!(
                "to {} needs a token",
                action.describe()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_tokens_authenticate_and_authorize() {
        let a = StaticTokens::new()
            .with("ed", "t-ed", &["put", "retract"])
            .with("ro", "t-ro", &["read"]);
        let ed = a.authenticate(Some("Bearer t-ed")).unwrap();
        assert!(a
            .authorize(
                &ed,
                &ApiAction::Put {
                    kind: "party".into()
                },
                false
            )
            .is_ok());
        let e = a.authorize(&ed, &ApiAction::Import, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        let e = a.authenticate(Some("Bearer nope")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(a.authenticate(None).unwrap(), Principal::Anonymous);
        assert!(a
            .authorize(&Principal::Anonymous, &ApiAction::Read, false)
            .is_ok());
        let e = a
            .authorize(&Principal::Anonymous, &ApiAction::Read, true)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
    }
}
