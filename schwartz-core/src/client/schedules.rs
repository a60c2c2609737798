//! Periodic jobs on the client: registering a [`Schedule`], inserting its due ticks
//! exactly once (the store's compare-and-set on `schwartz_schedule.last_tick`), and
//! listing the schedules with their next runs.
//!
//! A schedule lives in one home store, chosen by rendezvous hashing on its name (dead
//! stores included): a tick is never inserted elsewhere while the home store is down, so
//! "once" holds across stores; the ticks it misses meanwhile follow the schedule's
//! [`Missed`] policy.

use chrono::{DateTime, Utc};

use super::stores::rendezvous_order;
use super::{ceil_secs, Client};
use crate::error::Result;
use crate::handle::JobHandle;
use crate::ids::{epoch_to_datetime, Epoch, StoreHash};
use crate::schedule::{CronSpec, Missed, Schedule, MAX_TICKS_PER_RUN};
use crate::store::{ScheduleRow, TickInsert};

/// The "function name" schedules are hashed with to find their home store.
const HOME_KEY: &str = "schwartz_schedule";

/// A registered schedule as the database knows it, with its next runs
/// ([`Client::schedules`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    /// The store holding it.
    pub store: StoreHash,
    /// The schedule's name.
    pub name: String,
    /// The function its ticks run.
    pub funcname: String,
    /// The spec as registered ([`CronSpec::spec`]).
    pub spec: String,
    /// The last tick recorded.
    pub last_tick: DateTime<Utc>,
    /// The next ticks after now, or after the last tick when that is later (empty when the
    /// stored spec no longer parses, see `spec_error`).
    pub next_runs: Vec<DateTime<Utc>>,
    /// Why the stored spec does not parse, if it does not.
    pub spec_error: Option<String>,
}

impl Client {
    /// The index of a schedule's home store.
    fn schedule_home(&self, name: &str) -> Result<usize> {
        let hashes: Vec<StoreHash> = self.ctx().stores.iter().map(|e| e.hash.clone()).collect();
        rendezvous_order(&hashes, HOME_KEY, name)
            .into_iter()
            .next()
            .ok_or_else(|| self.ctx().all_dead_error())
    }

    /// Registers `schedule` in its home store (the first registration records "now" as its
    /// last tick: ticks at or before it are never run); a later one updates its function
    /// and spec.
    ///
    /// # Errors
    /// The store's error; [`Error::InvalidInput`](crate::Error::InvalidInput) for a store
    /// that keeps no schedules.
    pub fn register_schedule(&self, schedule: &Schedule) -> Result<ScheduleRow> {
        let idx = self.schedule_home(schedule.name())?;
        let now = self.ctx().now_of(idx)?;
        let row = ScheduleRow {
            name: schedule.name().to_string(),
            funcname: schedule.job().funcname().to_string(),
            spec: schedule.spec(),
            last_tick: now,
        };
        self.entry(idx).store.register_schedule(&row)
    }

    /// Inserts the due ticks of `schedule` (registering it first when its home store does
    /// not know it): every tick since its last recorded one that is at most the grace
    /// period late, and, for older (missed) ticks, the last one when the policy is
    /// [`Missed::RunLast`] (else they are recorded as skipped). Each tick is inserted once
    /// however many clients run this at the same time. Returns the handles of the jobs this
    /// call inserted.
    ///
    /// # Errors
    /// The home store's error (the ticks are tried again on the next call), or the error of
    /// a tick's job (e.g. [`Error::DuplicateUniqkey`](crate::Error::DuplicateUniqkey) when
    /// the job has a uniqkey and the previous tick's job is still pending).
    pub fn run_schedule(&self, schedule: &Schedule) -> Result<Vec<JobHandle>> {
        let idx = self.schedule_home(schedule.name())?;
        let store = &self.entry(idx).store;
        let now = self.ctx().now_of(idx)?;
        let last = match store
            .schedules()?
            .into_iter()
            .find(|r| r.name == schedule.name())
        {
            Some(row) if row.spec == schedule.spec() => row.last_tick,
            _ => self.register_schedule(schedule)?.last_tick,
        };
        let mut handles = Vec::new();
        for (tick, run) in due_ticks(schedule, last, now) {
            let job = schedule.job().clone().run_after(epoch_to_datetime(tick));
            let rows = if run {
                self.ctx().new_rows(idx, std::slice::from_ref(&job), now)?
            } else {
                Vec::new()
            };
            match store.insert_tick(schedule.name(), tick, rows.first())? {
                TickInsert::Recorded(Some(id)) => {
                    log::debug!(
                        "schedule {}: tick {tick} inserted as job {id}",
                        schedule.name()
                    );
                    handles.push(JobHandle::new(self.entry(idx).hash.clone(), id));
                }
                TickInsert::Recorded(None) => {
                    log::info!("schedule {}: missed tick {tick} skipped", schedule.name());
                }
                TickInsert::Taken { .. } => {}
            }
        }
        if !handles.is_empty() {
            self.ctx().notify_insert(&self.entry(idx).hash);
        }
        Ok(handles)
    }

    /// The schedules registered in every live store, by name, each with its next `n` runs.
    ///
    /// # Errors
    /// The error of a store that cannot be read.
    pub fn schedules(&self, n: usize) -> Result<Vec<ScheduleInfo>> {
        let mut out = Vec::new();
        for idx in 0..self.ctx().stores.len() {
            if self.ctx().is_dead_idx(idx) {
                continue;
            }
            let entry = self.entry(idx);
            let now = self.ctx().now_of(idx)?;
            for row in entry.store.schedules()? {
                let (next_runs, spec_error) = match CronSpec::from_spec(&row.spec) {
                    Ok(c) => (
                        c.next_runs(epoch_to_datetime(now.max(row.last_tick)), n),
                        None,
                    ),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                out.push(ScheduleInfo {
                    store: entry.hash.clone(),
                    name: row.name,
                    funcname: row.funcname,
                    spec: row.spec,
                    last_tick: epoch_to_datetime(row.last_tick),
                    next_runs,
                    spec_error,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// The ticks to record after `last` at `now`, in order, each with whether its job runs:
/// the last missed tick (older than the grace period; run under [`Missed::RunLast`],
/// recorded as skipped otherwise), then every tick within the grace period.
pub(crate) fn due_ticks(schedule: &Schedule, last: Epoch, now: Epoch) -> Vec<(Epoch, bool)> {
    let cron = schedule.cron();
    let cutoff = now.saturating_sub(ceil_secs(schedule.grace_period()));
    let mut plan = Vec::new();
    if cutoff > last {
        if let Some(missed) = cron.last_tick_in(last, cutoff.saturating_sub(1)) {
            plan.push((missed, schedule.missed_policy() == Missed::RunLast));
        }
    }
    let from = last.max(cutoff.saturating_sub(1));
    plan.extend(
        cron.ticks_between(from, now, MAX_TICKS_PER_RUN)
            .into_iter()
            .map(|t| (t, true)),
    );
    plan
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::job::Job;

    fn every_10s(missed: Missed) -> Schedule {
        Schedule::new("s", "*/10 * * * * *", Job::new("f"))
            .unwrap()
            .missed(missed)
            .grace(Duration::from_secs(30))
    }

    #[test]
    fn on_time_ticks_all_run() {
        let s = every_10s(Missed::Skip);
        assert_eq!(
            due_ticks(&s, 1_000, 1_025),
            vec![(1_010, true), (1_020, true)]
        );
        assert!(due_ticks(&s, 1_020, 1_029).is_empty());
    }

    #[test]
    fn missed_ticks_follow_the_policy() {
        // Last tick 1000, now 2000: ticks up to 1969 are missed; 1970..=2000 are on time.
        let skip = due_ticks(&every_10s(Missed::Skip), 1_000, 2_000);
        assert_eq!(
            skip,
            vec![
                (1_960, false),
                (1_970, true),
                (1_980, true),
                (1_990, true),
                (2_000, true)
            ]
        );
        let last = due_ticks(&every_10s(Missed::RunLast), 1_000, 2_000);
        assert_eq!(last[0], (1_960, true));
        assert_eq!(last.len(), 5);
    }
}
