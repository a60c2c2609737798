//! Unit tests of the client protocol over the in-crate test store (the conformance suite
//! in `tests/` covers every real store).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::test_store::TestStore;
use crate::*;

fn client_with(stores: &[Arc<TestStore>]) -> (Client, TimeShift) {
    let shift = TimeShift::new();
    let client = Client::builder()
        .stores(stores.iter().map(|s| Arc::clone(s) as Arc<dyn Store>))
        .time_shift(shift.clone())
        .build()
        .unwrap();
    (client, shift)
}

fn one() -> (Client, Arc<TestStore>, TimeShift) {
    let s = Arc::new(TestStore::new("a"));
    let (c, shift) = client_with(&[Arc::clone(&s)]);
    (c, s, shift)
}

struct Keep<F>(F, u32, u64);
impl<F> Worker for Keep<F>
where
    F: Fn(&QueuedJob) -> Result<(), WorkError> + Send + Sync + 'static,
{
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        (self.0)(job)
    }
    fn max_retries(&self, _: &QueuedJob) -> u32 {
        self.1
    }
    fn retry_delay(&self, failures: u32) -> Duration {
        Duration::from_secs(self.2 * u64::from(failures))
    }
    fn keep_exit_status_for(&self) -> Duration {
        Duration::from_secs(60)
    }
    fn grab_for(&self) -> Duration {
        Duration::from_secs(30)
    }
}

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
fn unknown_store_message() {
    let (c, _, _) = one();
    let e = c
        .handle_from_string(&format!("{}-666", "6a".repeat(16)))
        .unwrap_err();
    let text = e.to_string();
    let db = text.find("database").unwrap();
    assert!(text[db..].contains("hash"), "{text}");
    assert!(c.handle_from_string("garbage").is_err());
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
    let t = crate::epoch_to_datetime(2_000_000);
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
fn uniqkey_and_insert_jobs() {
    let (c, _, _) = one();
    c.insert(Job::new("U").uniqkey("k")).unwrap();
    match c.insert(Job::new("U").uniqkey("k")) {
        Err(Error::DuplicateUniqkey {
            funcname, uniqkey, ..
        }) => {
            assert_eq!(funcname.as_deref(), Some("U"));
            assert_eq!(uniqkey.as_deref(), Some("k"));
        }
        other => panic!("{other:?}"),
    }
    let hash = c.store_hashes()[0].clone();
    assert!(!c.is_dead(&hash));
    let r = c.insert_jobs(vec![
        Job::new("U").uniqkey("u1"),
        Job::new("U").uniqkey("u1"),
    ]);
    assert!(matches!(r, Err(Error::DuplicateUniqkey { .. })));
    assert_eq!(
        c.insert_jobs(vec![Job::new("U"), Job::new("U")])
            .unwrap()
            .len(),
        2
    );
    assert!(c.insert_jobs(vec![]).unwrap().is_empty());
    assert!(matches!(
        c.insert(Job::new("")),
        Err(Error::InvalidInput(_))
    ));
    let h = c.insert(Job::new("U").jobid(JobId(4000))).unwrap();
    assert_eq!(h.jobid(), JobId(4000));
}

#[test]
fn dead_store_failover_and_revival() {
    let a = Arc::new(TestStore::new("a"));
    let b = Arc::new(TestStore::new("b"));
    a.down.store(true, Ordering::SeqCst);
    let (c, shift) = client_with(&[Arc::clone(&a), Arc::clone(&b)]);
    for _ in 0..20 {
        c.insert(Job::new("X")).unwrap();
    }
    assert_eq!(b.jobs().len(), 20);
    let ha = StoreHash::of(&a.identity());
    assert!(c.is_dead(&ha));
    a.down.store(false, Ordering::SeqCst);
    assert!(c.is_dead(&ha));
    shift.advance(Duration::from_secs(31));
    assert!(!c.is_dead(&ha));
    // Everything dead -> NoStore.
    a.down.store(true, Ordering::SeqCst);
    b.down.store(true, Ordering::SeqCst);
    let e = c.insert(Job::new("X")).unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e}");
    let e = c.insert(Job::new("X")).unwrap_err();
    assert!(matches!(e, Error::NoStore(_)), "{e}");
    assert!(c.find_job_for_workers(Some(&["X"])).unwrap().is_none());
    assert!(matches!(
        c.list_jobs(&ListJobs::new(["X"])),
        Err(Error::NoStore(_))
    ));
}

#[test]
fn uniqkey_home_store() {
    let a = Arc::new(TestStore::new("a"));
    let b = Arc::new(TestStore::new("b"));
    let (c, _) = client_with(&[Arc::clone(&a), Arc::clone(&b)]);
    for i in 0..20 {
        let key = format!("k{i}");
        let h = c.insert(Job::new("U").uniqkey(key.clone())).unwrap();
        assert_eq!(h.store(), &c.home_stores("U", &key)[0]);
        assert!(matches!(
            c.insert(Job::new("U").uniqkey(key)),
            Err(Error::DuplicateUniqkey { .. })
        ));
    }
}

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
    c.can_do("M", move |j: &QueuedJob| {
        let other = j.client().grab_job("M").unwrap().unwrap();
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

#[test]
fn deferred_completions() {
    let (c, s, shift) = one();
    c.can_do("Q", |_: &QueuedJob| Ok(())).unwrap();
    for _ in 0..3 {
        c.insert(Job::new("Q")).unwrap();
    }
    let jobs = c.grab_jobs(10).unwrap();
    assert_eq!(jobs.len(), 3);
    let mut deferred = Vec::new();
    for j in jobs {
        let (o, d) = c.work_deferred(j).unwrap();
        assert_eq!(o, WorkOutcome::Completed);
        deferred.push(d.unwrap());
    }
    assert_eq!(s.jobs().len(), 3);
    // Lose one lease.
    let lost = deferred[0].job().clone();
    shift.advance(Duration::from_secs(3601));
    let stolen = c.grab_job("Q").unwrap();
    assert!(stolen.is_some());
    let stolen = stolen.unwrap();
    let results = c.complete_deferred(deferred).unwrap();
    let lost_count = results
        .iter()
        .filter(|(_, r)| matches!(r, Err(Error::LeaseLost { .. })))
        .count();
    // Every lease expired, only one was re-grabbed: the others still match their tokens.
    assert_eq!(lost_count, 1, "only the re-grabbed job lost its lease");
    let _ = lost;
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
    assert_eq!(job.row().grabbed_until, 1_003_000 + 3600);
    shift.advance(Duration::from_secs(1000));
    assert!(c.grab_job("L").unwrap().is_none());
    job.failed("x").unwrap();
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
    let later = crate::epoch_to_datetime(1_000_000 + 1000);
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
fn builder_checks_and_scoreboard() {
    let a: Arc<dyn Store> = Arc::new(TestStore::new("a"));
    let a2: Arc<dyn Store> = Arc::new(TestStore::new("a"));
    assert!(matches!(
        Client::builder().store(Arc::clone(&a)).store(a2).build(),
        Err(Error::InvalidInput(_))
    ));
    assert!(Client::builder().floor(1).build().is_err());
    assert!(Client::builder().batch_size(0).build().is_err());
    assert!(Client::builder()
        .exit_status_clean_probability(1.5)
        .build()
        .is_err());
    assert!(Client::builder()
        .exit_status_clean_probability(f64::NAN)
        .build()
        .is_err());
    assert!(matches!(
        Client::builder().build().unwrap().insert(Job::new("x")),
        Err(Error::NoStore(_))
    ));

    let dir = tempfile::tempdir().unwrap();
    let c = Client::builder()
        .store(a)
        .scoreboard(ScoreboardDir::Path(dir.path().to_path_buf()))
        .build()
        .unwrap();
    let path = c.scoreboard_path().unwrap();
    assert_eq!(
        path,
        dir.path()
            .join("theschwartz")
            .join(format!("scoreboard.{}", std::process::id()))
    );
    c.can_do("S", |_: &QueuedJob| Ok(())).unwrap();
    c.insert(Job::new("S").raw_arg(b"hi".to_vec())).unwrap();
    assert!(c.work_once().unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("funcname=S\nstarted=1000000\narg=hi\ndone="),
        "{text}"
    );
    let c2 = c.clone();
    drop(c);
    assert!(path.exists());
    drop(c2);
    assert!(!path.exists());
}

#[test]
fn inline_pruning() {
    let s = Arc::new(TestStore::new("p"));
    let shift = TimeShift::new();
    let c = Client::builder()
        .store(Arc::clone(&s) as Arc<dyn Store>)
        .time_shift(shift.clone())
        .error_max_age(Duration::from_secs(2))
        .exit_status_clean_probability(1.0)
        .build()
        .unwrap();
    c.can_do(
        "Fail",
        Keep(
            |j: &QueuedJob| {
                j.failed("an error message")?;
                Ok(())
            },
            0,
            0,
        ),
    )
    .unwrap();
    c.insert(Job::new("Fail")).unwrap();
    c.work_until_done().unwrap();
    assert_eq!(s.stats().unwrap().errors, 1);
    assert_eq!(s.stats().unwrap().exit_statuses, 1);
    shift.advance(Duration::from_secs(100));
    c.insert(Job::new("Fail")).unwrap();
    c.work_until_done().unwrap();
    let st = s.stats().unwrap();
    assert_eq!((st.errors, st.exit_statuses), (1, 1));
    assert_eq!(c.prune(100).unwrap(), PruneReport::default());
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
    check::<DeferredCompletion>();
    check::<Error>();
    let (c, _, _) = one();
    c.insert(Job::new("Dbg")).unwrap();
    let j = c.grab_job("Dbg").unwrap().unwrap();
    let text = format!("{j:?}");
    assert!(text.contains("Dbg") && text.contains("token"), "{text}");
}

#[test]
fn server_clock_is_read_at_most_once_per_refresh() {
    use std::sync::atomic::Ordering as O;
    let s = Arc::new(TestStore::new("clock"));
    s.clock.store(1_000_000, O::SeqCst);
    let cached = Client::builder()
        .store(Arc::clone(&s) as Arc<dyn Store>)
        .server_clock_refresh(Duration::from_secs(3600))
        .build()
        .unwrap();
    let fresh = Client::builder()
        .store(Arc::clone(&s) as Arc<dyn Store>)
        .server_clock_refresh(Duration::ZERO)
        .build()
        .unwrap();
    let hash = cached.store_hashes()[0].clone();
    assert_eq!(cached.now(&hash).unwrap(), 1_000_000);
    assert_eq!(fresh.now(&hash).unwrap(), 1_000_000);
    // The store's clock jumps: the caching client keeps extrapolating its reading (never
    // ahead of it), the other one sees the jump at once.
    s.clock.store(2_000_000, O::SeqCst);
    let extrapolated = cached.now(&hash).unwrap();
    assert!(
        (1_000_000..1_000_010).contains(&extrapolated),
        "extrapolated {extrapolated}"
    );
    assert_eq!(fresh.now(&hash).unwrap(), 2_000_000);
    // The time shift applies to the extrapolation too.
    let shift = TimeShift::new();
    let shifted = Client::builder()
        .store(Arc::clone(&s) as Arc<dyn Store>)
        .time_shift(shift.clone())
        .build()
        .unwrap();
    assert_eq!(shifted.now(&hash).unwrap(), 2_000_000);
    shift.advance(Duration::from_secs(50));
    assert!((2_000_050..2_000_060).contains(&shifted.now(&hash).unwrap()));
}
