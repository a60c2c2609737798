//! Periodic jobs: a [`Schedule`] names a cron expression (seconds optional, parsed by
//! `croner`), its time zone (`chrono-tz`, UTC by default), the job each tick inserts and
//! what to do with ticks missed while no pool ran ([`Missed`]). Pools register schedules
//! and insert their due ticks ([`Client::run_schedule`](crate::Client::run_schedule)); the
//! store records the last tick per schedule, so each tick is inserted once.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};
use crate::ids::{epoch_to_datetime, Epoch};
use crate::job::Job;

/// The prefix of a stored spec naming a time zone other than UTC.
const TZ_PREFIX: &str = "CRON_TZ=";

/// How many ticks one call looks at, at most (a per-second schedule's backlog after a
/// long pause is bounded by the grace period; this bounds anything else).
pub(crate) const MAX_TICKS_PER_RUN: usize = 1_000;

/// What happens to ticks missed while no pool ran (ticks older than the grace period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missed {
    /// Missed ticks are recorded as done without a job.
    #[default]
    Skip,
    /// The last missed tick is inserted (once); earlier missed ticks are skipped.
    RunLast,
}

/// A cron expression with its time zone: parsing and the next times it matches.
#[derive(Clone)]
pub struct CronSpec {
    cron: croner::Cron,
    tz: Tz,
    expr: String,
}

impl fmt::Debug for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec())
    }
}

impl CronSpec {
    /// Parses a cron expression (5 fields, or 6 with seconds first; `@hourly` and the like)
    /// in UTC.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the expression and what is wrong with it.
    pub fn parse(expr: &str) -> Result<CronSpec> {
        let expr = expr.trim();
        let cron = croner::Cron::new(expr)
            .with_seconds_optional()
            .parse()
            .map_err(|e| Error::InvalidInput(format!("cron expression {expr:?}: {e}")))?;
        Ok(CronSpec {
            cron,
            tz: Tz::UTC,
            expr: expr.to_string(),
        })
    }

    /// The same expression in the named IANA time zone (e.g. `"Europe/Paris"`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown zone.
    pub fn in_time_zone(mut self, zone: &str) -> Result<CronSpec> {
        self.tz = zone
            .parse::<Tz>()
            .map_err(|e| Error::InvalidInput(format!("time zone {zone:?}: {e}")))?;
        Ok(self)
    }

    /// Parses a stored spec ([`CronSpec::spec`]): an expression, optionally preceded by
    /// `CRON_TZ=<zone> `.
    ///
    /// # Errors
    /// As [`CronSpec::parse`] and [`CronSpec::in_time_zone`].
    pub fn from_spec(spec: &str) -> Result<CronSpec> {
        match spec.trim().strip_prefix(TZ_PREFIX) {
            Some(rest) => {
                let (zone, expr) = rest.split_once(' ').ok_or_else(|| {
                    Error::InvalidInput(format!("schedule spec {spec:?}: no expression"))
                })?;
                CronSpec::parse(expr)?.in_time_zone(zone)
            }
            None => CronSpec::parse(spec),
        }
    }

    /// The expression with its time zone, as stored: `"0 9 * * *"` in UTC,
    /// `"CRON_TZ=Europe/Paris 0 9 * * *"` elsewhere.
    pub fn spec(&self) -> String {
        if self.tz == Tz::UTC {
            self.expr.clone()
        } else {
            format!("{TZ_PREFIX}{} {}", self.tz.name(), self.expr)
        }
    }

    /// The first time after `t` (epoch seconds) it matches, or `None` when it never does
    /// again.
    pub fn next_after(&self, t: Epoch) -> Option<Epoch> {
        let start = self.tz.from_utc_datetime(&epoch_to_datetime(t).naive_utc());
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|d| d.timestamp())
    }

    /// The next `n` times after `after`.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = after.timestamp();
        while out.len() < n {
            match self.next_after(t) {
                Some(next) if next > t => {
                    out.push(epoch_to_datetime(next));
                    t = next;
                }
                _ => break,
            }
        }
        out
    }

    /// The ticks in `(after, until]`, at most `max`, in order.
    pub(crate) fn ticks_between(&self, after: Epoch, until: Epoch, max: usize) -> Vec<Epoch> {
        let mut out = Vec::new();
        let mut t = after;
        while out.len() < max {
            match self.next_after(t) {
                Some(next) if next > t && next <= until => {
                    out.push(next);
                    t = next;
                }
                _ => break,
            }
        }
        out
    }

    /// The last tick in `(floor, until]`, searching back in growing windows.
    pub(crate) fn last_tick_in(&self, floor: Epoch, until: Epoch) -> Option<Epoch> {
        let mut window: i64 = 60;
        loop {
            let from = until.saturating_sub(window).max(floor);
            let ticks = self.ticks_between(from, until, usize::MAX);
            if let Some(last) = ticks.last() {
                return Some(*last);
            }
            if from <= floor {
                return None;
            }
            window = window.saturating_mul(4);
        }
    }
}

/// A periodic job: a unique name, a [`CronSpec`], the job each tick inserts (its
/// `run_after` becomes the tick's time), what to do with missed ticks, and the grace period
/// after which a tick counts as missed (60 s by default).
///
/// ```
/// use schwartz_core::{Job, Missed, Schedule};
///
/// let nightly = Schedule::new("nightly-report", "0 30 2 * * *", Job::new("report"))?
///     .time_zone("Europe/Paris")?
///     .missed(Missed::RunLast);
/// assert_eq!(nightly.spec(), "CRON_TZ=Europe/Paris 0 30 2 * * *");
/// # Ok::<(), schwartz_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    name: String,
    cron: CronSpec,
    job: Job,
    missed: Missed,
    grace: Duration,
}

impl Schedule {
    /// A schedule named `name` (1 to 255 characters, unique per database) running `job`
    /// on the ticks of the cron expression `expr` (UTC).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad name, expression or job.
    pub fn new(name: impl Into<String>, expr: &str, job: Job) -> Result<Schedule> {
        let name = name.into();
        crate::job::check_name("schedule name", &name)?;
        job.validate()?;
        Ok(Schedule {
            name,
            cron: CronSpec::parse(expr)?,
            job,
            missed: Missed::default(),
            grace: Duration::from_secs(60),
        })
    }

    /// Reads the expression in this IANA time zone.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown zone.
    pub fn time_zone(mut self, zone: &str) -> Result<Schedule> {
        self.cron = self.cron.in_time_zone(zone)?;
        Ok(self)
    }

    /// What to do with ticks missed while no pool ran.
    pub fn missed(mut self, policy: Missed) -> Schedule {
        self.missed = policy;
        self
    }

    /// How late a tick may be inserted before it counts as missed (rounded up to seconds).
    pub fn grace(mut self, grace: Duration) -> Schedule {
        self.grace = grace;
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The spec as stored (see [`CronSpec::spec`]).
    pub fn spec(&self) -> String {
        self.cron.spec()
    }

    /// The cron expression and time zone.
    pub fn cron(&self) -> &CronSpec {
        &self.cron
    }

    /// The job each tick inserts.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The missed-ticks policy.
    pub fn missed_policy(&self) -> Missed {
        self.missed
    }

    /// The grace period.
    pub fn grace_period(&self) -> Duration {
        self.grace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_steps() {
        let c = CronSpec::parse("*/10 * * * * *").unwrap();
        assert_eq!(c.next_after(1_000), Some(1_010));
        assert_eq!(c.ticks_between(1_000, 1_035, 10), vec![1_010, 1_020, 1_030]);
        assert_eq!(c.last_tick_in(0, 100_005), Some(100_000));
        assert_eq!(c.last_tick_in(100_001, 100_005), None);
        let five = CronSpec::parse("0 * * * *").unwrap();
        assert_eq!(five.next_after(0), Some(3_600));
    }

    #[test]
    fn time_zones_round_trip() {
        let c = CronSpec::parse("0 0 9 * * *")
            .unwrap()
            .in_time_zone("Asia/Tokyo")
            .unwrap();
        // 09:00 in Tokyo is 00:00 UTC.
        assert_eq!(c.next_after(0), Some(86_400));
        let back = CronSpec::from_spec(&c.spec()).unwrap();
        assert_eq!(back.spec(), "CRON_TZ=Asia/Tokyo 0 0 9 * * *");
    }

    proptest::proptest! {
        /// Any text parses to a spec or an error, never a panic; a spec that parses
        /// round-trips through its stored form.
        #[test]
        fn from_spec_never_panics(text in "(CRON_TZ=[A-Za-z/_]{0,20} )?[0-9*/,\\- ]{0,40}") {
            if let Ok(c) = CronSpec::from_spec(&text) {
                let back = CronSpec::from_spec(&c.spec()).expect("a stored spec parses");
                proptest::prop_assert_eq!(back.spec(), c.spec());
                proptest::prop_assert_eq!(back.next_after(1_000_000), c.next_after(1_000_000));
            }
        }
    }

    #[test]
    fn never_matching_expression_ends() {
        let t = std::time::Instant::now();
        let c = CronSpec::parse("0 0 30 2 *").unwrap();
        assert_eq!(c.next_after(0), None);
        assert!(c.next_runs(epoch_to_datetime(0), 3).is_empty());
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let e = CronSpec::parse("61 * * * *").unwrap_err().to_string();
        assert!(e.contains("cron expression \"61 * * * *\""), "{e}");
        let e = CronSpec::parse("* * * * *")
            .unwrap()
            .in_time_zone("Mars/Olympus")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Mars/Olympus"), "{e}");
        assert!(Schedule::new("", "* * * * *", Job::new("f")).is_err());
    }
}
