//! `t/grab_and_work_on.t` (spec 8.14): work one named job exactly once, if not leased.

use super::common::*;

const FN: &str = "Worker::GrabAndWork";

struct Setup {
    c: Client,
    available: JobHandle,
    grabbed: JobHandle,
    grabbed_until: i64,
    inside: Rec<(bool, bool)>,
}

fn setup(ctx: &Ctx) -> Setup {
    let (c, _s) = ctx.client1();
    let inside = rec();
    let r = inside.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            let n = job.client().server_time(job.handle().store())?;
            let leased = job.grabbed_until() > n;
            let nested = job.client().grab_and_work_on(job.handle())?;
            push(&r, (leased, nested));
            job.completed()?;
            Ok(())
        }),
    );
    let available = ins(&c, Job::new(FN));
    let until = plus(now(&c), 100);
    let grabbed = ins(&c, Job::new(FN).grabbed_until(until));
    Setup {
        c,
        available,
        grabbed,
        grabbed_until: until.timestamp(),
        inside,
    }
}

/// 1-3. A leased job is not worked, gets no failure, and its lease is unchanged.
fn leased_job_not_worked(ctx: &Ctx) {
    let s = setup(ctx);
    assert!(
        !s.c.grab_and_work_on(&s.grabbed).must("grab_and_work_on"),
        "worked a leased job"
    );
    assert!(failure_log(&s.c, &s.grabbed).is_empty());
    assert_eq!(
        lookup(&s.c, &s.grabbed).grabbed_until().timestamp(),
        s.grabbed_until
    );
    assert!(seen(&s.inside).is_empty(), "the worker ran");
}

/// 4-7. An available job is grabbed (leased while working: a nested grab_and_work_on
/// refuses it) and worked.
fn available_job_worked(ctx: &Ctx) {
    let s = setup(ctx);
    assert!(s.c.grab_and_work_on(&s.available).must("grab_and_work_on"));
    assert_eq!(
        seen(&s.inside),
        vec![(true, false)],
        "(leased while working, nested call result)"
    );
    assert!(failure_log(&s.c, &s.available).is_empty());
    assert!(!pending(&s.c, &s.available));
}

/// 8-9. Once gone, grab_and_work_on returns false with no failure.
fn gone_job_returns_false(ctx: &Ctx) {
    let s = setup(ctx);
    assert!(s.c.grab_and_work_on(&s.available).must("first"));
    assert!(
        !s.c.grab_and_work_on(&s.available).must("second"),
        "worked a finished job"
    );
    assert!(failure_log(&s.c, &s.available).is_empty());
    assert_eq!(seen(&s.inside).len(), 1);
}

/// After the lease runs out the formerly leased job can be worked.
fn leased_job_worked_after_lease(ctx: &Ctx) {
    let s = setup(ctx);
    ctx.advance(101);
    assert!(s.c.grab_and_work_on(&s.grabbed).must("grab_and_work_on"));
    assert!(!pending(&s.c, &s.grabbed));
}

/// grab_and_work_on ignores run_after (8.26, B14).
fn ignores_run_after(ctx: &Ctx) {
    let s = setup(ctx);
    let later = ins(&s.c, Job::new(FN).run_after(plus(now(&s.c), 1000)));
    assert!(
        s.c.grab_and_work_on(&later).must("grab_and_work_on"),
        "a future job was not worked"
    );
    assert!(!pending(&s.c, &later));
}

cases!("grab_and_work_on";
    leased_job_not_worked,
    available_job_worked,
    gone_job_returns_false,
    leased_job_worked_after_lease,
    ignores_run_after,
);
