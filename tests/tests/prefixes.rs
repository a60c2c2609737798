//! Table prefixes (TheSchwartz's per-database `prefix`) and PostgreSQL schemas on SQLite,
//! PostgreSQL and MariaDB: queues with different prefixes in one database do not see each
//! other (rows, NOTIFY), a schema other than `public` holds a whole queue, a table that is
//! not TheSchwartz's is not adopted, and our migration history coexists with an
//! application's own diesel migrations in the same history table.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{client, sql_dbs, Count};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use schwartz_core::store::Store;
use schwartz_core::Job;
use schwartz_diesel::DieselStore;

/// `SELECT COUNT(*)` of a table, through a connection of its own.
fn count(url: &str, table: &str) -> i64 {
    let sql = format!("SELECT CAST(COUNT(*) AS {}) AS n FROM {table}", big(url));
    with_connection!(url, |c| diesel::sql_query(&sql)
        .get_result::<Count>(&mut c)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n)
}

fn big(url: &str) -> &'static str {
    if url.starts_with("mysql") {
        "SIGNED"
    } else {
        "BIGINT"
    }
}

fn prefixed(url: &str, prefix: &str) -> Arc<DieselStore> {
    let store = DieselStore::builder(url)
        .table_prefix(prefix)
        .pool_size(2)
        .build()
        .expect("store");
    Arc::new(store)
}

#[test]
fn two_prefixes_in_one_database_do_not_see_each_other() {
    for (db, url) in sql_dbs("prefix_isolation") {
        let name = db.name.clone();
        let a = prefixed(&url, "qa_");
        let b = prefixed(&url, "qb_");
        let applied = a.run_migrations().expect("migrate qa_");
        assert!(!applied.is_empty(), "{name}");
        assert_eq!(b.run_migrations().expect("migrate qb_"), applied, "{name}");
        assert!(a.pending_migrations().unwrap().is_empty(), "{name}");
        assert!(b.pending_migrations().unwrap().is_empty(), "{name}");
        assert_ne!(
            a.identity(),
            b.identity(),
            "{name}: one store identity per queue"
        );

        let mut a_wakes = a.notifier().expect("notifier");
        let (ca, cb) = (
            client(Arc::clone(&a) as Arc<dyn Store>),
            client(Arc::clone(&b) as Arc<dyn Store>),
        );
        let plain = client(Arc::clone(&db.store));
        if let Some(n) = a_wakes.as_mut() {
            // Settle the change counters.
            let _ = n.wait(Duration::from_millis(10));
        }
        cb.insert(Job::new("Prefix::Work").arg(&"for b").unwrap())
            .expect("insert b");
        if name == "postgres" {
            let n = a_wakes.as_mut().expect("PostgreSQL has a notifier");
            assert!(
                !n.wait(Duration::from_millis(300)).unwrap(),
                "{name}: qa_'s listener woke for qb_'s job"
            );
        }
        let h = ca
            .insert(Job::new("Prefix::Work").arg(&"for a").unwrap())
            .expect("insert a");
        if let Some(n) = a_wakes.as_mut() {
            assert!(
                n.wait(Duration::from_secs(5)).unwrap(),
                "{name}: qa_ not woken"
            );
        }
        assert_eq!(count(&url, "qa_job"), 1, "{name}");
        assert_eq!(count(&url, "qb_job"), 1, "{name}");
        assert_eq!(count(&url, "job"), 0, "{name}");
        assert!(plain.grab_job("Prefix::Work").unwrap().is_none(), "{name}");

        let job = ca.grab_job("Prefix::Work").unwrap().expect("qa_'s job");
        assert_eq!(job.arg::<String>().unwrap(), "for a", "{name}");
        assert!(ca.grab_job("Prefix::Work").unwrap().is_none(), "{name}");
        job.failed("once").unwrap();
        assert_eq!(count(&url, "qa_error"), 1, "{name}");
        assert_eq!(count(&url, "qb_error"), 0, "{name}");
        assert_eq!(count(&url, "error"), 0, "{name}");
        assert!(
            ca.lookup_job(&h).unwrap().is_none(),
            "{name}: no retries by default"
        );

        let job = cb.grab_job("Prefix::Work").unwrap().expect("qb_'s job");
        assert_eq!(job.arg::<String>().unwrap(), "for b", "{name}");
        job.completed().unwrap();
        assert_eq!(count(&url, "qb_job"), 0, "{name}");
        assert_eq!(a.stats().unwrap().errors, 1, "{name}");
        assert_eq!(b.stats().unwrap().jobs, 0, "{name}");

        // The application's connection with a prefixed store: same tables.
        with_connection!(&url, |c| {
            b.insert_in(&mut c, &Job::new("Prefix::Tx").arg(&7u32).unwrap())
                .expect("insert_in");
        });
        assert_eq!(count(&url, "qb_job"), 1, "{name}");
        assert_eq!(count(&url, "qa_job"), 0, "{name}");
        // And its outcome, in the application's transaction.
        let job = cb.grab_job("Prefix::Tx").unwrap().expect("qb_'s tx job");
        with_connection!(&url, |c| {
            c.transaction::<_, Box<dyn std::error::Error>, _>(|c| Ok(b.complete_in(c, &job)?))
                .expect("complete_in");
        });
        assert_eq!(count(&url, "qb_job"), 0, "{name}");
    }
}

#[test]
fn a_prefix_is_checked_and_may_come_from_the_url() {
    for bad in ["App_", "1a", "a-b", "a b", "x;drop"] {
        let e = DieselStore::builder("sqlite::memory:")
            .table_prefix(bad)
            .build()
            .expect_err(bad);
        assert!(e.to_string().contains("table prefix"), "{bad}: {e}");
    }
    let e = DieselStore::builder("sqlite::memory:")
        .schema("jobs")
        .build()
        .expect_err("schema on SQLite");
    assert!(e.to_string().contains("PostgreSQL"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let url = format!("{}?schwartz_table_prefix=url_", path.display());
    let store = DieselStore::connect(&url).expect("store");
    store.run_migrations().expect("migrate");
    let c = client(Arc::new(store));
    c.insert(Job::new("f")).unwrap();
    assert_eq!(count(path.to_str().unwrap(), "url_job"), 1);
}

#[test]
fn a_postgres_schema_other_than_public_holds_a_queue() {
    for (db, url) in sql_dbs("prefix_schema") {
        if db.name != "postgres" {
            continue;
        }
        with_connection!(&url, |c| c.batch_execute("CREATE SCHEMA jobs").unwrap());
        let s = Arc::new(
            DieselStore::builder(&url)
                .schema("jobs")
                .pool_size(2)
                .build()
                .unwrap(),
        );
        let applied = s.run_migrations().expect("migrate in schema jobs");
        assert!(!applied.is_empty());
        let mut wakes = s.notifier().unwrap().expect("notifier");
        let _ = wakes.wait(Duration::from_millis(10));
        let plain = client(Arc::clone(&db.store));
        plain.insert(Job::new("Schema::Work")).unwrap();
        assert!(
            !wakes.wait(Duration::from_millis(300)).unwrap(),
            "the schema's listener woke for public's job"
        );
        let c = client(Arc::clone(&s) as Arc<dyn Store>);
        c.insert(Job::new("Schema::Work").arg(&1u8).unwrap())
            .unwrap();
        assert!(wakes.wait(Duration::from_secs(5)).unwrap());
        assert_eq!(count(&url, "jobs.job"), 1);
        assert_eq!(count(&url, "public.job"), 1);
        // Our history of the schema is in the schema.
        assert_eq!(
            count(&url, "jobs.__diesel_schema_migrations"),
            applied.len() as i64
        );
        let job = c.grab_job("Schema::Work").unwrap().expect("job");
        job.completed().unwrap();
        assert_eq!(count(&url, "jobs.job"), 0);
        assert!(s.pending_migrations().unwrap().is_empty());
        // With a prefix too.
        let sp = DieselStore::builder(&format!(
            "{url}?schwartz_schema=jobs&schwartz_table_prefix=p_"
        ))
        .build()
        .unwrap();
        sp.run_migrations().unwrap();
        client(Arc::new(sp))
            .insert(Job::new("Schema::Work"))
            .unwrap();
        assert_eq!(count(&url, "jobs.p_job"), 1);
        assert_eq!(count(&url, "jobs.job"), 0);
    }
}

#[test]
fn a_table_that_is_not_theschwartzs_is_not_adopted() {
    for (db, url) in sql_dbs("prefix_foreign") {
        let name = db.name.clone();
        with_connection!(&url, |c| {
            c.batch_execute("CREATE TABLE app_job (id BIGINT PRIMARY KEY, title VARCHAR(40))")
                .unwrap()
        });
        let e = prefixed(&url, "app_")
            .run_migrations()
            .expect_err("adopted a foreign table");
        let msg = e.to_string();
        assert!(msg.contains("app_job"), "{name}: {msg}");
        assert!(msg.contains("not TheSchwartz's"), "{name}: {msg}");
        assert!(
            msg.contains(&db.store.describe()),
            "{name}: names the database: {msg}"
        );
        // Nothing was created.
        with_connection!(&url, |c| {
            let r = diesel::sql_query("SELECT COUNT(*) FROM app_funcmap").execute(&mut c);
            assert!(r.is_err(), "{name}: app_funcmap created");
        });
        // Any of our tables: here `error`.
        with_connection!(&url, |c| {
            c.batch_execute("CREATE TABLE ap2_error (code INT)")
                .unwrap()
        });
        let e = prefixed(&url, "ap2_").run_migrations().expect_err("error");
        assert!(e.to_string().contains("ap2_error"), "{name}: {e}");
        // A password never shows (the fixtures have none; the describe has none either).
        assert!(!msg.contains("password"), "{name}: {msg}");
    }
}

/// An application's own diesel migrations, one older and one newer than ours.
fn app_migrations(dir: &std::path::Path) -> diesel_migrations::FileBasedMigrations {
    for (name, up, down) in [
        (
            "2020-01-01-000000_app_users",
            "CREATE TABLE app_users (id BIGINT PRIMARY KEY);",
            "DROP TABLE app_users;",
        ),
        (
            "2099-01-01-000000_app_orders",
            "CREATE TABLE app_orders (id BIGINT PRIMARY KEY);",
            "DROP TABLE app_orders;",
        ),
    ] {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("up.sql"), up).unwrap();
        std::fs::write(d.join("down.sql"), down).unwrap();
    }
    diesel_migrations::FileBasedMigrations::from_path(dir).expect("app migrations")
}

/// Names of the app's pending migrations.
fn app_pending<C, DB>(c: &mut C, app: &diesel_migrations::FileBasedMigrations) -> Vec<String>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    diesel_migrations::FileBasedMigrations: MigrationSource<DB>,
{
    c.pending_migrations(app.clone())
        .unwrap()
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

#[test]
fn our_migrations_coexist_with_the_applications_own() {
    for (db, url) in sql_dbs("prefix_migrations") {
        let name = db.name.clone();
        let dir = tempfile::tempdir().unwrap();
        let app = app_migrations(dir.path());
        // The fixture's store ran our migrations under the plain names already.
        let plain = DieselStore::connect(&url).unwrap();
        let ours = prefixed(&url, "mig_");
        let all_ours = ours.pending_migrations().unwrap();
        assert!(all_ours.len() >= 5, "{name}: {all_ours:?}");
        with_connection!(&url, |c| {
            assert_eq!(app_pending(&mut c, &app).len(), 2, "{name}");
            c.run_pending_migrations(app.clone())
                .expect("app migrations");
            assert!(app_pending(&mut c, &app).is_empty(), "{name}");
        });
        // Ours still all pending, the plain store's none.
        assert_eq!(ours.pending_migrations().unwrap(), all_ours, "{name}");
        assert!(plain.pending_migrations().unwrap().is_empty(), "{name}");
        assert_eq!(ours.run_migrations().unwrap(), all_ours, "{name}");
        assert!(ours.pending_migrations().unwrap().is_empty(), "{name}");
        with_connection!(&url, |c| assert!(
            app_pending(&mut c, &app).is_empty(),
            "{name}"
        ));

        // The application's migration is the newest in the history: our revert leaves it.
        let last = all_ours.last().cloned();
        assert_eq!(ours.revert_last_migration().unwrap(), last, "{name}");
        assert_eq!(ours.pending_migrations().unwrap().len(), 1, "{name}");
        assert_eq!(
            plain.revert_last_migration().unwrap(),
            last,
            "{name}: plain store"
        );
        assert_eq!(plain.pending_migrations().unwrap().len(), 1, "{name}");
        assert_eq!(
            count(&url, "app_orders"),
            0,
            "{name}: the app's table stays"
        );
        with_connection!(&url, |c| {
            assert!(app_pending(&mut c, &app).is_empty(), "{name}");
            // The application reverts its own newest; ours are untouched.
            c.revert_last_migration(app.clone()).expect("app revert");
            assert_eq!(app_pending(&mut c, &app).len(), 1, "{name}");
        });
        assert_eq!(ours.pending_migrations().unwrap().len(), 1, "{name}");
        assert_eq!(ours.run_migrations().unwrap().len(), 1, "{name}");
        assert_eq!(plain.run_migrations().unwrap().len(), 1, "{name}");
        with_connection!(&url, |c| assert_eq!(
            app_pending(&mut c, &app).len(),
            1,
            "{name}"
        ));
        // Everything of ours reverts down to nothing, the app's first migration stays.
        while ours.revert_last_migration().unwrap().is_some() {}
        assert_eq!(ours.pending_migrations().unwrap(), all_ours, "{name}");
        assert_eq!(count(&url, "app_users"), 0, "{name}");
        assert!(plain.pending_migrations().unwrap().is_empty(), "{name}");
    }
}
