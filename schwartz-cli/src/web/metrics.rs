//! `GET /metrics`: the queue numbers in Prometheus' text exposition format (0.0.4), per
//! function and database, from `Store::queue_summary` (the call behind `schwartz queues`).

use std::fmt::Write as _;

use axum::extract::State as AxState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use schwartz_core::store::QueueSummary;
use schwartz_core::Epoch;

use super::{Oops, Shared};

/// Escapes a label value: backslash, double quote and newline.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

type PerDb = Vec<(String, String, Option<(Epoch, Vec<QueueSummary>)>)>;

/// Renders the exposition text.
fn render(per_db: &PerDb) -> String {
    let mut s = String::new();
    let mut family = |name: &str, help: &str, f: &dyn Fn(Epoch, &QueueSummary) -> String| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (db, _, got) in per_db {
            for q in got
                .iter()
                .flat_map(|(now, l)| l.iter().map(move |q| (now, q)))
            {
                let _ = writeln!(
                    s,
                    "{name}{{database=\"{}\",function=\"{}\"}} {}",
                    label(db),
                    label(&q.1.funcname),
                    f(*q.0, q.1)
                );
            }
        }
    };
    family(
        "schwartz_jobs_due",
        "Jobs that can be grabbed now (counted up to --count-limit).",
        &|_, q| q.due.to_string(),
    );
    family(
        "schwartz_jobs_scheduled",
        "Jobs waiting for their run_after (counted up to --count-limit).",
        &|_, q| q.scheduled.to_string(),
    );
    family(
        "schwartz_jobs_running",
        "Jobs leased by a worker.",
        &|_, q| q.running.to_string(),
    );
    family(
        "schwartz_oldest_due_age_seconds",
        "Seconds since the oldest due job's run_after, by the database's clock (0: none due).",
        &|now, q| q.oldest_due.map_or(0, |o| (now - o).max(0)).to_string(),
    );
    family(
        "schwartz_errors_total",
        "Failures recorded in the error table (rows are pruned as they age, so it can fall).",
        &|_, q| q.errors.to_string(),
    );
    family(
        "schwartz_count_capped",
        "1 when the due or scheduled count stopped at --count-limit.",
        &|_, q| u8::from(q.capped).to_string(),
    );
    let _ = writeln!(
        s,
        "# HELP schwartz_database_up 1 when the database answered, 0 when it did not.\n\
         # TYPE schwartz_database_up gauge"
    );
    for (db, hash, got) in per_db {
        let _ = writeln!(
            s,
            "schwartz_database_up{{database=\"{}\",hash=\"{}\"}} {}",
            label(db),
            label(hash),
            u8::from(got.is_some())
        );
    }
    s
}

/// `GET /metrics`.
pub async fn metrics(AxState(state): AxState<Shared>) -> Result<Response, Oops> {
    let limit = state.limit();
    let (per_db, _) = state
        .blocking(move |dbs| {
            let got = dbs.each(|d| {
                let now = d.store.server_time()?;
                Ok((now, d.store.queue_summary(now, Epoch::MIN, limit)?))
            });
            dbs.list
                .iter()
                .map(|db| {
                    let v = got
                        .iter()
                        .find(|(d, _)| d.hash == db.hash)
                        .map(|(_, v)| v.clone());
                    (db.name.clone(), db.hash.to_string(), v)
                })
                .collect::<PerDb>()
        })
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&per_db),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schwartz_core::FuncId;

    #[test]
    fn exposition_escapes_labels() {
        let q = QueueSummary {
            funcid: FuncId(1),
            funcname: "a\"b\\c\nd".into(),
            due: 3,
            scheduled: 1,
            running: 0,
            oldest_due: Some(90),
            errors: 2,
            capped: false,
        };
        let text = render(&vec![
            ("db1".into(), "h1".into(), Some((100, vec![q]))),
            ("db2".into(), "h2".into(), None),
        ]);
        assert!(
            text.contains("schwartz_jobs_due{database=\"db1\",function=\"a\\\"b\\\\c\\nd\"} 3\n")
        );
        assert!(text.contains("schwartz_oldest_due_age_seconds{database=\"db1\""));
        assert!(text.contains("} 10\n"));
        assert!(text.contains("schwartz_database_up{database=\"db2\",hash=\"h2\"} 0\n"));
    }
}
