//! A store wrapper that plays "a worker grabs the job at the same moment": once armed, the
//! next `lookup` returns the row as it was and then leases it (as a grab by another
//! process would, between an operator's read and its write).

use std::sync::atomic::AtomicBool;

use schwartz_core::store::{
    Claim, ExitStatus, FailureRecord, Finish, FinishStatus, FuncMap, JobQuery, JobRecords, JobRow,
    Lease, Limits, NewJobRow, StoreStats,
};
use schwartz_core::{Epoch, FuncId, Result};

use super::common::*;

/// The lease the racing grab takes, from the store's clock.
pub(crate) const RACE_LEASE: Epoch = 3600;

#[derive(Debug)]
pub(crate) struct GrabOnLookup {
    inner: Arc<dyn Store>,
    armed: AtomicBool,
}

impl GrabOnLookup {
    pub(crate) fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(GrabOnLookup {
            inner,
            armed: AtomicBool::new(false),
        })
    }
    /// The next `lookup` grabs the job right after reading it.
    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

impl Store for GrabOnLookup {
    fn identity(&self) -> String {
        self.inner.identity()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn server_time(&self) -> Result<Epoch> {
        self.inner.server_time()
    }
    fn server_time_ms(&self) -> Result<i64> {
        self.inner.server_time_ms()
    }
    fn funcmap(&self) -> Result<Vec<FuncMap>> {
        self.inner.funcmap()
    }
    fn funcid(&self, funcname: &str) -> Result<FuncId> {
        self.inner.funcid(funcname)
    }
    fn insert_jobs(&self, jobs: &[NewJobRow]) -> Result<Vec<JobId>> {
        self.inner.insert_jobs(jobs)
    }
    fn lookup(&self, jobid: JobId) -> Result<Option<JobRow>> {
        let row = self.inner.lookup(jobid)?;
        if let Some(r) = &row {
            if self.armed.swap(false, Ordering::SeqCst) {
                let now = self.inner.server_time()?.max(r.grabbed_until);
                let claim = Claim {
                    jobid,
                    expected: r.grabbed_until,
                    lease_until: now + RACE_LEASE,
                };
                let won = self.inner.claim(&[claim], now)?;
                assert_eq!(won, vec![jobid], "the racing grab must win");
            }
        }
        Ok(row)
    }
    fn select_jobs(&self, query: &JobQuery) -> Result<Vec<JobRow>> {
        self.inner.select_jobs(query)
    }
    fn claim(&self, claims: &[Claim], now: Epoch) -> Result<Vec<JobId>> {
        self.inner.claim(claims, now)
    }
    fn supports_skip_locked(&self) -> bool {
        self.inner.supports_skip_locked()
    }
    fn grab_skip_locked(
        &self,
        query: &JobQuery,
        leases: &[Lease],
        now: Epoch,
    ) -> Result<Option<Vec<JobRow>>> {
        self.inner.grab_skip_locked(query, leases, now)
    }
    fn finish(&self, items: &[Finish]) -> Result<Vec<FinishStatus>> {
        self.inner.finish(items)
    }
    fn extend_lease(&self, jobid: JobId, token: Epoch, new_until: Epoch) -> Result<bool> {
        self.inner.extend_lease(jobid, token, new_until)
    }
    fn record(&self, records: &JobRecords) -> Result<bool> {
        self.inner.record(records)
    }
    fn reschedule(&self, jobid: JobId, run_after: Epoch) -> Result<bool> {
        self.inner.reschedule(jobid, run_after)
    }
    fn failures(&self, jobid: JobId) -> Result<Vec<FailureRecord>> {
        self.inner.failures(jobid)
    }
    fn recent_failures(
        &self,
        since: Option<Epoch>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>> {
        self.inner.recent_failures(since, funcid, limit)
    }
    fn exit_status(&self, jobid: JobId) -> Result<Option<ExitStatus>> {
        self.inner.exit_status(jobid)
    }
    fn prune_errors(&self, older_than: Epoch, limit: usize) -> Result<u64> {
        self.inner.prune_errors(older_than, limit)
    }
    fn prune_exit_statuses(&self, now: Epoch, limit: usize) -> Result<u64> {
        self.inner.prune_exit_statuses(now, limit)
    }
    fn stats(&self) -> Result<StoreStats> {
        self.inner.stats()
    }
    fn limits(&self) -> Limits {
        self.inner.limits()
    }
}
