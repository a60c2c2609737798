//! A rough single-thread throughput probe of one store:
//! `cargo run --release -p schwartz-diesel --all-features --example store_bench -- URL [N]`.
//! The URL's database must be migrated (or be a new SQLite file); it inserts and drains jobs
//! of a function named `store_bench`.

use std::time::Instant;

use schwartz_core::store::{
    Claim, Finish, FinishAction, FinishStatus, JobQuery, Lease, NewJobRow, Store,
};
use schwartz_diesel::DieselStore;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: store_bench URL [N]")?;
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let store = DieselStore::connect(&url)?;
    store.run_migrations()?;
    let f = store.funcid("store_bench")?;
    let now = store.server_time()?;
    let row = |_| NewJobRow {
        jobid: None,
        funcid: f,
        arg: Some(vec![1; 32]),
        uniqkey: None,
        insert_time: now,
        run_after: now,
        grabbed_until: 0,
        priority: None,
        coalesce: None,
    };
    let report = |what: &str, count: usize, t: Instant| {
        let s = t.elapsed().as_secs_f64();
        println!(
            "{:<40} {:>8} in {:>6.2}s = {:>9.0}/s",
            what,
            count,
            s,
            count as f64 / s
        );
    };

    // Round trips.
    let t = Instant::now();
    for _ in 0..2000 {
        store.server_time()?;
    }
    report("server_time round trip", 2000, t);
    let t = Instant::now();
    for _ in 0..2000 {
        store.lookup(schwartz_core::JobId(1))?;
    }
    report("lookup round trip", 2000, t);

    // Bulk insert.
    let t = Instant::now();
    let rows: Vec<NewJobRow> = (0..1000).map(row).collect();
    for _ in 0..n / 1000 {
        store.insert_jobs(&rows)?;
    }
    report("bulk insert (1000 per call)", n / 1000 * 1000, t);

    // Batched burn-down: grab 100, finish 100.
    let t = Instant::now();
    let mut done = 0;
    let (mut t_grab, mut t_finish) = (0f64, 0f64);
    loop {
        let t0 = Instant::now();
        let now = store.server_time()?;
        let q = JobQuery::eligible(vec![f], now, 100);
        let got = match store.grab_skip_locked(
            &q,
            &[Lease {
                funcid: f,
                grab_for: 60,
            }],
            now,
        )? {
            Some(rows) => rows,
            None => {
                let cands = store.select_jobs(&q)?;
                let claims: Vec<Claim> = cands
                    .iter()
                    .map(|r| Claim {
                        jobid: r.jobid,
                        expected: r.grabbed_until,
                        lease_until: now + 60,
                    })
                    .collect();
                let won = store.claim(&claims, now)?;
                cands
                    .into_iter()
                    .filter(|r| won.contains(&r.jobid))
                    .map(|mut r| {
                        r.grabbed_until = now + 60;
                        r
                    })
                    .collect()
            }
        };
        if got.is_empty() {
            break;
        }
        t_grab += t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let items: Vec<Finish> = got
            .iter()
            .map(|r| Finish {
                jobid: r.jobid,
                funcid: r.funcid,
                token: r.grabbed_until,
                failure: None,
                action: FinishAction::Remove { exit_status: None },
            })
            .collect();
        for s in store.finish(&items)? {
            assert!(matches!(s, FinishStatus::Done));
        }
        done += got.len();
        t_finish += t1.elapsed().as_secs_f64();
    }
    report("batched grab + finish (100 per call)", done, t);
    println!("    (grab {t_grab:.2}s, finish {t_finish:.2}s)");

    // Single inserts.
    let m = (n / 10).max(100);
    let t = Instant::now();
    for i in 0..m {
        store.insert_jobs(&[row(i)])?;
    }
    report("single insert", m, t);

    // Per-job: select 1, claim 1, finish 1.
    let t = Instant::now();
    let mut done = 0;
    loop {
        let now = store.server_time()?;
        let cands = store.select_jobs(&JobQuery::eligible(vec![f], now, 1))?;
        let Some(r) = cands.into_iter().next() else {
            break;
        };
        let won = store.claim(
            &[Claim {
                jobid: r.jobid,
                expected: r.grabbed_until,
                lease_until: now + 60,
            }],
            now,
        )?;
        if won.is_empty() {
            continue;
        }
        store.finish(&[Finish {
            jobid: r.jobid,
            funcid: f,
            token: now + 60,
            failure: None,
            action: FinishAction::Remove { exit_status: None },
        }])?;
        done += 1;
    }
    report("per job: time + select + claim + finish", done, t);
    Ok(())
}
