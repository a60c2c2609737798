//! Outcomes of work: completion, failure with its error text (including panics and
//! arguments that do not decode), permanent failure, the job charged when a worker fails
//! several, exit statuses (kept, upserted, pruned) and the error log's retention.

use super::common::*;
use schwartz_core::Pruning;

const FN: &str = "Worker::Fail";

enum Death {
    Error,
    Panic,
}

fn run(ctx: &Ctx, death: Death) -> (Client, JobHandle, JobHandle) {
    let (c, _s) = ctx.client1();
    let weak = c.downgrade();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            job.completed()?;
            let second = weak
                .upgrade()
                .ok_or_else(|| werr("the client is gone"))?
                .find_job_with_coalescing_prefix(FN, "a2")?
                .ok_or_else(|| werr("the second job was not found"))?;
            second.set_as_current();
            match death {
                Death::Error => Err(werr("dying after switching jobs")),
                Death::Panic => panic!("dying after switching jobs"),
            }
        })
        .keep(20)
        .grab_for(10)
        .max_retries(1)
        .retry_delay(|_| secs(10)),
    );
    let h1 = ins(&c, Job::new(FN).coalesce("a1"));
    let h2 = ins(&c, Job::new(FN).coalesce("a2"));
    let j1 = c
        .find_job_with_coalescing_prefix(FN, "a1")
        .must("find")
        .expect("job 1");
    assert_eq!(j1.handle(), &h1);
    c.work_safely(j1).must("work_safely");
    (c, h1, h2)
}

/// job1 has no failure (it was completed), job2 has one.
fn failure_charged_to_current_job(ctx: &Ctx) {
    let (c, h1, h2) = run(ctx, Death::Error);
    assert_eq!(
        failures(&c, &h1),
        0,
        "the failure was charged to the first job"
    );
    assert_eq!(
        failures(&c, &h2),
        1,
        "the failure was not charged to the current job"
    );
    assert_eq!(
        failure_log(&c, &h2),
        vec!["dying after switching jobs".to_string()]
    );
}

/// job1 is completed (exit status 0), job2 waits for its retry.
fn first_completed_second_retried(ctx: &Ctx) {
    let (c, h1, h2) = run(ctx, Death::Error);
    assert!(!pending(&c, &h1));
    assert_eq!(exit_status(&c, &h1), Some(0));
    assert!(
        pending(&c, &h2),
        "with max_retries 1 the second job is retried"
    );
    let j2 = lookup(&c, &h2);
    assert_eq!(
        j2.grabbed_until().timestamp(),
        0,
        "the failed job was not released"
    );
    assert!(j2.run_after() > now(&c), "retry_delay 10 not applied");
}

/// The same with a panic instead of an error.
fn panic_charged_to_current_job(ctx: &Ctx) {
    let (c, h1, h2) = run(ctx, Death::Panic);
    assert_eq!(failures(&c, &h1), 0);
    assert_eq!(failures(&c, &h2), 1);
    let log = failure_log(&c, &h2);
    assert!(
        log[0].contains("dying after switching jobs"),
        "panic message not recorded: {log:?}"
    );
}

/// `current_job` during `work` is the job being worked.
fn current_job_during_work(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let seen_ids: Rec<Option<JobId>> = rec();
    let r = seen_ids.clone();
    let weak = c.downgrade();
    can_do(
        &c,
        FN,
        TestWorker::new(move |_job| {
            let c = weak.upgrade().ok_or_else(|| werr("the client is gone"))?;
            push(&r, c.current_job().map(|j| j.jobid()));
            Ok(())
        }),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert_eq!(seen(&seen_ids), vec![Some(h.jobid())]);
}

const LOOP_FN: &str = "Worker::Outcomes";

/// `permanent_failure_with_status(msg, 7)`: no retry despite max_retries; status 7 kept.
fn permanent_failure_explicit_status(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        LOOP_FN,
        TestWorker::new(|job| Ok(job.permanent_failure_with_status("gave up", 7)?))
            .max_retries(5)
            .keep(100),
    );
    let h = ins(&c, Job::new(LOOP_FN));
    assert!(work_once(&c));
    assert!(!pending(&c, &h), "a permanent failure was retried");
    assert_eq!(exit_status(&c, &h), Some(7));
    assert_eq!(failure_log(&c, &h), vec!["gave up".to_string()]);
}

/// `permanent_failure(msg)`: exit status 1; a given 0 also counts as 1.
fn permanent_failure_default_status(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "P1",
        TestWorker::new(|job| Ok(job.permanent_failure("bad")?)).keep(100),
    );
    can_do(
        &c,
        "P0",
        TestWorker::new(|job| Ok(job.permanent_failure_with_status("bad", 0)?)).keep(100),
    );
    let h1 = ins(&c, Job::new("P1"));
    let h0 = ins(&c, Job::new("P0"));
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    assert_eq!(exit_status(&c, &h1), Some(1));
    assert_eq!(
        exit_status(&c, &h0),
        Some(1),
        "exit status 0 for a failure must count as 1"
    );
}

/// `failed_with_status`: the status is kept only when no retry is left.
fn failed_with_status_final_only(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        LOOP_FN,
        TestWorker::new(|job| Ok(job.failed_with_status("no", 9)?))
            .max_retries(1)
            .keep(100),
    );
    let h = ins(&c, Job::new(LOOP_FN));
    assert!(work_once(&c));
    assert_eq!(
        exit_status(&c, &h),
        None,
        "an exit status was written although a retry is left"
    );
    assert!(work_once(&c));
    assert_eq!(exit_status(&c, &h), Some(9));
    assert_eq!(failures(&c, &h), 2);
}

/// Without `keep_exit_status_for` no exit status row is written.
fn no_exit_status_without_keep(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    can_do(&c, LOOP_FN, TestWorker::completing());
    can_do(&c, "F", TestWorker::new(|_| Err(werr("x"))));
    let h = ins(&c, Job::new(LOOP_FN));
    let hf = ins(&c, Job::new("F"));
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    assert_eq!(exit_status(&c, &h), None);
    assert_eq!(exit_status(&c, &hf), None);
    assert_eq!(stats(&s).exit_statuses, 0);
}

const DIV: &str = "Worker::Division";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Division {
    n: i64,
    d: i64,
}

fn division_client(ctx: &Ctx, panicking: bool) -> Client {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        DIV,
        TestWorker::new(move |job| {
            let a: Division = job.arg()?;
            let q = if panicking {
                // Real integer division: panics "attempt to divide by zero".
                a.n / a.d
            } else {
                a.n.checked_div(a.d)
                    .ok_or_else(|| werr("Illegal division by zero"))?
            };
            let _ = q;
            job.completed()?;
            Ok(())
        })
        .keep(20)
        .grab_for(10)
        .max_retries(1)
        .retry_delay(|n| secs(2u64.pow(n))),
    );
    c
}

/// 24-26. A worker failing with "Illegal division by zero": one failure, in the log.
fn division_by_zero_error_recorded(ctx: &Ctx) {
    let c = division_client(ctx, false);
    let h = ins(&c, job_with(DIV, &Division { n: 5, d: 0 }));
    let j = grab(&c, DIV).expect("grab_job");
    let outcome = c.work_safely(j).must("work_safely");
    assert_eq!(outcome, WorkOutcome::Failed { will_retry: true });
    assert_eq!(failures(&c, &h), 1);
    let log = failure_log(&c, &h).join("\n");
    assert!(log.contains("Illegal division by zero"), "log: {log:?}");
}

/// The same with a real panic (Rust's "attempt to divide by zero").
fn division_by_zero_panic_recorded(ctx: &Ctx) {
    let c = division_client(ctx, true);
    let h = ins(&c, job_with(DIV, &Division { n: 5, d: 0 }));
    let j = grab(&c, DIV).expect("grab_job");
    let outcome = c
        .work_safely(j)
        .must("work_safely must not propagate the panic");
    assert_eq!(outcome, WorkOutcome::Failed { will_retry: true });
    assert_eq!(failures(&c, &h), 1);
    let log = failure_log(&c, &h).join("\n");
    assert!(
        log.contains("divide by zero"),
        "panic message not recorded: {log:?}"
    );
    assert!(pending(&c, &h), "max_retries 1: the job is retried");
}

#[derive(Debug, Serialize, Deserialize)]
struct Wanted {
    name: String,
    count: u64,
}

/// An arg that does not decode as the worker's type fails that job with the ArgDecode
/// text; other jobs are unaffected.
fn arg_decode_mismatch_fails_job(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "Typed",
        TestWorker::new(|job| {
            let w: Wanted = job.arg()?;
            let _ = (w.name, w.count);
            Ok(())
        }),
    );
    let bytes = vec![0xff_u8, 0xfe, 0xfd];
    let bad = ins(&c, Job::new("Typed").raw_arg(bytes.clone()));
    let good = ins(
        &c,
        job_with(
            "Typed",
            &Wanted {
                name: "x".into(),
                count: 3,
            },
        ),
    );
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    let expected = decode_arg::<Wanted>(bad.jobid(), &bytes)
        .expect_err("garbage decodes")
        .to_string();
    assert_eq!(failure_log(&c, &bad), vec![expected]);
    assert_eq!(failures(&c, &good), 0);
    assert!(!pending(&c, &good));
}

/// `arg::<T>()` on a job without an argument is `ArgDecode`.
fn arg_missing_is_arg_decode(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new("Typed"));
    let j = lookup(&c, &h);
    assert_err!(j.arg::<Wanted>(), Error::ArgDecode { .. });
    assert!(j.raw_arg().is_none());
}

const FIX_FN: &str = "Worker::Outcomes";

/// B4: a 10,000-character error message is stored (truncated to the column if needed, at
/// a character boundary) and the worker carries on.
fn long_error_message_truncated(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let long: String = "é".repeat(5_000) + &"x".repeat(5_000);
    let msg = long.clone();
    can_do(&c, FIX_FN, TestWorker::new(move |_| Err(werr(msg.clone()))));
    let h = ins(&c, Job::new(FIX_FN));
    let h2 = ins(&c, Job::new(FIX_FN));
    assert!(work_once(&c), "work_once with a long error message");
    assert!(
        work_once(&c),
        "the worker did not carry on after a long error message"
    );
    for h in [&h, &h2] {
        let log = failure_log(&c, h);
        assert_eq!(log.len(), 1, "the failure was not recorded");
        let stored = &log[0];
        assert!(
            long.starts_with(stored.as_str()),
            "stored message is not a prefix of the original"
        );
        assert!(
            stored.chars().count() >= 255,
            "message cut below 255 characters ({})",
            stored.chars().count()
        );
        assert!(!pending(&c, h), "the job stayed leased");
    }
}

/// B5: a second exit status for a job id is an upsert (upstream: a PK violation that
/// crashed the worker).
fn second_exit_status_upsert(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, "Done", TestWorker::completing().keep(100));
    can_do(
        &c,
        "Fail",
        TestWorker::new(|job| Ok(job.permanent_failure_with_status("no", 7)?)).keep(100),
    );
    let h = ins(&c, Job::new("Done").jobid(JobId(777)));
    assert!(work_once(&c));
    assert_eq!(exit_status(&c, &h), Some(0));
    // The same job id again (the first row is gone, its exit status is not).
    let h2 = ins(&c, Job::new("Fail").jobid(JobId(777)));
    assert_eq!(h2, h);
    assert!(work_once(&c), "the second exit status crashed work_once");
    assert_eq!(
        exit_status(&c, &h),
        Some(7),
        "the second exit status did not replace the first"
    );
}

/// Deliberate change: `Ok(())` from `work` completes the job (upstream: falling through
/// without an outcome was a failure).
fn ok_completes(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, FIX_FN, TestWorker::ok().keep(100));
    let h = ins(&c, Job::new(FIX_FN));
    let j = grab(&c, FIX_FN).expect("grab");
    assert_eq!(c.work_safely(j).must("work_safely"), WorkOutcome::Completed);
    assert!(!pending(&c, &h));
    assert_eq!(failures(&c, &h), 0);
    assert_eq!(exit_status(&c, &h), Some(0));
}

/// `Err(e)` from `work` fails the job with e's text.
fn err_fails_with_text(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FIX_FN,
        TestWorker::new(|_| Err(werr("custom failure text"))).keep(100),
    );
    let h = ins(&c, Job::new(FIX_FN));
    assert!(work_once(&c));
    assert_eq!(failure_log(&c, &h), vec!["custom failure text".to_string()]);
    assert_eq!(exit_status(&c, &h), Some(1));
    assert!(!pending(&c, &h));
}

/// A panic in `work` is a failure with the panic message; the client carries on.
fn panic_recorded_as_failure(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FIX_FN,
        TestWorker::new(|job| {
            if job.raw_arg() == Some(b"boom".as_slice()) {
                panic!("the widget exploded: {}", 42);
            }
            Ok(())
        })
        .max_retries(1),
    );
    let h = ins(&c, Job::new(FIX_FN).raw_arg(b"boom".to_vec()));
    let fine = ins(&c, Job::new(FIX_FN).raw_arg(b"fine".to_vec()));
    assert_eq!(c.work_until_done().must("work_until_done after a panic"), 3);
    let log = failure_log(&c, &h);
    assert_eq!(log.len(), 2);
    assert!(
        log.iter().all(|m| m.contains("the widget exploded: 42")),
        "panic message not recorded: {log:?}"
    );
    assert!(!pending(&c, &h));
    assert!(!pending(&c, &fine));
    assert_eq!(failures(&c, &fine), 0);
}

/// A panic with a non-string payload is still a failure.
fn panic_any_payload_recorded(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FIX_FN,
        TestWorker::new(|_| std::panic::panic_any(17_u32)),
    );
    let h = ins(&c, Job::new(FIX_FN));
    assert!(work_once(&c));
    assert_eq!(failures(&c, &h), 1);
    assert!(!pending(&c, &h));
}

/// An outcome written by the worker stands: a later `Err` or panic is not a second
/// outcome (upstream: `failed` on a finished job is refused and logged).
fn explicit_outcome_then_error_or_panic(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "FailThenErr",
        TestWorker::new(|job| {
            job.failed("first")?;
            Err(werr("second"))
        })
        .max_retries(5),
    );
    can_do(
        &c,
        "CompleteThenPanic",
        TestWorker::new(|job| {
            job.completed()?;
            panic!("after completing")
        }),
    );
    let h1 = ins(&c, Job::new("FailThenErr"));
    let h2 = ins(&c, Job::new("CompleteThenPanic"));
    let j = grab(&c, "FailThenErr").expect("grab");
    c.work_safely(j).must("work_safely");
    assert_eq!(failure_log(&c, &h1), vec!["first".to_string()]);
    assert!(pending(&c, &h1), "the recorded failure has retries left");
    let j = grab(&c, "CompleteThenPanic").expect("grab");
    c.work_safely(j).must("work_safely");
    assert!(!pending(&c, &h2));
    assert_eq!(
        failures(&c, &h2),
        0,
        "a panic after completing was recorded"
    );
}

const FAIL: &str = "Worker::Fail";

const COMPLETE: &str = "Worker::Complete";

fn client(ctx: &Ctx, s: &Arc<dyn Store>, pruning: Pruning) -> Client {
    let c = ctx
        .builder()
        .store(Arc::clone(s))
        .exit_status_clean_probability(1.0)
        .error_max_age(secs(200))
        .pruning(pruning)
        .build()
        .must("building the client");
    can_do(
        &c,
        FAIL,
        TestWorker::new(|job| Ok(job.failed("an error message")?))
            .keep(100)
            .max_retries(0)
            .retry_delay(|_| secs(1)),
    );
    can_do(&c, COMPLETE, TestWorker::completing().keep(100));
    c
}

struct Scenario {
    c: Client,
    s: Arc<dyn Store>,
    h1: JobHandle,
    h2: JobHandle,
}

/// Steps 1-7: a failing job, then a completing one.
fn first_two(ctx: &Ctx, pruning: Pruning) -> Scenario {
    let s = ctx.store();
    let c = client(ctx, &s, pruning);
    let h1 = ins(&c, Job::new(FAIL));
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    let h2 = ins(&c, Job::new(COMPLETE));
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    Scenario { c, s, h1, h2 }
}

/// 1-3. A failed job (no retries, keep 100) has one failure and an exit status row.
fn failure_writes_error_and_exit_status(ctx: &Ctx) {
    let s = ctx.store();
    let c = client(ctx, &s, Pruning::Inline);
    let h = ins(&c, Job::new(FAIL));
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    assert_eq!(failures(&c, &h), 1);
    assert_eq!(failure_log(&c, &h), vec!["an error message".to_string()]);
    assert_eq!(stats(&s).exit_statuses, 1);
    assert_eq!(
        exit_status(&c, &h),
        Some(1),
        "final failure keeps exit status 1"
    );
    assert!(!pending(&c, &h));
}

/// 4-7. A completed job adds a second exit status; the one error row is job 1's.
fn completion_adds_exit_status(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    let st = stats(&sc.s);
    assert_eq!(st.exit_statuses, 2);
    assert_eq!(st.errors, 1);
    assert_eq!(exit_status(&sc.c, &sc.h2), Some(0));
    let errs =
        sc.s.recent_failures(None, None, 100)
            .must("recent_failures");
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].jobid,
        sc.h1.jobid(),
        "the error row belongs to the failed job"
    );
}

/// 8. After the keep time, writing a new exit status prunes the expired ones.
fn expired_exit_statuses_pruned(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    ctx.advance(300);
    let h3 = ins(&sc.c, Job::new(FAIL));
    assert_eq!(sc.c.work_until_done().must("work_until_done"), 1);
    assert_eq!(
        stats(&sc.s).exit_statuses,
        1,
        "expired exit statuses were not pruned"
    );
    assert_eq!(exit_status(&sc.c, &h3), Some(1));
    assert_eq!(
        exit_status(&sc.c, &sc.h2),
        None,
        "job 2's exit status should be gone"
    );
}

/// 9-10. Errors older than the max age are pruned on the next failure; the survivor is
/// the new job's.
fn old_errors_pruned_on_failure(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    ctx.advance(300);
    let h3 = ins(&sc.c, Job::new(FAIL));
    sc.c.work_until_done().must("work_until_done");
    let errs =
        sc.s.recent_failures(None, None, 100)
            .must("recent_failures");
    assert_eq!(errs.len(), 1, "old errors were not pruned: {errs:?}");
    assert_eq!(errs[0].jobid, h3.jobid());
    assert_eq!(
        failures(&sc.c, &sc.h1),
        0,
        "job 1's error should have been pruned"
    );
}

/// Before the keep time nothing is pruned.
fn nothing_pruned_before_expiry(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    ctx.advance(50);
    let _h3 = ins(&sc.c, Job::new(FAIL));
    sc.c.work_until_done().must("work_until_done");
    let st = stats(&sc.s);
    assert_eq!(st.exit_statuses, 3);
    assert_eq!(st.errors, 2);
}

/// `Pruning::Off`: nothing is pruned inline; `Client::prune` deletes what expired.
fn prune_off_then_explicit_prune(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Off);
    ctx.advance(300);
    let _h3 = ins(&sc.c, Job::new(FAIL));
    sc.c.work_until_done().must("work_until_done");
    let st = stats(&sc.s);
    assert_eq!(
        st.exit_statuses, 3,
        "Pruning::Off pruned exit statuses inline"
    );
    assert_eq!(st.errors, 2, "Pruning::Off pruned errors inline");
    let report = sc.c.prune(1000).must("prune");
    assert_eq!(report.exit_statuses, 2);
    assert_eq!(report.errors, 1);
    let st = stats(&sc.s);
    assert_eq!((st.exit_statuses, st.errors), (1, 1));
}

/// `Client::prune(limit)` deletes at most `limit` rows of each kind per store.
fn prune_is_bounded(ctx: &Ctx) {
    let s = ctx.store();
    let c = client(ctx, &s, Pruning::Off);
    for _ in 0..3 {
        ins(&c, Job::new(FAIL));
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 3);
    ctx.advance(300);
    let r = c.prune(2).must("prune(2)");
    assert_eq!((r.errors, r.exit_statuses), (2, 2));
    let r = c.prune(2).must("prune(2)");
    assert_eq!((r.errors, r.exit_statuses), (1, 1));
    let st = stats(&s);
    assert_eq!((st.errors, st.exit_statuses), (0, 0));
}

/// The store-level prunes honour their thresholds.
fn store_prune_thresholds(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Off);
    let t = sc.c.now(&h0(&sc.c)).must("now");
    assert_eq!(sc.s.prune_errors(t - 1000, 100).must("prune_errors"), 0);
    assert_eq!(
        sc.s.prune_exit_statuses(t, 100).must("prune_exit_statuses"),
        0
    );
    assert_eq!(sc.s.prune_errors(t + 1000, 100).must("prune_errors"), 1);
    assert_eq!(
        sc.s.prune_exit_statuses(t + 1000, 100)
            .must("prune_exit_statuses"),
        2
    );
}

cases!(
    "outcomes";
    failure_charged_to_current_job,
    first_completed_second_retried,
    panic_charged_to_current_job,
    current_job_during_work,
    permanent_failure_explicit_status,
    permanent_failure_default_status,
    failed_with_status_final_only,
    no_exit_status_without_keep,
    division_by_zero_error_recorded,
    division_by_zero_panic_recorded,
    arg_decode_mismatch_fails_job,
    arg_missing_is_arg_decode,
    explicit_outcome_then_error_or_panic,
    long_error_message_truncated,
    second_exit_status_upsert,
    ok_completes,
    err_fails_with_text,
    panic_recorded_as_failure,
    panic_any_payload_recorded,
    failure_writes_error_and_exit_status,
    completion_adds_exit_status,
    expired_exit_statuses_pruned,
    old_errors_pruned_on_failure,
    nothing_pruned_before_expiry,
    prune_off_then_explicit_prune,
    prune_is_bounded,
    store_prune_thresholds,
);
