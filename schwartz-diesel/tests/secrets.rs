//! End to end: no password reaches any output. DieselStores and their errors are built from
//! many URLs with passwords (well-formed or not, unreachable servers so connection errors
//! happen), and every rendered string (`Display`, `Debug`, `describe()`, `identity()`,
//! `redact_url`) and everything logged at trace level is searched for the password.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schwartz_core::store::Store;
use schwartz_core::{Client, Job};
use schwartz_diesel::{redact_url, DieselStore};

/// Keeps every log record (all levels) for the search.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
    fn flush(&self) {}
}

static LOGS: Capture = Capture(Mutex::new(Vec::new()));

const PASSWORDS: &[&str] = &[
    "Sup3rSecretPw",
    "p@ssW0rdAt",
    "sl/ash?q#hashPw",
    "co:lon:Pw99",
    "sp ace'quote\\Pw",
    "pct%41%zzPw",
    "ÜnïcødéPw",
    "amp&eq=Pw77",
];

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every URL shape, with `pw` written raw or encoded, in the user part or the query.
fn urls(pw: &str) -> Vec<String> {
    let enc = encode(pw);
    let mut out = Vec::new();
    for scheme in ["postgres", "postgresql", "mysql", "mariadb", "POSTGRES"] {
        for host in ["127.0.0.1:1", "[::1]:1"] {
            out.push(format!("{scheme}://app:{enc}@{host}/jobs"));
            out.push(format!("{scheme}://app:{pw}@{host}/jobs"));
            out.push(format!("{scheme}://app@{host}/jobs?password={enc}"));
            out.push(format!(
                "{scheme}://app@{host}/jobs?sslpassword={enc}&sslmode=require"
            ));
        }
        out.push(format!("{scheme}:/app:{pw}@127.0.0.1:1/jobs"));
        out.push(format!("{scheme}:app:{pw}@127.0.0.1:1/jobs"));
        out.push(format!("{scheme}//app:{pw}@127.0.0.1:1/jobs"));
        out.push(format!(
            "{scheme}://app:{pw}@127.0.0.1:1/jobs?connect_timeout=1"
        ));
        out.push(format!("{scheme}://:{pw}@127.0.0.1:99999/jobs"));
    }
    // A live MariaDB (when one runs) refusing the password: an authentication error.
    out.push(format!("mysql://root:{enc}@127.0.0.1:3306/test"));
    out.push(format!("app:{pw}@127.0.0.1:1/jobs"));
    out.push(format!("host=127.0.0.1 port=1 password={enc} user=app"));
    out.push(format!(
        "host=127.0.0.1 port=1 password='{}' user=app",
        pw.replace('\'', "\\'")
    ));
    out.push(format!("sqlite://app:{pw}@127.0.0.1/jobs.db"));
    out.push(format!("postgress://app:{pw}@127.0.0.1:1/jobs"));
    out
}

fn leaks(text: &str, pw: &str) -> bool {
    let debug = format!("{pw:?}");
    text.contains(pw) || text.contains(&encode(pw)) || text.contains(&debug[1..debug.len() - 1])
}

/// Everything a caller or an operator can see of a store built from `url`.
fn rendered(url: &str) -> (Vec<String>, bool) {
    let mut shown = vec![redact_url(url)];
    let built = DieselStore::builder(url)
        .connection_timeout(Duration::from_millis(10))
        .build();
    let store = match built {
        Err(e) => {
            shown.push(e.to_string());
            shown.push(format!("{e:?}"));
            return (shown, true);
        }
        Ok(s) => s,
    };
    shown.push(format!("{store:?}"));
    shown.push(store.describe());
    shown.push(store.identity());
    let mut errors = Vec::new();
    errors.push(store.server_time().err());
    errors.push(store.run_migrations().err());
    let store: Arc<dyn Store> = Arc::new(store);
    match Client::builder().store(Arc::clone(&store)).build() {
        Ok(client) => {
            errors.push(client.insert(Job::new("f").uniqkey("k")).err());
            shown.push(format!("{client:?}"));
        }
        Err(e) => errors.push(Some(e)),
    }
    let any_error = errors.iter().any(Option::is_some);
    for e in errors.into_iter().flatten() {
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
    }
    (shown, any_error)
}

#[test]
fn no_password_in_any_output() {
    log::set_logger(&LOGS).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);
    let (mut tried, mut panics, mut errors, mut wrong, mut appearances) = (0, 0, 0, 0, 0);
    for pw in PASSWORDS {
        for url in urls(pw) {
            tried += 1;
            LOGS.0.lock().unwrap().clear();
            let Ok((mut shown, any_error)) = catch_unwind(AssertUnwindSafe(|| rendered(&url)))
            else {
                panics += 1;
                continue;
            };
            if any_error {
                errors += 1;
            } else {
                // Every one of these servers is unreachable or the URL is bad.
                wrong += 1;
            }
            shown.extend(LOGS.0.lock().unwrap().drain(..));
            let leaked: Vec<&String> = shown.iter().filter(|s| leaks(s, pw)).collect();
            if !leaked.is_empty() {
                appearances += 1;
                eprintln!("password of {url:?} appears in {leaked:?}");
            }
        }
    }
    println!(
        "secrets end-to-end: inputs tried {tried}, panics {panics}, clear errors {errors}, wrong results {wrong}, password appearances {appearances}"
    );
    assert_eq!((panics, wrong, appearances), (0, 0, 0));
}
