//! `t/funcid.t` (spec 8.12): function ids.
//!
//! Upstream checks that `insert` mutates the caller's job object (it gains a funcid);
//! a Rust `Job` is consumed by `insert`, so the equivalent is that the inserted job, looked
//! up, carries the store's funcid for its name.

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

cases!("funcid";
    inserted_job_has_funcid,
    same_name_same_funcid,
    different_names_different_funcids,
    store_funcid_is_stable,
    concurrent_funcid_creation,
);
