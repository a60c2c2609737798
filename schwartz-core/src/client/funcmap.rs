//! The funcmap cache of each store: function names to funcids and back, loaded once and
//! completed on a miss.

use std::collections::HashMap;

use super::{lock, Context};
use crate::error::{Error, Result};
use crate::ids::FuncId;

/// The funcmap cache of one store.
#[derive(Default)]
pub(crate) struct FuncCache {
    loaded: bool,
    by_name: HashMap<String, FuncId>,
    by_id: HashMap<FuncId, String>,
}

impl FuncCache {
    fn add(&mut self, funcid: FuncId, name: String) {
        self.by_id.insert(funcid, name.clone());
        self.by_name.insert(name, funcid);
    }
}

impl Context {
    fn load_funcmap(&self, idx: usize) -> Result<()> {
        let entry = self.entry(idx);
        let rows = entry.store.funcmap()?;
        let mut cache = lock(&entry.funcs);
        for row in rows {
            cache.add(row.funcid, row.funcname);
        }
        cache.loaded = true;
        Ok(())
    }

    /// The funcid of a name in a store, creating the funcmap row when missing.
    pub(crate) fn funcid_of(&self, idx: usize, name: &str) -> Result<FuncId> {
        let entry = self.entry(idx);
        let loaded = {
            let cache = lock(&entry.funcs);
            if let Some(id) = cache.by_name.get(name) {
                return Ok(*id);
            }
            cache.loaded
        };
        if !loaded {
            self.load_funcmap(idx)?;
            if let Some(id) = lock(&entry.funcs).by_name.get(name) {
                return Ok(*id);
            }
        }
        let id = entry.store.funcid(name)?;
        lock(&entry.funcs).add(id, name.to_string());
        Ok(id)
    }

    /// The name of a funcid in a store; a miss reloads the whole funcmap once.
    pub(crate) fn funcname_of(&self, idx: usize, funcid: FuncId) -> Result<String> {
        let entry = self.entry(idx);
        if let Some(name) = lock(&entry.funcs).by_id.get(&funcid) {
            return Ok(name.clone());
        }
        self.load_funcmap(idx)?;
        if let Some(name) = lock(&entry.funcs).by_id.get(&funcid) {
            return Ok(name.clone());
        }
        Err(Error::Database {
            store: entry.store.describe(),
            message: format!("no funcmap row has funcid {funcid}"),
        })
    }

    /// Maps names to (funcid, name) in one store, deduplicated.
    pub(crate) fn funcids_of(&self, idx: usize, names: &[String]) -> Result<Vec<(FuncId, String)>> {
        let mut out: Vec<(FuncId, String)> = Vec::with_capacity(names.len());
        for name in names {
            let id = self.funcid_of(idx, name)?;
            if !out.iter().any(|(f, _)| *f == id) {
                out.push((id, name.clone()));
            }
        }
        Ok(out)
    }
}
