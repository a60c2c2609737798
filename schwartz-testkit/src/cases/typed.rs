//! Typed jobs: a type binds its function name, argument and policy; `Client::insert` takes
//! its values, `Client::handle` registers its handler, and string-named jobs of the same
//! name reach the same handler.

use std::time::Duration;

use schwartz_core::TypedJob;

use super::common::*;

/// A typed job with a policy: 2 retries, 100 s apart, a 7-second lease, statuses kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Resize {
    image: String,
    width: u32,
}

impl TypedJob for Resize {
    const NAME: &'static str = "Typed::Resize";
    fn max_retries(&self) -> u32 {
        2
    }
    fn retry_delay(_failures: u32) -> Duration {
        secs(100)
    }
    fn grab_for() -> Duration {
        secs(7)
    }
    fn keep_exit_status_for() -> Duration {
        secs(50)
    }
}

fn resize() -> Resize {
    Resize {
        image: "cat.png".into(),
        width: 640,
    }
}

/// The value inserted is the value handled; the job is done.
fn typed_value_reaches_its_handler(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let got = rec();
    let g = got.clone();
    c.handle(move |r: Resize, _: &QueuedJob| {
        push(&g, r);
        Ok(())
    })
    .must("handle");
    let h = c.insert(resize()).must("insert a typed value");
    assert_eq!(lookup(&c, &h).funcname(), Resize::NAME);
    assert!(work_once(&c));
    assert_eq!(seen(&got), vec![resize()]);
    assert!(!pending(&c, &h));
    assert_eq!(exit_status(&c, &h), Some(0), "keep_exit_status_for applies");
}

/// The type's policy is the job's: its lease length, its retries and their delay.
fn typed_policy_is_applied(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    c.handle(|r: Resize, job: &QueuedJob| {
        assert_eq!(job.grab_for(), secs(7), "grab_for of {r:?}");
        Err(werr("the image is corrupt"))
    })
    .must("handle");
    let h = c.insert(resize()).must("insert");
    let before = now(&c);
    assert!(work_once(&c));
    assert_eq!(failures(&c, &h), 1);
    let j = lookup(&c, &h);
    assert!(
        j.run_after() >= plus(before, 99),
        "retry_delay: run_after {} is not 100 s after {before}",
        j.run_after()
    );
    ctx.advance(101);
    assert!(work_once(&c));
    ctx.advance(101);
    assert!(work_once(&c));
    assert_eq!(failures(&c, &h), 3);
    assert!(!pending(&c, &h), "max_retries 2: three attempts, then gone");
    assert_eq!(exit_status(&c, &h), Some(1));
}

/// A string-named job of the type's name reaches the typed handler; one whose argument is
/// not the type fails for good, without retries.
fn string_named_jobs_meet_typed_handlers(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let got = rec();
    let g = got.clone();
    c.handle(move |r: Resize, _: &QueuedJob| {
        push(&g, r.width);
        Ok(())
    })
    .must("handle");
    let by_name = ins(&c, job_with(Resize::NAME, &resize()));
    assert!(work_once(&c));
    assert!(!pending(&c, &by_name));
    assert_eq!(seen(&got), vec![640]);
    let wrong = ins(&c, job_with(Resize::NAME, &"not a resize"));
    assert!(work_once(&c));
    assert!(
        !pending(&c, &wrong),
        "an undecodable argument is not retried"
    );
    assert_eq!(failures(&c, &wrong), 1);
    assert_eq!(seen(&got), vec![640], "the handler never saw it");
}

/// `to_job` gives a job to refine (uniqkey, priority) before inserting it.
fn typed_job_takes_job_options(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let job = resize().to_job().must("to_job").uniqkey("cat.png");
    let h = ins(&c, job.clone());
    assert!(matches!(c.insert(job), Err(Error::DuplicateUniqkey { .. })));
    assert_eq!(lookup(&c, &h).uniqkey(), Some("cat.png"));
    assert_eq!(lookup(&c, &h).arg::<Resize>().must("decode"), resize());
}

cases!("typed";
    typed_value_reaches_its_handler,
    typed_policy_is_applied,
    string_named_jobs_meet_typed_handlers,
    typed_job_takes_job_options,
);
