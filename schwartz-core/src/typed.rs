//! Typed jobs: one type binds a function name, its argument and its policy, so inserting a
//! job and handling it cannot disagree on any of them.
//!
//! String-named jobs keep working beside typed ones: a typed job is a [`Job`] named
//! [`TypedJob::NAME`] whose argument is the value, encoded as [`Job::arg`] encodes it, and
//! its handler is a [`Worker`] registered under that name.

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Result;
use crate::job::Job;
use crate::queued::QueuedJob;
use crate::worker::{WorkError, Worker};
use crate::Client;

/// A job type: its function name, its argument (the value itself) and its policy. The
/// policy's defaults are [`Worker`]'s. [`Client::insert`] takes its values and
/// [`Client::handle`] registers its handler.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use schwartz_core::{Client, QueuedJob, TypedJob, WorkError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendEmail {
///     to: String,
///     subject: String,
/// }
///
/// impl TypedJob for SendEmail {
///     const NAME: &'static str = "send_email";
///     fn max_retries(&self) -> u32 {
///         5
///     }
///     fn retry_delay(failures: u32) -> Duration {
///         Duration::from_secs(30 << failures.min(10))
///     }
/// }
///
/// let client = Client::builder()
///     .store(Arc::new(schwartz_memory::MemoryStore::new()))
///     .build()?;
/// client.handle(|email: SendEmail, _job: &QueuedJob| -> Result<(), WorkError> {
///     assert_eq!(email.to, "ada@example.com");
///     Ok(())
/// })?;
/// client.insert(SendEmail { to: "ada@example.com".into(), subject: "hi".into() })?;
/// assert!(client.work_once()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait TypedJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The function name (`funcmap.funcname`): what Perl workers and `schwartz` see.
    const NAME: &'static str;

    /// Retries allowed after failures (default 0), given the job's argument.
    fn max_retries(&self) -> u32 {
        0
    }

    /// Delay before the next attempt after `failures` failures (default 0); a backoff
    /// policy goes here.
    fn retry_delay(failures: u32) -> Duration {
        let _ = failures;
        Duration::ZERO
    }

    /// Lease length (default one hour).
    fn grab_for() -> Duration {
        Duration::from_secs(3600)
    }

    /// How long to keep an exit status row (default 0: none).
    fn keep_exit_status_for() -> Duration {
        Duration::ZERO
    }

    /// The job to insert for this value (its name and encoded argument); add a uniqkey,
    /// a run time or a priority with [`Job`]'s builder methods.
    ///
    /// # Errors
    /// [`Error::ArgEncode`](crate::Error::ArgEncode) when the value does not encode.
    fn to_job(&self) -> Result<Job> {
        Job::new(Self::NAME).arg(self)
    }
}

/// What [`Client::insert`] takes: a [`Job`], or a [`TypedJob`] value.
pub trait IntoJob {
    /// The job.
    ///
    /// # Errors
    /// When a typed value does not encode.
    fn into_job(self) -> Result<Job>;
}

impl IntoJob for Job {
    fn into_job(self) -> Result<Job> {
        Ok(self)
    }
}

impl<T: TypedJob> IntoJob for T {
    fn into_job(self) -> Result<Job> {
        self.to_job()
    }
}

/// The worker of a typed job: decodes the argument (a job whose argument does not decode
/// fails for good, as with [`QueuedJob::arg`]) and calls the handler; the policy is the
/// type's.
struct Typed<T, F> {
    handler: F,
    _job: PhantomData<fn() -> T>,
}

impl<T, F> Worker for Typed<T, F>
where
    T: TypedJob,
    F: Fn(T, &QueuedJob) -> std::result::Result<(), WorkError> + Send + Sync + 'static,
{
    fn work(&self, job: &QueuedJob) -> std::result::Result<(), WorkError> {
        let value: T = job.arg()?;
        (self.handler)(value, job)
    }

    fn max_retries(&self, job: &QueuedJob) -> u32 {
        // The argument decoded again (the policy may depend on it); one that does not
        // decode is not retried.
        job.arg::<T>().map_or(0, |v| v.max_retries())
    }

    fn retry_delay(&self, failures: u32) -> Duration {
        T::retry_delay(failures)
    }

    fn keep_exit_status_for(&self) -> Duration {
        T::keep_exit_status_for()
    }

    fn grab_for(&self) -> Duration {
        T::grab_for()
    }
}

impl Client {
    /// Registers `handler` for the jobs of type `T` under [`TypedJob::NAME`], with `T`'s
    /// policy (see [`Client::can_do`]).
    ///
    /// # Errors
    /// As [`Client::can_do`].
    pub fn handle<T, F>(&self, handler: F) -> Result<()>
    where
        T: TypedJob,
        F: Fn(T, &QueuedJob) -> std::result::Result<(), WorkError> + Send + Sync + 'static,
    {
        self.can_do(
            T::NAME,
            Typed {
                handler,
                _job: PhantomData,
            },
        )
    }
}
