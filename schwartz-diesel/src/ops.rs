//! The store operations, written once and compiled for each backend's connection type.
//!
//! `impl_ops!` expands the same diesel DSL code for `SqliteConnection`, `PgConnection` and
//! `MysqlConnection`, so every query is checked at compile time against the one `table!`
//! schema for every backend. What differs between the dialects goes through the
//! [`Dialect`](crate::conn::Dialect) trait.
//!
//! Why not `#[derive(diesel::MultiConnection)]`: its generated code cannot leave out a
//! variant whose Cargo feature is off, and its backend does not offer the dialect features
//! the hot paths need (RETURNING, `FOR UPDATE SKIP LOCKED`, multi-row INSERT with explicit
//! NULLs), so each backend would need its own arm for those anyway.

use std::collections::{BTreeMap, HashMap, HashSet};

use schwartz_core::store::{
    Claim, ExitStatus, FailureRecord, Finish, FinishAction, FinishStatus, FuncMap, JobQuery,
    JobRow, NewJobRow, StoreStats,
};
use schwartz_core::{CoalesceFilter, Error, FuncId, JobId};

use crate::conn::{Ctx, Dialect, OpError};

/// The operations, implemented by `impl_ops!` for each connection type.
pub(crate) trait Ops: Dialect {
    fn op_funcmap(&mut self) -> Result<Vec<FuncMap>, OpError>;
    fn op_funcid(&mut self, name: &str) -> Result<FuncId, OpError>;
    fn op_insert_jobs(&mut self, ctx: &Ctx, jobs: &[NewJobRow]) -> Result<Vec<JobId>, OpError>;
    fn op_lookup(&mut self, jobid: JobId) -> Result<Option<JobRow>, OpError>;
    fn op_select_jobs(&mut self, q: &JobQuery) -> Result<Vec<JobRow>, OpError>;
    fn op_claim(&mut self, claims: &[Claim], now: i64) -> Result<Vec<JobId>, OpError>;
    fn op_finish(&mut self, ctx: &Ctx, items: &[Finish]) -> Result<Vec<FinishStatus>, OpError>;
    fn op_extend_lease(&mut self, jobid: JobId, token: i64, until: i64) -> Result<bool, OpError>;
    fn op_reschedule(&mut self, jobid: JobId, run_after: i64) -> Result<bool, OpError>;
    fn op_failures(&mut self, jobid: JobId) -> Result<Vec<FailureRecord>, OpError>;
    fn op_recent_failures(
        &mut self,
        since: Option<i64>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>, OpError>;
    fn op_exit_status(&mut self, jobid: JobId) -> Result<Option<ExitStatus>, OpError>;
    fn op_prune_errors(&mut self, older_than: i64, limit: usize) -> Result<u64, OpError>;
    fn op_prune_exit_statuses(&mut self, now: i64, limit: usize) -> Result<u64, OpError>;
    fn op_stats(&mut self) -> Result<StoreStats, OpError>;
}

/// `LIKE` pattern for a literal prefix, with `!` as the escape character (a backslash would
/// need different quoting on MySQL).
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `usize` limit as SQL `LIMIT`.
pub(crate) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Exit status into the SMALLINT column (clamped).
pub(crate) fn status_col(s: i32) -> i16 {
    s.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// Which items of a batch landed where, while `finish` runs.
pub(crate) struct FinishPlan<'a> {
    pub statuses: Vec<Option<FinishStatus>>,
    pub done_ids: HashSet<i64>,
    pub failures: Vec<(&'a FailureRecord, i64)>,
    pub exits: HashMap<i64, (i32, schwartz_core::store::ExitStatusWrite)>,
}

impl<'a> FinishPlan<'a> {
    pub fn new(n: usize) -> Self {
        FinishPlan {
            statuses: (0..n).map(|_| None).collect(),
            done_ids: HashSet::new(),
            failures: Vec::new(),
            exits: HashMap::new(),
        }
    }

    /// Records the side writes of an item whose fenced change matched.
    pub fn matched(&mut self, item: &'a Finish) {
        if let Some(f) = &item.failure {
            self.failures.push((f, item.jobid.0));
        }
        let exit = match &item.action {
            FinishAction::Remove { exit_status } => *exit_status,
            FinishAction::Replace { exit_status, .. } => *exit_status,
            FinishAction::Reschedule { .. } => None,
        };
        if let Some(e) = exit {
            self.exits.insert(item.jobid.0, (item.funcid.0, e));
        }
    }
}

/// Groups the `Remove` items by token: token -> item indexes.
pub(crate) fn remove_groups(items: &[Finish]) -> BTreeMap<i64, Vec<usize>> {
    let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        if matches!(it.action, FinishAction::Remove { .. }) {
            groups.entry(it.token).or_default().push(i);
        }
    }
    groups
}

/// Finds which (funcid, uniqkey) of `jobs` collides inside the batch itself.
pub(crate) fn in_batch_duplicate(jobs: &[NewJobRow]) -> Option<(FuncId, String)> {
    let mut seen = HashSet::new();
    for j in jobs {
        if let Some(k) = &j.uniqkey {
            if !seen.insert((j.funcid, k.as_str())) {
                return Some((j.funcid, k.clone()));
            }
        }
    }
    None
}

/// Whether a filter can match no row at all (saves a round trip).
pub(crate) fn matches_nothing(q: &JobQuery) -> bool {
    q.funcids.is_empty() || q.limit == 0 || q.floor.is_some_and(|f| f > i16::MAX as i32)
}

/// `CoalesceFilter` re-exported for the macro.
pub(crate) type Coalesce = CoalesceFilter;
/// `Error` re-exported for the macro.
pub(crate) type CoreError = Error;

macro_rules! impl_ops {
    ($module:ident, $conn:ty) => {
        pub(crate) mod $module {
            #![allow(unused_imports)]
            use std::collections::HashSet;

            use diesel::dsl::count_star;
            use diesel::expression::BoxableExpression;
            use diesel::prelude::*;
            use diesel::sql_types::Bool;
            use schwartz_core::{FuncId, JobId, JobOrder};
            use schwartz_core::store::{Claim, ExitStatus, FailureRecord, Finish, FinishAction, FinishStatus, FuncMap, JobQuery, JobRow, NewJobRow, StoreStats};

            use crate::conn::{
                clamp_time, col_time, classify, CheckedJob, Class, Ctx, Dialect, OpError,
            };
            use crate::models::{
                DbJob, InsertError, InsertExit, InsertJobWithId, ID_CHUNK, INSERT_CHUNK, JOB_COLUMNS,
            };
            use crate::ops::{
                in_batch_duplicate, like_prefix, matches_nothing, remove_groups, sql_limit,
                status_col, Coalesce, CoreError, FinishPlan, Ops,
            };
            use crate::schema::{error, exitstatus, funcmap, job};

            type Conn = $conn;
            type DB = <$conn as diesel::Connection>::Backend;

            /// A boxed `WHERE` clause over `job`.
            pub(crate) type Pred = Box<dyn BoxableExpression<job::table, DB, SqlType = Bool>>;

            /// Inserts rows that carry explicit job ids (chunked under the bind-parameter
            /// limits) and returns those ids in order.
            pub(crate) fn insert_with_ids(
                c: &mut Conn,
                rows: &[NewJobRow],
                checked: &[CheckedJob],
            ) -> QueryResult<Vec<i64>> {
                let values: Vec<InsertJobWithId<'_>> = rows
                    .iter()
                    .zip(checked)
                    .map(|(row, &ch)| InsertJobWithId::new(row, row.jobid.map_or(0, |j| j.0), ch))
                    .collect();
                for chunk in values.chunks(INSERT_CHUNK) {
                    diesel::insert_into(job::table).values(chunk).execute(c)?;
                }
                Ok(values.iter().map(|v| v.jobid).collect())
            }

            /// The `WHERE` clause of a [`JobQuery`]; `None` when it matches nothing.
            pub(crate) fn predicate(q: &JobQuery) -> Option<Pred> {
                if matches_nothing(q) {
                    return None;
                }
                let ids: Vec<i32> = q.funcids.iter().map(|f| f.0).collect();
                let mut p: Pred = Box::new(job::funcid.eq_any(ids));
                if let Some(t) = q.run_after_max {
                    p = Box::new(p.and(job::run_after.le(clamp_time(t))));
                }
                if let Some(t) = q.grabbed_until_max {
                    p = Box::new(p.and(job::grabbed_until.le(clamp_time(t))));
                }
                if let Some(id) = q.jobid {
                    p = Box::new(p.and(job::jobid.eq(id.0)));
                }
                if let Some(floor) = q.floor {
                    let f = floor.max(i16::MIN as i32) as i16;
                    p = Box::new(p.and(job::priority.assume_not_null().ge(f)));
                }
                match &q.coalesce {
                    None => {}
                    Some(Coalesce::Equals(v)) => {
                        p = Box::new(p.and(job::coalesce.assume_not_null().eq(v.clone())));
                    }
                    Some(Coalesce::Prefix(v)) => {
                        p = Box::new(
                            p.and(job::coalesce.assume_not_null().like(like_prefix(v)).escape('!')),
                        );
                    }
                }
                Some(p)
            }

            fn funcname_of(c: &mut Conn, id: FuncId) -> Option<String> {
                funcmap::table
                    .filter(funcmap::funcid.eq(id.0))
                    .select(funcmap::funcname)
                    .first::<String>(c)
                    .optional()
                    .ok()
                    .flatten()
            }

            /// After a unique violation: which (funcname, uniqkey) collided, when it can be told.
            fn duplicate_error(c: &mut Conn, ctx: &Ctx, jobs: &[NewJobRow]) -> CoreError {
                let mut found = in_batch_duplicate(jobs);
                if found.is_none() {
                    let keys: Vec<&str> = jobs
                        .iter()
                        .filter_map(|j| j.uniqkey.as_deref())
                        .take(1000)
                        .collect();
                    if !keys.is_empty() {
                        let existing: Vec<(i32, Option<String>)> = job::table
                            .filter(job::uniqkey.eq_any(keys))
                            .select((job::funcid, job::uniqkey))
                            .limit(1000)
                            .load(c)
                            .unwrap_or_default();
                        found = jobs.iter().find_map(|j| {
                            let k = j.uniqkey.as_ref()?;
                            existing
                                .iter()
                                .any(|(f, u)| *f == j.funcid.0 && u.as_ref() == Some(k))
                                .then(|| (j.funcid, k.clone()))
                        });
                    }
                }
                match found {
                    Some((funcid, key)) => CoreError::DuplicateUniqkey {
                        store: ctx.describe.clone(),
                        funcname: funcname_of(c, funcid),
                        uniqkey: Some(key),
                    },
                    None => {
                        let single = jobs.iter().filter(|j| j.uniqkey.is_some()).count() == 1;
                        let j = jobs.iter().find(|j| j.uniqkey.is_some());
                        CoreError::DuplicateUniqkey {
                            store: ctx.describe.clone(),
                            funcname: j.filter(|_| single).and_then(|j| funcname_of(c, j.funcid)),
                            uniqkey: j.filter(|_| single).and_then(|j| j.uniqkey.clone()),
                        }
                    }
                }
            }

            /// Turns a unique violation into `DuplicateUniqkey` with what is known.
            fn on_unique(c: &mut Conn, ctx: &Ctx, jobs: &[NewJobRow], e: OpError) -> OpError {
                match &e {
                    OpError::Db(d) if classify(d) == Class::Unique => {
                        OpError::Store(duplicate_error(c, ctx, jobs))
                    }
                    _ => e,
                }
            }

            fn ensure_message_cap(c: &mut Conn, ctx: &Ctx) -> Result<(), OpError> {
                if ctx.message_cap.get().is_none() {
                    let cap = c.message_capacity()?;
                    let _ = ctx.message_cap.set(cap);
                }
                Ok(())
            }

            fn record(r: (i32, i64, String, i32)) -> FailureRecord {
                FailureRecord {
                    error_time: r.0.into(),
                    jobid: JobId(r.1),
                    message: r.2,
                    funcid: FuncId(r.3),
                }
            }

            impl Ops for Conn {
                fn op_funcmap(&mut self) -> Result<Vec<FuncMap>, OpError> {
                    let rows: Vec<(i32, String)> = funcmap::table
                        .select((funcmap::funcid, funcmap::funcname))
                        .order(funcmap::funcid.asc())
                        .load(self)?;
                    Ok(rows
                        .into_iter()
                        .map(|(id, name)| FuncMap { funcid: FuncId(id), funcname: name })
                        .collect())
                }

                fn op_funcid(&mut self, name: &str) -> Result<FuncId, OpError> {
                    if name.is_empty() || name.chars().count() > 255 {
                        return Err(OpError::Store(CoreError::InvalidInput(format!(
                            "function name {name:?} must be 1 to 255 characters"
                        ))));
                    }
                    let find = |c: &mut Conn| {
                        funcmap::table
                            .filter(funcmap::funcname.eq(name))
                            .select(funcmap::funcid)
                            .first::<i32>(c)
                            .optional()
                    };
                    if let Some(id) = find(self)? {
                        return Ok(FuncId(id));
                    }
                    let inserted = diesel::insert_into(funcmap::table)
                        .values(funcmap::funcname.eq(name))
                        .execute(self);
                    match inserted {
                        Ok(_) => {}
                        // A concurrent creator won: re-select below.
                        Err(e) if classify(&e) == Class::Unique => {}
                        Err(e) => return Err(e.into()),
                    }
                    match find(self)? {
                        Some(id) => Ok(FuncId(id)),
                        None => Err(OpError::Store(CoreError::InvalidInput(format!(
                            "function name {name:?}: inserted into funcmap but not found again (does the database collation change it?)"
                        )))),
                    }
                }

                fn op_insert_jobs(
                    &mut self,
                    ctx: &Ctx,
                    jobs: &[NewJobRow],
                ) -> Result<Vec<JobId>, OpError> {
                    if jobs.is_empty() {
                        return Ok(Vec::new());
                    }
                    // One row with a generated id is one statement (MySQL: plus
                    // LAST_INSERT_ID() on the same connection): no transaction needed, unless
                    // an explicit NOTIFY must go with it.
                    let single = jobs.len() == 1 && jobs[0].jobid.is_none();
                    let result = if single && !self.needs_explicit_notify(ctx)? {
                        self.insert_rows(ctx, jobs)
                    } else {
                        self.write_txn(|c| {
                            let ids = c.insert_rows(ctx, jobs)?;
                            c.notify_new_jobs(ctx)?;
                            Ok(ids)
                        })
                    };
                    match result {
                        Ok(ids) => Ok(ids.into_iter().map(JobId).collect()),
                        Err(e) => Err(on_unique(self, ctx, jobs, e)),
                    }
                }

                fn op_lookup(&mut self, jobid: JobId) -> Result<Option<JobRow>, OpError> {
                    let row = job::table
                        .filter(job::jobid.eq(jobid.0))
                        .select(JOB_COLUMNS)
                        .first::<DbJob>(self)
                        .optional()?;
                    Ok(row.map(JobRow::from))
                }

                fn op_select_jobs(&mut self, q: &JobQuery) -> Result<Vec<JobRow>, OpError> {
                    let Some(pred) = predicate(q) else {
                        return Ok(Vec::new());
                    };
                    let query = job::table.select(JOB_COLUMNS).filter(pred).into_boxed();
                    let query = match q.order {
                        JobOrder::JobId => query.order_by(job::jobid.asc()),
                        JobOrder::PriorityDesc => query.order_by((
                            job::priority.is_null().asc(),
                            job::priority.desc(),
                            job::jobid.asc(),
                        )),
                    };
                    let rows: Vec<DbJob> = query.limit(sql_limit(q.limit)).load(self)?;
                    Ok(rows.into_iter().map(JobRow::from).collect())
                }

                fn op_claim(&mut self, claims: &[Claim], now: i64) -> Result<Vec<JobId>, OpError> {
                    if claims.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut checked = Vec::with_capacity(claims.len());
                    for cl in claims {
                        let until = col_time(cl.lease_until, "lease_until")?;
                        // An `expected` outside the column's range cannot match any row.
                        if let Ok(expected) = i32::try_from(cl.expected) {
                            checked.push((cl.jobid, expected, until));
                        }
                    }
                    let now = clamp_time(now);
                    let claim_one = |c: &mut Self, jobid: JobId, expected: i32, until: i32| {
                        diesel::update(
                            job::table
                                .filter(job::jobid.eq(jobid.0))
                                .filter(job::grabbed_until.eq(expected))
                                .filter(job::grabbed_until.le(now)),
                        )
                        .set(job::grabbed_until.eq(until))
                        .execute(c)
                    };
                    // One claim is one statement: no transaction needed.
                    if let [(jobid, expected, until)] = checked[..] {
                        let n = claim_one(self, jobid, expected, until)?;
                        return Ok(if n > 0 { vec![jobid] } else { Vec::new() });
                    }
                    self.write_txn(|c| {
                        let mut won = Vec::with_capacity(checked.len());
                        for &(jobid, expected, until) in &checked {
                            if claim_one(c, jobid, expected, until)? > 0 {
                                won.push(jobid);
                            }
                        }
                        Ok(won)
                    })
                }

                fn op_finish(
                    &mut self,
                    ctx: &Ctx,
                    items: &[Finish],
                ) -> Result<Vec<FinishStatus>, OpError> {
                    if items.is_empty() {
                        return Ok(Vec::new());
                    }
                    if items.iter().any(|i| i.failure.is_some()) {
                        ensure_message_cap(self, ctx)?;
                    }
                    // Times of the side writes, checked before anything is sent.
                    for it in items {
                        if let Some(f) = &it.failure {
                            col_time(f.error_time, "error_time")?;
                        }
                        match &it.action {
                            FinishAction::Remove { exit_status: Some(e) }
                            | FinishAction::Replace { exit_status: Some(e), .. } => {
                                col_time(e.completion_time, "completion_time")?;
                                col_time(e.delete_after, "delete_after")?;
                            }
                            FinishAction::Reschedule { run_after: Some(t) } => {
                                col_time(*t, "run_after")?;
                            }
                            _ => {}
                        }
                    }
                    // One item with no side write (a plain completion or a release) is one
                    // fenced statement: no transaction needed.
                    if let [it] = items {
                        if it.failure.is_none() {
                            let Ok(token) = i32::try_from(it.token) else {
                                return Ok(vec![FinishStatus::LeaseLost]);
                            };
                            let fenced = job::table
                                .filter(job::jobid.eq(it.jobid.0))
                                .filter(job::grabbed_until.eq(token));
                            let n = match &it.action {
                                FinishAction::Remove { exit_status: None } => {
                                    Some(diesel::delete(fenced).execute(self)?)
                                }
                                FinishAction::Reschedule { run_after: None } => Some(
                                    diesel::update(fenced)
                                        .set(job::grabbed_until.eq(0))
                                        .execute(self)?,
                                ),
                                FinishAction::Reschedule { run_after: Some(t) } => Some(
                                    diesel::update(fenced)
                                        .set((
                                            job::grabbed_until.eq(0),
                                            job::run_after.eq(clamp_time(*t)),
                                        ))
                                        .execute(self)?,
                                ),
                                _ => None,
                            };
                            if let Some(n) = n {
                                return Ok(vec![if n > 0 {
                                    FinishStatus::Done
                                } else {
                                    FinishStatus::LeaseLost
                                }]);
                            }
                        }
                    }
                    self.write_txn(|c| {
                        let mut plan = FinishPlan::new(items.len());
                        // 1. Removes, grouped by token: one fenced DELETE per token.
                        for (token, idxs) in remove_groups(items) {
                            let Ok(token32) = i32::try_from(token) else {
                                for i in idxs {
                                    plan.statuses[i] = Some(FinishStatus::LeaseLost);
                                }
                                continue;
                            };
                            let mut ids: Vec<i64> = idxs.iter().map(|&i| items[i].jobid.0).collect();
                            ids.sort_unstable();
                            ids.dedup();
                            let mut deleted: HashSet<i64> = HashSet::new();
                            for chunk in ids.chunks(ID_CHUNK) {
                                deleted.extend(c.delete_fenced(token32, chunk)?);
                            }
                            for i in idxs {
                                let id = items[i].jobid.0;
                                if deleted.contains(&id) && plan.done_ids.insert(id) {
                                    plan.statuses[i] = Some(FinishStatus::Done);
                                    plan.matched(&items[i]);
                                } else {
                                    plan.statuses[i] = Some(FinishStatus::LeaseLost);
                                }
                            }
                        }
                        // 2. Reschedules and replacements, one by one.
                        for (i, it) in items.iter().enumerate() {
                            if plan.statuses[i].is_some() {
                                continue;
                            }
                            let id = it.jobid.0;
                            let token = match i32::try_from(it.token) {
                                Ok(t) if !plan.done_ids.contains(&id) => t,
                                _ => {
                                    plan.statuses[i] = Some(FinishStatus::LeaseLost);
                                    continue;
                                }
                            };
                            let fenced = job::table
                                .filter(job::jobid.eq(id))
                                .filter(job::grabbed_until.eq(token));
                            match &it.action {
                                FinishAction::Remove { .. } => unreachable!("handled above"),
                                FinishAction::Reschedule { run_after } => {
                                    let n = match run_after {
                                        Some(t) => diesel::update(fenced)
                                            .set((
                                                job::grabbed_until.eq(0),
                                                job::run_after.eq(clamp_time(*t)),
                                            ))
                                            .execute(c)?,
                                        None => diesel::update(fenced)
                                            .set(job::grabbed_until.eq(0))
                                            .execute(c)?,
                                    };
                                    if n > 0 {
                                        plan.done_ids.insert(id);
                                        plan.statuses[i] = Some(FinishStatus::Done);
                                        plan.matched(it);
                                    } else {
                                        plan.statuses[i] = Some(FinishStatus::LeaseLost);
                                    }
                                }
                                FinishAction::Replace { jobs, .. } => {
                                    // A savepoint: a failed replacement leaves this job as it
                                    // was while the rest of the batch commits.
                                    let r = c.transaction(|c| {
                                        let n = diesel::delete(fenced).execute(c)?;
                                        if n == 0 {
                                            return Err(OpError::LeaseLost);
                                        }
                                        let ids = c.insert_rows(ctx, jobs)?;
                                        if !jobs.is_empty() {
                                            c.notify_new_jobs(ctx)?;
                                        }
                                        Ok(ids)
                                    });
                                    match r {
                                        Ok(ids) => {
                                            plan.done_ids.insert(id);
                                            plan.statuses[i] = Some(FinishStatus::Replaced(
                                                ids.into_iter().map(JobId).collect(),
                                            ));
                                            plan.matched(it);
                                        }
                                        Err(OpError::LeaseLost) => {
                                            plan.statuses[i] = Some(FinishStatus::LeaseLost);
                                        }
                                        Err(OpError::Store(e)) => {
                                            plan.statuses[i] = Some(FinishStatus::Rejected(e));
                                        }
                                        Err(OpError::Db(e)) => match classify(&e) {
                                            Class::Unique => {
                                                let err = duplicate_error(c, ctx, jobs);
                                                plan.statuses[i] = Some(FinishStatus::Rejected(err));
                                            }
                                            // The connection or the transaction is gone:
                                            // the whole batch fails (and may be retried).
                                            Class::Unavailable | Class::Retry => {
                                                return Err(OpError::Db(e))
                                            }
                                            _ => {
                                                plan.statuses[i] =
                                                    Some(FinishStatus::Rejected(ctx.map_db(&e)));
                                            }
                                        },
                                    }
                                }
                            }
                        }
                        // 3. Side writes of the matched items.
                        if !plan.failures.is_empty() {
                            let rows: Vec<InsertError<'_>> = plan
                                .failures
                                .iter()
                                .map(|(f, jobid)| InsertError {
                                    error_time: clamp_time(f.error_time),
                                    jobid: *jobid,
                                    message: ctx.truncate_message(&f.message),
                                    funcid: f.funcid.0,
                                })
                                .collect();
                            for chunk in rows.chunks(INSERT_CHUNK) {
                                diesel::insert_into(error::table).values(chunk).execute(c)?;
                            }
                        }
                        if !plan.exits.is_empty() {
                            // Upsert as delete + insert inside this transaction (portable; the
                            // job's fence makes concurrent writers for one jobid impossible).
                            let mut ids: Vec<i64> = plan.exits.keys().copied().collect();
                            ids.sort_unstable();
                            for chunk in ids.chunks(ID_CHUNK) {
                                diesel::delete(exitstatus::table.filter(exitstatus::jobid.eq_any(chunk)))
                                    .execute(c)?;
                            }
                            let rows: Vec<InsertExit> = ids
                                .iter()
                                .map(|id| {
                                    let (funcid, e) = plan.exits[id];
                                    InsertExit {
                                        jobid: *id,
                                        funcid,
                                        status: Some(status_col(e.status)),
                                        completion_time: Some(clamp_time(e.completion_time)),
                                        delete_after: Some(clamp_time(e.delete_after)),
                                    }
                                })
                                .collect();
                            for chunk in rows.chunks(INSERT_CHUNK) {
                                diesel::insert_into(exitstatus::table).values(chunk).execute(c)?;
                            }
                        }
                        Ok(plan
                            .statuses
                            .into_iter()
                            .map(|s| s.unwrap_or(FinishStatus::LeaseLost))
                            .collect())
                    })
                }

                fn op_extend_lease(
                    &mut self,
                    jobid: JobId,
                    token: i64,
                    until: i64,
                ) -> Result<bool, OpError> {
                    let until = col_time(until, "new lease end")?;
                    let Ok(token) = i32::try_from(token) else {
                        return Ok(false);
                    };
                    let n = diesel::update(
                        job::table
                            .filter(job::jobid.eq(jobid.0))
                            .filter(job::grabbed_until.eq(token)),
                    )
                    .set(job::grabbed_until.eq(until))
                    .execute(self)?;
                    Ok(n > 0)
                }

                fn op_reschedule(&mut self, jobid: JobId, run_after: i64) -> Result<bool, OpError> {
                    let run_after = col_time(run_after, "run_after")?;
                    let target = job::table.filter(job::jobid.eq(jobid.0));
                    let n = diesel::update(target)
                        .set((job::run_after.eq(run_after), job::grabbed_until.eq(0)))
                        .execute(self)?;
                    if n > 0 {
                        return Ok(true);
                    }
                    // MySQL reports rows changed, not matched, when the values were already
                    // set; check existence to tell "not found" apart.
                    let exists = job::table
                        .filter(job::jobid.eq(jobid.0))
                        .select(job::jobid)
                        .first::<i64>(self)
                        .optional()?;
                    Ok(exists.is_some())
                }

                fn op_failures(&mut self, jobid: JobId) -> Result<Vec<FailureRecord>, OpError> {
                    // No ORDER BY: the jobid index (or SQLite's rowid) returns rows in
                    // insertion order; a stable sort by time keeps that order among equal times.
                    let rows: Vec<(i32, i64, String, i32)> = error::table
                        .filter(error::jobid.eq(jobid.0))
                        .select((error::error_time, error::jobid, error::message, error::funcid))
                        .load(self)?;
                    let mut out: Vec<FailureRecord> = rows.into_iter().map(record).collect();
                    out.sort_by_key(|r| r.error_time);
                    Ok(out)
                }

                fn op_recent_failures(
                    &mut self,
                    since: Option<i64>,
                    funcid: Option<FuncId>,
                    limit: usize,
                ) -> Result<Vec<FailureRecord>, OpError> {
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    let mut q = error::table
                        .select((error::error_time, error::jobid, error::message, error::funcid))
                        .into_boxed();
                    if let Some(t) = since {
                        q = q.filter(error::error_time.ge(clamp_time(t)));
                    }
                    if let Some(f) = funcid {
                        q = q.filter(error::funcid.eq(f.0));
                    }
                    let rows: Vec<(i32, i64, String, i32)> = q
                        .order_by(error::error_time.desc())
                        .limit(sql_limit(limit))
                        .load(self)?;
                    Ok(rows.into_iter().map(record).collect())
                }

                fn op_exit_status(&mut self, jobid: JobId) -> Result<Option<ExitStatus>, OpError> {
                    let row: Option<(i64, i32, Option<i16>, Option<i32>, Option<i32>)> =
                        exitstatus::table
                            .filter(exitstatus::jobid.eq(jobid.0))
                            .select((
                                exitstatus::jobid,
                                exitstatus::funcid,
                                exitstatus::status,
                                exitstatus::completion_time,
                                exitstatus::delete_after,
                            ))
                            .first(self)
                            .optional()?;
                    Ok(row.map(|r| ExitStatus {
                        jobid: JobId(r.0),
                        funcid: FuncId(r.1),
                        status: r.2.map(i32::from).unwrap_or(0),
                        completion_time: r.3.map(i64::from).unwrap_or(0),
                        delete_after: r.4.map(i64::from).unwrap_or(0),
                    }))
                }

                fn op_prune_errors(&mut self, older_than: i64, limit: usize) -> Result<u64, OpError> {
                    if limit == 0 {
                        return Ok(0);
                    }
                    let t = clamp_time(older_than);
                    let n = self.write_txn(|c| Ok(c.prune_errors(t, sql_limit(limit))?))?;
                    Ok(n as u64)
                }

                fn op_prune_exit_statuses(&mut self, now: i64, limit: usize) -> Result<u64, OpError> {
                    if limit == 0 {
                        return Ok(0);
                    }
                    let now = clamp_time(now);
                    self.write_txn(|c| {
                        let ids: Vec<i64> = exitstatus::table
                            .filter(exitstatus::delete_after.lt(now))
                            .select(exitstatus::jobid)
                            .limit(sql_limit(limit))
                            .load(c)?;
                        let mut n = 0usize;
                        for chunk in ids.chunks(ID_CHUNK) {
                            n += diesel::delete(
                                exitstatus::table
                                    .filter(exitstatus::jobid.eq_any(chunk))
                                    .filter(exitstatus::delete_after.lt(now)),
                            )
                            .execute(c)?;
                        }
                        Ok(n as u64)
                    })
                }

                fn op_stats(&mut self) -> Result<StoreStats, OpError> {
                    let jobs: i64 = job::table.select(count_star()).first(self)?;
                    let errors: i64 = error::table.select(count_star()).first(self)?;
                    let exits: i64 = exitstatus::table.select(count_star()).first(self)?;
                    Ok(StoreStats {
                        jobs: jobs as u64,
                        errors: errors as u64,
                        exit_statuses: exits as u64,
                    })
                }
            }
        }
    };
}

#[cfg(feature = "sqlite")]
impl_ops!(sqlite_ops, diesel::sqlite::SqliteConnection);
#[cfg(feature = "postgres")]
impl_ops!(pg_ops, diesel::pg::PgConnection);
#[cfg(feature = "mysql")]
impl_ops!(mysql_ops, diesel::mysql::MysqlConnection);
