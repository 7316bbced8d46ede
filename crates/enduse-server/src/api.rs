//! The handlers: each reads its request, asks the `enduse` library (a
//! [`enduse::Snapshot`] for the questions, the [`enduse::Register`] for the
//! database), and answers the library's report as JSON, or an error as a
//! problem document.

use crate::auth::ApiAction;
use crate::error::{Problem, Result, ServerError};
use crate::extract::{etag, precondition, JsonBody, Precondition, P, Q};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use enduse::{
    Ask, Audit, ChainAsk, CheckReport, EditReport, ImportOptions, PoliciesAsk, PreparedImport,
    Principal, PutRequest, Snapshot, WhereAsk,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The shared state, as handlers take it.
pub(crate) type S = State<Arc<AppState>>;

/// Most asks in one batch.
pub const MAX_BATCH: usize = 10_000;

/// The longest name (of a party, a model, a place, a date...) a request may
/// give: the register's are far shorter, and the library's search for near
/// matches of an unknown name takes time that grows with its length.
pub const MAX_NAME: usize = 200;

/// Most authorities an ask may name as having approved.
pub const MAX_APPROVALS: usize = 64;

/// Refuses a name longer than [`MAX_NAME`].
fn short(field: &str, v: Option<&str>) -> Result<()> {
    match v {
        Some(s) if s.chars().count() > MAX_NAME => Err(ServerError::bad_request(
            "enduse::server::too_long",
            format!(
                "`{field}` is {} characters long; names are at most {MAX_NAME}",
                s.chars().count()
            ),
            "give the code or the name of a record of the register (see the list endpoints)",
        )),
        _ => Ok(()),
    }
}

/// Checks the lengths of an ask's names.
pub(crate) fn check_ask(ask: &Ask) -> Result<()> {
    short("actor", Some(&ask.actor))?;
    short("action", Some(&ask.action))?;
    short("model", ask.model.as_deref())?;
    short("lot", ask.lot.as_deref())?;
    short("place", ask.place.as_deref())?;
    if let Some(enduse::Point::Text(t)) = &ask.at {
        short("at", Some(t))?;
    }
    short("recipient", ask.recipient.as_deref())?;
    short("target_class", ask.target_class.as_deref())?;
    short("purpose", ask.purpose.as_deref())?;
    short("destination", ask.destination.as_deref())?;
    short("status", ask.status.as_deref())?;
    short("as_of", ask.as_of.as_deref())?;
    short("known_at", ask.known_at.as_deref())?;
    if ask.approvals.len() > MAX_APPROVALS {
        return Err(ServerError::bad_request(
            "enduse::server::too_long",
            format!(
                "`approvals` names {} authorities; at most {MAX_APPROVALS}",
                ask.approvals.len()
            ),
            "",
        ));
    }
    for a in &ask.approvals {
        short("approvals", Some(a))?;
    }
    Ok(())
}

/// Runs `f` on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Internal(format!("a task ended early: {e}")))?
}

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: StatusCode, v: &T) -> Result<Response> {
    let body = serde_json::to_vec(v).map_err(|e| {
        ServerError::Internal(format!("a report could not be written as JSON: {e}"))
    })?;
    Ok(json_bytes(status, body))
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The `Authorization` header's value, as text.
fn authorization(parts: &Parts) -> Result<Option<String>> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ServerError::unauthorized("the `Authorization` header is not text"))
        })
        .transpose()
}

/// A request allowed to read: anyone, or, on a private server, a user with
/// a valid token who may read.
pub(crate) struct Reader;

impl FromRequestParts<Arc<AppState>> for Reader {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        if !state.private {
            return Ok(Reader);
        }
        let h = authorization(parts)?;
        let s = state.clone();
        blocking(move || {
            let who = s.authenticate(h.as_deref())?;
            s.authorize(&who, &ApiAction::Read)
        })
        .await?;
        Ok(Reader)
    }
}

/// Whoever sends the request: anonymous, or the user of a valid token (an
/// invalid token is refused with 401).
pub(crate) struct Caller(pub Principal);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let h = authorization(parts)?;
        let s = state.clone();
        let who = blocking(move || s.authenticate(h.as_deref())).await?;
        Ok(Caller(who))
    }
}

/// A request with a valid token (checked before the body is read).
pub(crate) struct Token(pub Principal);

impl FromRequestParts<Arc<AppState>> for Token {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Caller(who) = Caller::from_request_parts(parts, state).await?;
        if who == Principal::Anonymous {
            return Err(ServerError::unauthorized("this request needs a token"));
        }
        Ok(Token(who))
    }
}

/// Where an answer comes from: the register and its transaction.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterRef {
    /// `bundled` (the data set built into the program) or `database`.
    pub source: &'static str,
    /// The data set's name, or the database's (a SQLite file's name,
    /// `postgres`).
    pub name: String,
    /// The latest transaction of the register the answer was read from
    /// (`null` for the bundled data set).
    pub txn: Option<i64>,
}

impl RegisterRef {
    fn of(state: &AppState, snap: &Snapshot) -> Self {
        RegisterRef {
            source: state.source(),
            name: state.name().to_owned(),
            txn: snap.origin().txn,
        }
    }
}

/// The server and the register it answers from.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// The program's version.
    pub version: &'static str,
    /// The register, when one is loaded.
    pub register: Option<RegisterRef>,
    /// Whether reads need a token.
    pub private: bool,
}

/// `GET /v1/health`
#[utoipa::path(get, path = "/v1/health", tag = "server",
    responses((status = 200, description = "The server answers", body = crate::openapi::doc::Health)))]
pub(crate) async fn health(State(s): S) -> Result<Response> {
    let register = s.snapshot().ok().map(|snap| RegisterRef::of(&s, &snap));
    json(
        StatusCode::OK,
        &Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
            register,
            private: s.private,
        },
    )
}

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", tag = "server",
    responses((status = 200, description = "This description (OpenAPI 3.1)", content_type = "application/json")))]
pub(crate) async fn openapi() -> Result<Response> {
    json(StatusCode::OK, crate::openapi::spec())
}

/// A decision and the register it was answered from.
#[derive(Debug, Serialize)]
pub struct DecisionResponse {
    /// The decision: the same JSON as `enduse check --json`.
    #[serde(flatten)]
    pub report: CheckReport,
    /// The register it was answered from.
    pub register: RegisterRef,
    /// Its index in the database's audit log (`null` without a
    /// database).
    pub log_index: Option<u64>,
}

/// `?explain=true`
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExplainParam {
    /// List every rule considered, and why it was used or not.
    #[serde(default)]
    explain: Option<bool>,
}

fn decide(
    snap: &Snapshot,
    ask: &Ask,
    explain: bool,
    today: chrono::NaiveDate,
) -> Result<CheckReport> {
    check_ask(ask)?;
    Ok(if explain {
        snap.explain(ask, today)?
    } else {
        snap.check(ask, today)?
    })
}

/// `POST /v1/decisions`
#[utoipa::path(post, path = "/v1/decisions", tag = "decisions",
    params(ExplainParam),
    request_body(content = crate::openapi::doc::Ask, description = "The request: the facade's `Ask`"),
    responses(
        (status = 200, description = "The decision, as `enduse check --json` gives it, with the register it was answered from", body = crate::openapi::doc::DecisionResponse),
        (status = "4XX", description = "A request that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn decisions(
    State(s): S,
    _r: Reader,
    Q(p): Q<ExplainParam>,
    JsonBody(ask): JsonBody<Ask>,
) -> Result<Response> {
    let snap = s.snapshot()?;
    let report = decide(&snap, &ask, p.explain.unwrap_or(false), s.clock.today())?;
    let log_index = match &s.log {
        Some(log) => {
            let entry = Audit::decision_entry(&ask, &report, snap.origin().txn)?;
            Some(log.append(vec![entry]).await?)
        }
        None => None,
    };
    json(
        StatusCode::OK,
        &DecisionResponse {
            report,
            register: RegisterRef::of(&s, &snap),
            log_index,
        },
    )
}

/// A batch of asks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    asks: Vec<Ask>,
    #[serde(default)]
    explain: bool,
}

/// One answer of a batch: a decision, or the problem of its ask.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum BatchItem {
    Decision {
        status: u16,
        decision: Box<CheckReport>,
        log_index: Option<u64>,
    },
    Problem {
        status: u16,
        problem: Box<Problem>,
    },
}

/// The asks of one thread of a batch, decided.
struct Decided {
    items: Vec<BatchItem>,
    entries: Vec<enduse::AuditEntry>,
}

/// `POST /v1/decisions/batch`
#[utoipa::path(post, path = "/v1/decisions/batch", tag = "decisions",
    request_body(content = crate::openapi::doc::BatchRequest, description = "Up to 10,000 asks (16 MiB)"),
    responses(
        (status = 200, description = "One answer per ask, in order, all from one snapshot of the register", body = crate::openapi::doc::BatchResponse),
        (status = "4XX", description = "A batch that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn batch(
    State(s): S,
    _r: Reader,
    JsonBody(req): JsonBody<BatchRequest>,
) -> Result<Response> {
    if req.asks.len() > MAX_BATCH {
        return Err(ServerError::bad_request(
            "enduse::server::batch_too_large",
            format!(
                "the batch has {} asks; at most {MAX_BATCH} are answered at once",
                req.asks.len()
            ),
            "split it into several batches",
        ));
    }
    let snap = s.snapshot()?;
    let today = s.clock.today();
    let explain = req.explain;
    let logging = s.log.is_some();
    let txn = snap.origin().txn;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(req.asks.len().max(1));
    let per = req.asks.len().div_ceil(threads).max(1);
    let mut asks = req.asks;
    let mut chunks = Vec::new();
    while !asks.is_empty() {
        let rest = asks.split_off(per.min(asks.len()));
        chunks.push(std::mem::replace(&mut asks, rest));
    }
    // Decide, in parallel.
    let mut tasks = Vec::new();
    for chunk in chunks {
        let snap = snap.clone();
        let state = s.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut out = Decided {
                items: Vec::with_capacity(chunk.len()),
                entries: Vec::new(),
            };
            for ask in &chunk {
                match decide(&snap, ask, explain, today) {
                    Ok(decision) => {
                        if logging {
                            out.entries
                                .push(Audit::decision_entry(ask, &decision, txn)?);
                        }
                        out.items.push(BatchItem::Decision {
                            status: 200,
                            decision: Box::new(decision),
                            log_index: None,
                        });
                    }
                    Err(e) => {
                        let problem = state.problem(&e, &[]);
                        out.items.push(BatchItem::Problem {
                            status: problem.status,
                            problem: Box::new(problem),
                        });
                    }
                }
            }
            Ok::<_, ServerError>(out)
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(
            t.await
                .map_err(|e| ServerError::Internal(format!("a task ended early: {e}")))??,
        );
    }
    // Log every decision answered, in one append.
    let entries: Vec<enduse::AuditEntry> = parts
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.entries))
        .collect();
    let mut next = match (&s.log, entries.is_empty()) {
        (Some(log), false) => Some(log.append(entries).await?),
        _ => None,
    };
    for p in &mut parts {
        for item in &mut p.items {
            if let (BatchItem::Decision { log_index, .. }, Some(n)) = (item, next.as_mut()) {
                *log_index = Some(*n);
                *n += 1;
            }
        }
    }
    // Write the answer, in parallel.
    let mut tasks = Vec::new();
    for p in parts {
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut out: Vec<u8> = Vec::with_capacity(p.items.len() * 4096);
            for (i, item) in p.items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, item).map_err(|e| {
                    ServerError::Internal(format!("a report could not be written as JSON: {e}"))
                })?;
            }
            Ok::<_, ServerError>(out)
        }));
    }
    let register = serde_json::to_vec(&RegisterRef::of(&s, &snap))
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"register\":");
    body.extend_from_slice(&register);
    body.extend_from_slice(b",\"results\":[");
    let mut first = true;
    for t in tasks {
        let part = t
            .await
            .map_err(|e| ServerError::Internal(format!("a task ended early: {e}")))??;
        if part.is_empty() {
            continue;
        }
        if !first {
            body.push(b',');
        }
        first = false;
        body.extend_from_slice(&part);
    }
    body.extend_from_slice(b"]}");
    Ok(json_bytes(StatusCode::OK, body))
}

/// `GET /v1/consent-chain`
#[utoipa::path(get, path = "/v1/consent-chain", tag = "register",
    params(crate::openapi::doc::ChainParams),
    responses(
        (status = 200, description = "The parties whose conditions bind the item held by the actor", body = crate::openapi::doc::ChainReport),
        (status = "4XX", description = "A request that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn consent_chain(
    State(s): S,
    _r: Reader,
    Q(ask): Q<ChainAsk>,
) -> Result<Response> {
    let snap = s.snapshot()?;
    json(StatusCode::OK, &snap.consent_chain(&ask, s.clock.today())?)
}

/// `GET /v1/policies`
#[utoipa::path(get, path = "/v1/policies", tag = "register",
    params(crate::openapi::doc::PoliciesParams),
    responses(
        (status = 200, description = "The party's rules, defaults and decisions of authorities in force on the day, as publicly known on another", body = crate::openapi::doc::PoliciesReport),
        (status = "4XX", description = "A request that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn policies(State(s): S, _r: Reader, Q(ask): Q<PoliciesAsk>) -> Result<Response> {
    short("party", Some(&ask.party))?;
    short("as_of", ask.as_of.as_deref())?;
    short("known_at", ask.known_at.as_deref())?;
    let snap = s.snapshot()?;
    json(StatusCode::OK, &snap.policies(&ask, s.clock.today())?)
}

/// `?model=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimelineParams {
    model: String,
}

/// `GET /v1/timeline`
#[utoipa::path(get, path = "/v1/timeline", tag = "register",
    params(crate::openapi::doc::TimelineParams),
    responses(
        (status = 200, description = "Every change of every condition that binds the model", body = crate::openapi::doc::TimelineReport),
        (status = "4XX", description = "A request that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn timeline(State(s): S, _r: Reader, Q(p): Q<TimelineParams>) -> Result<Response> {
    short("model", Some(&p.model))?;
    let snap = s.snapshot()?;
    json(StatusCode::OK, &snap.timeline(&p.model)?)
}

/// `GET /v1/where`
#[utoipa::path(get, path = "/v1/where", tag = "register",
    params(crate::openapi::doc::WhereParams),
    responses(
        (status = 200, description = "Where the point lies on the day: de jure place, controller, border distance, named areas", body = crate::openapi::doc::WhereReport),
        (status = "4XX", description = "A request that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn where_(State(s): S, _r: Reader, Q(ask): Q<WhereAsk>) -> Result<Response> {
    if let enduse::Point::Text(t) = &ask.at {
        short("at", Some(t))?;
    }
    short("as_of", ask.as_of.as_deref())?;
    let snap = s.snapshot()?;
    json(StatusCode::OK, &snap.locate(&ask, s.clock.today())?)
}

/// A map request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MapRequest {
    ask: Ask,
    #[serde(default)]
    cell: Option<f64>,
}

/// `POST /v1/map`
#[utoipa::path(post, path = "/v1/map", tag = "decisions",
    request_body(content = crate::openapi::doc::MapRequest, description = "The ask (without a place or a point) and the resolution of the fall-back grid"),
    responses(
        (status = 200, description = "The map of the decided regions (polygons along the subdivisions, control areas, named areas and border-distance bands, each decided once). By `Accept`: `image/svg+xml` (the default) draws it, with toggleable groups `regions`, `subdivisions`, `areas-control`, `areas-named`, `border`, `labels-countries`, `labels-subdivisions` and `legend`; `application/geo+json` gives the regions as a FeatureCollection, each feature with its `outcome`, `authorities`, deciding `rules` and `facts` (place, controller, named areas, border distance range in whole km); `application/json` gives the outcomes with their area, the authorities and the sources",
            content(
                (String = "image/svg+xml"),
                (crate::openapi::doc::MapGeoJson = "application/geo+json"),
                (crate::openapi::doc::MapReport = "application/json"),
            )),
        (status = "4XX", description = "A request that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn map(
    State(s): S,
    _r: Reader,
    headers: HeaderMap,
    JsonBody(req): JsonBody<MapRequest>,
) -> Result<Response> {
    check_ask(&req.ask)?;
    let snap = s.snapshot()?;
    let today = s.clock.today();
    let cell = req.cell.unwrap_or(0.05);
    let report = blocking(move || Ok(snap.map(&req.ask, cell, today)?)).await?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains("application/geo+json") {
        let mut r = (StatusCode::OK, report.geojson).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        );
        return Ok(r);
    }
    if accept.contains("application/json") && !accept.contains("image/svg+xml") {
        return json(StatusCode::OK, &report);
    }
    let mut r = (StatusCode::OK, report.svg).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    Ok(r)
}

/// `?search=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParam {
    /// A case-insensitive part of the id, the name or an alias.
    #[serde(default)]
    search: Option<String>,
}

async fn list(s: &AppState, what: &str, search: Option<String>) -> Result<Response> {
    short("search", search.as_deref())?;
    let snap = s.snapshot()?;
    json(StatusCode::OK, &snap.list(what, search.as_deref())?)
}

macro_rules! list_handler {
    ($name:ident, $what:literal, $path:literal, $desc:literal) => {
        #[doc = concat!("`GET ", $path, "`")]
        #[utoipa::path(get, path = $path, tag = "lists",
            params(SearchParam),
            responses(
                (status = 200, description = $desc, body = crate::openapi::doc::ListReport),
                (status = "4XX", description = "A request that cannot be answered", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
            ))]
        pub(crate) async fn $name(State(s): S, _r: Reader, Q(p): Q<SearchParam>) -> Result<Response> {
            list(&s, $what, p.search).await
        }
    };
}

list_handler!(
    parties,
    "parties",
    "/v1/parties",
    "The register's parties: states, companies, treaty regimes"
);
list_handler!(models, "models", "/v1/models", "The register's item models");
list_handler!(
    places,
    "places",
    "/v1/places",
    "The register's places (ISO 3166-1 and 3166-2)"
);
list_handler!(
    authorities,
    "authorities",
    "/v1/authorities",
    "The authorities of every party"
);
list_handler!(areas, "areas", "/v1/areas", "The register's named areas");

// ----- the database: records, the log, writes -----

/// A record's kind and key.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordPath {
    kind: String,
    key: String,
}

/// `GET /v1/records/{kind}/{key}`
#[utoipa::path(get, path = "/v1/records/{kind}/{key}", tag = "database",
    params(
        ("kind" = String, Path, description = "Record kind: party, place, category, model, lot, transfer, treaty, conflict, approval, source, policy, control, ..."),
        ("key" = String, Path, description = "The record's key (its id)"),
    ),
    responses(
        (status = 200, description = "Every version of the record, oldest first; the ETag is the latest version",
            body = crate::openapi::doc::HistoryReport,
            headers(("ETag" = String, description = "The latest version, for If-Match"))),
        (status = "4XX", description = "No such record, or no database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn history(State(s): S, _r: Reader, P(p): P<RecordPath>) -> Result<Response> {
    let state = s.clone();
    let report = blocking(move || {
        let mut reg = state.register()?;
        Ok(reg.history(&p.kind, &p.key)?)
    })
    .await?;
    let latest = report.versions.last().map(|v| v.version);
    let mut r = json(StatusCode::OK, &report)?;
    if let Some(v) = latest.and_then(|n| HeaderValue::from_str(&etag(n)).ok()) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// `GET /v1/log`
#[utoipa::path(get, path = "/v1/log", tag = "database",
    responses(
        (status = 200, description = "Every transaction of the database, oldest first", body = crate::openapi::doc::LogReport),
        (status = "4XX", description = "No database", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn log(State(s): S, _r: Reader) -> Result<Response> {
    let state = s.clone();
    let mut report = blocking(move || {
        let mut reg = state.register()?;
        Ok(reg.log()?)
    })
    .await?;
    report.db = s.name().to_owned();
    for t in &mut report.transactions {
        t.note = upload_note(&t.note);
    }
    json(StatusCode::OK, &report)
}

/// The directory an import over HTTP was read from by earlier versions.
const UPLOAD_DIR: &str = "enduse-import-";

/// Earlier versions read an import over HTTP from a temporary directory
/// and named it in the note: `import /tmp/enduse-import-XXXX/upload` is
/// shown as `import upload`, as imports from memory are noted now.
fn upload_note(note: &str) -> String {
    let Some(at) = note.find(UPLOAD_DIR) else {
        return note.to_owned();
    };
    let start = note[..at].rfind(' ').map_or(0, |i| i + 1);
    let Some(end) = note[at..].find("/upload").map(|i| at + i + 1) else {
        return note.to_owned();
    };
    format!("{}{}", &note[..start], &note[end..])
}

/// A record to write.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutBody {
    text: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    file: Option<String>,
}

/// What a write did: the library's report, with the kind, key and
/// version of the record written (no version when nothing changed; the
/// ETag then names the version that already held the content).
#[derive(Debug, Serialize)]
pub struct WriteResponse {
    /// The library's report.
    #[serde(flatten)]
    pub report: EditReport,
}

/// A failed write in HTTP terms: a stale precondition is 412, and the
/// message and help name the headers, not the CLI's options.
fn write_error(e: enduse::Error, pre: Precondition) -> ServerError {
    let help = match e.code().as_str() {
        "enduse::store::conflict" if pre != Precondition::None => {
            "read the record's current version (GET /v1/records/KIND/KEY: its ETag), then send it in `If-Match` if your change still applies; nothing was written"
        }
        "enduse::store::conflict" => {
            "another writer changed the record between this request's read and its write; nothing was written. Read it again and send its version in `If-Match`"
        }
        "enduse::exists" => {
            "to replace a record, send `If-Match: \"N\"` with the version it is at (GET /v1/records/KIND/KEY: its ETag); to add a new record, give it an id of its own; nothing was written"
        }
        _ => return ServerError::Enduse(e),
    };
    let stale = e.code() == "enduse::store::conflict" && pre != Precondition::None;
    let e = if stale {
        ServerError::PreconditionFailed(e)
    } else {
        ServerError::Enduse(e)
    };
    let mut p = e.problem();
    p.detail = http_terms(&p.detail);
    p.help = Some(help.to_owned());
    ServerError::Shown(Box::new(p))
}

/// The library's messages name the CLI's `--expect-version N`; over HTTP
/// that is `If-Match: "N"`.
fn http_terms(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("--expect-version ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "--expect-version ".len()..];
        let n: String = after.chars().take_while(char::is_ascii_digit).collect();
        out.push_str(&format!("`If-Match: \"{n}\"`"));
        rest = &after[n.len()..];
    }
    out.push_str(rest);
    out
}

fn with_etag(mut r: Response, version: Option<i64>) -> Response {
    if let Some(v) = version.and_then(|n| HeaderValue::from_str(&etag(n)).ok()) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// `POST /v1/records/{kind}`
#[utoipa::path(post, path = "/v1/records/{kind}", tag = "database",
    params(
        ("kind" = String, Path, description = "Record kind (party, policy, transfer, ...)"),
        ("If-Match" = Option<String>, Header, description = "The version the record is at (`\"N\"`, its ETag): required to replace a record"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: the record must be new"),
    ),
    request_body(content = crate::openapi::doc::PutBody, description = "The record's text: a TOML table, one Cedar rule, the schema, or a control area as JSON"),
    responses(
        (status = 201, description = "A new record", body = crate::openapi::doc::WriteResponse,
            headers(("ETag" = String, description = "The new version"), ("Location" = String, description = "The record"))),
        (status = 200, description = "A new version, or nothing to change", body = crate::openapi::doc::WriteResponse,
            headers(("ETag" = String, description = "The record's version"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The record exists and no `If-Match` was given, or another writer came first", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The record is not at the version `If-Match` names (or exists, with `If-None-Match: *`)", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "A record that is invalid or would make the register invalid", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn put(
    State(s): S,
    Token(who): Token,
    P(kind): P<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Response> {
    let pre = precondition(&headers)?;
    let state = s.clone();
    let (report, version) = blocking(move || {
        state.authorize(&who, &ApiAction::Put { kind: kind.clone() })?;
        let mut reg = state.register()?;
        let req = PutRequest {
            kind: kind.clone(),
            file: body.file.unwrap_or_else(|| "body".into()),
            text: body.text,
            owner: body.owner,
            expect_version: pre.version(),
        };
        let report = reg
            .put(&req)
            .map_err(|e| state.shown(write_error(e, pre), &[]))?;
        // Nothing written: the ETag is the version that holds the content.
        let current = match report.version {
            Some(v) => Some(v),
            None => reg
                .history(&report.kind, &report.key)
                .ok()
                .and_then(|h| h.versions.last().map(|v| v.version)),
        };
        drop(reg);
        if report.txn.is_some() {
            state.refresh()?;
        }
        Ok((WriteResponse { report }, current))
    })
    .await?;
    let created = report.report.txn.is_some() && report.report.version == Some(1);
    let location = format!(
        "/v1/records/{}/{}",
        pct(&report.report.kind),
        pct(&report.report.key)
    );
    let mut report = report;
    report.report.db = s.name().to_owned();
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut r = with_etag(json(status, &report)?, version);
    if let Ok(l) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    Ok(r)
}

/// Percent-encodes a path segment.
pub(crate) fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `DELETE /v1/records/{kind}/{key}`
#[utoipa::path(delete, path = "/v1/records/{kind}/{key}", tag = "database",
    params(
        ("kind" = String, Path, description = "Record kind"),
        ("key" = String, Path, description = "The record's key"),
        ("If-Match" = String, Header, description = "The version the record is at (`\"N\"`, its ETag)"),
    ),
    responses(
        (status = 200, description = "The record is retracted (a new version says it no longer holds)", body = crate::openapi::doc::WriteResponse,
            headers(("ETag" = String, description = "The retraction's version"))),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 412, description = "The record is not at the version `If-Match` names", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 428, description = "No `If-Match`", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "No such record, or the register would be invalid without it", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn retract(
    State(s): S,
    Token(who): Token,
    P(p): P<RecordPath>,
    headers: HeaderMap,
) -> Result<Response> {
    let pre = precondition(&headers)?;
    let Precondition::Version(v) = pre else {
        return Err(ServerError::http(
            StatusCode::PRECONDITION_REQUIRED,
            "enduse::server::precondition_required",
            "a retraction needs `If-Match` with the version the record is at",
            Some(
                "read the record (GET /v1/records/KIND/KEY), then send its ETag in `If-Match`"
                    .into(),
            ),
        ));
    };
    if v == 0 {
        return Err(ServerError::bad_request(
            "enduse::server::bad_precondition",
            "`If-None-Match: *` means a new record; a retraction needs `If-Match`",
            "",
        ));
    }
    let state = s.clone();
    let (report, version) = blocking(move || {
        state.authorize(
            &who,
            &ApiAction::Retract {
                kind: p.kind.clone(),
                key: p.key.clone(),
            },
        )?;
        let mut reg = state.register()?;
        let report = reg
            .retract(&p.kind, &p.key, Some(v))
            .map_err(|e| state.shown(write_error(e, pre), &[]))?;
        drop(reg);
        state.refresh()?;
        let version = report.version;
        Ok((WriteResponse { report }, version))
    })
    .await?;
    let mut report = report;
    report.report.db = s.name().to_owned();
    Ok(with_etag(json(StatusCode::OK, &report)?, version))
}

/// A data set to import: its files by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportBody {
    files: BTreeMap<String, String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    allow_retract: bool,
}

/// Whether `name` is a file a data set may hold: `NAME.toml`,
/// `NAME.cedarschema`, `control.json` or `policies/NAME.cedar`.
fn data_set_file(name: &str) -> bool {
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    };
    if let Some(rest) = name.strip_prefix("policies/") {
        return plain(rest) && rest.ends_with(".cedar");
    }
    plain(name)
        && (name.ends_with(".toml") || name.ends_with(".cedarschema") || name == "control.json")
}

/// `POST /v1/import`
#[utoipa::path(post, path = "/v1/import", tag = "database",
    request_body(content = crate::openapi::doc::ImportBody, description = "A whole data set, file by file (16 MiB)"),
    responses(
        (status = 200, description = "What the import changed (or, in a dry run, would change)", body = crate::openapi::doc::ImportReport),
        (status = 401, description = "No valid token", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The import would retract records and `allow_retract` is not set", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
        (status = "4XX", description = "An invalid data set: every problem, located", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn import(
    State(s): S,
    Token(who): Token,
    JsonBody(body): JsonBody<ImportBody>,
) -> Result<Response> {
    if let Some(bad) = body.files.keys().find(|n| !data_set_file(n)) {
        return Err(ServerError::bad_request(
            "enduse::server::bad_file_name",
            format!("`{}` is not a file of a data set", enduse::cut(bad)),
            "name the files as in a data-set directory: NAME.toml, schema.cedarschema, control.json, policies/PARTY.cedar",
        ));
    }
    let state = s.clone();
    let report = blocking(move || {
        state.authorize(&who, &ApiAction::Import)?;
        // Validated from memory: the upload is never written to disk.
        let prepared = PreparedImport::from_files("upload", body.files, &enduse::Hooks::default())
            .map_err(|e| state.shown(e.into(), &[]))?;
        let mut reg = state.register()?;
        let report = reg
            .import(
                prepared,
                ImportOptions {
                    dry_run: body.dry_run,
                    allow_retract: body.allow_retract,
                },
                &mut |_, _, _| {},
            )
            .map_err(|e| state.shown(e.into(), &[]))?;
        drop(reg);
        if report.txn.is_some() {
            state.refresh()?;
        }
        Ok(report)
    })
    .await?;
    let mut report = report;
    report.db = s.name().to_owned();
    if let Some(t) = &mut report.txn {
        t.note = upload_note(&t.note);
    }
    json(StatusCode::OK, &report)
}

/// `?at=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportParams {
    #[serde(default)]
    at: Option<String>,
}

/// A data set, file by file.
#[derive(Debug, Serialize)]
pub struct ExportResponse {
    /// Each file's text, by its name in a data-set directory.
    pub files: BTreeMap<String, String>,
}

/// `GET /v1/export`
#[utoipa::path(get, path = "/v1/export", tag = "database",
    params(crate::openapi::doc::ExportParams),
    responses(
        (status = 200, description = "The register as a data set, file by file (what POST /v1/import takes)", body = crate::openapi::doc::ExportResponse),
        (status = "4XX", description = "No database, or no register at that instant", body = crate::openapi::doc::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn export(State(s): S, _r: Reader, Q(p): Q<ExportParams>) -> Result<Response> {
    let state = s.clone();
    let body = blocking(move || {
        let at = p.at.as_deref().map(enduse::parse_instant).transpose()?;
        let tmp = tempfile::Builder::new()
            .prefix("enduse-export-")
            .tempdir()
            .map_err(|e| ServerError::Internal(format!("a temporary directory: {e}")))?;
        let dir = tmp.path().join("export");
        let report = {
            let mut reg = state.register()?;
            reg.export(&dir, at)?
        };
        let mut files = BTreeMap::new();
        for f in report.files {
            let text = std::fs::read_to_string(dir.join(&f))
                .map_err(|e| ServerError::Internal(format!("reading the export: {e}")))?;
            files.insert(f, text);
        }
        serde_json::to_vec(&ExportResponse { files })
            .map_err(|e| ServerError::Internal(e.to_string()))
    })
    .await?;
    Ok(json_bytes(StatusCode::OK, body))
}

/// 404 for a path that is no route.
pub(crate) async fn no_route(uri: axum::http::Uri) -> ServerError {
    ServerError::http(
        StatusCode::NOT_FOUND,
        "enduse::server::no_route",
        format!("there is no `{}` here", enduse::cut(uri.path())),
        Some("GET /openapi.json lists every route".to_owned()),
    )
}

/// 405 for a method a route does not take.
pub(crate) async fn no_method(method: axum::http::Method, uri: axum::http::Uri) -> ServerError {
    ServerError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        "enduse::server::method_not_allowed",
        format!("`{}` does not take {method}", enduse::cut(uri.path())),
        Some("GET /openapi.json lists every route and its methods".to_owned()),
    )
}

/// The body of a panic, as a problem.
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    ServerError::Internal("a handler panicked".into()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_options_are_said_in_http_terms() {
        assert_eq!(
            http_terms("party `XX` exists (version 1): give --expect-version 1 to replace it"),
            "party `XX` exists (version 1): give `If-Match: \"1\"` to replace it"
        );
    }

    #[test]
    fn upload_notes_hide_the_temporary_directory() {
        assert_eq!(
            upload_note("import /tmp/enduse-import-Ab12/upload"),
            "import upload"
        );
        assert_eq!(
            upload_note("put party `XX` from body"),
            "put party `XX` from body"
        );
    }

    #[test]
    fn only_data_set_files_are_imported() {
        assert!(data_set_file("parties.toml"));
        assert!(data_set_file("policies/US.cedar"));
        assert!(data_set_file("control.json"));
        assert!(!data_set_file("../x.toml"));
        assert!(!data_set_file("policies/../../x.cedar"));
        assert!(!data_set_file("/etc/x.toml"));
        assert!(!data_set_file("README.md"));
    }
}
