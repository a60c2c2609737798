//! Times and durations on the command line and in output.
//!
//! Durations: `90`, `90s`, `5m`, `2h`, `1d`, `1h30m` (seconds when there is no unit).
//! Times: `+DURATION` (from the database's clock), Unix seconds (`1764590400`), RFC 3339
//! (`2026-12-01T12:00:00Z`, `2026-12-01T13:00:00+01:00`) or `YYYY-MM-DD HH:MM[:SS]` in UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use schwartz_core::{epoch_to_datetime, Epoch};

/// Parses a duration into seconds.
///
/// # Errors
/// A one-line message naming the input.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || {
        format!("malformed duration {s:?}: expected seconds or a number with s, m, h or d (e.g. 90, 5m, 1h30m)")
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i64>().map_err(|_| bad());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Parses a point in time; `now` is the database's clock (for `+DURATION`).
///
/// # Errors
/// A one-line message naming the input.
pub fn parse_time(s: &str, now: Epoch) -> Result<Epoch, String> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('+') {
        return Ok(now.saturating_add(parse_duration(rest)?));
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .map_err(|_| format!("malformed time {s:?}: the number does not fit"));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(d.and_utc().timestamp());
        }
    }
    Err(format!(
        "malformed time {s:?}: expected +DURATION (e.g. +5m), Unix seconds, RFC 3339 \
         (2026-12-01T12:00:00Z) or \"YYYY-MM-DD HH:MM:SS\" (UTC)"
    ))
}

/// `2026-12-01 12:00:00` (UTC).
pub fn datetime(t: Epoch) -> String {
    epoch_to_datetime(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// RFC 3339 in UTC, for JSON.
pub fn rfc3339(t: Epoch) -> String {
    let d: DateTime<Utc> = epoch_to_datetime(t);
    d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A compact duration: `45s`, `3m05s`, `2h07m`, `3d04h`.
pub fn duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let sign = if secs < 0 { "-" } else { "" };
    let body = if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    };
    format!("{sign}{body}")
}

/// `t` relative to `now`: `+5m00s` (future), `-3s` (past), `now`.
pub fn relative(t: Epoch, now: Epoch) -> String {
    let d = t.saturating_sub(now);
    match d {
        0 => "now".to_string(),
        d if d > 0 => format!("+{}", duration(d)),
        d => duration(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        for bad in ["", "m", "5x", "1h30", "-5", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("+5m", 1000), Ok(1300));
        assert_eq!(parse_time("1764590400", 0), Ok(1_764_590_400));
        assert_eq!(parse_time("2026-12-01T12:00:00Z", 0), Ok(1_796_126_400));
        assert_eq!(
            parse_time("2026-12-01T13:00:00+01:00", 0),
            Ok(1_796_126_400)
        );
        assert_eq!(parse_time("2026-12-01 12:00:00", 0), Ok(1_796_126_400));
        assert_eq!(parse_time("2026-12-01 12:00", 0), Ok(1_796_126_400));
        assert!(parse_time("tomorrow", 0).is_err());
        assert!(parse_time("+", 0).is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(7620), "2h07m");
        assert_eq!(duration(-3), "-3s");
        assert_eq!(relative(100, 100), "now");
        assert_eq!(relative(400, 100), "+5m00s");
        assert_eq!(datetime(1_796_126_400), "2026-12-01 12:00:00");
        assert_eq!(rfc3339(1_796_126_400), "2026-12-01T12:00:00Z");
    }
}
