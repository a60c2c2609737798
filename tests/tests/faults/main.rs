//! The fault suite (issue 14): worker processes killed mid-drain, database servers restarted
//! and hung mid-drain, a short lease on a long job, shutdown with a job that outlasts the
//! grace period. PostgreSQL and MariaDB run as private servers the tests start themselves
//! (`schwartz_tests::servers`); the shared servers are never stopped. Each test prints one line of
//! figures per backend:
//!
//! `FIGURES test=<name> backend=<b> lost=<n> run_twice=<n> left=<n> leased_after_stop=<n>
//! recovery=<p50>/<max>`
//!
//! The lines are also appended to `target/tmp/faults-figures.txt`.
//!
//! Without the server programs a test that needs them prints `SKIPPED` and passes, except
//! under `CI=true`, where it fails.

// Each fault test is a module of this one test binary; the worker process the kill and
// SIGTERM tests start is this binary too (see `worker_process`).
mod hung;
mod kill;
mod lease;
mod restart;
mod shutdown;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use schwartz_core::store::{JobQuery, Store};
use schwartz_core::{Client, Job, Pruning, QueuedJob, WorkError, Worker};
use schwartz_diesel::DieselStore;
use schwartz_tests::servers;

/// The function every fault job runs under.
pub(crate) const FUNC: &str = "faults.job";

/// Only one fault test at a time: they start servers and measure recovery times on a
/// shared machine.
static SERIAL: Mutex<()> = Mutex::new(());

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    let _ = env_logger::builder().is_test(true).try_init();
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a private server, or skips (returns `None`): when `SCHWARTZ_BACKENDS` leaves its
/// backend out, or (failing under `CI=true`) when it cannot be started.
pub(crate) fn private(test: &str, kind: servers::Kind) -> Option<servers::Server> {
    let backend = match kind {
        servers::Kind::Postgres => "postgres",
        servers::Kind::Mariadb => "mysql",
    };
    if !schwartz_testkit::env::backend_selected(backend) {
        eprintln!("\nSKIPPED: {test}: SCHWARTZ_BACKENDS leaves out {backend}\n");
        return None;
    }
    match servers::Server::start(kind) {
        Ok(s) => Some(s),
        Err(e) => {
            schwartz_testkit::env::skip(test, &format!("private {} server: {e}", kind.name()));
            None
        }
    }
}

/// A migrated store on `url`.
pub(crate) fn store(url: &str) -> Arc<dyn Store> {
    let s = DieselStore::builder(url).build().expect("store");
    s.run_migrations().expect("migrations");
    Arc::new(s)
}

/// A client on these stores, pruning off.
pub(crate) fn client(stores: Vec<Arc<dyn Store>>) -> Client {
    Client::builder()
        .stores(stores)
        .pruning(Pruning::Off)
        .build()
        .expect("client")
}

/// Who ran what, when.
#[derive(Default)]
pub(crate) struct Tally {
    runs: Mutex<HashMap<u64, u32>>,
    times: Mutex<Vec<Instant>>,
}

impl Tally {
    pub(crate) fn record(&self, n: u64) {
        *self.runs.lock().unwrap().entry(n).or_default() += 1;
        self.times.lock().unwrap().push(Instant::now());
    }
    /// Jobs run at least once.
    pub(crate) fn distinct(&self) -> usize {
        self.runs.lock().unwrap().len()
    }
    /// Jobs run more than once.
    pub(crate) fn twice(&self) -> usize {
        self.runs
            .lock()
            .unwrap()
            .values()
            .filter(|&&c| c > 1)
            .count()
    }
    pub(crate) fn runs_of(&self, n: u64) -> u32 {
        self.runs.lock().unwrap().get(&n).copied().unwrap_or(0)
    }
    /// The first run that started at or after `t`.
    pub(crate) fn first_after(&self, t: Instant) -> Option<Instant> {
        self.times
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|&x| x >= t)
            .min()
    }
    pub(crate) fn runs_between(&self, a: Instant, b: Instant) -> usize {
        self.times
            .lock()
            .unwrap()
            .iter()
            .filter(|&&x| x >= a && x < b)
            .count()
    }
}

/// A worker that records its argument, sleeps, and completes.
pub(crate) struct Recorder {
    pub(crate) tally: Arc<Tally>,
    pub(crate) sleep: Duration,
    pub(crate) grab_for: Duration,
}

impl Worker for Recorder {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        let n: u64 = job.arg()?;
        self.tally.record(n);
        std::thread::sleep(self.sleep);
        Ok(())
    }
    fn grab_for(&self) -> Duration {
        self.grab_for
    }
}

/// Inserts jobs with arguments `from..to`, 1,000 per call.
pub(crate) fn insert_range(client: &Client, from: u64, to: u64) {
    let mut n = from;
    while n < to {
        let end = (n + 1000).min(to);
        let jobs = (n..end)
            .map(|i| Job::new(FUNC).arg(&i))
            .collect::<Result<Vec<_>, _>>()
            .expect("job");
        client.insert_jobs(jobs).expect("insert");
        n = end;
    }
}

/// Rows left in the job table, and how many of them are leased now.
pub(crate) fn left_and_leased(store: &Arc<dyn Store>) -> (usize, usize) {
    let now = store.server_time().expect("server time");
    let funcid = store.funcid(FUNC).expect("funcid");
    let rows = store
        .select_jobs(&JobQuery {
            funcids: vec![funcid],
            limit: 10_000_000,
            ..JobQuery::default()
        })
        .expect("select");
    let leased = rows.iter().filter(|r| r.grabbed_until > now).count();
    (rows.len(), leased)
}

/// Waits until `cond` holds, up to `limit`; returns whether it did.
pub(crate) fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Prints one line of figures (collected for the table).
#[allow(clippy::too_many_arguments)]
pub(crate) fn figures(
    test: &str,
    backend: &str,
    lost: usize,
    twice: usize,
    left: usize,
    leased_after_stop: Option<usize>,
    recovery: &[Duration],
) {
    let leased = leased_after_stop.map_or("-".to_string(), |n| n.to_string());
    let recovery = if recovery.is_empty() {
        "-".to_string()
    } else {
        let mut r = recovery.to_vec();
        r.sort();
        format!(
            "p50={:.2}s max={:.2}s",
            r[r.len() / 2].as_secs_f64(),
            r[r.len() - 1].as_secs_f64()
        )
    };
    let line = format!(
        "FIGURES test={test} backend={backend} lost={lost} run_twice={twice} left={left} \
         leased_after_stop={leased} recovery={recovery}"
    );
    println!("{line}");
    let _ = std::io::stdout().flush();
    // Also kept where a passing test's captured output is not needed to see them.
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-figures.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Not a test of its own: the worker process that `kill.rs` and `shutdown.rs` start (this
/// binary again, with `SCHWARTZ_FAULTS_WORKER` set). Without that variable it returns at
/// once.
#[test]
fn worker_process() {
    if let Ok(spec) = std::env::var("SCHWARTZ_FAULTS_WORKER") {
        kill::worker_main(&spec);
    }
}

/// One store under test, with what keeps it alive.
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    pub(crate) store: Arc<dyn Store>,
    /// `None` for the in-memory store.
    pub(crate) url: Option<String>,
    _server: Option<servers::Server>,
    _dir: Option<tempfile::TempDir>,
}

/// The in-memory store (when `memory`), a SQLite file, and private PostgreSQL and MariaDB
/// servers (skipped when missing, see [`private`]).
pub(crate) fn backends(test: &str, memory: bool) -> Vec<Backend> {
    let mut v = Vec::new();
    if memory {
        v.push(Backend {
            name: "memory",
            store: Arc::new(schwartz_memory::MemoryStore::new()),
            url: None,
            _server: None,
            _dir: None,
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    v.push(Backend {
        name: "sqlite",
        store: store(&url),
        url: Some(url),
        _server: None,
        _dir: Some(dir),
    });
    for kind in [servers::Kind::Postgres, servers::Kind::Mariadb] {
        if let Some(server) = private(test, kind) {
            let url = server.url();
            v.push(Backend {
                name: kind.name(),
                store: store(&url),
                url: Some(url),
                _server: Some(server),
                _dir: None,
            });
        }
    }
    v
}
