//! The configured stores: lookup by hash, home stores of uniqkeys (rendezvous hashing),
//! and dead marking.

use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use rand::seq::SliceRandom;

use super::clock::ServerClock;
use super::funcmap::FuncCache;
use super::{lock, Client, Context};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::StoreHash;
use crate::store::Store;

/// While every store is dead, each is probed again after this back-off (milliseconds),
/// doubling on each failed probe up to [`PROBE_MAX_MS`].
const PROBE_MIN_MS: i64 = 100;
/// The longest probe back-off: a store that answers again is used within about this long.
const PROBE_MAX_MS: i64 = 1000;

/// One configured store.
pub(crate) struct StoreEntry {
    pub(crate) hash: StoreHash,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) funcs: Mutex<FuncCache>,
    /// Dead until this wall-clock time (milliseconds, shifted).
    pub(crate) dead_until_ms: Mutex<Option<i64>>,
    /// While dead: (next probe time, current back-off), milliseconds (see `live_shuffled`).
    pub(crate) probe_ms: Mutex<(i64, i64)>,
    /// The last reading of the store's clock.
    pub(crate) clock: Mutex<Option<ServerClock>>,
}

impl StoreEntry {
    pub(crate) fn new(hash: StoreHash, store: Arc<dyn Store>) -> Self {
        StoreEntry {
            hash,
            store,
            funcs: Mutex::new(FuncCache::default()),
            dead_until_ms: Mutex::new(None),
            probe_ms: Mutex::new((0, 0)),
            clock: Mutex::new(None),
        }
    }
}

/// The order in which stores are tried for a job with a uniqkey (rendezvous hashing):
/// indexes into `hashes`, highest `md5(hash \0 funcname \0 uniqkey)` first.
pub(crate) fn rendezvous_order(hashes: &[StoreHash], funcname: &str, uniqkey: &str) -> Vec<usize> {
    let mut ranked: Vec<([u8; 16], usize)> = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut md5 = Md5::new();
            md5.update(h.as_str().as_bytes());
            md5.update(b"\0");
            md5.update(funcname.as_bytes());
            md5.update(b"\0");
            md5.update(uniqkey.as_bytes());
            let digest: [u8; 16] = md5.finalize().into();
            (digest, i)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().map(|(_, i)| i).collect()
}

impl Context {
    pub(crate) fn entry(&self, idx: usize) -> &StoreEntry {
        &self.stores[idx]
    }

    pub(crate) fn index_of(&self, hash: &StoreHash) -> Option<usize> {
        self.stores.iter().position(|e| &e.hash == hash)
    }

    pub(crate) fn index_for_handle(&self, handle: &JobHandle) -> Result<usize> {
        self.index_of(handle.store())
            .ok_or_else(|| Error::UnknownStore {
                hash: handle.store().to_string(),
                handle: handle.to_string(),
            })
    }

    pub(crate) fn mark_dead_idx(&self, idx: usize, reason: &str) {
        let entry = self.entry(idx);
        log::debug!("Disabling DB {} because {}", entry.hash, reason);
        let now = self.wall_ms();
        let was_dead = lock(&entry.dead_until_ms)
            .replace(now.saturating_add(self.retry_ms))
            .is_some();
        let mut probe = lock(&entry.probe_ms);
        let backoff = if was_dead {
            (probe.1 * 2).clamp(PROBE_MIN_MS, PROBE_MAX_MS)
        } else {
            PROBE_MIN_MS
        };
        *probe = (now.saturating_add(backoff), backoff);
    }

    /// A store answered: it is alive again (ends a probe's dead mark at once).
    pub(crate) fn note_store_ok(&self, idx: usize) {
        let mut dead = lock(&self.entry(idx).dead_until_ms);
        if dead.is_some() {
            log::debug!("DB {} answers again", self.entry(idx).hash);
            *dead = None;
        }
    }

    pub(crate) fn is_dead_idx(&self, idx: usize) -> bool {
        let entry = self.entry(idx);
        let mut dead = lock(&entry.dead_until_ms);
        match *dead {
            None => false,
            Some(until) if until <= self.wall_ms() => {
                *dead = None;
                false
            }
            Some(_) => true,
        }
    }

    /// Marks the store dead when the error calls for it.
    pub(crate) fn note_store_error(&self, idx: usize, err: &Error) {
        if err.marks_store_dead() {
            self.mark_dead_idx(idx, &err.to_string());
        }
    }

    /// Live stores in random order. When every store is dead, the dead ones whose probe
    /// back-off has passed (TheSchwartz would skip them for `retry_seconds` even then,
    /// leaving a single-store client idle long after its database came back).
    pub(crate) fn live_shuffled(&self) -> Vec<usize> {
        let all = 0..self.stores.len();
        let mut idxs: Vec<usize> = all.clone().filter(|&i| !self.is_dead_idx(i)).collect();
        if idxs.is_empty() {
            let now = self.wall_ms();
            idxs = all
                .filter(|&i| {
                    let mut probe = lock(&self.entry(i).probe_ms);
                    let due = probe.0 <= now;
                    if due {
                        // One caller probes; the others wait for the next back-off.
                        probe.0 = now.saturating_add(probe.1.max(PROBE_MIN_MS));
                    }
                    due
                })
                .collect();
        }
        idxs.shuffle(&mut rand::rng());
        idxs
    }

    pub(crate) fn all_dead_error(&self) -> Error {
        if self.stores.is_empty() {
            Error::NoStore(String::from("no store is configured"))
        } else {
            Error::NoStore(format!("all {} stores are marked dead", self.stores.len()))
        }
    }
}

impl Client {
    /// The configured stores' hashes, in configuration order.
    pub fn store_hashes(&self) -> Vec<StoreHash> {
        self.ctx().stores.iter().map(|e| e.hash.clone()).collect()
    }
    /// The store with this hash.
    pub fn store(&self, hash: &StoreHash) -> Option<Arc<dyn Store>> {
        self.ctx()
            .index_of(hash)
            .map(|i| Arc::clone(&self.entry(i).store))
    }
    /// Marks a store dead for `retry_seconds` (unknown hashes are ignored). Unlike a store
    /// marked dead because it failed, it is not probed when no store is alive.
    pub fn mark_dead(&self, hash: &StoreHash, reason: &str) {
        if let Some(idx) = self.ctx().index_of(hash) {
            self.ctx().mark_dead_idx(idx, reason);
            *lock(&self.entry(idx).probe_ms) = (i64::MAX, 0);
        }
    }
    /// Whether a store is marked dead (revived once its retry time has passed).
    pub fn is_dead(&self, hash: &StoreHash) -> bool {
        self.ctx()
            .index_of(hash)
            .is_some_and(|idx| self.ctx().is_dead_idx(idx))
    }
    /// Forgets all dead marks.
    pub fn clear_dead(&self) {
        for e in &self.ctx().stores {
            *lock(&e.dead_until_ms) = None;
        }
    }
    /// The stores a job with this uniqkey is tried in, home store first (rendezvous
    /// hashing over `md5(store hash \0 funcname \0 uniqkey)`; dead stores included).
    pub fn home_stores(&self, funcname: &str, uniqkey: &str) -> Vec<StoreHash> {
        let hashes = self.store_hashes();
        rendezvous_order(&hashes, funcname, uniqkey)
            .into_iter()
            .map(|i| hashes[i].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendezvous_is_stable_and_a_permutation() {
        let hashes: Vec<StoreHash> = (0..5).map(|i| StoreHash::of(&format!("db{i}|"))).collect();
        let a = rendezvous_order(&hashes, "Foo", "key1");
        let b = rendezvous_order(&hashes, "Foo", "key1");
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
        // Order does not depend on configuration order: the same store comes first.
        let mut rev = hashes.clone();
        rev.reverse();
        let r = rendezvous_order(&rev, "Foo", "key1");
        assert_eq!(hashes[a[0]], rev[r[0]]);
        // Removing a non-home store keeps the home store.
        let home = hashes[a[0]].clone();
        let fewer: Vec<StoreHash> = hashes
            .iter()
            .filter(|h| **h != hashes[a[4]])
            .cloned()
            .collect();
        let f = rendezvous_order(&fewer, "Foo", "key1");
        assert_eq!(fewer[f[0]], home);
        // Different keys spread over stores.
        let homes: std::collections::HashSet<usize> = (0..100)
            .map(|i| rendezvous_order(&hashes, "Foo", &format!("k{i}"))[0])
            .collect();
        assert!(homes.len() > 1);
        // The separator matters: ("ab","c") and ("a","bc") may differ but never panic.
        let _ = rendezvous_order(&hashes, "ab", "c");
        assert!(rendezvous_order(&[], "a", "b").is_empty());
    }

    #[test]
    fn known_rendezvous_value() {
        // Pin the ranking function: md5(hash \0 funcname \0 uniqkey), highest first.
        let hashes = vec![StoreHash::from_hex("a"), StoreHash::from_hex("b")];
        let digest = |h: &str| -> [u8; 16] { Md5::digest(format!("{h}\0F\0k").as_bytes()).into() };
        let want = if digest("a") >= digest("b") {
            vec![0, 1]
        } else {
            vec![1, 0]
        };
        assert_eq!(rendezvous_order(&hashes, "F", "k"), want);
    }
}
