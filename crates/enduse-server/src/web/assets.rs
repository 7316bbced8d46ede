//! The page's static files, built into the binary.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Every static file: name, media type, content.
const FILES: &[(&str, &str, &str)] = &[
    (
        "enduse.css",
        "text/css; charset=utf-8",
        include_str!("../../web/enduse.css"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/map.js"),
    ),
    (
        "timeline.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/timeline.js"),
    ),
    (
        "audit.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/audit.js"),
    ),
    // The bundled control layer, drawn over the map as a layer.
    (
        "control.json",
        "application/json",
        include_str!("../../../../data/geo/control.json"),
    ),
];

/// `GET /static/{file}`
pub(crate) async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, ty, body)) => {
            let mut r = (StatusCode::OK, *body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => crate::error::ServerError::http(
            StatusCode::NOT_FOUND,
            "enduse::server::no_route",
            format!("there is no static file `{}`", enduse::cut(&name)),
            None,
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_pages_name_is_served() {
        for s in ["map.js", "timeline.js", "audit.js", "enduse.css"] {
            assert!(
                FILES.iter().any(|(n, _, b)| *n == s && !b.is_empty()),
                "{s}"
            );
        }
        let control: serde_json::Value = serde_json::from_str(
            FILES
                .iter()
                .find(|f| f.0 == "control.json")
                .map(|f| f.2)
                .unwrap_or(""),
        )
        .unwrap();
        assert!(control["areas"].as_array().is_some_and(|a| !a.is_empty()));
    }
}
