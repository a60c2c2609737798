//! SQL backends: SQLite always; PostgreSQL and MySQL/MariaDB when their servers answer
//! (SCHWARTZ_PG_URL, SCHWARTZ_MYSQL_URL). Each test gets its own database, dropped at the end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use diesel::{Connection, RunQueryDsl};
use schwartz_core::Store;
use schwartz_diesel::DieselStore;

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

fn admin_exec(url: &str, sql: &str) -> Result<(), String> {
    if url.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(url).map_err(|e| e.to_string())?;
        diesel::sql_query(sql)
            .execute(&mut c)
            .map_err(|e| e.to_string())?;
    } else {
        let mut c = diesel::MysqlConnection::establish(url).map_err(|e| e.to_string())?;
        diesel::sql_query(sql)
            .execute(&mut c)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{prefix}/{db}{query}")
}

/// Drops the database when the test ends.
struct DropDb {
    admin: String,
    sql: String,
}

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Err(e) = admin_exec(&self.admin, &self.sql) {
            eprintln!("{}: {e}", self.sql);
        }
    }
}

fn server(name: &'static str, admin: &str, tag: &str) -> Result<Db, String> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let db = format!("sw_{tag}_{}_{n}", std::process::id());
    let drop_sql = if name == "postgres" {
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    } else {
        format!("DROP DATABASE IF EXISTS {db}")
    };
    admin_exec(admin, &drop_sql)?;
    admin_exec(admin, &format!("CREATE DATABASE {db}"))?;
    let guard = DropDb {
        admin: admin.to_string(),
        sql: drop_sql,
    };
    let url = with_database(admin, &db);
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
