//! Property tests of the argument formats: every value round-trips through each format
//! (Rust -> Storable -> Rust included), and no input, random or a damaged valid image,
//! makes a decode panic.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use schwartz_core::arg::{decode, decode_as, encode, encoding_of, to_json};
use schwartz_core::{ArgEncoding, ArgFormat, JobId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Dot,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Path(Vec<(i32, i32)>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rich {
    name: String,
    id: u64,
    delta: i64,
    wide: i128,
    small: i8,
    ratio: f64,
    single: f32,
    flag: bool,
    letter: char,
    maybe: Option<String>,
    nothing: Option<u8>,
    list: Vec<i64>,
    nested: Vec<Vec<String>>,
    map: BTreeMap<String, Option<u32>>,
    by_number: BTreeMap<u16, bool>,
    shapes: Vec<Shape>,
    unit: (),
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Dot),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Shape::Circle),
        (any::<u32>(), any::<u32>()).prop_map(|(w, h)| Shape::Rect { w, h }),
        prop::collection::vec(any::<(i32, i32)>(), 0..4).prop_map(Shape::Path),
    ]
}

prop_compose! {
    fn rich()(
        name in ".*",
        id in any::<u64>(),
        delta in any::<i64>(),
        wide in any::<i128>(),
        small in any::<i8>(),
        ratio in prop_oneof![any::<f64>().prop_filter("finite", |f| f.is_finite()), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        single in any::<f32>().prop_filter("finite", |f| f.is_finite()),
        flag in any::<bool>(),
        letter in any::<char>(),
        maybe in proptest::option::of(".{0,300}"),
        list in prop::collection::vec(any::<i64>(), 0..8),
        nested in prop::collection::vec(prop::collection::vec("\\PC{0,8}", 0..3), 0..3),
        map in prop::collection::btree_map(".{0,10}", proptest::option::of(any::<u32>()), 0..5),
        by_number in prop::collection::btree_map(any::<u16>(), any::<bool>(), 0..5),
        shapes in prop::collection::vec(shape(), 0..4),
    ) -> Rich {
        Rich { name, id, delta, wide, small, ratio, single, flag, letter, maybe, nothing: None,
               list, nested, map, by_number, shapes, unit: () }
    }
}

/// Decodes, turning a panic into a test failure with the input.
fn no_panic<T: DeserializeOwned>(bytes: &[u8]) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _ = decode::<T>(JobId(1), bytes);
        let _ = encoding_of(bytes);
        let _ = to_json(bytes);
        let _ = decode_as::<T>(ArgFormat::Storable, JobId(1), bytes);
    }));
    assert!(result.is_ok(), "decoding panicked on {bytes:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn storable_round_trip(value in rich()) {
        let bytes = encode(ArgFormat::Storable, &value).unwrap();
        prop_assert_eq!(encoding_of(&bytes), ArgEncoding::Storable);
        let back: Rich = decode(JobId(1), &bytes).unwrap();
        // Infinite floats come back infinite; everything else exactly.
        prop_assert_eq!(back, value);
    }

    #[test]
    fn json_and_bincode_round_trip(value in rich()) {
        let mut value = value;
        if !value.ratio.is_finite() {
            value.ratio = 0.0; // JSON has no infinity
        }
        for (format, encoding) in [(ArgFormat::Json, ArgEncoding::Json), (ArgFormat::Bincode, ArgEncoding::Bincode)] {
            let bytes = encode(format, &value).unwrap();
            prop_assert_eq!(encoding_of(&bytes), encoding);
            let back: Rich = decode(JobId(1), &bytes).unwrap();
            prop_assert_eq!(&back, &value);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        no_panic::<serde_json::Value>(&bytes);
        no_panic::<Rich>(&bytes);
    }

    #[test]
    fn storable_headers_with_random_bodies_never_panic(
        native in any::<bool>(),
        body in prop::collection::vec(prop_oneof![0u8..40, any::<u8>()], 0..120),
    ) {
        let mut bytes = if native {
            b"\x04\x0b\x0812345678\x04\x08\x08\x08".to_vec()
        } else {
            vec![0x05, 0x0b]
        };
        bytes.extend(body);
        no_panic::<serde_json::Value>(&bytes);
        no_panic::<Rich>(&bytes);
    }

    #[test]
    fn damaged_images_never_panic(value in rich(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let good = encode(ArgFormat::Storable, &value).unwrap();
        let mut flipped = good.clone();
        let i = at.index(flipped.len());
        flipped[i] = byte;
        no_panic::<Rich>(&flipped);
        no_panic::<serde_json::Value>(&flipped);
        let truncated = &good[..cut.index(good.len())];
        no_panic::<serde_json::Value>(truncated);
        prop_assert!(decode::<Rich>(JobId(1), truncated).is_err());
    }
}
