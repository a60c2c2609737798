//! The tables and their indexes. Everything here runs under the store's one lock, so each
//! public operation is one atomic transaction. Every write operation validates first and
//! only then changes anything, so a refused operation leaves no trace.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use schwartz_core::store::{
    Claim, CoalesceFilter, ExitStatus, ExitStatusWrite, FailureRecord, Finish, FinishAction,
    FinishStatus, FuncMap, JobOrder, JobQuery, JobRow, Lease, NewJobRow, StoreStats,
};
use schwartz_core::{Epoch, Error, FuncId, JobId, Result};

/// Longest `funcname`, `uniqkey` and `coalesce` (`VARCHAR(255)`, in characters).
const VARCHAR_LEN: usize = 255;

/// Longest `error.message`, in bytes (a `TEXT` column).
pub(crate) const MESSAGE_MAX_BYTES: usize = 65_535;

/// How many rows a candidate scan in result order examines before it switches to the
/// `(funcid, run_after)` index (at least; four times the limit when that is more).
const SCAN_BUDGET: usize = 256;

/// Sort key of `ORDER BY priority DESC` with NULLs last.
type PriorityKey = (bool, Reverse<i32>);

fn priority_key(priority: Option<i32>) -> PriorityKey {
    match priority {
        Some(p) => (false, Reverse(p)),
        None => (true, Reverse(0)),
    }
}

/// The indexes of the jobs of one function.
#[derive(Debug, Default)]
struct FuncIndex {
    /// `(funcid, jobid)`.
    by_jobid: BTreeSet<JobId>,
    /// `(funcid, priority DESC NULLS LAST, jobid)`.
    by_priority: BTreeSet<(PriorityKey, JobId)>,
    /// `(funcid, run_after, jobid)`.
    by_run_after: BTreeSet<(Epoch, JobId)>,
    /// `UNIQUE(funcid, uniqkey)` (NULL uniqkeys are not in it).
    uniq: HashMap<String, JobId>,
}

impl FuncIndex {
    fn is_empty(&self) -> bool {
        self.by_jobid.is_empty()
    }
}

/// Every table of one in-memory database.
#[derive(Debug)]
pub(crate) struct Tables {
    funcnames: BTreeMap<FuncId, String>,
    funcids: HashMap<String, FuncId>,
    next_funcid: i32,

    jobs: BTreeMap<JobId, JobRow>,
    next_jobid: i64,
    by_func: HashMap<FuncId, FuncIndex>,

    /// `error` rows by insertion sequence.
    errors: BTreeMap<u64, FailureRecord>,
    errors_by_time: BTreeSet<(Epoch, u64)>,
    errors_by_job: HashMap<JobId, BTreeSet<u64>>,
    next_error_seq: u64,

    exit_statuses: BTreeMap<JobId, ExitStatus>,
    exit_by_deadline: BTreeSet<(Epoch, JobId)>,
}

impl Tables {
    pub(crate) fn new() -> Self {
        Tables {
            funcnames: BTreeMap::new(),
            funcids: HashMap::new(),
            next_funcid: 1,
            jobs: BTreeMap::new(),
            next_jobid: 1,
            by_func: HashMap::new(),
            errors: BTreeMap::new(),
            errors_by_time: BTreeSet::new(),
            errors_by_job: HashMap::new(),
            next_error_seq: 0,
            exit_statuses: BTreeMap::new(),
            exit_by_deadline: BTreeSet::new(),
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

    /// `insert_jobs`: all or nothing.
    pub(crate) fn insert_jobs(&mut self, store: &str, jobs: &[NewJobRow]) -> Result<Vec<JobId>> {
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
            let index = self.by_func.entry(job.funcid).or_default();
            index.by_jobid.insert(jobid);
            index
                .by_priority
                .insert((priority_key(job.priority), jobid));
            index.by_run_after.insert((job.run_after, jobid));
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
            index.by_jobid.remove(&jobid);
            index
                .by_priority
                .remove(&(priority_key(row.priority), jobid));
            index.by_run_after.remove(&(row.run_after, jobid));
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

    pub(crate) fn lookup(&self, jobid: JobId) -> Option<JobRow> {
        self.jobs.get(&jobid).cloned()
    }

    /// The ids of the rows matching `query`, ordered and limited.
    fn select_ids(&self, query: &JobQuery) -> Vec<JobId> {
        if query.limit == 0 || query.funcids.is_empty() {
            return Vec::new();
        }
        if let Some(jobid) = query.jobid {
            return match self.jobs.get(&jobid) {
                Some(row) if query.funcids.contains(&row.funcid) && matches(row, query) => {
                    vec![jobid]
                }
                _ => Vec::new(),
            };
        }
        let mut funcids = query.funcids.clone();
        funcids.sort_unstable();
        funcids.dedup();
        let indexes = funcids.iter().filter_map(|f| self.by_func.get(f));
        match query.order {
            JobOrder::JobId => {
                let mut found: Vec<(JobId, JobId)> = Vec::new();
                for index in indexes {
                    let in_order = index.by_jobid.iter().map(|&id| (id, id));
                    found.extend(self.scan(index, in_order, query, |r| r.jobid));
                }
                merge(found, funcids.len(), query.limit)
            }
            JobOrder::PriorityDesc => {
                let mut found: Vec<(PriorityKey, JobId)> = Vec::new();
                for index in indexes {
                    let in_order = index
                        .by_priority
                        .iter()
                        // Sorted by priority descending: once below the floor (or at the
                        // NULLs), nothing further can pass.
                        .take_while(|((null, Reverse(p)), _)| match query.floor {
                            Some(floor) => !*null && *p >= floor,
                            None => true,
                        })
                        .copied();
                    found.extend(self.scan(index, in_order, query, |r| priority_key(r.priority)));
                }
                merge(found, funcids.len(), query.limit)
            }
        }
    }

    /// The first `query.limit` rows of one function matching `query`, by `(key, jobid)`.
    ///
    /// Walks the rows in result order (`in_order`), which stops after `limit` matches; when
    /// that meets many rows that are not yet due (jobs scheduled for later), it switches, as
    /// a database planner would, to the rows with `run_after <= run_after_max` from the
    /// `(funcid, run_after)` index and keeps the best `limit` of them.
    fn scan<K: Ord + Copy>(
        &self,
        index: &FuncIndex,
        in_order: impl Iterator<Item = (K, JobId)>,
        query: &JobQuery,
        key_of: impl Fn(&JobRow) -> K,
    ) -> Vec<(K, JobId)> {
        let limit = query.limit;
        let budget = limit.saturating_mul(4).max(SCAN_BUDGET);
        let mut found = Vec::new();
        for (examined, (key, id)) in in_order.enumerate() {
            if found.len() >= limit {
                return found;
            }
            if examined >= budget {
                if let Some(max) = query.run_after_max {
                    return self.scan_due(index, max, query, key_of);
                }
            }
            if self.jobs.get(&id).is_some_and(|r| matches(r, query)) {
                found.push((key, id));
            }
        }
        found
    }

    /// The best `query.limit` rows with `run_after <= max` matching `query`, by `(key, jobid)`.
    fn scan_due<K: Ord + Copy>(
        &self,
        index: &FuncIndex,
        max: Epoch,
        query: &JobQuery,
        key_of: impl Fn(&JobRow) -> K,
    ) -> Vec<(K, JobId)> {
        let mut best: BinaryHeap<(K, JobId)> = BinaryHeap::new();
        for (_, id) in index.by_run_after.range(..=(max, JobId(i64::MAX))) {
            let Some(row) = self.jobs.get(id) else {
                continue;
            };
            if !matches(row, query) {
                continue;
            }
            let entry = (key_of(row), *id);
            if best.len() < query.limit {
                best.push(entry);
            } else if best.peek().is_some_and(|worst| entry < *worst) {
                best.pop();
                best.push(entry);
            }
        }
        best.into_sorted_vec()
    }

    pub(crate) fn select_jobs(&self, query: &JobQuery) -> Vec<JobRow> {
        self.select_ids(query)
            .into_iter()
            .filter_map(|id| self.jobs.get(&id).cloned())
            .collect()
    }

    pub(crate) fn claim(&mut self, claims: &[Claim], now: Epoch) -> Vec<JobId> {
        let mut claimed = Vec::new();
        for claim in claims {
            if let Some(row) = self.jobs.get_mut(&claim.jobid) {
                if row.grabbed_until == claim.expected && row.grabbed_until <= now {
                    row.grabbed_until = claim.lease_until;
                    claimed.push(claim.jobid);
                }
            }
        }
        claimed
    }

    pub(crate) fn grab(
        &mut self,
        query: &JobQuery,
        leases: &[Lease],
        now: Epoch,
    ) -> Result<Vec<JobRow>> {
        let ids = self.select_ids(query);
        let lease_of = |funcid: FuncId| {
            leases
                .iter()
                .find(|l| l.funcid == funcid)
                .map(|l| now.saturating_add(l.grab_for.max(1)))
        };
        // Validate every row before leasing any.
        let mut until = Vec::with_capacity(ids.len());
        for id in &ids {
            let funcid = self.jobs[id].funcid;
            match lease_of(funcid) {
                Some(u) => until.push(u),
                None => {
                    return Err(Error::InvalidInput(format!(
                        "grab_skip_locked: no lease given for function id {funcid} \
                         (job {id} matched the query)"
                    )))
                }
            }
        }
        let mut rows = Vec::with_capacity(ids.len());
        for (id, until) in ids.iter().zip(until) {
            if let Some(row) = self.jobs.get_mut(id) {
                row.grabbed_until = until;
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

    /// `finish`; the second value tells whether any job was inserted.
    pub(crate) fn finish(&mut self, store: &str, items: &[Finish]) -> (Vec<FinishStatus>, bool) {
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
                        if let Some(t) = run_after {
                            self.set_run_after(item.jobid, *t);
                        }
                        if let Some(row) = self.jobs.get_mut(&item.jobid) {
                            row.grabbed_until = 0;
                        }
                        FinishStatus::Done
                    }
                    FinishAction::Replace { jobs, exit_status } => {
                        match self.insert_jobs(store, jobs) {
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
        match self.jobs.get_mut(&jobid) {
            Some(row) if row.grabbed_until == token => {
                row.grabbed_until = new_until;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn reschedule(&mut self, jobid: JobId, run_after: Epoch) -> bool {
        self.set_run_after(jobid, run_after);
        match self.jobs.get_mut(&jobid) {
            Some(row) => {
                row.grabbed_until = 0;
                true
            }
            None => false,
        }
    }

    /// Updates `run_after` and its index.
    fn set_run_after(&mut self, jobid: JobId, run_after: Epoch) {
        let Some(row) = self.jobs.get_mut(&jobid) else {
            return;
        };
        if row.run_after == run_after {
            return;
        }
        if let Some(index) = self.by_func.get_mut(&row.funcid) {
            index.by_run_after.remove(&(row.run_after, jobid));
            index.by_run_after.insert((run_after, jobid));
        }
        row.run_after = run_after;
    }

    // ----- error -----

    fn append_failure(&mut self, failure: &FailureRecord) {
        let seq = self.next_error_seq;
        self.next_error_seq += 1;
        let record = FailureRecord {
            message: truncate_message(&failure.message).to_owned(),
            ..failure.clone()
        };
        self.errors_by_time.insert((record.error_time, seq));
        self.errors_by_job
            .entry(record.jobid)
            .or_default()
            .insert(seq);
        self.errors.insert(seq, record);
    }

    fn remove_failure(&mut self, seq: u64) {
        if let Some(record) = self.errors.remove(&seq) {
            self.errors_by_time.remove(&(record.error_time, seq));
            if let Some(seqs) = self.errors_by_job.get_mut(&record.jobid) {
                seqs.remove(&seq);
                if seqs.is_empty() {
                    self.errors_by_job.remove(&record.jobid);
                }
            }
        }
    }

    pub(crate) fn failures(&self, jobid: JobId) -> Vec<FailureRecord> {
        self.errors_by_job
            .get(&jobid)
            .map(|seqs| {
                seqs.iter()
                    .filter_map(|seq| self.errors.get(seq).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn recent_failures(
        &self,
        since: Option<Epoch>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Vec<FailureRecord> {
        let lower = since.unwrap_or(Epoch::MIN);
        self.errors_by_time
            .range((lower, 0)..)
            .rev()
            .filter_map(|(_, seq)| self.errors.get(seq))
            .filter(|r| funcid.is_none_or(|f| r.funcid == f))
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn prune_errors(&mut self, older_than: Epoch, limit: usize) -> u64 {
        let doomed: Vec<u64> = self
            .errors_by_time
            .range(..(older_than, 0))
            .take(limit)
            .map(|&(_, seq)| seq)
            .collect();
        for &seq in &doomed {
            self.remove_failure(seq);
        }
        doomed.len() as u64
    }

    // ----- exitstatus -----

    fn upsert_exit_status(&mut self, jobid: JobId, funcid: FuncId, write: &ExitStatusWrite) {
        if let Some(old) = self.exit_statuses.get(&jobid) {
            self.exit_by_deadline.remove(&(old.delete_after, jobid));
        }
        self.exit_by_deadline.insert((write.delete_after, jobid));
        self.exit_statuses.insert(
            jobid,
            ExitStatus {
                jobid,
                funcid,
                status: write.status,
                completion_time: write.completion_time,
                delete_after: write.delete_after,
            },
        );
    }

    pub(crate) fn exit_status(&self, jobid: JobId) -> Option<ExitStatus> {
        self.exit_statuses.get(&jobid).cloned()
    }

    pub(crate) fn prune_exit_statuses(&mut self, now: Epoch, limit: usize) -> u64 {
        let doomed: Vec<(Epoch, JobId)> = self
            .exit_by_deadline
            .range(..(now, JobId(i64::MIN)))
            .take(limit)
            .copied()
            .collect();
        for key in &doomed {
            self.exit_by_deadline.remove(key);
            self.exit_statuses.remove(&key.1);
        }
        doomed.len() as u64
    }

    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats {
            jobs: self.jobs.len() as u64,
            errors: self.errors.len() as u64,
            exit_statuses: self.exit_statuses.len() as u64,
        }
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
