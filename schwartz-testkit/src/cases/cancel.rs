//! Cancelling jobs: `Store::cancel_jobs` (pending and leased jobs, the record it leaves),
//! `Client::cancel` by handle, `Client::cancel_jobs` by function and coalesce value, and
//! what a worker whose job was cancelled sees (`Error::Cancelled`, `is_cancelled`).

use super::common::*;
use super::inspect::{insert, lease, row};
use schwartz_core::store::{JobChange, CANCELLED_EXIT_STATUS};
use schwartz_core::{CancelOptions, CancelledJob};

const FN: &str = "Worker::Cancel";
/// Lease of the cases: long, so a slow database's wall-clock time cannot matter.
const LEASE: u64 = 300;

fn client(ctx: &Ctx) -> (Client, Arc<dyn Store>) {
    let (c, s) = ctx.client1();
    can_do(&c, FN, TestWorker::completing().grab_for(LEASE).keep(100));
    (c, s)
}

/// `cancel_jobs` removes pending and leased jobs alike and records each (an error row with
/// the message and exit status 2); a leased job's record outlives its revoked lease; the
/// old holder's fenced writes then match nothing; an unknown id is `NotFound`.
fn store_cancels_pending_and_leased(ctx: &Ctx) {
    let s = ctx.store();
    let now = s.server_time().must("server_time");
    let f = s.funcid("cancel_me").must("funcid");
    let ids = insert(
        &s,
        &[row(f, now), row(f, now + 100), row(f, now), row(f, now)],
    );
    lease(&s, ids[2], now + 7200, now);
    lease(&s, ids[3], now - 1, now - 2); // an expired lease
    let missing = JobId(ids[3].0 + 1000);
    let got = s
        .cancel_jobs(
            &[ids[0], ids[1], ids[2], missing, ids[3]],
            now,
            "cancelled by test",
            3600,
        )
        .must("cancel_jobs");
    assert_eq!(got.len(), 5);
    assert!(
        matches!(&got[0], JobChange::Changed(r) if r.jobid == ids[0]),
        "{got:?}"
    );
    assert!(matches!(&got[1], JobChange::Changed(r) if r.run_after == now + 100));
    assert!(
        matches!(&got[2], JobChange::Changed(r) if r.grabbed_until == now + 7200),
        "a leased job is cancelled too: {got:?}"
    );
    assert_eq!(got[3], JobChange::NotFound);
    assert!(matches!(&got[4], JobChange::Changed(_)), "{got:?}");
    for (id, kept_until) in [
        (ids[0], now + 3600),
        (ids[1], now + 3600),
        (ids[2], now + 7200),
        (ids[3], now + 3600),
    ] {
        assert!(s.lookup(id).must("lookup").is_none(), "job {id} removed");
        let es = s
            .exit_status(id)
            .must("exit_status")
            .expect("exit status recorded");
        assert_eq!(es.status, CANCELLED_EXIT_STATUS);
        assert_eq!(es.completion_time, now);
        assert_eq!(es.delete_after, kept_until, "job {id}");
        let log = s.failures(id).must("failures");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].message, "cancelled by test");
    }
    assert_eq!(s.stats().must("stats").jobs, 0);
    // The revoked lease: its holder can neither extend it nor write an outcome.
    assert!(!s
        .extend_lease(ids[2], now + 7200, now + 9000)
        .must("extend"));
    // Pruning at the plain keep time leaves the leased job's record.
    s.prune_exit_statuses(now + 3601, 100).must("prune");
    assert!(s.exit_status(ids[0]).must("exit_status").is_none());
    assert!(s.exit_status(ids[2]).must("exit_status").is_some());
    let again = s.cancel_jobs(&[ids[0]], now, "x", 0).must("again");
    assert_eq!(again, vec![JobChange::NotFound]);
}

/// `Client::cancel` removes a pending job and records it; a second cancel finds nothing.
fn cancel_pending_by_handle(ctx: &Ctx) {
    let (c, _s) = client(ctx);
    let h = ins(&c, Job::new(FN));
    let other = ins(&c, Job::new(FN));
    let got: CancelledJob = c.cancel(&h).must("cancel").expect("cancelled");
    assert_eq!(got.handle, h);
    assert_eq!(got.row.jobid, h.jobid());
    assert!(!got.was_running);
    assert!(!pending(&c, &h));
    assert_eq!(exit_status(&c, &h), Some(CANCELLED_EXIT_STATUS));
    assert_eq!(failure_log(&c, &h), vec!["cancelled".to_string()]);
    assert!(c.cancel(&h).must("again").is_none());
    assert!(pending(&c, &other), "another job was touched");
    // Options: the message and the kept time.
    let opts = CancelOptions::new()
        .message("superseded")
        .keep_for(secs(60));
    c.cancel_with(&other, &opts)
        .must("cancel_with")
        .expect("cancelled");
    assert_eq!(failure_log(&c, &other), vec!["superseded".to_string()]);
    ctx.advance(61);
    c.prune(1000).must("prune");
    assert_eq!(exit_status(&c, &other), None, "kept 60 s");
    assert_eq!(
        exit_status(&c, &h),
        Some(CANCELLED_EXIT_STATUS),
        "kept 7 days"
    );
    // Nothing is left to work.
    assert!(!work_once(&c));
}

/// A running job's lease is revoked: its worker's lease extension and outcome writes get
/// `Cancelled` (not `LeaseLost`), `is_cancelled` says so, nobody can grab it, and the
/// record is not overwritten.
fn cancel_running_revokes_lease(ctx: &Ctx) {
    let (c, s) = client(ctx);
    let h1 = ins(&c, Job::new(FN));
    let h2 = ins(&c, Job::new(FN));
    let j1 = grab(&c, FN).expect("grab 1");
    let j2 = grab(&c, FN).expect("grab 2");
    assert_ne!(j1.handle(), j2.handle());
    assert!(!j1.is_cancelled().must("is_cancelled"));
    for h in [&h1, &h2] {
        let got = c.cancel(h).must("cancel").expect("cancelled");
        assert!(got.was_running);
    }
    assert!(grab(&c, FN).is_none(), "a cancelled job was grabbed");
    assert_err!(j1.extend_lease(secs(LEASE)), Error::Cancelled { .. });
    assert!(j1.is_cancelled().must("is_cancelled"));
    assert_err!(j2.failed("too late"), Error::Cancelled { .. });
    assert_eq!(j2.last_outcome(), Some(WorkOutcome::Cancelled));
    assert!(j2.is_cancelled().must("is_cancelled"));
    assert_err!(j1.completed(), Error::Cancelled { .. });
    for h in [&h1, &h2] {
        assert_eq!(exit_status(&c, h), Some(CANCELLED_EXIT_STATUS));
        assert_eq!(failure_log(&c, h), vec!["cancelled".to_string()]);
    }
    assert_eq!(stats(&s).jobs, 0);
}

/// A lost lease stays `LeaseLost`: only a cancellation record makes a write `Cancelled`.
fn lease_lost_is_not_cancelled(ctx: &Ctx) {
    let (a, s) = client(ctx);
    let b = ctx.client(&[Arc::clone(&s)]);
    can_do(&b, FN, TestWorker::completing().grab_for(LEASE));
    ins(&a, Job::new(FN));
    let old = grab(&a, FN).expect("A grabs");
    ctx.advance(LEASE + 1);
    let new = grab(&b, FN).expect("B takes over");
    assert!(!old.is_cancelled().must("is_cancelled"));
    assert_err!(old.completed(), Error::LeaseLost { .. });
    new.completed().must("B completes");
    assert_err!(old.extend_lease(secs(10)), Error::LeaseLost { .. });
}

/// A worker whose job is cancelled while it runs: `work_safely` reports `Cancelled`, the
/// worker could see it cooperatively, and its result is not written over the record.
fn work_reports_cancelled(ctx: &Ctx) {
    let (c, _s) = client(ctx);
    let saw: Rec<bool> = rec();
    let (saw2, canceller) = (saw.clone(), c.clone());
    can_do(
        &c,
        "Long",
        TestWorker::new(move |job| {
            push(&saw2, job.is_cancelled()?);
            canceller.cancel(job.handle())?;
            push(&saw2, job.is_cancelled()?);
            Ok(())
        })
        .grab_for(LEASE)
        .keep(100),
    );
    let h = ins(&c, Job::new("Long"));
    let j = grab(&c, "Long").expect("grab");
    assert_eq!(c.work_safely(j).must("work_safely"), WorkOutcome::Cancelled);
    assert_eq!(seen(&saw), vec![false, true]);
    assert_eq!(exit_status(&c, &h), Some(CANCELLED_EXIT_STATUS));
    assert_eq!(failures(&c, &h), 1);
}

/// Giving back grabbed jobs (a pool's shutdown) skips a job cancelled meanwhile without
/// an error and releases the others.
fn release_skips_cancelled_jobs(ctx: &Ctx) {
    let (c, s) = client(ctx);
    ins(&c, Job::new(FN));
    ins(&c, Job::new(FN));
    let a = grab(&c, FN).expect("grab a");
    let b = grab(&c, FN).expect("grab b");
    c.cancel(a.handle()).must("cancel").expect("cancelled");
    c.release(vec![a.clone(), b.clone()]).must("release");
    assert!(!pending(&c, a.handle()));
    let row = s.lookup(b.jobid()).must("lookup").expect("b pending");
    assert_eq!(row.grabbed_until, 0, "b not given back");
    assert_eq!(stats(&s).jobs, 1);
}

/// `cancel_jobs` by function and coalesce value, pending and running jobs alike; other
/// functions and values are left; an unknown function cancels nothing; bad input is
/// refused.
fn cancel_jobs_by_function_and_coalesce(ctx: &Ctx) {
    let (c, s) = client(ctx);
    can_do(&c, "Other", TestWorker::completing());
    let a1 = ins(&c, Job::new(FN).coalesce("a"));
    let a2 = ins(&c, Job::new(FN).coalesce("a"));
    let b = ins(&c, Job::new(FN).coalesce("b"));
    let plain = ins(&c, Job::new(FN));
    let other = ins(&c, Job::new("Other").coalesce("a"));
    let running = c
        .find_job_with_coalescing_value(FN, "a")
        .must("grab an \"a\" job")
        .expect("grab");
    let mut got = c.cancel_jobs(FN, Some("a")).must("cancel a");
    got.sort_by_key(|j| j.handle.jobid());
    let handles: Vec<_> = got.iter().map(|j| j.handle.clone()).collect();
    assert_eq!(handles, vec![a1.clone(), a2.clone()]);
    for j in &got {
        assert_eq!(j.was_running, &j.handle == running.handle(), "{j:?}");
    }
    assert!(pending(&c, &b) && pending(&c, &plain) && pending(&c, &other));
    assert_err!(running.completed(), Error::Cancelled { .. });
    let rest = c.cancel_jobs(FN, None).must("cancel all");
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert!(!pending(&c, &b) && !pending(&c, &plain));
    assert!(pending(&c, &other), "another function's job was cancelled");
    assert_eq!(stats(&s).jobs, 1);
    assert!(c.cancel_jobs("Nobody", None).must("unknown").is_empty());
    assert_err!(c.cancel_jobs("", None), Error::InvalidInput(_));
}

/// `cancel_jobs` reaches every store, and more jobs than one round reads.
fn cancel_jobs_in_every_store(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    let per_store = 510; // more than one round (500 jobs) in each store
    for s in &stores {
        let f = s.funcid(FN).must("funcid");
        let now = s.server_time().must("server_time");
        let rows: Vec<_> = (0..per_store).map(|_| row(f, now)).collect();
        insert(s, &rows);
    }
    let got = c.cancel_jobs(FN, None).must("cancel_jobs");
    assert_eq!(got.len(), 2 * per_store);
    for s in &stores {
        assert_eq!(stats(s).jobs, 0);
        assert_eq!(stats(s).exit_statuses, per_store as u64);
    }
}

cases!("cancel";
    store_cancels_pending_and_leased,
    cancel_pending_by_handle,
    cancel_running_revokes_lease,
    lease_lost_is_not_cancelled,
    work_reports_cancelled,
    release_skips_cancelled_jobs,
    cancel_jobs_by_function_and_coalesce,
    cancel_jobs_in_every_store,
);
