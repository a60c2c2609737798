//! QueuedJob internals. SKELETON.

/// The shared state behind a [`QueuedJob`](crate::QueuedJob).
pub(crate) struct QueuedInner {}
