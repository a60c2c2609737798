//! Listing jobs (`Client::list_jobs`): filters on function, run_after, grabbed_until,
//! coalesce value and prefix, job id; limits (overall and per store); bad names.

use super::common::*;

/// 13-14. `list_jobs(funcname, jobid)` returns exactly that job.
fn list_jobs_by_jobid(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let _other = ins(&c, Job::new("feedmajor"));
    let h = ins(&c, job_with("feedmajor", &feed()));
    let _third = ins(&c, Job::new("feedmajor"));
    let mut f = ListJobs::new(["feedmajor"]);
    f.jobid = Some(h.jobid());
    let jobs = c.list_jobs(&f).must("list_jobs");
    assert_eq!(
        jobs.len(),
        1,
        "list_jobs by jobid returned {} jobs",
        jobs.len()
    );
    assert_eq!(jobs[0].jobid(), h.jobid());
    assert_eq!(jobs[0].handle(), &h);
}

const LOOP_FN: &str = "Worker::List";

fn listing_setup(ctx: &Ctx) -> (Client, JobHandle, JobHandle, JobHandle) {
    let (c, _s) = ctx.client1();
    let t = now(&c);
    let now_job = ins(&c, Job::new(LOOP_FN));
    let later = ins(&c, Job::new(LOOP_FN).run_after(plus(t, 500)));
    let leased = ins(&c, Job::new("Other").grabbed_until(plus(t, 500)));
    (c, now_job, later, leased)
}

fn ids(jobs: &[QueuedJob]) -> Vec<JobId> {
    let mut v: Vec<JobId> = jobs.iter().map(|j| j.jobid()).collect();
    v.sort();
    v
}

/// `list_jobs` with `run_after <= x`.
fn list_jobs_run_after_filter(ctx: &Ctx) {
    let (c, now_job, later, _leased) = listing_setup(ctx);
    let mut f = ListJobs::new([LOOP_FN]);
    f.run_after = Some(plus(now(&c), 10));
    assert_eq!(
        ids(&c.list_jobs(&f).must("list_jobs")),
        vec![now_job.jobid()]
    );
    f.run_after = Some(plus(now(&c), 1000));
    assert_eq!(
        ids(&c.list_jobs(&f).must("list_jobs")),
        vec![now_job.jobid(), later.jobid()]
    );
}

/// `list_jobs` with `grabbed_until <= x`, over several function names.
fn list_jobs_grabbed_until_and_names(ctx: &Ctx) {
    let (c, now_job, later, leased) = listing_setup(ctx);
    let mut f = ListJobs::new([LOOP_FN, "Other"]);
    assert_eq!(
        ids(&c.list_jobs(&f).must("list_jobs")),
        vec![now_job.jobid(), later.jobid(), leased.jobid()]
    );
    f.grabbed_until = Some(plus(now(&c), 10));
    assert_eq!(
        ids(&c.list_jobs(&f).must("list_jobs")),
        vec![now_job.jobid(), later.jobid()]
    );
    assert_eq!(ids(&list(&c, &["Other"])), vec![leased.jobid()]);
    assert!(list(&c, &["Nobody"]).is_empty());
}

/// `list_jobs` limit per store (default: the batch size), in jobid order; does not grab.
fn list_jobs_limit(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx.builder().store(s).batch_size(3).build().must("client");
    let hs: Vec<JobHandle> = (0..5).map(|_| ins(&c, Job::new(LOOP_FN))).collect();
    let jobs = c.list_jobs(&ListJobs::new([LOOP_FN])).must("list_jobs");
    assert_eq!(
        ids(&jobs),
        hs[..3].iter().map(|h| h.jobid()).collect::<Vec<_>>(),
        "default limit = batch size"
    );
    let mut f = ListJobs::new([LOOP_FN]);
    f.limit = Some(2);
    assert_eq!(c.list_jobs(&f).must("list_jobs").len(), 2);
    assert!(
        jobs.iter().all(|j| j.grabbed_until().timestamp() == 0),
        "list_jobs leased jobs"
    );
    assert!(grab(&c, LOOP_FN).is_some());
}

/// `list_jobs` over several stores: up to `limit` from each.
fn list_jobs_limit_per_store(ctx: &Ctx) {
    let stores = ctx.stores(2);
    for s in &stores {
        let one = ctx.client(std::slice::from_ref(s));
        for _ in 0..4 {
            ins(&one, Job::new(LOOP_FN));
        }
    }
    let c = ctx.client(&stores);
    let mut f = ListJobs::new([LOOP_FN]);
    f.limit = Some(3);
    let jobs = c.list_jobs(&f).must("list_jobs");
    assert_eq!(jobs.len(), 6);
    for s in &stores {
        let h = StoreHash::of(&s.identity());
        assert_eq!(jobs.iter().filter(|j| j.handle().store() == &h).count(), 3);
    }
}

/// `list_jobs` without a funcname is refused.
fn list_jobs_needs_funcname(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    assert_err!(c.list_jobs(&ListJobs::default()), Error::InvalidInput(_));
}

/// Grab and list with bad names are refused rather than sent to the store.
fn grab_and_list_bad_names(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    assert_err!(c.grab_job(""), Error::InvalidInput(_));
    assert_err!(c.list_jobs(&ListJobs::new([""])), Error::InvalidInput(_));
    assert_err!(
        c.find_job_with_coalescing_value(&"f".repeat(256), "v"),
        Error::InvalidInput(_)
    );
}

const FIX_FN: &str = "Worker::List";

/// B1: `list_jobs` honours a coalesce value (upstream returned all jobs).
fn list_jobs_honours_coalesce_value(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let a1 = ins(&c, Job::new(FIX_FN).coalesce("a1"));
    ins(&c, Job::new(FIX_FN).coalesce("a2"));
    ins(&c, Job::new(FIX_FN));
    let mut f = ListJobs::new([FIX_FN]);
    f.coalesce = Some(CoalesceFilter::Equals("a1".into()));
    let jobs = c.list_jobs(&f).must("list_jobs");
    assert_eq!(jobs.len(), 1, "list_jobs ignored the coalesce filter");
    assert_eq!(jobs[0].handle(), &a1);
}

/// B1: `list_jobs` honours a coalesce prefix (literal `_`/`%`).
fn list_jobs_honours_coalesce_prefix(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new(FIX_FN).coalesce("a1"));
    ins(&c, Job::new(FIX_FN).coalesce("a2"));
    ins(&c, Job::new(FIX_FN).coalesce("b1"));
    ins(&c, Job::new(FIX_FN).coalesce("ab"));
    let mut f = ListJobs::new([FIX_FN]);
    f.coalesce = Some(CoalesceFilter::Prefix("a".into()));
    let mut keys: Vec<String> = c
        .list_jobs(&f)
        .must("list_jobs")
        .iter()
        .filter_map(|j| j.coalesce().map(str::to_string))
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["a1", "a2", "ab"]);
    f.coalesce = Some(CoalesceFilter::Prefix("_".into()));
    assert!(
        c.list_jobs(&f).must("list_jobs").is_empty(),
        "'_' matched as a wildcard"
    );
}

cases!(
    "list";
    list_jobs_by_jobid,
    list_jobs_run_after_filter,
    list_jobs_grabbed_until_and_names,
    list_jobs_limit,
    list_jobs_limit_per_store,
    list_jobs_needs_funcname,
    grab_and_list_bad_names,
    list_jobs_honours_coalesce_value,
    list_jobs_honours_coalesce_prefix,
);
