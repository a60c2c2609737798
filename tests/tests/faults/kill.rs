//! Worker processes SIGKILLed mid-drain, 20 times; then one more drains the queue: every job
//! runs at least once, none is left, and re-runs stay within what the killed processes had
//! in flight. Also the worker process itself (`worker_main`), shared with `shutdown.rs`.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use schwartz_core::{QueuedJob, WorkError, Worker};
use schwartz_worker::{default_prefetch, WorkerPool};

use super::{backends, client, figures, insert_range, left_and_leased, serial, wait_for, FUNC};

const JOBS: u64 = 3_000;
const KILLS: usize = 20;
pub(crate) const THREADS: usize = 4;
/// How long the kill test's jobs run.
const JOB_TIME: Duration = Duration::from_millis(5);
/// The worker process's completion batching delay.
const COMPLETION_DELAY: Duration = Duration::from_millis(20);
/// The most jobs a killed worker process can have run without their completion written,
/// generously: every job it may hold grabbed (twice the pool's default prefetch bound: the
/// buffer, and the threads' chunks, running ones included), and those finished within one
/// completion delay.
const IN_FLIGHT: usize = 2 * default_prefetch(THREADS)
    + THREADS * (COMPLETION_DELAY.as_millis() / JOB_TIME.as_millis() + 1) as usize;

/// What a worker process does (passed in `SCHWARTZ_FAULTS_WORKER`, tab-separated).
pub(crate) struct Spec {
    pub(crate) url: String,
    pub(crate) runlog: String,
    pub(crate) grab_for: Duration,
    pub(crate) sleep: Duration,
    /// A job argument that runs `slow` instead of `sleep`.
    pub(crate) slow: Option<(u64, Duration)>,
    pub(crate) grace: Duration,
}

impl Spec {
    fn encode(&self) -> String {
        let (slow_arg, slow_ms) = self.slow.map_or((u64::MAX, 0), |(a, d)| (a, d.as_millis()));
        format!(
            "{}\t{}\t{}\t{}\t{slow_arg}\t{slow_ms}\t{}",
            self.url,
            self.runlog,
            self.grab_for.as_millis(),
            self.sleep.as_millis(),
            self.grace.as_millis()
        )
    }

    /// Starts a worker process (this test binary, running only `worker_process`).
    pub(crate) fn spawn(&self) -> Child {
        Command::new(std::env::current_exe().expect("current exe"))
            .args([
                "worker_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SCHWARTZ_FAULTS_WORKER", self.encode())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn worker process")
    }
}

/// Appends each job's argument to the run log as it starts, then sleeps.
struct LoggingWorker {
    log: std::sync::Mutex<std::fs::File>,
    grab_for: Duration,
    sleep: Duration,
    slow: Option<(u64, Duration)>,
}

impl Worker for LoggingWorker {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        self.log
            .lock()
            .unwrap()
            .write_all(format!("{n}\n").as_bytes())?;
        match self.slow {
            Some((arg, d)) if arg == n => std::thread::sleep(d),
            _ => std::thread::sleep(self.sleep),
        }
        Ok(())
    }
    fn grab_for(&self) -> Duration {
        self.grab_for
    }
}

/// The worker process: a pool of [`THREADS`] on one store until SIGTERM.
pub(crate) fn worker_main(spec: &str) {
    let f: Vec<&str> = spec.split('\t').collect();
    let ms = |i: usize| Duration::from_millis(f[i].parse().expect("number"));
    let slow_arg: u64 = f[4].parse().expect("number");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(f[1])
        .expect("run log");
    let store = super::store(f[0]);
    let client = client(vec![store]);
    client
        .can_do(
            FUNC,
            LoggingWorker {
                log: std::sync::Mutex::new(log),
                grab_for: ms(2),
                sleep: ms(3),
                slow: (slow_arg != u64::MAX).then(|| (slow_arg, ms(5))),
            },
        )
        .expect("can_do");
    let pool = WorkerPool::builder(client)
        .threads(THREADS)
        .poll_interval(Duration::from_millis(100))
        .shutdown_grace(ms(6))
        .completion_batch(1000, COMPLETION_DELAY)
        .build()
        .expect("pool");
    schwartz_worker::shutdown_on_signals(&pool.shutdown_handle()).expect("signals");
    let summary = pool.run().expect("pool run");
    eprintln!("worker process {}: {summary:?}", std::process::id());
}

/// Runs per job argument, from a run log.
pub(crate) fn runs(log: &std::path::Path) -> std::collections::HashMap<u64, u32> {
    let mut m = std::collections::HashMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        if let Ok(n) = line.trim().parse::<u64>() {
            *m.entry(n).or_default() += 1;
        }
    }
    m
}

/// SIGTERM, then waits up to `limit` for the process to exit (SIGKILL after that).
pub(crate) fn terminate(child: &mut Child, limit: Duration) -> bool {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[test]
fn sigkill_workers_mid_drain() {
    let test = "sigkill_workers_mid_drain";
    let _serial = serial();
    for b in backends(test, false) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("runs.log");
        let client = client(vec![Arc::clone(&b.store)]);
        insert_range(&client, 0, JOBS);
        let spec = Spec {
            url: b.url.clone().expect("url"),
            runlog: log.display().to_string(),
            grab_for: Duration::from_secs(2),
            sleep: JOB_TIME,
            slow: None,
            grace: Duration::from_secs(5),
        };
        let lines = || runs(&log).values().map(|&c| c as usize).sum::<usize>();
        for _ in 0..KILLS {
            let before = lines();
            let mut child = spec.spawn();
            // Kill once it has run some jobs (or after 5 s if it never gets going).
            wait_for(Duration::from_secs(5), || lines() >= before + 40);
            let _ = child.kill();
            let _ = child.wait();
        }
        let mut last = spec.spawn();
        let drained = wait_for(Duration::from_secs(180), || {
            left_and_leased(&b.store).0 == 0
        });
        let exited = terminate(&mut last, Duration::from_secs(30));
        let runs = runs(&log);
        let (left, leased) = left_and_leased(&b.store);
        let lost = (0..JOBS).filter(|n| !runs.contains_key(n)).count();
        let twice = runs.values().filter(|&&c| c > 1).count();
        let reruns: usize = runs.values().map(|&c| c as usize - 1).sum();
        eprintln!("{test} on {}: {reruns} re-runs after {KILLS} kills", b.name);
        figures(test, b.name, lost, twice, left, Some(leased), &[]);
        assert!(
            drained,
            "{test} on {}: {left} jobs left after 180 s",
            b.name
        );
        assert!(
            exited,
            "{test} on {}: the last worker ignored SIGTERM",
            b.name
        );
        assert_eq!(lost, 0, "{test} on {}: jobs never run", b.name);
        let bound = KILLS * IN_FLIGHT;
        assert!(
            reruns <= bound,
            "{test} on {}: {reruns} re-runs exceed {bound} ({KILLS} kills x in-flight bound)",
            b.name
        );
    }
}
