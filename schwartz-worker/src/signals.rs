//! Wiring SIGINT and SIGTERM to a pool's shutdown.

use crate::error::Result;
use crate::pool::ShutdownHandle;

/// Shuts the pool down on the first SIGINT or SIGTERM; a second one exits the process at
/// once (status 130), for an operator who does not want to wait for the grace period.
///
/// A background thread (`schwartz-signals`) waits for the signals; it lives as long as the
/// process. Call it once per process, in a binary, not in a library.
///
/// ```no_run
/// # use std::sync::Arc;
/// # let client = schwartz_core::Client::builder()
/// #     .store(Arc::new(schwartz_memory::MemoryStore::new()))
/// #     .build()?;
/// # client.can_do("noop", |_: &schwartz_core::QueuedJob| Ok(()))?;
/// let pool = schwartz_worker::WorkerPool::builder(client).build()?;
/// schwartz_worker::shutdown_on_signals(&pool.shutdown_handle())?;
/// let summary = pool.run()?; // returns after Ctrl-C, once running jobs are done
/// println!("{summary}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The signal handlers or the thread could not be installed.
#[cfg(unix)]
pub fn shutdown_on_signals(handle: &ShutdownHandle) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    use crate::error::Error;

    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(Error::signal)?;
    let handle = handle.clone();
    std::thread::Builder::new()
        .name("schwartz-signals".to_string())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                seen += 1;
                if seen == 1 {
                    log::info!("signal {signal}: shutting down (again to exit at once)");
                    handle.shutdown();
                } else {
                    log::warn!("signal {signal} again: exiting without waiting for running jobs");
                    std::process::exit(130);
                }
            }
        })
        .map_err(|e| Error::spawn("thread schwartz-signals", e))?;
    Ok(())
}

/// On non-Unix targets signals are not wired: the pool runs until shut down otherwise.
///
/// # Errors
/// None.
#[cfg(not(unix))]
pub fn shutdown_on_signals(handle: &ShutdownHandle) -> Result<()> {
    let _ = handle;
    log::warn!("shutdown_on_signals: signals are not supported on this platform");
    Ok(())
}
