//! `t/fail-working-multiple.t` (spec 8.11): a worker finishes its job, grabs a second,
//! makes it current, then dies: the failure is charged to the current (second) job.

use super::common::*;

const FN: &str = "Worker::Fail";

enum Death {
    Error,
    Panic,
}

fn run(ctx: &Ctx, death: Death) -> (Client, JobHandle, JobHandle) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            job.completed()?;
            let second = job
                .client()
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
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r, job.client().current_job().map(|j| j.jobid()));
            Ok(())
        }),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert_eq!(seen(&seen_ids), vec![Some(h.jobid())]);
}

cases!("fail_working_multiple";
    failure_charged_to_current_job,
    first_completed_second_retried,
    panic_charged_to_current_job,
    current_job_during_work,
);
