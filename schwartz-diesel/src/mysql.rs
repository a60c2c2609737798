//! MySQL / MariaDB: no RETURNING, so ids come from LAST_INSERT_ID() and fenced deletes
//! select their rows FOR UPDATE first.

use std::collections::HashMap;

use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::mysql::MysqlConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};

use crate::prepared::Bind;
use schwartz_core::store::{JobQuery, JobRow, Lease, NewJobRow};
use schwartz_core::JobOrder;

use crate::conn::{col_time, Ctx, Dialect, OpError};
use crate::models::{
    check_all, group_leases, lease_ends, runs, statement_chunks, DbJob, InsertJob, JobIdRow,
    JobIdWithExpired, INSERT_CHUNK, JOB_COLUMNS,
};
use crate::names::Rows;
use crate::ops::sql_limit;
use crate::schema::job;
use crate::schema::named::{INTO_JOB, JOB};
use crate::sql::JobFilter;
use crate::sql::Pred;
use crate::Backend;

crate::prepared::statement!(
    /// One new row taking the next id. (diesel never caches an INSERT of a slice of rows,
    /// one row included: each would cost a `COM_STMT_PREPARE` round trip.)
    InsertOne,
    "INSERT INTO job (funcid, arg, uniqkey, insert_time, run_after, grabbed_until, priority, \
     `coalesce`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
);

/// Inserts one row with [`InsertOne`].
fn insert_one(c: &mut MysqlConnection, row: &InsertJob<'_>) -> QueryResult<usize> {
    crate::models::bind_insert_job!(InsertOne, row).execute(c)
}

/// The binds of a one-function grab statement, by its shape: `plain` ([`EligibleOfOne`],
/// [`CandidatesOfOne`]), `fresh` (`fresh_of_one!`), `both` (`eligible_of_one_by_lease!`).
macro_rules! bind_of_one {
    (plain $stmt:ty, $funcid:expr, $now:expr, $limit:expr) => {
        crate::prepared::prepared::<$stmt>()
            .bind::<Integer, _>($funcid)
            .bind::<BigInt, _>($now)
            .bind::<BigInt, _>($now)
            .bind::<BigInt, _>($limit)
    };
    (fresh $stmt:ty, $funcid:expr, $now:expr, $limit:expr) => {
        crate::prepared::prepared::<$stmt>()
            .bind::<Integer, _>($funcid)
            .bind::<BigInt, _>($now)
            .bind::<BigInt, _>($now)
            .bind::<Integer, _>($funcid)
            .bind::<BigInt, _>($now)
            .bind::<BigInt, _>($limit)
    };
    (both $stmt:ty, $funcid:expr, $now:expr, $limit:expr) => {
        crate::prepared::prepared::<$stmt>()
            .bind::<Integer, _>($funcid)
            .bind::<BigInt, _>($now)
            .bind::<BigInt, _>($limit)
            .bind::<Integer, _>($funcid)
            .bind::<BigInt, _>($now)
            .bind::<BigInt, _>($now)
            .bind::<BigInt, _>($limit)
            .bind::<BigInt, _>($limit)
    };
}

crate::prepared::statement!(
    /// One function's eligible jobs in jobid order, the grab's candidates: the
    /// [`JobQuery::eligible`] shape with one function, prepared once per connection. (diesel
    /// never caches a boxed query: on MySQL the DSL form costs a `COM_STMT_PREPARE` round
    /// trip per grab, a third more round trips for a job worked one at a time.)
    EligibleOfOne,
    "SELECT jobid, funcid, arg, uniqkey, insert_time, run_after, grabbed_until, priority, \
     `coalesce` FROM job WHERE funcid = ? AND run_after <= ? AND grabbed_until <= ? \
     ORDER BY jobid LIMIT ?"
);
/// The grab's candidates of one function, in jobid order, when `job` has our MySQL index
/// `job_funcid_grabbed_until` on `(funcid, grabbed_until)` (which takes the place of
/// `(funcid, jobid)`, so that the leased jobs can be counted without reading the table; see
/// that migration). The jobs no one holds (`grabbed_until = 0`) are that index's entries
/// `(funcid, 0)`, already in jobid order, so the scan stops after the limit; the ones whose
/// lease ran out (few: a worker died, or kept a job past its lease) are another range of
/// it. So the grab reads the first range, and asks in the same statement whether the
/// second has anything (`expired`, an uncorrelated EXISTS: run once). Only when it has,
/// or when no fresh job was found, does it take both ranges in order
/// (`eligible_of_one_by_lease!`). The first range names the index: left to itself, the
/// optimizer read a function whose 20,000 jobs sat at the end of a 320,000-job table in
/// primary-key order (300,000 rows for one grab of 50). The other range, small, it finds
/// on its own. A store that believes the index is there after an operator dropped it
/// (`schwartz migrate --revert`) gets MySQL's error for an unknown index, forgets the
/// index and grabs as without it (`crate::ops::with_lease_index`). Binds: funcid, now, now,
/// funcid, now, limit (`now >= 0`).
macro_rules! fresh_of_one {
    ($cols:literal) => {
        concat!(
            "SELECT ", $cols, ", EXISTS (SELECT 1 FROM job \
             WHERE funcid = ? AND grabbed_until <> 0 AND grabbed_until <= ? AND run_after <= ?) \
             AS expired FROM job FORCE INDEX (job_funcid_grabbed_until) \
             WHERE funcid = ? AND grabbed_until = 0 AND run_after <= ? ORDER BY jobid LIMIT ?"
        )
    };
}

/// Both ranges of `fresh_of_one!`, merged in jobid order (the ids: a UNION's rows go
/// through a temporary table, which for a BLOB column is one on disk). Binds: funcid, now,
/// limit, funcid, now, now, limit, limit.
macro_rules! eligible_of_one_by_lease {
    () => {
        "(SELECT jobid FROM job FORCE INDEX (job_funcid_grabbed_until) \
         WHERE funcid = ? AND grabbed_until = 0 AND run_after <= ? ORDER BY jobid LIMIT ?) \
         UNION ALL (SELECT jobid FROM job \
         WHERE funcid = ? AND grabbed_until <> 0 AND grabbed_until <= ? AND run_after <= ? \
         ORDER BY jobid LIMIT ?) ORDER BY jobid LIMIT ?"
    };
}

crate::prepared::statement!(
    /// [`EligibleOfOne`] through the lease index, the jobs no one holds (see
    /// `fresh_of_one!`).
    EligibleFreshOfOne,
    fresh_of_one!(
        "jobid, funcid, arg, uniqkey, insert_time, run_after, grabbed_until, priority, `coalesce`"
    )
);
crate::prepared::statement!(
    /// [`EligibleOfOne`] through the lease index, all of them: the rows of the ids of
    /// `eligible_of_one_by_lease!`, by primary key.
    EligibleOfOneByLease,
    concat!(
        "SELECT j.jobid, j.funcid, j.arg, j.uniqkey, j.insert_time, j.run_after, \
         j.grabbed_until, j.priority, j.`coalesce` FROM job j JOIN (",
        eligible_of_one_by_lease!(),
        ") c ON c.jobid = j.jobid ORDER BY j.jobid"
    )
);
crate::prepared::statement!(
    /// A pool's grab, step one, for one function in jobid order: candidates, unlocked.
    CandidatesOfOne,
    "SELECT jobid FROM job WHERE funcid = ? AND run_after <= ? AND grabbed_until <= ? \
     ORDER BY jobid LIMIT ?"
);
crate::prepared::statement!(
    /// [`CandidatesOfOne`] through the lease index, the jobs no one holds (see
    /// `fresh_of_one!`).
    CandidatesFreshOfOne,
    fresh_of_one!("jobid")
);
crate::prepared::statement!(
    /// [`CandidatesOfOne`] through the lease index, all of them (see
    /// `eligible_of_one_by_lease!`).
    CandidatesOfOneByLease,
    eligible_of_one_by_lease!()
);
crate::prepared::statement!(
    /// A pool's grab, step two, for one function when the candidates are (nearly)
    /// consecutive: lock up to n eligible rows of their id range.
    LockRangeOfOne,
    "SELECT jobid, funcid, arg, uniqkey, insert_time, run_after, grabbed_until, priority, \
     `coalesce` FROM job WHERE jobid BETWEEN ? AND ? AND funcid = ? AND run_after <= ? \
     AND grabbed_until <= ? ORDER BY jobid LIMIT ? FOR UPDATE SKIP LOCKED"
);

/// Room in a packet for everything of an INSERT but the argument: the statement header,
/// the other columns (uniqkey and coalesce are at most 1,020 bytes each) and the protocol.
const PACKET_OVERHEAD: usize = 64 * 1024;

diesel::define_sql_function! {
    /// `UNIX_TIMESTAMP()`: the server's clock in epoch seconds.
    fn unix_timestamp() -> BigInt;
}

diesel::define_sql_function! {
    /// `LAST_INSERT_ID()`: the first id of the connection's last INSERT.
    fn last_insert_id() -> BigInt;
}

diesel::define_sql_function! {
    /// `DATABASE()`: the current schema.
    fn database() -> Nullable<Text>;
}

diesel::define_sql_function! {
    /// `VERSION()`: the server version string.
    fn version() -> Text;
}

diesel::table! {
    /// The part of `information_schema.COLUMNS` used to size `error.message`.
    information_schema.columns (table_schema, table_name, column_name) {
        table_schema -> Text,
        table_name -> Text,
        column_name -> Text,
        character_maximum_length -> Nullable<BigInt>,
        character_octet_length -> Nullable<BigInt>,
    }
}

impl Dialect for MysqlConnection {
    const BACKEND: Backend = Backend::Mysql;
    // MEDIUMBLOB, TheSchwartz's and our column type.
    const MAX_ARG: usize = (1 << 24) - 1;

    fn max_arg_len(&mut self) -> QueryResult<usize> {
        // A statement travels in one packet of at most `max_allowed_packet` bytes (16 MiB by
        // default on MariaDB, 64 MiB on MySQL 8); a larger one makes the server close the
        // connection. Server variables have no diesel DSL.
        let packet: i64 = diesel::select(sql::<BigInt>("@@max_allowed_packet")).get_result(self)?;
        let room = usize::try_from(packet)
            .unwrap_or(0)
            .saturating_sub(PACKET_OVERHEAD);
        Ok(room.min(Self::MAX_ARG))
    }

    fn time_columns_64(&mut self) -> QueryResult<bool> {
        // Catalog queries have no diesel DSL for the schema function.
        let sql = crate::names::sql(&crate::conn::narrow_time_columns_sql("DATABASE()"))?;
        let narrow: i64 =
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&sql)).get_result(self)?;
        Ok(narrow == 0)
    }

    fn eligible_rows(&mut self, q: &JobQuery, by_lease: bool) -> QueryResult<Option<Vec<DbJob>>> {
        let Some((funcid, now)) = crate::sql::eligible_of_one(q, Backend::Mysql) else {
            return Ok(None);
        };
        let limit = sql_limit(q.limit);
        if !(by_lease && now >= 0) {
            return bind_of_one!(plain EligibleOfOne, funcid, now, limit)
                .load(self)
                .map(Some);
        }
        // The fresh jobs; both ranges only when a lease has run out or none is fresh (see
        // `fresh_of_one!`).
        let fresh: Vec<crate::models::JobWithExpired> =
            bind_of_one!(fresh EligibleFreshOfOne, funcid, now, limit).load(self)?;
        if fresh.first().is_some_and(|r| r.expired == 0) {
            return Ok(Some(fresh.into_iter().map(|r| r.job).collect()));
        }
        bind_of_one!(both EligibleOfOneByLease, funcid, now, limit)
            .load(self)
            .map(Some)
    }

    fn has_lease_index(&mut self) -> QueryResult<bool> {
        // Catalog queries have no diesel DSL; the names are rewritten for a prefix.
        let text = crate::names::sql(
            "(SELECT COUNT(*) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'job' \
             AND INDEX_NAME = 'job_funcid_grabbed_until' \
             AND ((SEQ_IN_INDEX = 1 AND COLUMN_NAME = 'funcid') \
             OR (SEQ_IN_INDEX = 2 AND COLUMN_NAME = 'grabbed_until')))",
        )?;
        let n: i64 = diesel::select(sql::<BigInt>(&text)).get_result(self)?;
        Ok(n == 2)
    }

    fn column_names(&mut self, table: &str, _schema: Option<&str>) -> QueryResult<Vec<String>> {
        // Raw SQL: the identifier was checked (lowercase letters, digits, `_`).
        let rows: Vec<crate::conn::ColumnName> = diesel::sql_query(format!(
            "SELECT CAST(COLUMN_NAME AS CHAR) AS name FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
        ))
        .load(self)?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }

    fn setup(&mut self) -> QueryResult<()> {
        // Session settings have no diesel DSL. READ COMMITTED: locking reads see the latest
        // committed rows and take no gap locks (fewer deadlocks with concurrent inserts).
        self.batch_execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    }

    fn client_port(&mut self) -> QueryResult<Option<u16>> {
        // The call watchdog's socket lookup (conn.rs): `host` is "address:port" over TCP,
        // "localhost" over a Unix socket.
        let host: Option<String> =
            diesel::select(sql::<diesel::sql_types::Nullable<diesel::sql_types::Text>>(
                "(SELECT host FROM information_schema.processlist WHERE id = CONNECTION_ID())",
            ))
            .get_result(self)?;
        Ok(host.and_then(|h| h.rsplit_once(':').and_then(|(_, p)| p.parse().ok())))
    }

    fn server_time(&mut self) -> QueryResult<i64> {
        diesel::select(unix_timestamp()).get_result(self)
    }

    fn server_time_ms(&mut self) -> QueryResult<i64> {
        // Raw SQL fragment: UNIX_TIMESTAMP(NOW(3)) is a DECIMAL, which diesel reads only with
        // its bigdecimal feature; scaled and cast on the server it is a plain BIGINT.
        diesel::select(sql::<BigInt>(
            "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
        ))
        .get_result(self)
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
        let (mode, increment) = match ctx.autoinc.get() {
            Some(v) => *v,
            None => {
                // Server variables have no diesel DSL.
                let mode: i64 =
                    diesel::select(sql::<BigInt>("@@innodb_autoinc_lock_mode")).get_result(self)?;
                let inc: i64 =
                    diesel::select(sql::<BigInt>("@@auto_increment_increment")).get_result(self)?;
                let _ = ctx.autoinc.set((mode, inc.max(1)));
                (mode, inc.max(1))
            }
        };
        // Modes 0 ("traditional") and 1 ("consecutive") give one multi-row INSERT
        // consecutive ids; mode 2 ("interleaved") may not, so insert row by row there.
        let consecutive = mode != 2;
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
                let chunks = if consecutive {
                    statement_chunks(&values, INSERT_CHUNK, max_arg, InsertJob::data_len)
                } else {
                    values.chunks(1).collect()
                };
                for chunk in chunks {
                    match chunk {
                        [one] => insert_one(self, one)?,
                        _ => diesel::insert_into(INTO_JOB)
                            .values(Rows(chunk))
                            .execute(self)?,
                    };
                    let first: i64 = diesel::select(last_insert_id()).get_result(self)?;
                    ids.extend((0..chunk.len() as i64).map(|k| first + k * increment));
                }
            }
        }
        Ok(ids)
    }

    fn delete_fenced(&mut self, token: i64, ids: &[i64]) -> QueryResult<Vec<i64>> {
        use crate::mysql_ids::{execute, lock_fenced, DeleteFenced};
        let found = lock_fenced(self, token, ids)?;
        if !found.is_empty() {
            execute::<DeleteFenced>(self, token, &found)?;
        }
        Ok(found)
    }

    fn prune_errors(&mut self, older_than: i64, limit: i64) -> QueryResult<usize> {
        // Raw SQL: diesel's DELETE has no LIMIT; MySQL's does.
        diesel::sql_query(&crate::names::sql(
            "DELETE FROM error WHERE error_time < ? LIMIT ?",
        )?)
        .bind::<diesel::sql_types::BigInt, _>(older_than)
        .bind::<BigInt, _>(limit)
        .execute(self)
    }

    fn message_capacity(&mut self) -> QueryResult<Option<(usize, usize)>> {
        let row: Option<(Option<i64>, Option<i64>)> = columns::table
            .filter(columns::table_schema.nullable().eq(database()))
            .filter(columns::table_name.eq(crate::names::sql("error")?))
            .filter(columns::column_name.eq("message"))
            .select((
                columns::character_maximum_length,
                columns::character_octet_length,
            ))
            .first(self)
            .optional()?;
        Ok(match row {
            Some((chars, bytes)) => {
                let chars = chars.unwrap_or(i64::MAX).max(0) as usize;
                let bytes = bytes.unwrap_or(i64::MAX).max(0) as usize;
                Some((chars, bytes))
            }
            // Unknown: TheSchwartz's VARCHAR(255) is the smallest it can be.
            None => Some((255, 255)),
        })
    }

    fn refresh_job_statistics(&mut self) -> QueryResult<bool> {
        // Why: InnoDB recomputes a table's index statistics in the background only after 10%
        // of its rows changed, so right after a bulk load into an empty or small queue the
        // optimizer plans the claim query with statistics of a far smaller table and may
        // pick TheSchwartz's (funcid, run_after) index plus a sort of every eligible row
        // instead of an index in jobid order (grabs 5 to 40 times slower, run to run).
        // Refresh them when the table holds more than twice the rows its statistics last
        // counted. ANALYZE TABLE on InnoDB samples a fixed number of pages per index
        // (innodb_stats_persistent_sample_pages), whatever the table's size, and does not
        // wait for transactions holding row locks.
        // Raw SQL: diesel has no DSL for ANALYZE TABLE, and `mysql.innodb_table_stats` is
        // not part of the schema. Without the privilege to read it, nothing is done.
        #[derive(diesel::QueryableByName)]
        struct Rows {
            #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
            live: Option<i64>,
            #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
            counted: Option<i64>,
        }
        let rows: Rows = match diesel::sql_query(&crate::names::sql(
            "SELECT CAST(t.TABLE_ROWS AS SIGNED) AS live, \
                    (SELECT CAST(s.n_rows AS SIGNED) FROM mysql.innodb_table_stats s \
                     WHERE s.database_name = DATABASE() AND s.table_name = 'job') AS counted \
             FROM information_schema.TABLES t \
             WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = 'job'",
        )?)
        .get_result(self)
        {
            Ok(r) => r,
            Err(diesel::result::Error::NotFound) => return Ok(false),
            Err(e) => {
                log::debug!("job statistics unknown: {e}");
                return Ok(false);
            }
        };
        let (Some(live), Some(counted)) = (rows.live, rows.counted) else {
            return Ok(false);
        };
        if live < STATS_STALE_MIN_ROWS || live <= 2 * counted.max(0) {
            return Ok(false);
        }
        diesel::sql_query(&crate::names::sql("ANALYZE TABLE job")?).execute(self)?;
        Ok(true)
    }

    fn probe_skip_locked(&mut self) -> QueryResult<bool> {
        let v: String = diesel::select(version()).get_result(self)?;
        Ok(skip_locked_version(&v))
    }

    fn grab_skip_locked(
        &mut self,
        ctx: &Ctx,
        query: &JobQuery,
        leases: &[Lease],
        now: i64,
    ) -> Result<Option<Vec<JobRow>>, OpError> {
        let one = crate::sql::eligible_of_one(query, Backend::Mysql);
        let by_lease =
            matches!(one, Some((_, now)) if now >= 0) && crate::ops::lease_index(self, ctx)?;
        crate::ops::with_lease_index(ctx, by_lease, |by_lease| {
            grab_locked(self, query, one, leases, now, by_lease)
        })
    }
}

/// Below this many rows in `job`, its statistics are not refreshed after bulk loads.
const STATS_STALE_MIN_ROWS: i64 = 1_000;

/// A pool's grab (`Dialect::grab_skip_locked`); `one`: `sql::eligible_of_one(query)`;
/// `by_lease`: through the lease index (see `fresh_of_one!`).
fn grab_locked(
    c: &mut MysqlConnection,
    query: &JobQuery,
    one: Option<(i32, i64)>,
    leases: &[Lease],
    now: i64,
    by_lease: bool,
) -> Result<Option<Vec<JobRow>>, OpError> {
    let (Some(pred), Some(pred_again)) = (
        MysqlConnection::predicate(query),
        MysqlConnection::predicate(query),
    ) else {
        return Ok(Some(Vec::new()));
    };
    let until = lease_ends(leases, now)?;
    let default_until = col_time(
        now.saturating_add(1),
        crate::conn::MAX_EPOCH_64,
        "lease end",
    )?;
    let limit = sql_limit(query.limit);
    // Two steps. InnoDB locks every row a locking read examines: when the optimizer
    // sorts (an index on funcid, then filesort by jobid or priority), a plain
    // `... ORDER BY ... LIMIT n FOR UPDATE SKIP LOCKED` would lock the whole eligible
    // queue and starve the other workers. So first pick candidates without locks
    // (a few more than needed, so concurrent grabbers do not all chase the same rows),
    // then lock up to n of them by primary key, skipping the ones another grab holds.
    let spare = limit
        .saturating_mul(3)
        .saturating_add(10)
        .min(limit.saturating_add(2000));
    c.transaction(|c| {
        let candidates: Vec<i64> = if let (Some((funcid, now)), true) = (one, by_lease) {
            // The fresh jobs; both ranges only when a lease has run out or none is
            // fresh (see `fresh_of_one!`).
            let fresh: Vec<JobIdWithExpired> =
                bind_of_one!(fresh CandidatesFreshOfOne, funcid, now, spare).load(c)?;
            let rows = if fresh.first().is_some_and(|r| r.expired == 0) {
                fresh.into_iter().map(|r| r.jobid).collect()
            } else {
                bind_of_one!(both CandidatesOfOneByLease, funcid, now, spare)
                    .load::<JobIdRow>(c)?
                    .into_iter()
                    .map(|r| r.jobid)
                    .collect()
            };
            rows
        } else if let Some((funcid, now)) = one {
            bind_of_one!(plain CandidatesOfOne, funcid, now, spare)
                .load::<JobIdRow>(c)?
                .into_iter()
                .map(|r| r.jobid)
                .collect()
        } else {
            let q = JOB.select(job::jobid).filter(pred);
            match query.order {
                JobOrder::JobId => q.order_by(job::jobid.asc()).limit(spare).load(c)?,
                JobOrder::PriorityDesc => q
                    .order_by(crate::models::priority_order())
                    .limit(spare)
                    .load(c)?,
            }
        };
        if candidates.is_empty() {
            return Ok(Some(Vec::new()));
        }
        // Lock by primary key. When the candidates are (nearly) consecutive ids, as in
        // a backlog drained in jobid order, name their id range instead of listing them:
        // MariaDB turns an IN list of 1,000 values or more into a temporary table joined
        // and sorted (and even a shorter list costs the range optimizer a few ms), while
        // one range is read in key order and the scan stops after `limit` rows. Rows in
        // the range that were not candidates are filtered by the same predicate, so
        // either form locks only eligible jobs. Scattered candidates keep the list, so
        // the scan never walks a long range of ineligible rows.
        let lo = candidates.iter().copied().min().unwrap_or(0);
        let hi = candidates.iter().copied().max().unwrap_or(0);
        let span = u64::try_from(hi.saturating_sub(lo)).unwrap_or(u64::MAX);
        let range = span < 4 * candidates.len() as u64;
        if let (true, Some((funcid, now))) = (range, one) {
            let mut rows: Vec<DbJob> = crate::prepared::prepared::<LockRangeOfOne>()
                .bind::<BigInt, _>(lo)
                .bind::<BigInt, _>(hi)
                .bind::<Integer, _>(funcid)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(limit)
                .load(c)?;
            lease_rows(c, &mut rows, &until, default_until)?;
            return Ok(Some(rows.into_iter().map(JobRow::from).collect()));
        }
        let ids: Pred<MysqlConnection> = if range {
            Box::new(job::jobid.between(lo, hi))
        } else {
            Box::new(job::jobid.eq_any(candidates))
        };
        let base = JOB.select(JOB_COLUMNS).filter(ids).filter(pred_again);
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

/// Writes the leases of locked rows: one UPDATE per distinct lease end.
fn lease_rows(
    c: &mut MysqlConnection,
    rows: &mut [DbJob],
    until: &HashMap<i32, i64>,
    default_until: i64,
) -> Result<(), OpError> {
    for (t, ids) in group_leases(rows, until, default_until) {
        crate::mysql_ids::execute::<crate::mysql_ids::SetLease>(c, t, &ids)?;
    }
    Ok(())
}

/// SKIP LOCKED: MariaDB 10.6+, MySQL 8.0.1+.
fn skip_locked_version(v: &str) -> bool {
    let mut nums = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let major = nums.next().unwrap_or(0);
    let minor = nums.next().unwrap_or(0);
    if v.to_ascii_lowercase().contains("mariadb") {
        (major, minor) >= (10, 6)
    } else {
        major >= 8
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        assert!(super::skip_locked_version("10.11.6-MariaDB-0+deb12u1"));
        assert!(!super::skip_locked_version("10.5.1-MariaDB"));
        assert!(super::skip_locked_version("8.0.36"));
        assert!(!super::skip_locked_version("5.7.44-log"));
    }
}
