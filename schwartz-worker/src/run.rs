//! Starting the pool's threads, running the dispatcher, and the shutdown sequence.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender};
use schwartz_core::scoreboard::Scoreboard;
use schwartz_core::{Client, DeferredCompletion, Notifier, Store, WorkOutcome};

use crate::builder::{Config, Housekeeping, LeaseExtension, Notifications};
use crate::dispatcher::{self, Dispatched, Dispatcher, Event, Stopped};
use crate::error::{Error, Result};
use crate::pool::{Mode, PoolSummary, Running, Shared, Stats};

/// How long a listener waits for a notification before checking for shutdown: the pool
/// joins its listeners when it stops, so this bounds how long a stop waits for them.
const LISTEN_WAIT: Duration = Duration::from_millis(10);
/// How often the housekeeper looks at running jobs' leases.
const LEASE_TICK: Duration = Duration::from_millis(200);

/// The threads started so far, to be stopped on every path.
struct Threads {
    workers: Vec<JoinHandle<()>>,
    completer: Option<(Sender<()>, JoinHandle<()>)>,
    helpers: Vec<JoinHandle<()>>,
}

pub(crate) fn run(
    client: Client,
    config: Config,
    shared: Arc<Shared>,
    mode: Mode,
) -> Result<PoolSummary> {
    let started = Instant::now();
    {
        let shared = Arc::downgrade(&shared);
        client.on_insert(move |_| {
            if let Some(shared) = shared.upgrade() {
                shared.wake();
            }
        });
    }

    let (job_tx, job_rx) = bounded::<Vec<Dispatched>>(0);
    let (event_tx, event_rx) = unbounded::<Event>();
    let (done_tx, done_rx) = bounded::<Vec<DeferredCompletion>>(256);
    let mut threads = Threads {
        workers: Vec::new(),
        completer: None,
        helpers: Vec::new(),
    };

    let started_threads = start_threads(
        &client,
        &config,
        &shared,
        &mut threads,
        job_rx,
        &event_tx,
        done_tx,
        done_rx,
    );
    drop(event_tx);
    let stopped = match started_threads {
        Ok(()) => {
            let mut dispatcher =
                Dispatcher::new(&client, &config, &shared, mode, &job_tx, &event_rx);
            let stopped = dispatcher.run();
            let (alive, _) = dispatcher.workers();
            Ok((stopped, alive))
        }
        Err(e) => Err(e),
    };
    shared.request_stop();
    drop(job_tx);

    let alive = match &stopped {
        Ok((_, alive)) => *alive,
        Err(_) => threads.workers.len(),
    };
    let abandoned = stop_workers(&config, &mut threads, &event_rx, alive);
    if let Some((stop, handle)) = threads.completer.take() {
        drop(stop);
        join(handle, "completer");
    }
    for handle in threads.helpers.drain(..) {
        join(handle, "helper");
    }
    let summary = shared.stats.summary(abandoned, started.elapsed());
    log::info!("worker pool stopped: {summary}");
    match stopped? {
        (Stopped::Shutdown | Stopped::Done, _) => Ok(summary),
        (Stopped::StoreFailed(e), _) => Err(Error::store(e)),
        (Stopped::NoWorkers, _) => Err(Error::panicked("every worker thread ended")),
    }
}

#[allow(clippy::too_many_arguments)]
fn start_threads(
    client: &Client,
    config: &Config,
    shared: &Arc<Shared>,
    threads: &mut Threads,
    job_rx: Receiver<Vec<Dispatched>>,
    event_tx: &Sender<Event>,
    done_tx: Sender<Vec<DeferredCompletion>>,
    done_rx: Receiver<Vec<DeferredCompletion>>,
) -> Result<()> {
    let prefix = &config.thread_name;
    // Build every worker before spawning any (scoreboards may fail).
    let boards = scoreboards(client, config)?;
    for (index, board) in boards.into_iter().enumerate() {
        let worker = WorkerThread {
            index,
            client: client.clone(),
            shared: Arc::clone(shared),
            jobs: job_rx.clone(),
            events: event_tx.clone(),
            done: done_tx.clone(),
            board,
            track_leases: config.lease_extension == LeaseExtension::Auto,
        };
        let name = format!("{prefix}-{index}");
        let handle = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || worker.run())
            .map_err(|e| Error::spawn(format!("thread {name}"), e))?;
        threads.workers.push(handle);
    }
    drop(done_tx);

    let (stop_tx, stop_rx) = bounded::<()>(0);
    let completer = Completer {
        client: client.clone(),
        shared: Arc::clone(shared),
        rx: done_rx,
        stop: stop_rx,
        max: config.completion_batch,
        delay: config.completion_delay,
    };
    let name = format!("{prefix}-completer");
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || completer.run())
        .map_err(|e| Error::spawn(format!("thread {name}"), e))?;
    threads.completer = Some((stop_tx, handle));

    let extend = config.lease_extension == LeaseExtension::Auto;
    if extend || config.housekeeping != Housekeeping::Off {
        let keeper = Housekeeper {
            client: client.clone(),
            shared: Arc::clone(shared),
            extend,
            housekeeping: config.housekeeping,
        };
        let name = format!("{prefix}-housekeeper");
        let handle = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || keeper.run())
            .map_err(|e| Error::spawn(format!("thread {name}"), e))?;
        threads.helpers.push(handle);
    }

    if config.notifications == Notifications::Listen {
        let mut n = 0;
        for hash in client.store_hashes() {
            let Some(store) = client.store(&hash) else {
                continue;
            };
            let notifier = match store.notifier() {
                Ok(Some(notifier)) => notifier,
                Ok(None) => continue,
                Err(e) => {
                    log::warn!(
                        "cannot listen for new jobs on {}: {e}; polling only",
                        store.describe()
                    );
                    continue;
                }
            };
            let listener = Listener {
                store,
                notifier: Some(notifier),
                shared: Arc::clone(shared),
            };
            let name = format!("{prefix}-listener-{n}");
            n += 1;
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || listener.run())
                .map_err(|e| Error::spawn(format!("thread {name}"), e))?;
            threads.helpers.push(handle);
        }
    }
    Ok(())
}

/// One scoreboard per worker thread when the client has scoreboards on:
/// `<dir>/theschwartz/<client's file name>.<thread index>`.
fn scoreboards(client: &Client, config: &Config) -> Result<Vec<Option<Scoreboard>>> {
    let (Some(base), Some(path)) = (client.scoreboard_base_dir(), client.scoreboard_path()) else {
        return Ok((0..config.threads).map(|_| None).collect());
    };
    let stem = path.file_name().map_or_else(
        || format!("scoreboard.{}", std::process::id()),
        |s| s.to_string_lossy().into_owned(),
    );
    (0..config.threads)
        .map(|i| {
            Scoreboard::create(&base, &format!("{stem}.{i}"))
                .map(Some)
                .map_err(Error::store)
        })
        .collect()
}

/// Waits up to the grace period for the workers to end; joins those that did and leaves
/// the others behind. Returns how many were left behind.
fn stop_workers(
    config: &Config,
    threads: &mut Threads,
    events: &Receiver<Event>,
    alive: usize,
) -> u64 {
    let deadline = Instant::now() + config.shutdown_grace;
    let mut remaining = alive.min(threads.workers.len());
    while remaining > 0 {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match events.recv_timeout(deadline - now) {
            Ok(Event::Exited { .. }) => remaining -= 1,
            Ok(Event::Finished { .. }) => {}
            Err(_) => break,
        }
    }
    let mut abandoned = 0;
    for handle in threads.workers.drain(..) {
        if remaining > 0 && !handle.is_finished() {
            abandoned += 1;
            continue;
        }
        join(handle, "worker");
    }
    if abandoned > 0 {
        log::warn!(
            "{abandoned} worker threads still run a job after the {:?} grace period; leaving them behind (their jobs run again once their leases expire, unless they finish first)",
            config.shutdown_grace
        );
    }
    abandoned
}

fn join(handle: JoinHandle<()>, what: &str) {
    if let Err(panic) = handle.join() {
        log::error!(
            "a {what} thread panicked: {}",
            schwartz_core::panic::message(&*panic)
        );
    }
}

fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---- worker threads ---------------------------------------------------------------------

struct WorkerThread {
    index: usize,
    client: Client,
    shared: Arc<Shared>,
    jobs: Receiver<Vec<Dispatched>>,
    events: Sender<Event>,
    done: Sender<Vec<DeferredCompletion>>,
    board: Option<Scoreboard>,
    track_leases: bool,
}

/// Tells the dispatcher that the thread ended, however it ended.
struct ExitGuard {
    events: Sender<Event>,
    busy: bool,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let _ = self.events.send(Event::Exited { busy: self.busy });
    }
}

impl WorkerThread {
    fn run(self) {
        let mut guard = ExitGuard {
            events: self.events.clone(),
            busy: false,
        };
        let mut completions = Vec::new();
        while let Ok(chunk) = self.jobs.recv() {
            guard.busy = true;
            let mut new_work = false;
            let mut unstarted = Vec::new();
            for d in chunk {
                if self.shared.stopping() {
                    unstarted.push(d.job);
                    continue;
                }
                new_work |= self.work_one(d, &mut completions);
            }
            dispatcher::release(&self.client, &self.shared.stats, unstarted);
            self.send_completions(&mut completions);
            guard.busy = false;
            let _ = self.events.send(Event::Finished { new_work });
        }
    }

    /// Runs one job; true when its outcome made jobs eligible.
    fn work_one(&self, d: Dispatched, completions: &mut Vec<DeferredCompletion>) -> bool {
        let stats = &self.shared.stats;
        let job = d.job;
        let jobid = job.jobid();
        if self.track_leases {
            *lock(&self.shared.slots[self.index]) = Some(Running {
                job: job.clone(),
                lease_from: d.grabbed_at,
                grab_for: d.grab_for,
            });
        }
        if let Some(board) = &self.board {
            let grab_for = i64::try_from(d.grab_for.as_secs()).unwrap_or(i64::MAX);
            let started = job.grabbed_until().timestamp().saturating_sub(grab_for);
            if let Err(e) = board.start(job.funcname(), started, job.raw_arg()) {
                log::warn!("{e}");
            }
        }
        let result = catch_unwind(AssertUnwindSafe(|| self.client.work_deferred(job)));
        if self.track_leases {
            *lock(&self.shared.slots[self.index]) = None;
        }
        if let Some(board) = &self.board {
            if let Err(e) = board.end(epoch_now()) {
                log::warn!("{e}");
            }
        }
        match result {
            Ok(Ok((outcome, deferred))) => match outcome {
                WorkOutcome::Completed => {
                    match deferred {
                        Some(c) => completions.push(c),
                        None => Stats::add(&stats.completed, 1),
                    }
                    false
                }
                WorkOutcome::Failed { will_retry: true } => {
                    Stats::add(&stats.retried, 1);
                    true
                }
                WorkOutcome::Failed { will_retry: false } => {
                    Stats::add(&stats.failed, 1);
                    false
                }
                WorkOutcome::Declined => {
                    Stats::add(&stats.declined, 1);
                    false
                }
                WorkOutcome::Replaced => {
                    Stats::add(&stats.replaced, 1);
                    true
                }
                WorkOutcome::LeaseLost => {
                    Stats::add(&stats.lease_lost, 1);
                    log::warn!("job {jobid}: its lease was taken over by another worker while it ran; its outcome was not written");
                    false
                }
            },
            Ok(Err(e)) => {
                if matches!(e, schwartz_core::Error::LeaseLost { .. }) {
                    Stats::add(&stats.lease_lost, 1);
                    log::warn!("{e}");
                } else {
                    Stats::add(&stats.errors, 1);
                    log::error!("job {jobid}: its outcome could not be written (it runs again once its lease expires): {e}");
                }
                false
            }
            Err(panic) => {
                Stats::add(&stats.errors, 1);
                log::error!(
                    "job {jobid}: working it panicked outside the job: {}",
                    schwartz_core::panic::message(&*panic)
                );
                false
            }
        }
    }

    fn send_completions(&self, completions: &mut Vec<DeferredCompletion>) {
        if completions.is_empty() {
            return;
        }
        let batch = std::mem::take(completions);
        if let Err(e) = self.done.send(batch) {
            // The completer is gone (a worker outliving the grace period): write directly.
            write_completions(&self.client, &self.shared.stats, e.into_inner());
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---- completer ----------------------------------------------------------------------------

struct Completer {
    client: Client,
    shared: Arc<Shared>,
    rx: Receiver<Vec<DeferredCompletion>>,
    stop: Receiver<()>,
    max: usize,
    delay: Duration,
}

impl Completer {
    fn run(self) {
        let mut pending: Vec<DeferredCompletion> = Vec::new();
        let mut oldest = Instant::now();
        loop {
            let timeout = if pending.is_empty() {
                Duration::from_secs(3600)
            } else {
                (oldest + self.delay).saturating_duration_since(Instant::now())
            };
            select! {
                recv(self.rx) -> msg => match msg {
                    Ok(batch) => {
                        if pending.is_empty() {
                            oldest = Instant::now();
                        }
                        pending.extend(batch);
                        if pending.len() >= self.max {
                            self.flush(&mut pending);
                        }
                    }
                    Err(_) => break,
                },
                recv(self.stop) -> _ => break,
                default(timeout) => self.flush(&mut pending),
            }
        }
        while let Ok(batch) = self.rx.try_recv() {
            pending.extend(batch);
        }
        self.flush(&mut pending);
    }

    fn flush(&self, pending: &mut Vec<DeferredCompletion>) {
        while !pending.is_empty() {
            let n = pending.len().min(self.max);
            let rest = pending.split_off(n);
            let batch = std::mem::replace(pending, rest);
            write_completions(&self.client, &self.shared.stats, batch);
        }
    }
}

fn write_completions(client: &Client, stats: &Stats, items: Vec<DeferredCompletion>) {
    let n = items.len() as u64;
    let started = Instant::now();
    match client.complete_deferred(items) {
        Ok(results) => {
            log::trace!("wrote {n} completions in {:?}", started.elapsed());
            let mut done = 0;
            for (handle, result) in results {
                match result {
                    Ok(()) => done += 1,
                    Err(e @ schwartz_core::Error::LeaseLost { .. }) => {
                        Stats::add(&stats.lease_lost, 1);
                        log::warn!("job {handle}: {e}");
                    }
                    Err(e) => {
                        Stats::add(&stats.errors, 1);
                        log::error!("job {handle}: its completion could not be written (it runs again once its lease expires): {e}");
                    }
                }
            }
            Stats::add(&stats.completed, done);
        }
        Err(e) => {
            Stats::add(&stats.errors, n);
            log::error!("{n} completions could not be written (those jobs run again once their leases expire): {e}");
        }
    }
}

// ---- housekeeper --------------------------------------------------------------------------

struct Housekeeper {
    client: Client,
    shared: Arc<Shared>,
    extend: bool,
    housekeeping: Housekeeping,
}

impl Housekeeper {
    fn run(self) {
        let tick = match self.housekeeping {
            _ if self.extend => LEASE_TICK,
            Housekeeping::Prune { interval, .. } => interval.min(Duration::from_secs(1)),
            Housekeeping::Off => return,
        };
        let mut next_prune = match self.housekeeping {
            Housekeeping::Prune { interval, .. } => Some(Instant::now() + interval),
            Housekeeping::Off => None,
        };
        loop {
            if self.shared.stop_signal.wait_timeout(tick) {
                return;
            }
            if self.extend {
                self.extend_leases();
            }
            if let (Some(due), Housekeeping::Prune { interval, limit }) =
                (next_prune, self.housekeeping)
            {
                if Instant::now() >= due {
                    match self.client.prune(limit) {
                        Ok(r) => log::debug!(
                            "pruned {} errors and {} exit statuses",
                            r.errors,
                            r.exit_statuses
                        ),
                        Err(e) => log::warn!("pruning failed: {e}"),
                    }
                    next_prune = Some(Instant::now() + interval);
                }
            }
        }
    }

    fn extend_leases(&self) {
        for slot in &self.shared.slots {
            let mut guard = lock(slot);
            let Some(running) = guard.as_mut() else {
                continue;
            };
            if running.lease_from.elapsed() < extend_after(running.grab_for) {
                continue;
            }
            let jobid = running.job.jobid();
            match running.job.extend_lease(running.grab_for) {
                Ok(()) => {
                    running.lease_from = Instant::now();
                    log::debug!("job {jobid}: lease extended by {:?}", running.grab_for);
                }
                Err(e @ schwartz_core::Error::LeaseLost { .. }) => {
                    log::warn!("job {jobid}: cannot extend its lease: {e}");
                    // Stop trying: the job belongs to someone else now.
                    *guard = None;
                }
                Err(e) => log::warn!("job {jobid}: extending its lease failed (retrying): {e}"),
            }
        }
    }
}

/// When a running job's lease gets extended: at half its length, and early enough that
/// the store's whole-second clock (a lease may really be up to a second shorter than
/// `grab_for`) and the housekeeper's tick cannot let it expire first.
fn extend_after(grab_for: Duration) -> Duration {
    (grab_for / 2)
        .min(grab_for.saturating_sub(Duration::from_millis(1500)))
        .max(grab_for / 4)
}

// ---- listener -----------------------------------------------------------------------------

struct Listener {
    store: Arc<dyn Store>,
    notifier: Option<Box<dyn Notifier>>,
    shared: Arc<Shared>,
}

impl Listener {
    fn run(mut self) {
        while !self.shared.stopping() {
            let Some(notifier) = self.notifier.as_mut() else {
                match self.store.notifier() {
                    Ok(Some(n)) => {
                        self.notifier = Some(n);
                        // Jobs may have arrived while not listening.
                        self.shared.wake();
                    }
                    Ok(None) => return,
                    Err(e) => {
                        log::warn!(
                            "listening on {} failed: {e}; retrying",
                            self.store.describe()
                        );
                        if self.shared.stop_signal.wait_timeout(Duration::from_secs(1)) {
                            return;
                        }
                    }
                }
                continue;
            };
            match notifier.wait(LISTEN_WAIT) {
                Ok(true) => self.shared.wake(),
                Ok(false) => {}
                Err(e) => {
                    log::warn!(
                        "listening on {} failed: {e}; reconnecting",
                        self.store.describe()
                    );
                    self.notifier = None;
                    if self
                        .shared
                        .stop_signal
                        .wait_timeout(Duration::from_millis(500))
                    {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_extended_early_enough() {
        let s = Duration::from_secs;
        assert_eq!(extend_after(s(3600)), s(1800));
        assert_eq!(extend_after(s(4)), s(2));
        assert_eq!(extend_after(s(2)), Duration::from_millis(500));
        assert_eq!(extend_after(s(1)), Duration::from_millis(250));
    }
}
