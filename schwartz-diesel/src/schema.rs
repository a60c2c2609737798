//! The one `table!` schema shared by every backend.
//!
//! SQL types are chosen so that both our migrations and TheSchwartz's own schema files read
//! the same way: time columns are `INTEGER` (PostgreSQL's binary protocol would refuse to
//! read an `INTEGER` column as `BIGINT`; MySQL and SQLite widen or narrow freely, which also
//! covers MySQL's `UNSIGNED` columns), `priority`/`status` are `SMALLINT`, ids of jobs are
//! `BIGINT` and function ids `INTEGER`.

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
        insert_time -> Nullable<Integer>,
        run_after -> Integer,
        grabbed_until -> Integer,
        priority -> Nullable<SmallInt>,
        coalesce -> Nullable<Text>,
    }
}

diesel::table! {
    /// `error`: the append-only failure log. It has no primary key in the database;
    /// diesel needs one declared, (jobid, error_time) is only used for that.
    error (jobid, error_time) {
        error_time -> Integer,
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
        completion_time -> Nullable<Integer>,
        delete_after -> Nullable<Integer>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(funcmap, job, error, exitstatus);
