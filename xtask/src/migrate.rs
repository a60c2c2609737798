//! `cargo xtask migrate`: applies the embedded migrations of `schwartz-diesel` to a database.

use schwartz_core::Store;
use schwartz_diesel::DieselStore;

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
    /// Revert the most recent migration (drops the tables) instead of applying.
    #[arg(long, conflicts_with = "status")]
    revert: bool,
}

/// Runs `cargo xtask migrate`.
pub fn run(args: Args) -> Result<(), String> {
    let store = DieselStore::connect(&args.database_url).map_err(|e| e.to_string())?;
    let what = store.describe();
    if args.status {
        let pending = store.pending_migrations().map_err(|e| e.to_string())?;
        if pending.is_empty() {
            println!("{what}: up to date");
        } else {
            for name in pending {
                println!("{what}: pending {name}");
            }
        }
        return Ok(());
    }
    if args.revert {
        match store.revert_last_migration().map_err(|e| e.to_string())? {
            Some(name) => println!("{what}: reverted {name}"),
            None => println!("{what}: no migration to revert"),
        }
        return Ok(());
    }
    let applied = store.run_migrations().map_err(|e| e.to_string())?;
    if applied.is_empty() {
        println!("{what}: already up to date");
    } else {
        for name in &applied {
            println!("{what}: applied {name}");
        }
    }
    Ok(())
}
