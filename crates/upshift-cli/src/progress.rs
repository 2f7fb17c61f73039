//! Live progress of runs, on stderr (stdout stays for the result or JSON).

use std::io::Write;
use std::time::Instant;

/// Prints one line per finished step, and notes, to stderr.
pub struct StepLines {
    started: std::cell::Cell<Option<Instant>>,
}

impl StepLines {
    pub fn new() -> Self {
        StepLines { started: std::cell::Cell::new(None) }
    }
}

impl upshift_run::Progress for StepLines {
    fn step(&self, hop: usize, hops: usize, from: &str, to: &str, step: &str, description: &str, state: &str) {
        let mut err = std::io::stderr().lock();
        match state {
            "started" => self.started.set(Some(Instant::now())),
            _ => {
                let secs = self.started.get().map_or(0.0, |t| t.elapsed().as_secs_f64());
                let mark = match state {
                    "done" => "ok",
                    "failed" => "FAILED",
                    other => other,
                };
                let _ = writeln!(err, "[{hop}/{hops} {from} → {to}] {mark:<6} {step:<24} {description} ({secs:.1}s)");
            }
        }
    }

    fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}
