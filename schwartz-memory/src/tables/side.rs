//! The side tables: `error` rows (the failure log) and `exitstatus` rows, with their
//! pruning, and the row counts.

use super::*;

impl Tables {
    pub(super) fn append_failure(&mut self, failure: &FailureRecord) {
        let seq = self.next_error_seq;
        self.next_error_seq += 1;
        let record = FailureRecord {
            message: truncate_message(&failure.message).to_owned(),
            ..failure.clone()
        };
        self.errors_by_time.insert((record.error_time, seq));
        self.errors_by_job
            .entry(record.jobid)
            .or_default()
            .insert(seq);
        self.errors.insert(seq, record);
    }

    pub(super) fn remove_failure(&mut self, seq: u64) {
        if let Some(record) = self.errors.remove(&seq) {
            self.errors_by_time.remove(&(record.error_time, seq));
            if let Some(seqs) = self.errors_by_job.get_mut(&record.jobid) {
                seqs.remove(&seq);
                if seqs.is_empty() {
                    self.errors_by_job.remove(&record.jobid);
                }
            }
        }
    }

    pub(crate) fn failures(&self, jobid: JobId) -> Vec<FailureRecord> {
        self.errors_by_job
            .get(&jobid)
            .map(|seqs| {
                seqs.iter()
                    .filter_map(|seq| self.errors.get(seq).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn recent_failures(
        &self,
        since: Option<Epoch>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Vec<FailureRecord> {
        let lower = since.unwrap_or(Epoch::MIN);
        self.errors_by_time
            .range((lower, 0)..)
            .rev()
            .filter_map(|(_, seq)| self.errors.get(seq))
            .filter(|r| funcid.is_none_or(|f| r.funcid == f))
            .take(limit)
            .cloned()
            .collect()
    }

    pub(crate) fn prune_errors(&mut self, older_than: Epoch, limit: usize) -> u64 {
        let doomed: Vec<u64> = self
            .errors_by_time
            .range(..(older_than, 0))
            .take(limit)
            .map(|&(_, seq)| seq)
            .collect();
        for &seq in &doomed {
            self.remove_failure(seq);
        }
        doomed.len() as u64
    }

    // ----- exitstatus -----

    pub(super) fn upsert_exit_status(
        &mut self,
        jobid: JobId,
        funcid: FuncId,
        write: &ExitStatusWrite,
    ) {
        if let Some(old) = self.exit_statuses.get(&jobid) {
            self.exit_by_deadline.remove(&(old.delete_after, jobid));
        }
        self.exit_by_deadline.insert((write.delete_after, jobid));
        self.exit_statuses.insert(
            jobid,
            ExitStatus {
                jobid,
                funcid,
                status: write.status,
                completion_time: write.completion_time,
                delete_after: write.delete_after,
            },
        );
    }

    pub(crate) fn exit_status(&self, jobid: JobId) -> Option<ExitStatus> {
        self.exit_statuses.get(&jobid).cloned()
    }

    pub(crate) fn prune_exit_statuses(&mut self, now: Epoch, limit: usize) -> u64 {
        let doomed: Vec<(Epoch, JobId)> = self
            .exit_by_deadline
            .range(..(now, JobId(i64::MIN)))
            .take(limit)
            .copied()
            .collect();
        for key in &doomed {
            self.exit_by_deadline.remove(key);
            self.exit_statuses.remove(&key.1);
        }
        doomed.len() as u64
    }

    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats {
            jobs: self.jobs.len() as u64,
            errors: self.errors.len() as u64,
            exit_statuses: self.exit_statuses.len() as u64,
        }
    }
}
