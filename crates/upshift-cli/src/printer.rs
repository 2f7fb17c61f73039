//! All output goes through the printer: human text on stdout, or exactly one
//! JSON document on stdout with `--json`; warnings and progress on stderr.

use std::io::Write;

use serde::Serialize;

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
}

impl Printer {
    /// Prints human-readable text (nothing in JSON mode).
    pub fn human(&self, text: impl AsRef<str>) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", text.as_ref());
        }
    }

    /// Prints the JSON document (only in JSON mode).
    pub fn json<T: Serialize>(&self, value: &T) {
        if self.json {
            let text = serde_json::to_string_pretty(value).expect("plain data serialises");
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    }

    /// Reports a failed command: the message on stderr, and in JSON mode an
    /// `{"error": ...}` document on stdout.
    pub fn error(&self, exit_code: i32, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "error: {message}");
        if self.json {
            self.json(
                &serde_json::json!({ "error": { "exit_code": exit_code, "message": message } }),
            );
        }
    }
}

/// `eprintln!` that never panics: once the terminal is gone (SIGHUP, a
/// dropped ssh connection) writes fail, and `eprintln!` would kill the run
/// where it stands instead of letting it stop at a safe point.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use note;
