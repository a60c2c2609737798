//! The benchmark behind `cargo xtask bench` (run it through xtask, which builds it in
//! release mode): enqueue, bulk insert, pool drains, one-at-a-time drain and idle latency
//! on every backend, each verified (every job completed exactly once, none left), with a
//! Perl TheSchwartz baseline on the SQL backends.
//!
//! ```text
//! cargo run --release -p schwartz-tests --example bench -- [--jobs N] [--scale F]
//!     [--backends memory,sqlite,postgres,mariadb] [--threads 1,2,8] [--no-perl]
//!     [--pg-url URL] [--mysql-url URL] [--perl-script PATH] [--only TEXT] [--analyze]
//!     [--prefetch N|unbounded] [--long-jobs N] [--private-pg-ports A,B]
//! ```
//!
//! The pool drains run with the pool's defaults; `--prefetch` sets the pools' prefetch bound
//! (`unbounded`: the batch size alone, the default before the bound of 8 per thread).
//!
//! Two PostgreSQL scenarios go beyond one database and one process:
//! - the long drain (`long_drain.rs`): `--long-jobs` jobs (default 1,000,000, scaled by
//!   `--scale`), inserted by the bench, drained by a pool of 2 in a child process that runs
//!   only that drain (the bench runs itself as `--scenario long-drain`); the row shows the
//!   first and the last tenth's speed (target: the last at least 90% of the first) and the
//!   child's peak resident memory (`VmHWM`; target: under 64 MiB);
//! - the scale-out (`scale_out.rs`): two private PostgreSQL servers the bench starts
//!   (`schwartz_tests::servers`, `fsync=off`; on free ports or `--private-pg-ports`), the
//!   jobs split across a database on each by one client and drained by one pool, against
//!   the same jobs on one server; the rows show both rates, their ratio and where the
//!   machine's CPU went (what limits it on 2 cores). Without the server programs the row
//!   says why it was skipped.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod ceilings;
mod cpu;
mod long_drain;
mod scale_out;

use crossbeam_channel::unbounded;
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use schwartz_core::store::Store;
use schwartz_core::{Client, Job, Pruning, QueuedJob, WorkError};
use schwartz_testkit::{self as testkit, fixtures, TestDb};
use schwartz_worker::{Notifications, WorkerPool};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---- options ------------------------------------------------------------------------------

struct Options {
    jobs: u64,
    /// Jobs of the long drain (`--long-jobs`, scaled).
    long_jobs: u64,
    /// `--scenario long-drain`: this process is the long drain's child (see `long_drain.rs`).
    scenario: Option<String>,
    /// `--private-pg-ports A,B`: the ports of the scale-out's private servers (default: free
    /// ones).
    private_pg_ports: Vec<u16>,
    backends: Vec<Kind>,
    threads: Vec<usize>,
    perl: bool,
    pg_url: String,
    mysql_url: String,
    perl_script: PathBuf,
    only: Option<String>,
    analyze: bool,
}

fn parse_options() -> Result<Options, BoxError> {
    let mut jobs: u64 = 100_000;
    let mut long_jobs: u64 = 1_000_000;
    let mut scenario = None;
    let mut private_pg_ports = Vec::new();
    let mut scale: f64 = 1.0;
    let mut backends = vec![Kind::Memory, Kind::Sqlite, Kind::Postgres, Kind::MariaDb];
    let mut threads = vec![1, 2, 8];
    let mut perl = true;
    let mut only = None;
    let mut analyze = false;
    let mut pg_url = std::env::var("SCHWARTZ_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mut mysql_url = std::env::var("SCHWARTZ_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string());
    let mut perl_script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/perl/theschwartz_bench.pl");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--jobs" => jobs = value()?.parse()?,
            "--long-jobs" => long_jobs = value()?.parse()?,
            "--scenario" => scenario = Some(value()?),
            "--private-pg-ports" => {
                private_pg_ports = value()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--scale" => scale = value()?.parse()?,
            "--backends" => {
                backends = value()?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(Kind::parse)
                    .collect::<Result<_, _>>()?
            }
            "--threads" => {
                threads = value()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--no-perl" => perl = false,
            "--only" => only = Some(value()?),
            "--analyze" => analyze = true,
            "--prefetch" => {
                let v = value()?;
                let n = if v == "unbounded" {
                    usize::MAX
                } else {
                    v.parse()?
                };
                PREFETCH.set(n).map_err(|_| "--prefetch given twice")?;
            }
            "--pg-url" => pg_url = value()?,
            "--mysql-url" => mysql_url = value()?,
            "--perl-script" => perl_script = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let jobs = ((jobs as f64) * scale).round().max(100.0) as u64;
    let long_jobs = ((long_jobs as f64) * scale).round().max(100.0) as u64;
    Ok(Options {
        jobs,
        long_jobs,
        scenario,
        private_pg_ports,
        backends,
        threads,
        perl,
        pg_url,
        mysql_url,
        perl_script,
        only,
        analyze,
    })
}

/// The `--prefetch` bound of the pool drains; the pool's default when unset.
static PREFETCH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// A pool builder for the drains: `threads`, and the `--prefetch` bound when given.
fn pool_builder(client: &Client, threads: usize) -> schwartz_worker::WorkerPoolBuilder {
    let b = WorkerPool::builder(client.clone()).threads(threads);
    match PREFETCH.get() {
        Some(&n) => b.prefetch(n),
        None => b,
    }
}

// ---- backends -----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Memory,
    Sqlite,
    Postgres,
    MariaDb,
}

impl Kind {
    fn parse(s: &str) -> Result<Kind, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "memory" | "mem" => Ok(Kind::Memory),
            "sqlite" => Ok(Kind::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Kind::Postgres),
            "mariadb" | "mysql" => Ok(Kind::MariaDb),
            other => Err(format!(
                "unknown backend {other:?} (memory, sqlite, postgres, mariadb)"
            )),
        }
    }
    fn title(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
            Kind::MariaDb => "MariaDB",
        }
    }
}

/// A fresh database for one scenario (a `schwartz_testkit` fixture); dropped afterwards.
struct Fresh {
    store: Arc<dyn Store>,
    /// A URL for other connections (SQL backends).
    url: Option<String>,
    /// DBI data source, user, password for Perl.
    perl: Option<(String, String, String)>,
    /// The fixture's database: dropped (or its directory removed) with it.
    db: TestDb,
}

struct Host {
    host: String,
    port: Option<String>,
    user: String,
    pass: String,
}

fn parse_host(url: &str) -> Host {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['/', '?']).next().unwrap_or("");
    let (auth, hostport) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => ("", rest),
    };
    let (user, pass) = match auth.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (auth.to_string(), String::new()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), Some(p.to_string())),
        None => (hostport.to_string(), None),
    };
    Host {
        host,
        port,
        user,
        pass,
    }
}

struct Backend {
    kind: Kind,
    admin_url: Option<String>,
    counter: std::cell::Cell<u32>,
}

impl Backend {
    fn new(kind: Kind, opts: &Options) -> Self {
        let admin_url = match kind {
            Kind::Postgres => Some(opts.pg_url.clone()),
            Kind::MariaDb => Some(opts.mysql_url.clone()),
            _ => None,
        };
        Backend {
            kind,
            admin_url,
            counter: std::cell::Cell::new(0),
        }
    }

    /// Why the backend cannot be benchmarked here, if it cannot.
    fn probe(&self) -> Result<String, String> {
        match (self.kind, &self.admin_url) {
            (Kind::Memory, _) => Ok("in-process MemoryStore".to_string()),
            (Kind::Sqlite, _) => Ok("embedded SQLite file, WAL".to_string()),
            (_, Some(url)) => {
                let version = if url.starts_with("postgres") {
                    diesel::PgConnection::establish(url)
                        .map_err(|e| e.to_string())
                        .and_then(|mut c| {
                            server_version(&mut c, "SELECT current_setting('server_version') AS v")
                        })
                } else {
                    diesel::MysqlConnection::establish(url)
                        .map_err(|e| e.to_string())
                        .and_then(|mut c| server_version(&mut c, "SELECT VERSION() AS v"))
                };
                version.map(|v| format!("{} at {}", v, schwartz_diesel::redact_url(url)))
            }
            _ => Err("no URL".to_string()),
        }
    }

    fn fresh(&self) -> Result<Fresh, BoxError> {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let tag = format!("bench_{n}");
        // The stores keep DieselStore's default pool (8 connections), as an application's.
        let fixture: Box<dyn testkit::Backend> = match (self.kind, &self.admin_url) {
            (Kind::Memory, _) => Box::new(fixtures::Memory),
            (Kind::Sqlite, _) => Box::new(fixtures::Sqlite),
            (Kind::Postgres, Some(url)) => {
                Box::new(fixtures::Server::postgres().with_url(url).pool_size(8))
            }
            (Kind::MariaDb, Some(url)) => {
                Box::new(fixtures::Server::mysql().with_url(url).pool_size(8))
            }
            _ => return Err("no admin URL".into()),
        };
        let db = fixture.fresh(&tag)?;
        let url = db.url.clone();
        let perl = match (self.kind, &url) {
            (Kind::Sqlite, Some(path)) => Some((
                format!("dbi:SQLite:dbname={path}"),
                String::new(),
                String::new(),
            )),
            (Kind::Postgres | Kind::MariaDb, Some(url)) => {
                let name = url
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.split('?').next())
                    .unwrap_or_default()
                    .to_string();
                let h = parse_host(url);
                let dsn = match self.kind {
                    Kind::Postgres => format!(
                        "dbi:Pg:dbname={name};host={};port={}",
                        h.host,
                        h.port.as_deref().unwrap_or("5432")
                    ),
                    _ => format!(
                        "dbi:mysql:database={name};host={};port={}",
                        h.host,
                        h.port.as_deref().unwrap_or("3306")
                    ),
                };
                Some((dsn, h.user, h.pass))
            }
            _ => None,
        };
        Ok(Fresh {
            store: Arc::clone(&db.store),
            url,
            perl,
            db,
        })
    }

    /// Another connection to the same database (for a second client).
    fn reopen(&self, fresh: &Fresh) -> Result<Arc<dyn Store>, BoxError> {
        Ok(fresh.db.reopen()?)
    }
}

fn server_version<C>(c: &mut C, sql: &str) -> Result<String, String>
where
    C: Connection,
    C::Backend: diesel::backend::Backend,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Version>,
{
    let rows: Vec<Version> = diesel::sql_query(sql).load(c).map_err(|e| e.to_string())?;
    Ok(rows.into_iter().next().map(|v| v.v).unwrap_or_default())
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = v)]
    v: String,
}

// ---- the no-op job and its verification ---------------------------------------------------

const NOOP: &str = "bench_noop";

/// How often each job (by number) ran, and how many runs in all.
struct Seen(Vec<AtomicU8>, AtomicU64);

impl Seen {
    fn new(n: u64) -> Arc<Seen> {
        Arc::new(Seen(
            (0..n).map(|_| AtomicU8::new(0)).collect(),
            AtomicU64::new(0),
        ))
    }
}

fn noop_client(store: Arc<dyn Store>, seen: &Arc<Seen>) -> Result<Client, BoxError> {
    noop_client_on(vec![store], seen)
}

/// A client on these stores (the scale-out's two databases) that can do the no-op job.
fn noop_client_on(stores: Vec<Arc<dyn Store>>, seen: &Arc<Seen>) -> Result<Client, BoxError> {
    let client = Client::builder()
        .stores(stores)
        .pruning(Pruning::Off)
        .build()?;
    let seen = Arc::clone(seen);
    client.can_do(NOOP, move |job: &QueuedJob| -> Result<(), WorkError> {
        let bytes: [u8; 8] = job
            .raw_arg()
            .and_then(|a| a.try_into().ok())
            .ok_or("bad arg")?;
        let n = u64::from_le_bytes(bytes) as usize;
        seen.0
            .get(n)
            .ok_or("job number out of range")?
            .fetch_add(1, Ordering::Relaxed);
        seen.1.fetch_add(1, Ordering::Relaxed);
        Ok(())
    })?;
    Ok(client)
}

/// What an idle pool (2 threads, the pool's defaults otherwise) costs the database: the
/// statements the server counted over 10 s (PostgreSQL: transactions of the database, in
/// `pg_stat_database`, which backends report at most once a second; MariaDB: the
/// server's `Questions`), less the reading itself.
fn idle_queries(backend: &Backend, name: &str) -> Result<Row, BoxError> {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    enum Conn {
        Pg(diesel::PgConnection),
        My(diesel::MysqlConnection),
    }
    let fresh = backend.fresh()?;
    let url = fresh.url.clone().ok_or("no URL")?;
    // One connection for both readings, made before the first: only the second reading
    // itself falls inside the window.
    let mut conn = if backend.kind == Kind::Postgres {
        Conn::Pg(diesel::PgConnection::establish(&url)?)
    } else {
        Conn::My(diesel::MysqlConnection::establish(&url)?)
    };
    let mut count =
        move || -> Result<i64, BoxError> {
            Ok(match &mut conn {
                Conn::Pg(c) => diesel::sql_query(
                    "SELECT CAST(COALESCE(SUM(xact_commit + xact_rollback), 0) AS BIGINT) AS n \
                     FROM pg_stat_database WHERE datname = current_database()",
                )
                .get_result::<N>(c)?
                .n,
                Conn::My(c) => {
                    diesel::sql_query(
                        "SELECT CAST(VARIABLE_VALUE AS SIGNED) AS n \
                     FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'QUESTIONS'",
                    )
                    .get_result::<N>(c)?
                    .n
                }
            })
        };
    let client = Client::builder()
        .store(Arc::clone(&fresh.store))
        .pruning(Pruning::Off)
        .build()?;
    client.can_do("bench_idle", |_: &QueuedJob| -> Result<(), WorkError> {
        Ok(())
    })?;
    let pool = WorkerPool::builder(client).threads(2).build()?.spawn()?;
    std::thread::sleep(Duration::from_secs(2));
    let window = Duration::from_secs(10);
    let before = count()?;
    std::thread::sleep(window);
    // Let PostgreSQL's backends report what they did in the window.
    std::thread::sleep(Duration::from_millis(1200));
    let after = count()?;
    let summary = pool.shutdown()?;
    let own = 1;
    let per_s = (after - before - own).max(0) as f64 / window.as_secs_f64();
    let mut row = rate_row(name, 0, window, "", Ok(()));
    row.figure = format!(
        "{per_s:.1} statements/s ({} over {} s, the server's count{})",
        after - before - own,
        window.as_secs(),
        if backend.kind == Kind::Postgres {
            ": transactions"
        } else {
            ""
        }
    );
    row.rate = None;
    if summary.errors > 0 {
        row.check = format!("pool reported problems: {summary}");
    }
    Ok(row)
}

/// Replaces the tables of a fresh database by TheSchwartz's own schema files (the ones the
/// compatibility tests load: no notify trigger on PostgreSQL, `INTEGER` times, unsigned
/// MySQL columns) and opens a store on it.
fn upstream_schema(kind: Kind, fresh: &Fresh) -> Result<Arc<dyn Store>, BoxError> {
    let url = fresh.url.as_deref().ok_or("no URL")?;
    match kind {
        Kind::Postgres => {
            let mut c = diesel::PgConnection::establish(url)?;
            c.batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")?;
            c.batch_execute(include_str!(
                "../../../schwartz-diesel/tests/upstream/postgres.sql"
            ))?;
        }
        Kind::MariaDb => {
            let mut c = diesel::MysqlConnection::establish(url)?;
            c.batch_execute(
                "DROP TABLE IF EXISTS job, error, exitstatus, funcmap, note, \
                 schwartz_schedule, schwartz_result, __diesel_schema_migrations",
            )?;
            let sql = include_str!("../../../schwartz-diesel/tests/upstream/mysql.sql");
            for stmt in sql.split(';').filter(|s| s.contains("CREATE")) {
                c.batch_execute(stmt)?;
            }
        }
        Kind::Sqlite => {
            let mut c = diesel::SqliteConnection::establish(url.trim_start_matches("sqlite://"))?;
            c.batch_execute(
                "DROP TABLE IF EXISTS job; DROP TABLE IF EXISTS error; \
                 DROP TABLE IF EXISTS exitstatus; DROP TABLE IF EXISTS funcmap; \
                 DROP TABLE IF EXISTS note; DROP TABLE IF EXISTS schwartz_schedule; \
                 DROP TABLE IF EXISTS schwartz_result; \
                 DROP TABLE IF EXISTS __diesel_schema_migrations",
            )?;
            c.batch_execute(include_str!(
                "../../../schwartz-diesel/tests/upstream/sqlite.sql"
            ))?;
        }
        Kind::Memory => return Err("no SQL schema in memory".into()),
    }
    Ok(Arc::new(schwartz_diesel::DieselStore::connect(url)?))
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn noop_job(n: u64) -> Job {
    Job::new(NOOP).raw_arg(n.to_le_bytes().to_vec())
}

fn insert_batches(client: &Client, n: u64) -> Result<(), BoxError> {
    insert_batches_of(client, n, 1000)
}

fn insert_batches_of(client: &Client, n: u64, batch: u64) -> Result<(), BoxError> {
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        client.insert_jobs((i..end).map(noop_job).collect())?;
        i = end;
    }
    Ok(())
}

/// Every job ran exactly once and none is left.
fn verify(store: &Arc<dyn Store>, seen: &Seen) -> Result<(), String> {
    verify_on(std::slice::from_ref(store), seen)
}

/// As [`verify`], for the jobs of several stores (the scale-out's two databases).
fn verify_on(stores: &[Arc<dyn Store>], seen: &Seen) -> Result<(), String> {
    let mut left = 0;
    for store in stores {
        left += store.stats().map_err(|e| e.to_string())?.jobs;
    }
    if left != 0 {
        return Err(format!("{left} jobs left"));
    }
    let mut never = 0;
    let mut twice = 0;
    for s in &seen.0 {
        match s.load(Ordering::Relaxed) {
            0 => never += 1,
            1 => {}
            _ => twice += 1,
        }
    }
    if never + twice > 0 {
        return Err(format!(
            "{never} jobs never ran, {twice} ran more than once"
        ));
    }
    Ok(())
}

fn drain(client: &Client, threads: usize) -> Result<(), BoxError> {
    let s = pool_builder(client, threads).build()?.run_until_done()?;
    if s.errors + s.lease_lost + s.failed > 0 {
        return Err(format!("pool reported problems: {s}").into());
    }
    Ok(())
}

// ---- results ------------------------------------------------------------------------------

struct Row {
    scenario: String,
    jobs: u64,
    seconds: f64,
    /// Our figure (jobs/s, or a latency text).
    figure: String,
    rate: Option<f64>,
    perl: Option<f64>,
    /// The database's own ceiling for the same work (jobs/s), see `ceilings.rs`.
    ceiling: Option<f64>,
    target: String,
    check: String,
}

fn rate_row(
    scenario: impl Into<String>,
    jobs: u64,
    elapsed: Duration,
    target: &str,
    check: Result<(), String>,
) -> Row {
    let seconds = elapsed.as_secs_f64();
    let rate = jobs as f64 / seconds.max(1e-9);
    Row {
        scenario: scenario.into(),
        jobs,
        seconds,
        figure: format!("{rate:.0}/s"),
        rate: Some(rate),
        perl: None,
        ceiling: None,
        target: target.to_string(),
        check: match check {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("FAILED: {e}"),
        },
    }
}

fn failed_row(scenario: impl Into<String>, e: &dyn std::fmt::Display) -> Row {
    skipped_row(scenario, format!("FAILED: {e}"))
}

/// A row without figures; `check` says why (`skipped: ...`, `FAILED: ...`).
fn skipped_row(scenario: impl Into<String>, check: String) -> Row {
    Row {
        scenario: scenario.into(),
        jobs: 0,
        seconds: 0.0,
        figure: "-".into(),
        rate: None,
        perl: None,
        ceiling: None,
        target: String::new(),
        check,
    }
}

fn print_table(title: &str, rows: &[Row]) {
    let headers = [
        "scenario",
        "jobs",
        "seconds",
        "ours",
        "Perl",
        "ours/Perl",
        "of ceiling",
        "target",
        "check",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.scenario.clone(),
                if r.jobs > 0 {
                    r.jobs.to_string()
                } else {
                    "-".into()
                },
                if r.seconds > 0.0 {
                    format!("{:.2}", r.seconds)
                } else {
                    "-".into()
                },
                r.figure.clone(),
                r.perl.map_or("-".into(), |p| format!("{p:.0}/s")),
                match (r.rate, r.perl) {
                    (Some(a), Some(b)) if b > 0.0 => format!("{:.1}x", a / b),
                    _ => "-".into(),
                },
                match (r.rate, r.ceiling) {
                    (Some(a), Some(c)) if c > 0.0 => format!("{:.0}%", 100.0 * a / c),
                    _ => "-".into(),
                },
                r.target.clone(),
                r.check.clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = format!("\n## {title}\n\n");
    let line = |cols: &[String]| {
        let mut s = String::from("|");
        for (i, c) in cols.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i == 0 || i >= 7 {
                let _ = write!(s, " {c}{} |", " ".repeat(pad));
            } else {
                let _ = write!(s, " {}{c} |", " ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    out += &line(&headers.map(String::from));
    out += &line(&widths.map(|w| "-".repeat(w)));
    for row in &cells {
        out += &line(row);
    }
    print!("{out}");
}

// ---- scenarios ----------------------------------------------------------------------------

struct Targets {
    single: &'static str,
    batch: &'static str,
    drain: &'static str,
    one: &'static str,
    latency: &'static str,
}

fn targets(kind: Kind) -> Targets {
    match kind {
        Kind::Memory => Targets {
            single: "",
            batch: "",
            drain: ">=500k/s",
            one: "",
            latency: "p50<=0.1ms",
        },
        Kind::Sqlite => Targets {
            single: ">=1.5x Perl",
            batch: ">=100k/s",
            drain: ">=20k/s, >=15x Perl 2p",
            one: ">=3x Perl 1p",
            latency: "p50<=10ms",
        },
        Kind::Postgres => Targets {
            single: ">=1.5x Perl",
            batch: ">=100k/s",
            drain: ">=25k/s, >=15x Perl 2p",
            one: ">=3x Perl 1p",
            latency: "p50<=5ms p99<=20ms",
        },
        Kind::MariaDb => Targets {
            single: ">=1.5x Perl",
            batch: ">=50k/s",
            drain: ">=10k/s, >=15x Perl 2p",
            one: ">=3x Perl 1p",
            latency: "p50<=15ms",
        },
    }
}

fn run_backend(backend: &Backend, opts: &Options) -> Vec<Row> {
    let n = opts.jobs;
    // Per-job round trips are slow on SQL servers: keep those scenarios short.
    let single_n = (n / 20).clamp(100, 5000);
    let one_n = (n / 20).clamp(100, 5000);
    let perl_n = (n / 100).clamp(100, 1000);
    let samples = (n / 100).clamp(100, 1000);
    let t = targets(backend.kind);
    let mut rows = Vec::new();

    // Perl first, so its figures can sit next to ours.
    let perl = if opts.perl && backend.kind != Kind::Memory {
        perl_baseline(backend, opts, perl_n)
    } else {
        None
    };

    let wanted = |name: &str| opts.only.as_ref().is_none_or(|o| name.contains(o.as_str()));
    let mut push = |r: Result<Row, BoxError>, name: &str| match r {
        Ok(row) => {
            eprintln!("  {}: {} {}", row.scenario, row.figure, row.check);
            rows.push(row)
        }
        Err(e) => {
            eprintln!("  {name}: FAILED: {e}");
            rows.push(failed_row(name, &e))
        }
    };

    // The database's own ceilings first, each figure below is read against one.
    let mut ceil = ceilings::Ceilings::default();
    if backend.kind != Kind::Memory && wanted("ceiling") {
        let measured = backend
            .fresh()
            .and_then(|fresh| ceilings::measure(fresh.url.as_deref().ok_or("no URL")?, n));
        match measured {
            Ok(c) => {
                ceil = c;
                for (name, rate, jobs) in [
                    (ceilings::INSERT1, c.insert1, single_n),
                    (ceilings::INSERT100, c.insert100, n),
                    (ceilings::CLAIM1, c.claim1, one_n),
                    (ceilings::CLAIM100, c.claim100, n),
                ] {
                    let row = Row {
                        scenario: name.to_string(),
                        jobs,
                        seconds: 0.0,
                        figure: rate.map_or("-".into(), |r| format!("{r:.0}/s")),
                        rate,
                        perl: None,
                        ceiling: None,
                        target: String::new(),
                        check: "reference".into(),
                    };
                    push(Ok(row), name);
                }
            }
            Err(e) => push(Err(e), "ceilings"),
        }
    }

    let name = "enqueue, 1 job per insert";
    if wanted(name) {
        push(
            (|| {
                let fresh = backend.fresh()?;
                let seen = Seen::new(single_n);
                let client = noop_client(Arc::clone(&fresh.store), &seen)?;
                let t0 = Instant::now();
                for i in 0..single_n {
                    client.insert(noop_job(i))?;
                }
                let elapsed = t0.elapsed();
                drain(&client, 2)?;
                let mut row = rate_row(
                    name,
                    single_n,
                    elapsed,
                    t.single,
                    verify(&fresh.store, &seen),
                );
                row.perl = perl.as_ref().map(|p| p.insert_rate);
                row.ceiling = ceil.insert1;
                Ok(row)
            })(),
            name,
        );
    }

    let name = "enqueue, 1 job per insert, TheSchwartz's own schema";
    if backend.kind != Kind::Memory && wanted(name) {
        push(
            (|| {
                let fresh = backend.fresh()?;
                let store = upstream_schema(backend.kind, &fresh)?;
                let seen = Seen::new(single_n);
                let client = noop_client(Arc::clone(&store), &seen)?;
                let t0 = Instant::now();
                for i in 0..single_n {
                    client.insert(noop_job(i))?;
                }
                let elapsed = t0.elapsed();
                drain(&client, 2)?;
                let mut row = rate_row(name, single_n, elapsed, t.single, verify(&store, &seen));
                row.perl = perl.as_ref().map(|p| p.insert_rate);
                row.ceiling = ceil.insert1;
                Ok(row)
            })(),
            name,
        );
    }

    for batch in [100u64, 1000] {
        let name = format!(
            "insert_jobs, batches of {}",
            if batch == 100 { "100" } else { "1,000" }
        );
        if wanted(&name) {
            push(
                (|| {
                    let fresh = backend.fresh()?;
                    let seen = Seen::new(n);
                    let client = noop_client(Arc::clone(&fresh.store), &seen)?;
                    let t0 = Instant::now();
                    insert_batches_of(&client, n, batch)?;
                    let elapsed = t0.elapsed();
                    drain(&client, 2)?;
                    let mut row = rate_row(
                        name.clone(),
                        n,
                        elapsed,
                        t.batch,
                        verify(&fresh.store, &seen),
                    );
                    row.ceiling = ceil.insert100;
                    Ok(row)
                })(),
                &name,
            );
        }
    }

    for &threads in &opts.threads {
        let name = format!(
            "drain, WorkerPool of {threads} thread{}",
            if threads == 1 { "" } else { "s" }
        );
        if wanted(&name) {
            push(
                (|| {
                    let fresh = backend.fresh()?;
                    let seen = Seen::new(n);
                    let client = noop_client(Arc::clone(&fresh.store), &seen)?;
                    insert_batches(&client, n)?;
                    if opts.analyze {
                        analyze(&fresh)?;
                    }
                    let pool = pool_builder(&client, threads).build()?;
                    let t0 = Instant::now();
                    let s = pool.run_until_done()?;
                    let elapsed = t0.elapsed();
                    let check = if s.errors + s.lease_lost + s.failed > 0 {
                        Err(format!("pool reported problems: {s}"))
                    } else {
                        verify(&fresh.store, &seen)
                    };
                    let mut row = rate_row(name.clone(), n, elapsed, t.drain, check);
                    row.perl = perl.as_ref().map(|p| p.work2_rate);
                    row.ceiling = ceil.claim100;
                    Ok(row)
                })(),
                &name,
            );
        }
    }

    let name = format!(
        "long drain, {} jobs, pool of 2 in a process of its own: last tenth vs first",
        thousands(opts.long_jobs)
    );
    if backend.kind == Kind::Postgres && wanted(&name) {
        push(long_drain::row(backend, opts.long_jobs, &name), &name);
    }

    if backend.kind == Kind::Postgres && wanted(scale_out::NAME) {
        for row in scale_out::rows(opts, n) {
            push(Ok(row), scale_out::NAME);
        }
    }

    let name = "one at a time, work_until_done";
    if wanted(name) {
        push(
            (|| {
                let fresh = backend.fresh()?;
                let seen = Seen::new(one_n);
                let client = noop_client(Arc::clone(&fresh.store), &seen)?;
                insert_batches(&client, one_n)?;
                let t0 = Instant::now();
                let worked = client.work_until_done()?;
                let elapsed = t0.elapsed();
                let check = if worked as u64 != one_n {
                    Err(format!("worked {worked} of {one_n}"))
                } else {
                    verify(&fresh.store, &seen)
                };
                let mut row = rate_row(name, one_n, elapsed, t.one, check);
                row.perl = perl.as_ref().map(|p| p.work1_rate);
                row.ceiling = ceil.claim1;
                Ok(row)
            })(),
            name,
        );
    }

    for elsewhere in [false, true] {
        let name = if elsewhere {
            "latency, insert by another client (notify)"
        } else {
            "latency, insert by the pool's client"
        };
        if wanted(name) {
            push(latency(backend, samples, elsewhere, name, t.latency), name);
        }
    }
    let name = "idle pool: queries per second it sends";
    if matches!(backend.kind, Kind::Postgres | Kind::MariaDb) && wanted(name) {
        push(idle_queries(backend, name), name);
    }
    // The ceilings again, after the scenarios. A shared machine's disk and CPU drift during
    // a run (the fsync latency behind every commit moved by 2x within minutes here), so each
    // ratio is read against the mean of the ceiling measured before and after the
    // scenarios, and the reference rows show both measurements.
    if backend.kind != Kind::Memory && wanted("ceiling") && ceil.insert1.is_some() {
        let measured = backend
            .fresh()
            .and_then(|fresh| ceilings::measure(fresh.url.as_deref().ok_or("no URL")?, n));
        match measured {
            Ok(after) => rebase_on_ceilings(&mut rows, &ceil, &after),
            Err(e) => eprintln!("  ceilings, measured again: FAILED: {e} (ratios use the first)"),
        }
    }
    if let Some(p) = &perl {
        rows.push(Row {
            scenario: format!("Perl TheSchwartz {} (insert / 1 proc / 2 procs)", p.version),
            jobs: perl_n,
            seconds: 0.0,
            figure: format!(
                "{:.0} / {:.0} / {:.0} /s",
                p.insert_rate, p.work1_rate, p.work2_rate
            ),
            rate: None,
            perl: None,
            ceiling: None,
            target: String::new(),
            check: p.check.clone(),
        });
    }
    rows
}

/// Reads every ratio against the mean of the ceiling measured `before` and `after` the
/// scenarios; the reference rows show both.
fn rebase_on_ceilings(rows: &mut [Row], before: &ceilings::Ceilings, after: &ceilings::Ceilings) {
    let pairs = [
        (ceilings::INSERT1, before.insert1, after.insert1),
        (ceilings::INSERT100, before.insert100, after.insert100),
        (ceilings::CLAIM1, before.claim1, after.claim1),
        (ceilings::CLAIM100, before.claim100, after.claim100),
    ];
    for (name, b, a) in pairs {
        let (Some(b), Some(a)) = (b, a) else { continue };
        let mean = (a + b) / 2.0;
        for row in rows.iter_mut() {
            if row.scenario == name {
                row.figure = format!("{mean:.0}/s (before {b:.0}, after {a:.0})");
                row.rate = Some(mean);
            } else if row.ceiling == Some(b) {
                row.ceiling = Some(mean);
            }
        }
    }
}

/// Refreshes the planner's statistics of `job` (what autovacuum / InnoDB would do a little
/// later after a bulk insert): `--analyze`.
fn analyze(fresh: &Fresh) -> Result<(), BoxError> {
    let Some(url) = &fresh.url else { return Ok(()) };
    if url.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(url)?;
        diesel::sql_query("ANALYZE job").execute(&mut c)?;
    } else if url.starts_with("mysql") {
        let mut c = diesel::MysqlConnection::establish(url)?;
        diesel::sql_query("ANALYZE TABLE job").execute(&mut c)?;
    } else {
        let mut c = diesel::SqliteConnection::establish(url.trim_start_matches("sqlite://"))?;
        diesel::sql_query("ANALYZE").execute(&mut c)?;
    }
    Ok(())
}

fn latency(
    backend: &Backend,
    samples: u64,
    elsewhere: bool,
    name: &str,
    target: &str,
) -> Result<Row, BoxError> {
    let fresh = backend.fresh()?;
    if elsewhere && fresh.store.notifier()?.is_none() {
        return Ok(skipped_row(
            name,
            "skipped: no notifications on this backend (poll only)".into(),
        ));
    }
    let client = Client::builder()
        .store(Arc::clone(&fresh.store))
        .pruning(Pruning::Off)
        .build()?;
    let (tx, rx) = unbounded::<Instant>();
    client.can_do(
        "bench_latency",
        move |_: &QueuedJob| -> Result<(), WorkError> {
            let _ = tx.send(Instant::now());
            Ok(())
        },
    )?;
    let pool = WorkerPool::builder(client.clone())
        .threads(2)
        .poll_interval(Duration::from_secs(5))
        .notifications(Notifications::Listen)
        .build()?
        .spawn()?;
    let inserter = if elsewhere {
        Client::builder()
            .store(backend.reopen(&fresh)?)
            .pruning(Pruning::Off)
            .build()?
    } else {
        client.clone()
    };
    std::thread::sleep(Duration::from_millis(200));
    let mut lat = Vec::with_capacity(samples as usize);
    let t_all = Instant::now();
    for _ in 0..samples {
        std::thread::sleep(Duration::from_millis(2));
        let t0 = Instant::now();
        inserter.insert(Job::new("bench_latency"))?;
        let at = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "a job did not start within 30 s")?;
        lat.push(at.duration_since(t0));
    }
    let elapsed = t_all.elapsed();
    let summary = pool.shutdown()?;
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let left = fresh.store.stats()?.jobs;
    let check = if summary.completed != samples || left != 0 {
        Err(format!(
            "{} completed of {samples}, {left} left",
            summary.completed
        ))
    } else {
        Ok(())
    };
    Ok(Row {
        scenario: name.to_string(),
        jobs: samples,
        seconds: elapsed.as_secs_f64(),
        figure: format!("p50 {:.2}ms p99 {:.2}ms", ms(pct(0.50)), ms(pct(0.99))),
        rate: None,
        perl: None,
        ceiling: None,
        target: target.to_string(),
        check: match check {
            Ok(()) => "ok".into(),
            Err(e) => format!("FAILED: {e}"),
        },
    })
}

// ---- Perl -----------------------------------------------------------------------------------

struct Perl {
    version: String,
    insert_rate: f64,
    work1_rate: f64,
    work2_rate: f64,
    check: String,
}

fn perl_baseline(backend: &Backend, opts: &Options, jobs: u64) -> Option<Perl> {
    let version = Command::new("perl")
        .args(["-MTheSchwartz", "-e", "print $TheSchwartz::VERSION"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let Some(version) = version else {
        eprintln!("  Perl TheSchwartz is not installed: no baseline");
        return None;
    };
    let mut insert_rate = 0.0;
    let mut rates = [0.0f64; 2];
    let mut problems = Vec::new();
    for (i, workers) in [1u32, 2].into_iter().enumerate() {
        let run = || -> Result<(f64, f64, u64), BoxError> {
            let fresh = backend.fresh()?;
            let (dsn, user, pass) = fresh.perl.clone().ok_or("no DBI data source")?;
            let out = Command::new("perl")
                .arg(&opts.perl_script)
                .args(["--dsn", &dsn, "--user", &user, "--pass", &pass])
                .args([
                    "--jobs",
                    &jobs.to_string(),
                    "--workers",
                    &workers.to_string(),
                ])
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            if !out.status.success() {
                return Err(format!(
                    "perl failed: {}{}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            let field = |k: &str| -> Result<f64, BoxError> {
                let v = text
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                    .ok_or_else(|| format!("no {k} in perl output {text:?}"))?;
                Ok(v.parse()?)
            };
            let left = field("left")? as u64;
            Ok((
                jobs as f64 / field("insert_seconds")?,
                jobs as f64 / field("work_seconds")?,
                left,
            ))
        };
        match run() {
            Ok((ins, work, left)) => {
                if i == 0 {
                    insert_rate = ins;
                }
                rates[i] = work;
                if left > 0 {
                    problems.push(format!("{workers} proc: {left} left"));
                }
                eprintln!(
                    "  Perl {workers} proc: insert {ins:.0}/s, work {work:.0}/s, {left} left"
                );
            }
            Err(e) => {
                eprintln!("  Perl {workers} proc: FAILED: {e}");
                problems.push(format!("{workers} proc failed: {e}"));
            }
        }
    }
    let nz = |x: f64| if x > 0.0 { x } else { f64::NAN };
    Some(Perl {
        version,
        insert_rate: nz(insert_rate),
        work1_rate: nz(rates[0]),
        work2_rate: nz(rates[1]),
        check: if problems.is_empty() {
            "ok (none left)".into()
        } else {
            format!("FAILED: {}", problems.join("; "))
        },
    })
}

// ---- main -------------------------------------------------------------------------------------

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let opts = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(scenario) = &opts.scenario {
        let result = match scenario.as_str() {
            long_drain::SCENARIO => long_drain::child(opts.long_jobs),
            other => Err(format!(
                "unknown --scenario {other:?} (only {:?}, which the bench runs itself)",
                long_drain::SCENARIO
            )
            .into()),
        };
        if let Err(e) = result {
            eprintln!("bench --scenario {scenario}: {e}");
            std::process::exit(1);
        }
        return;
    }
    println!(
        "# Schwartz benchmark: {} jobs per drain, {} CPUs",
        opts.jobs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut failed = false;
    for &kind in &opts.backends {
        let backend = Backend::new(kind, &opts);
        match backend.probe() {
            Err(e) => println!(
                "\n## {}\n\nskipped: server not reachable ({e})",
                kind.title()
            ),
            Ok(what) => {
                eprintln!("{}: {what}", kind.title());
                let rows = run_backend(&backend, &opts);
                failed |= rows.iter().any(|r| r.check.starts_with("FAILED"));
                print_table(&format!("{} ({what})", kind.title()), &rows);
            }
        }
    }
    if failed {
        eprintln!("\nbench: some scenarios FAILED their checks");
        std::process::exit(1);
    }
}
