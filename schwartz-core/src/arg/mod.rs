//! Job arguments: the encodings ([`ArgFormat`]), how the encoding of a stored argument is
//! recognised ([`encoding_of`]), decoding whichever it is ([`decode`]), and the pre-deploy
//! check of a queue against an argument type ([`check_pending`], [`Client::check_args`]).
//!
//! # Formats
//!
//! - **JSON** (the default): self-describing text. Perl reads it with `decode_json`,
//!   operators read it in `schwartz show`, and a type may gain optional fields without
//!   breaking the jobs already queued.
//! - **Storable** (`nfreeze`): what Perl's TheSchwartz stores for a hash or array
//!   reference argument; a Perl worker's `$job->arg` is then that reference.
//! - **bincode 2**: compact, not self-describing; for queues only Rust reads. Written with
//!   the 4-byte prefix [`BINCODE_MAGIC`].
//!
//! # Recognition
//!
//! TheSchwartz's `job` table has no format column, so the bytes say what they are. The
//! three formats written are told apart by their first byte, so no argument written in
//! one is ever read as another:
//!
//! | first bytes | encoding |
//! | --- | --- |
//! | `FF 53 62 32` ([`BINCODE_MAGIC`]) | bincode: `0xFF` never occurs in UTF-8 (so never in JSON) and is not a Storable header |
//! | `05` or `04`, then a minor version up to 12, and the rest a whole valid image | Storable (`nfreeze` / `freeze`, major version 2): neither byte may start JSON text |
//! | a whole JSON text (UTF-8, one value, whitespace around it allowed) | JSON |
//! | anything else | raw: a Perl scalar, or bincode written before formats existed |
//!
//! Raw bytes are decoded as bincode without the prefix (what earlier versions of Schwartz
//! wrote), with bincode's own checks: the value must use every byte, and no length may
//! claim more than the argument holds. That is the one place a guess remains: bytes
//! without the prefix that happen to be a whole JSON text or Storable image are read as
//! that, as Perl's TheSchwartz itself reads a scalar that looks like Storable. Only tiny
//! values can be both (bincode writes a string's length in front of it, a control byte
//! JSON refuses for strings under 32 bytes); [`check_pending`] finds such rows before a
//! deploy (they show as JSON or Storable rows that fail to decode as the new type).
//!
//! A decode never falls back from a recognised format to another: JSON text that does
//! not fit the type is an error naming JSON, never a bincode reading of the same bytes.
//!
//! # Evolving an argument type
//!
//! With JSON (and Storable), a field added as `Option<_>` (or with `#[serde(default)]`)
//! decodes from jobs queued before it existed; a removed field is ignored unless the type
//! says `#[serde(deny_unknown_fields)]`. Renaming a field needs `#[serde(alias = "old")]`.
//! Changing a field's type needs a new function name or a check of the queue
//! ([`Client::check_args`], `schwartz check-args`). bincode arguments cannot evolve: any
//! change of the type breaks the jobs already queued.
//!
//! # Bounds
//!
//! No argument can make a decode allocate or recurse without bound: bincode through
//! `arg_cap` (see [`decode_arg`](crate::decode_arg)), JSON by serde_json's own design (no
//! pre-allocation from claimed lengths, 128 levels at most), Storable by a parser that
//! trusts no length beyond the bytes left and a decode that visits at most 8 values (or string bytes) per
//! byte (shared references) and nests at most 256 levels.
//!
//! [`Client::check_args`]: crate::Client::check_args

mod bincode;
mod check;
mod json;
mod storable;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::JobId;

pub use self::bincode::MAGIC as BINCODE_MAGIC;
pub use check::{check_pending, scan_pending, ArgCheck, ArgReport};

/// How a typed argument is written ([`Job::arg_format`](crate::Job::arg_format),
/// [`ClientBuilder::arg_format`](crate::ClientBuilder::arg_format)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArgFormat {
    /// JSON text (serde_json). The default: self-describing, evolvable, readable by
    /// people and by Perl.
    #[default]
    Json,
    /// bincode 2 (standard configuration) after [`BINCODE_MAGIC`]: compact, for queues
    /// only Rust reads, and not evolvable.
    Bincode,
    /// Perl Storable as `nfreeze` writes it: a Perl worker's `$job->arg` is the hash or
    /// array reference. The value must be a struct, map, sequence or tuple.
    Storable,
}

/// The encoding a stored argument was recognised as ([`encoding_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgEncoding {
    /// A whole JSON text.
    Json,
    /// A Perl Storable image (`nfreeze` or `freeze`).
    Storable,
    /// bincode after [`BINCODE_MAGIC`].
    Bincode,
    /// None of these: a Perl scalar, or bincode written before formats existed.
    Raw,
}

impl ArgEncoding {
    /// `json`, `storable`, `bincode` or `raw`.
    pub fn name(self) -> &'static str {
        match self {
            ArgEncoding::Json => "json",
            ArgEncoding::Storable => "storable",
            ArgEncoding::Bincode => "bincode",
            ArgEncoding::Raw => "raw",
        }
    }
}

impl fmt::Display for ArgEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Encodes a typed argument in `format`.
///
/// # Errors
/// [`Error::ArgEncode`]: the value cannot be serialised (a map with non-string keys in
/// JSON), or, for Storable, it is not a hash or array, or has keys Perl cannot have.
pub fn encode<T: Serialize + ?Sized>(format: ArgFormat, value: &T) -> Result<Vec<u8>> {
    let fail = |message: String| Error::ArgEncode {
        type_name: std::any::type_name::<T>(),
        message: format!("{}: {message}", format_name(format)),
    };
    match format {
        ArgFormat::Json => json::encode(value).map_err(fail),
        ArgFormat::Storable => storable::to_vec(value).map_err(|e| fail(e.0)),
        ArgFormat::Bincode => {
            let mut out = BINCODE_MAGIC.to_vec();
            out.extend(bincode::encode(value)?);
            Ok(out)
        }
    }
}

fn format_name(format: ArgFormat) -> &'static str {
    match format {
        ArgFormat::Json => "JSON",
        ArgFormat::Bincode => "bincode",
        ArgFormat::Storable => "Storable",
    }
}

/// Which encoding `bytes` are (see the module's doc for the rules).
pub fn encoding_of(bytes: &[u8]) -> ArgEncoding {
    if bytes.starts_with(&BINCODE_MAGIC) {
        return ArgEncoding::Bincode;
    }
    match storable::probe(bytes) {
        storable::Probe::Plain(_) | storable::Probe::Unsupported(_) => ArgEncoding::Storable,
        storable::Probe::NotStorable if json::is_json(bytes) => ArgEncoding::Json,
        storable::Probe::NotStorable => ArgEncoding::Raw,
    }
}

/// Decodes a stored argument as a `T`, whichever encoding it is in (see the module's doc).
///
/// # Errors
/// [`Error::ArgDecode`] naming `jobid`, `T`, the encoding recognised and what did not fit.
pub fn decode<T: DeserializeOwned>(jobid: JobId, bytes: &[u8]) -> Result<T> {
    let fail = |encoding: &str, message: String| Error::ArgDecode {
        jobid,
        expected: std::any::type_name::<T>(),
        message: format!("{encoding} argument: {message}"),
    };
    if let Some(rest) = bytes.strip_prefix(&BINCODE_MAGIC) {
        return bincode::decode(rest).map_err(|m| fail("bincode", m));
    }
    match storable::probe(bytes) {
        storable::Probe::Plain(tree) => {
            return storable::from_tree(&tree, bytes.len()).map_err(|e| fail("Storable", e.0))
        }
        storable::Probe::Unsupported(m) => return Err(fail("Storable", m)),
        storable::Probe::NotStorable => {}
    }
    match json::decode(bytes) {
        Ok(value) => Ok(value),
        Err(m) if json::is_json(bytes) => Err(fail("JSON", m)),
        Err(_) => bincode::decode(bytes).map_err(|m| {
            fail(
                "raw",
                format!("not JSON, Storable or prefixed bincode; read as bincode: {m}"),
            )
        }),
    }
}

/// Decodes a stored argument as a `T` in the given format, without recognition: for
/// bincode, with or without [`BINCODE_MAGIC`].
///
/// # Errors
/// [`Error::ArgDecode`] naming `jobid`, `T` and the format.
pub fn decode_as<T: DeserializeOwned>(format: ArgFormat, jobid: JobId, bytes: &[u8]) -> Result<T> {
    let result = match format {
        ArgFormat::Json => json::decode(bytes),
        ArgFormat::Storable => storable::from_slice(bytes).map_err(|e| e.0),
        ArgFormat::Bincode => bincode::decode(bytes.strip_prefix(&BINCODE_MAGIC).unwrap_or(bytes)),
    };
    result.map_err(|message| Error::ArgDecode {
        jobid,
        expected: std::any::type_name::<T>(),
        message: format!("{} argument: {message}", format_name(format)),
    })
}

/// A self-describing argument (JSON or Storable) as a JSON value, for display and
/// inspection: `None` for bincode and raw bytes (not self-describing), `Some(Err)` when a
/// Storable image holds what cannot be decoded (a blessed object, code, a cycle).
/// Storable's undef is `null`; strings Perl did not mark as UTF-8 are read as the
/// module's doc says.
pub fn to_json(bytes: &[u8]) -> Option<std::result::Result<serde_json::Value, String>> {
    match encoding_of(bytes) {
        ArgEncoding::Json => Some(json::value(bytes)),
        ArgEncoding::Storable => Some(storable::from_slice(bytes).map_err(|e| e.0)),
        ArgEncoding::Bincode | ArgEncoding::Raw => None,
    }
}

impl crate::Client {
    /// A new job for `funcname` whose typed argument ([`Job::arg`](crate::Job::arg)) is
    /// encoded in the client's [`arg_format`](crate::ClientBuilder::arg_format).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use schwartz_core::{ArgEncoding, ArgFormat, Client};
    /// let client = Client::builder()
    ///     .store(Arc::new(schwartz_memory::MemoryStore::new()))
    ///     .arg_format(ArgFormat::Bincode)
    ///     .build()?;
    /// let job = client.job("resize").arg(&(640u32, 480u32))?;
    /// let bytes = job.raw_arg_bytes().unwrap();
    /// assert_eq!(schwartz_core::arg::encoding_of(bytes), ArgEncoding::Bincode);
    /// # Ok::<(), schwartz_core::Error>(())
    /// ```
    pub fn job(&self, funcname: impl Into<String>) -> crate::Job {
        crate::Job::new(funcname).arg_format(self.settings().arg_format)
    }
}

/// The argument of a job row as a `T` ([`QueuedJob::arg`](crate::QueuedJob::arg)): a
/// missing argument is an error.
pub(crate) fn decode_row<T: DeserializeOwned>(jobid: JobId, arg: Option<&[u8]>) -> Result<T> {
    match arg {
        Some(bytes) => decode(jobid, bytes),
        None => Err(Error::ArgDecode {
            jobid,
            expected: std::any::type_name::<T>(),
            message: String::from("the job has no argument"),
        }),
    }
}

#[cfg(test)]
mod tests;
