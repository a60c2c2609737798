//! `schwartz web`: a dashboard over the same store calls as the other commands, its JSON
//! API and Prometheus `/metrics`, served by axum on tokio.
//!
//! Every database call is blocking and runs on tokio's blocking pool
//! ([`State::blocking`]); each request sees every database afresh (a database that did not
//! answer one request is tried again by the next). Queries and actions are the command
//! line's own functions (`cmd::queues::summaries`, `cmd::jobs::select` and `load`,
//! `cmd::errors::listing`, `cmd::top::snapshot`, `cmd::change::change`).

mod actions;
mod api;
mod auth;
mod html;
mod metrics;
mod pages;
mod sampler;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use clap::Args;

use crate::db::{Connect, Db, DbStatus, Dbs};
use crate::fail::Fail;

/// Arguments of `schwartz web`.
#[derive(Debug, Args)]
pub struct WebArgs {
    /// Address to listen on; loopback unless told otherwise.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: String,
    /// The token that allows write actions (retry, reschedule, cancel); without it (or with
    /// --read-only) the dashboard only reads.
    #[arg(
        long,
        env = "SCHWARTZ_WEB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// Refuse every write action, even with a token.
    #[arg(long)]
    read_only: bool,
    /// Seconds between the overview's, errors' and workers' self-refreshes (0: never).
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    refresh: u64,
    /// Seconds between samples of the charts' numbers (kept for an hour, in memory).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    sample_every: u64,
    /// The scoreboard directory of the Workers page (as `schwartz top --scoreboard-dir`).
    #[arg(long, value_name = "DIR")]
    scoreboard_dir: Option<PathBuf>,
    /// Count due and scheduled jobs up to this many per function and database (0: exact).
    #[arg(long, default_value_t = crate::cmd::queues::COUNT_LIMIT, value_name = "N")]
    count_limit: u64,
}

/// What every handler shares.
#[derive(Debug)]
pub struct State {
    /// The databases (each request starts with none marked down).
    list: Vec<Db>,
    /// The write token; `None`: read-only.
    token: Option<String>,
    /// Why writes are off, when they are.
    read_only_reason: Option<&'static str>,
    /// Secrets that must never be shown (the token, passwords).
    secrets: Vec<String>,
    /// Page self-refresh.
    refresh: u64,
    /// `--scoreboard-dir`.
    scoreboard_dir: Option<PathBuf>,
    /// `--count-limit` (0: exact).
    count_limit: u64,
    /// The charts' samples.
    history: sampler::History,
}

/// A shared [`State`].
pub type Shared = Arc<State>;

impl State {
    /// Every database, none marked down.
    fn dbs(&self) -> Dbs {
        Dbs {
            list: self.list.clone(),
            down: Vec::new(),
        }
    }

    /// Runs `f` on a fresh [`Dbs`] on tokio's blocking pool; returns its result and where
    /// each database stood afterwards (errors scrubbed of secrets).
    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Dbs) -> T + Send + 'static,
    ) -> Result<(T, Vec<DbStatus>), Oops> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut dbs = me.dbs();
            let out = f(&mut dbs);
            let mut statuses = dbs.statuses();
            for s in &mut statuses {
                s.error = s.error.as_deref().map(|e| me.scrub(e));
            }
            (out, statuses)
        })
        .await
        .map_err(|e| Oops::internal(format!("a database call failed: {e}")))
    }

    /// `text` with every secret replaced.
    fn scrub(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            if !s.is_empty() {
                t = t.replace(s.as_str(), "[redacted]");
            }
        }
        t
    }

    /// The count limit as the store calls take it.
    fn limit(&self) -> u64 {
        if self.count_limit == 0 {
            u64::MAX
        } else {
            self.count_limit
        }
    }
}

/// A request that failed: a status and a one-line message (secrets scrubbed by the caller).
#[derive(Debug)]
pub struct Oops {
    status: StatusCode,
    message: String,
    /// Answer `{"error": message}` instead of a page (the JSON API).
    json: bool,
}

impl Oops {
    fn internal(m: impl Into<String>) -> Oops {
        Oops {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: m.into(),
            json: false,
        }
    }

    fn bad(m: impl Into<String>) -> Oops {
        Oops {
            status: StatusCode::BAD_REQUEST,
            message: m.into(),
            json: false,
        }
    }

    fn forbidden(m: impl Into<String>) -> Oops {
        Oops {
            status: StatusCode::FORBIDDEN,
            message: m.into(),
            json: false,
        }
    }

    /// From a command's failure: usage 400, not found 404, a database down 503.
    fn from_fail(f: Fail) -> Oops {
        let status = match f.code {
            crate::fail::EXIT_USAGE => StatusCode::BAD_REQUEST,
            crate::fail::EXIT_ALERT => StatusCode::NOT_FOUND,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        Oops {
            status,
            message: f.message,
            json: false,
        }
    }

    /// The same failure, answered as JSON.
    fn json(self) -> Oops {
        Oops { json: true, ..self }
    }
}

impl IntoResponse for Oops {
    fn into_response(self) -> Response {
        if self.json {
            let body = serde_json::json!({ "error": self.message });
            return (self.status, axum::Json(body)).into_response();
        }
        let mut h = html::page("Error", 0);
        h.raw("<p class=\"down\">").text(&self.message).raw("</p>");
        (self.status, axum::response::Html(html::end(h))).into_response()
    }
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/jobs", get(pages::jobs))
        .route("/jobs/{handle}", get(pages::job))
        .route("/errors", get(pages::errors))
        .route("/workers", get(pages::workers))
        .route("/schedules", get(pages::schedules))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/actions", post(actions::form))
        .route("/api/overview", get(api::overview))
        .route("/api/history", get(api::history))
        .route("/api/jobs", get(api::jobs))
        .route("/api/jobs/{handle}", get(api::job))
        .route("/api/errors", get(api::errors))
        .route("/api/workers", get(api::workers))
        .route("/api/schedules", get(api::schedules))
        .route("/api/actions", post(actions::api))
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}

/// Runs `schwartz web` until interrupted.
///
/// # Errors
/// Usage errors for a bad address or database URL; an error when the address is taken.
pub fn run(c: &Connect, a: &WebArgs) -> Result<(), Fail> {
    let addr: SocketAddr = a.listen.parse().map_err(|e| {
        Fail::usage(format!(
            "--listen {:?} is not ADDR:PORT (e.g. 127.0.0.1:8080): {e}",
            a.listen
        ))
    })?;
    let dbs = Dbs::open_pooled(c, 4)?;
    let token = a.token.clone().filter(|t| !t.is_empty());
    let read_only_reason = if a.read_only {
        Some("read-only (--read-only)")
    } else if token.is_none() {
        Some("read-only: no --token or SCHWARTZ_WEB_TOKEN given")
    } else {
        None
    };
    let mut secrets: Vec<String> = token.iter().cloned().collect();
    secrets.extend(c.password.iter().cloned());
    secrets.extend(c.urls.iter().filter_map(|u| url_password(u)));
    let state = Arc::new(State {
        list: dbs.list,
        token: if a.read_only { None } else { token },
        read_only_reason,
        secrets,
        refresh: a.refresh,
        scoreboard_dir: a.scoreboard_dir.clone(),
        count_limit: a.count_limit,
        history: sampler::History::new(Duration::from_secs(a.sample_every.max(1))),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::down(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Fail::usage(format!("cannot listen on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| Fail::down(format!("cannot read the listening address: {e}")))?;
        println!("schwartz web: listening on http://{local}/");
        if !is_loopback(&local) {
            println!("schwartz web: warning: {local} is reachable from other machines");
        }
        if let Some(r) = state.read_only_reason {
            println!("schwartz web: {r}");
        }
        tokio::spawn(sampler::run(state.clone()));
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Fail::down(format!("server error: {e}")))
    })
}

/// The password of a `scheme://user:password@host/...` URL, as given (kept to be scrubbed).
fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pw) = userinfo.split_once(':')?;
    (!pw.is_empty()).then(|| pw.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_passwords_in_urls() {
        assert_eq!(
            super::url_password("postgres://u:s3cret@h:5432/db").as_deref(),
            Some("s3cret")
        );
        assert_eq!(super::url_password("postgres://u@h/db"), None);
        assert_eq!(super::url_password("/tmp/x.db"), None);
    }
}
