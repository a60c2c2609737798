//! `schwartz migrate`: apply, list, check or revert the embedded migrations.

use clap::Args;
use schwartz_core::store::Store;

use crate::db::Connect;
use crate::fail::Fail;

/// Arguments of `schwartz migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only list the migrations not applied yet; exit 1 when there are any.
    #[arg(long, conflicts_with_all = ["status", "revert"])]
    check: bool,
    /// Only list the migrations not applied yet (exit 0).
    #[arg(long, conflicts_with = "revert")]
    status: bool,
    /// Revert the most recent migration (drops tables: data is lost).
    #[arg(long)]
    revert: bool,
}

/// Runs `schwartz migrate` on every database.
pub fn run(c: &Connect, a: &MigrateArgs) -> Result<(), Fail> {
    let mut down = 0;
    let mut pending_any = false;
    for store in c.stores(1)? {
        let what = store.describe();
        let result = if a.check || a.status {
            store.pending_migrations().map(|pending| {
                if pending.is_empty() {
                    println!("{what}: up to date");
                }
                for name in &pending {
                    println!("{what}: pending {name}");
                }
                pending_any |= !pending.is_empty();
            })
        } else if a.revert {
            store.revert_last_migration().map(|r| match r {
                Some(name) => println!("{what}: reverted {name}"),
                None => println!("{what}: no migration to revert"),
            })
        } else {
            store.run_migrations().map(|applied| {
                if applied.is_empty() {
                    println!("{what}: already up to date");
                }
                for name in &applied {
                    println!("{what}: applied {name}");
                }
            })
        };
        if let Err(e) = result {
            eprintln!(
                "schwartz: database {what} did not answer: {}",
                crate::fail::one_line(&e.to_string())
            );
            down += 1;
        }
    }
    if down > 0 {
        return Err(Fail::down(format!(
            "{down} of {} databases did not answer",
            c.urls.len()
        )));
    }
    if a.check && pending_any {
        return Err(Fail::not_found("migrations are pending"));
    }
    Ok(())
}
