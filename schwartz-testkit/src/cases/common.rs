//! Argument types and imports shared by the cases.

pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::sync::{Arc, Mutex};

pub(crate) use schwartz_core::executor::execute;
pub(crate) use schwartz_core::outcome::{apply, Outcome, OutcomeWriter};
pub(crate) use schwartz_core::store::{CoalesceFilter, JobOrder, Store};
pub(crate) use schwartz_core::WeakClient;
pub(crate) use schwartz_core::{
    datetime_to_epoch, decode_arg, encode_arg, AbilityRotation, CandidateOrder, Client, Error, Job,
    JobHandle, JobId, ListJobs, QueuedJob, StoreHash, WorkOutcome,
};
pub(crate) use serde::{Deserialize, Serialize};

pub(crate) use crate::ctx::Ctx;
pub(crate) use crate::harness::cases;
pub(crate) use crate::util::{
    assert_err, exit_status, failure_log, failures, h0, list, lookup, now, pending, plus, push,
    rec, secs, seen, stats, werr, FlakyStore, Must, Rec, Rendezvous, TestWorker,
};

/// TheSchwartz's test hash `{scoops => 2, with => ['cheese', 'love']}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Feed {
    pub scoops: u32,
    pub with: Vec<String>,
}

pub(crate) fn feed() -> Feed {
    Feed {
        scoops: 2,
        with: vec!["cheese".to_string(), "love".to_string()],
    }
}

/// `{numbers => [1, 2]}` of `Worker::Addition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Numbers {
    pub numbers: Vec<i64>,
}

/// A job of `funcname` with a typed argument.
#[track_caller]
pub(crate) fn job_with<T: Serialize>(funcname: &str, arg: &T) -> Job {
    Job::new(funcname).arg(arg).must("encoding a job argument")
}

/// Inserts and returns the handle.
#[track_caller]
pub(crate) fn ins(c: &Client, job: Job) -> JobHandle {
    let name = job.funcname().to_string();
    c.insert(job).must(&format!("inserting a {name:?} job"))
}

/// `work_once`, which must succeed.
#[track_caller]
pub(crate) fn work_once(c: &Client) -> bool {
    c.work_once().must("work_once")
}

/// Registers a worker.
#[track_caller]
pub(crate) fn can_do(c: &Client, funcname: &str, w: TestWorker) {
    c.can_do(funcname, w).must(&format!("can_do({funcname:?})"))
}

/// `grab_job`, which must succeed.
#[track_caller]
pub(crate) fn grab(c: &Client, funcname: &str) -> Option<QueuedJob> {
    c.grab_job(funcname)
        .must(&format!("grab_job({funcname:?})"))
}

/// An outcome writer that keeps outcomes for a later [`apply`] (as the worker pool's
/// completer does).
#[derive(Default)]
pub(crate) struct Collect(Mutex<Vec<Outcome>>);

impl Collect {
    /// The outcomes kept so far.
    pub(crate) fn take(&self) -> Vec<Outcome> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl OutcomeWriter for Collect {
    fn write(&self, outcome: Outcome) -> schwartz_core::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(outcome);
        Ok(())
    }
}
