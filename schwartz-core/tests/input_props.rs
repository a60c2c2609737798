//! Property tests for the parsers and validators of caller input: job handles and `Job`
//! validation. Each prints a summary line (inputs tried, panics, clear errors, wrong
//! results) for the record; panics and wrong results must be 0.

use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use schwartz_core::{Error, Job, JobHandle, JobId};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[derive(Default, Debug)]
struct Tally {
    tried: u64,
    panics: u64,
    errors: u64,
    wrong: u64,
}

impl Tally {
    fn report(&self, name: &str) {
        println!(
            "property {name}: inputs tried {}, panics {}, clear errors {}, wrong results {}",
            self.tried, self.panics, self.errors, self.wrong
        );
        assert_eq!(self.panics, 0, "{name}: panics");
        assert_eq!(self.wrong, 0, "{name}: wrong results");
    }
}

/// The reference rule for a handle: 32 lowercase hex digits, '-', a positive decimal
/// i64 without sign or leading zero.
fn reference_handle(s: &str) -> Option<(String, i64)> {
    let (hash, id) = s.split_once('-')?;
    let hex = hash.len() == 32 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let digits = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0');
    if !hex || !digits {
        return None;
    }
    let n: i64 = id.parse().ok()?;
    Some((hash.to_string(), n))
}

fn handle_inputs() -> impl Strategy<Value = String> {
    let hash = "[0-9a-f]{32}";
    prop_oneof![
        // Canonical handles.
        (hash, 1i64..=i64::MAX).prop_map(|(h, n)| format!("{h}-{n}")),
        // Near misses: zeros, signs, case, spaces, long ids, other separators.
        (hash, "[0+\\- ]{0,3}[0-9]{0,22}").prop_map(|(h, id)| format!("{h}-{id}")),
        ("[0-9a-fA-F]{30,34}", "[0-9]{1,5}").prop_map(|(h, id)| format!("{h}-{id}")),
        // Anything.
        ".{0,80}",
        proptest::collection::vec(any::<char>(), 0..60).prop_map(|v| v.into_iter().collect()),
    ]
}

#[test]
fn handle_parsing_round_trips_and_never_panics() {
    fn check(t: &mut Tally, s: &str) {
        t.tried += 1;
        match catch_unwind(AssertUnwindSafe(|| s.parse::<JobHandle>())) {
            Err(_) => t.panics += 1,
            Ok(Ok(h)) => {
                let expected = reference_handle(s);
                let got = (h.store().as_str().to_string(), h.jobid().0);
                // Canonical: printed back the same, and what the reference rule accepts.
                if h.to_string() != s || expected != Some(got) {
                    t.wrong += 1;
                }
            }
            Ok(Err(Error::MalformedHandle { input, reason })) => {
                t.errors += 1;
                let cut_ok = input.len() <= 80 + 40 && (s.len() > 80 || input == s);
                if reference_handle(s).is_some() || reason.is_empty() || !cut_ok {
                    t.wrong += 1;
                }
            }
            Ok(Err(_)) => t.wrong += 1,
        }
    }
    let tally = std::cell::RefCell::new(Tally::default());
    runner(4000)
        .run(&handle_inputs(), |s| {
            check(&mut tally.borrow_mut(), &s);
            Ok(())
        })
        .unwrap();
    let mut t = tally.into_inner();
    // A 1 MiB bad handle is not echoed whole.
    let huge = format!("{}-{}", "a".repeat(32), "9".repeat(1 << 20));
    check(&mut t, &huge);
    check(&mut t, &format!("{}-0", "a".repeat(32)));
    check(&mut t, &format!("{}-01", "a".repeat(32)));
    let e = huge.parse::<JobHandle>().unwrap_err().to_string();
    assert!(
        e.len() < 500 && e.contains(&format!("{} bytes in all", huge.len())),
        "{e}"
    );
    t.report("job-handle");
}

/// The reference rule for a text column value.
fn text_ok(v: &str, allow_empty: bool) -> bool {
    (allow_empty || !v.is_empty()) && v.len() <= 255 && !v.contains('\0')
}

fn texts() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,20}",
        "[a-z \\x00]{0,8}",
        ".{0,10}\\x00.{0,10}",
        "[éa]{120,140}",
        Just(String::new()),
        "x{250,260}",
        ".{0,30}",
    ]
}

#[test]
fn job_validation_matches_the_rule_and_never_panics() {
    let tally = std::cell::RefCell::new(Tally::default());
    let strategy = (
        texts(),
        proptest::option::of(texts()),
        proptest::option::of(texts()),
        proptest::option::of(prop_oneof![any::<i64>(), -2i64..3]),
        proptest::option::of(prop_oneof![
            any::<i64>(),
            -5i64..5,
            2_147_483_640i64..2_147_483_660
        ]),
    );
    runner(4000)
        .run(&strategy, |(func, uniq, coal, id, when)| {
            let mut t = tally.borrow_mut();
            t.tried += 1;
            let mut job = Job::new(func.clone());
            if let Some(u) = &uniq {
                job = job.uniqkey(u.clone());
            }
            if let Some(c) = &coal {
                job = job.coalesce(c.clone());
            }
            if let Some(id) = id {
                job = job.jobid(JobId(id));
            }
            let when_dt = when.and_then(|w| chrono::DateTime::from_timestamp(w, 0));
            if let Some(w) = when_dt {
                job = job.run_after(w);
            }
            let expected = text_ok(&func, false)
                && uniq.as_deref().is_none_or(|u| text_ok(u, false))
                && coal.as_deref().is_none_or(|c| text_ok(c, true))
                && id.is_none_or(|i| i >= 1)
                && when_dt.is_none_or(|w| w.timestamp() >= 0);
            match catch_unwind(AssertUnwindSafe(|| job.validate())) {
                Err(_) => t.panics += 1,
                Ok(Ok(())) if expected => {}
                Ok(Err(Error::InvalidInput(m))) if !expected => {
                    t.errors += 1;
                    if m.len() > 600 {
                        t.wrong += 1;
                    }
                }
                Ok(_) => t.wrong += 1,
            }
            Ok(())
        })
        .unwrap();
    tally.into_inner().report("job-validation");
}
