//! [`DieselStoreBuilder`]: pool size, connection timeout, call timeout and table names.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use schwartz_core::{Error, Result};

use crate::conn::{Ctx, Manager};
use crate::store::{DieselStore, Pools};
use crate::url::Target;
use crate::watchdog::Watchdog;
use crate::Backend;

/// Configures a [`DieselStore`]: pool size, connection timeout, call timeout, and the names
/// of its tables (a prefix, a PostgreSQL schema).
#[derive(Debug, Clone)]
pub struct DieselStoreBuilder {
    url: String,
    pool_size: Option<u32>,
    connection_timeout: Duration,
    call_timeout: Duration,
    table_prefix: Option<String>,
    schema: Option<String>,
}

impl DieselStoreBuilder {
    /// The defaults for `url`: 8 connections, 5 s connection and call timeouts.
    pub(crate) fn new(url: &str) -> Self {
        DieselStoreBuilder {
            url: url.to_string(),
            pool_size: None,
            connection_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(5),
            table_prefix: None,
            schema: None,
        }
    }

    /// Puts `prefix` before every table name, as TheSchwartz's per-database `prefix` does:
    /// `app_job`, `app_funcmap`, `app_error`, `app_exitstatus`, `app_note`, and our
    /// `app_schwartz_schedule`, `app_schwartz_result`. Every query, the migrations
    /// ([`DieselStore::run_migrations`]) and the PostgreSQL NOTIFY channels use it, so
    /// queues with different prefixes share a database without seeing each other, and Perl
    /// TheSchwartz configured with the same `prefix` works on the same tables.
    ///
    /// Lowercase ASCII letters, digits and `_`, not starting with a digit, at most 32 bytes
    /// (checked by [`build`](Self::build)). The URL may say it instead, as the query
    /// parameter `schwartz_table_prefix=app_`; this call wins over the URL. Default: none.
    ///
    /// Migrating refuses to adopt an existing table of one of these names that does not
    /// have TheSchwartz's columns. With an application's own connection, use the store's
    /// [`DieselStore::insert_in`] and [`DieselStore::complete_in`] (the free functions of
    /// [`crate::tx`] know only the plain names).
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")]
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    ///
    /// use schwartz_core::{Client, Job};
    /// use schwartz_diesel::DieselStore;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let url = dir.path().join("app.db").to_string_lossy().into_owned();
    /// // Two queues in the application's database, beside its own tables.
    /// let mail = DieselStore::builder(&url).table_prefix("mail_").build()?;
    /// let billing = DieselStore::builder(&url).table_prefix("billing_").build()?;
    /// mail.run_migrations()?; // mail_job, mail_funcmap, mail_error, ...
    /// billing.run_migrations()?;
    ///
    /// let mail = Client::builder().store(Arc::new(mail)).build()?;
    /// let billing = Client::builder().store(Arc::new(billing)).build()?;
    /// mail.insert(Job::new("send_receipt").arg(&42u64)?)?;
    /// assert!(billing.grab_job("send_receipt")?.is_none(), "another queue");
    /// let job = mail.grab_job("send_receipt")?.expect("the mail queue's job");
    /// job.completed()?;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "sqlite"))]
    /// # fn main() {}
    /// ```
    pub fn table_prefix(mut self, prefix: &str) -> Self {
        self.table_prefix = Some(prefix.to_string());
        self
    }

    /// PostgreSQL: the schema that holds the tables (default: the connection's
    /// `search_path`, normally `public`). The schema must exist;
    /// [`DieselStore::run_migrations`] creates the tables and its own migration history in
    /// it. The URL may say it instead, as `schwartz_schema=jobs`. Same characters as
    /// [`table_prefix`](Self::table_prefix).
    pub fn schema(mut self, schema: &str) -> Self {
        self.schema = Some(schema.to_string());
        self
    }

    /// The most connections the pool opens (default 8; an in-memory SQLite database always
    /// uses 1). At least 1.
    pub fn pool_size(mut self, n: u32) -> Self {
        self.pool_size = Some(n.max(1));
        self
    }

    /// How long an operation waits for a connection before it reports
    /// [`Error::Unavailable`] (default 5 s). On PostgreSQL it is also libpq's
    /// `connect_timeout` (whole seconds, at least 2), unless the URL sets one.
    pub fn connection_timeout(mut self, d: Duration) -> Self {
        self.connection_timeout = d;
        self
    }

    /// The longest one database call may take (default 5 s): a call still waiting for the
    /// server then fails with [`Error::Unavailable`] and its connection is discarded, so a
    /// hung server (a stopped process, a frozen host) costs each caller at most this long,
    /// and a client with several stores moves on to the next. A queue's calls are short;
    /// raise it for very large batches or a slow link. Migrations and background vacuums
    /// are not bounded. Enforced on TCP connections on Linux; elsewhere, and over a Unix
    /// socket, only connecting is bounded (by [`connection_timeout`](Self::connection_timeout)).
    /// On SQLite it is the busy timeout: how long a statement waits for another writer.
    pub fn call_timeout(mut self, d: Duration) -> Self {
        self.call_timeout = d.max(Duration::from_millis(1));
        self
    }

    /// Builds the store. No connection is made yet.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown URL scheme, a backend whose Cargo feature is
    /// off, a SQLite path whose directory does not exist, a table prefix or schema with
    /// other characters than the ones allowed, or a schema for another backend than
    /// PostgreSQL.
    pub fn build(self) -> Result<DieselStore> {
        let options = crate::url::take_table_options(&self.url)?;
        let mut target = crate::url::parse(&options.url)?;
        let prefix = self.table_prefix.or(options.prefix).unwrap_or_default();
        let schema = self.schema.or(options.schema);
        let names = crate::names::Names::new(&prefix, schema.as_deref())?;
        if names.schema.is_some() && target.backend != Backend::Postgres {
            return Err(Error::InvalidInput(format!(
                "{}: a schema for the tables is a PostgreSQL option; use a table prefix",
                target.describe
            )));
        }
        if !names.is_plain() {
            // Another queue in the same database: another store.
            target.identity = format!("{}|{}", target.identity, names.describe());
            target.describe = format!("{} ({})", target.describe, names.describe());
        }
        let size = if target.memory {
            1
        } else {
            self.pool_size.unwrap_or(8)
        };
        let timeout = if self.connection_timeout.is_zero() {
            Duration::from_millis(1)
        } else {
            self.connection_timeout
        };
        let births = Arc::new(AtomicU64::new(0));
        let call = self.call_timeout;
        fn pool<C: crate::conn::Dialect>(
            target: &Target,
            size: u32,
            timeout: Duration,
            births: &Arc<AtomicU64>,
            call_timeout: Duration,
        ) -> r2d2::Pool<Manager<C>> {
            let builder = r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(0))
                .connection_timeout(timeout)
                // Broken connections are flagged after a failed operation instead of a
                // round trip on every check-out.
                .test_on_check_out(false)
                .error_handler(Box::new(r2d2::NopErrorHandler));
            // An in-memory database lives as long as its one connection.
            let builder = if target.memory {
                builder.idle_timeout(None).max_lifetime(None)
            } else {
                builder
            };
            let mut connect = target.connect.clone();
            if target.backend == Backend::Postgres && !connect.contains("connect_timeout=") {
                // libpq's own bound on connecting, so that no connection attempt of the
                // pool's helper threads outlives the pool's wait for it.
                let secs = timeout.as_secs_f64().ceil().max(2.0) as u64;
                let sep = if connect.contains('?') { '&' } else { '?' };
                connect = format!("{connect}{sep}connect_timeout={secs}");
            }
            builder.build_unchecked(
                Manager::new(connect, target.secret.clone(), Arc::clone(births))
                    .busy_timeout(call_timeout),
            )
        }
        let pools = match target.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Pools::Sqlite(pool(&target, size, timeout, &births, call)),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Pools::Pg(pool(&target, size, timeout, &births, call)),
            #[cfg(feature = "mysql")]
            Backend::Mysql => Pools::Mysql(pool(&target, size, timeout, &births, call)),
            #[allow(unreachable_patterns)]
            other => {
                let _ = (size, timeout, call);
                return Err(Error::InvalidInput(format!(
                    "the {other} backend needs the `{other}` feature of schwartz-diesel"
                )));
            }
        };
        let ctx = Ctx::new(
            target.describe.clone(),
            target.backend,
            target.secret.clone(),
        )
        .with_names(names);
        let watchdog = Watchdog::new(self.call_timeout, ctx.describe.clone());
        Ok(DieselStore {
            pools,
            ctx,
            target,
            births,
            suspect_below: AtomicU64::new(0),
            watchdog,
        })
    }
}
