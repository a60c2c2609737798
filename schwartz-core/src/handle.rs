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

/// The longest input a [`Error::MalformedHandle`] repeats whole; longer ones are cut.
const SHOWN_INPUT: usize = 80;

/// The input as an error repeats it: whole when short, else its start and its length.
fn shown(s: &str) -> String {
    if s.len() <= SHOWN_INPUT {
        return s.to_string();
    }
    let mut end = SHOWN_INPUT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &s[..end], s.len())
}

impl FromStr for JobHandle {
    type Err = Error;

    /// Parses `<hash>-<jobid>`, splitting on the first `-` as TheSchwartz does. Only the
    /// canonical form is accepted, the one [`Display`](fmt::Display) prints: 32 lowercase
    /// hex digits, `-`, a positive decimal job id without sign or leading zeros.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::MalformedHandle {
            input: shown(s),
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
        if id.bytes().all(|b| b == b'0') {
            return Err(bad("job id 0 names no job (job ids start at 1)"));
        }
        if id.starts_with('0') {
            return Err(bad(
                "the job id has leading zeros (a handle is written without them)",
            ));
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
            format!("{HASH}-0"),
            format!("{HASH}-00"),
            format!("{HASH}-01"),
            format!("{HASH}-007"),
        ];
        for c in cases {
            match c.parse::<JobHandle>() {
                Err(Error::MalformedHandle { input, reason }) => {
                    assert_eq!(input, c, "short inputs are repeated whole");
                    assert!(!reason.is_empty());
                }
                other => panic!("{c:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn long_input_is_cut_in_the_error() {
        let huge = format!("{HASH}-{}", "é".repeat(512 * 1024));
        let e = huge.parse::<JobHandle>().unwrap_err();
        let text = e.to_string();
        assert!(text.len() < 400, "{} bytes of error", text.len());
        assert!(
            text.contains(&format!("({} bytes in all)", huge.len())),
            "{text}"
        );
    }

    #[test]
    fn splits_on_first_dash() {
        // TheSchwartz splits on the first '-': a hash never contains one.
        assert_eq!(
            format!("{HASH}-{}", i64::MAX)
                .parse::<JobHandle>()
                .unwrap()
                .jobid(),
            JobId(i64::MAX)
        );
    }
}
