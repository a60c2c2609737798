//! Working through the client: ability rotation, listing and coalescing, working a given
//! job, the work loop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use schwartz_core::*;

mod common;
use common::*;

#[test]
fn rotation_alternates() {
    let (c, _, _) = one();
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    for (i, name) in ["A", "B"].into_iter().enumerate() {
        let counts = Arc::clone(&counts);
        c.can_do(name, move |_: &QueuedJob| {
            counts[i].fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    }
    for _ in 0..10 {
        c.insert(Job::new("A")).unwrap();
    }
    for _ in 0..10 {
        c.insert(Job::new("B")).unwrap();
    }
    for _ in 0..10 {
        assert!(c.work_once().unwrap());
    }
    assert_eq!(counts[0].load(Ordering::SeqCst), 5);
    assert_eq!(counts[1].load(Ordering::SeqCst), 5);
    assert_eq!(c.work_until_done().unwrap(), 10);
}

#[test]
fn list_and_coalesce() {
    let (c, _, _) = one();
    for (i, key) in ["foo", "bar", "baz", "foo", "fob"].into_iter().enumerate() {
        c.insert(Job::new("C").coalesce(key).priority(i as i32))
            .unwrap();
    }
    assert_eq!(c.list_jobs(&ListJobs::new(["C"])).unwrap().len(), 5);
    let mut f = ListJobs::new(["C"]);
    f.coalesce = Some(CoalesceFilter::Equals("foo".into()));
    assert_eq!(c.list_jobs(&f).unwrap().len(), 2);
    f.coalesce = Some(CoalesceFilter::Prefix("fo".into()));
    assert_eq!(c.list_jobs(&f).unwrap().len(), 3);
    f.limit = Some(1);
    assert_eq!(c.list_jobs(&f).unwrap().len(), 1);
    assert!(matches!(
        c.list_jobs(&ListJobs::default()),
        Err(Error::InvalidInput(_))
    ));
    let j = c
        .find_job_with_coalescing_value("C", "bar")
        .unwrap()
        .unwrap();
    assert_eq!(j.coalesce(), Some("bar"));
    let j = c
        .find_job_with_coalescing_prefix("C", "fo")
        .unwrap()
        .unwrap();
    assert!(j.coalesce().unwrap().starts_with("fo"));
    // priority order, strict
    for p in [1, 5, 3, 4, 2] {
        c.insert(Job::new("P").priority(p)).unwrap();
    }
    c.set_order(JobOrder::PriorityDesc);
    c.set_candidate_order(CandidateOrder::AsSelected);
    c.set_floor(Some(3)).unwrap();
    for want in [5, 4, 3] {
        let j = c.grab_job("P").unwrap().unwrap();
        assert_eq!(j.priority(), Some(want));
    }
    assert!(c.grab_job("P").unwrap().is_none());
    c.set_order(JobOrder::JobId);
}

#[test]
fn grab_and_work_on_and_work_on() {
    let (c, _, _) = one();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    c.can_do("G", move |_: &QueuedJob| {
        r.fetch_add(1, Ordering::SeqCst);
        Ok(())
    })
    .unwrap();
    let later = schwartz_core::epoch_to_datetime(1_000_000 + 1000);
    let h = c.insert(Job::new("G").run_after(later)).unwrap();
    assert!(c.grab_job("G").unwrap().is_none());
    let held = c.lookup_job(&h).unwrap().unwrap();
    assert!(c.grab_and_work_on(&h).unwrap(), "run_after is ignored");
    assert!(!c.grab_and_work_on(&h).unwrap(), "gone");
    drop(held);
    let h2 = c.insert(Job::new("G").run_after(later)).unwrap();
    assert!(c.work_on(&h2).unwrap());
    assert!(!c.work_on(&h2).unwrap());
    assert_eq!(ran.load(Ordering::SeqCst), 2);
}

#[test]
fn work_loop_stops() {
    let (c, _, _) = one();
    let stop = StopSignal::new();
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        s2.stop();
    });
    c.work(Duration::from_secs(60), &stop).unwrap();
    t.join().unwrap();
}

#[test]
fn send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Client>();
    check::<QueuedJob>();
    check::<outcome::Outcome>();
    check::<WeakClient>();
    check::<Error>();
    let (c, _, _) = one();
    c.insert(Job::new("Dbg")).unwrap();
    let j = c.grab_job("Dbg").unwrap().unwrap();
    let text = format!("{j:?}");
    assert!(text.contains("Dbg") && text.contains("token"), "{text}");
}

/// Jobs do not own their client: a job outlives the client it was grabbed with (and can
/// still write its outcome), and a worker that reaches its client through a `WeakClient`
/// keeps nothing alive.
#[test]
fn jobs_and_workers_do_not_keep_the_client_alive() {
    let (c, s, _) = one();
    let weak = c.downgrade();
    let nested = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&nested);
    c.can_do(
        "Outer",
        move |job: &QueuedJob| -> std::result::Result<(), WorkError> {
            let client = weak.upgrade().ok_or("the client is gone")?;
            // The current job is the one being worked.
            assert_eq!(client.current_job().map(|j| j.jobid()), Some(job.jobid()));
            n.fetch_add(1, Ordering::SeqCst);
            Ok(())
        },
    )
    .unwrap();
    c.insert(Job::new("Outer")).unwrap();
    c.insert(Job::new("Outer")).unwrap();
    assert_eq!(c.work_until_done().unwrap(), 2);
    assert_eq!(nested.load(Ordering::SeqCst), 2);
    assert!(c.current_job().is_none());

    let h = c.insert(Job::new("Kept")).unwrap();
    let kept = c.grab_job("Kept").unwrap().expect("a job");
    let weak = c.downgrade();
    drop(c);
    assert!(
        weak.upgrade().is_none(),
        "a grabbed job kept its client alive"
    );
    kept.completed().unwrap();
    assert!(s.jobs().iter().all(|row| row.jobid != h.jobid()));
}
