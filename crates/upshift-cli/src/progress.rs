//! Live progress of runs, on stderr (stdout stays for the result or JSON),
//! as much as the printer's level says.

use std::time::Instant;

use crate::printer::{Level, Printer, Tone};

/// Prints one line per finished step (and, with `-v`, per started step),
/// and notes, to stderr; nothing with `-q`.
pub struct StepLines {
    printer: Printer,
    started: std::cell::Cell<Option<Instant>>,
}

impl StepLines {
    pub fn new(printer: Printer) -> Self {
        StepLines {
            printer,
            started: std::cell::Cell::new(None),
        }
    }
}

impl upshift_run::Progress for StepLines {
    fn step(&self, e: &upshift_run::StepProgress) {
        let head = format!("[{}/{} {} → {}]", e.hop, e.hops, e.from, e.to);
        if e.state == "started" {
            self.started.set(Some(Instant::now()));
            self.printer.detail(&format!(
                "{head} {:<6} {:<24} {}",
                "start", e.step, e.description
            ));
            return;
        }
        let secs = self
            .started
            .get()
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        let mark = match e.state {
            "done" => self.printer.paint(&format!("{:<6}", "ok"), Tone::Good),
            "failed" => self.printer.paint(&format!("{:<6}", "FAILED"), Tone::Bad),
            other => format!("{other:<6}"),
        };
        self.printer.note(&format!(
            "{head} {mark} {:<24} {} ({secs:.1}s)",
            e.step, e.description
        ));
    }

    fn note(&self, text: &str) {
        match text.split_once(": ") {
            Some(("warning", rest)) => self.printer.note(&format!(
                "{}: {rest}",
                self.printer.paint("warning", Tone::Warn)
            )),
            _ => self.printer.note(text),
        }
    }

    /// A spinner naming the phase and store while a step backs up,
    /// verifies or restores (on a terminal only).
    fn backup(&self) -> Box<dyn upshift_backup::Progress + '_> {
        Box::new(StoreSpinner::new(self.printer))
    }
}

/// Backup, verify and restore progress: a spinner on a terminal naming the
/// phase and store; nothing without a terminal, with `--json` or `-q`. With
/// `-v` and no terminal, the phases and stores as lines.
pub struct StoreSpinner {
    bar: indicatif::ProgressBar,
    printer: Printer,
}

impl StoreSpinner {
    pub fn new(printer: Printer) -> Self {
        use std::io::IsTerminal;
        let bar =
            if printer.json || printer.level == Level::Quiet || !std::io::stderr().is_terminal() {
                indicatif::ProgressBar::hidden()
            } else {
                let b = indicatif::ProgressBar::new_spinner();
                b.enable_steady_tick(std::time::Duration::from_millis(120));
                b
            };
        StoreSpinner { bar, printer }
    }

    /// A line for `-v` where no spinner shows it.
    fn detail(&self, text: &str) {
        if self.bar.is_hidden() && !self.printer.json {
            self.printer.detail(text);
        }
    }
}

impl Drop for StoreSpinner {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl upshift_backup::Progress for StoreSpinner {
    fn phase(&self, name: &str) {
        self.bar.set_message(name.to_string());
        self.detail(&format!("  {name}"));
    }
    fn store_started(&self, store: &str) {
        self.bar.set_message(format!("{store} …"));
        self.detail(&format!("  {store} …"));
    }
    fn store_finished(&self, store: &str, ok: bool) {
        let line = format!(
            "  {store}: {}",
            if ok {
                self.printer.paint("ok", Tone::Good)
            } else {
                self.printer.paint("FAILED", Tone::Bad)
            }
        );
        if self.bar.is_hidden() {
            self.detail(&line);
        } else {
            self.bar.println(line);
        }
    }
}
