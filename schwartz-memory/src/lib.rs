//! # schwartz-memory
//!
//! [`MemoryStore`]: the whole [`Store`](schwartz_core::store::Store) contract of Schwartz in
//! memory, for tests and demos. It behaves as a SQL database holding TheSchwartz's tables
//! (`funcmap`, `job`, `error`, `exitstatus`) would, so code tested against it holds on the
//! SQL stores too.
//!
//! Test helpers:
//! - an injectable server clock ([`MemoryStore::with_clock`], [`ManualClock`]) so tests move
//!   time forward instead of sleeping;
//! - fault injection for failover tests: [`MemoryStore::set_offline`] (the server is
//!   unreachable) and [`MemoryStore::without_schema`] (the migrations were never run);
//! - a [`Notifier`](schwartz_core::store::Notifier) that wakes on inserts ([`MemoryNotifier`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use schwartz_core::store::{JobQuery, NewJobRow, Store};
//! use schwartz_memory::{ManualClock, MemoryStore};
//!
//! let clock = ManualClock::new(1_000);
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone())));
//!
//! let funcid = store.funcid("resize_image")?;
//! let now = store.server_time()?;
//! let ids = store.insert_jobs(&[NewJobRow {
//!     jobid: None,
//!     funcid,
//!     arg: Some(b"cat.png".to_vec()),
//!     uniqkey: None,
//!     insert_time: now,
//!     run_after: now + 60,
//!     grabbed_until: 0,
//!     priority: None,
//!     coalesce: None,
//! }])?;
//!
//! // Not eligible before run_after...
//! assert!(store.select_jobs(&JobQuery::eligible(vec![funcid], now, 10))?.is_empty());
//! // ...but a minute later it is.
//! clock.advance(Duration::from_secs(60));
//! let now = store.server_time()?;
//! let rows = store.select_jobs(&JobQuery::eligible(vec![funcid], now, 10))?;
//! assert_eq!(rows[0].jobid, ids[0]);
//! # Ok::<(), schwartz_core::Error>(())
//! ```

mod clock;
mod notify;
mod store;
mod tables;

pub use clock::{Clock, ManualClock, SystemClock};
pub use notify::MemoryNotifier;
pub use store::MemoryStore;
