//! The pre-deploy check: decode every pending job of a function with the argument type
//! about to ship, and list those that would fail.

use serde::de::DeserializeOwned;

use super::{decode_row, encoding_of, to_json, ArgEncoding};
use crate::client::Client;
use crate::error::Result;
use crate::handle::JobHandle;
use crate::ids::JobId;
use crate::store::{JobQuery, JobRow, Store};

/// One pending job's argument, as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgReport {
    /// The job.
    pub jobid: JobId,
    /// The encoding recognised; `None` when the job has no argument (NULL).
    pub encoding: Option<ArgEncoding>,
    /// The argument's size in bytes (0 without one).
    pub bytes: usize,
    /// Why it does not decode (`None`: it does).
    pub error: Option<String>,
}

/// The result of [`Client::check_args`]: how many pending jobs were checked and those
/// whose argument would not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCheck {
    /// Pending jobs checked, over every store.
    pub checked: usize,
    /// The jobs that would fail, with why.
    pub failures: Vec<(JobHandle, ArgReport)>,
}

/// Every pending job of `funcname` in `store` (grabbed or not, due or scheduled), its
/// argument decoded as `T` exactly as [`QueuedJob::arg`](crate::QueuedJob::arg) will
/// decode it; `error` says why one would fail. A function the store has never seen has
/// no jobs. All the function's rows are read in one query.
///
/// # Errors
/// The store's error.
pub fn check_pending<T: DeserializeOwned>(
    store: &dyn Store,
    funcname: &str,
) -> Result<Vec<ArgReport>> {
    scan(store, funcname, |row| {
        decode_row::<T>(row.jobid, row.arg.as_deref())
            .err()
            .map(|e| e.to_string())
    })
}

/// Every pending job of `funcname` in `store`, without a type: the encoding of each
/// argument, and for self-describing ones (JSON, Storable) whether they parse at all
/// (a Storable image may hold a blessed object or code). bincode and raw arguments are
/// reported without an error: only their type can tell.
///
/// # Errors
/// The store's error.
pub fn scan_pending(store: &dyn Store, funcname: &str) -> Result<Vec<ArgReport>> {
    scan(store, funcname, |row| {
        let bytes = row.arg.as_deref()?;
        match to_json(bytes) {
            Some(Err(m)) => Some(m),
            _ => None,
        }
    })
}

fn scan(
    store: &dyn Store,
    funcname: &str,
    error: impl Fn(&JobRow) -> Option<String>,
) -> Result<Vec<ArgReport>> {
    let Some(func) = store
        .funcmap()?
        .into_iter()
        .find(|f| f.funcname == funcname)
    else {
        return Ok(Vec::new());
    };
    let rows = store.select_jobs(&JobQuery {
        funcids: vec![func.funcid],
        limit: usize::MAX,
        ..JobQuery::default()
    })?;
    Ok(rows
        .iter()
        .map(|row| ArgReport {
            jobid: row.jobid,
            encoding: row.arg.as_deref().map(encoding_of),
            bytes: row.arg.as_deref().map_or(0, <[u8]>::len),
            error: error(row),
        })
        .collect())
}

impl Client {
    /// The pre-deploy check: decodes the argument of every pending job of `funcname`, in
    /// every store of the client, as `T` (the type the new code will ask for), and lists
    /// those that would fail. Run it against the live queue before shipping a changed
    /// argument type; an empty `failures` means every queued job will decode.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use schwartz_core::{Client, Job};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct EmailV1 { to: String }
    /// #[derive(serde::Deserialize)]
    /// struct EmailV2 { to: String, cc: Option<String> } // an added optional field
    /// #[derive(serde::Deserialize)]
    /// struct EmailV3 { to: String, priority: u8 } // an added required field
    ///
    /// let client = Client::builder().store(Arc::new(schwartz_memory::MemoryStore::new())).build()?;
    /// client.insert(Job::new("email").arg(&EmailV1 { to: "a@example.com".into() })?)?;
    /// assert!(client.check_args::<EmailV2>("email")?.failures.is_empty());
    /// let check = client.check_args::<EmailV3>("email")?;
    /// assert_eq!((check.checked, check.failures.len()), (1, 1));
    /// assert!(check.failures[0].1.error.as_deref().unwrap().contains("missing field `priority`"));
    /// # Ok::<(), schwartz_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// The first store's error (the check must see every store to mean anything).
    pub fn check_args<T: DeserializeOwned>(&self, funcname: &str) -> Result<ArgCheck> {
        let mut check = ArgCheck {
            checked: 0,
            failures: Vec::new(),
        };
        for entry in &self.ctx().stores {
            let reports = check_pending::<T>(&*entry.store, funcname)?;
            check.checked += reports.len();
            check.failures.extend(
                reports
                    .into_iter()
                    .filter(|r| r.error.is_some())
                    .map(|r| (JobHandle::new(entry.hash.clone(), r.jobid), r)),
            );
        }
        Ok(check)
    }
}
