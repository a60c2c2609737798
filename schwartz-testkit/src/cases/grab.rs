//! Grabbing jobs: eligibility (run_after, leases), `work_on` one job, the candidate order
//! (as selected, FIFO, shuffled), batch grabs and their compare-and-swap, races between
//! clients (exactly one wins), parallel workers handing out each job exactly once, and
//! releasing grabbed jobs that were never started.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::common::*;
use schwartz_core::testing::GrabHooks;
use schwartz_core::GrabStrategy;

const FN: &str = "Worker::GrabAndWork";

struct Setup {
    c: Client,
    available: JobHandle,
    grabbed: JobHandle,
    grabbed_until: i64,
    inside: Rec<(bool, bool)>,
}

fn setup(ctx: &Ctx) -> Setup {
    let (c, _s) = ctx.client1();
    let inside = rec();
    let r = inside.clone();
    let weak = c.downgrade();
    can_do(
        &c,
        FN,
        TestWorker::new(move |job| {
            let n = job.server_time()?;
            let leased = job.grabbed_until() > n;
            let client = weak.upgrade().ok_or_else(|| werr("the client is gone"))?;
            let nested = client.grab_and_work_on(job.handle())?;
            push(&r, (leased, nested));
            job.completed()?;
            Ok(())
        }),
    );
    let available = ins(&c, Job::new(FN));
    let until = plus(now(&c), 100);
    let grabbed = ins(&c, Job::new(FN).grabbed_until(until));
    Setup {
        c,
        available,
        grabbed,
        grabbed_until: until.timestamp(),
        inside,
    }
}

/// 1-3. A leased job is not worked, gets no failure, and its lease is unchanged.
fn leased_job_not_worked(ctx: &Ctx) {
    let s = setup(ctx);
    assert!(
        !s.c.grab_and_work_on(&s.grabbed).must("grab_and_work_on"),
        "worked a leased job"
    );
    assert!(failure_log(&s.c, &s.grabbed).is_empty());
    assert_eq!(
        lookup(&s.c, &s.grabbed).grabbed_until().timestamp(),
        s.grabbed_until
    );
    assert!(seen(&s.inside).is_empty(), "the worker ran");
}

/// 4-7. An available job is grabbed (leased while working: a nested grab_and_work_on
/// refuses it) and worked.
fn available_job_worked(ctx: &Ctx) {
    let s = setup(ctx);
    assert!(s.c.grab_and_work_on(&s.available).must("grab_and_work_on"));
    assert_eq!(
        seen(&s.inside),
        vec![(true, false)],
        "(leased while working, nested call result)"
    );
    assert!(failure_log(&s.c, &s.available).is_empty());
    assert!(!pending(&s.c, &s.available));
}

/// 8-9. Once gone, grab_and_work_on returns false with no failure.
fn gone_job_returns_false(ctx: &Ctx) {
    let s = setup(ctx);
    assert!(s.c.grab_and_work_on(&s.available).must("first"));
    assert!(
        !s.c.grab_and_work_on(&s.available).must("second"),
        "worked a finished job"
    );
    assert!(failure_log(&s.c, &s.available).is_empty());
    assert_eq!(seen(&s.inside).len(), 1);
}

/// After the lease runs out the formerly leased job can be worked.
fn leased_job_worked_after_lease(ctx: &Ctx) {
    let s = setup(ctx);
    ctx.advance(101);
    assert!(s.c.grab_and_work_on(&s.grabbed).must("grab_and_work_on"));
    assert!(!pending(&s.c, &s.grabbed));
}

/// grab_and_work_on ignores run_after (8.26, B14).
fn ignores_run_after(ctx: &Ctx) {
    let s = setup(ctx);
    let later = ins(&s.c, Job::new(FN).run_after(plus(now(&s.c), 1000)));
    assert!(
        s.c.grab_and_work_on(&later).must("grab_and_work_on"),
        "a future job was not worked"
    );
    assert!(!pending(&s.c, &later));
}

const LOOP_FN: &str = "Worker::Grab";

fn recording_client(ctx: &Ctx) -> (Client, Arc<dyn Store>, Rec<JobId>) {
    let (c, s) = ctx.client1();
    let r = rec();
    let r2 = r.clone();
    can_do(
        &c,
        LOOP_FN,
        TestWorker::new(move |job| {
            push(&r2, job.jobid());
            job.completed()?;
            Ok(())
        }),
    );
    (c, s, r)
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
        LOOP_FN,
        TestWorker::new(move |job| {
            push(&r2, job.priority());
            Ok(())
        }),
    );
    for p in [4, 9, 1, 7, 3, 8, 2, 6, 5, 10] {
        ins(&c, Job::new(LOOP_FN).priority(p));
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 10);
    assert_eq!(seen(&r), (1..=10).rev().map(Some).collect::<Vec<_>>());
}

/// `set_candidate_order` at runtime, FIFO by jobid.
fn set_candidate_order_fifo(ctx: &Ctx) {
    let (c, _s, r) = recording_client(ctx);
    c.set_candidate_order(CandidateOrder::AsSelected);
    let hs: Vec<JobHandle> = (0..8).map(|_| ins(&c, Job::new(LOOP_FN))).collect();
    assert_eq!(c.work_until_done().must("work_until_done"), 8);
    assert_eq!(seen(&r), hs.iter().map(|h| h.jobid()).collect::<Vec<_>>());
}

/// Shuffled candidates (default) do not always take the first job.
fn shuffled_candidates_vary(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let hs: Vec<JobHandle> = (0..20).map(|_| ins(&c, Job::new(LOOP_FN))).collect();
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let j = grab(&c, LOOP_FN).expect("grab");
        firsts.insert(j.jobid());
        c.release(vec![j]).must("release");
    }
    assert!(
        firsts.len() > 1,
        "20 grabs of 20 candidates always took {firsts:?} (first job {})",
        hs[0].jobid()
    );
}

fn ids(jobs: &[QueuedJob]) -> Vec<JobId> {
    let mut v: Vec<JobId> = jobs.iter().map(|j| j.jobid()).collect();
    v.sort();
    v
}

/// `work_on` works a job without grabbing it, even before its run_after (B14).
fn work_on_does_not_grab(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let r: Rec<i64> = rec();
    let r2 = r.clone();
    can_do(
        &c,
        LOOP_FN,
        TestWorker::new(move |job| {
            push(&r2, job.grabbed_until().timestamp());
            job.completed()?;
            Ok(())
        }),
    );
    let h = ins(&c, Job::new(LOOP_FN).run_after(plus(now(&c), 1000)));
    assert!(
        c.work_on(&h).must("work_on"),
        "work_on did not work the job"
    );
    assert_eq!(seen(&r), vec![0], "work_on leased the job");
    assert!(!pending(&c, &h));
    assert!(!c.work_on(&h).must("work_on of a gone job"));
}

/// `release` makes grabbed jobs grabbable again at once.
fn release_unstarted_jobs(ctx: &Ctx) {
    let (c, _s, _r) = recording_client(ctx);
    ins(&c, Job::new(LOOP_FN));
    let j = grab(&c, LOOP_FN).expect("grab");
    assert!(grab(&c, LOOP_FN).is_none());
    c.release(vec![j]).must("release");
    assert!(
        grab(&c, LOOP_FN).is_some(),
        "a released job was not grabbable"
    );
}

/// `grab_jobs(limit)` leases up to `limit` jobs of all abilities, each once.
fn grab_jobs_batch(ctx: &Ctx) {
    let (c, _s, _r) = recording_client(ctx);
    can_do(&c, "Other", TestWorker::completing());
    for _ in 0..4 {
        ins(&c, Job::new(LOOP_FN));
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
    assert_eq!(list(&c, &[LOOP_FN, "Other"]).len(), 0);
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
    can_do(&c, LOOP_FN, TestWorker::completing());
    let hs: Vec<JobHandle> = (0..6).map(|_| ins(&c, Job::new(LOOP_FN))).collect();
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
    can_do(&c, LOOP_FN, TestWorker::completing());
    let t = now(&c);
    ins(&c, Job::new(LOOP_FN).priority(9).run_after(plus(t, 100)));
    ins(
        &c,
        Job::new(LOOP_FN).priority(8).grabbed_until(plus(t, 100)),
    );
    ins(&c, Job::new(LOOP_FN).priority(1));
    for p in [3, 7, 5] {
        ins(&c, Job::new(LOOP_FN).priority(p));
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

const ADD: &str = "Worker::Addition";

fn addition_client(ctx: &Ctx) -> Client {
    let (c, _s) = ctx.client1();
    can_do(&c, ADD, TestWorker::completing().grab_for(30));
    c
}

/// 5-6. While the first job is leased (grab_for 30) a second grab for its function finds
/// nothing, even with another function's job present.
fn leased_job_not_grabbed_again(ctx: &Ctx) {
    let c = addition_client(ctx);
    ins(
        &c,
        job_with(
            ADD,
            &Numbers {
                numbers: vec![1, 2],
            },
        ),
    );
    let _j = grab(&c, ADD).expect("first grab");
    ins(&c, job_with("dummy", &vec![1, 2, 3]));
    assert!(grab(&c, ADD).is_none(), "a leased job was grabbed again");
    ctx.advance(31);
    assert!(
        grab(&c, ADD).is_some(),
        "the job was not grabbable after its lease"
    );
}

const RACE_FN: &str = "Worker::Addition";

struct Race {
    a: Client,
    b: Client,
    lost: Arc<AtomicUsize>,
    store: Arc<dyn Store>,
}

fn race_setup(ctx: &Ctx) -> Race {
    let store = ctx.store();
    let meet = Rendezvous::new(2, secs(5));
    let lost = Arc::new(AtomicUsize::new(0));
    let hooks = {
        let (meet, meet2) = (Arc::clone(&meet), Arc::clone(&meet));
        let lost2 = Arc::clone(&lost);
        GrabHooks {
            after_select: Some(Arc::new(move || {
                meet.wait();
            })),
            lost_race: Some(Arc::new(move || {
                lost2.fetch_add(1, Ordering::SeqCst);
                meet2.disarm();
            })),
        }
    };
    let mk = || {
        let c = ctx
            .builder()
            .store(Arc::clone(&store))
            .hooks(hooks.clone())
            .build()
            .must("client");
        can_do(&c, RACE_FN, TestWorker::completing().grab_for(30));
        c
    };
    let (a, b) = (mk(), mk());
    Race { a, b, lost, store }
}

fn race(r: &Race) -> (Option<QueuedJob>, Option<QueuedJob>) {
    std::thread::scope(|s| {
        let ta = s.spawn(|| r.a.grab_job(RACE_FN).map_err(|e| e.to_string()));
        let tb = s.spawn(|| r.b.grab_job(RACE_FN).map_err(|e| e.to_string()));
        let ga = ta
            .join()
            .expect("client A's thread panicked")
            .must("client A grab_job");
        let gb = tb
            .join()
            .expect("client B's thread panicked")
            .must("client B grab_job");
        (ga, gb)
    })
}

/// 1-2. One job, two racing clients: exactly one gets it.
fn exactly_one_client_gets_the_job(ctx: &Ctx) {
    let r = race_setup(ctx);
    let h = ins(
        &r.a,
        job_with(
            RACE_FN,
            &Numbers {
                numbers: vec![1, 2],
            },
        ),
    );
    let (ga, gb) = race(&r);
    let winners: Vec<&QueuedJob> = ga.iter().chain(gb.iter()).collect();
    assert_eq!(
        winners.len(),
        1,
        "{} clients got the one job",
        winners.len()
    );
    assert_eq!(winners[0].handle(), &h);
    assert_eq!(stats(&r.store).jobs, 1);
}

/// The loser's claim reports a lost race (the `$T_LOST_RACE` hook).
fn loser_reports_lost_race(ctx: &Ctx) {
    let r = race_setup(ctx);
    ins(&r.a, Job::new(RACE_FN));
    let _ = race(&r);
    assert!(
        r.lost.load(Ordering::SeqCst) >= 1,
        "no lost race was reported"
    );
}

/// The winner holds a working lease: it completes; the job is gone.
fn winner_completes(ctx: &Ctx) {
    let r = race_setup(ctx);
    let h = ins(&r.a, Job::new(RACE_FN));
    let (ga, gb) = race(&r);
    let j = ga.or(gb).expect("a winner");
    j.completed().must("winner completes");
    assert!(!pending(&r.a, &h));
}

const PAR_FN: &str = "Worker::Parallel";

const JOBS: usize = 40;

struct Run {
    done: BTreeMap<JobId, usize>,
    lost: usize,
    errors: Vec<String>,
}

fn run(ctx: &Ctx, order: CandidateOrder) -> Run {
    let store = ctx.store();
    let meet = Rendezvous::new(2, secs(2));
    let lost = Arc::new(AtomicUsize::new(0));
    let hooks = {
        let (m1, m2, l) = (Arc::clone(&meet), Arc::clone(&meet), Arc::clone(&lost));
        GrabHooks {
            after_select: Some(Arc::new(move || {
                m1.wait();
            })),
            lost_race: Some(Arc::new(move || {
                l.fetch_add(1, Ordering::SeqCst);
                m2.disarm();
            })),
        }
    };
    let clients: Vec<Client> = (0..2)
        .map(|_| {
            let c = ctx
                .builder()
                .store(Arc::clone(&store))
                .batch_size(2)
                .candidate_order(order)
                .hooks(hooks.clone())
                .build()
                .must("client");
            can_do(&c, PAR_FN, TestWorker::completing().grab_for(300));
            c
        })
        .collect();
    for _ in 0..JOBS {
        ins(&clients[0], Job::new(PAR_FN));
    }
    let done: Mutex<BTreeMap<JobId, usize>> = Mutex::default();
    let total = AtomicUsize::new(0);
    let errors: Mutex<Vec<String>> = Mutex::default();
    std::thread::scope(|s| {
        for c in &clients {
            let (done, total, errors, meet) = (&done, &total, &errors, &meet);
            s.spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                while total.load(Ordering::SeqCst) < JOBS && Instant::now() < deadline {
                    match c.grab_job(PAR_FN) {
                        Ok(Some(j)) => {
                            *done
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .entry(j.jobid())
                                .or_default() += 1;
                            // Hold the job a moment, as real work would: a second grab of
                            // it by the other worker would overlap and be counted.
                            std::thread::sleep(Duration::from_millis(2));
                            if let Err(e) = j.completed() {
                                errors
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .push(format!("completed: {e}"));
                            }
                            total.fetch_add(1, Ordering::SeqCst);
                        }
                        // The other worker holds the candidates we saw: look again.
                        Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                        Err(e) => {
                            errors
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(format!("grab_job: {e}"));
                            break;
                        }
                    }
                }
                // Do not keep the other worker waiting in the rendezvous.
                meet.disarm();
            });
        }
    });
    Run {
        done: done.into_inner().unwrap_or_else(|e| e.into_inner()),
        lost: lost.load(Ordering::SeqCst),
        errors: errors.into_inner().unwrap_or_else(|e| e.into_inner()),
    }
}

fn check_exactly_once(r: &Run) {
    assert!(
        r.errors.is_empty(),
        "{} errors, the first: {:?}",
        r.errors.len(),
        &r.errors[..r.errors.len().min(3)]
    );
    assert_eq!(
        r.done.len(),
        JOBS,
        "{} distinct jobs done, want {JOBS}",
        r.done.len()
    );
    let twice: Vec<_> = r.done.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "jobs done more than once: {twice:?}");
}

/// 1-2. Shuffled candidates (default): each of 40 jobs once; a race was lost.
fn forty_jobs_exactly_once(ctx: &Ctx) {
    let r = run(ctx, CandidateOrder::Shuffled);
    check_exactly_once(&r);
    assert!(r.lost >= 1, "no lost race observed");
}

/// The same without shuffling (both claim the same first candidate).
fn forty_jobs_exactly_once_unshuffled(ctx: &Ctx) {
    let r = run(ctx, CandidateOrder::AsSelected);
    check_exactly_once(&r);
    assert!(r.lost >= 1, "no lost race observed");
}

/// Batch grabs (`grab_jobs`, SKIP LOCKED where the store has it) by two racing clients:
/// every job once.
fn batch_grabs_exactly_once(ctx: &Ctx, strategy: GrabStrategy) {
    let store = ctx.store();
    let clients: Vec<Client> = (0..2)
        .map(|_| {
            let c = ctx
                .builder()
                .store(Arc::clone(&store))
                .grab_strategy(strategy)
                .build()
                .must("client");
            can_do(&c, PAR_FN, TestWorker::completing().grab_for(300));
            c
        })
        .collect();
    clients[0]
        .insert_jobs((0..JOBS).map(|_| Job::new(PAR_FN)).collect())
        .must("insert_jobs");
    let done: Mutex<BTreeMap<JobId, usize>> = Mutex::default();
    let errors: Mutex<Vec<String>> = Mutex::default();
    let total = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for c in &clients {
            let (done, errors, total) = (&done, &errors, &total);
            s.spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                while total.load(Ordering::SeqCst) < JOBS && Instant::now() < deadline {
                    match c.grab_jobs(3) {
                        Ok(jobs) if jobs.is_empty() => std::thread::sleep(Duration::from_millis(5)),
                        Ok(jobs) => {
                            for j in &jobs {
                                *done
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .entry(j.jobid())
                                    .or_default() += 1;
                            }
                            std::thread::sleep(Duration::from_millis(2));
                            for j in jobs {
                                if let Err(e) = j.completed() {
                                    errors
                                        .lock()
                                        .unwrap_or_else(|e| e.into_inner())
                                        .push(format!("completed: {e}"));
                                }
                                total.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        Err(e) => {
                            errors
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(format!("grab_jobs: {e}"));
                            break;
                        }
                    }
                }
            });
        }
    });
    let r = Run {
        done: done.into_inner().unwrap_or_else(|e| e.into_inner()),
        lost: 0,
        errors: errors.into_inner().unwrap_or_else(|e| e.into_inner()),
    };
    check_exactly_once(&r);
    assert_eq!(stats(&store).jobs, 0);
}

/// Batch grabs with the default strategy (SKIP LOCKED on PostgreSQL/MySQL).
fn batch_grabs_exactly_once_auto(ctx: &Ctx) {
    batch_grabs_exactly_once(ctx, GrabStrategy::Auto);
}

/// Batch grabs with compare-and-swap everywhere: the same semantics.
fn batch_grabs_exactly_once_cas(ctx: &Ctx) {
    batch_grabs_exactly_once(ctx, GrabStrategy::CompareAndSwap);
}

cases!(
    "grab";
    leased_job_not_worked,
    available_job_worked,
    gone_job_returns_false,
    leased_job_worked_after_lease,
    ignores_run_after,
    candidates_as_selected,
    set_candidate_order_fifo,
    shuffled_candidates_vary,
    work_on_does_not_grab,
    release_unstarted_jobs,
    grab_jobs_batch,
    grab_jobs_compare_and_swap,
    grab_jobs_eligibility_and_priority,
    leased_job_not_grabbed_again,
    exactly_one_client_gets_the_job,
    loser_reports_lost_race,
    winner_completes,
    batch_grabs_exactly_once_auto,
    batch_grabs_exactly_once_cas,
    forty_jobs_exactly_once,
    forty_jobs_exactly_once_unshuffled,
);
