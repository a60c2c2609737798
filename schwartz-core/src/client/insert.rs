//! Inserting jobs: all or nothing into one store, uniqkey jobs into their home store,
//! failing over to the next store when one is unavailable.

use rand::seq::SliceRandom;

use super::stores::rendezvous_order;
use super::{lock, Client, Context, InsertListener};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{Epoch, JobId, StoreHash};
use crate::job::Job;
use crate::store::NewJobRow;
use crate::typed::IntoJob;

impl Client {
    /// Inserts one job (uniqkey jobs go to their home store, others to a random live one,
    /// failing over to the next store when one is unavailable): a [`Job`], or the value of
    /// a [`TypedJob`](crate::TypedJob).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a job [`Job::validate`] refuses;
    /// [`Error::DuplicateUniqkey`] when its store already has a pending job with the same
    /// funcname and uniqkey (other stores are not tried); [`Error::NoStore`] when no store is
    /// configured or all are marked dead; else the last store's error.
    pub fn insert(&self, job: impl IntoJob) -> Result<JobHandle> {
        let job = job.into_job()?;
        let (idx, ids) = self.insert_with_failover(std::slice::from_ref(&job))?;
        let id = ids.into_iter().next().ok_or_else(|| Error::Database {
            store: self.entry(idx).store.describe(),
            message: String::from("insert returned no job id"),
        })?;
        Ok(JobHandle::new(self.entry(idx).hash.clone(), id))
    }
    /// Inserts jobs, failing over as `insert` does; returns their handles in order. An
    /// empty list inserts nothing.
    ///
    /// What is atomic: with one store, the whole batch (one transaction). With several,
    /// each job with a uniqkey goes to its own home store (so its uniqueness holds across
    /// databases, as for `insert`); the jobs that share a home store form one part,
    /// inserted in one transaction, and jobs without a uniqkey join the first keyed job's
    /// part (all of them go to one random live store in a batch without keys). Each part
    /// is all or nothing in its database. When a part fails, the parts already inserted in
    /// other databases are removed again before the error is returned; only a job that a
    /// worker grabbed in that moment stays (it is logged).
    ///
    /// # Errors
    /// As [`Client::insert`]; two jobs of the list with the same funcname and uniqkey are
    /// `DuplicateUniqkey`, and nothing is inserted.
    pub fn insert_jobs(&self, jobs: Vec<Job>) -> Result<Vec<JobHandle>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        for job in &jobs {
            job.validate()?;
        }
        self.insert_batch(&jobs)
    }
}

impl Context {
    pub(crate) fn notify_insert(&self, hash: &StoreHash) {
        let listeners: Vec<InsertListener> = lock(&self.listeners).clone();
        for l in listeners {
            l(hash);
        }
    }

    /// The rows for `jobs` in one store (funcids created as needed).
    pub(crate) fn new_rows(&self, idx: usize, jobs: &[Job], now: Epoch) -> Result<Vec<NewJobRow>> {
        // Before any SQL, funcmap rows included: what this store cannot hold is InvalidInput.
        let limits = self.entry(idx).store.limits();
        for job in jobs {
            crate::validate::job_against(job, &limits)?;
        }
        // Batches are mostly of one function: look its id up once per run of it.
        let mut last: Option<(&str, crate::FuncId)> = None;
        jobs.iter()
            .map(|job| {
                // Refuses a run_in past what the store holds, with a clear message.
                super::schedule::start_of(job, now, &limits)?;
                let funcid = match last {
                    Some((name, id)) if name == job.funcname() => id,
                    _ => {
                        let id = self.funcid_of(idx, job.funcname())?;
                        last = Some((job.funcname(), id));
                        id
                    }
                };
                Ok(NewJobRow::of(job, funcid, now))
            })
            .collect()
    }
}

impl Client {
    fn insert_into(&self, idx: usize, jobs: &[Job]) -> Result<Vec<JobId>> {
        let now = self.ctx().now_of(idx)?;
        let rows = self.ctx().new_rows(idx, jobs, now)?;
        self.entry(idx).store.insert_jobs(&rows)
    }

    /// Inserts `jobs` (non-empty) all-or-nothing into one store with failover; returns the
    /// store index and the ids.
    pub(crate) fn insert_with_failover(&self, jobs: &[Job]) -> Result<(usize, Vec<JobId>)> {
        for job in jobs {
            job.validate()?;
        }
        self.insert_validated(jobs)
    }

    /// [`Client::insert_with_failover`] of jobs already validated.
    pub(crate) fn insert_validated(&self, jobs: &[Job]) -> Result<(usize, Vec<JobId>)> {
        if self.ctx().stores.is_empty() {
            return Err(self.ctx().all_dead_error());
        }
        let order = match jobs.iter().find(|j| j.uniqkey_value().is_some()) {
            // One store: nothing to choose or shuffle.
            _ if self.ctx().stores.len() == 1 => vec![0],
            Some(j) => {
                let hashes: Vec<StoreHash> =
                    self.ctx().stores.iter().map(|e| e.hash.clone()).collect();
                rendezvous_order(&hashes, j.funcname(), j.uniqkey_value().unwrap_or_default())
            }
            None => {
                let mut v: Vec<usize> = (0..self.ctx().stores.len()).collect();
                v.shuffle(&mut rand::rng());
                v
            }
        };
        let mut last_err = None;
        let usable = self.ctx().live_shuffled();
        for idx in order {
            if !usable.contains(&idx) {
                continue;
            }
            match self.insert_into(idx, jobs) {
                Ok(ids) => {
                    self.ctx().note_store_ok(idx);
                    self.ctx().notify_insert(&self.entry(idx).hash);
                    return Ok((idx, ids));
                }
                Err(Error::DuplicateUniqkey {
                    store,
                    funcname,
                    uniqkey,
                }) => {
                    // Name the job when the store could not.
                    let (funcname, uniqkey) = match (funcname, uniqkey) {
                        (Some(f), Some(k)) => (Some(f), Some(k)),
                        (f, k) if jobs.len() == 1 => (
                            f.or_else(|| Some(jobs[0].funcname().to_string())),
                            k.or_else(|| jobs[0].uniqkey_value().map(str::to_string)),
                        ),
                        (f, k) => (f, k),
                    };
                    return Err(Error::DuplicateUniqkey {
                        store,
                        funcname,
                        uniqkey,
                    });
                }
                Err(e @ (Error::InvalidInput(_) | Error::DuplicateJobId { .. })) => return Err(e),
                Err(e) => {
                    log::debug!("insert into {} failed: {e}", self.entry(idx).hash);
                    self.ctx().note_store_error(idx, &e);
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| self.ctx().all_dead_error()))
    }
}
