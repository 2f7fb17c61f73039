//! The rollback point of a hop whose stores are all databases that copy
//! themselves inside their server (`backup.rollback_point`), and its
//! durable snapshot after the window (`backup.durable`).
//!
//! In the window, with the services stopped, each database is frozen in
//! its server (`upshift_backup::Freezer`) and the config files are kept
//! beside the journal: the window costs a file copy inside the server and
//! a row count, not a dump and a test restore. The copies' names are
//! journaled before they are made, so a killed run's copies are used by
//! `resume` and `rollback` and dropped by them once a snapshot holds the
//! data; a copy no run needs any more is dropped by the next rollback
//! point. After `maintenance.off` the durable snapshot is written from the
//! copies, verified by test restore, and the copies are dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use upshift_backup::{Freezer, FrozenView, Phase, Tags};
use upshift_core::plan::StepId;

use super::runner::Runner;
use crate::detail::{Detail, FrozenPoint};
use crate::error::{StepError, StepResult};
use crate::host::Host;
use crate::journal::StepState;

/// What a rollback of a hop puts the data back from.
#[derive(Debug, Clone)]
pub(super) enum RollbackPoint {
    /// A verified snapshot (the final one, or the durable one).
    Snapshot(String),
    /// Copies frozen inside the database servers, not yet in a snapshot.
    Frozen(FrozenPoint),
}

impl Runner<'_> {
    /// `backup.rollback_point`: freezes every store in its server, or,
    /// when a server cannot, takes the final dump and verifies it.
    pub(super) fn freeze_rollback_point(&mut self, h: usize) -> StepResult<Option<Detail>> {
        if let Some(unchanged) = self.online_is_the_rollback_point(h)? {
            return Ok(Some(unchanged));
        }
        let (manifest, base) = self.backup_view();
        let kept = self.setup.state.frozen_data(&self.run_id, h);
        let freezer = Freezer::new(&manifest, &base).with_copies(kept);
        let databases = freezer.names(&self.run_id, h);
        self.sweep_frozen(&freezer, &databases);
        if let Some(why) = freezer.unable(&databases)? {
            self.setup.progress.note(&format!(
                "the rollback point is a final dump, verified by test restore, because {why}"
            ));
            return self.final_dump(h);
        }
        let point = FrozenPoint {
            databases,
            config_dir: self.setup.state.frozen_config(&self.run_id, h),
        };
        let detail = Detail::Frozen {
            point: point.clone(),
        };
        self.journal.record(
            &self.run_id,
            h,
            &StepId::RollbackPoint,
            StepState::Started,
            Some(&detail),
        )?;
        self.stage_config(&point)?;
        for db in &point.databases {
            let checked = freezer.freeze(db)?;
            self.setup.progress.note(&checked);
        }
        Ok(Some(detail))
    }

    /// When the stores are files that did not change since the online
    /// backup (verified while serving), it is the rollback point: the kept
    /// copies are removed.
    fn online_is_the_rollback_point(&self, h: usize) -> StepResult<Option<Detail>> {
        let (Some((online, Some(before))), Some(now)) =
            (self.online_snapshot(h)?, self.store_fingerprint())
        else {
            return Ok(None);
        };
        if before != now {
            return Ok(None);
        }
        self.setup
            .progress
            .note("the data did not change since the online backup: it is the rollback point");
        let kept = self.setup.state.frozen_data(&self.run_id, h);
        if let Err(e) = std::fs::remove_dir_all(&kept) {
            if e.kind() != std::io::ErrorKind::NotFound {
                self.setup
                    .progress
                    .note(&format!("warning: cannot remove {}: {e}", kept.display()));
            }
        }
        Ok(Some(Detail::Snapshot {
            id: online,
            fingerprint: None,
        }))
    }

    /// Drops the frozen copies of this installation that `keep` does not
    /// name: a run that ended left them (it is not unfinished, or this
    /// run could not have started). Best effort, said either way.
    fn sweep_frozen(&self, freezer: &Freezer, keep: &[upshift_backup::FrozenDb]) {
        match freezer.sweep(keep) {
            Ok(dropped) if dropped.is_empty() => {}
            Ok(dropped) => self.setup.progress.note(&format!(
                "dropped frozen copies that ended runs left behind: {}",
                dropped.join(", ")
            )),
            Err(e) => self
                .setup
                .progress
                .note(&format!("warning: cannot drop old frozen copies: {e}")),
        }
    }

    /// The final dump, verified, as the rollback point of hop `h`.
    fn final_dump(&mut self, h: usize) -> StepResult<Option<Detail>> {
        self.room_for(h, &StepId::BackupFinal)?;
        let Some(Detail::Snapshot { id, .. }) = self.backup(h, &StepId::BackupFinal)? else {
            return Err(StepError::msg("the final backup recorded no snapshot"));
        };
        self.verify_snapshot(&id)?;
        Ok(Some(Detail::Snapshot {
            id,
            fingerprint: None,
        }))
    }

    /// Keeps each config file as it is now under the point's directory
    /// (0600: config files may hold secrets).
    fn stage_config(&self, point: &FrozenPoint) -> StepResult<()> {
        let t = self.target();
        for (name, c) in &self.setup.loaded.manifest.config {
            let data = t
                .host
                .read(&t.path(&c.path))
                .map_err(|e| format!("cannot read config file {}: {e}", c.path))?;
            let kept = kept_path(point, name, &c.path);
            Host::Local
                .write_atomic(&kept, &data, Some(0o600))
                .map_err(|e| format!("cannot keep a copy in {}: {e}", kept.display()))?;
        }
        Ok(())
    }

    /// `backup.durable`: the snapshot of hop `h`'s frozen rollback point,
    /// verified, then the copies dropped. Nothing to do when the rollback
    /// point is a snapshot already.
    pub(super) fn durable_snapshot(&mut self, h: usize) -> StepResult<Option<Detail>> {
        let point = match self.rollback_point(h)? {
            Some(RollbackPoint::Frozen(p)) => p,
            Some(RollbackPoint::Snapshot(id)) => {
                self.setup
                    .progress
                    .note("the rollback point is a verified snapshot already");
                return Ok(Some(Detail::Verified { id, reused: true }));
            }
            None => return Err(StepError::msg("no rollback point was recorded")),
        };
        let id = match self.durable_written(h)? {
            Some(id) => id,
            None => self.write_durable(h, &point)?,
        };
        self.drop_point(&point)?;
        Ok(Some(Detail::Verified { id, reused: false }))
    }

    /// Writes and verifies the durable snapshot, journaled before the
    /// copies are dropped (a run killed in between finds it).
    fn write_durable(&mut self, h: usize, point: &FrozenPoint) -> StepResult<String> {
        let hop = self.plan.hops[h].clone();
        let tags = Tags {
            installation: self.setup.loaded.manifest.installation.name.clone(),
            product: self.setup.loaded.catalog.product.clone(),
            version: hop.from.clone(),
            phase: Phase::PreUpgrade,
            run_id: self.run_id.clone(),
            config_fingerprint: self.config_fingerprint_of(|name, path| {
                std::fs::read(kept_path(point, name, path)).unwrap_or_default()
            }),
        };
        let view = FrozenView {
            databases: point.databases.clone(),
            config: kept_config(self, point),
            keep_dir: None,
        };
        let missing = self.missing_copies(point)?;
        if !missing.is_empty() {
            return Err(StepError::msg(format!(
                "the frozen copies {} are gone from their server: the rollback point of {} is the online snapshot only",
                missing.join(", "),
                hop.from
            )));
        }
        let (manifest, base) = self.backup_view();
        let setup = self.setup;
        let progress = setup.progress.backup();
        let info = self
            .repo()?
            .backup_frozen(&manifest, &base, &tags, &view, &*progress)?;
        self.journal.add_snapshot(&self.run_id, &info.short_id)?;
        self.verify_snapshot(&info.id)?;
        let verified = Detail::Verified {
            id: info.id.clone(),
            reused: false,
        };
        self.journal.record(
            &self.run_id,
            h,
            &StepId::BackupDurable,
            StepState::Started,
            Some(&verified),
        )?;
        Ok(info.id)
    }

    /// The durable snapshot an interrupted `backup.durable` of hop `h`
    /// wrote and verified.
    fn durable_written(&self, h: usize) -> StepResult<Option<String>> {
        Ok(self
            .journal
            .events(&self.run_id)?
            .into_iter()
            .rev()
            .filter(|e| e.hop == h && e.step == StepId::BackupDurable)
            .find_map(|e| match e.detail {
                Some(Detail::Verified { id, .. }) => Some(id),
                _ => None,
            }))
    }

    /// The copies of `point` that are no longer in their server.
    fn missing_copies(&self, point: &FrozenPoint) -> StepResult<Vec<String>> {
        let (manifest, base) = self.backup_view();
        let freezer = Freezer::new(&manifest, &base);
        let mut missing = Vec::new();
        for db in &point.databases {
            if !freezer.exists(db)? {
                missing.push(db.name.clone());
            }
        }
        Ok(missing)
    }

    /// What hop `h` rolls back to: its durable snapshot once written,
    /// else its frozen copies, else its final snapshot.
    pub(super) fn rollback_point(&self, h: usize) -> StepResult<Option<RollbackPoint>> {
        if let Some(Detail::Verified { id, .. } | Detail::Snapshot { id, .. }) =
            self.detail(h, &StepId::BackupDurable)?
        {
            return Ok(Some(RollbackPoint::Snapshot(id)));
        }
        Ok(match self.detail(h, &StepId::RollbackPoint)? {
            Some(Detail::Snapshot { id, .. }) => Some(RollbackPoint::Snapshot(id)),
            Some(Detail::Frozen { point }) => Some(RollbackPoint::Frozen(point)),
            _ => self.final_snapshot(h)?.map(RollbackPoint::Snapshot),
        })
    }

    /// After a failure past the point of no return of hop `h`: its
    /// rollback point and its start version back.
    pub(super) fn back_to_rollback_point(&mut self, h: usize) -> StepResult<()> {
        let from = self.plan.hops[h].from.clone();
        let point = self
            .rollback_point(h)?
            .ok_or("no rollback point of this hop was recorded")?;
        let what = match &point {
            RollbackPoint::Snapshot(_) => "restoring the snapshot taken before the swap",
            RollbackPoint::Frozen(_) => {
                "putting back the databases frozen inside their server before the swap"
            }
        };
        self.setup
            .progress
            .note(&format!("past the point of no return: {what} and {from}"));
        self.restore_to(h, &from, Some(&point), false, false)
    }

    /// Puts the stores back from their frozen copies (unless `keeps_data`)
    /// and the config files from the copies kept with them.
    pub(super) fn thaw(&mut self, point: &FrozenPoint, keeps_data: bool) -> StepResult<()> {
        if !keeps_data {
            let (manifest, base) = self.backup_view();
            let freezer = Freezer::new(&manifest, &base);
            for db in &point.databases {
                self.setup.progress.note(&format!(
                    "rollback: putting store {} back from its frozen copy {}",
                    db.store, db.name
                ));
                freezer.thaw(db)?;
            }
        }
        let t = self.target().clone();
        for (name, c) in &self.setup.loaded.manifest.config {
            let kept = kept_path(point, name, &c.path);
            let data = std::fs::read(&kept)
                .map_err(|e| format!("cannot read the kept copy {}: {e}", kept.display()))?;
            t.host
                .write_atomic(&t.path(&c.path), &data, None)
                .map_err(|e| format!("cannot write config file {}: {e}", c.path))?;
        }
        Ok(())
    }

    /// Drops the copies of `point` and its kept config files.
    pub(super) fn drop_point(&self, point: &FrozenPoint) -> StepResult<()> {
        let (manifest, base) = self.backup_view();
        let freezer = Freezer::new(&manifest, &base);
        for db in &point.databases {
            freezer.drop_copy(db)?;
        }
        match std::fs::remove_dir_all(&point.config_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StepError::msg(format!(
                "cannot remove {}: {e}",
                point.config_dir.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Drops every frozen rollback point this run journaled (from hop
    /// `from` on), once nothing needs it: its hop was undone or rolled
    /// back. Best effort: what cannot be dropped is said, and the next
    /// rollback point drops it.
    pub(super) fn drop_frozen_from(&self, from: usize) {
        let Ok(events) = self.journal.events(&self.run_id) else {
            return;
        };
        for e in events.into_iter().filter(|e| e.hop >= from) {
            if let Some(Detail::Frozen { point }) = e.detail {
                if let Err(err) = self.drop_point(&point) {
                    self.setup
                        .progress
                        .note(&format!("warning: cannot drop the {point}: {err}"));
                }
            }
        }
    }
}

/// The kept config file of each config name.
fn kept_config(r: &Runner, point: &FrozenPoint) -> BTreeMap<String, PathBuf> {
    r.setup
        .loaded
        .manifest
        .config
        .iter()
        .map(|(name, c)| (name.clone(), kept_path(point, name, &c.path)))
        .collect()
}

/// Where config file `name` (at `path`) is kept: under its name, with its
/// own file name (the snapshot names the file by it).
fn kept_path(point: &FrozenPoint, name: &str, path: &str) -> PathBuf {
    let file = Path::new(path)
        .file_name()
        .map_or_else(|| name.into(), |f| f.to_os_string());
    point.config_dir.join(name).join(file)
}
