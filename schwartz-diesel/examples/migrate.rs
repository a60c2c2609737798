//! Applies (or lists, or reverts) the embedded migrations of one database; what
//! `cargo xtask migrate` runs, built with only the backend feature the URL needs.
//!
//! ```text
//! cargo run -p schwartz-diesel --example migrate -- --database-url sqlite://app.db
//! cargo run -p schwartz-diesel --no-default-features --features postgres --example migrate -- \
//!     --database-url postgres://postgres@127.0.0.1:5432/app [--status | --revert]
//! ```
//! The URL may also come from `DATABASE_URL`. Prints what it applied; never a password.

use std::process::ExitCode;

use schwartz_core::store::Store;
use schwartz_diesel::DieselStore;

enum Action {
    Apply,
    Status,
    Revert,
}

fn parse() -> Result<(String, Action), String> {
    let mut url = std::env::var("DATABASE_URL").ok();
    let mut action = Action::Apply;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => {
                url = Some(args.next().ok_or("--database-url needs a value")?);
            }
            s if s.starts_with("--database-url=") => {
                url = Some(s["--database-url=".len()..].to_string());
            }
            "--status" => action = Action::Status,
            "--revert" => action = Action::Revert,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let url = url.ok_or("no database: give --database-url URL or set DATABASE_URL")?;
    Ok((url, action))
}

fn run() -> Result<(), String> {
    let (url, action) = parse()?;
    let store = DieselStore::connect(&url).map_err(|e| e.to_string())?;
    let what = store.describe();
    match action {
        Action::Status => {
            let pending = store.pending_migrations().map_err(|e| e.to_string())?;
            if pending.is_empty() {
                println!("{what}: up to date");
            }
            for name in pending {
                println!("{what}: pending {name}");
            }
        }
        Action::Revert => match store.revert_last_migration().map_err(|e| e.to_string())? {
            Some(name) => println!("{what}: reverted {name}"),
            None => println!("{what}: no migration to revert"),
        },
        Action::Apply => {
            let applied = store.run_migrations().map_err(|e| e.to_string())?;
            if applied.is_empty() {
                println!("{what}: already up to date");
            }
            for name in &applied {
                println!("{what}: applied {name}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("migrate: {message}");
            ExitCode::FAILURE
        }
    }
}
