//! Client internals. SKELETON.

/// The shared state behind a [`Client`](crate::Client).
pub(crate) struct Inner {}
