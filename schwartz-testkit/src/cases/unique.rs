//! `t/unique.t` (spec 8.24): at most one pending job per (funcname, uniqkey).

use super::common::*;

/// 1-2. A job with a uniqkey inserts.
fn first_insert_ok(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new("feed").uniqkey("major"));
    assert_eq!(lookup(&c, &h).uniqkey(), Some("major"));
}

/// 3-4. The same key under another function does not clash.
fn same_key_other_function_ok(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("major"));
    ins(&c, Job::new("scratch").uniqkey("major"));
}

/// 5-6. A second feed/major is refused (`DuplicateUniqkey`), nothing written, and the
/// store is not marked dead.
fn duplicate_refused(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("major"));
    ins(&c, Job::new("scratch").uniqkey("major"));
    c.clear_dead();
    let e = assert_err!(
        c.insert(Job::new("feed").uniqkey("major")),
        Error::DuplicateUniqkey { .. }
    );
    assert!(!e.marks_store_dead());
    assert!(
        !c.is_dead(&h0(&c)),
        "a unique violation marked the store dead"
    );
    assert_eq!(stats(&s).jobs, 2);
}

/// Once the job is finished its key can be used again.
fn key_reusable_after_completion(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, "feed", TestWorker::completing());
    ins(&c, Job::new("feed").uniqkey("major"));
    assert!(work_once(&c));
    ins(&c, Job::new("feed").uniqkey("major"));
}

/// Jobs without a uniqkey never collide.
fn no_uniqkey_never_collides(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    for _ in 0..5 {
        ins(&c, Job::new("feed"));
    }
    assert_eq!(stats(&s).jobs, 5);
}

/// uniqkeys compare exactly (case-sensitive on every backend).
fn uniqkey_case_sensitive(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("Major"));
    ins(&c, Job::new("feed").uniqkey("major"));
    assert_eq!(stats(&s).jobs, 2);
}

/// `insert_jobs` colliding with an existing pending job inserts none of its jobs.
fn insert_jobs_colliding_with_existing(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("k"));
    let r = c.insert_jobs(vec![
        Job::new("feed").uniqkey("other"),
        Job::new("feed").uniqkey("k"),
    ]);
    assert_err!(r, Error::DuplicateUniqkey { .. });
    assert_eq!(stats(&s).jobs, 1, "insert_jobs was not all-or-nothing");
    ins(&c, Job::new("feed").uniqkey("other"));
}

/// A job still leased or waiting for a retry keeps its key.
fn failed_job_keeps_key(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "feed",
        TestWorker::new(|_| Err(werr("again")))
            .max_retries(5)
            .retry_delay(|_| secs(100)),
    );
    ins(&c, Job::new("feed").uniqkey("k"));
    assert!(work_once(&c));
    assert_err!(
        c.insert(Job::new("feed").uniqkey("k")),
        Error::DuplicateUniqkey { .. }
    );
}

cases!("unique";
    first_insert_ok,
    same_key_other_function_ok,
    duplicate_refused,
    key_reusable_after_completion,
    no_uniqkey_never_collides,
    uniqkey_case_sensitive,
    insert_jobs_colliding_with_existing,
    failed_job_keeps_key,
);
