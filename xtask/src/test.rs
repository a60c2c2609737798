//! `cargo xtask test`. SKELETON.

/// Arguments of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cargo xtask test`.
pub fn run(_args: Args) -> Result<(), String> {
    Err("not implemented yet".to_string())
}
