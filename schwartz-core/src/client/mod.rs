//! The [`Client`]: TheSchwartz's client object over one or more stores, one file per
//! concept:
//!
//! - `builder`: [`ClientBuilder`] and the settings it takes;
//! - `stores`: the configured stores, home stores and dead marking;
//! - `clock`: each store's clock, read at most once per refresh interval;
//! - `funcmap`: the funcmap cache (names to funcids and back);
//! - `abilities`: registered workers, ability rotation and the settings that can change;
//! - `insert`: inserting with failover;
//! - `batch`: `insert_jobs` over several stores, each keyed job in its home store;
//! - `grab`: finding and grabbing jobs, giving them back;
//! - `inspect`: looking jobs up and listing them;
//! - `cancel`: cancelling pending and running jobs;
//! - `work`: working jobs ([`Client::work_once`] and friends);
//! - `schedule`: relative starts, rescheduling and external outcomes by handle;
//! - `housekeeping`: pruning and the scoreboard;
//! - `schedules`: periodic jobs (registering, inserting due ticks once, listing);
//! - `results`: the results workers record, read and awaited by handle.
//!
//! The state a grabbed job needs to write its outcome (the stores, their clocks and
//! funcmaps, the pruning settings) lives in a [`Context`] shared by the client and its
//! jobs; a job never holds the client itself.

mod abilities;
mod batch;
mod builder;
mod cancel;
mod clock;
mod funcmap;
mod grab;
mod housekeeping;
mod insert;
mod inspect;
mod results;
mod schedule;
mod schedules;
mod stores;
mod work;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::hooks::{GrabHooks, TimeShift};
use crate::scoreboard::Scoreboard;

pub use builder::{
    AbilityRotation, CandidateOrder, ClientBuilder, GrabStrategy, Pruning, ScoreboardDir,
};
pub use cancel::{CancelOptions, CancelledJob};
pub use housekeeping::PruneReport;
pub use inspect::ListJobs;
pub use results::JobResult;
pub use schedule::{Rescheduled, When, EXTERNAL_KEEP_EXIT_STATUS_FOR, NEVER_EPOCH};
pub use schedules::ScheduleInfo;
pub use work::StopSignal;

pub(crate) use abilities::{Abilities, Settings};
pub(crate) use results::result_writes;
pub(crate) use schedule::start_epoch;
pub(crate) use stores::StoreEntry;

/// Locks a mutex, ignoring poisoning (the protected data stays consistent: every critical
/// section here is a few plain assignments).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whole seconds of a duration, rounded up, as an epoch offset.
pub(crate) fn ceil_secs(d: Duration) -> i64 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A listener called after each successful insert.
pub(crate) type InsertListener = Arc<dyn Fn(&crate::ids::StoreHash) + Send + Sync>;

/// How outcomes prune old rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PruneSettings {
    pub(crate) pruning: Pruning,
    /// Errors older than this many seconds are pruned.
    pub(crate) error_max_age: i64,
    /// Probability of pruning exit statuses after writing one.
    pub(crate) exit_clean_p: f64,
}

/// What the client and its jobs share: the stores with their funcmap caches, clocks and
/// dead marks, the pruning settings and the insert listeners. Holds no job and no worker,
/// so a job holding it forms no reference cycle.
pub(crate) struct Context {
    pub(crate) stores: Vec<StoreEntry>,
    /// How long a failing store stays dead, in milliseconds.
    pub(crate) retry_ms: i64,
    pub(crate) time_shift: TimeShift,
    /// How long a reading of a store's clock is extrapolated with the local clock.
    pub(crate) clock_refresh: Duration,
    pub(crate) prune: PruneSettings,
    pub(crate) listeners: Mutex<Vec<InsertListener>>,
}

/// The client's own state: settings, abilities and workers, grab options, scoreboard.
pub(crate) struct Inner {
    pub(crate) ctx: Arc<Context>,
    pub(crate) settings: Mutex<Settings>,
    pub(crate) abilities: Mutex<Abilities>,
    pub(crate) grab_strategy: GrabStrategy,
    pub(crate) hooks: GrabHooks,
    /// Declared before `scoreboard_base` so the file goes first; removed when the last
    /// client clone drops.
    pub(crate) scoreboard: Option<Scoreboard>,
    pub(crate) scoreboard_base: Option<PathBuf>,
}

/// TheSchwartz's client: stores, abilities, and the insert / find / work protocol.
/// Cheap to clone (shared state); `Send + Sync`.
///
/// The client owns its workers. Jobs do not own the client, so nothing the client does
/// forms a reference cycle; a worker that captures a clone of its own client does (the
/// client owns the worker, which owns the client): capture a [`WeakClient`] instead.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// A weak handle on a [`Client`] ([`Client::downgrade`]): for a worker that needs the
/// client it is registered with, without keeping it alive.
#[derive(Clone)]
pub struct WeakClient(Weak<Inner>);

impl WeakClient {
    /// The client, while a [`Client`] clone is alive.
    pub fn upgrade(&self) -> Option<Client> {
        self.0.upgrade().map(|inner| Client { inner })
    }
}

impl fmt::Debug for WeakClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakClient")
            .field("alive", &(self.0.strong_count() > 0))
            .finish()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stores: Vec<String> = self
            .ctx()
            .stores
            .iter()
            .map(|e| format!("{} ({})", e.hash, e.store.describe()))
            .collect();
        f.debug_struct("Client")
            .field("stores", &stores)
            .field("settings", &*lock(&self.inner.settings))
            .field("abilities", &self.abilities())
            .field("scoreboard", &self.scoreboard_path())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A weak handle on this client, which does not keep it alive.
    pub fn downgrade(&self) -> WeakClient {
        WeakClient(Arc::downgrade(&self.inner))
    }

    pub(crate) fn ctx(&self) -> &Arc<Context> {
        &self.inner.ctx
    }

    pub(crate) fn entry(&self, idx: usize) -> &StoreEntry {
        self.inner.ctx.entry(idx)
    }
}
