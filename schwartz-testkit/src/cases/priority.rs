//! Priorities: highest first with NULL last, FIFO among equals, the priority floor, and
//! jobid order when prioritizing is off.

use super::common::*;

const FN: &str = "Worker::Priority";

/// What the worker saw: (priority, jobid) per job, in work order.
type Seen = Rec<(Option<i32>, JobId)>;

fn client(ctx: &Ctx, floor: Option<i32>) -> (Client, Seen) {
    client_and_store(ctx, floor).0
}

fn client_and_store(ctx: &Ctx, floor: Option<i32>) -> ((Client, Seen), Arc<dyn Store>) {
    let s = ctx.store();
    let mut b = ctx
        .builder()
        .store(Arc::clone(&s))
        .batch_size(1)
        .order(JobOrder::PriorityDesc);
    if let Some(f) = floor {
        b = b.floor(f);
    }
    let c = b.build().must("client");
    let r = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r2, (job.priority(), job.jobid()));
            job.completed()?;
            Ok(())
        }),
    );
    ((c, r), s)
}

/// Part A: priorities 10..2 then the NULL one, 10 `work_once`, then none.
fn highest_priority_first_null_last(ctx: &Ctx) {
    let (c, r) = client(ctx, None);
    ins(&c, Job::new(FN));
    for p in 2..=10 {
        ins(&c, Job::new(FN).priority(p));
    }
    for i in 0..10 {
        assert!(work_once(&c), "work_once #{i}");
    }
    assert!(!work_once(&c), "11th work_once found a job");
    let got: Vec<Option<i32>> = seen(&r).iter().map(|(p, _)| *p).collect();
    let mut want: Vec<Option<i32>> = (2..=10).rev().map(Some).collect();
    want.push(None);
    assert_eq!(got, want);
}

/// Part A variant: priorities 1..10 all set come out 10..1.
fn priorities_descending(ctx: &Ctx) {
    let (c, r) = client(ctx, None);
    for p in [3, 1, 10, 7, 5, 2, 9, 4, 8, 6] {
        ins(&c, Job::new(FN).priority(p));
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 10);
    let got: Vec<Option<i32>> = seen(&r).iter().map(|(p, _)| *p).collect();
    assert_eq!(got, (1..=10).rev().map(Some).collect::<Vec<_>>());
}

/// Part B: equal priorities come out in jobid order.
fn equal_priority_fifo(ctx: &Ctx) {
    let (c, r) = client(ctx, None);
    let hs: Vec<JobHandle> = (0..5).map(|_| ins(&c, Job::new(FN).priority(5))).collect();
    for i in 0..5 {
        assert!(work_once(&c), "work_once #{i}");
    }
    assert!(!work_once(&c));
    let got: Vec<JobId> = seen(&r).iter().map(|(_, id)| *id).collect();
    let want: Vec<JobId> = hs.iter().map(|h| h.jobid()).collect();
    assert_eq!(got, want);
}

/// Part C: floor 3: three jobs (priority >= 3) are worked, then none although 1 and 2 remain.
fn floor_excludes_low_priority(ctx: &Ctx) {
    let ((c, r), s) = client_and_store(ctx, Some(3));
    for p in 1..=5 {
        ins(&c, Job::new(FN).priority(p));
    }
    for i in 0..3 {
        assert!(work_once(&c), "work_once #{i}");
    }
    assert!(!work_once(&c), "a job under the floor was worked");
    assert!(seen(&r).iter().all(|(p, _)| p.is_some_and(|p| p >= 3)));
    assert_eq!(stats(&s).jobs, 2, "the jobs under the floor should remain");
}

/// A floor also excludes NULL priorities, and `list_jobs` applies it.
fn floor_excludes_null_and_applies_to_list(ctx: &Ctx) {
    let (c, _r) = client(ctx, Some(3));
    ins(&c, Job::new(FN));
    ins(&c, Job::new(FN).priority(2));
    ins(&c, Job::new(FN).priority(4));
    let listed = list(&c, &[FN]);
    assert_eq!(listed.len(), 1, "list_jobs ignored the floor");
    assert_eq!(listed[0].priority(), Some(4));
    assert!(work_once(&c));
    assert!(!work_once(&c));
    c.set_floor(None).must("clearing the floor");
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
}

/// A floor needs prioritize: the builder and `set_floor` refuse it otherwise.
fn floor_requires_prioritize(ctx: &Ctx) {
    let s = ctx.store();
    assert_err!(
        ctx.builder().store(Arc::clone(&s)).floor(3).build(),
        Error::InvalidInput(_)
    );
    let c = ctx.client(&[s]);
    assert_err!(c.set_floor(Some(3)), Error::InvalidInput(_));
    c.set_order(JobOrder::PriorityDesc);
    c.set_floor(Some(3)).must("set_floor with prioritize");
}

/// Without prioritize, priority is ignored: jobid order (batch size 1).
fn without_prioritize_jobid_order(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx.builder().store(s).batch_size(1).build().must("client");
    let r: Rec<JobId> = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r2, job.jobid());
            Ok(())
        }),
    );
    let hs: Vec<JobHandle> = [1, 9, 5]
        .iter()
        .map(|p| ins(&c, Job::new(FN).priority(*p)))
        .collect();
    assert_eq!(c.work_until_done().must("work_until_done"), 3);
    assert_eq!(seen(&r), hs.iter().map(|h| h.jobid()).collect::<Vec<_>>());
}

/// `set_order` switches to priority order on a live client.
fn set_order_at_runtime(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx.builder().store(s).batch_size(1).build().must("client");
    let r: Rec<Option<i32>> = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r2, job.priority());
            Ok(())
        }),
    );
    for p in [1, 3, 2] {
        ins(&c, Job::new(FN).priority(p));
    }
    c.set_order(JobOrder::PriorityDesc);
    assert_eq!(c.work_until_done().must("work_until_done"), 3);
    assert_eq!(seen(&r), vec![Some(3), Some(2), Some(1)]);
}

cases!(
    "priority";
    highest_priority_first_null_last,
    priorities_descending,
    equal_priority_fifo,
    floor_excludes_low_priority,
    floor_excludes_null_and_applies_to_list,
    floor_requires_prioritize,
    without_prioritize_jobid_order,
    set_order_at_runtime,
);
