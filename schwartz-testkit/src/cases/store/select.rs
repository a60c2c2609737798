//! Selecting jobs: eligibility by time and lease, job id, priority order and floor,
//! coalesce filters, limits, and a randomized comparison with a naive evaluation.

use super::support::*;
use crate::cases::common::*;
use schwartz_core::store::{
    Claim, CoalesceFilter, Finish, FinishAction, FinishStatus, JobOrder, JobQuery, JobRow, Lease,
    NewJobRow,
};
use schwartz_core::FuncId;

fn select_filters_on_time_and_jobid(ctx: &Ctx) {
    let s = ctx.store();
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

fn select_orders_by_jobid_across_functions_with_limit(ctx: &Ctx) {
    let s = ctx.store();
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

fn select_orders_by_priority_desc_nulls_last_then_jobid(ctx: &Ctx) {
    let s = ctx.store();
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
    let token = claim_one(&*s, JobId(3), T0, 100);
    assert_eq!(token, T0 + 100);
    let mut q = JobQuery::eligible(vec![f, g], T0, 2);
    q.order = JobOrder::PriorityDesc;
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![2, 5]);
}

fn coalesce_equals_and_literal_prefix(ctx: &Ctx) {
    let s = ctx.store();
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

fn select_finds_due_jobs_behind_many_scheduled_ones(ctx: &Ctx) {
    let s = ctx.store();
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
fn naive(rows: &[JobRow], q: &JobQuery) -> Vec<i64> {
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
/// with time moving forwards and sometimes backwards, compared with a naive model.
fn select_agrees_with_a_naive_model(ctx: &Ctx) {
    let s = ctx.store();
    let funcs = [
        s.funcid("f").unwrap(),
        s.funcid("g").unwrap(),
        s.funcid("h").unwrap(),
    ];
    let mut rng = Lcg(42);
    let mut max_id = 0;
    let mut now = T0;
    let mut seen = [0u64; 4];
    // Every row, by one select (a lookup per id would be slow on a server).
    let all_rows = |s: &dyn Store, _max_id: i64| -> Vec<JobRow> {
        s.select_jobs(&all(funcs.to_vec())).unwrap()
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
    // 400 steps: enough for every kind of row, few enough for a server in a debug build.
    for step in 0..400 {
        // Time mostly moves forward, sometimes jumps back.
        match rng.next(20) {
            0 => now -= rng.next(30) as i64,
            1..=9 => now += rng.next(4) as i64,
            _ => {}
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
                // One function or all: the one-function grab has its own statements on
                // MySQL (the lease index's two ranges).
                let fs = match rng.next(3) {
                    0 => vec![funcs[rng.next(3) as usize]],
                    _ => funcs.to_vec(),
                };
                let mut q = JobQuery::eligible(fs, now, 1 + rng.next(3) as usize);
                if rng.next(2) == 0 {
                    q.order = JobOrder::PriorityDesc;
                }
                let expected = naive(&all_rows(&*s, max_id), &q);
                let Some(got) = s.grab_skip_locked(&q, &leases, now).unwrap() else {
                    // No SKIP LOCKED statement (SQLite): it must say so every time.
                    assert!(!s.supports_skip_locked(), "step {step}: no rows");
                    continue;
                };
                assert_eq!(ids(&got), expected, "step {step}: grab {q:?}");
                for r in &got {
                    let lease = leases.iter().find(|l| l.funcid == r.funcid).unwrap();
                    assert_eq!(r.grabbed_until, now + lease.grab_for);
                    assert_eq!(s.lookup(r.jobid).unwrap().as_ref(), Some(r));
                }
            }
            11 | 12 => {
                // TheSchwartz's protocol: select, then claim some of the candidates (of one
                // function or of all, as above).
                let fs = match rng.next(3) {
                    0 => vec![funcs[rng.next(3) as usize]],
                    _ => funcs.to_vec(),
                };
                let q = JobQuery::eligible(fs, now, 1 + rng.next(3) as usize);
                let expected = naive(&all_rows(&*s, max_id), &q);
                let cands = s.select_jobs(&q).unwrap();
                assert_eq!(ids(&cands), expected, "step {step}: select {q:?}");
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
    assert!(seen.iter().all(|&n| n > 200), "{seen:?}");
}

/// A pool grabs ahead: the first jobs by id are leased. Selects skip them (and the jobs
/// scheduled for later) and see them again once their lease expires.
fn select_skips_leased_and_scheduled_rows_until_due(ctx: &Ctx) {
    let s = ctx.store();
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
    // Lease the first 1000 due jobs (by select and claim where there is no SKIP LOCKED).
    let first = JobQuery::eligible(vec![f], T0, 1000);
    let got = match s.grab_skip_locked(&first, &leases, T0).unwrap() {
        Some(rows) => ids(&rows),
        None => {
            let claims: Vec<Claim> = s
                .select_jobs(&first)
                .unwrap()
                .iter()
                .map(|r| Claim {
                    jobid: r.jobid,
                    expected: r.grabbed_until,
                    lease_until: T0 + 60,
                })
                .collect();
            s.claim(&claims, T0)
                .unwrap()
                .iter()
                .map(|id| id.0)
                .collect()
        }
    };
    assert_eq!(got.len(), 1000);
    assert_eq!(got.last(), Some(&1499));
    let q = JobQuery::eligible(vec![f], T0, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1501, 1502, 1504]);
    let q = JobQuery {
        order: JobOrder::PriorityDesc,
        ..q
    };
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1505, 1510, 1520]);
    // A minute later the leases expired: the leased jobs come first again.
    let q = JobQuery::eligible(vec![f], T0 + 60, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1, 2, 4]);
    // Later still, the scheduled jobs are due too; a select for a time before that (a
    // stale clock reading) still leaves them out.
    let q = JobQuery::eligible(vec![f], T0 + 100, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1, 2, 3]);
    let q = JobQuery::eligible(vec![f], T0 + 99, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1, 2, 4]);
    let q = JobQuery::eligible(vec![f], T0 + 59, 3);
    assert_eq!(ids(&s.select_jobs(&q).unwrap()), vec![1501, 1502, 1504]);
}

cases!(
    "store";
    select_filters_on_time_and_jobid,
    select_orders_by_jobid_across_functions_with_limit,
    select_orders_by_priority_desc_nulls_last_then_jobid,
    coalesce_equals_and_literal_prefix,
    select_finds_due_jobs_behind_many_scheduled_ones,
    select_agrees_with_a_naive_model,
    select_skips_leased_and_scheduled_rows_until_due,
);
