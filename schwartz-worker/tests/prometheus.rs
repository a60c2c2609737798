//! The Prometheus example, run as a test: its exposition counts the jobs its pool ran.

#[allow(dead_code)]
#[path = "../examples/prometheus.rs"]
mod example;

/// The value of the sample whose line starts with `series` (name and labels as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn the_exposition_counts_the_pools_jobs() {
    let text = example::run().unwrap().render();
    assert_eq!(
        sample(
            &text,
            r#"schwartz_jobs_total{funcname="resize",outcome="completed"}"#
        ),
        Some(200.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"schwartz_jobs_total{funcname="charge",outcome="failed"}"#
        ),
        Some(100.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "schwartz_jobs_grabbed_total"),
        Some(300.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"schwartz_job_duration_seconds_count{funcname="resize"}"#
        ),
        Some(200.0),
        "{text}"
    );
    assert!(text.contains("schwartz_grab_duration_seconds"), "{text}");
}
