//! What only the in-memory store has: its identity and name, the manual clock, taking it
//! offline, creating its schema, and its notifier. The `Store` contract itself runs on
//! every store (memory, SQLite, PostgreSQL, MySQL) in schwartz-testkit's `store::` cases.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use schwartz_core::store::Store;
use schwartz_core::store::{
    Claim, FailureRecord, Finish, FinishAction, FinishStatus, JobQuery, Lease, NewJobRow,
    StoreStats,
};
use schwartz_core::{Error, FuncId, JobId, StoreHash};
use schwartz_memory::{Clock, ManualClock, MemoryStore, SystemClock};

const T0: i64 = 1_000_000;

fn store() -> (Arc<dyn Store>, ManualClock) {
    let clock = ManualClock::new(T0);
    let store = MemoryStore::new().with_clock(Arc::new(clock.clone()));
    (Arc::new(store), clock)
}

fn row(funcid: FuncId) -> NewJobRow {
    NewJobRow {
        jobid: None,
        funcid,
        arg: None,
        uniqkey: None,
        insert_time: T0,
        run_after: T0,
        grabbed_until: 0,
        priority: None,
        coalesce: None,
    }
}

fn uniq(funcid: FuncId, key: &str) -> NewJobRow {
    NewJobRow {
        uniqkey: Some(key.to_owned()),
        ..row(funcid)
    }
}

fn all(funcids: Vec<FuncId>) -> JobQuery {
    JobQuery {
        funcids,
        limit: usize::MAX,
        ..JobQuery::default()
    }
}

fn stats(store: &dyn Store) -> StoreStats {
    store.stats().unwrap()
}

/// Calls every operation and checks each fails with `check`.
fn every_operation_fails(s: &dyn Store, check: impl Fn(Error) -> bool, server_time_too: bool) {
    let f = FuncId(1);
    assert!(check(s.funcmap().unwrap_err()));
    assert!(check(s.funcid("f").unwrap_err()));
    assert!(check(s.insert_jobs(&[row(f)]).unwrap_err()));
    assert!(check(s.lookup(JobId(1)).unwrap_err()));
    assert!(check(s.select_jobs(&all(vec![f])).unwrap_err()));
    assert!(check(s.claim(&[], T0).unwrap_err()));
    assert!(check(
        s.grab_skip_locked(&all(vec![f]), &[], T0).unwrap_err()
    ));
    assert!(check(s.finish(&[]).unwrap_err()));
    assert!(check(s.extend_lease(JobId(1), 0, 1).unwrap_err()));
    assert!(check(s.reschedule(JobId(1), 0).unwrap_err()));
    assert!(check(s.failures(JobId(1)).unwrap_err()));
    assert!(check(s.recent_failures(None, None, 1).unwrap_err()));
    assert!(check(s.exit_status(JobId(1)).unwrap_err()));
    assert!(check(s.prune_errors(0, 1).unwrap_err()));
    assert!(check(s.prune_exit_statuses(0, 1).unwrap_err()));
    assert!(check(s.stats().unwrap_err()));
    if server_time_too {
        assert!(check(s.server_time().unwrap_err()));
        assert!(check(s.notifier().unwrap_err()));
    }
}

#[test]
fn identity_and_description() {
    let a = MemoryStore::new();
    let b = MemoryStore::default();
    assert_ne!(a.identity(), b.identity());
    assert_ne!(StoreHash::of(&a.identity()), StoreHash::of(&b.identity()));
    assert!(a.identity().starts_with("memory:") && a.identity().ends_with('|'));
    let n = MemoryStore::named("alpha");
    assert_eq!(n.identity(), "memory:alpha|");
    assert_eq!(n.describe(), "memory store alpha");
    assert_eq!(n.name(), "alpha");
    assert!(n.supports_skip_locked());
    let dbg = format!("{n:?}");
    assert!(dbg.contains("alpha"));
}

#[test]
fn offline_store_is_unavailable_and_keeps_its_data() {
    let store = Arc::new(MemoryStore::named("flaky"));
    let f = store.funcid("f").unwrap();
    store.insert_jobs(&[row(f)]).unwrap();
    store.set_offline(true);
    assert!(store.is_offline());
    let desc = store.describe();
    every_operation_fails(
        &*store,
        |e| {
            e.marks_store_dead()
                && matches!(&e, Error::Unavailable { store, .. } if *store == desc)
                && e.to_string().contains("memory store flaky")
        },
        true,
    );
    store.set_offline(false);
    assert_eq!(stats(&*store).jobs, 1);
    assert!(store.server_time().is_ok());
}

#[test]
fn manual_clock_drives_server_time_and_eligibility() {
    let (s, clock) = store();
    assert_eq!(s.server_time().unwrap(), T0);
    let f = s.funcid("f").unwrap();
    s.insert_jobs(&[NewJobRow {
        run_after: T0 + 3600,
        ..row(f)
    }])
    .unwrap();
    let eligible = |s: &dyn Store| {
        let now = s.server_time().unwrap();
        s.select_jobs(&JobQuery::eligible(vec![f], now, 10))
            .unwrap()
            .len()
    };
    assert_eq!(eligible(&*s), 0);
    clock.advance(Duration::from_secs(3599));
    assert_eq!(eligible(&*s), 0);
    clock.advance(Duration::from_millis(600));
    clock.advance(Duration::from_millis(600));
    assert_eq!(s.server_time().unwrap(), T0 + 3600);
    assert_eq!(eligible(&*s), 1);
    clock.set(T0);
    assert_eq!(eligible(&*s), 0);
    // The system clock is close to the real time.
    let sys = MemoryStore::new();
    assert!((sys.server_time().unwrap() - SystemClock.now()).abs() <= 1);
}

#[test]
fn notifier_wakes_on_inserts() {
    let store = Arc::new(MemoryStore::named("notify"));
    let f = store.funcid("f").unwrap();
    store.insert_jobs(&[row(f)]).unwrap(); // before the notifier: not seen
    let mut n = store
        .notifier()
        .unwrap()
        .expect("memory store has a notifier");
    assert!(!n.wait(Duration::from_millis(10)).unwrap());
    // Pending notifications are consumed together.
    store.insert_jobs(&[row(f)]).unwrap();
    store.insert_jobs(&[row(f)]).unwrap();
    assert!(n.wait(Duration::from_millis(10)).unwrap());
    assert!(!n.wait(Duration::from_millis(10)).unwrap());
    // A waiter in another thread is woken.
    let s2 = Arc::clone(&store);
    let waiter = thread::spawn(move || n.wait(Duration::from_secs(30)).unwrap());
    thread::sleep(Duration::from_millis(50));
    s2.insert_jobs(&[row(f)]).unwrap();
    assert!(waiter.join().unwrap());
    // Replacements wake it too; a refused insert does not.
    let mut n = store.notifier().unwrap().unwrap();
    assert!(store.insert_jobs(&[uniq(f, "a"), uniq(f, "a")]).is_err());
    assert!(!n.wait(Duration::from_millis(10)).unwrap());
    let id = JobId(1);
    let row1 = store.lookup(id).unwrap().unwrap();
    let token = T0;
    store
        .claim(
            &[Claim {
                jobid: id,
                expected: row1.grabbed_until,
                lease_until: token,
            }],
            0,
        )
        .unwrap();
    store
        .finish(&[Finish {
            jobid: id,
            funcid: f,
            token,
            failure: None,
            action: FinishAction::Replace {
                jobs: vec![row(f)],
                exit_status: None,
            },
        }])
        .unwrap();
    assert!(n.wait(Duration::from_millis(10)).unwrap());
    // Offline: the listener fails, and recovers afterwards.
    store.set_offline(true);
    assert!(matches!(
        n.wait(Duration::from_millis(1)),
        Err(Error::Unavailable { .. })
    ));
    store.set_offline(false);
    assert!(!n.wait(Duration::from_millis(1)).unwrap());
}

#[test]
fn offline_wins_over_a_missing_schema_until_it_is_created() {
    let store = MemoryStore::without_schema();
    assert!(matches!(
        store.funcid("f"),
        Err(Error::SchemaMissing { .. })
    ));
    store.set_offline(true);
    assert!(matches!(store.funcid("f"), Err(Error::Unavailable { .. })));
    store.set_offline(false);
    store.create_schema();
    assert_eq!(store.funcid("f").unwrap(), FuncId(1));
}

// The memory store's side of behaviours the `Store` contract leaves open (the SQL stores
// differ; see schwartz-testkit's `store::` cases).

#[test]
fn grab_skip_locked_without_a_lease_is_refused_and_leases_nothing() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    s.insert_jobs(&[row(f), row(g)]).unwrap();
    let leases = [Lease {
        funcid: f,
        grab_for: 30,
    }];
    let err = s
        .grab_skip_locked(&JobQuery::eligible(vec![f, g], T0, 10), &leases, T0)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert_eq!(s.lookup(JobId(1)).unwrap().unwrap().grabbed_until, 0);
    assert_eq!(s.lookup(JobId(2)).unwrap().unwrap().grabbed_until, 0);
}

#[test]
fn over_long_function_names_are_refused() {
    let (s, _) = store();
    assert!(s.funcid(&"é".repeat(255)).is_ok());
    assert!(matches!(
        s.funcid(&"x".repeat(256)),
        Err(Error::Database { .. })
    ));
}

#[test]
fn replacement_with_the_originals_uniqkey_collides() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let id = s.insert_jobs(&[uniq(f, "orig")]).unwrap()[0];
    let claimed = s
        .claim(
            &[Claim {
                jobid: id,
                expected: 0,
                lease_until: T0 + 10,
            }],
            T0,
        )
        .unwrap();
    assert_eq!(claimed, vec![id]);
    let st = s
        .finish(&[Finish {
            jobid: id,
            funcid: f,
            token: T0 + 10,
            failure: None,
            action: FinishAction::Replace {
                jobs: vec![uniq(f, "orig")],
                exit_status: None,
            },
        }])
        .unwrap();
    assert!(matches!(
        st[0],
        FinishStatus::Rejected(Error::DuplicateUniqkey { .. })
    ));
    assert_eq!(s.lookup(id).unwrap().unwrap().grabbed_until, T0 + 10);
}

#[test]
fn long_messages_are_cut_to_64_kib() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let id = s.insert_jobs(&[row(f)]).unwrap()[0];
    s.claim(
        &[Claim {
            jobid: id,
            expected: 0,
            lease_until: T0 + 10,
        }],
        T0,
    )
    .unwrap();
    let long = "€".repeat(30_000); // 90_000 bytes
    s.finish(&[Finish {
        jobid: id,
        funcid: f,
        token: T0 + 10,
        failure: Some(FailureRecord {
            error_time: T0,
            jobid: id,
            message: long.clone(),
            funcid: f,
        }),
        action: FinishAction::Reschedule { run_after: None },
    }])
    .unwrap();
    let msg = &s.failures(id).unwrap()[0].message;
    assert!(msg.len() <= 65_535 && msg.len() > 65_530);
    assert!(long.starts_with(msg.as_str()));
}

#[test]
fn explicit_id_colliding_with_one_assigned_in_the_same_batch() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    assert_eq!(s.insert_jobs(&[row(f)]).unwrap(), vec![JobId(1)]);
    // The memory store assigns in batch order: the first row gets 2, so an explicit 2
    // collides and nothing is written.
    let err = s
        .insert_jobs(&[
            row(f),
            NewJobRow {
                jobid: Some(JobId(2)),
                ..row(f)
            },
        ])
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateJobId { .. }), "{err}");
    assert_eq!(stats(&*s).jobs, 1);
}
