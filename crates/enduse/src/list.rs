//! Discovery: what a register holds (parties, models, places, authorities,
//! named areas), so that a user can find the codes every option takes.

use crate::error::{cut, Error, Result};
use crate::reports::{ListItem, ListReport};
use crate::snapshot::Snapshot;

/// The kinds `list` lists.
pub const LIST_KINDS: [&str; 5] = ["parties", "models", "places", "authorities", "areas"];

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn matches(item: &ListItem, search: &str) -> bool {
    let s = search.to_lowercase();
    let n = norm(search);
    let fields = std::iter::once(&item.id)
        .chain(std::iter::once(&item.name))
        .chain(item.aliases.iter());
    let mut any = false;
    for f in fields {
        if f.to_lowercase().contains(&s) || (!n.is_empty() && norm(f).contains(&n)) {
            any = true;
        }
    }
    any
}

impl Snapshot {
    /// Lists the register's `what` (one of [`LIST_KINDS`]), those matching
    /// `search` (a case-insensitive part of the id, name or an alias) if
    /// given.
    pub fn list(&self, what: &str, search: Option<&str>) -> Result<ListReport> {
        let reg = self.engine().register();
        let items: Vec<ListItem> = match what {
            "parties" => reg
                .parties
                .values()
                .map(|p| ListItem {
                    id: p.id.to_string(),
                    name: p.name.clone(),
                    kind: Some(
                        serde_json::to_value(p.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    ),
                    parent: p.country.as_ref().map(ToString::to_string),
                    aliases: Vec::new(),
                    detail: (!p.authorities.is_empty()).then(|| {
                        format!(
                            "authorities: {}",
                            p.authorities
                                .iter()
                                .map(|a| a.id.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }),
                })
                .collect(),
            "models" => reg
                .models
                .values()
                .map(|m| ListItem {
                    id: m.id.to_string(),
                    name: m.name.clone(),
                    kind: Some(m.category.to_string()),
                    parent: None,
                    aliases: m.aliases.clone(),
                    detail: Some(format!("origin {}", m.origin)),
                })
                .collect(),
            "places" => reg
                .places
                .values()
                .map(|p| ListItem {
                    id: p.code.to_string(),
                    name: p.name.clone(),
                    kind: Some(
                        serde_json::to_value(p.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    ),
                    parent: p.parent.as_ref().map(ToString::to_string),
                    aliases: Vec::new(),
                    detail: None,
                })
                .collect(),
            "authorities" => reg
                .parties
                .values()
                .flat_map(|p| {
                    p.authorities.iter().map(move |a| ListItem {
                        id: a.id.to_string(),
                        name: a.name.clone(),
                        kind: None,
                        parent: Some(p.id.to_string()),
                        aliases: Vec::new(),
                        detail: a.acts_for.as_ref().map(|f| format!("acts for {f}")),
                    })
                })
                .collect(),
            "areas" => reg
                .areas
                .values()
                .map(|a| ListItem {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    kind: None,
                    parent: None,
                    aliases: Vec::new(),
                    detail: match (&a.valid_from, &a.valid_to) {
                        (None, None) => None,
                        (Some(f), None) => Some(format!("from {f}")),
                        (None, Some(t)) => Some(format!("until {t}")),
                        (Some(f), Some(t)) => Some(format!("from {f} until {t}")),
                    },
                })
                .collect(),
            other => {
                return Err(Error::bad_request(
                    "enduse::unknown_list",
                    format!("cannot list `{}`", cut(other)),
                    &format!("list one of {}", LIST_KINDS.join(", ")),
                ))
            }
        };
        let items = match search {
            Some(s) => items.into_iter().filter(|i| matches(i, s)).collect(),
            None => items,
        };
        Ok(ListReport {
            what: what.to_owned(),
            search: search.map(str::to_owned),
            items,
        })
    }
}
