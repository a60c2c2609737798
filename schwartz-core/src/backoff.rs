//! [`Backoff`]: an exponential retry delay with a cap and optional jitter, as a plain value
//! any retry policy can hold (a [`Worker`](crate::Worker)'s
//! [`retry_delay`](crate::Worker::retry_delay), or a typed job's policy).

use std::time::Duration;

use rand::Rng;

use crate::error::{Error, Result};

/// Parts per million of the jitter fraction (1.0 = `JITTER_SCALE`).
const JITTER_SCALE: u32 = 1_000_000;

/// An exponential back-off: the delay after the `n`-th failure is
/// `base * factor^(n - 1)`, never more than `cap`; with jitter, a random part of it (at
/// most the jitter fraction) is taken off, so a jittered delay stays within
/// `[delay * (1 - jitter), delay]` and never exceeds the cap.
///
/// Computing a delay never overflows and never panics, whatever the failure count
/// (`u32::MAX` gives the cap), the base or the cap (`Duration::MAX` included). A failure
/// count of 0 counts as 1 (TheSchwartz passes the failure count including the current
/// failure, so the first retry sees 1).
///
/// ```
/// use std::time::Duration;
/// use schwartz_core::{Backoff, QueuedJob, WorkError, Worker};
///
/// // Garivini's policy: 2 minutes, doubling, at most a day.
/// let garivini = Backoff::garivini();
/// assert_eq!(garivini.max_delay(1), Duration::from_secs(120));
/// assert_eq!(garivini.max_delay(2), Duration::from_secs(240));
/// assert_eq!(garivini.max_delay(11), Duration::from_secs(86_400));
/// assert_eq!(garivini.max_delay(u32::MAX), Duration::from_secs(86_400));
///
/// // Any policy can hold one: here a worker's retry_delay.
/// struct Fetch {
///     backoff: Backoff,
/// }
/// impl Worker for Fetch {
///     fn work(&self, _job: &QueuedJob) -> Result<(), WorkError> {
///         Err("upstream down".into())
///     }
///     fn max_retries(&self, _job: &QueuedJob) -> u32 {
///         10
///     }
///     fn retry_delay(&self, failures: u32) -> Duration {
///         self.backoff.delay(failures)
///     }
/// }
/// let worker = Fetch {
///     backoff: Backoff::exponential(Duration::from_secs(5), Duration::from_secs(600))
///         .with_jitter(0.25)?,
/// };
/// let d = worker.retry_delay(3); // 20 s, less up to a quarter of it
/// assert!(d >= Duration::from_secs(15) && d <= Duration::from_secs(20));
/// # Ok::<(), schwartz_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    factor: u32,
    /// The jitter fraction in parts per million (0 = none).
    jitter_ppm: u32,
}

impl Backoff {
    /// Garivini's `failed_job` policy: 2 minutes after the first failure, doubling, at most
    /// one day (120 s, 240 s, 480 s, ... 61 440 s, then 86 400 s from the 11th failure on).
    pub const GARIVINI: Backoff =
        Backoff::exponential(Duration::from_secs(120), Duration::from_secs(86_400));

    /// Doubling from `base` after the first failure, at most `cap`, no jitter. A base above
    /// the cap gives the cap every time; a zero base gives no delay.
    pub const fn exponential(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            factor: 2,
            jitter_ppm: 0,
        }
    }

    /// The same delay after every failure (a factor of 1).
    pub const fn constant(delay: Duration) -> Backoff {
        Backoff {
            base: delay,
            cap: delay,
            factor: 1,
            jitter_ppm: 0,
        }
    }

    /// [`Backoff::GARIVINI`].
    pub const fn garivini() -> Backoff {
        Backoff::GARIVINI
    }

    /// The growth factor between two failures (default 2; 1 keeps the base).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for 0.
    pub fn with_factor(self, factor: u32) -> Result<Backoff> {
        if factor == 0 {
            return Err(Error::InvalidInput(String::from(
                "backoff factor must be at least 1 (got 0)",
            )));
        }
        Ok(Backoff { factor, ..self })
    }

    /// Takes a random part of each delay off, at most `fraction` of it (0.0 to 1.0): with
    /// 0.25 a 100 s delay becomes 75 s to 100 s. 1.0 is "full jitter" (0 to the delay).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a fraction outside 0.0..=1.0 or NaN.
    pub fn with_jitter(self, fraction: f64) -> Result<Backoff> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(Error::InvalidInput(format!(
                "backoff jitter must be a fraction from 0.0 to 1.0 (got {fraction})"
            )));
        }
        // In range, so the product fits.
        let jitter_ppm = (fraction * f64::from(JITTER_SCALE)).round() as u32;
        Ok(Backoff { jitter_ppm, ..self })
    }

    /// The delay after the first failure.
    pub fn base(&self) -> Duration {
        self.base
    }
    /// The largest delay.
    pub fn cap(&self) -> Duration {
        self.cap
    }
    /// The growth factor.
    pub fn factor(&self) -> u32 {
        self.factor
    }
    /// The jitter fraction (0.0: none).
    pub fn jitter(&self) -> f64 {
        f64::from(self.jitter_ppm) / f64::from(JITTER_SCALE)
    }

    /// The delay after `failures` failures before jitter: `min(cap, base * factor^(n-1))`.
    pub fn max_delay(&self, failures: u32) -> Duration {
        let cap = self.cap.as_nanos();
        let base = self.base.as_nanos().min(cap);
        let exponent = failures.saturating_sub(1);
        let nanos = match u128::from(self.factor).checked_pow(exponent) {
            Some(mult) => base.checked_mul(mult).map_or(cap, |n| n.min(cap)),
            // factor >= 2 here; base 0 stays 0.
            None if base == 0 => 0,
            None => cap,
        };
        from_nanos(nanos)
    }

    /// The delay after `failures` failures, jittered with the thread's random generator.
    pub fn delay(&self, failures: u32) -> Duration {
        self.delay_with(failures, &mut rand::rng())
    }

    /// The delay after `failures` failures, jittered with `rng` (for reproducible delays).
    pub fn delay_with<R: Rng + ?Sized>(&self, failures: u32, rng: &mut R) -> Duration {
        let full = self.max_delay(failures);
        if self.jitter_ppm == 0 || full.is_zero() {
            return full;
        }
        let nanos = full.as_nanos();
        let fraction = self.jitter() * rng.random::<f64>();
        // A float cast saturates; the min keeps the result within [0, full].
        let off = ((nanos as f64) * fraction) as u128;
        from_nanos(nanos - off.min(nanos))
    }
}

impl Default for Backoff {
    /// [`Backoff::GARIVINI`].
    fn default() -> Self {
        Backoff::GARIVINI
    }
}

/// A duration of `nanos` (at most `Duration::MAX`'s, which every caller ensures).
fn from_nanos(nanos: u128) -> Duration {
    const NS: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NS).unwrap_or(u64::MAX);
    // Below 10^9, so it fits.
    Duration::new(secs, (nanos % NS) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn garivini_table() {
        let b = Backoff::garivini();
        let want = [
            120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440, 86400, 86400,
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(b.max_delay(i as u32 + 1), S(*w), "failure {}", i + 1);
            assert_eq!(b.delay(i as u32 + 1), S(*w), "no jitter");
        }
        assert_eq!(b.max_delay(0), S(120), "0 counts as 1");
        assert_eq!(b.max_delay(u32::MAX), S(86_400));
        assert_eq!(Backoff::default(), b);
    }

    #[test]
    fn extremes_never_overflow() {
        let huge = Backoff::exponential(Duration::MAX, Duration::MAX);
        assert_eq!(huge.max_delay(1), Duration::MAX);
        assert_eq!(huge.max_delay(u32::MAX), Duration::MAX);
        let to_max = Backoff::exponential(S(1), Duration::MAX);
        assert_eq!(to_max.max_delay(64), S(1 << 63));
        assert_eq!(to_max.max_delay(200), Duration::MAX);
        assert_eq!(to_max.max_delay(u32::MAX), Duration::MAX);
        let big_factor = Backoff::exponential(S(1), S(1000))
            .with_factor(u32::MAX)
            .unwrap();
        assert_eq!(big_factor.max_delay(2), S(1000));
        assert_eq!(big_factor.max_delay(u32::MAX), S(1000));
        let zero = Backoff::exponential(Duration::ZERO, S(10));
        assert_eq!(zero.max_delay(u32::MAX), Duration::ZERO);
        let above_cap = Backoff::exponential(S(50), S(10));
        assert_eq!(above_cap.max_delay(1), S(10));
        let constant = Backoff::constant(Duration::from_millis(1500));
        assert_eq!(constant.max_delay(u32::MAX), Duration::from_millis(1500));
        let jittered = Backoff::exponential(Duration::MAX, Duration::MAX)
            .with_jitter(1.0)
            .unwrap();
        assert!(jittered.delay(u32::MAX) <= Duration::MAX);
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let b = Backoff::exponential(S(100), S(1000))
            .with_jitter(0.25)
            .unwrap();
        assert_eq!(b.jitter(), 0.25);
        let mut rng = StdRng::seed_from_u64(7);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..1000 {
            let d = b.delay_with(1, &mut rng);
            assert!(d >= S(75) && d <= S(100), "{d:?}");
            distinct.insert(d);
            let capped = b.delay_with(u32::MAX, &mut rng);
            assert!(capped >= S(750) && capped <= S(1000), "{capped:?}");
        }
        assert!(distinct.len() > 100, "jitter varies the delay");
        let full = b.with_jitter(1.0).unwrap();
        for _ in 0..100 {
            assert!(full.delay_with(2, &mut rng) <= S(200));
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let b = Backoff::garivini();
        for bad in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
            let e = b.with_jitter(bad).unwrap_err().to_string();
            assert!(e.contains("jitter"), "{e}");
        }
        let e = b.with_factor(0).unwrap_err().to_string();
        assert!(e.contains("factor"), "{e}");
        assert_eq!(b.with_factor(3).unwrap().max_delay(3), S(1080));
    }
}
