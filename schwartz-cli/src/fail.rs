//! How a command fails: a one-line message and an exit code.

/// Exit code: something asked for was not found or was refused, or a threshold was crossed.
pub const EXIT_ALERT: u8 = 1;
/// Exit code: bad input (arguments, times, handles, unknown functions).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a database did not answer (what the others said was shown).
pub const EXIT_DOWN: u8 = 3;

/// A failed command.
#[derive(Debug)]
pub struct Fail {
    /// The process exit code.
    pub code: u8,
    /// One line for stderr (empty: nothing more to say).
    pub message: String,
}

impl Fail {
    /// Bad input: exit 2.
    pub fn usage(message: impl Into<String>) -> Fail {
        Fail {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// Not found, refused or alerting: exit 1.
    pub fn not_found(message: impl Into<String>) -> Fail {
        Fail {
            code: EXIT_ALERT,
            message: message.into(),
        }
    }

    /// A database did not answer: exit 3.
    pub fn down(message: impl Into<String>) -> Fail {
        Fail {
            code: EXIT_DOWN,
            message: message.into(),
        }
    }

    /// Exit with `code` and no further message.
    pub fn quiet(code: u8) -> Fail {
        Fail {
            code,
            message: String::new(),
        }
    }
}

/// Prints `value` as one pretty JSON document.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Fail> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Fail::usage(format!("cannot encode JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Folds a message onto one line (driver messages span several).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
