//! What a case gets: fresh stores on demand, a shared clock shift, client builders.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schwartz_core::store::Store;
use schwartz_core::testing::TimeShift;
use schwartz_core::{Client, ClientBuilder};

use crate::harness::{Backend, TestDb};

/// The context of one case on one backend. Databases it hands out are dropped (and
/// cleaned up) when the case ends.
pub struct Ctx {
    backend: Arc<dyn Backend>,
    case: &'static str,
    shift: TimeShift,
    dbs: Mutex<Vec<TestDb>>,
    seq: AtomicUsize,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("backend", &self.backend.name())
            .field("case", &self.case)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Fresh,
    Missing,
    Empty,
}

impl Ctx {
    pub(crate) fn new(backend: Arc<dyn Backend>, case: &'static str) -> Self {
        Ctx {
            backend,
            case,
            shift: TimeShift::new(),
            dbs: Mutex::new(Vec::new()),
            seq: AtomicUsize::new(0),
        }
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &str {
        self.backend.name()
    }

    /// The case's name.
    pub fn case_name(&self) -> &'static str {
        self.case
    }

    fn tag(&self, kind: &str) -> String {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let base: String = self
            .case
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{base}_{kind}{n}")
    }

    #[track_caller]
    fn make(&self, kind: Kind) -> Arc<dyn Store> {
        let (label, made) = match kind {
            Kind::Fresh => {
                let tag = self.tag("db");
                ("fresh", self.backend.fresh(&tag).map_err(|e| (tag, e)))
            }
            Kind::Missing => {
                let tag = self.tag("missing");
                ("missing", self.backend.missing(&tag).map_err(|e| (tag, e)))
            }
            Kind::Empty => {
                let tag = self.tag("empty");
                ("empty", self.backend.empty(&tag).map_err(|e| (tag, e)))
            }
        };
        match made {
            Ok(db) => {
                let store = Arc::clone(&db.store);
                self.dbs.lock().unwrap_or_else(|e| e.into_inner()).push(db);
                store
            }
            Err((tag, e)) => panic!(
                "backend {} could not make a {label} database {tag:?}: {e}",
                self.backend.name()
            ),
        }
    }

    /// A fresh, migrated, empty store of its own.
    #[track_caller]
    pub fn store(&self) -> Arc<dyn Store> {
        self.make(Kind::Fresh)
    }

    /// `n` fresh stores.
    #[track_caller]
    pub fn stores(&self, n: usize) -> Vec<Arc<dyn Store>> {
        (0..n).map(|_| self.make(Kind::Fresh)).collect()
    }

    /// A store whose database does not exist / cannot be reached.
    #[track_caller]
    pub fn missing_store(&self) -> Arc<dyn Store> {
        self.make(Kind::Missing)
    }

    /// A store whose database exists without tables.
    #[track_caller]
    pub fn empty_store(&self) -> Arc<dyn Store> {
        self.make(Kind::Empty)
    }

    /// The clock shift every client of this case shares.
    pub fn shift(&self) -> TimeShift {
        self.shift.clone()
    }

    /// Moves every client's clock forward (instead of sleeping).
    pub fn advance(&self, secs: u64) {
        self.shift.advance(Duration::from_secs(secs));
    }

    /// A client builder sharing the case's clock shift.
    pub fn builder(&self) -> ClientBuilder {
        Client::builder().time_shift(self.shift.clone())
    }

    /// A client over these stores with default settings.
    #[track_caller]
    pub fn client(&self, stores: &[Arc<dyn Store>]) -> Client {
        match self.builder().stores(stores.iter().cloned()).build() {
            Ok(c) => c,
            Err(e) => panic!("building a client over {} stores: {e}", stores.len()),
        }
    }

    /// A client over `n` fresh stores, and those stores.
    #[track_caller]
    pub fn client_n(&self, n: usize) -> (Client, Vec<Arc<dyn Store>>) {
        let stores = self.stores(n);
        (self.client(&stores), stores)
    }

    /// A client over one fresh store, and that store.
    #[track_caller]
    pub fn client1(&self) -> (Client, Arc<dyn Store>) {
        let s = self.store();
        (self.client(std::slice::from_ref(&s)), s)
    }
}
