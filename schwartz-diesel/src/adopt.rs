//! Refusing to adopt a table that is not TheSchwartz's.
//!
//! Our migrations create their tables with `CREATE TABLE IF NOT EXISTS`, so that a database
//! created by TheSchwartz's own schema files is adopted as it is. An application's own
//! `job` or `error` table would be "adopted" the same way and then written to. Before any
//! migration runs, every table of ours that already exists must have TheSchwartz's columns
//! (extra columns are allowed); otherwise migrating stops with an error that names the
//! table and the database.

use schwartz_core::Error;

use crate::conn::{Ctx, Dialect};

/// Each table of ours with the columns it must have.
const COLUMNS: &[(&str, &[&str])] = &[
    ("funcmap", &["funcid", "funcname"]),
    (
        "job",
        &[
            "jobid",
            "funcid",
            "arg",
            "uniqkey",
            "insert_time",
            "run_after",
            "grabbed_until",
            "priority",
            "coalesce",
        ],
    ),
    ("note", &["jobid", "notekey", "value"]),
    ("error", &["error_time", "jobid", "message", "funcid"]),
    (
        "exitstatus",
        &[
            "jobid",
            "funcid",
            "status",
            "completion_time",
            "delete_after",
        ],
    ),
    (
        "schwartz_schedule",
        &["name", "funcname", "spec", "last_tick"],
    ),
    (
        "schwartz_result",
        &[
            "jobid",
            "funcid",
            "value",
            "completion_time",
            "delete_after",
        ],
    ),
];

/// Checks the tables of ours that exist (see the module docs).
pub(crate) fn check_tables<C: Dialect>(c: &mut C, ctx: &Ctx) -> schwartz_core::Result<()> {
    let names = &*ctx.names;
    for (base, wanted) in COLUMNS {
        let table = format!("{}{base}", names.prefix);
        let found = c
            .column_names(&table, names.schema.as_deref())
            .map_err(|e| ctx.map_db(&e))?;
        if found.is_empty() {
            continue;
        }
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| !found.iter().any(|f| f.eq_ignore_ascii_case(w)))
            .collect();
        if !missing.is_empty() {
            let shown = match &names.schema {
                Some(s) => format!("{s}.{table}"),
                None => table.clone(),
            };
            return Err(Error::Database {
                store: ctx.describe.clone(),
                message: format!(
                    "table {shown} exists but is not TheSchwartz's `{base}` table (it has no column {}); \
                     not adopting it. Give the queue a table prefix of its own \
                     (DieselStoreBuilder::table_prefix, or schwartz_table_prefix=... in the URL)",
                    missing.join(", ")
                ),
            });
        }
    }
    Ok(())
}
