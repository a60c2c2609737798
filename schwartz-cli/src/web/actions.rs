//! Write actions: retry now, reschedule and cancel, on one job or a selection, through the
//! command line's own calls (`cmd::change::group`, `new_time` and `change`) and so with its
//! rules: retry and reschedule refuse a running (leased) job, cancel revokes its lease; each
//! change is fenced on the lease read.

use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::{Html as AxHtml, IntoResponse, Response};
use axum::Json;
use std::time::Duration;

use schwartz_core::store::JobChange;
use schwartz_core::CancelOptions;
use serde::{Deserialize, Serialize};

use super::auth::{form_write, parse_form};
use super::html::{end, page};
use super::{auth, Oops, Shared};
use crate::cmd::change::{change, group, new_time, Action};
use crate::db::DbStatus;
use crate::fail::Fail;
use crate::when::{datetime, parse_duration};

/// The message recorded for a cancel from the dashboard.
const CANCEL_MESSAGE: &str = "cancelled by operator (schwartz web)";

/// What to do; the JSON body of `POST /api/actions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Request {
    /// `retry`, `reschedule` or `cancel`.
    pub action: String,
    /// Job handles.
    pub jobs: Vec<String>,
    /// Reschedule: from now, a duration (90s, 15m, 2h, 1d).
    #[serde(rename = "in")]
    pub in_: Option<String>,
    /// Reschedule: a time (Unix seconds, RFC 3339, "YYYY-MM-DD HH:MM:SS" UTC, +DURATION).
    pub at: Option<String>,
    /// Reschedule: park the jobs (run_after 2038-01-19).
    #[serde(default)]
    pub never: bool,
    /// Cancel: keep the exit status this long (default 7d).
    pub keep_for: Option<String>,
}

/// One job's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The job.
    pub handle: String,
    /// `changed`, `running` (refused: a worker holds it; for a cancel, its lease kept
    /// moving) or `not_found`.
    pub result: &'static str,
    /// The job's function, when found.
    pub funcname: Option<String>,
    /// Its run_after before the change.
    pub run_after_before: Option<i64>,
    /// Its new run_after (retry and reschedule).
    pub run_after: Option<i64>,
    /// The lease that refused the change; for a cancel, the lease it revoked (the job was
    /// running).
    pub leased_until: Option<i64>,
}

/// The answer of `POST /api/actions`.
#[derive(Debug, Serialize)]
pub struct Answer {
    /// Every database.
    pub databases: Vec<DbStatus>,
    /// One per job, in the order given.
    pub results: Vec<Outcome>,
}

/// Checks the request before anything is touched.
fn check(r: &Request) -> Result<(), Oops> {
    if r.jobs.is_empty() {
        return Err(Oops::bad("no job selected"));
    }
    match r.action.as_str() {
        "retry" => Ok(()),
        "reschedule" => new_time(r.never, r.in_.as_deref(), r.at.as_deref())
            .map(|_| ())
            .map_err(Oops::from_fail),
        "cancel" => keep_for(r).map(|_| ()),
        a => Err(Oops::bad(format!(
            "action {a:?}: give retry, reschedule or cancel"
        ))),
    }
}

fn keep_for(r: &Request) -> Result<i64, Oops> {
    parse_duration(r.keep_for.as_deref().unwrap_or("7d")).map_err(Oops::bad)
}

/// Applies the request (already checked).
async fn perform(state: &Shared, r: Request) -> Result<Answer, Oops> {
    let keep = keep_for(&r).unwrap_or(0);
    let (got, databases) = state
        .blocking(move |dbs| {
            let jobs = group(dbs, &r.jobs)?;
            let at = match r.action.as_str() {
                "reschedule" => new_time(r.never, r.in_.as_deref(), r.at.as_deref())?,
                _ => Box::new(|now| now),
            };
            let action = match r.action.as_str() {
                "cancel" => Action::Cancel(
                    CancelOptions::new()
                        .message(CANCEL_MESSAGE)
                        .keep_for(Duration::from_secs(u64::try_from(keep).unwrap_or(0))),
                ),
                _ => Action::Move(&*at),
            };
            let mut out = Vec::new();
            for (db, ids) in jobs {
                let (now, names, changes) = match change(&db, &ids, &action) {
                    Ok(v) => v,
                    Err(e) => {
                        dbs.mark_down(&db, &e.to_string());
                        continue;
                    }
                };
                for (id, c) in ids.iter().zip(changes) {
                    let mut o = Outcome {
                        handle: db.handle(*id),
                        result: "not_found",
                        funcname: None,
                        run_after_before: None,
                        run_after: None,
                        leased_until: None,
                    };
                    match c {
                        JobChange::Changed(row) => {
                            o.result = "changed";
                            o.funcname = names.get(&row.funcid).cloned();
                            o.run_after_before = Some(row.run_after);
                            if r.action != "cancel" {
                                o.run_after = Some(at(now));
                            } else if row.grabbed_until > now {
                                // A running job cancelled: its lease was revoked.
                                o.leased_until = Some(row.grabbed_until);
                            }
                        }
                        JobChange::Running(row) => {
                            o.result = "running";
                            o.funcname = names.get(&row.funcid).cloned();
                            o.run_after_before = Some(row.run_after);
                            o.leased_until = Some(row.grabbed_until);
                        }
                        JobChange::NotFound => {}
                    }
                    out.push(o);
                }
            }
            Ok::<_, Fail>(out)
        })
        .await?;
    let results = got.map_err(Oops::from_fail)?;
    Ok(Answer { databases, results })
}

/// `POST /api/actions` (JSON body [`Request`], `Authorization: Bearer TOKEN`).
pub async fn api(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Answer>, Oops> {
    auth::api_write(&state, &headers).map_err(Oops::json)?;
    let r: Request = serde_json::from_str(&body)
        .map_err(|e| Oops::bad(format!("the body is not an action request: {e}")).json())?;
    check(&r).map_err(Oops::json)?;
    Ok(Json(perform(&state, r).await.map_err(Oops::json)?))
}

fn verb(action: &str) -> &'static str {
    match action {
        "retry" => "Retry now",
        "reschedule" => "Reschedule",
        _ => "Cancel",
    }
}

/// `POST /actions`: a form from a page; shows a confirmation first, then the results.
pub async fn form(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Oops> {
    let fields = parse_form(&body);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, v)| key == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
    };
    form_write(&state, &headers, &get("csrf").unwrap_or_default())?;
    let r = Request {
        action: get("action").unwrap_or_default(),
        jobs: fields
            .iter()
            .filter(|(k, v)| k == "job" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
        in_: get("in"),
        at: get("at"),
        never: get("never").is_some(),
        keep_for: get("keep_for"),
    };
    check(&r)?;
    if get("confirm").as_deref() != Some("yes") {
        let mut h = page("Confirm", 0);
        h.raw("<p>").text(verb(&r.action)).raw(" ");
        h.text(&r.jobs.len().to_string()).raw(" job(s)");
        if r.action == "reschedule" {
            let when = if r.never {
                "never (2038-01-19)".to_string()
            } else if let Some(i) = &r.in_ {
                format!("in {i}")
            } else {
                format!("at {}", r.at.clone().unwrap_or_default())
            };
            h.raw(" to ").text(&when);
        }
        h.raw(if r.action == "cancel" {
            "? Running jobs are cancelled too (their lease is revoked).</p><ul>"
        } else {
            "? Running jobs will be refused.</p><ul>"
        });
        for j in &r.jobs {
            h.raw("<li>")
                .link(&format!("/jobs/{}", super::html::url_encode(j)), j)
                .raw("</li>");
        }
        h.raw("</ul><form method=\"post\" action=\"/actions\">");
        for (k, v) in &fields {
            if k != "confirm" {
                h.raw("<input type=\"hidden\"")
                    .attr("name", k)
                    .attr("value", v)
                    .raw(">");
            }
        }
        h.hidden("confirm", "yes")
            .raw("<button type=\"submit\" id=\"confirm\">Confirm: ")
            .text(verb(&r.action))
            .raw("</button> <a href=\"/jobs\">Back</a></form>");
        return Ok(AxHtml(end(h)).into_response());
    }
    let action = r.action.clone();
    let answer = perform(&state, r).await?;
    let mut h = page("Done", 0);
    h.raw("<p>")
        .text(verb(&action))
        .raw(":</p><table><tr><th>job</th>");
    h.raw("<th>function</th><th>result</th></tr>");
    for o in &answer.results {
        let text = match (o.result, action.as_str()) {
            ("changed", "cancel") if o.leased_until.is_some() => {
                "cancelled (was running: lease revoked)".to_string()
            }
            ("changed", "cancel") => "cancelled".to_string(),
            ("changed", _) => format!(
                "{} now runs after {} UTC",
                if action == "retry" {
                    "retried:"
                } else {
                    "rescheduled:"
                },
                datetime(o.run_after.unwrap_or(0))
            ),
            ("running", _) => format!(
                "refused: running, leased until {} UTC; not changed",
                datetime(o.leased_until.unwrap_or(0))
            ),
            _ => "not found: no pending job with this handle".to_string(),
        };
        h.raw("<tr><td>")
            .link(
                &format!("/jobs/{}", super::html::url_encode(&o.handle)),
                &o.handle,
            )
            .raw("</td><td>")
            .text(o.funcname.as_deref().unwrap_or("-"))
            .raw("</td><td class=\"result\">")
            .text(&text)
            .raw("</td></tr>");
    }
    h.raw("</table>");
    for d in answer.databases.iter().filter(|d| !d.ok) {
        h.raw("<p class=\"down\">database ")
            .text(&d.database)
            .raw(" did not answer: ")
            .text(d.error.as_deref().unwrap_or(""))
            .raw("</p>");
    }
    Ok(AxHtml(end(h)).into_response())
}
