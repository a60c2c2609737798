//! `insert_jobs` with several stores: each job with a uniqkey goes to its own home store
//! (so uniqueness holds across databases in batches too), jobs without a key go with the
//! first keyed job, each store's part is all or nothing, and a part that fails takes the
//! parts already inserted back.

use super::common::*;

const FN: &str = "Worker::UniqueBatch";

/// Two keys of `FN` whose home stores (first in `home_stores`) differ.
fn keys_with_two_homes(c: &Client) -> (String, String) {
    let k1 = String::from("key-0");
    let home = |k: &str| c.home_stores(FN, k)[0].clone();
    let k2 = (1..200)
        .map(|i| format!("key-{i}"))
        .find(|k| home(k) != home(&k1))
        .expect("keys with different home stores");
    (k1, k2)
}

/// Every keyed job of a batch lands in its own home store; unkeyed ones with the first
/// keyed job; the handles come back in the batch's order.
fn insert_jobs_keyed_jobs_in_their_home_stores(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(3);
    let mut jobs = vec![Job::new(FN)];
    jobs.extend((0..20).map(|k| Job::new(FN).uniqkey(format!("key-{k}"))));
    jobs.push(Job::new(FN));
    let hs = c.insert_jobs(jobs).must("insert_jobs");
    assert_eq!(hs.len(), 22);
    for (k, h) in hs[1..21].iter().enumerate() {
        let key = format!("key-{k}");
        assert_eq!(h.store(), &c.home_stores(FN, &key)[0], "{key}");
        assert_eq!(lookup(&c, h).uniqkey(), Some(key.as_str()));
    }
    let first_home = c.home_stores(FN, "key-0")[0].clone();
    assert_eq!(
        hs[0].store(),
        &first_home,
        "unkeyed job not with the first keyed job"
    );
    assert_eq!(hs[21].store(), &first_home);
    let counts: Vec<u64> = stores.iter().map(|s| stats(s).jobs).collect();
    assert_eq!(counts.iter().sum::<u64>(), 22);
    assert!(
        counts.iter().filter(|n| **n > 0).count() >= 2,
        "one store got the whole batch: {counts:?}"
    );
    // Every key is now guarded in its home store, whichever batch or job names it.
    for k in [0, 7, 19] {
        assert_err!(
            c.insert_jobs(vec![Job::new(FN), Job::new(FN).uniqkey(format!("key-{k}"))]),
            Error::DuplicateUniqkey { .. },
            "key-{k}"
        );
        assert_err!(
            c.insert(Job::new(FN).uniqkey(format!("key-{k}"))),
            Error::DuplicateUniqkey { .. },
            "key-{k}"
        );
    }
    let total: u64 = stores.iter().map(|s| stats(s).jobs).sum();
    assert_eq!(total, 22, "a refused batch left rows behind");
}

/// A batch whose second part collides: the first part, already inserted in another store,
/// is taken back; nothing of the batch is left and its new key is still free.
fn insert_jobs_failed_part_takes_back_the_others(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    let (fresh, taken) = keys_with_two_homes(&c);
    ins(&c, Job::new(FN).uniqkey(taken.clone()));
    let r = c.insert_jobs(vec![
        Job::new(FN).uniqkey(fresh.clone()),
        Job::new(FN),
        Job::new(FN).uniqkey(taken.clone()),
    ]);
    assert_err!(r, Error::DuplicateUniqkey { .. });
    let total: u64 = stores.iter().map(|s| stats(s).jobs).sum();
    assert_eq!(total, 1, "the batch left jobs behind");
    let h = ins(&c, Job::new(FN).uniqkey(fresh.clone()));
    assert_eq!(h.store(), &c.home_stores(FN, &fresh)[0]);
}

/// A keyed job whose home store is unreachable fails over to the next store of its own
/// order; the rest of the batch still goes home.
fn insert_jobs_keyed_part_fails_over(ctx: &Ctx) {
    let good = ctx.stores(2);
    let c = ctx.client(&[
        ctx.missing_store(),
        Arc::clone(&good[0]),
        Arc::clone(&good[1]),
    ]);
    let jobs: Vec<Job> = (0..12)
        .map(|k| Job::new(FN).uniqkey(format!("key-{k}")))
        .collect();
    let hs = c.insert_jobs(jobs).must("insert_jobs");
    let missing = c.store_hashes()[0].clone();
    for (k, h) in hs.iter().enumerate() {
        let order = c.home_stores(FN, &format!("key-{k}"));
        let expected = order.iter().find(|s| **s != missing).expect("a live store");
        assert_eq!(h.store(), expected, "key-{k}");
    }
    assert_eq!(good.iter().map(|s| stats(s).jobs).sum::<u64>(), 12);
}

cases!(
    "unique_batch";
    insert_jobs_keyed_jobs_in_their_home_stores,
    insert_jobs_failed_part_takes_back_the_others,
    insert_jobs_keyed_part_fails_over,
);
