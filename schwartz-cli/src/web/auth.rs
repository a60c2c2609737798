//! Who may write: the write token, the login cookie, CSRF tokens and the origin check.
//!
//! - Scripts send `Authorization: Bearer TOKEN` to `/api/actions` (browsers never attach
//!   that header by themselves, so it needs no CSRF token).
//! - People log in once on `/login` with the token; the server sets an `HttpOnly`,
//!   `SameSite=Strict` cookie holding a digest of the token (never the token). Each action
//!   form carries a CSRF token, another digest of the write token, and the server checks it
//!   together with the cookie, `Sec-Fetch-Site` and `Origin` (a request from another site is
//!   refused even if the browser sent the cookie).
//! - With `--read-only`, or without a token, every write is refused.

use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html as AxHtml, IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::html::{end, page};
use super::{Oops, Shared};

const COOKIE: &str = "schwartz_session";

fn digest(purpose: &str, token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"schwartz-web\0");
    h.update(purpose.as_bytes());
    h.update(b"\0");
    h.update(token.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The CSRF token forms carry: empty when writes are off.
pub fn csrf(state: &Shared) -> String {
    state
        .token
        .as_deref()
        .map_or_else(String::new, |t| digest("csrf", t))
}

/// Whether the request carries a valid login cookie.
pub fn logged_in(state: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = state.token.as_deref() else {
        return false;
    };
    let want = digest("session", token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == COOKIE && same(v, &want))
}

/// Refuses requests a browser sent from another site.
///
/// # Errors
/// 403 when `Sec-Fetch-Site` says cross-site, or `Origin` is not this server.
pub fn same_origin(headers: &HeaderMap) -> Result<(), Oops> {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return Err(Oops::forbidden(format!(
                "refused: a cross-site request (Sec-Fetch-Site: {site})"
            )));
        }
    }
    if let Some(origin) = get(header::ORIGIN) {
        let host = get(header::HOST).unwrap_or("");
        let ok = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| !host.is_empty() && o == host);
        if !ok {
            return Err(Oops::forbidden(format!(
                "refused: the request came from {origin}, not from this dashboard"
            )));
        }
    }
    Ok(())
}

fn writes_on(state: &Shared) -> Result<&str, Oops> {
    match (&state.token, state.read_only_reason) {
        (Some(t), None) => Ok(t),
        (_, reason) => Err(Oops::forbidden(format!(
            "refused: the dashboard is {}",
            reason.unwrap_or("read-only")
        ))),
    }
}

/// Checks a write from a page's form: writes on, same origin, logged in, CSRF token.
///
/// # Errors
/// 403 naming what is missing.
pub fn form_write(state: &Shared, headers: &HeaderMap, csrf_field: &str) -> Result<(), Oops> {
    let token = writes_on(state)?;
    same_origin(headers)?;
    if !logged_in(state, headers) {
        return Err(Oops::forbidden(
            "refused: log in with the write token first (/login)",
        ));
    }
    if !same(csrf_field, &digest("csrf", token)) {
        return Err(Oops::forbidden(
            "refused: the form's CSRF token is missing or wrong (reload the page)",
        ));
    }
    Ok(())
}

/// Checks a write from the JSON API: writes on and `Authorization: Bearer TOKEN`.
///
/// # Errors
/// 403 when writes are off, 401 without the right token.
pub fn api_write(state: &Shared, headers: &HeaderMap) -> Result<(), Oops> {
    let token = writes_on(state)?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same(given.trim(), token) {
        Ok(())
    } else {
        Err(Oops {
            status: StatusCode::UNAUTHORIZED,
            message: "refused: send the write token as Authorization: Bearer TOKEN".into(),
            json: true,
        })
    }
}

/// Decodes an `application/x-www-form-urlencoded` body or query (keys may repeat).
pub fn parse_form(body: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = |c: u8| (c as char).to_digit(16);
                    match (hex(b[i + 1]), hex(b[i + 2])) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            i += 2;
                        }
                        _ => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// `GET /login`: the token form.
pub async fn login_page(AxState(state): AxState<Shared>, headers: HeaderMap) -> Response {
    let mut h = page("Log in", 0);
    if let Some(r) = state.read_only_reason {
        h.raw("<p class=\"note\">").text(r).raw("</p>");
    } else if logged_in(&state, &headers) {
        h.raw("<p class=\"ok\">Logged in: write actions are on.</p>");
    }
    h.raw("<form method=\"post\" action=\"/login\"><label>Write token ")
        .raw("<input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\"></label> ")
        .raw("<button type=\"submit\" id=\"login\">Log in</button></form>");
    AxHtml(end(h)).into_response()
}

/// `POST /login`: sets the session cookie when the token is right.
pub async fn login(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Oops> {
    same_origin(&headers)?;
    let token = writes_on(&state)?;
    let given = parse_form(&body)
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .unwrap_or_default();
    if !same(&given, token) {
        return Err(Oops::forbidden("refused: wrong write token"));
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        digest("session", token)
    );
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        assert_eq!(
            parse_form("a=1&job=x-1&job=x%2D2&m=a+b%3C&bad=%zz&end=%4"),
            vec![
                ("a".into(), "1".into()),
                ("job".into(), "x-1".into()),
                ("job".into(), "x-2".into()),
                ("m".into(), "a b<".into()),
                ("bad".into(), "%zz".into()),
                ("end".into(), "%4".into()),
            ]
        );
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h).is_ok());
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(same_origin(&h).is_err());
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(same_origin(&h).is_err());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
    }
}
