//! `t/insert-and-do.t` (spec 8.16): args round-trip; leased jobs are not re-grabbed;
//! failures from dying workers are recorded.
//!
//! Perl's "arg is a HASH / is not a reference" checks become: structured args decode with
//! `arg::<T>()` to an equal value; scalar args come back byte-exact from `raw_arg()`.

use std::collections::BTreeMap;

use super::common::*;

const ADD: &str = "Worker::Addition";
const MERGE: &str = "Worker::MergeInternalDict";
const DIV: &str = "Worker::Division";

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

/// 5-6. While the first job is leased (grab_for 30) a second grab for its function finds
/// nothing, even with another function's job present.
fn leased_job_not_grabbed_again(ctx: &Ctx) {
    let c = addition_client(ctx);
    ins(
        &c,
        job_with(
            ADD,
            &Numbers {
                numbers: vec![1, 2],
            },
        ),
    );
    let _j = grab(&c, ADD).expect("first grab");
    ins(&c, job_with("dummy", &vec![1, 2, 3]));
    assert!(grab(&c, ADD).is_none(), "a leased job was grabbed again");
    ctx.advance(31);
    assert!(
        grab(&c, ADD).is_some(),
        "the job was not grabbable after its lease"
    );
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Division {
    n: i64,
    d: i64,
}

fn division_client(ctx: &Ctx, panicking: bool) -> Client {
    let (c, _s) = ctx.client1();
    can_do(
        &c,
        DIV,
        TestWorker::new(move |job| {
            let a: Division = job.arg()?;
            let q = if panicking {
                // Real integer division: panics "attempt to divide by zero".
                a.n / a.d
            } else {
                a.n.checked_div(a.d)
                    .ok_or_else(|| werr("Illegal division by zero"))?
            };
            let _ = q;
            job.completed()?;
            Ok(())
        })
        .keep(20)
        .grab_for(10)
        .max_retries(1)
        .retry_delay(|n| secs(2u64.pow(n))),
    );
    c
}

/// 24-26. A worker failing with "Illegal division by zero": one failure, in the log.
fn division_by_zero_error_recorded(ctx: &Ctx) {
    let c = division_client(ctx, false);
    let h = ins(&c, job_with(DIV, &Division { n: 5, d: 0 }));
    let j = grab(&c, DIV).expect("grab_job");
    let outcome = c.work_safely(j).must("work_safely");
    assert_eq!(outcome, WorkOutcome::Failed { will_retry: true });
    assert_eq!(failures(&c, &h), 1);
    let log = failure_log(&c, &h).join("\n");
    assert!(log.contains("Illegal division by zero"), "log: {log:?}");
}

/// The same with a real panic (Rust's "attempt to divide by zero").
fn division_by_zero_panic_recorded(ctx: &Ctx) {
    let c = division_client(ctx, true);
    let h = ins(&c, job_with(DIV, &Division { n: 5, d: 0 }));
    let j = grab(&c, DIV).expect("grab_job");
    let outcome = c
        .work_safely(j)
        .must("work_safely must not propagate the panic");
    assert_eq!(outcome, WorkOutcome::Failed { will_retry: true });
    assert_eq!(failures(&c, &h), 1);
    let log = failure_log(&c, &h).join("\n");
    assert!(
        log.contains("divide by zero"),
        "panic message not recorded: {log:?}"
    );
    assert!(pending(&c, &h), "max_retries 1: the job is retried");
}

cases!("insert_and_do";
    structured_arg_round_trip,
    leased_job_not_grabbed_again,
    scalar_short_arg,
    scalar_long_arg,
    scalar_starting_with_5_byte,
    binary_arg_all_bytes,
    large_arg,
    merge_internal_dict,
    division_by_zero_error_recorded,
    division_by_zero_panic_recorded,
);
