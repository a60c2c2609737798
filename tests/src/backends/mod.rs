//! The backends the suite runs on: ONE line per backend in [`all`].
//!
//! To add one: write a module implementing [`Backend`] (see `memory.rs`),
//! declare it here, and add one line to the list. Its `probe` decides whether it is
//! reported as skipped (unreachable server; a failure when `CI=true`).

use std::sync::Arc;

use crate::harness::Backend;

mod diesel;
mod memory;

/// Every backend, in the order the report lists them.
pub fn all() -> Vec<Arc<dyn Backend>> {
    vec![
        Arc::new(memory::Memory),
        Arc::new(diesel::Sqlite),
        Arc::new(diesel::Server::postgres()),
        Arc::new(diesel::Server::mysql()),
    ]
}
