//! Two stores, one of them a server that stops answering (SIGSTOP for 12 s): inserts move to
//! the healthy store after at most the call timeout (5 s by default), and the pool keeps
//! working the healthy store's jobs meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schwartz_core::Job;
use schwartz_worker::WorkerPool;

use super::servers::Kind;
use super::{client, figures, left_and_leased, private, serial, store, wait_for};
use super::{Recorder, Tally, FUNC};

const HANG: Duration = Duration::from_secs(12);

fn hung_server(kind: Kind) {
    let test = format!("hung_{}_with_two_stores", kind.name());
    let _serial = serial();
    let Some(server) = private(&test, kind) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let healthy = store(&format!(
        "sqlite://{}",
        dir.path().join("jobs.db").display()
    ));
    let hung = store(&server.url());
    let client = client(vec![Arc::clone(&hung), Arc::clone(&healthy)]);
    let tally = Arc::new(Tally::default());
    client
        .can_do(
            FUNC,
            Recorder {
                tally: Arc::clone(&tally),
                sleep: Duration::from_millis(2),
                grab_for: Duration::from_secs(60),
            },
        )
        .expect("can_do");
    let pool = WorkerPool::builder(client.clone())
        .threads(2)
        .shutdown_grace(Duration::from_secs(5))
        .build()
        .expect("pool")
        .spawn()
        .expect("spawn");

    // One thread inserts a job every 20 ms and records how long each insert took.
    let stop = Arc::new(AtomicBool::new(false));
    let inserted = Arc::new(AtomicU64::new(0));
    let latencies: Arc<Mutex<Vec<(Instant, Duration, bool)>>> = Arc::default();
    let inserter = {
        let (client, stop, inserted, latencies) = (
            client.clone(),
            Arc::clone(&stop),
            Arc::clone(&inserted),
            Arc::clone(&latencies),
        );
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = client.insert(Job::new(FUNC).arg(&n).expect("job")).is_ok();
                if ok {
                    inserted.fetch_add(1, Ordering::Relaxed);
                }
                latencies.lock().unwrap().push((t, t.elapsed(), ok));
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let hang_start = Instant::now();
    server.hang();
    std::thread::sleep(HANG);
    server.resume();
    let hang_end = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    inserter.join().expect("inserter");
    let total = inserted.load(Ordering::Relaxed);
    let drained = wait_for(Duration::from_secs(120), || {
        tally.distinct() as u64 >= total
    });
    let summary = pool.shutdown().expect("shutdown");
    eprintln!("{test}: {summary:?}");

    let lat = latencies.lock().unwrap().clone();
    let failed = lat.iter().filter(|(_, _, ok)| !ok).count();
    let worst = lat.iter().map(|(_, d, _)| *d).max().unwrap_or_default();
    let during = lat
        .iter()
        .filter(|(t, _, ok)| *ok && *t >= hang_start && *t < hang_end)
        .count();
    let ran_during = tally.runs_between(hang_start, hang_end);
    let left = left_and_leased(&healthy).0 + left_and_leased(&hung).0;
    let lost = (total as usize).saturating_sub(tally.distinct() + left);
    eprintln!(
        "{test}: {} inserts, {failed} failed, {during} during the hang, slowest {worst:?}; \
         {ran_during} jobs run during the hang",
        lat.len()
    );
    figures(
        &test,
        kind.name(),
        lost,
        tally.twice(),
        left,
        None,
        &[worst],
    );
    assert_eq!(
        failed, 0,
        "{test}: inserts failed instead of moving to the healthy store"
    );
    assert!(
        worst < Duration::from_secs(10),
        "{test}: an insert waited {worst:?} on the hung server (call timeout: 5 s)"
    );
    assert!(
        during > 0,
        "{test}: no insert succeeded while the server hung"
    );
    assert!(
        ran_during > 0,
        "{test}: the pool ran no job while one store hung"
    );
    assert!(
        drained,
        "{test}: jobs not worked after the server came back"
    );
    assert_eq!(lost, 0, "{test}: jobs lost");
}

#[test]
fn hung_postgres_with_two_stores() {
    hung_server(Kind::Postgres);
}

#[test]
fn hung_mariadb_with_two_stores() {
    hung_server(Kind::Mariadb);
}
