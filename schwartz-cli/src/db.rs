//! The databases of one invocation: URLs, passwords, stores, and which did not answer.

use std::sync::Arc;
use std::time::Duration;

use schwartz_core::store::Store;
use schwartz_core::{JobHandle, JobId, StoreHash};
use schwartz_diesel::DieselStore;
use serde::Serialize;

use crate::fail::Fail;

/// One database.
#[derive(Debug, Clone)]
pub struct Db {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The hash in its job handles.
    pub hash: StoreHash,
    /// Backend, host and database name (never a password).
    pub name: String,
}

impl Db {
    /// The handle of a job of this database.
    pub fn handle(&self, jobid: JobId) -> String {
        JobHandle::new(self.hash.clone(), jobid).to_string()
    }
}

/// A database that did not answer, for output.
#[derive(Debug, Clone, Serialize)]
pub struct Down {
    /// `Db::name`.
    pub database: String,
    /// The store hash.
    pub hash: String,
    /// What went wrong (never a password).
    pub error: String,
}

/// Where each database stands, for `--json` documents.
#[derive(Debug, Clone, Serialize)]
pub struct DbStatus {
    /// `Db::name`.
    pub database: String,
    /// The store hash (the first part of its job handles).
    pub hash: String,
    /// Whether it answered.
    pub ok: bool,
    /// Why not, when it did not.
    pub error: Option<String>,
}

/// Every database of the invocation, and those that failed so far.
#[derive(Debug, Default)]
pub struct Dbs {
    /// The databases, in the order given.
    pub list: Vec<Db>,
    /// Databases that did not answer (reported on stderr and in JSON).
    pub down: Vec<Down>,
}

/// Options that say how to reach the databases.
#[derive(Debug, Clone)]
pub struct Connect {
    /// The URLs as given (possibly without passwords).
    pub urls: Vec<String>,
    /// A password for URLs that name a user but no password.
    pub password: Option<String>,
    /// How long to wait for a connection.
    pub timeout: Duration,
    /// The tables' prefix, for every database (`--table-prefix`).
    pub table_prefix: Option<String>,
    /// PostgreSQL: the tables' schema, for every database (`--schema`).
    pub schema: Option<String>,
}

/// Percent-encodes a password for a URL's user-info part.
fn encode(password: &str) -> String {
    let mut out = String::new();
    for b in password.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Adds `password` to a `scheme://user@host/...` URL that names a user and no password.
pub fn with_password(url: &str, password: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let user = &rest[..at];
    if user.is_empty() || user.contains(':') {
        return url.to_string();
    }
    format!("{scheme}://{user}:{}{}", encode(password), &rest[at..])
}

impl Connect {
    /// A store for every URL, with the password (if one was given apart) filled in and at
    /// most `pool_size` connections each; no connection is made yet.
    ///
    /// # Errors
    /// Usage errors: no database given, or a URL the stores refuse.
    pub fn stores(&self, pool_size: u32) -> Result<Vec<DieselStore>, Fail> {
        if self.urls.is_empty() {
            return Err(Fail::usage(
                "no database: give --database URL (repeatable) or set SCHWARTZ_DATABASES",
            ));
        }
        self.urls
            .iter()
            .map(|url| {
                let url = match &self.password {
                    Some(p) => with_password(url, p),
                    None => url.clone(),
                };
                let mut builder = DieselStore::builder(&url)
                    .connection_timeout(self.timeout)
                    .pool_size(pool_size);
                if let Some(p) = &self.table_prefix {
                    builder = builder.table_prefix(p);
                }
                if let Some(s) = &self.schema {
                    builder = builder.schema(s);
                }
                builder.build().map_err(|e| Fail::usage(e.to_string()))
            })
            .collect()
    }
}

impl Dbs {
    /// Builds a store for every URL (no connection is made yet).
    ///
    /// # Errors
    /// Usage errors: no database given, or a URL the stores refuse.
    pub fn open(c: &Connect) -> Result<Dbs, Fail> {
        Dbs::open_pooled(c, 2)
    }

    /// [`Dbs::open`] with at most `pool_size` connections per database (a server answers
    /// several requests at once).
    ///
    /// # Errors
    /// As [`Dbs::open`].
    pub fn open_pooled(c: &Connect, pool_size: u32) -> Result<Dbs, Fail> {
        let mut list = Vec::new();
        for store in c.stores(pool_size)? {
            let store: Arc<dyn Store> = Arc::new(store);
            let hash = StoreHash::of(&store.identity());
            if list.iter().any(|d: &Db| d.hash == hash) {
                continue;
            }
            list.push(Db {
                name: store.describe(),
                hash,
                store,
            });
        }
        Ok(Dbs {
            list,
            down: Vec::new(),
        })
    }

    /// Runs `f` on every database; a database whose call fails is reported on stderr,
    /// remembered in [`Dbs::down`] and left out of the result.
    pub fn each<T>(&mut self, mut f: impl FnMut(&Db) -> schwartz_core::Result<T>) -> Vec<(Db, T)> {
        let mut out = Vec::new();
        for db in self.list.clone() {
            if self.down.iter().any(|d| d.hash == db.hash.as_str()) {
                continue;
            }
            match f(&db) {
                Ok(v) => out.push((db, v)),
                Err(e) => self.mark_down(&db, &e.to_string()),
            }
        }
        out
    }

    /// Records that `db` did not answer, and says so on stderr.
    pub fn mark_down(&mut self, db: &Db, error: &str) {
        let error = &crate::fail::one_line(error);
        eprintln!("schwartz: database {} did not answer: {error}", db.name);
        self.down.push(Down {
            database: db.name.clone(),
            hash: db.hash.to_string(),
            error: error.to_string(),
        });
    }

    /// The database whose hash is in `handle`.
    ///
    /// # Errors
    /// Not found when no database has that hash.
    pub fn for_handle(&self, handle: &JobHandle) -> Result<&Db, Fail> {
        self.list
            .iter()
            .find(|d| &d.hash == handle.store())
            .ok_or_else(|| {
                Fail::not_found(format!(
                    "job {handle}: no database given has hash {} (databases: {})",
                    handle.store(),
                    self.list
                        .iter()
                        .map(|d| format!("{} = {}", d.hash, d.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Status of every database, for JSON.
    pub fn statuses(&self) -> Vec<DbStatus> {
        self.list
            .iter()
            .map(|d| {
                let down = self.down.iter().find(|x| x.hash == d.hash.as_str());
                DbStatus {
                    database: d.name.clone(),
                    hash: d.hash.to_string(),
                    ok: down.is_none(),
                    error: down.map(|x| x.error.clone()),
                }
            })
            .collect()
    }

    /// `Err` with exit code 3 when a database did not answer (its output was shown).
    ///
    /// # Errors
    /// [`Fail::down`] naming how many databases did not answer.
    pub fn finish(&self) -> Result<(), Fail> {
        if self.down.is_empty() {
            Ok(())
        } else {
            Err(Fail::down(format!(
                "{} of {} databases did not answer",
                self.down.len(),
                self.list.len()
            )))
        }
    }
}

/// Parses `HANDLE` or, with one database, a bare job id.
///
/// # Errors
/// Usage errors for malformed input, or a bare id with several databases.
pub fn parse_job_ref(dbs: &Dbs, s: &str) -> Result<JobHandle, Fail> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let id: i64 = s
            .parse()
            .map_err(|_| Fail::usage(format!("job id {s:?} does not fit in 64 bits")))?;
        return match dbs.list.as_slice() {
            [one] => Ok(JobHandle::new(one.hash.clone(), JobId(id))),
            _ => Err(Fail::usage(format!(
                "job id {s} is ambiguous with {} databases: give its handle (<hash>-{s})",
                dbs.list.len()
            ))),
        };
    }
    s.parse::<JobHandle>()
        .map_err(|e| Fail::usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::with_password;

    #[test]
    fn adds_passwords_only_where_missing() {
        assert_eq!(
            with_password("postgres://bob@h:5432/db", "p@ss:w/rd"),
            "postgres://bob:p%40ss%3Aw%2Frd@h:5432/db"
        );
        assert_eq!(
            with_password("mysql://bob:given@h/db", "x"),
            "mysql://bob:given@h/db"
        );
        assert_eq!(with_password("mysql://h/db", "x"), "mysql://h/db");
        assert_eq!(with_password("/tmp/a.db", "x"), "/tmp/a.db");
        assert_eq!(
            with_password("sqlite:///tmp/a@b.db", "x"),
            "sqlite:///tmp/a@b.db"
        );
    }
}
