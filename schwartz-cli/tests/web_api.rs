//! `schwartz web` over HTTP: the JSON API, `/metrics` (parsed, checked against the
//! database), the write rules (token, read-only, cross-site forms) and escaping, on SQLite,
//! PostgreSQL and MariaDB.

mod common;
mod webcommon;

use std::collections::HashMap;

use common::new_db;
use schwartz_core::{Client, Job, JobHandle, JobId};
use schwartz_diesel::Backend;
use serde_json::{json, Value};
use webcommon::{seed, Server, SCRIPT_MESSAGE, TOKEN};

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value:?} in {list:#}"))
}

/// Parses the text exposition format: `name{labels} value` per sample; checks every
/// family has HELP and TYPE lines before its samples.
fn parse_metrics(text: &str) -> HashMap<(String, String), f64> {
    let mut typed = std::collections::HashSet::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().unwrap().to_string();
            assert!(
                matches!(it.next(), Some("gauge" | "counter")),
                "TYPE line: {line}"
            );
            typed.insert(name);
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let name = series.split('{').next().unwrap().to_string();
        assert!(typed.contains(&name), "{name} has no TYPE line before it");
        let labels = series
            .strip_prefix(&name)
            .unwrap()
            .trim_matches(|c| c == '{' || c == '}')
            .to_string();
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        out.insert((name, labels), v);
    }
    out
}

fn jobid(handle: &str) -> JobId {
    handle.parse::<JobHandle>().unwrap().jobid()
}

fn api(backend: Backend) {
    let Some(db) = new_db(backend) else { return };
    let s = seed(&db);
    // A worker's scoreboard: the running Email job (argument "busy") and an idle one.
    let board = tempfile::tempdir().unwrap();
    let dir = board.path().join("theschwartz");
    std::fs::create_dir(&dir).unwrap();
    let me = std::process::id();
    std::fs::write(
        dir.join(format!("scoreboard.{me}.0")),
        format!("pid={me}\nfuncname=Email\nstarted=1\narg=busy\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("scoreboard.{me}.1")),
        format!("pid={me}\nfuncname=Email\nstarted=1\narg=other\n"),
    )
    .unwrap();
    let board_dir = board.path().display().to_string();
    let srv = Server::start(
        &db.url,
        &[
            "--token",
            TOKEN,
            "--sample-every",
            "1",
            "--scoreboard-dir",
            &board_dir,
        ],
    );
    let store = db.store();

    // The periodic schedules with their next runs (what `schwartz schedules` shows).
    let sched =
        schwartz_core::Schedule::new("nightly <b>", "0 3 * * *", Job::new("Report")).unwrap();
    Client::builder()
        .store(store.clone())
        .build()
        .unwrap()
        .register_schedule(&sched)
        .unwrap();
    let sc = srv.json("/api/schedules");
    let nightly = find(&sc["schedules"], "name", "nightly <b>");
    assert_eq!(nightly["function"], "Report", "{sc}");
    assert_eq!(nightly["spec"], "0 3 * * *", "{sc}");
    let next = nightly["next_runs"].as_array().unwrap();
    assert_eq!(next.len(), 5, "{sc}");
    assert!(
        next.iter()
            .all(|t| t.as_i64().unwrap() % 86_400 == 3 * 3600),
        "{sc}"
    );
    let (code, page) = srv.get("/schedules");
    assert_eq!(code, 200);
    assert!(
        page.contains("nightly &lt;b&gt;") && !page.contains("nightly <b>"),
        "{page}"
    );

    // The overview: the numbers of `schwartz queues --json`.
    let o = srv.json("/api/overview");
    assert_eq!(o["databases"][0]["ok"], true, "{o}");
    let email = find(&o["queues"], "funcname", "Email");
    assert_eq!(
        (&email["due"], &email["scheduled"], &email["running"]),
        (&json!(2), &json!(1), &json!(1)),
        "{o}"
    );
    assert!(email["lag_secs"].as_i64().unwrap() >= 0);
    assert_eq!(
        find(&o["queues"], "funcname", "Report")["errors_last_hour"],
        1
    );
    let cli = db.json(&["queues"], 0);
    // The same numbers, read a moment apart: a lag may have grown by the second that
    // passed in between, nothing else may differ.
    let (mut page_q, mut cli_q) = (o["queues"].clone(), cli["queues"].clone());
    for (p, c) in page_q
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(cli_q.as_array_mut().unwrap())
    {
        let (pl, cl) = (p["lag_secs"].as_i64(), c["lag_secs"].as_i64());
        assert!(
            pl == cl || matches!((pl, cl), (Some(a), Some(b)) if b - a == 1),
            "lag: page {pl:?}, command {cl:?}"
        );
        p["lag_secs"] = json!(null);
        c["lag_secs"] = json!(null);
    }
    assert_eq!(cli_q, page_q, "the page and the command agree");

    // /metrics: parsed, and checked against the store's own numbers.
    let (code, headers, text) = srv.request("GET", "/metrics", &[], "");
    assert_eq!(code, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/plain; version=0.0.4")));
    let m = parse_metrics(&text);
    let name = store.describe();
    let lab = |f: &str| format!("database=\"{name}\",function=\"{f}\"");
    let now = store.server_time().unwrap();
    let summary = store.queue_summary(now, i64::MIN, u64::MAX).unwrap();
    for q in &summary {
        let get = |metric: &str| m[&(metric.to_string(), lab(&q.funcname))];
        assert_eq!(get("schwartz_jobs_due"), q.due as f64, "{text}");
        assert_eq!(get("schwartz_jobs_scheduled"), q.scheduled as f64);
        assert_eq!(get("schwartz_jobs_running"), q.running as f64);
        assert_eq!(get("schwartz_errors_total"), q.errors as f64);
        let age = get("schwartz_oldest_due_age_seconds");
        let want = q.oldest_due.map_or(0, |o| now - o) as f64;
        assert!((age - want).abs() <= 5.0, "age {age}, want {want}");
    }
    assert_eq!(m[&("schwartz_jobs_due".into(), lab("Email"))], 2.0);
    assert_eq!(m[&("schwartz_errors_total".into(), lab("Report"))], 1.0);
    assert!(m
        .iter()
        .any(|((n, _), v)| n == "schwartz_database_up" && *v == 1.0));

    // Jobs: filters by function, state and coalesce value.
    let j = srv.json("/api/jobs?func=Email&state=due");
    let handles: Vec<&str> = j["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles.len(), 2, "{j}");
    assert!(handles.contains(&s.due.as_str()) && handles.contains(&s.due_c1.as_str()));
    let j = srv.json("/api/jobs?coalesce=c1");
    assert_eq!(j["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(j["jobs"][0]["handle"], s.due_c1);
    assert_eq!(
        srv.json("/api/jobs?state=running")["jobs"][0]["handle"],
        s.running
    );
    let (code, body) = srv.get("/api/jobs?state=bogus");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("\"error\""), "{body}");
    let (code, body) = srv.get("/api/jobs?func=Nope");
    assert_eq!(code, 400, "an unknown function: {body}");

    // One job: the decoded argument; a failed one's log and exit status.
    let d = srv.json(&format!("/api/jobs/{}", s.due_c1));
    assert_eq!(d["arg"]["encoding"], "json");
    assert_eq!(d["arg"]["value"]["to"], "a@example.com");
    assert_eq!(d["job"]["coalesce"], "c1");
    let d = srv.json(&format!("/api/jobs/{}", s.failed));
    assert_eq!(d["pending"], false);
    assert_eq!(d["failures"][0]["message"], SCRIPT_MESSAGE);
    // The running job's scoreboard entry (same function and argument), and the workers.
    let d = srv.json(&format!("/api/jobs/{}", s.running));
    assert_eq!(d["job"]["state"], "running");
    let sb = d["scoreboard"].as_array().unwrap();
    assert_eq!(sb.len(), 1, "{d}");
    assert_eq!(sb[0]["file"], format!("scoreboard.{me}.0"));
    let w = srv.json("/api/workers");
    assert_eq!(w["workers"].as_array().unwrap().len(), 2, "{w}");
    let (code, _) = srv.get("/api/jobs/not-a-handle");
    assert_eq!(code, 400);

    // Errors, newest first, by function; the message verbatim in JSON, escaped in HTML.
    let e = srv.json("/api/errors?func=Report&since=1h");
    assert_eq!(e["errors"].as_array().unwrap().len(), 1);
    assert_eq!(e["errors"][0]["message"], SCRIPT_MESSAGE);
    assert_eq!(e["errors"][0]["handle"], s.failed);
    let (code, page) = srv.get("/errors?func=Report");
    assert_eq!(code, 200);
    assert!(!page.contains("<script>window"), "unescaped: {page}");
    assert!(page.contains("&lt;script&gt;window.pwned=1&lt;/script&gt; &amp; &quot;quotes&quot;"));
    for p in [
        "/",
        "/jobs",
        &format!("/jobs/{}", s.failed),
        "/workers",
        "/login",
    ] {
        let (code, body) = srv.get(p);
        assert_eq!(code, 200, "{p}: {body}");
        assert!(!body.contains(TOKEN), "{p} shows the token");
    }

    // Writes: refused without the token or with a wrong one; nothing changes.
    let retry = json!({"action": "retry", "jobs": [s.scheduled]});
    assert_eq!(srv.act(None, &retry).0, 401);
    assert_eq!(srv.act(Some("wrong"), &retry).0, 401);
    let before = store.lookup(jobid(&s.scheduled)).unwrap().unwrap();
    assert!(before.run_after > now + 3000);
    // With the token: retry now, as `schwartz retry` does.
    let (code, r) = srv.act(Some(TOKEN), &retry);
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["results"][0]["result"], "changed");
    let after = store.lookup(jobid(&s.scheduled)).unwrap().unwrap();
    assert!(after.run_after <= store.server_time().unwrap(), "now due");
    // The same rules: retry refuses a running job, an unknown one is not found.
    let (_, r) = srv.act(
        Some(TOKEN),
        &json!({"action": "retry", "jobs": [s.running, s.failed]}),
    );
    assert_eq!(r["results"][0]["result"], "running", "{r}");
    assert_eq!(r["results"][1]["result"], "not_found", "{r}");
    assert!(store.lookup(jobid(&s.running)).unwrap().is_some());
    // Reschedule and cancel.
    let (_, r) = srv.act(
        Some(TOKEN),
        &json!({"action": "reschedule", "jobs": [s.due], "in": "2h"}),
    );
    assert_eq!(r["results"][0]["result"], "changed", "{r}");
    let moved = store.lookup(jobid(&s.due)).unwrap().unwrap().run_after;
    assert!((moved - (now + 7200)).abs() < 60, "{moved} vs {now}");
    let (_, r) = srv.act(
        Some(TOKEN),
        &json!({"action": "cancel", "jobs": [s.due_c1]}),
    );
    assert_eq!(r["results"][0]["result"], "changed", "{r}");
    assert!(store.lookup(jobid(&s.due_c1)).unwrap().is_none());
    assert_eq!(
        store.exit_status(jobid(&s.due_c1)).unwrap().unwrap().status,
        schwartz_core::store::CANCELLED_EXIT_STATUS
    );
    let d = srv.json(&format!("/api/jobs/{}", s.due_c1));
    assert_eq!(d["pending"], false);
    assert_eq!(
        d["exit_status"]["status"],
        schwartz_core::store::CANCELLED_EXIT_STATUS
    );
    assert_eq!(
        d["failures"][0]["message"],
        "cancelled by operator (schwartz web)"
    );
    assert_eq!(d["cancelled"], true);
    // Cancel removes a running job too, revoking its lease.
    let (_, r) = srv.act(
        Some(TOKEN),
        &json!({"action": "cancel", "jobs": [s.running]}),
    );
    assert_eq!(r["results"][0]["result"], "changed", "{r}");
    assert!(
        r["results"][0]["leased_until"].as_i64().unwrap_or(0) > now,
        "{r}"
    );
    assert!(store.lookup(jobid(&s.running)).unwrap().is_none());
    // Bad requests are refused before anything is touched.
    for bad in [
        json!({"action": "explode", "jobs": [s.running]}),
        json!({"action": "retry", "jobs": []}),
        json!({"action": "reschedule", "jobs": [s.running], "in": "soon"}),
    ] {
        assert_eq!(srv.act(Some(TOKEN), &bad).0, 400, "{bad}");
    }

    // Forms: no cookie, or another site, is refused even with the right CSRF field.
    let form = format!("action=retry&job={}&confirm=yes", s.due);
    let (code, _, body) = srv.request(
        "POST",
        "/actions",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    );
    assert_eq!(code, 403, "{body}");
    let (code, headers, _) = srv.request(
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("token={TOKEN}"),
    );
    assert_eq!(code, 303);
    let cookie = headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .unwrap();
    assert!(
        !cookie.contains(TOKEN),
        "the cookie holds a digest, not the token"
    );
    let (_, _, page) = srv.request(
        "GET",
        &format!("/jobs/{}", s.due),
        &[("Cookie", &cookie)],
        "",
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let signed = format!("{form}&csrf={csrf}");
    let post = |extra: &[(&str, &str)], body: &str| {
        let mut h = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", cookie.as_str()),
        ];
        h.extend_from_slice(extra);
        srv.request("POST", "/actions", &h, body).0
    };
    assert_eq!(post(&[("Origin", "http://evil.example")], &signed), 403);
    assert_eq!(post(&[("Sec-Fetch-Site", "cross-site")], &signed), 403);
    assert_eq!(post(&[], &format!("{form}&csrf=00")), 403);
    assert_eq!(post(&[("Origin", &srv.base)], &signed), 200);
    let due_again = store.lookup(jobid(&s.due)).unwrap().unwrap();
    assert!(due_again.run_after <= store.server_time().unwrap());

    // History: the sampler's ring buffer.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let h = srv.json("/api/history");
    assert!(!h["samples"].as_array().unwrap().is_empty(), "{h}");
    drop(srv);

    // --read-only refuses writes even with the token.
    let ro = Server::start(&db.url, &["--token", TOKEN, "--read-only"]);
    let (code, r) = ro.act(Some(TOKEN), &json!({"action": "retry", "jobs": [s.due]}));
    assert_eq!(code, 403, "{r}");
    assert!(r["error"].as_str().unwrap().contains("read-only"));
}

#[test]
fn api_sqlite() {
    api(Backend::Sqlite);
}

#[test]
fn api_postgres() {
    api(Backend::Postgres);
}

#[test]
fn api_mysql() {
    api(Backend::Mysql);
}

/// A dead database is shown as such (which, why), never with its password; the live one is
/// still shown; /metrics says it is down.
#[test]
fn dead_database_is_shown_without_its_password() {
    let Some(db) = new_db(Backend::Sqlite) else {
        return;
    };
    let _ = seed(&db);
    // A function name with markup: shown as text on every page that names it.
    let (code, _, err) = db.run(&["insert", "<b onclick=x>Evil</b>"]);
    assert_eq!(code, 0, "{err}");
    let dead = "postgres://someone:sekrit-pw-42@127.0.0.1:1/nodb";
    let srv = Server::start(&format!("{},{dead}", db.url), &[]);
    let o = srv.json("/api/overview");
    let downs: Vec<&Value> = o["databases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["ok"] == false)
        .collect();
    assert_eq!(downs.len(), 1, "{o}");
    assert!(downs[0]["database"].as_str().unwrap().contains("nodb"));
    assert!(!downs[0]["error"].as_str().unwrap().is_empty());
    assert_eq!(find(&o["queues"], "funcname", "Email")["due"], 2);
    for p in ["/", "/api/overview", "/metrics", "/jobs", "/errors"] {
        let (code, body) = srv.get(p);
        assert_eq!(code, 200, "{p}");
        assert!(
            !body.contains("sekrit-pw-42"),
            "{p} shows the password: {body}"
        );
    }
    let (_, page) = srv.get("/");
    assert!(page.contains("did not answer"), "{page}");
    for p in ["/", "/jobs"] {
        let (_, page) = srv.get(p);
        assert!(
            page.contains("&lt;b onclick=x&gt;Evil&lt;/b&gt;"),
            "{p}: {page}"
        );
        assert!(!page.contains("<b onclick"), "{p} unescaped: {page}");
    }
    let (_, text) = srv.get("/metrics");
    assert!(text.contains("nodb") && text.contains(",hash=") && text.contains("} 0\n"));
    // Without a token, writes are off.
    let (code, _) = srv.act(Some("anything"), &json!({"action": "retry", "jobs": ["1"]}));
    assert_eq!(code, 403);
}
