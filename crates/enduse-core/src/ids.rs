//! Newtype identifiers. They keep a party code from being passed where a model
//! designation is expected, which plain strings would allow.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// Serde for a shared identifier: written as a plain string (JSON and
/// register images are the same bytes as with `String`), read without an
/// intermediate `String` when the format lends the text.
fn ser_str<S: Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

fn de_arc<'de, D: Deserializer<'de>>(de: D) -> Result<Arc<str>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Arc<str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Arc<str>, E> {
            Ok(Arc::from(v))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Arc<str>, E> {
            Ok(Arc::from(v))
        }
    }
    de.deserialize_str(V)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared text: a clone (in every citation of a decision) copies a
        /// pointer, not the string.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a raw identifier.
            pub fn new(s: impl Into<String>) -> Self {
                Self(Arc::from(s.into()))
            }
            /// The identifier as written in the data set.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(Arc::from(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                ser_str(&self.0, ser)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
                de_arc(de).map(Self)
            }
        }
    };
}

id_type!(
    /// A party: a state (ISO 3166-1 alpha-2 code such as `US`), an organisation,
    /// a company, or a treaty regime that carries conditions (`OTTAWA`).
    PartyId
);
id_type!(
    /// An item model, named by its designation (`ATACMS`, `Leopard 2`).
    ModelId
);
id_type!(
    /// A lot: a quantity of one model.
    LotId
);
id_type!(
    /// A transfer of a lot from one party to another.
    TransferId
);
id_type!(
    /// A place: ISO 3166-1 (`UA`) or ISO 3166-2 (`RU-KRS`) code.
    PlaceCode
);
id_type!(
    /// A policy (rule), as given by its `@id` annotation.
    RuleId
);
id_type!(
    /// A public source (article, law, treaty record).
    SourceId
);
id_type!(
    /// An item category (`anti-personnel-mine`).
    CategoryId
);

/// An authority of a party, written `PARTY:Name` (`US:SecDef`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthorityId(Arc<str>);

impl Serialize for AuthorityId {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser_str(&self.0, ser)
    }
}

impl<'de> Deserialize<'de> for AuthorityId {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de_arc(de).map(Self)
    }
}

impl AuthorityId {
    /// Builds `PARTY:name`.
    pub fn new(party: &PartyId, name: &str) -> Self {
        Self(Arc::from(format!("{}:{}", party.as_str(), name)))
    }
    /// Parses `PARTY:name`; `None` when there is no colon or a side is empty.
    pub fn parse(s: &str) -> Option<Self> {
        let (p, n) = s.split_once(':')?;
        if p.is_empty() || n.is_empty() {
            return None;
        }
        Some(Self(Arc::from(s)))
    }
    /// The party part (`US` in `US:SecDef`).
    pub fn party(&self) -> PartyId {
        // Straight from the text: no intermediate `String`.
        PartyId(Arc::from(
            self.0.split_once(':').map(|(p, _)| p).unwrap_or(&self.0),
        ))
    }
    /// The whole identifier, shared (no copy of the text).
    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }
    /// The whole identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuthorityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_ids_read_and_write_as_plain_strings() {
        let p = PartyId::new("US");
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"US\"");
        let back: PartyId = serde_json::from_str("\"US\"").unwrap();
        assert_eq!(back, p);
        // An escaped string is decoded into a buffer, not borrowed.
        let esc: RuleId = serde_json::from_str("\"a\\u0062c\"").unwrap();
        assert_eq!(esc.as_str(), "abc");
        let a: AuthorityId = serde_json::from_str("\"US:SecDef\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"US:SecDef\"");
        assert!(serde_json::from_str::<PartyId>("7").is_err());
    }

    #[test]
    fn authority_parse_splits_party() {
        let a = AuthorityId::parse("US:SecDef").unwrap();
        assert_eq!(a.party(), PartyId::new("US"));
        assert!(AuthorityId::parse("US").is_none());
        assert!(AuthorityId::parse(":SecDef").is_none());
        assert!(AuthorityId::parse("US:").is_none());
    }
}
