//! Creating and dropping whole databases on a PostgreSQL or MySQL/MariaDB server (for test
//! suites and benchmarks; behind the `testing` feature).
//!
//! Database names are restricted to ASCII letters, digits and `_` (at most 63 characters),
//! so they never need quoting rules of their own.

use schwartz_core::{Error, Result};

use crate::Backend;

/// Checks a database name: 1 to 63 ASCII letters, digits or `_`, not starting with a digit.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "database name {name:?}: use 1 to 63 ASCII letters, digits or '_', not starting with a digit"
        )))
    }
}

/// `url` with its database name replaced by `database` (query parameters kept).
///
/// # Errors
/// [`Error::InvalidInput`] when `url` is not a `postgres://` or `mysql://` URL.
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Error::InvalidInput(format!(
            "{} is not a server URL",
            crate::url::redact(url)
        )));
    };
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let authority = main.split_once('/').map_or(main, |(a, _)| a);
    let mut out = format!("{scheme}://{authority}/{database}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// Which server backend `url` names.
fn server_backend(url: &str) -> Result<Backend> {
    let target = crate::url::parse(url)?;
    match target.backend {
        Backend::Sqlite => Err(Error::InvalidInput(
            "creating or dropping databases needs a PostgreSQL or MySQL URL".into(),
        )),
        b => Ok(b),
    }
}

/// Runs one administrative statement on the server of `url`, connected to `admin_db`.
fn execute(url: &str, backend: Backend, admin_db: &str, sql: &str) -> Result<()> {
    let target = crate::url::parse(url)?;
    // The driver's form of the URL (`mariadb://` becomes `mysql://`).
    let admin = crate::url::parse(&with_database(url, admin_db)?)?;
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => run::<diesel::pg::PgConnection>(&target, &admin.connect, sql),
        #[cfg(feature = "mysql")]
        Backend::Mysql => run::<diesel::mysql::MysqlConnection>(&target, &admin.connect, sql),
        other => {
            let _ = (admin, sql);
            Err(Error::InvalidInput(format!(
                "the {other} backend is not compiled in"
            )))
        }
    }
}

/// Connects to `connect` and runs `sql`; messages name `target` and never its password.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn run<C: diesel::Connection>(target: &crate::url::Target, connect: &str, sql: &str) -> Result<()> {
    let mut c = C::establish(connect).map_err(|e| {
        let e = e.to_string();
        Error::Unavailable {
            store: target.describe.clone(),
            message: match &target.secret {
                Some(s) if !s.is_empty() => e.replace(s.as_str(), "***"),
                _ => e,
            },
        }
    })?;
    c.batch_execute(sql).map_err(|e| Error::Database {
        store: target.describe.clone(),
        message: e.to_string(),
    })
}

/// Creates the database `name` on the server `url` points at (any database of `url` works
/// for connecting: PostgreSQL connects to `postgres`, MySQL to `information_schema`).
///
/// # Errors
/// [`Error::InvalidInput`] for a bad name or a SQLite URL, [`Error::Unavailable`] when the
/// server cannot be reached, [`Error::Database`] when the statement fails (e.g. it exists).
pub fn create_database(url: &str, name: &str) -> Result<()> {
    check_name(name)?;
    let backend = server_backend(url)?;
    // Raw SQL: diesel has no CREATE DATABASE; the name was checked to be a plain identifier.
    match backend {
        Backend::Postgres => execute(
            url,
            backend,
            "postgres",
            &format!("CREATE DATABASE \"{name}\""),
        ),
        _ => execute(
            url,
            backend,
            "information_schema",
            &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"),
        ),
    }
}

/// Drops the database `name` if it exists, disconnecting its sessions on PostgreSQL
/// (`WITH (FORCE)`, PostgreSQL 13+).
///
/// # Errors
/// As [`create_database`].
pub fn drop_database(url: &str, name: &str) -> Result<()> {
    check_name(name)?;
    let backend = server_backend(url)?;
    // Raw SQL: diesel has no DROP DATABASE; the name was checked to be a plain identifier.
    match backend {
        Backend::Postgres => execute(
            url,
            backend,
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        ),
        _ => execute(
            url,
            backend,
            "information_schema",
            &format!("DROP DATABASE IF EXISTS `{name}`"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:1/test?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(
            with_database("mysql://root@h", "y").unwrap(),
            "mysql://root@h/y"
        );
        assert!(check_name("sch_1").is_ok());
        assert!(check_name("a-b").is_err());
        assert!(check_name("1a").is_err());
    }
}
