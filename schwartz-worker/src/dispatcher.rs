//! The dispatcher: grabs jobs and hands them to ready workers. It runs on the thread that
//! called [`WorkerPool::run`](crate::WorkerPool::run).
//!
//! # Why a lease never ticks away in a queue
//!
//! A grab leases jobs (`grabbed_until = now + grab_for`). The dispatcher grabs only as many
//! jobs as it has idle workers (its *demand*), and hands them over a zero-capacity channel:
//! a send completes only when a worker takes the chunk, so no grabbed job waits in a
//! channel. Jobs it grabbed ahead (*prefetch*, see below) wait in its own buffer, where it
//! watches them: a buffered job that has waited half its lease is given back
//! ([`Client::release`]) rather than handed out late, and any buffered job is given back
//! at shutdown. Once a worker runs a job, the housekeeper extends its lease.
//!
//! # State
//!
//! | field | meaning |
//! |---|---|
//! | `alive`, `busy` | worker threads alive, and how many of them work a chunk |
//! | `buffer` | grabbed jobs not yet handed out, oldest first |
//! | `prefetch` | jobs grabbed beyond the idle workers: 0 for slow jobs, grown for fast ones |
//! | `exhausted` | the last grab got fewer jobs than asked for: wait until `next_poll` |
//! | `exhausted_idle` | that grab happened while no job ran and no retry awaited its write |
//! | `woken` | the next grab follows a wake-up (an insert, a notification, a written retry) |
//!
//! # Transitions (one turn of the loop in `dispatch`)
//!
//! 1. **Stop**: shutdown requested → give back the buffer, end with `Shutdown`; every
//!    worker thread gone → give back the buffer, end with `NoWorkers`.
//! 2. **Events**: `Finished` → `busy - 1` (and `exhausted = false` when the chunk's
//!    outcomes made work, a retry or replacements written by the worker itself);
//!    `Exited` → `alive - 1`; a wake-up → `exhausted = false`, `woken = true`.
//! 3. **Buffer upkeep**: the oldest buffered job waited [`SLOW`] → halve `prefetch`
//!    (at most once per `SLOW`); waited half its lease → give back every job that did.
//! 4. **Hand out**: while jobs are buffered and a worker is idle, send a chunk without
//!    blocking (`busy + 1`). Chunks are one job unless the pool grabs ahead; then
//!    `prefetch / threads` jobs, at most [`MAX_CHUNK`] (and the buffer shared among the
//!    idle workers).
//! 5. **Done?** (`run_until_done` only, nothing running, buffered or awaiting its write):
//!    `exhausted && exhausted_idle` → end with `Done`, unless the client has a store marked
//!    dead (it may hold due jobs): then keep polling, and end with `StoreFailed`
//!    (`Unavailable`) once one has been dead for `unavailable_deadline`; [`MAX_GRAB_ERRORS`] failed grabs in
//!    a row → end with `StoreFailed`; exhausted by a grab made while jobs ran → grab once
//!    more to confirm.
//! 6. **Grab** (round-robin over functions, within per-function limits: see `fair.rs`),
//!    when not exhausted and the buffer holds less than demand (`idle +
//!    prefetch`) and at most half the prefetch: ask for `demand - buffered` jobs (at most
//!    the batch size). Grabs less than [`FAST`] apart double `prefetch` (at least
//!    `threads × 2`, at most the batch size and the prefetch bound, by default 8 per thread and at least 64).
//!    An empty grab → `exhausted`, next poll after
//!    the poll interval ([`WAKE_RECHECK`] after a wake-up: the job that woke us may not be
//!    due yet by this client's clock); a partial grab → recheck after
//!    [`PARTIAL_RECHECK`]; an error → back off exponentially from 100 ms.
//! 7. **Wait** (otherwise) for the first of: a worker ready for a buffered chunk, a
//!    worker event, a wake-up, the next poll (at most [`TICK`]).
//!
//! A retry decided by a worker is written by the completer, a few milliseconds later;
//! until then the job is still leased. Such batches are counted in
//! [`Shared::unwritten`](crate::shared::Shared) and keep `run_until_done` from ending;
//! the completer wakes the dispatcher once it wrote them.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TrySendError};
use schwartz_core::{Client, QueuedJob};

use crate::config::Config;
use crate::fair::Fairness;
use crate::shared::{Mode, Shared, Stats};

/// A grabbed job on its way to a worker.
#[derive(Debug)]
pub(crate) struct Dispatched {
    pub job: QueuedJob,
    /// When the grab returned (local clock): the lease started about then.
    pub grabbed_at: Instant,
}

/// What worker threads tell the dispatcher.
#[derive(Debug)]
pub(crate) enum Event {
    /// A worker finished the chunk it was handed; `new_work` when an outcome made jobs
    /// eligible (a retry, replacements); `funcs`: the function of each job of the chunk
    /// (for per-function limits).
    Finished {
        /// An outcome made jobs eligible.
        new_work: bool,
        /// The chunk's functions.
        funcs: Vec<String>,
    },
    /// A worker thread ended; `busy` when it ended in the middle of a chunk.
    Exited { busy: bool },
}

/// Why the dispatcher stopped.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// Shutdown was requested.
    Shutdown,
    /// No job left (run_until_done).
    Done,
    /// Grabbing kept failing (run_until_done).
    StoreFailed(schwartz_core::Error),
    /// Every worker thread died.
    NoWorkers,
}

/// Jobs finishing within this time of their grab make the dispatcher grab ahead.
const FAST: Duration = Duration::from_millis(50);
/// A buffered job waiting this long makes the dispatcher grab less ahead.
const SLOW: Duration = Duration::from_millis(500);
/// Longest sleep of the dispatcher loop when nothing happens.
const TICK: Duration = Duration::from_millis(250);
/// Recheck delay after a grab that returned fewer jobs than asked for.
const PARTIAL_RECHECK: Duration = Duration::from_millis(25);
/// Recheck delay after a wake-up whose grab found nothing: the job that caused it may
/// not be eligible yet for this client (stores keep whole seconds, and each client
/// estimates the server's clock).
const WAKE_RECHECK: Duration = Duration::from_millis(1100);
/// Most jobs handed to one worker at once (a chunk is `prefetch / threads` jobs: with the
/// default bound, 8 per thread and at least 64, eight to 64). The jobs of a chunk not started yet wait where
/// the shutdown can release them, and the outcomes of those already run where it can write
/// them (`Shared::pending`, `Shared::collected`), so a thread busy past the grace period
/// keeps only the job it runs leased.
const MAX_CHUNK: usize = 64;
/// Grab failures in a row after which run_until_done gives up.
const MAX_GRAB_ERRORS: u32 = 3;

pub(crate) struct Dispatcher<'a> {
    client: &'a Client,
    config: &'a Config,
    shared: &'a Shared,
    mode: Mode,
    job_tx: &'a Sender<Vec<Dispatched>>,
    events: &'a Receiver<Event>,
    buffer: VecDeque<Dispatched>,
    alive: usize,
    busy: usize,
    prefetch: usize,
    exhausted: bool,
    /// The last empty grab happened while no job was running or buffered.
    exhausted_idle: bool,
    next_poll: Instant,
    last_grab: Option<(Instant, bool)>,
    last_shrink: Instant,
    grab_errors: u32,
    last_error: Option<schwartz_core::Error>,
    /// The next grab follows a wake-up.
    woken: bool,
    /// Since when a store has been unavailable while no job was found (run_until_done).
    unavailable_since: Option<Instant>,
    /// Round-robin over functions and per-function limits (see `fair.rs`).
    fair: Fairness,
}

impl<'a> Dispatcher<'a> {
    pub(crate) fn new(
        client: &'a Client,
        config: &'a Config,
        shared: &'a Shared,
        mode: Mode,
        job_tx: &'a Sender<Vec<Dispatched>>,
        events: &'a Receiver<Event>,
    ) -> Self {
        let now = Instant::now();
        Dispatcher {
            client,
            config,
            shared,
            mode,
            job_tx,
            events,
            buffer: VecDeque::new(),
            alive: config.threads,
            busy: 0,
            prefetch: 0,
            exhausted: false,
            exhausted_idle: false,
            next_poll: now,
            last_grab: None,
            last_shrink: now,
            grab_errors: 0,
            last_error: None,
            woken: false,
            unavailable_since: None,
            fair: Fairness::new(config.limits.clone()),
        }
    }

    /// Worker threads still alive (and how many of them are in a chunk).
    pub(crate) fn workers(&self) -> (usize, usize) {
        (self.alive, self.busy)
    }

    fn idle(&self) -> usize {
        self.alive.saturating_sub(self.busy)
    }

    /// Whether a retry handed to the completer is not written yet.
    fn retries_unwritten(&self) -> bool {
        self.shared.unwritten.load(Ordering::SeqCst) > 0
    }

    /// The dispatcher's loop (see the [module docs](self)).
    pub(crate) fn dispatch(&mut self) -> Stopped {
        loop {
            if self.shared.stopping() {
                self.release_buffer();
                return Stopped::Shutdown;
            }
            self.drain_events();
            if self.alive == 0 {
                self.release_buffer();
                return Stopped::NoWorkers;
            }
            self.maintain_buffer();
            self.hand_out();

            let now = Instant::now();
            if self.exhausted && now >= self.next_poll {
                self.exhausted = false;
            }
            if self.mode == Mode::UntilDone
                && self.busy == 0
                && self.buffer.is_empty()
                && !self.retries_unwritten()
            {
                if self.exhausted && self.exhausted_idle {
                    match self.unavailable_store() {
                        None => return Stopped::Done,
                        Some(e) => {
                            let since = *self.unavailable_since.get_or_insert_with(Instant::now);
                            if since.elapsed() >= self.config.unavailable_deadline {
                                return Stopped::StoreFailed(e);
                            }
                        }
                    }
                }
                if self.grab_errors >= MAX_GRAB_ERRORS {
                    if let Some(e) = self.last_error.take() {
                        return Stopped::StoreFailed(e);
                    }
                }
                if self.exhausted && !self.exhausted_idle && self.grab_errors == 0 {
                    // Jobs ran since the last empty grab: confirm that nothing is left.
                    self.exhausted = false;
                }
            }
            if !self.exhausted && self.wants_grab() {
                self.adapt_prefetch();
                self.grab();
                continue;
            }
            self.wait();
        }
    }

    /// A store the client has marked dead (it may hold due jobs), as the error
    /// run_until_done returns once the deadline has passed; `None` when all are alive.
    fn unavailable_store(&mut self) -> Option<schwartz_core::Error> {
        let dead = self
            .client
            .store_hashes()
            .into_iter()
            .find(|h| self.client.is_dead(h));
        let Some(hash) = dead else {
            self.unavailable_since = None;
            return None;
        };
        let store = self
            .client
            .store(&hash)
            .map_or_else(|| hash.to_string(), |s| s.describe());
        Some(schwartz_core::Error::Unavailable {
            store,
            message: format!(
                "still unavailable after {:?}; due jobs may remain there",
                self.config.unavailable_deadline
            ),
        })
    }

    /// Jobs the dispatcher wants to hold (buffered or about to be handed out).
    fn demand(&self) -> usize {
        self.idle() + self.prefetch
    }

    fn wants_grab(&self) -> bool {
        let held = self.buffer.len();
        held < self.demand() && held <= self.prefetch / 2
    }

    fn grab(&mut self) {
        let want = (self.demand() - self.buffer.len()).min(self.config.batch_size);
        if want == 0 {
            return;
        }
        let started = Instant::now();
        let span = tracing::debug_span!("schwartz.grab", want, got = tracing::field::Empty);
        let _entered = span.enter();
        match self.fair.grab(self.client, want, &self.buffer) {
            Ok(jobs) => {
                crate::metrics::grab(started.elapsed(), jobs.len());
                span.record("got", jobs.len());
                self.grab_errors = 0;
                self.last_error = None;
                let now = Instant::now();
                let got = jobs.len();
                for job in jobs {
                    self.buffer.push_back(Dispatched {
                        job,
                        grabbed_at: now,
                    });
                }
                if got == 0 {
                    self.exhausted = true;
                    self.exhausted_idle = self.busy == 0 && !self.retries_unwritten();
                    let wait = if std::mem::take(&mut self.woken) {
                        WAKE_RECHECK
                    } else {
                        self.config.poll_interval
                    };
                    self.next_poll = now + wait.min(self.config.poll_interval);
                } else {
                    self.woken = false;
                }
                if got > 0 && got < want {
                    self.exhausted = true;
                    self.exhausted_idle = false;
                    self.next_poll = now + PARTIAL_RECHECK.min(self.config.poll_interval);
                }
                self.last_grab = Some((now, got == want));
                log::trace!("grabbed {got} of {want} jobs in {:?}", now - started);
            }
            Err(e) => {
                crate::metrics::store_error("grab");
                self.grab_errors += 1;
                let backoff = Duration::from_millis(100u64 << self.grab_errors.min(6))
                    .min(self.config.poll_interval.max(Duration::from_millis(100)));
                log::warn!(
                    "grabbing jobs failed ({} in a row), retrying in {backoff:?}: {e}",
                    self.grab_errors
                );
                self.last_error = Some(e);
                self.exhausted = true;
                self.exhausted_idle = false;
                self.next_poll = Instant::now() + backoff;
                self.last_grab = None;
            }
        }
    }

    /// Grabs come less than [`FAST`] apart: jobs are short, so grab further ahead (fewer
    /// round trips per job). Waiting buffered jobs shrink it again (`maintain_buffer`).
    fn adapt_prefetch(&mut self) {
        if let Some((at, _)) = self.last_grab {
            if at.elapsed() < FAST {
                let grown = (self.prefetch * 2).max(self.config.threads * 2);
                self.prefetch = grown.min(self.config.batch_size).min(self.config.prefetch);
            }
        }
    }

    /// How many jobs the next worker gets.
    fn chunk_len(&self) -> usize {
        if self.prefetch == 0 {
            return 1;
        }
        let per_worker = self.buffer.len() / self.idle().max(1);
        (self.prefetch / self.config.threads)
            .clamp(1, MAX_CHUNK)
            .min(per_worker.max(1))
    }

    fn take_chunk(&mut self) -> Vec<Dispatched> {
        let n = self.chunk_len().min(self.buffer.len());
        self.buffer.drain(..n).collect()
    }

    fn put_back(&mut self, chunk: Vec<Dispatched>) {
        for d in chunk.into_iter().rev() {
            self.buffer.push_front(d);
        }
    }

    /// Hands jobs to every worker that is ready now, without blocking.
    fn hand_out(&mut self) {
        while !self.buffer.is_empty() && self.idle() > 0 {
            let chunk = self.take_chunk();
            let counted = self.fair.counted(&chunk);
            match self.job_tx.try_send(chunk) {
                Ok(()) => {
                    self.busy += 1;
                    self.fair.handed(&counted);
                }
                Err(TrySendError::Full(chunk)) | Err(TrySendError::Disconnected(chunk)) => {
                    self.put_back(chunk);
                    break;
                }
            }
        }
    }

    /// Sleeps until a worker is ready for a buffered job, a worker reports, a wake-up
    /// arrives, or the next poll is due.
    fn wait(&mut self) {
        let now = Instant::now();
        let timeout = if self.exhausted {
            self.next_poll.saturating_duration_since(now).min(TICK)
        } else {
            TICK
        };
        let mut sel = Select::new();
        let send = if !self.buffer.is_empty() && self.idle() > 0 {
            Some(sel.send(self.job_tx))
        } else {
            None
        };
        let ev = sel.recv(self.events);
        let wake = sel.recv(&self.shared.wake_rx);
        let Ok(oper) = sel.select_timeout(timeout) else {
            return;
        };
        let index = oper.index();
        if Some(index) == send {
            let chunk = self.take_chunk();
            let counted = self.fair.counted(&chunk);
            match oper.send(self.job_tx, chunk) {
                Ok(()) => {
                    self.busy += 1;
                    self.fair.handed(&counted);
                }
                Err(e) => self.put_back(e.into_inner()),
            }
        } else if index == ev {
            if let Ok(event) = oper.recv(self.events) {
                self.on_event(event);
            }
        } else if index == wake {
            let _ = oper.recv(&self.shared.wake_rx);
            self.exhausted = false;
            self.woken = true;
        }
    }

    fn drain_events(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.on_event(event);
        }
        if self.shared.wake_rx.try_recv().is_ok() {
            self.exhausted = false;
            self.woken = true;
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Finished { new_work, funcs } => {
                self.busy = self.busy.saturating_sub(1);
                // A limited function's slot freed: its jobs may be grabbed again.
                if new_work || self.fair.finished(&funcs) {
                    self.exhausted = false;
                }
            }
            Event::Exited { busy } => {
                self.alive = self.alive.saturating_sub(1);
                if busy {
                    self.busy = self.busy.saturating_sub(1);
                }
                log::error!("a worker thread ended unexpectedly; {} left", self.alive);
            }
        }
    }

    /// Grabs less ahead when buffered jobs wait, and gives back jobs that waited so long
    /// that their lease is half gone.
    fn maintain_buffer(&mut self) {
        let Some(front) = self.buffer.front() else {
            return;
        };
        let waited = front.grabbed_at.elapsed();
        if waited >= SLOW && self.prefetch > 0 && self.last_shrink.elapsed() >= SLOW {
            self.prefetch /= 2;
            self.last_shrink = Instant::now();
        }
        if waited >= front.job.grab_for() / 2 {
            let mut stale = Vec::new();
            let mut keep = VecDeque::with_capacity(self.buffer.len());
            for d in self.buffer.drain(..) {
                if d.grabbed_at.elapsed() >= d.job.grab_for() / 2 {
                    stale.push(d.job);
                } else {
                    keep.push_back(d);
                }
            }
            self.buffer = keep;
            log::debug!(
                "giving back {} grabbed jobs that waited half their lease",
                stale.len()
            );
            release(self.client, &self.shared.stats, stale);
        }
    }

    /// Gives back every buffered job (shutdown).
    pub(crate) fn release_buffer(&mut self) {
        let jobs: Vec<QueuedJob> = self.buffer.drain(..).map(|d| d.job).collect();
        release(self.client, &self.shared.stats, jobs);
    }
}

/// Makes grabbed but unstarted jobs grabbable again.
pub(crate) fn release(client: &Client, stats: &Stats, jobs: Vec<QueuedJob>) {
    if jobs.is_empty() {
        return;
    }
    let n = jobs.len() as u64;
    match client.release(jobs) {
        Ok(()) => {
            Stats::add(&stats.released, n);
            crate::metrics::released(n);
        }
        Err(e) => {
            crate::metrics::store_error("release");
            log::warn!(
                "could not give back {n} unstarted jobs (they run once their lease expires): {e}"
            );
        }
    }
}
