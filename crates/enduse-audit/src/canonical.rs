//! The canonical JSON of any `Serialize` value, written straight from serde
//! without building a `serde_json::Value` first.
//!
//! A decision's report is a tree of a few hundred strings; turning it into a
//! `Value` (an allocation per key and per string, a `BTreeMap` per object)
//! cost more than the decision itself. This serializer writes each object's
//! members into one scratch buffer, sorts their byte ranges by key, and copies
//! them out: the text is byte for byte [`canonical_json`](crate::canonical_json)
//! of `serde_json::to_value` of the same value, which a property test checks.

use serde::ser;
use serde::Serialize;
use std::fmt;

/// A value that has no canonical JSON form (what `serde_json::to_value`
/// refuses too: a map key that is not a string, a number or a boolean, or a
/// `Serialize` impl that fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("the value has no canonical json form: {0}")]
pub struct CanonicalError(String);

impl ser::Error for CanonicalError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CanonicalError(msg.to_string())
    }
}

/// The canonical JSON text of `value` (see [`canonical_json`](crate::canonical_json)).
pub fn canonical_json_of<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonicalError> {
    let mut out = Vec::with_capacity(1024);
    let mut pool = Pool::default();
    value.serialize(Writer {
        out: &mut out,
        pool: &mut pool,
    })?;
    // Only whole UTF-8 strings and ASCII are ever written.
    String::from_utf8(out).map_err(|e| CanonicalError(e.to_string()))
}

type R = Result<(), CanonicalError>;

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    pool: &'a mut Pool,
}

/// Buffers of finished objects, reused by the next: a report has hundreds
/// of small objects, and allocating two vectors for each was most of the
/// cost.
#[derive(Default)]
struct Pool {
    scratch: Vec<Vec<u8>>,
    members: Vec<Vec<(usize, usize, usize)>>,
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_f64(out: &mut Vec<u8>, v: f64) {
    // As `to_value` does: a non-finite float becomes null, a finite one a
    // Number printed by serde_json's own Display.
    match serde_json::Number::from_f64(v) {
        Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

/// An object being written: members go to `scratch` as `key` then `value`,
/// their ranges to `members`; `end` sorts and copies them out.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    pool: &'a mut Pool,
    scratch: Vec<u8>,
    /// (key start, key end = value start, value end) in `scratch`; the key is
    /// stored raw (unescaped) so that sorting compares the key's bytes.
    members: Vec<(usize, usize, usize)>,
    /// Key of the member whose value comes next (`serialize_key`).
    pending: Option<(usize, usize)>,
    /// For an enum variant: close with one more `}`.
    variant: bool,
}

impl<'a> Object<'a> {
    fn new(w: Writer<'a>, variant: bool) -> Object<'a> {
        let scratch = w.pool.scratch.pop().unwrap_or_default();
        let members = w.pool.members.pop().unwrap_or_default();
        Object {
            out: w.out,
            pool: w.pool,
            scratch,
            members,
            pending: None,
            variant,
        }
    }

    fn key_raw(&mut self, key: &str) -> (usize, usize) {
        let start = self.scratch.len();
        self.scratch.extend_from_slice(key.as_bytes());
        (start, self.scratch.len())
    }

    fn value<T: Serialize + ?Sized>(&mut self, key: (usize, usize), value: &T) -> R {
        value.serialize(Writer {
            out: &mut self.scratch,
            pool: &mut *self.pool,
        })?;
        self.members.push((key.0, key.1, self.scratch.len()));
        Ok(())
    }

    fn end(self) -> R {
        let Object {
            out,
            pool,
            mut scratch,
            mut members,
            variant,
            ..
        } = self;
        // Stable, so among equal keys the last written stays last; a map
        // keeps the last value of a repeated key, as `to_value` does.
        members.sort_by(|a, b| scratch[a.0..a.1].cmp(&scratch[b.0..b.1]));
        out.push(b'{');
        let mut first = true;
        for (i, m) in members.iter().enumerate() {
            if members
                .get(i + 1)
                .is_some_and(|n| scratch[n.0..n.1] == scratch[m.0..m.1])
            {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            let key = std::str::from_utf8(&scratch[m.0..m.1])
                .map_err(|e| CanonicalError(e.to_string()))?;
            write_str(out, key);
            out.push(b':');
            out.extend_from_slice(&scratch[m.1..m.2]);
        }
        out.push(b'}');
        if variant {
            out.push(b'}');
        }
        scratch.clear();
        members.clear();
        pool.scratch.push(scratch);
        pool.members.push(members);
        Ok(())
    }
}

/// An array being written.
struct Array<'a> {
    out: &'a mut Vec<u8>,
    pool: &'a mut Pool,
    first: bool,
    /// For an enum variant: close with `]}`.
    variant: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer {
            out: self.out,
            pool: self.pool,
        })
    }

    fn finish(self) -> R {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

fn open_variant(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_str(out, variant);
    out.push(b':');
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> R {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> R {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> R {
        // As `to_value`: a Number when it fits in 64 bits, else an error.
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(i), _) => self.serialize_i64(i),
            (_, Ok(u)) => self.serialize_u64(u),
            _ => Err(CanonicalError("number out of range".into())),
        }
    }
    fn serialize_u8(self, v: u8) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> R {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> R {
        match u64::try_from(v) {
            Ok(u) => self.serialize_u64(u),
            Err(_) => Err(CanonicalError("number out of range".into())),
        }
    }
    fn serialize_f32(self, v: f32) -> R {
        write_f64(self.out, f64::from(v));
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> R {
        write_f64(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> R {
        write_str(self.out, v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> R {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        let mut a = Array {
            out: self.out,
            pool: self.pool,
            first: true,
            variant: false,
        };
        a.out.push(b'[');
        for b in v {
            a.element(b)?;
        }
        a.finish()
    }
    fn serialize_none(self) -> R {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_unit(self) -> R {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> R {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> R {
        open_variant(self.out, variant);
        value.serialize(Writer {
            out: &mut *self.out,
            pool: &mut *self.pool,
        })?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Array<'a>, CanonicalError> {
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            pool: self.pool,
            first: true,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Array<'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Array<'a>, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Array<'a>, CanonicalError> {
        open_variant(self.out, variant);
        self.out.push(b'[');
        Ok(Array {
            out: self.out,
            pool: self.pool,
            first: true,
            variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, CanonicalError> {
        Ok(Object::new(self, false))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, CanonicalError> {
        Ok(Object::new(self, false))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, CanonicalError> {
        open_variant(self.out, variant);
        Ok(Object::new(self, true))
    }
}

macro_rules! array_impl {
    ($tr:ident, $method:ident) => {
        impl ser::$tr for Array<'_> {
            type Ok = ();
            type Error = CanonicalError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
                self.element(value)
            }
            fn end(self) -> R {
                self.finish()
            }
        }
    };
}
array_impl!(SerializeSeq, serialize_element);
array_impl!(SerializeTuple, serialize_element);
array_impl!(SerializeTupleStruct, serialize_field);
array_impl!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> R {
        let start = self.scratch.len();
        key.serialize(KeyWriter {
            out: &mut self.scratch,
        })?;
        self.pending = Some((start, self.scratch.len()));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> R {
        let key = self
            .pending
            .take()
            .ok_or_else(|| CanonicalError("a map value without its key".into()))?;
        self.value(key, value)
    }
    fn end(self) -> R {
        Object::end(self)
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
        let k = self.key_raw(key);
        self.value(k, value)
    }
    fn end(self) -> R {
        Object::end(self)
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> R {
        let k = self.key_raw(key);
        self.value(k, value)
    }
    fn end(self) -> R {
        Object::end(self)
    }
}

/// Writes a map key raw (unescaped): a string as it is; numbers and booleans
/// as `to_value` turns them into strings.
struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
}

fn bad_key() -> CanonicalError {
    CanonicalError("key must be a string".into())
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = CanonicalError;
    type SerializeSeq = ser::Impossible<(), CanonicalError>;
    type SerializeTuple = ser::Impossible<(), CanonicalError>;
    type SerializeTupleStruct = ser::Impossible<(), CanonicalError>;
    type SerializeTupleVariant = ser::Impossible<(), CanonicalError>;
    type SerializeMap = ser::Impossible<(), CanonicalError>;
    type SerializeStruct = ser::Impossible<(), CanonicalError>;
    type SerializeStructVariant = ser::Impossible<(), CanonicalError>;

    fn serialize_bool(self, v: bool) -> R {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> R {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> R {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> R {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> R {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> R {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> R {
        self.out.extend_from_slice(v.to_string().as_bytes());
        Ok(())
    }
    fn serialize_f32(self, _v: f32) -> R {
        Err(bad_key())
    }
    fn serialize_f64(self, _v: f64) -> R {
        Err(bad_key())
    }
    fn serialize_char(self, v: char) -> R {
        self.out
            .extend_from_slice(v.encode_utf8(&mut [0u8; 4]).as_bytes());
        Ok(())
    }
    fn serialize_str(self, v: &str) -> R {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, _v: &[u8]) -> R {
        Err(bad_key())
    }
    fn serialize_none(self) -> R {
        Err(bad_key())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> R {
        Err(bad_key())
    }
    fn serialize_unit(self) -> R {
        Err(bad_key())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        Err(bad_key())
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> R {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> R {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> R {
        Err(bad_key())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, CanonicalError> {
        Err(bad_key())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, CanonicalError> {
        Err(bad_key())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, CanonicalError> {
        Err(bad_key())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, CanonicalError> {
        Err(bad_key())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, CanonicalError> {
        Err(bad_key())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, CanonicalError> {
        Err(bad_key())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, CanonicalError> {
        Err(bad_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical_json;
    use proptest::prelude::*;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn same<T: Serialize>(v: &T) {
        let via_value = canonical_json(&serde_json::to_value(v).unwrap());
        assert_eq!(canonical_json_of(v).unwrap(), via_value);
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum E {
        Unit,
        New(u8),
        Tuple(i32, String),
        Struct { z: bool, a: Option<f64> },
    }

    #[derive(Serialize)]
    struct Inner {
        zeta: &'static str,
        alpha: Vec<E>,
    }

    #[derive(Serialize)]
    struct Outer {
        b: u64,
        #[serde(flatten)]
        inner: Inner,
        a: Option<()>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        map: BTreeMap<u32, char>,
        bytes: serde_bytes_like::Bytes,
        float: f32,
        nan: f64,
    }

    mod serde_bytes_like {
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn structs_enums_flatten_and_options_match_to_value() {
        same(&Outer {
            b: 7,
            inner: Inner {
                zeta: "q\"u\\o\u{1}te\n\u{7f}é",
                alpha: vec![
                    E::Unit,
                    E::New(3),
                    E::Tuple(-4, "x".into()),
                    E::Struct {
                        z: true,
                        a: Some(0.1),
                    },
                ],
            },
            a: None,
            skipped: None,
            map: [(10, 'b'), (2, 'a')].into_iter().collect(),
            bytes: serde_bytes_like::Bytes(vec![0, 255]),
            float: 1.5,
            nan: f64::NAN,
        });
    }

    #[test]
    fn a_decision_entry_is_the_same_from_types_and_from_values() {
        let ask = json!({"actor": "UA", "model": "ATACMS", "as_of": "2024-09-11"});
        let answer = Inner {
            zeta: "forbid",
            alpha: vec![E::New(1), E::Unit],
        };
        for txn in [None, Some(42)] {
            let typed = crate::Entry::decision_of(&ask, &answer, txn).unwrap();
            let valued = crate::Entry::decision(&ask, &serde_json::to_value(&answer).unwrap(), txn);
            assert_eq!(typed, valued);
        }
    }

    #[test]
    fn a_map_with_a_compound_key_is_refused() {
        let m: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        assert!(serde_json::to_value(&m).is_err());
        let err = canonical_json_of(&m).unwrap_err();
        assert!(err.to_string().contains("key must be a string"), "{err}");
    }

    #[test]
    fn keys_sort_by_bytes_not_by_chars() {
        let v = json!({"é": 1, "z": 2, "Z": 3, "": 4, "a\u{0}": 5});
        same(&v);
        assert_eq!(
            canonical_json_of(&v).unwrap(),
            "{\"\":4,\"Z\":3,\"a\\u0000\":5,\"z\":2,\"é\":1}"
        );
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "\\PC{0,8}|[\u{0}-\u{20}\"\\\\]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("\\PC{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_value_gives_the_text_of_canonical_json(v in arb_value()) {
            prop_assert_eq!(canonical_json_of(&v).unwrap(), canonical_json(&v));
        }
    }
}
