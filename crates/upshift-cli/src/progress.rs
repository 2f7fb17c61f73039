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
}
