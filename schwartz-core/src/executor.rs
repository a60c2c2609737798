//! The job executor: runs a job's worker under the panic guard, turns what it returned
//! into an outcome value and hands that to an [`OutcomeWriter`]. It never writes itself.
//!
//! `Ok(())` without an explicit outcome completes the job; `Err(e)` fails it with `e`'s
//! text and sources (`": "`-separated), for good when `e` is an argument that does not
//! decode ([`Error::ArgDecode`]); a panic fails it with `panic: <message>`; a function
//! without a worker fails with [`Error::NoWorker`]'s text. Failures go to the thread's
//! current job at the end of `work` ([`QueuedJob::set_as_current`]).
//!
//! Each job runs inside a `tracing` span named `schwartz.job` (fields `funcname`, `jobid`,
//! `store`: the database's handle hash, never its URL; `attempt`: the failure count
//! including this one, recorded when the job fails, since reading it for every job would
//! cost a query; `outcome`); a panic also counts `schwartz_jobs_panicked_total{funcname}`
//! through the `metrics` facade.

use crate::error::{Error, Result};
use crate::ids::Epoch;
use crate::outcome::{OutcomeWriter, Verdict, WorkOutcome};
use crate::queued::{current_job, swap_current, QueuedJob};
use crate::scoreboard::Scoreboard;
use crate::worker::WorkError;

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

/// The `metrics` counter of jobs whose worker panicked (label `funcname`).
pub const PANICKED_METRIC: &str = "schwartz_jobs_panicked_total";

/// What a worker's result means for its job.
fn verdict_of(result: std::result::Result<std::result::Result<(), WorkError>, String>) -> Verdict {
    let (message, permanent) = match result {
        Ok(Ok(())) => return Verdict::Complete,
        Err(panic) => (format!("panic: {panic}"), false),
        Ok(Err(e)) => {
            let permanent = matches!(e.downcast_ref::<Error>(), Some(Error::ArgDecode { .. }));
            if permanent {
                log::debug!("the argument does not decode: failing the job for good");
            }
            (error_chain(&*e), permanent)
        }
    };
    Verdict::Fail {
        message,
        exit_status: None,
        permanent,
    }
}

/// Writes the start of a job to the scoreboard; returns the `started` time written (the
/// grab time by the store's clock: lease end minus lease length).
fn scoreboard_start(board: &Scoreboard, job: &QueuedJob) -> Epoch {
    let token = job.token();
    let started = if token > 0 {
        token.saturating_sub(job.grab_for_secs())
    } else {
        job.ctx().wall_secs()
    };
    if let Err(e) = board.start(job.funcname(), started, job.raw_arg()) {
        log::warn!("cannot write the scoreboard: {e}");
    }
    started
}

/// Writes the end of a job: the local clock (shifted), never before `started`.
fn scoreboard_end(board: &Scoreboard, job: &QueuedJob, started: Epoch) {
    if let Err(e) = board.end(job.ctx().wall_secs().max(started)) {
        log::warn!("cannot write the scoreboard: {e}");
    }
}

/// Runs the job's worker, catching errors and panics, and hands the outcome to `writer`
/// (see the [module docs](self)). With a scoreboard, the job's start and end are written
/// to it. A lost lease is logged and reported as [`WorkOutcome::LeaseLost`], a
/// cancelled job as [`WorkOutcome::Cancelled`]. Returns what
/// the job came to: for an outcome the writer keeps for later, what it will be once
/// written.
///
/// # Errors
/// The writer's error when the outcome cannot be written (or the store's error when the
/// failure count or the clock cannot be read to decide it).
pub fn execute(
    job: QueuedJob,
    writer: &dyn OutcomeWriter,
    scoreboard: Option<&Scoreboard>,
) -> Result<WorkOutcome> {
    log::debug!("Working on {} ...", job.funcname());
    let span = tracing::info_span!(
        "schwartz.job",
        funcname = job.funcname(),
        jobid = job.jobid().0,
        store = job.handle().store().as_str(),
        attempt = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let _entered = span.enter();
    let previous = swap_current(Some(job.clone()));
    let started = scoreboard.map(|b| scoreboard_start(b, &job));
    let result = match job.worker() {
        Some(w) => crate::panic::catch(|| w.work(&job)),
        None => Ok(Err(
            Box::new(Error::NoWorker(job.funcname().to_string())) as WorkError
        )),
    };
    if result.is_err() {
        metrics::counter!(PANICKED_METRIC, "funcname" => job.funcname().to_owned()).increment(1);
    }
    let cjob = current_job().unwrap_or_else(|| job.clone());
    let verdict = verdict_of(result);
    if let Verdict::Fail { message, .. } = &verdict {
        log::debug!("Eval failure: {message}");
    }
    // A job whose lease was found lost while working gets no further writes.
    let settled = cjob.did_something()
        || matches!(
            cjob.last_outcome(),
            Some(WorkOutcome::LeaseLost | WorkOutcome::Cancelled)
        );
    let skip = settled || (verdict == Verdict::Complete && cjob.was_declined());
    let mut handed = None;
    let write = if skip {
        Ok(())
    } else {
        cjob.decide(verdict).and_then(|outcome| {
            if std::sync::Arc::ptr_eq(&outcome.job.inner, &job.inner) {
                handed = Some(outcome.kind);
            }
            writer.write(outcome)
        })
    };
    let write = match write {
        Err(e @ Error::LeaseLost { .. }) => {
            log::warn!("{e}");
            cjob.set_last_outcome(WorkOutcome::LeaseLost);
            Ok(())
        }
        Err(e @ Error::Cancelled { .. }) => {
            log::info!("{e}");
            cjob.set_last_outcome(WorkOutcome::Cancelled);
            Ok(())
        }
        Err(Error::AlreadyFinished { .. }) => Ok(()),
        other => other,
    };
    if let (Some(board), Some(started)) = (scoreboard, started) {
        scoreboard_end(board, &job, started);
    }
    drop(swap_current(previous));
    if let Err(e) = &write {
        span.record("outcome", "error");
        tracing::warn!(error = %e, "the job's outcome could not be written");
    }
    write?;
    let outcome = job
        .last_outcome()
        .or(handed)
        .or(job.was_declined().then_some(WorkOutcome::Declined))
        .or_else(|| cjob.last_outcome())
        .unwrap_or(WorkOutcome::Declined);
    span.record("outcome", outcome.label());
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn chain_text() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(error_chain(&e), "outer: inner");
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict_of(Ok(Ok(()))), Verdict::Complete);
        assert_eq!(
            verdict_of(Err(String::from("boom"))),
            Verdict::Fail {
                message: String::from("panic: boom"),
                exit_status: None,
                permanent: false
            }
        );
        let Verdict::Fail {
            message, permanent, ..
        } = verdict_of(Ok(Err("plain".into())))
        else {
            panic!("a failure")
        };
        assert_eq!((message.as_str(), permanent), ("plain", false));
        let decode = Error::ArgDecode {
            jobid: crate::JobId(4),
            expected: "u32",
            message: String::from("bad bytes"),
        };
        let Verdict::Fail {
            message, permanent, ..
        } = verdict_of(Ok(Err(Box::new(decode))))
        else {
            panic!("a failure")
        };
        assert!(permanent);
        assert_eq!(
            message,
            "cannot decode the argument of job 4 as u32: bad bytes"
        );
    }
}
