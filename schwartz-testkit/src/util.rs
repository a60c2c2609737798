//! Helpers for the cases: a configurable worker, a store wrapper that can be taken
//! offline, a rendezvous for race cases, and assertion helpers.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use schwartz_core::store::{
    Claim, ExitStatus, FailureRecord, Finish, FinishStatus, FuncMap, JobQuery, JobRow, Lease,
    NewJobRow, Notifier, Store, StoreStats,
};
use schwartz_core::{
    Client, Epoch, Error, FuncId, JobHandle, JobId, QueuedJob, Result, StoreHash, WorkError, Worker,
};

/// `Result::must`: unwrap with a message naming what was being done.
pub trait Must<T> {
    /// The value, or a panic `"<what>: <error>"`.
    fn must(self, what: &str) -> T;
}

impl<T, E: Display> Must<T> for std::result::Result<T, E> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: unexpected error: {e}"),
        }
    }
}

/// Asserts that `$e` is `Err` matching `$pat`; evaluates to the error.
macro_rules! assert_err {
    ($e:expr, $pat:pat) => {
        assert_err!($e, $pat, "")
    };
    ($e:expr, $pat:pat, $($ctx:tt)+) => {
        match $e {
            Err(err) => {
                if matches!(err, $pat) {
                    err
                } else {
                    panic!(
                        "expected Err({}) {}, got Err({:?}): {}",
                        stringify!($pat),
                        format!($($ctx)+),
                        err,
                        err
                    )
                }
            }
            Ok(v) => panic!(
                "expected Err({}) {}, got Ok({:?})",
                stringify!($pat),
                format!($($ctx)+),
                v
            ),
        }
    };
}
pub(crate) use assert_err;

/// Shared observations made inside workers (assertions inside `work` would only become
/// job failures, so workers record what they saw and the case asserts afterwards).
pub type Rec<T> = Arc<Mutex<Vec<T>>>;

/// An empty recorder.
pub fn rec<T>() -> Rec<T> {
    Arc::new(Mutex::new(Vec::new()))
}

/// Appends to a recorder.
pub fn push<T>(r: &Rec<T>, v: T) {
    r.lock().unwrap_or_else(|e| e.into_inner()).push(v);
}

/// A copy of what a recorder holds.
pub fn seen<T: Clone>(r: &Rec<T>) -> Vec<T> {
    r.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

type WorkFn = dyn Fn(&QueuedJob) -> std::result::Result<(), WorkError> + Send + Sync;
type DelayFn = dyn Fn(u32) -> Duration + Send + Sync;

/// A worker built from a closure, with TheSchwartz's hooks settable.
pub struct TestWorker {
    work: Box<WorkFn>,
    max_retries: u32,
    retry_delay: Box<DelayFn>,
    keep: Duration,
    grab_for: Duration,
}

impl TestWorker {
    /// A worker running `f`, with the default hooks.
    pub fn new<F>(f: F) -> Self
    where
        F: Fn(&QueuedJob) -> std::result::Result<(), WorkError> + Send + Sync + 'static,
    {
        TestWorker {
            work: Box::new(f),
            max_retries: 0,
            retry_delay: Box::new(|_| Duration::ZERO),
            keep: Duration::ZERO,
            grab_for: Duration::from_secs(3600),
        }
    }
    /// A worker that just returns `Ok(())`.
    pub fn ok() -> Self {
        TestWorker::new(|_| Ok(()))
    }
    /// A worker that calls `completed()` explicitly.
    pub fn completing() -> Self {
        TestWorker::new(|job| Ok(job.completed()?))
    }
    /// `max_retries`.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// `retry_delay(failures)`.
    pub fn retry_delay(mut self, f: impl Fn(u32) -> Duration + Send + Sync + 'static) -> Self {
        self.retry_delay = Box::new(f);
        self
    }
    /// `keep_exit_status_for`, in seconds.
    pub fn keep(mut self, secs: u64) -> Self {
        self.keep = Duration::from_secs(secs);
        self
    }
    /// `grab_for`, in seconds.
    pub fn grab_for(mut self, secs: u64) -> Self {
        self.grab_for = Duration::from_secs(secs);
        self
    }
}

impl Worker for TestWorker {
    fn work(&self, job: &QueuedJob) -> std::result::Result<(), WorkError> {
        (self.work)(job)
    }
    fn max_retries(&self, _job: &QueuedJob) -> u32 {
        self.max_retries
    }
    fn retry_delay(&self, failures: u32) -> Duration {
        (self.retry_delay)(failures)
    }
    fn keep_exit_status_for(&self) -> Duration {
        self.keep
    }
    fn grab_for(&self) -> Duration {
        self.grab_for
    }
}

/// A store wrapper that can be taken offline (every data operation then fails with
/// `Error::Unavailable`) and counts the data operations it was asked for. Works over
/// any backend, so dead-store behaviour is tested the same way everywhere.
#[derive(Debug)]
pub struct FlakyStore {
    inner: Arc<dyn Store>,
    offline: AtomicBool,
    calls: AtomicUsize,
}

impl FlakyStore {
    /// Wraps a store (online).
    pub fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(FlakyStore {
            inner,
            offline: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
        })
    }
    /// Takes the store offline or back online.
    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::SeqCst);
    }
    /// Data operations asked for so far (identity/describe not counted).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    /// As `Arc<dyn Store>`.
    pub fn dyn_store(self: &Arc<Self>) -> Arc<dyn Store> {
        let s: Arc<dyn Store> = Arc::clone(self) as Arc<dyn Store>;
        s
    }
    fn gate(&self) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.offline.load(Ordering::SeqCst) {
            Err(Error::Unavailable {
                store: self.inner.describe(),
                message: "taken offline by the conformance test".to_string(),
            })
        } else {
            Ok(())
        }
    }
}

impl Store for FlakyStore {
    fn identity(&self) -> String {
        self.inner.identity()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn server_time(&self) -> Result<Epoch> {
        self.gate()?;
        self.inner.server_time()
    }
    fn funcmap(&self) -> Result<Vec<FuncMap>> {
        self.gate()?;
        self.inner.funcmap()
    }
    fn funcid(&self, funcname: &str) -> Result<FuncId> {
        self.gate()?;
        self.inner.funcid(funcname)
    }
    fn insert_jobs(&self, jobs: &[NewJobRow]) -> Result<Vec<JobId>> {
        self.gate()?;
        self.inner.insert_jobs(jobs)
    }
    fn lookup(&self, jobid: JobId) -> Result<Option<JobRow>> {
        self.gate()?;
        self.inner.lookup(jobid)
    }
    fn select_jobs(&self, query: &JobQuery) -> Result<Vec<JobRow>> {
        self.gate()?;
        self.inner.select_jobs(query)
    }
    fn claim(&self, claims: &[Claim], now: Epoch) -> Result<Vec<JobId>> {
        self.gate()?;
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
        self.gate()?;
        self.inner.grab_skip_locked(query, leases, now)
    }
    fn finish(&self, items: &[Finish]) -> Result<Vec<FinishStatus>> {
        self.gate()?;
        self.inner.finish(items)
    }
    fn extend_lease(&self, jobid: JobId, token: Epoch, new_until: Epoch) -> Result<bool> {
        self.gate()?;
        self.inner.extend_lease(jobid, token, new_until)
    }
    fn record(&self, records: &schwartz_core::store::JobRecords) -> Result<bool> {
        self.gate()?;
        self.inner.record(records)
    }
    fn reschedule(&self, jobid: JobId, run_after: Epoch) -> Result<bool> {
        self.gate()?;
        self.inner.reschedule(jobid, run_after)
    }
    fn failures(&self, jobid: JobId) -> Result<Vec<FailureRecord>> {
        self.gate()?;
        self.inner.failures(jobid)
    }
    fn recent_failures(
        &self,
        since: Option<Epoch>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>> {
        self.gate()?;
        self.inner.recent_failures(since, funcid, limit)
    }
    fn exit_status(&self, jobid: JobId) -> Result<Option<ExitStatus>> {
        self.gate()?;
        self.inner.exit_status(jobid)
    }
    fn prune_errors(&self, older_than: Epoch, limit: usize) -> Result<u64> {
        self.gate()?;
        self.inner.prune_errors(older_than, limit)
    }
    fn prune_exit_statuses(&self, now: Epoch, limit: usize) -> Result<u64> {
        self.gate()?;
        self.inner.prune_exit_statuses(now, limit)
    }
    fn stats(&self) -> Result<StoreStats> {
        self.gate()?;
        self.inner.stats()
    }
    fn notifier(&self) -> Result<Option<Box<dyn Notifier>>> {
        self.gate()?;
        self.inner.notifier()
    }
}

/// Lets `parties` threads meet (a barrier with a timeout, reusable); used from grab hooks
/// to hold two clients between their candidate select and their claim. Once `disarm`ed,
/// `wait` returns at once.
#[derive(Debug)]
pub struct Rendezvous {
    parties: usize,
    timeout: Duration,
    state: Mutex<(usize, u64)>,
    cv: Condvar,
    disarmed: AtomicBool,
}

impl Rendezvous {
    /// A rendezvous of `parties` threads; a wait gives up after `timeout`.
    pub fn new(parties: usize, timeout: Duration) -> Arc<Self> {
        Arc::new(Rendezvous {
            parties,
            timeout,
            state: Mutex::new((0, 0)),
            cv: Condvar::new(),
            disarmed: AtomicBool::new(false),
        })
    }
    /// Waits until all parties arrived (or the timeout); returns whether they met.
    pub fn wait(&self) -> bool {
        if self.disarmed.load(Ordering::SeqCst) {
            return false;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let generation = st.1;
        st.0 += 1;
        if st.0 >= self.parties {
            st.0 = 0;
            st.1 += 1;
            self.cv.notify_all();
            return true;
        }
        let deadline = Instant::now() + self.timeout;
        while st.1 == generation && !self.disarmed.load(Ordering::SeqCst) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                st.0 = st.0.saturating_sub(1);
                return false;
            }
            st = self
                .cv
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.1 != generation
    }
    /// From now on `wait` returns at once (and wakes current waiters).
    pub fn disarm(&self) {
        self.disarmed.store(true, Ordering::SeqCst);
        let _g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }
}

/// The first store's hash of a client.
#[track_caller]
pub fn h0(c: &Client) -> StoreHash {
    c.store_hashes()
        .into_iter()
        .next()
        .expect("client has no store")
}

/// The first store's time as the client sees it (store clock plus the shift).
#[track_caller]
pub fn now(c: &Client) -> DateTime<Utc> {
    c.server_time(&h0(c)).must("reading the server time")
}

/// `t + secs`.
pub fn plus(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    t + TimeDelta::seconds(secs)
}

/// Seconds.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Row counts of a store.
#[track_caller]
pub fn stats(s: &Arc<dyn Store>) -> StoreStats {
    s.stats().must("reading store stats")
}

/// Whether the job is pending.
#[track_caller]
pub fn pending(c: &Client, h: &JobHandle) -> bool {
    c.is_pending(h).must("is_pending")
}

/// The failure count of a job.
#[track_caller]
pub fn failures(c: &Client, h: &JobHandle) -> u64 {
    c.failures(h).must("failures")
}

/// The failure messages of a job.
#[track_caller]
pub fn failure_log(c: &Client, h: &JobHandle) -> Vec<String> {
    c.failure_log(h).must("failure_log")
}

/// The exit status of a job.
#[track_caller]
pub fn exit_status(c: &Client, h: &JobHandle) -> Option<i32> {
    c.exit_status(h).must("exit_status")
}

/// The job behind a handle, which must exist.
#[track_caller]
pub fn lookup(c: &Client, h: &JobHandle) -> QueuedJob {
    match c.lookup_job(h) {
        Ok(Some(j)) => j,
        Ok(None) => panic!("lookup_job({h}): the job should be pending but is gone"),
        Err(e) => panic!("lookup_job({h}): {e}"),
    }
}

/// The jobs of these functions in every store of the client (large limit).
#[track_caller]
pub fn list(c: &Client, funcnames: &[&str]) -> Vec<QueuedJob> {
    let mut f = schwartz_core::ListJobs::new(funcnames.iter().copied());
    f.limit = Some(10_000);
    c.list_jobs(&f).must("list_jobs")
}

/// Error text of a worker result.
pub fn werr(msg: impl Into<String>) -> WorkError {
    msg.into().into()
}
