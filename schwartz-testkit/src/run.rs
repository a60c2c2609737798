//! Running the contract: every selected case once per backend, in parallel, each on its
//! own thread with a timeout; the result is a [`Report`] per backend.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use crate::ctx::Ctx;
use crate::harness::{Backend, Case};

/// What to do with a backend whose [`Backend::probe`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Count its cases as skipped (a developer's machine without that server).
    Skip,
    /// Count its cases as failed (CI: every backend must really be tested).
    Fail,
}

/// Which cases to run and how.
///
/// `Options::new()` runs every case with 4 threads and a 60 s timeout per case;
/// [`Options::from_env`] reads the same knobs from the environment.
#[derive(Debug, Clone)]
pub struct Options {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    threads: usize,
    timeout: Duration,
    unreachable: Unreachable,
    progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// Every case, 4 threads, 60 s per case, an unreachable backend skipped, quiet.
    pub fn new() -> Self {
        Options {
            filters: Vec::new(),
            skips: Vec::new(),
            exact: false,
            threads: 4,
            timeout: Duration::from_secs(60),
            unreachable: Unreachable::Skip,
            progress: false,
        }
    }

    /// The defaults, then `SCHWARTZ_TEST_THREADS`, `SCHWARTZ_CASE_TIMEOUT` (seconds), and
    /// [`crate::env::ci`] (an unreachable backend fails).
    pub fn from_env() -> Self {
        let mut o = Options::new();
        if let Some(n) = std::env::var("SCHWARTZ_TEST_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            o = o.threads(n);
        }
        if let Some(s) = std::env::var("SCHWARTZ_CASE_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            o = o.timeout(Duration::from_secs(s));
        }
        if crate::env::ci() {
            o = o.unreachable(Unreachable::Fail);
        }
        o
    }

    /// Runs only cases whose name (`group::case`) contains `pattern` (or equals it, see
    /// [`Options::exact`]); several filters select the union. `"store::"` selects the
    /// store-level contract, `"lease::"` the lease cases.
    pub fn filter(mut self, pattern: impl Into<String>) -> Self {
        self.filters.push(pattern.into());
        self
    }

    /// Leaves out cases whose name contains `pattern`.
    pub fn skip(mut self, pattern: impl Into<String>) -> Self {
        self.skips.push(pattern.into());
        self
    }

    /// Filters match whole case names instead of substrings.
    pub fn exact(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }

    /// Cases run at the same time (at least 1).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// How long one case may take before it counts as failed (hung).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What an unreachable backend counts as.
    pub fn unreachable(mut self, what: Unreachable) -> Self {
        self.unreachable = what;
        self
    }

    /// Prints each failure to stderr as it happens (the reports hold them anyway).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Whether these options select the case named `name`.
    pub fn selects(&self, name: &str) -> bool {
        let hit = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(hit))
            && !self.skips.iter().any(|s| name.contains(s.as_str()))
    }
}

/// A case that failed on a backend.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `group::case`.
    pub case: &'static str,
    /// The panic message, with where it happened.
    pub message: String,
    /// How long the case ran.
    pub took: Duration,
}

/// The result of the contract on one backend.
#[derive(Debug, Clone)]
pub struct Report {
    /// The backend's name.
    pub backend: String,
    /// Why the backend could not be used ([`Backend::probe`]), if it could not.
    pub unreachable: Option<String>,
    /// The cases that passed, with how long each took.
    pub passed: Vec<(&'static str, Duration)>,
    /// The cases that failed (including, under [`Unreachable::Fail`], every case of an
    /// unreachable backend).
    pub failed: Vec<Failure>,
    /// Cases not run because the backend was unreachable (under [`Unreachable::Skip`]).
    pub skipped: usize,
}

impl Report {
    fn new(backend: &str) -> Self {
        Report {
            backend: backend.to_string(),
            unreachable: None,
            passed: Vec::new(),
            failed: Vec::new(),
            skipped: 0,
        }
    }

    /// No case failed (skipped cases do not count as failures).
    pub fn is_success(&self) -> bool {
        self.failed.is_empty()
    }

    /// Panics, listing every failure, unless every case passed.
    ///
    /// # Panics
    /// When a case failed or the backend was unreachable (a backend's own tests want
    /// their store really tested).
    #[track_caller]
    pub fn assert_passed(&self) {
        if let Some(reason) = &self.unreachable {
            panic!("backend {} is unreachable: {reason}", self.backend);
        }
        if !self.failed.is_empty() {
            let mut text = format!(
                "{} of {} contract cases failed on backend {}:",
                self.failed.len(),
                self.failed.len() + self.passed.len(),
                self.backend
            );
            for f in &self.failed {
                text.push_str(&format!("\n\n[{}] {}\n    ", self.backend, f.case));
                text.push_str(&f.message.replace('\n', "\n    "));
            }
            panic!("{text}");
        }
    }
}

thread_local! {
    /// Where the last panic on this thread happened.
    static LAST_PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs in progress: while one is, the panic hook is silent (worker panics are expected;
/// a case's own panic is reported by the runner).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Installs (once) a panic hook that records where a panic happened and, while no run is
/// in progress, hands over to the hook it replaced.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            LAST_PANIC_AT.with(|cell| *cell.borrow_mut() = at);
            if ACTIVE.load(Ordering::SeqCst) == 0 {
                previous(info);
            }
        }));
    });
}

/// Runs one case on one backend in its own thread, waiting at most `timeout`.
fn run_case(backend: Arc<dyn Backend>, case: Case, timeout: Duration) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let name = case.name;
    let spawned = std::thread::Builder::new()
        .name(format!("{}:{}", backend.name(), name))
        .spawn(move || {
            let result = schwartz_core::panic::catch(|| {
                let ctx = Ctx::new(backend, name);
                (case.run)(&ctx);
                drop(ctx);
            });
            let verdict = result.map_err(|mut msg| {
                if let Some(at) = LAST_PANIC_AT.with(|c| c.borrow_mut().take()) {
                    msg.push_str(&format!("\n  at {at}"));
                }
                msg
            });
            let _ = tx.send(verdict);
        });
    if let Err(e) = spawned {
        return Err(format!("could not spawn the case thread: {e}"));
    }
    match rx.recv_timeout(timeout) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "timed out after {}s (hung? set SCHWARTZ_CASE_TIMEOUT to change the limit); \
             the case thread is abandoned",
            timeout.as_secs()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("the case thread died without a verdict".to_string())
        }
    }
}

/// One finished case, as the runner hands it to an observer.
#[derive(Debug)]
pub(crate) struct Outcome<'a> {
    pub(crate) backend: &'a str,
    pub(crate) case: &'static str,
    pub(crate) verdict: &'a Result<(), String>,
    pub(crate) took: Duration,
}

/// Runs the selected cases on each backend (one shared pool of threads) and calls
/// `observe` as each case finishes.
pub(crate) fn run_observed(
    backends: &[Arc<dyn Backend>],
    all: Vec<Case>,
    options: &Options,
    mut observe: impl FnMut(Outcome<'_>),
) -> Vec<Report> {
    install_panic_hook();
    let cases: Vec<Case> = all
        .into_iter()
        .filter(|c| options.selects(c.name))
        .collect();
    let mut reports: Vec<Report> = backends.iter().map(|b| Report::new(b.name())).collect();
    let mut queue = VecDeque::new();
    for (bi, b) in backends.iter().enumerate() {
        match b.probe() {
            Ok(()) => queue.extend(cases.iter().map(|c| (bi, *c))),
            Err(reason) => {
                let r = &mut reports[bi];
                match options.unreachable {
                    Unreachable::Skip => r.skipped = cases.len(),
                    Unreachable::Fail => r.failed.extend(cases.iter().map(|c| Failure {
                        case: c.name,
                        message: format!("backend {} is unreachable: {reason}", b.name()),
                        took: Duration::ZERO,
                    })),
                }
                r.unreachable = Some(reason);
            }
        }
    }

    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let queue = Mutex::new(queue);
    let (tx, rx) = mpsc::channel::<(usize, &'static str, Result<(), String>, Duration)>();
    std::thread::scope(|scope| {
        for i in 0..options.threads {
            let tx = tx.clone();
            let queue = &queue;
            let spawned = std::thread::Builder::new()
                .name(format!("testkit-{i}"))
                .spawn_scoped(scope, move || loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((bi, case)) = next else { break };
                    let t0 = Instant::now();
                    let verdict = run_case(Arc::clone(&backends[bi]), case, options.timeout);
                    let _ = tx.send((bi, case.name, verdict, t0.elapsed()));
                });
            if let Err(e) = spawned {
                // Fewer runner threads; the others drain the queue. With none at all,
                // every case is reported failed below.
                eprintln!("schwartz-testkit: cannot spawn runner thread {i}: {e}");
            }
        }
        drop(tx);
        for (bi, case, verdict, took) in rx {
            observe(Outcome {
                backend: backends[bi].name(),
                case,
                verdict: &verdict,
                took,
            });
            match verdict {
                Ok(()) => reports[bi].passed.push((case, took)),
                Err(message) => reports[bi].failed.push(Failure {
                    case,
                    message,
                    took,
                }),
            }
        }
    });
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    for (bi, case) in queue.into_inner().unwrap_or_else(|e| e.into_inner()) {
        reports[bi].failed.push(Failure {
            case: case.name,
            message: "not run: no runner thread could be started".to_string(),
            took: Duration::ZERO,
        });
    }
    reports
}

/// Runs the selected cases on each backend; one [`Report`] per backend, in order.
///
/// The backends share one pool of [`Options::threads`] threads.
pub fn run_all(backends: &[Arc<dyn Backend>], options: &Options) -> Vec<Report> {
    run_observed(backends, crate::cases::all(), options, |out| {
        if let (true, Err(msg)) = (options.progress, out.verdict) {
            eprintln!("FAILED [{}] {}: {msg}", out.backend, out.case);
        }
    })
}

/// Runs the contract (the selected cases of it) on one backend.
///
/// This is the entry point for a backend's own tests; see the crate documentation for an
/// example.
pub fn run(backend: Arc<dyn Backend>, options: &Options) -> Report {
    run_all(std::slice::from_ref(&backend), options)
        .pop()
        .unwrap_or_else(|| Report::new(backend.name()))
}
