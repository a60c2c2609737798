//! Job results: recorded by a worker with its completion, in the same write and fenced on
//! the lease; read by handle and awaited; kept for the worker's `keep_result_for`, then
//! pruned. Stored in `schwartz_result`, which Perl TheSchwartz ignores.

use std::time::{Duration, Instant};

use schwartz_core::store::MAX_RESULT_BYTES;
use schwartz_core::{WorkError, Worker};

use super::common::*;

const FN: &str = "Worker::Reply";
const LEASE: u64 = 100;

/// A worker that replies with `{"sum": a + b}` and keeps its results for `keep` seconds.
struct Adder {
    keep: u64,
}

impl Worker for Adder {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: Numbers = job.arg()?;
        job.set_result(&serde_json::json!({ "sum": n.numbers.iter().sum::<i64>() }))?;
        Ok(())
    }
    fn keep_result_for(&self) -> Duration {
        secs(self.keep)
    }
    fn grab_for(&self) -> Duration {
        secs(LEASE)
    }
}

fn adder_client(ctx: &Ctx, keep: u64) -> (Client, Arc<dyn Store>) {
    let (c, s) = ctx.client1();
    c.can_do(FN, Adder { keep }).must("can_do");
    (c, s)
}

fn numbers(v: &[i64]) -> Job {
    job_with(
        FN,
        &Numbers {
            numbers: v.to_vec(),
        },
    )
}

fn sum_of(c: &Client, h: &JobHandle) -> Option<i64> {
    let r = c.job_result(h).must("job_result")?;
    let v: serde_json::Value = r.value().must("decoding the result");
    v["sum"].as_i64()
}

/// A worker's result is there once the job completed (and the job is gone).
fn result_recorded_with_completion(ctx: &Ctx) {
    let (c, _s) = adder_client(ctx, 3600);
    let h = ins(&c, numbers(&[1, 2, 39]));
    assert_eq!(sum_of(&c, &h), None, "a result before the job ran");
    assert!(work_once(&c));
    assert!(!pending(&c, &h));
    assert_eq!(sum_of(&c, &h), Some(42));
    let r = c.job_result(&h).must("job_result").expect("a result");
    assert_eq!(&r.handle, &h);
    assert!(r.delete_after > r.completed_at);
}

/// `completed_with_result` records and completes in one call; a typed result decodes.
fn completed_with_result_typed(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| Ok(job.completed_with_result(&feed())?)),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    let r = c.job_result(&h).must("job_result").expect("a result");
    assert_eq!(r.value::<Feed>().must("typed"), feed());
    assert_err!(r.value::<Vec<u8>>(), Error::InvalidInput(_));
}

/// A failing job, or one declined, writes no result even when one was set.
fn failure_writes_no_result(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| {
            job.set_result(&1)?;
            Err(werr("no"))
        }),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert!(c.job_result(&h).must("job_result").is_none());
    assert_eq!(failures(&c, &h), 1);
}

/// A worker whose lease was taken over cannot write its result: `LeaseLost`, and the new
/// owner's result stays.
fn stale_worker_cannot_write_result(ctx: &Ctx) {
    let s = ctx.store();
    let a = ctx.client(&[Arc::clone(&s)]);
    let b = ctx.client(&[Arc::clone(&s)]);
    for c in [&a, &b] {
        can_do(c, FN, TestWorker::ok().grab_for(LEASE));
    }
    let h = ins(&a, Job::new(FN));
    let old = grab(&a, FN).expect("A grabs");
    ctx.advance(LEASE + 1);
    let new = grab(&b, FN).expect("B grabs after the lease ran out");
    new.completed_with_result("new")
        .must("the new owner completes");
    assert_err!(old.completed_with_result("old"), Error::LeaseLost { .. });
    let r = a.job_result(&h).must("job_result").expect("a result");
    assert_eq!(r.value::<String>().must("a string"), "new");
}

/// The batched writer (the pool's completer) writes results with the completions, and
/// fences them: a lost lease writes neither.
fn batched_writer_writes_results(ctx: &Ctx) {
    let (c, s) = adder_client(ctx, 3600);
    let h1 = ins(&c, numbers(&[1, 1]));
    let h2 = ins(&c, numbers(&[2, 2]));
    let later = Collect::default();
    for _ in 0..2 {
        let j = grab(&c, FN).expect("grab");
        execute(j, &later, None).must("execute");
    }
    let applied = apply(later.take());
    assert!(applied.iter().all(|a| a.result.is_ok()), "{applied:?}");
    assert_eq!(sum_of(&c, &h1), Some(2));
    assert_eq!(sum_of(&c, &h2), Some(4));

    let h3 = ins(&c, numbers(&[3, 3]));
    let j = grab(&c, FN).expect("grab");
    execute(j, &later, None).must("execute");
    ctx.advance(LEASE + 1);
    let other = ctx.client(std::slice::from_ref(&s));
    can_do(&other, FN, TestWorker::ok().grab_for(LEASE));
    let _taken = grab(&other, FN).expect("another worker takes over");
    let applied = apply(later.take());
    assert_err!(
        applied.into_iter().next().expect("one").result,
        Error::LeaseLost { .. }
    );
    assert_eq!(sum_of(&c, &h3), None, "a stale batched write left a result");
}

/// A result over the limit is refused with a clear error, and the job still completes.
fn oversized_result_is_refused(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let seen_err = rec::<String>();
    let r = seen_err.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            let big = "x".repeat(MAX_RESULT_BYTES);
            match job.set_result(&big) {
                Err(e) => push(&r, e.to_string()),
                Ok(()) => push(&r, String::from("accepted")),
            }
            Ok(())
        }),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    let e = seen(&seen_err).pop().expect("one call");
    assert!(
        e.contains("bytes of JSON") && e.contains(&MAX_RESULT_BYTES.to_string()),
        "{e}"
    );
    assert!(!pending(&c, &h));
    assert!(c.job_result(&h).must("job_result").is_none());
}

/// Results are kept `keep_result_for`, then pruned.
fn results_pruned_after_keep(ctx: &Ctx) {
    let (c, _s) = adder_client(ctx, 100);
    let h = ins(&c, numbers(&[5]));
    assert!(work_once(&c));
    assert_eq!(
        c.prune_results(100).must("prune"),
        0,
        "pruned a fresh result"
    );
    assert_eq!(sum_of(&c, &h), Some(5));
    ctx.advance(200);
    assert_eq!(c.prune_results(100).must("prune"), 1);
    assert_eq!(sum_of(&c, &h), None);
}

/// `wait_result` returns the result once written (by another thread), `None` on timeout
/// while the job is pending, and `None` at once for a job gone without a result.
fn wait_result_wakes_and_times_out(ctx: &Ctx) {
    let (c, _s) = adder_client(ctx, 3600);
    let h = ins(&c, numbers(&[20, 22]));
    let t = Instant::now();
    assert!(c
        .wait_result(&h, Duration::from_millis(50))
        .must("wait")
        .is_none());
    assert!(t.elapsed() >= Duration::from_millis(50));
    let worker = c.clone();
    let th = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        worker.work_once()
    });
    let r = c.wait_result(&h, Duration::from_secs(30)).must("wait");
    assert!(th.join().expect("worker thread").must("work_once"));
    let v: serde_json::Value = r.expect("a result").value().must("json");
    assert_eq!(v["sum"], 42);

    can_do(&c, "Silent", TestWorker::ok());
    let quiet = ins(&c, Job::new("Silent"));
    assert!(work_once(&c));
    let t = Instant::now();
    assert!(c
        .wait_result(&quiet, Duration::from_secs(30))
        .must("wait")
        .is_none());
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "waited for a finished job"
    );
}

/// A store with result notifications (PostgreSQL's LISTEN/NOTIFY, the memory store) wakes
/// a listener when a result is written; one without them says so (`None`: waiters poll).
fn result_notifier_wakes_on_result(ctx: &Ctx) {
    let (c, s) = adder_client(ctx, 3600);
    let Some(mut n) = s.result_notifier().must("result_notifier") else {
        return;
    };
    assert!(
        !n.wait(Duration::from_millis(20)).must("wait"),
        "woken with no result"
    );
    ins(&c, numbers(&[1]));
    assert!(work_once(&c));
    assert!(
        n.wait(Duration::from_secs(10)).must("wait"),
        "not woken by a result"
    );
}

/// A result cannot go through another transaction's write (`QueuedJob::completed_with`,
/// `schwartz_diesel::complete_in`): refused, nothing written, the job still leased.
fn result_refused_outside_the_store(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    can_do(&c, FN, TestWorker::ok().grab_for(LEASE));
    let h = ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("grab");
    j.set_result(&7).must("set_result");
    let mut write = |items: &[schwartz_core::store::Finish]| s.finish(items);
    assert_err!(j.completed_with(&mut write), Error::InvalidInput(_));
    assert!(pending(&c, &h));
    assert!(c.job_result(&h).must("job_result").is_none());
}

cases!(
    "results";
    result_refused_outside_the_store,
    result_notifier_wakes_on_result,
    result_recorded_with_completion,
    completed_with_result_typed,
    failure_writes_no_result,
    stale_worker_cannot_write_result,
    batched_writer_writes_results,
    oversized_result_is_refused,
    results_pruned_after_keep,
    wait_result_wakes_and_times_out,
);
