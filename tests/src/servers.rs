//! Private database servers for the fault tests, the failover test and the bench's scale-out
//! scenario: a
//! PostgreSQL or MariaDB server of our own, in a temporary directory, on a free (or a chosen)
//! port of 127.0.0.1, that a test may stop, restart, hang (SIGSTOP) and kill. The shared
//! servers (5432, 3306) are never touched.
//!
//! As root the servers run as `postgres` / `mysql` (initdb and pg_ctl refuse root).
//! They run with `fsync=off` and `synchronous_commit=off` (PostgreSQL) and
//! `innodb_flush_log_at_trx_commit=0` (MariaDB): disposable data.
//! Dropping a [`Server`] (also while a panic unwinds) continues, kills and reaps every
//! process of it and removes its directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::Connection;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PostgreSQL (`initdb`, `postgres` from `$SCHWARTZ_PG_BIN` or `/usr/lib/postgresql`).
    Postgres,
    /// MariaDB (`mariadb-install-db`, `mariadbd`).
    Mariadb,
}

impl Kind {
    /// `postgres` or `mariadb`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mariadb => "mariadb",
        }
    }
}

/// A private server process and its data directory.
#[derive(Debug)]
pub struct Server {
    /// Which server it is.
    pub kind: Kind,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Option<Child>,
}

/// Bound on starting or stopping a server.
const STEP: Duration = Duration::from_secs(90);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn run(mut cmd: Command, what: &str, log: &Path) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let _ = std::fs::write(log, [&out.stdout[..], &out.stderr[..]].concat());
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The PostgreSQL server programs: `$SCHWARTZ_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn pg_bin() -> Result<PathBuf, String> {
    let complete = |b: &Path| ["initdb", "postgres"].iter().all(|p| b.join(p).is_file());
    if let Some(d) = std::env::var_os("SCHWARTZ_PG_BIN") {
        let d = PathBuf::from(d);
        return if complete(&d) {
            Ok(d)
        } else {
            Err(format!(
                "$SCHWARTZ_PG_BIN={} has no initdb/postgres",
                d.display()
            ))
        };
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no /usr/lib/postgresql ({e}): install the postgresql package"))?
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let b = e.path().join("bin");
            complete(&b).then_some((v, b))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no PostgreSQL server programs in /usr/lib/postgresql/*/bin".into())
}

fn mariadb_bin() -> Result<PathBuf, String> {
    for d in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let d = PathBuf::from(d);
        if d.join("mariadbd").is_file() {
            return Ok(d);
        }
    }
    Err("no mariadbd in /usr/sbin, /usr/bin or /usr/local/bin: install mariadb-server".into())
}

impl Server {
    /// Creates and starts a private server on a free port; returns once it accepts
    /// connections.
    ///
    /// # Errors
    /// Why it could not be started (no server programs, initdb failed, not ready in time),
    /// with the server's log where there is one.
    pub fn start(kind: Kind) -> Result<Server, String> {
        Self::start_on(kind, None)
    }

    /// As [`Server::start`], on `port` when given (it must be free), else on a free one.
    ///
    /// # Errors
    /// As [`Server::start`].
    pub fn start_on(kind: Kind, port: Option<u16>) -> Result<Server, String> {
        let bin = match kind {
            Kind::Postgres => pg_bin()?,
            Kind::Mariadb => mariadb_bin()?,
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("schwartz-private-{}-", kind.name()))
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let mut server = Server {
            kind,
            port: match port {
                // A server already there would answer the readiness probe in its place.
                Some(p) => std::net::TcpListener::bind(("127.0.0.1", p))
                    .map(|_| p)
                    .map_err(|e| format!("port {p} of 127.0.0.1 is not free: {e}"))?,
                None => free_port()?,
            },
            dir,
            bin,
            child: None,
        };
        std::fs::create_dir(server.sockets()).map_err(|e| e.to_string())?;
        if is_root() {
            let owner = match kind {
                Kind::Postgres => "postgres:postgres",
                Kind::Mariadb => "mysql:mysql",
            };
            let mut chown = Command::new("chown");
            chown.args(["-R", owner]).arg(server.dir.path());
            run(chown, "chown", &server.dir.path().join("chown.log"))?;
        }
        server.init()?;
        server.launch()?;
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn sockets(&self) -> PathBuf {
        self.dir.path().join("sockets")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A command for one of the server programs, as the server's user when we are root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = if is_root() && self.kind == Kind::Postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.current_dir(self.dir.path());
        cmd
    }

    fn init(&self) -> Result<(), String> {
        let log = self.dir.path().join("init.log");
        match self.kind {
            Kind::Postgres => {
                let mut c = self.command("initdb");
                c.arg("-D").arg(self.data()).args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]);
                run(c, "initdb", &log)
            }
            Kind::Mariadb => {
                let mut c = Command::new("mariadb-install-db");
                c.arg("--no-defaults")
                    .arg(format!("--datadir={}", self.data().display()))
                    .args([
                        "--user=mysql",
                        "--skip-test-db",
                        "--auth-root-authentication-method=normal",
                    ])
                    .current_dir(self.dir.path());
                run(c, "mariadb-install-db", &log)
            }
        }
    }

    /// Starts the server process on its port and data; returns the instant it first
    /// accepted a connection.
    ///
    /// # Errors
    /// Already running, cannot be spawned, exited while starting or not ready in time.
    pub fn launch(&mut self) -> Result<Instant, String> {
        if self.child.is_some() {
            return Err(format!("{}: already running", self.kind.name()));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = match self.kind {
            Kind::Postgres => {
                let mut c = self.command("postgres");
                c.arg("-D")
                    .arg(self.data())
                    .arg("-p")
                    .arg(self.port.to_string());
                c.arg("-k").arg(self.sockets());
                c.args([
                    "-h",
                    "127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "max_connections=100",
                ]);
                c
            }
            Kind::Mariadb => {
                let mut c = self.command("mariadbd");
                c.arg("--no-defaults")
                    .arg(format!("--datadir={}", self.data().display()))
                    .arg(format!(
                        "--socket={}",
                        self.sockets().join("mysqld.sock").display()
                    ))
                    .arg(format!(
                        "--pid-file={}",
                        self.sockets().join("mysqld.pid").display()
                    ))
                    .arg(format!("--port={}", self.port))
                    .args([
                        "--user=mysql",
                        "--bind-address=127.0.0.1",
                        "--skip-name-resolve",
                        "--skip-log-bin",
                        "--innodb-buffer-pool-size=64M",
                        "--innodb-flush-log-at-trx-commit=0",
                        "--max-connections=200",
                    ]);
                c
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.kind.name()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<Instant, String> {
        let end = Instant::now() + STEP;
        let mut last = String::new();
        while Instant::now() < end {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!(
                    "{} exited ({status}) while starting; log:\n{}",
                    self.kind.name(),
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                ));
            }
            match self.probe() {
                Ok(()) => return Ok(Instant::now()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{} not ready within {STEP:?}: {last}",
            self.kind.name()
        ))
    }

    /// One connection attempt over TCP. MariaDB: first, over the Unix socket, lets root in
    /// from 127.0.0.1 without a password and creates the database `faults`.
    fn probe(&self) -> Result<(), String> {
        match self.kind {
            Kind::Postgres => diesel::PgConnection::establish(&self.url())
                .map(drop)
                .map_err(|e| e.to_string()),
            Kind::Mariadb => {
                let socket = self.sockets().join("mysqld.sock");
                let mut c = diesel::MysqlConnection::establish(&format!(
                    "mysql://root@localhost/mysql?unix_socket={}",
                    socket.display()
                ))
                .map_err(|e| e.to_string())?;
                diesel::connection::SimpleConnection::batch_execute(
                    &mut c,
                    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
                     GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; \
                     CREATE DATABASE IF NOT EXISTS faults",
                )
                .map_err(|e| e.to_string())?;
                diesel::MysqlConnection::establish(&self.url())
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The URL of the server's test database.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Postgres => format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
            Kind::Mariadb => format!("mysql://root@127.0.0.1:{}/faults", self.port),
        }
    }

    /// The pid of the server's main process (PostgreSQL's postmaster, mariadbd).
    fn main_pid(&self) -> Option<u32> {
        match self.kind {
            Kind::Postgres => std::fs::read_to_string(self.data().join("postmaster.pid"))
                .ok()?
                .lines()
                .next()?
                .trim()
                .parse()
                .ok(),
            Kind::Mariadb => self.child.as_ref().map(Child::id),
        }
    }

    /// Every process of the server: the main one and its descendants (PostgreSQL: the
    /// postmaster and its backends), e.g. to read their CPU time.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.child.iter().map(Child::id).collect();
        pids.extend(self.main_pid());
        let mut parents: Vec<(u32, u32)> = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                    continue;
                };
                // "pid (comm) state ppid ...": comm may contain spaces, so split after ')'.
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                if let Some(ppid) = ppid {
                    parents.push((pid, ppid));
                }
            }
        }
        let mut i = 0;
        while i < pids.len() {
            let p = pids[i];
            for &(c, pp) in &parents {
                if pp == p && !pids.contains(&c) {
                    pids.push(c);
                }
            }
            i += 1;
        }
        pids.sort();
        pids.dedup();
        pids
    }

    fn signal(pids: &[u32], sig: &str) {
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .args(pids.iter().map(u32::to_string))
            .stderr(Stdio::null())
            .status();
    }

    /// A clean stop (PostgreSQL: fast shutdown, SIGINT; MariaDB: SIGTERM); waits for exit.
    ///
    /// # Errors
    /// When it has not exited in time.
    pub fn stop(&mut self) -> Result<(), String> {
        let sig = match self.kind {
            Kind::Postgres => "INT",
            Kind::Mariadb => "TERM",
        };
        let main: Vec<u32> = self.main_pid().into_iter().collect();
        Self::signal(&main, sig);
        self.reap(STEP, true)
    }

    /// SIGKILL to every process of the server; waits for exit.
    pub fn kill(&mut self) {
        let pids = self.pids();
        Self::signal(&pids, "CONT");
        Self::signal(&pids, "KILL");
        let _ = self.reap(Duration::from_secs(30), false);
    }

    /// Stops and starts it again on the same port and data; returns the instant it
    /// accepted connections again.
    ///
    /// # Errors
    /// As [`Server::stop`] and [`Server::launch`].
    pub fn restart(&mut self, down_for: Duration) -> Result<Instant, String> {
        self.stop()?;
        std::thread::sleep(down_for);
        self.launch()
    }

    /// SIGSTOP to every process: the server keeps its sockets but answers nothing.
    pub fn hang(&self) {
        Self::signal(&self.pids(), "STOP");
    }

    /// SIGCONT after [`Server::hang`].
    pub fn resume(&self) {
        Self::signal(&self.pids(), "CONT");
    }

    /// Waits for the server's processes to exit (and, after a clean stop of PostgreSQL,
    /// for its pid file to go).
    fn reap(&mut self, limit: Duration, clean: bool) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        let end = Instant::now() + limit;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    self.child = None;
                    return Err(format!(
                        "{} did not exit within {limit:?}",
                        self.kind.name()
                    ));
                }
            }
        }
        self.child = None;
        // PostgreSQL: runuser exits with the postmaster; wait until its pid file is gone.
        while clean
            && self.kind == Kind::Postgres
            && self.data().join("postmaster.pid").exists()
            && Instant::now() < end
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(self.data().join("postmaster.pid"));
    }
}
