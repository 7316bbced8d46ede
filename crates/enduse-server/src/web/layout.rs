//! The frame of every page: the header with its navigation, the signed-in
//! user, a skip link, the main region and the footer.

use super::Shown;
use enduse::{Outcome, Principal};
use maud::{html, Markup, DOCTYPE};

/// The section a page belongs to (the navigation marks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Ask,
    Map,
    Timeline,
    Requests,
    Audit,
}

/// A whole page.
pub(crate) fn page(
    title: &str,
    nav: Nav,
    who: &Principal,
    scripts: &[&str],
    body: Markup,
) -> Markup {
    let link = |n: Nav, href: &str, label: &str| {
        html! {
            @if n == nav {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · enduse" }
                link rel="stylesheet" href="/static/enduse.css";
                @for s in scripts {
                    script src=(format!("/static/{s}")) defer {}
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { span.logo aria-hidden="true" { "eu" } "enduse" }
                    nav aria-label="Sections" {
                        (link(Nav::Ask, "/", "Ask"))
                        (link(Nav::Map, "/map", "Map"))
                        (link(Nav::Timeline, "/timeline", "Timeline"))
                        (link(Nav::Requests, "/requests", "Requests"))
                        (link(Nav::Audit, "/audit", "Audit log"))
                    }
                    div.who {
                        @match who {
                            Principal::User(u) => {
                                span #signed-in { "Signed in as " strong { (u.id) } }
                                form method="post" action="/logout" {
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                            _ => { a href="/login" { "Sign in" } }
                        }
                    }
                }
                main #main tabindex="-1" {
                    (body)
                }
                footer {
                    p {
                        "enduse decides with the public record of the conditions states attach to weapons they supply. "
                        "Answers cite their sources; dates of first public report are those of this data set's sources. "
                        a href="/openapi.json" { "The JSON API" } "."
                    }
                }
            }
        }
    }
}

/// The words, the symbol and the class of an outcome: colour never carries
/// the meaning alone.
pub(crate) fn outcome_badge(o: Outcome) -> Markup {
    let (class, symbol) = match o {
        Outcome::Permit => ("permit", "✓"),
        Outcome::Forbid => ("forbid", "✕"),
        Outcome::NeedsApproval => ("needs_approval", "!"),
        Outcome::Indeterminate => ("indeterminate", "?"),
    };
    html! {
        span class=(format!("badge outcome-{class}")) data-outcome=(o.as_str()) {
            span aria-hidden="true" { (symbol) " " } (o.label())
        }
    }
}

/// An error box: the message, the help, the code.
pub(crate) fn error_box(e: &Shown) -> Markup {
    error_box_led("Cannot answer:", e)
}

/// An error box whose message is led by `lead`.
pub(crate) fn error_box_led(lead: &str, e: &Shown) -> Markup {
    html! {
        div.error role="alert" id="error" {
            p.message { strong { (lead) " " } (e.message) }
            @if let Some(h) = &e.help {
                p.help { "Help: " (h) }
            }
            p.code { "code " code { (e.code) } }
        }
    }
}

/// A notice (success, information).
pub(crate) fn notice(text: &str) -> Markup {
    html! { div.notice role="status" { (text) } }
}
