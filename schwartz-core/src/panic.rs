//! One home for panics: catching one, turning its payload into a message, and calling a
//! user hook under a panic guard.
//!
//! A panicking job becomes a recorded failure (`panic: <message>`), never a dead thread;
//! a panicking worker hook (`grab_for`, `max_retries`, ...) is logged and replaced by its
//! default. The worker pool and the test harness use the same functions.
//!
//! ```
//! use schwartz_core::panic;
//! assert_eq!(panic::catch(|| 1 + 1), Ok(2));
//! assert_eq!(panic::catch(|| -> u8 { panic!("boom") }), Err(String::from("boom")));
//! assert_eq!(panic::guarded("max_retries", 0, || -> u32 { panic!("bad hook") }), 0);
//! ```

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a panic payload: the `&str` or `String` given to `panic!`, or
/// `(non-string panic payload)`.
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("(non-string panic payload)")
    }
}

/// Runs `f`, turning a panic into its message.
///
/// # Errors
/// The panic's message when `f` panicked.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| message(&*payload))
}

/// Calls a user hook (a worker's `grab_for`, `max_retries`, ...), turning a panic into
/// `default`: a faulty hook is logged at `error` level and must not crash the calling
/// thread.
pub fn guarded<T>(hook: &str, default: T, f: impl FnOnce() -> T) -> T {
    match catch(f) {
        Ok(value) => value,
        Err(msg) => {
            log::error!("worker hook {hook} panicked ({msg}); using its default");
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let p: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(message(&*p), "boom");
        let p: Box<dyn Any + Send> = Box::new(String::from("bang"));
        assert_eq!(message(&*p), "bang");
        let p: Box<dyn Any + Send> = Box::new(3u8);
        assert_eq!(message(&*p), "(non-string panic payload)");
    }

    #[test]
    fn catch_and_guard() {
        assert_eq!(catch(|| 7), Ok(7));
        assert_eq!(
            catch(|| -> u8 { panic!("x{}", 1) }),
            Err(String::from("x1"))
        );
        assert_eq!(guarded("h", 5, || 9), 9);
        assert_eq!(guarded("h", 5, || -> i32 { panic!("no") }), 5);
    }
}
