//! Notifiers for the backends without LISTEN/NOTIFY: a dedicated connection that watches a
//! cheap change counter, so another process's insert wakes an idle pool within
//! milliseconds instead of at its next poll.
//!
//! - SQLite: `PRAGMA data_version`, which changes when another connection commits to the
//!   file; read every [`SQLITE_EVERY`] (a local call of microseconds, no server).
//! - MySQL/MariaDB: `MAX(jobid)` of `job` (one dive into the primary key), read every
//!   [`MYSQL_EVERY`]: 100 prepared queries a second per idle pool, answered from the
//!   buffer pool (`cargo xtask bench`'s idle-pool row counts what the server sees).
//!   A job inserted with an explicit id below the largest is seen at the next poll only.
//!
//! Every change wakes the pool, including its own commits; a wake-up costs one grab.

use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use schwartz_core::store::Notifier;
use schwartz_core::{Error, Result};

use crate::conn::Ctx;

/// How often SQLite's `data_version` is read.
#[cfg(feature = "sqlite")]
pub const SQLITE_EVERY: Duration = Duration::from_millis(5);
/// How often MySQL/MariaDB's largest job id is read.
#[cfg(feature = "mysql")]
pub const MYSQL_EVERY: Duration = Duration::from_millis(10);

#[cfg(feature = "mysql")]
#[derive(QueryableByName)]
struct Counter {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Reads the counter on its own connection.
trait Watch: Send {
    fn read(&mut self) -> diesel::QueryResult<i64>;
}

#[cfg(feature = "sqlite")]
impl Watch for diesel::sqlite::SqliteConnection {
    fn read(&mut self) -> diesel::QueryResult<i64> {
        Ok(diesel::sql_query("PRAGMA data_version")
            .get_result::<DataVersion>(self)?
            .data_version)
    }
}

#[cfg(feature = "sqlite")]
#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = BigInt)]
    data_version: i64,
}

#[cfg(feature = "mysql")]
impl Watch for diesel::mysql::MysqlConnection {
    fn read(&mut self) -> diesel::QueryResult<i64> {
        // Prepared once (a `sql_query` is prepared and closed around every run: three
        // round trips each time instead of one).
        crate::prepared::statement!(
            /// The largest job id.
            MaxJobId,
            "SELECT CAST(COALESCE(MAX(jobid), 0) AS SIGNED) AS n FROM job"
        );
        Ok(crate::prepared::prepared::<MaxJobId>()
            .get_result::<Counter>(self)?
            .n)
    }
}

/// Wakes when the counter moves.
pub(crate) struct ChangeNotifier {
    conn: Box<dyn Watch>,
    last: i64,
    every: Duration,
    /// When the counter is read next: at most once per `every`, however often and with
    /// however short a timeout `wait` is called (a pool's listener calls it every 10 ms).
    next_read: Instant,
    /// For messages: the store's description, the password to scrub.
    ctx: Ctx,
}

impl std::fmt::Debug for ChangeNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeNotifier")
            .field("store", &self.ctx.describe)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl ChangeNotifier {
    fn new<C: Watch + Connection + 'static>(url: &str, ctx: &Ctx, every: Duration) -> Result<Self> {
        let mut conn = C::establish(url).map_err(|e| Error::Unavailable {
            store: ctx.describe.clone(),
            message: ctx.scrub(&e.to_string()),
        })?;
        let last = read_or_zero(&mut conn, ctx)?;
        Ok(ChangeNotifier {
            conn: Box::new(conn),
            last,
            every,
            next_read: Instant::now() + every,
            ctx: Ctx::new(ctx.describe.clone(), ctx.backend, ctx.secret.clone())
                .with_names((*ctx.names).clone()),
        })
    }

    /// SQLite: watches `data_version` of the file at `path`.
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(path: &str, ctx: &Ctx) -> Result<Self> {
        Self::new::<diesel::sqlite::SqliteConnection>(path, ctx, SQLITE_EVERY)
    }

    /// MySQL/MariaDB: watches the largest job id.
    #[cfg(feature = "mysql")]
    pub(crate) fn mysql(url: &str, ctx: &Ctx) -> Result<Self> {
        Self::new::<diesel::mysql::MysqlConnection>(url, ctx, MYSQL_EVERY)
    }
}

/// The counter; 0 while the table does not exist yet (a notifier needs no schema, as
/// LISTEN does not: it starts counting once the migrations ran).
fn read_or_zero(conn: &mut dyn Watch, ctx: &Ctx) -> Result<i64> {
    match crate::names::scoped(&ctx.names, false, || conn.read()) {
        Ok(n) => Ok(n),
        Err(e) => match ctx.map_db(&e) {
            Error::SchemaMissing { .. } => Ok(0),
            other => Err(other),
        },
    }
}

impl Notifier for ChangeNotifier {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= self.next_read {
                self.next_read = now + self.every;
                let counter = read_or_zero(&mut *self.conn, &self.ctx)?;
                if counter != self.last {
                    self.last = counter;
                    return Ok(true);
                }
            }
            if now >= deadline {
                return Ok(false);
            }
            std::thread::sleep(self.next_read.min(deadline) - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A counter that says how often it was read.
    struct Fake {
        value: Arc<AtomicI64>,
        reads: Arc<AtomicUsize>,
    }

    impl Watch for Fake {
        fn read(&mut self) -> diesel::QueryResult<i64> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            Ok(self.value.load(Ordering::Relaxed))
        }
    }

    #[test]
    fn reads_at_most_once_per_interval_however_short_the_waits() {
        let (value, reads) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicUsize::new(0)));
        let every = Duration::from_millis(20);
        let mut n = ChangeNotifier {
            conn: Box::new(Fake {
                value: Arc::clone(&value),
                reads: Arc::clone(&reads),
            }),
            last: 0,
            every,
            next_read: Instant::now() + every,
            ctx: Ctx::new("fake".into(), crate::Backend::Mysql, None),
        };
        // A pool's listener waits 10 ms at a time; for 300 ms that is 30 calls.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(300) {
            assert!(!n.wait(Duration::from_millis(10)).unwrap());
        }
        let r = reads.load(Ordering::Relaxed);
        // At most 16 (300 ms / 20 ms, plus the edges); the old loop read at every call and
        // again after each 10 ms sleep: about 60.
        assert!(
            (3..=16).contains(&r),
            "{r} reads in 300 ms at one per 20 ms"
        );
        // A change is seen at the next read.
        value.store(7, Ordering::Relaxed);
        let t1 = Instant::now();
        assert!(n.wait(Duration::from_secs(1)).unwrap());
        assert!(t1.elapsed() < Duration::from_millis(500));
        assert!(!n.wait(Duration::ZERO).unwrap(), "seen once");
    }
}
