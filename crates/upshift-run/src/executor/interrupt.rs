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
        self.journal
            .set_outcome(&self.run_id, Outcome::Running, serving, Some(&what))?;
        self.set_manifest_version(serving);
        Err(RunError::Interrupted {
            what,
            at: serving.clone(),
        })
    }
}

impl Runner<'_> {
    /// Before `resume` continues: every service the journal says runs is
    /// checked, and started again when it does not answer (after a power
    /// loss nothing runs). Services the interrupted hop stopped and has not
    /// started yet stay stopped: the maintenance page serves for them.
    pub(super) fn reconcile(&mut self) -> Result<()> {
        let done = self.done()?;
        let current = self
            .plan
            .hops
            .iter()
            .enumerate()
            .find(|(h, hop)| !hop.steps.iter().all(|s| done.contains(&(*h, s.id.clone()))))
            .map(|(h, _)| h);
        let m = self.setup.loaded.manifest.clone();
        let t = self.target().clone();
        for name in m.start_order() {
            let down_on_purpose = current.is_some_and(|h| {
                done.contains(&(h, StepId::Stop(name.to_string())))
                    && !done.contains(&(h, StepId::Start(name.to_string())))
            });
            if down_on_purpose {
                continue;
            }
            let svc = &m.services[name];
            let answers = match &svc.health {
                Some(hc) => crate::health::check(hc, &t).is_ok(),
                // Without a health check only a process service can be
                // started again safely (its start does nothing while its
                // pid lives); another kind's start command might start a
                // second copy.
                None => !matches!(svc.run(), upshift_core::manifest::Driver::Process(_)),
            };
            if answers {
                continue;
            }
            self.setup.progress.note(&format!(
                "resume: {name} should be running and is not answering: starting it"
            ));
            let start = crate::deploy::owner(&self.deployments, name)
                .and_then(|d| d.start(&self.cx(), name))
                .and_then(|_| match &svc.health {
                    Some(hc) => crate::health::wait(hc, &t),
                    None => Ok(()),
                });
            if let Err(e) = start {
                return Err(RunError::Step(crate::error::StepError::msg(format!(
                    "resume: {name} should be running and cannot be started: {e}; fix it, then run `upshift resume` again"
                ))));
            }
        }
        Ok(())
    }
}
