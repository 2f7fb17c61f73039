//! Going back: undoing a hop before its point of no return, restoring a
//! snapshot after it, and rolling back a whole run.

use super::runner::Runner;
use super::RunSummary;
use crate::error::{Result, RunError};
use crate::journal::{Outcome, StepState};
use crate::{driver, health};

/// Journal step id under which a rollback records its target.
const ROLLBACK: &str = "rollback";

impl Runner<'_> {
    /// Before the point of no return nothing changed on disk: start again the
    /// services this hop stopped, and end the maintenance window.
    pub(super) fn undo_hop(&mut self, h: usize) -> Result<(), String> {
        let done = self.done().map_err(|e| e.to_string())?;
        let m = &self.setup.loaded.manifest;
        let t = self.target().clone();
        for name in m.start_order() {
            if !done.contains(&(h, format!("stop.{name}"))) {
                continue;
            }
            let svc = &m.services[name];
            if let Some(addr) = &svc.public_address {
                self.page.release(addr);
            }
            driver::start(name, svc, &t)?;
            if let Some(hc) = &svc.health {
                health::wait(hc, &t).map_err(|e| self.diagnose(h, name, &e))?;
            }
            let _ = self.journal.record(
                &self.run_id,
                h,
                &format!("stop.{name}"),
                StepState::Undone,
                None,
            );
        }
        self.page.release_all();
        if done.contains(&(h, "maintenance.on".to_string())) {
            if let Some(off) = &m.maintenance.off {
                t.host
                    .sh_checked("hook maintenance.off", off, &t.root, &[])
                    .map(|_| ())?;
            }
        }
        Ok(())
    }

    /// Stops everything, restores `snapshot` (data and config), points the
    /// release link at `version`, starts everything and checks health.
    /// Journaled first, so a crash here is finished by `resume`.
    pub(super) fn restore_to(
        &mut self,
        h: usize,
        version: &str,
        snapshot: Option<&str>,
    ) -> Result<(), String> {
        let target = serde_json::json!({ "version": version, "snapshot": snapshot }).to_string();
        self.journal
            .record(&self.run_id, h, ROLLBACK, StepState::Started, Some(&target))
            .map_err(|e| e.to_string())?;
        self.journal
            .set_outcome(&self.run_id, Outcome::RollingBack, version, None)
            .map_err(|e| e.to_string())?;
        let m = self.setup.loaded.manifest.clone();
        let t = self.target().clone();
        let order = m.start_order();
        for name in order.iter().rev() {
            self.setup
                .progress
                .note(&format!("rollback: stopping {name}"));
            let svc = &m.services[*name];
            driver::stop(name, svc, &t)?;
            if m.maintenance.page && !driver::keeps_running(svc) {
                if let Some(addr) = &svc.public_address {
                    self.page.serve_on(&t.host, addr)?;
                }
            }
        }
        if let Some(id) = snapshot {
            self.setup.progress.note(&format!(
                "rollback: restoring snapshot {}",
                &id[..id.len().min(8)]
            ));
            let (view, base) = self.backup_view();
            if t.is_remote() {
                // Restored here, then streamed over the installation's files.
                crate::host::empty_mirror(&t, &m, &self.mirror())?;
            }
            let setup = self.setup;
            let progress = setup.progress.backup();
            self.repo()
                .map_err(|e| e.to_string())?
                .restore(id, &view, &base, &*progress)
                .map_err(|e| e.to_string())?;
            if t.is_remote() {
                self.setup.progress.note(&format!(
                    "rollback: writing the restored data to {}",
                    t.label()
                ));
                crate::host::push_stores(&t, &m, &self.mirror())?;
            }
        }
        self.setup
            .progress
            .note(&format!("rollback: switching back to {version}"));
        self.switch_release(version)?;
        self.helm_rollback(version)?;
        self.compose_rollback(version)?;
        self.set_manifest_version(version);
        for name in &order {
            let svc = &m.services[*name];
            if let Some(addr) = &svc.public_address {
                self.page.release(addr);
            }
            self.setup
                .progress
                .note(&format!("rollback: starting {name} ({version})"));
            driver::start(name, svc, &t)?;
            if let Some(hc) = &svc.health {
                health::wait(hc, &t).map_err(|e| self.diagnose(h, name, &e))?;
            }
        }
        self.page.release_all();
        if let Some(off) = &m.maintenance.off {
            t.host
                .sh_checked("hook maintenance.off", off, &t.root, &[])?;
        }
        self.journal
            .record(&self.run_id, h, ROLLBACK, StepState::Done, Some(&target))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// `upshift rollback`: back to the version the run started from. If the
    /// run passed a point of no return, the first hop's verified snapshot
    /// (taken with services stopped, just before the first swap) is restored.
    pub fn rollback_run(mut self) -> Result<RunSummary> {
        let events = self.journal.events(&self.run_id)?;
        let ponr_crossed = events.iter().any(|e| {
            e.state != StepState::Undone
                && self
                    .plan
                    .hops
                    .get(e.hop)
                    .and_then(|hop| hop.steps.iter().find(|s| s.id == e.step))
                    .is_some_and(|s| s.point_of_no_return)
        });
        let snapshot = if ponr_crossed {
            Some(self.detail(0, "backup.final")?.ok_or_else(|| {
                RunError::Failed(
                    "the run passed the point of no return but no snapshot is recorded".into(),
                )
            })?)
        } else {
            None
        };
        let from = self.plan.from.clone();
        self.finish_rollback(&from, snapshot.as_deref())
    }

    /// `resume` of a run whose rollback was interrupted: redo it (idempotent).
    pub fn resume_rollback(mut self) -> Result<RunSummary> {
        let events = self.journal.events(&self.run_id)?;
        let last = events
            .iter()
            .rev()
            .find(|e| e.step == ROLLBACK && e.state == StepState::Started);
        let target: serde_json::Value = last
            .and_then(|e| e.detail.as_deref())
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let version = target["version"]
            .as_str()
            .unwrap_or(&self.plan.from)
            .to_string();
        let snapshot = target["snapshot"].as_str().map(str::to_string);
        self.finish_rollback(&version, snapshot.as_deref())
    }

    fn finish_rollback(&mut self, version: &str, snapshot: Option<&str>) -> Result<RunSummary> {
        let h = self.plan.hops.len().saturating_sub(1);
        match self.restore_to(h, version, snapshot) {
            Ok(()) => {
                self.journal
                    .set_outcome(&self.run_id, Outcome::RolledBack, version, None)?;
                self.summary()
            }
            Err(e) => {
                self.journal.set_outcome(
                    &self.run_id,
                    Outcome::RollbackFailed,
                    version,
                    Some(&e),
                )?;
                Err(RunError::RollbackFailed {
                    what: format!("rolling back run {} to {version}", self.run_id),
                    rollback: e,
                })
            }
        }
    }
}
