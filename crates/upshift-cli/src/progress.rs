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
/// phase and store, and while bytes are read or written, a bar with the
/// bytes, rate, elapsed time and ETA (a spinner with bytes and rate when
/// the total is not known); nothing without a terminal, with `--json` or
/// `-q`. With `-v` and no terminal, the phases and stores as lines.
pub struct StoreSpinner {
    bar: indicatif::ProgressBar,
    printer: Printer,
    shown: std::sync::Mutex<Shown>,
}

/// What the bar shows now.
#[derive(Default)]
struct Shown {
    phase: String,
    /// The store whose bytes are shown, and whether their total is known.
    bytes_of: Option<(String, bool)>,
}

const BYTES_BAR: &str = "{spinner} {msg} [{bar:24}] {binary_bytes}/{binary_total_bytes} \
                         {binary_bytes_per_sec} {elapsed} ETA {eta}";
const BYTES_SPINNER: &str = "{spinner} {msg} {binary_bytes} {binary_bytes_per_sec} {elapsed}";

fn style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ")
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
        StoreSpinner {
            bar,
            printer,
            shown: Default::default(),
        }
    }

    fn shown(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Back to the spinner with `message` (a phase, a store).
    fn spin(&self, message: String) {
        if self.shown().bytes_of.take().is_some() {
            self.bar
                .set_style(indicatif::ProgressStyle::default_spinner());
        }
        self.bar.set_message(message);
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
        self.shown().phase = name.to_string();
        self.spin(name.to_string());
        self.detail(&format!("  {name}"));
    }
    fn store_started(&self, store: &str) {
        self.spin(format!("{store} …"));
        self.detail(&format!("  {store} …"));
    }
    fn bytes(&self, store: &str, done: u64, total: Option<u64>) {
        if self.bar.is_hidden() {
            return;
        }
        let mut shown = self.shown();
        let now = (store.to_string(), total.is_some());
        if let Some(t) = total {
            self.bar.set_length(t);
        }
        if shown.bytes_of.as_ref() != Some(&now) {
            // Another store, or its total became known: rate and ETA anew.
            self.bar.reset();
            self.bar
                .set_style(style(if now.1 { BYTES_BAR } else { BYTES_SPINNER }));
            self.bar.set_message(format!("{} {store}", shown.phase));
            shown.bytes_of = Some(now);
        }
        self.bar.set_position(done);
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
