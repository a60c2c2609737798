//! Finding and grabbing jobs: TheSchwartz's select, shuffle and compare-and-swap claim
//! one job at a time, batch grabs (`FOR UPDATE SKIP LOCKED` where the store has it), and
//! giving grabbed jobs back.

use std::collections::HashMap;

use rand::seq::SliceRandom;

use super::{lock, CandidateOrder, Client, GrabStrategy, Settings};
use crate::error::{Error, Result};
use crate::ids::{Epoch, FuncId};
use crate::job::check_name;
use crate::outcome::{apply, Verdict};
use crate::queued::QueuedJob;
use crate::store::{Claim, CoalesceFilter, JobQuery, JobRow, Lease};
use crate::worker::Policy;

/// The functions of a grab in one store: funcid, name and policy.
type Funcs = Vec<(FuncId, String, Policy)>;

/// A candidate select: the time used, the functions, the candidates.
type Selected = (Epoch, Funcs, Vec<JobRow>);

impl Client {
    /// Grabs one job of these functions (default: the current abilities): live stores in
    /// random order, up to `batch_size` eligible candidates each, shuffled (unless
    /// `CandidateOrder::AsSelected`) and claimed one at a time. A failing store is marked
    /// dead and skipped. Unknown names get funcmap rows, as in TheSchwartz.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid name; errors that do not mark a store dead.
    pub fn find_job_for_workers(&self, abilities: Option<&[&str]>) -> Result<Option<QueuedJob>> {
        let names: Vec<String> = match abilities {
            Some(a) => a.iter().map(|s| s.to_string()).collect(),
            None => self.current_abilities(),
        };
        self.find_one(&names, None, true)
    }
    /// Grabs one job of this function (`Worker->grab_job`).
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`].
    pub fn grab_job(&self, funcname: &str) -> Result<Option<QueuedJob>> {
        self.find_job_for_workers(Some(&[funcname]))
    }
    /// Grabs one job of `funcname` whose coalesce value equals `value`.
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`].
    pub fn find_job_with_coalescing_value(
        &self,
        funcname: &str,
        value: &str,
    ) -> Result<Option<QueuedJob>> {
        self.find_one(
            &[funcname.to_string()],
            Some(CoalesceFilter::Equals(value.to_string())),
            false,
        )
    }
    /// Grabs one job of `funcname` whose coalesce value starts with `prefix` (literally).
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`].
    pub fn find_job_with_coalescing_prefix(
        &self,
        funcname: &str,
        prefix: &str,
    ) -> Result<Option<QueuedJob>> {
        self.find_one(
            &[funcname.to_string()],
            Some(CoalesceFilter::Prefix(prefix.to_string())),
            false,
        )
    }
    /// Grabs up to `limit` jobs of all abilities, across stores, in as few round trips as
    /// possible (SKIP LOCKED where available and `GrabStrategy::Auto`; else one select and
    /// one multi-row claim per store). No ability rotation. Failing stores are marked dead
    /// and skipped.
    ///
    /// # Errors
    /// Errors that do not mark a store dead, when no job was grabbed.
    pub fn grab_jobs(&self, limit: usize) -> Result<Vec<QueuedJob>> {
        self.grab_batch(limit)
    }
    /// As [`Client::grab_jobs`], for these functions only (names the client cannot do are
    /// ignored): the building block of a fair grab, e.g. the worker pool's round-robin over
    /// functions.
    ///
    /// # Errors
    /// As [`Client::grab_jobs`].
    pub fn grab_jobs_of(&self, funcnames: &[String], limit: usize) -> Result<Vec<QueuedJob>> {
        let names: Vec<String> = {
            let ab = lock(&self.inner.abilities);
            funcnames
                .iter()
                .filter(|n| ab.all.contains(n))
                .cloned()
                .collect()
        };
        self.grab_batch_of(&names, limit)
    }
    /// Makes grabbed-but-unstarted jobs grabbable again at once (fenced; a job whose lease
    /// was lost is logged and skipped). Released jobs count as finished for this process.
    ///
    /// # Errors
    /// The first store error (the other stores' jobs are still released).
    pub fn release(&self, jobs: Vec<QueuedJob>) -> Result<()> {
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            if job.did_something() {
                continue;
            }
            outcomes.push(job.decide(Verdict::Release)?);
        }
        let mut first_err = None;
        for applied in apply(outcomes) {
            match applied.result {
                Ok(()) => {}
                Err(e @ Error::LeaseLost { .. }) => log::warn!("{e}"),
                // Cancelled while it waited: nothing to give back.
                Err(e @ Error::Cancelled { .. }) => log::info!("{e}"),
                Err(e) => {
                    log::warn!("releasing job {}: {e}", applied.handle);
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The functions `names` in one store, each with its policy (worker and lease length,
    /// looked up once per function).
    fn policies(&self, idx: usize, names: &[String]) -> Result<Funcs> {
        let funcs = self.ctx().funcids_of(idx, names)?;
        let mut cache: HashMap<&str, Policy> = HashMap::new();
        Ok(funcs
            .iter()
            .map(|(f, n)| {
                let policy = cache
                    .entry(n.as_str())
                    .or_insert_with(|| self.policy_for(n))
                    .clone();
                (*f, n.clone(), policy)
            })
            .collect())
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
        for idx in self.ctx().live_shuffled() {
            let selected = (|| -> Result<Selected> {
                let now = self.ctx().now_of(idx)?;
                let funcs = self.policies(idx, names)?;
                let mut q = JobQuery::eligible(
                    funcs.iter().map(|(f, _, _)| *f).collect(),
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
                Ok(x) => {
                    self.ctx().note_store_ok(idx);
                    x
                }
                Err(e) if e.marks_store_dead() => {
                    self.ctx().note_store_error(idx, &e);
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
                let Some((_, name, policy)) = funcs.iter().find(|(f, _, _)| *f == cand.funcid)
                else {
                    continue;
                };
                let lease_until = now.saturating_add(policy.grab_for);
                let claim = Claim {
                    jobid: cand.jobid,
                    expected: cand.grabbed_until,
                    lease_until,
                };
                let won = match self.entry(idx).store.claim(&[claim], now) {
                    Ok(ids) => ids.contains(&cand.jobid),
                    Err(e) if e.marks_store_dead() => {
                        self.ctx().note_store_error(idx, &e);
                        break;
                    }
                    Err(e) => return Err(e),
                };
                if won {
                    let mut row = cand;
                    row.grabbed_until = lease_until;
                    let (name, policy) = (name.clone(), policy.clone());
                    return Ok(Some(QueuedJob::new(self.ctx(), idx, name, row, policy)));
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
        if limit == 0 {
            return Ok(Vec::new());
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
        self.grab_batch_of(&names, limit)
    }

    /// Batch grab of these functions across stores.
    fn grab_batch_of(&self, names: &[String], limit: usize) -> Result<Vec<QueuedJob>> {
        let mut out = Vec::new();
        if names.is_empty() || limit == 0 {
            return Ok(out);
        }
        let settings = self.settings();
        for idx in self.ctx().live_shuffled() {
            let remaining = limit - out.len();
            if remaining == 0 {
                break;
            }
            match self.grab_batch_in(idx, names, &settings, remaining) {
                Ok(mut jobs) => {
                    self.ctx().note_store_ok(idx);
                    out.append(&mut jobs);
                }
                Err(e) if e.marks_store_dead() => self.ctx().note_store_error(idx, &e),
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
        let now = self.ctx().now_of(idx)?;
        let funcs = self.policies(idx, names)?;
        let funcids: Vec<FuncId> = funcs.iter().map(|(f, _, _)| *f).collect();
        if self.inner.grab_strategy == GrabStrategy::Auto && store.supports_skip_locked() {
            let mut q = JobQuery::eligible(funcids.clone(), now, remaining);
            q.order = settings.order;
            q.floor = settings.floor;
            let leases: Vec<Lease> = funcs
                .iter()
                .map(|(f, _, p)| Lease {
                    funcid: *f,
                    grab_for: p.grab_for,
                })
                .collect();
            if let Some(rows) = store.grab_skip_locked(&q, &leases, now)? {
                return Ok(rows
                    .into_iter()
                    .filter_map(|row| {
                        let (_, name, policy) = funcs.iter().find(|(f, _, _)| *f == row.funcid)?;
                        Some(QueuedJob::new(
                            self.ctx(),
                            idx,
                            name.clone(),
                            row,
                            policy.clone(),
                        ))
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
            let Some(i) = funcs.iter().position(|(f, _, _)| *f == cand.funcid) else {
                continue;
            };
            let lease_until = now.saturating_add(funcs[i].2.grab_for);
            claims.push(Claim {
                jobid: cand.jobid,
                expected: cand.grabbed_until,
                lease_until,
            });
            let mut row = cand;
            row.grabbed_until = lease_until;
            named.push((i, row));
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
            .map(|(i, row)| {
                let (_, name, policy) = &funcs[i];
                QueuedJob::new(self.ctx(), idx, name.clone(), row, policy.clone())
            })
            .collect())
    }
}
