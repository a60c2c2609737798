//! Reads the numbers of a running `schwartz web` from its JSON API, as a script would:
//! `GET /api/overview`, one line per function.
//!
//! ```sh
//! schwartz web --database /tmp/jobs.db &
//! cargo run -p schwartz-cli --example web_api_client -- 127.0.0.1:8080
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;

/// A JSON number as an integer (0 when absent).
fn n(v: &serde_json::Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut s = TcpStream::connect(&addr)?;
    write!(
        s,
        "GET /api/overview HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or("not an HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{}: {body}", head.lines().next().unwrap_or("")).into());
    }
    let doc: serde_json::Value = serde_json::from_str(body)?;
    for d in doc["databases"].as_array().into_iter().flatten() {
        if d["ok"] != true {
            println!("DOWN {}: {}", d["database"], d["error"]);
        }
    }
    for q in doc["queues"].as_array().into_iter().flatten() {
        println!(
            "{:<24} due {:>6}  scheduled {:>6}  running {:>4}  lag {:>5}s  errors/1h {}",
            q["funcname"].as_str().unwrap_or(""),
            n(&q["due"]),
            n(&q["scheduled"]),
            n(&q["running"]),
            n(&q["lag_secs"]),
            n(&q["errors_last_hour"])
        );
    }
    Ok(())
}
