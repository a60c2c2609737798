//! Conformance suite. SKELETON.
