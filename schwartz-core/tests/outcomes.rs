//! Outcomes through the client: completions, failures and retries, panics, declines,
//! replacements, the current job, batched writes and leases (on `MemoryStore`).

use std::time::Duration;

use schwartz_core::*;

mod common;
use common::*;

#[test]
fn insert_and_complete() {
    let (c, s, _) = one();
    c.can_do(
        "Add",
        Keep(
            |j: &QueuedJob| {
                let v: Vec<u32> = j.arg()?;
                assert_eq!(v, vec![1, 2]);
                j.completed()?;
                Ok(())
            },
            0,
            0,
        ),
    )
    .unwrap();
    let h = c
        .insert(Job::new("Add").arg(&vec![1u32, 2]).unwrap())
        .unwrap();
    assert!(c.is_pending(&h).unwrap());
    let job = c.lookup_job(&h).unwrap().unwrap();
    assert_eq!(job.funcname(), "Add");
    assert_eq!(job.insert_time().unwrap().timestamp(), 1_000_000);
    assert!(c.work_once().unwrap());
    assert!(!c.is_pending(&h).unwrap());
    assert_eq!(c.exit_status(&h).unwrap(), Some(0));
    assert!(!c.work_once().unwrap());
    assert_eq!(s.jobs().len(), 0);
    let parsed = c.handle_from_string(&h.to_string()).unwrap();
    assert_eq!(parsed, h);
}

#[test]
fn retries_then_exit_status() {
    let (c, s, shift) = one();
    c.can_do("F", Keep(|_: &QueuedJob| Err("it broke".into()), 2, 10))
        .unwrap();
    let h = c.insert(Job::new("F")).unwrap();
    assert!(c.work_once().unwrap());
    assert_eq!(c.failures(&h).unwrap(), 1);
    let row = &s.jobs()[0];
    assert_eq!(row.grabbed_until, 0);
    assert_eq!(row.run_after, 1_000_010);
    assert!(
        !c.work_once().unwrap(),
        "not eligible before the retry delay"
    );
    shift.advance(Duration::from_secs(10));
    assert!(c.work_once().unwrap());
    assert_eq!(s.jobs()[0].run_after, 1_000_030);
    shift.advance(Duration::from_secs(20));
    let job = c.grab_job("F").unwrap().unwrap();
    assert_eq!(
        c.work_safely(job).unwrap(),
        WorkOutcome::Failed { will_retry: false }
    );
    assert!(!c.is_pending(&h).unwrap());
    assert_eq!(c.exit_status(&h).unwrap(), Some(1));
    assert_eq!(c.failure_log(&h).unwrap(), vec!["it broke"; 3]);
}

#[test]
fn panic_fall_through_and_no_worker() {
    let (c, _, _) = one();
    c.can_do("P", |_: &QueuedJob| -> Result<(), WorkError> {
        panic!("boom")
    })
    .unwrap();
    c.can_do("Ok", |_: &QueuedJob| Ok(())).unwrap();
    let hp = c.insert(Job::new("P")).unwrap();
    let ho = c.insert(Job::new("Ok")).unwrap();
    let hn = c.insert(Job::new("Nobody")).unwrap();
    let job = c.grab_job("P").unwrap().unwrap();
    assert_eq!(
        c.work_safely(job).unwrap(),
        WorkOutcome::Failed { will_retry: false }
    );
    assert_eq!(c.failure_log(&hp).unwrap(), vec!["panic: boom"]);
    let job = c.grab_job("Ok").unwrap().unwrap();
    assert_eq!(c.work_safely(job).unwrap(), WorkOutcome::Completed);
    assert!(!c.is_pending(&ho).unwrap());
    let job = c.grab_job("Nobody").unwrap().unwrap();
    assert_eq!(
        c.work_safely(job).unwrap(),
        WorkOutcome::Failed { will_retry: false }
    );
    assert!(c.failure_log(&hn).unwrap()[0].contains("no worker registered"));
    assert!(c.current_job().is_none());
}

/// A worker whose hooks panic: the job still fails cleanly, with the hooks' defaults.
struct PanickyHooks;
impl Worker for PanickyHooks {
    fn work(&self, _: &QueuedJob) -> Result<(), WorkError> {
        Err("work failed".into())
    }
    fn max_retries(&self, _: &QueuedJob) -> u32 {
        panic!("max_retries exploded")
    }
    fn grab_for(&self) -> Duration {
        panic!("grab_for exploded")
    }
    fn keep_exit_status_for(&self) -> Duration {
        panic!("keep_exit_status_for exploded")
    }
}

#[test]
fn panicking_hooks_fall_back_to_defaults() {
    let (c, _, _) = one();
    c.can_do("H", PanickyHooks).unwrap();
    let h = c.insert(Job::new("H")).unwrap();
    let job = c.grab_job("H").unwrap().unwrap();
    // grab_for's default: a one-hour lease.
    let lease = job.grabbed_until().timestamp() - c.now(h.store()).unwrap();
    assert!((3599..=3600).contains(&lease), "lease of {lease} s");
    // max_retries' default 0: no retry; keep_exit_status_for's default: no exit status.
    assert_eq!(
        c.work_safely(job).unwrap(),
        WorkOutcome::Failed { will_retry: false }
    );
    assert!(!c.is_pending(&h).unwrap());
    assert_eq!(c.failure_log(&h).unwrap(), vec!["work failed"]);
    assert_eq!(c.exit_status(&h).unwrap(), None);
}

#[test]
fn declines() {
    let (c, s, shift) = one();
    c.can_do("D", |j: &QueuedJob| {
        j.declined()?;
        Ok(())
    })
    .unwrap();
    let h = c.insert(Job::new("D")).unwrap();
    assert!(c.work_once().unwrap());
    assert_eq!(c.failures(&h).unwrap(), 0);
    assert!(c.is_pending(&h).unwrap());
    assert!(c.grab_job("D").unwrap().is_none(), "still leased");

    let job = c.lookup_job(&h).unwrap().unwrap();
    shift.advance(Duration::from_secs(3601));
    let job2 = c.grab_job("D").unwrap().unwrap();
    assert!(matches!(job.completed(), Err(Error::LeaseLost { .. })));
    let t = schwartz_core::epoch_to_datetime(2_000_000);
    job2.declined_until(t).unwrap();
    assert!(job2.was_declined() && !job2.did_something());
    assert_eq!(s.jobs()[0].run_after, 2_000_000);
    assert_eq!(s.jobs()[0].grabbed_until, 0);
    job2.completed().unwrap();
    assert!(matches!(
        job2.completed(),
        Err(Error::AlreadyFinished {
            method: "completed",
            ..
        })
    ));
    assert!(!c.is_pending(&h).unwrap());
}

#[test]
fn replace_with_atomic() {
    let (c, s, _) = one();
    c.insert(Job::new("N").uniqkey("taken")).unwrap();
    c.can_do("R", |j: &QueuedJob| {
        j.replace_with(vec![
            Job::new("N").uniqkey("fresh"),
            Job::new("N").uniqkey("taken"),
        ])?;
        Ok(())
    })
    .unwrap();
    let h = c.insert(Job::new("R")).unwrap();
    let job = c.grab_job("R").unwrap().unwrap();
    assert_eq!(
        c.work_safely(job).unwrap(),
        WorkOutcome::Failed { will_retry: false }
    );
    assert_eq!(
        s.jobs().len(),
        1,
        "nothing replaced, the original failed for good"
    );
    assert!(c.failure_log(&h).unwrap()[0].contains("duplicate"));

    c.can_do("R2", |j: &QueuedJob| {
        let hs = j.replace_with(vec![Job::new("N"), Job::new("N")])?;
        assert_eq!(hs.len(), 2);
        Ok(())
    })
    .unwrap();
    c.insert(Job::new("R2")).unwrap();
    let job = c.grab_job("R2").unwrap().unwrap();
    assert_eq!(c.work_safely(job).unwrap(), WorkOutcome::Replaced);
    assert_eq!(s.jobs().len(), 3);
}

#[test]
fn failures_go_to_current_job() {
    let (c, _, _) = one();
    let weak = c.downgrade();
    c.can_do("M", move |j: &QueuedJob| {
        let client = weak.upgrade().expect("the client is alive while it works");
        let other = client.grab_job("M").unwrap().unwrap();
        assert_ne!(other.jobid(), j.jobid());
        j.completed()?;
        other.set_as_current();
        Err("second failed".into())
    })
    .unwrap();
    let h1 = c.insert(Job::new("M")).unwrap();
    let h2 = c.insert(Job::new("M")).unwrap();
    let job = c.find_job_for_workers(None).unwrap().unwrap();
    let (done, failed) = if job.jobid() == h1.jobid() {
        (h1, h2)
    } else {
        (h2, h1)
    };
    assert_eq!(c.work_safely(job).unwrap(), WorkOutcome::Completed);
    assert_eq!(c.failures(&done).unwrap(), 0);
    assert_eq!(c.failure_log(&failed).unwrap(), vec!["second failed"]);
    assert!(c.current_job().is_none());
}

/// Keeps outcomes for a later `outcome::apply`, as the worker pool's completer does.
#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<outcome::Outcome>>);

impl outcome::OutcomeWriter for Collect {
    fn write(&self, o: outcome::Outcome) -> Result<()> {
        self.0.lock().unwrap().push(o);
        Ok(())
    }
}

#[test]
fn batched_outcomes() {
    let (c, s, shift) = one();
    c.can_do("Q", |_: &QueuedJob| Ok(())).unwrap();
    c.can_do("F", |_: &QueuedJob| -> std::result::Result<(), WorkError> {
        Err("nope".into())
    })
    .unwrap();
    for _ in 0..3 {
        c.insert(Job::new("Q")).unwrap();
    }
    let failing = c.insert(Job::new("F")).unwrap();
    let jobs = c.grab_jobs(10).unwrap();
    assert_eq!(jobs.len(), 4);
    let later = Collect::default();
    for j in jobs {
        let want = if j.funcname() == "Q" {
            WorkOutcome::Completed
        } else {
            WorkOutcome::Failed { will_retry: false }
        };
        assert_eq!(executor::execute(j, &later, None).unwrap(), want);
    }
    // Nothing written yet: failures are batched as well as completions.
    assert_eq!(s.jobs().len(), 4);
    assert_eq!(c.failures(&failing).unwrap(), 0);
    let mut outcomes = later.0.into_inner().unwrap();
    // Lose one lease.
    shift.advance(Duration::from_secs(3601));
    let stolen = c
        .grab_job("Q")
        .unwrap()
        .expect("an expired lease is grabbable");
    outcomes.sort_by_key(|o| o.job().jobid() != stolen.jobid());
    let results = outcome::apply(outcomes);
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].handle, *stolen.handle());
    assert!(matches!(results[0].result, Err(Error::LeaseLost { .. })));
    // Every lease expired, only one was re-grabbed: the others still match their tokens.
    for r in &results[1..] {
        assert!(r.result.is_ok(), "{:?}", r.result);
    }
    assert_eq!(c.failure_log(&failing).unwrap(), vec!["nope"]);
    assert_eq!(s.jobs().len(), 1);
    c.release(vec![stolen]).unwrap();
    assert_eq!(s.jobs()[0].grabbed_until, 0);
}

#[test]
fn lease_extension_and_loss() {
    let (c, _, shift) = one();
    c.insert(Job::new("L")).unwrap();
    let job = c.grab_job("L").unwrap().unwrap();
    assert_eq!(job.row().grabbed_until, 1_000_000 + 3600);
    shift.advance(Duration::from_secs(3000));
    job.extend_lease(Duration::from_secs(3600)).unwrap();
    // At least now + 3600 s, rounded up to a whole second: the client extrapolates the
    // store's clock in milliseconds, so a few ms past the second round up to the next.
    let until = job.row().grabbed_until;
    assert!(
        (1_003_000 + 3600..=1_003_000 + 3601).contains(&until),
        "lease extended to {until}"
    );
    shift.advance(Duration::from_secs(1000));
    assert!(c.grab_job("L").unwrap().is_none());
    job.failed("x").unwrap();
}

/// An argument that does not decode fails the job for good, whatever `max_retries` says
/// (retrying cannot fix it), with the decode error's text; the next job is worked.
#[test]
fn undecodable_argument_fails_for_good() {
    let (c, s, _) = one();
    c.can_do(
        "Typed",
        Keep(
            |j: &QueuedJob| {
                let n: u64 = j.arg()?;
                assert!(n > 0);
                Ok(())
            },
            5,
            0,
        ),
    )
    .unwrap();
    let bad = c
        .insert(Job::new("Typed").raw_arg(vec![0xff, 0xfe]))
        .unwrap();
    let good = c.insert(Job::new("Typed").arg(&7u64).unwrap()).unwrap();
    let job = c.lookup_job(&bad).unwrap().unwrap();
    let outcome = c.work_safely(job).unwrap();
    assert_eq!(outcome, WorkOutcome::Failed { will_retry: false });
    assert!(
        !c.is_pending(&bad).unwrap(),
        "no retry for an undecodable argument"
    );
    let log = c.failure_log(&bad).unwrap();
    assert_eq!(log.len(), 1);
    assert!(
        log[0].starts_with(&format!(
            "cannot decode the argument of job {}",
            bad.jobid()
        )),
        "{log:?}"
    );
    assert_eq!(c.exit_status(&bad).unwrap(), Some(1));
    let missing = c.insert(Job::new("Typed")).unwrap();
    assert!(c.work_until_done().unwrap() >= 2);
    assert!(!c.is_pending(&good).unwrap());
    assert_eq!(c.failures(&good).unwrap(), 0);
    // A job without an argument is ArgDecode too: failed for good at once.
    assert_eq!(c.failures(&missing).unwrap(), 1);
    assert!(!c.is_pending(&missing).unwrap());
    assert_eq!(s.jobs().len(), 0);
}
