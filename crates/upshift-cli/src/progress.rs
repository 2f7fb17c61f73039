//! Live progress of runs, on stderr (stdout stays for the result or JSON).

use std::io::Write;
use std::time::Instant;

/// Prints one line per finished step, and notes, to stderr.
pub struct StepLines {
    started: std::cell::Cell<Option<Instant>>,
}

impl StepLines {
    pub fn new() -> Self {
        StepLines {
            started: std::cell::Cell::new(None),
        }
    }
}

impl upshift_run::Progress for StepLines {
    fn step(&self, e: &upshift_run::StepProgress) {
        let mut err = std::io::stderr().lock();
        if e.state == "started" {
            self.started.set(Some(Instant::now()));
            return;
        }
        let secs = self
            .started
            .get()
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        let mark = match e.state {
            "done" => "ok",
            "failed" => "FAILED",
            other => other,
        };
        let _ = writeln!(
            err,
            "[{}/{} {} → {}] {mark:<6} {:<24} {} ({secs:.1}s)",
            e.hop, e.hops, e.from, e.to, e.step, e.description
        );
    }

    fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// A spinner naming the phase and store while a step backs up,
    /// verifies or restores (on a terminal only).
    fn backup(&self) -> Box<dyn upshift_backup::Progress + '_> {
        Box::new(StoreSpinner::new(false))
    }
}

/// Backup, verify and restore progress: a spinner on a terminal naming the
/// phase and store; nothing without a terminal or with `--json`.
pub struct StoreSpinner {
    bar: indicatif::ProgressBar,
}

impl StoreSpinner {
    pub fn new(json: bool) -> Self {
        use std::io::IsTerminal;
        let bar = if json || !std::io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        };
        StoreSpinner { bar }
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
    }
    fn store_started(&self, store: &str) {
        self.bar.set_message(format!("{store} …"));
    }
    fn store_finished(&self, store: &str, ok: bool) {
        self.bar
            .println(format!("  {store}: {}", if ok { "ok" } else { "FAILED" }));
    }
}
