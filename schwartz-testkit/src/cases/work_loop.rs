//! The work loop: `work_until_done`, `work` stopped by a stop signal (also while
//! sleeping), and deferred completions.

use std::time::{Duration, Instant};

use super::common::*;
use schwartz_core::StopSignal;

const FN: &str = "Worker::WorkLoop";

fn recording_client(ctx: &Ctx) -> (Client, Arc<dyn Store>, Rec<JobId>) {
    let (c, s) = ctx.client1();
    let r = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r2, job.jobid());
            job.completed()?;
            Ok(())
        }),
    );
    (c, s, r)
}

/// `work_until_done` returns how many jobs it worked; zero when there are none.
fn work_until_done_count(ctx: &Ctx) {
    let (c, _s, r) = recording_client(ctx);
    assert_eq!(c.work_until_done().must("work_until_done"), 0);
    for _ in 0..7 {
        ins(&c, Job::new(FN));
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 7);
    assert_eq!(seen(&r).len(), 7);
}

/// `work(delay, stop)`: works what there is, sleeps, and returns once stopped.
fn work_loop_stops(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let stop = StopSignal::new();
    let count = Arc::new(AtomicUsize::new(0));
    let (st, n) = (stop.clone(), Arc::clone(&count));
    can_do(
        &c,
        FN,
        TestWorker::new(move |_| {
            if n.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                st.stop();
            }
            Ok(())
        }),
    );
    for _ in 0..3 {
        ins(&c, Job::new(FN));
    }
    let t0 = Instant::now();
    c.work(Duration::from_secs(3600), &stop).must("work");
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "work did not return promptly after stop"
    );
}

/// `work` sleeping for an hour (nothing left to do) wakes at once when stopped from
/// another thread.
fn work_sleep_woken_by_stop(ctx: &Ctx) {
    let (c, _s, r) = recording_client(ctx);
    ins(&c, Job::new(FN));
    let stop = StopSignal::new();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            c.work(Duration::from_secs(3600), &stop)
                .map_err(|e| e.to_string())
        });
        // Wait until the job was done: the loop then sleeps (3600 s); stop it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen(&r).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.stop();
        h.join().expect("work thread").must("work");
    });
    assert_eq!(seen(&r).len(), 1, "work did not work the pending job");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "work's sleep was not cut short by stop"
    );
}

/// `executor::execute` with a writer that keeps outcomes, then `outcome::apply`:
/// completions written later, in one batch.
fn deferred_completions(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, FN, TestWorker::ok().keep(100));
    let hs: Vec<JobHandle> = (0..3).map(|_| ins(&c, Job::new(FN))).collect();
    let later = Collect::default();
    for _ in 0..3 {
        let j = grab(&c, FN).expect("grab");
        let outcome = execute(j, &later, None).must("execute");
        assert_eq!(outcome, WorkOutcome::Completed);
    }
    let deferred = later.take();
    assert_eq!(
        deferred.len(),
        3,
        "every plain Ok completion is kept for later"
    );
    assert!(
        hs.iter().all(|h| pending(&c, h)),
        "deferred completions were written early"
    );
    let results = apply(deferred);
    assert_eq!(results.len(), 3);
    for r in results {
        assert_eq!(r.kind, WorkOutcome::Completed);
        r.result.must("a deferred completion");
        assert!(!pending(&c, &r.handle));
        assert_eq!(exit_status(&c, &r.handle), Some(0));
    }
}

cases!(
    "work_loop";
    work_until_done_count,
    work_loop_stops,
    work_sleep_woken_by_stop,
    deferred_completions,
);
