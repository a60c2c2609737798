//! In-memory store. SKELETON.
