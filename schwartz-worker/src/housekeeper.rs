//! The housekeeper thread: extends the leases of long-running jobs (at half their
//! length), inserts the due ticks of the pool's schedules (`schedule.rs`), and prunes old
//! errors, expired exit statuses and expired results on its interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use schwartz_core::Client;

use crate::config::Housekeeping;
use crate::schedule::SCHEDULE_TICK;
use crate::shared::{lock, Shared};

/// How often the housekeeper looks at running jobs' leases.
const LEASE_TICK: Duration = Duration::from_millis(200);

pub(crate) struct Housekeeper {
    client: Client,
    shared: Arc<Shared>,
    extend: bool,
    housekeeping: Housekeeping,
    schedules: Vec<schwartz_core::Schedule>,
}

impl Housekeeper {
    pub(crate) fn new(
        client: Client,
        shared: Arc<Shared>,
        extend: bool,
        housekeeping: Housekeeping,
    ) -> Self {
        Housekeeper {
            client,
            shared,
            extend,
            housekeeping,
            schedules: Vec::new(),
        }
    }

    /// The schedules whose due ticks this housekeeper inserts.
    pub(crate) fn with_schedules(mut self, schedules: Vec<schwartz_core::Schedule>) -> Self {
        self.schedules = schedules;
        self
    }

    /// Extends leases and prunes until shutdown.
    pub(crate) fn keep_house(self) {
        let tick = match self.housekeeping {
            _ if self.extend => LEASE_TICK,
            Housekeeping::Prune { interval, .. } => interval.min(Duration::from_secs(1)),
            Housekeeping::Off if !self.schedules.is_empty() => SCHEDULE_TICK,
            Housekeeping::Off => return,
        };
        let tick = match self.schedules.is_empty() {
            true => tick,
            false => tick.min(SCHEDULE_TICK),
        };
        let mut next_prune = match self.housekeeping {
            Housekeeping::Prune { interval, .. } => Some(Instant::now() + interval),
            Housekeeping::Off => None,
        };
        let mut next_schedules = Instant::now();
        loop {
            if self.shared.stop_signal.wait_timeout(tick) {
                return;
            }
            if self.extend {
                self.extend_leases();
            }
            if !self.schedules.is_empty() && Instant::now() >= next_schedules {
                crate::schedule::run_due(&self.client, &self.schedules);
                next_schedules = Instant::now() + SCHEDULE_TICK;
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
                    match self.client.prune_results(limit) {
                        Ok(n) => log::debug!("pruned {n} results"),
                        Err(e) => log::warn!("pruning results failed: {e}"),
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
            let grab_for = running.job.grab_for();
            if running.lease_from.elapsed() < extend_after(grab_for) {
                continue;
            }
            let jobid = running.job.jobid();
            let result = running.job.extend_lease(grab_for);
            crate::metrics::lease_extension(match &result {
                Ok(()) => "ok",
                Err(e) => crate::worker::lease_error(e),
            });
            match result {
                Ok(()) => {
                    running.lease_from = lease_start(&running.job, grab_for);
                    log::debug!("job {jobid}: lease extended by {grab_for:?}");
                }
                Err(e @ schwartz_core::Error::Cancelled { .. }) => {
                    log::info!("job {jobid}: {e}");
                    // Its lease is revoked: nothing to extend any more.
                    *guard = None;
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

/// Where a lease of exactly `grab_for` would have started, given what is left of the job's
/// lease by the store's clock: the next extension is due `extend_after(grab_for)` after it.
/// (Whole-second tokens make a lease up to a second shorter or longer than `grab_for`.)
pub(crate) fn lease_start(job: &schwartz_core::QueuedJob, grab_for: Duration) -> Instant {
    let now = Instant::now();
    let left = job.lease_remaining();
    if left >= grab_for {
        now.checked_add(left - grab_for).unwrap_or(now)
    } else {
        now.checked_sub(grab_for - left).unwrap_or(now)
    }
}

/// When a running job's lease gets extended: at half its length, and early enough that
/// the store's whole-second clock (a lease may really be up to a second shorter than
/// `grab_for`) and the housekeeper's tick cannot let it expire first.
pub(crate) fn extend_after(grab_for: Duration) -> Duration {
    (grab_for / 2)
        .min(grab_for.saturating_sub(Duration::from_millis(1500)))
        .max(grab_for / 4)
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
