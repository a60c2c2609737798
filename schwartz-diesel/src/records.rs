//! `Store::record`: a job's side rows (an `error` row, an exit status) written without
//! changing its `job` row, fenced on the lease, in one write transaction.
//!
//! The fence is a no-op `UPDATE job SET grabbed_until = token WHERE jobid = ? AND
//! grabbed_until = token`: it locks the row when it matches, so no grab can move the lease
//! until the transaction ends. MySQL counts changed rows, not matched ones, so a zero count
//! is checked by reading the row (after the update, inside the transaction).

use schwartz_core::store::JobRecords;

use crate::conn::{clamp_time, Ctx, OpError};
use crate::models::{InsertError, InsertExit};
use crate::sql::Sql;

/// Exit status into the SMALLINT column (clamped).
fn status_col(s: i32) -> i16 {
    s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// `Store::record`.
pub(crate) fn record<C: Sql>(c: &mut C, ctx: &Ctx, r: &JobRecords) -> Result<bool, OpError> {
    if r.failure.is_some() && ctx.message_cap.get().is_none() {
        let cap = c.message_capacity()?;
        let _ = ctx.message_cap.set(cap);
    }
    let max_epoch = crate::ops::max_epoch(c, ctx)?;
    let id = r.jobid.0;
    c.write_txn(|c| {
        let matched = c.set_lease(id, r.token, r.token)? > 0
            || c.job_row(id)?
                .is_some_and(|row| row.grabbed_until.0 == r.token);
        if !matched {
            return Ok(false);
        }
        if let Some(f) = &r.failure {
            let message = ctx.sanitize_message(&f.message);
            c.insert_errors(&[InsertError {
                error_time: clamp_time(f.error_time, max_epoch),
                jobid: id,
                message: &message,
                funcid: f.funcid.0,
            }])?;
        }
        if let Some(e) = &r.exit_status {
            // Upsert as delete + insert; the lock on the job row keeps it single-writer.
            c.delete_exits(&[id])?;
            c.insert_exits(&[InsertExit {
                jobid: id,
                funcid: r.funcid.0,
                status: Some(status_col(e.status)),
                completion_time: Some(clamp_time(e.completion_time, max_epoch)),
                delete_after: Some(clamp_time(e.delete_after, max_epoch)),
            }])?;
        }
        Ok(true)
    })
}
