//! Allocation test: decoding a hostile argument allocates at most a bound proportional to
//! the argument's length, whatever its length prefixes claim, at every nesting depth.
//!
//! bincode's byte limit already stops a string or a byte buffer that claims more than the
//! argument can hold; what this test watches is the storage of sequences and maps, which
//! serde's visitors pre-allocate from the length the input claims (`SeqAccess::size_hint`).
//!
//! One test in this binary, so the allocation counter sees only the decoder. The counter is
//! the total of bytes allocated during a decode (a reallocation counts its growth), which is
//! at least the peak.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use schwartz_core::{decode_arg, JobId};
use serde::{de::DeserializeOwned, Deserialize};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// A struct with sequences and a map nested in it.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Nested {
    id: u32,
    rows: Vec<Vec<u16>>,
    pairs: Vec<(u8, Vec<String>)>,
    index: HashMap<u32, Vec<Vec<u8>>>,
}

/// A recursive type: every level of the input can claim a new sequence.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Tree(Vec<Tree>);

/// The byte limit bincode decodes `len` bytes with: 16 × len, at least 256, rounded up to
/// a power of two and then of four (so at most 64 × len). Strings, byte buffers and numbers
/// are counted against it before they are allocated.
fn claim(len: usize) -> usize {
    let claim = (len * 16).max(256).next_power_of_two();
    if claim.trailing_zeros() % 2 == 1 {
        claim * 2
    } else {
        claim
    }
}

/// The most a decode of `len` bytes may allocate, for a type whose largest sequence
/// element (or map entry) takes `elem` bytes in memory:
///
/// - [`claim`]`(len)` for strings, byte buffers and numbers;
/// - `8 × elem × len` for the storage of sequences and maps: every element takes at least
///   one byte of input, so the decoded value holds at most `len` elements; pre-allocation
///   is at most one element per input byte over the whole decode; the 8 covers that, a
///   vector's doubling and a hash map's spare buckets;
/// - 4 KiB for the error message.
///
/// Before the fix, serde pre-allocated up to 1 MiB per sequence from the claimed length
/// alone, at every nesting depth.
fn bound(len: usize, elem: usize) -> usize {
    claim(len) + 8 * elem * len + 4096
}

/// The largest decode seen for one type, and the closest to the bound.
#[derive(Debug, Default, Clone)]
struct Worst {
    allocated: usize,
    ratio: f64,
    input: Vec<u8>,
    share: f64,
}

/// What [`check`] saw over every input.
#[derive(Default)]
struct Tally {
    tried: u64,
    over: Vec<String>,
    worst: Vec<(&'static str, Worst)>,
}

/// Decodes `bytes` as `T` and records the bytes allocated against [`bound`].
fn check<T: DeserializeOwned>(bytes: &[u8], elem: usize, t: &mut Tally) {
    t.tried += 1;
    let region = Region::new(GLOBAL);
    let result = decode_arg::<T>(JobId(1), bytes);
    drop(result);
    let allocated = region.change().bytes_allocated;
    let name = std::any::type_name::<T>();
    let limit = bound(bytes.len(), elem);
    if allocated > limit {
        t.over.push(format!(
            "{name}: {allocated} bytes allocated for {} input bytes (bound {limit}): {bytes:?}",
            bytes.len()
        ));
    }
    let ratio = allocated as f64 / bytes.len().max(1) as f64;
    let slot = match t.worst.iter().position(|(n, _)| *n == name) {
        Some(i) => &mut t.worst[i].1,
        None => {
            t.worst.push((name, Worst::default()));
            &mut t.worst.last_mut().unwrap().1
        }
    };
    if allocated > slot.allocated {
        slot.allocated = allocated;
        slot.ratio = ratio;
        slot.input = bytes.to_vec();
    }
    slot.share = slot.share.max(allocated as f64 / limit as f64);
}

/// Decodes `bytes` as every type of the test.
fn check_all(bytes: &[u8], t: &mut Tally) {
    check::<Vec<u8>>(bytes, 1, t);
    check::<Vec<Vec<u8>>>(bytes, 24, t);
    check::<Vec<Vec<Vec<String>>>>(bytes, 24, t);
    // A map entry: a String and a Vec (48 bytes) and hashbrown's control byte.
    check::<HashMap<String, Vec<u64>>>(bytes, 49, t);
    check::<Vec<u128>>(bytes, 16, t);
    // The largest element: an index entry (u32 + Vec, 32 bytes, and a control byte).
    check::<Nested>(bytes, 33, t);
    check::<Tree>(bytes, 24, t);
}

/// bincode's varint for `n`: one byte up to 250, else a marker (251: u16, 252: u32,
/// 253: u64, 254: u128) and the little-endian value.
fn varint(n: u128) -> Vec<u8> {
    if n <= 250 {
        vec![n as u8]
    } else if n <= u16::MAX as u128 {
        let mut v = vec![251];
        v.extend((n as u16).to_le_bytes());
        v
    } else if n <= u32::MAX as u128 {
        let mut v = vec![252];
        v.extend((n as u32).to_le_bytes());
        v
    } else if n <= u64::MAX as u128 {
        let mut v = vec![253];
        v.extend((n as u64).to_le_bytes());
        v
    } else {
        let mut v = vec![254];
        v.extend(n.to_le_bytes());
        v
    }
}

/// Hand-made worst cases: length prefixes claiming `claimed` at every depth, for the
/// claims that serde's own cap lets through (2^15: 768 KiB of 24-byte elements) and the
/// largest ones (2^60), then zeros (empty strings and sequences) or more claims.
fn worst_cases() -> Vec<Vec<u8>> {
    let mut cases = Vec::new();
    for claimed in [
        250u128,
        1 << 15,
        1 << 16,
        1 << 20,
        1 << 60,
        u64::MAX as u128,
    ] {
        let prefix = varint(claimed);
        for depth in 1..=8 {
            let mut v: Vec<u8> = prefix.repeat(depth);
            cases.push(v.clone());
            v.extend([0u8; 16]);
            cases.push(v.clone());
            // Valid first elements, so decoding goes on inside the claimed sequence.
            v.extend([1u8, 0, 1, 0, 0, 0, 0, 0]);
            cases.push(v);
        }
        // As many claims as fit in 64 bytes (a recursive type opens one per claim).
        let mut v = prefix.repeat(64 / prefix.len());
        cases.push(v.clone());
        v.truncate(64 - 8);
        v.extend([0u8; 8]);
        cases.push(v);
        // A claim, a key, a claim (a map of sequences), repeated.
        let mut v = Vec::new();
        while v.len() + 2 * prefix.len() < 64 {
            v.extend(&prefix);
            v.push(0);
            v.extend(&prefix);
        }
        cases.push(v);
    }
    // The struct: an id, then claims for each field.
    let big = varint(1 << 60);
    let mut v = vec![7u8];
    for _ in 0..5 {
        v.extend(&big);
    }
    cases.push(v);
    cases
}

/// Random inputs made of length prefixes of every width (small, capped by serde, huge),
/// zeros and random bytes: what a hostile or corrupt row can hold.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        3 => (0u128..=250).prop_map(varint),
        2 => (251u128..=(1 << 16)).prop_map(varint),
        2 => (0u32..64).prop_map(|shift| varint(1u128 << shift)),
        2 => Just(vec![0u8]),
        1 => proptest::collection::vec(any::<u8>(), 1..8),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
}

#[test]
fn decoding_allocates_in_proportion_to_the_argument() {
    let mut tally = Tally::default();
    for case in worst_cases() {
        check_all(&case, &mut tally);
    }
    let hand_made = tally.tried;

    let tally = std::cell::RefCell::new(tally);
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&hostile_bytes(), |bytes| {
            check_all(&bytes, &mut tally.borrow_mut());
            Ok(())
        })
        .unwrap();
    let tally = tally.into_inner();

    println!(
        "arg-decode allocation: {} decodes ({} hand-made), {} over the bound",
        tally.tried,
        hand_made,
        tally.over.len()
    );
    for (name, worst) in &tally.worst {
        println!(
            "  {name}: at most {} bytes allocated, for a {}-byte input ({:.0} per byte; at most {:.0}% of the bound): {:?}",
            worst.allocated,
            worst.input.len(),
            worst.ratio,
            worst.share * 100.0,
            worst.input
        );
    }
    for over in tally.over.iter().take(10) {
        println!("  over: {over}");
    }
    assert!(
        tally.over.is_empty(),
        "{} decodes over the bound",
        tally.over.len()
    );
}
