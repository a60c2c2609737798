//! `t/retry-delay.t` (spec 8.21): `retry_delay(failures)` postpones retries; the failure
//! count is the number of error rows; the last attempt completes.
//!
//! Upstream: retry_delay(1) = 2 s and a 3 s sleep. Scaled up here (100 s, the clock shift
//! moves 150 s) so a slow database's wall-clock time cannot change the outcome.

use super::common::*;

const FN: &str = "CompleteEventually";

fn client(ctx: &Ctx) -> (Client, Rec<u32>) {
    let (c, _s) = ctx.client1();
    let delays = rec();
    let d = delays.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| {
            if job.failures()? < 2 {
                job.failed("")?;
            } else {
                job.completed()?;
            }
            Ok(())
        })
        .max_retries(2)
        .keep(20)
        .retry_delay(move |n| {
            push(&d, n);
            if n == 1 {
                secs(100)
            } else {
                secs(0)
            }
        }),
    );
    (c, delays)
}

/// 1-2. One attempt, then nothing eligible; one failure.
fn first_attempt_fails_once(ctx: &Ctx) {
    let (c, _d) = client(ctx);
    let h = ins(&c, Job::new(FN));
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    assert_eq!(failures(&c, &h), 1);
    assert!(pending(&c, &h));
}

/// 3. Not grabbable during the delay.
fn not_eligible_during_delay(ctx: &Ctx) {
    let (c, _d) = client(ctx);
    ins(&c, Job::new(FN));
    c.work_until_done().must("work_until_done");
    assert!(grab(&c, FN).is_none(), "grabbed during retry delay");
    ctx.advance(50);
    assert!(
        grab(&c, FN).is_none(),
        "grabbed 50 s into a 100 s retry delay"
    );
}

/// 4-5. After the delay it is grabbed; the second attempt fails too (2 failures).
fn eligible_after_delay(ctx: &Ctx) {
    let (c, _d) = client(ctx);
    let h = ins(&c, Job::new(FN));
    c.work_until_done().must("work_until_done");
    ctx.advance(150);
    let j = grab(&c, FN).expect("not grabbable after the retry delay");
    c.work_safely(j).must("work_safely");
    assert_eq!(failures(&c, &h), 2);
}

/// 6-8. Zero delay: grabbable at once; third attempt completes with exit status 0.
fn zero_delay_then_completes(ctx: &Ctx) {
    let (c, _d) = client(ctx);
    let h = ins(&c, Job::new(FN));
    c.work_until_done().must("work_until_done");
    ctx.advance(150);
    let j = grab(&c, FN).expect("second attempt");
    c.work_safely(j).must("work_safely");
    let j = grab(&c, FN).expect("zero retry delay: grabbable at once");
    assert_eq!(c.work_safely(j).must("work_safely"), WorkOutcome::Completed);
    assert!(!pending(&c, &h));
    assert_eq!(exit_status(&c, &h), Some(0));
}

/// `retry_delay` receives the failure count including the current failure.
fn retry_delay_gets_failure_count(ctx: &Ctx) {
    let (c, d) = client(ctx);
    ins(&c, Job::new(FN));
    c.work_until_done().must("work_until_done");
    ctx.advance(150);
    c.work_until_done().must("work_until_done");
    assert_eq!(seen(&d), vec![1, 2]);
}

/// A failure without a message records an empty message.
fn empty_failure_message(ctx: &Ctx) {
    let (c, _d) = client(ctx);
    let h = ins(&c, Job::new(FN));
    c.work_until_done().must("work_until_done");
    assert_eq!(failure_log(&c, &h), vec![String::new()]);
}

/// max_retries k: a job that always fails is attempted k+1 times, then kept exit status 1.
fn max_retries_attempts(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let tries = Arc::new(AtomicUsize::new(0));
    let t = Arc::clone(&tries);
    can_do(
        &c,
        "AlwaysFails",
        TestWorker::new(move |_| {
            t.fetch_add(1, Ordering::SeqCst);
            Err(werr("nope"))
        })
        .max_retries(3)
        .keep(100),
    );
    let h = ins(&c, Job::new("AlwaysFails"));
    assert_eq!(c.work_until_done().must("work_until_done"), 4);
    assert_eq!(tries.load(Ordering::SeqCst), 4);
    assert_eq!(failures(&c, &h), 4);
    assert!(!pending(&c, &h));
    assert_eq!(exit_status(&c, &h), Some(1));
}

/// The retry outcome says whether a retry is left.
fn outcome_reports_retry(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "Fails",
        TestWorker::new(|_| Err(werr("x"))).max_retries(1),
    );
    ins(&c, Job::new("Fails"));
    let j = grab(&c, "Fails").expect("first");
    assert_eq!(
        c.work_safely(j).must("work_safely"),
        WorkOutcome::Failed { will_retry: true }
    );
    let j = grab(&c, "Fails").expect("retry");
    assert_eq!(
        c.work_safely(j).must("work_safely"),
        WorkOutcome::Failed { will_retry: false }
    );
    assert!(grab(&c, "Fails").is_none());
}

cases!("retry_delay";
    first_attempt_fails_once,
    not_eligible_during_delay,
    eligible_after_delay,
    zero_delay_then_completes,
    retry_delay_gets_failure_count,
    empty_failure_message,
    max_retries_attempts,
    outcome_reports_retry,
);
