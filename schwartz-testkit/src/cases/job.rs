//! Jobs as values: the `Job` builder and its validation, arguments (typed, raw, scalar,
//! binary, large) round-tripping through a store to a worker, and job handles as text.

use std::collections::BTreeMap;

use super::common::*;

/// Typed arg == the same value encoded by hand (Perl: `new(arg => hash)` equals
/// `new(arg => nfreeze(hash))`).
fn typed_arg_equals_preencoded(ctx: &Ctx) {
    let _ = ctx;
    let typed = job_with("feedmajor", &feed());
    let bytes = encode_arg(&feed()).must("encode_arg");
    let raw = Job::new("feedmajor").raw_arg(bytes.clone());
    assert_eq!(
        typed, raw,
        "typed arg and pre-encoded raw arg give different jobs"
    );
    assert_eq!(typed.raw_arg_bytes(), Some(bytes.as_slice()));
    let back: Feed =
        decode_arg(JobId(1), typed.raw_arg_bytes().expect("arg bytes")).must("decode_arg");
    assert_eq!(
        back,
        feed(),
        "arg does not round-trip through encode/decode"
    );
}

/// A list argument (Perl arrayref) is equal between both ways of building.
fn array_arg_equivalence(ctx: &Ctx) {
    let _ = ctx;
    let list = vec![
        "cheese".to_string(),
        "water".to_string(),
        "beer".to_string(),
    ];
    let a = job_with("feedmajor", &list);
    let b = Job::new("feedmajor").raw_arg(encode_arg(&list).must("encode"));
    assert_eq!(a, b);
    let back: Vec<String> = decode_arg(JobId(7), a.raw_arg_bytes().expect("bytes")).must("decode");
    assert_eq!(back, list);
}

/// `new(funcname => 'feeddog', run_after => now+60, priority => 7, arg => {...},
/// coalesce => 'major', jobid => n)`: every field is kept.
fn builder_sets_every_field(ctx: &Ctx) {
    let _ = ctx;
    let t = plus(chrono::Utc::now(), 60);
    let j = job_with("feeddog", &feed())
        .run_after(t)
        .priority(7)
        .coalesce("major")
        .jobid(JobId(4321))
        .uniqkey("dog-1")
        .grabbed_until(t);
    assert_eq!(j.funcname(), "feeddog");
    assert_eq!(j.run_after_value(), Some(t));
    assert_eq!(j.priority_value(), Some(7));
    assert_eq!(j.coalesce_value(), Some("major"));
    assert_eq!(j.jobid_value(), Some(JobId(4321)));
    assert_eq!(j.uniqkey_value(), Some("dog-1"));
    assert_eq!(j.grabbed_until_value(), Some(t));
    j.validate()
        .must("a job with every field set should validate");
}

/// A bare job has no optional field set.
fn bare_job_has_defaults(ctx: &Ctx) {
    let _ = ctx;
    let j = Job::new("feeddog");
    assert_eq!(j.raw_arg_bytes(), None);
    assert_eq!(j.uniqkey_value(), None);
    assert_eq!(j.run_after_value(), None);
    assert_eq!(j.grabbed_until_value(), None);
    assert_eq!(j.priority_value(), None);
    assert_eq!(j.coalesce_value(), None);
    assert_eq!(j.jobid_value(), None);
    j.validate().must("a bare job should validate");
}

/// Raw bytes are kept byte-exact, including bytes that look like a serialisation header.
fn raw_arg_kept_exact(ctx: &Ctx) {
    let _ = ctx;
    let bytes = b"\x05scalar that begins with the 5 byte".to_vec();
    let j = Job::new("feeddog").raw_arg(bytes.clone());
    assert_eq!(j.raw_arg_bytes(), Some(bytes.as_slice()));
}

/// An empty funcname is refused (Perl dies on a bad constructor call).
fn validate_rejects_empty_funcname(ctx: &Ctx) {
    let _ = ctx;
    assert_err!(Job::new("").validate(), Error::InvalidInput(_));
}

/// A funcname over 255 bytes is refused; 255 is accepted.
fn validate_funcname_length_boundary(ctx: &Ctx) {
    let _ = ctx;
    Job::new("f".repeat(255))
        .validate()
        .must("a 255-byte funcname is valid");
    let e = assert_err!(Job::new("f".repeat(256)).validate(), Error::InvalidInput(_));
    assert!(
        e.to_string().contains("256"),
        "message should give the length: {e}"
    );
}

/// Uniqkeys: empty and over-255-byte keys are refused.
fn validate_rejects_bad_uniqkey(ctx: &Ctx) {
    let _ = ctx;
    assert_err!(
        Job::new("feed").uniqkey("").validate(),
        Error::InvalidInput(_)
    );
    assert_err!(
        Job::new("feed").uniqkey("u".repeat(256)).validate(),
        Error::InvalidInput(_)
    );
    Job::new("feed")
        .uniqkey("u".repeat(255))
        .validate()
        .must("255-byte uniqkey");
}

/// A coalesce value over 255 bytes is refused.
fn validate_rejects_long_coalesce(ctx: &Ctx) {
    let _ = ctx;
    assert_err!(
        Job::new("feed").coalesce("c".repeat(256)).validate(),
        Error::InvalidInput(_)
    );
    Job::new("feed")
        .coalesce("c".repeat(255))
        .validate()
        .must("255-byte coalesce");
}

/// Decoding as the wrong type, or with trailing bytes, is `ArgDecode` naming the job.
fn decode_arg_errors_name_job_and_type(ctx: &Ctx) {
    let _ = ctx;
    let mut bytes = encode_arg(&feed()).must("encode");
    bytes.extend_from_slice(b"junk");
    let e = assert_err!(
        decode_arg::<Feed>(JobId(99), &bytes),
        Error::ArgDecode { .. }
    );
    let text = e.to_string();
    assert!(
        text.contains("99") && text.contains("Feed"),
        "ArgDecode text should name job 99 and the type: {text}"
    );
    assert_err!(decode_arg::<Feed>(JobId(1), b""), Error::ArgDecode { .. });
}

const ADD: &str = "Worker::Addition";

const MERGE: &str = "Worker::MergeInternalDict";

fn addition_client(ctx: &Ctx) -> Client {
    let (c, _s) = ctx.client1();
    can_do(&c, ADD, TestWorker::completing().grab_for(30));
    c
}

/// 1-4. A structured arg round-trips through insert and grab.
fn structured_arg_round_trip(ctx: &Ctx) {
    let c = addition_client(ctx);
    let arg = Numbers {
        numbers: vec![1, 2],
    };
    let h = ins(&c, job_with(ADD, &arg));
    let j = grab(&c, ADD).expect("grab_job found nothing");
    assert_eq!(j.handle(), &h);
    assert_eq!(j.arg::<Numbers>().must("decoding the arg"), arg);
}

fn scalar_round_trip(ctx: &Ctx, bytes: &[u8]) {
    let c = addition_client(ctx);
    let h = ins(&c, Job::new(ADD).raw_arg(bytes.to_vec()));
    let j = grab(&c, ADD).expect("grab_job");
    assert_eq!(j.handle(), &h);
    assert_eq!(j.raw_arg(), Some(bytes), "scalar arg changed on the way");
    let listed = lookup(&c, &h);
    assert_eq!(listed.raw_arg(), Some(bytes));
}

/// 7-10. `"short_arg"` round-trips byte-exact.
fn scalar_short_arg(ctx: &Ctx) {
    scalar_round_trip(ctx, b"short_arg");
}

/// 11-14. `"long arg more than 11 bytes long"` round-trips byte-exact.
fn scalar_long_arg(ctx: &Ctx) {
    scalar_round_trip(ctx, b"long arg more than 11 bytes long");
}

/// 15-18. A scalar whose first byte looks like a serialisation header comes back unchanged.
fn scalar_starting_with_5_byte(ctx: &Ctx) {
    scalar_round_trip(ctx, b"\x05scalar that begins with the 5 byte");
}

/// Every byte value round-trips (binary-safe arg column).
fn binary_arg_all_bytes(ctx: &Ctx) {
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    scalar_round_trip(ctx, &all);
}

/// A large arg (1 MiB) round-trips.
fn large_arg(ctx: &Ctx) {
    let big: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    scalar_round_trip(ctx, &big);
}

/// 19-23. Three dict jobs merged by a worker give the union.
fn merge_internal_dict(ctx: &Ctx) {
    let (c, _s) = ctx.client1();
    let merged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let m = Arc::clone(&merged);
    can_do(
        &c,
        MERGE,
        TestWorker::new(move |job| {
            let d: BTreeMap<String, String> = job.arg()?;
            m.lock().unwrap_or_else(|e| e.into_inner()).extend(d);
            job.completed()?;
            Ok(())
        }),
    );
    for (k, v) in [("foo", "bar"), ("bar", "baz"), ("baz", "foo")] {
        ins(
            &c,
            job_with(MERGE, &BTreeMap::from([(k.to_string(), v.to_string())])),
        );
    }
    assert_eq!(c.work_until_done().must("work_until_done"), 3);
    let got = merged.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let want: BTreeMap<String, String> = [("foo", "bar"), ("bar", "baz"), ("baz", "foo")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
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

cases!(
    "job";
    typed_arg_equals_preencoded,
    array_arg_equivalence,
    builder_sets_every_field,
    bare_job_has_defaults,
    raw_arg_kept_exact,
    validate_rejects_empty_funcname,
    validate_funcname_length_boundary,
    validate_rejects_bad_uniqkey,
    validate_rejects_long_coalesce,
    decode_arg_errors_name_job_and_type,
    structured_arg_round_trip,
    scalar_short_arg,
    scalar_long_arg,
    scalar_starting_with_5_byte,
    binary_arg_all_bytes,
    large_arg,
    merge_internal_dict,
    handle_without_dash,
    handle_bad_hex,
    handle_non_numeric_id,
    handle_empty,
    handle_unknown_store,
);
