//! The contract every Schwartz [`Store`](schwartz_core::store::Store) must pass, as one
//! function a backend's own tests call, plus the fixtures and helpers of Schwartz's own
//! test suites.
//!
//! # Checking a backend
//!
//! Implement [`Backend`] for your store: a name, a `probe` (is the server there?), and
//! three ways to make a database for one case: `fresh` (migrated and empty), `missing`
//! (unreachable) and `empty` (no tables). Then call [`run`] from a test and assert on the
//! [`Report`]. Every case runs on databases of its own, in parallel, each with a timeout.
//! Here the store is the in-memory one:
//!
//! ```
//! use std::sync::Arc;
//!
//! use schwartz_memory::MemoryStore;
//! use schwartz_testkit::{Backend, Options, TestDb};
//!
//! /// How the contract gets databases of "my" store.
//! struct MyBackend;
//!
//! impl Backend for MyBackend {
//!     fn name(&self) -> &str {
//!         "mine"
//!     }
//!     fn probe(&self) -> Result<(), String> {
//!         Ok(()) // a server-backed store would connect here
//!     }
//!     fn fresh(&self, tag: &str) -> Result<TestDb, String> {
//!         // `()` is the cleanup guard: a temporary directory, a DROP DATABASE on drop...
//!         Ok(TestDb::new(Arc::new(MemoryStore::named(tag)), ()))
//!     }
//!     fn missing(&self, tag: &str) -> Result<TestDb, String> {
//!         let store = MemoryStore::named(tag);
//!         store.set_offline(true);
//!         Ok(TestDb::new(Arc::new(store), ()))
//!     }
//!     fn empty(&self, _tag: &str) -> Result<TestDb, String> {
//!         Ok(TestDb::new(Arc::new(MemoryStore::without_schema()), ()))
//!     }
//! }
//!
//! // The whole contract: panics with every failure's message if a case fails.
//! let report = schwartz_testkit::run(Arc::new(MyBackend), &Options::new());
//! report.assert_passed();
//! assert_eq!(report.passed.len(), schwartz_testkit::case_names().len());
//!
//! // A subset: the store-level contract and the lease cases, but no race.
//! let options = Options::new().filter("store::").filter("lease::").skip("takeover");
//! let report = schwartz_testkit::run(Arc::new(MyBackend), &options);
//! report.assert_passed();
//! assert!(report.passed.iter().all(|(case, _)| case.starts_with("store::") || case.starts_with("lease::")));
//! ```
//!
//! Cases are named `group::case`, one group per behaviour: `insert`, `job`, `unique`,
//! `list`, `grab`, `priority`, `coalesce`, `outcomes`, `retry`, `declined`, `replace`,
//! `lease`, `failover`, `funcmap`, `scoreboard`, `work_loop` and `store` (the `Store`
//! operations one by one: ids, uniqkeys, selection and order, claims, fencing, finishing,
//! failures, exit statuses, pruning). [`case_names`] lists them.
//!
//! # Schwartz's own suites
//!
//! [`fixtures`] has the backends Schwartz itself is tested on: [`fixtures::Memory`]
//! always, and with the `sql` feature SQLite, PostgreSQL (`SCHWARTZ_PG_URL`) and
//! MySQL/MariaDB (`SCHWARTZ_MYSQL_URL`), each database created for one test and dropped
//! after it. [`cli::main`] is the conformance runner's `main` (the table of backend x
//! passed / failed / skipped). [`env`](mod@env) is the one place that decides what `CI=true` means
//! (an unreachable backend or tool fails instead of being skipped) and which backends
//! `SCHWARTZ_BACKENDS` selects. [`Ctx`] and [`util`] are what a case is written with.

mod cases;
pub mod cli;
pub mod ctx;
pub mod env;
pub mod fixtures;
pub mod harness;
mod run;
pub mod util;

pub use ctx::Ctx;
pub use harness::{Backend, Case, TestDb};
pub use run::{run, run_all, Failure, Options, Report, Unreachable};

/// The names of every case of the contract (`group::case`), in report order.
pub fn case_names() -> Vec<&'static str> {
    cases::all().iter().map(|c| c.name).collect()
}
