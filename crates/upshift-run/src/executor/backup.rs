//! The backup and verify steps: the online snapshot while serving, the
//! final one with services stopped (the online one reused when nothing
//! changed since), their test restores, and the post-upgrade snapshot.

use sha2::{Digest, Sha256};
use upshift_backup::{Phase, Tags};
use upshift_core::plan::StepId;

use super::runner::Runner;
use crate::detail::Detail;
use crate::error::{StepError, StepResult};
use crate::host;

impl Runner<'_> {
    pub(super) fn backup(&mut self, h: usize, id: &StepId) -> StepResult<Option<Detail>> {
        let hop = self.plan.hops[h].clone();
        let (phase, version) = if *id == StepId::BackupPost {
            (Phase::PostUpgrade, hop.to.clone())
        } else {
            (Phase::PreUpgrade, hop.from.clone())
        };
        let setup = self.setup;
        let loaded = setup.loaded;
        let tags = Tags {
            installation: loaded.manifest.installation.name.clone(),
            product: loaded.catalog.product.clone(),
            version,
            phase,
            run_id: self.run_id.clone(),
            config_fingerprint: self.config_fingerprint(),
        };
        if *id == StepId::BackupFinal {
            // Only what changed since the online backup: when the stores are
            // files that did not change, the online snapshot is the final one.
            if let (Some((online, Some(before))), Some(now)) =
                (self.online_snapshot(h)?, self.store_fingerprint())
            {
                if before == now {
                    setup.progress.note(
                        "the data did not change since the online backup: it is the final snapshot",
                    );
                    return Ok(Some(Detail::Snapshot {
                        id: online,
                        fingerprint: None,
                    }));
                }
            }
        }
        let fingerprint = self.store_fingerprint();
        if self.target().is_remote() {
            setup.progress.note(&format!(
                "copying the stores from {} into {}",
                self.target().label(),
                self.mirror().display()
            ));
            host::pull_stores(self.target(), &loaded.manifest, &self.mirror())?;
        }
        let (manifest, base) = self.backup_view();
        let progress = setup.progress.backup();
        let view = upshift_backup::FrozenView {
            keep_dir: self.keeps_online_copies(h, id),
            ..Default::default()
        };
        let info = self
            .repo()?
            .backup_frozen(&manifest, &base, &tags, &view, &*progress)?;
        self.journal.add_snapshot(&self.run_id, &info.short_id)?;
        Ok(Some(Detail::Snapshot {
            id: info.id,
            fingerprint: fingerprint.filter(|_| *id == StepId::BackupOnline),
        }))
    }

    pub(super) fn verify(&mut self, h: usize, id: &StepId) -> StepResult<Option<Detail>> {
        let online = self.online_snapshot(h)?.map(|(id, _)| id);
        let snapshot = if *id == StepId::VerifyOnline {
            online.ok_or("no online snapshot was recorded")?
        } else {
            let Some(Detail::Snapshot { id: final_id, .. }) =
                self.detail(h, &StepId::BackupFinal)?
            else {
                return Err(StepError::msg("no final snapshot was recorded"));
            };
            let verified = self.done()?.contains(&(h, StepId::VerifyOnline));
            if verified && online.as_deref() == Some(final_id.as_str()) {
                return Ok(Some(Detail::Verified {
                    id: final_id,
                    reused: true,
                }));
            }
            final_id
        };
        self.verify_snapshot(&snapshot)?;
        Ok(Some(Detail::Verified {
            id: snapshot,
            reused: false,
        }))
    }

    /// Verifies `snapshot` by test restore (all data read).
    pub(super) fn verify_snapshot(&mut self, snapshot: &str) -> StepResult<()> {
        let (manifest, base) = self.backup_view();
        let setup = self.setup;
        let progress = setup.progress.backup();
        let report = self
            .repo()?
            .verify(snapshot, &manifest, &base, &*progress)?;
        if report.ok() {
            Ok(())
        } else {
            Err(StepError::msg(format!(
                "snapshot {snapshot} did not verify: {}",
                report.problems().join("; ")
            )))
        }
    }

    /// Before a manual rollback replaces the data: a snapshot of what
    /// `version` holds now (tagged `pre-rollback`), so nothing users wrote
    /// since the upgrade is lost for good. Returns its short id.
    pub(super) fn safety_snapshot(&mut self, version: &str) -> StepResult<String> {
        let setup = self.setup;
        let loaded = setup.loaded;
        let tags = Tags {
            installation: loaded.manifest.installation.name.clone(),
            product: loaded.catalog.product.clone(),
            version: version.to_string(),
            phase: Phase::PreRollback,
            run_id: self.run_id.clone(),
            config_fingerprint: self.config_fingerprint(),
        };
        setup.progress.note(&format!(
            "rollback: taking a safety snapshot of the data {version} holds now"
        ));
        if self.target().is_remote() {
            host::pull_stores(self.target(), &loaded.manifest, &self.mirror())?;
        }
        let (manifest, base) = self.backup_view();
        let progress = setup.progress.backup();
        let info = self.repo()?.backup(&manifest, &base, &tags, &*progress)?;
        self.journal.add_snapshot(&self.run_id, &info.short_id)?;
        setup.progress.note(&format!(
            "rollback: safety snapshot {} holds the {} bytes the rollback replaces ({version}); `upshift snapshots` lists it, `upshift restore {}` brings it back",
            info.short_id, info.total_bytes, info.short_id
        ));
        Ok(info.short_id)
    }

    /// Where the online backup of hop `h` keeps its SQLite copies: when
    /// the hop's rollback point is frozen in place, they are its base.
    fn keeps_online_copies(&self, h: usize, id: &StepId) -> Option<std::path::PathBuf> {
        let frozen = self.plan.hops[h]
            .steps
            .iter()
            .any(|s| s.id == StepId::RollbackPoint);
        (*id == StepId::BackupOnline && frozen)
            .then(|| self.setup.state.frozen_data(&self.run_id, h))
    }

    /// The online snapshot of hop `h` and the store fingerprint taken with it.
    pub(super) fn online_snapshot(&self, h: usize) -> StepResult<Option<(String, Option<String>)>> {
        Ok(match self.detail(h, &StepId::BackupOnline)? {
            Some(Detail::Snapshot { id, fingerprint }) => Some((id, fingerprint)),
            _ => None,
        })
    }

    /// The snapshot hop `h` took with services stopped, before its swap.
    pub(super) fn final_snapshot(&self, h: usize) -> StepResult<Option<String>> {
        Ok(match self.detail(h, &StepId::BackupFinal)? {
            Some(Detail::Snapshot { id, .. }) => Some(id),
            _ => None,
        })
    }

    fn config_fingerprint(&self) -> String {
        let t = self.target();
        self.config_fingerprint_of(|_, path| t.host.read(&t.path(path)).unwrap_or_default())
    }

    /// The fingerprint of the config files, each read by `read(name, path)`.
    pub(super) fn config_fingerprint_of(&self, read: impl Fn(&str, &str) -> Vec<u8>) -> String {
        let mut h = Sha256::new();
        for (name, c) in &self.setup.loaded.manifest.config {
            h.update(c.path.as_bytes());
            h.update(read(name, &c.path));
        }
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
