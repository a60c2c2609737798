//! End-to-end: `schwartz schedules` on SQLite, PostgreSQL and MariaDB: the table and the
//! `--json` document of a schedule registered by a client, and a database without one.

mod common;

use std::sync::Arc;

use common::new_db;
use schwartz_core::{Client, Job, Schedule};
use schwartz_diesel::Backend;

#[test]
fn schedules_table_and_json() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let Some(db) = new_db(backend) else { continue };
        assert_eq!(db.run(&["migrate"]).0, 0);
        let (code, out, err) = db.run(&["schedules"]);
        assert_eq!((code, out.trim()), (0, "no schedules"), "{backend}: {err}");

        let store = db.store();
        let client = Client::builder().store(Arc::clone(&store)).build().unwrap();
        let sched = Schedule::new(
            "nightly-report",
            "0 30 2 * * *",
            Job::new("Report::Nightly"),
        )
        .unwrap()
        .time_zone("Europe/Paris")
        .unwrap();
        let row = client.register_schedule(&sched).unwrap();

        let (code, out, err) = db.run(&["schedules"]);
        assert_eq!(code, 0, "{backend}: {err}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{backend}: {out}");
        assert!(lines[1].contains("nightly-report"), "{backend}: {out}");
        assert!(lines[1].contains("Report::Nightly"), "{backend}: {out}");
        assert!(lines[1].contains("CRON_TZ=Europe"), "{backend}: {out}");
        assert!(
            out.lines().all(|l| l.chars().count() <= 100),
            "{backend}: {out}"
        );

        let doc = db.json(&["schedules", "--next", "2"], 0);
        let s = &doc["schedules"][0];
        assert_eq!(s["name"], "nightly-report", "{backend}: {doc}");
        assert_eq!(s["function"], "Report::Nightly");
        assert_eq!(s["spec"], "CRON_TZ=Europe/Paris 0 30 2 * * *");
        let last = schwartz_core::epoch_to_datetime(row.last_tick)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(s["last_tick"], row.last_tick);
        assert_eq!(s["last_tick_utc"], last.as_str());
        assert_eq!(s["next_runs"].as_array().expect("next_runs").len(), 2);
        assert!(s["next_runs"][0].as_i64().expect("seconds") > row.last_tick);
        let next = s["next_runs_utc"].as_array().expect("next_runs_utc");
        assert_eq!(next.len(), 2);
        // 02:30 in Paris is 00:30 or 01:30 UTC.
        let first = next[0].as_str().unwrap();
        assert!(first.ends_with(":30:00Z"), "{first}");
        assert_eq!(s["spec_error"], serde_json::Value::Null);
        assert_eq!(doc["databases"][0]["ok"], true);
    }
}
