//! Worker pool. SKELETON.
