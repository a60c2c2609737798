//! A database that goes away mid-run.
//!
//! The test starts a private PostgreSQL server (initdb into a temporary directory, its own
//! port and socket directory), gives a `Client` two stores, that server and a SQLite file,
//! and inserts jobs into both. Then it stops PostgreSQL and shows that inserts and work go
//! on with the SQLite store while the client reports PostgreSQL unavailable and marks it
//! dead; starts PostgreSQL again, moves the client's `TimeShift` past `retry_seconds` (no
//! sleeping), and shows the jobs left on PostgreSQL get worked: every job inserted is worked
//! exactly once and nothing is pending at the end.
//!
//! Runs unless `SCHWARTZ_BACKENDS` is set without both `postgres` and `sqlite`. The SQLite
//! database is the testkit's fixture; the PostgreSQL server is private to this test (it is
//! stopped and started), so it is made here.
//! Needs the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`, Debian package
//! `postgresql`); as root they run as the `postgres` user through `runuser`. When they are
//! missing the test prints `SKIPPED: <reason>` and passes; with `CI=true` it fails.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use schwartz_core::store::Store;
use schwartz_core::testing::TimeShift;
use schwartz_core::{Client, Error, Job, JobHandle, QueuedJob, WorkError};
use schwartz_diesel::DieselStore;
use schwartz_testkit::{env, fixtures, Backend as _};

const FUNC: &str = "failover.job";
/// How long a dead store stays dead.
const RETRY_SECONDS: Duration = Duration::from_secs(60);
/// Bound on any one command or client call.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Skips the test (loudly), or fails it under `CI=true` (see `schwartz_testkit::env`).
fn skip(test: &str, reason: &str) {
    env::skip(test, reason);
}

/// Runs `f` on another thread; panics if it takes longer than `limit`.
fn bounded<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what} did not return within {limit:?}"),
    }
}

/// Runs a command to completion within `STEP_TIMEOUT`, output to `log`; returns success.
fn run_logged(mut cmd: Command, log: &Path) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("open {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = text
                    .chars()
                    .rev()
                    .take(3000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                return Err(format!(
                    "{shown} failed ({status}); log {}:\n{tail}",
                    log.display()
                ));
            }
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{shown} did not finish within {STEP_TIMEOUT:?}; killed"
                ));
            }
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    }
}

fn output_of(prog: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `$SCHWARTZ_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`, if it has
/// initdb, pg_ctl and postgres.
fn pg_bin_dir() -> Option<PathBuf> {
    let complete = |bin: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|p| bin.join(p).is_file())
    };
    if let Some(dir) = std::env::var_os("SCHWARTZ_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| complete(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A private PostgreSQL server in a temporary directory; stopped when dropped.
struct PrivatePg {
    bin: PathBuf,
    data: PathBuf,
    sockets: PathBuf,
    log: PathBuf,
    port: u16,
    /// Run the server programs as the `postgres` user (we are root).
    as_postgres: bool,
    running: bool,
    dir: tempfile::TempDir,
}

impl PrivatePg {
    /// initdb + start. `Err(reason)` when the binaries or the postgres user are missing.
    fn launch() -> Result<Result<PrivatePg, String>, String> {
        let bin = pg_bin_dir().ok_or(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in $SCHWARTZ_PG_BIN or \
             /usr/lib/postgresql/*/bin (Debian package postgresql)",
        )?;
        let root = output_of("id", &["-u"]).as_deref() == Some("0");
        if root {
            if output_of("id", &["-u", "postgres"]).is_none() {
                return Err(
                    "running as root and there is no postgres user to run the server as".into(),
                );
            }
            if output_of("runuser", &["--help"]).is_none() {
                return Err("running as root and runuser is not available".into());
            }
        }
        Ok(Self::init(bin, root))
    }

    fn init(bin: PathBuf, as_postgres: bool) -> Result<PrivatePg, String> {
        let dir = tempfile::Builder::new()
            .prefix("schwartz-failover-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let data = dir.path().join("data");
        let sockets = dir.path().join("sockets");
        let log = dir.path().join("server.log");
        std::fs::create_dir(&sockets).map_err(|e| e.to_string())?;
        File::create(&log).map_err(|e| e.to_string())?;
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown -R postgres {} failed", dir.path().display()));
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let mut pg = PrivatePg {
            bin,
            data,
            sockets,
            log,
            port,
            as_postgres,
            running: false,
            dir,
        };
        let mut initdb = pg.command("initdb");
        initdb.arg("-D").arg(&pg.data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run_logged(initdb, &pg.log)?;
        pg.start()?;
        Ok(pg)
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.current_dir(self.dir.path());
        cmd
    }

    fn start(&mut self) -> Result<(), String> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -k {} -h 127.0.0.1 -c fsync=off -c max_connections=50",
                self.port,
                self.sockets.display()
            ));
        run_logged(cmd, &self.dir.path().join("pg_ctl.log"))?;
        self.running = true;
        Ok(())
    }

    fn stop(&mut self, mode: &str) -> Result<(), String> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-m", mode]);
        run_logged(cmd, &self.dir.path().join("pg_ctl.log"))?;
        self.running = false;
        Ok(())
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        if !self.running {
            return;
        }
        if let Err(e) = self.stop("immediate") {
            eprintln!("warning: stopping the private PostgreSQL failed: {e}");
            // Last resort: kill the postmaster named in its pid file.
            if let Ok(pidfile) = std::fs::read_to_string(self.data.join("postmaster.pid")) {
                if let Some(pid) = pidfile
                    .lines()
                    .next()
                    .map(str::trim)
                    .filter(|p| p.parse::<u32>().is_ok())
                {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
        }
    }
}

#[test]
fn postgres_goes_away_and_comes_back() {
    const TEST: &str = "postgres_goes_away_and_comes_back";
    if !(env::backend_selected("postgres") && env::backend_selected("sqlite")) {
        eprintln!("SKIPPED: {TEST}: needs postgres and sqlite in SCHWARTZ_BACKENDS");
        return;
    }
    let mut pg = match PrivatePg::launch() {
        Ok(Ok(pg)) => pg,
        Ok(Err(e)) => panic!("starting a private PostgreSQL failed: {e}"),
        Err(reason) => return skip(TEST, &reason),
    };
    eprintln!(
        "private PostgreSQL on port {} in {}",
        pg.port,
        pg.dir.path().display()
    );

    let pg_store = DieselStore::builder(&pg.url())
        .pool_size(2)
        .connection_timeout(Duration::from_secs(2))
        .build()
        .expect("DieselStore for the private PostgreSQL");
    pg_store
        .run_migrations()
        .expect("migrations on the private PostgreSQL");
    let pg_store: Arc<dyn Store> = Arc::new(pg_store);

    let sqlite_db = fixtures::Sqlite
        .fresh(TEST)
        .unwrap_or_else(|e| panic!("{TEST}: a SQLite database: {e}"));
    let sqlite_store = Arc::clone(&sqlite_db.store);

    let shift = TimeShift::new();
    let client = Client::builder()
        .store(pg_store.clone())
        .store(sqlite_store.clone())
        .retry_seconds(RETRY_SECONDS)
        .time_shift(shift.clone())
        .build()
        .expect("client with two stores");
    // A second client on PostgreSQL alone, to put jobs there for certain.
    let pg_client = Client::builder()
        .store(pg_store.clone())
        .retry_seconds(RETRY_SECONDS)
        .time_shift(shift.clone())
        .build()
        .expect("client on PostgreSQL");
    let pg_hash = pg_client.store_hashes()[0].clone();
    let sqlite_hash = client
        .store_hashes()
        .into_iter()
        .find(|h| *h != pg_hash)
        .expect("the SQLite store's hash");
    assert_eq!(client.store_hashes().len(), 2);
    assert!(
        client.store_hashes().contains(&pg_hash),
        "same store, same hash in both clients"
    );

    let counts: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
    {
        let counts = counts.clone();
        client
            .can_do(FUNC, move |job: &QueuedJob| -> Result<(), WorkError> {
                *counts
                    .lock()
                    .unwrap()
                    .entry(job.handle().to_string())
                    .or_insert(0) += 1;
                Ok(())
            })
            .expect("can_do");
    }
    let work_all = |what: &str| -> usize {
        let c = client.clone();
        bounded(what, STEP_TIMEOUT, move || c.work_until_done())
            .unwrap_or_else(|e| panic!("{what}: work_until_done failed: {e}"))
    };
    let mut inserted: Vec<JobHandle> = Vec::new();

    // 1. Both stores up: jobs on PostgreSQL for certain, and some anywhere.
    for i in 0..10 {
        let h = pg_client
            .insert(Job::new(FUNC).raw_arg(format!("pg-{i}")))
            .expect("insert on PostgreSQL");
        assert_eq!(h.store(), &pg_hash);
        inserted.push(h);
    }
    for i in 0..10 {
        inserted.push(
            client
                .insert(Job::new(FUNC).raw_arg(format!("any-{i}")))
                .expect("insert, both up"),
        );
    }
    let on_pg = |hs: &[JobHandle]| hs.iter().filter(|h| h.store() == &pg_hash).count();
    let pg_jobs_before = on_pg(&inserted);
    assert_eq!(
        pg_store.stats().expect("stats").jobs as usize,
        pg_jobs_before
    );

    // 2. PostgreSQL goes away.
    pg.stop("fast").expect("stopping PostgreSQL");
    let started = Instant::now();
    match pg_store.server_time() {
        Err(Error::Unavailable { store, message }) => {
            eprintln!("PostgreSQL down, as expected: {store}: {message}");
            assert!(!store.contains("password"), "{store}");
        }
        other => panic!("the stopped PostgreSQL store: expected Error::Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "failing took {:?}",
        started.elapsed()
    );
    match pg_client.insert(Job::new(FUNC)) {
        Err(Error::Unavailable { .. } | Error::NoStore(_)) => {}
        other => panic!("insert with PostgreSQL as the only store while it is down: expected Unavailable or NoStore, got {other:?}"),
    }

    // Inserts go on, into SQLite.
    for i in 0..10 {
        let c = client.clone();
        let h = bounded("insert during the outage", STEP_TIMEOUT, move || {
            c.insert(Job::new(FUNC).raw_arg(format!("outage-{i}")))
        })
        .expect("insert while PostgreSQL is down must fail over to SQLite");
        assert_eq!(h.store(), &sqlite_hash, "job inserted during the outage");
        inserted.push(h);
    }
    // Work goes on, on SQLite; PostgreSQL is marked dead.
    let sqlite_jobs = inserted.len() - pg_jobs_before;
    let worked = work_all("work during the outage");
    assert_eq!(
        worked, sqlite_jobs,
        "jobs worked during the outage (all of SQLite's)"
    );
    assert!(
        client.is_dead(&pg_hash),
        "the client must mark PostgreSQL dead"
    );
    assert!(!client.is_dead(&sqlite_hash));
    assert_eq!(sqlite_store.stats().expect("stats").jobs, 0);
    {
        let counts = counts.lock().unwrap();
        for h in inserted.iter().filter(|h| h.store() == &pg_hash) {
            assert!(
                !counts.contains_key(&h.to_string()),
                "{h} on the stopped PostgreSQL was worked"
            );
        }
    }
    match client.server_time(&pg_hash) {
        Err(e) => eprintln!("client.server_time(PostgreSQL) during the outage: {e}"),
        Ok(t) => panic!("client.server_time of the stopped PostgreSQL returned {t}"),
    }

    // 3. PostgreSQL comes back; the client leaves it alone until retry_seconds have passed.
    pg.start().expect("restarting PostgreSQL");
    assert_eq!(
        pg_store
            .stats()
            .expect("the store reconnects once the server is back")
            .jobs as usize,
        pg_jobs_before,
        "jobs on PostgreSQL survived the restart"
    );
    assert!(
        client.is_dead(&pg_hash),
        "still dead before retry_seconds have passed"
    );
    assert_eq!(
        work_all("work before the retry time"),
        0,
        "PostgreSQL is skipped while marked dead"
    );

    shift.advance(RETRY_SECONDS + Duration::from_secs(1));
    assert!(
        !client.is_dead(&pg_hash),
        "revived once retry_seconds have passed (by the time shift)"
    );
    let worked = work_all("work after the retry time");
    assert_eq!(
        worked, pg_jobs_before,
        "the jobs left on PostgreSQL get worked"
    );

    // And PostgreSQL takes new jobs again.
    let h = pg_client
        .insert(Job::new(FUNC).raw_arg("after"))
        .expect("insert on PostgreSQL after the restart");
    inserted.push(h);
    assert_eq!(work_all("work the last job"), 1);

    // 4. Every job worked exactly once; nothing pending anywhere.
    let counts = counts.lock().unwrap().clone();
    for h in &inserted {
        assert_eq!(
            counts.get(&h.to_string()),
            Some(&1),
            "job {h} worked {:?} times",
            counts.get(&h.to_string())
        );
        assert!(
            !client.is_pending(h).expect("is_pending"),
            "{h} still pending"
        );
    }
    assert_eq!(
        counts.len(),
        inserted.len(),
        "worked jobs nobody inserted: {counts:?}"
    );
    assert_eq!(pg_store.stats().expect("stats").jobs, 0);
    assert_eq!(sqlite_store.stats().expect("stats").jobs, 0);
    eprintln!(
        "failover: {} jobs ({} on PostgreSQL) each worked once",
        inserted.len(),
        on_pg(&inserted)
    );
}
