//! `schwartz top`: running jobs from scoreboard files, like TheSchwartz's `thetop`.
//!
//! Reads every file named `scoreboard.<pid>` (Perl TheSchwartz, and our client) or
//! `scoreboard.<pid>.<n>` (one per thread of a worker pool) in the scoreboard directory:
//! `pid=`, `funcname=`, `started=`, `arg=` and, once the job is done, `done=` lines.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::fail::{print_json, Fail};
use crate::table::{left, num, render, text};
use crate::when::{datetime, duration};

/// Where `thetop` looks when no directory is given, in order.
const DEFAULT_DIRS: [&str; 3] = [
    "/var/run/theschwartz",
    "/dev/shm/theschwartz",
    "/tmp/theschwartz",
];

/// Arguments of `schwartz top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The scoreboard directory (the `theschwartz` directory, or the directory holding
    /// it); default: the first of /var/run/theschwartz, /dev/shm/theschwartz,
    /// /tmp/theschwartz that exists.
    #[arg(long, value_name = "DIR")]
    scoreboard_dir: Option<PathBuf>,
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    delay: f64,
    /// Print one snapshot and exit (for scripts).
    #[arg(long)]
    once: bool,
    /// One JSON document (implies --once).
    #[arg(long)]
    json: bool,
}

/// One scoreboard file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Worker {
    /// The file name.
    pub(crate) file: String,
    /// `pid=`.
    pub(crate) pid: u32,
    /// The thread index of a pool's per-thread file (`scoreboard.<pid>.<n>`).
    pub(crate) thread: Option<u32>,
    /// `funcname=`.
    pub(crate) funcname: String,
    /// `running` (no `done=` yet), `done`, or `dead` (the process is gone).
    pub(crate) state: &'static str,
    /// `started=`, Unix seconds.
    pub(crate) started: Option<i64>,
    /// `done=`, Unix seconds.
    pub(crate) done: Option<i64>,
    /// From `started` to `done`, or to now while running.
    pub(crate) elapsed_secs: i64,
    /// `arg=`.
    pub(crate) arg: String,
}

#[derive(Debug, Serialize)]
struct TopOut {
    directory: String,
    time: i64,
    workers: Vec<Worker>,
}

/// The scoreboard directory: `given` (or its `theschwartz` subdirectory), else the first
/// default that exists (also behind `schwartz web`).
///
/// # Errors
/// A usage error when none exists.
pub(crate) fn scoreboard_dir(given: Option<&Path>) -> Result<PathBuf, Fail> {
    match given {
        Some(d) => {
            let sub = d.join("theschwartz");
            if sub.is_dir() {
                Ok(sub)
            } else if d.is_dir() {
                Ok(d.to_path_buf())
            } else {
                Err(Fail::usage(format!(
                    "scoreboard directory {} does not exist",
                    d.display()
                )))
            }
        }
        None => DEFAULT_DIRS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_dir())
            .ok_or_else(|| {
                Fail::usage(format!(
                    "no scoreboard directory: none of {} exists; give --scoreboard-dir DIR",
                    DEFAULT_DIRS.join(", ")
                ))
            }),
    }
}

/// `scoreboard.<pid>` or `scoreboard.<pid>.<n>`: (pid, thread).
fn parse_name(name: &str) -> Option<(u32, Option<u32>)> {
    let rest = name.strip_prefix("scoreboard.")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once('.') {
        None if digits(rest) => Some((rest.parse().ok()?, None)),
        Some((p, t)) if digits(p) && digits(t) => Some((p.parse().ok()?, Some(t.parse().ok()?))),
        _ => None,
    }
}

fn alive(pid: u32) -> Option<bool> {
    let proc_dir = Path::new("/proc");
    proc_dir
        .is_dir()
        .then(|| proc_dir.join(pid.to_string()).exists())
}

/// Reads one scoreboard file.
pub fn parse_file(file: &str, text: &str, now: i64) -> Option<Worker> {
    let (name_pid, thread) = parse_name(file)?;
    let mut w = Worker {
        file: file.to_string(),
        pid: name_pid,
        thread,
        funcname: String::new(),
        state: "running",
        started: None,
        done: None,
        elapsed_secs: 0,
        arg: String::new(),
    };
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "pid" => w.pid = v.trim().parse().unwrap_or(name_pid),
            "funcname" => w.funcname = v.to_string(),
            "started" => w.started = v.trim().parse().ok(),
            "done" => w.done = v.trim().parse().ok(),
            "arg" => w.arg = v.to_string(),
            _ => {}
        }
    }
    if w.funcname.is_empty() && w.started.is_none() {
        return None;
    }
    w.state = if w.done.is_some() {
        "done"
    } else if alive(w.pid) == Some(false) {
        "dead"
    } else {
        "running"
    };
    if let Some(s) = w.started {
        w.elapsed_secs = (w.done.unwrap_or(now) - s).max(0);
    }
    Some(w)
}

/// Every scoreboard file of `dir`, running first (also behind `schwartz web`).
pub(crate) fn snapshot(dir: &Path, now: i64) -> Result<Vec<Worker>, Fail> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Fail::usage(format!("cannot read {}: {e}", dir.display())))?;
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // A file may vanish between listing and reading (its job ended).
        if let Ok(text) = std::fs::read_to_string(e.path()) {
            if let Some(w) = parse_file(&name, &text, now) {
                out.push(w);
            }
        }
    }
    out.sort_by(|a, b| {
        (a.state != "running", a.started, a.pid, a.thread).cmp(&(
            b.state != "running",
            b.started,
            b.pid,
            b.thread,
        ))
    });
    Ok(out)
}

fn render_snapshot(dir: &Path, now: i64, workers: &[Worker]) -> String {
    let running = workers.iter().filter(|w| w.state == "running").count();
    let mut s = format!(
        "Workers: {} total, {running} running    {} UTC    {}\n",
        workers.len(),
        datetime(now),
        dir.display()
    );
    let rows: Vec<Vec<String>> = workers
        .iter()
        .map(|w| {
            vec![
                w.pid.to_string(),
                w.thread.map_or("-".into(), |t| t.to_string()),
                w.funcname.clone(),
                match w.state {
                    "running" => "R",
                    "done" => "S",
                    _ => "D",
                }
                .to_string(),
                duration(w.elapsed_secs),
                w.arg.clone(),
            ]
        })
        .collect();
    let cols = [
        num("PID"),
        num("THR"),
        text("FUNC"),
        left("S"),
        num("TIME"),
        text("ARGS"),
    ];
    s.push_str(&render(&cols, &rows));
    s
}

/// Runs `schwartz top`.
pub fn run(a: &TopArgs) -> Result<(), Fail> {
    let dir = scoreboard_dir(a.scoreboard_dir.as_deref())?;
    loop {
        let now = chrono::Utc::now().timestamp();
        let workers = snapshot(&dir, now)?;
        if a.json {
            return print_json(&TopOut {
                directory: dir.display().to_string(),
                time: now,
                workers,
            });
        }
        let text = render_snapshot(&dir, now, &workers);
        let mut out = std::io::stdout().lock();
        if a.once {
            let _ = out.write_all(text.as_bytes());
            return Ok(());
        }
        // Clear the screen, then the snapshot.
        let _ = write!(out, "\x1b[2J\x1b[H{text}");
        let _ = out.flush();
        drop(out);
        std::thread::sleep(Duration::from_secs_f64(a.delay.clamp(0.1, 3600.0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name("scoreboard.123"), Some((123, None)));
        assert_eq!(parse_name("scoreboard.123.4"), Some((123, Some(4))));
        for bad in [
            "scoreboard.",
            "scoreboard.x",
            "scoreboard.1.",
            "scoreboard.1.2.3",
            "other.1",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn files() {
        let me = std::process::id();
        let text = format!("pid={me}\nfuncname=Email\nstarted=100\narg=a=b\n");
        let w = parse_file(&format!("scoreboard.{me}.2"), &text, 165).unwrap();
        assert_eq!((w.pid, w.thread, w.state), (me, Some(2), "running"));
        assert_eq!((w.elapsed_secs, w.arg.as_str()), (65, "a=b"));
        let done = parse_file("scoreboard.7", &format!("{text}done=110\n"), 999).unwrap();
        assert_eq!((done.state, done.elapsed_secs), ("done", 10));
        assert!(parse_file("scoreboard.7", "", 0).is_none());
    }
}
