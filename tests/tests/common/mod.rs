//! What the pool tests share: a fresh database per backend from the testkit's fixtures,
//! a client, the rows left, a bounded wait.
#![allow(dead_code)]

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use schwartz_core::store::{JobQuery, JobRow, Store};
use schwartz_core::{Client, Pruning};
use schwartz_testkit::{fixtures, TestDb};

/// A fresh database for one test.
pub struct Db {
    /// Backend name, for messages.
    pub name: String,
    /// The store the pool uses.
    pub store: Arc<dyn Store>,
    /// The fixture's database (dropped when the test ends).
    db: TestDb,
}

impl Db {
    /// The database's URL (`None` for the in-memory store).
    pub fn url(&self) -> Option<String> {
        self.db.url.clone()
    }

    /// Another connection pool to the same database (for a second client).
    pub fn reopen(&self) -> Arc<dyn Store> {
        self.db
            .reopen()
            .unwrap_or_else(|e| panic!("{}: reopening the database: {e}", self.name))
    }
}

pub fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = env_logger::builder().is_test(true).try_init();
    });
}

/// A fresh database on every selected, reachable backend (`fixtures::fresh_dbs`: memory,
/// SQLite, PostgreSQL, MySQL; an unreachable server is skipped, or fails under `CI=true`).
pub fn dbs(tag: &str) -> Vec<Db> {
    init_logs();
    fixtures::fresh_dbs(tag)
        .into_iter()
        .map(|(name, db)| Db {
            name,
            store: Arc::clone(&db.store),
            db,
        })
        .collect()
}

/// A client on this store with pruning off (the pool prunes).
pub fn client(store: Arc<dyn Store>) -> Client {
    Client::builder()
        .store(store)
        .pruning(Pruning::Off)
        .build()
        .expect("client")
}

/// The raw rows of `funcname` still in the job table.
pub fn rows(store: &Arc<dyn Store>, funcname: &str) -> Vec<JobRow> {
    let funcid = store.funcid(funcname).expect("funcid");
    store
        .select_jobs(&JobQuery {
            funcids: vec![funcid],
            limit: 1_000_000,
            ..JobQuery::default()
        })
        .expect("select")
}

/// Waits until `cond` holds, up to `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// One row of `SELECT ... AS n` (a count).
#[derive(diesel::QueryableByName)]
pub struct Count {
    /// The count.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// The SQL dbs (memory has no tables or connection of its own) with their URLs.
pub fn sql_dbs(tag: &str) -> Vec<(Db, String)> {
    dbs(tag)
        .into_iter()
        .filter_map(|db| {
            let url = db.url()?;
            Some((db, url))
        })
        .collect()
}

/// Runs `$body` with `$conn` bound to a new diesel connection of the URL's backend.
#[allow(unused_macros)]
macro_rules! with_connection {
    ($url:expr, |$conn:ident| $body:expr) => {{
        let url: &str = $url;
        if url.starts_with("postgres") {
            let mut $conn =
                <diesel::PgConnection as diesel::Connection>::establish(url).expect("connect");
            $body
        } else if url.starts_with("mysql") {
            let mut $conn =
                <diesel::MysqlConnection as diesel::Connection>::establish(url).expect("connect");
            $body
        } else {
            let mut $conn =
                <diesel::SqliteConnection as diesel::Connection>::establish(url).expect("connect");
            diesel::connection::SimpleConnection::batch_execute(
                &mut $conn,
                "PRAGMA busy_timeout = 5000",
            )
            .unwrap();
            $body
        }
    }};
}
