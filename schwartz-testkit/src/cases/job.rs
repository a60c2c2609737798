//! `t/05-job-ctor.t` (spec 8.2): building jobs, no database.
//!
//! Perl builds jobs from hashes, Storable-frozen strings and references to them and
//! compares `column_values`. Here the equivalent is the `Job` builder: a typed argument
//! equals the same value pre-encoded and given as raw bytes; misspelt columns and wrong
//! argument counts are compile errors in Rust, so the "dies" checks become `validate`
//! refusing names a store would reject.

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

cases!("job_ctor";
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
);
