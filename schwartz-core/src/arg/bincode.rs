//! bincode 2 arguments: compact, not self-describing, for Rust-only queues.
//!
//! What [`super::ArgFormat::Bincode`] writes starts with [`MAGIC`], so it is never
//! mistaken for JSON or Storable; bytes without it are read as bincode only when they
//! are neither (the arguments Schwartz wrote before it had formats).

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Error, Result};

/// The four bytes in front of a bincode argument: `0xFF` (a byte never found in UTF-8
/// text, so never JSON, and not a Storable header) and `Sb2` (Schwartz, bincode 2).
pub const MAGIC: [u8; 4] = [0xFF, b'S', b'b', b'2'];

fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a typed argument with serde + bincode 2 (standard configuration), without
/// [`MAGIC`].
///
/// Any value encodes, but [`decode`] refuses one nested more than 256 levels deep: a
/// job whose argument is deeper fails to decode.
///
/// # Errors
/// [`Error::ArgEncode`].
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, bincode_config()).map_err(|e| Error::ArgEncode {
        type_name: std::any::type_name::<T>(),
        message: e.to_string(),
    })
}

/// How many bytes bincode may claim while decoding an argument of `len` bytes: 16 times
/// the argument (the largest legitimate expansion, a one-byte varint decoded into a `u128`),
/// at least 256, rounded up to a power of two.
///
/// bincode counts every string or byte buffer it is about to allocate, and the in-memory
/// size of every number, against this limit before allocating, so a length prefix that
/// claims more than the argument can hold fails with a clear error instead of allocating.
/// The storage of sequences and maps is not counted here: `crate::arg_cap` bounds what
/// serde pre-allocates for it.
pub(crate) fn arg_decode_limit(len: usize) -> usize {
    len.saturating_mul(16)
        .max(256)
        .checked_next_power_of_two()
        .unwrap_or(usize::MAX)
}

/// Decodes with bincode's byte limit `N` (a const parameter in bincode 2) and the size
/// hints of sequences and maps bounded by the argument's length ([`crate::arg_cap`]).
fn decode_limited<T: DeserializeOwned, const N: usize>(
    bytes: &[u8],
) -> std::result::Result<(T, usize), bincode::error::DecodeError> {
    crate::arg_cap::decode_from_slice(bytes, bincode_config().with_limit::<N>())
}

/// Decodes `bytes` with the limit of [`arg_decode_limit`], rounded up to a power of four
/// (one instance of the decoder per power of four, not per power of two).
fn decode_bounded<T: DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<(T, usize), bincode::error::DecodeError> {
    const K: usize = 1 << 10;
    const M: usize = 1 << 20;
    const G: usize = 1 << 30;
    // The limit is a power of two: pick the instance for the next power of four.
    match arg_decode_limit(bytes.len()).trailing_zeros() {
        0..=8 => decode_limited::<T, 256>(bytes),
        9..=10 => decode_limited::<T, K>(bytes),
        11..=12 => decode_limited::<T, { 4 * K }>(bytes),
        13..=14 => decode_limited::<T, { 16 * K }>(bytes),
        15..=16 => decode_limited::<T, { 64 * K }>(bytes),
        17..=18 => decode_limited::<T, { 256 * K }>(bytes),
        19..=20 => decode_limited::<T, M>(bytes),
        21..=22 => decode_limited::<T, { 4 * M }>(bytes),
        23..=24 => decode_limited::<T, { 16 * M }>(bytes),
        25..=26 => decode_limited::<T, { 64 * M }>(bytes),
        27..=28 => decode_limited::<T, { 256 * M }>(bytes),
        29..=30 => decode_limited::<T, G>(bytes),
        31..=32 => decode_limited::<T, { 4 * G }>(bytes),
        33..=34 => decode_limited::<T, { 16 * G }>(bytes),
        35..=36 => decode_limited::<T, { 64 * G }>(bytes),
        _ => decode_limited::<T, { usize::MAX }>(bytes),
    }
}

/// Decodes a typed argument; trailing bytes are an error.
///
/// Decoding is bounded by the argument's own size: a length prefix that claims more than
/// the argument can hold is an error, never an allocation, at any depth.
///
/// - Strings, byte buffers and numbers: bincode may claim at most 64 times the argument's
///   length (at least 256 bytes) for them before it fails.
/// - Sequences and maps: serde pre-allocates them from the length the input claims; here
///   all the sequences and maps of the value share a budget of one pre-allocated element
///   per byte of the argument (a valid argument never claims more), so a hostile one makes
///   the decoder pre-allocate at most `len × size_of::<largest element>()` bytes, however
///   deep its claims, instead of up to 1 MiB per sequence.
///
/// What a decode allocates is thus at most a multiple of the argument's length, the
/// multiple depending on `T` only as much as a valid argument's own value does (a
/// `Vec<Vec<u8>>` of empty vectors takes 24 bytes of memory per byte of argument).
///
/// Nesting is bounded too: a value nested more than 256 levels deep (every sequence,
/// tuple, struct, map, enum, `Some` and newtype struct is a level) is an error, where a
/// recursive type would otherwise recurse once per byte of the argument and overflow the
/// stack.
///
/// # Errors
/// What is wrong: bytes that are not a valid encoding of `T`, a claimed length beyond the
/// argument, or bytes left over after the value (the usual sign of decoding as the wrong
/// type).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    let (value, used) = decode_bounded::<T>(bytes).map_err(|e| match e {
        bincode::error::DecodeError::LimitExceeded => format!(
            "a length in the argument claims more than its {} bytes can hold",
            bytes.len()
        ),
        // serde's messages (and the depth limit's), without bincode's Debug wrapping.
        bincode::error::DecodeError::OtherString(message) => message,
        e => e.to_string(),
    })?;
    if used != bytes.len() {
        return Err(format!(
            "{} trailing bytes after the value ({} bytes in all): probably not a {}",
            bytes.len() - used,
            bytes.len(),
            std::any::type_name::<T>()
        ));
    }
    Ok(value)
}
