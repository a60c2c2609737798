//! Scheduling: `Job::run_in` on the store's clock, `Client::reschedule` / `retry_now`,
//! external outcomes by handle (`Client::complete` / `Client::fail`), their refusals for
//! running and finished jobs and their fence against a grab at the same moment, and a
//! `Backoff` driving a worker's retries.

use std::time::Duration;

use schwartz_core::{Backoff, Rescheduled, When, EXTERNAL_KEEP_EXIT_STATUS_FOR, NEVER_EPOCH};

use super::common::*;
use super::schedule_race::{GrabOnLookup, RACE_LEASE};

const FN: &str = "Schedule::Job";

fn epoch(t: chrono::DateTime<chrono::Utc>) -> i64 {
    datetime_to_epoch(t)
}

/// The job's `run_after` and `grabbed_until` as stored.
#[track_caller]
fn times(s: &Arc<dyn Store>, h: &JobHandle) -> (i64, i64) {
    let row = s
        .lookup(h.jobid())
        .must("lookup")
        .unwrap_or_else(|| panic!("job {h} should be pending"));
    (row.run_after, row.grabbed_until)
}

/// `run_in` counts from the store's clock as the client reads it (here shifted a day
/// ahead of the local clock), not from the local one; the job is not grabbable before.
fn run_in_counts_from_the_store_clock(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ctx.advance(86_400);
    let before = epoch(now(&c));
    let h = ins(&c, Job::new(FN).run_in(secs(300)));
    let after = epoch(now(&c));
    let (run_after, _) = times(&s, &h);
    assert!(
        (before + 300..=after + 301).contains(&run_after),
        "run_after {run_after} not 300 s after the store's clock ({before}..{after})"
    );
    assert!(grab(&c, FN).is_none(), "grabbable before run_in elapsed");
    ctx.advance(250);
    assert!(grab(&c, FN).is_none(), "grabbable 250 s into run_in(300)");
    ctx.advance(60);
    assert_eq!(grab(&c, FN).expect("grabbable after run_in").handle(), &h);
}

/// Sub-second delays round up; `run_in` and `run_after` replace each other; a delay past
/// what the store holds is refused before anything is written.
fn run_in_rounding_and_limits(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let before = epoch(now(&c));
    let h = ins(&c, Job::new(FN).run_in(Duration::from_millis(1)));
    assert!(times(&s, &h).0 > before, "1 ms rounds up to a second");
    let at = plus(now(&c), 5000);
    let h = ins(&c, Job::new(FN).run_in(secs(10)).run_after(at));
    assert_eq!(times(&s, &h).0, epoch(at), "run_after replaces run_in");
    let n = epoch(now(&c));
    let h = ins(&c, Job::new(FN).run_after(at).run_in(secs(10)));
    let r = times(&s, &h).0;
    assert!(
        (n + 10..=n + 12).contains(&r),
        "run_in replaces run_after: {r}"
    );
    let jobs = stats(&s).jobs;
    let e = assert_err!(
        c.insert(Job::new(FN).run_in(Duration::MAX)),
        Error::InvalidInput(_)
    );
    assert!(e.to_string().contains("run_in"), "{e}");
    let far = Duration::from_secs(u64::try_from(s.limits().max_epoch).unwrap_or(u64::MAX));
    assert_err!(c.insert(Job::new(FN).run_in(far)), Error::InvalidInput(_));
    assert_eq!(stats(&s).jobs, jobs, "a refused job was written");
}

/// `At`, `In` and `Never`; the result tells the old and new times and the function.
fn reschedule_at_in_and_never(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new(FN));
    let first = times(&s, &h).0;
    let at = plus(now(&c), 1000);
    let r: Rescheduled = c.reschedule(&h, When::At(at)).must("reschedule At");
    assert_eq!((r.funcname.as_str(), &r.handle), (FN, &h));
    assert_eq!((epoch(r.previous), epoch(r.run_after)), (first, epoch(at)));
    assert_eq!(times(&s, &h).0, epoch(at));
    ctx.advance(10_000);
    let n = epoch(now(&c));
    let r = c.reschedule(&h, When::In(secs(200))).must("reschedule In");
    let t = times(&s, &h).0;
    assert!((n + 200..=n + 202).contains(&t), "In(200) from {n}: {t}");
    assert_eq!(epoch(r.run_after), t);
    assert!(grab(&c, FN).is_none());
    c.reschedule(&h, When::Never).must("reschedule Never");
    assert_eq!(times(&s, &h).0, NEVER_EPOCH);
    ctx.advance(1000);
    assert!(grab(&c, FN).is_none(), "a parked job was grabbed");
    c.retry_now(&h).must("retry_now");
    assert_eq!(grab(&c, FN).expect("eligible after retry_now").handle(), &h);
}

/// Bad times are refused and change nothing.
fn reschedule_refuses_bad_times(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new(FN));
    let before = times(&s, &h);
    let early = chrono::DateTime::from_timestamp(-5, 0).expect("a time");
    assert_err!(c.reschedule(&h, When::At(early)), Error::InvalidInput(_));
    assert_err!(
        c.reschedule(&h, When::In(Duration::MAX)),
        Error::InvalidInput(_)
    );
    assert_eq!(times(&s, &h), before);
}

/// A running job is refused by every change by handle, naming the handle; nothing changes.
fn changes_refuse_a_running_job(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("job");
    let before = times(&s, &h);
    let check = |e: Error| {
        let msg = e.to_string();
        assert!(
            msg.contains(&h.to_string()) && msg.contains("running"),
            "{msg}"
        );
        assert!(
            matches!(&e, Error::JobRunning { funcname, leased_until, .. }
                if funcname == FN && *leased_until == before.1),
            "{e:?}"
        );
    };
    check(assert_err!(
        c.reschedule(&h, When::Never),
        Error::JobRunning { .. }
    ));
    check(assert_err!(c.retry_now(&h), Error::JobRunning { .. }));
    check(assert_err!(c.complete(&h), Error::JobRunning { .. }));
    check(assert_err!(c.fail(&h, "x"), Error::JobRunning { .. }));
    assert_eq!(times(&s, &h), before);
    assert_eq!(failures(&c, &h), 0, "a refused fail wrote an error row");
    j.completed().must("the worker still owns the job");
}

/// A finished or unknown job is `JobNotFound`, naming the handle.
fn changes_refuse_a_finished_job(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new(FN));
    c.complete(&h).must("complete");
    let unknown = JobHandle::new(h0(&c), JobId(987_654_321));
    for h in [&h, &unknown] {
        let check = |e: Error| assert!(e.to_string().contains(&h.to_string()), "{e}");
        check(assert_err!(
            c.reschedule(h, When::Never),
            Error::JobNotFound { .. }
        ));
        check(assert_err!(c.retry_now(h), Error::JobNotFound { .. }));
        check(assert_err!(c.complete(h), Error::JobNotFound { .. }));
        check(assert_err!(c.fail(h, "x"), Error::JobNotFound { .. }));
    }
}

/// A lease that ran out does not block a change; the change clears it.
fn changes_take_an_expired_lease(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    can_do(&c, FN, TestWorker::ok().grab_for(100));
    let h = ins(&c, Job::new(FN));
    let _j = grab(&c, FN).expect("job");
    ctx.advance(200);
    c.reschedule(&h, When::In(secs(500))).must("reschedule");
    assert_eq!(times(&s, &h).1, 0, "the expired lease was not cleared");
    c.complete(&h).must("complete");
    assert!(!pending(&c, &h));
}

/// `retry_now` makes a job waiting for its retry delay eligible; its failures stay.
fn retry_now_skips_the_retry_delay(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|_| Err(werr("down")))
            .max_retries(3)
            .retry_delay(|_| secs(5000)),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert!(grab(&c, FN).is_none(), "grabbable during the retry delay");
    c.retry_now(&h).must("retry_now");
    assert_eq!(grab(&c, FN).expect("eligible").handle(), &h);
    assert_eq!(failures(&c, &h), 1);
}

/// External completion: the row goes; exit status 0 kept per the registered worker, or
/// `EXTERNAL_KEEP_EXIT_STATUS_FOR` without one.
fn complete_by_handle(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new(FN));
    let n = epoch(now(&c));
    c.complete(&h).must("complete");
    assert!(!pending(&c, &h));
    let es = s.exit_status(h.jobid()).must("exit_status").expect("kept");
    assert_eq!(es.status, 0);
    let keep = i64::try_from(EXTERNAL_KEEP_EXIT_STATUS_FOR.as_secs()).unwrap_or(0);
    assert!((n + keep..=n + keep + 2).contains(&es.delete_after));
    // A registered worker that keeps none: none.
    can_do(&c, "Schedule::NoKeep", TestWorker::ok());
    let h = ins(&c, Job::new("Schedule::NoKeep"));
    c.complete(&h).must("complete");
    assert!(!pending(&c, &h));
    assert_eq!(exit_status(&c, &h), None);
}

/// External failure follows the registered worker: retried (after its delay) while
/// `max_retries` allows, then removed with exit status 1.
fn fail_by_handle_follows_the_worker(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::ok()
            .max_retries(1)
            .keep(1000)
            .retry_delay(|n| secs(100 * u64::from(n))),
    );
    let h = ins(&c, Job::new(FN));
    let n = epoch(now(&c));
    let o = c.fail(&h, "first").must("fail");
    assert_eq!(o, WorkOutcome::Failed { will_retry: true });
    let (run_after, lease) = times(&s, &h);
    assert!((n + 100..=n + 102).contains(&run_after), "{run_after}");
    assert_eq!(lease, 0);
    let o = c.fail(&h, "second").must("fail");
    assert_eq!(o, WorkOutcome::Failed { will_retry: false });
    assert!(!pending(&c, &h));
    assert_eq!(failure_log(&c, &h), vec!["first", "second"]);
    assert_eq!(exit_status(&c, &h), Some(1));
}

/// Without a worker: no retry, exit status 1 kept.
fn fail_by_handle_without_a_worker(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new("Schedule::Nobody"));
    let o = c.fail(&h, "external runner failed").must("fail");
    assert_eq!(o, WorkOutcome::Failed { will_retry: false });
    assert!(!pending(&c, &h));
    assert_eq!(failure_log(&c, &h), vec!["external runner failed"]);
    assert_eq!(exit_status(&c, &h), Some(1));
}

/// A worker grabbing the job between the read and the write wins: each change is refused
/// as running, and the job keeps the worker's lease, with no error row.
fn changes_lose_to_a_grab_at_the_same_moment(ctx: &Ctx) {
    let racing = GrabOnLookup::new(ctx.store());
    let c = ctx.client(&[racing.clone() as Arc<dyn Store>]);
    type Change = fn(&Client, &JobHandle) -> Result<(), Error>;
    let changes: [(&str, Change); 4] = [
        ("complete", |c, h| c.complete(h)),
        ("fail", |c, h| c.fail(h, "x").map(|_| ())),
        ("reschedule", |c, h| {
            c.reschedule(h, When::Never).map(|_| ())
        }),
        ("retry_now", |c, h| c.retry_now(h).map(|_| ())),
    ];
    for (what, change) in changes {
        let h = ins(&c, Job::new(FN));
        let started = racing.server_time().must("server_time");
        racing.arm();
        let e = assert_err!(change(&c, &h), Error::JobRunning { .. }, "{what}");
        assert!(e.to_string().contains(&h.to_string()), "{e}");
        let row = racing.lookup(h.jobid()).must("lookup").expect("pending");
        assert!(
            row.grabbed_until >= started + RACE_LEASE,
            "{what}: the grab's lease was overwritten: {row:?}"
        );
        assert_eq!(
            row.run_after,
            row.insert_time.unwrap_or(row.run_after),
            "{what}"
        );
        assert_eq!(failures(&c, &h), 0, "{what} wrote an error row");
    }
}

/// A worker's `retry_delay` from `Backoff::garivini()`: 120 s, then 240 s.
fn backoff_drives_retry_delays(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let backoff = Backoff::garivini();
    can_do(
        &c,
        FN,
        TestWorker::new(|_| Err(werr("later")))
            .max_retries(5)
            .retry_delay(move |n| backoff.delay(n)),
    );
    let h = ins(&c, Job::new(FN));
    for want in [120, 240] {
        let n = epoch(now(&c));
        assert!(work_once(&c));
        let (run_after, lease) = times(&s, &h);
        assert!(
            (n + want..=n + want + 2).contains(&run_after),
            "{want}: {run_after}"
        );
        assert_eq!(lease, 0);
        ctx.advance(u64::try_from(want).unwrap_or(0) + 1);
    }
}

/// The largest back-off (`Duration::MAX`) never overflows nor strands the job: it is
/// released for retry with `run_after` at the latest time the store holds.
fn extreme_backoff_releases_the_job(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let huge = Backoff::exponential(Duration::MAX, Duration::MAX);
    can_do(
        &c,
        FN,
        TestWorker::new(|_| Err(werr("never")))
            .max_retries(u32::MAX)
            .retry_delay(move |n| huge.delay(n)),
    );
    let h = ins(&c, Job::new(FN));
    let n = epoch(now(&c));
    assert!(work_once(&c));
    let (run_after, lease) = times(&s, &h);
    assert_eq!(lease, 0, "the job stayed leased");
    assert!(run_after > n && run_after <= s.limits().max_epoch.max(NEVER_EPOCH));
    assert_eq!(failures(&c, &h), 1);
    c.retry_now(&h).must("retry_now");
    assert!(grab(&c, FN).is_some());
}

cases!(
    "schedule";
    run_in_counts_from_the_store_clock,
    run_in_rounding_and_limits,
    reschedule_at_in_and_never,
    reschedule_refuses_bad_times,
    changes_refuse_a_running_job,
    changes_refuse_a_finished_job,
    changes_take_an_expired_lease,
    retry_now_skips_the_retry_delay,
    complete_by_handle,
    fail_by_handle_follows_the_worker,
    fail_by_handle_without_a_worker,
    changes_lose_to_a_grab_at_the_same_moment,
    backoff_drives_retry_delays,
    extreme_backoff_releases_the_job,
);
