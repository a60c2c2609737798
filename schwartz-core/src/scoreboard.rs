//! Scoreboard files: TheSchwartz's worker monitoring files.
//!
//! A scoreboard is one small text file per worker (process or thread) under
//! `<base>/theschwartz/`, rewritten when a job starts and appended to when it ends:
//!
//! ```text
//! pid=<process id>
//! funcname=<function name of the job>
//! started=<grab time: grabbed_until - grab_for, server clock>
//! arg=<the job's argument, see below>
//! done=<end time>            (appended when the job is done)
//! ```
//!
//! The `arg` line shows the argument bytes as they are when they are valid UTF-8 made of
//! printable characters (no control characters), and as lowercase hex otherwise (typed
//! arguments are bincode, so they show as hex); either way it is cut to 200 characters.
//! A job without an argument has an empty `arg=` line.
//!
//! The file belongs to the process that created it: dropping a [`Scoreboard`] removes the
//! file only in that process (a forked child dropping its copy leaves the parent's file
//! alone, unlike TheSchwartz, bug B21).
//!
//! ```
//! use schwartz_core::scoreboard::Scoreboard;
//! let dir = tempfile::tempdir()?;
//! let board = Scoreboard::create(dir.path(), "scoreboard.example")?;
//! board.start("send_email", 1_700_000_000, Some(b"hello"))?;
//! board.end(1_700_000_005)?;
//! let text = std::fs::read_to_string(board.path())?;
//! assert!(text.ends_with("funcname=send_email\nstarted=1700000000\narg=hello\ndone=1700000005\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ids::Epoch;

/// The name of the directory created under the base directory.
pub const SCOREBOARD_SUBDIR: &str = "theschwartz";

/// The longest `arg=` value written, in characters.
pub const MAX_ARG_CHARS: usize = 200;

/// One scoreboard file (see the [module docs](self) for the format).
#[derive(Debug)]
pub struct Scoreboard {
    path: PathBuf,
    owner_pid: u32,
}

impl Scoreboard {
    /// Creates `<base_dir>/theschwartz` if missing (mode 0755, not recursive: `base_dir`
    /// must exist) and returns the scoreboard `<base_dir>/theschwartz/<file_name>`.
    /// The file itself is written by [`Scoreboard::start`].
    ///
    /// # Errors
    /// [`Error::Scoreboard`] when the directory cannot be created;
    /// [`Error::InvalidInput`] when `file_name` is empty or contains a path separator.
    pub fn create(base_dir: &Path, file_name: &str) -> Result<Scoreboard> {
        if file_name.is_empty()
            || file_name.contains('/')
            || file_name.contains('\\')
            || file_name == ".."
            || file_name == "."
        {
            return Err(Error::InvalidInput(format!(
                "scoreboard file name {file_name:?} must be a plain, non-empty file name"
            )));
        }
        let dir = base_dir.join(SCOREBOARD_SUBDIR);
        if !dir.is_dir() {
            let mut builder = fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o755);
            }
            if let Err(source) = builder.create(&dir) {
                // A concurrent creator is fine.
                if !(source.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir()) {
                    return Err(Error::Scoreboard {
                        path: dir.display().to_string(),
                        source,
                    });
                }
            }
        }
        Ok(Scoreboard {
            path: dir.join(file_name),
            owner_pid: std::process::id(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id of the process that created the scoreboard (the only one that removes it).
    pub fn owner_pid(&self) -> u32 {
        self.owner_pid
    }

    /// A job starts: truncates the file and writes the `pid=`, `funcname=`, `started=` and
    /// `arg=` lines.
    ///
    /// # Errors
    /// [`Error::Scoreboard`] when the file cannot be written.
    pub fn start(&self, funcname: &str, started: Epoch, arg: Option<&[u8]>) -> Result<()> {
        let text = format!(
            "pid={}\nfuncname={}\nstarted={}\narg={}\n",
            std::process::id(),
            single_line(funcname),
            started,
            render_arg(arg)
        );
        fs::write(&self.path, text).map_err(|source| self.error(source))
    }

    /// The job is done: appends `done=<done>`.
    ///
    /// # Errors
    /// [`Error::Scoreboard`] when the file cannot be written.
    pub fn end(&self, done: Epoch) -> Result<()> {
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(|source| self.error(source))?;
        file.write_all(format!("done={done}\n").as_bytes())
            .map_err(|source| self.error(source))
    }

    fn error(&self, source: std::io::Error) -> Error {
        Error::Scoreboard {
            path: self.path.display().to_string(),
            source,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_owner(path: PathBuf, owner_pid: u32) -> Scoreboard {
        Scoreboard { path, owner_pid }
    }
}

impl Drop for Scoreboard {
    /// Removes the file, only in the process that created the scoreboard.
    fn drop(&mut self) {
        if std::process::id() == self.owner_pid {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Renders a job argument for the `arg=` line: printable UTF-8 as it is, anything else
/// as lowercase hex; at most [`MAX_ARG_CHARS`] characters. `None` renders as empty.
pub fn render_arg(arg: Option<&[u8]>) -> String {
    let Some(bytes) = arg else {
        return String::new();
    };
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => s.chars().take(MAX_ARG_CHARS).collect(),
        _ => {
            let mut hex = String::with_capacity(MAX_ARG_CHARS);
            for b in bytes.iter().take(MAX_ARG_CHARS / 2) {
                let _ = write!(hex, "{b:02x}");
            }
            hex
        }
    }
}

fn single_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_format() {
        let dir = tempfile::tempdir().unwrap();
        let board = Scoreboard::create(dir.path(), "scoreboard.1").unwrap();
        assert!(dir.path().join("theschwartz").is_dir());
        board.start("Foo", 100, Some(b"x=1")).unwrap();
        board.end(105).unwrap();
        let text = fs::read_to_string(board.path()).unwrap();
        let want = format!(
            "pid={}\nfuncname=Foo\nstarted=100\narg=x=1\ndone=105\n",
            std::process::id()
        );
        assert_eq!(text, want);
        // start truncates
        board.start("Bar", 200, None).unwrap();
        let text = fs::read_to_string(board.path()).unwrap();
        assert_eq!(
            text,
            format!(
                "pid={}\nfuncname=Bar\nstarted=200\narg=\n",
                std::process::id()
            )
        );
        let path = board.path().to_path_buf();
        drop(board);
        assert!(!path.exists());
        assert!(dir.path().join("theschwartz").is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn directory_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let _board = Scoreboard::create(dir.path(), "s").unwrap();
        let mode = fs::metadata(dir.path().join("theschwartz"))
            .unwrap()
            .permissions()
            .mode();
        // umask may only remove bits
        assert_eq!(mode & 0o7000, 0);
        assert_eq!(mode & !0o755 & 0o777, 0);
    }

    #[test]
    fn not_recursive_and_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such");
        assert!(matches!(
            Scoreboard::create(&missing, "s"),
            Err(Error::Scoreboard { .. })
        ));
        assert!(matches!(
            Scoreboard::create(dir.path(), "a/b"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            Scoreboard::create(dir.path(), ""),
            Err(Error::InvalidInput(_))
        ));
        // existing directory is fine
        Scoreboard::create(dir.path(), "one").unwrap();
        Scoreboard::create(dir.path(), "two").unwrap();
    }

    #[test]
    fn drop_only_removes_in_owner_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("foreign");
        fs::write(&path, "pid=1\n").unwrap();
        let board = Scoreboard::with_owner(path.clone(), std::process::id().wrapping_add(1));
        drop(board);
        assert!(path.exists(), "another process's scoreboard must survive");
        let board = Scoreboard::with_owner(path.clone(), std::process::id());
        drop(board);
        assert!(!path.exists());
    }

    #[test]
    fn arg_rendering() {
        assert_eq!(render_arg(None), "");
        assert_eq!(render_arg(Some(b"")), "");
        assert_eq!(render_arg(Some("héllo".as_bytes())), "héllo");
        assert_eq!(render_arg(Some(b"\x00\x01\xff")), "0001ff");
        assert_eq!(render_arg(Some(b"a\nb")), "610a62");
        let long = "x".repeat(500);
        assert_eq!(render_arg(Some(long.as_bytes())).len(), MAX_ARG_CHARS);
        let bin = vec![0u8; 500];
        assert_eq!(render_arg(Some(&bin)).len(), MAX_ARG_CHARS);
        assert_eq!(single_line("a\nb"), "a b");
    }
}
