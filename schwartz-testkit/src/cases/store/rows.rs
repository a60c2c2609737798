//! Rows in and out: function ids, job ids (assigned and explicit), uniqkeys, exit
//! statuses, failure messages and their pruning, and a database without tables.

use super::support::*;
use crate::cases::common::*;
use schwartz_core::store::{
    ExitStatusWrite, FailureRecord, Finish, FinishAction, FinishStatus, NewJobRow,
};
use schwartz_core::FuncId;

fn funcmap_auto_increments_from_one(ctx: &Ctx) {
    let s = ctx.store();
    assert!(s.funcmap().unwrap().is_empty());
    assert_eq!(s.funcid("a").unwrap(), FuncId(1));
    assert_eq!(s.funcid("b").unwrap(), FuncId(2));
    assert_eq!(s.funcid("a").unwrap(), FuncId(1));
    let map = s.funcmap().unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!((map[0].funcid, map[0].funcname.as_str()), (FuncId(1), "a"));
    assert_eq!((map[1].funcid, map[1].funcname.as_str()), (FuncId(2), "b"));
    // VARCHAR(255), counted in characters. (Longer names never reach a store: the client
    // refuses them; what a store does with one is not part of the contract.)
    assert!(s.funcid(&"é".repeat(255)).is_ok());
}

fn insert_assigns_increasing_ids_and_honours_explicit_ones(ctx: &Ctx) {
    let s = ctx.store();
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
    let before = stats(&s);
    let err = s.insert_jobs(&[row(f), explicit]).unwrap_err();
    match &err {
        Error::DuplicateJobId { store, jobid } => {
            assert_eq!(store, &s.describe());
            assert_eq!(*jobid, JobId(10));
        }
        // The SQL stores cannot tell a primary-key violation from a uniqkey one yet and
        // report a duplicate without a key. TODO(issue 7): DuplicateJobId everywhere.
        Error::DuplicateUniqkey { store, uniqkey, .. } => {
            assert_eq!(store, &s.describe());
            assert_eq!(*uniqkey, None, "an explicit id collision names no uniqkey");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(stats(&s), before);
    // (Which ids a batch mixing explicit and assigned ids gets is the store's business:
    // schwartz-memory's tests pin the memory store's.)
    // Ids are never reused, even after the newest job is deleted.
    let token = claim_one(&*s, JobId(11), T0, 10);
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
    let next = s.insert_jobs(&[row(f)]).unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0] > JobId(11), "{next:?} reuses an id");
    assert_eq!(s.insert_jobs(&[]).unwrap(), Vec::<JobId>::new());
}

fn inserted_row_reads_back(ctx: &Ctx) {
    let s = ctx.store();
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

fn uniqkey_is_unique_among_pending_jobs(ctx: &Ctx) {
    let s = ctx.store();
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
    let before = stats(&s);
    let err = s
        .insert_jobs(&[uniq(f, "new"), row(f), uniq(f, "new")])
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateUniqkey { .. }));
    assert_eq!(stats(&s), before);
    // A colliding batch writes nothing either.
    let err = s
        .insert_jobs(&[uniq(f, "other"), uniq(f, "k")])
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateUniqkey { .. }));
    assert_eq!(stats(&s), before);
    assert!(s.insert_jobs(&[uniq(f, "other")]).is_ok());
    // An unknown funcid still collides (no funcname then).
    s.insert_jobs(&[uniq(FuncId(77), "z")]).unwrap();
    match s.insert_jobs(&[uniq(FuncId(77), "z")]).unwrap_err() {
        Error::DuplicateUniqkey { funcname, .. } => assert_eq!(funcname, None),
        other => panic!("unexpected {other:?}"),
    }
    // Once the job is gone the key is free again.
    let token = claim_one(&*s, first, T0, 10);
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

fn exit_status_is_an_upsert(ctx: &Ctx) {
    let s = ctx.store();
    let f = s.funcid("f").unwrap();
    s.insert_jobs(&[NewJobRow {
        jobid: Some(JobId(7)),
        ..row(f)
    }])
    .unwrap();
    let t = claim_one(&*s, JobId(7), T0, 10);
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
    let t = claim_one(&*s, JobId(7), T0, 20);
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
    assert_eq!(stats(&s).exit_statuses, 1);
    // The old deadline no longer prunes it.
    assert_eq!(s.prune_exit_statuses(T0 + 100, 10).unwrap(), 0);
    assert_eq!(s.prune_exit_statuses(T0 + 501, 10).unwrap(), 1);
    assert_eq!(s.exit_status(JobId(7)).unwrap(), None);
}

fn long_messages_are_truncated_at_a_char_boundary(ctx: &Ctx) {
    let s = ctx.store();
    let f = s.funcid("f").unwrap();
    let id = s.insert_jobs(&[row(f)]).unwrap()[0];
    let t = claim_one(&*s, id, T0, 10);
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
    // Cut to the store's column (65,535 bytes in MySQL's TEXT, no limit in SQLite's), at
    // a character boundary: a non-empty prefix of the message.
    assert!(
        msg.len() <= long.len() && msg.len() > 255,
        "{} bytes",
        msg.len()
    );
    assert!(long.starts_with(msg.as_str()));
}

fn failure_queries_and_pruning(ctx: &Ctx) {
    let s = ctx.store();
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
    // Every failure of the job (in insertion order where the store keeps one: the SQL
    // tables have no key to keep it by).
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(msgs(s.failures(a).unwrap())), vec!["a1", "a2", "a3"]);
    assert_eq!(sorted(msgs(s.failures(b).unwrap())), vec!["b1", "b2"]);
    assert!(s.failures(JobId(99)).unwrap().is_empty());
    // Newest first (ties in any order: b2 and a2 are both at 300).
    let recent = |since, funcid, limit| {
        let v = s.recent_failures(since, funcid, limit).unwrap();
        let times: Vec<i64> = v.iter().map(|r| r.error_time).collect();
        (times, sorted(msgs(v)))
    };
    assert_eq!(
        recent(None, None, 10),
        (
            vec![300, 300, 200, 100, 50],
            sorted(vec![
                "a1".into(),
                "a2".into(),
                "a3".into(),
                "b1".into(),
                "b2".into()
            ])
        )
    );
    assert_eq!(
        recent(None, None, 2),
        (vec![300, 300], vec!["a2".to_string(), "b2".to_string()])
    );
    assert_eq!(
        recent(Some(200), None, 10),
        (
            vec![300, 300, 200],
            vec!["a2".to_string(), "a3".to_string(), "b2".to_string()]
        )
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
    assert_eq!(sorted(msgs(s.failures(a).unwrap())), vec!["a2", "a3"]);
    assert_eq!(msgs(s.failures(b).unwrap()), vec!["b2"]);
    assert_eq!(s.prune_errors(250, 10).unwrap(), 1); // a3 (200)
    assert_eq!(s.prune_errors(1000, 0).unwrap(), 0);
    assert_eq!(s.prune_errors(1000, 10).unwrap(), 2);
    assert_eq!(stats(&s).errors, 0);
}

fn prune_exit_statuses_respects_limit_and_deadline(ctx: &Ctx) {
    let s = ctx.store();
    let f = s.funcid("f").unwrap();
    let batch: Vec<_> = (0..5).map(|_| row(f)).collect();
    let jobs = s.insert_jobs(&batch).unwrap();
    for (i, id) in jobs.iter().enumerate() {
        let t = claim_one(&*s, *id, T0, 10);
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
    assert_eq!(stats(&s).exit_statuses, 0);
}

fn store_without_schema_reports_it(ctx: &Ctx) {
    let store = ctx.empty_store();
    let desc = store.describe();
    every_operation_fails(
        &*store,
        |e| {
            e.marks_store_dead()
                && matches!(&e, Error::SchemaMissing { store, .. } if *store == desc)
        },
        false,
    );
    // No table is needed for the clock or for LISTEN.
    assert!(store.server_time().is_ok());
    assert!(store.notifier().is_ok());
}

cases!(
    "store";
    funcmap_auto_increments_from_one,
    insert_assigns_increasing_ids_and_honours_explicit_ones,
    inserted_row_reads_back,
    uniqkey_is_unique_among_pending_jobs,
    exit_status_is_an_upsert,
    long_messages_are_truncated_at_a_char_boundary,
    failure_queries_and_pruning,
    prune_exit_statuses_respects_limit_and_deadline,
    store_without_schema_reports_it,
);
