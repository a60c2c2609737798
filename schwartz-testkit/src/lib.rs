//! The Schwartz conformance suite.
//!
//! Every case is written once against [`Ctx`] and runs on every [`Backend`]
//! (`fixtures::all`): the in-memory store always, the SQL stores when reachable.
//! `cargo test -p schwartz-tests` runs it (`tests/conformance.rs`); a command-line
//! substring restricts the cases, `SCHWARTZ_BACKENDS=memory,sqlite` the backends.
//! Other knobs: `SCHWARTZ_TEST_THREADS` (default 4), `SCHWARTZ_CASE_TIMEOUT` (seconds,
//! default 60), `SCHWARTZ_VERBOSE=1` (print passing cases too), `CI=true` (an unreachable
//! backend fails the run instead of being skipped).

mod cases;
pub mod ctx;
pub mod fixtures;
pub mod harness;
pub mod util;

pub use ctx::Ctx;
pub use harness::{Backend, Case, TestDb};

/// Runs the whole suite on every backend; returns the process exit status.
pub fn run() -> i32 {
    harness::run_main(fixtures::all(), cases::all())
}

/// The number of cases (per backend).
pub fn case_count() -> usize {
    cases::all().len()
}
