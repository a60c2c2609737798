//! `cargo xtask bench`. SKELETON.

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cargo xtask bench`.
pub fn run(_args: Args) -> Result<(), String> {
    Err("not implemented yet".to_string())
}
