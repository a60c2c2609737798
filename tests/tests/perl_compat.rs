//! Compatibility with Perl TheSchwartz on a shared database.
//!
//! One test per (direction, backend), on SQLite, PostgreSQL and MySQL/MariaDB:
//!
//! * `perl_works_on_our_schema_*`: on a database created by our migrations, Perl TheSchwartz
//!   inserts jobs (scalar / no argument, uniqkeys), works them, retries a failure and keeps
//!   exit statuses; we check the rows, the error log and the exit statuses through our
//!   `Client` and `Store`.
//! * `rust_works_on_perl_schema_*`: on a database created by TheSchwartz's own schema files
//!   (MySQL `UNSIGNED` + `MEDIUMBLOB`, PostgreSQL tables without primary keys, the SQLite
//!   test schema without `note`), our `Client` inserts and works jobs, including a failure,
//!   a retry, a completion and exit statuses.
//! * `perl_scalar_args_to_rust_*`: scalar args inserted by Perl are read byte-exactly by a
//!   Rust worker through `QueuedJob::raw_arg`.
//! * `rust_raw_args_to_perl_*`: args inserted by Rust with `Job::raw_arg` are seen by a Perl
//!   worker as exactly those scalars.
//!
//! The Perl side is in `tests/perl/` (see its scripts' headers). Databases come from
//! `schwartz_testkit::fixtures` (empty, no tables): a temporary SQLite file; for PostgreSQL
//! and MySQL a uniquely named database on the server of `SCHWARTZ_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `SCHWARTZ_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/test`), dropped afterwards.
//!
//! `SCHWARTZ_BACKENDS` (comma-separated: sqlite,postgres,mysql; unset: all) selects backends.
//! When perl, TheSchwartz, a DBD driver or a database server is missing, a test prints
//! `SKIPPED: <reason>` to stderr and passes; with `CI=true` it fails instead.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use schwartz_core::store::Store;
use schwartz_core::{
    Client, Error, Job, JobHandle, JobId, QueuedJob, StoreHash, WorkError, Worker,
};
use schwartz_diesel::DieselStore;
use schwartz_testkit::{env, fixtures};

/// Longest a Perl script may run.
const PERL_TIMEOUT: Duration = Duration::from_secs(180);

/// How long a kept exit status lives, on both sides.
const KEEP_EXIT: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------------------
// Skipping
// ---------------------------------------------------------------------------------------

/// Whether `SCHWARTZ_BACKENDS` selects the backend (a deliberately deselected backend is
/// skipped even under `CI=true`).
fn selected(backend: Backend, test: &str) -> bool {
    let on = env::backend_selected(backend.name());
    if !on {
        eprintln!(
            "SKIPPED: {test}: {} is not in SCHWARTZ_BACKENDS",
            backend.name()
        );
    }
    on
}

/// Skips the test (loudly), or fails it under `CI=true` (see `schwartz_testkit::env`).
fn skip(test: &str, reason: &str) {
    env::skip(test, reason);
}

// ---------------------------------------------------------------------------------------
// Backends and databases
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    /// The DBI driver name.
    fn dbd(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "Pg",
            Backend::Mysql => "mysql",
        }
    }

    /// The name `SCHWARTZ_BACKENDS` knows it by.
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// The testkit fixture that makes its databases.
    fn fixture(self) -> Box<dyn schwartz_testkit::Backend> {
        match self {
            Backend::Sqlite => Box::new(fixtures::Sqlite),
            Backend::Postgres => Box::new(fixtures::Server::postgres()),
            Backend::Mysql => Box::new(fixtures::Server::mysql()),
        }
    }
}

/// `scheme://[user[:pass]@]host[:port][/db][?query]`, enough of it for test databases.
#[derive(Debug, Clone)]
struct ServerUrl {
    scheme: String,
    user: String,
    pass: Option<String>,
    host: String,
    port: Option<u16>,
    db: String,
    query: Option<String>,
}

impl ServerUrl {
    fn parse(url: &str) -> Result<ServerUrl, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?} is not a scheme://... URL"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_string())),
            None => (rest, None),
        };
        let (authority, db) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, pass) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (user.to_string(), Some(pass.to_string())),
                None => (u.to_string(), None),
            },
            None => (String::new(), None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("bad port in {url:?}"))?,
                ),
            ),
            None => (hostport.to_string(), None),
        };
        Ok(ServerUrl {
            scheme: scheme.to_string(),
            user,
            pass,
            host: if host.is_empty() {
                "127.0.0.1".into()
            } else {
                host
            },
            port,
            db: db.to_string(),
            query,
        })
    }

    /// The same server, database `db`.
    fn url_for(&self, db: &str) -> String {
        let mut s = format!("{}://", self.scheme);
        if !self.user.is_empty() {
            s.push_str(&self.user);
            if let Some(p) = &self.pass {
                s.push(':');
                s.push_str(p);
            }
            s.push('@');
        }
        s.push_str(&self.host);
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s.push('/');
        s.push_str(db);
        if let Some(q) = &self.query {
            s.push('?');
            s.push_str(q);
        }
        s
    }

    /// The DBI DSN of database `db` on this server (`None`: no database, for MySQL admin).
    fn perl_dsn(&self, backend: Backend, db: Option<&str>) -> String {
        let mut parts = Vec::new();
        match (backend, db) {
            (Backend::Postgres, Some(db)) => parts.push(format!("dbname={db}")),
            (Backend::Mysql, Some(db)) => parts.push(format!("database={db}")),
            _ => {}
        }
        parts.push(format!("host={}", self.host));
        if let Some(p) = self.port {
            parts.push(format!("port={p}"));
        }
        format!("dbi:{}:{}", backend.dbd(), parts.join(";"))
    }
}

/// A fresh database without tables for one test (a testkit fixture: dropped, or its
/// directory removed, afterwards), with what Perl's DBI needs to reach it.
struct TestDb {
    backend: Backend,
    /// For `DieselStore`.
    url: String,
    /// For Perl's DBI.
    dsn: String,
    user: String,
    pass: String,
    /// The tables' prefix (TheSchwartz's per-database `prefix`), `""` for none.
    prefix: String,
    /// Keeps the database until the test ends.
    _db: schwartz_testkit::TestDb,
}

impl TestDb {
    /// The same database with the tables prefixed by `prefix`, for both languages.
    fn with_prefix(mut self, prefix: &str) -> TestDb {
        self.prefix = prefix.to_string();
        self
    }

    /// The URL of our store: with `schwartz_table_prefix` when the tables have a prefix.
    fn store_url(&self) -> String {
        if self.prefix.is_empty() {
            return self.url.clone();
        }
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}schwartz_table_prefix={}", self.url, self.prefix)
    }

    fn perl_db_args(&self) -> Vec<String> {
        let mut args = self.perl_db_args_plain();
        if !self.prefix.is_empty() {
            args.push("--prefix".into());
            args.push(self.prefix.clone());
        }
        args
    }

    fn perl_db_args_plain(&self) -> Vec<String> {
        vec![
            "--dsn".into(),
            self.dsn.clone(),
            "--user".into(),
            self.user.clone(),
            "--pass".into(),
            self.pass.clone(),
            "--verbose".into(),
        ]
    }
}

/// Checks perl + TheSchwartz + the DBD driver, creates a fresh database.
/// `Err` is the reason to skip.
fn setup(backend: Backend, tag: &str) -> Result<TestDb, String> {
    let probe = Command::new("perl")
        .args([
            "-MTheSchwartz",
            &format!("-MDBD::{}", backend.dbd()),
            "-e",
            "print $TheSchwartz::VERSION",
        ])
        .output();
    match probe {
        Err(e) => return Err(format!("cannot run perl: {e}")),
        Ok(o) if !o.status.success() => {
            return Err(format!(
                "perl with TheSchwartz and DBD::{} is not available (Debian: libtheschwartz-perl, \
                 libdbd-pg-perl, libdbd-mysql-perl, libdbd-sqlite3-perl): {}",
                backend.dbd(),
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Ok(_) => {}
    }

    let fixture = backend.fixture();
    fixture.probe()?;
    let db = fixture
        .empty(tag)
        .unwrap_or_else(|e| panic!("{tag}: creating a {} database: {e}", backend.name()));
    let url = db
        .url
        .clone()
        .unwrap_or_else(|| panic!("{tag}: the {} fixture gives no URL", backend.name()));
    if backend == Backend::Sqlite {
        return Ok(TestDb {
            backend,
            dsn: format!("dbi:SQLite:dbname={url}"),
            url,
            user: String::new(),
            pass: String::new(),
            prefix: String::new(),
            _db: db,
        });
    }
    let server = ServerUrl::parse(&url).unwrap_or_else(|e| panic!("{tag}: {e}"));
    Ok(TestDb {
        backend,
        dsn: server.perl_dsn(backend, Some(&server.db)),
        url,
        user: server.user.clone(),
        pass: server.pass.clone().unwrap_or_default(),
        prefix: String::new(),
        _db: db,
    })
}

fn redact(url: &str) -> String {
    match ServerUrl::parse(url) {
        Ok(mut u) if u.pass.is_some() => {
            u.pass = Some("***".into());
            let db = u.db.clone();
            u.url_for(&db)
        }
        _ => url.to_string(),
    }
}

macro_rules! setup_or_skip {
    ($backend:expr, $test:expr) => {{
        if !selected($backend, $test) {
            return;
        }
        match setup($backend, $test) {
            Ok(db) => db,
            Err(reason) => {
                skip($test, &reason);
                return;
            }
        }
    }};
}

/// With a prefix: the queue's tables exist under the prefixed names only (so every
/// statement of both languages used the prefix).
fn assert_only_prefixed_tables(db: &TestDb) {
    if db.prefix.is_empty() {
        return;
    }
    let query = |table: &str| {
        let mut args = db.perl_db_args_plain();
        args.push("query".into());
        args.push(format!("SELECT COUNT(*) FROM {table}"));
        run_perl("dbadmin.pl", &args, None)
    };
    for base in ["job", "funcmap", "error", "exitstatus"] {
        let prefixed = format!("{}{base}", db.prefix);
        query(&prefixed).assert_ok(&format!("counting {prefixed}"));
        let plain = query(base);
        assert!(
            !plain.status.success(),
            "a table {base} exists: {}",
            plain.context()
        );
    }
}

/// A store on a database created by our migrations.
fn our_schema(db: &TestDb) -> Arc<dyn Store> {
    let store = DieselStore::connect(&db.store_url())
        .unwrap_or_else(|e| panic!("DieselStore::connect({}): {e}", redact(&db.url)));
    let applied = store
        .run_migrations()
        .unwrap_or_else(|e| panic!("run_migrations on {:?}: {e}", db.backend));
    assert!(!applied.is_empty(), "a fresh database got no migrations");
    Arc::new(store)
}

/// TheSchwartz's own schema file for the backend: MySQL and PostgreSQL from the installed
/// Debian package, SQLite from the copy schwartz-diesel's tests keep
/// (`schwartz-diesel/tests/upstream/sqlite.sql`; upstream does not install it).
fn perl_schema_file(backend: Backend) -> Result<PathBuf, String> {
    let name = match backend {
        Backend::Sqlite => {
            return Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../schwartz-diesel/tests/upstream/sqlite.sql"))
        }
        Backend::Postgres => "schema-postgres.sql",
        Backend::Mysql => "schema.sql",
    };
    let dirs: Vec<PathBuf> = std::env::var_os("SCHWARTZ_PERL_SCHEMA_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/usr/share/doc/libtheschwartz-perl")])
        .collect();
    for dir in &dirs {
        for candidate in [dir.join(name), dir.join(format!("{name}.gz"))] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "TheSchwartz's schema file {name} was not found in {dirs:?} (Debian package \
         libtheschwartz-perl installs it; set SCHWARTZ_PERL_SCHEMA_DIR to a directory holding it)"
    ))
}

/// A store on a database created by TheSchwartz's own schema file (no migrations).
fn perl_schema(db: &TestDb, schema: &Path) -> Arc<dyn Store> {
    let mut args = db.perl_db_args();
    args.push("apply-schema".into());
    args.push(schema.to_str().expect("utf-8 path").into());
    run_perl("dbadmin.pl", &args, None).assert_ok("dbadmin.pl apply-schema");
    let store = DieselStore::connect(&db.store_url())
        .unwrap_or_else(|e| panic!("DieselStore::connect({}): {e}", redact(&db.url)));
    Arc::new(store)
}

fn client_for(store: &Arc<dyn Store>) -> (Client, StoreHash) {
    let client = Client::builder()
        .store(store.clone())
        .build()
        .expect("Client::builder().build()");
    let hashes = client.store_hashes();
    assert_eq!(hashes.len(), 1);
    let hash = hashes[0].clone();
    (client, hash)
}

// ---------------------------------------------------------------------------------------
// Running Perl
// ---------------------------------------------------------------------------------------

fn perl_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("perl")
}

struct Run {
    what: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_ok(self, what: &str) -> Run {
        assert!(
            self.status.success(),
            "{what} failed ({}): {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    fn context(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
            self.what,
            self.stdout,
            tail(&self.stderr, 4000)
        )
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn run_perl(script: &str, args: &[String], stdin: Option<String>) -> Run {
    try_run_perl(script, args, stdin).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `perl tests/perl/<script> args...`, feeding `stdin`, bounded by `PERL_TIMEOUT`.
fn try_run_perl(script: &str, args: &[String], stdin: Option<String>) -> Result<Run, String> {
    let path = perl_dir().join(script);
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.len() > 80 {
                format!("{}...", &a[..40])
            } else {
                a.clone()
            }
        })
        .collect();
    let what = format!("perl {} {}", path.display(), shown.join(" "));
    let mut child = Command::new("perl")
        .arg(&path)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        thread::spawn(move || {
            let _ = pipe.write_all(input.as_bytes());
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + PERL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout =
                    String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
                let stderr =
                    String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
                return Err(format!(
                    "{what} did not finish within {PERL_TIMEOUT:?}; killed\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
                    tail(&stderr, 4000)
                ));
            }
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Ok(Run {
        what,
        status,
        stdout,
        stderr,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex string {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {s:?}")))
        .collect()
}

/// A job for `insert.pl`.
struct PerlJob<'a> {
    func: &'a str,
    arg: Option<&'a [u8]>,
    uniqkey: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inserted {
    Job(JobId),
    Duplicate,
}

/// Inserts jobs with Perl TheSchwartz; one result per job, in order.
fn perl_insert(db: &TestDb, jobs: &[PerlJob<'_>]) -> Vec<Inserted> {
    let mut input = String::new();
    for j in jobs {
        input.push_str(j.func);
        input.push('\t');
        match j.arg {
            Some(a) => input.push_str(&hex(a)),
            None => input.push('-'),
        }
        input.push('\t');
        input.push_str(j.uniqkey.unwrap_or("-"));
        input.push('\n');
    }
    let run = run_perl("insert.pl", &db.perl_db_args(), Some(input)).assert_ok("insert.pl");
    let mut results = Vec::new();
    let mut done = false;
    for line in run.stdout.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["INSERTED", n, id, _handle] => {
                assert_eq!(
                    n.parse::<usize>().ok(),
                    Some(results.len() + 1),
                    "{}",
                    run.context()
                );
                results.push(Inserted::Job(JobId(id.parse().expect("jobid"))));
            }
            ["DUPLICATE", n] => {
                assert_eq!(
                    n.parse::<usize>().ok(),
                    Some(results.len() + 1),
                    "{}",
                    run.context()
                );
                results.push(Inserted::Duplicate);
            }
            ["DONE", _] => done = true,
            _ => panic!("unexpected line {line:?} from insert.pl\n{}", run.context()),
        }
    }
    assert!(done, "insert.pl did not finish\n{}", run.context());
    assert_eq!(results.len(), jobs.len(), "{}", run.context());
    results
}

/// What the Perl worker saw as the argument.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PerlArg {
    Undef,
    Bytes(Vec<u8>),
    Ref,
}

#[derive(Debug, Clone)]
struct PerlWork {
    jobid: JobId,
    funcname: String,
    failures_before: u64,
    arg: PerlArg,
}

struct WorkerRun {
    work: Vec<PerlWork>,
    outcomes: Vec<(JobId, String)>,
    run: Run,
}

/// Works jobs with Perl TheSchwartz (`worker.pl`): `funcs` are (funcname, mode).
fn perl_worker(db: &TestDb, funcs: &[(&str, &str)], max_retries: u32) -> WorkerRun {
    let mut args = db.perl_db_args();
    for (name, mode) in funcs {
        args.push("--func".into());
        args.push(format!("{name}={mode}"));
    }
    args.push("--max-retries".into());
    args.push(max_retries.to_string());
    args.push("--keep-exit".into());
    args.push(KEEP_EXIT.as_secs().to_string());
    let run = run_perl("worker.pl", &args, None);
    let mut work = Vec::new();
    let mut outcomes = Vec::new();
    let mut worked = None;
    for line in run.stdout.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["WORK", id, func, failures, arg] => work.push(PerlWork {
                jobid: JobId(id.parse().expect("jobid")),
                funcname: func.to_string(),
                failures_before: failures.parse().expect("failures"),
                arg: match *arg {
                    "UNDEF" => PerlArg::Undef,
                    "REF" => PerlArg::Ref,
                    "EMPTY" => PerlArg::Bytes(Vec::new()),
                    h => PerlArg::Bytes(unhex(h)),
                },
            }),
            ["OUTCOME", id, what] => {
                outcomes.push((JobId(id.parse().expect("jobid")), what.to_string()))
            }
            ["WORKED", n] => worked = Some(n.parse::<usize>().expect("count")),
            _ => {}
        }
    }
    assert!(
        run.status.success(),
        "worker.pl failed ({}); did the database get marked dead?\n{}",
        run.status,
        run.context()
    );
    assert_eq!(
        worked,
        Some(work.len()),
        "worker.pl output incomplete\n{}",
        run.context()
    );
    WorkerRun {
        work,
        outcomes,
        run,
    }
}

// ---------------------------------------------------------------------------------------
// Rust workers
// ---------------------------------------------------------------------------------------

/// One attempt seen by a Rust worker: (jobid, funcname, raw arg).
type Attempt = (JobId, String, Option<Vec<u8>>);

/// What Rust workers saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Attempt>>>);

impl Seen {
    fn all(&self) -> Vec<Attempt> {
        self.0.lock().unwrap().clone()
    }
    fn attempts(&self, jobid: JobId) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _, _)| *id == jobid)
            .count()
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Complete,
    FailOnce,
    AlwaysFail,
    LongFailure,
}

/// A failure message longer than MySQL's `error.message VARCHAR(255)` in TheSchwartz's
/// schema, with multi-byte characters.
fn long_failure() -> String {
    format!(
        "compat: long failure {}",
        "\u{fc}n\u{ef}c\u{f8}d\u{e9}-".repeat(60)
    )
}

struct Recording {
    mode: Mode,
    max_retries: u32,
    seen: Seen,
}

impl Worker for Recording {
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        self.seen.0.lock().unwrap().push((
            job.jobid(),
            job.funcname().to_string(),
            job.raw_arg().map(<[u8]>::to_vec),
        ));
        match self.mode {
            Mode::Complete => Ok(()),
            Mode::FailOnce => {
                if job.failures()? == 0 {
                    Err("compat: first attempt fails".into())
                } else {
                    Ok(())
                }
            }
            Mode::AlwaysFail => {
                job.failed_with_status("compat: always fails", 7)?;
                Ok(())
            }
            Mode::LongFailure => Err(long_failure().into()),
        }
    }

    fn max_retries(&self, _job: &QueuedJob) -> u32 {
        self.max_retries
    }

    fn keep_exit_status_for(&self) -> Duration {
        KEEP_EXIT
    }
}

/// Checks a finished job through the client: gone, exit status, failure log.
fn assert_finished(client: &Client, h: &JobHandle, exit: i32, failure_log: &[&str]) {
    assert!(
        !client.is_pending(h).expect("is_pending"),
        "{h} is still pending"
    );
    assert!(
        client.lookup_job(h).expect("lookup_job").is_none(),
        "{h} can still be looked up"
    );
    assert_eq!(
        client.exit_status(h).expect("exit_status"),
        Some(exit),
        "exit status of {h}"
    );
    assert_eq!(
        client.failures(h).expect("failures"),
        failure_log.len() as u64,
        "failure count of {h}"
    );
    let log = client.failure_log(h).expect("failure_log");
    let want: Vec<String> = failure_log.iter().map(|s| s.to_string()).collect();
    assert_eq!(log, want, "failure log of {h}");
}

fn payloads() -> Vec<Vec<u8>> {
    // A deterministic pseudo-random blob above 64 KiB (MySQL BLOB's limit; TheSchwartz uses
    // MEDIUMBLOB), starting with bytes no Storable header has.
    let mut big = b"RUST".to_vec();
    let mut x: u32 = 0x1234_5678;
    while big.len() < 70_000 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        big.push((x >> 24) as u8);
    }
    vec![
        b"short_arg".to_vec(),
        b"long arg more than 11 bytes long".to_vec(),
        // The first byte looks like a Storable header: Perl must keep it as is.
        b"\x05scalar that begins with the 5 byte".to_vec(),
        (0..=255u8).collect(),
        "h\u{e9}llo w\u{f6}rld \u{2713}".as_bytes().to_vec(),
        b"0".to_vec(),
        Vec::new(),
        big,
    ]
}

fn short(bytes: &[u8]) -> String {
    if bytes.len() <= 48 {
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        format!(
            "{} bytes starting {:?}",
            bytes.len(),
            String::from_utf8_lossy(&bytes[..32])
        )
    }
}

// ---------------------------------------------------------------------------------------
// a. Perl TheSchwartz on our migrations
// ---------------------------------------------------------------------------------------

fn perl_works_on_our_schema(backend: Backend, test: &str, prefix: &str) {
    let db = setup_or_skip!(backend, test).with_prefix(prefix);
    let store = our_schema(&db);
    assert_only_prefixed_tables(&db);
    let (client, hash) = client_for(&store);

    let jobs = [
        PerlJob {
            func: "Compat::Complete",
            arg: Some(b"short_arg".as_slice()),
            uniqkey: None,
        },
        PerlJob {
            func: "Compat::Complete",
            arg: None,
            uniqkey: None,
        },
        PerlJob {
            func: "Compat::Complete",
            arg: None,
            uniqkey: Some("compat-uniq"),
        },
        PerlJob {
            func: "Compat::Complete",
            arg: Some(b"dup".as_slice()),
            uniqkey: Some("compat-uniq"),
        },
        PerlJob {
            func: "Compat::FailOnce",
            arg: Some(b"retry me".as_slice()),
            uniqkey: None,
        },
        PerlJob {
            func: "Compat::Fail",
            arg: Some(b"\x00\xff".as_slice()),
            uniqkey: None,
        },
    ];
    let inserted = perl_insert(&db, &jobs);
    assert_eq!(
        inserted[3],
        Inserted::Duplicate,
        "Perl's second insert of a uniqkey must be refused"
    );
    let ids: Vec<JobId> = inserted
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Inserted::Job(id) => Some(id.to_owned()),
            Inserted::Duplicate => {
                assert_eq!(
                    i, 3,
                    "only the second uniqkey insert is a duplicate: {inserted:?}"
                );
                None
            }
        })
        .collect();
    assert_eq!(ids.len(), 5);
    let handles: Vec<JobHandle> = ids
        .iter()
        .map(|id| JobHandle::new(hash.clone(), *id))
        .collect();

    // We read the rows Perl wrote.
    let expect = [
        (0usize, "Compat::Complete", Some(&b"short_arg"[..]), None),
        (1, "Compat::Complete", None, None),
        (2, "Compat::Complete", None, Some("compat-uniq")),
        (4, "Compat::FailOnce", Some(&b"retry me"[..]), None),
        (5, "Compat::Fail", Some(&b"\x00\xff"[..]), None),
    ];
    for (h, (line, func, arg, uniqkey)) in handles.iter().zip(expect) {
        let job = client
            .lookup_job(h)
            .expect("lookup_job")
            .unwrap_or_else(|| {
                panic!(
                    "job of line {} ({h}) inserted by Perl is not pending",
                    line + 1
                )
            });
        assert_eq!(job.funcname(), func, "{h}");
        assert_eq!(job.raw_arg(), arg, "{h}");
        assert_eq!(job.uniqkey(), uniqkey, "{h}");
        assert!(job.insert_time().is_some(), "{h}: Perl sets insert_time");
    }
    // Our client honours the uniqkey of Perl's pending job.
    match client.insert(Job::new("Compat::Complete").uniqkey("compat-uniq")) {
        Err(Error::DuplicateUniqkey { .. }) => {}
        other => panic!("inserting a uniqkey Perl holds: expected DuplicateUniqkey, got {other:?}"),
    }

    // Perl works them: completions, one failure then success, one job failing for good.
    let w = perl_worker(
        &db,
        &[
            ("Compat::Complete", "complete"),
            ("Compat::FailOnce", "fail-once"),
            ("Compat::Fail", "fail"),
        ],
        1,
    );
    let attempts = |id: JobId| w.work.iter().filter(|x| x.jobid == id).count();
    for id in &ids[..3] {
        assert_eq!(attempts(*id), 1, "job {id}\n{}", w.run.context());
    }
    assert_eq!(attempts(ids[3]), 2, "fail-once job\n{}", w.run.context());
    assert_eq!(
        attempts(ids[4]),
        2,
        "always-failing job with max_retries 1\n{}",
        w.run.context()
    );
    let retried: Vec<u64> = w
        .work
        .iter()
        .filter(|x| x.jobid == ids[3])
        .map(|x| x.failures_before)
        .collect();
    assert_eq!(
        retried,
        vec![0, 1],
        "Perl counts failures from our error table\n{}",
        w.run.context()
    );
    assert_eq!(
        w.outcomes.iter().filter(|(_, o)| o == "completed").count(),
        4,
        "{}",
        w.run.context()
    );
    let perl_args: Vec<PerlArg> = ids
        .iter()
        .map(|id| {
            w.work
                .iter()
                .find(|x| x.jobid == *id)
                .expect("worked")
                .arg
                .clone()
        })
        .collect();
    assert_eq!(
        perl_args,
        vec![
            PerlArg::Bytes(b"short_arg".to_vec()),
            PerlArg::Undef,
            PerlArg::Undef,
            PerlArg::Bytes(b"retry me".to_vec()),
            PerlArg::Bytes(b"\x00\xff".to_vec()),
        ]
    );

    // The outcome, through our client.
    for h in &handles[..3] {
        assert_finished(&client, h, 0, &[]);
    }
    assert_finished(&client, &handles[3], 0, &["compat: first attempt fails"]);
    assert_finished(
        &client,
        &handles[4],
        7,
        &["compat: always fails", "compat: always fails"],
    );
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.jobs, stats.errors, stats.exit_statuses),
        (0, 3, 5),
        "{stats:?}"
    );
    let errors = store.failures(ids[4]).expect("failures");
    let funcmap = store.funcmap().expect("funcmap");
    let fail_id = funcmap
        .iter()
        .find(|m| m.funcname == "Compat::Fail")
        .unwrap_or_else(|| panic!("funcmap written by Perl lacks Compat::Fail: {funcmap:?}"))
        .funcid;
    assert!(
        errors
            .iter()
            .all(|e| e.funcid == fail_id && e.error_time > 0),
        "{errors:?}"
    );
    let exit = store
        .exit_status(ids[4])
        .expect("exit_status")
        .expect("kept");
    assert_eq!(exit.funcid, fail_id);
    assert_eq!(
        exit.delete_after - exit.completion_time,
        KEEP_EXIT.as_secs() as i64
    );

    // The uniqkey is free again; our insert of it now succeeds.
    client
        .insert(Job::new("Compat::Complete").uniqkey("compat-uniq"))
        .expect("the uniqkey is free after Perl completed its job");
}

#[test]
fn perl_works_on_our_schema_sqlite() {
    perl_works_on_our_schema(Backend::Sqlite, "perl_works_on_our_schema_sqlite", "");
}

/// The same with the tables prefixed (TheSchwartz's `prefix`) on both sides; only the
/// prefixed tables exist.
#[test]
fn perl_works_on_our_schema_prefixed_sqlite() {
    perl_works_on_our_schema(
        Backend::Sqlite,
        "perl_works_on_our_schema_prefixed_sqlite",
        "tsp_",
    );
}

#[test]
fn perl_works_on_our_schema_postgres() {
    perl_works_on_our_schema(Backend::Postgres, "perl_works_on_our_schema_postgres", "");
}

/// The same with the tables prefixed (TheSchwartz's `prefix`) on both sides; only the
/// prefixed tables exist.
#[test]
fn perl_works_on_our_schema_prefixed_postgres() {
    perl_works_on_our_schema(
        Backend::Postgres,
        "perl_works_on_our_schema_prefixed_postgres",
        "tsp_",
    );
}

#[test]
fn perl_works_on_our_schema_mysql() {
    perl_works_on_our_schema(Backend::Mysql, "perl_works_on_our_schema_mysql", "");
}

/// The same with the tables prefixed (TheSchwartz's `prefix`) on both sides; only the
/// prefixed tables exist.
#[test]
fn perl_works_on_our_schema_prefixed_mysql() {
    perl_works_on_our_schema(
        Backend::Mysql,
        "perl_works_on_our_schema_prefixed_mysql",
        "tsp_",
    );
}

// ---------------------------------------------------------------------------------------
// b. Our client on TheSchwartz's own schema
// ---------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Payload {
    name: String,
    n: u32,
}

fn rust_works_on_perl_schema(backend: Backend, test: &str, prefix: &str) {
    let db = setup_or_skip!(backend, test).with_prefix(prefix);
    let schema = match perl_schema_file(backend) {
        Ok(p) => p,
        Err(reason) => return skip(test, &reason),
    };
    let store = perl_schema(&db, &schema);
    assert_only_prefixed_tables(&db);
    let (client, _hash) = client_for(&store);
    let seen = Seen::default();
    for (name, mode, max_retries) in [
        ("compat.complete", Mode::Complete, 1),
        ("compat.fail_once", Mode::FailOnce, 1),
        ("compat.always_fail", Mode::AlwaysFail, 1),
        ("compat.long_failure", Mode::LongFailure, 0),
    ] {
        client
            .can_do(
                name,
                Recording {
                    mode,
                    max_retries,
                    seen: seen.clone(),
                },
            )
            .expect("can_do");
    }

    let typed_arg = Payload {
        name: "typed".into(),
        n: 42,
    };
    let typed = client
        .insert(Job::new("compat.complete").arg(&typed_arg).expect("encode"))
        .expect("insert typed");
    let raw = client
        .insert(Job::new("compat.complete").raw_arg(b"raw \x00\xff bytes".to_vec()))
        .expect("insert raw");
    let plain = client
        .insert(
            Job::new("compat.complete")
                .uniqkey("u-1")
                .priority(300)
                .coalesce("group-a"),
        )
        .expect("insert with uniqkey, priority, coalesce");
    match client.insert(Job::new("compat.complete").uniqkey("u-1")) {
        Err(Error::DuplicateUniqkey { .. }) => {}
        other => panic!("second insert of uniqkey u-1: expected DuplicateUniqkey, got {other:?}"),
    }
    let batch = client
        .insert_jobs(
            (0..3)
                .map(|i| Job::new("compat.complete").raw_arg(format!("batch-{i}").into_bytes()))
                .collect(),
        )
        .expect("insert_jobs");
    assert_eq!(batch.len(), 3);
    let once = client
        .insert(Job::new("compat.fail_once").raw_arg(b"once".to_vec()))
        .expect("insert fail_once");
    let always = client
        .insert(Job::new("compat.always_fail"))
        .expect("insert always_fail");
    let long = client
        .insert(Job::new("compat.long_failure"))
        .expect("insert long_failure");

    let mut all = vec![typed.clone(), raw.clone(), plain.clone()];
    all.extend(batch.iter().cloned());
    all.push(once.clone());
    all.push(always.clone());
    all.push(long.clone());
    let mut ids: Vec<i64> = all.iter().map(|h| h.jobid().0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "job ids must be distinct: {all:?}");

    // What we wrote reads back through the Perl-created tables.
    let j = client.lookup_job(&typed).expect("lookup").expect("pending");
    assert_eq!(j.arg::<Payload>().expect("typed arg"), typed_arg);
    let j = client.lookup_job(&raw).expect("lookup").expect("pending");
    assert_eq!(j.raw_arg(), Some(&b"raw \x00\xff bytes"[..]));
    let j = client.lookup_job(&plain).expect("lookup").expect("pending");
    assert_eq!(j.raw_arg(), None);
    assert_eq!(j.uniqkey(), Some("u-1"));
    assert_eq!(j.priority(), Some(300));
    assert_eq!(j.coalesce(), Some("group-a"));
    assert_eq!(j.funcname(), "compat.complete");

    // Work everything: 6 completions, a failure + retry + completion, two failures, one
    // failure with a long message.
    let worked = client.work_until_done().expect("work_until_done");
    assert_eq!(worked, 6 + 2 + 2 + 1, "jobs worked; seen: {:?}", seen.all());
    for h in &all {
        let want = if *h == once || *h == always { 2 } else { 1 };
        assert_eq!(seen.attempts(h.jobid()), want, "attempts of {h}");
    }
    for h in [&typed, &raw, &plain].into_iter().chain(batch.iter()) {
        assert_finished(&client, h, 0, &[]);
    }
    assert_finished(&client, &once, 0, &["compat: first attempt fails"]);
    assert_finished(
        &client,
        &always,
        7,
        &["compat: always fails", "compat: always fails"],
    );
    // A message too long for MySQL's VARCHAR(255) is truncated, not a crash.
    assert!(!client.is_pending(&long).expect("is_pending"));
    assert_eq!(client.exit_status(&long).expect("exit_status"), Some(1));
    let log = client.failure_log(&long).expect("failure_log");
    assert_eq!(log.len(), 1, "{log:?}");
    let full = long_failure();
    assert!(
        !log[0].is_empty() && full.starts_with(&log[0]),
        "logged {:?}",
        log[0]
    );
    match backend {
        Backend::Mysql => assert!(
            log[0].chars().count() <= 255,
            "{} chars",
            log[0].chars().count()
        ),
        Backend::Postgres => assert_eq!(log[0], full, "error.message is TEXT on PostgreSQL"),
        Backend::Sqlite => {}
    }
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.jobs, stats.errors, stats.exit_statuses),
        (0, 4, 9),
        "{stats:?}"
    );

    // The uniqkey is free again once its job is done.
    client
        .insert(Job::new("compat.complete").uniqkey("u-1"))
        .expect("uniqkey free after completion");
    assert_eq!(client.work_until_done().expect("work_until_done"), 1);
    assert_eq!(store.stats().expect("stats").jobs, 0);
}

#[test]
fn rust_works_on_perl_schema_sqlite() {
    rust_works_on_perl_schema(Backend::Sqlite, "rust_works_on_perl_schema_sqlite", "");
}

/// The same with the tables prefixed (TheSchwartz's `prefix`) on both sides; only the
/// prefixed tables exist.
#[test]
fn rust_works_on_perl_schema_prefixed_sqlite() {
    rust_works_on_perl_schema(
        Backend::Sqlite,
        "rust_works_on_perl_schema_prefixed_sqlite",
        "tsp_",
    );
}

#[test]
fn rust_works_on_perl_schema_postgres() {
    rust_works_on_perl_schema(Backend::Postgres, "rust_works_on_perl_schema_postgres", "");
}

/// The same with the tables prefixed (TheSchwartz's `prefix`) on both sides; only the
/// prefixed tables exist.
#[test]
fn rust_works_on_perl_schema_prefixed_postgres() {
    rust_works_on_perl_schema(
        Backend::Postgres,
        "rust_works_on_perl_schema_prefixed_postgres",
        "tsp_",
    );
}

#[test]
fn rust_works_on_perl_schema_mysql() {
    rust_works_on_perl_schema(Backend::Mysql, "rust_works_on_perl_schema_mysql", "");
}

/// The same with the tables prefixed (TheSchwartz's `prefix`) on both sides; only the
/// prefixed tables exist.
#[test]
fn rust_works_on_perl_schema_prefixed_mysql() {
    rust_works_on_perl_schema(
        Backend::Mysql,
        "rust_works_on_perl_schema_prefixed_mysql",
        "tsp_",
    );
}

// ---------------------------------------------------------------------------------------
// c. Scalar args across the languages
// ---------------------------------------------------------------------------------------

fn perl_scalar_args_to_rust(backend: Backend, test: &str) {
    let db = setup_or_skip!(backend, test);
    let store = our_schema(&db);
    let (client, _hash) = client_for(&store);
    let payloads = payloads();
    let mut jobs: Vec<PerlJob<'_>> = payloads
        .iter()
        .map(|p| PerlJob {
            func: "Compat::Args",
            arg: Some(p),
            uniqkey: None,
        })
        .collect();
    jobs.push(PerlJob {
        func: "Compat::Args",
        arg: None,
        uniqkey: None,
    });
    let ids: Vec<JobId> = perl_insert(&db, &jobs)
        .into_iter()
        .map(|r| match r {
            Inserted::Job(id) => id,
            Inserted::Duplicate => panic!("no uniqkeys here"),
        })
        .collect();

    let seen = Seen::default();
    client
        .can_do(
            "Compat::Args",
            Recording {
                mode: Mode::Complete,
                max_retries: 0,
                seen: seen.clone(),
            },
        )
        .expect("can_do");
    let worked = client.work_until_done().expect("work_until_done");
    assert_eq!(worked, jobs.len());

    let got: BTreeMap<JobId, Option<Vec<u8>>> = seen
        .all()
        .into_iter()
        .map(|(id, _, arg)| (id, arg))
        .collect();
    for (id, job) in ids.iter().zip(&jobs) {
        let want = job.arg.map(<[u8]>::to_vec);
        let have = got
            .get(id)
            .unwrap_or_else(|| panic!("job {id} was not worked"));
        assert!(
            *have == want,
            "job {id}: Perl inserted {}, Rust read {}",
            want.as_deref().map_or("no arg".into(), short),
            have.as_deref().map_or("no arg".into(), short)
        );
    }
    assert_eq!(store.stats().expect("stats").jobs, 0);
}

#[test]
fn perl_scalar_args_to_rust_sqlite() {
    perl_scalar_args_to_rust(Backend::Sqlite, "perl_scalar_args_to_rust_sqlite");
}

#[test]
fn perl_scalar_args_to_rust_postgres() {
    perl_scalar_args_to_rust(Backend::Postgres, "perl_scalar_args_to_rust_postgres");
}

#[test]
fn perl_scalar_args_to_rust_mysql() {
    perl_scalar_args_to_rust(Backend::Mysql, "perl_scalar_args_to_rust_mysql");
}

fn rust_raw_args_to_perl(backend: Backend, test: &str) {
    let db = setup_or_skip!(backend, test);
    let store = our_schema(&db);
    let (client, _hash) = client_for(&store);
    let payloads = payloads();
    let mut handles = Vec::new();
    for p in &payloads {
        handles.push(
            client
                .insert(Job::new("Compat::Echo").raw_arg(p.clone()))
                .expect("insert"),
        );
    }
    let no_arg = client
        .insert(Job::new("Compat::Echo"))
        .expect("insert without arg");

    let w = perl_worker(&db, &[("Compat::Echo", "echo")], 0);
    assert_eq!(w.work.len(), payloads.len() + 1, "{}", w.run.context());
    let got: BTreeMap<JobId, PerlArg> = w.work.iter().map(|x| (x.jobid, x.arg.clone())).collect();
    for (h, p) in handles.iter().zip(&payloads) {
        let have = got
            .get(&h.jobid())
            .unwrap_or_else(|| panic!("Perl did not work {h}\n{}", w.run.context()));
        match have {
            PerlArg::Bytes(b) if b == p => {}
            PerlArg::Bytes(b) => panic!("{h}: Rust inserted {}, Perl saw {}", short(p), short(b)),
            other => panic!("{h}: Rust inserted {}, Perl saw {other:?}", short(p)),
        }
    }
    assert_eq!(
        got.get(&no_arg.jobid()),
        Some(&PerlArg::Undef),
        "a job without arg"
    );
    assert!(w
        .work
        .iter()
        .all(|x| x.funcname == "Compat::Echo" && x.failures_before == 0));
    for h in handles.iter().chain([&no_arg]) {
        assert!(
            !client.is_pending(h).expect("is_pending"),
            "{h} still pending after Perl completed it"
        );
    }
    assert_eq!(store.stats().expect("stats").jobs, 0);
}

#[test]
fn rust_raw_args_to_perl_sqlite() {
    rust_raw_args_to_perl(Backend::Sqlite, "rust_raw_args_to_perl_sqlite");
}

#[test]
fn rust_raw_args_to_perl_postgres() {
    rust_raw_args_to_perl(Backend::Postgres, "rust_raw_args_to_perl_postgres");
}

#[test]
fn rust_raw_args_to_perl_mysql() {
    rust_raw_args_to_perl(Backend::Mysql, "rust_raw_args_to_perl_mysql");
}

/// Cancelled by Rust, pending or running: Perl TheSchwartz sees a finished job (not
/// pending, exit status 2, the message as its one failure) and its workers find nothing.
fn rust_cancel_seen_by_perl(backend: Backend, test: &str) {
    let db = setup_or_skip!(backend, test);
    let store = our_schema(&db);
    let (client, _hash) = client_for(&store);
    client
        .can_do("Compat::Echo", |_: &QueuedJob| -> Result<(), WorkError> {
            Ok(())
        })
        .expect("can_do");
    let running = client.insert(Job::new("Compat::Echo")).expect("insert");
    let grabbed = client
        .grab_job("Compat::Echo")
        .expect("grab")
        .expect("a job to grab");
    assert_eq!(grabbed.handle(), &running);
    let pending = client.insert(Job::new("Compat::Echo")).expect("insert");
    let kept = client.insert(Job::new("Compat::Echo")).expect("insert");
    for h in [&pending, &running] {
        client.cancel(h).expect("cancel").expect("cancelled");
    }
    assert!(matches!(grabbed.completed(), Err(Error::Cancelled { .. })));
    let ids: String = [&pending, &running, &kept]
        .iter()
        .map(|h| format!("{}\n", h.jobid()))
        .collect();
    let run = run_perl("status.pl", &db.perl_db_args(), Some(ids)).assert_ok("status.pl");
    let cancelled_hex = hex(b"cancelled");
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (line, h) in lines.iter().zip([&pending, &running]) {
        assert_eq!(
            *line,
            format!("STATUS {} 0 2 1 {cancelled_hex}", h.jobid()),
            "{}",
            run.context()
        );
    }
    assert_eq!(
        lines.get(2).copied(),
        Some(format!("STATUS {} 1 - 0 -", kept.jobid()).as_str()),
        "{}",
        run.context()
    );
    let w = perl_worker(&db, &[("Compat::Echo", "echo")], 0);
    let worked: Vec<JobId> = w.work.iter().map(|x| x.jobid).collect();
    assert_eq!(worked, vec![kept.jobid()], "{}", w.run.context());
}

#[test]
fn rust_cancel_seen_by_perl_sqlite() {
    rust_cancel_seen_by_perl(Backend::Sqlite, "rust_cancel_seen_by_perl_sqlite");
}

#[test]
fn rust_cancel_seen_by_perl_postgres() {
    rust_cancel_seen_by_perl(Backend::Postgres, "rust_cancel_seen_by_perl_postgres");
}

#[test]
fn rust_cancel_seen_by_perl_mysql() {
    rust_cancel_seen_by_perl(Backend::Mysql, "rust_cancel_seen_by_perl_mysql");
}

// ---------------------------------------------------------------------------------------
// d. Perl and Rust workers on one queue at the same time
// ---------------------------------------------------------------------------------------

fn perl_and_rust_workers_share_a_queue(backend: Backend, test: &str) {
    const JOBS: usize = 60;
    let db = setup_or_skip!(backend, test);
    let store = our_schema(&db);
    let (client, _hash) = client_for(&store);
    // Half inserted by each side.
    let args: Vec<Vec<u8>> = (0..JOBS)
        .map(|i| format!("shared-{i}").into_bytes())
        .collect();
    let perl_jobs: Vec<PerlJob<'_>> = args[..JOBS / 2]
        .iter()
        .map(|a| PerlJob {
            func: "Compat::Shared",
            arg: Some(a),
            uniqkey: None,
        })
        .collect();
    let mut ids: Vec<JobId> = perl_insert(&db, &perl_jobs)
        .into_iter()
        .map(|r| match r {
            Inserted::Job(id) => id,
            Inserted::Duplicate => panic!("no uniqkeys here"),
        })
        .collect();
    for a in &args[JOBS / 2..] {
        ids.push(
            client
                .insert(Job::new("Compat::Shared").raw_arg(a.clone()))
                .expect("insert")
                .jobid(),
        );
    }

    let seen = Seen::default();
    {
        let seen = seen.clone();
        client
            .can_do(
                "Compat::Shared",
                move |job: &QueuedJob| -> Result<(), WorkError> {
                    seen.0.lock().unwrap().push((
                        job.jobid(),
                        job.funcname().to_string(),
                        job.raw_arg().map(<[u8]>::to_vec),
                    ));
                    thread::sleep(Duration::from_millis(5));
                    Ok(())
                },
            )
            .expect("can_do");
    }
    let rust = {
        let client = client.clone();
        thread::spawn(move || client.work_until_done())
    };
    let w = perl_worker(&db, &[("Compat::Shared", "complete")], 0);
    let rust_worked = rust
        .join()
        .expect("Rust worker thread")
        .expect("work_until_done");
    // Whatever the Rust worker gave up on early (all leased by Perl at that moment) is
    // either done by Perl or picked up now.
    let rust_late = client.work_until_done().expect("work_until_done");

    let mut by_job: BTreeMap<JobId, Vec<&str>> = BTreeMap::new();
    for x in &w.work {
        by_job.entry(x.jobid).or_default().push("perl");
    }
    let rust_seen = seen.all();
    for (id, _, _) in &rust_seen {
        by_job.entry(*id).or_default().push("rust");
    }
    eprintln!(
        "{test}: Perl worked {}, Rust worked {} (+{} late) of {JOBS}",
        w.work.len(),
        rust_worked,
        rust_late
    );
    for id in &ids {
        assert_eq!(
            by_job.get(id).map(Vec::len),
            Some(1),
            "job {id} must be worked exactly once, was by {:?}\n{}",
            by_job.get(id),
            w.run.context()
        );
    }
    assert_eq!(by_job.len(), JOBS, "jobs worked that nobody inserted");
    assert_eq!(w.work.len() + rust_seen.len(), JOBS);
    assert_eq!(store.stats().expect("stats").jobs, 0, "nothing pending");
}

#[test]
fn perl_and_rust_workers_share_a_queue_sqlite() {
    perl_and_rust_workers_share_a_queue(
        Backend::Sqlite,
        "perl_and_rust_workers_share_a_queue_sqlite",
    );
}

#[test]
fn perl_and_rust_workers_share_a_queue_postgres() {
    perl_and_rust_workers_share_a_queue(
        Backend::Postgres,
        "perl_and_rust_workers_share_a_queue_postgres",
    );
}

#[test]
fn perl_and_rust_workers_share_a_queue_mysql() {
    perl_and_rust_workers_share_a_queue(
        Backend::Mysql,
        "perl_and_rust_workers_share_a_queue_mysql",
    );
}

// ---------------------------------------------------------------------------------------
// e. Structured arguments both ways: Perl's Storable (nfreeze) and JSON
// ---------------------------------------------------------------------------------------

/// What Perl inserts as a hash reference (`tests/perl/insert.pl`, `eval:`), and the Rust
/// type that reads it.
const PERL_HASH: &str = r#"{ name => "caf\x{e9} \x{263a}", latin => "caf\xe9", bytes => "\xff\x00\x01",
    n => 9007199254740993, neg => -9223372036854775807 - 1, big => 18446744073709551615,
    f => 0.1, third => 1/3, huge => 1e300, nothing => undef,
    list => [1, [2, [3]], { k => "v" }], empty => {}, flag => 1, id32 => 70000 }"#;

#[derive(Debug, PartialEq, serde::Deserialize)]
struct FromPerl {
    name: String,
    latin: String,
    bytes: Vec<u8>,
    n: u64,
    neg: i64,
    big: u64,
    f: f64,
    third: f64,
    huge: f64,
    nothing: Option<String>,
    list: (u8, (u8, Vec<u8>), BTreeMap<String, String>),
    empty: BTreeMap<String, u8>,
    flag: bool,
    id32: u32,
    /// Not in the Perl hash: an optional field added later.
    added: Option<String>,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum Color {
    Red,
    Rgb(u8, u8, u8),
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct ToPerl {
    name: String,
    n: i64,
    neg: i64,
    big: u64,
    small: i32,
    f: f64,
    third: f64,
    nothing: Option<u8>,
    list: Vec<Vec<u8>>,
    map: BTreeMap<String, bool>,
    colors: Vec<Color>,
}

fn to_perl() -> ToPerl {
    ToPerl {
        name: "caf\u{e9} \u{263a}".into(),
        n: 9_007_199_254_740_993,
        neg: i64::MIN,
        big: u64::MAX,
        small: -5,
        f: 0.1,
        third: 1.0 / 3.0,
        nothing: None,
        list: vec![vec![1, 200], vec![]],
        map: BTreeMap::from([("no".into(), false), ("yes".into(), true)]),
        colors: vec![Color::Red, Color::Rgb(1, 2, 3)],
    }
}

/// What `worker.pl` prints for the argument `to_perl()` (Data::Dumper, sorted keys): the
/// hash a Perl worker gets, with integers beyond 32 bits and floats as strings, as Perl's
/// own nfreeze/thaw gives them.
const TO_PERL_DUMP: &str = r#"{"big" => "18446744073709551615","colors" => ["Red",{"Rgb" => [1,2,3]}],"f" => "0.1","list" => [[1,200],[]],"map" => {"no" => 0,"yes" => 1},"n" => "9007199254740993","name" => "caf\x{e9} \x{263a}","neg" => "-9223372036854775808","nothing" => undef,"small" => -5,"third" => "0.3333333333333333"}"#;

/// Inserts one job per Perl expression (its value is the argument).
fn perl_insert_exprs(db: &TestDb, func: &str, exprs: &[&str]) -> Vec<JobId> {
    let mut input = String::new();
    for e in exprs {
        input.push_str(&format!("{func}\teval:{}\t-\n", hex(e.as_bytes())));
    }
    let run = run_perl("insert.pl", &db.perl_db_args(), Some(input)).assert_ok("insert.pl");
    run.stdout
        .lines()
        .filter_map(|l| match l.split(' ').collect::<Vec<_>>().as_slice() {
            ["INSERTED", _, id, _] => Some(JobId(id.parse().expect("jobid"))),
            _ => None,
        })
        .collect()
}

fn structured_args_both_ways(backend: Backend, test: &str) {
    let db = setup_or_skip!(backend, test);
    let store = our_schema(&db);
    let (client, _hash) = client_for(&store);

    // Perl -> Rust: hash and array references (nfreeze), a JSON text, a blessed object.
    let ids = perl_insert_exprs(
        &db,
        "Compat::Structured",
        &[
            PERL_HASH,
            r#"[1, "two", 3.5, undef]"#,
            r#"'{"name":"json from perl","n":1}'"#,
            r#"bless({ a => 1 }, "Some::Class")"#,
        ],
    );
    assert_eq!(ids.len(), 4);
    type Outcome = Result<String, String>;
    let seen: Arc<Mutex<BTreeMap<JobId, Outcome>>> = Arc::default();
    let s = seen.clone();
    let first = ids[0];
    let (second, third) = (ids[1], ids[2]);
    client
        .can_do(
            "Compat::Structured",
            move |job: &QueuedJob| -> Result<(), WorkError> {
                let got: Result<String, Error> = if job.jobid() == first {
                    job.arg::<FromPerl>().map(|v| format!("{v:?}"))
                } else if job.jobid() == second {
                    job.arg::<(u8, String, f64, Option<u8>)>()
                        .map(|v| format!("{v:?}"))
                } else if job.jobid() == third {
                    job.arg::<serde_json::Value>().map(|v| v.to_string())
                } else {
                    job.arg::<serde_json::Value>().map(|v| v.to_string())
                };
                s.lock()
                    .unwrap()
                    .insert(job.jobid(), got.map_err(|e| e.to_string()));
                Ok(())
            },
        )
        .expect("can_do");
    assert_eq!(client.work_until_done().expect("work"), 4);
    let seen = seen.lock().unwrap().clone();
    let want = FromPerl {
        name: "caf\u{e9} \u{263a}".into(),
        latin: "caf\u{e9}".into(),
        bytes: vec![0xff, 0, 1],
        n: 9_007_199_254_740_993,
        neg: i64::MIN,
        big: u64::MAX,
        f: 0.1,
        // Perl's nfreeze writes floats as Perl prints them: 15 significant digits.
        third: 0.333_333_333_333_333,
        huge: 1e300,
        nothing: None,
        list: (1, (2, vec![3]), BTreeMap::from([("k".into(), "v".into())])),
        empty: BTreeMap::new(),
        flag: true,
        id32: 70000,
        added: None,
    };
    assert_eq!(seen[&ids[0]], Ok(format!("{want:?}")));
    assert_eq!(seen[&ids[1]], Ok(r#"(1, "two", 3.5, None)"#.to_string()));
    assert_eq!(
        seen[&ids[2]],
        Ok(r#"{"n":1,"name":"json from perl"}"#.to_string())
    );
    let blessed = seen[&ids[3]].clone().unwrap_err();
    assert!(
        blessed.contains("blessed object (class Some::Class)"),
        "{blessed}"
    );

    // Rust -> Perl: perl_arg gives a Perl worker the hash it expects; a JSON argument is
    // JSON text to Perl.
    let h_perl = client
        .insert(
            Job::new("Compat::Echo")
                .perl_arg(&to_perl())
                .expect("perl_arg"),
        )
        .expect("insert");
    let h_list = client
        .insert(
            Job::new("Compat::Echo")
                .perl_arg(&vec![1u8, 2])
                .expect("perl_arg"),
        )
        .expect("insert");
    let json_job = Job::new("Compat::Echo").arg(&to_perl()).expect("arg");
    let json_bytes = json_job.raw_arg_bytes().unwrap().to_vec();
    let h_json = client.insert(json_job).expect("insert");
    let w = perl_worker(&db, &[("Compat::Echo", "echo")], 0);
    let dumps: BTreeMap<JobId, String> = w
        .run
        .stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("DUMP ")?;
            let (id, dump) = rest.split_once(' ')?;
            Some((JobId(id.parse().ok()?), dump.to_string()))
        })
        .collect();
    assert_eq!(
        dumps.get(&h_perl.jobid()).map(String::as_str),
        Some(TO_PERL_DUMP),
        "{}",
        w.run.context()
    );
    assert_eq!(
        dumps.get(&h_list.jobid()).map(String::as_str),
        Some("[1,2]")
    );
    let json_seen = w
        .work
        .iter()
        .find(|x| x.jobid == h_json.jobid())
        .expect("worked");
    assert_eq!(json_seen.arg, PerlArg::Bytes(json_bytes));
    assert_eq!(store.stats().expect("stats").jobs, 0);
}

#[test]
fn structured_args_both_ways_sqlite() {
    structured_args_both_ways(Backend::Sqlite, "structured_args_both_ways_sqlite");
}

#[test]
fn structured_args_both_ways_postgres() {
    structured_args_both_ways(Backend::Postgres, "structured_args_both_ways_postgres");
}

#[test]
fn structured_args_both_ways_mysql() {
    structured_args_both_ways(Backend::Mysql, "structured_args_both_ways_mysql");
}
