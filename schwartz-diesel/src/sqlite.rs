//! SQLite: one writer at a time, `BEGIN IMMEDIATE` for writes, WAL for concurrent readers.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use schwartz_core::store::NewJobRow;

use crate::conn::{Ctx, Dialect, OpError};
use crate::models::{check_all, runs, statement_chunks, InsertJob, JobIdRow, INSERT_CHUNK};
use crate::names::Rows;
use crate::schema::job;
use crate::schema::named::{FROM_JOB, INTO_JOB};
use crate::Backend;

crate::prepared::statement!(
    /// One new row taking the next id. (diesel never caches an INSERT of a slice of rows,
    /// one row included: SQLite would compile it again for every job.)
    InsertOneReturning,
    "INSERT INTO job (funcid, arg, uniqkey, insert_time, run_after, grabbed_until, priority, \
     `coalesce`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING jobid"
);

diesel::define_sql_function! {
    /// SQLite's `unixepoch()`: the current time in epoch seconds (SQLite 3.38+, bundled).
    fn unixepoch() -> BigInt;
}

diesel::define_sql_function! {
    /// SQLite's `julianday(time)`: fractional days since noon in Greenwich on November 24,
    /// 4714 B.C. (millisecond precision for `'now'`).
    fn julianday(time: diesel::sql_types::Text) -> Double;
}

impl Dialect for SqliteConnection {
    const BACKEND: Backend = Backend::Sqlite;
    // SQLITE_MAX_LENGTH of the bundled library (1,000,000,000 bytes, also the largest row),
    // less room for the row's other columns.
    const MAX_ARG: usize = 1_000_000_000 - (1 << 20);

    fn column_names(&mut self, table: &str, _schema: Option<&str>) -> QueryResult<Vec<String>> {
        // Raw SQL: the identifier was checked (lowercase letters, digits, `_`).
        let rows: Vec<crate::conn::ColumnName> =
            diesel::sql_query(format!("SELECT name FROM pragma_table_info('{table}')"))
                .load(self)?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    fn setup(&mut self) -> QueryResult<()> {
        // PRAGMAs have no diesel DSL. busy_timeout first so that switching to WAL waits for
        // other processes instead of failing; case_sensitive_like makes coalesce prefix
        // matching case-sensitive as on PostgreSQL.
        self.batch_execute(
            "PRAGMA busy_timeout = 5000; \
             PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; \
             PRAGMA case_sensitive_like = ON;",
        )
    }

    fn server_time(&mut self) -> QueryResult<i64> {
        diesel::select(unixepoch()).get_result(self)
    }

    fn server_time_ms(&mut self) -> QueryResult<i64> {
        // The Julian day of the Unix epoch is 2440587.5.
        let days: f64 = diesel::select(julianday("now")).get_result(self)?;
        Ok(((days - 2_440_587.5) * 86_400_000.0).floor() as i64)
    }

    fn write_txn<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        self.immediate_transaction(f)
    }

    fn insert_rows(&mut self, ctx: &Ctx, rows: &[NewJobRow]) -> Result<Vec<i64>, OpError> {
        let max_arg = crate::ops::max_arg(self, ctx)?;
        let checked = check_all::<Self>(rows, max_arg, crate::ops::max_epoch(self, ctx)?)?;
        let mut ids = Vec::with_capacity(rows.len());
        for (start, end, explicit) in runs(rows) {
            if explicit {
                let inserted = crate::ops::insert_with_ids(
                    self,
                    &rows[start..end],
                    &checked[start..end],
                    max_arg,
                )?;
                ids.extend(inserted);
            } else {
                let values: Vec<InsertJob<'_>> = (start..end)
                    .map(|i| InsertJob::new(&rows[i], checked[i]))
                    .collect();
                if let [one] = &values[..] {
                    let got: JobIdRow = crate::models::bind_insert_job!(InsertOneReturning, one)
                        .get_result(self)?;
                    ids.push(got.jobid);
                    continue;
                }
                let plain = crate::names::plain()?;
                for chunk in statement_chunks(&values, INSERT_CHUNK, max_arg, InsertJob::data_len) {
                    let mut got: Vec<i64> = if plain {
                        diesel::insert_into(job::table)
                            .values(chunk)
                            .returning(job::jobid)
                            .get_results(self)?
                    } else {
                        // See `insert_many!` in sql.rs: one statement per row.
                        let mut got = Vec::with_capacity(chunk.len());
                        for row in chunk {
                            got.push(
                                diesel::insert_into(INTO_JOB)
                                    .values(Rows(row))
                                    .returning(job::jobid)
                                    .get_result(self)?,
                            );
                        }
                        got
                    };
                    // RETURNING order is unspecified; ids are assigned in row order.
                    got.sort_unstable();
                    ids.extend(got);
                }
            }
        }
        Ok(ids)
    }

    fn delete_fenced(&mut self, token: i64, ids: &[i64]) -> QueryResult<Vec<i64>> {
        diesel::delete(
            FROM_JOB
                .filter(job::grabbed_until.eq(token))
                .filter(job::jobid.eq_any(ids)),
        )
        .returning(job::jobid)
        .get_results(self)
    }

    fn prune_errors(&mut self, older_than: i64, limit: i64) -> QueryResult<usize> {
        // Raw SQL: `error` has no key diesel knows; SQLite's rowid bounds the delete.
        diesel::sql_query(&crate::names::sql(
            "DELETE FROM error WHERE rowid IN \
             (SELECT rowid FROM error WHERE error_time < ? LIMIT ?)",
        )?)
        .bind::<diesel::sql_types::BigInt, _>(older_than)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .execute(self)
    }

    fn message_capacity(&mut self) -> QueryResult<Option<(usize, usize)>> {
        // SQLite does not enforce VARCHAR lengths.
        Ok(None)
    }
}
