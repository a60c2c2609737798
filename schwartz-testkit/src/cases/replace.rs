//! `t/replace-with.t` (spec 8.20): a job replaced by several, atomically.
//!
//! Deliberate change: the "gibberish" job upstream falls through (a failure); here the
//! worker refuses it with an error, which is the same observable failure.

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

cases!("replace_with";
    replaced_by_five_jobs,
    replacements_are_worked,
    replace_with_nothing_completes,
    replacements_in_same_store,
    replaced_job_exit_status_zero,
    replace_then_complete_refused,
);
