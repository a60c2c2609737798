//! [`Client::insert_jobs`] with several stores: each job with a uniqkey is inserted into
//! its own home store, so its uniqueness holds across databases as a single `insert`'s
//! does.
//!
//! The batch is split into parts, one per home store order (rendezvous hashing, see
//! `stores`): keyed jobs with the same store order form one part; jobs without a uniqkey
//! join the first keyed job's part (or, in a batch without keys, form one part that goes
//! to a random live store). Each part is inserted all-or-nothing into one store, failing
//! over along its order as `insert` does. Parts are inserted in the order their first job
//! appears. When a part fails, the parts already inserted are removed again (fenced on
//! the lease value they were inserted with), so the whole batch normally leaves nothing;
//! a job of such a part that a worker grabbed in between cannot be removed, is left to run
//! and is logged.

use super::stores::rendezvous_order;
use super::Client;
use crate::error::Result;
use crate::handle::JobHandle;
use crate::ids::{datetime_to_epoch, JobId, StoreHash};
use crate::job::Job;
use crate::store::{Finish, FinishAction, FinishStatus};

/// One part of a batch: the store order its keyed jobs share (`None`: no keyed job) and
/// the positions of its jobs in the batch.
#[derive(Debug)]
struct Part {
    order: Option<Vec<usize>>,
    members: Vec<usize>,
}

/// Splits a batch into parts by home store order (see the module docs).
fn parts(hashes: &[StoreHash], jobs: &[Job]) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let mut unkeyed = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let Some(key) = job.uniqkey_value() else {
            unkeyed.push(i);
            continue;
        };
        let order = rendezvous_order(hashes, job.funcname(), key);
        match parts.iter_mut().find(|p| p.order.as_ref() == Some(&order)) {
            Some(p) => p.members.push(i),
            None => parts.push(Part {
                order: Some(order),
                members: vec![i],
            }),
        }
    }
    match parts.first_mut() {
        Some(first) => {
            first.members.extend(unkeyed);
            first.members.sort_unstable();
        }
        None => parts.push(Part {
            order: None,
            members: unkeyed,
        }),
    }
    parts
}

impl Client {
    /// Inserts a non-empty batch part by part (see the module docs); handles in the
    /// batch's order.
    pub(crate) fn insert_batch(&self, jobs: &[Job]) -> Result<Vec<JobHandle>> {
        let hashes: Vec<StoreHash> = self.ctx().stores.iter().map(|e| e.hash.clone()).collect();
        let parts = parts(&hashes, jobs);
        let mut handles: Vec<Option<JobHandle>> = vec![None; jobs.len()];
        let mut done: Vec<(usize, Vec<JobId>, Vec<usize>)> = Vec::new();
        for part in parts {
            // A part of every job (one store, or a batch without keys: the usual case) is
            // the batch itself, in its order; only a real split copies jobs.
            let part_jobs: std::borrow::Cow<'_, [Job]> = if part.members.len() == jobs.len() {
                std::borrow::Cow::Borrowed(jobs)
            } else {
                part.members.iter().map(|&i| jobs[i].clone()).collect()
            };
            debug_assert!(
                part.order.is_none() || part_jobs.iter().any(|j| j.uniqkey_value().is_some())
            );
            // `insert_jobs` validated every job before the first part.
            match self.insert_validated(&part_jobs) {
                Ok((idx, ids)) => {
                    for (&i, id) in part.members.iter().zip(&ids) {
                        handles[i] = Some(JobHandle::new(self.entry(idx).hash.clone(), *id));
                    }
                    done.push((idx, ids, part.members));
                }
                Err(e) => {
                    self.undo_parts(jobs, done);
                    return Err(e);
                }
            }
        }
        Ok(handles.into_iter().flatten().collect())
    }

    /// Removes the jobs of parts inserted before a later part failed, fenced on the lease
    /// value each was inserted with; what cannot be removed is logged.
    fn undo_parts(&self, jobs: &[Job], done: Vec<(usize, Vec<JobId>, Vec<usize>)>) {
        for (idx, ids, members) in done {
            let entry = self.entry(idx);
            let items: Result<Vec<Finish>> = ids
                .iter()
                .zip(&members)
                .map(|(id, &i)| {
                    Ok(Finish {
                        jobid: *id,
                        funcid: self.ctx().funcid_of(idx, jobs[i].funcname())?,
                        token: jobs[i].grabbed_until_value().map_or(0, datetime_to_epoch),
                        failure: None,
                        action: FinishAction::Remove { exit_status: None },
                    })
                })
                .collect();
            let statuses = items.and_then(|items| entry.store.finish(&items));
            match statuses {
                Ok(statuses) => {
                    for (id, status) in ids.iter().zip(statuses) {
                        if !matches!(status, FinishStatus::Done) {
                            log::warn!(
                                "insert_jobs failed in another database; job {}-{id} of the batch could not be taken back (a worker has it): {status:?}",
                                entry.hash
                            );
                        }
                    }
                }
                Err(e) => log::warn!(
                    "insert_jobs failed in another database; the {} jobs it inserted into {} could not be taken back: {e}",
                    ids.len(),
                    entry.store.describe()
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_group_keys_by_home_and_unkeyed_with_the_first() {
        let hashes: Vec<StoreHash> = (0..3).map(|i| StoreHash::of(&format!("db{i}"))).collect();
        let home = |k: &str| rendezvous_order(&hashes, "f", k);
        // Find keys with two different homes.
        let k1 = "key-0".to_string();
        let k2 = (1..100)
            .map(|i| format!("key-{i}"))
            .find(|k| home(k)[0] != home(&k1)[0])
            .expect("keys with different homes");
        let jobs = vec![
            Job::new("f"),
            Job::new("f").uniqkey(&k2),
            Job::new("f").uniqkey(&k1),
            Job::new("f"),
            Job::new("f").uniqkey(&k2).coalesce("x"),
        ];
        let p = parts(&hashes, &jobs);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].members, vec![0, 1, 3, 4]);
        assert_eq!(p[0].order.as_ref(), Some(&home(&k2)));
        assert_eq!(p[1].members, vec![2]);
        let plain = parts(&hashes, &[Job::new("f"), Job::new("g")]);
        assert_eq!(plain.len(), 1);
        assert!(plain[0].order.is_none());
        assert_eq!(plain[0].members, vec![0, 1]);
    }
}
