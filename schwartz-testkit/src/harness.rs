//! The runner: every case once per backend, in parallel, each with a timeout.

use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schwartz_core::Store;

use crate::ctx::Ctx;

/// A database for one test: the store, plus a guard that drops (or deletes) the
/// database when the test is over.
pub struct TestDb {
    /// The store over the database.
    pub store: Arc<dyn Store>,
    /// Cleans the database up when dropped (a temporary file, a `DROP DATABASE`, ...).
    pub guard: Box<dyn Any + Send>,
}

impl TestDb {
    /// A store with its cleanup guard.
    pub fn new(store: Arc<dyn Store>, guard: impl Any + Send) -> Self {
        TestDb {
            store,
            guard: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// One kind of store the suite runs on (memory, SQLite, PostgreSQL, MySQL).
///
/// Every `tag` is unique within a run (it is derived from the case name and a counter,
/// and may be long: shorten or hash it if the database limits name lengths). Each call
/// must give a database of its own: tests never share state.
pub trait Backend: Send + Sync {
    /// Short name, as used in `SCHWARTZ_BACKENDS` (`memory`, `sqlite`, `postgres`, `mysql`).
    fn name(&self) -> &str;
    /// Whether the backend can be used here (server reachable, feature compiled in).
    ///
    /// # Errors
    /// Why it cannot: the suite reports the backend as skipped (a failure when `CI=true`).
    fn probe(&self) -> Result<(), String>;
    /// A fresh, migrated, empty database.
    ///
    /// # Errors
    /// Why it could not be created (the case fails with this message).
    fn fresh(&self, tag: &str) -> Result<TestDb, String>;
    /// A store whose database does not exist or is unreachable: every operation must fail
    /// with an error that marks the store dead (`Error::Unavailable` preferred).
    /// Connecting must be lazy: building the store itself succeeds.
    ///
    /// # Errors
    /// Why it could not be built.
    fn missing(&self, tag: &str) -> Result<TestDb, String>;
    /// A store whose database exists but has no tables (`Error::SchemaMissing`).
    ///
    /// # Errors
    /// Why it could not be built.
    fn empty(&self, tag: &str) -> Result<TestDb, String>;
}

/// One conformance case: a name (`group::case`) and a body that panics on failure.
#[derive(Clone, Copy)]
pub struct Case {
    /// `group::case`, the group being the upstream test file it ports.
    pub name: &'static str,
    /// The body.
    pub run: fn(&Ctx),
}

/// Declares the cases of a group module: `cases!("api"; insert_returns_handle, ...)`.
macro_rules! cases {
    ($group:literal; $($f:ident),+ $(,)?) => {
        pub(crate) fn cases() -> Vec<$crate::harness::Case> {
            vec![$($crate::harness::Case {
                name: concat!($group, "::", stringify!($f)),
                run: $f,
            }),+]
        }
    };
}
pub(crate) use cases;

thread_local! {
    /// Where the last panic on this thread happened (the hook is silent: worker panics
    /// are expected, the case's own panic is printed by the runner).
    static LAST_PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        LAST_PANIC_AT.with(|cell| *cell.borrow_mut() = at);
    }));
}

fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked with a non-string payload".to_string()
    }
}

enum Verdict {
    Passed,
    Failed(String),
}

struct Outcome {
    backend: usize,
    case: &'static str,
    verdict: Verdict,
    took: Duration,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

struct Options {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    list: bool,
    threads: usize,
    timeout: Duration,
    ci: bool,
    backends: Option<Vec<String>>,
    verbose: bool,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

fn parse_options() -> Options {
    let mut filters = Vec::new();
    let mut skips = Vec::new();
    let mut exact = false;
    let mut list = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--skip" => skips.extend(args.next()),
            "--exact" => exact = true,
            "--list" => list = true,
            // libtest options that take a value: ignore the value too.
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" | "--report-time" => {
                let _ = args.next();
            }
            a if a.starts_with('-') => {}
            a => filters.push(a.to_string()),
        }
    }
    let threads = std::env::var("SCHWARTZ_TEST_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(4);
    let timeout = std::env::var("SCHWARTZ_CASE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(60));
    let backends = std::env::var("SCHWARTZ_BACKENDS").ok().and_then(|v| {
        let names: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            None
        } else {
            Some(names)
        }
    });
    Options {
        filters,
        skips,
        exact,
        list,
        threads,
        timeout,
        ci: env_flag("CI"),
        backends,
        verbose: env_flag("SCHWARTZ_VERBOSE"),
    }
}

fn selected(name: &str, o: &Options) -> bool {
    let hit = |f: &String| {
        if o.exact {
            name == f
        } else {
            name.contains(f.as_str())
        }
    };
    (o.filters.is_empty() || o.filters.iter().any(hit))
        && !o.skips.iter().any(|s| name.contains(s.as_str()))
}

/// Runs one case on one backend in its own thread, waiting at most `timeout`.
fn run_case(backend: Arc<dyn Backend>, case: Case, timeout: Duration) -> Verdict {
    let (tx, rx) = mpsc::channel();
    let name = case.name;
    let spawned = std::thread::Builder::new()
        .name(format!("{}:{}", backend.name(), name))
        .spawn(move || {
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                let ctx = Ctx::new(backend, name);
                (case.run)(&ctx);
                drop(ctx);
            }));
            let verdict = match result {
                Ok(()) => Verdict::Passed,
                Err(payload) => {
                    let mut msg = payload_text(payload.as_ref());
                    if let Some(at) = LAST_PANIC_AT.with(|c| c.borrow_mut().take()) {
                        msg.push_str(&format!("\n  at {at}"));
                    }
                    Verdict::Failed(msg)
                }
            };
            let _ = tx.send(verdict);
        });
    if let Err(e) = spawned {
        return Verdict::Failed(format!("could not spawn the case thread: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => Verdict::Failed(format!(
            "timed out after {}s (hung? set SCHWARTZ_CASE_TIMEOUT to change the limit); \
             the case thread is abandoned",
            timeout.as_secs()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Verdict::Failed("the case thread died without a verdict".to_string())
        }
    }
}

/// Runs the suite; returns the process exit status.
pub fn run_main(all_backends: Vec<Arc<dyn Backend>>, all_cases: Vec<Case>) -> i32 {
    install_panic_hook();
    let o = parse_options();

    let mut seen = BTreeSet::new();
    for c in &all_cases {
        if !seen.insert(c.name) {
            eprintln!("conformance: duplicate case name {}", c.name);
            return 2;
        }
    }
    if o.list {
        for c in &all_cases {
            if selected(c.name, &o) {
                println!("{}: test", c.name);
            }
        }
        return 0;
    }

    let known: Vec<String> = all_backends.iter().map(|b| b.name().to_string()).collect();
    let mut problems = 0usize;
    if let Some(wanted) = &o.backends {
        for w in wanted {
            if !known.contains(w) {
                eprintln!(
                    "conformance: SCHWARTZ_BACKENDS names unknown backend {w:?} (known: {})",
                    known.join(", ")
                );
                problems += 1;
            }
        }
    }
    let backends: Vec<Arc<dyn Backend>> = all_backends
        .into_iter()
        .filter(|b| {
            o.backends
                .as_ref()
                .is_none_or(|w| w.iter().any(|n| n == b.name()))
        })
        .collect();
    let cases: Vec<Case> = all_cases
        .into_iter()
        .filter(|c| selected(c.name, &o))
        .collect();

    println!(
        "conformance: {} cases x {} backends ({}), {} threads, {}s timeout per case",
        cases.len(),
        backends.len(),
        backends
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", "),
        o.threads,
        o.timeout.as_secs()
    );

    let mut tallies = vec![Tally::default(); backends.len()];
    let mut unreachable: Vec<Option<String>> = vec![None; backends.len()];
    let mut queue = VecDeque::new();
    for (bi, b) in backends.iter().enumerate() {
        match b.probe() {
            Ok(()) => {
                for c in &cases {
                    queue.push_back((bi, *c));
                }
            }
            Err(reason) => {
                if o.ci {
                    println!(
                        "\n!!! backend {} is UNREACHABLE and CI=true: its {} cases count as FAILED: {reason}\n",
                        b.name(),
                        cases.len()
                    );
                    tallies[bi].failed += cases.len();
                } else {
                    println!(
                        "\n!!! backend {} SKIPPED ({} cases not run): {reason}\n",
                        b.name(),
                        cases.len()
                    );
                    tallies[bi].skipped += cases.len();
                }
                unreachable[bi] = Some(reason);
            }
        }
    }

    let started = Instant::now();
    let queue = Arc::new(Mutex::new(queue));
    let (tx, rx) = mpsc::channel::<Outcome>();
    let mut pool = Vec::new();
    for i in 0..o.threads {
        let queue = Arc::clone(&queue);
        let tx = tx.clone();
        let backends = backends.clone();
        let timeout = o.timeout;
        let handle = std::thread::Builder::new()
            .name(format!("conformance-{i}"))
            .spawn(move || loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some((bi, case)) = next else { break };
                let t0 = Instant::now();
                let verdict = run_case(Arc::clone(&backends[bi]), case, timeout);
                let _ = tx.send(Outcome {
                    backend: bi,
                    case: case.name,
                    verdict,
                    took: t0.elapsed(),
                });
            });
        match handle {
            Ok(h) => pool.push(h),
            Err(e) => {
                eprintln!("conformance: cannot spawn runner thread: {e}");
                return 2;
            }
        }
    }
    drop(tx);

    let mut failures = Vec::new();
    for out in rx {
        let bname = backends[out.backend].name().to_string();
        match out.verdict {
            Verdict::Passed => {
                tallies[out.backend].passed += 1;
                if o.verbose {
                    println!(
                        "ok     [{bname}] {} ({:.2}s)",
                        out.case,
                        out.took.as_secs_f64()
                    );
                }
            }
            Verdict::Failed(msg) => {
                tallies[out.backend].failed += 1;
                println!(
                    "FAILED [{bname}] {} ({:.2}s)",
                    out.case,
                    out.took.as_secs_f64()
                );
                for line in msg.lines() {
                    println!("    {line}");
                }
                failures.push(format!("[{bname}] {}", out.case));
            }
        }
        let _ = std::io::stdout().flush();
    }
    for h in pool {
        let _ = h.join();
    }

    if !failures.is_empty() {
        println!("\nfailures:");
        failures.sort();
        for f in &failures {
            println!("    {f}");
        }
    }
    let width = backends
        .iter()
        .map(|b| b.name().len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!("\n{:<width$} | passed | failed | skipped", "backend");
    println!("{:-<width$}-+--------+--------+--------", "");
    let mut total = Tally::default();
    for (bi, b) in backends.iter().enumerate() {
        let t = tallies[bi];
        let note = match &unreachable[bi] {
            Some(_) if o.ci => "  (UNREACHABLE, CI=true)",
            Some(_) => "  (SKIPPED: unreachable)",
            None => "",
        };
        println!(
            "{:<width$} | {:>6} | {:>6} | {:>7}{note}",
            b.name(),
            t.passed,
            t.failed,
            t.skipped
        );
        total.passed += t.passed;
        total.failed += t.failed;
        total.skipped += t.skipped;
    }
    println!("(took {:.1}s)", started.elapsed().as_secs_f64());
    println!(
        "conformance: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    let _ = std::io::stdout().flush();
    if total.failed > 0 || problems > 0 {
        1
    } else {
        0
    }
}
