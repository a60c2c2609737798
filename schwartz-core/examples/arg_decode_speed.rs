//! Times `decode_arg` on a typical small argument (a struct of a string, a number and a
//! few tags) and on a list of 100 of them, in each format (JSON, Storable, bincode):
//! `cargo run -p schwartz-core --release --example arg_decode_speed [decodes]`.

use std::time::Instant;

use schwartz_core::{arg, decode_arg, ArgFormat, JobId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// A typical job argument.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Email {
    to: String,
    n: u64,
    tags: Vec<String>,
}

/// Decodes `value`'s encoding `decodes` times and prints the time taken.
fn time<T: Serialize + DeserializeOwned>(what: &str, format: ArgFormat, value: &T, decodes: u32) {
    let bytes = arg::encode(format, value).expect("encodes");
    // Warm up, then time.
    for _ in 0..decodes / 10 {
        std::hint::black_box(decode_arg::<T>(JobId(1), std::hint::black_box(&bytes)).ok());
    }
    let start = Instant::now();
    for _ in 0..decodes {
        let back = decode_arg::<T>(JobId(1), std::hint::black_box(&bytes)).expect("decodes");
        std::hint::black_box(back);
    }
    let took = start.elapsed();
    println!(
        "{what} ({format:?}): {decodes} decodes of {} bytes: {:.3} s, {:.0} ns each",
        bytes.len(),
        took.as_secs_f64(),
        took.as_nanos() as f64 / f64::from(decodes)
    );
}

fn main() {
    let decodes: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let email = |i: u64| Email {
        to: format!("someone{i}@example.invalid"),
        n: 1_700_000_000 + i,
        tags: vec!["welcome".into(), "weekly".into(), "fr".into()],
    };
    let list: Vec<Email> = (0..100).map(email).collect();
    for format in [ArgFormat::Json, ArgFormat::Storable, ArgFormat::Bincode] {
        time("one email", format, &email(0), decodes);
        time("100 emails", format, &list, decodes / 100);
    }
}
