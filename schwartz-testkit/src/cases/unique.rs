//! Uniqkeys: one pending job per (function, uniqkey), per store; the key's home store
//! when a client has several stores; batch inserts that collide write nothing.

use super::common::*;

/// 29. `insert_jobs` of two jobs with the same uniqkey inserts nothing.
fn insert_jobs_duplicate_uniqkey_inserts_nothing(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let r = c.insert_jobs(vec![
        Job::new("feedmajor").uniqkey("u1"),
        Job::new("feedmajor").uniqkey("u1"),
    ]);
    assert_err!(r, Error::DuplicateUniqkey { .. });
    assert_eq!(stats(&s).jobs, 0, "a refused insert_jobs left rows behind");
    assert!(
        !c.is_dead(&h0(&c)),
        "a unique violation must not mark the store dead"
    );
    // The key is still free afterwards.
    ins(&c, Job::new("feedmajor").uniqkey("u1"));
}

/// 1-2. A job with a uniqkey inserts.
fn first_insert_ok(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new("feed").uniqkey("major"));
    assert_eq!(lookup(&c, &h).uniqkey(), Some("major"));
}

/// 3-4. The same key under another function does not clash.
fn same_key_other_function_ok(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("major"));
    ins(&c, Job::new("scratch").uniqkey("major"));
}

/// 5-6. A second feed/major is refused (`DuplicateUniqkey`), nothing written, and the
/// store is not marked dead.
fn duplicate_refused(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("major"));
    ins(&c, Job::new("scratch").uniqkey("major"));
    c.clear_dead();
    let e = assert_err!(
        c.insert(Job::new("feed").uniqkey("major")),
        Error::DuplicateUniqkey { .. }
    );
    assert!(!e.marks_store_dead());
    assert!(
        !c.is_dead(&h0(&c)),
        "a unique violation marked the store dead"
    );
    assert_eq!(stats(&s).jobs, 2);
}

/// Once the job is finished its key can be used again.
fn key_reusable_after_completion(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, "feed", TestWorker::completing());
    ins(&c, Job::new("feed").uniqkey("major"));
    assert!(work_once(&c));
    ins(&c, Job::new("feed").uniqkey("major"));
}

/// Jobs without a uniqkey never collide.
fn no_uniqkey_never_collides(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    for _ in 0..5 {
        ins(&c, Job::new("feed"));
    }
    assert_eq!(stats(&s).jobs, 5);
}

/// uniqkeys compare exactly (case-sensitive on every backend).
fn uniqkey_case_sensitive(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("Major"));
    ins(&c, Job::new("feed").uniqkey("major"));
    assert_eq!(stats(&s).jobs, 2);
}

/// `insert_jobs` colliding with an existing pending job inserts none of its jobs.
fn insert_jobs_colliding_with_existing(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new("feed").uniqkey("k"));
    let r = c.insert_jobs(vec![
        Job::new("feed").uniqkey("other"),
        Job::new("feed").uniqkey("k"),
    ]);
    assert_err!(r, Error::DuplicateUniqkey { .. });
    assert_eq!(stats(&s).jobs, 1, "insert_jobs was not all-or-nothing");
    ins(&c, Job::new("feed").uniqkey("other"));
}

/// A job still leased or waiting for a retry keeps its key.
fn failed_job_keeps_key(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "feed",
        TestWorker::new(|_| Err(werr("again")))
            .max_retries(5)
            .retry_delay(|_| secs(100)),
    );
    ins(&c, Job::new("feed").uniqkey("k"));
    assert!(work_once(&c));
    assert_err!(
        c.insert(Job::new("feed").uniqkey("k")),
        Error::DuplicateUniqkey { .. }
    );
}

const FN: &str = "Worker::Unique";

/// B11: with several stores a uniqkey job goes to one home store, so a duplicate is
/// refused across stores (upstream: one duplicate per database).
fn uniqkey_home_store_two_stores(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    let first = ins(&c, Job::new(FN).uniqkey("major"));
    for i in 0..10 {
        assert_err!(
            c.insert(Job::new(FN).uniqkey("major")),
            Error::DuplicateUniqkey { .. },
            "attempt {i}"
        );
    }
    let total: u64 = stores.iter().map(|s| stats(s).jobs).sum();
    assert_eq!(total, 1);
    assert_eq!(
        first.store(),
        &c.home_stores(FN, "major")[0],
        "not in its home store"
    );
}

/// B11 with three stores and many keys: each key once, every duplicate refused.
fn uniqkey_home_store_three_stores(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(3);
    for k in 0..30 {
        ins(&c, Job::new(FN).uniqkey(format!("key-{k}")));
    }
    for k in 0..30 {
        assert_err!(
            c.insert(Job::new(FN).uniqkey(format!("key-{k}"))),
            Error::DuplicateUniqkey { .. },
            "key-{k}"
        );
        assert_err!(
            c.insert_jobs(vec![Job::new(FN).uniqkey(format!("key-{k}"))]),
            Error::DuplicateUniqkey { .. },
            "insert_jobs key-{k}"
        );
    }
    let counts: Vec<u64> = stores.iter().map(|s| stats(s).jobs).collect();
    assert_eq!(counts.iter().sum::<u64>(), 30);
    assert!(
        counts.iter().filter(|n| **n > 0).count() >= 2,
        "keys not spread over home stores: {counts:?}"
    );
}

/// A second client over the same stores agrees on home stores.
fn uniqkey_home_store_shared_by_clients(ctx: &Ctx) {
    let stores = ctx.stores(3);
    let a = ctx.client(&stores);
    let b = ctx.client(&[
        Arc::clone(&stores[2]),
        Arc::clone(&stores[0]),
        Arc::clone(&stores[1]),
    ]);
    for k in 0..10 {
        ins(&a, Job::new(FN).uniqkey(format!("k{k}")));
        assert_err!(
            b.insert(Job::new(FN).uniqkey(format!("k{k}"))),
            Error::DuplicateUniqkey { .. },
            "k{k}"
        );
    }
}

cases!(
    "unique";
    insert_jobs_duplicate_uniqkey_inserts_nothing,
    first_insert_ok,
    same_key_other_function_ok,
    duplicate_refused,
    key_reusable_after_completion,
    no_uniqkey_never_collides,
    uniqkey_case_sensitive,
    insert_jobs_colliding_with_existing,
    failed_job_keeps_key,
    uniqkey_home_store_two_stores,
    uniqkey_home_store_three_stores,
    uniqkey_home_store_shared_by_clients,
);
