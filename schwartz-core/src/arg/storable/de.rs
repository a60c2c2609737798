//! A serde [`Deserializer`] over a parsed Storable [`Tree`]: Perl values become serde
//! values the way a Perl programmer reads them.
//!
//! - a hash is a map (or a struct), an array a sequence (or a tuple), undef is `None` or
//!   `()`; a reference is the value it refers to (Storable writes the referent of the
//!   top reference; nested hashes and arrays are references to them);
//! - Perl scalars are untyped, so a scalar converts where Perl would convert it: a
//!   string of digits is a number when the type wants a number (`nfreeze` writes
//!   integers beyond 32 bits and every float as a string), a number is a string when the
//!   type wants a string, and `1`/`0`/`""`/undef are booleans;
//! - a string Perl did not mark as UTF-8 is text in UTF-8 when its bytes are valid UTF-8
//!   (what Perl code that never decodes its input holds), Latin-1 otherwise (what Perl
//!   means by those bytes); a type asking for bytes gets the bytes as stored.
//!
//! A shared reference (the same array twice) is decoded at each place; the decode visits
//! at most [`VISIT_FACTOR`] values and string bytes per byte of the image (a value counts
//! one, a string its length more) and nests at most
//! [`MAX_DEPTH`](crate::arg_cap::MAX_DEPTH) levels, so no image can make it loop or
//! recurse without bound by sharing.

use std::borrow::Cow;
use std::cell::Cell;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::{CodecError, Key, Node, Tree};

/// Forwards number methods to [`De::number`].
macro_rules! forward_numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
            self.number(visitor)
        }
    )*};
}

/// Forwards integer key methods to [`KeyDe::deserialize_i64`].
macro_rules! forward_keys {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
            self.deserialize_i64(visitor)
        }
    )*};
}

/// Values and string bytes a decode may visit per byte of the image (shared references
/// revisit).
pub(crate) const VISIT_FACTOR: usize = 8;

const MAX_DEPTH: usize = crate::arg_cap::MAX_DEPTH;

/// What a decode may still do: visits left, current depth.
pub(crate) struct Walk {
    visits: Cell<usize>,
    depth: Cell<usize>,
}

impl Walk {
    pub(crate) fn new(image_len: usize) -> Walk {
        Walk {
            visits: Cell::new(image_len.saturating_mul(VISIT_FACTOR).max(64)),
            depth: Cell::new(0),
        }
    }

    /// Charges `cost` (one per value, plus the bytes of its strings) to the budget.
    fn visit(&self, cost: usize) -> Result<(), CodecError> {
        let left = self.visits.get();
        if cost > left {
            return Err(CodecError(String::from(
                "the Storable value's shared references expand to more than 8 times the image",
            )));
        }
        self.visits.set(left - cost);
        Ok(())
    }

    fn nest<R>(&self, f: impl FnOnce() -> Result<R, CodecError>) -> Result<R, CodecError> {
        let d = self.depth.get();
        if d >= MAX_DEPTH {
            return Err(CodecError(format!(
                "the value nests more than {MAX_DEPTH} levels deep"
            )));
        }
        self.depth.set(d + 1);
        let r = f();
        self.depth.set(d);
        r
    }
}

/// Perl's reading of a string as text (see the module's doc).
pub(crate) fn text(bytes: &[u8], utf8: bool) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        // Marked UTF-8 strings were validated by the parser; others are Latin-1.
        Err(_) if !utf8 => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
        Err(_) => Cow::Borrowed(""),
    }
}

/// The deserializer of one node.
pub(crate) struct De<'t> {
    tree: &'t Tree,
    idx: usize,
    walk: &'t Walk,
}

impl<'t> De<'t> {
    /// The deserializer of node `idx`, counted as one visit; references followed.
    pub(crate) fn new(tree: &'t Tree, idx: usize, walk: &'t Walk) -> Result<De<'t>, CodecError> {
        let mut idx = idx;
        // References are transparent; their chains are bounded by the parse depth.
        while let Node::Ref(target) = tree.nodes[idx] {
            idx = target;
        }
        // A value costs one, and the bytes it holds (strings, hash keys): shared
        // references may repeat a long string, and the decode copies it each time.
        let cost = match &tree.nodes[idx] {
            Node::Str { bytes, .. } => 1 + bytes.len(),
            Node::Hash(entries) => 1 + entries.iter().map(|(k, _)| k.bytes.len()).sum::<usize>(),
            _ => 1,
        };
        walk.visit(cost)?;
        Ok(De { tree, idx, walk })
    }

    fn node(&self) -> &'t Node {
        &self.tree.nodes[self.idx]
    }

    fn unexpected(&self) -> de::Unexpected<'t> {
        match self.node() {
            Node::Undef => de::Unexpected::Other("undef"),
            Node::Int(i) => de::Unexpected::Signed(*i),
            Node::Double(f) => de::Unexpected::Float(*f),
            Node::Bool(b) => de::Unexpected::Bool(*b),
            Node::Str { bytes, utf8 } => match text(bytes, *utf8) {
                Cow::Borrowed(s) => de::Unexpected::Str(s),
                Cow::Owned(_) => de::Unexpected::Other("a Latin-1 string"),
            },
            Node::Array(_) => de::Unexpected::Seq,
            Node::Hash(_) => de::Unexpected::Map,
            Node::Ref(_) | Node::Pending => de::Unexpected::Other("a reference"),
        }
    }

    fn seq<'de, V: Visitor<'de>>(
        self,
        items: &'t [usize],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        let (tree, walk) = (self.tree, self.walk);
        walk.nest(|| {
            let mut seq = Seq {
                tree,
                walk,
                items: items.iter(),
            };
            let value = visitor.visit_seq(&mut seq)?;
            match seq.items.len() {
                0 => Ok(value),
                n => Err(CodecError(format!("{n} array elements left over"))),
            }
        })
    }

    fn map<'de, V: Visitor<'de>>(
        self,
        entries: &'t [(Key, usize)],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        let (tree, walk) = (self.tree, self.walk);
        walk.nest(|| {
            visitor.visit_map(Map {
                tree,
                walk,
                entries: entries.iter(),
                value: None,
            })
        })
    }

    /// The scalar as a number in text, for number types given a string.
    fn number<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Int(i) => visitor.visit_i64(*i),
            Node::Double(f) => visitor.visit_f64(*f),
            Node::Bool(b) => visitor.visit_i64(i64::from(*b)),
            Node::Str { bytes, utf8 } => {
                let s = text(bytes, *utf8);
                let s = s.as_ref();
                if let Ok(i) = s.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(u) = s.parse::<u64>() {
                    visitor.visit_u64(u)
                } else if let Ok(i) = s.parse::<i128>() {
                    visitor.visit_i128(i)
                } else if let Ok(u) = s.parse::<u128>() {
                    visitor.visit_u128(u)
                } else if let Ok(f) = s.parse::<f64>() {
                    visitor.visit_f64(f)
                } else {
                    Err(de::Error::invalid_value(self.unexpected(), &visitor))
                }
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }
}

impl<'de, 't> de::Deserializer<'de> for De<'t> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Undef => visitor.visit_unit(),
            Node::Int(i) => visitor.visit_i64(*i),
            Node::Double(f) => visitor.visit_f64(*f),
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::Str { bytes, utf8 } => match text(bytes, *utf8) {
                Cow::Borrowed(s) => visitor.visit_str(s),
                Cow::Owned(s) => visitor.visit_string(s),
            },
            Node::Array(items) => self.seq(items, visitor),
            Node::Hash(entries) => self.map(entries, visitor),
            Node::Ref(_) | Node::Pending => Err(CodecError(String::from("unresolved reference"))),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        let b = match self.node() {
            Node::Bool(b) => Some(*b),
            Node::Undef => Some(false),
            Node::Int(0) => Some(false),
            Node::Int(1) => Some(true),
            Node::Str { bytes, .. } => match bytes.as_slice() {
                b"" | b"0" => Some(false),
                b"1" => Some(true),
                _ => None,
            },
            _ => None,
        };
        match b {
            Some(b) => visitor.visit_bool(b),
            None => Err(de::Error::invalid_value(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.number(visitor)
    }

    forward_numbers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Str { bytes, utf8 } => match text(bytes, *utf8).parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(de::Error::invalid_value(self.unexpected(), &visitor)),
            },
            _ => self.number(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            // Parsed as an f32 directly: an f32's shortest text may not survive a detour
            // through f64.
            Node::Str { bytes, utf8 } => match text(bytes, *utf8).parse::<f32>() {
                Ok(f) => visitor.visit_f32(f),
                Err(_) => Err(de::Error::invalid_value(self.unexpected(), &visitor)),
            },
            _ => self.number(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Int(i) => visitor.visit_string(i.to_string()),
            Node::Double(f) => visitor.visit_string(f.to_string()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Str { bytes, .. } => visitor.visit_bytes(bytes),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Undef => visitor.visit_none(),
            _ => {
                let walk = self.walk;
                walk.nest(|| visitor.visit_some(self))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Undef => visitor.visit_unit(),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        let walk = self.walk;
        walk.nest(|| visitor.visit_newtype_struct(self))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Array(items) => self.seq(items, visitor),
            // A Perl string asked for as a sequence (a `Vec<u8>`): its bytes.
            Node::Str { bytes, .. } => {
                let mut seq = de::value::SeqDeserializer::new(bytes.iter().copied());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Hash(entries) => self.map(entries, visitor),
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        match self.node() {
            Node::Str { bytes, utf8 } => {
                visitor.visit_enum(text(bytes, *utf8).into_owned().into_deserializer())
            }
            Node::Hash(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                let (tree, walk) = (self.tree, self.walk);
                walk.nest(|| {
                    visitor.visit_enum(Variant {
                        tree,
                        walk,
                        key,
                        value: *value,
                    })
                })
            }
            _ => Err(CodecError(String::from(
                "an enum is a string (its variant) or a hash of one entry (variant => value)",
            ))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.deserialize_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

struct Seq<'t> {
    tree: &'t Tree,
    walk: &'t Walk,
    items: std::slice::Iter<'t, usize>,
}

impl<'de> de::SeqAccess<'de> for Seq<'_> {
    type Error = CodecError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, CodecError> {
        match self.items.next() {
            Some(&idx) => seed
                .deserialize(De::new(self.tree, idx, self.walk)?)
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'t> {
    tree: &'t Tree,
    walk: &'t Walk,
    entries: std::slice::Iter<'t, (Key, usize)>,
    value: Option<usize>,
}

impl<'de> de::MapAccess<'de> for Map<'_> {
    type Error = CodecError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, CodecError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(*value);
                seed.deserialize(KeyDe(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, CodecError> {
        let idx = self
            .value
            .take()
            .ok_or_else(|| CodecError(String::from("a hash value asked for before its key")))?;
        seed.deserialize(De::new(self.tree, idx, self.walk)?)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A hash key: a string, or a number for a type with number keys.
struct KeyDe<'t>(&'t Key);

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        match text(&self.0.bytes, self.0.utf8) {
            Cow::Borrowed(s) => visitor.visit_str(s),
            Cow::Owned(s) => visitor.visit_string(s),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        let s = text(&self.0.bytes, self.0.utf8);
        if let Ok(i) = s.parse::<i64>() {
            visitor.visit_i64(i)
        } else if let Ok(u) = s.parse::<u64>() {
            visitor.visit_u64(u)
        } else {
            self.deserialize_any(visitor)
        }
    }

    forward_keys! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_u8 deserialize_u16
        deserialize_u32 deserialize_u64
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf option unit unit_struct seq
        tuple tuple_struct map struct enum identifier ignored_any
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

/// `{ Variant => value }`.
struct Variant<'t> {
    tree: &'t Tree,
    walk: &'t Walk,
    key: &'t Key,
    value: usize,
}

impl<'de, 't> de::EnumAccess<'de> for Variant<'t> {
    type Error = CodecError;
    type Variant = De<'t>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, De<'t>), CodecError> {
        let name = seed.deserialize(KeyDe(self.key))?;
        Ok((name, De::new(self.tree, self.value, self.walk)?))
    }
}

impl<'de> de::VariantAccess<'de> for De<'_> {
    type Error = CodecError;

    fn unit_variant(self) -> Result<(), CodecError> {
        match self.node() {
            Node::Undef => Ok(()),
            _ => Err(CodecError(String::from(
                "a unit variant's value must be undef",
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, CodecError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}
