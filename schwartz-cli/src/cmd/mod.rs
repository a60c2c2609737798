//! One module per group of commands.

pub mod args;
pub mod change;
pub mod errors;
pub mod jobs;
pub mod migrate;
pub mod queues;
pub mod schedules;
pub mod top;

use std::collections::HashMap;

use schwartz_core::store::Store;
use schwartz_core::FuncId;

/// `funcid -> funcname` of one store.
pub fn funcnames(store: &dyn Store) -> schwartz_core::Result<HashMap<FuncId, String>> {
    Ok(store
        .funcmap()?
        .into_iter()
        .map(|f| (f.funcid, f.funcname))
        .collect())
}
