//! `t/high-funcid-starvation.t` (spec 8.15): ability rotation serves every function.

use super::common::*;

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

cases!("high_funcid_starvation";
    ten_of_each_inserted,
    rotation_serves_both_functions,
    rotation_beats_insert_order,
    current_abilities_rotate,
);
