//! `t/replace-abort.t` (spec 8.19): a replacement that collides on its uniqkey aborts the
//! whole replace; the original is kept, a failure recorded, and it is retried.
//!
//! Upstream this held only on PostgreSQL (MySQL/SQLite silently lost the replacement,
//! bug B2); replace_with is all-or-nothing on every backend here, so this runs everywhere.

use super::common::*;

const DONE: &str = "Test::Job::Completed";
const REPLACE: &str = "Test::Job::Replace";

struct Two {
    c1: Client,
    c2: Client,
    s: Arc<dyn Store>,
}

fn setup(ctx: &Ctx) -> Two {
    let s = ctx.store();
    let c1 = ctx.client(&[Arc::clone(&s)]);
    can_do(&c1, DONE, TestWorker::completing().max_retries(10));
    let c2 = ctx.client(&[Arc::clone(&s)]);
    can_do(
        &c2,
        REPLACE,
        TestWorker::new(|job| {
            let key = String::from_utf8(job.raw_arg().unwrap_or_default().to_vec())?;
            job.replace_with(vec![Job::new(DONE).uniqkey(key)])?;
            Ok(())
        })
        .max_retries(10),
    );
    Two { c1, c2, s }
}

/// How many pending jobs have this uniqkey (upstream: `SELECT COUNT(*) ... WHERE uniqkey`).
fn count(t: &Two, key: &str) -> usize {
    list(&t.c1, &[DONE, REPLACE])
        .iter()
        .filter(|j| j.uniqkey() == Some(key))
        .count()
}

/// 1-3. A completed job's uniqkey disappears.
fn completed_job_removed(ctx: &Ctx) {
    let t = setup(ctx);
    for k in ["1", "2", "3", "4", "5"] {
        assert_eq!(count(&t, k), 0);
    }
    ins(&t.c1, Job::new(DONE).uniqkey("1"));
    assert_eq!(count(&t, "1"), 1);
    assert!(work_once(&t.c1));
    assert_eq!(count(&t, "1"), 0);
}

/// 4-6. A replace moves the work to the replacement's uniqkey.
fn replace_moves_to_new_uniqkey(ctx: &Ctx) {
    let t = setup(ctx);
    ins(&t.c2, Job::new(REPLACE).uniqkey("2").raw_arg(b"3".to_vec()));
    assert_eq!(count(&t, "2"), 1);
    assert!(work_once(&t.c2));
    assert_eq!(count(&t, "2"), 0);
    assert_eq!(count(&t, "3"), 1);
}

fn collide(ctx: &Ctx) -> (Two, JobHandle) {
    let t = setup(ctx);
    ins(&t.c2, Job::new(REPLACE).uniqkey("2").raw_arg(b"3".to_vec()));
    assert!(work_once(&t.c2));
    let h4 = ins(&t.c2, Job::new(REPLACE).uniqkey("4").raw_arg(b"3".to_vec()));
    assert_eq!(count(&t, "4"), 1);
    assert!(work_once(&t.c2), "work_once on the colliding replace");
    (t, h4)
}

/// 7-9. The colliding replace keeps job 4 (failed, to retry) and the existing job 3.
fn colliding_replace_keeps_original(ctx: &Ctx) {
    let (t, h4) = collide(ctx);
    assert_eq!(count(&t, "4"), 1, "the original was lost");
    assert_eq!(count(&t, "3"), 1);
    assert_eq!(
        failures(&t.c2, &h4),
        1,
        "the aborted replace was not recorded as a failure"
    );
    assert_eq!(stats(&t.s).jobs, 2, "a partial replace left extra rows");
}

/// 10-13. Once job 3 is done, the retried replace succeeds.
fn retried_replace_succeeds(ctx: &Ctx) {
    let (t, h4) = collide(ctx);
    assert!(work_once(&t.c1));
    assert_eq!(count(&t, "3"), 0);
    t.c2.clear_dead();
    assert!(work_once(&t.c2), "the retried replace was not found");
    assert_eq!(count(&t, "4"), 0);
    assert_eq!(count(&t, "3"), 1);
    assert!(!pending(&t.c2, &h4));
    assert!(work_once(&t.c1));
    assert_eq!(count(&t, "3"), 0);
}

cases!("replace_abort";
    completed_job_removed,
    replace_moves_to_new_uniqkey,
    colliding_replace_keeps_original,
    retried_replace_succeeds,
);
