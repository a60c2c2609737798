//! Periodic jobs in worker pools, on every reachable store: several pools (separate
//! clients, as on separate hosts) run the same schedule; every tick is inserted once and
//! none is missed. Time moves through a shared clock shift instead of sleeping.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{dbs, rows, wait_for};
use schwartz_core::testing::TimeShift;
use schwartz_core::{
    datetime_to_epoch, Client, Job, Missed, Pruning, QueuedJob, Schedule, WorkError,
};
use schwartz_worker::WorkerPool;

const FN: &str = "tick";

fn every_second() -> Schedule {
    Schedule::new("every-second", "* * * * * *", Job::new(FN))
        .unwrap()
        .missed(Missed::RunLast)
        .grace(Duration::from_secs(3600))
}

#[test]
fn racing_pools_insert_each_tick_once() {
    for db in dbs("sched_race") {
        let shift = TimeShift::new();
        let ran: Arc<Mutex<Vec<i64>>> = Arc::default();
        let mut pools = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..3 {
            let client = Client::builder()
                .store(db.reopen())
                .pruning(Pruning::Off)
                .time_shift(shift.clone())
                .build()
                .unwrap();
            let seen = Arc::clone(&ran);
            client
                .can_do(FN, move |job: &QueuedJob| -> Result<(), WorkError> {
                    seen.lock()
                        .unwrap()
                        .push(datetime_to_epoch(job.run_after()));
                    Ok(())
                })
                .unwrap();
            clients.push(client.clone());
            let pool = WorkerPool::builder(client)
                .threads(2)
                .poll_interval(Duration::from_millis(50))
                .schedule(every_second())
                .build()
                .unwrap();
            pools.push(pool.spawn().unwrap());
        }
        let t0 = clients[0]
            .register_schedule(&every_second())
            .unwrap()
            .last_tick;
        for _ in 0..10 {
            shift.advance(Duration::from_secs(3));
            std::thread::sleep(Duration::from_millis(300));
        }
        // Every pool inserts up to its clock: wait for the last tick to be recorded.
        let target = clients[0].now(&clients[0].store_hashes()[0]).unwrap();
        let last = || db.store.schedules().unwrap()[0].last_tick;
        assert!(
            wait_for(Duration::from_secs(20), || last() >= target),
            "{}: ticks stopped at {} (target {target})",
            db.name,
            last()
        );
        let ran_all = || ran.lock().unwrap().len() + rows(&db.store, FN).len();
        let last_v = last();
        let want: Vec<i64> = {
            let spec = every_second();
            let mut v = Vec::new();
            let mut t = t0;
            while let Some(n) = spec.cron().next_after(t).filter(|n| *n <= last_v) {
                v.push(n);
                t = n;
            }
            v
        };
        assert!(want.len() >= 30, "{}: {} ticks", db.name, want.len());
        assert!(
            wait_for(Duration::from_secs(20), || ran_all() >= want.len()),
            "{}: {} of {} ticks ran",
            db.name,
            ran_all(),
            want.len()
        );
        for p in pools {
            p.shutdown().unwrap();
        }
        let mut got: Vec<i64> = ran.lock().unwrap().clone();
        got.extend(rows(&db.store, FN).iter().map(|r| r.run_after));
        got.sort_unstable();
        let distinct: BTreeSet<i64> = got.iter().copied().collect();
        assert_eq!(distinct.len(), got.len(), "{}: a tick ran twice", db.name);
        let upto: Vec<i64> = got
            .iter()
            .copied()
            .filter(|t| *t <= *want.last().unwrap())
            .collect();
        assert_eq!(upto, want, "{}: ticks missing", db.name);
    }
}

#[test]
fn pool_refuses_two_schedules_with_one_name() {
    let client = Client::builder()
        .store(Arc::new(schwartz_memory::MemoryStore::new()))
        .build()
        .unwrap();
    client.can_do(FN, |_: &QueuedJob| Ok(())).unwrap();
    let e = WorkerPool::builder(client)
        .schedule(every_second())
        .schedule(every_second())
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("every-second"), "{e}");
}
