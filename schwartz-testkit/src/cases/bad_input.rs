//! Bad input: names, handles, arguments and configuration a caller can get wrong.

use super::common::*;

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

/// `can_do` with an empty or too long name is refused.
fn can_do_bad_name(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    assert_err!(c.can_do("", TestWorker::ok()), Error::InvalidInput(_));
    assert_err!(
        c.can_do(&"n".repeat(256), TestWorker::ok()),
        Error::InvalidInput(_)
    );
    assert!(c.abilities().is_empty());
}

/// Grab and list with bad names are refused rather than sent to the store.
fn grab_and_list_bad_names(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    assert_err!(c.grab_job(""), Error::InvalidInput(_));
    assert_err!(c.list_jobs(&ListJobs::new([""])), Error::InvalidInput(_));
    assert_err!(
        c.find_job_with_coalescing_value(&"f".repeat(256), "v"),
        Error::InvalidInput(_)
    );
}

fn malformed(c: &Client, text: &str) {
    let e = assert_err!(
        c.handle_from_string(text),
        Error::MalformedHandle { .. },
        "for {text:?}"
    );
    assert!(e.to_string().contains("malformed"), "{e}");
    assert_err!(
        text.parse::<JobHandle>(),
        Error::MalformedHandle { .. },
        "parse {text:?}"
    );
}

/// A handle without a dash is malformed.
fn handle_without_dash(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    malformed(&c, "6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a");
}

/// A handle whose hash is not 32 lowercase hex digits is malformed.
fn handle_bad_hex(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    malformed(&c, &format!("{}-1", "zz".repeat(16)));
    malformed(&c, "abc-1");
    malformed(&c, &format!("{}-1", "6A".repeat(16)));
}

/// A handle whose job id is not a number is malformed.
fn handle_non_numeric_id(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    malformed(&c, &format!("{}-abc", "6a".repeat(16)));
    malformed(&c, &format!("{}-", "6a".repeat(16)));
    malformed(&c, &format!("{}--1", "6a".repeat(16)));
    malformed(&c, &format!("{}-1-2", "6a".repeat(16)));
    malformed(&c, &format!("{}-99999999999999999999999", "6a".repeat(16)));
}

/// An empty handle is malformed.
fn handle_empty(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    malformed(&c, "");
}

/// A well-formed handle of an unknown store: `UnknownStore`, message /database.*hash/.
fn handle_unknown_store(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let text = format!("{}-1", "0123456789abcdef".repeat(2));
    for e in [
        assert_err!(c.handle_from_string(&text), Error::UnknownStore { .. }),
        assert_err!(
            c.is_pending(&text.parse().must("parse")),
            Error::UnknownStore { .. }
        ),
        assert_err!(
            c.work_on(&text.parse().must("parse")),
            Error::UnknownStore { .. }
        ),
    ] {
        let msg = e.to_string();
        let at = msg
            .find("database")
            .unwrap_or_else(|| panic!("no 'database' in {msg:?}"));
        assert!(
            msg[at..].contains("hash"),
            "{msg:?} does not match /database.*hash/"
        );
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Wanted {
    name: String,
    count: u64,
}

/// An arg that does not decode as the worker's type fails that job with the ArgDecode
/// text; other jobs are unaffected.
fn arg_decode_mismatch_fails_job(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        "Typed",
        TestWorker::new(|job| {
            let w: Wanted = job.arg()?;
            let _ = (w.name, w.count);
            Ok(())
        }),
    );
    let bytes = vec![0xff_u8, 0xfe, 0xfd];
    let bad = ins(&c, Job::new("Typed").raw_arg(bytes.clone()));
    let good = ins(
        &c,
        job_with(
            "Typed",
            &Wanted {
                name: "x".into(),
                count: 3,
            },
        ),
    );
    assert_eq!(c.work_until_done().must("work_until_done"), 2);
    let expected = decode_arg::<Wanted>(bad.jobid(), &bytes)
        .expect_err("garbage decodes")
        .to_string();
    assert_eq!(failure_log(&c, &bad), vec![expected]);
    assert_eq!(failures(&c, &good), 0);
    assert!(!pending(&c, &good));
}

/// `arg::<T>()` on a job without an argument is `ArgDecode`.
fn arg_missing_is_arg_decode(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let h = ins(&c, Job::new("Typed"));
    let j = lookup(&c, &h);
    assert_err!(j.arg::<Wanted>(), Error::ArgDecode { .. });
    assert!(j.raw_arg().is_none());
}

/// Insert with no stores configured: `NoStore`.
fn insert_with_no_stores(ctx: &Ctx) {
    let c = ctx.builder().build().must("a client without stores builds");
    assert_err!(c.insert(Job::new("f")), Error::NoStore(_));
    assert_err!(c.insert_jobs(vec![Job::new("f")]), Error::NoStore(_));
    assert!(!c.work_once().must("work_once without stores"));
}

/// Builder validation: batch size 0, a clean probability outside 0..=1, two stores with
/// one identity.
fn builder_rejects_bad_config(ctx: &Ctx) {
    let s = ctx.store();
    assert_err!(
        ctx.builder().store(Arc::clone(&s)).batch_size(0).build(),
        Error::InvalidInput(_)
    );
    assert_err!(
        ctx.builder()
            .store(Arc::clone(&s))
            .exit_status_clean_probability(1.5)
            .build(),
        Error::InvalidInput(_)
    );
    assert_err!(
        ctx.builder()
            .store(Arc::clone(&s))
            .exit_status_clean_probability(-0.1)
            .build(),
        Error::InvalidInput(_)
    );
    assert_err!(
        ctx.builder()
            .store(Arc::clone(&s))
            .store(Arc::clone(&s))
            .build(),
        Error::InvalidInput(_)
    );
    let c = ctx.client(&[s]);
    assert_err!(c.set_batch_size(0), Error::InvalidInput(_));
    c.set_batch_size(7).must("set_batch_size(7)");
}

/// A replacement with a bad name refuses the replace and leaves the job untouched.
fn replace_with_bad_job(ctx: &Ctx) {
    let (c, s) = ctx.client1();
    let h = ins(&c, Job::new("f"));
    let j = grab(&c, "f").expect("grab");
    assert_err!(
        j.replace_with(vec![Job::new("ok"), Job::new("")]),
        Error::InvalidInput(_)
    );
    assert!(!j.did_something());
    assert!(pending(&c, &h));
    assert_eq!(stats(&s).jobs, 1);
    j.completed().must("completing after the refused replace");
}

cases!("bad_input";
    empty_funcname,
    long_funcname,
    bad_uniqkey,
    insert_jobs_with_bad_job_inserts_nothing,
    can_do_bad_name,
    grab_and_list_bad_names,
    handle_without_dash,
    handle_bad_hex,
    handle_non_numeric_id,
    handle_empty,
    handle_unknown_store,
    arg_decode_mismatch_fails_job,
    arg_missing_is_arg_decode,
    insert_with_no_stores,
    builder_rejects_bad_config,
    replace_with_bad_job,
);
