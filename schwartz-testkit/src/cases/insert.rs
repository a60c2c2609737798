//! Inserting jobs: the handle an insert returns and what a lookup through it finds,
//! batch inserts (all or nothing), the `on_insert` hook, and inserts the client refuses
//! (bad names, bad uniqkeys) before touching a store.

use super::common::*;

/// 1. `insert('feedmajor', {...})` returns a handle of this store.
fn insert_returns_handle(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, job_with("feedmajor", &feed()));
    assert_eq!(
        h.store(),
        &StoreHash::of(&s.identity()),
        "handle names another store"
    );
    assert!(
        h.jobid().0 > 0,
        "job id should be positive, got {}",
        h.jobid()
    );
}

/// 2-3. A new job is pending and has no exit status.
fn new_job_pending_without_exit_status(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, job_with("feedmajor", &feed()));
    assert!(pending(&c, &h), "a just-inserted job is not pending");
    assert_eq!(
        exit_status(&c, &h),
        None,
        "a pending job has an exit status"
    );
    assert_eq!(failures(&c, &h), 0);
    assert!(failure_log(&c, &h).is_empty());
}

/// 4. The handle string is `<32 lowercase hex>-<jobid>`.
fn handle_string_format(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new("feedmajor"));
    let text = h.to_string();
    let (hash, id) = text.split_once('-').expect("handle string has a dash");
    assert_eq!(hash.len(), 32, "hash part of {text:?}");
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{text:?}"
    );
    assert_eq!(hash, StoreHash::of(&s.identity()).as_str());
    assert_eq!(id, h.jobid().to_string());
}

/// 5-7. `handle->job`: the job, its funcname and a positive insert time.
fn lookup_job_via_handle(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let before = now(&c);
    let h = ins(&c, job_with("feedmajor", &feed()));
    let j = lookup(&c, &h);
    assert_eq!(j.funcname(), "feedmajor");
    assert_eq!(j.handle(), &h);
    assert_eq!(j.jobid(), h.jobid());
    let it = j.insert_time().expect("insert_time is set");
    assert!(it.timestamp() > 0, "insert_time should be > 0");
    assert!(
        it >= plus(before, -2),
        "insert_time {it} is before the insert ({before})"
    );
    assert_eq!(j.arg::<Feed>().must("decoding arg"), feed());
}

/// 8-12. `handle_from_string(as_string)` gives an equal, working handle.
fn handle_from_string_round_trip(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, job_with("feedmajor", &feed()));
    let h2 = c
        .handle_from_string(&h.to_string())
        .must("handle_from_string");
    assert_eq!(h2, h);
    assert!(pending(&c, &h2));
    assert_eq!(exit_status(&c, &h2), None);
    assert_eq!(lookup(&c, &h2).funcname(), "feedmajor");
}

/// 15-16. A job with run_after, priority, arg, coalesce and an explicit jobid inserts,
/// honouring the jobid.
fn insert_job_with_all_fields(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let ra = plus(now(&c), 60);
    let h = ins(
        &c,
        job_with("feedmajor", &feed())
            .run_after(ra)
            .priority(7)
            .coalesce("major")
            .jobid(JobId(3571)),
    );
    assert_eq!(h.jobid(), JobId(3571), "explicit jobid not honoured");
    let j = lookup(&c, &h);
    assert_eq!(j.priority(), Some(7));
    assert_eq!(j.coalesce(), Some("major"));
    assert_eq!(j.run_after().timestamp(), ra.timestamp());
    assert_eq!(j.grabbed_until().timestamp(), 0, "a new job is not leased");
    assert_eq!(j.arg::<Feed>().must("arg"), feed());
}

/// 17-19. `insert_jobs(j1, j2)` returns two handles in one store.
fn insert_jobs_returns_handles(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let hs = c
        .insert_jobs(vec![
            job_with("feedmajor", &feed()),
            job_with("feedmajor", &feed()),
        ])
        .must("insert_jobs");
    assert_eq!(hs.len(), 2);
    assert_ne!(hs[0], hs[1]);
    for h in &hs {
        assert_eq!(h.store(), &StoreHash::of(&s.identity()));
        assert!(pending(&c, h));
    }
    assert_eq!(stats(&s).jobs, 2);
}

/// 20-24. A scalar arg job inserts; `lookup_job(handle string)` gives a job whose handle
/// prints the same.
fn scalar_arg_lookup(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let text = b"gruel that's longer than 11 bytes, for sure!".to_vec();
    let h = ins(&c, Job::new("feedmajor").raw_arg(text.clone()));
    let parsed = c
        .handle_from_string(&h.to_string())
        .must("handle_from_string");
    let j = lookup(&c, &parsed);
    assert_eq!(j.handle().to_string(), h.to_string());
    assert_eq!(j.raw_arg(), Some(text.as_slice()));
}

/// 25-27. A handle for an unknown database fails with a message matching
/// /database.*hash/ (and nothing about drivers).
fn lookup_unknown_store_hash(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let text = format!("{}-666", "6a".repeat(16));
    let e = assert_err!(c.handle_from_string(&text), Error::UnknownStore { .. });
    let msg = e.to_string();
    assert!(!msg.contains("No Driver"), "{msg}");
    let at = msg
        .find("database")
        .unwrap_or_else(|| panic!("no 'database' in {msg:?}"));
    assert!(
        msg[at..].contains("hash"),
        "message does not match /database.*hash/: {msg:?}"
    );
    let parsed: JobHandle = text.parse().must("parsing a well-formed handle");
    let e = assert_err!(c.lookup_job(&parsed), Error::UnknownStore { .. });
    assert!(
        e.to_string().contains(&"6a".repeat(16)),
        "message should give the hash: {e}"
    );
}

/// A handle whose job is gone looks up as `None` (not an error).
fn lookup_gone_job_is_none(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = JobHandle::new(h0(&c), JobId(987_654));
    assert!(c.lookup_job(&h).must("lookup_job").is_none());
    assert!(!pending(&c, &h));
    assert_eq!(exit_status(&c, &h), None);
    assert_eq!(failures(&c, &h), 0);
}

/// A job without an argument has none.
fn insert_without_arg(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new("feedmajor"));
    assert_eq!(lookup(&c, &h).raw_arg(), None);
}

/// The store hash is the MD5 of the store's identity, one per configured store, in order.
fn store_hashes_are_md5_of_identity(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(2);
    let expected: Vec<StoreHash> = stores
        .iter()
        .map(|s| StoreHash::of(&s.identity()))
        .collect();
    assert_eq!(c.store_hashes(), expected);
    assert_ne!(expected[0], expected[1], "two databases share an identity");
    for (h, s) in expected.iter().zip(&stores) {
        let got = c.store(h).expect("client.store(hash)");
        assert_eq!(got.identity(), s.identity());
    }
    assert!(c.store(&StoreHash::from_hex("6a".repeat(16))).is_none());
}

/// `insert_jobs` with an empty list returns no handles and inserts nothing.
fn insert_jobs_empty_list(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let hs = c.insert_jobs(Vec::new()).must("insert_jobs([])");
    assert!(hs.is_empty());
    assert_eq!(stats(&s).jobs, 0);
}

/// Jobs of one `insert_jobs` land in one store even with several configured.
fn insert_jobs_one_store(ctx: &Ctx) {
    let (c, stores) = ctx.client_n(3);
    for round in 0..10 {
        let hs = c
            .insert_jobs((0..4).map(|_| Job::new("feedmajor")).collect())
            .must("insert_jobs");
        assert_eq!(hs.len(), 4);
        assert!(
            hs.iter().all(|h| h.store() == hs[0].store()),
            "round {round}: jobs split over stores: {hs:?}"
        );
    }
    let total: u64 = stores.iter().map(|s| stats(s).jobs).sum();
    assert_eq!(total, 40);
}

const FN: &str = "Worker::Insert";

/// `on_insert` callbacks see every successful insert, with the store's hash.
fn on_insert_called(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let r: Rec<StoreHash> = rec();
    let r2 = r.clone();
    c.on_insert(move |h| push(&r2, h.clone()));
    ins(&c, Job::new(FN));
    c.insert_jobs(vec![Job::new(FN), Job::new(FN)])
        .must("insert_jobs");
    let _ = c.insert(Job::new(""));
    let got = seen(&r);
    assert!(got.len() >= 2, "on_insert saw {} inserts", got.len());
    assert!(got.iter().all(|h| *h == h0(&c)));
}

/// `insert_jobs` is all-or-nothing on a failure other than a uniqkey collision too (an
/// explicit job id that is taken), and nothing is left behind.
fn insert_jobs_atomic_on_jobid_collision(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    ins(&c, Job::new(FN).jobid(JobId(500)));
    let r = c.insert_jobs(vec![
        Job::new(FN).uniqkey("new"),
        Job::new(FN).jobid(JobId(500)),
    ]);
    assert!(
        r.is_err(),
        "insert_jobs with a taken job id succeeded: {r:?}"
    );
    assert_eq!(stats(&s).jobs, 1, "a failed insert_jobs left rows behind");
    c.clear_dead();
    ins(&c, Job::new(FN).uniqkey("new"));
}

/// An empty funcname is refused at insert (`InvalidInput`), nothing written.
fn empty_funcname(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    assert_err!(c.insert(Job::new("")), Error::InvalidInput(_));
    assert_eq!(stats(&s).jobs, 0);
    assert!(!c.is_dead(&h0(&c)), "bad input marked the store dead");
}

/// A funcname over 255 bytes is refused; exactly 255 is accepted.
fn long_funcname(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    assert_err!(c.insert(Job::new("f".repeat(256))), Error::InvalidInput(_));
    // 255 bytes made of 2-byte characters plus one ASCII byte.
    let name = "é".repeat(127) + "x";
    assert_eq!(name.len(), 255);
    let h = ins(&c, Job::new(name.clone()));
    assert_eq!(lookup(&c, &h).funcname(), name);
    assert_eq!(stats(&s).jobs, 1);
}

/// Empty and over-255-byte uniqkeys are refused.
fn bad_uniqkey(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    assert_err!(c.insert(Job::new("f").uniqkey("")), Error::InvalidInput(_));
    assert_err!(
        c.insert(Job::new("f").uniqkey("u".repeat(256))),
        Error::InvalidInput(_)
    );
    assert_eq!(stats(&s).jobs, 0);
    let h = ins(&c, Job::new("f").uniqkey("u".repeat(255)));
    assert_eq!(lookup(&c, &h).uniqkey().map(str::len), Some(255));
}

/// One bad job in `insert_jobs` refuses the whole batch, whatever its position.
fn insert_jobs_with_bad_job_inserts_nothing(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    assert_err!(
        c.insert_jobs(vec![Job::new("ok"), Job::new("")]),
        Error::InvalidInput(_)
    );
    assert_err!(
        c.insert_jobs(vec![
            Job::new("ok").coalesce("c".repeat(300)),
            Job::new("ok")
        ]),
        Error::InvalidInput(_)
    );
    assert_eq!(stats(&s).jobs, 0);
}

cases!(
    "insert";
    insert_returns_handle,
    new_job_pending_without_exit_status,
    handle_string_format,
    lookup_job_via_handle,
    handle_from_string_round_trip,
    insert_job_with_all_fields,
    insert_jobs_returns_handles,
    scalar_arg_lookup,
    lookup_unknown_store_hash,
    lookup_gone_job_is_none,
    insert_without_arg,
    store_hashes_are_md5_of_identity,
    insert_jobs_empty_list,
    insert_jobs_one_store,
    insert_jobs_atomic_on_jobid_collision,
    on_insert_called,
    empty_funcname,
    long_funcname,
    bad_uniqkey,
    insert_jobs_with_bad_job_inserts_nothing,
);
