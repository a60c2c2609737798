//! Job arguments shown to people: decoded where the library can decode them (JSON, Perl
//! Storable), text as text, hex otherwise. Recognition is `schwartz_core::arg`'s.

use schwartz_core::arg::{encoding_of, to_json};
use schwartz_core::ArgEncoding;
use serde::Serialize;

/// A decoded argument.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Decoded {
    /// `none` (NULL), `json` (JSON text), `storable` (Perl Storable, decoded), `bincode`
    /// (Schwartz's prefixed bincode, shown as hex), `utf8` (other printable text) or `hex`
    /// (anything else, e.g. bincode written before formats).
    pub encoding: &'static str,
    /// The argument's size in bytes.
    pub bytes: usize,
    /// The value: a JSON value for `json` and `storable` (Perl's undef is `null`), the text
    /// for `utf8`, lowercase hex otherwise, `null` for `none`.
    pub value: serde_json::Value,
    /// Why a Storable argument could not be decoded (a blessed object, code, ...); its
    /// value is then hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes an argument for display.
pub fn decode(arg: Option<&[u8]>) -> Decoded {
    let Some(bytes) = arg else {
        return Decoded {
            encoding: "none",
            bytes: 0,
            value: serde_json::Value::Null,
            error: None,
        };
    };
    let n = bytes.len();
    let hexed = |encoding, error| Decoded {
        encoding,
        bytes: n,
        value: serde_json::Value::String(hex(bytes)),
        error,
    };
    let encoding = encoding_of(bytes);
    match to_json(bytes) {
        Some(Ok(value)) => {
            return Decoded {
                encoding: encoding.name(),
                bytes: n,
                value,
                error: None,
            }
        }
        Some(Err(e)) => return hexed(encoding.name(), Some(e)),
        None => {}
    }
    if encoding == ArgEncoding::Bincode {
        return hexed("bincode", None);
    }
    match std::str::from_utf8(bytes) {
        Ok(text)
            if !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t') =>
        {
            Decoded {
                encoding: "utf8",
                bytes: n,
                value: serde_json::Value::String(text.to_string()),
                error: None,
            }
        }
        _ => hexed("hex", None),
    }
}

/// One line for tables and `show`: text as it is, decoded values as JSON, hex otherwise.
pub fn one_line(d: &Decoded) -> String {
    match (d.encoding, &d.value, &d.error) {
        ("none", _, _) => "-".to_string(),
        ("utf8", serde_json::Value::String(s), _) => s.clone(),
        ("json" | "storable", v, None) => v.to_string(),
        (enc, serde_json::Value::String(s), Some(e)) => format!("({enc}: {e}) {s}"),
        (enc, v, _) => format!(
            "({enc}) {}",
            v.as_str().map_or_else(|| v.to_string(), str::to_string)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(decode(None).encoding, "none");
        let j = decode(Some(br#"{"to":"a@b"}"#));
        assert_eq!(j.encoding, "json");
        assert_eq!(j.value["to"], "a@b");
        assert_eq!(decode(Some(b"hello")).encoding, "utf8");
        assert_eq!(decode(Some(b"42")).encoding, "json");
        // nfreeze({a => 1}): decoded.
        let s = decode(Some(
            b"\x05\x0b\x03\x00\x00\x00\x01\x08\x81\x00\x00\x00\x01a",
        ));
        assert_eq!(s.encoding, "storable");
        assert_eq!(s.value, serde_json::json!({"a": 1}));
        assert_eq!(one_line(&s), r#"{"a":1}"#);
        // bless({}, "Foo"): recognised, not decoded.
        let b = decode(Some(b"\x05\x0b\x11\x03Foo\x03\x00\x00\x00\x00"));
        assert_eq!(b.encoding, "storable");
        assert!(b.error.as_deref().unwrap().contains("class Foo"));
        assert!(
            one_line(&b).starts_with("(storable: a blessed object"),
            "{}",
            one_line(&b)
        );
        let bin = schwartz_core::arg::encode(schwartz_core::ArgFormat::Bincode, &7u8).unwrap();
        assert_eq!(decode(Some(&bin)).encoding, "bincode");
        assert_eq!(decode(Some(b"\x00\xff")).encoding, "hex");
        assert_eq!(one_line(&decode(Some(b"\x00\xff"))), "(hex) 00ff");
        assert_eq!(one_line(&j), r#"{"to":"a@b"}"#);
    }
}
