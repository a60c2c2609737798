//! PostgreSQL: RETURNING, `FOR UPDATE SKIP LOCKED`, savepoints, LISTEN/NOTIFY.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use schwartz_core::store::{JobQuery, JobRow, Lease, NewJobRow, Notifier};
use schwartz_core::{Error, JobOrder, Result};

use crate::conn::{col_time, Ctx, Dialect, OpError, NOTIFY_BY_TRIGGER, NOTIFY_EXPLICIT};
use crate::models::{
    check_all, group_leases, lease_ends, runs, statement_chunks, DbJob, InsertJob, JOB_COLUMNS,
};
use crate::names::Rows;
use crate::ops::sql_limit;
use crate::schema::job;
use crate::schema::named::{FROM_JOB, INTO_JOB, JOB};
use crate::sql::JobFilter;
use crate::Backend;

/// The channel `insert_jobs` notifies and [`PgNotifier`] listens on.
pub const CHANNEL: &str = "schwartz_jobs";

diesel::define_sql_function! {
    /// PostgreSQL's `date_part(field, timestamp)`.
    fn date_part(field: diesel::sql_types::Text, source: diesel::sql_types::Timestamp) -> Double;
}

diesel::define_sql_function! {
    /// PostgreSQL's `current_schema()`.
    fn current_schema() -> Text;
}

diesel::table! {
    /// The part of `information_schema.columns` used to size `error.message`.
    information_schema.columns (table_schema, table_name, column_name) {
        table_schema -> Text,
        table_name -> Text,
        column_name -> Text,
        character_maximum_length -> Nullable<Integer>,
    }
}

impl Dialect for PgConnection {
    const BACKEND: Backend = Backend::Postgres;
    // A bytea value is at most 1 GiB, and so is a protocol message; room for the rest.
    const MAX_ARG: usize = (1 << 30) - (1 << 20);

    fn time_columns_64(&mut self) -> QueryResult<bool> {
        // Catalog queries have no diesel DSL for the schema function.
        let names = crate::names::current()?.names;
        let schema = names
            .schema
            .as_ref()
            .map_or_else(|| "current_schema()".to_string(), |s| format!("'{s}'"));
        let sql = names
            .unqualified()
            .sql(&crate::conn::narrow_time_columns_sql(&schema))
            .into_owned();
        let narrow: i64 =
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&sql)).get_result(self)?;
        Ok(narrow == 0)
    }

    fn column_names(&mut self, table: &str, schema: Option<&str>) -> QueryResult<Vec<String>> {
        // Raw SQL: the identifiers were checked (lowercase letters, digits, `_`).
        let schema = schema.map_or_else(|| "current_schema()".to_string(), |s| format!("'{s}'"));
        let rows: Vec<crate::conn::ColumnName> = diesel::sql_query(format!(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = {schema} AND table_name = '{table}'"
        ))
        .load(self)?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    fn setup(&mut self) -> QueryResult<()> {
        // Session settings have no diesel DSL. diesel keeps prepared statements; a generic
        // plan for the claim query (run_after/grabbed_until/LIMIT as parameters) can pick a
        // full index scan plus sort on a skewed queue table, so plan with the actual values.
        self.batch_execute("SET plan_cache_mode = force_custom_plan")
    }

    fn client_port(&mut self) -> QueryResult<Option<u16>> {
        // The call watchdog's socket lookup (conn.rs): NULL over a Unix socket.
        let port: Option<i32> = diesel::select(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Integer>,
        >("inet_client_port()"))
        .get_result(self)?;
        Ok(port.and_then(|p| u16::try_from(p).ok()))
    }

    fn server_time(&mut self) -> QueryResult<i64> {
        // now() is CURRENT_TIMESTAMP: the server's clock.
        let secs: f64 = diesel::select(date_part("epoch", diesel::dsl::now)).get_result(self)?;
        Ok(secs.floor() as i64)
    }

    fn server_time_ms(&mut self) -> QueryResult<i64> {
        let secs: f64 = diesel::select(date_part("epoch", diesel::dsl::now)).get_result(self)?;
        Ok((secs * 1000.0).floor() as i64)
    }

    fn write_txn<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        self.transaction(f)
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
                let max = inserted.iter().copied().max().unwrap_or(0);
                ids.extend(inserted);
                // Unlike MySQL's AUTO_INCREMENT and SQLite's rowid, a sequence does not move
                // past explicit ids: move it (never backwards) so later inserts do not
                // collide. Raw SQL: diesel has no DSL for sequences.
                diesel::sql_query(&crate::names::sql(
                    "SELECT setval(q.s, GREATEST($1, COALESCE(pg_sequence_last_value(q.s), 0))) \
                     FROM (SELECT pg_get_serial_sequence('job', 'jobid')::regclass AS s) q \
                     WHERE q.s IS NOT NULL",
                )?)
                .bind::<diesel::sql_types::BigInt, _>(max)
                .execute(self)?;
            } else if end - start == 1 {
                let one = InsertJob::new(&rows[start], checked[start]);
                let id: i64 = diesel::insert_into(INTO_JOB)
                    .values(Rows(&one))
                    .returning(job::jobid)
                    .get_result(self)?;
                ids.push(id);
            } else {
                let values: Vec<InsertJob<'_>> = (start..end)
                    .map(|i| InsertJob::new(&rows[i], checked[i]))
                    .collect();
                // One statement, unless the arguments together are too large for one.
                for chunk in statement_chunks(&values, usize::MAX, max_arg, InsertJob::data_len) {
                    let mut got = insert_unnest(self, chunk)?;
                    // nextval() runs in row order; RETURNING order is not promised.
                    got.sort_unstable();
                    ids.extend(got);
                }
            }
        }
        Ok(ids)
    }

    fn insert_one(&mut self, ctx: &Ctx, row: &NewJobRow) -> Result<Option<i64>, OpError> {
        // With the trigger, the DSL's INSERT ... RETURNING (in `insert_rows`) is already
        // one statement.
        if !self.needs_explicit_notify(ctx)? {
            return Ok(None);
        }
        // Raw SQL: diesel has no data-modifying WITH. The statement commits by itself, so
        // the notification is delivered with the job, in one round trip instead of BEGIN,
        // INSERT, NOTIFY and COMMIT.
        crate::prepared::statement!(
            /// One job and its notification.
            InsertNotify,
            "WITH ins AS (INSERT INTO job (funcid, arg, uniqkey, insert_time, run_after, \
             grabbed_until, priority, coalesce) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING jobid) \
             SELECT CAST(ins.jobid AS BIGINT) AS jobid FROM ins, \
             (SELECT pg_notify('schwartz_jobs', '')) AS n"
        );
        let checked = crate::conn::check_new_job::<Self>(
            row,
            crate::ops::max_arg(self, ctx)?,
            crate::ops::max_epoch(self, ctx)?,
        )?;
        let j = InsertJob::new(row, checked);
        let got: crate::models::JobIdRow =
            crate::models::bind_insert_job!(InsertNotify, &j).get_result(self)?;
        Ok(Some(got.jobid))
    }

    fn needs_explicit_notify(&mut self, ctx: &Ctx) -> QueryResult<bool> {
        match ctx.notify_trigger.load(Ordering::Relaxed) {
            NOTIFY_EXPLICIT => return Ok(true),
            NOTIFY_BY_TRIGGER => return Ok(false),
            _ => {}
        }
        // Raw SQL: diesel has no DSL for the pg_trigger catalog. Our migrations install a
        // statement-level trigger that notifies on every insert into `job` (Perl clients'
        // inserts included); a database created by TheSchwartz's own schema file has none.
        #[derive(diesel::QueryableByName)]
        struct Present {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            present: bool,
        }
        let row: Present = diesel::sql_query(&crate::names::sql(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger \
             WHERE tgname = 'schwartz_job_notify' AND tgrelid = to_regclass('job')) AS present",
        )?)
        .get_result(self)?;
        let state = if row.present {
            NOTIFY_BY_TRIGGER
        } else {
            NOTIFY_EXPLICIT
        };
        ctx.notify_trigger.store(state, Ordering::Relaxed);
        Ok(!row.present)
    }

    fn notify_new_jobs(&mut self, ctx: &Ctx) -> QueryResult<()> {
        if !self.needs_explicit_notify(ctx)? {
            return Ok(());
        }
        // Raw SQL: diesel has no NOTIFY statement. Inside the inserting transaction, so it is
        // delivered at commit; PostgreSQL folds repeats within one transaction.
        self.batch_execute(&crate::names::sql("NOTIFY schwartz_jobs")?)
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
        // Raw SQL: PostgreSQL's DELETE has no LIMIT and `error` has no key; ctid bounds it.
        diesel::sql_query(&crate::names::sql(
            "DELETE FROM error WHERE ctid = ANY(ARRAY(\
             SELECT ctid FROM error WHERE error_time < $1 LIMIT $2))",
        )?)
        .bind::<diesel::sql_types::BigInt, _>(older_than)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .execute(self)
    }

    fn message_capacity(&mut self) -> QueryResult<Option<(usize, usize)>> {
        // TEXT in our schema and TheSchwartz's since 2011; VARCHAR(255) before that.
        let names = crate::names::current()?.names;
        let q = columns::table
            .filter(columns::table_name.eq(format!("{}error", names.prefix)))
            .filter(columns::column_name.eq("message"))
            .select(columns::character_maximum_length)
            .into_boxed();
        let q = match &names.schema {
            Some(s) => q.filter(columns::table_schema.eq(s.clone())),
            None => q.filter(columns::table_schema.eq(current_schema())),
        };
        let max: Option<Option<i32>> = q.first(self).optional()?;
        Ok(max
            .flatten()
            .map(|chars| (chars.max(0) as usize, usize::MAX)))
    }

    fn probe_skip_locked(&mut self) -> QueryResult<bool> {
        Ok(true)
    }

    fn vacuum_job_if_needed(&mut self) -> QueryResult<bool> {
        // Raw SQL: diesel has no DSL for the statistics functions or VACUUM.
        #[derive(diesel::QueryableByName)]
        struct Dead {
            #[diesel(sql_type = diesel::sql_types::Double)]
            reltuples: f64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            dead: i64,
        }
        let dead: Option<Dead> = diesel::sql_query(&crate::names::sql(
            "SELECT c.reltuples::float8 AS reltuples, \
                    COALESCE(pg_stat_get_dead_tuples(c.oid), 0) AS dead \
             FROM pg_class c WHERE c.oid = to_regclass('job')",
        )?)
        .get_result(self)
        .optional()?;
        let Some(dead) = dead else {
            return Ok(false);
        };
        // As autovacuum's rule (threshold + scale factor x live rows), with a larger
        // threshold: each VACUUM scans every index of `job` in full, so it pays off only when
        // it removes many dead entries. A job leaves two dead versions (grab and delete), so
        // this vacuums about every 25,000 jobs on a small queue, plus 5% of the table's size
        // on a large one (`cargo xtask bench`'s long drain: the last tenth of a 1,000,000-job
        // drain at 73% to 118% of the first on a busy 2-core machine, 94% on average).
        if (dead.dead as f64) < VACUUM_DEAD_MIN + VACUUM_DEAD_FACTOR * dead.reltuples.max(0.0) {
            return Ok(false);
        }
        match self.batch_execute(&crate::names::sql("VACUUM (SKIP_LOCKED) job")?) {
            Ok(()) => Ok(true),
            // PostgreSQL before 12 has no SKIP_LOCKED.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("syntax error") =>
            {
                self.batch_execute(&crate::names::sql("VACUUM job")?)
                    .map(|()| true)
            }
            Err(e) => Err(e),
        }
    }

    fn refresh_job_statistics(&mut self) -> QueryResult<bool> {
        // Why: right after a bulk load into a never-analyzed `job`, the planner has no column
        // statistics, estimates a handful of eligible rows and plans the claim query as a
        // bitmap scan on (funcid, run_after) plus a sort of EVERY eligible row (~30 ms per
        // grab at 100,000 rows) instead of walking the primary key in jobid order.
        // Autovacuum's analyze fixes that, but only up to a minute later. Once statistics
        // exist the planner scales them with the table's size, so they are refreshed again
        // only when the table changed a lot more than it held (modified rows > 4x reltuples),
        // which happens a few times during a load into an empty queue, not in steady state.
        // Cost: ANALYZE reads a fixed-size sample (300 x default_statistics_target rows),
        // whatever the table's size; SKIP_LOCKED: if autovacuum or another client is already
        // at it, leave it to them instead of waiting.
        // Raw SQL: diesel has no DSL for the catalogs, the statistics functions or ANALYZE.
        #[derive(diesel::QueryableByName)]
        struct Stats {
            #[diesel(sql_type = diesel::sql_types::Double)]
            reltuples: f64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            mods: i64,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            has_stats: bool,
        }
        let stats: Option<Stats> = diesel::sql_query(
            &crate::names::sql("SELECT c.reltuples::float8 AS reltuples, \
                    COALESCE(pg_stat_get_mod_since_analyze(c.oid), 0) AS mods, \
                    EXISTS (SELECT 1 FROM pg_stats s \
                            WHERE s.schemaname = n.nspname AND s.tablename = c.relname) AS has_stats \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass('job')")?,
        )
        .get_result(self)
        .optional()?;
        let Some(stats) = stats else {
            return Ok(false);
        };
        let stale = stats.mods >= STATS_STALE_MIN_MODS
            && stats.mods as f64 > STATS_STALE_FACTOR * stats.reltuples.max(0.0);
        if stats.has_stats && !stale {
            return Ok(false);
        }
        match self.batch_execute(&crate::names::sql("ANALYZE (SKIP_LOCKED) job")?) {
            Ok(()) => Ok(true),
            // PostgreSQL before 12 has no ANALYZE options.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("syntax error") =>
            {
                self.batch_execute(&crate::names::sql("ANALYZE job")?)
                    .map(|()| true)
            }
            Err(e) => Err(e),
        }
    }

    fn grab_skip_locked(
        &mut self,
        _ctx: &Ctx,
        query: &JobQuery,
        leases: &[Lease],
        now: i64,
    ) -> Result<Option<Vec<JobRow>>, OpError> {
        let Some(pred) = Self::predicate(query) else {
            return Ok(Some(Vec::new()));
        };
        let until = lease_ends(leases, now)?;
        let default_until = col_time(
            now.saturating_add(1),
            crate::conn::MAX_EPOCH_64,
            "lease end",
        )?;
        let limit = sql_limit(query.limit);
        self.transaction(|c| {
            let base = JOB.select(JOB_COLUMNS).filter(pred);
            let mut rows: Vec<DbJob> = match query.order {
                JobOrder::JobId => base
                    .order_by(job::jobid.asc())
                    .limit(limit)
                    .for_update()
                    .skip_locked()
                    .load(c)?,
                JobOrder::PriorityDesc => base
                    .order_by(crate::models::priority_order())
                    .limit(limit)
                    .for_update()
                    .skip_locked()
                    .load(c)?,
            };
            lease_rows(c, &mut rows, &until, default_until)?;
            Ok(Some(rows.into_iter().map(JobRow::from).collect()))
        })
    }
}

/// Statistics of `job` count as stale once at least this many rows changed since the last
/// analyze...
const STATS_STALE_MIN_MODS: i64 = 10_000;
/// ... and more than this many times the rows it held then.
const STATS_STALE_FACTOR: f64 = 4.0;

/// Dead rows of `job` that call for a VACUUM: this many ...
const VACUUM_DEAD_MIN: f64 = 50_000.0;
/// ... plus this fraction of its live rows.
const VACUUM_DEAD_FACTOR: f64 = 0.1;

/// Inserts many job rows with one statement whose text does not depend on how many there
/// are: each column travels as one array parameter and `unnest` turns them back into rows,
/// so PostgreSQL parses and plans it once per connection (a multi-row VALUES list is a new
/// statement of 9 parameters per row, planned anew for every batch). Raw SQL: diesel's
/// insert DSL has no INSERT ... SELECT FROM unnest(arrays); [`crate::prepared`] keeps it
/// prepared.
fn insert_unnest(c: &mut PgConnection, rows: &[InsertJob<'_>]) -> QueryResult<Vec<i64>> {
    use diesel::sql_types::{Array, BigInt, Binary, Integer, Nullable, SmallInt, Text};
    crate::prepared::statement!(
        /// The unnest INSERT (its text does not depend on the number of rows).
        InsertUnnest,
        "INSERT INTO job (funcid, arg, uniqkey, insert_time, run_after, grabbed_until, \
         priority, coalesce) \
         SELECT * FROM unnest($1::int4[], $2::bytea[], $3::varchar[], $4::int8[], $5::int8[], \
         $6::int8[], $7::int2[], $8::varchar[]) \
         RETURNING jobid"
    );
    use crate::prepared::Bind;
    let rows: Vec<crate::models::JobIdRow> = crate::prepared::prepared::<InsertUnnest>()
        .bind::<Array<Integer>, _>(rows.iter().map(|r| r.funcid).collect::<Vec<_>>())
        .bind::<Array<Nullable<Binary>>, _>(rows.iter().map(|r| r.arg).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.uniqkey).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.insert_time).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.run_after).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.grabbed_until).collect::<Vec<_>>())
        .bind::<Array<Nullable<SmallInt>>, _>(rows.iter().map(|r| r.priority).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(rows.iter().map(|r| r.coalesce).collect::<Vec<_>>())
        .load(c)?;
    Ok(rows.into_iter().map(|r| r.jobid).collect())
}

/// Writes the leases of locked rows: one UPDATE per distinct lease end.
fn lease_rows(
    c: &mut PgConnection,
    rows: &mut [DbJob],
    until: &HashMap<i32, i64>,
    default_until: i64,
) -> Result<(), OpError> {
    // Raw SQL, prepared: diesel prepares every UPDATE it builds anew (see `sql.rs`).
    crate::prepared::statement!(
        /// The lease of a grab's jobs.
        Lease,
        "UPDATE job SET grabbed_until = $1 WHERE jobid = ANY($2)"
    );
    use crate::prepared::Bind;
    use diesel::sql_types::{Array, BigInt};
    for (t, ids) in group_leases(rows, until, default_until) {
        crate::prepared::prepared::<Lease>()
            .bind::<BigInt, _>(t)
            .bind::<Array<BigInt>, _>(ids)
            .execute(c)?;
    }
    Ok(())
}

/// Waits for `NOTIFY schwartz_jobs` (or, for result waiters, `NOTIFY schwartz_results`) on
/// a dedicated connection.
pub struct PgNotifier {
    conn: PgConnection,
    describe: String,
    poll: Duration,
    #[cfg(target_os = "linux")]
    socket: Option<crate::watchdog::Socket>,
}

impl std::fmt::Debug for PgNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgNotifier")
            .field("store", &self.describe)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl PgNotifier {
    /// Connects and LISTENs on [`CHANNEL`].
    pub(crate) fn connect(url: &str, ctx: &Ctx) -> Result<Self> {
        Self::listen(url, ctx, &ctx.names.channel(CHANNEL))
    }

    /// Connects and LISTENs on `channel` (a constant of ours).
    pub(crate) fn listen(url: &str, ctx: &Ctx, channel: &str) -> Result<Self> {
        let mut conn = PgConnection::establish(url).map_err(|e| Error::Unavailable {
            store: ctx.describe.clone(),
            message: ctx.scrub(&e.to_string()),
        })?;
        // Raw SQL: diesel has no LISTEN statement.
        conn.batch_execute(&format!("LISTEN {channel}"))
            .map_err(|e| ctx.map_db(&e))?;
        // The connection's socket, to sleep on until the server sends something (`None`
        // over a Unix socket or off Linux: then libpq is polled every 2 ms).
        #[cfg(target_os = "linux")]
        let socket = match conn.client_port() {
            Ok(Some(port)) => crate::watchdog::Socket::find(port, None),
            _ => None,
        };
        Ok(PgNotifier {
            conn,
            describe: ctx.describe.clone(),
            poll: Duration::from_millis(2),
            #[cfg(target_os = "linux")]
            socket,
        })
    }

    fn drain(&mut self) -> Result<bool> {
        let mut got = false;
        for n in self.conn.notifications_iter() {
            match n {
                Ok(_) => got = true,
                Err(e) => {
                    return Err(Error::Unavailable {
                        store: self.describe.clone(),
                        message: format!("listening connection failed: {e}"),
                    })
                }
            }
        }
        Ok(got)
    }
}

impl Notifier for PgNotifier {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.drain()? {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            #[cfg(target_os = "linux")]
            if let Some(socket) = &self.socket {
                socket.wait_readable(deadline - now);
                continue;
            }
            std::thread::sleep(self.poll.min(deadline - now));
        }
    }
}
