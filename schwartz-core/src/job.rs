//! New jobs: the [`Job`] builder and argument encoding.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};

use crate::arg::ArgFormat;
use crate::error::Result;
use crate::ids::JobId;

/// Longest funcname, uniqkey and coalesce value accepted (the columns are VARCHAR(255)).
pub const MAX_NAME_LEN: usize = 255;

/// A job to insert: a function name plus optional argument, unique key, start time,
/// priority and coalescing value.
///
/// ```
/// use schwartz_core::Job;
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Email { to: String }
///
/// let job = Job::new("send_email")
///     .arg(&Email { to: "a@example.com".into() })?
///     .uniqkey("welcome:a@example.com")
///     .priority(5);
/// assert_eq!(job.funcname(), "send_email");
/// # Ok::<(), schwartz_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    funcname: String,
    arg: Option<Vec<u8>>,
    uniqkey: Option<String>,
    run_after: Option<DateTime<Utc>>,
    /// A start relative to the store's clock at insert (exclusive with `run_after`).
    run_in: Option<Duration>,
    grabbed_until: Option<DateTime<Utc>>,
    priority: Option<i32>,
    coalesce: Option<String>,
    jobid: Option<JobId>,
    arg_format: ArgFormat,
}

impl Job {
    /// A job for `funcname` with no argument, eligible at once.
    /// The name is validated at insert (1 to 255 bytes).
    pub fn new(funcname: impl Into<String>) -> Self {
        Job {
            funcname: funcname.into(),
            arg: None,
            uniqkey: None,
            run_after: None,
            run_in: None,
            grabbed_until: None,
            priority: None,
            coalesce: None,
            jobid: None,
            arg_format: ArgFormat::default(),
        }
    }

    /// Sets a typed argument, encoded in the job's [`arg_format`](Job::arg_format) (JSON
    /// unless set otherwise, here or by [`Client::job`](crate::Client::job)).
    ///
    /// # Errors
    /// [`crate::Error::ArgEncode`] when the value cannot be serialised in that format.
    pub fn arg<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self> {
        self.arg = Some(crate::arg::encode(self.arg_format, value)?);
        Ok(self)
    }

    /// The encoding later [`arg`](Job::arg) calls use (default [`ArgFormat::Json`]); an
    /// argument already set stays as it was encoded.
    pub fn arg_format(mut self, format: ArgFormat) -> Self {
        self.arg_format = format;
        self
    }

    /// Sets the argument as Perl's TheSchwartz stores a hash or array reference
    /// (Storable's `nfreeze`): a Perl worker's `$job->arg` is that hashref or arrayref.
    ///
    /// # Errors
    /// [`crate::Error::ArgEncode`] when the value is not a hash or an array (a struct, map,
    /// sequence or tuple) or cannot be serialised.
    pub fn perl_arg<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self> {
        self.arg = Some(crate::arg::encode(ArgFormat::Storable, value)?);
        Ok(self)
    }

    /// Sets the argument as raw bytes, stored as they are (what Perl clients exchange
    /// as scalar args).
    pub fn raw_arg(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.arg = Some(bytes.into());
        self
    }

    /// At most one pending job per (funcname, uniqkey): a second insert is refused.
    pub fn uniqkey(mut self, key: impl Into<String>) -> Self {
        self.uniqkey = Some(key.into());
        self
    }

    /// The job is not eligible before this time (default: now, by the store's clock).
    /// Replaces an earlier [`Job::run_in`].
    pub fn run_after(mut self, t: DateTime<Utc>) -> Self {
        self.run_after = Some(t);
        self.run_in = None;
        self
    }

    /// The job is not eligible before `delay` from its insert, measured on the clock of the
    /// store it goes to (the database server's, as the client reads it), not the local
    /// one; rounded up to whole seconds. Replaces an earlier [`Job::run_after`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use std::time::Duration;
    /// use schwartz_core::{Client, Job};
    ///
    /// let client = Client::builder()
    ///     .store(Arc::new(schwartz_memory::MemoryStore::new()))
    ///     .build()?;
    /// let handle = client.insert(Job::new("reminder").run_in(Duration::from_secs(900)))?;
    /// let job = client.lookup_job(&handle)?.expect("pending");
    /// let now = client.server_time(handle.store())?;
    /// let wait = (job.run_after() - now).num_seconds();
    /// assert!((899..=900).contains(&wait), "{wait}");
    /// # Ok::<(), schwartz_core::Error>(())
    /// ```
    pub fn run_in(mut self, delay: Duration) -> Self {
        self.run_in = Some(delay);
        self.run_after = None;
        self
    }

    /// Inserts the job as already leased until `t` (TheSchwartz lets callers set any
    /// column; tests use it). Default: not leased.
    pub fn grabbed_until(mut self, t: DateTime<Utc>) -> Self {
        self.grabbed_until = Some(t);
        self
    }

    /// Larger is more urgent; only used by clients that prioritize.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = Some(priority);
        self
    }

    /// A grouping value for coalescing finds.
    pub fn coalesce(mut self, value: impl Into<String>) -> Self {
        self.coalesce = Some(value.into());
        self
    }

    /// Inserts with this explicit job id (honoured as TheSchwartz does).
    pub fn jobid(mut self, id: JobId) -> Self {
        self.jobid = Some(id);
        self
    }

    /// The function name.
    pub fn funcname(&self) -> &str {
        &self.funcname
    }
    /// The encoded argument, if any.
    pub fn raw_arg_bytes(&self) -> Option<&[u8]> {
        self.arg.as_deref()
    }
    /// The unique key, if any.
    pub fn uniqkey_value(&self) -> Option<&str> {
        self.uniqkey.as_deref()
    }
    /// The requested start time, if any.
    pub fn run_after_value(&self) -> Option<DateTime<Utc>> {
        self.run_after
    }
    /// The requested delay from the store's clock at insert, if any.
    pub fn run_in_value(&self) -> Option<Duration> {
        self.run_in
    }
    /// The requested initial lease, if any.
    pub fn grabbed_until_value(&self) -> Option<DateTime<Utc>> {
        self.grabbed_until
    }
    /// The priority, if any.
    pub fn priority_value(&self) -> Option<i32> {
        self.priority
    }
    /// The coalescing value, if any.
    pub fn coalesce_value(&self) -> Option<&str> {
        self.coalesce.as_deref()
    }
    /// The explicit job id, if any.
    pub fn jobid_value(&self) -> Option<JobId> {
        self.jobid
    }
    /// The encoding [`arg`](Job::arg) uses.
    pub fn arg_format_value(&self) -> ArgFormat {
        self.arg_format
    }

    /// Checks what no store can hold, whatever its limits: empty, over-255-byte or
    /// NUL-containing funcname, uniqkey or coalesce, an explicit job id below 1, times
    /// before 1970 ([`crate::validate::job_shape`]). The client also checks each job
    /// against its target store's [`Limits`](crate::store::Limits) before inserting.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<()> {
        crate::validate::job_shape(self)
    }
}

/// Validates a funcname or uniqkey: 1 to 255 bytes, no NUL.
///
/// # Errors
/// [`crate::Error::InvalidInput`] naming the field and what is wrong.
pub fn check_name(what: &str, value: &str) -> Result<()> {
    crate::validate::text(what, value, false)
}

/// Encodes a typed argument in the default format, JSON ([`ArgFormat::default`]); see
/// [`arg::encode`](crate::arg::encode) for another format.
///
/// # Errors
/// [`crate::Error::ArgEncode`].
pub fn encode_arg<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    crate::arg::encode(ArgFormat::default(), value)
}

/// Decodes a stored argument as a `T`, whichever encoding it is in (JSON, Storable,
/// bincode; see [`crate::arg`] for how they are told apart).
///
/// Decoding is bounded by the argument's own size: a length prefix that claims more than
/// the argument can hold is an error, never an allocation, at any depth.
///
/// - bincode: strings, byte buffers and numbers may claim at most 16 times the
///   argument's length (at least 256 bytes) before decoding fails; sequences and maps
///   share a budget of one pre-allocated element per byte of the argument (a valid
///   argument never claims more), so a hostile one makes the decoder pre-allocate at most
///   `len × size_of::<largest element>()` bytes, however deep its claims, instead of up
///   to 1 MiB per sequence.
/// - JSON: nothing is pre-allocated from a claimed length; strings are at most the
///   argument's length.
/// - Storable: no length is trusted beyond the bytes left, every value read takes at
///   least one byte, and shared references expand to at most 8 values (or string bytes) per byte.
///
/// Nesting is bounded too: a value nested more than 256 levels deep (128 in JSON) is an
/// error, where a recursive type would otherwise recurse once per byte of the argument
/// and overflow the stack.
///
/// # Errors
/// [`crate::Error::ArgDecode`] naming `jobid`, the expected type and the encoding: bytes that
/// are not a valid encoding of `T`, a claimed length beyond the argument, or bytes left
/// over after the value (the usual sign of decoding as the wrong type).
pub fn decode_arg<T: DeserializeOwned>(jobid: JobId, bytes: &[u8]) -> Result<T> {
    crate::arg::decode(jobid, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Feed {
        scoops: u32,
        with: Vec<String>,
    }

    #[test]
    fn validation() {
        assert!(Job::new("Foo").validate().is_ok());
        assert!(matches!(
            Job::new("").validate(),
            Err(Error::InvalidInput(_))
        ));
        assert!(Job::new("x".repeat(255)).validate().is_ok());
        assert!(matches!(
            Job::new("x".repeat(256)).validate(),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Job::new("F").uniqkey("").validate(),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Job::new("F").uniqkey("k".repeat(256)).validate(),
            Err(Error::InvalidInput(_))
        ));
        assert!(Job::new("F").uniqkey("k".repeat(255)).validate().is_ok());
        assert!(Job::new("F").coalesce("").validate().is_ok());
        assert!(matches!(
            Job::new("F").coalesce("c".repeat(256)).validate(),
            Err(Error::InvalidInput(_))
        ));
        // Multi-byte characters: the limit is in bytes, and the message never panics.
        let e = Job::new("é".repeat(128)).validate().unwrap_err();
        assert!(e.to_string().contains("256 bytes"), "{e}");
    }

    #[test]
    fn builder_fields() {
        let t = chrono::DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let job = Job::new("F")
            .raw_arg(b"abc".to_vec())
            .uniqkey("u")
            .run_after(t)
            .grabbed_until(t)
            .priority(-3)
            .coalesce("c")
            .jobid(JobId(7));
        assert_eq!(job.raw_arg_bytes(), Some(&b"abc"[..]));
        assert_eq!(job.uniqkey_value(), Some("u"));
        assert_eq!(job.run_after_value(), Some(t));
        assert_eq!(job.grabbed_until_value(), Some(t));
        assert_eq!(job.priority_value(), Some(-3));
        assert_eq!(job.coalesce_value(), Some("c"));
        assert_eq!(job.jobid_value(), Some(JobId(7)));
    }

    #[test]
    fn arg_round_trip() {
        let feed = Feed {
            scoops: 2,
            with: vec!["cheese".into(), "love".into()],
        };
        let job = Job::new("feedmajor").arg(&feed).unwrap();
        let back: Feed = decode_arg(JobId(1), job.raw_arg_bytes().unwrap()).unwrap();
        assert_eq!(back, feed);
        let v = vec!["cheese", "water", "beer"];
        let bytes = encode_arg(&v).unwrap();
        let back: Vec<String> = decode_arg(JobId(1), &bytes).unwrap();
        assert_eq!(back, v);
        // Raw bytes stay raw, including ones that look like serialised data.
        let raw = b"\x05scalar that begins with the 5 byte".to_vec();
        let job = Job::new("F").raw_arg(raw.clone());
        assert_eq!(job.raw_arg_bytes(), Some(&raw[..]));
    }

    #[test]
    fn arg_wrong_type() {
        let bytes = encode_arg(&"a string that is long").unwrap();
        match decode_arg::<Feed>(JobId(9), &bytes) {
            Err(Error::ArgDecode {
                jobid, expected, ..
            }) => {
                assert_eq!(jobid, JobId(9));
                assert!(expected.contains("Feed"));
            }
            other => panic!("{other:?}"),
        }
        // Trailing bytes are an error.
        let mut bytes = encode_arg(&5u32).unwrap();
        bytes.push(0);
        let e = decode_arg::<u32>(JobId(1), &bytes).unwrap_err();
        assert!(e.to_string().contains("trailing"), "{e}");
        // A length prefix claiming terabytes: an error, no allocation (issue 8's example).
        let poison = [
            253, 54, 149, 20, 232, 122, 36, 225, 73, 167, 170, 68, 225, 216, 207, 189,
        ];
        let e = decode_arg::<String>(JobId(3), &poison).unwrap_err();
        assert!(matches!(e, Error::ArgDecode { .. }), "{e}");
        assert!(e.to_string().contains("16 bytes"), "{e}");
        // Every type a worker may ask for decodes what encode_arg wrote, however the
        // numbers expand (a one-byte varint into a u128).
        let wide = vec![0u128; 1000];
        let back: Vec<u128> = decode_arg(JobId(1), &encode_arg(&wide).unwrap()).unwrap();
        assert_eq!(back, wide);
        // A recursive type nested deeper than the limit: an error, not a stack overflow.
        #[derive(Debug, Deserialize)]
        struct Tree(#[allow(dead_code)] Vec<Tree>);
        let mut deep = vec![1u8; 100_000];
        deep.push(0);
        let e = decode_arg::<Tree>(JobId(4), &deep).unwrap_err();
        assert!(matches!(e, Error::ArgDecode { .. }), "{e}");
        assert!(
            e.to_string().contains("nests more than 256 levels deep"),
            "{e}"
        );
        // Garbage and empty input never panic.
        assert!(decode_arg::<Feed>(JobId(1), b"").is_err());
        assert!(decode_arg::<Feed>(JobId(1), &[0xff; 64]).is_err());
        assert!(
            decode_arg::<String>(JobId(1), &[0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                .is_err()
        );
    }
}
