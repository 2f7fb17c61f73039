//! A signal (Ctrl-C, SIGTERM, SIGHUP) during a run: stop at the next
//! step boundary where stopping leaves a serving installation.
//!
//! - before the window, or between hops: stop; nothing to undo;
//! - inside the window before the swap: undo the hop (the old version
//!   serves again, as after a failure there), and stop;
//! - after the swap, until `maintenance.off`: finish the window first, so
//!   the installation is not left down halfway through a swap;
//! - after `maintenance.off`: stop; the new version serves.
//!
//! The run stays unfinished either way: `upshift resume` continues it,
//! `upshift rollback` undoes it. Exit 3.

use upshift_core::plan::{Step, StepId};

use super::runner::Runner;
use super::RunSummary;
use crate::error::{Result, RunError};
use crate::journal::{Outcome, StepState};

impl Runner<'_> {
    /// Whether to go on with `step` although `signal` arrived: only inside
    /// the window after the swap.
    pub(super) fn defer_interrupt(&mut self, h: usize, step: &Step, signal: &str) -> bool {
        let hop = &self.plan.hops[h];
        let off = hop
            .steps
            .iter()
            .position(|s| s.id == StepId::MaintenanceOff);
        let here = hop.steps.iter().position(|s| s.id == step.id);
        let in_window_after_swap =
            step.point_of_no_return && matches!((here, off), (Some(i), Some(o)) if i <= o);
        if in_window_after_swap && !self.deferring {
            self.deferring = true;
            self.setup.progress.note(&format!(
                "{signal} received: finishing the maintenance window first ({} of {} is past its swap), then stopping",
                hop.to, hop.from
            ));
        }
        in_window_after_swap
    }

    /// Stops the run before `step` of hop `h` because of `signal`.
    pub(super) fn interrupted(
        mut self,
        h: usize,
        signal: &str,
        step: &StepId,
    ) -> Result<RunSummary> {
        let hop = self.plan.hops[h].clone();
        let done = self.done()?;
        let swapped = done.contains(&(h, StepId::Swap));
        let window_open = done.contains(&(h, StepId::MaintenanceOn));
        let serving = if swapped { &hop.to } else { &hop.from };
        if window_open && !swapped {
            self.setup.progress.note(&format!(
                "{signal} received inside the maintenance window: starting {} again",
                hop.from
            ));
            if let Err(e) = self.undo_hop(h) {
                self.journal.set_outcome(
                    &self.run_id,
                    Outcome::RollbackFailed,
                    &hop.from,
                    Some(&e.to_string()),
                )?;
                return Err(RunError::RollbackFailed {
                    what: format!("interrupted by {signal} in the maintenance window"),
                    rollback: Box::new(e),
                });
            }
            // The window is to be opened again when the run resumes.
            let _ = self.journal.record(
                &self.run_id,
                h,
                &StepId::MaintenanceOn,
                StepState::Undone,
                None,
            );
        }
        let what = format!(
            "interrupted by {signal} before step {step} of hop {} ({} → {})",
            h + 1,
            hop.from,
            hop.to
        );
        let rec = self
            .journal
            .set_outcome(&self.run_id, Outcome::Running, serving, Some(&what));
        self.set_manifest_version(serving);
        let stopped = Err(RunError::Interrupted {
            what,
            at: serving.clone(),
        });
        self.recorded(rec, stopped, String::new)
    }
}
