//! TheSchwartz's known bugs that we fix (DESIGN.md, "Decisions on TheSchwartz's known
//! bugs"; spec 13.2), and the deliberate change to what a worker's return means.

use super::common::*;

const FN: &str = "Worker::Bugfix";

/// B1: `list_jobs` honours a coalesce value (upstream returned all jobs).
fn list_jobs_honours_coalesce_value(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let a1 = ins(&c, Job::new(FN).coalesce("a1"));
    ins(&c, Job::new(FN).coalesce("a2"));
    ins(&c, Job::new(FN));
    let mut f = ListJobs::new([FN]);
    f.coalesce = Some(CoalesceFilter::Equals("a1".into()));
    let jobs = c.list_jobs(&f).must("list_jobs");
    assert_eq!(jobs.len(), 1, "list_jobs ignored the coalesce filter");
    assert_eq!(jobs[0].handle(), &a1);
}

/// B1: `list_jobs` honours a coalesce prefix (literal `_`/`%`).
fn list_jobs_honours_coalesce_prefix(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new(FN).coalesce("a1"));
    ins(&c, Job::new(FN).coalesce("a2"));
    ins(&c, Job::new(FN).coalesce("b1"));
    ins(&c, Job::new(FN).coalesce("ab"));
    let mut f = ListJobs::new([FN]);
    f.coalesce = Some(CoalesceFilter::Prefix("a".into()));
    let mut keys: Vec<String> = c
        .list_jobs(&f)
        .must("list_jobs")
        .iter()
        .filter_map(|j| j.coalesce().map(str::to_string))
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["a1", "a2", "ab"]);
    f.coalesce = Some(CoalesceFilter::Prefix("_".into()));
    assert!(
        c.list_jobs(&f).must("list_jobs").is_empty(),
        "'_' matched as a wildcard"
    );
}

fn replacer(ctx: &Ctx) -> (Client, Arc<dyn Store>) {
    let (c, s) = ctx.client1();
    can_do(
        &c,
        "Replacer",
        TestWorker::new(|job| {
            job.replace_with(vec![
                Job::new("Target").uniqkey("fresh"),
                Job::new("Target").uniqkey("k1"),
            ])?;
            Ok(())
        })
        .max_retries(10),
    );
    can_do(&c, "Target", TestWorker::completing());
    (c, s)
}

/// B2: a replacement colliding on its uniqkey fails the whole replace: the original stays,
/// no replacement is inserted, a failure is recorded, and the job is retried.
fn replace_with_collision_all_or_nothing(ctx: &Ctx) {
    let (c, s) = replacer(ctx);
    let existing = ins(&c, Job::new("Target").uniqkey("k1"));
    let h = ins(&c, Job::new("Replacer"));
    let j = grab(&c, "Replacer").expect("grab");
    let outcome = c.work_safely(j).must("work_safely");
    assert_eq!(outcome, WorkOutcome::Failed { will_retry: true });
    assert!(pending(&c, &h), "the original job was lost");
    assert_eq!(failures(&c, &h), 1, "the failed replace was not recorded");
    let targets = list(&c, &["Target"]);
    assert_eq!(targets.len(), 1, "a partial replace inserted jobs");
    assert_eq!(targets[0].handle(), &existing);
    assert_eq!(stats(&s).jobs, 2);
}

/// B2: the retried replace succeeds once the collision is gone.
fn replace_with_retried_after_collision(ctx: &Ctx) {
    let (c, _s) = replacer(ctx);
    let existing = ins(&c, Job::new("Target").uniqkey("k1"));
    let h = ins(&c, Job::new("Replacer"));
    let j = grab(&c, "Replacer").expect("grab");
    c.work_safely(j).must("work_safely");
    let t = grab(&c, "Target").expect("the existing target");
    assert_eq!(t.handle(), &existing);
    t.completed().must("completing the target");
    let j = grab(&c, "Replacer").expect("the retry");
    assert_eq!(c.work_safely(j).must("work_safely"), WorkOutcome::Replaced);
    assert!(!pending(&c, &h));
    let mut keys: Vec<String> = list(&c, &["Target"])
        .iter()
        .filter_map(|j| j.uniqkey().map(str::to_string))
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["fresh", "k1"]);
}

/// B2 at the API: `replace_with` returns `DuplicateUniqkey` and changes nothing.
fn replace_with_collision_error(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    ins(&c, Job::new("Target").uniqkey("k1"));
    let h = ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("grab");
    let r = j.replace_with(vec![
        Job::new("Target").uniqkey("new"),
        Job::new("Target").uniqkey("k1"),
    ]);
    assert_err!(r, Error::DuplicateUniqkey { .. });
    assert!(!j.did_something(), "a refused replace counts as an outcome");
    assert_eq!(list(&c, &["Target"]).len(), 1);
    j.completed().must("the job can still be completed");
    assert!(!pending(&c, &h));
}

/// B3: `insert_jobs` fails over to the next store when one is unreachable.
fn insert_jobs_fails_over(ctx: &Ctx) {
    let missing = ctx.missing_store();
    let good = ctx.store();
    let c = ctx.client(&[missing, Arc::clone(&good)]);
    let gh = StoreHash::of(&good.identity());
    for round in 0..10 {
        c.clear_dead();
        let hs = c
            .insert_jobs(vec![Job::new(FN), Job::new(FN)])
            .unwrap_or_else(|e| panic!("round {round}: insert_jobs did not fail over: {e}"));
        assert_eq!(hs.len(), 2);
        assert!(hs.iter().all(|h| h.store() == &gh));
    }
    assert_eq!(stats(&good).jobs, 20);
}

/// `insert` fails over too, whatever the store order.
fn insert_fails_over(ctx: &Ctx) {
    let good = ctx.store();
    let c = ctx.client(&[Arc::clone(&good), ctx.missing_store()]);
    for round in 0..10 {
        c.clear_dead();
        c.insert(Job::new(FN))
            .unwrap_or_else(|e| panic!("round {round}: insert did not fail over: {e}"));
    }
    assert_eq!(stats(&good).jobs, 10);
}

/// B4: a 10,000-character error message is stored (truncated to the column if needed, at
/// a character boundary) and the worker carries on.
fn long_error_message_truncated(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let long: String = "é".repeat(5_000) + &"x".repeat(5_000);
    let msg = long.clone();
    can_do(&c, FN, TestWorker::new(move |_| Err(werr(msg.clone()))));
    let h = ins(&c, Job::new(FN));
    let h2 = ins(&c, Job::new(FN));
    assert!(work_once(&c), "work_once with a long error message");
    assert!(
        work_once(&c),
        "the worker did not carry on after a long error message"
    );
    for h in [&h, &h2] {
        let log = failure_log(&c, h);
        assert_eq!(log.len(), 1, "the failure was not recorded");
        let stored = &log[0];
        assert!(
            long.starts_with(stored.as_str()),
            "stored message is not a prefix of the original"
        );
        assert!(
            stored.chars().count() >= 255,
            "message cut below 255 characters ({})",
            stored.chars().count()
        );
        assert!(!pending(&c, h), "the job stayed leased");
    }
}

/// B5: a second exit status for a job id is an upsert (upstream: a PK violation that
/// crashed the worker).
fn second_exit_status_upsert(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, "Done", TestWorker::completing().keep(100));
    can_do(
        &c,
        "Fail",
        TestWorker::new(|job| Ok(job.permanent_failure_with_status("no", 7)?)).keep(100),
    );
    let h = ins(&c, Job::new("Done").jobid(JobId(777)));
    assert!(work_once(&c));
    assert_eq!(exit_status(&c, &h), Some(0));
    // The same job id again (the first row is gone, its exit status is not).
    let h2 = ins(&c, Job::new("Fail").jobid(JobId(777)));
    assert_eq!(h2, h);
    assert!(work_once(&c), "the second exit status crashed work_once");
    assert_eq!(
        exit_status(&c, &h),
        Some(7),
        "the second exit status did not replace the first"
    );
}

/// B11: with several stores a uniqkey job goes to one home store, so a duplicate is
/// refused across stores (upstream: one duplicate per database).
fn uniqkey_home_store_two_stores(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    let first = ins(&c, Job::new(FN).uniqkey("major"));
    for i in 0..10 {
        assert_err!(
            c.insert(Job::new(FN).uniqkey("major")),
            Error::DuplicateUniqkey { .. },
            "attempt {i}"
        );
    }
    let total: u64 = stores.iter().map(|s| stats(s).jobs).sum();
    assert_eq!(total, 1);
    assert_eq!(
        first.store(),
        &c.home_stores(FN, "major")[0],
        "not in its home store"
    );
}

/// B11 with three stores and many keys: each key once, every duplicate refused.
fn uniqkey_home_store_three_stores(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(3);
    for k in 0..30 {
        ins(&c, Job::new(FN).uniqkey(format!("key-{k}")));
    }
    for k in 0..30 {
        assert_err!(
            c.insert(Job::new(FN).uniqkey(format!("key-{k}"))),
            Error::DuplicateUniqkey { .. },
            "key-{k}"
        );
        assert_err!(
            c.insert_jobs(vec![Job::new(FN).uniqkey(format!("key-{k}"))]),
            Error::DuplicateUniqkey { .. },
            "insert_jobs key-{k}"
        );
    }
    let counts: Vec<u64> = stores.iter().map(|s| stats(s).jobs).collect();
    assert_eq!(counts.iter().sum::<u64>(), 30);
    assert!(
        counts.iter().filter(|n| **n > 0).count() >= 2,
        "keys not spread over home stores: {counts:?}"
    );
}

/// A second client over the same stores agrees on home stores.
fn uniqkey_home_store_shared_by_clients(ctx: &Ctx) {
    let stores = ctx.stores(3);
    let a = ctx.client(&stores);
    let b = ctx.client(&[
        Arc::clone(&stores[2]),
        Arc::clone(&stores[0]),
        Arc::clone(&stores[1]),
    ]);
    for k in 0..10 {
        ins(&a, Job::new(FN).uniqkey(format!("k{k}")));
        assert_err!(
            b.insert(Job::new(FN).uniqkey(format!("k{k}"))),
            Error::DuplicateUniqkey { .. },
            "k{k}"
        );
    }
}

/// B15: the funcmap cache reloads on a miss: a function created by another client after
/// this one loaded its cache resolves.
fn funcmap_cache_reload_on_miss(ctx: &Ctx) {
    let s = ctx.store();
    let a = ctx.client(&[Arc::clone(&s)]);
    let b = ctx.client(&[Arc::clone(&s)]);
    ins(&a, Job::new("loaded_first"));
    let _ = list(&a, &["loaded_first"]);
    let hb = ins(&b, Job::new("created_by_b"));
    let j = lookup(&a, &hb);
    assert_eq!(j.funcname(), "created_by_b");
    let listed = list(&a, &["created_by_b"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].funcname(), "created_by_b");
}

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

/// Deliberate change: `Ok(())` from `work` completes the job (upstream: falling through
/// without an outcome was a failure).
fn ok_completes(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, FN, TestWorker::ok().keep(100));
    let h = ins(&c, Job::new(FN));
    let j = grab(&c, FN).expect("grab");
    assert_eq!(c.work_safely(j).must("work_safely"), WorkOutcome::Completed);
    assert!(!pending(&c, &h));
    assert_eq!(failures(&c, &h), 0);
    assert_eq!(exit_status(&c, &h), Some(0));
}

/// `Err(e)` from `work` fails the job with e's text.
fn err_fails_with_text(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|_| Err(werr("custom failure text"))).keep(100),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert_eq!(failure_log(&c, &h), vec!["custom failure text".to_string()]);
    assert_eq!(exit_status(&c, &h), Some(1));
    assert!(!pending(&c, &h));
}

/// A panic in `work` is a failure with the panic message; the client carries on.
fn panic_recorded_as_failure(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| {
            if job.raw_arg() == Some(b"boom".as_slice()) {
                panic!("the widget exploded: {}", 42);
            }
            Ok(())
        })
        .max_retries(1),
    );
    let h = ins(&c, Job::new(FN).raw_arg(b"boom".to_vec()));
    let fine = ins(&c, Job::new(FN).raw_arg(b"fine".to_vec()));
    assert_eq!(c.work_until_done().must("work_until_done after a panic"), 3);
    let log = failure_log(&c, &h);
    assert_eq!(log.len(), 2);
    assert!(
        log.iter().all(|m| m.contains("the widget exploded: 42")),
        "panic message not recorded: {log:?}"
    );
    assert!(!pending(&c, &h));
    assert!(!pending(&c, &fine));
    assert_eq!(failures(&c, &fine), 0);
}

/// A panic with a non-string payload is still a failure.
fn panic_any_payload_recorded(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(&c, FN, TestWorker::new(|_| std::panic::panic_any(17_u32)));
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert_eq!(failures(&c, &h), 1);
    assert!(!pending(&c, &h));
}

/// An outcome written by the worker stands: a later `Err` or panic is not a second
/// outcome (upstream: `failed` on a finished job is refused and logged).
fn explicit_outcome_then_error_or_panic(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "FailThenErr",
        TestWorker::new(|job| {
            job.failed("first")?;
            Err(werr("second"))
        })
        .max_retries(5),
    );
    can_do(
        &c,
        "CompleteThenPanic",
        TestWorker::new(|job| {
            job.completed()?;
            panic!("after completing")
        }),
    );
    let h1 = ins(&c, Job::new("FailThenErr"));
    let h2 = ins(&c, Job::new("CompleteThenPanic"));
    let j = grab(&c, "FailThenErr").expect("grab");
    c.work_safely(j).must("work_safely");
    assert_eq!(failure_log(&c, &h1), vec!["first".to_string()]);
    assert!(pending(&c, &h1), "the recorded failure has retries left");
    let j = grab(&c, "CompleteThenPanic").expect("grab");
    c.work_safely(j).must("work_safely");
    assert!(!pending(&c, &h2));
    assert_eq!(
        failures(&c, &h2),
        0,
        "a panic after completing was recorded"
    );
}

/// `declined()` is not an outcome: an `Err` afterwards fails the job.
fn declined_then_error_fails(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        FN,
        TestWorker::new(|job| {
            job.declined()?;
            Err(werr("changed my mind"))
        }),
    );
    let h = ins(&c, Job::new(FN));
    assert!(work_once(&c));
    assert_eq!(failure_log(&c, &h), vec!["changed my mind".to_string()]);
    assert!(!pending(&c, &h));
}

cases!("bugfix";
    explicit_outcome_then_error_or_panic,
    declined_then_error_fails,
    list_jobs_honours_coalesce_value,
    list_jobs_honours_coalesce_prefix,
    replace_with_collision_all_or_nothing,
    replace_with_retried_after_collision,
    replace_with_collision_error,
    insert_jobs_fails_over,
    insert_fails_over,
    long_error_message_truncated,
    second_exit_status_upsert,
    uniqkey_home_store_two_stores,
    uniqkey_home_store_three_stores,
    uniqkey_home_store_shared_by_clients,
    funcmap_cache_reload_on_miss,
    scoreboard_of_other_process_kept,
    ok_completes,
    err_fails_with_text,
    panic_recorded_as_failure,
    panic_any_payload_recorded,
);
