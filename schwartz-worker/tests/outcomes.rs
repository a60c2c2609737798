//! The pool's outcomes on the in-memory store: failures and retries go through the
//! completer like completions, an undecodable argument fails its job for good, and
//! nothing the pool or its jobs hold keeps the client alive.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schwartz_core::{Client, Job, QueuedJob, WorkError, Worker};
use schwartz_memory::MemoryStore;
use schwartz_worker::WorkerPool;

/// Fails each job once, then completes it; reaches its client through a `WeakClient`
/// (a clone would keep the client alive: the client owns its workers).
struct FlakyOnce {
    client: schwartz_core::WeakClient,
    failed: Mutex<HashSet<u64>>,
}

impl Worker for FlakyOnce {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        let client = self.client.upgrade().ok_or("the client is gone")?;
        assert_eq!(client.abilities(), vec!["flaky".to_string()]);
        if self.failed.lock().unwrap().insert(n) {
            return Err(format!("first attempt of {n}").into());
        }
        Ok(())
    }
    fn max_retries(&self, _: &QueuedJob) -> u32 {
        1
    }
    fn retry_delay(&self, _: u32) -> Duration {
        Duration::ZERO
    }
}

fn client() -> (Client, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let client = Client::builder()
        .store(Arc::clone(&store) as _)
        .build()
        .unwrap();
    (client, store)
}

#[test]
fn retries_are_written_by_the_completer_and_the_client_drops() {
    let (client, store) = client();
    let weak = client.downgrade();
    client
        .can_do(
            "flaky",
            FlakyOnce {
                client: client.downgrade(),
                failed: Mutex::new(HashSet::new()),
            },
        )
        .unwrap();
    let jobs = (0..40u64)
        .map(|n| Job::new("flaky").arg(&n))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let handles = client.insert_jobs(jobs).unwrap();
    let pool = WorkerPool::builder(client.clone())
        .threads(3)
        .build()
        .unwrap();
    let summary = pool.run_until_done().unwrap();
    // Every job failed once (written in batches, then retried) and completed.
    assert_eq!(summary.retried, 40, "{summary}");
    assert_eq!(summary.completed, 40, "{summary}");
    assert_eq!(
        summary.failed + summary.errors + summary.lease_lost,
        0,
        "{summary}"
    );
    use schwartz_core::store::Store;
    assert_eq!(store.stats().unwrap().jobs, 0);
    for h in &handles {
        assert_eq!(client.failure_log(h).unwrap().len(), 1);
    }
    drop(client);
    assert!(
        weak.upgrade().is_none(),
        "the pool, its jobs or its worker kept the client alive"
    );
}

#[test]
fn an_undecodable_argument_fails_for_good_and_the_pool_goes_on() {
    let (client, _store) = client();
    client
        .can_do("typed", |job: &QueuedJob| -> Result<(), WorkError> {
            let n: u64 = job.arg()?;
            assert!(n < 100);
            Ok(())
        })
        .unwrap();
    struct Retrying;
    impl Worker for Retrying {
        fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
            let _: String = job.arg()?;
            Ok(())
        }
        fn max_retries(&self, _: &QueuedJob) -> u32 {
            5
        }
    }
    client.can_do("retrying", Retrying).unwrap();
    let bad = client
        .insert(Job::new("retrying").raw_arg(vec![0xff, 0xff, 0xff]))
        .unwrap();
    let good: Vec<_> = (0..10u64)
        .map(|n| client.insert(Job::new("typed").arg(&n).unwrap()).unwrap())
        .collect();
    let summary = WorkerPool::builder(client.clone())
        .threads(2)
        .build()
        .unwrap()
        .run_until_done()
        .unwrap();
    assert_eq!(summary.failed, 1, "{summary}");
    assert_eq!(
        summary.retried, 0,
        "retrying cannot fix an argument: {summary}"
    );
    assert_eq!(summary.completed, 10, "{summary}");
    assert!(!client.is_pending(&bad).unwrap());
    let log = client.failure_log(&bad).unwrap();
    assert_eq!(log.len(), 1);
    assert!(
        log[0].starts_with("cannot decode the argument of job"),
        "{log:?}"
    );
    for h in &good {
        assert!(!client.is_pending(h).unwrap());
    }
}
