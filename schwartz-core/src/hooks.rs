//! Test hooks: a clock shift and the grab protocol's hooks. Public only through the
//! `testing` feature (module `testing`); the client always carries them (a zero shift
//! and no hooks by default).

// Without the feature nothing outside the crate can shift time.
#![cfg_attr(not(feature = "testing"), allow(dead_code))]

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A shift added to every store's clock, so tests move time forward instead of sleeping.
#[derive(Debug, Clone, Default)]
pub struct TimeShift(Arc<AtomicI64>);

impl TimeShift {
    /// No shift.
    pub fn new() -> Self {
        TimeShift::default()
    }
    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    /// The current shift in seconds.
    pub fn seconds(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A test hook.
pub type Hook = Arc<dyn Fn() + Send + Sync>;

/// Test hooks of the grab protocol (`$T_AFTER_GRAB_SELECT_BEFORE_UPDATE`, `$T_LOST_RACE`).
#[derive(Clone, Default)]
pub struct GrabHooks {
    /// Runs between the candidate select and the claim in `find_job_for_workers`.
    pub after_select: Option<Hook>,
    /// Runs when a claim loses its race.
    pub lost_race: Option<Hook>,
}

impl fmt::Debug for GrabHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrabHooks")
            .field("after_select", &self.after_select.is_some())
            .field("lost_race", &self.lost_race.is_some())
            .finish()
    }
}
