//! The dispatcher: grabs jobs and hands them to ready workers.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Select, Sender, TrySendError};
use schwartz_core::{Client, QueuedJob};

use crate::builder::Config;
use crate::pool::{Mode, Shared, Stats};

/// A grabbed job on its way to a worker.
#[derive(Debug)]
pub(crate) struct Dispatched {
    pub job: QueuedJob,
    /// When the grab returned (local clock): the lease started about then.
    pub grabbed_at: Instant,
    pub grab_for: Duration,
}

/// What worker threads tell the dispatcher.
#[derive(Debug)]
pub(crate) enum Event {
    /// A worker finished the chunk it was handed; `new_work` when an outcome made jobs
    /// eligible (a retry, replacements).
    Finished { new_work: bool },
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
/// Most jobs handed to one worker at once.
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
    grab_for: HashMap<String, Duration>,
    /// The next grab follows a wake-up.
    woken: bool,
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
            grab_for: HashMap::new(),
            woken: false,
        }
    }

    /// Worker threads still alive (and how many of them are in a chunk).
    pub(crate) fn workers(&self) -> (usize, usize) {
        (self.alive, self.busy)
    }

    fn idle(&self) -> usize {
        self.alive.saturating_sub(self.busy)
    }

    /// The main loop.
    pub(crate) fn run(&mut self) -> Stopped {
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
            if self.mode == Mode::UntilDone && self.busy == 0 && self.buffer.is_empty() {
                if self.exhausted && self.exhausted_idle {
                    return Stopped::Done;
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
        match self.client.grab_jobs(want) {
            Ok(jobs) => {
                self.grab_errors = 0;
                self.last_error = None;
                let now = Instant::now();
                let got = jobs.len();
                for job in jobs {
                    let grab_for = self.grab_for_of(&job);
                    self.buffer.push_back(Dispatched {
                        job,
                        grabbed_at: now,
                        grab_for,
                    });
                }
                if got == 0 {
                    self.exhausted = true;
                    self.exhausted_idle = self.busy == 0;
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

    fn grab_for_of(&mut self, job: &QueuedJob) -> Duration {
        if let Some(d) = self.grab_for.get(job.funcname()) {
            return *d;
        }
        let d = self
            .client
            .worker_for(job.funcname())
            .map_or(Duration::from_secs(3600), |w| w.grab_for())
            .max(Duration::from_secs(1));
        self.grab_for.insert(job.funcname().to_string(), d);
        d
    }

    /// Grabs come less than [`FAST`] apart: jobs are short, so grab further ahead (fewer
    /// round trips per job). Waiting buffered jobs shrink it again (`maintain_buffer`).
    fn adapt_prefetch(&mut self) {
        if let Some((at, _)) = self.last_grab {
            if at.elapsed() < FAST {
                let grown = (self.prefetch * 2).max(self.config.threads * 2);
                self.prefetch = grown.min(self.config.batch_size);
            }
        }
    }

    /// How many jobs the next worker gets.
    fn chunk_len(&self) -> usize {
        if self.prefetch == 0 {
            return 1;
        }
        let per_worker = self.buffer.len() / self.idle().max(1);
        (self.prefetch / (self.config.threads * 4))
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
            match self.job_tx.try_send(chunk) {
                Ok(()) => self.busy += 1,
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
            match oper.send(self.job_tx, chunk) {
                Ok(()) => self.busy += 1,
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
            Event::Finished { new_work } => {
                self.busy = self.busy.saturating_sub(1);
                if new_work {
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
        if waited >= front.grab_for / 2 {
            let mut stale = Vec::new();
            let mut keep = VecDeque::with_capacity(self.buffer.len());
            for d in self.buffer.drain(..) {
                if d.grabbed_at.elapsed() >= d.grab_for / 2 {
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
        Ok(()) => Stats::add(&stats.released, n),
        Err(e) => log::warn!(
            "could not give back {n} unstarted jobs (they run once their lease expires): {e}"
        ),
    }
}
