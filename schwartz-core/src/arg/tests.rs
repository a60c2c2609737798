//! Unit tests of the argument codecs: images written by Perl's Storable 3.26 (`nfreeze`
//! and `freeze` on x86-64), recognition, evolution, and the refusals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn perl<T: DeserializeOwned>(hex: &str) -> Result<T> {
    decode(JobId(1), &unhex(hex))
}

/// `[1,-1,200,-200,70000,2**40,-2**40,18446744073709551615,0.5,1/3,"x",undef]`
const NUMBERS_NET: &str = "050b020000000c0881087f09000000c809ffffff3809000111700a0d313039393531313632373737360a0e2d313039393531313632373737360a1431383434363734343037333730393535313631350a03302e350a11302e3333333333333333333333333333330a017805";
const NUMBERS_NATIVE: &str = "040b08313233343536373804080808020c0000000881087f06c8000000000000000638ffffffffffffff067011010000000000060000000000010000060000000000ffffff0a14313834343637343430373337303935353136313507000000000000e03f07555555555555d53f0a017805";

#[test]
fn perl_numbers_both_byte_orders() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct Numbers(
        i8,
        i64,
        u8,
        i16,
        u32,
        i64,
        i64,
        u64,
        f64,
        f64,
        String,
        Option<u8>,
    );
    for hex in [NUMBERS_NET, NUMBERS_NATIVE] {
        let n: Numbers = perl(hex).unwrap();
        assert_eq!(
            (n.0, n.1, n.2, n.3, n.4, n.5, n.6, n.7),
            (1, -1, 200, -200, 70000, 1 << 40, -(1 << 40), u64::MAX)
        );
        assert_eq!(n.8, 0.5);
        // nfreeze writes floats as Perl prints them (15 digits); freeze writes the bits.
        assert!((n.9 - 1.0 / 3.0).abs() < 1e-14);
        assert_eq!((n.10.as_str(), n.11), ("x", None));
        assert_eq!(encoding_of(&unhex(hex)), ArgEncoding::Storable);
    }
    let native: Vec<Value> = perl(NUMBERS_NATIVE).unwrap();
    assert_eq!(native[9], json!(1.0 / 3.0));
}

#[test]
fn perl_strings_hashes_and_references() {
    // ["\x{e9}", "\x{263a}", "abc\xff"]: Latin-1, UTF-8, and bytes.
    let s: Vec<String> = perl("050b02000000030a01e91703e298ba0a04616263ff").unwrap();
    assert_eq!(s, ["é", "☺", "abcÿ"]);
    let b: (serde_bytes_like::Bytes, String, String) =
        perl("050b02000000030a01e91703e298ba0a04616263ff").unwrap();
    assert_eq!(b.0 .0, vec![0xe9]);
    // {x=>{y=>[]}}: nested references.
    let v: Value = perl("050b030000000104030000000104020000000000000001790000000178").unwrap();
    assert_eq!(v, json!({"x": {"y": []}}));
    // {"\x{263a}"=>1}: a UTF-8 key (SX_FLAG_HASH).
    let v: BTreeMap<String, u8> = perl("050b19000000000108810100000003e298ba").unwrap();
    assert_eq!(v, BTreeMap::from([("☺".to_string(), 1)]));
    // A restricted hash with a deleted key: the placeholder is not an entry.
    let v: Value = perl("050b19010000000208810000000001610e140000000162").unwrap();
    assert_eq!(v, json!({"a": 1}));
    // {"caf\xe9"=>"caf\xe9"}: Latin-1 key and value.
    let v: Value = perl("050b03000000010a04636166e900000004636166e9").unwrap();
    assert_eq!(v, json!({"café": "café"}));
    // [$r, $r]: a shared reference decodes at both places.
    let v: Vec<Vec<u8>> = perl("050b02000000020402000000010882040000000002").unwrap();
    assert_eq!(v, [[2], [2]]);
    // An array with holes: undef.
    let v: Vec<Option<u8>> = perl("050b02000000030e0e0881").unwrap();
    assert_eq!(v, [None, None, Some(1)]);
}

#[test]
fn perl_refusals_are_clear() {
    let cyclic = perl::<Value>("050b0200000001040000000000").unwrap_err();
    assert!(cyclic.to_string().contains("cyclic"), "{cyclic}");
    let blessed = perl::<Value>("050b1103466f6f0300000000").unwrap_err();
    assert!(
        blessed.to_string().contains("blessed object (class Foo)"),
        "{blessed}"
    );
    // A code reference (SX_CODE, as written with $Storable::Deparse).
    let code = perl::<Value>("050b0200000001041a").unwrap_err();
    assert!(code.to_string().contains("code reference"), "{code}");
    assert!(code.to_string().contains("Storable argument"), "{code}");
    // A blessed object is still recognised as Storable (not read as something else).
    assert_eq!(
        encoding_of(&unhex("050b1103466f6f0300000000")),
        ArgEncoding::Storable
    );
    assert!(to_json(&unhex("050b1103466f6f0300000000"))
        .unwrap()
        .is_err());
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct EmailV1 {
    to: String,
    tries: u32,
}

#[derive(Debug, PartialEq, Deserialize)]
struct EmailV2 {
    to: String,
    tries: u32,
    cc: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct EmailV3 {
    to: String,
    urgent: bool,
}

#[test]
fn added_optional_fields_keep_old_jobs_decodable() {
    let v1 = EmailV1 {
        to: "a@example.com".into(),
        tries: 2,
    };
    for format in [ArgFormat::Json, ArgFormat::Storable] {
        let bytes = encode(format, &v1).unwrap();
        let v2: EmailV2 = decode(JobId(1), &bytes).unwrap();
        assert_eq!(
            v2,
            EmailV2 {
                to: v1.to.clone(),
                tries: 2,
                cc: None,
                tags: vec![]
            }
        );
        // A required field added: a clear error naming it, never a default made up.
        let e = decode::<EmailV3>(JobId(5), &bytes).unwrap_err();
        assert!(e.to_string().contains("missing field `urgent`"), "{e}");
    }
    // bincode cannot evolve: the same change fails.
    let bytes = encode(ArgFormat::Bincode, &v1).unwrap();
    assert!(decode::<EmailV2>(JobId(1), &bytes).is_err());
}

#[test]
fn recognition() {
    let v = EmailV1 {
        to: "x".into(),
        tries: 1,
    };
    for (format, want) in [
        (ArgFormat::Json, ArgEncoding::Json),
        (ArgFormat::Storable, ArgEncoding::Storable),
        (ArgFormat::Bincode, ArgEncoding::Bincode),
    ] {
        let bytes = encode(format, &v).unwrap();
        assert_eq!(encoding_of(&bytes), want, "{format:?}");
        assert_eq!(decode::<EmailV1>(JobId(1), &bytes).unwrap(), v);
        assert_eq!(decode_as::<EmailV1>(format, JobId(1), &bytes).unwrap(), v);
    }
    assert_eq!(
        &encode(ArgFormat::Json, &v).unwrap(),
        br#"{"to":"x","tries":1}"#
    );
    // Perl scalars stay raw, including one that starts like a Storable header.
    for raw in [
        &b"\x05scalar that begins with the 5 byte"[..],
        b"short_arg",
        b"",
        b"\xff\xfe",
    ] {
        assert_eq!(encoding_of(raw), ArgEncoding::Raw, "{raw:?}");
    }
    assert_eq!(encoding_of(b" [1, 2] "), ArgEncoding::Json);
    assert_eq!(encoding_of(b"42"), ArgEncoding::Json);
    // Bincode written before formats (no prefix) still decodes.
    let legacy = bincode::encode(&v).unwrap();
    assert_eq!(encoding_of(&legacy), ArgEncoding::Raw);
    assert_eq!(decode::<EmailV1>(JobId(1), &legacy).unwrap(), v);
    assert_eq!(
        decode_as::<EmailV1>(ArgFormat::Bincode, JobId(1), &legacy).unwrap(),
        v
    );
    // JSON text that does not fit the type is a JSON error, never read as bincode.
    let e = decode::<u32>(JobId(3), b"\"seven\"").unwrap_err();
    assert!(e.to_string().contains("JSON argument"), "{e}");
    let e = decode::<EmailV1>(JobId(3), b"garbage").unwrap_err();
    assert!(e.to_string().contains("raw argument"), "{e}");
    // A scalar is not a Perl job argument.
    let e = encode(ArgFormat::Storable, "text").unwrap_err();
    assert!(e.to_string().contains("raw_arg"), "{e}");
}

#[test]
fn storable_encoding_is_what_perl_writes() {
    // Byte for byte what Perl's nfreeze gives for the same hash.
    assert_eq!(
        encode(ArgFormat::Storable, &BTreeMap::from([("a", 1)])).unwrap(),
        unhex("050b030000000108810000000161")
    );
    assert_eq!(
        encode(
            ArgFormat::Storable,
            &BTreeMap::from([("x", BTreeMap::from([("y", Vec::<u8>::new())]))])
        )
        .unwrap(),
        unhex("050b030000000104030000000104020000000000000001790000000178")
    );
    assert_eq!(
        encode(ArgFormat::Storable, &BTreeMap::from([("☺", 1)])).unwrap(),
        unhex("050b19000000000108810100000003e298ba")
    );
    assert_eq!(
        encode(ArgFormat::Storable, &(1, -1, 200, -200, 70000, 1i64 << 40)).unwrap(),
        unhex("050b02000000060881087f09000000c809ffffff3809000111700a0d31303939353131363237373736")
    );
}

#[test]
fn hostile_storable_never_allocates_from_claims() {
    // An array claiming 2^31-1 elements, a string claiming 2 GiB: errors at once.
    assert!(perl::<Value>("050b027fffffff").is_err());
    assert!(perl::<Value>("050b017fffffff41").is_err());
    assert!(perl::<Value>("050b03ffffffff").is_err());
    // Shared references doubling at each level: the visit budget stops the expansion.
    // Level i is an array [ref to level i+1, ref to the same object again]; the tags: the
    // arrays 0, 2, 4, ..., the first references 1, 3, 5, ..., the innermost undef last.
    let doubling = |levels: u32| {
        let mut image = vec![0x05, 0x0b];
        for _ in 0..levels {
            image.extend([0x02, 0, 0, 0, 2, 0x04]);
        }
        image.push(0x05);
        for l in (0..levels).rev() {
            image.extend([0x04, 0x00]);
            image.extend((2 * l + 2).to_be_bytes());
        }
        image
    };
    let small: Value = decode(JobId(1), &doubling(3)).unwrap();
    assert_eq!(
        small,
        json!([[[null, null], [null, null]], [[null, null], [null, null]]])
    );
    let image = doubling(60);
    let e = decode::<Value>(JobId(1), &image).unwrap_err();
    assert!(e.to_string().contains("expand"), "{e}");
}

/// serde_bytes without the dependency: a newtype asking for bytes.
mod serde_bytes_like {
    use serde::de::{Deserialize, Deserializer, Visitor};
    use std::fmt;

    #[derive(Debug)]
    pub(super) struct Bytes(pub(super) Vec<u8>);

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Bytes, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> std::result::Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}
