//! `schwartz check-args FUNC`: what the pending jobs of a function hold as arguments, by
//! encoding, and whether each self-describing one (JSON, Perl Storable) decodes; the
//! typed form of the check is the library's `Client::check_args`.

use std::collections::BTreeMap;

use clap::Args;
use schwartz_core::arg::scan_pending;
use serde::Serialize;

use crate::db::{DbStatus, Dbs};
use crate::fail::{print_json, Fail};

/// `schwartz check-args`.
#[derive(Debug, Args)]
pub struct CheckArgsArgs {
    /// The function name.
    funcname: String,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    handle: String,
    database: String,
    encoding: String,
    bytes: usize,
    ok: bool,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Out {
    databases: Vec<DbStatus>,
    funcname: String,
    jobs: Vec<Row>,
    by_encoding: BTreeMap<String, usize>,
    failing: usize,
}

/// Runs `schwartz check-args`: exit 1 when an argument does not decode.
pub fn run(dbs: &mut Dbs, a: &CheckArgsArgs) -> Result<(), Fail> {
    let scanned = dbs.each(|d| scan_pending(&*d.store, &a.funcname));
    let mut jobs = Vec::new();
    for (db, reports) in &scanned {
        for r in reports {
            jobs.push(Row {
                handle: db.handle(r.jobid),
                database: db.name.clone(),
                encoding: r
                    .encoding
                    .map_or("none".to_string(), |e| e.name().to_string()),
                bytes: r.bytes,
                ok: r.error.is_none(),
                error: r.error.clone(),
            });
        }
    }
    let mut by_encoding = BTreeMap::new();
    for j in &jobs {
        *by_encoding.entry(j.encoding.clone()).or_insert(0) += 1;
    }
    let failing = jobs.iter().filter(|j| !j.ok).count();
    let out = Out {
        databases: dbs.statuses(),
        funcname: a.funcname.clone(),
        jobs,
        by_encoding,
        failing,
    };
    if a.json {
        print_json(&out)?;
    } else {
        print_text(&out);
    }
    dbs.finish()?;
    if failing > 0 {
        return Err(Fail::quiet(crate::fail::EXIT_ALERT));
    }
    Ok(())
}

fn print_text(out: &Out) {
    let w = out
        .jobs
        .iter()
        .map(|j| j.handle.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:<w$}  {:<8}  {:>7}  DECODES",
        "HANDLE", "ENCODING", "BYTES"
    );
    for j in &out.jobs {
        let status = match &j.error {
            None => "yes".to_string(),
            Some(e) => format!("no: {e}"),
        };
        println!(
            "{:<w$}  {:<8}  {:>7}  {status}",
            j.handle, j.encoding, j.bytes
        );
    }
    let counts: Vec<String> = out
        .by_encoding
        .iter()
        .map(|(e, n)| format!("{n} {e}"))
        .collect();
    println!(
        "{}: {} pending jobs ({}), {} do not decode; bincode and raw arguments are checked only against a type (Client::check_args)",
        out.funcname,
        out.jobs.len(),
        if counts.is_empty() { "none".to_string() } else { counts.join(", ") },
        out.failing
    );
}
