//! Job handles: `<store-hash>-<jobid>`.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::ids::{JobId, StoreHash};

/// The global identifier of a job: the hash of its store and its id there,
/// printed as `<32 lowercase hex digits>-<jobid>`.
///
/// ```
/// use schwartz_core::JobHandle;
/// let h: JobHandle = "eae9d236036d6721abb31c1c36abc2a7-1".parse()?;
/// assert_eq!(h.jobid().0, 1);
/// assert_eq!(h.to_string(), "eae9d236036d6721abb31c1c36abc2a7-1");
/// assert!("nonsense".parse::<JobHandle>().is_err());
/// # Ok::<(), schwartz_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobHandle {
    store: StoreHash,
    jobid: JobId,
}

impl JobHandle {
    /// A handle for `jobid` in the store with hash `store`.
    pub fn new(store: StoreHash, jobid: JobId) -> Self {
        JobHandle { store, jobid }
    }
    /// The store's hash.
    pub fn store(&self) -> &StoreHash {
        &self.store
    }
    /// The job's id in that store.
    pub fn jobid(&self) -> JobId {
        self.jobid
    }
}

impl fmt::Display for JobHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.store, self.jobid)
    }
}

impl FromStr for JobHandle {
    type Err = Error;

    /// Parses `<hash>-<jobid>`, splitting on the first `-` as TheSchwartz does.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::MalformedHandle {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (hash, id) = s.split_once('-').ok_or_else(|| bad("no '-' separator"))?;
        if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(bad("the store hash is not 32 lowercase hex digits"));
        }
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the job id is not a positive decimal number"));
        }
        let jobid: i64 = id.parse().map_err(|_| bad("the job id does not fit in 64 bits"))?;
        Ok(JobHandle::new(StoreHash::from_hex(hash), JobId(jobid)))
    }
}
