//! `replace_with`: a job replaced by others atomically (all or nothing on uniqkey
//! collisions, retried afterwards), in the same store, with exit status zero; replacing
//! with nothing completes; a bad replacement is refused.

use super::common::*;

const FOO: &str = "Worker::Foo";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Cluster {
    All,
    Number(u32),
    Gibberish,
}

fn client(ctx: &Ctx, stores: &[Arc<dyn Store>]) -> (Client, Rec<u32>) {
    let c = ctx.client(stores);
    let r = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FOO,
        TestWorker::new(move |job| match job.arg::<Cluster>()? {
            Cluster::All => {
                let jobs = (1..=5)
                    .map(|n| Job::new(FOO).arg(&Cluster::Number(n)))
                    .collect::<Result<Vec<_>, _>>()?;
                job.replace_with(jobs)?;
                Ok(())
            }
            Cluster::Number(n) => {
                push(&r2, n);
                job.completed()?;
                Ok(())
            }
            Cluster::Gibberish => Err(werr("gibberish")),
        })
        .grab_for(30),
    );
    (c, r)
}

/// 1-3. The "all" job is replaced by 5 jobs; the original is gone.
fn replaced_by_five_jobs(ctx: &Ctx) {
    let s = ctx.store();
    let (c, _r) = client(ctx, &[s]);
    let h = ins(&c, job_with(FOO, &Cluster::All));
    let j = grab(&c, FOO).expect("grab_job");
    assert_eq!(c.work_safely(j).must("work_safely"), WorkOutcome::Replaced);
    assert!(!pending(&c, &h));
    let mut clusters: Vec<Cluster> = list(&c, &[FOO])
        .iter()
        .map(|j| j.arg().must("arg"))
        .collect();
    clusters.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(clusters, (1..=5).map(Cluster::Number).collect::<Vec<_>>());
    assert_eq!(failures(&c, &h), 0);
}

/// 4-8. `work_until_done` then processes exactly the 5 replacements.
fn replacements_are_worked(ctx: &Ctx) {
    let s = ctx.store();
    let (c, r) = client(ctx, &[Arc::clone(&s)]);
    ins(&c, job_with(FOO, &Cluster::All));
    assert_eq!(c.work_until_done().must("work_until_done"), 6);
    let mut got = seen(&r);
    got.sort();
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    assert_eq!(stats(&s).jobs, 0);
}

/// 9-10. `replace_with()` with no jobs on a looked-up (not grabbed) job completes it.
fn replace_with_nothing_completes(ctx: &Ctx) {
    let s = ctx.store();
    let (c, _r) = client(ctx, &[s]);
    let h = ins(&c, job_with(FOO, &Cluster::Gibberish));
    assert!(pending(&c, &h));
    let handles = lookup(&c, &h)
        .replace_with(Vec::new())
        .must("replace_with()");
    assert!(handles.is_empty());
    assert!(!pending(&c, &h));
}

/// Replacements go to the store of the job they replace.
fn replacements_in_same_store(ctx: &Ctx) {
    let stores = ctx.stores(3);
    let (c, _r) = client(ctx, &stores);
    for _ in 0..6 {
        let h = ins(&c, job_with(FOO, &Cluster::Gibberish));
        let j = lookup(&c, &h);
        let hs = j
            .replace_with(vec![Job::new(FOO), Job::new(FOO)])
            .must("replace_with");
        assert_eq!(hs.len(), 2);
        assert!(
            hs.iter().all(|r| r.store() == h.store()),
            "replacement left the store: {hs:?} vs {h}"
        );
        assert!(hs.iter().all(|r| pending(&c, r)));
    }
}

/// The replaced job keeps exit status 0 when the worker keeps exit statuses.
fn replaced_job_exit_status_zero(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "Worker::Keep",
        TestWorker::new(|job| {
            job.replace_with(vec![Job::new("Worker::Next")])?;
            Ok(())
        })
        .keep(100),
    );
    let h = ins(&c, Job::new("Worker::Keep"));
    assert!(work_once(&c));
    assert!(!pending(&c, &h));
    assert_eq!(exit_status(&c, &h), Some(0));
    assert_eq!(list(&c, &["Worker::Next"]).len(), 1);
}

/// A replace is an outcome: a second outcome call is refused with `AlreadyFinished`.
fn replace_then_complete_refused(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, FOO, TestWorker::ok());
    ins(&c, Job::new(FOO));
    let j = grab(&c, FOO).expect("grab");
    j.replace_with(vec![Job::new("Next")]).must("replace_with");
    assert!(j.did_something());
    assert_err!(j.completed(), Error::AlreadyFinished { .. });
    assert_err!(
        j.replace_with(vec![Job::new("Next")]),
        Error::AlreadyFinished { .. }
    );
    assert_eq!(
        list(&c, &["Next"]).len(),
        1,
        "the refused second replace inserted a job"
    );
}

/// A replacement with a bad name refuses the replace and leaves the job untouched.
fn replace_with_bad_job(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new("f"));
    let j = grab(&c, "f").expect("grab");
    assert_err!(
        j.replace_with(vec![Job::new("ok"), Job::new("")]),
        Error::InvalidInput(_)
    );
    assert!(!j.did_something());
    assert!(pending(&c, &h));
    assert_eq!(stats(&s).jobs, 1);
    j.completed().must("completing after the refused replace");
}

const FN: &str = "Worker::Replace";

fn replacer(ctx: &Ctx) -> (Client, Arc<dyn Store>) {
    let (c, s) = ctx.client1();
    can_do(
        &c,
        "Replacer",
        TestWorker::new(|job| {
            job.replace_with(vec![
                Job::new("Target").uniqkey("fresh"),
                Job::new("Target").uniqkey("k1"),
            ])?;
            Ok(())
        })
        .max_retries(10),
    );
    can_do(&c, "Target", TestWorker::completing());
    (c, s)
}

/// B2: a replacement colliding on its uniqkey fails the whole replace: the original stays,
/// no replacement is inserted, a failure is recorded, and the job is retried.
fn replace_with_collision_all_or_nothing(ctx: &Ctx) {
    let (c, s) = replacer(ctx);
    let existing = ins(&c, Job::new("Target").uniqkey("k1"));
    let h = ins(&c, Job::new("Replacer"));
    let j = grab(&c, "Replacer").expect("grab");
    let outcome = c.work_safely(j).must("work_safely");
    assert_eq!(outcome, WorkOutcome::Failed { will_retry: true });
    assert!(pending(&c, &h), "the original job was lost");
    assert_eq!(failures(&c, &h), 1, "the failed replace was not recorded");
    let targets = list(&c, &["Target"]);
    assert_eq!(targets.len(), 1, "a partial replace inserted jobs");
    assert_eq!(targets[0].handle(), &existing);
    assert_eq!(stats(&s).jobs, 2);
}

/// B2: the retried replace succeeds once the collision is gone.
fn replace_with_retried_after_collision(ctx: &Ctx) {
    let (c, _s) = replacer(ctx);
    let existing = ins(&c, Job::new("Target").uniqkey("k1"));
    let h = ins(&c, Job::new("Replacer"));
    let j = grab(&c, "Replacer").expect("grab");
    c.work_safely(j).must("work_safely");
    let t = grab(&c, "Target").expect("the existing target");
    assert_eq!(t.handle(), &existing);
    t.completed().must("completing the target");
    let j = grab(&c, "Replacer").expect("the retry");
    assert_eq!(c.work_safely(j).must("work_safely"), WorkOutcome::Replaced);
    assert!(!pending(&c, &h));
    let mut keys: Vec<String> = list(&c, &["Target"])
        .iter()
        .filter_map(|j| j.uniqkey().map(str::to_string))
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["fresh", "k1"]);
}

/// B2 at the API: `replace_with` returns `DuplicateUniqkey` and changes nothing.
fn replace_with_collision_error(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new("Target").uniqkey("k1"));
    let h = ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("grab");
    let r = j.replace_with(vec![
        Job::new("Target").uniqkey("new"),
        Job::new("Target").uniqkey("k1"),
    ]);
    assert_err!(r, Error::DuplicateUniqkey { .. });
    assert!(!j.did_something(), "a refused replace counts as an outcome");
    assert_eq!(list(&c, &["Target"]).len(), 1);
    j.completed().must("the job can still be completed");
    assert!(!pending(&c, &h));
}

const DONE: &str = "Test::Job::Completed";

const REPLACE: &str = "Test::Job::Replace";

struct Two {
    c1: Client,
    c2: Client,
    s: Arc<dyn Store>,
}

fn setup(ctx: &Ctx) -> Two {
    let s = ctx.store();
    let c1 = ctx.client(&[Arc::clone(&s)]);
    can_do(&c1, DONE, TestWorker::completing().max_retries(10));
    let c2 = ctx.client(&[Arc::clone(&s)]);
    can_do(
        &c2,
        REPLACE,
        TestWorker::new(|job| {
            let key = String::from_utf8(job.raw_arg().unwrap_or_default().to_vec())?;
            job.replace_with(vec![Job::new(DONE).uniqkey(key)])?;
            Ok(())
        })
        .max_retries(10),
    );
    Two { c1, c2, s }
}

/// How many pending jobs have this uniqkey (upstream: `SELECT COUNT(*) ... WHERE uniqkey`).
fn count(t: &Two, key: &str) -> usize {
    list(&t.c1, &[DONE, REPLACE])
        .iter()
        .filter(|j| j.uniqkey() == Some(key))
        .count()
}

/// 1-3. A completed job's uniqkey disappears.
fn completed_job_removed(ctx: &Ctx) {
    let t = setup(ctx);
    for k in ["1", "2", "3", "4", "5"] {
        assert_eq!(count(&t, k), 0);
    }
    ins(&t.c1, Job::new(DONE).uniqkey("1"));
    assert_eq!(count(&t, "1"), 1);
    assert!(work_once(&t.c1));
    assert_eq!(count(&t, "1"), 0);
}

/// 4-6. A replace moves the work to the replacement's uniqkey.
fn replace_moves_to_new_uniqkey(ctx: &Ctx) {
    let t = setup(ctx);
    ins(&t.c2, Job::new(REPLACE).uniqkey("2").raw_arg(b"3".to_vec()));
    assert_eq!(count(&t, "2"), 1);
    assert!(work_once(&t.c2));
    assert_eq!(count(&t, "2"), 0);
    assert_eq!(count(&t, "3"), 1);
}

fn collide(ctx: &Ctx) -> (Two, JobHandle) {
    let t = setup(ctx);
    ins(&t.c2, Job::new(REPLACE).uniqkey("2").raw_arg(b"3".to_vec()));
    assert!(work_once(&t.c2));
    let h4 = ins(&t.c2, Job::new(REPLACE).uniqkey("4").raw_arg(b"3".to_vec()));
    assert_eq!(count(&t, "4"), 1);
    assert!(work_once(&t.c2), "work_once on the colliding replace");
    (t, h4)
}

/// 7-9. The colliding replace keeps job 4 (failed, to retry) and the existing job 3.
fn colliding_replace_keeps_original(ctx: &Ctx) {
    let (t, h4) = collide(ctx);
    assert_eq!(count(&t, "4"), 1, "the original was lost");
    assert_eq!(count(&t, "3"), 1);
    assert_eq!(
        failures(&t.c2, &h4),
        1,
        "the aborted replace was not recorded as a failure"
    );
    assert_eq!(stats(&t.s).jobs, 2, "a partial replace left extra rows");
}

/// 10-13. Once job 3 is done, the retried replace succeeds.
fn retried_replace_succeeds(ctx: &Ctx) {
    let (t, h4) = collide(ctx);
    assert!(work_once(&t.c1));
    assert_eq!(count(&t, "3"), 0);
    t.c2.clear_dead();
    assert!(work_once(&t.c2), "the retried replace was not found");
    assert_eq!(count(&t, "4"), 0);
    assert_eq!(count(&t, "3"), 1);
    assert!(!pending(&t.c2, &h4));
    assert!(work_once(&t.c1));
    assert_eq!(count(&t, "3"), 0);
}

fn early_client(ctx: &Ctx) -> (Client, Arc<dyn Store>) {
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

/// 1-2. Dummy is replaced by Dummy2 (never inserted before), which is then worked.
fn replaced_then_completed(ctx: &Ctx) {
    let (c, s) = early_client(ctx);
    let h = ins(&c, Job::new("Worker::Dummy"));
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    assert!(!pending(&c, &h));
    assert_eq!(stats(&s).jobs, 0);
    assert_eq!(failures(&c, &h), 0);
}

cases!(
    "replace";
    replaced_by_five_jobs,
    replacements_are_worked,
    replace_with_nothing_completes,
    replacements_in_same_store,
    replaced_job_exit_status_zero,
    replace_then_complete_refused,
    replace_with_bad_job,
    replace_with_collision_all_or_nothing,
    replace_with_retried_after_collision,
    replace_with_collision_error,
    completed_job_removed,
    replace_moves_to_new_uniqkey,
    colliding_replace_keeps_original,
    retried_replace_succeeds,
    replaced_then_completed,
);
