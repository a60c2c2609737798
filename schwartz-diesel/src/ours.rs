//! The tables of ours that Perl TheSchwartz ignores (migrations `..._schedules` and
//! `..._results`): `schwartz_schedule`, the last tick recorded per periodic schedule, and
//! `schwartz_result`, the results workers record when they complete a job. The primitives
//! are one diesel statement each (compiled per connection type by the macro below); the
//! algorithms are written once over them.

#![allow(missing_docs)]

use diesel::{Connection, QueryResult};
use schwartz_core::store::{
    Finish, FinishAction, FinishStatus, NewJobRow, ResultRow, ResultWrite, ScheduleRow, TickInsert,
};
use schwartz_core::{FuncId, JobId};

use crate::conn::{clamp_time, classify, Class, Ctx, OpError};
use crate::models::ID_CHUNK;
use crate::ops::{duplicate_error, sql_limit};
use crate::sql::Sql;
use crate::Backend;

diesel::table! {
    /// `schwartz_schedule`: one row per periodic schedule.
    schwartz_schedule (name) {
        name -> Text,
        funcname -> Text,
        spec -> Text,
        last_tick -> BigInt,
    }
}

diesel::table! {
    /// `schwartz_result`: one row per job that recorded a result.
    schwartz_result (jobid) {
        jobid -> BigInt,
        funcid -> Integer,
        value -> Binary,
        completion_time -> BigInt,
        delete_after -> BigInt,
    }
}

crate::names::named_table!(schwartz_schedule: name, funcname, spec, last_tick);
crate::names::named_table!(
    schwartz_result: jobid,
    funcid,
    value,
    completion_time,
    delete_after
);

const SCHEDULE: crate::names::Named<schwartz_schedule::table> =
    crate::names::Named(schwartz_schedule::table, std::marker::PhantomData);
const INTO_SCHEDULE: crate::names::Named<schwartz_schedule::table, crate::names::Insert> =
    crate::names::Named(schwartz_schedule::table, std::marker::PhantomData);
const RESULT: crate::names::Named<schwartz_result::table> =
    crate::names::Named(schwartz_result::table, std::marker::PhantomData);
const INTO_RESULT: crate::names::Named<schwartz_result::table, crate::names::Insert> =
    crate::names::Named(schwartz_result::table, std::marker::PhantomData);
const FROM_RESULT: crate::names::Named<schwartz_result::table, crate::names::Delete> =
    crate::names::Named(schwartz_result::table, std::marker::PhantomData);

/// The channel result writes notify on PostgreSQL (the waiters of `Client::wait_result`
/// listen on it).
pub const RESULT_CHANNEL: &str = "schwartz_results";

/// A `schwartz_schedule` row: (name, funcname, spec, last_tick).
pub(crate) type ScheduleTuple = (String, String, String, i64);

/// A `schwartz_result` row: (jobid, funcid, value, completion_time, delete_after).
pub(crate) type ResultTuple = (i64, i32, Vec<u8>, i64, i64);

/// The primitives over our tables.
pub(crate) trait OursSql: Connection + Sized {
    fn schedule_rows(&mut self) -> QueryResult<Vec<ScheduleTuple>>;
    fn schedule_insert(&mut self, row: &ScheduleTuple) -> QueryResult<usize>;
    fn schedule_set_spec(&mut self, name: &str, funcname: &str, spec: &str) -> QueryResult<usize>;
    /// `last_tick = tick WHERE name AND last_tick < tick`.
    fn schedule_cas(&mut self, name: &str, tick: i64) -> QueryResult<usize>;
    fn result_delete(&mut self, ids: &[i64]) -> QueryResult<usize>;
    fn result_insert(&mut self, row: &ResultTuple) -> QueryResult<usize>;
    fn result_row(&mut self, jobid: i64) -> QueryResult<Option<ResultTuple>>;
    fn expired_result_ids(&mut self, now: i64, limit: i64) -> QueryResult<Vec<i64>>;
    fn delete_expired_results(&mut self, ids: &[i64], now: i64) -> QueryResult<usize>;
}

/// [`OursSql`] for one connection type: the schedule's statements, then the results'.
macro_rules! ours_sql {
    ($conn:ty) => {
        const _: () = {
            use crate::names::{Rows, Set};
            use diesel::prelude::*;
            use schwartz_result as r;
            use schwartz_schedule as s;
            impl OursSql for $conn {
                schedule_sql!();
                result_sql!();
            }
        };
    };
}

/// The `schwartz_schedule` methods of [`OursSql`] (expanded inside `ours_sql!`).
macro_rules! schedule_sql {
    () => {
        fn schedule_rows(&mut self) -> QueryResult<Vec<ScheduleTuple>> {
            let q = SCHEDULE.select((s::name, s::funcname, s::spec, s::last_tick));
            q.order(s::name.asc()).load(self)
        }
        fn schedule_insert(&mut self, row: &ScheduleTuple) -> QueryResult<usize> {
            let (name, funcname, spec, last) = row;
            let values = (s::name.eq(name), s::funcname.eq(funcname), s::spec.eq(spec));
            diesel::insert_into(INTO_SCHEDULE)
                .values(Rows((values, s::last_tick.eq(last))))
                .execute(self)
        }
        fn schedule_set_spec(&mut self, n: &str, f: &str, sp: &str) -> QueryResult<usize> {
            diesel::update(SCHEDULE.filter(s::name.eq(n)))
                .set(Set((s::funcname.eq(f), s::spec.eq(sp))))
                .execute(self)
        }
        fn schedule_cas(&mut self, name: &str, tick: i64) -> QueryResult<usize> {
            let target = SCHEDULE
                .filter(s::name.eq(name))
                .filter(s::last_tick.lt(tick));
            diesel::update(target)
                .set(Set(s::last_tick.eq(tick)))
                .execute(self)
        }
    };
}

/// The `schwartz_result` methods of [`OursSql`] (expanded inside `ours_sql!`).
macro_rules! result_sql {
    () => {
        fn result_delete(&mut self, ids: &[i64]) -> QueryResult<usize> {
            diesel::delete(FROM_RESULT.filter(r::jobid.eq_any(ids))).execute(self)
        }
        fn result_insert(&mut self, row: &ResultTuple) -> QueryResult<usize> {
            let (id, f, v, done, until) = row;
            let values = (r::jobid.eq(id), r::funcid.eq(f), r::value.eq(v));
            let times = (r::completion_time.eq(done), r::delete_after.eq(until));
            diesel::insert_into(INTO_RESULT)
                .values(Rows((values, times)))
                .execute(self)
        }
        fn result_row(&mut self, jobid: i64) -> QueryResult<Option<ResultTuple>> {
            let cols = (
                r::jobid,
                r::funcid,
                r::value,
                r::completion_time,
                r::delete_after,
            );
            let q = RESULT.filter(r::jobid.eq(jobid)).select(cols);
            q.first(self).optional()
        }
        fn expired_result_ids(&mut self, now: i64, limit: i64) -> QueryResult<Vec<i64>> {
            let q = RESULT.filter(r::delete_after.lt(now)).select(r::jobid);
            q.limit(limit).load(self)
        }
        fn delete_expired_results(&mut self, ids: &[i64], now: i64) -> QueryResult<usize> {
            let t = FROM_RESULT
                .filter(r::jobid.eq_any(ids))
                .filter(r::delete_after.lt(now));
            diesel::delete(t).execute(self)
        }
    };
}

#[cfg(feature = "sqlite")]
ours_sql!(diesel::sqlite::SqliteConnection);
#[cfg(feature = "postgres")]
ours_sql!(diesel::pg::PgConnection);
#[cfg(feature = "mysql")]
ours_sql!(diesel::mysql::MysqlConnection);

fn schedule_row(t: ScheduleTuple) -> ScheduleRow {
    ScheduleRow {
        name: t.0,
        funcname: t.1,
        spec: t.2,
        last_tick: t.3,
    }
}

/// `Store::register_schedule`: update the spec, else insert; a concurrent insert of the
/// same name (a unique violation) is followed by the update.
pub(crate) fn register_schedule<C: Sql>(
    c: &mut C,
    row: &ScheduleRow,
) -> Result<ScheduleRow, OpError> {
    check_text("schedule name", &row.name)?;
    check_text("function name", &row.funcname)?;
    check_text("schedule spec", &row.spec)?;
    let tuple = (
        row.name.clone(),
        row.funcname.clone(),
        row.spec.clone(),
        row.last_tick,
    );
    let upsert = |c: &mut C| {
        c.write_txn(|c| {
            if c.schedule_set_spec(&row.name, &row.funcname, &row.spec)? == 0 {
                c.schedule_insert(&tuple)?;
            }
            Ok(())
        })
    };
    match upsert(c) {
        Err(OpError::Db(e)) if classify(&e) == Class::Unique => upsert(c)?,
        other => other?,
    }
    let rows = c.schedule_rows()?;
    rows.into_iter()
        .map(schedule_row)
        .find(|r| r.name == row.name)
        .ok_or_else(|| {
            OpError::Store(schwartz_core::Error::Database {
                store: String::from("(schedule)"),
                message: format!("schedule {:?} vanished after its registration", row.name),
            })
        })
}

fn check_text(what: &str, v: &str) -> Result<(), OpError> {
    if v.is_empty() || v.chars().count() > 255 || v.contains('\0') {
        return Err(OpError::Store(schwartz_core::Error::InvalidInput(format!(
            "{what} {v:?} must be 1 to 255 characters without NUL"
        ))));
    }
    Ok(())
}

/// `Store::schedules`.
pub(crate) fn schedules<C: Sql>(c: &mut C) -> Result<Vec<ScheduleRow>, OpError> {
    Ok(c.schedule_rows()?.into_iter().map(schedule_row).collect())
}

/// `Store::insert_tick`: the compare-and-set, then the job, in one write transaction.
pub(crate) fn insert_tick<C: Sql>(
    c: &mut C,
    ctx: &Ctx,
    name: &str,
    tick: i64,
    job: Option<&NewJobRow>,
) -> Result<TickInsert, OpError> {
    let jobs: Vec<NewJobRow> = job.into_iter().cloned().collect();
    let r = c.write_txn(|c| {
        if c.schedule_cas(name, tick)? == 0 {
            return Ok(None);
        }
        if jobs.is_empty() {
            return Ok(Some(None));
        }
        let ids = c.insert_rows(ctx, &jobs)?;
        c.notify_new_jobs(ctx)?;
        Ok(Some(ids.into_iter().next().map(JobId)))
    });
    match r {
        Ok(Some(id)) => Ok(TickInsert::Recorded(id)),
        Ok(None) => {
            let last = c.schedule_rows()?.into_iter().find(|r| r.0 == name);
            match last {
                Some(row) => Ok(TickInsert::Taken { last_tick: row.3 }),
                None => Err(OpError::Store(schwartz_core::Error::InvalidInput(format!(
                    "{} has no schedule {name:?}: register it first",
                    ctx.describe
                )))),
            }
        }
        Err(OpError::Db(e)) if classify(&e) == Class::Unique => {
            Err(OpError::Store(duplicate_error(c, ctx, &jobs)))
        }
        Err(e) => Err(e),
    }
}

/// The results of the items whose fenced remove matched (inside `finish`'s transaction).
pub(crate) fn write_results<C: Sql>(
    c: &mut C,
    max_epoch: i64,
    items: &[Finish],
    statuses: &[Option<FinishStatus>],
    results: &[ResultWrite],
) -> Result<(), OpError> {
    let mut rows = Vec::new();
    for r in results {
        let (Some(item), Some(Some(FinishStatus::Done))) =
            (items.get(r.item), statuses.get(r.item))
        else {
            continue;
        };
        if matches!(item.action, FinishAction::Remove { .. }) {
            let times = (
                clamp_time(r.completion_time, max_epoch),
                clamp_time(r.delete_after, max_epoch),
            );
            rows.push((
                item.jobid.0,
                item.funcid.0,
                r.value.clone(),
                times.0,
                times.1,
            ));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    for chunk in ids.chunks(ID_CHUNK) {
        c.result_delete(chunk)?;
    }
    for row in &rows {
        c.result_insert(row)?;
    }
    if C::BACKEND == Backend::Postgres {
        // Raw SQL: diesel has no NOTIFY statement; delivered at commit.
        c.batch_execute(&crate::names::sql(&format!("NOTIFY {RESULT_CHANNEL}"))?)?;
    }
    Ok(())
}

/// `Store::result_notifier`: PostgreSQL listens on [`RESULT_CHANNEL`]; the other backends
/// have no notifications (waiters poll).
pub(crate) fn result_notifier(
    target: &crate::url::Target,
    ctx: &Ctx,
) -> schwartz_core::Result<Option<Box<dyn schwartz_core::store::Notifier>>> {
    #[cfg(feature = "postgres")]
    if target.backend == Backend::Postgres {
        let channel = ctx.names.channel(RESULT_CHANNEL);
        let n = crate::pg::PgNotifier::listen(&target.connect, ctx, &channel)?;
        return Ok(Some(Box::new(n)));
    }
    let _ = (target, ctx);
    Ok(None)
}

/// `Store::job_result`.
pub(crate) fn job_result<C: Sql>(c: &mut C, jobid: JobId) -> Result<Option<ResultRow>, OpError> {
    Ok(c.result_row(jobid.0)?.map(|t| ResultRow {
        jobid: JobId(t.0),
        funcid: FuncId(t.1),
        value: t.2,
        completion_time: t.3,
        delete_after: t.4,
    }))
}

/// `Store::prune_results`.
pub(crate) fn prune_results<C: Sql>(c: &mut C, now: i64, limit: usize) -> Result<u64, OpError> {
    if limit == 0 {
        return Ok(0);
    }
    c.write_txn(|c| {
        let ids = c.expired_result_ids(now, sql_limit(limit))?;
        let mut n = 0usize;
        for chunk in ids.chunks(ID_CHUNK) {
            n += c.delete_expired_results(chunk, now)?;
        }
        Ok(n as u64)
    })
}
