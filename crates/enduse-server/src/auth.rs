//! Who may do what: an [`Authenticator`] turns a bearer token into a
//! [`Principal`] and says whether it may do an [`ApiAction`].
//!
//! Reads are open to anyone who can reach the server (which listens on
//! 127.0.0.1 by default), unless it runs with `private`; writes always need
//! a token. A request without a valid token gets 401, one whose user may not
//! do the action 403.

use crate::error::ServerError;
use std::collections::HashMap;

/// The holder of a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's name.
    pub user: String,
}

/// What a request wants to do, for [`Authenticator::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAction {
    /// Read decisions or the register.
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
}

/// Checks tokens and permissions. Called from a blocking thread, so an
/// implementation may read a database.
pub trait Authenticator: Send + Sync + 'static {
    /// The holder of `token`, or `None` when it is unknown, expired or
    /// revoked.
    fn authenticate(&self, token: &str) -> Result<Option<Principal>, enduse::Error>;

    /// Whether `who` may do `action`.
    fn authorize(&self, who: &Principal, action: &ApiAction) -> Result<bool, enduse::Error>;
}

/// Tokens held in memory, each with the actions its user may do: for tests
/// and for a server of one person. Tokens are compared whole; they are not
/// hashed, so do not use it where the configuration can be read by others.
#[derive(Debug, Clone, Default)]
pub struct StaticTokens {
    users: HashMap<String, (Principal, Vec<&'static str>)>,
}

impl StaticTokens {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `user` with `token`, allowed the actions named in `actions`
    /// (`read`, `put`, `retract`, `import`; `*` for all).
    pub fn with(mut self, user: &str, token: &str, actions: &[&'static str]) -> Self {
        self.users.insert(
            token.to_owned(),
            (
                Principal {
                    user: user.to_owned(),
                },
                actions.to_vec(),
            ),
        );
        self
    }
}

impl Authenticator for StaticTokens {
    fn authenticate(&self, token: &str) -> Result<Option<Principal>, enduse::Error> {
        Ok(self.users.get(token).map(|(p, _)| p.clone()))
    }

    fn authorize(&self, who: &Principal, action: &ApiAction) -> Result<bool, enduse::Error> {
        Ok(self.users.values().any(|(p, actions)| {
            p == who && actions.iter().any(|a| *a == "*" || *a == action.name())
        }))
    }
}

/// An authenticator that knows no token: every write is refused with 401.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTokens;

impl Authenticator for NoTokens {
    fn authenticate(&self, _token: &str) -> Result<Option<Principal>, enduse::Error> {
        Ok(None)
    }

    fn authorize(&self, _who: &Principal, _action: &ApiAction) -> Result<bool, enduse::Error> {
        Ok(false)
    }
}

/// The bearer token of an `Authorization` header value.
pub(crate) fn bearer(value: Option<&axum::http::HeaderValue>) -> Result<String, ServerError> {
    let Some(v) = value else {
        return Err(ServerError::unauthorized("this request needs a token"));
    };
    let s = v
        .to_str()
        .map_err(|_| ServerError::unauthorized("the `Authorization` header is not text"))?;
    let (scheme, token) = s.trim().split_once(' ').unwrap_or((s, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ServerError::unauthorized(
            "the `Authorization` header must be `Bearer TOKEN`",
        ));
    }
    Ok(token.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_tokens_authenticate_and_authorize() {
        let a = StaticTokens::new()
            .with("ed", "t-ed", &["put", "retract"])
            .with("ro", "t-ro", &["read"]);
        let ed = a.authenticate("t-ed").unwrap().unwrap();
        assert!(a
            .authorize(
                &ed,
                &ApiAction::Put {
                    kind: "party".into()
                }
            )
            .unwrap());
        assert!(!a.authorize(&ed, &ApiAction::Import).unwrap());
        assert!(a.authenticate("nope").unwrap().is_none());
    }

    #[test]
    fn bearer_tokens_are_read() {
        let v = axum::http::HeaderValue::from_static("Bearer abc");
        assert_eq!(bearer(Some(&v)).unwrap(), "abc");
        let v = axum::http::HeaderValue::from_static("Basic abc");
        assert!(bearer(Some(&v)).is_err());
        assert!(bearer(None).is_err());
    }
}
