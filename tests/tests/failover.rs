//! A database that goes away mid-run.
//!
//! The test starts a private PostgreSQL server (initdb into a temporary directory, its own
//! port and socket directory), gives a `Client` two stores, that server and a SQLite file,
//! and inserts jobs into both. Then it stops PostgreSQL and shows that inserts and work go
//! on with the SQLite store while the client reports PostgreSQL unavailable and marks it
//! dead; starts PostgreSQL again, moves the client's `TimeShift` past `retry_seconds` (no
//! sleeping), and shows the jobs left on PostgreSQL get worked: every job inserted is worked
//! exactly once and nothing is pending at the end.
//!
//! Runs unless `SCHWARTZ_BACKENDS` is set without both `postgres` and `sqlite`. The SQLite
//! database is the testkit's fixture; the PostgreSQL server is private to this test (it is
//! stopped and started): `schwartz_tests::servers`, as in the fault tests.
//! Needs the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`, Debian package
//! `postgresql`); as root they run as the `postgres` user through `runuser`. When the server
//! cannot be started the test prints `SKIPPED: <reason>` and passes; with `CI=true` it fails.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use schwartz_core::store::Store;
use schwartz_core::testing::TimeShift;
use schwartz_core::{Client, Error, Job, JobHandle, QueuedJob, WorkError};
use schwartz_diesel::DieselStore;
use schwartz_testkit::{env, fixtures, Backend as _};
use schwartz_tests::servers::{Kind, Server};

const FUNC: &str = "failover.job";
/// How long a dead store stays dead.
const RETRY_SECONDS: Duration = Duration::from_secs(60);
/// Bound on any one client call.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Skips the test (loudly), or fails it under `CI=true` (see `schwartz_testkit::env`).
fn skip(test: &str, reason: &str) {
    env::skip(test, reason);
}

/// Runs `f` on another thread; panics if it takes longer than `limit`.
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what} did not return within {limit:?}"),
    }
}

#[test]
fn postgres_goes_away_and_comes_back() {
    const TEST: &str = "postgres_goes_away_and_comes_back";
    if !(env::backend_selected("postgres") && env::backend_selected("sqlite")) {
        eprintln!("SKIPPED: {TEST}: needs postgres and sqlite in SCHWARTZ_BACKENDS");
        return;
    }
    let mut pg = match Server::start(Kind::Postgres) {
        Ok(pg) => pg,
        Err(reason) => return skip(TEST, &format!("private PostgreSQL server: {reason}")),
    };
    eprintln!("private PostgreSQL on port {}", pg.port);

    let pg_store = DieselStore::builder(&pg.url())
        .pool_size(2)
        .connection_timeout(Duration::from_secs(2))
        .build()
        .expect("DieselStore for the private PostgreSQL");
    pg_store
        .run_migrations()
        .expect("migrations on the private PostgreSQL");
    let pg_store: Arc<dyn Store> = Arc::new(pg_store);

    let sqlite_db = fixtures::Sqlite
        .fresh(TEST)
        .unwrap_or_else(|e| panic!("{TEST}: a SQLite database: {e}"));
    let sqlite_store = Arc::clone(&sqlite_db.store);

    let shift = TimeShift::new();
    let client = Client::builder()
        .store(pg_store.clone())
        .store(sqlite_store.clone())
        .retry_seconds(RETRY_SECONDS)
        .time_shift(shift.clone())
        .build()
        .expect("client with two stores");
    // A second client on PostgreSQL alone, to put jobs there for certain.
    let pg_client = Client::builder()
        .store(pg_store.clone())
        .retry_seconds(RETRY_SECONDS)
        .time_shift(shift.clone())
        .build()
        .expect("client on PostgreSQL");
    let pg_hash = pg_client.store_hashes()[0].clone();
    let sqlite_hash = client
        .store_hashes()
        .into_iter()
        .find(|h| *h != pg_hash)
        .expect("the SQLite store's hash");
    assert_eq!(client.store_hashes().len(), 2);
    assert!(
        client.store_hashes().contains(&pg_hash),
        "same store, same hash in both clients"
    );

    let counts: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    {
        let counts = counts.clone();
        client
            .can_do(FUNC, move |job: &QueuedJob| -> Result<(), WorkError> {
                *counts
                    .lock()
                    .unwrap()
                    .entry(job.handle().to_string())
                    .or_insert(0) += 1;
                Ok(())
            })
            .expect("can_do");
    }
    let work_all = |what: &str| -> usize {
        let c = client.clone();
        bounded(what, STEP_TIMEOUT, move || c.work_until_done())
            .unwrap_or_else(|e| panic!("{what}: work_until_done failed: {e}"))
    };
    let mut inserted: Vec<JobHandle> = Vec::new();

    // 1. Both stores up: jobs on PostgreSQL for certain, and some anywhere.
    for i in 0..10 {
        let h = pg_client
            .insert(Job::new(FUNC).raw_arg(format!("pg-{i}")))
            .expect("insert on PostgreSQL");
        assert_eq!(h.store(), &pg_hash);
        inserted.push(h);
    }
    for i in 0..10 {
        inserted.push(
            client
                .insert(Job::new(FUNC).raw_arg(format!("any-{i}")))
                .expect("insert, both up"),
        );
    }
    let on_pg = |hs: &[JobHandle]| hs.iter().filter(|h| h.store() == &pg_hash).count();
    let pg_jobs_before = on_pg(&inserted);
    assert_eq!(
        pg_store.stats().expect("stats").jobs as usize,
        pg_jobs_before
    );

    // 2. PostgreSQL goes away.
    pg.stop().expect("stopping PostgreSQL");
    let started = Instant::now();
    match pg_store.server_time() {
        Err(Error::Unavailable { store, message }) => {
            eprintln!("PostgreSQL down, as expected: {store}: {message}");
            assert!(!store.contains("password"), "{store}");
        }
        other => panic!("the stopped PostgreSQL store: expected Error::Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "failing took {:?}",
        started.elapsed()
    );
    match pg_client.insert(Job::new(FUNC)) {
        Err(Error::Unavailable { .. } | Error::NoStore(_)) => {}
        other => panic!("insert with PostgreSQL as the only store while it is down: expected Unavailable or NoStore, got {other:?}"),
    }

    // Inserts go on, into SQLite.
    for i in 0..10 {
        let c = client.clone();
        let h = bounded("insert during the outage", STEP_TIMEOUT, move || {
            c.insert(Job::new(FUNC).raw_arg(format!("outage-{i}")))
        })
        .expect("insert while PostgreSQL is down must fail over to SQLite");
        assert_eq!(h.store(), &sqlite_hash, "job inserted during the outage");
        inserted.push(h);
    }
    // Work goes on, on SQLite; PostgreSQL is marked dead.
    let sqlite_jobs = inserted.len() - pg_jobs_before;
    let worked = work_all("work during the outage");
    assert_eq!(
        worked, sqlite_jobs,
        "jobs worked during the outage (all of SQLite's)"
    );
    assert!(
        client.is_dead(&pg_hash),
        "the client must mark PostgreSQL dead"
    );
    assert!(!client.is_dead(&sqlite_hash));
    assert_eq!(sqlite_store.stats().expect("stats").jobs, 0);
    {
        let counts = counts.lock().unwrap();
        for h in inserted.iter().filter(|h| h.store() == &pg_hash) {
            assert!(
                !counts.contains_key(&h.to_string()),
                "{h} on the stopped PostgreSQL was worked"
            );
        }
    }
    match client.server_time(&pg_hash) {
        Err(e) => eprintln!("client.server_time(PostgreSQL) during the outage: {e}"),
        Ok(t) => panic!("client.server_time of the stopped PostgreSQL returned {t}"),
    }

    // 3. PostgreSQL comes back; the client leaves it alone until retry_seconds have passed.
    pg.launch().expect("restarting PostgreSQL");
    assert_eq!(
        pg_store
            .stats()
            .expect("the store reconnects once the server is back")
            .jobs as usize,
        pg_jobs_before,
        "jobs on PostgreSQL survived the restart"
    );
    assert!(
        client.is_dead(&pg_hash),
        "still dead before retry_seconds have passed"
    );
    assert_eq!(
        work_all("work before the retry time"),
        0,
        "PostgreSQL is skipped while marked dead"
    );

    shift.advance(RETRY_SECONDS + Duration::from_secs(1));
    assert!(
        !client.is_dead(&pg_hash),
        "revived once retry_seconds have passed (by the time shift)"
    );
    let worked = work_all("work after the retry time");
    assert_eq!(
        worked, pg_jobs_before,
        "the jobs left on PostgreSQL get worked"
    );

    // And PostgreSQL takes new jobs again.
    let h = pg_client
        .insert(Job::new(FUNC).raw_arg("after"))
        .expect("insert on PostgreSQL after the restart");
    inserted.push(h);
    assert_eq!(work_all("work the last job"), 1);

    // 4. Every job worked exactly once; nothing pending anywhere.
    let counts = counts.lock().unwrap().clone();
    for h in &inserted {
        assert_eq!(
            counts.get(&h.to_string()),
            Some(&1),
            "job {h} worked {:?} times",
            counts.get(&h.to_string())
        );
        assert!(
            !client.is_pending(h).expect("is_pending"),
            "{h} still pending"
        );
    }
    assert_eq!(
        counts.len(),
        inserted.len(),
        "worked jobs nobody inserted: {counts:?}"
    );
    assert_eq!(pg_store.stats().expect("stats").jobs, 0);
    assert_eq!(sqlite_store.stats().expect("stats").jobs, 0);
    eprintln!(
        "failover: {} jobs ({} on PostgreSQL) each worked once",
        inserted.len(),
        on_pg(&inserted)
    );
}
