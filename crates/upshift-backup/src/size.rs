//! How much room a backup needs, told before it starts: a backup that
//! runs out of disk inside the maintenance window leaves the installation
//! down while it is undone.
//!
//! An upper bound of the data a snapshot adds: a store on files adds at
//! most the files changed since `since` (the last snapshot: rustic stores
//! unchanged content once), a database's dump at most the size the server
//! reports for the database (a dump does not deduplicate), and a store
//! whose size cannot be told (a volume, a bucket, MongoDB) counts nothing
//! and is named. A SQLite database is also copied to the temporary
//! directory before it is stored.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use upshift_core::manifest::Manifest;

use crate::error::Result;
use crate::source::{self, DataOnHost};

/// The repository's own files (index, snapshot, pack headers) on top of
/// the data: a mebibyte holds them for any installation upshift backs up.
pub const REPOSITORY_SLACK: u64 = 1 << 20;

/// What one backup of a manifest needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupSize {
    /// Bytes in the repository.
    pub repository: u64,
    /// Bytes in the temporary directory while the backup runs.
    pub staging: u64,
    /// Stores whose size cannot be told.
    pub unknown: Vec<String>,
}

/// What a backup of `manifest`'s stores and config files (paths relative
/// to `base_dir`) needs, counting files changed after `since` only.
pub fn backup_size(
    manifest: &Manifest,
    base_dir: &Path,
    since: Option<SystemTime>,
) -> Result<BackupSize> {
    let mut size = BackupSize {
        repository: REPOSITORY_SLACK,
        ..BackupSize::default()
    };
    for (name, store) in &manifest.stores {
        let src = source::for_store(store);
        match src.watched_files(store) {
            Some(files) => {
                let paths = files.iter().map(|f| (base_dir.join(&f.path), f.tree));
                let bytes: u64 = paths.map(|(p, tree)| changed_bytes(&p, tree, since)).sum();
                size.repository += bytes;
                if src.data_on_host() == DataOnHost::Sqlite {
                    size.staging += bytes;
                }
            }
            None => match src.size(name, store, base_dir)? {
                Some(bytes) => size.repository += bytes,
                None => size.unknown.push(name.clone()),
            },
        }
    }
    for c in manifest.config.values() {
        size.repository += changed_bytes(&base_dir.join(&c.path), false, since);
    }
    Ok(size)
}

/// The repository directory a manifest names (it may not exist yet).
pub fn repository_path(manifest: &Manifest, base_dir: &Path) -> PathBuf {
    crate::repo::location(manifest, base_dir).0
}

/// Bytes of the files at `path` (the whole tree when `tree`) modified
/// after `since` (all of them without it). Missing files count nothing.
fn changed_bytes(path: &Path, tree: bool, since: Option<SystemTime>) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if tree && meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return 0;
        };
        return entries
            .flatten()
            .map(|e| changed_bytes(&e.path(), true, since))
            .sum();
    }
    let changed = match (since, meta.modified()) {
        (Some(s), Ok(m)) => m > s,
        _ => true,
    };
    if meta.is_file() && changed {
        meta.len()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_changed_since_count() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d/e")).unwrap();
        std::fs::write(dir.path().join("d/a"), vec![0; 1000]).unwrap();
        std::fs::write(dir.path().join("d/e/b"), vec![0; 24]).unwrap();
        assert_eq!(changed_bytes(&dir.path().join("d"), true, None), 1024);
        let later = SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(changed_bytes(&dir.path().join("d"), true, Some(later)), 0);
        assert_eq!(changed_bytes(&dir.path().join("gone"), true, None), 0);
    }
}
