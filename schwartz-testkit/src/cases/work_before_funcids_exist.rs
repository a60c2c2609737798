//! `t/work-before-funcids-exist.t` (spec 8.25): abilities whose funcmap rows do not exist
//! yet work (rows are created on the fly).

use super::common::*;

fn client(ctx: &Ctx) -> (Client, Arc<dyn Store>) {
    let (c, s) = ctx.client1();
    can_do(
        &c,
        "Worker::Dummy",
        TestWorker::new(|job| {
            job.replace_with(vec![Job::new("Worker::Dummy2")])?;
            Ok(())
        })
        .max_retries(2)
        .retry_delay(|_| secs(5)),
    );
    can_do(&c, "Worker::Dummy2", TestWorker::completing());
    can_do(&c, "Worker::Dummy3", TestWorker::completing());
    (c, s)
}

/// 1-2. Dummy is replaced by Dummy2 (never inserted before), which is then worked.
fn replaced_then_completed(ctx: &Ctx) {
    let (c, s) = client(ctx);
    let h = ins(&c, Job::new("Worker::Dummy"));
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    assert!(!pending(&c, &h));
    assert_eq!(stats(&s).jobs, 0);
    assert_eq!(failures(&c, &h), 0);
}

/// Working with abilities nobody inserted yet finds nothing and fails nothing.
fn unknown_abilities_find_nothing(ctx: &Ctx) {
    let (c, s) = client(ctx);
    assert!(!work_once(&c));
    assert_eq!(stats(&s).jobs, 0);
    // A job of a function first seen after the client started is found.
    ins(&ctx.client(&[Arc::clone(&s)]), Job::new("Worker::Dummy3"));
    assert!(
        work_once(&c),
        "a job of a function created after the first lookup was not found"
    );
}

cases!("work_before_funcids_exist";
    replaced_then_completed,
    unknown_abilities_find_nothing,
);
