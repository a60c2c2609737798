//! Several stores: inserts spread over them and fail over when one is down, dead stores
//! marked, skipped and revived after `retry_seconds`, a missing database or one without
//! tables, each store's own clock, and client configurations the builder refuses.

use super::common::*;

const ADD: &str = "Worker::Addition";

fn numbers() -> Numbers {
    Numbers {
        numbers: vec![1, 2],
    }
}

/// 1. Client over [missing, good]: 50 inserts all succeed, into the good store.
fn inserts_skip_missing_store(ctx: &Ctx) {
    let missing = ctx.missing_store();
    let good = ctx.store();
    let c = ctx.client(&[missing, Arc::clone(&good)]);
    let good_hash = StoreHash::of(&good.identity());
    for i in 0..50 {
        let h = c
            .insert(job_with(ADD, &numbers()))
            .unwrap_or_else(|e| panic!("insert #{i} failed: {e}"));
        assert_eq!(
            h.store(),
            &good_hash,
            "insert #{i} went to the missing store"
        );
    }
    assert_eq!(stats(&good).jobs, 50);
}

/// 2. 50 `grab_job` calls succeed (grab_for 30, no re-grab), then none.
fn grabs_skip_missing_store(ctx: &Ctx) {
    let missing = ctx.missing_store();
    let good = ctx.store();
    let c = ctx.client(&[missing, Arc::clone(&good)]);
    can_do(&c, ADD, TestWorker::completing().grab_for(30));
    for _ in 0..50 {
        ins(&c, job_with(ADD, &numbers()));
    }
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..50 {
        let j = grab(&c, ADD).unwrap_or_else(|| panic!("grab_job #{i} found nothing"));
        assert!(ids.insert(j.jobid()), "job {} grabbed twice", j.jobid());
    }
    assert!(grab(&c, ADD).is_none(), "a 51st grab found a job");
}

/// A store that fails is marked dead; the good one is not.
fn failing_store_marked_dead(ctx: &Ctx) {
    let missing = ctx.missing_store();
    let good = ctx.store();
    let c = ctx.client(&[Arc::clone(&missing), Arc::clone(&good)]);
    let mh = StoreHash::of(&missing.identity());
    let gh = StoreHash::of(&good.identity());
    assert!(!c.is_dead(&mh), "nothing was tried yet");
    // Random store order: a few inserts certainly try the missing store.
    for _ in 0..20 {
        ins(&c, Job::new(ADD));
    }
    assert!(c.is_dead(&mh), "the missing store was not marked dead");
    assert!(!c.is_dead(&gh));
}

fn flaky_client(ctx: &Ctx, retry: Option<u64>) -> (Client, Arc<FlakyStore>) {
    let flaky = FlakyStore::new(ctx.store());
    let mut b = ctx.builder().store(flaky.dyn_store());
    if let Some(r) = retry {
        b = b.retry_seconds(secs(r));
    }
    (b.build().must("building the client"), flaky)
}

fn kill(c: &Client, flaky: &FlakyStore) {
    flaky.set_offline(true);
    let e = c.insert(Job::new(ADD));
    assert!(e.is_err(), "insert into an offline store succeeded");
    assert!(
        c.is_dead(&h0(c)),
        "a failing insert did not mark the store dead"
    );
    flaky.set_offline(false);
}

/// A client over [flaky, good] whose flaky store failed and is marked dead (and answers
/// again).
fn flaky_pair(ctx: &Ctx, retry: u64) -> (Client, Arc<FlakyStore>) {
    let flaky = FlakyStore::new(ctx.store());
    let c = ctx
        .builder()
        .stores([flaky.dyn_store(), ctx.store()])
        .retry_seconds(secs(retry))
        .build()
        .must("building the client");
    flaky.set_offline(true);
    // Random store order: a few inserts certainly try the flaky store.
    for _ in 0..50 {
        ins(&c, Job::new(ADD));
        if c.is_dead(&h0(&c)) {
            break;
        }
    }
    assert!(c.is_dead(&h0(&c)), "the failing store was not marked dead");
    flaky.set_offline(false);
    (c, flaky)
}

/// While another store is alive, a dead store is skipped (not even asked) until
/// `retry_seconds` have passed, then used.
fn revived_after_retry_seconds(ctx: &Ctx) {
    let (c, flaky) = flaky_pair(ctx, 30);
    let calls = flaky.calls();
    for _ in 0..10 {
        let h = ins(&c, Job::new(ADD));
        assert_ne!(h.store(), &h0(&c), "an insert went to the dead store");
    }
    assert_eq!(flaky.calls(), calls, "a dead store was asked for an insert");
    ctx.advance(31);
    assert!(!c.is_dead(&h0(&c)), "store not revived after retry_seconds");
    ins(&c, Job::new(ADD));
}

/// Not revived before `retry_seconds` while another store is alive.
fn not_revived_early(ctx: &Ctx) {
    let (c, flaky) = flaky_pair(ctx, 100);
    ctx.advance(90);
    assert!(c.is_dead(&h0(&c)), "revived before retry_seconds");
    let calls = flaky.calls();
    let h = ins(&c, Job::new(ADD));
    assert_ne!(h.store(), &h0(&c), "the insert went to the dead store");
    assert_eq!(flaky.calls(), calls, "a dead store was asked for an insert");
    ctx.advance(20);
    assert!(!c.is_dead(&h0(&c)), "not revived after retry_seconds");
}

/// When no store is alive, a store that failed is probed after a short back-off (at most
/// a second), not skipped for `retry_seconds`: once it answers it is used and alive again.
fn only_store_probed_when_none_alive(ctx: &Ctx) {
    let (c, flaky) = flaky_client(ctx, Some(3600));
    kill(&c, &flaky);
    ctx.advance(1);
    ins(&c, Job::new(ADD));
    assert!(
        !c.is_dead(&h0(&c)),
        "a store that answered a probe is still dead"
    );
    // A failed probe marks it dead again, with a longer back-off (at most a second).
    flaky.set_offline(true);
    assert!(
        c.insert(Job::new(ADD)).is_err(),
        "insert into an offline store succeeded"
    );
    assert!(c.is_dead(&h0(&c)));
    ctx.advance(1);
    assert!(
        c.insert(Job::new(ADD)).is_err(),
        "the probe found an offline store alive"
    );
    flaky.set_offline(false);
    ctx.advance(1);
    ins(&c, Job::new(ADD));
}

/// The default `retry_seconds` is 30 (zero also means 30).
fn default_retry_seconds_is_30(ctx: &Ctx) {
    for retry in [None, Some(0)] {
        let (c, flaky) = flaky_client(ctx, retry);
        let start = ctx.shift().seconds();
        kill(&c, &flaky);
        ctx.advance(25);
        assert!(c.is_dead(&h0(&c)), "retry {retry:?}: revived after 25 s");
        ctx.advance(10);
        assert!(
            !c.is_dead(&h0(&c)),
            "retry {retry:?}: still dead after 35 s"
        );
        assert!(ctx.shift().seconds() - start >= 35);
    }
}

/// `clear_dead` forgets dead marks at once.
fn clear_dead_revives(ctx: &Ctx) {
    let (c, flaky) = flaky_client(ctx, Some(3600));
    kill(&c, &flaky);
    c.clear_dead();
    assert!(!c.is_dead(&h0(&c)));
    ins(&c, Job::new(ADD));
}

/// `mark_dead` by hand: inserts and grabs skip that store until revival.
fn marked_dead_store_skipped(ctx: &Ctx) {
    let stores = ctx.stores(2);
    let c = ctx
        .builder()
        .stores(stores.iter().cloned())
        .retry_seconds(secs(60))
        .build()
        .must("client");
    can_do(&c, ADD, TestWorker::completing());
    let dead = StoreHash::of(&stores[0].identity());
    // A job in the store about to be marked dead.
    let c0 = ctx.client(&stores[..1]);
    ins(&c0, Job::new(ADD));
    c.mark_dead(&dead, "marked by the test");
    assert!(c.is_dead(&dead));
    for _ in 0..10 {
        let h = ins(&c, Job::new(ADD));
        assert_ne!(h.store(), &dead, "insert went to a dead store");
    }
    assert_eq!(
        c.work_until_done().must("work_until_done"),
        10,
        "only the live store's jobs"
    );
    assert_eq!(stats(&stores[0]).jobs, 1, "the dead store's job was worked");
    let listed = list(&c, &[ADD]);
    assert!(
        listed.is_empty(),
        "list_jobs read a dead store: {} jobs",
        listed.len()
    );
    ctx.advance(61);
    assert_eq!(
        c.work_until_done().must("work_until_done"),
        1,
        "the revived store's job"
    );
}

/// Every store dead: `NoStore`, for insert and insert_jobs.
fn all_stores_dead_no_store(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    for h in c.store_hashes() {
        c.mark_dead(&h, "test");
    }
    assert_err!(c.insert(Job::new(ADD)), Error::NoStore(_));
    assert_err!(c.insert_jobs(vec![Job::new(ADD)]), Error::NoStore(_));
    assert!(stores.iter().all(|s| stats(s).jobs == 0));
}

/// A store failing during a grab is marked dead; the other store's jobs are still found.
fn grab_marks_failing_store_dead(ctx: &Ctx) {
    let flaky = FlakyStore::new(ctx.store());
    let good = ctx.store();
    let c = ctx.client(&[flaky.dyn_store(), Arc::clone(&good)]);
    can_do(&c, ADD, TestWorker::completing());
    ins(&ctx.client(&[Arc::clone(&good)]), Job::new(ADD));
    flaky.set_offline(true);
    assert!(
        grab(&c, ADD).is_some(),
        "the good store's job was not found"
    );
    // Random order: repeat until the flaky store was certainly tried.
    for _ in 0..20 {
        let _ = c
            .find_job_for_workers(Some(&[ADD]))
            .must("find_job_for_workers");
    }
    assert!(
        c.is_dead(&StoreHash::of(&flaky.identity())),
        "failing store not marked dead by grabs"
    );
}

/// A dead mark is not checked by lookups, handle queries, `work_on` or outcomes (3.9):
/// only inserts, finds and listings skip dead stores.
fn dead_mark_not_checked_by_lookups(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, ADD, TestWorker::completing());
    let h = ins(&c, Job::new(ADD));
    let h2 = ins(&c, Job::new(ADD));
    let j = grab(&c, ADD).expect("grab");
    c.mark_dead(&h0(&c), "marked by the test");
    assert!(grab(&c, ADD).is_none(), "a find used a dead store");
    // With every store dead, listing is empty or `NoStore` (both say: nothing to read).
    match c.list_jobs(&ListJobs::new([ADD])) {
        Ok(jobs) => assert!(jobs.is_empty(), "list_jobs used a dead store"),
        Err(e) => assert!(matches!(e, Error::NoStore(_)), "list_jobs: {e}"),
    }
    assert!(c
        .find_job_with_coalescing_prefix(ADD, "")
        .must("coalescing find")
        .is_none());
    assert!(pending(&c, &h));
    assert!(
        c.lookup_job(&h).must("lookup_job").is_some(),
        "lookup_job skipped a dead store"
    );
    assert_eq!(failures(&c, &h), 0);
    j.completed().must("an outcome on a dead-marked store");
    let other = if j.handle() == &h { &h2 } else { &h };
    assert!(
        c.work_on(other).must("work_on"),
        "work_on skipped a dead store"
    );
    assert!(!pending(&c, &h) && !pending(&c, &h2));
}

/// Insert with no stores configured: `NoStore`.
fn insert_with_no_stores(ctx: &Ctx) {
    let c = ctx.builder().build().must("a client without stores builds");
    assert_err!(c.insert(Job::new("f")), Error::NoStore(_));
    assert_err!(c.insert_jobs(vec![Job::new("f")]), Error::NoStore(_));
    assert!(!c.work_once().must("work_once without stores"));
}

/// Builder validation: batch size 0, a clean probability outside 0..=1, two stores with
/// one identity.
fn builder_rejects_bad_config(ctx: &Ctx) {
    let s = ctx.store();
    assert_err!(
        ctx.builder().store(Arc::clone(&s)).batch_size(0).build(),
        Error::InvalidInput(_)
    );
    assert_err!(
        ctx.builder()
            .store(Arc::clone(&s))
            .exit_status_clean_probability(1.5)
            .build(),
        Error::InvalidInput(_)
    );
    assert_err!(
        ctx.builder()
            .store(Arc::clone(&s))
            .exit_status_clean_probability(-0.1)
            .build(),
        Error::InvalidInput(_)
    );
    assert_err!(
        ctx.builder()
            .store(Arc::clone(&s))
            .store(Arc::clone(&s))
            .build(),
        Error::InvalidInput(_)
    );
    let c = ctx.client(&[s]);
    assert_err!(c.set_batch_size(0), Error::InvalidInput(_));
    c.set_batch_size(7).must("set_batch_size(7)");
}

const FN: &str = "Worker::Failover";

/// B3: `insert_jobs` fails over to the next store when one is unreachable.
fn insert_jobs_fails_over(ctx: &Ctx) {
    let missing = ctx.missing_store();
    let good = ctx.store();
    let c = ctx.client(&[missing, Arc::clone(&good)]);
    let gh = StoreHash::of(&good.identity());
    for round in 0..10 {
        c.clear_dead();
        let hs = c
            .insert_jobs(vec![Job::new(FN), Job::new(FN)])
            .unwrap_or_else(|e| panic!("round {round}: insert_jobs did not fail over: {e}"));
        assert_eq!(hs.len(), 2);
        assert!(hs.iter().all(|h| h.store() == &gh));
    }
    assert_eq!(stats(&good).jobs, 20);
}

/// `insert` fails over too, whatever the store order.
fn insert_fails_over(ctx: &Ctx) {
    let good = ctx.store();
    let c = ctx.client(&[Arc::clone(&good), ctx.missing_store()]);
    for round in 0..10 {
        c.clear_dead();
        c.insert(Job::new(FN))
            .unwrap_or_else(|e| panic!("round {round}: insert did not fail over: {e}"));
    }
    assert_eq!(stats(&good).jobs, 10);
}

/// Two inserts into an empty database both fail: the first with `SchemaMissing`, the
/// second at once (`NoStore`: the store is now marked dead).
fn insert_into_empty_db_fails_twice(ctx: &Ctx) {
    let c = ctx.client(&[ctx.empty_store()]);
    assert_err!(
        c.insert(Job::new("Foo")),
        Error::SchemaMissing { .. },
        "first insert into an empty db"
    );
    assert!(c.is_dead(&h0(&c)), "an empty db was not marked dead");
    assert_err!(
        c.insert(Job::new("Foo")),
        Error::NoStore(_),
        "second insert into an empty db"
    );
}

/// The second insert does not touch the database.
fn second_insert_does_not_touch_db(ctx: &Ctx) {
    let flaky = FlakyStore::new(ctx.empty_store());
    let c = ctx.client(&[flaky.dyn_store()]);
    assert!(c.insert(Job::new("Foo")).is_err());
    let calls = flaky.calls();
    assert!(calls > 0, "the first insert never asked the store");
    assert!(c.insert(Job::new("Foo")).is_err());
    assert_eq!(flaky.calls(), calls, "the second insert asked a dead store");
}

/// The SchemaMissing message tells the operator to run the migrations.
fn schema_missing_message_names_migrations(ctx: &Ctx) {
    let c = ctx.client(&[ctx.empty_store()]);
    let e = assert_err!(c.insert(Job::new("Foo")), Error::SchemaMissing { .. });
    assert!(
        e.to_string().contains("migrat"),
        "message should mention migrations: {e}"
    );
}

/// A database that does not exist: inserts fail the same way (unavailable, then dead).
fn insert_into_missing_db_fails_twice(ctx: &Ctx) {
    let c = ctx.client(&[ctx.missing_store()]);
    let e = c
        .insert(Job::new("Foo"))
        .expect_err("insert into a missing db succeeded");
    assert!(
        e.marks_store_dead(),
        "error {e:?} should be one that marks the store dead"
    );
    assert!(c.is_dead(&h0(&c)));
    assert_err!(c.insert(Job::new("Foo")), Error::NoStore(_));
}

/// Working against an empty database finds nothing and does not fail the client.
fn work_once_on_empty_db_finds_nothing(ctx: &Ctx) {
    let c = ctx.client(&[ctx.empty_store()]);
    can_do(&c, "Foo", TestWorker::ok());
    assert!(!work_once(&c), "work_once found a job in an empty db");
    assert!(
        c.is_dead(&h0(&c)),
        "the failing candidate select did not mark the store dead"
    );
    assert!(!work_once(&c));
}

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

/// `get_server_time > 0`, from the store and through the client.
fn server_time_positive(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    assert!(s.server_time().must("store.server_time") > 0);
    assert!(c.now(&h0(&c)).must("client.now") > 0);
    assert!(now(&c).timestamp() > 0);
}

/// The client's time is the store's clock (plus the shift, zero here).
fn client_time_is_store_time(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let before = s.server_time().must("store time");
    let seen = c.now(&h0(&c)).must("client now");
    let after = s.server_time().must("store time");
    assert!(
        before <= seen && seen <= after,
        "client time {seen} not within store times {before}..{after}"
    );
    let dt = now(&c).timestamp();
    assert!(
        dt >= seen && dt <= s.server_time().must("store time"),
        "server_time() disagrees with now()"
    );
}

/// The time shift moves the client's clock forward, not the store's.
fn time_shift_moves_client_clock(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let base = s.server_time().must("store time");
    ctx.advance(1000);
    let shifted = c.now(&h0(&c)).must("client now");
    assert!(
        shifted >= base + 1000,
        "shifted {shifted} < base {base} + 1000"
    );
    assert!(shifted <= s.server_time().must("store time") + 1000);
    assert_eq!(c.time_shift().seconds(), 1000);
}

/// Time for an unknown store hash is an error.
fn server_time_unknown_store(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let bogus = StoreHash::from_hex("6a".repeat(16));
    assert!(c.server_time(&bogus).is_err());
}

cases!(
    "failover";
    dead_mark_not_checked_by_lookups,
    inserts_skip_missing_store,
    grabs_skip_missing_store,
    failing_store_marked_dead,
    revived_after_retry_seconds,
    not_revived_early,
    only_store_probed_when_none_alive,
    default_retry_seconds_is_30,
    clear_dead_revives,
    marked_dead_store_skipped,
    all_stores_dead_no_store,
    grab_marks_failing_store_dead,
    insert_with_no_stores,
    builder_rejects_bad_config,
    insert_jobs_fails_over,
    insert_fails_over,
    insert_into_empty_db_fails_twice,
    second_insert_does_not_touch_db,
    schema_missing_message_names_migrations,
    insert_into_missing_db_fails_twice,
    work_once_on_empty_db_finds_nothing,
    sixty_inserts_spread,
    thirty_work_once_leave_thirty,
    three_stores_each_get_jobs,
    workers_drain_every_store,
    server_time_positive,
    client_time_is_store_time,
    time_shift_moves_client_clock,
    server_time_unknown_store,
);
