//! Rough throughput check of `MemoryStore`: insert jobs, then drain them with batch grabs
//! and batch completions from several threads. Run with
//! `cargo run --release -p schwartz-memory --example drain -- [jobs] [threads] [batch] [ahead]`.
//!
//! With `ahead`, each thread grabs that many jobs ahead of those it completes (as a worker
//! pool does), so the oldest jobs of the queue are leased while others are grabbed: the
//! grabs' cost should not depend on it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use schwartz_core::store::{Finish, FinishAction, JobQuery, Lease, NewJobRow, Store};
use schwartz_memory::{ManualClock, MemoryStore};

fn main() -> schwartz_core::Result<()> {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().unwrap_or(0));
    let jobs = args.next().filter(|&n| n > 0).unwrap_or(1_000_000);
    let threads = args.next().filter(|&n| n > 0).unwrap_or(2);
    let batch = args.next().filter(|&n| n > 0).unwrap_or(64);
    let ahead = args.next().unwrap_or(0);

    let now = 1_000_000;
    let store = Arc::new(MemoryStore::named("bench").with_clock(Arc::new(ManualClock::new(now))));
    let funcs = [store.funcid("a")?, store.funcid("b")?];

    let started = Instant::now();
    let rows: Vec<NewJobRow> = (0..jobs)
        .map(|i| NewJobRow {
            jobid: None,
            funcid: funcs[i % 2],
            arg: Some(vec![0; 16]),
            uniqkey: None,
            insert_time: now,
            run_after: now,
            grabbed_until: 0,
            priority: None,
            coalesce: None,
        })
        .collect();
    for chunk in rows.chunks(1000) {
        store.insert_jobs(chunk)?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "insert: {jobs} jobs in {secs:.3}s = {:.0} jobs/s",
        jobs as f64 / secs
    );

    let leases: Vec<Lease> = funcs
        .iter()
        .map(|&funcid| Lease {
            funcid,
            grab_for: 60,
        })
        .collect();
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let store = Arc::clone(&store);
            let leases = leases.clone();
            std::thread::spawn(move || -> schwartz_core::Result<usize> {
                let mut done = 0;
                let mut held: VecDeque<Finish> = VecDeque::new();
                loop {
                    let query = JobQuery::eligible(funcs.to_vec(), now, batch);
                    let rows = store
                        .grab_skip_locked(&query, &leases, now)?
                        .unwrap_or_default();
                    let last = rows.is_empty();
                    held.extend(rows.iter().map(|r| Finish {
                        jobid: r.jobid,
                        funcid: r.funcid,
                        token: r.grabbed_until,
                        failure: None,
                        action: FinishAction::Remove { exit_status: None },
                    }));
                    let keep = if last { 0 } else { ahead };
                    while held.len() > keep {
                        let n = (held.len() - keep).min(batch);
                        let items: Vec<Finish> = held.drain(..n).collect();
                        done += store.finish(&items)?.len();
                    }
                    if last {
                        return Ok(done);
                    }
                }
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        total += w.join().expect("worker thread")?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "drain: {total} jobs in {secs:.3}s = {:.0} jobs/s ({threads} threads, batch {batch}, \
         {ahead} ahead)",
        total as f64 / secs
    );
    Ok(())
}
