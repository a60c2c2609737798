//! `Job::run_in` through `schwartz_diesel::insert_in` (the application's own transaction):
//! the start counts from the database's clock, and a delay past what the columns hold is
//! refused, on SQLite, PostgreSQL and MariaDB.

mod common;

use std::time::Duration;

use common::{dbs, rows};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use schwartz_core::{Error, Job};

fn insert(url: &str, job: &Job) -> schwartz_core::Result<schwartz_core::JobId> {
    if url.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(url).expect("connect");
        schwartz_diesel::insert_in(&mut c, job)
    } else if url.starts_with("mysql") {
        let mut c = diesel::MysqlConnection::establish(url).expect("connect");
        schwartz_diesel::insert_in(&mut c, job)
    } else {
        let mut c = diesel::SqliteConnection::establish(url).expect("connect");
        c.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
        schwartz_diesel::insert_in(&mut c, job)
    }
}

#[test]
fn run_in_counts_from_the_database_clock_in_a_transaction() {
    for db in dbs("tx_run_in") {
        let Some(url) = db.url() else { continue };
        let name = &db.name;
        let before = db.store.server_time().unwrap();
        insert(&url, &Job::new("later").run_in(Duration::from_secs(600))).unwrap();
        let after = db.store.server_time().unwrap();
        let row = rows(&db.store, "later").pop().expect("the job");
        assert!(
            (before + 600..=after + 601).contains(&row.run_after),
            "{name}: run_after {} not 600 s after {before}..{after}",
            row.run_after
        );
        let e = insert(&url, &Job::new("later").run_in(Duration::MAX)).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{name}: {e}");
        assert_eq!(rows(&db.store, "later").len(), 1, "{name}");
    }
}
