//! `enduse serve`: the register over HTTP, with the database's users and
//! tokens (the server's own authenticator over the facade's workflow).

use super::Ctx;
use crate::args::ServeArgs;
use enduse::{ApiPolicies, Error, ErrorKind, Result};
use enduse_server::{ServeOptions, ServerError};
use std::sync::Arc;

/// The server's error, as the library's (the CLI renders those).
fn server_error(e: ServerError) -> Error {
    match e {
        ServerError::Enduse(e) | ServerError::PreconditionFailed(e) => e,
        ServerError::Http {
            code,
            message,
            help,
            ..
        } => Error::new(code, ErrorKind::BadRequest, message, help),
        ServerError::Listen { addr, message } => Error::new(
            "enduse::server::listen",
            ErrorKind::Io,
            format!("cannot serve on `{addr}`: {message}"),
            Some("give another address with --listen (port 0 picks a free one)".into()),
        ),
        other => Error::internal(other.to_string()),
    }
}

pub fn run(a: ServeArgs, ctx: &mut Ctx) -> Result<i32> {
    let listen = a.listen.parse().map_err(|_| {
        Error::bad_request(
            "enduse::usage",
            format!(
                "`{}` is not an address to listen on",
                enduse::cut(&a.listen)
            ),
            "give HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free one)",
        )
    })?;
    let policies = match &a.policies {
        Some(f) => Some(Arc::new(ApiPolicies::from_file(f)?)),
        None => None,
    };
    let opts = ServeOptions {
        db: Some(ctx.db_target()),
        listen,
        private: a.private,
        // None: the server authenticates with the database's users and
        // tokens and the API's Cedar policies (`WorkflowAuth`), sharing
        // the workflow handle of its routes.
        authenticator: None,
        clock: ctx.clock.clone(),
        policies,
        ..ServeOptions::default()
    };
    enduse_server::serve_blocking(opts).map_err(server_error)?;
    Ok(0)
}
