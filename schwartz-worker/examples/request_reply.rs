//! Request and reply over the queue, as Job::Machine's `send` / `reply` / `receive`: the
//! sender inserts a job (send) and waits for its result (receive); a worker in a pool
//! records the result when it completes the job (reply). The result is written in the
//! completion's transaction, fenced on the job's lease, so a reply is never written by a
//! worker that lost the job.
//!
//! ```text
//! cargo run -p schwartz-worker --example request_reply [-- --db URL --requests N]
//! ```
//!
//! Without `--db` the database is a fresh SQLite file in a temporary directory. The
//! `tests` crate runs [`run`] on every backend.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use schwartz_core::store::Store;
use schwartz_core::{Client, Job, QueuedJob, WorkError};
use schwartz_worker::WorkerPool;
use serde::{Deserialize, Serialize};

/// A request: two numbers to add.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Question {
    /// The first number.
    pub a: i64,
    /// The second number.
    pub b: i64,
}

/// A reply: their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// `a + b`.
    pub sum: i64,
}

/// The worker's side: reads the request and records the reply.
fn add(job: &QueuedJob) -> Result<(), WorkError> {
    let q: Question = job.arg()?;
    job.set_result(&Answer { sum: q.a + q.b })?;
    Ok(())
}

/// Sends `requests` questions to a pool on `store` and receives every answer, in order.
///
/// # Errors
/// Any store or pool error, or a reply that did not come within 30 seconds.
pub fn run(
    store: Arc<dyn Store>,
    requests: i64,
) -> Result<Vec<(Question, Answer)>, Box<dyn Error>> {
    // The worker side: a pool with a worker for "add".
    let workers = Client::builder().store(Arc::clone(&store)).build()?;
    workers.can_do("add", add)?;
    let pool = WorkerPool::builder(workers).threads(2).build()?.spawn()?;

    // The sender: send every request, then receive each reply.
    let sender = Client::builder().store(store).build()?;
    let mut sent = Vec::new();
    for i in 0..requests {
        let q = Question { a: i, b: 2 * i };
        let handle = sender.insert(Job::new("add").arg(&q)?)?;
        sent.push((q, handle));
    }
    let mut out = Vec::new();
    for (q, handle) in sent {
        let reply = sender
            .wait_result(&handle, Duration::from_secs(30))?
            .ok_or_else(|| format!("no reply to job {handle} within 30 s"))?;
        out.push((q, reply.value::<Answer>()?));
    }
    pool.shutdown()?;
    Ok(out)
}

#[allow(dead_code)] // the tests crate includes this file for `run`
fn main() -> Result<(), Box<dyn Error>> {
    let mut db = None;
    let mut requests = 5;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--db" => db = args.next(),
            "--requests" => requests = args.next().ok_or("--requests needs a number")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let tmp = tempfile::tempdir()?;
    let url = db.unwrap_or_else(|| tmp.path().join("request_reply.db").display().to_string());
    let store = schwartz_diesel::DieselStore::connect(&url)?;
    store.run_migrations()?;
    for (q, a) in run(Arc::new(store), requests)? {
        println!("{} + {} = {}", q.a, q.b, a.sum);
    }
    Ok(())
}
