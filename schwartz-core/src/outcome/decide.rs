//! Deciding an outcome: pure code from what the worker asked for, its policy, the number
//! of failures on record and the time, to the [`Finish`] a store writes.

use crate::ids::{Epoch, FuncId, JobId};
use crate::store::{ExitStatusWrite, FailureRecord, Finish, FinishAction, NewJobRow};

use super::WorkOutcome;

/// What the worker asked for, or what its return value means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// `Ok(())`, or [`QueuedJob::completed`](crate::QueuedJob::completed).
    Complete,
    /// `Err(e)`, a panic, or an explicit failure.
    Fail {
        /// The failure message.
        message: String,
        /// The exit status to keep when no retry is left (0 counts as 1).
        exit_status: Option<i32>,
        /// No retry whatever `max_retries` says.
        permanent: bool,
    },
    /// Released at once, eligible again at this time.
    DeclineUntil(Epoch),
    /// Grabbed but never started: released, eligible at once.
    Release,
    /// Replaced by these jobs (in the same store), atomically.
    Replace(Vec<NewJobRow>),
}

impl Verdict {
    /// Whether deciding needs the number of failures on record.
    pub(crate) fn needs_failures(&self) -> bool {
        matches!(
            self,
            Verdict::Fail {
                permanent: false,
                ..
            }
        )
    }

    /// Whether deciding needs the store's clock (given how long exit statuses are kept).
    pub(crate) fn needs_clock(&self, keep_exit_status_for: i64) -> bool {
        match self {
            Verdict::Fail { .. } => true,
            Verdict::Complete | Verdict::Replace(_) => keep_exit_status_for > 0,
            Verdict::DeclineUntil(_) | Verdict::Release => false,
        }
    }
}

/// A worker's retry policy as values: its hooks, each already under the panic guard.
pub(crate) struct Rules<'a> {
    /// How long exit statuses are kept, in whole seconds (0: none is written).
    pub(crate) keep_exit_status_for: i64,
    /// Retries allowed (called only for a failure that may be retried).
    pub(crate) max_retries: &'a dyn Fn() -> u32,
    /// The delay in whole seconds before the next attempt, given the failures so far
    /// including this one (called only when a retry is left).
    pub(crate) retry_delay: &'a dyn Fn(u32) -> i64,
}

/// The job an outcome is for: its ids and the lease token it was decided with (the
/// writer fences on the token the job holds when it writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) jobid: JobId,
    pub(crate) funcid: FuncId,
    pub(crate) token: Epoch,
}

/// An exit status to write when the worker keeps them.
fn exit_status(keep: i64, now: Epoch, status: i32) -> Option<ExitStatusWrite> {
    (keep > 0).then(|| ExitStatusWrite {
        status,
        completion_time: now,
        delete_after: now.saturating_add(keep),
    })
}

/// Decides an outcome: the [`Finish`] to write and what it means. `failures` is the number
/// of failures on record before this one (read only when [`Verdict::needs_failures`]);
/// `now` is the store's clock (read only when [`Verdict::needs_clock`]).
pub(crate) fn decide(
    target: Target,
    verdict: Verdict,
    rules: &Rules<'_>,
    failures: u64,
    now: Epoch,
) -> (Finish, WorkOutcome) {
    let keep = rules.keep_exit_status_for;
    let finish = |failure, action| Finish {
        jobid: target.jobid,
        funcid: target.funcid,
        token: target.token,
        failure,
        action,
    };
    match verdict {
        Verdict::Complete => (
            finish(
                None,
                FinishAction::Remove {
                    exit_status: exit_status(keep, now, 0),
                },
            ),
            WorkOutcome::Completed,
        ),
        Verdict::Replace(jobs) => {
            let outcome = if jobs.is_empty() {
                WorkOutcome::Completed
            } else {
                WorkOutcome::Replaced
            };
            let action = FinishAction::Replace {
                jobs,
                exit_status: exit_status(keep, now, 0),
            };
            (finish(None, action), outcome)
        }
        Verdict::DeclineUntil(t) => (
            finish(None, FinishAction::Reschedule { run_after: Some(t) }),
            WorkOutcome::Declined,
        ),
        Verdict::Release => (
            finish(None, FinishAction::Reschedule { run_after: None }),
            WorkOutcome::Declined,
        ),
        Verdict::Fail {
            message,
            exit_status: status,
            permanent,
        } => {
            let retry = if permanent {
                None
            } else {
                let failures = failures.saturating_add(1);
                let max = (rules.max_retries)();
                log::debug!(
                    "job failed.  considering retry.  is max_retries of {max} >= failures of {failures}?"
                );
                (u64::from(max) >= failures).then_some(failures)
            };
            let action = match retry {
                Some(failures) => {
                    let delay = (rules.retry_delay)(u32::try_from(failures).unwrap_or(u32::MAX));
                    FinishAction::Reschedule {
                        run_after: (delay > 0).then(|| now.saturating_add(delay)),
                    }
                }
                None => {
                    let status = match status {
                        Some(s) if s != 0 => s,
                        _ => 1,
                    };
                    FinishAction::Remove {
                        exit_status: exit_status(keep, now, status),
                    }
                }
            };
            log::debug!(
                "job failed: {}",
                if message.is_empty() {
                    "<no message>"
                } else {
                    &message
                }
            );
            let failure = FailureRecord {
                error_time: now,
                jobid: target.jobid,
                message,
                funcid: target.funcid,
            };
            let outcome = WorkOutcome::Failed {
                will_retry: retry.is_some(),
            };
            (finish(Some(failure), action), outcome)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::store::FinishAction::{Remove, Replace, Reschedule};

    const T: Target = Target {
        jobid: JobId(7),
        funcid: FuncId(3),
        token: 500,
    };

    fn rules<'a>(keep: i64, max: &'a dyn Fn() -> u32, delay: &'a dyn Fn(u32) -> i64) -> Rules<'a> {
        Rules {
            keep_exit_status_for: keep,
            max_retries: max,
            retry_delay: delay,
        }
    }

    fn fail(permanent: bool, status: Option<i32>) -> Verdict {
        Verdict::Fail {
            message: String::from("boom"),
            exit_status: status,
            permanent,
        }
    }

    #[test]
    fn completion_keeps_an_exit_status_only_when_asked() {
        let (f, o) = decide(T, Verdict::Complete, &rules(0, &|| 0, &|_| 0), 0, 0);
        assert_eq!(o, WorkOutcome::Completed);
        assert_eq!((f.jobid, f.funcid, f.token), (JobId(7), FuncId(3), 500));
        assert_eq!(f.failure, None);
        assert_eq!(f.action, Remove { exit_status: None });
        let (f, _) = decide(T, Verdict::Complete, &rules(60, &|| 0, &|_| 0), 0, 100);
        assert_eq!(
            f.action,
            Remove {
                exit_status: Some(ExitStatusWrite {
                    status: 0,
                    completion_time: 100,
                    delete_after: 160
                })
            }
        );
        assert!(!Verdict::Complete.needs_clock(0));
        assert!(Verdict::Complete.needs_clock(1));
        assert!(!Verdict::Complete.needs_failures());
    }

    #[test]
    fn failure_with_retries_left_reschedules() {
        let delays = Cell::new(0);
        let delay = |n: u32| {
            delays.set(delays.get() + 1);
            i64::from(n) * 10
        };
        // Two failures on record, max 3: the third failure is retried after 30 s.
        let (f, o) = decide(T, fail(false, None), &rules(60, &|| 3, &delay), 2, 1000);
        assert_eq!(o, WorkOutcome::Failed { will_retry: true });
        assert_eq!(
            f.action,
            Reschedule {
                run_after: Some(1030)
            }
        );
        let failure = f.failure.expect("a failure row");
        assert_eq!(failure.message, "boom");
        assert_eq!(failure.error_time, 1000);
        assert_eq!((failure.jobid, failure.funcid), (JobId(7), FuncId(3)));
        assert_eq!(delays.get(), 1);
        // No delay: eligible at once (run_after unchanged).
        let (f, _) = decide(T, fail(false, None), &rules(0, &|| 1, &|_| 0), 0, 1000);
        assert_eq!(f.action, Reschedule { run_after: None });
        assert!(fail(false, None).needs_failures());
        assert!(fail(false, None).needs_clock(0));
    }

    #[test]
    fn failure_without_retries_removes_with_status() {
        let no_delay = |_: u32| -> i64 { panic!("retry_delay must not be asked") };
        // max 2, two failures on record: this third one is final.
        let (f, o) = decide(T, fail(false, None), &rules(60, &|| 2, &no_delay), 2, 50);
        assert_eq!(o, WorkOutcome::Failed { will_retry: false });
        assert_eq!(
            f.action,
            Remove {
                exit_status: Some(ExitStatusWrite {
                    status: 1,
                    completion_time: 50,
                    delete_after: 110
                })
            }
        );
        let (f, _) = decide(T, fail(false, Some(9)), &rules(60, &|| 0, &no_delay), 0, 50);
        assert!(matches!(
            f.action,
            Remove {
                exit_status: Some(ExitStatusWrite { status: 9, .. })
            }
        ));
        // Exit status 0 counts as 1; none kept without keep_exit_status_for.
        let (f, _) = decide(T, fail(false, Some(0)), &rules(60, &|| 0, &no_delay), 0, 50);
        assert!(matches!(
            f.action,
            Remove {
                exit_status: Some(ExitStatusWrite { status: 1, .. })
            }
        ));
        let (f, _) = decide(T, fail(false, None), &rules(0, &|| 0, &no_delay), 0, 50);
        assert_eq!(f.action, Remove { exit_status: None });
    }

    #[test]
    fn permanent_failure_ignores_max_retries() {
        let max = || -> u32 { panic!("max_retries must not be asked") };
        let (f, o) = decide(T, fail(true, None), &rules(0, &max, &|_| 0), 0, 5);
        assert_eq!(o, WorkOutcome::Failed { will_retry: false });
        assert_eq!(f.action, Remove { exit_status: None });
        assert!(f.failure.is_some());
        assert!(!fail(true, None).needs_failures());
    }

    #[test]
    fn declines_releases_and_replacements() {
        let r = rules(0, &|| 0, &|_| 0);
        let (f, o) = decide(T, Verdict::DeclineUntil(900), &r, 0, 0);
        assert_eq!(o, WorkOutcome::Declined);
        assert_eq!(
            f.action,
            Reschedule {
                run_after: Some(900)
            }
        );
        let (f, o) = decide(T, Verdict::Release, &r, 0, 0);
        assert_eq!(o, WorkOutcome::Declined);
        assert_eq!(f.action, Reschedule { run_after: None });
        assert!(!Verdict::Release.needs_clock(60));
        let (f, o) = decide(T, Verdict::Replace(Vec::new()), &r, 0, 0);
        assert_eq!(o, WorkOutcome::Completed);
        assert_eq!(
            f.action,
            Replace {
                jobs: Vec::new(),
                exit_status: None
            }
        );
        let row = NewJobRow {
            jobid: None,
            funcid: FuncId(3),
            arg: None,
            uniqkey: None,
            insert_time: 1,
            run_after: 1,
            grabbed_until: 0,
            priority: None,
            coalesce: None,
        };
        let (_, o) = decide(T, Verdict::Replace(vec![row]), &r, 0, 0);
        assert_eq!(o, WorkOutcome::Replaced);
    }
}
