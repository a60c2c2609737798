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

use crate::names::Names;

mod sql {
    include!(concat!(env!("OUT_DIR"), "/migration_sql.rs"));
}

pub(crate) use sql::{MYSQL, POSTGRES, SQLITE};

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
