//! Retries: `max_retries` attempts, `retry_delay` given the failure count, eligibility
//! during and after the delay, an operator's reschedule, and error pruning's effect on the
//! retry count.

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

const LOOP_FN: &str = "Worker::Retry";

fn recording_client(ctx: &Ctx) -> (Client, Arc<dyn Store>, Rec<JobId>) {
    let (c, s) = ctx.client1();
    let r = rec();
    let r2 = r.clone();
    can_do(
        &c,
        LOOP_FN,
        TestWorker::new(move |job| {
            push(&r2, job.jobid());
            job.completed()?;
            Ok(())
        }),
    );
    (c, s, r)
}

/// Operator `reschedule` (not fenced): the job runs at the new time.
fn operator_reschedule(ctx: &Ctx) {
    let (c, s, _r) = recording_client(ctx);
    let h = ins(&c, Job::new(LOOP_FN));
    let t = now(&c).timestamp() + 100;
    assert!(s.reschedule(h.jobid(), t).must("reschedule"));
    assert!(!work_once(&c), "rescheduled job ran early");
    ctx.advance(101);
    assert!(work_once(&c));
    assert!(!s.reschedule(h.jobid(), t).must("reschedule of a gone job"));
}

/// Error pruning resets the retry count (kept TheSchwartz semantics, B6): the counter is
/// the number of error rows.
fn error_pruning_resets_retry_count(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx
        .builder()
        .store(s)
        .error_max_age(secs(100))
        .build()
        .must("client");
    can_do(
        &c,
        LOOP_FN,
        TestWorker::new(|_| Err(werr("fails")))
            .max_retries(1)
            .retry_delay(|_| secs(500)),
    );
    can_do(&c, "Other", TestWorker::new(|_| Err(werr("other fails"))));
    let h = ins(&c, Job::new(LOOP_FN));
    assert!(work_once(&c));
    assert_eq!(failures(&c, &h), 1);
    ctx.advance(501);
    // Another job's failure prunes errors older than 100 s, i.e. ours.
    ins(&c, Job::new("Other"));
    let j = grab(&c, "Other").expect("other job");
    c.work_safely(j).must("work_safely");
    assert_eq!(failures(&c, &h), 0, "the old error row was not pruned");
    assert!(work_once(&c));
    assert!(
        pending(&c, &h),
        "with its error pruned the job got a fresh retry"
    );
}

cases!(
    "retry";
    first_attempt_fails_once,
    not_eligible_during_delay,
    eligible_after_delay,
    zero_delay_then_completes,
    retry_delay_gets_failure_count,
    empty_failure_message,
    max_retries_attempts,
    outcome_reports_retry,
    operator_reschedule,
    error_pruning_resets_retry_count,
);
