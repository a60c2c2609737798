//! QueuedJob internals: shared state and the outcome writes.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::client::{Client, WorkOutcome};
use crate::client_impl::{call_hook, ceil_secs, lock};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::Epoch;
use crate::queued::QueuedJob;
use crate::store::{
    ExitStatusWrite, FailureRecord, Finish, FinishAction, FinishStatus, JobRow, Store,
};
use crate::worker::Worker;

/// Mutable per-job state shared by clones.
#[derive(Debug, Default)]
pub(crate) struct JobState {
    /// The lease token (`grabbed_until` as this process holds it).
    pub(crate) token: Epoch,
    pub(crate) did_something: bool,
    pub(crate) was_declined: bool,
    pub(crate) last_outcome: Option<WorkOutcome>,
}

/// The shared state behind a [`QueuedJob`](crate::QueuedJob).
pub(crate) struct QueuedInner {
    pub(crate) client: Client,
    pub(crate) store_idx: usize,
    pub(crate) handle: JobHandle,
    pub(crate) funcname: String,
    /// The row as read; `grabbed_until` here is the token at read time.
    pub(crate) row: JobRow,
    pub(crate) state: Mutex<JobState>,
    /// Serialises outcome writes of clones.
    pub(crate) write_lock: Mutex<()>,
}

/// An exit status to write when the worker keeps them.
pub(crate) fn exit_write(
    worker: Option<&dyn Worker>,
    now: Epoch,
    status: i32,
) -> Option<ExitStatusWrite> {
    let keep = worker
        .map(|w| {
            ceil_secs(call_hook("keep_exit_status_for", Duration::ZERO, || {
                w.keep_exit_status_for()
            }))
        })
        .unwrap_or(0);
    (keep > 0).then(|| ExitStatusWrite {
        status,
        completion_time: now,
        delete_after: now.saturating_add(keep),
    })
}

impl QueuedJob {
    pub(crate) fn from_row(
        client: &Client,
        store_idx: usize,
        funcname: String,
        row: JobRow,
    ) -> QueuedJob {
        let handle = JobHandle::new(client.entry(store_idx).hash.clone(), row.jobid);
        let state = JobState {
            token: row.grabbed_until,
            ..JobState::default()
        };
        QueuedJob {
            inner: Arc::new(QueuedInner {
                client: client.clone(),
                store_idx,
                handle,
                funcname,
                row,
                state: Mutex::new(state),
                write_lock: Mutex::new(()),
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, JobState> {
        lock(&self.inner.state)
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.client.entry(self.inner.store_idx).store
    }

    pub(crate) fn store_idx(&self) -> usize {
        self.inner.store_idx
    }

    pub(crate) fn token(&self) -> Epoch {
        self.state().token
    }

    pub(crate) fn set_last_outcome(&self, outcome: WorkOutcome) {
        self.state().last_outcome = Some(outcome);
    }

    pub(crate) fn mark_done(&self, outcome: WorkOutcome) {
        let mut st = self.state();
        st.did_something = true;
        st.last_outcome = Some(outcome);
    }

    pub(crate) fn worker(&self) -> Option<Arc<dyn Worker>> {
        self.inner.client.worker_for(&self.inner.funcname)
    }

    pub(crate) fn now(&self) -> Result<Epoch> {
        self.inner.client.now_of(self.inner.store_idx)
    }

    pub(crate) fn lease_lost(&self, token: Epoch) -> Error {
        Error::LeaseLost {
            store: self.store().describe(),
            jobid: self.inner.row.jobid,
            token,
        }
    }

    pub(crate) fn check_not_finished(&self, method: &'static str) -> Result<()> {
        if self.state().did_something {
            log::debug!("can't call '{method}' on already finished job");
            return Err(Error::AlreadyFinished {
                store: self.store().describe(),
                jobid: self.inner.row.jobid,
                method,
            });
        }
        Ok(())
    }

    /// Writes one outcome; `LeaseLost` and `Rejected` become errors.
    pub(crate) fn write_finish(&self, finish: Finish) -> Result<FinishStatus> {
        let token = finish.token;
        let mut statuses = self.store().finish(std::slice::from_ref(&finish))?;
        let status = if statuses.is_empty() {
            return Err(Error::Database {
                store: self.store().describe(),
                message: String::from("finish returned no status for the job"),
            });
        } else {
            statuses.swap_remove(0)
        };
        match status {
            FinishStatus::LeaseLost => {
                self.set_last_outcome(WorkOutcome::LeaseLost);
                Err(self.lease_lost(token))
            }
            FinishStatus::Rejected(e) => Err(e),
            other => Ok(other),
        }
    }

    /// The `Finish` of a plain completion (reads the server time only when an exit status
    /// is kept).
    pub(crate) fn completion_finish(&self) -> Result<Finish> {
        let worker = self.worker();
        let keeps = worker.as_deref().is_some_and(|w| {
            !call_hook("keep_exit_status_for", Duration::ZERO, || {
                w.keep_exit_status_for()
            })
            .is_zero()
        });
        let exit_status = if keeps {
            let now = self.now()?;
            exit_write(worker.as_deref(), now, 0)
        } else {
            None
        };
        Ok(Finish {
            jobid: self.inner.row.jobid,
            funcid: self.inner.row.funcid,
            token: self.token(),
            failure: None,
            action: FinishAction::Remove { exit_status },
        })
    }

    pub(crate) fn do_completed(&self) -> Result<()> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished("completed")?;
        log::debug!("job completed");
        let finish = self.completion_finish()?;
        let exit_at = match &finish.action {
            FinishAction::Remove {
                exit_status: Some(es),
            } => Some(es.completion_time),
            _ => None,
        };
        self.write_finish(finish)?;
        self.mark_done(WorkOutcome::Completed);
        if let Some(now) = exit_at {
            self.inner
                .client
                .after_exit_status_written(self.store_idx(), now);
        }
        Ok(())
    }

    /// `failed` (retry by max_retries) or `permanent_failure` (`permanent`).
    pub(crate) fn do_failed(
        &self,
        method: &'static str,
        message: &str,
        exit_status: Option<i32>,
        permanent: bool,
    ) -> Result<()> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished(method)?;
        let worker = self.worker();
        let now = self.now()?;
        let retry = if permanent {
            None
        } else {
            let failures = self.store().failures(self.inner.row.jobid)?.len() as u64 + 1;
            let max = worker
                .as_deref()
                .map(|w| call_hook("max_retries", 0, || w.max_retries(self)))
                .unwrap_or(0);
            log::debug!(
                "job failed.  considering retry.  is max_retries of {max} >= failures of {failures}?"
            );
            (u64::from(max) >= failures).then_some(failures)
        };
        let action = match retry {
            Some(failures) => {
                let n = u32::try_from(failures).unwrap_or(u32::MAX);
                let delay = worker
                    .as_deref()
                    .map(|w| {
                        ceil_secs(call_hook("retry_delay", Duration::ZERO, || {
                            w.retry_delay(n)
                        }))
                    })
                    .unwrap_or(0);
                FinishAction::Reschedule {
                    run_after: (delay > 0).then(|| now.saturating_add(delay)),
                }
            }
            None => {
                let status = match exit_status {
                    Some(s) if s != 0 => s,
                    _ => 1,
                };
                FinishAction::Remove {
                    exit_status: exit_write(worker.as_deref(), now, status),
                }
            }
        };
        log::debug!(
            "job failed: {}",
            if message.is_empty() {
                "<no message>"
            } else {
                message
            }
        );
        let wrote_exit = matches!(
            action,
            FinishAction::Remove {
                exit_status: Some(_)
            }
        );
        let finish = Finish {
            jobid: self.inner.row.jobid,
            funcid: self.inner.row.funcid,
            token: self.token(),
            failure: Some(FailureRecord {
                error_time: now,
                jobid: self.inner.row.jobid,
                message: message.to_string(),
                funcid: self.inner.row.funcid,
            }),
            action,
        };
        self.write_finish(finish)?;
        self.mark_done(WorkOutcome::Failed {
            will_retry: retry.is_some(),
        });
        let client = &self.inner.client;
        client.after_failure_written(self.store_idx(), now);
        if wrote_exit {
            client.after_exit_status_written(self.store_idx(), now);
        }
        Ok(())
    }
}
