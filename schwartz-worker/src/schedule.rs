//! Periodic jobs in the pool: the schedules registered on the builder
//! ([`WorkerPoolBuilder::schedule`](crate::WorkerPoolBuilder::schedule)) and the
//! housekeeper's pass that inserts their due ticks. Every pool running a schedule does
//! this; the store's compare-and-set on the schedule's last tick lets exactly one insert
//! each tick (see [`Client::run_schedule`]).

use std::collections::HashSet;
use std::time::Duration;

use schwartz_core::{Client, Schedule};

use crate::error::{Error, Result};

/// How often the housekeeper looks for due ticks (ticks are inserted at most this late).
pub(crate) const SCHEDULE_TICK: Duration = Duration::from_millis(500);

/// Checks that no two schedules share a name.
pub(crate) fn check_names(schedules: &[Schedule]) -> Result<()> {
    let mut seen = HashSet::new();
    for s in schedules {
        if !seen.insert(s.name()) {
            return Err(Error::config(format!(
                "two schedules are named {:?}: schedule names must be unique",
                s.name()
            )));
        }
    }
    Ok(())
}

/// Inserts the due ticks of every schedule; a failure is logged and retried next pass.
pub(crate) fn run_due(client: &Client, schedules: &[Schedule]) {
    for s in schedules {
        match client.run_schedule(s) {
            Ok(handles) if !handles.is_empty() => {
                log::debug!("schedule {}: inserted {} job(s)", s.name(), handles.len());
            }
            Ok(_) => {}
            Err(e) => log::warn!("schedule {}: cannot insert its due ticks: {e}", s.name()),
        }
    }
}
