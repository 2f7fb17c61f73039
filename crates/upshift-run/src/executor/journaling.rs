//! The run's journal under faults: deleted or replaced during the run
//! (checked at every step boundary), or unable to record how the run
//! ended (a full disk).
//!
//! A journal gone missing stops the run before its next step. The copy
//! the run still holds open is written back (or beside a file that took
//! its place), so `resume` and `rollback` can finish the run. Then, what
//! keeps data safe:
//! - before the window, or after `maintenance.off`: nothing more is done;
//! - inside the window before the swap: the old version is started again
//!   (nothing changed on disk), as after a failure there;
//! - after the swap: nothing more is done, stopped services stay stopped.
//!   Restoring the snapshot or migrating further would act on a state
//!   someone else is changing, and the rollback point may have gone with
//!   the journal's directory.

use upshift_core::plan::StepId;

use super::runner::{HopStop, Runner};
use super::RunSummary;
use crate::error::{LostJournal, Result, RunError};
use crate::journal::{Journal, Outcome, StepState, Whereabouts};

impl Runner<'_> {
    /// `result`, unless the journal could not record it (`rec` failed):
    /// then [`RunError::NotRecorded`] with what happened (`ok_text` for a
    /// success) and what answers now.
    pub(super) fn recorded<T>(
        &self,
        rec: Result<()>,
        result: Result<T>,
        ok_text: impl FnOnce() -> String,
    ) -> Result<T> {
        let Err(journal) = rec else {
            return result;
        };
        let outcome = match result {
            Ok(_) => ok_text(),
            Err(e) => e.to_string(),
        };
        Err(RunError::NotRecorded {
            outcome,
            state: self.standing(),
            journal: Box::new(journal),
        })
    }

    /// What answers now, probed once per service: the journal cannot say.
    fn standing(&self) -> String {
        let m = &self.setup.loaded.manifest;
        let parts: Vec<String> = m
            .start_order()
            .into_iter()
            .map(|name| match &m.services[name].health {
                Some(hc) => match crate::health::check(hc, self.target()) {
                    Ok(()) => format!("{name} answers its health check"),
                    Err(_) => format!("{name} does not answer"),
                },
                None => format!("{name} has no health check"),
            })
            .collect();
        parts.join(", ")
    }

    /// Before `step`: the journal at its path is the one this run writes.
    pub(super) fn journal_in_place(&self, step: &StepId) -> Result<(), HopStop> {
        match self.journal.whereabouts(&self.run_id) {
            Whereabouts::InPlace => Ok(()),
            how => Err(HopStop::JournalLost {
                how,
                step: step.clone(),
            }),
        }
    }

    /// A journal write before or after `step` failed: the journal is gone
    /// ([`HopStop::JournalLost`]), or else the step failed (`failed`).
    pub(super) fn lost_or(&self, step: &StepId, failed: HopStop) -> HopStop {
        self.journal_in_place(step).err().unwrap_or(failed)
    }

    /// The journal went missing before `step` of hop `h`: keep its copy,
    /// leave the installation safe, stop (exit 3).
    pub(super) fn journal_lost(
        mut self,
        h: usize,
        how: Whereabouts,
        step: &StepId,
    ) -> Result<RunSummary> {
        let path = self.journal.path().to_path_buf();
        self.setup.progress.note(&format!(
            "error: the journal {} {}: stopping",
            path.display(),
            how.said()
        ));
        let copy = self.keep_copy();
        let state = self.leave_safe(h);
        let what = format!("stopped: the journal {}", how.said());
        let _ =
            self.journal
                .set_outcome(&self.run_id, Outcome::Running, &state.serving, Some(&what));
        self.set_manifest_version(&state.serving);
        Err(RunError::JournalLost(Box::new(LostJournal {
            path,
            how: how.said(),
            run_id: self.run_id.clone(),
            hop: h + 1,
            step: step.to_string(),
            state: state.said,
            copy,
        })))
    }

    /// Writes the copy of the journal this run holds, and journals on in
    /// that copy from here. Says where it is.
    fn keep_copy(&mut self) -> String {
        let path = self.journal.path().to_path_buf();
        let written = self
            .journal
            .write_copy(&self.run_id)
            .and_then(|p| Journal::open(&p).map(|j| (p, j)));
        match written {
            Ok((p, j)) => {
                self.journal = j;
                if p == path {
                    format!(
                        "The run's copy of the journal was written back to {}",
                        p.display()
                    )
                } else {
                    format!(
                        "The run's copy of the journal is {}: move the file now at {} aside and put the copy there before resuming",
                        p.display(),
                        path.display()
                    )
                }
            }
            Err(e) => format!(
                "The run's copy of the journal could not be written ({e}): `upshift resume` and `upshift rollback` cannot continue this run"
            ),
        }
    }

    /// Leaves hop `h` where data is safe (see the module's doc).
    fn leave_safe(&mut self, h: usize) -> Left {
        let hop = self.plan.hops[h].clone();
        let done = self.done().unwrap_or_default();
        let is_done = |id: StepId| done.contains(&(h, id));
        let swapped = is_done(StepId::Swap);
        let serving = if swapped { &hop.to } else { &hop.from }.clone();
        if is_done(StepId::MaintenanceOn) && !is_done(StepId::MaintenanceOff) && !swapped {
            let said = match self.undo_hop(h) {
                Ok(()) => {
                    let _ = self.journal.record(
                        &self.run_id,
                        h,
                        &StepId::MaintenanceOn,
                        StepState::Undone,
                        None,
                    );
                    format!("It was inside the maintenance window, before the swap: {} was started again and serves", hop.from)
                }
                Err(e) => format!("It was inside the maintenance window, before the swap: starting {} again failed ({e})", hop.from),
            };
            return Left { serving, said };
        }
        let stopped: Vec<String> = self
            .setup
            .loaded
            .manifest
            .start_order()
            .into_iter()
            .filter(|n| {
                is_done(StepId::Stop(n.to_string())) && !is_done(StepId::Start(n.to_string()))
            })
            .map(str::to_string)
            .collect();
        let said = match (swapped && !is_done(StepId::MaintenanceOff), stopped.is_empty()) {
            (true, false) => format!(
                "It was inside the maintenance window, after the swap: {} is in place and left as it is, with {} stopped (the maintenance page ends with upshift)",
                hop.to,
                stopped.join(", ")
            ),
            _ => format!("{serving} serves"),
        };
        Left { serving, said }
    }
}

/// Where a stopped run left the installation.
struct Left {
    /// The version on disk.
    serving: String,
    /// What serves and what is stopped, in words.
    said: String,
}
