//! A minimal in-crate store for the client's unit tests (the real in-memory store lives in
//! `schwartz-memory`, which unit tests cannot use: it links another copy of this crate).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use crate::client_impl::lock;
use crate::error::{Error, Result};
use crate::ids::{Epoch, FuncId, JobId};
use crate::store::*;

#[derive(Debug, Default)]
struct Tables {
    funcmap: Vec<FuncMap>,
    jobs: BTreeMap<i64, JobRow>,
    next_job: i64,
    errors: Vec<FailureRecord>,
    exits: BTreeMap<i64, ExitStatus>,
}

/// A store in a mutex, with a settable clock and a "down" switch.
#[derive(Debug, Default)]
pub(crate) struct TestStore {
    name: String,
    t: Mutex<Tables>,
    pub(crate) clock: AtomicI64,
    pub(crate) down: AtomicBool,
}

impl TestStore {
    pub(crate) fn new(name: &str) -> TestStore {
        TestStore {
            name: name.to_string(),
            clock: AtomicI64::new(1_000_000),
            ..TestStore::default()
        }
    }

    fn up(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(Error::Unavailable {
                store: self.describe(),
                message: "connection refused".into(),
            })
        } else {
            Ok(())
        }
    }

    pub(crate) fn jobs(&self) -> Vec<JobRow> {
        lock(&self.t).jobs.values().cloned().collect()
    }

    fn matches(q: &JobQuery, r: &JobRow) -> bool {
        q.funcids.contains(&r.funcid)
            && q.run_after_max.is_none_or(|x| r.run_after <= x)
            && q.grabbed_until_max.is_none_or(|x| r.grabbed_until <= x)
            && q.jobid.is_none_or(|x| r.jobid == x)
            && q.floor.is_none_or(|f| r.priority.is_some_and(|p| p >= f))
            && match &q.coalesce {
                None => true,
                Some(CoalesceFilter::Equals(v)) => r.coalesce.as_deref() == Some(v.as_str()),
                Some(CoalesceFilter::Prefix(p)) => r
                    .coalesce
                    .as_deref()
                    .is_some_and(|c| c.starts_with(p.as_str())),
            }
    }
}

impl Store for TestStore {
    fn identity(&self) -> String {
        format!("test:{}|", self.name)
    }
    fn describe(&self) -> String {
        format!("test store {}", self.name)
    }
    fn server_time(&self) -> Result<Epoch> {
        self.up()?;
        Ok(self.clock.load(Ordering::SeqCst))
    }
    fn funcmap(&self) -> Result<Vec<FuncMap>> {
        self.up()?;
        Ok(lock(&self.t).funcmap.clone())
    }
    fn funcid(&self, funcname: &str) -> Result<FuncId> {
        self.up()?;
        let mut t = lock(&self.t);
        if let Some(f) = t.funcmap.iter().find(|f| f.funcname == funcname) {
            return Ok(f.funcid);
        }
        let id = FuncId(t.funcmap.len() as i32 + 1);
        t.funcmap.push(FuncMap {
            funcid: id,
            funcname: funcname.to_string(),
        });
        Ok(id)
    }
    fn insert_jobs(&self, jobs: &[NewJobRow]) -> Result<Vec<JobId>> {
        self.up()?;
        let mut t = lock(&self.t);
        let mut staged: Vec<JobRow> = Vec::new();
        let mut next = t.next_job;
        for j in jobs {
            if let Some(k) = &j.uniqkey {
                let clash = t
                    .jobs
                    .values()
                    .chain(staged.iter())
                    .any(|r| r.funcid == j.funcid && r.uniqkey.as_ref() == Some(k));
                if clash {
                    return Err(Error::DuplicateUniqkey {
                        store: self.describe(),
                        funcname: None,
                        uniqkey: Some(k.clone()),
                    });
                }
            }
            let id = match j.jobid {
                Some(id) => id.0,
                None => {
                    next += 1;
                    next
                }
            };
            next = next.max(id);
            staged.push(JobRow {
                jobid: JobId(id),
                funcid: j.funcid,
                arg: j.arg.clone(),
                uniqkey: j.uniqkey.clone(),
                insert_time: Some(j.insert_time),
                run_after: j.run_after,
                grabbed_until: j.grabbed_until,
                priority: j.priority,
                coalesce: j.coalesce.clone(),
            });
        }
        t.next_job = next;
        let ids = staged.iter().map(|r| r.jobid).collect();
        for r in staged {
            t.jobs.insert(r.jobid.0, r);
        }
        Ok(ids)
    }
    fn lookup(&self, jobid: JobId) -> Result<Option<JobRow>> {
        self.up()?;
        Ok(lock(&self.t).jobs.get(&jobid.0).cloned())
    }
    fn select_jobs(&self, q: &JobQuery) -> Result<Vec<JobRow>> {
        self.up()?;
        let t = lock(&self.t);
        let mut rows: Vec<JobRow> = t
            .jobs
            .values()
            .filter(|r| Self::matches(q, r))
            .cloned()
            .collect();
        if q.order == JobOrder::PriorityDesc {
            rows.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.jobid.cmp(&b.jobid)));
        }
        rows.truncate(q.limit);
        Ok(rows)
    }
    fn claim(&self, claims: &[Claim], now: Epoch) -> Result<Vec<JobId>> {
        self.up()?;
        let mut t = lock(&self.t);
        let mut won = Vec::new();
        for c in claims {
            if let Some(r) = t.jobs.get_mut(&c.jobid.0) {
                if r.grabbed_until == c.expected && r.grabbed_until <= now {
                    r.grabbed_until = c.lease_until;
                    won.push(c.jobid);
                }
            }
        }
        Ok(won)
    }
    fn finish(&self, items: &[Finish]) -> Result<Vec<FinishStatus>> {
        self.up()?;
        let mut out = Vec::new();
        for item in items {
            let mut t = lock(&self.t);
            let ok = t
                .jobs
                .get(&item.jobid.0)
                .is_some_and(|r| r.grabbed_until == item.token);
            if !ok {
                out.push(FinishStatus::LeaseLost);
                continue;
            }
            let mut status = FinishStatus::Done;
            let exit = match &item.action {
                FinishAction::Remove { exit_status } => {
                    t.jobs.remove(&item.jobid.0);
                    *exit_status
                }
                FinishAction::Reschedule { run_after } => {
                    let r = t.jobs.get_mut(&item.jobid.0).expect("checked");
                    r.grabbed_until = 0;
                    if let Some(ra) = run_after {
                        r.run_after = *ra;
                    }
                    None
                }
                FinishAction::Replace { jobs, exit_status } => {
                    drop(t);
                    match self.insert_jobs(jobs) {
                        Ok(ids) => status = FinishStatus::Replaced(ids),
                        Err(e) => {
                            out.push(FinishStatus::Rejected(e));
                            continue;
                        }
                    }
                    t = lock(&self.t);
                    t.jobs.remove(&item.jobid.0);
                    *exit_status
                }
            };
            if let Some(f) = &item.failure {
                t.errors.push(f.clone());
            }
            if let Some(es) = exit {
                t.exits.insert(
                    item.jobid.0,
                    ExitStatus {
                        jobid: item.jobid,
                        funcid: item.funcid,
                        status: es.status,
                        completion_time: es.completion_time,
                        delete_after: es.delete_after,
                    },
                );
            }
            out.push(status);
        }
        Ok(out)
    }
    fn extend_lease(&self, jobid: JobId, token: Epoch, new_until: Epoch) -> Result<bool> {
        self.up()?;
        let mut t = lock(&self.t);
        match t.jobs.get_mut(&jobid.0) {
            Some(r) if r.grabbed_until == token => {
                r.grabbed_until = new_until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn reschedule(&self, jobid: JobId, run_after: Epoch) -> Result<bool> {
        self.up()?;
        let mut t = lock(&self.t);
        match t.jobs.get_mut(&jobid.0) {
            Some(r) => {
                r.run_after = run_after;
                r.grabbed_until = 0;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn failures(&self, jobid: JobId) -> Result<Vec<FailureRecord>> {
        self.up()?;
        Ok(lock(&self.t)
            .errors
            .iter()
            .filter(|e| e.jobid == jobid)
            .cloned()
            .collect())
    }
    fn recent_failures(
        &self,
        _: Option<Epoch>,
        _: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>> {
        self.up()?;
        Ok(lock(&self.t)
            .errors
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
    fn exit_status(&self, jobid: JobId) -> Result<Option<ExitStatus>> {
        self.up()?;
        Ok(lock(&self.t).exits.get(&jobid.0).cloned())
    }
    fn prune_errors(&self, older_than: Epoch, _limit: usize) -> Result<u64> {
        self.up()?;
        let mut t = lock(&self.t);
        let before = t.errors.len();
        t.errors.retain(|e| e.error_time >= older_than);
        Ok((before - t.errors.len()) as u64)
    }
    fn prune_exit_statuses(&self, now: Epoch, _limit: usize) -> Result<u64> {
        self.up()?;
        let mut t = lock(&self.t);
        let before = t.exits.len();
        t.exits.retain(|_, e| e.delete_after >= now);
        Ok((before - t.exits.len()) as u64)
    }
    fn stats(&self) -> Result<StoreStats> {
        self.up()?;
        let t = lock(&self.t);
        Ok(StoreStats {
            jobs: t.jobs.len() as u64,
            errors: t.errors.len() as u64,
            exit_statuses: t.exits.len() as u64,
        })
    }
}
