//! Diesel stores. SKELETON.
