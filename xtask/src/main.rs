//! `cargo xtask`: project tasks (`migrate`, `test`, `bench`, `structure`).
//!
//! Each subcommand lives in its own module.

mod bench;
mod migrate;
mod structure;
mod test;

/// The database URL parser and redaction routine of schwartz-diesel, the same file (xtask
/// links none of the project's crates).
#[allow(dead_code)]
#[path = "../../schwartz-diesel/src/url/dsn.rs"]
mod dsn;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Schwartz project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply the embedded migrations to a database.
    Migrate(migrate::Args),
    /// Run the unit tests and the conformance suite on every reachable backend.
    Test(test::Args),
    /// Run the benchmarks.
    Bench(bench::Args),
    /// Check the workspace's shape: file and macro lengths, no `*_impl.rs`, lint-clean
    /// backend builds.
    Structure(structure::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Migrate(args) => migrate::run(args),
        Command::Test(args) => test::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Structure(args) => structure::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
