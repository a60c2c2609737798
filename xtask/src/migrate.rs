//! `cargo xtask migrate`: applies the embedded migrations of `schwartz-diesel` to a database.
//!
//! Runs `schwartz migrate` (the `schwartz-cli` binary), built with only the backend feature
//! the URL needs, so migrating a SQLite file needs no PostgreSQL or MySQL client library.

use std::process::Command;

/// Arguments of `cargo xtask migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database: postgres://..., mysql://..., sqlite://path, or a SQLite file path.
    /// Defaults to the DATABASE_URL environment variable.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Only list the migrations not applied yet.
    #[arg(long)]
    status: bool,
    /// Revert the most recent migration instead of applying.
    #[arg(long, conflicts_with = "status")]
    revert: bool,
}

/// The Cargo feature of `schwartz-cli` (and `schwartz-diesel`) a URL needs.
fn feature_for(url: &str) -> &'static str {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => "postgres",
        Some("mysql" | "mariadb") => "mysql",
        // sqlite://, sqlite: and plain paths; anything else is refused by the store itself
        // with a message naming the schemes it knows.
        _ => "sqlite",
    }
}

/// Runs `cargo xtask migrate`.
pub fn run(args: Args) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "run",
        "--quiet",
        "-p",
        "schwartz-cli",
        "--no-default-features",
        "--features",
        feature_for(&args.database_url),
        "--",
        "migrate",
    ]);
    if args.status {
        cmd.arg("--status");
    }
    if args.revert {
        cmd.arg("--revert");
    }
    // Through the environment, so the URL (and any password in it) is not in the
    // process list.
    cmd.env("SCHWARTZ_DATABASES", &args.database_url);
    let status = cmd
        .status()
        .map_err(|e| format!("could not run {cargo}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("migrate failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::feature_for;

    #[test]
    fn picks_the_feature_from_the_scheme() {
        assert_eq!(feature_for("postgres://u@h/db"), "postgres");
        assert_eq!(feature_for("PostgreSQL://u@h/db"), "postgres");
        assert_eq!(feature_for("mysql://root@h/db"), "mysql");
        assert_eq!(feature_for("mariadb://root@h/db"), "mysql");
        assert_eq!(feature_for("sqlite://app.db"), "sqlite");
        assert_eq!(feature_for("./app.db"), "sqlite");
    }
}
