//! Clocks for [`MemoryStore`](crate::MemoryStore): its "database server" time.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schwartz_core::Epoch;

/// The clock a [`MemoryStore`](crate::MemoryStore) reports as its server time
/// ([`Store::server_time`](schwartz_core::store::Store::server_time)).
pub trait Clock: Send + Sync + Debug {
    /// The current time, in epoch seconds.
    fn now(&self) -> Epoch;

    /// The current time, in epoch milliseconds (default: [`Clock::now`] in milliseconds).
    fn now_ms(&self) -> i64 {
        self.now().saturating_mul(1000)
    }
}

/// The system clock (the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Epoch {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A system clock set before 1970.
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }

    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to, so tests advance time instead of sleeping.
///
/// Clones share the same time: keep one clone in the test and give another to the store.
///
/// ```
/// use std::time::Duration;
/// use schwartz_memory::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(shared.now(), 1_060);
/// shared.set(5);
/// assert_eq!(clock.now(), 5);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// Whole seconds and the nanoseconds into the current second (kept so that several
    /// sub-second advances add up).
    time: Arc<Mutex<(Epoch, u32)>>,
}

impl ManualClock {
    /// A clock standing at `start` (epoch seconds).
    pub fn new(start: Epoch) -> Self {
        ManualClock {
            time: Arc::new(Mutex::new((start, 0))),
        }
    }

    /// Moves the clock forward by `by` (sub-second parts accumulate).
    pub fn advance(&self, by: Duration) {
        let mut t = self.time.lock().unwrap_or_else(|e| e.into_inner());
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let mut nanos = t.1 + by.subsec_nanos();
        let mut carry = 0;
        if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000;
            carry = 1;
        }
        t.0 = t.0.saturating_add(secs).saturating_add(carry);
        t.1 = nanos;
    }

    /// Sets the clock to `now` (epoch seconds); it may move backwards.
    pub fn set(&self, now: Epoch) {
        let mut t = self.time.lock().unwrap_or_else(|e| e.into_inner());
        *t = (now, 0);
    }

    /// The current time, in epoch seconds.
    pub fn now(&self) -> Epoch {
        self.time.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Epoch {
        ManualClock::now(self)
    }
}
