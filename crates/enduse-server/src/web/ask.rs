//! `/`: the question form and its answer. The form is a GET, so the
//! address of an answer is its permalink; with `txn` it is answered from
//! the register as that transaction left it.

use super::layout::{error_box, notice, page as frame, Nav};
use super::{field, html, query, shown, signed_in};
use crate::api::{blocking, S};
use crate::error::{Result, ServerError};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use enduse::{Ask, Audit, CheckReport, Snapshot};
use maud::{html as m, Markup};
use serde::Deserialize;
use std::sync::Arc;

/// The fields of the question form (every one optional: an empty field is
/// not given).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AskForm {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub model: Option<String>,
    pub lot: Option<String>,
    pub place: Option<String>,
    pub at: Option<String>,
    pub recipient: Option<String>,
    pub target_class: Option<String>,
    pub purpose: Option<String>,
    pub destination: Option<String>,
    pub status: Option<String>,
    pub as_of: Option<String>,
    pub known_at: Option<String>,
    pub approvals: Option<String>,
    pub txn: Option<String>,
}

impl AskForm {
    /// Whether anything was asked.
    fn asked(&self) -> bool {
        field(&self.actor).is_some() || field(&self.action).is_some()
    }

    /// The form as the library's `Ask`; a missing actor, action or item is
    /// refused here with a message that names the field.
    pub(crate) fn to_ask(&self) -> Result<Ask> {
        let need = |v: &Option<String>, name: &str, help: &str| {
            field(v).ok_or_else(|| {
                ServerError::bad_request(
                    "enduse::web::missing_field",
                    format!("the question needs `{name}`"),
                    help,
                )
            })
        };
        let actor = need(
            &self.actor,
            "actor",
            "the party that acts: a code (UA) or a name (Ukraine)",
        )?;
        let action = need(&self.action, "action", "use, deploy, transfer or reexport")?;
        if field(&self.model).is_none() && field(&self.lot).is_none() {
            return Err(ServerError::bad_request(
                "enduse::web::missing_field",
                "the question needs an item: `model` or `lot`",
                "a model's designation, name or alias (ATACMS, Storm Shadow, Leopard 2)",
            ));
        }
        Ok(Ask {
            actor,
            action,
            model: field(&self.model),
            lot: field(&self.lot),
            place: field(&self.place),
            at: field(&self.at).map(enduse::Point::Text),
            recipient: field(&self.recipient),
            target_class: field(&self.target_class),
            purpose: field(&self.purpose),
            destination: field(&self.destination),
            status: field(&self.status).filter(|s| s != "reported"),
            as_of: field(&self.as_of),
            known_at: field(&self.known_at),
            approvals: field(&self.approvals)
                .map(|a| {
                    a.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            ..Ask::default()
        })
    }

    /// The query string of this question (its permalink), answered from
    /// `txn`.
    pub(crate) fn permalink(&self, txn: Option<i64>) -> String {
        let txn = txn.map(|t| t.to_string());
        let f = |v: &Option<String>| field(v);
        let (
            actor,
            action,
            model,
            lot,
            place,
            at,
            recipient,
            target,
            purpose,
            dest,
            status,
            as_of,
            known,
            appr,
        ) = (
            f(&self.actor),
            f(&self.action),
            f(&self.model),
            f(&self.lot),
            f(&self.place),
            f(&self.at),
            f(&self.recipient),
            f(&self.target_class),
            f(&self.purpose),
            f(&self.destination),
            f(&self.status),
            f(&self.as_of),
            f(&self.known_at),
            f(&self.approvals),
        );
        query(&[
            ("actor", actor.as_deref()),
            ("action", action.as_deref()),
            ("model", model.as_deref()),
            ("lot", lot.as_deref()),
            ("place", place.as_deref()),
            ("at", at.as_deref()),
            ("recipient", recipient.as_deref()),
            ("target_class", target.as_deref()),
            ("purpose", purpose.as_deref()),
            ("destination", dest.as_deref()),
            ("status", status.as_deref()),
            ("as_of", as_of.as_deref()),
            ("known_at", known.as_deref()),
            ("approvals", appr.as_deref()),
            ("txn", txn.as_deref()),
        ])
    }
}

/// The register as transaction `txn` left it (the current one without).
pub(crate) async fn snapshot_at(s: &Arc<AppState>, txn: Option<&str>) -> Result<Arc<Snapshot>> {
    let Some(t) = txn.map(str::trim).filter(|t| !t.is_empty()) else {
        return s.snapshot();
    };
    let n: i64 = t.parse().map_err(|_| {
        ServerError::bad_request(
            "enduse::web::bad_txn",
            format!("`{}` is not a transaction number", enduse::cut(t)),
            "a permalink's `txn` is the number of a register transaction (see /v1/log)",
        )
    })?;
    if s.txn() == Some(n) {
        return s.snapshot();
    }
    if !s.has_database() {
        return Err(ServerError::bad_request(
            "enduse::web::bad_txn",
            format!("this server reads the bundled data set, which has no transaction `{n}`"),
            "remove `txn` from the address",
        ));
    }
    let state = s.clone();
    blocking(move || {
        let mut reg = state.register()?;
        let log = reg.log()?;
        let t = log.transactions.iter().find(|t| t.id == n).ok_or_else(|| {
            ServerError::from(enduse::Error::not_found(
                "enduse::web::no_txn",
                format!("the register has no transaction `{n}`"),
                "see /v1/log for the transactions",
            ))
        })?;
        let at = enduse::parse_instant(&t.at)?;
        Ok(reg.snapshot(Some(at))?)
    })
    .await
}

/// A decision answered for the page, logged as the API logs its answers.
pub(crate) struct Answered {
    pub report: CheckReport,
    pub txn: Option<i64>,
    pub log_index: Option<u64>,
}

/// Decides the form's question; a failure writes nothing.
pub(crate) async fn decide(s: &Arc<AppState>, f: &AskForm) -> Result<Answered> {
    let ask = f.to_ask()?;
    crate::api::check_ask(&ask)?;
    let snap = snapshot_at(s, f.txn.as_deref()).await?;
    let txn = snap.origin().txn;
    let today = s.clock.today();
    let a = ask.clone();
    let report = blocking(move || Ok(snap.check(&a, today)?)).await?;
    let log_index = match &s.log {
        Some(log) => {
            let entry = Audit::decision_entry(&ask, &report, txn)?;
            Some(log.append(vec![entry]).await?)
        }
        None => None,
    };
    Ok(Answered {
        report,
        txn,
        log_index,
    })
}

/// The lists the form's fields complete from.
pub(crate) fn datalists(s: &AppState) -> Markup {
    let Ok(snap) = s.snapshot() else {
        return m! {};
    };
    let list = |what: &str| snap.list(what, None).map(|r| r.items).unwrap_or_default();
    m! {
        @for (id, what) in [("dl-parties", "parties"), ("dl-models", "models"), ("dl-places", "places"), ("dl-authorities", "authorities")] {
            datalist id=(id) {
                @for i in list(what) {
                    option value=(i.id) { (i.name) }
                }
            }
        }
    }
}

fn text_field(
    name: &str,
    label: &str,
    value: &Option<String>,
    hint: &str,
    list: Option<&str>,
) -> Markup {
    let id = format!("f-{name}");
    let hint_id = format!("{id}-hint");
    m! {
        div.field {
            label for=(id) { (label) }
            input type="text" id=(id) name=(name) value=(value.clone().unwrap_or_default())
                list=[list] aria-describedby=(hint_id) autocomplete="off";
            small id=(hint_id) { (hint) }
        }
    }
}

/// The question form, filled with `f`.
pub(crate) fn form(f: &AskForm, lists: Markup) -> Markup {
    let action = field(&f.action).unwrap_or_else(|| "use".into());
    let status = field(&f.status).unwrap_or_else(|| "reported".into());
    m! {
        form.ask method="get" action="/" aria-labelledby="ask-h" {
            h2 #ask-h { "Ask" }
            div.grid {
                (text_field("actor", "Actor", &f.actor, "who acts: UA, Ukraine, PL", Some("dl-parties")))
                div.field {
                    label for="f-action" { "Action" }
                    select id="f-action" name="action" {
                        @for a in ["use", "deploy", "transfer", "reexport"] {
                            option value=(a) selected[a == action] { (a) }
                        }
                    }
                    small { "fire or operate, station, hand over, pass on" }
                }
                (text_field("model", "Item (model)", &f.model, "ATACMS, Storm Shadow, Leopard 2", Some("dl-models")))
                (text_field("place", "Place", &f.place, "a name or code: Kursk, RU-KRS, Crimea", Some("dl-places")))
                (text_field("at", "Or a point", &f.at, "LAT,LON, e.g. 51.73,36.19 (or click the map)", None))
                (text_field("recipient", "Recipient", &f.recipient, "for transfer and reexport: UA", Some("dl-parties")))
                (text_field("target_class", "Target class", &f.target_class, "military, airfield, energy-infrastructure", None))
                (text_field("purpose", "Purpose", &f.purpose, "self-defence, counter-fire", None))
                (text_field("as_of", "As of", &f.as_of, "the day of the action: YYYY-MM-DD (or a month YYYY-MM)", None))
                (text_field("known_at", "Known at", &f.known_at, "the day of the public record used (default: today)", None))
                div.field {
                    label for="f-status" { "Facts used" }
                    select id="f-status" name="status" {
                        option value="reported" selected[status == "reported"] { "incl. reported" }
                        option value="confirmed" selected[status == "confirmed"] { "confirmed only" }
                    }
                    small { "reported facts rest on anonymous officials" }
                }
                (text_field("approvals", "As if approved by", &f.approvals, "authorities, comma-separated: US:SecDef", Some("dl-authorities")))
            }
            @if let Some(t) = field(&f.txn) {
                input type="hidden" name="txn" value=(t);
                p.small { "Answered from register transaction " (t) " (from the permalink). " a href="/" { "Ask the current register" } }
            }
            button type="submit" #ask-submit { "Decide" }
        }
        (lists)
    }
}

fn examples() -> Markup {
    let ex = [
        (
            "May Ukraine use ATACMS in Kursk oblast on 11 Sep 2024?",
            "?actor=UA&action=use&model=ATACMS&place=RU-KRS&as_of=2024-09-11",
        ),
        (
            "… and on 15 Jun 2025?",
            "?actor=UA&action=use&model=ATACMS&place=RU-KRS&as_of=2025-06-15",
        ),
        (
            "May Poland pass its Leopard 2 tanks to Ukraine on 18 Jan 2023?",
            "?actor=PL&action=reexport&model=Leopard+2&recipient=UA&as_of=2023-01-18",
        ),
        (
            "May Ukraine use Storm Shadow in Kursk oblast on 25 Nov 2024?",
            "?actor=UA&action=use&model=Storm+Shadow&place=RU-KRS&as_of=2024-11-25",
        ),
    ];
    m! {
        section.examples aria-labelledby="ex-h" {
            h2 #ex-h { "Questions from the record" }
            ul {
                @for (t, q) in ex {
                    li { a href=(format!("/{q}")) { (t) } }
                }
            }
        }
    }
}

/// `GET /`
pub(crate) async fn page(State(s): S, headers: HeaderMap, Query(f): Query<AskForm>) -> Response {
    let (who, signed_out) = signed_in(&s, &headers).await;
    if let Some(r) = super::refused_read(&s, &who).await {
        return r;
    }
    let lists = datalists(&s);
    let intro = m! {
        h1.visually-hidden { "Ask a question" }
        @if let Some(n) = &signed_out { (notice(n)) }
        p.lede {
            "Ask whether a state may use, station or pass on a weapon it was given, on a day and at a place. "
            "enduse finds every party whose conditions bind the item and answers with their rules as they stood, "
            "citing the public sources."
        }
    };
    if !f.asked() {
        let body = m! { (intro) (form(&f, lists)) (examples()) };
        return html(StatusCode::OK, frame("Ask", Nav::Ask, &who, &[], body));
    }
    match decide(&s, &f).await {
        Ok(a) => {
            let body = m! {
                (intro)
                div.two {
                    div { (form(&f, lists)) }
                    div { (super::answer::answer(&a, &f)) }
                }
            };
            html(StatusCode::OK, frame("Answer", Nav::Ask, &who, &[], body))
        }
        Err(e) => {
            let e = shown(&s, &e);
            let status = e.status;
            let body = m! {
                (intro)
                div.two {
                    div { (form(&f, lists)) }
                    div { (error_box(&e)) p { "Nothing was decided and nothing was written to the log." } }
                }
            };
            html(status, frame("Cannot answer", Nav::Ask, &who, &[], body))
        }
    }
}
