//! Coalescing: jobs grouped by a coalesce value, found by value or literal prefix, and
//! worked group by group.

use super::common::*;

const FN: &str = "Worker::CoalesceTest";

fn coalesce_worker(client: WeakClient, done: Rec<String>) -> TestWorker {
    TestWorker::new(move |job| {
        job.completed()?;
        let key = job.coalesce().unwrap_or_default().to_string();
        push(&done, key.clone());
        let c = client.upgrade().ok_or_else(|| werr("the client is gone"))?;
        loop {
            let next = if key == "foo" {
                c.find_job_with_coalescing_prefix(FN, "f")?
            } else {
                c.find_job_with_coalescing_value(FN, &key)?
            };
            let Some(j) = next else { break };
            j.completed()?;
            push(&done, j.coalesce().unwrap_or_default().to_string());
        }
        Ok(())
    })
    .keep(20)
    .grab_for(10)
    .max_retries(1)
    .retry_delay(|n| secs(2u64.pow(n)))
}

fn insert_ten(c: &Client) -> Vec<JobHandle> {
    let keys = ["foo", "bar", "baz"];
    (0..10)
        .map(|i| ins(c, Job::new(FN).coalesce(keys[i % 3])))
        .collect()
}

/// 10 inserts with coalesce keys foo (x4), bar (x3), baz (x3) all succeed.
fn insert_ten_with_keys(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let hs = insert_ten(&c);
    assert_eq!(hs.len(), 10);
    assert_eq!(stats(&s).jobs, 10);
    let jobs = list(&c, &[FN]);
    let foos = jobs.iter().filter(|j| j.coalesce() == Some("foo")).count();
    assert_eq!(foos, 4);
}

/// 3 `work_once` each drain one group; the 4th finds nothing.
fn work_once_drains_each_group(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    insert_ten(&c);
    let done = rec();
    can_do(&c, FN, coalesce_worker(c.downgrade(), done.clone()));
    for i in 1..=3 {
        assert!(work_once(&c), "work_once #{i} found nothing");
    }
    assert!(!work_once(&c), "4th work_once should find nothing");
    assert_eq!(stats(&s).jobs, 0);
    let mut d = seen(&done);
    d.sort();
    let mut expected: Vec<String> = ["foo", "bar", "baz"]
        .iter()
        .cycle()
        .take(10)
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(d, expected, "each job completed exactly once");
}

/// Each `work_once` completes a whole group of one key.
fn each_work_once_completes_one_group(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    insert_ten(&c);
    let done = rec();
    can_do(&c, FN, coalesce_worker(c.downgrade(), done.clone()));
    let mut sizes = Vec::new();
    for _ in 0..3 {
        let before = seen(&done).len();
        assert!(work_once(&c));
        let after = seen(&done);
        let group = &after[before..];
        assert!(
            group.iter().all(|k| *k == group[0]),
            "one work_once mixed keys: {group:?}"
        );
        sizes.push((group[0].clone(), group.len()));
    }
    sizes.sort();
    assert_eq!(
        sizes,
        vec![("bar".into(), 3), ("baz".into(), 3), ("foo".into(), 4)]
    );
}

/// `find_job_with_coalescing_value` grabs only exact matches.
fn find_by_value_exact(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new(FN).coalesce("foobar"));
    ins(&c, Job::new(FN).coalesce("fo"));
    let h = ins(&c, Job::new(FN).coalesce("foo"));
    let j = c
        .find_job_with_coalescing_value(FN, "foo")
        .must("find")
        .expect("a foo job");
    assert_eq!(j.handle(), &h);
    assert!(j.grabbed_until() > now(&c), "the job found is leased");
    assert!(
        c.find_job_with_coalescing_value(FN, "foo")
            .must("find")
            .is_none(),
        "only one exact match"
    );
}

/// `find_job_with_coalescing_prefix` grabs every job whose key starts with the prefix.
fn find_by_prefix(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new(FN).coalesce("foo"));
    ins(&c, Job::new(FN).coalesce("fab"));
    ins(&c, Job::new(FN).coalesce("bar"));
    ins(&c, Job::new(FN));
    let mut got = Vec::new();
    while let Some(j) = c.find_job_with_coalescing_prefix(FN, "f").must("find") {
        got.push(j.coalesce().map(str::to_string));
    }
    got.sort();
    assert_eq!(got, vec![Some("fab".into()), Some("foo".into())]);
}

/// `%` and `_` in a prefix are literal, not LIKE wildcards.
fn prefix_wildcards_are_literal(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new(FN).coalesce("abc"));
    ins(&c, Job::new(FN).coalesce("xyz"));
    assert!(
        c.find_job_with_coalescing_prefix(FN, "a_")
            .must("find")
            .is_none(),
        "'_' matched as a wildcard"
    );
    assert!(
        c.find_job_with_coalescing_prefix(FN, "%")
            .must("find")
            .is_none(),
        "'%' matched as a wildcard"
    );
    let h = ins(&c, Job::new(FN).coalesce("a_c%"));
    let j = c
        .find_job_with_coalescing_prefix(FN, "a_")
        .must("find")
        .expect("literal prefix a_");
    assert_eq!(j.handle(), &h);
}

/// Coalescing finds respect run_after, leases and the function.
fn coalescing_respects_eligibility(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(
        &c,
        Job::new(FN).coalesce("k").run_after(plus(now(&c), 1000)),
    );
    ins(&c, Job::new("Other").coalesce("k"));
    ins(
        &c,
        Job::new(FN)
            .coalesce("k")
            .grabbed_until(plus(now(&c), 1000)),
    );
    assert!(c
        .find_job_with_coalescing_value(FN, "k")
        .must("find")
        .is_none());
    assert!(c
        .find_job_with_coalescing_prefix(FN, "k")
        .must("find")
        .is_none());
    ctx.advance(1001);
    assert!(c
        .find_job_with_coalescing_value(FN, "k")
        .must("find")
        .is_some());
    assert!(c
        .find_job_with_coalescing_value(FN, "k")
        .must("find")
        .is_some());
    assert!(c
        .find_job_with_coalescing_value(FN, "k")
        .must("find")
        .is_none());
}

cases!(
    "coalesce";
    insert_ten_with_keys,
    work_once_drains_each_group,
    each_work_once_completes_one_group,
    find_by_value_exact,
    find_by_prefix,
    prefix_wildcards_are_literal,
    coalescing_respects_eligibility,
);
