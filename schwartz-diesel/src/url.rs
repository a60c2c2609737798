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

/// The parts of a `scheme://user:pass@host:port/db?query` URL.
#[derive(Debug, Default)]
struct ServerUrl {
    user: String,
    host: String,
    port: Option<u16>,
    database: String,
    query: Option<String>,
}

/// Decodes `%XX` escapes (user names and database names may carry them).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() && s.is_char_boundary(i + 3) {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_server_url(url: &str, rest: &str) -> Result<ServerUrl> {
    let invalid =
        |why: &str| Error::InvalidInput(format!("malformed database URL {}: {why}", redact(url)));
    let (authority_and_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q.to_string())),
        None => (rest, None),
    };
    let (authority, path) = match authority_and_path.split_once('/') {
        Some((a, p)) => (a, p),
        None => (authority_and_path, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let user = match userinfo {
        Some(u) => percent_decode(u.split_once(':').map_or(u, |(user, _)| user)),
        None => String::new(),
    };
    let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
        // IPv6 literal.
        let (h, after) = stripped
            .split_once(']')
            .ok_or_else(|| invalid("unclosed '[' in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(invalid("junk after the IPv6 host")),
        };
        (format!("[{h}]"), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    let port = match port {
        Some("") | None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| invalid(&format!("port {p:?} is not a number")))?,
        ),
    };
    if path.contains('/') {
        return Err(invalid("the database name contains '/'"));
    }
    Ok(ServerUrl {
        user,
        host: host.to_ascii_lowercase(),
        port,
        database: percent_decode(path),
        query,
    })
}

/// The URL with any password replaced by `***` (for messages).
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => out.push_str(&format!("{user}:***@{host}")),
            None => out.push_str(&format!("{userinfo}@{host}")),
        },
        None => out.push_str(authority),
    }
    // Query parameters named password are redacted too.
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(tail),
    }
    out
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Query parameters other than passwords, sorted (part of the identity).
fn identity_query(query: &Option<String>) -> String {
    let Some(q) = query else { return String::new() };
    let mut parts: Vec<&str> = q
        .split('&')
        .filter(|kv| {
            !kv.is_empty()
                && !kv
                    .split('=')
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case("password"))
        })
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    parts.sort_unstable();
    format!("?{}", parts.join("&"))
}

/// The password in the userinfo or in a `password=` query parameter.
fn password_of(rest: &str) -> Option<String> {
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, pw)) = userinfo.split_once(':') {
            if !pw.is_empty() {
                return Some(pw.to_string());
            }
        }
    }
    let (_, query) = rest.split_once('?')?;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.eq_ignore_ascii_case("password") && !v.is_empty()).then(|| v.to_string())
    })
}

fn feature_missing(scheme: &str, feature: &str) -> Error {
    Error::InvalidInput(format!(
        "{scheme}:// needs the `{feature}` feature of schwartz-diesel, which this build does not enable"
    ))
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
                server_target(url, rest, Backend::Postgres, "postgres", 5432)
            }
            "mysql" | "mariadb" => {
                if !cfg!(feature = "mysql") {
                    return Err(feature_missing(scheme, "mysql"));
                }
                let mut t = server_target(url, rest, Backend::Mysql, "mysql", 3306)?;
                if lower == "mariadb" {
                    // The driver only knows mysql://.
                    t.connect = format!("mysql://{rest}");
                }
                Ok(t)
            }
            "sqlite" | "file" => {
                if !cfg!(feature = "sqlite") {
                    return Err(feature_missing(scheme, "sqlite"));
                }
                if rest.is_empty() {
                    return Err(Error::InvalidInput(format!(
                        "malformed database URL {url:?}: no SQLite file path"
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
    let text = path.to_string_lossy();
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
            parent.display()
        ))
    })?;
    if !parent.is_dir() {
        return Err(Error::InvalidInput(format!(
            "SQLite path {text:?}: {} is not a directory",
            parent.display()
        )));
    }
    let full = parent.join(file_name);
    if full.is_dir() {
        return Err(Error::InvalidInput(format!(
            "SQLite path {} is a directory",
            full.display()
        )));
    }
    let full_text = full.to_string_lossy().into_owned();
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
    let parts = parse_server_url(url, rest)?;
    let host = if parts.host.is_empty() {
        "localhost".to_string()
    } else {
        parts.host.clone()
    };
    let port = parts.port.unwrap_or(default_port);
    let identity = format!(
        "{scheme}://{host}:{port}/{}{}|{}",
        parts.database,
        identity_query(&parts.query),
        parts.user
    );
    let describe = format!("{scheme} {host}:{port}/{}", parts.database);
    Ok(Target {
        backend,
        connect: url.to_string(),
        identity,
        describe,
        memory: false,
        secret: password_of(rest),
    })
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
