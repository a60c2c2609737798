//! A worker pool reporting to Prometheus: installs the `metrics-exporter-prometheus`
//! recorder before the pool is built, runs a few hundred jobs on an in-memory store and
//! prints the exposition a scrape of `/metrics` would get.
//!
//! ```text
//! cargo run -p schwartz-worker --example prometheus
//! cargo run -p schwartz-worker --example prometheus -- --serve 127.0.0.1:9100   # then curl it
//! ```
//!
//! A service would build the exporter with its HTTP listener (the crate's default
//! `http-listener` feature, `PrometheusBuilder::new().with_http_listener(addr).install()`);
//! `--serve` here answers every request with the rendered text, with the standard library
//! only, until interrupted.

use std::io::{Read, Write};
use std::sync::Arc;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use schwartz_core::{Client, Job, QueuedJob, WorkError};
use schwartz_memory::MemoryStore;
use schwartz_worker::WorkerPool;

/// Installs the recorder, runs 300 jobs (200 complete, 100 fail for good) and returns the
/// handle that renders the exposition.
pub fn run() -> Result<PrometheusHandle, Box<dyn std::error::Error>> {
    // First: handles registered before a recorder is installed stay no-ops.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let client = Client::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()?;
    client.can_do("resize", |_: &QueuedJob| Ok(()))?;
    client.can_do("charge", |job: &QueuedJob| -> Result<(), WorkError> {
        let cents: u32 = job.arg()?;
        Err(format!("card declined for {cents} cents").into())
    })?;
    let mut jobs = Vec::new();
    for i in 0..200u32 {
        jobs.push(Job::new("resize").arg(&i)?);
    }
    for i in 0..100u32 {
        jobs.push(Job::new("charge").arg(&(i * 100))?);
    }
    client.insert_jobs(jobs)?;
    let summary = WorkerPool::builder(client)
        .threads(4)
        .build()?
        .run_until_done()?;
    eprintln!("pool: {summary}");
    Ok(prometheus)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus = run()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => print!("{}", prometheus.render()),
        [flag, addr] if flag == "--serve" => {
            let listener = std::net::TcpListener::bind(addr)?;
            eprintln!(
                "serving the metrics on http://{}/metrics",
                listener.local_addr()?
            );
            for stream in listener.incoming() {
                let mut stream = stream?;
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request)?;
                let body = prometheus.render();
                write!(
                    stream,
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )?;
            }
        }
        _ => return Err("usage: prometheus [--serve ADDR]".into()),
    }
    Ok(())
}
