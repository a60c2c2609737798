//! `cargo xtask bench`: the benchmark, built in release mode.
//!
//! The benchmark itself is the `bench` example of the `tests` crate
//! (`tests/examples/bench/main.rs`, the ceilings in `ceilings.rs`); this command builds it with `--release` and runs
//! it. It prints one table per backend (memory, SQLite, PostgreSQL, MariaDB; a backend whose
//! server does not answer is reported as skipped) and checks after every scenario that each
//! job was completed exactly once and none is left. On the SQL backends it also runs Perl
//! TheSchwartz (`bench/perl/theschwartz_bench.pl`, needs `libtheschwartz-perl` and the DBD
//! drivers) on the same kind of database, so the table shows the ratio to Perl's figures.
//! On PostgreSQL two more scenarios: a 1,000,000-job drain in a process of its own (last
//! tenth against the first, the process's peak resident memory) and a scale-out (one pool
//! over two databases on two private servers the bench starts, against one).
//!
//! ```text
//! cargo xtask bench                         # 100,000 jobs per drain, every backend
//! cargo xtask bench --scale 0.1             # a quick run
//! cargo xtask bench --backends memory,sqlite --no-perl
//! ```

use std::path::PathBuf;
use std::process::Command;

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Jobs per drain and bulk-insert scenario (default 100,000); single inserts and the
    /// one-at-a-time drain use a twentieth of it (100 to 5,000), the Perl baseline a
    /// hundredth (100 to 1,000), the latency test a hundredth (100 to 1,000 samples).
    #[arg(long)]
    jobs: Option<u64>,
    /// Jobs of the long PostgreSQL drain, which runs in a process of its own so its resident
    /// memory is the pool's (default 1,000,000; scaled by `--scale`).
    #[arg(long)]
    long_jobs: Option<u64>,
    /// Multiplies the job counts (e.g. 0.1 for a quick run).
    #[arg(long)]
    scale: Option<f64>,
    /// Backends, comma-separated: memory,sqlite,postgres,mariadb (default: all).
    #[arg(long)]
    backends: Option<String>,
    /// Worker pool sizes for the drain scenarios, comma-separated (default 1,2,8).
    #[arg(long)]
    threads: Option<String>,
    /// Only scenarios whose name contains this text (e.g. `drain`, `latency`).
    #[arg(long)]
    only: Option<String>,
    /// Refresh the planner statistics of `job` after pre-inserting the drain jobs (what
    /// autovacuum would do shortly after a bulk insert).
    #[arg(long)]
    analyze: bool,
    /// The pool drains' prefetch bound: a number, or `unbounded` (the client's batch size
    /// alone); default: the pool's own default (8 per thread, at least 64).
    #[arg(long)]
    prefetch: Option<String>,
    /// Ports of 127.0.0.1 for the scale-out scenario's two private PostgreSQL servers,
    /// e.g. `55443,55444` (default: free ports).
    #[arg(long)]
    private_pg_ports: Option<String>,
    /// Skip the Perl TheSchwartz baseline.
    #[arg(long)]
    no_perl: bool,
    /// PostgreSQL server (a database is created per scenario and dropped).
    #[arg(long, env = "SCHWARTZ_PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
    /// MySQL/MariaDB server (a database is created per scenario and dropped).
    #[arg(long, env = "SCHWARTZ_MYSQL_URL", hide_env_values = true)]
    mysql_url: Option<String>,
}

/// Runs `cargo xtask bench`.
pub fn run(args: Args) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .ok_or("cannot find the workspace root")?;
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root).args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "schwartz-tests",
        "--example",
        "bench",
        "--",
    ]);
    if let Some(n) = args.jobs {
        cmd.args(["--jobs", &n.to_string()]);
    }
    if let Some(n) = args.long_jobs {
        cmd.args(["--long-jobs", &n.to_string()]);
    }
    if let Some(s) = args.scale {
        cmd.args(["--scale", &s.to_string()]);
    }
    if let Some(b) = &args.backends {
        cmd.args(["--backends", b]);
    }
    if let Some(t) = &args.threads {
        cmd.args(["--threads", t]);
    }
    if let Some(o) = &args.only {
        cmd.args(["--only", o]);
    }
    if args.analyze {
        cmd.arg("--analyze");
    }
    if let Some(p) = &args.prefetch {
        cmd.args(["--prefetch", p]);
    }
    if let Some(p) = &args.private_pg_ports {
        cmd.args(["--private-pg-ports", p]);
    }
    if args.no_perl {
        cmd.arg("--no-perl");
    }
    if let Some(u) = &args.pg_url {
        cmd.args(["--pg-url", u]);
    }
    if let Some(u) = &args.mysql_url {
        cmd.args(["--mysql-url", u]);
    }
    cmd.args([
        "--perl-script",
        &root
            .join("bench/perl/theschwartz_bench.pl")
            .display()
            .to_string(),
    ]);
    eprintln!("xtask bench: building and running the benchmark in release mode ...");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the benchmark failed ({status})"))
    }
}
