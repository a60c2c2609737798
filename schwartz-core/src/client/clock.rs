//! Each store's clock ("server time"), read at most once per refresh interval and
//! extrapolated with the local clock in between, plus the test time shift.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use super::{lock, Client, Context};
use crate::error::{Error, Result};
use crate::ids::{epoch_to_datetime, Epoch, StoreHash};

/// The local wall clock in milliseconds since the epoch.
fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A reading of a store's clock: `server - local` in milliseconds, and when it was taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerClock {
    read_at: Instant,
    offset_ms: i64,
}

impl Context {
    /// Wall-clock milliseconds plus the time shift (dead-store timers).
    pub(crate) fn wall_ms(&self) -> i64 {
        local_ms().saturating_add(self.time_shift.seconds().saturating_mul(1000))
    }

    /// Wall-clock seconds plus the time shift.
    pub(crate) fn wall_secs(&self) -> Epoch {
        self.wall_ms() / 1000
    }

    /// The store's clock plus the time shift. The store is asked at most once per
    /// `clock_refresh`; in between its last reading (in milliseconds where the store tells
    /// them, taken as of the middle of the round trip) is extrapolated with the local clock.
    pub(crate) fn now_of(&self, idx: usize) -> Result<Epoch> {
        Ok(self.now_ms_of(idx)?.div_euclid(1000))
    }

    /// [`Context::now_of`] in milliseconds.
    pub(crate) fn now_ms_of(&self, idx: usize) -> Result<i64> {
        let entry = self.entry(idx);
        let shift = self.time_shift.seconds().saturating_mul(1000);
        let cached = *lock(&entry.clock);
        if let Some(c) = cached {
            if c.read_at.elapsed() < self.clock_refresh {
                let server_ms = local_ms().saturating_add(c.offset_ms);
                return Ok(server_ms.saturating_add(shift));
            }
        }
        let before = local_ms();
        let server_ms = entry.store.server_time_ms()?;
        let after = local_ms();
        let midpoint = before.saturating_add(after.saturating_sub(before) / 2);
        *lock(&entry.clock) = Some(ServerClock {
            read_at: Instant::now(),
            offset_ms: server_ms.saturating_sub(midpoint),
        });
        Ok(server_ms.saturating_add(shift))
    }
}

impl Client {
    /// The store's clock plus the time shift (epoch seconds).
    ///
    /// # Errors
    /// [`Error::UnknownStore`] for a hash no configured store has, or the store's error.
    pub fn now(&self, hash: &StoreHash) -> Result<Epoch> {
        let idx = self
            .ctx()
            .index_of(hash)
            .ok_or_else(|| Error::UnknownStore {
                hash: hash.to_string(),
                handle: hash.to_string(),
            })?;
        self.ctx().now_of(idx)
    }
    /// The store's clock plus the time shift.
    ///
    /// # Errors
    /// As [`Client::now`].
    pub fn server_time(&self, hash: &StoreHash) -> Result<DateTime<Utc>> {
        self.now(hash).map(epoch_to_datetime)
    }
    /// The time shift in use.
    #[cfg(feature = "testing")]
    pub fn time_shift(&self) -> crate::testing::TimeShift {
        self.ctx().time_shift.clone()
    }
}
