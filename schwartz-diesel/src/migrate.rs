//! Migrations under other table names, and what every migration run checks first.
//!
//! A store with the plain names runs the embedded migrations as they are
//! ([`crate::migrations`]). A prefixed store runs the same SQL with its names (see
//! [`Names::migration_sql`]) under versions of its own (`20261122000001_app_`), so that
//! several prefixes in one database, and the application's own diesel migrations, keep
//! apart in diesel's history table. On PostgreSQL a schema of the store's holds its tables
//! and its history table (the migrations run with it as `search_path`).
//!
//! Reverting takes the newest applied migration *of this source*, never another one's (an
//! application's newer migration in the same history table stays).

use std::fmt;
use std::sync::Arc;

use diesel::backend::Backend as DieselBackend;
use diesel::connection::BoxableConnection;
use diesel::migration::{
    Migration, MigrationMetadata, MigrationName, MigrationSource, MigrationVersion,
};

use diesel_migrations::MigrationHarness;
use schwartz_core::{Error, Result};
use std::sync::atomic::Ordering;

use crate::conn::{Class, Manager, NOTIFY_UNKNOWN};
use crate::names::Names;
use crate::DieselStore;

mod sql {
    include!(concat!(env!("OUT_DIR"), "/migration_sql.rs"));
}

#[cfg(feature = "mysql")]
pub(crate) use sql::MYSQL;
#[cfg(feature = "postgres")]
pub(crate) use sql::POSTGRES;
#[cfg(feature = "sqlite")]
pub(crate) use sql::SQLITE;

/// The migrations of one backend under a store's names.
#[derive(Debug, Clone)]
pub(crate) struct NamedMigrations {
    names: Arc<Names>,
    list: &'static [(&'static str, &'static str, &'static str)],
}

impl NamedMigrations {
    /// `list` ([`POSTGRES`], [`MYSQL`] or [`SQLITE`]) under `names`.
    pub fn new(
        names: Arc<Names>,
        list: &'static [(&'static str, &'static str, &'static str)],
    ) -> Self {
        NamedMigrations { names, list }
    }
}

/// One migration under a store's names.
#[derive(Debug)]
struct NamedMigration {
    name: &'static str,
    version: String,
    up: String,
    down: String,
}

impl fmt::Display for NamedMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl MigrationName for NamedMigration {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.as_str())
    }
}

/// Every migration of ours runs in a transaction.
struct InTransaction;

impl MigrationMetadata for InTransaction {}

impl<DB: DieselBackend> Migration<DB> for NamedMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        conn.batch_execute(&self.up)?;
        Ok(())
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        conn.batch_execute(&self.down)?;
        Ok(())
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        &InTransaction
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}

impl<DB: DieselBackend> MigrationSource<DB> for NamedMigrations {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        Ok(self
            .list
            .iter()
            .map(|(name, up, down)| {
                let base = name.split('_').next().unwrap_or(name).replace('-', "");
                Box::new(NamedMigration {
                    name,
                    version: format!("{base}_{}", self.names.prefix),
                    up: self.names.migration_sql(up),
                    down: self.names.migration_sql(down),
                }) as Box<dyn Migration<DB>>
            })
            .collect())
    }
}

// --- Running them: the migration methods of `DieselStore` ----------------------------------

/// Runs `$body` with `$pool` bound to the store's pool and `$source` to its migrations: the
/// embedded ones for the plain names, else the same under the store's names.
macro_rules! with_migrations {
    ($store:expr, |$pool:ident, $source:ident| $body:expr) => {{
        let plain = $store.ctx.names.is_plain();
        let names = std::sync::Arc::clone(&$store.ctx.names);
        let _ = &names;
        match &$store.pools {
            #[cfg(feature = "sqlite")]
            crate::store::Pools::Sqlite($pool) if plain => {
                let $source = crate::migrations::SQLITE;
                $body
            }
            #[cfg(feature = "sqlite")]
            crate::store::Pools::Sqlite($pool) => {
                let $source = NamedMigrations::new(names, crate::migrate::SQLITE);
                $body
            }
            #[cfg(feature = "postgres")]
            crate::store::Pools::Pg($pool) if plain => {
                let $source = crate::migrations::POSTGRES;
                $body
            }
            #[cfg(feature = "postgres")]
            crate::store::Pools::Pg($pool) => {
                let $source = NamedMigrations::new(names, crate::migrate::POSTGRES);
                $body
            }
            #[cfg(feature = "mysql")]
            crate::store::Pools::Mysql($pool) if plain => {
                let $source = crate::migrations::MYSQL;
                $body
            }
            #[cfg(feature = "mysql")]
            crate::store::Pools::Mysql($pool) => {
                let $source = NamedMigrations::new(names, crate::migrate::MYSQL);
                $body
            }
            #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
            crate::store::Pools::None(never) => match *never {},
        }
    }};
}

impl DieselStore {
    /// Applies the embedded migrations that are not applied yet; returns their names
    /// (empty when the database is up to date). A store with a table prefix or a schema
    /// applies them under its names (see [`DieselStoreBuilder::table_prefix`](crate::DieselStoreBuilder::table_prefix)).
    ///
    /// Before anything runs, every table of ours that already exists is checked: a table
    /// named like one of ours (`job`, `error`, ... with the store's prefix) without
    /// TheSchwartz's columns is not adopted; the migrations stop with an error naming it.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the database cannot be reached, [`Error::Database`] when a
    /// migration fails or a table of that name is not TheSchwartz's.
    pub fn run_migrations(&self) -> Result<Vec<String>> {
        self.forget_schema_facts();
        with_migrations!(self, |pool, source| self.migrate(pool, source))
    }

    /// Names of the embedded migrations not yet applied (under the store's names).
    ///
    /// # Errors
    /// As [`DieselStore::run_migrations`].
    pub fn pending_migrations(&self) -> Result<Vec<String>> {
        fn pending<C, S>(
            store: &DieselStore,
            pool: &r2d2::Pool<Manager<C>>,
            source: S,
        ) -> Result<Vec<String>>
        where
            C: crate::conn::Dialect + MigrationHarness<C::Backend>,
            S: MigrationSource<C::Backend>,
        {
            let mut conn = store.checkout(pool)?;
            store.in_schema(&mut conn.inner, |c| {
                let list = c
                    .pending_migrations(source)
                    .map_err(|e| store.migration_error(&*e))?;
                Ok(list.iter().map(|m| m.name().to_string()).collect())
            })
        }
        with_migrations!(self, |pool, source| pending(self, pool, source))
    }

    /// Reverts the most recent migration of ours (drops the tables); returns its name, or
    /// `None` when none of ours is applied. Migrations of others in the same history table
    /// (an application's own diesel migrations, a store with another prefix) are left
    /// alone, also when they are newer.
    ///
    /// # Errors
    /// As [`DieselStore::run_migrations`].
    pub fn revert_last_migration(&self) -> Result<Option<String>> {
        self.forget_schema_facts();
        fn revert<C, S>(
            store: &DieselStore,
            pool: &r2d2::Pool<Manager<C>>,
            source: S,
        ) -> Result<Option<String>>
        where
            C: crate::conn::Dialect + MigrationHarness<C::Backend>,
            S: MigrationSource<C::Backend>,
        {
            let mut conn = store.checkout(pool)?;
            store.in_schema(&mut conn.inner, |c| {
                let applied = c
                    .applied_migrations()
                    .map_err(|e| store.migration_error(&*e))?;
                let ours = source
                    .migrations()
                    .map_err(|e| store.migration_error(&*e))?;
                // The newest applied migration of this source (the history may hold others).
                let last = ours
                    .iter()
                    .filter(|m| applied.contains(&m.name().version()))
                    .max_by(|a, b| a.name().version().cmp(&b.name().version()));
                let Some(m) = last else {
                    return Ok(None);
                };
                c.revert_migration(&**m)
                    .map_err(|e| store.migration_error(&*e))?;
                Ok(Some(m.name().to_string()))
            })
        }
        with_migrations!(self, |pool, source| revert(self, pool, source))
    }

    /// Forgets what the store read from the schema, which a migration may change: the
    /// width of the time columns, whether the notify trigger is installed and whether `job`
    /// has the lease index (all read again when next needed).
    fn forget_schema_facts(&self) {
        self.ctx.max_epoch.store(0, Ordering::Relaxed);
        self.ctx
            .notify_trigger
            .store(NOTIFY_UNKNOWN, Ordering::Relaxed);
        self.ctx
            .lease_index
            .store(crate::conn::LEASE_INDEX_UNKNOWN, Ordering::Relaxed);
    }

    /// Runs `f` with the store's PostgreSQL schema as `search_path` (the migrations and
    /// diesel's history table live there), reset afterwards.
    fn in_schema<C: crate::conn::Dialect, T>(
        &self,
        c: &mut C,
        f: impl FnOnce(&mut C) -> Result<T>,
    ) -> Result<T> {
        let Some(schema) = self.ctx.names.schema.as_deref() else {
            return f(c);
        };
        // Raw SQL: diesel has no DSL for session settings. The schema name was checked
        // (lowercase letters, digits, `_`).
        c.batch_execute(&format!("SET search_path TO {schema}"))
            .map_err(|e| self.ctx.map_db(&e))?;
        let result = f(c);
        let reset = c.batch_execute("RESET search_path");
        let value = result?;
        reset.map_err(|e| self.ctx.map_db(&e))?;
        Ok(value)
    }

    fn migration_error(&self, e: &(dyn std::error::Error + Send + Sync)) -> Error {
        let message = self.ctx.scrub(&e.to_string());
        if matches!(
            crate::conn::classify_message(&message.to_ascii_lowercase()),
            Class::Unavailable
        ) {
            Error::Unavailable {
                store: self.ctx.describe.clone(),
                message,
            }
        } else {
            Error::Database {
                store: self.ctx.describe.clone(),
                message: format!("migration failed: {message}"),
            }
        }
    }

    fn migrate<C, S>(&self, pool: &r2d2::Pool<Manager<C>>, source: S) -> Result<Vec<String>>
    where
        C: crate::conn::Dialect + MigrationHarness<C::Backend>,
        S: MigrationSource<C::Backend>,
    {
        let mut conn = self.checkout(pool)?;
        self.in_schema(&mut conn.inner, |c| {
            crate::names::scoped(&self.ctx.names, false, || {
                crate::adopt::check_tables(c, &self.ctx)
            })?;
            let pending = c
                .pending_migrations(source)
                .map_err(|e| self.migration_error(&*e))?;
            let mut names = Vec::with_capacity(pending.len());
            for m in pending {
                c.run_migration(&*m)
                    .map_err(|e| self.migration_error(&*e))?;
                names.push(m.name().to_string());
            }
            Ok(names)
        })
    }
}
