//! A worker thread: takes chunks of grabbed jobs from the dispatcher, runs each with the
//! core's executor and hands the outcomes to the completer, one batch per chunk.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use schwartz_core::executor::execute;
use schwartz_core::outcome::{Outcome, OutcomeWriter};
use schwartz_core::scoreboard::Scoreboard;
use schwartz_core::{Client, QueuedJob, WorkOutcome};

use crate::completer::{count, give_up, write_outcomes, Handed};
use crate::dispatcher::{release, Dispatched, Event};
use crate::housekeeper::{extend_after, lease_start};
use crate::metrics::Meters;
use crate::shared::{lock, Running, Shared, Stats};

/// Collects the outcomes of one chunk for the completer (the batched writer), in the
/// thread's list in [`Shared::collected`], where the shutdown can write them.
struct Collect<'a> {
    list: &'a Mutex<Vec<Outcome>>,
    /// Outcomes written so far (the list may have been emptied by the shutdown).
    writes: Cell<usize>,
}

impl Collect<'_> {
    fn take(&self) -> Vec<Outcome> {
        std::mem::take(&mut *lock(self.list))
    }
}

impl OutcomeWriter for Collect<'_> {
    fn write(&self, outcome: Outcome) -> schwartz_core::Result<()> {
        lock(self.list).push(outcome);
        self.writes.set(self.writes.get() + 1);
        Ok(())
    }
}

/// One worker thread.
pub(crate) struct WorkerThread {
    index: usize,
    client: Client,
    shared: Arc<Shared>,
    jobs: Receiver<Vec<Dispatched>>,
    events: Sender<Event>,
    done: Sender<Handed>,
    board: Option<Scoreboard>,
    track_leases: bool,
    /// This thread's metric handles (job durations).
    meters: RefCell<Meters>,
    /// The last lease start worked out: jobs of one grab share their lease (same store,
    /// token and length), so the store's clock is read once per grab, not once per job.
    last_lease: RefCell<Option<LeaseKey>>,
}

/// A lease and where it started (see [`lease_start`]).
struct LeaseKey {
    store: schwartz_core::StoreHash,
    token: i64,
    grab_for: Duration,
    from: Instant,
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
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        index: usize,
        client: Client,
        shared: Arc<Shared>,
        jobs: Receiver<Vec<Dispatched>>,
        events: Sender<Event>,
        done: Sender<Handed>,
        board: Option<Scoreboard>,
        track_leases: bool,
    ) -> Self {
        WorkerThread {
            index,
            client,
            shared,
            jobs,
            events,
            done,
            board,
            track_leases,
            meters: RefCell::default(),
            last_lease: RefCell::new(None),
        }
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Serves chunks until the dispatcher drops its sender.
    pub(crate) fn serve(self) {
        let mut guard = ExitGuard {
            events: self.events.clone(),
            busy: false,
        };
        let collect = Collect {
            list: &self.shared.collected[self.index],
            writes: Cell::new(0),
        };
        while let Ok(chunk) = self.jobs.recv() {
            guard.busy = true;
            let mut new_work = false;
            let funcs: Vec<String> = chunk.iter().map(|d| d.job.funcname().to_string()).collect();
            let mut unstarted = Vec::new();
            // The chunk waits where the shutdown can release it (see `lifecycle.rs`).
            *lock(&self.shared.pending[self.index]) = chunk.into();
            loop {
                let Some(d) = lock(&self.shared.pending[self.index]).pop_front() else {
                    break;
                };
                if self.shared.stopping() {
                    unstarted.push(d.job);
                    continue;
                }
                new_work |= self.work_one(d, &collect);
            }
            release(&self.client, &self.shared.stats, unstarted);
            self.hand_over(collect.take());
            guard.busy = false;
            let _ = self.events.send(Event::Finished { new_work, funcs });
        }
    }

    /// Where the lease of `job` started ([`lease_start`]), remembered for the next job of
    /// the same lease.
    fn lease_start(&self, job: &QueuedJob, grab_for: Duration) -> Instant {
        let (store, token) = (job.handle().store(), job.fencing_token());
        let mut last = self.last_lease.borrow_mut();
        if let Some(k) = &*last {
            if k.token == token && k.grab_for == grab_for && k.store == *store {
                return k.from;
            }
        }
        let from = lease_start(job, grab_for);
        *last = Some(LeaseKey {
            store: store.clone(),
            token,
            grab_for,
            from,
        });
        from
    }

    /// Runs one job; true when an outcome written here made jobs eligible (a retry or a
    /// replacement the worker wrote itself; the completer wakes the dispatcher for the
    /// outcomes it writes).
    fn work_one(&self, d: Dispatched, collect: &Collect) -> bool {
        let stats = &self.shared.stats;
        let job = d.job;
        let jobid = job.jobid();
        let started = Instant::now();
        if self.track_leases {
            let grab_for = job.grab_for();
            let mut lease_from = self.lease_start(&job, grab_for);
            if started.saturating_duration_since(lease_from) >= extend_after(grab_for) {
                // A short lease may be nearly over already (whole-second tokens): extend it
                // before the job starts rather than at the housekeeper's next tick.
                match job.extend_lease(grab_for) {
                    Ok(()) => {
                        crate::metrics::lease_extension("ok");
                        lease_from = self.lease_start(&job, grab_for);
                    }
                    Err(e) => {
                        crate::metrics::lease_extension(lease_error(&e));
                        log::warn!("job {jobid}: extending its lease failed: {e}");
                    }
                }
            }
            *lock(&self.shared.slots[self.index]) = Some(Running {
                job: job.clone(),
                lease_from,
            });
        }
        let before = collect.writes.get();
        let this = job.clone();
        let result = schwartz_core::panic::catch(|| execute(job, collect, self.board.as_ref()));
        self.meters
            .borrow_mut()
            .duration(this.funcname(), started.elapsed());
        if self.track_leases {
            *lock(&self.shared.slots[self.index]) = None;
        }
        let handed_over = collect.writes.get() > before;
        match result {
            // The completer counts it once written.
            Ok(Ok(_)) if handed_over => false,
            Ok(Ok(outcome)) => {
                if outcome == WorkOutcome::LeaseLost {
                    log::warn!("job {jobid}: its lease was taken over by another worker while it ran; its outcome was not written");
                }
                count(stats, &mut lock(&stats.meters), this.funcname(), outcome);
                matches!(
                    outcome,
                    WorkOutcome::Failed { will_retry: true } | WorkOutcome::Replaced
                )
            }
            Ok(Err(e)) => {
                if matches!(e, schwartz_core::Error::LeaseLost { .. }) {
                    count(
                        stats,
                        &mut lock(&stats.meters),
                        this.funcname(),
                        WorkOutcome::LeaseLost,
                    );
                    log::warn!("{e}");
                } else if matches!(e, schwartz_core::Error::Cancelled { .. }) {
                    count(
                        stats,
                        &mut lock(&stats.meters),
                        this.funcname(),
                        WorkOutcome::Cancelled,
                    );
                    log::info!("{e}");
                } else {
                    Stats::add(&stats.errors, 1);
                    crate::metrics::store_error("outcome");
                    log::error!("job {jobid}: its outcome could not be decided or written (it runs again once its lease expires): {e}");
                }
                false
            }
            Err(panic) => {
                Stats::add(&stats.errors, 1);
                crate::metrics::store_error("outcome");
                log::error!("job {jobid}: working it panicked outside the job: {panic}");
                false
            }
        }
    }

    /// Hands a chunk's outcomes to the completer; writes them here when the completer is
    /// gone (a worker outliving the grace period).
    fn hand_over(&self, outcomes: Vec<Outcome>) {
        if outcomes.is_empty() {
            return;
        }
        let handed = Handed::new(outcomes);
        let new_work = handed.new_work;
        if new_work {
            self.shared.unwritten.fetch_add(1, Ordering::SeqCst);
        }
        if let Err(e) = self.done.send(handed) {
            let again = write_outcomes(&self.shared, e.into_inner().outcomes);
            give_up(&self.shared.stats, again);
            if new_work {
                self.shared.unwritten.fetch_sub(1, Ordering::SeqCst);
                self.shared.wake();
            }
        }
    }
}

/// The `result` label of a failed lease extension.
pub(crate) fn lease_error(e: &schwartz_core::Error) -> &'static str {
    if matches!(e, schwartz_core::Error::LeaseLost { .. }) {
        "lost"
    } else if matches!(e, schwartz_core::Error::Cancelled { .. }) {
        "cancelled"
    } else {
        "error"
    }
}
