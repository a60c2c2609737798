//! Diesel-backed [`Store`](schwartz_core::store::Store)s for Schwartz: SQLite, PostgreSQL and
//! MySQL/MariaDB, on TheSchwartz's tables.
//!
//! [`DieselStore::connect`] picks the backend from the URL:
//!
//! | URL | backend | Cargo feature |
//! |---|---|---|
//! | `postgres://user:pass@host:5432/db`, `postgresql://...` | PostgreSQL | `postgres` |
//! | `mysql://user:pass@host:3306/db` (`mariadb://` too) | MySQL / MariaDB | `mysql` |
//! | `sqlite:///abs/path.db`, `sqlite://rel.db`, `sqlite:path`, `/path/jobs.db`, `jobs.sqlite` | SQLite file | `sqlite` (default) |
//! | `sqlite::memory:` | SQLite in memory (one connection) | `sqlite` |
//!
//! A URL whose scheme is unknown, or whose backend's feature is not compiled in, is
//! [`Error::InvalidInput`](schwartz_core::Error::InvalidInput); a mistyped URL never creates
//! a SQLite file, and a SQLite path whose directory does not exist is refused.
//!
//! Connecting does not touch the server: the connection pool fills lazily, so a client can be
//! configured with a database that is down and fail over; each operation then reports
//! [`Error::Unavailable`](schwartz_core::Error::Unavailable).
//!
//! The tables are created by the embedded migrations ([`DieselStore::run_migrations`], or
//! `cargo xtask migrate --database-url URL`). Their names may carry a prefix, as
//! TheSchwartz's per-database `prefix` ([`DieselStoreBuilder::table_prefix`]), and on
//! PostgreSQL live in a schema of their own ([`DieselStoreBuilder::schema`]). A database created by TheSchwartz's own schema
//! files works as it is (MySQL `UNSIGNED` columns, PostgreSQL tables without primary keys,
//! the SQLite test schema without `note`).
//!
//! Time always comes from the database server (`now()`, `UNIX_TIMESTAMP()`, `unixepoch()`).
//! On PostgreSQL and MySQL 8 / MariaDB 10.6+ the batch grab uses `FOR UPDATE SKIP LOCKED`;
//! SQLite runs the claims of one call in one `BEGIN IMMEDIATE` transaction. PostgreSQL
//! stores send `NOTIFY schwartz_jobs` when jobs are inserted ([`Store::notifier`]); a store with
//! a table prefix `app_` uses the channel `app_schwartz_jobs` (with a schema `jobs`:
//! `jobs_app_schwartz_jobs`).
//!
//! Queue tables change shape fast, faster than the servers' background maintenance follows.
//! After bulk inserts (`insert_jobs` calls of 100 rows or more) the store refreshes the
//! optimizer statistics of `job` when they are missing or far behind (PostgreSQL `ANALYZE`,
//! MySQL `ANALYZE TABLE`); on PostgreSQL it also vacuums `job` on a background thread when
//! completed jobs have left many dead rows, so long drains keep their speed with or without
//! autovacuum.
//!
//! [`Store::notifier`]: schwartz_core::store::Store::notifier
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use schwartz_core::store::{NewJobRow, Store};
//! use schwartz_diesel::DieselStore;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("jobs.db");
//! let store = DieselStore::connect(path.to_str().unwrap())?;
//! let applied = store.run_migrations()?;
//! // The tables, the claim index, the index on grabbed_until, and our tables of schedules
//! // and job results.
//! assert_eq!(applied.len(), 5);
//! assert!(store.run_migrations()?.is_empty(), "idempotent");
//!
//! let store: Arc<dyn Store> = Arc::new(store);
//! let funcid = store.funcid("Email::Send")?;
//! let now = store.server_time()?;
//! let ids = store.insert_jobs(&[NewJobRow {
//!     jobid: None,
//!     funcid,
//!     arg: Some(b"hello".to_vec()),
//!     uniqkey: None,
//!     insert_time: now,
//!     run_after: now,
//!     grabbed_until: 0,
//!     priority: None,
//!     coalesce: None,
//! }])?;
//! let job = store.lookup(ids[0])?.expect("pending");
//! assert_eq!(job.arg.as_deref(), Some(&b"hello"[..]));
//! assert!(store.describe().starts_with("sqlite "));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "schwartz-diesel needs at least one backend feature: `sqlite` (the default), \
     `postgres` or `mysql`"
);

#[cfg(feature = "testing")]
pub mod admin;
mod adopt;
mod builder;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod change;
mod conn;
mod finish;
mod inspect;
mod migrate;
mod models;
mod names;
mod notify;
mod ops;
mod ours;
#[cfg(feature = "testing")]
pub mod prepared;
#[cfg(not(feature = "testing"))]
mod prepared;
mod records;
mod schema;
mod sql;
mod store;
pub mod tx;
mod url;
mod watchdog;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
mod mysql_ids;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use builder::DieselStoreBuilder;
pub use store::DieselStore;
pub use tx::{complete_in, fail_in, insert_in, insert_jobs_in, TxConnection};

#[cfg(feature = "postgres")]
pub use ours::RESULT_CHANNEL;
#[cfg(feature = "postgres")]
pub use pg::{PgNotifier, CHANNEL as NOTIFY_CHANNEL};

/// The embedded migrations, one set per backend.
pub mod migrations {
    #[cfg(feature = "mysql")]
    /// `migrations/mysql`.
    pub const MYSQL: diesel_migrations::EmbeddedMigrations =
        diesel_migrations::embed_migrations!("migrations/mysql");
    #[cfg(feature = "postgres")]
    /// `migrations/postgres`.
    pub const POSTGRES: diesel_migrations::EmbeddedMigrations =
        diesel_migrations::embed_migrations!("migrations/postgres");
    #[cfg(feature = "sqlite")]
    /// `migrations/sqlite`.
    pub const SQLITE: diesel_migrations::EmbeddedMigrations =
        diesel_migrations::embed_migrations!("migrations/sqlite");
}

/// The database kind behind a [`DieselStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite (a file, or in memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Backend {
    /// The lowercase name: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
        }
    }

    /// Whether this build of the crate includes the backend (its Cargo feature is on).
    pub fn is_compiled_in(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::Mysql => cfg!(feature = "mysql"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Removes every password from text that may hold a database URL or a `key=value`
/// connection string, for messages: `user:***@host`, `password=***`, `sslpassword=***`.
///
/// The one redaction routine of the project (the stores, their errors and `cargo xtask`
/// use it). It is defensive: a password with an unencoded `@`, `/`, `?` or `#`, a mistyped
/// scheme (`postgres:/host`) or a missing one is hidden whole; when in doubt it hides too
/// much.
///
/// ```
/// use schwartz_diesel::redact_url;
/// assert_eq!(redact_url("postgres://app:p@ss/w@db/jobs"), "postgres://app:***@db/jobs");
/// assert_eq!(redact_url("host=db password='a b'"), "host=db password=***");
/// ```
pub fn redact_url(url: &str) -> String {
    url::redact(url)
}
