//! The scoreboard: one file per worker process, what each line holds, when it is
//! rewritten and removed, and other processes' files left alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::common::*;
use schwartz_core::ScoreboardDir;

const ADD: &str = "Worker::Addition";

fn board_client(ctx: &Ctx, dir: &Path) -> Client {
    let c = ctx
        .builder()
        .store(ctx.store())
        .scoreboard(ScoreboardDir::Path(dir.to_path_buf()))
        .build()
        .must("building a client with a scoreboard");
    can_do(&c, ADD, TestWorker::ok());
    c
}

fn parse(path: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading scoreboard {}: {e}", path.display()));
    let mut map = BTreeMap::new();
    let mut keys = Vec::new();
    for line in text.lines() {
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("scoreboard line without '=': {line:?}"));
        keys.push(k.to_string());
        map.insert(k.to_string(), v.to_string());
    }
    (map, keys)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inserts a Worker::Addition job with `arg`, grabs and works it.
fn work_one(c: &Client, job: Job) -> PathBuf {
    ins(c, job);
    let j = grab(c, ADD).expect("grab_job");
    c.work_safely(j).must("work_safely");
    let p = c
        .scoreboard_path()
        .expect("scoreboard_path with scoreboards on");
    assert!(
        p.exists(),
        "scoreboard file {} missing after a job",
        p.display()
    );
    p
}

/// 1. The scoreboard directory `<dir>/theschwartz` is created at build time.
fn directory_created(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let p = c.scoreboard_path().expect("scoreboard_path");
    let parent = p.parent().expect("file has a parent");
    assert_eq!(parent, tmp.path().join("theschwartz"));
    assert!(parent.is_dir());
}

/// 2-5. Working a job writes the file: our pid and the funcname.
fn file_has_pid_and_funcname(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let p = work_one(
        &c,
        job_with(
            ADD,
            &Numbers {
                numbers: vec![1, 2],
            },
        ),
    );
    let (m, keys) = parse(&p);
    assert_eq!(m.get("pid"), Some(&std::process::id().to_string()));
    assert_eq!(m.get("funcname").map(String::as_str), Some(ADD));
    assert_eq!(
        keys,
        vec!["pid", "funcname", "started", "arg", "done"],
        "line order"
    );
}

/// 6-7. `started` is numeric and not in the future (server clock).
fn started_is_grab_time(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let before = now(&c).timestamp();
    let p = work_one(&c, Job::new(ADD));
    let (m, _) = parse(&p);
    let started: i64 = m["started"]
        .parse()
        .unwrap_or_else(|_| panic!("started not numeric: {:?}", m["started"]));
    assert!(
        started <= now(&c).timestamp(),
        "started {started} is in the future"
    );
    assert!(
        started >= before - 1,
        "started {started} is before the grab ({before})"
    );
}

/// 8. The arg line: a typed arg's encoded bytes (JSON by default, so shown as text).
fn arg_line_typed(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let arg = Numbers {
        numbers: vec![1, 2],
    };
    let p = work_one(&c, job_with(ADD, &arg));
    let (m, _) = parse(&p);
    let want = String::from_utf8(encode_arg(&arg).must("encode")).must("JSON text");
    assert_eq!(want, r#"{"numbers":[1,2]}"#);
    assert_eq!(m["arg"], want);
}

/// The arg line: printable text as itself, binary as hex, cut to 200 characters.
fn arg_line_text_binary_and_cut(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let p = work_one(&c, Job::new(ADD).raw_arg(b"numbers=1,2".to_vec()));
    assert_eq!(parse(&p).0["arg"], "numbers=1,2");
    let p = work_one(&c, Job::new(ADD).raw_arg(b"\x05\x00bin".to_vec()));
    assert_eq!(parse(&p).0["arg"], hex(b"\x05\x00bin"));
    let p = work_one(&c, Job::new(ADD).raw_arg("y".repeat(500).into_bytes()));
    assert_eq!(parse(&p).0["arg"], "y".repeat(200));
    let p = work_one(&c, Job::new(ADD));
    assert_eq!(parse(&p).0["arg"], "", "no arg: empty arg line");
}

/// 9. `done` is numeric and not before `started`.
fn done_line_numeric(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let p = work_one(&c, Job::new(ADD));
    let (m, _) = parse(&p);
    let done: i64 = m
        .get("done")
        .expect("done line")
        .parse()
        .expect("done numeric");
    let started: i64 = m["started"].parse().expect("started numeric");
    assert!(done >= started, "done {done} < started {started}");
}

/// Each job rewrites the file (truncate): one set of lines, the latest job's.
fn rewritten_per_job(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    can_do(&c, "Worker::Other", TestWorker::ok());
    work_one(&c, Job::new(ADD));
    ins(&c, Job::new("Worker::Other"));
    let j = grab(&c, "Worker::Other").expect("grab");
    c.work_safely(j).must("work_safely");
    let (m, keys) = parse(&c.scoreboard_path().expect("path"));
    assert_eq!(keys.len(), 5, "file not truncated between jobs: {keys:?}");
    assert_eq!(m["funcname"], "Worker::Other");
}

/// 10. Dropping the client removes its file.
fn removed_when_client_dropped(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let p = work_one(&c, Job::new(ADD));
    drop(c);
    assert!(
        !p.exists(),
        "scoreboard {} left behind after the client was dropped",
        p.display()
    );
    assert!(
        p.parent().expect("parent").is_dir(),
        "the directory must stay"
    );
}

/// Dropping one clone keeps the file; the last clone removes it (Perl: a forked child's
/// copy of the client deleted the parent's file, B21).
fn clone_drop_keeps_file(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let c = board_client(ctx, tmp.path());
    let p = work_one(&c, Job::new(ADD));
    let copy = c.clone();
    drop(copy);
    assert!(p.exists(), "dropping a clone removed the scoreboard");
    drop(c);
    assert!(!p.exists());
}

/// Without a scoreboard there is no path and nothing is written.
fn no_scoreboard_by_default(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    assert!(c.scoreboard_path().is_none());
}

static AUTO_DIR: Mutex<()> = Mutex::new(());

/// Scoreboard `1`/`on`: the first existing of /var/run, /dev/shm, plus `theschwartz/`.
fn auto_directory(ctx: &Ctx) {
    // One file per process in a shared directory: serialise the backends' runs of this case.
    let _g = AUTO_DIR.lock().unwrap_or_else(|e| e.into_inner());
    let base = ["/var/run", "/dev/shm"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_dir())
        .unwrap_or(Path::new("/dev/shm"));
    let c = ctx
        .builder()
        .store(ctx.store())
        .scoreboard(ScoreboardDir::Auto)
        .build()
        .must("client with ScoreboardDir::Auto");
    can_do(&c, ADD, TestWorker::ok());
    let p = work_one(&c, Job::new(ADD));
    assert_eq!(p.parent().expect("parent"), base.join("theschwartz"));
    assert_eq!(parse(&p).0["funcname"], ADD);
    drop(c);
    assert!(!p.exists());
}

/// A scoreboard directory that cannot be created fails the build with `Error::Scoreboard`.
fn uncreatable_directory_fails_build(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").must("writing a file");
    let r = ctx
        .builder()
        .store(ctx.store())
        .scoreboard(ScoreboardDir::Path(file.join("below-a-file")))
        .build();
    assert_err!(r, Error::Scoreboard { .. });
}

const FN: &str = "Worker::Scoreboard";

/// B21: a scoreboard file of another process is never removed.
fn scoreboard_of_other_process_kept(ctx: &Ctx) {
    let tmp = tempfile::tempdir().must("tempdir");
    let dir = tmp.path().join("theschwartz");
    std::fs::create_dir(&dir).must("creating the scoreboard dir");
    let other = dir.join(format!("scoreboard.{}", std::process::id().wrapping_add(1)));
    std::fs::write(&other, "pid=1\nfuncname=Other\n").must("writing a foreign scoreboard");
    let c = ctx
        .builder()
        .store(ctx.store())
        .scoreboard(schwartz_core::ScoreboardDir::Path(tmp.path().to_path_buf()))
        .build()
        .must("client");
    can_do(&c, FN, TestWorker::ok());
    ins(&c, Job::new(FN));
    assert!(work_once(&c));
    let mine = c.scoreboard_path().expect("scoreboard path");
    assert_ne!(mine, other);
    drop(c);
    assert!(!mine.exists(), "our scoreboard was not removed");
    assert!(other.exists(), "another process's scoreboard was removed");
    assert_eq!(
        std::fs::read_to_string(&other).must("read"),
        "pid=1\nfuncname=Other\n"
    );
}

cases!(
    "scoreboard";
    directory_created,
    file_has_pid_and_funcname,
    started_is_grab_time,
    arg_line_typed,
    arg_line_text_binary_and_cut,
    done_line_numeric,
    rewritten_per_job,
    removed_when_client_dropped,
    clone_drop_keeps_file,
    no_scoreboard_by_default,
    auto_directory,
    uncreatable_directory_fails_build,
    scoreboard_of_other_process_kept,
);
