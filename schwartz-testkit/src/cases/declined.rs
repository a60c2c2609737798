//! Declining a job: no failure recorded, the job stays leased until its lease ends or
//! until the time asked for, then completes normally.

use super::common::*;

const EVENTUALLY: &str = "CompleteEventually";

const WITH_TIME: &str = "DeclineWithTime";

/// Upstream declines for 2 s and sleeps 5; scaled up so a slow database's wall-clock time
/// cannot matter (time moves by the clock shift).
const DECLINE_FOR: i64 = 100;

fn declining() -> TestWorker {
    TestWorker::new(|job| Ok(job.declined()?))
}

/// Part 1, 1-3: declined() records no failure; the job stays pending.
fn declined_no_failure_still_pending(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new(EVENTUALLY));
    can_do(&c, EVENTUALLY, declining());
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    assert_eq!(failures(&c, &h), 0);
    assert!(pending(&c, &h));
}

/// Part 1, 4-5: it stays leased (grab_for 3600): not grabbable now nor 3 s later.
fn declined_stays_leased(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new(EVENTUALLY));
    can_do(&c, EVENTUALLY, declining());
    assert!(work_once(&c));
    assert!(
        grab(&c, EVENTUALLY).is_none(),
        "declined job grabbable at once"
    );
    ctx.advance(3);
    assert!(
        grab(&c, EVENTUALLY).is_none(),
        "declined job grabbable 3 s later"
    );
    assert!(
        lookup(&c, &h).grabbed_until() > now(&c),
        "lease was released by declined()"
    );
}

/// Once the lease runs out the declined job is grabbable again.
fn declined_released_when_lease_ends(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new(EVENTUALLY));
    can_do(&c, EVENTUALLY, declining());
    assert!(work_once(&c));
    ctx.advance(3601);
    let j = grab(&c, EVENTUALLY).expect("declined job not grabbable after its lease");
    assert_eq!(j.handle(), &h);
}

/// `work_safely` reports `Declined`; `was_declined` is set, `did_something` is not.
fn declined_outcome_and_flags(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new(EVENTUALLY));
    can_do(&c, EVENTUALLY, declining());
    let j = grab(&c, EVENTUALLY).expect("job");
    let outcome = c.work_safely(j.clone()).must("work_safely");
    assert_eq!(outcome, WorkOutcome::Declined);
    assert!(j.was_declined());
    assert!(!j.did_something());
}

struct Part2 {
    c: Client,
    s: Arc<dyn Store>,
    hs: Vec<JobHandle>,
    decline: Arc<std::sync::atomic::AtomicBool>,
    declined_ids: Rec<JobId>,
    ran: Rec<(i64, i64)>,
}

fn part2(ctx: &Ctx) -> Part2 {
    let (c, s) = ctx.client1();
    let decline = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let declined_ids = rec();
    let ran = rec();
    let (d, ids, r) = (Arc::clone(&decline), declined_ids.clone(), ran.clone());
    can_do(
        &c,
        WITH_TIME,
        TestWorker::new(move |job| {
            let now = job.server_time()?;
            if d.load(Ordering::SeqCst) {
                push(&ids, job.jobid());
                job.declined_until(plus(now, DECLINE_FOR))?;
            } else {
                push(&r, (job.run_after().timestamp(), now.timestamp()));
            }
            Ok(())
        }),
    );
    let hs = (0..5).map(|_| ins(&c, Job::new(WITH_TIME))).collect();
    Part2 {
        c,
        s,
        hs,
        decline,
        declined_ids,
        ran,
    }
}

/// Part 2: 5 inserts; 5 `work_once` true, each declining a different job.
fn declined_with_time_each_job_once(ctx: &Ctx) {
    let p = part2(ctx);
    for i in 0..5 {
        assert!(work_once(&p.c), "work_once #{i}");
    }
    let mut ids = seen(&p.declined_ids);
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        5,
        "the 5 work_once calls did not decline 5 different jobs"
    );
    assert_eq!(
        failures(&p.c, &p.hs[0]),
        0,
        "declining counted as a failure"
    );
}

/// Part 2: after declining, nothing is grabbable (run_after in the future), and the
/// lease was released.
fn declined_with_time_not_grabbable_yet(ctx: &Ctx) {
    let p = part2(ctx);
    for _ in 0..5 {
        assert!(work_once(&p.c));
    }
    assert!(
        grab(&p.c, WITH_TIME).is_none(),
        "declined job grabbable before its run_after"
    );
    let n = now(&p.c);
    for h in &p.hs {
        let j = lookup(&p.c, h);
        assert_eq!(
            j.grabbed_until().timestamp(),
            0,
            "declined_until did not release the lease"
        );
        assert!(j.run_after() > n, "run_after not moved to the future");
    }
}

/// Part 2: once run_after has passed the jobs run with run_after < now, and (Ok = completed) complete.
fn declined_with_time_then_completes(ctx: &Ctx) {
    let p = part2(ctx);
    for _ in 0..5 {
        assert!(work_once(&p.c));
    }
    ctx.advance(105);
    p.decline.store(false, Ordering::SeqCst);
    for i in 0..5 {
        assert!(work_once(&p.c), "work_once #{i} after run_after");
    }
    let ran = seen(&p.ran);
    assert_eq!(ran.len(), 5);
    for (run_after, now) in ran {
        assert!(
            run_after < now,
            "job ran with run_after {run_after} >= now {now}"
        );
    }
    assert_eq!(stats(&p.s).jobs, 0, "Ok(()) should complete the jobs");
    for h in &p.hs {
        assert_eq!(failures(&p.c, h), 0);
    }
    assert!(!work_once(&p.c));
}

/// Declining does not count towards max_retries.
fn declines_do_not_count_as_failures(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let attempts = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&attempts);
    can_do(
        &c,
        WITH_TIME,
        TestWorker::new(move |job| {
            let n = a.fetch_add(1, Ordering::SeqCst);
            if n < 5 {
                let now = job.server_time()?;
                job.declined_until(now)?;
                Ok(())
            } else {
                Err(werr("finally failing"))
            }
        })
        .max_retries(0),
    );
    let h = ins(&c, Job::new(WITH_TIME));
    assert_eq!(c.work_until_done().must("work_until_done"), 6);
    assert_eq!(failures(&c, &h), 1);
    assert!(
        !pending(&c, &h),
        "with max_retries 0 the first real failure is final"
    );
}

const LOOP_FN: &str = "Worker::Declined";

/// `declined()` then `completed()` in the same work: the job completes.
fn declined_then_completed(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        LOOP_FN,
        TestWorker::new(|job| {
            job.declined()?;
            job.completed()?;
            Ok(())
        }),
    );
    let h = ins(&c, Job::new(LOOP_FN));
    assert!(work_once(&c));
    assert!(!pending(&c, &h));
    assert_eq!(failures(&c, &h), 0);
}

const FIX_FN: &str = "Worker::Declined";

/// `declined()` is not an outcome: an `Err` afterwards fails the job.
fn declined_then_error_fails(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FIX_FN,
        TestWorker::new(|job| {
            job.declined()?;
            Err(werr("changed my mind"))
        }),
    );
    let h = ins(&c, Job::new(FIX_FN));
    assert!(work_once(&c));
    assert_eq!(failure_log(&c, &h), vec!["changed my mind".to_string()]);
    assert!(!pending(&c, &h));
}

cases!(
    "declined";
    declined_no_failure_still_pending,
    declined_stays_leased,
    declined_released_when_lease_ends,
    declined_outcome_and_flags,
    declined_with_time_each_job_once,
    declined_with_time_not_grabbable_yet,
    declined_with_time_then_completes,
    declines_do_not_count_as_failures,
    declined_then_completed,
    declined_then_error_fails,
);
