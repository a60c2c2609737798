//! The pool's `metrics` events, counted by a recorder installed for this test process,
//! against the jobs it ran and its own summary.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use schwartz_core::{Client, Job, QueuedJob, WorkError, Worker};
use schwartz_memory::MemoryStore;
use schwartz_worker::metrics as names;
use schwartz_worker::WorkerPool;

/// Fails each job once, then completes it.
struct FlakyOnce(Mutex<HashSet<u64>>);

impl Worker for FlakyOnce {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        if self.0.lock().unwrap().insert(n) {
            return Err(format!("first attempt of {n}").into());
        }
        Ok(())
    }
    fn max_retries(&self, _: &QueuedJob) -> u32 {
        1
    }
}

/// (metric name, sorted labels) -> value.
type Seen = HashMap<(String, Vec<(String, String)>), DebugValue>;

fn counter(seen: &Seen, name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    match seen.get(&(name.to_string(), want)) {
        Some(DebugValue::Counter(n)) => *n,
        Some(other) => panic!("{name} {labels:?} is not a counter: {other:?}"),
        None => 0,
    }
}

fn histogram_len(seen: &Seen, name: &str, labels: &[(&str, &str)]) -> usize {
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    match seen.get(&(name.to_string(), want)) {
        Some(DebugValue::Histogram(v)) => v.len(),
        Some(other) => panic!("{name} {labels:?} is not a histogram: {other:?}"),
        None => 0,
    }
}

#[test]
fn a_pool_reports_every_job_it_ran() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this process");

    let store = Arc::new(MemoryStore::new());
    let client = Client::builder().store(store as _).build().unwrap();
    client.can_do("ok", |_: &QueuedJob| Ok(())).unwrap();
    client
        .can_do("flaky", FlakyOnce(Mutex::new(HashSet::new())))
        .unwrap();
    client
        .can_do("boom", |_: &QueuedJob| -> Result<(), WorkError> {
            panic!("boom")
        })
        .unwrap();
    client
        .can_do("shy", |job: &QueuedJob| -> Result<(), WorkError> {
            job.declined()?;
            Ok(())
        })
        .unwrap();
    let mut jobs = Vec::new();
    for n in 0..50u64 {
        jobs.push(Job::new("ok").arg(&n).unwrap());
    }
    for n in 0..20u64 {
        jobs.push(Job::new("flaky").arg(&n).unwrap());
    }
    for n in 0..7u64 {
        jobs.push(Job::new("boom").arg(&n).unwrap());
    }
    client.insert_jobs(jobs).unwrap();
    let summary = WorkerPool::builder(client.clone())
        .threads(3)
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap()
        .run_until_done()
        .unwrap();
    // Declined jobs are left for later: run them in a second pool after the first is done
    // (a declined job is not grabbable again at once).
    let shy: Vec<Job> = (0..5u64)
        .map(|n| Job::new("shy").arg(&n).unwrap())
        .collect();
    client.insert_jobs(shy).unwrap();
    let summary2 = WorkerPool::builder(client.clone())
        .threads(2)
        .build()
        .unwrap()
        .run_until_done()
        .unwrap();

    let seen: Seen = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            labels.sort();
            ((key.name().to_string(), labels), value)
        })
        .collect();

    let jobs = |f: &str, o: &str| counter(&seen, names::JOBS, &[("funcname", f), ("outcome", o)]);
    assert_eq!(jobs("ok", "completed"), 50);
    assert_eq!(jobs("flaky", "retried"), 20);
    assert_eq!(jobs("flaky", "completed"), 20);
    assert_eq!(jobs("boom", "failed"), 7);
    assert_eq!(jobs("shy", "declined"), 5);
    assert_eq!(
        counter(&seen, names::JOBS_PANICKED, &[("funcname", "boom")]),
        7
    );
    assert_eq!(
        counter(&seen, names::JOBS_PANICKED, &[("funcname", "ok")]),
        0
    );
    // The counters agree with the pools' own summaries.
    let all: u64 = ["ok", "flaky", "boom", "shy"]
        .iter()
        .flat_map(|f| {
            [
                "completed",
                "failed",
                "retried",
                "declined",
                "replaced",
                "lease_lost",
            ]
            .map(|o| jobs(f, o))
        })
        .sum();
    assert_eq!(all, summary.worked() + summary2.worked());
    assert_eq!(summary.completed, 70, "{summary}");
    // One duration per job run: 50 + 40 + 7 + 5.
    let durations: usize = ["ok", "flaky", "boom", "shy"]
        .iter()
        .map(|f| histogram_len(&seen, names::JOB_DURATION, &[("funcname", f)]))
        .sum();
    assert_eq!(durations, 102);
    assert_eq!(
        histogram_len(&seen, names::JOB_DURATION, &[("funcname", "flaky")]),
        40
    );
    // Every job run was grabbed; every grab was timed.
    assert_eq!(counter(&seen, names::JOBS_GRABBED, &[]), 102);
    assert!(histogram_len(&seen, names::GRAB_DURATION, &[]) >= 2);
    assert_eq!(
        counter(&seen, names::STORE_ERRORS, &[("operation", "outcome")]),
        0
    );
    assert_eq!(
        counter(&seen, names::STORE_ERRORS, &[("operation", "grab")]),
        0
    );
}
