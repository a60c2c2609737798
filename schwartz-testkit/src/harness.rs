//! What the contract runs on ([`Backend`], the databases it hands out as [`TestDb`]) and
//! what it is made of ([`Case`]).

use std::any::Any;
use std::sync::Arc;

use schwartz_core::store::Store;

use crate::ctx::Ctx;

type Reopen = Box<dyn Fn() -> Result<Arc<dyn Store>, String> + Send + Sync>;

/// A database for one test: the store, plus a guard that drops (or deletes) the
/// database when the test is over.
///
/// Keep the `TestDb` alive as long as the store is used: dropping it drops the database.
pub struct TestDb {
    /// The store over the database.
    pub store: Arc<dyn Store>,
    /// Cleans the database up when dropped (a temporary file, a `DROP DATABASE`, ...).
    pub guard: Box<dyn Any + Send>,
    /// The database's URL, for tests that connect by other means (another process, Perl);
    /// `None` for stores without one (memory).
    pub url: Option<String>,
    reopen: Option<Reopen>,
}

impl TestDb {
    /// A store with its cleanup guard.
    pub fn new(store: Arc<dyn Store>, guard: impl Any + Send) -> Self {
        TestDb {
            store,
            guard: Box::new(guard),
            url: None,
            reopen: None,
        }
    }

    /// Records the database's URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// How [`TestDb::reopen`] opens another store over the same database (a second
    /// connection pool, as a second process would have).
    pub fn with_reopen(
        mut self,
        reopen: impl Fn() -> Result<Arc<dyn Store>, String> + Send + Sync + 'static,
    ) -> Self {
        self.reopen = Some(Box::new(reopen));
        self
    }

    /// Another store over the same database: a new connection pool where the fixture
    /// said how ([`TestDb::with_reopen`]), else the same store.
    ///
    /// # Errors
    /// Why the database could not be opened again.
    pub fn reopen(&self) -> Result<Arc<dyn Store>, String> {
        match &self.reopen {
            Some(f) => f(),
            None => Ok(Arc::clone(&self.store)),
        }
    }
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("store", &self.store)
            .field("url", &self.url.is_some())
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
    /// `group::case`, the group being the behaviour it checks (`insert`, `lease`, ...).
    pub name: &'static str,
    /// The body.
    pub run: fn(&Ctx),
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
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
