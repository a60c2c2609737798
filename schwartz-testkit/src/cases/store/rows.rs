//! The `Store` contract, exercised on `MemoryStore` through `Arc<dyn Store>`.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use schwartz_core::store::{
    Claim, CoalesceFilter, ExitStatusWrite, FailureRecord, Finish, FinishAction, FinishStatus,
    JobOrder, JobQuery, Lease, NewJobRow, StoreStats,
};
use schwartz_core::{Error, FuncId, JobId, Store, StoreHash};
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

fn ids(rows: &[schwartz_core::JobRow]) -> Vec<i64> {
    rows.iter().map(|r| r.jobid.0).collect()
}

fn all(funcids: Vec<FuncId>) -> JobQuery {
    JobQuery {
        funcids,
        limit: usize::MAX,
        ..JobQuery::default()
    }
}

fn failure(jobid: JobId, funcid: FuncId, time: i64, msg: &str) -> FailureRecord {
    FailureRecord {
        error_time: time,
        jobid,
        message: msg.to_owned(),
        funcid,
    }
}

fn stats(store: &dyn Store) -> StoreStats {
    store.stats().unwrap()
}

/// Grabs one job with the compare-and-swap protocol; returns its token.
fn grab(store: &dyn Store, jobid: JobId, now: i64, grab_for: i64) -> i64 {
    let row = store.lookup(jobid).unwrap().unwrap();
    let claimed = store
        .claim(
            &[Claim {
                jobid,
                expected: row.grabbed_until,
                lease_until: now + grab_for,
            }],
            now,
        )
        .unwrap();
    assert_eq!(claimed, vec![jobid]);
    now + grab_for
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
fn funcmap_auto_increments_from_one() {
    let (s, _) = store();
    assert!(s.funcmap().unwrap().is_empty());
    assert_eq!(s.funcid("a").unwrap(), FuncId(1));
    assert_eq!(s.funcid("b").unwrap(), FuncId(2));
    assert_eq!(s.funcid("a").unwrap(), FuncId(1));
    let map = s.funcmap().unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!((map[0].funcid, map[0].funcname.as_str()), (FuncId(1), "a"));
    assert_eq!((map[1].funcid, map[1].funcname.as_str()), (FuncId(2), "b"));
    // VARCHAR(255), counted in characters.
    assert!(s.funcid(&"é".repeat(255)).is_ok());
    assert!(matches!(
        s.funcid(&"x".repeat(256)),
        Err(Error::Database { .. })
    ));
}

#[test]
fn insert_assigns_increasing_ids_and_honours_explicit_ones() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    assert_eq!(
        s.insert_jobs(&[row(f), row(f)]).unwrap(),
        vec![JobId(1), JobId(2)]
    );
    let explicit = NewJobRow {
        jobid: Some(JobId(10)),
        ..row(f)
    };
    assert_eq!(
        s.insert_jobs(&[explicit.clone(), row(f)]).unwrap(),
        vec![JobId(10), JobId(11)]
    );
    // An explicit id below the counter is fine when free.
    let low = NewJobRow {
        jobid: Some(JobId(5)),
        ..row(f)
    };
    assert_eq!(s.insert_jobs(&[low]).unwrap(), vec![JobId(5)]);
    // An explicit id that exists: a duplicate-id error, nothing written.
    let before = stats(&*s);
    let err = s.insert_jobs(&[row(f), explicit]).unwrap_err();
    match &err {
        Error::DuplicateJobId { store, jobid } => {
            assert_eq!(store, &s.describe());
            assert_eq!(*jobid, JobId(10));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(stats(&*s), before);
    // An explicit id colliding with an id assigned earlier in the same batch.
    let err = s
        .insert_jobs(&[
            row(f),
            NewJobRow {
                jobid: Some(JobId(12)),
                ..row(f)
            },
        ])
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateJobId { .. }));
    assert_eq!(stats(&*s), before);
    // Ids are never reused, even after the newest job is deleted.
    let token = grab(&*s, JobId(11), T0, 10);
    let st = s
        .finish(&[Finish {
            jobid: JobId(11),
            funcid: f,
            token,
            failure: None,
            action: FinishAction::Remove { exit_status: None },
        }])
        .unwrap();
    assert!(matches!(st[0], FinishStatus::Done));
    assert_eq!(s.insert_jobs(&[row(f)]).unwrap(), vec![JobId(12)]);
    assert_eq!(s.insert_jobs(&[]).unwrap(), Vec::<JobId>::new());
}

#[test]
fn inserted_row_reads_back() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let new = NewJobRow {
        arg: Some(vec![0, 1, 2]),
        uniqkey: Some("k".into()),
        run_after: T0 + 5,
        priority: Some(7),
        coalesce: Some("c".into()),
        ..row(f)
    };
    let id = s.insert_jobs(std::slice::from_ref(&new)).unwrap()[0];
    let got = s.lookup(id).unwrap().unwrap();
    assert_eq!(got.jobid, id);
    assert_eq!(got.funcid, f);
    assert_eq!(got.arg, new.arg);
    assert_eq!(got.uniqkey, new.uniqkey);
    assert_eq!(got.insert_time, Some(T0));
    assert_eq!(got.run_after, T0 + 5);
    assert_eq!(got.grabbed_until, 0);
    assert_eq!(got.priority, Some(7));
    assert_eq!(got.coalesce.as_deref(), Some("c"));
    assert_eq!(s.lookup(JobId(99)).unwrap(), None);
}

#[test]
fn uniqkey_is_unique_among_pending_jobs() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    let first = s.insert_jobs(&[uniq(f, "k")]).unwrap()[0];
    match s.insert_jobs(&[uniq(f, "k")]).unwrap_err() {
        Error::DuplicateUniqkey {
            store,
            funcname,
            uniqkey,
        } => {
            assert_eq!(store, s.describe());
            assert_eq!(funcname.as_deref(), Some("f"));
            assert_eq!(uniqkey.as_deref(), Some("k"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Other function, other case, NULL: no collision.
    s.insert_jobs(&[uniq(g, "k"), uniq(f, "K"), row(f), row(f)])
        .unwrap();
    // Duplicates inside one batch: nothing written.
    let before = stats(&*s);
    let err = s
        .insert_jobs(&[uniq(f, "new"), row(f), uniq(f, "new")])
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateUniqkey { .. }));
    assert_eq!(stats(&*s), before);
    // A colliding batch writes nothing either.
    let err = s
        .insert_jobs(&[uniq(f, "other"), uniq(f, "k")])
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateUniqkey { .. }));
    assert_eq!(stats(&*s), before);
    assert!(s.insert_jobs(&[uniq(f, "other")]).is_ok());
    // An unknown funcid still collides (no funcname then).
    s.insert_jobs(&[uniq(FuncId(77), "z")]).unwrap();
    match s.insert_jobs(&[uniq(FuncId(77), "z")]).unwrap_err() {
        Error::DuplicateUniqkey { funcname, .. } => assert_eq!(funcname, None),
        other => panic!("unexpected {other:?}"),
    }
    // Once the job is gone the key is free again.
    let token = grab(&*s, first, T0, 10);
    s.finish(&[Finish {
        jobid: first,
        funcid: f,
        token,
        failure: None,
        action: FinishAction::Remove { exit_status: None },
    }])
    .unwrap();
    assert!(s.insert_jobs(&[uniq(f, "k")]).is_ok());
}

#[test]
fn select_filters_on_time_and_jobid() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    s.insert_jobs(&[
        row(f),
        NewJobRow {
            run_after: T0 + 10,
            ..row(f)
        },
        NewJobRow {
            grabbed_until: T0 + 10,
            ..row(f)
        },
        row(g),
    ])
    .unwrap();
    assert_eq!(
        ids(&s.select_jobs(&JobQuery::eligible(vec![f], T0, 10)).unwrap()),
        vec![1]
    );
    assert_eq!(
        ids(&s
            .select_jobs(&JobQuery::eligible(vec![f], T0 + 10, 10))
            .unwrap()),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&s
            .select_jobs(&JobQuery::eligible(vec![f, g], T0, 10))
            .unwrap()),
        vec![1, 4]
    );
    assert_eq!(
        ids(&s.select_jobs(&all(vec![f, g])).unwrap()),
        vec![1, 2, 3, 4]
    );
    assert!(s.select_jobs(&all(vec![])).unwrap().is_empty());
    assert!(s.select_jobs(&all(vec![FuncId(99)])).unwrap().is_empty());
    let by_id = |id, funcids| JobQuery {
        jobid: Some(JobId(id)),
        ..all(funcids)
    };
    assert_eq!(ids(&s.select_jobs(&by_id(2, vec![f])).unwrap()), vec![2]);
    assert!(s.select_jobs(&by_id(2, vec![g])).unwrap().is_empty());
    assert!(s.select_jobs(&by_id(99, vec![f])).unwrap().is_empty());
    let mut q = by_id(2, vec![f]);
    q.run_after_max = Some(T0);
    assert!(s.select_jobs(&q).unwrap().is_empty());
    let mut q = all(vec![f]);
    q.limit = 0;
    assert!(s.select_jobs(&q).unwrap().is_empty());
}

#[test]
fn select_orders_by_jobid_across_functions_with_limit() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    // Interleave: 1 f, 2 g, 3 f, 4 g, ...
    let batch: Vec<_> = (0..10)
        .map(|i| row(if i % 2 == 0 { f } else { g }))
        .collect();
    s.insert_jobs(&batch).unwrap();
    let mut q = all(vec![g, f, g]);
    q.limit = 5;
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1, 2, 3, 4, 5]);
    q.funcids = vec![g];
    q.limit = 3;
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![2, 4, 6]);
}

#[test]
fn select_orders_by_priority_desc_nulls_last_then_jobid() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    let p = |funcid, priority| NewJobRow {
        priority,
        ..row(funcid)
    };
    s.insert_jobs(&[
        p(f, None),     // 1
        p(f, Some(5)),  // 2
        p(g, Some(10)), // 3
        p(f, Some(-3)), // 4
        p(g, Some(5)),  // 5
        p(g, None),     // 6
        p(f, Some(0)),  // 7
    ])
    .unwrap();
    let mut q = all(vec![f, g]);
    q.order = JobOrder::PriorityDesc;
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![3, 2, 5, 7, 4, 1, 6]);
    q.limit = 3;
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![3, 2, 5]);
    // Floor: priority >= floor, NULL does not pass.
    q.limit = 100;
    q.floor = Some(0);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![3, 2, 5, 7]);
    q.floor = Some(-100);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![3, 2, 5, 7, 4]);
    // The floor applies with jobid order too.
    q.order = JobOrder::JobId;
    q.floor = Some(5);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![2, 3, 5]);
    // Eligibility still applies with priority order.
    let token = grab(&*s, JobId(3), T0, 100);
    assert_eq!(token, T0 + 100);
    let mut q = JobQuery::eligible(vec![f, g], T0, 2);
    q.order = JobOrder::PriorityDesc;
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![2, 5]);
}

#[test]
fn coalesce_equals_and_literal_prefix() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let c = |v: Option<&str>| NewJobRow {
        coalesce: v.map(str::to_owned),
        ..row(f)
    };
    s.insert_jobs(&[
        c(Some("abc")),    // 1
        c(Some("ab")),     // 2
        c(Some("a%c")),    // 3
        c(Some("a_c")),    // 4
        c(Some("axc")),    // 5
        c(None),           // 6
        c(Some("ABC")),    // 7
        c(Some("a%cdef")), // 8
    ])
    .unwrap();
    let q = |filter| JobQuery {
        coalesce: Some(filter),
        ..all(vec![f])
    };
    let eq = |v: &str| ids(&s.select_jobs(&q(CoalesceFilter::Equals(v.into()))).unwrap());
    let pre = |v: &str| ids(&s.select_jobs(&q(CoalesceFilter::Prefix(v.into()))).unwrap());
    assert_eq!(eq("abc"), vec![1]);
    assert_eq!(eq("ab"), vec![2]);
    assert_eq!(eq("a%c"), vec![3]);
    assert!(eq("zzz").is_empty());
    assert_eq!(pre("ab"), vec![1, 2]);
    assert_eq!(pre("a%"), vec![3, 8]);
    assert_eq!(pre("a_"), vec![4]);
    assert_eq!(pre("a%c"), vec![3, 8]);
    assert_eq!(pre("A"), vec![7]);
    assert_eq!(pre("%"), Vec::<i64>::new());
    assert_eq!(pre(""), vec![1, 2, 3, 4, 5, 7, 8]);
}

#[test]
fn claim_is_a_compare_and_swap() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    s.insert_jobs(&[
        row(f),
        row(f),
        NewJobRow {
            grabbed_until: T0 + 50,
            ..row(f)
        },
        row(f),
    ])
    .unwrap();
    let c = |id, expected| Claim {
        jobid: JobId(id),
        expected,
        lease_until: T0 + 60,
    };
    let got = s
        .claim(
            &[
                c(4, 0),       // ok
                c(2, 7),       // wrong expected
                c(3, T0 + 50), // still leased (grabbed_until > now)
                c(99, 0),      // missing
                c(1, 0),       // ok
            ],
            T0,
        )
        .unwrap();
    assert_eq!(got, vec![JobId(4), JobId(1)]);
    assert_eq!(s.lookup(JobId(1)).unwrap().unwrap().grabbed_until, T0 + 60);
    assert_eq!(s.lookup(JobId(2)).unwrap().unwrap().grabbed_until, 0);
    assert_eq!(s.lookup(JobId(3)).unwrap().unwrap().grabbed_until, T0 + 50);
    // Second claim with the old expectation loses.
    assert!(s.claim(&[c(1, 0)], T0).unwrap().is_empty());
    // An expired lease can be taken over with the old token as expectation.
    let take = Claim {
        jobid: JobId(3),
        expected: T0 + 50,
        lease_until: T0 + 200,
    };
    assert_eq!(s.claim(&[take], T0 + 50).unwrap(), vec![JobId(3)]);
}

#[test]
fn grab_skip_locked_leases_each_row_for_its_function() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    s.insert_jobs(&[row(f), row(g), row(f), row(g), row(f)])
        .unwrap();
    let leases = [
        Lease {
            funcid: f,
            grab_for: 30,
        },
        Lease {
            funcid: g,
            grab_for: 300,
        },
    ];
    let got = s
        .grab_skip_locked(&JobQuery::eligible(vec![f, g], T0, 3), &leases, T0)
        .unwrap()
        .unwrap();
    assert_eq!(ids(&got), vec![1, 2, 3]);
    assert_eq!(
        got.iter().map(|r| r.grabbed_until).collect::<Vec<_>>(),
        vec![T0 + 30, T0 + 300, T0 + 30]
    );
    for r in &got {
        assert_eq!(
            s.lookup(r.jobid).unwrap().unwrap().grabbed_until,
            r.grabbed_until
        );
    }
    let rest = s
        .grab_skip_locked(&JobQuery::eligible(vec![f, g], T0, 10), &leases, T0)
        .unwrap()
        .unwrap();
    assert_eq!(ids(&rest), vec![4, 5]);
    assert!(s
        .grab_skip_locked(&JobQuery::eligible(vec![f, g], T0, 10), &leases, T0)
        .unwrap()
        .unwrap()
        .is_empty());
    // After f's lease expires its jobs are eligible again; g's are not.
    let again = s
        .grab_skip_locked(
            &JobQuery::eligible(vec![f, g], T0 + 30, 10),
            &leases,
            T0 + 30,
        )
        .unwrap()
        .unwrap();
    assert_eq!(ids(&again), vec![1, 3, 5]);
    assert!(again.iter().all(|r| r.grabbed_until == T0 + 60));
}

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
fn concurrent_grabs_never_hand_out_a_job_twice() {
    let store = Arc::new(MemoryStore::named("race").with_clock(Arc::new(ManualClock::new(T0))));
    let f = store.funcid("f").unwrap();
    let batch: Vec<_> = (0..2000).map(|_| row(f)).collect();
    store.insert_jobs(&batch).unwrap();
    let leases = [Lease {
        funcid: f,
        grab_for: 100,
    }];
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let s = Arc::clone(&store);
            thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let got = if t % 2 == 0 {
                        s.grab_skip_locked(&JobQuery::eligible(vec![f], T0, 7), &leases, T0)
                            .unwrap()
                            .unwrap()
                            .into_iter()
                            .map(|r| r.jobid)
                            .collect::<Vec<_>>()
                    } else {
                        let cands = s.select_jobs(&JobQuery::eligible(vec![f], T0, 7)).unwrap();
                        let claims: Vec<_> = cands
                            .iter()
                            .map(|r| Claim {
                                jobid: r.jobid,
                                expected: r.grabbed_until,
                                lease_until: T0 + 100,
                            })
                            .collect();
                        if cands.is_empty() {
                            Vec::new()
                        } else {
                            s.claim(&claims, T0).unwrap()
                        }
                    };
                    if got.is_empty()
                        && s.select_jobs(&JobQuery::eligible(vec![f], T0, 1))
                            .unwrap()
                            .is_empty()
                    {
                        break;
                    }
                    mine.extend(got);
                }
                mine
            })
        })
        .collect();
    let mut all_ids: Vec<JobId> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all_ids.sort();
    let n = all_ids.len();
    all_ids.dedup();
    assert_eq!(n, 2000);
    assert_eq!(all_ids.len(), 2000);
}

#[test]
fn finish_is_fenced_on_the_lease_token() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    s.insert_jobs(&[row(f), row(f)]).unwrap();
    let token = grab(&*s, JobId(1), T0, 10);
    let es = ExitStatusWrite {
        status: 3,
        completion_time: T0 + 1,
        delete_after: T0 + 100,
    };
    let item = |jobid, token| Finish {
        jobid: JobId(jobid),
        funcid: f,
        token,
        failure: Some(failure(JobId(jobid), f, T0 + 1, "boom")),
        action: FinishAction::Remove {
            exit_status: Some(es),
        },
    };
    // Wrong token, job not grabbed (token 0 vs a different value), missing job.
    let st = s
        .finish(&[item(1, token + 1), item(2, 5), item(99, 0)])
        .unwrap();
    assert!(st.iter().all(|x| matches!(x, FinishStatus::LeaseLost)));
    assert_eq!(
        stats(&*s),
        StoreStats {
            jobs: 2,
            errors: 0,
            exit_statuses: 0
        }
    );
    // The right token: row deleted, error row and exit status written.
    let st = s.finish(&[item(1, token)]).unwrap();
    assert!(matches!(st[0], FinishStatus::Done));
    assert_eq!(s.lookup(JobId(1)).unwrap(), None);
    let written = s.exit_status(JobId(1)).unwrap().unwrap();
    assert_eq!(
        (
            written.jobid,
            written.funcid,
            written.status,
            written.completion_time,
            written.delete_after
        ),
        (JobId(1), f, 3, T0 + 1, T0 + 100)
    );
    assert_eq!(s.failures(JobId(1)).unwrap()[0].message, "boom");
    // A second write for the same job is a lost lease: the row is gone.
    let st = s.finish(&[item(1, token)]).unwrap();
    assert!(matches!(st[0], FinishStatus::LeaseLost));
    assert_eq!(s.failures(JobId(1)).unwrap().len(), 1);
}

#[test]
fn lease_taken_over_refuses_the_old_owner() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let id = s.insert_jobs(&[row(f)]).unwrap()[0];
    let old = grab(&*s, id, T0, 10);
    // The lease expires; a second worker takes the job over.
    let new = grab(&*s, id, T0 + 10, 10);
    assert_ne!(old, new);
    let done = |token| Finish {
        jobid: id,
        funcid: f,
        token,
        failure: None,
        action: FinishAction::Remove { exit_status: None },
    };
    assert!(!s.extend_lease(id, old, T0 + 1000).unwrap());
    assert!(matches!(
        s.finish(&[done(old)]).unwrap()[0],
        FinishStatus::LeaseLost
    ));
    assert!(s.lookup(id).unwrap().is_some());
    assert!(matches!(
        s.finish(&[done(new)]).unwrap()[0],
        FinishStatus::Done
    ));
}

#[test]
fn finish_reschedule_keeps_the_job_pending() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    s.insert_jobs(&[row(f), row(f)]).unwrap();
    let t1 = grab(&*s, JobId(1), T0, 10);
    let t2 = grab(&*s, JobId(2), T0, 10);
    let st = s
        .finish(&[
            Finish {
                jobid: JobId(1),
                funcid: f,
                token: t1,
                failure: Some(failure(JobId(1), f, T0, "retry me")),
                action: FinishAction::Reschedule {
                    run_after: Some(T0 + 30),
                },
            },
            Finish {
                jobid: JobId(2),
                funcid: f,
                token: t2,
                failure: None,
                action: FinishAction::Reschedule { run_after: None },
            },
        ])
        .unwrap();
    assert!(st.iter().all(|x| matches!(x, FinishStatus::Done)));
    let one = s.lookup(JobId(1)).unwrap().unwrap();
    assert_eq!((one.grabbed_until, one.run_after), (0, T0 + 30));
    let two = s.lookup(JobId(2)).unwrap().unwrap();
    assert_eq!((two.grabbed_until, two.run_after), (0, T0));
    assert_eq!(s.failures(JobId(1)).unwrap().len(), 1);
    assert_eq!(s.failures(JobId(2)).unwrap().len(), 0);
    assert_eq!(
        ids(&s.select_jobs(&JobQuery::eligible(vec![f], T0, 10)).unwrap()),
        vec![2]
    );
}

#[test]
fn finish_replace_is_all_or_nothing() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    s.insert_jobs(&[uniq(f, "orig"), uniq(g, "taken")]).unwrap();
    let token = grab(&*s, JobId(1), T0, 10);
    let es = ExitStatusWrite {
        status: 0,
        completion_time: T0,
        delete_after: T0 + 10,
    };
    let replace = |jobs: Vec<NewJobRow>| Finish {
        jobid: JobId(1),
        funcid: f,
        token,
        failure: Some(failure(JobId(1), f, T0, "should not be written")),
        action: FinishAction::Replace {
            jobs,
            exit_status: Some(es),
        },
    };
    // A replacement collides: rejected, nothing of the item written.
    let st = s
        .finish(&[replace(vec![uniq(g, "fresh"), uniq(g, "taken")])])
        .unwrap();
    match &st[0] {
        FinishStatus::Rejected(Error::DuplicateUniqkey {
            funcname, uniqkey, ..
        }) => {
            assert_eq!(funcname.as_deref(), Some("g"));
            assert_eq!(uniqkey.as_deref(), Some("taken"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        stats(&*s),
        StoreStats {
            jobs: 2,
            errors: 0,
            exit_statuses: 0
        }
    );
    assert_eq!(s.lookup(JobId(1)).unwrap().unwrap().grabbed_until, token);
    // A replacement with the original's own uniqkey collides too (inserted before the
    // original is removed).
    let st = s.finish(&[replace(vec![uniq(f, "orig")])]).unwrap();
    assert!(matches!(
        st[0],
        FinishStatus::Rejected(Error::DuplicateUniqkey { .. })
    ));
    // Success: replacements inserted, original removed, exit status written.
    let st = s
        .finish(&[Finish {
            failure: None,
            ..replace(vec![uniq(g, "fresh"), row(g)])
        }])
        .unwrap();
    match &st[0] {
        FinishStatus::Replaced(new) => assert_eq!(new, &vec![JobId(3), JobId(4)]),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(s.lookup(JobId(1)).unwrap(), None);
    assert_eq!(s.exit_status(JobId(1)).unwrap().unwrap().status, 0);
    assert_eq!(stats(&*s).jobs, 3);
    // Replacing with nothing is a completion.
    let token = grab(&*s, JobId(4), T0, 10);
    let st = s
        .finish(&[Finish {
            jobid: JobId(4),
            funcid: g,
            token,
            failure: None,
            action: FinishAction::Replace {
                jobs: vec![],
                exit_status: None,
            },
        }])
        .unwrap();
    assert!(matches!(&st[0], FinishStatus::Replaced(v) if v.is_empty()));
    assert_eq!(stats(&*s).jobs, 2);
}

#[test]
fn exit_status_is_an_upsert() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    s.insert_jobs(&[NewJobRow {
        jobid: Some(JobId(7)),
        ..row(f)
    }])
    .unwrap();
    let t = grab(&*s, JobId(7), T0, 10);
    let es = |status, delete_after| ExitStatusWrite {
        status,
        completion_time: T0,
        delete_after,
    };
    s.finish(&[Finish {
        jobid: JobId(7),
        funcid: f,
        token: t,
        failure: None,
        action: FinishAction::Remove {
            exit_status: Some(es(1, T0 + 5)),
        },
    }])
    .unwrap();
    // The same jobid again (explicit id, as a Perl client may do).
    s.insert_jobs(&[NewJobRow {
        jobid: Some(JobId(7)),
        ..row(f)
    }])
    .unwrap();
    let t = grab(&*s, JobId(7), T0, 20);
    s.finish(&[Finish {
        jobid: JobId(7),
        funcid: f,
        token: t,
        failure: None,
        action: FinishAction::Remove {
            exit_status: Some(es(0, T0 + 500)),
        },
    }])
    .unwrap();
    let e = s.exit_status(JobId(7)).unwrap().unwrap();
    assert_eq!((e.status, e.delete_after), (0, T0 + 500));
    assert_eq!(stats(&*s).exit_statuses, 1);
    // The old deadline no longer prunes it.
    assert_eq!(s.prune_exit_statuses(T0 + 100, 10).unwrap(), 0);
    assert_eq!(s.prune_exit_statuses(T0 + 501, 10).unwrap(), 1);
    assert_eq!(s.exit_status(JobId(7)).unwrap(), None);
}

#[test]
fn long_messages_are_truncated_at_a_char_boundary() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let id = s.insert_jobs(&[row(f)]).unwrap()[0];
    let t = grab(&*s, id, T0, 10);
    let long = "€".repeat(30_000); // 90_000 bytes
    s.finish(&[Finish {
        jobid: id,
        funcid: f,
        token: t,
        failure: Some(failure(id, f, T0, &long)),
        action: FinishAction::Reschedule { run_after: None },
    }])
    .unwrap();
    let msg = &s.failures(id).unwrap()[0].message;
    assert!(msg.len() <= 65_535 && msg.len() > 65_530);
    assert!(long.starts_with(msg.as_str()));
}

#[test]
fn extend_lease_and_operator_reschedule() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let id = s.insert_jobs(&[row(f)]).unwrap()[0];
    let t = grab(&*s, id, T0, 10);
    assert!(s.extend_lease(id, t, T0 + 100).unwrap());
    assert_eq!(s.lookup(id).unwrap().unwrap().grabbed_until, T0 + 100);
    assert!(!s.extend_lease(id, t, T0 + 200).unwrap());
    assert!(!s.extend_lease(JobId(99), 0, T0).unwrap());
    // Reschedule is not fenced.
    assert!(s.reschedule(id, T0 + 7).unwrap());
    let r = s.lookup(id).unwrap().unwrap();
    assert_eq!((r.run_after, r.grabbed_until), (T0 + 7, 0));
    assert!(!s.reschedule(JobId(99), T0).unwrap());
}

/// Appends failure rows through `finish` (the only way errors are written).
fn add_failures(s: &dyn Store, list: &[(JobId, FuncId, i64, &str)]) {
    for &(jobid, funcid, time, msg) in list {
        let t = grab(s, jobid, T0, 1);
        let st = s
            .finish(&[Finish {
                jobid,
                funcid,
                token: t,
                failure: Some(failure(jobid, funcid, time, msg)),
                action: FinishAction::Reschedule {
                    run_after: Some(T0),
                },
            }])
            .unwrap();
        assert!(matches!(st[0], FinishStatus::Done));
        // Make it grabbable again at T0.
        s.reschedule(jobid, T0).unwrap();
    }
}

#[test]
fn failure_queries_and_pruning() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let g = s.funcid("g").unwrap();
    let ids_ = s.insert_jobs(&[row(f), row(g)]).unwrap();
    let (a, b) = (ids_[0], ids_[1]);
    add_failures(
        &*s,
        &[
            (a, f, 100, "a1"),
            (b, g, 50, "b1"),
            (a, f, 300, "a2"),
            (a, f, 200, "a3"),
            (b, g, 300, "b2"),
        ],
    );
    let msgs = |v: Vec<FailureRecord>| v.into_iter().map(|r| r.message).collect::<Vec<_>>();
    // Insertion order per job.
    assert_eq!(msgs(s.failures(a).unwrap()), vec!["a1", "a2", "a3"]);
    assert_eq!(msgs(s.failures(b).unwrap()), vec!["b1", "b2"]);
    assert!(s.failures(JobId(99)).unwrap().is_empty());
    // Newest first (ties: the later insert first).
    assert_eq!(
        msgs(s.recent_failures(None, None, 10).unwrap()),
        vec!["b2", "a2", "a3", "a1", "b1"]
    );
    assert_eq!(
        msgs(s.recent_failures(None, None, 2).unwrap()),
        vec!["b2", "a2"]
    );
    assert_eq!(
        msgs(s.recent_failures(Some(200), None, 10).unwrap()),
        vec!["b2", "a2", "a3"]
    );
    assert_eq!(
        msgs(s.recent_failures(None, Some(f), 10).unwrap()),
        vec!["a2", "a3", "a1"]
    );
    assert_eq!(
        msgs(s.recent_failures(Some(100), Some(g), 10).unwrap()),
        vec!["b2"]
    );
    // Prune: error_time < older_than, at most limit, oldest first.
    assert_eq!(s.prune_errors(50, 10).unwrap(), 0);
    assert_eq!(s.prune_errors(250, 2).unwrap(), 2); // b1 (50), a1 (100)
    assert_eq!(msgs(s.failures(a).unwrap()), vec!["a2", "a3"]);
    assert_eq!(msgs(s.failures(b).unwrap()), vec!["b2"]);
    assert_eq!(s.prune_errors(250, 10).unwrap(), 1); // a3 (200)
    assert_eq!(s.prune_errors(1000, 0).unwrap(), 0);
    assert_eq!(s.prune_errors(1000, 10).unwrap(), 2);
    assert_eq!(stats(&*s).errors, 0);
}

#[test]
fn prune_exit_statuses_respects_limit_and_deadline() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    let batch: Vec<_> = (0..5).map(|_| row(f)).collect();
    let jobs = s.insert_jobs(&batch).unwrap();
    for (i, id) in jobs.iter().enumerate() {
        let t = grab(&*s, *id, T0, 10);
        s.finish(&[Finish {
            jobid: *id,
            funcid: f,
            token: t,
            failure: None,
            action: FinishAction::Remove {
                exit_status: Some(ExitStatusWrite {
                    status: 0,
                    completion_time: T0,
                    delete_after: T0 + 10 * i as i64, // 0, 10, 20, 30, 40
                }),
            },
        }])
        .unwrap();
    }
    assert_eq!(s.prune_exit_statuses(T0, 10).unwrap(), 0); // strictly less than now
    assert_eq!(s.prune_exit_statuses(T0 + 25, 2).unwrap(), 2); // 0, 10
    assert!(s.exit_status(jobs[0]).unwrap().is_none());
    assert!(s.exit_status(jobs[2]).unwrap().is_some());
    assert_eq!(s.prune_exit_statuses(T0 + 25, 2).unwrap(), 1); // 20
    assert_eq!(s.prune_exit_statuses(T0 + 1000, 10).unwrap(), 2);
    assert_eq!(stats(&*s).exit_statuses, 0);
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
fn store_without_schema_reports_it() {
    let store = MemoryStore::without_schema();
    let desc = store.describe();
    every_operation_fails(
        &store,
        |e| {
            e.marks_store_dead()
                && matches!(&e, Error::SchemaMissing { store, .. } if *store == desc)
        },
        false,
    );
    // No table is needed for the clock or for LISTEN.
    assert!(store.server_time().is_ok());
    assert!(store.notifier().is_ok());
    // Offline wins over a missing schema.
    store.set_offline(true);
    assert!(matches!(store.funcid("f"), Err(Error::Unavailable { .. })));
    store.set_offline(false);
    store.create_schema();
    assert_eq!(store.funcid("f").unwrap(), FuncId(1));
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
fn select_finds_due_jobs_behind_many_scheduled_ones() {
    let (s, _) = store();
    let f = s.funcid("f").unwrap();
    // 2000 jobs for tomorrow, then a few due now (with priorities), then more for tomorrow.
    let later = |n| {
        (0..n).map(|_| NewJobRow {
            run_after: T0 + 86_400,
            ..row(f)
        })
    };
    let mut batch: Vec<NewJobRow> = later(2000).collect();
    batch.extend((0..5).map(|i| NewJobRow {
        priority: if i == 3 { None } else { Some(i) },
        ..row(f)
    }));
    batch.extend(later(2000));
    s.insert_jobs(&batch).unwrap();
    let mut q = JobQuery::eligible(vec![f], T0, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![2001, 2002, 2003]);
    q.order = JobOrder::PriorityDesc;
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![2005, 2003, 2002]);
    q.limit = 10;
    assert_eq!(
        ids(&s.select_jobs(&q).unwrap()),
        vec![2005, 2003, 2002, 2001, 2004]
    );
    q.floor = Some(1);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![2005, 2003, 2002]);
    // Rescheduling moves jobs in and out of the due set.
    assert!(s.reschedule(JobId(4000), T0 - 1).unwrap());
    assert!(s.reschedule(JobId(2001), T0 + 1).unwrap());
    let q = JobQuery::eligible(vec![f], T0, 10);
    assert_eq!(
        ids(&s.select_jobs(&q).unwrap()),
        vec![2002, 2003, 2004, 2005, 4000]
    );
}

/// A tiny deterministic generator (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// `select_jobs` evaluated naively: filter every row, sort, cut.
fn naive(rows: &[schwartz_core::JobRow], q: &JobQuery) -> Vec<i64> {
    if q.funcids.is_empty() {
        return Vec::new();
    }
    let mut expected: Vec<_> = rows
        .iter()
        .filter(|r| q.funcids.contains(&r.funcid))
        .filter(|r| q.jobid.is_none_or(|id| r.jobid == id))
        .filter(|r| q.run_after_max.is_none_or(|t| r.run_after <= t))
        .filter(|r| q.grabbed_until_max.is_none_or(|t| r.grabbed_until <= t))
        .filter(|r| q.floor.is_none_or(|fl| r.priority.is_some_and(|p| p >= fl)))
        .filter(|r| match &q.coalesce {
            Some(CoalesceFilter::Prefix(p)) => r
                .coalesce
                .as_deref()
                .is_some_and(|c| c.starts_with(p.as_str())),
            Some(CoalesceFilter::Equals(v)) => r.coalesce.as_deref() == Some(v.as_str()),
            None => true,
        })
        .collect();
    match q.order {
        JobOrder::JobId => expected.sort_by_key(|r| r.jobid),
        JobOrder::PriorityDesc => {
            expected.sort_by_key(|r| (r.priority.is_none(), std::cmp::Reverse(r.priority), r.jobid))
        }
    }
    expected.truncate(q.limit);
    expected.iter().map(|r| r.jobid.0).collect()
}

/// Every query shape: time terms absent, at now, before or after it, negative; jobid,
/// floor and coalesce filters; both orders; small, large and unbounded limits.
fn random_query(rng: &mut Lcg, funcs: &[FuncId], now: i64) -> JobQuery {
    let mut funcids: Vec<FuncId> = funcs.iter().copied().filter(|_| rng.next(3) != 0).collect();
    match rng.next(12) {
        0 => funcids.clear(),
        1 => funcids.extend(funcids.clone()), // duplicates
        _ if funcids.is_empty() => funcids.push(funcs[0]),
        _ => {}
    }
    let time = |rng: &mut Lcg| match rng.next(10) {
        0 => None,
        1 => Some(now - rng.next(40) as i64),
        2 => Some(now + rng.next(40) as i64),
        3 => Some(-1),
        _ => Some(now),
    };
    JobQuery {
        funcids,
        run_after_max: time(rng),
        grabbed_until_max: time(rng),
        jobid: if rng.next(15) == 0 {
            Some(JobId(rng.next(400) as i64))
        } else {
            None
        },
        floor: if rng.next(3) == 0 {
            Some(rng.next(3) as i32 - 1)
        } else {
            None
        },
        coalesce: match rng.next(4) {
            0 => Some(CoalesceFilter::Prefix("a".into())),
            1 => Some(CoalesceFilter::Equals("b1".into())),
            _ => None,
        },
        order: if rng.next(2) == 0 {
            JobOrder::JobId
        } else {
            JobOrder::PriorityDesc
        },
        limit: match rng.next(10) {
            0 => usize::MAX,
            1 => 0,
            2 => 50 + rng.next(100) as usize,
            _ => 1 + rng.next(20) as usize,
        },
    }
}

/// Every write path (inserts, leased or not, due or scheduled; grabs by both protocols;
/// every finish action; lease extensions; operator reschedules) against every query shape,
/// with the clock moving forwards and sometimes backwards, compared with a naive model.
#[test]
fn select_agrees_with_a_naive_model() {
    let (s, clock) = store();
    let funcs = [
        s.funcid("f").unwrap(),
        s.funcid("g").unwrap(),
        s.funcid("h").unwrap(),
    ];
    let mut rng = Lcg(42);
    let mut max_id = 0;
    let mut now = T0;
    let mut seen = [0u64; 4];
    let all_rows = |s: &dyn Store, max_id: i64| -> Vec<schwartz_core::JobRow> {
        (1..=max_id)
            .filter_map(|id| s.lookup(JobId(id)).unwrap())
            .collect()
    };
    let new_row = |rng: &mut Lcg, now: i64| NewJobRow {
        funcid: funcs[rng.next(3) as usize],
        run_after: now - 20 + rng.next(50) as i64,
        grabbed_until: match rng.next(12) {
            0 => now - 10 + rng.next(40) as i64,
            1 => -5,
            _ => 0,
        },
        priority: match rng.next(4) {
            0 => None,
            _ => Some(rng.next(5) as i32 - 2),
        },
        coalesce: match rng.next(3) {
            0 => None,
            1 => Some(format!("a{}", rng.next(3))),
            _ => Some(format!("b{}", rng.next(3))),
        },
        uniqkey: if rng.next(4) == 0 {
            Some(format!("u{}", rng.next(50)))
        } else {
            None
        },
        ..row(funcs[0])
    };
    for step in 0..3000 {
        // Time mostly moves forward (the store's clock with it), sometimes jumps back.
        match rng.next(20) {
            0 => now -= rng.next(30) as i64,
            1..=9 => now += rng.next(4) as i64,
            _ => {}
        }
        if rng.next(4) != 0 {
            clock.set(now);
        }
        let random_id = |rng: &mut Lcg| JobId(1 + rng.next(max_id.max(1) as u64) as i64);
        match rng.next(20) {
            0..=6 => {
                let n = 1 + rng.next(3) as usize;
                let batch: Vec<NewJobRow> = (0..n).map(|_| new_row(&mut rng, now)).collect();
                if let Ok(v) = s.insert_jobs(&batch) {
                    max_id = max_id.max(v.iter().map(|id| id.0).max().unwrap_or(0));
                }
            }
            7 => {
                s.reschedule(random_id(&mut rng), now - 10 + rng.next(60) as i64)
                    .unwrap();
            }
            8..=10 => {
                // grab_skip_locked leases exactly the rows the select would return.
                let leases: Vec<Lease> = funcs
                    .iter()
                    .map(|&funcid| Lease {
                        funcid,
                        grab_for: 1 + rng.next(30) as i64,
                    })
                    .collect();
                let mut q = JobQuery::eligible(funcs.to_vec(), now, 1 + rng.next(3) as usize);
                if rng.next(2) == 0 {
                    q.order = JobOrder::PriorityDesc;
                }
                let expected = naive(&all_rows(&*s, max_id), &q);
                let got = s.grab_skip_locked(&q, &leases, now).unwrap().unwrap();
                assert_eq!(ids(&got), expected, "step {step}: grab {q:?}");
                for r in &got {
                    let lease = leases.iter().find(|l| l.funcid == r.funcid).unwrap();
                    assert_eq!(r.grabbed_until, now + lease.grab_for);
                    assert_eq!(s.lookup(r.jobid).unwrap().as_ref(), Some(r));
                }
            }
            11 | 12 => {
                // TheSchwartz's protocol: select, then claim some of the candidates.
                let q = JobQuery::eligible(funcs.to_vec(), now, 1 + rng.next(3) as usize);
                let cands = s.select_jobs(&q).unwrap();
                let mut claims = Vec::new();
                for c in &cands {
                    if rng.next(3) != 0 {
                        claims.push(Claim {
                            jobid: c.jobid,
                            expected: c.grabbed_until,
                            lease_until: now + 1 + rng.next(30) as i64,
                        });
                    }
                }
                let won = s.claim(&claims, now).unwrap();
                assert_eq!(won.len(), claims.len(), "step {step}");
            }
            13 => {
                let id = random_id(&mut rng);
                if let Some(r) = s.lookup(id).unwrap() {
                    let until = now + rng.next(40) as i64;
                    assert!(s.extend_lease(id, r.grabbed_until, until).unwrap());
                }
            }
            _ => {
                let id = random_id(&mut rng);
                if let Some(r) = s.lookup(id).unwrap() {
                    let action = match rng.next(6) {
                        0 => FinishAction::Reschedule { run_after: None },
                        1 => FinishAction::Reschedule {
                            run_after: Some(now - 5 + rng.next(60) as i64),
                        },
                        2 => FinishAction::Replace {
                            jobs: (0..rng.next(3)).map(|_| new_row(&mut rng, now)).collect(),
                            exit_status: None,
                        },
                        _ => FinishAction::Remove { exit_status: None },
                    };
                    let token = if rng.next(10) == 0 {
                        r.grabbed_until + 1
                    } else {
                        r.grabbed_until
                    };
                    let status = s
                        .finish(&[Finish {
                            jobid: id,
                            funcid: r.funcid,
                            token,
                            failure: None,
                            action,
                        }])
                        .unwrap();
                    if let [FinishStatus::Replaced(v)] = &status[..] {
                        max_id = max_id.max(v.iter().map(|id| id.0).max().unwrap_or(0));
                    }
                }
            }
        }
        // Compare a random query with a naive evaluation over every row.
        let rows = all_rows(&*s, max_id);
        for r in &rows {
            let kind = match (r.grabbed_until, r.run_after <= now) {
                (0, true) => 0,         // due
                (0, false) => 1,        // scheduled for later
                (g, _) if g > now => 2, // leased
                _ => 3,                 // lease expired
            };
            seen[kind] += 1;
        }
        for _ in 0..2 {
            let q = random_query(&mut rng, &funcs, now);
            assert_eq!(
                ids(&s.select_jobs(&q).unwrap()),
                naive(&rows, &q),
                "step {step}: {q:?}"
            );
        }
    }
    // The model saw plenty of every kind of row.
    assert!(seen.iter().all(|&n| n > 10_000), "{seen:?}");
}

/// A pool grabs ahead: the first jobs by id are leased. Selects skip them (and the jobs
/// scheduled for later) and see them again once their lease expires.
#[test]
fn select_skips_leased_and_scheduled_rows_until_due() {
    let (s, clock) = store();
    let f = s.funcid("f").unwrap();
    let batch: Vec<NewJobRow> = (0..3000i32)
        .map(|i| NewJobRow {
            run_after: if i % 3 == 2 { T0 + 100 } else { T0 },
            priority: Some(i % 5),
            ..row(f)
        })
        .collect();
    s.insert_jobs(&batch).unwrap();
    let leases = [Lease {
        funcid: f,
        grab_for: 60,
    }];
    // Lease the first 1000 due jobs.
    let got = s
        .grab_skip_locked(&JobQuery::eligible(vec![f], T0, 1000), &leases, T0)
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 1000);
    assert_eq!(got.last().unwrap().jobid, JobId(1499));
    let q = JobQuery::eligible(vec![f], T0, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1501, 1502, 1504]);
    let q = JobQuery {
        order: JobOrder::PriorityDesc,
        ..q
    };
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1505, 1510, 1520]);
    // A minute later the leases expired: the leased jobs come first again.
    clock.set(T0 + 60);
    let q = JobQuery::eligible(vec![f], T0 + 60, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1, 2, 4]);
    // Later still, the scheduled jobs are due too; a select for a time before that (a
    // stale clock reading) still leaves them out.
    clock.set(T0 + 100);
    let q = JobQuery::eligible(vec![f], T0 + 100, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1, 2, 3]);
    let q = JobQuery::eligible(vec![f], T0 + 99, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1, 2, 4]);
    let q = JobQuery::eligible(vec![f], T0 + 59, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1501, 1502, 1504]);
}
