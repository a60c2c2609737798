//! Allocation test of the self-describing decoders: a hostile Storable image or JSON text
//! makes a decode allocate at most a fixed multiple of its own length, whatever its lengths
//! and counts claim and however it shares references.
//!
//! One test in this binary, so the allocation counter sees only the decoder.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use schwartz_core::{decode_arg, JobId};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// The most a decode of `len` bytes may allocate: the parsed image (a node of 32 bytes
/// per byte at most, doubled by vector growth, and the strings), then the decoded value,
/// at most 8 values or string bytes per byte of the image (a `serde_json::Value` is 32
/// bytes, maps and vectors grow by doubling), and the error message.
fn bound(len: usize) -> usize {
    1024 * len + 64 * 1024
}

fn allocated(bytes: &[u8]) -> usize {
    let region = Region::new(GLOBAL);
    let result = decode_arg::<serde_json::Value>(JobId(1), bytes);
    drop(result);
    region.change().bytes_allocated
}

/// Storable images that claim much and share much.
fn worst_cases() -> Vec<Vec<u8>> {
    let mut cases = Vec::new();
    // Claims: an array, a hash, a string of 2^31-1, at several depths.
    for claim in [
        &[0x02, 0x7f, 0xff, 0xff, 0xff][..],
        &[0x03, 0x7f, 0xff, 0xff, 0xff],
        &[0x01, 0x7f, 0xff, 0xff, 0xff],
        &[0x18, 0x7f, 0xff, 0xff, 0xff],
    ] {
        for depth in 1..8 {
            let mut v = vec![0x05, 0x0b];
            for _ in 0..depth {
                v.extend([0x02, 0x00, 0x00, 0x00, 0x01, 0x04]);
            }
            v.extend(claim);
            v.extend([0u8; 32]);
            cases.push(v);
        }
    }
    // One long string shared by many references: [$s, \\$s x n] via SX_OBJECT.
    for (len, refs) in [(200usize, 2000usize), (5000, 400), (50_000, 10_000)] {
        let mut v = vec![0x05, 0x0b, 0x02];
        v.extend(((refs + 1) as u32).to_be_bytes());
        v.push(0x01);
        v.extend((len as u32).to_be_bytes());
        v.extend(std::iter::repeat_n(b'x', len));
        for _ in 0..refs {
            v.extend([0x00, 0x00, 0x00, 0x00, 0x01]); // SX_OBJECT 1: the string
        }
        cases.push(v);
    }
    // Doubling shared arrays, 40 levels.
    let mut v = vec![0x05, 0x0b];
    for _ in 0..40u32 {
        v.extend([0x02, 0, 0, 0, 2, 0x04]);
    }
    v.push(0x05);
    for l in (0..40u32).rev() {
        v.extend([0x04, 0x00]);
        v.extend((2 * l + 2).to_be_bytes());
    }
    cases.push(v);
    // JSON: deep and wide.
    cases.push("[".repeat(100_000).into_bytes());
    cases.push(format!("[{}]", "{},".repeat(20_000) + "{}").into_bytes());
    cases
}

fn image() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => (0u8..36).prop_map(|op| vec![op]),
        2 => (0u32..300).prop_map(|n| n.to_be_bytes().to_vec()),
        1 => any::<u32>().prop_map(|n| n.to_be_bytes().to_vec()),
        2 => proptest::collection::vec(any::<u8>(), 1..6),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|t| {
        let mut v = vec![0x05, 0x0b];
        v.extend(t.concat());
        v
    })
}

#[test]
fn self_describing_decoders_allocate_in_proportion() {
    let mut over = Vec::new();
    let mut check = |bytes: &[u8]| {
        let a = allocated(bytes);
        if a > bound(bytes.len()) {
            over.push(format!("{a} bytes for {} input bytes", bytes.len()));
        }
    };
    for case in worst_cases() {
        check(&case);
    }
    let over = std::cell::RefCell::new(over);
    let mut runner = TestRunner::new(Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&image(), |bytes| {
            let a = allocated(&bytes);
            if a > bound(bytes.len()) {
                over.borrow_mut().push(format!(
                    "{a} bytes for {} input bytes: {bytes:?}",
                    bytes.len()
                ));
            }
            Ok(())
        })
        .unwrap();
    let over = over.into_inner();
    assert!(over.is_empty(), "over the bound: {over:#?}");
}
