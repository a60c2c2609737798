//! The SQL stores of `schwartz-diesel`: SQLite (a temporary file per test), PostgreSQL
//! (`SCHWARTZ_PG_URL`) and MySQL/MariaDB (`SCHWARTZ_MYSQL_URL`), each test in a database of
//! its own that is dropped afterwards.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use schwartz_core::store::Store;
use schwartz_diesel::{admin, DieselStore};

use crate::harness::{Backend, TestDb};

/// Default PostgreSQL server URL (its database is only used to reach the server).
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default MySQL/MariaDB server URL.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// How long a store over a missing database waits for a connection.
const MISSING_TIMEOUT: Duration = Duration::from_millis(500);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A short unique database name for a test tag: `sch_<hash>_<pid>_<n>`.
fn db_name(tag: &str) -> String {
    let mut h = DefaultHasher::new();
    tag.hash(&mut h);
    format!(
        "sch_{:08x}_{}_{}",
        h.finish() as u32,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// SQLite: a temporary directory per test.
#[derive(Debug)]
pub struct Sqlite;

impl Sqlite {
    fn store_in(dir: &tempfile::TempDir, file: &str) -> Result<DieselStore, String> {
        let path = dir.path().join(file);
        DieselStore::connect(&path.to_string_lossy()).map_err(|e| e.to_string())
    }
}

impl Backend for Sqlite {
    fn name(&self) -> &str {
        "sqlite"
    }

    fn probe(&self) -> Result<(), String> {
        Ok(())
    }

    fn fresh(&self, _tag: &str) -> Result<TestDb, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let store = Self::store_in(&dir, "schwartz.db")?;
        store.run_migrations().map_err(|e| e.to_string())?;
        Ok(TestDb::new(Arc::new(store) as Arc<dyn Store>, dir))
    }

    fn missing(&self, _tag: &str) -> Result<TestDb, String> {
        // A file in a directory that is removed before first use: opening it fails.
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let sub = dir.path().join("gone");
        std::fs::create_dir(&sub).map_err(|e| e.to_string())?;
        let store = DieselStore::builder(&sub.join("schwartz.db").to_string_lossy())
            .connection_timeout(MISSING_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        std::fs::remove_dir(&sub).map_err(|e| e.to_string())?;
        Ok(TestDb::new(Arc::new(store) as Arc<dyn Store>, dir))
    }

    fn empty(&self, _tag: &str) -> Result<TestDb, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("empty.db"), b"").map_err(|e| e.to_string())?;
        let store = Self::store_in(&dir, "empty.db")?;
        Ok(TestDb::new(Arc::new(store) as Arc<dyn Store>, dir))
    }
}

/// Drops a test database when the test is over.
struct DropDb {
    server: String,
    name: String,
}

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Err(e) = admin::drop_database(&self.server, &self.name) {
            eprintln!(
                "conformance: could not drop test database {}: {e}",
                self.name
            );
        }
    }
}

/// A PostgreSQL or MySQL server: a database per test.
pub struct Server {
    name: &'static str,
    env: &'static str,
    default_url: &'static str,
    probed: OnceLock<Result<(), String>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// PostgreSQL at `SCHWARTZ_PG_URL`.
    pub fn postgres() -> Self {
        Server {
            name: "postgres",
            env: "SCHWARTZ_PG_URL",
            default_url: DEFAULT_PG_URL,
            probed: OnceLock::new(),
        }
    }

    /// MySQL/MariaDB at `SCHWARTZ_MYSQL_URL`.
    pub fn mysql() -> Self {
        Server {
            name: "mysql",
            env: "SCHWARTZ_MYSQL_URL",
            default_url: DEFAULT_MYSQL_URL,
            probed: OnceLock::new(),
        }
    }

    fn url(&self) -> String {
        std::env::var(self.env)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| self.default_url.to_string())
    }

    fn create(&self, tag: &str) -> Result<(DieselStore, DropDb), String> {
        let server = self.url();
        let name = db_name(tag);
        admin::create_database(&server, &name).map_err(|e| e.to_string())?;
        let guard = DropDb {
            server: server.clone(),
            name: name.clone(),
        };
        let url = admin::with_database(&server, &name).map_err(|e| e.to_string())?;
        let store = DieselStore::builder(&url)
            .pool_size(4)
            .build()
            .map_err(|e| e.to_string())?;
        Ok((store, guard))
    }
}

impl Backend for Server {
    fn name(&self) -> &str {
        self.name
    }

    fn probe(&self) -> Result<(), String> {
        self.probed
            .get_or_init(|| {
                let url = self.url();
                let store = DieselStore::builder(&url)
                    .connection_timeout(Duration::from_secs(3))
                    .pool_size(1)
                    .build()
                    .map_err(|e| e.to_string())?;
                store.server_time().map(|_| ()).map_err(|e| {
                    format!(
                        "{e} (set {} to a reachable server URL; default {})",
                        self.env, self.default_url
                    )
                })
            })
            .clone()
    }

    fn fresh(&self, tag: &str) -> Result<TestDb, String> {
        let (store, guard) = self.create(tag)?;
        store.run_migrations().map_err(|e| e.to_string())?;
        Ok(TestDb::new(Arc::new(store) as Arc<dyn Store>, guard))
    }

    fn missing(&self, tag: &str) -> Result<TestDb, String> {
        let name = format!("{}_nodb", db_name(tag));
        let url = admin::with_database(&self.url(), &name).map_err(|e| e.to_string())?;
        let store = DieselStore::builder(&url)
            .connection_timeout(MISSING_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(TestDb::new(Arc::new(store) as Arc<dyn Store>, ()))
    }

    fn empty(&self, tag: &str) -> Result<TestDb, String> {
        let (store, guard) = self.create(tag)?;
        Ok(TestDb::new(Arc::new(store) as Arc<dyn Store>, guard))
    }
}
