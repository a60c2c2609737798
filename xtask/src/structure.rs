//! `cargo xtask structure`: the shape rules of the workspace, checked.
//!
//! - no source file named `*_impl.rs` (a type is split by concept, not by visibility);
//! - no source file over [`MAX_FILE_LINES`] lines outside test code (`tests/` folders);
//! - no `macro_rules!` body over [`MAX_MACRO_LINES`] lines (algorithms are code, not
//!   macro bodies);
//! - with `--clippy`, `schwartz-diesel` is lint-clean (`-D warnings`) with each backend
//!   feature alone and with all of them, so no build needs a blanket `allow`.

use std::path::Path;
use std::process::Command;

/// Longest source file outside tests.
const MAX_FILE_LINES: usize = 700;
/// Longest `macro_rules!` definition, from its first line to its closing brace.
const MAX_MACRO_LINES: usize = 60;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also run clippy with `-D warnings` on schwartz-diesel once per backend feature.
    #[arg(long)]
    clippy: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    let files = tracked_rust_files()?;
    let mut problems = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
        problems.extend(check_file(path, &text));
    }
    println!("structure: {} Rust files checked", files.len());
    if args.clippy {
        for features in [
            "--features=sqlite",
            "--no-default-features --features=postgres",
            "--no-default-features --features=mysql",
            "--all-features",
        ] {
            println!("structure: cargo clippy -p schwartz-diesel {features} -- -D warnings");
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.args(["clippy", "-q", "-p", "schwartz-diesel", "--all-targets"])
                .args(features.split(' '))
                .args(["--", "-D", "warnings"]);
            let status = cmd
                .status()
                .map_err(|e| format!("running cargo clippy: {e}"))?;
            if !status.success() {
                problems.push(format!("schwartz-diesel {features}: clippy found warnings"));
            }
        }
    }
    if problems.is_empty() {
        println!("structure: ok");
        Ok(())
    } else {
        for p in &problems {
            eprintln!("  {p}");
        }
        Err(format!("{} structure problem(s)", problems.len()))
    }
}

fn tracked_rust_files() -> Result<Vec<String>, String> {
    let out = Command::new("git")
        .args(["ls-files", "--", "*.rs"])
        .output()
        .map_err(|e| format!("running git ls-files: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git ls-files failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The rules broken by one file.
fn check_file(path: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if name.ends_with("_impl.rs") {
        problems.push(format!("{path}: a file named *_impl.rs"));
    }
    let is_test = path.starts_with("tests/") || path.contains("/tests/");
    let lines: Vec<&str> = text.lines().collect();
    if !is_test && lines.len() > MAX_FILE_LINES {
        problems.push(format!(
            "{path}: {} lines (at most {MAX_FILE_LINES} outside tests)",
            lines.len()
        ));
    }
    for (start, len, macro_name) in macro_spans(&lines) {
        if len > MAX_MACRO_LINES {
            problems.push(format!(
                "{path}:{}: macro_rules! {macro_name} is {len} lines (at most {MAX_MACRO_LINES})",
                start + 1
            ));
        }
    }
    problems
}

/// `(first line index, length in lines, name)` of each `macro_rules!` definition. Brackets
/// are counted outside `//` comments and string literals.
fn macro_spans(lines: &[&str]) -> Vec<(usize, usize, String)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        let Some(rest) = line.strip_prefix("macro_rules!") else {
            i += 1;
            continue;
        };
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0i64;
        let mut opened = false;
        let mut end = lines.len() - 1;
        'scan: for (j, l) in lines.iter().enumerate().skip(i) {
            let mut in_string = false;
            let mut prev = ' ';
            for c in code_part(l).chars() {
                if in_string {
                    if c == '"' && prev != '\\' {
                        in_string = false;
                    }
                } else if c == '"' {
                    in_string = true;
                } else if matches!(c, '{' | '(' | '[') {
                    depth += 1;
                    opened = true;
                } else if matches!(c, '}' | ')' | ']') {
                    depth -= 1;
                }
                prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            }
            if opened && depth <= 0 {
                end = j;
                break 'scan;
            }
        }
        spans.push((i, end - i + 1, name));
        i = end + 1;
    }
    spans
}

/// `line` without a trailing `//` comment (a `//` inside a string is kept).
fn code_part(line: &str) -> &str {
    let mut in_string = false;
    let bytes = line.as_bytes();
    for k in 0..bytes.len() {
        match bytes[k] {
            b'"' if k == 0 || bytes[k - 1] != b'\\' => in_string = !in_string,
            b'/' if !in_string && bytes.get(k + 1) == Some(&b'/') => return &line[..k],
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_macro_and_an_impl_file_are_reported() {
        let body: String = (0..70)
            .map(|i| format!("        let x{i} = {i};\n"))
            .collect();
        let text = format!("macro_rules! big {{\n    () => {{\n{body}    }};\n}}\nfn f() {{}}\n");
        let problems = check_file("crate/src/a_impl.rs", &text);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("_impl.rs"));
        assert!(
            problems[1].contains("macro_rules! big is 74 lines"),
            "{problems:?}"
        );
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let text = "macro_rules! m {\n    () => { \"}}}\" }; // }}\n}\nconst A: u8 = 1;\n";
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(macro_spans(&lines), vec![(0, 3, "m".to_string())]);
    }

    #[test]
    fn long_test_files_are_allowed() {
        let text = "fn f() {}\n".repeat(MAX_FILE_LINES + 1);
        assert!(check_file("tests/tests/big.rs", &text).is_empty());
        assert!(check_file("crate/tests/big.rs", &text).is_empty());
        assert_eq!(check_file("crate/src/big.rs", &text).len(), 1);
    }
}
