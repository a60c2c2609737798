//! "New jobs" notifications inside one process, for [`MemoryStore::notifier`].
//!
//! [`MemoryStore::notifier`]: schwartz_core::store::Store::notifier

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use schwartz_core::store::Notifier;
use schwartz_core::{Error, Result};

/// A generation counter bumped on every insert, with a condition variable to wait on.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Signal {
    /// Records an insert and wakes every waiter.
    pub(crate) fn notify(&self) {
        let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *generation = generation.wrapping_add(1);
        self.changed.notify_all();
    }

    fn current(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wakes when jobs are inserted into its [`MemoryStore`](crate::MemoryStore): by
/// [`Store::insert_jobs`](schwartz_core::store::Store::insert_jobs) or by the replacements of a
/// [`Store::finish`](schwartz_core::store::Store::finish). Obtained from
/// [`Store::notifier`](schwartz_core::store::Store::notifier); it sees only inserts made after it
/// was created. [`Store::result_notifier`](schwartz_core::store::Store::result_notifier)
/// gives one of its own signal, woken when job results are written.
///
/// While the store is offline ([`MemoryStore::set_offline`](crate::MemoryStore::set_offline))
/// [`Notifier::wait`] fails with [`Error::Unavailable`], as a broken listening connection
/// would; it works again once the store is back online.
#[derive(Debug)]
pub struct MemoryNotifier {
    signal: Arc<Signal>,
    offline: Arc<AtomicBool>,
    store: String,
    seen: u64,
}

impl MemoryNotifier {
    pub(crate) fn new(signal: Arc<Signal>, offline: Arc<AtomicBool>, store: String) -> Self {
        let seen = signal.current();
        MemoryNotifier {
            signal,
            offline,
            store,
            seen,
        }
    }

    fn check_online(&self) -> Result<()> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(Error::Unavailable {
                store: self.store.clone(),
                message: "the store is offline (fault injected with set_offline)".to_owned(),
            });
        }
        Ok(())
    }
}

impl Notifier for MemoryNotifier {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        self.check_online()?;
        let deadline = Instant::now().checked_add(timeout);
        let mut generation = self
            .signal
            .generation
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        loop {
            if *generation != self.seen {
                self.seen = *generation;
                return Ok(true);
            }
            let remaining = match deadline {
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(false);
                    }
                    deadline - now
                }
                // A timeout too large to represent: wait in long slices.
                None => Duration::from_secs(3600),
            };
            generation = self
                .signal
                .changed
                .wait_timeout(generation, remaining)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
