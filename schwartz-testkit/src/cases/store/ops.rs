//! The `Store` contract itself (schwartz-core `store.rs`), checked on every backend the
//! way graphile_worker_rs checks its drivers: what the client relies on, operation by
//! operation, including the fencing and all-or-nothing rules.

use crate::cases::common::*;
use schwartz_core::store::{
    Claim, ExitStatusWrite, FailureRecord, Finish, FinishAction, FinishStatus, JobQuery, NewJobRow,
};
use schwartz_core::FuncId;

fn row(funcid: FuncId, now: i64) -> NewJobRow {
    NewJobRow {
        jobid: None,
        funcid,
        arg: None,
        uniqkey: None,
        insert_time: now,
        run_after: now,
        grabbed_until: 0,
        priority: None,
        coalesce: None,
    }
}

fn setup(ctx: &Ctx) -> (Arc<dyn Store>, FuncId, i64) {
    let s = ctx.store();
    let f = s.funcid("contract").must("funcid");
    let now = s.server_time().must("server_time");
    (s, f, now)
}

fn failure(jobid: JobId, funcid: FuncId, now: i64, msg: &str) -> FailureRecord {
    FailureRecord {
        error_time: now,
        jobid,
        message: msg.to_string(),
        funcid,
    }
}

/// `insert_jobs` returns ids in order; `lookup` returns every column as written.
fn insert_and_lookup_round_trip(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let full = NewJobRow {
        arg: Some(b"\x00\x05bytes".to_vec()),
        uniqkey: Some("u".into()),
        run_after: now + 7,
        grabbed_until: now + 9,
        priority: Some(-3),
        coalesce: Some("c".into()),
        ..row(f, now)
    };
    let ids = s
        .insert_jobs(&[row(f, now), full.clone(), row(f, now)])
        .must("insert_jobs");
    assert_eq!(ids.len(), 3);
    assert!(
        ids[0] < ids[1] && ids[1] < ids[2],
        "ids not increasing: {ids:?}"
    );
    let got = s.lookup(ids[1]).must("lookup").expect("row");
    assert_eq!(got.jobid, ids[1]);
    assert_eq!(got.funcid, f);
    assert_eq!(got.arg, full.arg);
    assert_eq!(got.uniqkey, full.uniqkey);
    assert_eq!(got.insert_time, Some(now));
    assert_eq!(got.run_after, now + 7);
    assert_eq!(got.grabbed_until, now + 9);
    assert_eq!(got.priority, Some(-3));
    assert_eq!(got.coalesce, full.coalesce);
    assert!(s.lookup(JobId(ids[2].0 + 1000)).must("lookup").is_none());
}

/// An explicit jobid is honoured; later automatic ids do not collide with it.
fn explicit_jobid(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let ids = s
        .insert_jobs(&[NewJobRow {
            jobid: Some(JobId(42)),
            ..row(f, now)
        }])
        .must("insert");
    assert_eq!(ids, vec![JobId(42)]);
    for _ in 0..3 {
        let id = s.insert_jobs(&[row(f, now)]).must("insert")[0];
        assert_ne!(id, JobId(42));
    }
    assert_eq!(stats(&s).jobs, 4);
}

/// `select_jobs` filters: funcids (empty matches nothing), run_after, grabbed_until, jobid,
/// floor (NULL does not pass), coalesce, limit.
fn select_jobs_filters(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let g = s.funcid("other").must("funcid");
    let ids = s
        .insert_jobs(&[
            row(f, now),
            NewJobRow {
                run_after: now + 100,
                ..row(f, now)
            },
            NewJobRow {
                grabbed_until: now + 100,
                ..row(f, now)
            },
            NewJobRow {
                priority: Some(5),
                coalesce: Some("ab".into()),
                ..row(f, now)
            },
            row(g, now),
        ])
        .must("insert");
    let sel = |q: JobQuery| -> Vec<JobId> {
        s.select_jobs(&q)
            .must("select_jobs")
            .iter()
            .map(|r| r.jobid)
            .collect()
    };
    assert!(sel(JobQuery::eligible(vec![], now, 10)).is_empty());
    assert_eq!(
        sel(JobQuery::eligible(vec![f], now, 10)),
        vec![ids[0], ids[3]]
    );
    assert_eq!(
        sel(JobQuery::eligible(vec![f, g], now, 10)),
        vec![ids[0], ids[3], ids[4]]
    );
    assert_eq!(sel(JobQuery::eligible(vec![f], now, 1)), vec![ids[0]]);
    let all = JobQuery {
        funcids: vec![f],
        limit: 10,
        ..JobQuery::default()
    };
    assert_eq!(sel(all.clone()).len(), 4);
    assert_eq!(
        sel(JobQuery {
            jobid: Some(ids[2]),
            ..all.clone()
        }),
        vec![ids[2]]
    );
    assert_eq!(
        sel(JobQuery {
            floor: Some(5),
            ..all.clone()
        }),
        vec![ids[3]]
    );
    assert_eq!(
        sel(JobQuery {
            coalesce: Some(CoalesceFilter::Prefix("a".into())),
            ..all.clone()
        }),
        vec![ids[3]]
    );
    assert_eq!(
        sel(JobQuery {
            coalesce: Some(CoalesceFilter::Equals("a".into())),
            ..all
        }),
        Vec::<JobId>::new()
    );
}

/// `PriorityDesc`: higher first, negatives below zero, NULLs last, ties by jobid.
fn select_priority_order(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let prios = [None, Some(0), Some(-5), Some(5), None, Some(5)];
    let rows: Vec<NewJobRow> = prios
        .iter()
        .map(|p| NewJobRow {
            priority: *p,
            ..row(f, now)
        })
        .collect();
    let ids = s.insert_jobs(&rows).must("insert");
    let q = JobQuery {
        order: JobOrder::PriorityDesc,
        ..JobQuery::eligible(vec![f], now, 10)
    };
    let got: Vec<JobId> = s
        .select_jobs(&q)
        .must("select")
        .iter()
        .map(|r| r.jobid)
        .collect();
    assert_eq!(got, vec![ids[3], ids[5], ids[1], ids[2], ids[0], ids[4]]);
}

/// `claim`: compare-and-swap on the expected lease and `grabbed_until <= now`.
fn claim_compare_and_swap(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let ids = s
        .insert_jobs(&[
            row(f, now),
            row(f, now),
            NewJobRow {
                grabbed_until: now + 50,
                ..row(f, now)
            },
        ])
        .must("insert");
    let won = s
        .claim(
            &[
                Claim {
                    jobid: ids[1],
                    expected: 0,
                    lease_until: now + 10,
                },
                Claim {
                    jobid: ids[0],
                    expected: 7,
                    lease_until: now + 10,
                },
                Claim {
                    jobid: ids[2],
                    expected: now + 50,
                    lease_until: now + 10,
                },
                Claim {
                    jobid: JobId(ids[2].0 + 99),
                    expected: 0,
                    lease_until: now + 10,
                },
            ],
            now,
        )
        .must("claim");
    assert_eq!(
        won,
        vec![ids[1]],
        "only the matching, expired candidate is claimed"
    );
    assert_eq!(
        s.lookup(ids[1]).must("lookup").expect("row").grabbed_until,
        now + 10
    );
    assert_eq!(
        s.lookup(ids[0]).must("lookup").expect("row").grabbed_until,
        0
    );
    assert_eq!(
        s.lookup(ids[2]).must("lookup").expect("row").grabbed_until,
        now + 50
    );
    // A second claim with the old expectation loses.
    let again = s
        .claim(
            &[Claim {
                jobid: ids[1],
                expected: 0,
                lease_until: now + 20,
            }],
            now + 30,
        )
        .must("claim");
    assert!(again.is_empty());
}

fn grabbed(s: &Arc<dyn Store>, f: FuncId, now: i64, n: usize) -> Vec<JobId> {
    let ids = s.insert_jobs(&vec![row(f, now); n]).must("insert");
    let claims: Vec<Claim> = ids
        .iter()
        .map(|id| Claim {
            jobid: *id,
            expected: 0,
            lease_until: now + 100,
        })
        .collect();
    assert_eq!(s.claim(&claims, now).must("claim").len(), n);
    ids
}

/// `finish`: items are independent and fenced; a failure row and an exit status are
/// written only with the fenced change.
fn finish_fenced_and_independent(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let ids = grabbed(&s, f, now, 2);
    let es = Some(ExitStatusWrite {
        status: 3,
        completion_time: now,
        delete_after: now + 60,
    });
    let statuses = s
        .finish(&[
            Finish {
                jobid: ids[0],
                funcid: f,
                token: now + 99,
                failure: Some(failure(ids[0], f, now, "lost")),
                action: FinishAction::Remove { exit_status: es },
            },
            Finish {
                jobid: ids[1],
                funcid: f,
                token: now + 100,
                failure: Some(failure(ids[1], f, now, "kept")),
                action: FinishAction::Remove { exit_status: es },
            },
        ])
        .must("finish");
    assert!(
        matches!(statuses[0], FinishStatus::LeaseLost),
        "{:?}",
        statuses[0]
    );
    assert!(
        matches!(statuses[1], FinishStatus::Done),
        "{:?}",
        statuses[1]
    );
    assert!(
        s.lookup(ids[0]).must("lookup").is_some(),
        "a fenced-out finish removed the row"
    );
    assert!(
        s.failures(ids[0]).must("failures").is_empty(),
        "a fenced-out finish wrote an error row"
    );
    assert!(s.exit_status(ids[0]).must("exit_status").is_none());
    assert!(s.lookup(ids[1]).must("lookup").is_none());
    let fl = s.failures(ids[1]).must("failures");
    assert_eq!(
        (fl.len(), fl[0].message.as_str(), fl[0].funcid),
        (1, "kept", f)
    );
    let st = s
        .exit_status(ids[1])
        .must("exit_status")
        .expect("exit status");
    assert_eq!(
        (st.status, st.completion_time, st.delete_after, st.funcid),
        (3, now, now + 60, f)
    );
}

/// `finish` Reschedule: lease released; run_after moved or kept.
fn finish_reschedule(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let ids = grabbed(&s, f, now, 2);
    let st = s
        .finish(&[
            Finish {
                jobid: ids[0],
                funcid: f,
                token: now + 100,
                failure: None,
                action: FinishAction::Reschedule {
                    run_after: Some(now + 30),
                },
            },
            Finish {
                jobid: ids[1],
                funcid: f,
                token: now + 100,
                failure: None,
                action: FinishAction::Reschedule { run_after: None },
            },
        ])
        .must("finish");
    assert!(st.iter().all(|x| matches!(x, FinishStatus::Done)), "{st:?}");
    let a = s.lookup(ids[0]).must("lookup").expect("row");
    let b = s.lookup(ids[1]).must("lookup").expect("row");
    assert_eq!((a.grabbed_until, a.run_after), (0, now + 30));
    assert_eq!((b.grabbed_until, b.run_after), (0, now));
}

/// `finish` Replace: all or nothing; a collision is `Rejected(DuplicateUniqkey)`.
fn finish_replace_all_or_nothing(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    s.insert_jobs(&[NewJobRow {
        uniqkey: Some("taken".into()),
        ..row(f, now)
    }])
    .must("insert");
    let ids = grabbed(&s, f, now, 1);
    let replace = |keys: &[&str]| Finish {
        jobid: ids[0],
        funcid: f,
        token: now + 100,
        failure: None,
        action: FinishAction::Replace {
            jobs: keys
                .iter()
                .map(|k| NewJobRow {
                    uniqkey: Some(k.to_string()),
                    ..row(f, now)
                })
                .collect(),
            exit_status: None,
        },
    };
    let st = s.finish(&[replace(&["fresh", "taken"])]).must("finish");
    assert!(
        matches!(
            st[0],
            FinishStatus::Rejected(Error::DuplicateUniqkey { .. })
        ),
        "{:?}",
        st[0]
    );
    assert_eq!(stats(&s).jobs, 2, "a rejected replace changed rows");
    assert_eq!(
        s.lookup(ids[0]).must("lookup").expect("row").grabbed_until,
        now + 100
    );
    let st = s.finish(&[replace(&["fresh", "other"])]).must("finish");
    match &st[0] {
        FinishStatus::Replaced(new) => {
            assert_eq!(new.len(), 2);
            for id in new {
                assert!(s.lookup(*id).must("lookup").is_some());
            }
        }
        other => panic!("expected Replaced, got {other:?}"),
    }
    assert!(s.lookup(ids[0]).must("lookup").is_none());
    assert_eq!(stats(&s).jobs, 3);
}

/// Exit statuses are upserts.
fn exit_status_upsert(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    for status in [0, 5] {
        let id = s
            .insert_jobs(&[NewJobRow {
                jobid: Some(JobId(9)),
                ..row(f, now)
            }])
            .must("insert")[0];
        let st = s
            .finish(&[Finish {
                jobid: id,
                funcid: f,
                token: 0,
                failure: None,
                action: FinishAction::Remove {
                    exit_status: Some(ExitStatusWrite {
                        status,
                        completion_time: now,
                        delete_after: now + 10,
                    }),
                },
            }])
            .must("finish");
        assert!(matches!(st[0], FinishStatus::Done), "{:?}", st[0]);
    }
    assert_eq!(
        s.exit_status(JobId(9))
            .must("exit_status")
            .expect("row")
            .status,
        5
    );
    assert_eq!(stats(&s).exit_statuses, 1);
}

/// `extend_lease` is fenced; `reschedule` is not, and reports a missing job.
fn extend_and_reschedule(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let ids = grabbed(&s, f, now, 1);
    assert!(!s.extend_lease(ids[0], now + 1, now + 500).must("extend"));
    assert!(s.extend_lease(ids[0], now + 100, now + 500).must("extend"));
    assert_eq!(
        s.lookup(ids[0]).must("lookup").expect("row").grabbed_until,
        now + 500
    );
    assert!(s.reschedule(ids[0], now + 7).must("reschedule"));
    let r = s.lookup(ids[0]).must("lookup").expect("row");
    assert_eq!((r.grabbed_until, r.run_after), (0, now + 7));
    assert!(!s
        .reschedule(JobId(ids[0].0 + 1000), now)
        .must("reschedule missing"));
}

/// `recent_failures`: newest first, filtered by time and function, limited.
fn recent_failures_filters(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let g = s.funcid("other").must("funcid");
    let ids = grabbed(&s, f, now, 3);
    for (i, id) in ids.iter().enumerate() {
        let fid = if i == 2 { g } else { f };
        let t = now + i as i64 * 10;
        s.finish(&[Finish {
            jobid: *id,
            funcid: fid,
            token: now + 100,
            failure: Some(failure(*id, fid, t, &format!("m{i}"))),
            action: FinishAction::Reschedule { run_after: None },
        }])
        .must("finish");
    }
    let msgs = |v: Vec<FailureRecord>| v.into_iter().map(|r| r.message).collect::<Vec<_>>();
    assert_eq!(
        msgs(s.recent_failures(None, None, 10).must("recent")),
        vec!["m2", "m1", "m0"]
    );
    assert_eq!(
        msgs(s.recent_failures(Some(now + 10), None, 10).must("recent")),
        vec!["m2", "m1"]
    );
    assert_eq!(
        msgs(s.recent_failures(None, Some(f), 10).must("recent")),
        vec!["m1", "m0"]
    );
    assert_eq!(
        msgs(s.recent_failures(None, None, 1).must("recent")),
        vec!["m2"]
    );
}

/// A 10,000-character message is stored as a prefix (cut at a character boundary).
fn long_message_stored_as_prefix(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let ids = grabbed(&s, f, now, 1);
    let long = "ß".repeat(3_000) + &"z".repeat(7_000);
    let st = s
        .finish(&[Finish {
            jobid: ids[0],
            funcid: f,
            token: now + 100,
            failure: Some(failure(ids[0], f, now, &long)),
            action: FinishAction::Remove { exit_status: None },
        }])
        .must("finish with a long message");
    assert!(matches!(st[0], FinishStatus::Done), "{:?}", st[0]);
    let stored = &s.failures(ids[0]).must("failures")[0].message;
    assert!(long.starts_with(stored.as_str()) && stored.chars().count() >= 255);
}

/// A unique violation in `insert_jobs` is `DuplicateUniqkey` and writes nothing, also
/// within one batch.
fn insert_duplicate_uniqkey(ctx: &Ctx) {
    let (s, f, now) = setup(ctx);
    let k = |key: &str| NewJobRow {
        uniqkey: Some(key.into()),
        ..row(f, now)
    };
    assert_err!(
        s.insert_jobs(&[k("a"), k("a")]),
        Error::DuplicateUniqkey { .. }
    );
    assert_eq!(stats(&s).jobs, 0);
    s.insert_jobs(&[k("a")]).must("insert a");
    assert_err!(
        s.insert_jobs(&[k("b"), k("a")]),
        Error::DuplicateUniqkey { .. }
    );
    assert_eq!(stats(&s).jobs, 1);
    let g = s.funcid("other").must("funcid");
    s.insert_jobs(&[NewJobRow {
        funcid: g,
        ..k("a")
    }])
    .must("same key, other function");
}

cases!(
    "store";
    insert_and_lookup_round_trip,
    explicit_jobid,
    select_jobs_filters,
    select_priority_order,
    claim_compare_and_swap,
    finish_fenced_and_independent,
    finish_reschedule,
    finish_replace_all_or_nothing,
    exit_status_upsert,
    extend_and_reschedule,
    recent_failures_filters,
    long_message_stored_as_prefix,
    insert_duplicate_uniqkey,
);
