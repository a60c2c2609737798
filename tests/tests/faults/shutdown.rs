//! Shutdown while one job outlasts the grace period: after `shutdown()` returns (and after
//! SIGTERM to a worker process), at most the jobs still running stay leased; every job that
//! was grabbed but not started is released.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use schwartz_core::{QueuedJob, WorkError, Worker};
use schwartz_worker::WorkerPool;

use super::kill::{runs, terminate, Spec};
use super::{backends, client, figures, insert_range, left_and_leased, serial, wait_for, FUNC};

/// Jobs 0..JOBS run 5 ms (short: the pool grabs ahead), except [`SLOW`].
const JOBS: u64 = 3000;
/// The job that outlasts the grace period.
const SLOW: u64 = 400;

struct SlowOne {
    started: Arc<AtomicBool>,
}

impl Worker for SlowOne {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        if n == SLOW {
            self.started.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(6));
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

#[test]
fn shutdown_with_a_job_past_grace() {
    let test = "shutdown_with_a_job_past_grace";
    let _serial = serial();
    for b in backends(test, true) {
        let client = client(vec![Arc::clone(&b.store)]);
        let started = Arc::new(AtomicBool::new(false));
        let slow = SlowOne {
            started: Arc::clone(&started),
        };
        client.can_do(FUNC, slow).expect("can_do");
        insert_range(&client, 0, JOBS);
        let pool = WorkerPool::builder(client.clone())
            .threads(2)
            .shutdown_grace(Duration::from_secs(1))
            .build()
            .expect("pool")
            .spawn()
            .expect("spawn");
        let slow_running = wait_for(Duration::from_secs(60), || started.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(200));
        let summary = pool.shutdown().expect("shutdown");
        let (left, leased) = left_and_leased(&b.store);
        eprintln!("{test} on {}: {summary:?}", b.name);
        figures(test, b.name, 0, 0, left, Some(leased), &[]);
        // Let the slow job end before the store goes away.
        std::thread::sleep(Duration::from_secs(6));
        assert!(
            slow_running,
            "{test} on {}: the slow job never started",
            b.name
        );
        assert!(
            leased <= 1,
            "{test} on {}: {leased} jobs leased after shutdown returned; only the one still \
             running may be",
            b.name
        );
    }
}

#[test]
fn sigterm_with_a_job_past_grace() {
    let test = "sigterm_with_a_job_past_grace";
    let _serial = serial();
    for b in backends(test, false) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("runs.log");
        let client = client(vec![Arc::clone(&b.store)]);
        insert_range(&client, 0, JOBS);
        let spec = Spec {
            url: b.url.clone().expect("url"),
            runlog: log.display().to_string(),
            grab_for: Duration::from_secs(3600),
            sleep: Duration::from_millis(5),
            slow: Some((SLOW, Duration::from_secs(20))),
            grace: Duration::from_secs(1),
        };
        let mut child = spec.spawn();
        let started = wait_for(Duration::from_secs(60), || runs(&log).contains_key(&SLOW));
        std::thread::sleep(Duration::from_millis(200));
        let exited = terminate(&mut child, Duration::from_secs(30));
        let (left, leased) = left_and_leased(&b.store);
        figures(test, b.name, 0, 0, left, Some(leased), &[]);
        assert!(
            started,
            "{test} on {}: the worker process ran no job",
            b.name
        );
        assert!(
            exited,
            "{test} on {}: no exit within 30 s of SIGTERM",
            b.name
        );
        assert!(
            leased <= 1,
            "{test} on {}: {leased} jobs leased after the process exited; only the one still \
             running may be",
            b.name
        );
    }
}
