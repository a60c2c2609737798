//! Tricky text and edge values through every SQL store (issue 8).
//!
//! Every tricky text (NUL, trailing and leading spaces, case variants, quotes, backslashes,
//! the LIKE metacharacters `%` `_` `\` `!`, 255 characters, non-ASCII, emoji) is written as a
//! function name, a uniqkey, a coalesce value and a failure message through SQLite,
//! PostgreSQL and MariaDB, read back byte for byte, and near-equal values must stay distinct
//! (uniqkeys, funcname routing, coalesce exact and prefix queries). A store may refuse a
//! value it cannot hold (PostgreSQL: NUL) with a clear `InvalidInput`; it may never store
//! it differently or match the wrong rows. Each backend prints one summary line: inputs
//! tried, clear errors, wrong results (must be 0).
//!
//! Plus the edge values: an explicit job id of `i64::MAX`, a 16 MiB - 1 argument on MariaDB
//! followed by a legal insert, data errors that must not mark a store dead, and times past
//! 2038 (clamped computed retry times on an upstream-schema database).
//!
//! PostgreSQL and MariaDB run when their servers answer (SCHWARTZ_PG_URL,
//! SCHWARTZ_MYSQL_URL); with `CI=true` an unreachable server is a failure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use schwartz_core::store::{
    Claim, CoalesceFilter, FailureRecord, Finish, FinishAction, FinishStatus, JobQuery, NewJobRow,
    Store,
};
use schwartz_core::{Error, FuncId, JobId};
use schwartz_diesel::{admin, DieselStore};

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn in_ci() -> bool {
    schwartz_testkit::env::ci()
}

/// A store on a fresh database; dropped (server databases) when the value goes.
struct Db {
    name: &'static str,
    store: Arc<DieselStore>,
    url: String,
    _guard: Box<dyn std::any::Any>,
}

struct DropDb(String, String);

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Err(e) = admin::drop_database(&self.0, &self.1) {
            eprintln!("dropping database {}: {e}", self.1);
        }
    }
}

fn sqlite() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store = DieselStore::connect(&url).expect("sqlite store");
    store.run_migrations().expect("sqlite migrations");
    Db {
        name: "sqlite",
        store: Arc::new(store),
        url,
        _guard: Box::new(dir),
    }
}

/// A new empty database on a server; `migrate`: apply our migrations.
fn server(name: &'static str, tag: &str, migrate: bool) -> Option<Db> {
    let (var, default) = match name {
        "postgres" => ("SCHWARTZ_PG_URL", "postgres://postgres@127.0.0.1:5432/test"),
        _ => ("SCHWARTZ_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    };
    let server = std::env::var(var).unwrap_or_else(|_| default.to_string());
    let db = format!(
        "sw_tt_{tag}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let made =
        admin::drop_database(&server, &db).and_then(|()| admin::create_database(&server, &db));
    if let Err(e) = made {
        if in_ci() {
            panic!("{name} not reachable with CI=true: {e}");
        }
        eprintln!("{name}: skipped ({e})");
        return None;
    }
    let guard = DropDb(server.clone(), db.clone());
    let url = admin::with_database(&server, &db).expect("url");
    let store = DieselStore::connect(&url).expect("store");
    if migrate {
        store.run_migrations().expect("migrations");
    }
    Some(Db {
        name,
        store: Arc::new(store),
        url,
        _guard: Box::new(guard),
    })
}

/// SQLite, then PostgreSQL and MariaDB when they answer.
fn all_dbs(tag: &str) -> Vec<Db> {
    let mut v = vec![sqlite()];
    v.extend(server("postgres", tag, true));
    v.extend(server("mysql", tag, true));
    v
}

/// The tricky texts.
fn tricky() -> Vec<String> {
    let mut v: Vec<String> = [
        "send",
        "send ",
        "send  ",
        " send",
        "Send",
        "SEND",
        "send\0",
        "se\0nd",
        "\0",
        "\0send",
        "send\t",
        "send\n",
        "it's",
        "'",
        "''",
        "\"q\"",
        "back\\slash",
        "\\",
        "\\\\",
        "50%",
        "%",
        "a%b",
        "_",
        "a_b",
        "a!b",
        "!",
        "!%",
        "\\%",
        "é",
        "e\u{301}",
        "É",
        "straße",
        "STRASSE",
        "日本語",
        "🦀",
        "🦀 ",
        "Ω",
        "ω",
        "\u{a0}send",
        "send\u{a0}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(255));
    v.push(format!("{} ", "x".repeat(254)));
    v.push("é".repeat(255));
    v.push("🦀".repeat(255));
    v
}

/// Per backend: inputs tried, clear errors, wrong results (with what went wrong).
#[derive(Default)]
struct Tally {
    tried: usize,
    clear: usize,
    wrong: Vec<String>,
}

impl Tally {
    /// A refusal is clear when it is `InvalidInput` and does not mark the store dead.
    fn refused(&mut self, what: &str, input: &str, e: &Error) {
        if matches!(e, Error::InvalidInput(_)) && !e.marks_store_dead() {
            self.clear += 1;
        } else {
            self.wrong
                .push(format!("{what} {input:?}: unclear error {e:?}"));
        }
    }
}

fn new_row(funcid: FuncId, now: i64) -> NewJobRow {
    NewJobRow {
        jobid: None,
        funcid,
        arg: None,
        uniqkey: None,
        insert_time: now,
        run_after: now,
        grabbed_until: 0,
        priority: None,
        coalesce: None,
    }
}

fn query(funcid: FuncId, coalesce: Option<CoalesceFilter>) -> JobQuery {
    JobQuery {
        funcids: vec![funcid],
        run_after_max: None,
        grabbed_until_max: None,
        jobid: None,
        floor: None,
        coalesce,
        order: schwartz_core::store::JobOrder::JobId,
        limit: 10_000,
    }
}

/// Funcnames: distinct ids for distinct names, read back exactly, routing exact.
fn funcnames(s: &dyn Store, texts: &[String], t: &mut Tally) {
    let now = s.server_time().unwrap();
    let mut ok: Vec<(String, FuncId, JobId)> = Vec::new();
    for name in texts {
        t.tried += 1;
        match s.funcid(name) {
            Ok(id) => {
                if let Some((other, _, _)) = ok.iter().find(|(_, f, _)| *f == id) {
                    t.wrong
                        .push(format!("funcname {name:?} got the id of {other:?}"));
                    continue;
                }
                let jobid = s.insert_jobs(&[new_row(id, now)]).unwrap()[0];
                ok.push((name.clone(), id, jobid));
            }
            Err(e) => t.refused("funcname", name, &e),
        }
    }
    let map = s.funcmap().unwrap();
    for (name, id, jobid) in &ok {
        match map.iter().find(|m| m.funcid == *id) {
            Some(m) if m.funcname.as_bytes() == name.as_bytes() => {}
            other => t
                .wrong
                .push(format!("funcname {name:?} read back as {other:?}")),
        }
        let got: Vec<JobId> = s
            .select_jobs(&query(*id, None))
            .unwrap()
            .iter()
            .map(|r| r.jobid)
            .collect();
        if got != vec![*jobid] {
            t.wrong.push(format!(
                "funcname {name:?}: jobs {got:?}, expected [{jobid:?}]"
            ));
        }
    }
}

/// Uniqkeys: every distinct key inserts, reads back exactly; the same key again collides.
fn uniqkeys(s: &dyn Store, texts: &[String], t: &mut Tally) {
    let f = s.funcid("tricky.uniqkey").unwrap();
    let now = s.server_time().unwrap();
    for key in texts {
        t.tried += 1;
        let row = NewJobRow {
            uniqkey: Some(key.clone()),
            ..new_row(f, now)
        };
        match s.insert_jobs(std::slice::from_ref(&row)) {
            Ok(ids) => {
                let back = s.lookup(ids[0]).unwrap().and_then(|r| r.uniqkey);
                if back.as_deref().map(str::as_bytes) != Some(key.as_bytes()) {
                    t.wrong
                        .push(format!("uniqkey {key:?} read back as {back:?}"));
                }
                match s.insert_jobs(&[row]) {
                    Err(Error::DuplicateUniqkey { .. }) => {}
                    other => t.wrong.push(format!("uniqkey {key:?} again: {other:?}")),
                }
            }
            Err(e) => t.refused("uniqkey", key, &e),
        }
    }
}

/// Coalesce values: exact and prefix queries return exactly the matching jobs.
fn coalesce(s: &dyn Store, funcname: &str, texts: &[String], t: &mut Tally) {
    let f = s.funcid(funcname).unwrap();
    let now = s.server_time().unwrap();
    let mut stored: Vec<(String, JobId)> = Vec::new();
    for v in texts {
        t.tried += 1;
        let row = NewJobRow {
            coalesce: Some(v.clone()),
            ..new_row(f, now)
        };
        match s.insert_jobs(&[row]) {
            Ok(ids) => {
                let back = s.lookup(ids[0]).unwrap().and_then(|r| r.coalesce);
                if back.as_deref().map(str::as_bytes) != Some(v.as_bytes()) {
                    t.wrong
                        .push(format!("coalesce {v:?} read back as {back:?}"));
                }
                stored.push((v.clone(), ids[0]));
            }
            Err(e) => t.refused("coalesce", v, &e),
        }
    }
    for v in texts {
        let ids = |keep: &dyn Fn(&[u8]) -> bool| -> Vec<JobId> {
            stored
                .iter()
                .filter(|(c, _)| keep(c.as_bytes()))
                .map(|(_, id)| *id)
                .collect()
        };
        let exact = ids(&|c| c == v.as_bytes());
        let prefixed = ids(&|c| c.starts_with(v.as_bytes()));
        for (filter, expect) in [
            (CoalesceFilter::Equals(v.clone()), exact),
            (CoalesceFilter::Prefix(v.clone()), prefixed),
        ] {
            t.tried += 1;
            match s.select_jobs(&query(f, Some(filter.clone()))) {
                Ok(rows) => {
                    let got: Vec<JobId> = rows.iter().map(|r| r.jobid).collect();
                    if got != expect {
                        t.wrong
                            .push(format!("{filter:?}: jobs {got:?}, expected {expect:?}"));
                    }
                }
                Err(e) => t.refused("coalesce query", v, &e),
            }
        }
    }
}

/// Failure messages: always recorded; exact, or (a value the backend cannot hold)
/// sanitized.
fn messages(s: &dyn Store, texts: &[String], t: &mut Tally) {
    let f = s.funcid("tricky.message").unwrap();
    for msg in texts {
        t.tried += 1;
        let now = s.server_time().unwrap();
        let id = s.insert_jobs(&[new_row(f, now)]).unwrap()[0];
        let until = now + 60;
        let won = s
            .claim(
                &[Claim {
                    jobid: id,
                    expected: 0,
                    lease_until: until,
                }],
                now,
            )
            .unwrap();
        assert_eq!(won, vec![id]);
        let done = s.finish(&[Finish {
            jobid: id,
            funcid: f,
            token: until,
            failure: Some(FailureRecord {
                error_time: now,
                jobid: id,
                message: msg.clone(),
                funcid: f,
            }),
            action: FinishAction::Reschedule { run_after: None },
        }]);
        match done.as_deref() {
            Ok([FinishStatus::Done]) => {}
            other => {
                t.wrong.push(format!("message {msg:?}: finish {other:?}"));
                continue;
            }
        }
        let logged = s.failures(id).unwrap();
        match logged.as_slice() {
            [r] if r.message == *msg => {}
            // Sanitized: NUL shown as `\0` where the backend cannot store it.
            [r] if msg.contains('\0') && r.message == msg.replace('\0', "\\0") => t.clear += 1,
            other => t.wrong.push(format!("message {msg:?} logged as {other:?}")),
        }
    }
}

#[test]
fn tricky_text_round_trips_on_every_backend() {
    let texts = tricky();
    let mut failures = Vec::new();
    for db in all_dbs("text") {
        let s: &dyn Store = &*db.store;
        let mut t = Tally::default();
        funcnames(s, &texts, &mut t);
        uniqkeys(s, &texts, &mut t);
        coalesce(s, "tricky.coalesce", &texts, &mut t);
        messages(s, &texts, &mut t);
        println!(
            "tricky text {:<8}: {} inputs tried, {} clear errors, {} wrong results",
            db.name,
            t.tried,
            t.clear,
            t.wrong.len()
        );
        for w in &t.wrong {
            println!("  wrong on {}: {w}", db.name);
        }
        failures.extend(t.wrong.into_iter().map(|w| format!("{}: {w}", db.name)));
    }
    assert!(
        failures.is_empty(),
        "{} wrong results: {failures:#?}",
        failures.len()
    );
}

/// Pieces generated coalesce values and prefixes are made of.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a", "A", " ", "\0", "%", "_", "\\", "!", "é", "🦀", "'",
    ])
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..5).prop_map(|v| v.concat())
}

#[test]
fn generated_coalesce_values_match_exactly() {
    let dbs = all_dbs("prop");
    let round = AtomicU32::new(0);
    let config = ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(values in prop::collection::vec(text(), 1..8), probes in prop::collection::vec(text(), 1..4))| {
        let n = round.fetch_add(1, Ordering::Relaxed);
        for db in &dbs {
            let mut t = Tally::default();
            let mut all = values.clone();
            all.extend(probes.iter().cloned());
            coalesce(&*db.store, &format!("prop.{n}"), &all, &mut t);
            prop_assert!(t.wrong.is_empty(), "{}: {:#?}", db.name, t.wrong);
        }
    });
}

#[test]
fn explicit_job_ids_near_i64_max_are_refused_and_later_inserts_work() {
    for db in all_dbs("ids") {
        let s = &*db.store;
        let f = s.funcid("ids").unwrap();
        let now = s.server_time().unwrap();
        for id in [i64::MAX, i64::MAX - 1, DieselStore::MAX_EXPLICIT_JOB_ID + 1] {
            let row = NewJobRow {
                jobid: Some(JobId(id)),
                ..new_row(f, now)
            };
            match s.insert_jobs(&[row]) {
                Err(Error::InvalidInput(m)) => {
                    assert!(m.contains(&id.to_string()), "{}: {m}", db.name)
                }
                other => panic!("{}: explicit id {id}: {other:?}", db.name),
            }
        }
        let top = DieselStore::MAX_EXPLICIT_JOB_ID;
        let row = NewJobRow {
            jobid: Some(JobId(top)),
            ..new_row(f, now)
        };
        assert_eq!(
            s.insert_jobs(std::slice::from_ref(&row)).unwrap(),
            vec![JobId(top)],
            "{}",
            db.name
        );
        match s.insert_jobs(&[row]) {
            Err(e @ Error::DuplicateJobId { .. }) => {
                let m = e.to_string();
                assert!(
                    m.contains(&top.to_string()) && !m.contains("Some("),
                    "{}: {m}",
                    db.name
                );
            }
            other => panic!("{}: duplicate explicit id: {other:?}", db.name),
        }
        let next = s.insert_jobs(&[new_row(f, now), new_row(f, now)]).unwrap();
        assert_eq!(next.len(), 2, "{}", db.name);
        assert!(next.iter().all(|j| j.0 > top), "{}: {next:?}", db.name);
        assert!(s.lookup(next[1]).unwrap().is_some(), "{}", db.name);
    }
}

#[test]
fn argument_over_the_servers_limit_is_refused_and_the_next_insert_works() {
    for db in all_dbs("arg") {
        let s = &*db.store;
        let f = s.funcid("arg").unwrap();
        let now = s.server_time().unwrap();
        let limit = db.store.max_arg_len();
        assert!(limit > 1 << 20, "{}: limit {limit}", db.name);
        if db.name == "mysql" {
            // 16 MiB - 1 fits MEDIUMBLOB but not the default max_allowed_packet with the rest
            // of the statement.
            let big = NewJobRow {
                arg: Some(vec![7u8; (1 << 24) - 1]),
                ..new_row(f, now)
            };
            match s.insert_jobs(&[big]) {
                Err(e @ Error::InvalidInput(_)) => assert!(!e.marks_store_dead()),
                Ok(_) => assert!((1 << 24) - 1 <= limit, "accepted over the limit {limit}"),
                Err(e) => panic!("mysql: 16 MiB - 1 argument: {e:?}"),
            }
        }
        if limit < 64 << 20 {
            let over = NewJobRow {
                arg: Some(vec![1u8; limit + 1]),
                ..new_row(f, now)
            };
            match s.insert_jobs(&[over]) {
                Err(e @ Error::InvalidInput(_)) => assert!(!e.marks_store_dead()),
                other => panic!("{}: argument over {limit}: {other:?}", db.name),
            }
            // The largest legal argument goes in and comes back whole.
            let at = NewJobRow {
                arg: Some(vec![2u8; limit]),
                ..new_row(f, now)
            };
            let id = s.insert_jobs(&[at]).unwrap()[0];
            let back = s.lookup(id).unwrap().unwrap().arg.unwrap();
            assert_eq!(back.len(), limit, "{}", db.name);
        }
        let id = s.insert_jobs(&[new_row(f, now)]).unwrap()[0];
        assert!(s.lookup(id).unwrap().is_some(), "{}", db.name);
    }
}

#[test]
fn data_errors_do_not_mark_the_store_dead() {
    for db in all_dbs("dead") {
        let s = &*db.store;
        let f = s.funcid("dead").unwrap();
        let now = s.server_time().unwrap();
        let bad = [
            NewJobRow {
                uniqkey: Some("k".repeat(256)),
                ..new_row(f, now)
            },
            NewJobRow {
                priority: Some(1 << 20),
                ..new_row(f, now)
            },
            NewJobRow {
                funcid: FuncId(i32::MAX),
                ..new_row(f, now)
            },
        ];
        for row in bad {
            if let Err(e) = s.insert_jobs(std::slice::from_ref(&row)) {
                assert!(!e.marks_store_dead(), "{}: {row:?}: {e:?}", db.name);
            }
        }
        for name in ["", "n\0ul", &"f".repeat(300)] {
            if let Err(e) = s.funcid(name) {
                assert!(!e.marks_store_dead(), "{}: funcid {name:?}: {e:?}", db.name);
            }
        }
        // A value the server itself refuses (MySQL: a negative time in an UNSIGNED
        // column): a data error from the driver, which must not mark the store dead.
        let id = s.insert_jobs(&[new_row(f, now)]).unwrap()[0];
        if let Err(e) = s.reschedule(id, -5) {
            assert!(!e.marks_store_dead(), "{}: {e:?}", db.name);
            assert!(matches!(e, Error::Database { .. }), "{}: {e:?}", db.name);
        }
        assert!(s.insert_jobs(&[new_row(f, now)]).is_ok(), "{}", db.name);
    }
}

/// 2040-01-01T00:00:00Z.
const Y2040: i64 = 2_208_988_800;
/// 9999-12-31T23:59:59Z: the latest time on 64-bit time columns.
const MAX_EPOCH_64: i64 = 253_402_300_799;

/// Claims job `id` and finishes it with a far-future retry and failure time; returns the
/// row's (grabbed_until, run_after) and the recorded failure time.
fn retry_far_away(s: &DieselStore, f: FuncId, id: JobId, now: i64) -> (i64, i64, i64) {
    let until = now + 60;
    let won = s
        .claim(
            &[Claim {
                jobid: id,
                expected: 0,
                lease_until: until,
            }],
            now,
        )
        .unwrap();
    assert_eq!(won, vec![id]);
    let done = s
        .finish(&[Finish {
            jobid: id,
            funcid: f,
            token: until,
            failure: Some(FailureRecord {
                error_time: i64::MAX / 2,
                jobid: id,
                message: "far".to_string(),
                funcid: f,
            }),
            action: FinishAction::Reschedule {
                run_after: Some(i64::MAX / 2),
            },
        }])
        .unwrap();
    assert!(matches!(done[..], [FinishStatus::Done]), "{done:?}");
    let row = s.lookup(id).unwrap().unwrap();
    let failures = s.failures(id).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    (row.grabbed_until, row.run_after, failures[0].error_time)
}

/// Inserts a job due in 2040 and checks it reads back, lists and is not due now.
fn schedule_in_2040(s: &DieselStore, f: FuncId, now: i64, name: &str) {
    let row = NewJobRow {
        run_after: Y2040,
        ..new_row(f, now)
    };
    let id = s.insert_jobs(&[row]).unwrap()[0];
    assert_eq!(s.lookup(id).unwrap().unwrap().run_after, Y2040, "{name}");
    let listed = s.select_jobs(&query(f, None)).unwrap();
    assert!(
        listed.iter().any(|r| r.jobid == id && r.run_after == Y2040),
        "{name}: {listed:?}"
    );
    let due = s
        .select_jobs(&JobQuery::eligible(vec![f], now, 100))
        .unwrap();
    assert!(due.iter().all(|r| r.jobid != id), "{name}: {due:?}");
}

/// Our migrations have 64-bit time columns on every backend: a job in 2040 is stored,
/// listed and not due; times past 9999 are refused clearly; computed far-future retry and
/// failure times are clamped to 9999-12-31.
#[test]
fn far_future_times_on_our_migrations() {
    for db in all_dbs("time") {
        let s = &*db.store;
        assert_eq!(db.store.max_epoch(), MAX_EPOCH_64, "{}", db.name);
        assert_eq!(
            schwartz_core::store::Store::limits(s).max_epoch,
            MAX_EPOCH_64,
            "{}",
            db.name
        );
        let f = s.funcid("time").unwrap();
        let now = s.server_time().unwrap();
        schedule_in_2040(&db.store, f, now, db.name);
        let row = NewJobRow {
            run_after: MAX_EPOCH_64 + 1,
            ..new_row(f, now)
        };
        match s.insert_jobs(&[row]) {
            Err(Error::InvalidInput(m)) => {
                assert!(m.contains(&MAX_EPOCH_64.to_string()), "{}: {m}", db.name)
            }
            other => panic!("{}: run_after past 9999: {other:?}", db.name),
        }
        // A computed retry far in the future never leaves the job stuck.
        let id = s.insert_jobs(&[new_row(f, now)]).unwrap()[0];
        assert_eq!(
            retry_far_away(&db.store, f, id, now),
            (0, MAX_EPOCH_64, MAX_EPOCH_64),
            "{}",
            db.name
        );
    }
}

/// Loads TheSchwartz's own schema file for `backend` ("mysql" or "postgres") into `db`.
fn load_upstream(backend: &str, db: &Db) {
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../schwartz-diesel/tests/upstream/{backend}.sql"));
    let Ok(sql) = std::fs::read_to_string(&schema) else {
        panic!("missing {}", schema.display());
    };
    use diesel::connection::SimpleConnection;
    if backend == "postgres" {
        let mut c =
            <diesel::pg::PgConnection as diesel::Connection>::establish(&db.url).expect("connect");
        c.batch_execute(&sql).expect("upstream schema");
    } else {
        let mut c = <diesel::mysql::MysqlConnection as diesel::Connection>::establish(
            &db.url.replacen("mariadb://", "mysql://", 1),
        )
        .expect("connect");
        c.batch_execute(&sql).expect("upstream schema");
    }
}

/// A database made by TheSchwartz's own schema file (32-bit `INTEGER` times): a job past
/// 2038 is refused with an error naming the limit, computed retry and failure times are
/// clamped to it; once our migrations are applied the same database takes 2040.
#[test]
fn upstream_schema_reports_its_time_limit_and_clamps() {
    for backend in ["postgres", "mysql"] {
        let Some(db) = server(backend, "up", false) else {
            continue;
        };
        load_upstream(backend, &db);
        let s = &*db.store;
        let max = i64::from(i32::MAX);
        assert_eq!(db.store.max_epoch(), max, "{backend}");
        assert_eq!(schwartz_core::store::Store::limits(s).max_epoch, max);
        let f = s.funcid("up").unwrap();
        let now = s.server_time().unwrap();
        let row = NewJobRow {
            run_after: Y2040,
            ..new_row(f, now)
        };
        match s.insert_jobs(&[row]) {
            Err(e @ Error::InvalidInput(_)) => {
                let m = e.to_string();
                assert!(
                    m.contains("2147483647") && m.contains("2038"),
                    "{backend}: {m}"
                );
                assert!(!e.marks_store_dead());
            }
            other => panic!("{backend}: run_after 2040: {other:?}"),
        }
        let id = s.insert_jobs(&[new_row(f, now)]).unwrap()[0];
        assert_eq!(
            retry_far_away(&db.store, f, id, now),
            (0, max, max),
            "{backend}"
        );
        // Adopted with our migrations: 64-bit from then on, the clamped rows still read.
        db.store.run_migrations().unwrap();
        assert_eq!(db.store.max_epoch(), MAX_EPOCH_64, "{backend}");
        assert_eq!(s.lookup(id).unwrap().unwrap().run_after, max, "{backend}");
        schedule_in_2040(&db.store, f, now, backend);
    }
}

/// `admin` takes `mariadb://` URLs as the store does.
#[test]
fn admin_accepts_mariadb_urls() {
    let server = std::env::var("SCHWARTZ_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string());
    let Some(rest) = server.strip_prefix("mysql://") else {
        return;
    };
    let maria = format!("mariadb://{rest}");
    let db = format!("sw_tt_maria_{}", std::process::id());
    // Reachable at all (through mysql://)? Then mariadb:// must work too.
    if let Err(e) = admin::drop_database(&server, &db) {
        if in_ci() {
            panic!("mysql not reachable with CI=true: {e}");
        }
        eprintln!("mysql: skipped ({e})");
        return;
    }
    admin::create_database(&maria, &db).expect("create_database with a mariadb:// URL");
    let _drop = DropDb(maria.clone(), db.clone());
    let url = admin::with_database(&maria, &db).unwrap();
    assert!(url.starts_with("mariadb://"), "{url}");
    let store = DieselStore::connect(&url).unwrap();
    store.run_migrations().unwrap();
    assert!(store.funcid("maria").is_ok());
}
