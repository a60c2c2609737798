//! The operator queries of the `Store` contract (`queue_summary`, `failures_from`,
//! `reschedule_jobs`): the numbers behind `schwartz queues`, `stats`, `errors`, `check`,
//! and the operator changes behind `reschedule` and `retry` (`cancel_jobs`: the `cancel`
//! group).

use super::common::*;
use schwartz_core::store::{
    Claim, FailureRecord, Finish, FinishAction, JobChange, NewJobRow, QueueSummary,
};
use schwartz_core::FuncId;

pub(super) fn row(funcid: FuncId, run_after: i64) -> NewJobRow {
    NewJobRow {
        jobid: None,
        funcid,
        arg: None,
        uniqkey: None,
        insert_time: run_after,
        run_after,
        grabbed_until: 0,
        priority: None,
        coalesce: None,
    }
}

pub(super) fn insert(s: &Arc<dyn Store>, rows: &[NewJobRow]) -> Vec<JobId> {
    s.insert_jobs(rows).must("insert_jobs")
}

pub(super) fn lease(s: &Arc<dyn Store>, jobid: JobId, until: i64, now: i64) {
    let got = s
        .claim(
            &[Claim {
                jobid,
                expected: 0,
                lease_until: until,
            }],
            now,
        )
        .must("claim");
    assert_eq!(got, vec![jobid], "claiming job {jobid}");
}

/// Appends an error row for a job that is not leased (fenced on `grabbed_until = 0`).
fn fail(s: &Arc<dyn Store>, jobid: JobId, funcid: FuncId, at: i64, msg: &str) {
    s.finish(&[Finish {
        jobid,
        funcid,
        token: 0,
        failure: Some(FailureRecord {
            error_time: at,
            jobid,
            message: msg.to_string(),
            funcid,
        }),
        action: FinishAction::Reschedule { run_after: None },
    }])
    .must("finish with a failure");
}

fn summary_of(all: &[QueueSummary], name: &str) -> QueueSummary {
    all.iter()
        .find(|q| q.funcname == name)
        .unwrap_or_else(|| panic!("no summary for {name:?} in {all:?}"))
        .clone()
}

/// Due, scheduled and leased jobs are counted apart (a leased job is not due), the lag is
/// the oldest due job that is not leased, errors count from `errors_since`, and a function
/// without jobs shows zeros. Ordered by function name.
fn queue_summary_counts(ctx: &Ctx) {
    let s = ctx.store();
    let now = s.server_time().must("server_time");
    let b = s.funcid("beta").must("funcid");
    let a = s.funcid("alpha").must("funcid");
    s.funcid("idle").must("funcid");
    let ids = insert(
        &s,
        &[
            row(a, now - 50), // due, but leased below
            row(a, now - 30), // due: the oldest not leased
            row(a, now - 10), // due
            row(a, now),      // due (run_after = now)
            row(a, now + 100),
            row(a, now + 200),
            row(b, now + 5),
        ],
    );
    lease(&s, ids[0], now + 300, now);
    fail(&s, ids[1], a, now - 20, "old error");
    fail(&s, ids[2], a, now - 1, "new error");
    fail(&s, ids[6], b, now, "beta error");

    let all = s
        .queue_summary(now, now - 5, u64::MAX)
        .must("queue_summary");
    let names: Vec<&str> = all.iter().map(|q| q.funcname.as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "idle"]);
    let qa = summary_of(&all, "alpha");
    assert_eq!(qa.funcid, a);
    assert_eq!((qa.due, qa.scheduled, qa.running), (3, 2, 1), "{qa:?}");
    assert_eq!(qa.oldest_due, Some(now - 30));
    assert_eq!(qa.errors, 1, "only errors since now-5: {qa:?}");
    let qb = summary_of(&all, "beta");
    assert_eq!((qb.due, qb.scheduled, qb.running, qb.errors), (0, 1, 0, 1));
    assert_eq!(qb.oldest_due, None);
    let idle = summary_of(&all, "idle");
    assert_eq!(
        (idle.due, idle.scheduled, idle.running, idle.errors),
        (0, 0, 0, 0)
    );

    // Later: beta's job is due, the lease has expired (the job counts as due again).
    let later = s
        .queue_summary(now + 400, 0, u64::MAX)
        .must("queue_summary later");
    let qa = summary_of(&later, "alpha");
    assert_eq!((qa.due, qa.scheduled, qa.running, qa.errors), (6, 0, 0, 2));
    assert_eq!(qa.oldest_due, Some(now - 50));
    assert_eq!(summary_of(&later, "beta").due, 1);
    assert!(later.iter().all(|q| !q.capped));

    // A count limit bounds due and scheduled and says so; leased jobs are still counted.
    let capped = s
        .queue_summary(now, now - 5, 2)
        .must("queue_summary limited");
    let qa = summary_of(&capped, "alpha");
    assert_eq!((qa.due, qa.scheduled, qa.running), (2, 2, 1), "{qa:?}");
    assert!(qa.capped, "{qa:?}");
    assert_eq!(qa.oldest_due, Some(now - 30));
    let qb = summary_of(&capped, "beta");
    assert_eq!((qb.scheduled, qb.capped), (1, false));
}

/// A leased job whose `run_after` is in the future is running, not scheduled.
fn queue_summary_leased_future_job(ctx: &Ctx) {
    let s = ctx.store();
    let now = s.server_time().must("server_time");
    let f = s.funcid("future").must("funcid");
    let ids = insert(&s, &[row(f, now - 1), row(f, now + 60)]);
    // Leased by a worker whose clock runs ahead (or after an operator moved run_after).
    lease(&s, ids[1], now + 600, now + 61);
    let q = summary_of(
        &s.queue_summary(now, now, u64::MAX).must("queue_summary"),
        "future",
    );
    assert_eq!((q.due, q.scheduled, q.running), (1, 0, 1), "{q:?}");
    assert_eq!(q.oldest_due, Some(now - 1));
}

/// `failures_from`: oldest first, from `since` inclusive, by function, limited.
fn failures_from_order_and_filters(ctx: &Ctx) {
    let s = ctx.store();
    let now = s.server_time().must("server_time");
    let a = s.funcid("fa").must("funcid");
    let b = s.funcid("fb").must("funcid");
    let ids = insert(&s, &[row(a, now), row(b, now), row(a, now)]);
    fail(&s, ids[2], a, now + 2, "third 100% verbatim");
    fail(&s, ids[0], a, now, "first");
    fail(&s, ids[1], b, now + 1, "second");
    fail(&s, ids[0], a, now + 2, "same second, lower jobid");

    let all = s.failures_from(now, None, 100).must("failures_from");
    let got: Vec<(i64, JobId, &str)> = all
        .iter()
        .map(|r| (r.error_time - now, r.jobid, r.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, ids[0], "first"),
            (1, ids[1], "second"),
            (2, ids[0], "same second, lower jobid"),
            (2, ids[2], "third 100% verbatim"),
        ]
    );
    assert_eq!(all[1].funcid, b);
    let from1 = s.failures_from(now + 1, None, 100).must("from now+1");
    assert_eq!(from1.len(), 3);
    let only_a = s.failures_from(now, Some(a), 100).must("of fa");
    assert!(only_a.iter().all(|r| r.funcid == a) && only_a.len() == 3);
    let two = s.failures_from(now, None, 2).must("limit 2");
    assert_eq!(two.len(), 2);
    assert_eq!(two[1].message, "second");
    assert!(s.failures_from(now + 3, None, 10).must("none").is_empty());
    assert!(s.failures_from(now, None, 0).must("limit 0").is_empty());
}

/// `reschedule_jobs` moves pending jobs (and clears an expired lease), refuses leased ones.
fn reschedule_pending_refuse_leased(ctx: &Ctx) {
    let s = ctx.store();
    let now = s.server_time().must("server_time");
    let f = s.funcid("move_me").must("funcid");
    let ids = insert(&s, &[row(f, now + 500), row(f, now), row(f, now)]);
    lease(&s, ids[1], now + 60, now);
    lease(&s, ids[2], now - 1, now - 2);
    let got = s
        .reschedule_jobs(&[ids[0], ids[1], ids[2], JobId(ids[2].0 + 99)], now, now)
        .must("reschedule_jobs");
    assert!(matches!(&got[0], JobChange::Changed(r) if r.run_after == now + 500));
    assert!(matches!(&got[1], JobChange::Running(_)), "{got:?}");
    assert!(matches!(&got[2], JobChange::Changed(_)));
    assert_eq!(got[3], JobChange::NotFound);
    let moved = s.lookup(ids[0]).must("lookup").expect("pending");
    assert_eq!((moved.run_after, moved.grabbed_until), (now, 0));
    let cleared = s.lookup(ids[2]).must("lookup").expect("pending");
    assert_eq!((cleared.run_after, cleared.grabbed_until), (now, 0));
    let leased = s.lookup(ids[1]).must("lookup").expect("pending");
    assert_eq!((leased.run_after, leased.grabbed_until), (now, now + 60));
    let far = i64::from(i32::MAX);
    let never = s.reschedule_jobs(&[ids[0]], far, now).must("never");
    assert!(matches!(&never[0], JobChange::Changed(_)));
    assert_eq!(
        s.lookup(ids[0]).must("lookup").expect("pending").run_after,
        far
    );
}

/// `stats_up_to`: row counts read up to a limit say more than the limit when there are
/// more rows, and the exact count when there are not.
fn stats_up_to_stops_at_the_limit(ctx: &Ctx) {
    let s = ctx.store();
    let now = s.server_time().must("server_time");
    let f = s.funcid("counted").must("funcid");
    let rows: Vec<NewJobRow> = (0..5).map(|_| row(f, now)).collect();
    let ids = insert(&s, &rows);
    fail(&s, ids[0], f, now, "one");
    fail(&s, ids[1], f, now, "two");
    let exact = s.stats().must("stats");
    assert_eq!((exact.jobs, exact.errors), (5, 2));
    assert_eq!(s.stats_up_to(u64::MAX).must("stats_up_to(MAX)"), exact);
    assert_eq!(s.stats_up_to(5).must("stats_up_to(5)"), exact);
    let capped = s.stats_up_to(3).must("stats_up_to(3)");
    assert!(capped.jobs > 3 && capped.jobs <= 5, "{capped:?}");
    assert_eq!(
        (capped.errors, capped.exit_statuses),
        (2, exact.exit_statuses)
    );
    let none = s.stats_up_to(0).must("stats_up_to(0)");
    assert!(none.jobs >= 1 && none.errors >= 1, "{none:?}");
}

cases!("inspect";
    stats_up_to_stops_at_the_limit,
    queue_summary_counts,
    queue_summary_leased_future_job,
    failures_from_order_and_filters,
    reschedule_pending_refuse_leased,
);
