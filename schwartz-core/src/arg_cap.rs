//! A serde [`Deserializer`] adapter that bounds the pre-allocation of sequences and maps by
//! the size of the input, at every depth, and the nesting depth of the decoded value.
//!
//! # Why
//!
//! serde's visitors for `Vec`, `HashMap`, `VecDeque`, ... pre-allocate from
//! [`SeqAccess::size_hint`] / [`MapAccess::size_hint`], capped only by serde itself at 1 MiB
//! per collection. bincode reports there the length the input *claims*, so a few bytes of
//! hostile input claiming 2^60 elements at each level of a `Vec<Vec<Vec<_>>>` make serde
//! allocate 1 MiB per level (a recursive type: per level of the input) before decoding
//! fails. bincode's byte limit does not see these allocations: it counts the strings, byte
//! buffers and numbers it decodes, not the storage of the collections around them.
//!
//! # How
//!
//! [`Capped`] wraps the format's deserializer and, recursively, every visitor, access,
//! seed and deserializer that flows through it (the pattern of `serde_ignored`), so that
//! every [`SeqAccess`] and [`MapAccess`] a visitor sees, at any depth, reports a size hint
//! drawn from one [`Budget`] shared by the whole decode. The budget starts at the input's
//! length in bytes: in bincode every element of a sequence (or entry of a map) that can
//! hold anything takes at least one byte, so a valid input never claims more elements,
//! over all its sequences and maps together, than it has bytes, and its hints are passed
//! on unchanged. A hostile input gets at most one pre-allocated element per input byte over
//! the whole decode, however many sequences it opens or claims to fill: the memory it can
//! make the decoder pre-allocate is at most `len × size_of::<largest element>()`.
//!
//! Only hints are changed: a collection that really holds more elements than its hint
//! grows as usual, so the decoded value is the same with or without the adapter. (A
//! sequence of zero-sized values, `Vec<()>`, may claim more elements than the input has
//! bytes; it draws the budget down, and pre-allocates nothing.)
//!
//! # Depth
//!
//! A recursive type (a tree, a linked list) recurses once per level of the input, and
//! bincode has no depth limit: a 10,001-byte argument (a `struct Tree(Vec<Tree>)` nested
//! once per byte) overflowed a thread's default 2 MiB stack, in a release build too, which
//! aborts the process. The same wrapper counts the nesting as it goes (every sequence,
//! tuple, struct, map, enum, `Some` and newtype struct is one level: every nested value is
//! decoded inside one of them) and fails with an error past [`MAX_DEPTH`] levels.
//!
//! The pattern is that of `serde_ignored` and `serde_stacker`, which wrap a deserializer the
//! same way for other ends (reporting ignored keys, growing the stack). bincode 2's own
//! `Decode` path counts a container's memory against the byte limit; its serde path, which
//! arguments use, does not.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// How deep a decoded value may nest (see the module's doc for what counts as a level):
/// as deep as any argument needs, and shallow enough that even a debug build stays within
/// a few hundred KiB of stack (measured: up to about 2 KiB a level in a debug build, a
/// few hundred bytes in a release build).
pub(crate) const MAX_DEPTH: usize = 256;

/// What one decode may still spend: how many more elements its sequences and maps may
/// announce in their size hints, and how deep it is; shared (by reference) by every
/// wrapper of that decode.
#[derive(Debug)]
pub(crate) struct Budget {
    left: Cell<usize>,
    depth: Cell<usize>,
}

impl Budget {
    /// A budget of `elements` pre-allocated elements (the input's length in bytes), at
    /// depth 0.
    pub(crate) fn new(elements: usize) -> Budget {
        Budget {
            left: Cell::new(elements),
            depth: Cell::new(0),
        }
    }

    /// Runs `nested` (a visitor's visit of a sequence, map, enum, `Some` or newtype: the
    /// decoding of what it holds) one level deeper, or fails without running it past
    /// [`MAX_DEPTH`].
    fn nest<R, E: de::Error>(&self, nested: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        let depth = self.depth.get();
        if depth >= MAX_DEPTH {
            return Err(E::custom(format_args!(
                "the value nests more than {MAX_DEPTH} levels deep"
            )));
        }
        self.depth.set(depth + 1);
        let result = nested();
        self.depth.set(depth);
        result
    }

    /// The hint to report for a collection whose format claims `claimed` more elements:
    /// at most what is left of the budget, which the hint then uses up. A visitor that asks
    /// twice gets less the second time: a smaller hint only means a later reallocation.
    fn grant(&self, claimed: Option<usize>) -> Option<usize> {
        let claimed = claimed?;
        let left = self.left.get();
        let granted = claimed.min(left);
        self.left.set(left - granted);
        Some(granted)
    }
}

/// The adapter, in every role: a [`Deserializer`], a [`Visitor`], a [`SeqAccess`], a
/// [`MapAccess`], an [`EnumAccess`], a [`VariantAccess`] or a [`DeserializeSeed`] around
/// the format's own `inner` one of the same role, forwarding every call and wrapping what
/// it passes on, so that the size hints of every collection at every depth come from
/// `budget`, and every nested value counts against its depth.
#[derive(Debug)]
pub(crate) struct Capped<'b, X> {
    inner: X,
    budget: &'b Budget,
}

impl<'b, X> Capped<'b, X> {
    /// Wraps `inner` (a deserializer, or a seed to deserialize with) so that the hints it
    /// passes on draw from `budget`.
    pub(crate) fn new(inner: X, budget: &'b Budget) -> Capped<'b, X> {
        Capped { inner, budget }
    }

    /// Wraps another value with the same budget.
    fn wrap<Y>(&self, inner: Y) -> Capped<'b, Y> {
        Capped::new(inner, self.budget)
    }
}

/// Decodes a `T` from the start of `bytes` with bincode's serde support and `config`, the
/// pre-allocation of every sequence and map bounded by [`Capped`] (at most one element
/// per byte of `bytes` over the whole decode) and the nesting by [`MAX_DEPTH`]. Returns
/// the value and how many bytes it took, as `bincode::serde::decode_from_slice` does.
pub(crate) fn decode_from_slice<T, C>(
    bytes: &[u8],
    config: C,
) -> Result<(T, usize), bincode::error::DecodeError>
where
    T: DeserializeOwned,
    C: bincode::config::Config,
{
    let budget = Budget::new(bytes.len());
    bincode::serde::seed_decode_from_slice(Capped::new(PhantomData::<T>, &budget), bytes, config)
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Capped<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let deserializer = self.wrap(deserializer);
        self.inner.deserialize(deserializer)
    }
}

/// Forwards `deserialize_*` methods to the inner deserializer with the visitor wrapped.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($arg: $ty,)*
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let visitor = self.wrap(visitor);
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Capped<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards `visit_*` methods of scalars to the inner visitor.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Capped<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let deserializer = self.wrap(deserializer);
        self.budget.nest(|| self.inner.visit_some(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        let deserializer = self.wrap(deserializer);
        self.budget
            .nest(|| self.inner.visit_newtype_struct(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let seq = self.wrap(seq);
        self.budget.nest(|| self.inner.visit_seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let map = self.wrap(map);
        self.budget.nest(|| self.inner.visit_map(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let data = self.wrap(data);
        self.budget.nest(|| self.inner.visit_enum(data))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Capped<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.grant(self.inner.size_hint())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Capped<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    fn next_entry_seed<K: DeserializeSeed<'de>, V: DeserializeSeed<'de>>(
        &mut self,
        kseed: K,
        vseed: V,
    ) -> Result<Option<(K::Value, V::Value)>, A::Error> {
        let (kseed, vseed) = (self.wrap(kseed), self.wrap(vseed));
        self.inner.next_entry_seed(kseed, vseed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.grant(self.inner.size_hint())
    }
}

impl<'b, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Capped<'b, A> {
    type Error = A::Error;
    type Variant = Capped<'b, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), A::Error> {
        let seed = self.wrap(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((value, Capped::new(variant, self.budget)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Capped<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::cell::RefCell;
    use std::collections::{BTreeMap, HashMap};

    fn config() -> bincode::config::Configuration {
        bincode::config::standard()
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Meters(f64);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Dot,
        Line(Meters),
        Pair(i128, u128),
        Poly {
            sides: Vec<(i8, char)>,
            closed: bool,
        },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        shapes: Vec<Shape>,
        by_name: HashMap<String, Option<Vec<u16>>>,
        ordered: BTreeMap<u64, Vec<Vec<u8>>>,
        unit: (),
        nothing: Option<Box<Everything>>,
        bytes: Vec<u8>,
        small: (i16, i32, i64, u32, f32),
    }

    fn everything() -> Everything {
        Everything {
            shapes: vec![
                Shape::Dot,
                Shape::Line(Meters(2.5)),
                Shape::Pair(-1 << 100, 1 << 127),
                Shape::Poly {
                    sides: vec![(-3, 'é'), (4, 'x')],
                    closed: true,
                },
            ],
            by_name: [("a".to_string(), Some(vec![1, 300])), ("b".into(), None)].into(),
            ordered: [(7, vec![vec![], vec![1, 2, 3]])].into(),
            unit: (),
            nothing: Some(Box::new(Everything {
                shapes: vec![],
                by_name: HashMap::new(),
                ordered: BTreeMap::new(),
                unit: (),
                nothing: None,
                bytes: vec![9; 300],
                small: (1, 2, 3, 4, 5.5),
            })),
            bytes: b"raw".to_vec(),
            small: (-1, -2, -3, u32::MAX, -0.25),
        }
    }

    #[test]
    fn decodes_what_bincode_decodes() {
        let value = everything();
        let mut bytes = bincode::serde::encode_to_vec(&value, config()).unwrap();
        bytes.extend([1, 2, 3]);
        let plain: (Everything, usize) =
            bincode::serde::decode_from_slice(&bytes, config()).unwrap();
        let capped: (Everything, usize) = decode_from_slice(&bytes, config()).unwrap();
        assert_eq!(capped.0, value);
        assert_eq!(capped, plain);
        // Errors are bincode's own.
        let cut = &bytes[..bytes.len() / 2];
        let plain = bincode::serde::decode_from_slice::<Everything, _>(cut, config()).unwrap_err();
        let capped = decode_from_slice::<Everything, _>(cut, config()).unwrap_err();
        assert_eq!(capped.to_string(), plain.to_string());
    }

    /// Whether the format is human-readable, as a type deserializing through it sees it.
    struct Readable(bool);

    impl<'de> Deserialize<'de> for Readable {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Readable, D::Error> {
            Ok(Readable(d.is_human_readable()))
        }
    }

    #[test]
    fn forwards_human_readable() {
        // bincode is not human-readable (serde's default is); types such as IP addresses
        // and times encode differently in each mode, so the adapter must say what bincode
        // says.
        let (readable, used) = decode_from_slice::<Readable, _>(&[], config()).unwrap();
        assert!(!readable.0);
        assert_eq!(used, 0);
    }

    thread_local! {
        /// The size hints the [`Probe`]s of this thread were given, in order.
        static HINTS: RefCell<Vec<Option<usize>>> = const { RefCell::new(Vec::new()) };
    }

    /// A tree of sequences that records the size hint of every sequence it decodes.
    #[derive(Debug)]
    struct Probe;

    impl<'de> Deserialize<'de> for Probe {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Probe, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Probe;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a tree of sequences")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
                    HINTS.with(|h| h.borrow_mut().push(seq.size_hint()));
                    while seq.next_element::<Probe>()?.is_some() {}
                    Ok(Probe)
                }
            }
            d.deserialize_seq(V)
        }
    }

    /// The hints a decode of `bytes` as a [`Probe`] gives, and whether it decoded.
    fn hints(bytes: &[u8]) -> (Vec<usize>, bool) {
        HINTS.with(|h| h.borrow_mut().clear());
        let ok = decode_from_slice::<Probe, _>(bytes, config()).is_ok();
        let hints = HINTS.with(|h| h.borrow_mut().drain(..).map(|h| h.unwrap()).collect());
        (hints, ok)
    }

    #[test]
    fn honest_hints_pass_unchanged() {
        // [[], [[]], [[], [], []]]
        assert_eq!(
            hints(&[3, 0, 1, 0, 3, 0, 0, 0]),
            (vec![3, 0, 1, 0, 3, 0, 0, 0], true)
        );
    }

    #[test]
    fn claims_share_one_budget_of_the_input_length() {
        // One claim of 2^60: at most the input's 9 bytes.
        let mut huge = vec![253];
        huge.extend((1u64 << 60).to_le_bytes());
        assert_eq!(hints(&huge), (vec![9], false));
        // The same claim at every depth: the first takes the whole budget.
        let deep = huge.repeat(5);
        let (h, ok) = hints(&deep);
        assert!(!ok);
        assert_eq!(h, vec![45, 0, 0, 0, 0]);
        // Claims of 250 (one byte each), nested 100 deep: 100 elements in all.
        let (h, ok) = hints(&[250; 100]);
        assert!(!ok);
        assert_eq!(h.len(), 100);
        assert_eq!(h.iter().sum::<usize>(), 100);
    }

    /// A tree of sequences: one level of nesting per level of the tree.
    #[derive(Debug, Deserialize)]
    #[serde(transparent)]
    struct Tree(#[allow(dead_code)] Vec<Tree>);

    /// A linked list: one level for the `Some`, one for the newtype.
    #[derive(Debug, Deserialize)]
    struct List(#[allow(dead_code)] Option<Box<List>>);

    /// `levels` trees each holding the next one, the last one empty.
    fn nested_trees(levels: usize) -> Vec<u8> {
        let mut bytes = vec![1u8; levels - 1];
        bytes.push(0);
        bytes
    }

    #[test]
    fn nesting_stops_at_max_depth() {
        assert!(decode_from_slice::<Tree, _>(&nested_trees(MAX_DEPTH), config()).is_ok());
        let e = decode_from_slice::<Tree, _>(&nested_trees(MAX_DEPTH + 1), config()).unwrap_err();
        assert!(e.to_string().contains("more than 256 levels deep"), "{e}");
        // A list counts two levels a link.
        let list = |links: usize| {
            let mut bytes = vec![1u8; links];
            bytes.push(0);
            decode_from_slice::<List, _>(&bytes, config())
        };
        assert!(list(MAX_DEPTH / 2 - 1).is_ok());
        assert!(list(MAX_DEPTH / 2).is_err());
    }

    #[test]
    fn deep_input_is_an_error_not_a_stack_overflow() {
        // A megabyte of nesting, on a thread with the default 2 MiB stack: without the
        // limit this aborted the process (bincode recursed once per byte).
        let deep = std::thread::spawn(|| {
            let bytes = nested_trees(1 << 20);
            (
                decode_from_slice::<Tree, _>(&bytes, config()).is_err(),
                decode_from_slice::<List, _>(&bytes, config()).is_err(),
            )
        });
        assert_eq!(deep.join().unwrap(), (true, true));
    }

    #[test]
    fn the_budget_never_goes_below_zero() {
        let budget = Budget::new(5);
        assert_eq!(budget.grant(None), None);
        assert_eq!(budget.grant(Some(3)), Some(3));
        assert_eq!(budget.grant(Some(usize::MAX)), Some(2));
        assert_eq!(budget.grant(Some(1)), Some(0));
        assert_eq!(budget.grant(Some(0)), Some(0));
    }
}
