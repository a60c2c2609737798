//! The tables and their indexes. Everything here runs under the store's one lock, so each
//! public operation is one atomic transaction. Every write operation validates first and
//! only then changes anything, so a refused operation leaves no trace.
//!
//! The `job` indexes are laid out for the hot query, the eligibility select of a worker
//! (`run_after <= now AND grabbed_until <= now ORDER BY ... LIMIT n`): its cost is
//! O(n · log rows), whatever number of leased rows or rows scheduled for later exist (see
//! [`FuncIndex`]).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Bound::{self, Excluded, Included, Unbounded};

use schwartz_core::store::{
    Claim, CoalesceFilter, ExitStatus, ExitStatusWrite, FailureRecord, Finish, FinishAction,
    FinishStatus, FuncMap, JobOrder, JobQuery, JobRecords, JobRow, Lease, NewJobRow, StoreStats,
};
use schwartz_core::{Epoch, Error, FuncId, JobId, Result};

mod ours;
mod select;
mod side;

/// Longest `funcname`, `uniqkey` and `coalesce` (`VARCHAR(255)`, in characters).
const VARCHAR_LEN: usize = 255;

/// Longest `error.message`, in bytes (a `TEXT` column).
pub(crate) const MESSAGE_MAX_BYTES: usize = 65_535;

/// How many rows a candidate scan in result order examines, when it may be skipping rows
/// whose time lies after the query's (a clock read before the last promotion), before it
/// switches to the `(funcid, time)` index (at least; four times the limit when that is
/// more).
const SCAN_BUDGET: usize = 256;

/// The largest job id: the upper end of a `(key, jobid)` range that takes every id.
const MAX_JOBID: JobId = JobId(i64::MAX);

/// The `job` rows by id.
type JobMap = HashMap<JobId, JobRow, BuildHasherDefault<IdHasher>>;

/// A hasher for job and function ids, which are mostly small and consecutive. The low
/// bits of the hash (the bucket of a `HashMap`) follow the id, so rows inserted together
/// sit together and a drain in id order walks memory in order; the top bits (the tag a
/// `HashMap` compares first) are a multiplicative mix of it. Higher id bits are folded
/// into the low ones, so ids far apart do not pile into one bucket. Other input is hashed
/// with FNV-1a.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl IdHasher {
    fn spread(x: u64) -> u64 {
        const TAG: u64 = 0x7F << 57;
        let low = x ^ (x >> 21) ^ (x >> 42);
        low ^ (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & TAG)
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0 ^ 0xCBF2_9CE4_8422_2325;
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
        self.0 = h;
    }

    fn write_i64(&mut self, n: i64) {
        self.0 = IdHasher::spread(self.0 ^ n as u64);
    }

    fn write_i32(&mut self, n: i32) {
        self.write_i64(i64::from(n));
    }
}

/// Sort key of `ORDER BY priority DESC` with NULLs last.
type PriorityKey = (bool, Reverse<i32>);

fn priority_key(priority: Option<i32>) -> PriorityKey {
    match priority {
        Some(p) => (false, Reverse(p)),
        None => (true, Reverse(0)),
    }
}

/// Rows in result order: `(funcid, jobid)` and `(funcid, priority DESC NULLS LAST, jobid)`.
#[derive(Debug, Default)]
struct InOrder {
    by_jobid: BTreeSet<JobId>,
    by_priority: BTreeSet<(PriorityKey, JobId)>,
}

impl InOrder {
    fn insert(&mut self, jobid: JobId, priority: Option<i32>) {
        self.by_jobid.insert(jobid);
        self.by_priority.insert((priority_key(priority), jobid));
    }

    fn remove(&mut self, jobid: JobId, priority: Option<i32>) {
        self.by_jobid.remove(&jobid);
        self.by_priority.remove(&(priority_key(priority), jobid));
    }

    /// Adds the rows of `range` (of a `(time, jobid)` index) to the order; `jobs` holds
    /// the rows.
    fn extend<'a>(&mut self, range: impl Iterator<Item = &'a (Epoch, JobId)>, jobs: &JobMap) {
        for &(_, jobid) in range {
            self.insert(jobid, jobs.get(&jobid).and_then(|r| r.priority));
        }
    }
}

/// The indexes of the jobs of one function.
///
/// Rows are indexed by state, so that an eligibility select (`run_after <= now AND
/// grabbed_until <= now`) never walks a row that cannot pass it:
/// - *pending* rows (`grabbed_until = 0`) are all in `pending`, by `(run_after, jobid)`.
///   Those with `run_after <= due_until` (the *due* rows) are also in `due`, in result
///   order, so a select at a time `>= due_until` takes its first rows from there without
///   reading them;
/// - *leased* rows (`grabbed_until != 0`) are all in `leased`, by `(grabbed_until, jobid)`.
///   Those with `grabbed_until <= expired_until` (the *expired* leases, eligible again)
///   are also in `expired`, in result order.
///
/// `due_until` and `expired_until` only move forward ([`FuncIndex::promote`]): to the
/// store's clock when rows are inserted, and to the `run_after_max` / `grabbed_until_max`
/// of a select once the clock has reached it. So `due` and `expired` hold no row whose
/// time lies after the clock (unless the clock moved backwards, which costs time, never
/// correctness), and a select about the future does not load them with rows that later
/// selects would have to skip. A lease in force is in `leased` only: no select at `now`
/// walks it.
#[derive(Debug)]
struct FuncIndex {
    /// Pending rows: `(run_after, jobid)`.
    pending: BTreeSet<(Epoch, JobId)>,
    /// Pending rows with `run_after` up to this are due.
    due_until: Epoch,
    /// Due rows.
    due: InOrder,
    /// Leased rows: `(grabbed_until, jobid)`.
    leased: BTreeSet<(Epoch, JobId)>,
    /// Leases ending up to this have expired.
    expired_until: Epoch,
    /// Leased rows whose lease has expired.
    expired: InOrder,
    /// `UNIQUE(funcid, uniqkey)` (NULL uniqkeys are not in it).
    uniq: HashMap<String, JobId>,
}

impl FuncIndex {
    /// Empty indexes whose rows will be due or expired up to `clock`.
    fn new(clock: Epoch) -> Self {
        FuncIndex {
            pending: BTreeSet::new(),
            due_until: clock,
            due: InOrder::default(),
            leased: BTreeSet::new(),
            expired_until: clock,
            expired: InOrder::default(),
            uniq: HashMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.leased.is_empty()
    }

    /// Adds `row`, as it is now, to the state indexes.
    fn link(&mut self, row: &JobRow) {
        if row.grabbed_until != 0 {
            self.leased.insert((row.grabbed_until, row.jobid));
            if row.grabbed_until <= self.expired_until {
                self.expired.insert(row.jobid, row.priority);
            }
        } else {
            self.pending.insert((row.run_after, row.jobid));
            if row.run_after <= self.due_until {
                self.due.insert(row.jobid, row.priority);
            }
        }
    }

    /// Removes `row`, as it was linked, from the state indexes.
    fn unlink(&mut self, row: &JobRow) {
        if row.grabbed_until != 0 {
            self.leased.remove(&(row.grabbed_until, row.jobid));
            if row.grabbed_until <= self.expired_until {
                self.expired.remove(row.jobid, row.priority);
            }
        } else {
            self.pending.remove(&(row.run_after, row.jobid));
            if row.run_after <= self.due_until {
                self.due.remove(row.jobid, row.priority);
            }
        }
    }

    /// Makes the pending rows with `run_after <= due` due and the leases ending by
    /// `expired` expired (`jobs` holds the rows). Each row moves once: the cost is paid
    /// when its time comes, not by every select.
    fn promote(&mut self, jobs: &JobMap, due: Option<Epoch>, expired: Option<Epoch>) {
        if let Some(to) = due.filter(|&to| to > self.due_until) {
            let range = (
                Excluded((self.due_until, MAX_JOBID)),
                Included((to, MAX_JOBID)),
            );
            self.due.extend(self.pending.range(range), jobs);
            self.due_until = to;
        }
        if let Some(to) = expired.filter(|&to| to > self.expired_until) {
            let range = (
                Excluded((self.expired_until, MAX_JOBID)),
                Included((to, MAX_JOBID)),
            );
            self.expired.extend(self.leased.range(range), jobs);
            self.expired_until = to;
        }
    }
}

/// Every table of one in-memory database.
#[derive(Debug)]
pub(crate) struct Tables {
    funcnames: BTreeMap<FuncId, String>,
    funcids: HashMap<String, FuncId>,
    next_funcid: i32,

    jobs: JobMap,
    next_jobid: i64,
    by_func: HashMap<FuncId, FuncIndex, BuildHasherDefault<IdHasher>>,

    /// `error` rows by insertion sequence.
    errors: BTreeMap<u64, FailureRecord>,
    errors_by_time: BTreeSet<(Epoch, u64)>,
    errors_by_job: HashMap<JobId, BTreeSet<u64>>,
    next_error_seq: u64,

    exit_statuses: BTreeMap<JobId, ExitStatus>,
    exit_by_deadline: BTreeSet<(Epoch, JobId)>,

    /// The tables of ours (`tables/ours.rs`).
    ours: ours::Ours,
}

impl Tables {
    pub(crate) fn new() -> Self {
        Tables {
            funcnames: BTreeMap::new(),
            funcids: HashMap::new(),
            next_funcid: 1,
            jobs: JobMap::default(),
            next_jobid: 1,
            by_func: HashMap::default(),
            errors: BTreeMap::new(),
            errors_by_time: BTreeSet::new(),
            errors_by_job: HashMap::new(),
            next_error_seq: 0,
            exit_statuses: BTreeMap::new(),
            exit_by_deadline: BTreeSet::new(),
            ours: ours::Ours::default(),
        }
    }

    // ----- funcmap -----

    pub(crate) fn funcmap(&self) -> Vec<FuncMap> {
        self.funcnames
            .iter()
            .map(|(&funcid, funcname)| FuncMap {
                funcid,
                funcname: funcname.clone(),
            })
            .collect()
    }

    pub(crate) fn funcid(&mut self, store: &str, funcname: &str) -> Result<FuncId> {
        if let Some(&id) = self.funcids.get(funcname) {
            return Ok(id);
        }
        check_varchar(store, "funcmap.funcname", funcname)?;
        let id = FuncId(self.next_funcid);
        self.next_funcid = self
            .next_funcid
            .checked_add(1)
            .ok_or_else(|| Error::Database {
                store: store.to_owned(),
                message: "funcmap.funcid is out of range: no more function ids".to_owned(),
            })?;
        self.funcnames.insert(id, funcname.to_owned());
        self.funcids.insert(funcname.to_owned(), id);
        Ok(id)
    }

    fn funcname(&self, funcid: FuncId) -> Option<String> {
        self.funcnames.get(&funcid).cloned()
    }

    // ----- job -----

    /// Checks a batch as the database would and assigns its ids, without writing.
    fn plan_insert(&self, store: &str, jobs: &[NewJobRow]) -> Result<(Vec<JobId>, i64)> {
        let mut next = self.next_jobid;
        let mut ids = Vec::with_capacity(jobs.len());
        let any_explicit = jobs.iter().any(|j| j.jobid.is_some());
        let mut batch_ids: HashSet<JobId> = HashSet::new();
        let mut batch_keys: HashSet<(FuncId, &str)> = HashSet::new();
        let out_of_range = || Error::Database {
            store: store.to_owned(),
            message: "job.jobid is out of range: no more job ids".to_owned(),
        };
        for job in jobs {
            if let Some(uniqkey) = &job.uniqkey {
                check_varchar(store, "job.uniqkey", uniqkey)?;
            }
            if let Some(coalesce) = &job.coalesce {
                check_varchar(store, "job.coalesce", coalesce)?;
            }
            let id = match job.jobid {
                Some(id) => {
                    if self.jobs.contains_key(&id) || batch_ids.contains(&id) {
                        return Err(Error::DuplicateJobId {
                            store: store.to_owned(),
                            jobid: id,
                        });
                    }
                    if id.0 >= next {
                        next = id.0.checked_add(1).ok_or_else(out_of_range)?;
                    }
                    id
                }
                None => {
                    let id = JobId(next);
                    next = next.checked_add(1).ok_or_else(out_of_range)?;
                    id
                }
            };
            if any_explicit {
                batch_ids.insert(id);
            }
            if let Some(uniqkey) = &job.uniqkey {
                let taken = self
                    .by_func
                    .get(&job.funcid)
                    .is_some_and(|f| f.uniq.contains_key(uniqkey));
                if taken || !batch_keys.insert((job.funcid, uniqkey.as_str())) {
                    return Err(Error::DuplicateUniqkey {
                        store: store.to_owned(),
                        funcname: self.funcname(job.funcid),
                        uniqkey: Some(uniqkey.clone()),
                    });
                }
            }
            ids.push(id);
        }
        Ok((ids, next))
    }

    /// `insert_jobs`: all or nothing. `clock` is the store's time: rows due by then go
    /// straight into the due indexes.
    pub(crate) fn insert_jobs(
        &mut self,
        store: &str,
        jobs: &[NewJobRow],
        clock: Epoch,
    ) -> Result<Vec<JobId>> {
        let (ids, next) = self.plan_insert(store, jobs)?;
        self.next_jobid = next;
        for (job, &jobid) in jobs.iter().zip(&ids) {
            let row = JobRow {
                jobid,
                funcid: job.funcid,
                arg: job.arg.clone(),
                uniqkey: job.uniqkey.clone(),
                insert_time: Some(job.insert_time),
                run_after: job.run_after,
                grabbed_until: job.grabbed_until,
                priority: job.priority,
                coalesce: job.coalesce.clone(),
            };
            let index = self
                .by_func
                .entry(job.funcid)
                .or_insert_with(|| FuncIndex::new(clock));
            index.promote(&self.jobs, Some(clock), Some(clock));
            index.link(&row);
            if let Some(uniqkey) = &job.uniqkey {
                index.uniq.insert(uniqkey.clone(), jobid);
            }
            self.jobs.insert(jobid, row);
        }
        Ok(ids)
    }

    fn remove_job(&mut self, jobid: JobId) -> Option<JobRow> {
        let row = self.jobs.remove(&jobid)?;
        if let Some(index) = self.by_func.get_mut(&row.funcid) {
            index.unlink(&row);
            if let Some(uniqkey) = &row.uniqkey {
                if index.uniq.get(uniqkey) == Some(&jobid) {
                    index.uniq.remove(uniqkey);
                }
            }
            if index.is_empty() {
                self.by_func.remove(&row.funcid);
            }
        }
        Some(row)
    }

    /// Changes the `run_after` and `grabbed_until` of a row (through `change`), keeping
    /// the indexes in step; the row as changed, or `None` when there is no such row.
    fn update_job(&mut self, jobid: JobId, change: impl FnOnce(&mut JobRow)) -> Option<&JobRow> {
        let row = self.jobs.get_mut(&jobid)?;
        let index = self
            .by_func
            .entry(row.funcid)
            .or_insert_with(|| FuncIndex::new(Epoch::MIN));
        index.unlink(row);
        change(row);
        index.link(row);
        Some(row)
    }

    pub(crate) fn lookup(&self, jobid: JobId) -> Option<JobRow> {
        self.jobs.get(&jobid).cloned()
    }

    pub(crate) fn claim(&mut self, claims: &[Claim], now: Epoch) -> Vec<JobId> {
        let mut claimed = Vec::new();
        for claim in claims {
            let claimable = self
                .jobs
                .get(&claim.jobid)
                .is_some_and(|r| r.grabbed_until == claim.expected && r.grabbed_until <= now);
            if claimable {
                self.update_job(claim.jobid, |r| r.grabbed_until = claim.lease_until);
                claimed.push(claim.jobid);
            }
        }
        claimed
    }

    /// `grab_skip_locked`; `clock` is the store's time (see [`Tables::select_ids`]).
    pub(crate) fn grab(
        &mut self,
        query: &JobQuery,
        leases: &[Lease],
        now: Epoch,
        clock: Epoch,
    ) -> Result<Vec<JobRow>> {
        let ids = self.select_ids(query, clock);
        let lease_of = |funcid: FuncId| {
            leases
                .iter()
                .find(|l| l.funcid == funcid)
                .map(|l| now.saturating_add(l.grab_for.max(1)))
        };
        // Validate every row before leasing any.
        let mut until = Vec::with_capacity(ids.len());
        for id in &ids {
            let Some(funcid) = self.jobs.get(id).map(|r| r.funcid) else {
                continue;
            };
            match lease_of(funcid) {
                Some(u) => until.push((*id, u)),
                None => {
                    return Err(Error::InvalidInput(format!(
                        "grab_skip_locked: no lease given for function id {funcid} \
                         (job {id} matched the query)"
                    )))
                }
            }
        }
        let mut rows = Vec::with_capacity(until.len());
        for (id, until) in until {
            if let Some(row) = self.update_job(id, |r| r.grabbed_until = until) {
                rows.push(row.clone());
            }
        }
        Ok(rows)
    }

    fn fenced(&self, jobid: JobId, token: Epoch) -> bool {
        self.jobs
            .get(&jobid)
            .is_some_and(|r| r.grabbed_until == token)
    }

    /// `finish`; the second value tells whether any job was inserted. `clock` is the
    /// store's time (see [`Tables::insert_jobs`]).
    pub(crate) fn finish(
        &mut self,
        store: &str,
        items: &[Finish],
        clock: Epoch,
    ) -> (Vec<FinishStatus>, bool) {
        let mut inserted = false;
        let statuses = items
            .iter()
            .map(|item| {
                if !self.fenced(item.jobid, item.token) {
                    return FinishStatus::LeaseLost;
                }
                let status = match &item.action {
                    FinishAction::Remove { exit_status } => {
                        self.remove_job(item.jobid);
                        if let Some(es) = exit_status {
                            self.upsert_exit_status(item.jobid, item.funcid, es);
                        }
                        FinishStatus::Done
                    }
                    FinishAction::Reschedule { run_after } => {
                        self.update_job(item.jobid, |row| {
                            if let Some(t) = run_after {
                                // A computed retry past what the store holds is clamped
                                // (as the SQL stores do): the job is released, not stranded.
                                row.run_after = (*t).min(crate::store::MAX_EPOCH);
                            }
                            row.grabbed_until = 0;
                        });
                        FinishStatus::Done
                    }
                    FinishAction::Replace { jobs, exit_status } => {
                        match self.insert_jobs(store, jobs, clock) {
                            Ok(ids) => {
                                inserted |= !ids.is_empty();
                                self.remove_job(item.jobid);
                                if let Some(es) = exit_status {
                                    self.upsert_exit_status(item.jobid, item.funcid, es);
                                }
                                FinishStatus::Replaced(ids)
                            }
                            Err(e) => return FinishStatus::Rejected(e),
                        }
                    }
                };
                if let Some(failure) = &item.failure {
                    self.append_failure(failure);
                }
                status
            })
            .collect();
        (statuses, inserted)
    }

    pub(crate) fn extend_lease(&mut self, jobid: JobId, token: Epoch, new_until: Epoch) -> bool {
        if !self.fenced(jobid, token) {
            return false;
        }
        self.update_job(jobid, |r| r.grabbed_until = new_until)
            .is_some()
    }

    /// `record`: side rows only, fenced on the lease.
    pub(crate) fn record(&mut self, records: &JobRecords) -> bool {
        if !self.fenced(records.jobid, records.token) {
            return false;
        }
        if let Some(failure) = &records.failure {
            self.append_failure(failure);
        }
        if let Some(es) = &records.exit_status {
            self.upsert_exit_status(records.jobid, records.funcid, es);
        }
        true
    }

    pub(crate) fn reschedule(&mut self, jobid: JobId, run_after: Epoch) -> bool {
        self.update_job(jobid, |row| {
            row.run_after = run_after;
            row.grabbed_until = 0;
        })
        .is_some()
    }

    // ----- error -----
}

/// The end of the part of a `(time, jobid)` index past `until` that a time term `max`
/// still takes (everything for no term), or `None` when it takes none of it.
fn later(max: Option<Epoch>, until: Epoch) -> Option<Bound<(Epoch, JobId)>> {
    match max {
        Some(max) if max > until => Some(Included((max, MAX_JOBID))),
        Some(_) => None,
        None => Some(Unbounded),
    }
}

/// Merges the per-function candidate lists (each sorted) into the first `limit` overall.
fn merge<K: Ord + Copy>(mut found: Vec<(K, JobId)>, functions: usize, limit: usize) -> Vec<JobId> {
    if functions > 1 {
        found.sort_unstable();
        found.truncate(limit);
    }
    found.into_iter().map(|(_, id)| id).collect()
}

/// The `WHERE` terms of a query other than `funcid IN` and `jobid =`.
fn matches(row: &JobRow, query: &JobQuery) -> bool {
    query.run_after_max.is_none_or(|t| row.run_after <= t)
        && query
            .grabbed_until_max
            .is_none_or(|t| row.grabbed_until <= t)
        && query
            .floor
            .is_none_or(|floor| row.priority.is_some_and(|p| p >= floor))
        && match &query.coalesce {
            None => true,
            Some(CoalesceFilter::Equals(v)) => row.coalesce.as_deref() == Some(v.as_str()),
            Some(CoalesceFilter::Prefix(p)) => row
                .coalesce
                .as_deref()
                .is_some_and(|c| c.starts_with(p.as_str())),
        }
}

/// A `VARCHAR(255)` column refuses longer values (as PostgreSQL and strict MySQL do).
fn check_varchar(store: &str, column: &str, value: &str) -> Result<()> {
    let chars = value.chars().count();
    if chars > VARCHAR_LEN {
        return Err(Error::Database {
            store: store.to_owned(),
            message: format!(
                "value too long for column {column}: {chars} characters, at most {VARCHAR_LEN}"
            ),
        });
    }
    Ok(())
}

/// Cuts a message to [`MESSAGE_MAX_BYTES`] at a character boundary.
pub(crate) fn truncate_message(message: &str) -> &str {
    if message.len() <= MESSAGE_MAX_BYTES {
        return message;
    }
    let mut end = MESSAGE_MAX_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(40_000); // 80_000 bytes
        let t = truncate_message(&s);
        assert!(t.len() <= MESSAGE_MAX_BYTES);
        assert_eq!(t.len(), MESSAGE_MAX_BYTES - 1);
        assert!(t.chars().all(|c| c == 'é'));
        assert_eq!(truncate_message("short"), "short");
    }

    #[test]
    fn priority_key_orders_desc_nulls_last() {
        let mut keys = vec![
            priority_key(None),
            priority_key(Some(1)),
            priority_key(Some(-5)),
            priority_key(Some(10)),
        ];
        keys.sort();
        assert_eq!(
            keys,
            vec![
                priority_key(Some(10)),
                priority_key(Some(1)),
                priority_key(Some(-5)),
                priority_key(None)
            ]
        );
    }
}
