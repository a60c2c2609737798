//! `t/evenly-distribute.t` (spec 8.10): inserts spread over the stores.

use super::common::*;

const FOO: &str = "Worker::Foo";

/// 1-3. 60 inserts over 2 stores: 60 in all, more than 15 in each.
fn sixty_inserts_spread(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    for _ in 0..60 {
        ins(&c, Job::new(FOO));
    }
    let a = stats(&stores[0]).jobs;
    let b = stats(&stores[1]).jobs;
    assert_eq!(a + b, 60);
    assert!(a > 15 && b > 15, "uneven spread: {a} / {b}");
}

/// 4. 30 `work_once` all find a job (from either store); 30 remain.
fn thirty_work_once_leave_thirty(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    for _ in 0..60 {
        ins(&c, Job::new(FOO));
    }
    can_do(&c, FOO, TestWorker::completing());
    for i in 0..30 {
        assert!(work_once(&c), "work_once #{i} found nothing");
    }
    let left: u64 = stores.iter().map(|s| stats(s).jobs).sum();
    assert_eq!(left, 30);
}

/// Three stores: each gets a share.
fn three_stores_each_get_jobs(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(3);
    for _ in 0..90 {
        ins(&c, Job::new(FOO));
    }
    let counts: Vec<u64> = stores.iter().map(|s| stats(s).jobs).collect();
    assert_eq!(counts.iter().sum::<u64>(), 90);
    assert!(
        counts.iter().all(|n| *n > 10),
        "uneven spread over 3 stores: {counts:?}"
    );
}

/// Workers find jobs in every store.
fn workers_drain_every_store(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    for _ in 0..20 {
        ins(&c, Job::new(FOO));
    }
    can_do(&c, FOO, TestWorker::completing());
    assert_eq!(c.work_until_done().must("work_until_done"), 20);
    assert!(stores.iter().all(|s| stats(s).jobs == 0));
}

cases!("evenly_distribute";
    sixty_inserts_spread,
    thirty_work_once_leave_thirty,
    three_stores_each_get_jobs,
    workers_drain_every_store,
);
