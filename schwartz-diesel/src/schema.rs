//! The one `table!` schema shared by every backend.
//!
//! SQL types are chosen so that both our migrations and TheSchwartz's own schema files read
//! the same way: time columns are `BIGINT` (64-bit in our migrations; TheSchwartz's schema
//! files have `INTEGER`, which MySQL and SQLite widen freely and PostgreSQL sends as 4
//! bytes, so every time column is read through [`Epoch`], which takes either width),
//! `priority`/`status` are `SMALLINT`, ids of jobs are `BIGINT` and function ids `INTEGER`.

#![allow(missing_docs)]

diesel::table! {
    /// `funcmap`: function name <-> small integer, per database.
    funcmap (funcid) {
        funcid -> Integer,
        funcname -> Text,
    }
}

diesel::table! {
    /// `job`: one row per pending job.
    job (jobid) {
        jobid -> BigInt,
        funcid -> Integer,
        arg -> Nullable<Binary>,
        uniqkey -> Nullable<Text>,
        insert_time -> Nullable<BigInt>,
        run_after -> BigInt,
        grabbed_until -> BigInt,
        priority -> Nullable<SmallInt>,
        coalesce -> Nullable<Text>,
    }
}

diesel::table! {
    /// `error`: the append-only failure log. It has no primary key in the database;
    /// diesel needs one declared, (jobid, error_time) is only used for that.
    error (jobid, error_time) {
        error_time -> BigInt,
        jobid -> BigInt,
        message -> Text,
        funcid -> Integer,
    }
}

diesel::table! {
    /// `exitstatus`: one row per finished job whose worker keeps exit statuses.
    exitstatus (jobid) {
        jobid -> BigInt,
        funcid -> Integer,
        status -> Nullable<SmallInt>,
        completion_time -> Nullable<BigInt>,
        delete_after -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(funcmap, job, error, exitstatus);

/// Epoch seconds read from a time column, whichever width it has: `BIGINT` (our migrations)
/// or `INTEGER` (TheSchwartz's schema files). Diesel's own `i64` refuses PostgreSQL's 4-byte
/// `INTEGER` values; writes bind `i64`, which PostgreSQL assigns to an `INTEGER` column
/// (values past its range are refused before any SQL, see `DieselStore::max_epoch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) struct Epoch(pub i64);

impl From<Epoch> for i64 {
    fn from(e: Epoch) -> i64 {
        e.0
    }
}

#[cfg(feature = "postgres")]
impl diesel::deserialize::FromSql<diesel::sql_types::BigInt, diesel::pg::Pg> for Epoch {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        match *value.as_bytes() {
            [a, b, c, d] => Ok(Epoch(i32::from_be_bytes([a, b, c, d]).into())),
            [a, b, c, d, e, f, g, h] => Ok(Epoch(i64::from_be_bytes([a, b, c, d, e, f, g, h]))),
            ref other => Err(format!(
                "a time column sent {} bytes; expected 4 (INTEGER) or 8 (BIGINT)",
                other.len()
            )
            .into()),
        }
    }
}

#[cfg(feature = "mysql")]
impl diesel::deserialize::FromSql<diesel::sql_types::BigInt, diesel::mysql::Mysql> for Epoch {
    fn from_sql(value: diesel::mysql::MysqlValue<'_>) -> diesel::deserialize::Result<Self> {
        <i64 as diesel::deserialize::FromSql<diesel::sql_types::BigInt, diesel::mysql::Mysql>>::from_sql(value).map(Epoch)
    }
}

#[cfg(feature = "sqlite")]
impl diesel::deserialize::FromSql<diesel::sql_types::BigInt, diesel::sqlite::Sqlite> for Epoch {
    fn from_sql(
        value: diesel::sqlite::SqliteValue<'_, '_, '_>,
    ) -> diesel::deserialize::Result<Self> {
        <i64 as diesel::deserialize::FromSql<diesel::sql_types::BigInt, diesel::sqlite::Sqlite>>::from_sql(value).map(Epoch)
    }
}

crate::names::named_table!(funcmap: funcid, funcname);
crate::names::named_table!(
    job: jobid,
    funcid,
    arg,
    uniqkey,
    insert_time,
    run_after,
    grabbed_until,
    priority,
    coalesce
);
crate::names::named_table!(error: error_time, jobid, message, funcid);
crate::names::named_table!(
    exitstatus: jobid,
    funcid,
    status,
    completion_time,
    delete_after
);

/// The tables under the names in scope (see `names.rs`).
pub(crate) mod named {
    use std::marker::PhantomData;

    use crate::names::{Delete, Insert, Named};

    pub(crate) const FUNCMAP: Named<super::funcmap::table> =
        Named(super::funcmap::table, PhantomData);
    pub(crate) const JOB: Named<super::job::table> = Named(super::job::table, PhantomData);
    pub(crate) const ERROR: Named<super::error::table> = Named(super::error::table, PhantomData);
    pub(crate) const EXITSTATUS: Named<super::exitstatus::table> =
        Named(super::exitstatus::table, PhantomData);
    pub(crate) const INTO_FUNCMAP: Named<super::funcmap::table, Insert> =
        Named(super::funcmap::table, PhantomData);
    pub(crate) const INTO_JOB: Named<super::job::table, Insert> =
        Named(super::job::table, PhantomData);
    pub(crate) const INTO_ERROR: Named<super::error::table, Insert> =
        Named(super::error::table, PhantomData);
    pub(crate) const INTO_EXITSTATUS: Named<super::exitstatus::table, Insert> =
        Named(super::exitstatus::table, PhantomData);
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub(crate) const FROM_JOB: Named<super::job::table, Delete> =
        Named(super::job::table, PhantomData);
    #[cfg(feature = "sqlite")]
    pub(crate) const JOB_PLAIN: super::job::table = super::job::table;
    #[cfg(feature = "sqlite")]
    pub(crate) const ERROR_PLAIN: super::error::table = super::error::table;
    #[cfg(feature = "sqlite")]
    pub(crate) const EXITSTATUS_PLAIN: super::exitstatus::table = super::exitstatus::table;
    pub(crate) const FROM_EXITSTATUS: Named<super::exitstatus::table, Delete> =
        Named(super::exitstatus::table, PhantomData);
}
