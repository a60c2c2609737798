//! Housekeeping: pruning old errors and expired exit statuses (inline after outcome
//! writes, or from a housekeeping thread), and the client's scoreboard file.

use std::path::PathBuf;

use super::{Client, Context, Pruning};
use crate::error::Result;
use crate::ids::Epoch;

/// Inline error pruning limit.
const INLINE_ERROR_PRUNE_LIMIT: usize = 1000;

/// What [`Client::prune`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Error rows deleted.
    pub errors: u64,
    /// Exit statuses deleted.
    pub exit_statuses: u64,
}

impl Client {
    /// Prunes old errors (older than `error_max_age`) and expired exit statuses in every
    /// live store, at most `limit` rows of each per store. A failing store is marked dead.
    ///
    /// # Errors
    /// The store's error when every live store failed.
    pub fn prune(&self, limit: usize) -> Result<PruneReport> {
        let mut report = PruneReport::default();
        let mut ok = 0usize;
        let mut last_err = None;
        for idx in self.ctx().live_shuffled() {
            let r = (|| -> Result<(u64, u64)> {
                let now = self.ctx().now_of(idx)?;
                let store = &self.entry(idx).store;
                let errors = store
                    .prune_errors(now.saturating_sub(self.ctx().prune.error_max_age), limit)?;
                let exits = store.prune_exit_statuses(now, limit)?;
                Ok((errors, exits))
            })();
            match r {
                Ok((e, x)) => {
                    ok += 1;
                    report.errors += e;
                    report.exit_statuses += x;
                }
                Err(e) => {
                    log::warn!("pruning {}: {e}", self.entry(idx).store.describe());
                    self.ctx().note_store_error(idx, &e);
                    last_err = Some(e);
                }
            }
        }
        match last_err {
            Some(e) if ok == 0 => Err(e),
            _ => Ok(report),
        }
    }
    /// The scoreboard file of this client, when scoreboards are on.
    pub fn scoreboard_path(&self) -> Option<PathBuf> {
        self.inner
            .scoreboard
            .as_ref()
            .map(|b| b.path().to_path_buf())
    }
    /// The scoreboard base directory in use (the files are in its `theschwartz/`
    /// subdirectory), when scoreboards are on. Other scoreboards of the process belong
    /// there.
    pub fn scoreboard_base_dir(&self) -> Option<PathBuf> {
        self.inner.scoreboard_base.clone()
    }
}

impl Context {
    /// Inline error pruning after a failure row was written.
    pub(crate) fn after_failure_written(&self, idx: usize, now: Epoch) {
        if self.prune.pruning != Pruning::Inline {
            return;
        }
        let older_than = now.saturating_sub(self.prune.error_max_age);
        if let Err(e) = self
            .entry(idx)
            .store
            .prune_errors(older_than, INLINE_ERROR_PRUNE_LIMIT)
        {
            log::warn!("pruning old errors failed: {e}");
        }
    }

    /// Inline exit-status pruning (with the configured probability) after an exit status
    /// was written.
    pub(crate) fn after_exit_status_written(&self, idx: usize, now: Epoch) {
        if self.prune.pruning != Pruning::Inline {
            return;
        }
        let p = self.prune.exit_clean_p;
        if p <= 0.0 || rand::random::<f64>() >= p {
            return;
        }
        let limit = ((100.0 / p) as usize).clamp(100, 1000);
        if let Err(e) = self.entry(idx).store.prune_exit_statuses(now, limit) {
            log::warn!("pruning expired exit statuses failed: {e}");
        }
    }
}
