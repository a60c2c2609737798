//! Job results through the worker pool, on every reachable store: the request/reply
//! example (schwartz-worker/examples/request_reply.rs) and the pool's pruning of expired
//! results.

mod common;

#[allow(dead_code)]
#[path = "../../schwartz-worker/examples/request_reply.rs"]
mod request_reply;

use std::sync::Arc;
use std::time::Duration;

use common::{dbs, wait_for};
use schwartz_core::testing::TimeShift;
use schwartz_core::{Client, Job, Pruning, QueuedJob, WorkError, Worker};
use schwartz_worker::{Housekeeping, WorkerPool};

#[test]
fn request_reply_example_on_every_store() {
    for db in dbs("reply") {
        let answers = request_reply::run(Arc::clone(&db.store), 20)
            .unwrap_or_else(|e| panic!("{}: {e}", db.name));
        assert_eq!(answers.len(), 20, "{}", db.name);
        for (q, a) in answers {
            assert_eq!(a.sum, q.a + q.b, "{}", db.name);
        }
    }
}

/// Keeps its results for 60 s.
struct ShortLived;

impl Worker for ShortLived {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        job.set_result("done")?;
        Ok(())
    }
    fn keep_result_for(&self) -> Duration {
        Duration::from_secs(60)
    }
}

#[test]
fn pool_housekeeping_prunes_expired_results() {
    for db in dbs("reply_prune") {
        let shift = TimeShift::new();
        let client = Client::builder()
            .store(Arc::clone(&db.store))
            .pruning(Pruning::Off)
            .time_shift(shift.clone())
            .build()
            .unwrap();
        client.can_do("short", ShortLived).unwrap();
        let h = client.insert(Job::new("short")).unwrap();
        let pool = WorkerPool::builder(client.clone())
            .threads(1)
            .housekeeping(Housekeeping::Prune {
                interval: Duration::from_millis(100),
                limit: 100,
            })
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        let r = client.wait_result(&h, Duration::from_secs(30)).unwrap();
        assert_eq!(r.expect("a result").value::<String>().unwrap(), "done");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            client.job_result(&h).unwrap().is_some(),
            "{}: pruned early",
            db.name
        );
        shift.advance(Duration::from_secs(120));
        assert!(
            wait_for(Duration::from_secs(20), || client
                .job_result(&h)
                .unwrap()
                .is_none()),
            "{}: the expired result was not pruned",
            db.name
        );
        pool.shutdown().unwrap();
    }
}
