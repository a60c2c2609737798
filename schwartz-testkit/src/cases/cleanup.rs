//! `t/cleanup.t` (spec 8.4): error pruning by age and exit-status pruning by
//! `delete_after`, with the test knobs `$T_ERRORS_MAX_AGE` and `$T_EXITSTATUS_CLEAN_THRES`.
//!
//! Upstream keeps exit statuses 1 s, prunes errors older than 2 s and sleeps 3 s; here the
//! numbers are scaled up (keep 100 s, max age 200 s, advance 300 s) so that wall-clock time
//! spent by a slow database cannot change the outcome, and time moves by the clock shift.

use super::common::*;
use schwartz_core::Pruning;

const FAIL: &str = "Worker::Fail";
const COMPLETE: &str = "Worker::Complete";

fn client(ctx: &Ctx, s: &Arc<dyn Store>, pruning: Pruning) -> Client {
    let c = ctx
        .builder()
        .store(Arc::clone(s))
        .exit_status_clean_probability(1.0)
        .error_max_age(secs(200))
        .pruning(pruning)
        .build()
        .must("building the client");
    can_do(
        &c,
        FAIL,
        TestWorker::new(|job| Ok(job.failed("an error message")?))
            .keep(100)
            .max_retries(0)
            .retry_delay(|_| secs(1)),
    );
    can_do(&c, COMPLETE, TestWorker::completing().keep(100));
    c
}

struct Scenario {
    c: Client,
    s: Arc<dyn Store>,
    h1: JobHandle,
    h2: JobHandle,
}

/// Steps 1-7: a failing job, then a completing one.
fn first_two(ctx: &Ctx, pruning: Pruning) -> Scenario {
    let s = ctx.store();
    let c = client(ctx, &s, pruning);
    let h1 = ins(&c, Job::new(FAIL));
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    let h2 = ins(&c, Job::new(COMPLETE));
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    Scenario { c, s, h1, h2 }
}

/// 1-3. A failed job (no retries, keep 100) has one failure and an exit status row.
fn failure_writes_error_and_exit_status(ctx: &Ctx) {
    let s = ctx.store();
    let c = client(ctx, &s, Pruning::Inline);
    let h = ins(&c, Job::new(FAIL));
    assert_eq!(c.work_until_done().must("work_until_done"), 1);
    assert_eq!(failures(&c, &h), 1);
    assert_eq!(failure_log(&c, &h), vec!["an error message".to_string()]);
    assert_eq!(stats(&s).exit_statuses, 1);
    assert_eq!(
        exit_status(&c, &h),
        Some(1),
        "final failure keeps exit status 1"
    );
    assert!(!pending(&c, &h));
}

/// 4-7. A completed job adds a second exit status; the one error row is job 1's.
fn completion_adds_exit_status(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    let st = stats(&sc.s);
    assert_eq!(st.exit_statuses, 2);
    assert_eq!(st.errors, 1);
    assert_eq!(exit_status(&sc.c, &sc.h2), Some(0));
    let errs =
        sc.s.recent_failures(None, None, 100)
            .must("recent_failures");
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].jobid,
        sc.h1.jobid(),
        "the error row belongs to the failed job"
    );
}

/// 8. After the keep time, writing a new exit status prunes the expired ones.
fn expired_exit_statuses_pruned(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    ctx.advance(300);
    let h3 = ins(&sc.c, Job::new(FAIL));
    assert_eq!(sc.c.work_until_done().must("work_until_done"), 1);
    assert_eq!(
        stats(&sc.s).exit_statuses,
        1,
        "expired exit statuses were not pruned"
    );
    assert_eq!(exit_status(&sc.c, &h3), Some(1));
    assert_eq!(
        exit_status(&sc.c, &sc.h2),
        None,
        "job 2's exit status should be gone"
    );
}

/// 9-10. Errors older than the max age are pruned on the next failure; the survivor is
/// the new job's.
fn old_errors_pruned_on_failure(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    ctx.advance(300);
    let h3 = ins(&sc.c, Job::new(FAIL));
    sc.c.work_until_done().must("work_until_done");
    let errs =
        sc.s.recent_failures(None, None, 100)
            .must("recent_failures");
    assert_eq!(errs.len(), 1, "old errors were not pruned: {errs:?}");
    assert_eq!(errs[0].jobid, h3.jobid());
    assert_eq!(
        failures(&sc.c, &sc.h1),
        0,
        "job 1's error should have been pruned"
    );
}

/// Before the keep time nothing is pruned.
fn nothing_pruned_before_expiry(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Inline);
    ctx.advance(50);
    let _h3 = ins(&sc.c, Job::new(FAIL));
    sc.c.work_until_done().must("work_until_done");
    let st = stats(&sc.s);
    assert_eq!(st.exit_statuses, 3);
    assert_eq!(st.errors, 2);
}

/// `Pruning::Off`: nothing is pruned inline; `Client::prune` deletes what expired.
fn prune_off_then_explicit_prune(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Off);
    ctx.advance(300);
    let _h3 = ins(&sc.c, Job::new(FAIL));
    sc.c.work_until_done().must("work_until_done");
    let st = stats(&sc.s);
    assert_eq!(
        st.exit_statuses, 3,
        "Pruning::Off pruned exit statuses inline"
    );
    assert_eq!(st.errors, 2, "Pruning::Off pruned errors inline");
    let report = sc.c.prune(1000).must("prune");
    assert_eq!(report.exit_statuses, 2);
    assert_eq!(report.errors, 1);
    let st = stats(&sc.s);
    assert_eq!((st.exit_statuses, st.errors), (1, 1));
}

/// `Client::prune(limit)` deletes at most `limit` rows of each kind per store.
fn prune_is_bounded(ctx: &Ctx) {
    let s = ctx.store();
    let c = client(ctx, &s, Pruning::Off);
    for _ in 0..3 {
        ins(&c, Job::new(FAIL));
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 3);
    ctx.advance(300);
    let r = c.prune(2).must("prune(2)");
    assert_eq!((r.errors, r.exit_statuses), (2, 2));
    let r = c.prune(2).must("prune(2)");
    assert_eq!((r.errors, r.exit_statuses), (1, 1));
    let st = stats(&s);
    assert_eq!((st.errors, st.exit_statuses), (0, 0));
}

/// The store-level prunes honour their thresholds.
fn store_prune_thresholds(ctx: &Ctx) {
    let sc = first_two(ctx, Pruning::Off);
    let t = sc.c.now(&h0(&sc.c)).must("now");
    assert_eq!(sc.s.prune_errors(t - 1000, 100).must("prune_errors"), 0);
    assert_eq!(
        sc.s.prune_exit_statuses(t, 100).must("prune_exit_statuses"),
        0
    );
    assert_eq!(sc.s.prune_errors(t + 1000, 100).must("prune_errors"), 1);
    assert_eq!(
        sc.s.prune_exit_statuses(t + 1000, 100)
            .must("prune_exit_statuses"),
        2
    );
}

cases!("cleanup";
    failure_writes_error_and_exit_status,
    completion_adds_exit_status,
    expired_exit_statuses_pruned,
    old_errors_pruned_on_failure,
    nothing_pruned_before_expiry,
    prune_off_then_explicit_prune,
    prune_is_bounded,
    store_prune_thresholds,
);
