//! Input validation, once and the same for every backend, before any SQL.
//!
//! A value a backend cannot store is refused here with [`Error::InvalidInput`] naming the
//! field, instead of reaching the database as a data error (which some drivers report as a
//! broken connection). The store-specific bounds come from [`Store::limits`].
//!
//! [`Store::limits`]: crate::store::Store::limits

use crate::error::{Error, Result};
use crate::ids::{datetime_to_epoch, Epoch};
use crate::job::{Job, MAX_NAME_LEN};
use crate::store::{CoalesceFilter, Limits};

/// How many characters of a refused value a message repeats.
const SHOWN_CHARS: usize = 40;

/// The start of `value` for a message (escaped by `{:?}` where it is used).
fn start_of(value: &str) -> String {
    let shown: String = value.chars().take(SHOWN_CHARS).collect();
    if shown.len() < value.len() {
        format!("{shown}...")
    } else {
        shown
    }
}

/// Checks a text column value (funcname, uniqkey, coalesce): at most 255 bytes, no NUL
/// (PostgreSQL cannot store one, and the other backends would compare it differently), and
/// not empty unless `allow_empty`.
///
/// # Errors
/// [`Error::InvalidInput`] naming `field` and what is wrong.
pub fn text(field: &str, value: &str, allow_empty: bool) -> Result<()> {
    if value.is_empty() && !allow_empty {
        return Err(Error::InvalidInput(format!("{field} must not be empty")));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(Error::InvalidInput(format!(
            "{field} {:?} is {} bytes long; at most {MAX_NAME_LEN} allowed",
            start_of(value),
            value.len()
        )));
    }
    if let Some(at) = value.find('\0') {
        return Err(Error::InvalidInput(format!(
            "{field} {:?} contains a NUL character (byte {at}); no backend stores it the same way",
            start_of(value)
        )));
    }
    Ok(())
}

/// Checks a coalesce filter of a find or a list: its value is a coalesce column value.
///
/// # Errors
/// [`Error::InvalidInput`] as [`text`].
pub fn coalesce_filter(filter: Option<&CoalesceFilter>) -> Result<()> {
    match filter {
        Some(CoalesceFilter::Equals(v)) => text("coalesce value", v, true),
        Some(CoalesceFilter::Prefix(p)) => text("coalesce prefix", p, true),
        None => Ok(()),
    }
}

/// Checks a time column value against `max_epoch`: 1970 or later, and not past what the
/// column holds.
fn time(funcname: &str, field: &str, t: Epoch, max_epoch: Epoch) -> Result<()> {
    if t < 0 {
        return Err(Error::InvalidInput(format!(
            "{field} {t} of job {:?} is before 1970-01-01 (the time columns hold Unix seconds from 0)",
            start_of(funcname)
        )));
    }
    if t > max_epoch {
        return Err(Error::InvalidInput(format!(
            "{field} {t} ({}) of job {:?} is past the latest time this store holds, {max_epoch} ({})",
            crate::ids::epoch_to_datetime(t).format("%Y-%m-%d %H:%M:%S UTC"),
            start_of(funcname),
            crate::ids::epoch_to_datetime(max_epoch).format("%Y-%m-%d %H:%M:%S UTC"),
        )));
    }
    Ok(())
}

/// Checks what does not depend on the store: names, text columns, the explicit job id's
/// sign and the times' lower bound.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field.
pub fn job_shape(job: &Job) -> Result<()> {
    job_against(job, &Limits::new(usize::MAX, Epoch::MAX, i64::MAX))
}

/// Checks a job against a store's limits: [`job_shape`], the argument's size, the times and
/// the explicit job id.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field, the value and the limit.
pub fn job_against(job: &Job, limits: &Limits) -> Result<()> {
    let funcname = job.funcname();
    text("funcname", funcname, false)?;
    if let Some(k) = job.uniqkey_value() {
        text("uniqkey", k, false)?;
    }
    if let Some(c) = job.coalesce_value() {
        text("coalesce", c, true)?;
    }
    if let Some(arg) = job.raw_arg_bytes() {
        if arg.len() > limits.max_arg_bytes {
            return Err(Error::InvalidInput(format!(
                "the argument of job {:?} is {} bytes; this store holds at most {} bytes",
                start_of(funcname),
                arg.len(),
                limits.max_arg_bytes
            )));
        }
    }
    if let Some(id) = job.jobid_value() {
        if id.0 < 1 || id.0 > limits.max_job_id {
            return Err(Error::InvalidInput(format!(
                "explicit job id {id} of job {:?} is out of range (1 to {})",
                start_of(funcname),
                limits.max_job_id
            )));
        }
    }
    if let Some(t) = job.run_after_value() {
        time(
            funcname,
            "run_after",
            datetime_to_epoch(t),
            limits.max_epoch,
        )?;
    }
    if let Some(t) = job.grabbed_until_value() {
        time(
            funcname,
            "grabbed_until",
            datetime_to_epoch(t),
            limits.max_epoch,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::JobId;
    use chrono::{DateTime, Utc};

    fn invalid(r: Result<()>) -> String {
        match r {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn nul_is_refused_naming_the_field() {
        let m = invalid(job_shape(&Job::new("a\0b")));
        assert!(m.starts_with("funcname") && m.contains("NUL"), "{m}");
        let m = invalid(job_shape(&Job::new("f").uniqkey("k\0")));
        assert!(m.starts_with("uniqkey") && m.contains("NUL"), "{m}");
        let m = invalid(job_shape(&Job::new("f").coalesce("\0")));
        assert!(m.starts_with("coalesce") && m.contains("NUL"), "{m}");
        let m = invalid(coalesce_filter(Some(&CoalesceFilter::Prefix("a\0".into()))));
        assert!(m.contains("coalesce prefix"), "{m}");
        assert!(coalesce_filter(Some(&CoalesceFilter::Equals(String::new()))).is_ok());
    }

    #[test]
    fn limits_of_the_store_apply() {
        let limits = Limits::new(10, 2_000_000_000, 1000);
        assert!(job_against(&Job::new("f").raw_arg(vec![0; 10]), &limits).is_ok());
        let m = invalid(job_against(&Job::new("f").raw_arg(vec![0; 11]), &limits));
        assert!(m.contains("11 bytes") && m.contains("at most 10"), "{m}");
        let m = invalid(job_against(&Job::new("f").jobid(JobId(1001)), &limits));
        assert!(m.contains("1001"), "{m}");
        let m = invalid(job_shape(&Job::new("f").jobid(JobId(0))));
        assert!(m.contains("out of range"), "{m}");
        let late = DateTime::<Utc>::from_timestamp(2_000_000_001, 0).unwrap();
        let m = invalid(job_against(&Job::new("f").run_after(late), &limits));
        assert!(m.contains("run_after") && m.contains("2033-05-18"), "{m}");
        let early = DateTime::<Utc>::from_timestamp(-1, 0).unwrap();
        let m = invalid(job_shape(&Job::new("f").grabbed_until(early)));
        assert!(m.contains("grabbed_until") && m.contains("1970"), "{m}");
        // Past 2038 on a store with 64-bit time columns.
        let far = DateTime::<Utc>::from_timestamp(4_000_000_000, 0).unwrap();
        assert!(job_shape(&Job::new("f").run_after(far)).is_ok());
        assert!(job_against(&Job::new("f").run_after(far), &Limits::PORTABLE).is_err());
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let m = invalid(job_shape(&Job::new("f").uniqkey("\0".repeat(10_000))));
        assert!(m.len() < 400, "{m}");
    }
}
