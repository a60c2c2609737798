//! Shared fixtures of the client's integration tests: `MemoryStore`s on a manual clock
//! (starting at 1,000,000), a client over them with a time shift, and a worker with
//! settable hooks.

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use schwartz_core::store::{JobQuery, JobRow, Store};
use schwartz_core::testing::TimeShift;
use schwartz_core::{Client, QueuedJob, WorkError, Worker};
use schwartz_memory::{ManualClock, MemoryStore};

/// A named `MemoryStore` whose clock starts at 1,000,000 and moves only when told.
#[derive(Debug)]
pub struct TestStore {
    store: Arc<MemoryStore>,
    /// The store's clock.
    pub clock: Arc<ManualClock>,
}

impl TestStore {
    pub fn new(name: &str) -> TestStore {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let store = MemoryStore::named(name).with_clock(Arc::clone(&clock) as _);
        TestStore {
            store: Arc::new(store),
            clock,
        }
    }

    /// The store, for a client.
    pub fn dyn_store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store) as Arc<dyn Store>
    }

    /// Every pending job row, in id order.
    pub fn jobs(&self) -> Vec<JobRow> {
        let funcids = self
            .store
            .funcmap()
            .expect("funcmap")
            .into_iter()
            .map(|f| f.funcid)
            .collect();
        let query = JobQuery {
            funcids,
            limit: usize::MAX,
            ..JobQuery::default()
        };
        self.store.select_jobs(&query).expect("select_jobs")
    }
}

impl Deref for TestStore {
    type Target = MemoryStore;
    fn deref(&self) -> &MemoryStore {
        &self.store
    }
}

/// A client over these stores, with a time shift.
pub fn client_with(stores: &[Arc<TestStore>]) -> (Client, TimeShift) {
    let shift = TimeShift::new();
    let client = Client::builder()
        .stores(stores.iter().map(|s| s.dyn_store()))
        .time_shift(shift.clone())
        .build()
        .unwrap();
    (client, shift)
}

/// A client over one store.
pub fn one() -> (Client, Arc<TestStore>, TimeShift) {
    let s = Arc::new(TestStore::new("a"));
    let (c, shift) = client_with(&[Arc::clone(&s)]);
    (c, s, shift)
}

/// A worker: `work`, max retries, retry delay per failure (seconds), 60 s exit statuses,
/// 30 s leases.
pub struct Keep<F>(pub F, pub u32, pub u64);
impl<F> Worker for Keep<F>
where
    F: Fn(&QueuedJob) -> Result<(), WorkError> + Send + Sync + 'static,
{
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        (self.0)(job)
    }
    fn max_retries(&self, _: &QueuedJob) -> u32 {
        self.1
    }
    fn retry_delay(&self, failures: u32) -> Duration {
        Duration::from_secs(self.2 * u64::from(failures))
    }
    fn keep_exit_status_for(&self) -> Duration {
        Duration::from_secs(60)
    }
    fn grab_for(&self) -> Duration {
        Duration::from_secs(30)
    }
}
