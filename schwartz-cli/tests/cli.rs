//! End-to-end: the real `schwartz` binary against SQLite, PostgreSQL and MariaDB, on
//! databases made by our migrations and by TheSchwartz's own schema files, with jobs
//! inserted by the Perl client: every command, exit codes, `--json` field by field.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{have_perl, new_db, perl_insert, Db};
use schwartz_core::{Client, Job, QueuedJob, WorkError};
use schwartz_diesel::Backend;
use serde_json::Value;

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value:?} in {list:#}"))
}

fn fits(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "wider than 100 columns: {line:?}"
        );
    }
}

fn insert(db: &Db, args: &[&str]) -> String {
    let mut all = vec!["insert"];
    all.extend_from_slice(args);
    let (code, out, err) = db.run(&all);
    assert_eq!(code, 0, "insert {args:?}: {err}");
    let h = out.trim().to_string();
    assert!(h.len() > 33 && h.as_bytes()[32] == b'-', "handle: {h:?}");
    h
}

fn client(db: &Db) -> Client {
    Client::builder().store(db.store()).build().unwrap()
}

/// `check-args`: every pending job of a function by encoding, and which do not decode.
fn check_args(db: &Db) {
    #[derive(serde::Serialize)]
    struct Email {
        to: String,
    }
    let c = client(db);
    let e = || Email { to: "a@b".into() };
    let json = c.insert(Job::new("Mixed").arg(&e()).unwrap()).unwrap();
    let perl = c.insert(Job::new("Mixed").perl_arg(&e()).unwrap()).unwrap();
    let bin = c
        .insert(
            Job::new("Mixed")
                .arg_format(schwartz_core::ArgFormat::Bincode)
                .arg(&e())
                .unwrap(),
        )
        .unwrap();
    // bless({}, "Foo") from a Perl client.
    let blessed = c
        .insert(Job::new("Mixed").raw_arg(b"\x05\x0b\x11\x03Foo\x03\x00\x00\x00\x00".to_vec()))
        .unwrap();
    let doc = db.json(&["check-args", "Mixed"], 1);
    assert_eq!(doc["failing"], 1, "{doc}");
    assert_eq!(doc["by_encoding"]["json"], 1);
    assert_eq!(doc["by_encoding"]["storable"], 2);
    assert_eq!(doc["by_encoding"]["bincode"], 1);
    let row = |h: &schwartz_core::JobHandle| find(&doc["jobs"], "handle", &h.to_string()).clone();
    assert_eq!(row(&json)["ok"], true);
    assert_eq!(row(&perl)["encoding"], "storable");
    assert_eq!(row(&bin)["encoding"], "bincode");
    assert_eq!(row(&blessed)["ok"], false);
    assert!(row(&blessed)["error"]
        .as_str()
        .unwrap()
        .contains("class Foo"));
    let (code, out, _) = db.run(&["check-args", "Mixed"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Mixed: 4 pending jobs (1 bincode, 1 json, 2 storable), 1 do not decode"),
        "{out}"
    );
    // show decodes a Storable argument.
    let s = db.json(&["show", &perl.to_string()], 0);
    assert_eq!(s["arg"]["encoding"], "storable");
    assert_eq!(s["arg"]["value"]["to"], "a@b");
    // Worked off (no error rows, unlike cancel): nothing left to check.
    c.can_do("Mixed", |_: &QueuedJob| -> Result<(), WorkError> { Ok(()) })
        .unwrap();
    assert_eq!(c.work_until_done().unwrap(), 4);
    assert_eq!(db.run(&["check-args", "Mixed"]).0, 0);
}

/// Works one job of `funcname` with a worker that fails with `message`.
fn fail_one(db: &Db, funcname: &str, message: &'static str) {
    let c = client(db);
    c.can_do(funcname, move |_: &QueuedJob| -> Result<(), WorkError> {
        Err(message.into())
    })
    .unwrap();
    assert!(c.work_once().unwrap(), "a {funcname} job to fail");
}

fn every_command(backend: Backend, upstream: bool) {
    let Some(db) = new_db(backend) else { return };
    let perl = upstream && have_perl(backend);

    // migrate
    if upstream {
        db.load_upstream_schema();
        let (code, out, _) = db.run(&["migrate", "--check"]);
        assert_eq!(
            code, 1,
            "TheSchwartz's schema has our migrations pending: {out}"
        );
        assert!(out.contains("pending"), "{out}");
    } else {
        let (code, out, err) = db.run(&["migrate", "--check"]);
        assert_eq!(code, 1, "{out} {err}");
        let (code, out, err) = db.run(&["migrate"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(": applied "), "{out}");
        let (code, out, _) = db.run(&["migrate", "--check"]);
        assert_eq!(code, 0);
        assert!(out.contains("up to date"), "{out}");
    }

    // insert
    let h1 = insert(
        &db,
        &[
            "Email",
            "--arg-json",
            r#"{"to":"a@b"}"#,
            "--priority",
            "5",
            "--coalesce",
            "c1",
        ],
    );
    let h2 = insert(&db, &["Later", "--run-after", "+1h", "--uniqkey", "k1"]);
    let h3 = insert(&db, &["Raw", "--arg-raw", "plain text"]);
    let (code, _, err) = db.run(&["insert", "Later", "--uniqkey", "k1"]);
    assert_eq!(code, 2, "duplicate uniqkey: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let (code, _, err) = db.run(&["insert", "Bad", "--run-after", "tomorrow"]);
    assert_eq!(code, 2);
    assert!(err.contains("malformed time"), "{err}");
    let hash = &h1[..32];
    let perl_handle = perl.then(|| format!("{hash}-{}", perl_insert(&db, "PerlFunc")));

    // list
    let v = db.json(&["list"], 0);
    assert_eq!(v["databases"][0]["ok"], true);
    assert_eq!(v["databases"][0]["hash"], hash);
    let jobs = &v["jobs"];
    assert_eq!(jobs.as_array().unwrap().len(), 3 + usize::from(perl));
    let j1 = find(jobs, "handle", &h1);
    assert_eq!(j1["funcname"], "Email");
    assert_eq!(j1["state"], "due");
    assert_eq!(j1["priority"], 5);
    assert_eq!(j1["coalesce"], "c1");
    assert_eq!(j1["failures"], 0);
    assert_eq!(j1["grabbed_until"], 0);
    assert_eq!(j1["jobid"].as_i64().unwrap().to_string(), h1[33..]);
    let j2 = find(jobs, "handle", &h2);
    assert_eq!(j2["state"], "scheduled");
    assert_eq!(j2["uniqkey"], "k1");
    assert!(j2["run_after"].as_i64().unwrap() > j1["run_after"].as_i64().unwrap() + 3000);
    if let Some(ph) = &perl_handle {
        assert_eq!(find(jobs, "handle", ph)["funcname"], "PerlFunc");
    }
    let due = db.json(&["list", "--due"], 0);
    assert!(due["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|j| j["handle"] != h2.as_str()));
    let sched = db.json(&["list", "--scheduled"], 0);
    assert_eq!(sched["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(sched["jobs"][0]["handle"], h2.as_str());
    let c1 = db.json(&["list", "Email", "Raw", "--coalesce", "c1"], 0);
    assert_eq!(c1["jobs"].as_array().unwrap().len(), 1);
    let (code, out, _) = db.run(&["list"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("HANDLE"), "{out}");
    assert!(out.contains(&h1));
    fits(&out);
    assert_eq!(db.run(&["list", "Nope"]).0, 2);

    // show
    let s = db.json(&["show", &h1], 0);
    assert_eq!(s["pending"], true);
    assert_eq!(s["job"]["funcname"], "Email");
    assert_eq!(s["arg"]["encoding"], "json");
    assert_eq!(s["arg"]["value"]["to"], "a@b");
    assert_eq!(s["failures"], Value::Array(vec![]));
    assert_eq!(s["exit_status"], Value::Null);
    let s3 = db.json(&["show", &h3[33..]], 0);
    assert_eq!(
        (s3["arg"]["encoding"].clone(), s3["arg"]["value"].clone()),
        ("utf8".into(), "plain text".into())
    );
    if let Some(ph) = &perl_handle {
        let sp = db.json(&["show", ph], 0);
        assert_eq!(sp["arg"]["encoding"], "storable", "Perl's nfreeze: {sp}");
    }
    let (code, out, _) = db.run(&["show", &h1]);
    assert_eq!(code, 0);
    assert!(
        out.contains("arg:           [json, 12 bytes] {\"to\":\"a@b\"}"),
        "{out}"
    );
    assert_eq!(db.run(&["show", &format!("{hash}-999999")]).0, 1);
    assert_eq!(db.run(&["show", "nonsense"]).0, 2);
    assert_eq!(db.run(&["show", "00000000000000000000000000000000-1"]).0, 1);

    check_args(&db);

    // A failure (message with format characters, printed verbatim) and a running job.
    fail_one(&db, "Raw", "boom 100% %s done");
    let c = client(&db);
    c.can_do("Email", |_: &QueuedJob| -> Result<(), WorkError> { Ok(()) })
        .unwrap();
    let running = c.grab_job("Email").unwrap().expect("an Email job to lease");
    assert_eq!(running.handle().to_string(), h1);

    // queues
    let q = db.json(&["queues"], 0);
    assert_eq!(q["alert"], false);
    let email = find(&q["queues"], "funcname", "Email");
    assert_eq!(
        (email["due"].as_u64(), email["running"].as_u64()),
        (Some(0), Some(1))
    );
    let later = find(&q["queues"], "funcname", "Later");
    assert_eq!(
        (later["scheduled"].as_u64(), later["due"].as_u64()),
        (Some(1), Some(0))
    );
    let raw = find(&q["queues"], "funcname", "Raw");
    assert_eq!(
        (raw["due"].as_u64(), raw["errors_last_hour"].as_u64()),
        (Some(0), Some(1))
    );
    if perl {
        let pf = find(&q["queues"], "funcname", "PerlFunc");
        assert_eq!(pf["due"], 1);
        assert!(pf["lag_secs"].as_i64().unwrap() >= 0);
        assert!(pf["oldest_due"].as_i64().is_some());
        let alert = db.json(&["queues", "--max-count", "0"], 1);
        assert_eq!(alert["alert"], true);
        assert_eq!(
            find(&alert["queues"], "funcname", "PerlFunc")["alert"],
            true
        );
        assert_eq!(find(&alert["queues"], "funcname", "Later")["alert"], false);
    }
    let (code, out, _) = db.run(&["queues", "--func", "Email"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("FUNCTION") && out.contains("Email") && !out.contains("Later"));
    fits(&out);
    assert_eq!(db.run(&["queues", "--func", "Nope"]).0, 2);

    // errors
    let e = db.json(&["errors"], 0);
    assert_eq!(e["errors"].as_array().unwrap().len(), 1);
    let e0 = &e["errors"][0];
    assert_eq!(e0["message"], "boom 100% %s done");
    assert_eq!(e0["funcname"], "Raw");
    assert_eq!(e0["handle"], h3.as_str());
    let (code, out, _) = db.run(&["errors", "--since", "1h", "--func", "Raw"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("  {h3}  Raw  boom 100% %s done")),
        "{out}"
    );
    assert_eq!(
        db.json(&["errors", "--last", "5", "--func", "Email"], 0)["errors"],
        Value::Array(vec![])
    );
    assert_eq!(db.run(&["errors", "--since", "soon"]).0, 2);

    // stats
    let st = db.json(&["stats"], 0);
    let d0 = &st["databases"][0];
    assert_eq!(d0["ok"], true);
    assert_eq!(d0["running"], 1);
    assert_eq!(d0["scheduled"], 1);
    assert_eq!(d0["due"], u64::from(perl));
    assert_eq!(d0["jobs"], 2 + u64::from(perl));
    assert_eq!(d0["errors"], 1);
    assert_eq!(d0["errors_last_hour"], 1);
    assert_eq!(st["total"]["jobs"], d0["jobs"]);
    let (code, out, _) = db.run(&["stats"]);
    assert_eq!(code, 0);
    fits(&out);

    // check
    let (code, out, _) = db.run(&["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("SCHWARTZ OK - ") && out.contains(" | due="),
        "{out}"
    );
    if perl {
        let (code, out, _) = db.run(&["check", "--warn", "1", "--crit", "5"]);
        assert_eq!(code, 1, "{out}");
        assert!(out.starts_with("SCHWARTZ WARNING - 1 jobs due"), "{out}");
        let (code, out, _) = db.run(&["check", "--warn", "0", "--crit", "1"]);
        assert_eq!(code, 2);
        assert!(out.starts_with("SCHWARTZ CRITICAL"), "{out}");
        let cj = db.json(&["check", "--warn", "0", "--crit", "1"], 2);
        assert_eq!(
            (cj["state"].as_str(), cj["code"].as_u64()),
            (Some("CRITICAL"), Some(2))
        );
        assert_eq!(cj["due"], 1);
        assert_eq!(cj["running"], 1);
    }
    let (code, out, _) = db.run(&["check", "--warn", "5", "--crit", "1"]);
    assert_eq!(code, 3);
    assert!(out.starts_with("SCHWARTZ UNKNOWN"), "{out}");
    assert_eq!(db.run(&["check", "--warn", "x"]).0, 3);

    // reschedule, retry, cancel
    let (code, out, _) = db.run(&["reschedule", &h2, "--in", "2h"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("rescheduled {h2} (Later): run_after ")),
        "{out}"
    );
    let (code, out, err) = db.run(&["reschedule", &h1, "--never"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        out.starts_with(&format!("refused {h1} (Email): running")),
        "{out}"
    );
    assert_eq!(db.run(&["reschedule", &h2, "--at", "never-ever"]).0, 2);
    let (code, out, _) = db.run(&["reschedule", &h2, "--at", "+90m"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("rescheduled {h2} (Later)")),
        "{out}"
    );
    let (code, _, err) = db.run(&["reschedule", &h2, "--in", "99999999d"]);
    assert_eq!(code, 2, "a time past what the database holds: {err}");
    assert!(err.contains("outside what the store holds"), "{err}");
    let (code, _, err) = db.run(&["reschedule", &h2, "--at", "1960-01-01 00:00:00"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(db.run(&["reschedule", &h2]).0, 2, "a time is required");
    let (code, _, _) = db.run(&["retry", &h2]);
    assert_eq!(code, 0);
    assert_eq!(db.json(&["show", &h2], 0)["job"]["state"], "due");
    let (code, out, _) = db.run(&["reschedule", &h2, "--never"]);
    assert_eq!(code, 0);
    assert!(out.contains("-> 2038-01-19 03:14:07 UTC"), "{out}");
    // A running job is cancelled too: its lease is revoked and its worker told so.
    let (code, out, _) = db.run(&["cancel", &h1]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("cancelled {h1} (Email): was running"))
            && out.contains("lease revoked"),
        "{out}"
    );
    let revoked = db.json(&["show", &h1], 0);
    assert_eq!(revoked["pending"], false);
    assert_eq!(revoked["cancelled"], true);
    let (_, shown, _) = db.run(&["show", &h1]);
    assert!(shown.contains("state:         cancelled"), "{shown}");
    let (code, out, _) = db.run(&["cancel", &h2, &format!("{hash}-999999")]);
    assert_eq!(code, 1, "one not found");
    assert!(
        out.contains(&format!("cancelled {h2} (Later)")) && out.contains("not found"),
        "{out}"
    );
    let gone = db.json(&["show", &h2], 0);
    assert_eq!(gone["pending"], false);
    assert_eq!(gone["cancelled"], true);
    assert_eq!(gone["exit_status"]["status"], 2);
    assert_eq!(
        gone["failures"][0]["message"],
        "cancelled by operator (schwartz cancel)"
    );
    if perl {
        let (code, out, _) = db.run(&["cancel", "--func", "PerlFunc"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("cancelled "), "{out}");
    }
    assert_eq!(db.run(&["cancel", "--func", "Nope"]).0, 2);
    assert!(running.is_cancelled().unwrap());
    let err = running.completed().unwrap_err();
    assert!(
        matches!(err, schwartz_core::Error::Cancelled { .. }),
        "{err}"
    );
    assert_eq!(db.json(&["stats"], 0)["databases"][0]["jobs"], 0);
}

#[test]
fn every_command_sqlite() {
    every_command(Backend::Sqlite, false);
}

#[test]
fn every_command_postgres() {
    every_command(Backend::Postgres, false);
}

#[test]
fn every_command_mysql() {
    every_command(Backend::Mysql, false);
}

#[test]
fn upstream_schema_and_perl_jobs_sqlite() {
    every_command(Backend::Sqlite, true);
}

#[test]
fn upstream_schema_and_perl_jobs_postgres() {
    every_command(Backend::Postgres, true);
}

#[test]
fn upstream_schema_and_perl_jobs_mysql() {
    every_command(Backend::Mysql, true);
}

/// `errors --follow` prints what was there, then a new error once, then nothing twice.
fn follow(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    assert_eq!(db.run(&["migrate"]).0, 0);
    insert(&db, &["Flaky", "--arg-raw", "1"]);
    fail_one(&db, "Flaky", "first failure");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("schwartz"))
        .args(["errors", "--follow", "--interval", "0.2"])
        .env("SCHWARTZ_DATABASES", &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
        }
        panic!("no line with {needle:?} within 60 s; saw {seen:?}");
    };
    wait_for("first failure");
    insert(&db, &["Flaky", "--arg-raw", "2"]);
    fail_one(&db, "Flaky", "second failure 50% %d");
    let lines = wait_for("second failure 50% %d");
    assert!(lines
        .last()
        .unwrap()
        .ends_with("  Flaky  second failure 50% %d"));
    // Several more polls: nothing printed twice.
    let extra: Vec<String> = rx
        .recv_timeout(Duration::from_millis(1500))
        .into_iter()
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(extra.is_empty(), "printed again: {extra:?}");
}

#[test]
fn errors_follow_sqlite() {
    follow(Backend::Sqlite);
}

#[test]
fn errors_follow_postgres() {
    follow(Backend::Postgres);
}

#[test]
fn errors_follow_mysql() {
    follow(Backend::Mysql);
}

/// A database that does not answer is reported (which, why, no password); the others are
/// shown; exit 3.
#[test]
fn unreachable_database_is_reported() {
    let Some(db) = new_db(Backend::Sqlite) else {
        return;
    };
    assert_eq!(db.run(&["migrate"]).0, 0);
    insert(&db, &["Email"]);
    // --count-limit: counts stop there and say so ("N+", "capped").
    insert(&db, &["Email"]);
    let q = db.json(&["queues", "--count-limit", "1"], 0);
    let email = find(&q["queues"], "funcname", "Email");
    assert_eq!(
        (email["due"].as_u64(), email["capped"].as_bool()),
        (Some(1), Some(true))
    );
    let q = db.json(&["queues"], 0);
    assert_eq!(find(&q["queues"], "funcname", "Email")["due"], 2);
    assert_eq!(find(&q["queues"], "funcname", "Email")["capped"], false);
    let (_, out, _) = db.run(&["queues", "--count-limit", "1"]);
    let line = out.lines().nth(1).unwrap();
    assert!(
        line.starts_with("Email      1+  ") && !line.contains("0+"),
        "{out}"
    );
    let st = db.json(&["stats", "--count-limit", "1"], 0);
    assert_eq!(st["databases"][0]["capped"], true);
    // The rows of `job` too: read up to the limit.
    assert_eq!(st["databases"][0]["jobs"], 1);
    let st = db.json(&["stats"], 0);
    assert_eq!(
        (&st["databases"][0]["jobs"], &st["databases"][0]["capped"]),
        (&serde_json::json!(2), &serde_json::json!(false))
    );
    let dead = "postgres://someone@127.0.0.1:1/nodb";
    for args in [
        &["queues", "--json"][..],
        &["stats", "--json"],
        &["list", "--json"],
        &["errors", "--json"],
    ] {
        let out = db
            .cmd()
            .env("SCHWARTZ_DATABASES", format!("{},{dead}", db.url))
            .env("SCHWARTZ_PASSWORD", "sekrit-pw-42")
            .args(["--connect-timeout", "1"])
            .args(args)
            .output()
            .unwrap();
        let (code, out, err) = common::result(&out);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(
            err.contains("database postgres 127.0.0.1:1/nodb did not answer"),
            "{err}"
        );
        assert!(
            !err.contains("sekrit") && !out.contains("sekrit"),
            "password printed"
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        let dbs = &v["databases"];
        assert_eq!(dbs.as_array().unwrap().len(), 2, "{v}");
        assert_eq!(dbs[0]["ok"], true);
        assert_eq!(dbs[1]["ok"], false);
        assert!(dbs[1]["error"].as_str().unwrap().contains("127.0.0.1:1"));
    }
    let out = db
        .cmd()
        .env("SCHWARTZ_DATABASES", format!("{},{dead}", db.url))
        .args(["--connect-timeout", "1", "check"])
        .output()
        .unwrap();
    let (code, out, _) = common::result(&out);
    assert_eq!(code, 2);
    assert!(
        out.starts_with("SCHWARTZ CRITICAL - database postgres 127.0.0.1:1/nodb did not answer")
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    // A password file works the same and is never shown either.
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "file-secret-7\n").unwrap();
    let (code, out, err) = db.run(&[
        "--password-file",
        pw.to_str().unwrap(),
        "-d",
        dead,
        "--connect-timeout",
        "1",
        "stats",
    ]);
    assert_eq!(code, 3);
    assert!(!err.contains("file-secret") && !out.contains("file-secret"));
    // No database at all, and a URL nobody knows: usage errors.
    let out = assert_cmd::Command::cargo_bin("schwartz")
        .unwrap()
        .env_remove("SCHWARTZ_DATABASES")
        .arg("queues")
        .output()
        .unwrap();
    assert_eq!(common::result(&out).0, 2);
    assert_eq!(db.run(&["-d", "ftp://x/y", "queues"]).0, 2);
}

/// `top --once` shows a running job of a Rust worker pool (per-thread scoreboard files)
/// and one of a Perl TheSchwartz worker (`scoreboard.<pid>`).
#[test]
fn top_shows_pool_and_perl_workers() {
    let Some(db) = new_db(Backend::Sqlite) else {
        return;
    };
    assert_eq!(db.run(&["migrate"]).0, 0);
    let base = tempfile::tempdir().unwrap();
    let boards = base.path().join("theschwartz");
    let stop = base.path().join("stop");

    // Our pool, one job blocked until `stop` exists.
    let client = Client::builder()
        .store(db.store())
        .scoreboard(schwartz_core::ScoreboardDir::Path(
            base.path().to_path_buf(),
        ))
        .build()
        .unwrap();
    let stop_rs = stop.clone();
    client
        .can_do("RustSlow", move |_: &QueuedJob| -> Result<(), WorkError> {
            let t = Instant::now();
            while !stop_rs.exists() && t.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        })
        .unwrap();
    client
        .insert(Job::new("RustSlow").raw_arg(b"rust-arg".to_vec()))
        .unwrap();
    let pool = schwartz_worker::WorkerPool::builder(client)
        .threads(2)
        .build()
        .unwrap()
        .spawn()
        .unwrap();

    // A Perl worker, the same.
    let perl = have_perl(Backend::Sqlite);
    let mut perl_child = perl.then(|| {
        let script = format!(
            r#"{}
package PerlSlow; use base 'TheSchwartz::Worker';
sub work {{ my ($class, $job) = @_; my $f = $job->arg->{{stop}};
  for (1..1200) {{ last if -e $f; select(undef, undef, undef, 0.1); }} $job->completed; }}
package main;
$client->set_scoreboard($rest[0]);
$client->insert('PerlSlow', {{ stop => $rest[1] }}) or die 'insert';
$client->can_do('PerlSlow');
$client->work_once or die 'no job';
"#,
            common::PERL_CLIENT
        );
        let [dsn, user] = db.perl_args();
        std::process::Command::new("perl")
            .args(["-e", &script, &dsn, &user])
            .arg(base.path())
            .arg(&stop)
            .spawn()
            .unwrap()
    });
    let perl_pid = perl_child.as_ref().map(|c| c.id());

    // Wait for both scoreboards.
    let deadline = Instant::now() + Duration::from_secs(60);
    let want = |name: &str| format!("funcname={name}");
    loop {
        let texts: Vec<String> = std::fs::read_dir(&boards)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        let rust = texts
            .iter()
            .any(|t| t.contains(&want("RustSlow")) && !t.contains("done="));
        let perl_ok = !perl
            || texts
                .iter()
                .any(|t| t.contains(&want("PerlSlow")) && !t.contains("done="));
        if rust && perl_ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scoreboards did not appear: {texts:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let dir = base.path().to_str().unwrap();
    let (code, out, err) = db.run(&["top", "--once", "--scoreboard-dir", dir]);
    assert_eq!(code, 0, "{err}");
    fits(&out);
    assert!(out.starts_with("Workers: "), "{out}");
    let me = std::process::id().to_string();
    let rust_line = out
        .lines()
        .find(|l| l.contains("RustSlow"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        rust_line.trim_start().starts_with(&me)
            && rust_line.contains(" R ")
            && rust_line.ends_with("rust-arg"),
        "{rust_line}"
    );
    let v = db.json(&["top", "--scoreboard-dir", dir], 0);
    let rs = find(&v["workers"], "funcname", "RustSlow");
    assert_eq!(rs["pid"].as_u64().unwrap().to_string(), me);
    assert!(
        rs["thread"].as_u64().is_some(),
        "a pool's per-thread file: {rs}"
    );
    assert_eq!(rs["state"], "running");
    assert_eq!(rs["arg"], "rust-arg");
    assert!(rs["file"]
        .as_str()
        .unwrap()
        .starts_with(&format!("scoreboard.{me}.")));
    if let Some(pid) = perl_pid {
        let p = find(&v["workers"], "funcname", "PerlSlow");
        assert_eq!(p["pid"], pid);
        assert_eq!(p["thread"], Value::Null);
        assert_eq!(p["state"], "running");
        assert_eq!(p["file"], format!("scoreboard.{pid}"));
        assert!(p["arg"].as_str().unwrap().contains("stop="), "{p}");
        let perl_line = out.lines().find(|l| l.contains("PerlSlow")).unwrap();
        assert!(perl_line.contains(" R "), "{perl_line}");
    }

    std::fs::write(&stop, "").unwrap();
    if let Some(c) = perl_child.as_mut() {
        assert!(c.wait().unwrap().success());
    }
    pool.shutdown().unwrap();
    let (code, _, _) = db.run(&["top", "--once", "--scoreboard-dir", "/nonexistent/dir"]);
    assert_eq!(code, 2);
}

/// `--help` works for the command and every subcommand (and clap's checks of each).
#[test]
fn help_for_every_command() {
    let commands = [
        "migrate",
        "insert",
        "list",
        "show",
        "queues",
        "errors",
        "top",
        "reschedule",
        "retry",
        "cancel",
        "check",
        "stats",
    ];
    let out = assert_cmd::Command::cargo_bin("schwartz")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    let (code, text, _) = common::result(&out);
    assert_eq!(code, 0);
    for c in commands {
        assert!(
            text.contains(&format!("  {c} ")),
            "{c} missing from --help: {text}"
        );
        let out = assert_cmd::Command::cargo_bin("schwartz")
            .unwrap()
            .args([c, "--help"])
            .output()
            .unwrap();
        let (code, text, err) = common::result(&out);
        assert_eq!(code, 0, "{c} --help: {err}");
        assert!(text.contains("Usage: schwartz"), "{text}");
    }
    let out = assert_cmd::Command::cargo_bin("schwartz")
        .unwrap()
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(common::result(&out).0, 2);
}

/// `--table-prefix` (and `schwartz_table_prefix` in a URL): every command works on the
/// prefixed tables, the plain names stay untouched.
fn table_prefix(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    let (code, out, err) = db.run(&["--table-prefix", "cli_", "migrate"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains(": applied "), "{out}");
    let h = insert(&db, &["--table-prefix", "cli_", "Prefixed::Job"]);
    let (code, out, err) = db.run(&["--table-prefix", "cli_", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Prefixed::Job") && out.contains(&h), "{out}");
    // The plain names have no tables: their migrations are all pending.
    let (code, out, _) = db.run(&["migrate", "--check"]);
    assert_eq!(code, 1, "{out}");
    // The same through the URL.
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}schwartz_table_prefix=cli_", db.url);
    let out = db
        .cmd()
        .env("SCHWARTZ_DATABASES", &url)
        .args(["list", "--json"])
        .output()
        .unwrap();
    let (code, out, err) = common::result(&out);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Prefixed::Job"), "{out}");
    let store = schwartz_diesel::DieselStore::builder(&db.url)
        .table_prefix("cli_")
        .build()
        .unwrap();
    use schwartz_core::store::Store;
    assert_eq!(store.stats().unwrap().jobs, 1);
    let (code, _, err) = db.run(&["--table-prefix", "Bad-Prefix", "list"]);
    assert_eq!(code, 2, "a bad prefix is a usage error: {err}");
    assert!(err.contains("table prefix"), "{err}");
}

#[test]
fn table_prefix_sqlite() {
    table_prefix(Backend::Sqlite);
}

#[test]
fn table_prefix_postgres() {
    table_prefix(Backend::Postgres);
}

#[test]
fn table_prefix_mysql() {
    table_prefix(Backend::Mysql);
}
