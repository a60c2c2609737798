//! Property test: decoding arbitrary bytes as any argument type never panics and never
//! allocates beyond a small multiple of the argument's own size.
//!
//! One test in this binary, so the allocation counter sees only the decoder.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use schwartz_core::{decode_arg, encode_arg, Error, JobId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Email {
    to: String,
    attempt: u64,
    tags: Vec<String>,
    reply: Option<u32>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Command {
    Stop,
    Send { to: String, body: Vec<u8> },
    Retry(u16),
}

/// The most a decode of `len` bytes may allocate, for a type whose largest sequence
/// element (or map entry) takes `elem` bytes in memory: what bincode may claim (16 × len, at
/// least 256, up to the next power of four) for strings, byte buffers and numbers, 8 × elem
/// per input byte for the storage of sequences and maps (pre-allocation is at most one
/// element per input byte, see `arg_decode_alloc.rs`), and 4 KiB for the error message.
fn bound(len: usize, elem: usize) -> usize {
    let claim = (len * 16).max(256).next_power_of_two();
    let claim = if claim.trailing_zeros() % 2 == 1 {
        claim * 2
    } else {
        claim
    };
    claim + 8 * elem * len + 4096
}

#[derive(Default)]
struct Tally {
    tried: u64,
    panics: u64,
    errors: u64,
    decoded: u64,
    wrong: u64,
    max_alloc: usize,
    max_alloc_small: usize,
}

/// Decodes `bytes` as `T` (largest element `elem` bytes in memory): never a panic, never
/// more than [`bound`] bytes allocated, an error is `ArgDecode` naming the job, and a
/// decoded value survives a round trip (its bytes may differ: a map's order, a non-minimal
/// length).
fn check<T: DeserializeOwned + Serialize + PartialEq>(bytes: &[u8], elem: usize, t: &mut Tally) {
    t.tried += 1;
    let region = Region::new(GLOBAL);
    let result = catch_unwind(AssertUnwindSafe(|| decode_arg::<T>(JobId(7), bytes)));
    let allocated = region.change().bytes_allocated;
    t.max_alloc = t.max_alloc.max(allocated);
    if bytes.len() <= 64 {
        t.max_alloc_small = t.max_alloc_small.max(allocated);
    }
    if allocated > bound(bytes.len(), elem) {
        t.wrong += 1;
    }
    match result {
        Err(_) => t.panics += 1,
        Ok(Err(Error::ArgDecode {
            jobid, expected, ..
        })) => {
            t.errors += 1;
            if jobid != JobId(7) || !expected.contains(std::any::type_name::<T>()) {
                t.wrong += 1;
            }
        }
        Ok(Err(_)) => t.wrong += 1,
        Ok(Ok(value)) => {
            t.decoded += 1;
            let again = encode_arg(&value)
                .ok()
                .and_then(|b| decode_arg::<T>(JobId(7), &b).ok());
            if again.as_ref() != Some(&value) {
                t.wrong += 1;
            }
        }
    }
}

fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48),
        // Length prefixes of every varint width, then anything.
        (
            prop_oneof![Just(251u8), Just(252), Just(253), Just(254)],
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(m, rest)| {
                let mut v = vec![m];
                v.extend(rest);
                v
            }),
        // Valid encodings, sometimes cut or extended.
        (".{0,20}", any::<u64>(), 0usize..4).prop_map(|(s, n, cut)| {
            let mut v = encode_arg(&Email {
                to: s,
                attempt: n,
                tags: vec!["a".into()],
                reply: Some(3),
            })
            .unwrap();
            match cut {
                0 => {}
                1 => v.truncate(v.len() / 2),
                2 => v.push(0),
                _ => v.insert(0, 1),
            }
            v
        }),
    ]
}

#[test]
fn decoding_arbitrary_bytes_is_bounded_and_never_panics() {
    // The example of issue 8: a 16-byte argument claiming terabytes.
    let poison = [
        253, 54, 149, 20, 232, 122, 36, 225, 73, 167, 170, 68, 225, 216, 207, 189,
    ];
    let region = Region::new(GLOBAL);
    let e = decode_arg::<String>(JobId(1), &poison).unwrap_err();
    assert!(matches!(e, Error::ArgDecode { .. }), "{e}");
    assert!(region.change().bytes_allocated < 4096);

    let tally = std::cell::RefCell::new(Tally::default());
    let mut runner = TestRunner::new(Config {
        cases: 1500,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&hostile_bytes(), |bytes| {
            let mut tally = tally.borrow_mut();
            check::<String>(&bytes, 1, &mut tally);
            check::<Vec<u8>>(&bytes, 1, &mut tally);
            check::<u64>(&bytes, 1, &mut tally);
            check::<Vec<u64>>(&bytes, 8, &mut tally);
            check::<Vec<String>>(&bytes, 24, &mut tally);
            check::<Email>(&bytes, 24, &mut tally);
            check::<Command>(&bytes, 1, &mut tally);
            check::<HashMap<String, Vec<u8>>>(&bytes, 49, &mut tally);
            check::<(u8, String, Option<char>)>(&bytes, 1, &mut tally);
            check::<Vec<Vec<u128>>>(&bytes, 24, &mut tally);
            Ok(())
        })
        .unwrap();
    let tally = tally.into_inner();
    println!(
        "property arg-decode: inputs tried {}, panics {}, clear errors {}, decoded {}, wrong results {}, largest allocation {} bytes (inputs <= 64 bytes: {} bytes)",
        tally.tried, tally.panics, tally.errors, tally.decoded, tally.wrong, tally.max_alloc, tally.max_alloc_small
    );
    assert_eq!(tally.panics, 0);
    assert_eq!(tally.wrong, 0);
}
