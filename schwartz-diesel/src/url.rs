//! Parsing of database URLs: which backend, what to hand to the driver, and the password-free
//! identity and description of the store.

use std::path::{Path, PathBuf};

use schwartz_core::{Error, Result};

use crate::Backend;

/// A parsed database URL.
#[derive(Clone)]
pub(crate) struct Target {
    /// The backend the URL names.
    pub backend: Backend,
    /// What the driver gets (with the password, never printed).
    pub connect: String,
    /// `"<normalised url without password>|<user>"`.
    pub identity: String,
    /// `"<backend> <host>:<port>/<database>"` or `"sqlite <path>"`.
    pub describe: String,
    /// Whether this is an in-memory SQLite database (one connection only).
    pub memory: bool,
    /// The password, if the URL has one (only to scrub it from driver messages).
    pub secret: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `connect` may hold a password: never shown.
        f.debug_struct("Target")
            .field("backend", &self.backend)
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

mod dsn;
#[cfg(test)]
mod props;

pub(crate) use dsn::redact;
use dsn::{Flavor, ServerUrl};

/// Query parameters other than secrets, sorted (part of the identity).
fn identity_query(query: Option<&str>) -> String {
    let Some(q) = query else { return String::new() };
    let mut parts: Vec<&str> = q
        .split('&')
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or_default();
            let key = dsn::percent_decode(key).unwrap_or_else(|| key.to_string());
            !kv.is_empty() && !dsn::is_secret_key(&key)
        })
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    parts.sort_unstable();
    format!("?{}", parts.join("&"))
}

fn feature_missing(scheme: &str, feature: &str) -> Error {
    Error::InvalidInput(format!(
        "{scheme}:// needs the `{feature}` feature of schwartz-diesel, which this build does not enable"
    ))
}

/// A URL without our table options, and those options.
#[derive(Debug)]
pub(crate) struct TableOptions {
    /// The URL without `schwartz_table_prefix` and `schwartz_schema`.
    pub url: String,
    /// `schwartz_table_prefix=...`.
    pub prefix: Option<String>,
    /// `schwartz_schema=...`.
    pub schema: Option<String>,
}

/// Takes the query parameters `schwartz_table_prefix` and `schwartz_schema` out of a URL
/// (the drivers do not know them).
pub(crate) fn take_table_options(url: &str) -> Result<TableOptions> {
    let mut out = TableOptions {
        url: url.trim().to_string(),
        prefix: None,
        schema: None,
    };
    let Some((base, query)) = out.url.split_once('?') else {
        return Ok(out);
    };
    let mut kept = Vec::new();
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let value = || {
            dsn::percent_decode(v).ok_or_else(|| {
                Error::InvalidInput(format!("URL parameter {k}: bad percent-encoding"))
            })
        };
        match k {
            "schwartz_table_prefix" => out.prefix = Some(value()?),
            "schwartz_schema" => out.schema = Some(value()?),
            _ => kept.push(kv),
        }
    }
    let base = base.to_string();
    out.url = if kept.is_empty() {
        base
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(out)
}

/// Parses a database URL.
pub(crate) fn parse(url: &str) -> Result<Target> {
    let url = url.trim();
    if url.is_empty() {
        return Err(Error::InvalidInput("empty database URL".into()));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let lower = scheme.to_ascii_lowercase();
        return match lower.as_str() {
            "postgres" | "postgresql" => {
                if !cfg!(feature = "postgres") {
                    return Err(feature_missing(scheme, "postgres"));
                }
                let mut t = server_target(url, rest, Backend::Postgres, "postgres", 5432)?;
                // libpq only knows the lowercase scheme.
                t.connect = format!("{lower}://{rest}");
                Ok(t)
            }
            "mysql" | "mariadb" => {
                if !cfg!(feature = "mysql") {
                    return Err(feature_missing(scheme, "mysql"));
                }
                let mut t = server_target(url, rest, Backend::Mysql, "mysql", 3306)?;
                // The driver only knows mysql:// (lowercase).
                t.connect = format!("mysql://{rest}");
                Ok(t)
            }
            "sqlite" | "file" => {
                if !cfg!(feature = "sqlite") {
                    return Err(feature_missing(scheme, "sqlite"));
                }
                if rest.is_empty() {
                    return Err(Error::InvalidInput(format!(
                        "malformed database URL {:?}: no SQLite file path",
                        redact(url)
                    )));
                }
                if rest == ":memory:" {
                    return Ok(memory_target());
                }
                sqlite_file_target(Path::new(rest))
            }
            _ => Err(Error::InvalidInput(format!(
                "unknown database URL scheme {scheme:?} in {}: expected postgres://, postgresql://, mysql://, sqlite://<path>, sqlite::memory: or a file path ending in .db/.sqlite",
                redact(url)
            ))),
        };
    }
    if url == "sqlite::memory:" || url == ":memory:" {
        if !cfg!(feature = "sqlite") {
            return Err(feature_missing("sqlite", "sqlite"));
        }
        return Ok(memory_target());
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        if !cfg!(feature = "sqlite") {
            return Err(feature_missing("sqlite", "sqlite"));
        }
        return sqlite_file_target(Path::new(path));
    }
    let looks_like_path = url.contains('/')
        || [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|ext| url.to_ascii_lowercase().ends_with(ext));
    if looks_like_path && (!url.contains(':') || Path::new(url).is_absolute()) {
        if !cfg!(feature = "sqlite") {
            return Err(feature_missing("sqlite", "sqlite"));
        }
        return sqlite_file_target(Path::new(url));
    }
    Err(Error::InvalidInput(format!(
        "unrecognised database URL {}: expected postgres://, postgresql://, mysql://, sqlite://<path>, sqlite::memory: or a file path ending in .db/.sqlite",
        redact(url)
    )))
}

fn memory_target() -> Target {
    Target {
        backend: Backend::Sqlite,
        connect: ":memory:".into(),
        identity: "sqlite::memory:|".into(),
        describe: "sqlite :memory:".into(),
        memory: true,
        secret: None,
    }
}

fn sqlite_file_target(path: &Path) -> Result<Target> {
    // Messages show the path redacted: a mistyped server URL can land here.
    let text = redact(&path.to_string_lossy());
    if text.is_empty() {
        return Err(Error::InvalidInput("empty SQLite file path".into()));
    }
    if text.contains('?') || text.starts_with("file:") {
        return Err(Error::InvalidInput(format!(
            "SQLite path {text:?}: URI parameters are not supported, give a plain file path"
        )));
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::InvalidInput(format!("SQLite path {text:?} does not name a file")))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = parent.canonicalize().map_err(|e| {
        Error::InvalidInput(format!(
            "SQLite path {text:?}: its directory {} is not usable ({e}); not creating a database there",
            redact(&parent.display().to_string())
        ))
    })?;
    if !parent.is_dir() {
        return Err(Error::InvalidInput(format!(
            "SQLite path {text:?}: {} is not a directory",
            redact(&parent.display().to_string())
        )));
    }
    let full = parent.join(file_name);
    if full.is_dir() {
        return Err(Error::InvalidInput(format!(
            "SQLite path {} is a directory",
            redact(&full.display().to_string())
        )));
    }
    let full_text = full.to_string_lossy().into_owned();
    if redact(&full_text) != full_text {
        return Err(Error::InvalidInput(format!(
            "SQLite path {text:?} looks like a server URL with a password; give a postgres:// or mysql:// URL, or a plain file path"
        )));
    }
    Ok(Target {
        backend: Backend::Sqlite,
        connect: full_text.clone(),
        identity: format!("sqlite://{full_text}|"),
        describe: format!("sqlite {full_text}"),
        memory: false,
        secret: None,
    })
}

fn server_target(
    url: &str,
    rest: &str,
    backend: Backend,
    scheme: &str,
    default_port: u16,
) -> Result<Target> {
    let flavor = match backend {
        Backend::Postgres => Flavor::Libpq,
        _ => Flavor::Whatwg,
    };
    let parts: ServerUrl = dsn::parse_server(rest, flavor).map_err(|why| {
        Error::InvalidInput(format!("malformed database URL {}: {why}", redact(url)))
    })?;
    let identity_host = if parts.host.is_empty() {
        "localhost".to_string()
    } else {
        parts.host.clone()
    };
    let identity = format!(
        "{scheme}://{identity_host}:{}/{}{}|{}",
        parts.port.unwrap_or(default_port),
        parts.database,
        identity_query(parts.query.as_deref()),
        parts.user
    );
    // What the driver connects to: libpq lets query parameters override the URL's.
    let (mut host, mut port, mut database) = (
        identity_host,
        parts
            .port
            .map_or(default_port.to_string(), |p| p.to_string()),
        parts.database.clone(),
    );
    let mut secret = parts.password.clone().filter(|p| !p.is_empty());
    for (k, v) in &parts.params {
        match (flavor, k.as_str()) {
            (Flavor::Libpq, "host" | "hostaddr") => host = v.to_ascii_lowercase(),
            (Flavor::Libpq, "port") => port = v.clone(),
            (Flavor::Libpq, "dbname") => database = v.clone(),
            (_, k) if dsn::is_secret_key(k) && secret.is_none() && !v.is_empty() => {
                secret = Some(v.clone());
            }
            _ => {}
        }
    }
    let describe = redact(&format!("{scheme} {host}:{port}/{database}"));
    Ok(Target {
        backend,
        connect: url.to_string(),
        identity,
        describe,
        memory: false,
        secret: raw_password(rest, flavor).or(secret),
    })
}

/// The password as written in the URL (what a driver message would repeat).
fn raw_password(rest: &str, flavor: Flavor) -> Option<String> {
    let end = match flavor {
        Flavor::Libpq => rest
            .find(['@', '/'])
            .filter(|&i| rest.as_bytes()[i] == b'@')?,
        Flavor::Whatwg => {
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            authority.rfind('@')?
        }
    };
    let (_, pw) = rest[..end].split_once(':')?;
    (!pw.is_empty()).then(|| pw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:1/db?password=x&a=b"),
            "postgres://u:***@h:1/db?password=***&a=b"
        );
        assert_eq!(redact("mysql://root@h/db"), "mysql://root@h/db");
    }

    #[test]
    fn mistyped_schemes_are_errors() {
        for url in ["postgress://x/y", "mysq://a/b", "foo", "sqlit://x.db"] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{url}: {err}");
        }
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = parse("/nonexistent-dir-xyz/a.db").unwrap_err();
        assert!(err.to_string().contains("not usable"), "{err}");
        assert!(!Path::new("/nonexistent-dir-xyz").exists());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn identity_has_no_password() {
        let t = parse("postgresql://bob:pw@DB.example:5433/jobs").unwrap();
        assert_eq!(t.identity, "postgres://db.example:5433/jobs|bob");
        assert_eq!(t.describe, "postgres db.example:5433/jobs");
        let t = parse("postgres://bob@db.example/jobs").unwrap();
        assert_eq!(t.identity, "postgres://db.example:5432/jobs|bob");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_forms() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.db");
        let a = parse(&format!("sqlite://{}", p.display())).unwrap();
        let b = parse(&p.display().to_string()).unwrap();
        assert_eq!(a.identity, b.identity);
        assert!(!p.exists(), "parsing must not create the file");
        assert!(parse("sqlite::memory:").unwrap().memory);
    }
}
