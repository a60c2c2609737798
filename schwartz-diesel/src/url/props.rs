//! Tests of the URL parser and the redaction routine: cases checked against libpq's own
//! parser (`PQconninfoParse`, libpq 15) and diesel's MySQL rules, then property tests.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::dsn::{self, Flavor};

/// What `PQconninfoParse` returned for these URLs (libpq 15): user, password, host, port,
/// dbname; `None` where our parser refuses the URL because libpq would connect somewhere
/// the URL's writer did not mean (or libpq itself refuses it).
#[test]
fn agrees_with_libpq() {
    type Row = (
        &'static str,
        Option<(
            &'static str,
            Option<&'static str>,
            &'static str,
            Option<u16>,
            &'static str,
        )>,
    );
    let cases: &[Row] = &[
        // libpq: user "user", password "p", host "ss@host": refused.
        ("user:p@ss@host/db", None),
        // libpq: host "user", port "p", dbname "ss@host/db": refused.
        ("user:p/ss@host/db", None),
        (
            "user:p?ss@host/db",
            Some(("user", Some("p?ss"), "host", None, "db")),
        ),
        (
            "user:p#ss@host/db",
            Some(("user", Some("p#ss"), "host", None, "db")),
        ),
        ("u:p%40w@h/d", Some(("u", Some("p@w"), "h", None, "d"))),
        ("u:p:w@h/d", Some(("u", Some("p:w"), "h", None, "d"))),
        ("u:p w@h/d", Some(("u", Some("p w"), "h", None, "d"))),
        (
            "u:pw@[::1]:5433/db",
            Some(("u", Some("pw"), "[::1]", Some(5433), "db")),
        ),
        ("u:pw@h:/d", Some(("u", Some("pw"), "h", None, "d"))),
        ("u:pw@:5/d", Some(("u", Some("pw"), "", Some(5), "d"))),
        ("u@", Some(("u", None, "", None, ""))),
        ("", Some(("", None, "", None, ""))),
        // libpq: user "host?application_name=a", host "b".
        (
            "host?application_name=a@b",
            Some(("host?application_name=a", None, "b", None, "")),
        ),
        // libpq refuses these.
        ("u:p%zzw@h/d", None),
        ("u:p%00w@h/d", None),
        ("[::1", None),
        ("u:pw@h:1:2/d", None),
    ];
    for (rest, want) in cases {
        let got = dsn::parse_server(rest, Flavor::Libpq);
        match (want, got) {
            (None, Err(_)) => {}
            (Some((user, pw, host, port, db)), Ok(u)) => {
                assert_eq!(u.user, *user, "{rest}");
                assert_eq!(u.password.as_deref(), *pw, "{rest}");
                assert_eq!(u.host, *host, "{rest}");
                assert_eq!(u.port, *port, "{rest}");
                assert_eq!(u.database, *db, "{rest}");
            }
            (want, got) => panic!("{rest}: wanted {want:?}, got {got:?}"),
        }
    }
    // Query parameters override the URL's for libpq (it connects to /tmp here).
    let u = dsn::parse_server("u:pw@h/d?host=%2Ftmp&sslpassword=k", Flavor::Libpq).unwrap();
    assert_eq!(u.params[0], ("host".into(), "/tmp".into()));
    assert!(!format!("{u:?}").contains("pw") && !format!("{u:?}").contains("\"k\""));
}

/// diesel's MySQL connection splits with the `url` crate: the user part ends at the last
/// `@` of the authority, which ends at the first `/`, `?` or `#`.
#[test]
fn agrees_with_diesel_mysql() {
    let u = dsn::parse_server("user:p@ss@host/db", Flavor::Whatwg).unwrap();
    assert_eq!(
        (u.user.as_str(), u.password.as_deref(), u.host.as_str()),
        ("user", Some("p@ss"), "host")
    );
    // Authority "user:p": host "user", port "p" -> the url crate refuses; so do we.
    assert!(dsn::parse_server("user:p/ss@host/db", Flavor::Whatwg).is_err());
    // Authority "user:12": host "user", port 12 and the rest a query or fragment: refused.
    assert!(dsn::parse_server("user:12?ss@host/db", Flavor::Whatwg).is_err());
    assert!(dsn::parse_server("user:12#ss@host/db", Flavor::Whatwg).is_err());
    assert!(dsn::parse_server("h1,h2/db", Flavor::Whatwg).is_err());
}

#[test]
fn redaction_cases() {
    let r = dsn::redact;
    assert_eq!(
        r("postgres://u:secret@h:1/db?password=x&a=b"),
        "postgres://u:***@h:1/db?password=***&a=b"
    );
    assert_eq!(r("mysql://root@h/db"), "mysql://root@h/db");
    assert_eq!(
        r("postgres://user:p@ss@host/db"),
        "postgres://user:***@host/db"
    );
    assert_eq!(
        r("postgres://user:p/s?s#@host/db"),
        "postgres://user:***@host/db"
    );
    assert_eq!(r("postgres:/user:pw@host/db"), "postgres:/user:***@host/db");
    assert_eq!(r("postgres:user:pw@host"), "postgres:user:***@host");
    assert_eq!(r("user:pw@host/db"), "user:***@host/db");
    assert_eq!(
        r("postgres://u@h/d?pass%77ord=x&sslpassword=y"),
        "postgres://u@h/d?pass%77ord=***&sslpassword=***"
    );
    assert_eq!(
        r("host=h password='se cret' user=u"),
        "host=h password=*** user=u"
    );
    assert_eq!(
        r("host=h PASSWORD = a\\ b sslpassword=c"),
        "host=h PASSWORD = *** sslpassword=***"
    );
    assert_eq!(r("postgres://u:pw@[::1]:5/d"), "postgres://u:***@[::1]:5/d");
    assert_eq!(r("sqlite:///tmp/app.db"), "sqlite:///tmp/app.db");
    assert_eq!(r(""), "");
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// A URL made from known parts, with the password written raw or percent-encoded.
#[derive(Debug, Clone)]
struct Made {
    url: String,
    scheme: &'static str,
    user: String,
    password: String,
    host: String,
    port: Option<u16>,
    db: String,
    encoded: bool,
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn made() -> impl Strategy<Value = Made> {
    let scheme = prop_oneof![
        Just("postgres"),
        Just("postgresql"),
        Just("mysql"),
        Just("mariadb")
    ];
    let sep = prop_oneof![4 => Just("://"), 1 => Just(":/"), 1 => Just(":"), 1 => Just("//"), 1 => Just(":///")];
    // Passwords: a marker that appears nowhere else, with URL delimiters and escapes inside.
    let password = "[A-Za-z0-9@/?#:%& =+'\\\\é]{0,12}".prop_map(|s| format!("Pw{s}Qz"));
    let host = prop_oneof![
        "[a-z]{1,8}(\\.[a-z]{2,4})?",
        Just("[::1]".to_string()),
        Just("127.0.0.1".to_string()),
    ];
    (
        scheme,
        sep,
        "[a-z_]{0,6}",
        password,
        host,
        proptest::option::of(1u16..),
        "[a-z0-9_]{0,8}",
        any::<bool>(),
        prop_oneof![
            Just(""),
            Just("?sslmode=disable"),
            Just("?application_name=x&connect_timeout=3")
        ],
    )
        .prop_map(
            |(scheme, sep, user, password, host, port, db, encoded, query)| {
                let pw = if encoded {
                    encode(&password)
                } else {
                    password.clone()
                };
                let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
                let query = query.replace("SECRET", &encode(&password));
                Made {
                    url: format!("{scheme}{sep}{user}:{pw}@{host}{port_text}/{db}{query}"),
                    scheme: if sep == "://" { scheme } else { "typo" },
                    user,
                    password,
                    host,
                    port,
                    db,
                    encoded,
                }
            },
        )
}

/// Whether the backend feature of that name is compiled in.
fn compiled_in(feature: &str) -> bool {
    const COMPILED: [(&str, bool); 2] = [
        ("postgres", cfg!(feature = "postgres")),
        ("mysql", cfg!(feature = "mysql")),
    ];
    COMPILED.iter().any(|&(name, on)| on && name == feature)
}

/// Whether `text` shows the password in any spelling.
fn leaks(text: &str, pw: &str) -> bool {
    let debug = format!("{pw:?}");
    let escaped = &debug[1..debug.len() - 1];
    text.contains(pw) || text.contains(&encode(pw)) || text.contains(escaped)
}

#[test]
fn parsing_and_redaction_never_leak_and_agree() {
    #[derive(Default)]
    struct T {
        tried: u64,
        panics: u64,
        errors: u64,
        wrong: u64,
        leaks: u64,
    }
    let t = std::cell::RefCell::new(T::default());
    runner(3000)
        .run(&made(), |m| {
            let mut t = t.borrow_mut();
            t.tried += 1;
            let outcome = std::panic::catch_unwind(|| {
                let redacted = dsn::redact(&m.url);
                let parsed = super::parse(&m.url);
                (redacted, parsed)
            });
            let Ok((redacted, parsed)) = outcome else {
                t.panics += 1;
                return Ok(());
            };
            let mut shown = vec![redacted];
            match &parsed {
                Ok(target) => {
                    shown.push(target.identity.clone());
                    shown.push(target.describe.clone());
                    shown.push(format!("{target:?}"));
                    if m.scheme == "typo" {
                        t.wrong += 1; // a mistyped URL must not be taken for a server
                        eprintln!("wrong typo: {:?}", m.url);
                    } else {
                        // What the parser says agrees with the parts the URL was made of:
                        // accepting a raw password the driver would split elsewhere is wrong.
                        let flavor = if m.scheme.starts_with("postgres") {
                            Flavor::Libpq
                        } else {
                            Flavor::Whatwg
                        };
                        let rest = m.url.split_once("://").map(|x| x.1).unwrap_or_default();
                        match dsn::parse_server(rest, flavor) {
                            Ok(u) => {
                                let pw_ok = if m.encoded {
                                    u.password.as_deref() == Some(m.password.as_str())
                                } else {
                                    // Written raw: the driver percent-decodes it.
                                    u.password == dsn::percent_decode(&m.password)
                                };
                                if u.user != m.user
                                    || u.host != m.host
                                    || u.port != m.port
                                    || u.database != m.db
                                    || !pw_ok
                                {
                                    t.wrong += 1;
                                    eprintln!("wrong parts: {:?} {u:?}", m.url);
                                }
                            }
                            Err(_) => t.wrong += 1,
                        }
                    }
                }
                Err(e) => {
                    t.errors += 1;
                    shown.push(e.to_string());
                    shown.push(format!("{e:?}"));
                    let feature = if m.scheme.starts_with("postgres") {
                        "postgres"
                    } else {
                        "mysql"
                    };
                    let compiled_in = compiled_in(feature);
                    if m.encoded && m.scheme != "typo" && compiled_in {
                        t.wrong += 1; // a well-formed URL must parse
                        eprintln!("wrong refusal: {:?} {e}", m.url);
                    }
                }
            }
            if shown.iter().any(|s| leaks(s, &m.password)) {
                t.leaks += 1;
                eprintln!("leak: {:?} -> {shown:?}", m.url);
            }
            Ok(())
        })
        .unwrap();
    let t = t.into_inner();
    println!(
        "property url-parse-redact: inputs tried {}, panics {}, clear errors {}, wrong results {}, password appearances {}",
        t.tried, t.panics, t.errors, t.wrong, t.leaks
    );
    assert_eq!((t.panics, t.wrong, t.leaks), (0, 0, 0));
}

#[test]
fn redaction_of_any_text_never_panics() {
    runner(3000)
        .run(&".{0,60}", |s| {
            let _ = dsn::redact(&s);
            let _ = dsn::parse_server(&s, Flavor::Libpq);
            let _ = dsn::parse_server(&s, Flavor::Whatwg);
            let _ = super::parse(&s);
            Ok(())
        })
        .unwrap();
    runner(2000)
        .run(
            &"[a-z]{1,6}=('[^']{0,8}'|[^ ]{0,8})( [a-z]{1,6}=[a-z]{0,4}){0,3}",
            |s| {
                // key=value strings: a password value never survives.
                let with_pw = format!("{s} password=Pw{}Qz", s.len());
                let r = dsn::redact(&with_pw);
                prop_assert!(!r.contains(&format!("Pw{}Qz", s.len())), "{with_pw} -> {r}");
                Ok(())
            },
        )
        .unwrap();
}
