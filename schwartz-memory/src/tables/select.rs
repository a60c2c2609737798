//! The eligibility select: candidates in result order from the per-function indexes, with
//! a bounded scan before it switches to the `(funcid, time)` index.

use super::*;

impl Tables {
    /// The ids of the rows matching `query`, ordered and limited. `clock` is the store's
    /// time: `due_until` and `expired_until` are first brought up to the query's
    /// `run_after_max` and `grabbed_until_max`, as far as the clock has reached them.
    ///
    /// An eligibility select at `now` (`run_after_max` and `grabbed_until_max` at most the
    /// clock) costs O(limit · log rows) plus the expired leases and filtered-out rows it
    /// reads before it has `limit` rows; leases in force and rows scheduled for later are
    /// not read. A select without time terms (a listing) reads every leased row.
    pub(super) fn select_ids(&mut self, query: &JobQuery, clock: Epoch) -> Vec<JobId> {
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
        let due = query.run_after_max.map(|max| max.min(clock));
        let expired = query.grabbed_until_max.map(|max| max.min(clock));
        for funcid in &funcids {
            if let Some(index) = self.by_func.get_mut(funcid) {
                index.promote(&self.jobs, due, expired);
            }
        }
        let indexes = funcids.iter().filter_map(|f| self.by_func.get(f));
        match query.order {
            JobOrder::JobId => {
                let mut found: Vec<(JobId, JobId)> = Vec::new();
                for index in indexes {
                    let due = index.due.by_jobid.iter().map(|&id| (id, id));
                    let expired = index.expired.by_jobid.iter().map(|&id| (id, id));
                    found.extend(self.candidates(index, due, expired, false, query, |r| r.jobid));
                }
                merge(found, funcids.len(), query.limit)
            }
            JobOrder::PriorityDesc => {
                // Sorted by priority descending: once below the floor (or at the NULLs),
                // nothing further can pass.
                let above_floor = |((null, Reverse(p)), _): &(PriorityKey, JobId)| match query.floor
                {
                    Some(floor) => !*null && *p >= floor,
                    None => true,
                };
                let mut found: Vec<(PriorityKey, JobId)> = Vec::new();
                for index in indexes {
                    let due = index.due.by_priority.iter().take_while(|e| above_floor(e));
                    let expired = index
                        .expired
                        .by_priority
                        .iter()
                        .take_while(|e| above_floor(e));
                    found.extend(self.candidates(
                        index,
                        due.copied(),
                        expired.copied(),
                        true,
                        query,
                        |r| priority_key(r.priority),
                    ));
                }
                merge(found, funcids.len(), query.limit)
            }
        }
    }

    /// The first `query.limit` rows of one function matching `query`, by `(key, jobid)`.
    ///
    /// `due` and `expired` walk the due rows and the expired leases in result order
    /// (already cut at the priority floor when `floor_done`). Merged with them: the pending
    /// rows not yet due and the leases not yet expired that the query still takes (a time
    /// term later than the clock, or none), from the `(run_after)` and `(grabbed_until)`
    /// indexes. For a select at `now` those two ranges are empty.
    pub(super) fn candidates<K: Ord + Copy>(
        &self,
        index: &FuncIndex,
        due: impl Iterator<Item = (K, JobId)>,
        expired: impl Iterator<Item = (K, JobId)>,
        floor_done: bool,
        query: &JobQuery,
        key_of: impl Fn(&JobRow) -> K,
    ) -> Vec<(K, JobId)> {
        let mut found = Vec::new();
        // Pending rows have grabbed_until = 0.
        if query.grabbed_until_max.is_none_or(|max| max >= 0) {
            found = self.scan_due(index, due, floor_done, query, &key_of);
            if let Some(end) = later(query.run_after_max, index.due_until) {
                let start = Excluded((index.due_until, MAX_JOBID));
                let rows = index.pending.range((start, end)).map(|&(_, id)| id);
                found.extend(self.best(rows, query, &key_of));
            }
        }
        found.extend(self.scan_expired(index, expired, query, &key_of));
        if let Some(end) = later(query.grabbed_until_max, index.expired_until) {
            let start = Excluded((index.expired_until, MAX_JOBID));
            let rows = index.leased.range((start, end)).map(|&(_, id)| id);
            found.extend(self.best(rows, query, &key_of));
        }
        found.sort_unstable();
        found.truncate(query.limit);
        found
    }

    /// The first `query.limit` due rows matching `query`, walking `due` (in result order).
    ///
    /// Due rows pass the time terms of a query at or after `due_until`, so then only a
    /// coalesce filter (or a floor the walk has not applied) needs the rows read. A query
    /// before `due_until` skips the due rows scheduled after it; when that meets many, it
    /// switches, as a database planner would, to the rows with `run_after <= run_after_max`
    /// from the `(funcid, run_after)` index and keeps the best `limit` of them.
    pub(super) fn scan_due<K: Ord + Copy>(
        &self,
        index: &FuncIndex,
        due: impl Iterator<Item = (K, JobId)>,
        floor_done: bool,
        query: &JobQuery,
        key_of: &impl Fn(&JobRow) -> K,
    ) -> Vec<(K, JobId)> {
        let stale = query.run_after_max.filter(|&max| max < index.due_until);
        let filtered =
            stale.is_some() || query.coalesce.is_some() || (query.floor.is_some() && !floor_done);
        if !filtered {
            return due.take(query.limit).collect();
        }
        self.scan(due, stale.map(|max| (&index.pending, max)), query, key_of)
    }

    /// The first `query.limit` expired leases matching `query`, walking `expired` (in
    /// result order). They are read (a lease may have expired on a job scheduled for
    /// later); a query before `expired_until` skips the leases that expired after it, and
    /// when it meets many it switches to the `(funcid, grabbed_until)` index.
    pub(super) fn scan_expired<K: Ord + Copy>(
        &self,
        index: &FuncIndex,
        expired: impl Iterator<Item = (K, JobId)>,
        query: &JobQuery,
        key_of: &impl Fn(&JobRow) -> K,
    ) -> Vec<(K, JobId)> {
        let stale = query
            .grabbed_until_max
            .filter(|&max| max < index.expired_until);
        self.scan(
            expired,
            stale.map(|max| (&index.leased, max)),
            query,
            key_of,
        )
    }

    /// The first `query.limit` rows of `in_order` matching `query`. With `fallback`
    /// `(index, max)`: once the walk has examined many rows, the best `limit` of the rows
    /// of that `(time, jobid)` index with `time <= max` instead (the rows the walk skips
    /// are then likely most of them).
    pub(super) fn scan<K: Ord + Copy>(
        &self,
        in_order: impl Iterator<Item = (K, JobId)>,
        fallback: Option<(&BTreeSet<(Epoch, JobId)>, Epoch)>,
        query: &JobQuery,
        key_of: &impl Fn(&JobRow) -> K,
    ) -> Vec<(K, JobId)> {
        let limit = query.limit;
        let budget = limit.saturating_mul(4).max(SCAN_BUDGET);
        let mut found = Vec::new();
        for (examined, (key, id)) in in_order.enumerate() {
            if found.len() >= limit {
                break;
            }
            if let Some((index, max)) = fallback {
                if examined >= budget {
                    let rows = index.range(..=(max, MAX_JOBID)).map(|&(_, id)| id);
                    return self.best(rows, query, key_of);
                }
            }
            if self.jobs.get(&id).is_some_and(|r| matches(r, query)) {
                found.push((key, id));
            }
        }
        found
    }

    /// The best `query.limit` of the rows `ids` that match `query`, by `(key, jobid)`.
    pub(super) fn best<K: Ord + Copy>(
        &self,
        ids: impl Iterator<Item = JobId>,
        query: &JobQuery,
        key_of: &impl Fn(&JobRow) -> K,
    ) -> Vec<(K, JobId)> {
        let mut best: BinaryHeap<(K, JobId)> = BinaryHeap::new();
        for id in ids {
            let Some(row) = self.jobs.get(&id) else {
                continue;
            };
            if !matches(row, query) {
                continue;
            }
            let entry = (key_of(row), id);
            if best.len() < query.limit {
                best.push(entry);
            } else if best.peek().is_some_and(|worst| entry < *worst) {
                best.pop();
                best.push(entry);
            }
        }
        best.into_sorted_vec()
    }

    /// `select_jobs`; `clock` is the store's time (see [`Tables::select_ids`]).
    pub(crate) fn select_jobs(&mut self, query: &JobQuery, clock: Epoch) -> Vec<JobRow> {
        self.select_ids(query, clock)
            .into_iter()
            .filter_map(|id| self.jobs.get(&id).cloned())
            .collect()
    }
}
