//! Databases, the binary and the Perl client for the end-to-end tests.
//!
//! SQLite always runs; PostgreSQL (`SCHWARTZ_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and MariaDB (`SCHWARTZ_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`) run when reachable and are skipped with a message
//! otherwise; with `CI=true` an unreachable server (or a missing Perl TheSchwartz) fails.

#![allow(dead_code)]

use std::process::{Command as StdCommand, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use schwartz_core::store::Store;
use schwartz_diesel::{admin, Backend, DieselStore};
use serde_json::Value;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn ci() -> bool {
    schwartz_testkit::env::ci()
}

fn server_url(backend: Backend) -> String {
    let (var, default) = match backend {
        Backend::Postgres => ("SCHWARTZ_PG_URL", "postgres://postgres@127.0.0.1:5432/test"),
        _ => ("SCHWARTZ_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    };
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// A database for one test, dropped at the end.
pub struct Db {
    pub backend: Backend,
    pub url: String,
    /// Perl DBI DSN and user.
    pub dsn: String,
    pub user: String,
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.server {
            let _ = admin::drop_database(server, name);
        }
    }
}

/// host, port and user of a server URL `scheme://user[:pw]@host:port/db`.
fn parts(url: &str) -> (String, String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (auth, hostpath) = rest.rsplit_once('@').unwrap_or(("", rest));
    let user = auth.split(':').next().unwrap_or("").to_string();
    let hostport = hostpath.split('/').next().unwrap_or("");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
    (host.to_string(), port.to_string(), user)
}

/// A fresh empty database, or `None` (skipped) when the server is not reachable.
pub fn new_db(backend: Backend) -> Option<Db> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    if backend == Backend::Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db").to_string_lossy().into_owned();
        return Some(Db {
            backend,
            dsn: format!("dbi:SQLite:dbname={path}"),
            url: path,
            user: String::new(),
            server: None,
            _dir: Some(dir),
        });
    }
    let server = server_url(backend);
    let name = format!("sch_cli_{}_{n}", std::process::id());
    if let Err(e) = admin::create_database(&server, &name) {
        assert!(!ci(), "{backend} unreachable with CI=true: {e}");
        eprintln!("SKIPPED on {backend}: {e}");
        return None;
    }
    let (host, port, user) = parts(&server);
    let port = if port.is_empty() {
        String::new()
    } else {
        format!(";port={port}")
    };
    let dsn = match backend {
        Backend::Postgres => format!("dbi:Pg:dbname={name};host={host}{port}"),
        _ => format!("dbi:mysql:database={name};host={host}{port}"),
    };
    Some(Db {
        backend,
        url: admin::with_database(&server, &name).unwrap(),
        dsn,
        user,
        server: Some((server, name)),
        _dir: None,
    })
}

impl Db {
    /// A store on this database (for setting up jobs, leases and failures).
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(DieselStore::connect(&self.url).unwrap())
    }

    /// Runs TheSchwartz's own schema file.
    pub fn load_upstream_schema(&self) {
        let sql = match self.backend {
            Backend::Sqlite => include_str!("../../../schwartz-diesel/tests/upstream/sqlite.sql"),
            Backend::Postgres => {
                include_str!("../../../schwartz-diesel/tests/upstream/postgres.sql")
            }
            _ => include_str!("../../../schwartz-diesel/tests/upstream/mysql.sql"),
        };
        match self.backend {
            Backend::Sqlite => diesel::sqlite::SqliteConnection::establish(&self.url)
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
            Backend::Postgres => diesel::pg::PgConnection::establish(&self.url)
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
            _ => {
                let mut c = diesel::mysql::MysqlConnection::establish(&self.url).unwrap();
                for stmt in sql.split(';').filter(|s| s.contains("CREATE")) {
                    c.batch_execute(stmt).unwrap();
                }
            }
        }
    }

    /// `schwartz` with this database in `SCHWARTZ_DATABASES`.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = assert_cmd::Command::cargo_bin("schwartz").unwrap();
        c.env("SCHWARTZ_DATABASES", &self.url)
            .env_remove("SCHWARTZ_PASSWORD")
            .env("RUST_BACKTRACE", "1")
            .timeout(std::time::Duration::from_secs(120));
        c
    }

    /// Runs `schwartz ARGS`; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        result(&out)
    }

    /// Runs `schwartz ARGS --json`, expecting exit `code`; the JSON document.
    pub fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--json");
        let (got, out, err) = self.run(&all);
        assert_eq!(got, code, "schwartz {all:?}: stdout {out}\nstderr {err}");
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("schwartz {all:?}: not JSON ({e}): {out}"))
    }

    /// Perl DBI arguments: `[dsn, user]`.
    pub fn perl_args(&self) -> [String; 2] {
        [self.dsn.clone(), self.user.clone()]
    }
}

/// (exit code, stdout, stderr); also checks nothing panicked.
pub fn result(out: &Output) -> (i32, String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "the binary panicked: {stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Whether perl with TheSchwartz and the DBD driver of `backend` is available (with
/// `CI=true` it must be).
pub fn have_perl(backend: Backend) -> bool {
    let dbd = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "Pg",
        _ => "mysql",
    };
    let ok = StdCommand::new("perl")
        .args(["-MTheSchwartz", &format!("-MDBD::{dbd}"), "-e1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !ci(),
            "perl with TheSchwartz and DBD::{dbd} is missing with CI=true"
        );
        eprintln!("SKIPPED the Perl part on {backend}: no perl with TheSchwartz and DBD::{dbd}");
    }
    ok
}

/// The Perl prologue: a TheSchwartz client on `$ARGV[0]` (dsn), `$ARGV[1]` (user).
pub const PERL_CLIENT: &str = r#"
use strict; use warnings; use TheSchwartz;
my ($dsn, $user, @rest) = @ARGV;
my $client = TheSchwartz->new(databases => [{ dsn => $dsn, user => $user, pass => '' }]);
"#;

/// Inserts a job with Perl TheSchwartz (hashref argument, i.e. Storable); returns its id.
pub fn perl_insert(db: &Db, funcname: &str) -> i64 {
    let script = format!(
        "{PERL_CLIENT}\nmy $h = $client->insert('{funcname}', {{ n => 1, who => 'perl' }}) \
         or die 'insert failed';\nprint $h->jobid, \"\\n\";"
    );
    let [dsn, user] = db.perl_args();
    let out = StdCommand::new("perl")
        .args(["-e", &script, &dsn, &user])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "perl insert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}
