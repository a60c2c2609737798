//! Rebuilds the crate when a migration changes (they are embedded at compile time), and
//! writes the list of migration SQL texts that prefixed stores rewrite (`src/migrate.rs`).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let mut out = String::new();
    for (konst, dir) in [
        ("POSTGRES", "postgres"),
        ("MYSQL", "mysql"),
        ("SQLITE", "sqlite"),
    ] {
        let root = Path::new("migrations").join(dir);
        println!("cargo:rerun-if-changed={}", root.display());
        let mut names: Vec<String> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("up.sql").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let _ = writeln!(out, "/// `migrations/{dir}`: (name, up.sql, down.sql).");
        let _ = writeln!(
            out,
            "#[allow(dead_code)]\npub(crate) const {konst}: &[(&str, &str, &str)] = &["
        );
        for name in names {
            let up = std::fs::canonicalize(root.join(&name).join("up.sql"))
                .unwrap_or_else(|e| panic!("{name}/up.sql: {e}"));
            let down = std::fs::canonicalize(root.join(&name).join("down.sql"))
                .unwrap_or_else(|e| panic!("{name}/down.sql: {e}"));
            let _ = writeln!(
                out,
                "    ({name:?}, include_str!({:?}), include_str!({:?})),",
                up.display().to_string(),
                down.display().to_string()
            );
        }
        let _ = writeln!(out, "];");
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migration_sql.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
