//! Rows of the tables of ours that Perl TheSchwartz ignores: `schwartz_schedule` (the last
//! tick inserted per periodic schedule) and `schwartz_result` (the results workers record
//! when they complete a job). The [`Store`](crate::store::Store) methods that read and write
//! them are in the trait beside the others.

use crate::ids::{Epoch, FuncId, JobId};

/// The largest result a worker may record, in bytes of its JSON text (1 MiB). Larger ones
/// are refused with [`Error::InvalidInput`](crate::Error::InvalidInput) when recorded.
pub const MAX_RESULT_BYTES: usize = 1 << 20;

/// One row of `schwartz_schedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// The schedule's name (unique per database).
    pub name: String,
    /// The function its ticks run.
    pub funcname: String,
    /// The cron expression as registered, with a `CRON_TZ=<zone> ` prefix when its time zone
    /// is not UTC (see [`Schedule::spec`](crate::Schedule::spec)).
    pub spec: String,
    /// The last tick inserted (or skipped), epoch seconds; ticks at or before it are never
    /// inserted again.
    pub last_tick: Epoch,
}

/// What [`Store::insert_tick`](crate::store::Store::insert_tick) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickInsert {
    /// The tick was recorded and its job inserted with this id (or, for a skipped tick,
    /// only recorded: `None`).
    Recorded(Option<JobId>),
    /// The schedule's `last_tick` was already at or after the tick (another pool recorded
    /// it, or a later one): nothing was written.
    Taken {
        /// The `last_tick` found.
        last_tick: Epoch,
    },
}

/// A result to write with a [`Finish`](crate::store::Finish) item (see
/// [`Store::finish_with_results`](crate::store::Store::finish_with_results)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultWrite {
    /// The index of the item in the `items` slice it belongs to.
    pub item: usize,
    /// The result's bytes (JSON text).
    pub value: Vec<u8>,
    /// When it was written.
    pub completion_time: Epoch,
    /// Pruned once this time has passed.
    pub delete_after: Epoch,
}

/// One row of `schwartz_result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    /// The job.
    pub jobid: JobId,
    /// Its function.
    pub funcid: FuncId,
    /// The result's bytes (JSON text).
    pub value: Vec<u8>,
    /// When the job completed.
    pub completion_time: Epoch,
    /// Pruned once this time has passed.
    pub delete_after: Epoch,
}
