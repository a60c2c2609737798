//! `Store::notifier`: how each backend tells a pool about new jobs (see `pg.rs` for
//! PostgreSQL's LISTEN/NOTIFY and `change.rs` for the change counters of the others).

use schwartz_core::store::Notifier;
use schwartz_core::Result;

use crate::conn::Ctx;
use crate::url::Target;
#[allow(unused_imports)] // unused when only PostgreSQL is compiled in
use crate::Backend;

/// A notifier on a connection of its own, or `None` (an in-memory SQLite database, which
/// no other connection can change).
pub(crate) fn notifier(target: &Target, ctx: &Ctx) -> Result<Option<Box<dyn Notifier>>> {
    let _ = (target, ctx);
    #[cfg(feature = "postgres")]
    if target.backend == Backend::Postgres {
        let n = crate::pg::PgNotifier::connect(&target.connect, ctx)?;
        return Ok(Some(Box::new(n)));
    }
    #[cfg(feature = "mysql")]
    if target.backend == Backend::Mysql {
        let n = crate::change::ChangeNotifier::mysql(&target.connect, ctx)?;
        return Ok(Some(Box::new(n)));
    }
    #[cfg(feature = "sqlite")]
    if target.backend == Backend::Sqlite && !target.memory {
        let n = crate::change::ChangeNotifier::sqlite(&target.connect, ctx)?;
        return Ok(Some(Box::new(n)));
    }
    Ok(None)
}
