//! The JSON API, and the reads behind both it and the pages (the command line's own
//! functions, run on the blocking pool).

use axum::extract::{Path as AxPath, RawQuery, State as AxState};
use axum::response::{IntoResponse, Response};
use axum::Json;
use schwartz_core::Epoch;
use serde::Serialize;

use super::auth::parse_form;
use super::sampler::Sample;
use super::{Oops, Shared};
use crate::cmd::errors::{listing, ErrorOut, ErrorsArgs};
use crate::cmd::jobs::{load, select, JobOut, ListArgs, ShowOut};
use crate::cmd::queues::{merge, summaries, QueueOut};
use crate::cmd::top::{scoreboard_dir, snapshot, Worker};
use crate::db::DbStatus;

/// A request's query string as pairs.
pub fn query(q: Option<String>) -> Vec<(String, String)> {
    parse_form(q.as_deref().unwrap_or(""))
}

/// The first non-empty value of `key`.
pub fn param(q: &[(String, String)], key: &str) -> Option<String> {
    q.iter()
        .find(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
}

/// The overview: per function over every database, and where each database stands.
#[derive(Debug, Serialize)]
pub struct OverviewOut {
    /// Every database: `ok`, or the error (never a password).
    pub databases: Vec<DbStatus>,
    /// Per function (as `schwartz queues --json`).
    pub queues: Vec<QueueOut>,
}

/// Reads the overview.
pub async fn overview_data(state: &Shared) -> Result<OverviewOut, Oops> {
    let limit = state.limit();
    let (queues, databases) = state
        .blocking(move |dbs| merge(&summaries(dbs, limit)).into_values().collect())
        .await?;
    Ok(OverviewOut { databases, queues })
}

/// The jobs page's filter (query parameters `func`, `state`, `coalesce`, `limit`).
#[derive(Debug, Clone, Default)]
pub struct JobsFilter {
    /// A function name.
    pub func: Option<String>,
    /// `due`, `scheduled` or `running`.
    pub state: Option<String>,
    /// A coalesce value.
    pub coalesce: Option<String>,
    /// At most this many jobs (default 100, at most 10,000).
    pub limit: usize,
}

impl JobsFilter {
    /// From query parameters.
    ///
    /// # Errors
    /// 400 for an unknown state or a bad limit.
    pub fn parse(q: &[(String, String)]) -> Result<JobsFilter, Oops> {
        let state = param(q, "state");
        if let Some(s) = &state {
            if !["due", "scheduled", "running"].contains(&s.as_str()) {
                return Err(Oops::bad(format!(
                    "state {s:?}: give due, scheduled or running"
                )));
            }
        }
        let limit = match param(q, "limit") {
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| Oops::bad(format!("limit {l:?}: give 1 to 10000")))?,
            None => 100,
        };
        Ok(JobsFilter {
            func: param(q, "func"),
            state,
            coalesce: param(q, "coalesce"),
            limit,
        })
    }
}

/// Jobs and databases.
#[derive(Debug, Serialize)]
pub struct JobsOut {
    /// Every database.
    pub databases: Vec<DbStatus>,
    /// The jobs (as `schwartz list --json`).
    pub jobs: Vec<JobOut>,
}

/// Reads the jobs matching `f`, with each one's database clock.
pub async fn jobs_data(state: &Shared, f: JobsFilter) -> Result<(Vec<Epoch>, JobsOut), Oops> {
    let a = ListArgs {
        funcnames: f.func.into_iter().collect(),
        due: f.state.as_deref() == Some("due"),
        scheduled: f.state.as_deref() == Some("scheduled"),
        running: f.state.as_deref() == Some("running"),
        coalesce: f.coalesce,
        coalesce_prefix: None,
        limit: f.limit,
        json: true,
    };
    let (got, databases) = state.blocking(move |dbs| select(dbs, &a)).await?;
    let (nows, jobs) = got.map_err(Oops::from_fail)?.into_iter().unzip();
    Ok((nows, JobsOut { databases, jobs }))
}

/// One job and the scoreboard entries that may be running it.
#[derive(Debug, Serialize)]
pub struct JobDetail {
    /// The database's clock.
    pub server_time: Epoch,
    /// As `schwartz show --json`.
    #[serde(flatten)]
    pub show: ShowOut,
    /// Running scoreboard entries of the job's function with its argument (scoreboard
    /// files do not name the job, so two jobs with the same argument both match).
    pub scoreboard: Vec<Worker>,
}

/// Reads one job.
pub async fn job_data(state: &Shared, handle: String) -> Result<JobDetail, Oops> {
    let (got, databases) = state.blocking(move |dbs| load(dbs, &handle)).await?;
    let Some((server_time, show)) = got.map_err(Oops::from_fail)? else {
        let why = databases
            .iter()
            .find_map(|d| d.error.clone())
            .unwrap_or_default();
        return Err(Oops::from_fail(crate::fail::Fail::down(format!(
            "the job's database did not answer: {why}"
        ))));
    };
    let mut scoreboard = Vec::new();
    if let (Some(j), Some(arg)) = (&show.job, &show.arg) {
        if j.state == "running" {
            let shown = match &arg.value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                v => v.to_string(),
            };
            let (workers, _) = workers_data(state).await.unwrap_or_default();
            scoreboard = workers
                .into_iter()
                .filter(|w| w.state == "running" && w.funcname == j.funcname)
                .filter(|w| {
                    w.arg == shown.chars().take(200).collect::<String>()
                        || serde_json::from_str::<serde_json::Value>(&w.arg)
                            .is_ok_and(|v| v == arg.value)
                })
                .collect();
        }
    }
    Ok(JobDetail {
        server_time,
        show,
        scoreboard,
    })
}

/// The errors page's filter: `func`, `since` (a duration: 90s, 15m, 2h, 1d), `last`.
pub fn errors_args(q: &[(String, String)]) -> Result<ErrorsArgs, Oops> {
    let last = match param(q, "last") {
        Some(l) => Some(
            l.parse::<usize>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| Oops::bad(format!("last {l:?}: give 1 to 10000")))?,
        ),
        None => None,
    };
    let since = param(q, "since");
    Ok(ErrorsArgs {
        last: if since.is_some() { None } else { last },
        since,
        func: param(q, "func"),
        follow: false,
        interval: 1.0,
        json: true,
    })
}

/// Errors and databases.
#[derive(Debug, Serialize)]
pub struct ErrorsOut {
    /// Every database.
    pub databases: Vec<DbStatus>,
    /// Newest first.
    pub errors: Vec<ErrorOut>,
}

/// Reads the errors, newest first.
pub async fn errors_data(state: &Shared, a: ErrorsArgs) -> Result<ErrorsOut, Oops> {
    let (got, databases) = state.blocking(move |dbs| listing(dbs, &a)).await?;
    let (_, mut errors) = got.map_err(Oops::from_fail)?;
    errors.reverse();
    for e in &mut errors {
        e.message = state.scrub(&e.message);
    }
    Ok(ErrorsOut { databases, errors })
}

/// Reads the scoreboards: the workers and the directory (or why there is none).
pub async fn workers_data(state: &Shared) -> Result<(Vec<Worker>, String), Oops> {
    let dir = state.scoreboard_dir.clone();
    let (got, _) = state
        .blocking(move |_| {
            let d = scoreboard_dir(dir.as_deref())?;
            let now = chrono::Utc::now().timestamp();
            Ok::<_, crate::fail::Fail>((snapshot(&d, now)?, d.display().to_string()))
        })
        .await?;
    got.map_err(Oops::from_fail)
}

/// `GET /api/overview`.
pub async fn overview(AxState(state): AxState<Shared>) -> Result<Json<OverviewOut>, Oops> {
    Ok(Json(overview_data(&state).await.map_err(Oops::json)?))
}

/// The history document.
#[derive(Debug, Serialize)]
struct HistoryOut {
    sample_every_secs: u64,
    samples: Vec<Sample>,
}

/// `GET /api/history`.
pub async fn history(AxState(state): AxState<Shared>) -> Response {
    Json(HistoryOut {
        sample_every_secs: state.history.every.as_secs(),
        samples: state.history.samples(),
    })
    .into_response()
}

/// `GET /api/jobs`.
pub async fn jobs(
    AxState(state): AxState<Shared>,
    RawQuery(q): RawQuery,
) -> Result<Json<JobsOut>, Oops> {
    let f = JobsFilter::parse(&query(q)).map_err(Oops::json)?;
    Ok(Json(jobs_data(&state, f).await.map_err(Oops::json)?.1))
}

/// `GET /api/jobs/{handle}`.
pub async fn job(
    AxState(state): AxState<Shared>,
    AxPath(handle): AxPath<String>,
) -> Result<Json<JobDetail>, Oops> {
    Ok(Json(job_data(&state, handle).await.map_err(Oops::json)?))
}

/// `GET /api/errors`.
pub async fn errors(
    AxState(state): AxState<Shared>,
    RawQuery(q): RawQuery,
) -> Result<Json<ErrorsOut>, Oops> {
    let a = errors_args(&query(q)).map_err(Oops::json)?;
    Ok(Json(errors_data(&state, a).await.map_err(Oops::json)?))
}

/// The workers document.
#[derive(Debug, Serialize)]
struct WorkersOut {
    directory: String,
    workers: Vec<Worker>,
}

/// `GET /api/workers`.
pub async fn workers(AxState(state): AxState<Shared>) -> Result<Json<impl Serialize>, Oops> {
    let (workers, directory) = workers_data(&state).await.map_err(Oops::json)?;
    Ok(Json(WorkersOut { directory, workers }))
}

/// Schedules and databases.
#[derive(Debug, Serialize)]
pub struct SchedulesOut {
    /// Every database.
    pub databases: Vec<DbStatus>,
    /// Every periodic schedule, with its next runs.
    pub schedules: Vec<crate::cmd::schedules::ScheduleOut>,
}

/// Next runs listed per schedule.
const NEXT_RUNS: usize = 5;

/// Reads the periodic schedules (`schwartz schedules`' call).
pub async fn schedules_data(state: &Shared) -> Result<SchedulesOut, Oops> {
    let (schedules, databases) = state
        .blocking(|dbs| crate::cmd::schedules::listing(dbs, NEXT_RUNS))
        .await?;
    Ok(SchedulesOut {
        databases,
        schedules,
    })
}

/// `GET /api/schedules`.
pub async fn schedules(AxState(state): AxState<Shared>) -> Result<Json<SchedulesOut>, Oops> {
    Ok(Json(schedules_data(&state).await.map_err(Oops::json)?))
}
