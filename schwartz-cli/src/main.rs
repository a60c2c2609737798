//! `schwartz`: inspect and operate Schwartz / TheSchwartz job queues.
//!
//! Run `schwartz --help` and `schwartz <command> --help`; the crate's README lists the
//! commands, their exit codes and their JSON fields.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod arg;
mod cmd;
mod db;
mod fail;
mod table;
#[cfg(feature = "web")]
mod web;
mod when;

use db::{Connect, Dbs};
use fail::{Fail, EXIT_USAGE};

const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 a threshold was crossed (queues), or a job was not found or was
refused; 2 bad input; 3 a database did not answer (the others are still shown).
`check` follows the monitoring-plugins codes instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

Databases: --database URL (repeatable) or SCHWARTZ_DATABASES (comma-separated); several
databases are one logical queue. URLs: postgres://user@host:5432/db, mysql://user@host/db,
sqlite:///path/jobs.db or a file path. A password may be left out of the URL and given by
SCHWARTZ_PASSWORD or --password-file; passwords are never printed. Tables with a prefix
(TheSchwartz's `prefix`): --table-prefix PREFIX, or ?schwartz_table_prefix=PREFIX in a URL.";

/// Inspect and operate Schwartz / TheSchwartz job queues.
#[derive(Debug, Parser)]
#[command(name = "schwartz", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
struct Global {
    /// A database URL (repeatable).
    #[arg(
        long = "database",
        short = 'd',
        global = true,
        env = "SCHWARTZ_DATABASES",
        value_delimiter = ',',
        hide_env_values = true,
        value_name = "URL"
    )]
    databases: Vec<String>,
    /// A file holding the password for URLs that name a user but no password.
    #[arg(long, global = true, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// Seconds to wait for a database connection.
    #[arg(long, global = true, default_value_t = 5, value_name = "SECS")]
    connect_timeout: u64,
    /// The tables' prefix (TheSchwartz's per-database `prefix`), for every database; a URL
    /// may also say `?schwartz_table_prefix=PREFIX`.
    #[arg(
        long,
        global = true,
        env = "SCHWARTZ_TABLE_PREFIX",
        value_name = "PREFIX"
    )]
    table_prefix: Option<String>,
    /// PostgreSQL: the schema holding the tables, for every database (a URL may also say
    /// `?schwartz_schema=SCHEMA`).
    #[arg(long, global = true, env = "SCHWARTZ_SCHEMA", value_name = "SCHEMA")]
    schema: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the embedded migrations (or list / check / revert them).
    Migrate(cmd::migrate::MigrateArgs),
    /// Insert a job; prints its handle.
    Insert(cmd::jobs::InsertArgs),
    /// List pending jobs, one line each.
    List(cmd::jobs::ListArgs),
    /// Show one job: its row, decoded argument, failure log and exit status.
    Show(cmd::jobs::ShowArgs),
    /// The pending jobs of a function: each argument's encoding and whether it decodes.
    CheckArgs(cmd::args::CheckArgsArgs),
    /// Per function: due, scheduled, running, lag, errors in the last hour; exit 1 on alert.
    Queues(cmd::queues::QueuesArgs),
    /// The newest errors (time, handle, function, message verbatim); --follow streams.
    Errors(cmd::errors::ErrorsArgs),
    /// Running jobs from scoreboard files (ours and Perl TheSchwartz's), like thetop.
    Top(cmd::top::TopArgs),
    /// Move pending jobs to another time (refuses running jobs).
    Reschedule(cmd::change::RescheduleArgs),
    /// Make pending jobs due now (refuses running jobs).
    Retry(cmd::change::RetryArgs),
    /// Remove pending jobs and record the removal (refuses running jobs).
    Cancel(cmd::change::CancelArgs),
    /// Monitoring-plugin check (Nagios, Icinga, Sensu): SCHWARTZ OK|WARNING|CRITICAL.
    Check(cmd::queues::CheckArgs),
    /// One-shot summary of every database: jobs per state, lag, errors.
    Stats(cmd::queues::StatsArgs),
    /// The dashboard: pages, a JSON API and Prometheus /metrics (loopback by default).
    #[cfg(feature = "web")]
    Web(web::WebArgs),
    /// Periodic schedules: spec, function, last tick and next runs (--json).
    Schedules(cmd::schedules::SchedulesArgs),
}

fn password(g: &Global) -> Result<Option<String>, Fail> {
    if let Some(path) = &g.password_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Fail::usage(format!("cannot read password file {}: {e}", path.display()))
        })?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()));
    }
    Ok(std::env::var("SCHWARTZ_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty()))
}

fn run(cli: Cli) -> Result<(), Fail> {
    let connect = Connect {
        urls: cli
            .global
            .databases
            .iter()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect(),
        password: password(&cli.global)?,
        timeout: Duration::from_secs(cli.global.connect_timeout.max(1)),
        table_prefix: cli.global.table_prefix.clone(),
        schema: cli.global.schema.clone(),
    };
    if let Command::Top(a) = &cli.command {
        return cmd::top::run(a);
    }
    if let Command::Check(a) = &cli.command {
        return cmd::queues::check(&connect, a);
    }
    #[cfg(feature = "web")]
    if let Command::Web(a) = &cli.command {
        return web::run(&connect, a);
    }
    let mut dbs = Dbs::open(&connect)?;
    match &cli.command {
        Command::Migrate(a) => cmd::migrate::run(&connect, a),
        Command::Insert(a) => cmd::jobs::insert(&mut dbs, a),
        Command::List(a) => cmd::jobs::list(&mut dbs, a),
        Command::Show(a) => cmd::jobs::show(&mut dbs, a),
        Command::CheckArgs(a) => cmd::args::run(&mut dbs, a),
        Command::Queues(a) => cmd::queues::queues(&mut dbs, a),
        Command::Errors(a) => cmd::errors::run(&mut dbs, a),
        Command::Reschedule(a) => cmd::change::reschedule(&mut dbs, a),
        Command::Retry(a) => cmd::change::retry(&mut dbs, a),
        Command::Cancel(a) => cmd::change::cancel(&mut dbs, a),
        Command::Stats(a) => cmd::queues::stats(&mut dbs, a),
        Command::Schedules(a) => cmd::schedules::run(&mut dbs, a),
        Command::Top(_) | Command::Check(_) => Ok(()),
        #[cfg(feature = "web")]
        Command::Web(_) => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                // `check` speaks the monitoring-plugins codes: bad arguments are UNKNOWN.
                if std::env::args().nth(1).is_some_and(|a| a == "check")
                    || std::env::args().any(|a| a == "check")
                {
                    3
                } else {
                    EXIT_USAGE
                }
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("schwartz: {}", fail::one_line(&f.message));
            }
            ExitCode::from(f.code)
        }
    }
}
