//! `t/grab-race.t` (spec 8.13): two clients select the same candidate, both try to
//! claim it; exactly one gets it, the other loses the race.
//!
//! Upstream forks two children and sleeps 1.5 s in the after-select hook; here two threads
//! with a client each meet in the hook (a rendezvous), so both have selected before
//! either claims.

use super::common::*;
use schwartz_core::GrabHooks;

const FN: &str = "Worker::Addition";

struct Race {
    a: Client,
    b: Client,
    lost: Arc<AtomicUsize>,
    store: Arc<dyn Store>,
}

fn setup(ctx: &Ctx) -> Race {
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
        can_do(&c, FN, TestWorker::completing().grab_for(30));
        c
    };
    let (a, b) = (mk(), mk());
    Race { a, b, lost, store }
}

fn race(r: &Race) -> (Option<QueuedJob>, Option<QueuedJob>) {
    std::thread::scope(|s| {
        let ta = s.spawn(|| r.a.grab_job(FN).map_err(|e| e.to_string()));
        let tb = s.spawn(|| r.b.grab_job(FN).map_err(|e| e.to_string()));
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
    let r = setup(ctx);
    let h = ins(
        &r.a,
        job_with(
            FN,
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
    let r = setup(ctx);
    ins(&r.a, Job::new(FN));
    let _ = race(&r);
    assert!(
        r.lost.load(Ordering::SeqCst) >= 1,
        "no lost race was reported"
    );
}

/// The winner holds a working lease: it completes; the job is gone.
fn winner_completes(ctx: &Ctx) {
    let r = setup(ctx);
    let h = ins(&r.a, Job::new(FN));
    let (ga, gb) = race(&r);
    let j = ga.or(gb).expect("a winner");
    j.completed().must("winner completes");
    assert!(!pending(&r.a, &h));
}

cases!("grab_race";
    exactly_one_client_gets_the_job,
    loser_reports_lost_race,
    winner_completes,
);
