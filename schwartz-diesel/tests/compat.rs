//! Backend-specific checks of `DieselStore` that the conformance suite does not make:
//! databases created by TheSchwartz's own schema files, adopting them with our migrations,
//! error mapping, column limits, SKIP LOCKED and NOTIFY.
//!
//! SQLite always runs; PostgreSQL (`SCHWARTZ_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and MySQL (`SCHWARTZ_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`) run when reachable, and are skipped with a message
//! otherwise (a failure with `CI=true`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use schwartz_core::store::{
    Claim, ExitStatusWrite, FailureRecord, Finish, FinishAction, FinishStatus, JobQuery, Lease,
    NewJobRow, Store,
};
use schwartz_core::{Error, JobId, JobOrder};
use schwartz_diesel::{admin, Backend, DieselStore};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn server_url(backend: Backend) -> String {
    let (var, default) = match backend {
        Backend::Postgres => ("SCHWARTZ_PG_URL", "postgres://postgres@127.0.0.1:5432/test"),
        _ => ("SCHWARTZ_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    };
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn ci() -> bool {
    schwartz_testkit::env::ci()
}

/// A database for one test; dropped at the end.
struct Db {
    url: String,
    server: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.server {
            let _ = admin::drop_database(server, name);
        }
    }
}

/// A fresh empty database of `backend`, or `None` (skipped) when its server is down.
fn new_db(backend: Backend) -> Option<Db> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    if backend == Backend::Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("t.db").to_string_lossy().into_owned();
        return Some(Db {
            url,
            server: None,
            _dir: Some(dir),
        });
    }
    let server = server_url(backend);
    let name = format!("sch_compat_{}_{n}", std::process::id());
    if let Err(e) = admin::create_database(&server, &name) {
        if ci() {
            panic!("{backend} unreachable with CI=true: {e}");
        }
        eprintln!("SKIPPED on {backend}: {e}");
        return None;
    }
    Some(Db {
        url: admin::with_database(&server, &name).unwrap(),
        server: Some((server, name)),
        _dir: None,
    })
}

/// Runs TheSchwartz's own schema file on the database.
fn load_upstream_schema(backend: Backend, url: &str) {
    let sql = match backend {
        Backend::Sqlite => include_str!("upstream/sqlite.sql"),
        Backend::Postgres => include_str!("upstream/postgres.sql"),
        _ => include_str!("upstream/mysql.sql"),
    };
    match backend {
        Backend::Sqlite => diesel::sqlite::SqliteConnection::establish(url)
            .unwrap()
            .batch_execute(sql)
            .unwrap(),
        Backend::Postgres => diesel::pg::PgConnection::establish(url)
            .unwrap()
            .batch_execute(sql)
            .unwrap(),
        _ => {
            let mut c = diesel::mysql::MysqlConnection::establish(url).unwrap();
            for stmt in sql.split(';').filter(|s| s.contains("CREATE")) {
                c.batch_execute(stmt).unwrap();
            }
        }
    }
}

fn job(funcid: schwartz_core::FuncId, now: i64, uniqkey: Option<&str>) -> NewJobRow {
    NewJobRow {
        jobid: None,
        funcid,
        arg: Some(vec![0, 1, 2, 255]),
        uniqkey: uniqkey.map(str::to_string),
        insert_time: now,
        run_after: now,
        grabbed_until: 0,
        priority: Some(3),
        coalesce: Some("Key-1".into()),
    }
}

/// A whole life cycle through the Store API.
fn life_cycle(store: &DieselStore, upstream: bool) {
    let backend = store.backend();
    let now = store.server_time().unwrap();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - wall).abs() < 60,
        "{backend}: server time {now} vs {wall}"
    );

    let f = store.funcid("Worker::A").unwrap();
    assert_eq!(store.funcid("Worker::A").unwrap(), f);
    let g = store.funcid("worker::a").unwrap();
    if upstream && backend == Backend::Mysql {
        // TheSchwartz's MySQL schema compares names case-insensitively.
        assert_eq!(f, g);
        return life_cycle_with(store, f, store.funcid("Worker::B").unwrap(), now, upstream);
    }
    assert_ne!(f, g, "{backend}: funcnames are case-sensitive");
    life_cycle_with(store, f, g, now, upstream);
}

fn life_cycle_with(
    store: &DieselStore,
    f: schwartz_core::FuncId,
    g: schwartz_core::FuncId,
    now: i64,
    upstream: bool,
) {
    let backend = store.backend();

    let ids = store
        .insert_jobs(&[
            job(f, now, Some("u1")),
            job(f, now, None),
            job(g, now, Some("u1")),
        ])
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] < ids[1] && ids[1] < ids[2], "{backend}: {ids:?}");

    let dup = store.insert_jobs(&[job(f, now, Some("u2")), job(f, now, Some("u1"))]);
    match dup {
        Err(Error::DuplicateUniqkey {
            funcname, uniqkey, ..
        }) => {
            assert_eq!(funcname.as_deref(), Some("Worker::A"));
            assert_eq!(uniqkey.as_deref(), Some("u1"));
        }
        other => panic!("{backend}: expected DuplicateUniqkey, got {other:?}"),
    }
    assert_eq!(store.stats().unwrap().jobs, 3, "{backend}: all or nothing");

    let row = store.lookup(ids[0]).unwrap().unwrap();
    assert_eq!(row.arg.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!(row.priority, Some(3));
    assert_eq!(row.insert_time, Some(now));

    // Coalesce prefix: literal, case-sensitive.
    let mut q = JobQuery::eligible(vec![f], now, 10);
    q.coalesce = Some(schwartz_core::CoalesceFilter::Prefix("Key-".into()));
    assert_eq!(store.select_jobs(&q).unwrap().len(), 2);
    q.coalesce = Some(schwartz_core::CoalesceFilter::Prefix("key-".into()));
    // TheSchwartz's MySQL schema compares with the default case-insensitive collation.
    let ci = usize::from(upstream && backend == Backend::Mysql) * 2;
    assert_eq!(
        store.select_jobs(&q).unwrap().len(),
        ci,
        "{backend}: prefix case"
    );
    q.coalesce = Some(schwartz_core::CoalesceFilter::Prefix("Key_".into()));
    assert_eq!(
        store.select_jobs(&q).unwrap().len(),
        0,
        "{backend}: '_' is literal"
    );

    // Claim both jobs of f.
    let cands = store
        .select_jobs(&JobQuery::eligible(vec![f], now, 10))
        .unwrap();
    assert_eq!(cands.len(), 2);
    let claims: Vec<Claim> = cands
        .iter()
        .map(|r| Claim {
            jobid: r.jobid,
            expected: r.grabbed_until,
            lease_until: now + 100,
        })
        .collect();
    assert_eq!(store.claim(&claims, now).unwrap().len(), 2);
    assert!(
        store.claim(&claims, now).unwrap().is_empty(),
        "{backend}: second claim lost"
    );

    // Finish: one fails with a long message and is rescheduled, one completes with an
    // exit status written twice (upsert), one has a stale token.
    let long: String = "é".repeat(400);
    let items = vec![
        Finish {
            jobid: ids[0],
            funcid: f,
            token: now + 100,
            failure: Some(FailureRecord {
                error_time: now,
                jobid: ids[0],
                message: long.clone(),
                funcid: f,
            }),
            action: FinishAction::Reschedule {
                run_after: Some(now + 5),
            },
        },
        Finish {
            jobid: ids[1],
            funcid: f,
            token: now + 100,
            failure: None,
            action: FinishAction::Remove {
                exit_status: Some(ExitStatusWrite {
                    status: 0,
                    completion_time: now,
                    delete_after: now + 10,
                }),
            },
        },
        Finish {
            jobid: ids[2],
            funcid: g,
            token: now + 100,
            failure: None,
            action: FinishAction::Remove { exit_status: None },
        },
    ];
    let st = store.finish(&items).unwrap();
    assert!(matches!(st[0], FinishStatus::Done), "{backend}: {st:?}");
    assert!(matches!(st[1], FinishStatus::Done), "{backend}: {st:?}");
    assert!(
        matches!(st[2], FinishStatus::LeaseLost),
        "{backend}: {st:?}"
    );
    let fails = store.failures(ids[0]).unwrap();
    assert_eq!(fails.len(), 1);
    let max = if upstream && backend == Backend::Mysql {
        255
    } else {
        400
    };
    assert!(
        fails[0].message.chars().count() <= max && long.starts_with(&fails[0].message),
        "{backend}: message of {} chars",
        fails[0].message.chars().count()
    );
    let es = store.exit_status(ids[1]).unwrap().unwrap();
    assert_eq!((es.status, es.delete_after), (0, now + 10));

    // Replace with a colliding replacement: rejected, job untouched.
    let row = store.lookup(ids[0]).unwrap().unwrap();
    assert_eq!((row.grabbed_until, row.run_after), (0, now + 5));
    assert_eq!(
        store
            .claim(
                &[Claim {
                    jobid: ids[0],
                    expected: 0,
                    lease_until: now + 200
                }],
                now
            )
            .unwrap(),
        vec![ids[0]]
    );
    let st = store
        .finish(&[Finish {
            jobid: ids[0],
            funcid: f,
            token: now + 200,
            failure: None,
            action: FinishAction::Replace {
                jobs: vec![job(g, now, Some("u1"))],
                exit_status: None,
            },
        }])
        .unwrap();
    assert!(
        matches!(
            &st[0],
            FinishStatus::Rejected(Error::DuplicateUniqkey { .. })
        ),
        "{backend}: {st:?}"
    );
    assert!(store.lookup(ids[0]).unwrap().is_some());
    assert!(store.extend_lease(ids[0], now + 200, now + 300).unwrap());
    let st = store
        .finish(&[Finish {
            jobid: ids[0],
            funcid: f,
            token: now + 300,
            failure: None,
            action: FinishAction::Replace {
                jobs: vec![job(g, now, Some("u9")), job(g, now, None)],
                exit_status: None,
            },
        }])
        .unwrap();
    let FinishStatus::Replaced(new_ids) = &st[0] else {
        panic!("{backend}: {st:?}")
    };
    assert_eq!(new_ids.len(), 2);
    assert!(store.lookup(ids[0]).unwrap().is_none());

    // Batch grab.
    if backend != Backend::Sqlite {
        assert!(store.supports_skip_locked(), "{backend}");
        let mut q = JobQuery::eligible(vec![f, g], now, 10);
        q.order = JobOrder::PriorityDesc;
        let got = store
            .grab_skip_locked(
                &q,
                &[Lease {
                    funcid: g,
                    grab_for: 30,
                }],
                now,
            )
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 3, "{backend}: ids[2] and the two replacements");
        assert!(got.iter().all(|r| r.grabbed_until == now + 30));
        assert_eq!(
            store.lookup(got[0].jobid).unwrap().unwrap().grabbed_until,
            now + 30
        );
    } else {
        assert!(!store.supports_skip_locked());
    }

    // Pruning and operator reschedule.
    assert!(store.reschedule(new_ids[0], now + 50).unwrap());
    assert!(!store.reschedule(JobId(987_654), now).unwrap());
    assert_eq!(store.prune_exit_statuses(now + 11, 100).unwrap(), 1);
    assert_eq!(store.prune_errors(now + 1, 100).unwrap(), 1);
    assert!(store.recent_failures(None, None, 10).unwrap().is_empty());
    let stats = store.stats().unwrap();
    assert_eq!((stats.errors, stats.exit_statuses), (0, 0));
}

fn on_upstream_schema(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    load_upstream_schema(backend, &db.url);
    let store = DieselStore::connect(&db.url).unwrap();
    // INTEGER time columns end in 2038 (SQLite's INTEGER is 64-bit).
    let narrow = if backend == Backend::Sqlite {
        253_402_300_799
    } else {
        i64::from(i32::MAX)
    };
    assert_eq!(store.max_epoch(), narrow, "{backend}");
    life_cycle(&store, true);
    // Our migrations adopt the database as it is, with 64-bit time columns.
    let applied = store.run_migrations().unwrap();
    assert_eq!(applied.len(), migration_count(backend), "{backend}");
    assert_eq!(store.max_epoch(), 253_402_300_799, "{backend}");
    life_cycle_again(&store);
}

fn life_cycle_again(store: &DieselStore) {
    let f = store.funcid("Again").unwrap();
    let now = store.server_time().unwrap();
    assert_eq!(
        store.insert_jobs(&[job(f, now, Some("x"))]).unwrap().len(),
        1
    );
}

fn on_our_schema(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    let store = DieselStore::connect(&db.url).unwrap();
    assert_eq!(
        store.run_migrations().unwrap().len(),
        migration_count(backend)
    );
    assert!(store.run_migrations().unwrap().is_empty());
    life_cycle(&store, false);
    for _ in 0..migration_count(backend) {
        assert!(store.revert_last_migration().unwrap().is_some());
    }
    assert!(store.revert_last_migration().unwrap().is_none());
    assert!(matches!(store.stats(), Err(Error::SchemaMissing { .. })));
}

/// How many migrations each backend has: the tables, plus PostgreSQL's notify trigger and
/// autovacuum settings, the index on `grabbed_until` (PostgreSQL and SQLite), the (funcid,
/// jobid) index (SQLite and MySQL, where a later one replaces it by (funcid,
/// grabbed_until)), MySQL's exact-text collation, 64-bit time columns on both servers; on
/// every backend our tables of periodic schedules and job results.
fn migration_count(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 7,
        Backend::Mysql => 7,
        _ => 5,
    }
}

fn errors(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    let store = DieselStore::connect(&db.url).unwrap();
    let e = store.funcmap().unwrap_err();
    assert!(matches!(e, Error::SchemaMissing { .. }), "{backend}: {e:?}");
    assert!(e.to_string().contains("migrat"), "{e}");
    store.run_migrations().unwrap();
    let f = store.funcid("F").unwrap();
    let now = store.server_time().unwrap();
    let mut big = job(f, now, None);
    big.arg = Some(vec![7; (1 << 24) + 1]);
    if backend == Backend::Mysql {
        let e = store.insert_jobs(&[big]).unwrap_err();
        // The server's max_allowed_packet less room for the statement, at most MEDIUMBLOB.
        let limit = store.max_arg_len();
        assert!(limit <= 16_777_215, "{limit}");
        assert!(
            matches!(e, Error::InvalidInput(_)) && e.to_string().contains(&limit.to_string()),
            "{e}"
        );
    }
    // 64-bit time columns: past 2038 is fine, past 9999-12-31 is refused, naming the limit.
    let mut later = job(f, now, None);
    later.run_after = i64::from(i32::MAX) + 1;
    assert_eq!(store.insert_jobs(&[later]).unwrap().len(), 1, "{backend}");
    assert_eq!(store.max_epoch(), 253_402_300_799, "{backend}");
    let mut far = job(f, now, None);
    far.run_after = store.max_epoch() + 1;
    let e = store.insert_jobs(&[far]).unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput(_)) && e.to_string().contains("253402300799"),
        "{backend}: {e}"
    );
    assert!(matches!(
        store.funcid("").unwrap_err(),
        Error::InvalidInput(_)
    ));
}

#[test]
fn sqlite_upstream_schema() {
    on_upstream_schema(Backend::Sqlite);
}

#[test]
fn postgres_upstream_schema() {
    on_upstream_schema(Backend::Postgres);
}

#[test]
fn mysql_upstream_schema() {
    on_upstream_schema(Backend::Mysql);
}

#[test]
fn sqlite_our_schema() {
    on_our_schema(Backend::Sqlite);
}

#[test]
fn postgres_our_schema() {
    on_our_schema(Backend::Postgres);
}

#[test]
fn mysql_our_schema() {
    on_our_schema(Backend::Mysql);
}

#[test]
fn sqlite_errors() {
    errors(Backend::Sqlite);
}

#[test]
fn postgres_errors() {
    errors(Backend::Postgres);
}

#[test]
fn mysql_errors() {
    errors(Backend::Mysql);
}

#[test]
fn unreachable_server_is_unavailable_and_lazy() {
    // Nothing listens on port 1.
    for url in [
        "postgres://u:topsecret@127.0.0.1:1/x",
        "mysql://u:topsecret@127.0.0.1:1/x",
    ] {
        let store = DieselStore::builder(url)
            .connection_timeout(Duration::from_millis(300))
            .build()
            .expect("connect is lazy");
        let e = store.server_time().unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert!(!e.to_string().contains("topsecret"), "{e}");
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
        assert!(!format!("{store:?}").contains("topsecret"));
        assert!(!store.identity().contains("topsecret"));
    }
}

#[test]
fn postgres_notify() {
    let Some(db) = new_db(Backend::Postgres) else {
        return;
    };
    let store = DieselStore::connect(&db.url).unwrap();
    store.run_migrations().unwrap();
    let mut n = store
        .notifier()
        .unwrap()
        .expect("PostgreSQL has a notifier");
    assert!(!n.wait(Duration::from_millis(20)).unwrap());
    let f = store.funcid("N").unwrap();
    let now = store.server_time().unwrap();
    store
        .insert_jobs(&[job(f, now, None), job(f, now, None)])
        .unwrap();
    let t0 = std::time::Instant::now();
    assert!(n.wait(Duration::from_secs(5)).unwrap());
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert!(
        !n.wait(Duration::from_millis(20)).unwrap(),
        "one notification per call"
    );
}

#[test]
fn postgres_notify_on_inserts_by_other_clients_and_single_rows() {
    let Some(db) = new_db(Backend::Postgres) else {
        return;
    };
    let store = DieselStore::connect(&db.url).unwrap();
    store.run_migrations().unwrap();
    let mut n = store
        .notifier()
        .unwrap()
        .expect("PostgreSQL has a notifier");
    let f = store.funcid("N").unwrap();
    // A client that is not ours (Perl TheSchwartz sends a plain INSERT): the trigger of our
    // migrations announces it.
    let mut other = diesel::pg::PgConnection::establish(&db.url).unwrap();
    other
        .batch_execute(&format!(
            "INSERT INTO job (funcid, run_after, grabbed_until) VALUES ({}, 0, 0)",
            f.0
        ))
        .unwrap();
    assert!(n.wait(Duration::from_secs(5)).unwrap(), "trigger notified");
    // A one-row insert of ours is one statement, announced by the trigger too.
    let now = store.server_time().unwrap();
    store.insert_jobs(&[job(f, now, None)]).unwrap();
    assert!(
        n.wait(Duration::from_secs(5)).unwrap(),
        "one-row insert notified"
    );
}

#[test]
fn postgres_notify_without_the_trigger() {
    let Some(db) = new_db(Backend::Postgres) else {
        return;
    };
    // TheSchwartz's own schema: no trigger, so the store sends NOTIFY itself.
    load_upstream_schema(Backend::Postgres, &db.url);
    let store = DieselStore::connect(&db.url).unwrap();
    let mut n = store
        .notifier()
        .unwrap()
        .expect("PostgreSQL has a notifier");
    let f = store.funcid("N").unwrap();
    let now = store.server_time().unwrap();
    // One statement (a data-modifying WITH calling pg_notify): the job, all its columns,
    // and its notification.
    let ids = store.insert_jobs(&[job(f, now, Some("u1"))]).unwrap();
    assert!(n.wait(Duration::from_secs(5)).unwrap(), "explicit NOTIFY");
    assert!(!n.wait(Duration::from_millis(20)).unwrap(), "only one");
    let row = store.lookup(ids[0]).unwrap().expect("the inserted job");
    assert_eq!(row.arg.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!(
        (
            row.uniqkey.as_deref(),
            row.priority,
            row.coalesce.as_deref()
        ),
        (Some("u1"), Some(3), Some("Key-1"))
    );
    // A second job with the same uniqkey is refused as a duplicate, and announces nothing.
    let dup = store.insert_jobs(&[job(f, now, Some("u1"))]).unwrap_err();
    assert!(
        matches!(dup, schwartz_core::Error::DuplicateUniqkey { .. }),
        "{dup:?}"
    );
    assert!(
        !n.wait(Duration::from_millis(50)).unwrap(),
        "nothing to announce"
    );
}

#[test]
fn server_time_in_milliseconds_agrees_with_seconds() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let Some(db) = new_db(backend) else { continue };
        let store = DieselStore::connect(&db.url).unwrap();
        let before = store.server_time().unwrap();
        let ms = store.server_time_ms().unwrap();
        let after = store.server_time().unwrap();
        assert!(
            before * 1000 <= ms && ms < (after + 1) * 1000,
            "{backend}: {before} s <= {ms} ms <= {after} s"
        );
        // Sub-second precision: readings 20 ms apart differ.
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            store.server_time_ms().unwrap() > ms,
            "{backend}: millisecond clock"
        );
    }
}

/// A SQLite file's notifier wakes on another connection's commit (its `data_version`); an
/// in-memory database, which no other connection can change, has none.
#[test]
fn sqlite_notifier_sees_other_connections_commits() {
    let db = new_db(Backend::Sqlite).unwrap();
    let store = DieselStore::connect(&db.url).unwrap();
    store.run_migrations().unwrap();
    let mut n = store
        .notifier()
        .unwrap()
        .expect("a file database has a notifier");
    assert!(
        !n.wait(Duration::from_millis(50)).unwrap(),
        "nothing was committed yet"
    );
    let other = DieselStore::connect(&db.url).unwrap();
    other.funcid("woken").unwrap(); // a commit on another connection
    assert!(
        n.wait(Duration::from_secs(2)).unwrap(),
        "the commit was not seen"
    );
    assert!(!n.wait(Duration::from_millis(50)).unwrap(), "seen once");
    let mem = DieselStore::connect("sqlite::memory:").unwrap();
    assert!(mem.notifier().unwrap().is_none());
}

/// Several stores (separate pools, as separate processes would have) drain one queue
/// concurrently: every job is finished exactly once and no operation fails.
fn concurrent_drain(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    let setup = DieselStore::connect(&db.url).unwrap();
    setup.run_migrations().unwrap();
    let f = setup.funcid("Drain").unwrap();
    let now = setup.server_time().unwrap();
    let rows: Vec<NewJobRow> = (0..600).map(|_| job(f, now, None)).collect();
    let mut all = setup.insert_jobs(&rows).unwrap();
    all.sort();
    let finished = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..4 {
            let url = db.url.clone();
            let finished = &finished;
            s.spawn(move || {
                let store = DieselStore::builder(&url).pool_size(2).build().unwrap();
                loop {
                    let now = store.server_time().unwrap();
                    let q = JobQuery::eligible(vec![f], now, 10);
                    // Half the workers use the portable select + claim path.
                    let grabbed = if w % 2 == 0 {
                        store
                            .grab_skip_locked(
                                &q,
                                &[Lease {
                                    funcid: f,
                                    grab_for: 60,
                                }],
                                now,
                            )
                            .unwrap()
                    } else {
                        None
                    };
                    let got: Vec<(JobId, i64)> = match grabbed {
                        Some(rows) => rows.iter().map(|r| (r.jobid, r.grabbed_until)).collect(),
                        None => {
                            let cands = store.select_jobs(&q).unwrap();
                            let claims: Vec<Claim> = cands
                                .iter()
                                .map(|r| Claim {
                                    jobid: r.jobid,
                                    expected: r.grabbed_until,
                                    lease_until: now + 60,
                                })
                                .collect();
                            let won = store.claim(&claims, now).unwrap();
                            won.into_iter().map(|id| (id, now + 60)).collect()
                        }
                    };
                    if got.is_empty() {
                        if store.stats().unwrap().jobs == 0 {
                            break;
                        }
                        continue;
                    }
                    let items: Vec<Finish> = got
                        .iter()
                        .map(|&(jobid, token)| Finish {
                            jobid,
                            funcid: f,
                            token,
                            failure: None,
                            action: FinishAction::Remove { exit_status: None },
                        })
                        .collect();
                    let st = store.finish(&items).unwrap();
                    let mut mine = finished.lock().unwrap();
                    for (s, (id, _)) in st.iter().zip(&got) {
                        assert!(matches!(s, FinishStatus::Done), "{backend}: {s:?}");
                        mine.push(*id);
                    }
                }
            });
        }
    });
    let mut done = finished.into_inner().unwrap();
    done.sort();
    assert_eq!(done, all, "{backend}: every job exactly once");
}

#[test]
fn sqlite_concurrent_drain() {
    concurrent_drain(Backend::Sqlite);
}

#[test]
fn postgres_concurrent_drain() {
    concurrent_drain(Backend::Postgres);
}

#[test]
fn mysql_concurrent_drain() {
    concurrent_drain(Backend::Mysql);
}

/// After the server drops every session (a restart), one operation reports Unavailable and
/// the next ones work again on fresh connections.
fn sessions_killed(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    let store = DieselStore::builder(&db.url).pool_size(3).build().unwrap();
    store.run_migrations().unwrap();
    // Open three connections.
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..20 {
                    store.stats().unwrap();
                }
            });
        }
    });
    let (server, name) = db.server.clone().unwrap();
    let admin_url = admin::with_database(
        &server,
        if backend == Backend::Postgres {
            "postgres"
        } else {
            "information_schema"
        },
    )
    .unwrap();
    if backend == Backend::Postgres {
        let mut c = diesel::pg::PgConnection::establish(&admin_url).unwrap();
        c.batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .unwrap();
    } else {
        use diesel::prelude::*;
        let mut c = diesel::mysql::MysqlConnection::establish(&admin_url).unwrap();
        let ids: Vec<i64> = diesel::sql_query(format!(
            "SELECT id FROM information_schema.processlist WHERE db = '{name}'"
        ))
        .load::<IdRow>(&mut c)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
        assert!(!ids.is_empty());
        for id in ids {
            let _ = c.batch_execute(&format!("KILL {id}"));
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let first = store.stats();
    eprintln!("{backend}: first operation after the kill: {first:?}");
    if let Err(e) = &first {
        assert!(matches!(e, Error::Unavailable { .. }), "{backend}: {e:?}");
    }
    for _ in 0..5 {
        store
            .stats()
            .unwrap_or_else(|e| panic!("{backend}: not recovered: {e}"));
    }
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

#[test]
fn postgres_sessions_killed() {
    sessions_killed(Backend::Postgres);
}

#[test]
fn mysql_sessions_killed() {
    sessions_killed(Backend::Mysql);
}

/// TheSchwartz's PostgreSQL schema before 2011 had `error.message VARCHAR(255)`: long
/// messages are truncated to it instead of failing.
#[test]
fn postgres_varchar_message_is_truncated() {
    let Some(db) = new_db(Backend::Postgres) else {
        return;
    };
    load_upstream_schema(Backend::Postgres, &db.url);
    diesel::pg::PgConnection::establish(&db.url)
        .unwrap()
        .batch_execute("ALTER TABLE error ALTER COLUMN message TYPE VARCHAR(255)")
        .unwrap();
    let store = DieselStore::connect(&db.url).unwrap();
    let f = store.funcid("F").unwrap();
    let now = store.server_time().unwrap();
    let id = store.insert_jobs(&[job(f, now, None)]).unwrap()[0];
    let long = "ü".repeat(300);
    let st = store
        .finish(&[Finish {
            jobid: id,
            funcid: f,
            token: 0,
            failure: Some(FailureRecord {
                error_time: now,
                jobid: id,
                message: long,
                funcid: f,
            }),
            action: FinishAction::Reschedule { run_after: None },
        }])
        .unwrap();
    assert!(matches!(st[0], FinishStatus::Done), "{st:?}");
    assert_eq!(store.failures(id).unwrap()[0].message.chars().count(), 255);
}

/// Explicit job ids are kept, and later automatic ids do not collide with them.
fn explicit_ids(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    let store = DieselStore::connect(&db.url).unwrap();
    store.run_migrations().unwrap();
    let f = store.funcid("E").unwrap();
    let now = store.server_time().unwrap();
    let first = store.insert_jobs(&[job(f, now, None)]).unwrap()[0];
    let mut explicit = job(f, now, None);
    explicit.jobid = Some(JobId(first.0 + 50));
    let ids = store
        .insert_jobs(&[job(f, now, None), explicit, job(f, now, None)])
        .unwrap();
    assert_eq!(ids[1], JobId(first.0 + 50), "{backend}");
    assert!(ids[2] > ids[1], "{backend}: {ids:?}");
    assert!(store.lookup(ids[1]).unwrap().is_some());
    let more = store.insert_jobs(&[job(f, now, None)]).unwrap();
    assert!(more[0] > ids[2], "{backend}");
}

#[test]
fn sqlite_explicit_ids() {
    explicit_ids(Backend::Sqlite);
}

#[test]
fn postgres_explicit_ids() {
    explicit_ids(Backend::Postgres);
}

#[test]
fn mysql_explicit_ids() {
    explicit_ids(Backend::Mysql);
}

/// The ids `select_jobs` gives for `JobQuery::eligible` of one function.
fn eligible_ids(
    store: &DieselStore,
    f: schwartz_core::FuncId,
    now: i64,
    limit: usize,
) -> Vec<JobId> {
    store
        .select_jobs(&schwartz_core::store::JobQuery::eligible(
            vec![f],
            now,
            limit,
        ))
        .unwrap()
        .into_iter()
        .map(|r| r.jobid)
        .collect()
}

/// The grab of one function's jobs takes the ones no one holds and the ones whose lease ran
/// out together, in jobid order, and skips the leased ones; `queue_summary` counts the
/// leased ones apart. On MySQL our schema serves this through `job_funcid_grabbed_until`
/// (two ranges of it, merged) and TheSchwartz's schema by its own indexes: both must agree.
fn expired_leases_in_order(backend: Backend, upstream: bool) {
    use schwartz_core::store::{Claim, JobQuery, Lease};
    let Some(db) = new_db(backend) else { return };
    if upstream {
        load_upstream_schema(backend, &db.url);
    }
    let store = DieselStore::connect(&db.url).unwrap();
    if !upstream {
        store.run_migrations().unwrap();
    }
    let f = store.funcid("Ordered").unwrap();
    let other = store.funcid("Other").unwrap();
    let now = store.server_time().unwrap();
    let rows: Vec<NewJobRow> = (0..12)
        .map(|i| NewJobRow {
            funcid: if i % 4 == 3 { other } else { f },
            ..job(f, now - 100, None)
        })
        .collect();
    let ids = store.insert_jobs(&rows).unwrap();
    let mine: Vec<JobId> = ids
        .iter()
        .zip(&rows)
        .filter(|(_, r)| r.funcid == f)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(mine.len(), 9);
    // mine[1] and mine[4]: leases that ran out; mine[2]: leased for an hour.
    let claim = |jobid: JobId, lease_until: i64| Claim {
        jobid,
        expected: 0,
        lease_until,
    };
    let claimed = store
        .claim(
            &[
                claim(mine[1], now - 50),
                claim(mine[4], now - 1),
                claim(mine[2], now + 3600),
            ],
            now - 60,
        )
        .unwrap();
    assert_eq!(claimed.len(), 3, "{backend}");
    let eligible: Vec<JobId> = mine.iter().copied().filter(|&id| id != mine[2]).collect();
    let select = |limit: usize| eligible_ids(&store, f, now, limit);
    assert_eq!(select(100), eligible, "{backend}, upstream {upstream}");
    assert_eq!(select(3), eligible[..3], "{backend}, upstream {upstream}");
    let summary = store.queue_summary(now, now - 3600, u64::MAX).unwrap();
    let s = summary.iter().find(|s| s.funcid == f).unwrap();
    assert_eq!((s.due, s.running), (8, 1), "{backend}, upstream {upstream}");
    let s = summary.iter().find(|s| s.funcid == other).unwrap();
    assert_eq!((s.due, s.running), (3, 0), "{backend}, upstream {upstream}");
    // The pool's grab: the first five eligible jobs, in order, now leased.
    let leases = [Lease {
        funcid: f,
        grab_for: 60,
    }];
    if let Some(rows) = store
        .grab_skip_locked(&JobQuery::eligible(vec![f], now, 5), &leases, now)
        .unwrap()
    {
        let got: Vec<JobId> = rows.iter().map(|r| r.jobid).collect();
        assert_eq!(got, eligible[..5], "{backend}, upstream {upstream}");
        assert!(
            rows.iter().all(|r| r.grabbed_until == now + 60),
            "{backend}"
        );
        assert_eq!(select(100), eligible[5..], "{backend}, upstream {upstream}");
    }
}

#[test]
fn sqlite_expired_leases_in_order() {
    expired_leases_in_order(Backend::Sqlite, false);
    expired_leases_in_order(Backend::Sqlite, true);
}

#[test]
fn postgres_expired_leases_in_order() {
    expired_leases_in_order(Backend::Postgres, false);
    expired_leases_in_order(Backend::Postgres, true);
}

#[test]
fn mysql_expired_leases_in_order() {
    expired_leases_in_order(Backend::Mysql, false);
    expired_leases_in_order(Backend::Mysql, true);
}

/// A store that has seen the lease index keeps grabbing when an operator drops it (MySQL
/// refuses a statement naming an unknown index: the store forgets the index and grabs as
/// without it).
#[test]
fn mysql_lease_index_dropped_while_running() {
    use schwartz_core::store::{JobQuery, Lease};
    let Some(db) = new_db(Backend::Mysql) else {
        return;
    };
    let store = DieselStore::connect(&db.url).unwrap();
    store.run_migrations().unwrap();
    let f = store.funcid("Dropped").unwrap();
    let now = store.server_time().unwrap();
    let ids = store
        .insert_jobs(&(0..6).map(|_| job(f, now - 10, None)).collect::<Vec<_>>())
        .unwrap();
    let select = |limit: usize| eligible_ids(&store, f, now, limit);
    assert_eq!(select(2), ids[..2]);
    // A second store, which has seen the index too, grabs after the drop.
    let other = DieselStore::connect(&db.url).unwrap();
    assert_eq!(eligible_ids(&other, f, now, 1), ids[..1]);
    diesel::mysql::MysqlConnection::establish(&db.url)
        .unwrap()
        .batch_execute("DROP INDEX job_funcid_grabbed_until ON job")
        .unwrap();
    assert_eq!(select(2), ids[..2]);
    let leases = [Lease {
        funcid: f,
        grab_for: 60,
    }];
    let got = other
        .grab_skip_locked(&JobQuery::eligible(vec![f], now, 3), &leases, now)
        .unwrap()
        .expect("MariaDB has SKIP LOCKED");
    assert_eq!(got.iter().map(|r| r.jobid).collect::<Vec<_>>(), ids[..3]);
    assert_eq!(select(10), ids[3..]);
}
