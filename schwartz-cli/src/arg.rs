//! Job arguments shown to people: decoded where they can be, hex otherwise.

use serde::Serialize;

/// A decoded argument.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Decoded {
    /// `none` (NULL), `json` (JSON text), `utf8` (printable text), `storable` (Perl
    /// Storable `nfreeze`, shown as hex) or `hex` (anything else, e.g. bincode).
    pub encoding: &'static str,
    /// The argument's size in bytes.
    pub bytes: usize,
    /// The value: a JSON value for `json`, the text for `utf8`, lowercase hex otherwise,
    /// `null` for `none`.
    pub value: serde_json::Value,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Perl Storable's network-order header: major version 2 (`0x05`), minor up to 11.
fn looks_like_storable(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && bytes[0] == 0x05 && bytes[1] <= 0x0b
}

/// Decodes an argument for display.
pub fn decode(arg: Option<&[u8]>) -> Decoded {
    let Some(bytes) = arg else {
        return Decoded {
            encoding: "none",
            bytes: 0,
            value: serde_json::Value::Null,
        };
    };
    let n = bytes.len();
    if let Ok(text) = std::str::from_utf8(bytes) {
        let trimmed = text.trim_start();
        if (trimmed.starts_with('{') || trimmed.starts_with('[') || trimmed.starts_with('"'))
            && serde_json::from_str::<serde_json::Value>(text).is_ok()
        {
            if let Ok(v) = serde_json::from_str(text) {
                return Decoded {
                    encoding: "json",
                    bytes: n,
                    value: v,
                };
            }
        }
        if !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Decoded {
                encoding: "utf8",
                bytes: n,
                value: serde_json::Value::String(text.to_string()),
            };
        }
    }
    Decoded {
        encoding: if looks_like_storable(bytes) {
            "storable"
        } else {
            "hex"
        },
        bytes: n,
        value: serde_json::Value::String(hex(bytes)),
    }
}

/// One line for tables and `show`: the text or JSON as it is, hex otherwise.
pub fn one_line(d: &Decoded) -> String {
    match &d.value {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::String(s) if d.encoding != "json" => match d.encoding {
            "utf8" => s.clone(),
            enc => format!("({enc}) {s}"),
        },
        v => v.to_string(),
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
        assert_eq!(decode(Some(b"42")).encoding, "utf8");
        let s = decode(Some(b"\x05\x0b\x03\x00\x00\x00\x01"));
        assert_eq!(s.encoding, "storable");
        assert_eq!(s.value, "050b0300000001");
        assert_eq!(decode(Some(b"\x00\xff")).encoding, "hex");
        assert_eq!(one_line(&decode(Some(b"\x00\xff"))), "(hex) 00ff");
        assert_eq!(one_line(&j), r#"{"to":"a@b"}"#);
    }
}
