//! The long drain (PostgreSQL): `--long-jobs` no-op jobs (default 1,000,000) drained by a
//! pool of 2 in a process that runs only that drain, so its resident memory is the pool's.
//!
//! The bench (the parent) makes a fresh database and inserts the jobs; then it runs itself
//! again as `bench --scenario long-drain --long-jobs N`, with the database's URL in
//! `SCHWARTZ_BENCH_DB_URL` (not on the command line, where `ps` would show a password).
//! The child opens the store (8 connections, as every drain), drains with a `WorkerPool` of
//! 2 threads, notes when each tenth of the jobs is done, checks that every job ran exactly
//! once and none is left, and prints one line `LONG_DRAIN {json}`: the tenths, its resident
//! memory before the pool started and its peak (`VmHWM`, the kernel's high-water mark of the
//! whole child, and the largest `VmRSS` sampled every 2 ms while the pool ran), and how many
//! of the machine's cores were busy during each tenth (`/proc/stat`: on a shared machine a
//! tenth is slower when other processes take the CPU, whatever the queue does).
//!
//! The row compares the last tenth's speed with the first's (dead rows of completed jobs
//! must not slow the claim; target 90%) and the child's peak against 64 MiB.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use schwartz_core::store::Store;
use schwartz_core::{Client, Pruning};
use schwartz_diesel::DieselStore;
use serde::{Deserialize, Serialize};

use crate::{
    cpu, insert_batches, noop_client, pool_builder, rate_row, verify, Backend, BoxError, Row, Seen,
    PREFETCH,
};

/// The `--scenario` value of the child.
pub const SCENARIO: &str = "long-drain";
/// How the parent hands the child its database.
const DB_URL_ENV: &str = "SCHWARTZ_BENCH_DB_URL";
/// The prefix of the child's report line on its stdout.
const REPORT: &str = "LONG_DRAIN ";
/// Pool threads.
const THREADS: usize = 2;
/// The targets: the last tenth at least this fraction of the first's speed ...
const LAST_OF_FIRST: f64 = 0.90;
/// ... and the child's peak resident memory below this.
const RSS_MIB: f64 = 64.0;

/// What the child measured.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    jobs: u64,
    /// Seconds from the pool's start until each tenth of the jobs was done (10 values).
    marks: Vec<f64>,
    /// Seconds the pool ran.
    elapsed: f64,
    /// `VmRSS` with the store open and the client built, before the pool started (KiB).
    rss_before_kib: u64,
    /// The largest `VmRSS` sampled while the pool ran (KiB).
    rss_sampled_kib: u64,
    /// `VmHWM` at the end: the child's peak resident memory (KiB).
    hwm_kib: u64,
    /// Cores of the machine busy during each tenth (this drain, its database server and
    /// whatever else runs on the machine).
    busy: Vec<f64>,
    /// Empty when every job ran exactly once and none is left; else what went wrong.
    problem: String,
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`); 0 where unknown.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Jobs per second of each tenth, from the times each tenth was done.
fn tenth_rates(marks: &[f64], tenth: u64) -> Vec<f64> {
    let mut start = 0.0;
    marks
        .iter()
        .map(|&end| {
            let rate = tenth as f64 / (end - start).max(1e-9);
            start = end;
            rate
        })
        .collect()
}

/// The parent's side: a fresh database with `n` jobs, the child that drains them, the row.
pub fn row(backend: &Backend, n: u64, name: &str) -> Result<Row, BoxError> {
    let fresh = backend.fresh()?;
    let url = fresh
        .url
        .clone()
        .ok_or("the long drain needs a database URL")?;
    let inserter = Client::builder()
        .store(Arc::clone(&fresh.store))
        .pruning(Pruning::Off)
        .build()?;
    let t0 = Instant::now();
    insert_batches(&inserter, n)?;
    eprintln!(
        "  long drain: {n} jobs inserted by the parent in {:.1}s; the child drains them",
        t0.elapsed().as_secs_f64()
    );
    drop(inserter);

    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--scenario", SCENARIO, "--long-jobs", &n.to_string()]);
    if let Some(&p) = PREFETCH.get() {
        let p = if p == usize::MAX {
            "unbounded".to_string()
        } else {
            p.to_string()
        };
        cmd.args(["--prefetch", &p]);
    }
    let out = cmd
        .env(DB_URL_ENV, &url)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the long drain's child process: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Report = match stdout.lines().find_map(|l| l.strip_prefix(REPORT)) {
        Some(json) => serde_json::from_str(json)
            .map_err(|e| format!("the child's report {json:?} does not parse: {e}"))?,
        None => {
            return Err(format!(
                "the long drain's child ({}) reported nothing; its stdout: {stdout:?}",
                out.status
            )
            .into())
        }
    };
    if report.marks.len() != 10 || report.busy.len() != 10 {
        return Err(format!("the child reported {} tenths, not 10", report.marks.len()).into());
    }

    let rates = tenth_rates(&report.marks, (n / 10).max(1));
    let (first, last) = (rates[0], rates[9]);
    let ratio = last / first.max(1e-9);
    let slowest = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let fastest = rates.iter().copied().fold(0.0, f64::max);
    let peak = mib(report.hwm_kib);
    let mut missed = Vec::new();
    if ratio < LAST_OF_FIRST {
        missed.push(format!(
            "last tenth {:.0}% of the first (< {:.0}%)",
            100.0 * ratio,
            100.0 * LAST_OF_FIRST
        ));
    }
    if peak >= RSS_MIB {
        missed.push(format!("peak RSS {peak:.1} MiB (>= {RSS_MIB:.0} MiB)"));
    }
    let check = if !report.problem.is_empty() {
        Err(report.problem.clone())
    } else if !out.status.success() {
        Err(format!("the child exited with {}", out.status))
    } else {
        Ok(())
    };
    let mut row = rate_row(
        name,
        n,
        Duration::from_secs_f64(report.elapsed),
        &format!(
            "last >= {:.0}% of first, child RSS < {RSS_MIB:.0} MiB",
            100.0 * LAST_OF_FIRST
        ),
        check,
    );
    row.figure = format!(
        "{:.0}/s; first tenth {first:.0}/s, last {last:.0}/s ({:.0}%), all tenths \
         {slowest:.0}-{fastest:.0}/s; machine busy {:.1} and {:.1} of {:.0} cores in the \
         first and last tenth; child peak RSS {peak:.1} MiB (VmHWM; {:.1} before the pool; \
         the parent inserted, the child only drained)",
        n as f64 / report.elapsed.max(1e-9),
        100.0 * ratio,
        report.busy[0],
        report.busy[9],
        cpu::cores(),
        mib(report.rss_before_kib),
    );
    if row.check == "ok" {
        row.check = if missed.is_empty() {
            "ok; targets met".to_string()
        } else {
            format!("ok; target missed: {}", missed.join(", "))
        };
    }
    Ok(row)
}

/// The child's side (`--scenario long-drain`): drains the database of
/// `SCHWARTZ_BENCH_DB_URL`, which holds `n` no-op jobs, and prints its report.
pub fn child(n: u64) -> Result<(), BoxError> {
    let url = std::env::var(DB_URL_ENV).map_err(|_| {
        format!("{DB_URL_ENV} is not set: `--scenario {SCENARIO}` is run by the bench itself")
    })?;
    let store: Arc<dyn Store> = Arc::new(DieselStore::builder(&url).pool_size(8).build()?);
    let seen = Seen::new(n);
    let client = noop_client(Arc::clone(&store), &seen)?;
    let pool = pool_builder(&client, THREADS).build()?;
    let rss_before_kib = status_kib("VmRSS");
    let tenth = (n / 10).max(1);
    let t0 = Instant::now();
    let runner = std::thread::spawn(move || pool.run_until_done());
    let mut marks: Vec<f64> = Vec::new();
    let mut ticks = vec![cpu::machine_ticks()];
    let mut rss_sampled_kib = 0;
    while !runner.is_finished() {
        rss_sampled_kib = rss_sampled_kib.max(status_kib("VmRSS"));
        let done = seen.1.load(Ordering::Relaxed);
        while marks.len() < 10 && done >= tenth * (marks.len() as u64 + 1) {
            marks.push(t0.elapsed().as_secs_f64());
            ticks.push(cpu::machine_ticks());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let summary = runner.join().map_err(|_| "the pool thread panicked")??;
    let elapsed = t0.elapsed().as_secs_f64();
    while marks.len() < 10 {
        marks.push(elapsed);
        ticks.push(cpu::machine_ticks());
    }
    let busy = ticks
        .windows(2)
        .map(|w| cpu::busy_between(w[0], w[1]))
        .collect();
    let problem = if summary.errors + summary.lease_lost + summary.failed > 0 {
        format!("pool reported problems: {summary}")
    } else {
        verify(&store, &seen).err().unwrap_or_default()
    };
    let report = Report {
        jobs: n,
        marks,
        elapsed,
        rss_before_kib,
        rss_sampled_kib,
        hwm_kib: status_kib("VmHWM"),
        busy,
        problem,
    };
    let per_tenth: Vec<String> = tenth_rates(&report.marks, tenth)
        .iter()
        .zip(&report.busy)
        .map(|(r, b)| format!("{r:.0} ({b:.1})"))
        .collect();
    eprintln!(
        "  long drain child: {n} jobs in {elapsed:.1}s; jobs/s by tenth (cores busy): {}; \
         VmHWM {:.1} MiB, largest VmRSS sampled {:.1} MiB, {:.1} MiB before the pool",
        per_tenth.join(" "),
        mib(report.hwm_kib),
        mib(report.rss_sampled_kib),
        mib(report.rss_before_kib)
    );
    println!("{REPORT}{}", serde_json::to_string(&report)?);
    Ok(())
}
