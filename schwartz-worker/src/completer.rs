//! The completer thread: writes the outcomes the workers decided, in batches (one
//! `Store::finish` call per store and batch), as soon as `completion_batch` are waiting or
//! the oldest has waited `completion_delay`. The bounded queue in front of it applies
//! back-pressure; a worker whose completer is gone writes its outcomes itself. Outcomes
//! whose write failed with a connection error are written again every
//! [`COMPLETION_RETRY`] while their lease lasts (fenced on it, so a retry is always safe).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use schwartz_core::outcome::{apply, Outcome};
use schwartz_core::WorkOutcome;

use crate::config::Config;
use crate::metrics::Meters;
use crate::shared::{lock, Shared, Stats};

/// Outcomes whose write failed with a connection error are written again this often...
const COMPLETION_RETRY: Duration = Duration::from_millis(250);
/// ... while more than this is left of their lease (after that the job runs again).
const COMPLETION_LEASE_MARGIN: Duration = Duration::from_secs(1);
/// How long a stopping completer keeps retrying.
const COMPLETION_RETRY_AT_STOP: Duration = Duration::from_secs(5);

/// A worker's outcomes of one chunk, on their way to the completer.
pub(crate) struct Handed {
    pub(crate) outcomes: Vec<Outcome>,
    /// Whether one of them makes a job eligible again once written (a retry): the
    /// dispatcher counts such batches as work in progress ([`Shared::unwritten`]).
    pub(crate) new_work: bool,
}

impl Handed {
    pub(crate) fn new(outcomes: Vec<Outcome>) -> Self {
        let new_work = outcomes.iter().any(|o| {
            matches!(
                o.kind(),
                WorkOutcome::Failed { will_retry: true } | WorkOutcome::Replaced
            )
        });
        Handed { outcomes, new_work }
    }
}

/// The completer thread.
pub(crate) struct Completer {
    shared: Arc<Shared>,
    rx: Receiver<Handed>,
    stop: Receiver<()>,
    max: usize,
    delay: Duration,
}

impl Completer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: Receiver<Handed>,
        stop: Receiver<()>,
        config: &Config,
    ) -> Self {
        Completer {
            shared,
            rx,
            stop,
            max: config.completion_batch,
            delay: config.completion_delay,
        }
    }

    /// Writes outcomes until stopped (or every worker is gone), then writes what is left.
    pub(crate) fn complete(self) {
        let mut pending: Vec<Outcome> = Vec::new();
        // Batches with new work among the pending outcomes.
        let mut batches = 0usize;
        let mut oldest = Instant::now();
        // Outcomes to write again after a connection error, and when.
        let mut retry = Retry::default();
        loop {
            let mut timeout = if pending.is_empty() {
                Duration::from_secs(3600)
            } else {
                (oldest + self.delay).saturating_duration_since(Instant::now())
            };
            if !retry.outcomes.is_empty() {
                if Instant::now() >= retry.at {
                    retry.again(&self.shared);
                }
                timeout = timeout.min(retry.at.saturating_duration_since(Instant::now()));
            }
            select! {
                recv(self.rx) -> msg => match msg {
                    Ok(handed) => {
                        if pending.is_empty() {
                            oldest = Instant::now();
                        }
                        pending.extend(handed.outcomes);
                        batches += usize::from(handed.new_work);
                        if pending.len() >= self.max {
                            self.flush(&mut pending, &mut batches, &mut retry);
                        }
                    }
                    Err(_) => break,
                },
                recv(self.stop) -> _ => break,
                default(timeout) => self.flush(&mut pending, &mut batches, &mut retry),
            }
        }
        while let Ok(handed) = self.rx.try_recv() {
            pending.extend(handed.outcomes);
            batches += usize::from(handed.new_work);
        }
        self.flush(&mut pending, &mut batches, &mut retry);
        let end = Instant::now() + COMPLETION_RETRY_AT_STOP;
        while !retry.outcomes.is_empty() && Instant::now() < end {
            std::thread::sleep(COMPLETION_RETRY);
            retry.again(&self.shared);
        }
        give_up(&self.shared.stats, std::mem::take(&mut retry.outcomes));
        retry.settle(&self.shared);
    }

    fn flush(&self, pending: &mut Vec<Outcome>, batches: &mut usize, retry: &mut Retry) {
        while !pending.is_empty() {
            let n = pending.len().min(self.max);
            let rest = pending.split_off(n);
            let batch = std::mem::replace(pending, rest);
            let again = write_outcomes(&self.shared, batch);
            if retry.outcomes.is_empty() && !again.is_empty() {
                retry.at = Instant::now() + COMPLETION_RETRY;
            }
            retry.outcomes.extend(again);
        }
        retry.settle(&self.shared);
        let written = std::mem::take(batches);
        if written > 0 {
            self.shared.unwritten.fetch_sub(written, Ordering::SeqCst);
            self.shared.wake();
        }
    }
}

/// Outcomes waiting to be written again after a connection error.
struct Retry {
    outcomes: Vec<Outcome>,
    /// When to write them again.
    at: Instant,
    /// Whether they count in [`Shared::unwritten`] (a retried job may be among them, so an
    /// empty grab does not mean "done" yet).
    counted: bool,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            outcomes: Vec::new(),
            at: Instant::now(),
            counted: false,
        }
    }
}

impl Retry {
    /// Writes the waiting outcomes again; keeps those that failed the same way.
    fn again(&mut self, shared: &Shared) {
        let outcomes = std::mem::take(&mut self.outcomes);
        self.outcomes = write_outcomes(shared, outcomes);
        self.at = Instant::now() + COMPLETION_RETRY;
        self.settle(shared);
    }

    /// Keeps [`Shared::unwritten`] in step with whether outcomes wait.
    fn settle(&mut self, shared: &Shared) {
        let waiting = !self.outcomes.is_empty();
        if waiting && !self.counted {
            shared.unwritten.fetch_add(1, Ordering::SeqCst);
        } else if !waiting && self.counted {
            shared.unwritten.fetch_sub(1, Ordering::SeqCst);
            shared.wake();
        }
        self.counted = waiting;
    }
}

/// Outcomes not written after all: their jobs run again once their leases expire.
pub(crate) fn give_up(stats: &Stats, outcomes: Vec<Outcome>) {
    for o in outcomes {
        Stats::add(&stats.errors, 1);
        crate::metrics::store_error("outcome");
        log::error!(
            "job {}: its outcome could not be written (it runs again once its lease expires)",
            o.job().handle()
        );
    }
}

/// Counts a written outcome (or one lost with its lease).
pub(crate) fn count(stats: &Stats, meters: &mut Meters, funcname: &str, outcome: WorkOutcome) {
    meters.outcome(funcname, outcome);
    let counter = match outcome {
        WorkOutcome::Completed => &stats.completed,
        WorkOutcome::Failed { will_retry: true } => &stats.retried,
        WorkOutcome::Failed { will_retry: false } => &stats.failed,
        WorkOutcome::Declined => &stats.declined,
        WorkOutcome::Replaced => &stats.replaced,
        WorkOutcome::LeaseLost => &stats.lease_lost,
        WorkOutcome::Cancelled => &stats.cancelled,
    };
    Stats::add(counter, 1);
}

/// Writes outcomes and counts them; returns those whose write failed with a connection
/// error while more than [`COMPLETION_LEASE_MARGIN`] of their lease is left, to be written
/// again.
pub(crate) fn write_outcomes(shared: &Shared, outcomes: Vec<Outcome>) -> Vec<Outcome> {
    let stats = &shared.stats;
    let n = outcomes.len();
    let started = Instant::now();
    let copies = outcomes.clone();
    let mut retry = Vec::new();
    let span = tracing::debug_span!("schwartz.complete", jobs = n);
    let _entered = span.enter();
    let applied = apply(outcomes);
    let mut meters = lock(&stats.meters);
    // `apply` reports each outcome in the order given.
    for (applied, copy) in applied.into_iter().zip(copies) {
        let funcname = copy.job().funcname();
        match applied.result {
            Ok(()) => count(stats, &mut meters, funcname, applied.kind),
            Err(e @ schwartz_core::Error::LeaseLost { .. }) => {
                count(stats, &mut meters, funcname, WorkOutcome::LeaseLost);
                log::warn!("job {}: {e}", applied.handle);
            }
            Err(e @ schwartz_core::Error::Cancelled { .. }) => {
                count(stats, &mut meters, funcname, WorkOutcome::Cancelled);
                log::info!("job {}: {e}", applied.handle);
            }
            Err(e @ schwartz_core::Error::Unavailable { .. })
                if copy.job().lease_remaining() > COMPLETION_LEASE_MARGIN =>
            {
                log::warn!(
                    "job {}: writing its outcome failed (retrying while its lease lasts): {e}",
                    applied.handle
                );
                retry.push(copy);
            }
            Err(e) => {
                Stats::add(&stats.errors, 1);
                crate::metrics::store_error("outcome");
                log::error!(
                    "job {}: its outcome could not be written (it runs again once its lease expires): {e}",
                    applied.handle
                );
            }
        }
    }
    log::trace!("wrote {n} outcomes in {:?}", started.elapsed());
    retry
}
