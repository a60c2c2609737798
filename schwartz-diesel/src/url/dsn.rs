//! Server URLs: how the drivers split them, and the one redaction routine.
//!
//! Dependency-free on purpose: `xtask` includes this file with `#[path]` (it links none of
//! our crates), so there is one parser and one redaction routine for the library and the
//! tools.
//!
//! The drivers do not split a URL the same way, and this parser follows each:
//! - libpq (`postgres://`, `postgresql://`): the user part ends at the FIRST `@` met before
//!   any `/`; `?` and `#` belong to the password; the database name runs to the `?`; query
//!   parameters are `key=value` pairs, percent-decoded, and `host`, `port`, `dbname`,
//!   `user` there override the URL's.
//! - diesel's MySQL connection (`mysql://`, through the `url` crate, WHATWG rules): the
//!   authority ends at the first `/`, `?` or `#`; the user part ends at its LAST `@`.
//!
//! A URL that the two readings would route differently, or that would put part of a
//! password into the host, port or database name (an unencoded `@`, `/`, `?` or `#` in the
//! password), is refused: an `@` left after the user part is an error, not a host.

/// Which driver's rules split the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// libpq's URI rules.
    Libpq,
    /// WHATWG rules (the `url` crate, which diesel's MySQL connection uses).
    Whatwg,
}

/// A server URL, split as its driver splits it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ServerUrl {
    /// The user (percent-decoded), empty when none.
    pub user: String,
    /// The password of the user part (percent-decoded), if any.
    pub password: Option<String>,
    /// The host as written in the URL (several, comma-separated, for libpq), lowercased,
    /// IPv6 literals in brackets; empty when none.
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
    /// The database name (percent-decoded), empty when none.
    pub database: String,
    /// The query parameters, percent-decoded, in order.
    pub params: Vec<(String, String)>,
    /// The raw query string (without `?`), if any.
    pub query: Option<String>,
}

impl std::fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), if is_secret_key(k) { "***" } else { v }))
            .collect();
        f.debug_struct("ServerUrl")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("params", &params)
            .finish()
    }
}

/// Whether a parameter name holds a secret (`password`, `sslpassword`, `passfile`, any
/// spelling containing `pass`, in any case).
pub fn is_secret_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("pass")
}

/// Decodes `%XX` escapes; `None` for a malformed escape, `%00` or invalid UTF-8 (libpq
/// refuses them too).
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            let v = u8::from_str_radix(hex, 16).ok()?;
            if v == 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Splits the part after `scheme://` of a server URL the way `flavor`'s driver does.
///
/// # Errors
/// A message saying what is wrong; it never repeats the URL (callers add [`redact`]ed
/// text when they want to show it).
pub fn parse_server(rest: &str, flavor: Flavor) -> Result<ServerUrl, String> {
    let at_hint =
        "percent-encode '@', '/', '?' and '#' in the user name and password (%40, %2F, %3F, %23)";
    // The user part.
    let (userinfo, after_user) = match flavor {
        Flavor::Libpq => match rest.find(['@', '/']) {
            Some(i) if rest.as_bytes()[i] == b'@' => (Some(&rest[..i]), &rest[i + 1..]),
            _ => (None, rest),
        },
        Flavor::Whatwg => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
                None => (None, rest),
            }
        }
    };
    // Whatever a driver makes of the rest, an '@' there means the user part did not end
    // where the writer meant: refuse rather than connect somewhere else.
    if after_user.contains('@') {
        return Err(format!(
            "an '@' after the user part (a password with an unencoded '@', '/', '?' or '#'?): {at_hint}"
        ));
    }
    let mut url = ServerUrl::default();
    if let Some(u) = userinfo {
        let (user, password) = match u.split_once(':') {
            Some((user, pw)) => (user, Some(pw)),
            None => (u, None),
        };
        url.user = percent_decode(user).ok_or("the user name has a malformed %-escape")?;
        if let Some(pw) = password {
            url.password = Some(
                percent_decode(pw).ok_or("the password has a malformed %-escape (%XX expected)")?,
            );
        }
    }
    // The rest: host[:port][,...][/database][?query][#fragment].
    let (main, query) = match after_user.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (after_user, None),
    };
    let (main, query) = match flavor {
        Flavor::Whatwg => {
            let main = main.split_once('#').map_or(main, |(m, _)| m);
            (main, query.map(|q| q.split_once('#').map_or(q, |(q, _)| q)))
        }
        Flavor::Libpq => (main, query),
    };
    let (netloc, path) = match main.split_once('/') {
        Some((n, p)) => (n, p),
        None => (main, ""),
    };
    if path.contains('/') {
        return Err("the database name contains '/'".into());
    }
    url.database = percent_decode(path).ok_or("the database name has a malformed %-escape")?;
    let mut hosts = Vec::new();
    for (n, hostport) in netloc.split(',').enumerate() {
        if n > 0 && flavor == Flavor::Whatwg {
            return Err("several hosts are only understood by PostgreSQL".into());
        }
        let (host, port) = split_host_port(hostport)?;
        if let Some(p) = port {
            if url.port.is_some_and(|q| q != p) {
                return Err("several hosts with different ports are not supported".into());
            }
            url.port = Some(p);
        }
        hosts.push(host);
    }
    url.host = hosts.join(",");
    if let Some(q) = query {
        url.query = Some(q.to_string());
        for kv in q.split('&').filter(|kv| !kv.is_empty()) {
            let Some((k, v)) = kv.split_once('=') else {
                return Err("a query parameter without '='".into());
            };
            let k = percent_decode(k).ok_or("a query parameter name has a malformed %-escape")?;
            let v = percent_decode(v).ok_or("a query parameter value has a malformed %-escape")?;
            url.params.push((k, v));
        }
    }
    Ok(url)
}

/// Splits `host[:port]` (IPv6 literals in brackets); the host is lowercased.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed '[' in the host")?;
        match after.strip_prefix(':') {
            Some(p) => (format!("[{h}]"), Some(p)),
            None if after.is_empty() => (format!("[{h}]"), None),
            None => return Err("junk after the IPv6 host".into()),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    let host = percent_decode(&host).ok_or("the host has a malformed %-escape")?;
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| "the port is not a number from 0 to 65535".to_string())?,
        ),
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// Whether `s` starts with a URL scheme (`letters:`) and where its body starts (after the
/// `:` and any `/`).
fn scheme_end(s: &str) -> Option<usize> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let lower = scheme.to_ascii_lowercase();
    let known = matches!(
        lower.as_str(),
        "postgres" | "postgresql" | "mysql" | "mariadb" | "sqlite" | "file"
    );
    let body = &s[colon + 1..];
    if !known && !body.starts_with("//") {
        return None;
    }
    Some(s.len() - body.trim_start_matches('/').len())
}

/// Any text that may hold a database URL or a `key=value` connection string, with every
/// password replaced by `***`.
///
/// Defensive, for well-formed input or not: the user part is taken to end at the LAST `@`
/// (so a password with an unencoded `@`, `/`, `?` or `#` is hidden whole, whatever a
/// driver would make of it), a scheme with a missing `/` (`postgres:/host`) or none at all
/// (`user:pw@host`) still has its password hidden, and every `key=value` whose key
/// contains `pass` (`password`, `sslpassword`, percent-encoded or quoted) is hidden too.
/// When in doubt it hides too much rather than too little.
pub fn redact(text: &str) -> String {
    let body_start = scheme_end(text).unwrap_or(0);
    let (head, body) = text.split_at(body_start);
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    match body.rfind('@') {
        Some(at) => {
            let creds = &body[..at];
            match creds.find(':') {
                Some(colon) => {
                    out.push_str(&creds[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(creds),
            }
            out.push_str(&body[at..]);
        }
        None => out.push_str(body),
    }
    redact_params(&out)
}

/// Replaces the value of every `key=value` whose key [`is_secret_key`] by `***`: quoted
/// values to their closing quote, others to the next whitespace or `&`.
fn redact_params(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let at_key_start = i == 0
            || matches!(bytes[i - 1], b'?' | b'&' | b';' | b',')
            || bytes[i - 1].is_ascii_whitespace();
        if !at_key_start
            || !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'%' || bytes[i] == b'_')
        {
            i += 1;
            continue;
        }
        let key_end = i + bytes[i..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'%' | b'_' | b'-' | b'.')))
            .unwrap_or(bytes.len() - i);
        let key = &text[i..key_end];
        let key = percent_decode(key).unwrap_or_else(|| key.to_string());
        let mut j = key_end;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= bytes.len() || bytes[j] != b'=' || !is_secret_key(&key) {
            i = key_end.max(i + 1);
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let value_end = value_end(bytes, j);
        out.push_str(&text[copied..j]);
        out.push_str("***");
        copied = value_end;
        i = value_end.max(j + 1);
    }
    if copied < text.len() {
        out.push_str(&text[copied..]);
    }
    out
}

/// Where a `key=value` value starting at `start` ends: after its closing quote when quoted
/// (backslash escapes), else at the next unescaped whitespace or `&`.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start;
    if bytes.get(j) == Some(&b'\'') {
        j += 1;
        while j < bytes.len() {
            match bytes[j] {
                b'\\' => j += 2,
                b'\'' => return j + 1,
                _ => j += 1,
            }
        }
        return bytes.len();
    }
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'&' => return j,
            b if b.is_ascii_whitespace() => return j,
            _ => j += 1,
        }
    }
    bytes.len()
}
