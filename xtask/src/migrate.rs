//! `cargo xtask migrate`. SKELETON.

/// Arguments of `cargo xtask migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cargo xtask migrate`.
pub fn run(_args: Args) -> Result<(), String> {
    Err("not implemented yet".to_string())
}
