//! What a source is given: for a backup, the store and where its paths are;
//! for a verify or a restore, the snapshot that holds the store.

use std::io::Write;
use std::path::Path;

use rustic_core::repofile::SnapshotFile;
use rustic_core::{IndexedFullStatus, LsOptions};
use upshift_core::manifest::{Store, StoreKind};

use crate::error::{BackupError, Result};
use crate::meta::{PathMap, StoreMeta};
use crate::meter::{Reporting, Tally};
use crate::progress::Progress;
use crate::repo::{rerr, Repository};

type Indexed = rustic_core::Repository<IndexedFullStatus>;

/// One store about to be backed up.
pub(crate) struct Planning<'a> {
    pub(crate) name: &'a str,
    pub(crate) store: &'a Store,
    /// What the manifest's relative paths are relative to.
    pub(crate) base_dir: &'a Path,
    /// A directory for copies taken before the archiver reads them.
    pub(crate) staging: &'a Path,
    /// Where a store's checked copy is kept after the backup (a SQLite
    /// store's online copy, the base of a page-level rollback point).
    pub(crate) keep: Option<&'a Path>,
    /// The frozen copy to read instead of the store's data (a durable
    /// snapshot of a rollback point); the store's own path is recorded.
    pub(crate) frozen: Option<&'a str>,
}

/// One store of a snapshot being verified or restored.
pub(crate) struct Stored<'a> {
    pub(crate) repo: &'a Repository,
    pub(crate) indexed: &'a Indexed,
    pub(crate) snap: &'a SnapshotFile,
    pub(crate) name: &'a str,
    /// The installation's name (temporary databases carry it).
    pub(crate) installation: &'a str,
    /// The store's manifest entry, when the manifest still has it.
    pub(crate) store: Option<&'a Store>,
    pub(crate) base_dir: &'a Path,
    /// Why the operation cannot go on without the manifest entry.
    pub(crate) unlisted: &'static str,
    /// Where the bytes read of the snapshot go.
    pub(crate) progress: &'a dyn Progress,
}

impl<'a> Stored<'a> {
    /// The manifest entry (servers and buckets are reached through it).
    pub(crate) fn store(&self) -> Result<&'a Store> {
        self.store
            .ok_or_else(|| BackupError::bad_store(self.name, self.unlisted))
    }

    /// The error for metadata that a store of another kind recorded.
    pub(crate) fn other_kind(&self, kind: StoreKind, meta: &StoreMeta) -> BackupError {
        BackupError::bad_store(
            self.name,
            format!(
                "the snapshot recorded it as a {} store, not {}",
                meta.kind().as_str(),
                kind.as_str()
            ),
        )
    }

    /// Writes the content of the file at snapshot path `path` to `w`.
    pub(crate) fn dump(&self, path: &str, w: &mut dyn Write) -> Result<()> {
        let node = self
            .indexed
            .node_from_snapshot_and_path(self.snap, path)
            .map_err(|e| rerr(&self.repo.path, &e))?;
        let mut w = Reporting::new(w, self.progress, self.name, Some(node.meta.size));
        self.indexed
            .dump(&node, &mut w)
            .map_err(|e| rerr(&self.repo.path, &e))
    }

    /// Writes the file at snapshot path `path` to the new file `dest`.
    pub(crate) fn dump_to_file(&self, path: &str, dest: &Path) -> Result<()> {
        let mut f =
            std::fs::File::create(dest).map_err(|e| BackupError::io("cannot create", dest, e))?;
        self.dump(path, &mut f)
    }

    /// Regular files and their bytes under snapshot path `path`.
    pub(crate) fn tree_count(&self, path: &str) -> Result<(u64, u64)> {
        let err = |e: Box<rustic_core::RusticError>| rerr(&self.repo.path, &e);
        let node = self
            .indexed
            .node_from_snapshot_and_path(self.snap, path)
            .map_err(err)?;
        if node.is_file() {
            return Ok((1, node.meta.size));
        }
        let (mut f, mut b) = (0, 0);
        for item in self.indexed.ls(&node, &LsOptions::default()).map_err(err)? {
            let (_, n) = item.map_err(err)?;
            if n.is_file() {
                f += 1;
                b += n.meta.size;
            }
        }
        Ok((f, b))
    }

    /// Restores one file or directory, rewriting only what differs.
    /// What `keep` matches is left alone.
    pub(crate) fn restore_path(&self, pm: &PathMap, keep: &globset::GlobSet) -> Result<String> {
        let tally = Tally::new(self.name, Some(0));
        self.repo
            .restore_path(self.indexed, self.snap, pm, keep, self.progress, &tally)
    }
}
