//! `schwartz errors`: the newest failures, and `--follow` for new ones.
//!
//! `--follow` reads each database's `error` rows from a moving cursor minus a window
//! ([`SLACK`] seconds), and prints a row only when it has not been printed before. Rows
//! have no key of their own, so a row is known by all its fields, counted (two identical
//! rows are two failures): a failure written late, with an `error_time` up to [`SLACK`]
//! seconds behind the newest one seen, is still printed once, and nothing twice.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use schwartz_core::store::FailureRecord;
use schwartz_core::{Epoch, FuncId, JobId};
use serde::Serialize;

use super::funcnames;
use crate::db::{Db, DbStatus, Dbs};
use crate::fail::{print_json, Fail};
use crate::when::{datetime, parse_duration, rfc3339};

/// How far behind the newest error seen `--follow` still looks (seconds).
pub const SLACK: i64 = 30;

/// Rows read per poll and database.
const POLL_LIMIT: usize = 10_000;

/// Arguments of `schwartz errors`.
#[derive(Debug, Args)]
pub struct ErrorsArgs {
    /// The newest N errors (default 100).
    #[arg(long, value_name = "N", conflicts_with = "since")]
    pub(crate) last: Option<usize>,
    /// Errors of the last DURATION (e.g. 90s, 15m, 2h, 1d).
    #[arg(long, value_name = "DURATION")]
    pub(crate) since: Option<String>,
    /// Only this function.
    #[arg(long = "func", value_name = "F")]
    pub(crate) func: Option<String>,
    /// After the listing, print new errors as they come until interrupted.
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
    /// Seconds between polls with --follow.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub(crate) interval: f64,
    /// JSON: one document; with --follow, one JSON object per line per error.
    #[arg(long)]
    pub(crate) json: bool,
}

/// One error in the output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorOut {
    pub(crate) time: Epoch,
    pub(crate) time_utc: String,
    pub(crate) handle: String,
    pub(crate) jobid: i64,
    pub(crate) funcname: String,
    pub(crate) database: String,
    pub(crate) message: String,
}

#[derive(Debug, Serialize)]
struct ErrorsOut {
    databases: Vec<DbStatus>,
    errors: Vec<ErrorOut>,
}

fn out(db: &Db, names: &HashMap<FuncId, String>, r: &FailureRecord) -> ErrorOut {
    ErrorOut {
        time: r.error_time,
        time_utc: rfc3339(r.error_time),
        handle: db.handle(r.jobid),
        jobid: r.jobid.0,
        funcname: names.get(&r.funcid).cloned().unwrap_or_default(),
        database: db.name.clone(),
        message: r.message.clone(),
    }
}

/// Prints one error: `YYYY-MM-DD HH:MM:SS  handle  funcname  message` (verbatim).
fn print_line(e: &ErrorOut, json: bool) {
    let mut stdout = std::io::stdout().lock();
    let _ = if json {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string(e).unwrap_or_else(|_| "{}".into())
        )
    } else {
        writeln!(
            stdout,
            "{}  {}  {}  {}",
            datetime(e.time),
            e.handle,
            e.funcname,
            e.message
        )
    };
    let _ = stdout.flush();
}

/// The function's id in one database; `None` when it has none (nothing to show there).
fn funcid_in(names: &HashMap<FuncId, String>, func: &Option<String>) -> Option<Option<FuncId>> {
    match func {
        None => Some(None),
        Some(f) => names.iter().find(|(_, n)| *n == f).map(|(id, _)| Some(*id)),
    }
}

type Sig = (Epoch, JobId, FuncId, String);

fn sig(r: &FailureRecord) -> Sig {
    (r.error_time, r.jobid, r.funcid, r.message.clone())
}

/// The `--follow` state of one database.
struct Cursor {
    db: Db,
    names: HashMap<FuncId, String>,
    funcid: Option<FuncId>,
    /// The newest `error_time` seen.
    newest: Epoch,
    /// Rows seen in the window, counted.
    seen: HashMap<Sig, usize>,
}

impl Cursor {
    /// Reads the window and returns the rows not seen before (oldest first).
    fn poll(&mut self) -> schwartz_core::Result<Vec<FailureRecord>> {
        let from = self.newest - SLACK;
        let rows = self.db.store.failures_from(from, self.funcid, POLL_LIMIT)?;
        let mut counts: HashMap<Sig, usize> = HashMap::new();
        let mut fresh = Vec::new();
        for r in rows {
            let s = sig(&r);
            let n = counts.entry(s.clone()).or_default();
            *n += 1;
            if *n > self.seen.get(&s).copied().unwrap_or(0) {
                self.newest = self.newest.max(r.error_time);
                fresh.push(r);
            }
        }
        for (s, n) in counts {
            let e = self.seen.entry(s).or_default();
            *e = (*e).max(n);
        }
        let floor = self.newest - SLACK;
        self.seen.retain(|s, _| s.0 >= floor);
        Ok(fresh)
    }
}

/// What each database answered: its clock, its function names, the function's id there
/// (`None`: the function is unknown there), the listed rows and the follow window.
type Got = Vec<(
    Db,
    (
        Epoch,
        HashMap<FuncId, String>,
        Option<Option<FuncId>>,
        Vec<FailureRecord>,
        Vec<FailureRecord>,
    ),
)>;

/// The errors `schwartz errors` lists (oldest first), and what each database answered
/// (also behind `schwartz web`).
///
/// # Errors
/// Usage errors for a bad `--since` or a function unknown in every database.
pub(crate) fn listing(dbs: &mut Dbs, a: &ErrorsArgs) -> Result<(Got, Vec<ErrorOut>), Fail> {
    let since = a
        .since
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(Fail::usage)?;
    let last = a.last.unwrap_or(100);
    let got = dbs.each(|d| {
        let now = d.store.server_time()?;
        let names = funcnames(&*d.store)?;
        let Some(funcid) = funcid_in(&names, &a.func) else {
            return Ok((now, names, None, Vec::new(), Vec::new()));
        };
        let rows = match since {
            Some(s) => d.store.failures_from(now - s, funcid, 50_000)?,
            None => d.store.recent_failures(None, funcid, last)?,
        };
        // The follow window, read after the listing: what it has that the listing has not
        // came in between (or was left out by --last) and is printed before following.
        let window = if a.follow {
            d.store.failures_from(now - SLACK, funcid, POLL_LIMIT)?
        } else {
            Vec::new()
        };
        Ok((now, names, Some(funcid), rows, window))
    });
    if let Some(f) = &a.func {
        if !got.is_empty() && got.iter().all(|(_, (_, _, id, _, _))| id.is_none()) {
            return Err(Fail::usage(format!(
                "unknown function {f:?} in every database"
            )));
        }
    }
    let mut all: Vec<ErrorOut> = got
        .iter()
        .flat_map(|(db, (_, names, _, rows, _))| rows.iter().map(|r| out(db, names, r)))
        .collect();
    all.sort_by(|x, y| (x.time, &x.handle).cmp(&(y.time, &y.handle)));
    if since.is_none() && all.len() > last {
        all.drain(..all.len() - last);
    }
    Ok((got, all))
}

/// Runs `schwartz errors`.
pub fn run(dbs: &mut Dbs, a: &ErrorsArgs) -> Result<(), Fail> {
    let since = a
        .since
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(Fail::usage)?;
    let last = a.last.unwrap_or(100);
    let (got, all) = listing(dbs, a)?;
    if a.json && !a.follow {
        print_json(&ErrorsOut {
            databases: dbs.statuses(),
            errors: all,
        })?;
        return dbs.finish();
    }
    for e in &all {
        print_line(e, a.json);
    }
    if !a.follow {
        return dbs.finish();
    }
    let mut cursors: Vec<Cursor> = Vec::new();
    for (db, (now, names, funcid, listed, window)) in got {
        let Some(funcid) = funcid else { continue };
        // Rows older than the listing's cutoff were left out on purpose (--last, --since).
        let cutoff = match since {
            Some(s) => now - s,
            None if listed.len() >= last => {
                listed.iter().map(|r| r.error_time).min().unwrap_or(now)
            }
            None => Epoch::MIN,
        };
        let mut c = Cursor {
            db,
            names,
            funcid,
            newest: now,
            seen: HashMap::new(),
        };
        let mut printed: HashMap<Sig, usize> = HashMap::new();
        for r in &listed {
            *printed.entry(sig(r)).or_default() += 1;
        }
        let mut counts: HashMap<Sig, usize> = HashMap::new();
        for r in &window {
            let s = sig(r);
            let n = counts.entry(s.clone()).or_default();
            *n += 1;
            c.newest = c.newest.max(r.error_time);
            if *n > printed.get(&s).copied().unwrap_or(0) && r.error_time >= cutoff {
                print_line(&out(&c.db, &c.names, r), a.json);
            }
        }
        c.seen = counts;
        cursors.push(c);
    }
    let pause = Duration::from_secs_f64(a.interval.clamp(0.05, 3600.0));
    loop {
        std::thread::sleep(pause);
        for c in &mut cursors {
            match c.poll() {
                Ok(rows) => {
                    for r in rows {
                        print_line(&out(&c.db, &c.names, &r), a.json);
                    }
                }
                // A database that stops answering is reported; following goes on and
                // picks up where it was when it answers again.
                Err(e) => eprintln!(
                    "schwartz: database {} did not answer: {}",
                    c.db.name,
                    crate::fail::one_line(&e.to_string())
                ),
            }
        }
    }
}
