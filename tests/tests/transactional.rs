//! Enqueueing inside the application's own transaction (`schwartz_diesel::insert_in`) on
//! SQLite, PostgreSQL and MariaDB: a commit makes the job visible with the application's
//! rows (and, on PostgreSQL, wakes an idle pool only then); a rollback leaves neither; a
//! uniqkey collision leaves the transaction usable; pooled connections work too.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, rows, sql_dbs, Count, Db};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use schwartz_core::{Error, Job, JobHandle, QueuedJob, WorkError};
use schwartz_diesel::DieselStore;

#[test]
fn commit_and_rollback_decide_together_with_the_applications_rows() {
    for (db, url) in sql_dbs("tx_commit") {
        let name = db.name.clone();
        with_connection!(&url, |conn| {
            conn.batch_execute("CREATE TABLE orders (id BIGINT PRIMARY KEY)")
                .unwrap();
            // Commit: the order and its job (of a function the database has never seen).
            let id = conn
                .transaction(|c| {
                    diesel::sql_query("INSERT INTO orders (id) VALUES (1)").execute(c)?;
                    let id = schwartz_diesel::insert_in(c, &Job::new("receipt").arg(&1u64)?)?;
                    Ok::<_, Box<dyn std::error::Error>>(id)
                })
                .unwrap();
            let left = rows(&db.store, "receipt");
            assert_eq!(left.len(), 1, "{name}");
            assert_eq!(left[0].jobid, id, "{name}");
            // Rollback: neither the order nor its jobs (nor a new function's funcmap row).
            let before = db.store.funcmap().unwrap().len();
            let err = conn
                .transaction(|c| {
                    diesel::sql_query("INSERT INTO orders (id) VALUES (2)").execute(c)?;
                    schwartz_diesel::insert_jobs_in(
                        c,
                        &[
                            Job::new("receipt").arg(&2u64)?,
                            Job::new("invoice").arg(&2u64)?,
                        ],
                    )?;
                    Err::<(), Box<dyn std::error::Error>>("the order is refused".into())
                })
                .unwrap_err();
            assert_eq!(err.to_string(), "the order is refused");
            assert_eq!(rows(&db.store, "receipt").len(), 1, "{name}");
            assert_eq!(db.store.funcmap().unwrap().len(), before, "{name}: funcmap");
            let orders: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM orders")
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(orders.n, 1, "{name}");
        });
    }
}

#[test]
fn a_uniqkey_collision_leaves_the_transaction_usable() {
    for (db, url) in sql_dbs("tx_unique") {
        let name = db.name.clone();
        let client = client(Arc::clone(&db.store));
        client
            .insert(Job::new("receipt").uniqkey("order-7"))
            .unwrap();
        with_connection!(&url, |conn| {
            conn.batch_execute("CREATE TABLE orders (id BIGINT PRIMARY KEY)")
                .unwrap();
            conn.transaction(|c| {
                diesel::sql_query("INSERT INTO orders (id) VALUES (7)").execute(c)?;
                let dup =
                    schwartz_diesel::insert_in(c, &Job::new("receipt").uniqkey("order-7"))
                        .unwrap_err();
                assert!(
                    matches!(&dup, Error::DuplicateUniqkey { uniqkey: Some(k), .. } if k == "order-7"),
                    "{name}: {dup}"
                );
                // PostgreSQL would refuse every later statement had the error aborted the
                // transaction.
                diesel::sql_query("INSERT INTO orders (id) VALUES (8)").execute(c)?;
                schwartz_diesel::insert_in(c, &Job::new("receipt").uniqkey("order-8"))?;
                Ok::<_, Box<dyn std::error::Error>>(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            let orders: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM orders")
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(orders.n, 2, "{name}");
        });
        let keys: Vec<Option<String>> = rows(&db.store, "receipt")
            .into_iter()
            .map(|r| r.uniqkey)
            .collect();
        assert_eq!(keys.len(), 2, "{name}: {keys:?}");
        // A batch with a collision inserts nothing.
        with_connection!(&url, |conn| {
            let err = schwartz_diesel::insert_jobs_in(
                &mut conn,
                &[
                    Job::new("receipt").uniqkey("order-9"),
                    Job::new("receipt").uniqkey("order-7"),
                ],
            )
            .unwrap_err();
            assert!(
                matches!(err, Error::DuplicateUniqkey { .. }),
                "{name}: {err}"
            );
        });
        assert_eq!(rows(&db.store, "receipt").len(), 2, "{name}");
    }
}

#[test]
fn the_stores_form_returns_handles_a_client_can_use() {
    for (db, url) in sql_dbs("tx_handle") {
        let name = db.name.clone();
        // The client and the application's store over the same database, as in an app.
        let store = Arc::new(DieselStore::connect(&url).unwrap());
        let client = client(Arc::clone(&store) as _);
        let handle: JobHandle = with_connection!(&url, |conn| {
            conn.transaction(|c| {
                let handle = store.insert_in(c, &Job::new("greet").arg(&"ada")?)?;
                Ok::<_, Box<dyn std::error::Error>>(handle)
            })
            .unwrap()
        });
        let job = client
            .lookup_job(&handle)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: job {handle} not found"));
        assert_eq!(job.arg::<String>().unwrap(), "ada", "{name}");
        client
            .can_do("greet", |_: &QueuedJob| -> Result<(), WorkError> { Ok(()) })
            .unwrap();
        assert!(client.work_once().unwrap(), "{name}");
        assert!(client.lookup_job(&handle).unwrap().is_none(), "{name}");
    }
}

#[test]
fn pooled_connections_insert_too() {
    use diesel::r2d2::{ConnectionManager, Pool};
    for (db, url) in sql_dbs("tx_r2d2") {
        let name = db.name.clone();
        let id = if url.starts_with("postgres") {
            let pool = Pool::builder()
                .max_size(2)
                .build(ConnectionManager::<diesel::PgConnection>::new(&url))
                .unwrap();
            let mut conn = pool.get().unwrap();
            schwartz_diesel::insert_in(&mut *conn, &Job::new("pooled")).unwrap()
        } else if url.starts_with("mysql") {
            let pool = Pool::builder()
                .max_size(2)
                .build(ConnectionManager::<diesel::MysqlConnection>::new(&url))
                .unwrap();
            let mut conn = pool.get().unwrap();
            schwartz_diesel::insert_in(&mut *conn, &Job::new("pooled")).unwrap()
        } else {
            let pool = Pool::builder()
                .max_size(2)
                .build(ConnectionManager::<diesel::SqliteConnection>::new(&url))
                .unwrap();
            let mut conn = pool.get().unwrap();
            schwartz_diesel::insert_in(&mut *conn, &Job::new("pooled")).unwrap()
        };
        let left = rows(&db.store, "pooled");
        assert_eq!(left.len(), 1, "{name}");
        assert_eq!(left[0].jobid, id, "{name}");
    }
}

#[test]
fn postgres_wakes_an_idle_pool_at_commit_only() {
    use schwartz_worker::WorkerPool;
    for (db, url) in sql_dbs("tx_notify") {
        if !url.starts_with("postgres") {
            continue;
        }
        let client = client(Arc::clone(&db.store));
        let (tx, rx) = crossbeam_channel::unbounded();
        client
            .can_do("woken", move |_: &QueuedJob| -> Result<(), WorkError> {
                tx.send(Instant::now()).unwrap();
                Ok(())
            })
            .unwrap();
        let pool = WorkerPool::builder(client)
            .threads(1)
            .poll_interval(Duration::from_secs(60))
            .build()
            .unwrap();
        let shutdown = pool.shutdown_handle();
        let running = std::thread::spawn(move || pool.run());
        std::thread::sleep(Duration::from_millis(500)); // listening
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        conn.transaction(|c| {
            schwartz_diesel::insert_in(c, &Job::new("woken"))?;
            // Not committed: the pool must not see it.
            assert!(rx.recv_timeout(Duration::from_millis(700)).is_err());
            Ok::<_, Box<dyn std::error::Error>>(())
        })
        .unwrap();
        let committed = Instant::now();
        let started = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the committed job runs long before the 60 s poll");
        assert!(started.duration_since(committed) < Duration::from_secs(5));
        shutdown.shutdown();
        running.join().unwrap().unwrap();
    }
}

/// What the `ship` worker does with its transaction.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Then {
    Commit,
    RollBack,
    FailAndCommit,
}

/// A client whose `ship` worker records a shipment and the job's outcome in one
/// transaction of its own connection, then commits or rolls back as `then` says.
fn shipping_client(db: &Db, url: &str, then: Then) -> schwartz_core::Client {
    struct Ship {
        url: String,
        then: Then,
    }
    impl schwartz_core::Worker for Ship {
        fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
            let order: u64 = job.arg()?;
            let then = self.then;
            let insert = format!("INSERT INTO shipments (id) VALUES ({order})");
            with_connection!(&self.url, |conn| {
                conn.transaction(|c| {
                    diesel::sql_query(&insert).execute(c)?;
                    match then {
                        Then::FailAndCommit => schwartz_diesel::fail_in(c, job, "carrier down")?,
                        _ => schwartz_diesel::complete_in(c, job)?,
                    }
                    if then == Then::RollBack {
                        return Err::<(), WorkError>("the shipment is refused".into());
                    }
                    Ok(())
                })
            })
        }
        fn grab_for(&self) -> Duration {
            Duration::from_secs(1)
        }
    }
    let client = client(Arc::clone(&db.store));
    client
        .can_do(
            "ship",
            Ship {
                url: url.to_string(),
                then,
            },
        )
        .unwrap();
    client
}

fn shipments(url: &str) -> i64 {
    with_connection!(url, |conn| {
        diesel::sql_query("SELECT COUNT(*) AS n FROM shipments")
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n
    })
}

#[test]
fn a_jobs_outcome_commits_or_rolls_back_with_the_work() {
    for (db, url) in sql_dbs("tx_finish") {
        let name = db.name.clone();
        with_connection!(&url, |conn| conn
            .batch_execute("CREATE TABLE shipments (id BIGINT PRIMARY KEY)")
            .unwrap());
        // Rolled back: no shipment, and the job is still leased (it runs again later).
        let client = shipping_client(&db, &url, Then::RollBack);
        let h = client.insert(Job::new("ship").arg(&1u64).unwrap()).unwrap();
        assert!(client.work_once().unwrap(), "{name}");
        assert_eq!(shipments(&url), 0, "{name}");
        let row = db
            .store
            .lookup(h.jobid())
            .unwrap()
            .expect("the job is still there");
        assert!(row.grabbed_until > 0, "{name}: still leased");
        assert!(
            client.failure_log(&h).unwrap().is_empty(),
            "{name}: no failure written"
        );
        // Once the lease ran out, it runs again: committed, the shipment and the job's
        // removal land together.
        std::thread::sleep(Duration::from_millis(2100));
        let client = shipping_client(&db, &url, Then::Commit);
        assert!(client.work_once().unwrap(), "{name}");
        assert_eq!(shipments(&url), 1, "{name}");
        assert!(
            db.store.lookup(h.jobid()).unwrap().is_none(),
            "{name}: completed"
        );
        // A failure written in the transaction: the error row commits with the work.
        let client = shipping_client(&db, &url, Then::FailAndCommit);
        let h = client.insert(Job::new("ship").arg(&2u64).unwrap()).unwrap();
        assert!(client.work_once().unwrap(), "{name}");
        assert_eq!(shipments(&url), 2, "{name}");
        assert_eq!(client.failure_log(&h).unwrap(), ["carrier down"], "{name}");
        assert!(
            db.store.lookup(h.jobid()).unwrap().is_none(),
            "{name}: no retry left"
        );
    }
}

#[test]
fn a_stale_worker_cannot_complete_in_its_transaction() {
    for (db, url) in sql_dbs("tx_stale") {
        let name = db.name.clone();
        let a = client(Arc::clone(&db.store));
        let b = client(db.reopen());
        struct Short;
        impl schwartz_core::Worker for Short {
            fn work(&self, _: &QueuedJob) -> Result<(), WorkError> {
                Ok(())
            }
            fn grab_for(&self) -> Duration {
                Duration::from_secs(1)
            }
        }
        for c in [&a, &b] {
            c.can_do("stale", Short).unwrap();
        }
        let h = a.insert(Job::new("stale")).unwrap();
        let old = a.grab_job("stale").unwrap().expect("A grabs");
        std::thread::sleep(Duration::from_millis(2100));
        let new = b
            .grab_job("stale")
            .unwrap()
            .expect("B grabs once A's lease ran out");
        assert!(new.fencing_token() > old.fencing_token(), "{name}");
        let err = with_connection!(&url, |conn| {
            conn.transaction(|c| {
                schwartz_diesel::complete_in(c, &old)?;
                Ok::<_, Box<dyn std::error::Error>>(())
            })
            .unwrap_err()
        });
        assert!(
            matches!(err.downcast_ref::<Error>(), Some(Error::LeaseLost { .. })),
            "{name}: {err}"
        );
        assert!(db.store.lookup(h.jobid()).unwrap().is_some(), "{name}");
        with_connection!(&url, |conn| conn
            .transaction(|c| {
                schwartz_diesel::complete_in(c, &new)?;
                Ok::<_, Box<dyn std::error::Error>>(())
            })
            .unwrap());
        assert!(db.store.lookup(h.jobid()).unwrap().is_none(), "{name}");
    }
}
