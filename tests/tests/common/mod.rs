//! Test fixtures: one fresh database per test and backend.
#![allow(dead_code)]

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use schwartz_core::store::{JobQuery, JobRow, Store};
use schwartz_core::{Client, Pruning};
use schwartz_memory::MemoryStore;

mod sql;

/// A fresh database for one test.
pub struct Db {
    /// Backend name, for messages.
    pub name: &'static str,
    /// The store the pool uses.
    pub store: Arc<dyn Store>,
    /// Opens another connection to the same database (for a second client).
    pub reopen: Box<dyn Fn() -> Arc<dyn Store>>,
    /// Drops the database when the test ends.
    _guard: Option<Box<dyn std::any::Any>>,
}

pub fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = env_logger::builder().is_test(true).try_init();
    });
}

pub fn memory(_tag: &str) -> Db {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let same = Arc::clone(&store);
    Db {
        name: "memory",
        store,
        reopen: Box::new(move || Arc::clone(&same)),
        _guard: None,
    }
}

/// Every backend reachable here: memory always, then SQL ones (see `sql.rs`).
pub fn dbs(tag: &str) -> Vec<Db> {
    init_logs();
    let mut v = vec![memory(tag)];
    v.extend(sql::dbs(tag));
    v
}

/// A client on this store with pruning off (the pool prunes).
pub fn client(store: Arc<dyn Store>) -> Client {
    Client::builder()
        .store(store)
        .pruning(Pruning::Off)
        .build()
        .expect("client")
}

/// The raw rows of `funcname` still in the job table.
pub fn rows(store: &Arc<dyn Store>, funcname: &str) -> Vec<JobRow> {
    let funcid = store.funcid(funcname).expect("funcid");
    store
        .select_jobs(&JobQuery {
            funcids: vec![funcid],
            limit: 1_000_000,
            ..JobQuery::default()
        })
        .expect("select")
}

/// Waits until `cond` holds, up to `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}
