//! Working jobs: [`Client::work_once`] and friends, on the calling thread, writing each
//! outcome at once ([`InlineWriter`]).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::{lock, AbilityRotation, Client};
use crate::error::Result;
use crate::executor::execute;
use crate::handle::JobHandle;
use crate::outcome::{InlineWriter, WorkOutcome};
use crate::queued::QueuedJob;

/// Stops [`Client::work`] (and wakes it from its sleep at once).
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(Mutex<bool>, Condvar)>);

impl StopSignal {
    /// A signal not yet given.
    pub fn new() -> Self {
        StopSignal::default()
    }
    /// Gives the signal.
    pub fn stop(&self) {
        let (flag, cv) = &*self.0;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    /// Whether the signal was given.
    pub fn is_stopped(&self) -> bool {
        *self.0 .0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Sleeps up to `timeout` or until the signal; returns whether it was given.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (flag, cv) = &*self.0;
        let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

impl Client {
    /// Finds and works one job; `Ok(false)` when none was found. With ability rotation the
    /// function just worked is left out of the next search (restored on a miss).
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`] and [`Client::work_safely`].
    pub fn work_once(&self) -> Result<bool> {
        let rotate = self.settings().rotation == AbilityRotation::Rotate;
        let (current, all_len) = {
            let ab = lock(&self.inner.abilities);
            (ab.current.clone(), ab.all.len())
        };
        let mut job = self.find_one(&current, None, true)?;
        if job.is_none() && rotate && current.len() < all_len {
            self.restore_full_abilities();
            let all = self.current_abilities();
            job = self.find_one(&all, None, true)?;
        }
        match job {
            Some(job) => self.work_once_on(job),
            None => {
                log::debug!("TheSchwartz::work_once found no jobs");
                Ok(false)
            }
        }
    }
    /// Works this job (TheSchwartz `work_once($job)`); always `Ok(true)` unless writing
    /// the outcome failed.
    ///
    /// # Errors
    /// As [`Client::work_safely`].
    pub fn work_once_on(&self, job: QueuedJob) -> Result<bool> {
        match job.priority() {
            Some(p) => log::debug!(
                "TheSchwartz::work_once got job of class '{}', priority {p}",
                job.funcname()
            ),
            None => log::debug!(
                "TheSchwartz::work_once got job of class '{}'",
                job.funcname()
            ),
        }
        if self.settings().rotation == AbilityRotation::Rotate {
            self.temporarily_remove_ability(job.funcname());
        }
        self.work_safely(job)?;
        Ok(true)
    }
    /// Works until no job is found; returns how many were worked.
    ///
    /// # Errors
    /// As [`Client::work_once`] (the jobs worked before the error stay worked).
    pub fn work_until_done(&self) -> Result<usize> {
        let mut n = 0;
        while self.work_once()? {
            n += 1;
        }
        Ok(n)
    }
    /// Works forever, sleeping `delay` (zero means 5 s) after finding nothing, until `stop`.
    /// An error of one cycle (a store going away while writing an outcome) is logged and
    /// treated as finding nothing, so the loop keeps going.
    ///
    /// # Errors
    /// None at present; the `Result` leaves room for fatal errors.
    pub fn work(&self, delay: Duration, stop: &StopSignal) -> Result<()> {
        let delay = if delay.is_zero() {
            Duration::from_secs(5)
        } else {
            delay
        };
        loop {
            if stop.is_stopped() {
                return Ok(());
            }
            let worked = match self.work_once() {
                Ok(w) => w,
                Err(e) => {
                    log::warn!("TheSchwartz::work: {e}");
                    false
                }
            };
            if !worked && stop.wait_timeout(delay) {
                return Ok(());
            }
        }
    }
    /// Works the job behind the handle without grabbing it (no lease, run_after ignored);
    /// `Ok(false)` if it is gone.
    ///
    /// # Errors
    /// As [`Client::lookup_job`] and [`Client::work_safely`].
    pub fn work_on(&self, handle: &JobHandle) -> Result<bool> {
        match self.lookup_job(handle)? {
            Some(job) => self.work_once_on(job),
            None => Ok(false),
        }
    }
    /// Grabs the job behind the handle (ignoring run_after) and works it; `Ok(false)` if it
    /// is gone, leased, or the claim lost.
    ///
    /// # Errors
    /// As [`Client::lookup_job`] and [`Client::work_safely`].
    pub fn grab_and_work_on(&self, handle: &JobHandle) -> Result<bool> {
        let idx = self.ctx().index_for_handle(handle)?;
        let store = Arc::clone(&self.entry(idx).store);
        let Some(mut row) = store.lookup(handle.jobid())? else {
            return Ok(false);
        };
        let now = self.ctx().now_of(idx)?;
        if now < row.grabbed_until {
            return Ok(false);
        }
        let name = self.ctx().funcname_of(idx, row.funcid)?;
        let policy = self.policy_for(&name);
        let lease_until = now.saturating_add(policy.grab_for);
        let claim = crate::store::Claim {
            jobid: row.jobid,
            expected: row.grabbed_until,
            lease_until,
        };
        if !store.claim(&[claim], now)?.contains(&row.jobid) {
            if let Some(h) = &self.inner.hooks.lost_race {
                h();
            }
            return Ok(false);
        }
        row.grabbed_until = lease_until;
        self.work_once_on(QueuedJob::new(self.ctx(), idx, name, row, policy))
    }
    /// Runs the job's worker, catching errors and panics, and writes the outcome:
    /// `Ok(())` without an explicit outcome completes the job, `Err(e)` fails it with `e`'s
    /// text (and its sources, `": "`-separated), a panic fails it with `panic: <message>`,
    /// a function without a registered worker fails with [`Error::NoWorker`](crate::Error::NoWorker)'s text.
    /// Failures go to the thread's current job at the end of `work`
    /// ([`QueuedJob::set_as_current`]). A lost lease is logged and reported as
    /// [`WorkOutcome::LeaseLost`].
    ///
    /// # Errors
    /// The store's error when the outcome cannot be written.
    pub fn work_safely(&self, job: QueuedJob) -> Result<WorkOutcome> {
        if job.worker().is_none() {
            // A worker registered after the job was read.
            if let Some(worker) = self.worker_for(job.funcname()) {
                job.set_worker(worker);
            }
        }
        execute(job, &InlineWriter, self.inner.scoreboard.as_ref())
    }
    /// The calling thread's current job (failures of `work` are charged to it).
    pub fn current_job(&self) -> Option<QueuedJob> {
        crate::queued::current_job()
    }
}
