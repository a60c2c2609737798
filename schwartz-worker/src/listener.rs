//! A listener thread: waits for "new jobs" notifications from one store (PostgreSQL
//! LISTEN/NOTIFY) and wakes the dispatcher.

use std::sync::Arc;
use std::time::Duration;

use schwartz_core::store::{Notifier, Store};
use schwartz_core::Client;

use crate::shared::Shared;

/// How long a listener waits for a notification before checking for shutdown: the pool
/// joins its listeners when it stops, so this bounds how long a stop waits for them.
const LISTEN_WAIT: Duration = Duration::from_millis(10);

pub(crate) struct Listener {
    store: Arc<dyn Store>,
    notifier: Option<Box<dyn Notifier>>,
    shared: Arc<Shared>,
}

impl Listener {
    /// One listener per store that offers a notifier.
    pub(crate) fn for_stores(client: &Client, shared: &Arc<Shared>) -> Vec<Listener> {
        let mut listeners = Vec::new();
        for hash in client.store_hashes() {
            let Some(store) = client.store(&hash) else {
                continue;
            };
            match store.notifier() {
                Ok(Some(notifier)) => listeners.push(Listener {
                    store,
                    notifier: Some(notifier),
                    shared: Arc::clone(shared),
                }),
                Ok(None) => {}
                Err(e) => log::warn!(
                    "cannot listen for new jobs on {}: {e}; polling only",
                    store.describe()
                ),
            }
        }
        listeners
    }

    /// Wakes the dispatcher on every notification until shutdown, reconnecting after
    /// errors.
    pub(crate) fn listen(mut self) {
        while !self.shared.stopping() {
            let Some(notifier) = self.notifier.as_mut() else {
                match self.store.notifier() {
                    Ok(Some(n)) => {
                        self.notifier = Some(n);
                        // Jobs may have arrived while not listening.
                        self.shared.wake();
                    }
                    Ok(None) => return,
                    Err(e) => {
                        log::warn!(
                            "listening on {} failed: {e}; retrying",
                            self.store.describe()
                        );
                        if self.shared.stop_signal.wait_timeout(Duration::from_secs(1)) {
                            return;
                        }
                    }
                }
                continue;
            };
            match notifier.wait(LISTEN_WAIT) {
                Ok(true) => self.shared.wake(),
                Ok(false) => {}
                Err(e) => {
                    log::warn!(
                        "listening on {} failed: {e}; reconnecting",
                        self.store.describe()
                    );
                    self.notifier = None;
                    if self
                        .shared
                        .stop_signal
                        .wait_timeout(Duration::from_millis(500))
                    {
                        return;
                    }
                }
            }
        }
    }
}
