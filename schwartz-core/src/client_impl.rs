//! Client internals: store entries, the funcmap cache, dead marking, the insert and grab
//! protocols and `work_safely`.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use rand::seq::SliceRandom;

use crate::client::{
    AbilityRotation, CandidateOrder, Client, DeferredCompletion, GrabHooks, GrabStrategy, Pruning,
    TimeShift, WorkOutcome,
};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{datetime_to_epoch, Epoch, FuncId, JobId, StoreHash};
use crate::job::{check_name, Job};
use crate::queued::QueuedJob;
use crate::scoreboard::Scoreboard;
use crate::store::{Claim, CoalesceFilter, JobOrder, JobQuery, JobRow, Lease, NewJobRow, Store};
use crate::worker::{WorkError, Worker};

/// Default lease length when no worker is registered for a function.
pub(crate) const DEFAULT_GRAB_FOR: i64 = 3600;
/// Default candidate batch size (`$TheSchwartz::FIND_JOB_BATCH_SIZE`).
pub(crate) const DEFAULT_BATCH_SIZE: usize = 50;
/// Default dead-store retry time.
pub(crate) const DEFAULT_RETRY: Duration = Duration::from_secs(30);
/// Default error age before pruning (7 days).
pub(crate) const DEFAULT_ERROR_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default probability of pruning exit statuses after writing one.
pub(crate) const DEFAULT_EXIT_CLEAN_P: f64 = 0.10;
/// How often a store's clock is read by default.
pub(crate) const DEFAULT_CLOCK_REFRESH: Duration = Duration::from_secs(1);
/// Inline error pruning limit.
pub(crate) const INLINE_ERROR_PRUNE_LIMIT: usize = 1000;

/// A candidate select: the time used, the funcids with their names, the candidates.
type Selected = (Epoch, Vec<(FuncId, String)>, Vec<JobRow>);

/// A listener called after each successful insert.
pub(crate) type InsertListener = Arc<dyn Fn(&StoreHash) + Send + Sync>;

/// Locks a mutex, ignoring poisoning (the protected data stays consistent: every critical
/// section here is a few plain assignments).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whole seconds of a duration, rounded up, as an epoch offset.
pub(crate) fn ceil_secs(d: Duration) -> i64 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Calls a worker hook (`grab_for`, `max_retries`, ...), turning a panic into the hook's
/// default: a faulty hook is logged and must not crash the worker thread.
pub(crate) fn call_hook<T>(hook: &str, default: T, f: impl FnOnce() -> T) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            log::error!(
                "worker hook {hook} panicked ({}); using its default",
                panic_message(&*payload)
            );
            default
        }
    }
}

/// The lease length of a worker, in seconds (at least 1).
pub(crate) fn grab_for_secs(worker: Option<&dyn Worker>) -> i64 {
    match worker {
        Some(w) => ceil_secs(call_hook("grab_for", Duration::from_secs(3600), || {
            w.grab_for()
        }))
        .max(1),
        None => DEFAULT_GRAB_FOR,
    }
}

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

/// One configured store.
pub(crate) struct StoreEntry {
    pub(crate) hash: StoreHash,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) funcs: Mutex<FuncCache>,
    /// Dead until this wall-clock time (milliseconds, shifted).
    pub(crate) dead_until_ms: Mutex<Option<i64>>,
    /// The last reading of the store's clock.
    pub(crate) clock: Mutex<Option<ServerClock>>,
}

/// The local wall clock in milliseconds since the epoch.
fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A reading of a store's clock: `server - local` in milliseconds, and when it was taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerClock {
    read_at: Instant,
    offset_ms: i64,
}

/// Settings that can change after construction.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) order: JobOrder,
    pub(crate) floor: Option<i32>,
    pub(crate) batch_size: usize,
    pub(crate) rotation: AbilityRotation,
    pub(crate) candidate_order: CandidateOrder,
}

/// Abilities and registered workers.
#[derive(Default)]
pub(crate) struct Abilities {
    pub(crate) all: Vec<String>,
    pub(crate) current: Vec<String>,
    pub(crate) workers: HashMap<String, Arc<dyn Worker>>,
}

/// The shared state behind a [`Client`](crate::Client).
pub(crate) struct Inner {
    pub(crate) stores: Vec<StoreEntry>,
    pub(crate) settings: Mutex<Settings>,
    pub(crate) abilities: Mutex<Abilities>,
    pub(crate) retry_ms: i64,
    pub(crate) grab_strategy: GrabStrategy,
    pub(crate) error_max_age: i64,
    pub(crate) exit_clean_p: f64,
    pub(crate) pruning: Pruning,
    pub(crate) time_shift: TimeShift,
    /// How long a reading of a store's clock is extrapolated with the local clock.
    pub(crate) clock_refresh: Duration,
    pub(crate) hooks: GrabHooks,
    /// Declared before `scoreboard_base` so the file goes first; removed when the last
    /// client clone drops.
    pub(crate) scoreboard: Option<Scoreboard>,
    pub(crate) scoreboard_base: Option<PathBuf>,
    pub(crate) current: Mutex<HashMap<ThreadId, QueuedJob>>,
    pub(crate) listeners: Mutex<Vec<InsertListener>>,
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

/// A copy of an error for reporting it several times (errors are not `Clone`).
pub(crate) fn duplicate_error(e: &Error) -> Error {
    match e {
        Error::Unavailable { store, message } => Error::Unavailable {
            store: store.clone(),
            message: message.clone(),
        },
        Error::SchemaMissing { store, message } => Error::SchemaMissing {
            store: store.clone(),
            message: message.clone(),
        },
        Error::Database { store, message } => Error::Database {
            store: store.clone(),
            message: message.clone(),
        },
        Error::DuplicateUniqkey {
            store,
            funcname,
            uniqkey,
        } => Error::DuplicateUniqkey {
            store: store.clone(),
            funcname: funcname.clone(),
            uniqkey: uniqkey.clone(),
        },
        Error::LeaseLost {
            store,
            jobid,
            token,
        } => Error::LeaseLost {
            store: store.clone(),
            jobid: *jobid,
            token: *token,
        },
        Error::DuplicateJobId { store, jobid } => Error::DuplicateJobId {
            store: store.clone(),
            jobid: *jobid,
        },
        Error::InvalidInput(m) => Error::InvalidInput(m.clone()),
        Error::NoStore(m) => Error::NoStore(m.clone()),
        other => Error::Database {
            store: String::from("(several jobs)"),
            message: other.to_string(),
        },
    }
}

/// The text of a worker error with its source chain, `": "`-separated.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("(non-string panic payload)")
    }
}

impl Client {
    // ---- stores, time, dead marking ------------------------------------------------------

    pub(crate) fn entry(&self, idx: usize) -> &StoreEntry {
        &self.inner.stores[idx]
    }

    pub(crate) fn index_of(&self, hash: &StoreHash) -> Option<usize> {
        self.inner.stores.iter().position(|e| &e.hash == hash)
    }

    pub(crate) fn index_for_handle(&self, handle: &JobHandle) -> Result<usize> {
        self.index_of(handle.store())
            .ok_or_else(|| Error::UnknownStore {
                hash: handle.store().to_string(),
                handle: handle.to_string(),
            })
    }

    /// Wall-clock milliseconds plus the time shift (dead-store timers).
    pub(crate) fn wall_ms(&self) -> i64 {
        local_ms().saturating_add(self.inner.time_shift.seconds().saturating_mul(1000))
    }

    /// Wall-clock seconds plus the time shift.
    pub(crate) fn wall_secs(&self) -> Epoch {
        self.wall_ms() / 1000
    }

    /// The store's clock plus the shift.
    /// The store's clock plus the time shift. The store is asked at most once per
    /// `clock_refresh`; in between its last reading (in milliseconds where the store tells
    /// them, taken as of the middle of the round trip) is extrapolated with the local clock.
    pub(crate) fn now_of(&self, idx: usize) -> Result<Epoch> {
        let entry = self.entry(idx);
        let shift = self.inner.time_shift.seconds();
        let cached = *lock(&entry.clock);
        if let Some(c) = cached {
            if c.read_at.elapsed() < self.inner.clock_refresh {
                let server_ms = local_ms().saturating_add(c.offset_ms);
                return Ok(server_ms.div_euclid(1000).saturating_add(shift));
            }
        }
        let before = local_ms();
        let server_ms = entry.store.server_time_ms()?;
        let after = local_ms();
        let midpoint = before.saturating_add(after.saturating_sub(before) / 2);
        *lock(&entry.clock) = Some(ServerClock {
            read_at: Instant::now(),
            offset_ms: server_ms.saturating_sub(midpoint),
        });
        Ok(server_ms.div_euclid(1000).saturating_add(shift))
    }

    pub(crate) fn mark_dead_idx(&self, idx: usize, reason: &str) {
        let entry = self.entry(idx);
        log::debug!("Disabling DB {} because {}", entry.hash, reason);
        let until = self.wall_ms().saturating_add(self.inner.retry_ms);
        *lock(&entry.dead_until_ms) = Some(until);
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

    /// Live stores in random order.
    pub(crate) fn live_shuffled(&self) -> Vec<usize> {
        let mut idxs: Vec<usize> = (0..self.inner.stores.len())
            .filter(|&i| !self.is_dead_idx(i))
            .collect();
        idxs.shuffle(&mut rand::rng());
        idxs
    }

    pub(crate) fn settings(&self) -> Settings {
        lock(&self.inner.settings).clone()
    }

    pub(crate) fn all_dead_error(&self) -> Error {
        if self.inner.stores.is_empty() {
            Error::NoStore(String::from("no store is configured"))
        } else {
            Error::NoStore(format!(
                "all {} stores are marked dead",
                self.inner.stores.len()
            ))
        }
    }

    // ---- funcmap cache -------------------------------------------------------------------

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

    // ---- workers -------------------------------------------------------------------------

    pub(crate) fn grab_for_of(&self, funcname: &str) -> i64 {
        let worker = self.worker_for(funcname);
        grab_for_secs(worker.as_deref())
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

    // ---- inserting -----------------------------------------------------------------------

    pub(crate) fn notify_insert(&self, hash: &StoreHash) {
        let listeners: Vec<InsertListener> = lock(&self.inner.listeners).clone();
        for l in listeners {
            l(hash);
        }
    }

    /// The rows for `jobs` in one store (funcids created as needed).
    pub(crate) fn new_rows(&self, idx: usize, jobs: &[Job], now: Epoch) -> Result<Vec<NewJobRow>> {
        // Before any SQL, funcmap rows included: what this store cannot hold is InvalidInput.
        let limits = self.entry(idx).store.limits();
        for job in jobs {
            crate::validate::job_against(job, &limits)?;
        }
        jobs.iter()
            .map(|job| {
                Ok(NewJobRow {
                    jobid: job.jobid_value(),
                    funcid: self.funcid_of(idx, job.funcname())?,
                    arg: job.raw_arg_bytes().map(<[u8]>::to_vec),
                    uniqkey: job.uniqkey_value().map(str::to_string),
                    insert_time: now,
                    run_after: job.run_after_value().map(datetime_to_epoch).unwrap_or(now),
                    grabbed_until: job
                        .grabbed_until_value()
                        .map(datetime_to_epoch)
                        .unwrap_or(0),
                    priority: job.priority_value(),
                    coalesce: job.coalesce_value().map(str::to_string),
                })
            })
            .collect()
    }

    fn insert_into(&self, idx: usize, jobs: &[Job]) -> Result<Vec<JobId>> {
        let now = self.now_of(idx)?;
        let rows = self.new_rows(idx, jobs, now)?;
        self.entry(idx).store.insert_jobs(&rows)
    }

    /// Inserts `jobs` (non-empty) all-or-nothing into one store with failover; returns the
    /// store index and the ids.
    pub(crate) fn insert_with_failover(&self, jobs: &[Job]) -> Result<(usize, Vec<JobId>)> {
        for job in jobs {
            job.validate()?;
        }
        if self.inner.stores.is_empty() {
            return Err(self.all_dead_error());
        }
        let order = match jobs.iter().find(|j| j.uniqkey_value().is_some()) {
            Some(j) => {
                let hashes: Vec<StoreHash> =
                    self.inner.stores.iter().map(|e| e.hash.clone()).collect();
                rendezvous_order(&hashes, j.funcname(), j.uniqkey_value().unwrap_or_default())
            }
            None => {
                let mut v: Vec<usize> = (0..self.inner.stores.len()).collect();
                v.shuffle(&mut rand::rng());
                v
            }
        };
        let mut last_err = None;
        for idx in order {
            if self.is_dead_idx(idx) {
                continue;
            }
            match self.insert_into(idx, jobs) {
                Ok(ids) => {
                    self.notify_insert(&self.entry(idx).hash);
                    return Ok((idx, ids));
                }
                Err(Error::DuplicateUniqkey {
                    store,
                    funcname,
                    uniqkey,
                }) => {
                    // Name the job when the store could not.
                    let (funcname, uniqkey) = match (funcname, uniqkey) {
                        (Some(f), Some(k)) => (Some(f), Some(k)),
                        (f, k) if jobs.len() == 1 => (
                            f.or_else(|| Some(jobs[0].funcname().to_string())),
                            k.or_else(|| jobs[0].uniqkey_value().map(str::to_string)),
                        ),
                        (f, k) => (f, k),
                    };
                    return Err(Error::DuplicateUniqkey {
                        store,
                        funcname,
                        uniqkey,
                    });
                }
                Err(e @ (Error::InvalidInput(_) | Error::DuplicateJobId { .. })) => return Err(e),
                Err(e) => {
                    log::debug!("insert into {} failed: {e}", self.entry(idx).hash);
                    self.note_store_error(idx, &e);
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| self.all_dead_error()))
    }

    // ---- finding -------------------------------------------------------------------------

    /// Maps names to (funcid, name) in one store, deduplicated.
    fn funcids_of(&self, idx: usize, names: &[String]) -> Result<Vec<(FuncId, String)>> {
        let mut out: Vec<(FuncId, String)> = Vec::with_capacity(names.len());
        for name in names {
            let id = self.funcid_of(idx, name)?;
            if !out.iter().any(|(f, _)| *f == id) {
                out.push((id, name.clone()));
            }
        }
        Ok(out)
    }

    fn name_in(map: &[(FuncId, String)], funcid: FuncId) -> Option<String> {
        map.iter()
            .find(|(f, _)| *f == funcid)
            .map(|(_, n)| n.clone())
    }

    /// TheSchwartz's find: select candidates, shuffle, claim one at a time.
    pub(crate) fn find_one(
        &self,
        names: &[String],
        coalesce: Option<CoalesceFilter>,
        run_hook: bool,
    ) -> Result<Option<QueuedJob>> {
        for name in names {
            check_name("funcname", name)?;
        }
        crate::validate::coalesce_filter(coalesce.as_ref())?;
        if names.is_empty() {
            return Ok(None);
        }
        let settings = self.settings();
        for idx in self.live_shuffled() {
            let selected = (|| -> Result<Selected> {
                let now = self.now_of(idx)?;
                let funcs = self.funcids_of(idx, names)?;
                let mut q = JobQuery::eligible(
                    funcs.iter().map(|(f, _)| *f).collect(),
                    now,
                    settings.batch_size,
                );
                q.order = settings.order;
                q.floor = settings.floor;
                q.coalesce = coalesce.clone();
                let rows = self.entry(idx).store.select_jobs(&q)?;
                Ok((now, funcs, rows))
            })();
            let (now, funcs, mut cands) = match selected {
                Ok(x) => x,
                Err(e) if e.marks_store_dead() => {
                    self.note_store_error(idx, &e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if run_hook {
                if let Some(h) = &self.inner.hooks.after_select {
                    h();
                }
            }
            if settings.candidate_order == CandidateOrder::Shuffled {
                cands.shuffle(&mut rand::rng());
            }
            for cand in cands {
                let Some(name) = Self::name_in(&funcs, cand.funcid) else {
                    continue;
                };
                let lease_until = now.saturating_add(self.grab_for_of(&name));
                let claim = Claim {
                    jobid: cand.jobid,
                    expected: cand.grabbed_until,
                    lease_until,
                };
                let won = match self.entry(idx).store.claim(&[claim], now) {
                    Ok(ids) => ids.contains(&cand.jobid),
                    Err(e) if e.marks_store_dead() => {
                        self.note_store_error(idx, &e);
                        break;
                    }
                    Err(e) => return Err(e),
                };
                if won {
                    let mut row = cand;
                    row.grabbed_until = lease_until;
                    return Ok(Some(QueuedJob::from_row(self, idx, name, row)));
                }
                if let Some(h) = &self.inner.hooks.lost_race {
                    h();
                }
            }
        }
        Ok(None)
    }

    /// Batch grab across stores.
    pub(crate) fn grab_batch(&self, limit: usize) -> Result<Vec<QueuedJob>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let names: Vec<String> = {
            let ab = lock(&self.inner.abilities);
            let mut v: Vec<String> = Vec::new();
            for n in &ab.all {
                if !v.contains(n) {
                    v.push(n.clone());
                }
            }
            v
        };
        if names.is_empty() {
            return Ok(out);
        }
        let settings = self.settings();
        for idx in self.live_shuffled() {
            let remaining = limit - out.len();
            if remaining == 0 {
                break;
            }
            match self.grab_batch_in(idx, &names, &settings, remaining) {
                Ok(mut jobs) => out.append(&mut jobs),
                Err(e) if e.marks_store_dead() => self.note_store_error(idx, &e),
                Err(e) => {
                    if out.is_empty() {
                        return Err(e);
                    }
                    log::warn!("grab_jobs: {e}");
                }
            }
        }
        Ok(out)
    }

    fn grab_batch_in(
        &self,
        idx: usize,
        names: &[String],
        settings: &Settings,
        remaining: usize,
    ) -> Result<Vec<QueuedJob>> {
        let store = &self.entry(idx).store;
        let now = self.now_of(idx)?;
        let funcs = self.funcids_of(idx, names)?;
        let funcids: Vec<FuncId> = funcs.iter().map(|(f, _)| *f).collect();
        if self.inner.grab_strategy == GrabStrategy::Auto && store.supports_skip_locked() {
            let mut q = JobQuery::eligible(funcids.clone(), now, remaining);
            q.order = settings.order;
            q.floor = settings.floor;
            let leases: Vec<Lease> = funcs
                .iter()
                .map(|(f, n)| Lease {
                    funcid: *f,
                    grab_for: self.grab_for_of(n),
                })
                .collect();
            if let Some(rows) = store.grab_skip_locked(&q, &leases, now)? {
                return Ok(rows
                    .into_iter()
                    .filter_map(|row| {
                        let name = Self::name_in(&funcs, row.funcid)?;
                        Some(QueuedJob::from_row(self, idx, name, row))
                    })
                    .collect());
            }
        }
        let mut q = JobQuery::eligible(funcids, now, settings.batch_size.max(remaining));
        q.order = settings.order;
        q.floor = settings.floor;
        let mut cands = store.select_jobs(&q)?;
        if settings.candidate_order == CandidateOrder::Shuffled {
            cands.shuffle(&mut rand::rng());
        }
        cands.truncate(remaining);
        let mut claims = Vec::with_capacity(cands.len());
        let mut named = Vec::with_capacity(cands.len());
        for cand in cands {
            let Some(name) = Self::name_in(&funcs, cand.funcid) else {
                continue;
            };
            let lease_until = now.saturating_add(self.grab_for_of(&name));
            claims.push(Claim {
                jobid: cand.jobid,
                expected: cand.grabbed_until,
                lease_until,
            });
            let mut row = cand;
            row.grabbed_until = lease_until;
            named.push((name, row));
        }
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let won = store.claim(&claims, now)?;
        let lost = claims.len().saturating_sub(won.len());
        if let Some(h) = &self.inner.hooks.lost_race {
            for _ in 0..lost {
                h();
            }
        }
        Ok(named
            .into_iter()
            .filter(|(_, row)| won.contains(&row.jobid))
            .map(|(name, row)| QueuedJob::from_row(self, idx, name, row))
            .collect())
    }

    // ---- working -------------------------------------------------------------------------

    /// Replaces the calling thread's current job; returns the previous one.
    pub(crate) fn swap_current(&self, job: Option<QueuedJob>) -> Option<QueuedJob> {
        let tid = std::thread::current().id();
        let mut map = lock(&self.inner.current);
        match job {
            Some(j) => map.insert(tid, j),
            None => map.remove(&tid),
        }
    }

    /// Writes the start of a job; returns the `started` time written.
    fn scoreboard_start(&self, job: &QueuedJob, worker: Option<&dyn Worker>) -> Epoch {
        let token = job.token();
        let started = if token > 0 {
            token.saturating_sub(grab_for_secs(worker))
        } else {
            self.wall_secs()
        };
        if let Some(board) = &self.inner.scoreboard {
            if let Err(e) = board.start(job.funcname(), started, job.raw_arg()) {
                log::warn!("cannot write the scoreboard: {e}");
            }
        }
        started
    }

    /// Writes the end of a job: the local clock (shifted), never before `started` (which
    /// is by the store's clock).
    fn scoreboard_end(&self, started: Epoch) {
        if let Some(board) = &self.inner.scoreboard {
            if let Err(e) = board.end(self.wall_secs().max(started)) {
                log::warn!("cannot write the scoreboard: {e}");
            }
        }
    }

    /// `work_safely`, optionally deferring a plain completion.
    pub(crate) fn run_job(
        &self,
        job: QueuedJob,
        defer: bool,
    ) -> Result<(WorkOutcome, Option<DeferredCompletion>)> {
        let name = job.funcname().to_string();
        log::debug!("Working on {name} ...");
        let previous = self.swap_current(Some(job.clone()));
        let worker = self.worker_for(&name);
        // Deferred work is the worker pool's: it keeps one scoreboard per thread itself.
        let board = !defer && self.inner.scoreboard.is_some();
        let started = if board {
            self.scoreboard_start(&job, worker.as_deref())
        } else {
            0
        };

        let result: std::thread::Result<std::result::Result<(), WorkError>> = match &worker {
            Some(w) => panic::catch_unwind(AssertUnwindSafe(|| w.work(&job))),
            None => Ok(Err(Box::new(Error::NoWorker(name.clone())) as WorkError)),
        };
        let cjob = self.current_job().unwrap_or_else(|| job.clone());

        let mut deferred = None;
        let failure_text = match result {
            Err(payload) => Some(format!("panic: {}", panic_message(&*payload))),
            Ok(Err(e)) => Some(error_chain(&*e)),
            Ok(Ok(())) => None,
        };
        // A job whose lease was found lost while working gets no further writes.
        let settled = cjob.did_something() || cjob.last_outcome() == Some(WorkOutcome::LeaseLost);
        let write: Result<()> = match failure_text {
            Some(msg) => {
                log::debug!("Eval failure: {msg}");
                if settled {
                    Ok(())
                } else {
                    cjob.failed(&msg)
                }
            }
            None => {
                if settled || cjob.was_declined() {
                    Ok(())
                } else if defer {
                    match cjob.completion_finish() {
                        Ok(finish) => {
                            deferred = Some(DeferredCompletion {
                                handle: cjob.handle().clone(),
                                finish,
                                job: cjob.clone(),
                            });
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    cjob.completed()
                }
            }
        };
        let write = match write {
            Err(e @ Error::LeaseLost { .. }) => {
                log::warn!("{e}");
                cjob.set_last_outcome(WorkOutcome::LeaseLost);
                Ok(())
            }
            Err(Error::AlreadyFinished { .. }) => Ok(()),
            other => other,
        };
        if board {
            self.scoreboard_end(started);
        }
        drop(self.swap_current(previous));
        write?;

        let main_deferred = deferred
            .as_ref()
            .is_some_and(|d| Arc::ptr_eq(&d.job.inner, &job.inner));
        let outcome = job
            .last_outcome()
            .or(main_deferred.then_some(WorkOutcome::Completed))
            .or(job.was_declined().then_some(WorkOutcome::Declined))
            .or_else(|| cjob.last_outcome())
            .unwrap_or(WorkOutcome::Declined);
        Ok((outcome, deferred))
    }

    // ---- pruning -------------------------------------------------------------------------

    /// Inline error pruning after a failure row was written.
    pub(crate) fn after_failure_written(&self, idx: usize, now: Epoch) {
        if self.inner.pruning != Pruning::Inline {
            return;
        }
        let older_than = now.saturating_sub(self.inner.error_max_age);
        if let Err(e) = self
            .entry(idx)
            .store
            .prune_errors(older_than, INLINE_ERROR_PRUNE_LIMIT)
        {
            log::warn!("pruning old errors failed: {e}");
        }
    }

    /// Inline exit-status pruning (with the configured probability) after an exit status
    /// was written.
    pub(crate) fn after_exit_status_written(&self, idx: usize, now: Epoch) {
        if self.inner.pruning != Pruning::Inline {
            return;
        }
        let p = self.inner.exit_clean_p;
        if p <= 0.0 || rand::random::<f64>() >= p {
            return;
        }
        let limit = ((100.0 / p) as usize).clamp(100, 1000);
        if let Err(e) = self.entry(idx).store.prune_exit_statuses(now, limit) {
            log::warn!("pruning expired exit statuses failed: {e}");
        }
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

    #[test]
    fn ceil_and_grab_for() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(5)), 5);
        assert_eq!(ceil_secs(Duration::MAX), i64::MAX);
        assert_eq!(grab_for_secs(None), 3600);
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_and_panic_text() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(error_chain(&e), "outer: inner");
        let p: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_message(&*p), "boom");
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_message(&*p), "bang");
        let p: Box<dyn std::any::Any + Send> = Box::new(3u8);
        assert_eq!(panic_message(&*p), "(non-string panic payload)");
    }
}
