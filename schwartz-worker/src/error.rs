//! The pool's error type.

use std::fmt;

/// Why building or running a [`WorkerPool`](crate::WorkerPool) failed.
///
/// Opaque on purpose (as rayon's `ThreadPoolBuildError`): inspect it with
/// [`Error::is_config`], [`Error::store_error`] and [`std::error::Error::source`].
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    /// A builder setting is out of range.
    Config(String),
    /// A thread could not be started.
    Spawn {
        what: String,
        source: std::io::Error,
    },
    /// The store failed where the pool cannot carry on.
    Store(schwartz_core::Error),
    /// Signal handlers could not be installed.
    Signal(std::io::Error),
    /// The pool's own thread panicked (a bug in the pool, not in a job).
    Panicked(String),
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Config(message.into()),
        }
    }

    pub(crate) fn spawn(what: impl Into<String>, source: std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Spawn {
                what: what.into(),
                source,
            },
        }
    }

    pub(crate) fn store(error: schwartz_core::Error) -> Self {
        Error {
            kind: ErrorKind::Store(error),
        }
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn signal(source: std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Signal(source),
        }
    }

    pub(crate) fn panicked(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Panicked(message.into()),
        }
    }

    /// Whether a builder setting was refused.
    pub fn is_config(&self) -> bool {
        matches!(self.kind, ErrorKind::Config(_))
    }

    /// The store's error, when a store failure stopped the pool (for example
    /// [`WorkerPool::run_until_done`](crate::WorkerPool::run_until_done) giving up after
    /// repeated failed grabs).
    pub fn store_error(&self) -> Option<&schwartz_core::Error> {
        match &self.kind {
            ErrorKind::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Config(m) => write!(f, "invalid worker pool configuration: {m}"),
            ErrorKind::Spawn { what, source } => write!(f, "cannot start {what}: {source}"),
            ErrorKind::Store(e) => write!(f, "worker pool stopped on a store error: {e}"),
            ErrorKind::Signal(e) => write!(f, "cannot install signal handlers: {e}"),
            ErrorKind::Panicked(m) => write!(f, "a worker pool thread panicked: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Spawn { source, .. } | ErrorKind::Signal(source) => Some(source),
            ErrorKind::Store(e) => Some(e),
            ErrorKind::Config(_) | ErrorKind::Panicked(_) => None,
        }
    }
}

/// `Result` with the pool's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
