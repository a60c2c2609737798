//! What the store cases share: rows at a fixed time, queries, claiming one job,
//! writing failures, and the check that every operation fails the same way.

use crate::cases::common::*;
use schwartz_core::store::{
    Claim, FailureRecord, Finish, FinishAction, FinishStatus, JobQuery, JobRow, Lease, NewJobRow,
};
use schwartz_core::FuncId;

/// The time the store cases write rows at (every time is given explicitly: the store's
/// own clock plays no part).
pub(super) const T0: i64 = 1_000_000;

pub(super) fn row(funcid: FuncId) -> NewJobRow {
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

pub(super) fn uniq(funcid: FuncId, key: &str) -> NewJobRow {
    NewJobRow {
        uniqkey: Some(key.to_owned()),
        ..row(funcid)
    }
}

pub(super) fn ids(rows: &[JobRow]) -> Vec<i64> {
    rows.iter().map(|r| r.jobid.0).collect()
}

pub(super) fn all(funcids: Vec<FuncId>) -> JobQuery {
    JobQuery {
        funcids,
        limit: usize::MAX,
        ..JobQuery::default()
    }
}

pub(super) fn failure(jobid: JobId, funcid: FuncId, time: i64, msg: &str) -> FailureRecord {
    FailureRecord {
        error_time: time,
        jobid,
        message: msg.to_owned(),
        funcid,
    }
}

/// Grabs one job with the compare-and-swap protocol; returns its token.
pub(super) fn claim_one(store: &dyn Store, jobid: JobId, now: i64, grab_for: i64) -> i64 {
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

/// Appends failure rows through `finish` (the only way errors are written).
pub(super) fn add_failures(s: &dyn Store, list: &[(JobId, FuncId, i64, &str)]) {
    for &(jobid, funcid, time, msg) in list {
        let t = claim_one(s, jobid, T0, 1);
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

/// Calls every operation and checks each fails with `check`.
pub(super) fn every_operation_fails(
    s: &dyn Store,
    check: impl Fn(Error) -> bool,
    server_time_too: bool,
) {
    let f = FuncId(1);
    assert!(check(s.funcmap().unwrap_err()));
    assert!(check(s.funcid("f").unwrap_err()));
    assert!(check(s.insert_jobs(&[row(f)]).unwrap_err()));
    assert!(check(s.lookup(JobId(1)).unwrap_err()));
    assert!(check(s.select_jobs(&all(vec![f])).unwrap_err()));
    let claim = Claim {
        jobid: JobId(1),
        expected: 0,
        lease_until: T0 + 1,
    };
    assert!(check(s.claim(&[claim], T0).unwrap_err()));
    if s.supports_skip_locked() {
        let lease = Lease {
            funcid: f,
            grab_for: 1,
        };
        assert!(check(
            s.grab_skip_locked(&all(vec![f]), &[lease], T0).unwrap_err()
        ));
    }
    let finish = Finish {
        jobid: JobId(1),
        funcid: f,
        token: 0,
        failure: None,
        action: FinishAction::Remove { exit_status: None },
    };
    assert!(check(s.finish(&[finish]).unwrap_err()));
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
