//! The in-memory store: the reference backend, always available.

use std::sync::Arc;

use schwartz_memory::MemoryStore;

use crate::harness::{Backend, TestDb};

/// `schwartz_memory::MemoryStore`.
#[derive(Debug)]
pub struct Memory;

impl Backend for Memory {
    fn name(&self) -> &str {
        "memory"
    }

    fn probe(&self) -> Result<(), String> {
        Ok(())
    }

    fn fresh(&self, tag: &str) -> Result<TestDb, String> {
        Ok(TestDb::new(Arc::new(MemoryStore::named(tag)), ()))
    }

    fn missing(&self, tag: &str) -> Result<TestDb, String> {
        let store = MemoryStore::named(tag);
        store.set_offline(true);
        Ok(TestDb::new(Arc::new(store), ()))
    }

    fn empty(&self, tag: &str) -> Result<TestDb, String> {
        let _ = tag;
        Ok(TestDb::new(Arc::new(MemoryStore::without_schema()), ()))
    }
}
