//! Quickstart: a job queue in an embedded SQLite file, two kinds of jobs, 10,000 jobs
//! worked by a pool with a progress bar.
//!
//! ```text
//! cargo run --release -p schwartz-worker --example quickstart [-- --jobs N --threads N --prefetch N --db PATH]
//! ```
//!
//! Without `--db` the database is a fresh file in a temporary directory, removed at the end.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use schwartz_core::{Client, Job, Pruning, QueuedJob, WorkError, Worker};
use schwartz_diesel::DieselStore;
use schwartz_worker::WorkerPool;

/// The typed argument of a `make_thumbnail` job (serde + JSON under the hood).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Thumbnail {
    /// Image path.
    image: String,
    /// Target width in pixels.
    width: u32,
}

/// Always succeeds: "resizes" an image.
fn make_thumbnail(job: &QueuedJob) -> Result<(), WorkError> {
    let t: Thumbnail = job.arg()?;
    if t.image.is_empty() || t.width == 0 {
        return Err("nothing to resize".into());
    }
    Ok(())
}

/// Sends a notification; the "mail server" fails now and then, so the job is retried.
/// One message in 500 can never be delivered: it fails for good after its retries.
#[derive(Default)]
struct SendNotification {
    failed_once: Mutex<HashSet<u64>>,
}

impl Worker for SendNotification {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        if n % 500 == 13 {
            return Err(format!("mailbox {n} does not exist").into());
        }
        // Every 10th message fails on its first attempt (a flaky server).
        if n % 10 == 7 && self.failed_once.lock().unwrap().insert(n) {
            return Err(format!("mail server busy while sending message {n}").into());
        }
        Ok(())
    }
    fn max_retries(&self, _job: &QueuedJob) -> u32 {
        2
    }
    fn retry_delay(&self, _failures: u32) -> Duration {
        Duration::ZERO
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let mut jobs: u64 = 10_000;
    let mut threads: Option<usize> = None;
    let mut prefetch: Option<usize> = None;
    let mut db: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" => jobs = args.next().ok_or("--jobs N")?.parse()?,
            "--threads" => threads = Some(args.next().ok_or("--threads N")?.parse()?),
            "--prefetch" => prefetch = Some(args.next().ok_or("--prefetch N")?.parse()?),
            "--db" => db = Some(args.next().ok_or("--db PATH")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (--jobs N, --threads N, --prefetch N, --db PATH)"
                )
                .into())
            }
        }
    }

    // 1. An embedded SQLite database with TheSchwartz's tables.
    let tmp = tempfile::tempdir()?;
    let path = db.unwrap_or_else(|| tmp.path().join("quickstart.db").display().to_string());
    let store = DieselStore::connect(&format!("sqlite://{path}"))?;
    store.run_migrations()?;
    println!("database: {path}");

    // 2. A client that knows two functions. The pool prunes, so the client does not.
    let client = Client::builder()
        .store(Arc::new(store))
        .pruning(Pruning::Off)
        .build()?;
    client.can_do("make_thumbnail", make_thumbnail)?;
    client.can_do("send_notification", SendNotification::default())?;

    // 3. Insert the jobs, 1,000 per transaction.
    let t0 = Instant::now();
    let all: Vec<Job> = (0..jobs)
        .map(|i| {
            if i % 2 == 0 {
                Job::new("make_thumbnail").arg(&Thumbnail {
                    image: format!("photos/{i}.jpg"),
                    width: 320,
                })
            } else {
                Job::new("send_notification").arg(&i)
            }
        })
        .collect::<Result<_, _>>()?;
    for batch in all.chunks(1000) {
        client.insert_jobs(batch.to_vec())?;
    }
    let insert_time = t0.elapsed();
    println!(
        "inserted {jobs} jobs in {insert_time:.2?} ({:.0} jobs/s)",
        jobs as f64 / insert_time.as_secs_f64()
    );

    // 4. Work them with a pool, showing progress.
    let mut builder = WorkerPool::builder(client.clone());
    if let Some(n) = threads {
        builder = builder.threads(n);
    }
    if let Some(n) = prefetch {
        builder = builder.prefetch(n);
    }
    let pool = builder.build()?;
    // Ctrl-C: stop grabbing, finish running jobs, give the rest back (a second one exits).
    schwartz_worker::shutdown_on_signals(&pool.shutdown_handle())?;
    println!("working with {} threads ...", pool.threads());
    let bar = ProgressBar::new(jobs);
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} jobs  {per_sec}  eta {eta}")?
            .progress_chars("=> "),
    );
    let store = client.store(&client.store_hashes()[0]).ok_or("store")?;
    let watcher = {
        let bar = bar.clone();
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            while !bar.is_finished() {
                if let Ok(stats) = store.stats() {
                    bar.set_position(jobs.saturating_sub(stats.jobs));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let summary = pool.run_until_done()?;
    bar.set_position(jobs.saturating_sub(store.stats()?.jobs));
    bar.finish();
    let _ = watcher.join();

    // 5. The summary.
    println!();
    println!("jobs done:     {}", summary.completed);
    println!(
        "jobs retried:  {} (failed attempts that ran again)",
        summary.retried
    );
    println!("jobs failed:   {} (no retry left)", summary.failed);
    println!("left in queue: {}", store.stats()?.jobs);
    println!(
        "throughput:    {:.0} jobs/s ({} attempts in {:.2?})",
        summary.throughput(),
        summary.worked(),
        summary.elapsed
    );
    Ok(())
}
