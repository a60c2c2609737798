//! Bounds every database call in time, including a read from a server that stopped answering.
//!
//! Neither libpq nor libmysqlclient (as diesel drives them) bounds a read: a server process
//! that is stopped (SIGSTOP, a frozen VM) leaves its TCP connection open, the kernel still
//! acknowledges what the client sends, and the client's blocking read waits forever.
//! `statement_timeout` runs on the server, so it cannot help, and TCP keepalives and
//! `tcp_user_timeout` see a healthy peer.
//!
//! So each pooled connection keeps a duplicate of its socket (found once, after connecting,
//! by the client port the server reports), and every call registers that socket with the
//! store's [`Watchdog`] for the call's duration. A call still running at its deadline gets
//! its socket shut down: the driver's read returns at once with a connection error, the
//! operation fails with `Error::Unavailable`, and the connection is discarded. The hot path
//! costs one lock to register and one to deregister; the watchdog thread only wakes at the
//! earliest deadline.
//!
//! Connections over a Unix socket and platforms other than Linux have no socket handle and
//! are not watched; connecting itself is bounded by the pool's connection timeout (and by
//! libpq's `connect_timeout`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// A duplicate handle of a connection's socket, shared with the watchdog.
#[derive(Debug, Clone)]
pub(crate) struct Socket(#[allow(dead_code)] Arc<SocketFd>);

#[cfg(target_os = "linux")]
type SocketFd = std::os::fd::OwnedFd;
#[cfg(not(target_os = "linux"))]
type SocketFd = ();

impl Socket {
    /// Shuts the socket down in both directions: a blocked read on it returns.
    fn shut_down(&self) {
        #[cfg(target_os = "linux")]
        {
            let _ = rustix::net::shutdown(&*self.0, rustix::net::Shutdown::Both);
        }
    }

    /// Waits until the socket has something to read, at most `timeout`; false when the
    /// time ran out. (A PostgreSQL listener sleeps here instead of polling libpq.)
    #[cfg(all(target_os = "linux", feature = "postgres"))]
    pub fn wait_readable(&self, timeout: Duration) -> bool {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let t = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&*self.0, PollFlags::IN)];
        // An interrupted or failed poll counts as readable: the caller reads and looks.
        poll(&mut fds, Some(&t)).map_or(true, |n| n > 0)
    }

    /// Finds this process's TCP socket connected from local port `client_port` to
    /// `server_port` and keeps a duplicate of it. `None` when there is none (a Unix socket)
    /// or the platform cannot say.
    #[cfg(target_os = "linux")]
    pub fn find(client_port: u16, server_port: Option<u16>) -> Option<Socket> {
        use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};
        let port_of = |a: rustix::net::SocketAddrAny| {
            std::net::SocketAddr::try_from(a).ok().map(|a| a.port())
        };
        let me = pidfd_open(getpid(), PidfdFlags::empty()).ok()?;
        for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
            let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let is_socket = std::fs::read_link(entry.path())
                .map(|l| l.to_string_lossy().starts_with("socket:"))
                .unwrap_or(false);
            if !is_socket {
                continue;
            }
            let Ok(dup) = pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()) else {
                continue;
            };
            let local = rustix::net::getsockname(&dup).ok().and_then(port_of);
            if local != Some(client_port) {
                continue;
            }
            let peer = rustix::net::getpeername(&dup)
                .ok()
                .flatten()
                .and_then(port_of);
            if peer.is_some() && (server_port.is_none() || peer == server_port) {
                return Some(Socket(Arc::new(dup)));
            }
        }
        None
    }

    /// Not on this platform.
    #[cfg(not(target_os = "linux"))]
    pub fn find(client_port: u16, server_port: Option<u16>) -> Option<Socket> {
        let _ = (client_port, server_port);
        None
    }
}

/// Calls in flight, by id: deadline and socket.
type Calls = HashMap<u64, (Instant, Socket)>;

#[derive(Debug, Default)]
struct Inner {
    calls: Mutex<Calls>,
    wake: Condvar,
    next: AtomicU64,
}

/// One store's watchdog: shuts down the sockets of calls that outlive their deadline.
#[derive(Debug)]
pub(crate) struct Watchdog {
    inner: Arc<Inner>,
    /// How long one call may take.
    pub limit: Duration,
    /// For log messages.
    describe: String,
    started: std::sync::Once,
}

impl Watchdog {
    /// A watchdog allowing `limit` per call; its thread starts with the first watched call.
    pub fn new(limit: Duration, describe: String) -> Self {
        Watchdog {
            inner: Arc::new(Inner::default()),
            limit,
            describe,
            started: std::sync::Once::new(),
        }
    }

    /// Watches one call on `socket` until the returned guard is dropped.
    pub fn watch(&self, socket: Option<&Socket>) -> Guard<'_> {
        let Some(socket) = socket else {
            return Guard {
                dog: self,
                id: None,
            };
        };
        self.started.call_once(|| self.spawn());
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.limit;
        lock(&self.inner.calls).insert(id, (deadline, socket.clone()));
        Guard {
            dog: self,
            id: Some(id),
        }
    }

    fn spawn(&self) {
        let weak = Arc::downgrade(&self.inner);
        let limit = self.limit;
        let describe = self.describe.clone();
        let spawned = std::thread::Builder::new()
            .name("schwartz-db-watchdog".into())
            .spawn(move || run(weak, limit, &describe));
        if let Err(e) = spawned {
            log::warn!(
                "{}: cannot start the call watchdog ({e}); a hung server can block calls",
                self.describe
            );
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.inner.wake.notify_all();
    }
}

/// The watchdog thread: sleeps until the earliest deadline (at most `limit`: a call
/// registered meanwhile has a deadline at least `limit` away), shuts down overdue sockets.
/// Ends when its store is gone.
fn run(weak: Weak<Inner>, limit: Duration, describe: &str) {
    while let Some(inner) = weak.upgrade() {
        let now = Instant::now();
        let mut calls = lock(&inner.calls);
        let mut next = now + limit;
        calls.retain(|_, (deadline, socket)| {
            if *deadline <= now {
                log::warn!(
                    "{describe}: a database call took longer than {limit:?}; abandoning its \
                     connection (the server may be hung)"
                );
                socket.shut_down();
                false
            } else {
                next = next.min(*deadline);
                true
            }
        });
        let wait = next
            .saturating_duration_since(now)
            .max(Duration::from_millis(5));
        let (calls, _) = inner
            .wake
            .wait_timeout(calls, wait)
            .unwrap_or_else(|p| p.into_inner());
        drop(calls);
        if Arc::strong_count(&inner) == 1 {
            return;
        }
    }
}

fn lock(m: &Mutex<Calls>) -> std::sync::MutexGuard<'_, Calls> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ends the watch of one call.
pub(crate) struct Guard<'a> {
    dog: &'a Watchdog,
    id: Option<u64>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            lock(&self.dog.inner.calls).remove(&id);
        }
    }
}
