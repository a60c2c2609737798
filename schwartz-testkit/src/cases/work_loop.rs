//! Behaviours upstream never tested (spec 8.26), and the rest of the client API.
//!
//! Not ported: `driver_cache_expiration` (connection caching is the store's business
//! here, not the client's: there is no such knob) and `list_jobs(want_handle => 0)` (a
//! `QueuedJob` always carries its handle).

use std::time::{Duration, Instant};

use super::common::*;
use schwartz_core::StopSignal;

const FN: &str = "Worker::Untested";

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

/// `RANDOMIZE_JOBS = 0` (`CandidateOrder::AsSelected`): strict priority order even with
/// a large batch.
fn candidates_as_selected(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx
        .builder()
        .store(s)
        .order(JobOrder::PriorityDesc)
        .candidate_order(CandidateOrder::AsSelected)
        .build()
        .must("client");
    let r: Rec<Option<i32>> = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r2, job.priority());
            Ok(())
        }),
    );
    for p in [4, 9, 1, 7, 3, 8, 2, 6, 5, 10] {
        ins(&c, Job::new(FN).priority(p));
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 10);
    assert_eq!(seen(&r), (1..=10).rev().map(Some).collect::<Vec<_>>());
}

/// `set_candidate_order` at runtime, FIFO by jobid.
fn set_candidate_order_fifo(ctx: &Ctx) {
    let (c, _s, r) = recording_client(ctx);
    c.set_candidate_order(CandidateOrder::AsSelected);
    let hs: Vec<JobHandle> = (0..8).map(|_| ins(&c, Job::new(FN))).collect();
    assert_eq!(c.work_until_done().must("work_until_done"), 8);
    assert_eq!(seen(&r), hs.iter().map(|h| h.jobid()).collect::<Vec<_>>());
}

/// Shuffled candidates (default) do not always take the first job.
fn shuffled_candidates_vary(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let hs: Vec<JobHandle> = (0..20).map(|_| ins(&c, Job::new(FN))).collect();
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let j = grab(&c, FN).expect("grab");
        firsts.insert(j.jobid());
        c.release(vec![j]).must("release");
    }
    assert!(
        firsts.len() > 1,
        "20 grabs of 20 candidates always took {firsts:?} (first job {})",
        hs[0].jobid()
    );
}

/// `declined()` then `completed()` in the same work: the job completes.
fn declined_then_completed(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| {
            job.declined()?;
            job.completed()?;
            Ok(())
        }),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert!(!pending(&c, &h));
    assert_eq!(failures(&c, &h), 0);
}

/// `permanent_failure_with_status(msg, 7)`: no retry despite max_retries; status 7 kept.
fn permanent_failure_explicit_status(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| Ok(job.permanent_failure_with_status("gave up", 7)?))
            .max_retries(5)
            .keep(100),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert!(!pending(&c, &h), "a permanent failure was retried");
    assert_eq!(exit_status(&c, &h), Some(7));
    assert_eq!(failure_log(&c, &h), vec!["gave up".to_string()]);
}

/// `permanent_failure(msg)`: exit status 1; a given 0 also counts as 1.
fn permanent_failure_default_status(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "P1",
        TestWorker::new(|job| Ok(job.permanent_failure("bad")?)).keep(100),
    );
    can_do(
        &c,
        "P0",
        TestWorker::new(|job| Ok(job.permanent_failure_with_status("bad", 0)?)).keep(100),
    );
    let h1 = ins(&c, Job::new("P1"));
    let h0 = ins(&c, Job::new("P0"));
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    assert_eq!(exit_status(&c, &h1), Some(1));
    assert_eq!(
        exit_status(&c, &h0),
        Some(1),
        "exit status 0 for a failure must count as 1"
    );
}

/// `failed_with_status`: the status is kept only when no retry is left.
fn failed_with_status_final_only(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| Ok(job.failed_with_status("no", 9)?))
            .max_retries(1)
            .keep(100),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert_eq!(
        exit_status(&c, &h),
        None,
        "an exit status was written although a retry is left"
    );
    assert!(work_once(&c));
    assert_eq!(exit_status(&c, &h), Some(9));
    assert_eq!(failures(&c, &h), 2);
}

/// Without `keep_exit_status_for` no exit status row is written.
fn no_exit_status_without_keep(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    can_do(&c, FN, TestWorker::completing());
    can_do(&c, "F", TestWorker::new(|_| Err(werr("x"))));
    let h = ins(&c, Job::new(FN));
    let hf = ins(&c, Job::new("F"));
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    assert_eq!(exit_status(&c, &h), None);
    assert_eq!(exit_status(&c, &hf), None);
    assert_eq!(stats(&s).exit_statuses, 0);
}

fn listing_setup(ctx: &Ctx) -> (Client, JobHandle, JobHandle, JobHandle) {
    let (c, _s) = ctx.client1();
    let t = now(&c);
    let now_job = ins(&c, Job::new(FN));
    let later = ins(&c, Job::new(FN).run_after(plus(t, 500)));
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
    let mut f = ListJobs::new([FN]);
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
    let mut f = ListJobs::new([FN, "Other"]);
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
    let hs: Vec<JobHandle> = (0..5).map(|_| ins(&c, Job::new(FN))).collect();
    let jobs = c.list_jobs(&ListJobs::new([FN])).must("list_jobs");
    assert_eq!(
        ids(&jobs),
        hs[..3].iter().map(|h| h.jobid()).collect::<Vec<_>>(),
        "default limit = batch size"
    );
    let mut f = ListJobs::new([FN]);
    f.limit = Some(2);
    assert_eq!(c.list_jobs(&f).must("list_jobs").len(), 2);
    assert!(
        jobs.iter().all(|j| j.grabbed_until().timestamp() == 0),
        "list_jobs leased jobs"
    );
    assert!(grab(&c, FN).is_some());
}

/// `list_jobs` over several stores: up to `limit` from each.
fn list_jobs_limit_per_store(ctx: &Ctx) {
    let stores = ctx.stores(2);
    for s in &stores {
        let one = ctx.client(std::slice::from_ref(s));
        for _ in 0..4 {
            ins(&one, Job::new(FN));
        }
    }
    let c = ctx.client(&stores);
    let mut f = ListJobs::new([FN]);
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

/// `work_on` works a job without grabbing it, even before its run_after (B14).
fn work_on_does_not_grab(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let r: Rec<i64> = rec();
    let r2 = r.clone();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            push(&r2, job.grabbed_until().timestamp());
            job.completed()?;
            Ok(())
        }),
    );
    let h = ins(&c, Job::new(FN).run_after(plus(now(&c), 1000)));
    assert!(
        c.work_on(&h).must("work_on"),
        "work_on did not work the job"
    );
    assert_eq!(seen(&r), vec![0], "work_on leased the job");
    assert!(!pending(&c, &h));
    assert!(!c.work_on(&h).must("work_on of a gone job"));
}

/// `work_until_done` returns how many jobs it worked; zero when there are none.
fn work_until_done_count(ctx: &Ctx) {
    let (c, _s, r) = recording_client(ctx);
    assert_eq!(c.work_until_done().must("work_until_done"), 0);
    for _ in 0..7 {
        ins(&c, Job::new(FN));
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 7);
    assert_eq!(seen(&r).len(), 7);
}

/// `work(delay, stop)`: works what there is, sleeps, and returns once stopped.
fn work_loop_stops(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let stop = StopSignal::new();
    let count = Arc::new(AtomicUsize::new(0));
    let (st, n) = (stop.clone(), Arc::clone(&count));
    can_do(
        &c,
        FN,
        TestWorker::new(move |_| {
            if n.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                st.stop();
            }
            Ok(())
        }),
    );
    for _ in 0..3 {
        ins(&c, Job::new(FN));
    }
    let t0 = Instant::now();
    c.work(Duration::from_secs(3600), &stop).must("work");
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "work did not return promptly after stop"
    );
}

/// `work` sleeping for an hour (nothing left to do) wakes at once when stopped from
/// another thread.
fn work_sleep_woken_by_stop(ctx: &Ctx) {
    let (c, _s, r) = recording_client(ctx);
    ins(&c, Job::new(FN));
    let stop = StopSignal::new();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            c.work(Duration::from_secs(3600), &stop)
                .map_err(|e| e.to_string())
        });
        // Wait until the job was done: the loop then sleeps (3600 s); stop it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen(&r).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.stop();
        h.join().expect("work thread").must("work");
    });
    assert_eq!(seen(&r).len(), 1, "work did not work the pending job");
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "work's sleep was not cut short by stop"
    );
}

/// `release` makes grabbed jobs grabbable again at once.
fn release_unstarted_jobs(ctx: &Ctx) {
    let (c, _s, _r) = recording_client(ctx);
    ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("grab");
    assert!(grab(&c, FN).is_none());
    c.release(vec![j]).must("release");
    assert!(grab(&c, FN).is_some(), "a released job was not grabbable");
}

/// `grab_jobs(limit)` leases up to `limit` jobs of all abilities, each once.
fn grab_jobs_batch(ctx: &Ctx) {
    let (c, _s, _r) = recording_client(ctx);
    can_do(&c, "Other", TestWorker::completing());
    for _ in 0..4 {
        ins(&c, Job::new(FN));
        ins(&c, Job::new("Other"));
    }
    ins(&c, Job::new("NotMine"));
    let jobs = c.grab_jobs(5).must("grab_jobs");
    assert_eq!(jobs.len(), 5);
    let rest = c.grab_jobs(10).must("grab_jobs");
    assert_eq!(
        rest.len(),
        3,
        "the second batch should hold the other 3 jobs"
    );
    let mut all = ids(&jobs);
    all.extend(ids(&rest));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 8, "a job was grabbed twice");
    let n = now(&c);
    assert!(jobs.iter().chain(&rest).all(|j| j.grabbed_until() > n));
    assert!(jobs.iter().chain(&rest).all(|j| j.funcname() != "NotMine"));
    for j in jobs.into_iter().chain(rest) {
        j.completed().must("completing a batch-grabbed job");
    }
    assert_eq!(list(&c, &[FN, "Other"]).len(), 0);
}

/// `grab_jobs` with compare-and-swap claims gives the same result as the default.
fn grab_jobs_compare_and_swap(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx
        .builder()
        .store(s)
        .grab_strategy(schwartz_core::GrabStrategy::CompareAndSwap)
        .build()
        .must("client");
    can_do(&c, FN, TestWorker::completing());
    let hs: Vec<JobHandle> = (0..6).map(|_| ins(&c, Job::new(FN))).collect();
    let a = c.grab_jobs(4).must("grab_jobs");
    let b = c.grab_jobs(4).must("grab_jobs");
    assert_eq!((a.len(), b.len()), (4, 2));
    let mut got = ids(&a);
    got.extend(ids(&b));
    got.sort();
    assert_eq!(got, hs.iter().map(|h| h.jobid()).collect::<Vec<_>>());
    assert!(c.grab_jobs(4).must("grab_jobs").is_empty());
}

/// `grab_jobs` skips jobs not yet due or leased, honours priority order (strict, with
/// unshuffled candidates) and the floor.
fn grab_jobs_eligibility_and_priority(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx
        .builder()
        .store(s)
        .order(JobOrder::PriorityDesc)
        .candidate_order(CandidateOrder::AsSelected)
        .floor(2)
        .build()
        .must("client");
    can_do(&c, FN, TestWorker::completing());
    let t = now(&c);
    ins(&c, Job::new(FN).priority(9).run_after(plus(t, 100)));
    ins(&c, Job::new(FN).priority(8).grabbed_until(plus(t, 100)));
    ins(&c, Job::new(FN).priority(1));
    for p in [3, 7, 5] {
        ins(&c, Job::new(FN).priority(p));
    }
    let got: Vec<Option<i32>> = c
        .grab_jobs(2)
        .must("grab_jobs")
        .iter()
        .map(|j| j.priority())
        .collect();
    assert_eq!(
        got,
        vec![Some(7), Some(5)],
        "grab_jobs did not take the top priorities"
    );
    let rest: Vec<Option<i32>> = c
        .grab_jobs(10)
        .must("grab_jobs")
        .iter()
        .map(|j| j.priority())
        .collect();
    assert_eq!(
        rest,
        vec![Some(3)],
        "grab_jobs took an ineligible or under-floor job"
    );
}

/// `work_deferred` + `complete_deferred`: completions written later, in one batch.
fn deferred_completions(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, FN, TestWorker::ok().keep(100));
    let hs: Vec<JobHandle> = (0..3).map(|_| ins(&c, Job::new(FN))).collect();
    let mut deferred = Vec::new();
    for _ in 0..3 {
        let j = grab(&c, FN).expect("grab");
        let (outcome, d) = c.work_deferred(j).must("work_deferred");
        assert_eq!(outcome, WorkOutcome::Completed);
        deferred.push(d.expect("a plain Ok completion is deferred"));
    }
    assert!(
        hs.iter().all(|h| pending(&c, h)),
        "deferred completions were written early"
    );
    let results = c.complete_deferred(deferred).must("complete_deferred");
    assert_eq!(results.len(), 3);
    for (h, r) in results {
        r.must("a deferred completion");
        assert!(!pending(&c, &h));
        assert_eq!(exit_status(&c, &h), Some(0));
    }
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

/// `on_insert` callbacks see every successful insert, with the store's hash.
fn on_insert_called(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let r: Rec<StoreHash> = rec();
    let r2 = r.clone();
    c.on_insert(move |h| push(&r2, h.clone()));
    ins(&c, Job::new(FN));
    c.insert_jobs(vec![Job::new(FN), Job::new(FN)])
        .must("insert_jobs");
    let _ = c.insert(Job::new(""));
    let got = seen(&r);
    assert!(got.len() >= 2, "on_insert saw {} inserts", got.len());
    assert!(got.iter().all(|h| *h == h0(&c)));
}

/// Operator `reschedule` (not fenced): the job runs at the new time.
fn operator_reschedule(ctx: &Ctx) {
    let (c, s, _r) = recording_client(ctx);
    let h = ins(&c, Job::new(FN));
    let t = now(&c).timestamp() + 100;
    assert!(s.reschedule(h.jobid(), t).must("reschedule"));
    assert!(!work_once(&c), "rescheduled job ran early");
    ctx.advance(101);
    assert!(work_once(&c));
    assert!(!s.reschedule(h.jobid(), t).must("reschedule of a gone job"));
}

/// Error pruning resets the retry count (kept TheSchwartz semantics, B6): the counter is
/// the number of error rows.
fn error_pruning_resets_retry_count(ctx: &Ctx) {
    let s = ctx.store();
    let c = ctx
        .builder()
        .store(s)
        .error_max_age(secs(100))
        .build()
        .must("client");
    can_do(
        &c,
        FN,
        TestWorker::new(|_| Err(werr("fails")))
            .max_retries(1)
            .retry_delay(|_| secs(500)),
    );
    can_do(&c, "Other", TestWorker::new(|_| Err(werr("other fails"))));
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert_eq!(failures(&c, &h), 1);
    ctx.advance(501);
    // Another job's failure prunes errors older than 100 s, i.e. ours.
    ins(&c, Job::new("Other"));
    let j = grab(&c, "Other").expect("other job");
    c.work_safely(j).must("work_safely");
    assert_eq!(failures(&c, &h), 0, "the old error row was not pruned");
    assert!(work_once(&c));
    assert!(
        pending(&c, &h),
        "with its error pruned the job got a fresh retry"
    );
}

/// `insert_jobs` is all-or-nothing on a failure other than a uniqkey collision too (an
/// explicit job id that is taken), and nothing is left behind.
fn insert_jobs_atomic_on_jobid_collision(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new(FN).jobid(JobId(500)));
    let r = c.insert_jobs(vec![
        Job::new(FN).uniqkey("new"),
        Job::new(FN).jobid(JobId(500)),
    ]);
    assert!(
        r.is_err(),
        "insert_jobs with a taken job id succeeded: {r:?}"
    );
    assert_eq!(stats(&s).jobs, 1, "a failed insert_jobs left rows behind");
    c.clear_dead();
    ins(&c, Job::new(FN).uniqkey("new"));
}

cases!("untested";
    insert_jobs_atomic_on_jobid_collision,
    strict_remove_ability,
    set_ability_rotation_runtime,
    candidates_as_selected,
    set_candidate_order_fifo,
    shuffled_candidates_vary,
    declined_then_completed,
    permanent_failure_explicit_status,
    permanent_failure_default_status,
    failed_with_status_final_only,
    no_exit_status_without_keep,
    list_jobs_run_after_filter,
    list_jobs_grabbed_until_and_names,
    list_jobs_limit,
    list_jobs_limit_per_store,
    list_jobs_needs_funcname,
    work_on_does_not_grab,
    work_until_done_count,
    work_loop_stops,
    work_sleep_woken_by_stop,
    release_unstarted_jobs,
    grab_jobs_batch,
    grab_jobs_compare_and_swap,
    grab_jobs_eligibility_and_priority,
    deferred_completions,
    reset_abilities_stops_work,
    find_job_for_named_abilities,
    on_insert_called,
    operator_reschedule,
    error_pruning_resets_retry_count,
);
