//! Stores through the client: handles, uniqkeys and home stores, failover and dead
//! marking, the server clock, the builder's checks, scoreboards and pruning.

use std::sync::Arc;
use std::time::Duration;

use schwartz_core::store::Store;
use schwartz_core::testing::TimeShift;
use schwartz_core::*;

mod common;
use common::*;

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
    a.set_offline(true);
    let (c, shift) = client_with(&[Arc::clone(&a), Arc::clone(&b)]);
    for _ in 0..20 {
        c.insert(Job::new("X")).unwrap();
    }
    assert_eq!(b.jobs().len(), 20);
    let ha = StoreHash::of(&a.identity());
    assert!(c.is_dead(&ha));
    a.set_offline(false);
    assert!(c.is_dead(&ha));
    shift.advance(Duration::from_secs(31));
    assert!(!c.is_dead(&ha));
    // Everything dead -> NoStore.
    a.set_offline(true);
    b.set_offline(true);
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
fn server_clock_is_read_at_most_once_per_refresh() {
    let s = Arc::new(TestStore::new("clock"));
    s.clock.set(1_000_000);
    let cached = Client::builder()
        .store(s.dyn_store())
        .server_clock_refresh(Duration::from_secs(3600))
        .build()
        .unwrap();
    let fresh = Client::builder()
        .store(s.dyn_store())
        .server_clock_refresh(Duration::ZERO)
        .build()
        .unwrap();
    let hash = cached.store_hashes()[0].clone();
    assert_eq!(cached.now(&hash).unwrap(), 1_000_000);
    assert_eq!(fresh.now(&hash).unwrap(), 1_000_000);
    // The store's clock jumps: the caching client keeps extrapolating its reading (never
    // ahead of it), the other one sees the jump at once.
    s.clock.set(2_000_000);
    let extrapolated = cached.now(&hash).unwrap();
    assert!(
        (1_000_000..1_000_010).contains(&extrapolated),
        "extrapolated {extrapolated}"
    );
    assert_eq!(fresh.now(&hash).unwrap(), 2_000_000);
    // The time shift applies to the extrapolation too.
    let shift = TimeShift::new();
    let shifted = Client::builder()
        .store(s.dyn_store())
        .time_shift(shift.clone())
        .build()
        .unwrap();
    assert_eq!(shifted.now(&hash).unwrap(), 2_000_000);
    shift.advance(Duration::from_secs(50));
    assert!((2_000_050..2_000_060).contains(&shifted.now(&hash).unwrap()));
}
#[test]
fn builder_checks_and_scoreboard() {
    let a: Arc<dyn Store> = TestStore::new("a").dyn_store();
    let a2: Arc<dyn Store> = TestStore::new("a").dyn_store();
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
        .store(s.dyn_store())
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
