//! `/map`: the decision over the region. The page's script asks
//! `POST /v1/map` for the SVG and adds pan and zoom, date sliders, layers
//! and a click for the decision at a point; without scripts the page shows
//! `/map.svg`, drawn here with the same library call.

use super::ask::{datalists, AskForm};
use super::layout::{error_box, page as frame, Nav};
use super::{field, html, query, shown, signed_in};
use crate::api::{blocking, S};
use crate::error::ServerError;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html as m;
use serde::Deserialize;

/// The map's form: the question without a place, and the cell size.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct MapForm {
    #[serde(flatten)]
    pub ask: AskForm,
    pub cell: Option<String>,
}

/// The first and last day the sliders reach.
const FIRST_DAY: &str = "2022-02-24";
const LAST_DAY: &str = "2025-12-31";

fn cell_of(f: &MapForm) -> Result<f64, ServerError> {
    match field(&f.cell) {
        None => Ok(0.2),
        Some(c) => c.parse().map_err(|_| {
            ServerError::bad_request(
                "enduse::web::bad_cell",
                format!("`{}` is not a cell size in degrees", enduse::cut(&c)),
                "0.2 draws the region in about 5,000 cells",
            )
        }),
    }
}

fn map_ask(f: &MapForm) -> Result<enduse::Ask, ServerError> {
    let mut a = f.ask.clone();
    a.place = None;
    a.at = None;
    a.txn = None;
    a.to_ask()
}

/// `GET /map.svg`: the map drawn on the server.
pub(crate) async fn svg(State(s): S, headers: HeaderMap, Query(f): Query<MapForm>) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    if let Some(r) = super::refused_read(&s, &who).await {
        return r;
    }
    let run = async {
        let ask = map_ask(&f)?;
        crate::api::check_ask(&ask)?;
        let cell = cell_of(&f)?;
        let snap = s.snapshot()?;
        let today = s.clock.today();
        blocking(move || Ok(snap.map(&ask, cell, today)?.svg)).await
    };
    match run.await {
        Ok(svg) => {
            let mut r = (StatusCode::OK, svg).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            r
        }
        Err(e) => s.shown(e, &[]).into_response(),
    }
}

/// `GET /map`
pub(crate) async fn page(
    State(s): S,
    headers: HeaderMap,
    Query(mut f): Query<MapForm>,
) -> Response {
    let (who, _) = signed_in(&s, &headers).await;
    if let Some(r) = super::refused_read(&s, &who).await {
        return r;
    }
    if field(&f.ask.actor).is_none() {
        // The question of the map by default: where may Ukraine fire
        // ATACMS, on the day US permission for Kursk was reported.
        f.ask.actor = Some("UA".into());
        f.ask.action = Some("use".into());
        f.ask.model = Some("ATACMS".into());
        f.ask.as_of = Some("2024-11-18".into());
    }
    let checked = map_ask(&f).and_then(|a| {
        crate::api::check_ask(&a)?;
        Ok(a)
    });
    let error = checked.err().map(|e| shown(&s, &e));
    let a = &f.ask;
    let ask_json = serde_json::json!({
        "actor": field(&a.actor), "action": field(&a.action), "model": field(&a.model),
        "lot": field(&a.lot), "recipient": field(&a.recipient), "target_class": field(&a.target_class),
        "purpose": field(&a.purpose), "destination": field(&a.destination), "status": field(&a.status),
        "as_of": field(&a.as_of), "known_at": field(&a.known_at),
    });
    let img = format!(
        "/map.svg{}",
        query(&[
            ("actor", a.actor.as_deref()),
            ("action", a.action.as_deref()),
            ("model", a.model.as_deref()),
            ("recipient", a.recipient.as_deref()),
            ("target_class", a.target_class.as_deref()),
            ("purpose", a.purpose.as_deref()),
            ("as_of", a.as_of.as_deref()),
            ("known_at", a.known_at.as_deref()),
            ("cell", f.cell.as_deref()),
        ])
    );
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let authorities = s
        .snapshot()
        .ok()
        .and_then(|snap| snap.list("authorities", None).ok())
        .map(|r| r.items)
        .unwrap_or_default();
    let body = m! {
        h1.visually-hidden { "Map" }
        div.map-layout {
            form.map-form method="get" action="/map" id="map-form" aria-labelledby="map-h" {
                h2 #map-h { "The decision over the region" }
                div.field { label for="m-actor" { "Actor" } input #m-actor type="text" name="actor" value=(v(&a.actor)) list="dl-parties"; }
                div.field {
                    label for="m-action" { "Action" }
                    select #m-action name="action" {
                        @for x in ["use", "deploy", "transfer", "reexport"] {
                            option value=(x) selected[field(&a.action).as_deref() == Some(x)] { (x) }
                        }
                    }
                }
                div.field { label for="m-model" { "Item (model)" } input #m-model type="text" name="model" value=(v(&a.model)) list="dl-models"; }
                div.field { label for="m-recipient" { "Recipient" } input #m-recipient type="text" name="recipient" value=(v(&a.recipient)) list="dl-parties"; }
                div.field { label for="m-target" { "Target class" } input #m-target type="text" name="target_class" value=(v(&a.target_class)); }
                div.field { label for="m-as-of" { "As of" } input #m-as-of type="text" name="as_of" value=(v(&a.as_of)) placeholder="YYYY-MM-DD"; }
                div.field { label for="m-known-at" { "Known at" } input #m-known-at type="text" name="known_at" value=(v(&a.known_at)) placeholder="YYYY-MM-DD (default today)"; }
                input type="hidden" name="cell" value=(f.cell.clone().unwrap_or_else(|| "0.2".into()));
                button type="submit" { "Draw" }
                div.sliders.js-only {
                    div.field {
                        label for="as-of-slider" { "As of: " output #as-of-out for="as-of-slider" { (v(&a.as_of)) } }
                        input #as-of-slider type="range" min="0" max="0" step="1" data-first=(FIRST_DAY) data-last=(LAST_DAY);
                    }
                    div.field {
                        label for="known-at-slider" { "Known at: " output #known-at-out for="known-at-slider" { (field(&a.known_at).unwrap_or_else(|| "today".into())) } }
                        input #known-at-slider type="range" min="0" max="0" step="1" data-first=(FIRST_DAY) data-last=(LAST_DAY);
                    }
                }
                fieldset.layers.js-only {
                    legend { "Layers" }
                    label { input #layer-labels type="checkbox" checked; " Country and oblast labels" }
                    label { input #layer-control type="checkbox" checked; " Control areas (approximate)" }
                    label { input #layer-areas type="checkbox" checked; " Named areas" }
                }
                div.tools.js-only {
                    button type="button" #zoom-in aria-label="Zoom in" { "+" }
                    button type="button" #zoom-out aria-label="Zoom out" { "−" }
                    button type="button" #zoom-reset { "Reset view" }
                    button type="button" #download-svg { "Download SVG" }
                    button type="button" #download-png { "Download PNG" }
                }
                details.authorities {
                    summary { "Authorities whose approval can lift a restriction" }
                    ul { @for a in &authorities { li { code { (a.id) } " " (a.name) } } }
                }
            }
            div.map-main {
                @if let Some(e) = &error { (error_box(e)) }
                div #map-status role="status" aria-live="polite" {}
                div #map-view tabindex="0" role="application" aria-label="Map: drag or use the arrow keys to pan, + and - to zoom, click or Enter to decide at a point" data-ask=(ask_json.to_string()) data-cell=(f.cell.clone().unwrap_or_else(|| "0.2".into())) {
                    noscript { img src=(img) alt="The decision over the region"; }
                }
                form #point-form.js-only aria-labelledby="point-h" {
                    h3 #point-h { "Decide at a point" }
                    label for="point-at" { "Point (LAT,LON)" }
                    input #point-at type="text" placeholder="51.73,36.19";
                    button type="submit" { "Decide here" }
                }
                section #point-info aria-live="polite" aria-label="The decision at the point clicked" {}
            }
        }
        (datalists(&s))
    };
    html(
        StatusCode::OK,
        frame("Map", Nav::Map, &who, &["map.js"], body),
    )
}
