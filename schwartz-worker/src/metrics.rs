//! What a pool reports through the [`metrics`] facade, so any exporter (Prometheus,
//! StatsD, OpenTelemetry, ...) sees it. Install the exporter's recorder before building the
//! pool: handles registered before a recorder exists stay no-ops, as the facade documents.
//! Without a recorder every call is a no-op costing a few nanoseconds.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `schwartz_jobs_total` | counter | `funcname`, `outcome` | jobs whose outcome was written (`completed`, `failed`, `retried`, `declined`, `replaced`) or not written because their lease was lost (`lease_lost`) or the job was cancelled (`cancelled`) |
//! | `schwartz_jobs_panicked_total` | counter | `funcname` | jobs whose worker panicked (also counted as `failed` or `retried`) |
//! | `schwartz_job_duration_seconds` | histogram | `funcname` | time to work a job and decide its outcome (the write is batched and not included) |
//! | `schwartz_grab_duration_seconds` | histogram | | time of one grab (a claim of up to `batch_size` jobs) |
//! | `schwartz_jobs_grabbed_total` | counter | | jobs grabbed |
//! | `schwartz_jobs_released_total` | counter | | grabbed jobs given back unstarted |
//! | `schwartz_lease_extensions_total` | counter | `result` | lease extensions: `ok`, `lost` (the job belongs to another worker now), `cancelled` (the job was cancelled) or `error` |
//! | `schwartz_store_errors_total` | counter | `operation` | store errors: `grab`, `outcome` (an outcome not written), `extend_lease`, `release` |
//!
//! The counters of `schwartz_jobs_total` add up to [`PoolSummary::worked`](crate::PoolSummary::worked)
//! for the jobs a pool ran.

use std::collections::HashMap;
use std::time::Duration;

use metrics::{Counter, Histogram};
use schwartz_core::outcome::WorkOutcome;

/// Counter of jobs by function and outcome.
pub const JOBS: &str = "schwartz_jobs_total";
/// Counter of jobs whose worker panicked, by function (counted by `schwartz-core`).
pub const JOBS_PANICKED: &str = schwartz_core::executor::PANICKED_METRIC;
/// Histogram of the time to work a job, by function, in seconds.
pub const JOB_DURATION: &str = "schwartz_job_duration_seconds";
/// Histogram of the time of one grab, in seconds.
pub const GRAB_DURATION: &str = "schwartz_grab_duration_seconds";
/// Counter of jobs grabbed.
pub const JOBS_GRABBED: &str = "schwartz_jobs_grabbed_total";
/// Counter of grabbed jobs given back unstarted.
pub const JOBS_RELEASED: &str = "schwartz_jobs_released_total";
/// Counter of lease extensions, by result (`ok`, `lost`, `cancelled`, `error`).
pub const LEASE_EXTENSIONS: &str = "schwartz_lease_extensions_total";
/// Counter of store errors, by operation (`grab`, `outcome`, `extend_lease`, `release`).
pub const STORE_ERRORS: &str = "schwartz_store_errors_total";

/// Every outcome label, in the order of [`FuncMeters::outcomes`].
const OUTCOMES: [WorkOutcome; 7] = [
    WorkOutcome::Completed,
    WorkOutcome::Failed { will_retry: false },
    WorkOutcome::Failed { will_retry: true },
    WorkOutcome::Declined,
    WorkOutcome::Replaced,
    WorkOutcome::LeaseLost,
    WorkOutcome::Cancelled,
];

fn index(outcome: WorkOutcome) -> usize {
    OUTCOMES
        .iter()
        .position(|o| *o == outcome)
        .unwrap_or(OUTCOMES.len() - 1)
}

/// The handles of one function, registered once.
struct FuncMeters {
    outcomes: [Counter; 7],
    duration: Histogram,
}

impl FuncMeters {
    fn new(funcname: &str) -> Self {
        let counter = |o: WorkOutcome| metrics::counter!(JOBS, "funcname" => funcname.to_owned(), "outcome" => o.label());
        FuncMeters {
            outcomes: OUTCOMES.map(counter),
            duration: metrics::histogram!(JOB_DURATION, "funcname" => funcname.to_owned()),
        }
    }
}

/// One thread's metric handles per function: a job costs a comparison with the last
/// function's name (a map lookup when the function changes), not a registration (labels
/// are allocated once per function and thread).
#[derive(Default)]
pub(crate) struct Meters {
    index: HashMap<String, usize>,
    funcs: Vec<(String, FuncMeters)>,
    last: usize,
}

impl Meters {
    fn func(&mut self, funcname: &str) -> &FuncMeters {
        if self
            .funcs
            .get(self.last)
            .is_none_or(|(name, _)| name != funcname)
        {
            self.last = match self.index.get(funcname) {
                Some(&i) => i,
                None => {
                    self.funcs
                        .push((funcname.to_owned(), FuncMeters::new(funcname)));
                    self.index.insert(funcname.to_owned(), self.funcs.len() - 1);
                    self.funcs.len() - 1
                }
            };
        }
        &self.funcs[self.last].1
    }

    /// Counts a job's outcome.
    pub(crate) fn outcome(&mut self, funcname: &str, outcome: WorkOutcome) {
        self.func(funcname).outcomes[index(outcome)].increment(1);
    }

    /// Records the time a job took.
    pub(crate) fn duration(&mut self, funcname: &str, took: Duration) {
        self.func(funcname).duration.record(took.as_secs_f64());
    }
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meters")
            .field("funcs", &self.funcs.len())
            .finish()
    }
}

/// Counts a store error of `operation`.
pub(crate) fn store_error(operation: &'static str) {
    metrics::counter!(STORE_ERRORS, "operation" => operation).increment(1);
}

/// Counts a lease extension with its result (`ok`, `lost`, `cancelled`, `error`).
pub(crate) fn lease_extension(result: &'static str) {
    metrics::counter!(LEASE_EXTENSIONS, "result" => result).increment(1);
}

/// Records a grab: its time and the jobs it got.
pub(crate) fn grab(took: Duration, got: usize) {
    metrics::histogram!(GRAB_DURATION).record(took.as_secs_f64());
    metrics::counter!(JOBS_GRABBED).increment(got as u64);
}

/// Counts jobs released unstarted.
pub(crate) fn released(n: u64) {
    metrics::counter!(JOBS_RELEASED).increment(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_own_counter() {
        for (i, o) in OUTCOMES.iter().enumerate() {
            assert_eq!(index(*o), i);
        }
        let labels: std::collections::HashSet<_> = OUTCOMES.iter().map(|o| o.label()).collect();
        assert_eq!(labels.len(), OUTCOMES.len());
    }
}
