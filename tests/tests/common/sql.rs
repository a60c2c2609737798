//! SQL backends: SQLite always; PostgreSQL and MySQL/MariaDB when their servers answer
//! (SCHWARTZ_PG_URL, SCHWARTZ_MYSQL_URL). Each test gets its own database, dropped at the end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use schwartz_core::store::Store;
use schwartz_diesel::{admin, DieselStore};

use super::Db;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn dbs(tag: &str) -> Vec<Db> {
    let mut v = vec![sqlite()];
    let pg = std::env::var("SCHWARTZ_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let my = std::env::var("SCHWARTZ_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string());
    for (name, url) in [("postgres", pg), ("mysql", my)] {
        match server(name, &url, tag) {
            Ok(db) => v.push(db),
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{name} not reachable in CI: {e}");
                }
                eprintln!("{name}: skipped ({e})");
            }
        }
    }
    v
}

fn sqlite() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store = DieselStore::connect(&url).expect("sqlite");
    store.run_migrations().expect("migrations");
    let reopen_url = url.clone();
    Db {
        name: "sqlite",
        store: Arc::new(store),
        reopen: Box::new(move || {
            Arc::new(DieselStore::connect(&reopen_url).expect("sqlite")) as Arc<dyn Store>
        }),
        _guard: Some(Box::new(dir)),
    }
}

/// Drops the database when the test ends.
struct DropDb {
    admin: String,
    db: String,
}

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Err(e) = admin::drop_database(&self.admin, &self.db) {
            eprintln!("dropping database {}: {e}", self.db);
        }
    }
}

fn server(name: &'static str, admin: &str, tag: &str) -> Result<Db, String> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let db = format!("sw_{tag}_{}_{n}", std::process::id());
    admin::drop_database(admin, &db).map_err(|e| e.to_string())?;
    admin::create_database(admin, &db).map_err(|e| e.to_string())?;
    let guard = DropDb {
        admin: admin.to_string(),
        db: db.clone(),
    };
    let url = admin::with_database(admin, &db).map_err(|e| e.to_string())?;
    let store = DieselStore::connect(&url).map_err(|e| e.to_string())?;
    store.run_migrations().map_err(|e| e.to_string())?;
    let reopen_url = url.clone();
    Ok(Db {
        name,
        store: Arc::new(store),
        reopen: Box::new(move || {
            Arc::new(DieselStore::connect(&reopen_url).expect("connect")) as Arc<dyn Store>
        }),
        _guard: Some(Box::new(guard)),
    })
}
