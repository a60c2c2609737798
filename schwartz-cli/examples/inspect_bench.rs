//! Times the operator queries (`queue_summary`, `failures_from`, `recent_failures`) on a
//! 1,000,000-job table: the figures behind `schwartz queues`, `stats`, `check` and `errors`.
//!
//! ```text
//! cargo run --release -p schwartz-cli --example inspect_bench -- sqlite|postgres|mysql [JOBS]
//! ```
//! Makes a fresh database (a temporary SQLite file, or a database on the server of
//! `SCHWARTZ_PG_URL` / `SCHWARTZ_MYSQL_URL`), loads JOBS jobs (default 1,000,000) over 8
//! functions: 70% due, 29.5% scheduled, 0.5% leased, and 10,000 error rows over two hours;
//! then runs each query 7 times and prints the median and the worst. `queue_summary` is timed
//! on the schema of our migrations, then once more without their index on leased jobs
//! (`job (grabbed_until)`, partial, on PostgreSQL and SQLite; `job (funcid, grabbed_until)`
//! on MySQL), as on TheSchwartz's own schema; the index is put back afterwards.
//! Drops the database (unless `KEEP` is set; `REUSE_URL=<url>` times a database kept that way
//! again, after applying any migration it lacks).

use std::time::{Duration, Instant};

use schwartz_core::store::{Claim, FailureRecord, Finish, FinishAction, NewJobRow, Store};
use schwartz_diesel::{admin, DieselStore};

fn time<T>(label: &str, mut f: impl FnMut() -> T) {
    let mut runs: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    runs.sort();
    println!(
        "{label:<42} median {:>8.1} ms   worst {:>8.1} ms",
        runs[3].as_secs_f64() * 1e3,
        runs[6].as_secs_f64() * 1e3
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let backend = args.next().unwrap_or_else(|| "sqlite".into());
    let n: usize = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    let keep = std::env::var_os("KEEP").is_some();
    let dir = tempfile::tempdir()?;
    let dir_path = if keep && backend == "sqlite" {
        dir.keep()
    } else {
        dir.path().to_path_buf()
    };
    // REUSE_URL: a database loaded by an earlier run with KEEP (no new load, not dropped).
    let (url, cleanup) = match backend.as_str() {
        _ if std::env::var_os("REUSE_URL").is_some() => {
            (std::env::var("REUSE_URL").unwrap_or_default(), None)
        }
        "sqlite" => (dir_path.join("bench.db").display().to_string(), None),
        b => {
            let (var, default) = if b == "postgres" {
                ("SCHWARTZ_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
            } else {
                ("SCHWARTZ_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
            };
            let server = std::env::var(var).unwrap_or_else(|_| default.into());
            let name = format!("sch_inspect_bench_{}", std::process::id());
            admin::create_database(&server, &name)?;
            (admin::with_database(&server, &name)?, Some((server, name)))
        }
    };
    let result = run(&url, n, &backend);
    if keep {
        println!("kept {}", schwartz_diesel::redact_url(&url));
    } else if let Some((server, name)) = cleanup {
        admin::drop_database(&server, &name)?;
    }
    result
}

/// Runs one SQL statement on the database (dropping and restoring the lease index).
fn execute(url: &str, backend: &str, sql: &str) -> Result<(), Box<dyn std::error::Error>> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    match backend {
        "postgres" => diesel::pg::PgConnection::establish(url)?.batch_execute(sql)?,
        "mysql" => diesel::mysql::MysqlConnection::establish(url)?.batch_execute(sql)?,
        _ => diesel::sqlite::SqliteConnection::establish(url)?.batch_execute(sql)?,
    }
    Ok(())
}

fn run(url: &str, n: usize, backend: &str) -> Result<(), Box<dyn std::error::Error>> {
    let store = DieselStore::connect(url)?;
    store.run_migrations()?;
    let now = store.server_time()?;
    let funcs: Vec<_> = (0..8)
        .map(|i| store.funcid(&format!("Bench::Func{i}")))
        .collect::<Result<_, _>>()?;
    if std::env::var_os("REUSE_URL").is_none() {
        let load = Instant::now();
        let mut rows = Vec::with_capacity(10_000);
        for i in 0..n {
            let run_after = if i % 1000 < 700 {
                now - 7200 + (i % 7200) as i64
            } else {
                now + 1 + (i % 86_400) as i64
            };
            rows.push(NewJobRow {
                jobid: None,
                funcid: funcs[i % funcs.len()],
                arg: Some(format!("{{\"n\":{i}}}").into_bytes()),
                uniqkey: None,
                insert_time: now - 7200,
                run_after,
                grabbed_until: 0,
                priority: None,
                coalesce: Some(format!("c{}", i % 100)),
            });
            if rows.len() == 10_000 || i + 1 == n {
                store.insert_jobs(&rows)?;
                rows.clear();
            }
        }
        println!(
            "{}: loaded {n} jobs in {:.1} s",
            store.describe(),
            load.elapsed().as_secs_f64()
        );
        // Lease 0.5% of the jobs, fail 10,000 (error rows over two hours).
        let due: Vec<_> = store.select_jobs(&schwartz_core::store::JobQuery {
            funcids: funcs.clone(),
            run_after_max: Some(now),
            limit: n / 200 + 10_000,
            ..Default::default()
        })?;
        let (lease, fail) = due.split_at(n / 200);
        for chunk in lease.chunks(1000) {
            let claims: Vec<Claim> = chunk
                .iter()
                .map(|r| Claim {
                    jobid: r.jobid,
                    expected: 0,
                    lease_until: now + 3600,
                })
                .collect();
            store.claim(&claims, now)?;
        }
        for (k, chunk) in fail.chunks(1000).enumerate() {
            let items: Vec<Finish> = chunk
                .iter()
                .enumerate()
                .map(|(j, r)| Finish {
                    jobid: r.jobid,
                    funcid: r.funcid,
                    token: 0,
                    failure: Some(FailureRecord {
                        error_time: now - 7200 + ((k * 1000 + j) as i64 * 7200 / 10_000),
                        jobid: r.jobid,
                        message: format!("failure {k}-{j}"),
                        funcid: r.funcid,
                    }),
                    action: FinishAction::Reschedule { run_after: None },
                })
                .collect();
            store.finish(&items)?;
        }
    }
    let stats = store.stats()?;
    println!("jobs {} errors {}", stats.jobs, stats.errors);
    let s = store.queue_summary(now, now - 3600, u64::MAX)?;
    let (d, sc, r): (u64, u64, u64) = s.iter().fold((0, 0, 0), |a, q| {
        (a.0 + q.due, a.1 + q.scheduled, a.2 + q.running)
    });
    println!("summary: due {d} scheduled {sc} running {r}");
    let analyze = match backend {
        "postgres" => "ANALYZE job",
        "mysql" => "ANALYZE TABLE job",
        _ => "ANALYZE",
    };
    // The index on leased jobs, as the migrations define it: partial on `grabbed_until` on
    // PostgreSQL and SQLite, `(funcid, grabbed_until)` on MySQL.
    let (create, drop) = match backend {
        "mysql" => (
            "CREATE INDEX job_funcid_grabbed_until ON job (funcid, grabbed_until)",
            "DROP INDEX job_funcid_grabbed_until ON job",
        ),
        _ => (
            "CREATE INDEX job_grabbed_until ON job (grabbed_until) WHERE grabbed_until > 0",
            "DROP INDEX job_grabbed_until",
        ),
    };
    let summaries = |store: &DieselStore, labels: [&str; 3]| {
        for (label, limit) in labels.into_iter().zip([u64::MAX, 100_000, 10_000]) {
            time(label, || store.queue_summary(now, now - 3600, limit));
        }
    };
    summaries(
        &store,
        [
            "queue_summary, exact counts",
            "queue_summary, counts up to 100,000",
            "queue_summary, counts up to 10,000",
        ],
    );
    // Without that index (TheSchwartz's schema): leased jobs are found by one pass over
    // `job`. A new store, which sees the index gone.
    execute(url, backend, drop)?;
    execute(url, backend, analyze)?;
    summaries(
        &DieselStore::connect(url)?,
        [
            "queue_summary, exact, no lease index",
            "queue_summary, up to 100,000, no index",
            "queue_summary, up to 10,000, no index",
        ],
    );
    execute(url, backend, create)?;
    execute(url, backend, analyze)?;
    if backend == "postgres" {
        // Just loaded, `job`'s visibility map is empty: every count reads the heap too.
        // Autovacuum fills it within a minute of a bulk load (our migrations have it vacuum
        // `job` after inserts); time the counts as they are from then on.
        execute(url, backend, "VACUUM job")?;
        time("queue_summary, up to 10,000, vacuumed", || {
            store.queue_summary(now, now - 3600, 10_000)
        });
        time("queue_summary, exact, vacuumed", || {
            store.queue_summary(now, now - 3600, u64::MAX)
        });
    }
    time("failures_from(now - 30 s) (errors --follow)", || {
        store.failures_from(now - 30, None, 10_000)
    });
    time("failures_from(now - 1 h, one function)", || {
        store.failures_from(now - 3600, Some(funcs[3]), 50_000)
    });
    time("recent_failures(last 100) (errors)", || {
        store.recent_failures(None, None, 100)
    });
    time("stats (exact row counts)", || store.stats());
    time("stats_up_to(10,000) (schwartz stats)", || {
        store.stats_up_to(10_000)
    });
    time("schwartz stats: summary + row counts", || {
        (
            store.queue_summary(now, now - 3600, 10_000),
            store.stats_up_to(10_000),
        )
    });
    Ok(())
}
