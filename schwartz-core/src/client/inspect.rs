//! Inspecting jobs: parsing handles, looking jobs up, listing them, their failures and
//! exit statuses.

use chrono::{DateTime, Utc};

use super::Client;
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{datetime_to_epoch, FuncId};
use crate::job::check_name;
use crate::queued::QueuedJob;
use crate::store::{CoalesceFilter, JobQuery};
use crate::worker::Policy;

/// Filters of [`Client::list_jobs`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListJobs {
    /// Function names (required, at least one).
    pub funcnames: Vec<String>,
    /// `run_after <= x`.
    pub run_after: Option<DateTime<Utc>>,
    /// `grabbed_until <= x`.
    pub grabbed_until: Option<DateTime<Utc>>,
    /// `jobid = x`.
    pub jobid: Option<crate::ids::JobId>,
    /// Coalesce filter (honoured, unlike TheSchwartz 1.11+).
    pub coalesce: Option<CoalesceFilter>,
    /// Per-store limit (default: the client's batch size).
    pub limit: Option<usize>,
}

impl ListJobs {
    /// Jobs of these functions.
    pub fn new<I, S>(funcnames: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ListJobs {
            funcnames: funcnames.into_iter().map(Into::into).collect(),
            ..ListJobs::default()
        }
    }
}

impl Client {
    /// Parses a handle string and checks its store is configured.
    ///
    /// # Errors
    /// [`Error::MalformedHandle`], or [`Error::UnknownStore`] ("no configured database has
    /// hash ...").
    pub fn handle_from_string(&self, s: &str) -> Result<JobHandle> {
        let handle: JobHandle = s.parse()?;
        self.ctx().index_for_handle(&handle)?;
        Ok(handle)
    }
    /// The pending job behind a handle (no grab; dead marks are not checked).
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error (also when the job's funcid has no
    /// funcmap row even after reloading the funcmap).
    pub fn lookup_job(&self, handle: &JobHandle) -> Result<Option<QueuedJob>> {
        let idx = self.ctx().index_for_handle(handle)?;
        let Some(row) = self.entry(idx).store.lookup(handle.jobid())? else {
            return Ok(None);
        };
        let name = self.ctx().funcname_of(idx, row.funcid)?;
        let policy = self.policy_for(&name);
        Ok(Some(QueuedJob::new(self.ctx(), idx, name, row, policy)))
    }
    /// Pending jobs matching the filters, from every live store (at most `limit` per store,
    /// ordered as candidates are; the client's floor applies). A failing store is marked
    /// dead and skipped.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] without function names or with an invalid one;
    /// [`Error::NoStore`] when no store is live; the store's error when every store failed.
    pub fn list_jobs(&self, filter: &ListJobs) -> Result<Vec<QueuedJob>> {
        if filter.funcnames.is_empty() {
            return Err(Error::InvalidInput(String::from(
                "list_jobs needs at least one funcname",
            )));
        }
        for name in &filter.funcnames {
            check_name("funcname", name)?;
        }
        crate::validate::coalesce_filter(filter.coalesce.as_ref())?;
        let settings = self.settings();
        let limit = filter.limit.unwrap_or(settings.batch_size);
        let live = self.ctx().live_shuffled();
        if live.is_empty() {
            return Err(self.ctx().all_dead_error());
        }
        let mut out = Vec::new();
        let mut ok = 0usize;
        let mut last_err = None;
        for idx in live {
            let listed = (|| -> Result<Vec<QueuedJob>> {
                let mut funcids = Vec::with_capacity(filter.funcnames.len());
                let mut names: Vec<(FuncId, String, Policy)> =
                    Vec::with_capacity(filter.funcnames.len());
                for name in &filter.funcnames {
                    let id = self.ctx().funcid_of(idx, name)?;
                    if !funcids.contains(&id) {
                        funcids.push(id);
                        names.push((id, name.clone(), self.policy_for(name)));
                    }
                }
                let query = JobQuery {
                    funcids,
                    run_after_max: filter.run_after.map(datetime_to_epoch),
                    grabbed_until_max: filter.grabbed_until.map(datetime_to_epoch),
                    jobid: filter.jobid,
                    floor: settings.floor,
                    coalesce: filter.coalesce.clone(),
                    order: settings.order,
                    limit,
                };
                let rows = self.entry(idx).store.select_jobs(&query)?;
                rows.into_iter()
                    .map(|row| {
                        let (name, policy) = match names.iter().find(|(f, _, _)| *f == row.funcid) {
                            Some((_, n, p)) => (n.clone(), p.clone()),
                            None => {
                                let n = self.ctx().funcname_of(idx, row.funcid)?;
                                let p = self.policy_for(&n);
                                (n, p)
                            }
                        };
                        Ok(QueuedJob::new(self.ctx(), idx, name, row, policy))
                    })
                    .collect()
            })();
            match listed {
                Ok(mut jobs) => {
                    ok += 1;
                    out.append(&mut jobs);
                }
                Err(e) if e.marks_store_dead() => {
                    self.ctx().note_store_error(idx, &e);
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        match last_err {
            Some(e) if ok == 0 => Err(e),
            _ => Ok(out),
        }
    }
    /// Whether the job is still pending.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn is_pending(&self, handle: &JobHandle) -> Result<bool> {
        let idx = self.ctx().index_for_handle(handle)?;
        Ok(self.entry(idx).store.lookup(handle.jobid())?.is_some())
    }
    /// The job's exit status, if one was kept.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn exit_status(&self, handle: &JobHandle) -> Result<Option<i32>> {
        let idx = self.ctx().index_for_handle(handle)?;
        Ok(self
            .entry(idx)
            .store
            .exit_status(handle.jobid())?
            .map(|e| e.status))
    }
    /// How many failures the job has on record.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn failures(&self, handle: &JobHandle) -> Result<u64> {
        let idx = self.ctx().index_for_handle(handle)?;
        Ok(self.entry(idx).store.failures(handle.jobid())?.len() as u64)
    }
    /// The job's failure messages.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn failure_log(&self, handle: &JobHandle) -> Result<Vec<String>> {
        let idx = self.ctx().index_for_handle(handle)?;
        Ok(self
            .entry(idx)
            .store
            .failures(handle.jobid())?
            .into_iter()
            .map(|f| f.message)
            .collect())
    }
}
