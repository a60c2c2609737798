//! [`ClientBuilder`] and the settings it takes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ceil_secs, Client, Context, Inner, PruneSettings, Settings, StoreEntry};
use crate::error::{Error, Result};
use crate::hooks::{GrabHooks, TimeShift};
use crate::ids::StoreHash;
use crate::scoreboard::Scoreboard;
use crate::store::{JobOrder, Store};

/// Default candidate batch size (`$TheSchwartz::FIND_JOB_BATCH_SIZE`).
const DEFAULT_BATCH_SIZE: usize = 50;
/// Default dead-store retry time.
const DEFAULT_RETRY: Duration = Duration::from_secs(30);
/// Default error age before pruning (7 days).
const DEFAULT_ERROR_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default probability of pruning exit statuses after writing one.
const DEFAULT_EXIT_CLEAN_P: f64 = 0.10;
/// How often a store's clock is read by default.
const DEFAULT_CLOCK_REFRESH: Duration = Duration::from_secs(1);

/// Whether the client rotates abilities after each job (TheSchwartz's starvation guard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AbilityRotation {
    /// After a job of function X, look at the other functions first; restore all on a miss.
    #[default]
    Rotate,
    /// No rotation (`strict_remove_ability`).
    Strict,
}

/// Whether candidates are shuffled before claiming (`$TheSchwartz::RANDOMIZE_JOBS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CandidateOrder {
    /// Shuffle candidates: fewer lost races between workers.
    #[default]
    Shuffled,
    /// Claim in select order (strict priority / FIFO).
    AsSelected,
}

/// How jobs are claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GrabStrategy {
    /// `FOR UPDATE SKIP LOCKED` where the store supports it (batch grabs), else
    /// compare-and-swap. Single-job finds (`work_once`) always use compare-and-swap.
    #[default]
    Auto,
    /// TheSchwartz's select, shuffle and compare-and-swap everywhere.
    CompareAndSwap,
}

/// Where error and exit-status pruning happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pruning {
    /// As TheSchwartz: after each failure (errors) and on a share of exit-status writes.
    #[default]
    Inline,
    /// Never inline; call [`Client::prune`] from housekeeping (the worker pool does).
    Off,
}

/// Where scoreboard files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoreboardDir {
    /// The first existing of `/var/run`, `/dev/shm` (TheSchwartz's `1`/`on`), plus `theschwartz/`.
    Auto,
    /// This directory, plus `theschwartz/`.
    Path(PathBuf),
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
pub struct ClientBuilder {
    pub(crate) stores: Vec<Arc<dyn Store>>,
    pub(crate) order: JobOrder,
    pub(crate) floor: Option<i32>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) retry_seconds: Option<Duration>,
    pub(crate) scoreboard: Option<ScoreboardDir>,
    pub(crate) rotation: AbilityRotation,
    pub(crate) candidate_order: CandidateOrder,
    pub(crate) grab_strategy: GrabStrategy,
    pub(crate) error_max_age: Option<Duration>,
    pub(crate) exit_status_clean_probability: Option<f64>,
    pub(crate) pruning: Pruning,
    pub(crate) time_shift: TimeShift,
    pub(crate) hooks: GrabHooks,
    pub(crate) server_clock_refresh: Option<Duration>,
    pub(crate) arg_format: crate::arg::ArgFormat,
}

impl ClientBuilder {
    /// The encoding of typed arguments of jobs made by [`Client::job`] (default
    /// [`ArgFormat::Json`](crate::ArgFormat::Json); see [`crate::arg`]).
    pub fn arg_format(mut self, format: crate::arg::ArgFormat) -> Self {
        self.arg_format = format;
        self
    }

    /// Adds a store.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.stores.push(store);
        self
    }
    /// Adds stores.
    pub fn stores(mut self, stores: impl IntoIterator<Item = Arc<dyn Store>>) -> Self {
        self.stores.extend(stores);
        self
    }
    /// Candidate order (`JobOrder::PriorityDesc` = TheSchwartz's `prioritize`).
    pub fn order(mut self, order: JobOrder) -> Self {
        self.order = order;
        self
    }
    /// Minimum priority; requires `JobOrder::PriorityDesc`.
    pub fn floor(mut self, floor: i32) -> Self {
        self.floor = Some(floor);
        self
    }
    /// Candidate select LIMIT and default `list_jobs` limit (default 50).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }
    /// How long a failing store stays marked dead (default 30 s; zero means 30 s).
    pub fn retry_seconds(mut self, d: Duration) -> Self {
        self.retry_seconds = Some(d);
        self
    }
    /// Writes scoreboard files there.
    pub fn scoreboard(mut self, dir: ScoreboardDir) -> Self {
        self.scoreboard = Some(dir);
        self
    }
    /// Ability rotation (default `Rotate`).
    pub fn ability_rotation(mut self, r: AbilityRotation) -> Self {
        self.rotation = r;
        self
    }
    /// Candidate shuffling (default `Shuffled`).
    pub fn candidate_order(mut self, o: CandidateOrder) -> Self {
        self.candidate_order = o;
        self
    }
    /// Grab strategy (default `Auto`).
    pub fn grab_strategy(mut self, s: GrabStrategy) -> Self {
        self.grab_strategy = s;
        self
    }
    /// Errors older than this are pruned (default 7 days; `$T_ERRORS_MAX_AGE`).
    pub fn error_max_age(mut self, d: Duration) -> Self {
        self.error_max_age = Some(d);
        self
    }
    /// Probability of pruning expired exit statuses after writing one (default 0.10;
    /// `$T_EXITSTATUS_CLEAN_THRES`).
    pub fn exit_status_clean_probability(mut self, p: f64) -> Self {
        self.exit_status_clean_probability = Some(p);
        self
    }
    /// Inline pruning or none (default `Inline`).
    pub fn pruning(mut self, p: Pruning) -> Self {
        self.pruning = p;
        self
    }
    /// A clock shift shared with the test.
    #[cfg(feature = "testing")]
    pub fn time_shift(mut self, shift: TimeShift) -> Self {
        self.time_shift = shift;
        self
    }
    /// How often each store's clock is read (default one second). In between, the client
    /// extrapolates the last reading with the local clock, which saves a round trip per
    /// operation; the result lags the store's clock by under a second and is never ahead of
    /// it. `Duration::ZERO` reads the store's clock for every operation (for stores whose
    /// clock jumps, such as a `MemoryStore` with a manual clock; tests should rather move
    /// time with `testing::TimeShift`).
    pub fn server_clock_refresh(mut self, every: Duration) -> Self {
        self.server_clock_refresh = Some(every);
        self
    }
    /// Grab-protocol test hooks.
    #[cfg(feature = "testing")]
    pub fn hooks(mut self, hooks: GrabHooks) -> Self {
        self.hooks = hooks;
        self
    }
    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a floor without
    /// `PriorityDesc`, a zero batch size, a probability outside 0..=1, two stores with the
    /// same identity; [`Error::Scoreboard`] when the scoreboard
    /// directory cannot be created.
    pub fn build(self) -> Result<Client> {
        if self.floor.is_some() && self.order != JobOrder::PriorityDesc {
            return Err(Error::InvalidInput(String::from(
                "a floor only works with JobOrder::PriorityDesc (set_floor only works if prioritize is set)",
            )));
        }
        if self.batch_size == Some(0) {
            return Err(Error::InvalidInput(String::from(
                "batch_size must be at least 1",
            )));
        }
        let exit_clean_p = self
            .exit_status_clean_probability
            .unwrap_or(DEFAULT_EXIT_CLEAN_P);
        if !(0.0..=1.0).contains(&exit_clean_p) {
            return Err(Error::InvalidInput(format!(
                "exit_status_clean_probability must be within 0..=1, got {exit_clean_p}"
            )));
        }
        let mut stores: Vec<StoreEntry> = Vec::with_capacity(self.stores.len());
        for store in self.stores {
            let hash = StoreHash::of(&store.identity());
            if let Some(other) = stores.iter().find(|e| e.hash == hash) {
                return Err(Error::InvalidInput(format!(
                    "two stores have the same identity (hash {hash}): {} and {}",
                    other.store.describe(),
                    store.describe()
                )));
            }
            stores.push(StoreEntry::new(hash, store));
        }
        let retry = match self.retry_seconds {
            Some(d) if !d.is_zero() => d,
            _ => DEFAULT_RETRY,
        };
        let (scoreboard, scoreboard_base) = match self.scoreboard {
            None => (None, None),
            Some(dir) => {
                let base = match dir {
                    ScoreboardDir::Path(p) => p,
                    ScoreboardDir::Auto => ["/var/run", "/dev/shm"]
                        .iter()
                        .map(PathBuf::from)
                        .find(|p| p.is_dir())
                        .unwrap_or_else(|| PathBuf::from("/dev/shm")),
                };
                let board =
                    Scoreboard::create(&base, &format!("scoreboard.{}", std::process::id()))?;
                (Some(board), Some(base))
            }
        };
        let settings = Settings {
            order: self.order,
            floor: self.floor,
            batch_size: self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            rotation: self.rotation,
            candidate_order: self.candidate_order,
            arg_format: self.arg_format,
        };
        let ctx = Context {
            stores,
            retry_ms: i64::try_from(retry.as_millis()).unwrap_or(i64::MAX),
            time_shift: self.time_shift,
            clock_refresh: self.server_clock_refresh.unwrap_or(DEFAULT_CLOCK_REFRESH),
            prune: PruneSettings {
                pruning: self.pruning,
                error_max_age: ceil_secs(self.error_max_age.unwrap_or(DEFAULT_ERROR_MAX_AGE)),
                exit_clean_p,
            },
            listeners: Mutex::new(Vec::new()),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                ctx: Arc::new(ctx),
                settings: Mutex::new(settings),
                abilities: Mutex::new(Default::default()),
                grab_strategy: self.grab_strategy,
                hooks: self.hooks,
                scoreboard,
                scoreboard_base,
            }),
        })
    }
}
