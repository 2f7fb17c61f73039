//! Going back: undoing a hop before its point of no return, restoring a
//! snapshot after it, and rolling back a whole run.

use upshift_core::plan::StepId;

use super::rollback_point::RollbackPoint;
use super::runner::Runner;
use super::RunSummary;
use crate::deploy;
use crate::detail::Detail;
use crate::error::{Result, RunError, StepResult};
use crate::journal::{Outcome, StepState};

impl Runner<'_> {
    /// Before the point of no return nothing changed on disk: start again the
    /// services this hop stopped, and end the maintenance window.
    pub(super) fn undo_hop(&mut self, h: usize) -> StepResult<()> {
        let done = self.done()?;
        // A stop step that began may have stopped its service before it
        // failed: start those too (starting a running service does nothing).
        let begun: std::collections::HashSet<StepId> = self
            .journal
            .events(&self.run_id)?
            .into_iter()
            .filter(|e| e.hop == h)
            .map(|e| e.step)
            .collect();
        let m = &self.setup.loaded.manifest;
        let t = self.target().clone();
        for name in m.start_order() {
            let stop = StepId::Stop(name.to_string());
            if !begun.contains(&stop) {
                continue;
            }
            self.start_after_page(name)?;
            let from = self.plan.hops[h].from.clone();
            self.wait_healthy(h, name, &from)?;
            let _ = self
                .journal
                .record(&self.run_id, h, &stop, StepState::Undone, None);
        }
        self.page.release_all();
        if done.contains(&(h, StepId::MaintenanceOn)) {
            if let Some(off) = &m.maintenance.off {
                t.host
                    .sh_within(
                        "hook maintenance.off",
                        off,
                        &t.dir,
                        &[],
                        m.hooks.time_limit(),
                    )
                    .map(|_| ())?;
            }
        }
        // The old version runs on its own database again: a copy frozen
        // for this hop is needed no more.
        self.drop_frozen_from(h);
        Ok(())
    }

    /// Stops every service, in reverse dependency order, the maintenance
    /// page taking over their addresses (idempotent).
    fn stop_all(&mut self) -> StepResult<()> {
        let m = self.setup.loaded.manifest.clone();
        for name in m.start_order().iter().rev() {
            self.setup
                .progress
                .note(&format!("rollback: stopping {name}"));
            self.stop_behind_page(name)?;
        }
        Ok(())
    }

    /// Starts every service again at `version` (the one serving before a
    /// refused rollback), checking each answers, and ends the page.
    fn start_all(&mut self, version: &str) -> StepResult<()> {
        let m = self.setup.loaded.manifest.clone();
        let last_hop = self.plan.hops.len().saturating_sub(1);
        for name in m.start_order() {
            self.start_after_page(name)?;
            self.wait_healthy(last_hop, name, version)?;
        }
        self.page.release_all();
        Ok(())
    }

    /// Stops everything, restores `point` (data and config), puts every
    /// deployment back to `version`, starts everything and checks health.
    /// Journaled first, so a crash here is finished by `resume`.
    /// With `keeps_data`, only the snapshot's config files are put back;
    /// `manual` when an operator asked for it (`upshift rollback`).
    pub(super) fn restore_to(
        &mut self,
        h: usize,
        version: &str,
        point: Option<&RollbackPoint>,
        keeps_data: bool,
        manual: bool,
    ) -> StepResult<()> {
        let (snapshot, frozen) = match point {
            Some(RollbackPoint::Snapshot(id)) => (Some(id.clone()), None),
            Some(RollbackPoint::Frozen(p)) => (None, Some(p.clone())),
            None => (None, None),
        };
        let target = Detail::RollbackTarget {
            version: version.to_string(),
            snapshot,
            frozen,
            keeps_data,
            manual,
        };
        self.journal.record(
            &self.run_id,
            h,
            &StepId::Rollback,
            StepState::Started,
            Some(&target),
        )?;
        self.journal
            .set_outcome(&self.run_id, Outcome::RollingBack, version, None)?;
        let m = self.setup.loaded.manifest.clone();
        let t = self.target().clone();
        let order = m.start_order();
        self.stop_all()?;
        match point {
            Some(RollbackPoint::Snapshot(id)) if keeps_data => self.restore_config(id, version)?,
            Some(RollbackPoint::Snapshot(id)) => self.restore_snapshot(id)?,
            Some(RollbackPoint::Frozen(p)) => self.thaw(p, keeps_data)?,
            None => {}
        }
        self.setup
            .progress
            .note(&format!("rollback: switching back to {version}"));
        deploy::roll_back(
            &self.journal,
            &self.cx(),
            &self.plan.hops,
            version,
            &self.deployments,
        )?;
        self.set_manifest_version(version);
        for name in &order {
            self.setup
                .progress
                .note(&format!("rollback: starting {name} ({version})"));
            self.start_after_page(name)?;
            self.wait_healthy(h, name, version)?;
        }
        self.page.release_all();
        if let Some(off) = &m.maintenance.off {
            t.host.sh_within(
                "hook maintenance.off",
                off,
                &t.dir,
                &[],
                m.hooks.time_limit(),
            )?;
        }
        self.journal.record(
            &self.run_id,
            h,
            &StepId::Rollback,
            StepState::Done,
            Some(&target),
        )?;
        // The data is back: the run's frozen copies are needed no more.
        self.drop_frozen_from(0);
        Ok(())
    }

    /// Restores snapshot `id` over the stores and config files (through the
    /// mirror for a remote installation).
    fn restore_snapshot(&mut self, id: &str) -> StepResult<()> {
        let m = self.setup.loaded.manifest.clone();
        let t = self.target().clone();
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
        self.repo()?.restore(id, &view, &base, &*progress)?;
        if t.is_remote() {
            self.setup.progress.note(&format!(
                "rollback: writing the restored data to {}",
                t.label()
            ));
            crate::host::push_stores(&t, &m, &self.mirror())?;
        }
        Ok(())
    }

    /// Puts back only the config files of snapshot `id`: `version` runs on
    /// the data as it is.
    fn restore_config(&mut self, id: &str, version: &str) -> StepResult<()> {
        self.setup.progress.note(&format!(
            "rollback: keeping the data ({version} runs on it, the catalog says); restoring the config files of snapshot {}",
            &id[..id.len().min(8)]
        ));
        let setup = self.setup;
        let progress = setup.progress.backup();
        self.repo()?.restore_config(id, &*progress)?;
        Ok(())
    }

    /// `upshift rollback`: back to the version the run started from. If the
    /// run passed a point of no return, the first hop's verified snapshot
    /// (taken with services stopped, just before the first swap) is restored.
    pub fn rollback_run(mut self, back_to: usize) -> Result<RunSummary> {
        let events = self.journal.events(&self.run_id)?;
        let snapshot = if ponr_crossed(&events, &self.plan, back_to) {
            Some(self.rollback_point(back_to)?.ok_or_else(|| {
                RunError::Failed(
                    "the run passed the point of no return but no snapshot is recorded".into(),
                )
            })?)
        } else {
            None
        };
        let from = self
            .plan
            .hops
            .get(back_to)
            .map_or(self.plan.from.clone(), |h| h.from.clone());
        let now = self
            .journal
            .run(&self.run_id)?
            .and_then(|r| r.at_version)
            .unwrap_or_else(|| self.plan.to.clone());
        if snapshot.is_some() {
            // What users wrote since is about to be replaced (or, when the
            // data is kept, the config they run with): keep it first, with
            // the services stopped, so that no write acknowledged before
            // the stop is missing from it.
            self.safety_snapshot_stopped(&now)?;
        }
        let keeps_data = snapshot.is_some() && keeps_data(self.setup, &now, &from);
        self.finish_rollback(&from, snapshot.as_ref(), keeps_data, true)
    }

    /// Stops every service and takes the safety snapshot of the data
    /// `now` holds; when that fails, starts `now` again and says nothing
    /// changed.
    fn safety_snapshot_stopped(&mut self, now: &str) -> Result<()> {
        let Err(e) = self.stop_all().and_then(|()| self.safety_snapshot(now)) else {
            return Ok(());
        };
        let restarted = self.start_all(now);
        Err(RunError::Step(crate::error::StepError::msg(match restarted {
            Ok(()) => format!(
                "rollback refused: the safety snapshot of the current data failed: {e}; nothing was changed ({now} serves again)"
            ),
            Err(r) => format!(
                "rollback refused: the safety snapshot of the current data failed: {e}; starting {now} again failed too: {r}"
            ),
        })))
    }

    /// `resume` of a run whose rollback was interrupted: redo it (idempotent).
    pub fn resume_rollback(mut self) -> Result<RunSummary> {
        let events = self.journal.events(&self.run_id)?;
        let last = events
            .into_iter()
            .rev()
            .find(|e| e.step == StepId::Rollback && e.state == StepState::Started);
        let (version, point, keeps_data, manual) = match last.and_then(|e| e.detail) {
            Some(Detail::RollbackTarget {
                version,
                snapshot,
                frozen,
                keeps_data,
                manual,
            }) => {
                let point = snapshot
                    .map(RollbackPoint::Snapshot)
                    .or(frozen.map(RollbackPoint::Frozen));
                (version, point, keeps_data, manual)
            }
            _ => (self.plan.from.clone(), None, false, false),
        };
        self.finish_rollback(&version, point.as_ref(), keeps_data, manual)
    }

    fn finish_rollback(
        &mut self,
        version: &str,
        point: Option<&RollbackPoint>,
        keeps_data: bool,
        manual: bool,
    ) -> Result<RunSummary> {
        let h = self.plan.hops.len().saturating_sub(1);
        match self.restore_to(h, version, point, keeps_data, manual) {
            Ok(()) => {
                self.journal
                    .set_outcome(&self.run_id, Outcome::RolledBack, version, None)?;
                self.remove_staged();
                self.summary()
            }
            Err(e) => {
                self.journal.set_outcome(
                    &self.run_id,
                    Outcome::RollbackFailed,
                    version,
                    Some(&e.to_string()),
                )?;
                Err(RunError::RollbackFailed {
                    what: format!("rolling back run {} to {version}", self.run_id),
                    rollback: Box::new(e),
                })
            }
        }
    }
}

/// Whether a run (its journaled events) passed a point of no return that
/// was not undone: its data must then come back from a snapshot.
/// Only hops from `from_hop` on count.
pub(super) fn ponr_crossed(
    events: &[crate::journal::StepEvent],
    plan: &upshift_core::Plan,
    from_hop: usize,
) -> bool {
    events.iter().any(|e| {
        e.hop >= from_hop
            && e.state != StepState::Undone
            && plan
                .hops
                .get(e.hop)
                .and_then(|hop| hop.steps.iter().find(|s| s.id == e.step))
                .is_some_and(|s| s.point_of_no_return)
    })
}

/// Whether a rollback from `now` to `to` keeps the data: the catalog says
/// `to` runs on `now`'s data. Not yet for an installation on another host
/// (its config files would have to be written there too).
pub(super) fn keeps_data(setup: &super::Setup, now: &str, to: &str) -> bool {
    !setup.target.is_remote() && setup.loaded.catalog.rollback_keeps_data(now, to)
}
