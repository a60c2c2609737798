//! The tables of ours that Perl TheSchwartz ignores: `schwartz_schedule` (the last tick of
//! each periodic schedule) and `schwartz_result` (job results), under the same lock as the
//! job table, so a tick's insert and a completion's result are atomic with their job.

use schwartz_core::store::{ResultRow, ResultWrite, ScheduleRow, TickInsert};

use super::*;

/// The rows of our tables.
#[derive(Debug, Default)]
pub(crate) struct Ours {
    schedules: BTreeMap<String, ScheduleRow>,
    results: BTreeMap<JobId, ResultRow>,
    results_by_deadline: BTreeSet<(Epoch, JobId)>,
}

impl Tables {
    pub(crate) fn register_schedule(&mut self, row: &ScheduleRow) -> Result<ScheduleRow> {
        for (what, v) in [
            ("schedule name", &row.name),
            ("function name", &row.funcname),
        ] {
            if v.is_empty() || v.chars().count() > VARCHAR_LEN {
                return Err(Error::InvalidInput(format!(
                    "{what} {v:?} must be 1 to {VARCHAR_LEN} characters"
                )));
            }
        }
        let stored = self
            .ours
            .schedules
            .entry(row.name.clone())
            .and_modify(|r| {
                r.funcname.clone_from(&row.funcname);
                r.spec.clone_from(&row.spec);
            })
            .or_insert_with(|| row.clone());
        Ok(stored.clone())
    }

    pub(crate) fn schedules(&self) -> Vec<ScheduleRow> {
        self.ours.schedules.values().cloned().collect()
    }

    /// The compare-and-set of a tick, then its job; all or nothing.
    pub(crate) fn insert_tick(
        &mut self,
        store: &str,
        name: &str,
        tick: Epoch,
        job: Option<&NewJobRow>,
        clock: Epoch,
    ) -> Result<TickInsert> {
        let Some(row) = self.ours.schedules.get(name) else {
            return Err(Error::InvalidInput(format!(
                "{store} has no schedule {name:?}: register it first"
            )));
        };
        if row.last_tick >= tick {
            return Ok(TickInsert::Taken {
                last_tick: row.last_tick,
            });
        }
        let id = match job {
            Some(j) => self
                .insert_jobs(store, std::slice::from_ref(j), clock)?
                .into_iter()
                .next(),
            None => None,
        };
        if let Some(row) = self.ours.schedules.get_mut(name) {
            row.last_tick = tick;
        }
        Ok(TickInsert::Recorded(id))
    }

    /// Writes the results of the items `finish` removed (`statuses` in item order).
    pub(crate) fn write_results(
        &mut self,
        items: &[Finish],
        statuses: &[FinishStatus],
        results: &[ResultWrite],
    ) {
        for r in results {
            let (Some(item), Some(FinishStatus::Done)) = (items.get(r.item), statuses.get(r.item))
            else {
                continue;
            };
            if !matches!(item.action, FinishAction::Remove { .. }) {
                continue;
            }
            self.remove_result(item.jobid);
            self.ours
                .results_by_deadline
                .insert((r.delete_after, item.jobid));
            self.ours.results.insert(
                item.jobid,
                ResultRow {
                    jobid: item.jobid,
                    funcid: item.funcid,
                    value: r.value.clone(),
                    completion_time: r.completion_time,
                    delete_after: r.delete_after,
                },
            );
        }
    }

    fn remove_result(&mut self, jobid: JobId) {
        if let Some(old) = self.ours.results.remove(&jobid) {
            self.ours
                .results_by_deadline
                .remove(&(old.delete_after, jobid));
        }
    }

    pub(crate) fn job_result(&self, jobid: JobId) -> Option<ResultRow> {
        self.ours.results.get(&jobid).cloned()
    }

    pub(crate) fn prune_results(&mut self, now: Epoch, limit: usize) -> u64 {
        let expired: Vec<JobId> = self
            .ours
            .results_by_deadline
            .range(..(now, JobId(i64::MIN)))
            .take(limit)
            .map(|&(_, id)| id)
            .collect();
        for id in &expired {
            self.remove_result(*id);
        }
        expired.len() as u64
    }
}
