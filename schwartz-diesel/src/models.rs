//! Row structs for diesel.

use diesel::prelude::*;
use schwartz_core::store::{JobRow, NewJobRow};
use schwartz_core::{FuncId, JobId};

use crate::conn::{CheckedJob, Dialect, OpError};
use crate::schema::{error, exitstatus, job, Epoch};

/// A `job` row as loaded (by the DSL's `JOB_COLUMNS`, or by name from a prepared statement
/// that selects them).
#[derive(Debug, Queryable, QueryableByName)]
#[diesel(table_name = job)]
pub(crate) struct DbJob {
    pub jobid: i64,
    pub funcid: i32,
    pub arg: Option<Vec<u8>>,
    pub uniqkey: Option<String>,
    pub insert_time: Option<Epoch>,
    pub run_after: Epoch,
    pub grabbed_until: Epoch,
    pub priority: Option<i16>,
    pub coalesce: Option<String>,
}

/// The columns of [`DbJob`], in order.
pub(crate) type JobColumns = (
    job::jobid,
    job::funcid,
    job::arg,
    job::uniqkey,
    job::insert_time,
    job::run_after,
    job::grabbed_until,
    job::priority,
    job::coalesce,
);

/// The columns of [`DbJob`], in order.
pub(crate) const JOB_COLUMNS: JobColumns = (
    job::jobid,
    job::funcid,
    job::arg,
    job::uniqkey,
    job::insert_time,
    job::run_after,
    job::grabbed_until,
    job::priority,
    job::coalesce,
);

impl From<DbJob> for JobRow {
    fn from(r: DbJob) -> Self {
        JobRow {
            jobid: JobId(r.jobid),
            funcid: FuncId(r.funcid),
            arg: r.arg,
            uniqkey: r.uniqkey,
            insert_time: r.insert_time.map(i64::from),
            run_after: r.run_after.0,
            grabbed_until: r.grabbed_until.0,
            priority: r.priority.map(i32::from),
            coalesce: r.coalesce,
        }
    }
}

/// A new `job` row taking the next auto-increment id. `None` is written as NULL.
#[derive(Debug, Insertable)]
#[diesel(table_name = job, treat_none_as_default_value = false)]
pub(crate) struct InsertJob<'a> {
    pub funcid: i32,
    pub arg: Option<&'a [u8]>,
    pub uniqkey: Option<&'a str>,
    pub insert_time: Option<i64>,
    pub run_after: i64,
    pub grabbed_until: i64,
    pub priority: Option<i16>,
    pub coalesce: Option<&'a str>,
}

/// The prepared statement `$stmt` (a single-row `INSERT INTO job (funcid, arg, uniqkey,
/// insert_time, run_after, grabbed_until, priority, coalesce) VALUES (...)`, with `?` or
/// `$n` placeholders) with the
/// columns of the [`InsertJob`] `$row` bound, in that order.
macro_rules! bind_insert_job {
    ($stmt:ty, $row:expr) => {{
        use crate::prepared::Bind;
        use diesel::sql_types::{BigInt, Binary, Integer, Nullable, SmallInt, Text};
        let row: &crate::models::InsertJob<'_> = $row;
        crate::prepared::prepared::<$stmt>()
            .bind::<Integer, _>(row.funcid)
            .bind::<Nullable<Binary>, _>(row.arg)
            .bind::<Nullable<Text>, _>(row.uniqkey)
            .bind::<Nullable<BigInt>, _>(row.insert_time)
            .bind::<BigInt, _>(row.run_after)
            .bind::<BigInt, _>(row.grabbed_until)
            .bind::<Nullable<SmallInt>, _>(row.priority)
            .bind::<Nullable<Text>, _>(row.coalesce)
    }};
}
pub(crate) use bind_insert_job;

/// A `jobid` column, loaded by name (from a prepared statement).
#[derive(Debug, QueryableByName)]
pub(crate) struct JobIdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub jobid: i64,
}

/// A row of a MySQL grab's fresh-jobs statement (see `mysql::fresh_of_one!`): the job and
/// whether any lease of the function has run out.
#[cfg(feature = "mysql")]
#[derive(Debug, QueryableByName)]
pub(crate) struct JobWithExpired {
    #[diesel(embed)]
    pub job: DbJob,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub expired: i64,
}

/// [`JobWithExpired`] with the id only.
#[cfg(feature = "mysql")]
#[derive(Debug, QueryableByName)]
pub(crate) struct JobIdWithExpired {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub jobid: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub expired: i64,
}

/// A new `job` row with an explicit id.
#[derive(Debug, Insertable)]
#[diesel(table_name = job, treat_none_as_default_value = false)]
pub(crate) struct InsertJobWithId<'a> {
    pub jobid: i64,
    pub funcid: i32,
    pub arg: Option<&'a [u8]>,
    pub uniqkey: Option<&'a str>,
    pub insert_time: Option<i64>,
    pub run_after: i64,
    pub grabbed_until: i64,
    pub priority: Option<i16>,
    pub coalesce: Option<&'a str>,
}

impl<'a> InsertJob<'a> {
    pub fn new(row: &'a NewJobRow, c: CheckedJob) -> Self {
        InsertJob {
            funcid: row.funcid.0,
            arg: row.arg.as_deref(),
            uniqkey: row.uniqkey.as_deref(),
            insert_time: Some(c.insert_time),
            run_after: c.run_after,
            grabbed_until: c.grabbed_until,
            priority: c.priority,
            coalesce: row.coalesce.as_deref(),
        }
    }
}

impl<'a> InsertJobWithId<'a> {
    pub fn new(row: &'a NewJobRow, id: i64, c: CheckedJob) -> Self {
        InsertJobWithId {
            jobid: id,
            funcid: row.funcid.0,
            arg: row.arg.as_deref(),
            uniqkey: row.uniqkey.as_deref(),
            insert_time: Some(c.insert_time),
            run_after: c.run_after,
            grabbed_until: c.grabbed_until,
            priority: c.priority,
            coalesce: row.coalesce.as_deref(),
        }
    }
}

/// Consecutive runs of rows with and without explicit ids, as (start, end, explicit).
pub(crate) fn runs(rows: &[NewJobRow]) -> Vec<(usize, usize, bool)> {
    let mut out: Vec<(usize, usize, bool)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let explicit = r.jobid.is_some();
        match out.last_mut() {
            Some(last) if last.2 == explicit && last.1 == i => last.1 = i + 1,
            _ => out.push((i, i + 1, explicit)),
        }
    }
    out
}

/// Rows per multi-row INSERT: 9 bind parameters a row stays far below every backend's limit.
pub(crate) const INSERT_CHUNK: usize = 1000;
/// Ids per `IN (...)` list.
pub(crate) const ID_CHUNK: usize = 5000;

/// Checks all rows (before anything is sent) and returns the converted numbers.
pub(crate) fn check_all<C: Dialect>(
    rows: &[NewJobRow],
    max_arg: usize,
    max_epoch: i64,
) -> Result<Vec<CheckedJob>, OpError> {
    rows.iter()
        .map(|r| crate::conn::check_new_job::<C>(r, max_arg, max_epoch))
        .collect()
}

/// Bytes a row adds to an INSERT statement besides its argument and text.
const ROW_OVERHEAD: usize = 64;

/// Splits rows into the statements of a multi-row INSERT: at most `max_rows` rows and (when
/// a statement holds more than one row) at most `max_bytes` of data, so that a batch
/// of large arguments never makes a statement the server refuses (MySQL's
/// `max_allowed_packet`). `size` tells a row's bytes.
pub(crate) fn statement_chunks<T>(
    rows: &[T],
    max_rows: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, r) in rows.iter().enumerate() {
        let b = size(r).saturating_add(ROW_OVERHEAD);
        if i > start && (i - start >= max_rows || bytes.saturating_add(b) > max_bytes) {
            out.push(&rows[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(b);
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

impl InsertJob<'_> {
    /// The bytes of the row's argument and text columns.
    pub fn data_len(&self) -> usize {
        self.arg.map_or(0, <[u8]>::len)
            + self.uniqkey.map_or(0, str::len)
            + self.coalesce.map_or(0, str::len)
    }
}

impl InsertJobWithId<'_> {
    /// The bytes of the row's argument and text columns.
    pub fn data_len(&self) -> usize {
        self.arg.map_or(0, <[u8]>::len)
            + self.uniqkey.map_or(0, str::len)
            + self.coalesce.map_or(0, str::len)
    }
}

/// A new `error` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = error)]
pub(crate) struct InsertError<'a> {
    pub error_time: i64,
    pub jobid: i64,
    pub message: &'a str,
    pub funcid: i32,
}

/// A new `exitstatus` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = exitstatus, treat_none_as_default_value = false)]
pub(crate) struct InsertExit {
    pub jobid: i64,
    pub funcid: i32,
    pub status: Option<i16>,
    pub completion_time: Option<i64>,
    pub delete_after: Option<i64>,
}

/// The lease end of each function: now + grab_for (at least 1 s).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn lease_ends(
    leases: &[schwartz_core::store::Lease],
    now: i64,
) -> Result<std::collections::HashMap<i32, i64>, OpError> {
    leases
        .iter()
        .map(|l| {
            let t = now.saturating_add(l.grab_for.max(1));
            Ok((
                l.funcid.0,
                crate::conn::col_time(t, crate::conn::MAX_EPOCH_64, "lease end")?,
            ))
        })
        .collect()
}

/// Sets each row's lease end and groups the ids by it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn group_leases(
    rows: &mut [DbJob],
    until: &std::collections::HashMap<i32, i64>,
    default_until: i64,
) -> std::collections::BTreeMap<i64, Vec<i64>> {
    let mut by_until = std::collections::BTreeMap::<i64, Vec<i64>>::new();
    for r in rows.iter_mut() {
        let t = until.get(&r.funcid).copied().unwrap_or(default_until);
        r.grabbed_until = Epoch(t);
        by_until.entry(t).or_default().push(r.jobid);
    }
    by_until
}

/// `ORDER BY priority IS NULL, priority DESC, jobid`: highest priority first, NULL last.
pub(crate) type PriorityOrder = (
    diesel::dsl::Asc<diesel::dsl::IsNull<job::priority>>,
    diesel::dsl::Desc<job::priority>,
    diesel::dsl::Asc<job::jobid>,
);

/// See [`PriorityOrder`].
pub(crate) fn priority_order() -> PriorityOrder {
    (
        job::priority.is_null().asc(),
        job::priority.desc(),
        job::jobid.asc(),
    )
}
