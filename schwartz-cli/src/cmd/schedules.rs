//! `schwartz schedules`: the periodic schedules registered in each database, with their
//! last tick and next runs (through [`Client::schedules`]).

use clap::Args;
use schwartz_core::{datetime_to_epoch, Client, ScheduleInfo};
use serde::Serialize;

use crate::db::{DbStatus, Dbs};
use crate::fail::{print_json, Fail};
use crate::table::{left, render, text};
use crate::when::{datetime, rfc3339};

/// `schwartz schedules`.
#[derive(Debug, Args)]
pub struct SchedulesArgs {
    /// How many next runs to show per schedule.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub next: usize,
    /// One JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One schedule in the output (also `schwartz web`'s schedules page and API).
#[derive(Debug, Serialize)]
pub(crate) struct ScheduleOut {
    pub database: String,
    pub hash: String,
    pub name: String,
    pub function: String,
    pub spec: String,
    pub last_tick: i64,
    pub last_tick_utc: String,
    pub next_runs: Vec<i64>,
    pub next_runs_utc: Vec<String>,
    pub spec_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct SchedulesOut {
    databases: Vec<DbStatus>,
    schedules: Vec<ScheduleOut>,
}

/// Every database's schedules with their `next` runs, through [`Client::schedules`] (a
/// database that does not answer is marked down in `dbs`).
pub(crate) fn listing(dbs: &mut Dbs, next: usize) -> Vec<ScheduleOut> {
    let got = dbs.each(|d| {
        Client::builder()
            .store(d.store.clone())
            .build()?
            .schedules(next)
    });
    let mut out = Vec::new();
    for (db, list) in got {
        out.extend(list.into_iter().map(|s: ScheduleInfo| {
            ScheduleOut {
                database: db.name.clone(),
                hash: db.hash.to_string(),
                name: s.name,
                function: s.funcname,
                spec: s.spec,
                last_tick: datetime_to_epoch(s.last_tick),
                last_tick_utc: rfc3339(datetime_to_epoch(s.last_tick)),
                next_runs: s.next_runs.iter().map(|t| datetime_to_epoch(*t)).collect(),
                next_runs_utc: s
                    .next_runs
                    .iter()
                    .map(|t| rfc3339(datetime_to_epoch(*t)))
                    .collect(),
                spec_error: s.spec_error,
            }
        }));
    }
    out
}

/// Runs `schwartz schedules`.
pub fn run(dbs: &mut Dbs, a: &SchedulesArgs) -> Result<(), Fail> {
    let out = listing(dbs, a.next);
    if a.json {
        print_json(&SchedulesOut {
            databases: dbs.statuses(),
            schedules: out,
        })?;
    } else if out.is_empty() {
        println!("no schedules");
    } else {
        // The database column only when there are several.
        let several = dbs.list.len() > 1;
        let mut cols = vec![
            left("NAME"),
            left("FUNCTION"),
            text("SPEC"),
            left("LAST TICK"),
            left("NEXT RUN"),
        ];
        if several {
            cols.push(text("DATABASE"));
        }
        let rows: Vec<Vec<String>> = out
            .iter()
            .map(|s| {
                let next = match (&s.spec_error, s.next_runs.first()) {
                    (Some(e), _) => format!("bad spec: {e}"),
                    (None, Some(t)) => datetime(*t),
                    (None, None) => "-".into(),
                };
                let mut row = vec![
                    s.name.clone(),
                    s.function.clone(),
                    s.spec.clone(),
                    datetime(s.last_tick),
                    next,
                ];
                if several {
                    row.push(s.database.clone());
                }
                row
            })
            .collect();
        print!("{}", render(&cols, &rows));
    }
    dbs.finish()
}
