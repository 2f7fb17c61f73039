//! All output goes through the printer: human text on stdout, or exactly one
//! JSON document on stdout with `--json`; notes, warnings and progress on
//! stderr. The printer also holds how much to say (`-q`, `-v`) and whether
//! stderr gets colour (`--color`, `NO_COLOR`).

use std::io::Write;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// How much goes to stderr besides errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `-q`: errors and the result only.
    Quiet,
    Normal,
    /// `-v`: each step as it starts, and the phases of backups and restores.
    Verbose,
}

impl Level {
    pub fn from_flags(quiet: bool, verbose: bool) -> Level {
        match (quiet, verbose) {
            (true, _) => Level::Quiet,
            (false, true) => Level::Verbose,
            (false, false) => Level::Normal,
        }
    }
}

/// What a coloured word means.
#[derive(Debug, Clone, Copy)]
pub enum Tone {
    Good,
    Bad,
    Warn,
}

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub level: Level,
    /// Colour on stderr.
    pub color: bool,
}

impl Printer {
    /// Resolves `--color` against the environment: `auto` colours a
    /// terminal unless `NO_COLOR` is set to anything but the empty string
    /// (https://no-color.org) or `TERM` is `dumb`.
    pub fn new(json: bool, color: clap::ColorChoice, level: Level) -> Printer {
        use std::io::IsTerminal;
        let env = |k: &str| std::env::var_os(k);
        Printer {
            json,
            level,
            color: resolve_color(
                color,
                env("NO_COLOR").is_some_and(|v| !v.is_empty()),
                std::io::stderr().is_terminal() && !matches!(env("TERM"), Some(t) if t == "dumb"),
            ),
        }
    }

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

    /// A line on stderr, except with `-q`.
    pub fn note(&self, text: &str) {
        if self.level > Level::Quiet {
            stderr_line(text);
        }
    }

    /// A line on stderr only with `-v`.
    pub fn detail(&self, text: &str) {
        if self.level >= Level::Verbose {
            stderr_line(text);
        }
    }

    /// A line on stderr whatever the level: why a command will not go on.
    pub fn always(&self, text: &str) {
        stderr_line(text);
    }

    /// `word` in the colour of `tone` when colour is on.
    pub fn paint(&self, word: &str, tone: Tone) -> String {
        if !self.color {
            return word.to_string();
        }
        let style = match tone {
            Tone::Good => Style::new().fg_color(Some(AnsiColor::Green.into())),
            Tone::Bad => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            Tone::Warn => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        };
        format!("{style}{word}{style:#}")
    }

    /// Reports a failed command: the message on stderr, and in JSON mode an
    /// `{"error": ...}` document on stdout.
    /// The error line on stderr only (the command printed its JSON document).
    pub fn error_line(&self, message: &str) {
        stderr_line(&format!("{}: {message}", self.paint("error", Tone::Bad)));
    }

    pub fn error(&self, exit_code: i32, message: &str) {
        stderr_line(&format!("{}: {message}", self.paint("error", Tone::Bad)));
        if self.json {
            self.json(
                &serde_json::json!({ "error": { "exit_code": exit_code, "message": message } }),
            );
        }
    }
}

fn resolve_color(choice: clap::ColorChoice, no_color: bool, terminal: bool) -> bool {
    match choice {
        clap::ColorChoice::Always => true,
        clap::ColorChoice::Never => false,
        clap::ColorChoice::Auto => !no_color && terminal,
    }
}

/// A line on stderr that never panics: once the terminal is gone (SIGHUP,
/// a dropped ssh connection) writes fail, and `eprintln!` would kill the
/// run where it stands instead of letting it stop at a safe point.
fn stderr_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// [`Printer::note`] with `format!` arguments.
macro_rules! note {
    ($printer:expr, $($arg:tt)*) => {
        $printer.note(&format!($($arg)*))
    };
}
pub(crate) use note;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ColorChoice::{Always, Auto, Never};

    #[test]
    fn colour_follows_the_flag_then_no_color_then_the_terminal() {
        assert!(resolve_color(Always, true, false));
        assert!(!resolve_color(Never, false, true));
        assert!(resolve_color(Auto, false, true));
        assert!(!resolve_color(Auto, true, true));
        assert!(!resolve_color(Auto, false, false));
    }

    #[test]
    fn quiet_wins_over_verbose() {
        assert_eq!(Level::from_flags(true, true), Level::Quiet);
        assert_eq!(Level::from_flags(false, true), Level::Verbose);
        assert_eq!(Level::from_flags(false, false), Level::Normal);
    }

    #[test]
    fn paint_is_plain_without_colour() {
        let mut p = Printer {
            json: false,
            level: Level::Normal,
            color: false,
        };
        assert_eq!(p.paint("ok", Tone::Good), "ok");
        p.color = true;
        assert_eq!(p.paint("ok", Tone::Good), "\u{1b}[32mok\u{1b}[0m");
    }
}
