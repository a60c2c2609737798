//! Newtypes for identifiers and time values.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};

/// A job's id inside one store (`job.jobid`). The same id exists in several stores;
/// a [`JobHandle`](crate::JobHandle) is the global identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A function's id inside one store (`funcmap.funcid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FuncId(pub i32);

impl fmt::Display for FuncId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The identity of one store: lowercase hex MD5 of its identity string
/// (the connection string without the password, `"<dsn>|<user>"` as TheSchwartz does).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreHash(String);

impl StoreHash {
    /// Hashes an identity string (see [`Store::identity`](crate::store::Store::identity)).
    pub fn of(identity: &str) -> Self {
        use md5::{Digest, Md5};
        let digest = Md5::digest(identity.as_bytes());
        let mut hex = String::with_capacity(32);
        for byte in digest {
            hex.push_str(&format!("{byte:02x}"));
        }
        StoreHash(hex)
    }

    /// Wraps an already computed hash (as parsed from a handle string).
    pub fn from_hex(hex: impl Into<String>) -> Self {
        StoreHash(hex.into())
    }

    /// The hash as lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Seconds since the Unix epoch, as stored in the integer time columns.
pub type Epoch = i64;

/// Converts epoch seconds into a UTC date-time (clamped to the representable range).
pub fn epoch_to_datetime(secs: Epoch) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Converts a UTC date-time into epoch seconds (sub-second part dropped).
pub fn datetime_to_epoch(t: DateTime<Utc>) -> Epoch {
    t.timestamp()
}
