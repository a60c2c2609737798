//! A job with a 1 s lease that runs 10 s, with automatic lease extension, on a pool of two
//! threads: it must run exactly once and complete (the other thread must never take it
//! over).

use std::sync::Arc;
use std::time::Duration;

use schwartz_core::Job;
use schwartz_worker::{LeaseExtension, WorkerPool};

use super::{backends, client, figures, left_and_leased, serial, wait_for, Recorder, Tally, FUNC};

#[test]
fn short_lease_long_job() {
    let test = "short_lease_long_job";
    let _serial = serial();
    for b in backends(test, true) {
        let client = client(vec![Arc::clone(&b.store)]);
        let tally = Arc::new(Tally::default());
        client
            .can_do(
                FUNC,
                Recorder {
                    tally: Arc::clone(&tally),
                    sleep: Duration::from_secs(10),
                    grab_for: Duration::from_secs(1),
                },
            )
            .expect("can_do");
        client
            .insert(Job::new(FUNC).arg(&0u64).expect("job"))
            .expect("insert");
        let pool = WorkerPool::builder(client.clone())
            .threads(2)
            .poll_interval(Duration::from_millis(100))
            .lease_extension(LeaseExtension::Auto)
            .shutdown_grace(Duration::from_secs(12))
            .build()
            .expect("pool")
            .spawn()
            .expect("spawn");
        let done = wait_for(Duration::from_secs(30), || left_and_leased(&b.store).0 == 0);
        let summary = pool.shutdown().expect("shutdown");
        eprintln!("{test} on {}: {summary:?}", b.name);
        let (left, _) = left_and_leased(&b.store);
        let runs = tally.runs_of(0);
        figures(
            test,
            b.name,
            usize::from(runs == 0 && left == 0),
            tally.twice(),
            left,
            None,
            &[],
        );
        assert!(
            done,
            "{test} on {}: the job was not completed within 30 s",
            b.name
        );
        assert_eq!(runs, 1, "{test} on {}: ran {runs} times", b.name);
        assert_eq!(summary.completed, 1, "{test} on {}", b.name);
    }
}
