//! The pages: overview, jobs, one job, errors, workers. Server-rendered HTML, no script;
//! every value goes through the escaping [`Html`] builder.

use axum::extract::{Path as AxPath, RawQuery, State as AxState};
use axum::http::HeaderMap;
use axum::response::Html as AxHtml;

use super::api::{
    errors_args, errors_data, job_data, jobs_data, overview_data, param, query, workers_data,
    JobsFilter,
};
use super::auth::{csrf, logged_in};
use super::html::{chart, end, page, url_encode, Html, Series};
use super::sampler::WINDOW;
use super::{Oops, Shared};
use crate::db::DbStatus;
use crate::when::{datetime, duration, relative};

/// Where each database stands: one line per database that did not answer.
fn databases(h: &mut Html, dbs: &[DbStatus]) {
    h.raw("<p class=\"small\">Databases: ");
    for (i, d) in dbs.iter().enumerate() {
        if i > 0 {
            h.raw(", ");
        }
        h.text(&d.database);
        if d.ok {
            h.raw(" <span class=\"ok\">ok</span>");
        } else {
            h.raw(" <span class=\"down\">DOWN</span>");
        }
    }
    h.raw("</p>");
    for d in dbs.iter().filter(|d| !d.ok) {
        h.raw("<p class=\"down db-down\">Database ")
            .text(&d.database)
            .raw(" did not answer: ")
            .text(d.error.as_deref().unwrap_or("unknown error"))
            .raw("</p>");
    }
}

fn write_note(h: &mut Html, state: &Shared, headers: &HeaderMap) {
    match state.read_only_reason {
        Some(r) => {
            h.raw("<p class=\"note\">Actions are off: ")
                .text(r)
                .raw("</p>");
        }
        None if !logged_in(state, headers) => {
            h.raw("<p class=\"note\">Actions need the write token: ")
                .raw("<a href=\"/login\">log in</a>.</p>");
        }
        None => {}
    }
}

/// `GET /`.
pub async fn overview(AxState(state): AxState<Shared>) -> Result<AxHtml<String>, Oops> {
    let o = overview_data(&state).await?;
    let mut h = page("Overview", state.refresh);
    databases(&mut h, &o.databases);
    h.raw("<table id=\"queues\"><tr><th>function</th><th class=\"n\">due</th>")
        .raw("<th class=\"n\">scheduled</th><th class=\"n\">running</th>")
        .raw("<th class=\"n\">lag</th><th class=\"n\">errors (1h)</th></tr>");
    for q in &o.queues {
        let href = format!("/jobs?func={}", url_encode(&q.funcname));
        let cap = if q.capped { "+" } else { "" };
        h.raw("<tr")
            .attr("data-func", &q.funcname)
            .raw("><td>")
            .link(&href, &q.funcname)
            .raw("</td><td class=\"n due\">")
            .link(&format!("{href}&state=due"), &format!("{}{cap}", q.due))
            .raw("</td><td class=\"n scheduled\">")
            .link(
                &format!("{href}&state=scheduled"),
                &format!("{}{cap}", q.scheduled),
            )
            .raw("</td><td class=\"n running\">")
            .link(&format!("{href}&state=running"), &q.running.to_string())
            .raw("</td><td class=\"n lag\">")
            .text(&duration(q.lag_secs))
            .raw("</td><td class=\"n errors\">")
            .link(
                &format!("/errors?func={}&since=1h", url_encode(&q.funcname)),
                &q.errors_last_hour.to_string(),
            )
            .raw("</td></tr>");
    }
    if o.queues.is_empty() {
        h.raw("<tr><td colspan=\"6\">no functions yet</td></tr>");
    }
    h.raw("</table>");
    let samples = state.history.samples();
    let to = chrono::Utc::now().timestamp();
    // The last hour, or less while fewer samples were taken (at least five samples' worth).
    let every = state.history.every.as_secs() as i64;
    let first = samples.first().map_or(to, |s| s.time);
    let from = (to - WINDOW).max(first.min(to - 5 * every));
    let pts = |f: &dyn Fn(&super::sampler::Sample) -> f64| {
        samples.iter().map(|s| (s.time, f(s))).collect::<Vec<_>>()
    };
    h.raw("<div class=\"charts\">");
    h.svg(chart(
        "Backlog (jobs)",
        from,
        to,
        &[
            Series {
                name: "due",
                colour: "#d93025",
                points: pts(&|s| s.due as f64),
            },
            Series {
                name: "scheduled",
                colour: "#1a73e8",
                points: pts(&|s| s.scheduled as f64),
            },
            Series {
                name: "running",
                colour: "#188038",
                points: pts(&|s| s.running as f64),
            },
        ],
    ));
    h.svg(chart(
        "Throughput (per minute)",
        from,
        to,
        &[
            Series {
                name: "drained",
                colour: "#188038",
                points: pts(&|s| s.drained_per_min),
            },
            Series {
                name: "errors",
                colour: "#d93025",
                points: pts(&|s| s.errors_per_min),
            },
        ],
    ));
    h.raw("</div><p class=\"small\">Sampled every ")
        .text(&state.history.every.as_secs().to_string())
        .raw(" s. Drained: how much the backlog (due + scheduled + running) fell per minute ")
        .raw("between samples (net of new jobs); errors: failures recorded per minute.</p>");
    Ok(AxHtml(end(h)))
}

/// The selection form's action buttons.
fn action_buttons(h: &mut Html, state: &Shared) {
    h.hidden("csrf", &csrf(state))
        .raw("<button name=\"action\" value=\"retry\" id=\"retry\">Retry now</button> ")
        .raw("<button name=\"action\" value=\"reschedule\" id=\"reschedule\">Reschedule</button>")
        .raw(" in <input name=\"in\" value=\"1h\" size=\"5\"> ")
        .raw("<button name=\"action\" value=\"cancel\" id=\"cancel\">Cancel</button>");
}

/// `GET /jobs`.
pub async fn jobs(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<AxHtml<String>, Oops> {
    let q = query(q);
    let f = JobsFilter::parse(&q)?;
    let (nows, out) = jobs_data(&state, f.clone()).await?;
    let mut h = page("Jobs", 0);
    databases(&mut h, &out.databases);
    h.raw("<form method=\"get\" action=\"/jobs\">Function <input name=\"func\"")
        .attr("value", f.func.as_deref().unwrap_or(""))
        .raw("> State <select name=\"state\"><option value=\"\">any</option>");
    for s in ["due", "scheduled", "running"] {
        h.raw("<option").attr("value", s);
        if f.state.as_deref() == Some(s) {
            h.raw(" selected");
        }
        h.raw(">").text(s).raw("</option>");
    }
    h.raw("</select> Coalesce <input name=\"coalesce\"")
        .attr("value", f.coalesce.as_deref().unwrap_or(""))
        .raw("> <button type=\"submit\">Filter</button></form>");
    write_note(&mut h, &state, &headers);
    h.raw("<form method=\"post\" action=\"/actions\"><table id=\"jobs\"><tr><th></th>")
        .raw("<th>handle</th><th>function</th><th>state</th><th>run after</th>")
        .raw("<th class=\"n\">priority</th><th class=\"n\">failures</th><th>coalesce</th></tr>");
    for (j, now) in out.jobs.iter().zip(nows) {
        h.raw("<tr><td><input type=\"checkbox\" name=\"job\"")
            .attr("value", &j.handle)
            .raw("></td><td>")
            .link(&format!("/jobs/{}", url_encode(&j.handle)), &j.handle)
            .raw("</td><td>")
            .text(&j.funcname)
            .raw("</td><td>")
            .text(j.state)
            .raw("</td><td>")
            .text(&relative(j.run_after, now))
            .raw("</td><td class=\"n\">")
            .text(&j.priority.map_or("-".into(), |p| p.to_string()))
            .raw("</td><td class=\"n\">")
            .text(&j.failures.to_string())
            .raw("</td><td>")
            .text(j.coalesce.as_deref().unwrap_or("-"))
            .raw("</td></tr>");
    }
    if out.jobs.is_empty() {
        h.raw("<tr><td colspan=\"8\">no pending job matches</td></tr>");
    }
    h.raw("</table>Selected: ");
    action_buttons(&mut h, &state);
    h.raw("</form>");
    Ok(AxHtml(end(h)))
}

fn row(h: &mut Html, name: &str, value: &str) {
    h.raw("<tr><th>")
        .text(name)
        .raw("</th><td>")
        .text(value)
        .raw("</td></tr>");
}

/// `GET /jobs/{handle}`.
pub async fn job(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    AxPath(handle): AxPath<String>,
) -> Result<AxHtml<String>, Oops> {
    let d = job_data(&state, handle).await?;
    let s = &d.show;
    let now = d.server_time;
    let mut h = page(&format!("Job {}", s.handle), 0);
    h.raw("<table id=\"job\">");
    row(&mut h, "handle", &s.handle);
    row(&mut h, "database", &s.database);
    match &s.job {
        Some(j) => {
            row(&mut h, "function", &j.funcname);
            h.raw("<tr><th>state</th><td id=\"state\">")
                .text(j.state)
                .raw("</td></tr>");
            let at = |t: i64| format!("{} UTC ({})", datetime(t), relative(t, now));
            row(&mut h, "run after", &at(j.run_after));
            let lease = if j.grabbed_until > now {
                format!("leased until {}", at(j.grabbed_until))
            } else if j.grabbed_until > 0 {
                format!("not leased (last lease ended {})", at(j.grabbed_until))
            } else {
                "not leased".to_string()
            };
            row(&mut h, "lease", &lease);
            row(&mut h, "inserted", &j.insert_time.map_or("-".into(), at));
            row(
                &mut h,
                "priority",
                &j.priority.map_or("-".into(), |p| p.to_string()),
            );
            row(&mut h, "uniqkey", j.uniqkey.as_deref().unwrap_or("-"));
            row(&mut h, "coalesce", j.coalesce.as_deref().unwrap_or("-"));
        }
        None => {
            h.raw("<tr><th>state</th><td id=\"state\">done (not pending)</td></tr>");
        }
    }
    if s.arg.as_ref().is_some_and(|a| a.encoding == "none") {
        row(&mut h, "argument", "none");
    } else if let Some(a) = &s.arg {
        let value = match &a.value {
            serde_json::Value::String(t) => t.clone(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        };
        h.raw("<tr><th>argument</th><td>")
            .text(&format!("{}, {} bytes", a.encoding, a.bytes))
            .raw("<pre id=\"arg\">")
            .text(&value)
            .raw("</pre></td></tr>");
    }
    let exit = s.exit_status.as_ref().map_or("-".to_string(), |e| {
        format!(
            "{} (completed {} UTC, kept until {} UTC)",
            e.status,
            datetime(e.completion_time),
            datetime(e.delete_after)
        )
    });
    row(&mut h, "exit status", &exit);
    h.raw("</table><h2>Failure log</h2><table id=\"failures\"><tr><th>time</th>")
        .raw("<th>message</th></tr>");
    for f in &s.failures {
        h.raw("<tr><td>")
            .text(&format!("{} UTC", datetime(f.time)))
            .raw("</td><td><pre class=\"message\">")
            .text(&state.scrub(&f.message))
            .raw("</pre></td></tr>");
    }
    if s.failures.is_empty() {
        h.raw("<tr><td colspan=\"2\">no failures</td></tr>");
    }
    h.raw("</table><h2>Scoreboard</h2>");
    if d.scoreboard.is_empty() {
        h.raw("<p class=\"small\">No running scoreboard entry shows this job.</p>");
    }
    for w in &d.scoreboard {
        h.raw("<p>").text(&format!(
            "pid {}{} ({}), running {}",
            w.pid,
            w.thread.map_or(String::new(), |t| format!(" thread {t}")),
            w.file,
            duration(w.elapsed_secs)
        ));
        h.raw("</p>");
    }
    if s.pending {
        h.raw("<h2>Actions</h2>");
        write_note(&mut h, &state, &headers);
        h.raw("<form method=\"post\" action=\"/actions\">")
            .hidden("job", &s.handle);
        action_buttons(&mut h, &state);
        h.raw("</form>");
    }
    Ok(AxHtml(end(h)))
}

/// `GET /errors`.
pub async fn errors(
    AxState(state): AxState<Shared>,
    RawQuery(q): RawQuery,
) -> Result<AxHtml<String>, Oops> {
    let q = query(q);
    let a = errors_args(&q)?;
    let out = errors_data(&state, a).await?;
    let mut h = page("Errors", state.refresh);
    databases(&mut h, &out.databases);
    h.raw("<form method=\"get\" action=\"/errors\">Function <input name=\"func\"")
        .attr("value", &param(&q, "func").unwrap_or_default())
        .raw("> Since <input name=\"since\" size=\"6\" placeholder=\"1h\"")
        .attr("value", &param(&q, "since").unwrap_or_default())
        .raw("> <button type=\"submit\">Filter</button> <span class=\"small\">")
        .raw("Newest first; this page refreshes itself (live tail).</span></form>")
        .raw("<table id=\"errors\"><tr><th>time (UTC)</th><th>job</th><th>function</th>")
        .raw("<th>message</th></tr>");
    for e in &out.errors {
        h.raw("<tr><td>")
            .text(&datetime(e.time))
            .raw("</td><td>")
            .link(&format!("/jobs/{}", url_encode(&e.handle)), &e.handle)
            .raw("</td><td>")
            .text(&e.funcname)
            .raw("</td><td><pre class=\"message\">")
            .text(&e.message)
            .raw("</pre></td></tr>");
    }
    if out.errors.is_empty() {
        h.raw("<tr><td colspan=\"4\">no errors</td></tr>");
    }
    h.raw("</table>");
    Ok(AxHtml(end(h)))
}

/// `GET /workers`.
pub async fn workers(AxState(state): AxState<Shared>) -> Result<AxHtml<String>, Oops> {
    let mut h = page("Workers", state.refresh);
    match workers_data(&state).await {
        Ok((list, dir)) => {
            let running = list.iter().filter(|w| w.state == "running").count();
            h.raw("<p>")
                .text(&format!(
                    "{} scoreboard(s), {running} running, in {dir}",
                    list.len()
                ))
                .raw("</p><table id=\"workers\"><tr><th class=\"n\">pid</th>")
                .raw("<th class=\"n\">thread</th><th>function</th><th>state</th>")
                .raw("<th class=\"n\">time</th><th>argument</th></tr>");
            for w in &list {
                h.raw("<tr><td class=\"n\">")
                    .text(&w.pid.to_string())
                    .raw("</td><td class=\"n\">")
                    .text(&w.thread.map_or("-".into(), |t| t.to_string()))
                    .raw("</td><td>")
                    .text(&w.funcname)
                    .raw("</td><td>")
                    .text(w.state)
                    .raw("</td><td class=\"n\">")
                    .text(&duration(w.elapsed_secs))
                    .raw("</td><td><pre>")
                    .text(&w.arg)
                    .raw("</pre></td></tr>");
            }
            h.raw("</table>");
        }
        Err(e) => {
            h.raw("<p class=\"note\">").text(&e.message).raw("</p>");
        }
    }
    Ok(AxHtml(end(h)))
}

/// `GET /schedules`: the periodic schedules, their last tick and next runs.
pub async fn schedules(AxState(state): AxState<Shared>) -> Result<AxHtml<String>, Oops> {
    let mut h = page("Schedules", state.refresh);
    let out = crate::web::api::schedules_data(&state).await?;
    databases(&mut h, &out.databases);
    if out.schedules.is_empty() {
        h.raw("<p class=\"note\">No periodic schedule is registered.</p>");
    } else {
        h.raw("<table id=\"schedules\"><tr><th>name</th><th>function</th><th>spec</th>")
            .raw("<th>last tick (UTC)</th><th>next runs (UTC)</th><th>database</th></tr>");
        for s in &out.schedules {
            let next = match &s.spec_error {
                Some(e) => format!("bad spec: {e}"),
                None => s
                    .next_runs
                    .iter()
                    .map(|t| crate::when::datetime(*t))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            h.raw("<tr><td class=\"name\">")
                .text(&s.name)
                .raw("</td><td>")
                .text(&s.function)
                .raw("</td><td><code>")
                .text(&s.spec)
                .raw("</code></td><td>")
                .text(&crate::when::datetime(s.last_tick))
                .raw("</td><td class=\"next\">")
                .text(&next)
                .raw("</td><td>")
                .text(&s.database)
                .raw("</td></tr>");
        }
        h.raw("</table>");
    }
    Ok(AxHtml(end(h)))
}
