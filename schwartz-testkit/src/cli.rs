//! A test binary's `main` (a `harness = false` test target): libtest-like arguments,
//! the environment's knobs, progress lines, and the backend x passed/failed/skipped table.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use crate::env;
use crate::harness::Backend;
use crate::run::{run_observed, Options, Report};

/// What the command line asked for.
struct Args {
    options: Options,
    list: bool,
}

fn parse_args(mut options: Options) -> Args {
    let mut list = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--skip" => {
                if let Some(s) = args.next() {
                    options = options.skip(s);
                }
            }
            "--exact" => options = options.exact(true),
            "--list" => list = true,
            // libtest options that take a value: ignore the value too.
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" | "--report-time" => {
                let _ = args.next();
            }
            a if a.starts_with('-') => {}
            a => options = options.filter(a),
        }
    }
    Args { options, list }
}

/// Runs the contract on `backends` as a test binary: prints a line per failure (and per
/// pass with `SCHWARTZ_VERBOSE=1`), the failures again, a table per backend and the
/// closing line `conformance: N passed, N failed, N skipped`. Returns the exit status
/// (0: nothing failed).
///
/// Arguments: substrings selecting cases, `--skip <substring>`, `--exact`, `--list`
/// (libtest's other options are accepted and ignored). Environment:
/// `SCHWARTZ_BACKENDS` (which of `backends`, by name), [`Options::from_env`]'s knobs,
/// `SCHWARTZ_VERBOSE`, `CI` ([`env::ci`]: an unreachable backend fails).
pub fn main(all_backends: Vec<Arc<dyn Backend>>) -> i32 {
    let Args { options, list } = parse_args(Options::from_env());
    let verbose = env::flag("SCHWARTZ_VERBOSE");
    let ci = env::ci();
    let all_cases = crate::cases::all();

    let mut seen = BTreeSet::new();
    for c in &all_cases {
        if !seen.insert(c.name) {
            eprintln!("conformance: duplicate case name {}", c.name);
            return 2;
        }
    }
    if list {
        for c in all_cases.iter().filter(|c| options.selects(c.name)) {
            println!("{}: test", c.name);
        }
        return 0;
    }

    let known: Vec<String> = all_backends.iter().map(|b| b.name().to_string()).collect();
    let wanted = env::selected_backends();
    let mut problems = 0usize;
    for w in wanted.iter().flatten() {
        if !known.contains(w) {
            eprintln!(
                "conformance: SCHWARTZ_BACKENDS names unknown backend {w:?} (known: {})",
                known.join(", ")
            );
            problems += 1;
        }
    }
    let backends: Vec<Arc<dyn Backend>> = all_backends
        .into_iter()
        .filter(|b| env::backend_selected(b.name()))
        .collect();
    let selected = all_cases.iter().filter(|c| options.selects(c.name)).count();
    let threads = std::env::var("SCHWARTZ_TEST_THREADS").unwrap_or_else(|_| "4".into());
    let timeout = std::env::var("SCHWARTZ_CASE_TIMEOUT").unwrap_or_else(|_| "60".into());
    println!(
        "conformance: {selected} cases x {} backends ({}), {threads} threads, {timeout}s timeout per case",
        backends.len(),
        backends
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", "),
    );

    let started = Instant::now();
    let reports = run_observed(&backends, all_cases, &options, |out| {
        match out.verdict {
            Ok(()) if verbose => println!(
                "ok     [{}] {} ({:.2}s)",
                out.backend,
                out.case,
                out.took.as_secs_f64()
            ),
            Ok(()) => {}
            Err(msg) => {
                println!(
                    "FAILED [{}] {} ({:.2}s)",
                    out.backend,
                    out.case,
                    out.took.as_secs_f64()
                );
                for line in msg.lines() {
                    println!("    {line}");
                }
            }
        }
        let _ = std::io::stdout().flush();
    });
    for r in &reports {
        if let Some(reason) = &r.unreachable {
            if ci {
                println!(
                    "\n!!! backend {} is UNREACHABLE and CI=true: its {} cases count as FAILED: {reason}",
                    r.backend,
                    r.failed.len()
                );
            } else {
                println!(
                    "\n!!! backend {} SKIPPED ({} cases not run): {reason}",
                    r.backend, r.skipped
                );
            }
        }
    }
    print_table(&reports, started, ci);
    let failed: usize = reports.iter().map(|r| r.failed.len()).sum();
    if failed > 0 || problems > 0 {
        1
    } else {
        0
    }
}

fn print_table(reports: &[Report], started: Instant, ci: bool) {
    let mut failures: Vec<String> = reports
        .iter()
        .filter(|r| r.unreachable.is_none())
        .flat_map(|r| {
            r.failed
                .iter()
                .map(|f| format!("[{}] {}", r.backend, f.case))
        })
        .collect();
    if !failures.is_empty() {
        println!("\nfailures:");
        failures.sort();
        for f in &failures {
            println!("    {f}");
        }
    }
    let width = reports
        .iter()
        .map(|r| r.backend.len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!("\n{:<width$} | passed | failed | skipped", "backend");
    println!("{:-<width$}-+--------+--------+--------", "");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for r in reports {
        let note = match &r.unreachable {
            Some(_) if ci => "  (UNREACHABLE, CI=true)",
            Some(_) => "  (SKIPPED: unreachable)",
            None => "",
        };
        println!(
            "{:<width$} | {:>6} | {:>6} | {:>7}{note}",
            r.backend,
            r.passed.len(),
            r.failed.len(),
            r.skipped
        );
        passed += r.passed.len();
        failed += r.failed.len();
        skipped += r.skipped;
    }
    println!("(took {:.1}s)", started.elapsed().as_secs_f64());
    println!("conformance: {passed} passed, {failed} failed, {skipped} skipped");
    let _ = std::io::stdout().flush();
}
