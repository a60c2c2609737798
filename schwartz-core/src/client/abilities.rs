//! Abilities: the registered workers, ability rotation (TheSchwartz's starvation guard),
//! and the settings that can change after construction.

use std::collections::HashMap;
use std::sync::Arc;

use super::{lock, AbilityRotation, CandidateOrder, Client};
use crate::error::{Error, Result};
use crate::ids::StoreHash;
use crate::job::check_name;
use crate::store::JobOrder;
use crate::worker::{Policy, Worker};

/// Settings that can change after construction.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) order: JobOrder,
    pub(crate) floor: Option<i32>,
    pub(crate) batch_size: usize,
    pub(crate) rotation: AbilityRotation,
    pub(crate) candidate_order: CandidateOrder,
    /// The encoding of typed arguments of jobs made by [`Client::job`](crate::Client::job).
    pub(crate) arg_format: crate::arg::ArgFormat,
}

/// Abilities and registered workers.
#[derive(Default)]
pub(crate) struct Abilities {
    pub(crate) all: Vec<String>,
    pub(crate) current: Vec<String>,
    pub(crate) workers: HashMap<String, Arc<dyn Worker>>,
}

impl Client {
    /// Registers `worker` for `funcname` and adds it to the abilities (all and current;
    /// a second registration of the same name replaces the worker and adds the name again,
    /// as TheSchwartz does).
    ///
    /// The client owns its workers: a worker that needs this client should capture a
    /// [`WeakClient`](crate::WeakClient) ([`Client::downgrade`]), not a clone, which would
    /// keep the client alive for the rest of the process.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or over-255-byte name.
    pub fn can_do(&self, funcname: &str, worker: impl Worker) -> Result<()> {
        self.can_do_arc(funcname, Arc::new(worker))
    }
    /// Same, with a shared worker.
    ///
    /// # Errors
    /// As [`Client::can_do`].
    pub fn can_do_arc(&self, funcname: &str, worker: Arc<dyn Worker>) -> Result<()> {
        check_name("funcname", funcname)?;
        let mut ab = lock(&self.inner.abilities);
        ab.workers.insert(funcname.to_string(), worker);
        ab.all.push(funcname.to_string());
        ab.current.push(funcname.to_string());
        Ok(())
    }
    /// Empties the abilities (registered workers stay known for jobs already grabbed).
    pub fn reset_abilities(&self) {
        let mut ab = lock(&self.inner.abilities);
        ab.all.clear();
        ab.current.clear();
    }
    /// The current abilities (after rotation).
    pub fn current_abilities(&self) -> Vec<String> {
        lock(&self.inner.abilities).current.clone()
    }
    /// All abilities.
    pub fn abilities(&self) -> Vec<String> {
        lock(&self.inner.abilities).all.clone()
    }
    /// The worker registered for a function.
    pub fn worker_for(&self, funcname: &str) -> Option<Arc<dyn Worker>> {
        lock(&self.inner.abilities).workers.get(funcname).cloned()
    }
    /// Sets the candidate order.
    pub fn set_order(&self, order: JobOrder) {
        lock(&self.inner.settings).order = order;
    }
    /// Sets or clears the floor.
    ///
    /// # Errors
    /// `InvalidInput` unless the order is `PriorityDesc`.
    pub fn set_floor(&self, floor: Option<i32>) -> Result<()> {
        let mut s = lock(&self.inner.settings);
        if floor.is_some() && s.order != JobOrder::PriorityDesc {
            return Err(Error::InvalidInput(String::from(
                "set_floor only works if prioritize is set (JobOrder::PriorityDesc)",
            )));
        }
        s.floor = floor;
        Ok(())
    }
    /// Sets the batch size.
    ///
    /// # Errors
    /// `InvalidInput` for zero.
    pub fn set_batch_size(&self, n: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::InvalidInput(String::from(
                "batch_size must be at least 1",
            )));
        }
        lock(&self.inner.settings).batch_size = n;
        Ok(())
    }
    /// The candidate select LIMIT in use.
    pub fn batch_size(&self) -> usize {
        lock(&self.inner.settings).batch_size
    }
    /// Sets ability rotation.
    pub fn set_ability_rotation(&self, r: AbilityRotation) {
        lock(&self.inner.settings).rotation = r;
    }
    /// Sets candidate shuffling.
    pub fn set_candidate_order(&self, o: CandidateOrder) {
        lock(&self.inner.settings).candidate_order = o;
    }
    /// Calls `f` after every successful insert through this client (local wake-ups),
    /// including the replacements of `replace_with`. `f` must not block.
    pub fn on_insert(&self, f: impl Fn(&StoreHash) + Send + Sync + 'static) {
        lock(&self.ctx().listeners).push(Arc::new(f));
    }

    pub(crate) fn settings(&self) -> Settings {
        lock(&self.inner.settings).clone()
    }

    /// The policy of a function's jobs: its worker and lease length (the worker's
    /// `grab_for` hook is called here, once, under the panic guard).
    pub(crate) fn policy_for(&self, funcname: &str) -> Policy {
        Policy::of(self.worker_for(funcname))
    }

    pub(crate) fn temporarily_remove_ability(&self, funcname: &str) {
        let mut ab = lock(&self.inner.abilities);
        ab.current.retain(|n| n != funcname);
        if ab.current.is_empty() {
            ab.current = ab.all.clone();
        }
    }

    pub(crate) fn restore_full_abilities(&self) {
        let mut ab = lock(&self.inner.abilities);
        ab.current = ab.all.clone();
    }
}
