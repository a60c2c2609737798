//! The crate's error type.

use crate::ids::JobId;

/// What a failed operation reports. Messages name the store (never with a password),
/// the job and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pending job with the same (funcname, uniqkey) already exists in that store.
    #[error("duplicate job in {store}: a pending job {funcname:?} with uniqkey {uniqkey:?} already exists")]
    DuplicateUniqkey {
        /// The store that refused the insert.
        store: String,
        /// The function name, when known.
        funcname: Option<String>,
        /// The colliding unique key, when known.
        uniqkey: Option<String>,
    },

    /// A job with this explicit job id already exists in that store.
    #[error("duplicate job id in {store}: a job with jobid {jobid} already exists (explicit job ids must be unused)")]
    DuplicateJobId {
        /// The store that refused the insert.
        store: String,
        /// The explicit job id.
        jobid: JobId,
    },

    /// A handle names a store hash that no configured store has.
    #[error("unknown store in handle {handle:?}: no configured database has hash {hash}")]
    UnknownStore {
        /// The hash part of the handle.
        hash: String,
        /// The whole handle string.
        handle: String,
    },

    /// A handle string is not `<32 hex digits>-<jobid>`.
    #[error("malformed job handle {input:?}: {reason} (expected <32 hex digits>-<job id>)")]
    MalformedHandle {
        /// The string given; when over 80 bytes, its start and its length.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The job's lease expired and another worker took it over (or the job is gone):
    /// the write was refused and nothing was changed.
    #[error("lease lost on job {jobid} in {store}: its lease (grabbed_until {token}) was taken over or the job no longer exists; nothing was written")]
    LeaseLost {
        /// The store of the job.
        store: String,
        /// The job.
        jobid: JobId,
        /// The lease token (grabbed_until) the writer held.
        token: i64,
    },

    /// The job was cancelled ([`Client::cancel`](crate::Client::cancel), `schwartz cancel`):
    /// its row is gone and its lease revoked, so the write was refused and nothing was
    /// changed. The worker should stop working it. Distinct from
    /// [`Error::LeaseLost`]: nobody else works the job.
    #[error("job {jobid} in {store} was cancelled: its lease was revoked; nothing was written")]
    Cancelled {
        /// The store of the job.
        store: String,
        /// The job.
        jobid: JobId,
    },

    /// The outcome of this job was already written by this process.
    #[error("job {jobid} in {store} is already finished: cannot call {method}")]
    AlreadyFinished {
        /// The store of the job.
        store: String,
        /// The job.
        jobid: JobId,
        /// The outcome method that was refused.
        method: &'static str,
    },

    /// The database could not be reached (connection refused, timed out, went away).
    #[error("database unavailable: {store}: {message}")]
    Unavailable {
        /// The store (backend, host and database name; never a password).
        store: String,
        /// What the driver said.
        message: String,
    },

    /// The database has no TheSchwartz tables.
    #[error("database {store} has no schwartz tables ({message}): run the migrations, e.g. `cargo xtask migrate --database-url <url>`")]
    SchemaMissing {
        /// The store.
        store: String,
        /// What the driver said.
        message: String,
    },

    /// Any other database error.
    #[error("database error in {store}: {message}")]
    Database {
        /// The store.
        store: String,
        /// What the driver said.
        message: String,
    },

    /// Bad input from the caller (empty or too long names, bad configuration, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// No store is configured, or every store is marked dead.
    #[error("no store available: {0}")]
    NoStore(String),

    /// A job argument does not decode as the type the worker asked for.
    #[error("cannot decode the argument of job {jobid} as {expected}: {message}")]
    ArgDecode {
        /// The job.
        jobid: JobId,
        /// The Rust type asked for.
        expected: &'static str,
        /// What the decoder said.
        message: String,
    },

    /// A job argument could not be encoded.
    #[error("cannot encode job argument of type {type_name}: {message}")]
    ArgEncode {
        /// The Rust type given.
        type_name: &'static str,
        /// What the encoder said.
        message: String,
    },

    /// No worker is registered for a function name.
    #[error("no worker registered for function {0:?}")]
    NoWorker(String),

    /// An operator or external change ([`Client::reschedule`](crate::Client::reschedule),
    /// [`Client::complete`](crate::Client::complete), ...) named a job a worker is
    /// running (its lease has not ended): nothing was changed.
    #[error("job {handle} ({funcname}) is running (leased until {leased_until}, epoch seconds): not changed")]
    JobRunning {
        /// The job's handle.
        handle: String,
        /// The job's function.
        funcname: String,
        /// The lease end (`grabbed_until`) read.
        leased_until: i64,
    },

    /// An operator or external change named a job that is not pending: it finished (was
    /// completed, failed for good, cancelled) or never existed.
    #[error("no pending job {handle}: it finished or never existed")]
    JobNotFound {
        /// The job's handle.
        handle: String,
    },

    /// A scoreboard file or directory could not be written.
    #[error("scoreboard {path}: {source}")]
    Scoreboard {
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// An `AsyncClient` call (feature `tokio`) could not complete on the async
    /// runtime: it panicked, or the runtime was shutting down.
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// Whether the error means the store should be marked dead: only connection-level
    /// failures (the server cannot be reached, the connection was closed) and a missing
    /// schema. A data error (a constraint, an encoding, a value too long) is about one
    /// operation's input and leaves the store alive.
    pub fn marks_store_dead(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. } | Error::SchemaMissing { .. }
        )
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
