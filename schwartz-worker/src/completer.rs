//! The completer thread: writes the outcomes the workers decided, in batches (one
//! `Store::finish` call per store and batch), as soon as `completion_batch` are waiting or
//! the oldest has waited `completion_delay`. The bounded queue in front of it applies
//! back-pressure; a worker whose completer is gone writes its outcomes itself.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use schwartz_core::outcome::{apply, Outcome};
use schwartz_core::WorkOutcome;

use crate::config::Config;
use crate::shared::{Shared, Stats};

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
        loop {
            let timeout = if pending.is_empty() {
                Duration::from_secs(3600)
            } else {
                (oldest + self.delay).saturating_duration_since(Instant::now())
            };
            select! {
                recv(self.rx) -> msg => match msg {
                    Ok(handed) => {
                        if pending.is_empty() {
                            oldest = Instant::now();
                        }
                        pending.extend(handed.outcomes);
                        batches += usize::from(handed.new_work);
                        if pending.len() >= self.max {
                            self.flush(&mut pending, &mut batches);
                        }
                    }
                    Err(_) => break,
                },
                recv(self.stop) -> _ => break,
                default(timeout) => self.flush(&mut pending, &mut batches),
            }
        }
        while let Ok(handed) = self.rx.try_recv() {
            pending.extend(handed.outcomes);
            batches += usize::from(handed.new_work);
        }
        self.flush(&mut pending, &mut batches);
    }

    fn flush(&self, pending: &mut Vec<Outcome>, batches: &mut usize) {
        while !pending.is_empty() {
            let n = pending.len().min(self.max);
            let rest = pending.split_off(n);
            let batch = std::mem::replace(pending, rest);
            write_outcomes(&self.shared, batch);
        }
        let written = std::mem::take(batches);
        if written > 0 {
            self.shared.unwritten.fetch_sub(written, Ordering::SeqCst);
            self.shared.wake();
        }
    }
}

/// Counts a written outcome.
pub(crate) fn count(stats: &Stats, outcome: WorkOutcome) {
    let counter = match outcome {
        WorkOutcome::Completed => &stats.completed,
        WorkOutcome::Failed { will_retry: true } => &stats.retried,
        WorkOutcome::Failed { will_retry: false } => &stats.failed,
        WorkOutcome::Declined => &stats.declined,
        WorkOutcome::Replaced => &stats.replaced,
        WorkOutcome::LeaseLost => &stats.lease_lost,
    };
    Stats::add(counter, 1);
}

/// Writes outcomes and counts them.
pub(crate) fn write_outcomes(shared: &Shared, outcomes: Vec<Outcome>) {
    let stats = &shared.stats;
    let n = outcomes.len();
    let started = Instant::now();
    for applied in apply(outcomes) {
        match applied.result {
            Ok(()) => count(stats, applied.kind),
            Err(e @ schwartz_core::Error::LeaseLost { .. }) => {
                Stats::add(&stats.lease_lost, 1);
                log::warn!("job {}: {e}", applied.handle);
            }
            Err(e) => {
                Stats::add(&stats.errors, 1);
                log::error!(
                    "job {}: its outcome could not be written (it runs again once its lease expires): {e}",
                    applied.handle
                );
            }
        }
    }
    log::trace!("wrote {n} outcomes in {:?}", started.elapsed());
}
