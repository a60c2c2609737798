//! Does a long drain keep its speed? Bulk-loads N jobs (default 1,000,000) with `insert_jobs`
//! batches of 1,000, then drains them from T threads (default 2), each looping
//! `grab_skip_locked` of B jobs (default 500) + one batched `finish`, and prints the rate of
//! every 100,000 jobs and the mean grab and finish times:
//! `cargo run --release -p schwartz-diesel --all-features --example long_drain -- URL [N] [T] [B]`.
//! The URL's database should be new and empty (it is migrated here); jobs of a function named
//! `long_drain` are inserted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use schwartz_core::store::{Finish, FinishAction, FinishStatus, JobQuery, Lease, NewJobRow, Store};
use schwartz_diesel::DieselStore;

const STEP: u64 = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: long_drain URL [N] [THREADS] [BATCH]")?;
    let mut num = |d: u64| -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        Ok(args.next().map(|s| s.parse()).transpose()?.unwrap_or(d))
    };
    let n = num(1_000_000)?;
    let threads = num(2)?;
    let batch = num(500)? as usize;
    let store = Arc::new(DieselStore::connect(&url)?);
    store.run_migrations()?;
    let f = store.funcid("long_drain")?;
    let now = store.server_time()?;
    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let rows: Vec<NewJobRow> = (i..end)
            .map(|k| NewJobRow {
                jobid: None,
                funcid: f,
                arg: Some(k.to_le_bytes().to_vec()),
                uniqkey: None,
                insert_time: now,
                run_after: now,
                grabbed_until: 0,
                priority: None,
                coalesce: None,
            })
            .collect();
        store.insert_jobs(&rows)?;
        i = end;
    }
    let s = t.elapsed().as_secs_f64();
    println!("inserted {n} in {s:.2}s = {:.0}/s", n as f64 / s);

    let done = Arc::new(AtomicU64::new(0));
    // (jobs, grab seconds, finish seconds, grabs) since the last report, and its start.
    let window = Arc::new(Mutex::new((0u64, 0f64, 0f64, 0u64, Instant::now(), 0u64)));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            let window = Arc::clone(&window);
            std::thread::spawn(move || -> Result<(), schwartz_core::Error> {
                loop {
                    let t0 = Instant::now();
                    let now = store.server_time()?;
                    let q = JobQuery::eligible(vec![f], now, batch);
                    let lease = [Lease { funcid: f, grab_for: 300 }];
                    let rows = store
                        .grab_skip_locked(&q, &lease, now)?
                        .expect("this example needs SKIP LOCKED");
                    let grab = t0.elapsed().as_secs_f64();
                    if rows.is_empty() {
                        return Ok(());
                    }
                    let t1 = Instant::now();
                    let items: Vec<Finish> = rows
                        .iter()
                        .map(|r| Finish {
                            jobid: r.jobid,
                            funcid: r.funcid,
                            token: r.grabbed_until,
                            failure: None,
                            action: FinishAction::Remove { exit_status: None },
                        })
                        .collect();
                    for st in store.finish(&items)? {
                        assert!(matches!(st, FinishStatus::Done), "{st:?}");
                    }
                    let fin = t1.elapsed().as_secs_f64();
                    let total = done.fetch_add(rows.len() as u64, Ordering::Relaxed)
                        + rows.len() as u64;
                    let mut w = window.lock().unwrap();
                    w.0 += rows.len() as u64;
                    w.1 += grab;
                    w.2 += fin;
                    w.3 += 1;
                    if total / STEP > w.5 / STEP || total == n {
                        let secs = w.4.elapsed().as_secs_f64();
                        println!(
                            "{:>8} done: {:>7.0} jobs/s over the last {:>6} (grab {:>6.2} ms, finish {:>6.2} ms, {} grabs)",
                            total,
                            w.0 as f64 / secs,
                            w.0,
                            w.1 * 1000.0 / w.3 as f64,
                            w.2 * 1000.0 / w.3 as f64,
                            w.3
                        );
                        *w = (0, 0.0, 0.0, 0, Instant::now(), total);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker panicked")?;
    }
    let s = start.elapsed().as_secs_f64();
    let total = done.load(Ordering::Relaxed);
    println!("drained {total} in {s:.2}s = {:.0}/s", total as f64 / s);
    assert_eq!(total, n, "every job drained once");
    assert_eq!(store.stats()?.jobs, 0);
    Ok(())
}
