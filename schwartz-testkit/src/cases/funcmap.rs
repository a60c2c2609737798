//! Function names and ids (the funcmap) and abilities: ids are stable and shared, the
//! client's cache reloads on a miss, abilities rotate so no function starves, and removing
//! or resetting abilities stops their work.

use super::common::*;

/// 1-4. An inserted job has a non-zero funcid and its funcname.
fn inserted_job_has_funcid(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, job_with("feedmajor", &feed()));
    let j = lookup(&c, &h);
    assert_ne!(j.funcid().0, 0, "funcid should be non-zero");
    assert_eq!(j.funcname(), "feedmajor");
    assert_eq!(s.funcid("feedmajor").must("store.funcid"), j.funcid());
}

/// 5-8. A second job of the same function (built with explicit fields) gets the same funcid.
fn same_name_same_funcid(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h1 = ins(&c, job_with("feedmajor", &feed()));
    let h2 = ins(
        &c,
        job_with("feedmajor", &feed())
            .run_after(plus(now(&c), 60))
            .priority(7)
            .coalesce("major"),
    );
    let (j1, j2) = (lookup(&c, &h1), lookup(&c, &h2));
    assert_eq!(j1.funcid(), j2.funcid());
    assert_eq!(j2.funcname(), "feedmajor");
}

/// Different names get different funcids; the funcmap lists them.
fn different_names_different_funcids(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let a = lookup(&c, &ins(&c, Job::new("alpha")));
    let b = lookup(&c, &ins(&c, Job::new("beta")));
    assert_ne!(a.funcid(), b.funcid());
    let map = s.funcmap().must("funcmap");
    let find = |n: &str| map.iter().find(|m| m.funcname == n).map(|m| m.funcid);
    assert_eq!(find("alpha"), Some(a.funcid()));
    assert_eq!(find("beta"), Some(b.funcid()));
}

/// `Store::funcid` creates a row once and returns the same id afterwards.
fn store_funcid_is_stable(ctx: &Ctx) {
    let s = ctx.store();
    let id = s.funcid("gamma").must("funcid");
    assert_eq!(s.funcid("gamma").must("funcid again"), id);
    let other = s.funcid("delta").must("funcid delta");
    assert_ne!(other, id);
    let rows = s.funcmap().must("funcmap");
    assert_eq!(rows.iter().filter(|m| m.funcname == "gamma").count(), 1);
}

/// Concurrent creators of one funcname agree on its id.
fn concurrent_funcid_creation(ctx: &Ctx) {
    let s = ctx.store();
    let ids: Vec<_> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                scope.spawn(move || s.funcid("raced").map_err(|e| e.to_string()))
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("thread").must("funcid"))
            .collect()
    });
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "different ids for one name: {ids:?}"
    );
    let rows = s.funcmap().must("funcmap");
    assert_eq!(rows.iter().filter(|m| m.funcname == "raced").count(), 1);
}

const FN: &str = "Worker::Funcmap";

fn recording_client(ctx: &Ctx) -> (Client, Arc<dyn Store>, Rec<JobId>) {
    let (c, s) = ctx.client1();
    let r = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r2, job.jobid());
            job.completed()?;
            Ok(())
        }),
    );
    (c, s, r)
}

/// `strict_remove_ability`: no rotation; with batch size 1 the jobs come in jobid order.
fn strict_remove_ability(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx
        .builder()
        .store(Arc::clone(&s))
        .batch_size(1)
        .ability_rotation(AbilityRotation::Strict)
        .build()
        .must("client");
    for _ in 0..10 {
        ins(&c, Job::new("Worker::Job1"));
    }
    for _ in 0..10 {
        ins(&c, Job::new("Worker::Job2"));
    }
    can_do(&c, "Worker::Job1", TestWorker::completing());
    can_do(&c, "Worker::Job2", TestWorker::completing());
    for _ in 0..10 {
        assert!(work_once(&c));
        assert_eq!(c.current_abilities().len(), 2, "Strict removed an ability");
    }
    assert_eq!(list(&c, &["Worker::Job1"]).len(), 0);
    assert_eq!(list(&c, &["Worker::Job2"]).len(), 10);
}

/// `set_ability_rotation` switches at runtime.
fn set_ability_rotation_runtime(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    c.set_ability_rotation(AbilityRotation::Strict);
    can_do(&c, "A", TestWorker::completing());
    can_do(&c, "B", TestWorker::completing());
    ins(&c, Job::new("A"));
    assert!(work_once(&c));
    assert_eq!(
        c.current_abilities(),
        vec!["A".to_string(), "B".to_string()]
    );
    c.set_ability_rotation(AbilityRotation::Rotate);
    ins(&c, Job::new("A"));
    assert!(work_once(&c));
    assert_eq!(c.current_abilities(), vec!["B".to_string()]);
}

/// `reset_abilities`: nothing to do afterwards.
fn reset_abilities_stops_work(ctx: &Ctx) {
    let (c, _s, _r) = recording_client(ctx);
    ins(&c, Job::new(FN));
    c.reset_abilities();
    assert!(c.abilities().is_empty() && c.current_abilities().is_empty());
    assert!(!work_once(&c));
}

/// `find_job_for_workers` with explicit abilities grabs only those.
fn find_job_for_named_abilities(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new("A"));
    let hb = ins(&c, Job::new("B"));
    let j = c
        .find_job_for_workers(Some(&["B"]))
        .must("find")
        .expect("a B job");
    assert_eq!(j.handle(), &hb);
    assert_eq!(j.funcname(), "B");
    assert!(c.find_job_for_workers(Some(&["B"])).must("find").is_none());
    assert!(c
        .find_job_for_workers(Some(&[]))
        .must("find with no abilities")
        .is_none());
    assert!(c
        .find_job_for_workers(None)
        .must("find with current (no) abilities")
        .is_none());
}

/// `can_do` with an empty or too long name is refused.
fn can_do_bad_name(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    assert_err!(c.can_do("", TestWorker::ok()), Error::InvalidInput(_));
    assert_err!(
        c.can_do(&"n".repeat(256), TestWorker::ok()),
        Error::InvalidInput(_)
    );
    assert!(c.abilities().is_empty());
}

/// B15: the funcmap cache reloads on a miss: a function created by another client after
/// this one loaded its cache resolves.
fn funcmap_cache_reload_on_miss(ctx: &Ctx) {
    let s = ctx.store();
    let a = ctx.client(&[Arc::clone(&s)]);
    let b = ctx.client(&[Arc::clone(&s)]);
    ins(&a, Job::new("loaded_first"));
    let _ = list(&a, &["loaded_first"]);
    let hb = ins(&b, Job::new("created_by_b"));
    let j = lookup(&a, &hb);
    assert_eq!(j.funcname(), "created_by_b");
    let listed = list(&a, &["created_by_b"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].funcname(), "created_by_b");
}

const J1: &str = "Worker::Job1";

const J2: &str = "Worker::Job2";

fn setup(ctx: &Ctx) -> (Client, Arc<dyn Store>) {
    let (c, s) = ctx.client1();
    for _ in 0..10 {
        ins(&c, Job::new(J1));
        ins(&c, Job::new(J2));
    }
    (c, s)
}

fn remaining(c: &Client) -> (usize, usize) {
    (list(c, &[J1]).len(), list(c, &[J2]).len())
}

/// 1-2. Ten jobs of each function, with two distinct funcids.
fn ten_of_each_inserted(ctx: &Ctx) {
    let (c, _s) = setup(ctx);
    assert_eq!(remaining(&c), (10, 10));
    let a = list(&c, &[J1]);
    let b = list(&c, &[J2]);
    assert!(a.iter().all(|j| j.funcid() == a[0].funcid()));
    assert_ne!(a[0].funcid(), b[0].funcid());
}

/// 3-4. Ten `work_once` with rotation: 5 of each function remain.
fn rotation_serves_both_functions(ctx: &Ctx) {
    let (c, _s) = setup(ctx);
    can_do(&c, J1, TestWorker::completing());
    can_do(&c, J2, TestWorker::completing());
    for i in 0..10 {
        assert!(work_once(&c), "work_once #{i} found nothing");
    }
    assert_eq!(remaining(&c), (5, 5));
}

/// Rotation also beats jobid order: all J1 jobs first, then J2, batch size 1.
fn rotation_beats_insert_order(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx
        .builder()
        .store(Arc::clone(&s))
        .batch_size(1)
        .build()
        .must("client");
    for _ in 0..10 {
        ins(&c, Job::new(J1));
    }
    for _ in 0..10 {
        ins(&c, Job::new(J2));
    }
    can_do(&c, J1, TestWorker::completing());
    can_do(&c, J2, TestWorker::completing());
    for _ in 0..10 {
        assert!(work_once(&c));
    }
    assert_eq!(remaining(&c), (5, 5));
}

/// After a job of X only the other abilities are current; a miss restores all.
fn current_abilities_rotate(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, J1, TestWorker::completing());
    can_do(&c, J2, TestWorker::completing());
    ins(&c, Job::new(J1));
    assert!(work_once(&c));
    assert_eq!(c.current_abilities(), vec![J2.to_string()]);
    assert_eq!(c.abilities(), vec![J1.to_string(), J2.to_string()]);
    assert!(!work_once(&c));
    let mut cur = c.current_abilities();
    cur.sort();
    assert_eq!(
        cur,
        vec![J1.to_string(), J2.to_string()],
        "a miss should restore all abilities"
    );
}

fn client(ctx: &Ctx) -> (Client, Arc<dyn Store>) {
    let (c, s) = ctx.client1();
    can_do(
        &c,
        "Worker::Dummy",
        TestWorker::new(|job| {
            job.replace_with(vec![Job::new("Worker::Dummy2")])?;
            Ok(())
        })
        .max_retries(2)
        .retry_delay(|_| secs(5)),
    );
    can_do(&c, "Worker::Dummy2", TestWorker::completing());
    can_do(&c, "Worker::Dummy3", TestWorker::completing());
    (c, s)
}

/// Working with abilities nobody inserted yet finds nothing and fails nothing.
fn unknown_abilities_find_nothing(ctx: &Ctx) {
    let (c, s) = client(ctx);
    assert!(!work_once(&c));
    assert_eq!(stats(&s).jobs, 0);
    // A job of a function first seen after the client started is found.
    ins(&ctx.client(&[Arc::clone(&s)]), Job::new("Worker::Dummy3"));
    assert!(
        work_once(&c),
        "a job of a function created after the first lookup was not found"
    );
}

cases!(
    "funcmap";
    inserted_job_has_funcid,
    same_name_same_funcid,
    different_names_different_funcids,
    store_funcid_is_stable,
    concurrent_funcid_creation,
    strict_remove_ability,
    set_ability_rotation_runtime,
    reset_abilities_stops_work,
    find_job_for_named_abilities,
    can_do_bad_name,
    funcmap_cache_reload_on_miss,
    ten_of_each_inserted,
    rotation_serves_both_functions,
    rotation_beats_insert_order,
    current_abilities_rotate,
    unknown_abilities_find_nothing,
);
