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
        if hash.len() != 32
            || !hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("the store hash is not 32 lowercase hex digits"));
        }
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the job id is not a positive decimal number"));
        }
        let jobid: i64 = id
            .parse()
            .map_err(|_| bad("the job id does not fit in 64 bits"))?;
        Ok(JobHandle::new(StoreHash::from_hex(hash), JobId(jobid)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "eae9d236036d6721abb31c1c36abc2a7";

    #[test]
    fn round_trip() {
        let h: JobHandle = format!("{HASH}-42").parse().unwrap();
        assert_eq!(h.store().as_str(), HASH);
        assert_eq!(h.jobid(), JobId(42));
        assert_eq!(h.to_string(), format!("{HASH}-42"));
        let made = JobHandle::new(StoreHash::of("dbi:SQLite:dbname=tr.db|"), JobId(1));
        assert_eq!(made.to_string(), format!("{HASH}-1"));
        assert_eq!(made.to_string().parse::<JobHandle>().unwrap(), made);
    }

    #[test]
    fn malformed() {
        let long_hash = format!("{HASH}0");
        let cases = [
            String::new(),
            String::from("-"),
            String::from("nonsense"),
            HASH.to_string(),
            format!("{HASH}-"),
            format!("{HASH}-x1"),
            format!("{HASH}--1"),
            format!("{HASH}-1-2"),
            format!("{HASH}-+1"),
            format!("{HASH}- 1"),
            format!("{HASH}-99999999999999999999999"),
            format!("{}-1", HASH.to_uppercase()),
            format!("{}-1", &HASH[..31]),
            format!("{long_hash}-1"),
            String::from("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-1"),
            String::from("é-1"),
            format!("{HASH}-١"),
        ];
        for c in cases {
            match c.parse::<JobHandle>() {
                Err(Error::MalformedHandle { input, reason }) => {
                    assert_eq!(input, c);
                    assert!(!reason.is_empty());
                }
                other => panic!("{c:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn splits_on_first_dash() {
        // TheSchwartz splits on the first '-': a hash never contains one.
        assert!(format!("{HASH}-0").parse::<JobHandle>().is_ok());
        assert_eq!(
            format!("{HASH}-{}", i64::MAX)
                .parse::<JobHandle>()
                .unwrap()
                .jobid(),
            JobId(i64::MAX)
        );
    }
}
