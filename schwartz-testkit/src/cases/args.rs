//! Argument formats through a store: every format (JSON, Perl Storable, bincode, the
//! bincode written before formats, a Perl-made image) is recognised and decoded by a
//! worker; the client's format; evolving a type; the pre-deploy check.

use std::collections::BTreeMap;

use schwartz_core::arg::{check_pending, encoding_of, scan_pending};
use schwartz_core::{ArgEncoding, ArgFormat};

use super::common::*;

const F: &str = "Args::Email";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EmailV1 {
    to: String,
    tries: u32,
}

/// V1 with an added optional field: old jobs still decode.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct EmailV2 {
    to: String,
    tries: u32,
    cc: Option<String>,
}

/// V1 with an added required field: old jobs do not decode.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct EmailV3 {
    to: String,
    urgent: bool,
}

fn v1(to: &str) -> EmailV1 {
    EmailV1 {
        to: to.into(),
        tries: 3,
    }
}

/// `nfreeze({to => "perl\x{e9}", tries => 3})`, as Perl's Storable 3.26 writes it.
const PERL_IMAGE: &str = "050b03000000020a057065726ce900000002746f0883000000057472696573";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).must("hex"))
        .collect()
}

/// One job per format, grabbed and decoded as the same type; the stored bytes keep their
/// encoding on every backend.
fn every_format_decodes_after_the_store(ctx: &Ctx) {
    let (c, _store) = ctx.client1();
    let legacy = {
        // bincode as Schwartz wrote it before formats: no prefix.
        let mut b = Job::new(F)
            .arg_format(ArgFormat::Bincode)
            .arg(&v1("legacy"))
            .must("bincode")
            .raw_arg_bytes()
            .expect("bytes")
            .to_vec();
        b.drain(..4);
        b
    };
    let jobs = [
        (
            Job::new(F).arg(&v1("json")).must("json"),
            ArgEncoding::Json,
            v1("json"),
        ),
        (
            Job::new(F).perl_arg(&v1("storable")).must("perl_arg"),
            ArgEncoding::Storable,
            v1("storable"),
        ),
        (
            Job::new(F)
                .arg_format(ArgFormat::Bincode)
                .arg(&v1("bincode"))
                .must("bincode"),
            ArgEncoding::Bincode,
            v1("bincode"),
        ),
        (Job::new(F).raw_arg(legacy), ArgEncoding::Raw, v1("legacy")),
        (
            Job::new(F).raw_arg(unhex(PERL_IMAGE)),
            ArgEncoding::Storable,
            v1("perl\u{e9}"),
        ),
    ];
    let mut want = BTreeMap::new();
    for (job, encoding, value) in jobs {
        let h = ins(&c, job);
        want.insert(h.jobid(), (encoding, value));
    }
    while let Some(j) = grab(&c, F) {
        let (encoding, value) = want.remove(&j.jobid()).expect("an inserted job");
        let bytes = j.raw_arg().expect("an argument");
        assert_eq!(encoding_of(bytes), encoding, "job {}", j.jobid());
        assert_eq!(j.arg::<EmailV1>().must("decoding"), value);
        j.completed().must("completed");
    }
    assert!(want.is_empty(), "not grabbed: {want:?}");
}

/// `ClientBuilder::arg_format` chooses the encoding of `Client::job`'s arguments; JSON
/// is the default.
fn client_arg_format(ctx: &Ctx) {
    let c = ctx.client(&[ctx.store()]);
    let h = ins(&c, c.job(F).arg(&v1("a")).must("arg"));
    let perl = ctx
        .builder()
        .store(ctx.store())
        .arg_format(ArgFormat::Storable)
        .build()
        .must("build");
    let h2 = ins(&perl, perl.job(F).arg(&v1("b")).must("arg"));
    let j = lookup(&c, &h);
    assert_eq!(j.raw_arg(), Some(&br#"{"to":"a","tries":3}"#[..]));
    let j2 = lookup(&perl, &h2);
    assert_eq!(
        encoding_of(j2.raw_arg().expect("arg")),
        ArgEncoding::Storable
    );
    assert_eq!(j2.arg::<EmailV1>().must("decode"), v1("b"));
}

/// Jobs queued with V1 decode as V2 (an added optional field) in JSON and Storable; V3
/// (an added required field) fails with the field's name.
fn added_optional_field_keeps_queued_jobs(ctx: &Ctx) {
    let (c, _store) = ctx.client1();
    ins(&c, Job::new(F).arg(&v1("json")).must("arg"));
    ins(&c, Job::new(F).perl_arg(&v1("perl")).must("arg"));
    let mut n = 0;
    while let Some(j) = grab(&c, F) {
        let v2 = j.arg::<EmailV2>().must("V2 decodes V1 jobs");
        assert_eq!((v2.tries, v2.cc), (3, None));
        let e = j
            .arg::<EmailV3>()
            .expect_err("V3 needs a field V1 jobs lack");
        assert!(e.to_string().contains("missing field `urgent`"), "{e}");
        j.completed().must("completed");
        n += 1;
    }
    assert_eq!(n, 2);
}

/// The pre-deploy check reads every pending job, due or not, and lists those the new
/// type cannot decode; the generic scan reports encodings and Storable it cannot read.
fn check_args_lists_jobs_that_would_fail(ctx: &Ctx) {
    let (c, store) = ctx.client1();
    let later = plus(now(&c), 3600);
    let ok = [
        ins(&c, Job::new(F).arg(&v1("a")).must("arg")),
        ins(
            &c,
            Job::new(F).perl_arg(&v1("b")).must("arg").run_after(later),
        ),
    ];
    let garbage = ins(&c, Job::new(F).raw_arg(b"not an email".to_vec()));
    let none = ins(&c, Job::new(F));
    // A Perl object: bless({}, "Foo").
    let blessed = ins(&c, Job::new(F).raw_arg(unhex("050b1103466f6f0300000000")));
    ins(&c, Job::new("Args::Other").arg(&1u8).must("arg"));

    let check = c.check_args::<EmailV2>(F).must("check_args");
    assert_eq!(check.checked, 5);
    let mut failed: Vec<JobId> = check.failures.iter().map(|(h, _)| h.jobid()).collect();
    failed.sort();
    assert_eq!(failed, vec![garbage.jobid(), none.jobid(), blessed.jobid()]);
    let blessed_report = &check
        .failures
        .iter()
        .find(|(h, _)| h.jobid() == blessed.jobid())
        .expect("blessed listed")
        .1;
    assert!(
        blessed_report
            .error
            .as_deref()
            .expect("error")
            .contains("class Foo"),
        "{blessed_report:?}"
    );
    let check = c.check_args::<EmailV3>(F).must("check_args");
    assert_eq!(check.failures.len(), 5);
    assert!(c
        .check_args::<EmailV2>("Args::Nothing")
        .must("check")
        .failures
        .is_empty());

    let scan = scan_pending(&*store, F).must("scan_pending");
    let by_id: BTreeMap<JobId, _> = scan.iter().map(|r| (r.jobid, r)).collect();
    assert_eq!(by_id[&ok[0].jobid()].encoding, Some(ArgEncoding::Json));
    assert_eq!(by_id[&ok[1].jobid()].encoding, Some(ArgEncoding::Storable));
    assert_eq!(by_id[&garbage.jobid()].encoding, Some(ArgEncoding::Raw));
    assert_eq!(by_id[&none.jobid()].encoding, None);
    assert!(by_id[&blessed.jobid()].error.is_some());
    assert!(scan.iter().filter(|r| r.error.is_some()).count() == 1);
    let typed = check_pending::<EmailV1>(&*store, F).must("check_pending");
    assert_eq!(typed.len(), 5);
}

cases!(
    "args";
    every_format_decodes_after_the_store,
    client_arg_format,
    added_optional_field_keeps_queued_jobs,
    check_args_lists_jobs_that_would_fail,
);
