//! Taking a snapshot of every store and config file of an installation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustic_core::{BackupOptions, SnapshotOptions};
use upshift_core::manifest::Manifest;

use crate::command::Failures;
use crate::error::{BackupError, Result};
use crate::frozen::FrozenView;
use crate::guard;
use crate::meta::{PathMap, SnapshotMeta, Tags};
use crate::progress::Progress;
use crate::repo::{rerr, Repository, SnapshotInfo};
use crate::source::{self, files, Combined, Part, Planning};

/// How many times a backup is tried when files change while copied.
const ATTEMPTS: usize = 3;

/// The error a failed backup reports: its first failure other than a file
/// that changed while copied, or else every such file, named together.
fn first_failure(failed: Vec<BackupError>) -> BackupError {
    let mut changed = Vec::new();
    for e in failed {
        match e {
            BackupError::ChangedWhileCopied { paths } => changed.extend(paths),
            other => return other,
        }
    }
    BackupError::ChangedWhileCopied { paths: changed }
}

impl Repository {
    /// Backs up every store and config file of `manifest` (paths relative to
    /// `base_dir`) into one snapshot tagged with `tags`.
    ///
    /// Every store is checked first (databases reachable, files present);
    /// if a dump tool fails mid-stream, the snapshot is deleted again and the
    /// error names the store and shows the tool's stderr.
    pub fn backup(
        &self,
        manifest: &Manifest,
        base_dir: &Path,
        tags: &Tags,
        progress: &dyn Progress,
    ) -> Result<SnapshotInfo> {
        guard::contained(&self.path, || {
            self.backup_unguarded(manifest, base_dir, tags, &FrozenView::default(), progress)
        })
    }

    /// Backs up a rollback point frozen earlier: the stores from their
    /// frozen copies, the config files from their staged copies, recorded
    /// as the installation's own (a restore puts them back in place).
    pub fn backup_frozen(
        &self,
        manifest: &Manifest,
        base_dir: &Path,
        tags: &Tags,
        frozen: &FrozenView,
        progress: &dyn Progress,
    ) -> Result<SnapshotInfo> {
        guard::contained(&self.path, || {
            self.backup_unguarded(manifest, base_dir, tags, frozen, progress)
        })
    }

    /// A file rewritten while it was copied ([`BackupError::ChangedWhileCopied`])
    /// makes the whole backup start over, up to [`ATTEMPTS`] times in all: the
    /// writes of a live server come and go, and the parts already stored
    /// are deduplicated, so another attempt costs reading, not storing.
    fn backup_unguarded(
        &self,
        manifest: &Manifest,
        base_dir: &Path,
        tags: &Tags,
        frozen: &FrozenView,
        progress: &dyn Progress,
    ) -> Result<SnapshotInfo> {
        let mut attempt = 1;
        loop {
            match self.backup_once(manifest, base_dir, tags, frozen, progress) {
                Err(BackupError::ChangedWhileCopied { .. }) if attempt < ATTEMPTS => attempt += 1,
                done => return done,
            }
        }
    }

    fn backup_once(
        &self,
        manifest: &Manifest,
        base_dir: &Path,
        tags: &Tags,
        frozen: &FrozenView,
        progress: &dyn Progress,
    ) -> Result<SnapshotInfo> {
        progress.phase("preparing");
        let staging = tempfile::Builder::new()
            .prefix("upshift-stage")
            .tempdir()
            .map_err(|e| BackupError::io("cannot create", std::env::temp_dir(), e))?;
        let mut parts: Vec<Part> = Vec::new();
        let mut stores = BTreeMap::new();
        let mut sorted: Vec<_> = manifest.stores.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (name, store) in sorted {
            progress.store_started(name);
            let planned = source::for_store(store).plan(&Planning {
                name,
                store,
                base_dir,
                staging: staging.path(),
                keep: frozen.keep_dir.as_deref(),
                frozen: frozen.copy_of(name),
            });
            progress.store_finished(name, planned.is_ok());
            let (p, meta) = planned?;
            parts.extend(p);
            stores.insert(name.clone(), meta);
        }
        let mut config = BTreeMap::new();
        for (name, cfg) in &manifest.config {
            let src = base_dir.join(&cfg.path);
            let read = frozen.config.get(name).unwrap_or(&src);
            if !read.is_file() {
                return Err(BackupError::io(
                    "config file missing:",
                    read,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ));
            }
            let dest = files::snapshot_path("config", name, 0, &src);
            config.insert(
                name.clone(),
                PathMap {
                    original: src.display().to_string(),
                    snapshot: dest.display().to_string(),
                    is_dir: false,
                },
            );
            parts.push(Part::local(read, &dest, &globset::GlobSet::empty())?);
        }
        let meta = SnapshotMeta {
            upshift: SnapshotMeta::FORMAT,
            tags: tags.clone(),
            stores,
            config,
        };

        let mut snap = SnapshotOptions::default()
            .to_snapshot()
            .map_err(|e| rerr(&self.path, &e))?;
        snap.label = tags.installation.clone();
        for t in tags.to_restic() {
            snap.tags.add(t.replace(',', "_"));
        }
        snap.description = Some(serde_json::to_string(&meta).expect("meta serialises"));

        progress.phase("backing up");
        let failures: Failures = Arc::new(Mutex::new(Vec::new()));
        let src = Combined::new(parts, failures.clone());
        let repo = self
            .open()?
            .to_indexed_ids()
            .map_err(|e| rerr(&self.path, &e))?;
        let paths = [PathBuf::from("/config"), PathBuf::from("/stores")];
        let snap = crate::meter::watch(progress, src.tallies(), || {
            repo.archive(&BackupOptions::default(), &src, snap, &paths)
        })
        .map_err(|e| rerr(&self.path, &e))?;
        let failed = std::mem::take(&mut *failures.lock().expect("failures lock"));
        if !failed.is_empty() {
            // The archiver only logs unreadable sources: do not leave a half snapshot.
            repo.delete_snapshots(&[snap.id])
                .map_err(|e| rerr(&self.path, &e))?;
            return Err(first_failure(failed));
        }
        Ok(SnapshotInfo::from_parts(&snap, &meta))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::first_failure;
    use crate::error::BackupError;

    fn changed(p: &str) -> BackupError {
        BackupError::ChangedWhileCopied {
            paths: vec![PathBuf::from(p)],
        }
    }

    #[test]
    fn files_changed_while_copied_are_named_together() {
        let e = first_failure(vec![changed("/d/a"), changed("/d/b")]);
        let msg = e.to_string();
        assert!(
            msg.starts_with("/d/a, /d/b changed while being copied"),
            "{msg}"
        );
        assert!(msg.contains("`exclude`"), "{msg}");
    }

    #[test]
    fn another_failure_comes_first_and_is_not_retried() {
        let tool = BackupError::bad_store("db", "gone");
        let e = first_failure(vec![changed("/d/a"), tool]);
        assert!(matches!(e, BackupError::BadStore { .. }), "{e}");
    }
}
