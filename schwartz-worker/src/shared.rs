//! State shared by the pool's threads and its handles: the stop flag, the dispatcher's
//! wake-up channel, the counters, and per worker thread one slot, one queue of pending
//! jobs and one list of outcomes not yet handed over.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use schwartz_core::outcome::Outcome;
use schwartz_core::{QueuedJob, StopSignal};

use crate::dispatcher::Dispatched;
use crate::metrics::Meters;
use crate::summary::PoolSummary;

/// When the dispatcher stops on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Only on shutdown.
    Service,
    /// When a grab finds nothing while no job runs.
    UntilDone,
}

/// Counters shared by the pool's threads.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub declined: AtomicU64,
    pub replaced: AtomicU64,
    pub lease_lost: AtomicU64,
    pub cancelled: AtomicU64,
    pub errors: AtomicU64,
    pub released: AtomicU64,
    /// The same counts through the `metrics` facade (see `metrics.rs`), by function.
    pub meters: Mutex<Meters>,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn summary(&self, abandoned: u64, elapsed: Duration) -> PoolSummary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PoolSummary {
            completed: get(&self.completed),
            failed: get(&self.failed),
            retried: get(&self.retried),
            declined: get(&self.declined),
            replaced: get(&self.replaced),
            lease_lost: get(&self.lease_lost),
            cancelled: get(&self.cancelled),
            errors: get(&self.errors),
            released: get(&self.released),
            abandoned_threads: abandoned,
            elapsed,
        }
    }
}

/// A job a worker is running, for lease extension.
#[derive(Debug)]
pub(crate) struct Running {
    pub job: QueuedJob,
    /// When the current lease started (local clock).
    pub lease_from: Instant,
}

/// State shared by the pool's threads and its handles.
#[derive(Debug)]
pub(crate) struct Shared {
    stop: AtomicBool,
    /// Wakes sleeping helper threads on shutdown.
    pub stop_signal: StopSignal,
    /// Wakes the dispatcher (coalesced: capacity 1).
    pub wake_tx: Sender<()>,
    pub wake_rx: Receiver<()>,
    pub stats: Stats,
    /// Batches of outcomes handed to the completer and not yet written: until they are,
    /// a retried job is still leased, so an empty grab does not mean "done".
    pub unwritten: AtomicUsize,
    /// One slot per worker thread: the job it runs.
    pub slots: Vec<Mutex<Option<Running>>>,
    /// One queue per worker thread: the jobs of its chunk not started yet (released by
    /// the shutdown at the grace deadline when the thread is still busy).
    pub pending: Vec<Mutex<VecDeque<Dispatched>>>,
    /// One list per worker thread: the outcomes of its chunk not handed to the completer
    /// yet (a chunk's outcomes go as one batch once the chunk ends; the shutdown writes
    /// them itself at the grace deadline when the thread is still busy, or the jobs before
    /// a slow one would stay leased, done but unrecorded).
    pub collected: Vec<Mutex<Vec<Outcome>>>,
}

impl Shared {
    pub(crate) fn new(threads: usize) -> Self {
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        Shared {
            stop: AtomicBool::new(false),
            stop_signal: StopSignal::new(),
            wake_tx,
            wake_rx,
            stats: Stats::default(),
            unwritten: AtomicUsize::new(0),
            slots: (0..threads).map(|_| Mutex::new(None)).collect(),
            pending: (0..threads).map(|_| Mutex::new(VecDeque::new())).collect(),
            collected: (0..threads).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop_signal.stop();
        self.wake();
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn wake(&self) {
        let _ = self.wake_tx.try_send(());
    }
}

/// Locks a mutex, ignoring poisoning (slots hold plain values).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
