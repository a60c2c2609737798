//! `cargo xtask test`: the unit tests and the conformance suite on every backend.
//!
//! Runs `$CARGO test --workspace` once. The conformance suite (`tests/tests/conformance.rs`
//! in crate `schwartz-tests`, running the `schwartz-testkit` contract, which compiles
//! `schwartz-diesel` with all three backends) runs every case on the in-memory store and on
//! SQLite, PostgreSQL and MySQL when their servers are reachable, and prints the backend x
//! passed/failed/skipped table. With `CI=true` an unreachable server is a failure
//! (`schwartz_testkit::env::ci` decides; `ci` here mirrors it).
//!
//! Before that it checks the system packages the build and the tests need (the PostgreSQL
//! and MySQL client libraries, pkg-config, Perl TheSchwartz for the compatibility tests) and,
//! on a Debian machine where it runs as root, installs the missing ones with apt-get.

use std::process::{Command, Stdio};

use crate::dsn::redact;

/// What the build and the tests need from the system: a check, and the Debian packages
/// that satisfy it.
const NEEDS: &[(&str, &[&str], &[&str])] = &[
    ("pkg-config", &["pkg-config", "--version"], &["pkg-config"]),
    (
        "libpq",
        &["pkg-config", "--exists", "libpq"],
        &["libpq-dev"],
    ),
    (
        "libmysqlclient",
        &["pkg-config", "--exists", "mysqlclient"],
        &["libmariadb-dev-compat", "libmariadb-dev"],
    ),
    (
        "Perl TheSchwartz with DBD::Pg, DBD::mysql, DBD::SQLite",
        &[
            "perl",
            "-MTheSchwartz",
            "-MDBD::Pg",
            "-MDBD::mysql",
            "-MDBD::SQLite",
            "-e1",
        ],
        &[
            "libtheschwartz-perl",
            "libdbd-pg-perl",
            "libdbd-mysql-perl",
            "libdbd-sqlite3-perl",
        ],
    ),
];

/// Whether a command runs and succeeds (quietly).
fn succeeds(argv: &[&str]) -> bool {
    Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Checks the system packages; installs the missing ones with apt-get when running as root
/// on Debian, else says what to install.
fn ensure_system_packages() -> Result<(), String> {
    let missing: Vec<(&str, &[&str])> = NEEDS
        .iter()
        .filter(|(_, check, _)| !succeeds(check))
        .map(|(what, _, pkgs)| (*what, *pkgs))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|(what, _)| *what).collect();
    let packages: Vec<&str> = missing
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || !succeeds(&["apt-get", "--version"]) {
        return Err(format!(
            "missing: {}; install them first, e.g. `sudo apt-get install {}` \
             (or pass --no-install to try anyway)",
            names.join(", "),
            packages.join(" ")
        ));
    }
    println!(
        "xtask test: missing {}; installing {} with apt-get",
        names.join(", "),
        packages.join(" ")
    );
    let apt = |args: &[&str]| -> Result<(), String> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("could not run apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("apt-get {} failed ({status})", args.join(" ")))
        }
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&packages);
    apt(&install)
}

/// Whether the tests run under CI: `CI` is `1`, `true` or `yes` (any case).
///
/// This mirrors `schwartz_testkit::env::ci`, the function every test target asks (xtask
/// links no schwartz crate, to stay quick to build); keep the two in step.
fn ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// Arguments of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL server for the conformance suite (each test creates its own database).
    #[arg(long, env = "SCHWARTZ_PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
    /// MySQL/MariaDB server for the conformance suite.
    #[arg(long, env = "SCHWARTZ_MYSQL_URL", hide_env_values = true)]
    mysql_url: Option<String>,
    /// Only these backends (comma-separated: memory,sqlite,postgres,mysql).
    #[arg(long, env = "SCHWARTZ_BACKENDS")]
    backends: Option<String>,
    /// Build in release mode.
    #[arg(long)]
    release: bool,
    /// Do not check or install system packages.
    #[arg(long)]
    no_install: bool,
    /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    rest: Vec<String>,
}

/// Runs `cargo xtask test`.
pub fn run(args: Args) -> Result<(), String> {
    if !args.no_install {
        ensure_system_packages()?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(&cargo);
    cmd.args(["test", "--workspace"]);
    if args.release {
        cmd.arg("--release");
    }
    cmd.args(&args.rest);
    // The suite reads these itself; pass what was given on the command line through.
    let pg = args
        .pg_url
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let mysql = args
        .mysql_url
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".to_string());
    cmd.env("SCHWARTZ_PG_URL", &pg);
    cmd.env("SCHWARTZ_MYSQL_URL", &mysql);
    if let Some(b) = &args.backends {
        cmd.env("SCHWARTZ_BACKENDS", b);
    }
    println!(
        "xtask test: {cargo} test --workspace (PostgreSQL {}, MySQL {}{})",
        redact(&pg),
        redact(&mysql),
        if ci() {
            "; CI=true: an unreachable server fails the run"
        } else {
            "; an unreachable server is skipped (CI=true makes it a failure)"
        }
    );
    let status = cmd
        .status()
        .map_err(|e| format!("could not run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("tests failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use crate::dsn::redact;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/q"),
            "postgres://app:***@db:5432/q"
        );
        assert_eq!(
            redact("mysql://root@127.0.0.1:3306/test"),
            "mysql://root@127.0.0.1:3306/test"
        );
        assert_eq!(redact("mysql://u:p@w@h/d"), "mysql://u:***@h/d");
        assert_eq!(redact("app.db"), "app.db");
        // Mistyped, unencoded and query passwords: the same routine as the library's.
        assert_eq!(redact("postgres:/u:s3cret@h/d"), "postgres:/u:***@h/d");
        assert_eq!(redact("postgres://u:a/b?c@h/d"), "postgres://u:***@h/d");
        assert_eq!(
            redact("postgres://u@h/d?sslpassword=k&x=1"),
            "postgres://u@h/d?sslpassword=***&x=1"
        );
    }
}
