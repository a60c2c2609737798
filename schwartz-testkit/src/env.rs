//! What the test environment asks for: the one place that decides what `CI=true` means,
//! which backends `SCHWARTZ_BACKENDS` selects, and how a test skips.
//!
//! Every test target of the workspace (the conformance runner, the pool, Perl
//! compatibility and failover tests) asks these functions instead of reading the variables
//! itself; `cargo xtask test` mirrors [`ci`] (it links no schwartz crate).

/// Whether a boolean environment variable is set to `1`, `true` or `yes` (any case).
pub fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| flag_value(&v))
}

/// Whether `value` reads as "on": `1`, `true` or `yes`, any case, surrounding blanks ignored.
pub fn flag_value(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes"
    )
}

/// Whether the tests run under CI (`CI=true`, `CI=1` or `CI=yes`, any case).
///
/// Under CI a backend, server or tool that a test needs and cannot reach is a failure,
/// not a skip: a green CI run means every backend was really tested.
pub fn ci() -> bool {
    flag("CI")
}

/// The backends named by `SCHWARTZ_BACKENDS` (comma-separated, lower-cased, blanks
/// dropped), or `None` when it is unset or empty: every backend.
pub fn selected_backends() -> Option<Vec<String>> {
    let value = std::env::var("SCHWARTZ_BACKENDS").ok()?;
    let names: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    (!names.is_empty()).then_some(names)
}

/// Whether `SCHWARTZ_BACKENDS` selects the backend `name` (`memory`, `sqlite`, `postgres`,
/// `mysql`); everything is selected when the variable is unset. A deliberately deselected
/// backend is skipped even under CI.
pub fn backend_selected(name: &str) -> bool {
    selected_backends().is_none_or(|list| list.iter().any(|b| b.eq_ignore_ascii_case(name)))
}

/// Skips a test whose requirement is missing: prints `SKIPPED: <test>: <reason>` to
/// stderr, or, under [`ci`], panics with the reason.
///
/// # Panics
/// Under CI, always (that is the point).
#[track_caller]
pub fn skip(test: &str, reason: &str) {
    if ci() {
        panic!("{test}: CI=true and a requirement is missing: {reason}");
    }
    eprintln!();
    eprintln!("SKIPPED: {test}: {reason}");
    eprintln!();
}

#[cfg(test)]
mod tests {
    use super::flag_value;

    #[test]
    fn flag_values() {
        for on in ["1", "true", "TRUE", " True ", "yes", "YES"] {
            assert!(flag_value(on), "{on:?} is on");
        }
        for off in ["", "0", "false", "no", "2", "truthy"] {
            assert!(!flag_value(off), "{off:?} is off");
        }
    }
}
