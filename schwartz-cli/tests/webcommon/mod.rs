//! `schwartz web` for the tests: the server process, a small HTTP client, and a database
//! with known jobs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use schwartz_core::store::Claim;
use schwartz_core::{Client, Job, JobHandle, QueuedJob, StoreHash, WorkError};
use serde_json::Value;

use crate::common::Db;

/// The write token of the test servers.
pub const TOKEN: &str = "test-token-5c1e";

/// The failure message that must show as text.
pub const SCRIPT_MESSAGE: &str = "<script>window.pwned=1</script> & \"quotes\"";

/// A running `schwartz web`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `schwartz web --listen 127.0.0.1:0 ARGS` on `urls` and waits for its address.
    pub fn start(urls: &str, args: &[&str]) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("schwartz"))
            .env("SCHWARTZ_DATABASES", urls)
            .env_remove("SCHWARTZ_PASSWORD")
            .env_remove("SCHWARTZ_WEB_TOKEN")
            .args(["--connect-timeout", "1", "web", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start schwartz web");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("schwartz web: listening on http://")
            .and_then(|r| r.strip_suffix('/'))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        Server {
            child,
            base: format!("http://{addr}"),
            addr,
        }
    }

    /// One request; (status, headers lowercased, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP response");
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .expect("a status line");
        let hs: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let chunked = hs
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        (status, hs, body)
    }

    /// `GET path`: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let (s, _, b) = self.request("GET", path, &[], "");
        (s, b)
    }

    /// `GET path` as JSON, expecting 200.
    pub fn json(&self, path: &str) -> Value {
        let (s, b) = self.get(path);
        assert_eq!(s, 200, "GET {path}: {b}");
        serde_json::from_str(&b).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {b}"))
    }

    /// `POST /api/actions` with `body`; (status, JSON).
    pub fn act(&self, token: Option<&str>, body: &Value) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let (s, _, b) = self.request("POST", "/api/actions", &headers, &body.to_string());
        (s, serde_json::from_str(&b).unwrap_or(Value::String(b)))
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The jobs of [`seed`].
pub struct Seeded {
    /// `Email`, due, coalesce `c1`, JSON argument.
    pub due_c1: String,
    /// `Email`, due.
    pub due: String,
    /// `Email`, scheduled in an hour.
    pub scheduled: String,
    /// `Email`, leased by a worker for an hour.
    pub running: String,
    /// `Report`, failed with [`SCRIPT_MESSAGE`] (done: failure log and exit status).
    pub failed: String,
}

/// Migrates `db` and inserts: Email 2 due (one coalesce c1), 1 scheduled, 1 running;
/// Report: one job failed with [`SCRIPT_MESSAGE`].
pub fn seed(db: &Db) -> Seeded {
    let (code, _, err) = db.run(&["migrate"]);
    assert_eq!(code, 0, "{err}");
    let store = db.store();
    let client = Client::builder().store(store.clone()).build().unwrap();
    let hash = StoreHash::of(&store.identity());
    let h = |id: schwartz_core::JobId| JobHandle::new(hash.clone(), id).to_string();
    let ins = |j: Job| client.insert(j).unwrap();
    let failed = ins(Job::new("Report").raw_arg(b"r1".to_vec()));
    let report = Client::builder().store(store.clone()).build().unwrap();
    report
        .can_do("Report", |_: &QueuedJob| -> Result<(), WorkError> {
            Err(SCRIPT_MESSAGE.into())
        })
        .unwrap();
    assert!(report.work_once().unwrap());
    let due_c1 = ins(Job::new("Email")
        .raw_arg(br#"{"to":"a@example.com"}"#.to_vec())
        .coalesce("c1"));
    let due = ins(Job::new("Email").raw_arg(b"plain".to_vec()));
    let soon = chrono::Utc::now() + chrono::Duration::hours(1);
    let scheduled = ins(Job::new("Email").run_after(soon));
    let running = ins(Job::new("Email").raw_arg(b"busy".to_vec()));
    let now = store.server_time().unwrap();
    let claimed = store
        .claim(
            &[Claim {
                jobid: running.jobid(),
                expected: 0,
                lease_until: now + 3600,
            }],
            now,
        )
        .unwrap();
    assert_eq!(claimed, vec![running.jobid()]);
    Seeded {
        due_c1: h(due_c1.jobid()),
        due: h(due.jobid()),
        scheduled: h(scheduled.jobid()),
        running: h(running.jobid()),
        failed: h(failed.jobid()),
    }
}
