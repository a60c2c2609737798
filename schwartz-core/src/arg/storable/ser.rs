//! A serde [`Serializer`] writing what Perl's `nfreeze` writes (network order, Storable
//! binary 2.11), so that `thaw` gives a Perl program the hash or array it expects.
//!
//! - structs and maps are hashes, sequences and tuples arrays, `None` and `()` undef;
//!   a hash or array inside another is a reference to it, as in Perl;
//! - integers within 32 bits are Storable integers; wider ones and every float are
//!   strings of their decimal form, as `nfreeze` itself writes them (the shortest form
//!   that reads back as the same `f64`; `Inf`, `-Inf` and `NaN` as Perl prints them);
//! - ASCII strings are byte strings, other text is a UTF-8 string (Perl sees
//!   characters); byte buffers are byte strings; `true`/`false` are `1`/`0`;
//! - an enum's unit variant is its name, another variant a hash `{ Variant => value }`;
//! - map keys are strings (numbers and chars are written in text).

use serde::ser::{self, Serialize};

use super::CodecError as SerError;

const SX_LSCALAR: u8 = 1;
const SX_ARRAY: u8 = 2;
const SX_HASH: u8 = 3;
const SX_REF: u8 = 4;
const SX_UNDEF: u8 = 5;
const SX_BYTE: u8 = 8;
const SX_NETINT: u8 = 9;
const SX_SCALAR: u8 = 10;
const SX_UTF8STR: u8 = 23;
const SX_LUTF8STR: u8 = 24;
const SX_FLAG_HASH: u8 = 25;
const SHV_K_UTF8: u8 = 0x01;

/// The header `nfreeze` writes: major 2 in network order, minor 11.
const HEADER: [u8; 2] = [0x05, 0x0b];

/// Encodes `value` as `nfreeze` would encode a reference to it. The value must be a
/// hash or an array (a struct, map, sequence, tuple, or an enum variant with data): a
/// Perl job argument is a reference to one.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, SerError> {
    match value.serialize(Ser)? {
        Sv::Container(body) => {
            let mut out = Vec::with_capacity(body.len() + 2);
            out.extend_from_slice(&HEADER);
            out.extend_from_slice(&body);
            Ok(out)
        }
        Sv::Scalar(_) => Err(SerError(String::from(
            "a Perl argument must be a hash or an array (a struct, map, sequence or tuple); \
             Perl stores a scalar argument as its raw bytes: use raw_arg",
        ))),
    }
}

/// One encoded Perl value.
pub(crate) enum Sv {
    /// A scalar (or undef), as it is written anywhere.
    Scalar(Vec<u8>),
    /// A hash or array body: inside another container it is written after `SX_REF`.
    Container(Vec<u8>),
}

impl Sv {
    fn write_into(self, out: &mut Vec<u8>) {
        match self {
            Sv::Scalar(b) => out.extend_from_slice(&b),
            Sv::Container(b) => {
                out.push(SX_REF);
                out.extend_from_slice(&b);
            }
        }
    }
}

fn len32(n: usize) -> Result<[u8; 4], SerError> {
    i32::try_from(n)
        .map(i32::to_be_bytes)
        .map_err(|_| SerError(format!("{n} is too long for Storable (at most 2^31 - 1)")))
}

fn bytes_sv(bytes: &[u8], utf8: bool) -> Result<Sv, SerError> {
    let mut out = Vec::with_capacity(bytes.len() + 5);
    if let Ok(n) = u8::try_from(bytes.len()) {
        out.push(if utf8 { SX_UTF8STR } else { SX_SCALAR });
        out.push(n);
    } else {
        out.push(if utf8 { SX_LUTF8STR } else { SX_LSCALAR });
        out.extend_from_slice(&len32(bytes.len())?);
    }
    out.extend_from_slice(bytes);
    Ok(Sv::Scalar(out))
}

fn str_sv(s: &str) -> Result<Sv, SerError> {
    bytes_sv(s.as_bytes(), !s.is_ascii())
}

fn int_sv(v: i128) -> Result<Sv, SerError> {
    if let Ok(b) = i8::try_from(v) {
        // SX_BYTE holds v + 128 in one byte.
        Ok(Sv::Scalar(vec![SX_BYTE, (i16::from(b) + 128) as u8]))
    } else if let Ok(i) = i32::try_from(v) {
        let mut out = vec![SX_NETINT];
        out.extend_from_slice(&i.to_be_bytes());
        Ok(Sv::Scalar(out))
    } else {
        str_sv(&v.to_string())
    }
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        String::from("NaN")
    } else if v.is_infinite() {
        String::from(if v > 0.0 { "Inf" } else { "-Inf" })
    } else if v == 0.0 || (1e-5..1e15).contains(&v.abs()) {
        v.to_string()
    } else {
        // Very large or small: the shortest exponent form (`1e300`), as Perl prints them.
        format!("{v:e}")
    }
}

/// The serializer of one value.
struct Ser;

impl ser::Serializer for Ser {
    type Ok = Sv;
    type Error = SerError;
    type SerializeSeq = Array;
    type SerializeTuple = Array;
    type SerializeTupleStruct = Array;
    type SerializeTupleVariant = Variant<Array>;
    type SerializeMap = Hash;
    type SerializeStruct = Hash;
    type SerializeStructVariant = Variant<Hash>;

    fn serialize_bool(self, v: bool) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Sv, SerError> {
        int_sv(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Sv, SerError> {
        int_sv(i128::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Sv, SerError> {
        match i128::try_from(v) {
            Ok(i) => int_sv(i),
            Err(_) => str_sv(&v.to_string()),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<Sv, SerError> {
        // The f32's own shortest form, not that of its f64 widening.
        if v == 0.0 || (1e-5..1e15).contains(&v.abs()) {
            str_sv(&v.to_string())
        } else if v.is_finite() {
            str_sv(&format!("{v:e}"))
        } else {
            str_sv(&float_text(f64::from(v)))
        }
    }
    fn serialize_f64(self, v: f64) -> Result<Sv, SerError> {
        str_sv(&float_text(v))
    }
    fn serialize_char(self, v: char) -> Result<Sv, SerError> {
        str_sv(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<Sv, SerError> {
        str_sv(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Sv, SerError> {
        bytes_sv(v, false)
    }
    fn serialize_none(self) -> Result<Sv, SerError> {
        Ok(Sv::Scalar(vec![SX_UNDEF]))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Sv, SerError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Sv, SerError> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Sv, SerError> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Sv, SerError> {
        str_sv(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Sv, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Sv, SerError> {
        let mut h = Hash::default();
        h.entries.push((variant.to_string(), value.serialize(Ser)?));
        ser::SerializeMap::end(h)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Array, SerError> {
        Ok(Array(Vec::with_capacity(len.unwrap_or(0).min(4096))))
    }
    fn serialize_tuple(self, len: usize) -> Result<Array, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Array, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Array>, SerError> {
        Ok(Variant(variant, self.serialize_seq(Some(len))?))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Hash, SerError> {
        Ok(Hash::default())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Hash, SerError> {
        Ok(Hash::default())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Variant<Hash>, SerError> {
        Ok(Variant(variant, Hash::default()))
    }
    fn is_human_readable(&self) -> bool {
        true
    }
}

/// An array being written: its elements.
pub(crate) struct Array(Vec<Sv>);

impl Array {
    fn finish(self) -> Result<Sv, SerError> {
        let mut out = vec![SX_ARRAY];
        out.extend_from_slice(&len32(self.0.len())?);
        for sv in self.0 {
            sv.write_into(&mut out);
        }
        Ok(Sv::Container(out))
    }
}

impl ser::SerializeSeq for Array {
    type Ok = Sv;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        self.0.push(value.serialize(Ser)?);
        Ok(())
    }
    fn end(self) -> Result<Sv, SerError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Array {
    type Ok = Sv;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Sv, SerError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Array {
    type Ok = Sv;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Sv, SerError> {
        self.finish()
    }
}

/// A hash being written: its entries, and the key waiting for its value.
#[derive(Default)]
pub(crate) struct Hash {
    entries: Vec<(String, Sv)>,
    key: Option<String>,
}

impl ser::SerializeMap for Hash {
    type Ok = Sv;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        self.key = Some(key.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerError(String::from("a map value without a key")))?;
        self.entries.push((key, value.serialize(Ser)?));
        Ok(())
    }
    fn end(self) -> Result<Sv, SerError> {
        // Plain SX_HASH keys are bytes; a non-ASCII key needs SX_FLAG_HASH's UTF-8 flag.
        let flagged = self.entries.iter().any(|(k, _)| !k.is_ascii());
        let mut out = vec![if flagged { SX_FLAG_HASH } else { SX_HASH }];
        if flagged {
            out.push(0); // hash flags: not restricted
        }
        out.extend_from_slice(&len32(self.entries.len())?);
        for (key, sv) in self.entries {
            sv.write_into(&mut out);
            if flagged {
                out.push(if key.is_ascii() { 0 } else { SHV_K_UTF8 });
            }
            out.extend_from_slice(&len32(key.len())?);
            out.extend_from_slice(key.as_bytes());
        }
        Ok(Sv::Container(out))
    }
}

impl ser::SerializeStruct for Hash {
    type Ok = Sv;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        self.entries.push((key.to_string(), value.serialize(Ser)?));
        Ok(())
    }
    fn end(self) -> Result<Sv, SerError> {
        ser::SerializeMap::end(self)
    }
}

/// A tuple or struct variant: `{ Variant => [...] }` or `{ Variant => {...} }`.
pub(crate) struct Variant<C>(&'static str, C);

impl Variant<Array> {
    fn wrap(name: &str, inner: Sv) -> Result<Sv, SerError> {
        let h = Hash {
            entries: vec![(name.to_string(), inner)],
            key: None,
        };
        ser::SerializeMap::end(h)
    }
}

impl ser::SerializeTupleVariant for Variant<Array> {
    type Ok = Sv;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(&mut self.1, value)
    }
    fn end(self) -> Result<Sv, SerError> {
        Variant::wrap(self.0, self.1.finish()?)
    }
}

impl ser::SerializeStructVariant for Variant<Hash> {
    type Ok = Sv;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        ser::SerializeStruct::serialize_field(&mut self.1, key, value)
    }
    fn end(self) -> Result<Sv, SerError> {
        let inner = ser::SerializeMap::end(self.1)?;
        Variant::wrap(self.0, inner)
    }
}

/// Writes a map key as the string Perl would use.
struct KeySer;

fn key_error() -> SerError {
    SerError(String::from(
        "a Perl hash key must be a string, a number, a char or a unit enum variant",
    ))
}

macro_rules! key_via_to_string {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method(self, v: $ty) -> Result<String, SerError> {
            Ok(v.to_string())
        }
    )*};
}

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = SerError;
    type SerializeSeq = ser::Impossible<String, SerError>;
    type SerializeTuple = ser::Impossible<String, SerError>;
    type SerializeTupleStruct = ser::Impossible<String, SerError>;
    type SerializeTupleVariant = ser::Impossible<String, SerError>;
    type SerializeMap = ser::Impossible<String, SerError>;
    type SerializeStruct = ser::Impossible<String, SerError>;
    type SerializeStructVariant = ser::Impossible<String, SerError>;

    key_via_to_string! {
        serialize_i8(i8); serialize_i16(i16); serialize_i32(i32); serialize_i64(i64);
        serialize_i128(i128); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
        serialize_u64(u64); serialize_u128(u128); serialize_char(char); serialize_str(&str);
    }

    fn serialize_bool(self, _v: bool) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_f32(self, _v: f32) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_f64(self, _v: f64) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _v: &T) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, SerError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, SerError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, SerError> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, SerError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(key_error())
    }
}
