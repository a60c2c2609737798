//! The worker pool on every reachable store: draining, shutdown, panics, leases, wake-ups.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{client, dbs, rows, wait_for, Db};
use crossbeam_channel::{bounded, unbounded};
use schwartz_core::{Client, Job, QueuedJob, ScoreboardDir, WorkError, Worker};
use schwartz_worker::{LeaseExtension, Notifications, WorkerPool};

/// Counts how often each job (by its u64 arg) was started.
#[derive(Clone, Default)]
struct Counts(Arc<Mutex<HashMap<u64, u32>>>);

impl Counts {
    fn hit(&self, job: &QueuedJob) -> u64 {
        let n: u64 = job.arg().expect("u64 arg");
        *self.0.lock().unwrap().entry(n).or_default() += 1;
        n
    }
    fn get(&self, n: u64) -> u32 {
        self.0.lock().unwrap().get(&n).copied().unwrap_or(0)
    }
    fn total(&self) -> usize {
        self.0.lock().unwrap().values().map(|v| *v as usize).sum()
    }
}

fn insert_numbered(client: &Client, funcname: &str, n: u64) {
    let jobs: Vec<Job> = (0..n)
        .map(|i| Job::new(funcname).arg(&i).unwrap())
        .collect();
    for chunk in jobs.chunks(500) {
        client.insert_jobs(chunk.to_vec()).expect("insert_jobs");
    }
}

#[test]
fn drains_every_job_exactly_once() {
    for db in dbs("drain") {
        let client = client(Arc::clone(&db.store));
        let counts = Counts::default();
        let c = counts.clone();
        client
            .can_do("count", move |job: &QueuedJob| -> Result<(), WorkError> {
                c.hit(job);
                Ok(())
            })
            .unwrap();
        insert_numbered(&client, "count", 2000);
        let summary = WorkerPool::builder(client)
            .threads(4)
            .build()
            .unwrap()
            .run_until_done()
            .unwrap();
        assert_eq!(summary.completed, 2000, "{}: {summary}", db.name);
        assert_eq!(
            summary.lease_lost + summary.errors + summary.failed,
            0,
            "{}",
            db.name
        );
        for i in 0..2000 {
            assert_eq!(counts.get(i), 1, "{}: job {i}", db.name);
        }
        assert!(
            rows(&db.store, "count").is_empty(),
            "{}: jobs left",
            db.name
        );
    }
}

#[test]
fn shutdown_loses_no_job_and_leaves_none_leased() {
    for db in dbs("shutdown") {
        let client = client(Arc::clone(&db.store));
        let counts = Counts::default();
        let c = counts.clone();
        client
            .can_do("slow", move |job: &QueuedJob| -> Result<(), WorkError> {
                c.hit(job);
                std::thread::sleep(Duration::from_millis(100));
                Ok(())
            })
            .unwrap();
        insert_numbered(&client, "slow", 60);
        let pool = WorkerPool::builder(client.clone())
            .threads(2)
            .shutdown_grace(Duration::from_secs(30))
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        assert!(wait_for(Duration::from_secs(20), || counts.total() >= 4));
        let summary = pool.shutdown().unwrap();
        let started = counts.total() as u64;
        assert_eq!(
            summary.completed, started,
            "{}: every started job finished: {summary}",
            db.name
        );
        let left = rows(&db.store, "slow");
        assert_eq!(left.len() as u64 + started, 60, "{}: no job lost", db.name);
        for row in &left {
            assert_eq!(
                row.grabbed_until, 0,
                "{}: job {} left leased",
                db.name, row.jobid
            );
        }
        // A second pool finishes the rest; nothing runs twice.
        let summary2 = WorkerPool::builder(client)
            .threads(4)
            .build()
            .unwrap()
            .run_until_done()
            .unwrap();
        assert_eq!(summary.completed + summary2.completed, 60, "{}", db.name);
        for i in 0..60 {
            assert_eq!(counts.get(i), 1, "{}: job {i}", db.name);
        }
        assert!(rows(&db.store, "slow").is_empty());
    }
}

#[test]
fn immediate_shutdown_of_an_idle_pool_is_quick() {
    for db in dbs("idle_stop") {
        let client = client(Arc::clone(&db.store));
        client
            .can_do("noop", |_: &QueuedJob| -> Result<(), WorkError> { Ok(()) })
            .unwrap();
        let t0 = Instant::now();
        let pool = WorkerPool::builder(client)
            .threads(2)
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        let summary = pool.shutdown().unwrap();
        assert_eq!(summary.worked(), 0);
        eprintln!("{}: start + stop in {:?}", db.name, t0.elapsed());
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{}: {:?}",
            db.name,
            t0.elapsed()
        );
    }
}

#[test]
fn a_panicking_job_is_a_failure_and_the_thread_keeps_serving() {
    for db in dbs("panics") {
        let client = client(Arc::clone(&db.store));
        client
            .can_do("maybe_panic", |job: &QueuedJob| -> Result<(), WorkError> {
                let n: u64 = job.arg()?;
                if n % 3 == 0 {
                    panic!("job {n} blew up");
                }
                Ok(())
            })
            .unwrap();
        let handles = client
            .insert_jobs(
                (0..20u64)
                    .map(|i| Job::new("maybe_panic").arg(&i).unwrap())
                    .collect(),
            )
            .unwrap();
        // One thread: it must survive every panic to finish the queue.
        let summary = WorkerPool::builder(client.clone())
            .threads(1)
            .build()
            .unwrap()
            .run_until_done()
            .unwrap();
        assert_eq!(summary.failed, 7, "{}: {summary}", db.name);
        assert_eq!(summary.completed, 13, "{}: {summary}", db.name);
        let log = client.failure_log(&handles[3]).unwrap();
        assert_eq!(log.len(), 1, "{}", db.name);
        assert!(log[0].contains("job 3 blew up"), "{}: {log:?}", db.name);
        assert!(rows(&db.store, "maybe_panic").is_empty());
    }
}

/// A worker with a short lease that runs for several leases.
struct LongJob {
    grab_for: Duration,
    runs_for: Duration,
    started: crossbeam_channel::Sender<()>,
}

impl Worker for LongJob {
    fn work(&self, _job: &QueuedJob) -> Result<(), WorkError> {
        let _ = self.started.send(());
        std::thread::sleep(self.runs_for);
        Ok(())
    }
    fn grab_for(&self) -> Duration {
        self.grab_for
    }
}

#[test]
fn long_jobs_get_their_lease_extended() {
    for db in dbs("extend") {
        let client = client(Arc::clone(&db.store));
        let (started_tx, started_rx) = unbounded();
        client
            .can_do(
                "long",
                LongJob {
                    grab_for: Duration::from_secs(4),
                    runs_for: Duration::from_secs(9),
                    started: started_tx,
                },
            )
            .unwrap();
        client.insert(Job::new("long")).unwrap();
        let pool = WorkerPool::builder(client.clone())
            .threads(1)
            .lease_extension(LeaseExtension::Auto)
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("job started");
        // Another client keeps trying to grab it while it runs past two leases.
        let other = common::client(db.reopen());
        let (tx, _rx) = unbounded();
        other
            .can_do(
                "long",
                LongJob {
                    grab_for: Duration::from_secs(4),
                    runs_for: Duration::ZERO,
                    started: tx,
                },
            )
            .unwrap();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(8) {
            let got = other.grab_jobs(10).unwrap();
            assert!(
                got.is_empty(),
                "{}: the running job was taken over after {:?}",
                db.name,
                t0.elapsed()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(wait_for(Duration::from_secs(10), || rows(
            &db.store, "long"
        )
        .is_empty()));
        let summary = pool.shutdown().unwrap();
        assert_eq!(summary.completed, 1, "{}: {summary}", db.name);
        assert_eq!(summary.lease_lost, 0, "{}: {summary}", db.name);
    }
}

#[test]
fn a_worker_whose_lease_was_taken_over_writes_nothing() {
    for db in dbs("lease_lost") {
        let client = client(Arc::clone(&db.store));
        let (started_tx, started_rx) = bounded::<()>(1);
        let (go_tx, go_rx) = bounded::<()>(1);
        client
            .can_do("victim", move |_: &QueuedJob| -> Result<(), WorkError> {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                Ok(())
            })
            .unwrap();
        client.insert(Job::new("victim")).unwrap();
        let pool = WorkerPool::builder(client.clone())
            .threads(1)
            .lease_extension(LeaseExtension::Off)
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("job started");

        // A second client two hours ahead sees the lease expired and takes the job over.
        let other = schwartz_core::Client::builder()
            .store(db.reopen())
            .build()
            .unwrap();
        other.time_shift().advance(Duration::from_secs(7200));
        other
            .can_do("victim", |_: &QueuedJob| -> Result<(), WorkError> {
                Ok(())
            })
            .unwrap();
        let taken = other.grab_jobs(1).unwrap();
        assert_eq!(taken.len(), 1, "{}: takeover", db.name);
        let token = taken[0].grabbed_until().timestamp();

        go_tx.send(()).unwrap();
        // Shutdown waits for the running job and flushes its (refused) completion.
        let summary = pool.shutdown().unwrap();
        assert_eq!(summary.lease_lost, 1, "{}: {summary}", db.name);
        assert_eq!(summary.completed, 0, "{}: {summary}", db.name);
        // The new owner's lease is untouched, and it can complete the job.
        let left = rows(&db.store, "victim");
        assert_eq!(left.len(), 1, "{}", db.name);
        assert_eq!(
            left[0].grabbed_until, token,
            "{}: new owner's lease overwritten",
            db.name
        );
        taken[0].completed().unwrap();
        assert!(rows(&db.store, "victim").is_empty());
    }
}

fn wake_case(db: &Db, insert_elsewhere: bool) {
    let client = client(Arc::clone(&db.store));
    let (started_tx, started_rx) = unbounded::<Instant>();
    client
        .can_do("wake", move |_: &QueuedJob| -> Result<(), WorkError> {
            started_tx.send(Instant::now()).unwrap();
            Ok(())
        })
        .unwrap();
    let notifications = if insert_elsewhere {
        Notifications::Listen
    } else {
        Notifications::Ignore
    };
    let pool = WorkerPool::builder(client.clone())
        .threads(2)
        .poll_interval(Duration::from_secs(30))
        .notifications(notifications)
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    // Let it find the queue empty and go to sleep.
    std::thread::sleep(Duration::from_millis(500));
    let inserter = if insert_elsewhere {
        common::client(db.reopen())
    } else {
        client.clone()
    };
    for _ in 0..3 {
        let t0 = Instant::now();
        inserter.insert(Job::new("wake")).unwrap();
        let at = started_rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("{}: not woken (elsewhere: {insert_elsewhere})", db.name));
        let latency = at.duration_since(t0);
        assert!(
            latency < Duration::from_secs(5),
            "{}: woken after {latency:?}, well before the 30 s poll expected",
            db.name
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let summary = pool.shutdown().unwrap();
    assert_eq!(summary.completed, 3, "{}: {summary}", db.name);
}

#[test]
fn an_insert_through_the_same_client_wakes_an_idle_pool() {
    for db in dbs("local_wake") {
        wake_case(&db, false);
    }
}

#[test]
fn a_store_notification_wakes_an_idle_pool() {
    for db in dbs("notify_wake") {
        let has_notifier = db.store.notifier().map(|n| n.is_some()).unwrap_or(false);
        if !has_notifier {
            eprintln!("{}: no notifier, skipped", db.name);
            continue;
        }
        wake_case(&db, true);
    }
}

#[test]
fn each_worker_thread_writes_its_own_scoreboard() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn schwartz_core::store::Store> = Arc::new(schwartz_memory::MemoryStore::new());
    let client = Client::builder()
        .store(store)
        .scoreboard(ScoreboardDir::Path(dir.path().to_path_buf()))
        .build()
        .unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = unbounded::<()>();
    let s = Arc::clone(&seen);
    client
        .can_do("board", move |_: &QueuedJob| -> Result<(), WorkError> {
            s.fetch_add(1, Ordering::SeqCst);
            release_rx.recv_timeout(Duration::from_secs(10)).ok();
            Ok(())
        })
        .unwrap();
    client
        .insert(Job::new("board").raw_arg(b"hello".to_vec()))
        .unwrap();
    client
        .insert(Job::new("board").raw_arg(b"world".to_vec()))
        .unwrap();
    let pool = WorkerPool::builder(client.clone())
        .threads(2)
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(10), || seen
        .load(Ordering::SeqCst)
        == 2));
    let boards: Vec<_> = std::fs::read_dir(dir.path().join("theschwartz"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("scoreboard.{}.", std::process::id()))
        })
        .collect();
    assert_eq!(boards.len(), 2, "one file per busy thread: {boards:?}");
    let mut args: Vec<String> = boards
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            assert!(text.contains("funcname=board\n"), "{text}");
            text.lines()
                .find(|l| l.starts_with("arg="))
                .unwrap()
                .to_string()
        })
        .collect();
    args.sort();
    assert_eq!(args, ["arg=hello", "arg=world"]);
    release_tx.send(()).unwrap();
    release_tx.send(()).unwrap();
    let summary = pool.shutdown().unwrap();
    assert_eq!(summary.completed, 2);
}

#[test]
fn builder_refuses_bad_settings() {
    let store: Arc<dyn schwartz_core::store::Store> = Arc::new(schwartz_memory::MemoryStore::new());
    let bare = client(store);
    let err = WorkerPool::builder(bare.clone())
        .threads(2)
        .build()
        .unwrap_err();
    assert!(err.is_config(), "{err}");
    bare.can_do("x", |_: &QueuedJob| -> Result<(), WorkError> { Ok(()) })
        .unwrap();
    assert!(WorkerPool::builder(bare.clone())
        .threads(0)
        .build()
        .unwrap_err()
        .is_config());
    assert!(WorkerPool::builder(bare.clone())
        .batch_size(0)
        .build()
        .unwrap_err()
        .is_config());
    assert!(WorkerPool::builder(bare.clone())
        .poll_interval(Duration::ZERO)
        .build()
        .unwrap_err()
        .is_config());
    assert_eq!(
        WorkerPool::builder(bare)
            .threads(3)
            .build()
            .unwrap()
            .threads(),
        3
    );
}

#[test]
fn a_shutdown_requested_before_running_returns_at_once() {
    let store: Arc<dyn schwartz_core::store::Store> = Arc::new(schwartz_memory::MemoryStore::new());
    let client = client(store);
    client
        .can_do("x", |_: &QueuedJob| -> Result<(), WorkError> { Ok(()) })
        .unwrap();
    client.insert(Job::new("x")).unwrap();
    let pool = WorkerPool::builder(client).threads(2).build().unwrap();
    pool.shutdown_handle().shutdown();
    let summary = pool.run().unwrap();
    assert_eq!(summary.worked(), 0);
}

/// Fails each job's first attempt; one retry allowed.
struct FlakyOnce {
    counts: Counts,
}

impl Worker for FlakyOnce {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        self.counts.hit(job);
        if self.counts.get(n) == 1 {
            return Err(format!("first attempt of {n} fails").into());
        }
        Ok(())
    }
    fn max_retries(&self, _job: &QueuedJob) -> u32 {
        1
    }
}

#[test]
fn failed_jobs_are_retried_before_run_until_done_returns() {
    for db in dbs("retry") {
        let client = client(Arc::clone(&db.store));
        let counts = Counts::default();
        client
            .can_do(
                "flaky",
                FlakyOnce {
                    counts: counts.clone(),
                },
            )
            .unwrap();
        insert_numbered(&client, "flaky", 200);
        let summary = WorkerPool::builder(client)
            .threads(3)
            .poll_interval(Duration::from_secs(30))
            .build()
            .unwrap()
            .run_until_done()
            .unwrap();
        assert_eq!(summary.retried, 200, "{}: {summary}", db.name);
        assert_eq!(summary.completed, 200, "{}: {summary}", db.name);
        assert_eq!(summary.failed, 0, "{}: {summary}", db.name);
        for i in 0..200 {
            assert_eq!(counts.get(i), 2, "{}: job {i}", db.name);
        }
        assert!(rows(&db.store, "flaky").is_empty(), "{}", db.name);
        // The retries did not wait for the 30 s poll.
        assert!(
            summary.elapsed < Duration::from_secs(20),
            "{}: {:?}",
            db.name,
            summary.elapsed
        );
    }
}

#[test]
fn shutdown_during_a_fast_drain_gives_back_every_prefetched_job() {
    for db in dbs("fast_shutdown") {
        let client = client(Arc::clone(&db.store));
        let counts = Counts::default();
        let c = counts.clone();
        client
            .can_do("quick", move |job: &QueuedJob| -> Result<(), WorkError> {
                c.hit(job);
                std::thread::sleep(Duration::from_micros(300));
                Ok(())
            })
            .unwrap();
        insert_numbered(&client, "quick", 6000);
        let pool = WorkerPool::builder(client.clone())
            .threads(3)
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        // Fast jobs: the pool grabs ahead and hands out chunks.
        assert!(wait_for(Duration::from_secs(30), || counts.total() >= 1500));
        let summary = pool.shutdown().unwrap();
        let started = counts.total() as u64;
        assert_eq!(summary.completed, started, "{}: {summary}", db.name);
        let left = rows(&db.store, "quick");
        assert_eq!(
            left.len() as u64 + started,
            6000,
            "{}: no job lost: {summary}",
            db.name
        );
        for row in &left {
            assert_eq!(
                row.grabbed_until, 0,
                "{}: job {} left leased: {summary}",
                db.name, row.jobid
            );
        }
        assert!(
            summary.released > 0 || left.is_empty(),
            "{}: {summary}",
            db.name
        );
        let rest = WorkerPool::builder(client)
            .threads(2)
            .build()
            .unwrap()
            .run_until_done()
            .unwrap();
        assert_eq!(summary.completed + rest.completed, 6000, "{}", db.name);
        for i in 0..6000 {
            assert_eq!(counts.get(i), 1, "{}: job {i}", db.name);
        }
    }
}

#[test]
fn the_pool_prunes_old_errors_off_the_hot_path() {
    for db in dbs("prune") {
        let client = schwartz_core::Client::builder()
            .store(Arc::clone(&db.store))
            .pruning(schwartz_core::Pruning::Off)
            .error_max_age(Duration::from_secs(60))
            .build()
            .unwrap();
        client
            .can_do("fails", |_: &QueuedJob| -> Result<(), WorkError> {
                Err("no".into())
            })
            .unwrap();
        client
            .insert_jobs((0..5).map(|_| Job::new("fails")).collect())
            .unwrap();
        let summary = WorkerPool::builder(client.clone())
            .threads(1)
            .housekeeping(schwartz_worker::Housekeeping::Off)
            .build()
            .unwrap()
            .run_until_done()
            .unwrap();
        assert_eq!(summary.failed, 5, "{}: {summary}", db.name);
        assert_eq!(
            db.store.stats().unwrap().errors,
            5,
            "{}: inline pruning is off",
            db.name
        );
        // Two minutes later the errors are old; a running pool prunes them.
        client.time_shift().advance(Duration::from_secs(120));
        let pool = WorkerPool::builder(client)
            .threads(1)
            .housekeeping(schwartz_worker::Housekeeping::Prune {
                interval: Duration::from_millis(100),
                limit: 1000,
            })
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        let pruned = wait_for(Duration::from_secs(10), || {
            db.store.stats().unwrap().errors == 0
        });
        pool.shutdown().unwrap();
        assert!(pruned, "{}: errors not pruned", db.name);
    }
}
