//! Leases: `grab_for`, expiry making a job grabbable again, extending a lease, and every
//! outcome written by an owner whose lease was taken over being refused (fencing).

use super::common::*;

const FN: &str = "Worker::Lease";

/// grab_for of the lease cases: long, so a slow database's wall-clock time cannot matter.
const LEASE: u64 = 100;

struct Takeover {
    a: Client,
    b: Client,
    s: Arc<dyn Store>,
    h: JobHandle,
    old: QueuedJob,
    new: QueuedJob,
}

fn two_clients(ctx: &Ctx) -> (Client, Client, Arc<dyn Store>) {
    let s = ctx.store();
    let a = ctx.client(&[Arc::clone(&s)]);
    let b = ctx.client(&[Arc::clone(&s)]);
    for c in [&a, &b] {
        can_do(
            c,
            FN,
            TestWorker::completing()
                .grab_for(LEASE)
                .max_retries(5)
                .keep(100),
        );
    }
    (a, b, s)
}

/// A grabs (grab_for 100); 101 s later B grabs the same job.
fn takeover(ctx: &Ctx) -> Takeover {
    let (a, b, s) = two_clients(ctx);
    let h = ins(&a, Job::new(FN));
    let old = grab(&a, FN).expect("A grabs");
    assert!(grab(&b, FN).is_none(), "B grabbed a leased job");
    ctx.advance(LEASE + 1);
    let new = grab(&b, FN).expect("B grabs after the lease ran out");
    assert_eq!(new.handle(), &h);
    assert_ne!(
        new.grabbed_until(),
        old.grabbed_until(),
        "the new lease has the old token"
    );
    Takeover {
        a,
        b,
        s,
        h,
        old,
        new,
    }
}

/// The new owner's row is untouched: same lease, no error row, still pending.
#[track_caller]
fn assert_new_owner_intact(t: &Takeover) {
    let row =
        t.s.lookup(t.h.jobid())
            .must("lookup")
            .expect("the job row was removed");
    assert_eq!(
        row.grabbed_until,
        datetime_to_epoch(t.new.grabbed_until()),
        "the new owner's lease was changed"
    );
    assert_eq!(failures(&t.b, &t.h), 0, "an error row was written");
    assert_eq!(exit_status(&t.b, &t.h), None, "an exit status was written");
    assert_eq!(stats(&t.s).jobs, 1);
    t.new.completed().must("the new owner completes");
    assert!(!pending(&t.b, &t.h));
}

/// `completed` after a takeover: `LeaseLost`.
fn completed_after_takeover(ctx: &Ctx) {
    let t = takeover(ctx);
    let e = assert_err!(t.old.completed(), Error::LeaseLost { .. });
    assert!(
        e.to_string().contains(&t.h.jobid().to_string()),
        "message should name the job: {e}"
    );
    assert_new_owner_intact(&t);
}

/// `failed` after a takeover: `LeaseLost`, no error row.
fn failed_after_takeover(ctx: &Ctx) {
    let t = takeover(ctx);
    assert_err!(t.old.failed("late failure"), Error::LeaseLost { .. });
    assert_new_owner_intact(&t);
}

/// `permanent_failure` after a takeover: `LeaseLost`.
fn permanent_failure_after_takeover(ctx: &Ctx) {
    let t = takeover(ctx);
    assert_err!(t.old.permanent_failure("late"), Error::LeaseLost { .. });
    assert_new_owner_intact(&t);
}

/// `declined_until` after a takeover: `LeaseLost`.
fn declined_until_after_takeover(ctx: &Ctx) {
    let t = takeover(ctx);
    assert_err!(
        t.old.declined_until(plus(now(&t.a), 100)),
        Error::LeaseLost { .. }
    );
    assert_new_owner_intact(&t);
}

/// `replace_with` after a takeover: `LeaseLost`, no replacement inserted.
fn replace_with_after_takeover(ctx: &Ctx) {
    let t = takeover(ctx);
    assert_err!(
        t.old.replace_with(vec![Job::new("Replacement")]),
        Error::LeaseLost { .. }
    );
    assert!(
        list(&t.a, &["Replacement"]).is_empty(),
        "a replacement was inserted"
    );
    assert_new_owner_intact(&t);
}

/// `extend_lease` after a takeover: `LeaseLost`.
fn extend_lease_after_takeover(ctx: &Ctx) {
    let t = takeover(ctx);
    assert_err!(t.old.extend_lease(secs(1000)), Error::LeaseLost { .. });
    assert_new_owner_intact(&t);
}

/// A worker that outlives its lease: `work_safely` reports `LeaseLost` and writes nothing.
fn work_safely_reports_lease_lost(ctx: &Ctx) {
    let (a, b, s) = two_clients(ctx);
    let shift = ctx.shift();
    let stolen: Rec<QueuedJob> = rec();
    let st = stolen.clone();
    let b2 = b.clone();
    can_do(
        &a,
        "Slow",
        TestWorker::new(move |_job| {
            // The job takes longer than its lease; meanwhile B takes it over.
            shift.advance(secs(LEASE + 1));
            if let Some(j) = b2.grab_job("Slow")? {
                push(&st, j);
            }
            Ok(())
        })
        .grab_for(LEASE),
    );
    can_do(&b, "Slow", TestWorker::completing().grab_for(LEASE));
    let h = ins(&a, Job::new("Slow"));
    let j = grab(&a, "Slow").expect("A grabs");
    assert_eq!(a.work_safely(j).must("work_safely"), WorkOutcome::LeaseLost);
    let taken = seen(&stolen);
    assert_eq!(taken.len(), 1, "B did not take the job over");
    let row = s
        .lookup(h.jobid())
        .must("lookup")
        .expect("the job was completed by the old owner");
    assert_eq!(
        row.grabbed_until,
        datetime_to_epoch(taken[0].grabbed_until())
    );
    assert_eq!(failures(&a, &h), 0);
}

/// A failing worker that outlives its lease: the failure is not written either.
fn failing_worker_after_takeover_writes_nothing(ctx: &Ctx) {
    let (a, b, _s) = two_clients(ctx);
    let shift = ctx.shift();
    let b2 = b.clone();
    can_do(
        &a,
        "Slow",
        TestWorker::new(move |_| {
            shift.advance(secs(LEASE + 1));
            let _taken = b2.grab_job("Slow")?;
            Err(werr("late failure"))
        })
        .grab_for(LEASE),
    );
    let h = ins(&a, Job::new("Slow"));
    let j = grab(&a, "Slow").expect("A grabs");
    assert_eq!(a.work_safely(j).must("work_safely"), WorkOutcome::LeaseLost);
    assert_eq!(failures(&a, &h), 0, "a fenced-out failure was recorded");
    assert!(pending(&a, &h));
}

/// The lease is the store's time + grab_for.
fn lease_is_now_plus_grab_for(ctx: &Ctx) {
    let (a, _b, _s) = two_clients(ctx);
    ins(&a, Job::new(FN));
    let before = a.now(&h0(&a)).must("now");
    let j = grab(&a, FN).expect("grab");
    let after = a.now(&h0(&a)).must("now");
    let until = datetime_to_epoch(j.grabbed_until());
    let l = LEASE as i64;
    assert!(
        until >= before + l && until <= after + l,
        "grabbed_until {until} not in [{before}+{l}, {after}+{l}]"
    );
    assert_eq!(j.row().grabbed_until, until);
}

/// grab_for 0 counts as 1 second.
fn grab_for_zero_is_one_second(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, FN, TestWorker::completing().grab_for(0));
    ins(&c, Job::new(FN));
    let before = c.now(&h0(&c)).must("now");
    let j = grab(&c, FN).expect("grab");
    let after = c.now(&h0(&c)).must("now");
    let until = datetime_to_epoch(j.grabbed_until());
    assert!(
        until > before && until <= after + 1,
        "grab_for 0: grabbed_until {until}, now {before}..{after}"
    );
}

/// A lease holds until the store's clock passes it, then anyone may grab.
fn lease_expiry_makes_job_grabbable(ctx: &Ctx) {
    let (a, b, _s) = two_clients(ctx);
    ins(&a, Job::new(FN));
    let _j = grab(&a, FN).expect("grab");
    ctx.advance(LEASE / 2);
    assert!(grab(&b, FN).is_none(), "lease stolen before it ran out");
    ctx.advance(LEASE / 2 + 1);
    assert!(grab(&b, FN).is_some());
}

/// Each new holder of a job gets a greater fencing token, extending raises it, and the
/// stale holder's writes are refused while the new holder's succeed.
fn fencing_token_grows_with_each_holder(ctx: &Ctx) {
    let (a, b, _s) = two_clients(ctx);
    ins(&a, Job::new(FN));
    let first = grab(&a, FN).expect("A grabs");
    let t1 = first.fencing_token();
    assert_eq!(t1, datetime_to_epoch(first.grabbed_until()));
    assert!(t1 > 0, "a grabbed job has a token");
    ctx.advance(LEASE + 1);
    let second = grab(&b, FN).expect("B grabs after the lease ran out");
    let t2 = second.fencing_token();
    assert!(
        t2 > t1,
        "the new holder's token {t2} is not above the old {t1}"
    );
    ctx.advance(LEASE / 2);
    second.extend_lease(secs(LEASE)).must("extend_lease");
    let t3 = second.fencing_token();
    assert!(t3 > t2, "extending did not raise the token ({t2} -> {t3})");
    assert!(
        matches!(first.completed(), Err(Error::LeaseLost { .. })),
        "the stale holder wrote"
    );
    second.completed().must("the current holder completes");
}

/// `extend_lease` moves the lease (and the token) forward; the job can still be completed.
fn extend_lease_moves_token(ctx: &Ctx) {
    let (a, b, s) = two_clients(ctx);
    let h = ins(&a, Job::new(FN));
    let j = grab(&a, FN).expect("grab");
    let old = j.grabbed_until();
    j.extend_lease(secs(1000)).must("extend_lease");
    let new = j.grabbed_until();
    assert!(
        new > old,
        "extend_lease did not move grabbed_until ({old} -> {new})"
    );
    assert!(new >= plus(now(&a), 999));
    let row = s.lookup(h.jobid()).must("lookup").expect("row");
    assert_eq!(row.grabbed_until, datetime_to_epoch(new));
    ctx.advance(500);
    assert!(grab(&b, FN).is_none(), "an extended lease was taken over");
    j.completed().must("completing after extending");
    assert!(!pending(&a, &h));
}

/// Extending twice keeps working (each extension is fenced on the previous one).
fn extend_lease_repeatedly(ctx: &Ctx) {
    let (a, b, _s) = two_clients(ctx);
    ins(&a, Job::new(FN));
    let j = grab(&a, FN).expect("grab");
    for _ in 0..3 {
        ctx.advance(80);
        j.extend_lease(secs(LEASE)).must("extend_lease");
        assert!(grab(&b, FN).is_none());
    }
    j.failed("after extending").must("failing after extending");
    assert_eq!(failures(&a, j.handle()), 1);
}

/// Outcome methods on a finished job: `AlreadyFinished`, nothing written.
fn already_finished(ctx: &Ctx) {
    let (a, _b, _s) = two_clients(ctx);
    let h = ins(&a, Job::new(FN));
    let j = grab(&a, FN).expect("grab");
    j.completed().must("completed");
    assert_err!(j.completed(), Error::AlreadyFinished { .. });
    assert_err!(j.failed("x"), Error::AlreadyFinished { .. });
    assert_err!(j.permanent_failure("x"), Error::AlreadyFinished { .. });
    assert_err!(j.declined(), Error::AlreadyFinished { .. });
    assert_eq!(failures(&a, &h), 0);
    assert_eq!(exit_status(&a, &h), Some(0));
}

/// A job completed by its new owner: the old owner's write is refused, not an error row.
fn old_owner_after_completion(ctx: &Ctx) {
    let t = takeover(ctx);
    t.new.completed().must("new owner completes");
    assert_err!(t.old.failed("late"), Error::LeaseLost { .. });
    assert_eq!(failures(&t.a, &t.h), 0);
    assert_eq!(exit_status(&t.a, &t.h), Some(0));
}

/// Outcomes written later (the worker pool's batched writer) are fenced too.
fn deferred_completion_fenced(ctx: &Ctx) {
    let (a, b, _s) = two_clients(ctx);
    can_do(&a, "Quick", TestWorker::ok().grab_for(LEASE));
    can_do(&b, "Quick", TestWorker::ok().grab_for(LEASE));
    let h = ins(&a, Job::new("Quick"));
    let j = grab(&a, "Quick").expect("grab");
    let later = Collect::default();
    execute(j, &later, None).must("execute");
    let d = later.take();
    assert_eq!(d.len(), 1, "the completion is kept for later");
    ctx.advance(LEASE + 1);
    let _taken = grab(&b, "Quick").expect("B takes over");
    let results = apply(d);
    assert_eq!(results.len(), 1);
    assert_err!(
        results.into_iter().next().expect("one").result,
        Error::LeaseLost { .. }
    );
    assert!(pending(&a, &h));
}

/// `release` after a takeover changes nothing for the new owner.
fn release_after_takeover(ctx: &Ctx) {
    let t = takeover(ctx);
    t.a.release(vec![t.old.clone()])
        .must("release of a lost job is skipped, not an error");
    assert_new_owner_intact(&t);
}

cases!(
    "lease";
    release_after_takeover,
    completed_after_takeover,
    failed_after_takeover,
    permanent_failure_after_takeover,
    declined_until_after_takeover,
    replace_with_after_takeover,
    extend_lease_after_takeover,
    work_safely_reports_lease_lost,
    failing_worker_after_takeover_writes_nothing,
    lease_is_now_plus_grab_for,
    grab_for_zero_is_one_second,
    lease_expiry_makes_job_grabbable,
    extend_lease_moves_token,
    fencing_token_grows_with_each_holder,
    extend_lease_repeatedly,
    already_finished,
    old_owner_after_completion,
    deferred_completion_fenced,
);
