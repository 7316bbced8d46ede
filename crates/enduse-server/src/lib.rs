//! enduse-server: the `enduse` library behind an HTTP API.
//!
//! Every query the CLI has is a route under `/v1/` (decisions, a batch of
//! up to 10,000, consent chains, rules in force, timelines, where a point
//! lies, maps, lists), and so are the database's records, log, writes
//! (put and retract with `If-Match` versions) and imports. The description
//! is served at `/openapi.json` (OpenAPI 3.1). Errors are problem documents
//! (RFC 9457) with the library's stable codes.
//!
//! The server calls the `enduse` library and nothing else to reach the
//! engine and the store. It keeps the register's current snapshot in
//! memory and swaps it atomically when a write lands, through this server
//! or through another on the same database (it polls the transaction log).
//!
//! ```no_run
//! # async fn run() -> Result<(), enduse_server::ServerError> {
//! let opts = enduse_server::ServeOptions {
//!     db: Some("enduse.db".into()),
//!     ..Default::default()
//! };
//! enduse_server::serve(opts).await // until SIGTERM or Ctrl-C
//! # }
//! ```

mod accounts_api;
mod api;
mod auth;
mod decision_log;
mod error;
mod extract;
pub mod openapi;
mod state;
mod web;
mod workflow_api;

pub use accounts_api::{TokenList, UserHistory, UserList};
pub use api::{
    DecisionResponse, ExportResponse, Health, RegisterRef, WriteResponse, MAX_APPROVALS, MAX_BATCH,
    MAX_NAME,
};
pub use auth::{ApiAction, Authenticator, NoTokens, StaticTokens, WorkflowAuth};
pub use error::{status_of, Problem, Result, ServerError, PROBLEM_JSON};
pub use extract::{parse_json, Precondition};
pub use state::AppState;
pub use workflow_api::{EntryList, RequestHistory, RequestList, MAX_ENTRIES};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use enduse::Clock;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The largest body of most routes.
pub const BODY_LIMIT: usize = 1 << 20;
/// The largest body of a batch of decisions and of an import.
pub const LARGE_BODY_LIMIT: usize = 16 << 20;

/// How to serve.
#[derive(Clone)]
pub struct ServeOptions {
    /// The database (a SQLite file, which must exist, or a PostgreSQL
    /// connection string). `None`: the bundled data set, read only.
    pub db: Option<String>,
    /// Where to listen (default 127.0.0.1:8080; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Whether reads need a token too.
    pub private: bool,
    /// Who holds which token. `None`: nobody, so every write is refused
    /// with 401.
    pub authenticator: Option<Arc<dyn Authenticator>>,
    /// Where "today" comes from (the default `as_of` and `known_at`).
    pub clock: Clock,
    /// How long a read may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long a write or an import may take before it is answered 503
    /// (the write itself, one transaction, still completes or fails whole).
    pub write_timeout: Duration,
    /// How often the transaction log is read for writes of other servers.
    pub poll_interval: Duration,
    /// The API's Cedar policies (default: the bundled `api.cedar`).
    pub policies: Option<Arc<enduse::ApiPolicies>>,
    /// Whether every decision answered is appended to the database's audit
    /// log, its index in the answer (default: yes; there is no log without
    /// a database).
    pub log_decisions: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            db: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            private: false,
            authenticator: None,
            clock: Clock::from_process(),
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(250),
            policies: None,
            log_decisions: true,
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("db", &self.db.as_ref().map(|_| "(set)"))
            .field("listen", &self.listen)
            .field("private", &self.private)
            .field("authenticator", &self.authenticator.is_some())
            .field("request_timeout", &self.request_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

/// The routes, and the method and path of each, built in one place so that
/// the list cannot differ from the router (a test compares it with the
/// OpenAPI description).
struct Routes {
    router: Router<Arc<AppState>>,
    table: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add(mut self, method: Method, path: &'static str, r: MethodRouter<Arc<AppState>>) -> Self {
        self.table.push((method, path));
        self.router = self.router.route(path, r);
        self
    }

    fn build() -> Routes {
        let large = || DefaultBodyLimit::max(LARGE_BODY_LIMIT);
        // Batches, maps, imports and exports take a core each for a while:
        // as many at once as there are cores; the others wait their turn
        // (within the request timeout).
        let heavy = tower::limit::GlobalConcurrencyLimitLayer::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        );
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
        .add(Method::GET, "/v1/health", get(api::health))
        .add(Method::GET, "/openapi.json", get(api::openapi))
        .add(Method::POST, "/v1/decisions", post(api::decisions))
        .add(
            Method::POST,
            "/v1/decisions/batch",
            post(api::batch)
                .layer::<_, Infallible>(large())
                .layer::<_, Infallible>(heavy.clone()),
        )
        .add(Method::GET, "/v1/consent-chain", get(api::consent_chain))
        .add(Method::GET, "/v1/policies", get(api::policies))
        .add(Method::GET, "/v1/timeline", get(api::timeline))
        .add(Method::GET, "/v1/where", get(api::where_))
        .add(
            Method::POST,
            "/v1/map",
            post(api::map).layer::<_, Infallible>(heavy.clone()),
        )
        .add(Method::GET, "/v1/parties", get(api::parties))
        .add(Method::GET, "/v1/models", get(api::models))
        .add(Method::GET, "/v1/places", get(api::places))
        .add(Method::GET, "/v1/authorities", get(api::authorities))
        .add(Method::GET, "/v1/areas", get(api::areas))
        .add(Method::GET, "/v1/records/{kind}/{key}", get(api::history))
        .add(
            Method::DELETE,
            "/v1/records/{kind}/{key}",
            delete(api::retract),
        )
        .add(Method::POST, "/v1/records/{kind}", post(api::put))
        .add(Method::GET, "/v1/log", get(api::log))
        .add(
            Method::POST,
            "/v1/import",
            post(api::import)
                .layer::<_, Infallible>(large())
                .layer::<_, Infallible>(heavy.clone()),
        )
        .add(
            Method::GET,
            "/v1/export",
            get(api::export).layer::<_, Infallible>(heavy),
        )
        .add(Method::POST, "/v1/requests", post(workflow_api::file))
        .add(Method::GET, "/v1/requests", get(workflow_api::list))
        .add(Method::GET, "/v1/requests/{id}", get(workflow_api::show))
        .add(
            Method::GET,
            "/v1/requests/{id}/history",
            get(workflow_api::history),
        )
        .add(
            Method::POST,
            "/v1/requests/{id}/reviews",
            post(workflow_api::review),
        )
        .add(
            Method::POST,
            "/v1/requests/{id}/withdraw",
            post(workflow_api::withdraw),
        )
        .add(
            Method::GET,
            "/v1/audit/checkpoint",
            get(workflow_api::checkpoint),
        )
        .add(Method::GET, "/v1/audit/entries", get(workflow_api::entries))
        .add(
            Method::GET,
            "/v1/audit/entries/{index}",
            get(workflow_api::entry),
        )
        .add(
            Method::GET,
            "/v1/audit/proofs/inclusion",
            get(workflow_api::inclusion),
        )
        .add(
            Method::GET,
            "/v1/audit/proofs/consistency",
            get(workflow_api::consistency),
        )
        .add(Method::GET, "/v1/users", get(accounts_api::users))
        .add(Method::POST, "/v1/users", post(accounts_api::add_user))
        .add(Method::GET, "/v1/users/{id}", get(accounts_api::user))
        .add(
            Method::PUT,
            "/v1/users/{id}",
            put(accounts_api::update_user),
        )
        .add(
            Method::POST,
            "/v1/users/{id}/disable",
            post(accounts_api::disable_user),
        )
        .add(
            Method::POST,
            "/v1/users/{id}/enable",
            post(accounts_api::enable_user),
        )
        .add(
            Method::GET,
            "/v1/users/{id}/history",
            get(accounts_api::user_history),
        )
        .add(Method::GET, "/v1/tokens", get(accounts_api::tokens))
        .add(Method::POST, "/v1/tokens", post(accounts_api::create_token))
        .add(
            Method::DELETE,
            "/v1/tokens/{id}",
            delete(accounts_api::revoke_token),
        )
        .add(
            Method::GET,
            "/v1/quorums/{authority}",
            get(accounts_api::quorum),
        )
        .add(
            Method::PUT,
            "/v1/quorums/{authority}",
            put(accounts_api::set_quorum),
        )
    }
}

/// Every route of the router: (method, path), paths as in OpenAPI
/// (`/v1/records/{kind}/{key}`).
pub fn route_table() -> Vec<(Method, &'static str)> {
    Routes::build().table
}

/// The router of the API over `state`, with its limits: 1 MiB bodies
/// (16 MiB for a batch and an import), the request timeout, problem
/// documents for unknown routes, methods and panics.
pub fn router(state: Arc<AppState>) -> Router {
    Routes::build()
        .router
        .merge(web::routes())
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::no_method)
        .layer(axum::middleware::from_fn_with_state(state.clone(), timeout))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            api::panic_response,
        ))
        .with_state(state)
}

/// Whether a request writes to the database.
fn is_write(method: &Method, path: &str) -> bool {
    *method != Method::GET
        && *method != Method::HEAD
        && (path.starts_with("/v1/records/")
            || path == "/v1/import"
            || path.starts_with("/v1/requests")
            || path.starts_with("/v1/users")
            || path.starts_with("/v1/tokens")
            || path.starts_with("/v1/quorums"))
}

async fn timeout(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let write = is_write(req.method(), req.uri().path());
    let limit = if write {
        s.limits.write_timeout
    } else {
        s.limits.request_timeout
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ServerError::http(
            StatusCode::SERVICE_UNAVAILABLE,
            "enduse::server::timeout",
            format!(
                "the request took longer than {} s and was stopped",
                limit.as_secs_f64()
            ),
            Some(if write {
                "the write is one transaction and may still complete: read the record (or the log) before trying again".to_owned()
            } else {
                "ask for less (a smaller batch, a larger map cell), or try again later".to_owned()
            }),
        )
        .into_response(),
    }
}

/// A server bound to its address, not yet answering.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    poll_interval: Duration,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .field("state", &self.state)
            .finish()
    }
}

impl Server {
    /// Opens the register (see [`AppState::open`]) and binds the address.
    pub async fn bind(opts: ServeOptions) -> Result<Server> {
        let listen = opts.listen;
        let poll_interval = opts.poll_interval;
        let state = tokio::task::spawn_blocking(move || AppState::open(&opts))
            .await
            .map_err(|e| ServerError::Internal(format!("opening the register: {e}")))??;
        let listener =
            tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| ServerError::Listen {
                    addr: listen.to_string(),
                    message: e.to_string().to_lowercase(),
                })?;
        Ok(Server {
            listener,
            state,
            poll_interval,
        })
    }

    /// The bound address (the port picked, for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(|e| ServerError::Listen {
            addr: "?".into(),
            message: e.to_string(),
        })
    }

    /// The shared state.
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Answers until `shutdown` completes, then finishes the requests in
    /// flight (a write in progress completes, or fails whole) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let addr = self.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let poller = self
            .state
            .has_database()
            .then(|| tokio::spawn(poll(self.state.clone(), self.poll_interval, stop_rx)));
        let app = router(self.state.clone());
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_tx.send(true);
        if let Some(p) = poller {
            let _ = p.await;
        }
        // What was logged since the last checkpoint gets one before the
        // process exits (the appending thread signs on a timer).
        if let Some(log) = &self.state.log {
            if let Err(e) = log.checkpoint().await {
                eprintln!("enduse-server: the last audit checkpoint was not signed: {e}");
            }
        }
        // A write whose request timed out runs on: wait for it.
        if self.state.has_database() {
            let s = self.state.clone();
            let _ = tokio::task::spawn_blocking(move || s.register().map(drop)).await;
        }
        served.map_err(|e| ServerError::Listen {
            addr: addr.to_string(),
            message: e.to_string().to_lowercase(),
        })
    }
}

/// Reads the transaction log every `every` until told to stop; a newer
/// register becomes the current snapshot.
async fn poll(state: Arc<AppState>, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.refresh()).await {
            Ok(Ok(_)) => failing = false,
            Ok(Err(e)) => {
                if !failing {
                    eprintln!("enduse-server: reading the register failed: {e}; the last snapshot is served");
                }
                failing = true;
            }
            Err(e) => eprintln!("enduse-server: the poll task failed: {e}"),
        }
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Serves `opts` until SIGTERM or Ctrl-C, then finishes the requests in
/// flight. Prints `enduse: listening on http://ADDR` to standard error once
/// the address is bound.
pub async fn serve(opts: ServeOptions) -> Result<()> {
    let server = Server::bind(opts).await?;
    eprintln!("enduse: listening on http://{}", server.local_addr()?);
    server.run(shutdown_signal()).await
}

/// [`serve`] on a runtime of its own, for a program that has none (the
/// CLI).
pub fn serve_blocking(opts: ServeOptions) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerError::Internal(format!("cannot start the runtime: {e}")))?;
    rt.block_on(serve(opts))
}
