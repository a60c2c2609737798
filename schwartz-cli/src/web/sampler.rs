//! The charts' numbers: every `--sample-every` seconds the server reads the overview's
//! numbers (`cmd::queues::summaries`) and the new `error` rows of each database
//! (`Store::failures_from`, the call behind `schwartz errors --follow`) and keeps an hour of
//! samples in a ring buffer in memory.
//!
//! Throughput is derived: the store keeps no count of finished jobs, so a sample's
//! `drained_per_min` is how much the backlog (due + scheduled + running, over every
//! function and database) fell since the previous sample, per minute, and 0 when it grew.
//! It is the net drain: jobs inserted while others finish hide as many finished jobs.
//! `errors_per_min` counts the `error` rows written between two samples.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use schwartz_core::Epoch;
use serde::Serialize;

use super::Shared;
use crate::cmd::queues::{merge, summaries};

/// Samples are kept this long (seconds).
pub const WINDOW: i64 = 3600;

/// One sample.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    /// Unix seconds (this machine's clock).
    pub time: Epoch,
    /// Due jobs, every function and database.
    pub due: u64,
    /// Scheduled jobs.
    pub scheduled: u64,
    /// Running (leased) jobs.
    pub running: u64,
    /// The backlog's fall since the previous sample, per minute (0 when it grew).
    pub drained_per_min: f64,
    /// `error` rows written since the previous sample, per minute.
    pub errors_per_min: f64,
    /// Databases that did not answer this sample.
    pub databases_down: usize,
}

/// The ring buffer of samples.
#[derive(Debug)]
pub struct History {
    /// Time between samples.
    pub every: Duration,
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    /// An empty history sampled every `every`.
    pub fn new(every: Duration) -> History {
        History {
            every,
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// The samples of the last hour, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Adds a sample and forgets those older than [`WINDOW`].
    fn push(&self, s: Sample) {
        if let Ok(mut q) = self.samples.lock() {
            let floor = s.time - WINDOW;
            q.push_back(s);
            while q.front().is_some_and(|x| x.time < floor) {
                q.pop_front();
            }
        }
    }
}

/// Samples until the process ends.
pub async fn run(state: Shared) {
    let mut tick = tokio::time::interval(state.history.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Per database hash: where the next error window starts, and how many rows at that
    // very second were there before sampling began (not new, not to be counted).
    let mut cursors: HashMap<String, (Epoch, usize)> = HashMap::new();
    let mut prev: Option<(Epoch, u64)> = None;
    loop {
        tick.tick().await;
        let limit = state.limit();
        let c = cursors.clone();
        let got = state
            .blocking(move |dbs| {
                let per_db = summaries(dbs, limit);
                let merged = merge(&per_db);
                let mut cursors = c;
                let mut errors = 0usize;
                for (db, (now, _)) in &per_db {
                    let key = db.hash.to_string();
                    let Ok(rows) = db.store.failures_from(
                        cursors.get(&key).map_or(*now, |c| c.0),
                        None,
                        100_000,
                    ) else {
                        continue;
                    };
                    match cursors.get(&key) {
                        // Rows with from <= error_time < now are new since the last sample.
                        Some(&(_, known)) => {
                            let n = rows.iter().filter(|r| r.error_time < *now).count();
                            errors += n.saturating_sub(known);
                            cursors.insert(key, (*now, 0));
                        }
                        // The first sample: rows of this second were there before.
                        None => {
                            cursors.insert(key, (*now, rows.len()));
                        }
                    }
                }
                (merged, errors, cursors)
            })
            .await;
        let Ok(((merged, errors, new_cursors), statuses)) = got else {
            continue;
        };
        cursors = new_cursors;
        if !statuses.iter().any(|s| s.ok) {
            // No database answered: no numbers (a gap, not a fall to zero).
            continue;
        }
        let now = chrono::Utc::now().timestamp();
        let (due, scheduled, running) = merged.values().fold((0, 0, 0), |a, q| {
            (a.0 + q.due, a.1 + q.scheduled, a.2 + q.running)
        });
        let backlog = due + scheduled + running;
        let (drained, errors_per_min) = match prev {
            Some((t, b)) if now > t => {
                let mins = (now - t) as f64 / 60.0;
                (
                    b.saturating_sub(backlog) as f64 / mins,
                    errors as f64 / mins,
                )
            }
            _ => (0.0, 0.0),
        };
        prev = Some((now, backlog));
        state.history.push(Sample {
            time: now,
            due,
            scheduled,
            running,
            drained_per_min: drained,
            errors_per_min,
            databases_down: statuses.iter().filter(|s| !s.ok).count(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_hour() {
        let h = History::new(Duration::from_secs(10));
        for t in [0, 1000, 3000, 4000, 4600] {
            h.push(Sample {
                time: t,
                due: 0,
                scheduled: 0,
                running: 0,
                drained_per_min: 0.0,
                errors_per_min: 0.0,
                databases_down: 0,
            });
        }
        let times: Vec<Epoch> = h.samples().iter().map(|s| s.time).collect();
        assert_eq!(times, vec![1000, 3000, 4000, 4600]);
    }
}
