//! A restore writes and deletes under each store's path. If that path (a
//! files store's directory, an SQLite database or its directory) has been
//! replaced by a symbolic link since, writing through it would change, and
//! deleting would empty, whatever the link points at. Restore refuses
//! before it writes anything, naming the link and what to do.
//!
//! Only these roots are checked: links further up (a release's `current`
//! link, a data disk mounted through a link) are the installation's layout
//! and are followed as they were when the snapshot was taken.

use std::path::Path;

use crate::error::{BackupError, Result};
use crate::meta::{PathMap, SnapshotMeta, StoreMeta};

/// Refuses when a path the restore of `meta` writes under is a link.
pub(crate) fn refuse_replaced_roots(meta: &SnapshotMeta) -> Result<()> {
    for (name, store) in &meta.stores {
        match store {
            StoreMeta::Files { paths, .. } => {
                for pm in paths.iter().filter(|pm| pm.is_dir) {
                    refuse_link(name, Path::new(&pm.original))?;
                }
            }
            StoreMeta::Sqlite { paths, .. } => {
                for pm in paths {
                    sqlite_roots(name, pm)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// An SQLite database file and the directory holding it.
fn sqlite_roots(store: &str, pm: &PathMap) -> Result<()> {
    let db = Path::new(&pm.original);
    refuse_link(store, db)?;
    match db.parent() {
        Some(dir) => refuse_link(store, dir),
        None => Ok(()),
    }
}

/// [`BackupError::RootIsLink`] when `path` is a symbolic link.
fn refuse_link(store: &str, path: &Path) -> Result<()> {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return Ok(()); // Missing: the restore creates it.
    };
    if !md.file_type().is_symlink() {
        return Ok(());
    }
    let target = std::fs::read_link(path).map_err(|e| BackupError::io("cannot read", path, e))?;
    Err(BackupError::RootIsLink {
        store: store.to_string(),
        path: path.to_path_buf(),
        target,
    })
}
