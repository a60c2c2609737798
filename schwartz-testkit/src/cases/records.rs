//! A job's failure log and exit status written by hand (`QueuedJob::add_failure`,
//! `QueuedJob::set_exit_status`), without finishing the job, fenced on its lease.

use super::common::*;

const FN: &str = "Records::Job";

/// `add_failure` writes an error row; the job stays leased and can still be completed.
fn add_failure_keeps_the_job(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("job");
    let token = j.row().grabbed_until;
    j.add_failure("mirror 2 timed out").must("add_failure");
    j.add_failure("").must("add_failure without a message");
    assert_eq!(failure_log(&c, &h), vec!["mirror 2 timed out", ""]);
    assert_eq!(j.failures().must("failures"), 2);
    let row = s.lookup(h.jobid()).must("lookup").expect("still pending");
    assert_eq!(row.grabbed_until, token, "add_failure changed the lease");
    assert!(grab(&c, FN).is_none(), "add_failure released the job");
    assert!(!j.did_something());
    j.completed().must("completed after add_failure");
    assert!(!pending(&c, &h));
    assert_eq!(failures(&c, &h), 2);
}

/// Added failures count towards `max_retries`, as TheSchwartz counts error rows.
fn added_failures_count_towards_retries(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| {
            job.add_failure("soft error")?;
            Err(werr("hard error"))
        })
        .max_retries(2),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert!(pending(&c, &h), "2 failures <= max_retries 2: retried");
    assert!(work_once(&c));
    assert!(!pending(&c, &h), "4 failures > max_retries 2: final");
    assert_eq!(
        failure_log(&c, &h),
        vec!["soft error", "hard error", "soft error", "hard error"]
    );
}

/// A job whose lease was taken over, or that is finished, refuses both writes.
fn records_are_fenced(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    can_do(&c, FN, TestWorker::ok().grab_for(100).keep(1000));
    let h = ins(&c, Job::new(FN));
    let old = grab(&c, FN).expect("job");
    ctx.advance(200);
    let new = grab(&c, FN).expect("taken over after the lease ended");
    assert_err!(old.add_failure("late"), Error::LeaseLost { .. });
    assert_err!(old.set_exit_status(3), Error::LeaseLost { .. });
    assert_eq!(failures(&c, &h), 0);
    assert_eq!(exit_status(&c, &h), None);
    assert_eq!(stats(&s).errors, 0);
    new.completed().must("completed");
    assert_err!(new.add_failure("after"), Error::AlreadyFinished { .. });
    assert_err!(new.set_exit_status(4), Error::AlreadyFinished { .. });
    assert_eq!(exit_status(&c, &h), Some(0));
}

/// `set_exit_status` writes only when the worker keeps exit statuses, for that long; a
/// later outcome's status replaces it.
fn set_exit_status_honours_keep(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    can_do(&c, FN, TestWorker::ok());
    let h = ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("job");
    assert!(
        !j.set_exit_status(5).must("set_exit_status"),
        "keep 0 wrote"
    );
    assert_eq!(exit_status(&c, &h), None);
    j.completed().must("completed");

    const KEEP: &str = "Records::Keep";
    can_do(&c, KEEP, TestWorker::ok().keep(500));
    let h = ins(&c, Job::new(KEEP));
    let j = grab(&c, KEEP).expect("job");
    let n = datetime_to_epoch(now(&c));
    assert!(j.set_exit_status(5).must("set_exit_status"));
    let es = s
        .exit_status(h.jobid())
        .must("exit_status")
        .expect("written");
    assert_eq!(es.status, 5);
    assert!((n..=n + 2).contains(&es.completion_time), "{es:?}");
    assert_eq!(es.delete_after, es.completion_time + 500);
    assert!(pending(&c, &h), "set_exit_status finished the job");
    assert!(j.set_exit_status(6).must("a second status replaces"));
    assert_eq!(exit_status(&c, &h), Some(6));
    j.failed_with_status("gave up", 7).must("failed");
    assert_eq!(exit_status(&c, &h), Some(7));
}

cases!(
    "records";
    add_failure_keeps_the_job,
    added_failures_count_towards_retries,
    records_are_fenced,
    set_exit_status_honours_keep,
);
