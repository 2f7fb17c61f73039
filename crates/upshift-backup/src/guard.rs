//! The boundary between upshift and `rustic_core`: a damaged repository
//! (a corrupted pack, a truncated index) can make `rustic_core` panic, and
//! its panic messages dump whole index structures. Every public operation
//! runs inside [`contained`]: a panic becomes [`BackupError::Damaged`] and
//! nothing of it is printed.
//!
//! `std::panic::catch_unwind` stops the unwinding
//! (<https://doc.rust-lang.org/std/panic/fn.catch_unwind.html>); the
//! printing is done earlier by the panic hook
//! (<https://doc.rust-lang.org/std/panic/fn.set_hook.html>), on the thread
//! that panicked. `rustic_core` panics on its own worker threads too, so a
//! thread-local flag would not reach them: the hook installed here stays
//! silent while any contained operation runs in the process, and keeps the
//! first message for the error. Outside of them it is the default hook.
//!
//! `rustic_core`'s errors print a page each (guidance, context, "Caused
//! by", a backtrace when `RUST_BACKTRACE` is set, nested once per cause);
//! [`concise`] makes one line of them.

use std::panic::{catch_unwind, AssertUnwindSafe, PanicHookInfo};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use rustic_core::RusticError;

use crate::error::{BackupError, Result};

/// How a `RusticError` starts its (long) `Display`.
const RUSTIC_DISPLAY: &str = "`rustic_core` experienced an error";

/// How many contained operations run now.
static QUIET: AtomicUsize = AtomicUsize::new(0);

/// The first panic message seen while quiet.
static FIRST: Mutex<Option<String>> = Mutex::new(None);

/// At most this much of a panic message is kept (they can be kilobytes).
const MESSAGE_LIMIT: usize = 160;

/// Installs the hook once, wrapping whatever hook was there.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.load(Ordering::SeqCst) == 0 {
                return previous(info);
            }
            let mut first = FIRST.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| summary(info));
        }));
    });
}

/// The first line of a panic's message, cut short, and where it was raised.
fn summary(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    let line = text.lines().next().unwrap_or_default();
    let mut short: String = line.chars().take(MESSAGE_LIMIT).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    match info.location() {
        Some(l) => format!("{short} (at {}:{})", l.file(), l.line()),
        None => short,
    }
}

/// Counts a contained operation while it runs (also when it unwinds).
struct Quiet;

impl Quiet {
    fn start() -> Quiet {
        install();
        if QUIET.fetch_add(1, Ordering::SeqCst) == 0 {
            *FIRST.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        Quiet
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f`; a panic inside it is returned as its (short) message, and
/// nothing is printed.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let quiet = Quiet::start();
    let out = catch_unwind(AssertUnwindSafe(f));
    drop(quiet);
    out.map_err(|_| {
        let mut first = FIRST.lock().unwrap_or_else(|p| p.into_inner());
        first.take().unwrap_or_else(|| "no message".into())
    })
}

/// Runs an operation on the repository at `repo`; a panic inside it is
/// [`BackupError::Damaged`].
pub(crate) fn contained<T>(repo: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    quietly(f).unwrap_or_else(|detail| {
        Err(BackupError::Damaged {
            repo: repo.to_path_buf(),
            detail,
        })
    })
}

/// `e` as a `RusticError`: a cause is often the boxed error `rustic_core`
/// passes around.
fn as_rustic<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a RusticError> {
    e.downcast_ref::<RusticError>()
        .or_else(|| e.downcast_ref::<Box<RusticError>>().map(|b| &**b))
}

/// Whether `e` or a cause of it says the repository's data is damaged:
/// "Data decryption failed, MAC check failed" with a key that opened the
/// repository (<https://rustic.cli.rs/docs/errors/C001>).
pub(crate) fn says_damaged(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if as_rustic(err).is_some_and(|r| r.is_code("C001")) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// One line for an error from `rustic_core` and its causes, without the
/// guidance pages and backtraces its `Display` adds.
pub(crate) fn concise(e: &(dyn std::error::Error + 'static)) -> String {
    if let Some(r) = as_rustic(e) {
        // `display_log` is one line up to the cause, which it shows whole.
        let log = r.display_log();
        let head = log.split(": caused by: ").next().unwrap_or(&log);
        let head = head.strip_prefix("Error: ").unwrap_or(head).trim();
        return match std::error::Error::source(r) {
            Some(cause) => format!("{head}: {}", concise(cause)),
            None => head.to_string(),
        };
    }
    let text = e.to_string();
    match (text.find(RUSTIC_DISPLAY), e.source()) {
        (Some(at), Some(cause)) => {
            let head = text[..at].trim_end().trim_end_matches(':').trim_end();
            format!("{head}: {}", concise(cause))
        }
        _ => text.lines().next().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_on_any_thread_becomes_a_short_error() {
        let long = format!("index dump {}", "x".repeat(10_000));
        let err = contained(Path::new("/r"), || -> Result<()> {
            std::thread::scope(|s| s.spawn(|| panic!("{long}")).join())
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            Ok(())
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BackupError::Damaged { .. }), "{text}");
        assert!(text.contains("/r") && text.contains("index dump"), "{text}");
        assert!(text.len() < 600, "{text}");
        assert_eq!(quietly(|| 7), Ok(7));
    }

    #[test]
    fn rustic_errors_become_one_line_with_their_causes() {
        let inner = RusticError::new(rustic_core::ErrorKind::Cryptography, "MAC check failed");
        let outer = RusticError::with_source(
            rustic_core::ErrorKind::Internal,
            "error processing pack {id}",
            inner,
        )
        .attach_context("id", "3bba6e2e");
        let long = outer.to_string();
        let short = concise(&*outer);
        assert!(
            long.contains("Message:") && long.lines().count() > 5,
            "{long}"
        );
        assert!(
            !short.contains('\n') && !short.contains("Backtrace"),
            "{short}"
        );
        assert!(short.contains("error processing pack 3bba6e2e"), "{short}");
        assert!(short.contains("MAC check failed"), "{short}");
    }
}
