//! JSON arguments (serde_json): self-describing, readable by people and by Perl
//! (`decode_json($job->arg)`), and tolerant of added optional fields.
//!
//! Decoding is bounded without help: serde_json gives collections no size hint (nothing
//! is pre-allocated from a claimed length), every string is at most the input's length,
//! and it refuses values nested more than 128 levels deep.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

/// Encodes `value` as compact JSON text.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    serde_json::to_vec(value).map_err(|e| e.to_string())
}

/// Whether `bytes` are one whole JSON text (surrounding whitespace allowed).
pub(crate) fn is_json(bytes: &[u8]) -> bool {
    // Cheap refusal first: JSON text starts with whitespace or a value's first byte.
    matches!(
        bytes.first(),
        Some(
            b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'[' | b'"' | b'-' | b'0'
                ..=b'9' | b't' | b'f' | b'n'
        )
    ) && serde_json::from_slice::<IgnoredAny>(bytes).is_ok()
}

/// Decodes a whole JSON text as a `T`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

/// Decodes a whole JSON text as a JSON value (for display).
pub(crate) fn value(bytes: &[u8]) -> Result<serde_json::Value, String> {
    decode(bytes)
}
