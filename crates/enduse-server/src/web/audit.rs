//! `/audit`: the latest signed checkpoint of the audit log, an entry by its
//! index or by a decision's permalink, and its inclusion proof, which the
//! page's script checks in the browser (SHA-256 and Ed25519 by WebCrypto)
//! against the published key.

use super::ask::AskForm;
use super::layout::{error_box, page as frame, Nav};
use super::{field, html, shown, signed_in};
use crate::api::{blocking, S};
use crate::error::{Result, ServerError};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html as m, Markup, PreEscaped};
use serde::Deserialize;
use std::sync::Arc;

/// `?index=` or `?permalink=`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditForm {
    index: Option<String>,
    permalink: Option<String>,
}

/// How many of the latest entries a permalink is looked for in.
const SEARCH: u64 = 10_000;

/// The index of the latest decision entry whose ask is the permalink's.
async fn by_permalink(s: &Arc<AppState>, link: &str) -> Result<u64> {
    let q = link.split_once('?').map_or(link, |(_, q)| q);
    let form: AskForm = serde_urlencoded_like(q)?;
    let ask =
        serde_json::to_value(form.to_ask()?).map_err(|e| ServerError::Internal(e.to_string()))?;
    let txn: Option<i64> = field(&form.txn).and_then(|t| t.parse().ok());
    let st = s.clone();
    blocking(move || {
        let mut wf = st.workflow()?;
        let audit = wf.audit();
        let size = audit.size()?;
        let mut end = size;
        let floor = size.saturating_sub(SEARCH);
        while end > floor {
            let from = end.saturating_sub(crate::MAX_ENTRIES).max(floor);
            let entries = audit.entries(from, end - from)?;
            for e in entries.iter().rev() {
                if e.kind == "decision"
                    && e.body["ask"] == ask
                    && (txn.is_none() || e.body["register_txn"].as_i64() == txn)
                {
                    return Ok(e.index);
                }
            }
            end = from;
        }
        Err(enduse::Error::not_found(
            "enduse::web::no_logged_decision",
            "no decision of this permalink's question is in the log's latest entries",
            "open the permalink once: the page logs the decision it answers",
        )
        .into())
    })
    .await
}

/// Reads a query string into the question form.
fn serde_urlencoded_like(q: &str) -> Result<AskForm> {
    let pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let obj: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(obj)).map_err(|e| {
        ServerError::bad_request(
            "enduse::web::bad_permalink",
            format!(
                "this permalink cannot be read: {}",
                e.to_string().to_lowercase()
            ),
            "paste the address of an answer page (/?actor=...)",
        )
    })
}

/// Percent-decoding, `+` as a space.
fn decode(s: &str) -> String {
    let hex = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// JSON for a `<script type="application/json">`: `<` escaped, so the text
/// cannot end the element.
fn script_json(v: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(v.to_string().replace('<', "\\u003c"))
}

async fn body(s: &Arc<AppState>, f: &AuditForm) -> Result<Markup> {
    let st = s.clone();
    let cp = blocking(move || Ok(st.workflow()?.audit().checkpoint()?)).await?;
    let index = match (field(&f.index), field(&f.permalink)) {
        (Some(i), _) => Some(i.parse::<u64>().map_err(|_| {
            ServerError::bad_request(
                "enduse::web::bad_index",
                format!("`{}` is not an entry index", enduse::cut(&i)),
                "entries are numbered from 0",
            )
        })?),
        (None, Some(p)) => Some(by_permalink(s, &p).await?),
        _ => None,
    };
    let looked_up = match index {
        Some(i) => {
            let st = s.clone();
            Some(
                blocking(move || {
                    let mut wf = st.workflow()?;
                    let a = wf.audit();
                    Ok((a.entry(i)?, a.inclusion_proof(i, None)?))
                })
                .await?,
            )
        }
        None => None,
    };
    Ok(m! {
        section aria-labelledby="cp-h" {
            h2 #cp-h { "The latest signed checkpoint" }
            dl.facts {
                dt { "Log" } dd { code { (cp.origin) } }
                dt { "Entries" } dd #cp-size { (cp.size) }
                dt { "Root (SHA-256)" } dd { code.hash { (cp.root) } }
                dt { "Published key" } dd { code.hash #cp-key { (cp.key) } }
            }
            details { summary { "The signed note" } pre.note { (cp.note) } }
        }
        form.inline method="get" action="/audit" aria-label="Look up an entry" {
            div.field { label for="a-index" { "Entry index" } input #a-index type="text" inputmode="numeric" name="index" value=(f.index.clone().unwrap_or_default()); }
            span.or { "or" }
            div.field.wide { label for="a-permalink" { "A decision's permalink" } input #a-permalink type="text" name="permalink" value=(f.permalink.clone().unwrap_or_default()) placeholder="/?actor=UA&action=use&model=ATACMS&..."; }
            button type="submit" { "Look up" }
        }
        @if let Some((entry, proof)) = &looked_up {
            section aria-labelledby="entry-h" {
                h2 #entry-h { "Entry " (entry.index) " (" (entry.kind) ")" }
                pre.body #entry-body { (serde_json::to_string_pretty(&entry.body).unwrap_or_default()) }
                dl.facts {
                    dt { "Leaf hash" } dd { code.hash { (entry.hash) } }
                    dt { "Proved in the tree of size" } dd { (proof.tree_size) }
                    dt { "Audit path" } dd { (proof.hashes.len()) " hashes" }
                }
                div.verify {
                    label for="trusted-key" { "Verify against this key (the published key; paste one you trust)" }
                    input #trusted-key type="text" value=(cp.key);
                    button type="button" #verify { "Verify in this browser" }
                    ol #verify-steps aria-live="polite" {}
                    p #verify-result role="status" {}
                }
                noscript { p { "Verifying the proof in the browser needs JavaScript; without it, use " code { "enduse audit prove" } "." } }
                script type="application/json" #proof-data {
                    (script_json(&serde_json::json!({"entry": entry, "proof": proof})))
                }
            }
        }
    })
}

/// `GET /audit`
pub(crate) async fn page(State(s): S, headers: HeaderMap, Query(f): Query<AuditForm>) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    if let Some(r) = super::refused_read(&s, &who).await {
        return r;
    }
    let intro = m! {
        h1 { "Audit log" }
        p.lede { "Every register transaction, workflow event and decision this server answers is an entry of a tamper-evident log (an RFC 6962 Merkle tree) whose checkpoints are signed. Look up an entry and check, in this browser, that it is in the tree the signed checkpoint commits to." }
    };
    if !s.has_database() {
        return html(
            StatusCode::OK,
            frame(
                "Audit log",
                Nav::Audit,
                &who,
                &[],
                m! { (intro) p { "This server reads the bundled data set and keeps no log: start it with a database (" code { "enduse serve --db enduse.db" } ")." } },
            ),
        );
    }
    match body(&s, &f).await {
        Ok(b) => html(
            StatusCode::OK,
            frame(
                "Audit log",
                Nav::Audit,
                &who,
                &["audit.js"],
                m! { (intro) (b) },
            ),
        ),
        Err(e) => {
            let e = shown(&s, &e);
            html(
                e.status,
                frame(
                    "Audit log",
                    Nav::Audit,
                    &who,
                    &["audit.js"],
                    m! { (intro) (error_box(&e)) p { a href="/audit" { "The latest checkpoint" } } },
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permalinks_are_read_as_the_form_reads_them() {
        let f = serde_urlencoded_like(
            "actor=UA&action=use&model=Storm+Shadow&place=RU-KRS&as_of=2024-11-25&txn=3",
        )
        .unwrap();
        assert_eq!(f.model.as_deref(), Some("Storm Shadow"));
        assert_eq!(f.txn.as_deref(), Some("3"));
        assert_eq!(decode("Leopard%202"), "Leopard 2");
        assert_eq!(decode("50%"), "50%");
        assert!(script_json(&serde_json::json!({"a": "</script>"}))
            .0
            .contains("\\u003c/script>"));
    }
}
